#!/bin/sh
# tests/docs/doctest.py finds what it must: a failing example by file and line (also in a
# later block, with a variable from an earlier one), a command block without a language,
# a not-run comment without a reason or whose text matches no line; and it passes a
# file whose examples all work, not running what is marked not-run.
. "$NOOK_TEST_LIB/lib.sh"
D="$NOOK_SOURCE_ROOT/tests/docs/doctest.py"

cat >"$T/bad.md" <<'MD'
# a doc

```sh
X=hello
```

text

```sh
echo "$X"
test "$X" = bye
```
MD
set +e
python3 "$D" "$T/bad.md" >"$T/out" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "a failing example passed: $(cat "$T/out")"
grep -q 'bad.md:11: exit 1: test "$X" = bye$' "$T/out" || fail "the failure does not name bad.md:11: $(cat "$T/out")"
grep -q '| hello$' "$T/out" || fail "the output before the failure is not shown: $(cat "$T/out")"
ok "a failing example is named by file and line, its output shown"

cat >"$T/conv.md" <<'MD'
# conventions

```
nook run --rootfs ./rootfs -- true
```

<!-- doc-test: not-run: -->
```sh
true
```

<!-- doc-test: not-run "no such text": a reason -->
```sh
true
```
MD
set +e
python3 "$D" --list "$T/conv.md" >"$T/out" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "convention errors passed: $(cat "$T/out")"
grep -q 'conv.md:3: this block holds commands but has no language' "$T/out" || fail "unlabeled block: $(cat "$T/out")"
grep -q 'conv.md:7: bad doc-test comment' "$T/out" || fail "not-run without a reason: $(cat "$T/out")"
grep -q 'conv.md:12: not-run "no such text" matches no line' "$T/out" || fail "stale not-run: $(cat "$T/out")"
ok "a command block without a language, a not-run without a reason, a stale not-run fail"

cat >"$T/good.md" <<'MD'
# good

<!-- doc-test: not-run "exit 3": it would fail -->
```sh
nook --help >/dev/null
sh -c 'exit 3'
nook run --network none --rootfs ./rootfs -- cat /etc/passwd | grep root >/dev/null
```

```text
nook run [OPTIONS] IMAGE
```
MD
python3 "$D" "$T/good.md" >"$T/out" 2>&1 || fail "a working file failed: $(cat "$T/out")"
grep -q '^ok .*good.md (2 lines)' "$T/out" || fail "good.md: not 2 lines run: $(cat "$T/out")"
grep -q 'good.md:6: not run: it would fail' "$T/out" || fail "the not-run line is not reported: $(cat "$T/out")"
ok "a working file passes, its not-run line reported with the reason"
