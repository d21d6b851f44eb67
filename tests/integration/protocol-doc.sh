#!/bin/sh
# docs/protocol.md's walkthrough is run as written: every ```sh block between its
# walkthrough markers, in order, with `set -eu` (each `grep -q` in it is an assertion).
# A doc example that stops working fails this test.
. "$NOOK_TEST_LIB/lib.sh"

doc="$NOOK_TEST_LIB/../../docs/protocol.md"
[ -f "$doc" ] || fail "docs/protocol.md not found at $doc"
sed -n '/<!-- walkthrough:begin -->/,/<!-- walkthrough:end -->/p' "$doc" |
        awk '/^```sh$/ { on = 1; next } /^```$/ { on = 0; next } on' >"$T/walk.sh"
blocks=$(sed -n '/<!-- walkthrough:begin -->/,/<!-- walkthrough:end -->/p' "$doc" | grep -c '^```sh$')
[ "$blocks" -ge 6 ] || fail "the walkthrough has $blocks sh blocks; expected at least 6"
grep -q 'nook call start_process' "$T/walk.sh" || fail "the walkthrough starts no process"

mkdir -p "$T/bin" "$T/work"
ln -s "$NOOK" "$T/bin/nook"
echo walk-1 >>"$T/envs"
set +e
(cd "$T/work" && PATH="$T/bin:$PATH" DEMO="$T/demo" sh -eu "$T/walk.sh") >"$T/walk.out" 2>&1
rc=$?
set -e
[ "$rc" -eq 0 ] || fail "the walkthrough stopped (exit $rc): $(tail -5 "$T/walk.out")"
# it left nothing: the session was reclaimed and cleaned
for st in "$(run_dir)"/s-*/state; do
        [ -f "$st" ] || continue
        ! grep -q '^environment_id=walk-1$' "$st" || fail "the walkthrough's session is left: $st"
done
ok "docs/protocol.md walkthrough"
