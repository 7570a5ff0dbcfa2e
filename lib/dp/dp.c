/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Data plane state: creation, RCU publication of interfaces, networks and
 * adjacency rewrites, FIB changes, and the main lcore's inject path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_fib.h>
#include <rte_fib6.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_mbuf_dyn.h>
#include <rte_rcu_qsbr.h>
#include <rte_version.h>

#include "mg_dp.h"
#include "mg_proto.h"

RTE_LOG_REGISTER_SUFFIX(mg_dp_logtype, dp, INFO);
#define DP_LOG(l, ...) rte_log(RTE_LOG_##l, mg_dp_logtype, "dp: " __VA_ARGS__)

int mg_meta_offset = -1;
static struct mg_dp *the_dp;

static const char *const drop_names[] = {
#define MG_DROP_NAME(e, n, d) n,
	MG_DROP_REASONS(MG_DROP_NAME)
#undef MG_DROP_NAME
};
static const char *const drop_descs[] = {
#define MG_DROP_DESC(e, n, d) d,
	MG_DROP_REASONS(MG_DROP_DESC)
#undef MG_DROP_DESC
};

const char *
mg_drop_name(unsigned int reason)
{
	return reason < MG_DROP_MAX ? drop_names[reason] : "unknown";
}

const char *
mg_drop_desc(unsigned int reason)
{
	return reason < MG_DROP_MAX ? drop_descs[reason] : "unknown";
}

int
mg_meta_register(void)
{
	static const struct rte_mbuf_dynfield desc = {
		.name = "meshgate_meta",
		.size = sizeof(struct mg_meta),
		.align = __alignof__(struct mg_meta),
	};

	if (mg_meta_offset >= 0)
		return 0;
	mg_meta_offset = rte_mbuf_dynfield_register(&desc);
	return mg_meta_offset < 0 ? -rte_errno : 0;
}

struct mg_dp *
mg_dp_get(void)
{
	return the_dp;
}

static void
adj_fixed(struct mg_dp *dp, uint32_t id, enum mg_adj_type type)
{
	dp->adj[id].type = (uint8_t)type;
	dp->adj[id].ifindex = MG_IF_NONE;
}

