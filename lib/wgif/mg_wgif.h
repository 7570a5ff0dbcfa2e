/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_WGIF_H
#define MG_WGIF_H

/**
 * @file
 * WireGuard interfaces of the gateway: lib/wg's protocol objects bound to
 * the data plane.
 *
 * - Main lcore (this file's functions): create and destroy interfaces from
 *   the model (struct mg_iface of kind MG_IFACE_WG), take handshake messages
 *   from the bounded per-interface ring the workers fill, run the protocol
 *   timers, send initiations, responses, cookie replies and keepalives
 *   through the workers' inject rings, resolve the outer source address of
 *   each peer's endpoint.
 * - Workers (lib/nodes/node_wg.c): wg-input (UDP to a listen port: handshake
 *   messages to the ring, transport data decrypted in bursts, cryptokey
 *   routing check, roaming) and wg-output (allowed IPs pick the peer, encrypt
 *   in bursts, outer UDP/IP towards the peer's endpoint, routed in the
 *   underlay network).
 *
 * Publication: interfaces are reached by workers through struct
 * mg_wgif_dp's slots (release stores); removal clears the slots, waits a
 * grace period (mg_dp_sync) and only then frees. Allowed-IPs tables are
 * swapped the same way. lib/wg's keypairs and peers are freed after a grace
 * period through its defer_free hook.
 *
 * Secrets: private and preshared keys live in lib/wg (wiped when freed) and
 * in the model's spec (wiped by mg_wg_spec_free); nothing here logs them or
 * reports them (mg_wgif_info gives public keys only).
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "mg_dp.h"
#include "mg_model.h"
#include "mg_wg.h"

#define MG_WGIF_MAX 32          /**< WireGuard interfaces per gateway. */
#define MG_WGIF_HS_RING 512     /**< Handshake messages waiting for the main lcore, per interface. */
#define MG_WGIF_STAGE_RING 1024 /**< Packets waiting for a session, on their way to the main lcore. */
#define MG_WGIF_STAGE_PEER 64   /**< Packets the main lcore holds per peer until its session is up. */
#define MG_WGIF_OUTER4 (20 + 8) /**< Outer IPv4 + UDP header bytes. */
#define MG_WGIF_OUTER6 (40 + 8) /**< Outer IPv6 + UDP header bytes. */

/** Where a peer's messages go: our source address, its address and port. */
struct mg_wgif_ep {
	uint8_t family;         /**< AF_INET, AF_INET6, 0 = unknown. */
	bool src_set;           /**< src is resolved. */
	uint16_t dport;         /**< Peer's UDP port, host order. */
	uint8_t src[16];        /**< Our address (IPv4 in the first 4 bytes). */
	uint8_t dst[16];        /**< The peer's address. */
};

struct mg_wgif;

/** A peer as the gateway knows it (lib/wg's user pointer). */
struct mg_wgif_peer {
	struct mg_wg_peer *p;            /**< Protocol object. */
	struct mg_wgif *itf;             /**< Owning interface. */
	_Atomic uint32_t ep_seq;         /**< Sequence lock of ep: odd while written. */
	struct mg_wgif_ep ep;            /**< Current endpoint (roams). */
	/* Main lcore only: inner packets waiting for a session (sent on when one is up). */
	uint16_t nstaged;
	struct rte_mbuf *staged[MG_WGIF_STAGE_PEER];
};

/** Per-lcore WireGuard counters (written by one lcore, summed when read). */
struct mg_wgif_lstats {
	uint64_t rx[MG_WG_RX_STATUS_MAX];  /**< mg_wg_decrypt_burst outcomes. */
	uint64_t tx[MG_WG_TX_STATUS_MAX];  /**< mg_wg_encrypt_burst outcomes. */
	uint64_t hs_queued;                /**< Handshake messages handed to the main lcore. */
	uint64_t hs_queue_full;            /**< ... refused because the ring was full. */
	uint64_t roamed;                   /**< Endpoint changes learnt from data packets. */
	uint64_t staged;                   /**< Packets held for a session (workers). */
} __rte_cache_aligned;

/** A WireGuard interface. Fields before `name` are read by workers, immutable once published. */
struct mg_wgif {
	struct mg_wg_iface *wg;          /**< Protocol object. */
	struct mg_wg_aip *aip;           /**< Allowed IPs (atomic pointer, RCU). */
	struct rte_ring *hs;             /**< Workers -> main lcore: handshake messages. */
	struct rte_ring *stage;          /**< Workers -> main lcore: packets waiting for a session. */
	uint16_t ifindex;                /**< The tunnel interface. */
	uint16_t net;                    /**< Inner network. */
	uint16_t underlay;               /**< Network of the UDP messages. */
	uint16_t port;                   /**< Listen port, host order. */
	/* Main lcore only. */
	char name[MG_NAME_MAX];
	uint16_t npeers;
	struct mg_wgif_peer *peers;      /**< npeers entries, in configuration order. */
	uint64_t next_tick;              /**< When mg_wg_iface_tick is due. */
	uint64_t sent_handshakes;        /**< Initiations, responses and cookie replies sent. */
	uint64_t send_failed;            /**< Messages the main lcore could not send. */
	uint64_t staged_sent;            /**< Held packets sent on once a session was up. */
	uint64_t staged_dropped;         /**< Held packets dropped (queue full, handshake gave up). */
};

