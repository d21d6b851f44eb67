#!/usr/bin/env python3
"""nook benchmarks (TESTING.md "Benchmarks"): medians of repeated runs, nook against the
peers installed here (bwrap, ch-run, podman --runtime runc; unshare(1) as the floor), as
ratios nook / peer.  Runs as an ordinary user; never fails a test run: a peer that is
missing or fails is a missing column.  Writes a Markdown table.

The warm path is measured twice: `nook exec SESSION /bin/true` (a process per call) and a
start_process of /bin/true with wait_ms through one open `nook serve --stdio` connection
(docs/nook_client.py), whose target is half of exec's time or less.

Where a start's time goes (docs/performance.md): the cold dir run (subuid and --userns root),
each cold image run and the warm exec are run again as many times with NOOK_TRACE_FD set, and
a second table gives each stage's median: client start, journal, clone and id maps, holder
ready, the rest of prepare_session, root built, process spawned, exit seen, teardown,
client exit.

usage: bench.py NOOK OUT.md [--runs N] [--quick] [--io-mib N] [--files N] [--import-mib N]
                [--only start|network|images|secrets]

--only runs one section of the table: start (cold run, warm exec, serve, helper memory,
output throughput), network, images or secrets.

Secret masking (src/util/mask.c; the section needs no sandbox and no peer): the capture
ratio of tests/bench/mask-bench.c (built with the tests, next to NOOK in the build tree),
a monitor's loop through a pipe into a file masked with 100 secrets of 20-64 bytes
against the same loop unmasked, per text (random bytes, base64, log-like words), per set
(random-byte secrets, base64url tokens) and per way of feeding (nook_mask_feed with each
emit a write; nook_mask_feed_room, one write per read), and the size of each set's
tables; best of 5 runs of 256 MiB per text (--quick: 64 MiB, best of 3).

Image benchmarks (tests/images builds the images; podman is the peer, rootless, in a private
store on fuse-overlayfs): cold `nook run IMAGE` per rootfs driver, `nook image import` of a
~100 MiB archive against `podman load` of the same file, and file I/O inside the sandbox
(N small files created then read; a big file written with fsync then read) per driver,
against the host directory and podman.  --io-mib (default 1024), --files (10000) and
--import-mib (100) set the sizes; --quick shrinks them (128, 2000, 20) for trial runs.

Network benchmarks (tests/bench/netbench.py, its docstring says how): the cost of
slirp4netns at start (`nook run` with the default network minus `--network none`, against
podman's), and iperf3 throughput sandbox -> host and host -> sandbox against podman
slirp4netns and pasta; --quick runs iperf3 for 1 s once instead of 3 s three times.
"""
import atexit
import base64
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback

sys.dont_write_bytecode = True      # no __pycache__ in the source tree (nor in docs/)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "images"))
import ocilib  # noqa: E402


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


