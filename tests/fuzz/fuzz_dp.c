/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The data plane fixture of the packet harnesses (see fuzz_dp.h): the
 * production graph of one worker walked on the main thread, forwarding
 * control handling what the graph punts, ring ports to read the egress back.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "fuzz.h"
#include "fuzz_dp.h"
#include "mg_dp.h"
#include "mg_fwd.h"
#include "mg_nodes.h"
#include "mg_proto.h"

/* ---- guarded frame buffers ---------------------------------------------------------- */

#define SLOTS 256                /* frames alive at once (held, in rings, in flight) */

struct slot {
	uint8_t *page;           /* one page, followed by an inaccessible one */
	bool used;
	struct rte_mbuf_ext_shared_info shinfo;
};

static struct slot slots[SLOTS];
static unsigned int slots_used;
static size_t page_size;

/* The mbuf let go of its external buffer: the slot can take another frame. */
static void
slot_release(void *addr, void *opaque)
{
	struct slot *s = opaque;

	(void)addr;
	FZ_ASSERT(s->used, "a frame buffer was released twice");
	s->used = false;
	slots_used--;
}

static void
slots_init(void)
{
	uint8_t *area;

	page_size = (size_t)sysconf(_SC_PAGESIZE);
	FZ_SETUP(RTE_PKTMBUF_HEADROOM + FZ_MAX_FRAME <= page_size, "page too small");
	area = mmap(NULL, 2 * page_size * SLOTS, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	FZ_SETUP(area != MAP_FAILED, "mmap of the frame buffers failed");
	for (unsigned int i = 0; i < SLOTS; i++) {
		slots[i].page = area + 2 * page_size * i;
		FZ_SETUP(mprotect(slots[i].page + page_size, page_size, PROT_NONE) == 0,
			 "mprotect failed");
	}
}

/* ---- the data plane ------------------------------------------------------------------ */

static struct mg_dp *dp;
static struct mg_fwd *fwd;
static struct mg_worker *wk;
static struct rte_graph *graph;
static struct rte_node *rx_node;    /* port-rx: its edge 0 leads to eth-input */
static struct rte_mempool *pool;
static unsigned int pool_idle;      /* mbufs in use when nothing is in flight */
static uint64_t clock_ms;           /* the harness clock, ahead of mg_now_ns() */

uint32_t fz_dp_tx_frames[FZ_NB_PORTS];

/* What the egress check needs to know of an interface. */
struct fz_iface {
	uint16_t ifindex, port, vlan, net, mtu;
	const char *name, *mac, *a4, *a6;
};

static const struct fz_iface ifaces[] = {
	{1, 0, 0, 0, 1500, "p0", "02:00:00:00:00:01", "10.0.0.1/24", "fd00::1/64"},
	{2, 1, 0, 0, 1280, "p1", "02:00:00:00:00:02", "10.1.0.1/24", "fd01::1/64"},
	{3, 0, 100, 1, 576, "p0.100", "02:00:00:00:00:01", "192.168.100.1/24", NULL},
};

static void
ring_port_start(uint16_t port)
{
	struct rte_eth_conf conf;

	memset(&conf, 0, sizeof(conf));
	FZ_SETUP(rte_eth_dev_configure(port, 1, 1, &conf) == 0, "configure port %u", port);
	FZ_SETUP(rte_eth_rx_queue_setup(port, 0, 1024, SOCKET_ID_ANY, NULL, pool) == 0,
		 "rx queue of port %u", port);
	FZ_SETUP(rte_eth_tx_queue_setup(port, 0, 1024, SOCKET_ID_ANY, NULL) == 0,
		 "tx queue of port %u", port);
	FZ_SETUP(rte_eth_dev_start(port) == 0, "start port %u", port);
}

static void
add_route(uint16_t net, const char *prefix, enum mg_route_action action, const char *via,
	  uint16_t ifindex)
{
	struct mg_route r;
	struct mg_error e;

	memset(&r, 0, sizeof(r));
	r.network = net;
	FZ_SETUP(mg_prefix_parse(prefix, &r.prefix) == 0, "route %s", prefix);
	r.action = action;
	r.iface = ifindex;
	if (via != NULL)
		FZ_SETUP(mg_ip_parse(via, &r.via) == 0, "via %s", via);
	FZ_SETUP(mg_fwd_route_add(fwd, &r, &e) == 0, "route %s: %s", prefix, e.msg);
}

static void
add_neigh(uint16_t ifindex, const char *ip, const char *mac)
{
	struct mg_neigh n;
	struct mg_error e;

	memset(&n, 0, sizeof(n));
	n.iface = ifindex;
	FZ_SETUP(mg_ip_parse(ip, &n.ip) == 0 && mg_mac_parse(mac, &n.mac) == 0, "neighbor");
	FZ_SETUP(mg_fwd_neigh_add(fwd, &n, &e) == 0, "neighbor %s: %s", ip, e.msg);
}

static void
topology(void)
{
	struct mg_network nets[2];
	struct mg_error e;

	memset(nets, 0, sizeof(nets));
	nets[0].id = 0;
	strcpy(nets[0].spec.name, "default");
	nets[1].id = 1;
	strcpy(nets[1].spec.name, "strict");
	nets[1].spec.fragments = MG_POLICY_DROP;
	nets[1].spec.ip_options = MG_POLICY_DROP;
	for (unsigned int i = 0; i < RTE_DIM(nets); i++)
		FZ_SETUP(mg_fwd_net_add(fwd, &nets[i], &e) == 0, "network: %s", e.msg);
	for (unsigned int i = 0; i < RTE_DIM(ifaces); i++) {
		const struct fz_iface *fi = &ifaces[i];
		struct mg_iface mi;
		struct mg_prefix p;

		memset(&mi, 0, sizeof(mi));
		mi.id = fi->ifindex;
		mi.kind = fi->vlan ? MG_IFACE_VLAN : MG_IFACE_PORT;
		strcpy(mi.name, fi->name);
		mi.vlan = fi->vlan;
		mi.network = fi->net;
		mi.mtu = fi->mtu;
		FZ_SETUP(mg_mac_parse(fi->mac, &mi.mac) == 0, "mac");
		FZ_SETUP(mg_fwd_iface_add(fwd, &mi, fi->port, &e) == 0, "iface: %s", e.msg);
		FZ_SETUP(mg_prefix_parse(fi->a4, &p) == 0 && mg_fwd_addr_add(fwd, fi->ifindex, &p,
									     &e) == 0,
			 "address: %s", e.msg);
		if (fi->a6 != NULL)
			FZ_SETUP(mg_prefix_parse(fi->a6, &p) == 0 &&
					 mg_fwd_addr_add(fwd, fi->ifindex, &p, &e) == 0,
				 "address: %s", e.msg);
	}
	add_neigh(2, "10.1.0.2", "02:00:00:00:01:02");
	add_neigh(2, "fd01::2", "02:00:00:00:01:02");
	add_route(0, "198.51.100.0/24", MG_ROUTE_FORWARD, "10.1.0.2", 2);
	add_route(0, "2001:db8:1::/48", MG_ROUTE_FORWARD, "fd01::2", 2);
	add_route(0, "10.9.0.0/16", MG_ROUTE_FORWARD, "10.0.0.9", 1);
	add_route(0, "100.64.0.0/24", MG_ROUTE_FORWARD, NULL, 2);
	add_route(0, "192.0.2.0/26", MG_ROUTE_DROP, NULL, MG_IF_NONE);
	add_route(0, "192.0.2.64/26", MG_ROUTE_UNREACHABLE, NULL, MG_IF_NONE);
	add_route(0, "192.0.2.128/26", MG_ROUTE_PROHIBIT, NULL, MG_IF_NONE);
	add_route(0, "2001:db8:dead::/48", MG_ROUTE_DROP, NULL, MG_IF_NONE);
	add_route(0, "2001:db8:2::/48", MG_ROUTE_UNREACHABLE, NULL, MG_IF_NONE);
	add_route(1, "172.16.0.0/12", MG_ROUTE_FORWARD, "192.168.100.2", 3);
	for (uint16_t p = 0; p < FZ_NB_PORTS; p++)
		dp->port_up[p] = 1;
}

void
fz_dp_init(const char *name)
{
	static const char *const vdevs[] = {"--vdev", "net_ring0", "--vdev", "net_ring1"};
	struct mg_dp_conf c = {.max_adjacencies = 1024, .fib_routes = 1024, .fib_tbl8 = 64,
			       .fib6_tbl8 = 256, .punt_ring = 512, .inject_ring = 512,
			       /* Errors are rate limited by time: make that never bite. */
			       .icmp_rate = 1000000000, .icmp_burst = 1000000, .nb_workers = 1};
	struct mg_fwd_conf fc = {.max_neighbors = 64, .reachable_ms = 60000, .retrans_ms = 1000,
				 .probes = 3, .hold_packets = 4, .failed_ms = 3000};
	char gname[RTE_GRAPH_NAMESIZE];
	rte_graph_t gid;

	fz_eal_init(name, vdevs, RTE_DIM(vdevs));
	slots_init();
	FZ_SETUP(rte_eth_dev_count_avail() == FZ_NB_PORTS, "expected %u ring ports",
		 FZ_NB_PORTS);
	FZ_SETUP(mg_meta_register() == 0, "mbuf dynfield");
	dp = mg_dp_create(&c);
	FZ_SETUP(dp != NULL, "mg_dp_create");
	/* No per-lcore cache: the in-use count is exact at every moment. */
	pool = rte_pktmbuf_pool_create("fz_pool", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       (int)rte_socket_id());
	FZ_SETUP(pool != NULL, "mbuf pool");
	dp->pools[rte_socket_id()] = pool;
	for (uint16_t p = 0; p < FZ_NB_PORTS; p++)
		ring_port_start(p);
	/* Worker 0 as mg_workers_setup makes it, but walked from this thread. */
	wk = dp->workers[0];
	wk->lcore = rte_lcore_id();
	wk->stats = &dp->stats[rte_lcore_id()];
	gid = mg_nodes_graph_create(dp, 0, (int)rte_socket_id());
	FZ_SETUP(gid != RTE_GRAPH_ID_INVALID, "graph");
	snprintf(gname, sizeof(gname), "mgw-%u", 0);
	graph = rte_graph_lookup(gname);
	wk->graph_id = gid;
	wk->graph = graph;
	rx_node = rte_graph_node_get_by_name(gname, "port-rx");
	FZ_SETUP(graph != NULL && rx_node != NULL, "graph lookup");
	FZ_SETUP(rte_rcu_qsbr_thread_register(dp->rcu, 0) == 0 &&
			 rte_rcu_qsbr_thread_register(dp->rcu_fib, 0) == 0,
		 "RCU registration");
	fwd = mg_fwd_create(dp, &fc);
	FZ_SETUP(fwd != NULL, "mg_fwd_create");
	topology();
	fz_dp_reset();
	pool_idle = rte_mempool_in_use_count(pool);
}

struct rte_mbuf *
fz_frame(const uint8_t *p, uint32_t len, uint16_t port, uint64_t ol_flags)
{
	struct rte_mbuf *m;
	struct slot *s = NULL;
	uint16_t buf_len;
	uint8_t *buf;

	if (len > FZ_MAX_FRAME)
		len = FZ_MAX_FRAME;
	for (unsigned int i = 0; i < SLOTS; i++)
		if (!slots[i].used) {
			s = &slots[i];
			break;
		}
	if (s == NULL)
		return NULL;
	m = rte_pktmbuf_alloc(pool);
	FZ_SETUP(m != NULL, "mbuf pool empty");
	/*
	 * The frame ends where the inaccessible page begins, but starts 2-byte
	 * aligned as it does in any mbuf (the Ethernet header's alignment): an
	 * odd-length frame has one spare byte before the guard page.
	 */
	buf_len = (uint16_t)(RTE_PKTMBUF_HEADROOM + len + (len & 1));
	buf = s->page + page_size - buf_len;
	s->used = true;
	slots_used++;
	s->shinfo.free_cb = slot_release;
	s->shinfo.fcb_opaque = s;
	rte_mbuf_ext_refcnt_set(&s->shinfo, 1);
	rte_pktmbuf_attach_extbuf(m, buf, 0, buf_len, &s->shinfo);
	m->data_off = RTE_PKTMBUF_HEADROOM;
	memcpy(buf + RTE_PKTMBUF_HEADROOM, p, len);
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	m->port = port;
	m->ol_flags |= ol_flags;
	return m;
}

/* ---- egress checks -------------------------------------------------------------------- */

static const struct fz_iface *
egress_iface(uint16_t port, uint16_t vlan)
{
	for (unsigned int i = 0; i < RTE_DIM(ifaces); i++)
		if (ifaces[i].port == port && ifaces[i].vlan == vlan)
			return &ifaces[i];
	return NULL;
}

/* What a frame leaving @port must look like, whatever was received. */
static void
check_egress(uint16_t port, struct rte_mbuf *m)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	const struct mg_meta *md = mg_meta(m);
	const struct fz_iface *fi;
	struct rte_ether_addr mac;
	uint32_t len = m->pkt_len, l2 = 14, l3;
	uint16_t type, vlan = 0;

	FZ_ASSERT(m->nb_segs == 1 && m->data_len == m->pkt_len, "egress frame in %u segments",
		  m->nb_segs);
	FZ_ASSERT(len >= 14, "egress frame of %u bytes", len);
	type = (uint16_t)(f[12] << 8 | f[13]);
	if (type == MG_ETH_VLAN) {
		FZ_ASSERT(len >= 18, "tagged egress frame of %u bytes", len);
		vlan = (uint16_t)((f[14] << 8 | f[15]) & 0xfff);
		type = (uint16_t)(f[16] << 8 | f[17]);
		l2 = 18;
	}
	fi = egress_iface(port, vlan);
	FZ_ASSERT(fi != NULL, "frame out of port %u on VLAN %u, which has no interface", port,
		  vlan);
	mg_mac_parse(fi->mac, (struct mg_mac *)&mac);
	FZ_ASSERT(memcmp(f + 6, &mac, 6) == 0, "frame out of %s with another source MAC",
		  fi->name);
	l3 = len - l2;
	if (type == MG_ETH_ARP) {
		const struct mg_arp *a = (const struct mg_arp *)(f + l2);

		FZ_ASSERT(l3 == sizeof(*a), "ARP frame of %u bytes", l3);
		FZ_ASSERT(a->htype == RTE_BE16(1) && a->ptype == MG_ETH_IPV4_BE && a->hlen == 6 &&
				  a->plen == 4 && memcmp(a->sha, &mac, 6) == 0,
			  "malformed ARP out of %s", fi->name);
		return;
	}
	FZ_ASSERT(l3 <= fi->mtu, "%u-byte packet out of %s (MTU %u)", l3, fi->name, fi->mtu);
	if (type == MG_ETH_IPV4) {
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(f + l2);
		uint32_t ihl;

		FZ_ASSERT(l3 >= 20 && (ip->version_ihl >> 4) == 4, "bad IPv4 out of %s", fi->name);
		ihl = (ip->version_ihl & 0xfu) * 4u;
		FZ_ASSERT(ihl >= 20 && ihl <= l3, "IPv4 header length %u out of %s", ihl,
			  fi->name);
		FZ_ASSERT(rte_be_to_cpu_16(ip->total_length) == l3,
			  "IPv4 total length %u in a %u-byte packet out of %s",
			  rte_be_to_cpu_16(ip->total_length), l3, fi->name);
		FZ_ASSERT(mg_ip4_cksum_ok(ip, ihl / 4), "IPv4 header checksum wrong out of %s",
			  fi->name);
		FZ_ASSERT(ip->time_to_live >= 1, "TTL 0 out of %s", fi->name);
		if ((md->flags & MG_META_LOCAL) && ip->next_proto_id == MG_IPPROTO_ICMP &&
		    !(ip->fragment_offset & (MG_IP4_MF_BE | MG_IP4_OFF_MASK_BE)))
			FZ_ASSERT(l3 >= ihl + 8 && mg_inet_cksum(f + l2 + ihl, l3 - ihl) == 0,
				  "ICMP checksum of our own message wrong out of %s", fi->name);
		return;
	}
	if (type == MG_ETH_IPV6) {
		const struct rte_ipv6_hdr *ip6 = (const struct rte_ipv6_hdr *)(f + l2);

		FZ_ASSERT(l3 >= MG_IP6_HLEN && (f[l2] >> 4) == 6, "bad IPv6 out of %s", fi->name);
		FZ_ASSERT((uint32_t)rte_be_to_cpu_16(ip6->payload_len) + MG_IP6_HLEN == l3,
			  "IPv6 payload length %u in a %u-byte packet out of %s",
			  rte_be_to_cpu_16(ip6->payload_len), l3, fi->name);
		FZ_ASSERT(ip6->hop_limits >= 1, "hop limit 0 out of %s", fi->name);
		/* Ours: ICMPv6 errors, echo replies, ND; each with its checksum right. */
		if ((md->flags & MG_META_LOCAL || md->rx_if == MG_IF_NONE) &&
		    ip6->proto == MG_IPPROTO_ICMPV6)
			FZ_ASSERT(mg_ip6_l4_cksum(ip6, ip6 + 1, l3 - MG_IP6_HLEN,
						  MG_IPPROTO_ICMPV6) == 0,
				  "ICMPv6 checksum of our own message wrong out of %s", fi->name);
		return;
	}
	FZ_ASSERT(0, "frame of EtherType 0x%04x out of %s", type, fi->name);
}

