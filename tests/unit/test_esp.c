/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/esp: published known-answer vectors through the inbound path, round
 * trips for every algorithm, mode, outer/inner family and encapsulation,
 * the anti-replay window (order, reordering, age, duplicates, sizes, ESN
 * wrap), lifetimes, tampering, DSCP/ECN/DF, the MTU arithmetic against real
 * packets, the burst contract, key redaction and wiping, and the
 * multi-worker scheme (unique outbound sequence numbers, inbound owners and
 * handoff, rekeying without loss) with concurrent lcores.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_esp.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include "mg_esp.h"
#include "mg_test.h"
#include "mg_test_eal.h"

static struct rte_mempool *pool;

/* EAL once per process: the main lcore and two workers on the two CPUs. */
static void
setup(void)
{
	mg_test_eal_init("test_esp", "0@0,1@1,2@0", 512);
	pool = rte_pktmbuf_pool_create("esp_test", 32767, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	if (pool == NULL) {
		fprintf(stderr, "no mbuf pool\n");
		exit(2);
	}
}

/* ---- helpers ------------------------------------------------------------------------- */

/* A context whose worker i runs on lcores[i]. */
static struct mg_esp *
ctx_on(unsigned int n, const unsigned int *lcores, struct rte_rcu_qsbr *rcu)
{
	struct mg_esp_conf c = {.nb_workers = n, .rcu = rcu};
	struct mg_error e;
	struct mg_esp *esp;

	for (unsigned int i = 0; i < n; i++)
		c.lcores[i] = lcores[i];
	esp = mg_esp_create(&c, &e);
	if (esp == NULL) {
		fprintf(stderr, "mg_esp_create: %s: %s\n", e.field, e.msg);
		exit(2);
	}
	return esp;
}

/* A context with one worker: the main lcore. */
static struct mg_esp *
ctx1(void)
{
	unsigned int l = rte_get_main_lcore();

	return ctx_on(1, &l, NULL);
}

/* Key sizes per algorithm: cipher, HMAC, salt. */
static void
key_sizes(enum mg_esp_algo a, uint8_t *enc, uint8_t *auth, uint8_t *salt)
{
	static const uint8_t t[MG_ESP_ALGO_MAX][3] = {
		[MG_ESP_AES_GCM_128] = {16, 0, 4},  [MG_ESP_AES_GCM_256] = {32, 0, 4},
		[MG_ESP_AES_CBC_128_SHA256] = {16, 32, 0},
		[MG_ESP_AES_CBC_256_SHA256] = {32, 32, 0},
		[MG_ESP_CHACHA20_POLY1305] = {32, 0, 4}, [MG_ESP_NULL_SHA256] = {0, 32, 0},
	};
	*enc = t[a][0];
	*auth = t[a][1];
	*salt = t[a][2];
}

/* Tunnel endpoint A (local of outbound SAs) or B, in a family. */
static struct mg_ip
endpoint(int fam, bool b)
{
	struct mg_ip ip;

	mg_ip_parse(fam == AF_INET ? (b ? "192.0.2.2" : "192.0.2.1") :
				     (b ? "2001:db8::2" : "2001:db8::1"), &ip);
	return ip;
}

/* A spec whose outbound and inbound halves talk to each other (A -> B). */
static struct mg_esp_sa_spec
spec_of(enum mg_esp_dir dir, enum mg_esp_algo a, int ofam, int ifam, bool natt, uint32_t spi)
{
	struct mg_esp_sa_spec s;
	uint8_t salt;

	memset(&s, 0, sizeof(s));
	s.spi = spi;
	s.dir = dir;
	s.algo = a;
	s.local = endpoint(ofam, dir == MG_ESP_INBOUND);
	s.remote = endpoint(ofam, dir == MG_ESP_OUTBOUND);
	s.inner_family = ifam;
	key_sizes(a, &s.enc_key_len, &s.auth_key_len, &salt);
	for (int i = 0; i < MG_ESP_KEY_MAX; i++)
		s.enc_key[i] = 0xa0 + i;
	for (int i = 0; i < MG_ESP_AUTH_KEY_MAX; i++)
		s.auth_key[i] = 0x50 + i;
	if (salt)
		memcpy(s.salt, "\x5a\x17\x5a\x17", 4);
	s.udp_encap = natt;
	s.owner = -1;
	return s;
}

/* Create an SA or fail the test with the error. */
static struct mg_esp_sa *
sa_new(struct mg_esp *esp, const struct mg_esp_sa_spec *s)
{
	struct mg_error e;
	struct mg_esp_sa *sa = mg_esp_sa_create(esp, s, &e);

	if (sa == NULL)
		MG_FAIL("mg_esp_sa_create: %s: %s", e.field, e.msg);
	return sa;
}

/* An inner IPv4/UDP or IPv6/UDP packet of @p len bytes carrying @p tag. */
static struct rte_mbuf *
inner_pkt(int fam, uint16_t len, uint32_t tag, uint8_t tos, bool df)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint8_t *p;
	uint16_t hl = fam == AF_INET ? 20 : 40;

	if (m == NULL)
		return NULL;
	p = (uint8_t *)rte_pktmbuf_append(m, len);
	if (p == NULL) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	memset(p, 0, len);
	if (fam == AF_INET) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)p;

		ip->version_ihl = 0x45;
		ip->type_of_service = tos;
		ip->total_length = htons(len);
		ip->packet_id = htons(tag & 0xffff);
		ip->fragment_offset = df ? htons(RTE_IPV4_HDR_DF_FLAG) : 0;
		ip->time_to_live = 64;
		ip->next_proto_id = IPPROTO_UDP;
		ip->src_addr = htonl(0x0a000001);
		ip->dst_addr = htonl(0x0a000002);
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	} else {
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)p;

		ip6->vtc_flow = htonl(6u << 28 | (uint32_t)tos << 20 | (tag & 0xfffff));
		ip6->payload_len = htons(len - 40);
		ip6->proto = IPPROTO_UDP;
		ip6->hop_limits = 64;
		ip6->src_addr[0] = 0xfd;
		ip6->src_addr[15] = 1;
		ip6->dst_addr[0] = 0xfd;
		ip6->dst_addr[15] = 2;
	}
	struct rte_udp_hdr *u = (struct rte_udp_hdr *)(p + hl);

	u->src_port = htons(1000);
	u->dst_port = htons(2000);
	u->dgram_len = htons(len - hl);
	for (uint16_t i = hl + 8; i < len; i++)
		p[i] = (uint8_t)(tag * 7 + i);
	if (len >= hl + 12)
		memcpy(p + hl + 8, &tag, 4);
	return m;
}

/* The tag an inner packet carries. */
static uint32_t
inner_tag(const struct rte_mbuf *m)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t tag;

	memcpy(&tag, p + ((p[0] >> 4) == 4 ? 28 : 48), 4);
	return tag;
}

/* A packet from raw bytes. */
static struct rte_mbuf *
raw_pkt(const uint8_t *b, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);

	memcpy(rte_pktmbuf_append(m, len), b, len);
	return m;
}

/* Free an array of mbufs. */
static void
free_all(struct rte_mbuf **m, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		rte_pktmbuf_free(m[i]);
}

/* Sequence number field of an outer packet (host order). */
static uint32_t
esp_seq(const struct rte_mbuf *m, bool natt)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	unsigned int hl = ((p[0] >> 4) == 4 ? (p[0] & 0xf) * 4 : 40) + (natt ? 8 : 0);
	uint32_t s;

	memcpy(&s, p + hl + 4, 4);
	return ntohl(s);
}

/* Encrypt one burst; fails the test unless all succeed. */
static void
enc_all(struct mg_esp_worker *wk, struct mg_esp_sa *sa, struct rte_mbuf **m, uint16_t n)
{
	uint8_t r[MG_ESP_MAX_BURST];
	uint16_t k = mg_esp_encrypt_burst(wk, sa, m, n, r);

	if (k != n)
		MG_FAIL("encrypted %u of %u (first reason %s)", k, n, mg_esp_err_name(r[k]));
}

/* Encrypt a sequence of @p n packets (tags 0..n-1) into @p out, in bursts. */
static void
enc_seq(struct mg_esp_worker *wk, struct mg_esp_sa *sa, int ifam, uint16_t len,
	struct rte_mbuf **out, unsigned int n)
{
	for (unsigned int i = 0; i < n; i += 32) {
		uint16_t b = RTE_MIN(32u, n - i);

		for (uint16_t j = 0; j < b; j++)
			out[i + j] = inner_pkt(ifam, len, i + j, 0, false);
		enc_all(wk, sa, out + i, b);
	}
}

/* Decrypt one packet; returns its reason (NONE when it passed) and frees it. */
static uint8_t
dec_one(struct mg_esp_worker *wk, struct mg_esp_sa *sa, struct rte_mbuf *m)
{
	uint8_t r = MG_ESP_ERR_NONE;

	if (mg_esp_decrypt_burst(wk, sa, &m, 1, &r) == 1)
		r = MG_ESP_ERR_NONE;
	rte_pktmbuf_free(m);
	return r;
}

/* Copy of a packet (to deliver it twice). */
static struct rte_mbuf *
pkt_dup(const struct rte_mbuf *m)
{
	return rte_pktmbuf_copy(m, pool, 0, UINT32_MAX);
}

/* ---- known answers: published vectors through the inbound path -------------------------- */

/* Byte string from hex text (spaces allowed); returns its length. */
static size_t
hex(const char *s, uint8_t *out)
{
	size_t n = 0;

	while (*s) {
		unsigned int v;

		if (*s == ' ' || *s == '\n') {
			s++;
			continue;
		}
		sscanf(s, "%2x", &v);
		out[n++] = v;
		s += 2;
	}
	return n;
}

/* An ESP/IPv4 packet from B to A around @p esp_bytes (SPI onward). */
static struct rte_mbuf *
esp4_pkt(const uint8_t *esp, size_t len)
{
	uint8_t b[2048];
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)b;
	struct mg_ip a = endpoint(AF_INET, false), bb = endpoint(AF_INET, true);

	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = 0x45;
	ip->total_length = htons(20 + len);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_ESP;
	ip->src_addr = a.v4;
	ip->dst_addr = bb.v4;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	memcpy(b + 20, esp, len);
	return raw_pkt(b, 20 + len);
}

/* An inbound SA (A -> B, IPv4 in IPv4) with the given keys. */
static struct mg_esp_sa *
kat_sa(struct mg_esp *esp, enum mg_esp_algo a, uint32_t spi, const char *key, const char *akey,
       const char *salt, bool esn, uint64_t seen, enum mg_esp_mode mode)
{
	struct mg_esp_sa_spec s = spec_of(MG_ESP_INBOUND, a, AF_INET, AF_INET, false, spi);

	s.enc_key_len = key ? hex(key, s.enc_key) : 0;
	s.auth_key_len = akey ? hex(akey, s.auth_key) : 0;
	memset(s.salt, 0, 4);
	if (salt)
		hex(salt, s.salt);
	s.esn = esn;
	s.initial_seq = seen;
	s.mode = mode;
	return sa_new(esp, &s);
}

/*
 * RFC 7634 appendix A: ChaCha20-Poly1305 tunnel-mode ESP (SPI 0x01020304,
 * sequence 5), decrypted to the published ICMP packet, in both modes; one
 * flipped bit of the tag fails authentication.
 */
MG_TEST(kat_rfc7634_chacha20_poly1305)
{
	struct mg_esp *esp = ctx1();
	struct mg_esp_worker *wk = mg_esp_worker(esp, 0);
	uint8_t esp_b[256], inner[128];
	size_t n = hex("01020304 00000005 1011121314151617"
		       "24039428b97f417e3c13753a4f05087b67c352e6a7fab1b982d466ef407ae5c6"
		       "14ee8099d52844eb61aa95dfab4c02f72aa71e7c4c4f64c9befe2facc638e8f3"
		       "cbec163fac469b502773f6fb94e664da9165b82829f641e0"
		       "76aaa8266b7fb0f7b11b369907e1ad43", esp_b);
	size_t ni = hex("45000054a6f200004001e778c6336405c000020508005b7a3a080000553bec10"
			"0007362708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223"
			"2425262728292a2b2c2d2e2f3031323334353637", inner);
	const enum mg_esp_mode modes[] = {MG_ESP_MODE_CPU, MG_ESP_MODE_LOOKASIDE,
					   MG_ESP_MODE_DIRECT};

	for (unsigned int i = 0; i < RTE_DIM(modes); i++) {
		struct mg_esp_sa *sa = kat_sa(esp, MG_ESP_CHACHA20_POLY1305, 0x01020304,
			"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f", NULL,
			"a0a1a2a3", false, 0, modes[i]);
		struct rte_mbuf *m;
		uint8_t r = 0;

		esp_b[n - 1] ^= 1;
		m = esp4_pkt(esp_b, n);
		esp_b[n - 1] ^= 1;
		/* First with one bit of the tag flipped (a failure leaves the window alone). */
		CHECK_EQ(mg_esp_decrypt_burst(wk, sa, &m, 1, &r), 0);
		CHECK_EQ(r, MG_ESP_ERR_AUTH);
		rte_pktmbuf_free(m);
		m = esp4_pkt(esp_b, n);
		CHECK_EQ(mg_esp_decrypt_burst(wk, sa, &m, 1, &r), 1);
		CHECK_EQ(m->pkt_len, ni);
		CHECK(memcmp(rte_pktmbuf_mtod(m, void *), inner, ni) == 0);
		CHECK_EQ(m->l3_len, 20);
		rte_pktmbuf_free(m);
		mg_esp_sa_destroy(esp, sa);
	}
	mg_esp_destroy(esp);
}

