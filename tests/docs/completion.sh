#!/bin/sh
# Bash completion (share/bash-completion/completions/nook, generated from --help):
# `nook ru<TAB>` gives run, `nook run --ro<TAB>` gives --rootfs, `nook session c<TAB>`
# gives create, `nook --st<TAB>` gives --storage; every verb of `nook --help` completes,
# and so does every option its own --help names.
. "$NOOK_TEST_LIB/lib.sh"
C="$NOOK_BUILD_ROOT/docs/nook"
[ -f "$C" ] || fail "no completion script at $C"
command -v bash >/dev/null || fail "bash is needed to test bash completion"

# complete WORDS...: what the completion offers for the last word (one per line)
complete_words() {
        bash --noprofile --norc -c '
                . "$1"; shift
                COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
                _nook nook "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
                printf "%s\n" "${COMPREPLY[@]}"' sh "$C" "$@"
}

assert_eq run "$(complete_words nook ru)" "nook ru<TAB>"
complete_words nook run --ro >"$T/out"
grep -qxF -- --rootfs "$T/out" || fail "nook run --ro<TAB> does not give --rootfs: $(tr '\n' ' ' <"$T/out")"
grep -v -- '^--ro' "$T/out" | grep -q . && fail "nook run --ro<TAB> gives words not starting with --ro: $(tr '\n' ' ' <"$T/out")"
assert_eq create "$(complete_words nook session c)" "nook session c<TAB>"
assert_eq --storage "$(complete_words nook --st)" "nook --st<TAB>"
complete_words nook session "" >"$T/out"
for s in create ls inspect rm; do
        grep -qxF "$s" "$T/out" || fail "nook session <TAB> does not offer $s: $(tr '\n' ' ' <"$T/out")"
done
assert_eq --rootfs-driver "$(complete_words nook --storage /x run --rootfs-d)" "after a global option with its value"
ok "ru -> run, run --ro -> --rootfs, session c -> create, --st -> --storage"

"$NOOK" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1; next } on && !/^   / { on = 0 }' >"$T/verbs"
complete_words nook "" >"$T/all"
n=0
while read -r v; do
        grep -qxF "$v" "$T/all" || fail "nook <TAB> does not offer $v"
        "$NOOK" "$v" --help | grep -vE '^[[:space:]]*(podman|docker) ' | grep -oE -- '(^|[ ,[(|])--[a-z][a-z0-9-]+' | sed 's/^[^-]*//' | sort -u >"$T/opts"
        complete_words nook "$v" - >"$T/got"
        while read -r o; do
                grep -qxF -- "$o" "$T/got" || fail "nook $v -<TAB> does not offer $o (in nook $v --help)"
                n=$((n + 1))
        done <"$T/opts"
done <"$T/verbs"
ok "every verb, and the $n long options their --help names, complete"
