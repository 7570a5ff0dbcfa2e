/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NAT primitives against references written from scratch here: every
 * checksum a rewrite patches incrementally is compared with one computed
 * over the whole packet (RFC 1071 sum, a bitwise CRC32c for SCTP); ICMP
 * errors are checked on the outer message and the quoted packet; NPTv6
 * against RFC 6296's own example and for checksum neutrality; the SNAT
 * port allocator for exhaustion, double frees and block ownership.
 */
#include <arpa/inet.h>
#include <unistd.h>

#include <rte_eal.h>

#include "mg_nat.h"
#include "mg_test.h"
#include "mg_test_eal.h"

/* ---- references ------------------------------------------------------------------------ */

/* A small deterministic generator (xorshift64*), so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* RFC 1071 one's complement sum of @len bytes, big-endian words, unfolded. */
static uint32_t
ref_sum(const uint8_t *p, uint32_t len, uint32_t s)
{
	for (uint32_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	return s;
}

/* Fold and complement: the checksum value, host order. */
static uint16_t
ref_fin(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Bitwise CRC32c (reflected polynomial 0x82f63b78), as RFC 9260 appendix A defines it. */
static uint32_t
ref_crc32c(const uint8_t *p, uint32_t len)
{
	uint32_t c = 0xffffffffu;

	for (uint32_t i = 0; i < len; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
	}
	return ~c;
}

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Offset of the checksum field for @proto, or -1. */
static int
cksum_off(uint8_t proto)
{
	switch (proto) {
	case MG_IPPROTO_TCP: return 16;
	case MG_IPPROTO_UDP: return 6;
	case MG_IPPROTO_ICMP:
	case MG_IPPROTO_ICMPV6: return 2;
	case MG_IPPROTO_SCTP: return 8;
	default: return -1;
	}
}

/*
 * The checksum an upper-layer header at @l4 (@len bytes) of a packet with
 * header @l3 should carry, computed from scratch with its field taken as 0.
 * UDP's 0 result is sent as 0xffff. SCTP: the CRC as stored on the wire.
 */
static uint32_t
ref_l4_cksum(const uint8_t *l3, int family, uint8_t proto, const uint8_t *l4, uint32_t len)
{
	uint8_t tmp[2048];
	int off = cksum_off(proto);
	uint32_t s = 0;

	if (off < 0 || len > sizeof(tmp))
		return 0;
	memcpy(tmp, l4, len);
	if (proto == MG_IPPROTO_SCTP) {
		uint32_t c;

		memset(tmp + 8, 0, 4);
		c = ref_crc32c(tmp, len);
		return (c & 0xff) << 24 | (c & 0xff00) << 8 | (c >> 8 & 0xff00) | c >> 24;
	}
	wr16(tmp + off, 0);
	if (proto != MG_IPPROTO_ICMP) {
		if (family == AF_INET)
			s = ref_sum(l3 + 12, 8, 0);
		else
			s = ref_sum(l3 + 8, 32, 0);
		s += proto + len;
	}
	s = ref_sum(tmp, len, s);
	uint16_t c = ref_fin(s);

	if (proto == MG_IPPROTO_UDP && c == 0)
		c = 0xffff;
	return c;
}

/* The checksum the upper-layer header carries (as ref_l4_cksum returns it). */
static uint32_t
l4_cksum_field(uint8_t proto, const uint8_t *l4)
{
	if (proto == MG_IPPROTO_SCTP)
		return (uint32_t)l4[8] << 24 | (uint32_t)l4[9] << 16 | (uint32_t)l4[10] << 8 | l4[11];
	return rd16(l4 + cksum_off(proto));
}

static uint16_t
ref_ip4_cksum(const uint8_t *l3)
{
	uint8_t h[60];
	uint32_t ihl = (l3[0] & 0xfu) * 4u;

	memcpy(h, l3, ihl);
	wr16(h + 10, 0);
	return ref_fin(ref_sum(h, ihl, 0));
}

/* ---- packets ------------------------------------------------------------------------------ */

struct tpkt {
	uint8_t b[2048];
	uint32_t len;
	uint32_t l4off;
	int family;
	uint8_t proto;
};

/* Fill the L4 checksum (and IPv4 header checksum) from scratch. */
static void
tpkt_seal(struct tpkt *t)
{
	uint8_t *l4 = t->b + t->l4off;
	uint32_t l4len = t->len - t->l4off;

	if (t->family == AF_INET)
		wr16(t->b + 10, ref_ip4_cksum(t->b));
	if (cksum_off(t->proto) < 0)
		return;
	if (t->proto == MG_IPPROTO_SCTP) {
		uint32_t c = ref_l4_cksum(t->b, t->family, t->proto, l4, l4len);

		l4[8] = (uint8_t)(c >> 24);
		l4[9] = (uint8_t)(c >> 16);
		l4[10] = (uint8_t)(c >> 8);
		l4[11] = (uint8_t)c;
		return;
	}
	wr16(l4 + cksum_off(t->proto), (uint16_t)ref_l4_cksum(t->b, t->family, t->proto, l4, l4len));
}

/*
 * Build a packet: random addresses, ports and payload, @payload bytes after
 * the L4 header; ICMP/ICMPv6 are echo requests.
 */
static void
tpkt_build(struct tpkt *t, int family, uint8_t proto, uint32_t payload)
{
	uint32_t hl = family == AF_INET ? 20 : 40, l4h;

	memset(t, 0, sizeof(*t));
	t->family = family;
	t->proto = proto;
	switch (proto) {
	case MG_IPPROTO_TCP: l4h = 20; break;
	case MG_IPPROTO_SCTP: l4h = 12 + 16; break; /* common header + a DATA chunk header */
	default: l4h = 8; break;
	}
	t->l4off = hl;
	t->len = hl + l4h + payload;
	for (uint32_t i = 0; i < t->len; i++)
		t->b[i] = (uint8_t)rng();
	if (family == AF_INET) {
		t->b[0] = 0x45;
		t->b[1] = 0;
		wr16(t->b + 2, (uint16_t)t->len);
		wr16(t->b + 6, 0x4000); /* DF, not a fragment */
		t->b[8] = 64;
		t->b[9] = proto;
	} else {
		t->b[0] = 0x60;
		wr16(t->b + 4, (uint16_t)(t->len - 40));
		t->b[6] = proto;
		t->b[7] = 64;
	}
	uint8_t *l4 = t->b + hl;

	if (proto == MG_IPPROTO_TCP)
		l4[12] = 0x50;
	if (proto == MG_IPPROTO_UDP)
		wr16(l4 + 4, (uint16_t)(l4h + payload));
	if (proto == MG_IPPROTO_ICMP || proto == MG_IPPROTO_ICMPV6) {
		l4[0] = proto == MG_IPPROTO_ICMP ? MG_ICMP4_ECHO_REQUEST : MG_ICMP6_ECHO_REQUEST;
		l4[1] = 0;
	}
	tpkt_seal(t);
}

/*
 * Compare every checksum of @t with a from-scratch computation: 0 if all
 * match, else 1 (IPv4 header) or 2 (upper layer), described in @why.
 */
static int
tpkt_cksum_check(const struct tpkt *t, char *why, size_t n)
{
	const uint8_t *l4 = t->b + t->l4off;

	if (t->family == AF_INET && rd16(t->b + 10) != ref_ip4_cksum(t->b)) {
		snprintf(why, n, "IPv4 header checksum %#x, expected %#x", rd16(t->b + 10),
			 ref_ip4_cksum(t->b));
		return 1;
	}
	if (cksum_off(t->proto) < 0)
		return 0;
	uint32_t want = ref_l4_cksum(t->b, t->family, t->proto, l4, t->len - t->l4off);
	uint32_t have = l4_cksum_field(t->proto, l4);

	if (want != have) {
		snprintf(why, n, "family %d proto %u: L4 checksum %#x, expected %#x", t->family,
			 t->proto, have, want);
		return 2;
	}
	return 0;
}

/* Check every checksum of @t; report the first mismatch as a failure. */
static bool
tpkt_cksums_ok(const struct tpkt *t)
{
	char why[128];

	if (tpkt_cksum_check(t, why, sizeof(why)) != 0) {
		MG_FAIL("%s", why);
		return false;
	}
	return true;
}

static int
tpkt_rewrite(struct tpkt *t, const struct mg_nat_rw *rw)
{
	struct mg_nat_pkt p;
	int rc = mg_nat_pkt_init(&p, t->b, t->len);

	if (rc < 0)
		return rc;
	return mg_nat_rewrite(&p, rw);
}

static void
rw_random(struct mg_nat_rw *rw, uint8_t flags)
{
	memset(rw, 0, sizeof(*rw));
	rw->flags = flags;
	rw->sport = (uint16_t)rng();
	rw->dport = (uint16_t)rng();
	for (int i = 0; i < 16; i++) {
		rw->src[i] = (uint8_t)rng();
		rw->dst[i] = (uint8_t)rng();
	}
}

/* ---- checksum arithmetic ------------------------------------------------------------------ */

MG_TEST(crc32c_matches_bitwise_reference)
{
	uint8_t buf[1500];

	CHECK_EQ(mg_nat_crc32c("123456789", 9), 0xe3069283u); /* the check value of CRC-32C */
	CHECK_EQ(ref_crc32c((const uint8_t *)"123456789", 9), 0xe3069283u);
	for (int n = 0; n < 200; n++) {
		uint32_t len = (uint32_t)(rng() % sizeof(buf));

		for (uint32_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rng();
		CHECK_EQ(mg_nat_crc32c(buf, len), ref_crc32c(buf, len));
	}
}

/* The checksums start out right (so the rewrite checks below can fail). */
MG_TEST(reference_detects_a_wrong_checksum)
{
	struct tpkt t;

	tpkt_build(&t, AF_INET, MG_IPPROTO_TCP, 30);
	CHECK(tpkt_cksums_ok(&t));
	char why[128];

	t.b[t.len - 1] ^= 1;
	CHECK_EQ(tpkt_cksum_check(&t, why, sizeof(why)), 2);
	t.b[t.len - 1] ^= 1;
	t.b[8]--; /* TTL */
	CHECK_EQ(tpkt_cksum_check(&t, why, sizeof(why)), 1);
}

/* ---- rewrites --------------------------------------------------------------------------- */

static void
rewrites_random(int family, uint8_t proto)
{
	static const uint8_t flag_sets[] = {
		MG_NAT_SRC, MG_NAT_DST, MG_NAT_SPORT, MG_NAT_DPORT,
		MG_NAT_SRC | MG_NAT_SPORT, MG_NAT_DST | MG_NAT_DPORT,
		MG_NAT_SRC | MG_NAT_DST | MG_NAT_SPORT | MG_NAT_DPORT,
	};

	for (int n = 0; n < 300; n++) {
		struct tpkt t;
		struct mg_nat_rw rw;
		uint8_t flags = flag_sets[n % RTE_DIM(flag_sets)];
		uint32_t alen = family == AF_INET ? 4 : 16;
		uint8_t *src = t.b + (family == AF_INET ? 12 : 8);
		uint8_t *dst = t.b + (family == AF_INET ? 16 : 24);

		struct tpkt before;

		tpkt_build(&t, family, proto, (uint32_t)(rng() % 200) + (n & 1));
		before = t;
		rw_random(&rw, flags);
		CHECK_EQ(tpkt_rewrite(&t, &rw), 0);
		if (!tpkt_cksums_ok(&t))
			return;
		if (flags & MG_NAT_SRC)
			CHECK(memcmp(src, rw.src, alen) == 0);
		if (flags & MG_NAT_DST)
			CHECK(memcmp(dst, rw.dst, alen) == 0);
		const uint8_t *l4 = t.b + t.l4off;

		if (proto == MG_IPPROTO_ICMP || proto == MG_IPPROTO_ICMPV6) {
			if (flags & (MG_NAT_SPORT | MG_NAT_DPORT))
				CHECK_EQ(rd16(l4 + 4), ntohs((flags & MG_NAT_SPORT) ? rw.sport
										   : rw.dport));
		} else if (cksum_off(proto) < 0) {
			/* No ports in an unknown protocol: the payload is untouched. */
			CHECK_EQ(rd16(l4), rd16(before.b + t.l4off));
			CHECK(memcmp(l4, before.b + t.l4off, t.len - t.l4off) == 0);
		} else {
			if (flags & MG_NAT_SPORT)
				CHECK_EQ(rd16(l4), ntohs(rw.sport));
			if (flags & MG_NAT_DPORT)
				CHECK_EQ(rd16(l4 + 2), ntohs(rw.dport));
		}
	}
}

MG_TEST(rewrite_tcp4_checksums) { rewrites_random(AF_INET, MG_IPPROTO_TCP); }
MG_TEST(rewrite_udp4_checksums) { rewrites_random(AF_INET, MG_IPPROTO_UDP); }
MG_TEST(rewrite_icmp4_echo_checksums) { rewrites_random(AF_INET, MG_IPPROTO_ICMP); }
MG_TEST(rewrite_sctp4_crc) { rewrites_random(AF_INET, MG_IPPROTO_SCTP); }
MG_TEST(rewrite_tcp6_checksums) { rewrites_random(AF_INET6, MG_IPPROTO_TCP); }
MG_TEST(rewrite_udp6_checksums) { rewrites_random(AF_INET6, MG_IPPROTO_UDP); }
MG_TEST(rewrite_icmp6_echo_checksums) { rewrites_random(AF_INET6, MG_IPPROTO_ICMPV6); }
MG_TEST(rewrite_sctp6_crc) { rewrites_random(AF_INET6, MG_IPPROTO_SCTP); }
MG_TEST(rewrite_other_proto_addresses_only)
{
	rewrites_random(AF_INET, MG_IPPROTO_GRE);
	rewrites_random(AF_INET6, 253);
}

MG_TEST(udp4_without_checksum_keeps_none)
{
	struct tpkt t;
	struct mg_nat_rw rw;

	tpkt_build(&t, AF_INET, MG_IPPROTO_UDP, 40);
	wr16(t.b + t.l4off + 6, 0);
	rw_random(&rw, MG_NAT_SRC | MG_NAT_SPORT);
	CHECK_EQ(tpkt_rewrite(&t, &rw), 0);
	CHECK_EQ(rd16(t.b + t.l4off + 6), 0);
	CHECK_EQ(rd16(t.b + 10), ref_ip4_cksum(t.b));
}

MG_TEST(udp6_without_checksum_gets_one)
{
	struct tpkt t;
	struct mg_nat_rw rw;

	tpkt_build(&t, AF_INET6, MG_IPPROTO_UDP, 40);
	wr16(t.b + t.l4off + 6, 0);
	rw_random(&rw, MG_NAT_DST);
	CHECK_EQ(tpkt_rewrite(&t, &rw), 0);
	CHECK(rd16(t.b + t.l4off + 6) != 0);
	CHECK(tpkt_cksums_ok(&t));
}

/* An updated UDP checksum that comes out 0 is sent as 0xffff (RFC 768). */
MG_TEST(udp_zero_result_sent_as_ffff)
{
	for (int family = AF_INET; family <= AF_INET6; family += AF_INET6 - AF_INET) {
		struct tpkt t, u;
		struct mg_nat_rw rw = {.flags = MG_NAT_SPORT};
		int found = 0;

		tpkt_build(&t, family, MG_IPPROTO_UDP, 10);
		/* Find the source port that makes the from-scratch checksum 0. */
		for (uint32_t port = 0; port < 65536 && !found; port++) {
			u = t;
			wr16(u.b + u.l4off, (uint16_t)port);
			wr16(u.b + u.l4off + 6, 0);
			uint16_t c = ref_fin(ref_sum(u.b + u.l4off, u.len - u.l4off,
						     ref_sum(u.b + (family == AF_INET ? 12 : 8),
							     family == AF_INET ? 8 : 32,
							     MG_IPPROTO_UDP + u.len - u.l4off)));
			if (c == 0) {
				rw.sport = htons((uint16_t)port);
				found = 1;
			}
		}
		CHECK(found);
		CHECK_EQ(tpkt_rewrite(&t, &rw), 0);
		CHECK_EQ(rd16(t.b + t.l4off + 6), 0xffff);
	}
}

MG_TEST(truncated_packet_refused_untouched)
{
	struct tpkt t, before;
	struct mg_nat_rw rw;
	struct mg_nat_pkt p;

	tpkt_build(&t, AF_INET, MG_IPPROTO_TCP, 0);
	before = t;
	rw_random(&rw, MG_NAT_SRC | MG_NAT_SPORT);
	CHECK_EQ(mg_nat_pkt_init(&p, t.b, 20 + 12), 0); /* TCP header cut at 12 bytes */
	CHECK_EQ(mg_nat_rewrite(&p, &rw), -EINVAL);
	CHECK(memcmp(t.b, before.b, t.len) == 0);
	CHECK_EQ(mg_nat_pkt_init(&p, t.b, 10), -EINVAL);
	t.b[0] = 0x75;
	CHECK_EQ(mg_nat_pkt_init(&p, t.b, t.len), -EINVAL);
}

MG_TEST(fragments)
{
	struct tpkt t;
	struct mg_nat_rw rw;
	struct mg_nat_pkt p;

	/* A later IPv4 fragment: addresses only, header checksum right. */
	tpkt_build(&t, AF_INET, MG_IPPROTO_UDP, 64);
	wr16(t.b + 6, 0x2000 | 100); /* MF, offset 800 */
	wr16(t.b + 10, ref_ip4_cksum(t.b));
	uint8_t l4_before[8];

	memcpy(l4_before, t.b + 20, 8);
	CHECK_EQ(mg_nat_pkt_init(&p, t.b, t.len), 0);
	CHECK_EQ(p.l4off, MG_NAT_NO_L4);
	rw_random(&rw, MG_NAT_SRC | MG_NAT_SPORT);
	CHECK_EQ(mg_nat_rewrite(&p, &rw), 0);
	CHECK(memcmp(t.b + 12, rw.src, 4) == 0);
	CHECK(memcmp(t.b + 20, l4_before, 8) == 0);
	CHECK_EQ(rd16(t.b + 10), ref_ip4_cksum(t.b));

	/* A first SCTP fragment: a port change needs the whole packet. */
	tpkt_build(&t, AF_INET, MG_IPPROTO_SCTP, 64);
	wr16(t.b + 6, 0x2000);
	wr16(t.b + 10, ref_ip4_cksum(t.b));
	CHECK_EQ(mg_nat_pkt_init(&p, t.b, t.len), 0);
	CHECK(p.frag);
	rw_random(&rw, MG_NAT_DPORT);
	CHECK_EQ(mg_nat_rewrite(&p, &rw), -ENOTSUP);
	/* Its addresses can change: SCTP's CRC does not cover them. */
	rw_random(&rw, MG_NAT_DST);
	CHECK_EQ(mg_nat_rewrite(&p, &rw), 0);
	CHECK_EQ(rd16(t.b + 10), ref_ip4_cksum(t.b));
}

/* ---- ICMP errors --------------------------------------------------------------------------- */

/*
 * An ICMP error from router @rtr to @to quoting @quoted (the first @qlen
 * bytes): type 3 code 4 for IPv4, packet too big for IPv6.
 */
static void
icmp_error_build(struct tpkt *e, int family, const uint8_t *rtr, const uint8_t *to,
		 const struct tpkt *quoted, uint32_t qlen)
{
	uint32_t hl = family == AF_INET ? 20 : 40;
	uint8_t proto = family == AF_INET ? MG_IPPROTO_ICMP : MG_IPPROTO_ICMPV6;

	memset(e, 0, sizeof(*e));
	e->family = family;
	e->proto = proto;
	e->l4off = hl;
	e->len = hl + 8 + qlen;
	if (family == AF_INET) {
		e->b[0] = 0x45;
		wr16(e->b + 2, (uint16_t)e->len);
		e->b[8] = 64;
		e->b[9] = proto;
		memcpy(e->b + 12, rtr, 4);
		memcpy(e->b + 16, to, 4);
		e->b[hl] = MG_ICMP4_DEST_UNREACH;
		e->b[hl + 1] = MG_ICMP4_UNREACH_FRAG_NEEDED;
		wr16(e->b + hl + 6, 1400);
	} else {
		e->b[0] = 0x60;
		wr16(e->b + 4, (uint16_t)(e->len - 40));
		e->b[6] = proto;
		e->b[7] = 64;
		memcpy(e->b + 8, rtr, 16);
		memcpy(e->b + 24, to, 16);
		e->b[hl] = MG_ICMP6_PACKET_TOO_BIG;
		wr16(e->b + hl + 6, 1280);
	}
	memcpy(e->b + hl + 8, quoted->b, qlen);
	tpkt_seal(e);
}

/*
 * A router @rtr's ICMP error about @sent, quoting its first @qlen bytes,
 * into @err, then translated back by the gateway. @sent is the client's
 * packet @orig after SNAT @snat (source client:cport became
 * snat.src:snat.sport), so the error goes to snat.src, and back means: to
 * the client's address outside, the client's address and port (an echo's
 * identifier) in the quote. Checked: the error's checksums before and after
 * (from scratch), that it is seen as an ICMP error, and that it now goes
 * from @rtr to the client. The caller checks the quote.
 */
static void
icmp_error_back(const struct tpkt *orig, const struct tpkt *sent, const struct mg_nat_rw *snat,
		const uint8_t *rtr, uint32_t qlen, struct tpkt *err)
{
	int family = orig->family;
	uint32_t alen = family == AF_INET ? 4 : 16;
	uint32_t so = family == AF_INET ? 12 : 8, dof = family == AF_INET ? 16 : 24;
	const uint8_t *client = orig->b + so;
	uint16_t cport = rd16(orig->b + orig->l4off + (cksum_off(orig->proto) == 2 ? 4 : 0));
	struct mg_nat_rw in_outer, in_inner;
	struct mg_nat_pkt p;

	icmp_error_build(err, family, rtr, snat->src, sent, qlen);
	CHECK(tpkt_cksums_ok(err));
	memset(&in_outer, 0, sizeof(in_outer));
	in_outer.flags = MG_NAT_DST;
	memcpy(in_outer.dst, client, alen);
	memset(&in_inner, 0, sizeof(in_inner));
	in_inner.flags = MG_NAT_SRC | MG_NAT_SPORT;
	memcpy(in_inner.src, client, alen);
	in_inner.sport = htons(cport);
	CHECK_EQ(mg_nat_pkt_init(&p, err->b, err->len), 0);
	CHECK(mg_nat_is_icmp_error(&p));
	CHECK_EQ(mg_nat_rewrite_icmp_error(&p, &in_outer, &in_inner), 0);
	/* Outer: addressed to the client, IPv4 and ICMP checksums right from scratch. */
	CHECK(memcmp(err->b + dof, client, alen) == 0);
	CHECK(memcmp(err->b + so, rtr, alen) == 0);
	CHECK(tpkt_cksums_ok(err));
}

static void
icmp_error_case(int family, uint8_t qproto, uint32_t qlen_cut)
{
	uint32_t alen = family == AF_INET ? 4 : 16;
	struct tpkt out, err, expect_inner;
	struct mg_nat_rw snat;
	uint8_t rtr[16];

	/*
	 * A client's packet leaves through SNAT. A router on the way answers
	 * with an error to the translated source, quoting the translated
	 * packet; the gateway must deliver it to the client with the quote as
	 * the client sent it.
	 */
	tpkt_build(&out, family, qproto, 24);
	expect_inner = out;
	rw_random(&snat, MG_NAT_SRC | MG_NAT_SPORT);
	CHECK_EQ(tpkt_rewrite(&out, &snat), 0);
	for (uint32_t i = 0; i < alen; i++)
		rtr[i] = (uint8_t)rng();

	uint32_t qlen = qlen_cut ? qlen_cut : out.len;

	icmp_error_back(&expect_inner, &out, &snat, rtr, qlen, &err);
	/* The quote is byte for byte what the client sent (up to the cut). */
	const uint8_t *q = err.b + err.l4off + 8;

	if (qlen_cut == 0) {
		CHECK(memcmp(q, expect_inner.b, expect_inner.len) == 0);
	} else {
		/* Short quote: the L4 checksum is past the cut (TCP) or unchanged. */
		uint32_t cmp = qlen < expect_inner.len ? qlen : expect_inner.len;
		int co = cksum_off(qproto);

		for (uint32_t i = 0; i < cmp; i++) {
			if (co >= 0 && i >= out.l4off + (uint32_t)co &&
			    i < out.l4off + (uint32_t)co + 2)
				continue;
			if (q[i] != expect_inner.b[i]) {
				MG_FAIL("quote byte %u is %#x, expected %#x", i, q[i],
					expect_inner.b[i]);
				break;
			}
		}
	}
	if (family == AF_INET)
		CHECK_EQ(rd16(q + 10), ref_ip4_cksum(q));
}

MG_TEST(icmp4_error_quoting_tcp) { icmp_error_case(AF_INET, MG_IPPROTO_TCP, 0); }
MG_TEST(icmp4_error_quoting_udp) { icmp_error_case(AF_INET, MG_IPPROTO_UDP, 0); }
MG_TEST(icmp4_error_quoting_echo) { icmp_error_case(AF_INET, MG_IPPROTO_ICMP, 0); }
MG_TEST(icmp4_error_short_quote) { icmp_error_case(AF_INET, MG_IPPROTO_TCP, 28); }
MG_TEST(icmp6_error_quoting_udp) { icmp_error_case(AF_INET6, MG_IPPROTO_UDP, 0); }
MG_TEST(icmp6_error_quoting_tcp) { icmp_error_case(AF_INET6, MG_IPPROTO_TCP, 0); }
MG_TEST(icmp6_error_quoting_echo) { icmp_error_case(AF_INET6, MG_IPPROTO_ICMPV6, 0); }
MG_TEST(icmp6_error_short_quote) { icmp_error_case(AF_INET6, MG_IPPROTO_TCP, 48); }

MG_TEST(icmp_error_quote_too_short_untouched)
{
	struct tpkt out, err, before;
	struct mg_nat_rw inner;
	struct mg_nat_pkt p;
	uint8_t a[4] = {198, 51, 100, 1}, b[4] = {203, 0, 113, 1};

	tpkt_build(&out, AF_INET, MG_IPPROTO_UDP, 20);
	icmp_error_build(&err, AF_INET, a, b, &out, 24); /* 4 bytes of UDP: no ports */
	before = err;
	rw_random(&inner, MG_NAT_SRC | MG_NAT_SPORT);
	CHECK_EQ(mg_nat_pkt_init(&p, err.b, err.len), 0);
	CHECK_EQ(mg_nat_rewrite_icmp_error(&p, NULL, &inner), -EINVAL);
	CHECK(memcmp(err.b, before.b, err.len) == 0);
	/* Not an error at all. */
	tpkt_build(&out, AF_INET, MG_IPPROTO_ICMP, 20);
	CHECK_EQ(mg_nat_pkt_init(&p, out.b, out.len), 0);
	CHECK(!mg_nat_is_icmp_error(&p));
	CHECK_EQ(mg_nat_rewrite_icmp_error(&p, NULL, &inner), -EINVAL);
}

/* ---- fragments and ICMP errors about them ------------------------------------------------ */

/*
 * The first fragment of datagram @whole in @f: the IP header (IPv6: and a
 * fragment header, identification @id), then the first @cut bytes of the
 * upper layer (a multiple of 8). Its L4 checksum is the whole datagram's.
 */
static void
frag_first(const struct tpkt *whole, uint32_t cut, uint32_t id, struct tpkt *f)
{
	memset(f, 0, sizeof(*f));
	f->family = whole->family;
	f->proto = whole->proto;
	if (whole->family == AF_INET) {
		memcpy(f->b, whole->b, 20);
		wr16(f->b + 2, (uint16_t)(20 + cut));
		wr16(f->b + 4, (uint16_t)id);
		wr16(f->b + 6, 0x2000); /* MF, offset 0 */
		f->l4off = 20;
		memcpy(f->b + 20, whole->b + whole->l4off, cut);
		f->len = 20 + cut;
		wr16(f->b + 10, ref_ip4_cksum(f->b));
		return;
	}
	memcpy(f->b, whole->b, 40);
	f->b[6] = MG_IPPROTO_FRAGMENT;
	wr16(f->b + 4, (uint16_t)(8 + cut));
	f->b[40] = whole->proto;
	f->b[41] = 0;
	wr16(f->b + 42, 0x0001); /* offset 0, M */
	f->b[44] = (uint8_t)(id >> 24);
	f->b[45] = (uint8_t)(id >> 16);
	f->b[46] = (uint8_t)(id >> 8);
	f->b[47] = (uint8_t)id;
	f->l4off = 48;
	memcpy(f->b + 48, whole->b + whole->l4off, cut);
	f->len = 48 + cut;
}

/* The L4 checksum field of tpkt @t (host order). */
static uint16_t
l4_ck(const struct tpkt *t)
{
	return rd16(t->b + t->l4off + cksum_off(t->proto));
}

/*
 * A first fragment rewritten incrementally carries the checksum of the
 * whole datagram rewritten (computed from scratch); an ICMP error quoting
 * it, translated back, quotes the fragment exactly as it was sent, with
 * the outer checksums right.
 */
static void
first_fragment_case(int family, uint8_t proto)
{
	struct tpkt whole, whole_x, first, sent, err;
	struct mg_nat_rw snat;
	struct mg_nat_pkt p;
	uint8_t rtr[16] = {192, 0, 2, 77};

	tpkt_build(&whole, family, proto, 600);
	frag_first(&whole, 256, 0x01020304u, &first);
	sent = first;
	rw_random(&snat, MG_NAT_SRC | MG_NAT_SPORT);
	CHECK_EQ(mg_nat_pkt_init(&p, sent.b, sent.len), 0);
	CHECK(p.frag && p.l4off == first.l4off);
	CHECK_EQ(mg_nat_rewrite(&p, &snat), 0);
	/* The same rewrite of the whole datagram, its checksum from scratch. */
	whole_x = whole;
	CHECK_EQ(tpkt_rewrite(&whole_x, &snat), 0);
	CHECK(tpkt_cksums_ok(&whole_x));
	CHECK_EQ(l4_ck(&sent), l4_ck(&whole_x));
	if (family == AF_INET)
		CHECK_EQ(rd16(sent.b + 10), ref_ip4_cksum(sent.b));

	/* A router's error about it, translated back: the quote is the fragment as sent. */
	icmp_error_back(&first, &sent, &snat, rtr, sent.len, &err);
	CHECK(memcmp(err.b + err.l4off + 8, first.b, first.len) == 0);
}

MG_TEST(first_fragment_udp4) { first_fragment_case(AF_INET, MG_IPPROTO_UDP); }
MG_TEST(first_fragment_tcp4) { first_fragment_case(AF_INET, MG_IPPROTO_TCP); }
MG_TEST(first_fragment_echo4) { first_fragment_case(AF_INET, MG_IPPROTO_ICMP); }
MG_TEST(first_fragment_udp6) { first_fragment_case(AF_INET6, MG_IPPROTO_UDP); }
MG_TEST(first_fragment_tcp6) { first_fragment_case(AF_INET6, MG_IPPROTO_TCP); }
MG_TEST(first_fragment_echo6) { first_fragment_case(AF_INET6, MG_IPPROTO_ICMPV6); }

/* What a fragment cannot have translated: nothing written, -ENOTSUP (not -EINVAL). */
MG_TEST(fragment_checksum_over_the_whole_datagram_refused)
{
	struct tpkt whole, first, before;
	struct mg_nat_rw rw;
	struct mg_nat_pkt p;

	/* IPv6 UDP without a checksum: one would be computed over the whole datagram. */
	tpkt_build(&whole, AF_INET6, MG_IPPROTO_UDP, 600);
	wr16(whole.b + whole.l4off + 6, 0);
	frag_first(&whole, 256, 7, &first);
	before = first;
	rw_random(&rw, MG_NAT_DST);
	CHECK_EQ(mg_nat_pkt_init(&p, first.b, first.len), 0);
	CHECK_EQ(mg_nat_rewrite(&p, &rw), -ENOTSUP);
	CHECK(memcmp(first.b, before.b, first.len) == 0);
	/* Whole, it gets one (udp6_without_checksum_gets_one); IPv4 keeps none. */
	tpkt_build(&whole, AF_INET, MG_IPPROTO_UDP, 600);
	wr16(whole.b + whole.l4off + 6, 0);
	frag_first(&whole, 256, 7, &first);
	CHECK_EQ(mg_nat_pkt_init(&p, first.b, first.len), 0);
	CHECK_EQ(mg_nat_rewrite(&p, &rw), 0);
	CHECK_EQ(rd16(first.b + 26), 0);
	/* SCTP, IPv6: a port change needs the CRC32c over the whole datagram. */
	tpkt_build(&whole, AF_INET6, MG_IPPROTO_SCTP, 600);
	frag_first(&whole, 256, 8, &first);
	before = first;
	rw_random(&rw, MG_NAT_DST | MG_NAT_DPORT);
	CHECK_EQ(mg_nat_pkt_init(&p, first.b, first.len), 0);
	CHECK_EQ(mg_nat_rewrite(&p, &rw), -ENOTSUP);
	CHECK(memcmp(first.b, before.b, first.len) == 0);
}

/*
 * An error quoting a later fragment: no ports to find or change; the
 * quoted addresses still translate, the quoted payload is left alone.
 */
MG_TEST(icmp_error_quoting_a_later_fragment)
{
	struct tpkt whole, later, err;
	struct mg_nat_rw outer, inner;
	struct mg_nat_pkt p;
	uint8_t rtr[4] = {192, 0, 2, 1}, to[4] = {203, 0, 113, 5};

	tpkt_build(&whole, AF_INET, MG_IPPROTO_UDP, 600);
	later = whole;
	wr16(later.b + 6, 0x2000 | 32); /* MF, offset 256 */
	wr16(later.b + 10, ref_ip4_cksum(later.b));
	icmp_error_build(&err, AF_INET, rtr, to, &later, 20 + 64);
	rw_random(&inner, MG_NAT_SRC | MG_NAT_SPORT);
	rw_random(&outer, MG_NAT_DST);
	CHECK_EQ(mg_nat_pkt_init(&p, err.b, err.len), 0);
	CHECK_EQ(mg_nat_rewrite_icmp_error(&p, &outer, &inner), 0);
	CHECK(memcmp(err.b + 28 + 12, inner.src, 4) == 0);
	CHECK(memcmp(err.b + 28 + 20, later.b + 20, 64) == 0);
	CHECK_EQ(rd16(err.b + 28 + 10), ref_ip4_cksum(err.b + 28));
	CHECK(tpkt_cksums_ok(&err));
}

/* ---- NPTv6 ----------------------------------------------------------------------------------- */

static void
ip6(uint8_t a[16], const char *s)
{
	if (inet_pton(AF_INET6, s, a) != 1)
		MG_FAIL("bad address %s", s);
}

static uint16_t
addr_sum(const uint8_t a[16])
{
	return (uint16_t)~ref_fin(ref_sum(a, 16, 0));
}

/* RFC 6296 section 3.1's example: fd01:203:405::/48 <-> 2001:db8:1::/48. */
MG_TEST(npt6_rfc6296_example)
{
	struct mg_npt6 n;
	uint8_t in[16], out[16], a[16], want[16];

	ip6(in, "fd01:203:405::");
	ip6(out, "2001:db8:1::");
	CHECK_EQ(mg_npt6_init(&n, in, out, 48), 0);
	ip6(a, "fd01:203:405:1::1234");
	CHECK_EQ(mg_npt6_addr(&n, a, MG_NPT6_OUT), 0);
	ip6(want, "2001:db8:1:d550::1234");
	CHECK(memcmp(a, want, 16) == 0);
	CHECK_EQ(mg_npt6_addr(&n, a, MG_NPT6_IN), 0);
	ip6(want, "fd01:203:405:1::1234");
	CHECK(memcmp(a, want, 16) == 0);
}

MG_TEST(npt6_checksum_neutral_and_reversible)
{
	int ranged = 0;

	for (int n = 0; n < 2000; n++) {
		struct mg_npt6 x;
		uint8_t in[16] = {0}, out[16] = {0}, a[16], orig[16];
		uint8_t plen = (uint8_t)(1 + rng() % 64);

		for (int i = 0; i < 16; i++) {
			in[i] = (uint8_t)rng();
			out[i] = (uint8_t)rng();
		}
		/* Clear host bits. */
		for (int i = 0; i < 16; i++) {
			int keep = (int)plen - 8 * i;
			uint8_t m = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));

			in[i] &= m;
			out[i] &= m;
		}
		CHECK_EQ(mg_npt6_init(&x, in, out, plen), 0);
		for (int i = 0; i < 16; i++)
			a[i] = (uint8_t)rng();
		for (int i = 0; i < 16; i++) {
			int keep = (int)plen - 8 * i;
			uint8_t m = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));

			a[i] = (uint8_t)((a[i] & ~m) | in[i]);
		}
		if (n % 50 == 0 && plen <= 48)
			a[6] = a[7] = 0xff; /* an untranslatable subnet word for /48 and shorter */
		memcpy(orig, a, 16);
		int rc = mg_npt6_addr(&x, a, MG_NPT6_OUT);

		if (rc == -ERANGE) {
			ranged++;
			CHECK(memcmp(a, orig, 16) == 0);
			continue;
		}
		CHECK_EQ(rc, 0);
		/* The result is in the external prefix... */
		for (int i = 0; i < 16; i++) {
			int keep = (int)plen - 8 * i;
			uint8_t m = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));

			CHECK_EQ(a[i] & m, out[i]);
		}
		/* ...its one's complement sum is the original's... */
		CHECK_EQ(addr_sum(a), addr_sum(orig));
		/* ...and translating back restores the address. */
		CHECK_EQ(mg_npt6_addr(&x, a, MG_NPT6_IN), 0);
		CHECK(memcmp(a, orig, 16) == 0);
	}
	CHECK(ranged > 0);
}

