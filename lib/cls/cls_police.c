/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Policers (main lcore side): each police rule has one srTCM bucket per
 * worker slot, because rte_meter is not thread-safe and a shared bucket
 * would put an atomic (and a contended cache line) on every packet. The
 * slots share the configured rate and burst: evenly at first, then, on
 * each mg_cls_police_rebalance(), max-min fairly after the bytes each slot
 * was offered since the previous call, with a quarter of the rate kept as
 * an even floor so that a slot whose traffic just started is not starved
 * until the next call. The sum of the slots' rates is the configured rate
 * at all times; only the burst is rounded up per slot (MG_CLS_MIN_SLOT_BURST).
 *
 * A slot's profile is double-buffered: the main lcore writes the idle copy
 * and flips `cur` (release); a worker loads `cur` (acquire) once per packet.
 * The copy just left may still be read by a worker in the middle of a
 * packet, so it is rewritten only after a grace period (conf.rcu).
 */
#include <errno.h>

#include <rte_cycles.h>
#include <rte_rcu_qsbr.h>

#include "cls_priv.h"

/* Scale @v by @share, rounded, at least @min. */
static uint64_t
cls_scale(uint64_t v, double share, uint64_t min)
{
	uint64_t s = (uint64_t)((double)v * share + 0.5);

	return s < min ? min : s;
}

int
cls_police_profile(const struct cls_police *p, struct rte_meter_srtcm_profile *prof,
		   double share)
{
	struct rte_meter_srtcm_params prm;

	prm.cir = cls_scale(p->rate, share, 1);
	prm.cbs = cls_scale(p->burst, share, RTE_MIN(p->burst, (uint64_t)MG_CLS_MIN_SLOT_BURST));
	prm.ebs = p->excess == 0 ? 0 :
		  cls_scale(p->excess, share, RTE_MIN(p->excess, (uint64_t)MG_CLS_MIN_SLOT_BURST));
	return rte_meter_srtcm_profile_config(prof, &prm);
}

int
cls_police_init(struct mg_cls_table *t)
{
	for (uint32_t i = 0; i < t->npol; i++)
		for (uint16_t w = 0; w < t->nb_workers; w++) {
			struct cls_meter *m = &t->slots[w].met[i];
			int rc;

			m->cur = 0;
			rc = cls_police_profile(&t->pol[i], &m->prof[0], 1.0 / t->nb_workers);
			if (rc == 0)
				rc = rte_meter_srtcm_config(&m->m, &m->prof[0]);
			if (rc != 0)
				return rc < 0 ? rc : -EINVAL;
		}
	return 0;
}

/*
 * Divide @cap between @n slots that asked for @d[]: a quarter evenly, the
 * rest max-min fairly (no slot gets more than it asked for while another
 * gets less than an equal share), what nobody asked for evenly again.
 */
static void
cls_share(const double *d, uint16_t n, double cap, double *alloc)
{
	uint16_t ord[MG_CLS_MAX_WORKERS];
	double need[MG_CLS_MAX_WORKERS];
	const double floor = cap / (4.0 * n);
	double rem = cap - floor * n;

	for (uint16_t w = 0; w < n; w++) {
		need[w] = d[w] > floor ? d[w] - floor : 0;
		ord[w] = w;
	}
	/* Smallest need first (insertion sort: n is a handful of workers). */
	for (uint16_t i = 1; i < n; i++)
		for (uint16_t j = i; j > 0 && need[ord[j]] < need[ord[j - 1]]; j--) {
			uint16_t x = ord[j];

			ord[j] = ord[j - 1];
			ord[j - 1] = x;
		}
	for (uint16_t k = 0; k < n; k++) {
		uint16_t w = ord[k];
		double fair = rem / (n - k);
		double g = need[w] < fair ? need[w] : fair;

		alloc[w] = floor + g;
		rem -= g;
	}
	for (uint16_t w = 0; w < n; w++)
		alloc[w] += rem / n;
}

int
mg_cls_police_rebalance(struct mg_cls_table *t, uint64_t tsc)
{
	const uint16_t nw = t->nb_workers;
	double dt, d[MG_CLS_MAX_WORKERS], alloc[MG_CLS_MAX_WORKERS];

	if (t->npol == 0)
		return 0;
	if (t->rcu != NULL && t->reb_pending) {
		/* Some worker may still read the profiles the last call retired. */
		if (rte_rcu_qsbr_check(t->rcu, t->reb_token, false) == 0)
			return -EAGAIN;
		t->reb_pending = 0;
	}
	if ((int64_t)(tsc - t->reb_tsc) <= 0)
		return 0;
	dt = (double)(tsc - t->reb_tsc) / (double)rte_get_tsc_hz();
	t->reb_tsc = tsc;
	for (uint32_t i = 0; i < t->npol; i++) {
		const struct cls_police *p = &t->pol[i];
		const double cap = (double)p->rate * dt;

		for (uint16_t w = 0; w < nw; w++) {
			uint64_t off = __atomic_load_n(&t->slots[w].met[i].offered, __ATOMIC_RELAXED);
			uint64_t *last = &t->reb_offered[(size_t)i * nw + w];

			d[w] = (double)(off - *last);
			*last = off;
		}
		cls_share(d, nw, cap, alloc);
		for (uint16_t w = 0; w < nw; w++) {
			struct cls_meter *m = &t->slots[w].met[i];
			uint8_t idle = !m->cur;

			if (cls_police_profile(p, &m->prof[idle], alloc[w] / cap) == 0)
				__atomic_store_n(&m->cur, idle, __ATOMIC_RELEASE);
		}
	}
	if (t->rcu != NULL) {
		t->reb_token = rte_rcu_qsbr_start(t->rcu);
		t->reb_pending = 1;
	}
	return 0;
}
