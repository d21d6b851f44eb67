#!/bin/bash
# interleaved A/B cold start of two nook builds on a busybox root, medians:
#   A=/path/to/old/nook B=/path/to/new/nook tests/bench/ab.sh RUNS [nook run options...]
R=$(mktemp -d /tmp/ab.XXXX); mkdir -p $R/bin; cp /bin/busybox $R/bin/; for a in sh true; do ln -s busybox $R/bin/$a; done
runs=$1; shift
for i in $(seq $runs); do
  for v in base main; do
    if [ $v = base ]; then N=${A:?A=old nook}; else N=${B:?B=new nook}; fi
    s=$(date +%s%N); $N run "$@" --rootfs $R -- /bin/true; e=$(date +%s%N)
    echo "$v $(( (e-s)/1000 ))"
  done
done > /tmp/ab.$$.txt
for v in base main; do grep "^$v " /tmp/ab.$$.txt | awk '{print $2}' | sort -n | awk -v v=$v '{a[NR]=$1} END{printf "%s median %.1f ms (n=%d)\n", v, a[int((NR+1)/2)]/1000, NR}'; done
rm -rf $R /tmp/ab.$$.txt
