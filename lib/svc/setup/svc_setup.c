/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Services on the main lcore: the file's services at start, and services
 * and endpoints added, changed and removed at run time (REST). Each service
 * has a host route per VIP to a service adjacency that sends the VIP's
 * packets to the "service" node (a RIB entry of its own source, so FIB
 * rebuilds keep it and it outranks static routes to the same address), and
 * holds each endpoint as a next hop so ARP/ND resolves it.
 *
 * Service ids: fresh ones first, then the removed services' ids, the
 * longest removed first, so an id comes back only after every other was
 * used since (4096 creations): flows of a removed service have long been
 * swept by then, and a later one's history entry is not taken for the new
 * service's. See also gen_floor below.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_cycles.h>

#include "mg_natgw.h"
#include "mg_svc_setup.h"
#include "mg_svc_rt.h"

/* What the main lcore keeps of a service besides lib/svc's objects. */
struct svc_meta {
	char name[MG_NAME_MAX];
	char network[MG_NAME_MAX];
	uint16_t net;
	uint8_t mode;                         /* enum mg_svc_mode */
	bool nat_net;                         /* counted in dp->nat_net[net] */
	uint32_t adj;                         /* the VIPs' service adjacency */
	struct mg_ip vips[MG_CFG_MAX_SVC_VIPS];
	unsigned int nvips;
	struct mg_ip ep[MG_SVC_RT_MAX_EPS];   /* each endpoint slot's held next hop (family 0: none) */
};

/* Set by mg_svc_setup; the registry itself is created with the first service. */
static struct {
	struct mg_dp *dp;
	struct mg_fwd *fwd;
	const struct mg_model *model;
	uint32_t flows;
	uint16_t next_id;
	struct svc_meta *meta[MG_SVC_MAX_SERVICES];
	/*
	 * Ids of removed services, a FIFO (free_head, nfree), reused once no
	 * fresh id is left, so that a gateway whose services come and go never
	 * runs out of them. Flows of a removed service may still sit in the
	 * workers' flow tables with references (id, slot, generation): the next
	 * service with that id starts its slot generations after the old ones
	 * (gen_floor, modulo 256), so those references match none of its
	 * endpoints and the flows end as soon as they are looked at.
	 */
	uint16_t free_ids[MG_SVC_MAX_SERVICES];
	unsigned int free_head, nfree;
	uint8_t gen_floor[MG_SVC_MAX_SERVICES];
} S;

/* A service id: a fresh one while there are, else the one removed longest ago. */
static uint16_t
id_take(void)
{
	uint16_t id;

	if (S.next_id < MG_SVC_MAX_SERVICES)
		return S.next_id++;
	id = S.free_ids[S.free_head];
	S.free_head = (S.free_head + 1) % MG_SVC_MAX_SERVICES;
	S.nfree--;
	return id;
}

/* Id @id is free again (the last in line). */
static void
id_give(uint16_t id)
{
	S.free_ids[(S.free_head + S.nfree++) % MG_SVC_MAX_SERVICES] = id;
}

/* Record that endpoint slot @slot of service @id holds @ip (NULL: nothing), releasing the old. */
static void
hold_record(uint16_t id, int slot, const struct mg_ip *ip)
{
	struct svc_meta *h = S.meta[id];
	struct mg_ip old = h->ep[slot];

	if (ip != NULL)
		h->ep[slot] = *ip;
	else
		memset(&h->ep[slot], 0, sizeof(h->ep[slot]));
	if (old.family != 0)
		mg_fwd_nexthop_release(S.fwd, h->net, &old);
}

/* Hold endpoint slot @slot's address @ip of service @id (releasing what it held). */
static int
hold_set(uint16_t id, int slot, const struct mg_ip *ip, struct mg_error *err)
{
	int rc = mg_fwd_nexthop_hold(S.fwd, S.meta[id]->net, ip, err);

	if (rc < 0)
		return rc;
	hold_record(id, slot, ip);
	return 0;
}

