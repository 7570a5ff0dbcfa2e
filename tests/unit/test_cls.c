/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Classification (lib/cls) against a naive reference: random rule sets and
 * random packets (IPv4 and IPv6, TCP/UDP/SCTP/ICMP/other protocols,
 * fragments, IPv6 extension headers, cut-short headers, VLAN, DSCP, ingress
 * interface) classified by rte_acl through mg_cls and by a linear scan over
 * the rules written from the header's contract, using what the generator put
 * into each packet (no parser shared with the library). Then the named
 * behaviours one at a time: priorities and ties, port ranges, protocol any,
 * per-network separation, counters carried over a replacement, srTCM
 * policing and its rebalancing, DSCP marks, replacement under RCU while a
 * reader classifies, full tables, and refused rules naming their field.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_random.h>
#include <rte_rcu_qsbr.h>

#include "cls_priv.h"
#include "mg_cls.h"
#include "mg_test.h"
#include "mg_test_eal.h"

static struct rte_mempool *pool;

static void
setup(void)
{
	mg_test_eal_init("test_cls", "0", 512);
	pool = rte_pktmbuf_pool_create("test_cls", 4096, 0, 0, 2176, SOCKET_ID_ANY);
	if (pool == NULL) {
		fprintf(stderr, "cannot create the mbuf pool\n");
		exit(2);
	}
}

/* ---- packets: what the generator put in, and the bytes ------------------------------------ */

/** The truth about one test packet. */
struct tpkt {
	uint8_t family;
	uint8_t src[16], dst[16];
	/** Upper-layer protocol. */
	uint8_t proto;
	/** Ports (or ICMP type/code) present in the first segment. */
	bool l4;
	uint16_t sport, dport;
	uint8_t dscp;
	uint16_t vlan;
	/** Ingress interface, MG_CLS_IFACE_NONE for none. */
	uint16_t iface;
	/** Non-first fragment. */
	bool later_frag;
	/** Cut before the ports. */
	bool cut;
	/** IPv6: a hop-by-hop header before the rest. */
	bool hbh;
	/** IPv6: a fragment header. */
	bool frag6;
	/** IPv4: 4 bytes of options. */
	bool opts;
	/** IP length. */
	uint16_t len;
};

static bool
proto_has_ports(uint8_t p)
{
	return p == MG_IPPROTO_TCP || p == MG_IPPROTO_UDP || p == MG_IPPROTO_SCTP;
}

static uint8_t
icmp_of(uint8_t family)
{
	return family == AF_INET ? MG_IPPROTO_ICMP : MG_IPPROTO_ICMPV6;
}

/* Write the packet described by @t into a new mbuf (IP header first, as eth-input leaves it). */
static struct rte_mbuf *
tpkt_mbuf(struct tpkt *t)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint8_t *p, *l4;
	uint32_t hlen, l4len = 8 + 12, tot;

	if (m == NULL) {
		MG_FAIL("out of mbufs");
		exit(1);
	}
	p = rte_pktmbuf_mtod(m, uint8_t *);
	memset(p, 0, 256);
	if (t->family == AF_INET) {
		hlen = t->opts ? 24 : 20;
		tot = hlen + l4len;
		p[0] = (uint8_t)(0x40 | hlen / 4);
		p[1] = (uint8_t)(t->dscp << 2 | 1); /* ECN bits kept by marks */
		p[2] = (uint8_t)(tot >> 8);
		p[3] = (uint8_t)tot;
		if (t->later_frag) {
			p[6] = 0x20; /* MF, offset 185 * 8 */
			p[7] = 185;
		}
		p[8] = 64;
		p[9] = t->proto;
		memcpy(p + 12, t->src, 4);
		memcpy(p + 16, t->dst, 4);
		if (t->opts)
			p[20] = 1, p[21] = 1, p[22] = 1, p[23] = 0; /* NOP NOP NOP EOL */
		((struct rte_ipv4_hdr *)p)->hdr_checksum = rte_ipv4_cksum((struct rte_ipv4_hdr *)p);
	} else {
		uint32_t vtc = 6u << 28 | (uint32_t)t->dscp << 22 | 1u << 20 | 0x12345;
		uint8_t *nh = p + 6;

		hlen = 40;
		vtc = htonl(vtc);
		memcpy(p, &vtc, 4);
		p[7] = 64;
		memcpy(p + 8, t->src, 16);
		memcpy(p + 24, t->dst, 16);
		if (t->hbh) {
			*nh = MG_IPPROTO_HOPOPTS;
			nh = p + hlen;
			p[hlen + 2] = 1; /* PadN of 4 bytes */
			p[hlen + 3] = 4;
			hlen += 8;
		}
		if (t->frag6) {
			*nh = MG_IPPROTO_FRAGMENT;
			nh = p + hlen;
			if (t->later_frag)
				p[hlen + 2] = 0x10; /* offset 128 * 8 */
			p[hlen + 3] = 1;            /* M */
			hlen += 8;
		}
		*nh = t->proto;
		tot = hlen + l4len;
		p[4] = (uint8_t)((tot - 40) >> 8);
		p[5] = (uint8_t)(tot - 40);
	}
	l4 = p + hlen;
	if (proto_has_ports(t->proto)) {
		l4[0] = (uint8_t)(t->sport >> 8), l4[1] = (uint8_t)t->sport;
		l4[2] = (uint8_t)(t->dport >> 8), l4[3] = (uint8_t)t->dport;
	} else {
		l4[0] = (uint8_t)t->sport, l4[1] = (uint8_t)t->dport;
		l4[2] = 0xee, l4[3] = 0xee;
	}
	t->len = (uint16_t)tot;
	m->data_len = (uint16_t)(t->cut ? hlen + 1 : tot);
	m->pkt_len = tot;
	return m;
}

/* A random address near one of four bases, so that prefixes and packets meet. */
static void
rand_addr(uint8_t family, uint8_t *a)
{
	const unsigned int n = family == AF_INET ? 4 : 16;
	unsigned int base = (unsigned int)(rte_rand() % 4);

	for (unsigned int i = 0; i < n; i++)
		a[i] = (uint8_t)rte_rand();
	if (family == AF_INET) {
		a[0] = 10;
		a[1] = (uint8_t)base;
		if (rte_rand() % 2)
			a[2] &= 3;
	} else {
		a[0] = 0x20, a[1] = 0x01, a[2] = 0x0d, a[3] = 0xb8;
		a[4] = 0, a[5] = (uint8_t)base;
		if (rte_rand() % 2)
			memset(a + 6, 0, 8), a[14] &= 3;
	}
}

static uint16_t
rand_port(void)
{
	if (rte_rand() % 6 == 0)
		return 0; /* often enough that 0/0 pairs and ranges from 0 meet */
	return (uint16_t)(rte_rand() % 3 ? rte_rand() % 64 : rte_rand() % 65536);
}

static void
rand_tpkt(uint8_t family, struct tpkt *t)
{
	static const uint8_t protos[] = {MG_IPPROTO_TCP, MG_IPPROTO_TCP, MG_IPPROTO_UDP,
					 MG_IPPROTO_UDP, MG_IPPROTO_SCTP, 0 /* ICMP */,
					 MG_IPPROTO_GRE, MG_IPPROTO_ESP};
	uint8_t pr = protos[rte_rand() % RTE_DIM(protos)];

	memset(t, 0, sizeof(*t));
	t->family = family;
	rand_addr(family, t->src);
	rand_addr(family, t->dst);
	t->proto = pr ? pr : icmp_of(family);
	t->sport = rand_port();
	t->dport = rand_port();
	if (t->proto == icmp_of(family))
		t->sport %= 8, t->dport %= 4;
	t->dscp = (uint8_t)(rte_rand() % 4 ? 0 : rte_rand() % 64);
	t->vlan = (uint16_t)(rte_rand() % 3 ? 0 : rte_rand() % 4);
	t->iface = (uint16_t)(rte_rand() % 5 == 0 ? MG_CLS_IFACE_NONE : rte_rand() % 4);
	t->later_frag = rte_rand() % 10 == 0;
	t->cut = rte_rand() % 20 == 0;
	t->opts = family == AF_INET && rte_rand() % 8 == 0;
	t->hbh = family == AF_INET6 && rte_rand() % 6 == 0;
	t->frag6 = family == AF_INET6 && (t->later_frag || rte_rand() % 10 == 0);
	t->l4 = !t->later_frag && !t->cut &&
		(proto_has_ports(t->proto) || t->proto == icmp_of(family));
}

