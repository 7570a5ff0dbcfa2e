/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * eth-input: maps (port, VLAN) to an interface, checks the destination MAC,
 * strips the L2 header and hands IPv4/IPv6 on; ARP goes to the main lcore
 * with its header still on.
 */
#include "mg_parse.h"
#include "nodes_priv.h"

/* Resolve the interface of a frame; caches the last answer per burst. */
struct eth_cache {
	uint16_t port;
	uint16_t vlan;
	uint16_t ifx;
	const struct mg_dp_iface *ifc;
};

static inline const struct mg_dp_iface *
eth_iface(const struct mg_dp *dp, struct eth_cache *cc, uint16_t port, uint16_t vlan,
	  enum mg_drop *why)
{
	uint16_t ifx;

	if (likely(cc->ifc != NULL && cc->port == port && cc->vlan == vlan))
		return cc->ifc;
	if (vlan == 0) {
		ifx = __atomic_load_n(&dp->port_if[port], __ATOMIC_ACQUIRE);
		*why = MG_DROP_ETH_NO_IFACE;
	} else {
		const uint16_t *map = __atomic_load_n(&dp->vlan_if[port], __ATOMIC_ACQUIRE);

		ifx = map ? __atomic_load_n(&map[vlan], __ATOMIC_ACQUIRE) : MG_IF_NONE;
		*why = MG_DROP_ETH_UNKNOWN_VLAN;
	}
	if (ifx == MG_IF_NONE)
		return NULL;
	cc->ifc = mg_dp_iface(dp, ifx);
	cc->port = port;
	cc->vlan = vlan;
	cc->ifx = ifx;
	return cc->ifc;
}

static inline uint16_t
eth_one(const struct mg_dp *dp, struct mg_lcore_stats *st, struct eth_cache *cc,
	struct rte_mbuf *m)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct mg_meta *md = mg_meta(m);
	const struct mg_dp_iface *ifc;
	struct mg_eth_info ei;
	enum mg_drop why;

	st->rx_bytes[m->port] += m->pkt_len;
	if (unlikely(m->nb_segs != 1)) {
		md->drop = MG_DROP_ETH_MULTISEG;
		return ETH_NEXT_DROP;
	}
	why = mg_parse_eth((const uint8_t *)eth, m->data_len, &ei);
	if (unlikely(why != MG_DROP_NONE)) {
		md->drop = (uint8_t)why;
		return ETH_NEXT_DROP;
	}
	ifc = eth_iface(dp, cc, m->port, ei.vlan, &why);
	if (unlikely(ifc == NULL)) {
		md->drop = (uint8_t)why;
		return ETH_NEXT_DROP;
	}
	if (unlikely(!rte_is_multicast_ether_addr(&eth->dst_addr) &&
		     !rte_is_same_ether_addr(&eth->dst_addr, &ifc->mac))) {
		md->drop = MG_DROP_ETH_NOT_FOR_US;
		return ETH_NEXT_DROP;
	}
	md->rx_if = cc->ifx;
	md->net = ifc->net;
	md->flags = 0;
	m->l2_len = ei.l2_len; /* ND and ARP handling on the main lcore read the frame's MACs */
	if (likely(ei.type == MG_ETH_IPV4_BE)) {
		rte_pktmbuf_adj(m, ei.l2_len);
		return ETH_NEXT_IP4;
	}
	if (ei.type == MG_ETH_IPV6_BE) {
		rte_pktmbuf_adj(m, ei.l2_len);
		return ETH_NEXT_IP6;
	}
	if (ei.type == MG_ETH_ARP_BE) {
		md->punt = MG_PUNT_ARP;
		return ETH_NEXT_PUNT;
	}
	md->drop = MG_DROP_ETH_UNKNOWN_TYPE;
	return ETH_NEXT_DROP;
}

static uint16_t
eth_input_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct mg_node_ctx *c = mg_ctx(node);
	struct mg_lcore_stats *st = c->w->stats;
	struct eth_cache cc = {.ifc = NULL};
	uint16_t nexts[MG_VEC];

	for (uint16_t base = 0; base < nb; base += MG_VEC) {
		uint16_t n = RTE_MIN((uint16_t)(nb - base), (uint16_t)MG_VEC);
		void **o = objs + base;
		uint16_t i = 0;

		for (; i + 4 <= n; i += 4) {
			if (likely(i + 8 <= n)) {
				rte_prefetch0(rte_pktmbuf_mtod((struct rte_mbuf *)o[i + 4], void *));
				rte_prefetch0(rte_pktmbuf_mtod((struct rte_mbuf *)o[i + 5], void *));
				rte_prefetch0(rte_pktmbuf_mtod((struct rte_mbuf *)o[i + 6], void *));
				rte_prefetch0(rte_pktmbuf_mtod((struct rte_mbuf *)o[i + 7], void *));
			}
			nexts[i] = eth_one(c->dp, st, &cc, o[i]);
			nexts[i + 1] = eth_one(c->dp, st, &cc, o[i + 1]);
			nexts[i + 2] = eth_one(c->dp, st, &cc, o[i + 2]);
			nexts[i + 3] = eth_one(c->dp, st, &cc, o[i + 3]);
		}
		for (; i < n; i++)
			nexts[i] = eth_one(c->dp, st, &cc, o[i]);
		mg_dispatch(graph, node, o, nexts, n);
	}
	return nb;
}

static struct rte_node_register eth_input_node = {
	.name = "eth-input",
	.process = eth_input_process,
	.init = mg_node_init,
	.nb_edges = 4,
	.next_nodes = {
		[ETH_NEXT_IP4] = "ip4-input",
		[ETH_NEXT_IP6] = "ip6-input",
		[ETH_NEXT_PUNT] = "punt",
		[ETH_NEXT_DROP] = "drop",
	},
};
RTE_NODE_REGISTER(eth_input_node);
