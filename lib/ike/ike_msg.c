/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IKEv2 messages (RFC 7296 section 3): the header and payload chain parser,
 * with every length checked against the bytes that hold it, and the
 * builder of the payloads meshgate sends.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "ike_priv.h"

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) << 32 | rd32(p + 4);
}

/* ---- parsing ------------------------------------------------------------------------ */

int
ike_pl_parse_chain(const uint8_t *buf, size_t len, uint8_t first, struct ike_pl *pl,
		   unsigned int max, unsigned int *n)
{
	size_t off = 0;
	uint8_t type = first;

	*n = 0;
	while (type != IKE_PL_NONE) {
		uint16_t plen;

		if (len - off < 4 || *n == max)
			return -EBADMSG;
		plen = rd16(buf + off + 2);
		if (plen < 4 || plen > len - off)
			return -EBADMSG;
		pl[*n].type = type;
		pl[*n].critical = (buf[off + 1] & 0x80) != 0;
		pl[*n].body = buf + off + 4;
		pl[*n].len = (uint16_t)(plen - 4);
		(*n)++;
		if (type == IKE_PL_SK) {
			/* Its next-payload field names the first inner payload; nothing follows it. */
			if (off + plen != len)
				return -EBADMSG;
			return 0;
		}
		type = buf[off];
		off += plen;
	}
	return off == len ? 0 : -EBADMSG;
}

int
ike_msg_parse(const uint8_t *buf, size_t len, struct ike_msg *m)
{
	int rc;

	memset(m, 0, sizeof(*m));
	m->sk = -1;
	if (len < IKE_HDR_LEN || len > MG_IKE_MAX_MSG)
		return -EBADMSG;
	m->spi_i = rd64(buf);
	m->spi_r = rd64(buf + 8);
	m->first = buf[16];
	m->exchange = buf[18];
	m->flags = buf[19];
	m->msgid = rd32(buf + 20);
	m->len = rd32(buf + 24);
	if (m->len != len)
		return -EBADMSG;
	/* A later major version: its payloads are not ours to read (RFC 7296 2.5). */
	if ((buf[17] & 0xf0) > IKE_VERSION)
		return -EPROTONOSUPPORT;
	if ((buf[17] & 0xf0) != IKE_VERSION)
		return -EBADMSG;
	rc = ike_pl_parse_chain(buf + IKE_HDR_LEN, len - IKE_HDR_LEN, m->first, m->pl,
				IKE_MAX_PL, &m->npl);
	if (rc < 0)
		return rc;
	if (m->npl > 0 && m->pl[m->npl - 1].type == IKE_PL_SK) {
		m->sk = (int)m->npl - 1;
		m->sk_off = (uint32_t)(m->pl[m->sk].body - 4 - buf);
	}
	return 0;
}

const struct ike_pl *
ike_pl_find(const struct ike_pl *pl, unsigned int n, uint8_t type)
{
	for (unsigned int i = 0; i < n; i++)
		if (pl[i].type == type)
			return &pl[i];
	return NULL;
}

int
ike_notify_decode(const struct ike_pl *p, struct ike_notify_pl *n)
{
	if (p->len < 4)
		return -EBADMSG;
	n->proto = p->body[0];
	n->spi_len = p->body[1];
	n->type = rd16(p->body + 2);
	if (p->len < 4u + n->spi_len)
		return -EBADMSG;
	n->spi = p->body + 4;
	n->data = p->body + 4 + n->spi_len;
	n->data_len = (uint16_t)(p->len - 4 - n->spi_len);
	return 0;
}

bool
ike_notify_find(const struct ike_pl *pl, unsigned int n, uint16_t type, struct ike_notify_pl *out)
{
	for (unsigned int i = 0; i < n; i++) {
		struct ike_notify_pl nt;

		if (pl[i].type == IKE_PL_NOTIFY && ike_notify_decode(&pl[i], &nt) == 0 &&
		    nt.type == type) {
			if (out != NULL)
				*out = nt;
			return true;
		}
	}
	return false;
}

uint16_t
ike_notify_error(const struct ike_pl *pl, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		struct ike_notify_pl nt;

		if (pl[i].type == IKE_PL_NOTIFY && ike_notify_decode(&pl[i], &nt) == 0 &&
		    nt.type < 16384)
			return nt.type;
	}
	return 0;
}

