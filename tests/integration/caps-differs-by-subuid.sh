#!/bin/sh
# The report follows this user's /etc/subuid entry, and two users' reports differ
# exactly there: ./dev test runs this as nooktest (with a range) and then nooktest2
# (without); each run leaves its findings in $NOOK_TEST_SHARED for the other to compare.
. "$NOOK_TEST_LIB/lib.sh"

user=$(id -un)
rep=$("$NOOK" caps --json)
sub_ok=$(printf '%s\n' "$rep" | json_query '[f["ok"] for f in j["findings"] if f["name"]=="subuid"][0]')
if grep -q -E "^($user|$(id -u)):" /etc/subuid 2>/dev/null && grep -q -E "^($user|$(id -u)):" /etc/subgid 2>/dev/null &&
        command -v newuidmap >/dev/null && command -v newgidmap >/dev/null; then
        assert_eq true "$sub_ok" "subuid finding for $user, who has ranges"
else
        assert_eq false "$sub_ok" "subuid finding for $user, who has no range"
        detail=$(printf '%s\n' "$rep" | json_query '[f["detail"] for f in j["findings"] if f["name"]=="subuid"][0]')
        assert_contains "$detail" "single" "detail says identity falls back to a single id"
fi

shared=${NOOK_TEST_SHARED:-}
[ -n "$shared" ] && [ -d "$shared" ] && [ -w "$shared" ] || { ok "subuid finding matches /etc/subuid (no second user to compare with)"; exit 0; }
printf '%s\n' "$rep" | json_query '{f["name"]: f["ok"] for f in j["findings"]}' >"$shared/caps-$user.json"
chmod 0644 "$shared/caps-$user.json"
for other in "$shared"/caps-*.json; do
        [ "$other" = "$shared/caps-$user.json" ] && continue
        diff=$(python3 -c '
import json, sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
print(sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k)))
' "$shared/caps-$user.json" "$other")
        oname=$(basename "$other" .json)
        a_sub=$(json_query 'j["subuid"]' <"$shared/caps-$user.json")
        b_sub=$(json_query 'j["subuid"]' <"$other")
        if [ "$a_sub" = "$b_sub" ]; then
                assert_eq "[]" "$diff" "findings of $user vs ${oname#caps-}"
        else
                assert_eq "['subuid']" "$diff" "findings of $user vs ${oname#caps-} differ exactly at subuid"
        fi
        ok "compared with ${oname#caps-}: differs only where the subuid range does"
done
ok "subuid finding follows /etc/subuid"
