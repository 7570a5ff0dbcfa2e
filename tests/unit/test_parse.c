/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Header parsing and checksums on byte buffers: Ethernet/VLAN, IPv4
 * validation (RFC 1812 5.2.2), IPv6 with extension header chains, the
 * incremental TTL checksum update against a full recomputation.
 */
#include <rte_ip.h>

#include "mg_parse.h"
#include "mg_test.h"

/* A valid 20-byte IPv4 header: 10.0.0.2 -> 10.1.0.9, UDP, total @tot. */
static void
ip4_build(uint8_t *p, uint16_t tot)
{
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)p;

	memset(p, 0, 20);
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16(tot);
	ip->time_to_live = 64;
	ip->next_proto_id = 17;
	ip->src_addr = rte_cpu_to_be_32(0x0a000002);
	ip->dst_addr = rte_cpu_to_be_32(0x0a010009);
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
}

static void
ip4_fix(uint8_t *p)
{
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)p;

	ip->hdr_checksum = 0;
	ip->hdr_checksum = mg_inet_cksum(ip, (ip->version_ihl & 0xf) * 4u);
}

static enum mg_drop
ip4(const uint8_t *p, uint32_t len)
{
	struct mg_ip4_info info;

	return mg_parse_ip4((const struct rte_ipv4_hdr *)p, len, 0, &info);
}

MG_TEST(eth_untagged_and_tagged)
{
	uint8_t f[64] = {0};
	struct mg_eth_info ei;

	f[12] = 0x08;
	f[13] = 0x00;
	CHECK_EQ(mg_parse_eth(f, 60, &ei), MG_DROP_NONE);
	CHECK_EQ(ei.type, MG_ETH_IPV4_BE);
	CHECK_EQ(ei.vlan, 0);
	CHECK_EQ(ei.l2_len, 14);
	f[12] = 0x81; f[13] = 0x00; f[14] = 0x20; f[15] = 0x64; f[16] = 0x86; f[17] = 0xdd;
	CHECK_EQ(mg_parse_eth(f, 60, &ei), MG_DROP_NONE);
	CHECK_EQ(ei.vlan, 100);
	CHECK_EQ(ei.type, MG_ETH_IPV6_BE);
	CHECK_EQ(ei.l2_len, 18);
	CHECK_EQ(mg_parse_eth(f, 17, &ei), MG_DROP_ETH_TRUNCATED);
	CHECK_EQ(mg_parse_eth(f, 13, &ei), MG_DROP_ETH_TRUNCATED);
	CHECK_EQ(mg_parse_eth(f, 0, &ei), MG_DROP_ETH_TRUNCATED);
	f[14] = 0xe0; f[15] = 0x00; /* PCP 7, VLAN 0: a priority tag */
	CHECK_EQ(mg_parse_eth(f, 60, &ei), MG_DROP_NONE);
	CHECK_EQ(ei.vlan, 0);
}

MG_TEST(ip4_valid)
{
	uint8_t p[64];
	struct mg_ip4_info info = {0};

	ip4_build(p, 28);
	CHECK_EQ(mg_parse_ip4((struct rte_ipv4_hdr *)p, 28, 0, &info), MG_DROP_NONE);
	CHECK_EQ(info.tot, 28);
	CHECK_EQ(info.ihl, 20);
	CHECK(!info.options && !info.fragment);
	/* Ethernet padding after the datagram is fine (the node trims it). */
	CHECK_EQ(ip4(p, 46), MG_DROP_NONE);
}

