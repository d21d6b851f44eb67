#!/bin/sh
# nook-netd, the resolver and egress ruleset of a restricted session, seen from a
# workload in the network namespace it guards: allowed names resolve through it (their
# addresses then reachable on the allowed port only), other names are refused without
# reaching the upstream, AAAA is empty, every other destination (IPv6 included) fails at
# once, garbage queries do not kill it, and it exits when the session ends.
#
# The namespace is a plain `unshare -Urn` of the test user; its default routes lead
# into a tun device nobody reads (the kernel has no dummy driver here): what the
# ruleset lets through vanishes there, and nothing leaves the machine.
. "$NOOK_TEST_LIB/lib.sh"
: "${NOOK_NETD:?NOOK_NETD must name nook-netd (meson test sets it)}"
L=$NOOK_TEST_LIB

unshare -Urn sleep 600 &
NS=$!
DNS=""
RUNNER=""
NETD=""
trap 'kill $NS $DNS $RUNNER $NETD 2>/dev/null; cleanup_sessions; rm -rf "$T"' EXIT
i=0
while [ "$(readlink /proc/$NS/ns/net 2>/dev/null)" = "$(readlink /proc/self/ns/net)" ] ||
        [ -z "$(readlink /proc/$NS/ns/net 2>/dev/null)" ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || fail "unshare made no network namespace"
        sleep 0.05
done
inside() {
        nsenter --preserve-credentials -U -n -t "$NS" "$@"
}
inside sh -e -c '
ip link set lo up
ip tuntap add dev tun0 mode tun
ip link set tun0 up
ip addr add 10.0.2.100/24 dev tun0
ip route add default via 10.0.2.2 dev tun0 onlink
ip -6 addr add fd00::100/64 dev tun0 nodad
ip -6 route add default via fd00::2 dev tun0 onlink' || fail "setting up the namespace's devices"
probe() {
        inside python3 "$L/netd-probe.py" "$@"
}
# before netd: the address the test calls refused is not refused by the namespace itself
assert_eq timeout "$(probe tcp 10.0.2.50 80)" "tcp to 10.0.2.50:80 without netd"
assert_eq timeout "$(probe tcp fd00::50 443)" "tcp to [fd00::50]:443 without netd"
ok "without netd, connections vanish into the tun device"

python3 "$L/netd-dns.py" "$T/dns.port" "$T/dns.log" &
DNS=$!
i=0
while [ ! -s "$T/dns.port" ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || fail "the test's DNS server did not start"
        sleep 0.05
done
cat >"$T/netd.conf" <<CONF
upstream 127.0.0.1:$(cat "$T/dns.port")
rule tcp allowed.test 443
rule tcp alias.test 443
rule tcp 10.0.2.60 8443
CONF
python3 "$L/netd-run.py" "$NOOK_NETD" "$NS" "$T/netd.conf" "$T/netd.state" "$T/netd.err" &
RUNNER=$!
i=0
until grep -q '^ready' "$T/netd.state" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 200 ] || fail "netd gave no readiness in 10 s"
        sleep 0.05
done
assert_eq "ready R" "$(grep '^ready' "$T/netd.state")" "netd's readiness"
NETD=$(sed -n 's/^pid //p' "$T/netd.state")
alive "$NETD" || fail "netd $NETD is not running after R"
ok "netd is ready (pid $NETD, VmRSS $(sed -n 's/^VmRSS:[[:space:]]*//p' "/proc/$NETD/status"))"

assert_eq "rcode=0 10.0.2.50" "$(probe resolve allowed.test 1)" "A allowed.test"
assert_eq "rcode=0 10.0.2.50" "$(probe resolve ALLOWED.Test 1)" "A ALLOWED.Test (names are case-insensitive)"
assert_eq "rcode=0" "$(probe resolve allowed.test 28)" "AAAA allowed.test"
assert_eq "rcode=5" "$(probe resolve denied.test 1)" "A denied.test"
assert_eq "rcode=5" "$(probe resolve sub.allowed.test 1)" "A sub.allowed.test (no wildcards)"
assert_eq "rcode=0 10.0.2.70" "$(probe resolve alias.test 1)" "A alias.test (through a CNAME)"
grep -q '^allowed.test 1$' "$T/dns.log" || fail "the upstream never saw the query for allowed.test"
assert_not_contains "$(cat "$T/dns.log")" "denied.test" "queries the upstream saw"
assert_not_contains "$(cat "$T/dns.log")" "sub.allowed.test" "queries the upstream saw"
assert_not_contains "$(cat "$T/dns.log")" " 28" "queries the upstream saw (AAAA)"
ok "allowed names resolve through 127.0.0.53; others are refused without forwarding; AAAA is empty"

assert_eq timeout "$(probe tcp 10.0.2.50 443)" "tcp to a resolved address on the allowed port"
assert_eq timeout "$(probe tcp 10.0.2.70 443)" "tcp to an address reached through a CNAME"
assert_eq timeout "$(probe tcp 10.0.2.60 8443)" "tcp to an IP rule's address"
refused_fast() { # RESULT WHAT: refused within 0.5 s
        case "$1" in
        ECONNREFUSED* | EHOSTUNREACH* | EACCES* | EPERM* | ENETUNREACH*) ;;
        *) fail "$2: expected a refusal, got '$1'" ;;
        esac
        awk -v t="${1#* }" 'BEGIN { exit !(t < 0.5) }' || fail "$2: refused only after ${1#* } s"
}
refused_fast "$(probe tcp 10.0.2.50 80)" "tcp to a resolved address on another port"
refused_fast "$(probe tcp 10.0.2.61 443)" "tcp to an address never resolved"
refused_fast "$(probe tcp 10.0.2.60 443)" "tcp to an IP rule's address on another port"
refused_fast "$(probe tcp 10.0.2.2 53)" "tcp to the gateway"
refused_fast "$(probe tcp fd00::50 443)" "tcp to an IPv6 address"
refused_fast "$(probe tcp 2001:db8::1 443)" "tcp to another IPv6 address"
case "$(probe udp 10.0.2.61 53)" in
ECONNREFUSED | EACCES | EPERM | EHOSTUNREACH) ;;
*) fail "udp to an address never resolved: $(probe udp 10.0.2.61 53)" ;;
esac
case "$(probe udp 10.0.2.50 443)" in
ECONNREFUSED | EACCES | EPERM | EHOSTUNREACH) ;;
*) fail "udp to a resolved address whose rule is tcp" ;;
esac
ok "only allowed address, protocol and port go out; the rest fails at once"

assert_eq "sent 14" "$(probe hostile)" "hostile queries sent"
sleep 0.2
alive "$NETD" || fail "netd died of hostile queries"
assert_eq "rcode=0 10.0.2.50" "$(probe resolve allowed.test 1)" "A allowed.test after hostile queries"
assert_eq "rcode=5" "$(probe resolve denied.test 1)" "A denied.test after hostile queries"
ok "truncated, looping and oversized queries do not kill netd"

kill -TERM "$RUNNER"
wait "$RUNNER" || fail "the launcher failed"
RUNNER=""
NETD=""
ex=$(sed -n "s/^exit //p" "$T/netd.state")
case "$ex" in
"0 "*) ;;
*) fail "netd after its exit fd closed: '$ex' (want exit 0 within 2 s); its stderr: $(cat "$T/netd.err")" ;;
esac
alive "$NETD" && fail "netd $NETD still running"
ok "netd exits 0 when its exit fd is closed ($ex s)"
