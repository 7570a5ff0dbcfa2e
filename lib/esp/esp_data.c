/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The data path: encrypt and decrypt bursts of one SA through librte_ipsec,
 * with the checks and header work librte_ipsec leaves to its caller (outer
 * header checks and checksums, DSCP/ECN/DF, inner packet checks, per-packet
 * reasons), lifetime budgets, the receive path with its SPI lookup and the
 * handoff to owner workers.
 */

#include <string.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_cryptodev.h>
#include <rte_esp.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "esp_priv.h"

#define FAILED RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED
#define ECN_NOT_ECT 0
#define ECN_ECT1 1
#define ECN_ECT0 2
#define ECN_CE 3

/*
 * Outcome of the crypto step over mb[0..n), in this order:
 * [0, ok) processed; [ok, proc) failed in crypto or in librte_ipsec's
 * post-processing; [proc, prep) refused by the crypto device; [prep, n)
 * refused by librte_ipsec's prepare step.
 */
struct esp_run {
	uint16_t ok;    /* Processed. */
	uint16_t proc;  /* End of the crypto/post-processing failures. */
	uint16_t prep;  /* End of the device refusals. */
};

/* Failures collected during a burst, returned after the successes. */
struct esp_fails {
	uint16_t n;                               /* Entries. */
	struct rte_mbuf *m[MG_ESP_MAX_BURST];     /* Packets. */
	uint8_t r[MG_ESP_MAX_BURST];              /* Their reasons. */
};

/* Record failure @p r of @p m, counted in @p ws. */
static inline void
fail_add(struct esp_fails *f, struct esp_sa_wstats *ws, struct rte_mbuf *m, uint8_t r)
{
	f->m[f->n] = m;
	f->r[f->n++] = r;
	ws->err[r]++;
}

/* Write the successes then the failures back to the caller's arrays. */
static inline uint16_t
burst_finish(struct rte_mbuf **pkts, uint8_t *reasons, struct rte_mbuf **ok, uint16_t nok,
	     const struct esp_fails *f)
{
	if (ok != pkts)
		memcpy(pkts, ok, nok * sizeof(pkts[0]));
	memcpy(pkts + nok, f->m, f->n * sizeof(pkts[0]));
	if (reasons != NULL)
		memcpy(reasons + nok, f->r, f->n);
	return nok;
}

/* Fail a whole burst with one reason (counted). */
static uint16_t
burst_fail_all(struct esp_sa_wstats *ws, uint16_t n, uint8_t *reasons, uint8_t r)
{
	ws->err[r] += n;
	if (reasons != NULL)
		memset(reasons, r, n);
	return 0;
}

/* Index of the meta entry of @p m, trying @p *cur first (the usual, stable order). */
static inline uint16_t
meta_find(const struct esp_pmeta *meta, uint16_t n, const struct rte_mbuf *m, uint16_t *cur)
{
	uint16_t i = *cur;

	while (i < n && meta[i].m != m)
		i++;
	if (unlikely(i >= n))
		for (i = 0; meta[i].m != m; i++)
			;
	*cur = i + 1;
	return i;
}

/* ---- lifetime budgets --------------------------------------------------------------- */

