#!/bin/sh
# nook run / exec / session / ps / logs / kill / stats / gc as a person uses them:
# exit codes like podman's, the warm path, detached processes, and nothing left behind.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
cd "$T"

run_nook run --rootfs "$ROOT" -- sh -c 'echo out; echo err >&2; exit 3'
assert_eq 3 "$RC" "the command's own exit code"
assert_eq out "$OUT" "stdout"
assert_eq err "$ERR" "stderr"
run_nook run --rootfs "$ROOT" -- no-such-command
assert_eq 127 "$RC" "command not found"
assert_contains "$ERR" "no-such-command: command not found in the sandbox" "what 127 says"
run_nook run --rootfs "$ROOT" -- /etc/passwd
assert_eq 126 "$RC" "not executable"
assert_contains "$ERR" "/etc/passwd: cannot execute: Permission denied" "what 126 says"
# 126 and 127 are about the command itself: a missing working directory is ENOENT too,
# and it is nook's 125
run_nook run --rootfs "$ROOT" -w /no/such/dir -- true
assert_eq 125 "$RC" "a missing working directory"
assert_contains "$ERR" "working directory /no/such/dir: No such file or directory" "the directory is named"
run_nook run --rootfs "$ROOT" --timeout 300ms -- sleep 10
assert_eq 137 "$RC" "killed by the timeout"
assert_contains "$ERR" "nook: the command timed out after 300ms and was killed" "why 137 (the record's ended_by)"
run_nook run --rootfs "$ROOT" --memory 32m -- nook-probe hog 64
assert_eq 137 "$RC" "killed over --memory"
assert_contains "$ERR" "nook: the command was killed: the session went over its memory limit (--memory)" \
        "why 137 (the limit named)"
run_nook run --rootfs "$T/none" -- true
assert_eq 125 "$RC" "a missing root directory"
assert_contains "$ERR" "$T/none" "the error names it"
out=$(echo hello | "$NOOK" run -i --rootfs "$ROOT" -- cat)
assert_eq hello "$out" "stdin with -i"
run_nook run --rootfs "$ROOT" -e A=1 -w /tmp -u 1:1 --userns subuid --hostname box -- sh -c 'echo $A $(pwd) $(id -u) $(hostname)'
if grep -q -E "^($(id -un)|$(id -u)):" /etc/subuid; then
        assert_eq "1 /tmp 1 box" "$OUT" "env, workdir, user, hostname"
else
        assert_eq 125 "$RC" "subuid identity without a range"
fi
run_nook run --rootfs "$ROOT" --read-only -- touch /x
[ "$RC" -ne 0 ] || fail "a write to a read-only root succeeded"
ok "run"

# keep-id with the directory bound read-write: files land on the host, owned by the user
run_nook run --rootfs "$ROOT" --rootfs-rw --userns keep-id -- sh -c 'echo keep > /tmp/k; id -u'
assert_eq "$(id -u)" "$OUT" "uid inside with keep-id"
assert_eq "$(id -u)" "$(stat -c %u "$ROOT/tmp/k")" "owner outside of a file written with keep-id"
assert_eq keep "$(cat "$ROOT/tmp/k")" "the file reached the host directory"
run_nook run --rootfs "$ROOT" -- sh -c 'echo overlay > /tmp/o'
[ ! -e "$ROOT/tmp/o" ] || fail "a write without --rootfs-rw reached the host directory"
ok "writable layer vs bound directory"

# a session: warm path, detached processes, logs, kill, stats
name="s$$"
echo "$name" >>"$T/envs"
run_nook session create --rootfs "$ROOT" --name "$name"
assert_eq 0 "$RC" "session create: $ERR"
run_nook exec "$name" -- sh -c 'echo warm > /tmp/w'
run_nook exec "$name" -- cat /tmp/w
assert_eq warm "$OUT" "a file written by one exec is read by the next"
run_nook exec -d "$name" -- sh -c 'echo started; sleep 100'
assert_eq 0 "$RC" "exec -d"
ref=$(printf '%s\n' "$OUT" | tail -n 1)
case "$ref" in p-*) ;; *) fail "exec -d printed '$OUT'" ;; esac
run_nook ps --json
assert_contains "$OUT" "$ref" "ps lists the process"
sleep 0.3
run_nook logs "$ref"
assert_eq started "$OUT" "logs"
run_nook stats --json "$ref"
assert_eq 0 "$RC" "stats"
run_nook kill --signal terminate --grace 1s "$ref"
assert_eq 0 "$RC" "kill"
sleep 0.5
run_nook ps --json
printf '%s\n' "$OUT" | json_query "[p['state'] for p in j if p['process_ref'] == '$ref'][0]" | grep -q exited || fail "killed process not exited: $OUT"
by=$(printf '%s\n' "$OUT" | json_query "[p['ended_by'] for p in j if p['process_ref'] == '$ref'][0]")
assert_eq null "$by" "ended_by of a process a person killed"
run_nook exec -d --timeout 200ms "$name" -- sleep 100
tref=$(printf '%s\n' "$OUT" | tail -n 1)
by=
for _ in $(seq 50); do
        by=$("$NOOK" ps --json | json_query "[p['ended_by'] for p in j if p['process_ref'] == '$tref'][0]")
        [ "$by" = null ] || break
        sleep 0.1
