/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_NODES_PRIV_H
#define MG_NODES_PRIV_H

#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_udp.h>

#include "mg_dp.h"
#include "mg_proto.h"

/** Node context: the worker that owns the graph, and the data plane. */
struct mg_node_ctx {
	struct mg_worker *w;
	struct mg_dp *dp;
};

static inline struct mg_node_ctx *
mg_ctx(struct rte_node *node)
{
	return (struct mg_node_ctx *)node->ctx;
}

/** Init callback shared by every node: binds the context from the graph name. */
int mg_node_init(const struct rte_graph *graph, struct rte_node *node);

/* Next-node indices of each node; the edge lists in the registrations follow them. */
enum { RX_NEXT_ETH = 0 };
enum { INJ_NEXT_TX = 0, INJ_NEXT_IP4, INJ_NEXT_IP6, INJ_NEXT_DROP };
enum { ETH_NEXT_IP4 = 0, ETH_NEXT_IP6, ETH_NEXT_PUNT, ETH_NEXT_DROP, ETH_NEXT_CLS4,
       ETH_NEXT_CLS6, ETH_NEXT_NAT, ETH_NEXT_ESP, ETH_NEXT_COUNT };
enum { CLS_NEXT_LOOKUP = 0, CLS_NEXT_DROP };
enum { LK_NEXT_TX = 0, LK_NEXT_LOCAL, LK_NEXT_PUNT, LK_NEXT_ICMP, LK_NEXT_DROP, LK_NEXT_FRAG,
       LK_NEXT_SVC, LK_NEXT_WG, LK_NEXT_ESP, LK_NEXT_NAT };
enum { LOC_NEXT_LOOKUP = 0, LOC_NEXT_ICMP, LOC_NEXT_DROP, LOC_NEXT_WG, LOC_NEXT_ESP,
       LOC_NEXT_VXLAN, LOC_NEXT_PUNT, LOC_NEXT_COUNT };
enum { ICMP_NEXT_LOOKUP = 0, ICMP_NEXT_DROP, ICMP_NEXT_NAT };
enum { FRAG_NEXT_TX = 0, FRAG_NEXT_DROP };
enum { PUNT_NEXT_DROP = 0 };
enum { NAT_NEXT_IP4 = 0, NAT_NEXT_IP6, NAT_NEXT_CLS4, NAT_NEXT_CLS6, NAT_NEXT_DROP,
       NAT_NEXT_ICMP4, NAT_NEXT_ICMP6 };
enum { TX_NEXT_DROP = 0, TX_NEXT_VXLAN };

/** Mark @p m for the drop node with @p reason. */
static inline void
mg_set_drop(struct rte_mbuf *m, enum mg_drop reason)
{
	mg_meta(m)->drop = (uint8_t)reason;
}

/** Mark @p m for an ICMP error (the icmp-error node counts @p reason). */
static inline void
mg_set_icmp(struct rte_mbuf *m, enum mg_drop reason, uint8_t type, uint8_t code,
	    uint16_t mtu)
{
	struct mg_meta *md = mg_meta(m);

	md->drop = (uint8_t)reason;
	md->icmp_type = type;
	md->icmp_code = code;
	md->mtu = mtu;
}

/*
 * Into an ESP tunnel (adjacency MG_ADJ_ESP): TTL / hop limit and the
 * tunnel's MTU as for any egress interface, then esp-output. An IPv4 packet
 * over the MTU with DF clear goes in whole: its ESP packet is fragmented
 * on the underlay (RFC 4459 post-fragmentation).
 */