struct mg_dp *
mg_dp_create(const struct mg_dp_conf *conf)
{
	struct mg_dp *dp;
	size_t sz;
	char name[RTE_RING_NAMESIZE];

	if (conf->nb_workers == 0 || conf->nb_workers > MG_MAX_WORKERS ||
	    conf->max_adjacencies < 64) {
		rte_errno = EINVAL;
		return NULL;
	}
	/*
	 * Every packet path (and forwarding control, which builds packets) writes
	 * mg_meta: without the dynfield its offset is -1 and those writes land
	 * before the mbuf (found by the unit tests under ASan/UBSan).
	 */
	if (mg_meta_register() < 0)
		return NULL;
	dp = rte_zmalloc("mg_dp", sizeof(*dp), RTE_CACHE_LINE_SIZE);
	if (dp == NULL)
		goto nomem;
	dp->conf = *conf;
	dp->main_lcore = rte_get_main_lcore();
	dp->main_wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (dp->main_wake_fd < 0)
		goto nomem;
	for (unsigned int i = 0; i < MG_MAX_PORTS; i++)
		dp->port_if[i] = MG_IF_NONE;
	dp->adj = rte_zmalloc("mg_adj", (size_t)conf->max_adjacencies * sizeof(struct mg_adj),
			      RTE_CACHE_LINE_SIZE);
	dp->adj_free = rte_malloc("mg_adj_free", conf->max_adjacencies * sizeof(uint32_t), 0);
	dp->stats = rte_zmalloc("mg_stats", RTE_MAX_LCORE * sizeof(struct mg_lcore_stats),
				RTE_CACHE_LINE_SIZE);
	dp->limbo = rte_malloc("mg_adj_limbo",
			       conf->max_adjacencies * sizeof(struct mg_adj_limbo), 0);
	sz = rte_rcu_qsbr_get_memsize(conf->nb_workers);
	dp->rcu = rte_zmalloc("mg_rcu", sz, RTE_CACHE_LINE_SIZE);
	dp->rcu_fib = rte_zmalloc("mg_rcu_fib", sz, RTE_CACHE_LINE_SIZE);
	if (dp->adj == NULL || dp->adj_free == NULL || dp->stats == NULL || dp->rcu == NULL ||
	    dp->rcu_fib == NULL || dp->limbo == NULL)
		goto nomem;
	if (rte_rcu_qsbr_init(dp->rcu, conf->nb_workers) != 0 ||
	    rte_rcu_qsbr_init(dp->rcu_fib, conf->nb_workers) != 0)
		goto nomem;
	adj_fixed(dp, MG_ADJ_ID_RETRY, MG_ADJ_RETRY);
	adj_fixed(dp, MG_ADJ_ID_NOROUTE, MG_ADJ_NOROUTE);
	adj_fixed(dp, MG_ADJ_ID_DROP, MG_ADJ_DROP);
	adj_fixed(dp, MG_ADJ_ID_UNREACH, MG_ADJ_UNREACH);
	adj_fixed(dp, MG_ADJ_ID_PROHIBIT, MG_ADJ_PROHIBIT);
	adj_fixed(dp, MG_ADJ_ID_LOCAL, MG_ADJ_LOCAL);
	/* Free stack: the lowest ids come out first. */
	for (uint32_t id = conf->max_adjacencies - 1; id >= MG_ADJ_ID_FIRST_DYNAMIC; id--)
		dp->adj_free[dp->adj_nfree++] = id;
	dp->adj_used = MG_ADJ_ID_FIRST_DYNAMIC;
	/* Tokens are kept in TSC cycles: one ICMP error costs icmp_tsc_per_token. */
	dp->icmp_tsc_per_token = conf->icmp_rate ? rte_get_tsc_hz() / conf->icmp_rate : 0;

	dp->nb_workers = conf->nb_workers;
	for (unsigned int w = 0; w < conf->nb_workers; w++) {
		struct mg_worker *wk = rte_zmalloc("mg_worker", sizeof(*wk), RTE_CACHE_LINE_SIZE);

		if (wk == NULL)
			goto nomem;
		dp->workers[w] = wk;
		wk->index = w;
		wk->txq = (uint16_t)w;
		wk->rx_burst = 32;
		wk->icmp_tokens = (uint64_t)conf->icmp_burst * dp->icmp_tsc_per_token;
		wk->icmp_last_tsc = rte_get_tsc_cycles();
		snprintf(name, sizeof(name), "mg_punt_%u", w);
		wk->punt = rte_ring_create(name, conf->punt_ring, SOCKET_ID_ANY,
					   RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "mg_inject_%u", w);
		wk->inject = rte_ring_create(name, conf->inject_ring, SOCKET_ID_ANY,
					     RING_F_SP_ENQ | RING_F_SC_DEQ);
		wk->rxqs = rte_zmalloc("mg_rxqs", sizeof(struct mg_rxq_list), 0);
		wk->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		wk->ifc = rte_zmalloc("mg_ifc", MG_MAX_IFACES * sizeof(*wk->ifc),
				      RTE_CACHE_LINE_SIZE);
		if (wk->ifc == NULL)
			goto nomem;
		if (wk->punt == NULL || wk->inject == NULL || wk->rxqs == NULL || wk->wake_fd < 0)
			goto nomem;
	}
	the_dp = dp;
	return dp;
nomem:
	mg_dp_destroy(dp);
	rte_errno = ENOMEM;
	return NULL;
}

void
mg_dp_destroy(struct mg_dp *dp)
{
	if (dp == NULL)
		return;
	for (unsigned int i = 0; i < MG_MAX_NETS; i++)
		if (dp->nets[i] != NULL)
			mg_dp_net_destroy(dp, (uint16_t)i);
	for (unsigned int i = 0; i < MG_MAX_IFACES; i++)
		rte_free(dp->ifaces[i]);
	for (unsigned int i = 0; i < MG_MAX_PORTS; i++)
		rte_free(dp->vlan_if[i]);
	for (unsigned int w = 0; w < MG_MAX_WORKERS; w++) {
		struct mg_worker *wk = dp->workers[w];

		if (wk == NULL)
			continue;
		rte_ring_free(wk->punt);
		rte_ring_free(wk->inject);
		if (wk->wake_fd > 0)
			close(wk->wake_fd);
		rte_free(wk->rxqs);
		rte_free(wk->ifc);
		rte_free(wk);
	}
	if (dp->main_wake_fd > 0)
		close(dp->main_wake_fd);
	rte_free(dp->adj);
	rte_free(dp->adj_free);
	rte_free(dp->limbo);
	rte_free(dp->stats);
	rte_free(dp->rcu);
	rte_free(dp->rcu_fib);
	if (the_dp == dp)
		the_dp = NULL;
	rte_free(dp);
}

