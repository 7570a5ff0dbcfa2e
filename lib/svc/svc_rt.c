/* SPDX-License-Identifier: BSD-3-Clause */
/* The run-time registry of services: published tables and per-worker flow tables. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <rte_malloc.h>

#include "mg_svc_rt.h"

static struct mg_svc_rt *the_rt;

struct mg_svc_rt *
mg_svc_rt_get(void)
{
	return __atomic_load_n(&the_rt, __ATOMIC_ACQUIRE);
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
					 .worker = (uint16_t)w, .socket = socket};

		snprintf(c.name, sizeof(c.name), "svcw%u", w);
		rt->flows[w] = mg_flow_table_create(&c, err);
		if (rt->flows[w] == NULL) {
			mg_error_prefix_field(err, "services.flows");
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
	for (unsigned int i = 0; i < MG_SVC_MAX_SERVICES; i++)
		mg_svc_destroy(rt->svcs[i]); /* frees its published table too */
	rte_free(rt);
}

int
mg_svc_rt_publish(struct mg_svc_rt *rt, struct mg_svc *s, struct mg_svc_table **old,
		  struct mg_error *err)
{
	uint16_t id = mg_svc_id(s);
	int rc;

	if (rt->svcs[id] != NULL && rt->svcs[id] != s)
		return mg_error_set(err, EEXIST, "id", "service id %u is taken", id);
	rc = mg_svc_commit(s, old, err);
	if (rc < 0)
		return rc;
	rt->svcs[id] = s;
	__atomic_store_n(&rt->tables[id], mg_svc_table_get(s), __ATOMIC_RELEASE);
	return 0;
}
