#!/usr/bin/env python3
"""Self-check of mkimage.py and forge.py, standard library only (zstd CLI for layer 2).

usage: selfcheck.py [--keep]     builds into a temp dir, prints what it checked, exits 1 on
                                 the first failure; --keep leaves the temp dir for a look.
"""
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, HERE)
import ocilib  # noqa: E402


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def hexof(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def decompress(data, mt):
    if mt == ocilib.MT_GZIP:
        return gzip.decompress(data)
    if mt == ocilib.MT_ZSTD:
        return subprocess.run(["zstd", "-dc"], input=data, stdout=subprocess.PIPE,
                              check=True).stdout
    if mt == ocilib.MT_TAR:
        return data
    raise ValueError("unknown media type " + mt)


def problems(root):
    """Verify an OCI layout dir; -> (list of problems, [(manifest, config, [layer tars])])."""
    bad, images = [], []

    def blob(desc):
        algo, _, h = desc["digest"].partition(":")
        if algo != "sha256" or not all(c in "0123456789abcdef" for c in h) or len(h) != 64:
            bad.append("malformed digest " + desc["digest"])
            return None
        p = os.path.join(root, "blobs", "sha256", h)
        if not os.path.exists(p):
            bad.append("missing blob " + h)
            return None
        data = open(p, "rb").read()
        if len(data) != desc["size"]:
            bad.append("size of %s: %d != %d" % (h, len(data), desc["size"]))
        return data

    for h in sorted(os.listdir(os.path.join(root, "blobs", "sha256"))):
        if hexof(open(os.path.join(root, "blobs", "sha256", h), "rb").read())[7:] != h:
            bad.append("blob content does not match its name " + h)
    index = json.load(open(os.path.join(root, "index.json")))
    for md in index["manifests"]:
        raw = blob(md)
        man = json.loads(raw)
        cfg = json.loads(blob(man["config"]))
        tars = []
        for L, diff in zip(man["layers"], cfg["rootfs"]["diff_ids"]):
            data = blob(L)
            if data is None:
                continue
            try:
                tar = decompress(data, L["mediaType"])
            except Exception as e:
                bad.append("layer %s: %s" % (L["digest"][:20], e))
                continue
            if hexof(tar) != diff:
                bad.append("diff_id mismatch " + diff)
            tars.append(tar)
        images.append((man, cfg, tars))
    return bad, images


def members(tar):
    return {m.name: m for m in tarfile.open(fileobj=io.BytesIO(tar))}


def check_image(out, user=None):
    lay = os.path.join(out, "layout")
    bad, images = problems(lay)
    check(not bad, "layout: %s" % bad)
    check(len(images) == 1, "one manifest")
    index = json.load(open(os.path.join(lay, "index.json")))
    check(index["manifests"][0]["annotations"][ocilib.REF_NAME] == "latest", "ref latest")
    man, cfg, tars = images[0]
    check([L["mediaType"] for L in man["layers"]] ==
          [ocilib.MT_GZIP, ocilib.MT_ZSTD if ocilib.have_zstd() else ocilib.MT_GZIP,
           ocilib.MT_TAR], "layer media types")
    check(cfg["architecture"] == ocilib.oci_arch() and cfg["os"] == "linux", "platform")
    check(cfg["config"].get("User") == user, "config User")
    check(cfg["config"]["WorkingDir"] == "/srv/work" and "Entrypoint" not in cfg["config"],
          "config")
    l1, l2, l3 = (members(t) for t in tars)
    m = l1["etc/shadow"]
    check((m.uid, m.gid, m.gname, m.mode) == (0, 42, "shadow", 0o640), "etc/shadow 0:42 0640")
    check(l1["usr/bin/passwd"].mode == 0o4755, "setuid 04755 passwd")
    check((l1["usr/bin/wall"].mode, l1["usr/bin/wall"].gid) == (0o2755, 5), "setgid wall")
    check(l1["srv/fifo"].isfifo(), "fifo")
    m = l1["dev/evil-null"]
    check(m.ischr() and (m.devmajor, m.devminor) == (1, 3), "char device 1:3")
    check(l1["srv/xattr-file"].pax_headers.get("SCHILY.xattr.user.nook-test") == "kept",
          "xattr")
    check(l1["tmp"].mode == 0o1777 and l1["var/mail"].mode == 0o2775 and
          l1["var/mail"].gid == 8, "tmp, var/mail")
    check((l1["home/user"].uid, l1["home/user"].mode) == (1000, 0o750), "home/user")
    check((l1["srv/owned-42"].uid, l1["srv/owned-42"].uname) == (42, ""), "owned-42")
    check(all(l1["bin/" + a].linkname == "busybox" for a in ocilib.APPLETS), "applets")
    check(l1["bin/busybox"].size == os.path.getsize(ocilib.BUSYBOX), "busybox")
    check(l2["etc/.wh.removed-later"].isreg(), "whiteout")
    check(l2["opt/opaque/.wh..wh..opq"].isreg(), "opaque marker")
    names = list(l2)
    h = l2["bin/hardlink-to-motd"]
    check(h.islnk() and h.linkname == "etc/motd" and
          names.index("etc/motd") < names.index("bin/hardlink-to-motd"), "hardlink order")
    check(l2["srv/link-to-shadow"].linkname == "/etc/shadow", "abs symlink")
    check(l2["srv/rel-link"].linkname == "owned-1000", "rel symlink")
    check(set(l3) == {"etc", "etc/motd", "srv", "srv/layer3"}, "layer 3")
    print("ok  layout, blobs, digests, layer contents")

    # oci-archive.tar holds exactly the layout's files
    with tarfile.open(os.path.join(out, "oci-archive.tar")) as t:
        files = {m.name: t.extractfile(m).read() for m in t if m.isreg()}
    for n, data in files.items():
        check(open(os.path.join(lay, n), "rb").read() == data, "oci-archive " + n)
    check(len(files) == 2 + len(os.listdir(os.path.join(lay, "blobs", "sha256"))),
          "oci-archive file count")
    print("ok  oci-archive.tar")

    with tarfile.open(os.path.join(out, "docker-archive.tar")) as t:
        dm = json.load(t.extractfile("manifest.json"))[0]
        check(dm["RepoTags"] == ["localhost/nook-test:latest"], "RepoTags")
        check(hexof(t.extractfile(dm["Config"]).read()) == man["config"]["digest"],
              "docker config")
        check([hexof(t.extractfile(p).read()) for p in dm["Layers"]] ==
              cfg["rootfs"]["diff_ids"], "docker layer.tar == diff_ids")
        check(json.load(t.extractfile("repositories")), "repositories")
    print("ok  docker-archive.tar")

    with tarfile.open(os.path.join(out, "rootfs.tar.gz")) as t:
        fl = {m.name: m for m in t}
        rd = lambda n: t.extractfile(fl[n]).read()  # noqa: E731
        check(not [n for n in fl if ".wh." in n], "no whiteout files")
        check("etc/removed-later" not in fl, "whiteout applied")
        check(sorted(n for n in fl if n.startswith("opt/opaque/")) == ["opt/opaque/c"],
              "opaque applied")
        check(rd("etc/motd") == b"layer3 motd\n", "motd from layer 3")
        check(rd("bin/hardlink-to-motd") == b"layer2 motd\n", "hardlink keeps layer 2")
        check(fl["usr/bin/passwd"].mode == 0o4755 and fl["dev/evil-null"].ischr(), "flat")
    print("ok  rootfs.tar.gz")

    d = json.load(open(os.path.join(out, "digests.json")))
    check(d["manifest"] == index["manifests"][0]["digest"] and
          d["config"] == man["config"]["digest"] and
          d["layers"] == [L["digest"] for L in man["layers"]] and
          d["diff_ids"] == cfg["rootfs"]["diff_ids"], "digests.json")
    print("ok  digests.json")


# forge cases whose layout must verify cleanly, and those that must not
CLEAN = ("s15", "s16", "s17", "s18", "s19", "bad-arch")
BROKEN = ("s20-digest-mismatch", "s20-size-mismatch", "s20-digest-path", "s20-bad-algo",
          "bad-gzip", "bad-missing-blob", "bad-media-type")
NOT_TAR = ("bad-not-an-archive", "bad-truncated")


def check_forge(tmp):
    out, sentinel = os.path.join(tmp, "forge"), os.path.join(tmp, "sentinel-dir")
    subprocess.run([sys.executable, os.path.join(HERE, "forge.py"), "all", out,
                    "--sentinel", sentinel], check=True, stdout=subprocess.DEVNULL)
    names = subprocess.run([sys.executable, os.path.join(HERE, "forge.py"), "--list"],
                           check=True, stdout=subprocess.PIPE, text=True).stdout.split()
    for n in names:
        p = os.path.join(out, n + ".tar")
        if n.startswith("s21-"):
            check(not os.path.exists(p), n + " written without --big")
            continue
        check(os.path.exists(p), n + " missing")
        if n in NOT_TAR:
            try:
                with tarfile.open(p) as t:
                    list(t)
                fail(n + " is a readable tar")
            except tarfile.TarError:
                pass
            continue
        x = os.path.join(tmp, "x", n)
        with tarfile.open(p) as t:      # the outer archive is benign; filter if available
            t.extractall(x, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        bad, images = problems(x)
        if n.startswith(CLEAN) or n == "s20-ambiguous-index":
            check(not bad, "%s: %s" % (n, bad))
        else:
            check(n in BROKEN and bad, "%s should not verify" % n)
        if n == "s20-ambiguous-index":
            check(len(images) == 2 and images[0][0] != images[1][0], "two manifests")
        if n == "bad-arch":
            check(images[0][1]["architecture"] == "s390x", "s390x")
        print("ok  forge %-24s %s" % (n, "; ".join(bad)[:70]))


def main():
    keep = "--keep" in sys.argv
    tmp = tempfile.mkdtemp(prefix="nook-images-")
    a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
    t0 = time.time()
    subprocess.run([sys.executable, os.path.join(HERE, "mkimage.py"), a], check=True,
                   stdout=subprocess.DEVNULL)
    print("mkimage.py took %.2fs" % (time.time() - t0))
    check_image(a)
    ocilib.build_image(b)
    for n in ("oci-archive.tar", "docker-archive.tar", "rootfs.tar.gz", "digests.json"):
        check(open(os.path.join(a, n), "rb").read() == open(os.path.join(b, n), "rb").read(),
              "deterministic " + n)
    print("ok  deterministic")
    ocilib.build_image(b, user="1000:1000")
    check_image(b, user="1000:1000")
    check_forge(tmp)
    if keep:
        print("kept", tmp)
    else:
        subprocess.run(["rm", "-rf", tmp], check=True)
    print("selfcheck passed")


if __name__ == "__main__":
    main()
