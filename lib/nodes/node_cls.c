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
 *
 * Flow tracking (lib/flow): when the network has a tracker (dp->ct[net],
 * `flows:` in its settings), eth-input sends its packets here even without
 * rules, and after the rules each packet is looked up in the worker's table
 * of that network: a packet of a tracked flow is counted in it (and, in a
 * stateful network, admitted where a deny rule or default would drop it);
 * a packet the rules let through that has no flow starts one. In a stateful
 * network a new flow that finds the table full is dropped (reason
 * "flow-table-full"): its replies could not be admitted.
 */
#include <rte_cycles.h>

#include "mg_cls.h"
#include "mg_ct.h"
#include "mg_svc.h"
#include "nodes_priv.h"

/* The verdict a full flow table gives a new flow of a stateful network (cls_next). */
#define CLS_CT_FULL 0x7f

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
	if (r->verdict == CLS_CT_FULL) {
		md->drop = MG_DROP_FLOW_TABLE_FULL;
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

/* What a packet's key allows (ct_key). */
enum { CT_KEY_FLOW = 0, CT_KEY_ICMP_ERROR, CT_KEY_PARTIAL };

/* The key of an ICMP error: the flow it is about (lib/svc's parser), or CT_KEY_PARTIAL. */
static __rte_noinline uint8_t
ct_key_icmp_error(const uint8_t *l3, uint32_t len, unsigned int fam, uint8_t proto,
		  uint32_t l4off, uint16_t net, struct mg_flow_key *k)
{
	uint32_t h;

	if (mg_svc_pkt_key(l3, len, fam == 0 ? AF_INET : AF_INET6, proto, l4off, 0, net, k, &h) !=
	    MG_SVC_KEY_ICMP_ERROR)
		return CT_KEY_PARTIAL;
	k->tag = 0;
	return CT_KEY_ICMP_ERROR;
}

/*
 * The flow key and TCP flags of packet @m (data at its IP header, validated
 * by ipX-input), in lib/svc's key layout (mg_flow.h: addresses zero-padded,
 * ICMP echo's identifier as both ports, other protocols ports 0, tag 0), and
 * what the key allows: CT_KEY_FLOW a flow of its own; CT_KEY_ICMP_ERROR the
 * flow the error is about (admitted with it, never a flow of its own);
 * CT_KEY_PARTIAL no ports seen (a later fragment, a header cut short): it
 * neither finds nor starts a flow of ports.
 */
static __rte_always_inline uint8_t
ct_key(struct rte_mbuf *m, unsigned int fam, uint16_t net, struct mg_flow_key *k,
       uint8_t *tcp_flags)
{
	const uint8_t *l3 = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m), l4off;
	uint8_t proto, icmp;
	bool frag;

	memset(k, 0, sizeof(*k));
	*tcp_flags = 0;
	if (fam == 0) {
		uint16_t off;

		memcpy(&off, l3 + 6, 2);
		proto = l3[9];
		l4off = (l3[0] & 0xfu) * 4u;
		frag = (off & MG_IP4_OFF_MASK_BE) != 0;
		memcpy(k->src, l3 + 12, 4);
		memcpy(k->dst, l3 + 16, 4);
		k->family = AF_INET;
		icmp = MG_IPPROTO_ICMP;
	} else {
		proto = l3[6];
		l4off = MG_IP6_HLEN;
		frag = false;
		if (unlikely(mg_ip6_is_ext(proto))) {
			int f, first;

			if (mg_ip6_walk(l3, len, &proto, &l4off, &f, &first) < 0)
				return CT_KEY_PARTIAL;
			frag = f && !first;
		}
		memcpy(k->src, l3 + 8, 32); /* source and destination */
		k->family = AF_INET6;
		icmp = MG_IPPROTO_ICMPV6;
	}
	k->proto = proto;
	k->net = net;
	if (unlikely(frag))
		return CT_KEY_PARTIAL;
	if (likely(mg_cls_proto_has_ports(proto))) {
		if (unlikely(l4off + 4 > len))
			return CT_KEY_PARTIAL;
		memcpy(&k->sport, l3 + l4off, 4);
		if (proto == MG_IPPROTO_TCP && likely(l4off + 14 <= len))
			*tcp_flags = l3[l4off + 13];
		return CT_KEY_FLOW;
	}
	if (proto == icmp) {
		uint8_t type;

		if (unlikely(l4off + 8 > len))
			return CT_KEY_PARTIAL;
		type = l3[l4off];
		if (fam == 0 ? type == MG_ICMP4_ECHO_REQUEST || type == MG_ICMP4_ECHO_REPLY
			     : type == MG_ICMP6_ECHO_REQUEST || type == MG_ICMP6_ECHO_REPLY) {
			memcpy(&k->sport, l3 + l4off + 4, 2);
			k->dport = k->sport;
			return CT_KEY_FLOW;
		}
		if (fam == 0 ? type == MG_ICMP4_DEST_UNREACH || type == MG_ICMP4_TIME_EXCEEDED ||
				       type == MG_ICMP4_PARAM_PROBLEM
			     : type >= MG_ICMP6_DEST_UNREACH && type <= MG_ICMP6_PARAM_PROBLEM)
			return ct_key_icmp_error(l3, len, fam, proto, l4off, net, k);
	}
	return CT_KEY_FLOW; /* other protocols (and ICMP types): the address pair */
}

