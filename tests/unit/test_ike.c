/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IKEv2 library: HMAC-SHA-256/384 against RFC 4231, SKEYSEED / prf+ / child
 * keying material against NIST SP 800-135 (CAVS) IKEv2 KDF sample vectors
 * (SHA-1 and SHA-256), Diffie-Hellman agreement for groups 14/19/20/31 and
 * the refusal of bad public values, SK payload round trips and tampering
 * for each cipher, the message parser's bounds checks (truncations and
 * random corruption), proposal and identity parsing, and whole exchanges
 * between two engines in one process: every proposal pair, wrong PSK,
 * no common proposal, INVALID_KE_PAYLOAD, lost messages (retransmission),
 * dead-peer detection and re-authentication; public-key authentication
 * with certificates made here (RSA and ECDSA P-256/P-384 through a CA, a
 * pinned self-signed certificate as NSM gives them, a certificate of another
 * CA and one that does not name the identity refused), and each AUTH
 * signature method against its verifier.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ike_priv.h"
#include "mg_esp_algos.h"
#include "mg_test.h"

static size_t
unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;

	while (s[0] && s[1] && n < max) {
		unsigned int v;

		sscanf(s, "%2x", &v);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

static bool
eqhex(const uint8_t *got, size_t n, const char *want)
{
	uint8_t w[512];
	size_t wn = unhex(want, w, sizeof(w));

	return wn == n && memcmp(got, w, n) == 0;
}

/* ---- PRF ---------------------------------------------------------------------------- */

MG_TEST(prf_hmac_rfc4231)
{
	/* RFC 4231 test case 2. */
	const char *key = "Jefe", *data = "what do ya want for nothing?";
	uint8_t out[48];

	CHECK(ike_prf(MG_IKE_PRF_HMAC_SHA2_256, (const uint8_t *)key, 4, (const uint8_t *)data, 10,
		      (const uint8_t *)data + 10, strlen(data) - 10, out) == 0);
	CHECK(eqhex(out, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
	CHECK(ike_prf(MG_IKE_PRF_HMAC_SHA2_384, (const uint8_t *)key, 4, (const uint8_t *)data,
		      strlen(data), NULL, 0, out) == 0);
	CHECK(eqhex(out, 48, "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
			     "8e2240ca5e69e2c78b3239ecfab21649"));
	CHECK_EQ(ike_prf_len(MG_IKE_PRF_HMAC_SHA2_384), 48);
	CHECK_EQ(ike_prf_len(99), 0);
}

/* NIST SP 800-135 IKEv2 KDF sample (CAVS ikev2.zip, SHA-1, 1024-bit g^ir). */
MG_TEST(prf_plus_nist_sha1)
{
	uint8_t ni[8], nr[8], gir[128], girn[128], spii[8], spir[8], seed[64], seedkey[20];
	uint8_t dkm[132], child[132], t[256 + 16], rekey[20];
	size_t n;

	unhex("3651fef5c9c35e93", ni, 8);
	unhex("c09a8b90a3f04d59", nr, 8);
	unhex("d084a30166a50fb7325c3960874a839449ef9741c2f4f947d0201dd8c1269273d79509f37e3ca3eb"
	      "4fa2fe2a28254e289cd3f34dad4eb4df1a07685a4b8a94fa61e2491f7598b3ce65547ff133b3f63d"
	      "1ac4175eaa695033f3cedb026a6873a36455172a8540b8a5d23a0143bed0390ee49b168269d75fff"
	      "ee9fb62be965993c", gir, 128);
	unhex("52f00ab174c25d5b7139ae5ff4e8e9eddee5992d2e36adf8a559ffd90dab1442e4fbe429d320c0f3"
	      "3552a17d1557fa41ea70e8fb916c4fa27ed52b5f8ebd8461afa78f1159159a64055ac5f6319e29c2"
	      "8eae58cbc6847770f32c3fed1d04750484f854790f95e9ec01bc5bc461f24966462e359511329305"
	      "038e94deb6dd42c2", girn, 128);
	unhex("8e5c3ae507221684", spii, 8);
	unhex("b1f201bb155c3acd", spir, 8);
	memcpy(seed, ni, 8);
	memcpy(seed + 8, nr, 8);
	/* SKEYSEED = prf(Ni | Nr, g^ir) */
	CHECK(ike_prf(MG_IKE_PRF_HMAC_SHA1, seed, 16, gir, 128, NULL, 0, seedkey) == 0);
	CHECK(eqhex(seedkey, 20, "cd2e8050137832245f1dbacc6e4f0a92f94d45d6"));
	/* DKM = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr) */
	memcpy(seed + 16, spii, 8);
	memcpy(seed + 24, spir, 8);
	CHECK(ike_prf_plus(MG_IKE_PRF_HMAC_SHA1, seedkey, 20, seed, 32, dkm, sizeof(dkm)) == 0);
	CHECK(eqhex(dkm, 132, "6f1b12cad3cbe097b35430356d869d54cddb0198ec859174d53ceb92dddedbe2"
			      "436db69f60977c58fa63bbb667f8d36920b109baae8f6c61a9ac49feda01843225"
			      "d080ec5539d5881a25521ffb2a0a91874a9c0a27fcc2d717eb8963a9e3a89c7ab2"
			      "64757284c28cf8c3ca40576f4220b052b1fb8e9ad60ba3c80557323331a8cbb89f"
			      "20"));
	/* DKM(Child SA) = prf+(SK_d, Ni | Nr), SK_d the first 20 bytes of DKM */
	CHECK(ike_prf_plus(MG_IKE_PRF_HMAC_SHA1, dkm, 20, seed, 16, child, sizeof(child)) == 0);
	CHECK(eqhex(child, 132, "4727dc0ef94eb326ce131cf282fb652faa638ad0ddae3786a11bcc030987600"
				"9f8c485de011ad962c5b1ca8a41ff8145445749079c5686e26ffebbc342f06981f3"
				"da745e11ca0976424d1f8caec623d59dc7186deb20a27b411d1dcb70a365440bf7d"
				"e905088b0692e8addc094e18d1939bdb67e89798ca6b239e2ccb81c2409dac0106"
				"c"));
	/* DKM(Child SA D-H) = prf+(SK_d, g^ir(new) | Ni | Nr) */
	memcpy(t, girn, 128);
	memcpy(t + 128, seed, 16);
	n = 144;
	CHECK(ike_prf_plus(MG_IKE_PRF_HMAC_SHA1, dkm, 20, t, n, child, sizeof(child)) == 0);
	CHECK(eqhex(child, 20, "b109c21ad4c0797768c1cec9e63554681e48f224"));
	/* SKEYSEED(rekey) = prf(SK_d, g^ir(new) | Ni | Nr) */
	CHECK(ike_prf(MG_IKE_PRF_HMAC_SHA1, dkm, 20, girn, 128, seed, 16, rekey) == 0);
	CHECK(eqhex(rekey, 20, "3b03bce748c96d5e8306918d2ff89b68f0648da3"));
}

/* NIST SP 800-135 IKEv2 KDF sample with SHA-256 (as NSS's PKCS#11 IKE tests carry it). */
MG_TEST(prf_plus_nist_sha256)
{
	uint8_t gir[32], girn[32], seed[32], skeyseed[32], dkm[132], rekey[32];

	unhex("0f4d257d7a58fc4545c7d7a88119eee5d5c9690c5b4c989171d3abbfd99d1d29", gir, 32);
	unhex("3f302be1abcb28e18c332ee006064c9b40dac39e1e1a86408619a1cf9a6e4c07", seed, 32);
	CHECK(ike_prf(MG_IKE_PRF_HMAC_SHA2_256, seed, 16, gir, 32, NULL, 0, skeyseed) == 0);
	CHECK(eqhex(skeyseed, 32,
		    "5f00d1bd2c58ec224b1e6b71fa0f19a1faa7a193952c444411b47c1a9d8ba6fe"));
	CHECK(ike_prf_plus(MG_IKE_PRF_HMAC_SHA2_256, skeyseed, 32, seed, 32, dkm, 132) == 0);
	CHECK(eqhex(dkm, 132,
		    "0b137d669b0947d7d026d593f0305ad401ff0c471357d695778a9c7f4b4869ece98aca531"
		    "188d16041b3bb936d2dbb3b4993a6e768a809160de45d0283f273a6cdf6854379e31be72b"
		    "8d3d1fa990cf9c5b015ca9f918a7df6253c958114a09d4e1c19bdcd4db14b29d98db1a74a"
		    "d405c588662c14a04d0d36aa4ab55e90f8986d12d4aad"));
	/* Shorter outputs are prefixes (15 bytes: within the first block). */
	CHECK(ike_prf_plus(MG_IKE_PRF_HMAC_SHA2_256, skeyseed, 32, seed, 32, dkm, 15) == 0);
	CHECK(eqhex(dkm, 15, "0b137d669b0947d7d026d593f0305a"));
	unhex("25f3b12d6f282739256e39bf54eda53b60ffcf379bb7bcc90c27b4c4c578616c", girn, 32);
	unhex("0b137d669b0947d7d026d593f0305ad401ff0c471357d695778a9c7f4b4869ec", dkm, 32);
	CHECK(ike_prf(MG_IKE_PRF_HMAC_SHA2_256, dkm, 32, girn, 32, seed, 16, rekey) == 0);
	CHECK(eqhex(rekey, 32, "2d63f6debc92048b4fef3889c4c99ca67d6496e0fac14a2bca9a2d6566ff2398"));
	/* More than 255 blocks is refused (RFC 7296 2.13). */
	CHECK(ike_prf_plus(MG_IKE_PRF_HMAC_SHA2_256, skeyseed, 32, seed, 32, dkm,
			   255 * 32 + 1) < 0);
}

/* ---- Diffie-Hellman -------------------------------------------------------------------- */

MG_TEST(dh_groups_agree)
{
	static const uint16_t groups[] = {MG_IKE_DH_MODP2048, MG_IKE_DH_ECP256, MG_IKE_DH_ECP384,
					  MG_IKE_DH_CURVE25519};
	static const size_t secret_len[] = {256, 32, 48, 32};

	for (unsigned int i = 0; i < MG_ARRAY_SIZE(groups); i++) {
		struct ike_dh *a = ike_dh_new(groups[i]), *b = ike_dh_new(groups[i]);
		uint8_t pa[256], pb[256], sa[256], sb[256], bad[256];
		size_t la = 0, lb = 0, l;
		unsigned int n = ike_dh_pub_len(groups[i]);

		CHECK(a != NULL && b != NULL);
		if (a == NULL || b == NULL)
			continue;
		CHECK(ike_dh_public(a, pa) == 0);
		CHECK(ike_dh_public(b, pb) == 0);
		CHECK(ike_dh_shared(a, pb, n, sa, &la) == 0);
		CHECK(ike_dh_shared(b, pa, n, sb, &lb) == 0);
		CHECK_EQ(la, secret_len[i]);
		CHECK(la == lb && memcmp(sa, sb, la) == 0);
		/* Wrong length. */
		CHECK(ike_dh_shared(a, pb, n - 1, sa, &l) < 0);
		/* Degenerate values: zero (MODP: 0; ECP: not on the curve; X25519: small order). */
		memset(bad, 0, sizeof(bad));
		CHECK(ike_dh_shared(a, bad, n, sa, &l) < 0);
		if (groups[i] == MG_IKE_DH_MODP2048) {
			bad[255] = 1; /* y = 1 */
			CHECK(ike_dh_shared(a, bad, n, sa, &l) < 0);
		}
		if (groups[i] == MG_IKE_DH_ECP256 || groups[i] == MG_IKE_DH_ECP384) {
			memcpy(bad, pb, n);
			bad[n - 1] ^= 1; /* y off the curve */
			CHECK(ike_dh_shared(a, bad, n, sa, &l) < 0);
		}
		ike_dh_free(a);
		ike_dh_free(b);
	}
	CHECK(ike_dh_new(5) == NULL);
	CHECK_EQ(ike_dh_pub_len(21), 0);
}

/* ---- SK payload ------------------------------------------------------------------------ */

static const char *const ike_props[] = {
	"aes128gcm16-prfsha256-ecp256", "aes256gcm16-prfsha384-ecp384",
	"aes128-sha256-modp2048", "aes256-sha256-prfsha384-curve25519",
	"chacha20poly1305-prfsha256-curve25519",
};

MG_TEST(sk_roundtrip_and_tamper)
{
	for (unsigned int i = 0; i < MG_ARRAY_SIZE(ike_props); i++) {
		struct mg_ike_proposal p;
		struct ike_sk_keys k;
		static struct ike_buf b;
		struct ike_msg m;
		uint8_t out[MG_IKE_MAX_MSG];
		size_t sk, off, olen = 0;
		char why[128];

		CHECK(mg_ike_proposal_parse(ike_props[i], true, &p, why, sizeof(why)) == 0);
		ike_random(&k, sizeof(k));
		ike_buf_init(&b, 0x1122334455667788ull, 0x99aabbccddeeff00ull, IKE_INFORMATIONAL,
			     IKE_FLAG_I, 7);
		sk = ike_pl_begin(&b, IKE_PL_SK);
		off = ike_pl_begin(&b, IKE_PL_NONCE);
		ike_put(&b, "0123456789abcdefXYZ", 19);
		ike_pl_end(&b, off);
		ike_put_notify(&b, 0, IKE_N_INITIAL_CONTACT, NULL, 0);
		CHECK(ike_sk_encrypt(&p, &k, &b, sk) == 0);
		CHECK(ike_msg_parse(b.b, b.len, &m) == 0);
		CHECK_EQ(m.sk, 0);
		CHECK_EQ(m.msgid, 7);
		CHECK(memmem(b.b, b.len, "0123456789abcdef", 16) == NULL); /* encrypted */
		CHECK(ike_sk_decrypt(&p, &k, b.b, &m, out, &olen) == 0);
		CHECK_EQ(olen, 4 + 19 + 8);
		CHECK(memcmp(out + 4, "0123456789abcdefXYZ", 19) == 0);
		/* Any flipped bit (header, IV, ciphertext, ICV) fails. */
		for (size_t pos = 0; pos < b.len; pos += 5) {
			if (pos >= 24 && pos < 28)
				continue; /* the length: the parser catches that one */
			b.b[pos] ^= 0x10;
			if (ike_msg_parse(b.b, b.len, &m) == 0)
				CHECK(ike_sk_decrypt(&p, &k, b.b, &m, out, &olen) < 0);
			b.b[pos] ^= 0x10;
		}
		/* The wrong keys fail. */
		CHECK(ike_msg_parse(b.b, b.len, &m) == 0);
		k.e[0] ^= 1;
		k.a[0] ^= 1;
		CHECK(ike_sk_decrypt(&p, &k, b.b, &m, out, &olen) < 0);
	}
}

/* ---- parser ---------------------------------------------------------------------------- */

MG_TEST(parse_bounds)
{
	static struct ike_buf b;
	struct mg_ike_proposal p[2];
	struct ike_msg m;
	struct ike_prop_in in[4];
	unsigned int n;
	char why[128];
	uint8_t copy[1024];

	CHECK(mg_ike_proposal_parse("aes128gcm16-prfsha256-ecp256", true, &p[0], why, 128) == 0);
	CHECK(mg_ike_proposal_parse("aes256-sha256-modp2048", true, &p[1], why, 128) == 0);
	ike_buf_init(&b, 1, 0, IKE_SA_INIT, IKE_FLAG_I, 0);
	ike_put_sa(&b, p, 2, true, NULL, 0, 0);
	ike_put_notify(&b, 0, IKE_N_NAT_DETECTION_SOURCE_IP, "01234567890123456789", 20);
	ike_buf_finish(&b);
	CHECK(ike_msg_parse(b.b, b.len, &m) == 0);
	CHECK_EQ(m.npl, 2);
	CHECK_EQ(m.pl[0].type, IKE_PL_SA);
	CHECK(ike_sa_decode(m.pl[0].body, m.pl[0].len, in, 4, &n) == 0);
	CHECK_EQ(n, 2);
	CHECK_EQ(in[1].t[IKE_TT_ENCR][0].id, MG_IKE_ENCR_AES_CBC);
	CHECK_EQ(in[1].t[IKE_TT_ENCR][0].key_bits, 256);
	CHECK_EQ(in[1].t[IKE_TT_DH][0].id, MG_IKE_DH_MODP2048);
	/* Every truncation is refused (the header's length no longer matches). */
	for (size_t l = 0; l < b.len; l++)
		CHECK(ike_msg_parse(b.b, l, &m) < 0);
	/* Truncations with a consistent header length: the payload chain is refused. */
	for (size_t l = IKE_HDR_LEN + 1; l < b.len; l++) {
		memcpy(copy, b.b, l);
		copy[24] = (uint8_t)(l >> 24);
		copy[25] = (uint8_t)(l >> 16);
		copy[26] = (uint8_t)(l >> 8);
		copy[27] = (uint8_t)l;
		if (ike_msg_parse(copy, l, &m) == 0)
			MG_FAIL("truncated to %zu accepted", l);
	}
	/* Random corruption: never a crash, never a payload outside the buffer. */
	srand(1);
	for (int round = 0; round < 20000; round++) {
		memcpy(copy, b.b, b.len);
		for (int k = 0; k < 1 + rand() % 4; k++)
			copy[rand() % b.len] = (uint8_t)rand();
		if (ike_msg_parse(copy, b.len, &m) == 0) {
			for (unsigned int i = 0; i < m.npl; i++)
				CHECK(m.pl[i].body >= copy && m.pl[i].body + m.pl[i].len <= copy + b.len);
			for (unsigned int i = 0; i < m.npl; i++)
				if (m.pl[i].type == IKE_PL_SA)
					(void)ike_sa_decode(m.pl[i].body, m.pl[i].len, in, 4, &n);
		}
	}
	/* Wrong version. */
	memcpy(copy, b.b, b.len);
	copy[17] = 0x10;
	CHECK(ike_msg_parse(copy, b.len, &m) < 0);
}

MG_TEST(proposals_and_ids)
{
	struct mg_ike_proposal p;
	struct mg_ike_id id;
	char why[128], buf[128];

	CHECK(mg_ike_proposal_parse("aes256-sha256-modp2048", true, &p, why, sizeof(why)) == 0);
	CHECK_EQ(p.prf, MG_IKE_PRF_HMAC_SHA2_256); /* implied by sha256 */
	mg_ike_proposal_format(&p, true, buf, sizeof(buf));
	CHECK_STR(buf, "aes256-sha256-prfsha256-modp2048");
	CHECK(mg_ike_proposal_parse("aes128gcm16", false, &p, why, sizeof(why)) == 0);
	CHECK_EQ(mg_ike_proposal_esp_algo(&p), MG_ESP_AES_GCM_128);
	CHECK(mg_ike_proposal_parse("aes256-sha256", false, &p, why, sizeof(why)) == 0);
	CHECK_EQ(mg_ike_proposal_esp_algo(&p), MG_ESP_AES_CBC_256_SHA256);
	CHECK(mg_ike_proposal_parse("chacha20poly1305", false, &p, why, sizeof(why)) == 0);
	CHECK_EQ(mg_ike_proposal_esp_algo(&p), MG_ESP_CHACHA20_POLY1305);
	CHECK(mg_ike_proposal_parse("aes128gcm16-prfsha256", true, &p, why, sizeof(why)) < 0);
	CHECK(strstr(why, "DH group") != NULL);
	CHECK(mg_ike_proposal_parse("3des-sha1-modp1024", true, &p, why, sizeof(why)) < 0);
	CHECK(strstr(why, "'3des'") != NULL);
	CHECK(mg_ike_proposal_parse("aes128", false, &p, why, sizeof(why)) < 0);
	CHECK(mg_ike_proposal_parse("aes128gcm16-sha256", false, &p, why, sizeof(why)) < 0);
	CHECK(mg_ike_proposal_parse("aes128gcm16-ecp256", false, &p, why, sizeof(why)) == 0);
	CHECK_EQ(p.dh, MG_IKE_DH_ECP256); /* PFS in CREATE_CHILD_SA */
	mg_ike_proposal_format(&p, false, buf, sizeof(buf));
	CHECK_STR(buf, "aes128gcm16-ecp256");
	CHECK(mg_ike_proposal_parse("aes128gcm16-prfsha256", false, &p, why, sizeof(why)) < 0);
	CHECK(mg_ike_id_parse("gw.example.org", &id) == 0 && id.type == MG_IKE_ID_FQDN);
	CHECK(mg_ike_id_parse("ops@example.org", &id) == 0 && id.type == MG_IKE_ID_RFC822_ADDR);
	CHECK(mg_ike_id_parse("10.1.2.3", &id) == 0 && id.type == MG_IKE_ID_IPV4_ADDR &&
	      id.len == 4);
	CHECK(mg_ike_id_parse("fd00::1", &id) == 0 && id.type == MG_IKE_ID_IPV6_ADDR);
	mg_ike_id_format(&id, buf, sizeof(buf));
	CHECK_STR(buf, "fd00::1");
	CHECK(mg_ike_id_parse("", &id) < 0);
}

/* ---- two engines ------------------------------------------------------------------------ */

#define NS 1000000000ull

struct side {
	struct mg_ike *e;
	struct side *other;
	int drop_next;        /* drop this many of the next messages sent */
	bool dead;            /* drop everything sent */
	unsigned int sent, ups, downs, in_first;
	struct mg_ike_child_keys k;
	uint64_t now;
};

static uint64_t clock_ns = 1000 * NS;

/* Messages in flight, delivered by run() (not inside the sender's call). */
#define QMAX 64
static struct qmsg {
	struct side *to;
	struct mg_ike_dgram d;
	size_t len;
	uint8_t b[MG_IKE_MAX_MSG];
} q[QMAX];
static unsigned int qhead, qn;

/* If set, sees every message a side sends; true drops it. */
static bool (*t_filter)(struct side *from, const struct mg_ike_dgram *d, const uint8_t *msg,
			size_t len);

/* Queue @p msg (@p len bytes) to @p to, as the network would deliver it (again). */
static void
t_inject(struct side *to, const struct mg_ike_dgram *d, const uint8_t *msg, size_t len)
{
	struct qmsg *m;

	CHECK(qn < QMAX && len <= sizeof(m->b));
	m = &q[(qhead + qn++) % QMAX];
	m->to = to;
	m->d = *d;
	m->len = len;
	memcpy(m->b, msg, len);
}

static int
t_send(void *arg, unsigned int peer, const struct mg_ike_dgram *d, const uint8_t *msg, size_t len)
{
	struct side *s = arg;
	struct qmsg *m;

	(void)peer;
	s->sent++;
	if (s->dead)
		return 0;
	if (s->drop_next > 0) {
		s->drop_next--;
		return 0;
	}
	if (t_filter != NULL && t_filter(s, d, msg, len))
		return 0;
	if (qn == QMAX)
		return -ENOSPC;
	m = &q[(qhead + qn++) % QMAX];
	m->to = s->other;
	m->d = *d;
	m->len = len;
	memcpy(m->b, msg, len);
	return 0;
}

static void
deliver(void)
{
	while (qn > 0) {
		struct qmsg *m = &q[qhead];

		qhead = (qhead + 1) % QMAX;
		qn--;
		mg_ike_input(m->to->e, &m->d, m->b, m->len, clock_ns);
	}
}

static int
t_up(void *arg, unsigned int peer, const struct mg_ike_child_keys *k)
{
	struct side *s = arg;

	(void)peer;
	/* A rekey we answered comes in two steps: inbound, then outbound. */
	if (k->install == MG_IKE_INSTALL_IN)
		s->in_first++;
	else
		s->ups++;
	s->k = *k;
	return 0;
}

static void
t_down(void *arg, unsigned int peer)
{
	struct side *s = arg;

	(void)peer;
	s->downs++;
}

static void
conf(struct mg_ike_peer_conf *c, bool initiator, const char *ike, const char *esp,
     const char *psk)
{
	char why[128];

	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "tun0");
	c->initiator = initiator;
	mg_ip_parse(initiator ? "192.0.2.1" : "192.0.2.2", &c->local);
	mg_ip_parse(initiator ? "192.0.2.2" : "192.0.2.1", &c->remote);
	mg_ike_id_parse(initiator ? "a.example" : "b.example", &c->local_id);
	mg_ike_id_parse(initiator ? "b.example" : "a.example", &c->remote_id);
	c->psk_len = (uint16_t)strlen(psk);
	memcpy(c->psk, psk, c->psk_len);
	/* Several proposals separated by spaces. */
	for (char buf[256], *save = NULL, *t = (snprintf(buf, sizeof(buf), "%s", ike),
		strtok_r(buf, " ", &save)); t; t = strtok_r(NULL, " ", &save))
		CHECK(mg_ike_proposal_parse(t, true, &c->ike[c->nike++], why, sizeof(why)) == 0);
	for (char buf[256], *save = NULL, *t = (snprintf(buf, sizeof(buf), "%s", esp),
		strtok_r(buf, " ", &save)); t; t = strtok_r(NULL, " ", &save))
		CHECK(mg_ike_proposal_parse(t, false, &c->esp[c->nesp++], why, sizeof(why)) == 0);
	mg_prefix_parse(initiator ? "10.1.0.0/16" : "10.2.0.0/16", &c->local_ts[0]);
	mg_prefix_parse(initiator ? "10.2.0.0/16" : "10.1.0.0/16", &c->remote_ts[0]);
	c->nlocal_ts = c->nremote_ts = 1;
}

static unsigned int temp_failures; /* rekeys refused with TEMPORARY_FAILURE (notify 43) */

static void
t_event(void *arg, unsigned int peer, int level, const char *msg)
{
	(void)arg;
	(void)peer;
	(void)level;
	if (strstr(msg, "refused (notify 43)") != NULL)
		temp_failures++;
}

static void
pair(struct side *a, struct side *b, const struct mg_ike_peer_conf *ca,
     const struct mg_ike_peer_conf *cb)
{
	struct mg_ike_ops oa = {.arg = a, .send = t_send, .child_up = t_up, .child_down = t_down,
				.event = t_event};
	struct mg_ike_ops ob = {.arg = b, .send = t_send, .child_up = t_up, .child_down = t_down,
				.event = t_event};
	struct mg_error err;

	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	a->other = b;
	b->other = a;
	a->e = mg_ike_create(&oa);
	b->e = mg_ike_create(&ob);
	CHECK_EQ(mg_ike_peer_add(a->e, ca, &err), 0);
	CHECK_EQ(mg_ike_peer_add(b->e, cb, &err), 0);
}

static void
run(struct side *a, struct side *b, uint64_t for_ns)
{
	uint64_t end = clock_ns + for_ns;

	while (clock_ns < end) {
		mg_ike_tick(a->e, clock_ns);
		mg_ike_tick(b->e, clock_ns);
		deliver();
		clock_ns += 100000000ull; /* 100 ms */
	}
}

static void
unpair(struct side *a, struct side *b)
{
	qn = 0;
	mg_ike_destroy(a->e);
	mg_ike_destroy(b->e);
}

static void
check_mirrored(const struct side *a, const struct side *b)
{
	CHECK_EQ(a->k.spi_in, b->k.spi_out);
	CHECK_EQ(a->k.spi_out, b->k.spi_in);
	CHECK_EQ(a->k.esp_algo, b->k.esp_algo);
	CHECK(a->k.enc_len > 0 && memcmp(a->k.enc_in, b->k.enc_out, a->k.enc_len) == 0);
	CHECK(memcmp(a->k.enc_out, b->k.enc_in, a->k.enc_len) == 0);
	CHECK(memcmp(a->k.enc_in, a->k.enc_out, a->k.enc_len) != 0);
	CHECK(memcmp(a->k.salt_in, b->k.salt_out, 4) == 0);
	CHECK(memcmp(a->k.auth_in, b->k.auth_out, a->k.auth_len) == 0);
	CHECK_EQ(a->k.auth_len, b->k.auth_len);
	CHECK_EQ(a->k.inner_family, AF_INET);
}

MG_TEST(exchange_every_proposal)
{
	static const char *const esp[] = {"aes128gcm16", "aes256gcm16", "aes128-sha256",
					  "aes256-sha256", "chacha20poly1305"};
	static const int algo[] = {MG_ESP_AES_GCM_128, MG_ESP_AES_GCM_256,
				   MG_ESP_AES_CBC_128_SHA256, MG_ESP_AES_CBC_256_SHA256,
				   MG_ESP_CHACHA20_POLY1305};

	for (unsigned int i = 0; i < MG_ARRAY_SIZE(ike_props); i++)
		for (unsigned int j = 0; j < MG_ARRAY_SIZE(esp); j++) {
			struct mg_ike_peer_conf ca, cb;
			struct side a, b;
			struct mg_ike_peer_info ia, ib;

			conf(&ca, true, ike_props[i], esp[j], "a fine pre-shared key");
			conf(&cb, false, ike_props[i], esp[j], "a fine pre-shared key");
			pair(&a, &b, &ca, &cb);
			run(&a, &b, NS);
			CHECK_EQ(a.ups, 1);
			CHECK_EQ(b.ups, 1);
			check_mirrored(&a, &b);
			CHECK_EQ(a.k.esp_algo, algo[j]);
			CHECK_EQ(a.k.enc_len, mg_esp_algo_keys(algo[j]).key);
			CHECK_EQ(a.k.auth_len, mg_esp_algo_keys(algo[j]).auth);
			CHECK_EQ(a.k.salt_len, mg_esp_algo_keys(algo[j]).salt);
			CHECK(!a.k.udp_encap);
			CHECK(mg_ike_peer_info(a.e, 0, &ia) == 0 && ia.state == MG_IKE_ST_ESTABLISHED);
			CHECK(mg_ike_peer_info(b.e, 0, &ib) == 0 && ib.state == MG_IKE_ST_ESTABLISHED);
			CHECK(ia.spi_i == ib.spi_i && ia.spi_r == ib.spi_r && ia.spi_r != 0);
			unpair(&a, &b);
		}
}

MG_TEST(exchange_wrong_psk)
{
	struct mg_ike_peer_conf ca, cb;
	struct side a, b;
	struct mg_ike_stats sa, sb;
	struct mg_ike_peer_info ia;

	conf(&ca, true, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "a fine pre-shared key");
	conf(&cb, false, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "another pre-shared key");
	pair(&a, &b, &ca, &cb);
	run(&a, &b, NS);
	CHECK_EQ(a.ups + b.ups, 0);
	mg_ike_stats(a.e, &sa);
	mg_ike_stats(b.e, &sb);
	CHECK(sa.auth_failed >= 1);
	CHECK(sb.auth_failed >= 1);
	CHECK(mg_ike_peer_info(a.e, 0, &ia) == 0);
	CHECK_EQ(ia.last_error, MG_IKE_R_AUTH_FAILED);
	unpair(&a, &b);
}

MG_TEST(exchange_no_proposal)
{
	struct mg_ike_peer_conf ca, cb;
	struct side a, b;
	struct mg_ike_peer_info ia;
	struct mg_ike_stats sb;

	/* IKE proposals disjoint. */
	conf(&ca, true, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "a fine pre-shared key");
	conf(&cb, false, "aes256-sha256-modp2048", "aes128gcm16", "a fine pre-shared key");
	pair(&a, &b, &ca, &cb);
	run(&a, &b, NS);
	CHECK_EQ(a.ups + b.ups, 0);
	CHECK(mg_ike_peer_info(a.e, 0, &ia) == 0);
	CHECK_EQ(ia.last_error, MG_IKE_R_NO_PROPOSAL);
	mg_ike_stats(b.e, &sb);
	CHECK(sb.no_proposal >= 1);
	unpair(&a, &b);
	/* ESP proposals disjoint: the IKE SA authenticates, the CHILD_SA is refused. */
	conf(&ca, true, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "a fine pre-shared key");
	conf(&cb, false, "aes128gcm16-prfsha256-ecp256", "aes256-sha256", "a fine pre-shared key");
	pair(&a, &b, &ca, &cb);
	run(&a, &b, NS);
	CHECK_EQ(a.ups + b.ups, 0);
	CHECK(mg_ike_peer_info(a.e, 0, &ia) == 0);
	CHECK_EQ(ia.last_error, MG_IKE_R_NO_PROPOSAL);
	unpair(&a, &b);
	/* Traffic selectors the responder cannot narrow to. */
	conf(&ca, true, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "a fine pre-shared key");
	conf(&cb, false, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "a fine pre-shared key");
	mg_prefix_parse("10.3.0.0/16", &cb.local_ts[0]);
	pair(&a, &b, &ca, &cb);
	run(&a, &b, NS);
	CHECK_EQ(a.ups + b.ups, 0);
	CHECK(mg_ike_peer_info(a.e, 0, &ia) == 0);
	CHECK_EQ(ia.last_error, MG_IKE_R_TS_UNACCEPTABLE);
	unpair(&a, &b);
}

MG_TEST(exchange_invalid_ke_retry)
{
	struct mg_ike_peer_conf ca, cb;
	struct side a, b;
	struct mg_ike_peer_info ia;

	conf(&ca, true, "aes128gcm16-prfsha256-ecp256 aes128gcm16-prfsha256-curve25519",
	     "aes128gcm16", "a fine pre-shared key");
	conf(&cb, false, "aes128gcm16-prfsha256-curve25519", "aes128gcm16",
	     "a fine pre-shared key");
	pair(&a, &b, &ca, &cb);
	run(&a, &b, NS);
	CHECK_EQ(a.ups, 1);
	CHECK_EQ(b.ups, 1);
	check_mirrored(&a, &b);
	CHECK(mg_ike_peer_info(a.e, 0, &ia) == 0);
	CHECK_EQ(ia.ike.dh, MG_IKE_DH_CURVE25519);
	unpair(&a, &b);
}

MG_TEST(exchange_responder_prefers_the_ke_group)
{
	struct mg_ike_peer_conf ca, cb;
	struct side a, b;
	struct mg_ike_peer_info ib;

	/* The initiator's KE is ECP-256 (its first proposal); the responder
	 * prefers MODP-2048 but takes ECP-256 too: no INVALID_KE round trip. */
	conf(&ca, true, "aes128gcm16-prfsha256-ecp256 aes128gcm16-prfsha256-modp2048",
	     "aes128gcm16", "a fine pre-shared key");
	conf(&cb, false, "aes128gcm16-prfsha256-modp2048 aes128gcm16-prfsha256-ecp256",
	     "aes128gcm16", "a fine pre-shared key");
	pair(&a, &b, &ca, &cb);
	run(&a, &b, NS);
	CHECK_EQ(a.ups, 1);
	CHECK(mg_ike_peer_info(b.e, 0, &ib) == 0);
	CHECK_EQ(ib.ike.dh, MG_IKE_DH_ECP256);
	CHECK_EQ(a.sent, 2); /* IKE_SA_INIT and IKE_AUTH, nothing repeated */
	unpair(&a, &b);
}

MG_TEST(exchange_retransmit_and_dpd)
{
	struct mg_ike_peer_conf ca, cb;
	struct side a, b;
	struct mg_ike_stats st;
	struct mg_ike_peer_info ia;

	conf(&ca, true, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "a fine pre-shared key");
	conf(&cb, false, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "a fine pre-shared key");
	ca.dpd_s = 5;
	pair(&a, &b, &ca, &cb);
	a.drop_next = 1; /* IKE_SA_INIT request lost */
	b.drop_next = 0;
	run(&a, &b, NS / 2);
	CHECK_EQ(a.ups, 0); /* 1 s until the retransmission */
	run(&a, &b, 2 * NS);
	CHECK_EQ(a.ups, 1);
	CHECK_EQ(b.ups, 1);
	mg_ike_stats(a.e, &st);
	CHECK(st.retransmits >= 1);
	/* A lost IKE_AUTH response: the responder answers the repeated request again. */
	unpair(&a, &b);
	pair(&a, &b, &ca, &cb);
	b.drop_next = 2; /* IKE_SA_INIT response and IKE_AUTH response lost */
	run(&a, &b, 10 * NS);
	CHECK_EQ(a.ups, 1);
	CHECK_EQ(b.ups, 1);
	check_mirrored(&a, &b);
	/* Liveness: answered while the peer is there... */
	run(&a, &b, 12 * NS);
	mg_ike_stats(a.e, &st);
	CHECK(st.dpd_sent >= 1);
	CHECK_EQ(a.downs, 0);
	/* ...and the peer declared dead when it goes. */
	b.dead = true;
	run(&a, &b, 60 * NS);
	CHECK_EQ(a.downs, 1);
	CHECK(mg_ike_peer_info(a.e, 0, &ia) == 0);
	CHECK_EQ(ia.last_error, MG_IKE_R_DEAD_PEER);
	unpair(&a, &b);
}

MG_TEST(exchange_reauth)
{
	struct mg_ike_peer_conf ca, cb;
	struct side a, b;
	struct mg_ike_peer_info ia, ib;
	uint32_t first_in;

	conf(&ca, true, "aes256gcm16-prfsha384-ecp384", "aes256gcm16", "a fine pre-shared key");
	conf(&cb, false, "aes256gcm16-prfsha384-ecp384", "aes256gcm16", "a fine pre-shared key");
	ca.ike_lifetime_s = 20;
	ca.reauth = true;
	pair(&a, &b, &ca, &cb);
	run(&a, &b, NS);
	CHECK_EQ(a.ups, 1);
	first_in = a.k.spi_in;
	run(&a, &b, 20 * NS);
	CHECK_EQ(a.ups, 2);
	CHECK_EQ(b.ups, 2);
	CHECK(a.k.spi_in != first_in);
	check_mirrored(&a, &b);
	CHECK(mg_ike_peer_info(a.e, 0, &ia) == 0 && mg_ike_peer_info(b.e, 0, &ib) == 0);
	CHECK_EQ(ia.rekeys, 1);
	CHECK_EQ(ib.rekeys, 1);
	CHECK(ia.spi_i == ib.spi_i);
	CHECK_EQ(a.downs + b.downs, 0);
	unpair(&a, &b);
}

MG_TEST(exchange_responder_rekeys_child)
{
	struct mg_ike_peer_conf ca, cb;
	struct side a, b;
	struct mg_ike_peer_info ia, ib;
	uint32_t first_in, first_out;

	conf(&ca, true, "aes128-sha256-ecp256", "aes128-sha256", "a fine pre-shared key");
	conf(&cb, false, "aes128-sha256-ecp256", "aes128-sha256", "a fine pre-shared key");
	ca.child_lifetime_s = 100;
	cb.child_lifetime_s = 10; /* the responder renews the CHILD_SA at ~7 s */
	pair(&a, &b, &ca, &cb);
	run(&a, &b, NS);
	CHECK_EQ(b.ups, 1);
	first_in = b.k.spi_in;
	first_out = b.k.spi_out;
	run(&a, &b, 8 * NS);
	CHECK_EQ(a.ups, 2);
	CHECK_EQ(b.ups, 2);
	check_mirrored(&a, &b);
	CHECK(b.k.spi_in != first_in && b.k.spi_out != first_out);
	CHECK(mg_ike_peer_info(a.e, 0, &ia) == 0 && mg_ike_peer_info(b.e, 0, &ib) == 0);
	CHECK_EQ(ib.child_rekeys, 1);
	CHECK_EQ(ia.child_rekeys, 1);
	CHECK_EQ(ia.child_spi_in, ib.child_spi_out);
	CHECK_EQ(ia.rekeys + ib.rekeys, 0); /* the same IKE SA */
	CHECK_EQ(a.in_first, 1);  /* a answered: its outbound SA followed b's Delete */
	CHECK_EQ(b.in_first, 0);
	CHECK_EQ(a.downs + b.downs, 0);
	/* And again, 7 s later. */
	run(&a, &b, 8 * NS);
	CHECK_EQ(b.ups, 3);
	check_mirrored(&a, &b);
	unpair(&a, &b);
}

MG_TEST(exchange_cookies_under_load)
{
	struct mg_ike_peer_conf ca, cb;
	struct side a, b;
	struct mg_ike_stats st;

	conf(&ca, true, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "a fine pre-shared key");
	conf(&cb, false, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "a fine pre-shared key");
	pair(&a, &b, &ca, &cb);
	mg_ike_set_cookie_rate(b.e, 0); /* as if under load: every request must bring a cookie */
	run(&a, &b, NS);
	CHECK_EQ(a.ups, 1);
	CHECK_EQ(b.ups, 1);
	check_mirrored(&a, &b);
	mg_ike_stats(b.e, &st);
	CHECK_EQ(st.cookies_sent, 1);
	unpair(&a, &b);
	/* Not under load: no cookie round trip. */
	pair(&a, &b, &ca, &cb);
	run(&a, &b, NS);
	mg_ike_stats(b.e, &st);
	CHECK_EQ(st.cookies_sent, 0);
	CHECK_EQ(a.ups, 1);
	unpair(&a, &b);
}

/* Append a payload of unknown type 200 to the message queued first, @p critical or not. */
static void
append_unknown_payload(bool critical)
{
	struct qmsg *m = &q[qhead];
	size_t off = 28, last = 0;
	uint8_t next = m->b[16];

	while (next != 0) {
		last = off;
		next = m->b[off];
		off += (size_t)(m->b[off + 2] << 8 | m->b[off + 3]);
	}
	CHECK(last != 0 && off == m->len);
	m->b[last] = 200;
	memcpy(m->b + off, (const uint8_t[]){0, critical ? 0x80 : 0, 0, 8, 'x', 'y', 'z', 'w'}, 8);
	m->len += 8;
	m->b[24] = (uint8_t)(m->len >> 24);
	m->b[25] = (uint8_t)(m->len >> 16);
	m->b[26] = (uint8_t)(m->len >> 8);
	m->b[27] = (uint8_t)m->len;
}

/*
 * RFC 7296 2.5: an unrecognised payload with the critical bit set refuses
 * the message, answered with N(UNSUPPORTED_CRITICAL_PAYLOAD) naming its
 * type; without the bit it is skipped and answered as usual.
 */
MG_TEST(exchange_unsupported_critical_payload)
{
	struct mg_ike_peer_conf ca, cb;
	struct side a, b;

	conf(&ca, true, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "a fine pre-shared key");
	conf(&cb, false, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "a fine pre-shared key");
	for (int critical = 1; critical >= 0; critical--) {
		pair(&a, &b, &ca, &cb);
		mg_ike_tick(a.e, clock_ns);
		CHECK_EQ(qn, 1u);
		append_unknown_payload(critical);
		/* B's answer, before A sees it. */
		{
			struct qmsg *m = &q[qhead];

			qhead = (qhead + 1) % QMAX;
			qn--;
			mg_ike_input(b.e, &m->d, m->b, m->len, clock_ns);
		}
		CHECK_EQ(qn, 1u);
		const uint8_t *r = q[qhead].b;

		CHECK(r[19] & 0x20); /* a response */
		if (critical) {
			CHECK_EQ(r[16], 41);                     /* N only */
			CHECK_EQ(r[28 + 6] << 8 | r[28 + 7], 1); /* UNSUPPORTED_CRITICAL_PAYLOAD */
			CHECK_EQ(r[28 + 8], 200);                /* naming the payload type */
			qn = 0;
		} else {
			/*
			 * SA, KE, Nonce...: skipped, not refused. (The exchange
			 * cannot complete: the AUTHs sign the messages as sent.)
			 */
			CHECK_EQ(r[16], 33);
			qn = 0;
		}
		unpair(&a, &b);
	}
}

/*
 * RFC 7296 2.5: a message of a later major version is dropped, and a
 * request is answered with N(INVALID_MAJOR_VERSION) in a 2.0 header (the
 * highest we speak); a response is not answered.
 */
MG_TEST(exchange_invalid_major_version)
{
	struct mg_ike_peer_conf ca, cb;
	struct mg_ike_stats st;
	struct side a, b;

	conf(&ca, true, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "a fine pre-shared key");
	conf(&cb, false, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "a fine pre-shared key");
	for (int response = 0; response < 2; response++) {
		struct qmsg *m;
		uint8_t spi[8];

		pair(&a, &b, &ca, &cb);
		mg_ike_tick(a.e, clock_ns);
		CHECK_EQ(qn, 1u);
		m = &q[qhead];
		m->b[17] = 0x30; /* IKE 3.0 */
		if (response)
			m->b[19] |= 0x20;
		memcpy(spi, m->b, 8);
		qhead = (qhead + 1) % QMAX;
		qn--;
		mg_ike_input(b.e, &m->d, m->b, m->len, clock_ns);
		mg_ike_stats(b.e, &st);
		CHECK_EQ(st.dropped, 1);
		if (response) {
			CHECK_EQ(qn, 0u);
		} else {
			const uint8_t *r = q[qhead].b;

			CHECK_EQ(qn, 1u);
			CHECK(memcmp(r, spi, 8) == 0);
			CHECK_EQ(r[17], 0x20);                   /* version 2.0 */
			CHECK_EQ(r[18], 34);                     /* IKE_SA_INIT, as asked */
			CHECK(r[19] & 0x20);                     /* a response */
			CHECK_EQ(r[16], 41);                     /* N only */
			CHECK_EQ(r[28 + 6] << 8 | r[28 + 7], 5); /* INVALID_MAJOR_VERSION */
			qn = 0;
		}
		unpair(&a, &b);
	}
}

MG_TEST(exchange_ike_rekey)
{
	struct mg_ike_peer_conf ca, cb;
	struct side a, b;
	struct mg_ike_peer_info ia, ib, first;

	/* Same lifetimes both sides: the initiator rekeys the IKE SA (70-75%)
	 * before the responder would (80-85%); the CHILD_SA stays, then its own
	 * rekey (55-60% of 40 s) runs on the new IKE SA. */
	conf(&ca, true, "aes128gcm16-prfsha256-curve25519", "aes128gcm16", "a fine pre-shared key");
	conf(&cb, false, "aes128gcm16-prfsha256-curve25519", "aes128gcm16", "a fine pre-shared key");
	ca.ike_lifetime_s = cb.ike_lifetime_s = 20;
	ca.child_lifetime_s = cb.child_lifetime_s = 40;
	pair(&a, &b, &ca, &cb);
	run(&a, &b, NS);
	CHECK(mg_ike_peer_info(a.e, 0, &first) == 0 && first.state == MG_IKE_ST_ESTABLISHED);
	run(&a, &b, 16 * NS);
	CHECK(mg_ike_peer_info(a.e, 0, &ia) == 0 && mg_ike_peer_info(b.e, 0, &ib) == 0);
	CHECK_EQ(ia.rekeys, 1);
	CHECK_EQ(ib.rekeys, 1);
	CHECK(ia.spi_i != first.spi_i && ia.spi_i == ib.spi_i && ia.spi_r == ib.spi_r);
	CHECK_EQ(ia.state, MG_IKE_ST_ESTABLISHED);
	CHECK_EQ(ib.state, MG_IKE_ST_ESTABLISHED);
	CHECK_EQ(a.ups, 1); /* the CHILD_SA did not change */
	CHECK_EQ(ia.child_spi_in, first.child_spi_in);
	run(&a, &b, 8 * NS);
	CHECK_EQ(a.ups, 2);
	CHECK_EQ(b.ups, 2);     /* its outbound SA after a's Delete */
	CHECK_EQ(b.in_first, 1);
	check_mirrored(&a, &b);
	CHECK(mg_ike_peer_info(a.e, 0, &ia) == 0);
	CHECK_EQ(ia.child_rekeys, 1);
	CHECK_EQ(a.downs + b.downs, 0);
	unpair(&a, &b);
}

MG_TEST(exchange_rekeys_stay_consistent)
{
	/* Lifetimes whose rekey windows overlap (the initiator's CHILD_SA at
	 * 55-60% of 20 s, the responder's at 65-70% of 17 s; IKE SAs likewise):
	 * whichever side goes first, or if both do at once (the second gets
	 * TEMPORARY_FAILURE and retries), both ends keep one mirrored CHILD_SA.
	 * The jitter comes from rand(): seeded, the rounds include collisions. */
	srand(1);
	temp_failures = 0;
	for (int round = 0; round < 4; round++) {
		struct mg_ike_peer_conf ca, cb;
		struct side a, b;
		struct mg_ike_peer_info ia, ib;

		conf(&ca, true, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "a fine pre-shared key");
		conf(&cb, false, "aes128gcm16-prfsha256-ecp256", "aes128gcm16",
		     "a fine pre-shared key");
		ca.child_lifetime_s = 20;
		cb.child_lifetime_s = 17;
		ca.ike_lifetime_s = 20;
		cb.ike_lifetime_s = 17 + round;
		pair(&a, &b, &ca, &cb);
		run(&a, &b, 40 * NS);
		CHECK(mg_ike_peer_info(a.e, 0, &ia) == 0 && mg_ike_peer_info(b.e, 0, &ib) == 0);
		CHECK_EQ(ia.state, MG_IKE_ST_ESTABLISHED);
		CHECK_EQ(ib.state, MG_IKE_ST_ESTABLISHED);
		CHECK(ia.spi_i == ib.spi_i && ia.spi_r == ib.spi_r);
		CHECK(ia.child_spi_in == ib.child_spi_out && ia.child_spi_out == ib.child_spi_in);
		CHECK(ia.child_rekeys + ib.child_rekeys >= 1);
		CHECK(ia.rekeys >= 1);
		check_mirrored(&a, &b);
		CHECK_EQ(a.downs + b.downs, 0);
		unpair(&a, &b);
	}
	CHECK(temp_failures >= 1); /* the collision path ran */
}

MG_TEST(peer_conf_checks)
{
	struct mg_ike_peer_conf c;
	struct mg_error err;

	conf(&c, true, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "short");
	CHECK(mg_ike_peer_conf_check(&c, &err) < 0);
	CHECK_STR(err.field, "psk");
	conf(&c, true, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "a fine pre-shared key");
	CHECK(mg_ike_peer_conf_check(&c, &err) == 0);
	mg_prefix_parse("fd00::/64", &c.remote_ts[0]);
	CHECK(mg_ike_peer_conf_check(&c, &err) < 0);
	CHECK_STR(err.field, "remote_ts");
}

/* ---- public-key authentication ----------------------------------------------------- */

/* A key: "rsa" (2048 bits), "p256" or "p384". */
static EVP_PKEY *
t_key(const char *kind)
{
	if (strcmp(kind, "rsa") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", strcmp(kind, "p256") == 0 ? "P-256" : "P-384");
}

/* A certificate for @p key named CN=@p cn (with subjectAltName DNS:@p san when given), signed by @p ca_key (self-signed when NULL). */
static X509 *
t_cert(EVP_PKEY *key, const char *cn, const char *san, X509 *ca, EVP_PKEY *ca_key)
{
	X509 *x = X509_new();
	X509_NAME *nm = X509_NAME_new();

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), rand() & 0x7fffffff);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC, (const unsigned char *)"meshgate test", -1,
				   -1, 0);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, nm);
	X509_set_issuer_name(x, ca != NULL ? X509_get_subject_name(ca) : nm);
	X509_set_pubkey(x, key);
	if (san != NULL || ca == NULL) {
		X509V3_CTX v3;
		X509_EXTENSION *ext;
		char val[160];

		X509V3_set_ctx(&v3, ca != NULL ? ca : x, x, NULL, NULL, 0);
		if (ca == NULL) {
			ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
			X509_add_ext(x, ext, -1);
			X509_EXTENSION_free(ext);
		}
		if (san != NULL) {
			snprintf(val, sizeof(val), "DNS:%s", san);
			ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, val);
			X509_add_ext(x, ext, -1);
			X509_EXTENSION_free(ext);
		}
	}
	X509_sign(x, ca_key != NULL ? ca_key : key, EVP_sha256());
	X509_NAME_free(nm);
	return x;
}

