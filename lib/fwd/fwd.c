/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Forwarding control: the RIB in front of each FIB, interfaces and their
 * addresses, networks and static routes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_lcore.h>
#include <rte_log.h>

#include "fwd_priv.h"

RTE_LOG_REGISTER_SUFFIX(mg_fwd_logtype, fwd, INFO);
#define FWD_LOG(l, ...) rte_log(RTE_LOG_##l, mg_fwd_logtype, "fwd: " __VA_ARGS__)

struct mg_fwd *
mg_fwd_create(struct mg_dp *dp, const struct mg_fwd_conf *conf)
{
	struct mg_fwd *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->dp = dp;
	f->conf = *conf;
	if (f->conf.hold_packets > FWD_MAX_HOLD)
		f->conf.hold_packets = FWD_MAX_HOLD;
	f->ifs = calloc(MG_MAX_IFACES, sizeof(*f->ifs));
	f->rib_idx = mg_hmap_create(sizeof(struct mg_addr_key), 256);
	if (f->ifs == NULL || f->rib_idx == NULL || fwd_neigh_init(f) < 0) {
		mg_fwd_destroy(f);
		return NULL;
	}
	return f;
}

void
mg_fwd_destroy(struct mg_fwd *f)
{
	if (f == NULL)
		return;
	fwd_neigh_fini(f);
	free(f->ifs);
	free(f->rib);
	free(f->rib_free);
	mg_hmap_destroy(f->rib_idx);
	free(f);
}

/* ---- RIB ------------------------------------------------------------------------ */

static int
rib_alloc(struct mg_fwd *f, uint32_t *idx)
{
	if (f->rib_nfree == 0) {
		uint32_t cap = f->rib_cap ? f->rib_cap * 2 : 256;
		struct rib_entry *r = realloc(f->rib, cap * sizeof(*r));
		uint32_t *fr;

		if (r == NULL)
			return -ENOMEM;
		f->rib = r;
		fr = realloc(f->rib_free, cap * sizeof(*fr));
		if (fr == NULL)
			return -ENOMEM;
		f->rib_free = fr;
		memset(f->rib + f->rib_cap, 0, (cap - f->rib_cap) * sizeof(*r));
		for (uint32_t i = cap; i > f->rib_cap; i--)
			f->rib_free[f->rib_nfree++] = i - 1;
		f->rib_cap = cap;
	}
	*idx = f->rib_free[--f->rib_nfree];
	return 0;
}

struct rebuild_walk {
	struct mg_fwd *f;
	uint16_t net;
	uint32_t next;
};

/* The installed routes of one network, for mg_dp_fib_rebuild. */
static bool
rebuild_next(void *arg, struct mg_prefix *p, uint32_t *adj)
{
	struct rebuild_walk *w = arg;

	for (; w->next < w->f->rib_cap; w->next++) {
		const struct rib_entry *e = &w->f->rib[w->next];

		if (e->used && e->net == w->net && e->installed != 0) {
			*p = e->p;
			*adj = e->installed;
			w->next++;
			return true;
		}
	}
	return false;
}

/* Install the best source of @e into the FIB. */
static int
rib_apply(struct mg_fwd *f, struct rib_entry *e)
{
	uint32_t best = 0;
	int rc = 0;

	for (unsigned int s = 0; s < MG_RIB_SRC_MAX; s++)
		if (e->refs[s] > 0) {
			best = e->adj[s];
			break;
		}
	if (best == e->installed)
		return 0;
	if (best != 0) {
		rc = mg_dp_route_add(f->dp, e->net, &e->p, best);
		uint32_t *dels = &f->fib_dels[e->net][e->p.addr.family == AF_INET ? 0 : 1];

		if (rc == -ENOSPC && *dels > 0) {
			/* Full, or DPDK's reservation count drifted: a fresh table tells. */
			struct rebuild_walk w = {.f = f, .net = e->net};
			unsigned int n;

			*dels = 0;
			if (mg_dp_fib_rebuild(f->dp, e->net, e->p.addr.family, rebuild_next, &w,
					      &n) == 0) {
				f->fib_rebuilds++;
				FWD_LOG(NOTICE, "network %u: IPv%c FIB rebuilt (%u routes) after it "
					"refused a route\n", e->net,
					e->p.addr.family == AF_INET ? '4' : '6', n);
				rc = mg_dp_route_add(f->dp, e->net, &e->p, best);
			}
		}
	} else {
		rc = mg_dp_route_del(f->dp, e->net, &e->p);
		f->fib_dels[e->net][e->p.addr.family == AF_INET ? 0 : 1]++;
	}
	if (rc == 0)
		e->installed = best;
	return rc;
}

