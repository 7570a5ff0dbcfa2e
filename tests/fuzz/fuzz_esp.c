/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Harness "esp": received packets through lib/esp's inbound path
 * (mg_esp_input_burst: SPI lookup, outer header checks, anti-replay window,
 * decryption through the real crypto devices or intel-ipsec-mb directly,
 * ESP trailer checks (librte_ipsec's, or direct mode's own), inner packet
 * checks, RFC 6040 decapsulation), with a fixed
 * set of inbound SAs created afresh for every input:
 *
 *   SA 1  spi 0x101  null-hmac-sha256  outer IPv4 192.0.2.1 <- 192.0.2.2, inner IPv4
 *   SA 2  spi 0x102  aes-gcm-128, ESN  outer IPv6 fd00:e5::1 <- fd00:e5::2, inner IPv6, window 128,
 *                                      direct mode (AUTO's choice for AES-GCM)
 *   SA 3  spi 0x103  aes-gcm-128       outer IPv4 192.0.2.1 <- any, UDP-encapsulated
 *                                      (port 4500), inner IPv4, lookaside crypto
 *
 * Each packet lives in a guarded buffer (fuzz_buf.h) that ends TAIL bytes
 * after it (more than any SA's tailroom), so reading or writing past that
 * faults at once.
 *
 * Input: one control byte, then the packet from its outer IP header on.
 *   bits 0-1  0: the bytes as they are; 1-3: seal them for SA 1-3 first:
 *             the outer header gets the SA's addresses, protocol, ports and
 *             lengths, the ESP header its SPI (the sequence number and IV
 *             are the input's), the bytes after the IV are the plaintext
 *             (payload, padding, pad length, next header; cut to the
 *             cipher's 4-byte alignment), encrypted with the SA's key and
 *             followed by the right ICV; so the fuzzer reaches the trailer
 *             and inner packet checks behind the integrity check
 *   bits 2-4  extra copies of the packet in the same burst (0-7)
 *   bit 5     decrypt with mg_esp_decrypt_burst on the SA of bits 6-7 (0 and
 *             1: SA 1, 2: SA 2, 3: SA 3) instead of the receive path
 *
 * Invariants: a sealed packet never fails its integrity check; its copies
 * in the same burst are replays; a decrypted packet is a whole IP packet of
 * the SA's inner family; every failure has a reason, counted once in the
 * SA's counters; every mbuf and buffer comes back.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <rte_byteorder.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "fuzz.h"
#include "fuzz_buf.h"
#include "mg_esp.h"

#define MAX_PKT 1600
#define TAIL 32            /* room behind the packet: the SAs need at most 20 */
#define NB_SAS 3
#define SLOTS 8            /* packets in a burst at most */

/* ---- the SAs ------------------------------------------------------------------------------ */

static struct mg_esp *esp;
static struct mg_esp_worker *wk;
static struct mg_esp_sa_spec specs[NB_SAS];
static struct mg_esp_sa *sas[NB_SAS];

static void
sa_specs(void)
{
	static const uint8_t akey[32] = "fuzz-esp-null-hmac-sha256-key-01";
	static const uint8_t gkey2[16] = "fuzz-esp-gcm-k02";
	static const uint8_t gkey3[16] = "fuzz-esp-gcm-k03";
	struct mg_esp_sa_spec *s;

	memset(specs, 0, sizeof(specs));
	s = &specs[0];
	s->spi = 0x101;
	s->dir = MG_ESP_INBOUND;
	FZ_SETUP(mg_ip_parse("192.0.2.1", &s->local) == 0 && mg_ip_parse("192.0.2.2",
									   &s->remote) == 0,
		 "address");
	s->inner_family = AF_INET;
	s->algo = MG_ESP_NULL_SHA256;
	memcpy(s->auth_key, akey, 32);
	s->auth_key_len = 32;
	s->owner = 0;

	s = &specs[1];
	s->spi = 0x102;
	s->dir = MG_ESP_INBOUND;
	FZ_SETUP(mg_ip_parse("fd00:e5::1", &s->local) == 0 &&
			 mg_ip_parse("fd00:e5::2", &s->remote) == 0,
		 "address");
	s->inner_family = AF_INET6;
	s->algo = MG_ESP_AES_GCM_128;
	memcpy(s->enc_key, gkey2, 16);
	s->enc_key_len = 16;
	memcpy(s->salt, "salt", 4);
	s->esn = true;
	s->replay_window = 128;
	s->owner = 0;

	s = &specs[2];
	s->spi = 0x103;
	s->dir = MG_ESP_INBOUND;
	FZ_SETUP(mg_ip_parse("192.0.2.1", &s->local) == 0 && mg_ip_parse("192.0.2.9",
									   &s->remote) == 0,
		 "address");
	s->inner_family = AF_INET;
	s->algo = MG_ESP_AES_GCM_128;
	memcpy(s->enc_key, gkey3, 16);
	s->enc_key_len = 16;
	memcpy(s->salt, "SALT", 4);
	s->udp_encap = true;
	s->local_port = 4500;
	s->remote_port = 4500;
	s->mode = MG_ESP_MODE_LOOKASIDE;
	s->owner = 0;
}

static void
sas_create(void)
{
	for (unsigned int i = 0; i < NB_SAS; i++) {
		struct mg_error e;

		sas[i] = mg_esp_sa_create(esp, &specs[i], &e);
		FZ_SETUP(sas[i] != NULL, "SA %u: %s", i + 1, e.msg);
	}
}

static void
sas_destroy(void)
{
	for (unsigned int i = 0; i < NB_SAS; i++) {
		mg_esp_sa_destroy(esp, sas[i]);
		sas[i] = NULL;
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct mg_esp_conf c;
	struct mg_error e;

	(void)argc;
	(void)argv;
	fz_eal_init("esp", NULL, 0);
	fz_buf_init();
	memset(&c, 0, sizeof(c));
	c.nb_workers = 1;
	c.lcores[0] = rte_lcore_id();
	c.max_sas = 16;
	c.handoff_size = 64;
	esp = mg_esp_create(&c, &e);
	FZ_SETUP(esp != NULL, "mg_esp_create: %s", e.msg);
	wk = mg_esp_worker(esp, 0);
	FZ_SETUP(wk != NULL, "worker");
	sa_specs();
	return 0;
}

/* ---- sealing -------------------------------------------------------------------------------- */

/*
 * Make @p pkt (@p *len bytes, room for MAX_PKT + 16) an ESP packet of SA
 * @p i as described at the top; false if it is too short to hold the fixed
 * headers.
 */
static bool
seal(unsigned int i, uint8_t *pkt, uint32_t *len)
{
	const struct mg_esp_sa_spec *s = &specs[i];
	bool gcm = s->algo == MG_ESP_AES_GCM_128;
	uint32_t hl, iv = gcm ? 8 : 0, ptlen, tot;
	uint8_t *esph, icv[32];

	if (s->local.family == AF_INET) {
		if (*len < 20)
			return false;
		hl = (pkt[0] & 0xfu) * 4u;
		if (hl < 20 || hl > *len)
			hl = 20;
		pkt[0] = (uint8_t)(0x40 | hl / 4);
		pkt[6] &= 0x40;             /* DF may stay; MF and the offset go */
		pkt[7] = 0;
		pkt[9] = s->udp_encap ? 17 : 50;
		memcpy(pkt + 12, &s->remote.v4, 4);
		memcpy(pkt + 16, &s->local.v4, 4);
	} else {
		if (*len < 40)
			return false;
		hl = 40;
		pkt[0] = (uint8_t)(0x60 | (pkt[0] & 0xf));
		pkt[6] = s->udp_encap ? 17 : 50;
		memcpy(pkt + 8, s->remote.v6, 16);
		memcpy(pkt + 24, s->local.v6, 16);
	}
	if (s->udp_encap) {
		if (*len < hl + 8)
			return false;
		pkt[hl + 2] = 4500 >> 8;
		pkt[hl + 3] = 4500 & 0xff;
		pkt[hl + 6] = pkt[hl + 7] = 0;
		hl += 8;
	}
	if (*len < hl + 8 + iv)
		return false;
	esph = pkt + hl;
	esph[0] = (uint8_t)(s->spi >> 24);
	esph[1] = (uint8_t)(s->spi >> 16);
	esph[2] = (uint8_t)(s->spi >> 8);
	esph[3] = (uint8_t)s->spi;
	/* NAT-T: a zero SPI would read as the non-ESP marker; the real SPI never is. */
	ptlen = (*len - hl - 8 - iv) & ~3u;
	if (gcm) {
		/* RFC 4106: nonce = salt | IV; AAD = SPI | [seq high |] seq low. */
		uint8_t nonce[12], aad[12];
		uint32_t aadlen = 0;
		EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
		int outl;

		FZ_SETUP(x != NULL, "EVP");
		memcpy(nonce, s->salt, 4);
		memcpy(nonce + 4, esph + 8, 8);
		memcpy(aad, esph, 4);
		aadlen = 4;
		if (s->esn) {
			memset(aad + 4, 0, 4); /* a fresh SA: the high half is 0 */
			aadlen = 8;
		}
		memcpy(aad + aadlen, esph + 4, 4);
		aadlen += 4;
		FZ_SETUP(EVP_EncryptInit_ex(x, EVP_aes_128_gcm(), NULL, NULL, NULL) == 1 &&
				 EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
				 EVP_EncryptInit_ex(x, NULL, NULL, s->enc_key, nonce) == 1 &&
				 EVP_EncryptUpdate(x, NULL, &outl, aad, (int)aadlen) == 1,
			 "AES-GCM set-up");
		if (ptlen > 0)
			FZ_SETUP(EVP_EncryptUpdate(x, esph + 16, &outl, esph + 16, (int)ptlen) == 1,
				 "AES-GCM");
		FZ_SETUP(EVP_EncryptFinal_ex(x, icv, &outl) == 1 &&
				 EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, 16, icv) == 1,
			 "AES-GCM tag");
		EVP_CIPHER_CTX_free(x);
	} else {
		/* RFC 4868: HMAC-SHA-256 over the ESP header and payload, cut to 128 bits. */
		unsigned int ol = 0;

		FZ_SETUP(HMAC(EVP_sha256(), s->auth_key, 32, esph, 8 + ptlen, icv, &ol) != NULL,
			 "HMAC");
	}
	memcpy(esph + 8 + iv + ptlen, icv, 16);
	*len = hl + 8 + iv + ptlen + 16;
	if (s->local.family == AF_INET) {
		uint32_t ihl = (pkt[0] & 0xfu) * 4u;

		tot = *len;
		pkt[2] = (uint8_t)(tot >> 8);
		pkt[3] = (uint8_t)tot;
		if (s->udp_encap) {
			pkt[ihl + 4] = (uint8_t)((tot - ihl) >> 8);
			pkt[ihl + 5] = (uint8_t)(tot - ihl);
		}
	} else {
		tot = *len - 40;
		pkt[4] = (uint8_t)(tot >> 8);
		pkt[5] = (uint8_t)tot;
		if (s->udp_encap) {
			pkt[44] = (uint8_t)(tot >> 8);
			pkt[45] = (uint8_t)tot;
		}
	}
	return true;
}

/* ---- checks ------------------------------------------------------------------------------- */

static void
check_inner(const struct mg_esp_sa_spec *s, const struct rte_mbuf *m)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t tot;

	FZ_ASSERT(m->nb_segs == 1 && m->data_len == m->pkt_len, "decrypted packet in segments");
	if (s->inner_family == AF_INET) {
		FZ_ASSERT(m->data_len >= 20 && (p[0] >> 4) == 4, "SA %#x gave a non-IPv4 packet",
			  s->spi);
		tot = (uint32_t)p[2] << 8 | p[3];
		FZ_ASSERT((p[0] & 0xfu) * 4u >= 20 && (p[0] & 0xfu) * 4u <= tot,
			  "inner IPv4 header length");
	} else {
		FZ_ASSERT(m->data_len >= 40 && (p[0] >> 4) == 6, "SA %#x gave a non-IPv6 packet",
			  s->spi);
		tot = 40 + ((uint32_t)p[4] << 8 | p[5]);
	}
	FZ_ASSERT(tot == m->data_len, "inner packet of %u bytes says %u", m->data_len, tot);
}

static int
sa_index(const struct mg_esp_sa *sa)
{
	for (int i = 0; i < NB_SAS; i++)
		if (sa == sas[i])
			return i;
	return -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rte_mbuf *pkts[SLOTS];
	struct mg_esp_sa *psa[SLOTS];
	uint8_t reasons[SLOTS], ctl, *buf;
	unsigned int sealed, n, direct;
	uint16_t ok, handoff = 0;
	uint32_t len;
	uint64_t fails_before[NB_SAS], fails_after;

	if (size < 1)
		return 0;
	ctl = data[0];
	sealed = ctl & 3;
	n = 1 + ((ctl >> 2) & 7);
	direct = ctl & 0x20;
	len = (uint32_t)RTE_MIN(size - 1, (size_t)MAX_PKT);
	buf = malloc(MAX_PKT + 16);
	FZ_SETUP(buf != NULL, "out of memory");
	memcpy(buf, data + 1, len);
	if (sealed && !seal(sealed - 1, buf, &len))
		sealed = 0;
	sas_create();
	for (unsigned int i = 0; i < NB_SAS; i++) {
		struct mg_esp_sa_stats st;

		mg_esp_sa_stats(sas[i], &st);
		fails_before[i] = st.replay + st.auth + st.other;
	}
	for (unsigned int i = 0; i < n; i++)
		pkts[i] = fz_buf_pkt(buf, len, TAIL);
	free(buf);
	memset(reasons, 0xee, sizeof(reasons));
	if (direct) {
		struct mg_esp_sa *sa = sas[(ctl >> 6) ? (ctl >> 6) - 1u : 0u];

		ok = mg_esp_decrypt_burst(wk, sa, pkts, (uint16_t)n, reasons);
		for (unsigned int i = 0; i < n; i++)
			psa[i] = sa;
	} else {
		ok = mg_esp_input_burst(wk, pkts, (uint16_t)n, psa, reasons, &handoff);
	}
	FZ_ASSERT(ok <= n && handoff == 0, "%u decrypted, %u handed off, of %u", ok, handoff, n);
	for (unsigned int i = 0; i < ok; i++) {
		int k = sa_index(psa[i]);

		FZ_ASSERT(k >= 0, "decrypted packet without its SA");
		check_inner(&specs[k], pkts[i]);
	}
	for (unsigned int i = ok; i < n; i++) {
		FZ_ASSERT(reasons[i] != MG_ESP_ERR_NONE && reasons[i] < MG_ESP_ERR_MAX,
			  "failure %u without a reason (%u)", i, reasons[i]);
		if (reasons[i] == MG_ESP_ERR_NO_SA || reasons[i] == MG_ESP_ERR_NOT_ESP)
			FZ_ASSERT(direct || psa[i] == NULL, "%s with an SA", mg_esp_err_name(reasons[i]));
		/* Our ICV is right: the library must agree. */
		if (sealed)
			FZ_ASSERT(reasons[i] != MG_ESP_ERR_AUTH,
				  "a packet sealed for SA %u failed its integrity check", sealed);
	}
	/* The copies of a sealed packet: the first decides, the others are replays. */
	if (sealed && n > 1) {
		unsigned int replays = 0;

		for (unsigned int i = ok; i < n; i++)
			replays += reasons[i] == MG_ESP_ERR_REPLAY;
		FZ_ASSERT(ok <= 1, "%u copies of one sequence number decrypted", ok);
		if (ok == 1)
			FZ_ASSERT(replays == n - 1, "%u of %u copies refused as replays", replays,
				  n - 1);
	}
	/* Every failure of an SA's packet is counted once. */
	fails_after = 0;
	for (unsigned int i = 0; i < NB_SAS; i++) {
		struct mg_esp_sa_stats st;
		uint64_t sum = 0;

		mg_esp_sa_stats(sas[i], &st);
		for (unsigned int r = 0; r < MG_ESP_ERR_MAX; r++)
			sum += st.errors[r];
		FZ_ASSERT(sum == st.replay + st.auth + st.other, "SA %u counters disagree", i + 1);
		fails_after += sum - fails_before[i];
	}
	{
		unsigned int with_sa = 0;

		for (unsigned int i = ok; i < n; i++)
			with_sa += psa[i] != NULL;
		FZ_ASSERT(fails_after == with_sa, "%u failures of known SAs, %lu counted", with_sa,
			  (unsigned long)fails_after);
	}
	/* With MG_FUZZ_VERBOSE: what became of each packet (to check seeds reach their path). */
	if (getenv("MG_FUZZ_VERBOSE") != NULL) {
		fprintf(stderr, "fuzz: %u of %u decrypted;", ok, n);
		for (unsigned int i = ok; i < n; i++)
			fprintf(stderr, " %s", mg_esp_err_name(reasons[i]));
		fputc('\n', stderr);
	}
	rte_pktmbuf_free_bulk(pkts, n);
	sas_destroy();
	FZ_ASSERT(fz_buf_in_use() == 0, "%u packet buffers never released", fz_buf_in_use());
	FZ_ASSERT(rte_mempool_in_use_count(fz_buf_pool()) == 0, "%u mbufs in use after the input",
		  rte_mempool_in_use_count(fz_buf_pool()));
	return 0;
}