/*
 * draft-mcgrew-gcm-test-01 (the test cases for RFC 4106): AES-GCM-128
 * (page 7), AES-GCM-256 (page 8) and AES-GCM-128 with a 64-bit ESN (page 6).
 * Their plaintexts end in next header 1, which a tunnel-mode SA refuses
 * after decryption: the packet fails with BAD_TRAILER, not AUTH (so the ICV
 * verified with the SPI, sequence number and salt as RFC 4106 builds them),
 * and the decrypted bytes left in place equal the published plaintext.
 */
MG_TEST(kat_rfc4106_aes_gcm)
{
	static const struct {
		enum mg_esp_algo algo;
		const char *key, *salt, *esp, *plain;
		bool esn;
		uint64_t seen;
	} v[] = {
		{MG_ESP_AES_GCM_128, "feffe9928665731c6d6a8f9467308308", "cafebabe",
		 "0000a5f8 0000000a facedbaddecaf888"
		 "deb22cd9b07c72c16e3a65beeb8df304a5a5897d33ae530f1ba76d5d114d2a5c"
		 "3de81827c10e9a4f51330d0eec416642cfbb85a5b47e48a4ec3b9ba95d918bd1"
		 "83b70d3aa8bc6ee4c309e9d85a41ad4a",
		 "4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d00100"
		 "0001000000000000037369700963796265726369747902646b00000100010001",
		 false, 0},
		{MG_ESP_AES_GCM_256,
		 "abbccddef00112233445566778899aababbccddef00112233445566778899aab", "11223344",
		 "4a2cbfe3 00000002 0102030405060708"
		 "ff425c9b724599df7a3bcd510194e00d6a78107f1b0b1cbf06efae9d65a5d763"
		 "748a637985771d347f0545659f14e99def842d8e"
		 "b335f4eecfdbf831824b4c4915956c96",
		 "4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee000000000"
		 "7002400020bf0000020405b40101040201020201",
		 false, 0},
		{MG_ESP_AES_GCM_128, "4c80cdefbb5d10da906ac73c3613a634", "2e443b68",
		 "00004321 00000000 4956ed7e3b244cfe"
		 "fecf537e729d5b07dc30df528dd22b768d1b98736696a6fd348509fa13ceac34"
		 "cfa2436f14a3f3cf65925bf1f4a13c5d15b21e1884f5ff6247aeabb786b93bce"
		 "61bc17d768fd9732"
		 "459018148f6cbe722fd04796562dfdb4",
		 "45000048699a000080114db7c0a80102c0a801010a9bf15638d3010000010000"
		 "00000000045f736970045f756470037369700963796265726369747902646b00"
		 "0021000101020201",
		 true, 0x87654320ffffff00ull},
	};
	struct mg_esp *esp = ctx1();
	struct mg_esp_worker *wk = mg_esp_worker(esp, 0);
	const enum mg_esp_mode modes[] = {MG_ESP_MODE_CPU, MG_ESP_MODE_LOOKASIDE,
					   MG_ESP_MODE_DIRECT};

	for (unsigned int i = 0; i < RTE_DIM(v); i++)
		for (unsigned int mo = 0; mo < RTE_DIM(modes); mo++) {
			uint8_t e[256], p[256], r = 0;

			if (modes[mo] == MG_ESP_MODE_DIRECT && v[i].algo != MG_ESP_AES_GCM_128 &&
			    v[i].algo != MG_ESP_AES_GCM_256)
				continue;
			size_t ne = hex(v[i].esp, e), np = hex(v[i].plain, p);
			uint32_t spi = (uint32_t)e[0] << 24 | e[1] << 16 | e[2] << 8 | e[3];
			struct mg_esp_sa *sa = kat_sa(esp, v[i].algo, spi, v[i].key, NULL,
						      v[i].salt, v[i].esn, v[i].seen, modes[mo]);
			struct rte_mbuf *m = esp4_pkt(e, ne);

			CHECK_EQ(mg_esp_decrypt_burst(wk, sa, &m, 1, &r), 0);
			CHECK_EQ(r, MG_ESP_ERR_BAD_TRAILER);
			CHECK(memcmp(rte_pktmbuf_mtod_offset(m, uint8_t *, 20 + 16), p, np) == 0);
			rte_pktmbuf_free(m);
			/* The same packet with one bit of the ICV flipped does not verify. */
			e[ne - 5] ^= 0x10;
			m = esp4_pkt(e, ne);
			CHECK_EQ(mg_esp_decrypt_burst(wk, sa, &m, 1, &r), 0);
			CHECK_EQ(r, MG_ESP_ERR_AUTH);
			rte_pktmbuf_free(m);
			mg_esp_sa_destroy(esp, sa);
		}
	mg_esp_destroy(esp);
}

/*
 * RFC 3602 section 4, the tunnel-mode ping (AES-CBC-128, SPI 0x8765,
 * sequence 2), with an HMAC-SHA-256-128 ICV appended (key 0x40..0x5f; the
 * ICV computed by Python's hmac module, an independent implementation):
 * decrypts to the published inner packet; a flipped ciphertext bit fails
 * authentication.
 */
MG_TEST(kat_rfc3602_aes_cbc_hmac_sha256)
{
	struct mg_esp *esp = ctx1();
	struct mg_esp_worker *wk = mg_esp_worker(esp, 0);
	uint8_t e[256], p[128], r = 0;
	size_t ne = hex("00008765 00000002 f4e765244f6407adf13dc1380f673f37"
			"773b5241a4c449225e4f3ce5ed611b0c237ca96cf74a93013c1b0ea1a0cf70f8"
			"e4ecaec78ac53aad7a0f022b859243c647752e94a859352b8a4d4d2decd136e5"
			"c177f132ad3fbfb2201ac9904c74ee0a109e0ca1e4dfe9d5a100b842f1c22f0d"
			"88ff51013645f38cb5c780db93d52621", e);
	size_t np = hex("45000054090400004001f988c0a87b03c0a87bc808009f76a90a0100b49c083d"
			"02a2040008090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223"
			"2425262728292a2b2c2d2e2f3031323334353637", p);
	struct mg_esp_sa *sa = kat_sa(esp, MG_ESP_AES_CBC_128_SHA256, 0x8765,
		"0123456789abcdef0123456789abcdef",
		"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f", NULL, false, 0,
		MG_ESP_MODE_AUTO);
	struct rte_mbuf *m;

	/* A flipped ciphertext bit first (a failure leaves the window alone). */
	e[40] ^= 0x01;
	m = esp4_pkt(e, ne);
	CHECK_EQ(mg_esp_decrypt_burst(wk, sa, &m, 1, &r), 0);
	CHECK_EQ(r, MG_ESP_ERR_AUTH);
	rte_pktmbuf_free(m);
	e[40] ^= 0x01;
	m = esp4_pkt(e, ne);
	CHECK_EQ(mg_esp_decrypt_burst(wk, sa, &m, 1, &r), 1);
	CHECK_EQ(m->pkt_len, np);
	CHECK(memcmp(rte_pktmbuf_mtod(m, void *), p, np) == 0);
	rte_pktmbuf_free(m);
	mg_esp_destroy(esp);
}

/* ---- round trips ------------------------------------------------------------------------ */

/*
 * Encrypt then decrypt packets of several sizes for every outer/inner family
 * and with and without NAT-T, in @p mode; check the outer packet (family,
 * protocol, ports, lengths, checksum, SPI, sequence) and that the inner
 * packet comes back byte for byte.
 */
static void
roundtrip_x(enum mg_esp_algo algo, enum mg_esp_mode mode_out, enum mg_esp_mode mode_in)
{
	static const uint16_t sizes[] = {0, 63, 64, 65, 333, 1400};
	struct mg_esp *esp = ctx1();
	struct mg_esp_worker *wk = mg_esp_worker(esp, 0);
	const int fams[] = {AF_INET, AF_INET6};
	uint32_t spi = 0x1000;

	for (int o = 0; o < 2; o++)
		for (int ii = 0; ii < 2; ii++)
			for (int natt = 0; natt < 2; natt++) {
				int ofam = fams[o], ifam = fams[ii];
				struct mg_esp_sa_spec so = spec_of(MG_ESP_OUTBOUND, algo, ofam, ifam,
								   natt, spi);
				struct mg_esp_sa_spec si = spec_of(MG_ESP_INBOUND, algo, ofam, ifam,
								   natt, spi++);
				struct rte_mbuf *m[RTE_DIM(sizes)], *copy[RTE_DIM(sizes)];
				uint8_t r[RTE_DIM(sizes)];
				unsigned int n = RTE_DIM(sizes);

				so.mode = mode_out;
				si.mode = mode_in;
				so.local_port = si.remote_port = natt ? 4501 : 0;
				struct mg_esp_sa *out = sa_new(esp, &so), *isa = sa_new(esp, &si);

				if (out == NULL || isa == NULL)
					return;
				for (unsigned int i = 0; i < n; i++) {
					uint16_t len = RTE_MAX(sizes[i], ifam == AF_INET ? 28 : 48);

					m[i] = inner_pkt(ifam, len, i, 0, false);
					copy[i] = pkt_dup(m[i]);
				}
				CHECK_EQ(mg_esp_encrypt_burst(wk, out, m, n, r), n);
				for (unsigned int i = 0; i < n; i++) {
					const uint8_t *p = rte_pktmbuf_mtod(m[i], const uint8_t *);
					unsigned int hl = ofam == AF_INET ? 20 : 40;

					CHECK_EQ(p[0] >> 4, ofam == AF_INET ? 4 : 6);
					CHECK_EQ(m[i]->pkt_len,
						 mg_esp_outer_len(algo, ofam, natt, copy[i]->pkt_len));
					if (ofam == AF_INET) {
						CHECK_EQ(p[9], natt ? IPPROTO_UDP : IPPROTO_ESP);
						CHECK_EQ(ntohs(*(const uint16_t *)(p + 2)), m[i]->pkt_len);
					} else {
						CHECK_EQ(p[6], natt ? IPPROTO_UDP : IPPROTO_ESP);
						CHECK_EQ(ntohs(*(const uint16_t *)(p + 4)),
							 m[i]->pkt_len - 40);
					}
					if (natt) {
						const struct rte_udp_hdr *u = (const void *)(p + hl);

						CHECK_EQ(ntohs(u->src_port), 4501);
						CHECK_EQ(ntohs(u->dst_port), 4500);
						CHECK_EQ(ntohs(u->dgram_len), m[i]->pkt_len - hl);
						if (ofam == AF_INET6)
							CHECK(u->dgram_cksum != 0 &&
							      rte_ipv6_udptcp_cksum_verify(
								      (const void *)p, u) == 0);
						hl += 8;
					}
					CHECK_EQ(ntohl(*(const uint32_t *)(p + hl)), spi - 1);
					CHECK_EQ(esp_seq(m[i], natt), i + 1);
				}
				/* The IPv4 header checksum of the outer header is valid. */
				if (ofam == AF_INET)
					for (unsigned int i = 0; i < n; i++) {
						struct rte_ipv4_hdr *ip =
							rte_pktmbuf_mtod(m[i], struct rte_ipv4_hdr *);
						uint16_t c = ip->hdr_checksum;

						ip->hdr_checksum = 0;
						CHECK_EQ(rte_ipv4_cksum(ip), c);
						ip->hdr_checksum = c;
					}
				CHECK_EQ(mg_esp_decrypt_burst(wk, isa, m, n, r), n);
				for (unsigned int i = 0; i < n; i++) {
					CHECK_EQ(m[i]->pkt_len, copy[i]->pkt_len);
					CHECK(memcmp(rte_pktmbuf_mtod(m[i], void *),
						     rte_pktmbuf_mtod(copy[i], void *),
						     copy[i]->pkt_len) == 0);
				}
				struct mg_esp_sa_stats st;

				mg_esp_sa_stats(isa, &st);
				CHECK_EQ(st.packets, n);
				uint64_t bytes = 0;

				for (unsigned int i = 0; i < n; i++)
					bytes += copy[i]->pkt_len;
				CHECK_EQ(st.bytes, bytes);
				mg_esp_sa_stats(out, &st);
				CHECK_EQ(st.packets, n);
				CHECK_EQ(st.bytes, bytes);
				free_all(m, n);
				free_all(copy, n);
				mg_esp_sa_destroy(esp, out);
				mg_esp_sa_destroy(esp, isa);
			}
	mg_esp_destroy(esp);
}

/* Both directions in one mode. */
static void
roundtrip(enum mg_esp_algo algo, enum mg_esp_mode mode)
{
	roundtrip_x(algo, mode, mode);
}

/* AES-GCM-128 and -256, CPU crypto, lookaside and direct. */
MG_TEST(roundtrip_aes_gcm)
{
	roundtrip(MG_ESP_AES_GCM_128, MG_ESP_MODE_CPU);
	roundtrip(MG_ESP_AES_GCM_128, MG_ESP_MODE_LOOKASIDE);
	roundtrip(MG_ESP_AES_GCM_128, MG_ESP_MODE_DIRECT);
	roundtrip(MG_ESP_AES_GCM_256, MG_ESP_MODE_CPU);
	roundtrip(MG_ESP_AES_GCM_256, MG_ESP_MODE_LOOKASIDE);
	roundtrip(MG_ESP_AES_GCM_256, MG_ESP_MODE_DIRECT);
}

/*
 * Direct mode (this library's ESP framing) against librte_ipsec's, each
 * way: every size, family pair and NAT-T, for both AES-GCM key lengths and
 * ChaCha20-Poly1305. A framing
 * difference (padding, IV, AAD, lengths, UDP header) fails the other side.
 */