int
fwd_rib_add(struct mg_fwd *f, uint16_t net, const struct mg_prefix *p, enum mg_rib_src src,
	    uint32_t adj)
{
	struct mg_addr_key k = mg_prefix_key(net, p);
	struct rib_entry *e;
	uint32_t idx, old_adj;
	uint16_t old_refs;
	bool fresh = false;
	int rc;

	if (!mg_hmap_get(f->rib_idx, &k, &idx)) {
		if (rib_alloc(f, &idx) < 0)
			return -ENOMEM;
		if (mg_hmap_put(f->rib_idx, &k, idx) < 0) {
			f->rib_free[f->rib_nfree++] = idx;
			return -ENOMEM;
		}
		e = &f->rib[idx];
		memset(e, 0, sizeof(*e));
		e->used = true;
		e->net = net;
		e->p = *p;
		fresh = true;
	}
	e = &f->rib[idx];
	old_adj = e->adj[src];
	old_refs = e->refs[src];
	e->adj[src] = adj;
	e->refs[src]++;
	rc = rib_apply(f, e);
	if (rc < 0) {
		e->adj[src] = old_adj;
		e->refs[src] = old_refs;
		if (fresh) {
			mg_hmap_del(f->rib_idx, &k);
			e->used = false;
			f->rib_free[f->rib_nfree++] = idx;
		}
	}
	return rc;
}

int
fwd_rib_set(struct mg_fwd *f, uint16_t net, const struct mg_prefix *p, enum mg_rib_src src,
	    uint32_t adj)
{
	struct mg_addr_key k = mg_prefix_key(net, p);
	struct rib_entry *e;
	uint32_t idx, old;
	int rc;

	if (!mg_hmap_get(f->rib_idx, &k, &idx) || f->rib[idx].refs[src] == 0)
		return -ENOENT;
	e = &f->rib[idx];
	old = e->adj[src];
	e->adj[src] = adj;
	rc = rib_apply(f, e);
	if (rc < 0)
		e->adj[src] = old;
	return rc;
}

void
fwd_rib_del(struct mg_fwd *f, uint16_t net, const struct mg_prefix *p, enum mg_rib_src src)
{
	struct mg_addr_key k = mg_prefix_key(net, p);
	struct rib_entry *e;
	uint32_t idx;
	bool empty = true;

	if (!mg_hmap_get(f->rib_idx, &k, &idx))
		return;
	e = &f->rib[idx];
	if (e->refs[src] == 0)
		return;
	if (--e->refs[src] == 0)
		e->adj[src] = 0;
	if (rib_apply(f, e) < 0)
		FWD_LOG(ERR, "cannot update the FIB after removing a route\n");
	for (unsigned int s = 0; s < MG_RIB_SRC_MAX; s++)
		if (e->refs[s])
			empty = false;
	if (empty) {
		mg_hmap_del(f->rib_idx, &k);
		e->used = false;
		f->rib_free[f->rib_nfree++] = idx;
	}
}

uint32_t
mg_fwd_lookup(struct mg_fwd *f, uint16_t net, const struct mg_ip *ip)
{
	return mg_dp_route_lookup(f->dp, net, ip);
}

