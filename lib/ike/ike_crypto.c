/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IKEv2 crypto over OpenSSL 3's libcrypto: the PRFs and prf+ (RFC 7296
 * 2.13), Diffie-Hellman (MODP 2048 of RFC 3526, ECP 256/384 as RFC 5903
 * encodes them, Curve25519 as RFC 8031 does) and the SK payload (RFC 7296
 * 3.14 with AES-CBC + HMAC-SHA-256-128, RFC 5282 AES-GCM, RFC 7634
 * ChaCha20-Poly1305). Every buffer that held a secret is wiped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/dh.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "ike_priv.h"

/* ---- PRF --------------------------------------------------------------------------- */

static const char *
prf_digest(uint16_t prf)
{
	switch (prf) {
	case MG_IKE_PRF_HMAC_SHA1:
		return "SHA1";
	case MG_IKE_PRF_HMAC_SHA2_256:
		return "SHA256";
	case MG_IKE_PRF_HMAC_SHA2_384:
		return "SHA384";
	default:
		return NULL;
	}
}

unsigned int
ike_prf_len(uint16_t prf)
{
	switch (prf) {
	case MG_IKE_PRF_HMAC_SHA1:
		return 20;
	case MG_IKE_PRF_HMAC_SHA2_256:
		return 32;
	case MG_IKE_PRF_HMAC_SHA2_384:
		return 48;
	default:
		return 0;
	}
}

static EVP_MAC *
hmac_alg(void)
{
	static EVP_MAC *mac;

	if (mac == NULL)
		mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	return mac;
}

/* HMAC with digest @p md over up to three pieces. */
static int
hmac3(const char *md, const uint8_t *key, size_t klen, const uint8_t *d1, size_t l1,
      const uint8_t *d2, size_t l2, const uint8_t *d3, size_t l3, uint8_t *out, size_t outmax)
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx;
	size_t olen = 0;
	int ok;

	if (md == NULL || hmac_alg() == NULL || (ctx = EVP_MAC_CTX_new(hmac_alg())) == NULL)
		return -1;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)(uintptr_t)md, 0);
	params[1] = OSSL_PARAM_construct_end();
	/* HMAC takes an empty key too; OpenSSL wants a non-NULL pointer for it. */
	ok = EVP_MAC_init(ctx, klen ? key : (const uint8_t *)"", klen, params) == 1 &&
	     (l1 == 0 || EVP_MAC_update(ctx, d1, l1) == 1) &&
	     (l2 == 0 || EVP_MAC_update(ctx, d2, l2) == 1) &&
	     (l3 == 0 || EVP_MAC_update(ctx, d3, l3) == 1) &&
	     EVP_MAC_final(ctx, out, &olen, outmax) == 1;
	EVP_MAC_CTX_free(ctx);
	return ok ? 0 : -1;
}

int
ike_prf(uint16_t prf, const uint8_t *key, size_t klen, const uint8_t *d1, size_t l1,
	const uint8_t *d2, size_t l2, uint8_t *out)
{
	return hmac3(prf_digest(prf), key, klen, d1, l1, d2, l2, NULL, 0, out, IKE_PRF_MAX);
}

int
ike_prf_plus(uint16_t prf, const uint8_t *key, size_t klen, const uint8_t *seed, size_t slen,
	     uint8_t *out, size_t outlen)
{
	const unsigned int h = ike_prf_len(prf);
	uint8_t t[IKE_PRF_MAX];
	size_t done = 0;
	int rc = 0;

	if (h == 0 || outlen > 255u * h)
		return -1;
	/* T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n) */
	for (unsigned int n = 1; done < outlen; n++) {
		uint8_t c = (uint8_t)n;
		size_t take;

		if (hmac3(prf_digest(prf), key, klen, t, n == 1 ? 0 : h, seed, slen, &c, 1, t,
			  sizeof(t)) < 0) {
			rc = -1;
			break;
		}
		take = outlen - done < h ? outlen - done : h;
		memcpy(out + done, t, take);
		done += take;
	}
	mg_wipe(t, sizeof(t));
	return rc;
}