int
ike_sa_decode(const uint8_t *body, size_t len, struct ike_prop_in *props, unsigned int max,
	      unsigned int *n)
{
	size_t off = 0;

	*n = 0;
	while (off < len) {
		const uint8_t *p = body + off;
		uint16_t plen;
		uint8_t ntr;
		size_t toff;
		struct ike_prop_in *pi;

		if (len - off < 8)
			return -EBADMSG;
		plen = rd16(p + 2);
		if (plen < 8 || plen > len - off)
			return -EBADMSG;
		if (p[0] != 0 && p[0] != 2)
			return -EBADMSG;
		if (*n == max)
			return -EBADMSG;
		pi = &props[(*n)++];
		memset(pi, 0, sizeof(*pi));
		pi->num = p[4];
		pi->proto = p[5];
		pi->spi_len = p[6];
		ntr = p[7];
		if (pi->spi_len > 8 || 8u + pi->spi_len > plen)
			return -EBADMSG;
		memcpy(pi->spi, p + 8, pi->spi_len);
		toff = 8 + pi->spi_len;
		for (unsigned int t = 0; t < ntr; t++) {
			const uint8_t *tr = p + toff;
			uint16_t tlen, tid;
			uint8_t ttype;
			uint16_t kb = 0;
			size_t aoff;

			if (plen - toff < 8)
				return -EBADMSG;
			tlen = rd16(tr + 2);
			if (tlen < 8 || tlen > plen - toff)
				return -EBADMSG;
			ttype = tr[4];
			tid = rd16(tr + 6);
			for (aoff = 8; aoff < tlen;) {
				uint16_t at;

				if (tlen - aoff < 4)
					return -EBADMSG;
				at = rd16(tr + aoff);
				if (at & 0x8000) {
					if ((at & 0x7fff) == IKE_ATTR_KEY_LENGTH)
						kb = rd16(tr + aoff + 2);
					aoff += 4;
				} else {
					uint16_t alen = rd16(tr + aoff + 2);

					if (alen > tlen - aoff - 4)
						return -EBADMSG;
					aoff += 4u + alen;
				}
			}
			if (ttype >= 1 && ttype <= 5 && pi->nt[ttype] < 16) {
				pi->t[ttype][pi->nt[ttype]].id = tid;
				pi->t[ttype][pi->nt[ttype]].key_bits = kb;
				pi->nt[ttype]++;
			}
			toff += tlen;
			if ((t + 1 == ntr) != (tr[0] == 0))
				return -EBADMSG;
		}
		if (toff != plen)
			return -EBADMSG;
		off += plen;
		if ((off == len) != (p[0] == 0))
			return -EBADMSG;
	}
	return *n > 0 ? 0 : -EBADMSG;
}

static bool
offers(const struct ike_prop_in *in, unsigned int type, uint16_t id, uint16_t key_bits)
{
	for (unsigned int i = 0; i < in->nt[type]; i++)
		if (in->t[type][i].id == id && in->t[type][i].key_bits == key_bits)
			return true;
	return false;
}

bool
ike_prop_match(const struct ike_prop_in *in, const struct mg_ike_proposal *ours,
	       unsigned int nours, bool ike, struct mg_ike_proposal *out)
{
	if (in->proto != (ike ? IKE_PROTO_IKE : IKE_PROTO_ESP))
		return false;
	if (!ike && in->spi_len != 4)
		return false;
	for (unsigned int i = 0; i < nours; i++) {
		const struct mg_ike_proposal *p = &ours[i];
		/* ChaCha20-Poly1305 has one key size and no Key Length attribute (RFC 7634). */
		uint16_t kb = p->encr == MG_IKE_ENCR_CHACHA20_POLY1305 ? 0 : p->key_bits;

		if (!offers(in, IKE_TT_ENCR, p->encr, kb))
			continue;
		if (p->integ != MG_IKE_INTEG_NONE) {
			if (!offers(in, IKE_TT_INTEG, p->integ, 0))
				continue;
		} else if (in->nt[IKE_TT_INTEG] > 0 && !offers(in, IKE_TT_INTEG, 0, 0)) {
			continue; /* an AEAD cipher offered only with integrity algorithms */
		}
		if (ike) {
			if (!offers(in, IKE_TT_PRF, p->prf, 0) || !offers(in, IKE_TT_DH, p->dh, 0))
				continue;
		} else {
			/*
			 * PFS: our group must be offered (CREATE_CHILD_SA); without
			 * one (IKE_AUTH, or none configured) a proposal that insists on
			 * a group does not fit. 32-bit sequence numbers only.
			 */
			if (p->dh != 0 ? !offers(in, IKE_TT_DH, p->dh, 0)
				       : in->nt[IKE_TT_DH] > 0 && !offers(in, IKE_TT_DH, 0, 0))
				continue;
			if (in->nt[IKE_TT_ESN] > 0 && !offers(in, IKE_TT_ESN, 0, 0))
				continue;
		}
		*out = *p;
		return true;
	}
	return false;
}

