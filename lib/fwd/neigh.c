/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Neighbor resolution on the main lcore: ARP (RFC 826) and IPv6 neighbor
 * discovery (RFC 4861, the parts a router needs: answering NS for its
 * addresses, resolving next hops with NS, learning from NA).
 *
 * Each neighbor owns one adjacency. Its rewrite is INCOMPLETE (workers punt
 * packets here, where a few are held while we probe), COMPLETE (workers
 * forward) or FAILED (workers answer ICMP unreachable).
 *
 *   INCOMPLETE --answer--> REACHABLE --reachable_ms--> PROBE --answer--> REACHABLE
 *       |  probes exhausted                               | probes exhausted
 *       v                                                 v
 *     FAILED --failed_ms--> (deleted, or INCOMPLETE and idle if routes use it)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>

#include "fwd_priv.h"
#include "mg_proto.h"

RTE_LOG_REGISTER_SUFFIX(mg_neigh_logtype, neigh, INFO);
#define NB_LOG(l, ...) rte_log(RTE_LOG_##l, mg_neigh_logtype, "neigh: " __VA_ARGS__)

static struct mg_lcore_stats *
st_main(struct mg_fwd *f)
{
	return &f->dp->stats[rte_lcore_id()];
}

static void
drop_pkt(struct mg_fwd *f, struct rte_mbuf *m, enum mg_drop why)
{
	st_main(f)->drops[why]++;
	rte_pktmbuf_free(m);
}

const char *
mg_fwd_neigh_state_name(enum mg_nbr_state s)
{
	switch (s) {
	case MG_NBR_INCOMPLETE: return "incomplete";
	case MG_NBR_REACHABLE: return "reachable";
	case MG_NBR_PROBE: return "probe";
	case MG_NBR_FAILED: return "failed";
	case MG_NBR_STATIC: return "static";
	}
	return "?";
}

int
fwd_neigh_init(struct mg_fwd *f)
{
	uint32_t n = f->conf.max_neighbors;

	f->nbrs = calloc(n, sizeof(*f->nbrs));
	f->nbr_free = malloc(n * sizeof(uint32_t));
	f->adj_nbr = calloc(f->dp->conf.max_adjacencies, sizeof(uint32_t));
	f->nbr_idx = mg_hmap_create(sizeof(struct mg_addr_key), 256);
	if (f->nbrs == NULL || f->nbr_free == NULL || f->adj_nbr == NULL || f->nbr_idx == NULL)
		return -ENOMEM;
	for (uint32_t i = n; i > 0; i--)
		f->nbr_free[f->nbr_nfree++] = i - 1;
	return 0;
}

void
fwd_neigh_fini(struct mg_fwd *f)
{
	if (f->nbrs != NULL)
		for (uint32_t i = 0; i < f->conf.max_neighbors; i++)
			for (uint16_t j = 0; j < f->nbrs[i].nheld; j++)
				rte_pktmbuf_free(f->nbrs[i].held[j]);
	free(f->nbrs);
	free(f->nbr_free);
	free(f->adj_nbr);
	mg_hmap_destroy(f->nbr_idx);
}

struct nbr *
fwd_nbr_find(struct mg_fwd *f, uint16_t ifindex, const struct mg_ip *ip)
{
	struct mg_addr_key k = mg_ip_key(ifindex, ip);
	uint32_t idx;

	if (!mg_hmap_get(f->nbr_idx, &k, &idx))
		return NULL;
	return &f->nbrs[idx];
}

static void
timer_at(struct mg_fwd *f, struct nbr *n, uint64_t t)
{
	n->next_ns = t;
	if (t != 0 && (f->next_timer_ns == 0 || t < f->next_timer_ns))
		f->next_timer_ns = t;
}

/* Install @n's host route (not for link-local addresses, which no FIB routes). */
static void
nbr_host_route(struct mg_fwd *f, struct nbr *n)
{
	struct mg_prefix hp = {.addr = n->ip, .len = mg_ip_maxlen(&n->ip)};

	if (!n->host_route && !mg_ip_is_link_local(&n->ip))
		n->host_route = fwd_rib_add(f, n->net, &hp, MG_RIB_HOST, n->adj) == 0;
}

