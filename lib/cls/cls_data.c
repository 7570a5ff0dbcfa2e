/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fast path: keys to the slot's result cache, the misses to rte_acl in
 * chunks, winners to results (a 16-byte template copy per packet) and
 * per-slot counters; policing and DSCP marks
 * for the results that ask for them. Workers only: no allocation, lock or
 * system call, and nothing written outside the caller's slot and packets.
 */
#include <sys/socket.h>

#include <rte_prefetch.h>

#include "cls_priv.h"

/*
 * Copy the templates of the winners @idx[0..n) into @res (stride @stride)
 * and count them. Runs of the same winner are counted once: a burst of one
 * flow costs one counter update, not a chain of dependent increments.
 */
static __rte_always_inline void
cls_results(const struct mg_cls_table *t, struct cls_cnt *cnt, const uint32_t *idx,
	    const struct mg_cls_key *keys, uint32_t n, struct mg_cls_result *res, uint32_t stride)
{
	const struct mg_cls_result *tmpl = t->tmpl;
	uint32_t prev = idx[0];
	uint64_t pk = 0, by = 0;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t x = idx[i];

		res[i * stride] = tmpl[x];
		if (unlikely(x != prev)) {
			cnt[prev].pkts += pk;
			cnt[prev].bytes += by;
			prev = x;
			pk = 0;
			by = 0;
		}
		pk++;
		by += keys[i].len;
	}
	cnt[prev].pkts += pk;
	cnt[prev].bytes += by;
}

/* True when entry @e holds the first @len bytes of key @k. */
static __rte_always_inline bool
cls_cache_eq(const struct cls_cache_ent *e, const struct mg_cls_key *k, uint32_t len)
{
	const uint8_t *p = (const uint8_t *)k;
	uint64_t d = 0, a, b;
	uint32_t x, y;

	for (uint32_t o = 0; o + 8 <= len; o += 8) {
		memcpy(&a, p + o, 8);
		memcpy(&b, e->key + o, 8);
		d |= a ^ b;
	}
	memcpy(&x, p + len - 4, 4);
	memcpy(&y, e->key + len - 4, 4);
	return (d | (x ^ y)) == 0 && e->idx != 0;
}

/*
 * The way of set @e whose tag is @tag, or CLS_CACHE_WAYS: the lowest zero
 * lane of the tags XOR the tag (a borrow can mark lanes above a zero one,
 * never below it).
 */
static __rte_always_inline uint32_t
cls_cache_way(const struct cls_cache_ent *e, uint16_t tag)
{
	uint64_t x, z;

	RTE_BUILD_BUG_ON(sizeof(e->tag) != sizeof(x));
	memcpy(&x, e->tag, sizeof(x));
	x ^= 0x0001000100010001ull * tag;
	z = (x - 0x0001000100010001ull) & ~x & 0x8000800080008000ull;
	return z != 0 ? (uint32_t)__builtin_ctzll(z) / 16 : CLS_CACHE_WAYS;
}

/*
 * rte_acl's winners @idx of keys[0..n) in a one-category table, through the
 * slot's result cache: hits are answered from it, the misses go to rte_acl
 * in one call and are remembered (see struct cls_cache_ent).
 */
static __rte_always_inline void
cls_cached(const struct mg_cls_table *t, struct cls_slot *s, const struct mg_cls_key *keys,
	   uint32_t n, uint32_t *idx, uint32_t len)
{
	struct cls_cache_ent *cache = s->cache;
	const uint8_t *data[MG_CLS_CHUNK];
	uint32_t h[MG_CLS_CHUNK], miss[MG_CLS_CHUNK], midx[MG_CLS_CHUNK];
	uint32_t nm = 0;

	for (uint32_t i = 0; i < n; i++) {
		h[i] = cls_cache_hash(&keys[i], len);
		/* The set's first entry: the tags, and the way most hits are in. */
		rte_prefetch0(&cache[cls_cache_set(h[i])]);
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct cls_cache_ent *e = &cache[cls_cache_set(h[i])];
		const uint32_t w = cls_cache_way(e, cls_cache_tag(h[i]));

		if (likely(w < CLS_CACHE_WAYS && cls_cache_eq(&e[w], &keys[i], len))) {
			idx[i] = e[w].idx - 1;
		} else {
			miss[nm] = i;
			data[nm++] = (const uint8_t *)&keys[i];
		}
	}
	s->cache_lookups += n;
	s->cache_hits += n - nm;
	if (nm == 0)
		return;
	rte_acl_classify_alg(t->acl, data, midx, nm, 1, t->alg);
	for (uint32_t j = 0; j < nm; j++) {
		const uint32_t i = miss[j];
		const uint16_t tag = cls_cache_tag(h[i]);
		struct cls_cache_ent *e = &cache[cls_cache_set(h[i])];
		uint32_t w = cls_cache_way(e, tag);

		/* The way of the same tag (this key seen earlier in the chunk, or
		 * another of the same tag), else the first free one, else a
		 * random victim: a round robin misses every time on a cycle of
		 * more flows than ways in one set (a looping capture, a scan). */
		if (w == CLS_CACHE_WAYS)
			w = cls_cache_way(e, 0);
		if (w == CLS_CACHE_WAYS) {
			s->victim = s->victim * 1103515245u + 12345u;
			w = (s->victim >> 30) % CLS_CACHE_WAYS;
		}
		idx[i] = midx[j];
		memcpy(e[w].key, &keys[i], len);
		e[w].idx = midx[j] + 1;
		e->tag[w] = tag;
	}
}

