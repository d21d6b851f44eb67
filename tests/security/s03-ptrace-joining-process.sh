#!/bin/sh
# S3 (runc CVE-2016-9962): the processes that run inside the session for nook (holder,
# monitors) cannot be traced or read by the workload.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
session_up "$EID"
# pid 1 is the holder; the shell's parent is its monitor.  Non-dumpable processes'
# /proc entries belong to the namespace's root, so their fd numbers can be listed, but
# no link can be followed and no memory read (ptrace access mode checks, proc(5)).
run_in '["sh","-c","nook-probe ptrace 1; nook-probe ptrace $PPID; nook-probe open /proc/1/environ; nook-probe open /proc/$PPID/mem; nook-probe open /proc/1/fd/3; nook-probe open /proc/$PPID/fd/0"]'
assert_eq "denied EPERM
denied EPERM
denied EACCES
denied EACCES
denied EACCES
denied EACCES" "$STDOUT" "ptrace and /proc of nook's processes"
session_down "$EID"
ok "S3"
