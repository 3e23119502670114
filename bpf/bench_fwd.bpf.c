// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The bench's bare XDP forwarder: the physical limit of one load-balancer hop on this machine. The
 * same full-NAT rewrite pgsteer does (client -> VIP:port becomes VIP:cport -> server, and back), with
 * a static mapping set at load time: no flow table, no selection, no health state, no counters. The
 * server is picked by the client port (cport % nservers), so replies map back without any state.
 * Never part of pgsteerd: scripts/bench.sh attaches it through build/tools/pgs_benchfwd. */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lib/parse.h"
#include "lib/csum.h"

#define FWD_MAX_SERVERS 4

/* Set through the skeleton before load (network byte order). */
const volatile __u32 fwd_vip;        /* the forwarder's VIP, also its source towards the servers */
const volatile __u16 fwd_vport;      /* the service port clients connect to */
const volatile __u32 fwd_client;     /* the one client address it serves (static: replies need it) */
const volatile __u32 fwd_server;     /* the servers' address (the lab's PgBouncers share one host) */
const volatile __u16 fwd_sports[FWD_MAX_SERVERS]; /* the servers' ports */
const volatile __u32 fwd_nservers = 1;
const volatile unsigned char fwd_mac_self[ETH_ALEN];
const volatile unsigned char fwd_mac_client[ETH_ALEN];
const volatile unsigned char fwd_mac_server[ETH_ALEN];

/* Rewrite both addresses and both ports in place, checksums incrementally. */
static __always_inline void fwd_rewrite(struct iphdr *ip, struct tcphdr *tcp, __u32 saddr, __u32 daddr,
					__u16 sport, __u16 dport)
{
	__u32 a = 0, p;

	a = csum_diff32(a, ip->saddr, saddr);
	a = csum_diff32(a, ip->daddr, daddr);
	p = csum_diff16(0, tcp->source, sport);
	p = csum_diff16(p, tcp->dest, dport);
	ip->check = csum_apply(ip->check, a);
	tcp->check = csum_apply(tcp->check, a + p);
	ip->saddr = saddr;
	ip->daddr = daddr;
	tcp->source = sport;
	tcp->dest = dport;
}

/* Byte by byte: a memcpy from rodata cast to non-volatile would be folded to its zero initialiser. */
static __always_inline void fwd_macs(struct ethhdr *eth, const volatile unsigned char *dst)
{
	int i;

#pragma unroll
	for (i = 0; i < ETH_ALEN; i++) {
		eth->h_source[i] = fwd_mac_self[i];
		eth->h_dest[i] = dst[i];
	}
}

SEC("xdp")
int bench_fwd(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct hdr_cursor c = { .pos = (void *)(long)ctx->data };
	struct ethhdr *eth;
	struct iphdr *ip;
	struct tcphdr *tcp;
	__u32 i;

	if (parse_eth(&c, data_end, &eth) != bpf_htons(ETH_P_IP) || parse_ipv4(&c, data_end, &ip) != IPPROTO_TCP ||
	    parse_tcp(&c, data_end, &tcp) < 0 || ip->daddr != fwd_vip)
		return XDP_PASS;
	if (ip->saddr == fwd_client && tcp->dest == fwd_vport) {
		/* client -> VIP:vport: to server (cport % n), from VIP:cport. */
		i = bpf_ntohs(tcp->source) % fwd_nservers;
		if (i >= FWD_MAX_SERVERS)
			return XDP_PASS;
		fwd_rewrite(ip, tcp, fwd_vip, fwd_server, tcp->source, fwd_sports[i]);
		fwd_macs(eth, fwd_mac_server);
		return XDP_TX;
	}
	if (ip->saddr == fwd_server) {
		/* server -> VIP:cport: back to the client, from VIP:vport. */
		fwd_rewrite(ip, tcp, fwd_vip, fwd_client, fwd_vport, tcp->dest);
		fwd_macs(eth, fwd_mac_client);
		return XDP_TX;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
