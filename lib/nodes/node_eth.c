/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * eth-input: maps (port, VLAN) to an interface, checks the destination MAC,
 * validates the IPv4 or IPv6 header (RFC 1812 5.2.2; the extension header
 * chain; the network's policy on options and fragments), strips the L2
 * header and hands the packet to ip4-lookup / ip6-lookup. ARP and ICMPv6
 * neighbor discovery go to the main lcore.
 *
 * L2 and L3 input are one node: on the forwarding path one always follows
 * the other, and a node boundary costs a pass over the whole vector.
 */
#include "mg_parse.h"
#include "mg_espgw.h"
#include "nodes_priv.h"

/* Resolve the interface of a frame; caches the last answer per burst. */
struct eth_cache {
	uint16_t port;
	uint16_t vlan;
	uint16_t ifx;
	const struct mg_dp_iface *ifc;
	struct mg_if_counters *ifcs; /* the worker's per-interface counters */
	uint64_t bytes;    /* received on the cached interface since the last flush */
	uint32_t pkts;
	/* Where the interface's network sends IPv4 and IPv6 that ipX-input let
	 * through (eth_net_next): read once per interface and node call. */
	uint16_t next[2];
};

/* Add what was counted for the cached interface to the worker's counters. */
static inline void
eth_bytes_flush(struct mg_lcore_stats *st, struct eth_cache *cc)
{
	if (cc->pkts) {
		struct mg_if_counters *ic = &cc->ifcs[cc->ifx];

		if (likely(cc->port < MG_MAX_PORTS)) /* not a VXLAN interface's virtual port */
			st->rx_bytes[cc->port] += cc->bytes;
		ic->rx_pkts += cc->pkts;
		ic->rx_bytes += cc->bytes;
		cc->bytes = 0;
		cc->pkts = 0;
	}
}

/* Bytes received on @p port but on no interface (virtual ports have no port counters). */
static inline void
eth_port_bytes(struct mg_lcore_stats *st, uint16_t port, uint32_t bytes)
{
	if (likely(port < MG_MAX_PORTS))
		st->rx_bytes[port] += bytes;
}

/*
 * Where network @net sends a packet of family @fam (0 IPv4, 1 IPv6) that
 * passed ipX-input: replies of translated flows arrive here (lib/natgw), so
 * nat first; then ipX-classify when the network has rules for the family or
 * tracks its flows; else ipX-lookup. eth_iface asks once per interface and
 * node call, not per packet: the tables behind these pointers are published
 * between graph walks anyway.
 */
static inline uint16_t
eth_net_next(const struct mg_dp *dp, uint16_t net, unsigned int fam)
{
	if (unlikely(__atomic_load_n(&dp->nat_net[net], __ATOMIC_RELAXED)))
		return ETH_NEXT_NAT;
	if (mg_net_classifies(dp, net, fam))
		return (uint16_t)(ETH_NEXT_CLS4 + fam);
	return (uint16_t)(ETH_NEXT_IP4 + fam);
}

static inline const struct mg_dp_iface *
eth_iface(const struct mg_dp *dp, struct mg_lcore_stats *st, struct eth_cache *cc,
	  uint16_t port, uint16_t vlan, enum mg_drop *why)
{
	uint16_t ifx;

	if (likely(cc->ifc != NULL && cc->port == port && cc->vlan == vlan))
		return cc->ifc;
	eth_bytes_flush(st, cc);
	if (unlikely(mg_port_virtual(port))) {
		/* Decapsulated by vxlan-input: the port names the interface. */
		const struct mg_dp_iface *v = mg_dp_iface(dp, port ^ MG_PORT_VIRT);

		*why = vlan ? MG_DROP_ETH_UNKNOWN_VLAN : MG_DROP_ETH_NO_IFACE;
		ifx = vlan == 0 && v != NULL && v->port == port ? port ^ MG_PORT_VIRT : MG_IF_NONE;
	} else if (vlan == 0) {
		ifx = __atomic_load_n(&dp->port_if[port], __ATOMIC_ACQUIRE);
		*why = MG_DROP_ETH_NO_IFACE;
	} else {
		const uint16_t *map = __atomic_load_n(&dp->vlan_if[port], __ATOMIC_ACQUIRE);

		ifx = map ? __atomic_load_n(&map[vlan], __ATOMIC_ACQUIRE) : MG_IF_NONE;
		*why = MG_DROP_ETH_UNKNOWN_VLAN;
	}
	if (ifx == MG_IF_NONE)
		return NULL;
	cc->ifc = mg_dp_iface(dp, ifx);
	cc->port = port;
	cc->vlan = vlan;
	cc->ifx = ifx;
	if (likely(cc->ifc != NULL)) {
		cc->next[0] = eth_net_next(dp, cc->ifc->net, 0);
		cc->next[1] = eth_net_next(dp, cc->ifc->net, 1);
	}
	return cc->ifc;
}


/* IPv4 input checks on a packet whose L2 header is already stripped. */
static __rte_always_inline uint16_t
ip4_input(const struct mg_dp *dp, struct mg_lcore_stats *st, struct rte_mbuf *m,
	  struct mg_meta *md)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	struct mg_ip4_info info;
	enum mg_drop why = mg_parse_ip4(ip, m->pkt_len, m->ol_flags, &info);

	if (unlikely(why != MG_DROP_NONE)) {
		md->drop = (uint8_t)why;
		return ETH_NEXT_DROP;
	}
	/* One byte each, tested apart: gcc otherwise merges the two into a
	 * 16-bit load of the stack copy that cannot forward from the two byte
	 * stores just made (a store-forwarding stall per packet). */
	if (unlikely(info.options) || unlikely(info.fragment)) {
		const struct mg_dp_net *net = mg_dp_net(dp, md->net);
		uint32_t flags = net ? net->flags : 0;

		if (info.options) {
			if (flags & MG_NET_DROP_IP_OPTIONS) {
				md->drop = MG_DROP_IP4_OPTIONS;
				return ETH_NEXT_DROP;
			}
			st->ip4_options++;
		}
		if (info.fragment) {
			if (flags & MG_NET_DROP_FRAGMENTS) {
				md->drop = MG_DROP_IP4_FRAGMENT;
				return ETH_NEXT_DROP;
			}
			st->ip4_fragments++;
		}
	}
	if (unlikely(m->pkt_len > info.tot))
		rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - info.tot)); /* Ethernet padding */
	return ETH_NEXT_IP4;
}

