/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Route tables: the data plane FIB (rte_fib / rte_fib6 behind mg_dp) against
 * a naive longest-prefix match over the same prefixes, through random adds
 * and deletes; forwarding control's RIB arbitration between sources; and
 * lookups of stable routes from a reader thread that must never see a wrong
 * answer while other routes churn (the tbl8 recycle race).
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_random.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "mg_dp.h"
#include "mg_fwd.h"
#include "mg_test.h"
#include "mg_test_eal.h"

static struct mg_dp *dp;

static void
setup(void)
{
	struct mg_dp_conf c = {.max_adjacencies = 30000, .fib_routes = 100000, .fib_tbl8 = 4096,
			       .fib6_tbl8 = 32767,
			       .punt_ring = 64, .inject_ring = 64, .icmp_rate = 1, .icmp_burst = 1,
			       .nb_workers = 1};
	struct mg_error e;

	mg_test_eal_init("test_fib", "0", 512);
	dp = mg_dp_create(&c);
	if (dp != NULL)
		dp->pools[0] = rte_pktmbuf_pool_create("test_pool", 1024, 0, 0, 2176, SOCKET_ID_ANY);
	if (dp == NULL || dp->pools[0] == NULL || mg_dp_net_create(dp, 0, "default", 0, &e) < 0) {
		fprintf(stderr, "cannot create the data plane\n");
		exit(2);
	}
}

/* ---- a naive reference -------------------------------------------------------------- */

struct ref_route {
	struct mg_prefix p;
	uint32_t adj;
};

static struct ref_route ref[4096];
static unsigned int nref;

static uint32_t
ref_lookup(const struct mg_ip *ip)
{
	int best = -1;
	uint32_t adj = MG_ADJ_ID_NOROUTE;

	for (unsigned int i = 0; i < nref; i++)
		if (mg_prefix_contains(&ref[i].p, ip) && (int)ref[i].p.len > best) {
			best = ref[i].p.len;
			adj = ref[i].adj;
		}
	return adj;
}

static int
ref_find(const struct mg_prefix *p)
{
	for (unsigned int i = 0; i < nref; i++)
		if (mg_prefix_equal(&ref[i].p, p))
			return (int)i;
	return -1;
}

static void
random_ip(struct mg_ip *ip, int family, const struct mg_ip *near)
{
	memset(ip, 0, sizeof(*ip));
	ip->family = (uint8_t)family;
	for (int i = 0; i < 16; i++)
		ip->bytes[i] = (uint8_t)rte_rand();
	/* Keep most addresses inside a small space so prefixes nest and collide. */
	if (near != NULL) {
		unsigned int keep = family == AF_INET ? 1 : 4;

		memcpy(ip->bytes, near->bytes, keep);
	}
	if (family == AF_INET)
		ip->v4 &= htonl(0x0affffff) | htonl(0x0a000000);
}

static void
fib_vs_reference(int family)
{
	const int maxlen = family == AF_INET ? 32 : 128;
	struct mg_ip base, ip;
	unsigned int mismatches = 0;

	nref = 0;
	random_ip(&base, family, NULL);
	for (int round = 0; round < 3000; round++) {
		struct mg_prefix p;
		int k;

		random_ip(&p.addr, family, &base);
		p.len = (uint8_t)(8 + rte_rand() % (maxlen - 7));
		mg_prefix_mask(&p);
		k = ref_find(&p);
		if (k >= 0 && rte_rand() % 2) {
			CHECK_EQ(mg_dp_route_del(dp, 0, &p), 0);
			ref[k] = ref[--nref];
		} else if (nref < RTE_DIM(ref)) {
			uint32_t adj = MG_ADJ_ID_FIRST_DYNAMIC + (uint32_t)(rte_rand() % 20000);
			int rc = mg_dp_route_add(dp, 0, &p, adj);

			CHECK_EQ(rc, 0);
			if (rc != 0)
				break;
			if (k >= 0)
				ref[k].adj = adj;
			else
				ref[nref++] = (struct ref_route){p, adj};
		}
		if (round % 500 == 0) {
			for (int q = 0; q < 2000; q++) {
				random_ip(&ip, family, &base);
				if (mg_dp_route_lookup(dp, 0, &ip) != ref_lookup(&ip))
					mismatches++;
			}
		}
	}
	CHECK_EQ(mismatches, 0);
	while (nref > 0)
		CHECK_EQ(mg_dp_route_del(dp, 0, &ref[--nref].p), 0);
	random_ip(&ip, family, &base);
	CHECK_EQ(mg_dp_route_lookup(dp, 0, &ip), MG_ADJ_ID_NOROUTE);
}