static struct nbr *
nbr_create(struct mg_fwd *f, uint16_t ifindex, const struct mg_ip *ip, struct mg_error *err)
{
	struct fwd_iface *ifc = fwd_iface(f, ifindex);
	struct mg_addr_key k = mg_ip_key(ifindex, ip);
	struct nbr *n;
	uint32_t idx, adj;

	if (ifc == NULL) {
		mg_error_set(err, ENOENT, "interface", "interface %u is not up", ifindex);
		return NULL;
	}
	if (f->nbr_nfree == 0) {
		mg_error_set(err, ENOSPC, "", "neighbor table full (limits.neighbors = %u)",
			     f->conf.max_neighbors);
		return NULL;
	}
	adj = mg_dp_adj_alloc(f->dp, MG_ADJ_NEIGHBOR, ip->family, ifindex);
	if (adj == 0) {
		mg_error_set(err, ENOSPC, "", "adjacency table full (limits.adjacencies = %u)",
			     f->dp->conf.max_adjacencies);
		return NULL;
	}
	idx = f->nbr_free[--f->nbr_nfree];
	if (mg_hmap_put(f->nbr_idx, &k, idx) < 0) {
		f->nbr_free[f->nbr_nfree++] = idx;
		mg_dp_adj_free(f->dp, adj);
		mg_error_set(err, ENOMEM, "", "out of memory");
		return NULL;
	}
	n = &f->nbrs[idx];
	memset(n, 0, sizeof(*n));
	n->used = true;
	n->ifindex = ifindex;
	n->net = ifc->net;
	n->ip = *ip;
	n->adj = adj;
	n->state = MG_NBR_INCOMPLETE;
	f->adj_nbr[adj] = idx + 1;
	f->nbr_count++;
	/* On-link neighbors get a host route so forwarding to them is one lookup. */
	if (fwd_iface_subnet_of(ifc, ip) != NULL)
		nbr_host_route(f, n);
	return n;
}

static void
nbr_destroy(struct mg_fwd *f, struct nbr *n)
{
	struct mg_addr_key k = mg_ip_key(n->ifindex, &n->ip);

	if (n->host_route) {
		struct mg_prefix hp = {.addr = n->ip, .len = mg_ip_maxlen(&n->ip)};

		/* The FIB stops returning the adjacency; its free below is deferred. */
		fwd_rib_del(f, n->net, &hp, MG_RIB_HOST);
	}
	for (uint16_t i = 0; i < n->nheld; i++)
		drop_pkt(f, n->held[i], MG_DROP_NEIGH_FAILED);
	f->held_total -= n->nheld;
	n->nheld = 0;
	f->adj_nbr[n->adj] = 0;
	mg_dp_adj_free(f->dp, n->adj);
	mg_hmap_del(f->nbr_idx, &k);
	n->used = false;
	f->nbr_free[f->nbr_nfree++] = (uint32_t)(n - f->nbrs);
	f->nbr_count--;
}

uint32_t
mg_fwd_neigh_count(const struct mg_fwd *f)
{
	return f->nbr_count;
}

/* ---- packet building ------------------------------------------------------------- */

static struct rte_mbuf *
frame_alloc(struct mg_fwd *f, const struct fwd_iface *ifc, const uint8_t *dst_mac,
	    uint16_t etype, uint16_t l3len, uint8_t **l3)
{
	struct rte_mempool *pool = mg_dp_pool(f->dp, (int)rte_socket_id());
	struct rte_mbuf *m = pool ? rte_pktmbuf_alloc(pool) : NULL;
	uint16_t l2 = ifc->vlan ? 18 : 14;
	uint8_t *p;

	if (m == NULL) {
		st_main(f)->drops[MG_DROP_NO_MBUF]++;
		return NULL;
	}
	p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(l2 + l3len));
	if (p == NULL) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	memcpy(p, dst_mac, 6);
	memcpy(p + 6, &ifc->mac, 6);
	if (ifc->vlan) {
		rte_be16_t tpid = MG_ETH_VLAN_BE, tci = rte_cpu_to_be_16(ifc->vlan);

		memcpy(p + 12, &tpid, 2);
		memcpy(p + 14, &tci, 2);
	}
	etype = rte_cpu_to_be_16(etype);
	memcpy(p + l2 - 2, &etype, 2);
	*l3 = p + l2;
	m->port = ifc->port;
	mg_meta(m)->punt = MG_INJECT_TX;
	mg_meta(m)->rx_if = MG_IF_NONE;
	return m;
}

