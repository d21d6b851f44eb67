#!/usr/bin/env python3
"""Drives a command on a pseudo-terminal, as a person at a terminal would.

    ptydrive.py STEP... -- COMMAND...

Steps, in order: send:TEXT (\\r, \\n, \\x10 escapes understood), expect:TEXT (waits up
to 10 s for TEXT in the output since the last expect), resize:ROWSxCOLS, sleep:SECONDS,
exit (waits up to 10 s for the command to end and prints "exit=N").  Prints the whole
output to stderr at the end; exits 1 when a step times out, 0 otherwise."""
import os
import pty
import select
import struct
import sys
import termios
import time
import fcntl

sep = sys.argv.index("--")
steps, cmd = sys.argv[1:sep], sys.argv[sep + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
seen, mark = b"", 0


def pump(timeout):
    global seen
    r, _, _ = select.select([fd], [], [], timeout)
    if r:
        try:
            data = os.read(fd, 65536)
        except OSError:
            return False
        if not data:
            return False
        seen += data
    return True


def done(code):
    sys.stderr.write("---- output ----\n%s\n----\n" % seen.decode("utf-8", "replace"))
    sys.exit(code)


for step in steps:
    kind, _, arg = step.partition(":")
    if kind == "send":
        os.write(fd, arg.encode().decode("unicode_escape").encode("latin-1"))
    elif kind == "expect":
        want = arg.encode()
        deadline = time.time() + 10
        while want not in seen[mark:]:
            if time.time() > deadline or not pump(0.1) and want not in seen[mark:]:
                if want in seen[mark:]:
                    break
                sys.stderr.write("ptydrive: %r not seen\n" % arg)
                done(1)
        mark = seen.index(want, mark) + len(want)
    elif kind == "resize":
        rows, cols = (int(x) for x in arg.split("x"))
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    elif kind == "sleep":
        end = time.time() + float(arg)
        while time.time() < end:
            pump(0.05)
    elif kind == "exit":
        deadline = time.time() + 10
        while time.time() < deadline:
            pump(0.05)
            wpid, status = os.waitpid(pid, os.WNOHANG)
            if wpid:
                while pump(0.05):
                    pass
                print("exit=%d" % os.waitstatus_to_exitcode(status))
                done(0)
        sys.stderr.write("ptydrive: the command did not end\n")
        done(1)
done(0)