def serve_warm(nook, session, runs, env):
    """Median ms of a warm start-and-wait of /bin/true (start_process with wait_ms) through
    one open `nook serve --stdio` connection, in the session `session`; None on failure."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "..", "docs"))
    from nook_client import Client
    r = subprocess.run([nook, "session", "inspect", session, "--json"], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        return None
    environment = {"environment_id": json.loads(r.stdout)["environment_id"], "spec": {}}
    c = Client(nook)
    times = []
    try:
        for i in range(runs + 3):  # three to warm up
            t = time.perf_counter()
            res = c.call("start_process", {"environment": environment, "wait_ms": 10000,
                                           "process": {"process_id": f"serve-{i}", "argv": ["/bin/true"]},
                                           "effect_intent": {"effect_id": f"bench-serve-{os.getpid()}-{i}"}})
            if res["terminal_status"] != "completed":
                return None
            if i >= 3:
                times.append((time.perf_counter() - t) * 1000)
    finally:
        c.close()
    return statistics.median(times)


# --------------------------------------------------------------------------- stages
# Where a start's time goes: NOOK_TRACE_FD (src/util/trace.h) makes nook append
# "<CLOCK_MONOTONIC ns> <pid> <point>" lines for its calls ("call M {" .. "call M }"), journal
# writes ("journal {" .. "journal }", the first one the open), the holder's clone, its id
# maps and its ready byte, and the exit the client saw.  time.perf_counter_ns() is the same
# clock (CLOCK_MONOTONIC on Linux), so the client's own start is the gap between the spawn
# and its first line, and its exit the gap after the last one.

STAGES = ("client start", "journal", "clone and id maps", "holder ready", "session setup (rest)",
          "root built", "process spawned", "exit seen", "teardown", "client exit", "other (between calls)", "total",
          "(teardown: holder and its namespaces gone)", "(teardown: session dir removed)")
PARTS = STAGES[-2:]    # inside teardown: not added to the total
ROOT_CALLS = ("resolve_image", "prepare_rootfs", "resolve_mounts", "configure_network",
              "prepare_secrets", "prepare_environment")


def stages_of(lines, t0, t1):
    """{stage: ms} of one traced run (the client's own lines) spawned at t0, ended at t1 (ns)."""
    ev = []
    for line in lines:
        parts = line.split(" ", 2)
        if len(parts) == 3:
            ev.append((int(parts[0]), parts[2].strip()))
    if not ev:
        return None
    ms = lambda ns: ns / 1e6
    out = {k: 0.0 for k in STAGES}
    out["client start"] = ms(ev[0][0] - t0)
    out["client exit"] = ms(t1 - ev[-1][0])
    out["total"] = ms(t1 - t0)
    journal_in = []          # (start, end) of each outermost journal span
    opened, depth = None, 0
    for t, what in ev:
        if what == "journal {":
            depth += 1
            if depth == 1:
                opened = t
        elif what == "journal }" and depth > 0:
            depth -= 1
            if depth == 0:
                journal_in.append((opened, t))
    out["journal"] = ms(sum(b - a for a, b in journal_in))

    def bare(a, b):
        """ns from a to b minus the journal writes inside."""
        return (b - a) - sum(min(e, b) - max(s, a) for s, e in journal_in if s < b and e > a)

    at = {}
    calls = []               # (method, start, end)
    for t, what in ev:
        if what.startswith("call ") and what.endswith(" {"):
            at[what[5:-2]] = t
        elif what.startswith("call ") and what.endswith(" }") and what[5:-2] in at:
            calls.append((what[5:-2], at.pop(what[5:-2]), t))
        elif what in ("clone", "idmaps written", "holder ready", "exit seen", "holder kill", "holder gone",
                      "session dir rm", "session dir gone"):
            at[what] = t
    if "clone" in at and "idmaps written" in at:
        out["clone and id maps"] = ms(bare(at["clone"], at["idmaps written"]))
    if "idmaps written" in at and "holder ready" in at:
        out["holder ready"] = ms(bare(at["idmaps written"], at["holder ready"]))
    for method, a, b in calls:
        if method == "prepare_session":
            out["session setup (rest)"] += ms(bare(a, b)) - out["clone and id maps"] - out["holder ready"]
        elif method in ROOT_CALLS:
            out["root built"] += ms(bare(a, b))
        elif method == "start_process":
            out["process spawned"] += ms(bare(a, b))
            if "exit seen" in at and at["exit seen"] > b:
                out["exit seen"] = ms(bare(b, at["exit seen"]))
        elif method == "cleanup":
            out["teardown"] += ms(bare(a, b))
    if "holder kill" in at and "holder gone" in at:
        out[PARTS[0]] = ms(at["holder gone"] - at["holder kill"])
    if "session dir rm" in at and "session dir gone" in at:
        out[PARTS[1]] = ms(at["session dir gone"] - at["session dir rm"])
    out["other (between calls)"] = out["total"] - sum(v for k, v in out.items()
                                                       if k not in ("total", "other (between calls)") + PARTS)
    return out


STAGE_COLUMNS = []  # (label, {stage: median ms}) of each traced command, for the second table


def stage_breakdown(cmd, runs, env=None):
    """{stage: median ms} over `runs` traced runs of cmd; None when it fails."""
    per = {k: [] for k in STAGES}
    with tempfile.TemporaryDirectory(prefix="nook-trace.") as d:
        for i in range(runs):
            path = os.path.join(d, f"t{i}")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                e = dict(env or os.environ, NOOK_TRACE_FD=str(fd))
                t0 = time.perf_counter_ns()
                r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=e,
                                   pass_fds=(fd,))
                t1 = time.perf_counter_ns()
            finally:
                os.close(fd)
            if r.returncode != 0:
                return None
            with open(path) as f:
                lines = f.read().splitlines()
            first = lines[0].split()[1] if lines else None
            got = stages_of([l for l in lines if l.split()[1] == first], t0, t1)
            if not got:
                return None
            for k in STAGES:
                per[k].append(got[k])
    return {k: statistics.median(v) for k, v in per.items()}


def stage_table(columns):
    """Markdown: one row per stage, one column per traced command (label, {stage: ms})."""
    cols = [(label, st) for label, st in columns if st]
    if not cols:
        return ""
    lines = ["| stage (median ms) | " + " | ".join(label for label, _ in cols) + " |",
             "|---|" + "---|" * len(cols)]
    for k in STAGES:
        lines.append(f"| {k} | " + " | ".join(f"{st[k]:.2f}" for _, st in cols) + " |")
    return "\n".join(lines) + "\n"


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


# --------------------------------------------------------------------------- images
# Images come from tests/images (ocilib, the code behind mkimage.py).  nook and podman import
# the SAME oci-archive; each nook command names its own store (--storage), so the user's
# store is never touched.

IMAGE = "nook-bench"
DRIVERS = ("overlay", "fuse-overlayfs", "copy")


def import_runs(runs):
    return max(1, min(runs, 5))


def io_runs(runs):
    return max(1, min(runs, 3))


def rmtree(path):
    """rm -rf of a tree holding read-only directories (a layer's 0555 /readonly)."""
    for top, dirs, _ in os.walk(path):
        for d in dirs:
            p = os.path.join(top, d)
            if not os.path.islink(p):
                try:
                    os.chmod(p, 0o700)
                except OSError:
                    pass
    shutil.rmtree(path, ignore_errors=True)


