/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NAT flows: creation (destination NAT to a service endpoint, source NAT
 * through a gateway), the translation a flow's two keys define, and the
 * registry of gateways with their per-worker SNAT port blocks.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <unistd.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_ring.h>

#include "mg_dp.h"
#include "mg_natgw.h"

static struct mg_natgw *the_ng;

struct mg_natgw *
mg_natgw_get(void)
{
	return __atomic_load_n(&the_ng, __ATOMIC_ACQUIRE);
}

/* A flow of a gateway ended (its owner worker): its port goes back to the block, unless
 * the gateway changed since (the port was from allocators freed with the old record). */
static void
natgw_flow_end(const struct mg_flow_record *r, void *arg)
{
	struct mg_natgw *ng = arg;
	const struct mg_natgw_gw *g;

	if (r->nat_port == 0 || mg_natgw_tag_stale(ng, r->nat_gw))
		return;
	g = mg_natgw_slot(ng, mg_natgw_tag_slot(r->nat_gw));
	if (g != NULL && r->worker < ng->nb_workers && g->ports[r->worker] != NULL)
		mg_nat_ports_free(g->ports[r->worker], r->nat_port);
}

struct mg_natgw *
mg_natgw_ensure(unsigned int nb_workers)
{
	struct mg_natgw *ng = the_ng;
	struct mg_svc_rt *rt = mg_svc_rt_get();

	if (ng == NULL) {
		ng = rte_zmalloc("mg_natgw", sizeof(*ng), RTE_CACHE_LINE_SIZE);
		if (ng == NULL)
			return NULL;
		ng->nb_workers = nb_workers;
		ng->frags = rte_zmalloc("mg_natgw_frags", sizeof(*ng->frags), RTE_CACHE_LINE_SIZE);
		if (ng->frags == NULL) {
			rte_free(ng);
			return NULL;
		}
		ng->frags->ttl = rte_get_tsc_hz() / 1000 * MG_NATGW_FRAG_TTL_MS;
		for (unsigned int w = 0; nb_workers > 1 && w < nb_workers; w++) {
			char name[RTE_RING_NAMESIZE];

			snprintf(name, sizeof(name), "mg_nat_ho_%u", w);
			ng->handoff[w] = rte_ring_create(name, 4096, SOCKET_ID_ANY, RING_F_SC_DEQ);
			if (ng->handoff[w] == NULL) {
				while (w-- > 0)
					rte_ring_free(ng->handoff[w]);
				rte_free(ng->frags);
				rte_free(ng);
				return NULL;
			}
		}
		__atomic_store_n(&the_ng, ng, __ATOMIC_RELEASE);
	}
	if (rt != NULL && rt->nat_end == NULL) {
		rt->nat_end_arg = ng;
		__atomic_store_n(&rt->nat_end, natgw_flow_end, __ATOMIC_RELEASE);
	}
	return ng;
}

/* Free record @g and, when @own_ports, its allocators. */
static void
gw_free(struct mg_natgw_gw *g, bool own_ports)
{
	if (g == NULL)
		return;
	for (unsigned int w = 0; own_ports && w < MG_SVC_RT_MAX_WORKERS; w++)
		mg_nat_ports_destroy(g->ports[w]);
	rte_free(g);
}

void
mg_natgw_destroy(void)
{
	struct mg_natgw *ng = the_ng;

	if (ng == NULL)
		return;
	__atomic_store_n(&the_ng, NULL, __ATOMIC_RELEASE);
	for (unsigned int w = 0; w < MG_SVC_RT_MAX_WORKERS; w++) {
		struct rte_mbuf *m;

		while (ng->handoff[w] != NULL && rte_ring_dequeue(ng->handoff[w], (void **)&m) == 0)
			rte_pktmbuf_free((struct rte_mbuf *)((uintptr_t)m & ~(uintptr_t)1));
		rte_ring_free(ng->handoff[w]);
	}
	for (unsigned int g = 0; g < MG_NATGW_MAX; g++)
		gw_free(ng->gw[g], true);
	rte_free(ng->frags);
	rte_free(ng);
}

int
mg_natgw_find(const struct mg_natgw *ng, const char *name)
{
	for (unsigned int i = 0; ng != NULL && i < MG_NATGW_MAX; i++)
		if (ng->gw[i] != NULL && strcmp(ng->gw[i]->name, name) == 0)
			return (int)i;
	return -ENOENT;
}

