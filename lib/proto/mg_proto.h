/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_PROTO_H
#define MG_PROTO_H

/**
 * @file
 * Wire formats: every protocol constant meshgate uses and the structures
 * DPDK's headers lack (ARP in our byte layout, ICMP errors, ICMPv6 neighbor
 * discovery), plus the header checksum helpers shared by the nodes and the
 * main lcore. All multi-byte fields are in network byte order.
 */

#include <stdint.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_ether.h>
#include <rte_ip.h>

/** EtherTypes (host order; compare with rte_be_to_cpu_16 or the _BE values). */
enum mg_ethertype {
	MG_ETH_IPV4 = 0x0800,
	MG_ETH_ARP = 0x0806,
	MG_ETH_VLAN = 0x8100,
	MG_ETH_QINQ = 0x88a8,
	MG_ETH_IPV6 = 0x86dd,
	MG_ETH_LLDP = 0x88cc,
};

/** The same EtherTypes in network order, for comparing header fields. */
#define MG_ETH_IPV4_BE RTE_BE16(0x0800)
#define MG_ETH_ARP_BE RTE_BE16(0x0806)
#define MG_ETH_VLAN_BE RTE_BE16(0x8100)
#define MG_ETH_QINQ_BE RTE_BE16(0x88a8)
#define MG_ETH_IPV6_BE RTE_BE16(0x86dd)

/** IP protocol numbers and IPv6 next headers. */
enum mg_ipproto {
	MG_IPPROTO_HOPOPTS = 0,
	MG_IPPROTO_ICMP = 1,
	MG_IPPROTO_TCP = 6,
	MG_IPPROTO_UDP = 17,
	MG_IPPROTO_ROUTING = 43,
	MG_IPPROTO_FRAGMENT = 44,
	MG_IPPROTO_GRE = 47,
	MG_IPPROTO_ESP = 50,
	MG_IPPROTO_AH = 51,
	MG_IPPROTO_ICMPV6 = 58,
	MG_IPPROTO_NONE = 59,
	MG_IPPROTO_DSTOPTS = 60,
	MG_IPPROTO_SCTP = 132,
	MG_IPPROTO_MOBILITY = 135,
	MG_IPPROTO_HIP = 139,
	MG_IPPROTO_SHIM6 = 140,
};

/** ICMPv4 types and codes (RFC 792, RFC 1191). */
enum mg_icmp4 {
	MG_ICMP4_ECHO_REPLY = 0,
	MG_ICMP4_DEST_UNREACH = 3,
	MG_ICMP4_ECHO_REQUEST = 8,
	MG_ICMP4_TIME_EXCEEDED = 11,
	MG_ICMP4_PARAM_PROBLEM = 12,

	MG_ICMP4_UNREACH_NET = 0,
	MG_ICMP4_UNREACH_HOST = 1,
	MG_ICMP4_UNREACH_PROTO = 2,
	MG_ICMP4_UNREACH_PORT = 3,
	MG_ICMP4_UNREACH_FRAG_NEEDED = 4,
	MG_ICMP4_UNREACH_ADMIN = 13,
	MG_ICMP4_TTL_EXCEEDED = 0,
};

/** ICMPv6 types and codes (RFC 4443, RFC 4861). */
enum mg_icmp6 {
	MG_ICMP6_DEST_UNREACH = 1,
	MG_ICMP6_PACKET_TOO_BIG = 2,
	MG_ICMP6_TIME_EXCEEDED = 3,
	MG_ICMP6_PARAM_PROBLEM = 4,
	MG_ICMP6_ECHO_REQUEST = 128,
	MG_ICMP6_ECHO_REPLY = 129,
	MG_ICMP6_ND_RS = 133,
	MG_ICMP6_ND_RA = 134,
	MG_ICMP6_ND_NS = 135,
	MG_ICMP6_ND_NA = 136,
	MG_ICMP6_ND_REDIRECT = 137,

	MG_ICMP6_UNREACH_NOROUTE = 0,
	MG_ICMP6_UNREACH_ADMIN = 1,
	MG_ICMP6_UNREACH_ADDR = 3,
	MG_ICMP6_UNREACH_PORT = 4,
	MG_ICMP6_HOPLIMIT_EXCEEDED = 0,
};

/** ND option types (RFC 4861 4.6). */
enum mg_nd_opt {
	MG_ND_OPT_SLLA = 1,
	MG_ND_OPT_TLLA = 2,
};

