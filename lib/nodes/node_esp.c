/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPsec ESP tunnel nodes (see mg_espgw.h for the picture):
 *  - esp-output: inner packets routed into a tunnel (adjacency MG_ADJ_ESP,
 *    TTL and tunnel MTU already handled by ipX-lookup) are encrypted with
 *    the tunnel's outbound SA for their family, in runs of one SA; the
 *    outer packets go to port-tx through the tunnel's outer next hop,
 *    resolved once per run (struct espo_nh), or to ipX-lookup in the
 *    underlay network when that is not a complete neighbor.
 *  - esp-input: ESP (or UDP-encapsulated ESP) addressed to the gateway,
 *    from ipX-local; decrypted inner packets are routed in the tunnel's
 *    network, as if received on the tunnel interface.
 *  - esp-handoff: a source node taking the packets other workers handed to
 *    this one (each inbound SA has one owner worker, see mg_esp.h).
 *
 *  - esp-dequeue: a source node polled every walk, taking back the packets
 *    whose lookaside crypto completed on this worker's queue pairs and
 *    sending them on as esp-output / esp-input would have.
 *
 * The crypto is chosen per SA at its creation (lib/esp): CPU crypto runs
 * inside esp-output / esp-input, one SA run at a time; lookaside SAs are
 * prepared and enqueued there in bursts (the packets leave the vector) and
 * finished in esp-dequeue at the next walk, in order per SA (a queue pair is
 * FIFO). The software PMDs do their work in the dequeue call.
 */
#include <rte_ip.h>

#include "mg_espgw.h"
#include "nodes_priv.h"

enum { ESPO_NEXT_IP4 = 0, ESPO_NEXT_IP6, ESPO_NEXT_DROP, ESPO_NEXT_TX };

/* Family of the IP packet at the start of @m (4 or 6 in the version nibble). */
static inline int
pkt_version(const struct rte_mbuf *m)
{
	return *rte_pktmbuf_mtod(m, const uint8_t *) >> 4;
}

/*
 * TCP MSS clamping: lower the MSS option of a SYN (IPv4 or IPv6 without
 * extension headers, first fragment or none) to @p mss, patching the TCP
 * checksum incrementally (RFC 1624). Anything else passes untouched.
 */
static inline void
mss_clamp(struct rte_mbuf *m, uint16_t mss)
{
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *), *t;
	uint32_t len = m->data_len, l3, thl;

	if ((p[0] >> 4) == 4) {
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)p;

		if (len < sizeof(*ip) || ip->next_proto_id != IPPROTO_TCP ||
		    (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_OFFSET_MASK)) != 0)
			return;
		l3 = (ip->version_ihl & 0xfu) * 4;
	} else {
		if (len < sizeof(struct rte_ipv6_hdr) ||
		    ((const struct rte_ipv6_hdr *)p)->proto != IPPROTO_TCP)
			return;
		l3 = sizeof(struct rte_ipv6_hdr);
	}
	if (len < l3 + 20)
		return;
	t = p + l3;
	if (!(t[13] & 0x02)) /* SYN */
		return;
	thl = (uint32_t)(t[12] >> 4) * 4;
	if (thl < 20 || len < l3 + thl)
		return;
	for (uint32_t o = 20; o + 1 < thl;) {
		uint8_t kind = t[o];

		if (kind == 0)
			break;
		if (kind == 1) {
			o++;
			continue;
		}
		if (t[o + 1] < 2 || o + t[o + 1] > thl)
			break;
		if (kind == 2 && t[o + 1] == 4) {
			uint16_t old = (uint16_t)(t[o + 2] << 8 | t[o + 3]);
			uint32_t c;

			if (old <= mss)
				return;
			t[o + 2] = (uint8_t)(mss >> 8);
			t[o + 3] = (uint8_t)mss;
			/* HC' = ~(~HC + ~m + m'), on the big-endian words */
			c = (uint16_t)~(t[16] << 8 | t[17]);
			c += (uint16_t)~old;
			c += mss;
			c = (c & 0xffff) + (c >> 16);
			c = (c & 0xffff) + (c >> 16);
			c = ~c & 0xffff;
			t[16] = (uint8_t)(c >> 8);
			t[17] = (uint8_t)c;
			return;
		}
		o += t[o + 1];
	}
}

