/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_FLOWTAB_H
#define MG_FLOWTAB_H

/**
 * @file
 * The storage that both flow tables are built on (lib/svc's mg_flow_table,
 * lib/flow's mg_ct_table): a preallocated array of fixed-size entries with
 * a stack of the free ones, an rte_hash from a key to (entry index << 1 |
 * direction) with extendable buckets (2 x capacity keys, every one fits),
 * a round-robin expiry cursor, and an optional SP/SC ring of fixed-size
 * ended-flow records.
 *
 * What a flow holds, its keys, its timeout classes, its records and its
 * counters belong to each table: this part stores, and keeps the clock
 * rules both share (idle timeouts per class in seconds, 0 for the default,
 * held in ticks; a flow is idle once @c now is more than its timeout past
 * its last packet). It counts nothing and reports failures as codes; each
 * table counts and words its own errors.
 *
 * Threads: as the table that embeds it. The helpers marked "owner" are
 * static inline and take the entry size (and the table's check of an
 * entry, mg_flowtab_check_fn) as arguments, constants where they are
 * inlined: no indirect call on the per-packet path.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_hash.h>
#include <rte_prefetch.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "mg_common.h"

/** The storage of one table. */
struct mg_flowtab {
	/** Key -> (entry index << 1 | direction). */
	struct rte_hash *h;
	/** Ended-flow records (NULL: no export). */
	struct rte_ring *ring;
	/** Free entry indices, a stack of @c nfree. */
	uint32_t *free_stack;
	/** Entries free. */
	uint32_t nfree;
	/** Entries in all. */
	uint32_t capacity;
	/** Next entry the expiry walk visits. */
	uint32_t cursor;
	/** The entries (capacity x the entry size, zeroed at creation). */
	void *entries;
};

/** How to make the storage. */
struct mg_flowtab_conf {
	/** Entries, >= 1 (the table checks its own bound). */
	uint32_t capacity;
	/** Bytes per entry. */
	uint32_t entry_size;
	/** Bytes per key. */
	uint32_t key_len;
	/** Seed of the key hash (CRC32c). */
	uint32_t hash_seed;
	/** Export ring entries (a power of two), 0 for none. */
	uint32_t export_ring;
	/** Bytes per ring record (a multiple of 4, at most MG_FLOWTAB_RECORD_MAX). */
	uint32_t record_size;
	/** NUMA socket of the memory (SOCKET_ID_ANY is fine). */
	int socket;
	/** The hash's name is this prefix and @c name ("ct_", "fh_"). */
	const char *hash_prefix;
	/** The ring's name is this prefix and @c name ("ctr_", "fr_"). */
	const char *ring_prefix;
	/** The table's unique name. */
	const char *name;
	/** The caller's word for @c capacity in errors ("size", "capacity"). */
	const char *size_field;
};

/** Largest export record mg_flowtab_drain() handles. */
#define MG_FLOWTAB_RECORD_MAX 128

/**
 * Check the settings the tables share, in their words: @p hz (field "hz")
 * not 0, @p export_ring (field "export_ring") 0 or a power of two.
 * @return 0, or -1 with @p err set (EINVAL).
 */
int mg_flowtab_check(uint64_t hz, uint32_t export_ring, struct mg_error *err);

/**
 * Set the idle timeouts of @p n classes: secs[i] is given[i], or
 * defaults[i] when that is 0, and ticks[i] the same at @p hz. Each
 * ticks[i] is stored whole (a 64-bit atomic store), so an owner running
 * meanwhile sees a class's old or new timeout, never a mix.
 */
void mg_flowtab_timeouts(unsigned int n, const uint32_t *given, const uint32_t *defaults,
			 uint64_t hz, uint32_t *secs, uint64_t *ticks);

/**
 * Whether a flow last seen at @p last is idle past @p timeout ticks at
 * @p now (a @p now before @p last, another lcore's clock: not idle).
 */
static inline bool
mg_flowtab_idle(uint64_t now, uint64_t last, uint64_t timeout)
{
	return !(likely(now - last <= timeout) || now < last);
}

/**
 * Make the storage in @p ft (main lcore): every entry free and zeroed.
 * @return 0, or -1 with @p err set and nothing left allocated: no memory
 *   for the entries or the hash (ENOMEM, field @c size_field), the hash's or
 *   the ring's name in use (EEXIST, "name"), no memory for the ring
 *   (ENOMEM, "export_ring"); the message names the DPDK object.
 */
int mg_flowtab_init(struct mg_flowtab *ft, const struct mg_flowtab_conf *c,
		    struct mg_error *err);

