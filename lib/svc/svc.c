/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Services on the main lcore: staged endpoints, the weighted Maglev table
 * build, publication; and the per-packet steering through a flow table.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_jhash.h>
#include <rte_malloc.h>

#include "mg_svc.h"

/* Seeds of the two name hashes (offset, skip): fixed, so gateways agree. */
#define NAME_SEED_OFFSET 0x4d676c76u
#define NAME_SEED_SKIP 0x536b6970u

/** An endpoint slot of a service as staged. */
struct svc_slot {
	/** The slot holds an endpoint. */
	bool used;
	/** Generation: bumped on every new endpoint in this slot. */
	uint8_t gen;
	/** Configuration. */
	struct mg_svc_endpoint_conf c;
};

struct mg_svc {
	/** Service id (0..MG_SVC_MAX_SERVICES-1). */
	uint16_t id;
	/** enum mg_svc_mode. */
	uint8_t mode;
	/** Maglev table size M (prime). */
	uint32_t size;
	/** Commits so far. */
	uint64_t version;
	/** Endpoints staged. */
	unsigned int n_eps;
	/** The published table (workers read it with an acquire load). */
	struct mg_svc_table *published;
	/** Name. */
	char name[MG_NAME_MAX];
	/** The generation every slot started at (mg_svc_gen_start). */
	uint8_t gen_start;
	/** Endpoint slots. */
	struct svc_slot slots[MG_SVC_MAX_ENDPOINTS];
};

bool
mg_svc_is_prime(uint32_t n)
{
	if (n < 2)
		return false;
	if (n % 2 == 0)
		return n == 2;
	for (uint32_t d = 3; (uint64_t)d * d <= n; d += 2)
		if (n % d == 0)
			return false;
	return true;
}

static int
size_check(uint32_t size, struct mg_error *err)
{
	if (size < MG_SVC_TABLE_SIZE_MIN || size >= MG_SVC_TABLE_SIZE_MAX || !mg_svc_is_prime(size))
		return mg_error_set(err, EINVAL, "table_size",
				    "must be a prime in [%u, %u), not %u", MG_SVC_TABLE_SIZE_MIN,
				    MG_SVC_TABLE_SIZE_MAX, size);
	return 0;
}

struct mg_svc *
mg_svc_create(uint16_t id, const char *name, enum mg_svc_mode mode, uint32_t table_size,
	      struct mg_error *err)
{
	struct mg_svc *s;

	if (id >= MG_SVC_MAX_SERVICES) {
		mg_error_set(err, EINVAL, "id", "must be below %u, not %u", MG_SVC_MAX_SERVICES, id);
		return NULL;
	}
	if (name == NULL || !mg_name_valid(name)) {
		mg_error_set(err, EINVAL, "name", "must be 1-31 of A-Z a-z 0-9 _ - . :");
		return NULL;
	}
	if (mode != MG_SVC_ROUTE && mode != MG_SVC_NAT) {
		mg_error_set(err, EINVAL, "mode", "must be route or nat");
		return NULL;
	}
	if (table_size == 0)
		table_size = MG_SVC_TABLE_SIZE_DEFAULT;
	if (size_check(table_size, err) < 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		mg_error_set(err, ENOMEM, "", "no memory for service %s", name);
		return NULL;
	}
	s->id = id;
	s->mode = (uint8_t)mode;
	s->size = table_size;
	mg_strlcpy(s->name, name, sizeof(s->name));
	return s;
}

void
mg_svc_destroy(struct mg_svc *s)
{
	if (s == NULL)
		return;
	mg_svc_table_free(s->published);
	free(s);
}

static int
slot_find(const struct mg_svc *s, const char *name)
{
	for (int i = 0; i < MG_SVC_MAX_ENDPOINTS; i++)
		if (s->slots[i].used && strcmp(s->slots[i].c.name, name) == 0)
			return i;
	return -1;
}

