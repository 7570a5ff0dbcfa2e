/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wg_crypto: which ChaCha20-Poly1305 the WireGuard data path should use, and
 * what the library's burst functions cost around it. One thread, one core;
 * rates are packets per second of that thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID), so time stolen by other tenants of a shared
 * machine does not count; each figure is the best of --rounds windows.
 *
 * Candidates, all encrypting bursts of 32 packets in place with a 64-bit
 * counter nonce, as the data path does:
 *   openssl-evp       EVP_CIPHER_CTX per lcore, key and nonce set per packet
 *   openssl-evp-iv    the same with the key set once (best case of EVP)
 *   libsodium         crypto_aead_chacha20poly1305_ietf_encrypt_detached
 *   ipsec-mb-job      libIPSec_MB job API (submit per packet, flush per burst)
 *   ipsec-mb-direct   libIPSec_MB chacha20_poly1305 init/update/finalize
 *   cryptodev         DPDK's crypto_aesni_mb PMD (libIPSec_MB underneath):
 *                     sessions, ops, enqueue/dequeue bursts
 * and the library itself on mbufs:
 *   mg_wg_encrypt     mg_wg_encrypt_burst: header, padding, counter, crypto
 *   mg_wg_decrypt     mg_wg_decrypt_burst: lookup, replay window, crypto,
 *                     strip (each burst is first restored with memcpy)
 * plus the handshake path: keyed BLAKE2s-128 (mac1, ours vs OpenSSL's
 * BLAKE2SMAC) and complete handshakes per second.
 *
 * usage: wg_crypto [--ms N] [--rounds N] [--quick]
 * Runs its own EAL with --no-huge (no hugepages needed; bench figures with
 * hugepages differ little here: the work is CPU-bound crypto on warm buffers).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <intel-ipsec-mb.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <rte_cryptodev.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <sodium.h>

#include "mg_wg.h"
#include "wg_blake2s.h"
#include "wg_priv.h"

#define BURST 32
#define IV_OFFSET (sizeof(struct rte_crypto_op) + sizeof(struct rte_crypto_sym_op))

static unsigned int window_ms = 150, rounds = 3;
static uint8_t key[32] = {1, 2, 3, 4};
static uint8_t bufs[BURST][2048];
static uint32_t cur_len;
static uint64_t counter;
static struct rte_mempool *pool;

/* Thread CPU time in seconds. */
static double
cpu_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Run @p fn (one burst per call) for the window; best packets/s over the rounds. */
static double
measure(void (*fn)(void))
{
	double best = 0;

	for (unsigned int r = 0; r < rounds; r++) {
		double t0 = cpu_now(), t;
		uint64_t pk = 0;

		do {
			for (int k = 0; k < 8; k++) {
				fn();
				pk += BURST;
			}
			t = cpu_now();
		} while (t - t0 < window_ms * 1e-3);
		if (pk / (t - t0) > best)
			best = pk / (t - t0);
	}
	return best;
}

static void
nonce12(uint8_t iv[12], uint64_t c)
{
	memset(iv, 0, 4);
	memcpy(iv + 4, &c, 8);
}

/* ---- OpenSSL ------------------------------------------------------------------------ */

static EVP_CIPHER_CTX *evp;

static void
b_evp(void)
{
	for (int i = 0; i < BURST; i++) {
		uint8_t iv[12];
		int ol;

		nonce12(iv, counter++);
		EVP_EncryptInit_ex(evp, NULL, NULL, key, iv);
		EVP_EncryptUpdate(evp, bufs[i], &ol, bufs[i], (int)cur_len);
		EVP_EncryptFinal_ex(evp, bufs[i] + cur_len, &ol);
		EVP_CIPHER_CTX_ctrl(evp, EVP_CTRL_AEAD_GET_TAG, 16, bufs[i] + cur_len);
	}
}

static void
b_evp_iv(void)
{
	for (int i = 0; i < BURST; i++) {
		uint8_t iv[12];
		int ol;

		nonce12(iv, counter++);
		EVP_EncryptInit_ex(evp, NULL, NULL, NULL, iv);
		EVP_EncryptUpdate(evp, bufs[i], &ol, bufs[i], (int)cur_len);
		EVP_EncryptFinal_ex(evp, bufs[i] + cur_len, &ol);
		EVP_CIPHER_CTX_ctrl(evp, EVP_CTRL_AEAD_GET_TAG, 16, bufs[i] + cur_len);
	}
}