/* Undo what svc_add did for service @id, all of it or in part (main lcore). */
static void
svc_remove(uint16_t id)
{
	struct mg_svc_rt *rt = mg_svc_rt_get();
	struct svc_meta *h = S.meta[id];
	struct mg_svc *s;

	if (h == NULL)
		return;
	for (unsigned int v = 0; v < h->nvips && h->adj != 0; v++) {
		struct mg_prefix p = {.addr = h->vips[v],
				      .len = h->vips[v].family == AF_INET ? 32 : 128};

		mg_fwd_service_route_del(S.fwd, h->net, &p);
	}
	/* No lookup sends a packet to the service now, but a packet looked up
	 * earlier in a worker's current walk may still be on its way to the
	 * service node: let those walks end before the table goes, then again
	 * before freeing what a walk may hold (table, adjacency, counters). */
	if (h->adj != 0)
		mg_dp_sync(S.dp);
	s = rt != NULL ? mg_svc_rt_unpublish(rt, id) : NULL;
	if (s != NULL)
		S.gen_floor[id] = mg_svc_gen_max(s);
	mg_dp_sync(S.dp);
	if (h->adj != 0)
		mg_dp_adj_free(S.dp, h->adj);
	if (h->nat_net)
		__atomic_store_n(&S.dp->nat_net[h->net], (uint8_t)(S.dp->nat_net[h->net] - 1),
				 __ATOMIC_RELEASE);
	if (rt != NULL)
		mg_svc_rt_counters_free(rt, id);
	mg_svc_destroy(s);
	for (unsigned int i = 0; i < MG_SVC_RT_MAX_EPS; i++)
		if (h->ep[i].family != 0)
			hold_record(id, (int)i, NULL);
	free(h);
	S.meta[id] = NULL;
	id_give(id);
}

/* The service whose VIP @p is in network @net, NULL if none (a gateway's route). */
static const char *
vip_owner(uint16_t net, const struct mg_prefix *p)
{
	uint32_t adj = mg_fwd_service_route_owner(S.fwd, net, p);

	for (unsigned int i = 0; adj != 0 && i < MG_SVC_MAX_SERVICES; i++)
		if (S.meta[i] != NULL && S.meta[i]->adj == adj)
			return S.meta[i]->name;
	return NULL;
}

/* The prefix of VIP @p v of @p sc. */
static struct mg_prefix
vip_prefix(const struct mg_svc_cfg *sc, unsigned int v)
{
	return (struct mg_prefix){.addr = sc->vips[v],
				  .len = sc->vips[v].family == AF_INET ? 32 : 128};
}

/* The error of VIP @p v of @p sc that could not be routed (@p rc, negative errno). */
static int
vip_error(const struct mg_svc_cfg *sc, const char *field, uint16_t net, unsigned int v, int rc,
	  struct mg_error *err)
{
	struct mg_prefix p = vip_prefix(sc, v);
	const char *owner = rc == -EEXIST ? vip_owner(net, &p) : NULL;
	char f[96], ctx[160], a[MG_IP_STRLEN];

	snprintf(f, sizeof(f), "%svips[%u]", field, v);
	snprintf(ctx, sizeof(ctx), "%s%sservice %s: ", sc->where, sc->where[0] ? ": " : "",
		 sc->name);
	if (owner != NULL)
		return mg_error_set(err, EEXIST, f, "%sVIP %s is already service %s's", ctx,
				    mg_ip_fmt(&p.addr, a, sizeof(a)), owner);
	return mg_fwd_prefix_error(&p, rc, f, ctx, err);
}

