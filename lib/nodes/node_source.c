/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Source nodes: port-rx polls the worker's RX queues; inject drains what the
 * main lcore hands to this worker (ARP/ND replies, held packets, probes).
 */
#include <rte_ethdev.h>
#include <rte_ring.h>

#include "nodes_priv.h"

static uint16_t
port_rx_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct mg_node_ctx *c = mg_ctx(node);
	struct mg_worker *w = c->w;
	const struct mg_rxq_list *l = __atomic_load_n(&w->rxqs, __ATOMIC_ACQUIRE);
	struct mg_lcore_stats *st = w->stats;
	const uint16_t burst = w->rx_burst;
	uint16_t total = 0;
	void **out;

	if (l->n == 0)
		return 0;
	out = rte_node_next_stream_get(graph, node, RX_NEXT_ETH, (uint16_t)(l->n * burst));
	for (uint16_t i = 0; i < l->n; i++) {
		uint16_t port = l->q[i].port;
		uint16_t n = rte_eth_rx_burst(port, l->q[i].queue,
					      (struct rte_mbuf **)(out + total), burst);

		st->rx_pkts[port] += n;
		total += n;
	}
	rte_node_next_stream_put(graph, node, RX_NEXT_ETH, total);
	w->walk_pkts += total;
	return total;
}

static struct rte_node_register port_rx_node = {
	.name = "port-rx",
	.flags = RTE_NODE_SOURCE_F,
	.process = port_rx_process,
	.init = mg_node_init,
	.nb_edges = 1,
	.next_nodes = {[RX_NEXT_ETH] = "eth-input"},
};
RTE_NODE_REGISTER(port_rx_node);

static uint16_t
inject_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct mg_node_ctx *c = mg_ctx(node);
	struct rte_mbuf *pkts[64];
	uint16_t nexts[64];
	unsigned int n = rte_ring_sc_dequeue_burst(c->w->inject, (void **)pkts, 64, NULL);

	if (n == 0)
		return 0;
	for (unsigned int i = 0; i < n; i++) {
		struct mg_meta *md = mg_meta(pkts[i]);

		switch (md->punt) {
		case MG_INJECT_TX:
			md->flags &= (uint8_t)~MG_META_L3;
			nexts[i] = INJ_NEXT_TX;
			break;
		case MG_INJECT_IP4:
			md->flags |= MG_META_L3;
			nexts[i] = INJ_NEXT_IP4;
			break;
		case MG_INJECT_IP6:
			md->flags |= MG_META_L3;
			nexts[i] = INJ_NEXT_IP6;
			break;
		default:
			md->drop = MG_DROP_NONE;
			nexts[i] = INJ_NEXT_DROP;
			break;
		}
	}
	mg_dispatch(graph, node, (void **)pkts, nexts, (uint16_t)n);
	c->w->walk_pkts += n;
	return (uint16_t)n;
}

static struct rte_node_register inject_node = {
	.name = "inject",
	.flags = RTE_NODE_SOURCE_F,
	.process = inject_process,
	.init = mg_node_init,
	.nb_edges = 4,
	.next_nodes = {
		[INJ_NEXT_TX] = "port-tx",
		[INJ_NEXT_IP4] = "ip4-lookup",
		[INJ_NEXT_IP6] = "ip6-lookup",
		[INJ_NEXT_DROP] = "drop",
	},
};
RTE_NODE_REGISTER(inject_node);
