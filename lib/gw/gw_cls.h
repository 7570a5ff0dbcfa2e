/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_GW_CLS_H
#define MG_GW_CLS_H

/*
 * The data plane side of classification rules: the model's rule list of a
 * network (mg_rules.h) compiled into one lib/cls table per family and
 * published in dp->cls[net][family]. Main lcore only.
 */

#include <stdint.h>
#include <stdio.h>

#include "mg_common.h"

struct mg_dp;
struct mg_ruleset;
struct mg_model;

/**
 * Install network @p net's rules (@p rs NULL: none). Both families' tables
 * are built before either is published; a refusal (rte_acl cannot fit the
 * set, no memory) changes nothing. Counters of rule ids that stay carry over.
 * @return 0, or -errno with @p err.
 */
int mg_gw_cls_set(struct mg_dp *dp, uint16_t net, const struct mg_ruleset *rs,
		  struct mg_error *err);

/** Re-divide police rates between workers after their traffic; call every ~100 ms. */
void mg_gw_cls_rebalance(struct mg_dp *dp);

/**
 * Write the counters of every network's rules as a member of the stats JSON
 * object (",\n  \"rules\": {NETWORK: {\"default\"|ID: {...}}}"). Main lcore.
 */
void mg_gw_cls_write_json(FILE *f, struct mg_dp *dp, const struct mg_model *m);

/** Copy the rule counters for the /meshgate/rules telemetry command (main lcore, ~1/s). */
void mg_gw_cls_refresh(struct mg_dp *dp, const struct mg_model *m);

/** Register /meshgate/rules. 0 or a negative errno. */
int mg_gw_cls_telemetry_register(void);

/** Drop every rule set (at exit, workers stopped). */
void mg_gw_cls_destroy(struct mg_dp *dp);

#endif /* MG_GW_CLS_H */
