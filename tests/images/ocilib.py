"""Shared writer code for nook's OCI test images (used by mkimage.py and forge.py).

Python 3 standard library only, plus the `zstd` command when it is installed.
Everything runs unprivileged: ownership, modes, devices and xattrs exist only in tar
headers (tarfile.TarInfo), never on disk. Output is deterministic: fixed mtimes, fixed
entry order, canonical JSON, gzip without a timestamp.
"""
import gzip
import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import tarfile

MTIME = 1700000000                     # every tar entry
CREATED = "2023-11-14T22:13:20Z"       # the same instant, for config/history
BUSYBOX = os.environ.get("NOOK_BUSYBOX", "/bin/busybox")   # Debian's busybox-static

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_TAR = "application/vnd.oci.image.layer.v1.tar"
MT_GZIP = MT_TAR + "+gzip"
MT_ZSTD = MT_TAR + "+zstd"
REF_NAME = "org.opencontainers.image.ref.name"

UNAMES = {0: "root", 1: "daemon", 8: "mail", 1000: "user", 65534: "nobody"}
GNAMES = {0: "root", 1: "daemon", 5: "tty", 8: "mail", 42: "shadow", 1000: "user",
          65534: "nogroup"}

APPLETS = ("sh ls cat stat id touch echo env pwd mkdir rm ln sleep true false test grep "
           "head wc readlink mkfifo dd sync chown chmod whoami find cp mv printf tr cut "
           "sed awk kill ps uname hostname xargs sort").split()


def oci_arch(machine=None):
    """OCI architecture name of this machine (or of a uname -m string)."""
    m = machine or platform.machine()
    return {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
            "armv7l": "arm", "armv6l": "arm", "i386": "386", "i686": "386",
            "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64",
            "loongarch64": "loong64", "mips64": "mips64le"}.get(m, m)


# --------------------------------------------------------------------------- tar entries
# An entry is (TarInfo, bytes); data is only used for regular files.

def entry(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, uid=0, gid=0, link="",
          xattrs=None, dev=(0, 0)):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.uid, ti.gid, ti.linkname = kind, mode, uid, gid, link
    ti.uname, ti.gname = UNAMES.get(uid, ""), GNAMES.get(gid, "")
    ti.mtime = MTIME
    ti.size = len(data) if kind == tarfile.REGTYPE else 0
    ti.devmajor, ti.devminor = dev
    for k, v in (xattrs or {}).items():
        # binary values travel as surrogate-escaped str; tarfile then writes hdrcharset=BINARY
        ti.pax_headers["SCHILY.xattr." + k] = (v.decode("utf-8", "surrogateescape")
                                               if isinstance(v, bytes) else v)
    return ti, data


def D(name, mode=0o755, uid=0, gid=0, **kw):
    return entry(name, tarfile.DIRTYPE, mode=mode, uid=uid, gid=gid, **kw)


def F(name, data=b"", mode=0o644, uid=0, gid=0, **kw):
    return entry(name, tarfile.REGTYPE, data, mode, uid, gid, **kw)


def SYM(name, target):
    return entry(name, tarfile.SYMTYPE, mode=0o777, link=target)


def HARD(name, target):
    return entry(name, tarfile.LNKTYPE, link=target)


def FIFO(name, mode=0o644):
    return entry(name, tarfile.FIFOTYPE, mode=mode)


def CHR(name, major, minor, mode=0o666):
    return entry(name, tarfile.CHRTYPE, mode=mode, dev=(major, minor))


def BLK(name, major, minor, mode=0o660):
    return entry(name, tarfile.BLKTYPE, mode=mode, dev=(major, minor))


def parts(name):
    return tuple(p for p in name.split("/") if p not in ("", "."))


def ordered(entries):
    """Sorted by path components (parents first); hardlinks last so targets precede them."""
    return sorted(entries, key=lambda e: (e[0].type == tarfile.LNKTYPE, parts(e[0].name)))


def write_tar(out, entries):
    """Write entries to a path or binary file object, PAX format, in the given order.
    data may also be a str: the path of a file on disk, streamed (for big blobs)."""
    with tarfile.open(out if isinstance(out, str) else None, "w",
                      fileobj=None if isinstance(out, str) else out,
                      format=tarfile.PAX_FORMAT, encoding="utf-8") as tf:
        for ti, data in entries:
            if isinstance(data, str):
                with open(data, "rb") as f:
                    tf.addfile(ti, f)
            else:
                tf.addfile(ti, io.BytesIO(data) if ti.isreg() else None)


