/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Captures: the main lcore compiles a filter, creates per-worker rings and
 * publishes the set of running captures to the workers (dp->capture, RCU);
 * workers copy matching packets into their ring from their graph walk; the
 * main lcore drains the rings into pcapng files and enforces the limits.
 *
 * A capture that stops is first unpublished, then (after a grace period, so
 * no worker still holds it) its rings are drained and freed and its file
 * closed. Its record stays until it is removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_bpf.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_graph.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>

#include "capture_priv.h"

RTE_LOG_REGISTER_SUFFIX(mg_capture_logtype, capture, INFO);
#define CAP_LOG(l, ...) rte_log(RTE_LOG_##l, mg_capture_logtype, "capture: " __VA_ARGS__)

#define CAP_RING 1024           /* per worker, per capture */
#define CAP_POOL 8191           /* copies in flight, all captures */
#define CAP_POLL_NS 10000000ull /* the main lcore drains at least this often */

enum point_kind { PT_PORT_RX = 1, PT_PORT_TX, PT_PORT_BOTH, PT_NODE, PT_DROP, PT_RULES };

/*
 * What a worker attaches to each copy, in the private area of the capture
 * pool's mbufs (the mbuf's dynamic field space is not ours to fill: the
 * gateway's metadata and drivers' fields such as net_pcap's timestamp use it).
 */
struct cap_meta {
	uint64_t tsc;
	uint32_t orig_len;
	uint8_t l3;     /* data starts at the IP header */
	uint8_t dir;    /* pcapng epb_flags direction: 1 inbound, 2 outbound, 0 unknown */
	uint8_t drop;   /* enum mg_drop, at the drop node */
	uint8_t pad;
};

#define CAP_PRIV RTE_ALIGN_CEIL(sizeof(struct cap_meta), RTE_MBUF_PRIV_ALIGN)

static inline struct cap_meta *
cap_meta(struct rte_mbuf *m)
{
	return rte_mbuf_to_priv(m);
}

/* The part of a capture the workers read. Immutable while published but for the counters. */
struct cap_rt {
	uint8_t kind;
	uint16_t port;
	rte_node_t node;        /* the node, or the RX side (eth-input) */
	rte_node_t node_tx;     /* port-tx for PT_PORT_TX/BOTH, ip4-icmp-error for PT_DROP */
	rte_node_t node_x;      /* ip6-icmp-error for PT_DROP, else RTE_NODE_ID_INVALID */
	bool node_is_l2;        /* eth-input: data at L2 and the metadata not filled yet */
	struct rte_bpf *bpf[2]; /* [0] Ethernet frames, [1] IP packets; NULL: take all */
	uint64_t (*jit[2])(void *);
	bool never[2];          /* the filter cannot apply to that link type */
	uint32_t snaplen;
	struct rte_mempool *pool;
	volatile int stop;
	unsigned int nworkers;
	struct rte_ring *ring[MG_MAX_WORKERS];
	struct {
		uint64_t dropped;
	} __rte_cache_aligned wstat[MG_MAX_WORKERS];
};

/* The main lcore's record of a capture. */
struct cap {
	bool used;
	struct mg_capture_info info;
	struct cap_rt *rt;      /* NULL once stopped and drained */
	FILE *f;
	uint64_t tsc0;          /* TSC at start ... */
	uint64_t wall0;         /* ... and the wall clock then, for timestamps */
	uint64_t deadline;      /* TSC, 0: none */
};


/* ---- workers ------------------------------------------------------------------------ */

uint64_t
mg_capture_node_mask(const struct mg_cap_set *cs)
{
	return cs->node_mask;
}

/* Does the filter of @c take @m (data of link type @l3)? */
static inline bool
cap_match(const struct cap_rt *c, struct rte_mbuf *m, int l3)
{
	if (c->never[l3])
		return false;
	if (c->bpf[l3] == NULL)
		return true;
	if (c->jit[l3] != NULL)
		return c->jit[l3](m) != 0;
	return rte_bpf_exec(c->bpf[l3], m) != 0;
}