void
ike_sha1(const uint8_t *d1, size_t l1, const uint8_t *d2, size_t l2, uint8_t out[20])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned int n = 20;

	memset(out, 0, 20);
	if (c == NULL)
		return;
	if (EVP_DigestInit_ex(c, EVP_sha1(), NULL) == 1 && EVP_DigestUpdate(c, d1, l1) == 1 &&
	    EVP_DigestUpdate(c, d2, l2) == 1)
		EVP_DigestFinal_ex(c, out, &n);
	EVP_MD_CTX_free(c);
}

int
ike_random(void *p, size_t n)
{
	return RAND_bytes(p, (int)n) == 1 ? 0 : -1;
}

/* ---- Diffie-Hellman ------------------------------------------------------------------ */

struct ike_dh {
	uint16_t group;
	EVP_PKEY *key;
};

unsigned int
ike_dh_pub_len(uint16_t group)
{
	switch (group) {
	case MG_IKE_DH_MODP2048:
		return 256;
	case MG_IKE_DH_ECP256:
		return 64;
	case MG_IKE_DH_ECP384:
		return 96;
	case MG_IKE_DH_CURVE25519:
		return 32;
	default:
		return 0;
	}
}

static const char *
group_name(uint16_t group)
{
	switch (group) {
	case MG_IKE_DH_MODP2048:
		return "modp_2048";
	case MG_IKE_DH_ECP256:
		return "P-256";
	case MG_IKE_DH_ECP384:
		return "P-384";
	default:
		return NULL;
	}
}

struct ike_dh *
ike_dh_new(uint16_t group)
{
	struct ike_dh *dh;
	EVP_PKEY_CTX *ctx = NULL;

	if (ike_dh_pub_len(group) == 0)
		return NULL;
	dh = calloc(1, sizeof(*dh));
	if (dh == NULL)
		return NULL;
	dh->group = group;
	if (group == MG_IKE_DH_CURVE25519) {
		dh->key = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	} else {
		OSSL_PARAM params[2];

		ctx = EVP_PKEY_CTX_new_from_name(NULL, group == MG_IKE_DH_MODP2048 ? "DH" : "EC",
						 NULL);
		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
							     (char *)(uintptr_t)group_name(group), 0);
		params[1] = OSSL_PARAM_construct_end();
		if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
		    EVP_PKEY_CTX_set_params(ctx, params) != 1 ||
		    EVP_PKEY_generate(ctx, &dh->key) != 1)
			dh->key = NULL;
		EVP_PKEY_CTX_free(ctx);
	}
	if (dh->key == NULL) {
		free(dh);
		return NULL;
	}
	return dh;
}

void
ike_dh_free(struct ike_dh *dh)
{
	if (dh == NULL)
		return;
	EVP_PKEY_free(dh->key); /* OpenSSL clears private key material when freeing */
	free(dh);
}

int
ike_dh_public(const struct ike_dh *dh, uint8_t *out)
{
	const unsigned int n = ike_dh_pub_len(dh->group);
	uint8_t pt[1 + 96];
	size_t len = 0;
	BIGNUM *bn = NULL;
	int rc = -1;

	switch (dh->group) {
	case MG_IKE_DH_CURVE25519:
		len = n;
		return EVP_PKEY_get_raw_public_key(dh->key, out, &len) == 1 && len == n ? 0 : -1;
	case MG_IKE_DH_MODP2048:
		if (EVP_PKEY_get_bn_param(dh->key, OSSL_PKEY_PARAM_PUB_KEY, &bn) == 1 &&
		    BN_bn2binpad(bn, out, (int)n) == (int)n)
			rc = 0;
		BN_free(bn);
		return rc;
	default:
		/* Uncompressed point 0x04 | x | y; the KE payload carries x | y (RFC 5903). */
		if (EVP_PKEY_get_octet_string_param(dh->key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt,
						    sizeof(pt), &len) != 1 || len != n + 1 ||
		    pt[0] != 0x04)
			return -1;
		memcpy(out, pt + 1, n);
		return 0;
	}
}

