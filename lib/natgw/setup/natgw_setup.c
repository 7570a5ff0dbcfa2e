/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Gateways on the main lcore, at start: each gets its data-plane record
 * (lib/natgw), a gateway adjacency that its routes in the inside network
 * lead to (a RIB entry of the service source, so FIB rebuilds keep it), and
 * the outside network's nat flag (replies arrive there).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_cycles.h>

#include "mg_natgw_setup.h"
#include "mg_svc_rt.h"

/* What the main lcore keeps besides the data-plane records (by slot). */
static struct {
	struct mg_dp *dp;
	struct mg_fwd *fwd;
	const struct mg_model *model;
	uint32_t svc_flows;
	/* Each gateway as it was asked for (the control plane shows and saves it). */
	struct mg_gw_cfg cfg[MG_NATGW_MAX];
	/* Its adjacency (MG_ADJ_GATEWAY, ifindex = slot), 0 for a free slot. */
	uint32_t adj[MG_NATGW_MAX];
} S;

/* The first address of @family on an interface of network @net (the masquerade default). */
static bool
first_addr(const struct mg_model *m, uint16_t net, uint8_t family, struct mg_ip *out)
{
	for (uint16_t i = 0; i < mg_model_iface_max(); i++) {
		const struct mg_iface *ifc = mg_model_iface_get(m, i);

		if (ifc == NULL || ifc->network != net)
			continue;
		if (family == AF_INET && ifc->naddr4 > 0) {
			*out = ifc->addr4[0].addr;
			return true;
		}
		if (family == AF_INET6 && ifc->naddr6 > 0) {
			*out = ifc->addr6[0].addr;
			return true;
		}
	}
	return false;
}

/* Build the data-plane record of gateway @c (index @i); errors name @c->where. */
static int
gw_record(const struct mg_gw_cfg *c, unsigned int i, struct mg_svc_rt *rt,
	  struct mg_natgw_gw *g, struct mg_error *err)
{
	const struct mg_network *in = mg_model_network_find(S.model, c->inside);
	const struct mg_network *out = mg_model_network_find(S.model, c->outside);
	bool need4 = false, need6 = false;
	struct mg_ip a4 = c->snat4, a6 = c->snat6;

	memset(g, 0, sizeof(*g));
	if (in == NULL || out == NULL)
		return mg_error_set(err, ENOENT, in == NULL ? "inside" : "outside",
				    "%s: gateway %s: no network named %s", c->where, c->name,
				    in == NULL ? c->inside : c->outside);
	mg_strlcpy(g->name, c->name, sizeof(g->name));
	g->inside = in->id;
	g->outside = out->id;
	g->v6mode = c->ipv6;
	g->port_first = c->port_first;
	g->port_last = c->port_last;
	g->preserve = c->port_preserve;
	for (unsigned int k = 0; k < c->nroutes; k++) {
		need4 |= c->routes[k].addr.family == AF_INET;
		need6 |= c->routes[k].addr.family == AF_INET6 && c->ipv6 == MG_NATGW_V6_NAT66;
	}
	if (a4.family == 0)
		first_addr(S.model, out->id, AF_INET, &a4);
	if (a6.family == 0)
		first_addr(S.model, out->id, AF_INET6, &a6);
	if (a4.family == AF_INET) {
		g->has4 = 1;
		memcpy(g->addr4, &a4.v4, 4);
	} else if (need4) {
		return mg_error_set(err, EINVAL, "snat4",
				    "%s: gateway %s: IPv4 routes need an IPv4 address to masquerade "
				    "to: give snat4 or an IPv4 address to an interface of %s",
				    c->where, c->name, c->outside);
	}
	if (a6.family == AF_INET6) {
		g->has6 = 1;
		memcpy(g->addr6, a6.v6, 16);
	} else if (need6) {
		return mg_error_set(err, EINVAL, "snat6",
				    "%s: gateway %s: IPv6 routes with ipv6: nat66 need an IPv6 "
				    "address: give snat6 or an IPv6 address to an interface of %s",
				    c->where, c->name, c->outside);
	}
	if (c->ipv6 == MG_NATGW_V6_NPT6 &&
	    mg_npt6_init(&g->npt, c->npt_inside.addr.v6, c->npt_outside.addr.v6,
			 c->npt_inside.len) < 0)
		return mg_error_set(err, EINVAL, "npt6", "%s: gateway %s: bad NPTv6 prefixes",
				    c->where, c->name);
	g->nsrc = c->nsources;
	memcpy(g->src, c->sources, sizeof(g->src[0]) * c->nsources);
	for (unsigned int k = 0; k < c->npub; k++) {
		const struct mg_gw_pub_cfg *pc = &c->pub[k];
		struct mg_svc *s = rt != NULL ? mg_svc_rt_find(rt, pc->service) : NULL;
		char f[48];

		snprintf(f, sizeof(f), "publish[%u].service", k);
		if (s == NULL)
			return mg_error_set(err, ENOENT, f, "%s: gateway %s: no service named %s",
					    c->where, c->name, pc->service);
		for (int fam = 0; fam < 2; fam++) {
			struct mg_natgw_pub *p;
			const uint8_t family = fam ? AF_INET6 : AF_INET;

			if (pc->addr.family != 0 ? pc->addr.family != family
						 : !(fam ? g->has6 : g->has4))
				continue;
			if (g->npub >= MG_NATGW_MAX_PUBLISH)
				return mg_error_set(err, ENOSPC, "publish",
						    "%s: gateway %s: too many published services",
						    c->where, c->name);
			p = &g->pub[g->npub++];
			p->family = family;
			p->proto = pc->proto;
			p->port = rte_cpu_to_be_16(pc->port);
			p->svc = mg_svc_id(s);
			mg_strlcpy(p->service, pc->service, sizeof(p->service));
			if (pc->addr.family != 0)
				memcpy(p->addr, pc->addr.bytes, fam ? 16 : 4);
			else
				memcpy(p->addr, fam ? g->addr6 : g->addr4, fam ? 16 : 4);
		}
	}
	(void)i;
	return 0;
}

