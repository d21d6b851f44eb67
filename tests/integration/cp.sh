#!/bin/sh
# nook cp, as podman cp: files and directories in and out of a session (into an existing
# directory under their own name, or to a new name), modes and times kept, set-id bits
# dropped, symlinks copied as links, fifos skipped with a note, bad arguments named.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
name="cp-$$"
run_nook run -d --name "$name" --rootfs "$ROOT" sh -c '
        mkdir -p /tmp/tree/sub && echo one >/tmp/tree/a && echo two >/tmp/tree/sub/b &&
        chmod 0751 /tmp/tree/a && chmod 4755 /tmp/tree/sub/b && ln -s a /tmp/tree/link &&
        mkfifo /tmp/tree/fifo && touch -d "2020-01-02 03:04:05" /tmp/tree/a && sleep 600'
assert_eq 0 "$RC" "run -d: $ERR"
echo "$name" >>"$T/envs"
for i in $(seq 50); do
        run_nook exec "$name" test -p /tmp/tree/fifo
        [ "$RC" = 0 ] && break
        sleep 0.1
done
mkdir "$T/host"

run_nook cp "$name:/tmp/tree" "$T/host/"
assert_eq 0 "$RC" "cp out a directory into a directory: $ERR"
assert_contains "$ERR" "1 device nodes, fifos or sockets skipped" "the fifo is said to be skipped"
assert_eq one "$(cat "$T/host/tree/a")" "file"
assert_eq two "$(cat "$T/host/tree/sub/b")" "file in a subdirectory"
assert_eq 751 "$(stat -c %a "$T/host/tree/a")" "mode kept"
assert_eq 755 "$(stat -c %a "$T/host/tree/sub/b")" "set-user-ID dropped"
assert_eq "2020-01-02 03:04:05" "$(date -d "@$(stat -c %Y "$T/host/tree/a")" '+%Y-%m-%d %H:%M:%S')" "mtime kept"
assert_eq a "$(readlink "$T/host/tree/link")" "a symlink is copied as a symlink"
[ ! -e "$T/host/tree/fifo" ] || fail "the fifo was copied"
run_nook cp "$name:/tmp/tree/a" "$T/host/renamed"
assert_eq 0 "$RC" "cp out a file to a new name: $ERR"
assert_eq one "$(cat "$T/host/renamed")" "file to a new name"
echo old >"$T/host/over"
run_nook cp "$name:/tmp/tree/sub/b" "$T/host/over"
assert_eq 0 "$RC" "cp out over an existing file: $ERR"
assert_eq two "$(cat "$T/host/over")" "existing file overwritten"
ok "cp out: directory, file, new name, overwrite; modes, times, links kept; set-id and fifos not"

mkdir -p "$T/src/deep/er" && echo three >"$T/src/deep/er/c" && chmod 0640 "$T/src/deep/er/c"
run_nook cp "$T/src/deep" "$name:/tmp/"
assert_eq 0 "$RC" "cp in a directory into a directory: $ERR"
run_nook exec "$name" sh -c 'cat /tmp/deep/er/c; stat -c %a /tmp/deep/er/c'
assert_eq "three
640" "$OUT" "copied in, mode kept"
run_nook cp "$T/src/deep/er/c" "$name:/tmp/newname"
assert_eq 0 "$RC" "cp in a file to a new name: $ERR"
run_nook exec "$name" cat /tmp/newname
assert_eq three "$OUT" "cp in to a new name"
run_nook cp -a "$T/src/deep/er/c" "$name:/root/"
assert_eq 0 "$RC" "cp -a in: $ERR"
run_nook exec "$name" stat -c %u /root/c
assert_eq 0 "$OUT" "a file of yours copied in with -a is root's inside"
ok "cp in: directory, file to a new name, -a"

# an image root on each driver: a FUSE root (fuse-overlayfs) answers only processes in the
# session's user namespace, which cp joins; with a subordinate range, -a keeps owners both ways
python3 "$NOOK_SOURCE_ROOT/tests/images/mkimage.py" "$T/img" >/dev/null || fail "mkimage.py"
run_nook load -q -i "$T/img/oci-archive.tar"
assert_eq 0 "$RC" "load: $ERR"
me=$(id -un)
if grep -q -E "^($me|$(id -u)):" /etc/subuid 2>/dev/null; then SUBUID=1; else SUBUID=0; fi
for driver in overlay fuse-overlayfs; do
        run_nook run -d --name "$name-$driver" --rootfs-driver "$driver" oci-archive sleep 600
        assert_eq 0 "$RC" "run -d --rootfs-driver $driver: $ERR"
        echo "$name-$driver" >>"$T/envs"
        run_nook cp "$T/src/deep/er/c" "$name-$driver:/tmp/"
        assert_eq 0 "$RC" "cp in, $driver: $ERR"
        run_nook exec "$name-$driver" cat /tmp/c
        assert_eq three "$OUT" "cp in, $driver"
        rm -f "$T/host/owned"
        run_nook cp -a "$name-$driver:/srv/owned-1000" "$T/host/owned"
        assert_eq 0 "$RC" "cp -a out, $driver: $ERR"
        assert_eq "$(tar -xzOf "$T/img/rootfs.tar.gz" srv/owned-1000)" "$(cat "$T/host/owned")" \
                "cp -a out, $driver: content"
        if [ "$SUBUID" = 1 ] && [ "$driver" = fuse-overlayfs ]; then
                base=$(grep -E "^($me|$(id -u)):" /etc/subuid | head -1 | cut -d: -f2)
                assert_eq "$((base + 999))" "$(stat -c %u "$T/host/owned")" "cp -a out: owner 1000 inside is its subordinate id outside"
                run_nook cp -a "$T/host/owned" "$name-$driver:/home/user/back"
                assert_eq 0 "$RC" "cp -a in, into a directory of uid 1000: $ERR"
                run_nook exec "$name-$driver" stat -c %u:%g /home/user/back
                assert_eq 1000:1000 "$OUT" "cp -a in: the owner kept"
        fi
done
ok "cp on image roots (overlay, fuse-overlayfs); -a keeps owners where the session maps them"

run_nook cp "$T/src" "$T/elsewhere"
assert_eq 125 "$RC" "no session named"
assert_contains "$ERR" "SESSION:PATH" "no session named: message"
run_nook cp "$name:/a" "$name:/b"
assert_eq 125 "$RC" "two sessions"
run_nook cp "no-such-$$:/etc/passwd" "$T/x"
assert_eq 125 "$RC" "unknown session"
assert_contains "$ERR" "no-such-$$" "unknown session named"
run_nook cp "$name:/nonexistent" "$T/x"
assert_eq 125 "$RC" "missing source"
assert_contains "$ERR" "/nonexistent" "missing source named"
run_nook cp "$name:/tmp/tree/a" "$T/no/such/dir/x"
assert_eq 125 "$RC" "missing destination parent"
run_nook cp --help
assert_eq 0 "$RC" "cp --help"
assert_contains "$OUT" "SESSION:SRC" "cp --help"
ok "cp errors and help"