/* ---- rules and the naive matcher ---------------------------------------------------------- */

static void
rand_prefix(uint8_t family, struct mg_prefix *p)
{
	const unsigned int max = family == AF_INET ? 32 : 128;

	memset(p, 0, sizeof(*p));
	if (rte_rand() % 3 == 0)
		return; /* any */
	p->addr.family = family;
	rand_addr(family, p->addr.bytes);
	p->len = (uint8_t)(rte_rand() % 2 ? 8 + rte_rand() % (max == 32 ? 17 : 57)
					  : rte_rand() % (max + 1));
}

static void
rand_range(struct mg_cls_range *r, uint16_t full)
{
	uint16_t a = (uint16_t)(full == 255 ? rte_rand() % 8 : rand_port());
	uint16_t b = (uint16_t)(a + (rte_rand() % 2 ? 0 : rte_rand() % (full == 255 ? 4 : 40)));

	if (b > full || b < a)
		b = full;
	r->lo = a;
	r->hi = b;
	if (rte_rand() % 10 == 0)
		r->lo = 0, r->hi = full; /* set but wide: any */
}

static void
rand_rule(uint8_t family, uint32_t id, struct mg_cls_rule *r)
{
	static const uint8_t protos[] = {MG_IPPROTO_TCP, MG_IPPROTO_UDP, MG_IPPROTO_SCTP,
					 0 /* ICMP */, MG_IPPROTO_GRE};
	struct mg_cls_match *m = &r->match;

	memset(r, 0, sizeof(*r));
	r->id = id;
	r->priority = (int32_t)(rte_rand() % 20);
	rand_prefix(family, &m->src);
	rand_prefix(family, &m->dst);
	if (rte_rand() % 5 < 3) {
		uint8_t p = protos[rte_rand() % RTE_DIM(protos)];

		m->fields |= MG_CLS_M_PROTO;
		m->proto = p ? p : icmp_of(family);
	}
	if (!(m->fields & MG_CLS_M_PROTO) || proto_has_ports(m->proto) ||
	    m->proto == icmp_of(family)) {
		uint16_t full = (m->fields & MG_CLS_M_PROTO) && m->proto == icmp_of(family) ? 255
											 : 65535;

		if (rte_rand() % 2) {
			m->fields |= MG_CLS_M_SPORT;
			rand_range(&m->sport, full);
		}
		if (rte_rand() % 2) {
			m->fields |= MG_CLS_M_DPORT;
			rand_range(&m->dport, full);
		}
	}
	if (rte_rand() % 10 == 0)
		m->fields |= MG_CLS_M_VLAN, m->vlan = (uint16_t)(rte_rand() % 4);
	if (rte_rand() % 10 == 0)
		m->fields |= MG_CLS_M_DSCP, m->dscp = (uint8_t)(rte_rand() % 64);
	if (rte_rand() % 10 == 0)
		m->fields |= MG_CLS_M_IFACE, m->iface = (uint16_t)(rte_rand() % 4);
	switch (rte_rand() % 5) {
	case 0: r->action.type = MG_CLS_DENY; break;
	case 1: r->action.type = MG_CLS_COUNT; break;
	case 2: r->action.type = MG_CLS_SERVICE, r->action.id = id * 7; break;
	case 3: r->action.type = MG_CLS_TUNNEL, r->action.id = id * 3; break;
	default: r->action.type = MG_CLS_PERMIT; break;
	}
}

/* Does prefix @p (length 0: any) hold address @a? */
static bool
naive_prefix(const struct mg_prefix *p, const uint8_t *a)
{
	for (unsigned int bit = 0; bit < p->len; bit++) {
		uint8_t mask = (uint8_t)(0x80 >> (bit % 8));

		if ((p->addr.bytes[bit / 8] & mask) != (a[bit / 8] & mask))
			return false;
	}
	return true;
}

static bool
naive_narrow(uint32_t fields, uint32_t bit, const struct mg_cls_range *r, uint16_t full)
{
	return (fields & bit) && (r->lo != 0 || r->hi < full);
}

/* The header's contract for one rule and one packet, written out plainly. */
static bool
naive_match(const struct mg_cls_rule *r, const struct tpkt *t)
{
	const struct mg_cls_match *m = &r->match;
	const uint8_t icmp = icmp_of(t->family);
	const bool icmp_rule = (m->fields & MG_CLS_M_PROTO) && m->proto == icmp;
	const uint16_t full = icmp_rule ? 255 : 65535;
	const bool ns = naive_narrow(m->fields, MG_CLS_M_SPORT, &m->sport, full);
	const bool nd = naive_narrow(m->fields, MG_CLS_M_DPORT, &m->dport, full);

	if (!naive_prefix(&m->src, t->src) || !naive_prefix(&m->dst, t->dst))
		return false;
	if ((m->fields & MG_CLS_M_PROTO) && m->proto != t->proto)
		return false;
	if ((m->fields & MG_CLS_M_VLAN) && m->vlan != t->vlan)
		return false;
	if ((m->fields & MG_CLS_M_DSCP) && m->dscp != t->dscp)
		return false;
	if ((m->fields & MG_CLS_M_IFACE) && m->iface != t->iface)
		return false;
	if (ns || nd) {
		/*
		 * Ranges need the L4 header; without a protocol they mean TCP, UDP,
		 * SCTP. Ports 0/0 (reserved) count as not seen: the header says so.
		 */
		if (!t->l4 || (proto_has_ports(t->proto) && t->sport == 0 && t->dport == 0))
			return false;
		if (!icmp_rule && !proto_has_ports(t->proto))
			return false;
		if (ns && (t->sport < m->sport.lo || t->sport > m->sport.hi))
			return false;
		if (nd && (t->dport < m->dport.lo || t->dport > m->dport.hi))
			return false;
	}
	return true;
}

/* First match by (priority, position): the winner's position, or -1 for the default. */
static int
naive_classify(const struct mg_cls_rule *rules, uint32_t n, const struct tpkt *t)
{
	int best = -1;

	for (uint32_t i = 0; i < n; i++)
		if ((best < 0 || rules[i].priority < rules[best].priority) &&
		    naive_match(&rules[i], t))
			best = (int)i;
	return best;
}

static const struct mg_cls_conf conf4 = {.family = AF_INET, .nb_workers = 2,
					 .socket_id = SOCKET_ID_ANY};
static const struct mg_cls_conf conf6 = {.family = AF_INET6, .nb_workers = 2,
					 .socket_id = SOCKET_ID_ANY};

/* ---- random rule sets against the naive matcher -------------------------------------------- */

#define NRULES 400
#define NPKTS 3000