def tar_bytes(entries):
    buf = io.BytesIO()
    write_tar(buf, entries)
    return buf.getvalue()


# --------------------------------------------------------------------------- compression

def have_zstd():
    return shutil.which("zstd") is not None


def compress(data, how):
    """how: 'gzip' | 'zstd' | None -> (blob bytes, media type). zstd falls back to gzip."""
    if how == "zstd" and have_zstd():
        out = subprocess.run(["zstd", "-q", "-c", "-3", "--single-thread"], input=data,
                             stdout=subprocess.PIPE, check=True).stdout
        return out, MT_ZSTD
    if how in ("gzip", "zstd"):
        return gzip.compress(data, compresslevel=6, mtime=0), MT_GZIP
    return data, MT_TAR


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canon_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


# --------------------------------------------------------------------------- the image

def _base_dirs():
    d = {n: D(n) for n in ("bin sbin usr usr/bin etc var tmp var/mail home home/user opt "
                           "opt/opaque srv srv/work readonly dev proc sys root").split()}
    d["tmp"] = D("tmp", 0o1777)
    d["var/mail"] = D("var/mail", 0o2775, 0, 8)
    d["readonly"] = D("readonly", 0o555)
    d["home/user"] = D("home/user", 0o750, 1000, 1000)
    d["root"] = D("root", 0o700)
    return d


PASSWD = b"""root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
mail:x:8:8:mail:/var/mail:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
user:x:1000:1000:user:/home/user:/bin/sh
"""
GROUP = b"""root:x:0:
daemon:x:1:
tty:x:5:
mail:x:8:
shadow:x:42:
user:x:1000:
nogroup:x:65534:
"""


def layer1():
    """Base layer: busybox, users, special owners/modes/types (see README.md)."""
    with open(BUSYBOX, "rb") as f:
        bb = f.read()
    e = list(_base_dirs().values())
    e += [F("bin/busybox", bb, 0o755)] + [SYM("bin/" + a, "busybox") for a in APPLETS]
    e += [F("etc/passwd", PASSWD), F("etc/group", GROUP),
          F("etc/shadow", b"root:*:19000:0:99999:7:::\n", 0o640, 0, 42),
          F("etc/removed-later", b"whited out by layer 2\n"),
          F("usr/bin/passwd", b"#!/bin/sh\necho passwd\n", 0o4755),
          F("usr/bin/wall", b"#!/bin/sh\necho wall\n", 0o2755, 0, 5),
          F("readonly/file", b"read only\n", 0o444),
          F("opt/opaque/a", b"a\n"), F("opt/opaque/b", b"b\n"),
          F("srv/owned-42", b"42\n", 0o600, 42, 42),
          F("srv/owned-1000", b"1000\n", 0o644, 1000, 1000),
          F("srv/owned-65534", b"65534\n", 0o644, 65534, 65534),
          D("srv/dir-2750", 0o2750, 0, 42), F("srv/dir-2750/file", b"in 2750\n", 0o640, 0, 42),
          FIFO("srv/fifo"), CHR("dev/evil-null", 1, 3),
          F("srv/xattr-file", b"xattr\n", xattrs={"user.nook-test": "kept"})]
    return ordered(e)


def _with_parents(entries):
    """Add the parent directories of each entry, with layer 1's metadata (as docker does)."""
    dirs, have = _base_dirs(), {parts(ti.name) for ti, _ in entries}
    extra = {}
    for ti, _ in entries:
        p = parts(ti.name)
        for i in range(1, len(p)):
            if p[:i] not in have:
                extra[p[:i]] = dirs["/".join(p[:i])]
    return ordered(entries + list(extra.values()))


def layer2():
    return _with_parents([
        F("etc/.wh.removed-later"),
        F("opt/opaque/.wh..wh..opq"), F("opt/opaque/c", b"c\n"),
        F("etc/motd", b"layer2 motd\n"), HARD("bin/hardlink-to-motd", "etc/motd"),
        SYM("srv/link-to-shadow", "/etc/shadow"), SYM("srv/rel-link", "owned-1000"),
        F("srv/work/from-layer2", b"layer2\n")])


def layer3():
    return _with_parents([F("etc/motd", b"layer3 motd\n"), F("srv/layer3", b"3\n")])