void
mg_capture_node(struct mg_worker *w, const struct mg_cap_set *cs, rte_node_t node, void **objs,
		uint16_t n)
{
	uint64_t tsc = rte_rdtsc();

	if (cs->trace != NULL)
		mg_trace_node(w, cs->trace, cs->dp, node, objs, n, tsc);
	for (unsigned int k = 0; k < cs->n; k++) {
		struct cap_rt *c = cs->c[k];
		uint8_t dir;

		if (c->stop)
			continue;
		if (c->kind == PT_RULES) {
			if (node != c->node && node != c->node_tx)
				continue;
			dir = 0;
		} else if (c->kind == PT_DROP) {
			/* Packets turned into ICMP errors are dropped too, in those nodes. */
			if (node != c->node && node != c->node_tx && node != c->node_x)
				continue;
			dir = 0;
		} else if (node == c->node)
			dir = c->kind == PT_PORT_RX || c->kind == PT_PORT_BOTH ? 1
			      : c->kind == PT_PORT_TX			   ? 2
									   : 0;
		else if (node == c->node_tx)
			dir = 2;
		else
			continue;
		for (uint16_t i = 0; i < n; i++) {
			struct rte_mbuf *m = objs[i], *cp;
			const struct mg_meta *md = mg_meta(m);
			int l3 = (node == c->node && c->node_is_l2) ? 0 : !!(md->flags & MG_META_L3);
			struct cap_meta *cm;

			if (dir != 0 && m->port != c->port)
				continue;
			if (c->kind == PT_RULES && !(md->flags & MG_META_CAPTURE))
				continue;
			/* Seen at the icmp-error node already (its error could not be sent). */
			if (c->kind == PT_DROP && node == c->node && (md->flags & MG_META_ICMP_SEEN))
				continue;
			if (!cap_match(c, m, l3))
				continue;
			/* A copy, never the packet: a full ring or pool costs only the copy. */
			cp = rte_pktmbuf_copy(m, c->pool, 0, c->snaplen);
			if (unlikely(cp == NULL)) {
				c->wstat[w->index].dropped++;
				continue;
			}
			cm = cap_meta(cp);
			cm->tsc = tsc;
			cm->orig_len = m->pkt_len;
			cm->l3 = (uint8_t)l3;
			cm->dir = dir;
			cm->drop = c->kind == PT_DROP ? md->drop : 0;
			if (unlikely(rte_ring_sp_enqueue(c->ring[w->index], cp) != 0)) {
				rte_pktmbuf_free(cp);
				c->wstat[w->index].dropped++;
			}
		}
	}
}

/* ---- pcapng --------------------------------------------------------------------------- */

/* Append a pcapng option (code, length, value padded to 4 bytes) to @b. */
static size_t
opt(uint8_t *b, uint16_t code, const void *val, uint16_t len)
{
	static const uint8_t zero[4];

	memcpy(b, &code, 2);
	memcpy(b + 2, &len, 2);
	memcpy(b + 4, val, len);
	memcpy(b + 4 + len, zero, (4 - len % 4) % 4);
	return 4 + len + (4 - len % 4) % 4;
}

/* A whole block: type, total length, body, total length again. */
static int
put_block(FILE *f, uint32_t type, const uint8_t *body, size_t len)
{
	uint32_t tot = (uint32_t)(len + 12);

	if (fwrite(&type, 4, 1, f) != 1 || fwrite(&tot, 4, 1, f) != 1 ||
	    (len && fwrite(body, len, 1, f) != 1) || fwrite(&tot, 4, 1, f) != 1)
		return -EIO;
	return 0;
}

/* Section header and the two interfaces (0: Ethernet, 1: raw IP) of a capture. */
static int
pcapng_header(FILE *f, const struct mg_capture_spec *s, uint32_t snaplen)
{
	uint8_t b[512];
	size_t n = 0;
	uint32_t magic = 0x1A2B3C4D, end = 0;
	uint16_t major = 1, minor = 0;
	uint64_t seclen = UINT64_MAX;
	char name[160];
	uint8_t tsresol = 9;

	memcpy(b, &magic, 4);
	memcpy(b + 4, &major, 2);
	memcpy(b + 6, &minor, 2);
	memcpy(b + 8, &seclen, 8);
	n = 16;
	n += opt(b + n, 4, "meshgate", 8); /* shb_userappl */
	memcpy(b + n, &end, 4);
	n += 4;
	if (put_block(f, 0x0A0D0D0A, b, n) < 0)
		return -EIO;
	{
		uint16_t linktype = 1 /* ETHERNET */, rsv = 0;

		memcpy(b, &linktype, 2);
		memcpy(b + 2, &rsv, 2);
		memcpy(b + 4, &snaplen, 4);
		n = 8;
		snprintf(name, sizeof(name), "%s", s->point);
		n += opt(b + n, 2, name, (uint16_t)strlen(name)); /* if_name */
		if (s->filter[0] != '\0') {
			uint8_t fb[sizeof(s->filter) + 1];
			size_t fl = strnlen(s->filter, sizeof(s->filter) - 1);

			fb[0] = 0; /* libpcap filter string */
			memcpy(fb + 1, s->filter, fl);
			n += opt(b + n, 11, fb, (uint16_t)(fl + 1)); /* if_filter */
		}
		n += opt(b + n, 9, &tsresol, 1); /* if_tsresol: nanoseconds */
		memcpy(b + n, &end, 4);
		n += 4;
		if (put_block(f, 1, b, n) < 0)
			return -EIO;
	}
	return 0;
}

