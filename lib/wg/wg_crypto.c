/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Handshake primitives over OpenSSL 3 (X25519, ChaCha20-Poly1305, DRBG) and
 * libsodium (XChaCha20-Poly1305). Runs on the main lcore only: the OpenSSL
 * calls allocate.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sodium.h>

#include "mg_common.h"
#include "wg_crypto.h"

int
wg_random(void *buf, size_t len)
{
	return RAND_priv_bytes(buf, (int)len) == 1 ? 0 : -EIO;
}

void
wg_x25519_clamp(uint8_t key[32])
{
	key[0] &= 248;
	key[31] = (key[31] & 127) | 64;
}

int
wg_x25519_generate(uint8_t priv[32])
{
	if (wg_random(priv, 32) < 0)
		return -EIO;
	wg_x25519_clamp(priv);
	return 0;
}

int
wg_x25519_public(uint8_t pub[32], const uint8_t priv[32])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	size_t len = 32;
	int rc = -EIO;

	if (k != NULL && EVP_PKEY_get_raw_public_key(k, pub, &len) == 1 && len == 32)
		rc = 0;
	EVP_PKEY_free(k); /* OpenSSL cleanses the key material it frees. */
	return rc;
}

int
wg_x25519(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	EVP_PKEY *p = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, 32);
	EVP_PKEY_CTX *ctx = k != NULL ? EVP_PKEY_CTX_new(k, NULL) : NULL;
	size_t len = 32;
	int rc = -EIO;

	if (k == NULL || p == NULL || ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer(ctx, p) != 1)
		goto out;
	/* OpenSSL refuses an all-zero result; the check below does not rely on it. */
	if (EVP_PKEY_derive(ctx, out, &len) != 1 || len != 32) {
		rc = -EINVAL;
		goto out;
	}
	rc = wg_is_zero(out, 32) ? -EINVAL : 0;
out:
	if (rc < 0)
		mg_wipe(out, 32);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(p);
	EVP_PKEY_free(k);
	return rc;
}

/* The 96-bit nonce: 32 zero bits, then the counter little-endian. */
static void
aead_nonce(uint8_t nonce[12], uint64_t counter)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

/* Run one ChaCha20-Poly1305 operation through EVP; @p tag is written (enc) or checked (dec). */
static int
evp_chacha_poly(int enc, uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		size_t adlen, uint64_t counter, const uint8_t key[32], uint8_t tag[16])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t nonce[12];
	int out, rc = -EIO;

	aead_nonce(nonce, counter);
	if (ctx == NULL ||
	    EVP_CipherInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, nonce, enc) != 1)
		goto done;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag) != 1)
		goto done;
	if (adlen > 0 && EVP_CipherUpdate(ctx, NULL, &out, ad, (int)adlen) != 1)
		goto done;
	if (len > 0 && EVP_CipherUpdate(ctx, dst, &out, src, (int)len) != 1)
		goto done;
	if (EVP_CipherFinal_ex(ctx, dst + len, &out) != 1) {
		rc = enc ? -EIO : -EBADMSG;
		goto done;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) != 1)
		goto done;
	rc = 0;
done:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int
wg_aead_encrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
		uint64_t counter, const uint8_t key[32])
{
	return evp_chacha_poly(1, dst, src, len, ad, adlen, counter, key, dst + len);
}

int
wg_aead_decrypt(uint8_t *dst, const uint8_t *src, size_t srclen, const uint8_t *ad,
		size_t adlen, uint64_t counter, const uint8_t key[32])
{
	uint8_t tag[16];
	int rc;

	if (srclen < 16)
		return -EBADMSG;
	memcpy(tag, src + srclen - 16, 16);
	rc = evp_chacha_poly(0, dst, src, srclen - 16, ad, adlen, counter, key, tag);
	if (rc < 0)
		mg_wipe(dst, srclen - 16);
	return rc;
}

int
wg_xaead_encrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		 size_t adlen, const uint8_t nonce[24], const uint8_t key[32])
{
	unsigned long long clen;

	return crypto_aead_xchacha20poly1305_ietf_encrypt(dst, &clen, src, len, ad, adlen, NULL,
							  nonce, key) == 0 ? 0 : -EIO;
}

int
wg_xaead_decrypt(uint8_t *dst, const uint8_t *src, size_t srclen, const uint8_t *ad,
		 size_t adlen, const uint8_t nonce[24], const uint8_t key[32])
{
	unsigned long long mlen;

	if (srclen < 16)
		return -EBADMSG;
	return crypto_aead_xchacha20poly1305_ietf_decrypt(dst, &mlen, NULL, src, srclen, ad,
							  adlen, nonce, key) == 0 ? 0 : -EBADMSG;
}

void
wg_tai64n(uint8_t out[12], uint64_t wall_ns)
{
	uint64_t sec = 0x400000000000000aULL + wall_ns / 1000000000ULL;
	uint32_t nsec = (uint32_t)(wall_ns % 1000000000ULL) & ~((1u << 24) - 1);

	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(sec >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

bool
wg_ct_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

bool
wg_is_zero(const void *p, size_t len)
{
	const volatile uint8_t *b = p;
	uint8_t acc = 0;

	for (size_t i = 0; i < len; i++)
		acc |= b[i];
	return acc == 0;
}
