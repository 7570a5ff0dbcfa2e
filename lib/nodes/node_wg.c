/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * WireGuard data path (lib/wgif holds the interfaces, lib/wg the protocol):
 *
 * wg-input: UDP messages to a WireGuard listen port, from ipX-local with the
 *   outer IP header at the data offset. Handshake messages go to the main
 *   lcore through the interface's bounded ring; transport data is decrypted
 *   in bursts (replay window, session age, cryptokey routing: the inner
 *   source must be in the sending peer's allowed IPs), the peer's endpoint
 *   follows the outer source of its authenticated packets, and the inner
 *   packet enters the interface's network at ipX-lookup.
 * wg-output: packets routed into a WireGuard interface (MG_ADJ_WG). Allowed
 *   IPs pick the peer by inner destination, runs of packets to one peer are
 *   encrypted in one burst on its current session, and the outer UDP/IP
 *   packet is routed in the underlay network as the gateway's own.
 */
#include <rte_cycles.h>

#include "mg_wgif.h"
#include "nodes_priv.h"

enum { WGI_NEXT_IP4 = 0, WGI_NEXT_IP6, WGI_NEXT_DROP, WGI_NEXT_CLS4, WGI_NEXT_CLS6 };
enum { WGO_NEXT_IP4 = 0, WGO_NEXT_IP6, WGO_NEXT_DROP };

static inline uint16_t
drop(struct rte_mbuf *m, enum mg_drop reason, uint16_t edge)
{
	mg_set_drop(m, reason);
	return edge;
}

/* The interface listening on UDP port @p port in network @p net. */
static inline struct mg_wgif *
wgif_by_port(const struct mg_wgif_dp *w, uint16_t net, uint16_t port)
{
	for (unsigned int i = 0; i < MG_WGIF_MAX; i++) {
		struct mg_wgif *itf = __atomic_load_n(&w->list[i], __ATOMIC_ACQUIRE);

		if (itf != NULL && itf->port == port && itf->underlay == net)
			return itf;
	}
	return NULL;
}

/* ---- wg-input ----------------------------------------------------------------------- */

/* Decrypt @p n data messages of @p itf, set their next nodes into out/nexts. */
static uint16_t
input_data(struct mg_node_ctx *c, struct mg_wgif_dp *w, struct mg_wgif *itf,
	   struct rte_mbuf **pkts, uint16_t n, uint64_t now, void **out, uint16_t *nexts)
{
	struct mg_wgif_lstats *st = &w->st[c->w->index];
	const struct mg_wg_aip *aip = __atomic_load_n(&itf->aip, __ATOMIC_ACQUIRE);
	struct mg_if_counters *ifcs = &c->w->ifc[itf->ifindex];
	struct mg_wg_peer *peers[MG_WG_BURST_MAX];
	struct rte_mbuf *arrived[MG_WG_BURST_MAX];
	uint8_t status[MG_WG_BURST_MAX];
	unsigned int fam;
	uint16_t ok, g, b;

	memcpy(arrived, pkts, n * sizeof(pkts[0]));
	ok = mg_wg_decrypt_burst(w->wk[c->w->index], itf->wg, aip, pkts, n, now, status, peers);
	/*
	 * Roaming: a peer's endpoint is the source of its last authenticated
	 * packet (whitepaper 6.5), so walk them in arrival order. The burst came
	 * back with its data first, keepalives and failures after, each part in
	 * arrival order: one merge of the two restores it.
	 */
	g = 0;
	b = ok;
	for (uint16_t k = 0; k < n; k++) {
		uint16_t i = g < ok && pkts[g] == arrived[k] ? g++ : b++;

		RTE_ASSERT(pkts[i] == arrived[k]);
		if (peers[i] != NULL) {
			/* Compare with the outer header kept in the headroom. */
			struct mg_wgif_peer *wp = mg_wg_peer_user(peers[i]);
			struct mg_wgif_ep ep, cur;
			uint32_t hl;

			mg_wgif_ep_from_outer((const uint8_t *)pkts[i]->buf_addr +
					      mg_meta(pkts[i])->adj, &ep, &hl);
			mg_wgif_ep_read(wp, &cur);
			if (unlikely(!mg_wgif_ep_equal(&cur, &ep)) && mg_wgif_ep_write(wp, &ep))
				st->roamed++;
		}
	}
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct mg_meta *md = mg_meta(m);

		st->rx[status[i]]++;
		out[i] = m;
		if (i < ok) {
			const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);

			md->rx_if = itf->ifindex;
			md->net = itf->net;
			md->flags = 0;
			ifcs->rx_pkts++;
			ifcs->rx_bytes += m->pkt_len;
			fam = (p[0] >> 4) == 4 ? 0 : 1;
			nexts[i] = mg_net_classifies(c->dp, itf->net, fam) ? WGI_NEXT_CLS4 + fam
								      : WGI_NEXT_IP4 + fam;
		} else if (status[i] == MG_WG_RX_KEEPALIVE) {
			nexts[i] = drop(m, MG_DROP_NONE, WGI_NEXT_DROP);
		} else if (status[i] == MG_WG_RX_SRC_NOT_ALLOWED) {
			ifcs->drops++;
			nexts[i] = drop(m, MG_DROP_WG_SRC_NOT_ALLOWED, WGI_NEXT_DROP);
		} else {
			ifcs->drops++;
			nexts[i] = drop(m, MG_DROP_WG_RX_ERROR, WGI_NEXT_DROP);
		}
	}
	return n;
}

