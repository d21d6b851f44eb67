#!/usr/bin/env python3
"""Run every shell example of README.md and docs/*.md as the test user.

usage: doctest.py [--list] [FILE.md...]      (default: README.md and docs/*.md)

The convention (docs/development.md, "Examples in the docs are tested"):

- a fenced block opened with ```sh (or ```bash) holds commands: it is run;
- ```text, ```json, ```console, ... are not commands; a block with no language whose
  lines look like commands (`nook`, `./dev`, `sudo`, `srun`, `$ `) is an error: label it
  ```sh (run) or ```text (a synopsis);
- an HTML comment right before the fence says what is not run, and why:
      <!-- doc-test: not-run: REASON -->              the whole block
      <!-- doc-test: not-run "TEXT": REASON -->       its lines that contain TEXT
  A reason is required; a TEXT that matches no line of the block is an error.

The ```sh blocks of one file are one bash script (`set -euo pipefail`), in order, so
that variables flow from block to block as in the reader's shell. Each script line has
its doc line's number, so a failure names FILE:LINE and the command.

Where the docs use placeholders the fixtures are real: the working directory holds
`rootfs/` (busybox, every applet), `app.tar` (tests/images/mkimage.py's image as
`docker save` writes it, tagged localhost/app:latest), `debian-oci/` (its OCI layout,
tag 12), `rootfs.tar.zst`, `proj/`, `a.conf`, `key.pem`, `env.json`, `task`, and links to
the checkout's `docs/` and `tests/`; HOME is a fresh directory with `rootfs/`, `proj/`,
`data/` and `images/app.tar`; the image store already holds localhost/app and `deb`;
IMAGE stands for localhost/app; TOKEN, CI_TOKEN and API_TOKEN are set; `srun` is
tests/docs/srun (runs the step here); SLURM_TMPDIR and TMPDIR are fresh directories. Each file runs
with its own data dir and run dir (NOOK_RUNTIME_DIR): the sessions it leaves are
removed after it.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("NOOK_SOURCE_ROOT") or os.path.dirname(os.path.dirname(HERE))
TIMEOUT = int(os.environ.get("NOOK_DOCTEST_TIMEOUT", "120"))  # per file

FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([^\s`]*)(.*)$")
DIRECTIVE = re.compile(r"^\s*<!--\s*doc-test:\s*(.*?)\s*-->\s*$")
NOT_RUN = re.compile(r'^not-run(?:\s+"([^"]+)")?\s*:\s*(.*)$')
COMMANDISH = re.compile(r"^\s*(\$ |nook\b|\./dev\b|sudo\b|srun\b)")
RUN_LANGS = {"sh", "bash", "shell"}
# placeholders the docs use for "your image": whole words, outside quotes is enough here
PLACEHOLDERS = {r"\bIMAGE\b": "localhost/app"}


class Block:
    def __init__(self, path, start, lang, lines, directives):
        self.path, self.start, self.lang = path, start, lang
        self.lines = lines            # [(doc line number, text)]
        self.directives = directives  # [(doc line number, text)]


def parse(path):
    """Returns (blocks, errors) of one Markdown file."""
    blocks, errors = [], []
    text = open(path, encoding="utf-8").read().splitlines()
    path = os.path.relpath(path, SRC)
    i = 0
    pending = []      # directives seen just before the next fence
    while i < len(text):
        m = FENCE.match(text[i])
        d = DIRECTIVE.match(text[i])
        if d:
            pending.append((i + 1, d.group(1)))
            i += 1
            continue
        if not m:
            if text[i].strip() and pending:
                errors.append(f"{path}:{pending[0][0]}: a doc-test comment must come right "
                              "before a fenced block")
                pending = []
            i += 1
            continue
        fence, lang = m.group(2), m.group(3).lower()
        start = i + 1
        body = []
        i += 1
        close = re.compile(r"^\s*" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$")
        while i < len(text) and not close.match(text[i]):
            body.append((i + 1, text[i]))
            i += 1
        if i >= len(text):
            errors.append(f"{path}:{start}: unterminated fenced block")
        i += 1
        blocks.append(Block(path, start, lang, body, pending))
        pending = []
    return blocks, errors


def script_of(path, blocks, errors, notes):
    """One bash script: line N is the doc's line N (or blank)."""
    nlines = max([ln for b in blocks for ln, _ in b.lines] + [b.start for b in blocks] + [1]) + 1
    out = [""] * (nlines + 1)
    runnable = 0
    for b in blocks:
        if b.lang == "" and any(COMMANDISH.match(t) for _, t in b.lines):
            errors.append(f"{path}:{b.start}: this block holds commands but has no language: "
                          "say ```sh (the test runs it) or ```text (a synopsis, not run)")
            continue
        skip_all, skip_text = None, []
        for ln, d in b.directives:
            m = NOT_RUN.match(d)
            if not m or not m.group(2).strip():
                errors.append(f"{path}:{ln}: bad doc-test comment '{d}': "
                              'want `not-run: REASON` or `not-run "TEXT": REASON`')
                continue
            if m.group(1) is None:
                skip_all = m.group(2)
            else:
                skip_text.append([m.group(1), m.group(2), ln, False])
        if b.lang not in RUN_LANGS:
            if b.directives:
                errors.append(f"{path}:{b.start}: a doc-test comment on a block that is not ```sh")
            continue
        if skip_all is not None:
            notes.append(f"{path}:{b.start}: not run: {skip_all}")
            continue
        for ln, t in b.lines:
            hit = [s for s in skip_text if s[0] in t]
            if hit:
                for s in hit:
                    s[3] = True
                notes.append(f"{path}:{ln}: not run: {hit[0][1]}")
                continue
            for pat, rep in PLACEHOLDERS.items():
                t = re.sub(pat, rep, t)
            out[ln] = t
            runnable += 1
        for s in skip_text:
            if not s[3]:
                errors.append(f'{path}:{s[2]}: not-run "{s[0]}" matches no line of the block')
    if out[1].strip():
        errors.append(f"{path}:1: a runnable block on line 1")
    doc = path
    out[1] = ("set -euo pipefail; trap 'rc=$?; echo \"doc-test: " + doc +
              ":$LINENO: exit $rc: $BASH_COMMAND\" >&2' ERR; "
              "trap 'echo $LINENO >\"$DOCTEST_LINE\"' DEBUG")
    return "\n".join(out[1:]) + "\n", runnable


