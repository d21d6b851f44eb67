#!/bin/sh
# `nook serve --socket PATH`: the socket is created mode 0600; a file that is not a
# socket is never replaced, a stale socket (nobody listens) is, a live one is not; many
# connections run sessions at once; a second uid is refused by the file mode and, past
# it, by the server's SO_PEERCRED check (needs a subuid range to have a second uid: run
# as the test user that has one, see the end); SIGTERM lets the running call finish and
# be answered, answers the queued one with Cancellation, removes the socket, exits 0.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
client="$NOOK_SOURCE_ROOT/docs/nook_client.py"
# a second uid must be able to reach the socket's directory (to prove the mode stops
# it), not list it
chmod 0711 "$T"
S="$T/sock"
mkdir -m 0711 "$S"
sock="$S/nook.sock"
SPID=
trap '[ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null; cleanup_sessions; chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT

# wait_socket PATH: until something accepts connections there (at most 20 s)
wait_socket() {
        python3 - "$1" <<'EOF' || fail "nobody listens on $1: $(cat "$T/serve.err")"
import socket, sys, time
for _ in range(400):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(sys.argv[1])
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
    finally:
        s.close()
sys.exit(1)
EOF
}

# A file that is not a socket is never replaced.
echo keep >"$S/file"
run_nook serve --socket "$S/file"
assert_eq 125 "$RC" "serve on a regular file"
assert_contains "$ERR" "not a socket" "the refusal says why"
assert_eq keep "$(cat "$S/file")" "the file is unchanged"
run_nook serve --stdio --socket "$sock"
assert_eq 125 "$RC" "--stdio and --socket together"
ok "a file that is not a socket is refused; one transport at a time"

# A stale socket (its server is gone: bound, never listening) is replaced.
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).bind(sys.argv[1])' "$sock"
[ -S "$sock" ] || fail "the stale socket was not made"
"$NOOK" serve --socket "$sock" 2>"$T/serve.err" &
SPID=$!
wait_socket "$sock"
assert_contains "$(cat "$T/serve.err")" "removed the stale socket" "the server says it replaced a stale socket"
assert_eq 600 "$(stat -c %a "$sock")" "the socket's mode"
assert_eq "$(id -u)" "$(stat -c %u "$sock")" "the socket's owner"
ok "a stale socket is replaced by one of mode 0600"

# A live socket is not taken over.
run_nook serve --socket "$sock"
assert_eq 125 "$RC" "a second server on a live socket"
assert_contains "$ERR" "another server listens" "the refusal says why"
kill -0 "$SPID" || fail "the first server died"
ok "a live socket is refused"

# Many connections at once, each with its own session.
EID=$EID python3 - "$client" "$sock" <<'EOF' || fail "connections at once"
import os, sys, threading
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(sys.argv[1]))
from nook_client import Client

eid, sock, errors, outs = os.environ["EID"], sys.argv[2], [], {}
cap = {"default_capture": "raw_content_if_policy_allows"}


def lifecycle(n):
    try:
        c = Client(socket_path=sock)
        env = {"environment_id": f"{eid}-conn{n}",
               "spec": {"filesystem": {"root": "writable_layer"}, "io_policy": {"stdout": cap, "stderr": cap}}}
        c.call("prepare_session", {"environment": env})
        c.call("prepare_rootfs", {"rootfs": {"rootfs_ref": "testroot"}, "environment_id": env["environment_id"]})
        c.call("prepare_environment", {"environment": env})
        r = c.call("start_process", {"environment": env, "wait_ms": 20000,
                                     "process": {"process_id": "p", "argv": ["echo", f"conn{n}"]},
                                     "effect_intent": {"effect_id": f"{eid}-conn{n}"}})
        outs[n] = r["io_frames"][0].get("data")
        r = c.call("cleanup", {"environment": env, "cleanup_plan_ref": "c"})
        if r["status"] != "completed":
            errors.append(f"cleanup {n}: {r}")
        c.close()
    except Exception as e:
        errors.append(f"connection {n}: {e!r}")