static void
t_pem_cert(X509 *x, char *out, size_t n)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long len;

	PEM_write_bio_X509(b, x);
	len = BIO_get_mem_data(b, &p);
	CHECK((size_t)len < n);
	memcpy(out, p, (size_t)len);
	out[len] = '\0';
	BIO_free(b);
}

static void
t_pem_key(EVP_PKEY *k, char *out, size_t n)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long len;

	PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
	len = BIO_get_mem_data(b, &p);
	CHECK((size_t)len < n);
	memcpy(out, p, (size_t)len);
	out[len] = '\0';
	BIO_free(b);
}

/* Base64 DER of @p x, as NSM's IPSEC mechanism carries it. */
static void
t_b64_cert(X509 *x, char *out, size_t n)
{
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);

	CHECK(len > 0 && (size_t)(len + 2) / 3 * 4 < n);
	EVP_EncodeBlock((unsigned char *)out, der, len);
	OPENSSL_free(der);
}

/* Both sides of a certificate exchange: a CA, and one key and certificate per side. */
struct t_pki {
	EVP_PKEY *ca_key, *ka, *kb;
	X509 *ca, *ca_cert_a, *ca_cert_b;
};

static void
t_pki(struct t_pki *t, const char *kind)
{
	t->ca_key = t_key(kind);
	t->ca = t_cert(t->ca_key, "test CA", NULL, NULL, NULL);
	t->ka = t_key(kind);
	t->kb = t_key(kind);
	t->ca_cert_a = t_cert(t->ka, "a.example", "a.example", t->ca, t->ca_key);
	t->ca_cert_b = t_cert(t->kb, "b.example", "b.example", t->ca, t->ca_key);
	CHECK(t->ca != NULL && t->ca_cert_a != NULL && t->ca_cert_b != NULL);
}

