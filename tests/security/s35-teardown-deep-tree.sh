#!/bin/sh
# S35: teardown is not defeated by the workload's tree.  A workload builds a 3,000-deep
# and a 19,000-deep tree (the latter with mode 0000 dirs every 1,000 levels, a symlink to
# a sentinel dir of the host at the bottom) in /tmp and in / of an image root (both land
# in the writable layer on disk), plus a closed (0000) dir; with the common soft limit of
# 1024 open files, `nook session rm` must remove the session dir whole, leave the
# sentinel dir as it was, and `nook gc` then exit 0 with another session (made
# meanwhile) untouched.  Then a session whose removal cannot finish (a FUSE mount the
# user put inside its writable layer: teardown never crosses a mount) must stay listed
# as repair_needed, `nook gc` must reclaim another dead session all the same and say
# what is left and why (exit 125), and once the mount is gone a later `nook gc` must
# finish it (exit 0).
# `nook gc` reclaims every abandoned session of the user: this test runs alone.
. "$NOOK_TEST_LIB/lib.sh"
. "$NOOK_TEST_LIB/image-attack.sh"

# meson's timeout sends SIGTERM: exit through the EXIT trap (sessions removed, FUSE unmounted)
trap 'exit 143' TERM INT HUP
export XDG_RUNTIME_DIR="$T/run"
mkdir -m 0700 "$XDG_RUNTIME_DIR"
RD="$XDG_RUNTIME_DIR/nook"
mkdir -p "$SENT/sub"
echo two >"$SENT/sub/file2"
chmod 0755 "$SENT/sub" "$T"
SENT0=$(sentinel_state)
mkdir "$T/probe"
cp "$NOOK_PROBE" "$T/probe/nook-probe"
chmod -R a+rX "$T/probe"
python3 "$IMAGES/mkimage.py" "$T/img" >/dev/null || fail "mkimage.py"
run_nook image import --name img "$T/img/oci-archive.tar"
assert_eq 0 "$RC" "import: $ERR"
# the soft limit most systems give a user: the old recursive walk ran out of fds at
# depth ~1,000 (EMFILE), and out of stack (SIGSEGV) past it
[ "$(ulimit -H -n)" = unlimited ] || [ "$(ulimit -H -n)" -ge 1024 ] && ulimit -S -n 1024

state_of() { # NAME: its state in `nook session ls --json`, or "absent"
        "$NOOK" session ls --json | json_query "next((s['state'] for s in j if s.get('name') == '$1'), 'absent')"
}

deep="s35-$$-deep"
other="s35-$$-other"
echo "$deep" >>"$T/envs"
echo "$other" >>"$T/envs"
run_nook run -d --rootfs-driver overlay --name "$deep" -v "$T/probe:/probe:ro" img sleep 1000
assert_eq 0 "$RC" "the deep session: $ERR"
WL=$("$NOOK" session inspect "$deep" --json | json_query 'j["writable_layer"]')
ref=$(session_ref "$deep")
run_nook exec "$deep" -- sh -c 'set -e
/probe/nook-probe deeptree /tmp/deep3k 3000 0 "$0"
/probe/nook-probe deeptree /deep19k 19000 1000 "$0"
mkdir -p /closed/a/b
ln -s "$0" /closed/a/b/link
chmod 000 /closed/a/b /closed/a /closed' "$SENT"
assert_eq "ok
ok" "$OUT" "building the trees ($ERR)"
[ -d "$WL/upper/deep19k/d/d/d" ] && [ -d "$WL/upper/tmp/deep3k/d/d" ] ||
        fail "the deep trees are not in the writable layer $WL/upper"
