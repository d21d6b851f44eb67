#!/usr/bin/env python3
"""Forge hostile or broken oci-archives for nook's security and fault tests.

usage: forge.py CASE OUTDIR --sentinel DIR [--big]
       forge.py all OUTDIR --sentinel DIR [--big]
       forge.py --list

Each case writes OUTDIR/CASE.tar: an oci-archive with one manifest ("latest"), a valid
config for this machine's architecture, mkimage's busybox base layer (gzip) and ONE
hostile layer (uncompressed unless said otherwise), digests and sizes correct unless the
case is about them. Hostile entries aim at --sentinel DIR (absolute, outside the store;
the tests keep a file DIR/sentinel there and check it afterwards). The s21-* cases are big
and are written only when named or with --big. See README.md for the list.
"""
import argparse
import hashlib
import os
import shutil
import struct
import sys
import tarfile
import tempfile
import zlib

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ocilib import (BLK, CHR, D, F, FIFO, HARD, MT_GZIP, MT_TAR, SYM,  # noqa: E402
                    Layout, build_image, compress, sha256, standard_layer, tar_bytes)

UP = "../" * 24          # enough ".." to reach / from any plausible store depth
CASES = {}               # name -> (function, big)


def case(name, big=False):
    def reg(fn):
        CASES[name] = (fn, big)
        return fn
    return reg


def base(lay):
    """Layer record of mkimage's layer 1 (busybox base, tar+gzip)."""
    tar, blob, mt = standard_layer(0)
    return {"desc": lay.put(blob, mt), "diff_id": sha256(tar)}


def image(out, name, hostile, arch=None, mutate=None, post=None):
    """Write OUTDIR/<name>.tar from [base, hostile layer].
    hostile: a list of entries (-> uncompressed tar) or a ready layer record (lay -> rec).
    mutate(manifest, rec): corrupt the manifest; post(lay, rec): corrupt the layout."""
    with tempfile.TemporaryDirectory(dir=os.path.dirname(out)) as tmp:
        lay = Layout(tmp)
        rec = hostile(lay) if callable(hostile) else lay.put_layer(tar_bytes(hostile))
        m = lay.image([base(lay), rec], arch=arch, history=["busybox base", "forge " + name],
                      mutate=mutate and (lambda man: mutate(man, rec)))
        lay.index([m])
        if post:
            post(lay, rec)
        lay.archive(out)


# --------------------------------------------------------------------- s15: names

@case("s15-dotdot")
def _(c, out):
    image(out, "s15-dotdot", [F(UP + c.rel + "/sentinel", b"pwned"),
                              F("a/../../../x", b"pwned")])


@case("s15-absolute")
def _(c, out):
    image(out, "s15-absolute", [F(c.sentinel + "/sentinel", b"pwned"),
                                F("/etc/abs-ok", b"clamped\n")])


@case("s15-long-and-odd")
def _(c, out):
    long = "srv/long"                  # 4000 bytes, 100-byte components, parents included
    dirs = [D(long)]
    while len(long) < 4000 - 101:
        long += "/" + "L" * 99
        dirs.append(D(long))
    long += "/" + "F" * (4000 - len(long) - 1)
    image(out, "s15-long-and-odd", [
        F("srv//double-slash", b"x\n"), D("srv/trailing-dot/."), F("srv/file-dot/.", b"x\n"),
        F("srv/./dot-in-middle", b"x\n"), *dirs, F(long, b"long\n"),
        F("srv/new\nline", b"x\n")])


# --------------------------------------------------------------------- s16: symlinks

@case("s16-symlink-parent")
def _(c, out):
    image(out, "s16-symlink-parent", [
        SYM("escape", c.sentinel), F("escape/sentinel", b"pwned"),
        SYM("up", UP.rstrip("/")), F("up/" + c.rel + "/sentinel", b"pwned")])


@case("s16-symlink-replace-dir")
def _(c, out):
    image(out, "s16-symlink-replace-dir", [D("d"), SYM("d", c.sentinel),
                                           F("d/sentinel", b"pwned")])


@case("s16-dot-type-change")
def _(c, out):
    image(out, "s16-dot-type-change", [SYM(".", c.sentinel), F("./sentinel", b"pwned")])


# --------------------------------------------------------------------- s17: hardlinks

@case("s17-hardlink-escape")
def _(c, out):
    image(out, "s17-hardlink-escape", [
        HARD("h", UP + c.rel + "/sentinel"), HARD("h2", c.sentinel + "/sentinel"),
        F("h", b"pwned"), F("h2", b"pwned")])


@case("s17-hardlink-to-symlink")
def _(c, out):
    image(out, "s17-hardlink-to-symlink", [SYM("s", c.sentinel + "/sentinel"),
                                           HARD("hs", "s"), F("hs", b"pwned")])


@case("s17-hardlink-forward")
def _(c, out):
    image(out, "s17-hardlink-forward", [HARD("early", "later"), F("later", b"later\n")])


# --------------------------------------------------------------------- s18: whiteouts