/* IPv6 input checks on a packet whose L2 header is already stripped. */
static __rte_always_inline uint16_t
ip6_input(const struct mg_dp *dp, struct mg_lcore_stats *st, struct rte_mbuf *m,
	  struct mg_meta *md, const struct mg_dp_iface *ifc)
{
	const uint8_t *pkt = rte_pktmbuf_mtod(m, const uint8_t *);
	struct mg_ip6_info info;
	enum mg_drop why = mg_parse_ip6(pkt, m->pkt_len, &info);

	if (unlikely(why != MG_DROP_NONE)) {
		md->drop = (uint8_t)why;
		return ETH_NEXT_DROP;
	}
	if (unlikely(m->pkt_len > info.tot))
		rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - info.tot)); /* Ethernet padding */
	if (info.nd) {
		md->punt = MG_PUNT_ND;
		return ETH_NEXT_PUNT;
	}
	if (unlikely(info.fragment)) {
		const struct mg_dp_net *net = mg_dp_net(dp, md->net);

		if (net != NULL && (net->flags & MG_NET_DROP_FRAGMENTS)) {
			md->drop = MG_DROP_IP6_FRAGMENT;
			return ETH_NEXT_DROP;
		}
		st->ip6_fragments++;
	}
	/* Link-local: only the receiving interface's own address is valid. */
	if (unlikely(info.link_local_dst) && memcmp(ifc->ip6_ll, pkt + 24, 16) != 0) {
		md->drop = MG_DROP_IP6_LINK_LOCAL;
		return ETH_NEXT_DROP;
	}
	return ETH_NEXT_IP6;
}

/*
 * ESP to one of this gateway's IPv4 tunnel endpoints, in the endpoint's
 * network, not a fragment: what ip4-lookup and ip4-local would send to
 * esp-input (ip4_local_one). True sends it there directly.
 */
