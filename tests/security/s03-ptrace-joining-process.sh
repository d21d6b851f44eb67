#!/bin/sh
# S3 (runc CVE-2016-9962): the processes that run inside the session for nook cannot be
# traced or read by the workload: the one it can see, the init of its pid namespace (a
# fork of the holder), is non-dumpable; holder and monitors are outside that namespace.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
session_up "$EID"
# pid 1 is nook's init; the shell's parent, its monitor, has no pid in its namespace
# (PPID 0).  Non-dumpable processes' /proc entries belong to the namespace's root, so
# their fd numbers can be listed, but no link can be followed and no memory read (ptrace
# access mode checks, proc(5)).
run_in '["sh","-c","nook-probe ptrace 1; nook-probe open /proc/1/environ; nook-probe open /proc/1/mem; nook-probe open /proc/1/root/; nook-probe open /proc/1/cwd/; echo ppid $PPID"]'
assert_eq "denied EPERM
denied EACCES
denied EACCES
denied EACCES
denied EACCES
ppid 0" "$STDOUT" "ptrace and /proc of nook's processes"
session_down "$EID"
ok "S3"