MG_TEST(npt6_packet_checksum_unchanged)
{
	struct mg_npt6 x;
	uint8_t in[16], out[16];
	struct mg_nat_pkt p;

	ip6(in, "fd00:aa:bb::");
	ip6(out, "2001:db8:77::");
	CHECK_EQ(mg_npt6_init(&x, in, out, 48), 0);
	const uint8_t protos[] = {MG_IPPROTO_TCP, MG_IPPROTO_UDP, MG_IPPROTO_ICMPV6};

	for (unsigned int k = 0; k < RTE_DIM(protos); k++) {
		struct tpkt t;
		uint8_t l4_before[64];

		tpkt_build(&t, AF_INET6, protos[k], 30);
		memcpy(t.b + 8, in, 6); /* source inside the internal prefix */
		tpkt_seal(&t);
		memcpy(l4_before, t.b + 40, 28);
		CHECK_EQ(mg_nat_pkt_init(&p, t.b, t.len), 0);
		CHECK_EQ(mg_npt6_rewrite(&x, &p, MG_NPT6_OUT), 0);
		CHECK(memcmp(t.b + 8, out, 6) == 0);
		/* Not a byte of the upper layer changed, and its checksum still holds. */
		CHECK(memcmp(t.b + 40, l4_before, 28) == 0);
		CHECK(tpkt_cksums_ok(&t));
		/* The way back. */
		CHECK_EQ(mg_npt6_rewrite(&x, &p, MG_NPT6_IN), -ENOENT); /* dst is not ours */
		memcpy(t.b + 24, t.b + 8, 16);                          /* a reply to it */
		tpkt_seal(&t);
		CHECK_EQ(mg_npt6_rewrite(&x, &p, MG_NPT6_IN), 0);
		CHECK(memcmp(t.b + 24, in, 6) == 0);
		CHECK(tpkt_cksums_ok(&t));
	}
}

