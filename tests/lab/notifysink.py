#!/usr/bin/env python3
"""A minimal service manager's end of sd_notify: bind a datagram socket at PATH and, for up to SECS
seconds, append each message's lines to OUT as "<ms since start> <line>"; on READY=1 run the shell
command in $ON_READY and record its exit status as "<ms> ON_READY=<status>"."""
import os, socket, subprocess, sys, time

path, out, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
if os.path.exists(path):
    os.unlink(path)
s.bind(path)
t0 = time.monotonic()
with open(out, "a", buffering=1) as f:
    while (left := secs - (time.monotonic() - t0)) > 0:
        s.settimeout(left)
        try:
            msg = s.recv(4096).decode(errors="replace")
        except socket.timeout:
            break
        ms = int((time.monotonic() - t0) * 1000)
        for line in msg.splitlines():
            f.write(f"{ms} {line}\n")
        if "READY=1" in msg.splitlines() and os.environ.get("ON_READY"):
            rc = subprocess.call(["bash", "-c", os.environ["ON_READY"]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            f.write(f"{int((time.monotonic() - t0) * 1000)} ON_READY={rc}\n")
        if "STOPPING=1" in msg.splitlines():
            break
os.unlink(path)
