#!/bin/sh
# A host built from the contract's own types (no ext field at all) drives a whole
# session: capability sets, the trust struct, prepare_rootfs without an environment id,
# start_process without wait_ms, a downgrade its fallback accepts (journaled, noted,
# printed), the mount plan as refs, Classified errors with every context field and no
# host path.  Each part failed before issue 11.
. "$NOOK_TEST_LIB/lib.sh"

mk_rootfs "$ROOT"
EID="host-$$"
echo "$EID" >>"$T/envs"
IO='"io_policy":{"stdout":{"default_capture":"raw_content_if_policy_allows","max_bytes":65536,"truncation_policy":"truncate_with_marker","content_ref_mode":"content_ref_if_policy_allows","redaction_policy_ref":{"kind":"host","id":"p"}},"stderr":{"default_capture":"raw_content_if_policy_allows","max_bytes":65536,"truncation_policy":"truncate_with_marker","content_ref_mode":"content_ref_if_policy_allows","redaction_policy_ref":{"kind":"host","id":"p"}}}'
TRUST='"trust":{"locality":"local","tenancy":"shared_allowed","auditability":"required","cleanup":"required","data_residency":"local_only","secret_isolation":"required"}'
# nook offers best-effort secret isolation (a kernel shared with the machine's other
# users), not the required kind: the fallback accepts exactly that trust downgrade
REQ="\"requirement\":{\"minimum_class\":\"sandbox\",$TRUST,\"preferred_adapters\":[\"nook.userns\"],\"fallback\":{\"allow_if_package_and_policy_approve\":{\"accepted_classes\":[],\"accepted_capability_downgrades\":[],\"accepted_trust_downgrades\":[\"secret_isolation\"],\"required_policy_refs\":[]}},\"required_capabilities\":{\"capabilities\":[\"read_only_root\",\"secret_redaction\",\"cleanup\"]}}"
SPEC="{\"environment_id\":\"$EID\",\"kind\":\"sandbox\",$REQ,\"rootfs\":{\"rootfs_ref\":\"testroot\",\"read_only\":false,\"writable_layer_ref\":null},\"resources\":{\"cpus\":1,\"memory_mb\":1024,\"timeout_ms\":120000,\"process_count\":32},\"filesystem\":{\"root\":\"writable_layer\",\"workspace\":{\"mode\":\"none\"},\"symlink_policy\":\"deny_escapes\",\"single_file_mount_expansion\":\"audit_expanded_parent\"},\"network\":\"disabled\",\"secrets\":{\"ambient\":\"denied\",\"teardown_required\":true},\"accepted_adapters\":[{\"required_class\":\"sandbox\"}],$IO}"
ENV="{\"environment_id\":\"$EID\",\"spec\":$SPEC}"

# ---- the capability report: the trust struct, a retention class, capability sets ----
call_ok capability_report '{}'
assert_eq dict "$(printf '%s\n' "$OUT" | json_query 'type(j["trust"]).__name__')" "trust is an object"
assert_eq "local local_only required" \
        "$(printf '%s\n' "$OUT" | json_query 'j["trust"]["locality"] + " " + j["trust"]["data_residency"] + " " + j["trust"]["cleanup"]')" \
        "the trust nook offers"
assert_eq durable "$(printf '%s\n' "$OUT" | json_query 'j["log_retention"]')" "log_retention is a retention class"
assert_eq list "$(printf '%s\n' "$OUT" | json_query 'type(j["capabilities"]["capabilities"]).__name__')" "a capability set"
ok "capability report shapes"

# ---- a bare array where the crate writes a set is the caller's mistake, named ----
run_nook_in "{\"environment\":{\"environment_id\":\"$EID-bad\",\"spec\":{\"requirement\":{\"minimum_class\":\"sandbox\",\"required_capabilities\":[\"cleanup\"]}}}}" call prepare_session
assert_eq 125 "$RC" "required_capabilities as an array"
assert_contains "$OUT" '/environment/spec/requirement/required_capabilities' "the pointer"

# ---- a downgrade the fallback accepts: journaled, noted, printed ----
call_ok prepare_session "{\"environment\":$ENV}"
SREF=$(printf '%s\n' "$OUT" | json_query 'j')
assert_contains "$ERR" "nook: note: downgrade accepted by fallback allow_if_package_and_policy_approve: this host lacks trust secret_isolation" "the note on stderr"
notes=$("$NOOK" journal --json | json_query '[e["notes"] for e in j if e["method"] == "prepare_session" and e["environment_id"] == "'"$EID"'"][0]')
assert_contains "$notes" "lacks trust secret_isolation" "the note in the journal"
run_nook session inspect "$SREF" --json
assert_eq 0 "$RC" "session inspect"
assert_contains "$(printf '%s\n' "$OUT" | json_query 'j["notes"]')" "lacks trust secret_isolation" "the note in session inspect"
# a gap the fallback does not list is refused, and named
run_nook_in "{\"environment\":{\"environment_id\":\"$EID-strict\",\"spec\":{\"requirement\":{\"minimum_class\":\"sandbox\",\"fallback\":{\"allow_if_package_and_policy_approve\":{\"accepted_trust_downgrades\":[\"auditability\"]}},\"trust\":{\"locality\":\"any\",\"tenancy\":\"shared_allowed\",\"auditability\":\"none\",\"cleanup\":\"best_effort\",\"data_residency\":\"any\",\"secret_isolation\":\"required\"}}}}}" call prepare_session
assert_eq 125 "$RC" "a gap the fallback does not accept"
assert_contains "$OUT" "does not accept trust secret_isolation" "the refused gap is named"
ok "downgrades are explicit"

