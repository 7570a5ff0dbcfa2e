/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The "nat" graph node (lib/natgw's contract in mg_natgw.h): translates
 * the packets of known NAT flows, creates the source NAT flows of a
 * gateway's routes and the destination NAT flows of its published
 * services, and prefix-translates NPTv6 gateways. Built into the nodes
 * library, like the service node.
 */
#include <rte_cycles.h>
#include <rte_ring.h>
#include <rte_ring_peek.h>

#include "mg_natgw.h"
#include "mg_svc_rt.h"
#include "nodes_priv.h"

/* Parse what the key and lib/nat need; false for a packet nat cannot read. */
static inline bool
nat_parse(const uint8_t *l3, uint32_t len, uint8_t *family, uint8_t *proto, uint32_t *l4off,
	  uint8_t *frag, uint8_t *first)
{
	if ((l3[0] >> 4) == 4) {
		uint16_t off = rte_be_to_cpu_16(((const struct rte_ipv4_hdr *)l3)->fragment_offset);

		*family = AF_INET;
		*proto = l3[9];
		*l4off = (l3[0] & 0xfu) * 4u;
		*frag = (off & 0x3fff) != 0;
		*first = (off & 0x1fff) == 0;
		return true;
	}
	int f, fi;

	*family = AF_INET6;
	if (mg_ip6_walk(l3, len, proto, l4off, &f, &fi) < 0)
		return false;
	*frag = (uint8_t)f;
	*first = (uint8_t)fi;
	return true;
}

/* After the nat node: classification of the packet's network, then lookup. */
static inline uint16_t
nat_next(const struct mg_dp *dp, const struct mg_meta *md, uint8_t family, bool gw)
{
	const unsigned int fam = family == AF_INET6;

	if (!gw && mg_net_classifies(dp, md->net, fam))
		return (uint16_t)(NAT_NEXT_CLS4 + fam);
	return (uint16_t)(NAT_NEXT_IP4 + fam);
}

static inline uint16_t
nat_drop(struct rte_mbuf *m, enum mg_drop why)
{
	mg_set_drop(m, why);
	return NAT_NEXT_DROP;
}

/* Flows the node checks for expiry per call (as the service node). */
#define NAT_EXPIRE_BUDGET 32

/* nat_one's answer for a packet handed to another worker (out of this vector). */
#define NAT_HANDED UINT16_MAX

/* The worker the last packet this lcore handed off went to (first fragments follow it). */
static RTE_DEFINE_PER_LCORE(unsigned int, nat_handed_to);

/* Hand @m to worker @owner's nat node (a full ring drops it). */
static inline uint16_t
nat_handoff(struct mg_natgw *ng, struct mg_natgw_stats *st, struct rte_mbuf *m,
	    unsigned int owner)
{
	RTE_PER_LCORE(nat_handed_to) = owner;
	if (unlikely(mg_natgw_handoff(ng, owner, m, false) < 0)) {
		st->handoff_drops++;
		return nat_drop(m, MG_DROP_NAT_HANDOFF_FULL);
	}
	st->handoffs++;
	return NAT_HANDED;
}

/* True if @a (IPv4: 4 bytes) is gateway @g's outside address of @family. */
static inline bool
gw_addr(const struct mg_natgw_gw *g, const uint8_t *a, uint8_t family)
{
	return family == AF_INET ? g->has4 && memcmp(a, g->addr4, 4) == 0
				 : g->has6 && memcmp(a, g->addr6, 16) == 0;
}

/* Translate @m by flow @f in direction @dir and send it on in the target network. */
static inline uint16_t
nat_xlate(const struct mg_dp *dp, struct mg_natgw_stats *st, struct rte_mbuf *m,
	  struct mg_flow *f, int dir, enum mg_svc_key kind, uint8_t tcp_flags, uint64_t now,
	  bool gw)
{
	struct mg_meta *md = mg_meta(m);
	uint8_t *l3 = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m);
	struct mg_nat_pkt p;
	int rc = mg_nat_pkt_init(&p, l3, len);

	if (likely(rc == 0))
		rc = mg_natgw_apply(f, dir, &p, kind);
	if (unlikely(rc < 0)) {
		st->untranslatable++;
		return nat_drop(m, (enum mg_drop)mg_natgw_drop_reason(rc));
	}
	md->flags |= MG_META_NAT_XLATED;
	mg_natgw_touch(f, dir, kind, len, tcp_flags, now);
	if (dir)
		st->xlate_reply++;
	else
		st->xlate_fwd++;
	st->icmp_errors += kind == MG_SVC_KEY_ICMP_ERROR;
	md->net = mg_natgw_target_net(f, dir);
	return nat_next(dp, md, p.family, gw);
}