/* True if @a and @b translate alike: sessions of one are valid in the other. */
static bool
same_translation(const struct mg_natgw_gw *a, const struct mg_natgw_gw *b)
{
	return a->inside == b->inside && a->outside == b->outside && a->v6mode == b->v6mode &&
	       a->has4 == b->has4 && a->has6 == b->has6 &&
	       memcmp(a->addr4, b->addr4, 4) == 0 && memcmp(a->addr6, b->addr6, 16) == 0 &&
	       a->port_first == b->port_first && a->port_last == b->port_last &&
	       memcmp(&a->npt, &b->npt, sizeof(a->npt)) == 0;
}

/* Recompute the outside network bits (main lcore; workers read them relaxed). */
static void
outside_bits(struct mg_natgw *ng)
{
	uint16_t bits[256] = {0};

	for (unsigned int i = 0; i < MG_NATGW_MAX; i++)
		if (ng->gw[i] != NULL)
			bits[ng->gw[i]->outside & 0xff] |= (uint16_t)(1u << i);
	for (unsigned int n = 0; n < 256; n++)
		if (ng->outside_of[n] != bits[n])
			__atomic_store_n(&ng->outside_of[n], bits[n], __ATOMIC_RELEASE);
}

static void
ident_of(const struct mg_natgw_gw *g, struct mg_natgw_ident *out)
{
	memset(out, 0, sizeof(*out));
	mg_strlcpy(out->name, g->name, sizeof(out->name));
	out->gen = g->gen;
	out->valid = 1;
	out->has4 = g->has4;
	out->has6 = g->has6;
	memcpy(out->addr4, g->addr4, sizeof(out->addr4));
	memcpy(out->addr6, g->addr6, sizeof(out->addr6));
}

bool
mg_natgw_tag_ident(const struct mg_natgw *ng, uint16_t tag, struct mg_natgw_ident *out)
{
	unsigned int slot = mg_natgw_tag_slot(tag);
	uint16_t gen = mg_natgw_tag_gen(tag);
	const struct mg_natgw_gw *g;

	if (ng == NULL || tag == 0 || slot >= MG_NATGW_MAX)
		return false;
	g = ng->gw[slot];
	if (g != NULL && g->gen == gen) {
		ident_of(g, out);
		return true;
	}
	if (ng->past[slot].valid && ng->past[slot].gen == gen) {
		*out = ng->past[slot];
		return true;
	}
	return false;
}

int
mg_natgw_put(struct mg_natgw *ng, const struct mg_natgw_gw *g, int id, struct mg_error *err)
{
	struct mg_natgw_gw *x, *old;
	bool keep;

	if (id < 0) {
		for (id = 0; id < MG_NATGW_MAX && ng->gw[id] != NULL; id++)
			;
		if (id >= MG_NATGW_MAX)
			return mg_error_set(err, ENOSPC, "name", "at most %u gateways", MG_NATGW_MAX);
	} else if (id >= MG_NATGW_MAX) {
		return mg_error_set(err, EINVAL, "name", "no gateway slot %d", id);
	}
	if ((g->has4 || (g->has6 && g->v6mode == MG_NATGW_V6_NAT66)) &&
	    (uint32_t)g->port_last - g->port_first + 1 < ng->nb_workers)
		return mg_error_set(err, EINVAL, "ports", "%u ports cannot be cut into %u blocks",
				    (unsigned int)(g->port_last - g->port_first + 1),
				    ng->nb_workers);
	old = ng->gw[id];
	x = rte_malloc("mg_natgw_gw", sizeof(*x), RTE_CACHE_LINE_SIZE);
	if (x == NULL)
		return mg_error_set(err, ENOMEM, "", "no memory for the gateway");
	*x = *g;
	x->id = (uint16_t)id;
	keep = old != NULL && same_translation(old, g);
	if (keep) {
		x->gen = old->gen;
		memcpy(x->ports, old->ports, sizeof(x->ports));
	} else {
		if (old != NULL)
			ng->slot_gen[id] = (uint16_t)((ng->slot_gen[id] + 1) & MG_NATGW_GEN_MASK);
		x->gen = ng->slot_gen[id];
		memset(x->ports, 0, sizeof(x->ports));
		for (unsigned int w = 0; w < ng->nb_workers; w++) {
			x->ports[w] = mg_nat_ports_create(g->port_first, g->port_last,
							  ng->nb_workers, w, SOCKET_ID_ANY);
			if (x->ports[w] == NULL) {
				if (old != NULL) /* nothing changed: the old sessions stay valid */
					ng->slot_gen[id] = old->gen;
				gw_free(x, true);
				return mg_error_set(err, rte_errno ? rte_errno : ENOMEM, "ports",
						    "cannot create the SNAT port blocks: %s",
						    rte_strerror(rte_errno));
			}
		}
	}
	__atomic_store_n(&ng->gw[id], x, __ATOMIC_RELEASE);
	outside_bits(ng);
	if (old != NULL && !keep)
		ident_of(old, &ng->past[id]);
	if (old != NULL) {
		/* Workers may hold the old record (and, unless kept, its allocators) in a walk. */
		mg_dp_sync(mg_dp_get());
		gw_free(old, !keep);
	}
	return id;
}

