/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Harness "l4": an IP packet through every parser that reads past the IP
 * header, on exactly its bytes:
 *
 * 1. the IPv6 extension header walk (mg_ip6_walk) and the input checks of
 *    lib/dp/mg_parse.h (mg_parse_ip4 / mg_parse_ip6);
 * 2. the classification key (mg_cls_key4 / mg_cls_key6 of lib/cls);
 * 3. service steering's flow key and selection hash (mg_svc_pkt_key of
 *    lib/svc): GTP-U's TEID behind UDP port 2152, SCTP's ports and
 *    verification tag, ESP's SPI, ICMP errors' quoted packets; called the
 *    way node_svc.c calls it;
 * 4. NAT's packet description and rewrites (mg_nat_pkt_init,
 *    mg_nat_rewrite, mg_nat_rewrite_icmp_error of lib/nat).
 *
 * Invariants beyond "no crash": a GTP-U key holds the TEID and is the same
 * whatever the addresses and UDP source port; an SCTP hash ignores the
 * addresses; keys and hashes are deterministic; whatever the walk accepts
 * lies inside the packet; a NAT rewrite keeps a right checksum right (IPv4
 * header, TCP, UDP, ICMP, ICMPv6; the outer ICMP checksum of an error).
 *
 * Input: one control byte, then the packet from its IP header on.
 *   bits 0-3  the NAT rewrite's fields (MG_NAT_SRC, DST, SPORT, DPORT)
 *   bit 4     make the IPv4 header and the L4 (or outer ICMP) checksum right first
 *   bit 5     pass the packet through eth-input's checks first (mg_parse_ip4/6)
 *             and trim it to its IP length, as the graph does before lib/svc
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_ip.h>
#include <rte_mbuf.h>

#include "fuzz.h"
#include "mg_cls.h"
#include "mg_nat.h"
#include "mg_parse.h"
#include "mg_svc.h"

#define MAX_PKT 2048

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* ---- checksums, computed from scratch ----------------------------------------------------- */

/* Where the L4 checksum of @proto is (offset in the L4 header), or -1. */
static int
l4_cksum_off(uint8_t proto, uint8_t family)
{
	switch (proto) {
	case MG_IPPROTO_TCP:
		return 16;
	case MG_IPPROTO_UDP:
		return 6;
	case MG_IPPROTO_ICMP:
		return family == AF_INET ? 2 : -1;
	case MG_IPPROTO_ICMPV6:
		return family == AF_INET6 ? 2 : -1;
	default:
		return -1;
	}
}

/* The one's complement sum of @l4 (@len bytes) with the pseudo-header its protocol needs. */
static uint16_t
l4_sum(const uint8_t *l3, uint8_t family, uint8_t proto, const uint8_t *l4, uint32_t len)
{
	uint32_t sum = rte_raw_cksum(l4, len);

	if (family == AF_INET && proto != MG_IPPROTO_ICMP) {
		uint8_t ph[4] = {0, proto, (uint8_t)(len >> 8), (uint8_t)len};

		sum += rte_raw_cksum(l3 + 12, 8);
		sum += rte_raw_cksum(ph, 4);
	} else if (family == AF_INET6) {
		uint8_t ph[8] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
				 (uint8_t)len, 0, 0, 0, proto};

		sum += rte_raw_cksum(l3 + 8, 32);
		sum += rte_raw_cksum(ph, 8);
	}
	return mg_csum_fold(sum);
}

/* The L4 region a checksum covers: a whole, unfragmented datagram inside the packet. */
struct l4_region {
	uint32_t off, len;
	int ck;          /* checksum offset in the L4 header, -1: none to check */
};

static struct l4_region
l4_region(const struct mg_nat_pkt *p)
{
	struct l4_region r = {0, 0, -1};
	uint32_t tot;

	if (p->frag || p->l4off == MG_NAT_NO_L4)
		return r;
	if (p->family == AF_INET)
		tot = (uint32_t)p->l3[2] << 8 | p->l3[3];
	else
		tot = MG_IP6_HLEN + ((uint32_t)p->l3[4] << 8 | p->l3[5]);
	if (tot > p->len || p->l4off >= tot)
		return r;
	r.off = p->l4off;
	r.len = tot - p->l4off;
	r.ck = l4_cksum_off(p->proto, p->family);
	if (r.ck >= 0 && (uint32_t)r.ck + 2 > r.len)
		r.ck = -1;
	/* UDP over IPv4 without a checksum stays without one. */
	if (r.ck >= 0 && p->family == AF_INET && p->proto == MG_IPPROTO_UDP &&
	    p->l3[r.off + 6] == 0 && p->l3[r.off + 7] == 0)
		r.ck = -1;
	return r;
}

