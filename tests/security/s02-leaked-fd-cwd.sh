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
# a cwd through a magic link of one of the monitor's fds would be outside the root
# (runc CVE-2024-21626): refused, for every fd number a monitor could hold
for fd in 3 4 5 6 7 8 9 10 11 12; do
        for cwd in "/proc/self/fd/$fd" "//proc/self/fd/$fd" "/dev/fd/$fd/.."; do
                start_in '["sh","-c","pwd; ls .. | head -3"]' "\"cwd\":\"$cwd\"" 5000
                case "$OUT" in
                *'"terminal_status":"completed"'*) fail "cwd $cwd started a process: $OUT" ;;
                esac
        done
done
session_down "$EID"
ok "S2"