/* The peer's public value as an EVP_PKEY of our group; NULL when malformed. */
static EVP_PKEY *
peer_key(const struct ike_dh *dh, const uint8_t *peer, size_t plen)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;
	BIGNUM *bn = NULL;
	uint8_t pt[1 + 96];

	if (plen != ike_dh_pub_len(dh->group))
		return NULL;
	if (dh->group == MG_IKE_DH_CURVE25519)
		return EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, peer, plen);
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
					    group_name(dh->group), 0) != 1)
		goto out;
	if (dh->group == MG_IKE_DH_MODP2048) {
		bn = BN_bin2bn(peer, (int)plen, NULL);
		if (bn == NULL || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, bn) != 1)
			goto out;
	} else {
		pt[0] = 0x04;
		memcpy(pt + 1, peer, plen);
		if (OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt,
						     plen + 1) != 1)
			goto out;
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, dh->group == MG_IKE_DH_MODP2048 ? "DH" : "EC",
					 NULL);
	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pk = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	return pk;
}

int
ike_dh_shared(struct ike_dh *dh, const uint8_t *peer, size_t plen, uint8_t *out, size_t *outlen)
{
	EVP_PKEY *pk = peer_key(dh, peer, plen);
	EVP_PKEY_CTX *ctx = NULL;
	size_t len = 0;
	int rc = -1;

	if (pk == NULL)
		return -1;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, dh->key, NULL);
	/* The peer's value is validated (range for MODP, on the curve for ECP). */
	if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 ||
	    (dh->group == MG_IKE_DH_MODP2048 && EVP_PKEY_CTX_set_dh_pad(ctx, 1) != 1) ||
	    EVP_PKEY_derive_set_peer_ex(ctx, pk, 1) != 1 ||
	    EVP_PKEY_derive(ctx, NULL, &len) != 1 || len > 256 ||
	    EVP_PKEY_derive(ctx, out, &len) != 1)
		goto out;
	if (dh->group == MG_IKE_DH_CURVE25519) {
		uint8_t acc = 0;

		/* RFC 8031 2.2: an all-zero result means a small-order point. */
		for (size_t i = 0; i < len; i++)
			acc |= out[i];
		if (acc == 0)
			goto out;
	}
	*outlen = len;
	rc = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return rc;
}

/* ---- the SK payload ------------------------------------------------------------------- */

int
ike_keylens(const struct mg_ike_proposal *p, struct ike_keylens *kl)
{
	memset(kl, 0, sizeof(*kl));
	kl->prf = ike_prf_len(p->prf);
	switch (p->encr) {
	case MG_IKE_ENCR_AES_GCM_16:
		if (p->key_bits != 128 && p->key_bits != 256)
			return -1;
		kl->enc = p->key_bits / 8 + 4;
		kl->iv = 8;
		kl->icv = 16;
		kl->block = 1;
		kl->aead = true;
		break;
	case MG_IKE_ENCR_CHACHA20_POLY1305:
		kl->enc = 32 + 4;
		kl->iv = 8;
		kl->icv = 16;
		kl->block = 1;
		kl->aead = true;
		break;
	case MG_IKE_ENCR_AES_CBC:
		if ((p->key_bits != 128 && p->key_bits != 256) ||
		    p->integ != MG_IKE_INTEG_HMAC_SHA2_256_128)
			return -1;
		kl->enc = p->key_bits / 8;
		kl->integ = 32;
		kl->iv = 16;
		kl->icv = 16;
		kl->block = 16;
		break;
	default:
		return -1;
	}
	return 0;
}

static const EVP_CIPHER *
cipher_of(const struct mg_ike_proposal *p)
{
	switch (p->encr) {
	case MG_IKE_ENCR_AES_GCM_16:
		return p->key_bits == 128 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
	case MG_IKE_ENCR_CHACHA20_POLY1305:
		return EVP_chacha20_poly1305();
	case MG_IKE_ENCR_AES_CBC:
		return p->key_bits == 128 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
	default:
		return NULL;
	}
}

/* AEAD seal/open in place: nonce = salt | iv, tag in/out. */
static int
aead(const struct mg_ike_proposal *p, const struct ike_keylens *kl, const uint8_t *key,
     const uint8_t *iv, const uint8_t *aad, size_t aadlen, uint8_t *data, size_t len,
     uint8_t *tag, bool enc)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t nonce[12];
	int n, ok;

	if (c == NULL)
		return -1;
	memcpy(nonce, key + kl->enc - 4, 4);
	memcpy(nonce + 4, iv, 8);
	ok = EVP_CipherInit_ex(c, cipher_of(p), NULL, NULL, NULL, enc) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) == 1 &&
	     EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) == 1 &&
	     (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, tag) == 1) &&
	     EVP_CipherUpdate(c, NULL, &n, aad, (int)aadlen) == 1 &&
	     EVP_CipherUpdate(c, data, &n, data, (int)len) == 1 &&
	     EVP_CipherFinal_ex(c, data + n, &n) == 1 &&
	     (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1);
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -1;
}

