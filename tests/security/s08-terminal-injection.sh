#!/bin/sh
# S8 (bubblewrap CVE-2017-5226, CVE-2019-10063): the workload never shares the caller's
# terminal (its own session and devpts), and TIOCSTI/TIOCLINUX are denied by seccomp,
# also with high bits set in the ioctl number.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
session_up "$EID"
run_in '["sh","-c","nook-probe tiocsti; nook-probe tiocsti-high"]'
assert_eq "denied EPERM
denied EPERM" "$STDOUT" "TIOCSTI"
run_in '["sh","-c","tty; ls /dev/pts"]' '"terminal_mode":"pty"'
assert_eq "/dev/pts/0" "$(printf '%s\n' "$STDOUT" | tr -d '\r' | sed -n 1p)" "the workload's terminal is of its own devpts"
run_in '["sh","-c","tty || true"]'
assert_eq "not a tty" "$STDOUT" "a pipe-mode workload has no terminal"
session_down "$EID"
ok "S8"
