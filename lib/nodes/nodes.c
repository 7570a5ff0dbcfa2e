/* SPDX-License-Identifier: BSD-3-Clause */
/* Node context binding and per-worker graph creation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_log.h>

#include "mg_nodes.h"
#include "nodes_priv.h"

const char *const mg_node_names[] = {
	"port-rx", "inject", "eth-input", "ip4-lookup", "ip6-lookup", "ip4-local", "ip6-local",
	"ip4-icmp-error", "ip6-icmp-error", "ip4-frag", "punt", "port-tx", "drop",
	"ip4-classify", "ip6-classify", "service",
	"wg-input", "wg-output",
	"esp-output", "esp-input", "esp-handoff", "esp-dequeue",
	"vxlan-encap", "vxlan-input",
	"nat-handoff",
};
const unsigned int mg_node_count = RTE_DIM(mg_node_names);

int
mg_node_init(const struct rte_graph *graph, struct rte_node *node)
{
	struct mg_node_ctx *c = mg_ctx(node);
	struct mg_dp *dp = mg_dp_get();
	unsigned int w;

	RTE_BUILD_BUG_ON(sizeof(struct mg_node_ctx) > RTE_NODE_CTX_SZ);
	if (node->nb_edges > MG_MAX_EDGES) {
		RTE_LOG(ERR, USER1, "node %s has %u next nodes, mg_dispatch handles %u\n",
			node->name, (unsigned int)node->nb_edges, MG_MAX_EDGES);
		return -E2BIG;
	}
	if (dp == NULL || sscanf(graph->name, "mgw-%u", &w) != 1 || w >= dp->nb_workers)
		return -EINVAL;
	c->dp = dp;
	c->w = dp->workers[w];
	return 0;
}

rte_graph_t
mg_nodes_graph_create(struct mg_dp *dp, unsigned int w, int socket)
{
	struct rte_graph_param prm;
	char name[RTE_GRAPH_NAMESIZE];

	memset(&prm, 0, sizeof(prm));
	prm.socket_id = socket;
	prm.nb_node_patterns = mg_node_count;
	prm.node_patterns = (const char **)(uintptr_t)mg_node_names;
	snprintf(name, sizeof(name), "mgw-%u", w);
	(void)dp;
	return rte_graph_create(name, &prm);
}
