/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-worker flow table: an rte_hash (extendable buckets, so every one
 * of the 2 x capacity keys fits) from a flow key to an entry index and a
 * direction, a preallocated array of entries with a free stack, a
 * round-robin expiry cursor and an SP/SC ring of ended-flow records.
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

#include "mg_flow.h"

struct mg_flow_table {
	/** Settings as given, defaults filled in. */
	struct mg_flow_conf conf;
	/** Idle timeout per class, in ticks. */
	uint64_t timeout[MG_FLOW_T_MAX];
	/** Key -> (entry index << 1 | direction). */
	struct rte_hash *h;
	/** Ended-flow records (NULL: no export). */
	struct rte_ring *ring;
	/** Free entry indices, a stack of @c nfree. */
	uint32_t *free_stack;
	/** Entries free. */
	uint32_t nfree;
	/** Next entry mg_flow_expire visits. */
	uint32_t cursor;
	/** Counters. */
	struct mg_flow_stats st;
	/** The entries. */
	struct mg_flow *flows;
};

static const char *const end_names[MG_FLOW_END_MAX] = {
	[MG_FLOW_END_NONE] = "active",
	[MG_FLOW_END_IDLE] = "idle",
	[MG_FLOW_END_TCP_FIN] = "tcp-fin",
	[MG_FLOW_END_TCP_RST] = "tcp-rst",
	[MG_FLOW_END_ENDPOINT_REMOVED] = "endpoint-removed",
	[MG_FLOW_END_ENDPOINT_DOWN] = "endpoint-down",
	[MG_FLOW_END_SERVICE_REMOVED] = "service-removed",
	[MG_FLOW_END_FLUSH] = "flush",
};

const char *
mg_flow_end_name(enum mg_flow_end e)
{
	return (unsigned int)e < MG_FLOW_END_MAX ? end_names[e] : "unknown";
}

enum mg_flow_tclass
mg_flow_tclass_of(uint8_t proto)
{
	switch (proto) {
	case 6: return MG_FLOW_T_TCP_OPENING;
	case 17: return MG_FLOW_T_UDP;
	case 1:
	case 58: return MG_FLOW_T_ICMP;
	case 132: return MG_FLOW_T_SCTP;
	default: return MG_FLOW_T_OTHER;
	}
}

static const uint32_t default_timeout[MG_FLOW_T_MAX] = {
	[MG_FLOW_T_TCP_OPENING] = MG_FLOW_TIMEOUT_TCP_OPENING,
	[MG_FLOW_T_TCP_ESTABLISHED] = MG_FLOW_TIMEOUT_TCP_ESTABLISHED,
	[MG_FLOW_T_TCP_CLOSING] = MG_FLOW_TIMEOUT_TCP_CLOSING,
	[MG_FLOW_T_UDP] = MG_FLOW_TIMEOUT_UDP,
	[MG_FLOW_T_ICMP] = MG_FLOW_TIMEOUT_ICMP,
	[MG_FLOW_T_SCTP] = MG_FLOW_TIMEOUT_SCTP,
	[MG_FLOW_T_OTHER] = MG_FLOW_TIMEOUT_OTHER,
};

/* The hash function of the table: CRC32c over the 48-byte key. */
static uint32_t
key_hash(const void *key, uint32_t len, uint32_t seed)
{
	return rte_hash_crc(key, len, seed);
}

