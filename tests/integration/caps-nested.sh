#!/bin/sh
# Inside `unshare -r` (a user namespace made by someone else) the report says it is
# nested, and still measures the rest.
. "$NOOK_TEST_LIB/lib.sh"

unshare -r true 2>/dev/null || skip "unshare -r does not work for this user here"
outer=$("$NOOK" caps --json | json_query '[f["ok"] for f in j["findings"] if f["name"]=="nested"][0]')
inner_json=$(unshare -r "$NOOK" caps --json)
inner=$(printf '%s\n' "$inner_json" | json_query '[f["ok"] for f in j["findings"] if f["name"]=="nested"][0]')
detail=$(printf '%s\n' "$inner_json" | json_query '[f["detail"] for f in j["findings"] if f["name"]=="nested"][0]')
assert_eq false "$inner" "nested finding inside unshare -r"
assert_contains "$detail" "user namespace" "nested detail names the user namespace"
if [ "$outer" = true ]; then ok "outside: not nested; inside: nested"; else ok "already nested outside; inside: nested"; fi
# Human output says so too.
unshare -r "$NOOK" caps | grep -q -i 'nest' || fail "human output does not mention nesting"
ok "nesting is reported, not hidden"
