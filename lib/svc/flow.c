/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-worker flow table, on the storage of lib/flowtab (mg_flowtab.h):
 * an rte_hash (extendable buckets, so every one of the 2 x capacity keys
 * fits) from a flow key to an entry index and a direction, a preallocated
 * array of entries with a free stack, a round-robin expiry cursor and an
 * SP/SC ring of ended-flow records.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_malloc.h>

#include "mg_flow.h"
#include "mg_flowtab.h"

_Static_assert(sizeof(struct mg_flow_record) <= MG_FLOWTAB_RECORD_MAX,
	       "mg_flowtab_drain() takes records of MG_FLOWTAB_RECORD_MAX bytes at most");

struct mg_flow_table {
	/** Settings as given, defaults filled in. */
	struct mg_flow_conf conf;
	/** Idle timeout per class, in ticks. */
	uint64_t timeout[MG_FLOW_T_MAX];
	/** Hash, entries, free stack, expiry cursor, export ring. */
	struct mg_flowtab ft;
	/** Counters. */
	struct mg_flow_stats st;
	/** The entries (ft.entries). */
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
	[MG_FLOW_END_GATEWAY_CHANGED] = "gateway-changed",
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

struct mg_flow_table *
mg_flow_table_create(const struct mg_flow_conf *c, struct mg_error *err)
{
	struct mg_flow_table *t;
	size_t nlen = strnlen(c->name, sizeof(c->name));

	if (c->capacity == 0 || c->capacity > (1u << 30)) {
		mg_error_set(err, EINVAL, "capacity", "must be 1..%u, not %u", 1u << 30,
			     c->capacity);
		return NULL;
	}
	if (mg_flowtab_check(c->hz, c->export_ring, err) < 0)
		return NULL;
	if (nlen == 0 || nlen >= sizeof(c->name) || nlen + 4 > RTE_RING_NAMESIZE - 1) {
		mg_error_set(err, EINVAL, "name", "must be 1..%d characters",
			     (int)RTE_RING_NAMESIZE - 5);
		return NULL;
	}
	t = rte_zmalloc_socket("mg_flow_table", sizeof(*t), RTE_CACHE_LINE_SIZE, c->socket);
	if (t == NULL) {
		mg_error_set(err, ENOMEM, "capacity", "no memory for %u flows", c->capacity);
		return NULL;
	}
	t->conf = *c;
	mg_flowtab_timeouts(MG_FLOW_T_MAX, c->timeout_s, default_timeout, c->hz, t->conf.timeout_s,
			    t->timeout);
	struct mg_flowtab_conf fc = {
		.capacity = c->capacity,
		.entry_size = sizeof(struct mg_flow),
		.key_len = sizeof(struct mg_flow_key),
		.hash_seed = 0x6d676677,
		.export_ring = c->export_ring,
		.record_size = sizeof(struct mg_flow_record),
		.socket = c->socket,
		.hash_prefix = "fh_",
		.ring_prefix = "fr_",
		.name = c->name,
		.size_field = "capacity",
	};
	if (mg_flowtab_init(&t->ft, &fc, err) < 0) {
		rte_free(t);
		return NULL;
	}
	t->flows = t->ft.entries;
	return t;
}

void
mg_flow_table_destroy(struct mg_flow_table *t)
{
	if (t == NULL)
		return;
	mg_flowtab_fini(&t->ft);
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
	if (!mg_flowtab_idle(now, f->r.last, t->timeout[f->tclass]))
		return MG_FLOW_END_NONE;
	return f->closing ? (enum mg_flow_end)f->closing : MG_FLOW_END_IDLE;
}

void
mg_flow_end(struct mg_flow_table *t, struct mg_flow *f, enum mg_flow_end why)
{
	uint32_t idx = (uint32_t)(f - t->flows);

	mg_flowtab_del(&t->ft, &f->r.key, f->has_rkey ? &f->rkey : NULL);
	f->r.end = (uint8_t)why;
	t->st.ended[why < MG_FLOW_END_MAX ? why : MG_FLOW_END_FLUSH]++;
	if (t->conf.on_end != NULL)
		t->conf.on_end(&f->r, t->conf.on_end_arg);
	if (t->ft.ring != NULL) {
		if (mg_flowtab_export(&t->ft, &f->r, sizeof(f->r)) == 0)
			t->st.exported++;
		else
			t->st.export_drops++;
	}
	f->used = 0;
	t->st.active--;
	mg_flowtab_free_put(&t->ft, idx);
}

/* What the table's mg_flowtab_check_fn sees: the table, and the expiry walk's extra check. */
struct flow_check_ctx {
	struct mg_flow_table *t;
	enum mg_flow_end (*check)(const struct mg_flow_record *r, void *arg);
	void *arg;
};

/* The table's mg_flowtab_check_fn: ends a flow that expired or that ctx->check ends. */
static __rte_always_inline enum mg_flowtab_state
flow_check(void *ctx, void *entry, uint64_t now)
{
	const struct flow_check_ctx *x = ctx;
	struct mg_flow *f = entry;
	enum mg_flow_end why;

	if (!f->used)
		return MG_FLOWTAB_FREE;
	why = expired(x->t, f, now);
	if (why == MG_FLOW_END_NONE && x->check != NULL)
		why = x->check(&f->r, x->arg);
	if (likely(why == MG_FLOW_END_NONE))
		return MG_FLOWTAB_LIVE;
	mg_flow_end(x->t, f, why);
	return MG_FLOWTAB_ENDED;
}

struct mg_flow *
mg_flow_lookup(struct mg_flow_table *t, const struct mg_flow_key *k, uint64_t now, int *dir)
{
	struct flow_check_ctx x = {.t = t};
	struct mg_flow *f = mg_flowtab_lookup(&t->ft, k, sizeof(*f), flow_check, &x, now, dir);

	t->st.lookups++;
	t->st.hits += f != NULL;
	return f;
}

unsigned int
mg_flow_lookup_bulk(struct mg_flow_table *t, const struct mg_flow_key **keys, unsigned int n,
		    uint64_t now, struct mg_flow **flows, uint8_t *dirs)
{
	struct flow_check_ctx x = {.t = t};
	unsigned int found = mg_flowtab_lookup_bulk(&t->ft, (const void **)keys, n,
						    sizeof(struct mg_flow), flow_check, &x, now,
						    (void **)flows, dirs);

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

	idx = mg_flowtab_free_peek(&t->ft);
	if (unlikely(idx == UINT32_MAX)) {
		t->st.full++;
		return NULL;
	}
	switch (mg_flowtab_add(&t->ft, k, rk, idx)) {
	case MG_FLOWTAB_ADD_OK:
		break;
	case MG_FLOWTAB_ADD_FULL:
		t->st.full++;
		return NULL;
	default: /* a reply key held by another flow (a NAT tuple clash), or no room for it */
		t->st.clashes++;
		return NULL;
	}
	mg_flowtab_free_take(&t->ft);
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
	struct flow_check_ctx x = {.t = t, .check = check, .arg = arg};

	return mg_flowtab_expire(&t->ft, budget, sizeof(struct mg_flow), flow_check, &x, now);
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

/* The typed consumer of mg_flow_export_drain(), behind mg_flowtab_drain(). */
struct drain_arg {
	void (*cb)(const struct mg_flow_record *r, void *arg);
	void *arg;
};

static void
drain_one(const void *rec, void *arg)
{
	const struct drain_arg *d = arg;

	d->cb(rec, d->arg);
}

unsigned int
mg_flow_export_drain(struct mg_flow_table *t,
		     void (*cb)(const struct mg_flow_record *r, void *arg), void *arg,
		     unsigned int max)
{
	struct drain_arg d = {.cb = cb, .arg = arg};

	return mg_flowtab_drain(&t->ft, sizeof(struct mg_flow_record), drain_one, &d, max);
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
