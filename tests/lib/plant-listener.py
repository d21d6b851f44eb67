#!/usr/bin/env python3
# nook tests — a planted control socket (S32): listens on each DIR/ctl.sock given, logs
# every connection to LOG.conn and every byte received to LOG, and drops a connection
# once it has sent something (so that a client waiting for an answer is not held up).
# Usage: plant-listener.py LOG DIR...   (touches LOG.ready once it listens)
import os
import select
import socket
import sys

log, dirs = sys.argv[1], sys.argv[2:]
listeners = []
for d in dirs:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    os.chdir(d)  # sun_path is 108 bytes: bind the short name relative to the dir
    s.bind("ctl.sock")
    s.listen(16)
    listeners.append(s)
data = open(log, "ab", 0)
conns = open(log + ".conn", "a", 1)
open(log + ".ready", "w").close()
peers = []
while True:
    ready, _, _ = select.select(listeners + peers, [], [])
    for x in ready:
        if x in listeners:
            c, _ = x.accept()
            conns.write("connect\n")
            peers.append(c)
            continue
        try:
            got = x.recv(65536)
        except OSError:
            got = b""
        if got:
            data.write(got)
        peers.remove(x)
        x.close()