threads = [threading.Thread(target=lifecycle, args=(n,)) for n in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if errors or outs != {n: f"conn{n}\n" for n in range(4)}:
    print("FAIL:", errors, outs, file=sys.stderr)
    sys.exit(1)
EOF
ok "four connections run four sessions at once"

# A second uid: the file mode refuses it (EACCES at connect); with the mode opened up on
# purpose, the server itself refuses it (SO_PEERCRED) and closes without an answer.
# A second uid without root is a subordinate one: `unshare --map-auto` maps the user's
# /etc/subuid range (newuidmap), and uid 1 inside is one of those ids outside.
other="unshare --map-auto --map-root-user setpriv --reuid=1 --regid=1 --clear-groups"
if grep -q "^$(id -un):" /etc/subuid 2>/dev/null && grep -q "^$(id -un):" /etc/subgid 2>/dev/null &&
        $other true 2>/dev/null; then
        cat >"$T/peer.py" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("EACCES")
    sys.exit(0)
s.settimeout(20)
try:
    s.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "runtime_ref"}).encode() + b"\n")
    got = s.recv(65536)
except OSError as e:
    got = b""
print("closed" if got == b"" else "answered: " + got.decode(errors="replace"))
EOF
        chmod 0644 "$T/peer.py"
        assert_eq EACCES "$($other python3 "$T/peer.py" "$sock" 2>&1)" "a second uid connecting to the 0600 socket"
        chmod 0666 "$sock"
        got=$($other python3 "$T/peer.py" "$sock" 2>&1)
        chmod 0600 "$sock"
        assert_eq closed "$got" "a second uid past the file mode"
        assert_contains "$(cat "$T/serve.err")" "refused a connection from uid" "the server says whom it refused"
        assert_eq "nook.userns" "$(python3 - "$client" "$sock" <<'EOF'
import os, sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(sys.argv[1]))
from nook_client import Client
c = Client(socket_path=sys.argv[2])
print(c.call("runtime_ref"))
c.close()
EOF
)" "the owner still connects"
        ok "a second uid is refused by the mode, and by the server past it"
else
        ok "no subordinate ids for $(id -un): the second-uid check runs as the test user that has a range"
fi

# SIGTERM: the running call (a process of 2 s, waited for) finishes and is answered;
# the call queued behind it (same environment) is answered with Cancellation; the socket
# is removed; exit 0.
EID=$EID python3 - "$client" "$sock" <<'EOF' >"$T/term.out" 2>&1 &
import json, os, sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(sys.argv[1]))
from nook_client import Client, NookError
eid = os.environ["EID"]
c = Client(socket_path=sys.argv[2])
env = {"environment_id": f"{eid}-term", "spec": {}}
for m, p in (("prepare_session", {"environment": env}),
             ("prepare_rootfs", {"rootfs": {"rootfs_ref": "testroot"}, "environment_id": env["environment_id"]}),
             ("prepare_environment", {"environment": env})):
    c.call(m, p)
proc = lambda n, argv: {"environment": env, "wait_ms": 30000, "process": {"process_id": n, "argv": argv},
                        "effect_intent": {"effect_id": f"{eid}-{n}"}}
r1 = c.request("start_process", proc("slow", ["sleep", f"2.{os.getppid()}"]))
r2 = c.request("start_process", proc("queued", ["true"]))
print("sent", flush=True)
print("r1", json.dumps(c.answer(r1)), flush=True)
print("r2", json.dumps(c.answer(r2)), flush=True)
EOF
PYPID=$!
# the slow process runs (the server is inside start_process): then the signal
for _ in $(seq 400); do
        pgrep -u "$(id -u)" -f "^sleep 2\.$$\$" >/dev/null && break
        sleep 0.05
done
pgrep -u "$(id -u)" -f "^sleep 2\.$$\$" >/dev/null || fail "the slow process never started: $(cat "$T/term.out")"
kill -TERM "$SPID"
set +e
wait "$SPID"
src=$?
SPID=
wait "$PYPID"
set -e
assert_eq 0 "$src" "the server's exit code after SIGTERM ($(cat "$T/serve.err"))"
[ ! -e "$sock" ] || fail "the socket is left after SIGTERM"
r1=$(sed -n 's/^r1 //p' "$T/term.out")
r2=$(sed -n 's/^r2 //p' "$T/term.out")
assert_eq completed "$(printf '%s\n' "$r1" | json_query 'j["result"]["terminal_status"]')" "the running call's answer ($(cat "$T/term.out"))"
assert_eq Cancellation "$(printf '%s\n' "$r2" | json_query 'j["error"]["data"]["Classified"]["kind"]')" "the queued call's answer"
session_down "$EID-term"
ok "SIGTERM: the running call is answered, the queued one cancelled, the socket removed, exit 0"
