#!/usr/bin/env python3
"""nook tests — a tiny DNS server on the host's loopback for netd.sh (standard library
only).  Usage: netd-dns.py PORTFILE LOGFILE.  It binds 127.0.0.1 on a free port, writes
the port to PORTFILE and logs "NAME TYPE" of every query it receives to LOGFILE:

  allowed.test  A 10.0.2.50 TTL 300
  alias.test    CNAME target.test, target.test A 10.0.2.70 (TTL 300)
  anything else NXDOMAIN
"""
import socket
import struct
import sys


def read_name(p, off):
    labels = []
    while p[off]:
        n = p[off]
        labels.append(p[off + 1:off + 1 + n].decode("ascii"))
        off += 1 + n
    return ".".join(labels).lower(), off + 1


def encode(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"


def rr(name, rtype, ttl, rdata):
    return encode(name) + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


def answer(q):
    qid, flags = struct.unpack(">HH", q[:4])
    name, end = read_name(q, 12)
    qtype = struct.unpack(">H", q[end:end + 2])[0]
    question = q[12:end + 4]
    records, rcode = [], 0
    if name == "allowed.test" and qtype == 1:
        records = [rr(name, 1, 300, socket.inet_aton("10.0.2.50"))]
    elif name == "alias.test" and qtype == 1:
        records = [rr(name, 5, 300, encode("target.test")), rr("target.test", 1, 300, socket.inet_aton("10.0.2.70"))]
    elif name not in ("allowed.test", "alias.test"):
        rcode = 3
    hdr = struct.pack(">HHHHHH", qid, 0x8180 | (flags & 0x0100) | rcode, 1, len(records), 0, 0)
    return name, qtype, hdr + question + b"".join(records)


def main():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    log = open(sys.argv[2], "a", buffering=1)
    while True:
        q, peer = s.recvfrom(4096)
        try:
            name, qtype, a = answer(q)
        except Exception as e:  # the test's own queries only; say what arrived
            log.write("UNPARSED %r\n" % e)
            continue
        log.write("%s %d\n" % (name, qtype))
        s.sendto(a, peer)


main()