MG_TEST(fib4_matches_naive_lpm)
{
	fib_vs_reference(AF_INET);
}

MG_TEST(fib6_matches_naive_lpm)
{
	fib_vs_reference(AF_INET6);
}

/* ---- rebuilds ------------------------------------------------------------------------- */

static bool
ref_next(void *ctx, struct mg_prefix *p, uint32_t *adj)
{
	unsigned int *i = ctx;

	if (*i >= nref)
		return false;
	*p = ref[*i].p;
	*adj = ref[*i].adj;
	(*i)++;
	return true;
}

static unsigned int rebuilds;

/* Add like forwarding control does: on a refusal, rebuild the table and retry. */
static int
add_or_rebuild(const struct mg_prefix *p, uint32_t adj)
{
	int rc = mg_dp_route_add(dp, 0, p, adj);

	if (rc == -ENOSPC) {
		unsigned int it = 0, n;

		if (mg_dp_fib_rebuild(dp, 0, p->addr.family, ref_next, &it, &n) != 0)
			return -EIO;
		rebuilds++;
		rc = mg_dp_route_add(dp, 0, p, adj);
	}
	return rc;
}

/*
 * A host route that comes and goes (a connection's client, say) under its
 * /64: DPDK 22.11's trie reserves eight tbl8 groups each time and gives none
 * back, so after ~4,000 flaps it would refuse every long route. With its
 * count kept right (or, failing that, a rebuild) every add succeeds.
 */
MG_TEST(fib6_flapping_host_route_never_full)
{
	struct mg_prefix net, host;
	struct mg_ip ip;

	rebuilds = 0;
	nref = 0;
	mg_prefix_parse("fd00:77::/64", &net);
	mg_prefix_parse("fd00:77::2/128", &host);
	CHECK_EQ(add_or_rebuild(&net, 500), 0);
	ref[nref++] = (struct ref_route){net, 500};
	for (unsigned int i = 0; i < 12000; i++) {
		int rc = add_or_rebuild(&host, 600);

		CHECK_EQ(rc, 0);
		if (rc != 0)
			break;
		CHECK_EQ(mg_dp_route_del(dp, 0, &host), 0);
	}
	if (dp->nets[0]->trie != NULL)
		CHECK_EQ(rebuilds, 0);
	mg_ip_parse("fd00:77::2", &ip);
	CHECK_EQ(mg_dp_route_lookup(dp, 0, &ip), 500);
	CHECK_EQ(mg_dp_route_del(dp, 0, &net), 0);
	nref = 0;
}

/*
 * IPv4: a route longer than /24 with its parent's next hop (two static
 * routes via one neighbor) takes no tbl8 group, and DPDK 22.11's dir24_8
 * counts no reservation for it, but gives one back when it goes. From 0 the
 * count wraps, and every later long route in a /24 of its own is refused as
 * if the table were full. With the count kept right, the flaps change nothing.
 */