/* ---- building ----------------------------------------------------------------------- */

void
ike_put(struct ike_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return; /* p may be NULL (an empty notify or SPI): memcpy's must not be */
	if (b->overflow || n > sizeof(b->b) - b->len) {
		b->overflow = true;
		return;
	}
	memcpy(b->b + b->len, p, n);
	b->len += n;
}

void
ike_put8(struct ike_buf *b, uint8_t v)
{
	ike_put(b, &v, 1);
}

void
ike_put16(struct ike_buf *b, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	ike_put(b, x, 2);
}

void
ike_put32(struct ike_buf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

	ike_put(b, x, 4);
}

static void
put64(struct ike_buf *b, uint64_t v)
{
	ike_put32(b, (uint32_t)(v >> 32));
	ike_put32(b, (uint32_t)v);
}

static void
set16(struct ike_buf *b, size_t off, uint16_t v)
{
	if (off + 2 <= b->len) {
		b->b[off] = (uint8_t)(v >> 8);
		b->b[off + 1] = (uint8_t)v;
	}
}

void
ike_buf_init(struct ike_buf *b, uint64_t spi_i, uint64_t spi_r, uint8_t exchange, uint8_t flags,
	     uint32_t msgid)
{
	b->len = 0;
	b->overflow = false;
	put64(b, spi_i);
	put64(b, spi_r);
	ike_put8(b, IKE_PL_NONE);
	ike_put8(b, IKE_VERSION);
	ike_put8(b, exchange);
	ike_put8(b, flags);
	ike_put32(b, msgid);
	ike_put32(b, 0);
	b->last_np = 16;
}

size_t
ike_pl_begin(struct ike_buf *b, uint8_t type)
{
	size_t off = b->len;

	if (b->last_np < b->len)
		b->b[b->last_np] = type;
	ike_put8(b, IKE_PL_NONE);
	ike_put8(b, 0);
	ike_put16(b, 0);
	b->last_np = off;
	return off;
}

void
ike_pl_end(struct ike_buf *b, size_t off)
{
	set16(b, off + 2, (uint16_t)(b->len - off));
}

void
ike_buf_finish(struct ike_buf *b)
{
	if (b->len >= IKE_HDR_LEN) {
		b->b[24] = (uint8_t)(b->len >> 24);
		b->b[25] = (uint8_t)(b->len >> 16);
		b->b[26] = (uint8_t)(b->len >> 8);
		b->b[27] = (uint8_t)b->len;
	}
}

static void
put_transform(struct ike_buf *b, bool last, uint8_t type, uint16_t id, uint16_t key_bits)
{
	ike_put8(b, last ? 0 : 3);
	ike_put8(b, 0);
	ike_put16(b, key_bits ? 12 : 8);
	ike_put8(b, type);
	ike_put8(b, 0);
	ike_put16(b, id);
	if (key_bits) {
		ike_put16(b, 0x8000 | IKE_ATTR_KEY_LENGTH);
		ike_put16(b, key_bits);
	}
}