void
mg_dp_sync(struct mg_dp *dp)
{
	RTE_ASSERT(rte_lcore_id() == dp->main_lcore);
	rte_rcu_qsbr_synchronize(dp->rcu, RTE_QSBR_THRID_INVALID);
}

/* After a FIB change: no worker is still inside a lookup that began before it. */
static void
fib_sync(struct mg_dp *dp)
{
	RTE_ASSERT(rte_lcore_id() == dp->main_lcore);
	rte_rcu_qsbr_synchronize(dp->rcu_fib, RTE_QSBR_THRID_INVALID);
}

/* ---- interfaces ---------------------------------------------------------------- */

static void iface_counters_raw(const struct mg_dp *dp, uint16_t ifindex,
			       struct mg_if_counters *out);

static uint16_t *
vlan_map_alloc(void)
{
	uint16_t *map = rte_malloc("mg_vlan_map", 4096 * sizeof(uint16_t), RTE_CACHE_LINE_SIZE);

	if (map != NULL)
		memset(map, 0xff, 4096 * sizeof(uint16_t)); /* MG_IF_NONE */
	return map;
}

int
mg_dp_iface_set(struct mg_dp *dp, const struct mg_dp_iface *ifc)
{
	struct mg_dp_iface *rec, *old;

	/*
	 * port MG_IF_NONE: an interface with no port (a tunnel), not in the port
	 * maps; a virtual port (VXLAN) names its own interface and is in no map.
	 */
	const bool portless = ifc->port == MG_IF_NONE || mg_port_virtual(ifc->port);

	if (ifc->ifindex >= MG_MAX_IFACES || (!portless && ifc->port >= MG_MAX_PORTS) ||
	    (mg_port_virtual(ifc->port) && (ifc->port ^ MG_PORT_VIRT) != ifc->ifindex) ||
	    ifc->vlan > 4094 || (portless && ifc->vlan != 0))
		return -EINVAL;
	rec = rte_malloc("mg_iface", sizeof(*rec), RTE_CACHE_LINE_SIZE);
	if (rec == NULL)
		return -ENOMEM;
	*rec = *ifc;
	if (ifc->port != MG_IF_NONE && ifc->vlan != 0 && dp->vlan_if[ifc->port] == NULL) {
		uint16_t *map = vlan_map_alloc();

		if (map == NULL) {
			rte_free(rec);
			return -ENOMEM;
		}
		__atomic_store_n(&dp->vlan_if[ifc->port], map, __ATOMIC_RELEASE);
	}
	old = dp->ifaces[ifc->ifindex];
	/* A new interface in this slot counts from zero (see mg_dp_iface_counters). */
	if (old == NULL)
		iface_counters_raw(dp, ifc->ifindex, &dp->ifc_base[ifc->ifindex]);
	/* Publish the record before the maps that lead to it. */
	__atomic_store_n(&dp->ifaces[ifc->ifindex], rec, __ATOMIC_RELEASE);
	if (portless)
		;
	else if (ifc->vlan == 0)
		__atomic_store_n(&dp->port_if[ifc->port], ifc->ifindex, __ATOMIC_RELEASE);
	else
		__atomic_store_n(&dp->vlan_if[ifc->port][ifc->vlan], ifc->ifindex,
				 __ATOMIC_RELEASE);
	if (old != NULL) {
		/* Workers may still be reading the old record in this walk. */
		mg_dp_sync(dp);
		rte_free(old);
	}
	return 0;
}

void
mg_dp_iface_clear(struct mg_dp *dp, uint16_t ifindex)
{
	struct mg_dp_iface *old;

	if (ifindex >= MG_MAX_IFACES || (old = dp->ifaces[ifindex]) == NULL)
		return;
	if (old->port == MG_IF_NONE || mg_port_virtual(old->port)) {
		/* a tunnel: in no port map */
	} else if (old->vlan == 0) {
		if (dp->port_if[old->port] == ifindex)
			__atomic_store_n(&dp->port_if[old->port], MG_IF_NONE, __ATOMIC_RELEASE);
	} else if (dp->vlan_if[old->port] != NULL) {
		__atomic_store_n(&dp->vlan_if[old->port][old->vlan], MG_IF_NONE,
				 __ATOMIC_RELEASE);
	}
	__atomic_store_n(&dp->ifaces[ifindex], NULL, __ATOMIC_RELEASE);
	/* eth-input may hold the record (or the index) until its walk ends. */
	mg_dp_sync(dp);
	rte_free(old);
}