static uint16_t
wg_input_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct mg_node_ctx *c = mg_ctx(node);
	struct mg_wgif_dp *w = __atomic_load_n(&c->dp->wg, __ATOMIC_ACQUIRE);
	struct rte_mbuf *data[MG_WG_BURST_MAX];
	void *out[MG_WG_BURST_MAX];
	uint16_t nexts[MG_WG_BURST_MAX];
	uint64_t now = mg_now_ns();

	for (uint16_t base = 0; base < nb; base += MG_WG_BURST_MAX) {
		uint16_t n = RTE_MIN((uint16_t)(nb - base), (uint16_t)MG_WG_BURST_MAX);
		struct mg_wgif *run = NULL;
		uint16_t nd = 0, no = 0;

		for (uint16_t i = 0; i < n; i++) {
			struct rte_mbuf *m = objs[base + i];
			struct mg_meta *md = mg_meta(m);
			uint8_t *l3 = rte_pktmbuf_mtod(m, uint8_t *);
			const struct rte_udp_hdr *udp;
			struct mg_wgif *itf;
			uint32_t hl, tot;
			int type;

			if ((l3[0] >> 4) == 4) {
				hl = (uint32_t)(l3[0] & 0xf) * 4;
				tot = rte_be_to_cpu_16(((struct rte_ipv4_hdr *)l3)->total_length);
			} else {
				hl = 40;
				tot = 40 + rte_be_to_cpu_16(((struct rte_ipv6_hdr *)l3)->payload_len);
			}
			udp = (const struct rte_udp_hdr *)(l3 + hl);
			itf = w == NULL ? NULL : wgif_by_port(w, md->net, rte_be_to_cpu_16(udp->dst_port));
			if (itf == NULL) {
				out[no] = m;
				nexts[no++] = drop(m, MG_DROP_WG_NO_IFACE, WGI_NEXT_DROP);
				continue;
			}
			/* Frame padding beyond the IP packet is not part of the message. */
			if (tot < m->data_len)
				rte_pktmbuf_trim(m, (uint16_t)(m->data_len - tot));
			type = mg_wg_msg_type(l3 + hl + 8, m->data_len - hl - 8);
			if (type >= 1 && type <= 3) {
				struct mg_wgif_lstats *st = &w->st[c->w->index];

				if (rte_ring_mp_enqueue(itf->hs, m) == 0) {
					st->hs_queued++;
					mg_dp_wake_main(c->dp);
				} else {
					st->hs_queue_full++;
					out[no] = m;
					nexts[no++] = drop(m, MG_DROP_WG_HS_QUEUE, WGI_NEXT_DROP);
				}
				continue;
			}
			if (type != 4) {
				w->st[c->w->index].rx[MG_WG_RX_MALFORMED]++;
				out[no] = m;
				nexts[no++] = drop(m, MG_DROP_WG_RX_ERROR, WGI_NEXT_DROP);
				continue;
			}
			/* Data: one burst per run of the same interface (normally the whole vector). */
			if (run != itf && nd > 0) {
				no += input_data(c, w, run, data, nd, now, out + no, nexts + no);
				nd = 0;
			}
			run = itf;
			/* The outer header stays in the headroom, for roaming: remember where. */
			md->adj = (uint32_t)(l3 - (uint8_t *)m->buf_addr);
			rte_pktmbuf_adj(m, (uint16_t)(hl + 8));
			data[nd++] = m;
		}
		if (nd > 0)
			no += input_data(c, w, run, data, nd, now, out + no, nexts + no);
		/* Handshake messages left for the ring: possibly nothing to pass on. */
		if (no > 0)
			mg_dispatch(graph, node, out, nexts, no);
	}
	return nb;
}