struct mg_flow_table *
mg_flow_table_create(const struct mg_flow_conf *c, struct mg_error *err)
{
	char hname[RTE_HASH_NAMESIZE], rname[RTE_RING_NAMESIZE];
	struct mg_flow_table *t;
	size_t nlen = strnlen(c->name, sizeof(c->name));

	if (c->capacity == 0 || c->capacity > (1u << 30)) {
		mg_error_set(err, EINVAL, "capacity", "must be 1..%u, not %u", 1u << 30,
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
	if (nlen == 0 || nlen >= sizeof(c->name) || nlen + 4 > RTE_RING_NAMESIZE - 1) {
		mg_error_set(err, EINVAL, "name", "must be 1..%d characters",
			     (int)RTE_RING_NAMESIZE - 5);
		return NULL;
	}
	t = rte_zmalloc_socket("mg_flow_table", sizeof(*t), RTE_CACHE_LINE_SIZE, c->socket);
	if (t == NULL)
		goto err_nomem;
	t->conf = *c;
	for (int i = 0; i < MG_FLOW_T_MAX; i++) {
		uint32_t s = c->timeout_s[i] ? c->timeout_s[i] : default_timeout[i];

		t->conf.timeout_s[i] = s;
		t->timeout[i] = (uint64_t)s * c->hz;
	}
	t->flows = rte_zmalloc_socket("mg_flows", (size_t)c->capacity * sizeof(struct mg_flow),
				      RTE_CACHE_LINE_SIZE, c->socket);
	t->free_stack = rte_malloc_socket("mg_flow_free", (size_t)c->capacity * sizeof(uint32_t),
					  RTE_CACHE_LINE_SIZE, c->socket);
	if (t->flows == NULL || t->free_stack == NULL)
		goto err_nomem;
	/* Hand out low indices first: the entries in use stay dense. */
	for (uint32_t i = 0; i < c->capacity; i++)
		t->free_stack[i] = c->capacity - 1 - i;
	t->nfree = c->capacity;

	snprintf(hname, sizeof(hname), "fh_%s", c->name);
	struct rte_hash_parameters hp = {
		.name = hname,
		.entries = RTE_MAX(2u * c->capacity, 16u),
		.key_len = sizeof(struct mg_flow_key),
		.hash_func = key_hash,
		.hash_func_init_val = 0x6d676677,
		.socket_id = c->socket,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	t->h = rte_hash_create(&hp);
	if (t->h == NULL) {
		int e = rte_errno;

		mg_flow_table_destroy(t);
		mg_error_set(err, e == EEXIST ? EEXIST : ENOMEM, "name",
			     "cannot create the flow hash %s: %s", hname, rte_strerror(e));
		return NULL;
	}
	if (c->export_ring) {
		snprintf(rname, sizeof(rname), "fr_%s", c->name);
		t->ring = rte_ring_create_elem(rname, sizeof(struct mg_flow_record), c->export_ring,
					       c->socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (t->ring == NULL) {
			int e = rte_errno;

			mg_flow_table_destroy(t);
			mg_error_set(err, e == EEXIST ? EEXIST : ENOMEM, "name",
				     "cannot create the export ring %s: %s", rname,
				     rte_strerror(e));
			return NULL;
		}
	}
	return t;

err_nomem:
	mg_flow_table_destroy(t);
	mg_error_set(err, ENOMEM, "capacity", "no memory for %u flows", c->capacity);
	return NULL;
}

void
mg_flow_table_destroy(struct mg_flow_table *t)
{
	if (t == NULL)
		return;
	rte_hash_free(t->h);
	rte_ring_free(t->ring);
	rte_free(t->free_stack);
	rte_free(t->flows);
	rte_free(t);
}

const struct mg_flow_stats *
mg_flow_table_stats(const struct mg_flow_table *t)
{
	return &t->st;
}

/* The reason an expired flow ends with, or MG_FLOW_END_NONE if it is alive. */
static inline enum mg_flow_end
expired(const struct mg_flow_table *t, const struct mg_flow *f, uint64_t now)
{
	if (likely(now - f->r.last <= t->timeout[f->tclass]) || now < f->r.last)
		return MG_FLOW_END_NONE;
	return f->closing ? (enum mg_flow_end)f->closing : MG_FLOW_END_IDLE;
}

void
mg_flow_end(struct mg_flow_table *t, struct mg_flow *f, enum mg_flow_end why)
{
	uint32_t idx = (uint32_t)(f - t->flows);

	rte_hash_del_key(t->h, &f->r.key);
	if (f->has_rkey)
		rte_hash_del_key(t->h, &f->rkey);
	f->r.end = (uint8_t)why;
	t->st.ended[why < MG_FLOW_END_MAX ? why : MG_FLOW_END_FLUSH]++;
	if (t->conf.on_end != NULL)
		t->conf.on_end(&f->r, t->conf.on_end_arg);
	if (t->ring != NULL) {
		if (rte_ring_sp_enqueue_elem(t->ring, &f->r, sizeof(f->r)) == 0)
			t->st.exported++;
		else
			t->st.export_drops++;
	}
	f->used = 0;
	t->st.active--;
	t->free_stack[t->nfree++] = idx;
}

struct mg_flow *
mg_flow_lookup(struct mg_flow_table *t, const struct mg_flow_key *k, uint64_t now, int *dir)
{
	void *data;
	struct mg_flow *f;
	enum mg_flow_end why;

	t->st.lookups++;
	if (rte_hash_lookup_data(t->h, k, &data) < 0)
		return NULL;
	f = &t->flows[(uintptr_t)data >> 1];
	why = expired(t, f, now);
	if (unlikely(why != MG_FLOW_END_NONE)) {
		mg_flow_end(t, f, why);
		return NULL;
	}
	t->st.hits++;
	*dir = (int)((uintptr_t)data & 1);
	return f;
}

unsigned int
mg_flow_lookup_bulk(struct mg_flow_table *t, const struct mg_flow_key **keys, unsigned int n,
		    uint64_t now, struct mg_flow **flows, uint8_t *dirs)
{
	void *data[RTE_HASH_LOOKUP_BULK_MAX];
	uint64_t hits = 0;
	unsigned int found = 0;

	for (unsigned int base = 0; base < n; base += RTE_HASH_LOOKUP_BULK_MAX) {
		unsigned int m = RTE_MIN(n - base, (unsigned int)RTE_HASH_LOOKUP_BULK_MAX);

		rte_hash_lookup_bulk_data(t->h, (const void **)(keys + base), m, &hits, data);
		/* The entries are a cache miss each: ask for all of them before the checks. */
		for (unsigned int i = 0; i < m; i++)
			if (hits & (1ull << i))
				rte_prefetch0(&t->flows[(uintptr_t)data[i] >> 1]);
		for (unsigned int i = 0; i < m; i++) {
			struct mg_flow *f = NULL;

			if (hits & (1ull << i)) {
				f = &t->flows[(uintptr_t)data[i] >> 1];
				enum mg_flow_end why = expired(t, f, now);

				if (unlikely(why != MG_FLOW_END_NONE)) {
					mg_flow_end(t, f, why);
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

struct mg_flow *
mg_flow_create(struct mg_flow_table *t, const struct mg_flow_key *k,
	       const struct mg_flow_key *rk, uint16_t svc, uint32_t ep, uint64_t now)
{
	struct mg_flow *f;
	uint32_t idx;

	if (unlikely(t->nfree == 0)) {
		t->st.full++;
		return NULL;
	}
	idx = t->free_stack[t->nfree - 1];
	if (unlikely(rte_hash_add_key_data(t->h, k, (void *)((uintptr_t)idx << 1)) < 0)) {
		t->st.full++;
		return NULL;
	}
	/* rte_hash_add_key_data replaces the data of a key present: a reply key
	 * that another flow holds (a NAT tuple clash) must not be stolen. */
	if (rk != NULL && (unlikely(rte_hash_lookup(t->h, rk) >= 0) ||
			   unlikely(rte_hash_add_key_data(t->h, rk,
							  (void *)((uintptr_t)idx << 1 | 1)) < 0))) {
		rte_hash_del_key(t->h, k);
		t->st.clashes++;
		return NULL;
	}
	t->nfree--;
	f = &t->flows[idx];
	memset(f, 0, sizeof(*f));
	f->r.key = *k;
	if (rk != NULL) {
		f->rkey = *rk;
		f->has_rkey = 1;
	}
	f->r.first = now;
	f->r.last = now;
	f->r.ep = ep;
	f->r.svc = svc;
	f->r.worker = t->conf.worker;
	f->tclass = (uint8_t)mg_flow_tclass_of(k->proto);
	f->used = 1;
	t->st.created++;
	t->st.active++;
	return f;
}

unsigned int
mg_flow_expire(struct mg_flow_table *t, uint64_t now, unsigned int budget,
	       enum mg_flow_end (*check)(const struct mg_flow_record *r, void *arg), void *arg)
{
	unsigned int ended = 0;
	uint32_t cap = t->conf.capacity;

	if (budget > cap)
		budget = cap;
	for (unsigned int i = 0; i < budget; i++) {
		struct mg_flow *f = &t->flows[t->cursor];
		enum mg_flow_end why;

		t->cursor = t->cursor + 1 == cap ? 0 : t->cursor + 1;
		if (!f->used)
			continue;
		why = expired(t, f, now);
		if (why == MG_FLOW_END_NONE && check != NULL)
			why = check(&f->r, arg);
		if (why != MG_FLOW_END_NONE) {
			mg_flow_end(t, f, why);
			ended++;
		}
	}
	return ended;
}

unsigned int
mg_flow_flush(struct mg_flow_table *t, enum mg_flow_end why)
{
	unsigned int n = 0;

	for (uint32_t i = 0; i < t->conf.capacity; i++)
		if (t->flows[i].used) {
			mg_flow_end(t, &t->flows[i], why);
			n++;
		}
	return n;
}

unsigned int
mg_flow_export_drain(struct mg_flow_table *t,
		     void (*cb)(const struct mg_flow_record *r, void *arg), void *arg,
		     unsigned int max)
{
	struct mg_flow_record recs[32];
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

uint64_t
mg_flow_ticks_to_ns(const struct mg_flow_table *t, uint64_t ticks)
{
	uint64_t hz = t->conf.hz;

	return ticks / hz * 1000000000ull + ticks % hz * 1000000000ull / hz;
}

uint64_t
mg_flow_timeout_ticks(const struct mg_flow_table *t, enum mg_flow_tclass c)
{
	return (unsigned int)c < MG_FLOW_T_MAX ? t->timeout[c] : 0;
}