def sh(*args, **kw):
    subprocess.run(args, check=True, **kw)


def fixtures(work, img):
    """The files the examples name, in a fresh tree (see the module comment)."""
    home, cwd = f"{work}/home", f"{work}/work"
    for d in (home, cwd, f"{work}/slurm-tmp", f"{work}/tmp", f"{work}/run", f"{home}/images",
              f"{home}/proj", f"{home}/data", f"{cwd}/proj"):
        os.makedirs(d, exist_ok=True)
    os.chmod(f"{work}/run", 0o700)
    for root in (f"{cwd}/rootfs", f"{home}/rootfs"):
        shutil.copytree(img["rootfs"], root, symlinks=True)
    shutil.copy(img["docker"], f"{cwd}/app.tar")
    shutil.copy(img["docker"], f"{home}/images/app.tar")
    shutil.copytree(img["layout"], f"{cwd}/debian-oci", symlinks=True)
    idx = f"{cwd}/debian-oci/index.json"
    with open(idx) as f:
        s = f.read()
    with open(idx, "w") as f:
        f.write(s.replace('"org.opencontainers.image.ref.name":"latest"',
                          '"org.opencontainers.image.ref.name":"12"'))
    shutil.copy(img["zst"], f"{cwd}/rootfs.tar.zst")
    with open(f"{cwd}/proj/Makefile", "w") as f:
        f.write("all:\n\techo built\n")
    with open(f"{cwd}/a.conf", "w") as f:
        f.write("setting = 1\n")
    with open(f"{cwd}/key.pem", "w") as f:
        f.write("-----BEGIN TEST KEY-----\nnot-a-real-key\n-----END TEST KEY-----\n")
    for name, text in (("db-password.txt", "db-secret-1\n"), ("new-token.txt", "api-token-2\n")):
        with open(f"{cwd}/{name}", "w") as f:
            f.write(text)
    # env.json: an environment for `nook call prepare_session < env.json`
    with open(f"{cwd}/env.json", "w") as f:
        f.write('{"environment":{"environment_id":"doc-env-1","spec":{"environment_id":"doc-env-1",'
                '"rootfs":{"rootfs_ref":"doc-root","read_only":false,"writable_layer_ref":null},'
                '"filesystem":{"root":"writable_layer"}}}}\n')
    with open(f"{cwd}/task", "w") as f:
        f.write("#!/bin/sh\necho \"task ran as $(id -u) in $(pwd)\" | tee task.out\n")
    os.chmod(f"{cwd}/task", 0o755)
    for link in ("docs", "tests"):
        os.symlink(f"{SRC}/{link}", f"{cwd}/{link}")
    return home, cwd


