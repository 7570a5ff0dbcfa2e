/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPv6: ip6-lookup uses the network's rte_fib6 and, for a neighbor, applies
 * the hop limit, MTU (packet too big) and L2 header itself; ip6-local
 * answers echo requests.
 */
#include <rte_fib6.h>

#include <rte_udp.h>

#include "mg_vxlan.h"
#include "nodes_priv.h"

/* The rewrite of a packet to a neighbor adjacency. */

static __rte_always_inline uint16_t
ip6_rewrite_one(struct mg_if_counters *ifcs, struct mg_tx_acc *acc, const struct mg_adj *adj,
		struct rte_mbuf *m, struct mg_meta *md)
{
	const struct mg_rewrite *rw = mg_adj_rewrite(adj);
	struct rte_ipv6_hdr *ip6 = rte_pktmbuf_mtod(m, struct rte_ipv6_hdr *);

	if (unlikely(rw->state != MG_NS_COMPLETE))
		return mg_rewrite_unresolved(m, md, rw, false);
	/* Our own packets (echo replies, ICMP errors) leave with their hop limit as is. */
	const int transit = !(md->flags & MG_META_LOCAL);

	if (unlikely(transit && ip6->hop_limits <= 1)) {
		mg_set_icmp(m, MG_DROP_IP6_HOP_LIMIT, MG_ICMP6_TIME_EXCEEDED,
			    MG_ICMP6_HOPLIMIT_EXCEEDED, 0);
		return LK_NEXT_ICMP;
	}
	if (unlikely(m->pkt_len > rw->mtu)) {
		mg_set_icmp(m, MG_DROP_MTU_EXCEEDED, MG_ICMP6_PACKET_TOO_BIG, 0, rw->mtu);
		return LK_NEXT_ICMP;
	}
	if (likely(transit))
		ip6->hop_limits--;
	return mg_rewrite_l2(ifcs, acc, rw, m, md);
}

/* Into a WireGuard interface: hop limit and the tunnel's MTU, then wg-output. */
static inline uint16_t
ip6_to_wg(const struct mg_dp *dp, const struct mg_adj *a, struct rte_mbuf *m, struct mg_meta *md)
{
	struct rte_ipv6_hdr *ip6 = rte_pktmbuf_mtod(m, struct rte_ipv6_hdr *);
	const struct mg_dp_iface *ifc = mg_dp_iface(dp, a->ifindex);
	const int transit = !(md->flags & MG_META_LOCAL);

	if (unlikely(ifc == NULL)) {
		md->drop = MG_DROP_PORT_DOWN;
		return LK_NEXT_DROP;
	}
	if (unlikely(transit && ip6->hop_limits <= 1)) {
		mg_set_icmp(m, MG_DROP_IP6_HOP_LIMIT, MG_ICMP6_TIME_EXCEEDED,
			    MG_ICMP6_HOPLIMIT_EXCEEDED, 0);
		return LK_NEXT_ICMP;
	}
	if (unlikely(m->pkt_len > ifc->mtu)) {
		mg_set_icmp(m, MG_DROP_MTU_EXCEEDED, MG_ICMP6_PACKET_TOO_BIG, 0, ifc->mtu);
		return LK_NEXT_ICMP;
	}
	if (likely(transit))
		ip6->hop_limits--;
	return LK_NEXT_WG;
}

/* ---- ip6-lookup ---------------------------------------------------------------- */

static __rte_always_inline uint16_t
lookup_next6(const struct mg_dp *dp, struct mg_if_counters *ifcs, struct mg_tx_acc *acc,
	    struct rte_mbuf *m,
	    uint32_t adj)
{
	struct mg_meta *md = mg_meta(m);
	const struct mg_adj *a = mg_lookup_adj(dp, md, adj);

	if (likely(a->type == MG_ADJ_NEIGHBOR))
		return ip6_rewrite_one(ifcs, acc, a, m, md);
	if (a->type == MG_ADJ_WG)
		return ip6_to_wg(dp, a, m, md);
	return mg_lookup_other(dp, m, md, a, false);
}

