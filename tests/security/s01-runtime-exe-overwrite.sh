#!/bin/sh
# S1 (runc CVE-2019-5736): no nook executable is reachable as the exe of a process the
# sandbox can see: the only one is the init of the workloads' pid namespace (pid 1, a
# non-dumpable fork of the holder); the holder and the monitors are outside that namespace
# (S33) and non-dumpable too; the workload has no CAP_SYS_PTRACE; after attack loops the
# binaries' hashes are unchanged.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
session_up "$EID"
before=$(sha256sum "$NOOK" "$NOOK_HOLDER" | awk '{print $1}')
# the workload may open its own exe (busybox/nook-probe); never pid 1 (the init, a fork
# of the holder); the shell's parent, its monitor, is outside its pid namespace: PPID 0
run_in '["sh","-c","nook-probe open /proc/1/exe; nook-probe open-write /proc/1/exe; echo ppid $PPID; readlink /proc/1/exe || echo unreadable"]'
assert_eq "denied EACCES
denied EACCES
ppid 0
unreadable" "$STDOUT" "the init's exe from inside; the monitor out of sight"
for i in 1 2 3 4 5; do
        run_in '["sh","-c","for f in /proc/1/exe /proc/2/exe /proc/1/map_files/* /proc/1/fd/*; do echo x > $f; done 2>/dev/null; true"]'
done
after=$(sha256sum "$NOOK" "$NOOK_HOLDER" | awk '{print $1}')
assert_eq "$before" "$after" "nook binaries after the attack loops"
session_down "$EID"
ok "S1"
