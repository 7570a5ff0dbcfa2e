/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ip4-classify, ip6-classify: the network's classification rules (lib/cls)
 * between input and lookup. eth-input sends a packet here only when its
 * network has a rule set for its family, so networks without rules pay
 * nothing.
 *
 * Per run of packets of one network: one acquire load of the set's table
 * (valid until the end of the graph walk: the main lcore frees a replaced
 * table only after a walk-level grace period, mg_dp_sync), keys and rte_acl
 * in chunks, then the actions: deny and police-red go to the drop node with
 * their reason; mark rewrites the DSCP; table moves the packet into another
 * network's route table; service and tunnel give it its next hop (the
 * lookup then skips the FIB's answer); count and permit go on. A capture action only sets
 * MG_META_CAPTURE: the capture tap is the hook's consumer.
 */
#include <rte_cycles.h>

#include "mg_cls.h"
#include "nodes_priv.h"

/* Ingress interface and VLAN of each packet, for the rules that match them. */
static __rte_always_inline void
cls_if_vlan(const struct mg_dp *dp, void **o, uint16_t n, uint16_t *ifc, uint16_t *vlan)
{
	uint16_t last = MG_IF_NONE, last_vlan = 0;

	for (uint16_t i = 0; i < n; i++) {
		uint16_t x = mg_meta(o[i])->rx_if;

		if (unlikely(x != last)) {
			const struct mg_dp_iface *r = mg_dp_iface(dp, x);

			last = x;
			last_vlan = r != NULL ? r->vlan : 0;
		}
		ifc[i] = x == MG_IF_NONE ? MG_CLS_IFACE_NONE : x;
		vlan[i] = last_vlan;
	}
}

/* Where the result @r sends packet @m. */
static __rte_always_inline uint16_t
cls_next(struct rte_mbuf *m, const struct mg_cls_result *r)
{
	struct mg_meta *md;

	if (likely(r->verdict == MG_CLS_PASS && r->action <= MG_CLS_COUNT))
		return CLS_NEXT_LOOKUP;
	md = mg_meta(m);
	if (r->verdict == MG_CLS_DROP_DENY) {
		md->drop = MG_DROP_RULE_DENY;
		return CLS_NEXT_DROP;
	}
	if (r->verdict == MG_CLS_DROP_POLICE) {
		md->drop = MG_DROP_RULE_POLICE;
		return CLS_NEXT_DROP;
	}
	if (r->action == MG_CLS_TABLE && r->id < MG_MAX_NETS)
		md->net = (uint16_t)r->id;
	/* service / tunnel: the handle is the next hop's adjacency (lib/gw/gw_cls.h). */
	if ((r->action == MG_CLS_SERVICE || r->action == MG_CLS_TUNNEL) && r->id != 0) {
		md->adj = r->id;
		md->flags |= MG_META_NEXTHOP;
	}
	if (r->flags & MG_CLS_RF_CAPTURE)
		md->flags |= MG_META_CAPTURE;
	return CLS_NEXT_LOOKUP;
}

static __rte_always_inline uint16_t
cls_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb,
	    unsigned int fam)
{
	struct mg_node_ctx *c = mg_ctx(node);
	const struct mg_dp *dp = c->dp;
	const unsigned int slot = c->w->index;
	struct mg_cls_result res[MG_VEC];
	uint16_t nexts[MG_VEC], ifc[MG_VEC], vlan[MG_VEC];
	uint64_t tsc = 0;

	for (uint16_t base = 0; base < nb; base += MG_VEC) {
		uint16_t n = RTE_MIN((uint16_t)(nb - base), (uint16_t)MG_VEC);
		void **o = objs + base;
		uint16_t i = 0;

		cls_if_vlan(dp, o, n, ifc, vlan);
		while (i < n) {
			/* A run of packets of one network: one table, one rte_acl pass. */
			uint16_t net = mg_meta(o[i])->net, j = i + 1;
			const struct mg_cls_set *set;
			const struct mg_cls_table *t;

			while (j < n && mg_meta(o[j])->net == net)
				j++;
			set = __atomic_load_n(&dp->cls[net][fam], __ATOMIC_ACQUIRE);
			if (unlikely(set == NULL)) {
				/* Its rules went away since eth-input looked. */
				for (; i < j; i++)
					nexts[i] = CLS_NEXT_LOOKUP;
				continue;
			}
			t = mg_cls_set_table(set);
			mg_cls_classify_burst(t, slot, (struct rte_mbuf *const *)(o + i), ifc + i,
					      vlan + i, j - i, res + i);
			for (uint16_t k = i; k < j; k++)
				if (unlikely(res[k].flags & MG_CLS_RF_APPLY)) {
					if (tsc == 0)
						tsc = rte_rdtsc();
					mg_cls_apply_burst(t, slot, (struct rte_mbuf *const *)(o + k),
							   res + k, j - k, tsc);
					break;
				}
			for (; i < j; i++)
				nexts[i] = cls_next(o[i], &res[i]);
		}
		mg_dispatch(graph, node, o, nexts, n);
	}
	return nb;
}

static uint16_t
ip4_classify_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	return cls_process(graph, node, objs, nb, 0);
}

static uint16_t
ip6_classify_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	return cls_process(graph, node, objs, nb, 1);
}

static struct rte_node_register ip4_classify_node = {
	.name = "ip4-classify",
	.process = ip4_classify_process,
	.init = mg_node_init,
	.nb_edges = 2,
	.next_nodes = {
		[CLS_NEXT_LOOKUP] = "ip4-lookup",
		[CLS_NEXT_DROP] = "drop",
	},
};
RTE_NODE_REGISTER(ip4_classify_node);

static struct rte_node_register ip6_classify_node = {
	.name = "ip6-classify",
	.process = ip6_classify_process,
	.init = mg_node_init,
	.nb_edges = 2,
	.next_nodes = {
		[CLS_NEXT_LOOKUP] = "ip6-lookup",
		[CLS_NEXT_DROP] = "drop",
	},
};
RTE_NODE_REGISTER(ip6_classify_node);