static inline uint16_t
mg_esp_tunnel_next(const struct mg_dp *dp, struct rte_mbuf *m, struct mg_meta *md,
		   const struct mg_adj *a, bool v4)
{
	const struct mg_dp_iface *ifc = mg_dp_iface(dp, a->ifindex);
	const int transit = !(md->flags & MG_META_LOCAL);
	uint16_t mtu = ifc != NULL ? ifc->mtu : 0;

	if (v4) {
		struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);

		if (unlikely(transit && ip->time_to_live <= 1)) {
			mg_set_icmp(m, MG_DROP_IP4_TTL, MG_ICMP4_TIME_EXCEEDED,
				    MG_ICMP4_TTL_EXCEEDED, 0);
			return LK_NEXT_ICMP;
		}
		if (unlikely(rte_be_to_cpu_16(ip->total_length) > mtu &&
			     (ip->fragment_offset & MG_IP4_DF_BE))) {
			mg_set_icmp(m, MG_DROP_MTU_EXCEEDED, MG_ICMP4_DEST_UNREACH,
				    MG_ICMP4_UNREACH_FRAG_NEEDED, mtu);
			return LK_NEXT_ICMP;
		}
		if (likely(transit))
			mg_ip4_ttl_dec(ip);
	} else {
		struct rte_ipv6_hdr *ip6 = rte_pktmbuf_mtod(m, struct rte_ipv6_hdr *);

		if (unlikely(transit && ip6->hop_limits <= 1)) {
			mg_set_icmp(m, MG_DROP_IP6_HOP_LIMIT, MG_ICMP6_TIME_EXCEEDED,
				    MG_ICMP6_HOPLIMIT_EXCEEDED, 0);
			return LK_NEXT_ICMP;
		}
		if (unlikely(m->pkt_len > mtu)) {
			mg_set_icmp(m, MG_DROP_MTU_EXCEEDED, MG_ICMP6_PACKET_TOO_BIG, 0, mtu);
			return LK_NEXT_ICMP;
		}
		if (likely(transit))
			ip6->hop_limits--;
	}
	return LK_NEXT_ESP;
}

#define MG_ESP_NATT_PORT 4500 /**< UDP-encapsulated ESP (RFC 3948) goes to esp-input. */

/** Largest vector a node handles in one pass of its local arrays. */
#define MG_VEC 256

/**
 * Most next nodes any meshgate node has (ipX-lookup: 9 with the WireGuard
 * and ESP edges); mg_node_init refuses a node with more, since mg_dispatch
 * counts per edge in arrays of this size.
 */
#define MG_MAX_EDGES 12
_Static_assert(LK_NEXT_ESP < MG_MAX_EDGES && LK_NEXT_NAT < MG_MAX_EDGES &&
	       ETH_NEXT_NAT < MG_MAX_EDGES && LK_NEXT_WG < MG_MAX_EDGES &&
	       LK_NEXT_SVC < MG_MAX_EDGES && LOC_NEXT_VXLAN < MG_MAX_EDGES &&
	       LOC_NEXT_COUNT <= MG_MAX_EDGES &&
	       ETH_NEXT_COUNT <= MG_MAX_EDGES, "raise MG_MAX_EDGES");

/**
 * Send objs[0..n) to nexts[i], all edges below MG_MAX_EDGES, n <= MG_VEC.
 * When every packet takes the same edge the whole vector moves with a
 * pointer swap (or one copy); otherwise each edge taken gets one pass that
 * compacts its packets into a local array (a store every packet, the index
 * advanced by the match: no branch to mispredict on interleaved families,
 * no counter reloaded from memory) and one copy into its stream.
 */
static inline void
mg_dispatch(struct rte_graph *graph, struct rte_node *node, void **objs,
	    const uint16_t *nexts, uint16_t n)
{
	void *tmp[MG_VEC];
	uint16_t first = nexts[0], diff = 0, i;
	uint32_t edges = 0;

	/* Branch-free, so the compiler vectorises it. */
	for (i = 0; i < n; i++)
		diff |= nexts[i] ^ first;
	if (likely(diff == 0)) {
		if (n == node->idx && objs == node->objs)
			rte_node_next_stream_move(graph, node, first);
		else
			rte_node_enqueue(graph, node, first, objs, n);
		return;
	}
	for (i = 0; i < n; i++)
		edges |= 1u << nexts[i];
	while (edges != 0) {
		const uint16_t e = (uint16_t)__builtin_ctz(edges);
		uint16_t k = 0;
		void **dst;

		edges &= edges - 1;
		for (i = 0; i < n; i++) {
			tmp[k] = objs[i];
			k += nexts[i] == e;
		}
		dst = rte_node_next_stream_get(graph, node, e, k);
		memcpy(dst, tmp, sizeof(tmp[0]) * k);
		rte_node_next_stream_put(graph, node, e, k);
	}
}

/**
 * Prefetch for a node's main loop at packet @i of @n: the mbuf header eight
 * packets ahead and, its header fetched by then, the data four ahead.
 */
