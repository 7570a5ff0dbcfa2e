/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The "service" graph node: packets whose destination is a service's VIP
 * (a MG_ADJ_SERVICE route) get an endpoint from the service's Maglev table
 * through the worker's flow table, and go back to ip4-lookup / ip6-lookup
 * with the endpoint's neighbor adjacency as their next hop (route mode:
 * addresses unchanged), or with the destination rewritten to the endpoint
 * (nat mode, lib/natgw). Built into the nodes library (it needs the node
 * helpers); the service code itself is lib/svc.
 */
#include <rte_cycles.h>
#include <rte_fib.h>
#include <rte_fib6.h>

#include "mg_natgw.h"
#include "mg_svc_rt.h"
#include "nodes_priv.h"

enum { SVC_NEXT_IP4 = 0, SVC_NEXT_IP6, SVC_NEXT_DROP };

/* svc_one's answer for a packet handed to another worker (out of this vector). */
#define SVC_HANDED UINT16_MAX

/* Flows the node checks for expiry per call. */
#define SVC_EXPIRE_BUDGET 32

/* The endpoint's neighbor adjacency in network @net, or 0 if it is not a neighbor. */
static inline uint32_t
endpoint_adj(const struct mg_dp *dp, unsigned int w, uint16_t net, const struct mg_ip *a)
{
	const struct mg_dp_net *dn = mg_dp_net(dp, net);
	uint64_t nh = MG_ADJ_ID_NOROUTE;

	if (unlikely(dn == NULL))
		return 0;
	mg_dp_fib_enter(dp, w);
	if (a->family == AF_INET) {
		uint32_t ip = rte_be_to_cpu_32(a->v4);

		do
			rte_fib_lookup_bulk(dn->fib4, &ip, &nh, 1);
		while (unlikely(nh == MG_ADJ_ID_RETRY));
	} else {
		uint8_t ip6[1][16];

		memcpy(ip6[0], a->v6, 16);
		do
			rte_fib6_lookup_bulk(dn->fib6, ip6, &nh, 1);
		while (unlikely(nh == MG_ADJ_ID_RETRY));
	}
	mg_dp_fib_leave(dp, w);
	return dp->adj[nh].type == MG_ADJ_NEIGHBOR ? (uint32_t)nh : 0;
}

/* Count a packet for endpoint @e of service table @t on worker @w. */
static inline void
svc_ep_count(struct mg_svc_rt *rt, unsigned int w, const struct mg_svc_table *t,
	     const struct mg_svc_ep *e, uint32_t len, bool new_flow)
{
	struct mg_svc_ep_count *ec = mg_svc_rt_epc(rt, w, t->id, mg_svc_ref_slot(e->ref));

	if (likely(ec != NULL)) {
		ec->pkts++;
		ec->bytes += len;
		ec->flows_new += new_flow;
	}
}

/* The datagram identity of fragment @l3 (mg_natgw_frag.h): false if unreadable. */
static inline bool
svc_frag_ident(const uint8_t *l3, uint32_t len, uint8_t family, uint32_t *id, uint8_t *src,
	       uint8_t *dst)
{
	const unsigned int alen = family == AF_INET ? 4 : 16;

	if (mg_natgw_frag_id(l3, len, family, id) < 0)
		return false;
	memcpy(src, l3 + (family == AF_INET ? 12 : 8), alen);
	memcpy(dst, l3 + (family == AF_INET ? 16 : 24), alen);
	return true;
}

/*
 * Nat mode, a fragment after the first (no ports): it takes the addresses
 * its first left with (the datagram's entry in mg_natgw_frag.h, recorded by
 * svc_nat or the nat node), or follows its first to the worker it was
 * handed to. One that comes before its first is dropped and counted: no
 * flow can be found or made without the ports.
 */
