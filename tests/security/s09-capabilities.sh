#!/bin/sh
# S9 (crun CVE-2022-27650): no inheritable or ambient capabilities; the bounding set has
# no CAP_SYS_ADMIN (21), CAP_NET_ADMIN (12), CAP_SYS_PTRACE (19); a non-root workload
# has none effective.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
cap() { echo "$STDOUT" | sed -n "s/^$1:[[:space:]]*//p"; }
bit() { [ $(( 0x$1 >> $2 & 1 )) -eq 1 ]; }
for mode in root keep-id; do
        session_up "$EID-$mode" "$mode"
        run_in '["cat","/proc/self/status"]'
        assert_eq 0000000000000000 "$(cap CapInh)" "CapInh ($mode)"
        assert_eq 0000000000000000 "$(cap CapAmb)" "CapAmb ($mode)"
        bnd=$(cap CapBnd)
        for b in 21 12 19 16 17; do
                bit "$bnd" $b && fail "bounding set has capability $b ($mode): $bnd"
        done
        if [ "$mode" = keep-id ]; then
                assert_eq 0000000000000000 "$(cap CapEff)" "CapEff of a non-root workload"
        fi
        session_down "$EID-$mode"
done
ok "S9"