/* Read back and check what the ports sent. */
static unsigned int
drain_egress(void)
{
	struct rte_mbuf *b[64];
	unsigned int total = 0;

	for (uint16_t p = 0; p < FZ_NB_PORTS; p++) {
		uint16_t n;

		while ((n = rte_eth_rx_burst(p, 0, b, RTE_DIM(b))) > 0) {
			for (uint16_t i = 0; i < n; i++)
				check_egress(p, b[i]);
			fz_dp_tx_frames[p] += n;
			total += n;
			rte_pktmbuf_free_bulk(b, n);
		}
	}
	return total;
}

/* ---- running it ------------------------------------------------------------------------ */

/* One graph walk, inside the RCU read side as a worker runs it. */
static void
walk(void)
{
	rte_rcu_qsbr_thread_online(dp->rcu, 0);
	rte_graph_walk(graph);
	rte_rcu_qsbr_quiescent(dp->rcu, 0);
	rte_rcu_qsbr_thread_offline(dp->rcu, 0);
}

/* Hand the punted packets to forwarding control; returns how many. */
static unsigned int
main_lcore_punts(void)
{
	struct rte_mbuf *b[64];
	unsigned int n, total = 0;

	while ((n = rte_ring_sc_dequeue_burst(wk->punt, (void **)b, RTE_DIM(b), NULL)) > 0) {
		for (unsigned int i = 0; i < n; i++)
			mg_fwd_punt(fwd, b[i]);
		total += n;
	}
	mg_dp_reclaim(dp);
	return total;
}