/* One packet: an enhanced packet block with its drop reason and direction. */
static int
pcapng_packet(FILE *f, struct rte_mbuf *m, uint64_t ts_ns)
{
	const struct cap_meta *cm = cap_meta(m);
	uint8_t hdr[20], opts[192], eth[14] = {0};
	/* One Ethernet interface per file (libpcap reads no mix of link types): packets
	 * captured without their L2 header get a stand-in one (zero MACs), flagged. */
	uint32_t l2 = cm->l3 ? sizeof(eth) : 0, ifid = 0, caplen = m->pkt_len + l2,
		 hi = (uint32_t)(ts_ns >> 32), lo = (uint32_t)ts_ns, orig = cm->orig_len + l2,
		 type = 6, end = 0, tot;
	size_t no = 0, pad = (4 - caplen % 4) % 4;
	static const uint8_t zero[4];
	const struct rte_mbuf *s;
	char c[128];
	int cl = 0;

	if (cm->drop != 0)
		cl = snprintf(c, sizeof(c), "drop reason: %s", mg_drop_name(cm->drop));
	if (l2) {
		const uint8_t *ip = rte_pktmbuf_mtod(m, const uint8_t *);

		eth[12] = m->data_len > 0 && (ip[0] >> 4) == 6 ? 0x86 : 0x08;
		eth[13] = m->data_len > 0 && (ip[0] >> 4) == 6 ? 0xdd : 0x00;
		cl += snprintf(c + cl, sizeof(c) - (size_t)cl, "%sno L2 header at this point",
			       cl ? "; " : "");
	}
	if (cl > 0)
		no += opt(opts + no, 1, c, (uint16_t)RTE_MIN(cl, (int)sizeof(c) - 1)); /* opt_comment */
	if (cm->dir != 0) {
		uint32_t flags = cm->dir; /* bits 0-1: 1 inbound, 2 outbound */

		no += opt(opts + no, 2, &flags, 4); /* epb_flags */
	}
	if (no) {
		memcpy(opts + no, &end, 4);
		no += 4;
	}
	memcpy(hdr, &ifid, 4);
	memcpy(hdr + 4, &hi, 4);
	memcpy(hdr + 8, &lo, 4);
	memcpy(hdr + 12, &caplen, 4);
	memcpy(hdr + 16, &orig, 4);
	tot = (uint32_t)(12 + sizeof(hdr) + caplen + pad + no);
	if (fwrite(&type, 4, 1, f) != 1 || fwrite(&tot, 4, 1, f) != 1 ||
	    fwrite(hdr, sizeof(hdr), 1, f) != 1 || (l2 && fwrite(eth, l2, 1, f) != 1))
		return -EIO;
	for (s = m; s != NULL; s = s->next)
		if (s->data_len && fwrite(rte_pktmbuf_mtod(s, const void *), s->data_len, 1, f) != 1)
			return -EIO;
	if ((pad && fwrite(zero, pad, 1, f) != 1) || (no && fwrite(opts, no, 1, f) != 1) ||
	    fwrite(&tot, 4, 1, f) != 1)
		return -EIO;
	return 0;
}

/* ---- main lcore ------------------------------------------------------------------------ */

static uint64_t
wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct cap *
cap_find(const struct mg_capture *c, uint32_t id)
{
	for (unsigned int i = 0; i < CAP_RECORDS; i++)
		if (c->caps[i].used && c->caps[i].info.id == id)
			return (struct cap *)&c->caps[i];
	return NULL;
}

/* Publish the running captures (and trace) to the workers; the old set is gone on return. */
int
capture_publish(struct mg_capture *c)
{
	struct mg_cap_set *ns = NULL, *old = c->set;

	for (unsigned int i = 0; i < CAP_RECORDS; i++) {
		struct cap *k = &c->caps[i];

		if (!k->used || k->rt == NULL || k->rt->stop)
			continue;
		if (ns == NULL && (ns = rte_zmalloc("mg_cap_set", sizeof(*ns), 0)) == NULL)
			return -ENOMEM;
		ns->dp = c->env.dp;
		ns->c[ns->n++] = k->rt;
		if (k->rt->node < 64)
			ns->node_mask |= 1ull << k->rt->node;
		if (k->rt->node_tx < 64)
			ns->node_mask |= 1ull << k->rt->node_tx;
		if (k->rt->node_x < 64)
			ns->node_mask |= 1ull << k->rt->node_x;
	}
	if (c->trace_rt != NULL) {
		if (ns == NULL && (ns = rte_zmalloc("mg_cap_set", sizeof(*ns), 0)) == NULL)
			return -ENOMEM;
		ns->trace = c->trace_rt;
		ns->dp = c->env.dp;
		ns->node_mask = UINT64_MAX; /* a traced packet records every node it enters */
	}
	__atomic_store_n(&c->env.dp->capture, ns, __ATOMIC_RELEASE);
	c->set = ns;
	/* Workers may hold the old set (and the captures it lists) until their walk ends. */
	mg_dp_sync(c->env.dp);
	rte_free(old);
	return 0;
}

