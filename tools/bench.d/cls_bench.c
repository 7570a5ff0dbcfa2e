/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cls_bench: the cost of classifying a packet with lib/cls against two peers
 * measured in the same run, on the same rules and packets:
 *
 *  - "acl-sample": DPDK's own sample approach (l3fwd-acl, ipsec-secgw):
 *    rte_acl_classify straight over the packet headers (data pointers at
 *    the IPv4 protocol byte, fixed offsets, no key copy, no result
 *    templates, no counters), same rte_acl algorithm. This is the floor
 *    lib/cls adds its work to (key extraction with options and IPv6
 *    extension headers, fragments, meta fields, per-rule counters).
 *  - "linear": a naive first-match scan over the rules in priority order.
 *
 * Prints, for 1, 100, 1,000 and 10,000 IPv4 5-tuple rules shaped like
 * ClassBench's ACL sets (and IPv6 with --v6): cycles per packet of each,
 * the ratios, and the build time of the lib/cls table. Not a test: the figures move with the machine; compare
 * the ratios of one run.
 *
 * --packets N (32-65536, a multiple of 32; default 4096): packets per pass,
 * all distinct flows unless --flows says fewer. Above the result cache's
 * 8,192 entries (--packets 65536) lib/cls misses on nearly every packet:
 * its cost over the peer is then the cache's lookup and fill on a miss.
 * --flows N (default: as many as packets): the packets repeat N distinct
 * flows, so lib/cls's per-worker result cache answers the repeats.
 *
 * usage: cls_bench [--rules LIST] [--v6] [--iters N] [--flows N] [--packets N]
 *                  [-- EAL args]
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_random.h>

#include "mg_cls.h"

#define MAX_PKTS 65536
#define BURST 32
#define ROUNDS 9

/* One bench packet's truth (for the linear scan) and its mbuf. */
struct bpkt {
	uint8_t src[16], dst[16];
	uint8_t proto;
	uint16_t sport, dport;
};

static struct rte_mempool *pool;
static struct bpkt bp[MAX_PKTS];
static struct rte_mbuf *mb[MAX_PKTS];
/* Packets per pass (--packets): more distinct flows than the result cache holds make it miss. */
static int npkts = 4096;
/* Distinct flows among the packets (--flows): packet i repeats flow i % nflows. */
static uint32_t nflows = MAX_PKTS;

/* Addresses in a few /16s (IPv4) or /48s (IPv6) so that prefixes match. */
static void
rand_addr(int v6, uint8_t *a)
{
	for (int i = 0; i < 16; i++)
		a[i] = (uint8_t)rte_rand();
	if (!v6) {
		a[0] = 10;
		a[1] = (uint8_t)(rte_rand() % 16);
	} else {
		a[0] = 0x20, a[1] = 0x01, a[2] = 0x0d, a[3] = 0xb8, a[4] = 0;
		a[5] = (uint8_t)(rte_rand() % 16);
	}
}

static uint8_t
rand_proto(void)
{
	static const uint8_t p[] = {MG_IPPROTO_TCP, MG_IPPROTO_UDP, MG_IPPROTO_UDP};

	return p[rte_rand() % 3];
}

static void
make_packets(int v6)
{
	for (int i = 0; i < npkts; i++) {
		struct bpkt *b = &bp[i];
		uint8_t *p;
		uint32_t hl = v6 ? 40 : 20, tot = hl + 8 + 18;

		rand_addr(v6, b->src);
		rand_addr(v6, b->dst);
		b->proto = rand_proto();
		b->sport = (uint16_t)(1024 + rte_rand() % 64000);
		b->dport = (uint16_t)(rte_rand() % 2 ? rte_rand() % 1024 : rte_rand() % 65536);
		if (rte_rand() % 2) {
			static const uint16_t wkp[] = {22, 53, 80, 443, 5060, 8080};

			b->dport = wkp[rte_rand() % RTE_DIM(wkp)];
		}
		if ((uint32_t)i >= nflows)
			*b = bp[(uint32_t)i % nflows];
		mb[i] = rte_pktmbuf_alloc(pool);
		if (mb[i] == NULL) {
			fprintf(stderr, "cls_bench: out of mbufs\n");
			exit(1);
		}
		p = rte_pktmbuf_mtod(mb[i], uint8_t *);
		memset(p, 0, tot);
		if (!v6) {
			p[0] = 0x45;
			p[2] = (uint8_t)(tot >> 8), p[3] = (uint8_t)tot;
			p[8] = 64;
			p[9] = b->proto;
			memcpy(p + 12, b->src, 4);
			memcpy(p + 16, b->dst, 4);
		} else {
			p[0] = 0x60;
			p[5] = (uint8_t)(tot - 40);
			p[6] = b->proto;
			p[7] = 64;
			memcpy(p + 8, b->src, 16);
			memcpy(p + 24, b->dst, 16);
		}
		p[hl] = (uint8_t)(b->sport >> 8), p[hl + 1] = (uint8_t)b->sport;
		p[hl + 2] = (uint8_t)(b->dport >> 8), p[hl + 3] = (uint8_t)b->dport;
		mb[i]->data_len = (uint16_t)tot;
		mb[i]->pkt_len = tot;
	}
}

