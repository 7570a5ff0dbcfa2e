/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The flow tracker's tables: an rte_hash (extendable buckets, so all
 * 2 x capacity keys fit) from a key to (entry index << 1 | direction), a
 * preallocated entry array with a free stack, a round-robin expiry cursor
 * and an SP/SC ring of ended-flow records. The shape of lib/svc/flow.c,
 * with both directions always keyed and TCP followed by its flags.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "mg_ct.h"

#define CT_MAX_CAPACITY (1u << 26)

struct mg_ct_table {
	/** Settings, defaults filled in. */
	struct mg_ct_conf conf;
	/** Idle timeout per class, in ticks. */
	uint64_t timeout[MG_CT_T_MAX];
	/** Key -> (entry index << 1 | direction). */
	struct rte_hash *h;
	/** Ended-flow records (NULL: no export). */
	struct rte_ring *ring;
	/** Free entry indices, a stack of @c nfree. */
	uint32_t *free_stack;
	uint32_t nfree;
	/** Next entry mg_ct_expire visits. */
	uint32_t cursor;
	struct mg_ct_stats st;
	struct mg_ct_flow *flows;
};

static const char *const tcp_names[MG_CT_TCP_MAX] = {
	[MG_CT_TCP_NONE] = "",
	[MG_CT_TCP_SYN_SENT] = "syn-sent",
	[MG_CT_TCP_SYN_RECV] = "syn-recv",
	[MG_CT_TCP_ESTABLISHED] = "established",
	[MG_CT_TCP_FIN_WAIT] = "fin-wait",
	[MG_CT_TCP_TIME_WAIT] = "time-wait",
	[MG_CT_TCP_CLOSE] = "close",
};

const char *
mg_ct_tcp_state_name(unsigned int s)
{
	return s < MG_CT_TCP_MAX ? tcp_names[s] : "?";
}

static const char *const tclass_names[MG_CT_T_MAX] = {
	[MG_CT_T_TCP_OPENING] = "tcp_opening",
	[MG_CT_T_TCP_ESTABLISHED] = "tcp_established",
	[MG_CT_T_TCP_CLOSING] = "tcp_closing",
	[MG_CT_T_UDP] = "udp",
	[MG_CT_T_ICMP] = "icmp",
	[MG_CT_T_OTHER] = "other",
};

const char *
mg_ct_tclass_name(unsigned int c)
{
	return c < MG_CT_T_MAX ? tclass_names[c] : "?";
}

static const uint32_t default_timeout[MG_CT_T_MAX] = {
	[MG_CT_T_TCP_OPENING] = MG_CT_TIMEOUT_TCP_OPENING,
	[MG_CT_T_TCP_ESTABLISHED] = MG_CT_TIMEOUT_TCP_ESTABLISHED,
	[MG_CT_T_TCP_CLOSING] = MG_CT_TIMEOUT_TCP_CLOSING,
	[MG_CT_T_UDP] = MG_CT_TIMEOUT_UDP,
	[MG_CT_T_ICMP] = MG_CT_TIMEOUT_ICMP,
	[MG_CT_T_OTHER] = MG_CT_TIMEOUT_OTHER,
};

uint32_t
mg_ct_timeout_default(unsigned int c)
{
	return c < MG_CT_T_MAX ? default_timeout[c] : 0;
}

enum mg_ct_tclass
mg_ct_tclass_of(uint8_t proto)
{
	switch (proto) {
	case 6: return MG_CT_T_TCP_OPENING;
	case 17: return MG_CT_T_UDP;
	case 1:
	case 58: return MG_CT_T_ICMP;
	default: return MG_CT_T_OTHER;
	}
}

