#!/bin/sh
# Processes in a prepared session: the warm path (several processes, state shared),
# a pty with its size, stdin written through stream_io, output read by cursor from
# another process after the starter exited, timeout, grace escalation, stats, exit codes.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
session_up "$EID"

run_in '["sh","-c","echo hi > /tmp/x"]'
run_in '["cat","/tmp/x"]'
assert_eq hi "$STDOUT" "a file written by one process is seen by the next (warm path)"

run_in '["sh","-c","tty; stty size"]' '"terminal_mode":"pty","nook":{"tty_rows":33,"tty_cols":101}'
assert_contains "$STDOUT" "/dev/pts/0" "the process has a terminal of the session's devpts"
assert_contains "$STDOUT" "33 101" "window size"
ok "pty"

run_in '["sh","-c","exit 7"]'
assert_eq 7 "$CODE" "exit code"
assert_eq failed "$STATUS" "terminal status of a non-zero exit"

# stdin: write, then close; the process sees EOF
start_in '["sh","-c","read a; read b; echo got:$a:$b"]' '"nook":{"stdin_open":true}'
[ "$RC" -eq 0 ] || fail "start: $OUT"
P=$(printf '%s\n' "$OUT" | json_query 'j["process_ref"]')
call_ok stream_io "{\"process_ref\":\"$P\",\"stream\":\"stdin\",\"data\":\"one\\n\"}"
call_ok stream_io "{\"process_ref\":\"$P\",\"stream\":\"stdin\",\"data\":\"dHdvCg==\",\"encoding\":\"base64\",\"close\":true}"
call_ok stream_io "{\"process_ref\":\"$P\",\"stream\":\"stdout\",\"cursor\":0,\"wait_ms\":5000}"
f=$(printf '%s\n' "$OUT" | json_query 'j.get("data","")')
assert_eq "got:one:two" "$f" "stdin reached the process"
ok "stdin through stream_io"

# output read by cursor from other processes (each `nook call` is one), resumable
start_in '["sh","-c","echo aaaa; sleep 0.3; echo bbbb"]'
P=$(printf '%s\n' "$OUT" | json_query 'j["process_ref"]')
call_ok stream_io "{\"process_ref\":\"$P\",\"stream\":\"stdout\",\"cursor\":0,\"max_bytes\":2,\"wait_ms\":5000}"
assert_eq aa "$(printf '%s\n' "$OUT" | json_query 'j["data"]')" "first frame"
assert_eq 2 "$(printf '%s\n' "$OUT" | json_query 'j["cursor"]')" "cursor after the first frame"
call_ok stream_io "{\"process_ref\":\"$P\",\"stream\":\"stdout\",\"wait_ms\":5000}"
assert_eq "aa" "$(printf '%s\n' "$OUT" | json_query 'j["data"].split(chr(10))[0]')" "the next read resumes where the last ended"
sleep 0.5
call_ok stream_io "{\"process_ref\":\"$P\",\"stream\":\"stdout\",\"cursor\":5,\"wait_ms\":5000}"
assert_eq "bbbb" "$(printf '%s\n' "$OUT" | json_query 'j["data"].strip()')" "read from any cursor"
assert_eq true "$(printf '%s\n' "$OUT" | json_query 'j["eof"]')" "eof at the end"
ref=$(printf '%s\n' "$OUT" | json_query 'j["content_refs"][0]')
call_ok read_content "{\"content_ref\":\"$ref\"}"
assert_eq "bbbb" "$(printf '%s\n' "$OUT" | json_query 'j["data"].strip()')" "a content ref reads back"
ok "cursor reads"

# timeout
run_in '["sleep","30"]' '"timeout_ms":300'
assert_eq timed_out "$STATUS" "terminal status after the timeout"
assert_eq 137 "$CODE" "exit code after the timeout (SIGKILL)"
ok "timeout kills"

# grace: TERM is ignored, KILL follows after grace_ms
start_in '["sh","-c","trap \"\" TERM; echo ready; sleep 30"]'
P=$(printf '%s\n' "$OUT" | json_query 'j["process_ref"]')
call_ok stream_io "{\"process_ref\":\"$P\",\"stream\":\"stdout\",\"cursor\":0,\"wait_ms\":5000}"
call_ok collect_stats "{\"process_ref\":\"$P\"}"
n=$(printf '%s\n' "$OUT" | json_query 'j["process_count"]')
[ "$n" -ge 1 ] || fail "process count while running: $n"
[ "$(printf '%s\n' "$OUT" | json_query 'j["memory_bytes"]')" -gt 0 ] || fail "memory while running"
assert_eq null "$(printf '%s\n' "$OUT" | json_query 'j.get("exit_code")')" "no exit code while running"
call_ok signal_process "{\"process_ref\":\"$P\",\"signal\":\"terminate\",\"grace_ms\":300}"
assert_eq true "$(printf '%s\n' "$OUT" | json_query 'j["delivered"]')" "delivered"
sleep 1
call_ok collect_stats "{\"process_ref\":\"$P\"}"
assert_eq 137 "$(printf '%s\n' "$OUT" | json_query 'j["exit_code"]')" "killed after the grace period"
call_ok signal_process "{\"process_ref\":\"$P\",\"signal\":\"kill\",\"grace_ms\":0}"
assert_eq false "$(printf '%s\n' "$OUT" | json_query 'j["delivered"]')" "a signal to an exited process is not delivered"
ok "grace escalation"

session_down "$EID"
ok "processes"
