#!/bin/sh
# `nook caps --json` is the contract's IsolationCapabilityReport, measured: it matches
# `nook call capability_report`, every finding has name/ok/detail and a remedy when
# not ok, capabilities are only contract names, and nothing is left behind.
. "$NOOK_TEST_LIB/lib.sh"

# The probe makes its throwaway dirs under $TMPDIR: a private one shows what it leaves.
mkdir "$T/tmp"
export TMPDIR="$T/tmp"
run_nook caps --json
assert_eq 0 "$RC" "nook caps --json exit code"
echo "$OUT" >"$T/report.json"

json_query 'j["adapter_ref"]' <"$T/report.json" | grep -qx nook.userns || fail "adapter_ref is not nook.userns"
kind=$(json_query 'j["adapter_kind"]' <"$T/report.json")
assert_eq os_sandbox "$kind" "adapter_kind"
n=$(json_query 'len(j["findings"])' <"$T/report.json")
[ "$n" -ge 15 ] || fail "only $n findings"
bad=$(json_query '[f["name"] for f in j["findings"] if not f["detail"] or (not f["ok"] and not f.get("remedy"))]' <"$T/report.json")
assert_eq "[]" "$bad" "findings without detail, or failing without remedy"
names=$(json_query 'sorted(f["name"] for f in j["findings"])' <"$T/report.json")
for want in userns mountns overlay_in_userns fuse fuse_overlayfs slirp4netns seccomp subuid nested run_dir data_dir; do
        assert_contains "$names" "\"$want\"" "finding $want"
done
allowed='["audit_log","cleanup","content_ref_io","detach","egress_allowlist","io_redaction","mount_read_only_enforcement","no_network_guarantee","process_rlimits","process_signal","process_stats","process_timeout","read_only_root","reclaim","secret_isolation","secret_mount","secret_redaction","single_file_mount_expansion_audit","writable_layer"]'
extra=$(json_query "[c for c in j['capabilities']['capabilities'] if c not in $allowed]" <"$T/report.json")
assert_eq "[]" "$extra" "capabilities outside the contract"

# userns finding agrees with what unshare(1) can do here.
userns_ok=$(json_query '[f["ok"] for f in j["findings"] if f["name"]=="userns"][0]' <"$T/report.json")
if unshare -U true 2>/dev/null; then assert_eq true "$userns_ok" "userns finding vs unshare -U"; else assert_eq false "$userns_ok" "userns finding vs unshare -U"; fi
health=$(json_query 'j["health"] if isinstance(j["health"], str) else list(j["health"])[0]' <"$T/report.json")
if [ "$userns_ok" = true ]; then
        assert_not_contains "$health" unsupported_host "health with usable user namespaces"
else
        assert_eq unsupported_host "$health" "health without user namespaces"
fi

# No host path of this user in the JSON (CONTRACT.md: paths only in human output).
assert_not_contains "$OUT" "$T" "report mentions the test's data dir"
assert_not_contains "$OUT" "$HOME/" "report mentions the home dir"

# Same shape through the protocol.
run_nook_in '{}' call capability_report
assert_eq 0 "$RC" "call capability_report exit code"
n2=$(printf '%s\n' "$OUT" | json_query 'len(j["findings"])')
assert_eq "$n" "$n2" "findings through nook call"

# The probe leaves nothing: no entry in its temp dir, no data dir created.
assert_eq "" "$(ls -A "$T/tmp")" "entries the probe left in TMPDIR"
[ ! -e "$XDG_DATA_HOME/nook" ] || fail "the probe created the data dir"
ok "caps --json is a measured, contract-shaped report"
