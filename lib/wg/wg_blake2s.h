/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef WG_BLAKE2S_H
#define WG_BLAKE2S_H

/**
 * @file
 * BLAKE2s (RFC 7693), plain and keyed, with any output length from 1 to 32
 * bytes, and the HMAC and HKDF constructions WireGuard builds on it. Written
 * here rather than taken from OpenSSL: OpenSSL 3.0 reaches keyed BLAKE2s only
 * through EVP_MAC objects that are fetched, allocated and configured through
 * OSSL_PARAM lists on every use; this is 200 lines, allocation-free and
 * checked against RFC 7693's self-test and against OpenSSL in the unit tests.
 */

#include <stddef.h>
#include <stdint.h>

enum {
	WG_BLAKE2S_BLOCK = 64,   /* Compression block size. */
	WG_BLAKE2S_OUT_MAX = 32, /* Longest digest. */
	WG_BLAKE2S_KEY_MAX = 32, /* Longest key. */
};

/** Incremental BLAKE2s state. */
struct wg_blake2s {
	uint32_t h[8];                  /**< Chained state. */
	uint32_t t[2];                  /**< Bytes compressed so far, low word first. */
	uint8_t buf[WG_BLAKE2S_BLOCK];  /**< Input not compressed yet (kept for the last block). */
	size_t buflen;                  /**< Bytes held in buf. */
	size_t outlen;                  /**< Digest length chosen at init. */
};

/** Start a hash of @p outlen bytes (1..32), keyed when @p keylen (0..32) is not 0. */
void wg_blake2s_init(struct wg_blake2s *s, size_t outlen, const void *key, size_t keylen);
/** Absorb @p len bytes. */
void wg_blake2s_update(struct wg_blake2s *s, const void *in, size_t len);
/** Write the digest (outlen bytes) and wipe the state. */
void wg_blake2s_final(struct wg_blake2s *s, uint8_t *out);
/** One-shot BLAKE2s of @p in, keyed when @p keylen is not 0. */
void wg_blake2s(uint8_t *out, size_t outlen, const void *key, size_t keylen,
		const void *in, size_t inlen);

/** HASH(a || b): BLAKE2s-256 of two concatenated inputs (either may be empty). */
void wg_hash2(uint8_t out[32], const void *a, size_t alen, const void *b, size_t blen);

/** HMAC-BLAKE2s-256 (RFC 2104 with a 64-byte block), key at most 64 bytes. */
void wg_hmac(uint8_t out[32], const uint8_t *key, size_t keylen, const void *in, size_t inlen);

/**
 * WireGuard's KDF_n (HKDF over HMAC-BLAKE2s): T0 = HMAC(ck, in),
 * T1 = HMAC(T0, 0x1), Ti = HMAC(T0, T(i-1) || i). Writes T1, T2, T3 into
 * the outputs that are not NULL (the first must not be NULL; an output may
 * alias @p ck).
 */
void wg_kdf(uint8_t t1[32], uint8_t t2[32], uint8_t t3[32], const uint8_t ck[32],
	    const void *in, size_t inlen);

#endif /* WG_BLAKE2S_H */