/* Take a share of a shared budget: at least @p need, more while plenty is left. */
static inline uint64_t
budget_grab(uint64_t *pool, uint64_t need, unsigned int nb_workers)
{
	uint64_t left = __atomic_load_n(pool, __ATOMIC_RELAXED), grant;

	do {
		if (left == 0)
			return 0;
		grant = RTE_MAX(need, left / (4 * nb_workers));
		grant = RTE_MIN(grant, left);
	} while (!__atomic_compare_exchange_n(pool, &left, left - grant, false, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return grant;
}

/* Expire the SA: limit @p kind (enum mg_esp_limit_kind) was reached. */
static void
budget_expire(struct mg_esp_sa *sa, uint32_t kind)
{
	uint32_t active = MG_ESP_STATE_ACTIVE;

	__atomic_store_n(&sa->expired_by, kind, __ATOMIC_RELAXED);
	if (!__atomic_compare_exchange_n(&sa->state, &active, MG_ESP_STATE_EXPIRED, false,
					 __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		__atomic_store_n(&sa->state, MG_ESP_STATE_EXPIRED, __ATOMIC_RELEASE);
}

/* Whether the SA's whole packet budget is spent: none left to hand out, none held. */
static bool
budget_pkts_spent(const struct mg_esp_sa *sa)
{
	if (__atomic_load_n(&sa->life_pkts, __ATOMIC_RELAXED) != 0)
		return false;
	for (uint16_t w = 0; w < sa->nb_workers; w++)
		if (__atomic_load_n(&sa->ws[w].q_pkts, __ATOMIC_RELAXED) != 0)
			return false;
	return true;
}

/*
 * Charge packets of lengths len[0..n) to the SA's hard limits, in order;
 * returns how many fit. A packet that does not fit expires the SA, and so
 * does the last packet of the packet limit (the hard limit is reached: the
 * SA stops then, and its event comes without waiting for one more packet).
 */
static uint16_t
budget_take(struct mg_esp_sa *sa, struct esp_sa_wstats *ws, uint32_t *len, uint16_t n)
{
	uint64_t rest_bytes = 0;
	uint16_t i;

	for (i = 0; i < n; i++)
		rest_bytes += len[i];
	for (i = 0; i < n; i++) {
		if (ws->q_pkts == 0)
			ws->q_pkts += budget_grab(&sa->life_pkts, n - i, sa->nb_workers);
		if (ws->q_bytes < len[i])
			ws->q_bytes += budget_grab(&sa->life_bytes, rest_bytes - ws->q_bytes,
						   sa->nb_workers);
		if (ws->q_pkts == 0 || ws->q_bytes < len[i]) {
			budget_expire(sa, ws->q_pkts == 0 ? MG_ESP_LIMIT_PACKETS : MG_ESP_LIMIT_BYTES);
			break;
		}
		__atomic_store_n(&ws->q_pkts, ws->q_pkts - 1, __ATOMIC_RELAXED);
		ws->q_bytes -= len[i];
		rest_bytes -= len[i];
	}
	if (unlikely(ws->q_pkts == 0) && i > 0 && budget_pkts_spent(sa))
		budget_expire(sa, MG_ESP_LIMIT_PACKETS);
	return i;
}

/* ---- anti-replay ----------------------------------------------------------------------------- */

/*
 * The full sequence number of a packet whose header carries @p low, from
 * the highest one seen (RFC 4303 appendix A2.1).
 */
static inline uint64_t
esn_infer(uint64_t top, uint32_t low, uint32_t w)
{
	uint32_t th = top >> 32, tl = (uint32_t)top, bottom = tl - w + 1;

	if (tl >= w - 1) {
		/* The window lies in one 2^32 subspace. */
		if (low < bottom)
			th++;
	} else if (low >= bottom && th != 0) {
		/* The window straddles a subspace boundary; low is in the lower one. */
		th--;
	}
	return (uint64_t)th << 32 | low;
}

/* True if @p s was seen or is left of the window (0 never counts). */
static inline bool
replay_seen(const struct esp_replay *rp, uint64_t s)
{
	if (unlikely(s == 0))
		return true;
	if (s > rp->top)
		return false;
	if (s + rp->win <= rp->top)
		return true;
	return (rp->bits[(s >> 6) & rp->mask] >> (s & 63)) & 1;
}

/* Record authenticated sequence number @p s; false if it was a replay after all. */
static inline bool
replay_mark(struct esp_replay *rp, uint64_t s)
{
	if (s > rp->top) {
		uint64_t from = (rp->top >> 6) + 1, to = s >> 6;

		/* Clear the words the window slides onto (at most the whole ring). */
		if (to >= from && to - from > rp->mask)
			from = to - rp->mask;
		for (uint64_t w = from; w <= to; w++)
			rp->bits[w & rp->mask] = 0;
		rp->top = s;
	} else if (replay_seen(rp, s)) {
		return false;
	}
	rp->bits[(s >> 6) & rp->mask] |= 1ull << (s & 63);
	return true;
}

/* ---- the crypto step ---------------------------------------------------------------------- */

/* Synchronous CPU crypto: prepare does the crypto, process finishes the packets. */
static inline struct esp_run
run_cpu(struct mg_esp_sa *sa, struct rte_mbuf **mb, uint16_t n)
{
	uint16_t k = rte_ipsec_pkt_cpu_prepare(&sa->ss, mb, n);
	uint16_t ok = k != 0 ? rte_ipsec_pkt_process(&sa->ss, mb, k) : 0;

	return (struct esp_run){ok, k, k};
}

/*
 * Lookaside: enqueue the burst on the worker's queue pair and wait for it
 * (the software PMDs do the work in dequeue, so the wait is the crypto
 * itself). Ops whose status is not success mark their mbuf FAILED, which
 * librte_ipsec's process step turns into a failure.
 */
static struct esp_run
run_lookaside(struct mg_esp_worker *wk, struct mg_esp_sa *sa, struct rte_mbuf **mb, uint16_t n)
{
	struct rte_crypto_op *ops[MG_ESP_MAX_BURST];
	struct rte_mempool *pool = wk->esp->op_pool;
	uint16_t k, e, got = 0;

	if (rte_crypto_op_bulk_alloc(pool, RTE_CRYPTO_OP_TYPE_SYMMETRIC, ops, n) == 0)
		return (struct esp_run){0, 0, n};
	k = rte_ipsec_pkt_crypto_prepare(&sa->ss, mb, ops, n);
	if (k < n)
		rte_mempool_put_bulk(pool, (void **)&ops[k], n - k);
	if (sa->cbc && sa->dir == MG_ESP_OUTBOUND)
		/*
		 * librte_ipsec leaves the op's IV alone for CBC and encrypts the
		 * sequence number block in the packet with it: a constant IV here
		 * makes the wire IV E_K(seq), unpredictable and unique.
		 */
		for (uint16_t i = 0; i < k; i++)
			memset(rte_crypto_op_ctod_offset(ops[i], uint8_t *, ESP_IV_OFFSET), 0, 16);
	e = rte_cryptodev_enqueue_burst(sa->dev_id, wk->index, ops, k);
	if (e < k)
		rte_mempool_put_bulk(pool, (void **)&ops[e], k - e);
	/* The device owns the mbufs until their ops come back: wait for all. */
	while (got < e) {
		uint16_t d = rte_cryptodev_dequeue_burst(sa->dev_id, wk->index, ops + got, e - got);

		if (d == 0)
			rte_pause();
		got += d;
	}
	for (uint16_t i = 0; i < e; i++) {
		struct rte_mbuf *m = ops[i]->sym->m_src;

		if (ops[i]->status != RTE_CRYPTO_OP_STATUS_SUCCESS)
			m->ol_flags |= FAILED;
		mb[i] = m;
	}
	if (e != 0)
		rte_mempool_put_bulk(pool, (void **)ops, e);
	uint16_t ok = e != 0 ? rte_ipsec_pkt_process(&sa->ss, mb, e) : 0;

	return (struct esp_run){ok, e, k};
}

/* Own ESP and intel-ipsec-mb's AES-GCM (esp_direct.c); meta[i] describes mb[i]. */
static inline struct esp_run
run_direct(struct mg_esp_sa *sa, struct rte_mbuf **mb, uint16_t n, struct esp_pmeta *meta)
{
	uint16_t k;

	if (sa->dir == MG_ESP_OUTBOUND) {
		k = esp_direct_encrypt(sa, mb, n, meta);
		return (struct esp_run){k, k, k};
	}
	k = esp_direct_decrypt(sa, mb, n, meta);
	return (struct esp_run){k, n, n};
}

/* The crypto step in the SA's mode; meta[i] describes mb[i]. */
static inline struct esp_run
run_crypto(struct mg_esp_worker *wk, struct mg_esp_sa *sa, struct rte_mbuf **mb, uint16_t n,
	   struct esp_pmeta *meta)
{
	if (n == 0)
		return (struct esp_run){0, 0, 0};
	if (sa->mode == MG_ESP_MODE_DIRECT)
		return run_direct(sa, mb, n, meta);
	if (sa->mode == MG_ESP_MODE_CPU)
		return run_cpu(sa, mb, n);
	return run_lookaside(wk, sa, mb, n);
}

/*
 * Asynchronous lookaside: prepare mb[0..n) (facts in meta[], same order) and
 * enqueue them on the worker's queue pair; each op carries the SA and the
 * packet's facts to mg_esp_dequeue_burst. Returns ok = proc = the number
 * enqueued (mb[0..ok), no longer the caller's), prep as run_lookaside.
 */
static struct esp_run
enqueue_lookaside(struct mg_esp_worker *wk, struct mg_esp_sa *sa, struct rte_mbuf **mb,
		  uint16_t n, const struct esp_pmeta *meta)
{
	struct rte_crypto_op *ops[MG_ESP_MAX_BURST];
	struct rte_mempool *pool = wk->esp->op_pool;
	struct esp_sa_wstats *ws = &sa->ws[wk->index];
	uint16_t k, e, cur = 0;

	if (n == 0)
		return (struct esp_run){0, 0, 0};
	if (rte_crypto_op_bulk_alloc(pool, RTE_CRYPTO_OP_TYPE_SYMMETRIC, ops, n) == 0)
		return (struct esp_run){0, 0, n};
	k = rte_ipsec_pkt_crypto_prepare(&sa->ss, mb, ops, n);
	if (k < n)
		rte_mempool_put_bulk(pool, (void **)&ops[k], n - k);
	for (uint16_t i = 0; i < k; i++) {
		struct esp_opmeta *om = rte_crypto_op_ctod_offset(ops[i], struct esp_opmeta *,
								   ESP_OPMETA_OFFSET);

		/* See run_lookaside: a constant CBC IV block makes the wire IV E_K(seq). */
		if (sa->cbc && sa->dir == MG_ESP_OUTBOUND)
			memset(rte_crypto_op_ctod_offset(ops[i], uint8_t *, ESP_IV_OFFSET), 0, 16);
		om->sa = sa;
		om->pm = meta[meta_find(meta, n, mb[i], &cur)];
	}
	e = k != 0 ? rte_cryptodev_enqueue_burst(sa->dev_id, wk->index, ops, k) : 0;
	if (e < k)
		rte_mempool_put_bulk(pool, (void **)&ops[e], k - e);
	if (e != 0) {
		wk->pending[sa->dev_id] += e;
		__atomic_store_n(&wk->inflight, wk->inflight + e, __ATOMIC_RELAXED);
		__atomic_store_n(&ws->enq, ws->enq + e, __ATOMIC_RELAXED);
	}
	return (struct esp_run){e, e, k};
}

/* ---- outbound ------------------------------------------------------------------------------ */

/* Check an inner packet and note its TOS and DF; trims it to its IP length. */
static inline uint8_t
out_check(const struct mg_esp_sa *sa, struct rte_mbuf *m, struct esp_pmeta *pm)
{
	uint32_t len = m->data_len, ip_len;

	if (unlikely(m->nb_segs != 1 || rte_pktmbuf_headroom(m) < sa->need_head ||
		     rte_pktmbuf_tailroom(m) < sa->need_tail))
		return MG_ESP_ERR_NO_ROOM;
	if (sa->inner_family == AF_INET) {
		const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);

		if (unlikely(len < sizeof(*ip) || (ip->version_ihl >> 4) != 4 ||
			     (ip->version_ihl & 0xf) < 5))
			return MG_ESP_ERR_BAD_INNER;
		ip_len = rte_be_to_cpu_16(ip->total_length);
		if (unlikely(ip_len > len || ip_len < (ip->version_ihl & 0xfu) * 4))
			return MG_ESP_ERR_BAD_INNER;
		pm->tos = ip->type_of_service;
		pm->df = (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG)) != 0;
	} else {
		const struct rte_ipv6_hdr *ip6 = rte_pktmbuf_mtod(m, const struct rte_ipv6_hdr *);

		if (unlikely(len < sizeof(*ip6) || (ip6->vtc_flow & rte_cpu_to_be_32(0xf0000000)) !=
			     rte_cpu_to_be_32(0x60000000)))
			return MG_ESP_ERR_BAD_INNER;
		ip_len = sizeof(*ip6) + rte_be_to_cpu_16(ip6->payload_len);
		if (unlikely(ip_len > len))
			return MG_ESP_ERR_BAD_INNER;
		pm->tos = rte_be_to_cpu_32(ip6->vtc_flow) >> RTE_IPV6_HDR_TC_SHIFT;
		pm->df = 1;
	}
	if (unlikely(ip_len < len))
		rte_pktmbuf_trim(m, len - ip_len);
	pm->m = m;
	m->l2_len = 0;
	m->ol_flags &= ~FAILED;
	return MG_ESP_ERR_NONE;
}

/*
 * Checks and lifetimes before the crypto step: the packets that go on are
 * mb[0..ret) with their facts in meta[] (same order), the others go to @p f.
 */
static inline uint16_t
out_pre(struct mg_esp_sa *sa, struct esp_sa_wstats *ws, struct rte_mbuf **pkts, uint16_t n,
	struct rte_mbuf **mb, struct esp_pmeta *meta, struct esp_fails *f)
{
	uint32_t len[MG_ESP_MAX_BURST];
	uint16_t ng = 0;

	for (uint16_t i = 0; i < n; i++) {
		uint8_t r = out_check(sa, pkts[i], &meta[ng]);

		if (unlikely(r != MG_ESP_ERR_NONE)) {
			fail_add(f, ws, pkts[i], r);
			continue;
		}
		len[ng] = meta[ng].len = pkts[i]->pkt_len;
		mb[ng++] = pkts[i];
	}
	if (sa->has_hard) {
		uint16_t k = budget_take(sa, ws, len, ng);

		for (uint16_t i = k; i < ng; i++)
			fail_add(f, ws, mb[i], MG_ESP_ERR_EXPIRED);
		ng = k;
	}
	return ng;
}

/* The failures of the crypto step over mb[0..ng), from run.ok on, into @p f. */
static inline void
out_fail_tail(struct esp_sa_wstats *ws, struct rte_mbuf **mb, uint16_t ng, struct esp_run run,
	      struct esp_fails *f)
{
	for (uint16_t i = run.ok; i < ng; i++) {
		uint8_t r = i < run.prep && (i >= run.proc || (mb[i]->ol_flags & FAILED)) ?
			MG_ESP_ERR_CRYPTO : MG_ESP_ERR_SEQ_OVERFLOW;

		fail_add(f, ws, mb[i], r);
	}
}

/* After the crypto step over mb[0..ng): finish mb[0..run.ok), count, collect failures. */
static inline uint16_t
out_post(struct mg_esp_sa *sa, struct esp_sa_wstats *ws, struct rte_mbuf **mb, uint16_t ng,
	 struct esp_run run, const struct esp_pmeta *meta, struct esp_fails *f)
{
	uint64_t bytes = 0;
	uint16_t cur = 0;

	out_fail_tail(ws, mb, ng, run, f);
	for (uint16_t i = 0; i < run.ok; i++) {
		uint16_t j = meta_find(meta, ng, mb[i], &cur);

		/* Direct mode finished each packet as it sealed it. */
		if (sa->mode != MG_ESP_MODE_DIRECT)
			out_finish(sa, mb[i], &meta[j]);
		bytes += meta[j].len;
	}
	ws->packets += run.ok;
	ws->bytes += bytes;
	return run.ok;
}

/* Encrypt a burst; @p async: lookaside SAs enqueue and return (*nb_async of them). */
static uint16_t
encrypt(struct mg_esp_worker *wk, struct mg_esp_sa *sa, struct rte_mbuf **pkts, uint16_t n,
	uint8_t *reasons, bool async, uint16_t *nb_async)
{
	struct esp_sa_wstats *ws = &sa->ws[wk->index];
	struct esp_pmeta meta[MG_ESP_MAX_BURST];
	struct rte_mbuf *mb[MG_ESP_MAX_BURST];
	struct esp_fails f;
	struct esp_run run;
	uint16_t ng;

	RTE_ASSERT(n <= MG_ESP_MAX_BURST);
	RTE_ASSERT(rte_lcore_id() == wk->lcore);
	*nb_async = 0;
	if (unlikely(n == 0))
		return 0;
	if (unlikely(sa->dir != MG_ESP_OUTBOUND))
		return burst_fail_all(ws, n, reasons, MG_ESP_ERR_WRONG_SA);
	if (unlikely(__atomic_load_n(&sa->state, __ATOMIC_RELAXED) == MG_ESP_STATE_EXPIRED))
		return burst_fail_all(ws, n, reasons, MG_ESP_ERR_EXPIRED);
	f.n = 0;
	ng = out_pre(sa, ws, pkts, n, mb, meta, &f);
	if (async && sa->mode == MG_ESP_MODE_LOOKASIDE) {
		/* The enqueued packets come back through mg_esp_dequeue_burst. */
		run = enqueue_lookaside(wk, sa, mb, ng, meta);
		out_fail_tail(ws, mb, ng, run, &f);
		*nb_async = run.ok;
		return burst_finish(pkts, reasons, mb, 0, &f);
	}
	run = run_crypto(wk, sa, mb, ng, meta);
	out_post(sa, ws, mb, ng, run, meta, &f);
	return burst_finish(pkts, reasons, mb, run.ok, &f);
}

/* Encrypt a burst. */
uint16_t
mg_esp_encrypt_burst(struct mg_esp_worker *wk, struct mg_esp_sa *sa, struct rte_mbuf **pkts,
		     uint16_t n, uint8_t *reasons)
{
	uint16_t nq;

	return encrypt(wk, sa, pkts, n, reasons, false, &nq);
}

/* Encrypt a burst, lookaside SAs asynchronously. */
uint16_t
mg_esp_encrypt_submit(struct mg_esp_worker *wk, struct mg_esp_sa *sa, struct rte_mbuf **pkts,
		      uint16_t n, uint8_t *reasons, uint16_t *nb_async)
{
	return encrypt(wk, sa, pkts, n, reasons, true, nb_async);
}

/* ---- inbound ---------------------------------------------------------------------------- */

/* Check a received packet against the SA; trims it and sets l3_len to the ESP header. */
static inline uint8_t
in_check(const struct mg_esp_sa *sa, struct rte_mbuf *m, struct esp_pmeta *pm)
{
	uint32_t len = m->data_len, ip_len, hl;
	uint8_t proto;

	if (unlikely(m->nb_segs != 1))
		return MG_ESP_ERR_NO_ROOM;
	if (sa->outer_family == AF_INET) {
		const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);

		if (unlikely(len < sizeof(*ip) || (ip->version_ihl >> 4) != 4))
			return MG_ESP_ERR_BAD_OUTER;
		hl = (ip->version_ihl & 0xfu) * 4;
		ip_len = rte_be_to_cpu_16(ip->total_length);
		if (unlikely(hl < sizeof(*ip) || ip_len < hl || ip_len > len ||
			     (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG |
								     RTE_IPV4_HDR_OFFSET_MASK)) ||
			     memcmp(&ip->dst_addr, sa->local, 4) != 0 ||
			     (!sa->natt && memcmp(&ip->src_addr, sa->remote, 4) != 0)))
			return MG_ESP_ERR_BAD_OUTER;
		proto = ip->next_proto_id;
		pm->tos = ip->type_of_service;
	} else {
		const struct rte_ipv6_hdr *ip6 = rte_pktmbuf_mtod(m, const struct rte_ipv6_hdr *);

		if (unlikely(len < sizeof(*ip6) || (ip6->vtc_flow & rte_cpu_to_be_32(0xf0000000)) !=
			     rte_cpu_to_be_32(0x60000000)))
			return MG_ESP_ERR_BAD_OUTER;
		hl = sizeof(*ip6);
		ip_len = hl + rte_be_to_cpu_16(ip6->payload_len);
		if (unlikely(ip_len > len || memcmp(ip6->dst_addr, sa->local, 16) != 0 ||
			     (!sa->natt && memcmp(ip6->src_addr, sa->remote, 16) != 0)))
			return MG_ESP_ERR_BAD_OUTER;
		proto = ip6->proto;
		pm->tos = rte_be_to_cpu_32(ip6->vtc_flow) >> RTE_IPV6_HDR_TC_SHIFT;
	}
	if (sa->natt) {
		const struct rte_udp_hdr *udp = rte_pktmbuf_mtod_offset(m, const struct rte_udp_hdr *,
									hl);

		if (unlikely(proto != IPPROTO_UDP || ip_len < hl + sizeof(*udp) ||
			     udp->dst_port != sa->local_port_be ||
			     rte_be_to_cpu_16(udp->dgram_len) != ip_len - hl))
			return MG_ESP_ERR_BAD_OUTER;
		hl += sizeof(*udp);
	} else if (unlikely(proto != IPPROTO_ESP)) {
		return MG_ESP_ERR_BAD_OUTER;
	}
	uint32_t plen = ip_len - hl;

	if (unlikely(plen < (uint32_t)sa->esp_fixed + sa->pad_align ||
		     ((plen - sa->esp_fixed) & (sa->pad_align - 1)) != 0))
		return MG_ESP_ERR_BAD_LENGTH;
	const struct rte_esp_hdr *esph = rte_pktmbuf_mtod_offset(m, const struct rte_esp_hdr *,
								 hl);

	if (unlikely(esph->spi != sa->spi_be))
		return MG_ESP_ERR_WRONG_SA;
	uint32_t low = rte_be_to_cpu_32(esph->seq);

	pm->seq = sa->esn ? esn_infer(sa->rp->top, low, sa->rp->win) : low;
	if (unlikely(replay_seen(sa->rp, pm->seq)) && likely(!sa->no_replay))
		return MG_ESP_ERR_REPLAY;
	if (unlikely(ip_len < len))
		rte_pktmbuf_trim(m, len - ip_len);
	if (unlikely(rte_pktmbuf_tailroom(m) < sa->need_tail))
		return MG_ESP_ERR_NO_ROOM;
	pm->m = m;
	pm->dummy = 0;
	m->l2_len = 0;
	m->l3_len = hl;
	m->ol_flags &= ~FAILED;
	return MG_ESP_ERR_NONE;
}

