#!/bin/sh
# `nook serve --stdio` speaks the contract as JSON-RPC 2.0: the reference client
# (docs/nook_client.py) runs a whole lifecycle; then one connection drives sessions
# stage by stage and in a batch, gets the protocol's errors (parse error, invalid
# request, unknown method, invalid params, an oversized line) and no answer to a
# notification that still runs; a call of session B is answered while a call of
# session A waits, and a later call on A's process waits behind it until
# $/cancelRequest answers it with Cancellation; wait_exit and subscribe_output see a
# process end; a holder killed behind the server's back does not stay its zombie; at the end of its input the server answers what it read and exits 0,
# and no session is left.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
client="$NOOK_SOURCE_ROOT/docs/nook_client.py"

# The reference client: a whole lifecycle, the command's output printed at the end.
set +e
out=$(cd "$T" && python3 "$client" --nook "$NOOK" testroot sh -c 'echo hello from nook' 2>&1)
rc=$?
set -e
assert_eq 0 "$rc" "docs/nook_client.py exit ($out)"
assert_contains "$out" "output: hello from nook" "the reference client prints the command's output"
assert_contains "$out" '"terminal_status": "completed"' "the reference client's start_process"
assert_contains "$out" 'cleanup: {"cleanup_plan_ref"' "the reference client cleans up"
assert_contains "$out" '"status": "completed"' "the reference client's cleanup status"
ok "docs/nook_client.py runs a lifecycle through nook serve --stdio"

cd "$T"
EID=$EID python3 - "$client" <<'EOF' || fail "the JSON-RPC session (see above)"
import json, os, subprocess, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(sys.argv[1]))
from nook_client import Client, NookError

NOOK, EID = os.environ["NOOK"], os.environ["EID"]


def fail(what):
    print(f"FAIL: {what}", file=sys.stderr, flush=True)
    sys.exit(1)


def check(cond, what):
    if not cond:
        fail(what)


def ok(what):
    print(f"ok - {what}", flush=True)


capture = {"default_capture": "raw_content_if_policy_allows", "max_bytes": 1048576}


def env(name):
    return {"environment_id": f"{EID}-{name}",
            "spec": {"filesystem": {"root": "writable_layer"}, "io_policy": {"stdout": capture, "stderr": capture}}}


A, B, C = env("a"), env("b"), env("c")


def stages(e):
    return [("prepare_session", {"environment": e}),
            ("prepare_rootfs", {"rootfs": {"rootfs_ref": "testroot"}, "environment_id": e["environment_id"]}),
            ("prepare_environment", {"environment": e})]


def start(e, pid, argv, wait_ms=None, stdin=False):
    p = {"environment": e, "process": {"process_id": pid, "argv": argv},
         "effect_intent": {"effect_id": f"{e['environment_id']}-{pid}"}}
    if wait_ms is not None:
        p["wait_ms"] = wait_ms
    if stdin:
        p["process"]["nook"] = {"stdin_open": True}
    return p


def release(ref, data):
    """Writes the stdin of a process through `nook call`: another process, outside the server."""
    r = subprocess.run([NOOK, "call", "stream_io"], capture_output=True, text=True,
                       input=json.dumps({"process_ref": ref, "stream": "stdin", "data": data, "close": True}))
    check(r.returncode == 0, f"nook call stream_io (stdin): {r.stdout} {r.stderr}")


def answered(c, i):
    with c.cond:
        return json.dumps(i) in c.answers


def error_of(c, i):
    m = c.answer(i)
    check("error" in m and "result" not in m, f"request {i} must fail: {m}")
    return m["error"]


c = Client(NOOK)

# -- calls answer with the call's own result
check(c.call("runtime_ref") == "nook.userns", "runtime_ref")
rep = c.call("capability_report")
check(rep["report_ref"].startswith("report-") and "capabilities" in rep, f"capability_report: {rep}")
ok("runtime_ref and capability_report")

# -- session A, stage by stage
for method, params in stages(A):
    res = c.call(method, params)
    check(isinstance(res, str) and res, f"{method}: {res}")
r = c.call("start_process", start(A, "hi", ["echo", "hi"], 10000))
check(r["terminal_status"] == "completed" and r["io_frames"][0]["data"] == "hi\n", f"start_process with wait_ms: {r}")
f = c.call("stream_io", {"process_ref": r["process_ref"], "stream": "stdout", "cursor": 0})
check(f["data"] == "hi\n" and f["eof"] is True and f["exit_code"] == 0, f"stream_io: {f}")
st = c.call("collect_stats", {"process_ref": r["process_ref"]})
check(st["exit_code"] == 0 and st["process_ref"] == r["process_ref"], f"collect_stats: {st}")
ok("prepare_session, prepare_rootfs, prepare_environment, start_process, stream_io, collect_stats")

