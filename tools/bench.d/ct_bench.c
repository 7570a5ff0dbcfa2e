/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ct_bench: the flow tracker's cost per packet (lib/flow mg_ct.h), against
 * bare DPDK rte_hash operations on the same keys in the same run (the least
 * a flow table on rte_hash can cost), as cycles per packet and ratios.
 *
 *   build/lib/flow/ct_bench [--flows N] [--rounds N]
 *
 * Cases, over N flows whose packets come in both directions, shuffled:
 *   hit     mg_ct_lookup_bulk (bursts of 32) + mg_ct_update per packet
 *           vs rte_hash_lookup_bulk_data + a counter update per packet
 *   new     mg_ct_create + mg_ct_update (two keys per flow)
 *           vs two rte_hash_add_key_data
 *   expire  one mg_ct_expire slice of 16 entries over a full table where
 *           nothing expires (what a worker adds to each graph walk), absolute
 * Times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID) at the TSC
 * rate, medians over the rounds: other processes' turns do not count, but
 * caches are shared: read the ratios.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_hash.h>
#include <rte_malloc.h>
#include <rte_memory.h>
#include <rte_random.h>

#include "mg_bench.h"
#include "mg_ct.h"

#define BURST 32

struct peer_flow {
	uint64_t last, pkts[2], bytes[2];
};

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"flows", required_argument, NULL, 'f'},
		{"rounds", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	uint32_t nflows = 65536, rounds = 5;
	int opt;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (opt == 'f')
			nflows = (uint32_t)strtoul(optarg, NULL, 0);
		else if (opt == 'r')
			rounds = (uint32_t)strtoul(optarg, NULL, 0);
		else {
			fprintf(stderr, "usage: %s [--flows N] [--rounds N]\n", argv[0]);
			return 2;
		}
	}
	if (nflows < BURST || rounds == 0 || rounds > 99) {
		fprintf(stderr, "ct_bench: --flows >= %d, --rounds 1-99\n", BURST);
		return 2;
	}
	if (mg_bench_eal_init(argv[0], "ct_bench", "ctbench", "1024") < 0)
		return 1;
	const uint32_t npkts = 2 * nflows;
	struct mg_flow_key *keys = rte_zmalloc(NULL, (size_t)npkts * sizeof(*keys), 64);
	const struct mg_flow_key **kp = rte_malloc(NULL, (size_t)npkts * sizeof(*kp), 64);
	struct peer_flow *pf = rte_zmalloc(NULL, (size_t)nflows * sizeof(*pf), 64);
	double hit[99], phit[99], new_[99], pnew[99], exp_[99], rh[99], rn[99];
	const double tsc_per_ns = (double)rte_get_tsc_hz() / 1e9;

	if (keys == NULL || kp == NULL || pf == NULL) {
		fprintf(stderr, "ct_bench: no memory for %u flows\n", nflows);
		return 1;
	}
	/* Flow f's key at 2f, its reverse at 2f + 1; then the packet order shuffled. */
	for (uint32_t f = 0; f < nflows; f++) {
		struct mg_flow_key *k = &keys[2 * f];
		uint32_t s = htonl(0x0a000000u | f), d = htonl(0xc0000201u);

		memcpy(k->src, &s, 4);
		memcpy(k->dst, &d, 4);
		k->sport = htons((uint16_t)(1024 + (f & 0x7fff)));
		k->dport = htons(443);
		k->proto = 17;
		k->family = AF_INET;
		k->net = 1;
		mg_ct_key_reverse(k, &keys[2 * f + 1]);
	}
	for (uint32_t i = 0; i < npkts; i++)
		kp[i] = &keys[i];
	for (uint32_t i = npkts - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(rte_rand() % (i + 1));
		const struct mg_flow_key *t = kp[i];

		kp[i] = kp[j];
		kp[j] = t;
	}
	for (uint32_t r = 0; r < rounds; r++) {
		struct mg_ct_conf cc = {.capacity = nflows, .hz = rte_get_tsc_hz(),
					.export_ring = 0, .socket = SOCKET_ID_ANY};
		char hn[RTE_HASH_NAMESIZE];
		struct mg_error err;
		struct mg_ct_table *t;
		struct rte_hash *h;
		uint64_t t0, now = rte_rdtsc();

		snprintf(cc.name, sizeof(cc.name), "b%u", r);
		snprintf(hn, sizeof(hn), "peer%u", r);
		t = mg_ct_table_create(&cc, &err);
		h = rte_hash_create(&(struct rte_hash_parameters){
			.name = hn, .entries = 2 * nflows, .key_len = sizeof(struct mg_flow_key),
			.hash_func = mg_bench_peer_hash, .socket_id = SOCKET_ID_ANY,
			.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE});
		if (t == NULL || h == NULL) {
			fprintf(stderr, "ct_bench: %s\n", t == NULL ? err.msg : "rte_hash_create");
			return 1;
		}
		/* new: every flow created by its first key. */
		t0 = mg_bench_cpu_ns();
		for (uint32_t f = 0; f < nflows; f++) {
			struct mg_ct_flow *x = mg_ct_create(t, &keys[2 * f], 0, now);

			mg_ct_update(t, x, 0, 100, 0, 1, now);
		}
		new_[r] = (double)(mg_bench_cpu_ns() - t0) * tsc_per_ns / nflows;
		t0 = mg_bench_cpu_ns();
		for (uint32_t f = 0; f < nflows; f++) {
			rte_hash_add_key_data(h, &keys[2 * f], (void *)((uintptr_t)f << 1));
			rte_hash_add_key_data(h, &keys[2 * f + 1], (void *)((uintptr_t)f << 1 | 1));
		}
		pnew[r] = (double)(mg_bench_cpu_ns() - t0) * tsc_per_ns / nflows;
		/* hit: every packet, both directions, in bursts. */
		t0 = mg_bench_cpu_ns();
		for (uint32_t i = 0; i < npkts; i += BURST) {
			struct mg_ct_flow *fl[BURST];
			uint8_t dirs[BURST];

			mg_ct_lookup_bulk(t, kp + i, BURST, now, fl, dirs);
			for (int j = 0; j < BURST; j++)
				mg_ct_update(t, fl[j], dirs[j], 100, 0, 1, now);
		}
		hit[r] = (double)(mg_bench_cpu_ns() - t0) * tsc_per_ns / npkts;
		t0 = mg_bench_cpu_ns();
		for (uint32_t i = 0; i < npkts; i += BURST) {
			void *data[BURST];
			uint64_t hits;

			rte_hash_lookup_bulk_data(h, (const void **)(kp + i), BURST, &hits, data);
			for (int j = 0; j < BURST; j++) {
				struct peer_flow *p = &pf[(uintptr_t)data[j] >> 1];
				int d = (int)((uintptr_t)data[j] & 1);

				p->last = now;
				p->pkts[d]++;
				p->bytes[d] += 100;
			}
		}
		phit[r] = (double)(mg_bench_cpu_ns() - t0) * tsc_per_ns / npkts;
		/* expire: 16-entry slices over the whole table, nothing idle. */
		t0 = mg_bench_cpu_ns();
		for (uint32_t i = 0; i < nflows / 16; i++)
			mg_ct_expire(t, now, 16);
		exp_[r] = (double)(mg_bench_cpu_ns() - t0) * tsc_per_ns / (nflows / 16);
		rh[r] = hit[r] / phit[r];
		rn[r] = new_[r] / pnew[r];
		mg_ct_table_destroy(t);
		rte_hash_free(h);
	}
	printf("ct_bench: %u flows, both directions, %u rounds (medians; cycles at the TSC rate)\n",
	       nflows, rounds);
	printf("  hit     %7.1f cyc/pkt   rte_hash bulk lookup + counters %7.1f   ratio %.2f\n",
	       mg_bench_median_d(hit, rounds), mg_bench_median_d(phit, rounds),
	       mg_bench_median_d(rh, rounds));
	printf("  new     %7.1f cyc/flow  two rte_hash adds              %7.1f   ratio %.2f\n",
	       mg_bench_median_d(new_, rounds), mg_bench_median_d(pnew, rounds),
	       mg_bench_median_d(rn, rounds));
	printf("  expire  %7.1f cyc per 16-entry slice (per graph walk and network)\n",
	       mg_bench_median_d(exp_, rounds));
	rte_eal_cleanup();
	return 0;
}