STANDARD = ((layer1, "gzip", "layer 1: busybox base"),
            (layer2, "zstd", "layer 2: whiteout, opaque dir, hardlink, symlinks"),
            (layer3, None, "layer 3: replaces /etc/motd"))

_cache = {}


def standard_layer(i):
    """(uncompressed tar, blob bytes, media type) of standard layer i (0..2), cached."""
    if i not in _cache:
        fn, how, _ = STANDARD[i]
        tar = tar_bytes(fn())
        _cache[i] = (tar,) + compress(tar, how)
    return _cache[i]


# --------------------------------------------------------------------------- layout

class Layout:
    """An OCI image layout directory being written."""

    def __init__(self, root):
        self.root = root
        os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(root, "oci-layout"), "wb") as f:
            f.write(canon_json({"imageLayoutVersion": "1.0.0"}))

    def path(self, digest):
        algo, hexd = digest.split(":", 1)
        return os.path.join(self.root, "blobs", algo, hexd)

    def put(self, data, media_type):
        desc = {"mediaType": media_type, "digest": sha256(data), "size": len(data)}
        with open(self.path(desc["digest"]), "wb") as f:
            f.write(data)
        return desc

    def put_file(self, src, media_type):
        """Move a file into the blob store (hashing it in chunks)."""
        h, size = hashlib.sha256(), 0
        with open(src, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
                size += len(chunk)
        desc = {"mediaType": media_type, "digest": "sha256:" + h.hexdigest(), "size": size}
        os.replace(src, self.path(desc["digest"]))
        return desc

    def put_layer(self, tar, how=None):
        """-> layer record {desc, diff_id} for an uncompressed tar (bytes)."""
        blob, mt = compress(tar, how)
        return {"desc": self.put(blob, mt), "diff_id": sha256(tar)}

    def image(self, layers, arch=None, user=None, history=None, mutate=None, os_="linux"):
        """Write config and manifest for layer records; -> index descriptor (not yet indexed).
        mutate(manifest) may corrupt the manifest before it is serialized."""
        arch = arch or oci_arch()
        cfg = {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "NOOK_IMAGE_ENV=from-image"],
               "Cmd": ["/bin/sh", "-c", "echo hello-from-cmd"], "WorkingDir": "/srv/work"}
        if user is not None:
            cfg["User"] = user
        config = {"created": CREATED, "architecture": arch, "os": os_, "config": cfg,
                  "rootfs": {"type": "layers", "diff_ids": [l["diff_id"] for l in layers]},
                  "history": [{"created": CREATED, "created_by": h}
                              for h in (history or ["layer"] * len(layers))]}
        cdesc = self.put(canon_json(config), MT_CONFIG)
        manifest = {"schemaVersion": 2, "mediaType": MT_MANIFEST, "config": cdesc,
                    "layers": [dict(l["desc"]) for l in layers]}
        if mutate:
            mutate(manifest)
        mdesc = self.put(canon_json(manifest), MT_MANIFEST)
        mdesc["annotations"] = {REF_NAME: "latest"}
        mdesc["platform"] = {"architecture": arch, "os": os_}
        return mdesc

    def index(self, manifests):
        with open(os.path.join(self.root, "index.json"), "wb") as f:
            f.write(canon_json({"schemaVersion": 2, "mediaType": MT_INDEX,
                                "manifests": manifests}))

    def archive(self, out):
        """oci-archive: oci-layout, index.json, then blobs/ sorted; root-owned, fixed mtime."""
        entries = [disk(n, os.path.join(self.root, n)) for n in ("oci-layout", "index.json")]
        for top, dirs, files in os.walk(os.path.join(self.root, "blobs")):
            dirs.sort()
            rel = os.path.relpath(top, self.root)
            entries.append(D(rel))
            entries += [disk(rel + "/" + n, os.path.join(top, n)) for n in sorted(files)]
        write_tar(out, entries)


def disk(name, path):
    """A root-owned 0644 file entry whose content is streamed from path by write_tar."""
    ti, _ = F(name)
    ti.size = os.path.getsize(path)
    return ti, path


# --------------------------------------------------------------------------- flattening