static void
t_pki_free(struct t_pki *t)
{
	EVP_PKEY_free(t->ca_key);
	EVP_PKEY_free(t->ka);
	EVP_PKEY_free(t->kb);
	X509_free(t->ca);
	X509_free(t->ca_cert_a);
	X509_free(t->ca_cert_b);
}

/* @p c authenticates with key @p k and certificate @p x, trusting @p ca. */
static void
t_pubkey_conf(struct mg_ike_peer_conf *c, EVP_PKEY *k, X509 *x, X509 *ca)
{
	memset(c->psk, 0, sizeof(c->psk));
	c->psk_len = 0;
	c->auth = MG_IKE_AUTH_PUBKEY;
	t_pem_key(k, c->key, sizeof(c->key));
	t_pem_cert(x, c->cert, sizeof(c->cert));
	t_pem_cert(ca, c->ca, sizeof(c->ca));
}

MG_TEST(exchange_certificates)
{
	static const char *const kinds[] = {"rsa", "p256", "p384"};

	for (unsigned int i = 0; i < MG_ARRAY_SIZE(kinds); i++) {
		struct mg_ike_peer_conf ca, cb;
		struct side a, b;
		struct mg_error err;
		struct t_pki t;

		t_pki(&t, kinds[i]);
		conf(&ca, true, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "unused psk 0123456");
		conf(&cb, false, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "unused psk 0123456");
		t_pubkey_conf(&ca, t.ka, t.ca_cert_a, t.ca);
		t_pubkey_conf(&cb, t.kb, t.ca_cert_b, t.ca);
		CHECK_EQ(mg_ike_peer_conf_check(&ca, &err), 0);
		pair(&a, &b, &ca, &cb);
		run(&a, &b, NS);
		CHECK_EQ(a.ups, 1);
		CHECK_EQ(b.ups, 1);
		check_mirrored(&a, &b);
		unpair(&a, &b);

		/* Without local_id: the certificate's subject DN is the identity. */
		memset(&ca.local_id, 0, sizeof(ca.local_id));
		CHECK_EQ(mg_ike_id_parse("O=meshgate test, CN=a.example", &cb.remote_id), 0);
		pair(&a, &b, &ca, &cb);
		run(&a, &b, NS);
		CHECK_EQ(a.ups + b.ups, 2);
		unpair(&a, &b);
		t_pki_free(&t);
	}
}