/* Write one copy to @k's file (within its limits), then free it. */
static void
write_one(struct mg_capture *c, struct cap *k, struct rte_mbuf *m, bool *discard, bool *wrote)
{
	const struct mg_capture_spec *s = &k->info.spec;
	uint64_t ts = k->wall0 + (cap_meta(m)->tsc - k->tsc0) * 1000000000ull / c->hz;

	if (!*discard && k->f != NULL && (s->max_packets == 0 || k->info.packets < s->max_packets) &&
	    (s->max_bytes == 0 || k->info.bytes < s->max_bytes)) {
		if (pcapng_packet(k->f, m, ts) < 0) {
			snprintf(k->info.stop_reason, sizeof(k->info.stop_reason), "write error: %s",
				 strerror(errno));
			*discard = true;
			k->rt->stop = 1;
		} else {
			k->info.packets++;
			k->info.bytes += m->pkt_len;
			*wrote = true;
		}
	}
	rte_pktmbuf_free(m);
}

#define DRAIN_BURST 32

/*
 * Write what one capture's rings hold; @discard throws it away instead.
 * Each worker's ring is in time order; the copies of several workers are
 * merged by their timestamps, so a request seen by one worker and its reply
 * seen by another are written in the order they happened.
 */
static void
drain(struct mg_capture *c, struct cap *k, bool discard)
{
	struct cap_rt *rt = k->rt;
	struct rte_mbuf *b[MG_MAX_WORKERS][DRAIN_BURST];
	unsigned int n[MG_MAX_WORKERS], at[MG_MAX_WORKERS];
	bool wrote = false;

	for (unsigned int w = 0; w < rt->nworkers; w++) {
		n[w] = rte_ring_sc_dequeue_burst(rt->ring[w], (void **)b[w], DRAIN_BURST, NULL);
		at[w] = 0;
	}
	for (;;) {
		unsigned int best = UINT_MAX;

		for (unsigned int w = 0; w < rt->nworkers; w++) {
			if (at[w] == n[w])
				continue;
			if (best == UINT_MAX ||
			    (int64_t)(cap_meta(b[w][at[w]])->tsc - cap_meta(b[best][at[best]])->tsc) < 0)
				best = w;
		}
		if (best == UINT_MAX)
			break;
		write_one(c, k, b[best][at[best]], &discard, &wrote);
		if (++at[best] == n[best]) {
			/* Refill from that worker's ring; an empty ring leaves it out. */
			n[best] = rte_ring_sc_dequeue_burst(rt->ring[best], (void **)b[best],
							    DRAIN_BURST, NULL);
			at[best] = 0;
		}
	}
	if (wrote) {
		fflush(k->f);
		c->gen++;
	}
}

/* Counters the workers keep for @k. */
static void
sum_dropped(struct cap *k)
{
	uint64_t d = 0;

	if (k->rt == NULL)
		return;
	for (unsigned int w = 0; w < k->rt->nworkers; w++)
		d += __atomic_load_n(&k->rt->wstat[w].dropped, __ATOMIC_RELAXED);
	k->info.dropped = d;
}

static void
rt_free(struct cap_rt *rt)
{
	if (rt == NULL)
		return;
	for (unsigned int w = 0; w < rt->nworkers; w++)
		rte_ring_free(rt->ring[w]);
	for (int i = 0; i < 2; i++)
		rte_bpf_destroy(rt->bpf[i]);
	rte_free(rt);
}

/* Stop @k: unpublish, drain, close. @reason says why. */
static void
cap_finish(struct mg_capture *c, struct cap *k, const char *reason)
{
	if (k->rt == NULL)
		return;
	k->rt->stop = 1;
	capture_publish(c);
	drain(c, k, false);
	sum_dropped(k);
	rt_free(k->rt);
	k->rt = NULL;
	if (k->f != NULL) {
		fflush(k->f);
		fsync(fileno(k->f));
		fclose(k->f);
		k->f = NULL;
	}
	k->info.running = false;
	k->info.stopped_ns = wall_ns();
	if (k->info.stop_reason[0] == '\0')
		mg_strlcpy(k->info.stop_reason, reason, sizeof(k->info.stop_reason));
	c->gen++;
	CAP_LOG(INFO, "capture %u stopped (%s): %lu packets, %lu copies dropped, %s\n",
		k->info.id, k->info.stop_reason, (unsigned long)k->info.packets,
		(unsigned long)k->info.dropped, k->info.path);
}