/*
 * Check the decrypted inner packet, trim TFC padding, apply RFC 6040's
 * decapsulation rules; returns a reason, or NONE with *len set.
 */
static inline uint8_t
in_finish(const struct mg_esp_sa *sa, struct rte_mbuf *m, const struct esp_pmeta *pm,
	  uint32_t *lenp)
{
	uint32_t len = m->data_len, ip_len;
	uint8_t outer = pm->tos & 3;

	if (sa->inner_family == AF_INET) {
		struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
		uint32_t hl;

		if (unlikely(len < sizeof(*ip) || (ip->version_ihl >> 4) != 4))
			return MG_ESP_ERR_BAD_INNER;
		hl = (ip->version_ihl & 0xfu) * 4;
		ip_len = rte_be_to_cpu_16(ip->total_length);
		if (unlikely(hl < sizeof(*ip) || ip_len < hl || ip_len > len))
			return MG_ESP_ERR_BAD_INNER;
		if (sa->ecn_mode != MG_ESP_ECN_OFF && outer != ECN_NOT_ECT) {
			uint8_t inner = ip->type_of_service & 3, nin = inner;

			if (outer == ECN_CE) {
				if (inner == ECN_NOT_ECT)
					return MG_ESP_ERR_ECN;
				nin = ECN_CE;
			} else if (outer == ECN_ECT1 && inner == ECN_ECT0) {
				nin = ECN_ECT1;
			}
			if (nin != inner) {
				/* Incremental checksum update (RFC 1624) of the first word. */
				uint16_t old = rte_be_to_cpu_16(*(const uint16_t *)ip);
				uint16_t new = (old & 0xfffc) | nin;
				uint32_t sum = (uint16_t)~rte_be_to_cpu_16(ip->hdr_checksum) +
					       (uint16_t)~old + new;

				sum = (sum & 0xffff) + (sum >> 16);
				sum = (sum & 0xffff) + (sum >> 16);
				ip->type_of_service = (ip->type_of_service & 0xfc) | nin;
				ip->hdr_checksum = rte_cpu_to_be_16((uint16_t)~sum);
			}
		}
		m->l3_len = hl;
		m->packet_type = RTE_PTYPE_L3_IPV4;
	} else {
		struct rte_ipv6_hdr *ip6 = rte_pktmbuf_mtod(m, struct rte_ipv6_hdr *);

		if (unlikely(len < sizeof(*ip6) || (ip6->vtc_flow & rte_cpu_to_be_32(0xf0000000)) !=
			     rte_cpu_to_be_32(0x60000000)))
			return MG_ESP_ERR_BAD_INNER;
		ip_len = sizeof(*ip6) + rte_be_to_cpu_16(ip6->payload_len);
		if (unlikely(ip_len > len))
			return MG_ESP_ERR_BAD_INNER;
		if (sa->ecn_mode != MG_ESP_ECN_OFF && outer != ECN_NOT_ECT) {
			uint32_t v = rte_be_to_cpu_32(ip6->vtc_flow);
			uint8_t inner = (v >> RTE_IPV6_HDR_TC_SHIFT) & 3, nin = inner;

			if (outer == ECN_CE) {
				if (inner == ECN_NOT_ECT)
					return MG_ESP_ERR_ECN;
				nin = ECN_CE;
			} else if (outer == ECN_ECT1 && inner == ECN_ECT0) {
				nin = ECN_ECT1;
			}
			v = (v & ~(3u << RTE_IPV6_HDR_TC_SHIFT)) | (uint32_t)nin << RTE_IPV6_HDR_TC_SHIFT;
			ip6->vtc_flow = rte_cpu_to_be_32(v);
		}
		m->l3_len = sizeof(*ip6);
		m->packet_type = RTE_PTYPE_L3_IPV6;
	}
	if (unlikely(ip_len < len))
		rte_pktmbuf_trim(m, len - ip_len);
	m->l2_len = 0;
	*lenp = ip_len;
	return MG_ESP_ERR_NONE;
}