def once(cmd, env=None):
    """Wall time in ms of one run; None when the command fails."""
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return None if r.returncode else (time.perf_counter() - t) * 1000


def median(values):
    return None if not values or None in values else statistics.median(values)


NOW_C = r"""#include <stdio.h>
#include <time.h>
int main(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        printf("%lld\n", (long long)t.tv_sec * 1000000000LL + t.tv_nsec);
        return 0;
}
"""


def build_clock(d):
    """A static program printing CLOCK_MONOTONIC in ns, for the I/O script: busybox date has
    no %N.  None when no compiler links statically; the script then reads /proc/uptime
    (10 ms steps)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None
    src, exe = os.path.join(d, "nook-now.c"), os.path.join(d, "nook-now")
    with open(src, "w") as f:
        f.write(NOW_C)
    if sh([cc, "-static", "-O2", "-s", "-o", exe, src]) != 0 or sh([exe]) != 0:
        return None
    return exe


def build_run_image(d, clock):
    """mkimage's 3-layer busybox image, plus a layer with /bin/nook-now when it was built."""
    lay = ocilib.Layout(os.path.join(d, "run-layout"))
    layers, history = [], []
    for i, (_, _, hist) in enumerate(ocilib.STANDARD):
        tar, blob, mt = ocilib.standard_layer(i)
        layers.append({"desc": lay.put(blob, mt), "diff_id": ocilib.sha256(tar)})
        history.append(hist)
    if clock:
        with open(clock, "rb") as f:
            layers.append(lay.put_layer(ocilib.tar_bytes(
                [ocilib.D("bin"), ocilib.F("bin/nook-now", f.read(), 0o755)]), "gzip"))
        history.append("layer 4: the bench clock")
    lay.index([lay.image(layers, history=history)])
    out = os.path.join(d, "run-oci-archive.tar")
    lay.archive(out)
    shutil.rmtree(lay.root, ignore_errors=True)
    return out


def build_big_image(d, mib):
    """oci-archive of mkimage's busybox layer plus one tar+gzip layer of `mib` files of 1 MiB,
    each three quarters pseudo-random (gzip cannot shrink it) and one quarter text: the blob
    is ~0.8 x mib MiB, the layer mib MiB.  Streamed through files: never all in memory."""
    lay = ocilib.Layout(os.path.join(d, "big-layout"))
    tar, blob, mt = ocilib.standard_layer(0)
    base = {"desc": lay.put(blob, mt), "diff_id": ocilib.sha256(tar)}
    rnd = random.Random(ocilib.MTIME)
    text = (b"nook bench: a line of text that gzip can shrink\n" * 6000)[:1 << 18]
    raw, gz = os.path.join(d, "data.tar"), os.path.join(d, "data.tar.gz")
    with tarfile.open(raw, "w", format=tarfile.PAX_FORMAT) as tf:
        tf.addfile(ocilib.D("srv")[0])
        tf.addfile(ocilib.D("srv/data")[0])
        for i in range(mib):
            data = rnd.randbytes(3 << 18) + text
            ti = ocilib.F(f"srv/data/{i:04d}")[0]
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    h = hashlib.sha256()
    with open(raw, "rb") as f, open(gz, "wb") as out, \
            gzip.GzipFile(filename="", mode="wb", compresslevel=6, mtime=0, fileobj=out) as g:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
            g.write(chunk)
    os.unlink(raw)
    layer = {"desc": lay.put_file(gz, ocilib.MT_GZIP), "diff_id": "sha256:" + h.hexdigest()}
    lay.index([lay.image([base, layer], history=["layer 1: busybox base",
                                                 f"layer 2: {mib} MiB of data"])])
    out = os.path.join(d, "big-oci-archive.tar")
    lay.archive(out)
    shutil.rmtree(lay.root, ignore_errors=True)
    return out