/*
 * Rules shaped like ClassBench's ACL seeds: destinations mostly /24../32,
 * sources wild half the time, source ports wild or 1024-65535, destination
 * ports a well-known port, wild, 1024-65535 or a short range; TCP or UDP.
 */
static void
make_rules(int v6, struct mg_cls_rule *r, uint32_t n)
{
	static const uint16_t wk[] = {20, 21, 22, 23, 25, 53, 67, 69, 80, 110, 123, 137, 143,
				      161, 179, 389, 443, 445, 500, 514, 636, 993, 995, 1433,
				      1521, 1723, 2049, 3306, 3389, 5060, 5432, 6379, 8080, 8443};
	const int w = v6 ? 4 : 1; /* IPv6 prefix lengths scale by 4 (a /24 becomes a /96) */

	for (uint32_t i = 0; i < n; i++) {
		struct mg_cls_match *m = &r[i].match;
		unsigned int d = (unsigned int)(rte_rand() % 10);

		memset(&r[i], 0, sizeof(r[i]));
		r[i].id = i;
		r[i].priority = (int32_t)i;
		r[i].action.type = rte_rand() % 2 ? MG_CLS_PERMIT : MG_CLS_DENY;
		if (rte_rand() % 2) {
			m->src.addr.family = v6 ? AF_INET6 : AF_INET;
			rand_addr(v6, m->src.addr.bytes);
			m->src.len = (uint8_t)(w * (16 + rte_rand() % 17));
		}
		m->dst.addr.family = v6 ? AF_INET6 : AF_INET;
		rand_addr(v6, m->dst.addr.bytes);
		m->dst.len = (uint8_t)(w * (d < 8 ? 24 + rte_rand() % 9 : 8 + rte_rand() % 9));
		m->fields = MG_CLS_M_PROTO;
		m->proto = rand_proto();
		if (rte_rand() % 5 == 0) {
			m->fields |= MG_CLS_M_SPORT;
			m->sport = (struct mg_cls_range){1024, 65535};
		}
		d = (unsigned int)(rte_rand() % 10);
		if (d < 6) {
			m->fields |= MG_CLS_M_DPORT;
			m->dport.lo = m->dport.hi = wk[rte_rand() % RTE_DIM(wk)];
		} else if (d < 8) {
			m->fields |= MG_CLS_M_DPORT;
			m->dport = d == 6 ? (struct mg_cls_range){1024, 65535}
					  : (struct mg_cls_range){6000, 6063};
		}
	}
}

/* ---- peer 1: DPDK's sample approach, rte_acl over the headers in place ---------------------- */

/* IPv4 5-tuple over the packet from the protocol byte (l3fwd-acl's ipv4_defs). */
static const struct rte_acl_field_def peer4_defs[] = {
	{RTE_ACL_FIELD_TYPE_BITMASK, 1, 0, 0, 0},
	{RTE_ACL_FIELD_TYPE_MASK, 4, 1, 1, 12 - 9},
	{RTE_ACL_FIELD_TYPE_MASK, 4, 2, 2, 16 - 9},
	{RTE_ACL_FIELD_TYPE_RANGE, 2, 3, 3, 20 - 9},
	{RTE_ACL_FIELD_TYPE_RANGE, 2, 4, 3, 22 - 9},
};

/* IPv6 5-tuple from the next-header byte (offset 6): 4 words per address. */
static struct rte_acl_field_def peer6_defs[13];