static void
arp_send(struct mg_fwd *f, const struct fwd_iface *ifc, uint16_t op, const uint8_t *eth_dst,
	 const uint8_t *tha, rte_be32_t spa, rte_be32_t tpa)
{
	static const uint8_t zero[6];
	struct mg_arp *a;
	struct rte_mbuf *m = frame_alloc(f, ifc, eth_dst, MG_ETH_ARP, sizeof(*a), (uint8_t **)&a);

	if (m == NULL)
		return;
	a->htype = RTE_BE16(1);
	a->ptype = MG_ETH_IPV4_BE;
	a->hlen = 6;
	a->plen = 4;
	a->op = rte_cpu_to_be_16(op);
	memcpy(a->sha, &ifc->mac, 6);
	a->spa = spa;
	memcpy(a->tha, tha ? tha : zero, 6);
	a->tpa = tpa;
	st_main(f)->arp_tx++;
	mg_dp_inject(f->dp, m);
}

/* Source address for a packet to @dst on @ifc: one in its subnet, else the primary. */
static const struct mg_ip *
src_for(const struct fwd_iface *ifc, const struct mg_ip *dst)
{
	const struct mg_prefix *p;

	if (dst->family == AF_INET6 && mg_ip_is_link_local(dst))
		return &ifc->ll6;
	p = fwd_iface_subnet_of(ifc, dst);
	if (p != NULL)
		return &p->addr;
	if (dst->family == AF_INET)
		return ifc->n4 ? &ifc->a4[0].addr : NULL;
	return ifc->n6 ? &ifc->a6[0].addr : &ifc->ll6;
}

/* Send an ND message (NS or NA) with a link-layer address option. */
static void
nd_send(struct mg_fwd *f, const struct fwd_iface *ifc, uint8_t type, uint8_t flags,
	const uint8_t *eth_dst, const uint8_t *src, const uint8_t *dst, const uint8_t *target)
{
	const uint16_t plen = sizeof(struct mg_nd_msg) + sizeof(struct mg_nd_opt_lla);
	struct rte_ipv6_hdr *ip6;
	struct mg_nd_msg *nd;
	struct mg_nd_opt_lla *opt;
	struct rte_mbuf *m = frame_alloc(f, ifc, eth_dst, MG_ETH_IPV6, MG_IP6_HLEN + plen,
					 (uint8_t **)&ip6);

	if (m == NULL)
		return;
	ip6->vtc_flow = rte_cpu_to_be_32(6u << 28);
	ip6->payload_len = rte_cpu_to_be_16(plen);
	ip6->proto = MG_IPPROTO_ICMPV6;
	ip6->hop_limits = MG_ND_HOP_LIMIT;
	memcpy(ip6->src_addr, src, 16);
	memcpy(ip6->dst_addr, dst, 16);
	nd = (struct mg_nd_msg *)(ip6 + 1);
	memset(nd, 0, sizeof(*nd));
	nd->type = type;
	nd->flags = flags;
	memcpy(nd->target, target, 16);
	opt = (struct mg_nd_opt_lla *)(nd + 1);
	opt->type = type == MG_ICMP6_ND_NS ? MG_ND_OPT_SLLA : MG_ND_OPT_TLLA;
	opt->len = 1;
	memcpy(opt->mac, &ifc->mac, 6);
	nd->cksum = mg_ip6_l4_cksum(ip6, nd, plen, MG_IPPROTO_ICMPV6);
	st_main(f)->nd_tx++;
	mg_dp_inject(f->dp, m);
}

/* Probe @n: broadcast/multicast when @unicast is false, else to its known MAC. */
static void
nbr_probe(struct mg_fwd *f, struct nbr *n, bool unicast)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	struct fwd_iface *ifc = fwd_iface(f, n->ifindex);
	const struct mg_ip *src;

	if (ifc == NULL)
		return;
	src = src_for(ifc, &n->ip);
	if (n->ip.family == AF_INET) {
		arp_send(f, ifc, MG_ARP_REQUEST, unicast ? n->mac.addr_bytes : bcast, NULL,
			 src ? src->v4 : 0, n->ip.v4);
		return;
	}
	if (unicast) {
		nd_send(f, ifc, MG_ICMP6_ND_NS, 0, n->mac.addr_bytes, src->v6, n->ip.v6, n->ip.v6);
	} else {
		/* Solicited-node multicast ff02::1:ffXX:XXXX and its MAC 33:33:ff:XX:XX:XX. */
		uint8_t sn[16] = {0xff, 0x02, [11] = 0x01, [12] = 0xff};
		uint8_t mac[6] = {0x33, 0x33, 0xff};

		memcpy(sn + 13, n->ip.v6 + 13, 3);
		memcpy(mac + 3, n->ip.v6 + 13, 3);
		nd_send(f, ifc, MG_ICMP6_ND_NS, 0, mac, src->v6, sn, n->ip.v6);
	}
}

