/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Address and port rewrites with incremental checksum updates, and the
 * translation of ICMP/ICMPv6 errors. See mg_nat.h for the rules per
 * protocol.
 */
#include <rte_hash_crc.h>

#include "mg_nat.h"

/* Offsets of the checksum field in each upper-layer header. */
enum {
	TCP_CKSUM_OFF = 16,
	UDP_CKSUM_OFF = 6,
	ICMP_CKSUM_OFF = 2,
	ICMP_ID_OFF = 4,
	SCTP_CKSUM_OFF = 8,
	SCTP_HDR_LEN = 12,
	TCP_MIN_LEN = 20,
	L4_QUOTE_MIN = 8,      /* What an ICMP error must quote of the upper layer. */
	ICMP_HDR_LEN = 8,
};

uint32_t
mg_nat_crc32c(const void *data, uint32_t len)
{
	/*
	 * rte_hash_crc() loads through uint64_t/uint32_t pointers, undefined
	 * (UBSan: misaligned load) on packet data, which sits at any alignment
	 * (an SCTP header after 14 + 20 bytes). The same CRC-32C, loading by memcpy.
	 */
	const uint8_t *p = data;
	uint32_t crc = 0xffffffffu;

	for (; len >= 8; p += 8, len -= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		crc = rte_hash_crc_8byte(v, crc);
	}
	for (; len > 0; p++, len--)
		crc = rte_hash_crc_1byte(*p, crc);
	return ~crc;
}

int
mg_nat_sctp_cksum_set(uint8_t *sctp, uint32_t len)
{
	uint32_t c;

	if (len < SCTP_HDR_LEN)
		return -EINVAL;
	memset(sctp + SCTP_CKSUM_OFF, 0, 4);
	/* The CRC goes on the wire least significant byte first (RFC 9260 B). */
	c = rte_cpu_to_le_32(mg_nat_crc32c(sctp, len));
	memcpy(sctp + SCTP_CKSUM_OFF, &c, 4);
	return 0;
}

/* Address length of a family. */
static inline uint32_t
alen(uint8_t family)
{
	return family == AF_INET ? 4 : 16;
}

/* Where the source address sits in the IP header. */
static inline uint8_t *
src_of(uint8_t *l3, uint8_t family)
{
	return l3 + (family == AF_INET ? 12 : 8);
}

/* Where the destination address sits in the IP header. */
static inline uint8_t *
dst_of(uint8_t *l3, uint8_t family)
{
	return l3 + (family == AF_INET ? 16 : 24);
}

/* Total packet length from the IP header (0 if unreadable). */
static uint32_t
ip_total(const uint8_t *l3, uint8_t family)
{
	uint16_t v = rte_be_to_cpu_16(mg_nat_ld16(l3 + (family == AF_INET ? 2 : 4)));

	return family == AF_INET ? v : (uint32_t)v + MG_IP6_HLEN;
}

int
mg_nat_pkt_init(struct mg_nat_pkt *p, uint8_t *l3, uint32_t len)
{
	memset(p, 0, sizeof(*p));
	p->l3 = l3;
	p->len = len;
	if (len < MG_IP4_MIN_HLEN)
		return -EINVAL;
	if ((l3[0] >> 4) == 4) {
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)l3;
		uint32_t ihl = (l3[0] & 0xfu) * 4u;
		uint16_t off = rte_be_to_cpu_16(ip->fragment_offset);

		if (ihl < MG_IP4_MIN_HLEN || ihl > len)
			return -EINVAL;
		p->family = AF_INET;
		p->proto = ip->next_proto_id;
		p->frag = (off & 0x3fff) != 0;
		p->l4off = (off & 0x1fff) != 0 ? MG_NAT_NO_L4 : ihl;
		return 0;
	}
	if ((l3[0] >> 4) == 6) {
		uint32_t l4off;
		int frag, first;

		if (len < MG_IP6_HLEN || mg_ip6_walk(l3, len, &p->proto, &l4off, &frag, &first) < 0)
			return -EINVAL;
		p->family = AF_INET6;
		p->frag = (uint8_t)frag;
		p->l4off = frag && !first ? MG_NAT_NO_L4 : l4off;
		return 0;
	}
	return -EINVAL;
}

/* True for ICMP echo request/reply (the identifier is the port). */
static inline bool
icmp_is_query(uint8_t proto, uint8_t type)
{
	if (proto == MG_IPPROTO_ICMP)
		return type == MG_ICMP4_ECHO_REQUEST || type == MG_ICMP4_ECHO_REPLY;
	return type == MG_ICMP6_ECHO_REQUEST || type == MG_ICMP6_ECHO_REPLY;
}

