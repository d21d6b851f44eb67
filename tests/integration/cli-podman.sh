#!/bin/sh
# A podman user's verbs on nook's sessions and processes (issue 14): stop (SIGTERM, then
# SIGKILL after -t), wait (prints the code, exits 0), rm (refused while processes run,
# -f), inspect (JSON), top, port, rmi, version, info; ps -q, logs --tail/--since/-t;
# unique starts of refs (an ambiguous one lists the candidates); unknown verbs answered
# with what nook uses instead.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
cd "$T"

# ---- verbs nook does not have, typos ----
run_nook pull docker.io/library/debian
assert_eq 125 "$RC" "pull"
assert_contains "$ERR" "nook has no registry" "pull says why"
assert_contains "$ERR" "nook image import" "pull says what to use"
run_nook build .
assert_contains "$ERR" "podman save -o app.tar app && nook image import app.tar" "build says what to use"
run_nook pause x
assert_contains "$ERR" "nook has no pause" "pause"
run_nook stpo x
assert_eq 125 "$RC" "a typo"
assert_contains "$ERR" "did you mean 'nook stop'?" "the near verb"
ok "unknown verbs"

# ---- version, info ----
run_nook version --format json
assert_eq 0 "$RC" "version --format json: $ERR"
assert_eq "$("$NOOK" --version | sed 's/^nook version //')" "$(echo "$OUT" | json_query 'j["version"]')" "version"
run_nook info --format json
assert_eq 0 "$RC" "info --format json: $ERR"
assert_eq "$(uname -r)" "$(echo "$OUT" | json_query 'j["host"]["kernel"]')" "info: the kernel"
assert_eq true "$(echo "$OUT" | json_query 'j["host"]["rootless"]')" "info: rootless"
assert_eq "$XDG_DATA_HOME/nook" "$(echo "$OUT" | json_query 'j["store"]["data_dir"]')" "info: the data dir"
assert_eq "$(run_dir)" "$(echo "$OUT" | json_query 'j["run_dir"]')" "info: the run dir"
assert_eq "$("$NOOK" caps --json | json_query '[f["name"] for f in j["findings"]]')" \
        "$(echo "$OUT" | json_query '[f["name"] for f in j["findings"]]')" "info: the findings of nook caps"
run_nook info --format '{{.Host.Kernel}}'
assert_eq 125 "$RC" "a Go template"
assert_contains "$ERR" "jq" "what to use instead"
ok "version and info"

# ---- stop, wait, logs ----
S="pod$$"
echo "$S" >>"$T/envs"
run_nook run -d --name "$S" --network none --rootfs "$ROOT" -- \
        sh -c 'trap "echo got-term; exit 3" TERM; echo one; echo two; while :; do sleep 0.1; done'
assert_eq 0 "$RC" "run -d: $ERR"
main=$(printf '%s\n' "$OUT" | tail -n 1)
run_nook stop -t 5 "$S"
assert_eq 0 "$RC" "stop: $ERR"
assert_eq "$S" "$OUT" "stop prints what it stopped"
run_nook wait "$S"
assert_eq "0 3" "$RC $OUT" "wait prints the code of the trap SIGTERM ran"
run_nook logs "$main"
assert_eq "one
two
got-term" "$OUT" "the process saw SIGTERM"
run_nook logs --tail 1 "$S"
assert_eq got-term "$OUT" "logs --tail 1"
run_nook logs --tail 0 "$S"
assert_eq "" "$OUT" "logs --tail 0"
run_nook logs -t "$S"
printf '%s\n' "$OUT" | grep -q -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{2}:[0-9]{2} one$' ||
        fail "logs -t: an RFC 3339 time before each line: $OUT"
assert_eq 3 "$(printf '%s\n' "$OUT" | wc -l)" "logs -t: every line"
run_nook logs --since 10m "$S"
assert_eq "one
two
got-term" "$OUT" "logs --since 10m: all of it"
run_nook logs --since "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" "$S"
assert_eq "0 " "$RC $OUT" "logs --since a time to come: nothing"
run_nook logs --since yesterday "$S"
assert_eq 125 "$RC" "a --since nook cannot read"

# a process that ignores SIGTERM is killed after -t
run_nook exec -d "$S" -- sh -c 'trap "" TERM; while :; do sleep 0.1; done'
stubborn=$(printf '%s\n' "$OUT" | tail -n 1)
t0=$(date +%s%N)
run_nook stop -t 1 "$stubborn"
t1=$(date +%s%N)
assert_eq 0 "$RC" "stop -t 1: $ERR"
[ $(((t1 - t0) / 1000000)) -ge 900 ] || fail "SIGKILL came before -t 1 was over ($(((t1 - t0) / 1000000)) ms)"
run_nook wait "$stubborn"
assert_eq "0 137" "$RC $OUT" "wait: killed by SIGKILL"
run_nook exec -d "$S" -- sh -c 'exit 7'
run_nook wait "$(printf '%s\n' "$OUT" | tail -n 1)"
assert_eq "0 7" "$RC $OUT" "wait prints the exit code and exits 0"
run_nook wait "no-such-$$"
assert_eq 125 "$RC" "wait for nothing"
ok "stop, wait, logs"

