/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Header parsers over a cursor and data_end, shared unchanged by the XDP and TC entry points. */
#ifndef PGS_PARSE_H
#define PGS_PARSE_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include "common.h"

#define PGS_IP_MF 0x2000      /* frag_off: more fragments */
#define PGS_IP_OFFSET 0x1fff  /* frag_off: fragment offset */
#define PGS_TCP_PORTS_LEN 4   /* source and destination port: all a first look needs */
#define PGS_TCP_OFF_SEQ 4     /* byte offsets in the TCP header */
#define PGS_TCP_OFF_FLAGS 12  /* the 16-bit word of data offset and flags */
#define PGS_TCP_OFF_CHECK 16

struct hdr_cursor {
	void *pos;
};

/* Returns the EtherType (network order), or -1 when the frame is shorter than an Ethernet header. */
static __always_inline int parse_eth(struct hdr_cursor *c, void *data_end, struct ethhdr **eth)
{
	struct ethhdr *h = c->pos;

	if ((void *)(h + 1) > data_end)
		return -1;
	c->pos = h + 1;
	*eth = h;
	return h->h_proto;
}

/* Returns the IP protocol, or -1 for a truncated or impossible header. Options are skipped. */
static __always_inline int parse_ipv4(struct hdr_cursor *c, void *data_end, struct iphdr **ip)
{
	struct iphdr *h = c->pos;
	__u32 hlen;

	if ((void *)(h + 1) > data_end)
		return -1;
	hlen = h->ihl * 4;
	if (h->version != 4 || hlen < sizeof(*h))
		return -1;
	if (c->pos + hlen > data_end)
		return -1;
	/* tot_len 0 is a BIG TCP packet (over 64 KiB, length from the skb): fine. */
	if (h->tot_len && bpf_ntohs(h->tot_len) < hlen)
		return -1;
	c->pos += hlen;
	*ip = h;
	return h->protocol;
}

/* A fragment that is not the first (no TCP header in it) or a first fragment with more to come. */
static __always_inline int ipv4_is_fragment(const struct iphdr *ip)
{
	return (ip->frag_off & bpf_htons(PGS_IP_MF | PGS_IP_OFFSET)) != 0;
}

/* Returns 0, or -1 when the TCP header (with its options) does not fit in the frame. */
static __always_inline int parse_tcp(struct hdr_cursor *c, void *data_end, struct tcphdr **tcp)
{
	struct tcphdr *h = c->pos;
	__u32 hlen;

	if ((void *)(h + 1) > data_end)
		return -1;
	hlen = h->doff * 4;
	if (hlen < sizeof(*h) || c->pos + hlen > data_end)
		return -1;
	c->pos += hlen;
	*tcp = h;
	return 0;
}

/* FIN/SYN/RST/PSH/ACK/URG as one byte (the second of the data offset and flags word). */
static __always_inline __u8 tcp_flag_byte(const struct tcphdr *tcp)
{
	return ((const __u8 *)tcp)[PGS_TCP_OFF_FLAGS + 1];
}

#endif
