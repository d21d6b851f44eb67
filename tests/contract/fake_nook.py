#!/usr/bin/env python3
"""A stand-in for nook, for the self-test of the contract driver (test_driver.py): it
answers `nook call METHOD`, `nook serve --stdio` and `nook image import` with the shapes
of the samples, so that the driver's paths that today's nook does not reach yet (accepted
answers, the derived run, the serve transport) are exercised, and proven able to fail.

FAKE_NOOK_MODE:
  good   (default) answers as the samples say; refuses what a real host would: the main
         environment (its required capability mount_read_only_enforcement is not in the
         report), secrets and network modes other than disabled (not implemented), stdin
         of a process started with stdin closed, unknown refs; invalid input as
         MissingRequiredField / ContractViolation
  today  the shapes nook answered with before the contract samples (a bare capability
         array, MountPlan mounts as objects, Classified without causal_ids, a float
         counter, no redacted_credential_alias, ...), and accepts the main environment
  noserve  like good, without `serve` (today's nook)
FAKE_NOOK_LEAK=1: error messages name the data dir (a host path).
FAKE_NOOK_RPC=bad: JSON-RPC errors carry code -32602 and the id of the request plus one.
Python 3 standard library only; it keeps no state between calls.
"""
import json
import os
import sys

MODE = os.environ.get("FAKE_NOOK_MODE", "good")
PLACEHOLDER_DIGEST = "sha256:e0f1a497a93630605f20f99b839c253e526b5eeac63ec567913167dbb6861719"
DIGEST = "sha256:" + "ab" * 32
REPORT_CAPS = ["read_only_root", "no_network_guarantee", "secret_isolation", "process_timeout", "process_signal",
               "content_ref_io", "io_redaction", "process_stats", "cleanup", "detach", "reclaim"]


class Refusal(Exception):
    def __init__(self, err):
        self.err = err


def classified(kind, retry, message):
    if os.environ.get("FAKE_NOOK_LEAK"):
        message += " in " + os.environ.get("XDG_DATA_HOME", "?")
    if MODE == "today":
        return {"Classified": {"kind": kind, "retry": retry, "context": {"message": message, "redacted_summary": message}}}
    return {"Classified": {"kind": kind, "retry": retry,
                           "context": {"message": message, "policy_refs": [], "source": None, "destination": None,
                                       "subject": None, "privacy": None, "redacted_summary": None},
                           "causal_ids": {"run_id": None, "turn_id": None, "attempt_id": None, "event_id": None,
                                          "tool_call_id": None, "span_id": None, "related": []}}}


def invalid(ptr, what):
    raise Refusal({"ContractViolation": {"message": f"{ptr}: {what}"}})


def missing(ptr):
    raise Refusal({"MissingRequiredField": {"field": ptr}})


def check_id(v, ptr):
    if not isinstance(v, str):
        invalid(ptr, "expected a string")
    if v == "":
        invalid(ptr, "identifier is empty")
    if len(v.encode()) > 512:
        invalid(ptr, f"identifier length {len(v.encode())} exceeds max 512")
    if any(ord(c) <= 0x1F or 0x7F <= ord(c) <= 0x9F for c in v):
        invalid(ptr, "identifier contains a control character")


def check_env(req):
    env = req.get("environment")
    if not isinstance(env, dict):
        missing("/environment")
    check_id(env.get("environment_id"), "/environment/environment_id")
    spec = env.get("spec") or {}
    rq = spec.get("requirement") or {}
    if "minimum_class" not in rq:
        missing("/environment/spec/requirement/minimum_class")
    if MODE == "today" and isinstance(rq.get("required_capabilities"), list):
        rq["required_capabilities"] = {"capabilities": rq["required_capabilities"]}   # as nook did
    if not isinstance(rq.get("required_capabilities"), dict):
        invalid("/environment/spec/requirement/required_capabilities", "expected an object")
    net = spec.get("network")
    if not (net in ("disabled", "adapter_defined_denied") or
            isinstance(net, dict) and len(net) == 1 and
            next(iter(net)) in ("allowlist", "egress_scoped", "socket_relay", "exposed_ports")):
        invalid("/environment/spec/network", f"unknown variant {json.dumps(net)}")
    return env


def known_process(req):
    check_id(req.get("process_ref"), "/process_ref")
    if not req["process_ref"].startswith("process.fake."):
        raise Refusal(classified("PolicyDenial", "NotRetryable", "unknown process_ref"))
    return req["process_ref"]