/*
 * Announce @ip, one of @ifc's own addresses, with the interface's MAC: a
 * gratuitous ARP request (RFC 5227 3: sender and target address both @ip)
 * or an unsolicited neighbor advertisement to all nodes (RFC 4861 7.2.6:
 * override set, solicited clear; router set), as Linux's arp_notify and
 * ndisc_notify and VPP on interface up do. Neighbors that cached another
 * MAC for the address (a pod restarted on another VF, a memif port's new
 * random MAC) take the new one at once instead of when their entry ages
 * out, which on some routers takes hours. Ethernet interfaces only, once
 * their MAC is known.
 */
void
fwd_announce(struct mg_fwd *f, const struct fwd_iface *ifc, const struct mg_ip *ip)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
	static const uint8_t all_mac[6] = {0x33, 0x33, 0, 0, 0, 1};

	/* Tunnels (WireGuard, ESP) have no port: nothing to announce on. */
	if (!f->conf.announce || ifc->port == MG_IF_NONE || rte_is_zero_ether_addr(&ifc->mac))
		return;
	if (ip->family == AF_INET)
		arp_send(f, ifc, MG_ARP_REQUEST, bcast, NULL, ip->v4, ip->v4);
	else
		nd_send(f, ifc, MG_ICMP6_ND_NA, MG_ND_NA_ROUTER | MG_ND_NA_OVERRIDE, all_mac,
			ip->v6, all_nodes, ip->v6);
}

/* ---- state changes ---------------------------------------------------------------- */

static void
release_held(struct mg_fwd *f, struct nbr *n)
{
	for (uint16_t i = 0; i < n->nheld; i++) {
		struct rte_mbuf *m = n->held[i];

		/* Held packets were received, not originated: flags stay as they came. */
		mg_meta(m)->punt = n->ip.family == AF_INET ? MG_INJECT_IP4 : MG_INJECT_IP6;
		if (mg_dp_inject(f->dp, m) == 0)
			st_main(f)->held_released++;
	}
	f->held_total -= n->nheld;
	n->nheld = 0;
}

static void
drop_held(struct mg_fwd *f, struct nbr *n)
{
	for (uint16_t i = 0; i < n->nheld; i++)
		drop_pkt(f, n->held[i], MG_DROP_NEIGH_FAILED);
	f->held_total -= n->nheld;
	n->nheld = 0;
}

/* An answer from @n with @mac: it is reachable now. */
static void
nbr_confirm(struct mg_fwd *f, struct nbr *n, const uint8_t *mac)
{
	bool changed = memcmp(&n->mac, mac, 6) != 0;
	char b[MG_IP_STRLEN];

	if (n->is_static)
		return;
	if (changed || (n->state != MG_NBR_REACHABLE && n->state != MG_NBR_PROBE)) {
		memcpy(&n->mac, mac, 6);
		mg_dp_adj_set_rewrite(f->dp, n->adj, &n->mac, MG_NS_COMPLETE);
		NB_LOG(DEBUG, "%s on %s is at %02x:%02x:%02x:%02x:%02x:%02x\n",
		       mg_ip_fmt(&n->ip, b, sizeof(b)), f->ifs[n->ifindex].name, mac[0], mac[1],
		       mac[2], mac[3], mac[4], mac[5]);
	}
	n->state = MG_NBR_REACHABLE;
	n->probes = 0;
	n->confirmed_ns = f->now_ns;
	timer_at(f, n, f->now_ns + (uint64_t)f->conf.reachable_ms * 1000000ull);
	release_held(f, n);
}

/* Traffic needs @n: start resolving it if nobody is. */
static void
nbr_kick(struct mg_fwd *f, struct nbr *n)
{
	if (n->state == MG_NBR_INCOMPLETE && n->next_ns == 0) {
		nbr_probe(f, n, false);
		n->probes = 1;
		timer_at(f, n, f->now_ns + (uint64_t)f->conf.retrans_ms * 1000000ull);
	} else if (n->state == MG_NBR_REACHABLE || n->state == MG_NBR_PROBE ||
		   n->state == MG_NBR_STATIC) {
		/* Raced with the answer: the rewrite is complete already. */
		release_held(f, n);
	} else if (n->state == MG_NBR_FAILED) {
		drop_held(f, n);
	}
}

