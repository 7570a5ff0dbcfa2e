/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Harness "eth": a received frame, as the wire gives it, through the code
 * that runs in production on it.
 *
 * 1. The header checks of lib/dp/mg_parse.h on the raw bytes (mg_parse_eth,
 *    mg_parse_ip4, mg_parse_ip6 and its extension header walk): whatever
 *    they accept lies inside the buffer.
 * 2. The frame in an mbuf, given to the worker graph at eth-input as port-rx
 *    would: L2 and VLAN mapping, the IPv4/IPv6 input checks and policy,
 *    lookup and rewrite, ipX-local (echo), ICMP errors, fragmentation, punts
 *    handled by forwarding control (ARP, ND, resolution), the replies it
 *    injects, and egress checked frame by frame (fuzz_dp.c).
 *
 * Input: one control byte, then the frame.
 *   bit 0     receiving port (0: p0 with VLAN 100, 1: p1)
 *   bits 1-2  the NIC's IPv4 checksum verdict: unknown, good, bad, none (with
 *             "good" the harness makes the header checksum right, as a NIC would)
 *   bits 3-5  extra copies of the frame in the same burst (0-7)
 */
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include "fuzz.h"
#include "fuzz_dp.h"
#include "mg_parse.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	fz_dp_init("eth");
	(void)argv;
	return 0;
}

/* The parsers on their own, over exactly the frame's bytes. */
static void
parse_raw(const uint8_t *f, uint32_t len, uint64_t ck)
{
	struct mg_eth_info ei;
	struct mg_ip4_info i4;
	struct mg_ip6_info i6;
	const uint8_t *l3;
	uint32_t l3len;

	if (mg_parse_eth(f, len, &ei) != MG_DROP_NONE)
		return;
	FZ_ASSERT((ei.l2_len == 14 || ei.l2_len == 18) && ei.l2_len <= len, "l2_len %u of %u",
		  ei.l2_len, len);
	FZ_ASSERT(ei.vlan <= 4095, "VLAN %u", ei.vlan);
	l3 = f + ei.l2_len;
	l3len = len - ei.l2_len;
	if (ei.type == MG_ETH_IPV4_BE &&
	    mg_parse_ip4((const struct rte_ipv4_hdr *)(const void *)l3, l3len, ck, &i4) ==
		    MG_DROP_NONE) {
		FZ_ASSERT(i4.ihl >= 20 && i4.ihl <= i4.tot && i4.tot <= l3len,
			  "ihl %u, total %u, in %u bytes", i4.ihl, i4.tot, l3len);
		FZ_ASSERT(i4.options == (i4.ihl > 20), "options flag");
	} else if (ei.type == MG_ETH_IPV6_BE && mg_parse_ip6(l3, l3len, &i6) == MG_DROP_NONE) {
		uint8_t proto;
		uint32_t l4off;
		int frag, first;

		FZ_ASSERT(i6.tot >= MG_IP6_HLEN && i6.tot <= l3len, "total %u in %u bytes", i6.tot,
			  l3len);
		if (mg_ip6_walk(l3, i6.tot, &proto, &l4off, &frag, &first) == 0)
			FZ_ASSERT(l4off <= i6.tot, "upper layer at %u of %u", l4off, i6.tot);
	}
}

/* Correct the IPv4 header checksum of an untagged or single-tagged frame, if it has one. */
static void
fix_ip4_cksum(uint8_t *f, uint32_t len)
{
	uint32_t l2 = 14, ihl;
	struct rte_ipv4_hdr *ip;

	if (len >= 18 && f[12] == 0x81 && f[13] == 0x00)
		l2 = 18;
	if (len < l2 + 20 || f[l2 - 2] != 0x08 || f[l2 - 1] != 0x00)
		return;
	ip = (struct rte_ipv4_hdr *)(void *)(f + l2);
	ihl = (ip->version_ihl & 0xfu) * 4u;
	if (ihl < 20 || l2 + ihl > len)
		return;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = mg_inet_cksum(ip, ihl);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t verdicts[4] = {
		RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN, RTE_MBUF_F_RX_IP_CKSUM_GOOD,
		RTE_MBUF_F_RX_IP_CKSUM_BAD, RTE_MBUF_F_RX_IP_CKSUM_NONE,
	};
	struct rte_mbuf *pkts[8];
	uint16_t n = 0, copies;
	uint64_t ck;
	uint32_t len;
	uint8_t *f;

	if (size < 1)
		return 0;
	ck = verdicts[(data[0] >> 1) & 3];
	copies = (uint16_t)(1 + ((data[0] >> 3) & 7));
	len = (uint32_t)RTE_MIN(size - 1, (size_t)FZ_MAX_FRAME);
	/* An exact-size heap copy: aligned as a frame is, and bounded by ASan's redzone. */
	f = malloc(len ? len : 1);
	FZ_SETUP(f != NULL, "out of memory");
	memcpy(f, data + 1, len);
	/* A NIC that says "good" is right: make it so. */
	if (ck == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
		fix_ip4_cksum(f, len);
	parse_raw(f, len, ck);
	for (uint16_t i = 0; i < copies; i++) {
		pkts[n] = fz_frame(f, len, data[0] & 1, ck);
		if (pkts[n] != NULL)
			n++;
	}
	free(f);
	fz_dp_rx(pkts, n);
	fz_dp_reset();
	return 0;
}