MG_TEST(exchange_certificate_refused)
{
	struct mg_ike_peer_conf ca, cb;
	struct side a, b;
	struct mg_ike_stats sb;
	struct mg_ike_peer_info ia;
	struct t_pki t, other;
	EVP_PKEY *k;
	X509 *x;

	t_pki(&t, "p256");
	t_pki(&other, "p256");
	/* a's certificate comes from a CA b does not trust. */
	conf(&ca, true, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "unused psk 0123456");
	conf(&cb, false, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "unused psk 0123456");
	t_pubkey_conf(&ca, t.ka, other.ca_cert_a, t.ca);
	t_pem_key(other.ka, ca.key, sizeof(ca.key));
	t_pubkey_conf(&cb, t.kb, t.ca_cert_b, t.ca);
	pair(&a, &b, &ca, &cb);
	run(&a, &b, NS);
	CHECK_EQ(a.ups + b.ups, 0);
	mg_ike_stats(b.e, &sb);
	CHECK(sb.auth_failed >= 1);
	CHECK(mg_ike_peer_info(a.e, 0, &ia) == 0 && ia.last_error == MG_IKE_R_AUTH_FAILED);
	unpair(&a, &b);

	/* A certificate of the right CA that does not name the identity a claims. */
	k = t_key("p256");
	x = t_cert(k, "c.example", "c.example", t.ca, t.ca_key);
	t_pubkey_conf(&ca, k, x, t.ca);
	memset(&cb.remote_id, 0, sizeof(cb.remote_id));
	pair(&a, &b, &ca, &cb);
	run(&a, &b, NS);
	CHECK_EQ(a.ups + b.ups, 0);
	unpair(&a, &b);

	/* A key that does not match the certificate is refused by the checks. */
	{
		struct mg_error err;

		t_pem_key(t.kb, ca.key, sizeof(ca.key));
		CHECK(mg_ike_peer_conf_check(&ca, &err) < 0);
		CHECK_STR(err.field, "cert");
		CHECK(strstr(err.msg, "BEGIN") == NULL);
		ca.ca[0] = '\0';
		CHECK(mg_ike_peer_conf_check(&ca, &err) < 0);
		CHECK_STR(err.field, "ca");
		t_pem_cert(t.ca, ca.ca, sizeof(ca.ca));
		snprintf(ca.key, sizeof(ca.key), "/nonexistent/key.pem");
		CHECK(mg_ike_peer_conf_check(&ca, &err) < 0);
		CHECK_STR(err.field, "key");
		/* Key text after white space is PEM all the same (as OpenSSL reads it)... */
		ca.key[0] = '\n';
		t_pem_key(k, ca.key + 1, sizeof(ca.key) - 1);
		CHECK_EQ(mg_ike_peer_conf_check(&ca, &err), 0);
		/* ...and key text that is not PEM is never quoted in the error. */
		t_pem_key(k, ca.key, sizeof(ca.key));
		memcpy(ca.key, "xxxxx", 5);
		CHECK(mg_ike_peer_conf_check(&ca, &err) < 0);
		CHECK_STR(err.field, "key");
		CHECK(strstr(err.msg, "PRIVATE") == NULL && strstr(err.msg, "xxxxx") == NULL);
	}
	EVP_PKEY_free(k);
	X509_free(x);
	t_pki_free(&t);
	t_pki_free(&other);
}