/* ---- networks and FIBs ------------------------------------------------------------ */

/*
 * DPDK 22.11's dir24_8 (the IPv4 FIB) reserves a tbl8 group when it adds a
 * route longer than /24 in a /24 that holds none yet, unless the route has
 * its parent's next hop (it then needs no group and is not counted), but it
 * gives one back whenever the last such route of a /24 goes. Two static
 * routes via one next hop, a /25 inside a /16 say: deleting the /25 wraps
 * the count below zero, and from then on every long route in a /24 of its
 * own (an address's host route too) is refused as if the table were full.
 * The groups really in use are cur_tbl8s: before a long add we set the count
 * to that, as for the IPv6 trie below. The struct is private, so this
 * mirrors its leading fields and is used only when they read back what we
 * configured; otherwise forwarding control rebuilds a refusing table.
 */
struct dir24_head {
	uint32_t number_tbl8s;
	uint32_t rsvd_tbl8s;
	uint32_t cur_tbl8s;
	enum rte_fib_dir24_8_nh_sz nh_sz;
	uint64_t def_nh;
	uint64_t *tbl8;
	uint64_t *tbl8_idxes;
};

/* The dir24_8 head, if its layout is the one we know. */
static struct dir24_head *
dir24_head_check(struct rte_fib *f, const struct rte_fib_conf *c)
{
#if RTE_VERSION >= RTE_VERSION_NUM(22, 11, 0, 0) && RTE_VERSION < RTE_VERSION_NUM(23, 3, 0, 0)
	struct dir24_head *h = rte_fib_get_dp(f);

	if (h != NULL && h->number_tbl8s == RTE_ALIGN_CEIL(c->dir24_8.num_tbl8, 64) &&
	    h->rsvd_tbl8s == 0 && h->cur_tbl8s == 0 && h->nh_sz == c->dir24_8.nh_sz &&
	    h->def_nh == c->default_nh && h->tbl8 != NULL && h->tbl8_idxes != NULL)
		return h;
#endif
	RTE_SET_USED(f);
	RTE_SET_USED(c);
	return NULL;
}

/* The IPv4 FIB of network @id; @gen keeps the names of rebuilt ones unique. */
static struct rte_fib *
fib4_create(struct mg_dp *dp, uint16_t id, uint32_t gen, struct dir24_head **head)
{
	struct rte_fib_conf c;
	struct rte_fib *f;
	char name[64];

	memset(&c, 0, sizeof(c));
	c.type = RTE_FIB_DIR24_8;
	c.default_nh = MG_ADJ_ID_NOROUTE;
	c.max_routes = (int)dp->conf.fib_routes;
	c.dir24_8.nh_sz = dp->conf.max_adjacencies > 32767 ? RTE_FIB_DIR24_8_4B : RTE_FIB_DIR24_8_2B;
	c.dir24_8.num_tbl8 = dp->conf.fib_tbl8;
	snprintf(name, sizeof(name), "mg4_%u_%u", id, gen);
	f = rte_fib_create(name, SOCKET_ID_ANY, &c);
	*head = f != NULL ? dir24_head_check(f, &c) : NULL;
	if (f != NULL && *head == NULL)
		DP_LOG(WARNING, "IPv4 FIB layout not recognised: long routes may be refused "
		       "until the table is rebuilt\n");
	return f;
}

/*
 * DPDK 22.11's IPv6 trie reserves tbl8 groups for a route longer than /24
 * when it adds it, but works out what to give back on delete while the route
 * is still in its RIB, which makes it zero: the reservation count only grows,
 * and once it reaches num_tbl8 every long route is refused while the table
 * is nearly empty (a few thousand IPv6 route adds over a process's life).
 * The groups really in use are tbl8_pool_pos: before an add we set the count
 * to that. The struct is private, so this mirrors its leading fields and is
 * used only when they read back what we configured; otherwise forwarding
 * control falls back to rebuilding a refusing table (mg_dp_fib_rebuild).
 */
struct trie_head {
	uint32_t number_tbl8s;
	uint32_t rsvd_tbl8s;
	uint32_t cur_tbl8s;
	uint64_t def_nh;
	enum rte_fib_trie_nh_sz nh_sz;
	uint64_t *tbl8;
	uint32_t *tbl8_pool;
	uint32_t tbl8_pool_pos;
};

