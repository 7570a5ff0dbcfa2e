/* SPDX-License-Identifier: BSD-3-Clause */
/* The run-time registry of services: published tables and per-worker flow tables. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_malloc.h>

#include "mg_svc_rt.h"

static struct mg_svc_rt *the_rt;

struct mg_svc_rt *
mg_svc_rt_get(void)
{
	return __atomic_load_n(&the_rt, __ATOMIC_ACQUIRE);
}

/* A flow ended (worker): count it for its endpoint, unless the endpoint is gone. */
static void
rt_on_end(const struct mg_flow_record *r, void *arg)
{
	struct mg_svc_rt *rt = arg;
	uint16_t id = r->svc & (MG_SVC_MAX_SERVICES - 1);
	const struct mg_svc_table *t = mg_svc_rt_table(rt, id);
	struct mg_svc_ep_count *c;
	enum mg_flow_end st;

	/* A NAT flow gives its port back (lib/natgw's hook, owner worker). */
	if (r->nat_gw != 0) {
		void (*hook)(const struct mg_flow_record *, void *) =
			__atomic_load_n(&rt->nat_end, __ATOMIC_ACQUIRE);

		if (hook != NULL)
			hook(r, rt->nat_end_arg);
	}
	if (r->svc == MG_FLOW_SVC_NONE)
		return;
	/* The table first: while this walk holds it, the counters exist too
	 * (they are freed a grace period after the table is unpublished). */
	if (t == NULL)
		return;
	st = mg_svc_ref_state(t, r->ep);
	c = mg_svc_rt_epc(rt, r->worker, id, mg_svc_ref_slot(r->ep));
	if (c != NULL && (st == MG_FLOW_END_NONE || st == MG_FLOW_END_ENDPOINT_DOWN))
		c->flows_end++;
}

struct mg_svc_rt *
mg_svc_rt_create(unsigned int nb_workers, uint32_t flows, uint64_t hz, uint32_t export_ring,
		 int socket, struct mg_error *err)
{
	struct mg_svc_rt *rt;

	if (nb_workers == 0 || nb_workers > MG_SVC_RT_MAX_WORKERS) {
		mg_error_set(err, EINVAL, "workers", "must be 1..%u", MG_SVC_RT_MAX_WORKERS);
		return NULL;
	}
	rt = rte_zmalloc_socket("mg_svc_rt", sizeof(*rt), RTE_CACHE_LINE_SIZE, socket);
	if (rt == NULL) {
		mg_error_set(err, ENOMEM, "", "no memory for the service registry");
		return NULL;
	}
	rt->nb_workers = nb_workers;
	for (unsigned int w = 0; w < nb_workers; w++) {
		struct mg_flow_conf c = {.capacity = flows, .hz = hz, .export_ring = export_ring,
					 .worker = (uint16_t)w, .socket = socket,
					 .on_end = rt_on_end, .on_end_arg = rt};

		snprintf(c.name, sizeof(c.name), "svcw%u", w);
		rt->flows[w] = mg_flow_table_create(&c, err);
		if (rt->flows[w] == NULL) {
			/* Both callers size the tables by limits.service_flows: the
			 * setting to change (a service's own fields are not the cause). */
			snprintf(err->field, sizeof(err->field), "limits.service_flows");
			mg_svc_rt_destroy(rt);
			return NULL;
		}
	}
	__atomic_store_n(&the_rt, rt, __ATOMIC_RELEASE);
	return rt;
}

void
mg_svc_rt_destroy(struct mg_svc_rt *rt)
{
	if (rt == NULL)
		return;
	if (the_rt == rt)
		__atomic_store_n(&the_rt, NULL, __ATOMIC_RELEASE);
	for (unsigned int w = 0; w < MG_SVC_RT_MAX_WORKERS; w++)
		mg_flow_table_destroy(rt->flows[w]);
	for (unsigned int i = 0; i < MG_SVC_MAX_SERVICES; i++) {
		mg_svc_destroy(rt->svcs[i]); /* frees its published table too */
		rte_free(rt->epc[i]);
		rte_free(rt->base[i]);
	}
	rte_free(rt);
}

int
mg_svc_rt_publish(struct mg_svc_rt *rt, struct mg_svc *s, struct mg_svc_table **old,
		  struct mg_error *err)
{
	uint16_t id = mg_svc_id(s);
	int rc;

	const struct mg_svc_table *prev = rt->tables[id], *t;

