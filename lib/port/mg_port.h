/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_PORT_H
#define MG_PORT_H

/**
 * @file
 * Ports: turning a configured device (a PCI address, an SR-IOV resource in
 * the environment, or a vdev) into a started ethdev with one RX queue per
 * worker (RSS spreads flows over them) and one TX queue per worker, and the
 * mbuf pools they draw from (one per NUMA node in use).
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>

#include "mg_common.h"

struct mg_dp;

struct mg_port_conf {
	const char *name;           /**< Port name, for messages. */
	const char *devargs;        /**< Resolved: PCI address or vdev string. */
	uint16_t mtu;
	const struct rte_ether_addr *mac; /**< NULL: keep the device's. */
	uint16_t rx_queues;         /**< 0: one per worker. */
	uint16_t rx_desc;           /**< 0: 1024. */
	uint16_t tx_desc;           /**< 0: 1024. */
	bool promiscuous;
	bool rx_interrupts;         /**< Request RX queue interrupts (idle mode). */
	unsigned int nb_workers;
};

struct mg_port_info {
	uint16_t ethdev;
	struct rte_ether_addr mac;
	uint16_t nb_rxq;
	uint16_t nb_txq;
	int socket;
	bool vdev;                  /**< Probed by us: removed on close. */
	bool rx_interrupts;         /**< RX interrupts are armed-capable. */
	bool vlan_filter;           /**< The device filters VLANs (add each one). */
	char driver[32];
};

/**
 * Turn a configured device string into DPDK devargs: a PCI address is
 * normalised to DDDD:BB:DD.F, "env:PCIDEVICE_X[#n]" reads the n-th
 * (default first) address of that variable, as the SR-IOV device plugin
 * sets it, and a vdev string is kept. Returns 0 or -errno with @p err set.
 */
int mg_port_resolve_device(const char *device, char *out, size_t size, struct mg_error *err);

/** True if @p devargs names a PCI device. */
bool mg_port_is_pci(const char *devargs);

/** Probe (vdev) or find (PCI), configure, start. 0 or -errno with @p err set. */
int mg_port_open(struct mg_dp *dp, const struct mg_port_conf *c, struct mg_port_info *info,
		 struct mg_error *err);
/** Stop, close and (for vdevs) remove. The caller has taken its queues off the workers. */
void mg_port_close(struct mg_dp *dp, uint16_t ethdev, bool remove);
/** Add or remove a VLAN in the device's filter when it has one. */
int mg_port_vlan(uint16_t ethdev, uint16_t vlan, bool on);
/** Log link changes; call about once a second. */
void mg_port_poll_link(struct mg_dp *dp);

/**
 * Create one mbuf pool per NUMA node in @p sockets (the nodes of the lcores
 * and devices in use, as libnuma reports them).
 */
int mg_port_pools_create(struct mg_dp *dp, uint32_t nb_mbufs, uint32_t cache,
			 uint32_t data_room, const int *sockets, unsigned int nsockets,
			 struct mg_error *err);
void mg_port_pools_free(struct mg_dp *dp);

/** The NUMA node of an lcore, from libnuma (0 when NUMA is not available). */
int mg_port_lcore_node(unsigned int lcore);

#endif /* MG_PORT_H */
