#!/usr/bin/env python3
"""Write the seed corpora and dictionaries of nook's fuzz targets.

usage: mkseeds.py [--samples DIR]

Writes tests/fuzz/corpus/<target>/seed-* and tests/fuzz/dict/<target>.dict (the
committed files; run it again after changing a target's input format). --samples is the
contract samples dir (default ../shared/contract-samples next to the checkout): the
codec and journal seeds are its requests and responses, compacted. Inputs that fuzzing
found are kept next to the seeds under their SHA-1 names (./dev fuzz TARGET --merge);
this script leaves those alone. The input format of each target is described at the top
of its fuzz-<target>.c.
"""
import argparse
import gzip
import json
import os
import re
import sys
import tarfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "images"))
from ocilib import (BLK, CHR, D, F, FIFO, HARD, SYM, compress, oci_arch,  # noqa: E402
                    tar_bytes)

# nook_method order of src/core/codec.h
METHODS = ["runtime_ref", "capability_report", "prepare_session", "resolve_image", "prepare_rootfs",
           "resolve_mounts", "configure_network", "prepare_secrets", "prepare_environment", "start_process",
           "stream_io", "signal_process", "collect_stats", "cleanup", "detach", "reclaim", "read_content"]


def compact(path):
    return json.dumps(json.load(open(path)), separators=(",", ":")).encode()


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for old in os.listdir(d):
        if old == "seed-" + name:
            os.remove(os.path.join(d, old))
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def clear_seeds(target):
    d = os.path.join(HERE, "corpus", target)
    if os.path.isdir(d):
        for old in os.listdir(d):
            if old.startswith("seed-"):
                os.remove(os.path.join(d, old))


def dict_escape(tok):
    out = ""
    for b in tok.encode() if isinstance(tok, str) else tok:
        c = chr(b)
        out += "\\" + c if c in '"\\' else c if 0x20 <= b < 0x7f else "\\x%02x" % b
    return '"' + out + '"'


def write_dict(target, tokens):
    os.makedirs(os.path.join(HERE, "dict"), exist_ok=True)
    seen, lines = set(), [f"# {target}: tokens for libFuzzer -dict (written by mkseeds.py)"]
    for t in tokens:
        if t and t not in seen:
            seen.add(t)
            lines.append(dict_escape(t))
    with open(os.path.join(HERE, "dict", target + ".dict"), "w") as f:
        f.write("\n".join(lines) + "\n")


def method_of(filename):
    return filename.split(".")[0]


# --------------------------------------------------------------------------- codec, journal

def contract_tokens():
    src = open(os.path.join(TOP, "src", "core", "contract.c")).read()
    words = sorted(set(re.findall(r'"([a-z][a-z0-9_]*)"', src)))
    return ['"%s":' % w for w in words] + ['"%s"' % w for w in words] + \
        ["{", "}", "[", "]", ":", ",", "null", "true", "false", "\"sha256:", "\\u0000", "1e999", "-1",
         "18446744073709551616", "\"\"", "{\"nook\":{"]