static uint16_t
ip6_lookup_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct mg_node_ctx *c = mg_ctx(node);
	const struct mg_dp *dp = c->dp;
	uint8_t ips[MG_VEC][16];
	uint64_t nhs[MG_VEC];
	uint16_t nexts[MG_VEC];
	struct mg_tx_acc acc = {.ifx = 0, .pkts = 0, .bytes = 0};

	for (uint16_t base = 0; base < nb; base += MG_VEC) {
		uint16_t n = RTE_MIN((uint16_t)(nb - base), (uint16_t)MG_VEC);
		struct rte_mbuf **o = (struct rte_mbuf **)(objs + base);
		uint16_t i = 0;

		while (i < n) {
			uint16_t net = mg_meta(o[i])->net, j = i;
			const struct mg_dp_net *dn = mg_dp_net(dp, net);

			for (; j < n && mg_meta(o[j])->net == net; j++)
				memcpy(ips[j], rte_pktmbuf_mtod(o[j], struct rte_ipv6_hdr *)->dst_addr,
				       16);
			if (unlikely(dn == NULL)) {
				for (uint16_t k = i; k < j; k++)
					nhs[k] = MG_ADJ_ID_NOROUTE;
			} else {
				mg_dp_fib_enter(dp, c->w->index);
				rte_fib6_lookup_bulk(dn->fib6, &ips[i], &nhs[i], j - i);
				for (uint16_t k = i; k < j; k++) {
					while (unlikely(nhs[k] == MG_ADJ_ID_RETRY)) {
						c->w->stats->fib_retries++;
						rte_fib6_lookup_bulk(dn->fib6, &ips[k], &nhs[k], 1);
					}
				}
				mg_dp_fib_leave(dp, c->w->index);
			}
			for (; i < j; i++)
				nexts[i] = lookup_next6(dp, c->w->ifc, &acc, o[i], (uint32_t)nhs[i]);
		}
		mg_dispatch(graph, node, (void **)o, nexts, n);
	}
	mg_tx_acc_flush(c->w->ifc, &acc);
	return nb;
}

static struct rte_node_register ip6_lookup_node = {
	.name = "ip6-lookup",
	.process = ip6_lookup_process,
	.init = mg_node_init,
	.nb_edges = 10,
	.next_nodes = {
		[LK_NEXT_TX] = "port-tx",
		[LK_NEXT_LOCAL] = "ip6-local",
		[LK_NEXT_PUNT] = "punt",
		[LK_NEXT_ICMP] = "ip6-icmp-error",
		[LK_NEXT_DROP] = "drop",
		[LK_NEXT_FRAG] = "drop", /* unused: routers do not fragment IPv6 */
		[LK_NEXT_SVC] = "service",
		[LK_NEXT_WG] = "wg-output",
		[LK_NEXT_NAT] = "nat",
		[LK_NEXT_ESP] = "esp-output",
	},
};
RTE_NODE_REGISTER(ip6_lookup_node);

/* ---- ip6-local ------------------------------------------------------------------ */

/*
 * Drop the extension headers (already walked and checked) between the
 * fixed header and the upper layer @p proto at @p l4off, for the tunnel
 * nodes, which take the tunnel packet at the fixed header's end: the fixed
 * header moves up to the upper layer. Nothing in them is for them (RFC
 * 8200 4: the options are processed here, and the outer header goes at
 * decapsulation).
 */
static inline void
ip6_ext_strip(struct rte_mbuf *m, uint32_t l4off, uint8_t proto)
{
	uint32_t ext = l4off - MG_IP6_HLEN;
	struct rte_ipv6_hdr *ip6 = rte_pktmbuf_mtod(m, struct rte_ipv6_hdr *);

	if (likely(ext == 0))
		return;
	ip6->proto = proto;
	ip6->payload_len = rte_cpu_to_be_16((uint16_t)(rte_be_to_cpu_16(ip6->payload_len) - ext));
	memmove((uint8_t *)ip6 + ext, ip6, MG_IP6_HLEN);
	rte_pktmbuf_adj(m, (uint16_t)ext);
	m->l3_len = MG_IP6_HLEN;
}

