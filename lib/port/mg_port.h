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
#include <stdio.h>

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
 * normalised to DDDD:BB:DD.F, "env:PCIDEVICE_X[#n]" and "k8s:ATTACHMENT" are
 * discovered (mg_port_discover_env(), mg_port_discover_k8s()), and a vdev
 * string is kept. Returns 0 or -errno with @p err set.
 */
int mg_port_resolve_device(const char *device, char *out, size_t size, struct mg_error *err);

/* ---- device discovery in a Kubernetes pod (discover.c) ---- */

/** Where the downward API's metadata.annotations file is, unless overridden. */
#define MG_PODINFO_ANNOTATIONS "/etc/podinfo/annotations"

/** Normalise a PCI address (BB:DD.F or DDDD:BB:DD.F) to DDDD:BB:DD.F; -EINVAL if not one. */
int mg_port_pci_normalise(const char *in, char *out, size_t size);

/**
 * "PCIDEVICE_X[#n]" (after "env:"): the n-th (default first) PCI address the
 * SR-IOV device plugin listed in PCIDEVICE_X. When PCIDEVICE_X_INFO (the
 * plugin's JSON object keyed by PCI address) is set too, both must name the
 * same devices; with only the JSON, its addresses in ascending order are the
 * list. Errors name the variable; the code is ENOENT only when neither
 * variable is set (not in the pod).
 */
int mg_port_discover_env(const char *spec, char *out, size_t size, struct mg_error *err);

/**
 * "[NAMESPACE/]NAME[@INTERFACE]" (after "k8s:"): the device-info.pci.pci-address
 * of the Multus attachment of that name (any namespace when none is given)
 * in the k8s.v1.cni.cncf.io/network-status annotation, read from the
 * downward API file $MESHGATE_PODINFO_ANNOTATIONS, default
 * MG_PODINFO_ANNOTATIONS. Errors name the file, annotation and attachment;
 * the code is ENOENT only when the file does not exist (not in the pod).
 */
int mg_port_discover_k8s(const char *spec, char *out, size_t size, struct mg_error *err);

/** A configured port, for mg_port_devices_check(). */
struct mg_port_devref {
	const char *name;           /**< Port name. */
	const char *device;         /**< Its device as configured. */
	const char *origin;         /**< FILE:LINE where it was declared. */
};

/**
 * Resolve the devices of @p n ports and check that no two are one PCI
 * device. Each problem goes to @p out as "ORIGIN: ports[NAME].device:
 * MESSAGE". With @p lenient (meshgate --check), a discovery source that does
 * not exist here (ENOENT: not in the pod) is printed as a warning and not
 * counted. Returns the number of errors.
 */
unsigned int mg_port_devices_check(const struct mg_port_devref *ports, unsigned int n,
				   bool lenient, FILE *out);

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