/* ---- interfaces ----------------------------------------------------------------- */

struct fwd_iface *
fwd_iface(struct mg_fwd *f, uint16_t ifindex)
{
	if (ifindex >= MG_MAX_IFACES || !f->ifs[ifindex].used)
		return NULL;
	return &f->ifs[ifindex];
}

const struct mg_prefix *
fwd_iface_subnet_of(const struct fwd_iface *ifc, const struct mg_ip *ip)
{
	const struct mg_prefix *a = ip->family == AF_INET ? ifc->a4 : ifc->a6;
	unsigned int n = ip->family == AF_INET ? ifc->n4 : ifc->n6;

	for (unsigned int i = 0; i < n; i++)
		if (mg_prefix_contains(&a[i], ip))
			return &a[i];
	return NULL;
}

bool
fwd_iface_owns(const struct fwd_iface *ifc, const struct mg_ip *ip)
{
	const struct mg_prefix *a = ip->family == AF_INET ? ifc->a4 : ifc->a6;
	unsigned int n = ip->family == AF_INET ? ifc->n4 : ifc->n6;

	if (ip->family == AF_INET6 && mg_ip_equal(&ifc->ll6, ip))
		return true;
	for (unsigned int i = 0; i < n; i++)
		if (mg_ip_equal(&a[i].addr, ip))
			return true;
	return false;
}

/* Publish the workers' view of @ifc (primary addresses included). */
static int
iface_publish(struct mg_fwd *f, const struct fwd_iface *ifc)
{
	struct mg_dp_iface r;

	memset(&r, 0, sizeof(r));
	r.ifindex = ifc->ifindex;
	r.port = ifc->port;
	r.vlan = ifc->vlan;
	r.net = ifc->net;
	r.mtu = ifc->mtu;
	r.mac = ifc->mac;
	r.ip4 = ifc->n4 ? ifc->a4[0].addr.v4 : 0;
	memcpy(r.ip6_ll, ifc->ll6.v6, 16);
	memcpy(r.ip6, ifc->n6 ? ifc->a6[0].addr.v6 : ifc->ll6.v6, 16);
	mg_strlcpy(r.name, ifc->name, sizeof(r.name));
	return mg_dp_iface_set(f->dp, &r);
}

static struct mg_prefix
host_prefix(const struct mg_ip *ip)
{
	struct mg_prefix p = {.addr = *ip, .len = mg_ip_maxlen(ip)};

	return p;
}

int
mg_fwd_iface_add(struct mg_fwd *f, const struct mg_iface *mi, uint16_t ethdev,
		 struct mg_error *err)
{
	struct fwd_iface *ifc;
	struct mg_prefix ll;
	int rc;

	if (mi->id >= MG_MAX_IFACES || f->ifs[mi->id].used)
		return mg_error_set(err, EEXIST, "", "interface slot %u is taken", mi->id);
	ifc = &f->ifs[mi->id];
	memset(ifc, 0, sizeof(*ifc));
	ifc->ifindex = mi->id;
	ifc->port = ethdev;
	/* WireGuard: every destination on-link, into wg-output (ESP sets its own type). */
	ifc->p2p_type = mi->kind == MG_IFACE_WG ? MG_ADJ_WG : 0;
	ifc->vlan = mi->vlan;
	ifc->net = mi->network;
	ifc->mtu = mi->mtu;
	memcpy(&ifc->mac, mi->mac.b, 6);
	mg_ip6_link_local_from_mac(&mi->mac, &ifc->ll6);
	mg_strlcpy(ifc->name, mi->name, sizeof(ifc->name));
	ll = host_prefix(&ifc->ll6);
	rc = fwd_rib_add(f, ifc->net, &ll, MG_RIB_LOCAL, MG_ADJ_ID_LOCAL);
	if (rc < 0)
		return mg_error_set(err, -rc, "", "cannot install the link-local address of '%s'",
				    mi->name);
	rc = iface_publish(f, ifc);
	if (rc < 0) {
		fwd_rib_del(f, ifc->net, &ll, MG_RIB_LOCAL);
		return mg_error_set(err, -rc, "", "cannot publish interface '%s'", mi->name);
	}
	ifc->used = true;
	FWD_LOG(INFO, "interface %s up (ifindex %u, port %u, vlan %u)\n", ifc->name,
		ifc->ifindex, ifc->port, ifc->vlan);
	fwd_announce(f, ifc, &ifc->ll6);
	return 0;
}

