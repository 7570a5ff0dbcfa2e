/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Harness "neigh": ARP and IPv6 neighbor discovery as the main lcore handles
 * them (lib/fwd/neigh.c, reached through mg_fwd_punt), fed the way
 * production feeds it: each frame enters the worker graph at eth-input, which
 * punts ARP and ND (and packets waiting for a neighbor); forwarding control
 * answers, learns, holds and releases packets, and probes as time passes.
 * Inputs are sequences, so the neighbor state machine is driven across
 * several messages (a packet that needs resolution, then the answer, then
 * time), and every reply leaving a port is checked (fuzz_dp.c).
 *
 * Input: records of [control][length][length bytes]. Control:
 *   bits 0-2  0: ARP body (an Ethernet header is put in front)
 *             1: IPv6 packet (ND and others; Ethernet header in front)
 *             2: IPv4 packet (Ethernet header in front)
 *             3: a whole frame
 *             4: time passes: the body is a little-endian count of ms
 *             5-7: as 0-2, in one burst with the record that follows
 *   bit 3     receiving port (0: p0 with VLAN 100, 1: p1)
 *   bit 4     802.1Q tag 100 (the p0.100 sub-interface)
 *   bit 5     destination MAC: 0 the port's own, 1 broadcast/multicast
 *   bit 6     fix up lengths and checksums (IPv4 header, IPv6 payload length
 *             and ICMPv6 checksum), so mutations get past them
 *   bit 7     not a frame: a change of routes, neighbors or addresses, as the
 *             model hands it to forwarding control (within the model's rules:
 *             no duplicates, next hops and static neighbors in connected
 *             subnets); bits 0-1 say which:
 *             0 route    body: flags (0 IPv6, 1 on p1, 2 via a next hop,
 *                        3 delete, 4-5 forward/drop/unreachable/prohibit),
 *                        two address bytes, a length, the next hop's last byte;
 *                        the prefix is 100.64.A.B/16-32 or 2001:db8:77:AB::/48-128;
 *                        one that exists is replaced (not the fixture's
 *                        100.64.0.0/24)
 *             1 neighbor body: flags (0 IPv6, 1 on p1, 2 delete), host byte,
 *                        MAC byte; the address is in p0's or p1's subnet
 *             2 address  body: flags (0 IPv6, 1 delete), a byte: 10.2.X.1/24
 *                        or fd02:X::1/64 on p1
 *
 * At the end of an input every change is undone, the neighbors age out,
 * and lookups of a set of addresses across all these ranges must answer
 * as they did before the first input, with as many neighbors as before.
 */
#include <string.h>

#include <rte_byteorder.h>
#include <rte_mbuf.h>

#include "fuzz.h"
#include "fuzz_dp.h"
#include "mg_dp.h"
#include "mg_fwd.h"
#include "mg_proto.h"

/* ---- control changes ------------------------------------------------------------------ */

#define MAX_CHANGES 32

static struct mg_route routes[MAX_CHANGES];
static unsigned int nroutes;
static struct mg_neigh neighs[MAX_CHANGES];
static unsigned int nneighs;
static struct {
	uint16_t iface;
	struct mg_prefix p;
} addrs[MAX_CHANGES];
static unsigned int naddrs;

/* The addresses whose lookups must come back to what they were. */
static const char *const probes[] = {
	"10.0.0.1", "10.0.0.2", "10.0.0.9", "10.0.0.77", "10.1.0.2", "10.1.0.9", "10.1.0.200",
	"10.2.0.1", "10.2.0.5", "10.2.7.9", "10.9.1.1", "100.64.0.7", "100.64.0.0", "100.64.1.1",
	"100.64.5.7", "100.64.7.200", "100.64.255.255", "198.51.100.5", "192.0.2.70", "fd00::1", "fd00::9",
	"fd01::2", "fd01::9", "fd02::1", "fd02:7::5", "2001:db8:1::5", "2001:db8:77::7",
	"2001:db8:77:1::1", "2001:db8:77:ffff::9", "fe80::ff:fe00:1",
};
static uint32_t probe_adj[2][2 * RTE_DIM(probes)];   /* before, after; per network */
static uint32_t neigh_count0;