void
ike_put_sa(struct ike_buf *b, const struct mg_ike_proposal *props, unsigned int n, bool ike,
	   const uint8_t *spi, uint8_t spi_len, uint8_t num)
{
	size_t off = ike_pl_begin(b, IKE_PL_SA);

	for (unsigned int i = 0; i < n; i++) {
		const struct mg_ike_proposal *p = &props[i];
		uint16_t kb = p->encr == MG_IKE_ENCR_CHACHA20_POLY1305 ? 0 : p->key_bits;
		unsigned int nt = 1 + (p->integ != 0) + (ike ? 2 : 1 + (p->dh != 0));
		size_t poff = b->len;
		unsigned int k = 0;

		ike_put8(b, i + 1 == n ? 0 : 2);
		ike_put8(b, 0);
		ike_put16(b, 0);
		ike_put8(b, num != 0 ? num : (uint8_t)(i + 1));
		ike_put8(b, ike ? IKE_PROTO_IKE : IKE_PROTO_ESP);
		ike_put8(b, spi_len);
		ike_put8(b, (uint8_t)nt);
		ike_put(b, spi, spi_len);
		put_transform(b, ++k == nt, IKE_TT_ENCR, p->encr, kb);
		if (ike)
			put_transform(b, ++k == nt, IKE_TT_PRF, p->prf, 0);
		if (p->integ != 0)
			put_transform(b, ++k == nt, IKE_TT_INTEG, p->integ, 0);
		if (ike || p->dh != 0)
			put_transform(b, ++k == nt, IKE_TT_DH, p->dh, 0);
		if (!ike)
			put_transform(b, ++k == nt, IKE_TT_ESN, 0, 0);
		set16(b, poff + 2, (uint16_t)(b->len - poff));
	}
	ike_pl_end(b, off);
}

void
ike_put_notify(struct ike_buf *b, uint8_t proto, uint16_t type, const void *data, size_t len)
{
	size_t off = ike_pl_begin(b, IKE_PL_NOTIFY);

	ike_put8(b, proto);
	ike_put8(b, 0);
	ike_put16(b, type);
	ike_put(b, data, len);
	ike_pl_end(b, off);
}

void
ike_put_ts(struct ike_buf *b, uint8_t type, const struct mg_prefix *ts, unsigned int n)
{
	size_t off = ike_pl_begin(b, type);

	ike_put8(b, (uint8_t)n);
	ike_put8(b, 0);
	ike_put16(b, 0);
	for (unsigned int i = 0; i < n; i++) {
		const struct mg_prefix *p = &ts[i];
		unsigned int alen = p->addr.family == AF_INET ? 4 : 16;
		uint8_t start[16], end[16];

		memcpy(start, p->addr.bytes, alen);
		memcpy(end, p->addr.bytes, alen);
		for (unsigned int bit = p->len; bit < alen * 8; bit++) {
			start[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
			end[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
		}
		ike_put8(b, alen == 4 ? IKE_TS_IPV4_RANGE : IKE_TS_IPV6_RANGE);
		ike_put8(b, 0);                    /* any protocol */
		ike_put16(b, (uint16_t)(8 + 2 * alen));
		ike_put16(b, 0);
		ike_put16(b, 65535);
		ike_put(b, start, alen);
		ike_put(b, end, alen);
	}
	ike_pl_end(b, off);
}

int
ike_ts_decode(const uint8_t *body, size_t len, struct ike_ts *ts, unsigned int max,
	      unsigned int *n)
{
	size_t off = 4;
	unsigned int cnt;

	*n = 0;
	if (len < 4)
		return -EBADMSG;
	cnt = body[0];
	for (unsigned int i = 0; i < cnt; i++) {
		uint16_t slen;
		unsigned int alen;

		if (len - off < 8)
			return -EBADMSG;
		slen = rd16(body + off + 2);
		if (slen < 8 || slen > len - off)
			return -EBADMSG;
		alen = body[off] == IKE_TS_IPV4_RANGE ? 4 : body[off] == IKE_TS_IPV6_RANGE ? 16 : 0;
		if (alen != 0 && *n < max) {
			struct ike_ts *t = &ts[(*n)++];

			if (slen != 8 + 2 * alen)
				return -EBADMSG;
			t->family = alen == 4 ? AF_INET : AF_INET6;
			t->proto = body[off + 1];
			t->sport = rd16(body + off + 4);
			t->eport = rd16(body + off + 6);
			memcpy(t->start, body + off + 8, alen);
			memcpy(t->end, body + off + 8 + alen, alen);
		}
		off += slen;
	}
	return off == len ? 0 : -EBADMSG;
}

bool
ike_ts_covers(const struct ike_ts *t, const struct mg_prefix *p)
{
	unsigned int alen = p->addr.family == AF_INET ? 4 : 16;
	uint8_t start[16], end[16];

	if (t->family != p->addr.family || t->proto != 0 || t->sport != 0 || t->eport != 65535)
		return false;
	memcpy(start, p->addr.bytes, alen);
	memcpy(end, p->addr.bytes, alen);
	for (unsigned int bit = p->len; bit < alen * 8; bit++) {
		start[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
		end[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
	}
	return memcmp(t->start, start, alen) <= 0 && memcmp(end, t->end, alen) <= 0;
}