/* ---- libsodium ---------------------------------------------------------------------- */

static void
b_sodium(void)
{
	for (int i = 0; i < BURST; i++) {
		uint8_t iv[12];

		nonce12(iv, counter++);
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(bufs[i], bufs[i] + cur_len, NULL,
								   bufs[i], cur_len, NULL, 0,
								   NULL, iv, key);
	}
}

/* ---- libIPSec_MB -------------------------------------------------------------------- */

static IMB_MGR *mgr;
static uint8_t ivs[BURST][16];

static void
b_imb_job(void)
{
	IMB_JOB *j;

	for (int i = 0; i < BURST; i++) {
		nonce12(ivs[i], counter++);
		j = IMB_GET_NEXT_JOB(mgr);
		j->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
		j->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
		j->cipher_direction = IMB_DIR_ENCRYPT;
		j->chain_order = IMB_ORDER_CIPHER_HASH;
		j->enc_keys = key;
		j->dec_keys = key;
		j->key_len_in_bytes = 32;
		j->src = bufs[i];
		j->dst = bufs[i];
		j->cipher_start_src_offset_in_bytes = 0;
		j->msg_len_to_cipher_in_bytes = cur_len;
		j->hash_start_src_offset_in_bytes = 0;
		j->msg_len_to_hash_in_bytes = cur_len;
		j->iv = ivs[i];
		j->iv_len_in_bytes = 12;
		j->u.CHACHA20_POLY1305.aad = NULL;
		j->u.CHACHA20_POLY1305.aad_len_in_bytes = 0;
		j->auth_tag_output = bufs[i] + cur_len;
		j->auth_tag_output_len_in_bytes = 16;
		j = IMB_SUBMIT_JOB(mgr);
		while (j != NULL)
			j = IMB_GET_COMPLETED_JOB(mgr);
	}
	while (IMB_FLUSH_JOB(mgr) != NULL)
		;
}

static void
b_imb_direct(void)
{
	for (int i = 0; i < BURST; i++) {
		struct chacha20_poly1305_context_data cx;
		uint8_t iv[12];

		nonce12(iv, counter++);
		IMB_CHACHA20_POLY1305_INIT(mgr, key, &cx, iv, NULL, 0);
		IMB_CHACHA20_POLY1305_ENC_UPDATE(mgr, key, &cx, bufs[i], bufs[i], cur_len);
		IMB_CHACHA20_POLY1305_ENC_FINALIZE(mgr, &cx, bufs[i] + cur_len, 16);
	}
}

/* ---- cryptodev (crypto_aesni_mb) ---------------------------------------------------- */

static uint8_t cdev = 0xff;
static void *csess;
static struct rte_mempool *op_pool;
static struct rte_mbuf *cmb[BURST];

static int
cryptodev_setup(void)
{
	struct rte_cryptodev_config conf = {.socket_id = SOCKET_ID_ANY, .nb_queue_pairs = 1};
	struct rte_cryptodev_qp_conf qp = {.nb_descriptors = 2048};
	struct rte_crypto_sym_xform x = {
		.type = RTE_CRYPTO_SYM_XFORM_AEAD,
		.aead = {.op = RTE_CRYPTO_AEAD_OP_ENCRYPT,
			 .algo = RTE_CRYPTO_AEAD_CHACHA20_POLY1305,
			 .key = {.data = key, .length = 32},
			 .iv = {.offset = IV_OFFSET, .length = 12},
			 .digest_length = 16,
			 .aad_length = 0},
	};
	int id;

	id = rte_cryptodev_get_dev_id("crypto_aesni_mb0");
	if (id < 0)
		return -1;
	cdev = (uint8_t)id;
	qp.mp_session = rte_cryptodev_sym_session_pool_create(
		"wgb_sess", 64, rte_cryptodev_sym_get_private_session_size(cdev), 0, 0,
		SOCKET_ID_ANY);
	op_pool = rte_crypto_op_pool_create("wgb_ops", RTE_CRYPTO_OP_TYPE_SYMMETRIC, 1024, 0, 16,
					    SOCKET_ID_ANY);
	if (qp.mp_session == NULL || op_pool == NULL ||
	    rte_cryptodev_configure(cdev, &conf) < 0 ||
	    rte_cryptodev_queue_pair_setup(cdev, 0, &qp, SOCKET_ID_ANY) < 0 ||
	    rte_cryptodev_start(cdev) < 0)
		return -1;
	csess = rte_cryptodev_sym_session_create(cdev, &x, qp.mp_session);
	if (csess == NULL || rte_pktmbuf_alloc_bulk(pool, cmb, BURST) != 0)
		return -1;
	for (int i = 0; i < BURST; i++)
		rte_pktmbuf_append(cmb[i], 1420 + 16);
	return 0;
}