/** Neighbor advertisement flags (first byte of the reserved word). */
enum mg_nd_na_flags {
	MG_ND_NA_ROUTER = 0x80,
	MG_ND_NA_SOLICITED = 0x40,
	MG_ND_NA_OVERRIDE = 0x20,
};

/** ARP opcodes. */
enum mg_arp_op {
	MG_ARP_REQUEST = 1,
	MG_ARP_REPLY = 2,
};

/** Limits from the RFCs. */
enum {
	MG_IP4_MIN_HLEN = 20,
	MG_IP6_HLEN = 40,
	MG_ICMP4_ERROR_MAX = 576,   /**< RFC 1812 4.3.2.3 */
	MG_ICMP6_ERROR_MAX = 1280,  /**< RFC 4443 2.4(c) */
	MG_IP6_MAX_EXT_HDRS = 8,
	MG_ND_HOP_LIMIT = 255,
	MG_DEFAULT_TTL = 64,
};

/** An 802.1Q tag after the source MAC. */
struct mg_vlan_hdr {
	rte_be16_t tci;
	rte_be16_t proto;
} __rte_packed;

/** ARP for IPv4 over Ethernet. */
struct mg_arp {
	rte_be16_t htype;       /**< 1 */
	rte_be16_t ptype;       /**< 0x0800 */
	uint8_t hlen;           /**< 6 */
	uint8_t plen;           /**< 4 */
	rte_be16_t op;
	uint8_t sha[6];
	rte_be32_t spa;
	uint8_t tha[6];
	rte_be32_t tpa;
} __rte_packed;

/** ICMP header with the second word seen in all its uses. */
struct mg_icmp {
	uint8_t type;
	uint8_t code;
	rte_be16_t cksum;
	union {
		rte_be32_t unused;
		struct {
			rte_be16_t id;
			rte_be16_t seq;
		} echo;
		struct {
			rte_be16_t unused;
			rte_be16_t mtu;
		} frag;
		rte_be32_t mtu6;      /**< ICMPv6 packet too big. */
		rte_be32_t pointer;   /**< Parameter problem. */
	};
} __rte_packed;

/** ICMPv6 neighbor solicitation / advertisement. */
struct mg_nd_msg {
	uint8_t type;
	uint8_t code;
	rte_be16_t cksum;
	uint8_t flags;          /**< NA: R, S, O; NS: 0 */
	uint8_t reserved[3];
	uint8_t target[16];
} __rte_packed;

/** Source/target link-layer address option. */
struct mg_nd_opt_lla {
	uint8_t type;
	uint8_t len;            /**< In units of 8 bytes: 1 */
	uint8_t mac[6];
} __rte_packed;

/** The IPv6 fragment extension header. */
struct mg_ip6_frag {
	uint8_t next;
	uint8_t reserved;
	rte_be16_t off_flags;   /**< offset << 3 | M */
	rte_be32_t id;
} __rte_packed;

/** A generic IPv6 extension header (hop-by-hop, routing, destination options). */
struct mg_ip6_ext {
	uint8_t next;
	uint8_t len;            /**< 8-byte units after the first 8 (AH: 4-byte units - 2). */
} __rte_packed;

/** The IPv4 DF flag and fragment fields, network order. */
#define MG_IP4_DF_BE RTE_BE16(0x4000)
#define MG_IP4_MF_BE RTE_BE16(0x2000)
#define MG_IP4_OFF_MASK_BE RTE_BE16(0x1fff)

/** Fold a 32-bit one's complement sum to 16 bits. */
static inline uint16_t
mg_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/**
 * Verify an IPv4 header checksum over @p ihl 32-bit words: true if valid.
 * The common 20-byte header is summed as five 32-bit words.
 */
static inline int
mg_ip4_cksum_ok(const struct rte_ipv4_hdr *ip, unsigned int ihl)
{
	const uint8_t *p = (const uint8_t *)(const void *)ip;
	uint64_t sum = 0;

	/* The header is often only 2-byte aligned (after a 14-byte Ethernet
	 * header): load the words with memcpy, which compiles to plain loads. */
	if (likely(ihl == 5)) {
		/* The usual 20 bytes, without a loop: two 64-bit and one 32-bit load. */
		uint64_t a, b;
		uint32_t c;

		memcpy(&a, p, 8);
		memcpy(&b, p + 8, 8);
		memcpy(&c, p + 16, 4);
		sum = (a & 0xffffffff) + (a >> 32) + (b & 0xffffffff) + (b >> 32) + c;
	} else {
		for (unsigned int i = 0; i < ihl; i++) {
			uint32_t w;

			memcpy(&w, p + 4 * i, 4);
			sum += w;
		}
	}
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	return mg_csum_fold((uint32_t)sum) == 0xffff;
}

