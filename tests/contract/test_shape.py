#!/usr/bin/env python3
"""nook contract suite: the comparator itself (shape.py). Every sample matches itself; the
answers nook must never give (the mutations below, most of them seen in nook's answers at
some point) are each reported, at the right place; what the contract allows is not.

Run: python3 tests/contract/test_shape.py  (meson: suite contract, test shape-selftest)
"""
import copy
import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shape  # noqa: E402

SPEC = shape.load_spec()
REQ = shape.load_samples("requests")
RESP = shape.load_samples("responses")
ERR = shape.load_samples("errors")


def resp(name):
    return copy.deepcopy(RESP[name + ".json"])


def err(name):
    return copy.deepcopy(ERR[name + ".json"])


class Base(unittest.TestCase):
    def answer_diffs(self, method, actual):
        """Differences of `actual` from every sample of `method` (it must match one)."""
        _, d = shape.match_any(shape.response_samples(method), actual, shape.ANSWER_TYPES[method])
        return d

    def error_diffs(self, actual):
        _, d = shape.match_any(shape.error_samples(), actual, shape.AGENT_ERROR)
        return d

    def assertReported(self, diffs, path, *words):
        """A difference at `path` whose message holds every one of `words`."""
        for d in diffs:
            if (d.path or "/") == path and all(w in d.message for w in words):
                return
        self.fail(f"no difference at {path!r} mentioning {words}; got: {diffs}")

    def assertClean(self, diffs):
        self.assertEqual([], diffs, "\n".join(map(str, diffs)))


class SamplesMatchThemselves(Base):
    def test_spec_parsed(self):
        self.assertIn("read_only_root", SPEC.enums["IsolationCapability"].units)
        self.assertEqual(19, len(SPEC.enums["IsolationCapability"].units))
        self.assertEqual(20, len(SPEC.enums["AgentErrorKind"].units))
        self.assertEqual({"MissingRequiredField", "ContractViolation", "HostConfigurationNeeded", "Classified"},
                         set(SPEC.enums["AgentError"].tags))
        self.assertEqual({"degraded", "unsupported_host"}, set(SPEC.enums["IsolationRuntimeHealth"].tags))
        self.assertEqual("empty", SPEC.structs["MountPlan"]["mounts"].omit)
        self.assertTrue(SPEC.structs["CausalIds"]["run_id"].null_when_none)
        self.assertEqual("id[]", SPEC.structs["MountPlan"]["mounts"].kind)

    def test_every_answer_field_has_a_type(self):
        for st in shape.FIELD_TYPES:
            for f in SPEC.structs[st]:
                self.assertIsNotNone(SPEC.field_type(st, f), f"{st}.{f}")

    def test_responses_typed(self):
        for name, sample in RESP.items():
            m = shape.method_of(name)
            with self.subTest(name):
                self.assertClean(shape.compare(sample, sample, "", shape.ANSWER_TYPES[m]))
                self.assertClean(self.answer_diffs(m, sample))

    def test_errors_typed(self):
        for name, sample in ERR.items():
            with self.subTest(name):
                self.assertClean(shape.compare(sample, sample, "", shape.AGENT_ERROR))

    def test_every_sample_structurally(self):
        for kind, d in (("requests", REQ), ("responses", RESP), ("errors", ERR)):
            for name, sample in d.items():
                with self.subTest(f"{kind}/{name}"):
                    self.assertClean(shape.compare(sample, sample))

    def test_each_method_has_samples(self):
        for m in shape.ANSWER_TYPES:
            self.assertTrue(shape.response_samples(m), m)


