#!/usr/bin/env python3
"""nook contract suite: every request sample through nook, every answer compared in
structure with the response and error samples.

usage: samples.py --transport call|serve [--samples DIR] [--verbose]

  call   one `nook call METHOD` process a request (request on stdin, answer on stdout,
         exit 0 with a result or 125 with an AgentError)
  serve  one `nook serve --stdio` process for the whole run: JSON-RPC 2.0, one message a
         line; a result in `result`, an AgentError in `error.data` (code -32000)

What it does (tests/contract/samples/README.md, "How a test should use them"):

1. Sets up this machine so that the samples' names resolve: the mount aliases
   `workspace.primary`, `reference-data` and `build-cache` name directories of the test's
   temp dir, and tests/images/mkimage.py's busybox image is imported into nook's store as
   `docker.io/library/debian:bookworm-slim` (`nook image import --name`).
2. Sends every file of requests/ in lifecycle order, unchanged except for the refs nook
   gave (the process ref of start_process, the ticket of detach). Variants that carry their
   own environment get `{"environment": <it>}` through prepare_session first.
   Each answer is either a result (exit 0) whose shape matches one of the response samples
   of that call, or an AgentError (exit 125) whose shape matches the error samples and
   whose reason lies outside the JSON (no session, an image missing, not implemented
   here) — never a MissingRequiredField or ContractViolation, nor a Classified error
   about a field, a type or an enum spelling.
3. If the main environment's prepare_session is refused for a reason outside the JSON
   (a capability this host cannot deliver, say), runs the main lifecycle once more with
   that environment's required_capabilities reduced to those nook's capability report
   lists (a derived request, in a fresh store), where every call must be accepted, so
   that the answers of every call are compared at least once.
4. Provokes errors (an empty id, 513- and 514-byte ids, a control character, an unknown
   enum spelling, missing required fields, an unknown process ref) and checks each is
   refused as the contract says.
5. Every error seen is compared with errors/, and its text must not name a host path.

Prints a table (call, request, outcome, shape) and then every problem: where, what the
samples expect, what nook answered. Exits 1 if there is any problem. Never skips.
Python 3 standard library only.
"""
import argparse
import copy
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import shape  # noqa: E402

IMAGE_NAME = "docker.io/library/debian:bookworm-slim"
PLACEHOLDER_PROCESS = "process.ref.process.samples.hello"
PLACEHOLDER_TICKET = "host.ack.fake.detach"
MAIN_ENV = "env.samples.main"
CALL_TIMEOUT = 90            # seconds for one call
SERVE_EXIT_TIMEOUT = 30      # seconds for `nook serve --stdio` to exit once its input ends

# The refusals that are about the request's JSON: a field, a type, an enum spelling, an
# identifier. MissingRequiredField and ContractViolation always are; a Classified error is
# when its message says so in one of these ways.
JSON_REASON = re.compile(
    r"expected (a|an|one of|string|integer|object|array|boolean|number)\b|missing (required )?field|"
    r"unknown (variant|field|value|key|enum)|invalid (type|value)|not a valid|duplicate (key|field)|"
    r"identifier (is empty|length|contains)|got (a|an) (string|integer|object|array|boolean|number)\b",
    re.IGNORECASE)

# Calls whose answers must be compared at least once in a run (coverage): every one (the
# samples' secrets get values from the operator's ~/.config/nook/secrets, setup() below).
COVERED_CALLS = list(shape.ANSWER_TYPES)


# ---- transports -------------------------------------------------------------------------

class Answer:
    def __init__(self):
        self.rc = None          # 0: result, 125: AgentError, else a failure
        self.value = None       # the result or the AgentError
        self.problems = []      # protocol problems (exit code, not JSON, envelope)
        self.stderr = ""
        self.fatal = False      # the transport is gone: stop the run


def parse_one_json(text, what):
    """(value, problem): `text` must hold exactly one JSON value (a final newline allowed)."""
    try:
        return shape.read_json_strict(text), None
    except ValueError as e:
        return None, f"{what} is not one JSON value ({e}): {text[:300]!r}"