/* True if gateways @a and @b could hand out the same outside address and port. */
static bool
gw_clash(const struct mg_natgw_gw *a, const struct mg_natgw_gw *b)
{
	if (a->outside != b->outside || a->port_last < b->port_first ||
	    b->port_last < a->port_first)
		return false;
	return (a->has4 && b->has4 && memcmp(a->addr4, b->addr4, 4) == 0) ||
	       (a->has6 && b->has6 && memcmp(a->addr6, b->addr6, 16) == 0);
}

/* The other gateway whose route @p is in network @net, NULL if none (a service's VIP). */
static const char *
route_owner(uint16_t net, const struct mg_prefix *p)
{
	uint32_t adj = mg_fwd_service_route_owner(S.fwd, net, p);

	for (unsigned int i = 0; adj != 0 && i < MG_NATGW_MAX; i++)
		if (S.adj[i] == adj)
			return S.cfg[i].name;
	return NULL;
}

/* The error of route @p k of @p c that could not be added (@p rc, negative errno). */
static int
route_error(const struct mg_gw_cfg *c, uint16_t net, unsigned int k, int rc,
	    struct mg_error *err)
{
	const char *owner = rc == -EEXIST ? route_owner(net, &c->routes[k]) : NULL;
	char f[32], ctx[160], b[MG_PREFIX_STRLEN];

	snprintf(f, sizeof(f), "routes[%u]", k);
	snprintf(ctx, sizeof(ctx), "%s%sgateway %s: ", c->where, c->where[0] ? ": " : "", c->name);
	mg_prefix_fmt(&c->routes[k], b, sizeof(b));
	return owner != NULL ? mg_error_set(err, EEXIST, f, "%sroute %s is already gateway %s's",
					    ctx, b, owner)
			     : mg_fwd_prefix_error(&c->routes[k], rc, f, ctx, err);
}

/* Route @c's prefixes in network @net to adjacency @adj; on failure none stays. */
static int
routes_add(const struct mg_gw_cfg *c, uint16_t net, uint32_t adj, struct mg_error *err)
{
	/* A route that is another's is refused before any is added (traffic never sees it). */
	for (unsigned int k = 0; k < c->nroutes; k++)
		if (mg_fwd_service_route_taken(S.fwd, net, &c->routes[k], adj))
			return route_error(c, net, k, -EEXIST, err);
	for (unsigned int k = 0; k < c->nroutes; k++) {
		int rc = mg_fwd_service_route_add(S.fwd, net, &c->routes[k], adj);

		if (rc < 0) {
			rc = route_error(c, net, k, rc, err);
			for (unsigned int j = 0; j < k; j++)
				mg_fwd_service_route_del(S.fwd, net, &c->routes[j]);
			return rc;
		}
	}
	return 0;
}