/* The timeout class of a TCP state. */
static inline uint8_t
tcp_tclass(enum mg_ct_tcp_state s)
{
	switch (s) {
	case MG_CT_TCP_NONE:
	case MG_CT_TCP_SYN_SENT:
	case MG_CT_TCP_SYN_RECV:
		return MG_CT_T_TCP_OPENING;
	case MG_CT_TCP_ESTABLISHED:
		return MG_CT_T_TCP_ESTABLISHED;
	default:
		return MG_CT_T_TCP_CLOSING;
	}
}

void
mg_ct_key_reverse(const struct mg_flow_key *k, struct mg_flow_key *out)
{
	*out = *k;
	memcpy(out->src, k->dst, sizeof(out->src));
	memcpy(out->dst, k->src, sizeof(out->dst));
	out->sport = k->dport;
	out->dport = k->sport;
}

enum mg_ct_tcp_state
mg_ct_tcp_next(enum mg_ct_tcp_state s, int dir, uint8_t flags, uint8_t *fins)
{
	const uint8_t syn_only = (flags & (MG_TCP_SYN | MG_TCP_ACK)) == MG_TCP_SYN;

	if (flags & MG_TCP_RST)
		return MG_CT_TCP_CLOSE;
	if (syn_only && (s == MG_CT_TCP_TIME_WAIT || s == MG_CT_TCP_CLOSE))
		return MG_CT_TCP_MAX;
	if (s == MG_CT_TCP_CLOSE)
		return s;
	if (flags & MG_TCP_FIN) {
		*fins |= (uint8_t)(1u << (dir & 1));
		return *fins == 3 ? MG_CT_TCP_TIME_WAIT : MG_CT_TCP_FIN_WAIT;
	}
	switch (s) {
	case MG_CT_TCP_NONE:
		/* The first packet: a SYN opens; anything else is a connection
		 * already running when the tracker started (picked up). */
		return syn_only ? MG_CT_TCP_SYN_SENT : MG_CT_TCP_ESTABLISHED;
	case MG_CT_TCP_SYN_SENT:
		if (dir == 1 && (flags & (MG_TCP_SYN | MG_TCP_ACK)) == (MG_TCP_SYN | MG_TCP_ACK))
			return MG_CT_TCP_SYN_RECV;
		return s;
	case MG_CT_TCP_SYN_RECV:
		if (dir == 0 && (flags & (MG_TCP_SYN | MG_TCP_ACK)) == MG_TCP_ACK)
			return MG_CT_TCP_ESTABLISHED;
		return s;
	default:
		return s;
	}
}

static uint32_t
key_hash(const void *key, uint32_t len, uint32_t seed)
{
	return rte_hash_crc(key, len, seed);
}