# ---- ps -q, unique starts of refs ----
run_nook ps -q "$S"
assert_eq 3 "$(printf '%s\n' "$OUT" | grep -c '^p-')" "ps -q: one ref a line"
assert_not_contains "$OUT" "PROCESS" "ps -q: no header"
short=$(printf '%s' "$main" | cut -c1-$((${#main} - 6)))
run_nook logs --tail 1 "$short"
assert_eq "0 got-term" "$RC $OUT" "a unique start of a process ref"
sref=$(session_ref "$S")
run_nook ps -q "$(printf '%s' "$sref" | cut -c1-10)"
assert_eq 3 "$(printf '%s\n' "$OUT" | grep -c '^p-')" "a unique start of a session ref"
run_nook ps -q "$(printf '%s' "$S" | cut -c1-$((${#S} - 1)))"
assert_eq 125 "$RC" "a start of a session's name is no name (names are taken whole)"
common=$(printf '%s' "$main" | cut -d- -f1-2)
run_nook logs "$common-"
assert_eq 125 "$RC" "an ambiguous start"
assert_contains "$ERR" "is the start of more than one" "the ambiguity is named"
assert_contains "$ERR" "$main" "the candidates are listed"
assert_contains "$ERR" "$stubborn" "every candidate"
ok "ps -q and short refs"

# ---- inspect, top ----
run_nook inspect "$S"
assert_eq 0 "$RC" "inspect: $ERR"
assert_eq "session $S" "$(echo "$OUT" | json_query '"%s %s" % (j[0]["kind"], j[0]["environment_id"])')" \
        "inspect: the session"
assert_eq 3 "$(echo "$OUT" | json_query 'len(j[0]["processes"])')" "inspect: its processes"
run_nook inspect --format json "$main"
assert_eq "process $main 3" "$(echo "$OUT" | json_query '"%s %s %s" % (j[0]["kind"], j[0]["process_ref"], j[0]["exit_code"])')" \
        "inspect a process"
run_nook inspect --format '{{.State}}' "$S"
assert_eq 125 "$RC" "inspect with a Go template"
run_nook exec -d "$S" -- sleep 77
sleeper=$(printf '%s\n' "$OUT" | tail -n 1)
sleep 0.3
run_nook top "$S"
assert_eq 0 "$RC" "top: $ERR"
printf '%s\n' "$OUT" | head -n 1 | grep -q -E '^USER +PID +PPID +ELAPSED +COMMAND$' || fail "top's header: $OUT"
printf '%s\n' "$OUT" | grep -q -E '^0 +[0-9]+ +0 +[0-9]+[a-z]+ +sleep$' || fail "top: the sleep, as uid 0 in the session: $OUT"
assert_not_contains "$OUT" "nook-" "top: nook's own processes"
run_nook stop -t 0 "$sleeper"
run_nook wait "$sleeper"
assert_eq "0 137" "$RC $OUT" "stop -t 0 is SIGKILL"
run_nook top "$S"
assert_not_contains "$OUT" "sleep" "top after stop"
ok "inspect and top"

# ---- rm ----
run_nook exec -d "$S" -- sleep 100
holder=$(holder_pid "$sref")
run_nook rm "$S"
assert_eq 125 "$RC" "rm of a session with a running process"
assert_contains "$ERR" "nook rm -f $S" "rm says how"
alive "$holder" || fail "a refused rm removed the session"
run_nook rm -f "$S"
assert_eq "0 $S" "$RC $OUT" "rm -f"
sleep 0.2
alive "$holder" && fail "holder left after rm -f"
run_nook session create --name "$S-b" --network none --rootfs "$ROOT"
echo "$S-b" >>"$T/envs"
run_nook rm "$S-b"
assert_eq 0 "$RC" "rm of a session with no running process: $ERR"
run_nook session inspect "$S-b"
assert_eq 125 "$RC" "the session is gone"
ok "rm"

# ---- rmi ----
tar -C "$ROOT" -cf "$T/root.tar" .
run_nook image import --name "podrmi$$" "$T/root.tar"
assert_eq 0 "$RC" "import: $ERR"
run_nook rmi "podrmi$$"
assert_eq 0 "$RC" "rmi: $ERR"
run_nook images --json
assert_not_contains "$OUT" "podrmi$$" "rmi removed the image"
ok "rmi"

# ---- port ----
hp=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run_nook run -d --name "$S-p" --network slirp4netns -p "127.0.0.1:$hp:80" --rootfs "$ROOT" -- sleep 100
echo "$S-p" >>"$T/envs"
assert_eq 0 "$RC" "run -d -p: $ERR"
run_nook port "$S-p"
assert_eq "0 80/tcp -> 127.0.0.1:$hp" "$RC $OUT" "port: podman's line"
run_nook port "$S-p" 80
assert_eq "127.0.0.1:$hp" "$OUT" "port SESSION PORT"
run_nook port "$S-p" 81
assert_eq 125 "$RC" "a port not published"
run_nook rm -f "$S-p"
assert_eq 0 "$RC" "rm -f: $ERR"
ok "port"

for v in stop rm wait inspect top port rmi version info; do
        run_nook "$v" --help
        assert_eq 0 "$RC" "$v --help"
done
ok "--help"
