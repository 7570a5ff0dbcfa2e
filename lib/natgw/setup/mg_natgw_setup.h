/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_NATGW_SETUP_H
#define MG_NATGW_SETUP_H

/**
 * @file
 * The configuration file's gateways set up at start (main lcore, after the
 * services: published services name them), and what the control plane
 * shows of them.
 */

#include "mg_config.h"
#include "mg_dp.h"
#include "mg_fwd.h"
#include "mg_model.h"
#include "mg_natgw.h"

/**
 * Create the gateways of @p st: their SNAT port blocks, each route to a
 * gateway adjacency in the inside network, and the outside network's
 * nat flag. Before the workers start.
 * @return 0, or a negative errno with @p err set (FILE:LINE in the message).
 */
int mg_natgw_setup(struct mg_dp *dp, struct mg_fwd *fwd, const struct mg_model *m,
		   const struct mg_settings *st, struct mg_error *err);

/** Free the registry (workers stopped). */
void mg_natgw_teardown(void);

/** A gateway as the control plane shows it. */
struct mg_natgw_info {
	const struct mg_natgw_gw *gw;   /**< Its data-plane record. */
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