class CallTransport:
    name = "call"
    title = "`nook call METHOD`"

    def __init__(self, nook, env):
        self.nook, self.env = nook, env

    def start(self):
        return None

    def call(self, method, text):
        a = Answer()
        try:
            p = subprocess.run([self.nook, "call", method], input=text.encode("utf-8"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=self.env, timeout=CALL_TIMEOUT)
        except subprocess.TimeoutExpired:
            a.problems.append(f"`nook call {method}` did not answer in {CALL_TIMEOUT} s")
            return a
        a.rc = p.returncode
        a.stderr = p.stderr.decode("utf-8", "replace")
        try:
            out = p.stdout.decode("utf-8")
        except UnicodeDecodeError as e:
            a.problems.append(f"stdout is not UTF-8: {e}")
            return a
        if a.rc not in (0, 125):
            a.problems.append(f"exit code {a.rc} (0 with a result, 125 with an AgentError); "
                              f"stdout {out[:200]!r}, stderr {a.stderr.strip()[:300]!r}")
            return a
        a.value, prob = parse_one_json(out, "stdout")
        if prob:
            a.problems.append(prob)
        return a

    def close(self):
        return []


class ServeTransport:
    name = "serve"
    title = "`nook serve --stdio` (JSON-RPC 2.0)"

    def __init__(self, nook, env, errlog):
        self.nook, self.env, self.errlog = nook, env, errlog
        self.proc = None
        self.buf = b""
        self.next_id = 0
        self.dead = None

    def start(self):
        self.errf = open(self.errlog, "wb")
        try:
            self.proc = subprocess.Popen([self.nook, "serve", "--stdio"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self.errf, env=self.env)
        except OSError as e:
            self.dead = f"`nook serve --stdio` could not be started: {e}"
        return self.dead

    def stderr_tail(self):
        try:
            with open(self.errlog, "rb") as f:
                return f.read()[-600:].decode("utf-8", "replace").strip()
        except OSError:
            return ""

    def _gone(self, what):
        try:
            rc = self.proc.wait(2 if what.startswith("exited") else 0.1)
        except subprocess.TimeoutExpired:
            rc = None
        self.dead = (f"`nook serve --stdio` {what}" + (f" (exit code {rc})" if rc is not None else "") +
                     f"; its stderr: {self.stderr_tail()!r}")

    def _readline(self, timeout):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, "timeout"
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return None, "eof"
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line, None

    def call(self, method, text):
        a = Answer()
        if self.dead:
            a.problems.append(self.dead)
            a.fatal = True
            return a
        self.next_id += 1
        n = self.next_id
        params = shape.read_json_strict(text)
        msg = json.dumps({"jsonrpc": "2.0", "id": n, "method": method, "params": params},
                         ensure_ascii=False, separators=(",", ":"))
        try:
            self.proc.stdin.write(msg.encode("utf-8") + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self._gone("stopped reading its input")
            a.problems.append(self.dead)
            a.fatal = True
            return a
        line, why = self._readline(CALL_TIMEOUT)
        if line is None:
            self._gone("did not answer in %d s" % CALL_TIMEOUT if why == "timeout" else "exited before answering")
            a.problems.append(self.dead)
            a.fatal = True
            return a
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as e:
            a.problems.append(f"answer line is not UTF-8: {e}")
            return a
        env, prob = parse_one_json(line, "the answer line")
        if prob:
            a.problems.append(prob)
            return a
        a.stderr = ""
        self.check_envelope(env, n, a)
        return a

    @staticmethod
    def check_envelope(env, n, a):
        """JSON-RPC 2.0: {"jsonrpc":"2.0","id":n,"result":…} or {…,"error":{"code":-32000,
        "message":…,"data":<AgentError>}}."""
        if not isinstance(env, dict):
            a.problems.append(f"jsonrpc: the answer is not an object: {shape.describe(env)}")
            return
        extra = sorted(set(env) - {"jsonrpc", "id", "result", "error"})
        if extra:
            a.problems.append(f"jsonrpc: unexpected keys {extra} in the response object")
        if env.get("jsonrpc") != "2.0":
            a.problems.append(f"jsonrpc: \"jsonrpc\" must be \"2.0\", got {shape.describe(env.get('jsonrpc'))}")
        if env.get("id") != n or isinstance(env.get("id"), bool):
            a.problems.append(f"jsonrpc: \"id\" must be {n} (the request's), got {shape.describe(env.get('id'))}")
        if ("result" in env) == ("error" in env):
            a.problems.append("jsonrpc: exactly one of \"result\" and \"error\" must be present, "
                              f"got keys {sorted(env)}")
            return
        if "result" in env:
            a.rc, a.value = 0, env["result"]
            return
        e = env["error"]
        if not isinstance(e, dict):
            a.problems.append(f"jsonrpc: \"error\" must be an object, got {shape.describe(e)}")
            return
        a.rc = 125
        if e.get("code") != -32000 or isinstance(e.get("code"), bool):
            a.problems.append(f"jsonrpc: error.code must be -32000 (an AgentError), got {shape.describe(e.get('code'))}")
        if not isinstance(e.get("message"), str):
            a.problems.append(f"jsonrpc: error.message must be a string, got {shape.describe(e.get('message'))}")
        extra = sorted(set(e) - {"code", "message", "data"})
        if extra:
            a.problems.append(f"jsonrpc: unexpected keys {extra} in error")
        if "data" not in e:
            a.problems.append("jsonrpc: error.data (the AgentError) is missing")
            return
        a.value = e["data"]
        a.stderr = e.get("message") if isinstance(e.get("message"), str) else ""

    def close(self):
        probs = []
        if not self.proc:
            return probs
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            rc = self.proc.wait(SERVE_EXIT_TIMEOUT)
            if rc != 0 and not self.dead:
                probs.append(f"`nook serve --stdio` exited {rc} at the end of its input (expected 0); "
                             f"stderr: {self.stderr_tail()!r}")
        except subprocess.TimeoutExpired:
            probs.append(f"`nook serve --stdio` did not exit within {SERVE_EXIT_TIMEOUT} s of the end of its input")
            self.proc.kill()
            self.proc.wait()
        rest = self.buf + (self.proc.stdout.read() or b"")
        if rest.strip() and not self.dead:
            probs.append(f"`nook serve --stdio` wrote more than one line per request: {rest[:200]!r}")
        self.errf.close()
        return probs


# ---- the run ----------------------------------------------------------------------------

def error_reason(err):
    """A short 'Kind/Retry: message' of an AgentError (whatever its shape)."""
    if isinstance(err, dict) and len(err) == 1:
        (tag, body), = err.items()
        if isinstance(body, dict):
            if tag == "Classified":
                ctx = body.get("context") if isinstance(body.get("context"), dict) else {}
                return f"{body.get('kind')}/{body.get('retry')}: {ctx.get('message')}"
            if tag == "MissingRequiredField":
                return f"MissingRequiredField: {body.get('field')}"
            return f"{tag}: {body.get('message')}"
    return f"(not an AgentError) {json.dumps(err)[:200]}"


def json_reason(err):
    """Why this refusal is about the request's JSON, or None."""
    if not isinstance(err, dict) or len(err) != 1:
        return None
    (tag, body), = err.items()
    if tag in ("MissingRequiredField", "ContractViolation"):
        return error_reason(err)
    if tag == "Classified" and isinstance(body, dict):
        ctx = body.get("context") if isinstance(body.get("context"), dict) else {}
        m = ctx.get("message")
        if isinstance(m, str) and JSON_REASON.search(m):
            return error_reason(err) + "  (the message is about a field, a type or a spelling)"
    return None


def strings_in(v, path=""):
    if isinstance(v, str):
        yield path, v
    elif isinstance(v, dict):
        for k, x in v.items():
            yield from strings_in(x, f"{path}/{k}")
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from strings_in(x, f"{path}/{i}")


def short(s, n):
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[:n - 1] + "…"


class Row:
    def __init__(self, n, method, label, kind):
        self.n, self.method, self.label, self.kind = n, method, label, kind
        self.outcome = ""
        self.shape = ""
        self.problems = []


class Run:
    def __init__(self, args, tmp, transport_factory):
        self.args = args
        self.tmp = tmp
        self.transport_factory = transport_factory
        self.samples = args.samples
        self.rows = []
        self.problems = []          # (row or None, text, closest sample or None)
        self.accepted = {}          # call -> number of answers to samples (and derived requests) compared
        self.refusals = []          # (row, reason): refusals of samples outside the JSON
        self.prepared = {}          # (data dir, env id) -> (env vars, [environment objects sent]): cleanup
        self.errors_seen = 0
        self.stopped = False
        self.req_text = {}
        d = os.path.join(self.samples, "requests")
        for n in sorted(os.listdir(d)):
            if n.endswith(".json"):
                with open(os.path.join(d, n), encoding="utf-8") as f:
                    self.req_text[n] = f.read()
        self.resp = {m: shape.response_samples(m, self.samples) for m in shape.ANSWER_TYPES}
        self.errs = shape.error_samples(self.samples)
        self.spec = shape.load_spec(self.samples)

    # -- output ---------------------------------------------------------------------------
    def header(self, title):
        print()
        print(f"==> {title}")
        print(f"  {'#':>3}  {'call':<19} {'request':<46} {'outcome':<44} shape")

    def print_row(self, r):
        flag = f"  FAIL ({len(r.problems)})" if r.problems else ""
        print(f"  {r.n:>3}  {r.method:<19} {short(r.label, 46):<46} {short(r.outcome, 44):<44} {r.shape}{flag}",
              flush=True)

    def note(self, text):
        """A problem of the whole run, not of one call."""
        self.problems.append((None, text, None))

    def problem(self, row, text, note=None):
        row.problems.append(text)
        self.problems.append((row, text, note))

    # -- one call ---------------------------------------------------------------------------
    def step(self, method, label, text, kind="sample", expect=None, required=False):
        """Sends one request and checks the answer. kind: sample (a file of requests/, refs
        substituted), derived (built by this test from a sample), provoked (must be
        refused). expect: None, "invalid" (refused as invalid input: MissingRequiredField or
        ContractViolation) or "outside" (refused for a reason outside the JSON)."""
        row = Row(len(self.rows) + 1, method, label, kind)
        self.rows.append(row)
        a = self.transport.call(method, text)
        for p in a.problems:
            self.problem(row, p)
        if self.args.verbose:
            print(f"         request {short(text, 300)}\n         answer rc={a.rc} {json.dumps(a.value)[:2000]}")
        if a.rc == 0 and not (a.value is None and a.problems):
            row.outcome = "accepted"
            if kind != "provoked":
                self.accepted[method] = self.accepted.get(method, 0) + 1
            name, diffs = shape.match_any(self.resp[method], a.value, shape.ANSWER_TYPES[method], self.spec)
            if diffs:
                row.shape = f"{len(diffs)} difference(s) from {name}"
                for d in diffs:
                    self.problem(row, f"answer {d}", name)
            else:
                row.shape = f"ok ~ {name}"
            if expect:
                self.problem(row, "accepted, but this request must be refused "
                                  + ("as invalid input" if expect == "invalid" else "(nothing to act on)"))
        elif a.rc == 125:
            reason = error_reason(a.value)
            row.outcome = "refused " + reason
            row.shape = self.check_error(row, a.value)
            jr = json_reason(a.value)
            if kind in ("sample", "derived") and jr:
                self.problem(row, "refused for a reason in the JSON (a sample must parse and validate): "
                                  + json.dumps(a.value, ensure_ascii=False))
            if kind in ("sample", "derived") and not jr:
                self.refusals.append((row, reason))
            if required and not jr:
                self.problem(row, "refused, but this call must be accepted here: " + reason)
            if expect == "invalid" and not (isinstance(a.value, dict) and len(a.value) == 1 and
                                            next(iter(a.value)) in ("MissingRequiredField", "ContractViolation")):
                self.problem(row, "must be refused as invalid input (MissingRequiredField or ContractViolation "
                                  "naming the field, docs/protocol.md), got: " + reason)
            if expect == "outside" and jr:
                self.problem(row, "the request is valid JSON: the refusal must not be about a field, a type or "
                                  "a spelling, got: " + reason)
        else:
            row.outcome = f"FAILED (exit {a.rc})" if a.rc is not None else "FAILED"
            row.shape = "-"
        self.print_row(row)
        if a.fatal:
            raise TransportGone(f"after #{row.n}: {self.transport.title} is gone (the problem of #{row.n})")
        return a

    def check_error(self, row, err):
        self.errors_seen += 1
        # the closest sample first: the same variant, kind and retry
        def affinity(item):
            s = item[1]
            (tag, body), = s.items()
            if not isinstance(err, dict) or tag not in err:
                return 3
            e = err[tag] if isinstance(err[tag], dict) else {}
            return 2 - (e.get("kind") == body.get("kind")) - (e.get("retry") == body.get("retry"))
        name, diffs = shape.match_any(sorted(self.errs, key=affinity), err, shape.AGENT_ERROR, self.spec)
        for d in diffs:
            self.problem(row, f"error {d}", name)
        for path, s in strings_in(err):
            for bad in self.forbidden_paths:
                if bad in s:
                    self.problem(row, f"error {path or '/'}: names a host path ({bad!r}): {short(s, 200)!r}")
                    break
        return f"{len(diffs)} difference(s) from {name}" if diffs else f"ok ~ {name}"

    # -- requests -------------------------------------------------------------------------
    def sample(self, file, subst=None, **kw):
        """Sends requests/<file> unchanged but for `subst` {placeholder: value} (JSON
        string values replaced as such)."""
        text = self.req_text[file]
        label = file
        for old, new in (subst or {}).items():
            if new is not None and new != old:
                text = text.replace(json.dumps(old), json.dumps(new))
                label = f"{file} ({'process_ref' if old == PLACEHOLDER_PROCESS else 'ticket_ref'} from nook)"
        return self.step(shape.method_of(file), label, self.override(file, text), **kw)

    def override(self, file, text):
        return text

    def env_of(self, file):
        return shape.read_json_strict(self.req_text[file])["environment"]

    def remember(self, env):
        if isinstance(env, dict) and isinstance(env.get("environment_id"), str) and env["environment_id"]:
            envs = self.prepared.setdefault((self.data_dir, env["environment_id"]), (self.env_vars, []))[1]
            if env not in envs:
                envs.append(env)

    def own_session(self, file):
        """The variant `file` carries its own environment: prepare_session of it first
        (README: send {"environment": <that environment>} to prepare_session)."""
        env = self.env_of(file)
        if (self.data_dir, env["environment_id"]) in self.prepared:
            return
        self.remember(env)
        text = json.dumps({"environment": env}, indent=2)
        self.step("prepare_session", f"{{environment}} of {file}", self.override(file, text), kind="derived")

    # -- the lifecycle ----------------------------------------------------------------------
    def lifecycle(self, title, required=False):
        """Every request sample, in lifecycle order. required: the main lifecycle's calls
        must be accepted (the derived run)."""
        self.header(title)
        req = required
        self.step("runtime_ref", "(no request)", "{}", required=req)
        rep = self.step("capability_report", "(no request)", "{}", required=req)
        self.report = rep.value if rep.rc == 0 else None

        self.remember(self.env_of("prepare_session.json"))
        ps = self.sample("prepare_session.json", required=req)
        if not required:
            for v in ("prepare_session.minimal.json", "prepare_session.all-fields.json",
                      "prepare_session.fallback-allow.json", "prepare_session.fallback-test-only-host-process.json"):
                self.remember(self.env_of(v))
                self.sample(v)

        self.sample("resolve_image.json", required=req)
        if not required:
            a = self.sample("resolve_image.pinned.json")
            if a.rc == 125 and not json_reason(a.value):
                # The sample's digest is a placeholder, not the test image's: the refusal
                # above is for a reason outside the JSON (checked as such). Once more with
                # the image's real manifest digest.
                q = shape.read_json_strict(self.req_text["resolve_image.pinned.json"])
                text = self.req_text["resolve_image.pinned.json"].replace(
                    json.dumps(q["image"]["expected_digest"]), json.dumps(self.manifest_digest))
                self.step("resolve_image", "resolve_image.pinned.json (the image's digest)", text,
                          kind="derived")

        self.sample("prepare_rootfs.json", required=req)
        if not required:
            self.sample("prepare_rootfs.writable-layer.json")
        self.sample("resolve_mounts.json", required=req)
        self.sample("configure_network.json", required=req)
        if not required:
            # These name public hosts (pypi.org, api.github.com): configure_network must only
            # configure (no name is resolved, nothing is sent: TESTING.md's network rule); no
            # process ever starts in these environments.
            for v in ("configure_network.adapter_defined_denied.json", "configure_network.allowlist.json",
                      "configure_network.egress_scoped.json", "configure_network.exposed_ports.json",
                      "configure_network.socket_relay.json"):
                self.own_session(v)
                self.sample(v)
            self.sample("prepare_secrets.no-secrets.json")
            self.own_session("prepare_secrets.json")
            self.sample("prepare_secrets.json")
        self.sample("prepare_environment.json", required=req)

        st = self.sample("start_process.json", required=req)
        pref = None
        if st.rc == 0 and isinstance(st.value, dict) and isinstance(st.value.get("process_ref"), str):
            pref = st.value["process_ref"]
        if not required:
            self.sample("start_process.pty.json")      # env.samples.secrets: prepared above
        p = {PLACEHOLDER_PROCESS: pref}
        self.sample("stream_io.json", p, required=req)
        self.sample("stream_io.stderr.json", p, required=req)
        if not required:
            self.sample("stream_io.stdin.json", p)     # stdin is "closed" in start_process.json
        self.sample("collect_stats.json", p, required=req)
        for v in ("signal_process.interrupt.json", "signal_process.json", "signal_process.terminate.json",
                  "signal_process.kill.json"):
            self.sample(v, p, required=req)
        if not required:
            self.provoke(pref)

        d = self.sample("detach.json", required=req)
        ticket = None
        if d.rc == 0 and isinstance(d.value, dict) and isinstance(d.value.get("host_ack_ref"), str):
            ticket = d.value["host_ack_ref"]
        self.sample("reclaim.json", {PLACEHOLDER_TICKET: ticket}, required=req)
        self.sample("cleanup.json", required=True)
        main_key = (self.data_dir, MAIN_ENV)
        for (dd, eid), (_, envs) in list(self.prepared.items()):
            if dd != self.data_dir or (dd, eid) == main_key:
                continue
            text = json.dumps({"environment": envs[0], "cleanup_plan_ref": "cleanup." + eid}, indent=2)
            self.step("cleanup", f"cleanup of {eid}", text, kind="derived", required=True)
        return ps

    # -- provoked errors ----------------------------------------------------------------------
    def provoke(self, pref):
        pref = pref or PLACEHOLDER_PROCESS
        sig = shape.read_json_strict(self.req_text["signal_process.json"])
        sig["process_ref"] = pref
        start = shape.read_json_strict(self.req_text["start_process.json"])
        minimal = shape.read_json_strict(self.req_text["prepare_session.minimal.json"])

        def with_id(env, eid):
            e = copy.deepcopy(env)
            e["environment_id"] = eid
            e["spec"]["environment_id"] = eid
            return e
        cases = []
        for label, ref in (('process_ref ""', ""), ("a 513-byte process_ref", "p" * 513),
                           ("a 514-byte process_ref of 257 characters (é)", "é" * 257),
                           ("a tab in process_ref", "process\tref"),
                           ("U+0085 (NEL) in process_ref", "process\u0085ref")):
            cases.append(("collect_stats", "collect_stats with " + label, {"process_ref": ref}, "invalid"))
        cases.append(("collect_stats", "collect_stats with a 512-byte process_ref (valid, unknown)",
                      {"process_ref": "p" * 512}, "outside"))
        cases.append(("collect_stats", "collect_stats of an unknown process_ref",
                      {"process_ref": "process.ref.unknown.samples"}, "outside"))
        cases.append(("signal_process", "signal_process of an unknown process_ref",
                      dict(sig, process_ref="process.ref.unknown.samples"), "outside"))
        cases.append(("stream_io", "stream_io of an unknown process_ref",
                      {"process_ref": "process.ref.unknown.samples", "stream": "stdout"}, "outside"))
        cases.append(("signal_process", 'signal_process with signal "SIGTERM"', dict(sig, signal="SIGTERM"),
                      "invalid"))
        cases.append(("stream_io", 'stream_io with stream "Stdout"', {"process_ref": pref, "stream": "Stdout"},
                      "invalid"))
        nosig = dict(sig)
        del nosig["signal"]
        cases.append(("signal_process", "signal_process without signal", nosig, "invalid"))
        noargv = copy.deepcopy(start)
        del noargv["process"]["argv"]
        cases.append(("start_process", "start_process without process.argv", noargv, "invalid"))
        # a valid environment of that id first: the one the final cleanup of the id sends
        self.remember(with_id(minimal["environment"], "env.samples.provoked"))
        env = with_id(minimal["environment"], "env.samples.provoked")
        env["spec"]["network"] = "Disabled"
        self.remember(env)
        cases.append(("prepare_session", 'prepare_session with spec.network "Disabled"', {"environment": env},
                      "invalid"))
        env = with_id(minimal["environment"], "env.samples.provoked")
        env["spec"]["requirement"]["required_capabilities"] = ["read_only_root"]
        self.remember(env)
        cases.append(("prepare_session", "prepare_session with required_capabilities as a bare array",
                      {"environment": env}, "invalid"))
        env = with_id(minimal["environment"], "env.samples.provoked")
        del env["spec"]["requirement"]["minimum_class"]
        self.remember(env)
        cases.append(("prepare_session", "prepare_session without spec.requirement.minimum_class",
                      {"environment": env}, "invalid"))
        cases.append(("prepare_session", 'prepare_session with environment_id ""',
                      {"environment": with_id(minimal["environment"], "")}, "invalid"))
        cases.append(("reclaim", 'reclaim with ticket_ref ""', {"ticket_ref": ""}, "invalid"))
        cases.append(("reclaim", "reclaim of an unknown ticket", {"ticket_ref": "ticket.unknown.samples"},
                      "outside"))
        for method, label, req, expect in cases:
            self.step(method, label, json.dumps(req, ensure_ascii=False), kind="provoked", expect=expect)


class TransportGone(Exception):
    pass


# ---- set-up -------------------------------------------------------------------------------

def run_checked(argv, env, what):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=300)
    if p.returncode != 0:
        raise SetupError(f"{what} failed (exit {p.returncode}): {p.stderr.decode('utf-8', 'replace').strip()[-800:]}")
    return p.stdout.decode("utf-8", "replace")


class SetupError(Exception):
    pass


def make_store(run, base_env, tag):
    """A data dir, config dir and run dir of their own, with the test image imported under
    the samples' image name. Sets run.env_vars and run.data_dir."""
    t = run.tmp
    env = dict(base_env)
    env["XDG_DATA_HOME"] = os.path.join(t, "data" + tag)
    env["XDG_CONFIG_HOME"] = os.path.join(t, "config")
    # a run dir of the test's own: the two transports' tests run in parallel as one user
    # with the samples' fixed environment ids, and must not find each other's sessions
    env["NOOK_RUNTIME_DIR"] = os.path.join(t, "run" + tag)
    os.makedirs(env["XDG_DATA_HOME"], mode=0o700)
    os.makedirs(env["NOOK_RUNTIME_DIR"], mode=0o700)
    run_checked([run.args.nook, "image", "import", "--quiet", "--name", IMAGE_NAME,
                 os.path.join(t, "img", "oci-archive.tar")], env, f"nook image import --name {IMAGE_NAME}")
    run.env_vars = env
    run.data_dir = env["XDG_DATA_HOME"]


def setup(run):
    t = run.tmp
    base = {k: v for k, v in os.environ.items()
            if k not in ("NOOK_STORAGE", "NOOK_FAULT", "NOOK_ADAPTER", "NOOK_RUNTIME_DIR", "NOOK_ALIASES")}
    os.makedirs(os.path.join(t, "config"), mode=0o700)
    aliases = {}
    for name, files in (("workspace.primary", {"README": "the workspace\n"}),
                        ("reference-data", {"data.txt": "reference data\n"}),
                        ("build-cache", {"config.toml": "[build]\n"})):
        d = os.path.join(t, "alias", name)
        os.makedirs(d)
        for fn, content in files.items():
            with open(os.path.join(d, fn), "w") as f:
                f.write(content)
        aliases[name] = d
    base["NOOK_ALIASES"] = ";".join(f"{k}={v}" for k, v in aliases.items())
    # the samples' secret refs get values the operator's way (~/.config/nook/secrets)
    os.makedirs(os.path.join(t, "secrets"), mode=0o700)
    os.makedirs(os.path.join(t, "config", "nook"), mode=0o700)
    with open(os.path.join(t, "config", "nook", "secrets"), "w") as cfg:
        for ref in ("secret.api_token", "secret.tls_key", "secret.db_password"):
            path = os.path.join(t, "secrets", ref)
            with open(path, "w") as f:
                f.write(f"value of {ref} for the contract samples\n")
            cfg.write(f"{ref}=file:{path}\n")
    out = run_checked([sys.executable, os.path.join(run.args.source_root, "tests", "images", "mkimage.py"),
                       os.path.join(t, "img")], base, "tests/images/mkimage.py")
    run.manifest_digest = json.loads(out)["manifest"]
    run.base_env = base
    make_store(run, base, "")
    home = os.environ.get("HOME", "")
    forbidden = [t, os.path.realpath(t), run.data_dir]
    if home not in ("", "/"):
        forbidden.append(home.rstrip("/") + "/")
    forbidden += ["/tmp/", "/home/", "/run/"]
    run.forbidden_paths = list(dict.fromkeys(forbidden))


def final_cleanup(run):
    """Whatever the run ends with: every environment it prepared is cleaned up (not
    checked: the run already checked cleanup), with each environment object it sent for
    that id until one is accepted, and the bare id as lib.sh does. Returns the processes
    nook left running in the test's dirs (killed)."""
    for (_, eid), (env_vars, envs) in list(run.prepared.items()):
        for env in envs + [{"environment_id": eid, "spec": {"environment_id": eid}}]:
            req = json.dumps({"environment": env, "cleanup_plan_ref": "cleanup.exit"})
            try:
                p = subprocess.run([run.args.nook, "call", "cleanup"], input=req.encode(), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, env=env_vars, timeout=CALL_TIMEOUT)
                if p.returncode == 0:
                    break
            except subprocess.TimeoutExpired:
                print(f"warning: cleanup of {eid} at exit did not answer", file=sys.stderr)
    return kill_leftovers(run.tmp)


def kill_leftovers(tmp):
    """Processes of this user whose command line names the test's temp dir (a session's
    holder, fuse-overlayfs, slirp4netns...): nook should have ended them with the
    sessions. Each is reported and killed."""
    left = []
    me = os.getuid()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            if os.stat(f"/proc/{pid}").st_uid != me:
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            continue
        if tmp in cmd:
            left.append(f"{pid}: {cmd}")
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
    return left


def remove_tmp(run):
    for root, dirs, _ in os.walk(run.tmp):
        for d in dirs:
            try:
                os.chmod(os.path.join(root, d), 0o700)
            except OSError:
                pass
    shutil.rmtree(run.tmp, ignore_errors=True)


# ---- main ------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--transport", choices=("call", "serve"), required=True)
    ap.add_argument("--samples", default=shape.DEFAULT_SAMPLES)
    ap.add_argument("--nook", default=os.environ.get("NOOK"))
    ap.add_argument("--source-root", default=os.environ.get("NOOK_SOURCE_ROOT", os.path.dirname(os.path.dirname(HERE))))
    ap.add_argument("--verbose", action="store_true", default=bool(os.environ.get("NOOK_CONTRACT_VERBOSE")))
    args = ap.parse_args()
    if not args.nook:
        print("FAIL: NOOK must name the nook binary (meson test sets it), or --nook", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))   # meson's timeout: clean up first

    def factory(env_vars):
        if args.transport == "call":
            return CallTransport(args.nook, env_vars)
        return ServeTransport(args.nook, env_vars, os.path.join(run.tmp, f"serve-{time.monotonic_ns()}.stderr"))

    tmp = tempfile.mkdtemp(prefix="nook-contract.", dir=os.environ.get("TMPDIR") or "/tmp")
    run = Run(args, tmp, factory)
    close_problems = []
    cleaned = False
    try:
        try:
            setup(run)
        except (SetupError, OSError, subprocess.TimeoutExpired, ValueError, KeyError) as e:
            print(f"FAIL: setting up the samples' names on this machine: {e}")
            return 1
        print(f"contract samples through {(CallTransport if args.transport == 'call' else ServeTransport).title}")
        print(f"  nook: {args.nook}")
        print(f"  samples: {args.samples}")
        print(f"  image {IMAGE_NAME}: tests/images/mkimage.py's busybox image, {run.manifest_digest}")
        print("  aliases: workspace.primary, reference-data, build-cache (directories of the test)")
        try:
            run.transport = factory(run.env_vars)
            err = run.transport.start()
            if err:
                raise TransportGone(err)
            ps = run.lifecycle(f"the request samples, in lifecycle order, through {run.transport.title}")
            close_problems += run.transport.close()
            if ps.rc == 125 and not json_reason(ps.value):
                derived_run(run, factory)
        except TransportGone as e:
            run.note(f"the run stopped: {e}")
            if getattr(run, "transport", None):
                close_problems += run.transport.close()
            run.stopped = True
        for p in close_problems:
            run.note(p)
        uncovered = [m for m in COVERED_CALLS if not run.accepted.get(m)]
        if uncovered and not run.stopped:
            run.note(f"coverage: these calls accepted no request, so none of their answers was compared with the "
                     f"samples (their refusals are in the table): {', '.join(uncovered)}")
        cleaned = True
        for p in final_cleanup(run):
            run.note(f"a process nook started was still running after every session's cleanup (killed): "
                     f"{short(p, 300)}")
        return report(run)
    finally:
        if not cleaned:
            final_cleanup(run)
        remove_tmp(run)


def derived_run(run, factory):
    """The main environment's prepare_session was refused for a reason outside the JSON:
    the main lifecycle again, in a fresh store, with required_capabilities reduced to what
    nook's capability report lists, every call required to be accepted."""
    caps = None
    rep = run.report
    if isinstance(rep, dict) and isinstance(rep.get("capabilities"), dict):
        caps = rep["capabilities"].get("capabilities", [])
    if not isinstance(caps, list):
        run.note("derived run: not run, the capability report has no capability set to reduce the "
                 "requirement to")
        return
    env = run.env_of("prepare_session.json")
    want = env["spec"]["requirement"]["required_capabilities"].get("capabilities", [])
    keep = [c for c in want if c in caps]
    dropped = [c for c in want if c not in caps]
    reduced = {"capabilities": keep} if keep else {}
    make_store(run, run.base_env, "-derived")

    def override(file, text):
        q = shape.read_json_strict(text)
        e = q.get("environment")
        if isinstance(e, dict) and e.get("environment_id") == MAIN_ENV:
            e["spec"]["requirement"]["required_capabilities"] = reduced
            return json.dumps(q, indent=2, ensure_ascii=False)
        return text
    run.override = override
    run.transport = factory(run.env_vars)
    err = run.transport.start()
    if err:
        raise TransportGone(err)
    run.lifecycle("derived: the main lifecycle again, with required_capabilities reduced to this host's "
                  f"(without {', '.join(dropped) or 'none'}); every call must be accepted", required=True)
    for p in run.transport.close():
        run.note(p)


def report(run):
    print()
    n_acc = sum(1 for r in run.rows if r.outcome == "accepted")
    n_ref = sum(1 for r in run.rows if r.outcome.startswith("refused"))
    print(f"==> {len(run.rows)} calls: {n_acc} accepted, {n_ref} refused, {len(run.rows) - n_acc - n_ref} failed; "
          f"{run.errors_seen} errors compared with errors/")
    if not run.problems:
        print(f"ok - every request sample accepted or refused for a reason outside the JSON; every answer has the "
              f"samples' shape (through {run.transport.title})")
        return 0
    if run.refusals:
        print()
        print(f"==> refusals of requests for reasons outside the JSON ({len(run.refusals)}; allowed, unless a "
              f"problem below says otherwise)")
        for row, reason in run.refusals:
            print(f"  #{row.n:<3} {row.method} [{row.label}]: {short(reason, 400)}")
    print()
    groups = {}
    for row, text, note in run.problems:
        g = groups.setdefault(text, ([], []))
        if row:
            g[0].append(row)
        if note and note not in g[1]:
            g[1].append(note)
    print(f"==> problems ({len(run.problems)}, {len(groups)} distinct): where (a JSON pointer into nook's answer): "
          f"what the samples expect, what nook answered; then the calls (# of the table above)")
    for text, (rows, notes) in groups.items():
        print(f"  - {text}")
        if notes:
            print(f"      closest sample{'s' if len(notes) > 1 else ''}: {', '.join(notes)}")
        if rows:
            first = rows[0]
            more = f"; also #{', #'.join(str(r.n) for r in rows[1:])}" if len(rows) > 1 else ""
            print(f"      in #{first.n} {first.method} [{first.label}]{more}")
    print()
    print(f"FAIL: {len(run.problems)} problem(s) in nook's contract answers through {run.transport.title}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
