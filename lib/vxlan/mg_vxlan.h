/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_VXLAN_H
#define MG_VXLAN_H

/**
 * @file
 * VXLAN tunnels (RFC 7348): an interface of a network whose Ethernet frames
 * travel in UDP between two VTEP addresses of an underlay network, IPv4 or
 * IPv6 outer. The interface is an Ethernet link like a port: it has a MAC,
 * ARP and ND resolve neighbors over it, routes and connected subnets lead
 * into it. One remote VTEP per tunnel (point to point, as NSM's VXLAN
 * mechanism sets it up): broadcast and unknown unicast go to that VTEP.
 *
 * How it joins the graph: the interface's port is virtual
 * (MG_PORT_VIRT ^ ifindex, see mg_dp.h), so its adjacencies' rewrites carry
 * that port in mbuf->port like any L2 rewrite.
 *
 *   ipX-lookup (neighbor rewrite: inner Ethernet) ─► port-tx ─(virtual port)─► vxlan-encap
 *     ─► outer IP/UDP/VXLAN header ─► ip4/ip6-lookup in the underlay (MG_META_LOCAL)
 *   ipX-local (UDP to a VXLAN port) ─► vxlan-input ─► tunnel by (underlay, VTEPs, port, VNI)
 *     ─► outer header stripped, mbuf->port = the virtual port ─► eth-input
 *
 * ARP and ND frames of the main lcore take the same way out (inject ─►
 * port-tx), and received ones the same way in (eth-input punts them).
 *
 * Publication: tunnel records are immutable, published per ifindex with
 * release stores; the table vxlan-input searches (by VNI and remote VTEP)
 * is rebuilt and swapped on each change; old ones are freed after a grace period of the walk-level
 * QSBR (mg_dp_sync).
 *
 * Threading: functions are main lcore only; the inline accessors are for
 * workers within a walk.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_hash_crc.h>

#include "mg_common.h"
#include "mg_dp.h"

/* ---- wire format ---------------------------------------------------------------- */

enum {
	MG_VXLAN_PORT = 4789,       /**< IANA's VXLAN port. */
	MG_VXLAN_HLEN = 8,          /**< The VXLAN header. */
	MG_VXLAN_FLAG_I = 0x08,     /**< The VNI is valid (RFC 7348 5). */
	MG_VXLAN_VNI_MAX = 0xffffff,
	MG_VXLAN_SPORT_MIN = 49152, /**< Outer source ports: the dynamic range (RFC 7348 5). */
	/** Outer headers before the inner frame: IPv4 + UDP + VXLAN, IPv6 + UDP + VXLAN. */
	MG_VXLAN_OVERHEAD4 = 20 + 8 + MG_VXLAN_HLEN,
	MG_VXLAN_OVERHEAD6 = 40 + 8 + MG_VXLAN_HLEN,
	MG_VXLAN_TTL = 64,
};

/** The VXLAN header. */
struct mg_vxlan_hdr {
	uint8_t flags;              /**< MG_VXLAN_FLAG_I; the rest reserved. */
	uint8_t rsvd[3];
	rte_be32_t vni_rsvd;        /**< VNI in the upper 24 bits. */
} __rte_packed;

/* ---- the workers' view --------------------------------------------------------------- */

/** One tunnel as workers see it. Immutable once published. */
struct mg_vxlan_tun {
	uint16_t ifindex;           /**< Its interface (port MG_PORT_VIRT ^ ifindex). */
	uint16_t underlay;          /**< Network of the outer packets. */
	uint8_t family;             /**< Outer family: AF_INET or AF_INET6. */
	uint8_t pad;
	rte_be16_t port_be;         /**< UDP destination port (and ours), network order. */
	rte_be32_t vni_be;          /**< VNI << 8, network order, as in the header. */
	uint8_t local[16];          /**< Our VTEP address (IPv4: the first 4 bytes). */
	uint8_t remote[16];         /**< The peer's VTEP address. */
	uint32_t vni;
	char name[MG_NAME_MAX];
};

/**
 * What vxlan-input searches: every tunnel in an open-addressing table
 * (linear probing, at most half full, so a miss ends at an empty slot
 * soon), hashed on the VNI and the remote VTEP. Immutable once published.
 */
struct mg_vxlan_list {
	uint32_t n;                 /**< Tunnels. */
	uint32_t mask;              /**< Slots - 1 (a power of two, >= 2n). */
	const struct mg_vxlan_tun *t[];
};

/** The slot a tunnel's search starts at. */
static inline uint32_t
mg_vxlan_hash(rte_be32_t vni_be, const uint8_t *remote, size_t alen)
{
	uint32_t r;

	/* The address's last 4 bytes: IPv4's all, IPv6's interface-id end. */
	memcpy(&r, remote + alen - 4, 4);
	return rte_hash_crc_4byte(vni_be, rte_hash_crc_4byte(r, 0x9e3779b9u));
}

/**
 * The tunnel receiving a frame of underlay network @p net, outer @p family,
 * UDP destination @p port (network order), VNI field @p vni_be (VNI << 8,
 * network order), from @p src to @p dst (@p alen bytes each), or NULL.
 * Workers, within a walk.
 */