	if (rt->svcs[id] != NULL && rt->svcs[id] != s)
		return mg_error_set(err, EEXIST, "id", "service id %u is taken", id);
	if (rt->epc[id] == NULL) {
		rt->epc[id] = rte_zmalloc("mg_svc_epc", (size_t)rt->nb_workers * MG_SVC_RT_MAX_EPS *
							 sizeof(struct mg_svc_ep_count),
					  RTE_CACHE_LINE_SIZE);
		rt->base[id] = rte_zmalloc("mg_svc_base",
					   MG_SVC_RT_MAX_EPS * sizeof(struct mg_svc_ep_count), 0);
		if (rt->epc[id] == NULL || rt->base[id] == NULL)
			return mg_error_set(err, ENOMEM, "", "no memory for the counters of service %u",
					    id);
	}
	/* Counters cover MG_SVC_RT_MAX_EPS slots. */
	if (mg_svc_slot_span(s) > MG_SVC_RT_MAX_EPS)
		return mg_error_set(err, ENOSPC, "endpoints",
				    "a service has at most %u endpoints at run time",
				    MG_SVC_RT_MAX_EPS);
	rc = mg_svc_commit(s, old, err);
	if (rc < 0)
		return rc;
	t = mg_svc_table_get(s);
	/* A new endpoint in a slot starts its counters from the current sums. */
	for (uint16_t i = 0; i < t->n_slots; i++) {
		uint32_t ref = t->ep[i].ref;

		if (ref != MG_SVC_REF_NONE &&
		    (prev == NULL || i >= prev->n_slots || prev->ep[i].ref != ref)) {
			struct mg_svc_ep_count now = {0};

			rt->base[id][i] = now;
			mg_svc_rt_ep_counters(rt, id, i, &now);
			rt->base[id][i] = now;
		}
	}
	rt->svcs[id] = s;
	__atomic_store_n(&rt->tables[id], t, __ATOMIC_RELEASE);
	return 0;
}

void
mg_svc_rt_ep_counters(const struct mg_svc_rt *rt, uint16_t id, uint16_t slot,
		      struct mg_svc_ep_count *out)
{
	const struct mg_svc_ep_count *c = rt->epc[id & (MG_SVC_MAX_SERVICES - 1)];
	const struct mg_svc_ep_count *b = rt->base[id & (MG_SVC_MAX_SERVICES - 1)];

	memset(out, 0, sizeof(*out));
	if (c == NULL || slot >= MG_SVC_RT_MAX_EPS)
		return;
	for (unsigned int w = 0; w < rt->nb_workers; w++) {
		const struct mg_svc_ep_count *x = &c[w * MG_SVC_RT_MAX_EPS + slot];

		out->pkts += __atomic_load_n(&x->pkts, __ATOMIC_RELAXED);
		out->bytes += __atomic_load_n(&x->bytes, __ATOMIC_RELAXED);
		out->flows_new += __atomic_load_n(&x->flows_new, __ATOMIC_RELAXED);
		out->flows_end += __atomic_load_n(&x->flows_end, __ATOMIC_RELAXED);
	}
	out->pkts -= b[slot].pkts;
	out->bytes -= b[slot].bytes;
	out->flows_new -= b[slot].flows_new;
	out->flows_end -= b[slot].flows_end;
}

struct mg_svc *
mg_svc_rt_find(const struct mg_svc_rt *rt, const char *name)
{
	for (unsigned int i = 0; i < MG_SVC_MAX_SERVICES; i++) {
		const struct mg_svc_table *t = rt->tables[i];

		if (rt->svcs[i] != NULL && t != NULL && strcmp(t->name, name) == 0)
			return rt->svcs[i];
	}
	return NULL;
}

struct mg_svc *
mg_svc_rt_unpublish(struct mg_svc_rt *rt, uint16_t id)
{
	struct mg_svc *s = rt->svcs[id];

	if (rt->tables[id] != NULL)
		mg_strlcpy(rt->names[id], rt->tables[id]->name, sizeof(rt->names[id]));
	__atomic_store_n(&rt->tables[id], NULL, __ATOMIC_RELEASE);
	rt->svcs[id] = NULL;
	return s;
}

const char *
mg_svc_rt_name(const struct mg_svc_rt *rt, uint16_t id)
{
	if (id >= MG_SVC_MAX_SERVICES)
		return "";
	return rt->tables[id] != NULL ? rt->tables[id]->name : rt->names[id];
}

void
mg_svc_rt_counters_free(struct mg_svc_rt *rt, uint16_t id)
{
	struct mg_svc_ep_count *c = rt->epc[id], *b = rt->base[id];

	/* Flows of the service still in the flow tables end later: their
	 * callback finds no counters (rt_on_end checks for NULL). */
	__atomic_store_n(&rt->epc[id], NULL, __ATOMIC_RELEASE);
	rt->base[id] = NULL;
	rte_free(c);
	rte_free(b);
}

void
mg_svc_rt_housekeep(unsigned int w, unsigned int budget)
{
	struct mg_svc_rt *rt = mg_svc_rt_get();

	if (rt == NULL || w >= rt->nb_workers)
		return;
	mg_flow_expire(rt->flows[w], rte_rdtsc(), budget, mg_svc_flow_check, (void *)rt->tables);
}
