#!/bin/sh
# detach hands a session to a ticket (refused unless the spec allows it); reclaim, from
# another process after the detaching one is gone, ends it once; gc leaves a detached
# session alone even when its owner died.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
session_up "$EID"
start_in '["sleep","100"]'
holder=$(holder_pid "$SREF")
run_nook_in "{\"environment\":$SENV}" call detach
assert_eq 125 "$RC" "detach without detach_policy.allowed"
assert_contains "$OUT" "PolicyDenial" "refusal kind"
allowed=$(printf '%s' "$SENV" | python3 -c 'import json,sys; e=json.load(sys.stdin); e["spec"]["ownership"]={"detach_policy":{"allowed":True}}; print(json.dumps(e))')
call_ok detach "{\"environment\":$allowed}"
ticket=$(printf '%s\n' "$OUT" | json_query 'j["host_ack_ref"]')
case "$ticket" in ticket-*) ;; *) fail "ticket: $ticket" ;; esac
# its owner is gone (as if the client died) — gc must not take a detached session
sed -i "s/^owner_pid=.*/owner_pid=999999/" "$(run_dir)/$SREF/state"
run_nook gc
alive "$holder" || fail "gc took a detached session"
call_ok reclaim "{\"ticket_ref\":\"$ticket\"}"
assert_eq completed "$(printf '%s\n' "$OUT" | json_query 'j["status"]')" "reclaim status"
sleep 0.2
alive "$holder" && fail "holder left after reclaim"
[ ! -e "$(run_dir)/$SREF" ] || fail "session dir left after reclaim"
call_ok reclaim "{\"ticket_ref\":\"$ticket\"}"
assert_eq "already reclaimed" "$(printf '%s\n' "$OUT" | json_query 'j["redacted_summary"]')" "second reclaim"
run_nook_in '{"ticket_ref":"ticket-unknown"}' call reclaim
assert_eq 125 "$RC" "unknown ticket"
assert_contains "$OUT" "PolicyDenial" "unknown ticket kind"
ok "detach and reclaim"