static struct rte_node_register wg_input_node = {
	.name = "wg-input",
	.process = wg_input_process,
	.init = mg_node_init,
	.nb_edges = 5,
	.next_nodes = {
		[WGI_NEXT_IP4] = "ip4-lookup",
		[WGI_NEXT_IP6] = "ip6-lookup",
		[WGI_NEXT_DROP] = "drop",
		[WGI_NEXT_CLS4] = "ip4-classify",
		[WGI_NEXT_CLS6] = "ip6-classify",
	},
};
RTE_NODE_REGISTER(wg_input_node);

/* ---- wg-output ---------------------------------------------------------------------- */

/* Encrypt a run of packets of one peer and put them (or their drops) in out/nexts. */
static uint16_t
output_run(struct mg_node_ctx *c, struct mg_wgif_dp *w, struct mg_wgif *itf,
	   struct mg_wg_peer *peer, struct rte_mbuf **pkts, uint16_t n, uint64_t now, void **out,
	   uint16_t *nexts)
{
	struct mg_wgif_lstats *st = &w->st[c->w->index];
	struct mg_if_counters *ifcs = &c->w->ifc[itf->ifindex];
	struct mg_wgif_peer *wp = mg_wg_peer_user(peer);
	struct mg_wg_keypair *kp = mg_wg_peer_tx_keypair(peer, now);
	uint8_t status[MG_WG_BURST_MAX];
	struct mg_wgif_ep ep;
	uint16_t ok = 0;

	mg_wgif_ep_read(wp, &ep);
	if (kp == NULL || ep.family == 0 || !ep.src_set) {
		/*
		 * The main lcore starts a handshake (it resolves the endpoint's
		 * source first) and holds these packets until the session is up,
		 * as far as its bounded queues go.
		 */
		unsigned int held = 0;

		mg_wg_peer_want_handshake(peer);
		if (kp == NULL) {
			held = rte_ring_mp_enqueue_burst(itf->stage, (void **)pkts, n, NULL);
			st->staged += held;
			mg_dp_wake_main(c->dp);
		}
		for (uint16_t i = (uint16_t)held; i < n; i++) {
			out[i - held] = pkts[i];
			nexts[i - held] = drop(pkts[i], kp == NULL ? MG_DROP_WG_NO_SESSION
								   : MG_DROP_WG_NO_ENDPOINT, WGO_NEXT_DROP);
		}
		return (uint16_t)(n - held);
	}
	ok = mg_wg_encrypt_burst(w->wk[c->w->index], kp, pkts, n, now, status);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];

		st->tx[status[i]]++;
		out[i] = m;
		if (i >= ok) {
			nexts[i] = drop(m, MG_DROP_WG_TX_ERROR, WGO_NEXT_DROP);
			continue;
		}
		if (mg_wgif_push_outer(m, &ep, itf->port, c->w->ip4_id++) < 0) {
			nexts[i] = drop(m, MG_DROP_NO_MBUF, WGO_NEXT_DROP);
			continue;
		}
		struct mg_meta *md = mg_meta(m);

		md->net = itf->underlay;
		md->flags |= MG_META_LOCAL;
		ifcs->tx_pkts++;
		ifcs->tx_bytes += m->pkt_len;
		nexts[i] = ep.family == AF_INET ? WGO_NEXT_IP4 : WGO_NEXT_IP6;
	}
	return n;
}