/* NPTv6 of @m through gateway @g in direction @d (the stateless IPv6 mapping). */
static inline uint16_t
nat_npt6(struct mg_natgw_stats *st, struct rte_mbuf *m, const struct mg_natgw_gw *g,
	 enum mg_npt6_dir d)
{
	struct mg_nat_pkt p;

	if (unlikely(mg_nat_pkt_init(&p, rte_pktmbuf_mtod(m, uint8_t *),
				     rte_pktmbuf_data_len(m)) < 0 ||
		     mg_npt6_rewrite(&g->npt, &p, d) < 0)) {
		st->untranslatable++;
		return nat_drop(m, MG_DROP_NAT_UNTRANSLATABLE);
	}
	st->npt6++;
	mg_meta(m)->net = d == MG_NPT6_OUT ? g->outside : g->inside;
	return NAT_NEXT_IP6;
}

/* True if IPv6 address @a is in gateway @g's outside NPTv6 prefix. */
static inline bool
npt6_outer(const struct mg_natgw_gw *g, const uint8_t *a)
{
	struct mg_prefix pf = {.addr = {.family = AF_INET6}, .len = g->npt.plen};
	struct mg_ip ip = {.family = AF_INET6};

	memcpy(pf.addr.v6, g->npt.outer, 16);
	memcpy(ip.v6, a, 16);
	return mg_prefix_contains(&pf, &ip);
}

/* True if IPv6 address @a is in one of gateway @g's IPv6 sources. */
static inline bool
gw_inside_dst(const struct mg_natgw_gw *g, const uint8_t *a)
{
	struct mg_ip ip = {.family = AF_INET6};

	memcpy(ip.v6, a, 16);
	for (unsigned int i = 0; i < g->nsrc; i++)
		if (g->src[i].addr.family == AF_INET6 && mg_prefix_contains(&g->src[i], &ip))
			return true;
	return false;
}