static inline const struct mg_vxlan_tun *
mg_vxlan_lookup(const struct mg_vxlan_list *l, uint16_t net, uint8_t family, rte_be16_t port,
		rte_be32_t vni_be, const uint8_t *src, const uint8_t *dst, size_t alen)
{
	uint32_t i = mg_vxlan_hash(vni_be, src, alen) & l->mask;
	const struct mg_vxlan_tun *t;

	for (; (t = l->t[i]) != NULL; i = (i + 1) & l->mask)
		if (t->vni_be == vni_be && t->port_be == port && t->underlay == net &&
		    t->family == family && memcmp(t->remote, src, alen) == 0 &&
		    memcmp(t->local, dst, alen) == 0)
			return t;
	return NULL;
}

/**
 * Build the search table of @p n tunnels (rte_zmalloc'd; rte_free it).
 * @return the table, or NULL when out of memory.
 */
struct mg_vxlan_list *mg_vxlan_list_build(const struct mg_vxlan_tun *const *t, uint32_t n);

/** Per-tunnel counters, one array per worker (summed when read). */
struct mg_vxlan_counters {
	uint64_t rx_pkts;           /**< Frames decapsulated into the tunnel's interface. */
	uint64_t rx_bytes;          /**< Their inner frame bytes. */
	uint64_t tx_pkts;           /**< Frames encapsulated. */
	uint64_t tx_bytes;          /**< Their inner frame bytes. */
	uint64_t tx_errors;         /**< Frames that could not be encapsulated (no room, tunnel gone). */
};

/** The gateway's VXLAN state. */
struct mg_vxlan {
	struct mg_vxlan_tun *tun[MG_MAX_IFACES];      /**< By ifindex (RCU slots). */
	struct mg_vxlan_list *list;                   /**< RCU slot. */
	uint64_t ports[65536 / 64];                   /**< UDP ports some tunnel uses. */
	struct mg_vxlan_counters *cnt[MG_MAX_WORKERS]; /**< MG_MAX_IFACES entries each. */
	/* Main lcore only. */
	struct mg_dp *dp;
	struct mg_vxlan_counters base[MG_MAX_IFACES]; /**< Counters when each slot was taken. */
	uint64_t next_snap_ns;                        /**< Next telemetry snapshot. */
};

/** True if some tunnel uses UDP port @p port_be (network order). Workers. */
static inline bool
mg_vxlan_port_used(const struct mg_vxlan *vx, rte_be16_t port_be)
{
	uint16_t p = rte_be_to_cpu_16(port_be);

	return (__atomic_load_n(&vx->ports[p >> 6], __ATOMIC_RELAXED) >> (p & 63)) & 1;
}

/** The tunnel record of interface @p ifindex, or NULL (workers, within a walk). */
static inline const struct mg_vxlan_tun *
mg_vxlan_tun(const struct mg_vxlan *vx, uint16_t ifindex)
{
	return ifindex < MG_MAX_IFACES ? __atomic_load_n(&vx->tun[ifindex], __ATOMIC_ACQUIRE)
				       : NULL;
}

/* ---- main lcore -------------------------------------------------------------------- */

/** A tunnel as the gateway sets it up. */
struct mg_vxlan_conf {
	uint16_t ifindex;
	uint16_t underlay;
	uint8_t family;             /**< Of local and remote. */
	uint8_t local[16];
	uint8_t remote[16];
	uint16_t port;              /**< UDP port; 0: MG_VXLAN_PORT. */
	uint32_t vni;               /**< 0..MG_VXLAN_VNI_MAX */
	char name[MG_NAME_MAX];
};

/** The VXLAN state of @p dp, created on first use; NULL with @p err filled. */
struct mg_vxlan *mg_vxlan_get(struct mg_dp *dp, struct mg_error *err);

/** Free everything (workers stopped). NULL is a no-op. */
void mg_vxlan_destroy(struct mg_vxlan *vx);

/**
 * Publish tunnel @p c. Refused (EEXIST, field "vni") when another tunnel
 * has the same underlay, VTEP addresses, port and VNI: vxlan-input could not
 * tell their packets apart.
 */
int mg_vxlan_tunnel_add(struct mg_vxlan *vx, const struct mg_vxlan_conf *c, struct mg_error *err);

/** Unpublish the tunnel of @p ifindex and free it after a grace period. */
void mg_vxlan_tunnel_del(struct mg_vxlan *vx, uint16_t ifindex);

/** Counters of tunnel @p ifindex since it was added, summed over the workers. */
void mg_vxlan_counters(const struct mg_vxlan *vx, uint16_t ifindex,
		       struct mg_vxlan_counters *out);

/**
 * Prometheus text for every tunnel: meshgate_vxlan_{rx,tx}_{packets,bytes}_total
 * and meshgate_vxlan_tx_errors_total, labels tunnel and vni. NULL: nothing.
 */
void mg_vxlan_metrics(const struct mg_vxlan *vx, FILE *f);

/**
 * Refresh the telemetry snapshot (/meshgate/vxlan) at most once a second;
 * registers the command on first use.
 */
void mg_vxlan_poll(struct mg_vxlan *vx, uint64_t now_ns);

#endif /* MG_VXLAN_H */