static void
b_cryptodev(void)
{
	struct rte_crypto_op *ops[BURST];
	uint16_t done = 0, sent = 0;

	if (rte_crypto_op_bulk_alloc(op_pool, RTE_CRYPTO_OP_TYPE_SYMMETRIC, ops, BURST) == 0)
		return;
	for (int i = 0; i < BURST; i++) {
		struct rte_crypto_sym_op *s = ops[i]->sym;

		nonce12(rte_crypto_op_ctod_offset(ops[i], uint8_t *, IV_OFFSET), counter++);
		rte_crypto_op_attach_sym_session(ops[i], csess);
		s->m_src = cmb[i];
		s->aead.data.offset = 0;
		s->aead.data.length = cur_len;
		s->aead.digest.data = rte_pktmbuf_mtod_offset(cmb[i], uint8_t *, cur_len);
		s->aead.digest.phys_addr = rte_pktmbuf_iova_offset(cmb[i], cur_len);
		s->aead.aad.data = NULL;
	}
	while (sent < BURST)
		sent += rte_cryptodev_enqueue_burst(cdev, 0, ops + sent, BURST - sent);
	while (done < BURST)
		done += rte_cryptodev_dequeue_burst(cdev, 0, ops + done, BURST - done);
	rte_mempool_put_bulk(op_pool, (void **)ops, BURST);
}

/* ---- the library on mbufs ----------------------------------------------------------- */

static struct mg_wg_iface *ia, *ib;
static struct mg_wg_peer *pb_on_a, *pa_on_b;
static struct mg_wg_worker *wk;
static struct rte_mbuf *lmb[BURST];
static uint8_t wire[BURST][2048];
static uint32_t wire_len;

static void
b_lib_encrypt(void)
{
	struct mg_wg_keypair *kp = mg_wg_peer_tx_keypair(pb_on_a, 1);

	for (int i = 0; i < BURST; i++) {
		lmb[i]->data_off = RTE_PKTMBUF_HEADROOM;
		lmb[i]->data_len = (uint16_t)cur_len;
		lmb[i]->pkt_len = cur_len;
	}
	mg_wg_encrypt_burst(wk, kp, lmb, BURST, 1, NULL);
}

static void
b_lib_decrypt(void)
{
	uint8_t st[BURST];
	struct mg_wg_keypair *kp = atomic_load(&pa_on_b->kp_next);

	if (kp == NULL)
		kp = atomic_load(&pa_on_b->kp_current);
	/* Bench only: forget the counters so the same burst passes again. */
	memset(&kp->replay, 0, sizeof(kp->replay));
	for (int i = 0; i < BURST; i++) {
		lmb[i]->data_off = RTE_PKTMBUF_HEADROOM;
		lmb[i]->data_len = (uint16_t)wire_len;
		lmb[i]->pkt_len = wire_len;
		memcpy(rte_pktmbuf_mtod(lmb[i], void *), wire[i], wire_len);
	}
	if (mg_wg_decrypt_burst(wk, ib, NULL, lmb, BURST, 1, st, NULL) != BURST) {
		fprintf(stderr, "decrypt failed: %s\n", mg_wg_rx_status_name(st[0]));
		exit(1);
	}
}

/* A wall clock 20 ms ahead on every read: handshake timestamps always grow. */
static uint64_t
fake_wall(void)
{
	static uint64_t t = 1700000000ULL * 1000000000ULL;

	return t += 20000000ULL;
}