int
mg_fwd_iface_add_p2p(struct mg_fwd *f, const struct mg_iface *mi, uint8_t adj_type,
		     struct mg_error *err)
{
	int rc = mg_fwd_iface_add(f, mi, MG_IF_NONE, err);

	if (rc == 0)
		f->ifs[mi->id].p2p_type = adj_type;
	return rc;
}

void
mg_fwd_iface_del(struct mg_fwd *f, uint16_t ifindex)
{
	struct fwd_iface *ifc = fwd_iface(f, ifindex);
	struct mg_prefix ll;

	if (ifc == NULL)
		return;
	while (ifc->n4)
		mg_fwd_addr_del(f, ifindex, &ifc->a4[ifc->n4 - 1]);
	while (ifc->n6)
		mg_fwd_addr_del(f, ifindex, &ifc->a6[ifc->n6 - 1]);
	fwd_nbr_flush(f, ifindex, NULL);
	ll = host_prefix(&ifc->ll6);
	fwd_rib_del(f, ifc->net, &ll, MG_RIB_LOCAL);
	mg_dp_iface_clear(f->dp, ifindex);
	ifc->used = false;
}

/* The glean adjacency of (@ifc, family), created on first use. */
static uint32_t
glean_get(struct mg_fwd *f, struct fwd_iface *ifc, uint8_t family)
{
	int i = family == AF_INET ? 0 : 1;

	if (ifc->glean[i] == 0) {
		/* On a tunnel every destination is on-link: its subnet and routes lead
		 * straight into it (WireGuard: MG_ADJ_WG; ESP: its own type), no neighbors. */
		ifc->glean[i] = mg_dp_adj_alloc(f->dp, ifc->p2p_type ? ifc->p2p_type : MG_ADJ_GLEAN,
						family, ifc->ifindex);
		if (ifc->glean[i] == 0)
			return 0;
	}
	ifc->glean_refs[i]++;
	return ifc->glean[i];
}

/* Drop a glean reference; the FIB no longer points at it when it reaches 0. */
static void
glean_put(struct mg_fwd *f, struct fwd_iface *ifc, uint8_t family)
{
	int i = family == AF_INET ? 0 : 1;

	if (ifc->glean_refs[i] == 0 || --ifc->glean_refs[i] > 0)
		return;
	/* The FIB no longer points at it; workers may until their walk ends (deferred free). */
	mg_dp_adj_free(f->dp, ifc->glean[i]);
	ifc->glean[i] = 0;
}

int
mg_fwd_addr_add(struct mg_fwd *f, uint16_t ifindex, const struct mg_prefix *p,
		struct mg_error *err)
{
	struct fwd_iface *ifc = fwd_iface(f, ifindex);
	struct mg_prefix host, subnet = *p;
	char b[MG_PREFIX_STRLEN];
	uint32_t glean = 0;
	int rc;