MG_TEST(ip4_each_drop_reason)
{
	uint8_t p[64];

	ip4_build(p, 28);
	CHECK_EQ(ip4(p, 19), MG_DROP_IP4_TRUNCATED);
	CHECK_EQ(ip4(p, 27), MG_DROP_IP4_TRUNCATED); /* total length beyond the frame */
	p[0] = 0x65; ip4_fix(p);
	CHECK_EQ(ip4(p, 28), MG_DROP_IP4_BAD_VERSION);
	ip4_build(p, 28); p[0] = 0x44; ip4_fix(p);
	CHECK_EQ(ip4(p, 28), MG_DROP_IP4_BAD_IHL);
	ip4_build(p, 28); p[0] = 0x4f; ip4_fix(p);
	CHECK_EQ(ip4(p, 28), MG_DROP_IP4_TRUNCATED); /* 60-byte header in 28 bytes */
	ip4_build(p, 28); p[2] = 0; p[3] = 12; ip4_fix(p);
	CHECK_EQ(ip4(p, 28), MG_DROP_IP4_BAD_LENGTH);
	ip4_build(p, 28); p[10] ^= 0xff;
	CHECK_EQ(ip4(p, 28), MG_DROP_IP4_BAD_CHECKSUM);
	ip4_build(p, 28); p[12] = 224; ip4_fix(p);
	CHECK_EQ(ip4(p, 28), MG_DROP_IP4_BAD_SRC);
	ip4_build(p, 28); p[12] = 127; ip4_fix(p);
	CHECK_EQ(ip4(p, 28), MG_DROP_IP4_BAD_SRC);
	ip4_build(p, 28); p[12] = 0; ip4_fix(p);
	CHECK_EQ(ip4(p, 28), MG_DROP_IP4_BAD_SRC);
	ip4_build(p, 28); memset(p + 12, 0xff, 4); ip4_fix(p);
	CHECK_EQ(ip4(p, 28), MG_DROP_IP4_BAD_SRC);
	ip4_build(p, 28); p[16] = 127; ip4_fix(p);
	CHECK_EQ(ip4(p, 28), MG_DROP_IP4_BAD_DST);
	ip4_build(p, 28); p[16] = 239; ip4_fix(p);
	CHECK_EQ(ip4(p, 28), MG_DROP_IP4_MULTICAST);
	ip4_build(p, 28); memset(p + 16, 0xff, 4); ip4_fix(p);
	CHECK_EQ(ip4(p, 28), MG_DROP_IP4_MULTICAST);
}

MG_TEST(ip4_checksum_offload_flags)
{
	uint8_t p[64];
	struct mg_ip4_info info;

	ip4_build(p, 28);
	p[10] ^= 0xff; /* wrong, but the NIC says good: trust the NIC */
	CHECK_EQ(mg_parse_ip4((struct rte_ipv4_hdr *)p, 28, RTE_MBUF_F_RX_IP_CKSUM_GOOD, &info),
		 MG_DROP_NONE);
	ip4_build(p, 28);
	CHECK_EQ(mg_parse_ip4((struct rte_ipv4_hdr *)p, 28, RTE_MBUF_F_RX_IP_CKSUM_BAD, &info),
		 MG_DROP_IP4_BAD_CHECKSUM);
}

MG_TEST(ip4_options_and_fragments_reported)
{
	uint8_t p[64] = {0};
	struct mg_ip4_info info;

	ip4_build(p, 24);
	p[0] = 0x46;
	p[20] = 1; p[21] = 1; p[22] = 1; p[23] = 0; /* NOP NOP NOP EOL */
	ip4_fix(p);
	CHECK_EQ(mg_parse_ip4((struct rte_ipv4_hdr *)p, 24, 0, &info), MG_DROP_NONE);
	CHECK(info.options);
	ip4_build(p, 28);
	p[6] = 0x20; /* MF */
	ip4_fix(p);
	CHECK_EQ(mg_parse_ip4((struct rte_ipv4_hdr *)p, 28, 0, &info), MG_DROP_NONE);
	CHECK(info.fragment);
	ip4_build(p, 28);
	p[6] = 0x40; /* DF only: not a fragment */
	ip4_fix(p);
	CHECK_EQ(mg_parse_ip4((struct rte_ipv4_hdr *)p, 28, 0, &info), MG_DROP_NONE);
	CHECK(!info.fragment);
}