/** The data plane's WireGuard state (struct mg_dp.wg). */
struct mg_wgif_dp {
	struct mg_wgif *by_if[MG_MAX_IFACES];      /**< Interface slots (RCU). */
	struct mg_wgif *list[MG_WGIF_MAX];         /**< The same, packed for wg-input (RCU). */
	struct mg_wg_worker *wk[MG_MAX_WORKERS + 1]; /**< Crypto contexts; the last one is the main lcore's. */
	struct mg_wgif_lstats st[MG_MAX_WORKERS + 1]; /**< Counters per worker, then the main lcore. */
	unsigned int nworkers;
};

/* ---- main lcore ---------------------------------------------------------------------- */

/**
 * Bring up WireGuard interface @p ifc (already added to forwarding control
 * as a tunnel interface): protocol object, peers, allowed IPs, handshake
 * ring, listen port. Main lcore.
 * @return 0, or a negative errno with @p err naming the field.
 */
int mg_wgif_create(struct mg_dp *dp, const struct mg_iface *ifc, struct mg_error *err);

/** Take interface @p ifindex down and free it (after a grace period). Main lcore. */
void mg_wgif_destroy(struct mg_dp *dp, uint16_t ifindex);

/** Free everything (after the workers stopped). */
void mg_wgif_fini(struct mg_dp *dp);

/**
 * Handle queued handshake messages and due timers. Main lcore.
 * @return Number of handshake messages handled.
 */
unsigned int mg_wgif_poll(struct mg_dp *dp, uint64_t now_ns);

/** When mg_wgif_poll next has timer work (monotonic ns), UINT64_MAX if never. */
uint64_t mg_wgif_next_timer(const struct mg_dp *dp);

/** True if a handshake ring holds messages (the main loop then does not sleep). */
bool mg_wgif_pending(const struct mg_dp *dp);

/** What `wg show` prints about one peer. */
struct mg_wgif_peer_info {
	struct mg_wg_peer_info wg;       /**< Keys (public only), handshake, transfer. */
	struct mg_wgif_ep ep;            /**< Current endpoint. */
	uint16_t nallowed;
	struct mg_prefix allowed[MG_WG_MAX_ALLOWED];
};

/** What `wg show` prints about an interface. */
struct mg_wgif_info {
	char name[MG_NAME_MAX];
	uint8_t public_key[MG_WG_KEY_LEN];
	uint16_t listen_port;
	uint16_t npeers;
	struct mg_wg_iface_stats hs;     /**< Handshake results. */
	struct mg_wgif_lstats st;        /**< Data path counters summed over the lcores. */
	uint64_t sent_handshakes;
	uint64_t staged_sent;            /**< Packets held during a handshake, then sent. */
	uint64_t staged_dropped;         /**< Packets held during a handshake, then dropped. */
};

/**
 * Describe interface @p ifindex and each of its peers (@p cb per peer; the
 * allowed IPs come from the model's spec @p spec). Main lcore.
 * @return 0, or -ENOENT if it is not a WireGuard interface.
 */
int mg_wgif_info(struct mg_dp *dp, uint16_t ifindex, const struct mg_wg_spec *spec,
		 struct mg_wgif_info *info,
		 void (*cb)(void *arg, const struct mg_wgif_peer_info *p), void *arg);

/* ---- helpers shared with the nodes ----------------------------------------------------- */

/** Read a peer's endpoint (any lcore). */
static inline void
mg_wgif_ep_read(const struct mg_wgif_peer *wp, struct mg_wgif_ep *out)
{
	uint32_t s1, s2;

	do {
		s1 = atomic_load_explicit(&wp->ep_seq, memory_order_acquire);
		memcpy(out, &wp->ep, sizeof(*out));
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&wp->ep_seq, memory_order_relaxed);
	} while ((s1 & 1) || s1 != s2);
}

/**
 * Replace a peer's endpoint (any lcore). A writer that finds another one at
 * work gives up: roaming is retried by the next packet.
 * @return true if written.
 */
static inline bool
mg_wgif_ep_write(struct mg_wgif_peer *wp, const struct mg_wgif_ep *ep)
{
	uint32_t s = atomic_load_explicit(&wp->ep_seq, memory_order_relaxed);

	if ((s & 1) || !atomic_compare_exchange_strong_explicit(&wp->ep_seq, &s, s + 1,
								  memory_order_acquire,
								  memory_order_relaxed))
		return false;
	atomic_thread_fence(memory_order_release);
	memcpy(&wp->ep, ep, sizeof(*ep));
	atomic_store_explicit(&wp->ep_seq, s + 2, memory_order_release);
	return true;
}

