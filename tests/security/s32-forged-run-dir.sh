#!/bin/sh
# S32: a run dir, session dir, state file or control socket planted by someone else is
# never trusted.  A test user cannot make a dir another user owns, so it forges what one
# user can: a run dir that is a symlink or open to others (every verb refuses it, naming
# it; NOOK_RUNTIME_DIR works), session records naming a process that is not their
# session's holder (gc, session rm, kill leave it alive), and planted listening sockets
# (they never get a byte, nor an -e value).
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
export XDG_RUNTIME_DIR="$T/xdg"
mkdir -m 0700 "$XDG_RUNTIME_DIR"
RD="$XDG_RUNTIME_DIR/nook"
PREF_FORGED="p-000000000000000000000000-0000000000000000"
# a process of ours that forged records name as their holder: nothing may signal it
sleep 1000 &
VICTIM=$!
LISTENER=""
trap 'kill $VICTIM $LISTENER 2>/dev/null; cleanup_sessions; chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT

# start_of PID: field 22 of /proc/PID/stat (the start time nook records)
start_of() {
        sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f20
}

# forge ENV NAME HOLDER_PID OWNER_PID: a session dir and record made by hand, as tidy as
# nook's own (0700, 0600), naming HOLDER_PID (with its true start time) as the holder.
forge() {
        d="$RD/$(session_ref "$1")"
        mkdir -m 0700 -p "$d/p/$PREF_FORGED"
        chmod 0700 "$d/p"
        printf '%s\n' "environment_id=$1" "name=$2" "identity=0" "uid=$(id -u)" "gid=$(id -g)" \
                "inner_uid=0" "inner_gid=0" "holder_pid=$3" "holder_start=$(start_of "$3")" \
                "owner_pid=$4" "owner_start=1" "detached=0" "prepared=1" "hostname=nook" \
                "created_ms=1" >"$d/state"
        chmod 0600 "$d/state"
        FORGED=$d
}

# ---- 1. a run dir that is a symlink, or open to others --------------------------------
refused_everywhere() { # WHAT
        for verb in "session ls" "ps" "gc" "session rm x$$" "exec x$$ -- true" "kill $PREF_FORGED" \
                "session create --rootfs $ROOT --name x$$"; do
                # shellcheck disable=SC2086 # the verb's words
                run_nook $verb
                assert_eq 125 "$RC" "nook $verb with $1"
                assert_contains "$ERR" "$RD" "nook $verb names the refused run dir ($1)"
                assert_contains "$ERR" "NOOK_RUNTIME_DIR" "nook $verb gives a working alternative ($1)"
        done
        run_nook_in "{\"environment\":{\"environment_id\":\"$EID-x\",\"spec\":{}}}" call prepare_session
        assert_eq 125 "$RC" "prepare_session with $1"
        assert_contains "$OUT$ERR" "$RD" "prepare_session names the refused run dir ($1)"
}
mkdir -m 0700 "$T/elsewhere"
forge_target=$RD
RD="$T/elsewhere" forge "$EID-sym" "sym$$" "$VICTIM" 999999
RD=$forge_target
ln -s "$T/elsewhere" "$RD"
refused_everywhere "a symlink"
run_nook session ls
assert_not_contains "$OUT" "sym$$" "a session behind a symlinked run dir is listed"
rm "$RD"
mkdir -m 0755 "$RD"
refused_everywhere "mode 0755"
chmod 0770 "$RD"
refused_everywhere "mode 0770"
rm -rf "$RD"
alive "$VICTIM" || fail "a verb followed the symlinked run dir and killed the process its record names"
ok "a symlinked or shared run dir is refused by every verb, named, with an alternative"

