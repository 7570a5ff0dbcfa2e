/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * VXLAN tunnel nodes (see mg_vxlan.h for the picture):
 *  - vxlan-encap: frames port-tx found addressed to a virtual port (a VXLAN
 *    interface; inner Ethernet header already written by the neighbor
 *    rewrite, or an ARP/ND frame of the main lcore) get the outer IP, UDP
 *    and VXLAN headers and go to ip4/ip6-lookup in the tunnel's underlay as
 *    the gateway's own packets.
 *  - vxlan-input: UDP to a VXLAN port addressed to the gateway, from
 *    ipX-local; the tunnel is found by underlay network, VTEP addresses,
 *    port and VNI; the inner frame goes to eth-input as received on the
 *    tunnel's interface.
 */
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "mg_vxlan.h"
#include "nodes_priv.h"

enum { VXE_NEXT_IP4 = 0, VXE_NEXT_IP6, VXE_NEXT_DROP };
enum { VXI_NEXT_ETH = 0, VXI_NEXT_DROP };

/*
 * Outer UDP source port: a hash of the inner flow (addresses, protocol,
 * ports) in the dynamic range, so ECMP in the underlay keeps a flow on one
 * path and spreads flows (RFC 7348 5). Frames that are not IP hash their MACs.
 */
/*
 * CRC-32C of @p n8 8-byte words at @p p, any alignment (rte_hash_crc()
 * loads through uint64_t pointers: undefined on packet data).
 */
static inline uint32_t
crc_words(const uint8_t *p, unsigned int n8, uint32_t h)
{
	for (unsigned int i = 0; i < n8; i++) {
		uint64_t v;

		memcpy(&v, p + 8 * i, 8);
		h = rte_hash_crc_8byte(v, h);
	}
	return h;
}

/* The first 4 bytes at @p p (the L4 ports), any alignment. */
static inline uint32_t
load32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static inline rte_be16_t
flow_port(const uint8_t *f, uint32_t len)
{
	uint16_t et = (uint16_t)(f[12] << 8 | f[13]);
	uint32_t h;

	if (et == RTE_ETHER_TYPE_IPV4 && len >= 14 + 20) {
		const uint8_t *ip = f + 14;
		uint32_t hl = (ip[0] & 0xfu) * 4u;

		h = crc_words(ip + 12, 1, ip[9]);
		if ((ip[9] == MG_IPPROTO_TCP || ip[9] == MG_IPPROTO_UDP) &&
		    !(ip[6] & 0x3f) && !ip[7] && len >= 14 + hl + 4)
			h = rte_hash_crc_4byte(load32(ip + hl), h);
	} else if (et == RTE_ETHER_TYPE_IPV6 && len >= 14 + 40) {
		const uint8_t *ip = f + 14;

		h = crc_words(ip + 8, 4, ip[6]);
		if ((ip[6] == MG_IPPROTO_TCP || ip[6] == MG_IPPROTO_UDP) && len >= 14 + 40 + 4)
			h = rte_hash_crc_4byte(load32(ip + 40), h);
	} else {
		h = rte_hash_crc_4byte(load32(f + 8), crc_words(f, 1, 0));
	}
	return rte_cpu_to_be_16((uint16_t)(MG_VXLAN_SPORT_MIN + ((h ^ (h >> 16)) & 0x3fff)));
}

static inline uint16_t
encap_one(struct mg_worker *w, const struct mg_vxlan *vx, struct mg_vxlan_counters *cnt,
	  struct rte_mbuf *m)
{
	const uint16_t ifx = m->port ^ MG_PORT_VIRT;
	const struct mg_vxlan_tun *t = vx != NULL ? mg_vxlan_tun(vx, ifx) : NULL;
	struct mg_meta *md = mg_meta(m);
	const uint32_t inner = m->pkt_len;
	struct mg_vxlan_hdr *vh;
	struct rte_udp_hdr *udp;
	rte_be16_t sport;
	uint8_t *p;

