#!/bin/sh
# kill -9 of the client inside prepare_secrets (once the session records the secrets,
# once the holder holds them) and of a running `nook run`, of the holder, and of a
# monitor holding back the start of a value: no value ever reaches a file (data dir,
# run dir, /tmp, /dev/shm), `nook gc` or `nook session rm` leaves no holder and no
# session, and a value cut short by the monitor's death is not in the log.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"

V="kill-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')-value"
export NOOK_T_V="$V"
printf '%s\n' "$V" "$(printf %s "$V" | od -An -tx1 | tr -d ' \n')" "$(printf %s "$V" | base64 | cut -c1-24)" \
        "$(printf %s "$V" | head -c 12)" >"$T/forms"
# The files under the places a value must never reach that hold a form of it.  grep's
# status is not used: other users' unreadable files make it 2 with or without a match;
# the canary below proves the scan finds what is there.
leaks() {
        set +e
        grep -r -l -a -F -f "$T/forms" --exclude-dir="$(basename "$T")" "$XDG_DATA_HOME" "$(run_dir)" /tmp /dev/shm \
                2>/dev/null
        set -e
}
printf 'canary %s\n' "$V" >"/dev/shm/nook-canary-$$"
[ "$(leaks)" = "/dev/shm/nook-canary-$$" ] || fail "the scan does not find a value planted in /dev/shm: $(leaks)"
rm -f "/dev/shm/nook-canary-$$"
no_leak() { # WHEN
        found=$(leaks)
        [ -z "$found" ] || fail "a secret reached the disk ($1): $found"
}
wait_gone() { # SREF WHEN
        i=0
        while [ -n "$(holders_of "$1")" ] && [ $i -lt 50 ]; do
                i=$((i + 1))
                sleep 0.1
        done
        [ -z "$(holders_of "$1")" ] || fail "a holder is left ($2)"
        [ ! -e "$(run_dir)/$1" ] || fail "the session dir is left ($2)"
}
SECS='"secrets":{"ambient":"explicit_refs_only","secret_mounts":[{"secret_ref":"v","destination":{"kind":"external_runtime","id":"/run/secrets/v","privacy":"secret","retention":"ephemeral"}}],"env_secrets":[{"secret_ref":"v","env_key":"V"}],"teardown_required":true}'

# ---- the client, inside prepare_secrets ---------------------------------------------
for point in secrets.after_record secrets.after_holder; do
        E="k$$-$(echo "$point" | tr . -)"
        ENV="{\"environment_id\":\"$E\",\"spec\":{$SECS}}"
        call_ok prepare_session "{\"environment\":$ENV,\"nook\":{\"network\":\"none\",\"owned_by_caller\":true}}"
        call_ok prepare_rootfs "{\"rootfs\":{\"rootfs_ref\":\"testroot\"},\"environment_id\":\"$E\"}"
        set +e
        printf '%s' "{\"environment\":$ENV,\"secret_values\":{\"v\":{\"value\":\"$V\"}}}" |
                NOOK_FAULT="$point:kill" "$NOOK" call prepare_secrets >/dev/null 2>&1
        rc=$?
        set -e
        [ "$rc" -eq 137 ] || skip "this build ignores NOOK_FAULT (exit $rc)"
        no_leak "client killed at $point"
        run_nook gc
        assert_eq 0 "$RC" "gc after a kill at $point: $ERR"
        wait_gone "$(session_ref "$E")" "kill at $point"
        no_leak "gc after a kill at $point"
        ok "client killed at $point: nothing on disk, gc reclaims"
done

# ---- a running `nook run`: the client killed --------------------------------------
set +e
"$NOOK" --secret-source v=env:NOOK_T_V run --name "k$$-run" --network none --rootfs "$ROOT" --secret v \
        --secret v,type=env,target=V -- sh -c 'cat /run/secrets/v; echo "$V"; sleep 60' >"$T/run.out" 2>&1 &
client=$!
set -e
i=0
until grep -q REDACTED "$T/run.out" 2>/dev/null || [ $i -ge 100 ]; do
        i=$((i + 1))
        sleep 0.1
done
grep -q REDACTED "$T/run.out" || fail "nook run printed no masked line: $(cat "$T/run.out")"
kill -9 "$client"
set +e
wait "$client" 2>/dev/null
rc=$?
set -e
assert_eq 137 "$rc" "nook run was killed while its command ran"
no_leak "nook run killed"
run_nook gc
wait_gone "$(session_ref "k$$-run")" "nook run killed, then gc"
no_leak "nook run killed, then gc"
ok "nook run killed: nothing on disk, gc reclaims"

# ---- the holder killed ---------------------------------------------------------------
run_nook --secret-source v=env:NOOK_T_V session create --name "k$$-h" --network none --rootfs "$ROOT" --secret v
assert_eq 0 "$RC" "session create: $ERR"
echo "k$$-h" >>"$T/envs"
sref=$(session_ref "k$$-h")
run_nook exec -d "k$$-h" sh -c 'cat /run/secrets/v; sleep 60'
sleep 0.3
kill -9 "$(holders_of "$sref")"
sleep 0.3
no_leak "holder killed"
run_nook session rm "k$$-h"
wait_gone "$sref" "holder killed, then session rm"
no_leak "holder killed, then session rm"
ok "holder killed: nothing on disk, session rm removes the rest"

# ---- a monitor killed while it holds back the start of a value ----------------------
run_nook --secret-source v=env:NOOK_T_V session create --name "k$$-m" --network none --rootfs "$ROOT" \
        --secret v,type=env,target=V
assert_eq 0 "$RC" "session create: $ERR"
echo "k$$-m" >>"$T/envs"
sref=$(session_ref "k$$-m")
run_nook exec -d "k$$-m" sh -c 'echo start; printf %s "$V" | head -c 12; sleep 60'
P=$OUT
sleep 0.5
holder=$(holders_of "$sref")
mon=$(for p in $(tree_of "$holder"); do if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = nook-monitor ]; then echo "$p"; fi; done)
[ -n "$mon" ] || fail "no monitor found"
kill -9 $mon
sleep 0.3
run_nook logs "$P"
assert_contains "$OUT" "start" "the log has what came before"
assert_not_contains "$OUT" "$(printf %s "$V" | head -c 12)" "the start of a value held back by a killed monitor"
no_leak "monitor killed"
run_nook session rm "k$$-m"
wait_gone "$sref" "monitor killed, then session rm"
no_leak "monitor killed, then session rm"
ok "monitor killed: the start of a value it held back is never written"