static bool
l4_ok(const struct mg_nat_pkt *p, const struct l4_region *r)
{
	return l4_sum(p->l3, p->family, p->proto, p->l3 + r->off, r->len) == 0xffff;
}

static void
l4_fix(const struct mg_nat_pkt *p, const struct l4_region *r)
{
	uint8_t *c = p->l3 + r->off + r->ck;
	uint16_t v;

	c[0] = c[1] = 0;
	v = (uint16_t)~l4_sum(p->l3, p->family, p->proto, p->l3 + r->off, r->len);
	if (v == 0 && p->proto == MG_IPPROTO_UDP)
		v = 0xffff;
	memcpy(c, &v, 2);
}

static bool
ip4_hdr_ok(const uint8_t *l3, uint32_t len)
{
	uint32_t ihl = (l3[0] & 0xfu) * 4u;

	return (l3[0] >> 4) == 4 && ihl >= 20 && ihl <= len &&
	       mg_ip4_cksum_ok((const struct rte_ipv4_hdr *)(const void *)l3, ihl / 4);
}

static void
ip4_hdr_fix(uint8_t *l3, uint32_t len)
{
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(void *)l3;
	uint32_t ihl = (l3[0] & 0xfu) * 4u;

	if ((l3[0] >> 4) != 4 || ihl < 20 || ihl > len)
		return;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = mg_inet_cksum(ip, ihl);
}

/* ---- the parsers ---------------------------------------------------------------------------- */

/* As node_svc.c derives the arguments of mg_svc_pkt_key. */
static void
svc_args(const uint8_t *l3, uint32_t len, uint8_t *family, uint8_t *proto, uint32_t *l4off,
	 uint8_t *frag)
{
	if ((l3[0] >> 4) == 4) {
		uint16_t off = rte_be_to_cpu_16(((const struct rte_ipv4_hdr *)(const void *)l3)
							->fragment_offset);

		*family = AF_INET;
		*proto = l3[9];
		*l4off = (l3[0] & 0xfu) * 4u;
		*frag = (off & 0x3fff) != 0;
	} else {
		int f, first;

		*family = AF_INET6;
		if (mg_ip6_walk(l3, len, proto, l4off, &f, &first) < 0) {
			*proto = MG_IPPROTO_NONE;
			*l4off = len;
		}
		*frag = (uint8_t)f;
	}
}

