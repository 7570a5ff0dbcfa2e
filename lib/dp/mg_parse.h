/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_PARSE_H
#define MG_PARSE_H

/**
 * @file
 * Header validation on plain byte buffers, shared by the graph nodes, the
 * unit tests and the fuzz harnesses. Each function returns MG_DROP_NONE when
 * the header may be forwarded, or the drop reason, and fills an info
 * structure with what the caller needs next. Policy (a network refusing
 * options or fragments) is the caller's business.
 */

#include <stdint.h>

#include "mg_dp.h"
#include "mg_proto.h"

/** What mg_parse_eth found. */
struct mg_eth_info {
	rte_be16_t type;   /**< EtherType after any 802.1Q/802.1ad tag (network order). */
	uint16_t vlan;     /**< VLAN id, 0 when untagged or priority-tagged. */
	uint16_t l2_len;   /**< 14 or 18. */
};

/** Parse an Ethernet header and one optional VLAN tag. */
static inline enum mg_drop
mg_parse_eth(const uint8_t *p, uint32_t len, struct mg_eth_info *info)
{
	const struct rte_ether_hdr *eth = (const struct rte_ether_hdr *)(const void *)p;

	if (unlikely(len < sizeof(*eth)))
		return MG_DROP_ETH_TRUNCATED;
	info->type = eth->ether_type;
	info->vlan = 0;
	info->l2_len = sizeof(*eth);
	if (unlikely(info->type == MG_ETH_VLAN_BE || info->type == MG_ETH_QINQ_BE)) {
		const struct mg_vlan_hdr *vh = (const struct mg_vlan_hdr *)(const void *)(eth + 1);

		if (len < sizeof(*eth) + sizeof(*vh))
			return MG_DROP_ETH_TRUNCATED;
		/* VLAN 0 (a priority tag) maps to the untagged interface. */
		info->vlan = rte_be_to_cpu_16(vh->tci) & 0xfff;
		info->type = vh->proto;
		info->l2_len += sizeof(*vh);
	}
	return MG_DROP_NONE;
}

/** What mg_parse_ip4 found. */
struct mg_ip4_info {
	uint32_t ihl;      /**< Header length in bytes. */
	uint32_t tot;      /**< Total length from the header. */
	uint8_t options;   /**< The header carries options. */
	uint8_t fragment;  /**< MF set or a fragment offset. */
};

/**
 * Validate an IPv4 header (RFC 1812 5.2.2) at @p ip in a packet of @p len
 * bytes. @p ck is the mbuf's RX checksum flags (0 when unknown).
 */
static inline enum mg_drop
mg_parse_ip4(const struct rte_ipv4_hdr *ip, uint32_t len, uint64_t ck, struct mg_ip4_info *info)
{
	uint32_t src, dst;

	if (unlikely(len < MG_IP4_MIN_HLEN))
		return MG_DROP_IP4_TRUNCATED;
	if (unlikely((ip->version_ihl >> 4) != 4))
		return MG_DROP_IP4_BAD_VERSION;
	info->ihl = (ip->version_ihl & 0xfu) * 4u;
	if (unlikely(info->ihl < MG_IP4_MIN_HLEN))
		return MG_DROP_IP4_BAD_IHL;
	if (unlikely(info->ihl > len))
		return MG_DROP_IP4_TRUNCATED;
	info->tot = rte_be_to_cpu_16(ip->total_length);
	if (unlikely(info->tot < info->ihl))
		return MG_DROP_IP4_BAD_LENGTH;
	if (unlikely(info->tot > len))
		return MG_DROP_IP4_TRUNCATED;
	ck &= RTE_MBUF_F_RX_IP_CKSUM_MASK;
	if (ck == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
	    (ck != RTE_MBUF_F_RX_IP_CKSUM_GOOD && !mg_ip4_cksum_ok(ip, info->ihl / 4)))
		return MG_DROP_IP4_BAD_CHECKSUM;
	src = rte_be_to_cpu_32(ip->src_addr);
	dst = rte_be_to_cpu_32(ip->dst_addr);
	/* Martian sources: 0/8, 127/8, multicast, class E and broadcast. */
	if (unlikely((src >> 24) == 0 || (src >> 24) == 127 || (src >> 28) >= 0xe))
		return MG_DROP_IP4_BAD_SRC;
	if (unlikely((dst >> 24) == 0 || (dst >> 24) == 127))
		return MG_DROP_IP4_BAD_DST;
	if (unlikely((dst >> 28) >= 0xe))
		return MG_DROP_IP4_MULTICAST;
	info->options = info->ihl > MG_IP4_MIN_HLEN;
	info->fragment = (ip->fragment_offset & (MG_IP4_MF_BE | MG_IP4_OFF_MASK_BE)) != 0;
	return MG_DROP_NONE;
}