static void
lookups(uint32_t *out)
{
	for (unsigned int net = 0; net < 2; net++)
		for (unsigned int i = 0; i < RTE_DIM(probes); i++) {
			struct mg_ip ip;

			mg_ip_parse(probes[i], &ip);
			out[net * RTE_DIM(probes) + i] = mg_fwd_lookup(fz_dp_fwd(), (uint16_t)net, &ip);
		}
}

static void
ip_of(struct mg_ip *ip, bool v6, const uint8_t *prefix4, const uint8_t *prefix6, uint8_t host)
{
	memset(ip, 0, sizeof(*ip));
	if (v6) {
		ip->family = AF_INET6;
		memcpy(ip->v6, prefix6, 16);
		ip->v6[15] = host;
	} else {
		ip->family = AF_INET;
		memcpy(&ip->v4, prefix4, 4);
		((uint8_t *)&ip->v4)[3] = host;
	}
}

static void
change_route(const uint8_t *b, uint32_t n)
{
	static const uint8_t v4[2][4] = {{10, 0, 0, 0}, {10, 1, 0, 0}};
	static const uint8_t v6[2][16] = {{0xfd, 0x00}, {0xfd, 0x01}};
	uint8_t f = n > 0 ? b[0] : 0;
	bool v6fam = f & 1, p1 = f & 2;
	struct mg_route r;
	struct mg_error e;
	unsigned int i;

	memset(&r, 0, sizeof(r));
	r.network = 0;
	r.prefix.addr.family = v6fam ? AF_INET6 : AF_INET;
	if (v6fam) {
		static const uint8_t base[16] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x77};

		memcpy(r.prefix.addr.v6, base, 16);
		r.prefix.addr.v6[6] = n > 1 ? b[1] : 0;
		r.prefix.addr.v6[7] = n > 2 ? b[2] : 0;
		r.prefix.addr.v6[15] = n > 4 ? b[4] : 0;
		r.prefix.len = (uint8_t)(48 + (n > 3 ? b[3] : 0) % 81);
	} else {
		uint8_t a[4] = {100, 64, n > 1 ? b[1] : 0, n > 2 ? b[2] : 0};

		memcpy(&r.prefix.addr.v4, a, 4);
		r.prefix.len = (uint8_t)(16 + (n > 3 ? b[3] : 0) % 17);
	}
	mg_prefix_mask(&r.prefix);
	/* The fixture's route to exactly this prefix is not the input's (the model would refuse). */
	if (r.prefix.addr.family == AF_INET && r.prefix.len == 24 &&
	    r.prefix.addr.v4 == rte_cpu_to_be_32(RTE_IPV4(100, 64, 0, 0)))
		return;
	r.action = (enum mg_route_action)((f >> 4) & 3);
	r.iface = MG_IF_NONE;
	if (r.action == MG_ROUTE_FORWARD) {
		uint8_t host = (uint8_t)(2 + (n > 4 ? b[4] : 0) % 253);

		r.iface = p1 ? 2 : 1;
		if (f & 4)
			ip_of(&r.via, v6fam, v4[p1], v6[p1], host);
	}
	for (i = 0; i < nroutes; i++)
		if (mg_prefix_equal(&routes[i].prefix, &r.prefix))
			break;
	if (f & 8) {
		if (i < nroutes) {
			mg_fwd_route_del(fz_dp_fwd(), &routes[i]);
			routes[i] = routes[--nroutes];
		}
		return;
	}
	if (i < nroutes) {
		if (mg_fwd_route_replace(fz_dp_fwd(), &routes[i], &r, &e) == 0)
			routes[i] = r;
		return;
	}
	if (nroutes < MAX_CHANGES && mg_fwd_route_add(fz_dp_fwd(), &r, &e) == 0)
		routes[nroutes++] = r;
}