/* A packet that found no flow in a NAT network (before lookup). */
static inline uint16_t
nat_miss_in(const struct mg_dp *dp, struct mg_natgw *ng, struct mg_svc_rt *rt,
	    struct mg_flow_table *ft, struct mg_natgw_stats *st, unsigned int w,
	    struct rte_mbuf *m, const struct mg_flow_key *k, uint32_t h, enum mg_svc_key kind,
	    uint8_t tcp_flags, uint8_t frag, uint64_t now)
{
	struct mg_meta *md = mg_meta(m);
	uint16_t gws = ng != NULL ? __atomic_load_n(&ng->outside_of[md->net & 0xff],
						     __ATOMIC_ACQUIRE) : 0;
	const bool multi = ng != NULL && ng->nb_workers > 1;

	while (unlikely(gws != 0)) {
		const struct mg_natgw_gw *g = mg_natgw_slot(ng, (unsigned int)__builtin_ctz(gws));
		const struct mg_natgw_pub *pub;

		gws &= (uint16_t)(gws - 1);
		if (g == NULL || g->outside != md->net)
			continue;
		if (k->family == AF_INET6 && g->v6mode == MG_NATGW_V6_NPT6 &&
		    npt6_outer(g, rte_pktmbuf_mtod_offset(m, const uint8_t *, 24)))
			return nat_npt6(st, m, g, MG_NPT6_IN);
		/* ipv6: route: IPv6 to the gateway's sources crosses back as it is. */
		if (k->family == AF_INET6 && g->v6mode == MG_NATGW_V6_ROUTE &&
		    gw_inside_dst(g, rte_pktmbuf_mtod_offset(m, const uint8_t *, 24))) {
			st->routed++;
			md->net = g->inside;
			return NAT_NEXT_IP6;
		}
		/* A reply to a source NAT port: its block says whose flow it is. */
		if (multi && gw_addr(g, k->dst, k->family)) {
			int o = mg_nat_port_owner(g->port_first, g->port_last, ng->nb_workers,
						  rte_be_to_cpu_16(k->dport));

			if (o >= 0 && (unsigned int)o != w)
				return nat_handoff(ng, st, m, (unsigned int)o);
		}
		if (kind == MG_SVC_KEY_5TUPLE && !frag && (pub = mg_natgw_pub_find(g, k)) != NULL) {
			const struct mg_svc_table *t = mg_svc_rt_table(rt, pub->svc);
			const struct mg_svc_ep *e;
			struct mg_flow *f;

			if (multi) {
				unsigned int o = mg_natgw_owner(k->src, k->sport, k->family,
								ng->nb_workers);

				if (o != w)
					return nat_handoff(ng, st, m, o);
			}

			if (unlikely(t == NULL))
				return nat_drop(m, MG_DROP_SVC_NO_ENDPOINT);
			f = mg_natgw_dnat_create(ft, k, t, h, g->inside, now, &e);
			if (unlikely(f == NULL)) {
				if (e == NULL)
					return nat_drop(m, MG_DROP_SVC_NO_ENDPOINT);
				st->no_flow++;
				return nat_drop(m, MG_DROP_NAT_NO_FLOW);
			}
			st->dnat_flows++;
			f->r.nat_gw = mg_natgw_tag(g); /* the gateway's session (no port) */
			struct mg_svc_ep_count *ec =
				mg_svc_rt_epc(rt, f->r.worker, t->id, mg_svc_ref_slot(e->ref));

			if (likely(ec != NULL)) {
				ec->pkts++;
				ec->bytes += rte_pktmbuf_data_len(m);
				ec->flows_new++;
			}
			return nat_xlate(dp, st, m, f, 0, kind, tcp_flags, now, true);
		}
	}
	/* A nat service's endpoint answering a client: the client's worker has the flow. */
	if (multi && mg_natgw_ep_maybe(ng, md->net, k->src, k->family)) {
		unsigned int o = mg_natgw_owner(k->dst, k->dport, k->family, ng->nb_workers);

		if (o != w)
			return nat_handoff(ng, st, m, o);
	}
	/* Not ours: on as if the nat node were not there. */
	return nat_next(dp, md, k->family, false);
}

/* A packet of an inside network routed to gateway @g that found no flow. */
static inline uint16_t
nat_miss_gw(const struct mg_dp *dp, struct mg_natgw *ng, struct mg_flow_table *ft,
	    struct mg_natgw_stats *st, unsigned int w, struct rte_mbuf *m,
	    const struct mg_natgw_gw *g, const struct mg_flow_key *k, enum mg_svc_key kind,
	    uint8_t tcp_flags, uint8_t frag, uint64_t now)
{
	struct mg_meta *md = mg_meta(m);
	struct mg_flow *f;
	int why;

	if (unlikely(!mg_natgw_source_allowed(g, k))) {
		st->not_allowed++;
		return nat_drop(m, MG_DROP_NAT_SOURCE);
	}
	/* Flows through a gateway belong to the worker of their remote side. */
	if (ng->nb_workers > 1 && !(k->family == AF_INET6 && g->v6mode != MG_NATGW_V6_NAT66)) {
		unsigned int o = mg_natgw_owner(k->dst, k->dport, k->family, ng->nb_workers);

		if (o != w)
			return nat_handoff(ng, st, m, o);
	}
	if (k->family == AF_INET6 && g->v6mode != MG_NATGW_V6_NAT66) {
		if (g->v6mode == MG_NATGW_V6_NPT6)
			return nat_npt6(st, m, g, MG_NPT6_OUT);
		st->routed++;
		md->net = g->outside;
		return NAT_NEXT_IP6;
	}
	/* A stateful translation needs the whole L4 header and a flow to belong to. */
	if (unlikely(frag || kind == MG_SVC_KEY_ICMP_ERROR || kind == MG_SVC_KEY_TRUNCATED)) {
		st->untranslatable++;
		return nat_drop(m, MG_DROP_NAT_UNTRANSLATABLE);
	}
	f = mg_natgw_snat_create(ft, g, g->ports[w], k, now, &why);
	if (unlikely(f == NULL)) {
		if (why == MG_DROP_NAT_NO_PORT)
			st->no_port++;
		else if (why == MG_DROP_NAT_NO_FLOW)
			st->no_flow++;
		else
			st->untranslatable++;
		return nat_drop(m, (enum mg_drop)why);
	}
	st->snat_flows++;
	return nat_xlate(dp, st, m, f, 0, kind, tcp_flags, now, true);
}

