/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Public-key authentication for IKEv2 over OpenSSL 3: credentials loaded
 * from PEM (files, text, or NSM's base64 DER certificates), the AUTH
 * payload's signatures (RFC 7296 3.8 methods 1, 9, 10; RFC 7427 method 14
 * with PKCS#1 v1.5 and ECDSA over SHA-2), the peer's certificate chain
 * checked against the configured CAs, identities checked against the
 * certificate (subject DN or subjectAltName), CERTREQ hashes.
 * Private keys live in EVP_PKEYs only (OpenSSL clears them when freed);
 * the PEM text of an inline key is wiped by the configuration's owner.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ike_priv.h"

/* ---- loading -------------------------------------------------------------------------- */

static bool
is_pem(const char *s)
{
	s += strspn(s, " \t\r\n"); /* as OpenSSL's reader, text may come first */
	return strncmp(s, "-----BEGIN", 10) == 0;
}

/* Base64 DER certificate (NSM's public-key parameters): "MII" and no path characters. */
static bool
is_b64_der(const char *s)
{
	return strncmp(s, "MII", 3) == 0 && strchr(s, '.') == NULL;
}

/* A BIO over @p s: its text, or the file it names. NULL with @p why set. */
static BIO *
src_bio(const char *s, char *why, size_t wl)
{
	BIO *b;

	if (is_pem(s))
		return BIO_new_mem_buf(s, (int)strlen(s));
	b = BIO_new_file(s, "r");
	if (b == NULL)
		snprintf(why, wl, "cannot read '%s': %s", s, strerror(errno ? errno : ENOENT));
	return b;
}

/*
 * A BIO over our private key: its text, or the file it names read whole
 * into *@p hold (not through stdio, whose buffer would keep the key
 * unwiped). Free *@p hold with mg_free_wiped after the BIO.
 */
static BIO *
key_bio(const char *s, char **hold, char *why, size_t wl)
{
	struct mg_error fe;
	size_t len = 0;

	*hold = NULL;
	if (is_pem(s))
		return BIO_new_mem_buf(s, (int)strlen(s));
	mg_error_clear(&fe);
	*hold = mg_pem_file_read(s, "key", &len, NULL, &fe);
	if (*hold == NULL) {
		if (fe.code == EINVAL || fe.code == EIO)
			snprintf(why, wl, "%s", fe.msg);
		else if (strchr(s, '.') != NULL && strpbrk(s, " \t\r\n") == NULL)
			/* A path (key text, PEM or base64, has no '.'): named. */
			snprintf(why, wl, "cannot read '%s': %s", s, strerror(fe.code));
		else
			/* Not quoted: it may be key text that is not PEM (the secret itself). */
			snprintf(why, wl, "neither PEM text (a -----BEGIN line) nor a readable file: %s",
				 strerror(fe.code));
		return NULL;
	}
	return BIO_new_mem_buf(*hold, (int)len);
}

static X509 *
b64_cert(const char *s)
{
	size_t n = strlen(s);
	unsigned char *der = malloc(n);
	const unsigned char *p = der;
	X509 *x = NULL;
	int len;

	if (der == NULL)
		return NULL;
	len = EVP_DecodeBlock(der, (const unsigned char *)s, (int)n);
	if (len > 0) {
		/* EVP_DecodeBlock counts the '=' padding as zero bytes: d2i stops at the end. */
		x = d2i_X509(NULL, &p, len);
	}
	free(der);
	return x;
}

/* Every certificate in @p s (at least one). */
static STACK_OF(X509) *
load_certs(const char *s, char *why, size_t wl)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *b;
	X509 *x;

	if (sk == NULL)
		return NULL;
	if (is_b64_der(s)) {
		x = b64_cert(s);
		if (x == NULL || !sk_X509_push(sk, x)) {
			X509_free(x);
			snprintf(why, wl, "not a base64 DER certificate");
			sk_X509_free(sk);
			return NULL;
		}
		return sk;
	}
	b = src_bio(s, why, wl);
	if (b == NULL) {
		sk_X509_free(sk);
		return NULL;
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(sk, x))
			X509_free(x);
	ERR_clear_error();
	BIO_free(b);
	if (sk_X509_num(sk) == 0) {
		snprintf(why, wl, "no PEM certificate in %s", is_pem(s) ? "the text" : s);
		sk_X509_free(sk);
		return NULL;
	}
	return sk;
}

