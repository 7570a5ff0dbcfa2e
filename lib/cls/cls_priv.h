/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef CLS_PRIV_H
#define CLS_PRIV_H

/*
 * The inside of a classification table. Workers read everything but the
 * "main lcore only" part, and write only their own slot (struct cls_slot).
 */

#include <string.h>

#include <rte_common.h>
#include <rte_hash_crc.h>
#include <rte_log.h>
#include <rte_meter.h>

#include "mg_cls.h"

extern int mg_cls_logtype;
#define CLS_LOG(l, ...) rte_log(RTE_LOG_##l, mg_cls_logtype, "cls: " __VA_ARGS__)

/** One rule's counters in one worker slot. */
struct cls_cnt {
	/** Packets won. */
	uint64_t pkts;
	/** Their bytes. */
	uint64_t bytes;
};

/** One police rule's meter in one worker slot. */
struct cls_meter {
	/** The srTCM buckets. */
	struct rte_meter_srtcm m;
	/** Which profile is live (acquire/release; main lcore flips it). */
	uint8_t cur;
	/** Packets by colour (enum rte_color). */
	uint64_t color[RTE_COLORS];
	/** Bytes of red packets. */
	uint64_t red_bytes;
	/** Bytes offered to the meter, for mg_cls_police_rebalance. */
	uint64_t offered;
	/** This slot's share of the rate and burst; the idle one is rewritten by the main lcore. */
	struct rte_meter_srtcm_profile prof[2];
} __rte_cache_aligned;

/*
 * The result cache: a worker's set-associative memo of rte_acl's answers,
 * key bytes to result index. rte_acl's answer is a function of the key
 * bytes it reads (the first CLS_KEY4_LEN / CLS_KEY6_LEN bytes of struct
 * mg_cls_key) and of the table, and a cache lives and dies with its table:
 * an entry never goes stale. A packet of a flow seen lately costs a hash
 * and a compare, whatever the number of rules; the others go to rte_acl
 * together, one call per chunk. Four ways per set (with two, ~5% of 256
 * flows lost their entries to sets they shared with two others, each loss a
 * full rte_acl walk): a miss takes the way whose tag it shares, else the
 * set's first free way, else one picked at random (a hit writes nothing).
 * Tables of one category only.
 *
 * A set's first entry also holds the four ways' tags, 16 bits of each key's
 * hash: a lookup reads that line, and another only where the tag matches,
 * to compare the whole key there. A key that is not cached (traffic that
 * outgrows the cache, a scan) so costs one line instead of the four of its
 * set, and a hit in a later way no longer compares the keys before it, a
 * branch the CPU mispredicts when flows spread over the ways. Old and new
 * alternated on tools/bench's rules1000 configuration (meshgate's rate):
 * 4,096 flows per family +11%, 32,768 +6%, 256 the same. A set never holds
 * one tag twice: the first match is the only candidate. Tags in an array of
 * their own were tried: their lines doubled the cache's footprint where
 * flows are few (256 per family: ~1.5 cycles more per packet); so was trying
 * the first way before the tags (its mispredictions gave back most of the
 * gain at 4,096 flows).
 *
 * 8,192 entries per worker slot and table (512 KB; a table is one network's
 * rules for one family): 4,096 live flows fit with room for the sets they
 * share (at 512 entries, the benchmark's 4,096 flows per family thrashed it
 * and cost 2.5x the cycles of 256). Beyond that the cache still answers
 * what its random replacement kept; a bypass below some hit rate was tried
 * and dropped (see the README's classification benchmark). So was admitting
 * a miss that must evict with a probability of 1/4, 1/8 or 1/16 (fewer fills,
 * and a cyclic scan of 16 keys per set keeps ~20% of them instead of ~2%):
 * at 32,768 flows per family ip6-classify went from ~113 to ~96-102 cycles
 * per received packet, the rate moved within its noise, cls_bench's 65,536
 * random flows did not change, and every flow would need ~1/p misses to be
 * cached again after a scan.
 */
#define CLS_CACHE_SETS 2048u /* sets of CLS_CACHE_WAYS entries per worker slot: 512 KB */
#define CLS_CACHE_WAYS 4u
#define CLS_KEY4_LEN 20u     /* proto word, addresses, ports, meta */
#define CLS_KEY6_LEN 44u

/** One cache entry: a cache line. */
struct cls_cache_ent {
	/** The key bytes rte_acl reads (CLS_KEY4_LEN or CLS_KEY6_LEN of them). */
	uint8_t key[48];
	/** Result index + 1; 0: empty. */
	uint32_t idx;
	/** In a set's first entry: the tags of its ways (odd; 0: empty way). */
	uint16_t tag[CLS_CACHE_WAYS];
} __rte_cache_aligned;

