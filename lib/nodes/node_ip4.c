/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPv4: ip4-lookup finds the adjacency in the network's rte_fib and, for a
 * neighbor, applies TTL, MTU and the L2 header itself (lookup and rewrite
 * always follow each other on the forwarding path); ip4-local answers echo
 * requests to the gateway's addresses.
 */
#include <rte_fib.h>

#include <rte_udp.h>

#include "mg_vxlan.h"
#include "nodes_priv.h"

/* The rewrite of a packet to a neighbor adjacency. */

static __rte_always_inline uint16_t
ip4_rewrite_one(struct mg_if_counters *ifcs, struct mg_tx_acc *acc, const struct mg_adj *adj,
		struct rte_mbuf *m, struct mg_meta *md)
{
	const struct mg_rewrite *rw = mg_adj_rewrite(adj);
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	uint16_t tot;

	if (unlikely(rw->state != MG_NS_COMPLETE))
		return mg_rewrite_unresolved(m, md, rw, true);
	/* Our own packets (echo replies, ICMP errors) leave with their TTL as is. */
	const int transit = !(md->flags & MG_META_LOCAL);

	if (unlikely(transit && ip->time_to_live <= 1)) {
		mg_set_icmp(m, MG_DROP_IP4_TTL, MG_ICMP4_TIME_EXCEEDED, MG_ICMP4_TTL_EXCEEDED, 0);
		return LK_NEXT_ICMP;
	}
	tot = rte_be_to_cpu_16(ip->total_length);
	if (unlikely(tot > rw->mtu)) {
		if (ip->fragment_offset & MG_IP4_DF_BE) {
			mg_set_icmp(m, MG_DROP_MTU_EXCEEDED, MG_ICMP4_DEST_UNREACH,
				    MG_ICMP4_UNREACH_FRAG_NEEDED, rw->mtu);
			return LK_NEXT_ICMP;
		}
		if (transit)
			mg_ip4_ttl_dec(ip);
		return LK_NEXT_FRAG;
	}
	if (likely(transit))
		mg_ip4_ttl_dec(ip);
	return mg_rewrite_l2(ifcs, acc, rw, m, md);
}

/*
 * Into a WireGuard interface: TTL and the tunnel's MTU (DF set: fragmentation
 * needed; DF clear: the outer packet is fragmented instead), then wg-output.
 */
static inline uint16_t
ip4_to_wg(const struct mg_dp *dp, const struct mg_adj *a, struct rte_mbuf *m, struct mg_meta *md)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	const struct mg_dp_iface *ifc = mg_dp_iface(dp, a->ifindex);
	const int transit = !(md->flags & MG_META_LOCAL);

	if (unlikely(ifc == NULL)) {
		md->drop = MG_DROP_PORT_DOWN;
		return LK_NEXT_DROP;
	}
	if (unlikely(transit && ip->time_to_live <= 1)) {
		mg_set_icmp(m, MG_DROP_IP4_TTL, MG_ICMP4_TIME_EXCEEDED, MG_ICMP4_TTL_EXCEEDED, 0);
		return LK_NEXT_ICMP;
	}
	if (unlikely(rte_be_to_cpu_16(ip->total_length) > ifc->mtu &&
		     (ip->fragment_offset & MG_IP4_DF_BE))) {
		mg_set_icmp(m, MG_DROP_MTU_EXCEEDED, MG_ICMP4_DEST_UNREACH,
			    MG_ICMP4_UNREACH_FRAG_NEEDED, ifc->mtu);
		return LK_NEXT_ICMP;
	}
	if (likely(transit))
		mg_ip4_ttl_dec(ip);
	return LK_NEXT_WG;
}

/* ---- ip4-lookup ---------------------------------------------------------------- */

/* Where an adjacency sends a packet; sets the drop reason / ICMP fields. */
static __rte_always_inline uint16_t
lookup_next4(const struct mg_dp *dp, struct mg_if_counters *ifcs, struct mg_tx_acc *acc,
	    struct rte_mbuf *m,
	    uint32_t adj)
{
	struct mg_meta *md = mg_meta(m);
	const struct mg_adj *a = mg_lookup_adj(dp, md, adj);

	if (likely(a->type == MG_ADJ_NEIGHBOR))
		return ip4_rewrite_one(ifcs, acc, a, m, md);
	if (a->type == MG_ADJ_WG)
		return ip4_to_wg(dp, a, m, md);
	return mg_lookup_other(dp, m, md, a, true);
}

