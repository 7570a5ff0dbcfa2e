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
struct mg_rule;
struct mg_model;

/**
 * Where `service` and `tunnel` rule actions lead: the gateway resolves them
 * to adjacencies that ipX-lookup takes as the packet's next hop
 * (MG_META_NEXTHOP): a service's MG_ADJ_SERVICE adjacency, an adjacency of
 * type MG_ADJ_WG / MG_ADJ_ESP into a point-to-point tunnel, or the neighbor
 * adjacency of a held next hop on a VXLAN tunnel. What target() takes,
 * release() gives back (after the rules that used it are unpublished).
 */
struct mg_gw_cls_targets {
	void *ctx;
	/**
	 * The adjacency for rule @p r's action (service or tunnel) in network
	 * @p net for packets of @p family. 0 with *adj 0: not resolvable yet
	 * (services before they are set up: the rules are installed again
	 * then); -errno with @p err (field relative to the rule).
	 */
	int (*target)(void *ctx, uint16_t net, const struct mg_rule *r, uint8_t family,
		      uint32_t *adj, struct mg_error *err);
	/** Give back what target() took for @p r (no-op for services). */
	void (*release)(void *ctx, uint16_t net, const struct mg_rule *r, uint8_t family,
			uint32_t adj);
};

/** Set the resolver of service and tunnel actions (before any rule set with them). */
void mg_gw_cls_set_targets(const struct mg_gw_cls_targets *t);

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