static X509 *
load_cert(const char *s, char *why, size_t wl)
{
	STACK_OF(X509) *sk = load_certs(s, why, wl);
	X509 *x;

	if (sk == NULL)
		return NULL;
	x = sk_X509_shift(sk);
	sk_X509_pop_free(sk, X509_free);
	return x;
}

/* RSA (2048 bits or more) or ECDSA on P-256 / P-384. */
static bool
key_supported(EVP_PKEY *k, char *why, size_t wl)
{
	char group[32];
	size_t gl = 0;

	if (EVP_PKEY_is_a(k, "RSA")) {
		if (EVP_PKEY_get_bits(k) < 2048) {
			snprintf(why, wl, "RSA keys of %d bits are too short (at least 2048)",
				 EVP_PKEY_get_bits(k));
			return false;
		}
		return true;
	}
	if (EVP_PKEY_is_a(k, "EC") &&
	    EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					   &gl) == 1 &&
	    (strcmp(group, "prime256v1") == 0 || strcmp(group, "secp384r1") == 0 ||
	     strcmp(group, "P-256") == 0 || strcmp(group, "P-384") == 0))
		return true;
	snprintf(why, wl, "only RSA and ECDSA P-256/P-384 keys are supported");
	return false;
}

static int
cerr(struct mg_error *err, const char *field, const char *why)
{
	return mg_error_set(err, EINVAL, field, "%s", why);
}

void
ike_creds_free(struct ike_creds *cr)
{
	EVP_PKEY_free(cr->key); /* OpenSSL clears the private key's material */
	X509_free(cr->cert);
	X509_free(cr->peer);
	X509_STORE_free(cr->store);
	memset(cr, 0, sizeof(*cr));
}

int
ike_creds_load(const struct mg_ike_peer_conf *c, struct ike_creds *cr, struct mg_error *err)
{
	char why[192] = "";
	STACK_OF(X509) *cas = NULL;
	BIO *b;
	char *hold = NULL;

	memset(cr, 0, sizeof(*cr));
	if (c->auth != MG_IKE_AUTH_PUBKEY)
		return 0;
	if (c->key[0] == '\0')
		return mg_error_set(err, EINVAL, "key", "public-key authentication needs our "
				    "private key (a PEM file)");
	if (c->ca[0] == '\0' && c->peer_cert[0] == '\0')
		return mg_error_set(err, EINVAL, "ca", "give the CA certificate(s) of the peer's "
				    "certificate, or peer_cert (the peer's own certificate)");
	if (c->ca[0] != '\0' && c->peer_cert[0] != '\0')
		return mg_error_set(err, EINVAL, "peer_cert", "give ca or peer_cert, not both");
	b = key_bio(c->key, &hold, why, sizeof(why));
	if (b == NULL) {
		mg_free_wiped(hold);
		return cerr(err, "key", why);
	}
	cr->key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	mg_free_wiped(hold);
	ERR_clear_error();
	if (cr->key == NULL) {
		ike_creds_free(cr);
		/* Never the text: it is a secret. */
		return mg_error_set(err, EINVAL, "key", "no PEM private key in %s (encrypted keys "
				    "are not supported)", is_pem(c->key) ? "the text" : c->key);
	}
	if (!key_supported(cr->key, why, sizeof(why))) {
		ike_creds_free(cr);
		return cerr(err, "key", why);
	}
	if (c->cert[0] != '\0') {
		cr->cert = load_cert(c->cert, why, sizeof(why));
		if (cr->cert == NULL) {
			ike_creds_free(cr);
			return cerr(err, "cert", why);
		}
		if (X509_check_private_key(cr->cert, cr->key) != 1) {
			ERR_clear_error();
			ike_creds_free(cr);
			return mg_error_set(err, EINVAL, "cert", "the certificate does not belong "
					    "to the private key");
		}
	}
	if (c->peer_cert[0] != '\0') {
		EVP_PKEY *pk;

		cr->peer = load_cert(c->peer_cert, why, sizeof(why));
		if (cr->peer == NULL) {
			ike_creds_free(cr);
			return cerr(err, "peer_cert", why);
		}
		pk = X509_get0_pubkey(cr->peer);
		if (pk == NULL || !key_supported(pk, why, sizeof(why))) {
			ike_creds_free(cr);
			return cerr(err, "peer_cert", pk == NULL ? "no usable public key" : why);
		}
	}
	if (c->ca[0] != '\0') {
		cas = load_certs(c->ca, why, sizeof(why));
		cr->store = X509_STORE_new();
		if (cas == NULL || cr->store == NULL) {
			sk_X509_pop_free(cas, X509_free);
			ike_creds_free(cr);
			return cerr(err, "ca", cas == NULL ? why : "out of memory");
		}
		for (int i = 0; i < sk_X509_num(cas) && cr->nca < IKE_MAX_CA; i++) {
			X509 *x = sk_X509_value(cas, i);
			unsigned char *der = NULL;
			int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);

			X509_STORE_add_cert(cr->store, x);
			/* CERTREQ: SHA-1 of the CA's SubjectPublicKeyInfo (RFC 7296 3.7). */
			if (n > 0)
				ike_sha1(der, (size_t)n, NULL, 0, cr->ca_hash[cr->nca++]);
			OPENSSL_free(der);
		}
		sk_X509_pop_free(cas, X509_free);
	}
	return 0;
}

