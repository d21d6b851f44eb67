#!/bin/sh
# --version, help on every verb, exit codes for usage errors, --storage.
. "$NOOK_TEST_LIB/lib.sh"

run_nook --version
assert_eq 0 "$RC" "--version"
assert_contains "$OUT" "nook version " "--version output"
run_nook --help
assert_eq 0 "$RC" "--help"
help=$OUT
for verb in caps call journal; do
        assert_contains "$help" "  $verb " "verb $verb in --help"
        run_nook "$verb" --help
        assert_eq 0 "$RC" "$verb --help"
        assert_contains "$OUT" "Usage: nook $verb" "$verb usage"
        run_nook help "$verb"
        assert_eq 0 "$RC" "help $verb"
done
run_nook
assert_eq 125 "$RC" "no command"
run_nook frobnicate
assert_eq 125 "$RC" "unknown command"
assert_contains "$ERR" "unknown command 'frobnicate'" "unknown command message"
run_nook --storage relative caps
assert_eq 125 "$RC" "relative --storage"
mkdir -p "$T/store"
run_nook --storage "$T/store" journal --json
assert_eq 0 "$RC" "--storage"
[ -f "$T/store/journal.db" ] || fail "--storage did not place the journal"
NOOK_STORAGE="$T/store2" "$NOOK" journal --json >/dev/null
[ -f "$T/store2/journal.db" ] || fail "NOOK_STORAGE did not place the journal"
ok "CLI basics"
