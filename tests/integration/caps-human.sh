#!/bin/sh
# `nook caps` tells a person, in one screen, whether this machine works and how to fix
# each gap; --help exists; bad arguments exit 125 with a message.
. "$NOOK_TEST_LIB/lib.sh"

run_nook caps
assert_eq 0 "$RC" "nook caps exit code"
lines=$(printf '%s\n' "$OUT" | wc -l)
[ "$lines" -le 60 ] || fail "nook caps prints $lines lines: not one screen"
first=$(printf '%s\n' "$OUT" | head -n 1)
assert_contains "$first" "rootless sandboxes" "verdict line"
assert_contains "$OUT" "Data dir: $XDG_DATA_HOME/nook" "human output names the data dir"
# every failing finding is followed by a fix line
fails=$(printf '%s\n' "$OUT" | grep -c -E '^(✗|NO) ' || true)
fixes=$(printf '%s\n' "$OUT" | grep -c '^    fix: ' || true)
assert_eq "$fails" "$fixes" "fix lines for failing findings"

run_nook caps --help
assert_eq 0 "$RC" "caps --help"
assert_contains "$OUT" "Usage: nook caps" "caps help"
run_nook caps --bogus
assert_eq 125 "$RC" "caps with a bad argument"
assert_contains "$ERR" "unknown argument '--bogus'" "error names the argument"
ok "caps for people"