MG_TEST(fib4_same_nexthop_child_never_full)
{
	struct mg_prefix parent, child, other;
	struct mg_ip ip;

	mg_prefix_parse("10.61.0.0/16", &parent);
	mg_prefix_parse("10.61.0.0/25", &child);
	mg_prefix_parse("10.62.0.1/32", &other);
	CHECK_EQ(mg_dp_route_add(dp, 0, &parent, 500), 0);
	for (unsigned int i = 0; i < 3; i++) {
		CHECK_EQ(mg_dp_route_add(dp, 0, &child, 500), 0);
		CHECK_EQ(mg_dp_route_del(dp, 0, &child), 0);
	}
	CHECK_EQ(mg_dp_route_add(dp, 0, &other, 501), 0);
	mg_ip_parse("10.62.0.1", &ip);
	CHECK_EQ(mg_dp_route_lookup(dp, 0, &ip), 501);
	mg_dp_route_del(dp, 0, &other);
	CHECK_EQ(mg_dp_route_del(dp, 0, &parent), 0);
}

/*
 * Children added and deleted at random under a parent whose next hop keeps
 * changing, with the table rebuilt now and then in the middle: it answers
 * like the naive reference throughout, and no add is refused.
 */
MG_TEST(fib6_churn_and_rebuilds_match_naive_lpm)
{
	struct mg_prefix parent, p;
	struct mg_ip ip;
	unsigned int mismatches = 0, forced = 0;
	char s[64];

	nref = 0;
	rebuilds = 0;
	mg_prefix_parse("2001:db8::/32", &parent);
	CHECK_EQ(add_or_rebuild(&parent, 500), 0);
	ref[nref++] = (struct ref_route){parent, 500};
	for (unsigned int round = 0; round < 40000; round++) {
		unsigned int r = (unsigned int)(rte_rand() % 100);

		if (r < 3) {
			uint32_t adj = ref[0].adj == 500 ? 501 : 500;

			CHECK_EQ(add_or_rebuild(&parent, adj), 0);
			ref[0].adj = adj;
		} else if (r < 51 && nref < 1200) {
			int k;

			snprintf(s, sizeof(s), "2001:db8:f%03x:%x00::/56",
				 (unsigned int)(rte_rand() % 64), (unsigned int)(rte_rand() % 256));
			mg_prefix_parse(s, &p);
			/* Not `continue`: the rounds' checkpoints below must all run. */
			if ((k = ref_find(&p)) < 0) {
				CHECK_EQ(add_or_rebuild(&p, 600 + round % 100), 0);
				ref[nref++] = (struct ref_route){p, 600 + round % 100};
			}
		} else if (nref > 1) {
			unsigned int k = 1 + (unsigned int)(rte_rand() % (nref - 1));

			CHECK_EQ(mg_dp_route_del(dp, 0, &ref[k].p), 0);
			ref[k] = ref[--nref];
		}
		if (round % 5000 == 2500) {
			/* Every child goes, the parent stays: then adds start again. */
			while (nref > 1)
				CHECK_EQ(mg_dp_route_del(dp, 0, &ref[--nref].p), 0);
		}
		if (round % 5000 == 4999) {
			unsigned int it = 0, n;

			CHECK_EQ(mg_dp_fib_rebuild(dp, 0, AF_INET6, ref_next, &it, &n), 0);
			CHECK_EQ(n, nref);
			forced++;
		}
		if (round % 2000 == 0)
			for (int q = 0; q < 500; q++) {
				snprintf(s, sizeof(s), "2001:db8:f%03x:%x%02x::1",
					 (unsigned int)(rte_rand() % 64),
					 (unsigned int)(rte_rand() % 256), (unsigned int)(rte_rand() % 256));
				mg_ip_parse(s, &ip);
				if (mg_dp_route_lookup(dp, 0, &ip) != ref_lookup(&ip))
					mismatches++;
			}
	}
	CHECK_EQ(mismatches, 0);
	CHECK(forced == 8);
	/* With the trie's count kept right, no add is ever refused. */
	if (dp->nets[0]->trie != NULL)
		CHECK_EQ(rebuilds, 0);
	printf("# %u rebuilds after refused adds\n", rebuilds);
	while (nref > 0)
		CHECK_EQ(mg_dp_route_del(dp, 0, &ref[--nref].p), 0);
}

