#!/usr/bin/env python3
"""Build nook's 3-layer busybox test image without a registry, as an unprivileged user.

usage: mkimage.py OUTDIR [--user UID:GID] [--name NAME] [--arch ARCH]

Writes OUTDIR/layout/ (OCI image layout, ref "latest"), OUTDIR/oci-archive.tar,
OUTDIR/docker-archive.tar (docker save format, tag localhost/NAME:latest),
OUTDIR/rootfs.tar.gz (flattened tree) and OUTDIR/digests.json. See README.md.
"""
import argparse
import json
import os
import sys

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ocilib  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--user", help="config User, e.g. 1000:1000 (default: absent)")
    ap.add_argument("--name", default="nook-test", help="docker-archive repository name")
    ap.add_argument("--arch", default=ocilib.oci_arch(),
                    help="OCI architecture written in config and index (default: this machine)")
    a = ap.parse_args()
    if not ocilib.have_zstd():
        print("mkimage: no zstd command; layer 2 is gzip instead of zstd", file=sys.stderr)
    d = ocilib.build_image(a.outdir, user=a.user, name=a.name, arch=a.arch)
    json.dump(d, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
