#!/bin/sh
# Images: the four kinds of source import to the same layers; owners are exact under the
# subuid identity and collapse (with exact modes) without one; whiteouts and opaque
# directories hide lower files; writes land in the session's upper dir and never in
# layers/; two sessions of one image do not see each other's writes; a read-only root
# stays read-only; the image's Env, Cmd, WorkingDir and User apply; every driver gives
# the same tree; an image in use cannot be removed; rm and prune leave an empty store.
. "$NOOK_TEST_LIB/lib.sh"
IMG="$T/img"
python3 "$NOOK_SOURCE_ROOT/tests/images/mkimage.py" "$IMG" >/dev/null || fail "mkimage.py"
python3 "$NOOK_SOURCE_ROOT/tests/images/mkimage.py" "$T/img-user" --user 1000:1000 --name nook-user >/dev/null ||
        fail "mkimage.py --user"
STORE="$XDG_DATA_HOME/nook"
manifest=$(json_query 'j["manifest"]' <"$IMG/digests.json")
me=$(id -un)
if grep -q -E "^($me|$(id -u)):" /etc/subuid 2>/dev/null; then SUBUID=1; else SUBUID=0; fi

# ---- import: four sources ----
run_nook image import --name t-oci "$IMG/oci-archive.tar"
assert_eq 0 "$RC" "import oci-archive: $ERR"
assert_eq "t-oci:latest $manifest" "$OUT" "oci-archive: name and manifest digest"
run_nook image import --quiet --name t-layout "$IMG/layout:latest"
assert_eq 0 "$RC" "import layout:tag: $ERR"
assert_eq "$manifest" "$OUT" "layout dir: the same manifest digest"
run_nook image import --json "$IMG/docker-archive.tar"
assert_eq 0 "$RC" "import docker-archive: $ERR"
assert_eq "localhost/nook-test:latest" "$(echo "$OUT" | json_query 'j["name"]')" "docker-archive name from RepoTags"
assert_eq 3 "$(echo "$OUT" | json_query 'j["layers"]')" "docker-archive layers"
run_nook image import --name t-rootfs "$IMG/rootfs.tar.gz"
assert_eq 0 "$RC" "import rootfs tarball: $ERR"
for l in $(json_query '" ".join(x[7:] for x in j["layers"])' <"$IMG/digests.json"); do
        [ -d "$STORE/layers/$l/diff" ] || fail "layer $l of the manifest is not in the store"
done
[ -z "$(ls -A "$STORE/images/tmp")" ] || fail "staging dirs left after imports: $(ls "$STORE/images/tmp")"
run_nook images --json
assert_eq 3 "$(echo "$OUT" | json_query 'len(j)')" "three distinct images (oci = layout)"
run_nook image inspect t-oci
assert_eq 0 "$RC" "inspect"
assert_eq 1 "$(echo "$OUT" | json_query 'sum(l.get("skipped", 0) for l in j["layers"])')" "device entry skipped"
assert_contains "$OUT" "/dev/evil-null" "skipped entry named"
foreign=$(echo "$OUT" | json_query 'j["ownership"]["foreign_owners"]')
[ "$foreign" -ge 8 ] || fail "foreign owners counted: $foreign"
assert_contains "$(echo "$OUT" | json_query 'j["config"]["Env"]')" "NOOK_IMAGE_ENV=from-image" "config in inspect"
[ -z "$(find "$STORE" ! -user "$(id -u)" | head -1)" ] || fail "a stored file is not the user's own"
ok "imports: oci-archive, layout:tag, docker-archive, rootfs tarball; layers shared, store all ours"

# ---- the tree through every driver ----
probe='stat -c "%U:%G %a %n" /etc/shadow /usr/bin/passwd /var/mail /srv/dir-2750 /tmp /readonly /srv/owned-1000
ls /etc/removed-later 2>&1 | grep -c "No such file"
ls /opt/opaque | tr "\n" " "; echo
cat /bin/hardlink-to-motd /etc/motd; readlink /srv/link-to-shadow; cat /srv/layer3
test -p /srv/fifo && echo fifo; test -e /dev/evil-null || echo no-device'
for driver in auto overlay fuse-overlayfs copy; do
        run_nook run --rootfs-driver "$driver" t-oci -- sh -c "$probe"
        assert_eq 0 "$RC" "run with $driver: $ERR"
        if [ "$SUBUID" = 1 ] && { [ "$driver" = auto ] || [ "$driver" = fuse-overlayfs ]; }; then
                owners="root:shadow root:root root:mail root:shadow root:root root:root user:user"
        else
                owners="root:root root:root root:root root:root root:root root:root root:root"
        fi
        assert_eq "$owners" "$(echo "$OUT" | sed -n 1,7p | cut -d' ' -f1 | tr '\n' ' ' | sed 's/ $//')" \
                "owners with $driver (subuid=$SUBUID)"
        assert_eq "640 4755 2775 2750 1777 555 644" "$(echo "$OUT" | sed -n 1,7p | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//')" \
                "modes with $driver"
        assert_eq "1