/* The trie's head, if its layout is the one we know. */
static struct trie_head *
trie_head_check(struct rte_fib6 *f, const struct rte_fib6_conf *c)
{
#if RTE_VERSION >= RTE_VERSION_NUM(22, 11, 0, 0) && RTE_VERSION < RTE_VERSION_NUM(23, 3, 0, 0)
	struct trie_head *h = rte_fib6_get_dp(f);

	if (h != NULL && h->number_tbl8s == c->trie.num_tbl8 && h->rsvd_tbl8s == 0 &&
	    h->cur_tbl8s == 0 && h->def_nh == c->default_nh && h->nh_sz == c->trie.nh_sz &&
	    h->tbl8 != NULL && h->tbl8_pool != NULL && h->tbl8_pool_pos == 0)
		return h;
#endif
	RTE_SET_USED(f);
	RTE_SET_USED(c);
	return NULL;
}

/* The IPv6 FIB of network @id. */
static struct rte_fib6 *
fib6_create(struct mg_dp *dp, uint16_t id, uint32_t gen, struct trie_head **head)
{
	struct rte_fib6_conf c;
	struct rte_fib6 *f;
	char name[64];

	memset(&c, 0, sizeof(c));
	c.type = RTE_FIB6_TRIE;
	c.default_nh = MG_ADJ_ID_NOROUTE;
	c.max_routes = (int)dp->conf.fib_routes;
	c.trie.nh_sz = dp->conf.max_adjacencies > 32767 ? RTE_FIB6_TRIE_4B : RTE_FIB6_TRIE_2B;
	c.trie.num_tbl8 = dp->conf.fib6_tbl8;
	snprintf(name, sizeof(name), "mg6_%u_%u", id, gen);
	f = rte_fib6_create(name, SOCKET_ID_ANY, &c);
	*head = f != NULL ? trie_head_check(f, &c) : NULL;
	if (f != NULL && *head == NULL)
		DP_LOG(WARNING, "IPv6 FIB layout not recognised: long routes may be refused "
		       "until the table is rebuilt\n");
	return f;
}

int
mg_dp_net_create(struct mg_dp *dp, uint16_t id, const char *name, uint32_t flags,
		 struct mg_error *err)
{
	struct mg_dp_net *n;
	bool wide = dp->conf.max_adjacencies > 32767;
	int e;

	if (id >= MG_MAX_NETS || dp->nets[id] != NULL)
		return mg_error_set(err, EEXIST, "", "network slot %u is taken", id);
	n = rte_zmalloc("mg_net", sizeof(*n), RTE_CACHE_LINE_SIZE);
	if (n == NULL)
		return mg_error_set(err, ENOMEM, "", "out of memory for network '%s'", name);
	n->id = id;
	n->flags = flags;
	mg_strlcpy(n->name, name, sizeof(n->name));

	n->fib4 = fib4_create(dp, id, 0, &n->dir24);
	e = n->fib4 == NULL ? rte_errno : 0;
	n->fib6 = n->fib4 != NULL ? fib6_create(dp, id, 0, &n->trie) : NULL;
	if (n->fib4 == NULL || n->fib6 == NULL) {
		if (e == 0)
			e = rte_errno;

		rte_fib_free(n->fib4);
		rte_fib6_free(n->fib6);
		rte_free(n);
		return mg_error_set(err, ENOMEM, "",
				    "cannot create the FIBs of network '%s': %s (each network "
				    "needs about %u MiB; raise dpdk.memory_mb)", name,
				    rte_strerror(e),
				    (wide ? 128 : 64) + (unsigned int)(((uint64_t)dp->conf.fib_tbl8 +
									dp->conf.fib6_tbl8) *
								       (wide ? 1024 : 512) >> 20));
	}
	__atomic_store_n(&dp->nets[id], n, __ATOMIC_RELEASE);
	DP_LOG(DEBUG, "network %u '%s' created\n", id, name);
	return 0;
}

void
mg_dp_net_destroy(struct mg_dp *dp, uint16_t id)
{
	struct mg_dp_net *n = dp->nets[id];

	if (n == NULL)
		return;
	__atomic_store_n(&dp->nets[id], NULL, __ATOMIC_RELEASE);
	if (rte_lcore_id() == dp->main_lcore)
		mg_dp_sync(dp);
	rte_fib_free(n->fib4);
	rte_fib6_free(n->fib6);
	rte_free(n);
}

