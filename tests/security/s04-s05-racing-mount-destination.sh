#!/bin/sh
# S4 (runc CVE-2021-30465) and S5 (runc CVE-2024-45310): a second session sharing a
# volume swaps a directory for a symlink that points out of the root, in a loop, while
# sessions are prepared with a mount whose destination goes through that directory.
# Every preparation either mounts inside its own root or is refused; the sentinel
# directory outside never changes and no mount lands on the host.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
H="$T/host"
mkdir -p "$H/vol" "$H/sentinel"
echo keep >"$H/sentinel/file"
export NOOK_ALIASES="testroot=$ROOT;vol=$H/vol"
before=$(ls -la "$H/sentinel" | sha256sum)

# the attacker: a session with the volume, racing a directory against a symlink
mounts='[{"mount_ref":"v","source_alias":"vol","destination_path":"/vol","mode":"writable"}]'
SENV="{\"environment_id\":\"$EID-a\",\"spec\":{\"filesystem\":{\"root\":\"writable_layer\",\"mounts\":$mounts}}}"
echo "$EID-a" >>"$T/envs"
call_ok prepare_session "{\"environment\":$SENV}"
call_ok prepare_rootfs "{\"rootfs\":{\"rootfs_ref\":\"testroot\"},\"environment_id\":\"$EID-a\"}"
call_ok prepare_environment "{\"environment\":$SENV}"
start_in "[\"sh\",\"-c\",\"while :; do rm -rf /vol/d; mkdir /vol/d; rm -rf /vol/d; ln -s $H/sentinel /vol/d; rm -f /vol/d; ln -s ../../../../../../../../$H/sentinel /vol/d; done\"]"
[ "$RC" -eq 0 ] || fail "racer: $OUT"

# the victims: sessions whose mount destination goes through the raced directory
vm='[{"mount_ref":"v","source_alias":"vol","destination_path":"/vol","mode":"writable"},{"mount_ref":"t","destination_path":"/vol/d/sub","mode":"writable","nook":{"type":"tmpfs"}}]'
ok_n=0
refused_n=0
i=0
while [ $i -lt 150 ]; do
        i=$((i + 1))
        env="$EID-v$i"
        echo "$env" >>"$T/envs"
        V="{\"environment_id\":\"$env\",\"spec\":{\"filesystem\":{\"root\":\"writable_layer\",\"mounts\":$vm}}}"
        printf '%s' "{\"environment\":$V}" | "$NOOK" call prepare_session >/dev/null 2>&1 || fail "prepare_session $i"
        printf '%s' "{\"rootfs\":{\"rootfs_ref\":\"testroot\"},\"environment_id\":\"$env\"}" | "$NOOK" call prepare_rootfs >/dev/null 2>&1
        if printf '%s' "{\"environment\":$V}" | "$NOOK" call prepare_environment >/dev/null 2>&1; then
                ok_n=$((ok_n + 1))
        else
                refused_n=$((refused_n + 1))
        fi
        printf '%s' "{\"environment\":{\"environment_id\":\"$env\",\"spec\":{}},\"cleanup_plan_ref\":\"c\"}" | "$NOOK" call cleanup >/dev/null 2>&1
done
after=$(ls -la "$H/sentinel" | sha256sum)
assert_eq "$before" "$after" "the sentinel directory after $i racing preparations"
[ ! -e "$H/sentinel/sub" ] || fail "a directory was created through the symlink"
grep -q "$H/sentinel" /proc/self/mountinfo && fail "a mount landed on the host"
ok "S4/S5: $ok_n preparations mounted inside their root, $refused_n refused; nothing outside changed"