static void
random_vs_naive(uint8_t family, enum rte_acl_classify_alg alg)
{
	static struct mg_cls_rule rules[NRULES];
	static struct tpkt tp[NPKTS];
	static uint64_t exp_pkts[NRULES + 1], exp_bytes[NRULES + 1];
	struct mg_cls_conf c = family == AF_INET ? conf4 : conf6;
	const struct mg_cls_action def = {.type = MG_CLS_DENY};
	unsigned int wrong = 0, hits = 0;

	c.alg = alg;
	for (int round = 0; round < 3; round++) {
		struct mg_cls_table *t;
		struct mg_error e;
		uint32_t n = round == 0 ? 1 + (uint32_t)(rte_rand() % 20) : NRULES;

		for (uint32_t i = 0; i < n; i++)
			rand_rule(family, 1000 + i, &rules[i]);
		t = mg_cls_table_build(&c, rules, n, &def, &e);
		if (t == NULL) {
			MG_FAIL("build: %s: %s", e.field, e.msg);
			return;
		}
		memset(exp_pkts, 0, sizeof(exp_pkts));
		memset(exp_bytes, 0, sizeof(exp_bytes));
		for (uint32_t base = 0; base < NPKTS;) {
			struct rte_mbuf *m[200];
			uint16_t ifc[200], vl[200];
			struct mg_cls_result res[200];
			uint32_t k = 1 + (uint32_t)(rte_rand() % 200);

			if (k > NPKTS - base)
				k = NPKTS - base;
			for (uint32_t i = 0; i < k; i++) {
				rand_tpkt(family, &tp[base + i]);
				m[i] = tpkt_mbuf(&tp[base + i]);
				ifc[i] = tp[base + i].iface;
				vl[i] = tp[base + i].vlan;
			}
			mg_cls_classify_burst(t, (unsigned int)(base % 2), m, ifc, vl, k, res);
			for (uint32_t i = 0; i < k; i++) {
				int w = naive_classify(rules, n, &tp[base + i]);
				uint32_t id = w < 0 ? MG_CLS_ID_DEFAULT : rules[w].id;
				uint8_t act = w < 0 ? MG_CLS_DENY : rules[w].action.type;

				exp_pkts[w + 1]++;
				exp_bytes[w + 1] += tp[base + i].len;
				hits += w >= 0;
				if (res[i].rule_id != id || res[i].action != act) {
					if (wrong++ < 5)
						MG_FAIL("round %d pkt %u (proto %u sport %u dport %u l4 %d): "
							"rule %u, expected %u",
							round, base + i, tp[base + i].proto,
							tp[base + i].sport, tp[base + i].dport,
							tp[base + i].l4, res[i].rule_id, id);
				}
				if (w >= 0 && (act == MG_CLS_SERVICE || act == MG_CLS_TUNNEL))
					CHECK_EQ(res[i].id, rules[w].action.id);
				CHECK_EQ(res[i].verdict, act == MG_CLS_DENY ? MG_CLS_DROP_DENY
									    : MG_CLS_PASS);
				rte_pktmbuf_free(m[i]);
			}
			base += k;
		}
		for (uint32_t i = 0; i <= n; i++) {
			struct mg_cls_counters cn;
			uint32_t id = i ? rules[i - 1].id : MG_CLS_ID_DEFAULT;

			CHECK_EQ(mg_cls_rule_counters(t, id, &cn), 0);
			CHECK_EQ(cn.pkts, exp_pkts[i]);
			CHECK_EQ(cn.bytes, exp_bytes[i]);
		}
		mg_cls_table_free(t);
	}
	CHECK_EQ(wrong, 0);
	/* The generator must exercise the rules, not only the default. */
	CHECK(hits > NPKTS);
}

/*
 * The workers' result caches (cls_data.c): flows that come back are answered
 * from the cache, and must get what rte_acl (and the naive matcher) gives,
 * also after evictions (more flows than entries) and in a rebuilt table.
 * Phases: a few flows (they fit: hits but for first sights), many more
 * flows than entries in turn (a scan: evictions, most lookups miss), the
 * few flows again (back after their first sights), then once more (all
 * hits).
 */
static void
cache_vs_naive(uint8_t family)
{
	enum { NFLOWS = 50000, FEW = 100 };
	static const uint32_t phase_flows[] = {FEW, NFLOWS, FEW, FEW};
	static const uint32_t phase_pkts[] = {4096, 100000, 4096, 4096};
	static struct mg_cls_rule rules[NRULES];
	static struct tpkt tp[NFLOWS];
	static uint32_t exp_id[NFLOWS];
	static int exp_w[NFLOWS];
	static uint64_t exp_pkts[NRULES + 1];
	/* Flows with ports: distinct keys (ICMP, GRE, ESP and later fragments
	 * of the same address pair share theirs), for phase 1's scan. */
	static uint32_t ported[NFLOWS];
	uint32_t nported = 0;
	struct mg_cls_conf c = family == AF_INET ? conf4 : conf6;
	const struct mg_cls_action def = {.type = MG_CLS_DENY};
	struct mg_cls_info info, prev;
	unsigned int wrong = 0;

	for (uint32_t i = 0; i < NRULES; i++)
		rand_rule(family, 1000 + i, &rules[i]);
	/* Flows share 20 address pairs: only the rest of the key tells many apart. */
	for (uint32_t i = 0; i < NFLOWS; i++) {
		rand_tpkt(family, &tp[i]);
		memcpy(tp[i].src, tp[i % 20].src, 16);
		memcpy(tp[i].dst, tp[i % 20].dst, 16);
		exp_w[i] = naive_classify(rules, NRULES, &tp[i]);
		exp_id[i] = exp_w[i] < 0 ? MG_CLS_ID_DEFAULT : rules[exp_w[i]].id;
		if (tp[i].l4 && proto_has_ports(tp[i].proto))
			ported[nported++] = i;
	}
	CHECK(nported > NFLOWS / 3);
	for (int build = 0; build < 2; build++) {
		struct mg_error e;
		struct mg_cls_table *t = mg_cls_table_build(&c, rules, NRULES, &def, &e);

		if (t == NULL) {
			MG_FAIL("build: %s: %s", e.field, e.msg);
			return;
		}
		mg_cls_table_info(t, &info);
		CHECK_EQ(info.cache_hits, 0); /* a new table starts cold */
		memset(exp_pkts, 0, sizeof(exp_pkts));
		for (unsigned int ph = 0; ph < RTE_DIM(phase_pkts); ph++) {
			const uint32_t nf = phase_flows[ph];

			prev = info;
			for (uint32_t done = 0; done < phase_pkts[ph];) {
				struct rte_mbuf *m[64];
				uint16_t ifc[64], vl[64];
				struct mg_cls_result res[64];
				uint32_t f[64], k = 1 + (uint32_t)(rte_rand() % 64);

				if (k > phase_pkts[ph] - done)
					k = phase_pkts[ph] - done;
				for (uint32_t i = 0; i < k; i++) {
					/* Random flows (phase 1: in turn), and now and then
					 * the same twice in a burst. */
					if (i > 0 && rte_rand() % 8 == 0)
						f[i] = f[i - 1];
					else if (ph == 1)
						f[i] = ported[(done + i) % nported];
					else
						f[i] = (uint32_t)(rte_rand() % nf);
					m[i] = tpkt_mbuf(&tp[f[i]]);
					ifc[i] = tp[f[i]].iface;
					vl[i] = tp[f[i]].vlan;
				}
				mg_cls_classify_burst(t, 1, m, ifc, vl, k, res);
				for (uint32_t i = 0; i < k; i++) {
					exp_pkts[exp_w[f[i]] + 1]++;
					if (res[i].rule_id != exp_id[f[i]] && wrong++ < 5)
						MG_FAIL("build %d phase %u flow %u: rule %u, expected %u",
							build, ph, f[i], res[i].rule_id, exp_id[f[i]]);
					rte_pktmbuf_free(m[i]);
				}
				done += k;
			}
			mg_cls_table_info(t, &info);
			const uint64_t hits = info.cache_hits - prev.cache_hits;

			if (ph == 1) /* a scan of more flows than entries: mostly misses */
				CHECK(hits < phase_pkts[ph] / 4);
			else if (ph == 3) /* the few flows, all cached */
				CHECK_EQ(hits, phase_pkts[ph]);
			else /* the few flows: hits but for first sights (twice in a chunk: twice) */
				CHECK(hits >= phase_pkts[ph] * 9 / 10);
		}
		for (uint32_t i = 0; i <= NRULES; i++) {
			struct mg_cls_counters cn;

			CHECK_EQ(mg_cls_rule_counters(t, i ? rules[i - 1].id : MG_CLS_ID_DEFAULT, &cn),
				 0);
			CHECK_EQ(cn.pkts, exp_pkts[i]);
		}
		mg_cls_table_free(t);
	}
	CHECK_EQ(wrong, 0);
}