static uint16_t
ip4_lookup_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct mg_node_ctx *c = mg_ctx(node);
	const struct mg_dp *dp = c->dp;
	uint32_t ips[MG_VEC];
	uint64_t nhs[MG_VEC];
	uint16_t nexts[MG_VEC];
	struct mg_tx_acc acc = {.ifx = 0, .pkts = 0, .bytes = 0};

	for (uint16_t base = 0; base < nb; base += MG_VEC) {
		uint16_t n = RTE_MIN((uint16_t)(nb - base), (uint16_t)MG_VEC);
		struct rte_mbuf **o = (struct rte_mbuf **)(objs + base);
		uint16_t i = 0;

		while (i < n) {
			/* A run of packets in the same network: one bulk lookup. */
			uint16_t net = mg_meta(o[i])->net, j = i;
			const struct mg_dp_net *dn = mg_dp_net(dp, net);

			for (; j < n && mg_meta(o[j])->net == net; j++)
				ips[j] = rte_be_to_cpu_32(
					rte_pktmbuf_mtod(o[j], struct rte_ipv4_hdr *)->dst_addr);
			if (unlikely(dn == NULL)) {
				for (uint16_t k = i; k < j; k++)
					nhs[k] = MG_ADJ_ID_NOROUTE;
			} else {
				mg_dp_fib_enter(dp, c->w->index);
				rte_fib_lookup_bulk(dn->fib4, &ips[i], &nhs[i], j - i);
				for (uint16_t k = i; k < j; k++) {
					/* 0 means we raced a tbl8 recycle: look again. */
					while (unlikely(nhs[k] == MG_ADJ_ID_RETRY)) {
						c->w->stats->fib_retries++;
						rte_fib_lookup_bulk(dn->fib4, &ips[k], &nhs[k], 1);
					}
				}
				mg_dp_fib_leave(dp, c->w->index);
			}
			for (; i < j; i++)
				nexts[i] = lookup_next4(dp, c->w->ifc, &acc, o[i], (uint32_t)nhs[i]);
		}
		mg_dispatch(graph, node, (void **)o, nexts, n);
	}
	mg_tx_acc_flush(c->w->ifc, &acc);
	return nb;
}

static struct rte_node_register ip4_lookup_node = {
	.name = "ip4-lookup",
	.process = ip4_lookup_process,
	.init = mg_node_init,
	.nb_edges = 10,
	.next_nodes = {
		[LK_NEXT_TX] = "port-tx",
		[LK_NEXT_LOCAL] = "ip4-local",
		[LK_NEXT_PUNT] = "punt",
		[LK_NEXT_ICMP] = "ip4-icmp-error",
		[LK_NEXT_DROP] = "drop",
		[LK_NEXT_ESP] = "esp-output",
		[LK_NEXT_FRAG] = "ip4-frag",
		[LK_NEXT_SVC] = "service",
		[LK_NEXT_WG] = "wg-output",
		[LK_NEXT_NAT] = "nat",
	},
};
RTE_NODE_REGISTER(ip4_lookup_node);

/* ---- ip4-local ------------------------------------------------------------------ */

