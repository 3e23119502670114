#!/usr/bin/env python3
"""Waits until HOST:PORT answers through the node whose MAC is MAC: the client's neighbour entry for
HOST must name MAC (the GARPs moved it) and a fresh TCP connection must succeed. Tries every 10 ms
with a 100 ms connect timeout, so a lost SYN costs 100 ms, not TCP's 1 s retransmission. Run in the
client node. usage: vipwait.py HOST PORT MAC MAX_SECONDS
Prints the CLOCK_MONOTONIC time in ms at which it answered (the caller subtracts its own reading of
the same clock taken before the event: this process may start late on a busy machine, and the
difference stays right), or exits 1 after MAX_SECONDS."""
import socket, subprocess, sys, time

host, port, mac, limit = sys.argv[1], int(sys.argv[2]), sys.argv[3].lower(), float(sys.argv[4])
start = time.monotonic()


def neigh():
    return subprocess.run(["ip", "neigh", "show", host], capture_output=True, text=True).stdout.lower()


while time.monotonic() - start < limit:
    # With no address for HOST yet (this client never talked to it, or the entry failed), a GARP
    # creates none (arp_accept 0): a connection attempt makes the ARP query that finds the holder.
    # Either way the answer counts only once the entry names MAC.
    before = neigh()
    if mac in before or "lladdr" not in before:
        s = socket.socket()
        s.settimeout(0.1)
        try:
            s.connect((host, port))
            s.close()
            if mac in neigh():
                print(time.monotonic_ns() // 1000000)
                sys.exit(0)
        except OSError:
            s.close()
    time.sleep(0.01)
sys.exit(1)