/* Add service @sc (checked by the caller for syntax); its errors name @where. */
static int
svc_add(const struct mg_svc_cfg *sc, const char *field, struct mg_error *err)
{
	struct mg_svc_rt *rt = mg_svc_rt_get();
	const struct mg_network *net = mg_model_network_find(S.model, sc->network);
	struct mg_svc_table *old = NULL;
	struct svc_meta *h;
	struct mg_svc *s;
	uint16_t id;
	char f[96];

	if (net == NULL)
		return mg_error_set(err, ENOENT, "network", "%s%sno network named %s", sc->where,
				    sc->where[0] ? ": " : "", sc->network);
	if (rt != NULL && mg_svc_rt_find(rt, sc->name) != NULL)
		return mg_error_set(err, EEXIST, "name", "service %s exists", sc->name);
	if (S.nfree == 0 && S.next_id >= MG_SVC_MAX_SERVICES)
		return mg_error_set(err, ENOSPC, "name", "the service table is full (at most %u)",
				    MG_SVC_MAX_SERVICES);
	/*
	 * A VIP that is another's is refused before any is routed (traffic never
	 * sees it), and so is one of meshgate's own addresses: the local route
	 * outranks the service's, which would never see a packet.
	 */
	for (unsigned int v = 0; v < sc->nvips; v++) {
		struct mg_prefix p = vip_prefix(sc, v);
		const struct mg_iface *own = mg_model_addr_owner(S.model, net->id, &p.addr);
		char a[MG_IP_STRLEN];

		if (mg_fwd_service_route_taken(S.fwd, net->id, &p, 0))
			return vip_error(sc, field, net->id, v, -EEXIST, err);
		if (own != NULL) {
			snprintf(f, sizeof(f), "%svips[%u]", field, v);
			return mg_error_set(err, EEXIST, f, "%s%sservice %s: VIP %s is an address of "
					    "interface %s", sc->where, sc->where[0] ? ": " : "",
					    sc->name, mg_ip_fmt(&p.addr, a, sizeof(a)), own->name);
		}
	}
	if (rt == NULL) {
		/* Ended flows leave records for the flow history (lib/gw/gw_flows.c drains them). */
		rt = mg_svc_rt_create(S.dp->nb_workers, S.flows, rte_get_tsc_hz(),
				      MG_SVC_RT_EXPORT_RING, SOCKET_ID_ANY, err);
		if (rt == NULL)
			return -(err->code ? err->code : ENOMEM);
	}
	id = id_take();
	h = calloc(1, sizeof(*h));
	s = mg_svc_create(id, sc->name, sc->mode == MG_SVC_NAT ? MG_SVC_NAT : MG_SVC_ROUTE,
			  sc->table_size, err);
	if (s != NULL)
		mg_svc_gen_start(s, S.gen_floor[id]);
	if (h == NULL || s == NULL) {
		free(h);
		mg_svc_destroy(s);
		id_give(id);
		return h == NULL ? mg_error_set(err, ENOMEM, "", "out of memory") : -EINVAL;
	}
	S.meta[id] = h;
	mg_strlcpy(h->name, sc->name, sizeof(h->name));
	mg_strlcpy(h->network, sc->network, sizeof(h->network));
	h->net = net->id;
	h->mode = sc->mode;
	memcpy(h->vips, sc->vips, sizeof(h->vips));
	h->nvips = sc->nvips;
	for (unsigned int k = 0; k < sc->neps; k++) {
		struct mg_svc_endpoint_conf ec = {.addr = sc->eps[k].addr,
						  .weight = sc->eps[k].weight,
						  .up = sc->eps[k].up, .tunnel = UINT32_MAX,
						  .port = sc->eps[k].port};
		int slot;

		mg_strlcpy(ec.name, sc->eps[k].name, sizeof(ec.name));
		slot = mg_svc_endpoint_set(s, &ec, err);
		if (slot < 0 || slot >= MG_SVC_RT_MAX_EPS ||
		    hold_set(id, slot, &ec.addr, err) < 0) {
			char msg[256];
			/* A full table (endpoints, neighbors, adjacencies) stays a full table. */
			int code = slot >= MG_SVC_RT_MAX_EPS || (slot >= 0 && err->code == ENOSPC)
					   ? ENOSPC : EINVAL;

			snprintf(f, sizeof(f), "%sendpoints[%u].%s", field, k,
				 slot < 0 ? err->field : "address");
			snprintf(msg, sizeof(msg), "%s%sservice %s, endpoint %s: %s (network %s)",
				 sc->where, sc->where[0] ? ": " : "", sc->name, ec.name,
				 slot < MG_SVC_RT_MAX_EPS ? err->msg : "too many endpoints",
				 sc->network);
			mg_svc_destroy(s);
			svc_remove(id);
			return mg_error_set(err, code, f, "%s", msg);
		}
		if (sc->mode == MG_SVC_NAT && mg_natgw_ensure(S.dp->nb_workers) != NULL)
			mg_natgw_endpoint_mark(mg_natgw_get(), h->net, &ec.addr);
	}
	if (mg_svc_rt_publish(rt, s, &old, err) < 0) {
		mg_svc_destroy(s);
		svc_remove(id);
		return -ENOMEM;
	}
	if (sc->mode == MG_SVC_NAT) {
		/* Replies arrive in the service's network: the nat node sees its packets. */
		if (mg_natgw_ensure(S.dp->nb_workers) == NULL || S.dp->nat_net[h->net] == UINT8_MAX) {
			svc_remove(id);
			return mg_error_set(err, ENOMEM, "", "no memory for NAT");
		}
		h->nat_net = true;
		__atomic_store_n(&S.dp->nat_net[h->net], (uint8_t)(S.dp->nat_net[h->net] + 1),
				 __ATOMIC_RELEASE);
	}
	h->adj = mg_dp_adj_alloc(S.dp, MG_ADJ_SERVICE, 0, id);
	if (h->adj == 0) {
		svc_remove(id);
		return mg_error_set(err, ENOSPC, "", "no adjacency left (limits.adjacencies)");
	}
	for (unsigned int v = 0; v < sc->nvips; v++) {
		struct mg_prefix p = vip_prefix(sc, v);
		int rc = mg_fwd_service_route_add(S.fwd, net->id, &p, h->adj);

		if (rc < 0) {
			/* The error first: vip_owner reads the routes svc_remove takes. */
			rc = vip_error(sc, field, net->id, v, rc, err);
			h->nvips = v; /* the routes added so far */
			svc_remove(id);
			return rc;
		}
	}
	return 0;
}

