"""Building IPv4 packets by hand for the lab tests that forge them (raw sockets, IP_HDRINCL)."""
import socket, struct

def csum(data):
    """The Internet checksum (RFC 1071) of data."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF

def ipv4(src, dst, proto, body, ttl=64, tos=0):
    """An IPv4 header (no options, checksum filled in) followed by body."""
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(body), 0, 0, ttl, proto, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    return ip[:10] + struct.pack("!H", csum(ip)) + ip[12:] + body

def raw_sender():
    """A raw socket that sends whole IPv4 packets as built."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    return s
