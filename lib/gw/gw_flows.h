/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_GW_FLOWS_H
#define MG_GW_FLOWS_H

/*
 * The data plane side of flow tracking and flow history: each network's
 * tracker (lib/flow mg_ct.h) published in dp->ct[net] as its `flows:`
 * settings say, and the history (mg_flowlog.h) that the main lcore fills
 * from the trackers' export rings and the service flow tables'. Main lcore
 * only.
 */

#include <stdint.h>

#include "mg_common.h"

struct mg_dp;
struct mg_model;
struct mg_flows_spec;
struct mg_settings;

/**
 * Create the flow history (flow_history: size and export) and remember
 * @p m for names. @return 0, or -errno with @p err ("flow_history.*").
 */
int mg_gw_flows_init(struct mg_dp *dp, const struct mg_model *m, const struct mg_settings *st,
		     struct mg_error *err);

/**
 * Make network @p net track flows as @p fs says (enabled false: not at all).
 * When a tracker of the same size exists, its flows stay and only its
 * settings change; otherwise a new one is built and published and the old
 * one's flows end ("flush") into the history after a grace period.
 * @return 0, or -errno with @p err (the old state stays).
 */
int mg_gw_flows_set(struct mg_dp *dp, uint16_t net, const struct mg_flows_spec *fs,
		    struct mg_error *err);

/** Move ended flows into the history and export them (main loop, every pass). */
unsigned int mg_gw_flows_poll(struct mg_dp *dp);

/** Stop tracking everywhere, flows to the history, free the history (workers stopped). */
void mg_gw_flows_destroy(struct mg_dp *dp);

#endif /* MG_GW_FLOWS_H */
