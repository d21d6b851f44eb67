#!/bin/sh
# kill -9 of the client at each point of prepare_session and after each later stage;
# then `nook gc` (or cleanup) leaves no holder, no session dir, no held journal row, and
# the same environment id works again.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
probe_fault() {
        set +e
        printf '%s' "{\"environment\":{\"environment_id\":\"$1\",\"spec\":{}},\"nook\":{\"owned_by_caller\":true}}" |
                NOOK_FAULT="$2" "$NOOK" call prepare_session >/dev/null 2>&1
        rc=$?
        set -e
        [ "$rc" -eq 137 ] || skip "this build ignores NOOK_FAULT (exit $rc)"
}
for point in session.before_holder session.after_holder journal.before_result; do
        env="$EID-$(echo $point | tr . -)"
        ref=$(session_ref "$env")
        probe_fault "$env" "$point:kill"
        run_nook gc
        assert_eq 0 "$RC" "gc after a kill at $point: $ERR"
        sleep 0.2
        [ -z "$(holders_of "$ref")" ] || fail "a holder is left after a kill at $point"
        [ ! -e "$(run_dir)/$ref" ] || fail "the session dir is left after a kill at $point"
        # the journal says what happened, and the environment can be prepared again
        run_nook journal --json
        printf '%s\n' "$OUT" | json_query "[c['status'] for c in j if c['environment_id'] == '$env'][-1]" | grep -q -E 'interrupted' ||
                fail "journal does not record the interrupted call ($point)"
        session_up "$env"
        run_in '["true"]'
        session_down "$env"
        ok "kill at $point: reclaimed, and the environment works again"
done

# kill -9 of a client that owns a running session (nook run without -d): gc reclaims it
session_up "$EID-owned"
ref=$SREF
holder=$(holder_pid "$ref")
sed -i "s/^owner_pid=.*/owner_pid=999999/" "$(run_dir)/$ref/state"
run_nook gc
assert_contains "$OUT" "1 session" "gc reclaims the session whose owner is gone"
sleep 0.2
alive "$holder" && fail "holder $holder left"
[ ! -e "$(run_dir)/$ref" ] || fail "session dir left"
# a session nobody owns (session create, nook call) is not gc's to take
session_up "$EID-kept"
run_nook gc
alive "$(holder_pid "$SREF")" || fail "gc took a session that has no owner"
session_down "$EID-kept"
ok "gc"
