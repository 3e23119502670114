#!/usr/bin/env python3
"""Send VRRP adverts built here, good or deliberately wrong, to 224.0.0.18 from the node it runs in.
usage: vrrp_craft.py KIND [SRC]; KIND: ok ttl version vrid checksum truncated type.
Each is sent 3 times, 10 ms apart."""
import socket, struct, sys, time
from pktlib import csum, ipv4, raw_sender

def advert(src, dst, vrid=51, prio=50, version=3, typ=1, bad_csum=False, ttl=255, truncate=False):
    vip = socket.inet_aton("10.100.1.100")
    body = struct.pack("!BBBBHH", (version << 4) | typ, vrid, prio, 1, 100, 0) + vip
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 112, len(body))
    c = csum(pseudo + body) ^ (0x1234 if bad_csum else 0)
    body = body[:6] + struct.pack("!H", c) + body[8:]
    if truncate:
        body = body[:6]
    return ipv4(src, dst, 112, body, ttl=ttl, tos=0xC0)

kind = sys.argv[1]
src = sys.argv[2] if len(sys.argv) > 2 else "10.100.1.2"
dst = "224.0.0.18"
args = {
    "ok": {}, "ttl": {"ttl": 254}, "version": {"version": 2}, "vrid": {"vrid": 52, "prio": 254},
    "checksum": {"bad_csum": True}, "truncated": {"truncate": True}, "type": {"typ": 2},
}[kind]
pkt = advert(src, dst, **args)
s = raw_sender()
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
for _ in range(3):
    s.sendto(pkt, (dst, 0))
    time.sleep(0.01)
