/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_WORKERS_H
#define MG_WORKERS_H

/**
 * @file
 * Worker lcores: each runs its own rte_graph (run to completion over
 * bursts), reports RCU quiescence after every walk, and follows an idle
 * policy when no packets arrive, because pods share CPUs and a dataplane
 * spinning at 100% starves its neighbours:
 *
 *  - poll:      never yield (benchmarks);
 *  - pause:     rte_pause() after pause_after empty walks;
 *  - sleep:     pause, then after sleep_after empty walks sleep, doubling
 *               from sleep_min_us to sleep_max_us, offline for RCU;
 *  - interrupt: like sleep, but wait on RX interrupts where every queue of
 *               the worker has them (sleep_max_us is the longest wait).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mg_common.h"
#include "mg_config.h"

struct mg_dp;

struct mg_idle_conf {
	enum mg_idle_mode mode;
	uint32_t pause_polls;
	uint32_t sleep_polls;
	uint32_t sleep_min_us;
	uint32_t sleep_max_us;
};

/**
 * Bind the data plane's workers to lcores (@p lcores, or every EAL worker
 * lcore when @p n is 0), create their graphs and register them with RCU.
 */
int mg_workers_setup(struct mg_dp *dp, const unsigned int *lcores, unsigned int n,
		     const struct mg_idle_conf *idle, uint16_t burst, struct mg_error *err);
/** Start the worker loops. */
int mg_workers_launch(struct mg_dp *dp);
/** Ask the workers to stop and wait for them. */
void mg_workers_stop(struct mg_dp *dp);
/** Number of EAL worker lcores available (for sizing before setup). */
unsigned int mg_workers_available(void);

/**
 * Give the @p nb_rxq RX queues of @p ethdev to workers: queue q to worker
 * @p owner[q] (from mg_workers_place_rxqs()), or to worker q % n when
 * @p owner is NULL.
 */
int mg_workers_add_port(struct mg_dp *dp, uint16_t ethdev, uint16_t nb_rxq,
			const uint16_t *owner, bool rx_intr);

/** The most workers mg_workers_place_rxqs() considers. */
#define MG_PLACE_MAX_WORKERS 128

/**
 * NUMA placement (placement.c, no DPDK state): which worker polls each of
 * the @p nb_rxq RX queues of a port whose device is on NUMA node
 * @p port_node (negative: unknown, as for a vdev), given the node and lcore
 * of each of the @p nw workers. Queues go round robin over the workers on
 * the device's node; over all workers when none runs there. Writes the
 * worker index of queue q to @p owner[q]. Returns how many queues are polled
 * from another node (0: all local, or the node is unknown); then @p warn
 * (when not NULL) holds a sentence saying which lcores cross sockets and
 * what to change.
 */
unsigned int mg_workers_place_rxqs(const int *worker_node, const unsigned int *worker_lcore,
				   unsigned int nw, int port_node, uint16_t nb_rxq,
				   uint16_t *owner, char *warn, size_t wsize);
/** Take every RX queue of @p ethdev off the workers (waits a grace period). */
int mg_workers_del_port(struct mg_dp *dp, uint16_t ethdev);

/** The NUMA node of PCI device @p pci from @p sysfs ("/sys"); -1 if unknown. */
int mg_workers_pci_node(const char *sysfs, const char *pci);

/** A configured port, for mg_workers_numa_check(). */
struct mg_numa_port {
	const char *name;           /**< Port name. */
	const char *origin;         /**< FILE:LINE where it was declared. */
	const char *pci;            /**< Its resolved PCI address; NULL for a vdev. */
	uint16_t rx_queues;         /**< As configured; 0: one per worker. */
};

/**
 * For meshgate --check, before any EAL: the placement mg_workers_place_rxqs()
 * will make for each PCI port, from its node in @p sysfs and the nodes and
 * lcores of the @p nw workers the configuration gives. Prints
 * "ORIGIN: ports[NAME].device: warning: ..." to @p out for each port whose
 * queues would cross sockets; returns how many.
 */
unsigned int mg_workers_numa_check(const struct mg_numa_port *ports, unsigned int n,
				   const int *worker_node, const unsigned int *worker_lcore,
				   unsigned int nw, const char *sysfs, FILE *out);

#endif /* MG_WORKERS_H */
