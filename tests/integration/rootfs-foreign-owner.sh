#!/bin/sh
# A root directory that belongs to someone else (root's, as a site provides one or an
# administrator unpacked it; another user's): the sandbox writes anywhere in it, and the writes land
# in the session's writable layer, never in the directory; auto takes fuse-overlayfs
# (kernel overlayfs cannot copy up a file whose owner the session does not map),
# --rootfs-driver applies to a directory too, and session inspect says which and why.
# The directories are made by ./dev (as root, in its machine preparation).
. "$NOOK_TEST_LIB/lib.sh"
: "${NOOK_FIXTURES:?NOOK_FIXTURES must name the fixtures dir (meson test sets it)}"
cd "$T"

write='echo hi >/tmp/x && cat /tmp/x && echo more >>/etc/motd && cat /etc/motd && mkdir /new && stat -c %U /tmp/x'
for owner in root nobody; do
        F=$NOOK_FIXTURES/$owner-root
        [ -f "$F/.nook-fixture" ] && [ "$(stat -c %U "$F/etc")" = "$owner" ] ||
                fail "no root dir owned by $owner at $F: run ./dev test as root (its machine preparation makes it)"
        before=$(cat "$F/etc/motd")

        run_nook run --rootfs "$F" -- sh -c "$write"
        assert_eq 0 "$RC" "writing in $owner's root dir (auto): $ERR"
        assert_eq "hi
from the fixture
more
root" "$OUT" "writes in $owner's root dir land and read back"
        assert_eq "$before" "$(cat "$F/etc/motd")" "$owner's /etc/motd on the host is unchanged"
        [ ! -e "$F/tmp/x" ] && [ ! -e "$F/new" ] || fail "a write reached $owner's directory on the host"

        run_nook session create --name "fo-$owner-$$" --rootfs "$F"
        assert_eq 0 "$RC" "session create on $owner's root dir: $ERR"
        run_nook session inspect --json "fo-$owner-$$"
        assert_eq fuse-overlayfs "$(echo "$OUT" | json_query 'j["rootfs_driver"]')" "auto on $owner's root dir"
        assert_contains "$(echo "$OUT" | json_query 'j["rootfs_driver_reason"]')" "not mapped in this session" \
                "why, for $owner's root dir"
        run_nook session inspect "fo-$owner-$$"
        assert_contains "$OUT" "Driver:       fuse-overlayfs (" "inspect names the driver of a root dir"
        run_nook exec "fo-$owner-$$" sh -c 'echo kept >/srv/new && cat /srv/new'
        assert_eq "0 kept" "$RC $OUT" "exec writes in the session's layer: $ERR"
        run_nook session rm "fo-$owner-$$"
        assert_eq 0 "$RC" "session rm: $ERR"
        [ ! -e "$F/srv/new" ] || fail "exec's write reached $owner's directory"
done
ok "a root dir of root's or of another user's: writes land in the writable layer (fuse-overlayfs), never in it"

F=$NOOK_FIXTURES/root-root
# --rootfs-driver copy: a private copy; what you may not read is left out, and said
run_nook session create --name "fc-$$" --rootfs-driver copy --rootfs "$F"
assert_eq 0 "$RC" "session create --rootfs-driver copy on root's dir: $ERR"
run_nook exec "fc-$$" sh -c "$write"
assert_eq 0 "$RC" "writing in the copy: $ERR"
assert_contains "$OUT" "from the fixture
more" "the copy holds the directory's files"
run_nook session inspect --json "fc-$$"
assert_eq copy "$(echo "$OUT" | json_query 'j["rootfs_driver"]')" "asked for copy"
assert_contains "$(echo "$OUT" | json_query 'j["notes"]')" "that you may not read are left out of the copy" \
        "unreadable entries of the copy are reported"
run_nook session rm "fc-$$"
[ ! -e "$F/tmp/x" ] || fail "the copy wrote into the directory"
ok "--rootfs-driver copy on a root dir: a private copy, unreadable entries reported"

# --rootfs-driver overlay: asked for, so used, and inspect warns what will fail
run_nook session create --name "fk-$$" --rootfs-driver overlay --rootfs "$F"
assert_eq 0 "$RC" "session create --rootfs-driver overlay: $ERR"
run_nook session inspect --json "fk-$$"
assert_eq overlay "$(echo "$OUT" | json_query 'j["rootfs_driver"]')" "asked for overlay: never another"
assert_contains "$(echo "$OUT" | json_query 'j["rootfs_driver_reason"]')" "EOVERFLOW" "the asked driver's limit is said"
run_nook exec "fk-$$" sh -c 'echo hi >/tmp/x'
[ "$RC" != 0 ] || fail "kernel overlayfs wrote under an unmapped owner: the test's premise is gone"
run_nook session rm "fk-$$"
ok "--rootfs-driver overlay on a root dir: used as asked, its limit in the reason"

# your own directory: kernel overlayfs, as before
mk_rootfs "$ROOT"
run_nook session create --name "fm-$$" --rootfs "$ROOT"
assert_eq 0 "$RC" "session create on your own dir: $ERR"
run_nook session inspect --json "fm-$$"
assert_eq overlay "$(echo "$OUT" | json_query 'j["rootfs_driver"]')" "auto on your own dir"
assert_contains "$(echo "$OUT" | json_query 'j["rootfs_driver_reason"]')" "owners are mapped" "why, your own dir"
run_nook exec "fm-$$" sh -c 'echo hi >/tmp/x && cat /tmp/x'
assert_eq "0 hi" "$RC $OUT" "writes on your own dir: $ERR"
run_nook session rm "fm-$$"
[ ! -e "$ROOT/tmp/x" ] || fail "a write reached your own directory"
ok "your own root dir: kernel overlayfs, the reason says so"

run_nook run --rootfs-rw --rootfs-driver copy --rootfs "$ROOT" true
assert_eq 125 "$RC" "--rootfs-rw with --rootfs-driver"
assert_contains "$ERR" "contradict" "--rootfs-rw with --rootfs-driver says why"
ok "--rootfs-rw with --rootfs-driver is refused"