MG_TEST(exchange_pinned_self_signed)
{
	/* NSM's form: each side has a self-signed RSA certificate; each pins the other's. */
	EVP_PKEY *ka = t_key("rsa"), *kb = t_key("rsa"), *kc = t_key("rsa");
	X509 *xa = t_cert(ka, "client", NULL, NULL, NULL), *xb = t_cert(kb, "server", NULL, NULL, NULL);
	X509 *xc = t_cert(kc, "client", NULL, NULL, NULL);
	struct mg_ike_peer_conf ca, cb;
	struct side a, b;

	conf(&ca, true, "aes256-sha256-modp2048", "aes256-sha256", "unused psk 0123456");
	conf(&cb, false, "aes256-sha256-modp2048", "aes256-sha256", "unused psk 0123456");
	t_pubkey_conf(&ca, ka, xa, xa);
	t_pubkey_conf(&cb, kb, xb, xb);
	ca.ca[0] = cb.ca[0] = '\0';
	ca.cert[0] = cb.cert[0] = '\0';
	t_b64_cert(xb, ca.peer_cert, sizeof(ca.peer_cert));
	t_b64_cert(xa, cb.peer_cert, sizeof(cb.peer_cert));
	pair(&a, &b, &ca, &cb);
	run(&a, &b, NS);
	CHECK_EQ(a.ups, 1);
	CHECK_EQ(b.ups, 1);
	check_mirrored(&a, &b);
	unpair(&a, &b);
	/* Another key than the pinned one. */
	t_pem_key(kc, ca.key, sizeof(ca.key));
	pair(&a, &b, &ca, &cb);
	run(&a, &b, NS);
	CHECK_EQ(a.ups + b.ups, 0);
	unpair(&a, &b);
	EVP_PKEY_free(ka);
	EVP_PKEY_free(kb);
	EVP_PKEY_free(kc);
	X509_free(xa);
	X509_free(xb);
	X509_free(xc);
}

