#!/bin/sh
# kill -9 of the holder: the workload goes with it, the next call says what happened,
# cleanup removes everything, the same ids work again.  kill -9 of a monitor: the workload
# runs on, adopted by the holder (S33): stats say the monitor is gone, signal_process
# still ends it, its exit is recorded, the session works on, cleanup leaves nothing.
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
# the monitor is the holder's child named nook-monitor whose child runs sleep
mon=$(ps -e -o pid=,ppid=,comm= | awk -v h="$holder" '$2 == h && $3 == "nook-monitor" {print $1}' | head -n 1)
work=$(ps -e -o pid=,ppid=,comm= | awk -v m="$mon" '$2 == m {print $1}' | head -n 1)
[ -n "$mon" ] && [ -n "$work" ] || fail "no monitor/workload found under holder $holder"
kill -9 "$mon"
sleep 0.3
alive "$work" || fail "the workload died with its monitor (the holder adopts it)"
assert_eq "$holder" "$(ps -o ppid= -p "$work" | tr -d ' ')" "the workload's parent once its monitor died"
run_nook_in "{\"process_ref\":\"$P\"}" call collect_stats
assert_eq 125 "$RC" "stats after the monitor died"
assert_contains "$OUT" "monitor was killed" "stats say why"
assert_contains "$OUT" "ChildLifecycleFailure" "error kind of stats after the monitor died"
call_ok signal_process "{\"process_ref\":\"$P\",\"signal\":\"kill\",\"grace_ms\":0}"
assert_eq true "$(printf '%s\n' "$OUT" | json_query 'j["delivered"]')" "signal_process without the monitor"
sleep 0.3
alive "$work" && fail "the workload survived signal_process without its monitor"
assert_eq "exited 137" "$("$NOOK" ps --json | json_query "[p['state'] + ' ' + str(p['exit_code']) for p in j if p['process_ref'] == '$P'][0]")" \
        "the exit the holder recorded"
run_in '["echo","still"]'
assert_eq still "$STDOUT" "the session works after a monitor died"
session_down "$EID"
sleep 0.2
alive "$holder" && fail "holder left after cleanup"
[ -z "$(tree_of "$holder")" ] || fail "processes of the session are left"
ok "monitor killed"