int
mg_svc_endpoint_set(struct mg_svc *s, const struct mg_svc_endpoint_conf *c, struct mg_error *err)
{
	int i;

	if (!mg_name_valid(c->name))
		return mg_error_set(err, EINVAL, "name", "must be 1-31 of A-Z a-z 0-9 _ - . :");
	if (c->addr.family != AF_INET && c->addr.family != AF_INET6)
		return mg_error_set(err, EINVAL, "addr", "must be an IPv4 or IPv6 address");
	i = slot_find(s, c->name);
	if (i >= 0) {
		struct svc_slot *sl = &s->slots[i];
		size_t alen = c->addr.family == AF_INET ? 4 : 16;

		/* Another address, port or tunnel: a different endpoint to pinned flows. */
		if (sl->c.addr.family != c->addr.family ||
		    memcmp(sl->c.addr.bytes, c->addr.bytes, alen) != 0 || sl->c.port != c->port ||
		    sl->c.tunnel != c->tunnel)
			sl->gen++;
		sl->c = *c;
		return i;
	}
	for (i = 0; i < MG_SVC_MAX_ENDPOINTS; i++)
		if (!s->slots[i].used)
			break;
	if (i == MG_SVC_MAX_ENDPOINTS)
		return mg_error_set(err, ENOSPC, "endpoints", "service %s has %u endpoints already",
				    s->name, MG_SVC_MAX_ENDPOINTS);
	s->slots[i].used = true;
	s->slots[i].gen++; /* a reference to the slot's previous endpoint stays dead */
	s->slots[i].c = *c;
	s->n_eps++;
	return i;
}

uint8_t
mg_svc_gen_max(const struct mg_svc *s)
{
	uint8_t ahead = 0;

	/* Distances from the start, not values: a slot's generation wraps 255 -> 0. */
	for (unsigned int i = 0; i < MG_SVC_MAX_ENDPOINTS; i++) {
		uint8_t d = (uint8_t)(s->slots[i].gen - s->gen_start);

		if (d > ahead)
			ahead = d;
	}
	return (uint8_t)(s->gen_start + ahead);
}

void
mg_svc_gen_start(struct mg_svc *s, uint8_t gen)
{
	s->gen_start = gen;
	for (unsigned int i = 0; i < MG_SVC_MAX_ENDPOINTS; i++)
		s->slots[i].gen = gen;
}

int
mg_svc_endpoint_del(struct mg_svc *s, const char *name, struct mg_error *err)
{
	int i = slot_find(s, name);

	if (i < 0)
		return mg_error_set(err, ENOENT, "name", "service %s has no endpoint %s", s->name,
				    name);
	s->slots[i].used = false;
	s->n_eps--;
	return 0;
}

void
mg_svc_set_mode(struct mg_svc *s, enum mg_svc_mode mode)
{
	s->mode = (uint8_t)mode;
}

enum mg_svc_mode
mg_svc_get_mode(const struct mg_svc *s)
{
	return (enum mg_svc_mode)s->mode;
}

int
mg_svc_set_table_size(struct mg_svc *s, uint32_t size, struct mg_error *err)
{
	if (size == 0)
		size = MG_SVC_TABLE_SIZE_DEFAULT;
	if (size_check(size, err) < 0)
		return -EINVAL;
	s->size = size;
	return 0;
}

unsigned int
mg_svc_slot_span(const struct mg_svc *s)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < MG_SVC_MAX_ENDPOINTS; i++)
		if (s->slots[i].used)
			n = i + 1;
	return n;
}

int
mg_svc_endpoint_get(const struct mg_svc *s, const char *name, struct mg_svc_endpoint_conf *c)
{
	int i = slot_find(s, name);

	if (i >= 0 && c != NULL)
		*c = s->slots[i].c;
	return i < 0 ? -ENOENT : i;
}

unsigned int
mg_svc_endpoint_count(const struct mg_svc *s)
{
	return s->n_eps;
}

uint16_t
mg_svc_id(const struct mg_svc *s)
{
	return s->id;
}

void
mg_svc_table_free(struct mg_svc_table *t)
{
	if (t == NULL)
		return;
	rte_free(t->lut);
	rte_free(t->ep);
	rte_free(t);
}

/* ---- the Maglev build ------------------------------------------------------------------- */

/** A usable endpoint while the table fills. */
struct turn {
	/** Endpoint slot. */
	uint16_t slot;
	/** Weight. */
	uint32_t w;
	/** Turns taken. */
	uint32_t n;
	/** Next preferred table slot, and the step between them. */
	uint32_t pos, skip;
	/** Tie-break: the name's offset hash. */
	uint32_t h;
};

/*
 * True if a's next turn comes before b's: (2 n_a + 1) / w_a < (2 n_b + 1) / w_b,
 * compared exactly in integers (n < 2^24, w < 2^32: products < 2^57).
 */