static void
check_svc(uint8_t *l3, uint32_t len)
{
	struct mg_flow_key k, k2;
	enum mg_svc_key kind, kind2;
	uint8_t family, proto, frag;
	uint32_t l4off, h, h2;

	/* node_svc.c runs behind eth-input: at least a whole fixed IP header. */
	if (len < 1 || !(((l3[0] >> 4) == 4 && len >= MG_IP4_MIN_HLEN) ||
			 ((l3[0] >> 4) == 6 && len >= MG_IP6_HLEN)))
		return;
	svc_args(l3, len, &family, &proto, &l4off, &frag);
	kind = mg_svc_pkt_key(l3, len, family, proto, l4off, frag, 7, &k, &h);
	FZ_ASSERT(k.net == 7, "key lost its network");
	kind2 = mg_svc_pkt_key(l3, len, family, proto, l4off, frag, 7, &k2, &h2);
	FZ_ASSERT(kind == kind2 && h == h2 && memcmp(&k, &k2, sizeof(k)) == 0,
		  "the same packet keyed twice differently");
	FZ_ASSERT(mg_svc_hash_pkt(l3, len, family, proto, l4off, frag, &kind2) == h &&
			  kind2 == kind,
		  "mg_svc_hash_pkt and mg_svc_pkt_key disagree");
	if (kind == MG_SVC_KEY_NONE) {
		FZ_ASSERT(h == 0, "no key but hash %08x", h);
		return;
	}
	if (kind == MG_SVC_KEY_GTPU) {
		uint32_t teid;

		FZ_ASSERT(proto == MG_IPPROTO_UDP && !frag && l4off + 16 <= len &&
				  l3[l4off + 2] == (MG_SVC_GTPU_PORT >> 8) &&
				  l3[l4off + 3] == (MG_SVC_GTPU_PORT & 0xff) &&
				  (l3[l4off + 8] >> 4) == 3,
			  "GTP-U key for a packet that is not GTPv1-U");
		memcpy(&teid, l3 + l4off + 12, 4);
		FZ_ASSERT(k.tag == teid, "GTP-U key without its TEID");
	}
	if (kind == MG_SVC_KEY_SCTP)
		FZ_ASSERT(proto == MG_IPPROTO_SCTP && !frag && l4off + 12 <= len,
			  "SCTP key for a packet that is not SCTP");
	/*
	 * GTP-U by TEID and SCTP by ports and tag: another address pair (and
	 * for GTP-U another UDP source port) must land on the same endpoint.
	 */
	/* (Not when an IHL below 5 puts the "L4 header" inside the addresses: eth-input drops those.) */
	if ((kind == MG_SVC_KEY_GTPU || kind == MG_SVC_KEY_SCTP) &&
	    l4off >= (family == AF_INET ? 20u : 40u)) {
		uint32_t a = family == AF_INET ? 12 : 8, n = family == AF_INET ? 8 : 32;
		uint8_t saved[34];

		memcpy(saved, l3 + a, n);
		for (uint32_t i = 0; i < n; i++)
			l3[a + i] ^= (uint8_t)(0x5a + i);
		if (kind == MG_SVC_KEY_GTPU) {
			memcpy(saved + 32, l3 + l4off, 2);
			l3[l4off] ^= 0xa5;
		}
		h2 = mg_svc_hash_pkt(l3, len, family, proto, l4off, frag, &kind2);
		FZ_ASSERT(kind2 == kind && h2 == h, "%s hash depends on the addresses",
			  kind == MG_SVC_KEY_GTPU ? "GTP-U" : "SCTP");
		memcpy(l3 + a, saved, n);
		if (kind == MG_SVC_KEY_GTPU)
			memcpy(l3 + l4off, saved + 32, 2);
	}
}

static void
check_cls(const uint8_t *l3, uint32_t len)
{
	struct rte_mbuf m;
	struct mg_cls_key k;

	if (len < 1)
		return;
	/* The key reads only the first segment's data: a bare mbuf header over the bytes. */
	memset(&m, 0, sizeof(m));
	m.buf_addr = (void *)(uintptr_t)l3;
	m.data_off = 0;
	m.data_len = (uint16_t)len;
	m.pkt_len = len;
	m.nb_segs = 1;
	if ((l3[0] >> 4) == 4) {
		mg_cls_key4(&k, &m, 3, 100);
		if (len >= 20)
			FZ_ASSERT(k.proto == l3[9], "IPv4 key with protocol %u, header says %u",
				  k.proto, l3[9]);
	} else {
		mg_cls_key6(&k, &m, 3, 100);
	}
	FZ_ASSERT(k.pad[0] == 0 && k.pad[1] == 0 && k.pad[2] == 0, "key padding not zero");
	FZ_ASSERT(k.len == len, "key length %u of %u", k.len, len);
}

static void
check_walk(const uint8_t *l3, uint32_t len)
{
	uint8_t proto;
	uint32_t l4off;
	int frag, first;

	if (len < MG_IP6_HLEN || (l3[0] >> 4) != 6)
		return;
	if (mg_ip6_walk(l3, len, &proto, &l4off, &frag, &first) == 0) {
		FZ_ASSERT(l4off >= MG_IP6_HLEN && l4off <= len, "upper layer at %u of %u", l4off,
			  len);
		FZ_ASSERT(!mg_ip6_is_ext(proto) || (frag && !first),
			  "walk stopped on extension header %u", proto);
		FZ_ASSERT(!first || frag, "first fragment without a fragment header");
	}
}