# -- a failing call: error.data is the AgentError, as nook call prints it
err = error_of(c, c.request("start_process", start(env("none"), "x", ["true"])))
check(err["code"] == -32000, f"a failing call's code: {err}")
check(err["data"]["Classified"]["kind"] == "InvalidStateTransition", f"a failing call's AgentError: {err}")
check(err["message"] == err["data"]["Classified"]["context"]["message"], f"error.message: {err}")
ok("a failing call answers code -32000 with its AgentError in error.data")

# -- a batch: session B's three stages in one line, answered by one line, an array in
# any order; they ran in order (one environment), so each found the stage before it
msgs = [c.message(m, p) for m, p in stages(B)]
c.send(msgs)
answers = [c.answer(m["id"]) for m in msgs]
check(all("result" in a for a in answers), f"batch answers: {answers}")
with c.cond:
    batch_lines = [line for line in c.received if isinstance(line, list)]
check(len(batch_lines) == 1 and sorted(a["id"] for a in batch_lines[0]) == sorted(m["id"] for m in msgs),
      f"one array line answers the batch: {batch_lines}")
ok("a batch is answered by one array; the stages of one environment ran in order")

# -- protocol errors; the connection goes on after each
c.send("{not json")
e = c.answer(None)["error"]
check(e["code"] == -32700 and "ContractViolation" in e["data"], f"parse error: {e}")
c.send({"jsonrpc": "2.0", "id": "x", "method": "no_such_call"})
e = error_of(c, "x")
check(e["code"] == -32601 and "no_such_call" in e["data"]["ContractViolation"]["message"], f"method not found: {e}")
c.send({"jsonrpc": "2.0", "id": "y", "method": "collect_stats", "params": [1]})
check(error_of(c, "y")["code"] == -32602, "params that are not an object: invalid params")
c.send({"jsonrpc": "1.0", "id": "z", "method": "runtime_ref"})
check(error_of(c, "z")["code"] == -32600, "jsonrpc 1.0: invalid request")
c.send([])
check(c.answer(None)["error"]["code"] == -32600, "an empty batch: invalid request")
pad = "x" * (4 * 1024 * 1024)
c.send('{"jsonrpc":"2.0","id":"big","method":"runtime_ref","params":{"pad":"' + pad + '"}}')
e = c.answer(None)["error"]
check(e["code"] == -32600 and "at most 4194304 bytes" in e["data"]["ContractViolation"]["message"], f"oversized: {e}")
check(c.call("runtime_ref") == "nook.userns", "the connection goes on after an oversized line")
ok("parse error, unknown method, invalid params, invalid request, empty batch, oversized line")

# -- a notification runs and is not answered: it prepares session C, and the next call on
# C (same environment: after it) finds the session
c.send({"jsonrpc": "2.0", "method": "prepare_session", "params": {"environment": C}})
for method, params in stages(C)[1:]:
    c.call(method, params)
ok("a notification runs (session C exists afterwards)")

# -- two sessions at once; one process's calls in order; $/cancelRequest of a queued call
pa = c.call("start_process", start(A, "reader", ["sh", "-c", "read x; echo got-$x"], stdin=True))["process_ref"]
r1 = c.request("stream_io", {"process_ref": pa, "stream": "stdout", "cursor": 0, "wait_ms": 60000})
r2 = c.request("collect_stats", {"process_ref": pa})
r3 = c.request("start_process", start(B, "b1", ["echo", "b"], 10000))
b = c.wait(r3)
check(b["terminal_status"] == "completed" and b["io_frames"][0]["data"] == "b\n", f"session B's call: {b}")
check(not answered(c, r1), "A's stream_io cannot be answered before its process is released")
check(not answered(c, r2), "a call on A's process waits behind the one before it")
ok("a call of session B is answered while a call of session A waits; the next call on A's process waits")
r4 = c.request("$/cancelRequest", {"id": r2})
check(c.wait(r4) == {"cancelled": True}, "$/cancelRequest of a queued call")
e = error_of(c, r2)
cl = e["data"]["Classified"]
check(e["code"] == -32000 and cl["kind"] == "Cancellation" and cl["retry"] == "NotRetryable", f"cancelled: {e}")
check(sorted(cl["context"]) == sorted(["message", "policy_refs", "source", "destination", "subject", "privacy",
                                       "redacted_summary"]), f"context: {cl}")