static inline bool
turn_before(const struct turn *a, const struct turn *b)
{
	uint64_t ta = (2ull * a->n + 1) * b->w, tb = (2ull * b->n + 1) * a->w;

	if (ta != tb)
		return ta < tb;
	if (a->h != b->h)
		return a->h < b->h;
	return a->slot < b->slot;
}

/* Binary min-heap of turn pointers. */
static void
heap_down(struct turn **hp, unsigned int n, unsigned int i)
{
	for (;;) {
		unsigned int l = 2 * i + 1, r = l + 1, m = i;

		if (l < n && turn_before(hp[l], hp[m]))
			m = l;
		if (r < n && turn_before(hp[r], hp[m]))
			m = r;
		if (m == i)
			return;
		struct turn *x = hp[i];

		hp[i] = hp[m];
		hp[m] = x;
		i = m;
	}
}

/* Fill @lut (M slots) from the usable endpoints @tu (n of them); counts per endpoint in @cnt. */
static void
maglev_fill(uint16_t *lut, uint32_t M, struct turn *tu, unsigned int n, struct turn **hp,
	    uint32_t *cnt)
{
	uint32_t filled = 0;

	for (uint32_t i = 0; i < M; i++)
		lut[i] = MG_SVC_LUT_NONE;
	if (n == 0)
		return;
	for (unsigned int i = 0; i < n; i++)
		hp[i] = &tu[i];
	for (int i = (int)n / 2 - 1; i >= 0; i--)
		heap_down(hp, n, (unsigned int)i);
	while (filled < M) {
		struct turn *t = hp[0];

		/* Its next preferred slot still free (M prime: the walk visits them all). */
		while (lut[t->pos] != MG_SVC_LUT_NONE) {
			t->pos += t->skip;
			if (t->pos >= M)
				t->pos -= M;
		}
		lut[t->pos] = t->slot;
		cnt[t->slot]++;
		filled++;
		t->n++;
		heap_down(hp, n, 0);
	}
}

struct mg_svc_table *
mg_svc_build(const struct mg_svc *s, struct mg_error *err)
{
	struct mg_svc_table *t;
	struct turn *tu = NULL;
	struct turn **hp = NULL;
	uint32_t *cnt = NULL;
	unsigned int n_slots = 0, nu = 0;

	for (unsigned int i = 0; i < MG_SVC_MAX_ENDPOINTS; i++)
		if (s->slots[i].used)
			n_slots = i + 1;
	t = rte_zmalloc("mg_svc_table", sizeof(*t), RTE_CACHE_LINE_SIZE);
	if (t == NULL)
		goto nomem;
	t->size = s->size;
	t->id = s->id;
	t->mode = s->mode;
	t->n_slots = (uint16_t)n_slots;
	t->version = s->version + 1;
	mg_strlcpy(t->name, s->name, sizeof(t->name));
	t->ep = rte_zmalloc("mg_svc_eps", RTE_MAX(n_slots, 1u) * sizeof(*t->ep),
			    RTE_CACHE_LINE_SIZE);
	t->lut = rte_malloc("mg_svc_lut", (size_t)s->size * sizeof(*t->lut), RTE_CACHE_LINE_SIZE);
	tu = calloc(RTE_MAX(n_slots, 1u), sizeof(*tu));
	hp = calloc(RTE_MAX(n_slots, 1u), sizeof(*hp));
	cnt = calloc(RTE_MAX(n_slots, 1u), sizeof(*cnt));
	if (t->ep == NULL || t->lut == NULL || tu == NULL || hp == NULL || cnt == NULL)
		goto nomem;
	for (unsigned int i = 0; i < n_slots; i++) {
		const struct svc_slot *sl = &s->slots[i];
		struct mg_svc_ep *e = &t->ep[i];

		if (!sl->used) {
			e->ref = MG_SVC_REF_NONE;
			continue;
		}
		e->ref = mg_svc_ref(s->id, (uint16_t)i, sl->gen);
		e->weight = sl->c.weight;
		e->up = sl->c.up;
		e->usable = sl->c.up && sl->c.weight > 0;
		e->port = rte_cpu_to_be_16(sl->c.port);
		e->addr = sl->c.addr;
		e->tunnel = sl->c.tunnel;
		e->user = sl->c.user;
		mg_strlcpy(e->name, sl->c.name, sizeof(e->name));
		if (e->usable) {
			size_t len = strlen(sl->c.name);
			uint32_t h1 = rte_jhash(sl->c.name, (uint32_t)len, NAME_SEED_OFFSET);
			uint32_t h2 = rte_jhash(sl->c.name, (uint32_t)len, NAME_SEED_SKIP);

			tu[nu] = (struct turn){.slot = (uint16_t)i, .w = sl->c.weight,
					       .pos = h1 % s->size, .skip = h2 % (s->size - 1) + 1,
					       .h = h1};
			nu++;
		}
	}
	t->n_usable = (uint16_t)nu;
	maglev_fill(t->lut, s->size, tu, nu, hp, cnt);
	for (unsigned int i = 0; i < n_slots; i++)
		t->ep[i].lut_slots = cnt[i];
	free(tu);
	free(hp);
	free(cnt);
	return t;

nomem:
	free(tu);
	free(hp);
	free(cnt);
	mg_svc_table_free(t);
	mg_error_set(err, ENOMEM, "", "no memory for the table of service %s (%u slots)", s->name,
		     s->size);
	return NULL;
}