MG_TEST(direct_interop_librte_ipsec)
{
	const enum mg_esp_algo algos[] = {MG_ESP_AES_GCM_128, MG_ESP_AES_GCM_256,
					  MG_ESP_CHACHA20_POLY1305};

	for (unsigned int a = 0; a < RTE_DIM(algos); a++) {
		roundtrip_x(algos[a], MG_ESP_MODE_DIRECT, MG_ESP_MODE_CPU);
		roundtrip_x(algos[a], MG_ESP_MODE_CPU, MG_ESP_MODE_DIRECT);
		roundtrip_x(algos[a], MG_ESP_MODE_DIRECT, MG_ESP_MODE_LOOKASIDE);
		roundtrip_x(algos[a], MG_ESP_MODE_LOOKASIDE, MG_ESP_MODE_DIRECT);
	}
}

/*
 * AUTO picks direct for AES-GCM and ChaCha20-Poly1305 (reported as such),
 * and direct is refused, naming the field, for the algorithms it does not do.
 */
MG_TEST(direct_mode_choice)
{
	struct mg_esp *esp = ctx1();
	struct mg_esp_sa_spec s = spec_of(MG_ESP_OUTBOUND, MG_ESP_AES_GCM_256, AF_INET, AF_INET6,
					  false, 0x7100);
	struct mg_esp_sa *sa = sa_new(esp, &s);
	struct mg_esp_sa_info info;
	struct mg_error e;

	mg_esp_sa_info(sa, &info);
	CHECK_EQ(info.mode, MG_ESP_MODE_DIRECT);
	CHECK_STR(info.device, "intel-ipsec-mb");
	CHECK_STR(mg_esp_mode_name(info.mode), "direct");
	s = spec_of(MG_ESP_INBOUND, MG_ESP_CHACHA20_POLY1305, AF_INET6, AF_INET, true, 0x7101);
	sa = sa_new(esp, &s);
	mg_esp_sa_info(sa, &info);
	CHECK_EQ(info.mode, MG_ESP_MODE_DIRECT);
	const enum mg_esp_algo others[] = {MG_ESP_AES_CBC_128_SHA256, MG_ESP_AES_CBC_256_SHA256,
					   MG_ESP_NULL_SHA256};

	for (unsigned int i = 0; i < RTE_DIM(others); i++) {
		s = spec_of(MG_ESP_OUTBOUND, others[i], AF_INET, AF_INET, false, 0x7200 + i);
		s.mode = MG_ESP_MODE_DIRECT;
		CHECK(mg_esp_sa_create(esp, &s, &e) == NULL);
		CHECK_EQ(e.code, ENOTSUP);
		CHECK_STR(e.field, "mode");
		s.mode = MG_ESP_MODE_AUTO;
		sa = sa_new(esp, &s);
		mg_esp_sa_info(sa, &info);
		CHECK(info.mode != MG_ESP_MODE_DIRECT);
	}
	mg_esp_destroy(esp);
}

/* AES-CBC-128/256 with HMAC-SHA-256-128 (lookaside). */
MG_TEST(roundtrip_aes_cbc_hmac_sha256)
{
	roundtrip(MG_ESP_AES_CBC_128_SHA256, MG_ESP_MODE_LOOKASIDE);
	roundtrip(MG_ESP_AES_CBC_256_SHA256, MG_ESP_MODE_LOOKASIDE);
}

/* ChaCha20-Poly1305, every mode. */
MG_TEST(roundtrip_chacha20_poly1305)
{
	roundtrip(MG_ESP_CHACHA20_POLY1305, MG_ESP_MODE_CPU);
	roundtrip(MG_ESP_CHACHA20_POLY1305, MG_ESP_MODE_LOOKASIDE);
	roundtrip(MG_ESP_CHACHA20_POLY1305, MG_ESP_MODE_DIRECT);
}

/* NULL encryption with HMAC-SHA-256-128, both modes: the payload travels in clear. */
MG_TEST(roundtrip_null_hmac_sha256)
{
	roundtrip(MG_ESP_NULL_SHA256, MG_ESP_MODE_CPU);
	roundtrip(MG_ESP_NULL_SHA256, MG_ESP_MODE_LOOKASIDE);
}

/*
 * CBC IVs: two identical packets get different, non-zero IVs and different
 * ciphertexts (librte_ipsec's CPU path would send E_K(0) every time, which
 * is why CPU mode is refused for CBC).
 */
MG_TEST(cbc_iv_unpredictable)
{
	struct mg_esp *esp = ctx1();
	struct mg_esp_worker *wk = mg_esp_worker(esp, 0);
	struct mg_esp_sa_spec s = spec_of(MG_ESP_OUTBOUND, MG_ESP_AES_CBC_128_SHA256, AF_INET,
					  AF_INET, false, 0x777);
	struct mg_error e;
	struct mg_esp_sa *sa = sa_new(esp, &s);
	struct rte_mbuf *m[2] = {inner_pkt(AF_INET, 100, 1, 0, false),
				 inner_pkt(AF_INET, 100, 1, 0, false)};
	static const uint8_t zero[16];

	enc_all(wk, sa, m, 2);
	const uint8_t *a = rte_pktmbuf_mtod_offset(m[0], uint8_t *, 28);
	const uint8_t *b = rte_pktmbuf_mtod_offset(m[1], uint8_t *, 28);

	CHECK(memcmp(a, b, 16) != 0);
	CHECK(memcmp(a, zero, 16) != 0);
	CHECK(memcmp(a + 16, b + 16, 16) != 0);
	free_all(m, 2);
	s.mode = MG_ESP_MODE_CPU;
	s.spi++;
	CHECK(mg_esp_sa_create(esp, &s, &e) == NULL);
	CHECK_EQ(e.code, ENOTSUP);
	CHECK_STR(e.field, "mode");
	mg_esp_destroy(esp);
}

/* ---- anti-replay --------------------------------------------------------------------------- */

/* An SA pair (GCM-128, IPv4/IPv4) with an inbound window of @p w. */
static void
pair(struct mg_esp *esp, uint32_t w, bool esn, uint64_t out_first, uint64_t in_seen,
     struct mg_esp_sa **out, struct mg_esp_sa **in)
{
	static uint32_t spi = 0x2000;
	struct mg_esp_sa_spec so = spec_of(MG_ESP_OUTBOUND, MG_ESP_AES_GCM_128, AF_INET, AF_INET,
					   false, spi);
	struct mg_esp_sa_spec si = spec_of(MG_ESP_INBOUND, MG_ESP_AES_GCM_128, AF_INET, AF_INET,
					   false, spi++);

	so.esn = si.esn = esn;
	so.initial_seq = out_first;
	si.initial_seq = in_seen;
	si.replay_window = w;
	*out = sa_new(esp, &so);
	*in = sa_new(esp, &si);
}

/* In order, reordered within the window, a replay of all, one too old. */
MG_TEST(replay_order_and_window_64)
{
	struct mg_esp *esp = ctx1();
	struct mg_esp_worker *wk = mg_esp_worker(esp, 0);
	struct mg_esp_sa *out, *in;
	struct rte_mbuf *m[200], *c[200];
	uint8_t r[64];

	pair(esp, 64, false, 0, 0, &out, &in);
	enc_seq(wk, out, AF_INET, 100, m, 200);
	for (int i = 0; i < 200; i++)
		c[i] = pkt_dup(m[i]);
	/* Sequence 1..32 in order. */
	CHECK_EQ(mg_esp_decrypt_burst(wk, in, m, 32, r), 32);
	free_all(m, 32);
	/* 33..96 delivered backwards: all inside the window (the highest first). */
	struct rte_mbuf *rev[64];

	for (int i = 0; i < 64; i++)
		rev[i] = m[95 - i];
	CHECK_EQ(mg_esp_decrypt_burst(wk, in, rev, 64, r), 64);
	free_all(rev, 64);
	/* All of 1..96 again: replays. */
	for (int i = 0; i < 96; i += 32) {
		CHECK_EQ(mg_esp_decrypt_burst(wk, in, c + i, 32, r), 0);
		for (int j = 0; j < 32; j++)
			CHECK_EQ(r[j], MG_ESP_ERR_REPLAY);
		free_all(c + i, 32);
	}
	/*
	 * 200 arrives, then 150 (inside), 120 (too old), and the edge: a window
	 * of 64 holds 137..200, so 137 passes and 136 does not.
	 */
	CHECK_EQ(dec_one(wk, in, m[199]), MG_ESP_ERR_NONE);
	CHECK_EQ(dec_one(wk, in, m[149]), MG_ESP_ERR_NONE);
	CHECK_EQ(dec_one(wk, in, m[119]), MG_ESP_ERR_REPLAY);
	CHECK_EQ(dec_one(wk, in, m[136]), MG_ESP_ERR_NONE);
	CHECK_EQ(dec_one(wk, in, m[135]), MG_ESP_ERR_REPLAY);
	/* 150 again. */
	CHECK_EQ(dec_one(wk, in, c[149]), MG_ESP_ERR_REPLAY);
	struct mg_esp_sa_stats st;

	mg_esp_sa_stats(in, &st);
	CHECK_EQ(st.packets, 32 + 64 + 3);
	CHECK_EQ(st.replay, 96 + 3);
	CHECK_EQ(st.auth, 0);
	for (int i = 96; i < 200; i++)
		if (i != 199 && i != 149 && i != 119 && i != 136 && i != 135) {
			rte_pktmbuf_free(m[i]);
		}
	for (int i = 96; i < 200; i++)
		if (i != 149)
			rte_pktmbuf_free(c[i]);
	mg_esp_destroy(esp);
}

/* A duplicate inside one burst: the first copy passes, the second is a replay. */
MG_TEST(replay_duplicate_in_burst)
{
	struct mg_esp *esp = ctx1();
	struct mg_esp_worker *wk = mg_esp_worker(esp, 0);
	struct mg_esp_sa *out, *in;
	struct rte_mbuf *m[4];
	uint8_t r[4];

	pair(esp, 64, false, 0, 0, &out, &in);
	enc_seq(wk, out, AF_INET, 80, m, 3);
	struct rte_mbuf *b[4] = {m[0], m[1], pkt_dup(m[1]), m[2]};
	uint32_t t1 = 1, t2 = 2;

	CHECK_EQ(mg_esp_decrypt_burst(wk, in, b, 4, r), 3);
	CHECK_EQ(r[3], MG_ESP_ERR_REPLAY);
	/* The successes keep their order. */
	CHECK_EQ(inner_tag(b[0]), 0);
	CHECK_EQ(inner_tag(b[1]), t1);
	CHECK_EQ(inner_tag(b[2]), t2);
	free_all(b, 4);
	mg_esp_destroy(esp);
}

/* Anti-replay off (no_replay): a replayed burst is accepted again; tampering is still refused. */
MG_TEST(replay_check_off_accepts_replays_only)
{
	struct mg_esp *esp = ctx1();
	struct mg_esp_worker *wk = mg_esp_worker(esp, 0);
	struct mg_esp_sa_spec so = spec_of(MG_ESP_OUTBOUND, MG_ESP_AES_GCM_128, AF_INET, AF_INET,
					   false, 0x7700);
	struct mg_esp_sa_spec si = spec_of(MG_ESP_INBOUND, MG_ESP_AES_GCM_128, AF_INET, AF_INET,
					   false, 0x7700);
	struct mg_esp_sa *out, *in;
	struct rte_mbuf *m[4], *c[4];
	uint8_t r[4];

	si.no_replay = true;
	out = sa_new(esp, &so);
	in = sa_new(esp, &si);
	enc_seq(wk, out, AF_INET, 80, m, 3);
	for (int i = 0; i < 3; i++)
		c[i] = pkt_dup(m[i]);
	CHECK_EQ(mg_esp_decrypt_burst(wk, in, m, 3, r), 3);
	CHECK_EQ(mg_esp_decrypt_burst(wk, in, c, 3, r), 3); /* the same again */
	free_all(m, 3);
	free_all(c, 3);
	enc_seq(wk, out, AF_INET, 80, m, 1);
	rte_pktmbuf_mtod_offset(m[0], uint8_t *, m[0]->data_len - 1)[0] ^= 1;
	CHECK_EQ(mg_esp_decrypt_burst(wk, in, m, 1, r), 0);
	CHECK_EQ(r[0], MG_ESP_ERR_AUTH);
	free_all(m, 1);
	mg_esp_destroy(esp);
}

/*
 * Windows that are not a multiple of 64 bits (65..4095 are allowed): a
 * duplicate anywhere inside is a replay, at every offset of the highest
 * sequence number in its word. A window of 100 spans three 64-bit words;
 * with two, the oldest word shared the top's slot and was cleared.
 */
MG_TEST(replay_window_not_a_multiple_of_64)
{
	const uint32_t wins[] = {65, 100, 200, 4033};

	for (unsigned int w = 0; w < MG_ARRAY_SIZE(wins); w++) {
		struct mg_esp *esp = ctx1();
		struct mg_esp_worker *wk = mg_esp_worker(esp, 0);
		struct mg_esp_sa *out, *in;
		uint32_t win = wins[w];
		uint32_t n = win + 64 + 2;
		struct rte_mbuf **m = calloc(2 * n, sizeof(*m)), **cp = m + n;

		CHECK(m != NULL);
		pair(esp, win, false, 0, 0, &out, &in);
		enc_seq(wk, out, AF_INET, 80, m, n);   /* m[i] carries sequence number i + 1 */
		for (uint32_t i = 0; i < n; i++)
			cp[i] = pkt_dup(m[i]);
		for (uint32_t i = 0; i < win; i++)
			CHECK_EQ(dec_one(wk, in, m[i]), MG_ESP_ERR_NONE);
		/* Each top in the next 64 (every bit offset): its window's oldest again, and one older. */
		for (uint32_t top = win + 1; top <= n; top++) {
			uint32_t old = top - win + 1;

			CHECK_EQ(dec_one(wk, in, m[top - 1]), MG_ESP_ERR_NONE);
			CHECK_EQ(dec_one(wk, in, pkt_dup(cp[old - 1])), MG_ESP_ERR_REPLAY);
			CHECK_EQ(dec_one(wk, in, pkt_dup(cp[old - 2])), MG_ESP_ERR_REPLAY);
		}
		free_all(cp, n);
		struct mg_esp_sa_stats st;

		mg_esp_sa_stats(in, &st);
		CHECK_EQ(st.packets, n);
		CHECK_EQ(st.replay, 2 * (n - win));
		free(m);
		mg_esp_destroy(esp);
	}
}