/* ---- RIB arbitration ------------------------------------------------------------------ */

static struct mg_fwd *
fwd_with_iface(void)
{
	struct mg_fwd_conf fc = {.max_neighbors = 64, .reachable_ms = 60000, .retrans_ms = 1000,
				 .probes = 3, .hold_packets = 4, .failed_ms = 1000};
	struct mg_fwd *f = mg_fwd_create(dp, &fc);
	struct mg_iface ifc;
	struct mg_prefix a;
	struct mg_error e;

	memset(&ifc, 0, sizeof(ifc));
	ifc.id = 3;
	strcpy(ifc.name, "p0");
	ifc.mtu = 1500;
	mg_mac_parse("02:00:00:00:00:01", &ifc.mac);
	CHECK_EQ(mg_fwd_iface_add(f, &ifc, 0, &e), 0);
	mg_prefix_parse("10.0.0.1/24", &a);
	if (mg_fwd_addr_add(f, 3, &a, &e) != 0)
		CHECK_STR(e.msg, "");
	return f;
}

static uint32_t
lk(const char *s)
{
	struct mg_ip ip;

	mg_ip_parse(s, &ip);
	return mg_dp_route_lookup(dp, 0, &ip);
}

MG_TEST(rib_sources_and_precedence)
{
	struct mg_fwd *f = fwd_with_iface();
	struct mg_route r;
	struct mg_neigh nb;
	struct mg_error e;
	uint32_t glean, nadj;

	/* Local address and connected subnet. */
	CHECK_EQ(lk("10.0.0.1"), MG_ADJ_ID_LOCAL);
	glean = lk("10.0.0.77");
	CHECK(glean >= MG_ADJ_ID_FIRST_DYNAMIC && dp->adj[glean].type == MG_ADJ_GLEAN);
	CHECK_EQ(lk("10.1.0.1"), MG_ADJ_ID_NOROUTE);
	/* A static neighbor gets a host route to its own adjacency. */
	memset(&nb, 0, sizeof(nb));
	nb.iface = 3;
	mg_ip_parse("10.0.0.77", &nb.ip);
	mg_mac_parse("02:00:00:00:00:77", &nb.mac);
	CHECK_EQ(mg_fwd_neigh_add(f, &nb, &e), 0);
	nadj = lk("10.0.0.77");
	CHECK(nadj != glean && dp->adj[nadj].type == MG_ADJ_NEIGHBOR);
	CHECK_EQ(mg_adj_rewrite(&dp->adj[nadj])->state, MG_NS_COMPLETE);
	/* A static route to the same /32 beats the host route ... */
	memset(&r, 0, sizeof(r));
	r.network = 0;
	mg_prefix_parse("10.0.0.77/32", &r.prefix);
	r.action = MG_ROUTE_DROP;
	CHECK_EQ(mg_fwd_route_add(f, &r, &e), 0);
	CHECK_EQ(lk("10.0.0.77"), MG_ADJ_ID_DROP);
	/* ... and when it goes, the host route is back. */
	mg_fwd_route_del(f, &r);
	CHECK_EQ(lk("10.0.0.77"), nadj);
	mg_fwd_neigh_del(f, &nb);
	CHECK_EQ(lk("10.0.0.77"), glean);
	/* Routes via a next hop share its adjacency. */
	memset(&r, 0, sizeof(r));
	mg_prefix_parse("192.0.2.0/24", &r.prefix);
	mg_ip_parse("10.0.0.9", &r.via);
	r.iface = 3;
	CHECK_EQ(mg_fwd_route_add(f, &r, &e), 0);
	nadj = lk("192.0.2.200");
	CHECK(dp->adj[nadj].type == MG_ADJ_NEIGHBOR);
	CHECK_EQ(lk("10.0.0.9"), nadj);
	mg_fwd_route_del(f, &r);
	CHECK_EQ(lk("192.0.2.200"), MG_ADJ_ID_NOROUTE);
	mg_fwd_iface_del(f, 3);
	CHECK_EQ(lk("10.0.0.1"), MG_ADJ_ID_NOROUTE);
	mg_fwd_destroy(f);
}