MG_TEST(auth_signature_methods)
{
	static const char *const kinds[] = {"rsa", "p256", "p384"};
	static const uint8_t msg[] = "signed octets of an IKE_AUTH exchange";

	for (unsigned int i = 0; i < MG_ARRAY_SIZE(kinds); i++)
		for (int rfc7427 = 0; rfc7427 < 2; rfc7427++) {
			EVP_PKEY *k = t_key(kinds[i]), *other = t_key(kinds[i]);
			uint8_t sig[1100], method = 0;
			size_t len = 0;

			CHECK_EQ(ike_auth_sign(k, rfc7427, msg, sizeof(msg), &method, sig, sizeof(sig),
					       &len), 0);
			CHECK_EQ(method, rfc7427 ? IKE_AUTH_DIGITAL_SIGNATURE :
					 i == 0 ? IKE_AUTH_RSA_SIG :
					 i == 1 ? IKE_AUTH_ECDSA_256 : IKE_AUTH_ECDSA_384);
			CHECK(ike_auth_verify(k, method, sig, len, msg, sizeof(msg)));
			CHECK(!ike_auth_verify(other, method, sig, len, msg, sizeof(msg)));
			CHECK(!ike_auth_verify(k, method, sig, len, msg, sizeof(msg) - 1));
			sig[len - 1] ^= 1;
			CHECK(!ike_auth_verify(k, method, sig, len, msg, sizeof(msg)));
			EVP_PKEY_free(k);
			EVP_PKEY_free(other);
		}
}