/*
 * Replace each eBPF JSET ("if (dst & src) goto") with MOV r9, dst; AND r9,
 * src; JNE r9, 0: DPDK 22.11's x86 JIT emits a faulting sequence for JSET
 * after a byte load (libpcap writes one for "tcp[tcpflags] & tcp-syn != 0"),
 * and the interpreter costs 40% of the forwarding rate. Converted programs
 * never use r9. Returns a new parameter block (the old one is freed), or
 * NULL when out of memory.
 */
static struct rte_bpf_prm *
rewrite_jset(struct rte_bpf_prm *prm)
{
	uint32_t n = prm->nb_ins, extra = 0, j = 0, *map;
	struct rte_bpf_prm *np;
	struct ebpf_insn *out;

	for (uint32_t i = 0; i < n; i++)
		if (BPF_CLASS(prm->ins[i].code) == BPF_JMP && BPF_OP(prm->ins[i].code) == BPF_JSET)
			extra += 2;
	if (extra == 0)
		return prm;
	map = calloc(n + 1, sizeof(*map));
	np = rte_zmalloc("mg_bpf_prm", sizeof(*np) + (n + extra) * sizeof(*out), 0);
	if (map == NULL || np == NULL) {
		free(map);
		rte_free(np);
		rte_free(prm);
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++) {
		map[i] = j;
		j += BPF_CLASS(prm->ins[i].code) == BPF_JMP && BPF_OP(prm->ins[i].code) == BPF_JSET
			     ? 3 : 1;
	}
	map[n] = j;
	*np = *prm;
	out = (struct ebpf_insn *)(np + 1);
	j = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct ebpf_insn in = prm->ins[i];
		uint8_t cls = BPF_CLASS(in.code), op = BPF_OP(in.code);
		bool jump = cls == BPF_JMP && op != EBPF_CALL && op != EBPF_EXIT;
		int64_t target = (int64_t)i + 1 + in.off;

		if (jump && (target < 0 || target > (int64_t)n)) {
			free(map);
			rte_free(np);
			rte_free(prm);
			return NULL;
		}
		if (cls == BPF_JMP && op == BPF_JSET) {
			out[j++] = (struct ebpf_insn){.code = EBPF_ALU64 | EBPF_MOV | BPF_X,
						      .dst_reg = EBPF_REG_9, .src_reg = in.dst_reg};
			if (BPF_SRC(in.code) == BPF_K)
				out[j++] = (struct ebpf_insn){.code = EBPF_ALU64 | BPF_AND | BPF_K,
							      .dst_reg = EBPF_REG_9, .imm = in.imm};
			else
				out[j++] = (struct ebpf_insn){.code = EBPF_ALU64 | BPF_AND | BPF_X,
							      .dst_reg = EBPF_REG_9,
							      .src_reg = in.src_reg};
			in = (struct ebpf_insn){.code = BPF_JMP | EBPF_JNE | BPF_K,
						.dst_reg = EBPF_REG_9, .imm = 0};
		}
		if (jump)
			in.off = (int16_t)((int64_t)map[target] - (int64_t)(j + 1));
		out[j++] = in;
	}
	np->ins = out;
	np->nb_ins = j;
	free(map);
	rte_free(prm);
	return np;
}

/* Compile @filter for link type @dlt into an eBPF program (and its JIT, if any). */
int
capture_compile_filter(const char *filter, int dlt, uint32_t snaplen, struct rte_bpf **bpf,
		       uint64_t (**jit)(void *), struct mg_error *err)
{
	pcap_t *p = pcap_open_dead(dlt, (int)snaplen);
	struct bpf_program prog;
	struct rte_bpf_prm *prm;
	struct rte_bpf_jit j;
	*bpf = NULL;
	*jit = NULL;
	if (p == NULL)
		return mg_error_set(err, ENOMEM, "filter", "libpcap: out of memory");
	if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		mg_error_set(err, EINVAL, "filter", "%s", pcap_geterr(p));
		pcap_close(p);
		return -EINVAL;
	}
	pcap_close(p);
	prm = rte_bpf_convert(&prog);
	pcap_freecode(&prog);
	if (prm == NULL)
		return mg_error_set(err, EINVAL, "filter", "cannot convert the filter to eBPF: %s",
				    rte_strerror(rte_errno));
	/*
	 * DPDK's converter maps classic "ld [x + k]" to an eBPF indirect load
	 * indexed by the A register (src_reg 0) instead of X (R7), so every
	 * filter that looks past a variable-length IPv4 header ("tcp port 80",
	 * "icmp[0] == 8") would read the wrong bytes. Point them at X.
	 */
	for (uint32_t i = 0; i < prm->nb_ins; i++) {
		struct ebpf_insn *ins = (struct ebpf_insn *)(uintptr_t)&prm->ins[i];

		if (BPF_CLASS(ins->code) == BPF_LD && BPF_MODE(ins->code) == BPF_IND)
			ins->src_reg = EBPF_REG_7;
	}
	prm = rewrite_jset(prm);
	if (prm == NULL)
		return mg_error_set(err, ENOMEM, "filter", "out of memory for the filter");
	*bpf = rte_bpf_load(prm);
	rte_free(prm);
	if (*bpf == NULL)
		return mg_error_set(err, EINVAL, "filter", "cannot load the filter: %s",
				    rte_strerror(rte_errno));
	if (rte_bpf_get_jit(*bpf, &j) == 0 && j.func != NULL)
		*jit = j.func;
	return 0;
}

