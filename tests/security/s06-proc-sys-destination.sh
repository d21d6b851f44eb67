#!/bin/sh
# S6 (runc CVE-2019-16884, CVE-2019-19921, CVE-2023-27561): a mount destination that
# reaches /proc or /sys of the root through a symlink inside it (pk -> proc/sys/kernel,
# sk -> sys/kernel, an absolute one under follow_within_alias) is refused like the
# lexical /proc and /sys are; a volume holding a forged cap_last_cap never changes the
# capability bounding set nook gives the workload.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
ln -s proc/sys/kernel "$ROOT/pk"
ln -s sys/kernel "$ROOT/sk"
ln -s proc "$ROOT/pp"
ln -s /proc/sys/kernel "$ROOT/apk"
mkdir -p "$ROOT/work/ok"
ln -s work/ok "$ROOT/good"
H="$T/host"
mkdir -p "$H/fake" "$H/vol"
echo 5 >"$H/fake/cap_last_cap" # a bounding-set loop that stops at 5 keeps CAP_SYS_ADMIN
echo vol >"$H/vol/f"

run_nook run --rootfs "$ROOT" -- grep CapBnd /proc/self/status
[ "$RC" -eq 0 ] || fail "a plain run: $ERR"
want=$OUT
assert_contains "$want" "CapBnd:" "the plain bounding set"

refused() { # WHAT: the last run must have been refused before the workload ran
        [ "$RC" -ne 0 ] || fail "$1 was mounted (the workload ran: $OUT)"
        assert_not_contains "$OUT" "CapBnd" "$1: the workload must not run"
        case "$ERR" in
        *"/proc"* | *"/sys"*) ;;
        *) fail "$1: the refusal does not name /proc or /sys: $ERR" ;;
        esac
}

run_nook run --rootfs "$ROOT" -v "$H/fake:/pk" -- grep CapBnd /proc/self/status
refused "-v over /proc/sys/kernel through pk -> proc/sys/kernel"
assert_not_contains "$OUT" "CapBnd:	0000000000" "the forged cap_last_cap"
run_nook run --rootfs "$ROOT" --tmpfs /sk -- sh -c 'ls /sys/kernel | wc -l; grep CapBnd /proc/self/status'
refused "--tmpfs over /sys/kernel through sk -> sys/kernel"
run_nook run --rootfs "$ROOT" --tmpfs /pp/sys/kernel -- grep CapBnd /proc/self/status
refused "--tmpfs under /proc through pp -> proc"
run_nook run --rootfs "$ROOT" -v "$H/fake:/pp" -- grep CapBnd /proc/self/status
refused "-v over /proc itself through pp -> proc"

# the contract with follow_within_alias: the absolute symlink is read inside the root
export NOOK_ALIASES="testroot=$ROOT;fake=$H/fake"
mounts='[{"mount_ref":"f","source_alias":"fake","destination_path":"/apk","mode":"read_only"}]'
SENV="{\"environment_id\":\"$EID\",\"spec\":{\"filesystem\":{\"root\":\"writable_layer\",\"symlink_policy\":\"follow_within_alias\",\"mounts\":$mounts}}}"
echo "$EID" >>"$T/envs"
call_ok prepare_session "{\"environment\":$SENV}"
call_ok prepare_rootfs "{\"rootfs\":{\"rootfs_ref\":\"testroot\"},\"environment_id\":\"$EID\"}"
run_nook_in "{\"environment\":$SENV}" call prepare_environment
[ "$RC" -ne 0 ] || fail "follow_within_alias: a volume over /proc/sys/kernel through /apk was mounted"
assert_contains "$OUT" "/proc" "follow_within_alias: the refusal names /proc"
session_down "$EID"

# the harmless case: a symlink to an ordinary directory of the root still works, and
# the bounding set is the plain one
run_nook run --rootfs "$ROOT" -v "$H/vol:/good/v" -- sh -c 'cat /work/ok/v/f; grep CapBnd /proc/self/status'
assert_eq "0 vol
$want" "$RC $OUT" "a volume through good -> work/ok"
ok "S6: destinations reaching /proc or /sys through symlinks refused; the bounding set unchanged"