/* ---- identities ----------------------------------------------------------------------- */

int
ike_dn_parse(const char *s, uint8_t *out, size_t max, size_t *len)
{
	X509_NAME *nm = X509_NAME_new();
	char buf[512], *save = NULL, *tok;
	unsigned char *der = NULL;
	int n, rc = -1;

	if (nm == NULL || strlen(s) >= sizeof(buf))
		goto out;
	snprintf(buf, sizeof(buf), "%s", s);
	/* "C=CH, O=Example, CN=gw": RDNs in the order written, as strongSwan reads them. */
	for (tok = strtok_r(buf, ",/", &save); tok != NULL; tok = strtok_r(NULL, ",/", &save)) {
		char *eq, *k, *v;

		while (*tok == ' ')
			tok++;
		if (*tok == '\0')
			continue;
		eq = strchr(tok, '=');
		if (eq == NULL)
			goto out;
		*eq = '\0';
		k = tok;
		v = eq + 1;
		for (char *e = eq - 1; e > k && *e == ' '; e--)
			*e = '\0';
		while (*v == ' ')
			v++;
		if (X509_NAME_add_entry_by_txt(nm, k, MBSTRING_UTF8, (const unsigned char *)v, -1,
					       -1, 0) != 1)
			goto out;
	}
	if (X509_NAME_entry_count(nm) == 0)
		goto out;
	n = i2d_X509_NAME(nm, &der);
	if (n <= 0 || (size_t)n > max)
		goto out;
	memcpy(out, der, (size_t)n);
	*len = (size_t)n;
	rc = 0;
out:
	ERR_clear_error();
	OPENSSL_free(der);
	X509_NAME_free(nm);
	return rc;
}

void
ike_dn_format(const uint8_t *der, size_t len, char *buf, size_t n)
{
	const unsigned char *p = der;
	X509_NAME *nm = d2i_X509_NAME(NULL, &p, (long)len);
	size_t off = 0;

	buf[0] = '\0';
	if (nm == NULL) {
		snprintf(buf, n, "(bad DN)");
		ERR_clear_error();
		return;
	}
	for (int i = 0; i < X509_NAME_entry_count(nm) && off < n; i++) {
		X509_NAME_ENTRY *e = X509_NAME_get_entry(nm, i);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);
		const char *sn = nid != NID_undef ? OBJ_nid2sn(nid) : "?";
		char val[128];
		int vl = ASN1_STRING_length(v);

		if (vl >= (int)sizeof(val))
			vl = sizeof(val) - 1;
		for (int k = 0; k < vl; k++) {
			unsigned char ch = ASN1_STRING_get0_data(v)[k];

			val[k] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
		}
		val[vl] = '\0';
		off += (size_t)snprintf(buf + off, n - off, "%s%s=%s", i ? ", " : "", sn, val);
	}
	X509_NAME_free(nm);
}