static int
compile(struct cap_rt *rt, int i, int dlt, const char *filter, uint32_t snaplen,
	struct mg_error *err)
{
	return capture_compile_filter(filter, dlt, snaplen, &rt->bpf[i], &rt->jit[i], err);
}

/* Parse "port:NAME:rx", "node:NAME", "drop" into @rt. */
static int
parse_point(struct mg_capture *c, const char *pt, struct cap_rt *rt, struct mg_error *err)
{
	rt->node_tx = RTE_NODE_ID_INVALID;
	rt->node_x = RTE_NODE_ID_INVALID;
	if (strcmp(pt, "rules") == 0) {
		/* Packets a classification rule's capture action flagged, as the lookup gets them. */
		rt->kind = PT_RULES;
		rt->node = c->lookup4;
		rt->node_tx = c->lookup6;
		return 0;
	}
	if (strcmp(pt, "drop") == 0) {
		rt->kind = PT_DROP;
		rt->node = c->drop;
		rt->node_tx = c->icmp4;
		rt->node_x = c->icmp6;
		return 0;
	}
	if (strncmp(pt, "node:", 5) == 0) {
		rt->kind = PT_NODE;
		rt->node = rte_node_from_name(pt + 5);
		if (rt->node == RTE_NODE_ID_INVALID || rt->node >= 64)
			return mg_error_set(err, ENOENT, "point", "no graph node named '%s' (see "
					    "meshgatectl nodes)", pt + 5);
		rt->node_is_l2 = rt->node == c->eth_input;
		return 0;
	}
	if (strncmp(pt, "port:", 5) == 0) {
		char name[MG_NAME_MAX + 8];
		char *colon;

		mg_strlcpy(name, pt + 5, sizeof(name));
		colon = strchr(name, ':');
		rt->kind = PT_PORT_BOTH;
		if (colon != NULL) {
			*colon = '\0';
			if (strcmp(colon + 1, "rx") == 0)
				rt->kind = PT_PORT_RX;
			else if (strcmp(colon + 1, "tx") == 0)
				rt->kind = PT_PORT_TX;
			else
				return mg_error_set(err, EINVAL, "point",
						    "'%s': the direction is rx or tx", pt);
		}
		if (c->env.port_id == NULL || c->env.port_id(c->env.ctx, name, &rt->port) < 0)
			return mg_error_set(err, ENOENT, "point", "no port named '%s'", name);
		rt->node = rt->kind == PT_PORT_TX ? RTE_NODE_ID_INVALID : c->eth_input;
		rt->node_is_l2 = true;
		if (rt->kind != PT_PORT_RX)
			rt->node_tx = c->port_tx;
		if (rt->kind == PT_PORT_TX) {
			rt->node = c->port_tx;
			rt->node_tx = RTE_NODE_ID_INVALID;
			rt->node_is_l2 = false;
		}
		return 0;
	}
	return mg_error_set(err, EINVAL, "point",
			    "'%s' is not port:NAME[:rx|:tx], node:NAME, drop or rules", pt);
}

int
mg_capture_start(struct mg_capture *c, const struct mg_capture_spec *s, uint32_t *id,
		 struct mg_error *err)
{
	struct cap *k = NULL;
	struct cap_rt *rt;
	unsigned int running = 0;
	char path[512];
	int fd, rc;