MG_TEST(npt6_icmp_error_quote)
{
	struct mg_npt6 x;
	uint8_t in[16], out[16], rtr[16], ext[16];
	struct tpkt o, e;
	struct mg_nat_pkt p;

	ip6(in, "fd00:1::");
	ip6(out, "2001:db8:2::");
	ip6(rtr, "2001:db8:ffff::1");
	CHECK_EQ(mg_npt6_init(&x, in, out, 48), 0);
	tpkt_build(&o, AF_INET6, MG_IPPROTO_UDP, 16);
	memcpy(o.b + 8, in, 6);
	tpkt_seal(&o);
	uint8_t inside[16];

	memcpy(inside, o.b + 8, 16);
	CHECK_EQ(mg_nat_pkt_init(&p, o.b, o.len), 0);
	CHECK_EQ(mg_npt6_rewrite(&x, &p, MG_NPT6_OUT), 0);
	memcpy(ext, o.b + 8, 16);
	/* A router answers the translated packet; it comes back in. */
	icmp_error_build(&e, AF_INET6, rtr, ext, &o, o.len);
	CHECK_EQ(mg_nat_pkt_init(&p, e.b, e.len), 0);
	CHECK_EQ(mg_npt6_rewrite(&x, &p, MG_NPT6_IN), 0);
	CHECK(memcmp(e.b + 24, inside, 16) == 0);
	CHECK(memcmp(e.b + 48 + 8, inside, 16) == 0); /* the quote's source */
	CHECK(tpkt_cksums_ok(&e));
}

