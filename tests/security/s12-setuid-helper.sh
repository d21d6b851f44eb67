#!/bin/sh
# S12 (bubblewrap CVE-2020-5291): nook-holder refuses to run outside a user namespace of
# its own, setuid or not, before doing anything.
. "$NOOK_TEST_LIB/lib.sh"
set +e
"$NOOK_HOLDER" 0 1 3>/dev/null 4>/dev/null 5>/dev/null
rc=$?
cp "$NOOK_HOLDER" "$T/holder"
chmod 4755 "$T/holder"
"$T/holder" 0 1 3>/dev/null 4>/dev/null 5>/dev/null
rc2=$?
set -e
assert_eq 126 "$rc" "holder started in the initial user namespace"
assert_eq 126 "$rc2" "setuid copy of the holder"
find "$(dirname "$NOOK_HOLDER")" "$(dirname "$NOOK")" -maxdepth 1 -type f -perm -4000 | grep -q . && fail "a setuid nook binary"
ok "S12"
