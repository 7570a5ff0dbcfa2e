/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The flow tables' shared storage: creation, destruction and the export
 * ring's drain. The per-packet helpers are static inline in mg_flowtab.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "mg_flowtab.h"

/* The hash function of the tables: CRC32c over the key. */
static uint32_t
key_hash(const void *key, uint32_t len, uint32_t seed)
{
	return rte_hash_crc(key, len, seed);
}

int
mg_flowtab_check(uint64_t hz, uint32_t export_ring, struct mg_error *err)
{
	if (hz == 0) {
		mg_error_set(err, EINVAL, "hz", "must not be 0");
		return -1;
	}
	if (export_ring != 0 && (export_ring & (export_ring - 1)) != 0) {
		mg_error_set(err, EINVAL, "export_ring", "must be a power of two, not %u",
			     export_ring);
		return -1;
	}
	return 0;
}

void
mg_flowtab_timeouts(unsigned int n, const uint32_t *given, const uint32_t *defaults,
		    uint64_t hz, uint32_t *secs, uint64_t *ticks)
{
	for (unsigned int i = 0; i < n; i++) {
		uint32_t s = given[i] ? given[i] : defaults[i];

		secs[i] = s;
		__atomic_store_n(&ticks[i], (uint64_t)s * hz, __ATOMIC_RELAXED);
	}
}

int
mg_flowtab_init(struct mg_flowtab *ft, const struct mg_flowtab_conf *c, struct mg_error *err)
{
	char hname[RTE_HASH_NAMESIZE], rname[RTE_RING_NAMESIZE];
	int e;

	memset(ft, 0, sizeof(*ft));
	ft->capacity = c->capacity;
	ft->entries = rte_zmalloc_socket("mg_flowtab_entries",
					 (size_t)c->capacity * c->entry_size, RTE_CACHE_LINE_SIZE,
					 c->socket);
	ft->free_stack = rte_malloc_socket("mg_flowtab_free",
					   (size_t)c->capacity * sizeof(uint32_t),
					   RTE_CACHE_LINE_SIZE, c->socket);
	if (ft->entries == NULL || ft->free_stack == NULL) {
		mg_flowtab_fini(ft);
		mg_error_set(err, ENOMEM, c->size_field, "no memory for %u flows", c->capacity);
		return -1;
	}
	/* Hand out low indices first: the entries in use stay dense. */
	for (uint32_t i = 0; i < c->capacity; i++)
		ft->free_stack[i] = c->capacity - 1 - i;
	ft->nfree = c->capacity;

	snprintf(hname, sizeof(hname), "%s%s", c->hash_prefix, c->name);
	struct rte_hash_parameters hp = {
		.name = hname,
		.entries = RTE_MAX(2u * c->capacity, 16u),
		.key_len = c->key_len,
		.hash_func = key_hash,
		.hash_func_init_val = c->hash_seed,
		.socket_id = c->socket,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	ft->h = rte_hash_create(&hp);
	if (ft->h == NULL) {
		e = rte_errno;
		mg_flowtab_fini(ft);
		/* A name in use is another table's (the names are unique per table). */
		mg_error_set(err, e == EEXIST ? EEXIST : ENOMEM, e == EEXIST ? "name" : c->size_field,
			     "cannot create the flow hash %s for %u flows: %s", hname, c->capacity,
			     rte_strerror(e));
		return -1;
	}
	if (c->export_ring) {
		snprintf(rname, sizeof(rname), "%s%s", c->ring_prefix, c->name);
		ft->ring = rte_ring_create_elem(rname, c->record_size, c->export_ring, c->socket,
						RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (ft->ring == NULL) {
			e = rte_errno;
			mg_flowtab_fini(ft);
			mg_error_set(err, e == EEXIST ? EEXIST : ENOMEM,
				     e == EEXIST ? "name" : "export_ring",
				     "cannot create the export ring %s: %s", rname, rte_strerror(e));
			return -1;
		}
	}
	return 0;
}

void
mg_flowtab_fini(struct mg_flowtab *ft)
{
	rte_hash_free(ft->h);
	rte_ring_free(ft->ring);
	rte_free(ft->free_stack);
	rte_free(ft->entries);
	memset(ft, 0, sizeof(*ft));
}

unsigned int
mg_flowtab_drain(struct mg_flowtab *ft, unsigned int record_size,
		 void (*cb)(const void *rec, void *arg), void *arg, unsigned int max)
{
	enum { BURST = 32 };
	uint64_t recs[BURST * MG_FLOWTAB_RECORD_MAX / sizeof(uint64_t)];
	unsigned int done = 0;

	if (ft->ring == NULL)
		return 0;
	RTE_ASSERT(record_size <= MG_FLOWTAB_RECORD_MAX);
	while (done < max) {
		unsigned int want = RTE_MIN(max - done, (unsigned int)BURST);
		unsigned int got = rte_ring_sc_dequeue_burst_elem(ft->ring, recs, record_size,
								   want, NULL);

		for (unsigned int i = 0; i < got; i++)
			cb((const char *)recs + (size_t)i * record_size, arg);
		done += got;
		if (got < want)
			break;
	}
	return done;
}