static void
nbr_hold(struct mg_fwd *f, struct nbr *n, struct rte_mbuf *m)
{
	if (n->nheld >= f->conf.hold_packets || f->held_total >= FWD_HELD_CAP) {
		drop_pkt(f, m, MG_DROP_NEIGH_QUEUE);
		return;
	}
	n->held[n->nheld++] = m;
	f->held_total++;
}

struct nbr *
fwd_nbr_get(struct mg_fwd *f, uint16_t ifindex, const struct mg_ip *ip, struct mg_error *err)
{
	struct nbr *n = fwd_nbr_find(f, ifindex, ip);
	bool fresh = false;

	if (n == NULL) {
		n = nbr_create(f, ifindex, ip, err);
		if (n == NULL)
			return NULL;
		fresh = true;
	}
	n->refs++;
	/* Resolve next hops before traffic needs them. */
	if (fresh)
		nbr_kick(f, n);
	return n;
}

void
fwd_nbr_put(struct mg_fwd *f, struct nbr *n)
{
	if (n->refs > 0)
		n->refs--;
	if (n->refs == 0 && !n->is_static && n->state != MG_NBR_REACHABLE &&
	    n->state != MG_NBR_PROBE)
		nbr_destroy(f, n);
}

void
fwd_nbr_flush(struct mg_fwd *f, uint16_t ifindex, const struct mg_prefix *subnet)
{
	for (uint32_t i = 0; i < f->conf.max_neighbors; i++) {
		struct nbr *n = &f->nbrs[i];

		if (!n->used || n->ifindex != ifindex || n->refs > 0 || n->is_static)
			continue;
		if (subnet == NULL || mg_prefix_contains(subnet, &n->ip))
			nbr_destroy(f, n);
	}
}

void
fwd_nbr_flush_offlink(struct mg_fwd *f, uint16_t ifindex, const struct mg_prefix *prefix)
{
	struct fwd_iface *ifc = fwd_iface(f, ifindex);

	for (uint32_t i = 0; ifc != NULL && i < f->conf.max_neighbors; i++) {
		struct nbr *n = &f->nbrs[i];

		if (n->used && n->ifindex == ifindex && n->refs == 0 && !n->is_static &&
		    n->host_route && mg_prefix_contains(prefix, &n->ip) &&
		    fwd_iface_subnet_of(ifc, &n->ip) == NULL)
			nbr_destroy(f, n);
	}
}

/* ---- static neighbors ------------------------------------------------------------- */

int
mg_fwd_neigh_add(struct mg_fwd *f, const struct mg_neigh *s, struct mg_error *err)
{
	struct nbr *n = fwd_nbr_find(f, s->iface, &s->ip);

	if (n == NULL && (n = nbr_create(f, s->iface, &s->ip, err)) == NULL)
		return -err->code;
	n->is_static = true;
	n->state = MG_NBR_STATIC;
	memcpy(&n->mac, s->mac.b, 6);
	n->next_ns = 0;
	mg_dp_adj_set_rewrite(f->dp, n->adj, &n->mac, MG_NS_COMPLETE);
	release_held(f, n);
	return 0;
}

void
mg_fwd_neigh_del(struct mg_fwd *f, const struct mg_neigh *s)
{
	struct nbr *n = fwd_nbr_find(f, s->iface, &s->ip);

	if (n == NULL || !n->is_static)
		return;
	n->is_static = false;
	if (n->refs == 0) {
		nbr_destroy(f, n);
		return;
	}
	/* Routes still use it: resolve it dynamically from now on. */
	n->state = MG_NBR_INCOMPLETE;
	n->probes = 0;
	n->next_ns = 0;
	mg_dp_adj_set_rewrite(f->dp, n->adj, NULL, MG_NS_INCOMPLETE);
	nbr_kick(f, n);
}

/* ---- input ------------------------------------------------------------------------- */

/*
 * Learn (@ip, @mac) seen on @ifc. An existing entry is confirmed; a new one
 * is created only when @create and @ip is on-link.
 */
