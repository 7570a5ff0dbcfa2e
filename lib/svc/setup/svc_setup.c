/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Services from the configuration file at start: the registry with each
 * worker's flow table, one service per services[] entry (id = its index),
 * and a host route per VIP to a service adjacency that sends the VIP's
 * packets to the "service" node (a RIB entry of its own source, so FIB
 * rebuilds keep it and it outranks static routes to the same address). Called by mg_gw after the model's routes
 * and neighbors are in place and before the workers start.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_cycles.h>

#include "mg_svc_setup.h"
#include "mg_svc_rt.h"

/* The file's services (network and VIPs for the control plane), kept by mg_gw. */
static const struct mg_settings *setup_st;
/* Forwarding control: VIP routes, and endpoints held as next hops. */
static struct mg_fwd *setup_fwd;
/* Per service: its network id, and the address each endpoint slot holds as a next hop. */
static struct svc_hold {
	uint16_t net;
	struct mg_ip ep[MG_SVC_RT_MAX_EPS]; /* family 0: none */
} *holds;

/* Record that endpoint slot @slot of service @id holds @ip (NULL: nothing), releasing the old. */
static void
hold_record(uint16_t id, int slot, const struct mg_ip *ip)
{
	struct svc_hold *h = &holds[id];
	struct mg_ip old = h->ep[slot];

	if (ip != NULL)
		h->ep[slot] = *ip;
	else
		memset(&h->ep[slot], 0, sizeof(h->ep[slot]));
	if (old.family != 0)
		mg_fwd_nexthop_release(setup_fwd, h->net, &old);
}

/* Hold endpoint slot @slot's address @ip of service @id (releasing what it held). */
static int
hold_set(uint16_t id, int slot, const struct mg_ip *ip, struct mg_error *err)
{
	int rc = mg_fwd_nexthop_hold(setup_fwd, holds[id].net, ip, err);

	if (rc < 0)
		return rc;
	hold_record(id, slot, ip);
	return 0;
}

int
mg_svc_setup(struct mg_dp *dp, struct mg_fwd *fwd, const struct mg_model *m,
	     const struct mg_settings *st, struct mg_error *err)
{
	struct mg_svc_rt *rt;

	if (st->nservices == 0)
		return 0;
	setup_st = st;
	setup_fwd = fwd;
	holds = calloc(st->nservices, sizeof(*holds));
	if (holds == NULL)
		return mg_error_set(err, ENOMEM, "services", "out of memory");
	rt = mg_svc_rt_create(dp->nb_workers, st->svc_flows, rte_get_tsc_hz(), 0, SOCKET_ID_ANY,
			      err);
	if (rt == NULL)
		return -(err->code ? err->code : ENOMEM);
	for (unsigned int i = 0; i < st->nservices; i++) {
		const struct mg_svc_cfg *sc = &st->services[i];
		const struct mg_network *net = mg_model_network_find(m, sc->network);
		struct mg_svc_table *old = NULL;
		struct mg_svc *s;
		uint32_t adj;

		if (net == NULL)
			return mg_error_set(err, ENOENT, "services", "%s: service %s: no network %s",
					    sc->where, sc->name, sc->network);
		s = mg_svc_create((uint16_t)i, sc->name, MG_SVC_ROUTE, sc->table_size, err);
		if (s == NULL) {
			mg_error_prefix_field(err, "services[%u]", i);
			return -EINVAL;
		}
		holds[i].net = net->id;
		for (unsigned int k = 0; k < sc->neps; k++) {
			struct mg_svc_endpoint_conf ec = {.addr = sc->eps[k].addr,
							  .weight = sc->eps[k].weight,
							  .up = sc->eps[k].up,
							  .tunnel = UINT32_MAX};
			int slot;

			mg_strlcpy(ec.name, sc->eps[k].name, sizeof(ec.name));
			slot = mg_svc_endpoint_set(s, &ec, err);
			if (slot < 0 || slot >= MG_SVC_RT_MAX_EPS ||
			    hold_set((uint16_t)i, slot, &ec.addr, err) < 0) {
				char f[96], msg[256];

				snprintf(f, sizeof(f), "services[%u].endpoints[%u].%s", i, k,
					 err->field);
				snprintf(msg, sizeof(msg), "%s: service %s, endpoint %s: %s (network %s)",
					 sc->where, sc->name, ec.name, err->msg, sc->network);
				mg_svc_destroy(s);
				return mg_error_set(err, EINVAL, f, "%s", msg);
			}
		}
		if (mg_svc_rt_publish(rt, s, &old, err) < 0) {
			mg_svc_destroy(s);
			return -ENOMEM;
		}
		adj = mg_dp_adj_alloc(dp, MG_ADJ_SERVICE, 0, (uint16_t)i);
		if (adj == 0)
			return mg_error_set(err, ENOSPC, "limits.adjacencies",
					    "no adjacency left for service %s", sc->name);
		for (unsigned int v = 0; v < sc->nvips; v++) {
			struct mg_prefix p = {.addr = sc->vips[v],
					      .len = sc->vips[v].family == AF_INET ? 32 : 128};
			int rc = mg_fwd_service_route_add(fwd, net->id, &p, adj);

			if (rc < 0)
				return mg_error_set(err, -rc, "services",
						    "%s: service %s: cannot route vip %u: %s",
						    sc->where, sc->name, v, strerror(-rc));
		}
	}
	return 0;
}

void
mg_svc_teardown(void)
{
	mg_svc_rt_destroy(mg_svc_rt_get());
	setup_st = NULL;
	setup_fwd = NULL;
	free(holds);
	holds = NULL;
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
	/* Slots fill lowest first: below the limit in count, below it in slot. */
	if (created && mg_svc_endpoint_count(s) >= MG_SVC_RT_MAX_EPS)
		return mg_error_set(err, ENOSPC, "name", "service %s has %u endpoints already", svc,
				    MG_SVC_RT_MAX_EPS);
	if (c.addr.family != AF_INET && c.addr.family != AF_INET6)
		return mg_error_set(err, EINVAL, "address", "a new endpoint needs an address");
	/* The endpoint is a next hop: hold it so ARP/ND resolves and keeps it.
	 * Taken first, so a refused address changes nothing. */
	rc = mg_fwd_nexthop_hold(setup_fwd, holds[mg_svc_id(s)].net, &c.addr, err);
	if (rc < 0)
		return rc;
	rc = mg_svc_endpoint_set(s, &c, err);
	if (rc < 0 || rc >= MG_SVC_RT_MAX_EPS) {
		mg_fwd_nexthop_release(setup_fwd, holds[mg_svc_id(s)].net, &c.addr);
		return rc < 0 ? rc : mg_error_set(err, ENOSPC, "name", "too many endpoints");
	}
	hold_record(mg_svc_id(s), rc, &c.addr);
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

	for (unsigned int id = 0; rt != NULL && setup_st != NULL && id < setup_st->nservices;
	     id++) {
		const struct mg_svc_table *t = rt->tables[id];
		const struct mg_svc_cfg *sc = &setup_st->services[id];
		struct mg_svc_info si;

		if (t == NULL || (name != NULL && strcmp(t->name, name) != 0))
			continue;
		memset(&si, 0, sizeof(si));
		mg_strlcpy(si.name, t->name, sizeof(si.name));
		mg_strlcpy(si.network, sc->network, sizeof(si.network));
		si.vips = sc->vips;
		si.nvips = sc->nvips;
		si.table_size = t->size;
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