/** Free what mg_flowtab_init() made (any part of it; zeroed fields are skipped). */
void mg_flowtab_fini(struct mg_flowtab *ft);

/** The entry index of a hash datum. */
static inline uint32_t
mg_flowtab_idx(const void *data)
{
	return (uint32_t)((uintptr_t)data >> 1);
}

/** The direction (0: the flow's first key, 1: its reverse) of a hash datum. */
static inline int
mg_flowtab_dir(const void *data)
{
	return (int)((uintptr_t)data & 1);
}

/** Entry @p idx of @p entry_size bytes. */
static inline void *
mg_flowtab_entry(const struct mg_flowtab *ft, uint32_t idx, size_t entry_size)
{
	return (char *)ft->entries + (size_t)idx * entry_size;
}

/** What a table's check says of one of its entries (mg_flowtab_check_fn). */
enum mg_flowtab_state {
	MG_FLOWTAB_FREE,  /**< Not a flow: free, or ended earlier in the same call. */
	MG_FLOWTAB_ENDED, /**< A flow the check has just ended (it had expired). */
	MG_FLOWTAB_LIVE,  /**< A living flow. */
};

/**
 * A table's view of entry @p entry of its table @p tab at time @p now:
 * whether it is a flow, and whether that flow still lives; one that has
 * expired it ends (hash keys deleted, record exported, entry freed). The
 * helpers below take it as an argument and are always inlined, so with a
 * constant check there is no indirect call.
 */
typedef enum mg_flowtab_state (*mg_flowtab_check_fn)(void *tab, void *entry, uint64_t now);

/**
 * Look @p key up (owner). @return its entry (of @p entry_size bytes), with
 * its direction in @p dir, or NULL when the hash has none or @p check says
 * the flow is over.
 */
static __rte_always_inline void *
mg_flowtab_lookup(struct mg_flowtab *ft, const void *key, size_t entry_size,
		  mg_flowtab_check_fn check, void *tab, uint64_t now, int *dir)
{
	void *data, *e;

	if (rte_hash_lookup_data(ft->h, key, &data) < 0)
		return NULL;
	e = mg_flowtab_entry(ft, mg_flowtab_idx(data), entry_size);
	if (check(tab, e, now) != MG_FLOWTAB_LIVE)
		return NULL;
	*dir = mg_flowtab_dir(data);
	return e;
}

/**
 * Look up keys[0..n) (owner): entries[i] is the entry of keys[i] (and
 * dirs[i] its direction), or NULL as for mg_flowtab_lookup(). The hash is
 * asked in bulks of RTE_HASH_LOOKUP_BULK_MAX and every entry found is
 * prefetched (each a cache miss) before the checks; a flow an earlier key
 * of the call ended (the same flow's, either direction) is then free, and
 * @p check must say so. @return how many were found.
 */
static __rte_always_inline unsigned int
mg_flowtab_lookup_bulk(struct mg_flowtab *ft, const void **keys, unsigned int n,
		       size_t entry_size, mg_flowtab_check_fn check, void *tab, uint64_t now,
		       void **entries, uint8_t *dirs)
{
	void *data[RTE_HASH_LOOKUP_BULK_MAX];
	unsigned int found = 0;

	for (unsigned int base = 0; base < n; base += RTE_HASH_LOOKUP_BULK_MAX) {
		unsigned int m = RTE_MIN(n - base, (unsigned int)RTE_HASH_LOOKUP_BULK_MAX);
		uint64_t hits = 0;

		rte_hash_lookup_bulk_data(ft->h, keys + base, m, &hits, data);
		for (unsigned int i = 0; i < m; i++)
			if (hits & (1ull << i))
				rte_prefetch0(mg_flowtab_entry(ft, mg_flowtab_idx(data[i]),
							       entry_size));
		for (unsigned int i = 0; i < m; i++) {
			void *e = NULL;

			if (hits & (1ull << i)) {
				e = mg_flowtab_entry(ft, mg_flowtab_idx(data[i]), entry_size);
				if (check(tab, e, now) == MG_FLOWTAB_LIVE) {
					dirs[base + i] = (uint8_t)mg_flowtab_dir(data[i]);
					found++;
				} else {
					e = NULL;
				}
			}
			entries[base + i] = e;
		}
	}
	return found;
}

/** The free entry that the next flow takes (owner), UINT32_MAX when none. */
static inline uint32_t
mg_flowtab_free_peek(const struct mg_flowtab *ft)
{
	return likely(ft->nfree != 0) ? ft->free_stack[ft->nfree - 1] : UINT32_MAX;
}

