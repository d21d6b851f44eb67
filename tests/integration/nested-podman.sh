#!/bin/sh
# nook inside rootless podman (docs/nested.md), offline: an image made here from the
# installed nook, the libraries it links and a busybox root for the inner session
# (podman import: nothing is pulled), in a podman store of this test's own.  With
# --security-opt seccomp=unconfined the inner session runs, in namespaces of its own;
# under podman's default profile nook fails with the step that was denied, never runs
# the command some other way.  Skips only where podman is not installed (a bench peer:
# tests/expected-skips).  The flags are docs/nested.md's.
. "$NOOK_TEST_LIB/lib.sh"
. "$NOOK_TEST_LIB/install.sh"
command -v podman >/dev/null 2>&1 || skip "podman is not installed (./dev bench installs it as a peer)"
unset NOOK_HELPERS_DIR
install_to "$T/dest"

# the image's tree: nook at /opt/nook, every library it and its helpers link, busybox,
# and the inner session's root at /r
I=$T/image
mkdir -p "$I/opt" "$I/proc" "$I/dev" "$I/sys" "$I/tmp" "$I/etc" "$I/root" "$I/bin"
mv "$INSTALLED" "$I/opt/nook"
for f in "$I/opt/nook/bin/nook" "$I/opt/nook/libexec/nook/"*; do
        ldd "$f" 2>/dev/null || true # the static helpers have no libraries
done | grep -o '/[^ ]*' | sort -u >"$T/libs"
[ -s "$T/libs" ] || fail "ldd named no library of nook"
while read -r l; do
        mkdir -p "$I$(dirname "$l")"
        cp -L "$l" "$I$l"
done <"$T/libs"
cp /bin/busybox "$I/bin/busybox"
for a in sh echo readlink cat id; do ln -s busybox "$I/bin/$a"; done
echo "root:x:0:0:root:/root:/bin/sh" >"$I/etc/passwd"
echo "root:x:0:" >"$I/etc/group"
mk_rootfs "$I/r"
tar --owner=0 --group=0 -C "$I" -cf "$T/image.tar" .

# podman of this test alone: its own store, run and config dirs, no events, no systemd
mkdir -p "$T/podtmp" "$T/xdg" "$T/home"
chmod 700 "$T/xdg"
pod() {
        HOME=$T/home XDG_RUNTIME_DIR=$T/xdg podman --root "$T/store" --runroot "$T/runroot" --tmpdir "$T/podtmp" \
                --storage-driver vfs --cgroup-manager cgroupfs --events-backend none "$@"
}
# rootless podman leaves a "podman pause" process holding its user namespace; this
# test's (its pid in our --tmpdir) ends with the test, before lib.sh's own clean-up
stop_pause() {
        p=$(cat "$T/podtmp/pause.pid" 2>/dev/null) || return 0
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "podman pause" ] && kill "$p" 2>/dev/null
        return 0
}
trap >"$T/traps" # not in $(...): a subshell has no traps to print (dash)
lib_trap=$(sed -n "s/^trap -- '\(.*\)' EXIT\$/\1/p" "$T/traps")
[ -n "$lib_trap" ] || fail "lib.sh's EXIT trap could not be read"
trap "stop_pause; $lib_trap" EXIT
pod import "$T/image.tar" localhost/nook-nested:test >/dev/null 2>"$T/import.err" ||
        fail "podman import: $(cat "$T/import.err")"
# the outer container's namespaces, then the inner session's
NSES="user mnt pid uts ipc net cgroup"
SCRIPT="for n in $NSES; do echo \"outer \$n \$(readlink /proc/self/ns/\$n)\"; done
exec /opt/nook/bin/nook run --network none --rootfs /r -- /bin/sh -c 'echo inner; for n in $NSES; do echo \"inner \$n \$(readlink /proc/self/ns/\$n)\"; done'"
in_podman() { # PODMAN-RUN-OPTIONS...
        set +e
        # ASAN_OPTIONS: an ASan build's LeakSanitizer stops the world with ptrace(2), which
        # podman's default profile may deny; its fatal error would replace nook's exit code
        pod run --rm --network none -e ASAN_OPTIONS=detect_leaks=0 "$@" localhost/nook-nested:test \
                /bin/sh -c "$SCRIPT" >"$T/out" 2>"$T/err"
        RC=$?
        set -e
        OUT=$(cat "$T/out")
        ERR=$(grep -v 'is not a shared mount' "$T/err" || true)
}

in_podman --security-opt seccomp=unconfined
assert_eq 0 "$RC" "nook in rootless podman with seccomp=unconfined ($ERR)"
printf '%s\n' "$OUT" | grep -qx inner || fail "no 'inner' line: $OUT"
for n in $NSES; do
        o=$(printf '%s\n' "$OUT" | sed -n "s/^outer $n //p")
        i=$(printf '%s\n' "$OUT" | sed -n "s/^inner $n //p")
        case "$o" in "$n:["*"]") ;; *) fail "the container's $n namespace: '$o'" ;; esac
        case "$i" in "$n:["*"]") ;; *) fail "the inner session's $n namespace: '$i'" ;; esac
        [ "$i" != "$o" ] || fail "the inner $n namespace is the container's ($i)"
done
ok "podman run --security-opt seccomp=unconfined: nook runs 'inner' in namespaces of its own"

in_podman --security-opt seccomp=unconfined --security-opt unmask=ALL
assert_eq 0 "$RC" "with unmask=ALL too ($ERR)"
printf '%s\n' "$OUT" | grep -qx inner || fail "no 'inner' line with unmask=ALL: $OUT"
ok "podman run --security-opt seccomp=unconfined --security-opt unmask=ALL: runs"

# podman's default profile allows sethostname(2) only with CAP_SYS_ADMIN in the
# container's bounding set: with it (in the container's own user namespace), the
# profile can stay
in_podman --cap-add SYS_ADMIN
assert_eq 0 "$RC" "with --cap-add SYS_ADMIN under podman's profile ($ERR)"
printf '%s\n' "$OUT" | grep -qx inner || fail "no 'inner' line with --cap-add SYS_ADMIN: $OUT"
ok "podman run --cap-add SYS_ADMIN (podman's seccomp profile kept): runs"

# without either, the session stops at sethostname, said as such
in_podman
assert_eq 125 "$RC" "nook under podman's default seccomp profile"
assert_contains "$ERR" "setting the hostname: Operation not permitted" "the denied step"
assert_contains "$ERR" "nook runs under a seccomp filter" "the hint"
assert_contains "$ERR" "--security-opt seccomp=unconfined (podman: or --cap-add SYS_ADMIN)" "the switches in the hint"
assert_not_contains "$OUT" "inner" "the inner command under the default profile"
ok "podman's default profile: nook fails with exit 125 and the denied step"