/** What mg_parse_ip6 found. */
struct mg_ip6_info {
	uint32_t tot;      /**< 40 + payload length. */
	uint8_t nd;        /**< ICMPv6 neighbor discovery: for the main lcore. */
	uint8_t fragment;  /**< A fragment header is present. */
	uint8_t link_local_dst;
};

static inline int
mg_ip6_addr_zero(const uint8_t *a)
{
	static const uint8_t z[16];

	return memcmp(a, z, 16) == 0;
}

static inline int
mg_ip6_addr_loopback(const uint8_t *a)
{
	static const uint8_t lo[16] = {[15] = 1};

	return memcmp(a, lo, 16) == 0;
}

/**
 * Validate an IPv6 header and its extension header chain in a packet of
 * @p len bytes. ND messages are reported (info->nd) before the address
 * checks, since they legitimately come from :: and go to multicast.
 */
static inline enum mg_drop
mg_parse_ip6(const uint8_t *pkt, uint32_t len, struct mg_ip6_info *info)
{
	const struct rte_ipv6_hdr *ip6 = (const struct rte_ipv6_hdr *)(const void *)pkt;
	uint32_t plen;

	info->nd = 0;
	info->fragment = 0;
	info->link_local_dst = 0;
	if (unlikely(len < MG_IP6_HLEN))
		return MG_DROP_IP6_TRUNCATED;
	if (unlikely((pkt[0] >> 4) != 6))
		return MG_DROP_IP6_BAD_VERSION;
	plen = rte_be_to_cpu_16(ip6->payload_len);
	info->tot = MG_IP6_HLEN + plen;
	if (unlikely(info->tot > len))
		return MG_DROP_IP6_TRUNCATED;
	if (ip6->proto == MG_IPPROTO_ICMPV6) {
		if (plen >= 1 && pkt[MG_IP6_HLEN] >= MG_ICMP6_ND_RS &&
		    pkt[MG_IP6_HLEN] <= MG_ICMP6_ND_REDIRECT) {
			info->nd = 1;
			return MG_DROP_NONE;
		}
	} else if (unlikely(mg_ip6_is_ext(ip6->proto))) {
		uint8_t proto;
		uint32_t l4off;
		int frag, first;

		if (mg_ip6_walk(pkt, info->tot, &proto, &l4off, &frag, &first) < 0)
			return MG_DROP_IP6_BAD_EXT;
		info->fragment = (uint8_t)frag;
		if (proto == MG_IPPROTO_ICMPV6 && (!frag || first) && l4off < info->tot &&
		    pkt[l4off] >= MG_ICMP6_ND_RS && pkt[l4off] <= MG_ICMP6_ND_REDIRECT) {
			info->nd = 1;
			return MG_DROP_NONE;
		}
	}
	if (unlikely(ip6->src_addr[0] == 0xff || mg_ip6_addr_zero(ip6->src_addr) ||
		     mg_ip6_addr_loopback(ip6->src_addr)))
		return MG_DROP_IP6_BAD_SRC;
	if (unlikely(ip6->dst_addr[0] == 0xff))
		return MG_DROP_IP6_MULTICAST;
	if (unlikely(mg_ip6_addr_zero(ip6->dst_addr) || mg_ip6_addr_loopback(ip6->dst_addr)))
		return MG_DROP_IP6_BAD_DST;
	info->link_local_dst = ip6->dst_addr[0] == 0xfe && (ip6->dst_addr[1] & 0xc0) == 0x80;
	return MG_DROP_NONE;
}

#endif /* MG_PARSE_H */
