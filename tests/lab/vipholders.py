#!/usr/bin/env python3
"""Who holds the VIP, sampled in both namespaces at (nearly) the same instant: one process keeps a
rtnetlink socket in each namespace and asks A, then B, then A again, back to back (well under a ms
apart, where two `ip` runs per node take tens of ms on a busy machine and a transition fits between
them). A node holds the VIP when eth0 carries it and its link is up (LOWER_UP: a node whose link was
cut may keep the address, but nobody reaches it). Two holders are counted only when A held it before
and after B was seen holding it: a move from A to B between the queries is not a split brain.

usage: vipholders.py NS_A NS_B VIP STOPFILE OUT [INTERVAL_MS=20] [MAX_SECONDS=1800]
Samples until STOPFILE exists, then writes OUT: the number of samples with two holders on the first
line, then one line per such sample (its number, CLOCK_MONOTONIC ms, the wall clock as the lab's logs
print it), and a last "# N samples" line."""
import ctypes, os, socket, struct, sys, time

CLONE_NEWNET = 0x40000000
RTM_GETLINK, RTM_GETADDR = 18, 22
NLM_F_REQUEST, NLM_F_DUMP = 1, 0x300
NLMSG_DONE, NLMSG_ERROR = 3, 2
IFA_LOCAL, IFF_LOWER_UP = 2, 0x10000

libc = ctypes.CDLL(None, use_errno=True)


def sock_in(ns):
    """A NETLINK_ROUTE socket of namespace ns (/run/netns/ns); the process stays in the last one."""
    with open("/run/netns/" + ns) as f:
        if libc.setns(f.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + ns)
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    s.bind((0, 0))
    return s


def request(s, mtype, body, seq):
    s.send(struct.pack("=IHHII", 16 + len(body), mtype, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body)
    msgs = []
    while True:
        data = s.recv(65536)
        off = 0
        while off + 16 <= len(data):
            ln, t, _, sq, _ = struct.unpack_from("=IHHII", data, off)
            if ln < 16:
                return msgs
            if sq == seq:
                if t in (NLMSG_DONE, NLMSG_ERROR):
                    return msgs
                msgs.append((t, data[off + 16:off + ln]))
            off += (ln + 3) & ~3


def attrs(buf, off):
    while off + 4 <= len(buf):
        ln, t = struct.unpack_from("=HH", buf, off)
        if ln < 4:
            return
        yield t, buf[off + 4:off + ln]
        off += (ln + 3) & ~3


class Node:
    def __init__(self, ns):
        self.s, self.seq = sock_in(ns), 0
        self.ifindex = socket.if_nametoindex("eth0")  # in the namespace entered last: set below

    def holds(self, vip):
        self.seq += 1
        up = False
        for _, m in request(self.s, RTM_GETLINK, struct.pack("=BxHiII", 0, 0, 0, 0, 0), self.seq):
            _, _, idx, flags, _ = struct.unpack_from("=BxHiII", m)
            if idx == self.ifindex:
                up = bool(flags & IFF_LOWER_UP)
        if not up:
            return False
        self.seq += 1
        for _, m in request(self.s, RTM_GETADDR, struct.pack("=BBBBi", socket.AF_INET, 0, 0, 0, 0), self.seq):
            _, _, _, _, idx = struct.unpack_from("=BBBBi", m)
            if idx == self.ifindex:
                for t, v in attrs(m, 8):
                    if t == IFA_LOCAL and v == vip:
                        return True
        return False


def main():
    ns_a, ns_b, vip, stop, out = sys.argv[1:6]
    interval = int(sys.argv[6]) / 1000 if len(sys.argv) > 6 else 0.02
    limit = float(sys.argv[7]) if len(sys.argv) > 7 else 1800
    vip = socket.inet_aton(vip)
    a = Node(ns_a)   # each Node reads eth0's index in its own namespace, entered just before
    b = Node(ns_b)
    both, when, n = 0, [], 0
    start = time.monotonic()
    while not os.path.exists(stop) and time.monotonic() - start < limit:
        n += 1
        if a.holds(vip) and b.holds(vip) and a.holds(vip):
            both += 1
            t = time.time()
            when.append("%d %d %s.%03d" % (n, time.monotonic_ns() // 1000000,
                                        time.strftime("%H:%M:%S", time.localtime(t)), int(t * 1000) % 1000))
        time.sleep(interval)
    with open(out + ".tmp", "w") as f:
        f.write("%d\n" % both)
        for w in when:
            f.write(w + "\n")
        f.write("# %d samples in %.0f s\n" % (n, time.monotonic() - start))
    os.replace(out + ".tmp", out)


main()