/* True if @a is the outside address of a gateway whose outside network is @net. */
static inline bool
gw_outside_addr(const struct mg_natgw *ng, uint16_t net, const uint8_t *a, uint8_t family)
{
	uint16_t gws = __atomic_load_n(&ng->outside_of[net & 0xff], __ATOMIC_ACQUIRE);

	while (gws != 0) {
		const struct mg_natgw_gw *g = mg_natgw_slot(ng, (unsigned int)__builtin_ctz(gws));

		gws &= (uint16_t)(gws - 1);
		if (g != NULL && g->outside == net && gw_addr(g, a, family))
			return true;
	}
	return false;
}

/*
 * A fragment after the first: the addresses its first left with
 * (mg_natgw_frag.h), or after the first to the worker it was handed to.
 * NAT traffic of no known first is dropped; other traffic goes on (to a
 * nat service's VIP: the service node, which knows its fragments).
 */
static inline uint16_t
nat_frag_later(struct mg_node_ctx *c, struct mg_natgw *ng, struct mg_natgw_stats *st,
	       struct rte_mbuf *m, uint8_t family, uint8_t proto, bool gw, uint64_t now)
{
	struct mg_meta *md = mg_meta(m);
	uint8_t *l3 = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m), id;
	const unsigned int alen = family == AF_INET ? 4 : 16;
	const uint8_t *src = l3 + (family == AF_INET ? 12 : 8), *dst = src + alen;
	struct mg_natgw_frag e;
	struct mg_nat_pkt p;

	if (unlikely(ng == NULL || mg_natgw_frag_id(l3, len, family, &id) < 0 ||
		     !mg_natgw_frag_get(ng->frags, md->net, family, proto, id, src, dst, now,
					&e) ||
		     (e.pending && e.owner == c->w->index))) {
		if (gw || (ng != NULL && gw_outside_addr(ng, md->net, dst, family))) {
			st->frag_unknown++;
			return nat_drop(m, MG_DROP_NAT_UNTRANSLATABLE);
		}
		return nat_next(c->dp, md, family, false); /* not NAT traffic */
	}
	/* A nat service's first, handed over by the service node: the later ones
	 * go on to the service node, which hands them over behind it. */
	if (e.pending == MG_NATGW_FRAG_TO_SVC && !gw)
		return nat_next(c->dp, md, family, false);
	if (e.pending) /* behind its first, in the same ring */
		return nat_handoff(ng, st, m, e.owner);
	if (unlikely(mg_nat_pkt_init(&p, l3, len) < 0 || mg_natgw_frag_apply(&e, &p) < 0)) {
		st->untranslatable++;
		return nat_drop(m, MG_DROP_NAT_UNTRANSLATABLE);
	}
	st->frags++;
	md->net = e.tnet;
	return nat_next(c->dp, md, family, gw);
}