@case("s18-whiteouts")
def _(c, out):
    image(out, "s18-whiteouts", [
        F(".wh."), F(".wh.."), F(".wh..."), F("etc/.wh.../../x"),
        D("srv/.wh..wh..opq"), SYM("bin/.wh.busybox", c.sentinel), F("etc/.wh.etc"),
        F(UP + c.rel + "/.wh.sentinel"), F(c.sentinel + "/.wh.sentinel")])


# --------------------------------------------------------------------- s19: types, xattrs

CAP = bytes.fromhex("01000002" "ffffffff" "00000000" "ff010000" "00000000")  # v2, all caps


@case("s19-devices-xattrs")
def _(c, out):
    image(out, "s19-devices-xattrs", [
        CHR("dev/mem2", 1, 1), BLK("dev/sda9", 8, 9), FIFO("srv/pipe"),
        F("srv/xattr-evil", b"x\n", xattrs={"trusted.overlay.opaque": "y",
                                            "security.capability": CAP,
                                            "security.evil": "x"}),
        D("srv/forged-opaque", xattrs={"user.overlay.opaque": "y"}),
        F("srv/forged-stat", b"x\n", xattrs={"user.containers.override_stat": "0:0:4777"}),
        F("srv/ok-xattr", b"x\n", xattrs={"user.ok": "fine"})])


# --------------------------------------------------------------------- s20: digests

BENIGN = [F("srv/forged-layer", b"original content\n")]


@case("s20-digest-mismatch")
def _(c, out):
    def flip(lay, rec):                # change one byte of the file data, size unchanged
        p = lay.path(rec["desc"]["digest"])
        with open(p, "r+b") as f:
            data = f.read()
            f.seek(data.index(b"original content"))
            f.write(b"O")
    image(out, "s20-digest-mismatch", BENIGN, post=flip)


@case("s20-size-mismatch")
def _(c, out):
    def grow(m, rec):
        m["layers"][-1]["size"] += 1
    image(out, "s20-size-mismatch", BENIGN, mutate=grow)


@case("s20-digest-path")
def _(c, out):
    def pathy(m, rec):
        m["layers"][-1]["digest"] = "sha256:" + UP + c.rel + "/x"
    image(out, "s20-digest-path", BENIGN, mutate=pathy)


@case("s20-bad-algo")
def _(c, out):
    md5 = hashlib.md5(tar_bytes(BENIGN)).hexdigest()

    def algo(m, rec):
        m["layers"][-1]["digest"] = "md5:" + md5

    def also_store(lay, rec):          # the blob is also there under blobs/md5/
        os.makedirs(os.path.join(lay.root, "blobs", "md5"))
        shutil.copy(lay.path(rec["desc"]["digest"]), lay.path("md5:" + md5))
    image(out, "s20-bad-algo", BENIGN, mutate=algo, post=also_store)


@case("s20-ambiguous-index")
def _(c, out):
    with tempfile.TemporaryDirectory(dir=os.path.dirname(out)) as tmp:
        lay = Layout(tmp)
        ms = [lay.image([base(lay), lay.put_layer(tar_bytes([F("srv/which", w)]))])
              for w in (b"A\n", b"B\n")]
        lay.index(ms)                  # two different manifests, both "latest"
        lay.archive(out)


# --------------------------------------------------------------------- s21: resources

def stream_layer(gen, gz):
    """Layer record builder from a generator of uncompressed tar chunks, streamed to disk
    (optionally gzip'd), memory stays flat."""
    def rec(lay):
        h, path = hashlib.sha256(), os.path.join(lay.root, "incoming")
        z = zlib.compressobj(6, zlib.DEFLATED, 31) if gz else None   # 31: gzip, mtime 0
        with open(path, "wb") as f:
            for chunk in gen():
                h.update(chunk)
                f.write(z.compress(chunk) if z else chunk)
            if z:
                f.write(z.flush())
        return {"desc": lay.put_file(path, MT_GZIP if gz else MT_TAR),
                "diff_id": "sha256:" + h.hexdigest()}
    return rec


def header(ti):
    return ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


END = b"\0" * 1024


@case("s21-gzip-bomb", big=True)
def _(c, out):
    # One file of 4 GiB of zeros. Deflating 4 GiB would take long; instead each piece is
    # deflated once by a fresh compressor ending in a full flush (byte-aligned, no
    # back-references), so the 4 MiB-of-zeros piece can simply be repeated.
    ti, _ = F("srv/zeros")
    ti.size = 4 << 30
    head, zeros, n = header(ti), b"\0" * (4 << 20), (4 << 30) // (4 << 20)

    def deflate(data, final):
        z = zlib.compressobj(9, zlib.DEFLATED, -15)
        return z.compress(data) + z.flush(zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH)

    def rec(lay):
        h, crc, size = hashlib.sha256(), 0, 0
        for chunk in [head] + [zeros] * n + [END]:
            h.update(chunk)
            crc, size = zlib.crc32(chunk, crc), size + len(chunk)
        path = os.path.join(lay.root, "incoming")
        with open(path, "wb") as f:
            f.write(b"\x1f\x8b\x08\0\0\0\0\0\0\xff" + deflate(head, False))  # mtime 0
            piece = deflate(zeros, False)
            for _ in range(n):
                f.write(piece)
            f.write(deflate(END, True) + struct.pack("<II", crc, size & 0xffffffff))
        return {"desc": lay.put_file(path, MT_GZIP), "diff_id": "sha256:" + h.hexdigest()}
    image(out, "s21-gzip-bomb", rec)


