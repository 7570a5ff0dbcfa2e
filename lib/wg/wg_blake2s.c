/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * BLAKE2s as RFC 7693 specifies it (section 3), with WireGuard's HMAC and
 * KDF on top. Little-endian loads and stores are done byte by byte so the
 * code does not depend on alignment; the compiler turns them into moves.
 */
#include <string.h>

#include "mg_common.h"
#include "wg_blake2s.h"

/* The initialisation vector: SHA-256's (RFC 7693, section 2.6). */
static const uint32_t blake2s_iv[8] = {
	0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
	0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
};

/* Message word permutations of the ten rounds (RFC 7693, section 2.7). */
static const uint8_t blake2s_sigma[10][16] = {
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
	{14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
	{11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
	{7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
	{9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
	{2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
	{12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
	{13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
	{6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
	{10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

static inline uint32_t
load32_le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline void
store32_le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t
ror32(uint32_t v, unsigned int n)
{
	return (v >> n) | (v << (32 - n));
}

/* The mixing function G (RFC 7693, section 3.1) with BLAKE2s's rotations. */
#define G(a, b, c, d, x, y)                                                                \
	do {                                                                               \
		a = a + b + (x);                                                           \
		d = ror32(d ^ a, 16);                                                      \
		c = c + d;                                                                 \
		b = ror32(b ^ c, 12);                                                      \
		a = a + b + (y);                                                           \
		d = ror32(d ^ a, 8);                                                       \
		c = c + d;                                                                 \
		b = ror32(b ^ c, 7);                                                       \
	} while (0)

/* Compress one block into the state (RFC 7693, section 3.2). */
static void
blake2s_compress(struct wg_blake2s *s, const uint8_t block[WG_BLAKE2S_BLOCK], bool last)
{
	uint32_t m[16], v[16];

	for (int i = 0; i < 16; i++)
		m[i] = load32_le(block + 4 * i);
	for (int i = 0; i < 8; i++) {
		v[i] = s->h[i];
		v[i + 8] = blake2s_iv[i];
	}
	v[12] ^= s->t[0];
	v[13] ^= s->t[1];
	if (last)
		v[14] = ~v[14];
	for (int r = 0; r < 10; r++) {
		const uint8_t *sg = blake2s_sigma[r];

		G(v[0], v[4], v[8], v[12], m[sg[0]], m[sg[1]]);
		G(v[1], v[5], v[9], v[13], m[sg[2]], m[sg[3]]);
		G(v[2], v[6], v[10], v[14], m[sg[4]], m[sg[5]]);
		G(v[3], v[7], v[11], v[15], m[sg[6]], m[sg[7]]);
		G(v[0], v[5], v[10], v[15], m[sg[8]], m[sg[9]]);
		G(v[1], v[6], v[11], v[12], m[sg[10]], m[sg[11]]);
		G(v[2], v[7], v[8], v[13], m[sg[12]], m[sg[13]]);
		G(v[3], v[4], v[9], v[14], m[sg[14]], m[sg[15]]);
	}
	for (int i = 0; i < 8; i++)
		s->h[i] ^= v[i] ^ v[i + 8];
	mg_wipe(m, sizeof(m));
	mg_wipe(v, sizeof(v));
}

/* Count @p n more input bytes in the 64-bit offset counter. */
static inline void
blake2s_count(struct wg_blake2s *s, uint32_t n)
{
	s->t[0] += n;
	if (s->t[0] < n)
		s->t[1]++;
}

void
wg_blake2s_init(struct wg_blake2s *s, size_t outlen, const void *key, size_t keylen)
{
	if (outlen == 0 || outlen > WG_BLAKE2S_OUT_MAX)
		outlen = WG_BLAKE2S_OUT_MAX;
	if (keylen > WG_BLAKE2S_KEY_MAX)
		keylen = WG_BLAKE2S_KEY_MAX;
	memcpy(s->h, blake2s_iv, sizeof(s->h));
	/* Parameter block: digest length, key length, fanout 1, depth 1. */
	s->h[0] ^= 0x01010000u ^ ((uint32_t)keylen << 8) ^ (uint32_t)outlen;
	s->t[0] = s->t[1] = 0;
	s->buflen = 0;
	s->outlen = outlen;
	memset(s->buf, 0, sizeof(s->buf));
	if (keylen > 0) {
		/* The key, zero-padded to a block, is the first block of input. */
		memcpy(s->buf, key, keylen);
		s->buflen = WG_BLAKE2S_BLOCK;
	}
}

void
wg_blake2s_update(struct wg_blake2s *s, const void *in, size_t len)
{
	const uint8_t *p = in;

	while (len > 0) {
		/* A full buffer is compressed only once more input proves it is not the last. */
		if (s->buflen == WG_BLAKE2S_BLOCK) {
			blake2s_count(s, WG_BLAKE2S_BLOCK);
			blake2s_compress(s, s->buf, false);
			s->buflen = 0;
		}
		size_t take = WG_BLAKE2S_BLOCK - s->buflen;

		if (take > len)
			take = len;
		memcpy(s->buf + s->buflen, p, take);
		s->buflen += take;
		p += take;
		len -= take;
	}
}

void
wg_blake2s_final(struct wg_blake2s *s, uint8_t *out)
{
	uint8_t full[WG_BLAKE2S_OUT_MAX];

	blake2s_count(s, (uint32_t)s->buflen);
	memset(s->buf + s->buflen, 0, WG_BLAKE2S_BLOCK - s->buflen);
	blake2s_compress(s, s->buf, true);
	for (int i = 0; i < 8; i++)
		store32_le(full + 4 * i, s->h[i]);
	memcpy(out, full, s->outlen);
	mg_wipe(full, sizeof(full));
	mg_wipe(s, sizeof(*s));
}

void
wg_blake2s(uint8_t *out, size_t outlen, const void *key, size_t keylen, const void *in,
	   size_t inlen)
{
	struct wg_blake2s s;

	wg_blake2s_init(&s, outlen, key, keylen);
	wg_blake2s_update(&s, in, inlen);
	wg_blake2s_final(&s, out);
}

void
wg_hash2(uint8_t out[32], const void *a, size_t alen, const void *b, size_t blen)
{
	struct wg_blake2s s;

	wg_blake2s_init(&s, 32, NULL, 0);
	wg_blake2s_update(&s, a, alen);
	wg_blake2s_update(&s, b, blen);
	wg_blake2s_final(&s, out);
}

void
wg_hmac(uint8_t out[32], const uint8_t *key, size_t keylen, const void *in, size_t inlen)
{
	uint8_t pad[WG_BLAKE2S_BLOCK], inner[32];
	struct wg_blake2s s;

	/* Keys longer than a block are hashed first (RFC 2104); WireGuard never needs it. */
	memset(pad, 0, sizeof(pad));
	if (keylen > WG_BLAKE2S_BLOCK)
		wg_blake2s(pad, 32, NULL, 0, key, keylen);
	else
		memcpy(pad, key, keylen);
	for (int i = 0; i < WG_BLAKE2S_BLOCK; i++)
		pad[i] ^= 0x36;
	wg_blake2s_init(&s, 32, NULL, 0);
	wg_blake2s_update(&s, pad, sizeof(pad));
	wg_blake2s_update(&s, in, inlen);
	wg_blake2s_final(&s, inner);
	for (int i = 0; i < WG_BLAKE2S_BLOCK; i++)
		pad[i] ^= 0x36 ^ 0x5c;
	wg_blake2s_init(&s, 32, NULL, 0);
	wg_blake2s_update(&s, pad, sizeof(pad));
	wg_blake2s_update(&s, inner, sizeof(inner));
	wg_blake2s_final(&s, out);
	mg_wipe(pad, sizeof(pad));
	mg_wipe(inner, sizeof(inner));
}

void
wg_kdf(uint8_t t1[32], uint8_t t2[32], uint8_t t3[32], const uint8_t ck[32], const void *in,
       size_t inlen)
{
	uint8_t prk[32], out[33];

	wg_hmac(prk, ck, 32, in, inlen);
	out[0] = 1;
	wg_hmac(out, prk, 32, out, 1);
	memcpy(t1, out, 32);
	if (t2 != NULL) {
		out[32] = 2;
		wg_hmac(out, prk, 32, out, 33);
		memcpy(t2, out, 32);
	}
	if (t3 != NULL) {
		out[32] = 3;
		wg_hmac(out, prk, 32, out, 33);
		memcpy(t3, out, 32);
	}
	mg_wipe(prk, sizeof(prk));
	mg_wipe(out, sizeof(out));
}
