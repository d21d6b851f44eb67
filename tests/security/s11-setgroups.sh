#!/bin/sh
# S11 (CVE-2014-8989): in single-id identities setgroups is denied, so no process
# inside can drop a supplementary group that a negative ACL keys on.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
for mode in root keep-id; do
        session_up "$EID-$mode" "$mode"
        run_in '["sh","-c","cat /proc/self/setgroups; cat /proc/1/setgroups"]'
        assert_eq "deny
deny" "$STDOUT" "setgroups in $mode"
        session_down "$EID-$mode"
done
ok "S11"
