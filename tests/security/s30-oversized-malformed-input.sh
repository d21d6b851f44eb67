#!/bin/sh
# S30 (runc CVE-2021-43784 class): oversized or malformed API input.  Hostile requests
# are refused whole before any effect, within bounds, without a crash, and the journal
# is byte-identical afterwards.
. "$NOOK_TEST_LIB/lib.sh"

run_nook_in '{"environment":{"environment_id":"s30","spec":{}}}' call prepare_secrets
snapshot() { "$NOOK" journal --json; }
before=$(snapshot)

hostile() { # label generator-python-expression
        python3 -c "import sys; v = $2; sys.stdout.buffer.write(v if isinstance(v, bytes) else v.encode())" >"$T/in"
        set +e
        "$NOOK" call prepare_session --request "$T/in" >"$T/out" 2>"$T/err"
        rc=$?
        set -e
        [ "$rc" -eq 125 ] || fail "$1: exit $rc (crash or acceptance), stderr: $(head -c 300 "$T/err")"
        python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out" || fail "$1: stdout is not an AgentError"
}

hostile "deep nesting" '"[" * 200000'
hostile "deep objects" '"{\"a\":" * 100000'
hostile "huge string" '"{\"environment\":{\"environment_id\":\"" + "a" * (8 << 20) + "\",\"spec\":{}}}"'
hostile "long identifier" '"{\"environment\":{\"environment_id\":\"" + "a" * 513 + "\",\"spec\":{}}}"'
hostile "many keys" '"{" + ",".join("\"k%d\":%d" % (i, i) for i in range(300000)) + "}"'
hostile "huge array" '"{\"environment\":{\"environment_id\":\"x\",\"spec\":{\"accepted_adapters\":[" + ",".join(["\"a\""] * 5000) + "]}}}"'
hostile "huge number" '"{\"environment\":{\"environment_id\":\"x\",\"spec\":{\"resources\":{\"memory_mb\":1" + "0" * 400 + "}}}}"'
hostile "float for integer" '"{\"environment\":{\"environment_id\":\"x\",\"spec\":{\"resources\":{\"memory_mb\":1.5}}}}"'
hostile "lone surrogate" '"{\"environment\":{\"environment_id\":\"\\ud800\",\"spec\":{}}}"'
hostile "overlong utf8" 'b"{\"environment\":{\"environment_id\":\"\xc0\xaf\",\"spec\":{}}}"'
hostile "binary garbage" 'bytes(range(256))'
hostile "duplicate nested key" '"{\"environment\":{\"environment_id\":\"x\",\"spec\":{\"network\":\"disabled\",\"network\":{\"allowlist\":{\"hosts\":[\"a\"]}}}}}"'
hostile "C1 control in id" '"{\"environment\":{\"environment_id\":\"a\\u0085b\",\"spec\":{}}}"'

after=$(snapshot)
assert_eq "$before" "$after" "journal after hostile input"
ok "S30: hostile input refused, no crash, journal unchanged"
