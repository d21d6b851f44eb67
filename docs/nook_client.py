#!/usr/bin/env python3
"""A reference client of `nook serve` (docs/protocol.md, "nook serve"): JSON-RPC 2.0, one
message a line, over `nook serve --stdio` (spawned here) or a Unix socket.  Standard
library only.

    python3 nook_client.py [--nook PATH] [--socket PATH] ROOT_ALIAS [COMMAND [ARG...]]

runs one sandbox's whole lifecycle on the root directory that the alias ROOT_ALIAS names
(`nook --alias NAME=DIR`, $NOOK_ALIASES or ~/.config/nook/aliases): runtime_ref,
capability_report, prepare_session, prepare_rootfs, prepare_environment, start_process
of COMMAND (default: echo hello) waiting for it, stream_io, collect_stats and cleanup,
printing each answer, then the command's output.
"""
import itertools, json, os, socket, subprocess, sys, threading  # noqa: E401 (stdlib only)


class NookError(Exception):
    """A JSON-RPC error answer; `data` is the AgentError (CONTRACT.md "Errors")."""

    def __init__(self, error):
        super().__init__(f"{error.get('message')} ({error.get('code')})")
        self.code, self.data = error.get("code"), error.get("data")


class Client:
    """call() sends a request and waits for its answer; request() and wait() split the
    two, so that several requests run at once (answers come back in any order)."""

    def __init__(self, nook="nook", socket_path=None, on_notification=None, args=(), serve_args=()):
        self.proc = None
        if socket_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(socket_path)
            self.rfile, self.wfile = self.sock.makefile("rb"), self.sock.makefile("wb")
        else:
            self.proc = subprocess.Popen([nook, *args, "serve", "--stdio", *serve_args], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE)
            self.rfile, self.wfile = self.proc.stdout, self.proc.stdin
        self.ids = itertools.count(1)
        self.cond = threading.Condition()
        self.write_lock = threading.Lock()
        self.answers, self.received, self.notifications = {}, [], []
        self.on_notification, self.closed = on_notification, False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.rfile:
            msg = json.loads(line)
            with self.cond:
                self.received.append(msg)  # every line, in order (a batch's answers: a list)
                for m in msg if isinstance(msg, list) else [msg]:
                    if "id" in m:
                        self.answers[json.dumps(m["id"])] = m
                    else:  # a notification: "output" frames of subscribe_output
                        self.notifications.append(m)
                        if self.on_notification:
                            self.on_notification(m)
                self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def send(self, message):
        """Sends one line: a message or batch (JSON-able), or raw text as it is."""
        text = message if isinstance(message, str) else json.dumps(message)
        with self.write_lock:
            self.wfile.write(text.encode() + b"\n")
            self.wfile.flush()

    def message(self, method, params=None, id=None):
        return {"jsonrpc": "2.0", "id": next(self.ids) if id is None else id, "method": method,
                "params": params or {}}

    def request(self, method, params=None):
        self.send(m := self.message(method, params))
        return m["id"]

    def answer(self, id, timeout=120):
        """The whole answer {"jsonrpc", "id", "result" | "error"} to request id."""
        key = json.dumps(id)
        with self.cond:
            if not self.cond.wait_for(lambda: key in self.answers or self.closed, timeout):
                raise TimeoutError(f"no answer to request {id} in {timeout} s")
            if key not in self.answers:
                raise EOFError(f"the server closed the connection before answering request {id}")
            return self.answers.pop(key)

    def wait(self, id, timeout=120):
        m = self.answer(id, timeout)
        if "error" in m:
            raise NookError(m["error"])
        return m["result"]

    def call(self, method, params=None, timeout=120):
        return self.wait(self.request(method, params), timeout)

    def close(self):
        """Ends the input: the server answers what it read, then closes (exit 0)."""
        self.wfile.close()
        if not self.proc:
            self.sock.shutdown(socket.SHUT_WR)
        self.reader.join(120)
        return self.proc.wait(120) if self.proc else self.sock.close()


def main(argv):
    nook, sock = "nook", None
    while argv and argv[0] in ("--nook", "--socket"):
        nook, sock = (argv[1], sock) if argv[0] == "--nook" else (nook, argv[1])
        argv = argv[2:]
    if not argv:
        sys.exit(__doc__)
    alias, command = argv[0], argv[1:] or ["echo", "hello"]
    eid = f"nook-client-{os.getpid()}"
    capture = {"default_capture": "raw_content_if_policy_allows"}
    env = {"environment_id": eid, "spec": {"filesystem": {"root": "writable_layer"},
                                           "io_policy": {"stdout": capture, "stderr": capture}}}
    c = Client(nook, sock)

    def show(method, value):
        print(f"{method}: {json.dumps(value)}", flush=True)
        return value

    try:
        show("runtime_ref", c.call("runtime_ref"))
        report = c.call("capability_report")
        show("capability_report", {"health": report["health"], "capabilities": report["capabilities"]})
        show("prepare_session", c.call("prepare_session", {"environment": env}))
        show("prepare_rootfs", c.call("prepare_rootfs", {"rootfs": {"rootfs_ref": alias}, "environment_id": eid}))
        show("prepare_environment", c.call("prepare_environment", {"environment": env}))
        started = c.call("start_process", {"environment": env, "wait_ms": 30000,
                                           "process": {"process_id": "p1", "argv": command},
                                           "effect_intent": {"effect_id": f"{eid}-p1"}})
        show("start_process", {k: started[k] for k in ("process_ref", "terminal_status")})
        ref = started["process_ref"]
        frame = show("stream_io", c.call("stream_io", {"process_ref": ref, "stream": "stdout", "cursor": 0}))
        show("collect_stats", c.call("collect_stats", {"process_ref": ref}))
    finally:
        show("cleanup", c.call("cleanup", {"environment": env, "cleanup_plan_ref": f"{eid}-cleanup"}))
        c.close()
    print("output:", frame.get("data", ""), end="")


if __name__ == "__main__":
    main(sys.argv[1:])