/* True for the ICMP/ICMPv6 types that quote an offending packet. */
static inline bool
icmp_type_is_error(uint8_t proto, uint8_t type)
{
	if (proto == MG_IPPROTO_ICMP)
		return type == MG_ICMP4_DEST_UNREACH || type == MG_ICMP4_TIME_EXCEEDED ||
		       type == MG_ICMP4_PARAM_PROBLEM || type == 4 /* source quench */ ||
		       type == 5 /* redirect */;
	return type >= MG_ICMP6_DEST_UNREACH && type <= MG_ICMP6_PARAM_PROBLEM;
}

bool
mg_nat_is_icmp_error(const struct mg_nat_pkt *p)
{
	if (p->l4off == MG_NAT_NO_L4 || (uint64_t)p->l4off + ICMP_HDR_LEN > p->len)
		return false;
	if (!(p->proto == MG_IPPROTO_ICMP && p->family == AF_INET) &&
	    !(p->proto == MG_IPPROTO_ICMPV6 && p->family == AF_INET6))
		return false;
	return icmp_type_is_error(p->proto, p->l3[p->l4off]);
}

/*
 * The port-like fields of an upper-layer header that a rewrite may change:
 * where the source and destination "ports" are (the same place for an ICMP
 * identifier), where the checksum is, and whether the checksum covers the
 * pseudo-header. need: bytes of the header the rewrite must be able to reach.
 */
struct l4_layout {
	int32_t sport_off;     /* -1: no ports. */
	int32_t dport_off;
	int32_t cksum_off;     /* -1: no incremental checksum (none, or SCTP's CRC). */
	uint32_t need;
	bool pseudo;           /* Checksum covers the addresses. */
	bool udp;
	bool sctp;
};

/* Fill @lay for protocol @proto with first header byte @type0 (ICMP type). */
static void
l4_layout_get(uint8_t family, uint8_t proto, uint8_t type0, bool quoted, struct l4_layout *lay)
{
	*lay = (struct l4_layout){.sport_off = -1, .dport_off = -1, .cksum_off = -1};
	switch (proto) {
	case MG_IPPROTO_TCP:
		lay->sport_off = 0;
		lay->dport_off = 2;
		lay->cksum_off = TCP_CKSUM_OFF;
		lay->need = quoted ? L4_QUOTE_MIN : TCP_MIN_LEN;
		lay->pseudo = true;
		break;
	case MG_IPPROTO_UDP:
		lay->sport_off = 0;
		lay->dport_off = 2;
		lay->cksum_off = UDP_CKSUM_OFF;
		lay->need = 8;
		lay->pseudo = true;
		lay->udp = true;
		break;
	case MG_IPPROTO_SCTP:
		lay->sport_off = 0;
		lay->dport_off = 2;
		lay->need = quoted ? L4_QUOTE_MIN : SCTP_HDR_LEN;
		lay->sctp = true;
		break;
	case MG_IPPROTO_ICMP:
	case MG_IPPROTO_ICMPV6:
		if ((proto == MG_IPPROTO_ICMP) != (family == AF_INET))
			break; /* ICMPv4 in IPv6 or the reverse: treat as opaque. */
		lay->cksum_off = ICMP_CKSUM_OFF;
		lay->need = ICMP_HDR_LEN;
		lay->pseudo = proto == MG_IPPROTO_ICMPV6;
		if (icmp_is_query(proto, type0)) {
			lay->sport_off = ICMP_ID_OFF;
			lay->dport_off = ICMP_ID_OFF;
		}
		break;
	default:
		break;
	}
}

/*
 * Write the ports of @rw into the header at @l4 per @lay; returns the delta
 * of the changed bytes. For an ICMP identifier the source port wins.
 */
static uint32_t
ports_write(uint8_t *l4, const struct l4_layout *lay, const struct mg_nat_rw *rw)
{
	uint32_t d = 0;

	if (lay->sport_off < 0)
		return 0;
	if (lay->sport_off == lay->dport_off) {
		if (rw->flags & (MG_NAT_SPORT | MG_NAT_DPORT)) {
			uint16_t id = (rw->flags & MG_NAT_SPORT) ? rw->sport : rw->dport;

			d = mg_nat_delta16(d, mg_nat_ld16(l4 + lay->sport_off), id);
			mg_nat_st16(l4 + lay->sport_off, id);
		}
		return d;
	}
	if (rw->flags & MG_NAT_SPORT) {
		d = mg_nat_delta16(d, mg_nat_ld16(l4 + lay->sport_off), rw->sport);
		mg_nat_st16(l4 + lay->sport_off, rw->sport);
	}
	if (rw->flags & MG_NAT_DPORT) {
		d = mg_nat_delta16(d, mg_nat_ld16(l4 + lay->dport_off), rw->dport);
		mg_nat_st16(l4 + lay->dport_off, rw->dport);
	}
	return d;
}

