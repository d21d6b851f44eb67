#!/bin/sh
# S2 (runc CVE-2024-21626): only fds 0-2 reach the workload, and its cwd is inside the root.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
session_up "$EID"
run_in '["nook-probe","fds"]'
assert_eq "0
1
2" "$STDOUT" "open fds in the workload"
run_in '["sh","-c","readlink /proc/self/cwd; ls /proc/self/cwd/.. | head -1; cd /; cd ..; pwd"]' '"cwd":"/tmp"'
assert_eq "/tmp" "$(echo "$STDOUT" | sed -n 1p)" "cwd inside the root"
assert_eq "/" "$(echo "$STDOUT" | sed -n 3p)" "the root's parent is the root"
run_in '["nook-probe","fds"]' '"terminal_mode":"pty"'
assert_eq "0
1
2" "$(printf '%s\n' "$STDOUT" | tr -d '\r')" "open fds in a pty workload"
session_down "$EID"
ok "S2"