static void
routes_del(const struct mg_gw_cfg *c, uint16_t net)
{
	for (unsigned int k = 0; k < c->nroutes; k++)
		mg_fwd_service_route_del(S.fwd, net, &c->routes[k]);
}

/* Count network @net as one where the nat node must look (+1 / -1). */
static void
nat_net_add(uint16_t net, int d)
{
	__atomic_store_n(&S.dp->nat_net[net], (uint8_t)(S.dp->nat_net[net] + d), __ATOMIC_RELEASE);
}

int
mg_natgw_ctl_put(const struct mg_gw_cfg *c, struct mg_error *err)
{
	struct mg_svc_rt *rt = mg_svc_rt_get();
	struct mg_natgw *ng;
	struct mg_natgw_gw g;
	int id, rc;

	if (S.dp == NULL)
		return mg_error_set(err, EIO, "", "gateways are not available");
	if (rt == NULL) {
		/* NAT flows live in lib/svc's flow tables, services or not. */
		rt = mg_svc_rt_create(S.dp->nb_workers, S.svc_flows, rte_get_tsc_hz(),
				      MG_SVC_RT_EXPORT_RING, SOCKET_ID_ANY, err);
		if (rt == NULL)
			return -(err->code ? err->code : ENOMEM);
	}
	ng = mg_natgw_ensure(S.dp->nb_workers);
	if (ng == NULL)
		return mg_error_set(err, ENOMEM, "", "no memory for the gateways");
	id = mg_natgw_find(ng, c->name);
	if ((rc = gw_record(c, 0, rt, &g, err)) < 0)
		return rc;
	for (unsigned int k = 0; k < MG_NATGW_MAX; k++) {
		const struct mg_natgw_gw *o = mg_natgw_slot(ng, k);

		if (o != NULL && (int)k != id && gw_clash(&g, o))
			return mg_error_set(err, EINVAL, "ports",
					    "%s%sgateway %s: same outside address as gateway %s "
					    "with overlapping ports: give disjoint ports",
					    c->where, c->where[0] ? ": " : "", c->name, o->name);
	}
	if (g.outside != (id >= 0 ? mg_natgw_slot(ng, (unsigned int)id)->outside : 0xffff) &&
	    S.dp->nat_net[g.outside] == UINT8_MAX)
		return mg_error_set(err, ENOSPC, "outside", "too many NAT users of network %s",
				    c->outside);
	if (id >= 0) {
		/* Replace: the new routes first (the same prefix is counted twice a
		 * moment: no lookup misses), the record, then the old routes go. */
		const struct mg_natgw_gw *old = mg_natgw_slot(ng, (unsigned int)id);
		uint16_t old_in = old->inside, old_out = old->outside;

		if ((rc = routes_add(c, g.inside, S.adj[id], err)) < 0)
			return rc;
		if ((rc = mg_natgw_put(ng, &g, id, err)) < 0) {
			routes_del(c, g.inside);
			return rc;
		}
		routes_del(&S.cfg[id], old_in);
		if (old_out != g.outside) {
			nat_net_add(g.outside, 1);
			nat_net_add(old_out, -1);
		}
		S.cfg[id] = *c;
		return 0;
	}
	/* Create: the record (its published services live at once), its adjacency, its routes. */
	if ((id = mg_natgw_put(ng, &g, -1, err)) < 0)
		return id;
	S.adj[id] = mg_dp_adj_alloc(S.dp, MG_ADJ_GATEWAY, 0, (uint16_t)id);
	if (S.adj[id] == 0) {
		mg_natgw_remove(ng, (unsigned int)id);
		return mg_error_set(err, ENOSPC, "name", "no adjacency left (limits.adjacencies)");
	}
	if ((rc = routes_add(c, g.inside, S.adj[id], err)) < 0) {
		mg_natgw_remove(ng, (unsigned int)id);
		mg_dp_adj_free(S.dp, S.adj[id]);
		S.adj[id] = 0;
		return rc;
	}
	nat_net_add(g.outside, 1);
	S.cfg[id] = *c;
	return 1;
}

