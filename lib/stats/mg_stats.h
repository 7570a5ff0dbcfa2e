/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_STATS_H
#define MG_STATS_H

/**
 * @file
 * Counters as users read them: per port, per graph node, per drop reason and
 * for the gateway as a whole, summed over lcores. The main lcore takes a
 * snapshot (mg_stats_refresh) about once a second; readers on other threads
 * (DPDK telemetry) copy the last snapshot under a lock and never touch the
 * data plane.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mg_dp.h"

#define MG_STATS_MAX_NODES 32

struct mg_stats_port {
	char name[MG_NAME_MAX];
	uint16_t ethdev;
	bool link_up;
	uint32_t speed_mbps;
	/* From the device (rte_eth_stats). */
	uint64_t ipackets, opackets, ibytes, obytes, imissed, ierrors, oerrors, rx_nombuf;
	/* Counted by meshgate's nodes. */
	uint64_t rx_pkts, rx_bytes, tx_pkts, tx_bytes;
};

struct mg_stats_node {
	char name[RTE_NODE_NAMESIZE];
	uint64_t packets;
	uint64_t calls;
	uint64_t cycles;          /**< In sampled walks only. */
	uint64_t sampled_packets; /**< Packets of those walks: cycles/packet = cycles / this. */
};

struct mg_stats_worker {
	unsigned int lcore;
	uint64_t rx_pkts;
	uint64_t tx_pkts;
	uint64_t busy_walks;
	uint64_t idle_sleeps;
};

struct mg_stats {
	uint64_t taken_ns;
	struct mg_stats_worker per_worker[MG_MAX_WORKERS];
	unsigned int nports;
	struct mg_stats_port ports[MG_MAX_PORTS];
	unsigned int nnodes;
	struct mg_stats_node nodes[MG_STATS_MAX_NODES];
	uint64_t drops[MG_DROP_MAX];
	uint64_t drops_total;
	struct mg_lcore_stats sum;       /**< Every lcore's counters added up. */
	uint32_t neighbors;
	uint32_t adjacencies;
	uint32_t mbufs_free;
	uint32_t mbufs_total;
	unsigned int workers;
};

/** A port to report, as the caller knows it. */
struct mg_stats_port_ref {
	const char *name;
	uint16_t ethdev;
};

/** Collect a snapshot now (main lcore). */
void mg_stats_collect(struct mg_dp *dp, const struct mg_stats_port_ref *ports,
		      unsigned int nports, uint32_t neighbors, struct mg_stats *out);
/** Collect and publish the snapshot that telemetry readers see. */
void mg_stats_refresh(struct mg_dp *dp, const struct mg_stats_port_ref *ports,
		      unsigned int nports, uint32_t neighbors);
/** Copy the last published snapshot. */
void mg_stats_last(struct mg_stats *out);
/** Print a snapshot as tables. */
void mg_stats_print(FILE *f, const struct mg_stats *s);
/** Write a snapshot as one JSON object (ports, nodes, drops, gateway). */
void mg_stats_write_json(FILE *f, const struct mg_stats *s);
/**
 * Optional writer of more members of the JSON object (each starting with
 * ",\n  \"key\": "), called by mg_stats_write_json before it closes the
 * object, on the thread that writes (the main lcore). NULL: none.
 */
typedef void (*mg_stats_json_extra_t)(FILE *f, void *arg);
void mg_stats_set_json_extra(mg_stats_json_extra_t fn, void *arg);

/** Register the /meshgate/... telemetry commands. */
int mg_stats_telemetry_register(void);

#endif /* MG_STATS_H */