static void
peer6_init(void)
{
	int n = 0;

	peer6_defs[n++] = (struct rte_acl_field_def){RTE_ACL_FIELD_TYPE_BITMASK, 1, 0, 0, 0};
	for (int j = 0; j < 8; j++, n++)
		peer6_defs[n] = (struct rte_acl_field_def){RTE_ACL_FIELD_TYPE_MASK, 4,
							   (uint8_t)n, (uint8_t)n,
							   (uint32_t)(8 - 6 + 4 * j)};
	peer6_defs[n] = (struct rte_acl_field_def){RTE_ACL_FIELD_TYPE_RANGE, 2, (uint8_t)n,
						   (uint8_t)n, 40 - 6};
	n++;
	peer6_defs[n] = (struct rte_acl_field_def){RTE_ACL_FIELD_TYPE_RANGE, 2, (uint8_t)n,
						   (uint8_t)(n - 1), 42 - 6};
}

RTE_ACL_RULE_DEF(peer_rule, 13);

static void
peer_mask(struct rte_acl_field *f, const uint8_t *a, int len)
{
	uint32_t v;

	memcpy(&v, a, 4);
	v = ntohl(v);
	if (len <= 0) {
		f->value.u32 = 0, f->mask_range.u32 = 0;
		return;
	}
	if (len > 32)
		len = 32;
	f->value.u32 = v & (uint32_t)RTE_ACL_MASKLEN_TO_BITMASK((uint32_t)len, 4);
	f->mask_range.u32 = (uint32_t)len;
}

static struct rte_acl_ctx *
peer_build(int v6, const struct mg_cls_rule *r, uint32_t n, enum rte_acl_classify_alg alg)
{
	static unsigned int seq;
	const int nf = v6 ? 11 : 5;
	struct rte_acl_config cfg = {.num_categories = 1, .num_fields = (uint32_t)nf};
	struct rte_acl_param prm;
	const size_t rsz = RTE_ACL_RULE_SZ(nf);
	uint8_t *rules = calloc(n, rsz);
	struct rte_acl_ctx *ctx;
	char name[32];

	snprintf(name, sizeof(name), "peer%u", seq++);
	prm = (struct rte_acl_param){.name = name, .socket_id = SOCKET_ID_ANY,
				     .rule_size = RTE_ACL_RULE_SZ(nf), .max_rule_num = n};
	memcpy(cfg.defs, v6 ? peer6_defs : peer4_defs, sizeof(cfg.defs[0]) * nf);
	for (uint32_t i = 0; i < n; i++) {
		const struct mg_cls_match *m = &r[i].match;
		struct peer_rule *pr = (struct peer_rule *)(rules + i * rsz);
		struct rte_acl_field *f = pr->field;
		int k = 1;

		pr->data = (struct rte_acl_rule_data){.category_mask = 1,
			.priority = (int32_t)(RTE_ACL_MAX_PRIORITY - i), .userdata = i + 1};
		f[0].value.u8 = m->proto;
		f[0].mask_range.u8 = 0xff;
		for (int j = 0; j < (v6 ? 4 : 1); j++)
			peer_mask(&f[k++], m->src.addr.bytes + 4 * j, m->src.len - 32 * j);
		for (int j = 0; j < (v6 ? 4 : 1); j++)
			peer_mask(&f[k++], m->dst.addr.bytes + 4 * j, m->dst.len - 32 * j);
		f[k].value.u16 = (m->fields & MG_CLS_M_SPORT) ? m->sport.lo : 0;
		f[k++].mask_range.u16 = (m->fields & MG_CLS_M_SPORT) ? m->sport.hi : 65535;
		f[k].value.u16 = (m->fields & MG_CLS_M_DPORT) ? m->dport.lo : 0;
		f[k].mask_range.u16 = (m->fields & MG_CLS_M_DPORT) ? m->dport.hi : 65535;
	}
	ctx = rte_acl_create(&prm);
	if (ctx == NULL || rte_acl_add_rules(ctx, (struct rte_acl_rule *)rules, n) < 0 ||
	    rte_acl_build(ctx, &cfg) < 0 || rte_acl_set_ctx_classify(ctx, alg) < 0) {
		fprintf(stderr, "cls_bench: the peer's rte_acl context failed\n");
		exit(1);
	}
	free(rules);
	return ctx;
}

/* ---- peer 2: linear first match ------------------------------------------------------------- */

static int
lin_prefix(const struct mg_prefix *p, const uint8_t *a)
{
	uint32_t full = p->len / 8, rest = p->len % 8;

	if (memcmp(p->addr.bytes, a, full) != 0)
		return 0;
	return rest == 0 || ((p->addr.bytes[full] ^ a[full]) & (0xff00 >> rest) & 0xff) == 0;
}