static inline uint16_t
ip4_local_one(const struct mg_dp *dp, struct mg_lcore_stats *st, struct rte_mbuf *m, bool esp,
	      const struct mg_vxlan *vx)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	uint32_t hlen = (ip->version_ihl & 0xf) * 4u;
	uint32_t tot = rte_be_to_cpu_16(ip->total_length);
	struct mg_icmp *icmp;
	rte_be32_t a;

	if (ip->fragment_offset & (MG_IP4_MF_BE | MG_IP4_OFF_MASK_BE)) {
		mg_set_drop(m, MG_DROP_LOCAL_FRAG);
		return LOC_NEXT_DROP;
	}
	/* IKE for the gateway's own peers: to the main lcore. */
	if (ip->next_proto_id == MG_IPPROTO_UDP && tot >= hlen + 8 &&
	    mg_ike_wanted(dp, (const uint8_t *)ip + hlen, tot - hlen)) {
		mg_meta(m)->punt = MG_PUNT_IKE;
		return LOC_NEXT_PUNT;
	}
	/* ESP, raw or UDP-encapsulated (RFC 3948), when tunnels exist. */
	if (esp && (ip->next_proto_id == MG_IPPROTO_ESP ||
		    (ip->next_proto_id == MG_IPPROTO_UDP && tot >= hlen + 8 &&
		     ((const struct rte_udp_hdr *)((uint8_t *)ip + hlen))->dst_port ==
			     RTE_BE16(MG_ESP_NATT_PORT))))
		return LOC_NEXT_ESP;
	if (ip->next_proto_id == MG_IPPROTO_ICMP && tot >= hlen + sizeof(*icmp)) {
		icmp = (struct mg_icmp *)((uint8_t *)ip + hlen);
		if (icmp->type != MG_ICMP4_ECHO_REQUEST || icmp->code != 0 ||
		    mg_inet_cksum(icmp, tot - hlen) != 0) {
			mg_set_drop(m, MG_DROP_LOCAL_PROTO);
			return LOC_NEXT_DROP;
		}
		/* Echo reply in place: swap addresses, type 8 -> 0. */
		icmp->type = MG_ICMP4_ECHO_REPLY;
		icmp->cksum = 0;
		icmp->cksum = mg_inet_cksum(icmp, tot - hlen);
		a = ip->src_addr;
		ip->src_addr = ip->dst_addr;
		ip->dst_addr = a;
		ip->time_to_live = MG_DEFAULT_TTL;
		ip->hdr_checksum = 0;
		ip->hdr_checksum = mg_inet_cksum(ip, hlen);
		st->echo_replies++;
		mg_meta(m)->flags |= MG_META_LOCAL;
		return LOC_NEXT_LOOKUP;
	}
	if (ip->next_proto_id == MG_IPPROTO_UDP) {
		const struct rte_udp_hdr *udp = (const struct rte_udp_hdr *)((uint8_t *)ip + hlen);

		if (tot >= hlen + sizeof(*udp) && mg_wg_port_listened(dp, udp->dst_port))
			return LOC_NEXT_WG;
		if (vx != NULL && tot >= hlen + sizeof(*udp) && mg_vxlan_port_used(vx, udp->dst_port))
			return LOC_NEXT_VXLAN;
		mg_set_icmp(m, MG_DROP_LOCAL_PROTO, MG_ICMP4_DEST_UNREACH, MG_ICMP4_UNREACH_PORT, 0);
		return LOC_NEXT_ICMP;
	}
	if (ip->next_proto_id != MG_IPPROTO_TCP && ip->next_proto_id != MG_IPPROTO_ICMP) {
		mg_set_icmp(m, MG_DROP_LOCAL_PROTO, MG_ICMP4_DEST_UNREACH, MG_ICMP4_UNREACH_PROTO,
			    0);
		return LOC_NEXT_ICMP;
	}
	mg_set_drop(m, MG_DROP_LOCAL_PROTO);
	return LOC_NEXT_DROP;
}

static uint16_t
ip4_local_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct mg_node_ctx *c = mg_ctx(node);
	const bool esp = __atomic_load_n(&c->dp->esp, __ATOMIC_RELAXED) != NULL;
	const struct mg_vxlan *vx = __atomic_load_n(&c->dp->vxlan, __ATOMIC_ACQUIRE);
	uint16_t nexts[MG_VEC];

	for (uint16_t base = 0; base < nb; base += MG_VEC) {
		uint16_t n = RTE_MIN((uint16_t)(nb - base), (uint16_t)MG_VEC);

		for (uint16_t i = 0; i < n; i++)
			nexts[i] = ip4_local_one(c->dp, c->w->stats, objs[base + i], esp, vx);
		mg_dispatch(graph, node, objs + base, nexts, n);
	}
	return nb;
}

static struct rte_node_register ip4_local_node = {
	.name = "ip4-local",
	.process = ip4_local_process,
	.init = mg_node_init,
	.nb_edges = LOC_NEXT_COUNT,
	.next_nodes = {
		[LOC_NEXT_LOOKUP] = "ip4-lookup",
		[LOC_NEXT_ICMP] = "ip4-icmp-error",
		[LOC_NEXT_DROP] = "drop",
		[LOC_NEXT_WG] = "wg-input",
		[LOC_NEXT_ESP] = "esp-input",
		[LOC_NEXT_VXLAN] = "vxlan-input",
		[LOC_NEXT_PUNT] = "punt",
	},
};
RTE_NODE_REGISTER(ip4_local_node);