@case("s21-many-entries", big=True)
def _(c, out):
    def gen():                          # 300,000 empty files, ~150 MB uncompressed
        yield header(D("srv/many")[0])
        tmpl = bytearray(header(F("srv/many/000000")[0]))
        for block in range(300):        # patch name and checksum of one ustar header
            batch = []
            for i in range(block * 1000, block * 1000 + 1000):
                tmpl[9:15], tmpl[148:156] = b"%06d" % i, b" " * 8
                tmpl[148:156] = b"%06o\0 " % sum(tmpl)
                batch.append(bytes(tmpl))
            yield b"".join(batch)
        yield END
    image(out, "s21-many-entries", stream_layer(gen, gz=True))


@case("s21-huge-header", big=True)
def _(c, out):
    def gen():                          # a pax 'path' record of 64 MiB, then the member
        value = b"srv/" + b"h" * ((64 << 20) - 4)
        body = b" path=" + value + b"\n"
        n = len(body) + len(str(len(body)))
        n = len(body) + len(str(n))     # the length counts its own digits
        rec = str(n).encode() + body
        ti, _ = F("././@PaxHeader")
        ti.type, ti.size = tarfile.XHDTYPE, len(rec)
        yield ti.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict")
        yield rec + b"\0" * (-len(rec) % 512)
        yield header(F("srv/huge", b"huge\n")[0]) + b"huge\n".ljust(512, b"\0")
        yield END
    image(out, "s21-huge-header", stream_layer(gen, gz=False))


# --------------------------------------------------------------------- fault cases

@case("bad-truncated")
def _(c, out):
    with tempfile.TemporaryDirectory(dir=os.path.dirname(out)) as tmp:
        build_image(tmp)
        with open(os.path.join(tmp, "oci-archive.tar"), "rb") as f:
            data = f.read()
    with open(out, "wb") as f:
        f.write(data[:len(data) // 2])


@case("bad-gzip")
def _(c, out):
    tar = tar_bytes([F("srv/noise", noise(256 << 10))])

    def rec(lay):                       # corrupt the middle, then hash the corrupted bytes
        blob = bytearray(compress(tar, "gzip")[0])
        mid = len(blob) // 2
        blob[mid:mid + 64] = b"\xff" * 64
        return {"desc": lay.put(bytes(blob), MT_GZIP), "diff_id": sha256(tar)}
    image(out, "bad-gzip", rec)


@case("bad-missing-blob")
def _(c, out):
    image(out, "bad-missing-blob", BENIGN,
          post=lambda lay, rec: os.remove(lay.path(rec["desc"]["digest"])))


@case("bad-media-type")
def _(c, out):
    def mt(m, rec):
        m["layers"][-1]["mediaType"] = "application/vnd.example.unknown"
    image(out, "bad-media-type", BENIGN, mutate=mt)


@case("bad-arch")
def _(c, out):
    image(out, "bad-arch", BENIGN, arch="s390x")


@case("bad-not-an-archive")
def _(c, out):
    with open(out, "wb") as f:
        f.write(noise(4096))


def noise(n):
    """Deterministic pseudo-random bytes."""
    out, h = b"", b"nook"
    while len(out) < n:
        h = hashlib.sha256(h).digest()
        out += h
    return out[:n]


# --------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case", nargs="?", help="a case name or 'all'")
    ap.add_argument("outdir", nargs="?")
    ap.add_argument("--sentinel", help="absolute directory the hostile entries aim at")
    ap.add_argument("--big", action="store_true", help="with 'all': include the s21 cases")
    ap.add_argument("--list", action="store_true", help="print the case names")
    a = ap.parse_args()
    if a.list:
        print("\n".join(CASES))
        return
    if not (a.case and a.outdir and a.sentinel):
        ap.error("CASE OUTDIR --sentinel DIR are required")
    if not os.path.isabs(a.sentinel):
        ap.error("--sentinel must be an absolute path")
    if a.case == "all":
        names = [n for n, (_, big) in CASES.items() if a.big or not big]
    elif a.case in CASES:
        names = [a.case]
    else:
        ap.error("unknown case %r (see --list)" % a.case)
    sentinel = os.path.normpath(a.sentinel)
    ctx = argparse.Namespace(sentinel=sentinel, rel=sentinel.lstrip("/"))
    os.makedirs(a.outdir, exist_ok=True)
    for n in names:
        out = os.path.join(os.path.abspath(a.outdir), n + ".tar")
        CASES[n][0](ctx, out)
        print(out)


if __name__ == "__main__":
    main()
