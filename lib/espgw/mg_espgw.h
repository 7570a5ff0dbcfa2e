/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_ESPGW_H
#define MG_ESPGW_H

/**
 * @file
 * The gateway's IPsec ESP tunnels: turns the model's ESP tunnels
 * (struct mg_esp_tunnel) into lib/esp SAs and the records the worker nodes
 * (lib/nodes/node_esp.c) read, and runs their lifetimes on the main lcore.
 *
 * Data path (one worker, see node_esp.c):
 *   ip4/ip6-lookup ─(adjacency MG_ADJ_ESP: TTL, tunnel MTU, ICMP too-big)─► esp-output
 *     ─► encrypt with the tunnel's outbound SA of the packet's family ─► port-tx, the
 *        L2 header of the remote endpoint's neighbor written by esp-output (its
 *        adjacency in the underlay, resolved once per run); ip4/ip6-lookup in the
 *        underlay network instead when that is no complete neighbor or the outer
 *        packet is over its MTU (outer header, MG_META_LOCAL)
 *   ip4/ip6-local (ESP, or UDP to the NAT-T port) ─► esp-input ─► decrypt (SA by SPI,
 *     handed to its owner worker if another) ─► ip4/ip6-lookup in the tunnel's network
 *   esp-handoff (source): packets other workers handed to this one ─► same as esp-input
 *
 * Publication: a tunnel record is immutable except its outbound slots
 * (struct mg_esp_out, switched atomically for a rekey). Records are
 * published per interface index with release stores and freed after an RCU
 * grace period of the walk-level QSBR (struct mg_dp.rcu), which lib/esp
 * also uses for its SAs.
 *
 * Keys: copied from the model into lib/esp's SAs, which wipe them when
 * freed; nothing here logs or prints them (the JSON view is lib/esp's
 * redacted one).
 *
 * Threading: every function here is main lcore only, except the inline
 * accessors for workers.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mg_dp.h"
#include "mg_esp.h"
#include "mg_model.h"

/** The workers' view of one tunnel. */
struct mg_espgw_tun {
	uint16_t ifindex;            /**< The tunnel interface. */
	uint16_t network;            /**< Inner network: decrypted packets are routed there. */
	uint16_t underlay;           /**< Outer network: ESP packets are routed there. */
	uint8_t outer_family;        /**< AF_INET / AF_INET6. */
	uint32_t gen;                /**< Generation of this ifindex slot (see mg_espgw_sa_user). */
	uint16_t mss[2];             /**< TCP MSS clamp for inner IPv4 [0] and IPv6 [1]; 0: off. */
	struct mg_esp_out out[2];    /**< Outbound SA for inner IPv4 [0] and IPv6 [1]. */
	/* Main lcore only. */
	struct mg_esp_sa *in[2];     /**< Inbound SAs by inner family. */
	char name[MG_NAME_MAX];      /**< Interface name. */
	struct mg_ip local;          /**< Our outer address. */
	uint64_t events[4];          /**< Soft, hard, retired events seen (by enum mg_esp_event_type). */
};

/**
 * The tunnel endpoints of this gateway, for eth-input's shortcut: ESP (raw
 * or on the NAT-T port, IKE's non-ESP marker excepted) to one of these
 * addresses, received in its network, goes straight to esp-input instead of
 * through ipX-lookup and ipX-local, which would send it there (packets for
 * other addresses, IPv6 packets with extension headers, and every packet of
 * a network with classification rules, take the long way).
 * Immutable once published; replaced with RCU when tunnels come and go.
 */
#define MG_ESPGW_LOCALS 16
struct mg_espgw_locals {
	uint32_t n;                  /**< IPv4 entries (the first MG_ESPGW_LOCALS endpoints). */
	uint32_t n6;                 /**< IPv6 entries (likewise). */
	struct {
		uint32_t addr;       /**< Local outer address, network order. */
		uint16_t net;        /**< Its (underlay) network. */
	} e[MG_ESPGW_LOCALS];
	struct {
		uint8_t addr[16];    /**< Local outer IPv6 address. */
		uint16_t net;        /**< Its (underlay) network. */
	} e6[MG_ESPGW_LOCALS];
};

/** The gateway's ESP state. */
struct mg_espgw {
	struct mg_esp *esp;                         /**< lib/esp context. */
	struct mg_esp_worker *wk[MG_MAX_WORKERS];   /**< Per-worker handles. */
	struct mg_espgw_tun *tun[MG_MAX_IFACES];    /**< By ifindex (RCU slots). */
	struct mg_espgw_locals *locals;             /**< Endpoints (RCU), or NULL without tunnels. */
	/* Main lcore only. */
	struct mg_dp *dp;
	uint32_t gens[MG_MAX_IFACES];               /**< Tunnels each slot has held. */
	uint64_t next_poll_ns;
	uint64_t next_snap_ns;   /**< Next telemetry snapshot (/meshgate/esp). */
};