# the alternative works
mkdir -m 0700 "$T/private"
NOOK_RUNTIME_DIR="$T/private" run_nook session create --rootfs "$ROOT" --name alt$$
assert_eq 0 "$RC" "session create with NOOK_RUNTIME_DIR: $ERR"
NOOK_RUNTIME_DIR="$T/private" run_nook exec alt$$ -- echo here
assert_eq "0 here" "$RC $OUT" "exec with NOOK_RUNTIME_DIR"
[ -n "$(ls -A "$T/private")" ] || fail "NOOK_RUNTIME_DIR holds the session"
[ ! -e "$RD" ] || fail "NOOK_RUNTIME_DIR set, yet the default run dir was made"
NOOK_RUNTIME_DIR="$T/private" run_nook session rm alt$$
assert_eq 0 "$RC" "session rm with NOOK_RUNTIME_DIR: $ERR"
ok "NOOK_RUNTIME_DIR"

# ---- 2. records naming a process that is not the session's holder ----------------------
mkdir -m 0700 "$RD"
forge "$EID-f1" "f1-$$" "$VICTIM" 999999 # its owner is gone: gc takes it
run_nook gc
alive "$VICTIM" || fail "nook gc killed a process named by a forged record"
forge "$EID-f2" "f2-$$" "$VICTIM" 0
run_nook session rm "f2-$$"
alive "$VICTIM" || fail "nook session rm killed a process named by a forged record"
forge "$EID-f3" "f3-$$" "$VICTIM" 0
run_nook_in "{\"environment\":{\"environment_id\":\"$EID-f3\",\"spec\":{}},\"cleanup_plan_ref\":\"c\"}" call cleanup
alive "$VICTIM" || fail "cleanup killed a process named by a forged record"
run_nook_in "{\"environment\":{\"environment_id\":\"$EID-f3\",\"spec\":{}}}" call prepare_session
assert_eq 125 "$RC" "prepare_session over a record whose holder is not a holder"
ok "gc, session rm and cleanup never signal a process that is not the session's holder"

# the record names a real holder, of another session (and the socket is a hard link to
# that holder's): still not this session's
session_up "$EID-real"
REAL=$(holder_pid "$SREF")
forge "$EID-f4" "f4-$$" "$REAL" 999999
ln "$RD/$SREF/ctl.sock" "$FORGED/ctl.sock"
run_nook exec "f4-$$" -- true
assert_eq 125 "$RC" "exec in a session whose record names another session's holder"
run_nook gc
alive "$REAL" || fail "nook gc killed the holder of another session, named by a forged record"
run_in '["echo","still"]'
assert_eq still "$STDOUT" "the real session after gc"
session_down "$EID-real"
ok "a record naming another session's holder is not that holder's"

# ---- 3. planted listening sockets -----------------------------------------------------
forge "$EID-f5" "f5-$$" "$$" 0
LOG="$T/planted"
python3 "$NOOK_TEST_LIB/plant-listener.py" "$LOG" "$FORGED" "$FORGED/p/$PREF_FORGED" &
LISTENER=$!
for _ in $(seq 100); do [ -e "$LOG.ready" ] && break; sleep 0.05; done
[ -e "$LOG.ready" ] || fail "the planted listener did not start"
# the record names the listener itself as the holder, with its true start time
forge "$EID-f5" "f5-$$" "$LISTENER" 0
run_nook exec -e "SECRET=s3cr3t-$$" "f5-$$" -- true
assert_eq 125 "$RC" "exec through a planted socket"
sleep 0.2
! grep -q "s3cr3t-$$" "$LOG" || fail "the planted socket received the -e value"
assert_eq 0 "$(wc -c <"$LOG")" "bytes the planted socket received from exec"
run_nook session ls
run_nook ps
run_nook kill "$PREF_FORGED"
assert_eq 125 "$RC" "kill through a planted monitor socket"
run_nook_in "{\"environment\":{\"environment_id\":\"$EID-f5\",\"spec\":{}}}" call prepare_session
assert_eq 125 "$RC" "prepare_session over a planted socket"
run_nook_in "{\"process_ref\":\"$PREF_FORGED\"}" call collect_stats
run_nook_in "{\"process_ref\":\"$PREF_FORGED\",\"signal\":\"kill\"}" call signal_process
sleep 0.2
assert_eq 0 "$(wc -c <"$LOG")" "bytes the planted sockets received"
alive "$LISTENER" || fail "the planted listener was killed"
ok "planted sockets receive nothing"