/*
 * The outer next hop of a tunnel, resolved once per run of encrypted packets
 * (one FIB lookup of the remote endpoint in the underlay) instead of once per
 * packet in ipX-lookup: a complete neighbor's rewrite is applied here and the
 * packets go straight to port-tx. Anything else (glean, incomplete or failed
 * neighbor, a route to a service, a tunnel or another network, an outer
 * packet over the egress MTU) takes ipX-lookup, which handles it as before.
 * Nothing outlives the node call: the adjacency id and its live rewrite stay
 * valid until the end of the walk (mg_dp.h), and every call resolves again,
 * so a route or neighbor change applies from the next walk on.
 */
struct espo_nh {
	const struct mg_espgw_tun *r;  /* Tunnel resolved for; NULL: nothing yet. */
	const struct mg_rewrite *rw;   /* Complete neighbor rewrite, or NULL: ipX-lookup. */
	uint32_t adj;                  /* Its adjacency id. */
	uint8_t dst[16];               /* Outer destination resolved for (IPv4: 4 bytes). */
};

/* Offset and length of the destination address in outer headers of family @p fam. */
#define ESPO_DST_OFF(fam) ((fam) == AF_INET ? 16u : 24u)
#define ESPO_DST_LEN(fam) ((fam) == AF_INET ? 4u : 16u)

/* Whether outer destination @p a equals @p b (fixed-size loads, no memcmp call). */
static __rte_always_inline bool
espo_dst_same(const uint8_t *a, const uint8_t *b, bool v4)
{
	uint64_t x[2], y[2];

	if (v4) {
		uint32_t p, q;

		memcpy(&p, a, 4);
		memcpy(&q, b, 4);
		return p == q;
	}
	memcpy(x, a, 16);
	memcpy(y, b, 16);
	return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}

/* Resolve @p nh for tunnel @p r and outer destination @p dst. */
static inline void
espo_resolve(struct mg_dp *dp, unsigned int worker, struct espo_nh *nh,
	     const struct mg_espgw_tun *r, const uint8_t *dst)
{
	struct mg_ip ip = {.family = r->outer_family};
	const struct mg_adj *a;

	memcpy(ip.bytes, dst, ESPO_DST_LEN(r->outer_family));
	mg_dp_fib_enter(dp, worker);
	nh->adj = mg_dp_route_lookup(dp, r->underlay, &ip);
	mg_dp_fib_leave(dp, worker);
	a = &dp->adj[nh->adj];
	nh->rw = NULL;
	if (a->type == MG_ADJ_NEIGHBOR) {
		const struct mg_rewrite *rw = mg_adj_rewrite(a);

		if (rw->state == MG_NS_COMPLETE)
			nh->rw = rw;
	}
	nh->r = r;
	memcpy(nh->dst, dst, 16);
}

/*
 * Finish one encrypted run of tunnel @p r: processed first (to port-tx
 * through the tunnel's cached next hop, or to ipX-lookup in the underlay),
 * failures after.
 */
static inline void
output_finish(struct mg_dp *dp, struct mg_worker *w, struct mg_tx_acc *acc, struct espo_nh *nh,
	      const struct mg_espgw_tun *r, struct rte_mbuf **o, uint16_t *nexts, uint16_t n,
	      uint16_t ok, uint16_t next_tx)
{
	const uint16_t next = r->outer_family == AF_INET ? ESPO_NEXT_IP4 : ESPO_NEXT_IP6;
	const bool v4 = r->outer_family == AF_INET;
	const unsigned int off = ESPO_DST_OFF(r->outer_family);
	uint64_t bytes = 0;

	for (uint16_t k = 0; k < ok; k++) {
		struct rte_mbuf *m = o[k];
		struct mg_meta *md = mg_meta(m);
		const uint8_t *dst = rte_pktmbuf_mtod_offset(m, const uint8_t *, off);

		bytes += m->pkt_len;
		md->net = r->underlay;
		md->flags |= MG_META_LOCAL;
		if (unlikely(nh->r != r || !espo_dst_same(dst, nh->dst, v4)))
			espo_resolve(dp, w->index, nh, r, dst);
		/* Our own packets: no TTL change; over the MTU: ipX-lookup's rules. */
		if (likely(nh->rw != NULL && m->pkt_len <= nh->rw->mtu)) {
			md->adj = nh->adj;
			nexts[k] = mg_rewrite_l2(w->ifc, acc, nh->rw, m, md) == LK_NEXT_TX ?
					   next_tx : ESPO_NEXT_DROP;
		} else {
			nexts[k] = next;
		}
	}
	w->ifc[r->ifindex].tx_pkts += ok;
	w->ifc[r->ifindex].tx_bytes += bytes;
	for (uint16_t k = ok; k < n; k++) {
		mg_set_drop(o[k], MG_DROP_ESP_FAILED);
		nexts[k] = ESPO_NEXT_DROP;
	}
}

