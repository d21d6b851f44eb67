#!/bin/sh
# kill -9 of the holder and of a monitor: the workload goes with them, the next call
# says what happened, cleanup removes everything, the same ids work again.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"

session_up "$EID"
start_in '["sleep","100"]'
P=$(printf '%s\n' "$OUT" | json_query 'j["process_ref"]')
holder=$(holder_pid "$SREF")
kill -9 "$holder"
sleep 0.3
start_in '["true"]'
assert_eq 125 "$RC" "start_process after the holder died"
assert_contains "$OUT" "RecoveryRepairNeeded" "error kind after the holder died"
[ -z "$(tree_of "$holder")" ] || fail "processes of the dead holder's session are left"
session_down "$EID"
[ ! -e "$(run_dir)/$SREF" ] || fail "session dir left"
session_up "$EID"
run_in '["echo","again"]'
assert_eq again "$STDOUT" "the same environment after the holder died"
ok "holder killed"

start_in '["sleep","100"]'
P=$(printf '%s\n' "$OUT" | json_query 'j["process_ref"]')
holder=$(holder_pid "$SREF")
# the monitor is the holder's child whose child runs sleep
mon=$(ps -e -o pid=,ppid=,comm= | awk -v h="$holder" '$2 == h {print $1}' | head -n 1)
work=$(ps -e -o pid=,ppid=,comm= | awk -v m="$mon" '$2 == m {print $1}' | head -n 1)
[ -n "$mon" ] && [ -n "$work" ] || fail "no monitor/workload found under holder $holder"
kill -9 "$mon"
sleep 0.3
alive "$work" && fail "the workload outlived its monitor"
run_nook_in "{\"process_ref\":\"$P\"}" call collect_stats
[ "$RC" -eq 125 ] || [ "$RC" -eq 0 ] || fail "stats after the monitor died exited $RC"
run_in '["echo","still"]'
assert_eq still "$STDOUT" "the session works after a monitor died"
session_down "$EID"
sleep 0.2
alive "$holder" && fail "holder left after cleanup"
ok "monitor killed"