	for (unsigned int i = 0; i < CAP_RECORDS; i++) {
		if (c->caps[i].used && c->caps[i].rt != NULL)
			running++;
		if (!c->caps[i].used && k == NULL)
			k = &c->caps[i];
	}
	if (running >= MG_CAPTURE_MAX)
		return mg_error_set(err, ENOSPC, "", "the capture table is full: %u captures are "
				    "running already (the most)",
				    MG_CAPTURE_MAX);
	if (k == NULL)
		return mg_error_set(err, ENOSPC, "", "%u capture records are kept: remove some",
				    CAP_RECORDS);
	if (s->snaplen > 262144)
		return mg_error_set(err, EINVAL, "snaplen", "%u is more than 262144", s->snaplen);
	if (s->buffer != 0 && (s->buffer < 16 || s->buffer > 65536))
		return mg_error_set(err, EINVAL, "buffer", "%u is not in 16..65536", s->buffer);
	if (s->file[0] != '\0' && (strchr(s->file, '/') != NULL || s->file[0] == '.'))
		return mg_error_set(err, EINVAL, "file",
				    "'%s' is not a plain file name (files go in %s)", s->file,
				    c->env.dir);
	rt = rte_zmalloc("mg_cap_rt", sizeof(*rt), RTE_CACHE_LINE_SIZE);
	if (rt == NULL)
		return mg_error_set(err, ENOMEM, "", "out of memory");
	rt->snaplen = s->snaplen ? s->snaplen : 65535;
	rc = parse_point(c, s->point, rt, err);
	if (rc == 0 && s->filter[0] != '\0') {
		struct mg_error e4, e6;
		int r0 = compile(rt, 0, DLT_EN10MB, s->filter, rt->snaplen, &e4);
		int r1 = compile(rt, 1, DLT_RAW, s->filter, rt->snaplen, &e6);

		/* "ether host X" has no meaning for bare IP packets: those just never match. */
		rt->never[0] = r0 < 0;
		rt->never[1] = r1 < 0;
		if (r0 < 0 && r1 < 0) {
			*err = e4;
			rc = r0;
		} else if ((rt->kind == PT_PORT_RX || rt->kind == PT_PORT_BOTH ||
			    rt->kind == PT_PORT_TX) && r0 < 0) {
			*err = e4;
			rc = r0;
		}
	}
	if (rc < 0) {
		rt_free(rt);
		return rc;
	}
	if (c->pool == NULL) {
		c->pool = rte_pktmbuf_pool_create("mg_capture", CAP_POOL, 256, CAP_PRIV,
						  RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
		if (c->pool == NULL) {
			rt_free(rt);
			return mg_error_set(err, ENOMEM, "", "no memory for the capture pool: %s",
					    rte_strerror(rte_errno));
		}
	}
	rt->pool = c->pool;
	rt->nworkers = c->env.dp->nb_workers;
	for (unsigned int w = 0; w < rt->nworkers; w++) {
		char name[RTE_RING_NAMESIZE];

		snprintf(name, sizeof(name), "mg_cap%u_%u", c->next_id, w);
		rt->ring[w] = rte_ring_create(name, s->buffer ? s->buffer : CAP_RING, SOCKET_ID_ANY,
					      RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
		if (rt->ring[w] == NULL) {
			rt_free(rt);
			return mg_error_set(err, ENOMEM, "", "cannot create a capture ring: %s",
					    rte_strerror(rte_errno));
		}
	}
	memset(k, 0, sizeof(*k));
	k->info.id = c->next_id;
	k->info.spec = *s;
	k->info.spec.snaplen = rt->snaplen;
	k->info.spec.buffer = s->buffer ? s->buffer : CAP_RING;
	if (s->file[0] != '\0')
		snprintf(path, sizeof(path), "%s/%s", c->env.dir, s->file);
	else
		snprintf(path, sizeof(path), "%s/capture-%u.pcapng", c->env.dir, k->info.id);
	mg_strlcpy(k->info.path, path, sizeof(k->info.path));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || (k->f = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		rt_free(rt);
		return mg_error_set(err, errno, "file", "cannot create %s: %s", path,
				    strerror(errno));
	}
	if (pcapng_header(k->f, &k->info.spec, rt->snaplen) < 0 || fflush(k->f) != 0) {
		fclose(k->f);
		k->f = NULL;
		unlink(path);
		rt_free(rt);
		return mg_error_set(err, EIO, "file", "cannot write %s", path);
	}
	k->tsc0 = rte_rdtsc();
	k->wall0 = wall_ns();
	k->deadline = s->max_seconds ? k->tsc0 + (uint64_t)s->max_seconds * c->hz : 0;
	k->info.started_ns = k->wall0;
	k->info.running = true;
	k->rt = rt;
	k->used = true;
	if (capture_publish(c) < 0) {
		k->used = false;
		k->rt = NULL;
		fclose(k->f);
		k->f = NULL;
		unlink(path);
		rt_free(rt);
		return mg_error_set(err, ENOMEM, "", "out of memory");
	}
	*id = c->next_id++;
	c->gen++;
	CAP_LOG(INFO, "capture %u at %s%s%s into %s\n", *id, s->point, s->filter[0] ? ", filter " : "",
		s->filter, path);
	return 0;
}

int
mg_capture_stop(struct mg_capture *c, uint32_t id, struct mg_error *err)
{
	struct cap *k = cap_find(c, id);

	if (k == NULL)
		return mg_error_set(err, ENOENT, "id", "no capture %u", id);
	cap_finish(c, k, "stopped");
	return 0;
}

int
mg_capture_remove(struct mg_capture *c, uint32_t id, struct mg_error *err)
{
	struct cap *k = cap_find(c, id);

	if (k == NULL)
		return mg_error_set(err, ENOENT, "id", "no capture %u", id);
	cap_finish(c, k, "stopped");
	k->used = false;
	c->gen++;
	return 0;
}

bool
mg_capture_get(const struct mg_capture *c, uint32_t id, struct mg_capture_info *out)
{
	struct cap *k = cap_find(c, id);

	if (k == NULL)
		return false;
	sum_dropped(k);
	*out = k->info;
	return true;
}

unsigned int
mg_capture_list(const struct mg_capture *c, struct mg_capture_info *out, unsigned int max)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < CAP_RECORDS && n < max; i++)
		if (c->caps[i].used) {
			sum_dropped((struct cap *)&c->caps[i]);
			out[n++] = c->caps[i].info;
		}
	return n;
}

