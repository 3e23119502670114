/* Probes that make both ends of an idle TCP session speak: an out-of-window ACK, which a live TCP
 * answers with an ACK of its own (RFC 793/5961). The datapath answers those with RST when the
 * session was shut down (on-marked-down shutdown-sessions), so idle sessions close promptly. */
#ifndef PGS_PROBE_H
#define PGS_PROBE_H

#include <stddef.h>
#include <stdint.h>

#define PROBE_LEN 40 /* IPv4 + TCP headers, no options */

/* Build the probe src:sport -> dst:dport (network order) with both checksums. Pure. */
void probe_build(uint8_t buf[PROBE_LEN], uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint32_t seq,
		 uint32_t ack);

/* A raw IPv4 socket to send probes with (the source is ours to set). fd or -errno. */
int probe_open(void);
/* 0 or -errno. */
int probe_send(int fd, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport);

#endif