/*
 * Whether a packet librte_ipsec refused for its trailer is an authentic
 * dummy packet (next header 59, RFC 4303 2.6). Its layout is untouched on
 * failure: ... [pad][pad length][next header][ESN high bits, non-AEAD][ICV].
 */
static inline bool
in_trailer_dummy(const struct mg_esp_sa *sa, const struct rte_mbuf *m)
{
	return m->pkt_len > m->l3_len + sa->nh_from_end &&
	       *rte_pktmbuf_mtod_offset(m, const uint8_t *, m->pkt_len - sa->nh_from_end) ==
		       IPPROTO_NONE;
}

/* The failures of the crypto step over mb[0..ng), from run.ok on, into @p f. */
static inline void
in_fail_tail(const struct mg_esp_sa *sa, struct esp_sa_wstats *ws, struct rte_mbuf **mb,
	     uint16_t ng, struct esp_run run, struct esp_fails *f)
{
	for (uint16_t i = run.ok; i < ng; i++) {
		struct rte_mbuf *m = mb[i];
		uint8_t r;

		if (i >= run.prep)
			r = MG_ESP_ERR_REPLAY;        /* prepare checks only the window here */
		else if (i >= run.proc)
			r = MG_ESP_ERR_CRYPTO;        /* the device refused it */
		else if (m->ol_flags & FAILED)
			r = MG_ESP_ERR_AUTH;          /* ICV mismatch */
		else if (m->l3_len == 0)
			r = MG_ESP_ERR_REPLAY;        /* decapsulated, then refused by the window */
		else if (in_trailer_dummy(sa, m))
			r = MG_ESP_ERR_DUMMY;         /* authentic, next header 59 */
		else
			r = MG_ESP_ERR_BAD_TRAILER;   /* padding or next header */
		fail_add(f, ws, m, r);
	}
}