	if (ifc == NULL)
		return mg_error_set(err, ENOENT, "interface", "interface %u is not up", ifindex);
	host = host_prefix(&p->addr);
	mg_prefix_mask(&subnet);
	/* The local route would outrank the service's: its VIP would go dead. */
	if (mg_fwd_service_route_owner(f, ifc->net, &host) != 0)
		return mg_error_set(err, EEXIST, "address",
				    "%s is a service's VIP (or a gateway's route) in this network",
				    mg_ip_fmt(&p->addr, b, sizeof(b)));
	rc = fwd_rib_add(f, ifc->net, &host, MG_RIB_LOCAL, MG_ADJ_ID_LOCAL);
	if (rc < 0)
		return mg_error_set(err, rc == -ENOMEM ? ENOSPC : -rc, "address",
				    "FIB full (limits.fib_routes / fib_tbl8): cannot install %s",
				    mg_prefix_fmt(p, b, sizeof(b)));
	if (p->len < mg_ip_maxlen(&p->addr)) {
		glean = glean_get(f, ifc, p->addr.family);
		if (glean == 0) {
			fwd_rib_del(f, ifc->net, &host, MG_RIB_LOCAL);
			return mg_error_set(err, ENOSPC, "address",
					    "the adjacency table is full (limits.adjacencies)");
		}
		rc = fwd_rib_add(f, ifc->net, &subnet, MG_RIB_CONNECTED, glean);
		if (rc < 0) {
			fwd_rib_del(f, ifc->net, &host, MG_RIB_LOCAL);
			glean_put(f, ifc, p->addr.family);
			return mg_error_set(err, rc == -ENOMEM ? ENOSPC : -rc, "address",
					    "FIB full (limits.fib_routes / fib_tbl8): cannot install %s",
					    mg_prefix_fmt(&subnet, b, sizeof(b)));
		}
	}
	if (p->addr.family == AF_INET)
		ifc->a4[ifc->n4++] = *p;
	else
		ifc->a6[ifc->n6++] = *p;
	iface_publish(f, ifc);
	fwd_announce(f, ifc, &p->addr);
	return 0;
}

void
mg_fwd_addr_del(struct mg_fwd *f, uint16_t ifindex, const struct mg_prefix *p)
{
	struct fwd_iface *ifc = fwd_iface(f, ifindex);
	struct mg_prefix *a;
	uint8_t *n;
	struct mg_prefix host, subnet;

	if (ifc == NULL)
		return;
	a = p->addr.family == AF_INET ? ifc->a4 : ifc->a6;
	n = p->addr.family == AF_INET ? &ifc->n4 : &ifc->n6;
	for (unsigned int i = 0; i < *n; i++) {
		if (!mg_ip_equal(&a[i].addr, &p->addr))
			continue;
		subnet = a[i];
		mg_prefix_mask(&subnet);
		host = host_prefix(&a[i].addr);
		fwd_nbr_flush(f, ifindex, &subnet);
		fwd_rib_del(f, ifc->net, &host, MG_RIB_LOCAL);
		if (a[i].len < mg_ip_maxlen(&a[i].addr)) {
			fwd_rib_del(f, ifc->net, &subnet, MG_RIB_CONNECTED);
			glean_put(f, ifc, p->addr.family);
		}
		memmove(&a[i], &a[i + 1], (*n - i - 1) * sizeof(*a));
		(*n)--;
		iface_publish(f, ifc);
		return;
	}
}

/* ---- networks -------------------------------------------------------------------- */

int
mg_fwd_net_add(struct mg_fwd *f, const struct mg_network *n, struct mg_error *err)
{
	uint32_t flags = 0;

	if (n->spec.fragments == MG_POLICY_DROP)
		flags |= MG_NET_DROP_FRAGMENTS;
	if (n->spec.ip_options == MG_POLICY_DROP)
		flags |= MG_NET_DROP_IP_OPTIONS;
	return mg_dp_net_create(f->dp, n->id, n->spec.name, flags, err);
}

void
mg_fwd_net_del(struct mg_fwd *f, uint16_t id)
{
	mg_dp_net_destroy(f->dp, id);
}

/* ---- static routes ----------------------------------------------------------------- */

