#!/bin/sh
# `nook call` speaks the contract: result JSON on stdout and exit 0; AgentError JSON on
# stdout and exit 125; a stage called out of order says so (never a fake success) and is journaled.
. "$NOOK_TEST_LIB/lib.sh"

run_nook_in '' call runtime_ref
assert_eq 0 "$RC" "runtime_ref exit"
assert_eq '"nook.userns"' "$OUT" "runtime_ref result"

printf '{}' >"$T/req.json"
run_nook call capability_report --request "$T/req.json"
assert_eq 0 "$RC" "capability_report from --request FILE"
printf '%s\n' "$OUT" | json_query 'j["report_ref"]' | grep -q '^report-' || fail "report_ref missing"

# An environment without secrets needs nothing materialised: that answer is exact.
run_nook_in "{\"environment\":{\"environment_id\":\"it-$$-none\",\"spec\":{}}}" call prepare_secrets
assert_eq 0 "$RC" "prepare_secrets without secrets"
assert_eq '{"teardown_required":true}' "$OUT" "prepare_secrets without secrets: no refs, the crate's shape"

# A stage called before its session exists says so, as a Classified
# InvalidStateTransition, never a fake success.
env="{\"environment\":{\"environment_id\":\"it-$$\",\"spec\":{\"environment_id\":\"it-$$\",\"secrets\":{\"ambient\":\"explicit_refs_only\",\"secret_mounts\":[{\"secret_ref\":\"s1\",\"mount_ref\":\"m1\",\"destination\":{\"kind\":\"external_runtime\",\"id\":\"/run/secrets/s1\",\"privacy\":\"secret\",\"retention\":\"ephemeral\"},\"redaction_policy_ref\":{\"kind\":\"redaction\",\"id\":\"r\"}}]}}}}"
run_nook_in "$env" call prepare_secrets
assert_eq 125 "$RC" "prepare_secrets before prepare_session"
kind=$(printf '%s\n' "$OUT" | json_query 'j["Classified"]["kind"]')
assert_eq InvalidStateTransition "$kind" "a stage before its session: the error kind"
assert_contains "$ERR" "nook: prepare_secrets" "stderr message for people"

# The failed call is in the journal, once, even when retried with the same request.
run_nook_in "$env" call prepare_secrets
assert_eq 125 "$RC" "retry exit"
rows=$(journal_count)
assert_eq 2 "$rows" "journal rows after a call and its retry (and the call without secrets)"
st=$("$NOOK" journal --json | json_query 'j[1]["status"]')
assert_eq failed "$st" "journal status"
m=$("$NOOK" journal --json | json_query 'j[1]["method"]')
assert_eq prepare_secrets "$m" "journal method"

# A call that is built, twice with the same request: one session, the recorded result.
run_nook_in "$env" call prepare_session
assert_eq 0 "$RC" "prepare_session"
first=$OUT
run_nook_in "$env" call prepare_session
assert_eq "$first" "$OUT" "the same prepare_session again"
run_nook_in "{\"environment\":{\"environment_id\":\"it-$$\",\"spec\":{}},\"cleanup_plan_ref\":\"c\"}" call cleanup
assert_eq 0 "$RC" "cleanup"

# Every method answers: either a result or an AgentError, never a crash (an empty
# request is refused by every call that needs one).
for method in $("$NOOK" call --help | sed -n '/^Methods:/,/^$/p' | tail -n +2); do
        run_nook_in '{}' call "$method"
        [ "$RC" -eq 0 ] || [ "$RC" -eq 125 ] || fail "$method exited $RC"
        printf '%s\n' "$OUT" | json_query 'j' >/dev/null || fail "$method did not print JSON: $OUT"
done
ok "nook call protocol"
