/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet trace: the next N packets arriving at eth-input that match a filter
 * get an mbuf dynflag (and a per-worker slot number in their metadata);
 * from then on every graph node they enter writes a record (the node, the
 * time, the packet's metadata as the previous node left it, its first
 * bytes) into the worker's trace ring. The main lcore collects the records
 * per packet and renders each hop as text: what the packet was, and what
 * the node before decided for it (its network, the adjacency the lookup
 * chose and where it leads, a drop reason, a punt, an ICMP error).
 *
 * Records are plain structs in rte_ring elem rings (no mbuf copies); a full
 * ring loses records, counted, never packets.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_bpf.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_graph.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "capture_priv.h"

#define TRACE_DATA 88
#define TRACE_RING 4096

struct trace_rec {
	uint64_t tsc;
	uint32_t pkt;           /* packet number, from 1 */
	uint16_t node;
	uint16_t port;          /* mbuf->port at the node */
	uint32_t pkt_len;
	uint16_t adj_if;        /* the adjacency's interface, at record time */
	uint8_t adj_type;
	uint8_t ndata;
	struct mg_meta md;
	uint8_t data[TRACE_DATA];
};

struct mg_trace_rt {
	struct rte_bpf *bpf;
	uint64_t (*jit)(void *);
	uint64_t mask;                   /* the dynflag */
	int32_t remaining;               /* packets still to flag (atomic) */
	uint32_t next_pkt;               /* atomic */
	rte_node_t eth_input;
	unsigned int nworkers;
	struct rte_ring *ring[MG_MAX_WORKERS];
	struct {
		uint32_t slot_pkt[256];      /* slot in mg_meta.pad -> packet number */
		uint8_t next_slot;
		uint64_t lost;               /* records the ring had no room for */
	} __rte_cache_aligned w[MG_MAX_WORKERS];
};

/* One traced packet as the main lcore keeps it. */
struct trace_pkt {
	uint32_t pkt;
	uint16_t worker;
	uint16_t n;
	struct trace_rec hop[MG_TRACE_MAX_HOPS];
};

struct trace_store {
	char filter[512];
	uint32_t count;
	uint64_t lost;
	uint64_t tsc0;
	unsigned int npkts;
	struct trace_pkt *pkts;          /* count entries, by packet number - 1 */
};

static int trace_flag_bit = -1;

/* ---- workers -------------------------------------------------------------------------- */

static inline void
record(struct mg_worker *w, struct mg_trace_rt *t, rte_node_t node, struct rte_mbuf *m,
       uint64_t tsc, const struct mg_dp *dp)
{
	const struct mg_meta *md = mg_meta(m);
	struct trace_rec r;
	uint32_t len = rte_pktmbuf_data_len(m);

	r.tsc = tsc;
	r.pkt = t->w[w->index].slot_pkt[md->pad];
	if (r.pkt == 0)
		return; /* flagged by an earlier trace */
	r.node = (uint16_t)node;
	r.port = m->port;
	r.pkt_len = m->pkt_len;
	r.md = *md;
	r.adj_type = 0;
	r.adj_if = UINT16_MAX;
	if (md->adj != 0 && md->adj < dp->conf.max_adjacencies) {
		const struct mg_adj *a = &dp->adj[md->adj];

		r.adj_type = a->type;
		r.adj_if = a->type == MG_ADJ_NEIGHBOR ? mg_adj_rewrite(a)->ifindex : a->ifindex;
	}
	r.ndata = (uint8_t)RTE_MIN(len, (uint32_t)TRACE_DATA);
	memcpy(r.data, rte_pktmbuf_mtod(m, const void *), r.ndata);
	if (rte_ring_sp_enqueue_elem(t->ring[w->index], &r, sizeof(r)) != 0)
		t->w[w->index].lost++;
}

void
mg_trace_node(struct mg_worker *w, struct mg_trace_rt *t, const struct mg_dp *dp,
	      rte_node_t node, void **objs, uint16_t n, uint64_t tsc)
{
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = objs[i];

		if (node == t->eth_input) {
			/* Packets from the ports start clean: flag the ones wanted. */
			m->ol_flags &= ~t->mask;
			if (__atomic_load_n(&t->remaining, __ATOMIC_RELAXED) > 0 &&
			    (t->bpf == NULL ||
			     (t->jit != NULL ? t->jit(m) : rte_bpf_exec(t->bpf, m)) != 0) &&
			    __atomic_sub_fetch(&t->remaining, 1, __ATOMIC_RELAXED) >= 0) {
				uint8_t slot = t->w[w->index].next_slot++;

				t->w[w->index].slot_pkt[slot] =
					__atomic_add_fetch(&t->next_pkt, 1, __ATOMIC_RELAXED);
				mg_meta(m)->pad = slot;
				m->ol_flags |= t->mask;
			}
		}
		if (m->ol_flags & t->mask)
			record(w, t, node, m, tsc, dp);
	}
}

