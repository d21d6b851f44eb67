#!/bin/sh
# A session has its own user, mount, pid, ipc, uts, cgroup and network namespaces
# (inodes differ from the caller's), the holder is pid 1, /proc shows only the session.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
session_up "$EID"
run_in '["sh","-c","for n in user mnt pid ipc uts net cgroup; do echo $n $(readlink /proc/self/ns/$n); done"]'
assert_eq 0 "$CODE" "exit code"
for n in user mnt pid ipc uts net cgroup; do
        inside=$(echo "$STDOUT" | sed -n "s/^$n //p")
        outside=$(readlink /proc/self/ns/$n)
        [ -n "$inside" ] || fail "no $n namespace inode inside: $STDOUT"
        [ "$inside" != "$outside" ] || fail "$n namespace is the caller's ($outside)"
done
ok "namespace inodes differ"

run_in '["sh","-c","sed -n s/^Name:.//p /proc/1/status; ls /proc | grep -c \"^[0-9]\""]'
name=$(echo "$STDOUT" | head -n 1 | tr -d '\t ')
assert_eq nook-holder "$name" "pid 1 of the session"
count=$(echo "$STDOUT" | tail -n 1)
[ "$count" -le 6 ] || fail "/proc shows $count processes: not only the session's"
ok "pid 1 is the holder; /proc is the session's"

run_in '["hostname"]'
assert_eq nook "$STDOUT" "hostname"
run_in '["sh","-c","cat /proc/net/dev | grep -c :"]'
assert_eq 1 "$STDOUT" "network devices inside (loopback only)"
holder=$(holder_pid "$SREF")
session_down "$EID"
sleep 0.2
alive "$holder" && fail "holder $holder still running after cleanup"
[ ! -e "$(run_dir)/$SREF" ] || fail "session dir left: $(run_dir)/$SREF"
ok "cleanup leaves no holder and no run-dir entry"
