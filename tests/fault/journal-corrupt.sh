#!/bin/sh
# A corrupt or truncated journal.db gives a clear JournalFailure naming the file and
# the repair command, never a crash; `nook journal repair` moves it aside and calls work again.
. "$NOOK_TEST_LIB/lib.sh"

db="$XDG_DATA_HOME/nook/journal.db"
for i in 1 2 3 4 5 6; do
        run_nook_in "{\"environment\":{\"environment_id\":\"c$i\",\"spec\":{}}}" call prepare_secrets
done
[ -f "$db" ] || fail "no journal"

check_broken() { # label
        run_nook_in '{"environment":{"environment_id":"after","spec":{}}}' call prepare_session
        assert_eq 125 "$RC" "$1: call exit"
        assert_eq JournalFailure "$(printf '%s\n' "$OUT" | json_query 'j["Classified"]["kind"]')" "$1: kind"
        assert_contains "$ERR" "nook journal repair" "$1: remedy on stderr"
        assert_contains "$ERR" "$db" "$1: the file is named for people"
        assert_not_contains "$OUT" "$db" "$1: no host path in JSON"
        run_nook journal
        assert_eq 125 "$RC" "$1: journal listing exit"
        run_nook journal repair
        assert_eq 0 "$RC" "$1: repair"
        assert_contains "$OUT" "moved to" "$1: repair says where the old file went"
        ls "$db".corrupt-* >/dev/null 2>&1 || fail "$1: corrupt file not kept"
        rm -f "$db".corrupt-*
        run_nook journal --json
        assert_eq 0 "$RC" "$1: journal after repair"
        assert_eq "[]" "$(printf '%s\n' "$OUT" | json_query 'j')" "$1: fresh journal"
}

# garbage over the whole file
head -c 8192 /dev/urandom >"$db"
rm -f "$db-wal" "$db-shm"
check_broken garbage

# a real database truncated to a part of its first page plus garbage
for i in 1 2 3 4 5 6 7 8; do
        run_nook_in "{\"environment\":{\"environment_id\":\"t$i\",\"spec\":{}}}" call prepare_secrets
done
python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("pragma wal_checkpoint(TRUNCATE)"); c.close()' "$db"
size=$(stat -c %s "$db")
python3 - "$db" <<'PY'
import sys
p = sys.argv[1]
data = bytearray(open(p, "rb").read())
# keep the header, smash everything after the first 100 bytes of page 1
for i in range(100, len(data)):
    data[i] = (i * 7) & 0xff
open(p, "wb").write(bytes(data))
PY
check_broken truncated
ok "corrupt journal: clear error, repair, fresh start (was $size bytes)"