static __rte_always_inline void
mg_prefetch(void **o, uint16_t i, uint16_t n)
{
	if (likely(i + 8 < n))
		rte_prefetch0(o[i + 8]);
	if (likely(i + 4 < n))
		rte_prefetch0(rte_pktmbuf_mtod((struct rte_mbuf *)o[i + 4], void *));
}

/** True if a WireGuard interface listens on UDP port @p port_be (network order). */
static inline bool
mg_wg_port_listened(const struct mg_dp *dp, rte_be16_t port_be)
{
	uint16_t p = rte_be_to_cpu_16(port_be);

	return (__atomic_load_n(&dp->wg_ports[p >> 6], __ATOMIC_RELAXED) >> (p & 63)) & 1;
}

/**
 * True if the UDP datagram at @p udp (@p l4len bytes) is IKE for the main
 * lcore: port 500, or port 4500 with the non-ESP marker (RFC 3948 2.2),
 * while IKE peers exist.
 */
static inline bool
mg_ike_wanted(const struct mg_dp *dp, const uint8_t *udp, uint32_t l4len)
{
	const struct rte_udp_hdr *u = (const struct rte_udp_hdr *)udp;

	if (likely(!__atomic_load_n(&dp->ike, __ATOMIC_RELAXED)) || l4len < 8)
		return false;
	if (u->dst_port == RTE_BE16(500))
		return true;
	return u->dst_port == RTE_BE16(4500) && l4len >= 12 &&
	       (udp[8] | udp[9] | udp[10] | udp[11]) == 0;
}

/**
 * Transmit counters of a run of packets to one interface, kept in locals by
 * a node and added to the worker's per-interface counters when the
 * interface changes and at the end of the node call (mg_tx_acc_flush): one
 * memory update per run instead of a chain of dependent increments.
 */
struct mg_tx_acc {
	uint32_t ifx;   /**< Interface of the run. */
	uint32_t pkts;  /**< Its packets so far. */
	uint64_t bytes; /**< Their bytes. */
};

/** Add what @p a holds to the worker's counters @p ifcs and empty it. */
static __rte_always_inline void
mg_tx_acc_flush(struct mg_if_counters *ifcs, struct mg_tx_acc *a)
{
	if (a->pkts) {
		ifcs[a->ifx].tx_pkts += a->pkts;
		ifcs[a->ifx].tx_bytes += a->bytes;
		a->pkts = 0;
		a->bytes = 0;
	}
}

/** Count one packet of @p bytes sent on interface @p ifx. */
static __rte_always_inline void
mg_tx_acc_add(struct mg_if_counters *ifcs, struct mg_tx_acc *a, uint32_t ifx, uint32_t bytes)
{
	if (unlikely(ifx != a->ifx)) {
		mg_tx_acc_flush(ifcs, a);
		a->ifx = ifx;
	}
	a->pkts++;
	a->bytes += bytes;
}

/** Destination unreachable of the family (@p v4: code @p c4, else @p c6), dropped for @p why. */
static inline uint16_t
mg_lookup_unreach(struct rte_mbuf *m, enum mg_drop why, bool v4, uint8_t c4, uint8_t c6)
{
	if (v4)
		mg_set_icmp(m, why, MG_ICMP4_DEST_UNREACH, c4, 0);
	else
		mg_set_icmp(m, why, MG_ICMP6_DEST_UNREACH, c6, 0);
	return LK_NEXT_ICMP;
}

/**
 * The adjacency ipX-lookup applies to packet @p m: the FIB's answer @p adj,
 * or the next hop a service or rule picked (MG_META_NEXTHOP: the FIB said
 * "service"), recorded in the packet's metadata either way.
 */
static __rte_always_inline const struct mg_adj *
mg_lookup_adj(const struct mg_dp *dp, struct mg_meta *md, uint32_t adj)
{
	if (unlikely(md->flags & MG_META_NEXTHOP)) {
		adj = md->adj;
		md->flags &= (uint8_t)~MG_META_NEXTHOP;
	}
	md->adj = adj;
	return &dp->adj[adj];
}

/**
 * A neighbor adjacency whose rewrite @p rw is not complete: the packet waits
 * on the main lcore for resolution (punt), or gets host / address
 * unreachable when resolution failed.
 */