class MutationsAreReported(Base):
    def test_capability_set_as_bare_array(self):
        r = resp("capability_report")
        r["capabilities"] = r["capabilities"]["capabilities"]
        self.assertReported(self.answer_diffs("capability_report", r), "/capabilities",
                            "expected object IsolationCapabilitySet", "array")

    def test_required_capabilities_as_bare_array_structurally(self):
        q = copy.deepcopy(REQ["prepare_session.json"])
        caps = q["environment"]["spec"]["requirement"]["required_capabilities"]
        q["environment"]["spec"]["requirement"]["required_capabilities"] = caps["capabilities"]
        self.assertReported(shape.compare(REQ["prepare_session.json"], q),
                            "/environment/spec/requirement/required_capabilities", "expected object")

    def test_empty_capability_set_written_as_empty_list(self):
        r = resp("capability_report")
        r["capabilities"] = {"capabilities": []}
        self.assertReported(self.answer_diffs("capability_report", r), "/capabilities/capabilities",
                            "left out when empty")

    def test_capability_in_pascal_case(self):
        r = resp("capability_report")
        r["capabilities"]["capabilities"][0] = "ReadOnlyRoot"
        self.assertReported(self.answer_diffs("capability_report", r), "/capabilities/capabilities/0",
                            "'ReadOnlyRoot' is not a spelling of IsolationCapability")

    def test_trust_as_string(self):
        r = resp("capability_report")
        r["trust"] = "unprivileged_user_namespaces"
        self.assertReported(self.answer_diffs("capability_report", r), "/trust",
                            "expected object IsolationTrustRequirement")

    def test_trust_missing_a_field(self):
        r = resp("capability_report")
        del r["trust"]["secret_isolation"]
        self.assertReported(self.answer_diffs("capability_report", r), "/trust/secret_isolation", "missing key")

    def test_log_retention_as_object(self):
        r = resp("capability_report")
        r["log_retention"] = {"journal": "local"}
        self.assertReported(self.answer_diffs("capability_report", r), "/log_retention", "RetentionClass")

    def test_health_pascal_case_and_bad_tag(self):
        r = resp("capability_report")
        r["health"] = "Healthy"
        self.assertReported(self.answer_diffs("capability_report", r), "/health", "not a spelling")
        r["health"] = {"Degraded": {"reason": "x"}}
        self.assertReported(self.answer_diffs("capability_report", r), "/health/Degraded", "not a tag")
        r["health"] = {"degraded": {}}
        self.assertReported(self.answer_diffs("capability_report", r), "/health/degraded/reason", "missing key")

    def test_unknown_extra_key(self):
        r = resp("capability_report")
        r["notes"] = ["x"]
        self.assertReported(self.answer_diffs("capability_report", r), "/notes", "unexpected key")
        s = resp("signal_process")
        s["pid"] = 42
        self.assertReported(self.answer_diffs("signal_process", s), "/pid", "unexpected key")
        st = resp("collect_stats")
        st["eof"] = True   # an ext key of frames, not of stats
        self.assertReported(self.answer_diffs("collect_stats", st), "/eof", "unexpected key")

    def test_missing_causal_ids(self):
        e = err("Classified.IsolationFailure.Retryable")
        del e["Classified"]["causal_ids"]
        self.assertReported(self.error_diffs(e), "/Classified/causal_ids", "missing key")

    def test_context_without_policy_refs_and_options(self):
        # nook's Classified of today: {message, redacted_summary} only
        e = {"Classified": {"kind": "IsolationFailure", "retry": "NotRetryable",
                            "context": {"message": "m", "redacted_summary": "m"}}}
        d = self.error_diffs(e)
        self.assertReported(d, "/Classified/context/policy_refs", "missing key")
        for k in ("source", "destination", "subject", "privacy"):
            self.assertReported(d, "/Classified/context/" + k, "writes null")
        self.assertReported(d, "/Classified/causal_ids", "missing key")

    def test_causal_ids_empty_object(self):
        e = err("Classified.Timeout.Retryable")
        e["Classified"]["causal_ids"] = {}
        d = self.error_diffs(e)
        self.assertReported(d, "/Classified/causal_ids/related", "missing key")
        self.assertReported(d, "/Classified/causal_ids/span_id", "writes null")

    def test_null_replaced_by_omitted(self):
        r = resp("resolve_image.no_credential")
        del r["redacted_credential_alias"]
        self.assertReported(self.answer_diffs("resolve_image", r), "/redacted_credential_alias", "writes null")
        s = resp("collect_stats.all_none")
        del s["cpu_millis"]
        self.assertReported(self.answer_diffs("collect_stats", s), "/cpu_millis", "writes null")
        p = resp("start_process.denied_before_execution")
        del p["adapter_session_ref"]
        self.assertReported(self.answer_diffs("start_process", p), "/adapter_session_ref", "writes null")

    def test_snake_case_error_kind_and_variant(self):
        e = err("Classified.IsolationFailure.Retryable")
        e["Classified"]["kind"] = "isolation_failure"
        self.assertReported(self.error_diffs(e), "/Classified/kind", "not a spelling of AgentErrorKind")
        e = err("Classified.IsolationFailure.Retryable")
        e["Classified"]["retry"] = "retryable"
        self.assertReported(self.error_diffs(e), "/Classified/retry", "not a spelling of RetryClassification")
        self.assertReported(self.error_diffs({"contract_violation": {"message": "m"}}), "/contract_violation",
                            "not a tag of AgentError")

    def test_error_shapes(self):
        self.assertReported(self.error_diffs("ContractViolation"), "/", "carries data", "bare string")
        self.assertReported(self.error_diffs(["ContractViolation"]), "/", "expected AgentError")
        self.assertReported(self.error_diffs({"ContractViolation": {"message": "m"}, "exit_code": 2}), "/",
                            "exactly one key")
        self.assertReported(self.error_diffs({"MissingRequiredField": {"message": "m"}}),
                            "/MissingRequiredField/field", "missing key")

    def test_mounts_as_objects(self):
        r = {"mounts": [{"mount_ref": "mount.workspace.primary", "destination_path": "/workspace"}]}
        self.assertReported(self.answer_diffs("resolve_mounts", r), "/mounts/0", "expected string (a typed id)",
                            "got object")

    def test_empty_lists_must_be_left_out(self):
        self.assertReported(self.answer_diffs("resolve_mounts", {"mounts": [], "expanded_exposure_audits": []}),
                            "/mounts", "left out when empty")
        p = resp("start_process.unknown")
        p["io_frames"] = []
        self.assertReported(self.answer_diffs("start_process", p), "/io_frames", "left out when empty")
        f = resp("stream_io.stdin")
        f["content_refs"] = []
        self.assertReported(self.answer_diffs("stream_io", f), "/content_refs", "left out when empty")
        s = resp("prepare_secrets.no_secrets")
        s["secret_mount_refs"] = []
        self.assertReported(self.answer_diffs("prepare_secrets", s), "/secret_mount_refs", "left out when empty")

    def test_float_and_string_counters(self):
        s = resp("collect_stats")
        s["cpu_millis"] = 10.5
        self.assertReported(self.answer_diffs("collect_stats", s), "/cpu_millis", "expected integer", "float")
        s["cpu_millis"] = 10.0
        self.assertReported(self.answer_diffs("collect_stats", s), "/cpu_millis", "expected integer", "float")
        s["cpu_millis"] = "1024"
        self.assertReported(self.answer_diffs("collect_stats", s), "/cpu_millis", "expected integer", "string")
        f = resp("stream_io")
        f["cursor"] = 1.0
        self.assertReported(self.answer_diffs("stream_io", f), "/cursor", "expected integer")

    def test_integers_out_of_range_and_booleans(self):
        s = resp("collect_stats")
        s["process_count"] = 4294967296
        self.assertReported(self.answer_diffs("collect_stats", s), "/process_count", "outside u32")
        s = resp("collect_stats")
        s["memory_bytes"] = -1
        self.assertReported(self.answer_diffs("collect_stats", s), "/memory_bytes", "outside u64")
        g = resp("signal_process")
        g["delivered"] = 1
        self.assertReported(self.answer_diffs("signal_process", g), "/delivered", "expected boolean")
        s = resp("collect_stats")
        s["cpu_millis"] = True
        self.assertReported(self.answer_diffs("collect_stats", s), "/cpu_millis", "expected integer", "boolean")

    def test_required_string_null(self):
        g = resp("signal_process")
        g["redacted_summary"] = None
        self.assertReported(self.answer_diffs("signal_process", g), "/redacted_summary", "got null")

    def test_identifier_rule(self):
        g = resp("signal_process")
        g["process_ref"] = ""
        self.assertReported(self.answer_diffs("signal_process", g), "/process_ref", "identifier is empty")
        g["process_ref"] = "p" * 513
        self.assertReported(self.answer_diffs("signal_process", g), "/process_ref", "length 513 exceeds max 512")
        g["process_ref"] = "é" * 257
        self.assertReported(self.answer_diffs("signal_process", g), "/process_ref", "length 514 exceeds max 512")
        g["process_ref"] = "session\tone"
        self.assertReported(self.answer_diffs("signal_process", g), "/process_ref", "control character at byte 7")
        g["process_ref"] = "session\u0085one"
        self.assertReported(self.answer_diffs("signal_process", g), "/process_ref", "control character at byte 7")
        r = resp("resolve_mounts")
        r["mounts"] = ["ok", ""]
        self.assertReported(self.answer_diffs("resolve_mounts", r), "/mounts/1", "identifier is empty")
        self.assertReported(self.answer_diffs("runtime_ref", ""), "/", "identifier is empty")
        e = err("Classified.with_context")
        e["Classified"]["causal_ids"]["run_id"] = ""
        self.assertReported(self.error_diffs(e), "/Classified/causal_ids/run_id", "identifier is empty")

    def test_bare_string_answers(self):
        for m in ("runtime_ref", "prepare_session", "prepare_rootfs", "configure_network", "prepare_environment"):
            self.assertReported(self.answer_diffs(m, {"session_ref": "session.1"}), "/",
                                "expected string (a typed id)", "got object")

    def test_omitted_when_none_written_as_null(self):
        e = err("Classified.with_context")
        e["Classified"]["context"]["policy_refs"][1]["version"] = None
        self.assertReported(self.error_diffs(e), "/Classified/context/policy_refs/1/version", "left out when None")

    def test_frame_ext_keys_only_in_frames(self):
        p = resp("start_process.completed")
        p["eof"] = True
        self.assertReported(self.answer_diffs("start_process", p), "/eof", "unexpected key")

    def test_generic_enum_and_tag_checks(self):
        base = REQ["prepare_session.json"]
        q = copy.deepcopy(base)
        q["environment"]["spec"]["network"] = "Disabled"
        self.assertReported(shape.compare(base, q), "/environment/spec/network", "not a spelling")
        q["environment"]["spec"]["network"] = {"alowlist": {"hosts": ["localhost"]}}
        self.assertReported(shape.compare(base, q), "/environment/spec/network/alowlist", "not a tag")
        q = copy.deepcopy(base)
        q["environment"]["spec"]["lifecycle"] = {"ephemeral_cleanup_required": {"cleanup_mode": "always"}}
        self.assertReported(shape.compare(base, q), "/environment/spec/lifecycle/ephemeral_cleanup_required",
                            "not a tag")
        q = copy.deepcopy(base)
        q["environment"]["spec"]["resources"]["cpus"] = 1.0
        self.assertReported(shape.compare(base, q), "/environment/spec/resources/cpus", "expected integer", "float")
        q = copy.deepcopy(base)
        del q["environment"]["spec"]["image"]["expected_digest"]
        self.assertReported(shape.compare(base, q), "/environment/spec/image/expected_digest", "missing key")