done
assert_eq timeout "$by" "ps --json says nook ended it at its timeout"
run_nook session inspect "$name"
assert_eq 0 "$RC" "session inspect"
holder=$(holder_pid "$(session_ref "$name")")
run_nook session rm "$name"
assert_eq 0 "$RC" "session rm"
sleep 0.2
alive "$holder" && fail "holder left after session rm"
run_nook exec "$name" -- true
assert_eq 125 "$RC" "exec into a removed session"
ok "session verbs"

for v in run exec session ps logs kill stats gc; do
        run_nook "$v" --help
        assert_eq 0 "$RC" "$v --help"
done
run_nook run --rootfs "$ROOT" --memory 12q -- true
assert_eq 125 "$RC" "a bad size"
run_nook run --rootfs "$ROOT" --timeout soon -- true
assert_eq 125 "$RC" "a bad duration"
ok "cli"

# --security-opt seccomp=FILE: the profile reaches the sandbox as written; a file that
# is not one JSON object, or gives a key twice, is refused before any call
printf '%s' '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}' >"$T/deny-mkdir.json"
run_nook run --rootfs "$ROOT" --security-opt seccomp="$T/deny-mkdir.json" -- sh -c 'mkdir /tmp/m 2>/dev/null && echo made || echo refused'
assert_eq refused "$OUT" "mkdir denied by the profile: $ERR"
all_calls() { "$NOOK" journal --json --limit 1000000 | json_query 'len(j)'; }
calls=$(all_calls)
printf '%s' '{"defaultAction":"SCMP_ACT_ALLOW","defaultAction":"SCMP_ACT_LOG"}' >"$T/twice.json"
run_nook run --rootfs "$ROOT" --security-opt seccomp="$T/twice.json" -- true
assert_eq 125 "$RC" "a key given twice"
assert_contains "$ERR" "duplicate object key" "the doubled key is named"
printf '[]' >"$T/array.json"
run_nook run --rootfs "$ROOT" --security-opt seccomp="$T/array.json" -- true
assert_eq 125 "$RC" "a profile that is not an object"
assert_contains "$ERR" "not a JSON object" "what is wrong with it"
assert_eq "$calls" "$(all_calls)" "refused profiles: no call was made"
printf '%s' '{"defaultAction":"SCMP_ACT_NOPE"}' >"$T/bad-action.json"
run_nook run --rootfs "$ROOT" --security-opt seccomp="$T/bad-action.json" -- true
assert_eq 125 "$RC" "an unknown action"
assert_contains "$ERR" "seccomp=$T/bad-action.json: seccomp profile at /defaultAction" "the library's field, under the option"
ok "--security-opt seccomp=FILE"

# --cpus warns exactly when start_process says the cpu limit is not enforced (its ext
# limits.cpus: not_enforced without a delegated cgroup v2 cpu controller, else cgroup)
session_up "$EID-cpus"
start_in '["true"]' "" 5000
[ "$RC" -eq 0 ] || fail "start_process failed ($RC): $OUT $ERR"
how=$(printf '%s\n' "$OUT" | json_query 'j["limits"]["cpus"]')
session_down "$EID-cpus"
run_nook run --rootfs "$ROOT" --cpus 0.5 -- true
assert_eq 0 "$RC" "run --cpus 0.5: $ERR"
case "$how" in
not_enforced)
        assert_eq "nook: downgrade: --cpus 0.5 is not enforced: this user has no delegated cgroup v2 cpu controller (run 'nook caps' for how to get one)" \
                "$ERR" "the --cpus downgrade, one whole line"
        ;;