int
mg_svc_setup(struct mg_dp *dp, struct mg_fwd *fwd, const struct mg_model *m,
	     const struct mg_settings *st, struct mg_error *err)
{
	S.dp = dp;
	S.fwd = fwd;
	S.model = m;
	S.flows = st->svc_flows;
	for (unsigned int i = 0; i < st->nservices; i++) {
		char field[32];
		int rc;

		snprintf(field, sizeof(field), "services[%u].", i);
		rc = svc_add(&st->services[i], field, err);
		if (rc < 0) {
			mg_error_prefix_entry(err, "services", i);
			return rc;
		}
	}
	return 0;
}

void
mg_svc_teardown(void)
{
	mg_svc_rt_destroy(mg_svc_rt_get());
	for (unsigned int i = 0; i < MG_SVC_MAX_SERVICES; i++) {
		free(S.meta[i]);
		S.meta[i] = NULL;
	}
	S.dp = NULL;
	S.fwd = NULL;
	/* The flow tables went with the registry: ids start afresh. */
	S.next_id = 0;
	S.nfree = 0;
	S.free_head = 0;
	memset(S.gen_floor, 0, sizeof(S.gen_floor));
}

int
mg_svc_ctl_service_add(const struct mg_svc_cfg *sc, struct mg_error *err)
{
	if (S.dp == NULL)
		return mg_error_set(err, EIO, "", "services are not available");
	return svc_add(sc, "", err);
}

int
mg_svc_ctl_service_del(const char *name, struct mg_error *err)
{
	struct mg_svc_rt *rt = mg_svc_rt_get();
	struct mg_svc *s = rt != NULL ? mg_svc_rt_find(rt, name) : NULL;

	if (s == NULL)
		return mg_error_set(err, ENOENT, "name", "no service named %s", name);
	svc_remove(mg_svc_id(s));
	return 0;
}

