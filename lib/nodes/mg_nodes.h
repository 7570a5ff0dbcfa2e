/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_NODES_H
#define MG_NODES_H

/**
 * @file
 * The rte_graph nodes of the forwarding pipeline. Each worker instantiates
 * every node in its own graph (mg_nodes_graph_create). Nodes find their
 * worker and the data plane through their node context.
 *
 *   port-rx ─► eth-input ─► ip4-lookup ─► port-tx
 *   (L2 + IPv4/IPv6 input)  ip6-lookup ─┘      (lookup + rewrite)
 *                │                │
 *                │                ├─► ipX-local (echo, unreachable)
 *                │                ├─► ip4-frag ─► port-tx
 *                ▼                            ├─► ipX-icmp-error ─► ipX-lookup
 *              punt (ARP, ND, unresolved)     └─► drop (counted by reason)
 *   inject (main lcore's packets) ─► port-tx / ip4-lookup / ip6-lookup
 *
 * Tunnels enter after lookup (wg-output, esp-output; a VXLAN interface's
 * frames leave port-tx for vxlan-encap, node_vxlan.c) and come out of
 * ipX-local (wg-input, esp-input; vxlan-input hands its frames to eth-input).
 */

#include <rte_graph.h>

struct mg_dp;

/** Names of all nodes, in the order they are added to a graph. */
extern const char *const mg_node_names[];
extern const unsigned int mg_node_count;

/**
 * Create the graph of worker @p w (named "mgw-<index>") on @p socket.
 * Returns the graph id or RTE_GRAPH_ID_INVALID.
 */
rte_graph_t mg_nodes_graph_create(struct mg_dp *dp, unsigned int w, int socket);

#endif /* MG_NODES_H */
