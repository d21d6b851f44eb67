#!/usr/bin/env python3
"""nook tests — start nook-netd as its client does (netd.sh).

  netd-run.py NETD PID CONFIGFILE STATEFILE [ERRFILE]

fds 3 and 4 are /proc/PID/ns/user and /proc/PID/ns/net, 5 a pipe whose read end we
read to EOF (readiness), 6 the read end of a pipe whose write end we keep, 7 the
configuration; 0 and 1 /dev/null, 2 ERRFILE (or /dev/null).  STATEFILE gets "pid N", then "ready R" or "ready E...".
On SIGTERM we close our end of fd 6 and wait up to 2 s for netd: STATEFILE gets
"exit RC SECONDS" or "exit alive".
"""
import os
import signal
import sys
import time

netd, pid, config, state = sys.argv[1:5]
errfile = sys.argv[5] if len(sys.argv) > 5 else "/dev/null"
out = open(state, "w", buffering=1)
srcs = [os.open("/proc/%s/ns/user" % pid, os.O_RDONLY), os.open("/proc/%s/ns/net" % pid, os.O_RDONLY)]
ready_r, ready_w = os.pipe()
exit_r, exit_w = os.pipe()
srcs += [ready_w, exit_r, os.open(config, os.O_RDONLY)]
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])
child = os.fork()
if child == 0:
    high = [os.dup(fd) for fd in srcs]  # above 7, out of the way of the dup2 below
    for target, fd in enumerate(high, start=3):
        os.dup2(fd, target)
    null = os.open("/dev/null", os.O_RDWR)
    for target in (0, 1):
        os.dup2(null, target)
    os.dup2(os.open(errfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 2)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
    os.execv(netd, [netd, "s-test"])
for fd in srcs:
    os.close(fd)
out.write("pid %d\n" % child)
got = b""
while True:
    b = os.read(ready_r, 512)
    if not b:
        break
    got += b
out.write("ready %s\n" % got.decode(errors="replace").strip())
signal.sigwait([signal.SIGTERM])
os.close(exit_w)
t0 = time.time()
while time.time() - t0 < 2:
    done, status = os.waitpid(child, os.WNOHANG)
    if done:
        out.write("exit %d %.2f\n" % (os.waitstatus_to_exitcode(status), time.time() - t0))
        sys.exit(0)
    time.sleep(0.02)
out.write("exit alive\n")