static void
learn(struct mg_fwd *f, struct fwd_iface *ifc, const struct mg_ip *ip, const uint8_t *mac,
      bool create)
{
	struct nbr *n = fwd_nbr_find(f, ifc->ifindex, ip);

	if (rte_is_multicast_ether_addr((const struct rte_ether_addr *)mac) ||
	    rte_is_zero_ether_addr((const struct rte_ether_addr *)mac))
		return;
	if (n == NULL) {
		if (!create || (!mg_ip_is_link_local(ip) && fwd_iface_subnet_of(ifc, ip) == NULL))
			return;
		n = nbr_create(f, ifc->ifindex, ip, NULL);
		if (n == NULL)
			return;
	}
	nbr_confirm(f, n, mac);
}

static void
arp_input(struct mg_fwd *f, struct rte_mbuf *m)
{
	struct fwd_iface *ifc = fwd_iface(f, mg_meta(m)->rx_if);
	const struct mg_arp *a;
	struct mg_ip spa = {.family = AF_INET}, tpa = {.family = AF_INET};
	uint16_t op;

	st_main(f)->arp_rx++;
	if (ifc == NULL || m->data_len < m->l2_len + sizeof(*a)) {
		drop_pkt(f, m, MG_DROP_ARP_INVALID);
		return;
	}
	a = rte_pktmbuf_mtod_offset(m, const struct mg_arp *, m->l2_len);
	op = rte_be_to_cpu_16(a->op);
	if (a->htype != RTE_BE16(1) || a->ptype != MG_ETH_IPV4_BE || a->hlen != 6 ||
	    a->plen != 4 || (op != MG_ARP_REQUEST && op != MG_ARP_REPLY)) {
		drop_pkt(f, m, MG_DROP_ARP_INVALID);
		return;
	}
	spa.v4 = a->spa;
	tpa.v4 = a->tpa;
	if (fwd_iface_owns(ifc, &tpa)) {
		/* For us: answer a request, and learn the sender (RFC 826's merge). */
		if (spa.v4 != 0)
			learn(f, ifc, &spa, a->sha, true);
		if (op == MG_ARP_REQUEST)
			arp_send(f, ifc, MG_ARP_REPLY, a->sha, a->sha, a->tpa, a->spa);
		rte_pktmbuf_free(m);
		return;
	}
	if (spa.v4 != 0 && (op == MG_ARP_REPLY || spa.v4 == tpa.v4)) {
		/* A reply to someone else, or gratuitous: refresh what we know. */
		learn(f, ifc, &spa, a->sha, false);
		rte_pktmbuf_free(m);
		return;
	}
	drop_pkt(f, m, MG_DROP_ARP_NOT_OURS);
}

/* The link-layer address option of type @type in an ND message, or NULL. */
static const uint8_t *
nd_lla(const uint8_t *opts, uint32_t len, uint8_t type, bool *bad)
{
	const uint8_t *found = NULL;

	*bad = false;
	while (len >= 2) {
		uint32_t ol = (uint32_t)opts[1] * 8;

		if (ol == 0 || ol > len) {
			*bad = true;
			return NULL;
		}
		if (opts[0] == type && ol >= 8)
			found = opts + 2;
		opts += ol;
		len -= ol;
	}
	return found;
}

