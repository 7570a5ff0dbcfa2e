/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * svc_bench: the cost of service steering per packet, against bare DPDK
 * rte_hash operations on the same keys in the same run (the least any
 * flow table built on rte_hash can cost), printed as cycles per packet
 * and as ratios.
 *
 *   build/lib/svc/svc_bench [--flows N] [--rounds N] [--endpoints N] [-- EAL args]
 *
 * Cases, each over N distinct UDP flows in a shuffled order:
 *   new     mg_svc_steer on unseen flows (lookup miss, Maglev pick, insert)
 *           vs rte_hash_lookup + rte_hash_add_key_data
 *   hit     mg_svc_steer on known flows (lookup, endpoint check, counters)
 *           vs rte_hash_lookup_data + the same counter update
 *   bulk    mg_flow_lookup_bulk (32 at a time) vs rte_hash_lookup_bulk_data
 *   key     mg_svc_pkt_key (parse a packet into key + hash), absolute
 *   build   one Maglev table build (M = 65537), absolute
 * Times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), shown as
 * cycles at the TSC rate, so other processes' turns on a shared CPU do
 * not count; caches are still shared: read the ratios, not the cycles.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_malloc.h>
#include <rte_random.h>

#include "mg_bench.h"
#include "mg_proto.h"
#include "mg_svc.h"

/* The peer's per-flow state: what a minimal flow table must update on a hit. */
struct peer_flow {
	uint64_t last, pkts, bytes;
	uint32_t ep;
};