MG_TEST(ip4_ttl_decrement_matches_full_checksum)
{
	uint8_t p[64];
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)p;

	/* Every TTL, and a spread of other header contents. */
	for (unsigned int seed = 0; seed < 2000; seed++) {
		ip4_build(p, 28);
		ip->packet_id = rte_cpu_to_be_16((uint16_t)(seed * 7919));
		ip->type_of_service = (uint8_t)seed;
		ip->time_to_live = (uint8_t)(2 + seed % 254);
		ip4_fix(p);
		mg_ip4_ttl_dec(ip);
		if (!mg_ip4_cksum_ok(ip, 5)) {
			MG_FAIL("incremental checksum wrong for seed %u", seed);
			break;
		}
	}
}

/* IPv6 header with @nh, payload @plen, src fd00::2, dst fd00:1::9. */
static void
ip6_build(uint8_t *p, uint8_t nh, uint16_t plen)
{
	struct rte_ipv6_hdr *h = (struct rte_ipv6_hdr *)p;

	memset(p, 0, 40);
	h->vtc_flow = rte_cpu_to_be_32(6u << 28);
	h->payload_len = rte_cpu_to_be_16(plen);
	h->proto = nh;
	h->hop_limits = 64;
	h->src_addr[0] = 0xfd; h->src_addr[15] = 2;
	h->dst_addr[0] = 0xfd; h->dst_addr[3] = 1; h->dst_addr[15] = 9;
}

static enum mg_drop
ip6(const uint8_t *p, uint32_t len, struct mg_ip6_info *info)
{
	return mg_parse_ip6(p, len, info);
}

MG_TEST(ip6_valid_and_reasons)
{
	uint8_t p[256] = {0};
	struct mg_ip6_info info;

	ip6_build(p, 17, 8);
	CHECK_EQ(ip6(p, 48, &info), MG_DROP_NONE);
	CHECK_EQ(info.tot, 48);
	CHECK_EQ(ip6(p, 39, &info), MG_DROP_IP6_TRUNCATED);
	CHECK_EQ(ip6(p, 47, &info), MG_DROP_IP6_TRUNCATED);
	p[0] = 0x40;
	CHECK_EQ(ip6(p, 48, &info), MG_DROP_IP6_BAD_VERSION);
	ip6_build(p, 17, 8); p[8] = 0xff;
	CHECK_EQ(ip6(p, 48, &info), MG_DROP_IP6_BAD_SRC);
	ip6_build(p, 17, 8); memset(p + 8, 0, 16);
	CHECK_EQ(ip6(p, 48, &info), MG_DROP_IP6_BAD_SRC);
	ip6_build(p, 17, 8); memset(p + 8, 0, 16); p[23] = 1;
	CHECK_EQ(ip6(p, 48, &info), MG_DROP_IP6_BAD_SRC);
	ip6_build(p, 17, 8); p[24] = 0xff; p[25] = 0x0e;
	CHECK_EQ(ip6(p, 48, &info), MG_DROP_IP6_MULTICAST);
	ip6_build(p, 17, 8); memset(p + 24, 0, 16); p[39] = 1;
	CHECK_EQ(ip6(p, 48, &info), MG_DROP_IP6_BAD_DST);
	ip6_build(p, 17, 8); p[24] = 0xfe; p[25] = 0x80;
	CHECK_EQ(ip6(p, 48, &info), MG_DROP_NONE);
	CHECK(info.link_local_dst);
}

MG_TEST(ip6_nd_is_recognised_from_unspecified_source)
{
	uint8_t p[256] = {0};
	struct mg_ip6_info info;

	ip6_build(p, 58, 24);
	memset(p + 8, 0, 16);  /* DAD: from :: */
	p[24] = 0xff;          /* to a solicited-node group */
	p[40] = MG_ICMP6_ND_NS;
	CHECK_EQ(ip6(p, 64, &info), MG_DROP_NONE);
	CHECK(info.nd);
	p[40] = MG_ICMP6_ECHO_REQUEST; /* not ND: then :: as a source is refused */
	CHECK_EQ(ip6(p, 64, &info), MG_DROP_IP6_BAD_SRC);
}