static inline uint16_t
svc_nat_frag_later(struct mg_svc_rt_stats *st, struct rte_mbuf *m, uint8_t family,
		   uint8_t proto, uint64_t now, unsigned int w)
{
	struct mg_natgw *ng = mg_natgw_get();
	struct mg_meta *md = mg_meta(m);
	uint8_t *l3 = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m), id;
	uint8_t src[16], dst[16];
	struct mg_natgw_frag e;
	struct mg_nat_pkt p;
	int rc;

	if (unlikely(ng == NULL || !svc_frag_ident(l3, len, family, &id, src, dst) ||
		     !mg_natgw_frag_get(ng->frags, md->net, family, proto, id, src, dst, now, &e) ||
		     (e.pending && e.owner == w))) {
		if (ng != NULL)
			ng->stats[w].frag_unknown++;
		mg_set_drop(m, MG_DROP_NAT_UNTRANSLATABLE);
		return SVC_NEXT_DROP;
	}
	if (e.pending) { /* behind its first, through the same ring */
		if (unlikely(mg_natgw_handoff(ng, e.owner, m, true) < 0)) {
			ng->stats[w].handoff_drops++;
			mg_set_drop(m, MG_DROP_NAT_HANDOFF_FULL);
			return SVC_NEXT_DROP;
		}
		ng->stats[w].handoffs++;
		return SVC_HANDED;
	}
	rc = mg_nat_pkt_init(&p, l3, len);
	if (likely(rc == 0))
		rc = mg_natgw_frag_apply(&e, &p);
	if (unlikely(rc < 0)) {
		ng->stats[w].untranslatable++;
		mg_set_drop(m, (enum mg_drop)mg_natgw_drop_reason(rc));
		return SVC_NEXT_DROP;
	}
	ng->stats[w].frags++;
	st->steered++;
	md->net = e.tnet;
	md->flags |= MG_META_NAT_DONE;
	return family == AF_INET ? SVC_NEXT_IP4 : SVC_NEXT_IP6;
}

/*
 * Nat mode (lib/natgw): the destination becomes the endpoint (and its port),
 * the flow keeps a reply key so the nat node translates the replies back;
 * the packet is looked up again towards its new destination. Later packets
 * of the flow are translated by the nat node before they get here.
 *
 * A first fragment (@first; its upper-layer protocol @proto, which an ICMP
 * error's key @k does not carry) is keyed, translated and counted like a
 * whole packet, then its datagram is recorded (mg_natgw_frag.h) so that the
 * later fragments take the same addresses; handed to the flow's owner, it
 * is recorded as pending there, and the later fragments follow it.
 */