MG_TEST(result_cache_ipv4_vs_naive)
{
	cache_vs_naive(AF_INET);
}

MG_TEST(result_cache_ipv6_vs_naive)
{
	cache_vs_naive(AF_INET6);
}

MG_TEST(random_ipv4_vs_naive)
{
	random_vs_naive(AF_INET, RTE_ACL_CLASSIFY_DEFAULT);
}

MG_TEST(random_ipv6_vs_naive)
{
	random_vs_naive(AF_INET6, RTE_ACL_CLASSIFY_DEFAULT);
}

MG_TEST(random_scalar_vs_naive)
{
	random_vs_naive(AF_INET, RTE_ACL_CLASSIFY_SCALAR);
	random_vs_naive(AF_INET6, RTE_ACL_CLASSIFY_SCALAR);
}

/* ---- named behaviours --------------------------------------------------------------------- */

/* Classify one described packet with @t in slot 0. */
static struct mg_cls_result
classify1(const struct mg_cls_table *t, struct tpkt *tp)
{
	struct rte_mbuf *m = tpkt_mbuf(tp);
	struct mg_cls_result r;

	mg_cls_classify_burst(t, 0, &m, &tp->iface, &tp->vlan, 1, &r);
	rte_pktmbuf_free(m);
	return r;
}

static struct tpkt
pkt4(const char *src, const char *dst, uint8_t proto, uint16_t sport, uint16_t dport)
{
	struct tpkt t = {.family = AF_INET, .proto = proto, .sport = sport, .dport = dport,
			 .iface = MG_CLS_IFACE_NONE, .l4 = true};

	inet_pton(AF_INET, src, t.src);
	inet_pton(AF_INET, dst, t.dst);
	return t;
}

static struct tpkt
pkt6(const char *src, const char *dst, uint8_t proto, uint16_t sport, uint16_t dport)
{
	struct tpkt t = {.family = AF_INET6, .proto = proto, .sport = sport, .dport = dport,
			 .iface = MG_CLS_IFACE_NONE, .l4 = true};

	inet_pton(AF_INET6, src, t.src);
	inet_pton(AF_INET6, dst, t.dst);
	return t;
}

static struct mg_prefix
pfx(const char *s)
{
	struct mg_prefix p;

	if (mg_prefix_parse(s, &p) != 0)
		MG_FAIL("bad prefix %s", s);
	return p;
}

static struct mg_cls_table *
build(const struct mg_cls_conf *c, const struct mg_cls_rule *r, uint32_t n,
      const struct mg_cls_action *def)
{
	struct mg_error e;
	struct mg_cls_table *t = mg_cls_table_build(c, r, n, def, &e);

	if (t == NULL) {
		MG_FAIL("build: %s: %s", e.field, e.msg);
		exit(1);
	}
	return t;
}

MG_TEST(priorities_and_ties)
{
	/* Array order 0..3; evaluation order: prio 1 (id 3, then id 4), prio 5 (id 1), prio 9 (id 2). */
	struct mg_cls_rule r[] = {
		{.id = 1, .priority = 5, .match = {.dst = pfx("10.0.0.0/8")}},
		{.id = 2, .priority = 9, .match = {.dst = pfx("0.0.0.0/0")}},
		{.id = 3, .priority = 1, .match = {.dst = pfx("10.1.0.0/16")},
		 .action = {.type = MG_CLS_DENY}},
		{.id = 4, .priority = 1, .match = {.dst = pfx("10.1.2.0/24")}},
	};
	struct mg_cls_table *t = build(&conf4, r, RTE_DIM(r), NULL);
	struct tpkt a = pkt4("1.1.1.1", "10.1.2.3", MG_IPPROTO_UDP, 1, 2);
	struct tpkt b = pkt4("1.1.1.1", "10.2.2.3", MG_IPPROTO_UDP, 1, 2);
	struct tpkt c = pkt4("1.1.1.1", "11.0.0.1", MG_IPPROTO_UDP, 1, 2);
	struct mg_cls_result x;
	uint32_t id;

	x = classify1(t, &a);
	CHECK_EQ(x.rule_id, 3); /* tie with id 4: the earlier one in the array */
	CHECK_EQ(x.verdict, MG_CLS_DROP_DENY);
	CHECK_EQ(classify1(t, &b).rule_id, 1);
	CHECK_EQ(classify1(t, &c).rule_id, 2);
	/* Counter entries follow evaluation order after the default. */
	CHECK_EQ(mg_cls_table_size(t), 5);
	CHECK_EQ(mg_cls_counters_at(t, 0, &id, NULL), 0);
	CHECK_EQ(id, MG_CLS_ID_DEFAULT);
	CHECK_EQ(mg_cls_counters_at(t, 1, &id, NULL), 0);
	CHECK_EQ(id, 3);
	CHECK_EQ(mg_cls_counters_at(t, 2, &id, NULL), 0);
	CHECK_EQ(id, 4);
	CHECK_EQ(mg_cls_counters_at(t, 4, &id, NULL), 0);
	CHECK_EQ(id, 2);
	CHECK_EQ(mg_cls_counters_at(t, 5, &id, NULL), -ENOENT);
	mg_cls_table_free(t);
}

MG_TEST(ports_proto_any_and_fragments)
{
	struct mg_cls_rule r[] = {
		/* No protocol, destination ports 80..89: TCP, UDP and SCTP only. */
		{.id = 1, .match = {.fields = MG_CLS_M_DPORT, .dport = {80, 89}}},
		/* ICMP type 8 (echo): type range in place of the ports. */
		{.id = 2, .match = {.fields = MG_CLS_M_PROTO | MG_CLS_M_ICMP_TYPE,
				    .proto = MG_IPPROTO_ICMP, .icmp_type = {8, 8}}},
		/* Protocol only: GRE. */
		{.id = 3, .match = {.fields = MG_CLS_M_PROTO, .proto = MG_IPPROTO_GRE}},
		/* UDP source ports 1000..1999 from 192.0.2.0/24. */
		{.id = 4, .match = {.fields = MG_CLS_M_PROTO | MG_CLS_M_SPORT, .proto = MG_IPPROTO_UDP,
				    .src = pfx("192.0.2.0/24"), .sport = {1000, 1999}}},
		/* UDP from 192.0.2.0/24, any port: also fragments. */
		{.id = 5, .match = {.fields = MG_CLS_M_PROTO, .proto = MG_IPPROTO_UDP,
				    .src = pfx("192.0.2.0/24")}},
	};
	struct mg_cls_table *t = build(&conf4, r, RTE_DIM(r), NULL);
	struct tpkt p;

	p = pkt4("1.1.1.1", "2.2.2.2", MG_IPPROTO_TCP, 5, 80);
	CHECK_EQ(classify1(t, &p).rule_id, 1);
	p = pkt4("1.1.1.1", "2.2.2.2", MG_IPPROTO_SCTP, 5, 89);
	CHECK_EQ(classify1(t, &p).rule_id, 1);
	p = pkt4("1.1.1.1", "2.2.2.2", MG_IPPROTO_UDP, 5, 90);
	CHECK_EQ(classify1(t, &p).rule_id, MG_CLS_ID_DEFAULT);
	/* ICMP type 0, code 80 must not look like port 80. */
	p = pkt4("1.1.1.1", "2.2.2.2", MG_IPPROTO_ICMP, 0, 80);
	CHECK_EQ(classify1(t, &p).rule_id, MG_CLS_ID_DEFAULT);
	p = pkt4("1.1.1.1", "2.2.2.2", MG_IPPROTO_ICMP, 8, 0);
	CHECK_EQ(classify1(t, &p).rule_id, 2);
	p = pkt4("1.1.1.1", "2.2.2.2", MG_IPPROTO_GRE, 0, 80);
	CHECK_EQ(classify1(t, &p).rule_id, 3);
	p = pkt4("192.0.2.9", "2.2.2.2", MG_IPPROTO_UDP, 1500, 53);
	CHECK_EQ(classify1(t, &p).rule_id, 4);
	/* A later fragment of the same flow has no ports: the portless rule. */
	p.later_frag = true;
	CHECK_EQ(classify1(t, &p).rule_id, 5);
	p = pkt4("192.0.2.9", "2.2.2.2", MG_IPPROTO_UDP, 1500, 85);
	p.later_frag = true;
	CHECK_EQ(classify1(t, &p).rule_id, 5);
	p = pkt4("192.0.2.9", "2.2.2.2", MG_IPPROTO_UDP, 1500, 53);
	p.cut = true;
	CHECK_EQ(classify1(t, &p).rule_id, 5);
	mg_cls_table_free(t);
}

