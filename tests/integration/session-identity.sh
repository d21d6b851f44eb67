#!/bin/sh
# id inside per identity mode: root maps the caller to 0, keep-id keeps the uid, subuid
# maps a range (only for users with /etc/subuid entries; others get a clear error);
# setgroups is denied in single-id modes (S11).
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
me=$(id -u)

session_up "$EID-r" root
run_in '["sh","-c","id -u; id -g; cat /proc/self/uid_map; cat /proc/self/setgroups"]'
assert_eq 0 "$(echo "$STDOUT" | sed -n 1p)" "uid in root mode"
assert_contains "$(printf "%s" "$STDOUT" | tr -s " ")" " 0 $me 1" "uid_map in root mode"
assert_contains "$STDOUT" "deny" "setgroups in root mode"
session_down "$EID-r"

session_up "$EID-k" keep-id
run_in '["sh","-c","id -u; whoami; touch /tmp/f; stat -c %u /tmp/f"]'
assert_eq "$me" "$(echo "$STDOUT" | sed -n 1p)" "uid in keep-id mode"
assert_eq "$(id -un)" "$(echo "$STDOUT" | sed -n 2p)" "user name in keep-id mode"
assert_eq "$me" "$(echo "$STDOUT" | sed -n 3p)" "owner of a new file in keep-id mode"
session_down "$EID-k"

if grep -q -E "^($(id -un)|$me):" /etc/subuid 2>/dev/null; then
        session_up "$EID-s" subuid
        run_in '["sh","-c","id -u; cat /proc/self/uid_map | wc -l; chown 1000:1000 /tmp && stat -c %u /tmp"]'
        assert_eq 0 "$(echo "$STDOUT" | sed -n 1p)" "uid in subuid mode"
        assert_eq 2 "$(echo "$STDOUT" | sed -n 2p)" "uid_map lines in subuid mode"
        assert_eq 1000 "$(echo "$STDOUT" | sed -n 3p)" "a chown to another id works in subuid mode"
        session_down "$EID-s"
        ok "subuid identity"
else
        run_nook_in "{\"environment\":{\"environment_id\":\"$EID-s\",\"spec\":{}},\"nook\":{\"identity\":\"subuid\"}}" call prepare_session
        assert_eq 125 "$RC" "subuid without ranges"
        assert_contains "$OUT" "HostConfigurationNeeded" "error kind"
        assert_contains "$OUT" "/etc/subuid" "error names what is missing"
        # refused before anything is made: the identity is resolved before the session dir
        sref=$(session_ref "$EID-s")
        [ ! -e "$(run_dir)/$sref" ] || fail "the refused subuid session left its dir $(run_dir)/$sref"
        [ -z "$(holders_of "$sref")" ] || fail "the refused subuid session left a holder"
        # auto falls back to root for this user
        session_up "$EID-a" auto
        run_in '["id","-u"]'
        assert_eq 0 "$STDOUT" "auto without ranges is root"
        session_down "$EID-a"
        ok "no subuid range: subuid refused clearly, auto is root"
fi
ok "identity modes"