static __rte_always_inline bool
esp_local4(const struct mg_espgw_locals *lc, const struct rte_mbuf *m, uint16_t net)
{
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	uint32_t hlen, tot, k;

	if (likely(ip->next_proto_id != MG_IPPROTO_ESP && ip->next_proto_id != MG_IPPROTO_UDP))
		return false;
	/* Forwarded UDP is the common case here: the address first. */
	for (k = 0; k < lc->n; k++)
		if (lc->e[k].addr == ip->dst_addr && lc->e[k].net == net)
			break;
	if (k == lc->n || (ip->fragment_offset & (MG_IP4_MF_BE | MG_IP4_OFF_MASK_BE)))
		return false;
	if (ip->next_proto_id == MG_IPPROTO_UDP) {
		const uint8_t *udp;

		hlen = (ip->version_ihl & 0xf) * 4u;
		tot = rte_be_to_cpu_16(ip->total_length);
		/*
		 * ESP in UDP (RFC 3948) starts with a non-zero SPI: IKE on 4500
		 * (the non-ESP marker, four zero bytes) and NAT keepalives (one
		 * byte) go the long way, where ip4-local hands IKE to its punt.
		 */
		if (tot < hlen + 8 + 4 || m->data_len < hlen + 8 + 4)
			return false;
		udp = (const uint8_t *)ip + hlen;
		if (((const struct rte_udp_hdr *)udp)->dst_port != RTE_BE16(MG_ESP_NATT_PORT) ||
		    (udp[8] | udp[9] | udp[10] | udp[11]) == 0)
			return false;
	}
	return true;
}

/*
 * ESP to one of this gateway's IPv6 tunnel endpoints, in the endpoint's
 * network, right after the fixed header (no extension header, so no
 * fragment): what ip6-lookup and ip6-local would send to esp-input
 * (ip6_local_one). True sends it there directly.
 */
static __rte_always_inline bool
esp_local6(const struct mg_espgw_locals *lc, const struct rte_mbuf *m, uint16_t net)
{
	const struct rte_ipv6_hdr *ip6 = rte_pktmbuf_mtod(m, const struct rte_ipv6_hdr *);
	uint32_t k;

	if (likely(ip6->proto != MG_IPPROTO_ESP && ip6->proto != MG_IPPROTO_UDP))
		return false;
	for (k = 0; k < lc->n6; k++)
		if (lc->e6[k].net == net && memcmp(lc->e6[k].addr, ip6->dst_addr, 16) == 0)
			break;
	if (k == lc->n6)
		return false;
	if (ip6->proto == MG_IPPROTO_UDP) {
		const uint8_t *udp = (const uint8_t *)(ip6 + 1);

		/* As esp_local4: IKE (non-ESP marker) and keepalives take the long way. */
		if (rte_be_to_cpu_16(ip6->payload_len) < 8 + 4 || m->data_len < sizeof(*ip6) + 8 + 4)
			return false;
		if (((const struct rte_udp_hdr *)udp)->dst_port != RTE_BE16(MG_ESP_NATT_PORT) ||
		    (udp[8] | udp[9] | udp[10] | udp[11]) == 0)
			return false;
	}
	return true;
}