c 
layer2 motd
layer3 motd
/etc/shadow
3
fifo
no-device" "$(echo "$OUT" | sed -n '8,$p')" "whiteout, opaque dir, hardlink, symlink, layers in order ($driver)"
done
ok "every driver: exact modes, owners exact under subuid (auto, fuse-overlayfs) and collapsed otherwise"

# ---- the image's config ----
run_nook run t-oci
assert_eq 0 "$RC" "the image's Cmd: $ERR"
assert_eq hello-from-cmd "$OUT" "Cmd ran"
run_nook run -e NOOK_IMAGE_ENV=mine t-oci -- sh -c 'pwd; echo $NOOK_IMAGE_ENV; echo $PATH'
assert_eq "/srv/work
mine
/usr/sbin:/usr/bin:/sbin:/bin" "$OUT" "WorkingDir, -e over the image's Env, the image's PATH"
run_nook run -w / t-oci -- pwd
assert_eq / "$OUT" "-w over WorkingDir"
run_nook image import --name t-user "$T/img-user/oci-archive.tar"
assert_eq 0 "$RC" "import the image with User"
run_nook run t-user -- id -u
if [ "$SUBUID" = 1 ]; then
        assert_eq "0 1000" "$RC $OUT" "User 1000 of the image applied"
else
        assert_eq 125 "$RC" "User 1000 cannot be mapped without a subuid range"
        assert_contains "$ERR" "not mapped" "the error says why"
fi
ok "image config: Cmd, Env, WorkingDir, User"

# ---- the contract's way: resolve_image, prepare_rootfs on the image, start_process ----
run_nook_in '{"image":{"image_ref":"t-layout"}}' call resolve_image
assert_eq 0 "$RC" "resolve_image: $OUT"
ref=$(echo "$OUT" | json_query 'j["image_ref"]')
assert_eq "$manifest" "$ref" "resolve_image gives the manifest digest"
assert_eq '["/bin/sh", "-c", "echo hello-from-cmd"]' "$(echo "$OUT" | json_query 'j["nook"]["cmd"]')" "ext cmd"
SENV="{\"environment_id\":\"$EID-c\",\"spec\":{\"io_policy\":{\"stdout\":{\"default_capture\":\"raw_content_if_policy_allows\"}}}}"
echo "$EID-c" >>"$T/envs"
call_ok prepare_session "{\"environment\":$SENV}"
call_ok prepare_rootfs "{\"rootfs\":{\"rootfs_ref\":\"$ref\",\"read_only\":false},\"environment_id\":\"$EID-c\",\"nook\":{\"driver\":\"overlay\"}}"
call_ok prepare_environment "{\"environment\":$SENV}"
run_in '["sh","-c","pwd; echo $NOOK_IMAGE_ENV; cat /etc/motd"]'
assert_eq "/srv/work
from-image
layer3 motd" "$STDOUT" "start_process applies WorkingDir and Env of the image"
session_down "$EID-c"
run_nook_in "{\"rootfs\":{\"rootfs_ref\":\"t-layout\"},\"environment_id\":\"$EID-c\",\"nook\":{\"driver\":\"zfs\"}}" call prepare_rootfs
assert_eq 125 "$RC" "prepare_rootfs without a session, or with an unknown driver"
ok "the contract's way: resolve_image, prepare_rootfs on an image, start_process with its config"

# ---- writes: the upper dir, never the layers; sessions apart; read-only ----
run_nook session create --name "w1-$$" t-oci
assert_eq 0 "$RC" "session create IMAGE: $ERR"
echo "w1-$$" >>"$T/envs"
run_nook session create --name "w2-$$" t-oci
echo "w2-$$" >>"$T/envs"
run_nook exec "w1-$$" -- sh -c 'echo one > /etc/written; rm /etc/motd; chmod 600 /etc/passwd'
assert_eq 0 "$RC" "write in session 1: $ERR"
run_nook session inspect --json "w1-$$"
upper=$(echo "$OUT" | json_query 'j["writable_layer"]')
if [ "$SUBUID" = 1 ]; then
        assert_eq "fuse-overlayfs" "$(echo "$OUT" | json_query 'j["rootfs_driver"]')" "auto under subuid"
        assert_contains "$(echo "$OUT" | json_query 'j["rootfs_driver_reason"]')" "owners exactly" "the reason"
        assert_eq 0 "$(echo "$OUT" | json_query 'j["owners_collapsed"]')" "no owner collapses"
else
        assert_eq "overlay" "$(echo "$OUT" | json_query 'j["rootfs_driver"]')" "auto with one id"
        assert_contains "$(echo "$OUT" | json_query 'j["rootfs_driver_reason"]')" "one id mapped" "the reason"
        [ "$(echo "$OUT" | json_query 'j["owners_collapsed"]')" -ge 8 ] || fail "collapsed owners are counted"
fi
assert_eq one "$(cat "$upper/upper/etc/written")" "the write is in the session's upper dir"
[ -z "$(find "$STORE/layers" -name written)" ] || fail "a write reached layers/"
assert_eq "layer3 motd" "$(cat "$STORE/layers/$(json_query 'j["layers"][2][7:]' <"$IMG/digests.json")/diff/etc/motd")" \
        "a removed file is still in its layer"