/* A window of 4096: 4000 behind the highest passes, 4200 behind does not. */
MG_TEST(replay_window_4096)
{
	struct mg_esp *esp = ctx1();
	struct mg_esp_worker *wk = mg_esp_worker(esp, 0);
	struct mg_esp_sa *out, *in;
	struct rte_mbuf *hi, *a, *b;

	pair(esp, 4096, false, 0, 0, &out, &in);
	/* Packets with sequence numbers 5000, 1000 and 800 from outbound SAs started there. */
	struct mg_esp_sa_spec s = spec_of(MG_ESP_OUTBOUND, MG_ESP_AES_GCM_128, AF_INET, AF_INET,
					  false, mg_esp_sa_spi(in));
	const uint64_t seqs[] = {5000, 1000, 800};
	struct rte_mbuf **slot[] = {&hi, &a, &b};

	mg_esp_sa_destroy(esp, out);
	for (int i = 0; i < 3; i++) {
		s.initial_seq = seqs[i];
		struct mg_esp_sa *o = sa_new(esp, &s);

		*slot[i] = inner_pkt(AF_INET, 60, i, 0, false);
		enc_all(wk, o, slot[i], 1);
		CHECK_EQ(esp_seq(*slot[i], false), seqs[i]);
		mg_esp_sa_destroy(esp, o);
	}
	struct rte_mbuf *a2 = pkt_dup(a);

	CHECK_EQ(dec_one(wk, in, hi), MG_ESP_ERR_NONE);
	CHECK_EQ(dec_one(wk, in, a), MG_ESP_ERR_NONE);
	CHECK_EQ(dec_one(wk, in, a2), MG_ESP_ERR_REPLAY);
	CHECK_EQ(dec_one(wk, in, b), MG_ESP_ERR_REPLAY);
	mg_esp_destroy(esp);
}

/*
 * ESN across the 2^32 boundary: the sender crosses it (the header carries
 * the low 32 bits, the ICV the high ones) and the receiver infers the high
 * bits, in order and reordered. Without ESN the sender stops at 2^32-1.
 */
MG_TEST(replay_esn_wrap)
{
	struct mg_esp *esp = ctx1();
	struct mg_esp_worker *wk = mg_esp_worker(esp, 0);
	struct mg_esp_sa *out, *in;
	struct rte_mbuf *m[8], *c[8];
	uint8_t r[8];
	const uint64_t first = (1ull << 32) - 4;
	struct mg_esp_event ev[4];

	pair(esp, 64, true, first, first - 10, &out, &in);
	enc_seq(wk, out, AF_INET, 90, m, 8);
	for (int i = 0; i < 8; i++) {
		CHECK_EQ(esp_seq(m[i], false), (uint32_t)(first + i));
		c[i] = pkt_dup(m[i]);
	}
	/* 2^32+1 .. 2^32+3 first, then the four before the wrap, then the rest. */
	struct rte_mbuf *o[8] = {m[5], m[6], m[7], m[0], m[1], m[2], m[3], m[4]};

	CHECK_EQ(mg_esp_decrypt_burst(wk, in, o, 8, r), 8);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(inner_tag(o[i]), i < 3 ? i + 5 : i - 3);
	free_all(o, 8);
	CHECK_EQ(mg_esp_decrypt_burst(wk, in, c, 8, r), 0);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(r[i], MG_ESP_ERR_REPLAY);
	free_all(c, 8);

	/* A packet whose high bits the receiver guesses wrong fails authentication. */
	struct mg_esp_sa *o2, *i2;

	pair(esp, 64, true, (3ull << 32) + 5, (1ull << 32) + 10, &o2, &i2);
	m[0] = inner_pkt(AF_INET, 60, 1, 0, false);
	enc_all(wk, o2, m, 1);
	CHECK_EQ(dec_one(wk, i2, m[0]), MG_ESP_ERR_AUTH);

	/*
	 * No ESN: the sender stops short of the 32-bit space (librte_ipsec never
	 * sends 2^32-1): 2^32-3 and 2^32-2 go out, the rest overflow, and the
	 * poll reports the hard sequence limit.
	 */
	struct mg_esp_sa *o3, *i3;

	pair(esp, 64, false, (1ull << 32) - 3, 0, &o3, &i3);
	for (int i = 0; i < 4; i++)
		m[i] = inner_pkt(AF_INET, 60, i, 0, false);
	CHECK_EQ(mg_esp_encrypt_burst(wk, o3, m, 4, r), 2);
	CHECK_EQ(r[2], MG_ESP_ERR_SEQ_OVERFLOW);
	CHECK_EQ(r[3], MG_ESP_ERR_SEQ_OVERFLOW);
	CHECK_EQ(esp_seq(m[1], false), 0xfffffffeu);
	free_all(m, 4);
	unsigned int ne = mg_esp_poll(esp, ev, 4), hard = 0;

	for (unsigned int i = 0; i < ne; i++)
		if (ev[i].sa == o3 && ev[i].type == MG_ESP_EV_HARD &&
		    ev[i].limit == MG_ESP_LIMIT_SEQUENCE)
			hard++;
	CHECK_EQ(hard, 1);
	mg_esp_destroy(esp);
}

/* ---- lifetimes ------------------------------------------------------------------------------ */

/* Count events of a type and limit for an SA. */
static unsigned int
ev_count(const struct mg_esp_event *ev, unsigned int n, const struct mg_esp_sa *sa,
	 enum mg_esp_event_type t, enum mg_esp_limit_kind k)
{
	unsigned int c = 0;

	for (unsigned int i = 0; i < n; i++)
		c += ev[i].sa == sa && ev[i].type == t && ev[i].limit == k;
	return c;
}

/* Packets: soft 5 raises one event, hard 10 lets exactly 10 through. */
MG_TEST(lifetime_packets)
{
	struct mg_esp *esp = ctx1();
	struct mg_esp_worker *wk = mg_esp_worker(esp, 0);
	struct mg_esp_sa_spec s = spec_of(MG_ESP_OUTBOUND, MG_ESP_AES_GCM_128, AF_INET, AF_INET,
					  false, 0x3000);
	struct mg_esp_event ev[8];
	struct rte_mbuf *m[8];
	uint8_t r[8];

	s.packets.soft = 5;
	s.packets.hard = 10;
	s.user = 42;
	struct mg_esp_sa *sa = sa_new(esp, &s);

	for (int i = 0; i < 4; i++)
		m[i] = inner_pkt(AF_INET, 60, i, 0, false);
	CHECK_EQ(mg_esp_encrypt_burst(wk, sa, m, 4, r), 4);
	free_all(m, 4);
	CHECK_EQ(mg_esp_poll(esp, ev, 8), 0);
	for (int i = 0; i < 3; i++)
		m[i] = inner_pkt(AF_INET, 60, i, 0, false);
	CHECK_EQ(mg_esp_encrypt_burst(wk, sa, m, 3, r), 3);
	free_all(m, 3);
	unsigned int n = mg_esp_poll(esp, ev, 8);

	CHECK_EQ(n, 1);
	CHECK_EQ(ev_count(ev, n, sa, MG_ESP_EV_SOFT, MG_ESP_LIMIT_PACKETS), 1);
	CHECK_EQ(ev[0].user, 42);
	CHECK_EQ(ev[0].spi, 0x3000);
	/* The 10th packet reaches the hard limit: the SA stops and says so at once. */
	for (int i = 0; i < 3; i++)
		m[i] = inner_pkt(AF_INET, 60, i, 0, false);
	CHECK_EQ(mg_esp_encrypt_burst(wk, sa, m, 3, r), 3);
	free_all(m, 3);
	n = mg_esp_poll(esp, ev, 8);
	CHECK_EQ(ev_count(ev, n, sa, MG_ESP_EV_HARD, MG_ESP_LIMIT_PACKETS), 1);
	CHECK_EQ(mg_esp_poll(esp, ev, 8), 0);
	for (int i = 0; i < 5; i++)
		m[i] = inner_pkt(AF_INET, 60, i, 0, false);
	CHECK_EQ(mg_esp_encrypt_burst(wk, sa, m, 5, r), 0);
	for (int i = 0; i < 5; i++)
		CHECK_EQ(r[i], MG_ESP_ERR_EXPIRED);
	free_all(m, 5);
	CHECK_EQ(mg_esp_poll(esp, ev, 8), 0);
	m[0] = inner_pkt(AF_INET, 60, 0, 0, false);
	CHECK_EQ(mg_esp_encrypt_burst(wk, sa, m, 1, r), 0);
	CHECK_EQ(r[0], MG_ESP_ERR_EXPIRED);
	rte_pktmbuf_free(m[0]);
	struct mg_esp_sa_stats st;
	struct mg_esp_sa_info info;

	mg_esp_sa_stats(sa, &st);
	CHECK_EQ(st.packets, 10);
	CHECK_EQ(st.errors[MG_ESP_ERR_EXPIRED], 6);
	CHECK_EQ(st.other, 6);
	mg_esp_sa_info(sa, &info);
	CHECK_EQ(info.state, MG_ESP_STATE_EXPIRED);
	mg_esp_destroy(esp);
}

/* Bytes, inbound: soft 500 and hard 1000 bytes of 100-byte inner packets. */
MG_TEST(lifetime_bytes)
{
	struct mg_esp *esp = ctx1();
	struct mg_esp_worker *wk = mg_esp_worker(esp, 0);
	struct mg_esp_sa_spec so = spec_of(MG_ESP_OUTBOUND, MG_ESP_AES_GCM_128, AF_INET, AF_INET,
					   false, 0x3100);
	struct mg_esp_sa_spec si = spec_of(MG_ESP_INBOUND, MG_ESP_AES_GCM_128, AF_INET, AF_INET,
					   false, 0x3100);
	struct mg_esp_event ev[8];
	struct rte_mbuf *m[12];
	uint8_t r[12];

	si.bytes.soft = 500;
	si.bytes.hard = 1000;
	struct mg_esp_sa *out = sa_new(esp, &so), *in = sa_new(esp, &si);

	enc_seq(wk, out, AF_INET, 100, m, 12);
	CHECK_EQ(mg_esp_decrypt_burst(wk, in, m, 4, r), 4);
	CHECK_EQ(mg_esp_poll(esp, ev, 8), 0);
	CHECK_EQ(mg_esp_decrypt_burst(wk, in, m + 4, 8, r + 4), 6);
	CHECK_EQ(r[10], MG_ESP_ERR_EXPIRED);
	CHECK_EQ(r[11], MG_ESP_ERR_EXPIRED);
	free_all(m, 12);
	unsigned int n = mg_esp_poll(esp, ev, 8);

	CHECK_EQ(ev_count(ev, n, in, MG_ESP_EV_SOFT, MG_ESP_LIMIT_BYTES), 1);
	CHECK_EQ(ev_count(ev, n, in, MG_ESP_EV_HARD, MG_ESP_LIMIT_BYTES), 1);
	struct mg_esp_sa_stats st;

	mg_esp_sa_stats(in, &st);
	CHECK_EQ(st.bytes, 1000);
	mg_esp_destroy(esp);
}

/* Seconds: the poll's clock crosses the soft then the hard limit. */
MG_TEST(lifetime_seconds)
{
	struct mg_esp *esp = ctx1();
	struct mg_esp_worker *wk = mg_esp_worker(esp, 0);
	struct mg_esp_sa_spec s = spec_of(MG_ESP_OUTBOUND, MG_ESP_CHACHA20_POLY1305, AF_INET6,
					  AF_INET, false, 0x3200);
	struct mg_esp_event ev[8];
	struct rte_mbuf *m;
	uint8_t r;
	uint64_t t0 = mg_now_ns();

	s.seconds.soft = 60;
	s.seconds.hard = 90;
	struct mg_esp_sa *sa = sa_new(esp, &s);
	unsigned int n = mg_esp_poll_at(esp, t0 + 59000000000ull, ev, 8);

	CHECK_EQ(n, 0);
	n = mg_esp_poll_at(esp, t0 + 61000000000ull, ev, 8);
	CHECK_EQ(ev_count(ev, n, sa, MG_ESP_EV_SOFT, MG_ESP_LIMIT_SECONDS), 1);
	m = inner_pkt(AF_INET, 60, 0, 0, false);
	CHECK_EQ(mg_esp_encrypt_burst(wk, sa, &m, 1, &r), 1);
	rte_pktmbuf_free(m);
	n = mg_esp_poll_at(esp, t0 + 91000000000ull, ev, 8);
	CHECK_EQ(ev_count(ev, n, sa, MG_ESP_EV_HARD, MG_ESP_LIMIT_SECONDS), 1);
	m = inner_pkt(AF_INET, 60, 0, 0, false);
	CHECK_EQ(mg_esp_encrypt_burst(wk, sa, &m, 1, &r), 0);
	CHECK_EQ(r, MG_ESP_ERR_EXPIRED);
	rte_pktmbuf_free(m);
	mg_esp_destroy(esp);
}

