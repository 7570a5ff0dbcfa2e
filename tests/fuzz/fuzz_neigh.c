/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Harness "neigh": ARP and IPv6 neighbor discovery as the main lcore handles
 * them (lib/fwd/neigh.c, reached through mg_fwd_punt), fed the way
 * production feeds it: each frame enters the worker graph at eth-input, which
 * punts ARP and ND (and packets waiting for a neighbor); forwarding control
 * answers, learns, holds and releases packets, and probes as time passes.
 * Inputs are sequences, so the neighbor state machine is driven across
 * several messages (a packet that needs resolution, then the answer, then
 * time), and every reply leaving a port is checked (fuzz_dp.c).
 *
 * Input: records of [control][length][length bytes]. Control:
 *   bits 0-2  0: ARP body (an Ethernet header is put in front)
 *             1: IPv6 packet (ND and others; Ethernet header in front)
 *             2: IPv4 packet (Ethernet header in front)
 *             3: a whole frame
 *             4: time passes: the body is a little-endian count of ms
 *             5-7: as 0-2, in one burst with the record that follows
 *   bit 3     receiving port (0: p0 with VLAN 100, 1: p1)
 *   bit 4     802.1Q tag 100 (the p0.100 sub-interface)
 *   bit 5     destination MAC: 0 the port's own, 1 broadcast/multicast
 *   bit 6     fix up lengths and checksums (IPv4 header, IPv6 payload length
 *             and ICMPv6 checksum), so mutations get past them
 */
#include <string.h>

#include <rte_byteorder.h>
#include <rte_mbuf.h>

#include "fuzz.h"
#include "fuzz_dp.h"
#include "mg_proto.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_dp_init("neigh");
	return 0;
}

/* Build the frame a record describes into @f; returns its length. */
static uint32_t
build(uint8_t ctl, const uint8_t *body, uint32_t blen, uint8_t *f)
{
	static const uint8_t own[2][6] = {{2, 0, 0, 0, 0, 1}, {2, 0, 0, 0, 0, 2}};
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t mcast6[6] = {0x33, 0x33, 0xff, 0x00, 0x00, 0x01};
	static const uint8_t peer[6] = {0x02, 0x00, 0x00, 0x00, 0xaa, 0x01};
	unsigned int kind = ctl & 7, port = (ctl >> 3) & 1;
	uint16_t type = kind % 5 == 0 ? MG_ETH_ARP : kind % 5 == 1 ? MG_ETH_IPV6 : MG_ETH_IPV4;
	uint32_t l2 = 14;
	uint8_t *l3;

	if (kind == 3) {
		memcpy(f, body, blen);
		return blen;
	}
	memcpy(f, !(ctl & 0x20) ? own[port] : type == MG_ETH_IPV6 ? mcast6 : bcast, 6);
	memcpy(f + 6, peer, 6);
	if (ctl & 0x10) {
		f[12] = 0x81;
		f[13] = 0x00;
		f[14] = 0x00;
		f[15] = 100;
		l2 = 18;
	}
	f[l2 - 2] = (uint8_t)(type >> 8);
	f[l2 - 1] = (uint8_t)type;
	l3 = f + l2;
	memcpy(l3, body, blen);
	if ((ctl & 0x40) && type == MG_ETH_IPV6 && blen >= MG_IP6_HLEN) {
		rte_be16_t plen = rte_cpu_to_be_16((uint16_t)(blen - MG_IP6_HLEN));

		memcpy(l3 + 4, &plen, 2);
		fz_ip6_fix_l4_cksum(l3, blen);
	} else if ((ctl & 0x40) && type == MG_ETH_IPV4 && blen >= 20) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(void *)l3;
		uint32_t ihl = (ip->version_ihl & 0xfu) * 4u;

		ip->total_length = rte_cpu_to_be_16((uint16_t)blen);
		if (ihl >= 20 && ihl <= blen) {
			ip->hdr_checksum = 0;
			ip->hdr_checksum = mg_inet_cksum(ip, ihl);
		}
	}
	return l2 + blen;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[FZ_MAX_FRAME + 18];
	struct rte_mbuf *burst[16];
	uint16_t n = 0;
	size_t off = 0;

	while (off + 2 <= size) {
		uint8_t ctl = data[off];
		uint32_t blen = data[off + 1];
		const uint8_t *body = data + off + 2;
		bool more;

		if (blen > size - off - 2)
			blen = (uint32_t)(size - off - 2);
		off += 2 + blen;
		if ((ctl & 7) == 4) {
			uint64_t ms = 0;

			for (uint32_t i = 0; i < blen && i < 4; i++)
				ms |= (uint64_t)body[i] << (8 * i);
			fz_dp_rx(burst, n);
			n = 0;
			fz_dp_advance(ms);
			continue;
		}
		more = (ctl & 7) >= 5;
		if (more)
			ctl = (uint8_t)((ctl & ~7) | ((ctl & 7) - 5));
		if (n < RTE_DIM(burst)) {
			uint32_t flen = build(ctl, body, blen, frame);
			struct rte_mbuf *m = fz_frame(frame, flen, (ctl >> 3) & 1, 0);

			if (m != NULL)
				burst[n++] = m;
		}
		if (!more) {
			fz_dp_rx(burst, n);
			n = 0;
		}
	}
	fz_dp_rx(burst, n);
	fz_dp_reset();
	return 0;
}