uint32_t
mg_svc_ctl_adj(const char *name, uint16_t *net)
{
	struct mg_svc_rt *rt = mg_svc_rt_get();
	struct mg_svc *s = rt != NULL ? mg_svc_rt_find(rt, name) : NULL;
	const struct svc_meta *h = s != NULL ? S.meta[mg_svc_id(s)] : NULL;

	if (h == NULL)
		return 0;
	*net = h->net;
	return h->adj;
}

static struct mg_svc *
find(const char *svc, struct mg_error *err)
{
	struct mg_svc_rt *rt = mg_svc_rt_get();
	struct mg_svc *s = rt ? mg_svc_rt_find(rt, svc) : NULL;

	if (s == NULL)
		mg_error_set(err, ENOENT, "service", "no service named %s", svc);
	return s;
}

/* Publish @s's staged state; free the table it replaces after a grace period. */
static int
republish(struct mg_dp *dp, struct mg_svc *s, struct mg_error *err)
{
	struct mg_svc_table *old = NULL;
	int rc = mg_svc_rt_publish(mg_svc_rt_get(), s, &old, err);

	if (rc < 0)
		return rc;
	if (old != NULL) {
		/* Workers may hold @old until the end of their current walk. */
		mg_dp_sync(dp);
		mg_svc_table_free(old);
	}
	return 0;
}

int
mg_svc_ctl_endpoint_put(struct mg_dp *dp, const char *svc, const char *ep,
			const struct mg_svc_ep_update *u, struct mg_error *err)
{
	struct mg_svc *s = find(svc, err);
	struct mg_svc_endpoint_conf c = {.weight = 1, .up = true, .tunnel = UINT32_MAX};
	bool created;
	int rc;

	if (s == NULL)
		return -ENOENT;
	created = mg_svc_endpoint_get(s, ep, &c) < 0;
	if (created && !u->has_addr)
		return mg_error_set(err, EINVAL, "address", "a new endpoint needs an address");
	if (!mg_strlcpy(c.name, ep, sizeof(c.name)) || !mg_name_valid(c.name))
		return mg_error_set(err, EINVAL, "name", "must be 1-31 of A-Z a-z 0-9 _ - . :");
	if (u->has_addr)
		c.addr = u->addr;
	if (u->has_weight)
		c.weight = u->weight;
	if (u->has_up)
		c.up = u->up;
	if (u->has_port && u->port != 0 && mg_svc_get_mode(s) != MG_SVC_NAT)
		/* As the file says it: a route-mode packet keeps its port. */
		return mg_error_set(err, EINVAL, "port",
				    "an endpoint port needs the service's mode: nat");
	if (u->has_port)
		c.port = u->port;
	/* Slots fill lowest first: below the limit in count, below it in slot. */
	if (created && mg_svc_endpoint_count(s) >= MG_SVC_RT_MAX_EPS)
		return mg_error_set(err, ENOSPC, "name",
				    "the endpoint table of service %s is full (at most %u endpoints)",
				    svc, MG_SVC_RT_MAX_EPS);
	if (c.addr.family != AF_INET && c.addr.family != AF_INET6)
		return mg_error_set(err, EINVAL, "address", "a new endpoint needs an address");
	/* The endpoint is a next hop: hold it so ARP/ND resolves and keeps it.
	 * Taken first, so a refused address changes nothing. */
	rc = mg_fwd_nexthop_hold(S.fwd, S.meta[mg_svc_id(s)]->net, &c.addr, err);
	if (rc < 0)
		return rc;
	rc = mg_svc_endpoint_set(s, &c, err);
	if (rc < 0 || rc >= MG_SVC_RT_MAX_EPS) {
		mg_fwd_nexthop_release(S.fwd, S.meta[mg_svc_id(s)]->net, &c.addr);
		return rc < 0 ? rc : mg_error_set(err, ENOSPC, "name", "too many endpoints");
	}
	hold_record(mg_svc_id(s), rc, &c.addr);
	if (S.meta[mg_svc_id(s)]->mode == MG_SVC_NAT && mg_natgw_get() != NULL)
		mg_natgw_endpoint_mark(mg_natgw_get(), S.meta[mg_svc_id(s)]->net, &c.addr);
	rc = republish(dp, s, err);
	if (rc < 0)
		return rc;
	return created ? 1 : 0;
}

