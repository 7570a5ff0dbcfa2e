/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_NODES_PRIV_H
#define MG_NODES_PRIV_H

#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

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
enum { ETH_NEXT_IP4 = 0, ETH_NEXT_IP6, ETH_NEXT_PUNT, ETH_NEXT_DROP };
enum { IP4IN_NEXT_LOOKUP = 0, IP4IN_NEXT_DROP };
enum { IP6IN_NEXT_LOOKUP = 0, IP6IN_NEXT_PUNT, IP6IN_NEXT_DROP };
enum { LK_NEXT_REWRITE = 0, LK_NEXT_LOCAL, LK_NEXT_PUNT, LK_NEXT_ICMP, LK_NEXT_DROP };
enum { RW_NEXT_TX = 0, RW_NEXT_ICMP, RW_NEXT_PUNT, RW_NEXT_DROP, RW_NEXT_FRAG };
enum { LOC_NEXT_LOOKUP = 0, LOC_NEXT_ICMP, LOC_NEXT_DROP };
enum { ICMP_NEXT_LOOKUP = 0, ICMP_NEXT_DROP };
enum { FRAG_NEXT_TX = 0, FRAG_NEXT_DROP };
enum { PUNT_NEXT_DROP = 0 };
enum { TX_NEXT_DROP = 0 };

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

/**
 * Send objs[0..n) to nexts[i]. When every packet takes the same edge the
 * whole vector moves with a pointer swap; otherwise runs are enqueued.
 */
static inline void
mg_dispatch(struct rte_graph *graph, struct rte_node *node, void **objs,
	    const uint16_t *nexts, uint16_t n)
{
	uint16_t i = 0;

	while (i < n) {
		uint16_t j = i + 1;

		while (j < n && nexts[j] == nexts[i])
			j++;
		if (i == 0 && j == n && n == node->idx && objs == node->objs) {
			rte_node_next_stream_move(graph, node, nexts[0]);
			return;
		}
		rte_node_enqueue(graph, node, nexts[i], &objs[i], j - i);
		i = j;
	}
}

/** Largest vector a node handles in one pass of its local arrays. */
#define MG_VEC 256

#endif /* MG_NODES_PRIV_H */
