/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Services from the configuration file at start: the registry with each
 * worker's flow table, one service per services[] entry (id = its index),
 * and a host route per VIP to a service adjacency that sends the VIP's
 * packets to the "service" node. Called by mg_gw after the model's routes
 * and neighbors are in place and before the workers start.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>

#include <rte_cycles.h>

#include "mg_svc_setup.h"
#include "mg_svc_rt.h"

int
mg_svc_setup(struct mg_dp *dp, const struct mg_model *m, const struct mg_settings *st,
	     struct mg_error *err)
{
	struct mg_svc_rt *rt;

	if (st->nservices == 0)
		return 0;
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
		for (unsigned int k = 0; k < sc->neps; k++) {
			struct mg_svc_endpoint_conf ec = {.addr = sc->eps[k].addr,
							  .weight = sc->eps[k].weight,
							  .up = sc->eps[k].up,
							  .tunnel = UINT32_MAX};

			mg_strlcpy(ec.name, sc->eps[k].name, sizeof(ec.name));
			if (mg_svc_endpoint_set(s, &ec, err) < 0) {
				mg_svc_destroy(s);
				mg_error_prefix_field(err, "services[%u].endpoints[%u]", i, k);
				return -EINVAL;
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
			int rc = mg_dp_route_add(dp, net->id, &p, adj);

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
}