class AllowedIsNotReported(Base):
    def test_stats_with_some_counters(self):
        s = resp("collect_stats")
        s["exit_code"] = None
        s["network_bytes"] = None
        self.assertClean(self.answer_diffs("collect_stats", s))
        s["exit_code"] = -9
        self.assertClean(self.answer_diffs("collect_stats", s))
        a = resp("collect_stats.all_none")
        a["cpu_millis"] = 3
        self.assertClean(self.answer_diffs("collect_stats", a))

    def test_report_ext_and_optional_lists(self):
        r = resp("capability_report")
        r["findings"] = [{"name": "userns", "ok": True, "detail": "d"}]
        r["unsupported_requirements"] = ["io_redaction"]
        r["health"] = {"degraded": {"reason": "slirp4netns is missing"}}
        r["trust"]["data_residency"] = {"region": "eu-west-1"}
        self.assertClean(self.answer_diffs("capability_report", r))
        del r["supported_classes"]
        del r["unsupported_requirements"]
        r["capabilities"] = {}
        self.assertClean(self.answer_diffs("capability_report", r))

    def test_frames_with_ext_and_without_content_refs(self):
        p = resp("start_process.unknown")
        f = resp("stream_io.stdin")
        f.update({"stream": "stdout", "data": "hello\n", "encoding": "base64", "eof": True, "exit_code": 0})
        p["io_frames"] = [f]
        p["limits"] = {"cpus": "not_enforced"}
        p["nook"] = {"anything": 1}
        self.assertClean(self.answer_diffs("start_process", p))
        self.assertClean(self.answer_diffs("stream_io", f))

    def test_options_set_or_null(self):
        p = resp("start_process.completed")
        p["adapter_session_ref"] = None
        p["external_operation_id"] = None
        self.assertClean(self.answer_diffs("start_process", p))
        c = resp("cleanup.completed.no_operation_id")
        c["external_operation_id"] = "op-1"
        self.assertClean(self.answer_diffs("cleanup", c))

    def test_errors_with_or_without_context(self):
        e = err("Classified.with_context")
        for k in ("source", "destination", "subject", "privacy", "redacted_summary"):
            e["Classified"]["context"][k] = None
        self.assertClean(self.error_diffs(e))
        e = err("Classified.IsolationFailure.Retryable")
        e["Classified"]["kind"] = "PolicyDenial"
        e["Classified"]["retry"] = "UserActionNeeded"
        e["Classified"]["context"]["policy_refs"] = [{"kind": "host", "id": "policy.x", "version": "1"}]
        e["Classified"]["causal_ids"]["related"] = [{"kind": "effect", "id": "effect.1", "privacy": "internal"}]
        self.assertClean(self.error_diffs(e))
        self.assertClean(self.error_diffs({"HostConfigurationNeeded": {"message": "m"}}))

    def test_identifiers_that_are_fine(self):
        g = resp("signal_process")
        for ok in ("nook/session: é 1", "p" * 512, "é" * 256):
            g["process_ref"] = ok
            self.assertClean(self.answer_diffs("signal_process", g))
        d = resp("detach")
        d["host_ack_ref"] = ""       # a plain string, not an id
        self.assertClean(self.answer_diffs("detach", d))

    def test_empty_mount_plan(self):
        self.assertClean(self.answer_diffs("resolve_mounts", {}))
        self.assertClean(self.answer_diffs("resolve_mounts", {"mounts": ["a", "b"]}))


if __name__ == "__main__":
    unittest.main(verbosity=2)