/* A stopped SA (IKE withdrew its keys) fails like an expired one, with no hard-lifetime event. */
MG_TEST(stopped_sa)
{
	struct mg_esp *esp = ctx1();
	struct mg_esp_worker *wk = mg_esp_worker(esp, 0);
	struct mg_esp_sa_spec s = spec_of(MG_ESP_OUTBOUND, MG_ESP_AES_GCM_128, AF_INET, AF_INET,
					  false, 0x3300);
	struct mg_esp_sa *sa = sa_new(esp, &s);
	struct mg_esp_sa_info info;
	struct mg_esp_event ev[8];
	struct rte_mbuf *m = inner_pkt(AF_INET, 60, 0, 0, false);
	uint8_t r;

	CHECK_EQ(mg_esp_encrypt_burst(wk, sa, &m, 1, &r), 1);
	rte_pktmbuf_free(m);
	mg_esp_sa_stop(esp, sa);
	mg_esp_sa_info(sa, &info);
	CHECK_EQ(info.state, MG_ESP_STATE_EXPIRED);
	m = inner_pkt(AF_INET, 60, 0, 0, false);
	CHECK_EQ(mg_esp_encrypt_burst(wk, sa, &m, 1, &r), 0);
	CHECK_EQ(r, MG_ESP_ERR_EXPIRED);
	rte_pktmbuf_free(m);
	CHECK_EQ(ev_count(ev, mg_esp_poll(esp, ev, 8), sa, MG_ESP_EV_HARD, MG_ESP_LIMIT_NONE), 0);
	mg_esp_sa_stop(esp, NULL);
	mg_esp_destroy(esp);
}

/* ---- tampering and malformed packets ------------------------------------------------------- */

/* Apply @p fn to a fresh encrypted packet and return the decrypt reason. */
static uint8_t
tamper(struct mg_esp_worker *wk, struct mg_esp_sa *out, struct mg_esp_sa *in,
       void (*fn)(struct rte_mbuf *m))
{
	struct rte_mbuf *m = inner_pkt(AF_INET, 100, 9, 0, false);

	enc_all(wk, out, &m, 1);
	fn(m);
	return dec_one(wk, in, m);
}

/* Byte @p off of the packet, xored with 0x04. */
static void
flip(struct rte_mbuf *m, unsigned int off)
{
	*rte_pktmbuf_mtod_offset(m, uint8_t *, off) ^= 0x04;
}

/* Tampering functions (outer IPv4 header of 20 bytes, ESP header at 20). */

/* A ciphertext byte. */
static void t_payload(struct rte_mbuf *m) { flip(m, 20 + 8 + 8 + 10); }
/* The last ICV byte. */
static void t_icv(struct rte_mbuf *m) { flip(m, m->pkt_len - 1); }
/* An IV byte. */
static void t_iv(struct rte_mbuf *m) { flip(m, 20 + 8 + 2); }
/* The sequence number (to one still inside the window). */
static void t_seq(struct rte_mbuf *m) { *rte_pktmbuf_mtod_offset(m, uint8_t *, 27) ^= 0x40; }
/* The SPI. */
static void t_spi(struct rte_mbuf *m) { flip(m, 20 + 3); }
/* Three bytes cut off the end (IP length fixed up): no longer block aligned. */
static void t_trunc(struct rte_mbuf *m)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);

	rte_pktmbuf_trim(m, 3);
	ip->total_length = htons(m->pkt_len);
}
/* The outer destination address. */
static void t_dst(struct rte_mbuf *m) { flip(m, 19); }
/* The outer protocol (UDP instead of ESP). */
static void t_proto(struct rte_mbuf *m) { *rte_pktmbuf_mtod_offset(m, uint8_t *, 9) = 17; }
/* A fragment offset: a fragment, not a whole packet. */
static void t_frag(struct rte_mbuf *m) { flip(m, 6); }
/* Ethernet padding past the IP length: trimmed, the packet still passes. */
static void t_pad(struct rte_mbuf *m) { memset(rte_pktmbuf_append(m, 6), 0, 6); }

/* Each kind of damage gets its reason, and the counters follow. */
MG_TEST(tamper_reasons_and_counters)
{
	struct mg_esp *esp = ctx1();
	struct mg_esp_worker *wk = mg_esp_worker(esp, 0);
	const enum mg_esp_algo algos[] = {MG_ESP_AES_GCM_128, MG_ESP_AES_CBC_128_SHA256,
					  MG_ESP_NULL_SHA256};

	for (unsigned int a = 0; a < RTE_DIM(algos); a++) {
		struct mg_esp_sa_spec so = spec_of(MG_ESP_OUTBOUND, algos[a], AF_INET, AF_INET,
						   false, 0x4000 + a);
		struct mg_esp_sa_spec si = spec_of(MG_ESP_INBOUND, algos[a], AF_INET, AF_INET,
						   false, 0x4000 + a);
		struct mg_esp_sa *out = sa_new(esp, &so), *in = sa_new(esp, &si);
		bool has_iv = algos[a] != MG_ESP_NULL_SHA256;

		CHECK_EQ(tamper(wk, out, in, t_payload), MG_ESP_ERR_AUTH);
		CHECK_EQ(tamper(wk, out, in, t_icv), MG_ESP_ERR_AUTH);
		if (has_iv)
			CHECK_EQ(tamper(wk, out, in, t_iv), MG_ESP_ERR_AUTH);
		CHECK_EQ(tamper(wk, out, in, t_seq), MG_ESP_ERR_AUTH);
		CHECK_EQ(tamper(wk, out, in, t_spi), MG_ESP_ERR_WRONG_SA);
		CHECK_EQ(tamper(wk, out, in, t_trunc), MG_ESP_ERR_BAD_LENGTH);
		CHECK_EQ(tamper(wk, out, in, t_dst), MG_ESP_ERR_BAD_OUTER);
		CHECK_EQ(tamper(wk, out, in, t_proto), MG_ESP_ERR_BAD_OUTER);
		CHECK_EQ(tamper(wk, out, in, t_frag), MG_ESP_ERR_BAD_OUTER);
		CHECK_EQ(tamper(wk, out, in, t_pad), MG_ESP_ERR_NONE);
		struct mg_esp_sa_stats st;

		mg_esp_sa_stats(in, &st);
		CHECK_EQ(st.auth, has_iv ? 4 : 3);
		CHECK_EQ(st.replay, 0);
		CHECK_EQ(st.other, 5);
		CHECK_EQ(st.packets, 1);
		CHECK_EQ(st.errors[MG_ESP_ERR_BAD_OUTER], 3);
	}
	/* Wrong next header: an inner-IPv6 SA's packet at an inner-IPv4 SA with the same keys. */
	struct mg_esp_sa_spec so = spec_of(MG_ESP_OUTBOUND, MG_ESP_AES_GCM_128, AF_INET, AF_INET6,
					   false, 0x4100);
	struct mg_esp_sa_spec si = spec_of(MG_ESP_INBOUND, MG_ESP_AES_GCM_128, AF_INET, AF_INET,
					   false, 0x4100);
	struct mg_esp_sa *out = sa_new(esp, &so), *in = sa_new(esp, &si);
	struct rte_mbuf *m = inner_pkt(AF_INET6, 100, 1, 0, false);

	enc_all(wk, out, &m, 1);
	CHECK_EQ(dec_one(wk, in, m), MG_ESP_ERR_BAD_TRAILER);
	/* Direction and owner are checked. */
	m = inner_pkt(AF_INET, 100, 1, 0, false);
	uint8_t r;

	CHECK_EQ(mg_esp_encrypt_burst(wk, in, &m, 1, &r), 0);
	CHECK_EQ(r, MG_ESP_ERR_WRONG_SA);
	CHECK_EQ(mg_esp_decrypt_burst(wk, out, &m, 1, &r), 0);
	CHECK_EQ(r, MG_ESP_ERR_WRONG_SA);
	/* Not an IPv4 packet for an inner-IPv4 SA. */
	CHECK_EQ(mg_esp_encrypt_burst(wk, out, &m, 1, &r), 0);
	CHECK_EQ(r, MG_ESP_ERR_BAD_INNER);
	rte_pktmbuf_free(m);
	/* No headroom. */
	uint8_t raw[100];

	m = inner_pkt(AF_INET6, 100, 1, 0, false);
	memcpy(raw, rte_pktmbuf_mtod(m, void *), 100);
	m->data_off = 10;
	memcpy(rte_pktmbuf_mtod(m, void *), raw, 100);
	CHECK_EQ(mg_esp_encrypt_burst(wk, out, &m, 1, &r), 0);
	CHECK_EQ(r, MG_ESP_ERR_NO_ROOM);
	rte_pktmbuf_free(m);
	mg_esp_destroy(esp);
}

/*
 * The burst contract: good and bad packets mixed; the good ones come first
 * in their order, each bad one with its reason.
 */
MG_TEST(burst_contract_mixed)
{
	struct mg_esp *esp = ctx1();
	struct mg_esp_worker *wk = mg_esp_worker(esp, 0);
	struct mg_esp_sa *out, *in;
	struct rte_mbuf *m[6];
	uint8_t r[6];

	pair(esp, 64, false, 0, 0, &out, &in);
	enc_seq(wk, out, AF_INET, 120, m, 6);
	struct rte_mbuf *bad_auth = m[1], *bad_len = m[4];

	flip(bad_auth, 60);
	t_trunc(bad_len);
	CHECK_EQ(mg_esp_decrypt_burst(wk, in, m, 6, r), 4);
	CHECK_EQ(inner_tag(m[0]), 0);
	CHECK_EQ(inner_tag(m[1]), 2);
	CHECK_EQ(inner_tag(m[2]), 3);
	CHECK_EQ(inner_tag(m[3]), 5);
	for (int i = 4; i < 6; i++) {
		if (m[i] == bad_auth)
			CHECK_EQ(r[i], MG_ESP_ERR_AUTH);
		else if (m[i] == bad_len)
			CHECK_EQ(r[i], MG_ESP_ERR_BAD_LENGTH);
		else
			MG_FAIL("unexpected packet among the failures");
	}
	free_all(m, 6);
	mg_esp_destroy(esp);
}

/* ---- DSCP, ECN, DF, TTL ------------------------------------------------------------------ */

/* Outer TOS/TC, DF and TTL as the modes say; RFC 6040 on the way in. */
MG_TEST(dscp_ecn_df)
{
	struct mg_esp *esp = ctx1();
	struct mg_esp_worker *wk = mg_esp_worker(esp, 0);
	struct mg_esp_sa_spec s = spec_of(MG_ESP_OUTBOUND, MG_ESP_AES_GCM_128, AF_INET, AF_INET,
					  false, 0x5000);
	struct rte_mbuf *m;
	struct rte_ipv4_hdr *ip;

	/* Copy DSCP and ECN (normal mode), copy DF, TTL 17. */
	s.ttl = 17;
	struct mg_esp_sa *a = sa_new(esp, &s);

	m = inner_pkt(AF_INET, 80, 0, 0xb8 | 2, true);
	enc_all(wk, a, &m, 1);
	ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	CHECK_EQ(ip->type_of_service, 0xba);
	CHECK_EQ(ntohs(ip->fragment_offset), RTE_IPV4_HDR_DF_FLAG);
	CHECK_EQ(ip->time_to_live, 17);
	rte_pktmbuf_free(m);
	m = inner_pkt(AF_INET, 80, 0, 0x01, false);
	enc_all(wk, a, &m, 1);
	ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	CHECK_EQ(ip->type_of_service, 0x01);
	CHECK_EQ(ip->fragment_offset, 0);
	rte_pktmbuf_free(m);
	/* Fixed DSCP 10, compatibility ECN, DF always set; inner IPv6. */
	s.spi++;
	s.dscp_mode = MG_ESP_DSCP_SET;
	s.dscp = 10;
	s.ecn_mode = MG_ESP_ECN_COMPAT;
	s.df_mode = MG_ESP_DF_SET;
	s.inner_family = AF_INET6;
	struct mg_esp_sa *b = sa_new(esp, &s);

	m = inner_pkt(AF_INET6, 80, 0, 0xb8 | 3, false);
	enc_all(wk, b, &m, 1);
	ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	CHECK_EQ(ip->type_of_service, 10 << 2);
	CHECK_EQ(ntohs(ip->fragment_offset), RTE_IPV4_HDR_DF_FLAG);
	rte_pktmbuf_free(m);
	/* IPv6 outer: the traffic class carries DSCP and ECN. */
	struct mg_esp_sa_spec s6 = spec_of(MG_ESP_OUTBOUND, MG_ESP_AES_GCM_128, AF_INET6, AF_INET,
					   false, 0x5100);
	struct mg_esp_sa *c = sa_new(esp, &s6);

	m = inner_pkt(AF_INET, 80, 0, 0x48 | 1, false);
	enc_all(wk, c, &m, 1);
	CHECK_EQ((ntohl(rte_pktmbuf_mtod(m, struct rte_ipv6_hdr *)->vtc_flow) >> 20) & 0xff,
		 0x49);
	rte_pktmbuf_free(m);

	/* Decapsulation (RFC 6040): outer ECN, inner ECN -> result. */
	static const struct {
		uint8_t outer, inner, result;
	} t[] = {
		{3, 2, 3}, {3, 1, 3}, {3, 3, 3}, {3, 0, 0xff}, {1, 2, 1}, {1, 0, 0},
		{2, 1, 1}, {0, 2, 2}, {2, 0, 0},
	};
	const int fams[] = {AF_INET, AF_INET6};

	for (int f = 0; f < 2; f++) {
		struct mg_esp_sa_spec so = spec_of(MG_ESP_OUTBOUND, MG_ESP_AES_GCM_128, AF_INET,
						   fams[f], false, 0x5200 + f);
		struct mg_esp_sa_spec si = spec_of(MG_ESP_INBOUND, MG_ESP_AES_GCM_128, AF_INET,
						   fams[f], false, 0x5200 + f);

		so.ecn_mode = MG_ESP_ECN_COMPAT;
		struct mg_esp_sa *o = sa_new(esp, &so), *in = sa_new(esp, &si);

		for (unsigned int i = 0; i < RTE_DIM(t); i++) {
			uint8_t r;

			m = inner_pkt(fams[f], 80, i, 0x20 | t[i].inner, false);
			enc_all(wk, o, &m, 1);
			ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
			ip->type_of_service = (ip->type_of_service & 0xfc) | t[i].outer;
			ip->hdr_checksum = 0;
			ip->hdr_checksum = rte_ipv4_cksum(ip);
			uint16_t k = mg_esp_decrypt_burst(wk, in, &m, 1, &r);

			if (t[i].result == 0xff) {
				CHECK_EQ(k, 0);
				CHECK_EQ(r, MG_ESP_ERR_ECN);
			} else if (fams[f] == AF_INET) {
				struct rte_ipv4_hdr *iip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
				uint16_t sum = iip->hdr_checksum;

				CHECK_EQ(k, 1);
				CHECK_EQ(iip->type_of_service, 0x20 | t[i].result);
				iip->hdr_checksum = 0;
				CHECK_EQ(rte_ipv4_cksum(iip), sum);
			} else {
				CHECK_EQ(k, 1);
				CHECK_EQ((ntohl(rte_pktmbuf_mtod(m, struct rte_ipv6_hdr *)->vtc_flow) >>
					  20) & 0xff, 0x20 | t[i].result);
			}
			rte_pktmbuf_free(m);
		}
	}
	mg_esp_destroy(esp);
}

