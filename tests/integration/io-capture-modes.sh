#!/bin/sh
# Each io capture mode shapes a process's frames as its policy says, seen from outside
# through start_process (wait_ms) and stream_io: a summary summarises (counts, never a
# byte of the output: not the sentinel the process printed, in any mode); content refs
# are there exactly when the policy asks for them (content_ref, raw content, or
# redacted_summary with content_ref_mode) and the frame has bytes, and read back through
# read_content; raw_content_present is true exactly when the frame carries `data`; every
# frame has a content_hash; a ref the policy never gave is refused; the journal never
# holds the output.  The process's own stdout_policy wins over the environment's.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
session_up "$EID-io"
EMPTY_HASH=sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
# the process spells the sentinel at run time: argv never holds it
PRINT='["sh","-c","printf \"SENT%s\\n\" INEL-out; printf \"SENT%s\\n\" INEL-err >&2"]'

# check_frame MODE REFS FRAME_JSON: REFS is 1 when the frame must carry a content ref.
check_frame() {
        printf '%s\n' "$3" | python3 -c '
import json, sys
mode, refs = sys.argv[1], sys.argv[2] == "1"
f = json.load(sys.stdin)
def fail(m):
    sys.exit("FAIL: %s frame %s: %s: %s" % (mode, f.get("stream"), m, json.dumps(f)))
if "SENTINEL" in f["redacted_summary"]:
    fail("the summary holds the output")
if f["byte_count"] and f["redacted_summary"] != ("capture off" if mode == "off" else "%d bytes, 1 line" % f["byte_count"]):
    fail("the summary is not the counts")
h = f.get("content_hash")
if not isinstance(h, str) or not h.startswith("sha256:") or len(h) != 71:
    fail("no content_hash")
if mode == "off" and h != sys.argv[3]:
    fail("capture off fingerprints the bytes")
if f["raw_content_present"] != ("data" in f):
    fail("raw_content_present does not say whether data is there")
if ("data" in f) != (mode == "raw_content_if_policy_allows"):
    fail("data present against the policy")
if "data" in f and f["byte_count"] and "SENTINEL" not in f["data"]:
    fail("raw data without the output")
if bool(f.get("content_refs")) != (refs and f["byte_count"] > 0):
    fail("content refs %s" % ("missing" if refs else "given against the policy"))
' "$1" "$2" "$EMPTY_HASH" || exit 1
}

# pol MODE [REF_MODE]: an io capture policy.
pol() {
        printf '{"default_capture":"%s","max_bytes":65536,"truncation_policy":"truncate_with_marker","content_ref_mode":"%s","redaction_policy_ref":null}' \
                "$1" "${2:-none}"
}

# mode_run MODE REF_MODE REFS: the mode as the process's own policy for both streams.
mode_run() {
        p=$(pol "$1" "$2")
        start_in "$PRINT" "\"stdout_policy\":$p,\"stderr_policy\":$p" 10000
        [ "$RC" -eq 0 ] || fail "start_process with $1: $OUT"
        P=$(printf '%s\n' "$OUT" | json_query 'j["process_ref"]')
        assert_eq 2 "$(printf '%s\n' "$OUT" | json_query 'len(j["io_frames"])')" "$1: frames of start_process"
        for i in 0 1; do
                check_frame "$1" "$3" "$(printf '%s\n' "$OUT" | json_query "j['io_frames'][$i]")"
        done
        for s in stdout stderr; do
                call_ok stream_io "{\"process_ref\":\"$P\",\"stream\":\"$s\",\"cursor\":0,\"wait_ms\":5000}"
                check_frame "$1" "$3" "$OUT"
                FRAME=$OUT
                # the next read is empty: no ref to an empty range
                call_ok stream_io "{\"process_ref\":\"$P\",\"stream\":\"$s\"}"
                assert_eq 0 "$(printf '%s\n' "$OUT" | json_query 'j["byte_count"]')" "$1: $s read again"
                check_frame "$1" "$3" "$OUT"
        done
}

# read_back: the content ref of $FRAME reads the bytes the frame hashed.
read_back() {
        ref=$(printf '%s\n' "$FRAME" | json_query 'j["content_refs"][0]')
        call_ok read_content "{\"content_ref\":\"$ref\"}"
        assert_eq "SENTINEL-err" "$(printf '%s\n' "$OUT" | json_query 'j["data"].strip()')" "$1: the ref reads back"
        assert_eq "$(printf '%s\n' "$FRAME" | json_query 'j["content_hash"]')" \
                "$(printf '%s\n' "$OUT" | json_query 'j["content_hash"]')" "$1: the ref's bytes are the frame's"
}

# refused_ref: a ref spelled by hand for a stream whose policy gives none.
refused_ref() {
        run_nook_in "{\"content_ref\":\"$P/stderr/0-13\"}" call read_content
        assert_eq 125 "$RC" "$1: read_content of a ref the policy never gave"
        assert_eq PolicyDenial "$(printf '%s\n' "$OUT" | json_query 'j["Classified"]["kind"]')" "$1: refusal kind"
        assert_not_contains "$OUT" "SENTINEL" "$1: the refusal"
}

mode_run off none 0
refused_ref off
ok "off: counts of nothing, the hash of zero bytes, no refs, no data"
mode_run metadata_only content_ref_if_policy_allows 0
refused_ref metadata_only
ok "metadata_only: counts only, no refs even when content_ref_mode allows them"
mode_run redacted_summary none 0
refused_ref redacted_summary
ok "redacted_summary: counts, never a preview of the output; no refs without content_ref_mode"
mode_run redacted_summary content_ref_if_policy_allows 1
read_back "redacted_summary with content_ref_mode"
ok "redacted_summary with content_ref_mode: a ref that reads back"
mode_run content_ref none 1
read_back content_ref
ok "content_ref: a ref for each frame with bytes, read back by read_content; none for an empty frame"
mode_run raw_content_if_policy_allows none 1
read_back raw_content_if_policy_allows
ok "raw_content_if_policy_allows: data with raw_content_present, a ref, and still a summary of counts"

# the environment's io_policy applies where the process has none of its own
SENV_RAW=$SENV
SENV="{\"environment_id\":\"$EID-io\",\"spec\":{\"filesystem\":{\"root\":\"writable_layer\"},\"io_policy\":{\"stdout\":$(pol content_ref),\"stderr\":$(pol content_ref)}}}"
start_in "$PRINT" "\"stdout_policy\":$(pol metadata_only)" 10000
[ "$RC" -eq 0 ] || fail "start_process with the environment's policy: $OUT"
check_frame metadata_only 0 "$(printf '%s\n' "$OUT" | json_query "j['io_frames'][0]")"
check_frame content_ref 1 "$(printf '%s\n' "$OUT" | json_query "j['io_frames'][1]")"
P=$(printf '%s\n' "$OUT" | json_query 'j["process_ref"]')
call_ok stream_io "{\"process_ref\":\"$P\",\"stream\":\"stderr\",\"cursor\":0}"
check_frame content_ref 1 "$OUT"
FRAME=$OUT
read_back "the environment's content_ref"
SENV=$SENV_RAW
ok "the process's stdout_policy wins over the environment's io_policy; stderr follows the environment's"

run_nook journal --json
assert_eq 0 "$RC" "journal: $ERR"
assert_contains "$OUT" "start_process" "the starts are journaled"
assert_not_contains "$OUT" "SENTINEL" "the journal holds output"
ok "the journal never holds the output"
session_down "$EID-io"