static int
lib_setup(void)
{
	struct mg_wg_iface_conf c = {.wall_ns = fake_wall};
	struct mg_wg_peer_conf pc = {0};
	uint8_t ka[32], kb[32], msg[MG_WG_REPLY_MAX], reply[MG_WG_REPLY_MAX];
	size_t len, l2;
	struct mg_wg_src src = {.ip = {.family = AF_INET}, .port = 1};

	mg_wg_key_generate(ka);
	mg_wg_key_generate(kb);
	c.private_key = ka;
	ia = mg_wg_iface_create(&c, NULL);
	c.private_key = kb;
	ib = mg_wg_iface_create(&c, NULL);
	if (ia == NULL || ib == NULL)
		return -1;
	mg_wg_key_public(pc.public_key, kb);
	pb_on_a = mg_wg_peer_add(ia, &pc, 1, NULL);
	mg_wg_key_public(pc.public_key, ka);
	pa_on_b = mg_wg_peer_add(ib, &pc, 1, NULL);
	wk = mg_wg_worker_create(SOCKET_ID_ANY);
	if (pb_on_a == NULL || pa_on_b == NULL || wk == NULL ||
	    mg_wg_initiation_create(ia, pb_on_a, 1, msg) < 0 ||
	    mg_wg_handshake_receive(ib, msg, MG_WG_INITIATION_LEN, &src, 1, reply, &len, NULL) !=
		    MG_WG_HS_RESPONSE ||
	    mg_wg_handshake_receive(ia, reply, len, &src, 1, msg, &l2, NULL) != MG_WG_HS_SESSION)
		return -1;
	return rte_pktmbuf_alloc_bulk(pool, lmb, BURST);
}

/* Encrypt one burst with the library and keep the wire bytes for the decrypt runs. */
static void
lib_prepare_wire(void)
{
	struct mg_wg_keypair *kp = mg_wg_peer_tx_keypair(pb_on_a, 1);

	for (int i = 0; i < BURST; i++) {
		uint8_t *ip;

		lmb[i]->data_off = RTE_PKTMBUF_HEADROOM;
		lmb[i]->data_len = (uint16_t)cur_len;
		lmb[i]->pkt_len = cur_len;
		ip = rte_pktmbuf_mtod(lmb[i], uint8_t *);
		memset(ip, 0, 20);
		ip[0] = 0x45;
		ip[2] = (uint8_t)(cur_len >> 8);
		ip[3] = (uint8_t)cur_len;
	}
	mg_wg_encrypt_burst(wk, kp, lmb, BURST, 1, NULL);
	wire_len = lmb[0]->data_len;
	for (int i = 0; i < BURST; i++)
		memcpy(wire[i], rte_pktmbuf_mtod(lmb[i], void *), wire_len);
}

/* ---- handshake path ----------------------------------------------------------------- */

static uint8_t mac_in[116];
static EVP_MAC *blake_mac;

static void
b_mac1_ours(void)
{
	uint8_t out[16];

	for (int i = 0; i < BURST; i++)
		wg_blake2s(out, 16, key, 32, mac_in, sizeof(mac_in));
}

static void
b_mac1_openssl(void)
{
	size_t olen = 16, n;
	uint8_t out[16];

	for (int i = 0; i < BURST; i++) {
		EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(blake_mac);
		OSSL_PARAM p[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &olen),
				  OSSL_PARAM_construct_end()};

		EVP_MAC_init(ctx, key, 32, p);
		EVP_MAC_update(ctx, mac_in, sizeof(mac_in));
		EVP_MAC_final(ctx, out, &n, sizeof(out));
		EVP_MAC_CTX_free(ctx);
	}
}

/* Complete handshakes per second, both sides' work on this one core. */
static double
handshakes_per_s(void)
{
	uint8_t msg[MG_WG_REPLY_MAX], reply[MG_WG_REPLY_MAX];
	struct mg_wg_src src = {.ip = {.family = AF_INET}, .port = 1};
	double t0 = cpu_now(), t;
	uint64_t n = 0, now = 10ULL * 1000000000ULL;
	size_t len, l2;

	do {
		now += 30000000ULL; /* past the 20 ms initiation flood limit */
		if (mg_wg_initiation_create(ia, pb_on_a, now, msg) < 0 ||
		    mg_wg_handshake_receive(ib, msg, MG_WG_INITIATION_LEN, &src, now, reply, &len,
					    NULL) != MG_WG_HS_RESPONSE ||
		    mg_wg_handshake_receive(ia, reply, len, &src, now, msg, &l2, NULL) !=
			    MG_WG_HS_SESSION)
			return 0;
		n++;
		t = cpu_now();
	} while (t - t0 < window_ms * 1e-3);
	return n / (t - t0);
}