static void
change_neigh(const uint8_t *b, uint32_t n)
{
	static const uint8_t v4[2][4] = {{10, 0, 0, 0}, {10, 1, 0, 0}};
	static const uint8_t v6[2][16] = {{0xfd, 0x00}, {0xfd, 0x01}};
	uint8_t f = n > 0 ? b[0] : 0;
	bool p1 = f & 2;
	struct mg_neigh nb;
	struct mg_error e;
	unsigned int i;

	memset(&nb, 0, sizeof(nb));
	nb.iface = p1 ? 2 : 1;
	ip_of(&nb.ip, f & 1, v4[p1], v6[p1], (uint8_t)(2 + (n > 1 ? b[1] : 0) % 253));
	nb.mac.b[0] = 0x02;
	nb.mac.b[5] = n > 2 ? b[2] : 0x42;
	/* The fixture's own static neighbor (10.1.0.2, fd01::2 on p1) is not the input's. */
	if (p1 && ((nb.ip.family == AF_INET && nb.ip.v4 == rte_cpu_to_be_32(RTE_IPV4(10, 1, 0, 2))) ||
		   (nb.ip.family == AF_INET6 && nb.ip.v6[15] == 2)))
		return;
	for (i = 0; i < nneighs; i++)
		if (neighs[i].iface == nb.iface && mg_ip_equal(&neighs[i].ip, &nb.ip))
			break;
	if (f & 4) {
		if (i < nneighs) {
			mg_fwd_neigh_del(fz_dp_fwd(), &neighs[i]);
			neighs[i] = neighs[--nneighs];
		}
		return;
	}
	if (i == nneighs && nneighs < MAX_CHANGES && mg_fwd_neigh_add(fz_dp_fwd(), &nb, &e) == 0)
		neighs[nneighs++] = nb;
}

static void
change_addr(const uint8_t *b, uint32_t n)
{
	uint8_t f = n > 0 ? b[0] : 0, x = n > 1 ? b[1] : 0;
	struct mg_prefix p;
	struct mg_error e;
	unsigned int i;

	memset(&p, 0, sizeof(p));
	if (f & 1) {
		p.addr.family = AF_INET6;
		p.addr.v6[0] = 0xfd;
		p.addr.v6[1] = 0x02;
		p.addr.v6[3] = x;
		p.addr.v6[15] = 1;
		p.len = 64;
	} else {
		uint8_t a[4] = {10, 2, x, 1};

		p.addr.family = AF_INET;
		memcpy(&p.addr.v4, a, 4);
		p.len = 24;
	}
	for (i = 0; i < naddrs; i++)
		if (mg_prefix_equal(&addrs[i].p, &p))
			break;
	if (f & 2) {
		if (i < naddrs) {
			mg_fwd_addr_del(fz_dp_fwd(), addrs[i].iface, &addrs[i].p);
			addrs[i] = addrs[--naddrs];
		}
		return;
	}
	if (i == naddrs && naddrs < MAX_CHANGES && mg_fwd_addr_add(fz_dp_fwd(), 2, &p, &e) == 0) {
		addrs[naddrs].iface = 2;
		addrs[naddrs++].p = p;
	}
}

