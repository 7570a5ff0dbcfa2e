/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef WG_CRYPTO_H
#define WG_CRYPTO_H

/**
 * @file
 * The primitives of the handshake, for the main lcore: X25519 and
 * ChaCha20-Poly1305 from OpenSSL's libcrypto, XChaCha20-Poly1305 from
 * libsodium (OpenSSL 3.0 has no XChaCha), TAI64N timestamps and random
 * bytes. None of these is used by the data path (see wg_data.c).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Fill @p buf with bytes from OpenSSL's DRBG; 0 or -EIO. */
int wg_random(void *buf, size_t len);

/** Clamp a Curve25519 private key in place (RFC 7748, section 5). */
void wg_x25519_clamp(uint8_t key[32]);

/** Generate a clamped private key; 0 or -EIO. */
int wg_x25519_generate(uint8_t priv[32]);

/** Public key of @p priv; 0 or -EIO. */
int wg_x25519_public(uint8_t pub[32], const uint8_t priv[32]);

/**
 * DH(priv, pub) into @p out; -EINVAL when the result is all zeros (a
 * low-order public key), -EIO on a library failure. @p out is wiped on error.
 */
int wg_x25519(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32]);

/** AEAD(key, counter, plain, ad): ChaCha20-Poly1305, counter nonce; writes len + 16 bytes. */
int wg_aead_encrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		    size_t adlen, uint64_t counter, const uint8_t key[32]);

/** Inverse of wg_aead_encrypt (@p srclen includes the tag): 0, or -EBADMSG. */
int wg_aead_decrypt(uint8_t *dst, const uint8_t *src, size_t srclen, const uint8_t *ad,
		    size_t adlen, uint64_t counter, const uint8_t key[32]);

/** XAEAD(key, nonce, plain, ad): XChaCha20-Poly1305 (libsodium); writes len + 16 bytes. */
int wg_xaead_encrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		     size_t adlen, const uint8_t nonce[24], const uint8_t key[32]);

/** Inverse of wg_xaead_encrypt; 0 or -EBADMSG. */
int wg_xaead_decrypt(uint8_t *dst, const uint8_t *src, size_t srclen, const uint8_t *ad,
		     size_t adlen, const uint8_t nonce[24], const uint8_t key[32]);

/**
 * TAI64N label of the wall-clock time @p wall_ns (ns since the Unix epoch),
 * nanoseconds rounded down to 2^24 ns (about 16.8 ms) so a timestamp does not
 * leak precise timing, as the reference implementations do.
 */
void wg_tai64n(uint8_t out[12], uint64_t wall_ns);

/** Constant-time equality of two byte strings. */
bool wg_ct_equal(const void *a, const void *b, size_t len);

/** True if the @p len bytes at @p p are all zero, in constant time. */
bool wg_is_zero(const void *p, size_t len);

#endif /* WG_CRYPTO_H */