static inline uint16_t
nat_one_l4(struct mg_node_ctx *c, struct mg_natgw *ng, struct mg_svc_rt *rt,
	   struct mg_flow_table *ft, struct mg_natgw_stats *st, struct rte_mbuf *m, uint64_t now,
	   uint8_t family, uint8_t proto, uint32_t l4off, uint8_t frag)
{
	struct mg_meta *md = mg_meta(m);
	const uint8_t *l3 = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m);
	const bool gw = md->flags & MG_META_NAT_GW;
	uint8_t tcp_flags = 0;
	enum mg_svc_key kind;
	struct mg_flow_key k;
	struct mg_flow *f;
	uint32_t h;
	int dir;

	/*
	 * Crossing a gateway: a packet that would expire on the way out gets its
	 * time exceeded here, about the packet as the pod sent it (after the
	 * translation the error would go to the gateway's own outside address).
	 */
	if (gw && !(md->flags & MG_META_LOCAL) && unlikely(l3[family == AF_INET ? 8 : 7] <= 1)) {
		if (family == AF_INET) {
			mg_set_icmp(m, MG_DROP_IP4_TTL, MG_ICMP4_TIME_EXCEEDED, MG_ICMP4_TTL_EXCEEDED, 0);
			return NAT_NEXT_ICMP4;
		}
		mg_set_icmp(m, MG_DROP_IP6_HOP_LIMIT, MG_ICMP6_TIME_EXCEEDED,
			    MG_ICMP6_HOPLIMIT_EXCEEDED, 0);
		return NAT_NEXT_ICMP6;
	}
	kind = mg_svc_pkt_key(l3, len, family, proto, l4off, frag, md->net, &k, &h);
	k.tag = 0; /* NAT keys are 5-tuples: replies carry other TEIDs and SPIs */
	if (proto == MG_IPPROTO_TCP && !frag && l4off + 14 <= len)
		tcp_flags = l3[l4off + 13];
	f = mg_flow_lookup(ft, &k, now, &dir);
	/* A session of a gateway deleted or changed since: it ends, the packet is new. */
	if (unlikely(f != NULL && f->r.nat_gw != 0 && ng != NULL &&
		     mg_natgw_tag_stale(ng, f->r.nat_gw))) {
		mg_flow_end(ft, f, MG_FLOW_END_GATEWAY_CHANGED);
		f = NULL;
	}
	/*
	 * A client's packet of a service flow whose endpoint was removed, changed
	 * or set down (or whose service is gone): the flow ends and the packet
	 * is new, steered again by the service node, as svc_nat would do. The
	 * endpoint's late replies still pass until then (dir 1).
	 */
	if (f != NULL && dir == 0 && f->r.svc != MG_FLOW_SVC_NONE) {
		enum mg_flow_end why = mg_svc_ref_state(mg_svc_rt_table(rt, f->r.svc), f->r.ep);

		if (unlikely(why != MG_FLOW_END_NONE)) {
			mg_flow_end(ft, f, why);
			f = NULL;
		}
	}
	if (f != NULL && f->has_rkey)
		return nat_xlate(c->dp, st, m, f, dir, kind, tcp_flags, now, gw);
	if (!gw)
		return nat_miss_in(c->dp, ng, rt, ft, st, c->w->index, m, &k, h, kind, tcp_flags,
				   frag, now);
	const struct mg_natgw_gw *g =
		ng != NULL ? mg_natgw_slot(ng, c->dp->adj[md->adj].ifindex) : NULL;

	if (unlikely(g == NULL)) { /* deleted while the packet was on its way */
		st->untranslatable++;
		return nat_drop(m, MG_DROP_NAT_UNTRANSLATABLE);
	}
	return nat_miss_gw(c->dp, ng, ft, st, c->w->index, m, g, &k, kind, tcp_flags, frag, now);
}