/* Write the addresses of @rw into the IP header; returns their delta. */
static uint32_t
addrs_write(uint8_t *l3, uint8_t family, const struct mg_nat_rw *rw)
{
	uint32_t n = alen(family), d = 0;

	if (rw->flags & MG_NAT_SRC) {
		d = mg_nat_delta(d, src_of(l3, family), rw->src, n);
		memcpy(src_of(l3, family), rw->src, n);
	}
	if (rw->flags & MG_NAT_DST) {
		d = mg_nat_delta(d, dst_of(l3, family), rw->dst, n);
		memcpy(dst_of(l3, family), rw->dst, n);
	}
	return d;
}

/* Patch the IPv4 header checksum by @d. */
static inline void
ip4_cksum_patch(uint8_t *l3, uint32_t d)
{
	mg_nat_st16(l3 + 10, mg_nat_csum_adjust(mg_nat_ld16(l3 + 10), d));
}

/* Full UDP/IPv6 checksum of a datagram whose checksum field is zero. */
static void
udp6_cksum_full(uint8_t *l3, uint8_t *udp, uint32_t ulen)
{
	uint16_t c = mg_ip6_l4_cksum((const struct rte_ipv6_hdr *)l3, udp, ulen, MG_IPPROTO_UDP);

	mg_nat_st16(udp + UDP_CKSUM_OFF, c == 0 ? 0xffff : c);
}

int
mg_nat_rewrite(const struct mg_nat_pkt *p, const struct mg_nat_rw *rw)
{
	uint8_t *l3 = p->l3, *l4;
	struct l4_layout lay;
	uint32_t da, dp, tot;
	bool ports = (rw->flags & (MG_NAT_SPORT | MG_NAT_DPORT)) != 0;

	if (p->len < (p->family == AF_INET ? MG_IP4_MIN_HLEN : MG_IP6_HLEN))
		return -EINVAL;
	if (p->l4off == MG_NAT_NO_L4) {
		/* A later fragment: addresses only. */
		da = addrs_write(l3, p->family, rw);
		if (p->family == AF_INET)
			ip4_cksum_patch(l3, da);
		return 0;
	}
	l4 = l3 + p->l4off;
	l4_layout_get(p->family, p->proto, p->l4off < p->len ? l4[0] : 0, false, &lay);
	/*
	 * Check every length before the first write. The header must lie inside
	 * the datagram: bytes past the IP total length (Ethernet padding) are not
	 * covered by its checksum, so rewriting a port there would corrupt it.
	 */
	tot = ip_total(l3, p->family);
	if ((uint64_t)p->l4off + lay.need > RTE_MIN(p->len, tot))
		return -EINVAL;
	if (lay.sctp && ports && lay.sport_off >= 0) {
		if (p->frag)
			return -ENOTSUP;
		if (tot > p->len || tot < p->l4off + SCTP_HDR_LEN)
			return -EINVAL;
	}
	if (lay.udp && p->family == AF_INET6 && mg_nat_ld16(l4 + UDP_CKSUM_OFF) == 0) {
		/* No checksum to patch, and one is mandatory: it needs the whole datagram. */
		if (p->frag)
			return -ENOTSUP;
		if (tot > p->len || tot < p->l4off + 8)
			return -EINVAL;
	}

	da = addrs_write(l3, p->family, rw);
	if (p->family == AF_INET)
		ip4_cksum_patch(l3, da);
	dp = ports ? ports_write(l4, &lay, rw) : 0;
	if (lay.sctp) {
		if (ports)
			mg_nat_sctp_cksum_set(l4, tot - p->l4off);
		return 0;
	}
	if (lay.cksum_off < 0)
		return 0;
	if (lay.udp) {
		uint16_t c = mg_nat_ld16(l4 + UDP_CKSUM_OFF);

		if (c == 0) {
			/* IPv4: no checksum, keep none. IPv6: one is mandatory. */
			if (p->family == AF_INET6)
				udp6_cksum_full(l3, l4, tot - p->l4off);
			return 0;
		}
		c = mg_nat_csum_adjust(c, da + dp);
		mg_nat_st16(l4 + UDP_CKSUM_OFF, c == 0 ? 0xffff : c);
		return 0;
	}
	mg_nat_st16(l4 + lay.cksum_off,
		    mg_nat_csum_adjust(mg_nat_ld16(l4 + lay.cksum_off), (lay.pseudo ? da : 0) + dp));
	return 0;
}