int
main(int argc, char **argv)
{
	uint32_t nflows = 200000, rounds = 5, neps = 20;
	int opt;

	static const struct option lo[] = {
		{"flows", required_argument, NULL, 'f'},
		{"rounds", required_argument, NULL, 'r'},
		{"endpoints", required_argument, NULL, 'e'},
		{NULL, 0, NULL, 0},
	};
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'f': nflows = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'r': rounds = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'e': neps = (uint32_t)strtoul(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: %s [--flows N] [--rounds N] [--endpoints N]\n",
				argv[0]);
			return 2;
		}
	}
	if (nflows == 0 || rounds == 0 || neps == 0 || neps > MG_SVC_MAX_ENDPOINTS) {
		fprintf(stderr, "svc_bench: --flows, --rounds, --endpoints must be > 0\n");
		return 2;
	}
	if (mg_bench_eal_init(argv[0], "svc_bench", "svcbench", "1536") < 0)
		return 1;

	/* Packets and keys. */
	uint8_t (*pkts)[48] = rte_malloc(NULL, (size_t)nflows * 48, 64);
	struct mg_flow_key *keys = rte_malloc(NULL, (size_t)nflows * sizeof(*keys), 64);
	uint32_t *hashes = rte_malloc(NULL, (size_t)nflows * sizeof(*hashes), 64);
	uint32_t *order = rte_malloc(NULL, (size_t)nflows * sizeof(*order), 64);
	struct peer_flow *pf = rte_zmalloc(NULL, (size_t)nflows * sizeof(*pf), 64);
	uint64_t *c_ours = calloc(rounds, sizeof(uint64_t)), *c_peer = calloc(rounds, 8);
	uint64_t *c_bulk = calloc(rounds, 8), *c_pbulk = calloc(rounds, 8);
	uint64_t *c_key = calloc(rounds, 8), *c_new = calloc(rounds, 8), *c_pnew = calloc(rounds, 8);
	double *ratio = calloc(rounds, sizeof(double));

	if (!pkts || !keys || !hashes || !order || !pf || !c_ours || !c_peer || !c_bulk ||
	    !c_pbulk || !c_key || !c_new || !c_pnew || !ratio) {
		fprintf(stderr, "svc_bench: no memory for %u flows (try fewer)\n", nflows);
		return 1;
	}
	for (uint32_t i = 0; i < nflows; i++) {
		uint8_t *b = pkts[i];
		uint32_t s = htonl(0x0a000000u | (i & 0xffffff)), d = htonl(0xc0000201u);
		uint16_t sp = htons((uint16_t)(1024 + (i >> 12))), dp = htons(443), ul = htons(20);

		memset(b, 0, 48);
		b[0] = 0x45;
		b[3] = 48;
		b[8] = 64;
		b[9] = MG_IPPROTO_UDP;
		memcpy(b + 12, &s, 4);
		memcpy(b + 16, &d, 4);
		memcpy(b + 20, &sp, 2);
		memcpy(b + 22, &dp, 2);
		memcpy(b + 24, &ul, 2);
		mg_svc_pkt_key(b, 48, AF_INET, MG_IPPROTO_UDP, 20, 0, 0, &keys[i], &hashes[i]);
		order[i] = i;
	}
	for (uint32_t i = nflows - 1; i > 0; i--) {
		uint32_t j = (uint32_t)rte_rand_max(i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}

	/* The service. */
	struct mg_error err;
	struct mg_svc *svc = mg_svc_create(1, "bench", MG_SVC_ROUTE, 0, &err);
	uint64_t t0, build_ns;

	for (uint32_t e = 0; svc && e < neps; e++) {
		struct mg_svc_endpoint_conf c = {.weight = e == 0 ? 5 : 95, .up = true};

		snprintf(c.name, sizeof(c.name), "ep%u", e);
		c.addr.family = AF_INET;
		c.addr.v4 = htonl(0x0a640000u + e);
		mg_svc_endpoint_set(svc, &c, &err);
	}
	t0 = mg_bench_cpu_ns();
	struct mg_svc_table *tab = svc ? mg_svc_build(svc, &err) : NULL;

	build_ns = mg_bench_cpu_ns() - t0;
	if (tab == NULL) {
		fprintf(stderr, "svc_bench: %s\n", err.msg);
		return 1;
	}

	const struct mg_svc_ep *ep;
	enum mg_svc_verdict v;
	uint64_t sink = 0;

	for (uint32_t r = 0; r < rounds; r++) {
		char name[24];

		snprintf(name, sizeof(name), "b%u", r);
		struct mg_flow_conf fc = {.capacity = nflows, .hz = 1000000000,
					  .socket = SOCKET_ID_ANY};
		snprintf(fc.name, sizeof(fc.name), "%s", name);
		struct mg_flow_table *ft = mg_flow_table_create(&fc, &err);
		char pname[32];

		snprintf(pname, sizeof(pname), "peer%u", r);
		struct rte_hash_parameters hp = {
			.name = pname, .entries = RTE_MAX(2 * nflows, 16u),
			.key_len = sizeof(struct mg_flow_key), .hash_func = mg_bench_peer_hash,
			.hash_func_init_val = 0x6d676677, .socket_id = SOCKET_ID_ANY,
			.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
		};
		struct rte_hash *ph = rte_hash_create(&hp);

		if (ft == NULL || ph == NULL) {
			fprintf(stderr, "svc_bench: cannot create the tables: %s\n",
				ft ? rte_strerror(rte_errno) : err.msg);
			return 1;
		}
		/* Alternate which goes first: both see about the same machine. */
		for (int pass = 0; pass < 2; pass++) {
			if ((pass == 0) == (r % 2 == 0)) {
				t0 = mg_bench_cpu_ns();
				for (uint32_t i = 0; i < nflows; i++) {
					uint32_t k = order[i];

					ep = mg_svc_steer(tab, ft, &keys[k], hashes[k], 48, 0, t0,
							  &v, NULL);
					sink += ep->ref;
				}
				c_new[r] = mg_bench_cpu_ns() - t0;
			} else {
				t0 = mg_bench_cpu_ns();
				for (uint32_t i = 0; i < nflows; i++) {
					uint32_t k = order[i];

					if (rte_hash_lookup(ph, &keys[k]) < 0) {
						pf[k].ep = k;
						rte_hash_add_key_data(ph, &keys[k], &pf[k]);
					}
				}
				c_pnew[r] = mg_bench_cpu_ns() - t0;
			}
		}
		/* Hits. */
		for (int pass = 0; pass < 2; pass++) {
			if ((pass == 0) == (r % 2 == 0)) {
				t0 = mg_bench_cpu_ns();
				for (uint32_t i = 0; i < nflows; i++) {
					uint32_t k = order[i];

					ep = mg_svc_steer(tab, ft, &keys[k], hashes[k], 48, 0, t0,
							  &v, NULL);
					sink += ep->ref;
				}
				c_ours[r] = mg_bench_cpu_ns() - t0;
			} else {
				t0 = mg_bench_cpu_ns();
				for (uint32_t i = 0; i < nflows; i++) {
					uint32_t k = order[i];
					void *d;

					if (rte_hash_lookup_data(ph, &keys[k], &d) >= 0) {
						struct peer_flow *p = d;

						p->last = t0;
						p->pkts++;
						p->bytes += 48;
						sink += p->ep;
					}
				}
				c_peer[r] = mg_bench_cpu_ns() - t0;
			}
		}
		/* Bulk lookups, 32 at a time. */
		{
			const struct mg_flow_key *kp[32];
			const void *vp[32];
			struct mg_flow *fl[32];
			uint8_t dirs[32];
			void *data[32];
			uint64_t hits;

			for (int pass = 0; pass < 2; pass++) {
				if ((pass == 0) == (r % 2 == 0)) {
					t0 = mg_bench_cpu_ns();
					for (uint32_t i = 0; i + 32 <= nflows; i += 32) {
						for (int j = 0; j < 32; j++)
							kp[j] = &keys[order[i + j]];
						sink += mg_flow_lookup_bulk(ft, kp, 32, t0, fl, dirs);
					}
					c_bulk[r] = mg_bench_cpu_ns() - t0;
				} else {
					t0 = mg_bench_cpu_ns();
					for (uint32_t i = 0; i + 32 <= nflows; i += 32) {
						for (int j = 0; j < 32; j++)
							vp[j] = &keys[order[i + j]];
						sink += rte_hash_lookup_bulk_data(ph, vp, 32, &hits,
										  data);
					}
					c_pbulk[r] = mg_bench_cpu_ns() - t0;
				}
			}
		}
		/* Parsing packets into keys. */
		{
			struct mg_flow_key k;
			uint32_t h;

			t0 = mg_bench_cpu_ns();
			for (uint32_t i = 0; i < nflows; i++) {
				mg_svc_pkt_key(pkts[order[i]], 48, AF_INET, MG_IPPROTO_UDP, 20, 0, 0,
					       &k, &h);
				sink += h;
			}
			c_key[r] = mg_bench_cpu_ns() - t0;
		}
		const struct mg_flow_stats *st = mg_flow_table_stats(ft);

		if (st->created != nflows || st->hits < nflows) {
			fprintf(stderr, "svc_bench: created %lu hits %lu of %u flows\n",
				(unsigned long)st->created, (unsigned long)st->hits, nflows);
			return 1;
		}
		mg_flow_table_destroy(ft);
		rte_hash_free(ph);
	}

	/* Times are CPU ns; shown as cycles at the TSC rate. */
	double hz = (double)rte_get_tsc_hz(), n = nflows * 1e9 / hz;
	uint32_t nb = nflows / 32 * 32;
	const struct {
		const char *name;
		uint64_t *ours, *peer;
		double per;
	} cases[] = {
		{"new", c_new, c_pnew, n},
		{"hit", c_ours, c_peer, n},
		{"bulk", c_bulk, c_pbulk, nb * 1e9 / hz},
	};

	printf("svc_bench: %u flows, %u endpoints (one at weight 5, the rest 95), %u rounds, "
	       "TSC %.2f GHz (sink %lu)\n", nflows, neps, rounds, hz / 1e9,
	       (unsigned long)(sink & 1));
	printf("  %-6s %15s %15s %7s\n", "case", "meshgate c/pkt", "rte_hash c/pkt", "ratio");
	for (unsigned int c = 0; c < RTE_DIM(cases); c++) {
		/* The median of the rounds' ratios: each round's pair saw about the same machine. */
		for (uint32_t r = 0; r < rounds; r++)
			ratio[r] = (double)cases[c].ours[r] / (double)cases[c].peer[r];
		printf("  %-6s %15.1f %15.1f %7.2f\n", cases[c].name,
		       mg_bench_median_u64(cases[c].ours, rounds) / cases[c].per,
		       mg_bench_median_u64(cases[c].peer, rounds) / cases[c].per,
		       mg_bench_median_d(ratio, rounds));
	}
	printf("  %-6s %15.1f %15s %7s\n", "key", mg_bench_median_u64(c_key, rounds) / n, "-", "-");
	printf("  build: Maglev table M=%u with %u endpoints in %.2f ms\n", tab->size, neps,
	       build_ns / 1e6);
	printf("  ratio = meshgate / rte_hash cycles (1.00 = no cost beyond the bare hash)\n");
	mg_svc_table_free(tab);
	mg_svc_destroy(svc);
	rte_eal_cleanup();
	return 0;
}