MG_TEST(dn_identities)
{
	struct mg_ike_id id;
	char buf[300];

	CHECK_EQ(mg_ike_id_parse("C=CH, O=Example Org, CN=gw.example", &id), 0);
	CHECK_EQ(id.type, MG_IKE_ID_DER_ASN1_DN);
	mg_ike_id_format(&id, buf, sizeof(buf));
	CHECK_STR(buf, "C=CH, O=Example Org, CN=gw.example");
	CHECK(mg_ike_id_parse("XX=1, CN=a", &id) < 0);
}

MG_TEST(nsm_credentials)
{
	/* Two sides in NSM's form: each pins the other's base64 certificate, and the
	 * identities are the first 64 characters of each, which the certificates name. */
	static char key_a[4096], key_b[4096], cert_a[2048], cert_b[2048];
	struct mg_ike_peer_conf ca, cb;
	struct side a, b;
	struct mg_error err;

	CHECK_EQ(mg_ike_nsm_credentials("client", key_a, sizeof(key_a), cert_a, sizeof(cert_a)), 0);
	CHECK_EQ(mg_ike_nsm_credentials("server", key_b, sizeof(key_b), cert_b, sizeof(cert_b)), 0);
	CHECK(strncmp(key_a, "-----BEGIN PRIVATE KEY-----", 27) == 0);
	CHECK(strncmp(cert_a, "MII", 3) == 0 && strncmp(cert_a, cert_b, 64) != 0);
	conf(&ca, true, "aes256-sha256-modp2048", "aes256-sha256", "unused psk 0123456");
	conf(&cb, false, "aes256-sha256-modp2048", "aes256-sha256", "unused psk 0123456");
	for (int s = 0; s < 2; s++) {
		struct mg_ike_peer_conf *c = s ? &cb : &ca;
		char fq[65];

		memset(c->psk, 0, sizeof(c->psk));
		c->psk_len = 0;
		c->auth = MG_IKE_AUTH_PUBKEY;
		snprintf(c->key, sizeof(c->key), "%s", s ? key_b : key_a);
		snprintf(c->peer_cert, sizeof(c->peer_cert), "%s", s ? cert_a : cert_b);
		snprintf(c->cert, sizeof(c->cert), "%s", s ? cert_b : cert_a);
		snprintf(fq, sizeof(fq), "%.64s", s ? cert_b : cert_a);
		CHECK_EQ(mg_ike_id_parse(fq, &c->local_id), 0);
		snprintf(fq, sizeof(fq), "%.64s", s ? cert_a : cert_b);
		CHECK_EQ(mg_ike_id_parse(fq, &c->remote_id), 0);
		CHECK_EQ(c->local_id.type, MG_IKE_ID_FQDN);
		CHECK_EQ(mg_ike_peer_conf_check(c, &err), 0);
	}
	pair(&a, &b, &ca, &cb);
	run(&a, &b, NS);
	CHECK_EQ(a.ups, 1);
	CHECK_EQ(b.ups, 1);
	unpair(&a, &b);
	/* The certificate names its own prefix (what strongSwan checks). */
	{
		struct ike_creds cr;
		struct ike_pl id;
		uint8_t body[4 + 64];
		const char *why = "";
		EVP_PKEY *k;

		ca.peer_cert[0] = '\0';
		body[0] = MG_IKE_ID_FQDN;
		body[1] = body[2] = body[3] = 0;
		memcpy(body + 4, cert_b, 64);
		id.type = IKE_PL_IDR;
		id.body = body;
		id.len = sizeof(body);
		snprintf(ca.ca, sizeof(ca.ca), "%s", cert_b); /* its own CA: self-signed */
		CHECK_EQ(ike_creds_load(&ca, &cr, &err), 0);
		{
			/* As a CERT payload: encoding 4 then the DER (base64 padding left out). */
			uint8_t der[2048];
			size_t bl = strlen(cert_b);
			int n = EVP_DecodeBlock(der + 1, (const unsigned char *)cert_b, (int)bl);
			struct ike_pl cert = {.type = IKE_PL_CERT, .body = der};

			der[0] = IKE_CERT_X509_SIG;
			for (size_t e = bl; e > 0 && cert_b[e - 1] == '='; e--)
				n--;
			cert.len = (uint16_t)(n + 1);
			k = ike_peer_key(&cr, &cert, 1, &id, &why);
		}
		CHECK(k != NULL);
		if (k == NULL)
			fprintf(stderr, "why: %s\n", why);
		ike_pkey_free(k);
		ike_creds_free(&cr);
	}
}

MG_TEST(exchange_pfs_child_rekeys)
{
	/* ESP proposals with a DH group: IKE_AUTH's CHILD_SA without KE, each
	 * CREATE_CHILD_SA rekey with KEi/KEr, in either role, keys agreeing. */
	static const char *const groups[] = {"ecp256", "modp2048", "curve25519"};

	for (unsigned int g = 0; g < MG_ARRAY_SIZE(groups); g++)
		for (int who = 0; who < 2; who++) {
			struct mg_ike_peer_conf ca, cb;
			struct side a, b;
			struct mg_ike_peer_info ia;
			char esp[64];

			snprintf(esp, sizeof(esp), "aes128gcm16-%s", groups[g]);
			conf(&ca, true, "aes128gcm16-prfsha256-ecp256", esp, "a fine pre-shared key");
			conf(&cb, false, "aes128gcm16-prfsha256-ecp256", esp, "a fine pre-shared key");
			ca.child_lifetime_s = who ? 100 : 10;
			cb.child_lifetime_s = who ? 10 : 100;
			pair(&a, &b, &ca, &cb);
			run(&a, &b, NS);
			CHECK_EQ(a.ups + b.ups, 2);
			run(&a, &b, 8 * NS);
			CHECK(a.ups >= 2 && b.ups >= 2); /* the answering side in two steps */
			CHECK_EQ(a.in_first + b.in_first, 1);
			check_mirrored(&a, &b);
			CHECK(mg_ike_peer_info(a.e, 0, &ia) == 0 && ia.child_rekeys == 1);
			CHECK_EQ(ia.esp.dh, ca.esp[0].dh);
			unpair(&a, &b);
		}
	{
		/* Groups that differ: the rekey is refused (INVALID_KE_PAYLOAD), the SA stays. */
		struct mg_ike_peer_conf ca, cb;
		struct side a, b;

		conf(&ca, true, "aes128gcm16-prfsha256-ecp256", "aes128gcm16-ecp256", "a fine pre-shared key");
		conf(&cb, false, "aes128gcm16-prfsha256-ecp256", "aes128gcm16-ecp384", "a fine pre-shared key");
		ca.child_lifetime_s = 10;
		cb.child_lifetime_s = 100;
		pair(&a, &b, &ca, &cb);
		run(&a, &b, 9 * NS);
		CHECK_EQ(a.ups, 1);
		CHECK_EQ(b.ups, 1);
		CHECK_EQ(a.downs + b.downs, 0);
		unpair(&a, &b);
	}
}