int
mg_svc_ctl_endpoint_del(struct mg_dp *dp, const char *svc, const char *ep, struct mg_error *err)
{
	struct mg_svc *s = find(svc, err);
	int rc;

	if (s == NULL)
		return -ENOENT;
	int slot = mg_svc_endpoint_get(s, ep, NULL);

	rc = mg_svc_endpoint_del(s, ep, err);
	if (rc < 0) {
		mg_strlcpy(err->field, "endpoint", sizeof(err->field));
		return rc;
	}
	rc = republish(dp, s, err);
	if (rc == 0 && slot >= 0 && slot < MG_SVC_RT_MAX_EPS)
		hold_record(mg_svc_id(s), slot, NULL);
	return rc;
}

int
mg_svc_ctl_walk(const char *name, void (*cb)(const struct mg_svc_info *si, void *arg), void *arg)
{
	static struct mg_svc_ep_info eps[MG_SVC_RT_MAX_EPS];
	struct mg_svc_rt *rt = mg_svc_rt_get();
	int n = 0;

	for (unsigned int id = 0; rt != NULL && id < MG_SVC_MAX_SERVICES; id++) {
		const struct mg_svc_table *t = rt->tables[id];
		const struct svc_meta *h = S.meta[id];
		struct mg_svc_info si;

		if (t == NULL || h == NULL || (name != NULL && strcmp(t->name, name) != 0))
			continue;
		memset(&si, 0, sizeof(si));
		mg_strlcpy(si.name, t->name, sizeof(si.name));
		mg_strlcpy(si.network, h->network, sizeof(si.network));
		si.vips = h->vips;
		si.nvips = h->nvips;
		si.table_size = t->size;
		si.mode = t->mode;
		si.version = t->version;
		si.eps = eps;
		for (uint16_t i = 0; i < t->n_slots && si.neps < MG_SVC_RT_MAX_EPS; i++) {
			const struct mg_svc_ep *e = &t->ep[i];
			struct mg_svc_ep_info *x = &eps[si.neps];

			if (e->ref == MG_SVC_REF_NONE)
				continue;
			memset(x, 0, sizeof(*x));
			mg_strlcpy(x->name, e->name, sizeof(x->name));
			x->addr = e->addr;
			x->weight = e->weight;
			x->up = e->up;
			x->lut_slots = e->lut_slots;
			x->port = rte_be_to_cpu_16(e->port);
			mg_svc_rt_ep_counters(rt, (uint16_t)id, i, &x->c);
			si.neps++;
		}
		cb(&si, arg);
		n++;
	}
	if (name != NULL && n == 0)
		return -ENOENT;
	return n;
}

void
mg_svc_ctl_flow_stats(struct mg_flow_stats *sum)
{
	const struct mg_svc_rt *rt = mg_svc_rt_get();

	memset(sum, 0, sizeof(*sum));
	for (unsigned int w = 0; rt != NULL && w < rt->nb_workers; w++) {
		const uint64_t *x = (const uint64_t *)mg_flow_table_stats(rt->flows[w]);
		uint64_t *y = (uint64_t *)sum;

		/* Every field is a uint64_t (read while the worker writes: each one whole). */
		for (size_t i = 0; i < sizeof(*sum) / sizeof(uint64_t); i++)
			y[i] += __atomic_load_n(&x[i], __ATOMIC_RELAXED);
	}
}