int
mg_dp_route_add(struct mg_dp *dp, uint16_t net, const struct mg_prefix *p, uint32_t adj)
{
	struct mg_dp_net *n = dp->nets[net];
	int rc;

	if (n == NULL || adj == MG_ADJ_ID_RETRY || adj >= dp->conf.max_adjacencies)
		return -EINVAL;
	if (p->addr.family == AF_INET) {
		struct dir24_head *h = n->dir24;

		/* See struct dir24_head: reserve against what is really in use. */
		if (h != NULL && p->len > 24 && h->cur_tbl8s <= h->number_tbl8s)
			h->rsvd_tbl8s = h->cur_tbl8s;
		rc = rte_fib_add(n->fib4, ntohl(p->addr.v4), p->len, adj);
	} else {
		struct trie_head *h = n->trie;

		/* See struct trie_head: reserve against what is really in use. */
		if (h != NULL && p->len > 24 && h->tbl8_pool_pos <= h->number_tbl8s)
			h->rsvd_tbl8s = h->tbl8_pool_pos;
		rc = rte_fib6_add(n->fib6, p->addr.v6, p->len, adj);
	}
	/* The next change may reuse a tbl8 group this one freed. */
	fib_sync(dp);
	return rc;
}

int
mg_dp_route_del(struct mg_dp *dp, uint16_t net, const struct mg_prefix *p)
{
	struct mg_dp_net *n = dp->nets[net];
	int rc;

	if (n == NULL)
		return -EINVAL;
	if (p->addr.family == AF_INET)
		rc = rte_fib_delete(n->fib4, ntohl(p->addr.v4), p->len);
	else
		rc = rte_fib6_delete(n->fib6, p->addr.v6, p->len);
	fib_sync(dp);
	return rc;
}

int
mg_dp_fib_rebuild(struct mg_dp *dp, uint16_t net, uint8_t family, mg_dp_route_iter_t next,
		  void *ctx, unsigned int *nroutes)
{
	struct mg_dp_net *n = dp->nets[net];
	struct rte_fib *f4 = NULL, *old4;
	struct rte_fib6 *f6 = NULL, *old6;
	struct trie_head *head = NULL;
	struct dir24_head *head4 = NULL;
	struct mg_prefix p;
	uint32_t adj;
	int rc = 0;

	*nroutes = 0;
	if (n == NULL)
		return -EINVAL;
	n->gen++;
	if (family == AF_INET)
		f4 = fib4_create(dp, net, n->gen, &head4);
	else
		f6 = fib6_create(dp, net, n->gen, &head);
	if (f4 == NULL && f6 == NULL)
		return -ENOMEM;
	/* Nobody reads the new table yet: no grace periods while filling it. */
	while (rc == 0 && next(ctx, &p, &adj)) {
		if (p.addr.family != family)
			continue;
		rc = family == AF_INET ? rte_fib_add(f4, ntohl(p.addr.v4), p.len, adj)
				       : rte_fib6_add(f6, p.addr.v6, p.len, adj);
		(*nroutes)++;
	}
	if (rc != 0) {
		rte_fib_free(f4);
		rte_fib6_free(f6);
		return rc;
	}
	if (family == AF_INET) {
		old4 = n->fib4;
		n->dir24 = head4;
		__atomic_store_n(&n->fib4, f4, __ATOMIC_RELEASE);
		mg_dp_sync(dp);
		rte_fib_free(old4);
	} else {
		old6 = n->fib6;
		n->trie = head;
		__atomic_store_n(&n->fib6, f6, __ATOMIC_RELEASE);
		mg_dp_sync(dp);
		rte_fib6_free(old6);
	}
	return 0;
}

uint32_t
mg_dp_route_lookup(struct mg_dp *dp, uint16_t net, const struct mg_ip *ip)
{
	struct mg_dp_net *n = dp->nets[net];
	uint64_t nh = 0;

	if (n == NULL)
		return MG_ADJ_ID_NOROUTE;
	/* Like the lookup nodes: 0 means a tbl8 recycle raced us; look again. */
	do {
		if (ip->family == AF_INET) {
			uint32_t a = ntohl(ip->v4);

			rte_fib_lookup_bulk(n->fib4, &a, &nh, 1);
		} else {
			uint8_t a[1][16];

			memcpy(a[0], ip->v6, 16);
			rte_fib6_lookup_bulk(n->fib6, a, &nh, 1);
		}
	} while (nh == MG_ADJ_ID_RETRY);
	return (uint32_t)nh;
}

/* ---- adjacencies ------------------------------------------------------------------- */

