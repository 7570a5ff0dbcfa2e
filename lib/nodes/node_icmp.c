/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ip4-icmp-error / ip6-icmp-error: turn a packet that could not be
 * forwarded into the ICMP error its sender should get (RFC 1812 4.3.2,
 * RFC 4443 2.4), in place: the offending packet's start becomes the error's
 * payload. Errors are rate limited per worker with a token bucket; the
 * original drop reason is counted whether or not an error goes out.
 */
#include <rte_cycles.h>

#include "nodes_priv.h"

/* One token per ICMP error; tokens are TSC cycles, refilled as time passes. */
static inline int
icmp_allowed(const struct mg_dp *dp, struct mg_worker *w)
{
	uint64_t per = dp->icmp_tsc_per_token, now, cap;

	if (per == 0)
		return 0;
	now = rte_get_tsc_cycles();
	cap = per * dp->conf.icmp_burst;
	w->icmp_tokens += now - w->icmp_last_tsc;
	w->icmp_last_tsc = now;
	if (w->icmp_tokens > cap)
		w->icmp_tokens = cap;
	if (w->icmp_tokens < per)
		return 0;
	w->icmp_tokens -= per;
	return 1;
}

/*
 * Where an error just built goes: back into the network of the interface
 * the offending packet came in on; but an error about a packet a NAT flow
 * translated is about the packet as translated, so it goes to the nat node
 * in the network the packet was in (md->net, kept), which translates it
 * back (the quote as the sender sent it, to its original source) as it
 * would an error from a router there.
 */
static inline void
icmp_route(struct mg_meta *md, const struct mg_dp_iface *ifc)
{
	if (!(md->flags & MG_META_NAT_XLATED))
		md->net = ifc->net;
	md->flags = (uint8_t)((md->flags & ~(MG_META_NAT_GW | MG_META_NAT_DONE)) | MG_META_LOCAL);
}

static inline int
icmp4_is_error(uint8_t type)
{
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

/* Build the error in place; returns 0, or -1 if no error may be sent. */
static int
icmp4_build(const struct mg_dp *dp, struct mg_worker *w, struct rte_mbuf *m)
{
	struct mg_meta *md = mg_meta(m);
	struct rte_ipv4_hdr *orig = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	const struct mg_dp_iface *ifc = mg_dp_iface(dp, md->rx_if);
	uint32_t ihl = (orig->version_ihl & 0xf) * 4u, src = rte_be_to_cpu_32(orig->src_addr);
	uint32_t keep, tot;
	struct rte_ipv4_hdr *ip;
	struct mg_icmp *icmp;

	if (ifc == NULL || ifc->ip4 == 0)
		return -1;
	/* RFC 1812 4.3.2.7: never about a non-initial fragment, an ICMP error,
	 * or a packet whose source does not name a single host. */
	if (orig->fragment_offset & MG_IP4_OFF_MASK_BE)
		return -1;
	if ((src >> 24) == 0 || (src >> 24) == 127 || (src >> 28) >= 0xe)
		return -1;
	if (orig->next_proto_id == MG_IPPROTO_ICMP && m->pkt_len >= ihl + 1 &&
	    icmp4_is_error(((const uint8_t *)orig)[ihl]))
		return -1;
	if (!icmp_allowed(dp, w)) {
		w->stats->icmp_ratelimited++;
		return -1;
	}
	keep = RTE_MIN(m->pkt_len, (uint32_t)(MG_ICMP4_ERROR_MAX - 28));
	if (m->pkt_len > keep)
		rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - keep));
	ip = (struct rte_ipv4_hdr *)rte_pktmbuf_prepend(m, 28);
	if (ip == NULL)
		return -1;
	tot = keep + 28;
	icmp = (struct mg_icmp *)(ip + 1);
	ip->version_ihl = 0x45;
	ip->type_of_service = 0xc0; /* internetwork control */
	ip->total_length = rte_cpu_to_be_16((uint16_t)tot);
	ip->packet_id = rte_cpu_to_be_16(w->ip4_id++);
	ip->fragment_offset = 0;
	ip->time_to_live = MG_DEFAULT_TTL;
	ip->next_proto_id = MG_IPPROTO_ICMP;
	ip->dst_addr = rte_cpu_to_be_32(src);
	ip->src_addr = ifc->ip4;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = mg_inet_cksum(ip, sizeof(*ip));
	icmp->type = md->icmp_type;
	icmp->code = md->icmp_code;
	icmp->unused = 0;
	if (md->icmp_type == MG_ICMP4_DEST_UNREACH && md->icmp_code == MG_ICMP4_UNREACH_FRAG_NEEDED)
		icmp->frag.mtu = rte_cpu_to_be_16(md->mtu);
	icmp->cksum = 0;
	icmp->cksum = mg_inet_cksum(icmp, tot - sizeof(*ip));
	icmp_route(md, ifc);
	w->stats->icmp_sent++;
	return 0;
}

/*
 * Both families: turn each packet into its ICMP error with @p build and send
 * it to the lookup; a packet that gets none (rate limit, RFC 1812 / 4443
 * exceptions) is dropped with MG_META_ICMP_SEEN so the drop node does not
 * ask again. The original is not forwarded: its drop reason is counted here.
 */