static uint16_t
wg_output_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct mg_node_ctx *c = mg_ctx(node);
	const struct mg_dp *dp = c->dp;
	struct mg_wgif_dp *w = __atomic_load_n(&dp->wg, __ATOMIC_ACQUIRE);
	struct rte_mbuf *run[MG_WG_BURST_MAX];
	void *out[MG_WG_BURST_MAX];
	uint16_t nexts[MG_WG_BURST_MAX];
	uint64_t now = mg_now_ns();

	for (uint16_t base = 0; base < nb; base += MG_WG_BURST_MAX) {
		uint16_t n = RTE_MIN((uint16_t)(nb - base), (uint16_t)MG_WG_BURST_MAX);
		struct mg_wgif *ritf = NULL;
		struct mg_wg_peer *rpeer = NULL;
		uint16_t nr = 0, no = 0;

		for (uint16_t i = 0; i < n; i++) {
			struct rte_mbuf *m = objs[base + i];
			struct mg_meta *md = mg_meta(m);
			const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
			struct mg_wgif *itf = w == NULL ? NULL :
				__atomic_load_n(&w->by_if[dp->adj[md->adj].ifindex], __ATOMIC_ACQUIRE);
			struct mg_wg_peer *peer = NULL;

			if (itf != NULL) {
				const struct mg_wg_aip *aip = __atomic_load_n(&itf->aip, __ATOMIC_ACQUIRE);
				uint32_t a;

				if ((p[0] >> 4) == 4) {
					memcpy(&a, p + 16, 4);
					peer = mg_wg_aip_lookup4(aip, a);
				} else {
					peer = mg_wg_aip_lookup6(aip, p + 24);
				}
			}
			if (peer == NULL) {
				out[no] = m;
				nexts[no++] = drop(m, itf == NULL ? MG_DROP_PORT_DOWN : MG_DROP_WG_NO_PEER,
						   WGO_NEXT_DROP);
				continue;
			}
			if (nr > 0 && peer != rpeer) {
				no += output_run(c, w, ritf, rpeer, run, nr, now, out + no, nexts + no);
				nr = 0;
			}
			ritf = itf;
			rpeer = peer;
			run[nr++] = m;
		}
		if (nr > 0)
			no += output_run(c, w, ritf, rpeer, run, nr, now, out + no, nexts + no);
		/* Packets held for a handshake are the main lcore's now. */
		if (no > 0)
			mg_dispatch(graph, node, out, nexts, no);
	}
	return nb;
}

static struct rte_node_register wg_output_node = {
	.name = "wg-output",
	.process = wg_output_process,
	.init = mg_node_init,
	.nb_edges = 3,
	.next_nodes = {
		[WGO_NEXT_IP4] = "ip4-lookup",
		[WGO_NEXT_IP6] = "ip6-lookup",
		[WGO_NEXT_DROP] = "drop",
	},
};
RTE_NODE_REGISTER(wg_output_node);