void
mg_natgw_remove(struct mg_natgw *ng, unsigned int id)
{
	struct mg_natgw_gw *old = id < MG_NATGW_MAX ? ng->gw[id] : NULL;

	if (old == NULL)
		return;
	__atomic_store_n(&ng->gw[id], NULL, __ATOMIC_RELEASE);
	outside_bits(ng);
	ident_of(old, &ng->past[id]);
	/* A later gateway in this slot must not take this one's sessions for its own. */
	ng->slot_gen[id] = (uint16_t)((ng->slot_gen[id] + 1) & MG_NATGW_GEN_MASK);
	/* Workers may still hold the record and its allocators in this walk. */
	mg_dp_sync(mg_dp_get());
	gw_free(old, true);
}

void
mg_natgw_stats_sum(const struct mg_natgw *ng, struct mg_natgw_stats *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (unsigned int w = 0; ng != NULL && w < ng->nb_workers; w++) {
		const uint64_t *x = (const uint64_t *)&ng->stats[w];
		uint64_t *y = (uint64_t *)sum;

		/* Every field is a uint64_t, written whole by its worker. */
		for (size_t i = 0; i < offsetof(struct mg_natgw_stats, frag_unknown) /
					       sizeof(uint64_t) + 1; i++)
			y[i] += __atomic_load_n(&x[i], __ATOMIC_RELAXED);
	}
}

uint32_t
mg_natgw_ports_free(const struct mg_natgw *ng, unsigned int id)
{
	const struct mg_natgw_gw *g = id < MG_NATGW_MAX ? ng->gw[id] : NULL;
	uint32_t n = 0;

	for (unsigned int w = 0; g != NULL && w < ng->nb_workers; w++)
		if (g->ports[w] != NULL)
			n += mg_nat_ports_available(g->ports[w]);
	return n;
}

void
mg_natgw_endpoint_mark(struct mg_natgw *ng, uint16_t net, const struct mg_ip *a)
{
	uint32_t b = mg_natgw_ep_bit(net, a->bytes, a->family);

	__atomic_fetch_or(&ng->ep_bits[b >> 6], 1ull << (b & 63), __ATOMIC_RELEASE);
}

int
mg_natgw_handoff(struct mg_natgw *ng, unsigned int owner, struct rte_mbuf *m, bool to_lookup)
{
	struct mg_dp *dp = mg_dp_get();
	struct mg_worker *w;

	/* mbufs are cache aligned: bit 0 of the pointer says where it goes on. */
	if (unlikely(rte_ring_mp_enqueue(ng->handoff[owner],
					 (void *)((uintptr_t)m | (uintptr_t)to_lookup)) != 0))
		return -ENOBUFS;
	/* Pairs with the worker's sleep (see mg_dp_inject): see it, or be woken. */
	w = dp->workers[owner];
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (unlikely(__atomic_load_n(&w->sleeping, __ATOMIC_RELAXED))) {
		uint64_t one = 1;
		ssize_t rc = write(w->wake_fd, &one, sizeof(one));

		(void)rc; /* EAGAIN: it is being woken anyway */
	}
	return 0;
}

/* ---- translation -------------------------------------------------------------------------- */

/*
 * Set in @rw the fields of a packet carrying (@s, @sp) -> (@d, @dp) that
 * must change to become (@ns, @nsp) -> (@nd, @ndp).
 */
