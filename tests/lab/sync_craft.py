#!/usr/bin/env python3
"""Send forged flow-sync messages (layout: userspace/sync_proto.h) to a node's sync port.
usage: sync_craft.py KIND DST KEYFILE [PORT]; KIND: garbage truncated wrongkey replay unknown.
replay sends one authentic message (a record for an unknown service) twice: the second is a replay.
unknown sends an authentic message whose records name a service and a server the node lacks."""
import hashlib, hmac, os, socket, struct, sys, time

kind, dst, keyfile = sys.argv[1:4]
port = int(sys.argv[4]) if len(sys.argv) > 4 else 8848
key = open(keyfile, "rb").read().rstrip()
sender = socket.inet_aton("10.100.1.250")  # no real node: its own replay window
epoch = int(time.time() * 1e6)

def record(service, backend, bport):
    return (service.encode().ljust(16, b"\0") + socket.inet_aton("10.100.1.2") +
            socket.inet_aton("10.100.1.100") + socket.inet_aton(backend) +
            struct.pack("!HHHHBBHI", 41000, 5432, bport, 20001, 1, 3, 0, 0) + bytes(20))

def message(recs, seq, k=key):
    body = struct.pack("!IBBBBHH", 0x50475359, 2, 1, 51, 0, len(recs), 48 + 64 * len(recs) + 32)
    body += sender + struct.pack("!QQQQ", epoch, seq, int(time.time() * 1000), 0) + b"".join(recs)
    return body + hmac.new(k, body, hashlib.sha256).digest()

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
unknown = [record("nosuch", "10.100.1.31", 6432), record("pgsql", "10.100.1.99", 6432)]
if kind == "garbage":
    msgs = [os.urandom(200)]
elif kind == "truncated":
    msgs = [message(unknown, 1)[:100]]
elif kind == "wrongkey":
    msgs = [message(unknown, 1, k=b"not-the-key-0123456789")]
elif kind == "replay":
    m = message([record("nosuch", "10.100.1.31", 6432)], 1)
    msgs = [m, m]
elif kind == "unknown":
    msgs = [message(unknown, 1)]
else:
    sys.exit("unknown kind " + kind)
for m in msgs:
    s.sendto(m, (dst, port))
    time.sleep(0.01)
