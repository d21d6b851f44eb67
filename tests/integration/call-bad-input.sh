#!/bin/sh
# Bad input to `nook call`: a clear AgentError naming the field, exit 125, journal unchanged.
. "$NOOK_TEST_LIB/lib.sh"

# One journaled call (one that creates nothing: secrets are not built yet) so that the
# journal exists and has a row to compare.
run_nook_in '{"environment":{"environment_id":"base","spec":{}}}' call prepare_secrets
before=$("$NOOK" journal --json)

expect() { # label method input expected-substring-in-stdout
        run_nook_in "$3" call "$2"
        assert_eq 125 "$RC" "$1: exit code"
        printf '%s\n' "$OUT" | json_query 'j' >/dev/null || fail "$1: stdout is not JSON: $OUT"
        assert_contains "$OUT" "$4" "$1: error"
        [ -n "$ERR" ] || fail "$1: nothing on stderr for people"
}

expect "malformed JSON" prepare_session '{"environment":' 'malformed JSON'
expect "wrong type" prepare_session '{"environment":{"environment_id":5,"spec":{}}}' '/environment/environment_id: expected a string'
expect "missing field" prepare_session '{"environment":{"spec":{}}}' '"MissingRequiredField":{"field":"/environment/environment_id"}'
expect "unknown method" prepare_sesion '{}' "unknown method 'prepare_sesion'"
expect "duplicate key" prepare_session '{"environment":{"environment_id":"a","environment_id":"b","spec":{}}}' 'duplicate'
expect "control character in id" prepare_session '{"environment":{"environment_id":"a\u0007b","spec":{}}}' '/environment/environment_id'
expect "out of range" prepare_session '{"environment":{"environment_id":"a","spec":{"resources":{"memory_mb":0}}}}' '/environment/spec/resources/memory_mb'
expect "bad enum" prepare_session '{"environment":{"environment_id":"a","spec":{"network":"internet"}}}' '/environment/spec/network'
expect "relative mount destination" prepare_session '{"environment":{"environment_id":"a","spec":{"filesystem":{"mounts":[{"mount_ref":"m","source_alias":"s","destination_path":"etc"}]}}}}' '/environment/spec/filesystem/mounts/0/destination_path'
expect "empty argv" start_process '{"environment":{"environment_id":"a","spec":{}},"process":{"process_id":"p","argv":[]},"effect_intent":{"effect_id":"e"}}' '/process/argv'

# invalid UTF-8 and a NUL byte, through a file
printf '{"environment":{"environment_id":"\377\376","spec":{}}}' >"$T/utf8.json"
run_nook call prepare_session --request "$T/utf8.json"
assert_eq 125 "$RC" "invalid UTF-8: exit"
assert_contains "$OUT" "ContractViolation" "invalid UTF-8: error"
printf '{"environment":{"environment_id":"a\000b","spec":{}}}' >"$T/nul.json"
run_nook call prepare_session --request "$T/nul.json"
assert_eq 125 "$RC" "NUL byte: exit"
assert_contains "$OUT" "ContractViolation" "NUL byte: error"

# oversized (5 MiB)
python3 -c 'import sys; sys.stdout.write("{\"pad\":\"" + "x" * (5 << 20) + "\"}")' >"$T/big.json"
run_nook call prepare_session --request "$T/big.json"
assert_eq 125 "$RC" "oversized: exit"
assert_contains "$OUT" "exceeds the limit" "oversized: error"

# missing request file, unknown option, missing method
run_nook call prepare_session --request "$T/nope.json"
assert_eq 125 "$RC" "missing request file"
assert_contains "$ERR" "cannot open request file" "missing file message"
run_nook call --frobnicate
assert_eq 125 "$RC" "unknown option"
run_nook call
assert_eq 125 "$RC" "missing method"
assert_contains "$ERR" "missing METHOD" "missing method message"

after=$("$NOOK" journal --json)
assert_eq "$before" "$after" "journal after bad input"
ok "bad input is refused, named, and leaves the journal unchanged"