unsigned int
mg_capture_running(const struct mg_capture *c)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < CAP_RECORDS; i++)
		n += c->caps[i].used && c->caps[i].rt != NULL;
	return n;
}

uint64_t
mg_capture_generation(const struct mg_capture *c)
{
	return c->gen;
}

void
mg_capture_poll(struct mg_capture *c, uint64_t now_ns)
{
	uint64_t tsc = rte_rdtsc();

	RTE_SET_USED(now_ns);
	trace_drain(c);
	for (unsigned int i = 0; i < CAP_RECORDS; i++) {
		struct cap *k = &c->caps[i];
		const struct mg_capture_spec *s = &k->info.spec;

		if (!k->used || k->rt == NULL)
			continue;
		drain(c, k, false);
		if (k->rt->stop)
			cap_finish(c, k, "stopped");
		else if (s->max_packets && k->info.packets >= s->max_packets)
			cap_finish(c, k, "packet limit");
		else if (s->max_bytes && k->info.bytes >= s->max_bytes)
			cap_finish(c, k, "byte limit");
		else if (k->deadline && tsc >= k->deadline)
			cap_finish(c, k, "time limit");
	}
}

uint64_t
mg_capture_timeout(const struct mg_capture *c)
{
	return c->set != NULL || c->trace_rt != NULL ? CAP_POLL_NS : UINT64_MAX;
}

/* ---- set-up ------------------------------------------------------------------------------ */

/* mkdir -p with mode 0700 for the last component. */
static int
mkdir_p(const char *dir)
{
	char tmp[256];

	mg_strlcpy(tmp, dir, sizeof(tmp));
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
				return -errno;
			*p = '/';
		}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

struct mg_capture *
mg_capture_create(const struct mg_capture_env *env, struct mg_error *err)
{
	struct mg_capture *c;
	int rc;

	if ((rc = mkdir_p(env->dir)) < 0) {
		mg_error_set(err, -rc, "control.capture_dir", "cannot create %s: %s", env->dir,
			     strerror(-rc));
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		mg_error_set(err, ENOMEM, "", "out of memory");
		return NULL;
	}
	c->caps = calloc(CAP_RECORDS, sizeof(*c->caps));
	if (c->caps == NULL) {
		free(c);
		mg_error_set(err, ENOMEM, "", "out of memory");
		return NULL;
	}
	c->env = *env;
	c->next_id = 1;
	c->hz = rte_get_tsc_hz();
	c->eth_input = rte_node_from_name("eth-input");
	c->port_tx = rte_node_from_name("port-tx");
	c->drop = rte_node_from_name("drop");
	c->icmp4 = rte_node_from_name("ip4-icmp-error");
	c->icmp6 = rte_node_from_name("ip6-icmp-error");
	c->lookup4 = rte_node_from_name("ip4-lookup");
	c->lookup6 = rte_node_from_name("ip6-lookup");
	return c;
}

void
mg_capture_destroy(struct mg_capture *c)
{
	if (c == NULL)
		return;
	for (unsigned int i = 0; i < CAP_RECORDS; i++)
		if (c->caps[i].used && c->caps[i].rt != NULL)
			cap_finish(c, &c->caps[i], "meshgate stopped");
	__atomic_store_n(&c->env.dp->capture, NULL, __ATOMIC_RELEASE);
	mg_dp_sync(c->env.dp);
	trace_destroy(c);
	__atomic_store_n(&c->env.dp->capture, NULL, __ATOMIC_RELEASE);
	rte_free(c->set);
	rte_mempool_free(c->pool);
	free(c->caps);
	free(c);
}