/* Classify one chunk (n <= MG_CLS_CHUNK) of filled keys. */
static inline void
cls_chunk(const struct mg_cls_table *t, struct cls_slot *s, const struct mg_cls_key *keys,
	  uint32_t n, struct mg_cls_result *res)
{
	const uint8_t *data[MG_CLS_CHUNK];
	uint32_t idx[MG_CLS_CHUNK * RTE_ACL_MAX_CATEGORIES];
	const uint32_t cat = t->categories;
	struct cls_cnt *cnt = s->cnt;

	if (likely(s->cache != NULL)) {
		/* rte_acl and one category (cls_build). */
		if (t->family == AF_INET)
			cls_cached(t, s, keys, n, idx, CLS_KEY4_LEN);
		else
			cls_cached(t, s, keys, n, idx, CLS_KEY6_LEN);
		cls_results(t, cnt, idx, keys, n, res, 1);
		return;
	}
	if (likely(t->acl != NULL)) {
		for (uint32_t i = 0; i < n; i++)
			data[i] = (const uint8_t *)&keys[i];
		rte_acl_classify_alg(t->acl, data, idx, n, cat, t->alg);
	} else {
		memset(idx, 0, sizeof(idx[0]) * n * cat);
	}
	if (likely(cat == 1)) {
		cls_results(t, cnt, idx, keys, n, res, 1);
		return;
	}
	/* Several categories: no match above category 0 is "none", not the default. */
	for (uint32_t c = 0; c < cat; c++) {
		uint32_t col[MG_CLS_CHUNK];

		for (uint32_t i = 0; i < n; i++) {
			uint32_t x = idx[i * cat + c];

			col[i] = (x == 0 && c > 0) ? t->nb_idx - 1 : x;
		}
		cls_results(t, cnt, col, keys, n, res + c, cat);
	}
}

void
mg_cls_classify(const struct mg_cls_table *t, unsigned int worker,
		const struct mg_cls_key *keys, uint32_t n, struct mg_cls_result *res)
{
	struct cls_slot *s;

	RTE_ASSERT(worker < t->nb_workers);
	s = &t->slots[worker];
	for (uint32_t base = 0; base < n; base += MG_CLS_CHUNK) {
		uint32_t m = RTE_MIN(n - base, (uint32_t)MG_CLS_CHUNK);

		cls_chunk(t, s, keys + base, m, res + (size_t)base * t->categories);
	}
}

/* Prefetch for key filling at packet @i of @n: mbuf 8 ahead, its data 4 ahead. */
static __rte_always_inline void
cls_prefetch(struct rte_mbuf *const *p, uint32_t i, uint32_t n)
{
	if (i + 8 < n)
		rte_prefetch0(p[i + 8]);
	if (i + 4 < n)
		rte_prefetch0(rte_pktmbuf_mtod(p[i + 4], void *));
}

