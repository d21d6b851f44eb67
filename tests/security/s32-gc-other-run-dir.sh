#!/bin/sh
# S32 (liveness): `nook gc` run with another run dir (another XDG_RUNTIME_DIR, the same
# data dir) must not take a live session: a session is alive when its holder is, proven
# from the holder itself, never because its record is visible in this run dir.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
mkdir -m 0700 "$T/a" "$T/b"
export XDG_RUNTIME_DIR="$T/a"

# a detached session (nook run -d) and one made through the contract, both in A
run_nook run -d --name keep$$ --rootfs "$ROOT" -- sleep 1000
assert_eq 0 "$RC" "nook run -d: $ERR"
kept=$(ls "$T/a/nook")
holder1=$(holder_pid "$kept")
session_up "$EID"
holder2=$(holder_pid "$SREF")
alive "$holder1" && alive "$holder2" || fail "no holders to begin with"

XDG_RUNTIME_DIR="$T/b" run_nook gc
assert_eq 0 "$RC" "gc with another run dir: $ERR"
assert_contains "$OUT" "0 sessions" "gc with another run dir reclaims nothing"
sleep 0.2
alive "$holder1" || fail "gc with another run dir killed a detached session's holder"
alive "$holder2" || fail "gc with another run dir killed a session's holder"

# both still work from A
run_nook exec keep$$ -- echo alive
assert_eq "0 alive" "$RC $OUT" "exec in the detached session after gc elsewhere"
run_in '["echo","alive"]'
assert_eq alive "$STDOUT" "the contract session after gc elsewhere"
run_nook gc
alive "$holder1" || fail "gc in its own run dir took a detached session"
session_down "$EID"
run_nook session rm keep$$
assert_eq 0 "$RC" "session rm: $ERR"
sleep 0.2
alive "$holder1" && fail "holder left after session rm"
ok "gc under another run dir leaves live sessions alone"
