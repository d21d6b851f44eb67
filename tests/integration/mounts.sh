#!/bin/sh
# resolve_mounts and the mounts prepare_environment applies: a read-only bind stays
# read-only (writes and remounts fail), a writable bind writes to the host with the
# caller's owner under keep-id, a snapshot workspace leaves the host directory
# byte-identical, scratch is empty and gone after cleanup, a single file mount exposes
# only the file (and the audit says so), aliases resolve only through the operator's
# configuration, and bad mounts are refused before any namespace work.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
H="$T/host"
mkdir -p "$H/data" "$H/rw" "$H/ws/sub"
echo data >"$H/data/f"
echo conf >"$H/a.conf"
echo secret-sibling >"$H/sibling"
echo ws >"$H/ws/sub/file"
export NOOK_ALIASES="testroot=$ROOT;data=$H/data;rw=$H/rw;conf=$H/a.conf;ws=$H/ws"
before=$(cd "$H/ws" && find . -exec stat -c '%n %s %Y' {} + | sort | sha256sum)

mounts='[{"mount_ref":"d","source_alias":"data","destination_path":"/data","mode":"read_only"},{"mount_ref":"w","source_alias":"rw","destination_path":"/out","mode":"writable"},{"mount_ref":"c","source_alias":"conf","destination_path":"/etc/a.conf","mode":"read_only"},{"mount_ref":"t","destination_path":"/scratch","mode":"writable","nook":{"type":"tmpfs","options":"size=1m,mode=1777"}}]'
fs="{\"root\":\"writable_layer\",\"mounts\":$mounts,\"workspace\":{\"workspace_ref\":\"ws\",\"mode\":\"snapshot\"}}"
io='{"stdout":{"default_capture":"raw_content_if_policy_allows","max_bytes":1048576},"stderr":{"default_capture":"raw_content_if_policy_allows"}}'
SENV="{\"environment_id\":\"$EID\",\"spec\":{\"filesystem\":$fs,\"io_policy\":$io}}"

call_ok resolve_mounts "{\"environment\":$SENV}"
assert_eq 5 "$(printf '%s\n' "$OUT" | json_query 'len(j["mounts"])')" "mounts in the plan"
assert_contains "$OUT" '"expansion_audit":"none"' "single-file audit"
assert_contains "$OUT" "single file bound by itself" "exposure audit line"
assert_not_contains "$OUT" "$H" "no host path in the plan"
[ ! -e "$(run_dir)/$(session_ref "$EID")" ] || fail "resolve_mounts made a session"

echo "$EID" >>"$T/envs"
call_ok prepare_session "{\"environment\":$SENV,\"nook\":{\"identity\":\"keep-id\"}}"
SREF=$(printf '%s\n' "$OUT" | json_query 'j')
call_ok prepare_rootfs "{\"rootfs\":{\"rootfs_ref\":\"testroot\"},\"environment_id\":\"$EID\"}"
call_ok prepare_environment "{\"environment\":$SENV,\"nook\":{\"identity\":\"keep-id\"}}"
run_in '["sh","-c","cat /data/f; cat /etc/a.conf; ls /etc | grep -c sibling; (touch /data/g) 2>&1 | grep -c Read-only; mount -o remount,rw /data 2>/dev/null; echo remount=$?; echo out > /out/new; df /scratch | grep -c tmpfs; ls -A /scratch | wc -l; rm -rf /workspace/sub; ls -A /workspace | wc -l; echo changed > /workspace/x"]'
assert_eq "data
conf
0
1
remount=1
1
0
0" "$STDOUT" "inside"
assert_eq out "$(cat "$H/rw/new")" "a write to a writable bind reaches the host"
assert_eq "$(id -u)" "$(stat -c %u "$H/rw/new")" "owner of the file outside (keep-id)"
[ ! -e "$H/data/g" ] || fail "a write went through the read-only bind"
after=$(cd "$H/ws" && find . -exec stat -c '%n %s %Y' {} + | sort | sha256sum)
assert_eq "$before" "$after" "the snapshot's host directory after rm -rf inside"
session_down "$EID"
ok "binds, tmpfs, snapshot"

# scratch workspace: empty, per session, gone with it
S2="{\"environment_id\":\"$EID-s\",\"spec\":{\"filesystem\":{\"root\":\"writable_layer\",\"workspace\":{\"mode\":\"scratch\"}},\"io_policy\":$io}}"
echo "$EID-s" >>"$T/envs"
call_ok prepare_session "{\"environment\":$S2}"
call_ok prepare_rootfs "{\"rootfs\":{\"rootfs_ref\":\"testroot\"},\"environment_id\":\"$EID-s\"}"
call_ok prepare_environment "{\"environment\":$S2}"
SENV=$S2
run_in '["sh","-c","ls -A /workspace | wc -l; echo x > /workspace/y; cat /workspace/y"]'
assert_eq "0
x" "$STDOUT" "scratch workspace"
session_down "$EID-s"
ok "scratch"