# ---- prepare_rootfs from the crate's RootfsRequest alone, adopted by the session ----
call_ok prepare_rootfs '{"rootfs":{"rootfs_ref":"testroot","read_only":false,"writable_layer_ref":null}}'
R1=$OUT
call_ok prepare_rootfs '{"rootfs":{"rootfs_ref":"testroot","read_only":false,"writable_layer_ref":null}}'
assert_eq "$R1" "$OUT" "the same request, the same rootfs ref"
case "$R1" in '"rootfs-'*) ;; *) fail "rootfs ref: $R1" ;; esac
run_nook_in '{"rootfs":{"rootfs_ref":"no-such-root","read_only":true,"writable_layer_ref":null}}' call prepare_rootfs
assert_eq 125 "$RC" "an unknown root is refused at prepare_rootfs"
call_ok prepare_environment "{\"environment\":$ENV}"
# a named writable layer made without a session is journaled, and gc removes it once no
# session took it (after a minute's grace: the record is aged here) but keeps a taken one
call_ok prepare_rootfs "{\"rootfs\":{\"rootfs_ref\":\"testroot\",\"read_only\":false,\"writable_layer_ref\":\"gc-$$\"}}"
call_ok prepare_rootfs "{\"rootfs\":{\"rootfs_ref\":\"testroot\",\"read_only\":false,\"writable_layer_ref\":\"taken-$$\"}}"
[ -d "$XDG_DATA_HOME/nook/uppers/gc-$$/upper" ] || fail "the named layer was not made"
: >"$XDG_DATA_HOME/nook/uppers/taken-$$/session" # as claim_upper leaves it
python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n = db.execute("UPDATE resources SET created_ms = 0 WHERE kind = '"'"'rootfs'"'"' AND environment_id IS NULL").rowcount
db.commit()
sys.exit(0 if n == 3 else "rootfs records without an environment: %d (the same request twice is one)" % n)' "$XDG_DATA_HOME/nook/journal.db"
run_nook gc
[ ! -e "$XDG_DATA_HOME/nook/uppers/gc-$$" ] || fail "gc left a named layer no session took"
[ -d "$XDG_DATA_HOME/nook/uppers/taken-$$/upper" ] || fail "gc removed a layer a session took"
python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n = db.execute("SELECT count(*) FROM resources WHERE kind = '"'"'rootfs'"'"' AND environment_id IS NULL AND released_ms IS NULL").fetchone()[0]
sys.exit(0 if n == 0 else "gc left %d records of prepared roots held" % n)' "$XDG_DATA_HOME/nook/journal.db"

