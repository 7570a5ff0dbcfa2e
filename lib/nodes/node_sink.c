/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sink nodes: punt (to the main lcore's ring), port-tx (per-port staging,
 * then rte_eth_tx_burst on this worker's queue) and drop (counted by
 * reason, with a rate-limited debug log).
 */
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_log.h>
#include <rte_ring.h>

#include "nodes_priv.h"

RTE_LOG_REGISTER_SUFFIX(mg_drop_logtype, drop, NOTICE);

/* ---- punt ---------------------------------------------------------------------- */

static uint16_t
punt_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct mg_node_ctx *c = mg_ctx(node);
	unsigned int n = rte_ring_sp_enqueue_burst(c->w->punt, objs, nb, NULL);

	c->w->stats->punted += n;
	if (likely(n > 0))
		mg_dp_wake_main(c->dp);
	if (unlikely(n < nb)) {
		for (unsigned int i = n; i < nb; i++)
			mg_set_drop(objs[i], MG_DROP_PUNT_FULL);
		rte_node_enqueue(graph, node, PUNT_NEXT_DROP, objs + n, (uint16_t)(nb - n));
	}
	return nb;
}

static struct rte_node_register punt_node = {
	.name = "punt",
	.process = punt_process,
	.init = mg_node_init,
	.nb_edges = 1,
	.next_nodes = {[PUNT_NEXT_DROP] = "drop"},
};
RTE_NODE_REGISTER(punt_node);

/* ---- port-tx ---------------------------------------------------------------------- */

static void
tx_flush(struct rte_graph *graph, struct rte_node *node, struct mg_worker *w, uint16_t port)
{
	struct rte_mbuf **b = w->txb[port];
	uint16_t n = w->txn[port], sent;
	uint64_t bytes = 0;

	w->txn[port] = 0;
	/* Bytes before the burst: a sent mbuf may be freed (and reused) by the PMD. */
	for (uint16_t i = 0; i < n; i++)
		bytes += b[i]->pkt_len;
	sent = rte_eth_tx_burst(port, w->txq, b, n);
	/* One retry: a ring-based PMD often frees room as it goes. */
	if (unlikely(sent < n))
		sent += rte_eth_tx_burst(port, w->txq, b + sent, (uint16_t)(n - sent));
	if (unlikely(sent < n))
		for (uint16_t i = sent; i < n; i++)
			bytes -= b[i]->pkt_len;
	w->stats->tx_pkts[port] += sent;
	w->stats->tx_bytes[port] += bytes;
	if (unlikely(sent < n)) {
		for (uint16_t i = sent; i < n; i++)
			mg_set_drop(b[i], MG_DROP_TX_FULL);
		rte_node_enqueue(graph, node, TX_NEXT_DROP, (void **)(b + sent),
				 (uint16_t)(n - sent));
	}
}

static uint16_t
port_tx_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct mg_node_ctx *c = mg_ctx(node);
	struct mg_worker *w = c->w;
	const struct mg_dp *dp = c->dp;
	uint64_t dirty = 0; /* MG_MAX_PORTS <= 64 */
	uint16_t i = 0;

	RTE_BUILD_BUG_ON(MG_MAX_PORTS > 64);
	/* Fast case: a whole vector for one port goes out in one burst. */
	if (nb <= MG_TXB_SIZE) {
		uint16_t port = ((struct rte_mbuf *)objs[0])->port;

		for (i = 1; i < nb && ((struct rte_mbuf *)objs[i])->port == port; i++)
			;
		if (i == nb && mg_port_virtual(port)) {
			/* All into one VXLAN interface. */
			rte_node_enqueue(graph, node, TX_NEXT_VXLAN, objs, nb);
			return nb;
		}
		if (i == nb && port < MG_MAX_PORTS && dp->port_up[port] && w->txn[port] == 0) {
			memcpy(w->txb[port], objs, nb * sizeof(void *));
			w->txn[port] = nb;
			tx_flush(graph, node, w, port);
			return nb;
		}
		i = 0;
	}
	for (; i < nb; i++) {
		struct rte_mbuf *m = objs[i];
		uint16_t port = m->port;

		if (unlikely(port >= MG_MAX_PORTS || !dp->port_up[port])) {
			if (mg_port_virtual(port)) { /* a VXLAN interface (see mg_vxlan.h) */
				rte_node_enqueue_x1(graph, node, TX_NEXT_VXLAN, m);
				continue;
			}
			mg_set_drop(m, MG_DROP_PORT_DOWN);
			rte_node_enqueue_x1(graph, node, TX_NEXT_DROP, m);
			continue;
		}
		w->txb[port][w->txn[port]++] = m;
		dirty |= 1ull << port;
		if (w->txn[port] == MG_TXB_SIZE)
			tx_flush(graph, node, w, port);
	}
	while (dirty) {
		uint16_t port = (uint16_t)__builtin_ctzll(dirty);

		dirty &= dirty - 1;
		if (w->txn[port])
			tx_flush(graph, node, w, port);
	}
	return nb;
}

static struct rte_node_register port_tx_node = {
	.name = "port-tx",
	.process = port_tx_process,
	.init = mg_node_init,
	.nb_edges = 2,
	.next_nodes = {[TX_NEXT_DROP] = "drop", [TX_NEXT_VXLAN] = "vxlan-encap"},
};
RTE_NODE_REGISTER(port_tx_node);

/* ---- drop ------------------------------------------------------------------------- */

static uint16_t
drop_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct mg_node_ctx *c = mg_ctx(node);
	struct mg_lcore_stats *st = c->w->stats;
	static RTE_DEFINE_PER_LCORE(uint64_t, next_log);

	for (uint16_t i = 0; i < nb; i++) {
		const struct mg_meta *md = mg_meta(objs[i]);
		uint8_t r = md->drop;

		st->drops[r < MG_DROP_MAX ? r : MG_DROP_NONE]++;
		if (md->rx_if < MG_MAX_IFACES)
			c->w->ifc[md->rx_if].drops++;
	}
	if (unlikely(rte_log_can_log(mg_drop_logtype, RTE_LOG_DEBUG))) {
		uint64_t now = rte_get_tsc_cycles();

		if (now > RTE_PER_LCORE(next_log)) {
			RTE_PER_LCORE(next_log) = now + rte_get_tsc_hz();
			rte_log(RTE_LOG_DEBUG, mg_drop_logtype, "drop: %u packet(s), first: %s\n",
				nb, mg_drop_name(mg_meta(objs[0])->drop));
		}
	}
	rte_pktmbuf_free_bulk((struct rte_mbuf **)objs, nb);
	return nb;
}

static struct rte_node_register drop_node = {
	.name = "drop",
	.process = drop_process,
	.init = mg_node_init,
	.nb_edges = 0,
};
RTE_NODE_REGISTER(drop_node);