/** Take the entry mg_flowtab_free_peek() named (owner). */
static inline void
mg_flowtab_free_take(struct mg_flowtab *ft)
{
	ft->nfree--;
}

/** Give entry @p idx back (owner). */
static inline void
mg_flowtab_free_put(struct mg_flowtab *ft, uint32_t idx)
{
	ft->free_stack[ft->nfree++] = idx;
}

/** Results of mg_flowtab_add(). */
enum mg_flowtab_add {
	MG_FLOWTAB_ADD_OK = 0, /**< Both keys in. */
	MG_FLOWTAB_ADD_FULL,   /**< The first key did not fit. */
	MG_FLOWTAB_ADD_CLASH,  /**< The reverse key belongs to a flow already. */
	MG_FLOWTAB_ADD_RFULL,  /**< The reverse key did not fit. */
};

/**
 * Key entry @p idx under @p k (direction 0) and, if not NULL, @p rk
 * (direction 1) (owner). @p k must not be in the hash (adding a key present
 * would repoint it); a present @p rk is refused, as it belongs to another
 * flow. On failure no key of this call stays in.
 */
static inline enum mg_flowtab_add
mg_flowtab_add(struct mg_flowtab *ft, const void *k, const void *rk, uint32_t idx)
{
	if (unlikely(rte_hash_add_key_data(ft->h, k, (void *)((uintptr_t)idx << 1)) < 0))
		return MG_FLOWTAB_ADD_FULL;
	if (rk == NULL)
		return MG_FLOWTAB_ADD_OK;
	/* rte_hash_add_key_data replaces the data of a key present: a reverse
	 * key that another flow holds (a NAT tuple clash) must not be stolen. */
	if (unlikely(rte_hash_lookup(ft->h, rk) >= 0)) {
		rte_hash_del_key(ft->h, k);
		return MG_FLOWTAB_ADD_CLASH;
	}
	if (unlikely(rte_hash_add_key_data(ft->h, rk, (void *)((uintptr_t)idx << 1 | 1)) < 0)) {
		rte_hash_del_key(ft->h, k);
		return MG_FLOWTAB_ADD_RFULL;
	}
	return MG_FLOWTAB_ADD_OK;
}

/** Remove a flow's keys @p k and, if not NULL, @p rk (owner). */
static inline void
mg_flowtab_del(struct mg_flowtab *ft, const void *k, const void *rk)
{
	rte_hash_del_key(ft->h, k);
	if (rk != NULL)
		rte_hash_del_key(ft->h, rk);
}

/**
 * Push record @p rec of the ring's record size on the export ring (owner;
 * the table has a ring). @return 0, or -1 when the ring is full.
 */
static inline int
mg_flowtab_export(struct mg_flowtab *ft, void *rec, unsigned int record_size)
{
	return rte_ring_sp_enqueue_elem(ft->ring, rec, record_size) == 0 ? 0 : -1;
}

/**
 * The expiry walk (owner): @p check visits the next @p budget entries
 * (at most the capacity) round-robin from the cursor and ends the flows
 * that have expired. In a large table each entry is a cache miss: the one
 * eight ahead is prefetched. @return how many flows it ended.
 */
static __rte_always_inline unsigned int
mg_flowtab_expire(struct mg_flowtab *ft, unsigned int budget, size_t entry_size,
		  mg_flowtab_check_fn check, void *tab, uint64_t now)
{
	uint32_t cap = ft->capacity;
	unsigned int ended = 0;

	if (budget > cap)
		budget = cap;
	for (unsigned int i = 0; i < budget; i++) {
		uint32_t idx = ft->cursor, ahead = idx + 8;

		rte_prefetch0(mg_flowtab_entry(ft, ahead < cap ? ahead : ahead % cap, entry_size));
		ft->cursor = idx + 1 == cap ? 0 : idx + 1;
		ended += check(tab, mg_flowtab_entry(ft, idx, entry_size), now) == MG_FLOWTAB_ENDED;
	}
	return ended;
}

/**
 * Hand up to @p max records of @p record_size bytes from the export ring
 * to @p cb (the ring's single consumer), in bursts of 32.
 * @return how many (0 without a ring).
 */
unsigned int mg_flowtab_drain(struct mg_flowtab *ft, unsigned int record_size,
			      void (*cb)(const void *rec, void *arg), void *arg, unsigned int max);

#endif /* MG_FLOWTAB_H */