/* ---- main lcore ------------------------------------------------------------------------ */

static void
rt_free(struct mg_trace_rt *t)
{
	if (t == NULL)
		return;
	for (unsigned int i = 0; i < t->nworkers; i++)
		rte_ring_free(t->ring[i]);
	rte_bpf_destroy(t->bpf);
	rte_free(t);
}

void
trace_destroy(struct mg_capture *c)
{
	rt_free(c->trace_rt);
	c->trace_rt = NULL;
	if (c->trace != NULL) {
		free(c->trace->pkts);
		free(c->trace);
		c->trace = NULL;
	}
}

/* Move the workers' records into the store. */
void
trace_drain(struct mg_capture *c)
{
	struct mg_trace_rt *t = c->trace_rt;
	struct trace_store *s = c->trace;
	struct trace_rec r[32];

	if (t == NULL || s == NULL)
		return;
	for (unsigned int w = 0; w < t->nworkers; w++) {
		unsigned int n;

		while ((n = rte_ring_sc_dequeue_burst_elem(t->ring[w], r, sizeof(r[0]), RTE_DIM(r),
							   NULL)) > 0)
			for (unsigned int i = 0; i < n; i++) {
				struct trace_pkt *p;

				if (r[i].pkt == 0 || r[i].pkt > s->count)
					continue;
				p = &s->pkts[r[i].pkt - 1];
				if (p->pkt == 0) {
					p->pkt = r[i].pkt;
					p->worker = (uint16_t)w;
					s->npkts++;
				}
				if (p->n < MG_TRACE_MAX_HOPS)
					p->hop[p->n++] = r[i];
				else
					s->lost++;
			}
	}
}