def codec_seeds(samples):
    clear_seeds("codec")
    for kind, flag in (("requests", 0), ("responses", 0x80)):
        for f in sorted(os.listdir(os.path.join(samples, kind))):
            m = method_of(f)
            path = os.path.join(samples, kind, f)
            write("codec", f"{kind[:-1]}-{f[:-5]}", bytes([METHODS.index(m) | flag]) + compact(path))
    # what the CLI and the tests send: nook's own extension objects, read_content
    ext = {
        "prepare_session-nook": ("prepare_session", {
            "environment": {"environment_id": "env.fuzz", "spec": {
                "resources": {"cpus": 1.5, "memory_mb": 512, "timeout_ms": 60000, "process_count": 64},
                "filesystem": {"root": "writable_layer", "mounts": [
                    {"mount_ref": "v0", "source_alias": "v0", "destination_path": "/data", "mode": "read_only"},
                    {"mount_ref": "t0", "destination_path": "/scratch", "mode": "writable",
                     "nook": {"type": "tmpfs", "options": "size=1048576,mode=1777"}}],
                    "workspace": {"workspace_ref": "ws", "mode": "snapshot", "destination_path": "/workspace"},
                    "single_file_mount_expansion": "deny_single_file"}}},
            "nook": {"identity": "keep-id", "network": "none", "hostname": "h", "name": "n",
                     "owned_by_caller": True}}),
        "prepare_rootfs-nook": ("prepare_rootfs", {
            "rootfs": {"rootfs_ref": "nook-rootfs", "read_only": False, "writable_layer_ref": "up"},
            "environment_id": "env.fuzz", "nook": {"rootfs_rw": False, "driver": "auto"}}),
        "start_process-nook": ("start_process", {
            "environment": {"environment_id": "env.fuzz", "spec": {}},
            "process": {"process_id": "p1", "argv": ["sh", "-c", "true"], "cwd": "/", "user": "1:1",
                        "terminal_mode": "pty", "timeout_ms": 1000, "env_values": {"A": "b", "SECRET": "x"},
                        "nook": {"stdin_open": True, "tty_rows": 24, "tty_cols": 80,
                                 "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                                     {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]}}},
            "effect_intent": {"effect_id": "e1"}}),
        "read_content": ("read_content", {"content_ref": "c-1", "max_bytes": 1024}),
    }
    for name, (m, obj) in ext.items():
        write("codec", "request-" + name, bytes([METHODS.index(m)]) + json.dumps(obj, separators=(",", ":")).encode())
    write_dict("codec", contract_tokens())
    return ext


def journal_seeds(samples, ext):
    clear_seeds("journal")
    req = os.path.join(samples, "requests")

    def step(m, obj=None, f=None):
        if obj is None:
            obj = json.load(open(os.path.join(req, f or m + ".json")))
        return bytes([METHODS.index(m)]) + json.dumps(obj, separators=(",", ":")).encode()

    sep = b"\n#step#\n"
    life = ["prepare_session", "configure_network", "prepare_environment", "start_process", "detach"]
    write("journal", "lifecycle", sep.join(step(m) for m in life))
    write("journal", "secrets", sep.join([step("prepare_session", {"environment": json.load(open(
        os.path.join(req, "prepare_secrets.json")))["environment"]}), step("prepare_secrets")]))
    write("journal", "samples-as-written", sep.join(
        bytes([METHODS.index(m)]) + compact(os.path.join(req, m + ".json")) for m in ("prepare_session", "cleanup")))
    write("journal", "cleanup", sep.join([step("prepare_session"), step("cleanup"), step("prepare_session")]))
    write("journal", "nook-ext", sep.join([step(ext["prepare_session-nook"][0], ext["prepare_session-nook"][1]),
                                          step("start_process", ext["start_process-nook"][1])]))
    for status in range(4):  # the row's status and result rewritten, its hash kept
        tamper = b"\xff" + bytes([status, 0]) + b'"fake-session-9"'
        write("journal", f"tampered-{status}", sep.join([step("prepare_session"), tamper, step("prepare_session")]))
    tamper = b"\xff\x00\x00\x1fsha256:00\x1fboot\x1f1"  # intent of pid 1 in another boot, another hash
    write("journal", "tampered-owner", sep.join([step("prepare_session"), tamper, step("prepare_session")]))
    write("journal", "explicit-key", sep.join([step("resolve_image"), step("resolve_image")]))
    write("journal", "mounts-rootfs", sep.join([step("prepare_session"), step("prepare_rootfs"),
                                               step("resolve_mounts"), step("prepare_environment")]))
    write_dict("journal", contract_tokens() + ["\n#step#\n", "\xff", "\x1f", "done", "failed", "intent"])


# --------------------------------------------------------------------------- layer

def trimmed(entries):
    """A tar without libarchive's 10 KiB record padding (two zero blocks end it)."""
    data = tar_bytes(entries)
    end = len(data)
    while end >= 512 and data[end - 512:end] == bytes(512):
        end -= 512
    return data[:end] + bytes(1024)


def layer_seeds():
    clear_seeds("layer")
    cases = {
        "basic": [D("etc"), F("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"), SYM("etc/link", "passwd"),
                  HARD("etc/hard", "etc/passwd"), FIFO("etc/fifo"), D("home/u", 0o750, 1000, 1000),
                  F("home/u/f", b"x", 0o4755, 1000, 1000)],
        "whiteouts": [D("a"), F("a/.wh.gone"), F("a/.wh..wh..opq"), D("b"), F("b/x"), F("b/.wh.x"),
                      F(".wh.c"), D("c")],
        "traversal": [F("../../escape", b"x"), F("/abs", b"x"), F("/proc/self/cwd/../sentinel/evil", b"x"),
                      F("a/../../b", b"x"), D("./."), F("././c", b"x")],
        "symlink-parent": [SYM("link", "/proc/self/cwd/../sentinel"), F("link/evil", b"x")],
        "symlink-parent-up": [SYM("up", "../../.."), F("up/evil", b"x")],
        "hardlink-out": [HARD("h1", "../sentinel/keep")],
        "hardlink-out-abs": [HARD("h2", "/proc/self/cwd/../sentinel/keep")],
        "hardlink-in": [F("t", b"x"), HARD("h3", "t"), D("d"), HARD("d/h", "/t"), HARD("h5", ".")],
        "hardlink-symlink": [SYM("s", "/proc/self/cwd/../sentinel/keep"), HARD("h4", "s")],
        "devices-xattrs": [CHR("dev/null", 1, 3), BLK("dev/sda", 8, 0), CHR("wh", 0, 0),
                           F("x", b"x", xattrs={"user.ok": "1", "user.overlay.opaque": "y",
                                                "user.containers.override_stat": "0:0:04755",
                                                "trusted.overlay.opaque": "y", "security.capability": b"\x01"})],
        "modes": [D("closed", 0o000), F("closed/f", b"x"), D("ro", 0o555), D("ro/sub", 0o500), F("ro/sub/g"),
                  D("closed"), D("ro", 0o700)],
        "replace": [D("x"), F("x/y"), F("x", b"now a file"), SYM("y", "x"), D("y"), F(".wh.y")],
        "root": [D("."), D("/", 0o700, 5, 5), F("f")],
        "longname": [F("d/" + "n" * 200 + "/" + "m" * 120, b"x"), SYM("l" * 150, "t" * 300)],
    }
    for name, entries in cases.items():
        write("layer", name, trimmed(entries))
    basic = tar_bytes(cases["basic"])
    write("layer", "basic.gz", gzip.compress(basic, mtime=0))
    zst, mt = compress(basic, "zstd")
    if mt.endswith("zstd"):
        write("layer", "basic.zst", zst)
    write("layer", "empty", b"")
    write_dict("layer", ["ustar\x0000", "ustar  \x00", "../", "/proc/self/cwd/../sentinel/", "sentinel/keep", ".wh.",
                         ".wh..wh..opq", "user.overlay.opaque", "user.containers.override_stat", "SCHILY.xattr.",
                         "SCHILY.xattr.user.", " path=", " linkpath=", "GNU.sparse.", "././@LongLink", "0000755",
                         "0004755", "0000000", "\x00" * 8])


# --------------------------------------------------------------------------- oci

def oci_seeds():
    clear_seeds("oci")
    arch = oci_arch()
    sep = b"\n=====\n"
    layer = trimmed([D("bin"), F("bin/sh", b"#!", 0o755), SYM("bin/ls", "sh"), D("etc"), F("etc/passwd", b"r\n")])
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "@MANIFEST@", "size": 0,
        "annotations": {"org.opencontainers.image.ref.name": "docker.io/library/busybox:1"},
        "platform": {"architecture": arch, "os": "linux"}}]}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "@CONFIG@", "size": 0},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "@LAYER@", "size": 0}]}
    config = {"architecture": arch, "os": "linux",
              "config": {"Env": ["PATH=/bin"], "Entrypoint": ["/bin/sh"], "Cmd": ["-c", "true"],
                         "WorkingDir": "/w", "User": "1:1"},
              "rootfs": {"type": "layers", "diff_ids": ["@LAYER@"]}}

    def j(o):
        t = json.dumps(o, separators=(",", ":"))
        for name in ("MANIFEST", "CONFIG", "LAYER"):
            t = t.replace('"digest":"@%s@","size":0' % name, '"digest":"@%s@","size":@%sSIZE@' % (name, name))
        return t.encode()

    def seed(name, mode, idx, man=j(manifest), cfg=j(config), lay=layer, extra=None):
        parts = [bytes([mode]) + idx, man, cfg, lay] + ([extra] if extra is not None else [])
        write("oci", name, sep.join(parts))

    for mode, name in ((0, "layout"), (1, "oci-archive")):
        seed(name, mode, j(index))
    seed("layout-tag", 0x04, j(index), extra=b"1")
    seed("layout-digest", 0x04, j(index), extra=b"@@MANIFEST@")
    seed("named", 0x09, j(index), extra=b"my/image:v2")
    docker = [{"Config": "config.json", "RepoTags": ["busybox:1", "other:2"], "Layers": ["layer.tar"]}]
    seed("docker-archive", 2, json.dumps(docker).encode())
    seed("rootfs-tar", 3, b"", b"", b"", gzip.compress(layer, mtime=0))
    nested = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json",
                                                 "digest": "@MANIFEST@", "size": 0}]}
    inner = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                "digest": "@CONFIG@", "size": 0,
                                                "platform": {"architecture": arch, "os": "linux"}}]}
    inner_manifest = dict(manifest, config={"mediaType": "application/vnd.oci.image.config.v1+json",
                                            "digest": "@LAYER@", "size": 0}, layers=[])
    seed("nested-index", 0, j(nested), j(inner), j(inner_manifest), j(config).replace(b"@LAYER@", b"sha256:" + b"0" * 64))
    write_dict("oci", ["@LAYER@", "@CONFIG@", "@MANIFEST@", "@LAYERSIZE@", "@CONFIGSIZE@", "@MANIFESTSIZE@",
                       "\n=====\n", "\"mediaType\":", "\"digest\":", "\"size\":", "\"manifests\":", "\"layers\":",
                       "\"config\":", "\"annotations\":", "\"platform\":", "\"architecture\":", "\"os\":",
                       "\"org.opencontainers.image.ref.name\":", "\"Config\":", "\"RepoTags\":", "\"Layers\":",
                       "\"rootfs\":", "\"diff_ids\":", "\"Env\":", "\"Entrypoint\":", "\"Cmd\":", "\"WorkingDir\":",
                       "\"User\":", "application/vnd.oci.image.manifest.v1+json",
                       "application/vnd.oci.image.index.v1+json",
                       "application/vnd.docker.distribution.manifest.v2+json",
                       "application/vnd.docker.distribution.manifest.list.v2+json",
                       "application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.oci.image.layer.v1.tar+zstd",
                       "application/vnd.docker.image.rootfs.diff.tar.gzip", "sha256:", arch, "linux", "latest",
                       "../", "blobs/sha256/", "index.json", "manifest.json"])