	if (unlikely(t == NULL)) {
		if (cnt != NULL && ifx < MG_MAX_IFACES)
			cnt[ifx].tx_errors++;
		md->drop = MG_DROP_PORT_DOWN;
		return VXE_NEXT_DROP;
	}
	if (unlikely(m->data_len < RTE_ETHER_HDR_LEN)) {
		cnt[ifx].tx_errors++;
		md->drop = MG_DROP_ETH_TRUNCATED;
		return VXE_NEXT_DROP;
	}
	sport = flow_port(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len);
	p = (uint8_t *)rte_pktmbuf_prepend(m, t->family == AF_INET ? MG_VXLAN_OVERHEAD4
								    : MG_VXLAN_OVERHEAD6);
	if (unlikely(p == NULL)) {
		cnt[ifx].tx_errors++;
		md->drop = MG_DROP_NO_MBUF;
		return VXE_NEXT_DROP;
	}
	if (t->family == AF_INET) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)p;

		ip->version_ihl = RTE_IPV4_VHL_DEF;
		ip->type_of_service = 0;
		ip->total_length = rte_cpu_to_be_16((uint16_t)(MG_VXLAN_OVERHEAD4 + inner));
		ip->packet_id = rte_cpu_to_be_16(w->ip4_id++);
		ip->fragment_offset = 0; /* DF clear: the underlay may fragment (as Linux does) */
		ip->time_to_live = MG_VXLAN_TTL;
		ip->next_proto_id = MG_IPPROTO_UDP;
		memcpy(&ip->src_addr, t->local, 4);
		memcpy(&ip->dst_addr, t->remote, 4);
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		udp = (struct rte_udp_hdr *)(ip + 1);
	} else {
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)p;

		ip6->vtc_flow = RTE_BE32(6u << 28);
		ip6->payload_len = rte_cpu_to_be_16((uint16_t)(8 + MG_VXLAN_HLEN + inner));
		ip6->proto = MG_IPPROTO_UDP;
		ip6->hop_limits = MG_VXLAN_TTL;
		memcpy(ip6->src_addr, t->local, 16);
		memcpy(ip6->dst_addr, t->remote, 16);
		udp = (struct rte_udp_hdr *)(ip6 + 1);
	}
	udp->src_port = sport;
	udp->dst_port = t->port_be;
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(8 + MG_VXLAN_HLEN + inner));
	udp->dgram_cksum = 0;
	vh = (struct mg_vxlan_hdr *)(udp + 1);
	vh->flags = MG_VXLAN_FLAG_I;
	vh->rsvd[0] = vh->rsvd[1] = vh->rsvd[2] = 0;
	vh->vni_rsvd = t->vni_be;
	if (t->family == AF_INET6) {
		/* IPv6 needs the UDP checksum (RFC 8200 8.1; Linux drops zero ones by default). */
		uint16_t ck = mg_ip6_l4_cksum((const struct rte_ipv6_hdr *)p, udp,
					      8 + MG_VXLAN_HLEN + inner, MG_IPPROTO_UDP);

		udp->dgram_cksum = ck == 0 ? 0xffff : ck;
	}
	m->ol_flags = 0;
	md->net = t->underlay;
	md->flags = (uint8_t)((md->flags & MG_META_CAPTURE) | MG_META_LOCAL | MG_META_L3);
	cnt[ifx].tx_pkts++;
	cnt[ifx].tx_bytes += inner;
	return t->family == AF_INET ? VXE_NEXT_IP4 : VXE_NEXT_IP6;
}

static uint16_t
vxlan_encap_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct mg_node_ctx *c = mg_ctx(node);
	const struct mg_vxlan *vx = __atomic_load_n(&c->dp->vxlan, __ATOMIC_ACQUIRE);
	struct mg_vxlan_counters *cnt = vx != NULL ? vx->cnt[c->w->index] : NULL;
	uint16_t nexts[MG_VEC];

	for (uint16_t base = 0; base < nb; base += MG_VEC) {
		uint16_t n = RTE_MIN((uint16_t)(nb - base), (uint16_t)MG_VEC);
		void **o = objs + base;

		for (uint16_t i = 0; i < n; i++) {
			mg_prefetch(o, i, n);
			nexts[i] = encap_one(c->w, vx, cnt, o[i]);
		}
		mg_dispatch(graph, node, o, nexts, n);
	}
	return nb;
}

static struct rte_node_register vxlan_encap_node = {
	.name = "vxlan-encap",
	.process = vxlan_encap_process,
	.init = mg_node_init,
	.nb_edges = 3,
	.next_nodes = {
		[VXE_NEXT_IP4] = "ip4-lookup",
		[VXE_NEXT_IP6] = "ip6-lookup",
		[VXE_NEXT_DROP] = "drop",
	},
};
RTE_NODE_REGISTER(vxlan_encap_node);

/* ---- vxlan-input ------------------------------------------------------------------ */