cgroup) assert_not_contains "$ERR" "--cpus" "no warning when cpu.max holds the limit" ;;
*) fail "start_process's limits.cpus is '$how'" ;;
esac
run_nook run --rootfs "$ROOT" -- true
assert_not_contains "$ERR" "--cpus" "no --cpus, no downgrade said of it"
ok "--cpus warning follows limits.cpus ($how)"

# mounts from the command line (issue 5's CLI): -v, --tmpfs, --mount, --workspace
mkdir -p "$T/proj" && echo p >"$T/proj/file"
run_nook run --rootfs "$ROOT" -v "$T/proj:/src:ro" --tmpfs /scratch:size=1m -- sh -c 'cat /src/file; (touch /src/x) 2>&1 | grep -c Read-only; df /scratch | grep -c tmpfs'
assert_eq "p
1
1" "$OUT" "-v ro and --tmpfs"
run_nook run --rootfs "$ROOT" --mount "type=bind,src=$T/proj,dst=/m" -- sh -c 'echo w > /m/new'
assert_eq w "$(cat "$T/proj/new")" "--mount bind writes to the host"
run_nook run --rootfs "$ROOT" --workspace :scratch -- pwd
assert_eq /workspace "$OUT" "the process starts in the workspace"
run_nook run --rootfs "$ROOT" -v "$T/proj:/src:r0" -- true
assert_eq 125 "$RC" "a :ro typo"
assert_contains "$ERR" "r0" "the typo is named"
run_nook run --rootfs "$ROOT" -v "$T/nope:/src" -- true
assert_eq 125 "$RC" "a missing source"
run_nook run --rootfs "$ROOT" -v "$T/proj/file:/tmp" -- true
assert_eq 125 "$RC" "a file onto a directory"
run_nook run --rootfs "$ROOT" -v "$T/proj:/proc/x" -- true
assert_eq 125 "$RC" "a destination under /proc"
ok "cli mounts"

# a closed stdin (a batch job) reads as end of file: -i neither hangs nor takes nook's own
# fds for the workload's input (issue 14)
set +e
OUT=$(timeout 20 "$NOOK" run -i --network none --rootfs "$ROOT" -- sh -c 'cat; echo done' <&- 2>"$T/err")
RC=$?
set -e
assert_eq "0 done" "$RC $OUT" "run -i with stdin closed: $(cat "$T/err")"
run_nook session create --name "cs$$" --network none --rootfs "$ROOT"
echo "cs$$" >>"$T/envs"
set +e
OUT=$(timeout 20 "$NOOK" exec -i "cs$$" sh -c 'cat; echo done' <&- 2>"$T/err")
RC=$?
set -e
assert_eq "0 done" "$RC $OUT" "exec -i with stdin closed: $(cat "$T/err")"
run_nook session rm "cs$$"
ok "a closed stdin is end of file"

# -it with input that is not a terminal (a script, /dev/null): its end is the terminal's
# EOF character, which an interactive shell takes as its end even when it arrives before
# the shell has switched to its line editor (TERM=xterm: busybox sh edits lines then)
set +e
TERM=xterm timeout 20 "$NOOK" run -it --network none --rootfs "$ROOT" sh </dev/null >"$T/out" 2>"$T/err"
RC=$?
set -e
assert_eq 0 "$RC" "run -it sh </dev/null ends (124: it waited): $(cat "$T/err")"
set +e
OUT=$(echo 'echo from-script; exit 3' | TERM=xterm timeout 20 "$NOOK" run -it --network none --rootfs "$ROOT" sh 2>"$T/err")
RC=$?
set -e
assert_eq 3 "$RC" "run -it sh reading a script: $(cat "$T/err")"
assert_contains "$OUT" "from-script" "the script ran in the terminal"
set +e
OUT=$(printf 'a\nb\n' | TERM=xterm timeout 20 "$NOOK" run -it --network none --rootfs "$ROOT" sh -c 'cat >/dev/null; echo cat-ended' 2>"$T/err")
RC=$?
set -e
assert_eq 0 "$RC" "cat in a terminal sees the end of piped input: $(cat "$T/err")"
assert_contains "$OUT" "cat-ended" "cat ended"
ok "-it with input that is not a terminal ends when the input does"