/* ---- where a key goes in a slot's cache (in this header for the unit tests) ---- */

/* Hash of the first @len (CLS_KEY4_LEN or CLS_KEY6_LEN) bytes of key @k. */
static __rte_always_inline uint32_t
cls_cache_hash(const struct mg_cls_key *k, uint32_t len)
{
	const uint8_t *p = (const uint8_t *)k;
	uint32_t h = 0, w;
	uint64_t q;

	for (uint32_t o = 0; o + 8 <= len; o += 8) {
		memcpy(&q, p + o, 8);
		h = rte_hash_crc_8byte(q, h);
	}
	memcpy(&w, p + len - 4, 4); /* both lengths are 4 mod 8 */
	return rte_hash_crc_4byte(w, h);
}

/*
 * The first entry of a hash's set. CRC32 is linear: keys that differ in a
 * pattern (addresses and ports counted up together) can share low bits; a
 * multiplication spreads every bit of the hash into the high ones used here.
 */
static __rte_always_inline uint32_t
cls_cache_set(uint32_t h)
{
	return ((h * 0x9e3779b1u) >> (32 - __builtin_ctz(CLS_CACHE_SETS))) * CLS_CACHE_WAYS;
}

/* The tag of hash @h: its low 16 bits, made odd (0 marks an empty way). */
static __rte_always_inline uint16_t
cls_cache_tag(uint32_t h)
{
	return (uint16_t)(h | 1);
}

/** What one worker slot writes. */
struct cls_slot {
	/** Counters of every result index (see mg_cls_table.tmpl). */
	struct cls_cnt *cnt;
	/** Meters of the police rules, by police index. */
	struct cls_meter *met;
	/** The result cache (CLS_CACHE_SETS sets of CLS_CACHE_WAYS entries), NULL without rte_acl or with categories. */
	struct cls_cache_ent *cache;
	/** State of the random choice of the way a miss replaces. */
	uint32_t victim;
	/** Packets looked up in the cache, and answered from it. */
	uint64_t cache_lookups, cache_hits;
} __rte_cache_aligned;

/** A police rule as configured. */
struct cls_police {
	/** Result index of the rule. */
	uint32_t index;
	/** Committed rate, bytes/s. */
	uint64_t rate;
	/** Committed burst, bytes. */
	uint64_t burst;
	/** Excess burst, bytes. */
	uint64_t excess;
};

/** A (rule id, result index) pair, sorted by id for lookups. */
struct cls_id {
	/** The caller's rule id. */
	uint32_t id;
	/** Its result index. */
	uint32_t index;
};

struct mg_cls_table {
	/* Read by workers. */
	/** The compiled rules; NULL when the set has none. */
	struct rte_acl_ctx *acl;
	/**
	 * Result of each index: 0 is the default action, 1..rules the rules in
	 * evaluation order (rte_acl's userdata), rules + 1 "no match" in a
	 * category above 0.
	 */
	struct mg_cls_result *tmpl;
	/** The worker slots. */
	struct cls_slot *slots;
	/** Entries of tmpl. */
	uint32_t nb_idx;
	/** Categories (1, 4, 8, 12, 16). */
	uint32_t categories;
	/** rte_acl algorithm. */
	enum rte_acl_classify_alg alg;
	/** AF_INET or AF_INET6. */
	uint8_t family;
	/** Worker slots. */
	uint16_t nb_workers;

	/* Main lcore only. */
	/** Rules of the set. */
	uint32_t nb_rules;
	/** rte_acl rules. */
	uint32_t acl_rules;
	/** Police rules. */
	uint32_t npol;
	/** Their configuration, by police index. */
	struct cls_police *pol;
	/** Rule ids sorted, for lookups by id. */
	struct cls_id *ids;
	/** Counters carried over from replaced tables, by result index. */
	struct mg_cls_counters *base;
	/** Bytes offered to each meter at the last rebalance: [police][slot]. */
	uint64_t *reb_offered;
	/** TSC of the last rebalance. */
	uint64_t reb_tsc;
	/** QSBR token of the last profile change. */
	uint64_t reb_token;
	/** A profile change waits for that token. */
	int reb_pending;
	/** Optional QSBR variable (conf.rcu). */
	struct rte_rcu_qsbr *rcu;
	/** Build times, ns. */
	uint64_t build_ns, acl_build_ns;
	/** Bytes allocated outside rte_acl. */
	size_t mem;
	/** Network, for logs. */
	uint16_t net;
};

/** Configure @p prof for a @p share (0..1] of police rule @p p's rate and bursts. */
int cls_police_profile(const struct cls_police *p, struct rte_meter_srtcm_profile *prof,
		       double share);

/** Set up the meters of every slot with an even split (at build). 0 or -errno. */
int cls_police_init(struct mg_cls_table *t);

#endif /* CLS_PRIV_H */
