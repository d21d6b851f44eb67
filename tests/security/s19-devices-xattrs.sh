#!/bin/sh
# S19 (umoci rootless notes): layers never create device nodes (character and block
# devices and sockets are recorded as skipped, named in inspect), fifos are created; from
# the tar's xattrs only user.* survive, never trusted.*, security.* (a file capability
# included), nor the names that steer overlayfs and fuse-overlayfs (user.overlay.*,
# user.containers.*): a forged user.containers.override_stat of 0:0:4777 neither is
# stored nor makes a setuid file in the sandbox; user.ok is kept.
. "$NOOK_TEST_LIB/lib.sh"
. "$NOOK_TEST_LIB/image-attack.sh"

python3 "$IMAGES/forge.py" s19-devices-xattrs "$T/forged" --sentinel "$SENT" >/dev/null || fail "forge.py"

accepted "$T/forged/s19-devices-xattrs.tar" devices
run_nook image inspect devices
top=$(echo "$OUT" | json_query 'j["layers"][-1]')
assert_eq 2 "$(echo "$top" | json_query 'j["skipped"]')" "skipped entries of the hostile layer"
assert_contains "$(echo "$top" | json_query 'j["skipped_names"]')" "dev/mem2" "skipped names"
assert_contains "$(echo "$top" | json_query 'j["skipped_names"]')" "dev/sda9" "skipped names"
dropped=$(echo "$top" | json_query 'j["xattrs_dropped"]')
[ "$dropped" -ge 4 ] || fail "xattrs dropped: $dropped (security.capability, security.evil, user.overlay.opaque, user.containers.override_stat at least)"
[ ! -e "$L/dev/mem2" ] && [ ! -e "$L/dev/sda9" ] || fail "a device entry exists in the layer"
assert_eq "" "$(find "$STORE" -type b)" "block devices in the store"
# character devices: only overlayfs whiteouts (0:0), and this image has none
assert_eq "" "$(find "$STORE" -type c ! -exec sh -c 'test "$(stat -c %t:%T "$1")" = 0:0' _ {} \; -print)" \
        "character devices other than whiteouts in the store"
[ -p "$L/srv/pipe" ] || fail "the fifo srv/pipe was not created"
ok "S19: no device node created (skipped and named), the fifo created"

# The xattrs on disk, as the store keeps them ("-" when absent).
xattrs() {
        python3 - "$L" <<'PY'
import os, sys
L = sys.argv[1]
def get(path, name):
    try:
        return os.getxattr(os.path.join(L, path), name, follow_symlinks=False).decode(errors="replace")
    except OSError:
        return "-"
for path, name in [("srv/xattr-evil", "security.capability"), ("srv/xattr-evil", "security.evil"),
                   ("srv/xattr-evil", "trusted.overlay.opaque"), ("srv/forged-opaque", "user.overlay.opaque"),
                   ("srv/forged-stat", "user.containers.override_stat"), ("srv/ok-xattr", "user.ok")]:
    print(path, name, get(path, name))
names = set()
for top, dirs, files in os.walk(L):
    for n in dirs + files:
        names.update(os.listxattr(os.path.join(top, n), follow_symlinks=False))
print("names:", " ".join(sorted(names)))
PY
}
got=$(xattrs)
assert_eq "srv/xattr-evil security.capability -
srv/xattr-evil security.evil -
srv/xattr-evil trusted.overlay.opaque -
srv/forged-opaque user.overlay.opaque -
srv/forged-stat user.containers.override_stat 0:0:0644
srv/ok-xattr user.ok fine
names: user.containers.override_stat user.ok" "$got" "xattrs stored in the layer"
ok "S19: trusted.*, security.*, user.overlay.*, user.containers.* from the tar dropped, user.ok kept"

run_nook run -w / devices -- sh -c 'stat -c "%a %n" /srv/forged-stat /srv/xattr-evil; test -p /srv/pipe && echo fifo
test -e /dev/mem2 || echo no-mem2; test -e /dev/sda9 || echo no-sda9; ls -A /srv/forged-opaque | wc -l
cat /srv/ok-xattr /srv/forged-stat; test -u /srv/forged-stat || echo not-setuid'
assert_eq 0 "$RC" "run: $ERR"
assert_eq "644 /srv/forged-stat
644 /srv/xattr-evil
fifo
no-mem2
no-sda9
0
x
x
not-setuid" "$OUT" "inside the sandbox"
assert_eq "$SENT0" "$(sentinel_state)" "the sentinel dir"
ok "S19: inside, the forged stat gives no setuid bit and no device node exists"
