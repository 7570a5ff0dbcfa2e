/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Keys in the base64 form `wg` uses (standard alphabet, 44 characters with
 * one '=' of padding), and key generation for `meshgatectl wg genkey`,
 * `genpsk` and `pubkey`. Encoding and decoding use arithmetic instead of
 * table lookups and branches on key bytes, so the time taken does not
 * depend on the key.
 */
#include <errno.h>
#include <string.h>

#include "wg_crypto.h"
#include "wg_priv.h"

/* -1 if lo <= c <= hi, else 0 (c, lo, hi in 0..255). */
static inline int
ct_range(int c, int lo, int hi)
{
	return ((lo - 1 - c) & (c - hi - 1)) >> 8;
}

/* Value of a base64 character, or -1. */
static inline int
b64_value(uint8_t ch)
{
	int c = ch, v = -1;

	v += ct_range(c, 'A', 'Z') & (c - 'A' + 1);
	v += ct_range(c, 'a', 'z') & (c - 'a' + 26 + 1);
	v += ct_range(c, '0', '9') & (c - '0' + 52 + 1);
	v += ct_range(c, '+', '+') & (62 + 1);
	v += ct_range(c, '/', '/') & (63 + 1);
	return v;
}

/* Base64 character of a 6-bit value. */
static inline char
b64_char(unsigned int v)
{
	int x = (int)v, d = x + 'A';

	d += ((25 - x) >> 8) & 6;    /* 26..: 'a' onwards */
	d -= ((51 - x) >> 8) & 75;   /* 52..: '0' onwards */
	d -= ((61 - x) >> 8) & 15;   /* 62: '+' */
	d += ((62 - x) >> 8) & 3;    /* 63: '/' */
	return (char)d;
}

char *
mg_wg_key_to_base64(char out[MG_WG_KEY_B64_LEN + 1], const uint8_t key[MG_WG_KEY_LEN])
{
	unsigned int i, o = 0;

	for (i = 0; i + 3 <= MG_WG_KEY_LEN; i += 3) {
		uint32_t v = (uint32_t)key[i] << 16 | (uint32_t)key[i + 1] << 8 | key[i + 2];

		out[o++] = b64_char(v >> 18);
		out[o++] = b64_char((v >> 12) & 63);
		out[o++] = b64_char((v >> 6) & 63);
		out[o++] = b64_char(v & 63);
	}
	/* 32 = 3 * 10 + 2: the last two bytes make three characters and '='. */
	uint32_t v = (uint32_t)key[30] << 16 | (uint32_t)key[31] << 8;

	out[o++] = b64_char(v >> 18);
	out[o++] = b64_char((v >> 12) & 63);
	out[o++] = b64_char((v >> 6) & 63);
	out[o++] = '=';
	out[o] = '\0';
	return out;
}

int
mg_wg_key_from_base64(uint8_t key[MG_WG_KEY_LEN], const char *s, struct mg_error *err)
{
	size_t len = s != NULL ? strlen(s) : 0;
	int bad = 0;
	unsigned int o = 0;

	if (len != MG_WG_KEY_B64_LEN || s[MG_WG_KEY_B64_LEN - 1] != '=') {
		mg_wipe(key, MG_WG_KEY_LEN);
		return mg_error_set(err, EINVAL, "",
				    "a key must be 44 characters of base64 ending in '=' "
				    "(got %zu characters)", len);
	}
	for (unsigned int i = 0; i < 40; i += 4) {
		int a = b64_value((uint8_t)s[i]), b = b64_value((uint8_t)s[i + 1]);
		int c = b64_value((uint8_t)s[i + 2]), d = b64_value((uint8_t)s[i + 3]);
		uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;

		bad |= (a | b | c | d) >> 8;
		key[o++] = (uint8_t)(v >> 16);
		key[o++] = (uint8_t)(v >> 8);
		key[o++] = (uint8_t)v;
	}
	int a = b64_value((uint8_t)s[40]), b = b64_value((uint8_t)s[41]);
	int c = b64_value((uint8_t)s[42]);
	uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;

	bad |= (a | b | c) >> 8;
	key[o++] = (uint8_t)(v >> 16);
	key[o++] = (uint8_t)(v >> 8);
	if (bad) {
		mg_wipe(key, MG_WG_KEY_LEN);
		for (unsigned int i = 0; i < MG_WG_KEY_B64_LEN - 1; i++)
			if (b64_value((uint8_t)s[i]) < 0)
				return mg_error_set(err, EINVAL, "",
						    "a key must be base64: the character at "
						    "position %u is not in the alphabet", i + 1);
		return mg_error_set(err, EINVAL, "", "a key must be base64");
	}
	/* The third character of the last group carries two bits beyond the key. */
	if (c & 3) {
		mg_wipe(key, MG_WG_KEY_LEN);
		return mg_error_set(err, EINVAL, "",
				    "not a canonical key encoding (the last character before "
				    "'=' has unused bits set)");
	}
	return 0;
}

int
mg_wg_key_generate(uint8_t priv[MG_WG_KEY_LEN])
{
	return wg_x25519_generate(priv);
}

int
mg_wg_key_generate_psk(uint8_t psk[MG_WG_KEY_LEN])
{
	return wg_random(psk, MG_WG_KEY_LEN);
}

int
mg_wg_key_public(uint8_t pub[MG_WG_KEY_LEN], const uint8_t priv[MG_WG_KEY_LEN])
{
	return wg_x25519_public(pub, priv);
}
