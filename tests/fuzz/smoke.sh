#!/bin/sh
# nook fuzz-smoke — one libFuzzer target over its committed corpus for a few seconds:
#   smoke.sh TARGET-EXE FUZZ-SOURCE-DIR NAME SECONDS
# (FUZZ-SOURCE-DIR is tests/fuzz: corpus/NAME/, dict/NAME.dict, and NAME.options, the
# target's own libFuzzer flags, one a line, as ./dev fuzz uses them too).
# The corpus is replayed first (every seed runs), then the target fuzzes until SECONDS
# have passed.  New inputs go to a scratch dir, never into the source tree; a crash, a
# sanitizer report, a leak, a timeout or running out of memory fails the test and prints
# the input (base64) so that it can be added to the corpus as a regression seed.
set -eu

exe=$1
src=$2
name=$3
seconds=${4:-10}
corpus=$src/corpus/$name
dict=$src/dict/$name.dict
flags=
[ -f "$src/$name.options" ] && flags=$(grep -v '^#' "$src/$name.options" | tr '\n' ' ')

[ -x "$exe" ] || { echo "FAIL: $exe is not built"; exit 1; }
if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
        echo "FAIL: no seeds in $corpus"
        exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/nook-fuzz-smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/new"
dictarg=
[ -f "$dict" ] && dictarg=-dict=$dict

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
rc=0
# shellcheck disable=SC2086 # dictarg and flags are words
"$exe" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 $dictarg $flags \
        -artifact_prefix="$work/" "$work/new" "$corpus" >"$work/log" 2>&1 &
pid=$!
wait "$pid" || rc=$?
# the scratch dir a crashed target could not remove (fuzz-common.c names it by pid)
for d in /dev/shm "${TMPDIR:-/tmp}" /tmp; do
        for left in "$d/nook-fuzz-$name-$pid-"*; do
                [ -d "$left" ] || continue
                chmod -R u+rwX "$left" 2>/dev/null || : # layers keep dirs of mode 0
                rm -rf "$left" || echo "warning: could not remove $left"
        done
done
tail -n 25 "$work/log"
if [ "$rc" != 0 ]; then
        for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* "$work"/slow-unit-*; do
                [ -f "$f" ] || continue
                echo "input $(basename "$f") ($(wc -c <"$f") bytes), base64:"
                head -c 65536 "$f" | base64
        done
        echo "FAIL: $(basename "$exe") exited $rc (see above)"
        exit 1
fi
echo "ok: $(basename "$exe"): $(ls "$corpus" | wc -l) seeds replayed, fuzzed ${seconds}s, no finding"