run_nook run -d --name "$other" img sleep 1000
assert_eq 0 "$RC" "another session: $ERR"
run_nook session rm "$deep"
assert_eq 0 "$RC" "session rm of the deep trees: $OUT $ERR"
[ ! -e "$RD/$ref" ] || fail "the session dir survived session rm"
assert_eq "$SENT0" "$(sentinel_state)" "the sentinel dir after teardown"
run_nook gc
assert_eq 0 "$RC" "gc after the deep trees: $OUT $ERR"
assert_eq prepared "$(state_of "$other")" "the other session after gc"
run_nook exec "$other" -- echo alive
assert_eq "0 alive" "$RC $OUT" "the other session works ($ERR)"
ok "S35: trees 3,000 and 19,000 deep, 0000 dirs: session rm and gc succeed with 1024 fds"

# ---- a removal that cannot finish stays recorded, is retried, and blocks nobody --------
command -v fuse-overlayfs >/dev/null && command -v fusermount3 >/dev/null && [ -w /dev/fuse ] ||
        fail "fuse-overlayfs, fusermount3 and /dev/fuse are test dependencies (./dev deps)"
stuck="s35-$$-stuck"
dead="s35-$$-dead"
echo "$stuck" >>"$T/envs"
echo "$dead" >>"$T/envs"
run_nook run -d --rootfs-driver overlay --name "$stuck" img sleep 1000
assert_eq 0 "$RC" "the stuck session: $ERR"
run_nook run -d --name "$dead" img sleep 1000
assert_eq 0 "$RC" "the dead session: $ERR"
sref=$(session_ref "$stuck")
dref=$(session_ref "$dead")
SWL=$("$NOOK" session inspect "$stuck" --json | json_query 'j["writable_layer"]')
run_nook exec "$stuck" -- sh -c 'mkdir -p /pinned/in /after && echo made'
assert_eq made "$OUT" "the stuck session's dirs ($ERR)"
mkdir -p "$T/lower"
echo lower >"$T/lower/f"
fuse-overlayfs -o "lowerdir=$T/lower" "$SWL/upper/pinned/in" || fail "mounting FUSE in the writable layer"
unmount() { fusermount3 -u "$SWL/upper/pinned/in" 2>/dev/null || true; }
trap 'unmount; cleanup_sessions; chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT
run_nook session rm "$stuck"
assert_eq 125 "$RC" "session rm of a session with a mount inside ($OUT)"
assert_contains "$ERR$OUT" "repair_needed" "session rm's report"
assert_eq repair_needed "$(state_of "$stuck")" "the stuck session after a failed rm"
[ -f "$RD/$sref/state" ] || fail "the stuck session's record is gone"
dpid=$(holder_pid "$dref")
kill -9 "$dpid"
i=0
while alive "$dpid" && [ "$i" -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
done
run_nook gc
assert_eq 125 "$RC" "gc with a stuck session ($OUT)"
assert_contains "$ERR" "1 session reclaimed" "gc names what it did"
assert_contains "$ERR" "$sref" "gc names the session left"
assert_contains "$ERR" "mount" "gc says why"
[ ! -e "$RD/$dref" ] || fail "the dead session was not reclaimed past the stuck one"
assert_eq repair_needed "$(state_of "$stuck")" "the stuck session after gc"
assert_eq prepared "$(state_of "$other")" "the other session after a stuck gc"
unmount
run_nook gc
assert_eq 0 "$RC" "gc once the mount is gone: $OUT $ERR"
assert_eq "1 session reclaimed" "$OUT" "gc's summary"
[ ! -e "$RD/$sref" ] || fail "the stuck session's dir survived the retry"
assert_eq absent "$(state_of "$stuck")" "the stuck session after the retry"
run_nook exec "$other" -- echo alive
assert_eq "0 alive" "$RC $OUT" "the other session works after the retry ($ERR)"
run_nook session rm "$other"
assert_eq 0 "$RC" "session rm of the other session: $ERR"
assert_eq "$SENT0" "$(sentinel_state)" "the sentinel dir at the end"
ok "S35: a stuck removal stays repair_needed, gc reclaims the rest, says why, and retries"
