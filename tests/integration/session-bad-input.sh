#!/bin/sh
# Bad input and wrong order: each a clear error (or a recorded outcome), nothing left.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"

# prepare_rootfs with an unknown alias, a missing dir, a file
run_nook_in "{\"environment\":{\"environment_id\":\"$EID\",\"spec\":{}}}" call prepare_session
run_nook_in "{\"rootfs\":{\"rootfs_ref\":\"nope\"},\"environment_id\":\"$EID\"}" call prepare_rootfs
assert_eq 125 "$RC" "unknown alias"
assert_contains "$OUT" "PolicyDenial" "unknown alias kind"
NOOK_ALIASES="missing=$T/does-not-exist" run_nook_in "{\"rootfs\":{\"rootfs_ref\":\"missing\"},\"environment_id\":\"$EID\"}" call prepare_rootfs
assert_eq 125 "$RC" "nonexistent root dir"
assert_contains "$ERR" "$T/does-not-exist" "the host path is named for people"
assert_not_contains "$OUT" "$T/does-not-exist" "but not in JSON"
call_ok prepare_rootfs "{\"rootfs\":{\"rootfs_ref\":\"testroot\"},\"environment_id\":\"$EID\"}"
run_nook_in "{\"rootfs\":{\"rootfs_ref\":\"other\"},\"environment_id\":\"$EID\"}" call prepare_rootfs
assert_contains "$OUT" "already used for a different prepare_rootfs" "a prepared rootfs is not silently replaced"
run_nook_in "{\"process\":{\"process_id\":\"x\",\"argv\":[\"true\"]},\"environment\":{\"environment_id\":\"$EID-none\",\"spec\":{}},\"effect_intent\":{\"effect_id\":\"e\"}}" call start_process
assert_eq 125 "$RC" "start_process without a session"
assert_contains "$OUT" "InvalidStateTransition" "wrong order is an InvalidStateTransition"
session_down "$EID"

session_up "$EID"
start_in '["no-such-command"]'
assert_eq 125 "$RC" "unknown command"
assert_contains "$OUT" "command not found" "unknown command message"
printf '#!/bin/sh\necho hi\n' >"$ROOT/bin/noexec"
chmod 0644 "$ROOT/bin/noexec"
start_in '["/bin/noexec"]'
assert_contains "$OUT" "cannot execute" "not executable"
start_in '["true"]' '"cwd":"/no/such/dir"'
assert_contains "$OUT" "working directory" "invalid cwd"
start_in '["true"]' '"user":"nobody-here"'
assert_contains "$OUT" "nobody-here" "unknown user"
run_nook_in '{"process_ref":"p-000000000000000000000000-0000000000000000"}' call collect_stats
assert_eq 125 "$RC" "stats of an unknown ref"
assert_contains "$OUT" "PolicyDenial" "unknown ref kind"
# no process dir left by the failed starts
n=$(ls "$(run_dir)/$SREF/p" | wc -l)
assert_eq 0 "$n" "process dirs left by failed starts"

# two clients creating the same session at once get the same one
session_down "$EID"
req="{\"environment\":{\"environment_id\":\"$EID-race\",\"spec\":{}}}"
printf '%s' "$req" | "$NOOK" call prepare_session >"$T/a" 2>/dev/null &
printf '%s' "$req" | "$NOOK" call prepare_session >"$T/b" 2>/dev/null &
wait
assert_eq "$(cat "$T/a")" "$(cat "$T/b")" "two racing prepare_session calls"
[ "$(ls -d "$(run_dir)"/s-* 2>/dev/null | grep -c "$(cat "$T/a" | tr -d '"')")" = 1 ] || fail "one session dir"
session_down "$EID-race"
ok "bad input"
