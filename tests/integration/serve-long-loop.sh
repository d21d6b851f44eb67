#!/bin/sh
# A long-lived `nook serve` does not grow: after a warm-up that puts each of its 8
# workers to work, 300 cycles of start_process (waited), stream_io, collect_stats and
# wait_exit leave its open fds and its threads exactly as they were, and its resident
# memory within 8 MiB (not measured under ASan, whose leak check runs at the server's
# exit instead: a leak there fails its exit code). Sixteen sessions prepared at once on
# those workers all succeed: the library keeps no process-wide buffer on that path.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
asan=false
grep -q __asan_init "$NOOK" && asan=true

EID=$EID ASAN=$asan python3 - "$NOOK_SOURCE_ROOT/docs/nook_client.py" <<'EOF' || fail "the long loop (see above)"
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(sys.argv[1]))
from nook_client import Client

eid, asan = os.environ["EID"], os.environ["ASAN"] == "true"


def fail(what):
    print(f"FAIL: {what}", file=sys.stderr, flush=True)
    sys.exit(1)


c = Client(os.environ["NOOK"], serve_args=("--workers", "8"))
pid = c.proc.pid
cap = {"default_capture": "raw_content_if_policy_allows"}
envs = [{"environment_id": f"{eid}-l{i}", "spec": {"filesystem": {"root": "writable_layer"},
                                                     "io_policy": {"stdout": cap, "stderr": cap}}} for i in range(16)]

# sixteen sessions at once: one batch per stage (calls of different environments run in parallel)
for stage in ("prepare_session", "prepare_rootfs", "prepare_environment"):
    msgs = [c.message(stage, {"rootfs": {"rootfs_ref": "testroot"}, "environment_id": e["environment_id"]}
                      if stage == "prepare_rootfs" else {"environment": e}) for e in envs]
    c.send(msgs)
    bad = [a for a in (c.answer(m["id"]) for m in msgs) if "error" in a]
    if bad:
        fail(f"{len(bad)} of 16 parallel {stage} failed: {bad[0]['error']}")
print("ok - sixteen sessions prepared at once", flush=True)


def start(e, n, argv):
    return {"environment": e, "wait_ms": 20000, "process": {"process_id": n, "argv": argv},
            "effect_intent": {"effect_id": f"{e['environment_id']}-{n}"}}


# warm-up: eight processes of 0.5 s at once hold the eight workers together
msgs = [c.message("start_process", start(envs[i], "warm", ["sleep", "0.5"])) for i in range(8)]
c.send(msgs)
for m in msgs:
    if c.wait(m["id"])["terminal_status"] != "completed":
        fail("warm-up")


def cycle(i):
    e = envs[i % len(envs)]
    r = c.call("start_process", start(e, f"c{i}", ["echo", f"cycle{i}"]))
    ref = r["process_ref"]
    if r["terminal_status"] != "completed" or r["io_frames"][0].get("data") != f"cycle{i}\n":
        fail(f"cycle {i}: {r}")
    if c.call("stream_io", {"process_ref": ref, "stream": "stdout", "cursor": 0}).get("eof") is not True:
        fail(f"cycle {i}: stream_io")
    if c.call("collect_stats", {"process_ref": ref}).get("exit_code") != 0:
        fail(f"cycle {i}: collect_stats")
    if c.call("wait_exit", {"process_ref": ref}) != {"process_ref": ref, "exited": True, "exit_code": 0}:
        fail(f"cycle {i}: wait_exit")


def settled():
    """fds, threads, RSS KiB: once the thread count holds still (a wait's thread ends
    just after its answer is sent)."""
    last = None
    for _ in range(100):
        now = (len(os.listdir(f"/proc/{pid}/fd")), len(os.listdir(f"/proc/{pid}/task")))
        if now == last:
            break
        last = now
        time.sleep(0.05)
    rss = [int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:")][0]
    return last[0], last[1], rss


for i in range(20):
    cycle(i)
fds0, threads0, rss0 = settled()
for i in range(20, 320):
    cycle(i)
fds1, threads1, rss1 = settled()
print(f"fds {fds0} -> {fds1}, threads {threads0} -> {threads1}, RSS {rss0} -> {rss1} KiB", flush=True)
if fds1 != fds0:
    fail(f"the server's open fds grew over 300 cycles: {fds0} -> {fds1}")
if threads1 != threads0:
    fail(f"the server's threads grew over 300 cycles: {threads0} -> {threads1}")
if not asan and rss1 - rss0 > 8192:
    fail(f"the server's resident memory grew by {rss1 - rss0} KiB over 300 cycles")
print("ok - 300 cycles: no fd, thread or memory growth", flush=True)

msgs = [c.message("cleanup", {"environment": e, "cleanup_plan_ref": "c"}) for e in envs]
c.send(msgs)
if any(c.wait(m["id"])["status"] != "completed" for m in msgs):
    fail("cleanup")
rc = c.close()
if rc != 0:
    fail(f"the server's exit code: {rc}")
EOF
for i in $(seq 0 15); do
        [ ! -e "$(run_dir)/$(session_ref "$EID-l$i")" ] || fail "session l$i is left"
done
ok "a long-lived server does not grow"