static uint16_t
esp_output_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct mg_node_ctx *c = mg_ctx(node);
	const struct mg_dp *dp = c->dp;
	struct mg_espgw *eg = __atomic_load_n(&dp->esp, __ATOMIC_ACQUIRE);
	struct mg_esp_worker *wk = eg != NULL ? eg->wk[c->w->index] : NULL;
	struct mg_tx_acc acc = {.ifx = 0, .pkts = 0, .bytes = 0};
	struct espo_nh nh = {.r = NULL};
	uint16_t nexts[MG_VEC];
	uint8_t reasons[MG_VEC];

	for (uint16_t base = 0; base < nb; base += MG_VEC) {
		uint16_t n = RTE_MIN((uint16_t)(nb - base), (uint16_t)MG_VEC);
		struct rte_mbuf **o = (struct rte_mbuf **)(objs + base);
		uint16_t i = 0, keep = 0;

		while (i < n) {
			/* A run of packets into the same tunnel with the same family: one SA. */
			uint16_t ifx = dp->adj[mg_meta(o[i])->adj].ifindex, j = i + 1, left = 0;
			int v = pkt_version(o[i]);
			struct mg_espgw_tun *r = eg != NULL ? mg_espgw_tun(eg, ifx) : NULL;
			struct mg_esp_sa *sa = NULL;

			while (j < n && dp->adj[mg_meta(o[j])->adj].ifindex == ifx &&
			       pkt_version(o[j]) == v)
				j++;
			if (r != NULL && (v == 4 || v == 6))
				sa = mg_esp_out_get(&r->out[v == 4 ? 0 : 1]);
			if (unlikely(sa == NULL)) {
				for (uint16_t k = i; k < j; k++) {
					mg_set_drop(o[k], MG_DROP_ESP_NO_SA);
					nexts[k] = ESPO_NEXT_DROP;
				}
				left = j - i;
			} else {
				uint16_t ok, q, mss = r->mss[v == 4 ? 0 : 1];

				if (unlikely(mss != 0))
					for (uint16_t k = i; k < j; k++)
						mss_clamp(o[k], mss);
				/* Lookaside SAs: the enqueued packets come back in esp-dequeue. */
				ok = mg_esp_encrypt_submit(wk, sa, &o[i], j - i, reasons, &q);
				left = j - i - q;
				output_finish(c->dp, c->w, &acc, &nh, r, &o[i], &nexts[i], left, ok,
					      ESPO_NEXT_TX);
			}
			/* Close the gap the enqueued packets left (keep <= i). */
			if (keep != i)
				for (uint16_t k = 0; k < left; k++) {
					o[keep + k] = o[i + k];
					nexts[keep + k] = nexts[i + k];
				}
			keep += left;
			i = j;
		}
		if (keep != 0)
			mg_dispatch(graph, node, (void **)o, nexts, keep);
	}
	mg_tx_acc_flush(c->w->ifc, &acc);
	return nb;
}

static struct rte_node_register esp_output_node = {
	.name = "esp-output",
	.process = esp_output_process,
	.init = mg_node_init,
	.nb_edges = 4,
	.next_nodes = {
		[ESPO_NEXT_IP4] = "ip4-lookup",
		[ESPO_NEXT_IP6] = "ip6-lookup",
		[ESPO_NEXT_DROP] = "drop",
		[ESPO_NEXT_TX] = "port-tx",
	},
};
RTE_NODE_REGISTER(esp_output_node);