def answer(method, req):
    if method == "runtime_ref":
        return "nook.userns"
    if method == "capability_report":
        r = {"report_ref": "report.fake", "adapter_ref": "nook.userns", "adapter_kind": "os_sandbox",
             "adapter_version": "0.1.0", "capability_version": "1", "health": "healthy",
             "supported_classes": ["sandbox", "container"],
             "platform": {"platform": "linux", "os": "linux", "cpu_architecture": "x86_64", "emulation_supported": False},
             "capabilities": {"capabilities": REPORT_CAPS},
             "trust": {"locality": "local", "tenancy": "dedicated", "auditability": "required", "cleanup": "required",
                       "data_residency": "local_only", "secret_isolation": "required"},
             "unsupported_requirements": ["egress_allowlist"], "log_retention": "run_scoped",
             "findings": [{"name": "userns", "ok": True, "detail": "fake"}]}
        if MODE == "today":
            r["capabilities"] = REPORT_CAPS
        return r
    if method == "resolve_image":
        img = req.get("image")
        if not isinstance(img, dict) or "image_ref" not in img:
            missing("/image/image_ref")
        if img.get("expected_digest") == PLACEHOLDER_DIGEST:
            raise Refusal(classified("PolicyDenial", "NotRetryable", "image is not the expected digest"))
        r = {"image_ref": DIGEST, "digest": DIGEST, "redacted_credential_alias": None, "nook": {"cmd": None}}
        if MODE == "today":
            del r["redacted_credential_alias"]
        return r
    if method == "prepare_rootfs":
        if not isinstance(req.get("rootfs"), dict):
            missing("/rootfs")
        return "rootfs.fake"
    if method in ("collect_stats", "stream_io", "signal_process"):
        if method == "signal_process":
            if "signal" not in req:
                missing("/signal")
            if req["signal"] not in ("interrupt", "terminate", "kill"):
                invalid("/signal", "unknown variant")
        if method == "stream_io" and req.get("stream") not in ("stdin", "stdout", "stderr"):
            invalid("/stream", "unknown variant")
        ref = known_process(req)
        if method == "collect_stats":
            r = {"snapshot_ref": "stats.fake", "process_ref": ref, "cpu_millis": 3, "memory_bytes": 4096,
                 "process_count": None, "filesystem_bytes": None, "network_bytes": None, "exit_code": 0,
                 "redacted_summary": "fake"}
            if MODE == "today":
                r["cpu_millis"] = 3.0
            return r
        if method == "signal_process":
            return {"process_ref": ref, "signal": req["signal"], "delivered": False, "redacted_summary": "exited"}
        if req["stream"] == "stdin":
            raise Refusal(classified("InvalidStateTransition", "NotRetryable", "stdin is closed"))
        return {"stream_ref": "stream.fake", "stream": req["stream"], "cursor": 6, "byte_count": 6,
                "content_hash": "sha256:" + "00" * 32, "content_refs": ["content.fake"], "raw_content_present": False,
                "truncated": False, "redacted_summary": "6 bytes", "eof": True, "exit_code": 0}
    if method == "reclaim":
        check_id(req.get("ticket_ref"), "/ticket_ref")
        if req["ticket_ref"] != "ticket.fake.1":
            raise Refusal(classified("PolicyDenial", "NotRetryable", "unknown ticket"))
        return {"ticket_ref": "ticket.fake.1", "status": "completed", "redacted_summary": "reclaimed"}
    env = check_env(req)
    eid = env["environment_id"]
    caps = env["spec"]["requirement"]["required_capabilities"].get("capabilities", [])
    if method == "prepare_session":
        lacking = [c for c in caps if c not in REPORT_CAPS]
        fallback = env["spec"]["requirement"].get("fallback")
        if lacking and MODE != "today" and not isinstance(fallback, dict):
            raise Refusal(classified("PolicyDenial", "HostConfigurationNeeded", f"requires {', '.join(lacking)}"))
        return "session.fake." + eid
    if method == "start_process":
        proc = req.get("process")
        if not isinstance(proc, dict) or "argv" not in proc:
            missing("/process/argv")
        return {"process_ref": "process.fake.1", "adapter_session_ref": "adapter.session.fake",
                "terminal_status": "unknown", "external_operation_id": None, "redacted_summary": "started"}
    if method == "resolve_mounts":
        if MODE == "today":
            return {"mounts": [{"mount_ref": "mount.workspace.primary", "destination_path": "/workspace"}],
                    "expanded_exposure_audits": []}
        return {"mounts": ["mount.workspace.primary", "mount.reference.ro"],
                "expanded_exposure_audits": ["workspace", "reference"]}
    if method == "configure_network":
        if env["spec"]["network"] != "disabled":
            raise Refusal(classified("IsolationFailure", "NotRetryable", "network mode is not implemented"))
        return "network.fake"
    if method == "prepare_secrets":
        mounts = (env["spec"].get("secrets") or {}).get("secret_mounts") or []
        res = {"teardown_required": True}
        if mounts:
            res["secret_mount_refs"] = [m.get("mount_ref") or m["secret_ref"] for m in mounts]
        return res
    if method == "prepare_environment":
        return "prepared.fake"
    if method == "detach":
        return {"host_ack_ref": "ticket.fake.1", "redacted_summary": "detached"}
    if method == "cleanup":
        check_id(req.get("cleanup_plan_ref"), "/cleanup_plan_ref")
        return {"cleanup_plan_ref": req["cleanup_plan_ref"], "status": "completed", "external_operation_id": None,
                "redacted_summary": "cleaned"}
    raise Refusal({"ContractViolation": {"message": f"unknown method {method}"}})


def one(method, text):
    try:
        req = json.loads(text) if text.strip() else {}
        return 0, answer(method, req)
    except Refusal as r:
        return 125, r.err
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        return 125, {"ContractViolation": {"message": f"bad request: {type(e).__name__}"}}


def main(argv):
    if argv[:1] == ["call"] and len(argv) == 2:
        rc, v = one(argv[1], sys.stdin.read())
        print(json.dumps(v))
        return rc
    if argv[:2] == ["serve", "--stdio"] and MODE != "noserve":
        bad = os.environ.get("FAKE_NOOK_RPC") == "bad"
        for line in sys.stdin:
            msg = json.loads(line)
            rc, v = one(msg["method"], json.dumps(msg.get("params", {})))
            if rc == 0:
                out = {"jsonrpc": "2.0", "id": msg["id"], "result": v}
            else:
                out = {"jsonrpc": "2.0", "id": msg["id"] + bad, "error": {"code": -32602 if bad else -32000,
                                                                          "message": "refused", "data": v}}
            sys.stdout.write(json.dumps(out) + "\n")
            sys.stdout.flush()
        return 0
    if argv[:2] == ["image", "import"]:
        print(DIGEST)
        return 0
    print(f"fake nook: unknown command {argv}", file=sys.stderr)
    return 125


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
