/* The VRRP advert decoder (vrrp_decode): every packet on the wire may be forged. The first byte
 * picks the virtual router id the receiver expects; the rest is the IPv4 packet. An accepted advert
 * is well-formed: re-encoding it gives a packet the decoder accepts again with the same fields. */
#include <assert.h>
#include "fuzz.h"
#include "vrrp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vrrp_rx rx, again;
	uint8_t *pkt, out[VRRP_PKT_MAX];
	enum vrrp_drop d;
	int n;

	if (size < 1)
		return 0;
	/* an exact-size copy, so that a read past the end is caught */
	pkt = malloc(size - 1 ? size - 1 : 1);
	if (!pkt)
		abort();
	memcpy(pkt, data + 1, size - 1);
	memset(&rx, 0, sizeof(rx));
	d = vrrp_decode(pkt, size - 1, data[0], 0x0a00000a /* 10.0.0.10 */, &rx);
	assert(d >= VRRP_ACCEPT && d < VRRP_DROP_MAX);
	if (d == VRRP_ACCEPT) {
		assert(rx.adv.vrid == data[0]);
		assert(rx.ttl == VRRP_TTL);
		n = vrrp_encode(&rx.adv, rx.src, rx.dst, rx.csum, out, sizeof(out));
		if (n > 0 && rx.adv.naddrs <= VRRP_MAX_ADDRS) {
			memset(&again, 0, sizeof(again));
			assert(vrrp_decode(out, (size_t)n, data[0], 0x0a00000a, &again) == VRRP_ACCEPT);
			assert(again.adv.priority == rx.adv.priority && again.adv.interval_cs == rx.adv.interval_cs);
			assert(again.adv.naddrs == rx.adv.naddrs);
		}
	}
	free(pkt);
	return 0;
}
