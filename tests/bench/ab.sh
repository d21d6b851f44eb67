#!/bin/bash
# nook bench — interleaved A/B of two nook builds' cold start on a busybox root: each round
# runs A then B once (so drift in the machine's load hits both alike), then prints medians.
#   A=/old/build/src/nook B=/new/build/src/nook tests/bench/ab.sh RUNS [nook run options...]
# MODE=exec: the warm path instead, `nook exec S /bin/true` in one session per build
# (created with the options given, removed at the end).
# Run it as an unprivileged user on an idle machine; numbers only, never a pass or fail.
set -euo pipefail
: "${A:?A=path of the old nook}" "${B:?B=path of the new nook}"
runs=${1:?how many rounds}
shift
work=$(mktemp -d "${TMPDIR:-/tmp}/nook-ab.XXXXXX")
mode=${MODE:-run}
declare -A sess=()
cleanup() {
        local v
        for v in "${!sess[@]}"; do "${!v}" session rm "${sess[$v]}" >/dev/null 2>&1 || :; done
        rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/root/bin"
cp /bin/busybox "$work/root/bin/"
ln -s busybox "$work/root/bin/true"
if [ "$mode" = exec ]; then
        for v in A B; do
                sess[$v]=$("${!v}" session create "$@" --rootfs "$work/root")
        done
fi
for _ in $(seq "$runs"); do
        for v in A B; do
                s=$(date +%s%N)
                if [ "$mode" = exec ]; then
                        "${!v}" exec "${sess[$v]}" /bin/true
                else
                        "${!v}" run "$@" --rootfs "$work/root" -- /bin/true
                fi
                echo "$v $((($(date +%s%N) - s) / 1000))" >>"$work/times"
        done
done
for v in A B; do
        awk -v v="$v" '$1 == v { print $2 }' "$work/times" | sort -n |
                awk -v v="$v" -v p="${!v}" '{ a[NR] = $1 } END { printf "%s %s: median %.1f ms (n=%d)\n", v, p, a[int((NR + 1) / 2)] / 1000, NR }'
done
