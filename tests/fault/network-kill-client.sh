#!/bin/sh
# kill -9 of the client while configure_network starts the network's helpers (after
# nook-netd, after slirp4netns): `nook gc` leaves no slirp4netns, no nook-netd and no
# session.  The helpers end with the holder (their exit fd), even when the client died
# before recording their pids.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
before=$(net_helpers)
for point in network.after_netd network.after_slirp; do
        name="k$$-$(echo "$point" | tr . -)"
        set +e
        NOOK_FAULT="$point:kill" "$NOOK" run --name "$name" --egress "tcp://allowed.test:9" --rootfs "$ROOT" \
                -- true >/dev/null 2>&1
        rc=$?
        set -e
        [ "$rc" -eq 137 ] || skip "this build ignores NOOK_FAULT (exit $rc)"
        during=$(net_helpers)
        [ "$during" != "$before" ] || fail "no network helper was running when the client died at $point"
        run_nook gc
        assert_eq 0 "$RC" "gc after a kill at $point: $ERR"
        i=0
        while [ "$(net_helpers)" != "$before" ] && [ $i -lt 50 ]; do
                i=$((i + 1))
                sleep 0.1
        done
        assert_eq "$before" "$(net_helpers)" "network helpers after gc (kill at $point)"
        run_nook session ls
        assert_not_contains "$OUT" "$name" "the session is gone after gc (kill at $point)"
        ok "kill at $point: gc leaves no slirp4netns, nook-netd or session"
done