/* Undo every change of the input, as the model would remove the objects. */
static void
undo_changes(void)
{
	while (nroutes > 0)
		mg_fwd_route_del(fz_dp_fwd(), &routes[--nroutes]);
	while (nneighs > 0)
		mg_fwd_neigh_del(fz_dp_fwd(), &neighs[--nneighs]);
	while (naddrs > 0) {
		naddrs--;
		mg_fwd_addr_del(fz_dp_fwd(), addrs[naddrs].iface, &addrs[naddrs].p);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_dp_init("neigh");
	lookups(probe_adj[0]);
	neigh_count0 = mg_fwd_neigh_count(fz_dp_fwd());
	return 0;
}

/* Build the frame a record describes into @f; returns its length. */
static uint32_t
build(uint8_t ctl, const uint8_t *body, uint32_t blen, uint8_t *f)
{
	static const uint8_t own[2][6] = {{2, 0, 0, 0, 0, 1}, {2, 0, 0, 0, 0, 2}};
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t mcast6[6] = {0x33, 0x33, 0xff, 0x00, 0x00, 0x01};
	static const uint8_t peer[6] = {0x02, 0x00, 0x00, 0x00, 0xaa, 0x01};
	unsigned int kind = ctl & 7, port = (ctl >> 3) & 1;
	uint16_t type = kind % 5 == 0 ? MG_ETH_ARP : kind % 5 == 1 ? MG_ETH_IPV6 : MG_ETH_IPV4;
	uint32_t l2 = 14;
	uint8_t *l3;

	if (kind == 3) {
		memcpy(f, body, blen);
		return blen;
	}
	memcpy(f, !(ctl & 0x20) ? own[port] : type == MG_ETH_IPV6 ? mcast6 : bcast, 6);
	memcpy(f + 6, peer, 6);
	if (ctl & 0x10) {
		f[12] = 0x81;
		f[13] = 0x00;
		f[14] = 0x00;
		f[15] = 100;
		l2 = 18;
	}
	f[l2 - 2] = (uint8_t)(type >> 8);
	f[l2 - 1] = (uint8_t)type;
	l3 = f + l2;
	memcpy(l3, body, blen);
	if ((ctl & 0x40) && type == MG_ETH_IPV6 && blen >= MG_IP6_HLEN) {
		rte_be16_t plen = rte_cpu_to_be_16((uint16_t)(blen - MG_IP6_HLEN));

		memcpy(l3 + 4, &plen, 2);
		fz_ip6_fix_l4_cksum(l3, blen);
	} else if ((ctl & 0x40) && type == MG_ETH_IPV4 && blen >= 20) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(void *)l3;
		uint32_t ihl = (ip->version_ihl & 0xfu) * 4u;

		ip->total_length = rte_cpu_to_be_16((uint16_t)blen);
		if (ihl >= 20 && ihl <= blen) {
			ip->hdr_checksum = 0;
			ip->hdr_checksum = mg_inet_cksum(ip, ihl);
		}
	}
	return l2 + blen;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[FZ_MAX_FRAME + 18];
	struct rte_mbuf *burst[16];
	uint16_t n = 0;
	size_t off = 0;

	while (off + 2 <= size) {
		uint8_t ctl = data[off];
		uint32_t blen = data[off + 1];
		const uint8_t *body = data + off + 2;
		bool more;

		if (blen > size - off - 2)
			blen = (uint32_t)(size - off - 2);
		off += 2 + blen;
		if (ctl & 0x80) {
			/* Frames already built go first: they were received before the change. */
			fz_dp_rx(burst, n);
			n = 0;
			if ((ctl & 3) == 0)
				change_route(body, blen);
			else if ((ctl & 3) == 1)
				change_neigh(body, blen);
			else if ((ctl & 3) == 2)
				change_addr(body, blen);
			fz_dp_advance(0);
			continue;
		}
		if ((ctl & 7) == 4) {
			uint64_t ms = 0;

			for (uint32_t i = 0; i < blen && i < 4; i++)
				ms |= (uint64_t)body[i] << (8 * i);
			fz_dp_rx(burst, n);
			n = 0;
			fz_dp_advance(ms);
			continue;
		}
		more = (ctl & 7) >= 5;
		if (more)
			ctl = (uint8_t)((ctl & ~7) | ((ctl & 7) - 5));
		if (n < RTE_DIM(burst)) {
			uint32_t flen = build(ctl, body, blen, frame);
			struct rte_mbuf *m = fz_frame(frame, flen, (ctl >> 3) & 1, 0);

			if (m != NULL)
				burst[n++] = m;
		}
		if (!more) {
			fz_dp_rx(burst, n);
			n = 0;
		}
	}
	fz_dp_rx(burst, n);
	undo_changes();
	fz_dp_reset();
	lookups(probe_adj[1]);
	for (unsigned int i = 0; i < RTE_DIM(probe_adj[0]); i++)
		FZ_ASSERT(probe_adj[0][i] == probe_adj[1][i],
			  "%s in network %zu: adjacency %u after the input's changes were undone, "
			  "%u before", probes[i % RTE_DIM(probes)], i / RTE_DIM(probes),
			  probe_adj[1][i], probe_adj[0][i]);
	FZ_ASSERT(mg_fwd_neigh_count(fz_dp_fwd()) == neigh_count0,
		  "%u neighbors left, %u before", mg_fwd_neigh_count(fz_dp_fwd()), neigh_count0);
	return 0;
}