/** Decrement the TTL and patch the checksum incrementally (RFC 1624). */
static inline void
mg_ip4_ttl_dec(struct rte_ipv4_hdr *ip)
{
	uint32_t c = ip->hdr_checksum;

	ip->time_to_live--;
	c += rte_cpu_to_be_16(0x0100);
	ip->hdr_checksum = (uint16_t)(c + (c >> 16));
}

/** Checksum of an ICMPv6 / upper-layer payload with the IPv6 pseudo header. */
static inline uint16_t
mg_ip6_l4_cksum(const struct rte_ipv6_hdr *ip6, const void *l4, uint32_t len, uint8_t proto)
{
	uint32_t sum = 0;
	struct {
		rte_be32_t len;
		uint8_t zero[3];
		uint8_t proto;
	} ph = {rte_cpu_to_be_32(len), {0, 0, 0}, proto};

	sum = rte_raw_cksum(ip6->src_addr, 32);
	sum += rte_raw_cksum(&ph, sizeof(ph));
	sum += rte_raw_cksum(l4, len);
	sum = mg_csum_fold(sum);
	return (uint16_t)~sum;
}

/** Internet checksum of @p len bytes (ICMPv4). */
static inline uint16_t
mg_inet_cksum(const void *p, uint32_t len)
{
	return (uint16_t)~mg_csum_fold(rte_raw_cksum(p, len));
}

/** True for the IPv6 extension headers meshgate walks past. */
static inline int
mg_ip6_is_ext(uint8_t nh)
{
	return nh == MG_IPPROTO_HOPOPTS || nh == MG_IPPROTO_ROUTING ||
	       nh == MG_IPPROTO_FRAGMENT || nh == MG_IPPROTO_DSTOPTS || nh == MG_IPPROTO_AH ||
	       nh == MG_IPPROTO_MOBILITY || nh == MG_IPPROTO_HIP || nh == MG_IPPROTO_SHIM6;
}

/**
 * Walk the IPv6 extension header chain of a packet of @p len bytes starting
 * at the IPv6 header. On success returns 0 and sets *@p proto to the upper
 * layer protocol, *@p l4off to its offset and *@p frag to 1 if a fragment
 * header was seen (and *@p first_frag to 1 if its offset is 0); not for an
 * atomic fragment (offset 0, M clear), a whole datagram. Returns -1
 * if the chain is truncated or longer than MG_IP6_MAX_EXT_HDRS.
 */
static inline int
mg_ip6_walk(const uint8_t *pkt, uint32_t len, uint8_t *proto, uint32_t *l4off, int *frag,
	    int *first_frag)
{
	const struct rte_ipv6_hdr *ip6 = (const struct rte_ipv6_hdr *)pkt;
	uint8_t nh = ip6->proto;
	uint32_t off = MG_IP6_HLEN;

	*frag = 0;
	*first_frag = 0;
	for (int i = 0; mg_ip6_is_ext(nh); i++) {
		const struct mg_ip6_ext *e;
		uint32_t hlen;

		if (i >= MG_IP6_MAX_EXT_HDRS || off + 8 > len)
			return -1;
		e = (const struct mg_ip6_ext *)(pkt + off);
		if (nh == MG_IPPROTO_FRAGMENT) {
			const struct mg_ip6_frag *f = (const struct mg_ip6_frag *)e;

			/* An atomic fragment (offset 0, M clear) is a whole datagram (RFC 6946 4). */
			if ((f->off_flags & RTE_BE16(0xfff9)) != 0) {
				*frag = 1;
				*first_frag = (f->off_flags & RTE_BE16(0xfff8)) == 0;
			}
			hlen = 8;
		} else if (nh == MG_IPPROTO_AH) {
			hlen = ((uint32_t)e->len + 2) * 4;
		} else {
			hlen = ((uint32_t)e->len + 1) * 8;
		}
		if (off + hlen > len)
			return -1;
		nh = e->next;
		off += hlen;
		if (*frag && !*first_frag)
			break; /* Later fragments carry no upper-layer header. */
	}
	*proto = nh;
	*l4off = off;
	return 0;
}

#endif /* MG_PROTO_H */
