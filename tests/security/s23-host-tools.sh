#!/bin/sh
# S23 (podman CVE-2022-1227): no nook code runs anything of the image.  The image ships
# its own fuse-overlayfs, newuidmap, newgidmap, slirp4netns, nook helpers and sh under
# every usual name, each a script that leaves a mark (in the root, and at a path of the
# host); sessions with every rootfs driver and identity start, run a command (the image's
# busybox, by absolute path), look a user up, exec and tear down: no mark appears.
. "$NOOK_TEST_LIB/lib.sh"
export XDG_RUNTIME_DIR="$T/run"
mkdir -m 0700 "$XDG_RUNTIME_DIR"
export MARK="$T/host-mark"
python3 - "$T/s23.tar" <<'PY' || fail "building the S23 image"
import os, sys, tempfile
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ["NOOK_SOURCE_ROOT"], "tests", "images"))
from ocilib import *
import forge
mark = os.environ["MARK"]
script = ("#!/bin/busybox sh\necho \"$0 $*\" >>/s23-ran\necho \"$0 $*\" >>%s\nexit 0\n" % mark).encode()
names = ["usr/bin/fuse-overlayfs", "usr/local/bin/fuse-overlayfs", "bin/fuse-overlayfs",
         "usr/bin/newuidmap", "usr/bin/newgidmap", "bin/newuidmap", "bin/newgidmap",
         "usr/bin/slirp4netns", "bin/slirp4netns", "usr/bin/pasta",
         "usr/libexec/nook/nook-holder", "usr/local/libexec/nook/nook-holder",
         "usr/lib/nook/nook-holder", "bin/nook-holder", "usr/bin/nook-holder", "usr/bin/nook",
         "usr/bin/getent", "usr/sbin/nscd", "sbin/modprobe", "usr/sbin/modprobe",
         "bin/mount", "bin/umount", "usr/bin/mount", "usr/bin/umount", "usr/bin/env", "usr/bin/sh"]
entries = [F(n, script, 0o755) for n in names]
# sh and true are busybox applets in the base layer: replaced by marks here
entries += [F("bin/sh", script, 0o755), F("bin/true", script, 0o755)]
entries += [F("etc/nsswitch.conf", b"passwd: evil files\ngroup: evil files\nhosts: evil files\n"),
            F("etc/ld.so.preload", b"/lib/evil.so\n")]
with tempfile.TemporaryDirectory(dir=os.path.dirname(sys.argv[1])) as tmp:
    lay = Layout(tmp)
    lay.index([lay.image([forge.base(lay), lay.put_layer(tar_bytes(entries))])])
    lay.archive(sys.argv[1])
PY
run_nook image import --name s23 "$T/s23.tar"
assert_eq 0 "$RC" "import: $ERR"
if grep -q -E "^($(id -un)|$(id -u)):" /etc/subuid 2>/dev/null; then idents="root keep-id subuid"; else idents="root keep-id"; fi
for driver in overlay fuse-overlayfs copy; do
        for ident in $idents; do
                n="s23-$$-$driver-$ident"
                echo "$n" >>"$T/envs"
                run_nook session create --rootfs-driver "$driver" --userns "$ident" --name "$n" s23
                if [ "$RC" -ne 0 ]; then # not this row's business, but nothing may have run
                        echo "# note: no session with $driver/$ident here: $(echo "$ERR" | head -1)"
                        [ ! -e "$MARK" ] || fail "$driver/$ident: something of the image ran: $(cat "$MARK")"
                        "$NOOK" session rm "$n" >/dev/null 2>&1 || true
                        continue
                fi
                run_nook exec -w / "$n" -- /bin/busybox echo ran
                assert_eq ran "$OUT" "a command in $driver/$ident ($ERR)"
                run_nook exec -w / -u daemon "$n" -- /bin/busybox id -un
                case "$RC" in
                0) assert_eq daemon "$OUT" "-u daemon in $driver/$ident" ;;
                125) assert_contains "$ERR" "not mapped" "-u daemon in $driver/$ident" ;;
                *) fail "-u daemon in $driver/$ident: exit $RC ($ERR)" ;;
                esac
                run_nook exec -w / "$n" -- /bin/busybox cat /s23-ran
                [ "$RC" -ne 0 ] || fail "$driver/$ident: something of the image ran: $OUT"
                # the control: the workload itself runs one of them, and the mark shows
                run_nook exec -w / "$n" -- /bin/true control
                run_nook exec -w / "$n" -- /bin/busybox cat /s23-ran
                assert_eq "/bin/true control" "$OUT" "$driver/$ident: the mark of the control ($ERR)"
                run_nook session rm "$n"
                assert_eq 0 "$RC" "session rm $driver/$ident: $ERR"
                [ ! -e "$MARK" ] || fail "$driver/$ident: something of the image ran on the host side: $(cat "$MARK")"
        done
done
ok "S23: nothing of the image runs, with every driver and identity"