/* The DER subject of @p x as an identity. */
void
ike_cert_subject_id(const struct ike_creds *cr, struct mg_ike_id *id)
{
	unsigned char *der = NULL;
	int n;

	memset(id, 0, sizeof(*id));
	if (cr->cert == NULL)
		return;
	n = i2d_X509_NAME(X509_get_subject_name(cr->cert), &der);
	if (n > 0 && n <= MG_IKE_ID_MAX) {
		id->type = MG_IKE_ID_DER_ASN1_DN;
		id->len = (uint8_t)n;
		memcpy(id->data, der, (size_t)n);
	}
	OPENSSL_free(der);
}

/* True when certificate @p x vouches for identity (@p type, @p data, @p len). */
static bool
cert_has_id(X509 *x, uint8_t type, const uint8_t *data, size_t len)
{
	char s[MG_IKE_ID_MAX + 1];

	if (len > MG_IKE_ID_MAX)
		return false;
	memcpy(s, data, len);
	s[len] = '\0';
	switch (type) {
	case MG_IKE_ID_FQDN:
		return memchr(data, 0, len) == NULL &&
		       X509_check_host(x, s, len, X509_CHECK_FLAG_NO_WILDCARDS, NULL) == 1;
	case MG_IKE_ID_RFC822_ADDR:
		return memchr(data, 0, len) == NULL && X509_check_email(x, s, len, 0) == 1;
	case MG_IKE_ID_IPV4_ADDR:
	case MG_IKE_ID_IPV6_ADDR:
		return (len == 4 || len == 16) && X509_check_ip(x, data, len, 0) == 1;
	case MG_IKE_ID_DER_ASN1_DN: {
		unsigned char *der = NULL;
		int n = i2d_X509_NAME(X509_get_subject_name(x), &der);
		bool ok = n > 0 && (size_t)n == len && memcmp(der, data, len) == 0;

		OPENSSL_free(der);
		return ok;
	}
	default:
		return false;
	}
}

/* ---- the peer's key ---------------------------------------------------------------------- */

EVP_PKEY *
ike_peer_key(const struct ike_creds *cr, const struct ike_pl *pl, unsigned int npl,
	     const struct ike_pl *id, const char **why)
{
	STACK_OF(X509) *chain = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509 *ee = NULL;
	EVP_PKEY *pk = NULL;

	*why = "no certificate";
	if (cr->peer != NULL) {
		/* Pinned (NSM's form): the peer proves it holds this key; no CERT needed. */
		pk = X509_get_pubkey(cr->peer);
		*why = pk == NULL ? "the pinned certificate has no key" : "";
		return pk;
	}
	if (cr->store == NULL)
		return NULL;
	chain = sk_X509_new_null();
	if (chain == NULL)
		return NULL;
	for (unsigned int i = 0; i < npl; i++) {
		const unsigned char *p;
		X509 *x;

		/* CERT: encoding 4 (X.509 Certificate - Signature), DER. */
		if (pl[i].type != IKE_PL_CERT || pl[i].len < 2 || pl[i].body[0] != IKE_CERT_X509_SIG)
			continue;
		p = pl[i].body + 1;
		x = d2i_X509(NULL, &p, pl[i].len - 1);
		if (x == NULL || p != pl[i].body + pl[i].len) {
			X509_free(x);
			*why = "malformed CERT payload";
			goto out;
		}
		if (ee == NULL)
			ee = x; /* the first is the end entity (RFC 7296 3.6) */
		else if (!sk_X509_push(chain, x))
			X509_free(x);
	}
	if (ee == NULL)
		goto out;
	ctx = X509_STORE_CTX_new();
	if (ctx == NULL || X509_STORE_CTX_init(ctx, cr->store, ee, chain) != 1)
		goto out;
	if (X509_verify_cert(ctx) != 1) {
		*why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
		goto out;
	}
	if (id == NULL || id->len < 4 || !cert_has_id(ee, id->body[0], id->body + 4, id->len - 4u)) {
		*why = "the identity is not in the certificate";
		goto out;
	}
	pk = X509_get_pubkey(ee);
	*why = "";
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_free(ee);
	sk_X509_pop_free(chain, X509_free);
	return pk;
}