/* Walk and punt until nothing moves; a packet that never settles is a loop. */
static void
settle(void)
{
	for (unsigned int round = 0;; round++) {
		unsigned int moved;

		FZ_ASSERT(round < 64, "packets still circulating after %u rounds", round);
		walk();
		moved = main_lcore_punts();
		moved += drain_egress();
		if (moved == 0 && rte_ring_count(wk->inject) == 0 && rte_ring_count(wk->punt) == 0)
			return;
	}
}

struct mg_fwd *
fz_dp_fwd(void)
{
	return fwd;
}

void
fz_dp_rx(struct rte_mbuf **pkts, uint16_t n)
{
	if (n == 0)
		return;
	/* As port-rx does: the frames become eth-input's pending objects. */
	rte_node_enqueue(graph, rx_node, 0, (void **)pkts, n);
	settle();
}

void
fz_dp_advance(uint64_t ms)
{
	clock_ms += ms;
	mg_fwd_timer(fwd, mg_now_ns() + clock_ms * 1000000ull);
	settle();
}

/* With MG_FUZZ_VERBOSE: what the input did, as counters (to check seeds reach their path). */
static void
report(void)
{
	static struct mg_lcore_stats last;
	const struct mg_lcore_stats *st = &dp->stats[rte_lcore_id()];

	if (getenv("MG_FUZZ_VERBOSE") == NULL)
		return;
	fprintf(stderr, "fuzz: tx p0 %u p1 %u;", fz_dp_tx_frames[0], fz_dp_tx_frames[1]);
	for (unsigned int r = 0; r < MG_DROP_MAX; r++)
		if (st->drops[r] != last.drops[r])
			fprintf(stderr, " %s %" PRIu64, mg_drop_name(r), st->drops[r] - last.drops[r]);
	fprintf(stderr, "; echo %" PRIu64 " icmp %" PRIu64 " arp rx/tx %" PRIu64 "/%" PRIu64
		" nd rx/tx %" PRIu64 "/%" PRIu64 " frag %" PRIu64 "\n",
		st->echo_replies - last.echo_replies, st->icmp_sent - last.icmp_sent,
		st->arp_rx - last.arp_rx, st->arp_tx - last.arp_tx, st->nd_rx - last.nd_rx,
		st->nd_tx - last.nd_tx, st->ip4_fragmented - last.ip4_fragmented);
	last = *st;
}

