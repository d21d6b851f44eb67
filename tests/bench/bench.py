#!/usr/bin/env python3
"""nook benchmarks (TESTING.md "Benchmarks"): medians of repeated runs, nook against the
peers installed here (bwrap, ch-run, podman --runtime runc; unshare(1) as the floor), as
ratios nook / peer.  Runs as an ordinary user; never fails a test run: a peer that is
missing or fails is a missing column.  Writes a Markdown table.

usage: bench.py NOOK OUT.md [--runs N]
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def sh(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw).returncode


def timed(cmd, runs, env=None):
    """Median wall time in ms of `runs` runs; None when the command fails."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        times.append((time.perf_counter() - t) * 1000)
        if r.returncode != 0:
            return None
    return statistics.median(times)


def make_rootfs(d):
    for sub in ("bin", "etc", "proc", "dev", "sys", "tmp", "root"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    shutil.copy("/bin/busybox", os.path.join(d, "bin", "busybox"))
    for applet in subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True).stdout.split():
        p = os.path.join(d, "bin", applet)
        if not os.path.exists(p):
            os.symlink("busybox", p)
    with open(os.path.join(d, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
    for name in ("group", "hosts", "resolv.conf"):  # ch-run binds these
        with open(os.path.join(d, "etc", name), "w") as f:
            f.write("root:x:0:\n" if name == "group" else "")
    os.chmod(os.path.join(d, "tmp"), 0o1777)


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def throughput(cmd, size, env=None):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    dt = time.perf_counter() - t
    return None if r.returncode else size / dt / 1e6


def main():
    nook, out = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 30
    tmp = tempfile.mkdtemp(prefix="nook-bench.")
    root = os.path.join(tmp, "root")
    make_rootfs(root)
    env = dict(os.environ)
    rows = []  # (benchmark, nook_ms_or_value, peer name, peer value, unit, target)

    true = ["/bin/true"]
    nook_cold = timed([nook, "run", "--rootfs", root, "--network", "none", "--"] + true, runs, env)
    floor = timed(["unshare", "-Urmpf", "true"], runs)
    bwrap = shutil.which("bwrap") and timed(
        ["bwrap", "--unshare-all", "--ro-bind", root, "/", "--proc", "/proc", "--dev", "/dev"] + true, runs)
    chrun = shutil.which("ch-run") and timed(["ch-run", root, "--"] + true, runs)
    nook_cold_root = timed([nook, "run", "--userns", "root", "--rootfs", root, "--network", "none", "--"] + true,
                           runs, env)
    rows.append(("cold run /bin/true (ms)", nook_cold, "bwrap", bwrap or None, "<= 1.0x bwrap"))
    rows.append(("cold run --userns root (ms)", nook_cold_root, "bwrap", bwrap or None, "<= 1.0x bwrap"))
    rows.append(("cold run /bin/true (ms)", nook_cold, "ch-run", chrun or None, ""))
    rows.append(("cold run /bin/true (ms)", nook_cold, "unshare -Urmpf (floor)", floor, ""))

    podman = shutil.which("podman")
    img = None
    if podman:
        tar = os.path.join(tmp, "root.tar")
        subprocess.run(["tar", "-C", root, "-cf", tar, "."], check=False)
        r = subprocess.run([podman, "import", tar, "nook-bench"], capture_output=True, text=True)
        img = "nook-bench" if r.returncode == 0 else None
    if img:
        pod_cold = timed([podman, "--runtime", "runc", "run", "--rm", "--network", "none", img] + true, max(5, runs // 3))
        rows.append(("cold run /bin/true (ms)", nook_cold, "podman --runtime runc", pod_cold, ""))

    # warm: one prepared session, many processes
    name = f"bench-{os.getpid()}"
    sh([nook, "session", "create", "--rootfs", root, "--name", name], env=env)
    nook_warm = timed([nook, "exec", name, "--"] + true, runs, env)
    rows.append(("warm exec /bin/true (ms)", nook_warm, "unshare -Urmpf (floor)", floor, "<= 2.0x floor"))
    if img:
        cname = f"nook-bench-{os.getpid()}"
        if sh([podman, "--runtime", "runc", "run", "-d", "--name", cname, "--network", "none", img, "sleep", "600"]) == 0:
            pod_exec = timed([podman, "exec", cname] + true, max(5, runs // 3))
            rows.append(("warm exec /bin/true (ms)", nook_warm, "podman exec", pod_exec, "<= 0.05x podman exec"))
            sh([podman, "rm", "-f", cname])

    # memory of an idle session: holder and monitor resident sizes
    sh([nook, "exec", "-d", name, "--", "sleep", "60"], env=env)
    time.sleep(0.3)
    ps = subprocess.run(["ps", "-u", str(os.getuid()), "-o", "pid=,ppid=,comm="], capture_output=True, text=True).stdout
    procs = {p[0]: p for p in (l.split() for l in ps.splitlines()) if len(p) == 3}
    # the holder is a nook-holder whose parent is not one; its monitors are its children
    holders = [p for p in procs.values() if p[2] == "nook-holder" and procs.get(p[1], ("", "", ""))[2] != "nook-holder"]
    holder_rss = monitor_rss = None
    for h in holders:
        monitors = [p for p in procs.values() if p[1] == h[0] and p[2] == "nook-holder"]
        if monitors:
            holder_rss, monitor_rss = rss_kb(int(h[0])), rss_kb(int(monitors[0][0]))
    rows.append(("holder RSS (KiB)", holder_rss, "", None, "<= 1024"))
    rows.append(("monitor RSS (KiB)", monitor_rss, "", None, "<= 1024"))

    # output throughput: 256 MiB through a monitor (capture log) to our stdout, against the
    # same busybox dd writing into a plain pipe (busybox head is itself slow: 130 MB/s)
    size = 256 << 20
    gen = ["dd", "if=/dev/zero", "bs=65536", f"count={size >> 16}"]
    nook_tp = throughput([nook, "exec", name, "--"] + gen, size, env)
    pipe_tp = throughput(["sh", "-c", " ".join(["/bin/busybox"] + gen) + " 2>/dev/null | cat"], size)
    rows.append(("output throughput (MB/s)", nook_tp, "plain pipe", pipe_tp, ">= 0.8x pipe"))
    sh([nook, "session", "rm", name], env=env)
    if img:
        sh([podman, "rmi", "-f", img])
    shutil.rmtree(tmp, ignore_errors=True)

    lines = ["| benchmark | nook | peer | peer value | nook / peer | target |", "|---|---|---|---|---|---|"]
    for bench, mine, peer, theirs, target in rows:
        fmt = lambda v: "-" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))
        ratio = f"{mine / theirs:.2f}" if mine and theirs else "-"
        lines.append(f"| {bench} | {fmt(mine)} | {peer or '-'} | {fmt(theirs)} | {ratio} | {target} |")
    text = "\n".join(lines) + f"\n\nmedians of {runs} runs; {time.strftime('%Y-%m-%d %H:%M')}; " \
        f"{os.uname().release}; user {os.getuid()}\n"
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
