#!/bin/sh
# A session has its own user, mount, pid, ipc, uts, cgroup and network namespaces
# (inodes differ from the caller's); the workloads have a pid namespace of their own,
# nested in the holder's (S33), whose pid 1 is nook-init; /proc shows only that namespace.
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

# the holder's pid namespace is neither the caller's nor the workloads'; the workloads'
# is nested in it (NSpid: host, session, workloads), its init is nook-init
holder=$(holder_pid "$SREF")
workns=$(echo "$STDOUT" | sed -n "s/^pid //p")
holderns=$(readlink "/proc/$holder/ns/pid")
[ -n "$holderns" ] || fail "the holder's pid namespace cannot be read"
[ "$holderns" != "$(readlink /proc/self/ns/pid)" ] || fail "the holder's pid namespace is the caller's"
[ "$holderns" != "$workns" ] || fail "the workloads share the holder's pid namespace ($holderns)"
init=""
for p in $(tree_of "$holder"); do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = nook-init ] && init=$p
done
[ -n "$init" ] || fail "no nook-init under holder $holder"
assert_eq "$workns" "$(readlink "/proc/$init/ns/pid")" "the init's pid namespace is the workloads'"
assert_eq 1 "$(sed -n 's/^NSpid:.*[[:space:]]//p' "/proc/$holder/status")" "the holder's pid in its namespace"
assert_eq 3 "$(sed -n 's/^NSpid://p' "/proc/$init/status" | wc -w)" "levels of the init's pids (host, session, workloads)"
assert_eq 1 "$(sed -n 's/^NSpid:.*[[:space:]]//p' "/proc/$init/status")" "the init's pid in the workloads' namespace"
ok "the workloads' pid namespace is nested in the holder's"

run_in '["sh","-c","sed -n s/^Name:.//p /proc/1/status; ls /proc | grep -c \"^[0-9]\""]'
name=$(echo "$STDOUT" | head -n 1 | tr -d '\t ')
assert_eq nook-init "$name" "pid 1 of the workloads' pid namespace"
count=$(echo "$STDOUT" | tail -n 1)
[ "$count" -le 4 ] || fail "/proc shows $count processes: not only the workloads'"
ok "pid 1 is nook-init; /proc is the workloads' own"

run_in '["hostname"]'
assert_eq nook "$STDOUT" "hostname"
run_in '["sh","-c","cat /proc/net/dev | grep -c :"]'
assert_eq 1 "$STDOUT" "network devices inside (loopback only)"
session_down "$EID"
sleep 0.2
alive "$holder" && fail "holder $holder still running after cleanup"
alive "$init" && fail "init $init still running after cleanup"
[ ! -e "$(run_dir)/$SREF" ] || fail "session dir left: $(run_dir)/$SREF"
ok "cleanup leaves no holder and no run-dir entry"
