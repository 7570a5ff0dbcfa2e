/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * WireGuard library: BLAKE2s against RFC 7693 and OpenSSL, HMAC/HKDF and the
 * Noise constants against values computed with Python's hashlib, X25519
 * against RFC 7748, handshakes between two in-process interfaces (and each
 * way they must fail), transport data round trips checked with libsodium as
 * an independent AEAD, the replay window against a naive reference (alone
 * and with concurrent receivers), cookies, the rate limiter, the timers as
 * a pure state machine, allowed IPs against a naive longest-prefix match,
 * and the base64 key encoding.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_random.h>
#include <sodium.h>

#include "mg_test.h"
#include "mg_wg.h"
#include "wg_blake2s.h"
#include "wg_crypto.h"
#include "wg_priv.h"
#include "wg_replay.h"

#define S (1000000000ULL)
#define MS (1000000ULL)

/* ---- helpers -------------------------------------------------------------------------- */

static struct rte_mempool *pool;

/* Bring up the EAL and an mbuf pool, once, for the cases that need mbufs. */
static void
need_eal(void)
{
	char prefix[64];
	char *argv[] = {"test_wg", "-l", "0", "--no-huge", "-m", "128", "--no-pci",
			"--no-shconf", "--no-telemetry", "--log-level", "error",
			"--file-prefix", prefix, NULL};

	if (pool != NULL)
		return;
	snprintf(prefix, sizeof(prefix), "mgwgunit%d", getpid());
	if (rte_eal_init(RTE_DIM(argv) - 1, argv) < 0) {
		fprintf(stderr, "EAL init failed\n");
		exit(2);
	}
	pool = rte_pktmbuf_pool_create("wg_pool", 8191, 0, 0, 2176, SOCKET_ID_ANY);
	if (pool == NULL) {
		fprintf(stderr, "cannot create the mbuf pool\n");
		exit(2);
	}
}

static void
hex2bin(uint8_t *out, const char *hex)
{
	for (size_t i = 0; hex[2 * i] != '\0'; i++)
		sscanf(hex + 2 * i, "%2hhx", &out[i]);
}

#define CHECK_HEX(buf, hex)                                                                \
	do {                                                                               \
		uint8_t _exp[64];                                                          \
		size_t _n = strlen(hex) / 2;                                               \
		hex2bin(_exp, hex);                                                        \
		if (memcmp((buf), _exp, _n) != 0)                                          \
			MG_FAIL("%s differs from %s", #buf, hex);                          \
	} while (0)

/* A wall clock that moves 50 ms on every read: TAI64N timestamps keep growing. */
static uint64_t fake_wall = 1700000000ULL * S;

static uint64_t
test_wall(void)
{
	fake_wall += 50 * MS;
	return fake_wall;
}

/* Two interfaces that are each other's peer. */
struct pair {
	struct mg_wg_iface *a, *b;
	struct mg_wg_peer *b_on_a;  /* B as A's peer. */
	struct mg_wg_peer *a_on_b;  /* A as B's peer. */
	uint8_t ka[32], kb[32], pa[32], pb[32];
};

static void
pair_make(struct pair *p, const uint8_t *psk_a, const uint8_t *psk_b)
{
	struct mg_wg_iface_conf c = {.wall_ns = test_wall, .seed = 42};
	struct mg_wg_peer_conf pc = {0};
	struct mg_error e;

	memset(p, 0, sizeof(*p));
	CHECK_EQ(mg_wg_key_generate(p->ka), 0);
	CHECK_EQ(mg_wg_key_generate(p->kb), 0);
	CHECK_EQ(mg_wg_key_public(p->pa, p->ka), 0);
	CHECK_EQ(mg_wg_key_public(p->pb, p->kb), 0);
	c.name = "a";
	c.private_key = p->ka;
	p->a = mg_wg_iface_create(&c, &e);
	c.name = "b";
	c.private_key = p->kb;
	p->b = mg_wg_iface_create(&c, &e);
	CHECK(p->a != NULL && p->b != NULL);
	memcpy(pc.public_key, p->pb, 32);
	pc.preshared_key = psk_a;
	p->b_on_a = mg_wg_peer_add(p->a, &pc, 1 * S, &e);
	memcpy(pc.public_key, p->pa, 32);
	pc.preshared_key = psk_b;
	p->a_on_b = mg_wg_peer_add(p->b, &pc, 1 * S, &e);
	CHECK(p->b_on_a != NULL && p->a_on_b != NULL);
}

static void
pair_free(struct pair *p)
{
	mg_wg_iface_destroy(p->a);
	mg_wg_iface_destroy(p->b);
}

static const struct mg_wg_src src_a = {.ip = {.family = AF_INET, .v4 = 0x0100000a}, .port = 51820};
static const struct mg_wg_src src_b = {.ip = {.family = AF_INET, .v4 = 0x0200000a}, .port = 51821};

/* A initiates, B responds, A completes: true if both sides reached their states. */
static bool
handshake(struct pair *p, uint64_t now)
{
	uint8_t init[MG_WG_INITIATION_LEN], reply[MG_WG_REPLY_MAX], reply2[MG_WG_REPLY_MAX];
	size_t rlen = 0, rlen2 = 0;
	struct mg_wg_peer *who = NULL;

	if (mg_wg_initiation_create(p->a, p->b_on_a, now, init) != 0)
		return false;
	if (mg_wg_handshake_receive(p->b, init, sizeof(init), &src_a, now, reply, &rlen, &who) !=
	    MG_WG_HS_RESPONSE || who != p->a_on_b || rlen != MG_WG_RESPONSE_LEN)
		return false;
	return mg_wg_handshake_receive(p->a, reply, rlen, &src_b, now, reply2, &rlen2, &who) ==
		       MG_WG_HS_SESSION && who == p->b_on_a && rlen2 == 0;
}

/* An mbuf holding an IPv4 packet of @p total bytes from @p src to @p dst. */
static struct rte_mbuf *
ip4_packet(uint32_t src, uint32_t dst, uint16_t total, uint8_t fill)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint8_t *p;

	if (m == NULL)
		return NULL;
	p = (uint8_t *)rte_pktmbuf_append(m, total);
	if (p == NULL) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	memset(p, fill, total);
	p[0] = 0x45;
	p[1] = 0;
	p[2] = (uint8_t)(total >> 8);
	p[3] = (uint8_t)total;
	memcpy(p + 12, &src, 4);
	memcpy(p + 16, &dst, 4);
	return m;
}

/* ---- BLAKE2s, HMAC, HKDF -------------------------------------------------------------- */

/* RFC 7693 Appendix E's deterministic input sequence. */
static void
selftest_seq(uint8_t *out, size_t len, uint32_t seed)
{
	uint32_t a = 0xDEAD4BAD * seed, b = 1, t;

	for (size_t i = 0; i < len; i++) {
		t = a + b;
		a = b;
		b = t;
		out[i] = (uint8_t)(t >> 24);
	}
}

MG_TEST(blake2s_rfc7693)
{
	static const size_t md_len[] = {16, 20, 28, 32}, in_len[] = {0, 3, 64, 65, 255, 1024};
	uint8_t in[1024], md[32], key[32];
	struct wg_blake2s ctx;

	/* Appendix A: BLAKE2s-256("abc"). */
	wg_blake2s(md, 32, NULL, 0, "abc", 3);
	CHECK_HEX(md, "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
	/* Appendix E: the grand hash of unkeyed and keyed hashes of all lengths. */
	wg_blake2s_init(&ctx, 32, NULL, 0);
	for (size_t i = 0; i < RTE_DIM(md_len); i++)
		for (size_t j = 0; j < RTE_DIM(in_len); j++) {
			selftest_seq(in, in_len[j], (uint32_t)in_len[j]);
			wg_blake2s(md, md_len[i], NULL, 0, in, in_len[j]);
			wg_blake2s_update(&ctx, md, md_len[i]);
			selftest_seq(key, md_len[i], (uint32_t)md_len[i]);
			wg_blake2s(md, md_len[i], key, md_len[i], in, in_len[j]);
			wg_blake2s_update(&ctx, md, md_len[i]);
		}
	wg_blake2s_final(&ctx, md);
	CHECK_HEX(md, "6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe");
	/* Keyed BLAKE2s-128 as mac1 uses it (value from Python's hashlib). */
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	wg_blake2s(md, 16, key, 16, "meshgate", 8);
	CHECK_HEX(md, "393e502de0d5918b7db91c047c2ef014");
}

/* Incremental updates at every split give the one-shot digest. */
MG_TEST(blake2s_incremental)
{
	uint8_t in[200], one[32], inc[32], key[32];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 1);
	memset(key, 0x5a, sizeof(key));
	wg_blake2s(one, 32, key, 32, in, sizeof(in));
	for (size_t split = 0; split <= sizeof(in); split += 13) {
		struct wg_blake2s s;

		wg_blake2s_init(&s, 32, key, 32);
		wg_blake2s_update(&s, in, split);
		wg_blake2s_update(&s, in + split, sizeof(in) - split);
		wg_blake2s_final(&s, inc);
		if (memcmp(one, inc, 32) != 0)
			MG_FAIL("split at %zu differs", split);
	}
}

/* Against OpenSSL's BLAKE2S-256 digest and BLAKE2SMAC, on random inputs and keys. */
MG_TEST(blake2s_vs_openssl)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "BLAKE2SMAC", NULL);
	uint8_t in[300], key[32], ours[32], theirs[32];

	CHECK(mac != NULL);
	for (int round = 0; round < 50 && mac != NULL; round++) {
		size_t len = (size_t)rte_rand_max(sizeof(in) + 1);
		size_t klen = 16 + (round & 1) * 16, olen = round & 2 ? 16 : 32;
		unsigned int dlen = 0;
		size_t mlen = 0;

		for (size_t i = 0; i < len; i++)
			in[i] = (uint8_t)rte_rand();
		for (size_t i = 0; i < klen; i++)
			key[i] = (uint8_t)rte_rand();
		wg_blake2s(ours, 32, NULL, 0, in, len);
		CHECK(EVP_Digest(in, len, theirs, &dlen, EVP_blake2s256(), NULL) == 1);
		CHECK(memcmp(ours, theirs, 32) == 0);

		EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
		OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &olen),
				       OSSL_PARAM_construct_end()};

		CHECK(EVP_MAC_init(ctx, key, klen, params) == 1);
		CHECK(EVP_MAC_update(ctx, in, len) == 1);
		CHECK(EVP_MAC_final(ctx, theirs, &mlen, sizeof(theirs)) == 1);
		EVP_MAC_CTX_free(ctx);
		wg_blake2s(ours, olen, key, klen, in, len);
		CHECK_EQ(mlen, olen);
		if (memcmp(ours, theirs, olen) != 0)
			MG_FAIL("keyed BLAKE2s-%zu of %zu bytes differs from OpenSSL", olen * 8, len);
	}
	EVP_MAC_free(mac);
}

MG_TEST(hmac_hkdf)
{
	uint8_t key[32], out[32], ref[32], t1[32], t2[32], t3[32];
	unsigned int rlen = 0;

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	/* HMAC-BLAKE2s against OpenSSL's HMAC over BLAKE2s-256. */
	wg_hmac(out, key, 32, "meshgate", 8);
	CHECK(HMAC(EVP_blake2s256(), key, 32, (const uint8_t *)"meshgate", 8, ref, &rlen) != NULL);
	CHECK_EQ(rlen, 32);
	CHECK(memcmp(out, ref, 32) == 0);
	/* KDF3 against Python's hmac/hashlib. */
	wg_kdf(t1, t2, t3, key, "meshgate", 8);
	CHECK_HEX(t1, "29f69bde23467e051fb0f245e17def06e835abe6a7baca1540c5464374912fdd");
	CHECK_HEX(t2, "90ef29a30ef4b7946dc8bf85bb32ffdaba7b9dc6d88cf6a90e819ae1a9333325");
	CHECK_HEX(t3, "d87f5508eedd39037ebac698b84a0ce6d563a1dfc6dfb9474804e12b6495dbc5");
	/* The first output may alias the chaining key, as the handshake uses it. */
	memcpy(out, key, 32);
	wg_kdf(out, NULL, NULL, out, "meshgate", 8);
	CHECK(memcmp(out, t1, 32) == 0);
	/* Noise's initial chaining key and hash (WireGuard paper, section 5.4.2). */
	wg_noise_init_constants();
	CHECK_HEX(wg_initial_ck, "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36");
	CHECK_HEX(wg_initial_hash, "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3");
}

/* ---- X25519, AEAD, TAI64N ------------------------------------------------------------- */