MG_TEST(npt6_bad_prefixes)
{
	struct mg_npt6 x;
	uint8_t in[16], out[16];

	ip6(in, "fd00:1::");
	ip6(out, "2001:db8:2::");
	CHECK_EQ(mg_npt6_init(&x, in, out, 0), -EINVAL);
	CHECK_EQ(mg_npt6_init(&x, in, out, 65), -EINVAL);
	ip6(in, "fd00:1::1");
	CHECK_EQ(mg_npt6_init(&x, in, out, 48), -EINVAL); /* host bits set */
}

/* ---- SNAT port blocks -------------------------------------------------------------------- */

MG_TEST(port_blocks_partition_the_range)
{
	const uint16_t first = 1024, last = 65535;

	for (unsigned int nw = 1; nw <= 7; nw++) {
		uint32_t next = first;

		for (unsigned int w = 0; w < nw; w++) {
			uint16_t bf, bl;

			CHECK_EQ(mg_nat_port_block(first, last, nw, w, &bf, &bl), 0);
			CHECK_EQ(bf, next); /* contiguous, no overlap, no gap */
			CHECK(bl >= bf);
			next = (uint32_t)bl + 1;
			for (uint32_t port = bf; port <= bl; port += 97)
				CHECK_EQ(mg_nat_port_owner(first, last, nw, (uint16_t)port), (int)w);
			CHECK_EQ(mg_nat_port_owner(first, last, nw, bl), (int)w);
		}
		CHECK_EQ(next, (uint32_t)last + 1);
	}
	uint16_t bf, bl;

	CHECK_EQ(mg_nat_port_block(100, 102, 4, 0, &bf, &bl), -EINVAL); /* 3 ports, 4 workers */
	CHECK_EQ(mg_nat_port_block(100, 99, 1, 0, &bf, &bl), -EINVAL);
	CHECK_EQ(mg_nat_port_block(100, 200, 2, 2, &bf, &bl), -EINVAL);
	CHECK_EQ(mg_nat_port_owner(100, 200, 2, 99), -1);
	CHECK_EQ(mg_nat_port_owner(100, 200, 2, 201), -1);
}

