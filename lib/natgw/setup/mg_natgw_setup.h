/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_NATGW_SETUP_H
#define MG_NATGW_SETUP_H

/**
 * @file
 * Gateways on the main lcore: the configuration file's at start (after
 * the services: published services name them), then created, replaced and
 * deleted at run time (REST) through the same call, mg_natgw_ctl_put, and
 * what the control plane shows of them.
 */

#include "mg_config.h"
#include "mg_dp.h"
#include "mg_fwd.h"
#include "mg_model.h"
#include "mg_natgw.h"

/**
 * Create the gateways of @p st (mg_natgw_ctl_put each) and keep what the
 * run-time calls need. Before the workers start.
 * @return 0, or a negative errno with @p err set (FILE:LINE in the message).
 */
int mg_natgw_setup(struct mg_dp *dp, struct mg_fwd *fwd, const struct mg_model *m,
		   const struct mg_settings *st, struct mg_error *err);

/** Free the registry (workers stopped). */
void mg_natgw_teardown(void);

/**
 * Create gateway @p c, or replace the gateway of that name (main lcore,
 * workers running or not; @p c checked by lib/config's parser). Its
 * record, SNAT port blocks, routes in the inside network (to its gateway
 * adjacency) and the outside network's nat flag. A replacement adds the
 * new routes before the old ones go, so no lookup misses; its sessions
 * go on when the translation is kept (mg_natgw.h). Hitless for the other
 * gateways' flows.
 * @return 1 (created), 0 (replaced), or a negative errno with @p err set
 *   (the field named as in the file); nothing changed on failure.
 */
int mg_natgw_ctl_put(const struct mg_gw_cfg *c, struct mg_error *err);

/**
 * Delete gateway @p name: its routes, published services and sessions
 * (stale: see mg_natgw.h), after a grace period its record and ports.
 * @return 0, or -ENOENT with @p err set.
 */
int mg_natgw_ctl_del(const char *name, struct mg_error *err);

/** Gateway @p name as it was asked for (file or REST), or NULL. */
const struct mg_gw_cfg *mg_natgw_ctl_cfg(const char *name);

/** True if a gateway publishes service @p service (its name into @p gw). */
bool mg_natgw_ctl_service_busy(const char *service, char *gw, size_t n);

/** A gateway as the control plane shows it. */
struct mg_natgw_info {
	const struct mg_natgw_gw *gw;   /**< Its data-plane record. */
	const struct mg_gw_cfg *cfg;    /**< As asked for. */
	char inside[MG_NAME_MAX];       /**< Network names. */
	char outside[MG_NAME_MAX];
	const struct mg_prefix *routes; /**< Its routes. */
	unsigned int nroutes;
	uint32_t ports_free;            /**< SNAT ports not in use (all workers). */
	uint32_t ports_total;           /**< SNAT ports in its range. */
};

/**
 * Call @p cb for gateway @p name, or every gateway when NULL.
 * @return the number visited, or -ENOENT for an unknown name.
 */
int mg_natgw_ctl_walk(const char *name, void (*cb)(const struct mg_natgw_info *gi, void *arg),
		      void *arg);

#endif /* MG_NATGW_SETUP_H */