static int
cbc(const struct mg_ike_proposal *p, const uint8_t *key, const uint8_t *iv, uint8_t *data,
    size_t len, bool enc)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n, ok;

	if (c == NULL)
		return -1;
	ok = EVP_CipherInit_ex(c, cipher_of(p), NULL, key, iv, enc) == 1 &&
	     EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
	     EVP_CipherUpdate(c, data, &n, data, (int)len) == 1 && n == (int)len;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -1;
}

int
ike_sk_encrypt(const struct mg_ike_proposal *p, const struct ike_sk_keys *k, struct ike_buf *b,
	       size_t sk_off)
{
	struct ike_keylens kl;
	size_t pt_off = sk_off + 4, plen, padn, ct_len, total;
	uint8_t *ct;

	if (b->overflow || ike_keylens(p, &kl) < 0 || b->len < pt_off)
		return -1;
	plen = b->len - pt_off;
	padn = (kl.block - (plen + 1) % kl.block) % kl.block;
	ct_len = plen + padn + 1;
	total = pt_off + kl.iv + ct_len + kl.icv;
	if (total > sizeof(b->b))
		return -1;
	memmove(b->b + pt_off + kl.iv, b->b + pt_off, plen);
	if (ike_random(b->b + pt_off, kl.iv) < 0)
		return -1;
	ct = b->b + pt_off + kl.iv;
	memset(ct + plen, 0, padn);
	ct[plen + padn] = (uint8_t)padn;
	b->len = total;
	/* Lengths first: the header and the SK header are authenticated. */
	b->b[sk_off + 2] = (uint8_t)((total - sk_off) >> 8);
	b->b[sk_off + 3] = (uint8_t)(total - sk_off);
	ike_buf_finish(b);
	if (kl.aead)
		return aead(p, &kl, k->e, b->b + pt_off, b->b, pt_off, ct, ct_len, ct + ct_len, true);
	if (cbc(p, k->e, b->b + pt_off, ct, ct_len, true) < 0)
		return -1;
	{
		uint8_t mac[32];
		int rc = hmac3("SHA256", k->a, kl.integ, b->b, total - kl.icv, NULL, 0, NULL, 0, mac,
			       sizeof(mac));

		memcpy(b->b + total - kl.icv, mac, kl.icv);
		return rc;
	}
}

int
ike_sk_decrypt(const struct mg_ike_proposal *p, const struct ike_sk_keys *k, const uint8_t *buf,
	       const struct ike_msg *m, uint8_t *out, size_t *outlen)
{
	struct ike_keylens kl;
	const struct ike_pl *sk;
	size_t ct_len;
	uint8_t tag[16];
	uint8_t pad;

	if (m->sk < 0 || ike_keylens(p, &kl) < 0)
		return -1;
	sk = &m->pl[m->sk];
	if (sk->len < kl.iv + kl.icv + 1)
		return -1;
	ct_len = sk->len - kl.iv - kl.icv;
	if (ct_len % kl.block != 0 || ct_len > MG_IKE_MAX_MSG)
		return -1;
	memcpy(out, sk->body + kl.iv, ct_len);
	if (kl.aead) {
		memcpy(tag, sk->body + kl.iv + ct_len, 16);
		if (aead(p, &kl, k->e, sk->body, buf, m->sk_off + 4, out, ct_len, tag, false) < 0)
			return -1;
	} else {
		uint8_t mac[32];

		if (hmac3("SHA256", k->a, kl.integ, buf, m->len - kl.icv, NULL, 0, NULL, 0, mac,
			  sizeof(mac)) < 0 ||
		    CRYPTO_memcmp(mac, buf + m->len - kl.icv, kl.icv) != 0)
			return -1;
		if (cbc(p, k->e, sk->body, out, ct_len, false) < 0)
			return -1;
	}
	pad = out[ct_len - 1];
	if ((size_t)pad + 1 > ct_len)
		return -1;
	*outlen = ct_len - pad - 1;
	return 0;
}

uint16_t
ike_dh_group(const struct ike_dh *dh)
{
	return dh->group;
}