MG_TEST(ports_exhaustion_and_reuse)
{
	struct mg_nat_ports *p = mg_nat_ports_create(2000, 2099, 4, 1, SOCKET_ID_ANY);
	uint16_t bf, bl, port, taken[64];
	uint8_t seen[100] = {0};
	uint32_t n;

	CHECK(p != NULL);
	if (p == NULL)
		return;
	mg_nat_ports_range(p, &bf, &bl);
	CHECK_EQ(bf, 2025);
	CHECK_EQ(bl, 2049);
	n = (uint32_t)bl - bf + 1;
	CHECK_EQ(mg_nat_ports_available(p), n);
	for (uint32_t i = 0; i < n; i++) {
		CHECK_EQ(mg_nat_ports_alloc(p, &port), 0);
		CHECK(port >= bf && port <= bl);
		CHECK(!seen[port - 2000]); /* never handed out twice */
		seen[port - 2000] = 1;
		taken[i] = port;
	}
	CHECK_EQ(mg_nat_ports_available(p), 0);
	CHECK_EQ(mg_nat_ports_alloc(p, &port), -ENOSPC);
	CHECK_EQ(mg_nat_ports_alloc(p, &port), -ENOSPC);
	/* Frees: out of the block, twice. */
	CHECK_EQ(mg_nat_ports_free(p, 2000), -EINVAL);
	CHECK_EQ(mg_nat_ports_free(p, taken[3]), 0);
	CHECK_EQ(mg_nat_ports_free(p, taken[3]), -EINVAL);
	CHECK_EQ(mg_nat_ports_free(p, taken[7]), 0);
	CHECK_EQ(mg_nat_ports_available(p), 2);
	/* Least recently freed first. */
	CHECK_EQ(mg_nat_ports_alloc(p, &port), 0);
	CHECK_EQ(port, taken[3]);
	CHECK_EQ(mg_nat_ports_alloc(p, &port), 0);
	CHECK_EQ(port, taken[7]);
	CHECK_EQ(mg_nat_ports_alloc(p, &port), -ENOSPC);
	/* Free everything; all come back. */
	for (uint32_t i = 0; i < n; i++)
		CHECK_EQ(mg_nat_ports_free(p, taken[i]), 0);
	CHECK_EQ(mg_nat_ports_available(p), n);
	mg_nat_ports_destroy(p);
	mg_nat_ports_destroy(NULL);
	CHECK(mg_nat_ports_create(10, 12, 4, 0, SOCKET_ID_ANY) == NULL);
}