check(sorted(cl["causal_ids"]) == sorted(["run_id", "turn_id", "attempt_id", "event_id", "tool_call_id", "span_id",
                                          "related"]), f"causal_ids: {cl}")
check(not answered(c, r1), "the waiting call is still waiting")
release(pa, "x\n")
f = c.wait(r1)
check("got-x" in f.get("data", ""), f"A's stream_io after the release: {f}")
check(c.call("$/cancelRequest", {"id": r1}) == {"cancelled": False}, "cancelling an answered request")
ok("$/cancelRequest answers a queued call with a Classified Cancellation; the waiting call then finishes")

# -- wait_exit and subscribe_output
pc = c.call("start_process", start(A, "talker", ["sh", "-c", "echo one; read x; echo two-$x"], stdin=True))[
    "process_ref"]
s1 = c.request("subscribe_output", {"process_ref": pc})
w1 = c.request("wait_exit", {"process_ref": pc})
check(c.call("wait_exit", {"process_ref": pc, "timeout_ms": 100}) == {"process_ref": pc, "exited": False},
      "wait_exit with a timeout on a running process")
s2 = c.request("subscribe_output", {"process_ref": pc, "stream": "stderr"})
check(c.call("$/cancelRequest", {"id": s2}) == {"cancelled": True}, "$/cancelRequest of a subscription")
check(error_of(c, s2)["data"]["Classified"]["kind"] == "Cancellation", "a cancelled subscription")
with c.cond:
    check(c.cond.wait_for(lambda: any("one" in n["params"].get("data", "") for n in c.notifications), 60),
          "an output notification before the process ends")
check(not answered(c, s1) and not answered(c, w1), "the subscription and the wait last while the process runs")
release(pc, "y\n")
res = c.wait(s1)
check(res["eof"] is True and res["exit_code"] == 0 and res["process_ref"] == pc, f"subscribe_output's answer: {res}")
check(c.wait(w1) == {"process_ref": pc, "exited": True, "exit_code": 0}, "wait_exit's answer")
with c.cond:
    lines = list(c.received)
notes = [i for i, m in enumerate(lines) if isinstance(m, dict) and m.get("method") == "output" and
         m["params"]["stream_ref"] == f"{pc}/stdout"]
frames = [lines[i]["params"] for i in notes]
check("".join(f.get("data", "") for f in frames) == "one\ntwo-y\n", f"output notifications: {frames}")
check(frames[-1]["eof"] is True and all(not f.get("eof") for f in frames[:-1]), "eof on the last frame only")
at = [i for i, m in enumerate(lines) if isinstance(m, dict) and m.get("id") == s1][0]
check(max(notes) < at, "every notification comes before the subscription's answer")
ok("subscribe_output notifies each frame up to eof, then answers; wait_exit answers the exit code")

# -- a holder killed behind the server's back (it is the server's child) is reaped, not
# left a zombie; cleanup then removes its session
D = env("d")
for method, params in stages(D):
    c.call(method, params)
ls = json.loads(subprocess.run([NOOK, "session", "ls", "--json"], capture_output=True, text=True).stdout)
holder = [x["holder_pid"] for x in ls if x["environment_id"] == D["environment_id"]][0]
os.kill(holder, 9)
for _ in range(300):
    if not os.path.exists(f"/proc/{holder}"):
        break
    time.sleep(0.05)
check(not os.path.exists(f"/proc/{holder}"), f"the killed holder {holder} is still a zombie of the server")
ok("a holder that dies behind the server's back is reaped")

# -- cleanup; at the end of the input every request read is answered, and the server exits 0
for e in (A, B, C, D):
    res = c.call("cleanup", {"environment": e, "cleanup_plan_ref": f"{e['environment_id']}-cleanup"})
    check(res["status"] == "completed", f"cleanup: {res}")
last = c.request("runtime_ref")
rc = c.close()
check(rc == 0, f"the server's exit code at the end of its input: {rc}")
check(c.wait(last) == "nook.userns", "a request sent just before the end of the input is answered")
with c.cond:
    flat = [m for line in c.received for m in (line if isinstance(line, list) else [line])]
check(all("id" in m or m.get("method") == "output" for m in flat), "only answers and output notifications")
nulls = [m for m in flat if "id" in m and m["id"] is None]
check(len(nulls) == 3, f"the notification got no answer (id null: only the three refused lines): {nulls}")
ok("end of input: everything read is answered, exit 0")
EOF

for e in a b c d; do
        ref=$(session_ref "$EID-$e")
        [ -z "$(holders_of "$ref")" ] || fail "a holder of session $e is left"
        [ ! -e "$(run_dir)/$ref" ] || fail "the run dir of session $e is left"
done
ok "nook serve --stdio"