struct mg_ct_table *
mg_ct_table_create(const struct mg_ct_conf *c, struct mg_error *err)
{
	char hname[RTE_HASH_NAMESIZE], rname[RTE_RING_NAMESIZE];
	size_t nlen = strnlen(c->name, sizeof(c->name));
	struct mg_ct_table *t;

	if (c->capacity == 0 || c->capacity > CT_MAX_CAPACITY) {
		mg_error_set(err, EINVAL, "size", "must be 1..%u, not %u", CT_MAX_CAPACITY,
			     c->capacity);
		return NULL;
	}
	if (c->hz == 0) {
		mg_error_set(err, EINVAL, "hz", "must not be 0");
		return NULL;
	}
	if (c->export_ring != 0 && (c->export_ring & (c->export_ring - 1)) != 0) {
		mg_error_set(err, EINVAL, "export_ring", "must be a power of two, not %u",
			     c->export_ring);
		return NULL;
	}
	if (nlen == 0 || nlen > 20) {
		mg_error_set(err, EINVAL, "name", "must be 1..20 characters");
		return NULL;
	}
	t = rte_zmalloc_socket("mg_ct_table", sizeof(*t), RTE_CACHE_LINE_SIZE, c->socket);
	if (t == NULL)
		goto err_nomem;
	t->conf = *c;
	for (int i = 0; i < MG_CT_T_MAX; i++) {
		uint32_t s = c->timeout_s[i] ? c->timeout_s[i] : default_timeout[i];

		t->conf.timeout_s[i] = s;
		t->timeout[i] = (uint64_t)s * c->hz;
	}
	t->flows = rte_zmalloc_socket("mg_ct_flows", (size_t)c->capacity * sizeof(*t->flows),
				      RTE_CACHE_LINE_SIZE, c->socket);
	t->free_stack = rte_malloc_socket("mg_ct_free", (size_t)c->capacity * sizeof(uint32_t),
					  RTE_CACHE_LINE_SIZE, c->socket);
	if (t->flows == NULL || t->free_stack == NULL)
		goto err_nomem;
	for (uint32_t i = 0; i < c->capacity; i++)
		t->free_stack[i] = c->capacity - 1 - i;
	t->nfree = c->capacity;

	snprintf(hname, sizeof(hname), "ct_%s", c->name);
	struct rte_hash_parameters hp = {
		.name = hname,
		.entries = RTE_MAX(2u * c->capacity, 16u),
		.key_len = sizeof(struct mg_flow_key),
		.hash_func = key_hash,
		.hash_func_init_val = 0x6d676374,
		.socket_id = c->socket,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	t->h = rte_hash_create(&hp);
	if (t->h == NULL) {
		int e = rte_errno;

		mg_ct_table_destroy(t);
		mg_error_set(err, e == EEXIST ? EEXIST : ENOMEM, "size",
			     "cannot create the flow hash %s for %u flows: %s", hname,
			     c->capacity, rte_strerror(e));
		return NULL;
	}
	if (c->export_ring) {
		snprintf(rname, sizeof(rname), "ctr_%s", c->name);
		t->ring = rte_ring_create_elem(rname, sizeof(struct mg_ct_record), c->export_ring,
					       c->socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (t->ring == NULL) {
			int e = rte_errno;

			mg_ct_table_destroy(t);
			mg_error_set(err, e == EEXIST ? EEXIST : ENOMEM, "export_ring",
				     "cannot create the export ring %s: %s", rname,
				     rte_strerror(e));
			return NULL;
		}
	}
	return t;

err_nomem:
	mg_ct_table_destroy(t);
	mg_error_set(err, ENOMEM, "size", "no memory for %u flows", c->capacity);
	return NULL;
}

void
mg_ct_table_destroy(struct mg_ct_table *t)
{
	if (t == NULL)
		return;
	rte_hash_free(t->h);
	rte_ring_free(t->ring);
	rte_free(t->free_stack);
	rte_free(t->flows);
	rte_free(t);
}

struct mg_ct_stats *
mg_ct_table_stats(struct mg_ct_table *t)
{
	return &t->st;
}

const struct mg_ct_conf *
mg_ct_table_conf(const struct mg_ct_table *t)
{
	return &t->conf;
}

void
mg_ct_table_set_timeouts(struct mg_ct_table *t, const uint32_t timeout_s[MG_CT_T_MAX])
{
	for (int i = 0; i < MG_CT_T_MAX; i++) {
		uint32_t s = timeout_s[i] ? timeout_s[i] : default_timeout[i];

		t->conf.timeout_s[i] = s;
		__atomic_store_n(&t->timeout[i], (uint64_t)s * t->conf.hz, __ATOMIC_RELAXED);
	}
}

uint64_t
mg_ct_timeout_ticks(const struct mg_ct_table *t, enum mg_ct_tclass c)
{
	return (unsigned int)c < MG_CT_T_MAX ? t->timeout[c] : 0;
}

/* The reason an expired flow ends with, or MG_FLOW_END_NONE while it lives. */
static inline enum mg_flow_end
expired(const struct mg_ct_table *t, const struct mg_ct_flow *f, uint64_t now)
{
	if (likely(now - f->last <= t->timeout[f->tclass]) || now < f->last)
		return MG_FLOW_END_NONE;
	switch (f->tcp_state) {
	case MG_CT_TCP_FIN_WAIT:
	case MG_CT_TCP_TIME_WAIT:
		return MG_FLOW_END_TCP_FIN;
	case MG_CT_TCP_CLOSE:
		return MG_FLOW_END_TCP_RST;
	default:
		return MG_FLOW_END_IDLE;
	}
}

void
mg_ct_end(struct mg_ct_table *t, struct mg_ct_flow *f, enum mg_flow_end why)
{
	uint32_t idx = (uint32_t)(f - t->flows);

	rte_hash_del_key(t->h, &f->key);
	if (f->has_rkey)
		rte_hash_del_key(t->h, &f->rkey);
	t->st.ended[why < MG_FLOW_END_MAX ? why : MG_FLOW_END_FLUSH]++;
	if (t->ring != NULL) {
		struct mg_ct_record r;

		mg_ct_flow_record(f, &r);
		r.end = (uint8_t)why;
		r.worker = t->conf.worker;
		if (rte_ring_sp_enqueue_elem(t->ring, &r, sizeof(r)) == 0)
			t->st.exported++;
		else
			t->st.export_drops++;
	}
	f->used = 0;
	t->st.active--;
	t->free_stack[t->nfree++] = idx;
}

void
mg_ct_flow_record(const struct mg_ct_flow *f, struct mg_ct_record *r)
{
	memset(r, 0, sizeof(*r));
	r->key = f->key;
	r->first = f->first;
	r->last = f->last;
	memcpy(r->pkts, f->pkts, sizeof(r->pkts));
	memcpy(r->bytes, f->bytes, sizeof(r->bytes));
	memcpy(r->ifindex, f->ifindex, sizeof(r->ifindex));
	r->tcp_state = f->tcp_state;
	memcpy(r->tcp_flags, f->tcp_flags, sizeof(r->tcp_flags));
}

void
mg_ct_end_closed(struct mg_ct_table *t, struct mg_ct_flow *f)
{
	mg_ct_end(t, f, f->tcp_state == MG_CT_TCP_CLOSE ? MG_FLOW_END_TCP_RST
							   : MG_FLOW_END_TCP_FIN);
}

struct mg_ct_flow *
mg_ct_lookup(struct mg_ct_table *t, const struct mg_flow_key *k, uint64_t now, int *dir)
{
	struct mg_ct_flow *f;
	enum mg_flow_end why;
	void *data;

	t->st.lookups++;
	if (rte_hash_lookup_data(t->h, k, &data) < 0)
		return NULL;
	f = &t->flows[(uintptr_t)data >> 1];
	why = expired(t, f, now);
	if (unlikely(why != MG_FLOW_END_NONE)) {
		mg_ct_end(t, f, why);
		return NULL;
	}
	t->st.hits++;
	*dir = (int)((uintptr_t)data & 1);
	return f;
}

unsigned int
mg_ct_lookup_bulk(struct mg_ct_table *t, const struct mg_flow_key **keys, unsigned int n,
		  uint64_t now, struct mg_ct_flow **flows, uint8_t *dirs)
{
	void *data[RTE_HASH_LOOKUP_BULK_MAX];
	unsigned int found = 0;
	uint64_t hits = 0;

	for (unsigned int base = 0; base < n; base += RTE_HASH_LOOKUP_BULK_MAX) {
		unsigned int m = RTE_MIN(n - base, (unsigned int)RTE_HASH_LOOKUP_BULK_MAX);

		rte_hash_lookup_bulk_data(t->h, (const void **)(keys + base), m, &hits, data);
		for (unsigned int i = 0; i < m; i++)
			if (hits & (1ull << i))
				rte_prefetch0(&t->flows[(uintptr_t)data[i] >> 1]);
		for (unsigned int i = 0; i < m; i++) {
			struct mg_ct_flow *f = NULL;

			if (hits & (1ull << i)) {
				f = &t->flows[(uintptr_t)data[i] >> 1];
				/* An earlier key of this call may have ended it (expired). */
				enum mg_flow_end why = f->used ? expired(t, f, now) : MG_FLOW_END_IDLE;

				if (unlikely(why != MG_FLOW_END_NONE)) {
					if (f->used)
						mg_ct_end(t, f, why);
					f = NULL;
				} else {
					dirs[base + i] = (uint8_t)((uintptr_t)data[i] & 1);
					found++;
				}
			}
			flows[base + i] = f;
		}
	}
	t->st.lookups += n;
	t->st.hits += found;
	return found;
}

struct mg_ct_flow *
mg_ct_create(struct mg_ct_table *t, const struct mg_flow_key *k, uint8_t tcp_flags, uint64_t now)
{
	struct mg_flow_key rk;
	struct mg_ct_flow *f;
	uint32_t idx;
	int has_rk;

	RTE_SET_USED(tcp_flags);
	if (unlikely(t->nfree == 0)) {
		t->st.full++;
		return NULL;
	}
	mg_ct_key_reverse(k, &rk);
	has_rk = memcmp(&rk, k, sizeof(rk)) != 0;
	/* rte_hash_add_key_data replaces the data of a key present: a reversed
	 * key another flow holds must not be stolen. */
	if (has_rk && unlikely(rte_hash_lookup(t->h, &rk) >= 0)) {
		t->st.clashes++;
		return NULL;
	}
	idx = t->free_stack[t->nfree - 1];
	if (unlikely(rte_hash_add_key_data(t->h, k, (void *)((uintptr_t)idx << 1)) < 0)) {
		t->st.full++;
		return NULL;
	}
	if (has_rk &&
	    unlikely(rte_hash_add_key_data(t->h, &rk, (void *)((uintptr_t)idx << 1 | 1)) < 0)) {
		rte_hash_del_key(t->h, k);
		t->st.full++;
		return NULL;
	}
	t->nfree--;
	f = &t->flows[idx];
	memset(f, 0, sizeof(*f));
	f->key = *k;
	f->rkey = rk;
	f->has_rkey = (uint8_t)has_rk;
	f->first = now;
	f->last = now;
	f->ifindex[0] = UINT16_MAX;
	f->ifindex[1] = UINT16_MAX;
	f->tclass = (uint8_t)mg_ct_tclass_of(k->proto);
	f->used = 1;
	t->st.created++;
	t->st.active++;
	return f;
}

int
mg_ct_update(struct mg_ct_table *t, struct mg_ct_flow *f, int dir, uint32_t bytes,
	     uint8_t tcp_flags, uint16_t ifindex, uint64_t now)
{
	RTE_SET_USED(t);
	if (f->tclass <= MG_CT_T_TCP_CLOSING) { /* TCP */
		enum mg_ct_tcp_state s = mg_ct_tcp_next((enum mg_ct_tcp_state)f->tcp_state, dir,
							 tcp_flags, &f->fins);

		if (unlikely(s == MG_CT_TCP_MAX))
			return -1;
		f->tcp_state = (uint8_t)s;
		f->tcp_flags[dir] |= tcp_flags;
		f->tclass = tcp_tclass(s);
	}
	f->last = now;
	f->pkts[dir]++;
	f->bytes[dir] += bytes;
	if (unlikely(f->ifindex[dir] == UINT16_MAX))
		f->ifindex[dir] = ifindex;
	return 0;
}

unsigned int
mg_ct_expire(struct mg_ct_table *t, uint64_t now, unsigned int budget)
{
	uint32_t cap = t->conf.capacity;
	unsigned int ended = 0;

	if (t->st.active == 0)
		return 0;
	if (budget > cap)
		budget = cap;
	for (unsigned int i = 0; i < budget; i++) {
		struct mg_ct_flow *f = &t->flows[t->cursor];
		enum mg_flow_end why;
		uint32_t ahead = t->cursor + 8;

		/* Each entry is a cache miss in a large table: ask eight ahead. */
		rte_prefetch0(&t->flows[ahead < cap ? ahead : ahead % cap]);
		t->cursor = t->cursor + 1 == cap ? 0 : t->cursor + 1;
		if (!f->used)
			continue;
		why = expired(t, f, now);
		if (why != MG_FLOW_END_NONE) {
			mg_ct_end(t, f, why);
			ended++;
		}
	}
	return ended;
}

unsigned int
mg_ct_flush_some(struct mg_ct_table *t, enum mg_flow_end why, unsigned int max)
{
	unsigned int n = 0;

	for (uint32_t i = 0; i < t->conf.capacity && t->st.active != 0 && n < max; i++)
		if (t->flows[i].used) {
			mg_ct_end(t, &t->flows[i], why);
			n++;
		}
	return n;
}

unsigned int
mg_ct_flush(struct mg_ct_table *t, enum mg_flow_end why)
{
	return mg_ct_flush_some(t, why, UINT32_MAX);
}

unsigned int
mg_ct_drain(struct mg_ct_table *t, void (*cb)(const struct mg_ct_record *r, void *arg),
	    void *arg, unsigned int max)
{
	struct mg_ct_record recs[32];
	unsigned int done = 0;

	if (t->ring == NULL)
		return 0;
	while (done < max) {
		unsigned int want = RTE_MIN(max - done, (unsigned int)RTE_DIM(recs));
		unsigned int got = rte_ring_sc_dequeue_burst_elem(t->ring, recs, sizeof(recs[0]),
								   want, NULL);

		for (unsigned int i = 0; i < got; i++)
			cb(&recs[i], arg);
		done += got;
		if (got < want)
			break;
	}
	return done;
}

/* ---- sets ------------------------------------------------------------------------------ */

struct mg_ct_set *
mg_ct_set_create(const struct mg_ct_set_conf *c, unsigned int nb_workers, uint64_t hz,
		 int socket, struct mg_error *err)
{
	struct mg_ct_set *s;

	s = rte_zmalloc_socket("mg_ct_set", sizeof(*s) + nb_workers * sizeof(s->t[0]),
			       RTE_CACHE_LINE_SIZE, socket);
	if (s == NULL) {
		mg_error_set(err, ENOMEM, "size", "out of memory");
		return NULL;
	}
	s->conf = *c;
	s->nb_workers = nb_workers;
	for (unsigned int w = 0; w < nb_workers; w++) {
		struct mg_ct_conf tc = {.capacity = c->size, .hz = hz,
					.export_ring = c->export_ring, .worker = (uint16_t)w,
					.socket = socket};

		memcpy(tc.timeout_s, c->timeout_s, sizeof(tc.timeout_s));
		snprintf(tc.name, sizeof(tc.name), "%u_%u_%u", c->net, c->gen % 100000, w);
		s->t[w] = mg_ct_table_create(&tc, err);
		if (s->t[w] == NULL) {
			mg_ct_set_destroy(s);
			return NULL;
		}
	}
	return s;
}

void
mg_ct_set_destroy(struct mg_ct_set *s)
{
	if (s == NULL)
		return;
	for (unsigned int w = 0; w < s->nb_workers; w++)
		mg_ct_table_destroy(s->t[w]);
	rte_free(s);
}

void
mg_ct_set_stats(const struct mg_ct_set *s, struct mg_ct_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned int w = 0; w < s->nb_workers; w++) {
		const struct mg_ct_stats *x = &s->t[w]->st;
		const uint64_t *a = (const uint64_t *)x;
		uint64_t *o = (uint64_t *)out;

		for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
			o[i] += __atomic_load_n(&a[i], __ATOMIC_RELAXED);
	}
}