MG_TEST(x25519_rfc7748)
{
	uint8_t a[32], b[32], pa[32], pb[32], s1[32], s2[32], zero[32] = {0};

	hex2bin(a, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
	hex2bin(b, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
	CHECK_EQ(wg_x25519_public(pa, a), 0);
	CHECK_EQ(wg_x25519_public(pb, b), 0);
	CHECK_HEX(pa, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
	CHECK_HEX(pb, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
	CHECK_EQ(wg_x25519(s1, a, pb), 0);
	CHECK_EQ(wg_x25519(s2, b, pa), 0);
	CHECK_HEX(s1, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
	CHECK(memcmp(s1, s2, 32) == 0);
	/* A low-order public key (zero) gives an all-zero secret: refused. */
	CHECK_EQ(wg_x25519(s1, a, zero), -EINVAL);
	/* Generated keys are clamped. */
	CHECK_EQ(mg_wg_key_generate(a), 0);
	CHECK_EQ(a[0] & 7, 0);
	CHECK_EQ(a[31] & 0xc0, 0x40);
}

MG_TEST(aead_against_libsodium)
{
	uint8_t key[32], pt[100], ct[116], back[100], ref[116], nonce[12] = {0};
	uint8_t xn[24];
	unsigned long long clen;
	uint64_t ctr = 0x0102030405060708ULL;

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(i * 3);
	for (int i = 0; i < 100; i++)
		pt[i] = (uint8_t)i;
	/* The nonce is 32 zero bits then the 64-bit counter little-endian. */
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(ctr >> (8 * i));
	CHECK_EQ(wg_aead_encrypt(ct, pt, sizeof(pt), (const uint8_t *)"ad", 2, ctr, key), 0);
	crypto_aead_chacha20poly1305_ietf_encrypt(ref, &clen, pt, sizeof(pt),
						  (const uint8_t *)"ad", 2, NULL, nonce, key);
	CHECK(memcmp(ct, ref, sizeof(ct)) == 0);
	CHECK_EQ(wg_aead_decrypt(back, ct, sizeof(ct), (const uint8_t *)"ad", 2, ctr, key), 0);
	CHECK(memcmp(back, pt, sizeof(pt)) == 0);
	ct[5] ^= 1;
	CHECK_EQ(wg_aead_decrypt(back, ct, sizeof(ct), (const uint8_t *)"ad", 2, ctr, key),
		 -EBADMSG);
	/* XChaCha20-Poly1305 round trip and a wrong AD. */
	memset(xn, 7, sizeof(xn));
	CHECK_EQ(wg_xaead_encrypt(ct, pt, 16, pt, 16, xn, key), 0);
	CHECK_EQ(wg_xaead_decrypt(back, ct, 32, pt, 16, xn, key), 0);
	CHECK(memcmp(back, pt, 16) == 0);
	CHECK_EQ(wg_xaead_decrypt(back, ct, 32, pt + 1, 16, xn, key), -EBADMSG);
}

MG_TEST(tai64n)
{
	uint8_t t[12], u[12];

	wg_tai64n(t, 1ULL * S + 123456789);
	/* 2^62 + 10 + 1 s, then the nanoseconds rounded down to 2^24. */
	CHECK_HEX(t, "400000000000000b");
	CHECK_EQ(((uint32_t)t[8] << 24 | t[9] << 16 | t[10] << 8 | t[11]),
		 123456789 & ~((1u << 24) - 1));
	wg_tai64n(u, 1ULL * S + 123456789 + 20 * MS);
	CHECK(memcmp(u, t, 12) > 0);
}

/* ---- Handshake ------------------------------------------------------------------------ */

MG_TEST(handshake_full)
{
	uint8_t psk[32];
	struct pair p;
	struct mg_wg_keypair *ka, *kb;
	struct mg_wg_iface_stats st;
	struct mg_wg_peer_info info;

	memset(psk, 0x11, sizeof(psk));
	pair_make(&p, psk, psk);
	CHECK(handshake(&p, 10 * S));
	/* A (initiator) has a current session; B (responder) keeps its own in next. */
	ka = atomic_load(&p.b_on_a->kp_current);
	kb = atomic_load(&p.a_on_b->kp_next);
	CHECK(ka != NULL && kb != NULL);
	CHECK(atomic_load(&p.a_on_b->kp_current) == NULL);
	if (ka != NULL && kb != NULL) {
		CHECK(memcmp(ka->send_key, kb->recv_key, 32) == 0);
		CHECK(memcmp(ka->recv_key, kb->send_key, 32) == 0);
		CHECK(memcmp(ka->send_key, ka->recv_key, 32) != 0);
		/* Each side addresses the other's index. */
		CHECK_EQ(ka->remote_index, atomic_load(&kb->entry.index));
		CHECK_EQ(kb->remote_index, atomic_load(&ka->entry.index));
		CHECK(ka->initiator && !kb->initiator);
	}
	/* The initiator may send at once; the responder waits for its first data. */
	CHECK(mg_wg_peer_tx_keypair(p.b_on_a, 10 * S) == ka);
	CHECK(mg_wg_peer_tx_keypair(p.a_on_b, 10 * S) == NULL);
	mg_wg_iface_stats(p.b, &st);
	CHECK_EQ(st.hs[MG_WG_HS_RESPONSE], 1);
	CHECK_EQ(st.sessions, 1);
	mg_wg_iface_stats(p.a, &st);
	CHECK_EQ(st.hs[MG_WG_HS_SESSION], 1);
	CHECK_EQ(st.initiations_sent, 1);
	mg_wg_peer_info(p.b_on_a, &info, 10 * S);
	CHECK(info.has_session && info.has_psk);
	CHECK(info.last_handshake_wall_ns != 0);
	CHECK_EQ(info.tx_bytes, MG_WG_INITIATION_LEN);
	CHECK_EQ(info.rx_bytes, MG_WG_RESPONSE_LEN);
	/* A second handshake rotates: A's old current becomes previous. */
	CHECK(handshake(&p, 20 * S));
	CHECK(atomic_load(&p.b_on_a->kp_previous) == ka);
	CHECK(atomic_load(&p.b_on_a->kp_current) != ka);
	pair_free(&p);
}

MG_TEST(handshake_failures)
{
	uint8_t psk1[32], psk2[32], init[MG_WG_INITIATION_LEN], bad[MG_WG_INITIATION_LEN];
	uint8_t reply[MG_WG_REPLY_MAX], reply2[MG_WG_REPLY_MAX];
	size_t rlen, rlen2;
	struct pair p;
	struct mg_wg_peer *who;

	/* Different preshared keys: B answers, A cannot decrypt the response. */
	memset(psk1, 1, 32);
	memset(psk2, 2, 32);
	pair_make(&p, psk1, psk2);
	CHECK_EQ(mg_wg_initiation_create(p.a, p.b_on_a, 10 * S, init), 0);
	CHECK_EQ(mg_wg_handshake_receive(p.b, init, sizeof(init), &src_a, 10 * S, reply, &rlen,
					 &who), MG_WG_HS_RESPONSE);
	CHECK_EQ(mg_wg_handshake_receive(p.a, reply, rlen, &src_b, 10 * S, reply2, &rlen2, &who),
		 MG_WG_HS_ERR_DECRYPT);
	CHECK(atomic_load(&p.b_on_a->kp_current) == NULL);
	/* The same initiation again: its timestamp is not newer. */
	CHECK_EQ(mg_wg_handshake_receive(p.b, init, sizeof(init), &src_a, 11 * S, reply, &rlen,
					 &who), MG_WG_HS_ERR_REPLAY);
	/* A fresh one 5 ms after the last accepted: flood. */
	CHECK_EQ(mg_wg_initiation_create(p.a, p.b_on_a, 11 * S, init), 0);
	CHECK_EQ(mg_wg_handshake_receive(p.b, init, sizeof(init), &src_a, 10 * S + 5 * MS, reply,
					 &rlen, &who), MG_WG_HS_ERR_FLOOD);
	/* A changed byte breaks mac1 before anything else is looked at. */
	CHECK_EQ(mg_wg_initiation_create(p.a, p.b_on_a, 12 * S, init), 0);
	memcpy(bad, init, sizeof(bad));
	bad[40] ^= 1;
	CHECK_EQ(mg_wg_handshake_receive(p.b, bad, sizeof(bad), &src_a, 12 * S, reply, &rlen,
					 &who), MG_WG_HS_ERR_MAC1);
	/* Wrong length and wrong type. */
	CHECK_EQ(mg_wg_handshake_receive(p.b, init, sizeof(init) - 1, &src_a, 12 * S, reply, &rlen,
					 &who), MG_WG_HS_ERR_SIZE);
	/* A response nobody asked for (B's index for A is gone once A's handshake is replaced). */
	CHECK_EQ(mg_wg_handshake_receive(p.b, init, sizeof(init), &src_a, 12 * S, reply, &rlen,
					 &who), MG_WG_HS_RESPONSE);
	CHECK_EQ(mg_wg_initiation_create(p.a, p.b_on_a, 13 * S, init), 0);
	CHECK_EQ(mg_wg_handshake_receive(p.a, reply, rlen, &src_b, 13 * S, reply2, &rlen2, &who),
		 MG_WG_HS_ERR_UNKNOWN_INDEX);
	pair_free(&p);

	/* B does not know A: unknown peer. */
	pair_make(&p, NULL, NULL);
	mg_wg_peer_remove(p.b, p.a_on_b);
	CHECK_EQ(mg_wg_initiation_create(p.a, p.b_on_a, 10 * S, init), 0);
	CHECK_EQ(mg_wg_handshake_receive(p.b, init, sizeof(init), &src_a, 10 * S, reply, &rlen,
					 &who), MG_WG_HS_ERR_UNKNOWN_PEER);
	CHECK(who == NULL);
	pair_free(&p);

	/* A thinks B has another public key: B drops the initiation on mac1. */
	pair_make(&p, NULL, NULL);
	{
		struct mg_wg_peer_conf pc = {0};
		uint8_t other[32];

		mg_wg_peer_remove(p.a, p.b_on_a);
		CHECK_EQ(mg_wg_key_generate(other), 0);
		CHECK_EQ(mg_wg_key_public(pc.public_key, other), 0);
		p.b_on_a = mg_wg_peer_add(p.a, &pc, 1 * S, NULL);
		CHECK_EQ(mg_wg_initiation_create(p.a, p.b_on_a, 10 * S, init), 0);
		CHECK_EQ(mg_wg_handshake_receive(p.b, init, sizeof(init), &src_a, 10 * S, reply,
						 &rlen, &who), MG_WG_HS_ERR_MAC1);
	}
	pair_free(&p);
}

/* Interfaces and peers: duplicates, our own key, removal through the defer hook. */
static int deferred;

static void
count_defer(void *ctx, void (*fn)(void *), void *obj)
{
	(void)ctx;
	deferred++;
	fn(obj);
}

MG_TEST(iface_peers)
{
	struct pair p;
	struct mg_wg_peer_conf pc = {0};
	struct mg_error e;
	uint8_t pub[32];

	pair_make(&p, NULL, NULL);
	memcpy(pc.public_key, p.pb, 32);
	CHECK(mg_wg_peer_add(p.a, &pc, 1 * S, &e) == NULL);
	CHECK_EQ(e.code, EEXIST);
	memcpy(pc.public_key, p.pa, 32);
	CHECK(mg_wg_peer_add(p.a, &pc, 1 * S, &e) == NULL);
	CHECK_EQ(e.code, EEXIST);
	CHECK(mg_wg_peer_lookup(p.a, p.pb) == p.b_on_a);
	CHECK(mg_wg_iface_public_key(p.a, pub) && memcmp(pub, p.pa, 32) == 0);
	/* Setting A's key to B's (a peer's) public key is refused. */
	CHECK_EQ(mg_wg_iface_set_private_key(p.a, p.kb, &e), -EEXIST);
	/* Remove a peer with a session: its keypair and itself go through the hook. */
	p.a->defer_free = count_defer;
	CHECK(handshake(&p, 10 * S));
	deferred = 0;
	mg_wg_peer_remove(p.a, p.b_on_a);
	CHECK_EQ(deferred, 2);
	CHECK(mg_wg_peer_lookup(p.a, p.pb) == NULL);
	CHECK_EQ(p.a->index.used, 0);
	pair_free(&p);
}

/* Changing our private key: old sessions stop sending, handshakes start over. */
MG_TEST(iface_rekey_identity)
{
	struct pair p;
	uint8_t k[32];

	pair_make(&p, NULL, NULL);
	CHECK(handshake(&p, 10 * S));
	CHECK(mg_wg_peer_tx_keypair(p.b_on_a, 10 * S) != NULL);
	CHECK_EQ(mg_wg_key_generate(k), 0);
	CHECK_EQ(mg_wg_iface_set_private_key(p.a, k, NULL), 0);
	CHECK(mg_wg_peer_tx_keypair(p.b_on_a, 10 * S) == NULL);
	/* B still knows A's old key: a new initiation fails on B. */
	uint8_t init[MG_WG_INITIATION_LEN], reply[MG_WG_REPLY_MAX];
	size_t rlen;

	CHECK_EQ(mg_wg_initiation_create(p.a, p.b_on_a, 11 * S, init), 0);
	CHECK_EQ(mg_wg_handshake_receive(p.b, init, sizeof(init), &src_a, 11 * S, reply, &rlen,
					 NULL), MG_WG_HS_ERR_UNKNOWN_PEER);
	CHECK_EQ(mg_wg_iface_set_private_key(p.a, NULL, NULL), 0);
	CHECK_EQ(mg_wg_initiation_create(p.a, p.b_on_a, 12 * S, init), -ENOKEY);
	pair_free(&p);
}

MG_TEST(index_table)
{
	struct wg_index_table t;
	struct wg_index_entry e[200];

	CHECK_EQ(wg_index_init(&t, 100), -EINVAL);
	CHECK_EQ(wg_index_init(&t, 256), 0);
	for (int i = 0; i < 200; i++) {
		e[i].type = WG_INDEX_KEYPAIR;
		int rc = wg_index_insert(&t, &e[i]);

		/* At most half the slots are used. */
		CHECK_EQ(rc, i < 128 ? 0 : -ENOSPC);
	}
	for (int i = 0; i < 128; i++) {
		CHECK(wg_index_lookup(&t, atomic_load(&e[i].index)) == &e[i]);
		for (int j = 0; j < i; j++)
			if (atomic_load(&e[i].index) == atomic_load(&e[j].index))
				MG_FAIL("indices %d and %d are equal", i, j);
	}
	/* Same slot, different index: not found. */
	CHECK(wg_index_lookup(&t, atomic_load(&e[0].index) ^ 0x80000000u) == NULL);
	wg_index_remove(&t, &e[0]);
	CHECK(wg_index_lookup(&t, atomic_load(&e[0].index)) == NULL);
	CHECK_EQ(wg_index_replace(&t, &e[1], &e[0]), 0);
	CHECK(wg_index_lookup(&t, atomic_load(&e[1].index)) == &e[0]);
	CHECK_EQ(t.used, 127);
	wg_index_fini(&t);
}

/* ---- Transport data ------------------------------------------------------------------- */

MG_TEST(transport_roundtrip)
{
	static const uint16_t sizes[] = {20, 21, 31, 32, 33, 64, 100, 1280, 1420};
	struct rte_mbuf *m[RTE_DIM(sizes) + 1], *copy[RTE_DIM(sizes) + 1];
	uint8_t st[16], orig[RTE_DIM(sizes)][1500];
	struct mg_wg_peer *peers[16];
	struct mg_wg_worker *w;
	struct mg_wg_keypair *ka;
	struct pair p;
	uint16_t n = RTE_DIM(sizes), ok;

	need_eal();
	w = mg_wg_worker_create(SOCKET_ID_ANY);
	CHECK(w != NULL);
	pair_make(&p, NULL, NULL);
	CHECK(handshake(&p, 10 * S));
	ka = mg_wg_peer_tx_keypair(p.b_on_a, 10 * S);
	CHECK(ka != NULL);
	if (w == NULL || ka == NULL)
		return;
	for (uint16_t i = 0; i < n; i++) {
		m[i] = ip4_packet(0x0100000a, 0x0200000a, sizes[i], (uint8_t)(i + 1));
		memcpy(orig[i], rte_pktmbuf_mtod(m[i], void *), sizes[i]);
	}
	/* An empty mbuf is a keepalive. */
	m[n] = rte_pktmbuf_alloc(pool);
	ok = mg_wg_encrypt_burst(w, ka, m, n + 1, 10 * S, st);
	CHECK_EQ(ok, n + 1);
	for (uint16_t i = 0; i <= n; i++) {
		uint32_t plen = i < n ? sizes[i] : 0, padded = (plen + 15) & ~15u;
		const uint8_t *h = rte_pktmbuf_mtod(m[i], const uint8_t *);
		uint8_t nonce[12] = {0}, plain[1500];
		unsigned long long dlen;

		CHECK_EQ(st[i], MG_WG_TX_OK);
		CHECK_EQ(rte_pktmbuf_pkt_len(m[i]), 16 + padded + 16);
		/* Header: type 4, B's index, counter i little-endian. */
		CHECK_EQ(h[0], 4);
		CHECK(h[1] == 0 && h[2] == 0 && h[3] == 0);
		CHECK_EQ(h[4] | h[5] << 8 | h[6] << 16 | (uint32_t)h[7] << 24, ka->remote_index);
		CHECK_EQ(h[8], i);
		/* libsodium, as an independent AEAD, opens it with the session key. */
		memcpy(nonce + 4, h + 8, 8);
		CHECK_EQ(crypto_aead_chacha20poly1305_ietf_decrypt(plain, &dlen, NULL, h + 16,
								   padded + 16, NULL, 0, nonce,
								   ka->send_key), 0);
		CHECK_EQ(dlen, padded);
		if (i < n) {
			CHECK(memcmp(plain, orig[i], plen) == 0);
			for (uint32_t k = plen; k < padded; k++)
				CHECK_EQ(plain[k], 0);
		}
		copy[i] = rte_pktmbuf_copy(m[i], pool, 0, UINT32_MAX);
	}
	/* B decrypts: data first in order, the keepalive after; a replayed copy is refused. */
	ok = mg_wg_decrypt_burst(w, p.b, NULL, m, n + 1, 10 * S, st, peers);
	CHECK_EQ(ok, n);
	for (uint16_t i = 0; i < n; i++) {
		CHECK_EQ(st[i], MG_WG_RX_DATA);
		CHECK(peers[i] == p.a_on_b);
		CHECK_EQ(rte_pktmbuf_pkt_len(m[i]), sizes[i]);
		CHECK(memcmp(rte_pktmbuf_mtod(m[i], void *), orig[i], sizes[i]) == 0);
	}
	CHECK_EQ(st[n], MG_WG_RX_KEEPALIVE);
	CHECK(peers[n] == p.a_on_b);
	ok = mg_wg_decrypt_burst(w, p.b, NULL, copy, n + 1, 10 * S, st, peers);
	CHECK_EQ(ok, 0);
	for (uint16_t i = 0; i <= n; i++) {
		CHECK_EQ(st[i], MG_WG_RX_REPLAY);
		CHECK(peers[i] == NULL);
	}
	/* B received on its next keypair: after a poll it is current and B can answer. */
	CHECK(mg_wg_peer_tx_keypair(p.a_on_b, 10 * S) != NULL);
	mg_wg_peer_poll(p.b, p.a_on_b, 10 * S + MS);
	CHECK(atomic_load(&p.a_on_b->kp_current) != NULL);
	CHECK(atomic_load(&p.a_on_b->kp_next) == NULL);
	struct mg_wg_peer_info info;

	mg_wg_peer_info(p.a_on_b, &info, 10 * S);
	CHECK_EQ(info.rx_packets, n + 1);
	CHECK(info.last_handshake_wall_ns != 0);
	rte_pktmbuf_free_bulk(m, n + 1);
	rte_pktmbuf_free_bulk(copy, n + 1);
	mg_wg_worker_destroy(w);
	pair_free(&p);
}

/* A fresh transport message from A's session: an IPv4 packet of @p len bytes from @p src. */
static struct rte_mbuf *
enc1_at(struct mg_wg_worker *w, struct mg_wg_keypair *kp, uint32_t src, uint16_t len,
	uint64_t now)
{
	struct rte_mbuf *m = ip4_packet(src, 0x0200000a, len, 5);

	if (m != NULL && mg_wg_encrypt_burst(w, kp, &m, 1, now, NULL) != 1) {
		rte_pktmbuf_free(m);
		m = NULL;
	}
	return m;
}

#define enc1(w, kp, src, len) enc1_at(w, kp, src, len, 10 * S)

/*
 * Padding stops at the interface MTU, as in the reference implementations:
 * with MTU 1420 a 1418- or 1420-byte packet is padded to 1420, not 1424 (the
 * outer packet would no longer fit a 1500-byte link), one beyond the MTU gets
 * none, and each still decrypts to the original.
 */
MG_TEST(transport_padding_mtu)
{
	static const uint16_t sizes[] = {1400, 1418, 1420, 1480};
	static const uint16_t padded[] = {1408, 1420, 1420, 1480};
	struct rte_mbuf *m[RTE_DIM(sizes)];
	struct mg_wg_peer *peers[RTE_DIM(sizes)];
	uint8_t st[RTE_DIM(sizes)];
	struct mg_wg_worker *w;
	struct mg_wg_keypair *ka;
	struct pair p;
	uint16_t n = RTE_DIM(sizes);

	need_eal();
	w = mg_wg_worker_create(SOCKET_ID_ANY);
	CHECK(w != NULL);
	pair_make(&p, NULL, NULL);
	p.a->mtu = 1420;
	CHECK(handshake(&p, 10 * S));
	ka = mg_wg_peer_tx_keypair(p.b_on_a, 10 * S);
	CHECK(ka != NULL);
	if (w == NULL || ka == NULL)
		return;
	for (uint16_t i = 0; i < n; i++)
		m[i] = ip4_packet(0x0100000a, 0x0200000a, sizes[i], (uint8_t)(i + 1));
	CHECK_EQ(mg_wg_encrypt_burst(w, ka, m, n, 10 * S, st), n);
	for (uint16_t i = 0; i < n; i++)
		CHECK_EQ(rte_pktmbuf_pkt_len(m[i]), 16u + padded[i] + 16u);
	CHECK_EQ(mg_wg_decrypt_burst(w, p.b, NULL, m, n, 10 * S, st, peers), n);
	for (uint16_t i = 0; i < n; i++) {
		CHECK_EQ(st[i], MG_WG_RX_DATA);
		CHECK_EQ(rte_pktmbuf_pkt_len(m[i]), sizes[i]);
		rte_pktmbuf_free(m[i]);
	}
	pair_free(&p);
	mg_wg_worker_destroy(w);
}

MG_TEST(transport_failures)
{
	struct rte_mbuf *m[8], *seg, *good;
	uint8_t st[8];
	struct mg_wg_peer *pe[8];
	struct mg_wg_worker *w;
	struct mg_wg_keypair *ka;
	struct pair p;
	struct mg_wg_aip_builder *b;
	struct mg_wg_aip *aip;
	struct mg_prefix pfx;

	need_eal();
	w = mg_wg_worker_create(SOCKET_ID_ANY);
	pair_make(&p, NULL, NULL);
	CHECK(handshake(&p, 10 * S));
	ka = mg_wg_peer_tx_keypair(p.b_on_a, 10 * S);
	CHECK(w != NULL && ka != NULL);
	if (w == NULL || ka == NULL)
		return;
	/* Encrypt: no headroom, no tailroom, chained: failures after the successes. */
	m[0] = ip4_packet(0x0100000a, 0x0200000a, 64, 1);
	m[0]->data_off = 0;
	m[1] = good = ip4_packet(0x0100000a, 0x0200000a, 60, 2);
	m[2] = rte_pktmbuf_alloc(pool);
	rte_pktmbuf_append(m[2], (uint16_t)(rte_pktmbuf_tailroom(m[2]) - 10));
	m[3] = ip4_packet(0x0100000a, 0x0200000a, 40, 3);
	seg = rte_pktmbuf_alloc(pool);
	rte_pktmbuf_append(seg, 10);
	CHECK_EQ(rte_pktmbuf_chain(m[3], seg), 0);
	CHECK_EQ(mg_wg_encrypt_burst(w, ka, m, 4, 10 * S, st), 1);
	CHECK(m[0] == good);
	CHECK_EQ(st[0], MG_WG_TX_OK);
	CHECK_EQ(st[1], MG_WG_TX_NO_ROOM);
	CHECK_EQ(st[2], MG_WG_TX_NO_ROOM);
	CHECK_EQ(st[3], MG_WG_TX_CHAINED);
	CHECK_EQ(rte_pktmbuf_pkt_len(m[1]), 64);
	rte_pktmbuf_free_bulk(m, 4);

	/* Decrypt: tampered, unknown index, short, not WireGuard at all. */
	m[0] = enc1(w, ka, 0x0100000a, 60);
	m[1] = enc1(w, ka, 0x0100000a, 60);
	m[2] = enc1(w, ka, 0x0100000a, 60);
	m[3] = ip4_packet(0x0100000a, 0x0200000a, 60, 9);
	rte_pktmbuf_mtod_offset(m[0], uint8_t *, 30)[0] ^= 1;
	rte_pktmbuf_mtod_offset(m[1], uint8_t *, 4)[0] ^= 1;
	rte_pktmbuf_trim(m[2], rte_pktmbuf_pkt_len(m[2]) - 31);
	CHECK_EQ(mg_wg_decrypt_burst(w, p.b, NULL, m, 4, 10 * S, st, pe), 0);
	CHECK_EQ(st[0], MG_WG_RX_AUTH);
	CHECK_EQ(st[1], MG_WG_RX_UNKNOWN_INDEX);
	CHECK_EQ(st[2], MG_WG_RX_MALFORMED);
	CHECK_EQ(st[3], MG_WG_RX_MALFORMED);
	rte_pktmbuf_free_bulk(m, 4);

	/* Allowed IPs: inner source 10.0.0.1 is not in 10.9.0.0/16, is in 10.0.0.0/8. */
	b = mg_wg_aip_builder_create();
	mg_prefix_parse("10.9.0.0/16", &pfx);
	CHECK_EQ(mg_wg_aip_builder_add(b, &pfx, p.a_on_b, NULL), 0);
	aip = mg_wg_aip_build(b, NULL);
	m[0] = enc1(w, ka, 0x0100000a, 60);
	CHECK_EQ(mg_wg_decrypt_burst(w, p.b, aip, m, 1, 10 * S, st, pe), 0);
	CHECK_EQ(st[0], MG_WG_RX_SRC_NOT_ALLOWED);
	rte_pktmbuf_free(m[0]);
	mg_wg_aip_free(aip);
	mg_prefix_parse("10.0.0.0/8", &pfx);
	CHECK_EQ(mg_wg_aip_builder_add(b, &pfx, p.a_on_b, NULL), 0);
	aip = mg_wg_aip_build(b, NULL);
	m[0] = enc1(w, ka, 0x0100000a, 60);
	CHECK_EQ(mg_wg_decrypt_burst(w, p.b, aip, m, 1, 10 * S, st, pe), 1);
	rte_pktmbuf_free(m[0]);
	mg_wg_aip_free(aip);
	mg_wg_aip_builder_destroy(b);

	/* Too late: the session is older than REJECT_AFTER_TIME. */
	m[0] = enc1(w, ka, 0x0100000a, 60);
	CHECK_EQ(mg_wg_decrypt_burst(w, p.b, NULL, m, 1, 191 * S, st, pe), 0);
	CHECK_EQ(st[0], MG_WG_RX_KEY_EXPIRED);
	rte_pktmbuf_free(m[0]);
	/* Authentic, but the plaintext is not an IP packet; and an IPv4 length beyond it. */
	m[0] = rte_pktmbuf_alloc(pool);
	memset(rte_pktmbuf_append(m[0], 40), 0x77, 40);
	CHECK_EQ(mg_wg_encrypt_burst(w, ka, m, 1, 10 * S, NULL), 1);
	m[1] = ip4_packet(0x0100000a, 0x0200000a, 60, 9);
	rte_pktmbuf_mtod(m[1], uint8_t *)[2] = 1; /* total length 316 > 60 */
	CHECK_EQ(mg_wg_encrypt_burst(w, ka, m + 1, 1, 10 * S, NULL), 1);
	CHECK_EQ(mg_wg_decrypt_burst(w, p.b, NULL, m, 2, 10 * S, st, pe), 0);
	CHECK_EQ(st[0], MG_WG_RX_BAD_INNER);
	CHECK_EQ(st[1], MG_WG_RX_BAD_INNER);
	rte_pktmbuf_free_bulk(m, 2);
	/* A counter at REJECT_AFTER_MESSAGES is refused before decryption. */
	m[0] = enc1(w, ka, 0x0100000a, 60);
	memset(rte_pktmbuf_mtod_offset(m[0], uint8_t *, 8), 0xff, 8);
	CHECK_EQ(mg_wg_decrypt_burst(w, p.b, NULL, m, 1, 10 * S, st, pe), 0);
	CHECK_EQ(st[0], MG_WG_RX_COUNTER_LIMIT);
	rte_pktmbuf_free(m[0]);

	/* Sending: expired session, rekey asked at REKEY_AFTER_MESSAGES, exhausted counter. */
	m[0] = ip4_packet(0x0100000a, 0x0200000a, 64, 1);
	CHECK(mg_wg_peer_tx_keypair(p.b_on_a, 191 * S) == NULL);
	CHECK_EQ(mg_wg_encrypt_burst(w, ka, m, 1, 191 * S, st), 0);
	CHECK_EQ(st[0], MG_WG_TX_KEY_EXPIRED);
	atomic_store(&ka->send_counter, (uint64_t)WG_REKEY_AFTER_MESSAGES - 2);
	atomic_store(&p.b_on_a->flags, 0);
	CHECK_EQ(mg_wg_encrypt_burst(w, ka, m, 1, 10 * S, st), 1);
	CHECK(!(atomic_load(&p.b_on_a->flags) & WG_PF_WANT_HANDSHAKE));
	rte_pktmbuf_free(m[0]);
	m[0] = ip4_packet(0x0100000a, 0x0200000a, 64, 1);
	CHECK_EQ(mg_wg_encrypt_burst(w, ka, m, 1, 10 * S, st), 1);
	CHECK(atomic_load(&p.b_on_a->flags) & WG_PF_WANT_HANDSHAKE);
	rte_pktmbuf_free(m[0]);
	m[0] = ip4_packet(0x0100000a, 0x0200000a, 64, 1);
	atomic_store(&ka->send_counter, (uint64_t)WG_REJECT_AFTER_MESSAGES);
	CHECK(mg_wg_peer_tx_keypair(p.b_on_a, 10 * S) == NULL);
	CHECK_EQ(mg_wg_encrypt_burst(w, ka, m, 1, 10 * S, st), 0);
	CHECK_EQ(st[0], MG_WG_TX_COUNTER_LIMIT);
	rte_pktmbuf_free(m[0]);
	mg_wg_worker_destroy(w);
	pair_free(&p);
}

/* ---- Replay window -------------------------------------------------------------------- */

/* The naive reference: a set of seen counters and the highest one. */
struct ref_window {
	uint8_t *seen;     /* One byte per counter. */
	uint64_t size;     /* Counters the set can hold. */
	uint64_t top;      /* Highest accepted + 1. */
};

static bool
ref_accept(struct ref_window *r, uint64_t c)
{
	if (c + WG_REPLAY_WINDOW < r->top || c >= r->size || r->seen[c])
		return false;
	r->seen[c] = 1;
	if (c + 1 > r->top)
		r->top = c + 1;
	return true;
}

MG_TEST(replay_sequential)
{
	enum { N = 60000 };
	static struct wg_replay win;
	struct ref_window ref = {.seen = calloc(1 << 21, 1), .size = 1 << 21};
	uint64_t next = 0;
	unsigned int accepted = 0, mismatches = 0;

	memset(&win, 0, sizeof(win));
	/* Mostly increasing with jumps, reorders within and beyond the window, duplicates. */
	for (int i = 0; i < N; i++) {
		uint64_t c;
		uint64_t kind = rte_rand_max(100);

		if (kind < 64)
			c = next++;
		else if (kind < 65)
			c = (next += rte_rand_max(5000));
		else if (kind < 85)
			c = next > 0 ? next - 1 - rte_rand_max(RTE_MIN(next, (uint64_t)2100)) : 0;
		else if (kind < 95)
			c = next > 0 ? next - 1 - rte_rand_max(RTE_MIN(next, (uint64_t)6000)) : 0;
		else
			c = next > 0 ? next - 1 : 0;
		if (c >= ref.size)
			c = ref.size - 1;
		bool want = ref_accept(&ref, c);
		enum wg_replay_verdict pre = wg_replay_check(&win, c);
		enum wg_replay_verdict got = wg_replay_commit(&win, c);

		/* The check agrees with the commit; both agree with the reference. */
		if ((pre == WG_REPLAY_OK) != want || (got == WG_REPLAY_OK) != want) {
			if (mismatches++ < 5)
				MG_FAIL("counter %" PRIu64 " (top %" PRIu64 "): reference %s, "
					"check %d, commit %d", c, ref.top, want ? "accepts" : "refuses",
					pre, got);
		}
		accepted += want;
	}
	CHECK_EQ(mismatches, 0);
	CHECK(accepted > N / 2);
	/* Limits: REJECT_AFTER_MESSAGES and beyond. */
	CHECK_EQ(wg_replay_commit(&win, WG_REJECT_AFTER_MESSAGES), WG_REPLAY_LIMIT);
	CHECK_EQ(wg_replay_commit(&win, WG_REJECT_AFTER_MESSAGES - 1), WG_REPLAY_OK);
	CHECK_EQ(wg_replay_commit(&win, WG_REJECT_AFTER_MESSAGES - 1), WG_REPLAY_DUP);
	CHECK_EQ(wg_replay_commit(&win, WG_REJECT_AFTER_MESSAGES - 1 - WG_REPLAY_WINDOW),
		 WG_REPLAY_OLD);
	CHECK_EQ(wg_replay_commit(&win, WG_REJECT_AFTER_MESSAGES - WG_REPLAY_WINDOW),
		 WG_REPLAY_OK);
	free(ref.seen);
}

/*
 * Concurrent receivers on one window. Counters come in chunks of 512 (shuffled
 * inside the chunk), each counter handed to one to three of four threads,
 * plus counters from five chunks back (beyond the window). The threads meet
 * at a barrier after every chunk, so the window's outcome is defined: every
 * counter accepted exactly once, every old one refused - as the reference.
 */
enum { RP_THREADS = 4, RP_CHUNK = 512, RP_CHUNKS = 120 };

struct rp_work {
	uint64_t *ctr[RP_CHUNKS];       /* Per chunk, the counters for this thread. */
	unsigned int n[RP_CHUNKS];
	unsigned int accepted_old;      /* Old counters it accepted (must stay 0). */
};

static struct wg_replay rp_win;
static _Atomic uint32_t rp_hits[RP_CHUNK * RP_CHUNKS];
static pthread_barrier_t rp_barrier;
static struct rp_work rp_work[RP_THREADS];

static void *
rp_thread(void *arg)
{
	struct rp_work *wk = arg;

	for (int c = 0; c < RP_CHUNKS; c++) {
		for (unsigned int i = 0; i < wk->n[c]; i++) {
			uint64_t ctr = wk->ctr[c][i];

			if (wg_replay_check(&rp_win, ctr) != WG_REPLAY_OK)
				continue;
			if (wg_replay_commit(&rp_win, ctr) != WG_REPLAY_OK)
				continue;
			if (ctr / RP_CHUNK != (uint64_t)c)
				wk->accepted_old++;
			atomic_fetch_add(&rp_hits[ctr], 1);
		}
		pthread_barrier_wait(&rp_barrier);
	}
	return NULL;
}

MG_TEST(replay_concurrent)
{
	pthread_t th[RP_THREADS];
	struct ref_window ref = {.seen = calloc(RP_CHUNK * RP_CHUNKS, 1),
				 .size = RP_CHUNK * RP_CHUNKS};
	unsigned int ref_accepted = 0;

	memset(&rp_win, 0, sizeof(rp_win));
	pthread_barrier_init(&rp_barrier, NULL, RP_THREADS);
	for (int t = 0; t < RP_THREADS; t++)
		for (int c = 0; c < RP_CHUNKS; c++) {
			rp_work[t].ctr[c] = calloc(RP_CHUNK * 4, sizeof(uint64_t));
			rp_work[t].n[c] = 0;
		}
	for (int c = 0; c < RP_CHUNKS; c++) {
		uint64_t order[RP_CHUNK];

		for (int i = 0; i < RP_CHUNK; i++)
			order[i] = (uint64_t)c * RP_CHUNK + i;
		for (int i = RP_CHUNK - 1; i > 0; i--) {
			uint64_t j = rte_rand_max(i + 1), x = order[i];

			order[i] = order[j];
			order[j] = x;
		}
		for (int i = 0; i < RP_CHUNK; i++) {
			unsigned int copies = 1 + (unsigned int)rte_rand_max(3);
			unsigned int first = (unsigned int)rte_rand_max(RP_THREADS);

			ref_accepted += ref_accept(&ref, order[i]);
			for (unsigned int k = 0; k < copies; k++) {
				struct rp_work *wk = &rp_work[(first + k) % RP_THREADS];

				wk->ctr[c][wk->n[c]++] = order[i];
				ref_accept(&ref, order[i]);
			}
			/* Now and then an old counter, five chunks back. */
			if (c >= 5 && rte_rand_max(8) == 0) {
				uint64_t old = (uint64_t)(c - 5) * RP_CHUNK + rte_rand_max(RP_CHUNK);
				struct rp_work *wk = &rp_work[rte_rand_max(RP_THREADS)];

				CHECK(!ref_accept(&ref, old));
				wk->ctr[c][wk->n[c]++] = old;
			}
		}
	}
	for (int t = 0; t < RP_THREADS; t++)
		pthread_create(&th[t], NULL, rp_thread, &rp_work[t]);
	for (int t = 0; t < RP_THREADS; t++)
		pthread_join(th[t], NULL);
	unsigned int once = 0, twice = 0, never = 0;

	for (uint64_t i = 0; i < RP_CHUNK * RP_CHUNKS; i++) {
		uint32_t h = atomic_load(&rp_hits[i]);

		once += h == 1;
		twice += h > 1;
		never += h == 0;
	}
	CHECK_EQ(ref_accepted, RP_CHUNK * RP_CHUNKS);
	CHECK_EQ(twice, 0);
	CHECK_EQ(never, 0);
	CHECK_EQ(once, ref_accepted);
	for (int t = 0; t < RP_THREADS; t++) {
		CHECK_EQ(rp_work[t].accepted_old, 0);
		for (int c = 0; c < RP_CHUNKS; c++)
			free(rp_work[t].ctr[c]);
	}
	pthread_barrier_destroy(&rp_barrier);
	free(ref.seen);
}

/* The same through mg_wg_decrypt_burst: workers decrypting copies of one session's packets. */
enum { DC_THREADS = 3, DC_CHUNK = 256, DC_CHUNKS = 24, DC_LEN = 16 + 64 + 16 };

struct dc_work {
	struct mg_wg_worker *w;
	uint32_t *pkt[DC_CHUNKS];   /* Packet numbers per chunk. */
	unsigned int n[DC_CHUNKS];
};

static uint8_t (*dc_msgs)[DC_LEN];
static _Atomic uint32_t dc_hits[DC_CHUNK * DC_CHUNKS];
static struct dc_work dc_work[DC_THREADS];
static struct mg_wg_iface *dc_iface;
static pthread_barrier_t dc_barrier;
static _Atomic unsigned int dc_bad;

static void *
dc_thread(void *arg)
{
	struct dc_work *wk = arg;
	struct rte_mbuf *m[32];
	uint8_t st[32];

	for (int c = 0; c < DC_CHUNKS; c++) {
		for (unsigned int i = 0; i < wk->n[c]; i += 32) {
			uint16_t n = (uint16_t)RTE_MIN(32u, wk->n[c] - i), ok;

			if (rte_pktmbuf_alloc_bulk(pool, m, n) != 0) {
				atomic_fetch_add(&dc_bad, 1);
				continue;
			}
			for (uint16_t k = 0; k < n; k++)
				memcpy(rte_pktmbuf_append(m[k], DC_LEN), dc_msgs[wk->pkt[c][i + k]],
				       DC_LEN);
			ok = mg_wg_decrypt_burst(wk->w, dc_iface, NULL, m, n, 10 * S, st, NULL);
			for (uint16_t k = 0; k < n; k++) {
				if (k < ok) {
					uint32_t id;

					memcpy(&id, rte_pktmbuf_mtod_offset(m[k], uint8_t *, 20), 4);
					atomic_fetch_add(&dc_hits[id], 1);
				} else if (st[k] != MG_WG_RX_REPLAY) {
					atomic_fetch_add(&dc_bad, 1);
				}
			}
			rte_pktmbuf_free_bulk(m, n);
		}
		pthread_barrier_wait(&dc_barrier);
	}
	return NULL;
}

MG_TEST(decrypt_concurrent)
{
	pthread_t th[DC_THREADS];
	struct mg_wg_worker *w;
	struct mg_wg_keypair *ka;
	struct pair p;

	need_eal();
	pair_make(&p, NULL, NULL);
	CHECK(handshake(&p, 10 * S));
	w = mg_wg_worker_create(SOCKET_ID_ANY);
	ka = mg_wg_peer_tx_keypair(p.b_on_a, 10 * S);
	if (w == NULL || ka == NULL) {
		MG_FAIL("no worker or session");
		return;
	}
	dc_msgs = calloc(DC_CHUNK * DC_CHUNKS, DC_LEN);
	dc_iface = p.b;
	/* A's packets, numbered in their payload. */
	for (uint32_t i = 0; i < DC_CHUNK * DC_CHUNKS; i++) {
		struct rte_mbuf *m = ip4_packet(0x0100000a, 0x0200000a, 64, 0);

		memcpy(rte_pktmbuf_mtod_offset(m, uint8_t *, 20), &i, 4);
		CHECK_EQ(mg_wg_encrypt_burst(w, ka, &m, 1, 10 * S, NULL), 1);
		CHECK_EQ(rte_pktmbuf_pkt_len(m), DC_LEN);
		memcpy(dc_msgs[i], rte_pktmbuf_mtod(m, void *), DC_LEN);
		rte_pktmbuf_free(m);
	}
	pthread_barrier_init(&dc_barrier, NULL, DC_THREADS);
	for (int t = 0; t < DC_THREADS; t++) {
		dc_work[t].w = mg_wg_worker_create(SOCKET_ID_ANY);
		for (int c = 0; c < DC_CHUNKS; c++) {
			dc_work[t].pkt[c] = calloc(DC_CHUNK * 2, sizeof(uint32_t));
			dc_work[t].n[c] = 0;
		}
	}
	for (int c = 0; c < DC_CHUNKS; c++)
		for (uint32_t i = 0; i < DC_CHUNK; i++) {
			uint32_t id = c * DC_CHUNK + i, copies = 1 + (uint32_t)rte_rand_max(2);
			uint32_t first = (uint32_t)rte_rand_max(DC_THREADS);

			for (uint32_t k = 0; k < copies; k++) {
				struct dc_work *wk = &dc_work[(first + k) % DC_THREADS];

				/* Insert at a random place of the chunk: reordering. */
				uint32_t at = (uint32_t)rte_rand_max(wk->n[c] + 1);

				wk->pkt[c][wk->n[c]++] = wk->pkt[c][at];
				wk->pkt[c][at] = id;
			}
		}
	for (int t = 0; t < DC_THREADS; t++)
		pthread_create(&th[t], NULL, dc_thread, &dc_work[t]);
	for (int t = 0; t < DC_THREADS; t++)
		pthread_join(th[t], NULL);
	unsigned int wrong = 0;

	for (uint32_t i = 0; i < DC_CHUNK * DC_CHUNKS; i++)
		wrong += atomic_load(&dc_hits[i]) != 1;
	CHECK_EQ(wrong, 0);
	CHECK_EQ(atomic_load(&dc_bad), 0);
	/* Every packet counted once for the peer. */
	struct mg_wg_peer_info info;

	mg_wg_peer_info(p.a_on_b, &info, 10 * S);
	CHECK_EQ(info.rx_packets, DC_CHUNK * DC_CHUNKS);
	for (int t = 0; t < DC_THREADS; t++) {
		mg_wg_worker_destroy(dc_work[t].w);
		for (int c = 0; c < DC_CHUNKS; c++)
			free(dc_work[t].pkt[c]);
	}
	pthread_barrier_destroy(&dc_barrier);
	free(dc_msgs);
	mg_wg_worker_destroy(w);
	pair_free(&p);
}

/* ---- Cookies and the rate limit ------------------------------------------------------- */

MG_TEST(cookie_reply)
{
	uint8_t init[MG_WG_INITIATION_LEN], reply[MG_WG_REPLY_MAX], r2[MG_WG_REPLY_MAX];
	size_t rlen, rlen2;
	struct mg_wg_peer *who;
	struct pair p;
	struct mg_wg_src other = src_a;
	static const uint8_t zero[16];

	pair_make(&p, NULL, NULL);
	mg_wg_iface_set_under_load(p.b, true);
	/* Under load, no mac2 yet: B answers with a cookie reply to A's index. */
	CHECK_EQ(mg_wg_initiation_create(p.a, p.b_on_a, 10 * S, init), 0);
	CHECK(memcmp(init + 132, zero, 16) == 0);
	CHECK_EQ(mg_wg_handshake_receive(p.b, init, sizeof(init), &src_a, 10 * S, reply, &rlen,
					 &who), MG_WG_HS_COOKIE_REPLY);
	CHECK_EQ(rlen, MG_WG_COOKIE_LEN);
	CHECK_EQ(reply[0], WG_MSG_COOKIE);
	CHECK(memcmp(reply + 4, init + 4, 4) == 0);
	CHECK(atomic_load(&p.a_on_b->kp_next) == NULL);
	/* A stores the cookie; a cookie reply it did not ask for is refused. */
	CHECK_EQ(mg_wg_handshake_receive(p.a, reply, rlen, &src_b, 10 * S, r2, &rlen2, &who),
		 MG_WG_HS_COOKIE_STORED);
	CHECK(who == p.b_on_a);
	CHECK_EQ(mg_wg_handshake_receive(p.a, reply, rlen, &src_b, 10 * S, r2, &rlen2, &who),
		 MG_WG_HS_ERR_STATE);
	/* The next initiation carries mac2 and passes; from another port it would not. */
	CHECK_EQ(mg_wg_initiation_create(p.a, p.b_on_a, 11 * S, init), 0);
	CHECK(memcmp(init + 132, zero, 16) != 0);
	other.port = src_a.port ^ 0x100;
	CHECK_EQ(mg_wg_handshake_receive(p.b, init, sizeof(init), &other, 11 * S, reply, &rlen,
					 &who), MG_WG_HS_COOKIE_REPLY);
	other.port = src_a.port;
	other.ip.v4 ^= 0x01000000;
	CHECK_EQ(mg_wg_handshake_receive(p.b, init, sizeof(init), &other, 11 * S, reply, &rlen,
					 &who), MG_WG_HS_COOKIE_REPLY);
	CHECK_EQ(mg_wg_handshake_receive(p.b, init, sizeof(init), &src_a, 11 * S, reply, &rlen,
					 &who), MG_WG_HS_RESPONSE);
	/* A tampered cookie reply does not decrypt. */
	CHECK_EQ(mg_wg_initiation_create(p.a, p.b_on_a, 12 * S, init), 0);
	CHECK_EQ(mg_wg_handshake_receive(p.b, init, sizeof(init), &other, 12 * S, reply, &rlen,
					 &who), MG_WG_HS_COOKIE_REPLY);
	reply[40] ^= 1;
	CHECK_EQ(mg_wg_handshake_receive(p.a, reply, rlen, &src_b, 12 * S, r2, &rlen2, &who),
		 MG_WG_HS_ERR_COOKIE);
	/* A cookie is used for COOKIE_SECRET_MAX_AGE - LATENCY (115 s) only. */
	CHECK_EQ(mg_wg_initiation_create(p.a, p.b_on_a, 10 * S + 114 * S, init), 0);
	CHECK(memcmp(init + 132, zero, 16) != 0);
	CHECK_EQ(mg_wg_initiation_create(p.a, p.b_on_a, 10 * S + 116 * S, init), 0);
	CHECK(memcmp(init + 132, zero, 16) == 0);
	/* Not under load, a message without mac2 passes. */
	mg_wg_iface_set_under_load(p.b, false);
	CHECK_EQ(mg_wg_handshake_receive(p.b, init, sizeof(init), &src_a, 127 * S, reply, &rlen,
					 &who), MG_WG_HS_RESPONSE);
	pair_free(&p);
}

MG_TEST(ratelimit)
{
	struct wg_ratelimiter rl;
	struct mg_wg_src a = src_a, b6 = {.ip = {.family = AF_INET6}, .port = 1};
	uint64_t t = 100 * S;
	int allowed = 0;

	CHECK_EQ(wg_ratelimiter_init(&rl, 64), 0);
	/* A burst of 5, then 20 per second. */
	for (int i = 0; i < 10; i++)
		allowed += wg_ratelimiter_allow(&rl, &a, t);
	CHECK_EQ(allowed, 5);
	CHECK(!wg_ratelimiter_allow(&rl, &a, t + 40 * MS));
	CHECK(wg_ratelimiter_allow(&rl, &a, t + 50 * MS));
	CHECK(!wg_ratelimiter_allow(&rl, &a, t + 60 * MS));
	allowed = 0;
	for (int i = 0; i < 100; i++)
		allowed += wg_ratelimiter_allow(&rl, &a, t + S + (uint64_t)i * 10 * MS);
	CHECK(allowed >= 20 && allowed <= 26);
	/* Another source has its own bucket; an IPv6 /64 is one source. */
	CHECK(wg_ratelimiter_allow(&rl, &src_b, t));
	b6.ip.v6[0] = 0x20;
	for (int i = 0; i < 5; i++) {
		b6.ip.v6[15] = (uint8_t)i;
		CHECK(wg_ratelimiter_allow(&rl, &b6, t));
	}
	b6.ip.v6[15] = 99;
	CHECK(!wg_ratelimiter_allow(&rl, &b6, t));
	b6.ip.v6[7] = 1;
	CHECK(wg_ratelimiter_allow(&rl, &b6, t));
	/* A table full of active sources refuses new ones, and forgets idle ones. */
	unsigned int refused = 0;

	for (uint32_t i = 0; i < 1000; i++) {
		struct mg_wg_src s = {.ip = {.family = AF_INET, .v4 = htonl(0x0b000000 + i)}};

		refused += !wg_ratelimiter_allow(&rl, &s, t);
	}
	CHECK(refused > 900);
	CHECK(wg_ratelimiter_allow(&rl, &a, t + 10 * S));
	wg_ratelimiter_fini(&rl);
}

/* The rate limit in the handshake path: under load, with valid cookies, one source. */
MG_TEST(ratelimit_handshakes)
{
	uint8_t init[MG_WG_INITIATION_LEN], reply[MG_WG_REPLY_MAX], r2[MG_WG_REPLY_MAX];
	size_t rlen, rlen2;
	struct pair p;
	struct mg_wg_iface_stats st;

	pair_make(&p, NULL, NULL);
	mg_wg_iface_set_under_load(p.b, true);
	CHECK_EQ(mg_wg_initiation_create(p.a, p.b_on_a, 10 * S, init), 0);
	CHECK_EQ(mg_wg_handshake_receive(p.b, init, sizeof(init), &src_a, 10 * S, reply, &rlen,
					 NULL), MG_WG_HS_COOKIE_REPLY);
	CHECK_EQ(mg_wg_handshake_receive(p.a, reply, rlen, &src_b, 10 * S, r2, &rlen2, NULL),
		 MG_WG_HS_COOKIE_STORED);
	/* 20 initiations 30 ms apart (no flood), all with a valid cookie. */
	for (int i = 0; i < 20; i++) {
		uint64_t t = 11 * S + (uint64_t)i * 30 * MS;

		CHECK_EQ(mg_wg_initiation_create(p.a, p.b_on_a, t, init), 0);
		mg_wg_handshake_receive(p.b, init, sizeof(init), &src_a, t, reply, &rlen, NULL);
	}
	mg_wg_iface_stats(p.b, &st);
	/* 5 of burst plus one per 50 ms over 570 ms: about 16 pass. */
	CHECK(st.hs[MG_WG_HS_ERR_RATELIMIT] >= 2 && st.hs[MG_WG_HS_ERR_RATELIMIT] <= 6);
	CHECK_EQ(st.hs[MG_WG_HS_RESPONSE] + st.hs[MG_WG_HS_ERR_RATELIMIT], 20);
	pair_free(&p);
}

/* ---- Timers --------------------------------------------------------------------------- */

/* Run the timers from @p from to @p to in 10 ms steps; return the first step with @p act. */
static uint64_t
run_until(struct mg_wg_timers *t, uint64_t from, uint64_t to, uint32_t act, uint32_t *seen)
{
	for (uint64_t now = from; now <= to; now += 10 * MS) {
		uint32_t a = mg_wg_timers_expire(t, now);

		if (seen != NULL)
			*seen |= a;
		if (a & act)
			return now;
	}
	return MG_WG_NEVER;
}

MG_TEST(timers_handshake_retries)
{
	struct mg_wg_timers t;
	uint64_t now = 1000 * S, at, first;
	unsigned int sent = 0;

	mg_wg_timers_init(&t, 0, 7);
	CHECK_EQ(mg_wg_timers_next(&t), MG_WG_NEVER);
	CHECK_EQ(mg_wg_timers_expire(&t, now), 0);
	/* Data waits: initiate at once. */
	mg_wg_timers_event(&t, MG_WG_TEV_WANT_HANDSHAKE, now);
	CHECK_EQ(mg_wg_timers_next(&t), now);
	CHECK_EQ(mg_wg_timers_expire(&t, now), MG_WG_ACT_SEND_INITIATION);
	first = now;
	/* Retries every REKEY_TIMEOUT + jitter (< 334 ms), then give up. */
	for (;;) {
		mg_wg_timers_event(&t, MG_WG_TEV_HANDSHAKE_INITIATED, now);
		sent++;
		/* More data meanwhile does not send sooner than REKEY_TIMEOUT. */
		if (sent == 1) {
			mg_wg_timers_event(&t, MG_WG_TEV_WANT_HANDSHAKE, now + S);
			CHECK_EQ(mg_wg_timers_expire(&t, now + S) & MG_WG_ACT_SEND_INITIATION, 0);
		}
		uint32_t seen = 0;

		at = run_until(&t, now + S, now + 6 * S,
			       MG_WG_ACT_SEND_INITIATION | MG_WG_ACT_GIVE_UP, &seen);
		if (at == MG_WG_NEVER) {
			MG_FAIL("no retry after the initiation at %" PRIu64, now);
			break;
		}
		if (at < now + 5 * S || at > now + 5 * S + 345 * MS)
			MG_FAIL("retry %.3f s after the last initiation", (double)(at - now) / S);
		if (seen & MG_WG_ACT_GIVE_UP)
			break;
		now = at;
	}
	/* The first and 19 retries (MAX_TIMER_HANDSHAKES + 1) over about REKEY_ATTEMPT_TIME. */
	CHECK_EQ(sent, WG_MAX_TIMER_HANDSHAKES + 2);
	CHECK(at - first >= 100 * S && at - first <= 107 * S);
	/* Keys are then wiped REJECT_AFTER_TIME * 3 later. */
	CHECK_EQ(mg_wg_timers_next(&t), at + 540 * S);
	CHECK_EQ(mg_wg_timers_expire(&t, at + 540 * S), MG_WG_ACT_ZERO_KEYS);

	/* A completed handshake stops the retries. */
	mg_wg_timers_init(&t, 0, 9);
	mg_wg_timers_event(&t, MG_WG_TEV_WANT_HANDSHAKE, now);
	CHECK_EQ(mg_wg_timers_expire(&t, now), MG_WG_ACT_SEND_INITIATION);
	mg_wg_timers_event(&t, MG_WG_TEV_HANDSHAKE_INITIATED, now);
	mg_wg_timers_event(&t, MG_WG_TEV_SESSION_INITIATOR, now + 100 * MS);
	mg_wg_timers_event(&t, MG_WG_TEV_HANDSHAKE_COMPLETE, now + 100 * MS);
	CHECK_EQ(run_until(&t, now, now + 60 * S, MG_WG_ACT_SEND_INITIATION, NULL), MG_WG_NEVER);
}

/*
 * Two peers whose persistent keepalives fire together (their traversal events
 * are the same packets) and have no session: each keepalive asks for a
 * handshake. Initiations sent in the same instant collide (each side consumes
 * the other's initiation, which overwrites its own, so neither response is
 * accepted). The jittered retries must break the tie: the keepalives must not
 * send fresh initiations in step while the retries are pending.
 */
MG_TEST(timers_simultaneous_initiations_resolve)
{
	struct mg_wg_timers t[2];
	uint64_t now = 1000 * S, end = now + 60 * S;
	unsigned int collisions = 0;
	int won = -1;

	for (int i = 0; i < 2; i++) {
		mg_wg_timers_init(&t[i], 0, 11 + (uint64_t)i);
		mg_wg_timers_set_persistent_keepalive(&t[i], 5, now);
	}
	for (; now <= end && won < 0; now += 10 * MS) {
		bool sent[2] = {false, false};

		for (int i = 0; i < 2; i++) {
			uint32_t a = mg_wg_timers_expire(&t[i], now);

			if (a & MG_WG_ACT_SEND_KEEPALIVE) {
				/* No session: the peer layer turns the keepalive into a wish. */
				mg_wg_timers_event(&t[i], MG_WG_TEV_WANT_HANDSHAKE, now);
				a |= mg_wg_timers_expire(&t[i], now);
			}
			if (a & MG_WG_ACT_SEND_INITIATION) {
				mg_wg_timers_event(&t[i], MG_WG_TEV_HANDSHAKE_INITIATED, now);
				mg_wg_timers_event(&t[i], MG_WG_TEV_AUTH_SENT, now);
				mg_wg_timers_event(&t[i], MG_WG_TEV_AUTH_TRAVERSAL, now);
				sent[i] = true;
			}
		}
		if (sent[0] && sent[1]) {
			collisions++;
			for (int i = 0; i < 2; i++)
				mg_wg_timers_event(&t[i], MG_WG_TEV_AUTH_TRAVERSAL, now);
		} else if (sent[0] || sent[1]) {
			/* Alone within the round trip: the handshake completes. */
			won = sent[0] ? 0 : 1;
			mg_wg_timers_event(&t[won], MG_WG_TEV_SESSION_INITIATOR, now);
			mg_wg_timers_event(&t[won], MG_WG_TEV_HANDSHAKE_COMPLETE, now);
			mg_wg_timers_event(&t[1 - won], MG_WG_TEV_SESSION_RESPONDER, now);
		}
	}
	CHECK(collisions >= 1); /* the start collides: both keepalives fire at once */
	if (won < 0)
		MG_FAIL("%u collisions in 60 s and no handshake", collisions);
	CHECK(collisions <= 2);
}

MG_TEST(timers_keepalive)
{
	struct mg_wg_timers t;
	uint64_t now = 1000 * S;

	/* Data received, nothing sent: a keepalive KEEPALIVE_TIMEOUT later, not before. */
	mg_wg_timers_init(&t, 0, 1);
	mg_wg_timers_event(&t, MG_WG_TEV_SESSION_RESPONDER, now);
	mg_wg_timers_event(&t, MG_WG_TEV_DATA_RECEIVED, now);
	CHECK_EQ(run_until(&t, now, now + 20 * S, MG_WG_ACT_SEND_KEEPALIVE, NULL), now + 10 * S);
	/* Data received, then something sent: no keepalive. */
	mg_wg_timers_event(&t, MG_WG_TEV_DATA_RECEIVED, now + 30 * S);
	mg_wg_timers_event(&t, MG_WG_TEV_AUTH_SENT, now + 33 * S);
	CHECK_EQ(run_until(&t, now + 30 * S, now + 50 * S, MG_WG_ACT_SEND_KEEPALIVE, NULL),
		 MG_WG_NEVER);
	/* Data received again while a keepalive is pending: another one follows. */
	mg_wg_timers_event(&t, MG_WG_TEV_DATA_RECEIVED, now + 60 * S);
	mg_wg_timers_event(&t, MG_WG_TEV_DATA_RECEIVED, now + 65 * S);
	CHECK_EQ(run_until(&t, now + 60 * S, now + 80 * S, MG_WG_ACT_SEND_KEEPALIVE, NULL),
		 now + 70 * S);
	CHECK_EQ(run_until(&t, now + 70 * S + 10 * MS, now + 90 * S, MG_WG_ACT_SEND_KEEPALIVE,
			   NULL), now + 80 * S);

	/* Persistent keepalive every 25 s after any authenticated traversal; at once when set. */
	mg_wg_timers_init(&t, 0, 1);
	mg_wg_timers_set_persistent_keepalive(&t, 25, now);
	CHECK_EQ(mg_wg_timers_expire(&t, now), MG_WG_ACT_SEND_KEEPALIVE);
	mg_wg_timers_event(&t, MG_WG_TEV_AUTH_SENT, now);
	mg_wg_timers_event(&t, MG_WG_TEV_AUTH_TRAVERSAL, now);
	CHECK_EQ(run_until(&t, now, now + 30 * S, MG_WG_ACT_SEND_KEEPALIVE, NULL), now + 25 * S);
	mg_wg_timers_event(&t, MG_WG_TEV_AUTH_TRAVERSAL, now + 25 * S);
	mg_wg_timers_event(&t, MG_WG_TEV_AUTH_TRAVERSAL, now + 40 * S);
	CHECK_EQ(run_until(&t, now + 25 * S + 10 * MS, now + 70 * S, MG_WG_ACT_SEND_KEEPALIVE,
			   NULL), now + 65 * S);
	mg_wg_timers_set_persistent_keepalive(&t, 0, now + 66 * S);
	mg_wg_timers_event(&t, MG_WG_TEV_AUTH_TRAVERSAL, now + 66 * S);
	CHECK_EQ(mg_wg_timers_next(&t), MG_WG_NEVER);
}

MG_TEST(timers_rekey)
{
	struct mg_wg_timers t;
	uint64_t now = 1000 * S, at;

	/* The initiator rekeys when it sends after REKEY_AFTER_TIME. */
	mg_wg_timers_init(&t, 0, 3);
	mg_wg_timers_event(&t, MG_WG_TEV_SESSION_INITIATOR, now);
	mg_wg_timers_event(&t, MG_WG_TEV_DATA_SENT, now + 119 * S);
	mg_wg_timers_event(&t, MG_WG_TEV_AUTH_RECEIVED, now + 119 * S);
	CHECK_EQ(mg_wg_timers_expire(&t, now + 119 * S), 0);
	mg_wg_timers_event(&t, MG_WG_TEV_DATA_SENT, now + 120 * S);
	CHECK_EQ(mg_wg_timers_expire(&t, now + 120 * S), MG_WG_ACT_SEND_INITIATION);
	/* A keepalive sent counts as data does: a peer that only keeps the path alive rekeys. */
	mg_wg_timers_init(&t, 0, 3);
	mg_wg_timers_event(&t, MG_WG_TEV_SESSION_INITIATOR, now);
	mg_wg_timers_event(&t, MG_WG_TEV_KEEPALIVE_SENT, now + 119 * S);
	CHECK_EQ(mg_wg_timers_expire(&t, now + 119 * S), 0);
	mg_wg_timers_event(&t, MG_WG_TEV_KEEPALIVE_SENT, now + 121 * S);
	CHECK_EQ(mg_wg_timers_expire(&t, now + 121 * S), MG_WG_ACT_SEND_INITIATION);
	/* The responder does not. */
	mg_wg_timers_init(&t, 0, 3);
	mg_wg_timers_event(&t, MG_WG_TEV_SESSION_RESPONDER, now);
	mg_wg_timers_event(&t, MG_WG_TEV_DATA_SENT, now + 150 * S);
	mg_wg_timers_event(&t, MG_WG_TEV_AUTH_RECEIVED, now + 150 * S);
	CHECK_EQ(mg_wg_timers_expire(&t, now + 150 * S), 0);
	/*
	 * The initiator receiving after REJECT - KEEPALIVE - REKEY_TIMEOUT asks
	 * once, on any transport message: a keepalive (no DATA_RECEIVED) too.
	 */
	mg_wg_timers_init(&t, 0, 3);
	mg_wg_timers_event(&t, MG_WG_TEV_SESSION_INITIATOR, now);
	mg_wg_timers_event(&t, MG_WG_TEV_TRANSPORT_RECEIVED, now + 164 * S);
	CHECK_EQ(mg_wg_timers_expire(&t, now + 164 * S), 0);
	mg_wg_timers_event(&t, MG_WG_TEV_TRANSPORT_RECEIVED, now + 165 * S);
	CHECK_EQ(mg_wg_timers_expire(&t, now + 165 * S), MG_WG_ACT_SEND_INITIATION);
	mg_wg_timers_event(&t, MG_WG_TEV_HANDSHAKE_INITIATED, now + 165 * S);
	mg_wg_timers_event(&t, MG_WG_TEV_TRANSPORT_RECEIVED, now + 168 * S);
	CHECK_EQ(mg_wg_timers_expire(&t, now + 168 * S) & MG_WG_ACT_SEND_INITIATION, 0);
	/*
	 * The rekey checks follow the session we send on: a responder session
	 * not yet confirmed (its confirming data lost) leaves the initiator's
	 * current one, which still rekeys after REKEY_AFTER_TIME; once
	 * confirmed, the responder's is current and does not.
	 */
	mg_wg_timers_init(&t, 0, 3);
	mg_wg_timers_event(&t, MG_WG_TEV_SESSION_INITIATOR, now);
	mg_wg_timers_event(&t, MG_WG_TEV_SESSION_RESPONDER, now + 100 * S);
	mg_wg_timers_event(&t, MG_WG_TEV_DATA_SENT, now + 125 * S);
	CHECK_EQ(mg_wg_timers_expire(&t, now + 125 * S), MG_WG_ACT_SEND_INITIATION);
	mg_wg_timers_init(&t, 0, 3);
	mg_wg_timers_event(&t, MG_WG_TEV_SESSION_INITIATOR, now);
	mg_wg_timers_event(&t, MG_WG_TEV_SESSION_RESPONDER, now + 100 * S);
	mg_wg_timers_event(&t, MG_WG_TEV_SESSION_CONFIRMED, now + 101 * S);
	mg_wg_timers_event(&t, MG_WG_TEV_DATA_SENT, now + 250 * S);
	mg_wg_timers_event(&t, MG_WG_TEV_TRANSPORT_RECEIVED, now + 250 * S);
	CHECK_EQ(mg_wg_timers_expire(&t, now + 250 * S), 0);
	/* Data sent and no answer for KEEPALIVE + REKEY_TIMEOUT (+ jitter): new handshake. */
	mg_wg_timers_init(&t, 0, 5);
	mg_wg_timers_event(&t, MG_WG_TEV_SESSION_INITIATOR, now);
	mg_wg_timers_event(&t, MG_WG_TEV_DATA_SENT, now + S);
	mg_wg_timers_event(&t, MG_WG_TEV_DATA_SENT, now + 2 * S);
	at = run_until(&t, now + S, now + 30 * S, MG_WG_ACT_SEND_INITIATION, NULL);
	CHECK(at >= now + 16 * S && at < now + 16 * S + 345 * MS);
	/* An answer in time cancels it. */
	mg_wg_timers_init(&t, 0, 5);
	mg_wg_timers_event(&t, MG_WG_TEV_DATA_SENT, now + S);
	mg_wg_timers_event(&t, MG_WG_TEV_AUTH_RECEIVED, now + 3 * S);
	CHECK_EQ(run_until(&t, now + S, now + 30 * S, MG_WG_ACT_SEND_INITIATION, NULL),
		 MG_WG_NEVER);
	/* Keys are wiped REJECT_AFTER_TIME * 3 after the last session. */
	mg_wg_timers_init(&t, 0, 5);
	mg_wg_timers_event(&t, MG_WG_TEV_SESSION_INITIATOR, now);
	mg_wg_timers_event(&t, MG_WG_TEV_SESSION_RESPONDER, now + 100 * S);
	CHECK_EQ(mg_wg_timers_next(&t), now + 640 * S);
	CHECK_EQ(mg_wg_timers_expire(&t, now + 639 * S), 0);
	CHECK_EQ(mg_wg_timers_expire(&t, now + 640 * S), MG_WG_ACT_ZERO_KEYS);
	CHECK(!t.has_session);
}

#ifdef MG_TEST_TIMERS
/* A test build (-Dtest_timers=true) can shorten the protocol times. */
MG_TEST(timers_test_override)
{
	struct mg_wg_test_times tt = {
		.rekey_after = 2 * S, .reject_after = 3 * S, .rekey_timeout = 100 * MS,
		.jitter_max = 10 * MS, .keepalive = 200 * MS, .cookie_max_age = 2 * S,
		.cookie_latency = 100 * MS,
	};
	struct mg_wg_timers t;
	uint64_t now = 1000 * S;

	mg_wg_test_set_times(&tt);
	mg_wg_timers_init(&t, 0, 1);
	mg_wg_timers_event(&t, MG_WG_TEV_SESSION_INITIATOR, now);
	mg_wg_timers_event(&t, MG_WG_TEV_DATA_RECEIVED, now);
	CHECK_EQ(run_until(&t, now, now + S, MG_WG_ACT_SEND_KEEPALIVE, NULL), now + 200 * MS);
	CHECK_EQ(mg_wg_timers_next(&t), now + 9 * S);
	mg_wg_timers_event(&t, MG_WG_TEV_DATA_SENT, now + 2 * S);
	CHECK(mg_wg_timers_expire(&t, now + 2 * S) & MG_WG_ACT_SEND_INITIATION);
	mg_wg_test_set_times(NULL);
	mg_wg_timers_init(&t, 0, 1);
	mg_wg_timers_event(&t, MG_WG_TEV_DATA_RECEIVED, now);
	CHECK_EQ(mg_wg_timers_next(&t), now + 10 * S);
}
#endif

/* The peer-level glue: worker activity through the data path drives the timers. */
MG_TEST(timers_peer_poll)
{
	struct mg_wg_worker *w;
	struct mg_wg_keypair *ka;
	struct rte_mbuf *m;
	struct pair p;
	uint8_t st[2];
	uint32_t act;
	uint64_t now = 10 * S;

	need_eal();
	w = mg_wg_worker_create(SOCKET_ID_ANY);
	pair_make(&p, NULL, NULL);
	/* No session: a keepalive request turns into an initiation. */
	mg_wg_peer_set_persistent_keepalive(p.b_on_a, 25, now);
	CHECK_EQ(mg_wg_peer_poll(p.a, p.b_on_a, now), MG_WG_ACT_SEND_INITIATION);
	mg_wg_peer_set_persistent_keepalive(p.b_on_a, 0, now);
	CHECK(handshake(&p, now));
	ka = mg_wg_peer_tx_keypair(p.b_on_a, now);
	CHECK(w != NULL && ka != NULL);
	if (w == NULL || ka == NULL)
		return;
	/* A sends data; B receives it and stays silent: B owes a keepalive 10 s later. */
	m = enc1(w, ka, 0x0100000a, 60);
	CHECK_EQ(mg_wg_decrypt_burst(w, p.b, NULL, &m, 1, now, st, NULL), 1);
	rte_pktmbuf_free(m);
	CHECK_EQ(mg_wg_peer_poll(p.b, p.a_on_b, now + 100 * MS), 0);
	CHECK_EQ(mg_wg_peer_poll(p.b, p.a_on_b, now + 9 * S), 0);
	act = mg_wg_peer_poll(p.b, p.a_on_b, now + 10 * S);
	CHECK_EQ(act, MG_WG_ACT_SEND_KEEPALIVE);
	m = rte_pktmbuf_alloc(pool);
	CHECK_EQ(mg_wg_keepalive(w, p.a_on_b, m, now + 10 * S), 0);
	CHECK_EQ(rte_pktmbuf_pkt_len(m), 32);
	/* A gets it: a keepalive, authenticated, no data. */
	CHECK_EQ(mg_wg_decrypt_burst(w, p.a, NULL, &m, 1, now + 10 * S, st, NULL), 0);
	CHECK_EQ(st[0], MG_WG_RX_KEEPALIVE);
	rte_pktmbuf_free(m);
	/* A sent data 10 s ago and got only that keepalive: no new handshake (it was authenticated). */
	CHECK_EQ(mg_wg_peer_poll(p.a, p.b_on_a, now + 10 * S + MS), 0);
	CHECK_EQ(mg_wg_peer_poll(p.a, p.b_on_a, now + 20 * S), 0);
	/* A sends again, B answers nothing: A starts a handshake 15 s (+ jitter) later. */
	m = enc1_at(w, ka, 0x0100000a, 60, now + 11 * S);
	rte_pktmbuf_free(m);
	CHECK_EQ(mg_wg_peer_poll(p.a, p.b_on_a, now + 11 * S + MS), 0);
	CHECK_EQ(mg_wg_peer_poll(p.a, p.b_on_a, now + 25 * S), 0);
	CHECK_EQ(mg_wg_peer_poll(p.a, p.b_on_a, now + 27 * S), MG_WG_ACT_SEND_INITIATION);
	/* After REJECT_AFTER_TIME * 3 without a session, A's keys are gone. */
	CHECK_EQ(mg_wg_peer_poll(p.a, p.b_on_a, now + 541 * S), 0);
	CHECK(atomic_load(&p.b_on_a->kp_current) == NULL);
	CHECK(atomic_load(&p.b_on_a->kp_previous) == NULL);
	CHECK_EQ(p.a->index.used, 0);
	struct mg_wg_iface_stats ist;

	mg_wg_iface_stats(p.a, &ist);
	CHECK_EQ(ist.keys_zeroed, 1);
	mg_wg_worker_destroy(w);
	pair_free(&p);
}

/* ---- Allowed IPs ---------------------------------------------------------------------- */

struct ref_aip {
	struct mg_prefix p;
	struct mg_wg_peer *peer;
};

/* Naive longest-prefix match; among equal prefixes the last added wins. */
static struct mg_wg_peer *
ref_aip_lookup(const struct ref_aip *r, unsigned int n, const struct mg_ip *ip)
{
	struct mg_wg_peer *best = NULL;
	int best_len = -1;

	for (unsigned int i = 0; i < n; i++)
		if (r[i].p.addr.family == ip->family && mg_prefix_contains(&r[i].p, ip) &&
		    (int)r[i].p.len >= best_len) {
			best_len = r[i].p.len;
			best = r[i].peer;
		}
	return best;
}

/* A random address, biased to share leading bits with a few "networks". */
static void
random_ip(struct mg_ip *ip, int family)
{
	static const uint8_t nets[4][16] = {{10, 1}, {10, 1, 2}, {192, 168}, {0x20, 0x01, 0x0d, 0xb8}};
	const uint8_t *base = nets[rte_rand_max(4)];
	unsigned int keep = (unsigned int)rte_rand_max(5);

	memset(ip, 0, sizeof(*ip));
	ip->family = (uint8_t)family;
	for (int i = 0; i < 16; i++)
		ip->bytes[i] = (unsigned int)i < keep ? base[i] : (uint8_t)rte_rand();
	if (family == AF_INET)
		memset(ip->bytes + 4, 0, 12);
}

MG_TEST(allowedips_vs_reference)
{
	enum { NPFX = 1500, NLOOK = 40000 };
	struct ref_aip *ref = calloc(NPFX, sizeof(*ref));
	struct mg_wg_aip_builder *b = mg_wg_aip_builder_create();
	struct mg_wg_aip *t;
	unsigned int wrong = 0, hits = 0;

	for (unsigned int i = 0; i < NPFX; i++) {
		int fam = rte_rand_max(2) ? AF_INET : AF_INET6;
		unsigned int max = fam == AF_INET ? 32 : 128;

		if (i > 0 && rte_rand_max(10) == 0) {
			/* The same prefix again, for another peer: the last one wins. */
			ref[i].p = ref[rte_rand_max(i)].p;
		} else {
			random_ip(&ref[i].p.addr, fam);
			ref[i].p.len = (uint8_t)(rte_rand_max(4) == 0 ? rte_rand_max(max + 1)
						 : max - rte_rand_max(max / 4 + 1));
			if (rte_rand_max(200) == 0)
				ref[i].p.len = 0;
		}
		mg_prefix_mask(&ref[i].p);
		ref[i].peer = (struct mg_wg_peer *)(uintptr_t)(0x1000 + 8 * i);
		CHECK_EQ(mg_wg_aip_builder_add(b, &ref[i].p, ref[i].peer, NULL), 0);
	}
	t = mg_wg_aip_build(b, NULL);
	CHECK(t != NULL);
	if (t == NULL)
		return;
	for (unsigned int i = 0; i < NLOOK; i++) {
		struct mg_ip ip;

		if (i % 4 == 0) {
			/* Inside, or just beside, a configured prefix. */
			const struct mg_prefix *p = &ref[rte_rand_max(NPFX)].p;

			ip = p->addr;
			ip.bytes[rte_rand_max(p->addr.family == AF_INET ? 4 : 16)] ^=
				(uint8_t)(1u << rte_rand_max(8));
		} else {
			random_ip(&ip, i & 1 ? AF_INET : AF_INET6);
		}
		struct mg_wg_peer *want = ref_aip_lookup(ref, NPFX, &ip), *got = mg_wg_aip_lookup(t, &ip);

		hits += want != NULL;
		if (want != got && wrong++ < 5) {
			char buf[MG_IP_STRLEN];

			MG_FAIL("%s: table %p, reference %p", mg_ip_fmt(&ip, buf, sizeof(buf)),
				(void *)got, (void *)want);
		}
	}
	CHECK_EQ(wrong, 0);
	CHECK(hits > NLOOK / 10);
	/* The IPv4 entry point agrees. */
	struct mg_ip ip4 = ref[0].p.addr;

	if (ip4.family == AF_INET)
		CHECK(mg_wg_aip_lookup4(t, ip4.v4) == ref_aip_lookup(ref, NPFX, &ip4));
	mg_wg_aip_free(t);
	mg_wg_aip_builder_destroy(b);
	free(ref);
}

static void
count_walk(void *arg, const struct mg_prefix *p, struct mg_wg_peer *peer)
{
	(void)p;
	(void)peer;
	(*(int *)arg)++;
}

MG_TEST(allowedips_edges)
{
	struct mg_wg_aip_builder *b = mg_wg_aip_builder_create();
	struct mg_wg_peer *p1 = (struct mg_wg_peer *)(uintptr_t)0x100;
	struct mg_wg_peer *p2 = (struct mg_wg_peer *)(uintptr_t)0x200;
	struct mg_wg_aip *t;
	struct mg_prefix pfx;
	struct mg_ip ip;
	struct mg_error e;
	int n = 0;

	/* Empty table: nothing matches. */
	t = mg_wg_aip_build(b, NULL);
	mg_ip_parse("10.0.0.1", &ip);
	CHECK(mg_wg_aip_lookup(t, &ip) == NULL);
	mg_wg_aip_free(t);
	/* /0 for one peer, a host route for the other, host bits ignored, last add wins. */
	mg_prefix_parse("0.0.0.0/0", &pfx);
	mg_wg_aip_builder_add(b, &pfx, p1, NULL);
	mg_prefix_parse("10.0.0.1/32", &pfx);
	mg_wg_aip_builder_add(b, &pfx, p1, NULL);
	mg_wg_aip_builder_add(b, &pfx, p2, NULL);
	pfx.len = 24;
	pfx.addr.bytes[3] = 77;
	mg_wg_aip_builder_add(b, &pfx, p2, NULL);
	mg_prefix_parse("::/0", &pfx);
	mg_wg_aip_builder_add(b, &pfx, p2, NULL);
	pfx.addr.family = 7;
	CHECK_EQ(mg_wg_aip_builder_add(b, &pfx, p2, &e), -EINVAL);
	t = mg_wg_aip_build(b, NULL);
	CHECK(mg_wg_aip_lookup(t, &ip) == p2);
	mg_ip_parse("10.0.0.2", &ip);
	CHECK(mg_wg_aip_lookup(t, &ip) == p2);
	mg_ip_parse("10.0.1.2", &ip);
	CHECK(mg_wg_aip_lookup(t, &ip) == p1);
	mg_ip_parse("2001:db8::1", &ip);
	CHECK(mg_wg_aip_lookup(t, &ip) == p2);
	mg_wg_aip_walk(t, count_walk, &n);
	CHECK_EQ(n, 4);
	mg_wg_aip_free(t);
	mg_wg_aip_builder_destroy(b);
}

/* ---- Keys ----------------------------------------------------------------------------- */

MG_TEST(base64_keys)
{
	uint8_t k[32], back[32];
	char b64[MG_WG_KEY_B64_LEN + 1];
	struct mg_error e;

	for (int i = 0; i < 32; i++)
		k[i] = (uint8_t)i;
	CHECK_STR(mg_wg_key_to_base64(b64, k), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < 32; i++)
			k[i] = (uint8_t)rte_rand();
		mg_wg_key_to_base64(b64, k);
		CHECK_EQ(strlen(b64), 44);
		CHECK_EQ(mg_wg_key_from_base64(back, b64, &e), 0);
		if (memcmp(k, back, 32) != 0)
			MG_FAIL("round trip of %s failed", b64);
	}
	/* Every alphabet character decodes to its value. */
	CHECK_EQ(mg_wg_key_from_base64(back, "+/abczABCZ0189AAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", &e), 0);
	CHECK_EQ(back[0], 0xfb);
	CHECK_EQ(back[1], 0xf6);
	/* Bad inputs, each with its own message that never quotes the text. */
	CHECK_EQ(mg_wg_key_from_base64(back, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", &e),
		 -EINVAL);
	CHECK(strstr(e.msg, "44 characters") != NULL && strstr(e.msg, "43") != NULL);
	CHECK_EQ(mg_wg_key_from_base64(back, "", &e), -EINVAL);
	CHECK_EQ(mg_wg_key_from_base64(back, NULL, &e), -EINVAL);
	CHECK_EQ(mg_wg_key_from_base64(back, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A", &e),
		 -EINVAL);
	CHECK(strstr(e.msg, "ending in '='") != NULL);
	CHECK_EQ(mg_wg_key_from_base64(back, "AAECAwQFBgcICQoLDA0O*xAREhMUFRYXGBkaGxwdHh8=", &e),
		 -EINVAL);
	CHECK(strstr(e.msg, "position 21") != NULL);
	CHECK(strstr(e.msg, "AAEC") == NULL);
	CHECK_EQ(mg_wg_key_from_base64(back, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh=", &e),
		 -EINVAL);
	CHECK(strstr(e.msg, "44 characters") != NULL);
	CHECK_EQ(mg_wg_key_from_base64(back, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=", &e),
		 -EINVAL);
	CHECK(strstr(e.msg, "canonical") != NULL);
	CHECK(wg_is_zero(back, 32));
	/* genkey | pubkey as `wg` would print them: the public key of a known private key. */
	CHECK_EQ(mg_wg_key_from_base64(k, "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=", &e), 0);
	CHECK_EQ(mg_wg_key_public(back, k), 0);
	CHECK_STR(mg_wg_key_to_base64(b64, back), "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=");
	CHECK_EQ(mg_wg_key_generate_psk(k), 0);
	CHECK(!wg_is_zero(k, 32));
}

MG_TEST(result_names)
{
	CHECK_STR(mg_wg_rx_status_name(MG_WG_RX_REPLAY), "replay");
	CHECK_STR(mg_wg_rx_status_name(MG_WG_RX_SRC_NOT_ALLOWED), "src_not_allowed");
	CHECK_STR(mg_wg_tx_status_name(MG_WG_TX_NO_ROOM), "no_room");
	CHECK_STR(mg_wg_hs_result_name(MG_WG_HS_ERR_MAC1), "err_mac1");
	CHECK_STR(mg_wg_hs_result_name(999), "unknown");
	CHECK_STR(mg_wg_hs_result_desc(MG_WG_HS_ERR_REPLAY),
		  "initiation timestamp not newer than the last one");
	CHECK_EQ(mg_wg_msg_type("\x01\0\0\0", 4), 0);
	CHECK_EQ(mg_wg_msg_type("\x04\0\0\0", 4), 0);
}

/*
 * The initiator's last-minute rekey (REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT -
 * REKEY_TIMEOUT after its session began) is asked for on any transport
 * message received: a keepalive as well as data (the Linux module's
 * keep_key_fresh on receive runs before its keepalive check).
 */
static uint32_t
lastminute_after(bool data)
{
	struct mg_wg_worker *w = mg_wg_worker_create(SOCKET_ID_ANY);
	struct mg_wg_keypair *kb;
	struct mg_wg_peer *pe[1];
	struct rte_mbuf *m;
	struct pair p;
	uint8_t st[1];
	uint32_t act;

	pair_make(&p, NULL, NULL);
	CHECK(handshake(&p, 10 * S));
	mg_wg_peer_poll(p.a, p.b_on_a, 10 * S);
	/* A's keepalive confirms B's (responder) session. */
	m = rte_pktmbuf_alloc(pool);
	CHECK_EQ(mg_wg_keepalive(w, p.b_on_a, m, 10 * S), 0);
	CHECK_EQ(mg_wg_decrypt_burst(w, p.b, NULL, &m, 1, 10 * S, st, pe), 0);
	CHECK_EQ(st[0], MG_WG_RX_KEEPALIVE);
	rte_pktmbuf_free(m);
	mg_wg_peer_poll(p.b, p.a_on_b, 10 * S + MS);
	mg_wg_peer_poll(p.a, p.b_on_a, 10 * S + MS);
	/* B sends at 180 s: A's session is 170 s old. */
	kb = mg_wg_peer_tx_keypair(p.a_on_b, 180 * S);
	CHECK(kb != NULL);
	m = data ? ip4_packet(0x0200000a, 0x0100000a, 60, 1) : rte_pktmbuf_alloc(pool);
	CHECK_EQ(mg_wg_encrypt_burst(w, kb, &m, 1, 180 * S, st), 1);
	CHECK_EQ(mg_wg_decrypt_burst(w, p.a, NULL, &m, 1, 180 * S, st, pe), data ? 1 : 0);
	CHECK(pe[0] == p.b_on_a);
	rte_pktmbuf_free(m);
	act = mg_wg_peer_poll(p.a, p.b_on_a, 180 * S + MS);
	pair_free(&p);
	mg_wg_worker_destroy(w);
	return act;
}

MG_TEST(lastminute_rekey_on_keepalive_and_data)
{
	need_eal();
	CHECK(lastminute_after(false) & MG_WG_ACT_SEND_INITIATION);
	CHECK(lastminute_after(true) & MG_WG_ACT_SEND_INITIATION);
}

/*
 * A's initiator session K1 (10 s) is the one it sends on while the
 * responder session B's initiation made at 100 s waits for confirmation
 * (the response was lost): sending on K1 after REKEY_AFTER_TIME rekeys, as
 * the Linux module's keep_key_fresh checks the current keypair.
 */
MG_TEST(rekey_follows_the_keypair_sent_on)
{
	need_eal();
	struct mg_wg_worker *w = mg_wg_worker_create(SOCKET_ID_ANY);
	uint8_t st[1], init[MG_WG_INITIATION_LEN], reply[MG_WG_REPLY_MAX];
	struct mg_wg_keypair *k1, *kt;
	struct mg_wg_peer *who;
	struct rte_mbuf *m;
	struct pair p;
	size_t rlen;

	pair_make(&p, NULL, NULL);
	CHECK(handshake(&p, 10 * S));
	mg_wg_peer_poll(p.a, p.b_on_a, 10 * S);
	k1 = atomic_load(&p.b_on_a->kp_current);
	CHECK_EQ(mg_wg_initiation_create(p.b, p.a_on_b, 100 * S, init), 0);
	CHECK_EQ(mg_wg_handshake_receive(p.a, init, sizeof(init), &src_b, 100 * S, reply, &rlen,
					 &who), MG_WG_HS_RESPONSE);
	mg_wg_peer_poll(p.a, p.b_on_a, 100 * S);
	CHECK(atomic_load(&p.b_on_a->kp_next) != NULL);
	kt = mg_wg_peer_tx_keypair(p.b_on_a, 135 * S);
	CHECK(kt == k1);
	m = ip4_packet(0x0100000a, 0x0200000a, 60, 1);
	CHECK_EQ(mg_wg_encrypt_burst(w, kt, &m, 1, 135 * S, st), 1);
	rte_pktmbuf_free(m);
	CHECK(mg_wg_peer_poll(p.a, p.b_on_a, 135 * S + MS) & MG_WG_ACT_SEND_INITIATION);
	pair_free(&p);
	mg_wg_worker_destroy(w);
}

/*
 * mg_wg_decrypt_burst puts the data first and the rest after, each part in
 * arrival order (wg-input walks them back into arrival order for roaming:
 * the endpoint is the source of the last authenticated packet).
 */
MG_TEST(decrypt_keeps_arrival_order_within_parts)
{
	need_eal();
	struct mg_wg_worker *w = mg_wg_worker_create(SOCKET_ID_ANY);
	struct rte_mbuf *m[4], *in[4];
	struct mg_wg_peer *pe[4];
	struct mg_wg_keypair *ka;
	struct pair p;
	uint8_t st[4];

	pair_make(&p, NULL, NULL);
	CHECK(handshake(&p, 10 * S));
	ka = mg_wg_peer_tx_keypair(p.b_on_a, 10 * S);
	/* keepalive, data, keepalive, data */
	for (int i = 0; i < 4; i++)
		m[i] = i % 2 ? ip4_packet(0x0100000a, 0x0200000a, 60, (uint16_t)i) :
			       rte_pktmbuf_alloc(pool);
	CHECK_EQ(mg_wg_encrypt_burst(w, ka, m, 4, 10 * S, st), 4);
	memcpy(in, m, sizeof(in));
	CHECK_EQ(mg_wg_decrypt_burst(w, p.b, NULL, m, 4, 10 * S, st, pe), 2);
	CHECK(m[0] == in[1] && m[1] == in[3] && m[2] == in[0] && m[3] == in[2]);
	for (int i = 0; i < 4; i++)
		CHECK(pe[i] == p.a_on_b);
	rte_pktmbuf_free_bulk(m, 4);
	pair_free(&p);
	mg_wg_worker_destroy(w);
}

MG_TEST_MAIN()
