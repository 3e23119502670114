/* VRRP's sockets: IP protocol 112 on one interface (TTL 255, TOS 0xc0, 224.0.0.18 or unicast)
 * and gratuitous ARP on AF_PACKET. The instance that uses them (vrrp_new() and friends, declared
 * in vrrp.h) lives in vrrp_net.c too. All return 0 (or a length) or -errno. */
#ifndef PGS_VRRP_NET_H
#define PGS_VRRP_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A raw IPv4 socket for protocol 112 bound to ifname: receives with the IP header (to read the
 * TTL), sends packets built by vrrp_encode() (IP_HDRINCL), multicast out of ifindex without
 * looping back. join: also join 224.0.0.18 on ifindex (multicast mode). */
int vrrp_sock_open(const char *ifname, int ifindex, int join, int *fd);
int vrrp_sock_send(int fd, const uint8_t *pkt, size_t len, uint32_t dst);
/* One packet, non-blocking: its length, or -EAGAIN when there is none. */
ssize_t vrrp_sock_recv(int fd, uint8_t *buf, size_t len);

/* An AF_PACKET socket that only sends (protocol 0: nothing queued for reading). */
int vrrp_garp_open(int *fd);
/* Send frames built by vrrp_garp_build() out of ifindex, count times back to back. */
int vrrp_garp_send(int fd, int ifindex, const uint8_t *frame, size_t len, unsigned int count);

#endif