# ---- the mount plan is refs; nook's detail is ext ----
mkdir -p "$T/data"
MENV=$(printf '%s' "$ENV" | python3 -c '
import json, sys
e = json.load(sys.stdin)
e["spec"]["filesystem"]["mounts"] = [{"mount_ref": "mount.data", "source_alias": "data", "destination_path": "/data", "mode": "read_only", "expansion_audit": {"single_file_mount": False, "expanded_parent_alias": None, "symlink_resolution": "deny_escapes", "redacted_summary": "data"}}]
print(json.dumps(e))')
NOOK_ALIASES="$NOOK_ALIASES;data=$T/data" run_nook_in "{\"environment\":$MENV}" call resolve_mounts
assert_eq 0 "$RC" "resolve_mounts: $OUT $ERR"
assert_eq '["mount.data"]' "$(printf '%s\n' "$OUT" | json_query 'j["mounts"]')" "mounts are ref strings"
assert_eq /data "$(printf '%s\n' "$OUT" | json_query 'j["nook"][0]["destination_path"]')" "the ext detail"
assert_eq '[]' "$(printf '%s\n' "$OUT" | json_query '[k for k in ("expanded_exposure_audits",) if k in j]')" "an empty list is left out"

# ---- start_process without wait_ms: a batch process is waited for, as the crate's fake ----
PROC='{"process_id":"p1","argv":["sh","-c","echo out:$LANG; echo err >&2; exit 3"],"cwd":"/","env":[{"name":"LANG","redacted_value":"C.UTF-8","raw_value_present":false}],"terminal_mode":"pipe","timeout_ms":30000,"rlimits":{"cpus":1,"memory_mb":256,"timeout_ms":30000,"process_count":16},"stdin":"closed"}'
call_ok start_process "{\"environment\":$ENV,\"process\":$PROC,\"effect_intent\":{\"effect_id\":\"e1\"}}"
assert_eq failed "$(printf '%s\n' "$OUT" | json_query 'j["terminal_status"]')" "terminal status without wait_ms"
assert_eq "out:C.UTF-8" "$(printf '%s\n' "$OUT" | json_query 'j["io_frames"][0]["data"].strip()')" "stdout frame; env entry applied"
assert_eq "err" "$(printf '%s\n' "$OUT" | json_query 'j["io_frames"][1]["data"].strip()')" "stderr frame"
assert_eq "$SREF" "$(printf '%s\n' "$OUT" | json_query 'j["adapter_session_ref"]')" "adapter_session_ref"
assert_eq None "$(printf '%s\n' "$OUT" | json_query 'str(j["external_operation_id"])')" "external_operation_id is null"
P1=$(printf '%s\n' "$OUT" | json_query 'j["process_ref"]')
call_ok collect_stats "{\"process_ref\":\"$P1\"}"
assert_eq 3 "$(printf '%s\n' "$OUT" | json_query 'j["exit_code"]')" "exit code"
assert_eq "None" "$(printf '%s\n' "$OUT" | json_query 'str(j["network_bytes"])')" "a counter not measured is null"
# a value_ref names a secret held by the session (prepare_secrets): one it does not hold
# is refused before anything runs, and its redacted text never becomes the value
run_nook_in "{\"environment\":$ENV,\"process\":{\"process_id\":\"p2\",\"argv\":[\"sh\",\"-c\",\"echo [\${SECRET-unset}]\"],\"env\":[{\"name\":\"SECRET\",\"value_ref\":\"secret.x\",\"redacted_value\":\"[secret-ref]\",\"raw_value_present\":false}]},\"effect_intent\":{\"effect_id\":\"e2\"}}" call start_process
assert_eq 125 "$RC" "a value_ref to a secret the session does not hold"
assert_eq InvalidStateTransition "$(printf '%s\n' "$OUT" | json_query 'j["Classified"]["kind"]')" "its kind"
# the process's own ResourceLimits: its timeout wins when tighter
call_ok start_process "{\"environment\":$ENV,\"process\":{\"process_id\":\"p3\",\"argv\":[\"sleep\",\"30\"],\"timeout_ms\":60000,\"rlimits\":{\"cpus\":1,\"memory_mb\":0,\"timeout_ms\":300,\"process_count\":0}},\"effect_intent\":{\"effect_id\":\"e3\"}}"
assert_eq timed_out "$(printf '%s\n' "$OUT" | json_query 'j["terminal_status"]')" "rlimits.timeout_ms enforced"
# a process that takes input is answered at once
call_ok start_process "{\"environment\":$ENV,\"process\":{\"process_id\":\"p4\",\"argv\":[\"cat\"],\"stdin\":{\"content_ref\":\"content.x\"}},\"effect_intent\":{\"effect_id\":\"e4\"}}"
assert_eq unknown "$(printf '%s\n' "$OUT" | json_query 'j["terminal_status"]')" "a process with stdin is not waited for"
assert_eq '[]' "$(printf '%s\n' "$OUT" | json_query '[k for k in ("io_frames",) if k in j]')" "no frames yet: left out"
ok "start_process for a host without ext fields"

# ---- errors: every context and causal field; no host path in the message ----
run_nook_in '{"process_ref":"nope","stream":"stdout"}' call stream_io
assert_eq 125 "$RC" "unknown process"
assert_eq "policy_refs,source,destination,subject,privacy,redacted_summary,message" \
        "$(printf '%s\n' "$OUT" | json_query '",".join(k for k in ("policy_refs","source","destination","subject","privacy","redacted_summary","message") if k in j["Classified"]["context"])')" \
        "every ErrorContext field"
assert_eq "[]" "$(printf '%s\n' "$OUT" | json_query 'j["Classified"]["causal_ids"]["related"]')" "causal_ids.related"
assert_eq None "$(printf '%s\n' "$OUT" | json_query 'str(j["Classified"]["causal_ids"]["run_id"])')" "causal_ids.run_id"
# the store under a data dir that cannot hold it: the message names it, never spells it
mkdir -p "$T/bad"
: >"$T/bad/nook"
XDG_DATA_HOME="$T/bad" run_nook_in '{"image":{"image_ref":"x","expected_digest":null,"expected_architecture":null,"credential_alias_ref":null}}' call resolve_image
assert_eq 125 "$RC" "a data dir that is a file"
assert_not_contains "$OUT" "$T" "no host path in the AgentError"
assert_contains "$ERR" "nook:" "the person gets a message"

call_ok cleanup "{\"environment\":$ENV,\"cleanup_plan_ref\":\"c\"}"
assert_eq completed "$(printf '%s\n' "$OUT" | json_query 'j["status"]')" "cleanup"
ok "contract host"