uint32_t
mg_dp_adj_alloc(struct mg_dp *dp, enum mg_adj_type type, uint8_t family, uint16_t ifindex)
{
	struct mg_adj *a;
	uint32_t id;

	if (dp->adj_nfree == 0) {
		mg_dp_reclaim(dp);
		if (dp->adj_nfree == 0 && dp->limbo_n > 0) {
			/* Out of ids: wait for the grace period of those in limbo. */
			mg_dp_sync(dp);
			mg_dp_reclaim(dp);
		}
		if (dp->adj_nfree == 0)
			return 0;
	}
	id = dp->adj_free[--dp->adj_nfree];
	a = &dp->adj[id];
	memset(a, 0, sizeof(*a));
	a->type = (uint8_t)type;
	a->family = family;
	a->ifindex = ifindex;
	a->rw[0].ifindex = a->rw[1].ifindex = ifindex;
	a->rw[0].state = a->rw[1].state = MG_NS_INCOMPLETE;
	dp->adj_used++;
	return id;
}

/*
 * The FIB no longer returns @id, but a worker may have looked it up earlier
 * in its current walk: keep the adjacency intact until every worker has
 * finished that walk, then make it reusable.
 */
void
mg_dp_adj_free(struct mg_dp *dp, uint32_t id)
{
	uint32_t tail;

	if (id < MG_ADJ_ID_FIRST_DYNAMIC || id >= dp->conf.max_adjacencies)
		return;
	tail = (dp->limbo_head + dp->limbo_n) % dp->conf.max_adjacencies;
	dp->limbo[tail].id = id;
	dp->limbo[tail].token = rte_rcu_qsbr_start(dp->rcu);
	dp->limbo_n++;
	dp->adj_used--;
}

void
mg_dp_reclaim(struct mg_dp *dp)
{
	/* Tokens grow in FIFO order: stop at the first that has not passed. */
	while (dp->limbo_n > 0) {
		struct mg_adj_limbo *l = &dp->limbo[dp->limbo_head];

		if (rte_rcu_qsbr_check(dp->rcu, l->token, false) != 1)
			break;
		memset(&dp->adj[l->id], 0, sizeof(dp->adj[l->id]));
		dp->adj_free[dp->adj_nfree++] = l->id;
		dp->limbo_head = (dp->limbo_head + 1) % dp->conf.max_adjacencies;
		dp->limbo_n--;
	}
}

void
mg_dp_adj_set_rewrite(struct mg_dp *dp, uint32_t id, const struct rte_ether_addr *mac,
		      enum mg_neigh_state state)
{
	struct mg_adj *a = &dp->adj[id];
	const struct mg_dp_iface *ifc = mg_dp_iface(dp, a->ifindex);
	uint8_t idle = a->cur ^ 1;
	struct mg_rewrite *rw = &a->rw[idle];
	uint16_t etype = a->family == AF_INET ? MG_ETH_IPV4_BE : MG_ETH_IPV6_BE;

	memset(rw, 0, sizeof(*rw));
	rw->ifindex = a->ifindex;
	rw->state = (uint8_t)state;
	if (ifc != NULL) {
		rw->port = ifc->port;
		rw->mtu = ifc->mtu;
		if (mac != NULL)
			memcpy(rw->hdr, mac, 6);
		memcpy(rw->hdr + 6, &ifc->mac, 6);
		if (ifc->vlan != 0) {
			rte_be16_t tpid = RTE_BE16(0x8100), tci = rte_cpu_to_be_16(ifc->vlan);

			memcpy(rw->hdr + 12, &tpid, 2);
			memcpy(rw->hdr + 14, &tci, 2);
			memcpy(rw->hdr + 16, &etype, 2);
			rw->hdr_len = 18;
		} else {
			memcpy(rw->hdr + 12, &etype, 2);
			rw->hdr_len = 14;
		}
	} else {
		rw->state = MG_NS_FAILED;
	}
	__atomic_store_n(&a->cur, idle, __ATOMIC_RELEASE);
	/* The other copy may be in use until every worker finishes its walk. */
	mg_dp_sync(dp);
}

/* ---- main lcore -> workers ---------------------------------------------------------- */

int
mg_dp_inject(struct mg_dp *dp, struct rte_mbuf *m)
{
	static unsigned int rr;
	struct mg_worker *w = dp->workers[rr++ % dp->nb_workers];

	if (rte_ring_sp_enqueue(w->inject, m) != 0) {
		mg_dp_lcore_stats(dp)->drops[MG_DROP_INJECT_FULL]++;
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	mg_dp_lcore_stats(dp)->injected++;
	/*
	 * Pairs with the worker: it sets `sleeping`, then looks at the ring, then
	 * waits on wake_fd. Either it sees this packet, or we see it sleeping.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&w->sleeping, __ATOMIC_RELAXED)) {
		uint64_t one = 1;
		ssize_t rc = write(w->wake_fd, &one, sizeof(one));

		(void)rc; /* EAGAIN: the counter is saturated, the worker is being woken anyway */
	}
	return 0;
}