# --------------------------------------------------------------------------- session

STATE = """environment_id=env.samples.main
name=web
identity=1
uid=1000
gid=1000
inner_uid=0
inner_gid=0
subid_count=65536
own_netns=1
holder_pid=4242
holder_start=123456
owner_pid=0
owner_start=0
detached=0
ticket=
rootfs=/home/u/root
rootfs_rw=0
read_only=0
prepared=1
hostname=nook
notes=no cgroup delegation: limits by rlimit
mounts=/data bind ro (v0, audit: /srv/data); /scratch tmpfs rw (t0, audit: size=1m)
workspace=/workspace
created_ms=1700000000000
image=
image_store=
driver=
driver_reason=
upper=
keep_upper=0
owners_collapsed=0
"""

EXIT = "exit_code=0\nsignal=0\ntimed_out=0\nkilled_by=\ncpu_ms=12\nmaxrss=1024\nfinished_ms=1700000000001\n" \
       "exec_failed=\nerrno=0\n"


def session_seeds():
    clear_seeds("session")
    write("session", "state", b"\x00" + STATE.encode())
    write("session", "state-image", b"\x00" + STATE.replace("image=\n", "image=sha256:" + "a" * 64 + "\n")
          .replace("driver=\n", "driver=overlay\n").encode())
    write("session", "exit", b"\x00environment_id=e\n" + EXIT.encode())
    fields = ["env.samples.main", "web", "", "/home/u/root", "nook", "notes", "/data bind ro (v0, audit: x)",
              "/workspace", "", "", "", "", ""]
    write("session", "fields", b"\x01" + "\x1f".join(fields).encode() + b"\x1f" + bytes(range(1, 97)))
    write_dict("session", [k + "=" for k in re.findall(r"^(\w+)=", STATE + EXIT, re.M)] + ["\x1f", "\n", "="])