static inline uint16_t
svc_nat(struct mg_svc_rt *rt, struct mg_flow_table *ft, struct mg_svc_rt_stats *st,
	struct rte_mbuf *m, const struct mg_svc_table *t, struct mg_flow_key *k, uint32_t h,
	enum mg_svc_key kind, uint8_t tcp_flags, bool first, uint8_t proto, uint64_t now,
	unsigned int w)
{
	struct mg_natgw *ng = mg_natgw_get();
	struct mg_meta *md = mg_meta(m);
	uint8_t *l3 = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m), id = 0;
	const struct mg_svc_ep *e = NULL;
	const uint16_t net = md->net;
	uint8_t src[16], dst[16];
	bool created = false;
	struct mg_nat_pkt p;
	struct mg_flow *f;
	int dir = 0, rc;

	/* (ng is NULL only without nat services: then no flow can be made below) */
	if (first && (ng == NULL || !svc_frag_ident(l3, len, k->family, &id, src, dst)))
		first = false;

	k->tag = 0;
	f = mg_flow_lookup(ft, k, now, &dir);
	if (f != NULL && !(f->has_rkey && (dir == 1 || (f->r.svc == t->id &&
						      (e = mg_svc_ref_get(t, f->r.ep)) != NULL)))) {
		/* Its endpoint went away (or the service changed mode): a new flow. */
		mg_flow_end(ft, f, f->r.svc == t->id ? mg_svc_ref_state(t, f->r.ep)
						     : MG_FLOW_END_SERVICE_REMOVED);
		f = NULL;
	}
	if (f == NULL && ng != NULL && ng->nb_workers > 1) {
		/* The client's worker owns the flow (see mg_natgw.h): hand it over. */
		unsigned int o = mg_natgw_owner(k->src, k->sport, k->family, ng->nb_workers);

		if (o != w) {
			if (unlikely(mg_natgw_handoff(ng, o, m, true) < 0)) {
				ng->stats[w].handoff_drops++;
				mg_set_drop(m, MG_DROP_NAT_HANDOFF_FULL);
				return SVC_NEXT_DROP;
			}
			ng->stats[w].handoffs++;
			/* (the packet is the owner's now: not read again) */
			if (first)
				mg_natgw_frag_put_state(ng->frags, net, k->family, proto, id, src,
							dst, src, dst, net, MG_NATGW_FRAG_TO_SVC, o,
							now);
			return SVC_HANDED;
		}
	}
	if (f == NULL && unlikely(kind == MG_SVC_KEY_ICMP_ERROR)) {
		/* An error about no flow of ours (RFC 5508): no state, no endpoint. */
		if (ng != NULL)
			ng->stats[w].untranslatable++;
		mg_set_drop(m, MG_DROP_NAT_UNTRANSLATABLE);
		return SVC_NEXT_DROP;
	}
	if (f == NULL) {
		f = mg_natgw_dnat_create(ft, k, t, h, md->net, now, &e);
		if (unlikely(f == NULL)) {
			if (e == NULL) {
				st->no_endpoint++;
				mg_set_drop(m, MG_DROP_SVC_NO_ENDPOINT);
			} else {
				if (ng != NULL)
					ng->stats[w].no_flow++;
				mg_set_drop(m, MG_DROP_NAT_NO_FLOW);
			}
			return SVC_NEXT_DROP;
		}
		created = true;
		dir = 0;
		if (ng != NULL)
			ng->stats[w].dnat_flows++;
	}
	rc = mg_nat_pkt_init(&p, l3, len);
	if (likely(rc == 0))
		rc = mg_natgw_apply(f, dir, &p, kind);
	if (unlikely(rc < 0)) {
		if (ng != NULL)
			ng->stats[w].untranslatable++;
		mg_set_drop(m, (enum mg_drop)mg_natgw_drop_reason(rc));
		return SVC_NEXT_DROP;
	}
	mg_natgw_touch(f, dir, kind, len, tcp_flags, now);
	if (ng != NULL) {
		if (dir)
			ng->stats[w].xlate_reply++;
		else
			ng->stats[w].xlate_fwd++;
		ng->stats[w].icmp_errors += kind == MG_SVC_KEY_ICMP_ERROR;
	}
	md->net = mg_natgw_target_net(f, dir);
	if (first) {
		const unsigned int alen = k->family == AF_INET ? 4 : 16;
		const uint8_t *ns = l3 + (k->family == AF_INET ? 12 : 8);

		mg_natgw_frag_put(ng->frags, net, k->family, proto, id, src, dst, ns, ns + alen,
				  md->net, -1, now);
	}
	st->steered++;
	if (e != NULL)
		svc_ep_count(rt, w, t, e, len, created);
	md->flags |= MG_META_NAT_DONE | MG_META_NAT_XLATED;
	return p.family == AF_INET ? SVC_NEXT_IP4 : SVC_NEXT_IP6;
}

