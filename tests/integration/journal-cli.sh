#!/bin/sh
# `nook journal` lists calls for people and programs, redacted; the database is a
# 0600 file in a 0700 data dir.
. "$NOOK_TEST_LIB/lib.sh"

run_nook journal --json
assert_eq 0 "$RC" "empty journal"
assert_eq "[]" "$(printf '%s\n' "$OUT" | json_query 'j')" "empty journal is an empty array"

req='{"environment":{"environment_id":"j1","spec":{}},"process":{"process_id":"p1","argv":["sh","-c","echo ARGV-SECRET"],"env_values":{"API_TOKEN":"ENV-SECRET"}},"effect_intent":{"effect_id":"fx","idempotency_key":"k-1"}}'
run_nook_in "$req" call start_process
assert_eq 125 "$RC" "start_process (not built yet)"
run_nook journal --json
assert_eq 0 "$RC" "journal --json"
assert_not_contains "$OUT" "ARGV-SECRET" "argv value in the journal"
assert_not_contains "$OUT" "ENV-SECRET" "env value in the journal"
assert_eq 3 "$(printf '%s\n' "$OUT" | json_query 'j[0]["request"]["process"]["argv_count"]')" "argv count"
assert_eq k-1 "$(printf '%s\n' "$OUT" | json_query 'j[0]["idempotency_key"]')" "idempotency key from the effect intent"
assert_eq j1 "$(printf '%s\n' "$OUT" | json_query 'j[0]["environment_id"]')" "environment id"

run_nook journal
assert_eq 0 "$RC" "journal (human)"
assert_contains "$OUT" "start_process" "human listing"
assert_contains "$OUT" "METHOD" "header"
run_nook journal --limit x
assert_eq 125 "$RC" "bad --limit"
run_nook journal --help
assert_eq 0 "$RC" "journal --help"

db="$XDG_DATA_HOME/nook/journal.db"
[ -f "$db" ] || fail "no journal.db in the data dir"
assert_eq 600 "$(stat -c %a "$db")" "journal.db mode"
assert_eq 700 "$(stat -c %a "$XDG_DATA_HOME/nook")" "data dir mode"
assert_eq wal "$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("pragma journal_mode").fetchone()[0])' "$db")" "journal mode"

run_nook journal repair
assert_eq 0 "$RC" "repair of a healthy journal"
assert_contains "$OUT" "healthy" "repair says nothing to do"
ok "journal CLI"