# --------------------------------------------------------------------------- cli

CLI_OPTS = ["v", "tmpfs", "mount", "workspace", "workspace-dest", "deny-single-file", "name", "rootfs", "rootfs-rw",
            "rootfs-driver", "keep-upper", "read-only", "network", "hostname", "userns", "memory", "pids-limit",
            "cpus", "e", "env-file", "w", "u", "timeout", "security-opt", "argv", "seccomp-file", "image", "i", "t"]


def cli_seeds():
    clear_seeds("cli")

    def seed(name, *opts):
        write("cli", name, b"\x1e".join(bytes([CLI_OPTS.index(o)]) + v.encode() for o, v in opts))

    seed("volumes", ("v", "/tmp:/data:ro"), ("v", "alias:/a/"), ("v", "/:/host:rw"), ("tmpfs", "/t:size=1m"),
         ("argv", "ls"), ("argv", "-l"))
    seed("mounts", ("mount", "type=bind,src=/tmp,dst=/m,readonly"),
         ("mount", "type=tmpfs,dst=/x,tmpfs-size=1m,tmpfs-mode=1777"), ("mount", "type=bind,source=~/,target=/h"))
    seed("workspace", ("workspace", "/tmp:ro"), ("workspace-dest", "/w"), ("deny-single-file", ""))
    seed("workspace-scratch", ("workspace", "scratch"))
    seed("env", ("e", "A=b"), ("e", "PATH"), ("env-file", "A=1\n# c\n\nB=two words\r\nC\n"), ("e", "A=again"))
    seed("limits", ("memory", "512m"), ("cpus", "1.5"), ("pids-limit", "10"), ("timeout", "1h30m"),
         ("name", "web-1"), ("hostname", "h.example"), ("network", "host"), ("userns", "keep-id"),
         ("read-only", ""), ("w", "/srv"), ("u", "1000:1000"), ("i", ""), ("t", ""))
    seed("rootfs", ("rootfs", "/"), ("rootfs-rw", ""), ("v", "./:/cwd"))
    seed("image", ("image", "busybox:1"), ("rootfs-driver", "copy"), ("keep-upper", "up"))
    seed("seccomp", ("seccomp-file", '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[]}'),
         ("security-opt", "no-new-privileges"))
    seed("seccomp-unconfined", ("security-opt", "seccomp=unconfined"))
    write_dict("cli", ["\x1e", ":ro", ":rw", ":", ",", "=", "type=bind", "type=tmpfs", "src=", "source=", "dst=",
                       "destination=", "target=", "readonly", "ro=", "tmpfs-size=", "tmpfs-mode=", "seccomp=",
                       "unconfined", "no-new-privileges", "~/", "./", "../", "/tmp", "scratch", "snapshot",
                       "live_writable", "nook-rootfs", "nook-workspace", "v0", "t0", "ms", "h", "m", "g", "\"",
                       "\\", "\\u0000", "{\"defaultAction\":"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", default=os.path.join(os.path.dirname(TOP), "shared", "contract-samples"))
    a = ap.parse_args()
    if not os.path.isdir(os.path.join(a.samples, "requests")):
        sys.exit(f"mkseeds.py: no contract samples in {a.samples} (give --samples DIR)")
    ext = codec_seeds(a.samples)
    journal_seeds(a.samples, ext)
    layer_seeds()
    oci_seeds()
    session_seeds()
    cli_seeds()


if __name__ == "__main__":
    main()
