#!/bin/sh
# kill -9 of the client right after a call's intent is recorded: the call is reported
# interrupted (RecoveryRepairNeeded) instead of being run twice or hanging, and the
# journal says what happened.
. "$NOOK_TEST_LIB/lib.sh"

req='{"environment":{"environment_id":"f1","spec":{}}}'
echo f1 >>"$T/envs"
set +e
printf '%s' "$req" | NOOK_FAULT=journal.after_intent:kill "$NOOK" call prepare_session >"$T/out" 2>&1
rc=$?
set -e
[ "$rc" -eq 137 ] || skip "this build ignores NOOK_FAULT (exit $rc): build with -Dfault_injection=true"

st=$("$NOOK" journal --json | json_query 'j[0]["status"]')
case "$st" in intent | interrupted) ;; *) fail "status after kill: $st" ;; esac

run_nook_in "$req" call prepare_session
assert_eq 125 "$RC" "same call after the kill"
assert_eq RecoveryRepairNeeded "$(printf '%s\n' "$OUT" | json_query 'j["Classified"]["kind"]')" "error kind"
assert_eq RepairNeeded "$(printf '%s\n' "$OUT" | json_query 'j["Classified"]["retry"]')" "retry class"
assert_contains "$OUT" "interrupted" "message"
assert_eq interrupted "$("$NOOK" journal --json | json_query 'j[0]["status"]')" "journal status"
assert_eq 1 "$(journal_count)" "journal rows"

# A different environment is unaffected.
run_nook_in "{\"environment\":{\"environment_id\":\"f2-$$\",\"spec\":{}}}" call prepare_session
assert_eq 0 "$RC" "another environment"
run_nook_in "{\"environment\":{\"environment_id\":\"f2-$$\",\"spec\":{}},\"cleanup_plan_ref\":\"c\"}" call cleanup

# cleanup settles the interrupted call: the same environment can be prepared again
run_nook_in "{\"environment\":{\"environment_id\":\"f1\",\"spec\":{}},\"cleanup_plan_ref\":\"c\"}" call cleanup
assert_eq 0 "$RC" "cleanup of the interrupted environment"
run_nook_in "$req" call prepare_session
assert_eq 0 "$RC" "the same environment after cleanup"
run_nook_in "{\"environment\":{\"environment_id\":\"f1\",\"spec\":{}},\"cleanup_plan_ref\":\"c\"}" call cleanup
set +e
printf '%s' '{"environment":{"environment_id":"f4","spec":{}}}' | NOOK_FAULT=journal.after_intent:errno=ENOSPC "$NOOK" call prepare_session >"$T/out" 2>"$T/err"
rc=$?
set -e
assert_eq 125 "$rc" "ENOSPC at intent"
assert_eq JournalFailure "$(json_query 'j["Classified"]["kind"]' <"$T/out")" "ENOSPC error kind"
ok "kill -9 after intent is reported as interrupted"