/*
 * After the crypto step over mb[0..ng): record the authentic packets in the
 * window (in arrival order), check and finish them, charge lifetimes; the
 * successes end up in mb[0..ret), the failures in @p f.
 */
static inline uint16_t
in_post(struct mg_esp_sa *sa, struct esp_sa_wstats *ws, struct rte_mbuf **mb, uint16_t ng,
	struct esp_run run, const struct esp_pmeta *meta, struct esp_fails *f)
{
	uint32_t len[MG_ESP_MAX_BURST];
	uint16_t nok = 0, cur = 0;
	uint64_t bytes = 0;

	in_fail_tail(sa, ws, mb, ng, run, f);
	for (uint16_t i = 0; i < run.ok; i++) {
		struct rte_mbuf *m = mb[i];
		uint16_t j = meta_find(meta, ng, m, &cur);
		uint32_t l = 0;
		/* Authentic: record it (in arrival order), whatever happens next. */
		uint8_t r = replay_mark(sa->rp, meta[j].seq) || unlikely(sa->no_replay)
				    ? (unlikely(meta[j].dummy) ? MG_ESP_ERR_DUMMY
							       : in_finish(sa, m, &meta[j], &l))
				    : MG_ESP_ERR_REPLAY;

		if (unlikely(r != MG_ESP_ERR_NONE)) {
			fail_add(f, ws, m, r);
		} else {
			len[nok] = l;
			mb[nok++] = m;
		}
	}
	if (sa->has_hard) {
		uint16_t k = budget_take(sa, ws, len, nok);

		for (uint16_t i = k; i < nok; i++)
			fail_add(f, ws, mb[i], MG_ESP_ERR_EXPIRED);
		nok = k;
	}
	for (uint16_t i = 0; i < nok; i++)
		bytes += len[i];
	ws->packets += nok;
	ws->bytes += bytes;
	return nok;
}