/* ---- esp-input and esp-handoff ------------------------------------------------------ */

enum { ESPI_NEXT_IP4 = 0, ESPI_NEXT_IP6, ESPI_NEXT_DROP, ESPI_NEXT_CLS4, ESPI_NEXT_CLS6,
       ESPI_NEXT_TX /* esp-dequeue only: outbound packets (output_finish) */ };
/* esp-dequeue finishes outbound packets with output_finish: the same edges. */
_Static_assert((int)ESPI_NEXT_IP4 == (int)ESPO_NEXT_IP4 &&
	       (int)ESPI_NEXT_IP6 == (int)ESPO_NEXT_IP6 &&
	       (int)ESPI_NEXT_DROP == (int)ESPO_NEXT_DROP, "esp-dequeue's edges follow esp-output's");

/*
 * What every decrypted packet of one inbound SA shares, found once per run
 * of packets of that SA (the SAs' tunnels, their networks' classification
 * and the receive counters), and summed counters until the run ends.
 */
struct espi_run {
	const struct mg_esp_sa *sa;    /* SA of the run; NULL: none yet. */
	const struct mg_espgw_tun *r;  /* Its tunnel, or NULL: gone. */
	uint16_t next;                 /* Next node of its packets. */
	uint16_t mss;                  /* TCP MSS clamp, 0: off. */
	uint32_t pkts;                 /* Counted, not yet added to the interface. */
	uint64_t bytes;
};

/* Add the run's counters to its tunnel interface's. */
static inline void
espi_run_flush(struct mg_worker *w, struct espi_run *run)
{
	if (run->pkts != 0) {
		w->ifc[run->r->ifindex].rx_pkts += run->pkts;
		w->ifc[run->r->ifindex].rx_bytes += run->bytes;
		run->pkts = 0;
		run->bytes = 0;
	}
}

/* Start a run of SA @p sa whose first decrypted packet is @p m. */
static inline void
espi_run_start(const struct mg_dp *dp, struct mg_espgw *eg, struct mg_worker *w,
	       struct espi_run *run, const struct mg_esp_sa *sa, const struct rte_mbuf *m)
{
	/* An SA has one inner family (lib/esp checked the packet's version against it). */
	const unsigned int fam = pkt_version(m) == 4 ? 0 : 1;

	espi_run_flush(w, run);
	run->sa = sa;
	run->r = mg_espgw_tun_of(eg, mg_esp_sa_user(sa));
	if (unlikely(run->r == NULL))
		return;
	run->mss = run->r->mss[fam];
	/* The inner network's rules and flow state apply to what the tunnel delivers. */
	run->next = mg_net_classifies(dp, run->r->network, fam) ? ESPI_NEXT_CLS4 + fam :
								    ESPI_NEXT_IP4 + fam;
}

/* Route one decrypted packet of tunnel SA @p sa (see input_finish). */
static inline uint16_t
input_route(const struct mg_dp *dp, struct mg_espgw *eg, struct mg_worker *w,
	    struct espi_run *run, struct rte_mbuf *m, const struct mg_esp_sa *sa)
{
	struct mg_meta *md = mg_meta(m);
	const struct mg_espgw_tun *r;

	if (unlikely(sa != run->sa))
		espi_run_start(dp, eg, w, run, sa, m);
	r = run->r;
	if (unlikely(r == NULL)) {
		mg_set_drop(m, MG_DROP_ESP_NO_SA);
		return ESPI_NEXT_DROP;
	}
	if (unlikely(md->net != r->underlay)) {
		mg_set_drop(m, MG_DROP_ESP_WRONG_NET);
		return ESPI_NEXT_DROP;
	}
	md->net = r->network;
	md->rx_if = r->ifindex;
	md->flags = 0;
	run->pkts++;
	run->bytes += m->pkt_len;
	if (unlikely(run->mss != 0))
		mss_clamp(m, run->mss);
	return run->next;
}

/*
 * Route what lib/esp returned: pkts[0..ok) decrypted (with their SA), then
 * failures up to n. A decrypted packet must have arrived in its tunnel's
 * underlay network (meta.net, set where it was received, also for packets
 * handed over from another worker).
 */
