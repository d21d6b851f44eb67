#!/bin/sh
# S33 (conmon in its own pid namespace): the workload can neither see, signal nor inspect
# nook's own processes (holder, monitors, fuse-overlayfs); after it tried, --timeout and
# nook kill still work; and when a monitor is killed from outside, nook kill and the
# timeout still end the workload and nook ps says what happened.  Run for a --rootfs DIR
# session and for an image session on fuse-overlayfs.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
cd "$T"
mkdir "$T/share" # the attacks start when the test makes share/go

# What the workload sees: every process's pid, comm and cmdline, and busybox ps.
LOOK='for d in /proc/[0-9]*; do echo "${d#/proc/} $(cat $d/comm 2>/dev/null) $(tr "\0" " " <$d/cmdline 2>/dev/null)"; done; ps -o pid,comm,args'
# Mount tables of the others that differ from the workload's own (another mount
# namespace: fuse-overlayfs holds the host's).
MOUNTS='own=$(cut -d" " -f5 /proc/self/mountinfo | sort | tr "\n" " "); for d in /proc/[0-9]*; do m=$(cut -d" " -f5 $d/mountinfo 2>/dev/null | sort | tr "\n" " "); [ -z "$m" ] || [ "$m" = "$own" ] || echo "foreign mounts in $d: $m"; done; echo checked'
# The attacks: a signal to every pid the workload can see but its own (its init too).
GO='echo ready; while ! test -e /share/go; do sleep 0.1; done'
ATTACK='pids=$(ls /proc | grep "^[0-9]"); for p in $pids; do test "$p" = $$ || kill -SIG "$p"; done 2>/dev/null; echo attacked'

# nook_procs HOLDER: "pid stat" of the holder and of each of its descendants that is
# nook's own (argv[0] nook-holder: the holder's forks; fuse-overlayfs), seen from the host.
nook_procs() {
        for p in $(tree_of "$1"); do
                a=$({ tr '\0' '\n' <"/proc/$p/cmdline"; } 2>/dev/null | head -n 1)
                case "$a" in
                nook-holder | fuse-overlayfs | */fuse-overlayfs) echo "$p $(ps -o stat= -p "$p")" ;;
                esac
        done
}

# wait_for FILE TEXT: up to 10 s for TEXT to appear in FILE.
wait_for() {
        for _ in $(seq 100); do
                grep -q "$2" "$1" 2>/dev/null && return 0
                sleep 0.1
        done
        fail "'$2' never appeared in $1: $(cat "$1" 2>/dev/null)"
}

# state REF: the process's state in nook ps, then its exit code.
state() {
        "$NOOK" ps --json | json_query "[str(p['state']) + ' ' + str(p['exit_code']) for p in j if p['process_ref'] == '$1'][0]"
}

# no_harm WHAT BEFORE: every process of BEFORE is still there, and none of nook's is stopped.
no_harm() {
        now=$(nook_procs "$holder")
        for p in $(echo "$2" | cut -d' ' -f1); do
                echo "$now" | grep -q "^$p " || fail "$1: nook's process $p is gone (before: $2; now: $now)"
        done
        echo "$now" | grep -q " T" && fail "$1: a process of nook is stopped: $now"
        true
}

# ref_of OUTPUT: the process ref `exec -d` printed.
ref_of() {
        r=$(printf '%s\n' "$1" | tail -n 1)
        case "$r" in p-*) echo "$r" ;; *) fail "exec -d printed '$1'" ;; esac
}