static inline uint16_t
mg_rewrite_unresolved(struct rte_mbuf *m, struct mg_meta *md, const struct mg_rewrite *rw,
		      bool v4)
{
	if (rw->state == MG_NS_INCOMPLETE) {
		md->punt = MG_PUNT_RESOLVE;
		return LK_NEXT_PUNT;
	}
	return mg_lookup_unreach(m, MG_DROP_NEIGH_FAILED, v4, MG_ICMP4_UNREACH_HOST,
				 MG_ICMP6_UNREACH_ADDR);
}

/**
 * The end of a rewrite to a complete neighbor, once TTL and MTU passed: the
 * L2 header of @p rw in front of the packet, its egress port, its bytes
 * counted to the egress interface.
 */
static __rte_always_inline uint16_t
mg_rewrite_l2(struct mg_if_counters *ifcs, struct mg_tx_acc *acc, const struct mg_rewrite *rw,
	      struct rte_mbuf *m, struct mg_meta *md)
{
	uint8_t *eth = (uint8_t *)rte_pktmbuf_prepend(m, rw->hdr_len);

	md->flags &= (uint8_t)~MG_META_L3;
	if (unlikely(eth == NULL)) {
		md->drop = MG_DROP_NO_MBUF;
		return LK_NEXT_DROP;
	}
	memcpy(eth, rw->hdr, 14);
	if (rw->hdr_len > 14)
		memcpy(eth + 14, rw->hdr + 14, 4);
	m->port = rw->port;
	mg_tx_acc_add(ifcs, acc, rw->ifindex, m->pkt_len);
	return LK_NEXT_TX;
}

/**
 * Where ipX-lookup sends a packet whose adjacency @p a is neither a neighbor
 * nor a WireGuard interface (those two are the caller's, per family); sets
 * the drop reason, punt or ICMP error of the family (@p v4).
 */
static inline uint16_t
mg_lookup_other(const struct mg_dp *dp, struct rte_mbuf *m, struct mg_meta *md,
		const struct mg_adj *a, bool v4)
{
	switch (a->type) {
	case MG_ADJ_LOCAL:
		return LK_NEXT_LOCAL;
	case MG_ADJ_SERVICE:
		return LK_NEXT_SVC;
	case MG_ADJ_GATEWAY:
		/* Crossing to another network (lib/natgw): once per packet. */
		if (unlikely(md->flags & MG_META_NAT_GW)) {
			md->drop = MG_DROP_NAT_LOOP;
			return LK_NEXT_DROP;
		}
		md->flags |= MG_META_NAT_GW;
		return LK_NEXT_NAT;
	case MG_ADJ_ESP:
		return mg_esp_tunnel_next(dp, m, md, a, v4);
	case MG_ADJ_GLEAN:
		md->punt = MG_PUNT_GLEAN;
		return LK_NEXT_PUNT;
	case MG_ADJ_DROP:
		md->drop = MG_DROP_ROUTE_DROP;
		return LK_NEXT_DROP;
	case MG_ADJ_UNREACH:
		return mg_lookup_unreach(m, MG_DROP_ROUTE_UNREACH, v4, MG_ICMP4_UNREACH_HOST,
					 MG_ICMP6_UNREACH_ADDR);
	case MG_ADJ_PROHIBIT:
		return mg_lookup_unreach(m, MG_DROP_ROUTE_PROHIBIT, v4, MG_ICMP4_UNREACH_ADMIN,
					 MG_ICMP6_UNREACH_ADMIN);
	case MG_ADJ_NOROUTE:
	default:
		return mg_lookup_unreach(m, MG_DROP_NO_ROUTE, v4, MG_ICMP4_UNREACH_NET,
					 MG_ICMP6_UNREACH_NOROUTE);
	}
}

/*
 * Whether packets of network @p net, family @p fam (0 IPv4, 1 IPv6) must
 * cross ipX-classify before ipX-lookup: the network has rules for the
 * family or tracks its flows. eth-input asks for what ports receive, the
 * tunnel input nodes for what they decapsulate, so a tunnel is no way
 * around a network's rules.
 */
static __rte_always_inline bool
mg_net_classifies(const struct mg_dp *dp, uint16_t net, unsigned int fam)
{
	return __atomic_load_n(&dp->cls[net][fam], __ATOMIC_RELAXED) != NULL ||
	       __atomic_load_n(&dp->ct[net], __ATOMIC_RELAXED) != NULL;
}

#endif /* MG_NODES_PRIV_H */