/* The adjacency route @r leads to, taking the references it holds. */
static int
route_target_get(struct mg_fwd *f, const struct mg_route *r, uint32_t *adj, struct mg_error *err)
{
	struct fwd_iface *ifc;
	struct nbr *nb;

	switch (r->action) {
	case MG_ROUTE_DROP:
		*adj = MG_ADJ_ID_DROP;
		return 0;
	case MG_ROUTE_UNREACHABLE:
		*adj = MG_ADJ_ID_UNREACH;
		return 0;
	case MG_ROUTE_PROHIBIT:
		*adj = MG_ADJ_ID_PROHIBIT;
		return 0;
	case MG_ROUTE_FORWARD:
		break;
	}
	ifc = fwd_iface(f, r->iface);
	if (ifc == NULL)
		return mg_error_set(err, ENOENT, "interface", "interface %u is not up", r->iface);
	if (r->via.family != 0 && !ifc->p2p_type) {
		nb = fwd_nbr_get(f, r->iface, &r->via, err);
		if (nb == NULL)
			return -err->code;
		*adj = nb->adj;
		return 0;
	}
	*adj = glean_get(f, ifc, r->prefix.addr.family);
	if (*adj == 0)
		return mg_error_set(err, ENOSPC, "", "the adjacency table is full (limits.adjacencies)");
	return 0;
}

/* Release what route_target_get took. */
static void
route_target_put(struct mg_fwd *f, const struct mg_route *r)
{
	if (r->action != MG_ROUTE_FORWARD)
		return;
	if (r->via.family != 0 && !(fwd_iface(f, r->iface) && fwd_iface(f, r->iface)->p2p_type)) {
		struct nbr *nb = fwd_nbr_find(f, r->iface, &r->via);

		if (nb != NULL)
			fwd_nbr_put(f, nb);
	} else {
		struct fwd_iface *ifc = fwd_iface(f, r->iface);

		if (ifc != NULL) {
			/* The host routes of the neighbors it made on-link go with it. */
			fwd_nbr_flush_offlink(f, r->iface, &r->prefix);
			glean_put(f, ifc, r->prefix.addr.family);
		}
	}
}

/*
 * A route the FIB would not take. rte_fib_add says -ENOMEM when its RIB has no
 * node left (limits.fib_routes per network and family) and -ENOSPC when the
 * lookup table has no tbl8 group left (limits.fib_tbl8 / fib6_tbl8): both are
 * a full table (507), named with the limit to raise.
 */
int
mg_fwd_prefix_error(const struct mg_prefix *p, int rc, const char *field, const char *ctx,
		    struct mg_error *err)
{
	char b[MG_PREFIX_STRLEN];
	bool v4 = p->addr.family == AF_INET;

	mg_prefix_fmt(p, b, sizeof(b));
	if (rc == -ENOMEM)
		return mg_error_set(err, ENOSPC, field,
				    "%scannot install %s: the FIB is full (limits.fib_routes routes "
				    "per network and family)", ctx, b);
	if (rc == -ENOSPC)
		return mg_error_set(err, ENOSPC, field,
				    "%scannot install %s: the FIB is full (no tbl8 group left: "
				    "limits.%s)", ctx, b, v4 ? "fib_tbl8" : "fib6_tbl8");
	if (rc == -EEXIST)
		return mg_error_set(err, EEXIST, field,
				    "%s%s is already routed to another service or gateway in this "
				    "network", ctx, b);
	return mg_error_set(err, -rc, field, "%scannot install %s: %s", ctx, b, strerror(-rc));
}

static int
fib_full_error(const struct mg_route *r, int rc, struct mg_error *err)
{
	return mg_fwd_prefix_error(&r->prefix, rc, "prefix", "", err);
}