MG_TEST(ports_take_preserves_and_stays_consistent)
{
	struct mg_nat_ports *p = mg_nat_ports_create(3000, 3063, 1, 0, SOCKET_ID_ANY);
	uint8_t seen[64] = {0};
	uint16_t port;

	CHECK(p != NULL);
	if (p == NULL)
		return;
	CHECK_EQ(mg_nat_ports_take(p, 2999), -EINVAL);
	CHECK_EQ(mg_nat_ports_take(p, 3010), 0);
	CHECK_EQ(mg_nat_ports_take(p, 3010), -EBUSY);
	CHECK_EQ(mg_nat_ports_take(p, 3063), 0);
	CHECK_EQ(mg_nat_ports_available(p), 62);
	/* Taking and freeing in any order never hands a port out twice. */
	CHECK_EQ(mg_nat_ports_free(p, 3010), 0);
	CHECK_EQ(mg_nat_ports_take(p, 3010), 0);
	seen[10] = seen[63] = 1;
	for (unsigned int i = 0; i < 62; i++) {
		CHECK_EQ(mg_nat_ports_alloc(p, &port), 0);
		CHECK(port >= 3000 && port <= 3063 && !seen[port - 3000]);
		seen[port - 3000] = 1;
		if (i == 20) { /* a free, then a take of what was just freed */
			CHECK_EQ(mg_nat_ports_free(p, port), 0);
			seen[port - 3000] = 0;
			CHECK_EQ(mg_nat_ports_take(p, port), 0);
			seen[port - 3000] = 1;
		}
	}
	CHECK_EQ(mg_nat_ports_available(p), 0);
	CHECK_EQ(mg_nat_ports_alloc(p, &port), -ENOSPC);
	mg_nat_ports_destroy(p);
}

static void
setup(void)
{
	mg_test_eal_init("test_nat", "0", 64);
}

int
main(int argc, char **argv)
{
	mg_test_setup = setup;
	return mg_test_main(argc, argv);
}
