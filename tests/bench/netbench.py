"""nook network benchmarks (issue 12), run by bench.py's main(): rows in bench.py's format
(benchmark, nook value, peer name, peer value, target).  Never fails: a peer that is missing
or fails is a missing column, with the reason printed on stderr.

Cost of networking at start: `nook run --rootfs ROOT -- /bin/true` with the default network
(slirp4netns) and with `--network none`, run alternately (drift in the machine's load hits
both alike), median of RUNS runs each; the difference is the cost, target <= 5 ms and below
podman's same difference (`podman run --rm --network slirp4netns|none IMG /bin/true`, bench.py's
rootless podman and busybox image, max(5, RUNS / 3) runs each as bench.py's other podman rows).

Throughput: iperf3 TCP (-t 3, -t 1 with --quick; median of 3 runs, 1 with --quick, the peers
taken in turn), Gbit/s received (end.sum_received of iperf3 -J), both directions:
  sandbox -> host: an iperf3 server on the host at 127.0.0.1:PORT (one test, then it exits),
    the client in the sandbox; slirp4netns with allow_host_loopback=true reaches it at
    10.0.2.2;
  host -> sandbox: the iperf3 server in the sandbox on port 5201, published at
    127.0.0.1:HOSTPORT (-p); the client on the host (its control and data connections both go
    through the published port).
The sandbox's iperf3 is the host's binary and the libraries ldd names, copied into a copy of
bench.py's busybox root (imported into podman's store as its image too).  Peers: podman
--network slirp4netns:allow_host_loopback=true (target: nook >= 1.0x; podman's -p goes through
rootlessport, its default port_handler, where nook's goes through slirp4netns itself:
port_handler=slirp4netns is not measured, its API socket path under bench.py's private
XDG_RUNTIME_DIR being longer than a unix socket's 108 bytes) and pasta, no target:
`podman --network pasta` when podman has that mode (from 4.4; the host's loopback through
pasta's -T PORT, the sandbox connecting to its own 127.0.0.1:PORT), else pasta itself
(`pasta --config-net -T PORT | -t 127.0.0.1/HOSTPORT:5201 -- iperf3 ...`: the same
namespace and forwarding, without podman; Debian 12's podman 4.3.1 has no pasta mode).

Packets go to this machine only: 127.0.0.1, slirp's 10.0.2.2 (the host's loopback) and the
sandbox's own namespace.  Every server, session and container started here is ended and
removed, also on failure (./dev test fails on a process the test user leaves running).
"""
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SLIRP = "slirp4netns:allow_host_loopback=true"
SLIRP_HOST = "10.0.2.2"  # the host's 127.0.0.1 seen from slirp4netns's network
PORT_IN = 5201           # the iperf3 server's port inside the sandbox
DEVNULL = subprocess.DEVNULL


def note(msg):
    print(f"bench: network: {msg}", file=sys.stderr)


def alternate(cmds, runs, env=None):
    """Medians in ms of `runs` runs of each command, run in turn (one warm-up each first);
    a command that fails once gets None."""
    times = [[] for _ in cmds]
    for i in range(runs + 1):
        for k, cmd in enumerate(cmds):
            if times[k] is None:
                continue
            t = time.perf_counter()
            r = subprocess.run(cmd, stdout=DEVNULL, stderr=DEVNULL, env=env)
            if r.returncode != 0:
                times[k] = None
            elif i:
                times[k].append((time.perf_counter() - t) * 1000)
    return [None if t is None else statistics.median(t) for t in times]


def diff(a, b):
    return None if a is None or b is None else a - b


