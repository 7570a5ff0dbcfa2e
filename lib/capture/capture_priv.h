/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_CAPTURE_PRIV_H
#define MG_CAPTURE_PRIV_H

/* Shared by capture.c and trace.c. */

#include <pcap/dlt.h>

#include "mg_capture.h"
#include "mg_dp.h"

#define DLT_EN10MB_VALUE DLT_EN10MB

struct cap_rt;
struct mg_trace_rt;
struct trace_store;
struct rte_bpf;

#define CAP_RECORDS 32          /* running or stopped, until removed */

/* What the workers see: published in dp->capture. */
struct mg_cap_set {
	uint64_t node_mask;
	unsigned int n;
	struct cap_rt *c[MG_CAPTURE_MAX];
	struct mg_trace_rt *trace;      /* the running trace, or NULL */
	const struct mg_dp *dp;
};

struct cap;

struct mg_capture {
	struct mg_capture_env env;
	struct cap *caps;
	uint32_t next_id;
	struct rte_mempool *pool;
	struct mg_cap_set *set;
	uint64_t gen;
	uint64_t hz;
	rte_node_t eth_input, port_tx, drop, icmp4, icmp6, lookup4, lookup6;
	struct mg_trace_rt *trace_rt;   /* published with the set */
	struct trace_store *trace;      /* what the main lcore collected */
	unsigned int trace_gen;
};

int capture_publish(struct mg_capture *c);
int capture_compile_filter(const char *filter, int dlt, uint32_t snaplen, struct rte_bpf **bpf,
			   uint64_t (**jit)(void *), struct mg_error *err);
void mg_trace_node(struct mg_worker *w, struct mg_trace_rt *t, const struct mg_dp *dp,
		   rte_node_t node, void **objs, uint16_t n, uint64_t tsc);
void trace_drain(struct mg_capture *c);
void trace_destroy(struct mg_capture *c);

#endif