int
mg_natgw_ctl_del(const char *name, struct mg_error *err)
{
	struct mg_natgw *ng = mg_natgw_get();
	const struct mg_natgw_gw *g;
	int id = mg_natgw_find(ng, name);

	if (id < 0)
		return mg_error_set(err, ENOENT, "name", "no gateway named %s", name);
	g = mg_natgw_slot(ng, (unsigned int)id);
	routes_del(&S.cfg[id], g->inside);
	nat_net_add(g->outside, -1);
	/* Packets looked up before the routes went may still reach the nat node: it
	 * finds no gateway in the slot once it is removed (a grace period follows). */
	mg_natgw_remove(ng, (unsigned int)id);
	mg_dp_adj_free(S.dp, S.adj[id]);
	S.adj[id] = 0;
	memset(&S.cfg[id], 0, sizeof(S.cfg[id]));
	return 0;
}

const struct mg_gw_cfg *
mg_natgw_ctl_cfg(const char *name)
{
	int id = mg_natgw_find(mg_natgw_get(), name);

	return id < 0 ? NULL : &S.cfg[id];
}

bool
mg_natgw_ctl_service_busy(const char *service, char *gw, size_t n)
{
	for (unsigned int i = 0; i < MG_NATGW_MAX; i++)
		for (unsigned int k = 0; S.adj[i] != 0 && k < S.cfg[i].npub; k++)
			if (strcmp(S.cfg[i].pub[k].service, service) == 0) {
				mg_strlcpy(gw, S.cfg[i].name, n);
				return true;
			}
	return false;
}

/*
 * True if @dir holds durable state (as lib/ctl's mg_ctl_state_exists, which
 * this library cannot call): then the saved gateways replace the file's.
 */
static bool
state_present(const char *dir)
{
	char path[512];
	struct stat sb;

	if (dir[0] == '\0')
		return false;
	snprintf(path, sizeof(path), "%s/snapshot.json", dir);
	if (access(path, F_OK) == 0)
		return true;
	snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
	return stat(path, &sb) == 0 && sb.st_size > 0;
}

int
mg_natgw_setup(struct mg_dp *dp, struct mg_fwd *fwd, const struct mg_model *m,
	       const struct mg_settings *st, struct mg_error *err)
{
	S.dp = dp;
	S.fwd = fwd;
	S.model = m;
	S.svc_flows = st->svc_flows;
	/* Restoring: the file's networks are not there, the saved gateways come later. */
	if (state_present(st->state_dir))
		return 0;
	for (unsigned int i = 0; i < st->ngateways; i++) {
		int rc = mg_natgw_ctl_put(&st->gateways[i], err);

		if (rc < 0) {
			mg_error_prefix_entry(err, "gateways", i);
			return rc;
		}
	}
	return 0;
}

void
mg_natgw_teardown(void)
{
	mg_natgw_destroy();
	memset(&S, 0, sizeof(S));
}

int
mg_natgw_ctl_walk(const char *name, void (*cb)(const struct mg_natgw_info *gi, void *arg),
		  void *arg)
{
	const struct mg_natgw *ng = mg_natgw_get();
	int n = 0;

	for (unsigned int i = 0; ng != NULL && S.model != NULL && i < MG_NATGW_MAX; i++) {
		const struct mg_natgw_gw *g = mg_natgw_slot(ng, i);
		const struct mg_network *in, *out;
		struct mg_natgw_info gi = {.gw = g, .cfg = &S.cfg[i], .routes = S.cfg[i].routes,
					   .nroutes = S.cfg[i].nroutes};

		if (g == NULL || (name != NULL && strcmp(name, g->name) != 0))
			continue;
		in = mg_model_network_get(S.model, g->inside);
		out = mg_model_network_get(S.model, g->outside);
		mg_strlcpy(gi.inside, in != NULL ? in->spec.name : "?", sizeof(gi.inside));
		mg_strlcpy(gi.outside, out != NULL ? out->spec.name : "?", sizeof(gi.outside));
		gi.ports_free = mg_natgw_ports_free(ng, i);
		gi.ports_total = (uint32_t)g->port_last - g->port_first + 1;
		cb(&gi, arg);
		n++;
	}
	if (name != NULL && n == 0)
		return -ENOENT;
	return n;
}