int
mg_trace_start(struct mg_capture *c, const char *filter, uint32_t count, struct mg_error *err)
{
	static const struct rte_mbuf_dynflag desc = {.name = "mg_trace"};
	struct mg_trace_rt *t;
	struct trace_store *s;
	int rc;

	if (count == 0 || count > MG_TRACE_MAX_PACKETS)
		return mg_error_set(err, EINVAL, "count", "%u is not in 1..%u", count,
				    MG_TRACE_MAX_PACKETS);
	if (filter != NULL && strlen(filter) >= sizeof(s->filter))
		return mg_error_set(err, EINVAL, "filter", "longer than %zu characters",
				    sizeof(s->filter) - 1);
	if (trace_flag_bit < 0) {
		trace_flag_bit = rte_mbuf_dynflag_register(&desc);
		if (trace_flag_bit < 0)
			return mg_error_set(err, ENOSPC, "", "no mbuf flag left for tracing: %s",
					    rte_strerror(rte_errno));
	}
	t = rte_zmalloc("mg_trace_rt", sizeof(*t), RTE_CACHE_LINE_SIZE);
	s = calloc(1, sizeof(*s));
	if (t == NULL || s == NULL || (s->pkts = calloc(count, sizeof(*s->pkts))) == NULL) {
		rte_free(t);
		free(s);
		return mg_error_set(err, ENOMEM, "", "out of memory");
	}
	if (filter != NULL && filter[0] != '\0') {
		rc = capture_compile_filter(filter, DLT_EN10MB_VALUE, 65535, &t->bpf, &t->jit, err);
		if (rc < 0) {
			free(s->pkts);
			free(s);
			rte_free(t);
			return rc;
		}
		mg_strlcpy(s->filter, filter, sizeof(s->filter));
	}
	t->mask = 1ull << trace_flag_bit;
	t->remaining = (int32_t)count;
	t->eth_input = c->eth_input;
	t->nworkers = c->env.dp->nb_workers;
	for (unsigned int w = 0; w < t->nworkers; w++) {
		char name[RTE_RING_NAMESIZE];

		snprintf(name, sizeof(name), "mg_trace%u_%u", c->trace_gen, w);
		t->ring[w] = rte_ring_create_elem(name, sizeof(struct trace_rec), TRACE_RING,
						  SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (t->ring[w] == NULL) {
			rt_free(t);
			free(s->pkts);
			free(s);
			return mg_error_set(err, ENOMEM, "", "cannot create a trace ring: %s",
					    rte_strerror(rte_errno));
		}
	}
	c->trace_gen++;
	s->count = count;
	s->tsc0 = rte_rdtsc();
	/* The old trace goes once no worker can hold it. */
	{
		struct mg_trace_rt *old_rt = c->trace_rt;
		struct trace_store *old = c->trace;

		c->trace_rt = t;
		c->trace = s;
		if (capture_publish(c) < 0) {
			c->trace_rt = old_rt;
			c->trace = old;
			rt_free(t);
			free(s->pkts);
			free(s);
			return mg_error_set(err, ENOMEM, "", "out of memory");
		}
		rt_free(old_rt);
		if (old != NULL) {
			free(old->pkts);
			free(old);
		}
	}
	c->gen++;
	return 0;
}

void
mg_trace_clear(struct mg_capture *c)
{
	if (c->trace_rt == NULL && c->trace == NULL)
		return;
	{
		struct mg_trace_rt *t = c->trace_rt;

		c->trace_rt = NULL;
		capture_publish(c);
		rt_free(t);
	}
	if (c->trace != NULL) {
		free(c->trace->pkts);
		free(c->trace);
		c->trace = NULL;
	}
	c->gen++;
}

/* ---- rendering ------------------------------------------------------------------------- */

static const char *
proto_name(uint8_t p, char *buf, size_t n)
{
	switch (p) {
	case IPPROTO_ICMP: return "ICMP";
	case IPPROTO_TCP: return "TCP";
	case IPPROTO_UDP: return "UDP";
	case IPPROTO_ICMPV6: return "ICMPv6";
	case IPPROTO_SCTP: return "SCTP";
	case IPPROTO_ESP: return "ESP";
	case IPPROTO_GRE: return "GRE";
	default: snprintf(buf, n, "proto %u", p); return buf;
	}
}

/* "IPv4 10.0.0.1 -> 10.0.0.2 UDP 1234 -> 53 ttl 64 len 84" from the first bytes. */
static int
describe_l3(const uint8_t *p, size_t n, char *out, size_t on)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN], pb[16], l4[64] = "";
	const uint8_t *l4p;
	size_t l4n;
	uint8_t proto;
	int w;

	if (n >= 20 && (p[0] >> 4) == 4) {
		size_t ihl = (size_t)(p[0] & 15) * 4;

		inet_ntop(AF_INET, p + 12, a, sizeof(a));
		inet_ntop(AF_INET, p + 16, b, sizeof(b));
		proto = p[9];
		l4p = p + ihl;
		l4n = n > ihl ? n - ihl : 0;
		w = snprintf(out, on, "IPv4 %s -> %s %s ttl %u len %u", a, b,
			     proto_name(proto, pb, sizeof(pb)), p[8], (p[2] << 8) | p[3]);
	} else if (n >= 40 && (p[0] >> 4) == 6) {
		inet_ntop(AF_INET6, p + 8, a, sizeof(a));
		inet_ntop(AF_INET6, p + 24, b, sizeof(b));
		proto = p[6];
		l4p = p + 40;
		l4n = n - 40;
		w = snprintf(out, on, "IPv6 %s -> %s %s hlim %u len %u", a, b,
			     proto_name(proto, pb, sizeof(pb)), p[7], ((p[4] << 8) | p[5]) + 40);
	} else {
		return snprintf(out, on, "%zu bytes, not IP", n);
	}
	if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP) && l4n >= 4)
		snprintf(l4, sizeof(l4), " %u -> %u", (l4p[0] << 8) | l4p[1], (l4p[2] << 8) | l4p[3]);
	else if ((proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) && l4n >= 2)
		snprintf(l4, sizeof(l4), " type %u code %u", l4p[0], l4p[1]);
	if (w > 0 && (size_t)w < on)
		w += snprintf(out + w, on - (size_t)w, "%s", l4);
	return w;
}

