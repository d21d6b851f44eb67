#!/bin/sh
# The egress allowlist through `nook run --egress` (issue 12): the sandbox's resolver is
# nook-netd's; it answers an allowed name (asking a resolver this test runs on the host's
# loopback) and refuses another; the answer opens that address for the allowed port only;
# another port, a direct IP never resolved, and slirp's own resolver are refused at once.
# Network rule (TESTING.md): the only destination is 10.0.2.2, the host's loopback, where
# this test's servers listen (host loopback allowed for this purpose).
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
: >"$ROOT/etc/hosts"
: >"$ROOT/etc/resolv.conf"

free_port() {
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
open_port=$(free_port)
other_port=$(free_port)
dns_port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# two TCP servers and a resolver on the host's loopback
python3 - "$open_port" "$other_port" "$dns_port" "$T/dns.log" <<'EOF' &
import socket, struct, sys, threading
def serve(port, text):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port)); s.listen(8)
    while True:
        c, _ = s.accept(); c.sendall(text); c.close()
for port, text in ((int(sys.argv[1]), b"allowed-port-answers\n"), (int(sys.argv[2]), b"other-port-answers\n")):
    threading.Thread(target=serve, args=(port, text), daemon=True).start()
d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); d.bind(("127.0.0.1", int(sys.argv[3])))
log = open(sys.argv[4], "a", buffering=1)
while True:
    q, addr = d.recvfrom(512)
    i, p = 12, []
    while q[i]:
        p.append(q[i + 1:i + 1 + q[i]].decode()); i += 1 + q[i]
    name, qtype = ".".join(p), struct.unpack(">H", q[i + 1:i + 3])[0]
    log.write(f"{name} {qtype}\n")
    head = q[:2] + b"\x81\x80" + q[4:6]
    if qtype == 1:
        ans = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 300, 4) + socket.inet_aton("10.0.2.2")
        d.sendto(head + b"\x00\x01\x00\x00\x00\x00" + q[12:i + 5] + ans, addr)
    else:
        d.sendto(head + b"\x00\x00\x00\x00\x00\x00" + q[12:i + 5], addr)
EOF
servers=$!
trap 'kill $servers 2>/dev/null; cleanup_sessions; chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT
sleep 0.5

# refused "at once": connect fails within a second (nc's own error), never a hang
script='
cat /etc/resolv.conf
echo "direct: $(nc 10.0.2.2 '"$open_port"' </dev/null 2>&1; echo rc=$?)"
echo "slirp-dns: $(nslookup allowed.test 10.0.2.3 2>&1 | grep -c 10.0.2.2)"
addr=$(nslookup allowed.test 2>/dev/null | sed -n "/^Name:/,\$ s/^Address: *//p" | head -n 1)
echo "resolved: $addr"
echo "open: $(nc $addr '"$open_port"' </dev/null 2>&1)"
echo "other: $(nc $addr '"$other_port"' </dev/null 2>&1; echo rc=$?)"
echo "denied: $(nslookup denied.test 2>&1 | grep -c 10.0.2.2)"
'
start=$(date +%s)
run_nook run --network slirp4netns:allow_host_loopback=true --dns "127.0.0.1:$dns_port" \
        --egress "tcp://allowed.test:$open_port" --rootfs "$ROOT" -- sh -c "$script"
took=$(($(date +%s) - start))
assert_eq 0 "$RC" "run --egress: $ERR"
assert_contains "$OUT" "nameserver 127.0.0.53" "the sandbox's resolver is nook-netd's"
assert_contains "$OUT" "direct: nc: can't connect to remote host (10.0.2.2): Connection refused" "a direct IP, never resolved, is refused"
assert_contains "$OUT" "slirp-dns: 0" "slirp's own resolver answers nothing"
assert_contains "$OUT" "resolved: 10.0.2.2" "the allowed name resolves through nook-netd"
assert_contains "$OUT" "open: allowed-port-answers" "the allowed name and port are reachable"
assert_contains "$OUT" "other: nc: can't connect to remote host (10.0.2.2): Connection refused" "another port of the allowed address is refused"
assert_contains "$OUT" "denied: 0" "another name does not resolve"
[ "$took" -lt 20 ] || fail "refusals waited for timeouts ($took s)"
asked=$(cat "$T/dns.log")
assert_contains "$asked" "allowed.test 1" "nook-netd asked the host-side resolver for the allowed name"
assert_not_contains "$asked" "denied.test" "a name outside the allowlist never reaches the resolver"
ok "--egress admits one name and port; another port, another name, a direct IP and slirp's resolver are refused"

# the contract's form, and a bad rule refused before anything is made
run_nook run --egress 'https://*.example.org' --rootfs "$ROOT" -- true
assert_eq 125 "$RC" "a wildcard egress rule"
assert_contains "$ERR" "egress" "the error is about the egress rule"
run_nook session ls
assert_not_contains "$OUT" "run-" "nothing is left by a refused rule"
ok "a bad egress rule is refused before anything is made"