static inline uint16_t
svc_one(struct mg_node_ctx *c, struct mg_svc_rt *rt, struct mg_flow_table *ft,
	struct mg_svc_rt_stats *st, struct rte_mbuf *m, uint64_t now)
{
	struct mg_meta *md = mg_meta(m);
	const uint8_t *l3 = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m), l4off;
	uint8_t family, proto, frag, first, tcp_flags = 0;
	const struct mg_svc_table *t;
	const struct mg_svc_ep *e;
	enum mg_svc_verdict v;
	enum mg_svc_key kind;
	struct mg_flow_key k;
	uint32_t h, adj;

	t = mg_svc_rt_table(rt, c->dp->adj[md->adj].ifindex);
	if (unlikely(t == NULL)) {
		st->no_service++;
		mg_set_drop(m, MG_DROP_SVC_NO_ENDPOINT);
		return SVC_NEXT_DROP;
	}
	if ((l3[0] >> 4) == 4) {
		uint16_t off = rte_be_to_cpu_16(((const struct rte_ipv4_hdr *)l3)->fragment_offset);

		family = AF_INET;
		proto = l3[9];
		l4off = (l3[0] & 0xfu) * 4u;
		frag = (off & 0x3fff) != 0;
		first = (off & 0x1fff) == 0;
	} else {
		int f, fi;

		family = AF_INET6;
		if (mg_ip6_walk(l3, len, &proto, &l4off, &f, &fi) < 0) {
			proto = MG_IPPROTO_NONE;
			l4off = len;
			fi = 0;
		}
		frag = (uint8_t)f;
		first = (uint8_t)fi;
	}
	if (unlikely(t->mode == MG_SVC_NAT)) {
		/*
		 * Nat mode keys a first fragment on its L4 header like a whole packet
		 * (the flow its datagram belongs to), and translates the later ones
		 * by the record the first left (those of protocols without ports are
		 * keyed by addresses, first and later alike, as route mode keys
		 * every fragment).
		 */
		if (frag && !first && mg_svc_proto_ported(family, proto))
			return svc_nat_frag_later(st, m, family, proto, now, c->w->index);
		first = frag && first && mg_svc_proto_ported(family, proto);
		kind = mg_svc_pkt_key(l3, len, family, proto, l4off, first ? 0 : frag, md->net, &k,
				      &h);
		if (proto == MG_IPPROTO_TCP && (!frag || first) && l4off + 14 <= len)
			tcp_flags = l3[l4off + 13];
		return svc_nat(rt, ft, st, m, t, &k, h, kind, tcp_flags, first, proto, now,
			       c->w->index);
	}
	kind = mg_svc_pkt_key(l3, len, family, proto, l4off, frag, md->net, &k, &h);
	if (proto == MG_IPPROTO_TCP && !frag && l4off + 14 <= len)
		tcp_flags = l3[l4off + 13];
	e = mg_svc_steer(t, ft, &k, h, len, tcp_flags, now, &v, NULL);
	if (unlikely(e == NULL)) {
		st->no_endpoint++;
		mg_set_drop(m, MG_DROP_SVC_NO_ENDPOINT);
		return SVC_NEXT_DROP;
	}
	adj = e->addr.family == family ? endpoint_adj(c->dp, c->w->index, md->net, &e->addr) : 0;
	if (unlikely(adj == 0)) {
		st->unreachable++;
		mg_set_drop(m, MG_DROP_SVC_UNREACHABLE);
		return SVC_NEXT_DROP;
	}
	st->steered++;
	svc_ep_count(rt, c->w->index, t, e, len, v == MG_SVC_NEW);
	md->adj = adj;
	md->flags |= MG_META_NEXTHOP;
	return family == AF_INET ? SVC_NEXT_IP4 : SVC_NEXT_IP6;
}

static uint16_t
svc_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct mg_node_ctx *c = mg_ctx(node);
	struct mg_svc_rt *rt = mg_svc_rt_get();
	uint16_t nexts[MG_VEC];
	uint64_t now = rte_rdtsc();

	if (unlikely(rt == NULL || c->w->index >= rt->nb_workers)) {
		for (uint16_t i = 0; i < nb; i++)
			mg_set_drop(objs[i], MG_DROP_SVC_NO_ENDPOINT);
		rte_node_enqueue(graph, node, SVC_NEXT_DROP, objs, nb);
		return nb;
	}
	struct mg_flow_table *ft = rt->flows[c->w->index];
	struct mg_svc_rt_stats *st = &rt->stats[c->w->index];

	for (uint16_t base = 0; base < nb; base += MG_VEC) {
		uint16_t n = RTE_MIN((uint16_t)(nb - base), (uint16_t)MG_VEC);

		uint16_t kept = 0;

		for (uint16_t i = 0; i < n; i++) {
			mg_prefetch(objs + base, i, n);
			nexts[kept] = svc_one(c, rt, ft, st, objs[base + i], now);
			if (likely(nexts[kept] != SVC_HANDED))
				objs[base + kept++] = objs[base + i];
		}
		if (kept != 0)
			mg_dispatch(graph, node, objs + base, nexts, kept);
	}
	/* Idle flows, and flows whose endpoint or service went away. */
	mg_flow_expire(ft, now, SVC_EXPIRE_BUDGET, mg_svc_flow_check, (void *)rt->tables);
	return nb;
}

static struct rte_node_register svc_node = {
	.name = "service",
	.process = svc_process,
	.init = mg_node_init,
	.nb_edges = 3,
	.next_nodes = {
		[SVC_NEXT_IP4] = "ip4-lookup",
		[SVC_NEXT_IP6] = "ip6-lookup",
		[SVC_NEXT_DROP] = "drop",
	},
};
RTE_NODE_REGISTER(svc_node);