class Podman:
    """Rootless podman, `--runtime runc` (runc, not crun: the runtime Debian installs with it),
    in a store of its own under DIR.  With fuse=True (the image rows) the storage driver is
    "overlay" with mount_program fuse-overlayfs: it is what rootless podman uses wherever
    kernel overlay is not allowed in a user namespace, and it is the program behind nook's
    fuse-overlayfs driver, so "nook fuse-overlayfs / podman" compares the runtimes over the
    same filesystem.  With fuse=False (the --rootfs rows) podman chooses its driver as it
    would for the user.  A private store starts empty, leaves the user's own
    (~/.local/share/containers) alone, and goes with close(), podman's pause process too.
    The store is set by a storage.conf named by CONTAINERS_STORAGE_CONF, also placed in a
    private XDG_CONFIG_HOME: podman 4.3 (Debian 12) ignores "graphroot" and "runroot" of that
    file when rootless and takes "rootless_storage_path" instead (the run root then follows
    XDG_RUNTIME_DIR, private too).  HOME is private, so no containers.conf of the user
    applies.  `podman info` must confirm the graph root (and with fuse=True the driver and the
    mount program), else there is no podman column."""

    def __init__(self, d, fuse=True):
        self.d, self.ok, self.why = d, False, ""
        self.bin = shutil.which("podman")
        if not self.bin:
            self.why = "podman is not installed"
            return
        fuse = fuse and (shutil.which("fuse-overlayfs") or "/usr/bin/fuse-overlayfs")
        self.graph = os.path.join(d, "graph")
        home, config, xdg = (os.path.join(d, n) for n in ("home", "config", "xdg"))
        for p in (home, os.path.join(config, "containers"), xdg, self.graph):
            os.makedirs(p, exist_ok=True)
        os.chmod(xdg, 0o700)
        conf = os.path.join(config, "containers", "storage.conf")
        with open(conf, "w") as f:
            f.write(f'[storage]\ngraphroot = "{self.graph}"\nrunroot = "{os.path.join(d, "run")}"\n'
                    f'rootless_storage_path = "{self.graph}"\n')
            if fuse:
                f.write(f'driver = "overlay"\n[storage.options.overlay]\nmount_program = "{fuse}"\n')
        self.env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=config, XDG_RUNTIME_DIR=xdg,
                        XDG_DATA_HOME=os.path.join(home, ".local", "share"),
                        CONTAINERS_STORAGE_CONF=conf)
        r = subprocess.run(self.cmd("info", "--format", "json"), capture_output=True,
                           text=True, env=self.env)
        try:
            store = json.loads(r.stdout)["store"]
        except (ValueError, KeyError, TypeError):
            self.why = "podman info failed: " + (r.stderr.strip().splitlines() or ["?"])[-1]
            return
        if store.get("graphRoot") != self.graph or fuse and (
                store.get("graphDriverName") != "overlay"
                or "fuse-overlayfs" not in json.dumps(store.get("graphOptions"))):
            self.why = f"podman ignored the private storage.conf (graph root {store.get('graphRoot')})"
            return
        self.ok = True

    def cmd(self, *args):
        return [self.bin, "--runtime", "runc"] + list(args)

    def load(self, archive):
        """-> the name podman gave the image, or None."""
        r = subprocess.run(self.cmd("load", "-i", archive), capture_output=True, text=True,
                           env=self.env)
        names = [l.split(":", 1)[1].strip().split(",")[0] for l in r.stdout.splitlines()
                 if l.startswith("Loaded image")]
        return names[-1] if r.returncode == 0 and names else None

    def empty(self):
        sh(self.cmd("rmi", "--all", "--force"), env=self.env)

    def close(self):
        """Remove the store and end podman's pause process; once, even when called again."""
        if not self.bin:
            return
        if self.ok:
            sh(self.cmd("system", "reset", "--force"), env=self.env)
            if os.path.isdir(self.graph):     # files of subordinate ids: removed in podman's userns
                sh(self.cmd("unshare", "rm", "-rf", self.graph), env=self.env)
        # the pause process podman started to keep its user namespace (ours: our XDG_RUNTIME_DIR)
        try:
            with open(os.path.join(self.d, "xdg", "libpod", "tmp", "pause.pid")) as f:
                pid = int(f.read().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if os.path.basename(f.read().split(b"\0")[0]) in (b"podman", b"catatonit"):
                    os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            pass
        self.bin = None
        rmtree(self.d)


# One script for every target (host dir, nook drivers, podman), run by busybox sh: N small
# files written (`echo x > f`: open, write, close) then read (one cat), a big file written
# with dd conv=fsync then read back (both right after writing: the page cache is warm, so
# what is measured is the filesystem stack, not the disk).  Times come from a static clock
# program ($4; /proc/uptime without it), so sandbox start and teardown are not counted.
IO_SCRIPT = r"""
d=$1 n=$2 mib=$3 clock=$4
now() { if [ -x "$clock" ]; then "$clock"; else read u r </proc/uptime; echo "${u%.*}${u#*.}0000000"; fi; }
mkdir -p "$d/small" || exit 1
t0=$(now)
i=0
while [ $i -lt "$n" ]; do echo x >"$d/small/$i" || exit 1; i=$((i + 1)); done
t1=$(now)
cat "$d"/small/* >/dev/null || exit 1
t2=$(now)
dd if=/dev/zero of="$d/big" bs=1M count="$mib" conv=fsync 2>/dev/null || exit 1
t3=$(now)
dd if="$d/big" of=/dev/null bs=1M 2>/dev/null || exit 1
t4=$(now)
echo "io $t0 $t1 $t2 $t3 $t4"
"""

IO_METRICS = (("create", "create {files} small files (ms)"),
              ("read", "read {files} small files (ms)"),
              ("write", "write {io_mib} MiB, fsync (MB/s)"),
              ("readbig", "read {io_mib} MiB back (MB/s)"))


def io_once(cmd, mib, env=None):
    """-> {metric: value} of one run of IO_SCRIPT, or None when it fails."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                       env=env)
    lines = [l.split() for l in r.stdout.splitlines() if l.startswith("io ")]
    if r.returncode or not lines or len(lines[-1]) != 6:
        return None
    t = [int(x) for x in lines[-1][1:]]
    dt = [max(b - a, 1) for a, b in zip(t, t[1:])]          # ns
    size = mib * (1 << 20)
    return {"create": dt[0] / 1e6, "read": dt[1] / 1e6,
            "write": size / (dt[2] / 1e9) / 1e6, "readbig": size / (dt[3] / 1e9) / 1e6}


def image_benchmarks(nook, d, runs, sizes, rows):
    os.makedirs(d, exist_ok=True)
    podman = Podman(os.path.join(d, "podman"))
    if not podman.ok:
        print(f"bench: no podman column for the image rows: {podman.why}", file=sys.stderr)
    try:
        _image_benchmarks(nook, d, runs, sizes, rows, podman)
    finally:
        podman.close()
        rmtree(d)


def _image_benchmarks(nook, d, runs, sizes, rows, podman):
    pod = podman if podman.ok else None
    peer = "podman (fuse-overlayfs)"

    # 1. import of a ~100 MiB image, each run into an empty store: nook a new --storage dir;
    # podman its private store emptied by `rmi --all` (so its database already exists).
    big = build_big_image(d, sizes["import_mib"])
    nook_t, pod_t = [], []
    for i in range(import_runs(runs)):
        store = os.path.join(d, f"import-store-{i}")
        nook_t.append(once([nook, "--storage", store, "image", "import", "--quiet",
                            "--name", IMAGE, big]))
        rmtree(store)
        os.sync()
        if pod:
            pod_t.append(once(pod.cmd("load", "-i", big), pod.env))
            pod.empty()
            os.sync()
    blob_mib = os.path.getsize(big) / (1 << 20)
    rows.append((f"image import, {sizes['import_mib']} MiB layer, {blob_mib:.0f} MiB oci-archive "
                 f"(ms)", median(nook_t), "podman load", median(pod_t) if pod else None, ""))
    os.unlink(big)

    # the run image: mkimage's image (+ the clock), the same oci-archive in both stores
    clock = build_clock(d)
    archive = build_run_image(d, clock)
    store = os.path.join(d, "nook-store")
    nk = [nook, "--storage", store]
    if sh(nk + ["image", "import", "--quiet", "--name", IMAGE, archive]) != 0:
        print("bench: nook image import failed: no nook image rows", file=sys.stderr)
        return
    pimg = pod and pod.load(archive)
    if pod and not pimg:
        print("bench: podman load failed: no podman column for run and I/O", file=sys.stderr)
    run = nk + ["run", "--network", "none"]

    # 2. cold run of /bin/true: a new sandbox from the image each time, after one warm-up
    pod_cold = None
    if pimg:
        pcmd = pod.cmd("run", "--rm", "--network", "none", pimg, "/bin/true")
        sh(pcmd, env=pod.env)
        pod_cold = timed(pcmd, max(5, runs // 3), pod.env)
    for drv in ("auto",) + DRIVERS:
        cmd = run + ["--rootfs-driver", drv, IMAGE, "--", "/bin/true"]
        label = drv
        if drv == "auto":
            label = f"auto = {root_driver(run + ['--rootfs-driver', drv, IMAGE, '--'])}"
        sh(cmd)
        rows.append((f"cold run IMAGE /bin/true, {label} (ms)", timed(cmd, runs), peer,
                     pod_cold, "<= 0.1x podman" if drv in ("auto", "overlay") else ""))
        STAGE_COLUMNS.append((f"cold run IMAGE, {label}", stage_breakdown(cmd, runs)))

    # 3. file I/O inside the sandbox, per driver, against the host directory and podman
    args = ["sh", "-c", IO_SCRIPT, "sh", "/bench", str(sizes["files"]), str(sizes["io_mib"]),
            "/bin/nook-now" if clock else ""]
    hostdir = os.path.join(d, "hostio")
    busybox = shutil.which("busybox") or "/bin/busybox"
    targets = [("host", [busybox] + args[:4] + [hostdir] + args[5:-1] + [clock or ""], None)]
    targets += [(drv, run + ["--rootfs-driver", drv, IMAGE, "--"] + args, None) for drv in DRIVERS]
    if pimg:
        targets.append(("podman", pod.cmd("run", "--rm", "--network", "none", pimg) + args,
                        pod.env))
    got = {name: [] for name, _, _ in targets}
    for _ in range(io_runs(runs)):           # round robin: noise spreads over every target
        for name, cmd, env in targets:
            if name == "host" and not os.access(busybox, os.X_OK):
                got[name].append(None)
                continue
            got[name].append(io_once(cmd, sizes["io_mib"], env))
            if name == "host":
                rmtree(hostdir)
            # the writeback and freeing of the big file just written and deleted: not in the
            # next target's time (copy's root is a tmpfs: its files are in memory, no disk)
            os.sync()

    def med(name, key):
        vals = got.get(name) or [None]
        return None if None in vals else statistics.median(v[key] for v in vals)

    for key, label in IO_METRICS:
        label = label.format(**sizes)
        for drv in DRIVERS:
            rows.append((f"{label}, nook {drv}", med(drv, key), "host dir", med("host", key), ""))
        rows.append((f"{label}, nook fuse-overlayfs", med("fuse-overlayfs", key), peer,
                     med("podman", key) if pimg else None, ""))


def root_driver(cmd):
    """Which driver `auto` chose: the type of the sandbox's / in its mountinfo."""
    out = subprocess.run(cmd + ["cat", "/proc/self/mountinfo"], capture_output=True,
                         text=True).stdout
    fstype = "?"
    for line in out.splitlines():
        left, _, right = line.partition(" - ")
        if len(left.split()) > 4 and left.split()[4] == "/" and right:
            fstype = right.split()[0]
    return {"overlay": "overlay", "fuse.fuse-overlayfs": "fuse-overlayfs",
            "tmpfs": "copy"}.get(fstype, fstype)


def opt(name, default):
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def start_benchmarks(nook, root, runs, env, podman, img, rows):
    """Cold run, warm exec, serve, helper memory, output throughput (the "start" section)."""
    true = ["/bin/true"]
    nook_cold = timed([nook, "run", "--rootfs", root, "--network", "none", "--"] + true, runs, env)
    floor = timed(["unshare", "-Urmpf", "true"], runs)
    bwrap = shutil.which("bwrap") and timed(
        ["bwrap", "--unshare-all", "--ro-bind", root, "/", "--proc", "/proc", "--dev", "/dev"] + true, runs)
    chrun = shutil.which("ch-run") and timed(["ch-run", root, "--"] + true, runs)
    nook_cold_root = timed([nook, "run", "--userns", "root", "--rootfs", root, "--network", "none", "--"] + true,
                           runs, env)
    run_dir = [nook, "run", "--rootfs", root, "--network", "none", "--"] + true
    STAGE_COLUMNS.append(("cold run DIR", stage_breakdown(run_dir, runs, env)))
    STAGE_COLUMNS.append(("cold run --userns root DIR", stage_breakdown(
        [nook, "run", "--userns", "root", "--rootfs", root, "--network", "none", "--"] + true, runs, env)))
    rows.append(("cold run /bin/true (ms)", nook_cold, "bwrap", bwrap or None, "<= 1.0x bwrap"))
    rows.append(("cold run --userns root (ms)", nook_cold_root, "bwrap", bwrap or None, "<= 1.0x bwrap"))
    rows.append(("cold run /bin/true (ms)", nook_cold, "ch-run", chrun or None, ""))
    rows.append(("cold run /bin/true (ms)", nook_cold, "unshare -Urmpf (floor)", floor, ""))

    if img:
        pod_cold = timed(podman.cmd("run", "--rm", "--network", "none", img) + true, max(5, runs // 3),
                         podman.env)
        rows.append(("cold run /bin/true (ms)", nook_cold, "podman --runtime runc", pod_cold, ""))

    # warm: one prepared session, many processes
    name = f"bench-{os.getpid()}"
    sh([nook, "session", "create", "--rootfs", root, "--name", name], env=env)
    nook_warm = timed([nook, "exec", name, "--"] + true, runs, env)
    STAGE_COLUMNS.append(("warm exec", stage_breakdown([nook, "exec", name, "--"] + true, runs, env)))
    rows.append(("warm exec /bin/true (ms)", nook_warm, "unshare -Urmpf (floor)", floor, "<= 2.0x floor"))
    try:
        serve_ms = serve_warm(nook, name, runs, env)
    except Exception:
        traceback.print_exc()
        serve_ms = None
    rows.append(("warm start+wait /bin/true via serve --stdio (ms)", serve_ms, "nook exec", nook_warm,
                 "<= 0.5x nook exec"))
    if img:
        cname = f"nook-bench-{os.getpid()}"
        if sh(podman.cmd("run", "-d", "--name", cname, "--network", "none", img, "sleep", "600"),
              env=podman.env) == 0:
            pod_exec = timed(podman.cmd("exec", cname) + true, max(5, runs // 3), podman.env)
            rows.append(("warm exec /bin/true (ms)", nook_warm, "podman exec", pod_exec, "<= 0.05x podman exec"))
            sh(podman.cmd("rm", "-f", "-t", "0", cname), env=podman.env)

    # memory of an idle session: holder and monitor resident sizes
    sh([nook, "exec", "-d", name, "--", "sleep", "60"], env=env)
    time.sleep(0.3)
    ps = subprocess.run(["ps", "-u", str(os.getuid()), "-o", "pid=,ppid=,comm="], capture_output=True, text=True).stdout
    procs = {p[0]: p for p in (l.split() for l in ps.splitlines()) if len(p) == 3}
    # the holder is a nook-holder whose parent is not nook's; its children are the session's
    # nook-init (pid 1 of the session's pid namespace) and one nook-monitor per process
    ours = ("nook-holder", "nook-init", "nook-monitor")
    holders = [p for p in procs.values() if p[2] == "nook-holder" and procs.get(p[1], ("", "", ""))[2] not in ours]
    holder_rss = monitor_rss = init_rss = None
    for h in holders:
        kids = [p for p in procs.values() if p[1] == h[0]]
        monitors = [p for p in kids if p[2] == "nook-monitor"]
        inits = [p for p in kids if p[2] == "nook-init"]
        if monitors:
            holder_rss, monitor_rss = rss_kb(int(h[0])), rss_kb(int(monitors[0][0]))
            init_rss = rss_kb(int(inits[0][0])) if inits else None
    rows.append(("holder RSS (KiB)", holder_rss, "", None, "<= 1024"))
    rows.append(("session init RSS (KiB)", init_rss, "", None, "<= 1024"))
    rows.append(("monitor RSS (KiB)", monitor_rss, "", None, "<= 1024"))

    # output throughput: 256 MiB through a monitor (capture log) to our stdout, against the
    # same busybox dd writing into a plain pipe (busybox head is itself slow: 130 MB/s)
    size = 256 << 20
    gen = ["dd", "if=/dev/zero", "bs=65536", f"count={size >> 16}"]
    nook_tp = throughput([nook, "exec", name, "--"] + gen, size, env)
    pipe_tp = throughput(["sh", "-c", " ".join(["/bin/busybox"] + gen) + " 2>/dev/null | cat"], size)
    rows.append(("output throughput (MB/s)", nook_tp, "plain pipe", pipe_tp, ">= 0.8x pipe"))
    sh([nook, "session", "rm", name], env=env)


# mask-bench's texts and sets (its "result" lines), as the table names them
MASK_TEXTS = (("random", "random bytes"), ("base64", "base64 text"), ("log", "log-like words"))
MASK_SETS = (("100-random", "100 random-byte secrets"), ("100-tokens", "100 tokens"))


def secrets_benchmarks(nook, quick, rows):
    """The secret masker's capture ratios (the "secrets" section); returns a note for the
    table's footer."""
    build = os.path.dirname(os.path.dirname(os.path.abspath(nook)))
    exe = os.path.join(build, "tests", "mask-bench")
    if not os.access(exe, os.X_OK):
        print(f"bench: {exe} is missing (a build with -Dtests=false?): no secret masking rows",
              file=sys.stderr)
        return ""
    size, repeat = ("64", "3") if quick else ("256", "5")
    r = subprocess.run([exe, "-r", size, repeat], capture_output=True, text=True, timeout=3600)
    print("".join(l + "\n" for l in r.stdout.splitlines() if not l.startswith("result ")), end="")
    results = {}
    for line in r.stdout.splitlines():
        words = line.split()
        if len(words) >= 3 and words[0] == "result":
            results[(words[1], words[2])] = dict(w.split("=", 1) for w in words[3:] if "=" in w)
    if r.returncode != 0 or not results:
        print(f"bench: mask-bench failed (exit {r.returncode}): {r.stderr.strip()[:300]}", file=sys.stderr)
    for how, what in (("masked", "each emit a write"), ("room", "feed_room: one write per read")):
        for key, name in MASK_TEXTS:
            for set_key, set_name in MASK_SETS:
                res = results.get((key, set_key), {})
                masked, raw = (round(float(res[k])) if k in res else None for k in (how, "raw"))
                rows.append((f"capture masked with {set_name}, {name}, {what} (MB/s)", masked,
                             "unmasked capture", raw, ">= 0.8x unmasked"))
    for set_key, set_name in MASK_SETS:
        res = results.get(("-", set_key), {})
        kib = int(res["table_bytes"]) // 1024 if "table_bytes" in res else None
        rows.append((f"masker tables for {set_name} (KiB, mlocked)", kib, "", None, ""))
    return f"secret masking: mask-bench, {size} MiB per text, best of {repeat}"


def secrets_end_to_end(nook, root, runs, env, quick, rows):
    """What a user sees: the output of `nook exec` from a session holding 100 secrets of
    20-64 bytes against one holding none (the same random bytes, through the monitor,
    its capture log and the attached copy), and a cold run with 10 secrets against none."""
    mib = 64 if quick else 256
    data = os.path.join(root, "data.bin")
    with open(data, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
    # capture logs on a tmpfs: on a disk, the writeback of the last run's 256 MiB decides
    # the figure, not the masker
    shm = tempfile.mkdtemp(prefix="nook-bench-run.", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    env = dict(env, NOOK_RUNTIME_DIR=shm)
    senv = dict(env)
    srcs, secs = [], []
    for i in range(100):
        senv[f"NOOK_BENCH_S{i}"] = base64.urlsafe_b64encode(os.urandom(48)).decode()[:20 + (i * 7) % 45]
        srcs += ["--secret-source", f"s{i}=env:NOOK_BENCH_S{i}"]
        secs += ["--secret", f"s{i},type=env,target=S{i}"]
    name = f"bench-sec-{os.getpid()}"
    plain = f"bench-nosec-{os.getpid()}"
    sh([nook] + srcs + ["session", "create", "--name", name, "--network", "none", "--rootfs", root] + secs,
       env=senv)
    sh([nook, "session", "create", "--name", plain, "--network", "none", "--rootfs", root], env=env)
    try:
        best = {name: 0.0, plain: 0.0}
        for _ in range(3 if quick else 5):  # taking turns: load drift hits both
            for s in (plain, name):
                tp = throughput([nook, "exec", s, "--", "cat", "/data.bin"], mib << 20, env) or 0.0
                best[s] = max(best[s], tp)
        rows.append((f"nook exec output, {mib} MiB random bytes, 100 secrets held (MB/s)", round(best[name]),
                     "no secret held", round(best[plain]), ">= 0.8x no secret"))
    finally:
        sh([nook, "session", "rm", name, plain], env=env)
        os.unlink(data)
        shutil.rmtree(shm, ignore_errors=True)
    true = ["/bin/true"]
    base = timed([nook, "run", "--rootfs", root, "--network", "none", "--"] + true, runs, env)
    ten = timed([nook] + srcs[:20] + ["run", "--rootfs", root, "--network", "none"] +
                [a for i in range(10) for a in ("--secret", f"s{i}" + (f",type=env,target=S{i}" if i % 2 else ""))] +
                ["--"] + true, runs, senv)
    rows.append(("cold run /bin/true with 10 secrets (5 files, 5 variables) (ms)", ten, "no secret", base,
                 "<= no secret + 2 ms"))


SECTIONS = ("start", "network", "images", "secrets")


def main():
    nook, out = sys.argv[1], sys.argv[2]
    runs = opt("--runs", 30)
    quick = "--quick" in sys.argv
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    if only not in (None,) + SECTIONS:
        sys.exit(f"bench: --only takes one of: {', '.join(SECTIONS)}")
    sizes = {"io_mib": opt("--io-mib", 128 if quick else 1024),
             "files": opt("--files", 2000 if quick else 10000),
             "import_mib": opt("--import-mib", 20 if quick else 100)}
    tmp = tempfile.mkdtemp(prefix="nook-bench.")
    root = os.path.join(tmp, "root")
    sandboxes = only != "secrets"  # every section but secrets runs peers
    make_rootfs(root)
    env = dict(os.environ)
    rows = []  # (benchmark, nook_ms_or_value, peer name, peer value, unit, target)

    # podman in a store of its own (its choice of driver), removed at the end with its pause
    # process (./dev test fails on a process the test user leaves running)
    podman = Podman(os.path.join(tmp, "podman"), fuse=False) if sandboxes else None
    if podman:
        atexit.register(podman.close)
    img = None
    if podman and podman.ok:
        tar = os.path.join(tmp, "root.tar")
        subprocess.run(["tar", "-C", root, "-cf", tar, "."], check=False)
        r = subprocess.run(podman.cmd("import", tar, "nook-bench"), capture_output=True, text=True,
                           env=podman.env)
        img = "nook-bench" if r.returncode == 0 else None
    if only in (None, "start"):
        start_benchmarks(nook, root, runs, env, podman, img, rows)

    # network (tests/bench/netbench.py): never let a failure here lose the rows above
    net_note = ""
    if only in (None, "network"):
        try:
            import netbench
            net_note = netbench.network_benchmarks(nook, root, runs, podman if podman.ok else None,
                                                   img, rows, quick) or ""
        except Exception:
            traceback.print_exc()
            print("bench: the network benchmarks stopped early (not an error)", file=sys.stderr)
    if podman:
        podman.close()

    # images: never let a failure here lose the rows above
    if only in (None, "images"):
        try:
            image_benchmarks(nook, os.path.join(tmp, "img"), runs, sizes, rows)
        except Exception:
            traceback.print_exc()
            print("bench: the image benchmarks stopped early (not an error)", file=sys.stderr)
    # secret masking: never let a failure here lose the rows above
    mask_note = ""
    if only in (None, "secrets"):
        try:
            mask_note = secrets_benchmarks(nook, quick, rows)
            secrets_end_to_end(nook, root, runs, env, quick, rows)
        except Exception:
            traceback.print_exc()
            print("bench: the secret masking benchmark stopped early (not an error)", file=sys.stderr)
    shutil.rmtree(tmp, ignore_errors=True)

    lines = ["| benchmark | nook | peer | peer value | nook / peer | target |", "|---|---|---|---|---|---|"]
    for bench, mine, peer, theirs, target in rows:
        fmt = lambda v: "-" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))
        ratio = f"{mine / theirs:.2f}" if mine and theirs else "-"
        lines.append(f"| {bench} | {fmt(mine)} | {peer or '-'} | {fmt(theirs)} | {ratio} | {target} |")
    stamp = f"{time.strftime('%Y-%m-%d %H:%M')}; {os.uname().release}; user {os.getuid()}"
    if only == "secrets":
        text = "\n".join(lines) + f"\n\n{mask_note or 'secret masking: no figures'}; {stamp}\n"
    else:
        text = "\n".join(lines) + f"\n\nmedians of {runs} runs (image import {import_runs(runs)}, " \
            f"file I/O {io_runs(runs)}); {stamp}; sizes: {sizes['files']} small files, " \
            f"{sizes['io_mib']} MiB big file, {sizes['import_mib']} MiB import layer" \
            f"{'; network throughput: ' + net_note if net_note else ''}" \
            f"{'; ' + mask_note if mask_note else ''}\n"
    stages = stage_table(STAGE_COLUMNS)
    if stages:
        text += "\nWhere the time goes (NOOK_TRACE_FD, medians of the same number of traced runs; the journal " \
            "and the calls' own work are apart: 'root built' is prepare_rootfs to prepare_environment, " \
            "'teardown' is cleanup):\n\n" + stages
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