def build_image(tmp):
    """mkimage.py's image (tagged localhost/app) and a busybox root directory."""
    out = f"{tmp}/img"
    sh(sys.executable, f"{SRC}/tests/images/mkimage.py", out, "--name", "app",
       stdout=subprocess.DEVNULL)
    root = f"{tmp}/rootfs"
    for d in ("bin", "etc", "proc", "dev", "sys", "tmp", "root", "usr/bin", "work", "src"):
        os.makedirs(f"{root}/{d}", exist_ok=True)
    bb = os.environ.get("NOOK_BUSYBOX", "/bin/busybox")
    shutil.copy(bb, f"{root}/bin/busybox")
    applets = subprocess.run([bb, "--list"], capture_output=True, text=True, check=True).stdout
    for a in applets.split():
        if not os.path.lexists(f"{root}/bin/{a}"):
            os.symlink("busybox", f"{root}/bin/{a}")
    with open(f"{root}/etc/passwd", "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
    with open(f"{root}/etc/group", "w") as f:
        f.write("root:x:0:\n")
    os.chmod(f"{root}/tmp", 0o1777)
    # `make` stands for the reader's build tool: a stand-in that reads the Makefile
    with open(f"{root}/usr/bin/make", "w") as f:
        f.write("#!/bin/sh\n[ -f Makefile ] || { echo 'make: no Makefile' >&2; exit 2; }\n"
                "sed -n 's/^\\t//p' Makefile | sh -e\n")
    os.chmod(f"{root}/usr/bin/make", 0o755)
    zst = f"{tmp}/rootfs.tar.zst"
    sh("sh", "-c", f"gzip -dc '{out}/rootfs.tar.gz' | zstd -q -o '{zst}'")
    return {"rootfs": root, "docker": f"{out}/docker-archive.tar", "layout": f"{out}/layout", "zst": zst}


def run_file(path, script, img, nook, tmp):
    """Runs one file's script; returns a list of failure lines."""
    doc = os.path.relpath(path, SRC)
    work = tempfile.mkdtemp(prefix="doc-", dir=tmp)
    home, cwd = fixtures(work, img)
    bindir = f"{work}/bin"
    os.makedirs(bindir)
    os.symlink(nook, f"{bindir}/nook")
    os.symlink(f"{HERE}/srun", f"{bindir}/srun")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NOOK_", "XDG_", "SLURM_"))}
    env.update({
        "HOME": home, "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "NOOK_RUNTIME_DIR": f"{work}/run", "DOCTEST_LINE": f"{work}/line", "SLURM_TMPDIR": f"{work}/slurm-tmp",
        "TMPDIR": f"{work}/tmp",
        "TOKEN": "doc-token-123456", "CI_TOKEN": "doc-ci-token-123456",
        "API_TOKEN": "doc-api-token-123456", "NOOK_ALIASES": f"doc-root={cwd}/rootfs",
        "NOOK_BUSYBOX": os.environ.get("NOOK_BUSYBOX", "/bin/busybox"),
    })
    for k in ("NOOK_SOURCE_ROOT", "NOOK_BUILD_ROOT"):
        if k in os.environ:
            env[k] = os.environ[k]
    failures = []

    def nook_do(*args, check=True):
        r = subprocess.run([nook, *args], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise RuntimeError(f"fixture: nook {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
        return r.stdout

    # the secrets the examples create (the keyring is the user's, not the file's): those
    # that were not there before are removed after the file
    secrets_before = set(nook_do("secret", "ls", "-q", check=False).split())
    try:
        nook_do("image", "import", "--quiet", f"{cwd}/app.tar")
        nook_do("image", "import", "--quiet", "--name", "deb", f"{cwd}/app.tar")
        sfile = f"{work}/doc.sh"
        with open(sfile, "w") as f:
            f.write(script)
        # output to files, not pipes: a detached process (`nook run -d`) may keep them open
        with open(f"{work}/out", "w") as o, open(f"{work}/err", "w") as e:
            p = subprocess.Popen(["bash", "--noprofile", "--norc", sfile], env=env, cwd=cwd,
                                 stdin=subprocess.DEVNULL, stdout=o, stderr=e, start_new_session=True)
            try:
                rc = p.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)
                p.wait()
                rc = "timeout"
        out, err = (open(f"{work}/{n}", errors="replace").read() for n in ("out", "err"))
        if rc == "timeout":
            line = open(f"{work}/line").read().strip() if os.path.exists(f"{work}/line") else "?"
            err += f"\ndoc-test: {doc}:{line}: no end after {TIMEOUT}s"
        if os.environ.get("NOOK_DOCTEST_VERBOSE"):
            print(f"---- {doc}: output\n{out}---- {doc}: errors\n{err}----", flush=True)
        if rc != 0:
            where = [l for l in err.splitlines() if l.startswith("doc-test: ")]
            failures.append(where[-1][len("doc-test: "):] if where else f"{doc}: exit {rc}")
            tail = (out.splitlines() + err.splitlines())[-12:]
            failures.extend("    | " + l for l in tail)
    except (RuntimeError, subprocess.SubprocessError, OSError) as e:
        failures.append(f"{doc}: {e}")
    finally:
        # what the examples left: their sessions (own run dir: nobody else's)
        ls = subprocess.run([nook, "session", "ls", "--json"], env=env, cwd=cwd,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        try:
            refs = [s.get("name") or s.get("session") or s.get("ref") for s in json.loads(ls.stdout or "[]")]
        except ValueError:
            refs = []
        refs = [r for r in refs if r]
        if refs:
            subprocess.run([nook, "session", "rm", *refs], env=env, cwd=cwd,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        made = set(nook_do("secret", "ls", "-q", check=False).split()) - secrets_before
        if made:
            nook_do("secret", "rm", *sorted(made), check=False)
        subprocess.run(["chmod", "-R", "u+rwX", work], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return failures


def main():
    args = sys.argv[1:]
    listing = "--list" in args
    files = [a for a in args if a != "--list"]
    if not files:
        files = [f"{SRC}/README.md"] + sorted(glob.glob(f"{SRC}/docs/*.md"))
    nook = os.environ.get("NOOK") or shutil.which("nook")
    errors, notes, plans = [], [], []
    for path in files:
        blocks, errs = parse(path)
        errors += errs
        script, n = script_of(os.path.relpath(path, SRC), blocks, errors, notes)
        if n:
            plans.append((path, script, n))
    if listing:
        for p, s, n in plans:
            print(f"{os.path.relpath(p, SRC)}: {n} lines to run")
        for n in notes:
            print(n)
        for e in errors:
            print("ERROR " + e)
        return 1 if errors else 0
    if not nook:
        print("FAIL: NOOK is not set and no nook in PATH", file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="nook-doctest.", dir=os.environ.get("TMPDIR", "/tmp"))
    failures = []
    try:
        img = build_image(tmp)
        for path, script, n in plans:
            f = run_file(path, script, img, nook, tmp)
            print(("ok   " if not f else "FAIL ") + f"{os.path.relpath(path, SRC)} ({n} lines)", flush=True)
            failures += f
    finally:
        subprocess.run(["chmod", "-R", "u+rwX", tmp], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    for n in notes:
        print(n)
    for e in errors:
        print("FAIL: " + e)
    for f in failures:
        print(("FAIL: " if not f.startswith("    ") else "") + f)
    return 1 if errors or failures else 0


if __name__ == "__main__":
    sys.exit(main())