MG_TEST(ranges_from_zero_and_icmp_type_zero_without_l4)
{
	struct mg_cls_rule r[] = {
		/* Ranges from 0: split so that the no-ports key 0/0 stays out. */
		{.id = 1, .match = {.fields = MG_CLS_M_PROTO | MG_CLS_M_SPORT | MG_CLS_M_DPORT,
				    .proto = MG_IPPROTO_TCP, .sport = {0, 10}, .dport = {0, 10}}},
		/* Echo reply: type 0, which a fragment's key must not look like. */
		{.id = 2, .match = {.fields = MG_CLS_M_PROTO | MG_CLS_M_ICMP_TYPE,
				    .proto = MG_IPPROTO_ICMP, .icmp_type = {0, 0}}},
		{.id = 3, .match = {.fields = MG_CLS_M_PROTO, .proto = MG_IPPROTO_ICMP}},
		{.id = 4, .match = {.fields = MG_CLS_M_PROTO, .proto = MG_IPPROTO_TCP}},
	};
	struct mg_cls_table *t = build(&conf4, r, RTE_DIM(r), NULL);
	struct mg_cls_info info;
	struct tpkt p;

	mg_cls_table_info(t, &info);
	CHECK_EQ(info.acl_rules, 5); /* rule 1 became two */
	p = pkt4("1.1.1.1", "2.2.2.2", MG_IPPROTO_TCP, 0, 7);
	CHECK_EQ(classify1(t, &p).rule_id, 1);
	p = pkt4("1.1.1.1", "2.2.2.2", MG_IPPROTO_TCP, 7, 0);
	CHECK_EQ(classify1(t, &p).rule_id, 1);
	p = pkt4("1.1.1.1", "2.2.2.2", MG_IPPROTO_TCP, 0, 0);
	CHECK_EQ(classify1(t, &p).rule_id, 4); /* 0/0: as if no ports */
	p.later_frag = true;
	CHECK_EQ(classify1(t, &p).rule_id, 4);
	p = pkt4("1.1.1.1", "2.2.2.2", MG_IPPROTO_ICMP, 0, 0);
	CHECK_EQ(classify1(t, &p).rule_id, 2);
	p.later_frag = true;
	CHECK_EQ(classify1(t, &p).rule_id, 3);
	p.later_frag = false;
	p.cut = true;
	CHECK_EQ(classify1(t, &p).rule_id, 3);
	mg_cls_table_free(t);
}

MG_TEST(ipv6_prefixes_and_ext_headers)
{
	struct mg_cls_rule r[] = {
		{.id = 1, .match = {.fields = MG_CLS_M_PROTO | MG_CLS_M_DPORT, .proto = MG_IPPROTO_TCP,
				    .dst = pfx("2001:db8:0:1::/64"), .dport = {443, 443}}},
		/* Differs from the next only in the last bits of the source. */
		{.id = 2, .match = {.src = pfx("2001:db8::ff00/120")}},
		{.id = 3, .match = {.src = pfx("2001:db8::/32")}, .action = {.type = MG_CLS_DENY}},
		{.id = 4, .match = {.fields = MG_CLS_M_PROTO | MG_CLS_M_ICMP_TYPE,
				    .proto = MG_IPPROTO_ICMPV6, .icmp_type = {128, 129}}},
	};
	const struct mg_cls_action def = {.type = MG_CLS_DENY};
	struct mg_cls_table *t = build(&conf6, r, RTE_DIM(r), &def);
	struct tpkt p;

	p = pkt6("fd00::1", "2001:db8:0:1::5", MG_IPPROTO_TCP, 999, 443);
	CHECK_EQ(classify1(t, &p).rule_id, 1);
	p.hbh = true; /* behind a hop-by-hop header: still TCP 443 */
	CHECK_EQ(classify1(t, &p).rule_id, 1);
	p.frag6 = true;
	CHECK_EQ(classify1(t, &p).rule_id, 1);
	p.later_frag = true;
	CHECK_EQ(classify1(t, &p).rule_id, MG_CLS_ID_DEFAULT);
	p = pkt6("2001:db8::ff42", "fd00::1", MG_IPPROTO_UDP, 1, 1);
	CHECK_EQ(classify1(t, &p).rule_id, 2);
	p = pkt6("2001:db8::fe42", "fd00::1", MG_IPPROTO_UDP, 1, 1);
	CHECK_EQ(classify1(t, &p).rule_id, 3);
	p = pkt6("fd00::2", "fd00::1", MG_IPPROTO_ICMPV6, 128, 0);
	CHECK_EQ(classify1(t, &p).rule_id, 4);
	p = pkt6("fd00::2", "fd00::1", MG_IPPROTO_ICMPV6, 135, 0);
	CHECK_EQ(classify1(t, &p).rule_id, MG_CLS_ID_DEFAULT);
	CHECK_EQ(classify1(t, &p).verdict, MG_CLS_DROP_DENY);
	mg_cls_table_free(t);
}

MG_TEST(vlan_dscp_iface)
{
	struct mg_cls_rule r[] = {
		{.id = 1, .match = {.fields = MG_CLS_M_VLAN, .vlan = 100}},
		{.id = 2, .match = {.fields = MG_CLS_M_DSCP, .dscp = 46}},
		{.id = 3, .match = {.fields = MG_CLS_M_IFACE, .iface = 2}},
	};
	struct mg_cls_table *t = build(&conf4, r, RTE_DIM(r), NULL);
	struct tpkt p = pkt4("1.1.1.1", "2.2.2.2", MG_IPPROTO_UDP, 1, 1);

	CHECK_EQ(classify1(t, &p).rule_id, MG_CLS_ID_DEFAULT);
	p.iface = 2;
	CHECK_EQ(classify1(t, &p).rule_id, 3);
	p.dscp = 46;
	CHECK_EQ(classify1(t, &p).rule_id, 2);
	p.vlan = 100;
	CHECK_EQ(classify1(t, &p).rule_id, 1);
	mg_cls_table_free(t);
}

static void
sync_nothing(void *arg)
{
	(void)arg;
}