MG_TEST(ip6_extension_chains)
{
	uint8_t p[256] = {0};
	struct mg_ip6_info info;
	uint8_t proto = 0;
	uint32_t off = 0;
	int frag = 0, first = 0;

	/* hop-by-hop (8) -> destination options (16) -> UDP */
	ip6_build(p, MG_IPPROTO_HOPOPTS, 8 + 16 + 8);
	p[40] = MG_IPPROTO_DSTOPTS; p[41] = 0;
	p[48] = MG_IPPROTO_UDP; p[49] = 1;
	CHECK_EQ(ip6(p, 40 + 32, &info), MG_DROP_NONE);
	CHECK_EQ(mg_ip6_walk(p, 72, &proto, &off, &frag, &first), 0);
	CHECK_EQ(proto, MG_IPPROTO_UDP);
	CHECK_EQ(off, 64);
	CHECK(!info.fragment);
	/* truncated: the options header says 16 bytes, 8 are there */
	ip6_build(p, MG_IPPROTO_HOPOPTS, 16);
	p[40] = MG_IPPROTO_DSTOPTS; p[41] = 0;
	p[48] = MG_IPPROTO_UDP; p[49] = 1;
	CHECK_EQ(ip6(p, 56, &info), MG_DROP_IP6_BAD_EXT);
	/* first fragment of UDP */
	ip6_build(p, MG_IPPROTO_FRAGMENT, 16);
	p[40] = MG_IPPROTO_UDP; p[42] = 0; p[43] = 1; /* offset 0, M */
	CHECK_EQ(ip6(p, 56, &info), MG_DROP_NONE);
	CHECK(info.fragment);
	CHECK_EQ(mg_ip6_walk(p, 56, &proto, &off, &frag, &first), 0);
	CHECK(frag && first && proto == MG_IPPROTO_UDP);
	/* a later fragment */
	p[42] = 0x05; p[43] = 0x00;
	CHECK_EQ(mg_ip6_walk(p, 56, &proto, &off, &frag, &first), 0);
	CHECK(frag && !first);
	/* nine extension headers: more than meshgate walks */
	ip6_build(p, MG_IPPROTO_DSTOPTS, 9 * 8 + 8);
	for (int i = 0; i < 9; i++) {
		p[40 + 8 * i] = i == 8 ? MG_IPPROTO_UDP : MG_IPPROTO_DSTOPTS;
		p[41 + 8 * i] = 0;
	}
	CHECK_EQ(ip6(p, 40 + 80, &info), MG_DROP_IP6_BAD_EXT);
}

MG_TEST(icmpv6_checksum_known_vector)
{
	/* Echo request fd00::2 -> fd00::1, id 1, seq 1, no data. The checksum is
	 * scapy's: IPv6(src="fd00::2",dst="fd00::1")/ICMPv6EchoRequest(id=1,seq=1). */
	uint8_t p[48] = {0};
	struct rte_ipv6_hdr *h = (struct rte_ipv6_hdr *)p;
	struct mg_icmp *ic = (struct mg_icmp *)(p + 40);
	uint16_t ck;

	h->vtc_flow = rte_cpu_to_be_32(6u << 28);
	h->payload_len = rte_cpu_to_be_16(8);
	h->proto = 58;
	h->hop_limits = 64;
	h->src_addr[0] = 0xfd; h->src_addr[15] = 2;
	h->dst_addr[0] = 0xfd; h->dst_addr[15] = 1;
	ic->type = 128;
	ic->echo.id = rte_cpu_to_be_16(1);
	ic->echo.seq = rte_cpu_to_be_16(1);
	ck = mg_ip6_l4_cksum(h, ic, 8, 58);
	CHECK_EQ(rte_be_to_cpu_16(ck), 0x85b6);
	ic->cksum = ck;
	CHECK_EQ(mg_ip6_l4_cksum(h, ic, 8, 58), 0);
}

MG_TEST_MAIN()