/* Decrypt a burst; @p async: lookaside SAs enqueue and return (*nb_async of them). */
static uint16_t
decrypt(struct mg_esp_worker *wk, struct mg_esp_sa *sa, struct rte_mbuf **pkts, uint16_t n,
	uint8_t *reasons, bool async, uint16_t *nb_async)
{
	struct esp_sa_wstats *ws = &sa->ws[wk->index];
	struct esp_pmeta meta[MG_ESP_MAX_BURST];
	struct rte_mbuf *mb[MG_ESP_MAX_BURST];
	struct esp_fails f;
	struct esp_run run;
	uint16_t ng = 0, nok;

	RTE_ASSERT(n <= MG_ESP_MAX_BURST);
	RTE_ASSERT(rte_lcore_id() == wk->lcore);
	*nb_async = 0;
	if (unlikely(n == 0))
		return 0;
	if (unlikely(sa->dir != MG_ESP_INBOUND))
		return burst_fail_all(ws, n, reasons, MG_ESP_ERR_WRONG_SA);
	/* The anti-replay window is the owner's alone: no lock, no atomics. */
	if (unlikely(wk->index != sa->owner))
		return burst_fail_all(ws, n, reasons, MG_ESP_ERR_NOT_OWNER);
	if (unlikely(__atomic_load_n(&sa->state, __ATOMIC_RELAXED) == MG_ESP_STATE_EXPIRED))
		return burst_fail_all(ws, n, reasons, MG_ESP_ERR_EXPIRED);
	f.n = 0;
	for (uint16_t i = 0; i < n; i++) {
		uint8_t r = in_check(sa, pkts[i], &meta[ng]);

		if (unlikely(r != MG_ESP_ERR_NONE))
			fail_add(&f, ws, pkts[i], r);
		else
			mb[ng++] = pkts[i];
	}
	if (async && sa->mode == MG_ESP_MODE_LOOKASIDE) {
		/*
		 * The window is checked here and marked when the packets come
		 * back (a duplicate in flight fails then, as a replay).
		 */
		run = enqueue_lookaside(wk, sa, mb, ng, meta);
		in_fail_tail(sa, ws, mb, ng, run, &f);
		*nb_async = run.ok;
		return burst_finish(pkts, reasons, mb, 0, &f);
	}
	run = run_crypto(wk, sa, mb, ng, meta);
	nok = in_post(sa, ws, mb, ng, run, meta, &f);
	return burst_finish(pkts, reasons, mb, nok, &f);
}

/* Decrypt a burst. */
uint16_t
mg_esp_decrypt_burst(struct mg_esp_worker *wk, struct mg_esp_sa *sa, struct rte_mbuf **pkts,
		     uint16_t n, uint8_t *reasons)
{
	uint16_t nq;

	return decrypt(wk, sa, pkts, n, reasons, false, &nq);
}

/* ---- receive path and handoff --------------------------------------------------------------- */

/* Classify a packet and read its SPI (inline for the receive path's loop). */
static __rte_always_inline enum mg_esp_kind
parse_spi(const struct rte_mbuf *m, uint32_t *spi)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = m->data_len, hl, ip_len;
	uint8_t proto;

	if (len < 1)
		return MG_ESP_KIND_INVALID;
	if (p[0] >> 4 == 4) {
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)p;

		if (len < sizeof(*ip))
			return MG_ESP_KIND_INVALID;
		hl = (p[0] & 0xfu) * 4;
		ip_len = rte_be_to_cpu_16(ip->total_length);
		if (hl < sizeof(*ip) || ip_len < hl || ip_len > len ||
		    (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_OFFSET_MASK)))
			return MG_ESP_KIND_INVALID;
		proto = ip->next_proto_id;
	} else if (p[0] >> 4 == 6) {
		const struct rte_ipv6_hdr *ip6 = (const struct rte_ipv6_hdr *)p;

		if (len < sizeof(*ip6))
			return MG_ESP_KIND_INVALID;
		hl = sizeof(*ip6);
		ip_len = hl + rte_be_to_cpu_16(ip6->payload_len);
		if (ip_len > len)
			return MG_ESP_KIND_INVALID;
		proto = ip6->proto;
	} else {
		return MG_ESP_KIND_INVALID;
	}
	if (proto == IPPROTO_UDP) {
		hl += sizeof(struct rte_udp_hdr);
		if (ip_len == hl + 1 && p[hl] == 0xff)
			return MG_ESP_KIND_KEEPALIVE;
		if (ip_len >= hl + 4 && p[hl] == 0 && p[hl + 1] == 0 && p[hl + 2] == 0 &&
		    p[hl + 3] == 0)
			return MG_ESP_KIND_IKE;
	} else if (proto != IPPROTO_ESP) {
		return MG_ESP_KIND_INVALID;
	}
	if (ip_len < hl + sizeof(struct rte_esp_hdr))
		return MG_ESP_KIND_INVALID;
	*spi = rte_be_to_cpu_32(((const struct rte_esp_hdr *)(p + hl))->spi);
	return MG_ESP_KIND_ESP;
}

/* Classify a packet and read its SPI. */
enum mg_esp_kind
mg_esp_parse_spi(const struct rte_mbuf *m, uint32_t *spi)
{
	return parse_spi(m, spi);
}

/* Hand packets of an inbound SA to its owner. */
uint16_t
mg_esp_handoff(struct mg_esp_worker *wk, struct mg_esp_sa *sa, struct rte_mbuf **pkts,
	       uint16_t n)
{
	struct esp_handoff_ent ent[MG_ESP_MAX_BURST];
	struct mg_esp *esp = wk->esp;
	unsigned int q;

	RTE_ASSERT(n <= MG_ESP_MAX_BURST);
	for (uint16_t i = 0; i < n; i++)
		ent[i] = (struct esp_handoff_ent){pkts[i], sa->id, sa->gen};
	q = rte_ring_mp_enqueue_burst_elem(esp->workers[sa->owner]->ring, ent, sizeof(ent[0]), n,
					   NULL);
	if (unlikely(q < n))
		sa->ws[wk->index].err[MG_ESP_ERR_HANDOFF_FULL] += n - q;
	if (q != 0 && esp->conf.wake != NULL)
		esp->conf.wake(esp->conf.wake_arg, sa->owner);
	return q;
}

/*
 * Decrypt owned packets of possibly several SAs: own[0..n) with SAs osa[].
 * Appends successes to ok[] and failures to *f (with their SAs); with
 * @p async, packets of lookaside SAs are enqueued instead (counted in *nq).
 */
static void
decrypt_groups(struct mg_esp_worker *wk, struct rte_mbuf **own, struct mg_esp_sa **osa,
	       uint16_t n, struct rte_mbuf **ok, struct mg_esp_sa **oksa, uint16_t *nok,
	       struct esp_fails *f, struct mg_esp_sa **fsa, bool async, uint16_t *nq)
{
	struct rte_mbuf *grp[MG_ESP_MAX_BURST];
	uint8_t r[MG_ESP_MAX_BURST];

	*nq = 0;
	while (n != 0) {
		struct mg_esp_sa *sa = osa[0];
		struct rte_mbuf **gp = grp;
		uint16_t g = 1, rest = 0, k, q;

		while (g < n && osa[g] == sa)
			g++;
		if (likely(g == n)) {
			/* The usual burst: one SA, decrypted where it is. */
			gp = own;
			n = 0;
		} else {
			/* Take this SA's packets in order; keep the others for the next round. */
			g = 0;
			for (uint16_t i = 0; i < n; i++) {
				if (osa[i] == sa) {
					grp[g++] = own[i];
				} else {
					own[rest] = own[i];
					osa[rest++] = osa[i];
				}
			}
			n = rest;
		}
		k = decrypt(wk, sa, gp, g, r, async, &q);
		/* The q enqueued packets left grp[]: it holds g - q now. */
		*nq += q;
		g -= q;
		for (uint16_t i = 0; i < k; i++) {
			ok[*nok] = gp[i];
			oksa[(*nok)++] = sa;
		}
		for (uint16_t i = k; i < g; i++) {
			fsa[f->n] = sa;
			f->m[f->n] = gp[i];
			f->r[f->n++] = r[i];
		}
	}
}

