#!/usr/bin/env python3
"""nook contract suite: the driver (samples.py) itself, against fake_nook.py, a stand-in
that answers with the samples' shapes: it must pass through both transports when the
answers are right (through the derived run: the fake cannot deliver a capability the
main environment requires), and report each wrong shape, a host path in an error, a
wrong JSON-RPC envelope and a missing `nook serve` when they are not.

Run: python3 tests/contract/test_driver.py  (meson: suite contract, test driver-selftest)
"""
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "fake_nook.py")


def drive(transport, **fake_env):
    env = dict(os.environ)
    env.update(fake_env)
    env["NOOK"] = FAKE
    env.setdefault("NOOK_SOURCE_ROOT", os.path.dirname(os.path.dirname(HERE)))
    p = subprocess.run([sys.executable, os.path.join(HERE, "samples.py"), "--transport", transport],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=600)
    return p.returncode, p.stdout.decode("utf-8", "replace")


class Driver(unittest.TestCase):
    def assertIn(self, needle, out, msg=None):   # noqa: N802 (unittest's name)
        if needle not in out:
            self.fail(f"{needle!r} not in the driver's output:\n{out[-6000:]}")

    def test_right_answers_pass(self):
        for t in ("call", "serve"):
            with self.subTest(t):
                rc, out = drive(t, FAKE_NOOK_MODE="good")
                self.assertEqual(0, rc, out[-6000:])
                self.assertIn("==> derived: the main lifecycle again", out)
                self.assertIn("(without mount_read_only_enforcement)", out)
                self.assertIn("stream_io.json (process_ref from nook)", out)
                self.assertIn("reclaim.json (ticket_ref from nook)", out)
                self.assertIn("resolve_image.pinned.json (the image's digest)", out)
                self.assertIn("ok - every request sample accepted or refused for a reason outside the JSON", out)

    def test_wrong_shapes_fail(self):
        rc, out = drive("call", FAKE_NOOK_MODE="today")
        self.assertEqual(1, rc, out[-6000:])
        for p in ("answer /capabilities: expected object IsolationCapabilitySet, got array",
                  "answer /redacted_credential_alias: missing key",
                  "error /Classified/causal_ids: missing key 'causal_ids'",
                  "error /Classified/context/policy_refs: missing key",
                  "answer /mounts/0: expected string (a typed id), got object",
                  "answer /expanded_exposure_audits: 'expanded_exposure_audits' must be left out when empty",
                  "answer /cpu_millis: expected integer (u64), got float 3.0",
                  "accepted, but this request must be refused as invalid input",
                  "FAIL: "):
            self.assertIn(p, out)

    def test_host_path_and_envelope(self):
        rc, out = drive("serve", FAKE_NOOK_MODE="good", FAKE_NOOK_LEAK="1", FAKE_NOOK_RPC="bad")
        self.assertEqual(1, rc, out[-6000:])
        self.assertIn("names a host path", out)
        self.assertIn("jsonrpc: error.code must be -32000 (an AgentError), got integer -32602", out)
        self.assertIn("jsonrpc: \"id\" must be", out)

    def test_no_serve_fails(self):
        rc, out = drive("serve", FAKE_NOOK_MODE="noserve")
        self.assertEqual(1, rc, out[-6000:])
        self.assertIn("`nook serve --stdio` exited before answering (exit code 125)", out)
        self.assertIn("the run stopped: after #1", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
