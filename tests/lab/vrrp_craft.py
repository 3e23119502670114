#!/usr/bin/env python3
"""Send VRRP adverts built here, good or deliberately wrong, to 224.0.0.18 from the node it runs in.
usage: vrrp_craft.py KIND [SRC]; KIND: ok ttl version vrid checksum truncated type.
Each is sent 3 times, 10 ms apart."""
import socket, struct, sys, time

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF

def advert(src, dst, vrid=51, prio=50, version=3, typ=1, bad_csum=False, ttl=255, truncate=False):
    vip = socket.inet_aton("10.100.1.100")
    body = struct.pack("!BBBBHH", (version << 4) | typ, vrid, prio, 1, 100, 0) + vip
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 112, len(body))
    c = csum(pseudo + body) ^ (0x1234 if bad_csum else 0)
    body = body[:6] + struct.pack("!H", c) + body[8:]
    if truncate:
        body = body[:6]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 20 + len(body), 0, 0, ttl, 112, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + body

kind = sys.argv[1]
src = sys.argv[2] if len(sys.argv) > 2 else "10.100.1.2"
dst = "224.0.0.18"
args = {
    "ok": {}, "ttl": {"ttl": 254}, "version": {"version": 2}, "vrid": {"vrid": 52, "prio": 254},
    "checksum": {"bad_csum": True}, "truncated": {"truncate": True}, "type": {"typ": 2},
}[kind]
pkt = advert(src, dst, **args)
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
for _ in range(3):
    s.sendto(pkt, (dst, 0))
    time.sleep(0.01)