static void
describe(const struct mg_capture *c, const struct trace_rec *r, const char *node, char *out,
	 size_t on)
{
	const struct mg_meta *md = &r->md;
	bool l2 = !(md->flags & MG_META_L3) || !strcmp(node, "eth-input") ||
		  !strcmp(node, "port-tx");
	const uint8_t *p = r->data;
	size_t n = r->ndata, w = 0;
	char name[64], what[256];

#define OUT(...)                                                                           \
	do {                                                                               \
		if (w < on)                                                                \
			w += (size_t)snprintf(out + w, on - w, __VA_ARGS__);              \
	} while (0)

	if (l2 && !strcmp(node, "eth-input")) {
		c->env.name(c->env.ctx, MG_NAME_PORT, r->port, name, sizeof(name));
		OUT("rx port %s, %u bytes: ", name, r->pkt_len);
	}
	if (l2 && n >= 14) {
		uint16_t et = (uint16_t)((p[12] << 8) | p[13]);
		size_t off = 14;

		OUT("%02x:%02x:%02x:%02x:%02x:%02x -> %02x:%02x:%02x:%02x:%02x:%02x", p[6], p[7], p[8],
		    p[9], p[10], p[11], p[0], p[1], p[2], p[3], p[4], p[5]);
		if (et == RTE_ETHER_TYPE_VLAN && n >= 18) {
			OUT(" vlan %u", ((p[14] << 8) | p[15]) & 0xfff);
			et = (uint16_t)((p[16] << 8) | p[17]);
			off = 18;
		}
		if (et == RTE_ETHER_TYPE_IPV4 || et == RTE_ETHER_TYPE_IPV6) {
			describe_l3(p + off, n - off, what, sizeof(what));
			OUT(", %s", what);
		} else if (et == RTE_ETHER_TYPE_ARP) {
			OUT(", ARP");
		} else {
			OUT(", ethertype 0x%04x", et);
		}
	} else if (!l2) {
		describe_l3(p, n, what, sizeof(what));
		OUT("%s", what);
	}
	/* What the node before decided. */
	if (strcmp(node, "eth-input") != 0 && md->rx_if != MG_IF_NONE &&
	    md->net < MG_MAX_NETS) {
		c->env.name(c->env.ctx, MG_NAME_NET, md->net, name, sizeof(name));
		OUT("; network %s", name);
	}
	if (!strcmp(node, "drop")) {
		OUT("; dropped: %s", mg_drop_name(md->drop));
	} else if (!strcmp(node, "ip4-icmp-error") || !strcmp(node, "ip6-icmp-error")) {
		OUT("; %s, ICMP error type %u code %u to the sender", mg_drop_name(md->drop),
		    md->icmp_type, md->icmp_code);
	} else if (!strcmp(node, "punt")) {
		static const char *const punts[] = {"?", "ARP", "neighbor discovery",
						    "resolve the destination",
						    "resolve the next hop"};

		OUT("; to the main lcore: %s", md->punt < RTE_DIM(punts) ? punts[md->punt] : "?");
	} else if (!strcmp(node, "port-tx")) {
		c->env.name(c->env.ctx, MG_NAME_PORT, r->port, name, sizeof(name));
		OUT("; tx port %s", name);
		if (r->adj_type == MG_ADJ_NEIGHBOR && r->adj_if != UINT16_MAX) {
			c->env.name(c->env.ctx, MG_NAME_IFACE, r->adj_if, name, sizeof(name));
			OUT(" via interface %s (adjacency %u)", name, md->adj);
		}
	} else if (md->adj != 0 && r->adj_type != 0 && strcmp(node, "eth-input") != 0 &&
		   strcmp(node, "ip4-lookup") != 0 && strcmp(node, "ip6-lookup") != 0) {
		/* (The lookup nodes set the adjacency: what they are handed is stale.) */
		static const char *const types[] = {"retry", "no route", "drop", "unreachable",
						    "prohibit", "local", "glean", "neighbor",
						    "service", "wireguard", "esp"};

		OUT("; adjacency %u (%s)", md->adj,
		    r->adj_type < RTE_DIM(types) ? types[r->adj_type] : "?");
	}
#undef OUT
}

unsigned int
mg_trace_get(const struct mg_capture *c, struct mg_trace_info *info, mg_trace_hop_cb cb,
	     void *ctx)
{
	const struct trace_store *s = c->trace;
	uint64_t hz = rte_get_tsc_hz();

	memset(info, 0, sizeof(*info));
	if (s == NULL)
		return 0;
	trace_drain((struct mg_capture *)c);
	info->active = true;
	mg_strlcpy(info->filter, s->filter, sizeof(info->filter));
	info->count = s->count;
	info->packets = s->npkts;
	info->lost = s->lost;
	if (c->trace_rt != NULL) {
		int32_t left = __atomic_load_n(&c->trace_rt->remaining, __ATOMIC_RELAXED);

		info->remaining = left > 0 ? (uint32_t)left : 0;
		for (unsigned int w = 0; w < c->trace_rt->nworkers; w++)
			info->lost += c->trace_rt->w[w].lost;
	}
	if (cb == NULL)
		return s->npkts;
	for (uint32_t i = 0; i < s->count; i++) {
		const struct trace_pkt *p = &s->pkts[i];

		for (uint16_t h = 0; h < p->n; h++) {
			const struct trace_rec *r = &p->hop[h];
			const char *node = rte_node_id_to_name(r->node);
			char text[512];

			describe(c, r, node ? node : "?", text, sizeof(text));
			cb(ctx, p->pkt, p->worker, h, node ? node : "?",
			   (r->tsc - p->hop[0].tsc) * 1000000000ull / hz, text);
		}
	}
	return s->npkts;
}