def start_cost(nook, root, runs, podman, img, rows):
    true = ["--", "/bin/true"]
    run = [nook, "run", "--rootfs", root]
    slirp, none = alternate([run + true, run + ["--network", "none"] + true], runs)
    pslirp = pnone = None
    if podman and img:
        prun = podman.cmd("run", "--rm", "--network")
        pslirp, pnone = alternate([prun + ["slirp4netns", img, "/bin/true"],
                                   prun + ["none", img, "/bin/true"]], max(5, runs // 3), podman.env)
    elif podman:
        note("no podman image: no podman column for the start rows")
    peer = "podman --runtime runc"
    rows.append(("cold run /bin/true, slirp4netns (ms)", slirp, peer, pslirp, ""))
    rows.append(("cold run /bin/true, --network none (ms)", none, peer, pnone, ""))
    rows.append(("network cost at start: slirp4netns - none (ms)", diff(slirp, none), peer,
                 diff(pslirp, pnone), "<= 5 ms, < 1.0x podman"))


def make_netroot(root, d):
    """A copy of the busybox root with /usr/bin/iperf3 and the libraries ldd names."""
    net = os.path.join(d, "netroot")
    shutil.copytree(root, net, symlinks=True)
    exe = shutil.which("iperf3")
    out = subprocess.run(["ldd", exe], capture_output=True, text=True, check=True).stdout
    files = [exe] + [w for line in out.splitlines() for w in line.split() if w.startswith("/")]
    for f in files:
        dst = os.path.join(net, f.lstrip("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy(os.path.realpath(f), dst)
    return net


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    """Whether something listens on the host at 127.0.0.1:port (/proc/net/tcp)."""
    want = f"0100007F:{port:04X}"
    try:
        with open("/proc/net/tcp") as f:
            return any(l.split()[1] == want and l.split()[3] == "0A" for l in f.readlines()[1:])
    except OSError:
        return False


def spawn(cmd, env=None):
    """A process in a session of its own (stop() kills its whole group)."""
    return subprocess.Popen(cmd, stdout=DEVNULL, stderr=DEVNULL, env=env, start_new_session=True)


def stop(p):
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
    p.wait()


def result(r):
    """(Gbit/s received, None) from iperf3 -J's output in `r` (a CompletedProcess), or
    (None, why).  iperf3 3.12 -J exits 0 on an error too: its JSON says."""
    try:
        j = json.loads(r.stdout)
        if not j.get("error"):
            return j["end"]["sum_received"]["bits_per_second"] / 1e9, None
        return None, j["error"]
    except (ValueError, KeyError, TypeError):
        return None, (r.stderr.strip().splitlines() or [f"exit {r.returncode}, no iperf3 output"])[-1]


def gbits(r, what):
    value, why = result(r)
    if why:
        note(f"{what}: {why}")
    return value


def client(args, secs):
    return ["iperf3", "-c"] + args + ["-t", str(secs), "-J"]


def to_host(cmd_for, secs, what, env=None, after=None):
    """sandbox -> host: an iperf3 server on 127.0.0.1, the client `cmd_for(port)` in the
    sandbox; `after` (a command) runs at the end in any case (removes the sandbox)."""
    port = free_port()
    srv = spawn(["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", str(port)])
    try:
        for _ in range(100):
            if listening(port) or srv.poll() is not None:
                break
            time.sleep(0.05)
        r = subprocess.run(cmd_for(port), capture_output=True, text=True, env=env,
                           timeout=secs + 60)
        return gbits(r, what)
    except subprocess.TimeoutExpired:
        note(f"{what}: timed out")
        return None
    finally:
        stop(srv)
        if after:
            subprocess.run(after, stdout=DEVNULL, stderr=DEVNULL, env=env)


def from_host(start, secs, what, env=None, end=None):
    """host -> sandbox: `start(hostport)` starts the sandbox's iperf3 server (a command run to
    its end, or a function returning a Popen), published at 127.0.0.1:hostport; the client on
    the host, retried while the server inside is not up yet; `end` removes the sandbox."""
    hp = free_port()
    proc = None
    try:
        s = start(hp)
        if isinstance(s, list):
            r = subprocess.run(s, stdout=DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                               timeout=120)
            if r.returncode != 0:
                note(f"{what}: " + (r.stderr.strip().splitlines() or ["start failed"])[-1])
                return None
        else:
            proc = s
        deadline = time.monotonic() + 20
        while True:
            t = time.perf_counter()
            r = subprocess.run(client(["127.0.0.1", "-p", str(hp)], secs), capture_output=True,
                               text=True, timeout=secs + 60)
            # a quick failure: the forwarder answered before the server inside listens
            if result(r)[0] is not None or time.perf_counter() - t > secs \
                    or time.monotonic() > deadline:
                return gbits(r, what)
            time.sleep(0.2)
    except subprocess.TimeoutExpired:
        note(f"{what}: timed out")
        return None
    finally:
        if proc:
            stop(proc)
        if end:
            subprocess.run(end, stdout=DEVNULL, stderr=DEVNULL, env=env)


def nook_peer(nook, net, secs):
    """(sandbox -> host, host -> sandbox) of nook over slirp4netns."""
    name = f"nook-netbench-{os.getpid()}"
    timeout = ["--timeout", f"{secs + 60}s"]
    rm = [nook, "session", "rm", name]
    out = to_host(lambda p: [nook, "run", "--name", name, "--rootfs", net, "--network", SLIRP]
                  + timeout + ["--"] + client([SLIRP_HOST, "-p", str(p)], secs),
                  secs, "nook sandbox->host", after=rm)
    inn = from_host(lambda hp: [nook, "run", "-d", "--name", name, "--rootfs", net, "-p",
                                f"127.0.0.1:{hp}:{PORT_IN}"] + timeout
                    + ["--", "iperf3", "-s", "-1", "-p", str(PORT_IN)],
                    secs, "nook host->sandbox", end=rm)
    return out, inn


def podman_peer(podman, img, peer, network, host, secs):
    """(sandbox -> host, host -> sandbox) of podman (`peer` names it) with --network
    `network(port)` (network(None) for host -> sandbox), the host's loopback reached at
    `host`."""
    name = f"nook-netbench-{os.getpid()}"
    rm = podman.cmd("rm", "-f", "-t", "0", name)
    run = podman.cmd("run", "--name", name)
    out = to_host(lambda p: run + ["--rm", "--network", network(p), img]
                  + client([host, "-p", str(p)], secs),
                  secs, f"{peer} sandbox->host", podman.env, after=rm)
    inn = from_host(lambda hp: run + ["-d", "--network", network(None), "-p",
                                      f"127.0.0.1:{hp}:{PORT_IN}", img,
                                      "iperf3", "-s", "-1", "-p", str(PORT_IN)],
                    secs, f"{peer} host->sandbox", podman.env, end=rm)
    return out, inn


def pasta_peer(secs):
    """(sandbox -> host, host -> sandbox) of pasta alone: a new user and network namespace
    with the host's addresses copied (--config-net), only the one port forwarded."""
    base = ["pasta", "-q", "-f", "-4", "--config-net", "-u", "none", "-U", "none"]
    out = to_host(lambda p: base + ["-t", "none", "-T", str(p), "--"]
                  + client(["127.0.0.1", "-p", str(p)], secs), secs, "pasta sandbox->host")
    inn = from_host(lambda hp: spawn(base + ["-T", "none", "-t", f"127.0.0.1/{hp}:{PORT_IN}",
                                            "--", "iperf3", "-s", "-1", "-p", str(PORT_IN)]),
                    secs, "pasta host->sandbox")
    return out, inn


def throughput(nook, root, d, podman, quick, rows):
    if not shutil.which("iperf3"):
        note("iperf3 is not installed: no throughput rows")
        return ""
    secs, reps = (1, 1) if quick else (3, 3)
    net = make_netroot(root, d)
    peers = [("nook", lambda: nook_peer(nook, net, secs))]
    pod_img = None
    if podman:
        tar = os.path.join(d, "netroot.tar")
        subprocess.run(["tar", "-C", net, "-cf", tar, "."], check=True)
        r = subprocess.run(podman.cmd("import", tar, "nook-bench-net"), capture_output=True,
                           text=True, env=podman.env)
        pod_img = "nook-bench-net" if r.returncode == 0 else None
        if not pod_img:
            note("podman import failed: no podman columns for throughput")
    else:
        note("no podman: no podman columns for throughput")
    pasta = "-"
    if pod_img:
        peers.append(("podman slirp4netns", lambda: podman_peer(
            podman, pod_img, "podman slirp4netns", lambda p: SLIRP, SLIRP_HOST, secs)))
        r = subprocess.run(podman.cmd("run", "--rm", "--network", "pasta", pod_img, "/bin/true"),
                           capture_output=True, text=True, env=podman.env)
        if r.returncode == 0:
            pasta = "podman pasta"
            peers.append((pasta, lambda: podman_peer(
                podman, pod_img, pasta, lambda p: "pasta" if p is None else f"pasta:-T,{p}",
                "127.0.0.1", secs)))
        else:
            note("podman has no pasta network mode ("
                 + (r.stderr.strip().splitlines() or ["?"])[-1] + ")")
    if pasta == "-" and shutil.which("pasta"):
        pasta = "pasta alone (no podman)"
        peers.append((pasta, lambda: pasta_peer(secs)))
    elif pasta == "-":
        note("passt (pasta) is not installed: no pasta column")
    got = {name: ([], []) for name, _ in peers}
    for _ in range(reps):  # round robin: noise spreads over every peer
        for name, measure in peers:
            for vals, v in zip(got[name], measure()):
                vals.append(v)

    def med(name, i):
        vals = got.get(name, ([None], [None]))[i]
        return None if None in vals else statistics.median(vals)

    for i, way in enumerate(("sandbox->host", "host->sandbox")):
        label = f"throughput {way}, iperf3 TCP (Gbit/s)"
        rows.append((label, med("nook", i), "podman slirp4netns" + (", -p: rootlessport" if i else ""),
                     med("podman slirp4netns", i), ">= 1.0x podman slirp4netns"))
        rows.append((label, med("nook", i), pasta, med(pasta, i), ""))
    return f"iperf3 -t {secs}, median of {reps}"


def network_benchmarks(nook, root, runs, podman, img, rows, quick):
    """Appends the network rows to `rows`; -> a note for the table's footer.  `podman` is
    bench.py's Podman (None when it is not usable), `img` its busybox image (or None)."""
    d = tempfile.mkdtemp(prefix="nook-netbench.")
    try:
        start_cost(nook, root, runs, podman, img, rows)
        return throughput(nook, root, d, podman, quick, rows)
    finally:
        shutil.rmtree(d, ignore_errors=True)
