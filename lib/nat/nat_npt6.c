/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NPTv6 (RFC 6296): replace an IPv6 prefix and add a one's complement
 * adjustment to one 16-bit word of the rest of the address, so that the
 * address's one's complement sum, and with it every checksum whose
 * pseudo-header covers it, is unchanged.
 */
#include "mg_nat.h"

/* One's complement sum of the 8 words of an address (memory order). */
static uint16_t
addr_sum(const uint8_t a[16])
{
	uint32_t s = 0;

	for (int i = 0; i < 16; i += 2)
		s += mg_nat_ld16(a + i);
	return mg_nat_fold(s);
}

/* True if the bits of @a beyond @plen are all zero. */
static bool
host_bits_clear(const uint8_t a[16], uint8_t plen)
{
	for (int i = 0; i < 16; i++) {
		int keep = (int)plen - 8 * i;
		uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));

		if (a[i] & ~mask)
			return false;
	}
	return true;
}

int
mg_npt6_init(struct mg_npt6 *n, const uint8_t inner[16], const uint8_t outer[16], uint8_t plen)
{
	uint16_t si, so;

	if (plen < 1 || plen > 64 || !host_bits_clear(inner, plen) ||
	    !host_bits_clear(outer, plen))
		return -EINVAL;
	memset(n, 0, sizeof(*n));
	memcpy(n->inner, inner, 16);
	memcpy(n->outer, outer, 16);
	n->plen = plen;
	si = addr_sum(inner);
	so = addr_sum(outer);
	/* Out: the prefix sum drops by si and grows by so; add si - so to compensate. */
	n->adj_out = mg_nat_fold((uint32_t)si + (uint16_t)~so);
	n->adj_in = mg_nat_fold((uint32_t)so + (uint16_t)~si);
	return 0;
}

/* True if @a lies in prefix @p of length @plen. */
static bool
in_prefix(const uint8_t a[16], const uint8_t p[16], uint8_t plen)
{
	uint8_t full = plen / 8, rest = plen % 8;

	if (memcmp(a, p, full) != 0)
		return false;
	return rest == 0 || ((a[full] ^ p[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* Copy the first @plen bits of @p into @a. */
static void
set_prefix(uint8_t a[16], const uint8_t p[16], uint8_t plen)
{
	uint8_t full = plen / 8, rest = plen % 8;

	memcpy(a, p, full);
	if (rest) {
		uint8_t m = (uint8_t)(0xff << (8 - rest));

		a[full] = (uint8_t)((a[full] & ~m) | (p[full] & m));
	}
}

/* The word that takes the adjustment (0..7), or -1 if none may. */
static int
adj_word(const uint8_t a[16], uint8_t plen)
{
	if (plen <= 48)
		return mg_nat_ld16(a + 6) == 0xffff ? -1 : 3;
	for (int w = 4; w < 8; w++)
		if (mg_nat_ld16(a + 2 * w) != 0xffff)
			return w;
	return -1;
}

int
mg_npt6_addr(const struct mg_npt6 *n, uint8_t a[16], enum mg_npt6_dir dir)
{
	const uint8_t *from = dir == MG_NPT6_OUT ? n->inner : n->outer;
	const uint8_t *to = dir == MG_NPT6_OUT ? n->outer : n->inner;
	uint16_t adj = dir == MG_NPT6_OUT ? n->adj_out : n->adj_in, v;
	int w;

	if (!in_prefix(a, from, n->plen))
		return -ENOENT;
	w = adj_word(a, n->plen);
	if (w < 0)
		return -ERANGE;
	set_prefix(a, to, n->plen);
	v = mg_nat_fold((uint32_t)mg_nat_ld16(a + 2 * w) + adj);
	mg_nat_st16(a + 2 * w, v == 0xffff ? 0 : v);
	return 0;
}

int
mg_npt6_rewrite(const struct mg_npt6 *n, const struct mg_nat_pkt *p, enum mg_npt6_dir dir)
{
	uint8_t outer[16], quoted[16], *oa, *qa = NULL;
	int rc;

	if (p->family != AF_INET6 || p->len < MG_IP6_HLEN)
		return -EINVAL;
	oa = p->l3 + (dir == MG_NPT6_OUT ? 8 : 24);
	memcpy(outer, oa, 16);
	rc = mg_npt6_addr(n, outer, dir);
	if (rc < 0)
		return rc;
	if (mg_nat_is_icmp_error(p)) {
		/* The quoted packet went the other way: its destination (out) or source (in). */
		uint8_t *q = p->l3 + p->l4off + 8;

		if ((uint64_t)p->l4off + 8 + MG_IP6_HLEN <= p->len && (q[0] >> 4) == 6) {
			qa = q + (dir == MG_NPT6_OUT ? 24 : 8);
			memcpy(quoted, qa, 16);
			rc = mg_npt6_addr(n, quoted, dir);
			if (rc == -ENOENT)
				qa = NULL; /* Not ours: leave it. */
			else if (rc < 0)
				return rc;
		}
	}
	memcpy(oa, outer, 16);
	if (qa != NULL)
		memcpy(qa, quoted, 16);
	return 0;
}