static void
rw_diff(struct mg_nat_rw *rw, unsigned int alen, const uint8_t *s, rte_be16_t sp,
	const uint8_t *d, rte_be16_t dp, const uint8_t *ns, rte_be16_t nsp, const uint8_t *nd,
	rte_be16_t ndp)
{
	memset(rw, 0, sizeof(*rw));
	if (memcmp(s, ns, alen) != 0) {
		rw->flags |= MG_NAT_SRC;
		memcpy(rw->src, ns, alen);
	}
	if (memcmp(d, nd, alen) != 0) {
		rw->flags |= MG_NAT_DST;
		memcpy(rw->dst, nd, alen);
	}
	if (sp != nsp) {
		rw->flags |= MG_NAT_SPORT;
		rw->sport = nsp;
	}
	if (dp != ndp) {
		rw->flags |= MG_NAT_DPORT;
		rw->dport = ndp;
	}
}

int
mg_natgw_apply(const struct mg_flow *f, int dir, const struct mg_nat_pkt *p,
	       enum mg_svc_key kind)
{
	/* The packet carries @from; it leaves as the reverse of @to. */
	const struct mg_flow_key *from = dir ? &f->rkey : &f->r.key;
	const struct mg_flow_key *to = dir ? &f->r.key : &f->rkey;
	const unsigned int alen = from->family == AF_INET ? 4 : 16;
	struct mg_nat_rw rw, out;
	const uint8_t *osrc;

	if (likely(kind != MG_SVC_KEY_ICMP_ERROR)) {
		rw_diff(&rw, alen, from->src, from->sport, from->dst, from->dport, to->dst,
			to->dport, to->src, to->sport);
		return rw.flags != 0 ? mg_nat_rewrite(p, &rw) : 0;
	}
	/*
	 * An error about the flow: @from is its quoted packet reversed, so the
	 * quote is reverse(@from), a packet of the other direction as it was
	 * translated; untranslated it was @to. The error goes to the quote's
	 * original source; if the quote's destination itself sent the error,
	 * it comes from that peer's original address.
	 */
	rw_diff(&rw, alen, from->dst, from->dport, from->src, from->sport, to->src, to->sport,
		to->dst, to->dport);
	memset(&out, 0, sizeof(out));
	osrc = p->l3 + (p->family == AF_INET ? 12 : 8);
	if (memcmp(osrc + alen, to->src, alen) != 0) {
		out.flags |= MG_NAT_DST;
		memcpy(out.dst, to->src, alen);
	}
	if (memcmp(osrc, from->src, alen) == 0 && memcmp(osrc, to->dst, alen) != 0) {
		out.flags |= MG_NAT_SRC;
		memcpy(out.src, to->dst, alen);
	}
	return mg_nat_rewrite_icmp_error(p, &out, &rw);
}

int
mg_natgw_frag_apply(const struct mg_natgw_frag *e, const struct mg_nat_pkt *p)
{
	const unsigned int alen = p->family == AF_INET ? 4 : 16;
	const uint8_t *src = p->l3 + (p->family == AF_INET ? 12 : 8);
	struct mg_nat_rw rw;

	if (p->l4off != MG_NAT_NO_L4 || p->family != e->family)
		return -EINVAL;
	rw_diff(&rw, alen, src, 0, src + alen, 0, e->nsrc, 0, e->ndst, 0);
	return rw.flags != 0 ? mg_nat_rewrite(p, &rw) : 0;
}

int
mg_natgw_drop_reason(int rc)
{
	return rc == -ENOTSUP ? MG_DROP_NAT_FRAG_CKSUM : MG_DROP_NAT_UNTRANSLATABLE;
}

/* ---- flow creation ------------------------------------------------------------------------ */

/* True for a key whose ports are real ports or an echo identifier. */
static inline bool
key_ported(const struct mg_flow_key *k)
{
	switch (k->proto) {
	case MG_IPPROTO_TCP:
	case MG_IPPROTO_UDP:
	case MG_IPPROTO_SCTP:
		return true;
	case MG_IPPROTO_ICMP:
	case MG_IPPROTO_ICMPV6:
		return k->sport != 0 || k->dport != 0; /* echo (id 0 is taken as none) */
	default:
		return false;
	}
}