static __rte_always_inline uint16_t
eth_one(const struct mg_dp *dp, struct mg_lcore_stats *st, struct eth_cache *cc,
	struct rte_mbuf *m, const struct mg_espgw_locals *lc)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct mg_meta *md = mg_meta(m);
	const struct mg_dp_iface *ifc;
	struct mg_eth_info ei;
	enum mg_drop why;
	uint16_t next;

	md->flags = 0;
	if (unlikely(m->nb_segs != 1)) {
		eth_port_bytes(st, m->port, m->pkt_len);
		md->rx_if = MG_IF_NONE;
		md->drop = MG_DROP_ETH_MULTISEG;
		return ETH_NEXT_DROP;
	}
	why = mg_parse_eth((const uint8_t *)eth, m->data_len, &ei);
	if (unlikely(why != MG_DROP_NONE)) {
		eth_port_bytes(st, m->port, m->pkt_len);
		md->rx_if = MG_IF_NONE;
		md->drop = (uint8_t)why;
		return ETH_NEXT_DROP;
	}
	ifc = eth_iface(dp, st, cc, m->port, ei.vlan, &why);
	if (unlikely(ifc == NULL)) {
		eth_port_bytes(st, m->port, m->pkt_len);
		md->rx_if = MG_IF_NONE;
		md->drop = (uint8_t)why;
		return ETH_NEXT_DROP;
	}
	cc->bytes += m->pkt_len;
	cc->pkts++;
	/* Before any drop: the drop node charges it to this interface. */
	md->rx_if = cc->ifx;
	if (unlikely(!rte_is_multicast_ether_addr(&eth->dst_addr) &&
		     !rte_is_same_ether_addr(&eth->dst_addr, &ifc->mac))) {
		md->drop = MG_DROP_ETH_NOT_FOR_US;
		return ETH_NEXT_DROP;
	}
	md->net = ifc->net;
	if (likely(ei.type == MG_ETH_IPV4_BE)) {
		rte_pktmbuf_adj(m, ei.l2_len);
		md->flags = MG_META_L3;
		next = ip4_input(dp, st, m, md);
		if (likely(next == ETH_NEXT_IP4))
			next = cc->next[0];
		if (unlikely(lc != NULL) && next == ETH_NEXT_IP4 && esp_local4(lc, m, md->net))
			next = ETH_NEXT_ESP;
		return next;
	}
	/* ND and ARP handling on the main lcore read the frame's MACs. */
	m->l2_len = ei.l2_len;
	if (ei.type == MG_ETH_IPV6_BE) {
		rte_pktmbuf_adj(m, ei.l2_len);
		md->flags = MG_META_L3;
		next = ip6_input(dp, st, m, md, ifc);
		if (likely(next == ETH_NEXT_IP6))
			next = cc->next[1];
		if (unlikely(lc != NULL) && next == ETH_NEXT_IP6 && esp_local6(lc, m, md->net))
			next = ETH_NEXT_ESP;
		return next;
	}
	if (ei.type == MG_ETH_ARP_BE) {
		md->punt = MG_PUNT_ARP;
		return ETH_NEXT_PUNT;
	}
	md->drop = MG_DROP_ETH_UNKNOWN_TYPE;
	return ETH_NEXT_DROP;
}

static uint16_t
eth_input_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct mg_node_ctx *c = mg_ctx(node);
	struct mg_lcore_stats *st = c->w->stats;
	struct eth_cache cc = {.ifc = NULL, .ifcs = c->w->ifc, .bytes = 0, .pkts = 0};
	const struct mg_espgw *eg = __atomic_load_n(&c->dp->esp, __ATOMIC_ACQUIRE);
	const struct mg_espgw_locals *lc = eg != NULL ?
		__atomic_load_n(&eg->locals, __ATOMIC_ACQUIRE) : NULL;
	uint16_t nexts[MG_VEC];

	for (uint16_t base = 0; base < nb; base += MG_VEC) {
		uint16_t n = RTE_MIN((uint16_t)(nb - base), (uint16_t)MG_VEC);
		void **o = objs + base;
		uint16_t i = 0;

		for (; i + 4 <= n; i += 4) {
			mg_prefetch(o, i, n);
			mg_prefetch(o, i + 1, n);
			mg_prefetch(o, i + 2, n);
			mg_prefetch(o, i + 3, n);
			nexts[i] = eth_one(c->dp, st, &cc, o[i], lc);
			nexts[i + 1] = eth_one(c->dp, st, &cc, o[i + 1], lc);
			nexts[i + 2] = eth_one(c->dp, st, &cc, o[i + 2], lc);
			nexts[i + 3] = eth_one(c->dp, st, &cc, o[i + 3], lc);
		}
		for (; i < n; i++)
			nexts[i] = eth_one(c->dp, st, &cc, o[i], lc);
		mg_dispatch(graph, node, o, nexts, n);
	}
	eth_bytes_flush(st, &cc);
	return nb;
}

static struct rte_node_register eth_input_node = {
	.name = "eth-input",
	.process = eth_input_process,
	.init = mg_node_init,
	.nb_edges = ETH_NEXT_COUNT,
	.next_nodes = {
		[ETH_NEXT_ESP] = "esp-input",
		[ETH_NEXT_IP4] = "ip4-lookup",
		[ETH_NEXT_IP6] = "ip6-lookup",
		[ETH_NEXT_PUNT] = "punt",
		[ETH_NEXT_DROP] = "drop",
		[ETH_NEXT_CLS4] = "ip4-classify",
		[ETH_NEXT_CLS6] = "ip6-classify",
		[ETH_NEXT_NAT] = "nat",
	},
};
RTE_NODE_REGISTER(eth_input_node);
