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
#include "mg_model.h"

/**
 * Create the service registry and the services of @p st, and route each
 * VIP to its service in the service's network. Needs the data plane and
 * the model's networks; before the workers start.
 * @return 0, or a negative errno with @p err set.
 */
int mg_svc_setup(struct mg_dp *dp, const struct mg_model *m, const struct mg_settings *st,
		 struct mg_error *err);

/** Free the registry (workers stopped). */
void mg_svc_teardown(void);

#endif /* MG_SVC_SETUP_H */
