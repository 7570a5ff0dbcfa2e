/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_SVC_SETUP_H
#define MG_SVC_SETUP_H

/**
 * @file
 * The configuration file's services set up at start (main lcore): see
 * svc_setup.c. Runtime changes (REST, NSM) are not wired yet.
 */

#include "mg_config.h"
#include "mg_dp.h"
#include "mg_fwd.h"
#include "mg_model.h"
#include "mg_svc_rt.h"

/**
 * Create the service registry and the services of @p st, and route each
 * VIP to its service in the service's network. Needs the data plane and
 * the model's networks; before the workers start.
 * @return 0, or a negative errno with @p err set.
 */
int mg_svc_setup(struct mg_dp *dp, struct mg_fwd *fwd, const struct mg_model *m,
		 const struct mg_settings *st, struct mg_error *err);

/** Free the registry (workers stopped). */
void mg_svc_teardown(void);

/* ---- run-time control (main lcore; REST calls these) ------------------------------- */

/** A change to an endpoint: the fields whose has_ flag is set. */
struct mg_svc_ep_update {
	bool has_addr;
	struct mg_ip addr;   /**< Required for a new endpoint. */
	bool has_weight;
	uint32_t weight;     /**< New endpoints: 1 when not given. */
	bool has_up;
	bool up;             /**< New endpoints: true when not given. */
	bool has_port;
	uint16_t port;       /**< Nat mode: the new destination port (0: the packet's). */
};

/**
 * Add endpoint @p ep to service @p svc or change it, publish the new table
 * and free the old one after a grace period (waits for the workers' walk).
 * Weight and admin state changes keep the endpoint's flows on it (down
 * ends them); a new address or port makes it a new endpoint (its flows end).
 * @return 0 (1 if the endpoint was created), or a negative errno with
 *   @p err set (ENOENT: no such service; EINVAL: bad name or no address).
 */
int mg_svc_ctl_endpoint_put(struct mg_dp *dp, const char *svc, const char *ep,
			    const struct mg_svc_ep_update *u, struct mg_error *err);

/** Remove endpoint @p ep of @p svc (its flows end, "endpoint-removed"). 0 or -errno. */
int mg_svc_ctl_endpoint_del(struct mg_dp *dp, const char *svc, const char *ep,
			    struct mg_error *err);

/** An endpoint as the control plane shows it. */
struct mg_svc_ep_info {
	char name[MG_NAME_MAX];
	struct mg_ip addr;
	uint32_t weight;
	bool up;
	uint32_t lut_slots;          /**< Its slots of the Maglev table (share = / table_size). */
	uint16_t port;               /**< Nat mode: its port (0: the packet's). */
	struct mg_svc_ep_count c;    /**< Packets, bytes, flows since it was created. */
};

/** A service as the control plane shows it. */
struct mg_svc_info {
	char name[MG_NAME_MAX];
	char network[MG_NAME_MAX];
	const struct mg_ip *vips;
	unsigned int nvips;
	uint32_t table_size;
	uint8_t mode;                /**< enum mg_svc_mode. */
	uint64_t version;            /**< Tables published so far. */
	unsigned int neps;
	const struct mg_svc_ep_info *eps;
};

/**
 * Call @p cb for service @p name, or for every service when @p name is
 * NULL. @return the number of services visited, or -ENOENT for an unknown
 *   name.
 */
int mg_svc_ctl_walk(const char *name, void (*cb)(const struct mg_svc_info *si, void *arg),
		    void *arg);

/**
 * Add service @p sc at run time (as a services[] entry of the file would
 * be; @p sc->where may be empty): its VIP routes, endpoints held as next
 * hops, table published. @return 0, or a negative errno with @p err set
 * (ENOENT network, EEXIST name, EINVAL endpoint, ENOSPC ids or
 * adjacencies); nothing is left behind on failure.
 */
int mg_svc_ctl_service_add(const struct mg_svc_cfg *sc, struct mg_error *err);

/**
 * Remove service @p name: its VIP routes, table, counters and endpoint
 * holds; its flows end ("service-removed") as the workers sweep them.
 * Waits for a grace period. @return 0 or -ENOENT.
 */
int mg_svc_ctl_service_del(const char *name, struct mg_error *err);

/**
 * The MG_ADJ_SERVICE adjacency of service @p name (what its VIP routes lead
 * to; rule actions `service` use it as next hop) and its network in *@p net;
 * 0 when there is no such service.
 */
uint32_t mg_svc_ctl_adj(const char *name, uint16_t *net);

/** The flow tables' counters summed over the workers (zero without services). */
void mg_svc_ctl_flow_stats(struct mg_flow_stats *sum);

#endif /* MG_SVC_SETUP_H */