/* Write a receive-path result back: successes, then failures, with SAs. */
static uint16_t
input_finish(struct rte_mbuf **pkts, struct mg_esp_sa **sas, uint8_t *reasons,
	     struct rte_mbuf **ok, struct mg_esp_sa **oksa, uint16_t nok,
	     const struct esp_fails *f, struct mg_esp_sa **fsa)
{
	burst_finish(pkts, reasons, ok, nok, f);
	if (sas != NULL) {
		memcpy(sas, oksa, nok * sizeof(sas[0]));
		memcpy(sas + nok, fsa, f->n * sizeof(sas[0]));
	}
	return nok;
}

/* The receive path of a worker; *nb_left: packets handed off or enqueued. */
static uint16_t
input(struct mg_esp_worker *wk, struct rte_mbuf **pkts, uint16_t n, struct mg_esp_sa **sas,
      uint8_t *reasons, bool async, uint16_t *nb_left)
{
	struct rte_mbuf *own[MG_ESP_MAX_BURST], *ok[MG_ESP_MAX_BURST];
	struct mg_esp_sa *osa[MG_ESP_MAX_BURST], *oksa[MG_ESP_MAX_BURST];
	struct mg_esp_sa *fsa[MG_ESP_MAX_BURST];
	struct esp_fails f;
	struct mg_esp_sa *last = NULL;
	uint16_t nown = 0, nok = 0, nho = 0, nq;
	uint32_t last_spi = 0;

	RTE_ASSERT(n <= MG_ESP_MAX_BURST);
	f.n = 0;
	for (uint16_t i = 0; i < n;) {
		struct rte_mbuf *m = pkts[i];
		struct mg_esp_sa *sa = NULL;
		uint32_t spi = 0;
		enum mg_esp_kind kind = parse_spi(m, &spi);

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		/* Bursts are mostly one SA: look the SPI up once per change. */
		if (likely(kind == MG_ESP_KIND_ESP)) {
			if (spi != last_spi || last == NULL) {
				last = mg_esp_sa_lookup(wk->esp, spi);
				last_spi = spi;
			}
			sa = last;
		}
		if (unlikely(sa == NULL)) {
			fsa[f.n] = NULL;
			f.m[f.n] = m;
			f.r[f.n++] = kind == MG_ESP_KIND_ESP ? MG_ESP_ERR_NO_SA :
				     kind == MG_ESP_KIND_INVALID ? MG_ESP_ERR_BAD_OUTER :
								   MG_ESP_ERR_NOT_ESP;
			i++;
			continue;
		}
		if (likely(sa->owner == wk->index)) {
			own[nown] = m;
			osa[nown++] = sa;
			i++;
			continue;
		}
		/* A run of packets for the same foreign SA goes to its owner at once. */
		uint16_t j = i + 1;
		uint32_t spi2;

		while (j < n && parse_spi(pkts[j], &spi2) == MG_ESP_KIND_ESP && spi2 == spi)
			j++;
		uint16_t q = mg_esp_handoff(wk, sa, pkts + i, j - i);

		nho += q;
		for (uint16_t k = i + q; k < j; k++) {
			fsa[f.n] = sa;
			f.m[f.n] = pkts[k];
			f.r[f.n++] = MG_ESP_ERR_HANDOFF_FULL;
		}
		i = j;
	}
	decrypt_groups(wk, own, osa, nown, ok, oksa, &nok, &f, fsa, async, &nq);
	*nb_left = nho + nq;
	return input_finish(pkts, sas, reasons, ok, oksa, nok, &f, fsa);
}

/* The receive path of a worker. */
uint16_t
mg_esp_input_burst(struct mg_esp_worker *wk, struct rte_mbuf **pkts, uint16_t n,
		   struct mg_esp_sa **sas, uint8_t *reasons, uint16_t *nb_handoff)
{
	return input(wk, pkts, n, sas, reasons, false, nb_handoff);
}

/* The receive path, lookaside SAs asynchronously. */
uint16_t
mg_esp_input_submit(struct mg_esp_worker *wk, struct rte_mbuf **pkts, uint16_t n,
		    struct mg_esp_sa **sas, uint8_t *reasons, uint16_t *nb_left)
{
	return input(wk, pkts, n, sas, reasons, true, nb_left);
}

/* Take handed-off packets and decrypt them; *nb_out: entries of pkts filled. */
static uint16_t
handoff_input(struct mg_esp_worker *wk, struct rte_mbuf **pkts, uint16_t n,
	      struct mg_esp_sa **sas, uint8_t *reasons, bool async, uint16_t *nb_taken,
	      uint16_t *nb_out)
{
	struct esp_handoff_ent ent[MG_ESP_MAX_BURST];
	struct rte_mbuf *own[MG_ESP_MAX_BURST], *ok[MG_ESP_MAX_BURST];
	struct mg_esp_sa *osa[MG_ESP_MAX_BURST], *oksa[MG_ESP_MAX_BURST];
	struct mg_esp_sa *fsa[MG_ESP_MAX_BURST];
	struct mg_esp *esp = wk->esp;
	struct esp_fails f;
	uint16_t t, nown = 0, nok = 0, nq;

	RTE_ASSERT(n <= MG_ESP_MAX_BURST);
	t = rte_ring_sc_dequeue_burst_elem(wk->ring, ent, sizeof(ent[0]), n, NULL);
	*nb_taken = t;
	f.n = 0;
	for (uint16_t i = 0; i < t; i++) {
		struct mg_esp_sa *sa = __atomic_load_n(&esp->sas[ent[i].id], __ATOMIC_ACQUIRE);

		if (unlikely(sa == NULL || sa->gen != ent[i].gen)) {
			/* Deleted (and maybe replaced) while the packet waited. */
			wk->gone++;
			fsa[f.n] = NULL;
			f.m[f.n] = ent[i].m;
			f.r[f.n++] = MG_ESP_ERR_SA_GONE;
			continue;
		}
		own[nown] = ent[i].m;
		osa[nown++] = sa;
	}
	decrypt_groups(wk, own, osa, nown, ok, oksa, &nok, &f, fsa, async, &nq);
	*nb_out = t - nq;
	return input_finish(pkts, sas, reasons, ok, oksa, nok, &f, fsa);
}

/* Take handed-off packets and decrypt them. */
uint16_t
mg_esp_handoff_input(struct mg_esp_worker *wk, struct rte_mbuf **pkts, uint16_t n,
		     struct mg_esp_sa **sas, uint8_t *reasons, uint16_t *nb_taken)
{
	uint16_t out;

	return handoff_input(wk, pkts, n, sas, reasons, false, nb_taken, &out);
}

