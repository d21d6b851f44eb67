#!/bin/sh
# auto passes over a fuse-overlayfs that fails at start (here a "fuse-overlayfs" that
# exits at once: $NOOK_FUSE_OVERLAYFS=/bin/false), to the next driver that works, and
# says so in the session's notes; a driver asked for is never replaced: its failure is
# an error naming the cause and what to do.  Image roots and root dirs of root's.
. "$NOOK_TEST_LIB/lib.sh"
: "${NOOK_FIXTURES:?NOOK_FIXTURES must name the fixtures dir (meson test sets it)}"
cd "$T"
F=$NOOK_FIXTURES/root-root
[ -f "$F/.nook-fixture" ] || fail "no root dir owned by root at $F: run ./dev test as root (its machine preparation makes it)"
IMG="$T/img"
python3 "$NOOK_SOURCE_ROOT/tests/images/mkimage.py" "$IMG" >/dev/null || fail "mkimage.py"
run_nook image import --name t-fb "$IMG/oci-archive.tar"
assert_eq 0 "$RC" "import: $ERR"
me=$(id -un)
if grep -q -E "^($me|$(id -u)):" /etc/subuid 2>/dev/null; then SUBUID=1; else SUBUID=0; fi

export NOOK_FUSE_OVERLAYFS=/bin/false

# a root dir of root's: auto tries fuse-overlayfs first whatever the identity
run_nook session create --name "fb-dir-$$" --rootfs "$F"
assert_eq 0 "$RC" "auto with a failing fuse-overlayfs, root dir: $ERR"
run_nook session inspect --json "fb-dir-$$"
assert_eq copy "$(echo "$OUT" | json_query 'j["rootfs_driver"]')" "auto fell back to copy (root dir)"
notes=$(echo "$OUT" | json_query 'j["notes"]')
assert_contains "$notes" "fuse-overlayfs failed here (fuse-overlayfs did not serve the root, it exited with status 1" \
        "the downgrade and why, in the notes"
assert_not_contains "$notes" "died" "a daemon passed over is not the session's root dying"
run_nook exec "fb-dir-$$" sh -c 'echo hi >/tmp/x && cat /tmp/x'
assert_eq "0 hi" "$RC $OUT" "the fallback root works: $ERR"
run_nook session rm "fb-dir-$$"
assert_eq 0 "$RC" "session rm: $ERR"
ok "auto passes over a fuse-overlayfs that exits at start (root dir -> copy), noted"

# an image: under subuid auto tries fuse-overlayfs first, then overlay
run_nook session create --name "fb-img-$$" t-fb
assert_eq 0 "$RC" "auto with a failing fuse-overlayfs, image: $ERR"
run_nook session inspect --json "fb-img-$$"
assert_eq overlay "$(echo "$OUT" | json_query 'j["rootfs_driver"]')" "auto ends on overlay (image)"
notes=$(echo "$OUT" | json_query 'j["notes"]')
if [ "$SUBUID" = 1 ]; then
        assert_contains "$notes" "fuse-overlayfs failed here" "the downgrade is noted (image, subuid)"
        assert_eq "1" "$(echo "$OUT" | json_query '1 if j["owners_collapsed"] > 0 else 0')" \
                "the fallback makes owners collapse, and inspect says so"
fi
run_nook exec "fb-img-$$" sh -c 'echo hi >/tmp/x && cat /tmp/x'
assert_eq "0 hi" "$RC $OUT" "the image root works: $ERR"
run_nook session rm "fb-img-$$"
assert_eq 0 "$RC" "session rm: $ERR"
ok "auto passes over a fuse-overlayfs that exits at start (image)"

# asked for: no fallback, an error that names the cause and the way out
for root in t-fb "--rootfs $F"; do
        # shellcheck disable=SC2086 # "--rootfs DIR" is two words
        run_nook run --rootfs-driver fuse-overlayfs $root true
        assert_eq 125 "$RC" "--rootfs-driver fuse-overlayfs that fails ($root)"
        assert_contains "$ERR" "fuse-overlayfs did not serve the root, it exited with status 1" "the cause ($root)"
        assert_contains "$ERR" "--rootfs-driver auto passes over" "what to do ($root)"
        assert_not_contains "$ERR" "opening /proc" "the failure is caught at the root, not later ($root)"
done
ok "--rootfs-driver fuse-overlayfs is never replaced: a clear error"

unset NOOK_FUSE_OVERLAYFS
run_nook run --rootfs-driver fuse-overlayfs t-fb sh -c 'echo ok'
assert_eq "0 ok" "$RC $OUT" "the real fuse-overlayfs serves: $ERR"
ok "the real fuse-overlayfs still serves"

# a whole system root of root's (/) with fuse-overlayfs failing: auto never copies it
# (minutes and gigabytes); kernel overlay, with the reason in inspect
export NOOK_FUSE_OVERLAYFS=/bin/false
run_nook session create --name "fb-big-$$" --network none --rootfs /
assert_eq 0 "$RC" "auto with a failing fuse-overlayfs, --rootfs /: $ERR"
run_nook session inspect --json "fb-big-$$"
driver=$(echo "$OUT" | json_query 'j["rootfs_driver"]')
assert_not_contains "$driver" copy "a system root is not copied after the failing fuse-overlayfs"
run_nook exec "fb-big-$$" cat /etc/hostname
assert_eq 0 "$RC" "the root answers: $ERR"
run_nook session rm "fb-big-$$"
assert_eq 0 "$RC" "session rm: $ERR"
export NOOK_FUSE_OVERLAYFS=/nonexistent/fuse-overlayfs
run_nook session create --name "fb-big2-$$" --network none --rootfs /
assert_eq 0 "$RC" "auto without fuse-overlayfs, --rootfs /: $ERR"
run_nook session inspect --json "fb-big2-$$"
assert_not_contains "$(echo "$OUT" | json_query 'j["rootfs_driver"]')" copy "no copy without fuse-overlayfs either"
assert_contains "$(echo "$OUT" | json_query 'j["rootfs_driver_reason"]')" "too big to copy" "inspect says why"
run_nook session rm "fb-big2-$$"
assert_eq 0 "$RC" "session rm: $ERR"
unset NOOK_FUSE_OVERLAYFS
ok "a root too big to copy is never copied by auto"