int
mg_fwd_route_add(struct mg_fwd *f, const struct mg_route *r, struct mg_error *err)
{
	uint32_t adj;
	int rc = route_target_get(f, r, &adj, err);

	if (rc < 0)
		return rc;
	rc = fwd_rib_add(f, r->network, &r->prefix, MG_RIB_STATIC, adj);
	if (rc < 0) {
		route_target_put(f, r);
		return fib_full_error(r, rc, err);
	}
	return 0;
}

int
mg_fwd_route_replace(struct mg_fwd *f, const struct mg_route *old, const struct mg_route *r,
		     struct mg_error *err)
{
	uint32_t adj;
	int rc = route_target_get(f, r, &adj, err);

	if (rc < 0)
		return rc;
	/* One FIB write: packets see the old target or the new one, never none. */
	rc = fwd_rib_set(f, r->network, &r->prefix, MG_RIB_STATIC, adj);
	if (rc < 0) {
		route_target_put(f, r);
		return fib_full_error(r, rc, err);
	}
	route_target_put(f, old);
	return 0;
}

void
mg_fwd_route_del(struct mg_fwd *f, const struct mg_route *r)
{
	fwd_rib_del(f, r->network, &r->prefix, MG_RIB_STATIC);
	route_target_put(f, r);
}

bool
mg_fwd_service_route_taken(struct mg_fwd *f, uint16_t net, const struct mg_prefix *p, uint32_t adj)
{
	uint32_t owner = mg_fwd_service_route_owner(f, net, p);

	return owner != 0 && owner != adj;
}

int
mg_fwd_service_route_add(struct mg_fwd *f, uint16_t net, const struct mg_prefix *p, uint32_t adj)
{
	/* One owner per prefix: a second would take the route over, and its
	 * removal leave the first's traffic on a freed adjacency. */
	if (mg_fwd_service_route_taken(f, net, p, adj))
		return -EEXIST;
	return fwd_rib_add(f, net, p, MG_RIB_SERVICE, adj);
}

uint32_t
mg_fwd_service_route_owner(struct mg_fwd *f, uint16_t net, const struct mg_prefix *p)
{
	struct mg_addr_key k = mg_prefix_key(net, p);
	uint32_t idx;

	if (!mg_hmap_get(f->rib_idx, &k, &idx) || f->rib[idx].refs[MG_RIB_SERVICE] == 0)
		return 0;
	return f->rib[idx].adj[MG_RIB_SERVICE];
}

void
mg_fwd_service_route_del(struct mg_fwd *f, uint16_t net, const struct mg_prefix *p)
{
	fwd_rib_del(f, net, p, MG_RIB_SERVICE);
}

/* The interface of network @net whose connected subnet holds @ip, or -1. */
static int
iface_of_subnet(struct mg_fwd *f, uint16_t net, const struct mg_ip *ip)
{
	for (uint16_t i = 0; i < MG_MAX_IFACES; i++) {
		const struct fwd_iface *ifc = fwd_iface(f, i);

		if (ifc != NULL && ifc->net == net && fwd_iface_subnet_of(ifc, ip) != NULL)
			return i;
	}
	return -1;
}

int
mg_fwd_nexthop_hold(struct mg_fwd *f, uint16_t net, const struct mg_ip *ip, struct mg_error *err)
{
	int i = iface_of_subnet(f, net, ip);
	char b[MG_IP_STRLEN];

	if (i < 0)
		return mg_error_set(err, EINVAL, "address",
				    "%s is not in a connected subnet of the network",
				    mg_ip_fmt(ip, b, sizeof(b)));
	return fwd_nbr_get(f, (uint16_t)i, ip, err) != NULL ? 0 : -err->code;
}

void
mg_fwd_nexthop_release(struct mg_fwd *f, uint16_t net, const struct mg_ip *ip)
{
	int i = iface_of_subnet(f, net, ip);
	struct nbr *n = i < 0 ? NULL : fwd_nbr_find(f, (uint16_t)i, ip);

	if (n != NULL)
		fwd_nbr_put(f, n);
}
