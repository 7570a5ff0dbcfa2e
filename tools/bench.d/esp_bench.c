/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * esp_bench: lib/esp's encrypt and decrypt rates on one core, per
 * algorithm, crypto mode (CPU crypto, lookaside or direct), crypto driver and
 * packet size. Run by tools/bench.d/esp_bench.sh, which also runs
 * dpdk-test-crypto-perf on the same core as the ceiling.
 *
 *   esp_bench [EAL args] -- [--algos LIST] [--modes LIST] [--drivers LIST]
 *             [--sizes LIST] [--seconds S] [--burst N]
 *
 * Size is the inner IP packet's length (IPv4/UDP inside IPv4 ESP). Only
 * the library calls are timed (TSC around each burst): restoring the inner
 * header before each encryption, and encrypting the packets a decryption
 * run consumes, are not counted. Two rates come out: "mpps" from the total
 * time in the calls (comparable with dpdk-test-crypto-perf's), and
 * "mpps_median" from the median burst time, which ignores the bursts other
 * processes' time slices fell into on a shared machine. One JSON line per
 * measurement on stdout; --rounds repeats the whole list, interleaved.
 *
 *   esp_bench [EAL args] -- --cipher --sizes LIST [--seconds S] [--rounds N]
 *
 * instead times intel-ipsec-mb's AES-GCM-128 seal alone (its direct call,
 * the fastest this machine has) on the part ESP encrypts of each Ethernet
 * frame size in LIST (the frame less its 14-byte header, plus the 2-byte
 * trailer, padded to 4 bytes), with an 8-byte AAD and a 16-byte tag: the
 * cipher work no ESP gateway can avoid. tools/bench.d/esp_gw_bench.sh adds
 * it to the rate of a forwarder that does nothing else (testpmd's io mode)
 * to bound what any gateway can reach on the bench's devices.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "mg_esp.h"
#include "mg_imb.h"

#define NB_BATCHES 64   /* batches cycled through: a working set of 64 bursts */
#define MAX_LIST 8
#define MAX_SAMPLES (1u << 22) /* per-burst timings kept for the median */

/* Per-burst cycle counts of the current measurement. */
static uint32_t *samples;

/* What to measure. */
static struct {
	char *algos[MAX_LIST], *modes[MAX_LIST], *drivers[MAX_LIST];
	unsigned int nalgos, nmodes, ndrivers;
	unsigned int sizes[MAX_LIST], nsizes;
	double seconds;
	unsigned int burst;
	unsigned int rounds;
	bool cipher;
} opt = {.seconds = 2.0, .burst = 32, .rounds = 1};

/* qsort comparator for uint32_t. */
static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Split a comma-separated list into @p out; returns the count. */
static unsigned int
split(char *s, char **out)
{
	unsigned int n = 0;
	char *save = NULL;

	for (char *t = strtok_r(s, ",", &save); t && n < MAX_LIST; t = strtok_r(NULL, ",", &save))
		out[n++] = t;
	return n;
}

/* Write the inner IPv4/UDP header of a @p size-byte packet at the mbuf's start. */
static void
inner_reset(struct rte_mbuf *m, uint16_t size, uint32_t seq)
{
	struct rte_ipv4_hdr *ip;
	struct rte_udp_hdr *u;

	m->data_off = RTE_PKTMBUF_HEADROOM;
	m->data_len = m->pkt_len = size;
	ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	*ip = (struct rte_ipv4_hdr){
		.version_ihl = 0x45, .total_length = rte_cpu_to_be_16(size),
		.packet_id = rte_cpu_to_be_16(seq), .time_to_live = 64,
		.next_proto_id = IPPROTO_UDP, .src_addr = rte_cpu_to_be_32(0x0a000001),
		.dst_addr = rte_cpu_to_be_32(0x0a000002),
	};
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	u = (struct rte_udp_hdr *)(ip + 1);
	u->src_port = rte_cpu_to_be_16(1024);
	u->dst_port = rte_cpu_to_be_16(4791);
	u->dgram_len = rte_cpu_to_be_16(size - 20);
	u->dgram_cksum = 0;
}

/* A spec for one side of the benchmark's tunnel. */
static struct mg_esp_sa_spec
bench_spec(enum mg_esp_dir dir, enum mg_esp_algo algo, enum mg_esp_mode mode, uint32_t spi)
{
	struct mg_esp_sa_spec s;

	memset(&s, 0, sizeof(s));
	s.spi = spi;
	s.dir = dir;
	s.algo = algo;
	s.mode = mode;
	mg_ip_parse(dir == MG_ESP_OUTBOUND ? "198.18.0.1" : "198.18.0.2", &s.local);
	mg_ip_parse(dir == MG_ESP_OUTBOUND ? "198.18.0.2" : "198.18.0.1", &s.remote);
	s.inner_family = AF_INET;
	s.enc_key_len = algo == MG_ESP_AES_GCM_128 || algo == MG_ESP_AES_CBC_128_SHA256 ? 16 :
			algo == MG_ESP_NULL_SHA256 ? 0 : 32;
	s.auth_key_len = algo == MG_ESP_AES_CBC_128_SHA256 || algo == MG_ESP_AES_CBC_256_SHA256 ||
			 algo == MG_ESP_NULL_SHA256 ? 32 : 0;
	for (int i = 0; i < 32; i++) {
		s.enc_key[i] = 0x10 + i;
		s.auth_key[i] = 0x70 + i;
	}
	if (s.auth_key_len == 0)  /* the combined-mode algorithms take a salt */
		memcpy(s.salt, "\x01\x02\x03\x04", 4);
	s.replay_window = 4096;
	s.owner = 0;
	return s;
}

/*
 * --cipher: AES-GCM-128 seal of the ESP payload of a @p frame-byte Ethernet
 * frame, in bursts of opt.burst calls over NB_BATCHES buffers (the working
 * set the gateway's mbufs would be); prints the median burst's cycles per
 * seal. 0 or -1.
 */
static int
measure_cipher(IMB_MGR *imb, unsigned int frame)
{
	static uint8_t bufs[NB_BATCHES][2048] __rte_aligned(64);
	struct gcm_key_data kd __rte_aligned(64);
	struct gcm_context_data ctx;
	uint8_t key[16], iv[12] = {1, 2, 3, 4}, aad[8] = {0x10}, tag[16];
	uint32_t inner = frame > 14 + 20 ? frame - 14 : 20;
	uint32_t plen = (inner + 2 + 3) & ~3u;
	uint64_t hz = rte_get_tsc_hz(), cycles = 0, ops = 0;
	uint32_t ns = 0;

	if (plen > sizeof(bufs[0]))
		return -1;
	for (unsigned int i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0x10 + i);
	IMB_AES128_GCM_PRE(imb, key, &kd);
	memset(bufs, 0x5a, sizeof(bufs));
	for (int phase = 0; phase < 2; phase++) {
		uint64_t end = rte_get_tsc_cycles() + (uint64_t)(hz * opt.seconds * (phase ? 1 : 0.1));

		cycles = ops = 0;
		ns = 0;
		for (unsigned int it = 0; rte_get_tsc_cycles() < end; it++) {
			uint64_t t0 = rte_rdtsc_precise();

			for (unsigned int i = 0; i < opt.burst; i++) {
				uint8_t *p = bufs[(it * opt.burst + i) % NB_BATCHES];

				memcpy(iv + 4, &it, sizeof(it));
				imb->gcm128_enc(&kd, &ctx, p, p, plen, iv, aad, sizeof(aad), tag,
						sizeof(tag));
			}
			uint64_t t1 = rte_rdtsc_precise();

			cycles += t1 - t0;
			ops += opt.burst;
			if (ns < MAX_SAMPLES)
				samples[ns++] = (uint32_t)RTE_MIN(t1 - t0, (uint64_t)UINT32_MAX);
		}
	}
	qsort(samples, ns, sizeof(samples[0]), cmp_u32);
	double med = ns ? (double)samples[ns / 2] / opt.burst : 0;

	printf("{\"cipher\":\"aes-gcm-128\",\"size\":%u,\"bytes\":%u,\"ops\":%lu,"
	       "\"cycles_per_op\":%.1f,\"cycles_per_op_median\":%.1f,\"tsc_hz\":%lu}\n",
	       frame, plen, (unsigned long)ops, (double)cycles / (ops ? ops : 1), med,
	       (unsigned long)hz);
	fflush(stdout);
	mg_wipe(&kd, sizeof(kd));
	return 0;
}

/* Measure one configuration; prints its JSON line. 0 or -1. */
static int
measure(struct rte_mempool *mp, const char *driver, enum mg_esp_algo algo, enum mg_esp_mode mode,
	unsigned int size, bool decrypt, uint32_t spi)
{
	static struct rte_mbuf *bufs[NB_BATCHES][MG_ESP_MAX_BURST];
	struct mg_esp_conf conf = {.nb_workers = 1, .driver = driver};
	struct mg_error err;
	struct mg_esp *esp;
	struct mg_esp_sa *out, *in;
	uint64_t hz = rte_get_tsc_hz(), cycles = 0, pkts = 0, fails = 0, seq = 0;
	uint32_t ns = 0;
	unsigned int b = opt.burst;
	uint8_t r[MG_ESP_MAX_BURST];

	conf.lcores[0] = rte_lcore_id();
	esp = mg_esp_create(&conf, &err);
	if (esp == NULL) {
		fprintf(stderr, "esp_bench: %s\n", err.msg);
		return -1;
	}
	struct mg_esp_sa_spec so = bench_spec(MG_ESP_OUTBOUND, algo, mode, spi);
	struct mg_esp_sa_spec si = bench_spec(MG_ESP_INBOUND, algo, mode, spi);

	out = mg_esp_sa_create(esp, &so, &err);
	in = out ? mg_esp_sa_create(esp, &si, &err) : NULL;
	if (in == NULL) {
		printf("{\"algo\":\"%s\",\"mode\":\"%s\",\"driver\":\"%s\",\"size\":%u,\"dir\":\"%s\","
		       "\"error\":\"%s\"}\n", mg_esp_algo_name(algo), mg_esp_mode_name(mode),
		       driver, size, decrypt ? "dec" : "enc", err.msg);
		mg_esp_destroy(esp);
		return 0;
	}
	for (int i = 0; i < NB_BATCHES; i++)
		if (rte_pktmbuf_alloc_bulk(mp, bufs[i], b) != 0) {
			fprintf(stderr, "esp_bench: out of mbufs\n");
			return -1;
		}
	/* Warm up for a tenth of the time, then measure. */
	for (int phase = 0; phase < 2; phase++) {
		uint64_t end = rte_get_tsc_cycles() + (uint64_t)(hz * opt.seconds * (phase ? 1 : 0.1));

		cycles = pkts = 0;
		ns = 0;
		for (unsigned int it = 0; rte_get_tsc_cycles() < end; it++) {
			struct rte_mbuf **m = bufs[it % NB_BATCHES];
			struct rte_mbuf *w[MG_ESP_MAX_BURST];
			uint64_t t0, t1;
			uint16_t k;

			for (unsigned int i = 0; i < b; i++)
				inner_reset(m[i], size, seq++);
			memcpy(w, m, b * sizeof(w[0]));
			if (decrypt && mg_esp_encrypt_burst(mg_esp_worker(esp, 0), out, w, b, r) != b) {
				fails++;
				continue;
			}
			t0 = rte_rdtsc_precise();
			k = decrypt ? mg_esp_decrypt_burst(mg_esp_worker(esp, 0), in, w, b, r) :
				      mg_esp_encrypt_burst(mg_esp_worker(esp, 0), out, w, b, r);
			t1 = rte_rdtsc_precise();
			cycles += t1 - t0;
			pkts += k;
			if (ns < MAX_SAMPLES)
				samples[ns++] = (uint32_t)RTE_MIN(t1 - t0, (uint64_t)UINT32_MAX);
			fails += b - k;
		}
	}
	double mpps = pkts / ((double)cycles / hz) / 1e6, med = 0;

	if (ns != 0) {
		qsort(samples, ns, sizeof(samples[0]), cmp_u32);
		med = (double)b * hz / samples[ns / 2] / 1e6;
	}
	struct mg_esp_sa_info info;

	mg_esp_sa_info(out, &info);
	printf("{\"algo\":\"%s\",\"mode\":\"%s\",\"driver\":\"%s\",\"device\":\"%s\",\"size\":%u,"
	       "\"dir\":\"%s\",\"burst\":%u,\"packets\":%lu,\"failures\":%lu,\"cycles_per_pkt\":%.1f,"
	       "\"mpps\":%.3f,\"mpps_median\":%.3f,\"gbps\":%.3f}\n",
	       mg_esp_algo_name(algo), mg_esp_mode_name(info.mode),
	       driver ? driver : "auto", info.device, size, decrypt ? "dec" : "enc", b,
	       (unsigned long)pkts, (unsigned long)fails, (double)cycles / (pkts ? pkts : 1), mpps,
	       med, mpps * size * 8 / 1000);
	fflush(stdout);
	for (int i = 0; i < NB_BATCHES; i++)
		rte_pktmbuf_free_bulk(bufs[i], b);
	mg_esp_destroy(esp);
	return 0;
}

/* Parse the options, then measure every configuration, round after round. */
int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"algos", required_argument, 0, 'a'}, {"modes", required_argument, 0, 'm'},
		{"drivers", required_argument, 0, 'd'}, {"sizes", required_argument, 0, 's'},
		{"seconds", required_argument, 0, 't'}, {"burst", required_argument, 0, 'b'},
		{"rounds", required_argument, 0, 'r'}, {"cipher", no_argument, 0, 'c'},
		{0, 0, 0, 0},
	};
	char defa[] = "aes-gcm-128,chacha20-poly1305", defm[] = "cpu,lookaside", defd[] = "auto";
	char *sz = NULL;
	int n = rte_eal_init(argc, argv), c;

	if (n < 0) {
		fprintf(stderr, "esp_bench: EAL init failed\n");
		return 2;
	}
	argc -= n;
	argv += n;
	opt.nalgos = split(defa, opt.algos);
	opt.nmodes = split(defm, opt.modes);
	opt.ndrivers = split(defd, opt.drivers);
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'a': opt.nalgos = split(optarg, opt.algos); break;
		case 'm': opt.nmodes = split(optarg, opt.modes); break;
		case 'd': opt.ndrivers = split(optarg, opt.drivers); break;
		case 's': sz = optarg; break;
		case 't': opt.seconds = atof(optarg); break;
		case 'b': opt.burst = atoi(optarg); break;
		case 'r': opt.rounds = atoi(optarg); break;
		case 'c': opt.cipher = true; break;
		default:
			fprintf(stderr, "usage: esp_bench [EAL] -- [--algos L] [--modes L] "
					"[--drivers L] [--sizes L] [--seconds S] [--burst N] "
					"[--rounds N] [--cipher]\n");
			return 2;
		}
	}
	if (sz == NULL) {
		opt.sizes[0] = 64;
		opt.sizes[1] = 1420;
		opt.nsizes = 2;
	} else {
		char *t[MAX_LIST];

		opt.nsizes = split(sz, t);
		for (unsigned int i = 0; i < opt.nsizes; i++)
			opt.sizes[i] = atoi(t[i]);
	}
	samples = malloc(MAX_SAMPLES * sizeof(samples[0]));
	if (opt.burst == 0 || opt.burst > MG_ESP_MAX_BURST || opt.rounds == 0 || samples == NULL)
		return 2;
	if (opt.cipher) {
		IMB_MGR *imb = mg_imb_mgr_create(rte_socket_id());
		int rc = imb == NULL;

		for (unsigned int round = 0; round < opt.rounds && rc == 0; round++)
			for (unsigned int s = 0; s < opt.nsizes && rc == 0; s++)
				rc = measure_cipher(imb, opt.sizes[s]);
		mg_imb_mgr_free(imb);
		free(samples);
		rte_eal_cleanup();
		return rc ? 1 : 0;
	}
	struct rte_mempool *mp = rte_pktmbuf_pool_create("bench", NB_BATCHES * opt.burst + 512,
							 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
							 rte_socket_id());
	uint32_t spi = 0x1000;
	int rc = 0;

	if (mp == NULL)
		return 2;
	for (unsigned int round = 0; round < opt.rounds; round++)
	for (unsigned int a = 0; a < opt.nalgos; a++) {
		enum mg_esp_algo algo;

		if (mg_esp_algo_parse(opt.algos[a], &algo) != 0) {
			fprintf(stderr, "esp_bench: unknown algorithm %s\n", opt.algos[a]);
			return 2;
		}
		for (unsigned int d = 0; d < opt.ndrivers; d++)
			for (unsigned int m = 0; m < opt.nmodes; m++)
				for (unsigned int s = 0; s < opt.nsizes; s++)
					for (int dec = 0; dec < 2; dec++) {
						const char *drv = strcmp(opt.drivers[d], "auto") == 0 ?
							NULL : opt.drivers[d];
						enum mg_esp_mode mode =
							strcmp(opt.modes[m], "cpu") == 0 ? MG_ESP_MODE_CPU :
							strcmp(opt.modes[m], "direct") == 0 ?
							MG_ESP_MODE_DIRECT : MG_ESP_MODE_LOOKASIDE;

						rc |= measure(mp, drv, algo, mode, opt.sizes[s], dec,
							      spi++);
					}
	}
	rte_mempool_free(mp);
	free(samples);
	rte_eal_cleanup();
	return rc ? 1 : 0;
}