/* Take handed-off packets, lookaside SAs asynchronously. */
uint16_t
mg_esp_handoff_submit(struct mg_esp_worker *wk, struct rte_mbuf **pkts, uint16_t n,
		      struct mg_esp_sa **sas, uint8_t *reasons, uint16_t *nb_out)
{
	uint16_t taken;

	return handoff_input(wk, pkts, n, sas, reasons, true, &taken, nb_out);
}

/* ---- asynchronous completion ------------------------------------------------------------ */

/* The metadata an op carries (enqueue_lookaside). */
static inline struct esp_opmeta *
op_meta(struct rte_crypto_op *op)
{
	return rte_crypto_op_ctod_offset(op, struct esp_opmeta *, ESP_OPMETA_OFFSET);
}

/* Take up to @p max ops back from this worker's queue pairs. */
static uint16_t
dequeue_ops(struct mg_esp_worker *wk, struct rte_crypto_op **ops, uint16_t max)
{
	struct mg_esp *esp = wk->esp;
	uint16_t got = 0;

	for (int d = 0; d < ESP_DRV_MAX && got < max; d++) {
		int id = esp->devs[d].id;
		uint16_t k;

		if (id < 0 || wk->pending[id] == 0)
			continue;
		k = rte_cryptodev_dequeue_burst((uint8_t)id, (uint16_t)wk->index, ops + got,
						max - got);
		wk->pending[id] -= k;
		got += k;
	}
	if (got != 0)
		__atomic_store_n(&wk->inflight, wk->inflight - got, __ATOMIC_RELAXED);
	return got;
}

/* Finish the packets of completed ops. */
uint16_t
mg_esp_dequeue_burst(struct mg_esp_worker *wk, struct rte_mbuf **pkts, uint16_t max,
		     struct mg_esp_sa **sas, uint8_t *reasons, uint16_t *nb)
{
	struct rte_crypto_op *ops[MG_ESP_MAX_BURST];
	struct esp_pmeta meta[MG_ESP_MAX_BURST];
	struct rte_mbuf *mb[MG_ESP_MAX_BURST], *ok[MG_ESP_MAX_BURST];
	struct mg_esp_sa *oksa[MG_ESP_MAX_BURST], *fsa[MG_ESP_MAX_BURST];
	struct esp_fails f;
	uint16_t got, nok = 0;

	RTE_ASSERT(rte_lcore_id() == wk->lcore);
	*nb = 0;
	if (likely(wk->inflight == 0))
		return 0;
	got = dequeue_ops(wk, ops, RTE_MIN(max, (uint16_t)MG_ESP_MAX_BURST));
	if (got == 0)
		return 0;
	f.n = 0;
	/* Runs of one SA, in the order they were enqueued (a queue pair is FIFO). */
	for (uint16_t i = 0; i < got;) {
		struct mg_esp_sa *sa = op_meta(ops[i])->sa;
		struct esp_sa_wstats *ws = &sa->ws[wk->index];
		uint16_t g = 0, fs = f.n, k;
		struct esp_run run;

		for (; i < got && op_meta(ops[i])->sa == sa; i++) {
			struct rte_mbuf *m = ops[i]->sym->m_src;

			if (ops[i]->status != RTE_CRYPTO_OP_STATUS_SUCCESS)
				m->ol_flags |= FAILED;
			meta[g] = op_meta(ops[i])->pm;
			mb[g++] = m;
		}
		k = rte_ipsec_pkt_process(&sa->ss, mb, g);
		run = (struct esp_run){k, g, g};
		k = sa->dir == MG_ESP_OUTBOUND ? out_post(sa, ws, mb, g, run, meta, &f)
					       : in_post(sa, ws, mb, g, run, meta, &f);
		for (uint16_t j = 0; j < k; j++) {
			ok[nok] = mb[j];
			oksa[nok++] = sa;
		}
		for (uint16_t j = fs; j < f.n; j++)
			fsa[j] = sa;
		/*
		 * Done with the SA here; the caller still reads it until its
		 * walk ends, which mg_esp_sa_destroy's grace period covers.
		 */
		__atomic_store_n(&ws->deq, ws->deq + g, __ATOMIC_RELEASE);
	}
	rte_mempool_put_bulk(wk->esp->op_pool, (void **)ops, got);
	*nb = got;
	return input_finish(pkts, sas, reasons, ok, oksa, nok, &f, fsa);
}

/* Packets of an SA in flight. */
uint64_t
esp_sa_inflight(const struct mg_esp_sa *sa)
{
	uint64_t n = 0;

	for (uint16_t w = 0; w < sa->nb_workers; w++)
		n += __atomic_load_n(&sa->ws[w].enq, __ATOMIC_ACQUIRE) -
		     __atomic_load_n(&sa->ws[w].deq, __ATOMIC_ACQUIRE);
	return n;
}

/* Packets a worker has in flight. */
unsigned int
mg_esp_worker_inflight(const struct mg_esp_worker *wk)
{
	return __atomic_load_n(&wk->inflight, __ATOMIC_RELAXED);
}

/* Packets in flight in the crypto devices, all workers. */
unsigned int
mg_esp_inflight(const struct mg_esp *esp)
{
	unsigned int n = 0;

	for (unsigned int w = 0; w < esp->conf.nb_workers; w++)
		n += __atomic_load_n(&esp->workers[w]->inflight, __ATOMIC_ACQUIRE);
	return n;
}

/* Ops out of the pool (per-lcore caches count as free). */
unsigned int
mg_esp_ops_in_use(const struct mg_esp *esp)
{
	return rte_mempool_in_use_count(esp->op_pool);
}

/* Drop what is still in flight (main lcore, workers stopped). */
unsigned int
mg_esp_drain(struct mg_esp *esp)
{
	struct rte_crypto_op *ops[MG_ESP_MAX_BURST];
	unsigned int dropped = 0;

	RTE_VERIFY(rte_lcore_id() == rte_get_main_lcore());
	for (unsigned int w = 0; w < esp->conf.nb_workers; w++) {
		struct mg_esp_worker *wk = esp->workers[w];

		/* Software devices complete on dequeue; a hardware one gets a moment. */
		for (unsigned int idle = 0; wk->inflight != 0 && idle < 1000;) {
			uint16_t got = dequeue_ops(wk, ops, MG_ESP_MAX_BURST);

			if (got == 0) {
				idle++;
				rte_delay_us_block(10);
				continue;
			}
			for (uint16_t i = 0; i < got; i++) {
				struct esp_opmeta *om = op_meta(ops[i]);
				struct esp_sa_wstats *ws = &om->sa->ws[w];

				rte_pktmbuf_free(ops[i]->sym->m_src);
				ws->err[MG_ESP_ERR_DRAINED]++;
				__atomic_store_n(&ws->deq, ws->deq + 1, __ATOMIC_RELEASE);
			}
			rte_mempool_put_bulk(esp->op_pool, (void **)ops, got);
			dropped += got;
		}
		if (wk->inflight != 0)
			ESP_LOG(ERR, "worker %u: %u crypto ops never came back\n", w, wk->inflight);
	}
	return dropped;
}