static void
row(const char *name, void (*fn)(void), bool have)
{
	double r64 = 0, r1420 = 0;

	if (have) {
		cur_len = 64;
		r64 = measure(fn);
		cur_len = 1420;
		r1420 = measure(fn);
	}
	if (!have)
		printf("  %-18s %10s %11s %10s\n", name, "n/a", "n/a", "n/a");
	else
		printf("  %-18s %10.3f %11.3f %10.2f\n", name, r64 / 1e6, r1420 / 1e6,
		       r1420 * 1420 * 8 / 1e9);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {{"ms", required_argument, NULL, 'm'},
					     {"rounds", required_argument, NULL, 'r'},
					     {"quick", no_argument, NULL, 'q'},
					     {NULL, 0, NULL, 0}};
	char prefix[64];
	char *eal[] = {"wg_crypto", "-l", "0", "--no-huge", "-m", "256", "--no-pci",
		       "--no-shconf", "--no-telemetry", "--log-level", "error",
		       "--vdev", "crypto_aesni_mb0", "--file-prefix", prefix, NULL};
	int o;
	bool have_cdev;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'm':
			window_ms = (unsigned int)atoi(optarg);
			break;
		case 'r':
			rounds = (unsigned int)atoi(optarg);
			break;
		case 'q':
			window_ms = 100;
			rounds = 2;
			break;
		default:
			fprintf(stderr, "usage: %s [--ms N] [--rounds N] [--quick]\n", argv[0]);
			return 2;
		}
	}
	snprintf(prefix, sizeof(prefix), "wgbench%d", getpid());
	if (rte_eal_init(RTE_DIM(eal) - 1, eal) < 0 || sodium_init() < 0) {
		fprintf(stderr, "EAL or libsodium init failed\n");
		return 1;
	}
	pool = rte_pktmbuf_pool_create("wgb_pool", 1023, 0, 0, 2176, SOCKET_ID_ANY);
	evp = EVP_CIPHER_CTX_new();
	mgr = alloc_mb_mgr(0);
	blake_mac = EVP_MAC_fetch(NULL, "BLAKE2SMAC", NULL);
	if (pool == NULL || evp == NULL || mgr == NULL || blake_mac == NULL ||
	    EVP_EncryptInit_ex(evp, EVP_chacha20_poly1305(), NULL, key, (uint8_t[12]){0}) != 1 ||
	    lib_setup() < 0) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	init_mb_mgr_auto(mgr, NULL);
	have_cdev = cryptodev_setup() == 0;

	printf("ChaCha20-Poly1305 per core, bursts of %d, best of %u x %u ms of CPU time\n",
	       BURST, rounds, window_ms);
	printf("  %-18s %10s %11s %10s\n", "candidate", "64 B Mpps", "1420 B Mpps", "1420 Gb/s");
	row("openssl-evp", b_evp, true);
	row("openssl-evp-iv", b_evp_iv, true);
	row("libsodium", b_sodium, true);
	row("ipsec-mb-job", b_imb_job, true);
	row("ipsec-mb-direct", b_imb_direct, true);
	row("cryptodev-aesni-mb", b_cryptodev, have_cdev);
	printf("the library's data path (mbufs, burst of %d)\n", BURST);
	row("mg_wg_encrypt", b_lib_encrypt, true);
	{
		double r64, r1420;

		cur_len = 64;
		lib_prepare_wire();
		r64 = measure(b_lib_decrypt);
		cur_len = 1420;
		lib_prepare_wire();
		r1420 = measure(b_lib_decrypt);
		printf("  %-18s %10.3f %11.3f %10.2f\n", "mg_wg_decrypt", r64 / 1e6, r1420 / 1e6,
		       r1420 * 1420 * 8 / 1e9);
	}
	printf("handshake path (main lcore)\n");
	printf("  mac1 keyed BLAKE2s-128 over 116 B: ours %.2f M/s, OpenSSL BLAKE2SMAC %.2f M/s\n",
	       measure(b_mac1_ours) / 1e6, measure(b_mac1_openssl) / 1e6);
	printf("  complete handshakes (both sides on one core): %.0f /s\n", handshakes_per_s());

	mg_wg_worker_destroy(wk);
	mg_wg_iface_destroy(ia);
	mg_wg_iface_destroy(ib);
	free_mb_mgr(mgr);
	EVP_CIPHER_CTX_free(evp);
	EVP_MAC_free(blake_mac);
	if (have_cdev) {
		rte_cryptodev_stop(cdev);
		rte_cryptodev_close(cdev);
	}
	rte_eal_cleanup();
	return 0;
}