/**
 * Prepend outer UDP and IP headers to a WireGuard message in @p m, from our
 * port @p sport to @p ep. IPv4: DF clear (the outer packet may be
 * fragmented), UDP checksum 0; IPv6: UDP checksum computed.
 * @return 0, or -ENOSPC without headroom.
 */
static inline int
mg_wgif_push_outer(struct rte_mbuf *m, const struct mg_wgif_ep *ep, uint16_t sport,
		   uint16_t ip_id)
{
	uint16_t ulen = (uint16_t)(rte_pktmbuf_pkt_len(m) + sizeof(struct rte_udp_hdr));
	struct rte_udp_hdr *udp;

	if (ep->family == AF_INET) {
		struct rte_ipv4_hdr *ip =
			(struct rte_ipv4_hdr *)rte_pktmbuf_prepend(m, MG_WGIF_OUTER4);

		if (ip == NULL)
			return -ENOSPC;
		ip->version_ihl = 0x45;
		ip->type_of_service = 0;
		ip->total_length = rte_cpu_to_be_16((uint16_t)(ulen + 20));
		ip->packet_id = rte_cpu_to_be_16(ip_id);
		ip->fragment_offset = 0;
		ip->time_to_live = 64;
		ip->next_proto_id = IPPROTO_UDP;
		memcpy(&ip->src_addr, ep->src, 4);
		memcpy(&ip->dst_addr, ep->dst, 4);
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		udp = (struct rte_udp_hdr *)(ip + 1);
		udp->src_port = rte_cpu_to_be_16(sport);
		udp->dst_port = rte_cpu_to_be_16(ep->dport);
		udp->dgram_len = rte_cpu_to_be_16(ulen);
		udp->dgram_cksum = 0;
		return 0;
	}
	struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)rte_pktmbuf_prepend(m, MG_WGIF_OUTER6);

	if (ip6 == NULL)
		return -ENOSPC;
	ip6->vtc_flow = rte_cpu_to_be_32(6u << 28);
	ip6->payload_len = rte_cpu_to_be_16(ulen);
	ip6->proto = IPPROTO_UDP;
	ip6->hop_limits = 64;
	memcpy(ip6->src_addr, ep->src, 16);
	memcpy(ip6->dst_addr, ep->dst, 16);
	udp = (struct rte_udp_hdr *)(ip6 + 1);
	udp->src_port = rte_cpu_to_be_16(sport);
	udp->dst_port = rte_cpu_to_be_16(ep->dport);
	udp->dgram_len = rte_cpu_to_be_16(ulen);
	udp->dgram_cksum = 0;
	udp->dgram_cksum = rte_ipv6_udptcp_cksum(ip6, udp);
	return 0;
}

/**
 * The outer addresses of a received message whose IP header starts at @p l3:
 * an endpoint record that answers it (our address = its destination).
 * @return false if @p l3 is neither a plain IPv4 nor IPv6 + UDP header.
 */
static inline bool
mg_wgif_ep_from_outer(const uint8_t *l3, struct mg_wgif_ep *ep, uint32_t *hdr_len)
{
	const struct rte_udp_hdr *udp;

	memset(ep, 0, sizeof(*ep));
	if ((l3[0] >> 4) == 4) {
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)l3;
		uint32_t hl = (uint32_t)(ip->version_ihl & 0xf) * 4;

		ep->family = AF_INET;
		memcpy(ep->src, &ip->dst_addr, 4);
		memcpy(ep->dst, &ip->src_addr, 4);
		udp = (const struct rte_udp_hdr *)(l3 + hl);
		*hdr_len = hl + 8;
	} else if ((l3[0] >> 4) == 6) {
		const struct rte_ipv6_hdr *ip6 = (const struct rte_ipv6_hdr *)l3;

		ep->family = AF_INET6;
		memcpy(ep->src, ip6->dst_addr, 16);
		memcpy(ep->dst, ip6->src_addr, 16);
		udp = (const struct rte_udp_hdr *)(l3 + 40);
		*hdr_len = 48;
	} else {
		return false;
	}
	ep->src_set = true;
	ep->dport = rte_be_to_cpu_16(udp->src_port);
	return true;
}

/** True if @p a and @p b name the same endpoint. */
static inline bool
mg_wgif_ep_equal(const struct mg_wgif_ep *a, const struct mg_wgif_ep *b)
{
	size_t n = a->family == AF_INET ? 4 : 16;

	return a->family == b->family && a->dport == b->dport && a->src_set == b->src_set &&
	       memcmp(a->src, b->src, n) == 0 && memcmp(a->dst, b->dst, n) == 0;
}

#endif /* MG_WGIF_H */