int
mg_svc_commit(struct mg_svc *s, struct mg_svc_table **old, struct mg_error *err)
{
	struct mg_svc_table *t = mg_svc_build(s, err);

	if (t == NULL)
		return -ENOMEM;
	s->version++;
	*old = s->published;
	__atomic_store_n(&s->published, t, __ATOMIC_RELEASE);
	return 0;
}

const struct mg_svc_table *
mg_svc_table_get(const struct mg_svc *s)
{
	return __atomic_load_n(&s->published, __ATOMIC_ACQUIRE);
}

/* ---- steering ---------------------------------------------------------------------------- */

enum mg_flow_end
mg_svc_ref_state(const struct mg_svc_table *t, uint32_t ref)
{
	uint16_t slot = mg_svc_ref_slot(ref);

	if (t == NULL)
		return MG_FLOW_END_SERVICE_REMOVED;
	if (slot >= t->n_slots || t->ep[slot].ref != ref)
		return MG_FLOW_END_ENDPOINT_REMOVED;
	return t->ep[slot].up ? MG_FLOW_END_NONE : MG_FLOW_END_ENDPOINT_DOWN;
}

enum mg_flow_end
mg_svc_flow_check(const struct mg_flow_record *r, void *tables)
{
	const struct mg_svc_table *const *tt = tables;

	if (r->svc == MG_FLOW_SVC_NONE)
		return MG_FLOW_END_NONE; /* a gateway's source NAT: only idle timeouts */
	if (r->svc >= MG_SVC_MAX_SERVICES)
		return MG_FLOW_END_SERVICE_REMOVED;
	return mg_svc_ref_state(tt[r->svc], r->ep);
}

const struct mg_svc_ep *
mg_svc_steer(const struct mg_svc_table *t, struct mg_flow_table *ft, const struct mg_flow_key *k,
	     uint32_t hash, uint32_t bytes, uint8_t tcp_flags, uint64_t now,
	     enum mg_svc_verdict *v, struct mg_flow **fp)
{
	const struct mg_svc_ep *e;
	struct mg_flow *f;
	int dir;

	f = mg_flow_lookup(ft, k, now, &dir);
	if (likely(f != NULL)) {
		if (likely(f->r.svc == t->id)) {
			e = mg_svc_ref_get(t, f->r.ep);
			if (likely(e != NULL)) {
				mg_flow_touch(f, dir, bytes, tcp_flags, now);
				*v = MG_SVC_HIT;
				if (fp != NULL)
					*fp = f;
				return e;
			}
			mg_flow_end(ft, f, mg_svc_ref_state(t, f->r.ep));
		} else {
			/* Steered to another service now: the old service lost it. */
			mg_flow_end(ft, f, MG_FLOW_END_SERVICE_REMOVED);
		}
	}
	e = mg_svc_select(t, hash);
	if (unlikely(e == NULL)) {
		*v = MG_SVC_NO_ENDPOINT;
		if (fp != NULL)
			*fp = NULL;
		return NULL;
	}
	f = mg_flow_create(ft, k, NULL, t->id, e->ref, now);
	if (unlikely(f == NULL)) {
		*v = MG_SVC_STATELESS;
	} else {
		mg_flow_touch(f, 0, bytes, tcp_flags, now);
		*v = MG_SVC_NEW;
	}
	if (fp != NULL)
		*fp = f;
	return e;
}