/* ---- MTU ------------------------------------------------------------------------------------ */

/*
 * For every algorithm, outer family and encapsulation, and several path
 * MTUs: an inner packet of exactly the payload MTU encrypts to at most the
 * path MTU, one byte more does not fit.
 */
MG_TEST(mtu_matches_real_packets)
{
	struct mg_esp *esp = ctx1();
	struct mg_esp_worker *wk = mg_esp_worker(esp, 0);
	const unsigned int pmtus[] = {1500, 1420, 1280, 576};
	uint32_t spi = 0x6000;

	for (int a = 0; a < MG_ESP_ALGO_MAX; a++)
		for (int o = 0; o < 2; o++)
			for (int natt = 0; natt < 2; natt++) {
				int ofam = o ? AF_INET6 : AF_INET;
				struct mg_esp_sa_spec s = spec_of(MG_ESP_OUTBOUND, a, ofam, AF_INET,
								  natt, spi++);
				struct mg_esp_sa *sa = sa_new(esp, &s);

				for (unsigned int p = 0; p < RTE_DIM(pmtus); p++) {
					unsigned int l = mg_esp_sa_inner_mtu(sa, pmtus[p]);
					struct rte_mbuf *m[2] = {inner_pkt(AF_INET, l, 0, 0, false),
								 inner_pkt(AF_INET, l + 1, 0, 0,
									   false)};

					CHECK(l > 400);
					CHECK_EQ(l, mg_esp_inner_mtu(a, ofam, natt, pmtus[p]));
					enc_all(wk, sa, m, 2);
					CHECK(m[0]->pkt_len <= pmtus[p]);
					CHECK(m[1]->pkt_len > pmtus[p]);
					free_all(m, 2);
				}
				mg_esp_sa_destroy(esp, sa);
			}
	/* Known figures: AES-GCM in IPv4 at 1500: 1500-20-8-8-16-2 = 1446. */
	CHECK_EQ(mg_esp_inner_mtu(MG_ESP_AES_GCM_128, AF_INET, false, 1500), 1446);
	CHECK_EQ(mg_esp_inner_mtu(MG_ESP_AES_CBC_128_SHA256, AF_INET6, true, 1500), 1406);
	CHECK_EQ(mg_esp_inner_mtu(MG_ESP_AES_GCM_128, AF_INET, false, 40), 0);
	mg_esp_destroy(esp);
}

/* ---- specs, keys --------------------------------------------------------------------------- */

/* Bad specs are refused with the field at fault. */
MG_TEST(spec_errors)
{
	struct mg_esp *esp = ctx1();
	struct mg_error e;
	struct mg_esp_sa_spec s;
#define BAD(stmt, fld)                                                                     \
	do {                                                                               \
		s = spec_of(MG_ESP_INBOUND, MG_ESP_AES_GCM_128, AF_INET, AF_INET, false, 0x7000); \
		stmt;                                                                      \
		CHECK(mg_esp_sa_create(esp, &s, &e) == NULL);                              \
		CHECK_STR(e.field, fld);                                                   \
	} while (0)
	BAD(s.spi = 255, "spi");
	BAD(s.enc_key_len = 24, "enc_key");
	BAD(s.auth_key_len = 32, "auth_key");
	BAD(s.replay_window = 4097, "replay_window");
	BAD(s.replay_window = 32, "replay_window");
	BAD(s.remote = endpoint(AF_INET6, false), "remote");
	BAD(s.inner_family = 0, "inner_family");
	BAD((s.packets.soft = 10, s.packets.hard = 10), "packets.soft");
	BAD((s.bytes.soft = 11, s.bytes.hard = 10), "bytes.soft");
	BAD(s.owner = 5, "owner");
	BAD(s.initial_seq = 1ull << 33, "initial_seq");
	BAD(s.dscp = 64, "dscp");
	BAD((s.algo = MG_ESP_AES_CBC_128_SHA256, s.auth_key_len = 32), "salt");
#undef BAD
	s = spec_of(MG_ESP_INBOUND, MG_ESP_AES_GCM_128, AF_INET, AF_INET, false, 0x7000);
	CHECK(sa_new(esp, &s) != NULL);
	CHECK(mg_esp_sa_create(esp, &s, &e) == NULL);
	CHECK_EQ(e.code, EEXIST);
	CHECK_STR(e.field, "spi");
	CHECK(mg_esp_sa_lookup(esp, 0x7000) != NULL);
	CHECK(mg_esp_sa_lookup(esp, 0x7001) == NULL);
	enum mg_esp_algo al;

	CHECK_EQ(mg_esp_algo_parse("chacha20-poly1305", &al), 0);
	CHECK_EQ(al, MG_ESP_CHACHA20_POLY1305);
	CHECK(mg_esp_algo_parse("des", &al) < 0);
	mg_esp_destroy(esp);
}

/* Log lines captured while SAs come and go. */
static char logbuf[1 << 16];

/* What the interposed rte_free looks for, and what it found. */
static struct {
	const uint8_t *key;   /* Bytes to look for; NULL: not watching. */
	size_t len;           /* Their length. */
	unsigned int frees;   /* Blocks freed while watching. */
	unsigned int hits;    /* Of those, blocks still holding the bytes. */
} watch;

static bool has_bytes(const uint8_t *hay, size_t n, const uint8_t *needle, size_t k);

/*
 * rte_free, interposed: DPDK's heap zeroes what it frees, so whether lib/esp
 * wiped a key can only be seen just before the real rte_free runs.
 */
void
rte_free(void *p)
{
	static void (*real)(void *);
	size_t sz;

	if (real == NULL)
		real = (void (*)(void *))dlsym(RTLD_NEXT, "rte_free");
	if (watch.key != NULL && p != NULL && rte_malloc_validate(p, &sz) == 0) {
		watch.frees++;
		if (has_bytes(p, sz, watch.key, watch.len))
			watch.hits++;
	}
	real(p);
}

/* True if @p hay (length n) contains @p needle (length k). */
static bool
has_bytes(const uint8_t *hay, size_t n, const uint8_t *needle, size_t k)
{
	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(hay + i, needle, k) == 0)
			return true;
	return false;
}

/*
 * Keys never show: not in the JSON view, not in debug logs, and no memory
 * the SA frees still holds them (seen through the interposed rte_free).
 */
MG_TEST(keys_redacted_and_wiped)
{
	struct mg_esp *esp = ctx1();
	struct mg_esp_sa_spec s = spec_of(MG_ESP_OUTBOUND, MG_ESP_AES_CBC_256_SHA256, AF_INET,
					  AF_INET, true, 0x8000);
	char json[2048], hexkey[65];
	FILE *f = fmemopen(logbuf, sizeof(logbuf), "w");

	for (int i = 0; i < 32; i++) {
		s.enc_key[i] = 0xc0 ^ (i * 37);
		s.auth_key[i] = 0x3c ^ (i * 11);
		snprintf(hexkey + 2 * i, 3, "%02x", s.enc_key[i]);
	}
	rte_openlog_stream(f);
	rte_log_set_global_level(RTE_LOG_DEBUG);
	rte_log_set_level_pattern("mg.*", RTE_LOG_DEBUG);
	struct mg_esp_sa *sa = sa_new(esp, &s);

	mg_esp_sa_format(sa, json, sizeof(json));
	CHECK(strstr(json, "\"key\":\"<redacted>\"") != NULL);
	CHECK(strstr(json, "\"key_bits\":256") != NULL);
	CHECK(strstr(json, hexkey) == NULL);
	CHECK(strstr(json, hexkey + 2) == NULL);
	CHECK(!has_bytes((const uint8_t *)json, strlen(json), s.enc_key, 8));

	/* The SA holds the keys while it lives... */
	size_t sz = 0;

	CHECK_EQ(rte_malloc_validate(sa, &sz), 0);
	CHECK(has_bytes((const uint8_t *)sa, sz, s.enc_key, 16));
	CHECK(has_bytes((const uint8_t *)sa, sz, s.auth_key, 16));
	/* ...the watcher does see a key in a block freed unwiped... */
	uint8_t *probe = rte_malloc(NULL, 64, 0);

	memcpy(probe + 8, s.enc_key, 16);
	watch.key = s.enc_key;
	watch.len = 16;
	rte_free(probe);
	CHECK_EQ(watch.hits, 1);
	/* ...and sees neither key in anything the SA's deletion frees. */
	watch.frees = watch.hits = 0;
	mg_esp_sa_destroy(esp, sa);
	CHECK(watch.frees >= 2);
	CHECK_EQ(watch.hits, 0);
	watch.key = s.auth_key;
	sa = sa_new(esp, &s);
	watch.frees = watch.hits = 0;
	mg_esp_sa_destroy(esp, sa);
	CHECK(watch.frees >= 2);
	CHECK_EQ(watch.hits, 0);
	/*
	 * Direct mode (AES-GCM) keeps an expanded key beside the SA, whose first
	 * round key is the key itself: wiped too.
	 */
	struct mg_esp_sa_spec g = spec_of(MG_ESP_OUTBOUND, MG_ESP_AES_GCM_128, AF_INET, AF_INET,
					  false, 0x8001);
	struct mg_esp_sa_info info;

	memcpy(g.enc_key, s.enc_key, 16);
	sa = sa_new(esp, &g);
	mg_esp_sa_info(sa, &info);
	CHECK_EQ(info.mode, MG_ESP_MODE_DIRECT);
	watch.key = g.enc_key;
	watch.frees = watch.hits = 0;
	mg_esp_sa_destroy(esp, sa);
	CHECK(watch.frees >= 2);
	CHECK_EQ(watch.hits, 0);
	watch.key = NULL;
	mg_esp_destroy(esp);
	fflush(f);
	rte_openlog_stream(NULL);
	fclose(f);
	CHECK(strstr(logbuf, "esp:") != NULL);  /* the debug log did run */
	CHECK(strstr(logbuf, hexkey) == NULL);
	CHECK(!has_bytes((const uint8_t *)logbuf, strlen(logbuf), s.enc_key, 8));
}

/* ---- the receive path, handoff, NAT-T classification ----------------------------------------- */

/* ESP, UDP-encapsulated ESP, IKE on 4500, keepalives, garbage. */
MG_TEST(parse_spi_kinds)
{
	uint8_t b[128];
	uint32_t spi = 0;
	struct rte_mbuf *m;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)b;

	memset(b, 0, sizeof(b));
	ip->version_ihl = 0x45;
	ip->next_proto_id = IPPROTO_ESP;
	ip->total_length = htons(20 + 16);
	memcpy(b + 20, "\x12\x34\x56\x78", 4);
	m = raw_pkt(b, 36);
	CHECK_EQ(mg_esp_parse_spi(m, &spi), MG_ESP_KIND_ESP);
	CHECK_EQ(spi, 0x12345678);
	rte_pktmbuf_free(m);
	ip->next_proto_id = IPPROTO_UDP;
	ip->total_length = htons(20 + 8 + 16);
	memcpy(b + 28, "\x00\x00\x01\x00", 4);
	m = raw_pkt(b, 44);
	CHECK_EQ(mg_esp_parse_spi(m, &spi), MG_ESP_KIND_ESP);
	CHECK_EQ(spi, 0x100);
	rte_pktmbuf_free(m);
	memset(b + 28, 0, 4);
	m = raw_pkt(b, 44);
	CHECK_EQ(mg_esp_parse_spi(m, &spi), MG_ESP_KIND_IKE);
	rte_pktmbuf_free(m);
	ip->total_length = htons(29);
	b[28] = 0xff;
	m = raw_pkt(b, 29);
	CHECK_EQ(mg_esp_parse_spi(m, &spi), MG_ESP_KIND_KEEPALIVE);
	rte_pktmbuf_free(m);
	ip->next_proto_id = IPPROTO_TCP;
	m = raw_pkt(b, 40);
	CHECK_EQ(mg_esp_parse_spi(m, &spi), MG_ESP_KIND_INVALID);
	rte_pktmbuf_free(m);
	/* IPv6, ESP. */
	struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)b;

	memset(b, 0, sizeof(b));
	ip6->vtc_flow = htonl(6u << 28);
	ip6->payload_len = htons(16);
	ip6->proto = IPPROTO_ESP;
	memcpy(b + 40, "\x00\x00\xab\xcd", 4);
	m = raw_pkt(b, 56);
	CHECK_EQ(mg_esp_parse_spi(m, &spi), MG_ESP_KIND_ESP);
	CHECK_EQ(spi, 0xabcd);
	rte_pktmbuf_free(m);
}