void
mg_dp_wake_main(struct mg_dp *dp)
{
	/* Pairs with the main loop: it sets main_sleeping, then looks at the punt
	 * rings, then waits on main_wake_fd. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&dp->main_sleeping, __ATOMIC_RELAXED)) {
		uint64_t one = 1;
		ssize_t rc = write(dp->main_wake_fd, &one, sizeof(one));

		(void)rc; /* EAGAIN: already being woken */
	}
}

int
mg_dp_worker_set_rxqs(struct mg_dp *dp, unsigned int w, const struct mg_rxq *q, unsigned int n)
{
	struct mg_worker *wk = dp->workers[w];
	struct mg_rxq_list *l, *old;

	l = rte_zmalloc("mg_rxqs", sizeof(*l) + n * sizeof(l->q[0]), RTE_CACHE_LINE_SIZE);
	if (l == NULL)
		return -ENOMEM;
	l->n = (uint16_t)n;
	memcpy(l->q, q, n * sizeof(*q));
	old = wk->rxqs;
	__atomic_store_n(&wk->rxqs, l, __ATOMIC_RELEASE);
	mg_dp_sync(dp);
	rte_free(old);
	return 0;
}

/* The workers' counters of @ifindex summed, since the process started. */
static void
iface_counters_raw(const struct mg_dp *dp, uint16_t ifindex, struct mg_if_counters *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned int w = 0; w < dp->nb_workers; w++) {
		const struct mg_if_counters *c = &dp->workers[w]->ifc[ifindex];

		out->rx_pkts += __atomic_load_n(&c->rx_pkts, __ATOMIC_RELAXED);
		out->rx_bytes += __atomic_load_n(&c->rx_bytes, __ATOMIC_RELAXED);
		out->tx_pkts += __atomic_load_n(&c->tx_pkts, __ATOMIC_RELAXED);
		out->tx_bytes += __atomic_load_n(&c->tx_bytes, __ATOMIC_RELAXED);
		out->drops += __atomic_load_n(&c->drops, __ATOMIC_RELAXED);
	}
}

void
mg_dp_port_counters_base(struct mg_dp *dp, uint16_t port)
{
	struct mg_port_base *b;

	if (port >= MG_MAX_PORTS)
		return;
	b = &dp->port_base[port];
	memset(b, 0, sizeof(*b));
	for (unsigned int l = 0; l < RTE_MAX_LCORE; l++) {
		const struct mg_lcore_stats *s = &dp->stats[l];

		b->rx_pkts += __atomic_load_n(&s->rx_pkts[port], __ATOMIC_RELAXED);
		b->rx_bytes += __atomic_load_n(&s->rx_bytes[port], __ATOMIC_RELAXED);
		b->tx_pkts += __atomic_load_n(&s->tx_pkts[port], __ATOMIC_RELAXED);
		b->tx_bytes += __atomic_load_n(&s->tx_bytes[port], __ATOMIC_RELAXED);
	}
}

/*
 * Counters of @ifindex since its interface was created: the workers own
 * theirs and never reset them (a reset from here would race with their
 * increments), so a new interface in a reused slot starts from a base.
 */
void
mg_dp_iface_counters(const struct mg_dp *dp, uint16_t ifindex, struct mg_if_counters *out)
{
	const struct mg_if_counters *b;

	memset(out, 0, sizeof(*out));
	if (ifindex >= MG_MAX_IFACES)
		return;
	iface_counters_raw(dp, ifindex, out);
	b = &dp->ifc_base[ifindex];
	out->rx_pkts -= b->rx_pkts;
	out->rx_bytes -= b->rx_bytes;
	out->tx_pkts -= b->tx_pkts;
	out->tx_bytes -= b->tx_bytes;
	out->drops -= b->drops;
}

struct rte_mempool *
mg_dp_pool(struct mg_dp *dp, int socket)
{
	if (socket >= 0 && socket < RTE_MAX_NUMA_NODES && dp->pools[socket] != NULL)
		return dp->pools[socket];
	for (int i = 0; i < RTE_MAX_NUMA_NODES; i++)
		if (dp->pools[i] != NULL)
			return dp->pools[i];
	return NULL;
}