static uint32_t
lin_classify(const struct mg_cls_rule *r, uint32_t n, const struct bpkt *b)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct mg_cls_match *m = &r[i].match;

		if (m->proto != b->proto || !lin_prefix(&m->src, b->src) ||
		    !lin_prefix(&m->dst, b->dst))
			continue;
		if ((m->fields & MG_CLS_M_SPORT) && (b->sport < m->sport.lo || b->sport > m->sport.hi))
			continue;
		if ((m->fields & MG_CLS_M_DPORT) && (b->dport < m->dport.lo || b->dport > m->dport.hi))
			continue;
		return i;
	}
	return MG_CLS_ID_DEFAULT;
}

/* ---- measuring ----------------------------------------------------------------------------------- */

static volatile uint64_t sink;

static double
run_cls(const struct mg_cls_table *t, unsigned int iters)
{
	struct mg_cls_result res[BURST];
	uint64_t t0 = rte_rdtsc_precise(), s = 0;

	for (unsigned int it = 0; it < iters; it++)
		for (int i = 0; i < npkts; i += BURST) {
			mg_cls_classify_burst(t, 0, mb + i, NULL, NULL, BURST, res);
			s += res[BURST - 1].rule_id;
		}
	sink = s;
	return (double)(rte_rdtsc_precise() - t0) / ((double)iters * npkts);
}

static double
run_peer(const struct rte_acl_ctx *ctx, int v6, unsigned int iters)
{
	const uint8_t *data[BURST];
	uint32_t res[BURST];
	uint64_t t0 = rte_rdtsc_precise(), s = 0;
	const uint32_t off = v6 ? 6 : 9;

	for (unsigned int it = 0; it < iters; it++)
		for (int i = 0; i < npkts; i += BURST) {
			for (int j = 0; j < BURST; j++)
				data[j] = rte_pktmbuf_mtod_offset(mb[i + j], const uint8_t *, off);
			rte_acl_classify(ctx, data, res, BURST, 1);
			s += res[BURST - 1];
		}
	sink = s;
	return (double)(rte_rdtsc_precise() - t0) / ((double)iters * npkts);
}

static double
run_linear(const struct mg_cls_rule *r, uint32_t n, unsigned int npk)
{
	uint64_t t0 = rte_rdtsc_precise(), s = 0;

	for (unsigned int i = 0; i < npk; i++)
		s += lin_classify(r, n, &bp[i % npkts]);
	sink = s;
	return (double)(rte_rdtsc_precise() - t0) / npk;
}

static void
bench_family(int v6, const uint32_t *counts, int ncounts, unsigned int iters)
{
	const struct mg_cls_conf conf = {.family = v6 ? AF_INET6 : AF_INET, .nb_workers = 1,
					 .socket_id = SOCKET_ID_ANY};
	const double ghz = (double)rte_get_tsc_hz() / 1e9;

	make_packets(v6);
	printf("\n%s, %d packets of %d random flows, bursts of %d, rte_acl %s\n",
	       v6 ? "IPv6" : "IPv4", npkts, (int)RTE_MIN(nflows, (uint32_t)npkts), BURST,
	       "(lib/cls's choice for both)");
	printf("%7s %10s %10s %10s %9s %9s %8s %9s %7s\n", "rules", "cls c/pkt", "acl c/pkt",
	       "lin c/pkt", "cls Mpps", "cls/acl", "lin/cls", "build ms", "agree");
	for (int c = 0; c < ncounts; c++) {
		uint32_t n = counts[c];
		struct mg_cls_rule *r = calloc(n, sizeof(*r));
		struct mg_cls_table *t;
		struct rte_acl_ctx *peer;
		struct mg_cls_info info;
		struct mg_error e;
		struct mg_cls_result res[BURST];
		double cc, pc, lc;
		unsigned int agree = 0, lin_pk;

		make_rules(v6, r, n);
		t = mg_cls_table_build(&conf, r, n, NULL, &e);
		if (t == NULL) {
			fprintf(stderr, "cls_bench: %s: %s\n", e.field, e.msg);
			exit(1);
		}
		mg_cls_table_info(t, &info);
		peer = peer_build(v6, r, n, info.alg);
		/* The three must agree before their speed means anything. */
		for (int i = 0; i < npkts; i += BURST) {
			mg_cls_classify_burst(t, 0, mb + i, NULL, NULL, BURST, res);
			for (int j = 0; j < BURST; j++) {
				uint32_t l = lin_classify(r, n, &bp[i + j]);

				agree += res[j].rule_id == (l == MG_CLS_ID_DEFAULT ? l : r[l].id);
			}
		}
		/*
		 * Warm up, then alternate so neither always runs on a warmer cache;
		 * keep each one's best round: the machine is shared, and other work
		 * only ever adds cycles.
		 */
		run_cls(t, 1);
		run_peer(peer, v6, 1);
		cc = pc = lc = 1e30;
		lin_pk = n >= 1000 ? npkts / 8 : npkts;
		for (int round = 0; round < ROUNDS; round++) {
			cc = RTE_MIN(cc, run_cls(t, iters));
			pc = RTE_MIN(pc, run_peer(peer, v6, iters));
			lc = RTE_MIN(lc, run_linear(r, n, lin_pk));
		}
		printf("%7u %10.1f %10.1f %10.1f %9.1f %9.2f %8.1f %9.1f %6.1f%%\n", n, cc, pc, lc,
		       ghz * 1e3 / cc, cc / pc, lc / cc, info.build_ns / 1e6,
		       100.0 * agree / npkts);
		rte_acl_free(peer);
		mg_cls_table_free(t);
		free(r);
	}
	for (int i = 0; i < npkts; i++)
		rte_pktmbuf_free(mb[i]);
}

