/* Test packets built from packed header structs, and checksums computed and verified by full
 * recompute (never incrementally), for the BPF table tests. */
#ifndef PGS_PKTGEN_H
#define PGS_PKTGEN_H

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>

#define PKT_MAX 1600 /* room for segments above the path-MTU floor (552) */

/* Headers inside a frame sit at any offset (IP at 14, TCP after options): they are accessed through
 * types of alignment 1, as the datapath reads them, so that UBSan (make check-sanitize) sees no
 * misaligned access and the compiler assumes none. */
typedef struct ethhdr pkt_ethhdr __attribute__((aligned(1)));
typedef struct iphdr pkt_iphdr __attribute__((aligned(1)));
typedef struct tcphdr pkt_tcphdr __attribute__((aligned(1)));

/* A TCP segment as the test describes it; addresses and ports in host order. */
struct tspec {
	uint8_t smac[6], dmac[6];
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	uint8_t flags;        /* TH_* bits of byte 13 */
	uint32_t seq, ack;
	uint16_t payload;     /* bytes of payload ('p' ...) */
	uint8_t ip_opts;      /* bytes of IP options (multiple of 4, NOPs ending in EOL) */
	uint16_t frag_off;    /* host order, flags and offset as in the header */
	uint8_t tcp_opts;     /* bytes of TCP options (multiple of 4: MSS then NOPs) */
};

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

static inline uint32_t csum_add_bytes(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static inline uint16_t csum_finish(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Full checksum of an IPv4 header (with the check field as it is). */
static inline uint16_t ip_csum(const pkt_iphdr *ip)
{
	return csum_finish(csum_add_bytes(0, ip, ip->ihl * 4u));
}

/* Full TCP checksum over pseudo-header and segment (with the check field as it is). */
static inline uint16_t tcp_csum(const pkt_iphdr *ip, const void *tcp, size_t len)
{
	uint32_t sum = 0;
	uint8_t pseudo[12];

	memcpy(pseudo, &ip->saddr, 4);
	memcpy(pseudo + 4, &ip->daddr, 4);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_TCP;
	pseudo[10] = (uint8_t)(len >> 8);
	pseudo[11] = (uint8_t)len;
	sum = csum_add_bytes(sum, pseudo, sizeof(pseudo));
	sum = csum_add_bytes(sum, tcp, len);
	return csum_finish(sum);
}

/* Build the frame; returns its length. Both checksums are computed from scratch. */
static inline size_t pkt_build(uint8_t *buf, const struct tspec *s)
{
	pkt_ethhdr *eth = (pkt_ethhdr *)buf;
	pkt_iphdr *ip = (pkt_iphdr *)(eth + 1);
	uint8_t *opt = (uint8_t *)(ip + 1);
	pkt_tcphdr *tcp;
	uint8_t *topt, *pl;
	size_t tcplen = sizeof(*tcp) + s->tcp_opts + s->payload, i;

	memset(buf, 0, PKT_MAX);
	memcpy(eth->h_dest, s->dmac, 6);
	memcpy(eth->h_source, s->smac, 6);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = (uint8_t)(5 + s->ip_opts / 4);
	ip->tot_len = htons((uint16_t)(ip->ihl * 4 + tcplen));
	ip->id = htons(0x1234);
	ip->frag_off = htons(s->frag_off);
	ip->ttl = 64;
	ip->protocol = IPPROTO_TCP;
	ip->saddr = htonl(s->saddr);
	ip->daddr = htonl(s->daddr);
	for (i = 0; i < s->ip_opts; i++)
		opt[i] = i + 1 == s->ip_opts ? 0 /* EOL */ : 1 /* NOP */;
	tcp = (pkt_tcphdr *)((uint8_t *)ip + ip->ihl * 4);
	tcp->source = htons(s->sport);
	tcp->dest = htons(s->dport);
	tcp->seq = htonl(s->seq);
	tcp->ack_seq = htonl(s->ack);
	tcp->doff = (uint16_t)(5 + s->tcp_opts / 4);
	((uint8_t *)tcp)[13] = s->flags;
	tcp->window = htons(64240);
	topt = (uint8_t *)(tcp + 1);
	for (i = 0; i < s->tcp_opts; i++)
		topt[i] = 1; /* NOP */
	if (s->tcp_opts >= 4) {
		topt[0] = 2; /* MSS 1460 */
		topt[1] = 4;
		topt[2] = 0x05;
		topt[3] = 0xb4;
	}
	pl = topt + s->tcp_opts;
	for (i = 0; i < s->payload; i++)
		pl[i] = (uint8_t)('a' + i % 26);
	ip->check = 0;
	ip->check = htons(ip_csum(ip));
	tcp->check = 0;
	tcp->check = htons(tcp_csum(ip, tcp, tcplen));
	return sizeof(*eth) + ip->ihl * 4 + tcplen;
}

/* 1 when both checksums of a frame verify by full recompute. */
static inline int pkt_csums_ok(const uint8_t *buf, size_t len)
{
	const pkt_iphdr *ip = (const pkt_iphdr *)(buf + sizeof(struct ethhdr));
	size_t off = sizeof(struct ethhdr) + ip->ihl * 4u;

	if (len < off + sizeof(struct tcphdr))
		return 0;
	return ip_csum(ip) == 0 && tcp_csum(ip, buf + off, ntohs(ip->tot_len) - ip->ihl * 4u) == 0;
}

/* Fields of a frame, for assertions. */
struct tview {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	uint8_t flags;
	uint32_t seq, ack;
	const uint8_t *dmac, *smac;
};

static inline struct tview pkt_view(const uint8_t *buf)
{
	const pkt_ethhdr *eth = (const pkt_ethhdr *)buf;
	const pkt_iphdr *ip = (const pkt_iphdr *)(eth + 1);
	const pkt_tcphdr *tcp = (const pkt_tcphdr *)((const uint8_t *)ip + ip->ihl * 4);
	struct tview v = {
		.saddr = ntohl(ip->saddr),
		.daddr = ntohl(ip->daddr),
		.sport = ntohs(tcp->source),
		.dport = ntohs(tcp->dest),
		.flags = ((const uint8_t *)tcp)[13],
		.seq = ntohl(tcp->seq),
		.ack = ntohl(tcp->ack_seq),
		.dmac = eth->h_dest,
		.smac = eth->h_source,
	};
	return v;
}

#endif
