#!/bin/sh
# S13 (flatpak CVE-2021-41133, CVE-2022-0185): the default seccomp profile denies
# keyrings, bpf, userfaultfd, new user namespaces, the new mount API; clone3 is ENOSYS;
# "unconfined" shows the kernel itself would have allowed them.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
session_up "$EID"
run_in '["sh","-c","for c in keyctl bpf userfaultfd unshare-user open-tree mount clone3; do echo $c $(nook-probe $c); done"]'
assert_contains "$STDOUT" "keyctl denied EPERM" "keyctl"
assert_contains "$STDOUT" "bpf denied EPERM" "bpf"
assert_contains "$STDOUT" "userfaultfd denied EPERM" "userfaultfd"
assert_contains "$STDOUT" "unshare-user denied EPERM" "unshare(CLONE_NEWUSER)"
assert_contains "$STDOUT" "open-tree denied EPERM" "open_tree"
assert_contains "$STDOUT" "mount denied EPERM" "mount"
assert_contains "$STDOUT" "clone3 denied ENOSYS" "clone3"
run_in '["sh","-c","nook-probe keyctl; nook-probe clone3"]' '"nook":{"seccomp":"unconfined"}'
assert_contains "$STDOUT" "ok" "without the filter the kernel allows them here"
session_down "$EID"
ok "S13"