MG_TEST(networks_are_separate)
{
	struct mg_cls_conf c0 = conf4, c1 = conf4;
	struct mg_cls_rule deny10 = {.id = 7, .match = {.dst = pfx("10.0.0.0/8")},
				     .action = {.type = MG_CLS_DENY}};
	struct mg_cls_rule count10 = {.id = 7, .match = {.dst = pfx("10.0.0.0/8")},
				      .action = {.type = MG_CLS_COUNT}};
	struct mg_cls_set *s0, *s1;
	struct tpkt p = pkt4("1.1.1.1", "10.0.0.1", MG_IPPROTO_UDP, 1, 1);
	struct mg_error e;

	c1.net = 1;
	s0 = mg_cls_set_create(&c0, NULL, sync_nothing, NULL, &e);
	s1 = mg_cls_set_create(&c1, NULL, sync_nothing, NULL, &e);
	CHECK(s0 != NULL && s1 != NULL);
	CHECK_EQ(mg_cls_set_replace(s0, &deny10, 1, NULL, &e), 0);
	CHECK_EQ(classify1(mg_cls_set_table(s0), &p).verdict, MG_CLS_DROP_DENY);
	CHECK_EQ(classify1(mg_cls_set_table(s1), &p).rule_id, MG_CLS_ID_DEFAULT);
	CHECK_EQ(mg_cls_set_replace(s1, &count10, 1, NULL, &e), 0);
	CHECK_EQ(classify1(mg_cls_set_table(s0), &p).action, MG_CLS_DENY);
	CHECK_EQ(classify1(mg_cls_set_table(s1), &p).action, MG_CLS_COUNT);
	mg_cls_set_destroy(s0);
	mg_cls_set_destroy(s1);
}

MG_TEST(counters_survive_replacement)
{
	struct mg_cls_rule r[] = {
		{.id = 1, .match = {.dst = pfx("10.0.0.0/8")}},
		{.id = 2, .match = {.dst = pfx("11.0.0.0/8")}},
	};
	struct mg_cls_rule r2[] = {
		{.id = 3, .match = {.dst = pfx("12.0.0.0/8")}},
		{.id = 1, .match = {.dst = pfx("10.0.0.0/8")}, .action = {.type = MG_CLS_COUNT}},
	};
	struct mg_cls_set *s;
	struct mg_cls_counters c;
	struct mg_error e;
	struct tpkt a = pkt4("1.1.1.1", "10.0.0.1", MG_IPPROTO_UDP, 1, 1);
	struct tpkt b = pkt4("1.1.1.1", "11.0.0.1", MG_IPPROTO_UDP, 1, 1);

	s = mg_cls_set_create(&conf4, NULL, sync_nothing, NULL, &e);
	CHECK_EQ(mg_cls_set_replace(s, r, 2, NULL, &e), 0);
	for (int i = 0; i < 3; i++)
		classify1(mg_cls_set_table(s), &a);
	classify1(mg_cls_set_table(s), &b);
	CHECK_EQ(mg_cls_set_replace(s, r2, 2, NULL, &e), 0);
	classify1(mg_cls_set_table(s), &a);
	classify1(mg_cls_set_table(s), &b); /* now the default's */
	CHECK_EQ(mg_cls_rule_counters(mg_cls_set_table(s), 1, &c), 0);
	CHECK_EQ(c.pkts, 4);
	CHECK_EQ(c.bytes, 4 * a.len);
	CHECK_EQ(mg_cls_rule_counters(mg_cls_set_table(s), 2, &c), -ENOENT);
	CHECK_EQ(mg_cls_rule_counters(mg_cls_set_table(s), 3, &c), 0);
	CHECK_EQ(c.pkts, 0);
	CHECK_EQ(mg_cls_rule_counters(mg_cls_set_table(s), MG_CLS_ID_DEFAULT, &c), 0);
	CHECK_EQ(c.pkts, 1);
	/* A refused replacement changes nothing. */
	r2[0].match.dport = (struct mg_cls_range){9, 1};
	r2[0].match.fields = MG_CLS_M_DPORT;
	CHECK(mg_cls_set_replace(s, r2, 2, NULL, &e) < 0);
	CHECK_EQ(mg_cls_rule_counters(mg_cls_set_table(s), 1, &c), 0);
	CHECK_EQ(c.pkts, 4);
	CHECK_EQ(classify1(mg_cls_set_table(s), &a).action, MG_CLS_COUNT);
	mg_cls_set_destroy(s);
}

/* ---- policing ---------------------------------------------------------------------------------- */

/*
 * Send @n packets of 1000 bytes (IP length) described by @t through police
 * table @tb in slot @w at time @tsc; return how many passed.
 */
static unsigned int
police_send(const struct mg_cls_table *tb, unsigned int w, struct tpkt *t, unsigned int n,
	    uint64_t tsc)
{
	unsigned int pass = 0;

	for (unsigned int i = 0; i < n; i++) {
		struct rte_mbuf *m = tpkt_mbuf(t);
		struct mg_cls_result r;

		m->pkt_len = 1000;
		mg_cls_classify_burst(tb, w, &m, NULL, NULL, 1, &r);
		CHECK_EQ(r.action, MG_CLS_POLICE);
		if (i % 2)
			pass += mg_cls_apply_burst(tb, w, &m, &r, 1, tsc) == 0;
		else
			pass += mg_cls_apply(tb, w, m, &r, tsc) == MG_CLS_PASS;
		rte_pktmbuf_free(m);
	}
	return pass;
}

MG_TEST(police_srtcm)
{
	/* 100 kB/s, 10 kB committed burst, 3 kB excess; packets of 1000 bytes. */
	struct mg_cls_rule r = {.id = 9, .match = {.dst = pfx("10.0.0.0/8")},
				.action = {.type = MG_CLS_POLICE, .rate = 100000, .burst = 10000,
					   .excess = 3000}};
	struct mg_cls_conf c = conf4;
	struct mg_cls_table *t;
	struct tpkt p = pkt4("1.1.1.1", "10.0.0.1", MG_IPPROTO_UDP, 1, 1);
	struct mg_cls_counters cn;
	uint64_t tsc, hz = rte_get_tsc_hz();

	c.nb_workers = 1;
	t = build(&c, &r, 1, NULL);
	tsc = rte_rdtsc();
	CHECK_EQ(police_send(t, 0, &p, 20, tsc), 13); /* 10 green, 3 yellow */
	CHECK_EQ(mg_cls_rule_counters(t, 9, &cn), 0);
	CHECK_EQ(cn.green, 10);
	CHECK_EQ(cn.yellow, 3);
	CHECK_EQ(cn.red, 7);
	CHECK_EQ(cn.red_bytes, 7000);
	CHECK_EQ(cn.pkts, 20);
	CHECK_EQ(cn.bytes, 20000);
	/* 50 ms later: 5000 bytes more committed credit, and no more. */
	CHECK_EQ(police_send(t, 0, &p, 10, tsc + hz / 20), 5);
	/* A TSC from before the build counts as no time passed, not as years. */
	CHECK_EQ(police_send(t, 0, &p, 10, 1), 0);
	mg_cls_table_free(t);
}

MG_TEST(police_rebalance_follows_traffic)
{
	/* Two worker slots share 100 kB/s and 40 kB of burst; the traffic comes to slot 0. */
	struct mg_cls_rule r = {.id = 9, .action = {.type = MG_CLS_POLICE, .rate = 100000,
						    .burst = 40000}};
	struct mg_cls_table *t = build(&conf4, &r, 1, NULL);
	struct tpkt p = pkt4("1.1.1.1", "10.0.0.1", MG_IPPROTO_UDP, 1, 1);
	uint64_t hz = rte_get_tsc_hz(), tsc = rte_rdtsc();
	unsigned int n;

	/* An even split first: 20 kB of burst each. */
	CHECK_EQ(police_send(t, 0, &p, 30, tsc), 20);
	/* 100 ms at half the rate: 5 kB. */
	CHECK_EQ(police_send(t, 0, &p, 30, tsc + hz / 10), 5);
	/* Slot 0 asked for everything, slot 1 for nothing: 1/8 floor each, the rest to 0. */
	CHECK_EQ(mg_cls_police_rebalance(t, tsc + hz / 10), 0);
	/* 100 ms at 87.5 kB/s. */
	n = police_send(t, 0, &p, 30, tsc + 2 * hz / 10);
	CHECK(n >= 8 && n <= 9);
	/* Slot 1's bucket shrank to its share of the burst: 12.5% of 40 kB. */
	CHECK_EQ(police_send(t, 1, &p, 30, tsc + 2 * hz / 10), 5);
	mg_cls_table_free(t);
}

