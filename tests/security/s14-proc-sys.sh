#!/bin/sh
# S14 (podman masked paths, CVE-2022-0492) and S6: sensitive /proc and /sys paths are
# masked or read-only; a root whose /proc is a symlink is refused.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
session_up "$EID"
run_in '["sh","-c","if [ -e /proc/kcore ]; then wc -c < /proc/kcore; else echo 0; fi; wc -c < /proc/keys; ls /sys/firmware | wc -l; touch /sys/x 2>&1 | grep -c Read-only; (echo x > /proc/sys/kernel/hostname) 2>&1 | grep -c Read-only; grep -c cgroup /proc/self/mountinfo"]'
assert_eq "0
0
0
1
1" "$(echo "$STDOUT" | head -n 5)" "kcore, keys, /sys/firmware masked; /sys and /proc/sys read-only"
session_down "$EID"

mk_rootfs "$T/bad"
rmdir "$T/bad/proc"
ln -s /etc "$T/bad/proc"
NOOK_ALIASES="bad=$T/bad"
export NOOK_ALIASES
env="{\"environment_id\":\"$EID-bad\",\"spec\":{\"filesystem\":{\"root\":\"writable_layer\"}}}"
call_ok prepare_session "{\"environment\":$env}"
call_ok prepare_rootfs "{\"rootfs\":{\"rootfs_ref\":\"bad\"},\"environment_id\":\"$EID-bad\"}"
run_nook_in "{\"environment\":$env}" call prepare_environment
assert_eq 125 "$RC" "a root whose /proc is a symlink"
assert_contains "$OUT" "/proc in the root is a symlink" "S6 refusal"
session_down "$EID-bad"
ok "S14"