static inline void
input_finish(const struct mg_dp *dp, struct mg_espgw *eg, struct mg_worker *w,
	     struct rte_mbuf **o, struct mg_esp_sa **sas, const uint8_t *reasons, uint16_t *nexts,
	     uint16_t n, uint16_t ok)
{
	struct espi_run run = {.sa = NULL, .pkts = 0};

	for (uint16_t k = 0; k < ok; k++)
		nexts[k] = input_route(dp, eg, w, &run, o[k], sas[k]);
	espi_run_flush(w, &run);
	for (uint16_t k = ok; k < n; k++) {
		uint8_t why = reasons[k];

		/* Refused before any SA was found: no SA's counters can say why. */
		mg_set_drop(o[k], why == MG_ESP_ERR_NO_SA ? MG_DROP_ESP_NO_SA :
				  why == MG_ESP_ERR_NOT_ESP ? MG_DROP_LOCAL_PROTO :
				  sas[k] == NULL ? MG_DROP_ESP_MALFORMED :
				  why == MG_ESP_ERR_DUMMY ? MG_DROP_ESP_DUMMY :
				  MG_DROP_ESP_FAILED);
		nexts[k] = ESPI_NEXT_DROP;
	}
}

static uint16_t
esp_input_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct mg_node_ctx *c = mg_ctx(node);
	struct mg_espgw *eg = __atomic_load_n(&c->dp->esp, __ATOMIC_ACQUIRE);
	struct mg_esp_sa *sas[MG_VEC];
	uint16_t nexts[MG_VEC];
	uint8_t reasons[MG_VEC];

	for (uint16_t base = 0; base < nb; base += MG_VEC) {
		uint16_t n = RTE_MIN((uint16_t)(nb - base), (uint16_t)MG_VEC);
		struct rte_mbuf **o = (struct rte_mbuf **)(objs + base);
		uint16_t ok, handed = 0;

		if (unlikely(eg == NULL)) {
			for (uint16_t k = 0; k < n; k++) {
				mg_set_drop(o[k], MG_DROP_ESP_NO_SA);
				nexts[k] = ESPI_NEXT_DROP;
			}
			mg_dispatch(graph, node, (void **)o, nexts, n);
			continue;
		}
		ok = mg_esp_input_submit(eg->wk[c->w->index], o, n, sas, reasons, &handed);
		/* The packets handed off or enqueued left the array: it holds n - handed now. */
		n -= handed;
		input_finish(c->dp, eg, c->w, o, sas, reasons, nexts, n, ok);
		if (n != 0)
			mg_dispatch(graph, node, (void **)o, nexts, n);
	}
	return nb;
}

static struct rte_node_register esp_input_node = {
	.name = "esp-input",
	.process = esp_input_process,
	.init = mg_node_init,
	.nb_edges = 5,
	.next_nodes = {
		[ESPI_NEXT_IP4] = "ip4-lookup",
		[ESPI_NEXT_IP6] = "ip6-lookup",
		[ESPI_NEXT_DROP] = "drop",
		[ESPI_NEXT_CLS4] = "ip4-classify",
		[ESPI_NEXT_CLS6] = "ip6-classify",
	},
};
RTE_NODE_REGISTER(esp_input_node);

#define HANDOFF_BURST 64

static uint16_t
esp_handoff_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct mg_node_ctx *c = mg_ctx(node);
	struct mg_espgw *eg = __atomic_load_n(&c->dp->esp, __ATOMIC_ACQUIRE);
	struct rte_mbuf *pkts[HANDOFF_BURST];
	struct mg_esp_sa *sas[HANDOFF_BURST];
	uint16_t nexts[HANDOFF_BURST];
	uint8_t reasons[HANDOFF_BURST];
	uint16_t ok, taken = 0;

	if (likely(eg == NULL))
		return 0;
	ok = mg_esp_handoff_submit(eg->wk[c->w->index], pkts, HANDOFF_BURST, sas, reasons, &taken);
	if (taken == 0)
		return 0;
	input_finish(c->dp, eg, c->w, pkts, sas, reasons, nexts, taken, ok);
	mg_dispatch(graph, node, (void **)pkts, nexts, taken);
	c->w->walk_pkts += taken;
	return taken;
}