static inline uint16_t
nat_one(struct mg_node_ctx *c, struct mg_natgw *ng, struct mg_svc_rt *rt,
	struct mg_flow_table *ft, struct mg_natgw_stats *st, struct rte_mbuf *m, uint64_t now)
{
	struct mg_meta *md = mg_meta(m);
	uint8_t *l3 = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m), l4off, id = 0;
	const bool gw = md->flags & MG_META_NAT_GW;
	uint8_t family, proto, frag, first, src[16], dst[16];
	uint16_t next, net = md->net;
	unsigned int alen;

	md->flags |= MG_META_NAT_DONE;
	if (unlikely(!nat_parse(l3, len, &family, &proto, &l4off, &frag, &first))) {
		if (gw) {
			st->untranslatable++;
			return nat_drop(m, MG_DROP_NAT_UNTRANSLATABLE);
		}
		return nat_next(c->dp, md, (l3[0] >> 4) == 4 ? AF_INET : AF_INET6, false);
	}
	if (likely(!frag))
		return nat_one_l4(c, ng, rt, ft, st, m, now, family, proto, l4off, 0);
	if (!first)
		return nat_frag_later(c, ng, st, m, family, proto, gw, now);
	/* A first fragment: translated on its L4 header as a whole packet would be
	 * (lib/nat patches the checksums incrementally), then recorded. */
	alen = family == AF_INET ? 4 : 16;
	if (ng == NULL || mg_natgw_frag_id(l3, len, family, &id) < 0)
		return nat_one_l4(c, ng, rt, ft, st, m, now, family, proto, l4off, 0);
	memcpy(src, l3 + (family == AF_INET ? 12 : 8), alen);
	memcpy(dst, l3 + (family == AF_INET ? 16 : 24), alen);
	next = nat_one_l4(c, ng, rt, ft, st, m, now, family, proto, l4off, 0);
	if (next == NAT_HANDED) { /* (the packet is the owner's now: not read again) */
		mg_natgw_frag_put(ng->frags, net, family, proto, id, src, dst, src, dst, net,
				  (int)RTE_PER_LCORE(nat_handed_to), now);
	} else if (next != NAT_NEXT_DROP && next != NAT_NEXT_ICMP4 && next != NAT_NEXT_ICMP6) {
		const uint8_t *ns = l3 + (family == AF_INET ? 12 : 8);

		if (md->net != net || memcmp(ns, src, alen) != 0 || memcmp(ns + alen, dst, alen) != 0)
			mg_natgw_frag_put(ng->frags, net, family, proto, id, src, dst, ns, ns + alen,
					  md->net, -1, now);
	}
	return next;
}

/* Expiry check of the nat node: lib/svc's, and stale gateway sessions. */
static enum mg_flow_end
nat_flow_check(const struct mg_flow_record *r, void *arg)
{
	struct mg_svc_rt *rt = arg;
	const struct mg_natgw *ng;

	if (r->nat_gw != 0 && (ng = mg_natgw_get()) != NULL && mg_natgw_tag_stale(ng, r->nat_gw))
		return MG_FLOW_END_GATEWAY_CHANGED;
	return mg_svc_flow_check(r, (void *)rt->tables);
}

static uint16_t
nat_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct mg_node_ctx *c = mg_ctx(node);
	struct mg_svc_rt *rt = mg_svc_rt_get();
	struct mg_natgw *ng = mg_natgw_get();
	static struct mg_natgw_stats none;
	uint16_t nexts[MG_VEC];
	uint64_t now = rte_rdtsc();

	if (unlikely(rt == NULL || c->w->index >= rt->nb_workers)) {
		for (uint16_t i = 0; i < nb; i++)
			mg_set_drop(objs[i], MG_DROP_NAT_NO_FLOW);
		rte_node_enqueue(graph, node, NAT_NEXT_DROP, objs, nb);
		return nb;
	}
	struct mg_flow_table *ft = rt->flows[c->w->index];
	struct mg_natgw_stats *st = ng != NULL ? &ng->stats[c->w->index] : &none;

	for (uint16_t base = 0; base < nb; base += MG_VEC) {
		uint16_t n = RTE_MIN((uint16_t)(nb - base), (uint16_t)MG_VEC);

		uint16_t kept = 0;

		for (uint16_t i = 0; i < n; i++) {
			mg_prefetch(objs + base, i, n);
			nexts[kept] = nat_one(c, ng, rt, ft, st, objs[base + i], now);
			/* A packet handed to another worker leaves the vector. */
			if (likely(nexts[kept] != NAT_HANDED))
				objs[base + kept++] = objs[base + i];
		}
		if (kept != 0)
			mg_dispatch(graph, node, objs + base, nexts, kept);
	}
	/* Idle flows end (their ports go back), flows whose endpoint went away, and
	 * sessions of gateways deleted or changed. */
	mg_flow_expire(ft, now, NAT_EXPIRE_BUDGET, nat_flow_check, rt);
	return nb;
}