/* A packet to @dst punted as the lookup punts it on a glean adjacency. */
static void
glean_punt(struct mg_fwd *f, const char *dst)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->pools[0]);
	struct rte_ipv4_hdr *ip;
	struct mg_ip d;

	CHECK(m != NULL);
	if (m == NULL)
		return;
	ip = (struct rte_ipv4_hdr *)rte_pktmbuf_append(m, sizeof(*ip));
	CHECK(ip != NULL);
	if (ip == NULL) {
		rte_pktmbuf_free(m);
		return;
	}
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = 0x45;
	ip->time_to_live = 64;
	ip->total_length = rte_cpu_to_be_16(sizeof(*ip));
	mg_ip_parse(dst, &d);
	ip->dst_addr = d.v4;
	mg_meta(m)->net = 0;
	mg_meta(m)->adj = lk(dst);
	mg_meta(m)->punt = MG_PUNT_GLEAN;
	CHECK(dp->adj[mg_meta(m)->adj].type == MG_ADJ_GLEAN);
	mg_fwd_punt(f, m);
}

/* Free what forwarding control injected (probes, released packets). */
static unsigned int
drain_inject(void)
{
	struct rte_mbuf *m;
	unsigned int n = 0;

	while (rte_ring_dequeue(dp->workers[0]->inject, (void **)&m) == 0) {
		rte_pktmbuf_free(m);
		n++;
	}
	return n;
}

MG_TEST(onlink_route_neighbor_gets_host_route)
{
	struct mg_fwd *f = fwd_with_iface();
	struct mg_route r;
	struct mg_neigh nb;
	struct mg_error e;
	uint32_t glean, nadj;

	/* 100.64.0.0/24 on-link on p0, outside p0's 10.0.0.1/24. */
	memset(&r, 0, sizeof(r));
	mg_prefix_parse("100.64.0.0/24", &r.prefix);
	r.iface = 3;
	CHECK_EQ(mg_fwd_route_add(f, &r, &e), 0);
	glean = lk("100.64.0.7");
	CHECK(dp->adj[glean].type == MG_ADJ_GLEAN);
	/* The first packet creates the neighbor: a host route to its adjacency. */
	glean_punt(f, "100.64.0.7");
	nadj = lk("100.64.0.7");
	CHECK(nadj != glean && dp->adj[nadj].type == MG_ADJ_NEIGHBOR);
	CHECK_EQ(lk("100.64.0.8"), glean);
	/*
	 * Resolved, the held packet is re-injected for lookup: it must now meet
	 * the neighbor's adjacency, not the glean one (it used to loop).
	 */
	memset(&nb, 0, sizeof(nb));
	nb.iface = 3;
	mg_ip_parse("100.64.0.7", &nb.ip);
	mg_mac_parse("02:00:00:00:00:07", &nb.mac);
	CHECK_EQ(mg_fwd_neigh_add(f, &nb, &e), 0);
	CHECK_EQ(mg_adj_rewrite(&dp->adj[lk("100.64.0.7")])->state, MG_NS_COMPLETE);
	CHECK(drain_inject() >= 2);   /* the ARP probe and the released packet */
	mg_fwd_neigh_del(f, &nb);
	/* A dynamic one, then the route goes: so does the host route. */
	glean_punt(f, "100.64.0.9");
	CHECK(dp->adj[lk("100.64.0.9")].type == MG_ADJ_NEIGHBOR);
	mg_fwd_route_del(f, &r);
	CHECK_EQ(lk("100.64.0.9"), MG_ADJ_ID_NOROUTE);
	CHECK_EQ(lk("100.64.0.7"), MG_ADJ_ID_NOROUTE);
	drain_inject();
	mg_fwd_iface_del(f, 3);
	mg_fwd_destroy(f);
	drain_inject();
}

