/* Out-of-window ACK probes for shutting down idle sessions. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/random.h>
#include <sys/socket.h>
#include "probe.h"

static uint16_t csum(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

void probe_build(uint8_t buf[PROBE_LEN], uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint32_t seq,
		 uint32_t ack)
{
	struct iphdr *ip = (struct iphdr *)buf;
	struct tcphdr *tcp = (struct tcphdr *)(ip + 1);
	uint8_t pseudo[12 + sizeof(*tcp)];

	memset(buf, 0, PROBE_LEN);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(PROBE_LEN);
	ip->ttl = 64;
	ip->protocol = IPPROTO_TCP;
	ip->saddr = src;
	ip->daddr = dst;
	ip->check = csum(0, ip, sizeof(*ip));
	tcp->source = sport;
	tcp->dest = dport;
	tcp->seq = htonl(seq);
	tcp->ack_seq = htonl(ack);
	tcp->doff = 5;
	tcp->ack = 1;
	tcp->window = htons(1024);
	memcpy(pseudo, &src, 4);
	memcpy(pseudo + 4, &dst, 4);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_TCP;
	pseudo[10] = 0;
	pseudo[11] = sizeof(*tcp);
	memcpy(pseudo + 12, tcp, sizeof(*tcp));
	tcp->check = csum(0, pseudo, sizeof(pseudo));
}

int probe_open(void)
{
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);

	return fd < 0 ? -errno : fd;
}

int probe_send(int fd, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = dst };
	uint8_t buf[PROBE_LEN];
	uint32_t rnd[2];

	/* Random sequence numbers fall outside any window but a vanishingly unlucky one. */
	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd[0] = (uint32_t)random(), rnd[1] = (uint32_t)random();
	probe_build(buf, src, sport, dst, dport, rnd[0], rnd[1]);
	return sendto(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&to, sizeof(to)) < 0 ? -errno : 0;
}