static struct rte_node_register nat_node = {
	.name = "nat",
	.process = nat_process,
	.init = mg_node_init,
	.nb_edges = 7,
	.next_nodes = {
		[NAT_NEXT_IP4] = "ip4-lookup",
		[NAT_NEXT_IP6] = "ip6-lookup",
		[NAT_NEXT_CLS4] = "ip4-classify",
		[NAT_NEXT_CLS6] = "ip6-classify",
		[NAT_NEXT_DROP] = "drop",
		[NAT_NEXT_ICMP4] = "ip4-icmp-error",
		[NAT_NEXT_ICMP6] = "ip6-icmp-error",
	},
};
RTE_NODE_REGISTER(nat_node);

/* ---- nat-handoff: what other workers handed to this one ------------------------------- */

enum { NATH_NEXT_NAT = 0, NATH_NEXT_IP4, NATH_NEXT_IP6 };

#define NAT_HANDOFF_BURST 64

static uint16_t
nat_handoff_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct mg_node_ctx *c = mg_ctx(node);
	struct mg_natgw *ng = mg_natgw_get();
	void *pkts[NAT_HANDOFF_BURST];
	uint16_t nexts[NAT_HANDOFF_BURST];
	unsigned int n;

	if (likely(ng == NULL || ng->handoff[c->w->index] == NULL))
		return 0;
	/*
	 * One walk takes a run of packets bound for the same node only: a packet
	 * for the lookup (a nat service's first packet, going to the service node
	 * that makes its flow) and one for the nat node behind it (the endpoint's
	 * reply, which needs that flow) would otherwise race inside this walk, and
	 * the nat node may run first. The rest waits in the ring for the next walk
	 * (a single-consumer ring: peeking is allowed).
	 */
	n = rte_ring_dequeue_burst_start(ng->handoff[c->w->index], pkts, NAT_HANDOFF_BURST, NULL);
	if (n == 0)
		return 0;
	for (unsigned int i = 1; i < n; i++)
		if ((((uintptr_t)pkts[i] ^ (uintptr_t)pkts[0]) & 1) != 0) {
			n = i;
			break;
		}
	rte_ring_dequeue_finish(ng->handoff[c->w->index], n);
	for (unsigned int i = 0; i < n; i++) {
		uintptr_t v = (uintptr_t)pkts[i];
		struct rte_mbuf *m = (struct rte_mbuf *)(v & ~(uintptr_t)1);

		pkts[i] = m;
		if (v & 1) /* classified and looked up already: back to the lookup */
			nexts[i] = (rte_pktmbuf_mtod(m, const uint8_t *)[0] >> 4) == 4 ? NATH_NEXT_IP4
										: NATH_NEXT_IP6;
		else
			nexts[i] = NATH_NEXT_NAT;
	}
	mg_dispatch(graph, node, pkts, nexts, (uint16_t)n);
	c->w->walk_pkts += n;
	return (uint16_t)n;
}

static struct rte_node_register nat_handoff_node = {
	.name = "nat-handoff",
	.flags = RTE_NODE_SOURCE_F,
	.process = nat_handoff_process,
	.init = mg_node_init,
	.nb_edges = 3,
	.next_nodes = {
		[NATH_NEXT_NAT] = "nat",
		[NATH_NEXT_IP4] = "ip4-lookup",
		[NATH_NEXT_IP6] = "ip6-lookup",
	},
};
RTE_NODE_REGISTER(nat_handoff_node);