/* ---- signatures ------------------------------------------------------------------------- */

/* RFC 7427 Appendix A: the AlgorithmIdentifiers we sign and verify with. */
static const struct {
	uint8_t hash;       /* RFC 7427 hash ID */
	bool ec;
	uint8_t len;
	uint8_t der[16];
} algids[] = {
	{IKE_HASH_SHA256, false, 15, {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
				      0x01, 0x01, 0x0b, 0x05, 0x00}},
	{IKE_HASH_SHA384, false, 15, {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
				      0x01, 0x01, 0x0c, 0x05, 0x00}},
	{IKE_HASH_SHA512, false, 15, {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
				      0x01, 0x01, 0x0d, 0x05, 0x00}},
	{IKE_HASH_SHA256, true, 12, {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04,
				     0x03, 0x02}},
	{IKE_HASH_SHA384, true, 12, {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04,
				     0x03, 0x03}},
	{IKE_HASH_SHA512, true, 12, {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04,
				     0x03, 0x04}},
};

static const EVP_MD *
hash_md(uint8_t h)
{
	switch (h) {
	case IKE_HASH_SHA1:
		return EVP_sha1();
	case IKE_HASH_SHA256:
		return EVP_sha256();
	case IKE_HASH_SHA384:
		return EVP_sha384();
	case IKE_HASH_SHA512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

/* Bytes of r and s for an EC key (32 for P-256, 48 for P-384). */
static int
ec_half(EVP_PKEY *k)
{
	return (EVP_PKEY_get_bits(k) + 7) / 8;
}

static int
digest_sign(EVP_PKEY *k, const EVP_MD *md, const uint8_t *d, size_t dl, uint8_t *out,
	    size_t *outlen)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	int ok;

	if (c == NULL)
		return -1;
	ok = EVP_DigestSignInit(c, &pc, md, NULL, k) == 1 &&
	     (!EVP_PKEY_is_a(k, "RSA") || EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1) &&
	     EVP_DigestSign(c, out, outlen, d, dl) == 1;
	EVP_MD_CTX_free(c);
	ERR_clear_error();
	return ok ? 0 : -1;
}

static bool
digest_verify(EVP_PKEY *k, const EVP_MD *md, const uint8_t *sig, size_t sl, const uint8_t *d,
	      size_t dl)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	bool ok;

	if (c == NULL)
		return false;
	ok = EVP_DigestVerifyInit(c, &pc, md, NULL, k) == 1 &&
	     (!EVP_PKEY_is_a(k, "RSA") || EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1) &&
	     EVP_DigestVerify(c, sig, sl, d, dl) == 1;
	EVP_MD_CTX_free(c);
	ERR_clear_error();
	return ok;
}

/* DER ECDSA-Sig-Value <-> r | s (RFC 4754). */
static int
ec_der_to_raw(const uint8_t *der, size_t dl, int half, uint8_t *out)
{
	const unsigned char *p = der;
	ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)dl);
	int ok;

	if (s == NULL)
		return -1;
	ok = BN_bn2binpad(ECDSA_SIG_get0_r(s), out, half) == half &&
	     BN_bn2binpad(ECDSA_SIG_get0_s(s), out + half, half) == half;
	ECDSA_SIG_free(s);
	return ok ? 0 : -1;
}

