#!/bin/sh
# Nested hosts' two directory traps (issue 14, section 5), detected by `nook caps` and
# answered with a fix that works: a data dir (the image store) on a filesystem without
# user xattrs (here a ramfs, which never keeps them; NFS and old tmpfs are the same),
# and a run dir on FUSE (a rootless container's fuse-overlayfs root; here one mounted
# by this test).  Both are made inside `unshare -rm`, where this user may mount them.
. "$NOOK_TEST_LIB/lib.sh"

unshare -rm true 2>/dev/null || skip "unshare -rm does not work for this user here"
fix_of() { # TITLE < human output: the fix line of that finding
        grep -A1 "^[^ ]* $1  " | sed -n 's/^    fix: //p'
}

# 1. The store on a ramfs.
mk_rootfs "$T/r0"
tar -C "$T/r0" -cf "$T/root.tar" .
mkdir "$T/ram"
cat >"$T/ram.sh" <<EOS
set -e
mount -t ramfs none "$T/ram"
NOOK_STORAGE="$T/ram/store" "$NOOK" caps >"$T/ram.txt" 2>&1
NOOK_STORAGE="$T/ram/store" "$NOOK" caps --json >"$T/ram.json"
set +e
NOOK_STORAGE="$T/ram/store" "$NOOK" image import --name ram-t "$T/root.tar" >"$T/import.out" 2>&1
echo \$? >"$T/import.rc"
EOS
unshare -rm sh "$T/ram.sh"
ok_=$(json_query '[f["ok"] for f in j["findings"] if f["name"]=="data_dir_user_xattr"][0]' <"$T/ram.json")
assert_eq false "$ok_" "data_dir_user_xattr with the store on a ramfs"
health=$(json_query 'list(j["health"])[0] if isinstance(j["health"], dict) else j["health"]' <"$T/ram.json")
[ "$health" != healthy ] || fail "health is healthy with a store that keeps no user xattrs"
line=$(grep -A1 '^[^ ]* user xattrs in the data dir' "$T/ram.txt")
assert_contains "$line" "$T/ram" "the finding names the real path"
assert_contains "$line" "EOPNOTSUPP" "the finding says what the filesystem answered"
fix=$(fix_of "user xattrs in the data dir (the image store)" <"$T/ram.txt")
assert_contains "$fix" "export NOOK_STORAGE=/" "the fix sets NOOK_STORAGE to a real path"
alt=$(printf '%s\n' "$fix" | sed -n 's/^export NOOK_STORAGE=\([^ ]*\) .*/\1/p')
# it is true: the import fails there, and succeeds in the store the fix names (a fresh
# dir next to it stands in for it, not to fill the user's own store)
assert_eq 125 "$(cat "$T/import.rc")" "image import into the ramfs store: $(cat "$T/import.out")"
assert_contains "$(cat "$T/import.out")" "user xattrs" "the import's error"
[ -n "$alt" ] || fail "no path in the fix: $fix"
run_nook image import --name ram-t "$T/root.tar"
assert_eq 0 "$RC" "image import into a store on $(stat -f -c %T "$XDG_DATA_HOME" 2>/dev/null || echo disk): $ERR"
ok "a store without user xattrs: detected, fix $fix"

mk_rootfs "$ROOT"

# 2. The run dir on FUSE (fuse-overlayfs, as a rootless container's root).
command -v fuse-overlayfs >/dev/null || fail "fuse-overlayfs is not installed (./dev setup installs it)"
mkdir "$T/l" "$T/u" "$T/wk" "$T/m"
cat >"$T/fuse.sh" <<EOS
set -e
fuse-overlayfs -o lowerdir="$T/l",upperdir="$T/u",workdir="$T/wk" "$T/m" 2>/dev/null
stat -f -c %T "$T/m" >"$T/fs"
set +e
NOOK_RUNTIME_DIR="$T/m/run" "$NOOK" caps >"$T/fuse.txt" 2>&1
NOOK_RUNTIME_DIR="$T/m/run" "$NOOK" caps --json >"$T/fuse.json"
fusermount3 -u "$T/m" 2>/dev/null || umount "$T/m"
EOS
unshare -rm sh "$T/fuse.sh"
assert_contains "$(cat "$T/fs")" "fuse" "the mount is FUSE"
ok_=$(json_query '[f["ok"] for f in j["findings"] if f["name"]=="run_dir_not_fuse"][0]' <"$T/fuse.json")
assert_eq false "$ok_" "run_dir_not_fuse with the run dir on fuse-overlayfs"
health=$(json_query 'list(j["health"])[0] if isinstance(j["health"], dict) else j["health"]' <"$T/fuse.json")
[ "$health" != healthy ] || fail "health is healthy with the run dir on FUSE"
line=$(grep -A1 '^[^ ]* run directory not on FUSE' "$T/fuse.txt")
assert_contains "$line" "$T/m" "the finding names the real path"
fix=$(fix_of "run directory not on FUSE" <"$T/fuse.txt")
assert_contains "$fix" "export NOOK_RUNTIME_DIR=/" "the fix sets NOOK_RUNTIME_DIR to a real path"
alt=$(printf '%s\n' "$fix" | sed -n 's/^export NOOK_RUNTIME_DIR=\([^ ]*\) .*/\1/p')
[ -n "$alt" ] || fail "no path in the fix: $fix"
at=$alt
while [ ! -e "$at" ]; do at=$(dirname "$at"); done
assert_not_contains "$(stat -f -c %T "$at")" "fuse" "the filesystem of the run dir the fix names"
# it works (in the namespace the fix was computed for: uid 0 there)
[ -e "$alt" ] && made=false || made=true
unshare -rm sh -c "NOOK_RUNTIME_DIR='$alt' '$NOOK' run --rootfs '$ROOT' --network none -- true" ||
        fail "a session with the fix applied (NOOK_RUNTIME_DIR=$alt)"
[ "$made" = false ] || rm -rf "$alt"
ok "a run dir on FUSE: detected, fix $fix"