MG_TEST(mark_dscp)
{
	struct mg_cls_rule r = {.id = 1, .action = {.type = MG_CLS_MARK, .dscp = 46}};
	struct mg_cls_table *t4 = build(&conf4, &r, 1, NULL), *t6 = build(&conf6, &r, 1, NULL);
	struct tpkt a = pkt4("1.1.1.1", "10.0.0.1", MG_IPPROTO_UDP, 1, 1);
	struct tpkt b = pkt6("fd00::1", "fd00::2", MG_IPPROTO_UDP, 1, 1);
	struct rte_mbuf *m;
	struct mg_cls_result res;
	uint8_t *ip;

	a.dscp = 10;
	m = tpkt_mbuf(&a);
	mg_cls_classify_burst(t4, 0, &m, NULL, NULL, 1, &res);
	CHECK(res.flags & MG_CLS_RF_APPLY);
	CHECK_EQ(mg_cls_apply_burst(t4, 0, &m, &res, 1, rte_rdtsc()), 0);
	ip = rte_pktmbuf_mtod(m, uint8_t *);
	CHECK_EQ(ip[1], 46 << 2 | 1); /* ECN kept */
	{
		struct rte_ipv4_hdr h;

		memcpy(&h, ip, sizeof(h));
		h.hdr_checksum = 0;
		CHECK_EQ(rte_ipv4_cksum(&h), ((struct rte_ipv4_hdr *)ip)->hdr_checksum);
	}
	rte_pktmbuf_free(m);
	b.dscp = 3;
	m = tpkt_mbuf(&b);
	mg_cls_classify_burst(t6, 0, &m, NULL, NULL, 1, &res);
	mg_cls_apply(t6, 0, m, &res, 0);
	ip = rte_pktmbuf_mtod(m, uint8_t *);
	CHECK_EQ((ntohl(*(uint32_t *)ip) >> 20) & 0xff, 46 << 2 | 1);
	CHECK_EQ(ntohl(*(uint32_t *)ip) & 0xfffff, 0x12345); /* flow label kept */
	rte_pktmbuf_free(m);
	mg_cls_table_free(t4);
	mg_cls_table_free(t6);
}

/* ---- replacement under RCU ---------------------------------------------------------------------- */

struct rcu_ctx {
	struct rte_rcu_qsbr *v;
	struct mg_cls_set *set;
	volatile int stop;
	uint64_t a_pkts;
	unsigned int errors;
	uint32_t last_gen;
};

static void
rcu_sync(void *arg)
{
	struct rcu_ctx *c = arg;

	rte_rcu_qsbr_synchronize(c->v, RTE_QSBR_THRID_INVALID);
}

static void *
rcu_reader(void *arg)
{
	struct rcu_ctx *c = arg;
	struct tpkt a = pkt4("1.1.1.1", "10.0.0.1", MG_IPPROTO_UDP, 1, 1);
	struct tpkt b = pkt4("1.1.1.1", "11.0.0.1", MG_IPPROTO_UDP, 1, 1);
	struct rte_mbuf *m[32];
	struct mg_cls_result res[32];

	for (int i = 0; i < 32; i++)
		m[i] = tpkt_mbuf(i % 2 ? &b : &a);
	rte_rcu_qsbr_thread_register(c->v, 0);
	rte_rcu_qsbr_thread_online(c->v, 0);
	while (!c->stop) {
		const struct mg_cls_table *t = mg_cls_set_table(c->set);

		mg_cls_classify_burst(t, 0, m, NULL, NULL, 32, res);
		for (int i = 0; i < 32; i++) {
			if (i % 2 == 0) {
				c->errors += res[i].rule_id != 1;
				continue;
			}
			/* Generation g's rule for 11/8 has id 100 + g; never older than one seen. */
			if (res[i].rule_id < 100 || res[i].rule_id < c->last_gen)
				c->errors++;
			else
				c->last_gen = res[i].rule_id;
		}
		c->a_pkts += 16;
		rte_rcu_qsbr_quiescent(c->v, 0);
	}
	rte_rcu_qsbr_thread_offline(c->v, 0);
	rte_rcu_qsbr_thread_unregister(c->v, 0);
	for (int i = 0; i < 32; i++)
		rte_pktmbuf_free(m[i]);
	return NULL;
}

MG_TEST(replace_under_rcu)
{
	struct rcu_ctx c = {0};
	struct mg_cls_conf cf = conf4;
	struct mg_cls_rule r[2] = {
		{.id = 1, .match = {.dst = pfx("10.0.0.0/8")}, .action = {.type = MG_CLS_COUNT}},
		{.id = 100, .match = {.dst = pfx("11.0.0.0/8")}},
	};
	struct mg_cls_counters cn;
	struct mg_error e;
	pthread_t th;
	size_t sz = rte_rcu_qsbr_get_memsize(1);
	unsigned int gens = 150;

	c.v = rte_zmalloc("test_rcu", sz, RTE_CACHE_LINE_SIZE);
	CHECK_EQ(rte_rcu_qsbr_init(c.v, 1), 0);
	cf.nb_workers = 1;
	cf.rcu = c.v;
	c.set = mg_cls_set_create(&cf, NULL, rcu_sync, &c, &e);
	CHECK_EQ(mg_cls_set_replace(c.set, r, 2, NULL, &e), 0);
	CHECK_EQ(pthread_create(&th, NULL, rcu_reader, &c), 0);
	for (unsigned int g = 1; g <= gens; g++) {
		r[1].id = 100 + g;
		r[1].priority = (int32_t)g;
		CHECK_EQ(mg_cls_set_replace(c.set, r, 2, NULL, &e), 0);
	}
	/* Let the reader see the last generation, then stop it. */
	for (int i = 0; i < 1000 && __atomic_load_n(&c.last_gen, __ATOMIC_RELAXED) != 100 + gens;
	     i++)
		usleep(1000);
	c.stop = 1;
	pthread_join(th, NULL);
	CHECK_EQ(c.errors, 0);
	CHECK_EQ(c.last_gen, 100 + gens);
	/* Nothing the reader classified was lost across 150 replacements. */
	CHECK_EQ(mg_cls_rule_counters(mg_cls_set_table_main(c.set), 1, &cn), 0);
	CHECK_EQ(cn.pkts, c.a_pkts);
	CHECK(c.a_pkts > 0);
	mg_cls_set_destroy(c.set);
	rte_free(c.v);
}

/* ---- refusals ------------------------------------------------------------------------------------ */

/* Build must fail with @code and field @field. */
static void
refused(const struct mg_cls_conf *c, const struct mg_cls_rule *r, uint32_t n,
	const struct mg_cls_action *def, int code, const char *field)
{
	struct mg_error e;
	struct mg_cls_table *t = mg_cls_table_build(c, r, n, def, &e);

	CHECK(t == NULL);
	mg_cls_table_free(t);
	CHECK_EQ(e.code, code);
	CHECK_STR(e.field, field);
	CHECK(e.msg[0] != '\0');
}

