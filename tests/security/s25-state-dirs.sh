#!/bin/sh
# S25 (CVE-2021-41091): state dirs are 0700; a run dir that is a symlink or open to
# others is refused; control sockets are path sockets in 0700 dirs.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
export XDG_RUNTIME_DIR="$T/xdg"
mkdir -m 0700 "$XDG_RUNTIME_DIR"
session_up "$EID"
assert_eq 700 "$(stat -c %a "$XDG_RUNTIME_DIR/nook")" "run dir mode"
assert_eq 700 "$(stat -c %a "$XDG_RUNTIME_DIR/nook/$SREF")" "session dir mode"
[ -S "$XDG_RUNTIME_DIR/nook/$SREF/ctl.sock" ] || fail "control socket is a path socket in the session dir"
grep -q "@.*nook" /proc/net/unix && fail "an abstract socket named nook"
session_down "$EID"

rm -rf "$XDG_RUNTIME_DIR/nook"
mkdir "$T/elsewhere"
ln -s "$T/elsewhere" "$XDG_RUNTIME_DIR/nook"
run_nook_in "{\"environment\":{\"environment_id\":\"$EID-2\",\"spec\":{}}}" call prepare_session
assert_eq 125 "$RC" "a run dir that is a symlink"
[ -z "$(ls -A "$T/elsewhere")" ] || fail "something was created through the symlink"
rm "$XDG_RUNTIME_DIR/nook"
mkdir -m 0755 "$XDG_RUNTIME_DIR/nook"
run_nook_in "{\"environment\":{\"environment_id\":\"$EID-3\",\"spec\":{}}}" call prepare_session
assert_eq 125 "$RC" "a run dir open to others"
assert_contains "$OUT" "not private" "message"
ok "S25"
