#!/bin/sh
# S24 (BuildKit CVE-2024-23652): teardown never follows what the workload planted.  In a
# session of an image (overlay, fuse-overlayfs and copy drivers), the workload fills its
# writable layer with symlinks to a sentinel dir of the host (world-readable), to its
# files, with names teardown itself uses (upper, work, rootfs), deep in trees,
# inside closed (000) and read-only (555) dirs, with hard links, fifos, whiteouts and
# opaque dirs; `nook session rm` must remove the session dir and the writable layer whole
# and leave the sentinel dir byte-identical (names, modes, link counts, times, bytes).
# (No link points at / itself: were teardown to follow links, this test would remove the
# test user's files far beyond the sentinel.)
# Then: a workload that gives its files to another id of its subuid range (kernel
# overlayfs) must not keep its writable layer from going.
. "$NOOK_TEST_LIB/lib.sh"
. "$NOOK_TEST_LIB/image-attack.sh"

export XDG_RUNTIME_DIR="$T/run"
mkdir -m 0700 "$XDG_RUNTIME_DIR"
mkdir -p "$SENT/sub"
echo two >"$SENT/sub/file2"
echo secret >"$SENT/private"
chmod 0600 "$SENT/private"
chmod 0755 "$SENT/sub" "$T"
SENT0=$(sentinel_state)
python3 "$IMAGES/mkimage.py" "$T/img" >/dev/null || fail "mkimage.py"
run_nook image import --name img "$T/img/oci-archive.tar"
assert_eq 0 "$RC" "import: $ERR"

plant='set -e
ln -s "$S" /victim
ln -s "$S/sentinel" /victim-file
ln -s "$S/sub" /victim-sub
ln -s "$S" /upper
ln -s "$S" /work
ln -s "$S" /rootfs
ln -s "$S" /tmp/victim
mkdir -p /deep/a/b/c
ln -s "$S" /deep/a/b/c/link
ln -s ../../../../../../../../../../../../../../../../../..$S /deep/a/b/up-victim
mkdir /closed
ln -s "$S" /closed/link
echo x >/closed/file
chmod 000 /closed
mkdir /readonly-dir
ln -s "$S" /readonly-dir/link
chmod 555 /readonly-dir
echo f >/f
ln /f /f-hard
ln /etc/motd /motd-hard
mkfifo /fifo
chmod 000 /f
rm /etc/passwd
rm -rf /srv
rm -rf /opt/opaque
mkdir /opt/opaque
ln -s "$S" /opt/opaque/link
echo planted'

for driver in overlay fuse-overlayfs copy; do
        n="s24-$$-$driver"
        echo "$n" >>"$T/envs"
        run_nook run -d --rootfs-driver "$driver" --name "$n" img sleep 1000
        assert_eq 0 "$RC" "session with $driver: $ERR"
        run_nook session inspect "$n" --json
        assert_eq 0 "$RC" "session inspect: $ERR"
        WL=$(echo "$OUT" | json_query 'j["writable_layer"]')
        ref=$(echo "$OUT" | json_query 'j["ref"]')
        [ -d "$WL" ] || fail "$driver: no writable layer dir $WL"
        run_nook exec "$n" -- env S="$SENT" sh -c "$plant"
        assert_eq 0 "$RC" "$driver: planting: $OUT $ERR"
        assert_eq planted "$OUT" "$driver: planting"
        if [ "$driver" != copy ]; then
                # the plants are in the writable layer on the host, where teardown works
                [ -L "$WL/upper/victim" ] || fail "$driver: the planted symlink is not in $WL/upper"
                assert_eq "$SENT" "$(readlink "$WL/upper/victim")" "$driver: the planted symlink's target"
                [ -d "$WL/upper/closed" ] || fail "$driver: the closed dir is not in $WL/upper"
        fi
        assert_eq "$SENT0" "$(sentinel_state)" "$driver: the sentinel dir before teardown"
        run_nook session rm "$n"
        assert_eq 0 "$RC" "$driver: session rm: $OUT $ERR"
        assert_eq "$SENT0" "$(sentinel_state)" "$driver: the sentinel dir after teardown"
        [ ! -e "$WL" ] || fail "$driver: the writable layer $WL survived: $(ls -la "$WL")"
        [ ! -e "$XDG_RUNTIME_DIR/nook/$ref" ] || fail "$driver: the session dir survived"
        assert_eq "" "$(holders_of "$ref")" "$driver: holders left"
        ok "S24: $driver: teardown removed the planted links, the sentinel dir untouched"
done
# the image's layers are untouched too: a second session sees them as imported
run_nook run -w / img -- sh -c 'cat /etc/motd; test -e /victim || echo clean'
assert_eq "layer3 motd
clean" "$OUT" "a new session after teardown ($ERR)"

# files given to another id of the subuid range (kernel overlayfs keeps the owners on
# disk): the writable layer still goes
if grep -q -E "^($(id -un)|$(id -u)):" /etc/subuid 2>/dev/null; then
        n="s24-$$-chown"
        echo "$n" >>"$T/envs"
        run_nook run -d --rootfs-driver overlay --userns subuid --name "$n" img sleep 1000
        assert_eq 0 "$RC" "subuid session: $ERR"
        WL=$("$NOOK" session inspect "$n" --json | json_query 'j["writable_layer"]')
        run_nook exec "$n" -- sh -c 'set -e; mkdir -p /given/sub; echo x >/given/sub/f; ln -s "$0" /given/link
                chown -R 1000:1000 /given; chmod 700 /given/sub /given; mkdir /closed; chown 65534 /closed; chmod 0 /closed
                echo planted' "$SENT"
        assert_eq planted "$OUT" "chown planting ($ERR)"
        ref=$(session_ref "$n")
        run_nook session rm "$n"
        assert_eq "$SENT0" "$(sentinel_state)" "the sentinel dir after teardown"
        if [ "$RC" -ne 0 ] || [ -e "$WL" ]; then
                left=$([ -e "$WL" ] && echo survived || echo went)
                # what is left is not ours alone to remove: in our own user namespace, it is
                unshare --map-auto --map-root-user rm -rf "$XDG_RUNTIME_DIR/nook/$ref" "$WL" 2>/dev/null || true
                fail "after the workload gave its files to other ids, session rm exits $RC ($ERR) and the writable layer $left"
        fi
        ok "S24: files given to other ids of the range do not keep the writable layer"
fi