MG_TEST(bad_rules_name_the_field)
{
	struct mg_cls_rule r[3] = {
		{.id = 1, .match = {.dst = pfx("10.0.0.0/8")}},
		{.id = 2},
		{.id = 3},
	};
	struct mg_cls_action bad = {.type = MG_CLS_POLICE, .rate = 0, .burst = 1};

	r[2].match.fields = MG_CLS_M_DPORT;
	r[2].match.dport = (struct mg_cls_range){100, 10};
	refused(&conf4, r, 3, NULL, EINVAL, "rules[2].match.dport");
	r[2].match.fields = MG_CLS_M_PROTO | MG_CLS_M_SPORT;
	r[2].match.proto = MG_IPPROTO_GRE;
	r[2].match.sport = (struct mg_cls_range){1, 2};
	refused(&conf4, r, 3, NULL, EINVAL, "rules[2].match.proto");
	r[2].match = (struct mg_cls_match){.src = pfx("2001:db8::/32")};
	refused(&conf4, r, 3, NULL, EINVAL, "rules[2].match.src");
	refused(&conf6, r, 3, NULL, EINVAL, "rules[0].match.dst");
	r[2].match = (struct mg_cls_match){.fields = MG_CLS_M_DSCP, .dscp = 64};
	refused(&conf4, r, 3, NULL, EINVAL, "rules[2].match.dscp");
	r[2].match = (struct mg_cls_match){.fields = MG_CLS_M_PROTO | MG_CLS_M_ICMP_CODE,
					   .proto = MG_IPPROTO_ICMP, .icmp_code = {0, 300}};
	refused(&conf4, r, 3, NULL, EINVAL, "rules[2].match.icmp_code");
	r[2].match = (struct mg_cls_match){0};
	r[2].action = (struct mg_cls_action){.type = MG_CLS_MARK, .dscp = 70};
	refused(&conf4, r, 3, NULL, EINVAL, "rules[2].action.dscp");
	r[2].action = bad;
	refused(&conf4, r, 3, NULL, EINVAL, "rules[2].action.rate");
	r[2].action = (struct mg_cls_action){0};
	r[2].id = 1;
	refused(&conf4, r, 3, NULL, EEXIST, "rules[2].id");
	r[2].id = MG_CLS_ID_DEFAULT;
	refused(&conf4, r, 3, NULL, EINVAL, "rules[2].id");
	r[2].id = 3;
	refused(&conf4, r, 3, &bad, EINVAL, "default.action.rate");
	/* All fixed: it builds. */
	mg_cls_table_free(build(&conf4, r, 3, NULL));
}

MG_TEST(table_full)
{
	struct mg_cls_conf c = conf4;
	struct mg_cls_rule *r;
	const uint32_t n = 2000;
	struct mg_error e;
	struct mg_cls_table *t;

	/* More rules than a set may hold: refused before anything is built. */
	refused(&conf4, NULL, MG_CLS_MAX_RULES + 1, NULL, ENOSPC, "rules");
	/* Rules that rte_acl cannot compile in the memory it is given. */
	r = calloc(n, sizeof(*r));
	for (uint32_t i = 0; i < n; i++) {
		r[i].id = i;
		r[i].match.fields = MG_CLS_M_SPORT | MG_CLS_M_DPORT;
		r[i].match.sport = (struct mg_cls_range){(uint16_t)(i * 7), (uint16_t)(i * 7 + 100)};
		r[i].match.dport = (struct mg_cls_range){(uint16_t)(i * 13), (uint16_t)(i * 13 + 3)};
		r[i].match.src.addr.family = AF_INET;
		r[i].match.src.addr.v4 = htonl(0x0a000000u | i << 8);
		r[i].match.src.len = 24;
	}
	c.max_size = 64 << 10;
	t = mg_cls_table_build(&c, r, n, NULL, &e);
	CHECK(t == NULL);
	CHECK_EQ(e.code, ENOSPC);
	mg_cls_table_free(t);
	/* The same rules with room: they build (so the limit was the reason). */
	c.max_size = 0;
	t = mg_cls_table_build(&c, r, n, NULL, &e);
	if (t == NULL)
		MG_FAIL("build with room: %s: %s", e.field, e.msg);
	mg_cls_table_free(t);
	free(r);
}

static int
u64_cmp(const void *x, const void *y)
{
	const uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/*
 * Two keys of one cache set and one tag (found by trying keys against the
 * cache's own hash): the tag only picks a candidate, the whole key decides.
 * B after A must get B's answer, not A's; B then takes A's way (a set never
 * holds a tag twice), so A misses again; in one chunk both stay right.
 */
MG_TEST(result_cache_tag_collision)
{
	enum { NKEYS = 65536 };
	static struct mg_cls_key keys[NKEYS];
	static uint64_t sig[NKEYS];
	struct mg_cls_rule rule = {.id = 7, .match = {.fields = MG_CLS_M_PROTO | MG_CLS_M_DPORT,
						      .proto = MG_IPPROTO_UDP,
						      .dport = {53, 53}},
				   .action = {.type = MG_CLS_PERMIT}};
	struct mg_cls_table *t = build(&conf4, &rule, 1, NULL);
	struct mg_cls_info info;
	struct mg_cls_result res[4];
	struct mg_cls_key ab[4];
	uint64_t x = 88172645463325252ull;
	int a = -1, b = -1;

	if (t == NULL)
		return;
	/* Even keys go to port 53 (rule 7), odd ones elsewhere (the default). */
	for (uint32_t i = 0; i < NKEYS; i++) {
		struct mg_cls_key *k = &keys[i];
		uint32_t h;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memset(k, 0, sizeof(*k));
		k->proto = MG_IPPROTO_UDP;
		k->v4.src = (rte_be32_t)x;
		k->v4.dst = (rte_be32_t)(x >> 32);
		k->v4.sport = htons((uint16_t)(1024 + i % 60000));
		k->v4.dport = htons(i % 2 == 0 ? 53 : (uint16_t)(1024 + (x >> 40) % 60000));
		k->len = 64;
		h = cls_cache_hash(k, CLS_KEY4_LEN);
		sig[i] = (uint64_t)cls_cache_set(h) << 48 | (uint64_t)cls_cache_tag(h) << 32 | i;
	}
	qsort(sig, NKEYS, sizeof(sig[0]), u64_cmp);
	for (uint32_t i = 1; i < NKEYS && a < 0; i++)
		if (sig[i] >> 32 == sig[i - 1] >> 32 && (sig[i] ^ sig[i - 1]) % 2 == 1) {
			a = (int)(sig[i - 1] & 0xffffffff);
			b = (int)(sig[i] & 0xffffffff);
		}
	if (a < 0) {
		MG_FAIL("no two keys of one set and tag among %d", NKEYS);
		mg_cls_table_free(t);
		return;
	}
	const uint32_t want_a = a % 2 == 0 ? 7 : MG_CLS_ID_DEFAULT;
	const uint32_t want_b = b % 2 == 0 ? 7 : MG_CLS_ID_DEFAULT;

	mg_cls_classify(t, 0, &keys[a], 1, res);
	CHECK_EQ(res[0].rule_id, want_a);
	mg_cls_classify(t, 0, &keys[b], 1, res);  /* the tag matches A's entry: compared, a miss */
	CHECK_EQ(res[0].rule_id, want_b);
	mg_cls_table_info(t, &info);
	CHECK_EQ(info.cache_hits, 0);
	mg_cls_classify(t, 0, &keys[b], 1, res);  /* cached now */
	CHECK_EQ(res[0].rule_id, want_b);
	mg_cls_table_info(t, &info);
	CHECK_EQ(info.cache_hits, 1);
	mg_cls_classify(t, 0, &keys[a], 1, res);  /* B took A's way */
	CHECK_EQ(res[0].rule_id, want_a);
	mg_cls_table_info(t, &info);
	CHECK_EQ(info.cache_hits, 1);
	ab[0] = keys[a], ab[1] = keys[b], ab[2] = keys[a], ab[3] = keys[b];
	mg_cls_classify(t, 0, ab, 4, res);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(res[i].rule_id, i % 2 == 0 ? want_a : want_b);
	mg_cls_table_free(t);
}

int
main(int argc, char **argv)
{
	mg_test_setup = setup;
	return mg_test_main(argc, argv);
}