void
mg_cls_classify_burst(const struct mg_cls_table *t, unsigned int worker,
		      struct rte_mbuf *const *pkts, const uint16_t *iface, const uint16_t *vlan,
		      uint32_t n, struct mg_cls_result *res)
{
	struct mg_cls_key keys[MG_CLS_CHUNK];
	struct cls_slot *s;

	RTE_ASSERT(worker < t->nb_workers);
	s = &t->slots[worker];
	for (uint32_t base = 0; base < n; base += MG_CLS_CHUNK) {
		uint32_t m = RTE_MIN(n - base, (uint32_t)MG_CLS_CHUNK);
		struct rte_mbuf *const *p = pkts + base;

		/* The family is fixed per table: one branch per chunk, not per packet. */
		if (t->family == AF_INET) {
			for (uint32_t i = 0; i < m; i++) {
				cls_prefetch(p, i, m);
				mg_cls_key4(&keys[i], p[i], iface ? iface[base + i] : MG_CLS_IFACE_NONE,
					    vlan ? vlan[base + i] : 0);
			}
		} else {
			for (uint32_t i = 0; i < m; i++) {
				cls_prefetch(p, i, m);
				mg_cls_key6(&keys[i], p[i], iface ? iface[base + i] : MG_CLS_IFACE_NONE,
					    vlan ? vlan[base + i] : 0);
			}
		}
		cls_chunk(t, s, keys, m, res + (size_t)base * t->categories);
	}
}

/* ---- actions applied to packets ------------------------------------------------------------ */

/* Rewrite the DSCP of the packet at @m, keeping ECN; IPv4's checksum patched (RFC 1624). */
static inline void
cls_mark(uint8_t family, struct rte_mbuf *m, uint8_t dscp)
{
	uint8_t *ip = rte_pktmbuf_mtod(m, uint8_t *);

	if (family == AF_INET) {
		uint16_t old, new, ck;
		uint8_t tos;

		if (unlikely(m->data_len < MG_IP4_MIN_HLEN))
			return;
		tos = (uint8_t)((ip[1] & 3) | dscp << 2);
		if (tos == ip[1])
			return;
		/* HC' = ~(~HC + ~m + m') over the 16-bit word holding the TOS. */
		memcpy(&old, ip, 2);
		ip[1] = tos;
		memcpy(&new, ip, 2);
		memcpy(&ck, ip + 10, 2);
		ck = (uint16_t)~mg_csum_fold((uint32_t)(uint16_t)~ck + (uint16_t)~old + new);
		memcpy(ip + 10, &ck, 2);
	} else {
		uint32_t w;

		if (unlikely(m->data_len < MG_IP6_HLEN))
			return;
		w = mg_cls_rd_be32(ip);
		w = (w & ~(0x3fu << 22)) | (uint32_t)dscp << 22;
		w = rte_cpu_to_be_32(w);
		memcpy(ip, &w, 4);
	}
}

/* Meter one packet of a police result in the caller's slot. */
static inline void
cls_police(const struct mg_cls_table *t, unsigned int worker, struct rte_mbuf *m,
	   struct mg_cls_result *r, uint64_t tsc)
{
	struct cls_meter *mt = &t->slots[worker].met[r->id];
	const uint32_t len = m->pkt_len;
	enum rte_color col;
	uint8_t cur;

	/* A TSC read before the table was built would look like years of refill. */
	if (unlikely((int64_t)(tsc - mt->m.time) < 0))
		tsc = mt->m.time;
	cur = __atomic_load_n(&mt->cur, __ATOMIC_ACQUIRE);
	col = rte_meter_srtcm_color_blind_check(&mt->m, &mt->prof[cur], tsc, len);
	mt->offered += len;
	mt->color[col]++;
	if (col == RTE_COLOR_RED) {
		mt->red_bytes += len;
		r->verdict = MG_CLS_DROP_POLICE;
	}
}

enum mg_cls_verdict
mg_cls_apply(const struct mg_cls_table *t, unsigned int worker, struct rte_mbuf *m,
	     struct mg_cls_result *r, uint64_t tsc)
{
	RTE_ASSERT(worker < t->nb_workers);
	if (r->action == MG_CLS_POLICE)
		cls_police(t, worker, m, r, tsc);
	else if (r->action == MG_CLS_MARK)
		cls_mark(t->family, m, r->dscp);
	return (enum mg_cls_verdict)r->verdict;
}

uint32_t
mg_cls_apply_burst(const struct mg_cls_table *t, unsigned int worker,
		   struct rte_mbuf *const *pkts, struct mg_cls_result *res, uint32_t n,
		   uint64_t tsc)
{
	const uint32_t stride = t->categories;
	uint32_t dropped = 0;

	RTE_ASSERT(worker < t->nb_workers);
	for (uint32_t i = 0; i < n; i++) {
		struct mg_cls_result *r = &res[(size_t)i * stride];

		if (likely(!(r->flags & MG_CLS_RF_APPLY)))
			continue;
		if (r->action == MG_CLS_POLICE) {
			cls_police(t, worker, pkts[i], r, tsc);
			dropped += r->verdict == MG_CLS_DROP_POLICE;
		} else {
			cls_mark(t->family, pkts[i], r->dscp);
		}
	}
	return dropped;
}
