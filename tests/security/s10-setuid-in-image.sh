#!/bin/sh
# S10: no_new_privs always: a setuid file in the root gains nothing.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
cp "$NOOK_PROBE" "$ROOT/bin/suid-probe"
chmod 4755 "$ROOT/bin/suid-probe"
session_up "$EID" keep-id
run_in '["sh","-c","grep NoNewPrivs /proc/self/status; suid-probe setuid0"]'
assert_contains "$STDOUT" "NoNewPrivs:	1" "no_new_privs"
assert_contains "$STDOUT" "denied E" "setuid(0) from a setuid file"
session_down "$EID"
ok "S10"