static inline uint16_t
ip6_local_one(const struct mg_dp *dp, struct mg_lcore_stats *st, struct rte_mbuf *m, bool esp,
	      const struct mg_vxlan *vx)
{
	struct rte_ipv6_hdr *ip6 = rte_pktmbuf_mtod(m, struct rte_ipv6_hdr *);
	uint32_t plen = rte_be_to_cpu_16(ip6->payload_len);
	uint8_t *pkt = (uint8_t *)ip6, proto, tmp[16];
	uint32_t l4off;
	int frag, first;

	if (mg_ip6_walk(pkt, MG_IP6_HLEN + plen, &proto, &l4off, &frag, &first) < 0 || frag) {
		mg_set_drop(m, frag ? MG_DROP_LOCAL_FRAG : MG_DROP_IP6_BAD_EXT);
		return LOC_NEXT_DROP;
	}
	if (proto == MG_IPPROTO_ICMPV6 && l4off == MG_IP6_HLEN && plen >= sizeof(struct mg_icmp)) {
		struct mg_icmp *icmp = (struct mg_icmp *)(pkt + MG_IP6_HLEN);

		if (icmp->type != MG_ICMP6_ECHO_REQUEST || icmp->code != 0 ||
		    mg_ip6_l4_cksum(ip6, icmp, plen, MG_IPPROTO_ICMPV6) != 0) {
			mg_set_drop(m, MG_DROP_LOCAL_PROTO);
			return LOC_NEXT_DROP;
		}
		memcpy(tmp, ip6->src_addr, 16);
		memcpy(ip6->src_addr, ip6->dst_addr, 16);
		memcpy(ip6->dst_addr, tmp, 16);
		ip6->hop_limits = MG_DEFAULT_TTL;
		icmp->type = MG_ICMP6_ECHO_REPLY;
		icmp->cksum = 0;
		icmp->cksum = mg_ip6_l4_cksum(ip6, icmp, plen, MG_IPPROTO_ICMPV6);
		st->echo_replies++;
		mg_meta(m)->flags |= MG_META_LOCAL;
		return LOC_NEXT_LOOKUP;
	}
	/* IKE for the gateway's own peers: to the main lcore. */
	if (proto == MG_IPPROTO_UDP && plen >= l4off - MG_IP6_HLEN + 8 &&
	    mg_ike_wanted(dp, pkt + l4off, MG_IP6_HLEN + plen - l4off)) {
		mg_meta(m)->punt = MG_PUNT_IKE;
		return LOC_NEXT_PUNT;
	}
	/* ESP, raw or UDP-encapsulated (RFC 3948), when tunnels exist. */
	if (esp && (proto == MG_IPPROTO_ESP ||
		    (proto == MG_IPPROTO_UDP && plen >= l4off - MG_IP6_HLEN + 8 &&
		     ((const struct rte_udp_hdr *)(pkt + l4off))->dst_port ==
			     RTE_BE16(MG_ESP_NATT_PORT)))) {
		ip6_ext_strip(m, l4off, proto);
		return LOC_NEXT_ESP;
	}
	if (proto == MG_IPPROTO_UDP && plen >= l4off - MG_IP6_HLEN + 8) {
		rte_be16_t dport = ((const struct rte_udp_hdr *)(pkt + l4off))->dst_port;

		if (mg_wg_port_listened(dp, dport)) {
			ip6_ext_strip(m, l4off, proto);
			return LOC_NEXT_WG;
		}
		if (vx != NULL && mg_vxlan_port_used(vx, dport)) {
			ip6_ext_strip(m, l4off, proto);
			return LOC_NEXT_VXLAN;
		}
	}
	if (proto == MG_IPPROTO_UDP) {
		mg_set_icmp(m, MG_DROP_LOCAL_PROTO, MG_ICMP6_DEST_UNREACH, MG_ICMP6_UNREACH_PORT, 0);
		return LOC_NEXT_ICMP;
	}
	mg_set_drop(m, MG_DROP_LOCAL_PROTO);
	return LOC_NEXT_DROP;
}

static uint16_t
ip6_local_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct mg_node_ctx *c = mg_ctx(node);
	const bool esp = __atomic_load_n(&c->dp->esp, __ATOMIC_RELAXED) != NULL;
	const struct mg_vxlan *vx = __atomic_load_n(&c->dp->vxlan, __ATOMIC_ACQUIRE);
	uint16_t nexts[MG_VEC];

	for (uint16_t base = 0; base < nb; base += MG_VEC) {
		uint16_t n = RTE_MIN((uint16_t)(nb - base), (uint16_t)MG_VEC);

		for (uint16_t i = 0; i < n; i++)
			nexts[i] = ip6_local_one(c->dp, c->w->stats, objs[base + i], esp, vx);
		mg_dispatch(graph, node, objs + base, nexts, n);
	}
	return nb;
}

static struct rte_node_register ip6_local_node = {
	.name = "ip6-local",
	.process = ip6_local_process,
	.init = mg_node_init,
	.nb_edges = LOC_NEXT_COUNT,
	.next_nodes = {
		[LOC_NEXT_LOOKUP] = "ip6-lookup",
		[LOC_NEXT_ICMP] = "ip6-icmp-error",
		[LOC_NEXT_DROP] = "drop",
		[LOC_NEXT_WG] = "wg-input",
		[LOC_NEXT_ESP] = "esp-input",
		[LOC_NEXT_VXLAN] = "vxlan-input",
		[LOC_NEXT_PUNT] = "punt",
	},
};
RTE_NODE_REGISTER(ip6_local_node);