static struct rte_node_register esp_handoff_node = {
	.name = "esp-handoff",
	.flags = RTE_NODE_SOURCE_F,
	.process = esp_handoff_process,
	.init = mg_node_init,
	.nb_edges = 5,
	.next_nodes = {
		[ESPI_NEXT_IP4] = "ip4-lookup",
		[ESPI_NEXT_IP6] = "ip6-lookup",
		[ESPI_NEXT_DROP] = "drop",
		[ESPI_NEXT_CLS4] = "ip4-classify",
		[ESPI_NEXT_CLS6] = "ip6-classify",
	},
};
RTE_NODE_REGISTER(esp_handoff_node);

/* ---- esp-dequeue ------------------------------------------------------------------------ */

#define DEQUEUE_BURST 64

/*
 * A source node: takes back the packets whose lookaside crypto completed on
 * this worker's queue pairs (esp-output and esp-input enqueued them in an
 * earlier walk) and sends them on as those nodes would have.
 */
static uint16_t
esp_dequeue_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct mg_node_ctx *c = mg_ctx(node);
	struct mg_espgw *eg = __atomic_load_n(&c->dp->esp, __ATOMIC_ACQUIRE);
	struct rte_mbuf *pkts[DEQUEUE_BURST];
	struct mg_esp_sa *sas[DEQUEUE_BURST];
	uint16_t nexts[DEQUEUE_BURST];
	uint8_t reasons[DEQUEUE_BURST];
	struct mg_tx_acc acc = {.ifx = 0, .pkts = 0, .bytes = 0};
	struct espo_nh nh = {.r = NULL};
	struct mg_esp_worker *wk;
	uint16_t ok, got = 0;

	if (likely(eg == NULL))
		return 0;
	wk = eg->wk[c->w->index];
	ok = mg_esp_dequeue_burst(wk, pkts, DEQUEUE_BURST, sas, reasons, &got);
	/* Ops still in flight: keep the worker polling (no idle sleep). */
	if (got == 0) {
		if (unlikely(mg_esp_worker_inflight(wk) != 0))
			c->w->walk_pkts++;
		return 0;
	}
	struct espi_run run = {.sa = NULL, .pkts = 0};

	for (uint16_t k = 0; k < ok; k++) {
		struct rte_mbuf *m = pkts[k];

		if (mg_esp_sa_dir(sas[k]) == MG_ESP_INBOUND) {
			nexts[k] = input_route(c->dp, eg, c->w, &run, m, sas[k]);
			continue;
		}
		const struct mg_espgw_tun *r = mg_espgw_tun_of(eg, mg_esp_sa_user(sas[k]));

		if (unlikely(r == NULL)) {
			mg_set_drop(m, MG_DROP_ESP_NO_SA);
			nexts[k] = ESPI_NEXT_DROP;
			continue;
		}
		output_finish(c->dp, c->w, &acc, &nh, r, &pkts[k], &nexts[k], 1, 1, ESPI_NEXT_TX);
	}
	for (uint16_t k = ok; k < got; k++) {
		mg_set_drop(pkts[k], reasons[k] == MG_ESP_ERR_DUMMY ? MG_DROP_ESP_DUMMY
								     : MG_DROP_ESP_FAILED);
		nexts[k] = ESPI_NEXT_DROP;
	}
	espi_run_flush(c->w, &run);
	mg_tx_acc_flush(c->w->ifc, &acc);
	mg_dispatch(graph, node, (void **)pkts, nexts, got);
	c->w->walk_pkts += got;
	return got;
}

static struct rte_node_register esp_dequeue_node = {
	.name = "esp-dequeue",
	.flags = RTE_NODE_SOURCE_F,
	.process = esp_dequeue_process,
	.init = mg_node_init,
	.nb_edges = 6,
	.next_nodes = {
		[ESPI_NEXT_IP4] = "ip4-lookup",
		[ESPI_NEXT_IP6] = "ip6-lookup",
		[ESPI_NEXT_DROP] = "drop",
		[ESPI_NEXT_CLS4] = "ip4-classify",
		[ESPI_NEXT_CLS6] = "ip6-classify",
		[ESPI_NEXT_TX] = "port-tx",
	},
};
RTE_NODE_REGISTER(esp_dequeue_node);