/* ---- lookups during churn ----------------------------------------------------------------- */

static volatile int reader_stop;
static unsigned long reader_wrong, reader_lookups;

static void *
reader(void *arg)
{
	struct mg_ip ip;
	char s[32];

	(void)arg;
	/* As a worker does: walk-level quiescence, FIB-level only inside lookups. */
	rte_rcu_qsbr_thread_register(dp->rcu, 0);
	rte_rcu_qsbr_thread_register(dp->rcu_fib, 0);
	rte_rcu_qsbr_thread_online(dp->rcu, 0);
	while (!reader_stop) {
		mg_dp_fib_enter(dp, 0);
		for (unsigned int i = 0; i < 64; i++) {
			/* 172.16.i.0/24 -> adjacency 1000 + i never changes. */
			snprintf(s, sizeof(s), "172.16.%u.%u", i, (unsigned int)(rte_rand() & 0xff));
			mg_ip_parse(s, &ip);
			if (mg_dp_route_lookup(dp, 0, &ip) != 1000 + i)
				reader_wrong++;
			reader_lookups++;
		}
		mg_dp_fib_leave(dp, 0);
		rte_rcu_qsbr_quiescent(dp->rcu, 0);
	}
	rte_rcu_qsbr_thread_offline(dp->rcu, 0);
	rte_rcu_qsbr_thread_unregister(dp->rcu, 0);
	rte_rcu_qsbr_thread_unregister(dp->rcu_fib, 0);
	return NULL;
}

MG_TEST(stable_routes_survive_churn)
{
	struct mg_prefix p;
	pthread_t t;
	char s[48];

	for (unsigned int i = 0; i < 64; i++) {
		snprintf(s, sizeof(s), "172.16.%u.0/24", i);
		mg_prefix_parse(s, &p);
		CHECK_EQ(mg_dp_route_add(dp, 0, &p, 1000 + i), 0);
	}
	reader_stop = 0;
	reader_lookups = 0;
	pthread_create(&t, NULL, reader, NULL);
	while (__atomic_load_n(&reader_lookups, __ATOMIC_RELAXED) == 0)
		usleep(100);
	/* Churn /25../32s inside the same /24s: tbl8 groups come and go. */
	for (unsigned int round = 0; round < 4000; round++) {
		unsigned int i = (unsigned int)(rte_rand() % 64);

		snprintf(s, sizeof(s), "172.16.%u.%u/%u", i, (unsigned int)(rte_rand() % 256) & 0x80,
			 25u);
		mg_prefix_parse(s, &p);
		mg_prefix_mask(&p);
		mg_dp_route_add(dp, 0, &p, 1000 + i); /* same answer: nothing may change */
		mg_dp_route_del(dp, 0, &p);
		snprintf(s, sizeof(s), "10.200.%u.%u/32", i, round & 0xff);
		mg_prefix_parse(s, &p);
		mg_dp_route_add(dp, 0, &p, 2000);
		mg_dp_route_del(dp, 0, &p);
	}
	reader_stop = 1;
	pthread_join(t, NULL);
	CHECK(reader_lookups > 0);
	CHECK_EQ(reader_wrong, 0);
	for (unsigned int i = 0; i < 64; i++) {
		snprintf(s, sizeof(s), "172.16.%u.0/24", i);
		mg_prefix_parse(s, &p);
		mg_dp_route_del(dp, 0, &p);
	}
}

int
main(int argc, char **argv)
{
	mg_test_setup = setup;
	return mg_test_main(argc, argv);
}