/* ---- exchanges under loss, duplication and replay ----------------------------------- */

#define T_EXCHANGE(m) ((m)[18])
#define T_RESPONSE(m) (((m)[19] & IKE_FLAG_R) != 0)

static struct side *t_a, *t_b;  /* the running test's sides, for the filters */
static int t_state;             /* the filters' progress */
static uint8_t t_num;           /* a proposal number seen */

/* Both ends on the same IKE SA and CHILD_SA, neither ever down. */
static void
check_same_sa(const struct side *a, const struct side *b)
{
	struct mg_ike_peer_info ia, ib;

	CHECK(mg_ike_peer_info(a->e, 0, &ia) == 0 && mg_ike_peer_info(b->e, 0, &ib) == 0);
	CHECK_EQ(ia.state, MG_IKE_ST_ESTABLISHED);
	CHECK_EQ(ib.state, MG_IKE_ST_ESTABLISHED);
	CHECK(ia.spi_i == ib.spi_i && ia.spi_r == ib.spi_r);
	CHECK(ia.child_spi_in == ib.child_spi_out && ia.child_spi_out == ib.child_spi_in);
	CHECK_EQ(a->downs + b->downs, 0);
}

/*
 * Pair @p a and @p b (configured as @p ca, @p cb) and run them for @p ns
 * with @p filter seeing every message; they must end on one IKE SA.
 * Returns the filter's progress (t_state). The caller unpairs them.
 */
static int
run_filtered(struct side *a, struct side *b, const struct mg_ike_peer_conf *ca,
	     const struct mg_ike_peer_conf *cb, uint64_t ns,
	     bool (*filter)(struct side *, const struct mg_ike_dgram *, const uint8_t *, size_t))
{
	pair(a, b, ca, cb);
	t_a = a;
	t_b = b;
	t_state = 0;
	t_filter = filter;
	run(a, b, ns);
	t_filter = NULL;
	check_same_sa(a, b);
	return t_state;
}

static bool
f_propnum(struct side *from, const struct mg_ike_dgram *d, const uint8_t *m, size_t len)
{
	struct ike_prop_in props[4];
	struct ike_msg im;
	const struct ike_pl *sa;
	unsigned int np;

	(void)d;
	if (from == t_b && T_EXCHANGE(m) == IKE_SA_INIT && T_RESPONSE(m) &&
	    ike_msg_parse(m, len, &im) == 0 && (sa = ike_pl_find(im.pl, im.npl, IKE_PL_SA)) &&
	    ike_sa_decode(sa->body, sa->len, props, 4, &np) == 0 && np == 1)
		t_num = props[0].num;
	return false;
}

/* The accepted proposal keeps the number it had in the request (RFC 7296 3.3.1). */
MG_TEST(exchange_accepted_proposal_keeps_its_number)
{
	struct mg_ike_peer_conf ca, cb;
	struct side a, b;

	conf(&ca, true, "aes256-sha256-ecp256 aes128gcm16-prfsha256-ecp256", "aes128gcm16",
	     "a fine pre-shared key");
	conf(&cb, false, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "a fine pre-shared key");
	t_num = 0;
	run_filtered(&a, &b, &ca, &cb, NS, f_propnum);
	CHECK_EQ(t_num, 2);
	unpair(&a, &b);
}

/* Drop the rekey initiator's first Delete of the IKE SA it replaced. */
static bool
f_lose_delete(struct side *from, const struct mg_ike_dgram *d, const uint8_t *m, size_t len)
{
	(void)d;
	(void)len;
	if (t_state == 0 && from == t_b && T_EXCHANGE(m) == IKE_CREATE_CHILD_SA && T_RESPONSE(m))
		t_state = 1;
	if (t_state == 1 && from == t_a && T_EXCHANGE(m) == IKE_INFORMATIONAL && !T_RESPONSE(m)) {
		t_state = 2;
		return true;
	}
	return false;
}

/*
 * The Delete of a rekeyed IKE SA is a request like any (RFC 7296 2.1): one
 * lost is sent again, and the responder follows the new SA as soon as it is
 * used. Before, one lost Delete left the two ends on different IKE SAs and
 * took the tunnel down at the next rekey or liveness check.
 */
MG_TEST(exchange_lost_ike_sa_delete)
{
	for (unsigned int dpd = 0; dpd <= 30; dpd += 30) {
		struct mg_ike_peer_conf ca, cb;
		struct mg_ike_peer_info ia;
		struct side a, b;

		conf(&ca, true, "aes128gcm16-prfsha256-curve25519", "aes128gcm16",
		     "a fine pre-shared key");
		conf(&cb, false, "aes128gcm16-prfsha256-curve25519", "aes128gcm16",
		     "a fine pre-shared key");
		ca.ike_lifetime_s = cb.ike_lifetime_s = 20;
		ca.child_lifetime_s = cb.child_lifetime_s = 3600;
		ca.dpd_s = cb.dpd_s = (uint16_t)dpd;
		CHECK_EQ(run_filtered(&a, &b, &ca, &cb, 97 * NS, f_lose_delete), 2);
		CHECK(mg_ike_peer_info(a.e, 0, &ia) == 0 && ia.rekeys >= 3);
		unpair(&a, &b);
	}
}

static uint8_t t_init[MG_IKE_MAX_MSG];
static size_t t_init_len;
static struct mg_ike_dgram t_init_d;

/* Keep a's first IKE_SA_INIT; deliver it to b again right after b answers a rekey. */
static bool
f_replay_init(struct side *from, const struct mg_ike_dgram *d, const uint8_t *m, size_t len)
{
	if (from == t_a && T_EXCHANGE(m) == IKE_SA_INIT && !T_RESPONSE(m) && t_init_len == 0) {
		memcpy(t_init, m, len);
		t_init_len = len;
		t_init_d = *d;
	}
	if (t_state == 0 && from == t_b && T_EXCHANGE(m) == IKE_CREATE_CHILD_SA && T_RESPONSE(m)) {
		t_state = 1;
		t_inject(t_b, &t_init_d, t_init, t_init_len);
	}
	return false;
}

/* A duplicate or replayed IKE_SA_INIT is never processed again (RFC 7296 2.1, 2.2). */
MG_TEST(exchange_replayed_init_changes_nothing)
{
	struct mg_ike_peer_conf ca, cb;
	struct side a, b;

	conf(&ca, true, "aes128gcm16-prfsha256-curve25519", "aes128gcm16", "a fine pre-shared key");
	conf(&cb, false, "aes128gcm16-prfsha256-curve25519", "aes128gcm16", "a fine pre-shared key");
	ca.ike_lifetime_s = cb.ike_lifetime_s = 20;
	ca.child_lifetime_s = cb.child_lifetime_s = 3600;
	t_init_len = 0;
	CHECK_EQ(run_filtered(&a, &b, &ca, &cb, 47 * NS, f_replay_init), 1);
	unpair(&a, &b);
}

/* Two ends that are both initiators and start together end up on one IKE SA. */
MG_TEST(exchange_both_ends_initiate)
{
	struct mg_ike_peer_conf ca, cb;
	struct side a, b;

	conf(&ca, true, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "a fine pre-shared key");
	conf(&cb, false, "aes128gcm16-prfsha256-ecp256", "aes128gcm16", "a fine pre-shared key");
	cb.initiator = true;
	run_filtered(&a, &b, &ca, &cb, 20 * NS, NULL);
	CHECK_EQ(a.ups + b.ups, 2);
	unpair(&a, &b);
}

/* Deliver b's INVALID_KE_PAYLOAD answer twice. */
static bool
f_dup_invalid_ke(struct side *from, const struct mg_ike_dgram *d, const uint8_t *m, size_t len)
{
	struct ike_msg im;
	struct ike_notify_pl n;

	if (t_state == 0 && from == t_b && T_EXCHANGE(m) == IKE_SA_INIT && T_RESPONSE(m) &&
	    ike_msg_parse(m, len, &im) == 0 &&
	    ike_notify_find(im.pl, im.npl, IKE_N_INVALID_KE_PAYLOAD, &n)) {
		t_state = 1;
		t_inject(t_a, d, m, len);
	}
	return false;
}

/* A duplicated INVALID_KE_PAYLOAD answers the request before the retry: ignored. */
MG_TEST(exchange_duplicate_invalid_ke)
{
	struct mg_ike_peer_conf ca, cb;
	struct side a, b;

	conf(&ca, true, "aes128gcm16-prfsha256-ecp256 aes128gcm16-prfsha256-modp2048",
	     "aes128gcm16", "a fine pre-shared key");
	conf(&cb, false, "aes128gcm16-prfsha256-modp2048", "aes128gcm16", "a fine pre-shared key");
	CHECK_EQ(run_filtered(&a, &b, &ca, &cb, 3 * NS, f_dup_invalid_ke), 1);
	unpair(&a, &b);
}

MG_TEST_MAIN()