struct mg_flow *
mg_natgw_dnat_create(struct mg_flow_table *ft, const struct mg_flow_key *k,
		     const struct mg_svc_table *t, uint32_t hash, uint16_t ep_net, uint64_t now,
		     const struct mg_svc_ep **ep)
{
	const struct mg_svc_ep *e = mg_svc_select(t, hash);
	struct mg_flow_key rk;

	*ep = NULL;
	if (unlikely(e == NULL || e->addr.family != k->family))
		return NULL;
	*ep = e;
	memset(&rk, 0, sizeof(rk));
	rk.family = k->family;
	rk.proto = k->proto;
	rk.net = ep_net;
	memcpy(rk.src, e->addr.bytes, k->family == AF_INET ? 4 : 16);
	memcpy(rk.dst, k->src, sizeof(rk.dst));
	rk.dport = k->sport;
	rk.sport = k->dport;
	/* An echo identifier is the client's, not a port to map. */
	if (e->port != 0 && (k->proto == MG_IPPROTO_TCP || k->proto == MG_IPPROTO_UDP ||
			     k->proto == MG_IPPROTO_SCTP))
		rk.sport = e->port;
	return mg_flow_create(ft, k, &rk, t->id, e->ref, now);
}

bool
mg_natgw_source_allowed(const struct mg_natgw_gw *g, const struct mg_flow_key *k)
{
	struct mg_ip a;

	if (g->nsrc == 0)
		return true;
	a.family = k->family;
	memcpy(a.bytes, k->src, 16);
	for (unsigned int i = 0; i < g->nsrc; i++)
		if (g->src[i].addr.family == k->family && mg_prefix_contains(&g->src[i], &a))
			return true;
	return false;
}

const struct mg_natgw_pub *
mg_natgw_pub_find(const struct mg_natgw_gw *g, const struct mg_flow_key *k)
{
	const unsigned int alen = k->family == AF_INET ? 4 : 16;

	for (unsigned int i = 0; i < g->npub; i++) {
		const struct mg_natgw_pub *p = &g->pub[i];

		if (p->family == k->family && p->proto == k->proto && p->port == k->dport &&
		    memcmp(p->addr, k->dst, alen) == 0)
			return p;
	}
	return NULL;
}

struct mg_flow *
mg_natgw_snat_create(struct mg_flow_table *ft, const struct mg_natgw_gw *g,
		     struct mg_nat_ports *ports, const struct mg_flow_key *k, uint64_t now,
		     int *why)
{
	const bool v4 = k->family == AF_INET;
	struct mg_flow_key rk;
	struct mg_flow *f;
	uint16_t port = 0;

	if (unlikely(v4 ? !g->has4 : !g->has6)) {
		*why = MG_DROP_NAT_UNTRANSLATABLE;
		return NULL;
	}
	memset(&rk, 0, sizeof(rk));
	rk.family = k->family;
	rk.proto = k->proto;
	rk.net = g->outside;
	memcpy(rk.src, k->dst, sizeof(rk.src));
	memcpy(rk.dst, v4 ? g->addr4 : g->addr6, v4 ? 4 : 16);
	if (key_ported(k)) {
		if (g->preserve && ports != NULL &&
		    mg_nat_ports_take(ports, rte_be_to_cpu_16(k->sport)) == 0)
			port = rte_be_to_cpu_16(k->sport);
		else if (unlikely(ports == NULL || mg_nat_ports_alloc(ports, &port) < 0)) {
			*why = MG_DROP_NAT_NO_PORT;
			return NULL;
		}
		rk.dport = rte_cpu_to_be_16(port);
		/* ICMP echo: the identifier is both "ports" of the key. */
		rk.sport = (k->proto == MG_IPPROTO_ICMP || k->proto == MG_IPPROTO_ICMPV6) ?
				   rk.dport : k->dport;
	}
	f = mg_flow_create(ft, k, &rk, MG_FLOW_SVC_NONE, 0, now);
	if (unlikely(f == NULL)) {
		if (port != 0)
			mg_nat_ports_free(ports, port);
		*why = MG_DROP_NAT_NO_FLOW;
		return NULL;
	}
	f->r.nat_port = port;
	f->r.nat_gw = mg_natgw_tag(g); /* its port's block, and whose session it is */
	return f;
}