run_nook exec "w2-$$" -- sh -c 'cat /etc/written 2>&1; cat /etc/motd; stat -c %a /etc/passwd'
assert_contains "$OUT" "No such file" "session 2 does not see session 1's new file"
assert_contains "$OUT" "layer3 motd" "session 2 still has the file session 1 removed"
assert_contains "$OUT" "644" "session 2 keeps the mode session 1 changed"
run_nook image rm t-oci
assert_eq 0 "$RC" "rm of one of two names only untags"
run_nook image rm t-layout
assert_eq 125 "$RC" "rm of the last name of an image in use"
assert_contains "$ERR" "in use by session" "the error names the session"
run_nook session rm "w1-$$" "w2-$$"
assert_eq 0 "$RC" "session rm: $ERR"
[ ! -e "$upper" ] || fail "the upper dir survived cleanup"
run_nook run --read-only t-layout -- touch /x
assert_eq 1 "$RC" "touch in a read-only root fails"
assert_contains "$ERR$OUT" "Read-only" "read-only root"
ok "writes land in the upper dir only; sessions apart; read-only root; rm refused in use"

# ---- subordinate-owned files in a kernel-overlay upper dir still go with the session ----
if [ "$SUBUID" = 1 ]; then
        run_nook session create --name "o-$$" --rootfs-driver overlay t-layout
        echo "o-$$" >>"$T/envs"
        assert_eq 0 "$RC" "an overlay session under subuid: $ERR"
        run_nook session inspect --json "o-$$"
        upper=$(echo "$OUT" | json_query 'j["writable_layer"]')
        run_nook exec "o-$$" -- sh -c 'mkdir -p /sub/dir && touch /sub/dir/f && chown -R 42:42 /sub && chmod 700 /sub'
        assert_eq 0 "$RC" "chown inside: $ERR"
        [ "$(stat -c %u "$upper/upper/sub")" != "$(id -u)" ] || fail "the chown did not reach the disk as a subordinate id"
        run_nook session rm "o-$$"
        assert_eq 0 "$RC" "session rm with subordinate-owned files: $ERR"
        [ ! -e "$upper" ] || fail "the upper dir with subordinate-owned files survived"
        ok "subordinate-owned files of a kernel-overlay upper dir are removed with the session"
fi

# ---- a persistent writable layer ----
run_nook run --keep-upper "keep$$" t-layout -- sh -c 'echo kept > /kept'
assert_eq 0 "$RC" "--keep-upper: $ERR"
run_nook run --keep-upper "keep$$" t-layout -- cat /kept
assert_eq kept "$OUT" "the named writable layer came back"
ok "--keep-upper keeps a named writable layer"

# a throwaway writable layer is not synced at unmount (overlayfs "volatile"); a kept one is
run_nook run --rootfs-driver overlay t-layout -- cat /proc/self/mountinfo
assert_eq 0 "$RC" "overlay run: $ERR"
assert_contains "$(echo "$OUT" | grep ' / / ')" "volatile" "a throwaway layer is volatile"
run_nook run --rootfs-driver overlay --keep-upper "keep$$" t-layout -- cat /proc/self/mountinfo
assert_eq 0 "$RC" "overlay run, kept layer: $ERR"
assert_not_contains "$(echo "$OUT" | grep ' / / ')" "volatile" "a kept layer is synced"
ok "throwaway writable layers skip the sync at unmount, kept ones do not"

# ---- 101 layers: more than mount(2)'s page of options holds ----
python3 - "$T/many" <<'PY' || fail "building a 101-layer image"
import os, sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ["NOOK_SOURCE_ROOT"], "tests", "images"))
from ocilib import *
lay = Layout(sys.argv[1])
layers = [lay.put_layer(tar_bytes(layer1()), "gzip")]
layers += [lay.put_layer(tar_bytes([D("srv"), F("srv/l%03d" % i, b"%d\n" % i)])) for i in range(100)]
lay.index([lay.image(layers)])
lay.archive(sys.argv[1] + ".tar")
PY
run_nook image import --name many "$T/many.tar"
assert_eq 0 "$RC" "import of 101 layers: $ERR"
for driver in overlay fuse-overlayfs; do
        run_nook run --rootfs-driver "$driver" many -- sh -c 'ls /srv | grep -c "^l"; cat /srv/l000 /srv/l099'
        assert_eq "0 100
0
99" "$RC $OUT" "101 layers through $driver"
done
run_nook image rm many
ok "101 layers: overlayfs through the new mount API, fuse-overlayfs through its argument"

# ---- removal ----
run_nook image rm t-layout t-rootfs localhost/nook-test t-user
assert_eq 0 "$RC" "rm all: $ERR"
run_nook image prune
assert_eq 0 "$RC" "prune"
assert_eq "" "$(ls -A "$STORE/layers")" "no layer left"
assert_eq "" "$(ls -A "$STORE/images/blobs/sha256")" "no blob left"
run_nook images --json
assert_eq "[]" "$OUT" "empty store"
rm -rf "$STORE" || fail "the store cannot be removed with rm -rf"
ok "rm and prune empty the store; rm -rf works on it"