def flatten(layers):
    """Apply layers (lists of entries) like a runtime would: whiteouts and opaque markers
    remove lower-layer content, later entries replace earlier ones. -> entries of the final
    tree, no whiteout files. A hardlink whose target was replaced afterwards becomes a copy
    of the content it was linked to (which is what an extracted tree holds)."""
    tree = {}                                          # parts -> entry
    for layer in layers:
        for ti, _ in layer:                            # whiteouts apply to lower layers only
            p = parts(ti.name)
            if p and p[-1] == ".wh..wh..opq":
                gone = [k for k in tree if len(k) > len(p) - 1 and k[:len(p) - 1] == p[:-1]]
            elif p and p[-1].startswith(".wh."):
                q = p[:-1] + (p[-1][4:],)
                gone = [k for k in tree if k[:len(q)] == q]
            else:
                continue
            for k in gone:
                del tree[k]
        for e in layer:
            ti, _ = e
            p = parts(ti.name)
            if p and p[-1].startswith(".wh."):
                continue
            old = tree.get(p)
            if old and old[0].isdir() and not ti.isdir():
                for k in [k for k in tree if k[:len(p)] == p]:
                    del tree[k]
            if ti.islnk():                             # remember the inode it links to
                e = (ti, tree[parts(ti.linkname)])
            tree[p] = e
    out = []
    for p, (ti, data) in tree.items():
        if ti.islnk():
            target = data
            if tree.get(parts(ti.linkname)) is not target:
                t2 = ti.__class__(ti.name)             # target replaced: keep a copy
                for a in ("mode", "uid", "gid", "uname", "gname", "mtime", "size",
                          "pax_headers"):
                    setattr(t2, a, getattr(target[0], a))
                t2.type = tarfile.REGTYPE
                ti, data = t2, target[1]
            else:
                data = b""
        out.append((ti, data))
    return ordered(out)


# --------------------------------------------------------------------------- whole image

def docker_archive(out, name, config_bytes, tars):
    """`docker save` format: manifest.json, repositories, <config hex>.json,
    <diff id hex>/{VERSION,json,layer.tar} with uncompressed layer tars."""
    chex = hashlib.sha256(config_bytes).hexdigest()
    ids = [hashlib.sha256(t).hexdigest() for t in tars]
    repo = "localhost/" + name
    entries = [F("manifest.json", canon_json([{"Config": chex + ".json", "RepoTags":
                                              [repo + ":latest"],
                                              "Layers": [i + "/layer.tar" for i in ids]}])),
               F("repositories", canon_json({repo: {"latest": ids[-1]}})),
               F(chex + ".json", config_bytes)]
    for n, (i, t) in enumerate(zip(ids, tars)):
        v1 = {"id": i, "created": CREATED}
        if n:
            v1["parent"] = ids[n - 1]
        entries += [D(i), F(i + "/VERSION", b"1.0"), F(i + "/json", canon_json(v1)),
                    F(i + "/layer.tar", t)]
    write_tar(out, entries)


def build_image(outdir, user=None, name="nook-test", arch=None):
    """Write layout/, oci-archive.tar, docker-archive.tar, rootfs.tar.gz, digests.json."""
    os.makedirs(outdir, exist_ok=True)
    shutil.rmtree(os.path.join(outdir, "layout"), ignore_errors=True)
    lay = Layout(os.path.join(outdir, "layout"))
    layers, tars = [], []
    for i, (_, _, hist) in enumerate(STANDARD):
        tar, blob, mt = standard_layer(i)
        tars.append(tar)
        layers.append({"desc": lay.put(blob, mt), "diff_id": sha256(tar)})
    mdesc = lay.image(layers, arch=arch, user=user, history=[s[2] for s in STANDARD])
    lay.index([mdesc])
    lay.archive(os.path.join(outdir, "oci-archive.tar"))
    with open(lay.path(mdesc["digest"]), "rb") as f:
        manifest = json.load(f)
    with open(lay.path(manifest["config"]["digest"]), "rb") as f:
        config_bytes = f.read()
    docker_archive(os.path.join(outdir, "docker-archive.tar"), name, config_bytes, tars)
    flat = tar_bytes(flatten([fn() for fn, _, _ in STANDARD]))
    with open(os.path.join(outdir, "rootfs.tar.gz"), "wb") as f:
        f.write(gzip.compress(flat, compresslevel=6, mtime=0))
    digests = {"manifest": mdesc["digest"], "config": manifest["config"]["digest"],
               "layers": [l["desc"]["digest"] for l in layers],
               "diff_ids": [l["diff_id"] for l in layers],
               "media_types": [l["desc"]["mediaType"] for l in layers]}
    with open(os.path.join(outdir, "digests.json"), "w") as f:
        json.dump(digests, f, indent=1)
        f.write("\n")
    return digests