# refused before any namespace work, each naming the mount
bad() { # label mounts-json expected
        run_nook_in "{\"environment\":{\"environment_id\":\"$EID-bad\",\"spec\":{\"filesystem\":{\"mounts\":$2}}}}" call prepare_session
        assert_eq 125 "$RC" "$1"
        assert_contains "$OUT" "$3" "$1: message"
        [ ! -e "$(run_dir)/$(session_ref "$EID-bad")" ] || fail "$1: a session was made"
}
bad "unknown alias" '[{"mount_ref":"m","source_alias":"nope","destination_path":"/x"}]' "not an alias the operator configured"
bad "under /proc" '[{"mount_ref":"m","source_alias":"data","destination_path":"/proc/x"}]' "/proc"
bad "the root" '[{"mount_ref":"m","source_alias":"data","destination_path":"/"}]' "cannot be /"
bad "relative" '[{"mount_ref":"m","source_alias":"data","destination_path":"x"}]' "/environment/spec/filesystem/mounts/0/destination_path"
bad "dot-dot" '[{"mount_ref":"m","source_alias":"data","destination_path":"/a/../b"}]' "normalised"
bad "twice" '[{"mount_ref":"m","source_alias":"data","destination_path":"/x"},{"mount_ref":"n","source_alias":"rw","destination_path":"/x"}]' "already taken"
bad "tmpfs options" '[{"mount_ref":"m","destination_path":"/x","nook":{"type":"tmpfs","options":"suid"}}]' "tmpfs options"
run_nook_in "{\"environment\":{\"environment_id\":\"$EID-bad\",\"spec\":{\"filesystem\":{\"single_file_mount_expansion\":\"deny_single_file\",\"mounts\":[{\"mount_ref\":\"m\",\"source_alias\":\"conf\",\"destination_path\":\"/etc/a.conf\"}]}}}}" call prepare_session
assert_contains "$OUT" "single-file mounts are denied" "deny_single_file"
ok "mounts"

# ownership across a writable bind: root maps 0 to the caller; subuid maps other ids to
# the subordinate range (what the user sees outside)
SENV="{\"environment_id\":\"$EID-o\",\"spec\":{\"filesystem\":{\"root\":\"writable_layer\",\"mounts\":[{\"mount_ref\":\"w\",\"source_alias\":\"rw\",\"destination_path\":\"/out\",\"mode\":\"writable\"}]},\"io_policy\":$io}}"
for ident in root subuid; do
        if [ "$ident" = subuid ] && ! grep -q -E "^($(id -un)|$(id -u)):" /etc/subuid; then
                continue
        fi
        echo "$EID-o" >>"$T/envs"
        call_ok prepare_session "{\"environment\":$SENV,\"nook\":{\"identity\":\"$ident\"}}"
        call_ok prepare_rootfs "{\"rootfs\":{\"rootfs_ref\":\"testroot\"},\"environment_id\":\"$EID-o\"}"
        call_ok prepare_environment "{\"environment\":$SENV,\"nook\":{\"identity\":\"$ident\"}}"
        run_in '["sh","-c","echo r > /out/by-root; echo o > /out/by-1000; chown 1000:1000 /out/by-1000 2>/dev/null; true"]'
        assert_eq "$(id -u)" "$(stat -c %u "$H/rw/by-root")" "owner outside of a file root wrote ($ident)"
        if [ "$ident" = subuid ]; then
                start=$(grep -E "^($(id -un)|$(id -u)):" /etc/subuid | head -n 1 | cut -d: -f2)
                assert_eq $((start + 999)) "$(stat -c %u "$H/rw/by-1000")" "uid 1000 inside is subordinate id start+999 outside"
        fi
        rm -f "$H/rw/by-root" "$H/rw/by-1000" 2>/dev/null || true
        session_down "$EID-o"
done
ok "ownership across mounts"

# symlink_policy: a relative symlink inside the root is followed under both policies; an
# absolute one only with follow_within_alias (read as if the root were /)
mkdir -p "$ROOT/real"
ln -s real "$ROOT/rel"
ln -s /real "$ROOT/abs"
pol() { # policy destination -> prints the status of prepare_environment
        env="$EID-p$(echo "$1$2" | cksum | cut -d' ' -f1)"
        echo "$env" >>"$T/envs"
        V="{\"environment_id\":\"$env\",\"spec\":{\"filesystem\":{\"root\":\"writable_layer\",\"symlink_policy\":\"$1\",\"mounts\":[{\"mount_ref\":\"t\",\"destination_path\":\"$2\",\"mode\":\"writable\",\"nook\":{\"type\":\"tmpfs\"}}]}}}"
        printf '%s' "{\"environment\":$V}" | "$NOOK" call prepare_session >/dev/null 2>&1
        printf '%s' "{\"rootfs\":{\"rootfs_ref\":\"testroot\"},\"environment_id\":\"$env\"}" | "$NOOK" call prepare_rootfs >/dev/null 2>&1
        if printf '%s' "{\"environment\":$V}" | "$NOOK" call prepare_environment >/dev/null 2>&1; then echo mounted; else echo refused; fi
        printf '%s' "{\"environment\":{\"environment_id\":\"$env\",\"spec\":{}},\"cleanup_plan_ref\":\"c\"}" | "$NOOK" call cleanup >/dev/null 2>&1
}
assert_eq mounted "$(pol deny_escapes /rel/x)" "relative symlink, deny_escapes"
assert_eq refused "$(pol deny_escapes /abs/x)" "absolute symlink, deny_escapes"
assert_eq mounted "$(pol follow_within_alias /abs/x)" "absolute symlink, follow_within_alias"
[ -z "$(ls -A "$ROOT/real")" ] || fail "a mount point was created in the host directory under the root"
ok "symlink policies"
