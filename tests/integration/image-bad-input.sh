#!/bin/sh
# Bad images and faults around them: a truncated archive, a manifest pointing to a
# missing blob, an unknown media type, another architecture, a tag not found, a corrupted
# gzip layer, something that is no archive, a missing file, a bad name: each a clear error
# naming the image and the cause, the store unchanged and no staging dir left.  Then: two
# imports of one image at once, an image for an unknown name in run, and fuse-overlayfs
# killed under a running session (the process sees an error, session rm leaves nothing).
. "$NOOK_TEST_LIB/lib.sh"
IMG="$T/img"
SENT="$T/sentinel"
mkdir -p "$SENT" "$T/bad"
echo untouched >"$SENT/sentinel"
python3 "$NOOK_SOURCE_ROOT/tests/images/mkimage.py" "$IMG" >/dev/null || fail "mkimage.py"
python3 "$NOOK_SOURCE_ROOT/tests/images/forge.py" all "$T/bad" --sentinel "$SENT" >/dev/null || fail "forge.py"
STORE="$XDG_DATA_HOME/nook"
run_nook image import --name good "$IMG/oci-archive.tar"
assert_eq 0 "$RC" "a good image first: $ERR"

state() { # the store's names, blobs and layers
        (cd "$STORE" && find images/names images/blobs layers -maxdepth 2 | sort | sha256sum)
}
before=$(state)
refused() { # CASE-FILE PHRASE [ARGS...]: refused with PHRASE, store unchanged
        f=$1 phrase=$2
        shift 2
        run_nook image import "$@" "$f"
        assert_eq 125 "$RC" "import of $(basename "$f") must fail (out: $OUT)"
        assert_contains "$ERR" "$phrase" "error for $(basename "$f")"
        assert_contains "$ERR" "$(basename "${f%%:*}")" "the error names the source"
        assert_eq "$before" "$(state)" "the store after $(basename "$f")"
        assert_eq "" "$(ls -A "$STORE/images/tmp")" "staging dirs after $(basename "$f")"
}
refused "$T/bad/bad-truncated.tar" "truncated"
refused "$T/bad/bad-missing-blob.tar" "lacks"
refused "$T/bad/bad-media-type.tar" "unknown media type"
refused "$T/bad/bad-arch.tar" "s390x"
refused "$T/bad/bad-gzip.tar" "layer"
refused "$T/bad/bad-not-an-archive.tar" "not a readable tar"
refused "$IMG/layout:no-such-tag" "no image tagged no-such-tag"
refused "$T/missing.tar" "No such file"
gzip -c "$IMG/docker-archive.tar" >"$T/bad/docker-archive.tar.gz"
refused "$T/bad/docker-archive.tar.gz" "compressed image archive"
run_nook image import --name 'bad name' "$IMG/oci-archive.tar"
assert_eq 125 "$RC" "a name with a space"
assert_contains "$ERR" "not an image name" "bad name error"
assert_eq untouched "$(cat "$SENT/sentinel")" "sentinel"
ok "bad archives refused with their cause, store unchanged, nothing staged"

run_nook run no-such-image -- true
assert_eq 125 "$RC" "run of an unknown image"
assert_contains "$ERR" "no image 'no-such-image'" "run names the image"
assert_not_contains "$("$NOOK" journal --json)" "prepare_session" "no session was prepared for an unknown image"
ok "an unknown image fails before any session exists"

# two imports of one image at once: both succeed, one copy of each layer
"$NOOK" image rm good >/dev/null && "$NOOK" image prune >/dev/null || fail "emptying the store"
assert_eq "" "$(ls -A "$STORE/layers")" "an empty store before the race"
"$NOOK" image import --quiet --name a "$IMG/docker-archive.tar" >"$T/a" 2>&1 &
pa=$!
"$NOOK" image import --quiet --name b "$IMG/docker-archive.tar" >"$T/b" 2>&1 &
pb=$!
wait $pa || fail "concurrent import a: $(cat "$T/a")"
wait $pb || fail "concurrent import b: $(cat "$T/b")"
assert_eq "$(cat "$T/a")" "$(cat "$T/b")" "both imports give one digest"
assert_eq 3 "$(ls "$STORE/layers" | wc -l)" "one copy of each layer"
assert_eq "" "$(ls -A "$STORE/images/tmp")" "no staging left by racing imports"
ok "two imports of one image at once"

# fuse-overlayfs killed under a running session
run_nook session create --name "f-$$" --rootfs-driver fuse-overlayfs a
echo "f-$$" >>"$T/envs"
if [ "$RC" -ne 0 ]; then
        fail "a fuse-overlayfs session: $ERR"
fi
run_nook exec "f-$$" -- cat /etc/motd
assert_eq "layer3 motd" "$OUT" "reading through fuse-overlayfs"
# S1/S3/S33: the daemon holds the host's mount tree; the workload (same uid) cannot reach
# it: it is not even in the workload's pid namespace (its root, environ and mem would be
# closed anyway: non-dumpable)
run_nook exec "f-$$" -- sh -c 'for p in /proc/[0-9]*; do case "$(tr "\0" " " <$p/cmdline)" in
        fuse-overlayfs*) ls $p/root/ >/dev/null 2>&1 && echo root-open; cat $p/environ >/dev/null 2>&1 && echo environ-open
                head -c1 $p/mem >/dev/null 2>&1 && echo mem-open; echo seen;; esac; done; echo looked'
assert_eq looked "$OUT" "fuse-overlayfs out of the workload's sight"
# this session's daemon: a child of its holder (other tests run sessions meanwhile)
h=$(holder_pid "$(session_ref "f-$$")")
daemon=""
for p in $(tree_of "$h"); do
        case "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" in
        "fuse-overlayfs -f"*) daemon=$p ;;
        esac
done
[ -n "$daemon" ] || fail "no fuse-overlayfs process under the session's holder $h"
kill -9 "$daemon"
sleep 0.2
run_nook exec "f-$$" -- cat /etc/motd
[ "$RC" -ne 0 ] || fail "a read after fuse-overlayfs died must fail"
assert_contains "$ERR$OUT" "not connected" "the process sees ENOTCONN"
run_nook session inspect "f-$$"
assert_contains "$OUT" "fuse-overlayfs died" "session inspect reports the death"
run_nook session rm "f-$$"
assert_eq 0 "$RC" "session rm after fuse-overlayfs died: $ERR"
! alive "$h" || fail "the holder survived session rm"
[ ! -d /proc/"$daemon" ] || fail "fuse-overlayfs is still there"
[ -z "$(ls -A "$(run_dir)" 2>/dev/null | grep "^$(session_ref "f-$$")")" ] || fail "the session dir survived"
ok "fuse-overlayfs killed: the process sees an error, session rm removes everything"

# listing a store nook could never make is an error, not an empty table (issue 14);
# one not made yet (an import would make it) lists no image
mkdir -p "$T/ro" && chmod 500 "$T/ro"
run_nook --storage "$T/ro/store" images
assert_eq 125 "$RC" "images in a data dir that cannot be made"
assert_contains "$ERR" "$T/ro/store cannot hold an image store" "the data dir is named"
assert_contains "$ERR" "--storage" "the way out is named"
run_nook --storage /proc/nook-store image ls --json
assert_eq 125 "$RC" "image ls under /proc"
run_nook --storage "$T/not-yet/store" images --json
assert_eq "0 []" "$RC $OUT" "a store not made yet lists no image"
chmod 700 "$T/ro"
ok "an unusable data dir is said, not listed as empty"
