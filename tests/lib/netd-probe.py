#!/usr/bin/env python3
"""nook tests — what a workload inside a restricted session tries (netd.sh), run in its
network namespace.  One line of output per command:

  resolve NAME TYPE   "rcode=N" and the addresses of the answer ("rcode=0 10.0.2.50")
  tcp HOST PORT       "connected", "timeout" (1 s), or the errno name and seconds taken
  udp HOST PORT       "sent" or the errno name of the send or of a recv (0.5 s) after it
  hostile             sends malformed queries to the resolver; "sent N"
"""
import errno
import socket
import struct
import sys
import time

RESOLVER = ("127.0.0.53", 53)


def query(name, qtype, qid=0x1234):
    q = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + struct.pack(">HH", qtype, 1)


def resolve(name, qtype):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(query(name, int(qtype)), RESOLVER)
    a = s.recv(65536)
    rcode = a[3] & 0xF
    qd, an = struct.unpack(">HH", a[4:8])
    off = 12
    while a[off]:
        off += 1 + a[off]
    off += 5
    addrs = []
    for _ in range(an):
        while a[off] and a[off] < 0xC0:
            off += 1 + a[off]
        off += 2 if a[off] >= 0xC0 else 1
        rtype, _, _, rdlen = struct.unpack(">HHIH", a[off:off + 10])
        if rtype == 1:
            addrs.append(socket.inet_ntoa(a[off + 10:off + 14]))
        off += 10 + rdlen
    return " ".join(["rcode=%d" % rcode] + addrs)


def tcp(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(1)
    t = time.time()
    try:
        s.connect((host, int(port)))
        return "connected"
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return "%s %.3f" % (errno.errorcode.get(e.errno, e.errno), time.time() - t)


def udp(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    try:
        s.connect((host, int(port)))
        s.send(b"x")
        s.recv(16)
        return "received"
    except socket.timeout:
        return "sent"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def hostile():
    good = query("allowed.test", 1)
    packets = [
        b"", b"\x00", good[:11], good[:13], good[:-1],                 # truncated
        good[:12] + b"\xc0\x0c" + b"\x00\x01\x00\x01",                  # pointer to itself
        good[:12] + b"\x01a\xc0\x0c" + b"\x00\x01\x00\x01",             # a loop through a label
        good[:12] + b"\x3fa" + b"\x00\x01\x00\x01",                     # label past the end
        good[:12] + b"\x40abc\x00\x00\x01\x00\x01",                     # extended label type
        good[:12] + (b"\x3f" + b"a" * 63) * 5 + b"\x00\x00\x01\x00\x01",  # name over 255
        struct.pack(">HHHHHH", 1, 0x0100, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF) + good[12:],
        struct.pack(">HHHHHH", 1, 0x8100, 1, 0, 0, 0) + good[12:],      # an answer, not a query
        good + b"\x00" * 60000,                                         # oversized
        bytes(range(256)) * 16,
    ]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for p in packets:
        s.sendto(p, RESOLVER)
    return "sent %d" % len(packets)


cmd = sys.argv[1]
if cmd == "resolve":
    print(resolve(sys.argv[2], sys.argv[3]))
elif cmd == "tcp":
    print(tcp(sys.argv[2], sys.argv[3]))
elif cmd == "udp":
    print(udp(sys.argv[2], sys.argv[3]))
elif cmd == "hostile":
    print(hostile())
