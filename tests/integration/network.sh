#!/bin/sh
# Userspace networking (issue 12), from outside: the default network is slirp4netns (tap0
# 10.0.2.100, resolv.conf on slirp's 10.0.2.3); --network none has loopback only; the host's
# loopback is reachable as 10.0.2.2 only when allowed (S27); a published port answers on
# 127.0.0.1 and is bound to 127.0.0.1 only (S28); a taken port is refused before anything
# runs, leaving nothing behind; slirp4netns runs sandboxed and under seccomp (S29), is
# reported when it dies, and no helper outlives its session.
# Network rule (TESTING.md): every packet goes to this machine's loopback or to the
# sandbox's own namespace.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
: >"$ROOT/etc/hosts"
: >"$ROOT/etc/resolv.conf"
: >"$ROOT/etc/hostname"

free_port() {
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
before=$(net_helpers)

# ---- the default network ------------------------------------------------------------
run_nook run --rootfs "$ROOT" -- sh -c 'cat /sys/class/net/tap0/address >/dev/null && ip -4 -o addr show tap0; cat /etc/resolv.conf; grep -c . /etc/hosts; grep nook /etc/hosts'
assert_eq 0 "$RC" "run with the default network: $ERR"
assert_contains "$OUT" "inet 10.0.2.100/24" "the sandbox's address on tap0"
assert_contains "$OUT" "nameserver 10.0.2.3" "resolv.conf names slirp's resolver"
assert_contains "$OUT" "10.0.2.100	nook" "/etc/hosts names the sandbox by its hostname"
ok "the default network is slirp4netns: tap0 10.0.2.100, resolver 10.0.2.3"

run_nook run --network none --rootfs "$ROOT" -- sh -c 'ls /sys/class/net; cat /etc/resolv.conf'
assert_eq 0 "$RC" "run --network none: $ERR"
assert_eq lo "$OUT" "--network none: interfaces (and no resolver written)"
ok "--network none: loopback only"

# a resolver /etc/resolv.conf cannot name (a port; the sandbox's own loopback) is refused
run_nook run --dns 127.0.0.1:5353 --rootfs "$ROOT" -- true
assert_eq 125 "$RC" "--dns with a port and no --egress"
assert_contains "$ERR" "names no port" "the refusal says why"
run_nook run --dns 127.0.0.53 --rootfs "$ROOT" -- true
assert_eq 125 "$RC" "--dns on the sandbox's loopback and no --egress"
assert_contains "$ERR" "10.0.2.2" "the refusal names the host's address"
run_nook run --dns 10.0.2.2 --network slirp4netns:allow_host_loopback=true --rootfs "$ROOT" -- cat /etc/resolv.conf
assert_eq "nameserver 10.0.2.2" "$OUT" "--dns is the sandbox's resolver: $ERR"
ok "--dns: the resolver goes into resolv.conf; a port or a loopback address without --egress is refused"

# ---- the host's loopback (S27) ------------------------------------------------------
port=$(free_port)
python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
while True:
    c, _ = s.accept(); c.sendall(b"host-loopback-answers\n"); c.close()
' "$port" &
server=$!
trap 'kill $server 2>/dev/null; cleanup_sessions; chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT
sleep 0.3
run_nook run --rootfs "$ROOT" -- sh -c "nc 10.0.2.2 $port </dev/null; echo rc=\$?"
assert_not_contains "$OUT" "host-loopback-answers" "the host's 127.0.0.1 through 10.0.2.2 by default"
assert_contains "$OUT" "rc=1" "nc to 10.0.2.2 fails by default"
run_nook run --network slirp4netns:allow_host_loopback=true --rootfs "$ROOT" -- sh -c "nc 10.0.2.2 $port </dev/null; nc host.containers.internal $port </dev/null"
assert_eq 0 "$RC" "run with allow_host_loopback: $ERR"
assert_eq "host-loopback-answers
host-loopback-answers" "$OUT" "the host's 127.0.0.1 as 10.0.2.2 and host.containers.internal"
ok "the host's loopback is reachable only when allowed (S27)"

# ---- a published port (S28) ---------------------------------------------------------
hp=$(free_port)
run_nook run -d --name "web$$" -p "$hp:80" --rootfs "$ROOT" -- sh -c 'mkdir -p /www && echo served-from-the-sandbox >/www/index.html && exec httpd -f -p 80 -h /www'
assert_eq 0 "$RC" "run -d -p: $ERR"
webref=$(printf '%s\n' "$OUT" | tail -n 1)
echo "web$$" >>"$T/envs"
got=""
for _ in $(seq 1 50); do
        got=$(python3 -c '
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n"); print(s.makefile().read())
except OSError as e:
    print("error", e)
' "$hp")
        case "$got" in *served-from-the-sandbox*) break ;; esac
        sleep 0.1
done
assert_contains "$got" "served-from-the-sandbox" "the published port on 127.0.0.1:$hp"
listen=$(ss -Hltn "sport = :$hp" | awk '{print $4}')
assert_eq "127.0.0.1:$hp" "$listen" "the only listening socket of the published port"
run_nook session ls
assert_contains "$OUT" "127.0.0.1:$hp->80/tcp" "session ls shows the published port"
run_nook session inspect "web$$"
assert_contains "$OUT" "Network:      slirp4netns, 127.0.0.1:$hp->80/tcp" "session inspect shows the network"
ok "-p publishes on 127.0.0.1 only, and ls and inspect say so (S28)"
fwd=$(sed -n 's/^portfwd_pid=//p' "$(run_dir)/$(session_ref "web$$")/state")
[ -n "$fwd" ] && [ "$fwd" -gt 0 ] && alive "$fwd" || fail "no nook-portfwd recorded for the published TCP port"
assert_eq nook-portfwd "$(cat "/proc/$fwd/comm")" "the recorded forwarder"
# non-dumpable (it shares the sandbox's user namespace): its /proc/PID/ns is closed to us
assert_eq 0000000000000000 "$(sed -n 's/^CapEff:[[:space:]]*//p' "/proc/$fwd/status")" "nook-portfwd's effective capabilities"
ok "published TCP ports are carried by nook-portfwd, outside the workload's reach, with no capability"
# every byte arrives, in order, and the sender's half-close reaches the workload
bp=$(free_port)
echo "bulk$$" >>"$T/envs"
run_nook session create --name "bulk$$" -p "$bp:80" --rootfs "$ROOT"
assert_eq 0 "$RC" "session create -p: $ERR"
run_nook exec -d "bulk$$" -- sh -c 'nc -l -p 80 | sha256sum'
bref=$(printf '%s\n' "$OUT" | tail -n 1)
sent=$(python3 -c '
import hashlib, os, socket, sys, time
data = os.urandom(20 << 20)
for _ in range(50):
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
        break
    except OSError:
        time.sleep(0.1)
s.sendall(data); s.shutdown(socket.SHUT_WR); s.recv(1); s.close()
print(hashlib.sha256(data).hexdigest())
' "$bp")
for _ in $(seq 1 50); do
        run_nook logs "$bref"
        [ -n "$OUT" ] && break
        sleep 0.1
done
assert_eq "$sent  -" "$OUT" "20 MiB through the published port, as the sandbox read them"
run_nook session rm "bulk$$"
ok "a published port carries 20 MiB intact, and the half-close"

# a flood of connections past nook-portfwd's fd limit: the excess is closed, it does not
# spin, and the port serves again once the flood is gone
fp=$(free_port)
echo "flood$$" >>"$T/envs"
OUT=$(ulimit -n 200 && "$NOOK" session create --name "flood$$" -p "$fp:80" --rootfs "$ROOT" 2>"$T/err") && RC=0 || RC=$?
assert_eq 0 "$RC" "session create -p under ulimit -n 200: $(cat "$T/err")"
run_nook exec -d "flood$$" -- sh -c 'mkdir -p /www && echo after-the-flood >/www/index.html && exec httpd -f -p 80 -h /www'
ffwd=$(sed -n 's/^portfwd_pid=//p' "$(run_dir)/$(session_ref "flood$$")/state")
flood=$(python3 -c '
import socket, sys, time
port, pid = int(sys.argv[1]), sys.argv[2]
def cpu():
    f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
held = []
for _ in range(120):
    try:
        held.append(socket.create_connection(("127.0.0.1", port), timeout=2))
    except OSError:
        pass
time.sleep(0.3)
c0 = cpu(); time.sleep(1); c1 = cpu()
for h in held:
    h.close()
time.sleep(0.3)
for _ in range(50):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n"); body = s.makefile().read()
        if "after-the-flood" in body:
            break
    except OSError:
        body = ""
    time.sleep(0.1)
print(c1 - c0, "served" if "after-the-flood" in body else "not-served")
' "$fp" "$ffwd")
ticks=${flood% *}
[ "$ticks" -le 20 ] || fail "nook-portfwd used $ticks ticks of cpu in 1 s while 120 connections were held (spinning)"
assert_eq served "${flood#* }" "the published port after the flood"
run_nook session rm "flood$$"
ok "120 connections past nook-portfwd's fd limit: no spinning, and the port serves again"
run_nook stats --json "$webref"
assert_eq 0 "$RC" "stats of the web process: $ERR"
bytes=$(printf '%s\n' "$OUT" | json_query 'j["network_bytes"]')
[ "$bytes" -gt 100 ] || fail "network_bytes after an HTTP exchange: '$bytes'"
run_nook stats "$webref"
assert_contains "$(printf '%s\n' "$OUT" | head -n 1)" "NET IO" "nook stats has a network column"
ok "collect_stats counts the session's network bytes ($bytes), and nook stats shows them"

# S29: slirp4netns runs in its sandbox and under seccomp, outside the workload's reach
slirp=$(sed -n 's/^slirp_pid=//p' "$(run_dir)/$(session_ref "web$$")/state")
[ -n "$slirp" ] && alive "$slirp" || fail "no slirp4netns recorded for the session"
args=$(tr '\0' ' ' <"/proc/$slirp/cmdline")
for a in --enable-sandbox --enable-seccomp --disable-host-loopback --mtu=65520; do
        assert_contains "$args" "$a" "slirp4netns's arguments"
done
assert_eq 2 "$(sed -n 's/^Seccomp:[[:space:]]*//p' "/proc/$slirp/status")" "slirp4netns's seccomp mode (filter)"
[ "$(readlink "/proc/$slirp/ns/pid")" = "$(readlink /proc/self/ns/pid)" ] || fail "slirp4netns is in a pid namespace of the session"
ok "slirp4netns runs with --enable-sandbox and a seccomp filter, in the host's pid namespace (S29, S33)"

# a taken port: refused, named, and nothing is left behind
run_nook run --name "taken$$" -p "$hp:80" --rootfs "$ROOT" -- true
assert_eq 125 "$RC" "run -p on a taken port"
assert_contains "$ERR" "port $hp" "the error names the port"
assert_contains "$ERR" "Address already in use" "the error says why"
run_nook session ls
assert_not_contains "$OUT" "taken$$" "the failed session is gone"
ok "a taken port is refused before the workload starts, and nothing is left"

# a slirp4netns that cannot start: the workload never runs, the error says so, nothing left
mkdir -p "$T/fakebin"
printf '#!/bin/sh\necho "fake slirp4netns: cannot open /dev/net/tun" >&2\nexit 1\n' >"$T/fakebin/slirp4netns"
chmod 0755 "$T/fakebin/slirp4netns"
run_nook_env() { # like run_nook, with PATH leading to the fake
        OUT=$(PATH="$T/fakebin:$PATH" "$NOOK" "$@" 2>"$T/err") && RC=0 || RC=$?
        ERR=$(cat "$T/err")
}
run_nook_env run --name "noslirp$$" --rootfs "$ROOT" -- sh -c 'echo workload-ran'
assert_eq 125 "$RC" "run when slirp4netns cannot start"
assert_not_contains "$OUT" "workload-ran" "the workload did not run"
assert_contains "$ERR" "network did not come up" "the error names the network"
assert_contains "$ERR" "slirp4netns said: fake slirp4netns: cannot open /dev/net/tun" "the error quotes slirp4netns"
run_nook session ls
assert_not_contains "$OUT" "noslirp$$" "the failed session is gone"
ok "a slirp4netns that cannot start stops the run before the workload, and nothing is left"

# slirp4netns killed: reported, and the session still goes away cleanly
kill -9 "$slirp"
for _ in $(seq 1 50); do alive "$slirp" || break; sleep 0.1; done
run_nook session inspect "web$$"
assert_contains "$OUT" "slirp4netns (died" "inspect reports the dead slirp4netns"
run_nook session rm "web$$"
assert_eq 0 "$RC" "session rm after slirp4netns died: $ERR"
ok "slirp4netns killed mid-session is reported, and rm cleans up"

# ---- the contract: exposed_ports, adapter_defined_denied ---------------------------------
cp=$(free_port)
env="{\"environment_id\":\"xp$$\",\"spec\":{\"network\":{\"exposed_ports\":{\"ports\":[$cp]}}}}"
echo "xp$$" >>"$T/envs"
call_ok prepare_session "{\"environment\":$env}"
call_ok prepare_rootfs "{\"rootfs\":{\"rootfs_ref\":\"testroot\"},\"environment_id\":\"xp$$\"}"
run_nook_in "{\"environment\":$env}" call configure_network
if [ "$RC" -eq 0 ]; then
        listen=$(ss -Hltn "sport = :$cp" | awk '{print $4}')
        assert_eq "127.0.0.1:$cp" "$listen" "exposed_ports publishes on loopback"
        ok "exposed_ports publishes the port on 127.0.0.1"
else
        fail "configure_network with exposed_ports: $RC $OUT $ERR"
fi
run_nook_in "{\"environment\":{\"environment_id\":\"dn$$\",\"spec\":{\"network\":\"adapter_defined_denied\"}}}" call prepare_session
assert_eq 125 "$RC" "adapter_defined_denied"
assert_contains "$OUT$ERR" "PolicyDenial" "adapter_defined_denied is a policy denial"
ok "adapter_defined_denied is refused with PolicyDenial"
session_down "xp$$"

# socket_relay: a host unix socket named by an alias, at /run/nook/relay/<ref>, no network
sock="$T/agent.sock"
python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(4)
while True:
    c, _ = s.accept(); c.sendall(b"relayed-agent-answers\n"); c.close()
' "$sock" &
agent=$!
for _ in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.1; done
export NOOK_ALIASES="testroot=$ROOT;relay.agent=$sock"
SENV="{\"environment_id\":\"rl$$\",\"spec\":{\"network\":{\"socket_relay\":{\"relay_refs\":[\"relay.agent\"]}},\"io_policy\":{\"stdout\":{\"default_capture\":\"raw_content_if_policy_allows\"}}}}"
echo "rl$$" >>"$T/envs"
call_ok prepare_session "{\"environment\":$SENV}"
call_ok prepare_rootfs "{\"rootfs\":{\"rootfs_ref\":\"testroot\"},\"environment_id\":\"rl$$\"}"
call_ok configure_network "{\"environment\":$SENV}"
call_ok prepare_environment "{\"environment\":$SENV}"
run_in '["sh","-c","nook-probe unix-read /run/nook/relay/relay.agent; ls /sys/class/net"]'
kill "$agent" 2>/dev/null || true
assert_eq "relayed-agent-answers
lo" "$STDOUT" "the relayed socket answers inside, and the session has loopback only"
session_down "rl$$"
ok "socket_relay binds the alias's unix socket at /run/nook/relay/<ref>, with no network"

# ---- --network host: the host's namespace, and a note that says so ------------------------
echo "ho$$" >>"$T/envs"
run_nook session create --network host --rootfs "$ROOT" --name "ho$$"
assert_eq 0 "$RC" "session create --network host: $ERR"
run_nook exec "ho$$" -- readlink /proc/self/ns/net
assert_eq "$(readlink /proc/self/ns/net)" "$OUT" "the workload is in the host's network namespace"
run_nook session inspect "ho$$" --json
assert_contains "$(printf '%s\n' "$OUT" | json_query 'j["notes"]')" "network host: the workload shares the host's network namespace" "the downgrade is noted"
run_nook session rm "ho$$"
ok "--network host joins the host's namespace, noted as a downgrade"

# ---- the order of the stages: the network before the environment, its policy fixed ------
op=$(free_port)
oenv="{\"environment_id\":\"or$$\",\"spec\":{\"network\":{\"exposed_ports\":{\"ports\":[$op]}}}}"
echo "or$$" >>"$T/envs"
call_ok prepare_session "{\"environment\":$oenv}"
call_ok prepare_rootfs "{\"rootfs\":{\"rootfs_ref\":\"testroot\"},\"environment_id\":\"or$$\"}"
call_ok prepare_environment "{\"environment\":$oenv}"
run_nook_in "{\"environment\":$oenv}" call configure_network
assert_eq 125 "$RC" "configure_network after prepare_environment"
assert_contains "$OUT" "comes before prepare_environment" "the refusal names the order"
assert_eq "" "$(ss -Hltn "sport = :$op")" "nothing listens on the port the refused request asked"
assert_eq 0 "$(sed -n 's/^slirp_pid=//p' "$(run_dir)/$(session_ref "or$$")/state")" "no slirp4netns recorded"
session_down "or$$"
eenv() { echo "{\"environment_id\":\"eg$$\",\"spec\":{\"network\":{\"allowlist\":{\"hosts\":[\"$1\"]}}}}"; }
echo "eg$$" >>"$T/envs"
call_ok prepare_session "{\"environment\":$(eenv a.example)}"
run_nook_in "{\"environment\":$(eenv b.example)}" call configure_network
assert_eq 125 "$RC" "configure_network with another allowlist than prepare_session's"
assert_contains "$OUT" "prepared with egress https://a.example:443" "the refusal names the session's policy"
assert_eq 0 "$(sed -n 's/^netd_pid=//p' "$(run_dir)/$(session_ref "eg$$")/state")" "no nook-netd recorded"
session_down "eg$$"
ok "configure_network after prepare_environment, or with another egress policy, is refused and starts nothing"

# ---- nothing outlives its session ------------------------------------------------------
# killed at cleanup, they may still be on their way out (the kernel takes their tap
# device down after the kill): give them a moment, never more than 5 s
i=0
while [ "$(net_helpers)" != "$before" ] && [ $i -lt 50 ]; do
        i=$((i + 1))
        sleep 0.1
done
after=$(net_helpers)
assert_eq "$before" "$after" "network helpers of this user before and after"
ok "no slirp4netns or nook-netd outlives its session"