check_session() { # NAME WHAT
        n=$1
        holder=$(holder_pid "$(session_ref "$n")")
        [ -n "$holder" ] || fail "$2: no holder"

        # ---- what the workload sees ----
        run_nook exec "$n" -- sh -c "$LOOK"
        assert_eq 0 "$RC" "$2: looking around ($ERR)"
        for name in nook-holder nook-monitor fuse-overlayfs; do
                assert_not_contains "$OUT" "$name" "$2: processes the workload sees"
        done
        run_nook exec "$n" -- sh -c "$MOUNTS"
        assert_eq checked "$OUT" "$2: mount tables of the processes the workload sees"
        ok "$2: nook's processes are invisible inside"

        # ---- SIGSTOP to everything, then the timeout must still fire ----
        timeout 60 "$NOOK" exec --timeout 6s "$n" -- sh -c "$GO; $(echo "$ATTACK" | sed s/SIG/STOP/); sleep 100" \
                >"$T/stop.out" 2>"$T/stop.err" &
        bg=$!
        wait_for "$T/stop.out" ready
        before=$(nook_procs "$holder")
        touch "$T/share/go"
        wait_for "$T/stop.out" attacked
        sleep 0.3
        no_harm "$2: SIGSTOP to every pid" "$before"
        set +e
        wait "$bg"
        rc=$?
        set -e
        assert_eq 137 "$rc" "$2: exit code of a command that stopped every pid it saw, after --timeout"
        assert_contains "$(cat "$T/stop.err")" "timed out" "$2: the timeout is reported"
        rm "$T/share/go"
        ok "$2: SIGSTOP to every visible pid harms no nook process; --timeout still ends the command"

        # ---- SIGKILL to everything (its init too), then nook kill must still work ----
        run_nook exec -d "$n" -- sh -c "$GO; $(echo "$ATTACK" | sed s/SIG/9/); sleep 100"
        assert_eq 0 "$RC" "$2: exec -d ($ERR)"
        P=$(ref_of "$OUT")
        sleep 0.3
        before=$(nook_procs "$holder")
        touch "$T/share/go"
        for _ in $(seq 100); do
                "$NOOK" logs "$P" | grep -q attacked && break
                sleep 0.1
        done
        "$NOOK" logs "$P" | grep -q attacked || fail "$2: the SIGKILL attack did not run: $("$NOOK" logs "$P")"
        sleep 0.3
        no_harm "$2: SIGKILL to every pid" "$before"
        run_nook kill "$P"
        assert_eq 0 "$RC" "$2: nook kill after the attack ($ERR)"
        assert_not_contains "$OUT$ERR" "not delivered" "$2: nook kill after the attack"
        sleep 0.3
        assert_eq "exited 137" "$(state "$P")" "$2: state after nook kill"
        rm "$T/share/go"
        run_nook exec "$n" -- sh -c 'echo fine'
        assert_eq fine "$OUT" "$2: the session after the attacks"
        ok "$2: SIGKILL to every visible pid harms no nook process; nook kill still works"

        # ---- the monitor killed from outside: nook kill, then the timeout, without it ----
        for how in kill timeout; do
                secs=300
                [ "$how" = kill ] && secs=301
                if [ "$how" = kill ]; then
                        run_nook exec -d "$n" -- sleep "$secs"
                else
                        run_nook exec -d --timeout 3s "$n" -- sleep "$secs"
                fi
                assert_eq 0 "$RC" "$2: exec -d sleep ($ERR)"
                P=$(ref_of "$OUT")
                work=""
                for p in $(tree_of "$holder"); do
                        [ "$({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null)" = "sleep $secs " ] && work=$p
                done
                [ -n "$work" ] || fail "$2: no workload 'sleep $secs' under holder $holder"
                mon=$(ps -o ppid= -p "$work" | tr -d ' ')
                kill -9 "$mon"
                sleep 0.5
                alive "$work" || fail "$2: the workload died with its monitor"
                assert_eq "unmonitored None" "$(state "$P")" "$2: nook ps with the monitor gone"
                if [ "$how" = kill ]; then
                        run_nook kill "$P"
                        assert_eq 0 "$RC" "$2: nook kill without the monitor ($ERR)"
                        assert_not_contains "$OUT$ERR" "not delivered" "$2: nook kill without the monitor"
                fi
                for _ in $(seq 60); do
                        alive "$work" || break
                        sleep 0.1
                done
                alive "$work" && fail "$2: the workload survived $how without its monitor"
                sleep 0.2
                assert_eq "exited 137" "$(state "$P")" "$2: nook ps after $how without the monitor"
        done
        ok "$2: with its monitor killed, nook kill and the timeout still end the workload; nook ps says so"

        run_nook session rm "$n"
        assert_eq 0 "$RC" "$2: session rm ($ERR)"
        sleep 0.2
        alive "$holder" && fail "$2: holder left after session rm"
        true
}

name="d$$"
echo "$name" >>"$T/envs"
run_nook session create -v "$T/share:/share" --rootfs "$ROOT" --name "$name"
assert_eq 0 "$RC" "session create --rootfs: $ERR"
check_session "$name" "--rootfs DIR"

[ -c /dev/fuse ] && command -v fuse-overlayfs >/dev/null || skip "no /dev/fuse or fuse-overlayfs here"
IMG="$T/img"
python3 "$NOOK_SOURCE_ROOT/tests/images/mkimage.py" "$IMG" >/dev/null || fail "mkimage.py"
run_nook image import --name t33 "$IMG/oci-archive.tar"
assert_eq 0 "$RC" "import: $ERR"
name="i$$"
echo "$name" >>"$T/envs"
run_nook session create -v "$T/share:/share" --rootfs-driver fuse-overlayfs --name "$name" t33
assert_eq 0 "$RC" "session create IMAGE: $ERR"
run_nook session inspect --json "$name"
assert_eq fuse-overlayfs "$(echo "$OUT" | json_query 'j["rootfs_driver"]')" "the image session's driver"
holder=$(holder_pid "$(session_ref "$name")")
nook_procs "$holder" | grep -q . || fail "no nook process under the holder"
fuse=$(for p in $(tree_of "$holder"); do { tr '\0' '\n' <"/proc/$p/cmdline"; } 2>/dev/null | head -n 1 | grep -qx fuse-overlayfs && echo "$p"; done; true)
[ -n "$fuse" ] || fail "no fuse-overlayfs under the holder of the image session"
check_session "$name" "image on fuse-overlayfs"
ok "S33"