/* A NAT rewrite with @flags: a right checksum stays right. */
static void
check_nat(uint8_t *l3, uint32_t len, uint8_t flags, bool fix)
{
	static const uint8_t a4[4] = {198, 51, 100, 77}, b4[4] = {203, 0, 113, 9};
	static const uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x77};
	static const uint8_t b6[16] = {0xfd, 0x00, 0x99, [14] = 0x12, [15] = 0x34};
	struct mg_nat_rw rw, orw;
	struct mg_nat_pkt p;
	struct l4_region r;
	bool ip_ok, ok4, is_err;
	int rc;

	if (mg_nat_pkt_init(&p, l3, len) != 0)
		return;
	FZ_ASSERT(p.l4off == MG_NAT_NO_L4 || p.l4off <= len, "L4 at %u of %u", p.l4off, len);
	r = l4_region(&p);
	is_err = mg_nat_is_icmp_error(&p);
	if (fix) {
		if (p.family == AF_INET)
			ip4_hdr_fix(l3, len);
		if (r.ck >= 0)
			l4_fix(&p, &r);
	}
	ip_ok = p.family == AF_INET && ip4_hdr_ok(l3, len);
	ok4 = r.ck >= 0 && l4_ok(&p, &r);

	memset(&rw, 0, sizeof(rw));
	rw.flags = flags & 0xf;
	rw.sport = RTE_BE16(40000);
	rw.dport = RTE_BE16(2152);
	memcpy(rw.src, p.family == AF_INET ? a4 : a6, p.family == AF_INET ? 4 : 16);
	memcpy(rw.dst, p.family == AF_INET ? b4 : b6, p.family == AF_INET ? 4 : 16);
	if (is_err) {
		memset(&orw, 0, sizeof(orw));
		orw.flags = rw.flags & (MG_NAT_SRC | MG_NAT_DST);
		memcpy(orw.src, rw.dst, 16);
		memcpy(orw.dst, rw.src, 16);
		rc = mg_nat_rewrite_icmp_error(&p, &orw, &rw);
	} else {
		rc = mg_nat_rewrite(&p, &rw);
	}
	if (rc != 0)
		return;
	if (ip_ok)
		FZ_ASSERT(ip4_hdr_ok(l3, len), "NAT broke the IPv4 header checksum (flags %x%s)",
			  rw.flags, is_err ? ", ICMP error" : "");
	if (ok4)
		FZ_ASSERT(l4_ok(&p, &r), "NAT broke the protocol %u checksum (flags %x%s)", p.proto,
			  rw.flags, is_err ? ", ICMP error" : "");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t len;
	uint8_t *l3, ctl;

	if (size < 1)
		return 0;
	ctl = data[0];
	len = (uint32_t)RTE_MIN(size - 1, (size_t)MAX_PKT);
	/* An exact-size heap copy: ASan catches any read or write past the packet. */
	l3 = malloc(len ? len : 1);
	FZ_SETUP(l3 != NULL, "out of memory");
	memcpy(l3, data + 1, len);
	if (ctl & 0x20) {
		/* What reaches lib/svc and lib/cls in the graph: a valid header, trimmed. */
		if (len >= 1 && (l3[0] >> 4) == 4) {
			struct mg_ip4_info i4;

			ip4_hdr_fix(l3, len);
			if (mg_parse_ip4((const struct rte_ipv4_hdr *)(const void *)l3, len, 0, &i4) !=
			    MG_DROP_NONE)
				goto out;
			FZ_ASSERT(i4.ihl >= 20 && i4.ihl <= i4.tot && i4.tot <= len, "IPv4 lengths");
			len = i4.tot;
		} else {
			struct mg_ip6_info i6;

			if (mg_parse_ip6(l3, len, &i6) != MG_DROP_NONE)
				goto out;
			FZ_ASSERT(i6.tot >= MG_IP6_HLEN && i6.tot <= len, "IPv6 lengths");
			len = i6.tot;
		}
	}
	check_walk(l3, len);
	check_cls(l3, len);
	check_svc(l3, len);
	check_nat(l3, len, ctl & 0xf, ctl & 0x10);
out:
	free(l3);
	return 0;
}