/** The tunnel record of interface @p ifindex, or NULL (workers, within a walk). */
static inline struct mg_espgw_tun *
mg_espgw_tun(const struct mg_espgw *eg, uint16_t ifindex)
{
	return __atomic_load_n(&eg->tun[ifindex], __ATOMIC_ACQUIRE);
}

/** The lib/esp "user" value of a tunnel's SAs: its ifindex and slot generation. */
static inline uint64_t
mg_espgw_sa_user(uint16_t ifindex, uint32_t gen)
{
	return (uint64_t)gen << 16 | ifindex;
}

/**
 * The tunnel an SA's user value names, or NULL when that tunnel is gone
 * (its slot empty or holding a later tunnel). Workers, within a walk.
 */
static inline struct mg_espgw_tun *
mg_espgw_tun_of(const struct mg_espgw *eg, uint64_t user)
{
	uint16_t ifx = (uint16_t)user;
	struct mg_espgw_tun *r = ifx < MG_MAX_IFACES ? mg_espgw_tun(eg, ifx) : NULL;

	return r != NULL && r->gen == (uint32_t)(user >> 16) ? r : NULL;
}

/**
 * The ESP state of @p dp, created on first use (it starts lib/esp, which
 * picks the crypto devices: reported in the log). NULL with @p err filled.
 */
struct mg_espgw *mg_espgw_get(struct mg_dp *dp, struct mg_error *err);

/** Free everything (workers stopped). NULL is a no-op. */
void mg_espgw_destroy(struct mg_espgw *eg);

/**
 * Bring up tunnel @p t on interface @p ifindex: create its SAs and publish
 * its record. @p mtu is set to the tunnel's inner MTU (the spec's, or what
 * its path MTU leaves after the ESP overhead of its outbound SAs).
 */
int mg_espgw_tunnel_add(struct mg_espgw *eg, const struct mg_esp_tunnel *t, uint16_t ifindex,
			uint16_t *mtu, struct mg_error *err);

/** Take a tunnel down: unpublish, wait for the workers, delete its SAs. */
void mg_espgw_tunnel_del(struct mg_espgw *eg, uint16_t ifindex);

/**
 * Stop the current SAs of the tunnel on interface @p ifindex (main lcore):
 * its packets are dropped as expired until a rekey installs new ones (the
 * IKE daemon's CHILD_SA is gone). Returns how many SAs were stopped.
 */
unsigned int mg_espgw_stop(struct mg_espgw *eg, uint16_t ifindex);

/**
 * Replace SAs of tunnel @p t without loss: every new SA is created first
 * (any failure changes nothing); then a new inbound SA starts accepting at
 * once while the old one is retired (deleted when its traffic stops), and
 * outbound traffic moves to the new SA in one atomic switch.
 */
int mg_espgw_rekey(struct mg_espgw *eg, const struct mg_esp_tunnel *t,
		   const struct mg_esp_sa_conf *sas, unsigned int n, struct mg_error *err);

/**
 * Main loop: lifetimes and retired SAs (every 100 ms at most), and once a
 * second the snapshot DPDK telemetry's /meshgate/esp answers from.
 */
void mg_espgw_poll(struct mg_espgw *eg, uint64_t now_ns);

/**
 * Write tunnel @p ifindex's SAs (redacted: no key) with their counters, and
 * the lifetime events seen, as one JSON object {"sas": [...], "events":
 * {"soft": N, "hard": N, "retired": N}} to @p f.
 */
void mg_espgw_sas_json(const struct mg_espgw *eg, uint16_t ifindex, FILE *f);

/** Write the per-SA counters in the Prometheus text format to @p f. */
void mg_espgw_metrics(const struct mg_espgw *eg, FILE *f);

/** Where one SA's sequence numbers stand (mg_esp_sa_seq). */
struct mg_espgw_seq {
	uint32_t spi;          /**< SPI. */
	bool inbound;          /**< Direction. */
	uint8_t inner_family;  /**< AF_INET / AF_INET6. */
	uint64_t seq;          /**< Outbound: above every number sent; inbound: highest seen. */
};

/**
 * The sequence positions of tunnel @p ifindex's current SAs (not the retiring
 * ones), for the durable state: at most @p max written to @p out.
 *
 * @return how many were written.
 */
unsigned int mg_espgw_seqs(const struct mg_espgw *eg, uint16_t ifindex, struct mg_espgw_seq *out,
			   unsigned int max);

#endif /* MG_ESPGW_H */
