#!/bin/sh
# kill -9 of `nook serve` needs nothing of its own: every call went through the journal
# as `nook call`'s do.  Its sessions outlive it; the one it owned (owned_by_caller) is
# reclaimed by `nook gc` once it is gone, the one nobody owned is removed by `cleanup`
# from another process; the start_process it was waiting on is reported interrupted;
# no holder, process or run dir is left, and both environments work again.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
client="$NOOK_SOURCE_ROOT/docs/nook_client.py"

EID=$EID python3 - "$client" <<'EOF' >"$T/py.out" 2>&1 || fail "the server before the kill: $(cat "$T/py.out")"
import os, signal, subprocess, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(sys.argv[1]))
from nook_client import Client

eid = os.environ["EID"]
c = Client(os.environ["NOOK"])
for name, ext in (("owned", {"owned_by_caller": True}), ("kept", {})):
    env = {"environment_id": f"{eid}-{name}", "spec": {}}
    c.call("prepare_session", {"environment": env, "nook": ext})
    c.call("prepare_rootfs", {"rootfs": {"rootfs_ref": "testroot"}, "environment_id": env["environment_id"]})
    c.call("prepare_environment", {"environment": env, "nook": ext})
    c.call("start_process", {"environment": env, "wait_ms": 0,
                             "process": {"process_id": "long", "argv": ["sleep", f"60.{os.getppid()}"]},
                             "effect_intent": {"effect_id": f"{eid}-{name}-long"}})
# a call in flight when the server dies: start_process waiting for its process
kept = {"environment_id": f"{eid}-kept", "spec": {}}
c.request("start_process", {"environment": kept, "wait_ms": 60000,
                            "process": {"process_id": "cut", "argv": ["sleep", f"30.{os.getppid()}"]},
                            "effect_intent": {"effect_id": f"{eid}-kept-cut"}})
for _ in range(400):
    if subprocess.run(["pgrep", "-u", str(os.getuid()), "-f", f"^sleep 30\\.{os.getppid()}$"],
                      stdout=subprocess.DEVNULL).returncode == 0:
        break
    time.sleep(0.05)
else:
    sys.exit("the cut process never started")
os.kill(c.proc.pid, signal.SIGKILL)
print("server exit", c.proc.wait(), flush=True)
EOF
assert_contains "$(cat "$T/py.out")" "server exit -9" "the server was killed"

owned=$(session_ref "$EID-owned")
kept=$(session_ref "$EID-kept")
h_owned=$(holder_pid "$owned")
h_kept=$(holder_pid "$kept")
alive "$h_owned" || fail "the owned session's holder died with the server"
alive "$h_kept" || fail "the kept session's holder died with the server"
ok "both sessions outlive the server"

# the call it was waiting on: recorded as begun, never finished
cut_status() {
        "$NOOK" journal --json | json_query "[c['status'] for c in j if c['environment_id'] == '$EID-kept' and c['method'] == 'start_process'][-1]"
}
st=$(cut_status)
case "$st" in intent | interrupted) ;; *) fail "the journal's status of the start_process cut short: $st" ;; esac

run_nook gc
assert_eq 0 "$RC" "gc ($ERR)"
sleep 0.2
alive "$h_owned" && fail "gc left the holder of the session the dead server owned"
[ ! -e "$(run_dir)/$owned" ] || fail "gc left the owned session's run dir"
alive "$h_kept" || fail "gc took the session nobody owned (as it does not for nook call's)"
ok "nook gc reclaims the session the dead server owned, and only that one"

session_down "$EID-kept"
assert_eq interrupted "$(cut_status)" "the journal's status of the start_process cut short, after cleanup"
sleep 0.2
alive "$h_kept" && fail "cleanup left the kept session's holder"
[ ! -e "$(run_dir)/$kept" ] || fail "cleanup left the kept session's run dir"
pgrep -u "$(id -u)" -f "^sleep (60|30)\.$$\$" >/dev/null && fail "a workload of the sessions is left"
ok "cleanup from another process removes the session nobody owned"

# both environments work again, through a new server
EID=$EID python3 - "$client" <<'EOF' || fail "the environments after the kill"
import os, sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(sys.argv[1]))
from nook_client import Client
c = Client(os.environ["NOOK"])
for name, ext in (("owned", {"owned_by_caller": True}), ("kept", {})):
    env = {"environment_id": f"{os.environ['EID']}-{name}", "spec": {}}
    c.call("prepare_session", {"environment": env, "nook": ext})
    c.call("prepare_rootfs", {"rootfs": {"rootfs_ref": "testroot"}, "environment_id": env["environment_id"]})
    c.call("prepare_environment", {"environment": env, "nook": ext})
    r = c.call("start_process", {"environment": env, "wait_ms": 20000, "process": {"process_id": "again",
                                 "argv": ["true"]}, "effect_intent": {"effect_id": f"{env['environment_id']}-again"}})
    if r["terminal_status"] != "completed":
        sys.exit(f"{name} again: {r}")
    if c.call("cleanup", {"environment": env, "cleanup_plan_ref": "again"})["status"] != "completed":
        sys.exit(f"cleanup of {name}")
sys.exit(c.close())
EOF
ok "kill -9 of nook serve: gc and cleanup leave nothing"