/*
 * Track packets o[0..n) of network @net in this worker's table of @cs after
 * their rules gave @res: count each in its flow, create flows for permitted
 * packets, and in a stateful network turn a deny into a pass for packets of
 * tracked flows (and a pass into CLS_CT_FULL when no flow can be made).
 */
static __rte_always_inline void
cls_track(const struct mg_ct_set *cs, unsigned int w, void **o, struct mg_cls_result *res,
	  uint16_t n, unsigned int fam, uint16_t net, uint64_t now)
{
	struct mg_ct_table *t = cs->t[w];
	struct mg_ct_stats *st = mg_ct_table_stats(t);
	struct mg_flow_key keys[MG_VEC];
	const struct mg_flow_key *kp[MG_VEC];
	struct mg_ct_flow *flows[MG_VEC];
	uint8_t dirs[MG_VEC], flags[MG_VEC], kind[MG_VEC];
	const bool stateful = cs->conf.stateful;
	uint64_t active0 = st->active;
	bool dirty;

	for (uint16_t i = 0; i < n; i++) {
		kind[i] = ct_key(o[i], fam, net, &keys[i], &flags[i]);
		kp[i] = &keys[i];
	}
	mg_ct_lookup_bulk(t, kp, n, now, flows, dirs);
	/* Once a flow is created or ended, the bulk results of later packets may
	 * be stale (a new flow for the same key, an entry reused): look again. */
	dirty = st->active != active0;
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = o[i];
		struct mg_ct_flow *f = flows[i];
		int dir = dirs[i];
		const bool pass = res[i].verdict == MG_CLS_PASS;

		if (unlikely(dirty))
			f = mg_ct_lookup(t, &keys[i], now, &dir);
		if (f != NULL) {
			const bool denied = res[i].verdict == MG_CLS_DROP_DENY;

			/* What is dropped anyway (denied without state, policed) is not counted. */
			if (!pass && !(denied && stateful))
				continue;
			if (likely(kind[i] == CT_KEY_FLOW) &&
			    unlikely(mg_ct_update(t, f, dir, m->pkt_len, flags[i],
						  mg_meta(m)->rx_if, now) < 0)) {
				/* A SYN reopening a closed flow's tuple: a new flow. */
				mg_ct_end_closed(t, f);
				dirty = true;
				f = NULL;
			} else {
				if (denied) {
					res[i].verdict = MG_CLS_PASS;
					st->admitted++;
				}
				continue;
			}
		}
		/* No flow: only what the rules let through starts one (a whole packet). */
		if (!pass || kind[i] != CT_KEY_FLOW)
			continue;
		f = mg_ct_create(t, &keys[i], flags[i], now);
		if (unlikely(f == NULL)) {
			if (stateful)
				res[i].verdict = CLS_CT_FULL;
			continue;
		}
		dirty = true;
		mg_ct_update(t, f, 0, m->pkt_len, flags[i], mg_meta(m)->rx_if, now);
	}
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
	uint64_t now = 0;

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
			const struct mg_ct_set *cs;

			while (j < n && mg_meta(o[j])->net == net)
				j++;
			set = __atomic_load_n(&dp->cls[net][fam], __ATOMIC_ACQUIRE);
			cs = __atomic_load_n(&dp->ct[net], __ATOMIC_ACQUIRE);
			if (unlikely(set == NULL && cs == NULL)) {
				/* Its rules went away since eth-input looked. */
				for (; i < j; i++)
					nexts[i] = CLS_NEXT_LOOKUP;
				continue;
			}
			if (set != NULL) {
				t = mg_cls_set_table(set);
				mg_cls_classify_burst(t, slot, (struct rte_mbuf *const *)(o + i),
						      ifc + i, vlan + i, j - i, res + i);
				for (uint16_t k = i; k < j; k++)
					if (unlikely(res[k].flags & MG_CLS_RF_APPLY)) {
						if (tsc == 0)
							tsc = rte_rdtsc();
						mg_cls_apply_burst(t, slot,
								   (struct rte_mbuf *const *)(o + k),
								   res + k, j - k, tsc);
						break;
					}
			} else {
				/* Tracking without rules: everything passes. */
				memset(res + i, 0, (size_t)(j - i) * sizeof(res[0]));
			}
			if (cs != NULL && likely(slot < cs->nb_workers)) {
				if (now == 0)
					now = tsc != 0 ? tsc : rte_rdtsc();
				cls_track(cs, slot, o + i, res + i, j - i, fam, net, now);
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