void
fz_dp_reset(void)
{
	/* Each round moves every dynamic neighbor one state on, until none is left. */
	for (unsigned int i = 0; i < 16; i++)
		fz_dp_advance(100 * 1000);
	mg_dp_reclaim(dp);
	/* Nothing is pending any more: the clock can start again (it must not wrap). */
	if (mg_fwd_next_timer(fwd) == 0)
		clock_ms = 0;
	FZ_ASSERT(slots_used == 0, "%u received frame(s) never released", slots_used);
	if (pool_idle != 0)
		FZ_ASSERT(rte_mempool_in_use_count(pool) == pool_idle,
			  "%u mbufs in use after the input, %u before",
			  rte_mempool_in_use_count(pool), pool_idle);
	report();
	memset(fz_dp_tx_frames, 0, sizeof(fz_dp_tx_frames));
}

void
fz_ip6_fix_l4_cksum(uint8_t *pkt, uint32_t len)
{
	struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)(void *)pkt;
	uint32_t plen, off = MG_IP6_HLEN;
	uint8_t proto;
	uint16_t ck;

	if (len < MG_IP6_HLEN)
		return;
	plen = rte_be_to_cpu_16(ip6->payload_len);
	if (MG_IP6_HLEN + plen > len)
		return;
	proto = ip6->proto;
	if (proto != MG_IPPROTO_ICMPV6 || plen < 4)
		return;
	pkt[off + 2] = 0;
	pkt[off + 3] = 0;
	ck = mg_ip6_l4_cksum(ip6, pkt + off, plen, proto);
	memcpy(pkt + off + 2, &ck, 2);
}