static void
nd_input(struct mg_fwd *f, struct rte_mbuf *m)
{
	struct fwd_iface *ifc = fwd_iface(f, mg_meta(m)->rx_if);
	struct rte_ipv6_hdr *ip6 = rte_pktmbuf_mtod(m, struct rte_ipv6_hdr *);
	uint32_t plen = rte_be_to_cpu_16(ip6->payload_len);
	const struct mg_nd_msg *nd = (const struct mg_nd_msg *)(ip6 + 1);
	static const uint8_t zero[16];
	struct mg_ip src = {.family = AF_INET6}, target = {.family = AF_INET6};
	const uint8_t *lla;
	bool bad;

	st_main(f)->nd_rx++;
	if (ifc == NULL || ip6->proto != MG_IPPROTO_ICMPV6 || m->pkt_len < MG_IP6_HLEN + plen ||
	    plen < 4) {
		drop_pkt(f, m, MG_DROP_ND_INVALID);
		return;
	}
	if (nd->type != MG_ICMP6_ND_NS && nd->type != MG_ICMP6_ND_NA) {
		drop_pkt(f, m, MG_DROP_ND_IGNORED);
		return;
	}
	/* RFC 4861 7.1: hop limit 255, code 0, valid checksum, 24 bytes or more. */
	if (ip6->hop_limits != MG_ND_HOP_LIMIT || nd->code != 0 || plen < sizeof(*nd) ||
	    mg_ip6_l4_cksum(ip6, nd, plen, MG_IPPROTO_ICMPV6) != 0 || nd->target[0] == 0xff) {
		drop_pkt(f, m, MG_DROP_ND_INVALID);
		return;
	}
	memcpy(src.v6, ip6->src_addr, 16);
	memcpy(target.v6, nd->target, 16);
	if (nd->type == MG_ICMP6_ND_NS) {
		bool dad = memcmp(ip6->src_addr, zero, 16) == 0;

		lla = nd_lla((const uint8_t *)(nd + 1), plen - sizeof(*nd), MG_ND_OPT_SLLA, &bad);
		if (bad || (dad && (lla != NULL || ip6->dst_addr[0] != 0xff))) {
			drop_pkt(f, m, MG_DROP_ND_INVALID);
			return;
		}
		if (!fwd_iface_owns(ifc, &target)) {
			drop_pkt(f, m, MG_DROP_ND_NOT_OURS);
			return;
		}
		if (dad) {
			/* Someone probes our address: defend it (RFC 4862 5.4.3). */
			static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
			static const uint8_t all_mac[6] = {0x33, 0x33, 0, 0, 0, 1};

			nd_send(f, ifc, MG_ICMP6_ND_NA, MG_ND_NA_ROUTER | MG_ND_NA_OVERRIDE, all_mac,
				nd->target, all_nodes, nd->target);
		} else {
			const uint8_t *dmac = lla;

			if (lla != NULL)
				learn(f, ifc, &src, lla, true);
			if (dmac == NULL) {
				/* No SLLA: answer to the frame's source MAC. */
				dmac = rte_pktmbuf_mtod_offset(m, const uint8_t *, -(int)m->l2_len) + 6;
			}
			nd_send(f, ifc, MG_ICMP6_ND_NA,
				MG_ND_NA_ROUTER | MG_ND_NA_SOLICITED | MG_ND_NA_OVERRIDE, dmac,
				nd->target, ip6->src_addr, nd->target);
		}
		rte_pktmbuf_free(m);
		return;
	}
	/* NA: update what we know of the target. */
	lla = nd_lla((const uint8_t *)(nd + 1), plen - sizeof(*nd), MG_ND_OPT_TLLA, &bad);
	if (bad || ((nd->flags & MG_ND_NA_SOLICITED) && ip6->dst_addr[0] == 0xff)) {
		drop_pkt(f, m, MG_DROP_ND_INVALID);
		return;
	}
	if (lla != NULL)
		learn(f, ifc, &target, lla, false);
	rte_pktmbuf_free(m);
}

/* A packet that needs a neighbor resolved. */
static void
resolve_input(struct mg_fwd *f, struct rte_mbuf *m)
{
	struct mg_meta *md = mg_meta(m);
	const struct mg_adj *adj = &f->dp->adj[md->adj];
	struct nbr *n = NULL;

	if (md->punt == MG_PUNT_GLEAN) {
		struct mg_ip dst;

		memset(&dst, 0, sizeof(dst));
		dst.family = adj->family;
		if (adj->family == AF_INET)
			dst.v4 = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *)->dst_addr;
		else
			memcpy(dst.v6, rte_pktmbuf_mtod(m, struct rte_ipv6_hdr *)->dst_addr, 16);
		n = fwd_nbr_find(f, adj->ifindex, &dst);
		if (n == NULL && (n = nbr_create(f, adj->ifindex, &dst, NULL)) == NULL) {
			drop_pkt(f, m, MG_DROP_NEIGH_TABLE);
			return;
		}
		/*
		 * A glean adjacency means an on-link route, which may lie outside
		 * every address of the interface (nbr_create gave those no host
		 * route). Without one, the packet released after resolution would
		 * hit the glean adjacency again and circulate between the worker
		 * and this lcore for ever: give it one, or drop rather than loop.
		 */
		nbr_host_route(f, n);
		if (!n->host_route) {
			drop_pkt(f, m, MG_DROP_NEIGH_TABLE);
			return;
		}
	} else if (md->adj < f->dp->conf.max_adjacencies && f->adj_nbr[md->adj] != 0) {
		n = &f->nbrs[f->adj_nbr[md->adj] - 1];
	}
	if (n == NULL) {
		drop_pkt(f, m, MG_DROP_NEIGH_FAILED);
		return;
	}
	nbr_hold(f, n, m);
	nbr_kick(f, n);
}