int
main(int argc, char **argv)
{
	char *eal[] = {"cls_bench", "-l", "0", "--no-huge", "-m", "1024", "--no-pci", "--no-shconf",
		       "--no-telemetry", "--log-level", "error", NULL};
	uint32_t counts[8] = {1, 100, 1000, 10000};
	int ncounts = 4, v6 = 0, opt, rc;
	unsigned int iters = 5;

	/* Options before "--"; EAL arguments after it replace the defaults. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			rc = rte_eal_init(argc - i, argv + i);
			argc = i;
			goto parsed;
		}
	rc = rte_eal_init((int)RTE_DIM(eal) - 1, eal);
parsed:
	if (rc < 0) {
		fprintf(stderr, "cls_bench: EAL init failed\n");
		return 1;
	}
	static const struct option lo[] = {{"rules", 1, NULL, 'r'}, {"v6", 0, NULL, '6'},
					   {"iters", 1, NULL, 'i'}, {"flows", 1, NULL, 'f'},
					   {"packets", 1, NULL, 'p'}, {"help", 0, NULL, 'h'},
					   {NULL, 0, NULL, 0}};
	optind = 1;
	while ((opt = getopt_long(argc, argv, "r:6i:f:p:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'r': {
			char *s = optarg, *tok;

			ncounts = 0;
			while ((tok = strsep(&s, ",")) != NULL && ncounts < 8)
				counts[ncounts++] = (uint32_t)strtoul(tok, NULL, 10);
			break;
		}
		case '6': v6 = 1; break;
		case 'i': iters = (unsigned int)strtoul(optarg, NULL, 10); break;
		case 'f':
			nflows = (uint32_t)strtoul(optarg, NULL, 10);
			if (nflows == 0 || nflows > MAX_PKTS)
				nflows = MAX_PKTS;
			break;
		case 'p':
			npkts = (int)strtoul(optarg, NULL, 10);
			if (npkts < BURST || npkts > MAX_PKTS || npkts % BURST != 0) {
				fprintf(stderr, "cls_bench: --packets: %d-%d, a multiple of %d\n",
					BURST, MAX_PKTS, BURST);
				return 2;
			}
			break;
		default:
			printf("usage: cls_bench [--rules 1,100,1000,10000] [--v6] [--iters N] [--flows N] "
			       "[--packets N] [-- EAL args]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	pool = rte_pktmbuf_pool_create("cls_bench", npkts + 512, 0, 0, 512, SOCKET_ID_ANY);
	if (pool == NULL) {
		fprintf(stderr, "cls_bench: no mbuf pool\n");
		return 1;
	}
	peer6_init();
	printf("cls_bench: TSC %.2f GHz; c/pkt = TSC cycles per packet; cls/acl = lib/cls's cost "
	       "over DPDK's sample approach (rte_acl over the headers in place); lin/cls = naive "
	       "linear scan's cost over lib/cls\n", rte_get_tsc_hz() / 1e9);
	bench_family(0, counts, ncounts, iters);
	if (v6)
		bench_family(1, counts, ncounts, iters);
	rte_eal_cleanup();
	return 0;
}
