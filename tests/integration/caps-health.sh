#!/bin/sh
# `nook caps` tells the truth (issue 14): its health is degraded or unsupported_host
# whenever a finding blocks or weakens sessions, the verdict line agrees with --json,
# an unusable run dir makes the host unsupported (every session is refused), and fix
# lines are runnable as printed: real paths, no placeholders, an origin only when the
# path came from an option.
. "$NOOK_TEST_LIB/lib.sh"

health_of() { json_query 'j["health"] if isinstance(j["health"], str) else list(j["health"])[0]'; }
verdict_of() { # the verdict line's health, from the human output on stdin
        first=$(head -n 1)
        case "$first" in
        *"cannot run rootless sandboxes"*) echo unsupported_host ;;
        *"can run rootless sandboxes, degraded: "*) echo degraded ;;
        *"can run rootless sandboxes."*) echo healthy ;;
        *) echo "unknown: $first" ;;
        esac
}

# 1. This host as it is: any failing finding that takes something from sessions makes
# the health not healthy (nested, max_user_namespaces and tmpfs_user_xattr only explain
# others); the human verdict says the same as --json.
"$NOOK" caps --json >"$T/rep.json"
health=$(health_of <"$T/rep.json")
weakening=$(json_query '[f["name"] for f in j["findings"] if not f["ok"] and f["name"] not in ("nested", "max_user_namespaces", "tmpfs_user_xattr")]' <"$T/rep.json")
if [ "$weakening" = "[]" ]; then
        assert_eq healthy "$health" "health with every finding ok"
else
        [ "$health" != healthy ] || fail "health is healthy with failing findings $weakening"
fi
assert_eq "$health" "$("$NOOK" caps | verdict_of)" "the verdict line agrees with --json"
ok "health follows the findings ($health; failing: $weakening)"

# 2. A run dir nook cannot make: every session is refused, so the host is unsupported,
# and the fix names the real path and a place that works.
mkdir "$T/ro"
chmod 0500 "$T/ro"
XDG_RUNTIME_DIR="$T/ro" "$NOOK" caps --json >"$T/ro.json"
assert_eq unsupported_host "$(health_of <"$T/ro.json")" "health with an unusable run dir"
missing=$(json_query 'j["health"]["unsupported_host"]["missing_prerequisites"]' <"$T/ro.json")
assert_contains "$missing" '"run_dir"' "run_dir among the missing prerequisites"
XDG_RUNTIME_DIR="$T/ro" "$NOOK" caps >"$T/ro.txt"
assert_eq unsupported_host "$(verdict_of <"$T/ro.txt")" "the verdict line with an unusable run dir"
assert_contains "$(head -n 1 "$T/ro.txt")" "missing: run_dir" "the verdict names run_dir"
line=$(grep -A1 '^[^ ]* run directory  ' "$T/ro.txt")
assert_contains "$line" "$T/ro/nook (\$XDG_RUNTIME_DIR/nook)" "the run dir finding names the path and where it came from"
fix=$(printf '%s\n' "$line" | sed -n 's/^    fix: //p')
assert_contains "$fix" "export NOOK_RUNTIME_DIR=/" "the fix sets NOOK_RUNTIME_DIR to a real path"
# the fix works: the dir it names is usable, and a session runs with it
alt=$(printf '%s\n' "$fix" | sed -n 's/^export NOOK_RUNTIME_DIR=\([^ ]*\) .*/\1/p')
[ -n "$alt" ] || fail "no path in the fix: $fix"
# and it is true: a session is refused with that run dir, and runs with the fix
mk_rootfs "$ROOT"
set +e
XDG_RUNTIME_DIR="$T/ro" "$NOOK" run --rootfs "$ROOT" --network none -- true >/dev/null 2>"$T/ro.err"
rc=$?
XDG_RUNTIME_DIR="$T/ro" NOOK_RUNTIME_DIR="$alt" "$NOOK" run --rootfs "$ROOT" --network none -- true 2>"$T/alt.err"
rc_alt=$?
set -e
assert_eq 125 "$rc" "a session with the unusable run dir"
assert_contains "$(cat "$T/ro.err")" "run dir" "the session's error names the run dir"
assert_eq 0 "$rc_alt" "a session with the fix applied (NOOK_RUNTIME_DIR=$alt): $(cat "$T/alt.err")"
ok "an unusable run dir: unsupported_host, fix $fix"

# 3. No placeholders and no invented origins in what people read.
mkdir "$T/store"
chmod 0755 "$T/store"
run_nook --storage "$T/store" caps
assert_not_contains "$OUT" "<data dir>" "human output"
assert_not_contains "$OUT" "<run dir>" "human output"
assert_not_contains "$OUT" "(from the options)" "human output"
line=$(printf '%s\n' "$OUT" | grep -A1 '^[^ ]* data directory  ')
assert_contains "$line" "$T/store (the data_dir option (nook --storage)) has mode 0755" "data dir from --storage"
assert_contains "$line" "fix: chmod 0700 $T/store" "the fix names the real data dir"
run_nook caps
line=$(printf '%s\n' "$OUT" | grep '^[^ ]* data directory  ')
assert_contains "$line" "$XDG_DATA_HOME/nook (\$XDG_DATA_HOME/nook)" "data dir from XDG_DATA_HOME says so"
# the JSON keeps host paths out (CONTRACT.md)
run_nook --storage "$T/store" caps --json
assert_not_contains "$OUT" "$T" "JSON report"
ok "fix lines name real paths; origins are true"

# 4. docs/troubleshooting.md has a section for every finding (its heading names it).
doc="${NOOK_SOURCE_ROOT:?NOOK_SOURCE_ROOT names the source tree (meson test sets it)}/docs/troubleshooting.md"
undocumented=$(json_query '[f["name"] for f in j["findings"]]' <"$T/rep.json" | python3 -c '
import json, re, sys
names = json.load(sys.stdin)
heads = set()
for l in open(sys.argv[1]):
    if l.startswith("## "):
        heads |= set(re.findall(r"[a-z0-9_]+", l[3:]))
print([n for n in names if n not in heads])
' "$doc")
assert_eq "[]" "$undocumented" "findings without a section in docs/troubleshooting.md"
ok "every finding is documented"