void
mg_fwd_punt(struct mg_fwd *f, struct rte_mbuf *m)
{
	f->now_ns = mg_now_ns();
	switch (mg_meta(m)->punt) {
	case MG_PUNT_ARP:
		arp_input(f, m);
		break;
	case MG_PUNT_ND:
		nd_input(f, m);
		break;
	case MG_PUNT_GLEAN:
	case MG_PUNT_RESOLVE:
		resolve_input(f, m);
		break;
	default:
		drop_pkt(f, m, MG_DROP_NONE);
		break;
	}
}

/* ---- timers -------------------------------------------------------------------------- */

static void
nbr_expire(struct mg_fwd *f, struct nbr *n)
{
	uint64_t now = f->now_ns;

	n->next_ns = 0;
	switch (n->state) {
	case MG_NBR_INCOMPLETE:
		if (n->probes < f->conf.probes) {
			nbr_probe(f, n, false);
			n->probes++;
			timer_at(f, n, now + (uint64_t)f->conf.retrans_ms * 1000000ull);
			return;
		}
		n->state = MG_NBR_FAILED;
		mg_dp_adj_set_rewrite(f->dp, n->adj, NULL, MG_NS_FAILED);
		drop_held(f, n);
		timer_at(f, n, now + (uint64_t)f->conf.failed_ms * 1000000ull);
		return;
	case MG_NBR_REACHABLE:
		n->state = MG_NBR_PROBE;
		n->probes = 1;
		nbr_probe(f, n, true);
		timer_at(f, n, now + (uint64_t)f->conf.retrans_ms * 1000000ull);
		return;
	case MG_NBR_PROBE:
		if (n->probes < f->conf.probes) {
			nbr_probe(f, n, true);
			n->probes++;
			timer_at(f, n, now + (uint64_t)f->conf.retrans_ms * 1000000ull);
			return;
		}
		if (n->refs == 0) {
			nbr_destroy(f, n);
			return;
		}
		n->state = MG_NBR_FAILED;
		mg_dp_adj_set_rewrite(f->dp, n->adj, NULL, MG_NS_FAILED);
		timer_at(f, n, now + (uint64_t)f->conf.failed_ms * 1000000ull);
		return;
	case MG_NBR_FAILED:
		if (n->refs == 0) {
			nbr_destroy(f, n);
			return;
		}
		/* Routes use it: let the next packet start a new round. */
		n->state = MG_NBR_INCOMPLETE;
		n->probes = 0;
		mg_dp_adj_set_rewrite(f->dp, n->adj, NULL, MG_NS_INCOMPLETE);
		return;
	default:
		return;
	}
}

void
mg_fwd_timer(struct mg_fwd *f, uint64_t now_ns)
{
	uint64_t next = 0;

	f->now_ns = now_ns;
	if (f->next_timer_ns == 0 || now_ns < f->next_timer_ns)
		return;
	f->next_timer_ns = 0;
	for (uint32_t i = 0; i < f->conf.max_neighbors; i++) {
		struct nbr *n = &f->nbrs[i];

		if (!n->used || n->next_ns == 0)
			continue;
		if (n->next_ns <= now_ns)
			nbr_expire(f, n);
		if (n->used && n->next_ns != 0 && (next == 0 || n->next_ns < next))
			next = n->next_ns;
	}
	if (f->next_timer_ns == 0 || (next != 0 && next < f->next_timer_ns))
		f->next_timer_ns = next;
}

uint64_t
mg_fwd_next_timer(const struct mg_fwd *f)
{
	return f->next_timer_ns;
}

void
mg_fwd_neigh_walk(struct mg_fwd *f, void (*cb)(const struct mg_fwd_neigh_info *n, void *arg),
		  void *arg)
{
	uint64_t now = mg_now_ns();

	for (uint32_t i = 0; i < f->conf.max_neighbors; i++) {
		const struct nbr *n = &f->nbrs[i];
		struct mg_fwd_neigh_info info;

		if (!n->used)
			continue;
		memset(&info, 0, sizeof(info));
		info.ifindex = n->ifindex;
		info.ip = n->ip;
		info.mac = n->mac;
		info.state = n->is_static ? MG_NBR_STATIC : (enum mg_nbr_state)n->state;
		info.adj = n->adj;
		info.refs = n->refs;
		info.held = n->nheld;
		info.age_ms = n->confirmed_ns ? (now - n->confirmed_ns) / 1000000ull : 0;
		cb(&info, arg);
	}
}