static inline uint16_t
input_one(const struct mg_vxlan_list *l, struct mg_vxlan_counters *cnt, struct rte_mbuf *m)
{
	const uint8_t *ip = rte_pktmbuf_mtod(m, const uint8_t *);
	struct mg_meta *md = mg_meta(m);
	const struct mg_vxlan_tun *t;
	const struct rte_udp_hdr *udp;
	const struct mg_vxlan_hdr *vh;
	uint32_t off, len;
	rte_be32_t vni;
	uint8_t family;

	if ((ip[0] >> 4) == 4) {
		off = (ip[0] & 0xfu) * 4u;
		len = rte_be_to_cpu_16(((const struct rte_ipv4_hdr *)ip)->total_length);
		family = AF_INET;
		if (unlikely(ip[9] != MG_IPPROTO_UDP))
			goto bad;
	} else {
		off = MG_IP6_HLEN;
		len = MG_IP6_HLEN + rte_be_to_cpu_16(((const struct rte_ipv6_hdr *)ip)->payload_len);
		family = AF_INET6;
		if (unlikely(ip[6] != MG_IPPROTO_UDP)) /* no extension headers before UDP */
			goto bad;
	}
	if (unlikely(len > m->data_len || len < off + 8 + MG_VXLAN_HLEN + RTE_ETHER_HDR_LEN))
		goto bad;
	udp = (const struct rte_udp_hdr *)(ip + off);
	vh = (const struct mg_vxlan_hdr *)(udp + 1);
	if (unlikely(!(vh->flags & MG_VXLAN_FLAG_I)))
		goto bad;
	vni = vh->vni_rsvd & RTE_BE32(0xffffff00);
	if (family == AF_INET)
		t = mg_vxlan_lookup(l, md->net, family, udp->dst_port, vni, ip + 12, ip + 16, 4);
	else
		t = mg_vxlan_lookup(l, md->net, family, udp->dst_port, vni, ip + 8, ip + 24, 16);
	if (unlikely(t == NULL)) {
		md->drop = MG_DROP_VXLAN_NO_TUNNEL;
		return VXI_NEXT_DROP;
	}
	if (len < m->pkt_len)
		rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - len));
	rte_pktmbuf_adj(m, (uint16_t)(off + 8 + MG_VXLAN_HLEN));
	/* The inner frame, as received on the tunnel's interface. */
	m->port = MG_PORT_VIRT ^ t->ifindex;
	m->ol_flags = 0;
	m->packet_type = 0;
	cnt[t->ifindex].rx_pkts++;
	cnt[t->ifindex].rx_bytes += m->pkt_len;
	return VXI_NEXT_ETH;
bad:
	md->drop = MG_DROP_VXLAN_BAD;
	return VXI_NEXT_DROP;
}

static uint16_t
vxlan_input_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct mg_node_ctx *c = mg_ctx(node);
	const struct mg_vxlan *vx = __atomic_load_n(&c->dp->vxlan, __ATOMIC_ACQUIRE);
	uint16_t nexts[MG_VEC];

	if (unlikely(vx == NULL)) {
		for (uint16_t i = 0; i < nb; i++)
			mg_set_drop(objs[i], MG_DROP_VXLAN_NO_TUNNEL);
		rte_node_enqueue(graph, node, VXI_NEXT_DROP, objs, nb);
		return nb;
	}
	const struct mg_vxlan_list *l = __atomic_load_n(&vx->list, __ATOMIC_ACQUIRE);
	struct mg_vxlan_counters *cnt = vx->cnt[c->w->index];

	for (uint16_t base = 0; base < nb; base += MG_VEC) {
		uint16_t n = RTE_MIN((uint16_t)(nb - base), (uint16_t)MG_VEC);
		void **o = objs + base;

		for (uint16_t i = 0; i < n; i++) {
			mg_prefetch(o, i, n);
			nexts[i] = input_one(l, cnt, o[i]);
		}
		mg_dispatch(graph, node, o, nexts, n);
	}
	return nb;
}

static struct rte_node_register vxlan_input_node = {
	.name = "vxlan-input",
	.process = vxlan_input_process,
	.init = mg_node_init,
	.nb_edges = 2,
	.next_nodes = {
		[VXI_NEXT_ETH] = "eth-input",
		[VXI_NEXT_DROP] = "drop",
	},
};
RTE_NODE_REGISTER(vxlan_input_node);