static int
ec_raw_to_der(const uint8_t *raw, int half, uint8_t *out, size_t max, size_t *len)
{
	ECDSA_SIG *s = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, half, NULL), *ss = BN_bin2bn(raw + half, half, NULL);
	unsigned char *der = NULL;
	int n = -1;

	if (s == NULL || r == NULL || ss == NULL || ECDSA_SIG_set0(s, r, ss) != 1) {
		BN_free(r);
		BN_free(ss);
		ECDSA_SIG_free(s);
		return -1;
	}
	n = i2d_ECDSA_SIG(s, &der);
	ECDSA_SIG_free(s);
	if (n <= 0 || (size_t)n > max) {
		OPENSSL_free(der);
		return -1;
	}
	memcpy(out, der, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(der);
	return 0;
}

int
ike_auth_sign(EVP_PKEY *k, bool rfc7427, const uint8_t *octets, size_t olen, uint8_t *method,
	      uint8_t *out, size_t max, size_t *len)
{
	const bool ec = EVP_PKEY_is_a(k, "EC");
	uint8_t sig[1024];
	size_t sl = sizeof(sig);

	if (rfc7427) {
		/* SHA-384 for P-384 keys, SHA-256 otherwise. */
		const uint8_t h = ec && ec_half(k) == 48 ? IKE_HASH_SHA384 : IKE_HASH_SHA256;

		for (unsigned int i = 0; i < MG_ARRAY_SIZE(algids); i++) {
			if (algids[i].hash != h || algids[i].ec != ec)
				continue;
			if (digest_sign(k, hash_md(h), octets, olen, sig, &sl) < 0 ||
			    1 + algids[i].len + sl > max)
				return -1;
			out[0] = algids[i].len;
			memcpy(out + 1, algids[i].der, algids[i].len);
			memcpy(out + 1 + algids[i].len, sig, sl);
			*len = 1 + algids[i].len + sl;
			*method = IKE_AUTH_DIGITAL_SIGNATURE;
			return 0;
		}
		return -1;
	}
	if (!ec) {
		/* RFC 7296: RSA, PKCS#1 v1.5 over SHA-1. */
		if (digest_sign(k, EVP_sha1(), octets, olen, sig, &sl) < 0 || sl > max)
			return -1;
		memcpy(out, sig, sl);
		*len = sl;
		*method = IKE_AUTH_RSA_SIG;
		return 0;
	}
	{
		const int half = ec_half(k);

		if ((half != 32 && half != 48) || (size_t)(2 * half) > max ||
		    digest_sign(k, half == 32 ? EVP_sha256() : EVP_sha384(), octets, olen, sig,
				&sl) < 0 ||
		    ec_der_to_raw(sig, sl, half, out) < 0)
			return -1;
		*len = (size_t)(2 * half);
		*method = half == 32 ? IKE_AUTH_ECDSA_256 : IKE_AUTH_ECDSA_384;
		return 0;
	}
}

bool
ike_auth_verify(EVP_PKEY *k, uint8_t method, const uint8_t *data, size_t dl,
		const uint8_t *octets, size_t olen)
{
	const bool ec = EVP_PKEY_is_a(k, "EC");
	uint8_t der[160];
	size_t derlen;

	switch (method) {
	case IKE_AUTH_RSA_SIG:
		return !ec && digest_verify(k, EVP_sha1(), data, dl, octets, olen);
	case IKE_AUTH_ECDSA_256:
	case IKE_AUTH_ECDSA_384: {
		const int half = method == IKE_AUTH_ECDSA_256 ? 32 : 48;

		return ec && ec_half(k) == half && dl == (size_t)(2 * half) &&
		       ec_raw_to_der(data, half, der, sizeof(der), &derlen) == 0 &&
		       digest_verify(k, half == 32 ? EVP_sha256() : EVP_sha384(), der, derlen,
				     octets, olen);
	}
	case IKE_AUTH_DIGITAL_SIGNATURE:
		if (dl < 1 || data[0] + 1u > dl)
			return false;
		for (unsigned int i = 0; i < MG_ARRAY_SIZE(algids); i++)
			if (algids[i].len == data[0] && algids[i].ec == ec &&
			    memcmp(algids[i].der, data + 1, data[0]) == 0)
				/* ECDSA signatures are DER here (RFC 7427 3). */
				return digest_verify(k, hash_md(algids[i].hash), data + 1 + data[0],
						     dl - 1 - data[0], octets, olen);
		return false;
	default:
		return false;
	}
}