/*
 * The receive path on one lcore with two worker handles: packets of an SA
 * owned by the other worker are handed off, then taken back by it; unknown
 * SPIs, keepalives and a deleted SA give their reasons.
 */
MG_TEST(input_handoff_and_gone)
{
	unsigned int lc[2] = {rte_get_main_lcore(), rte_get_main_lcore()};
	struct mg_esp *esp = ctx_on(2, lc, NULL);
	struct mg_esp_worker *w0 = mg_esp_worker(esp, 0), *w1 = mg_esp_worker(esp, 1);
	struct mg_esp_sa_spec so = spec_of(MG_ESP_OUTBOUND, MG_ESP_AES_GCM_128, AF_INET, AF_INET,
					   true, 0x9000);
	struct mg_esp_sa_spec si = spec_of(MG_ESP_INBOUND, MG_ESP_AES_GCM_128, AF_INET, AF_INET,
					   true, 0x9000);
	struct mg_esp_sa *sas[8];
	struct rte_mbuf *m[8];
	uint8_t r[8];
	uint16_t nho = 0, taken = 0;

	si.owner = 1;
	struct mg_esp_sa *out = sa_new(esp, &so), *in = sa_new(esp, &si);

	CHECK_EQ(mg_esp_sa_owner(in), 1);
	enc_seq(w0, out, AF_INET, 100, m, 4);
	/* Worker 0 receives them: not its SA, so they go to worker 1. */
	m[4] = inner_pkt(AF_INET, 60, 0, 0, false);  /* not ESP (UDP to port 2000) */
	CHECK_EQ(mg_esp_input_burst(w0, m, 5, sas, r, &nho), 0);
	CHECK_EQ(nho, 4);
	CHECK_EQ(r[0], MG_ESP_ERR_NOT_ESP);  /* UDP starting with four zero bytes: IKE */
	rte_pktmbuf_free(m[0]);
	/* Worker 1 decrypts them. */
	CHECK_EQ(mg_esp_handoff_input(w1, m, 8, sas, r, &taken), 4);
	CHECK_EQ(taken, 4);
	for (int i = 0; i < 4; i++) {
		CHECK_EQ(inner_tag(m[i]), i);
		CHECK(sas[i] == in);
	}
	free_all(m, 4);
	/* Worker 1 receiving directly decrypts. */
	enc_seq(w0, out, AF_INET, 100, m, 2);
	CHECK_EQ(mg_esp_input_burst(w1, m, 2, sas, r, &nho), 2);
	CHECK_EQ(nho, 0);
	free_all(m, 2);
	/* The owner rule holds on the direct call. */
	enc_seq(w0, out, AF_INET, 100, m, 1);
	CHECK_EQ(mg_esp_decrypt_burst(w0, in, m, 1, r), 0);
	CHECK_EQ(r[0], MG_ESP_ERR_NOT_OWNER);
	/* Handed off, then the SA is deleted (and its slot reused): SA_GONE. */
	CHECK_EQ(mg_esp_handoff(w0, in, m, 1), 1);
	mg_esp_sa_destroy(esp, in);
	si.spi = 0x9001;
	CHECK(sa_new(esp, &si) != NULL);
	CHECK_EQ(mg_esp_handoff_input(w1, m, 8, sas, r, &taken), 0);
	CHECK_EQ(taken, 1);
	CHECK_EQ(r[0], MG_ESP_ERR_SA_GONE);
	CHECK(sas[0] == NULL);
	rte_pktmbuf_free(m[0]);
	/* Unknown SPI. */
	enc_seq(w0, out, AF_INET, 100, m, 1);
	CHECK_EQ(mg_esp_input_burst(w1, m, 1, sas, r, &nho), 0);
	CHECK_EQ(r[0], MG_ESP_ERR_NO_SA);
	rte_pktmbuf_free(m[0]);
	mg_esp_destroy(esp);
}

/* ---- several workers at once ---------------------------------------------------------------- */

#define MT_PKTS 12288 /* a multiple of 64: bursts of 32 per SA */

/* Shared state of the multi-lcore tests. */
static struct {
	struct mg_esp *esp;
	struct mg_esp_sa *out;
	struct mg_esp_out slot;
	struct rte_rcu_qsbr *rcu;
	struct rte_ring *wire;
	uint32_t *seqs[2];
	unsigned int nseq[2];
	struct rte_mbuf **in_pkts;
	unsigned int nin;
	volatile unsigned int done;
	volatile bool stop;
	uint8_t seen[2][MT_PKTS];
	uint64_t dup[2];
	uint64_t fails[2];
	uint64_t handed[2];
	unsigned int next[2];
} mt;

/* Encrypt with the shared outbound SA and record the sequence numbers. */
static int
mt_encrypt(void *arg)
{
	unsigned int w = (uintptr_t)arg;
	struct mg_esp_worker *wk = mg_esp_worker(mt.esp, w);
	struct rte_mbuf *m[32];
	uint8_t r[32];

	for (unsigned int i = 0; i < MT_PKTS; i += 32) {
		for (int j = 0; j < 32; j++)
			m[j] = inner_pkt(AF_INET, 64, i + j, 0, false);
		uint16_t k = mg_esp_encrypt_burst(wk, mt.out, m, 32, r);

		for (uint16_t j = 0; j < k; j++)
			mt.seqs[w][mt.nseq[w]++] = esp_seq(m[j], false);
		free_all(m, 32);
	}
	return 0;
}

/*
 * Two workers encrypt with one outbound SA at the same time: the sequence
 * numbers they send are exactly 1..2N, none twice.
 */
MG_TEST(mt_outbound_unique_sequence)
{
	unsigned int lc[2] = {1, 2};
	static uint8_t hit[2 * MT_PKTS + 1];

	mt.esp = ctx_on(2, lc, NULL);
	struct mg_esp_sa_spec s = spec_of(MG_ESP_OUTBOUND, MG_ESP_AES_GCM_128, AF_INET, AF_INET,
					  false, 0xa000);

	mt.out = sa_new(mt.esp, &s);
	for (int w = 0; w < 2; w++) {
		mt.seqs[w] = calloc(MT_PKTS, sizeof(uint32_t));
		mt.nseq[w] = 0;
	}
	rte_eal_remote_launch(mt_encrypt, (void *)0, 1);
	rte_eal_remote_launch(mt_encrypt, (void *)1, 2);
	rte_eal_mp_wait_lcore();
	CHECK_EQ(mt.nseq[0], MT_PKTS);
	CHECK_EQ(mt.nseq[1], MT_PKTS);
	unsigned int bad = 0;

	for (int w = 0; w < 2; w++)
		for (unsigned int i = 0; i < mt.nseq[w]; i++) {
			uint32_t q = mt.seqs[w][i];

			if (q == 0 || q > 2 * MT_PKTS || hit[q]++)
				bad++;
		}
	CHECK_EQ(bad, 0);
	struct mg_esp_sa_stats st;

	mg_esp_sa_stats(mt.out, &st);
	CHECK_EQ(st.packets, 2 * MT_PKTS);
	free(mt.seqs[0]);
	free(mt.seqs[1]);
	mg_esp_destroy(mt.esp);
}

/* Receive a share of the packets; decrypt what it owns, hand off the rest. */
static int
mt_receive(void *arg)
{
	unsigned int w = (uintptr_t)arg;
	struct mg_esp_worker *wk = mg_esp_worker(mt.esp, w);
	struct rte_mbuf *m[32];
	struct mg_esp_sa *sas[32];
	uint8_t r[32];
	unsigned int next = w;

	rte_rcu_qsbr_thread_online(mt.rcu, w);
	while (__atomic_load_n(&mt.done, __ATOMIC_ACQUIRE) < mt.nin) {
		uint16_t n = 0, nho = 0, taken = 0, k;
		unsigned int other = __atomic_load_n(&mt.next[w ^ 1], __ATOMIC_ACQUIRE);

		/*
		 * RSS-like: worker w takes every other packet, at about the pace of
		 * the other worker (as two RX queues of one port fill), so packets
		 * of one SA are reordered by a few hundred at most.
		 */
		while (n < 32 && next < mt.nin && (next < other + 512 || other >= mt.nin)) {
			m[n++] = mt.in_pkts[next];
			next += 2;
		}
		__atomic_store_n(&mt.next[w], next, __ATOMIC_RELEASE);
		if (n != 0) {
			k = mg_esp_input_burst(wk, m, n, sas, r, &nho);
			for (uint16_t i = 0; i < k; i++) {
				uint32_t t = inner_tag(m[i]);
				unsigned int si = mg_esp_sa_spi(sas[i]) & 1;

				if (t >= MT_PKTS || mt.seen[si][t]++)
					mt.dup[w]++;
			}
			mt.fails[w] += n - nho - k;
			mt.handed[w] += nho;
			free_all(m, n - nho);
			__atomic_fetch_add(&mt.done, n - nho, __ATOMIC_RELEASE);
		}
		k = mg_esp_handoff_input(wk, m, 32, sas, r, &taken);
		for (uint16_t i = 0; i < k; i++) {
			uint32_t t = inner_tag(m[i]);
			unsigned int si = mg_esp_sa_spi(sas[i]) & 1;

			if (t >= MT_PKTS || mt.seen[si][t]++)
				mt.dup[w]++;
		}
		mt.fails[w] += taken - k;
		free_all(m, taken);
		if (taken)
			__atomic_fetch_add(&mt.done, taken, __ATOMIC_RELEASE);
		rte_rcu_qsbr_quiescent(mt.rcu, w);
	}
	rte_rcu_qsbr_thread_offline(mt.rcu, w);
	return 0;
}

/* Run the receivers over mt.in_pkts[0..mt.nin). */
static void
mt_run_receivers(void)
{
	mt.done = 0;
	mt.next[0] = mt.next[1] = 0;
	rte_eal_remote_launch(mt_receive, (void *)0, 1);
	rte_eal_remote_launch(mt_receive, (void *)1, 2);
	while (__atomic_load_n(&mt.done, __ATOMIC_ACQUIRE) < mt.nin)
		usleep(1000);
	rte_eal_mp_wait_lcore();
}

/*
 * Packets of two inbound SAs (one owned by each worker) arrive spread over
 * both workers. Every packet is decrypted exactly once, by its SA's owner,
 * with no replay drop; delivered again, every one is a replay.
 */
MG_TEST(mt_inbound_owner_handoff)
{
	unsigned int lc[2] = {1, 2};
	size_t sz = rte_rcu_qsbr_get_memsize(2);

	mt.rcu = rte_zmalloc("rcu", sz, RTE_CACHE_LINE_SIZE);
	rte_rcu_qsbr_init(mt.rcu, 2);
	rte_rcu_qsbr_thread_register(mt.rcu, 0);
	rte_rcu_qsbr_thread_register(mt.rcu, 1);
	mt.esp = ctx_on(2, lc, mt.rcu);
	memset(mt.seen, 0, sizeof(mt.seen));
	memset(mt.dup, 0, sizeof(mt.dup));
	memset(mt.fails, 0, sizeof(mt.fails));
	memset(mt.handed, 0, sizeof(mt.handed));

	struct mg_esp_sa *outs[2], *ins[2];
	struct mg_esp_worker *w0 = mg_esp_worker(mt.esp, 0);
	unsigned int n = MT_PKTS / 2;  /* per SA */

	for (int i = 0; i < 2; i++) {
		struct mg_esp_sa_spec so = spec_of(MG_ESP_OUTBOUND, MG_ESP_AES_GCM_128, AF_INET,
						   AF_INET, false, 0xb000 + i);
		struct mg_esp_sa_spec si = spec_of(MG_ESP_INBOUND, MG_ESP_AES_GCM_128, AF_INET,
						   AF_INET, false, 0xb000 + i);

		si.owner = i;
		si.replay_window = 4096;
		outs[i] = sa_new(mt.esp, &so);
		ins[i] = sa_new(mt.esp, &si);
	}
	/* Interleave the two SAs' packets; keep a copy of each for the replay round. */
	struct rte_mbuf **a = calloc(2 * n, sizeof(*a)), **copies = calloc(2 * n, sizeof(*a));
	struct rte_mbuf *tmp[2][32];

	for (unsigned int i = 0; i < n; i += 32)
		for (int s = 0; s < 2; s++) {
			for (int j = 0; j < 32; j++)
				tmp[s][j] = inner_pkt(AF_INET, 64, i + j, 0, false);
			enc_all(w0, outs[s], tmp[s], 32);
			/* Alternate the slot order so each worker gets half of each SA. */
			for (int j = 0; j < 32; j++) {
				a[2 * (i + j) + (s ^ ((i + j) & 1))] = tmp[s][j];
				copies[2 * (i + j) + s] = pkt_dup(tmp[s][j]);
			}
		}
	mt.in_pkts = a;
	mt.nin = 2 * n;
	mt_run_receivers();
	struct mg_esp_sa_stats st[2];

	for (int s = 0; s < 2; s++) {
		mg_esp_sa_stats(ins[s], &st[s]);
		CHECK_EQ(st[s].packets, n);
		CHECK_EQ(st[s].replay, 0);
		CHECK_EQ(st[s].errors[MG_ESP_ERR_NOT_OWNER], 0);
		unsigned int got = 0;

		for (unsigned int t = 0; t < n; t++)
			got += mt.seen[(0xb000 + s) & 1][t] == 1;
		CHECK_EQ(got, n);
	}
	CHECK_EQ(mt.dup[0] + mt.dup[1], 0);
	CHECK_EQ(mt.fails[0] + mt.fails[1], 0);
	/* Each worker handed half of the other SA's packets over. */
	CHECK_EQ(mt.handed[0], n / 2);
	CHECK_EQ(mt.handed[1], n / 2);
	/* The same packets again, spread the same way: all replays. */
	mt.in_pkts = copies;
	mt_run_receivers();
	for (int s = 0; s < 2; s++) {
		mg_esp_sa_stats(ins[s], &st[s]);
		CHECK_EQ(st[s].packets, n);
		CHECK_EQ(st[s].replay, n);
	}
	CHECK_EQ(mt.fails[0] + mt.fails[1], 2 * n);
	free(a);
	free(copies);
	mg_esp_destroy(mt.esp);
	rte_free(mt.rcu);
}