static inline uint16_t
icmp_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb,
	     int (*build)(const struct mg_dp *, struct mg_worker *, struct rte_mbuf *))
{
	struct mg_node_ctx *c = mg_ctx(node);
	uint16_t nexts[MG_VEC];

	for (uint16_t base = 0; base < nb; base += MG_VEC) {
		uint16_t n = RTE_MIN((uint16_t)(nb - base), (uint16_t)MG_VEC);

		for (uint16_t i = 0; i < n; i++) {
			struct rte_mbuf *m = objs[base + i];

			if (build(c->dp, c->w, m) == 0) {
				struct mg_meta *md = mg_meta(m);

				c->w->stats->drops[md->drop]++;
				nexts[i] = ICMP_NEXT_LOOKUP;
				if (unlikely(md->flags & MG_META_NAT_XLATED)) {
					md->flags &= (uint8_t)~MG_META_NAT_XLATED;
					nexts[i] = ICMP_NEXT_NAT;
				}
			} else {
				mg_meta(m)->flags |= MG_META_ICMP_SEEN;
				nexts[i] = ICMP_NEXT_DROP;
			}
		}
		mg_dispatch(graph, node, objs + base, nexts, n);
	}
	return nb;
}

static uint16_t
ip4_icmp_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	return icmp_process(graph, node, objs, nb, icmp4_build);
}

static struct rte_node_register ip4_icmp_node = {
	.name = "ip4-icmp-error",
	.process = ip4_icmp_process,
	.init = mg_node_init,
	.nb_edges = 3,
	.next_nodes = {
		[ICMP_NEXT_LOOKUP] = "ip4-lookup",
		[ICMP_NEXT_DROP] = "drop",
		[ICMP_NEXT_NAT] = "nat",
	},
};
RTE_NODE_REGISTER(ip4_icmp_node);

/* ---- ICMPv6 -------------------------------------------------------------------- */

static int
icmp6_build(const struct mg_dp *dp, struct mg_worker *w, struct rte_mbuf *m)
{
	struct mg_meta *md = mg_meta(m);
	struct rte_ipv6_hdr *orig = rte_pktmbuf_mtod(m, struct rte_ipv6_hdr *);
	const struct mg_dp_iface *ifc = mg_dp_iface(dp, md->rx_if);
	static const uint8_t zero[16];
	uint8_t src[16], proto;
	uint32_t keep, plen, l4off;
	struct rte_ipv6_hdr *ip6;
	struct mg_icmp *icmp;
	int frag, first;

	if (ifc == NULL)
		return -1;
	memcpy(src, orig->src_addr, 16);
	/* RFC 4443 2.4(e): not to multicast or unspecified sources. */
	if (src[0] == 0xff || memcmp(src, zero, 16) == 0)
		return -1;
	/* 2.4(e.1): not about an ICMPv6 error. */
	if (mg_ip6_walk((const uint8_t *)orig, m->pkt_len, &proto, &l4off, &frag, &first) == 0 &&
	    proto == MG_IPPROTO_ICMPV6 && (!frag || first) && l4off < m->pkt_len &&
	    ((const uint8_t *)orig)[l4off] < 128)
		return -1;
	if (!icmp_allowed(dp, w)) {
		w->stats->icmp_ratelimited++;
		return -1;
	}
	keep = RTE_MIN(m->pkt_len, (uint32_t)(MG_ICMP6_ERROR_MAX - MG_IP6_HLEN - 8));
	if (m->pkt_len > keep)
		rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - keep));
	ip6 = (struct rte_ipv6_hdr *)rte_pktmbuf_prepend(m, MG_IP6_HLEN + 8);
	if (ip6 == NULL)
		return -1;
	plen = keep + 8;
	icmp = (struct mg_icmp *)(ip6 + 1);
	ip6->vtc_flow = rte_cpu_to_be_32(6u << 28);
	ip6->payload_len = rte_cpu_to_be_16((uint16_t)plen);
	ip6->proto = MG_IPPROTO_ICMPV6;
	ip6->hop_limits = MG_DEFAULT_TTL;
	memcpy(ip6->src_addr, ifc->ip6, 16);
	memcpy(ip6->dst_addr, src, 16);
	icmp->type = md->icmp_type;
	icmp->code = md->icmp_code;
	icmp->unused = 0;
	if (md->icmp_type == MG_ICMP6_PACKET_TOO_BIG)
		icmp->mtu6 = rte_cpu_to_be_32(md->mtu);
	icmp->cksum = 0;
	icmp->cksum = mg_ip6_l4_cksum(ip6, icmp, plen, MG_IPPROTO_ICMPV6);
	icmp_route(md, ifc);
	w->stats->icmp_sent++;
	return 0;
}

static uint16_t
ip6_icmp_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	return icmp_process(graph, node, objs, nb, icmp6_build);
}

static struct rte_node_register ip6_icmp_node = {
	.name = "ip6-icmp-error",
	.process = ip6_icmp_process,
	.init = mg_node_init,
	.nb_edges = 3,
	.next_nodes = {
		[ICMP_NEXT_LOOKUP] = "ip6-lookup",
		[ICMP_NEXT_DROP] = "drop",
		[ICMP_NEXT_NAT] = "nat",
	},
};
RTE_NODE_REGISTER(ip6_icmp_node);