int
ike_cert_der(const struct ike_creds *cr, uint8_t *out, size_t max, size_t *len)
{
	unsigned char *der = NULL;
	int n;

	if (cr->cert == NULL)
		return -1;
	n = i2d_X509(cr->cert, &der);
	if (n <= 0 || (size_t)n > max) {
		OPENSSL_free(der);
		return -1;
	}
	memcpy(out, der, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(der);
	return 0;
}

void
ike_pkey_free(EVP_PKEY *k)
{
	EVP_PKEY_free(k);
}

/* ---- NSM's form ---------------------------------------------------------------------------- */

/* A self-signed certificate of @p k: serial @p serial, CN=@p cn, subjectAltName DNS:@p san. */
static X509 *
nsm_cert(EVP_PKEY *k, const char *cn, const uint8_t serial[16], const char *san)
{
	X509 *x = X509_new();
	X509_NAME *nm = X509_NAME_new();
	BIGNUM *bn = BN_bin2bn(serial, 16, NULL);
	X509_EXTENSION *ext = NULL;
	X509V3_CTX v3;
	char val[80];
	bool ok;

	snprintf(val, sizeof(val), "DNS:%s", san);
	ok = x != NULL && nm != NULL && bn != NULL && X509_set_version(x, 2) == 1 &&
	     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL &&
	     X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL &&
	     X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400) != NULL &&
	     X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
					-1, 0) == 1 &&
	     X509_set_subject_name(x, nm) == 1 && X509_set_issuer_name(x, nm) == 1 &&
	     X509_set_pubkey(x, k) == 1;
	if (ok) {
		X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, val);
		ok = ext != NULL && X509_add_ext(x, ext, -1) == 1 && X509_sign(x, k, EVP_sha256()) > 0;
	}
	X509_EXTENSION_free(ext);
	X509_NAME_free(nm);
	BN_free(bn);
	ERR_clear_error();
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int
cert_b64_of(X509 *x, char *out, size_t max)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der), rc = -1;

	if (n > 0 && (size_t)(n + 2) / 3 * 4 + 1 <= max) {
		EVP_EncodeBlock((unsigned char *)out, der, n);
		rc = 0;
	}
	OPENSSL_free(der);
	return rc;
}

int
mg_ike_nsm_credentials(const char *cn, char *key_pem, size_t key_max, char *cert_b64,
		       size_t cert_max)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	uint8_t serial[16];
	char san[65];
	X509 *x = NULL;
	BIO *b = NULL;
	char *p;
	long len;
	int rc = -1;

	if (k == NULL || ike_random(serial, sizeof(serial)) < 0)
		goto out;
	serial[0] = (uint8_t)((serial[0] & 0x7f) | 0x01); /* positive, 16 bytes of DER */
	/*
	 * The first 64 base64 characters are the first 48 bytes of the DER: the
	 * headers (their lengths fixed by a 64-character SAN), the version, the
	 * serial and the signature algorithm. So a certificate made with any
	 * 64-character SAN starts like the one made with its own prefix.
	 */
	memset(san, 'A', 64);
	san[64] = '\0';
	for (int pass = 0; pass < 2; pass++) {
		X509_free(x);
		x = nsm_cert(k, cn, serial, san);
		if (x == NULL || cert_b64_of(x, cert_b64, cert_max) < 0)
			goto out;
		if (pass == 0)
			memcpy(san, cert_b64, 64);
		else if (memcmp(san, cert_b64, 64) != 0)
			goto out;
	}
	b = BIO_new(BIO_s_secmem()); /* cleared when freed */
	if (b == NULL || PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1)
		goto out;
	len = BIO_get_mem_data(b, &p);
	if (len <= 0 || (size_t)len >= key_max)
		goto out;
	memcpy(key_pem, p, (size_t)len);
	key_pem[len] = '\0';
	rc = 0;
out:
	ERR_clear_error();
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}