/*
 * Translate the packet quoted in an ICMP error, at @q with @qlen bytes
 * available; returns the delta of every byte changed inside the quote
 * (which the outer ICMP checksum covers), or -1 if the quote is too short
 * or malformed (then nothing was written).
 */
static int64_t
quote_rewrite(uint8_t family, uint8_t *q, uint32_t qlen, const struct mg_nat_rw *rw)
{
	struct l4_layout lay;
	uint32_t qhl, da, dp, d = 0;
	uint8_t proto, *l4;
	bool ports = (rw->flags & (MG_NAT_SPORT | MG_NAT_DPORT)) != 0;

	if (family == AF_INET) {
		if (qlen < MG_IP4_MIN_HLEN || (q[0] >> 4) != 4)
			return -1;
		qhl = (q[0] & 0xfu) * 4u;
		if (qhl < MG_IP4_MIN_HLEN || qhl > qlen)
			return -1;
		proto = q[9];
		/* A quoted later fragment has no ports to change. */
		if (rte_be_to_cpu_16(mg_nat_ld16(q + 6)) & 0x1fff)
			proto = MG_IPPROTO_NONE;
	} else {
		int frag, first;

		if (qlen < MG_IP6_HLEN || (q[0] >> 4) != 6 ||
		    mg_ip6_walk(q, qlen, &proto, &qhl, &frag, &first) < 0)
			return -1;
		if (frag && !first)
			proto = MG_IPPROTO_NONE;
	}
	l4 = q + qhl;
	l4_layout_get(family, proto, qhl < qlen ? l4[0] : 0, true, &lay);
	if (ports && lay.sport_off >= 0 && (uint64_t)qhl + lay.need > qlen)
		return -1;

	da = addrs_write(q, family, rw);
	d += da;
	if (family == AF_INET) {
		uint16_t o = mg_nat_ld16(q + 10), n = mg_nat_csum_adjust(o, da);

		mg_nat_st16(q + 10, n);
		d = mg_nat_delta16(d, o, n);
	}
	dp = ports && lay.sport_off >= 0 && (uint64_t)qhl + lay.need <= qlen ?
		     ports_write(l4, &lay, rw) : 0;
	d += dp;
	/* The quoted L4 checksum, when the quote reaches it (never SCTP's CRC). */
	if (lay.cksum_off >= 0 && (uint64_t)qhl + (uint32_t)lay.cksum_off + 2 <= qlen) {
		uint16_t o = mg_nat_ld16(l4 + lay.cksum_off), n;

		if (lay.udp && o == 0)
			return d; /* UDP over IPv4 without a checksum. */
		n = mg_nat_csum_adjust(o, (lay.pseudo ? da : 0) + dp);
		if (lay.udp && n == 0)
			n = 0xffff;
		mg_nat_st16(l4 + lay.cksum_off, n);
		d = mg_nat_delta16(d, o, n);
	}
	return d;
}

int
mg_nat_rewrite_icmp_error(const struct mg_nat_pkt *p, const struct mg_nat_rw *outer,
			  const struct mg_nat_rw *inner)
{
	uint8_t *icmp, *q;
	uint32_t qlen, d = 0, da = 0;
	int64_t r;

	if (!mg_nat_is_icmp_error(p))
		return -EINVAL;
	icmp = p->l3 + p->l4off;
	q = icmp + ICMP_HDR_LEN;
	qlen = p->len - p->l4off - ICMP_HDR_LEN;
	{
		/* Only the bytes of the ICMP message count, not link padding. */
		uint32_t tot = ip_total(p->l3, p->family);

		if (tot < p->l4off + ICMP_HDR_LEN)
			return -EINVAL;
		if (tot < p->len)
			qlen = tot - p->l4off - ICMP_HDR_LEN;
	}
	if (inner != NULL && inner->flags) {
		/* quote_rewrite checks every length before it writes. */
		r = quote_rewrite(p->family, q, qlen, inner);
		if (r < 0)
			return -EINVAL;
		d += (uint32_t)r;
	}
	if (outer != NULL) {
		struct mg_nat_rw o = *outer;

		o.flags &= MG_NAT_SRC | MG_NAT_DST;
		da = addrs_write(p->l3, p->family, &o);
		if (p->family == AF_INET)
			ip4_cksum_patch(p->l3, da);
	}
	if (p->family == AF_INET6)
		d += da; /* ICMPv6's pseudo-header. */
	mg_nat_st16(icmp + ICMP_CKSUM_OFF,
		    mg_nat_csum_adjust(mg_nat_ld16(icmp + ICMP_CKSUM_OFF), d));
	return 0;
}
