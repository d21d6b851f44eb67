#!/bin/sh
# Man pages: `nook.1` and `nook-VERB.1` for every verb `nook --help` lists (less help);
# each page's text is its verb's --help, verbatim; `meson install`
# installs every page under share/man/man1 (the build's install plan,
# meson-info/intro-installed.json).
. "$NOOK_TEST_LIB/lib.sh"
B="$NOOK_BUILD_ROOT/docs"
[ -d "$B" ] || fail "no $B: the docs are not built"

# the no-fill block of a page, its roff escapes undone (docs/gen.py writes \e for \ and
# \& before a leading . or ')
page_text() {
        sed -n '/^\.nf$/,/^\.fi$/p' "$1" | sed '1d;$d' | sed 's/^\\&//; s/\\e/\\/g'
}

"$NOOK" --help >"$T/main" || fail "nook --help"
awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1; next } on && !/^   / { on = 0 }' "$T/main" |
        grep -vx help >"$T/verbs"
[ "$(wc -l <"$T/verbs")" -ge 10 ] || fail "nook --help lists $(wc -l <"$T/verbs") verbs: $(cat "$T/verbs")"

echo nook.1 >"$T/want"
while read -r v; do echo "nook-$v.1"; done <"$T/verbs" >>"$T/want"
(cd "$B" && ls -1 nook.1 nook-*.1 2>/dev/null) | sort >"$T/have"
sort -o "$T/want" "$T/want"
comm -23 "$T/want" "$T/have" >"$T/missing"
[ ! -s "$T/missing" ] ||
        fail "verbs of nook --help without a page (meson takes the verbs from src/cli/main.c's table): $(tr '\n' ' ' <"$T/missing")"

page_text "$B/nook.1" >"$T/got"
cmp -s "$T/main" "$T/got" || fail "nook.1 differs from nook --help: $(diff "$T/main" "$T/got" | head -5)"
n=0
while read -r v; do
        summary=$(awk -v v="$v" '/^Commands:/ { on = 1; next } on && $1 == v { $1 = ""; sub(/^ +/, ""); print; exit }' "$T/main")
        grep -qxF "nook-$v \\- $summary" "$B/nook-$v.1" || fail "nook-$v.1: NAME is not 'nook-$v \\- $summary'"
done <"$T/verbs"
# every page (those of verbs that --help does not list too) is its verb's --help
for p in "$B"/nook-*.1; do
        v=${p##*/nook-}
        v=${v%.1}
        "$NOOK" "$v" --help >"$T/help" || fail "nook $v --help"
        page_text "$p" >"$T/got"
        cmp -s "$T/help" "$T/got" || fail "nook-$v.1 differs from nook $v --help: $(diff "$T/help" "$T/got" | head -5)"
        n=$((n + 1))
done
ok "nook.1 and $n verb pages, each its --help verbatim"

# installed by meson install: the build's install plan names each page and the completion
python3 - "$NOOK_BUILD_ROOT/meson-info/intro-installed.json" "$B" "$T/want" <<'PY' || fail "meson install plan"
import json, os, sys
plan, b, want = json.load(open(sys.argv[1])), sys.argv[2], open(sys.argv[3]).read().split()
for p in want:
    dst = plan.get(os.path.join(b, p), "")
    if not dst.endswith("/share/man/man1/" + p):
        sys.exit(f"{p}: meson install puts it at '{dst}', not share/man/man1/{p}")
dst = plan.get(os.path.join(b, "nook"), "")
if not dst.endswith("/share/bash-completion/completions/nook"):
    sys.exit(f"the completion: meson install puts it at '{dst}'")
PY
ok "meson install: share/man/man1/*.1 and share/bash-completion/completions/nook"