/* Sender for the rekey test: a numbered stream through the tunnel's outbound slot. */
static int
mt_sender(void *arg)
{
	struct mg_esp_worker *wk = mg_esp_worker(mt.esp, 0);
	struct rte_mbuf *m[16];
	uint8_t r[16];

	rte_rcu_qsbr_thread_online(mt.rcu, 0);
	for (unsigned int i = 0; i < MT_PKTS; i += 16) {
		struct mg_esp_sa *sa = mg_esp_out_get(&mt.slot);

		for (int j = 0; j < 16; j++)
			m[j] = inner_pkt(AF_INET6, 100, i + j, 0, false);
		uint16_t k = mg_esp_encrypt_burst(wk, sa, m, 16, r);

		mt.fails[0] += 16 - k;
		free_all(m + k, 16 - k);
		for (uint16_t j = 0; j < k;)
			j += rte_ring_sp_enqueue_burst(mt.wire, (void **)m + j, k - j, NULL);
		rte_rcu_qsbr_quiescent(mt.rcu, 0);
		rte_delay_us_sleep(200);  /* stretch the stream (~150 ms) over the rekey */
	}
	rte_rcu_qsbr_thread_offline(mt.rcu, 0);
	return 0;
}

/* Receiver for the rekey test: decrypts whatever SA the packets belong to. */
static int
mt_receiver(void *arg)
{
	struct mg_esp_worker *wk = mg_esp_worker(mt.esp, 1);
	struct rte_mbuf *m[32];
	struct mg_esp_sa *sas[32];
	uint8_t r[32];

	rte_rcu_qsbr_thread_online(mt.rcu, 1);
	while (__atomic_load_n(&mt.done, __ATOMIC_ACQUIRE) < MT_PKTS) {
		uint16_t n = rte_ring_sc_dequeue_burst(mt.wire, (void **)m, 32, NULL), nho, k;

		if (n != 0) {
			k = mg_esp_input_burst(wk, m, n, sas, r, &nho);
			for (uint16_t i = 0; i < k; i++) {
				uint32_t t = inner_tag(m[i]);

				if (t >= MT_PKTS || mt.seen[0][t]++)
					mt.dup[1]++;
			}
			mt.fails[1] += n - k;
			free_all(m, n);
			__atomic_fetch_add(&mt.done, n, __ATOMIC_RELEASE);
		}
		rte_rcu_qsbr_quiescent(mt.rcu, 1);
	}
	rte_rcu_qsbr_thread_offline(mt.rcu, 1);
	return 0;
}

/*
 * Rekeying during a stream, IPv6 inner in IPv4 outer: install the new
 * inbound SA, switch the outbound slot to the new SA, destroy the old
 * outbound SA, retire the old inbound SA. Every packet arrives exactly once,
 * both SAs carried some, and the retired SA is deleted once idle.
 */
MG_TEST(mt_rekey_without_loss)
{
	unsigned int lc[2] = {1, 2};
	size_t sz = rte_rcu_qsbr_get_memsize(2);

	mt.rcu = rte_zmalloc("rcu", sz, RTE_CACHE_LINE_SIZE);
	rte_rcu_qsbr_init(mt.rcu, 2);
	rte_rcu_qsbr_thread_register(mt.rcu, 0);
	rte_rcu_qsbr_thread_register(mt.rcu, 1);
	mt.esp = ctx_on(2, lc, mt.rcu);
	mt.wire = rte_ring_create("esp_wire", 4096, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	memset(mt.seen, 0, sizeof(mt.seen));
	memset(mt.dup, 0, sizeof(mt.dup));
	memset(mt.fails, 0, sizeof(mt.fails));
	mt.done = 0;

	struct mg_esp_sa_spec so = spec_of(MG_ESP_OUTBOUND, MG_ESP_AES_GCM_256, AF_INET,
					   AF_INET6, false, 0xc001);
	struct mg_esp_sa_spec si = spec_of(MG_ESP_INBOUND, MG_ESP_AES_GCM_256, AF_INET,
					   AF_INET6, false, 0xc001);

	si.owner = 1;
	struct mg_esp_sa *in1 = sa_new(mt.esp, &si);

	mg_esp_out_switch(mt.esp, &mt.slot, sa_new(mt.esp, &so));
	rte_eal_remote_launch(mt_sender, NULL, 1);
	rte_eal_remote_launch(mt_receiver, NULL, 2);
	while (__atomic_load_n(&mt.done, __ATOMIC_ACQUIRE) < MT_PKTS / 3)
		usleep(200);
	/* New keys: inbound first, then outbound. */
	so.spi = si.spi = 0xc002;
	so.enc_key[0] ^= 0xff;
	si.enc_key[0] ^= 0xff;
	struct mg_esp_sa *in2 = sa_new(mt.esp, &si);
	struct mg_esp_sa *old = mg_esp_out_switch(mt.esp, &mt.slot, sa_new(mt.esp, &so));

	mg_esp_sa_destroy(mt.esp, old);
	CHECK_EQ(mg_esp_sa_retire(mt.esp, in1, 30, 5000), 0);
	struct mg_esp_event ev[8];
	unsigned int retired = 0;
	uint64_t t0 = mg_now_ns();
	struct mg_esp_sa_stats s1, s2;

	mg_esp_sa_stats(in1, &s1);
	while (retired == 0 && mg_now_ns() - t0 < 10000000000ull) {
		unsigned int n = mg_esp_poll(mt.esp, ev, 8);

		for (unsigned int i = 0; i < n; i++)
			if (ev[i].type == MG_ESP_EV_RETIRED && ev[i].spi == 0xc001)
				retired++;
		if (retired == 0)
			mg_esp_sa_stats(in1, &s1);
		usleep(5000);
	}
	CHECK_EQ(retired, 1);
	CHECK(mg_esp_sa_lookup(mt.esp, 0xc001) == NULL);
	while (__atomic_load_n(&mt.done, __ATOMIC_ACQUIRE) < MT_PKTS)
		usleep(1000);
	rte_eal_mp_wait_lcore();
	mg_esp_sa_stats(in2, &s2);
	unsigned int got = 0;

	for (unsigned int t = 0; t < MT_PKTS; t++)
		got += mt.seen[0][t] == 1;
	CHECK_EQ(got, MT_PKTS);
	CHECK_EQ(mt.dup[1], 0);
	CHECK_EQ(mt.fails[0] + mt.fails[1], 0);
	CHECK(s1.packets > 0);
	CHECK(s2.packets > 0);
	CHECK_EQ(s1.packets + s2.packets, MT_PKTS);
	mg_esp_destroy(mt.esp);
	rte_ring_free(mt.wire);
	rte_free(mt.rcu);
}

/* The harness's main, with the EAL set up first. */
int
main(int argc, char **argv)
{
	mg_test_setup = setup;
	return mg_test_main(argc, argv);
}

/* ---- asynchronous lookaside ------------------------------------------------------------- */

/* Take back every packet in flight on @p wk into @p out (fails after a bounded wait). */
static uint16_t
deq_all(struct mg_esp_worker *wk, struct rte_mbuf **out, struct mg_esp_sa **sas, uint8_t *r,
	uint16_t want, uint16_t *nok)
{
	uint16_t have = 0;

	*nok = 0;
	for (unsigned int tries = 0; have < want && tries < 100000; tries++) {
		struct rte_mbuf *p[64];
		struct mg_esp_sa *s[64];
		uint8_t rr[64];
		uint16_t got, ok = mg_esp_dequeue_burst(wk, p, 64, s, rr, &got);

		/* Successes of all calls first would reorder: keep call order, note failures. */
		for (uint16_t i = 0; i < got; i++) {
			out[have] = p[i];
			sas[have] = s[i];
			r[have++] = i < ok ? MG_ESP_ERR_NONE : rr[i];
		}
		*nok += ok;
	}
	return have;
}

/*
 * Lookaside SAs through the graph's calls: bursts are enqueued and leave
 * the caller's array, come back from mg_esp_dequeue_burst in order with
 * their SA, decrypt to the same packets; a duplicate in flight fails as a
 * replay when it comes back; an SA deleted with packets in flight is kept
 * until mg_esp_drain frees them, and the mbuf pool is back where it was.
 */
MG_TEST(async_lookaside_order_replay_drain)
{
	struct mg_esp *esp = ctx1();
	struct mg_esp_worker *wk = mg_esp_worker(esp, 0);
	struct mg_esp_sa_spec so = spec_of(MG_ESP_OUTBOUND, MG_ESP_AES_CBC_128_SHA256, AF_INET,
					   AF_INET, false, 0x3001);
	struct mg_esp_sa_spec si = spec_of(MG_ESP_INBOUND, MG_ESP_AES_CBC_128_SHA256, AF_INET,
					   AF_INET, false, 0x3001);
	struct rte_mbuf *m[97], *back[97];
	struct mg_esp_sa *sas[97];
	uint8_t r[97];
	unsigned int avail = rte_mempool_avail_count(pool);
	uint16_t q, nok;

	so.mode = si.mode = MG_ESP_MODE_LOOKASIDE;
	struct mg_esp_sa *out = sa_new(esp, &so), *in = sa_new(esp, &si);

	for (uint32_t i = 0; i < 96; i++)
		CHECK((m[i] = inner_pkt(AF_INET, 200, i, 0, true)) != NULL);
	for (int b = 0; b < 3; b++) {
		CHECK_EQ(mg_esp_encrypt_submit(wk, out, m + 32 * b, 32, r, &q), 0);
		CHECK_EQ(q, 32);
	}
	CHECK_EQ(mg_esp_inflight(esp), 96);
	CHECK_EQ(mg_esp_worker_inflight(wk), 96);
	CHECK_EQ(deq_all(wk, back, sas, r, 96, &nok), 96);
	CHECK_EQ(nok, 96);
	CHECK_EQ(mg_esp_inflight(esp), 0);
	for (uint32_t i = 0; i < 96; i++) {
		CHECK(sas[i] == out);
		CHECK_EQ(esp_seq(back[i], false), i + 1);
	}
	/* Inbound, with a copy of sequence 40 in the next burst: both in flight at once. */
	for (int i = 0; i < 96; i++)
		m[i + (i >= 64)] = back[i];
	m[64] = pkt_dup(back[39]);
	CHECK_EQ(mg_esp_input_submit(wk, m, 32, sas, r, &q), 0);
	CHECK_EQ(q, 32);
	CHECK_EQ(mg_esp_input_submit(wk, m + 32, 33, sas, r, &q), 0);
	CHECK_EQ(q, 33);
	CHECK_EQ(mg_esp_input_submit(wk, m + 65, 32, sas, r, &q), 0);
	CHECK_EQ(q, 32);
	CHECK_EQ(deq_all(wk, back, sas, r, 97, &nok), 97);
	CHECK_EQ(nok, 96);
	/* In order (each call returns its failures after its successes). */
	uint32_t t = 0, replays = 0;

	for (uint32_t i = 0; i < 97; i++) {
		CHECK(sas[i] == in);
		if (r[i] != MG_ESP_ERR_NONE) {
			CHECK_EQ(r[i], MG_ESP_ERR_REPLAY);
			replays++;
			continue;
		}
		CHECK_EQ(inner_tag(back[i]), t);
		t++;
	}
	CHECK_EQ(t, 96);
	CHECK_EQ(replays, 1);
	free_all(back, 97);
	struct mg_esp_sa_stats st;

	mg_esp_sa_stats(in, &st);
	CHECK_EQ(st.packets, 96);
	CHECK_EQ(st.replay, 1);
	/* Delete the outbound SA with a burst in flight: the drain frees the packets. */
	for (uint32_t i = 0; i < 16; i++)
		CHECK((m[i] = inner_pkt(AF_INET, 300, i, 0, true)) != NULL);
	CHECK_EQ(mg_esp_encrypt_submit(wk, out, m, 16, r, &q), 0);
	CHECK_EQ(q, 16);
	mg_esp_sa_destroy(esp, out);
	CHECK_EQ(mg_esp_inflight(esp), 16);
	CHECK_EQ(mg_esp_drain(esp), 16);
	CHECK_EQ(mg_esp_inflight(esp), 0);
	CHECK_EQ(mg_esp_ops_in_use(esp), 0);
	CHECK_EQ(rte_mempool_avail_count(pool), avail);
	mg_esp_destroy(esp);
}
