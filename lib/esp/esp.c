/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ESP context: crypto devices, worker handles and their handoff rings,
 * the SA table and the inbound SPI index, the main lcore's poll.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_crypto.h>
#include <rte_cryptodev.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include <rte_string_fns.h>

#include "esp_priv.h"

RTE_LOG_REGISTER_SUFFIX(mg_esp_logtype, esp, INFO);

/* Driver names, in enum esp_drv order. */
static const char *const drv_names[ESP_DRV_MAX] = {
	[ESP_DRV_AESNI_GCM] = "crypto_aesni_gcm",
	[ESP_DRV_AESNI_MB] = "crypto_aesni_mb",
	[ESP_DRV_OPENSSL] = "crypto_openssl",
};

/* Distinguishes the names of pools, rings and vdevs of successive contexts. */
static unsigned int esp_uid;

static const char *const err_names[MG_ESP_ERR_MAX] = {
#define MG_ESP_ERR_NAME(e, n, d) [MG_ESP_ERR_##e] = n,
	MG_ESP_ERRORS(MG_ESP_ERR_NAME)
#undef MG_ESP_ERR_NAME
};

static const char *const err_descs[MG_ESP_ERR_MAX] = {
#define MG_ESP_ERR_DESC(e, n, d) [MG_ESP_ERR_##e] = d,
	MG_ESP_ERRORS(MG_ESP_ERR_DESC)
#undef MG_ESP_ERR_DESC
};

/* Name of a failure reason. */
const char *
mg_esp_err_name(unsigned int err)
{
	return err < MG_ESP_ERR_MAX ? err_names[err] : "esp-unknown";
}

/* Description of a failure reason. */
const char *
mg_esp_err_desc(unsigned int err)
{
	return err < MG_ESP_ERR_MAX ? err_descs[err] : "unknown reason";
}

/* True on the main lcore; logs the offending call otherwise. */
static bool
on_main(const char *fn)
{
	if (rte_lcore_id() == rte_get_main_lcore())
		return true;
	ESP_LOG(ERR, "%s called off the main lcore (lcore %u)\n", fn, rte_lcore_id());
	return false;
}

/* Wait for every worker to pass a quiescent state (no-op without RCU). */
void
esp_sync(struct mg_esp *esp)
{
	if (esp->conf.rcu != NULL)
		rte_rcu_qsbr_synchronize(esp->conf.rcu, RTE_QSBR_THRID_INVALID);
}

/* ---- crypto devices --------------------------------------------------------------- */

/* Configure queue pairs and start device @p dv (its id set). */
static int
dev_start(struct mg_esp *esp, struct esp_dev *dv)
{
	struct rte_cryptodev_info info;
	unsigned int nq = esp->conf.nb_workers;
	char pname[RTE_MEMPOOL_NAMESIZE];

	rte_cryptodev_info_get(dv->id, &info);
	if (info.max_nb_queue_pairs < nq) {
		ESP_LOG(ERR, "crypto device %s has %u queue pairs, %u workers need one each\n",
			dv->name, info.max_nb_queue_pairs, nq);
		return -ENOSPC;
	}
	dv->cpu = (info.feature_flags & RTE_CRYPTODEV_FF_SYM_CPU_CRYPTO) != 0;
	snprintf(pname, sizeof(pname), "esp_ss%u_%d", esp->uid, dv->id);
	dv->sess_pool = rte_cryptodev_sym_session_pool_create(pname, esp->conf.max_sas + 8,
		rte_cryptodev_sym_get_private_session_size(dv->id), 0, 0, esp->conf.socket_id);
	if (dv->sess_pool == NULL)
		return -rte_errno;
	struct rte_cryptodev_config dc = {
		.socket_id = esp->conf.socket_id,
		.nb_queue_pairs = nq,
		.ff_disable = RTE_CRYPTODEV_FF_ASYMMETRIC_CRYPTO | RTE_CRYPTODEV_FF_SECURITY,
	};
	int rc = rte_cryptodev_configure(dv->id, &dc);
	if (rc != 0)
		return rc;
	struct rte_cryptodev_qp_conf qc = {
		.nb_descriptors = 2 * MG_ESP_MAX_BURST,
		.mp_session = dv->sess_pool,
	};
	for (unsigned int q = 0; q < nq; q++) {
		rc = rte_cryptodev_queue_pair_setup(dv->id, q, &qc, esp->conf.socket_id);
		if (rc != 0)
			return rc;
	}
	return rte_cryptodev_start(dv->id);
}

/* Find or create, then start, the device of driver @p d. */
struct esp_dev *
esp_dev_get(struct mg_esp *esp, enum esp_drv d)
{
	struct esp_dev *dv = &esp->devs[d];
	uint8_t ids[RTE_CRYPTO_MAX_DEVS];

	if (dv->tried)
		return dv->id >= 0 ? dv : NULL;
	dv->tried = true;
	if (esp->conf.driver != NULL && strcmp(esp->conf.driver, drv_names[d]) != 0)
		return NULL;
	if (rte_cryptodev_devices_get(drv_names[d], ids, RTE_DIM(ids)) > 0) {
		/* One the EAL created (--vdev): ours from now on. */
		dv->id = ids[0];
		rte_strscpy(dv->name, rte_cryptodev_name_get(ids[0]), sizeof(dv->name));
	} else {
		char args[128];
		int id;

		snprintf(dv->name, sizeof(dv->name), "%s_mg%u", drv_names[d], esp->uid);
		snprintf(args, sizeof(args), "%s,max_nb_queue_pairs=%u,socket_id=%d", dv->name,
			 esp->conf.nb_workers, esp->conf.socket_id < 0 ? 0 : esp->conf.socket_id);
		if (rte_dev_probe(args) != 0) {
			ESP_LOG(INFO, "crypto driver %s unavailable\n", drv_names[d]);
			return NULL;
		}
		dv->created = true;
		id = rte_cryptodev_get_dev_id(dv->name);
		if (id < 0) {
			rte_eal_hotplug_remove("vdev", dv->name);
			dv->created = false;
			return NULL;
		}
		dv->id = id;
	}
	int rc = dev_start(esp, dv);
	if (rc != 0) {
		ESP_LOG(ERR, "crypto device %s: set-up failed (%s)\n", dv->name, strerror(-rc));
		rte_cryptodev_close(dv->id);
		if (dv->created)
			rte_eal_hotplug_remove("vdev", dv->name);
		rte_mempool_free(dv->sess_pool);
		dv->sess_pool = NULL;
		dv->id = -1;
		return NULL;
	}
	ESP_LOG(INFO, "crypto device %s (driver %s, %u queue pairs, cpu crypto %s)\n",
		dv->name, drv_names[d], esp->conf.nb_workers, dv->cpu ? "yes" : "no");
	return dv;
}

/* Stop, close and (if ours) remove a device. */
static void
dev_teardown(struct esp_dev *dv)
{
	if (dv->id >= 0) {
		rte_cryptodev_stop(dv->id);
		rte_cryptodev_close(dv->id);
		if (dv->created)
			rte_eal_hotplug_remove("vdev", dv->name);
	}
	rte_mempool_free(dv->sess_pool);
	dv->sess_pool = NULL;
	dv->id = -1;
}

/* ---- the context -------------------------------------------------------------------- */

/* Create the context. */
struct mg_esp *
mg_esp_create(const struct mg_esp_conf *conf, struct mg_error *err)
{
	struct mg_esp *esp;
	char name[RTE_RING_NAMESIZE];

	if (!on_main(__func__)) {
		mg_error_set(err, EPERM, "", "the ESP context is created on the main lcore");
		return NULL;
	}
	if (conf == NULL || conf->nb_workers == 0 || conf->nb_workers > MG_ESP_MAX_WORKERS) {
		mg_error_set(err, EINVAL, "nb_workers", "must be 1..%u", MG_ESP_MAX_WORKERS);
		return NULL;
	}
	for (unsigned int i = 0; i < conf->nb_workers; i++)
		if (conf->lcores[i] >= RTE_MAX_LCORE) {
			mg_error_set(err, EINVAL, "lcores", "worker %u: lcore %u out of range", i,
				     conf->lcores[i]);
			return NULL;
		}
	if (conf->handoff_size != 0 && !rte_is_power_of_2(conf->handoff_size)) {
		mg_error_set(err, EINVAL, "handoff_size", "must be a power of two");
		return NULL;
	}
	int socket = conf->socket_id;
	if (socket == 0 || socket == SOCKET_ID_ANY)
		socket = rte_socket_id() == (unsigned int)SOCKET_ID_ANY ? 0 : (int)rte_socket_id();
	esp = rte_zmalloc_socket("mg_esp", sizeof(*esp), RTE_CACHE_LINE_SIZE, socket);
	if (esp == NULL) {
		mg_error_set(err, ENOMEM, "", "out of memory for the ESP context");
		return NULL;
	}
	esp->conf = *conf;
	esp->conf.socket_id = socket;
	if (esp->conf.max_sas == 0)
		esp->conf.max_sas = 1024;
	if (esp->conf.handoff_size == 0)
		esp->conf.handoff_size = 1024;
	esp->uid = __atomic_fetch_add(&esp_uid, 1, __ATOMIC_RELAXED);
	for (int d = 0; d < ESP_DRV_MAX; d++)
		esp->devs[d].id = -1;

	esp->sas = rte_zmalloc_socket("mg_esp_sas", esp->conf.max_sas * sizeof(esp->sas[0]),
				      RTE_CACHE_LINE_SIZE, socket);
	esp->gens = rte_zmalloc_socket("mg_esp_gens", esp->conf.max_sas * sizeof(esp->gens[0]),
				       RTE_CACHE_LINE_SIZE, socket);
	if (esp->sas == NULL || esp->gens == NULL)
		goto nomem;
	for (unsigned int w = 0; w < conf->nb_workers; w++) {
		struct mg_esp_worker *wk;

		wk = rte_zmalloc_socket("mg_esp_worker", sizeof(*wk), RTE_CACHE_LINE_SIZE,
					(int)rte_lcore_to_socket_id(conf->lcores[w]));
		if (wk == NULL)
			goto nomem;
		esp->workers[w] = wk;
		wk->esp = esp;
		wk->index = w;
		wk->lcore = conf->lcores[w];
		snprintf(name, sizeof(name), "esp_ho%u_%u", esp->uid, w);
		wk->ring = rte_ring_create_elem(name, sizeof(struct esp_handoff_ent),
						esp->conf.handoff_size,
						(int)rte_lcore_to_socket_id(wk->lcore), RING_F_SC_DEQ);
		if (wk->ring == NULL) {
			mg_error_set(err, rte_errno, "handoff_size", "handoff ring: %s",
				     rte_strerror(rte_errno));
			mg_esp_destroy(esp);
			return NULL;
		}
	}
	snprintf(name, sizeof(name), "esp_ops%u", esp->uid);
	esp->op_pool = rte_crypto_op_pool_create(name, RTE_CRYPTO_OP_TYPE_SYMMETRIC,
		conf->nb_workers * (2 * MG_ESP_MAX_BURST + 512) + 1024, 512, ESP_OP_PRIV, socket);
	if (esp->op_pool == NULL)
		goto nomem;
	if (esp_spi_rebuild(esp) != 0)
		goto nomem;
	return esp;
nomem:
	mg_error_set(err, ENOMEM, "", "out of memory for the ESP context");
	mg_esp_destroy(esp);
	return NULL;
}

/* Destroy the context and its SAs. */
void
mg_esp_destroy(struct mg_esp *esp)
{
	if (esp == NULL)
		return;
	/* Workers stopped: what they left in the crypto devices goes back to the pools. */
	for (unsigned int w = 0; w < esp->conf.nb_workers; w++)
		if (esp->workers[w] != NULL && esp->workers[w]->inflight != 0) {
			unsigned int k = mg_esp_drain(esp);

			ESP_LOG(INFO, "%u packets in flight dropped at shutdown\n", k);
			break;
		}
	esp_zombies_reap(esp);
	if (esp->sas != NULL)
		for (uint32_t i = 0; i < esp->conf.max_sas; i++)
			if (esp->sas[i] != NULL)
				mg_esp_sa_destroy(esp, esp->sas[i]);
	for (int d = 0; d < ESP_DRV_MAX; d++)
		dev_teardown(&esp->devs[d]);
	rte_mempool_free(esp->op_pool);
	esp_direct_fini(esp);
	for (unsigned int w = 0; w < MG_ESP_MAX_WORKERS; w++)
		if (esp->workers[w] != NULL) {
			rte_ring_free(esp->workers[w]->ring);
			rte_free(esp->workers[w]);
		}
	rte_free(esp->spis);
	rte_free(esp->sas);
	rte_free(esp->gens);
	rte_free(esp);
}

/* A worker's handle. */
struct mg_esp_worker *
mg_esp_worker(struct mg_esp *esp, unsigned int index)
{
	return index < esp->conf.nb_workers ? esp->workers[index] : NULL;
}

/* ---- the inbound SPI index ------------------------------------------------------------ */

/* Home slot of an SPI (host order) in a table of mask + 1 slots. */
static inline uint32_t
spi_hash(uint32_t spi, uint32_t mask)
{
	return (spi * 0x9e3779b1u) >> 7 & mask;
}

/* Build a new index from the SA table, publish it, free the old one. */
int
esp_spi_rebuild(struct mg_esp *esp)
{
	uint32_t slots = rte_align32pow2(2 * esp->conf.max_sas);
	struct esp_spi_table *t, *old;

	t = rte_zmalloc_socket("mg_esp_spis", sizeof(*t) + slots * sizeof(t->slot[0]),
			       RTE_CACHE_LINE_SIZE, esp->conf.socket_id);
	if (t == NULL)
		return -ENOMEM;
	t->mask = slots - 1;
	for (uint32_t i = 0; i < esp->conf.max_sas; i++) {
		struct mg_esp_sa *sa = esp->sas[i];

		if (sa == NULL || sa->dir != MG_ESP_INBOUND)
			continue;
		uint32_t h = spi_hash(sa->spec.spi, t->mask);
		while (t->slot[h] != NULL)
			h = (h + 1) & t->mask;
		t->slot[h] = sa;
	}
	old = esp->spis;
	__atomic_store_n(&esp->spis, t, __ATOMIC_RELEASE);
	if (old != NULL) {
		/* Workers may be probing the old index until their next quiescent state. */
		esp_sync(esp);
		rte_free(old);
	}
	return 0;
}

/* The inbound SA of an SPI. */
struct mg_esp_sa *
mg_esp_sa_lookup(const struct mg_esp *esp, uint32_t spi)
{
	const struct esp_spi_table *t = __atomic_load_n(&esp->spis, __ATOMIC_ACQUIRE);
	uint32_t h = spi_hash(spi, t->mask);
	struct mg_esp_sa *sa;

	while ((sa = t->slot[h]) != NULL) {
		if (sa->spec.spi == spi)
			return sa;
		h = (h + 1) & t->mask;
	}
	return NULL;
}

/* ---- outbound slots --------------------------------------------------------------------- */

/* Switch a tunnel's outbound SA. */
struct mg_esp_sa *
mg_esp_out_switch(struct mg_esp *esp, struct mg_esp_out *o, struct mg_esp_sa *sa)
{
	struct mg_esp_sa *old;

	RTE_VERIFY(on_main(__func__));
	RTE_VERIFY(sa == NULL || sa->dir == MG_ESP_OUTBOUND);
	old = __atomic_exchange_n(&o->sa, sa, __ATOMIC_ACQ_REL);
	/* A worker that loaded the old SA finishes its burst with it first. */
	if (old != NULL)
		esp_sync(esp);
	return old;
}

/* ---- events ------------------------------------------------------------------------------ */

/* Append an event if there is room; false when full. */
static bool
ev_push(struct mg_esp_event *ev, unsigned int max, unsigned int *n, enum mg_esp_event_type type,
	enum mg_esp_limit_kind limit, struct mg_esp_sa *sa)
{
	if (*n >= max)
		return false;
	ev[*n] = (struct mg_esp_event){
		.type = type,
		.limit = limit,
		.sa = type == MG_ESP_EV_RETIRED ? NULL : sa,
		.spi = sa->spec.spi,
		.dir = sa->spec.dir,
		.user = sa->spec.user,
	};
	(*n)++;
	return true;
}

/* Raise a soft event once per limit kind. */
static void
soft_check(struct mg_esp_sa *sa, enum mg_esp_limit_kind k, uint64_t used, uint64_t soft,
	   struct mg_esp_event *ev, unsigned int max, unsigned int *n)
{
	if (soft == 0 || used < soft || (sa->soft_done & (1u << k)))
		return;
	if (ev_push(ev, max, n, MG_ESP_EV_SOFT, k, sa))
		sa->soft_done |= 1u << k;
}

/* Lifetimes, expiry and retirement of one SA; true if it was deleted. */
static bool
poll_sa(struct mg_esp *esp, struct mg_esp_sa *sa, uint64_t now, struct mg_esp_event *ev,
	unsigned int max, unsigned int *n)
{
	struct mg_esp_sa_stats st;
	uint64_t age_s = (now - sa->created_ns) / 1000000000ull;
	uint32_t state = __atomic_load_n(&sa->state, __ATOMIC_ACQUIRE);

	mg_esp_sa_stats(sa, &st);
	soft_check(sa, MG_ESP_LIMIT_PACKETS, st.packets, sa->spec.packets.soft, ev, max, n);
	soft_check(sa, MG_ESP_LIMIT_BYTES, st.bytes, sa->spec.bytes.soft, ev, max, n);
	soft_check(sa, MG_ESP_LIMIT_SECONDS, age_s, sa->spec.seconds.soft, ev, max, n);
	if (sa->dir == MG_ESP_OUTBOUND && !sa->spec.esn) {
		uint64_t first = sa->spec.initial_seq ? sa->spec.initial_seq : 1;

		soft_check(sa, MG_ESP_LIMIT_SEQUENCE, first + st.packets, 0xe0000000ull, ev, max,
			   n);
		if (st.errors[MG_ESP_ERR_SEQ_OVERFLOW] != 0 && !sa->hard_done &&
		    ev_push(ev, max, n, MG_ESP_EV_HARD, MG_ESP_LIMIT_SEQUENCE, sa))
			sa->hard_done = true;
	}
	if (sa->spec.seconds.hard != 0 && age_s >= sa->spec.seconds.hard &&
	    state != MG_ESP_STATE_EXPIRED) {
		__atomic_store_n(&sa->expired_by, MG_ESP_LIMIT_SECONDS, __ATOMIC_RELAXED);
		__atomic_store_n(&sa->state, MG_ESP_STATE_EXPIRED, __ATOMIC_RELEASE);
		state = MG_ESP_STATE_EXPIRED;
	}
	if (state == MG_ESP_STATE_EXPIRED && !sa->hard_done &&
	    ev_push(ev, max, n, MG_ESP_EV_HARD,
		    __atomic_load_n(&sa->expired_by, __ATOMIC_RELAXED), sa))
		sa->hard_done = true;
	if (sa->retire_ns != 0) {
		if (st.packets != sa->retire_pkts) {
			sa->retire_pkts = st.packets;
			sa->retire_moved_ns = now;
		}
		if ((now - sa->retire_moved_ns >= sa->retire_idle_ns ||
		     now - sa->retire_ns >= sa->retire_grace_ns) && *n < max) {
			ev_push(ev, max, n, MG_ESP_EV_RETIRED, MG_ESP_LIMIT_NONE, sa);
			mg_esp_sa_destroy(esp, sa);
			return true;
		}
	}
	return false;
}

/* Poll lifetimes and retirements at time @p now. */
unsigned int
mg_esp_poll_at(struct mg_esp *esp, uint64_t now, struct mg_esp_event *ev, unsigned int max)
{
	unsigned int n = 0;

	if (!on_main(__func__))
		return 0;
	if (unlikely(esp->zombies != NULL))
		esp_zombies_reap(esp);
	for (uint32_t i = 0; i < esp->conf.max_sas && n < max; i++) {
		struct mg_esp_sa *sa = esp->sas[i];

		if (sa != NULL)
			poll_sa(esp, sa, now, ev, max, &n);
	}
	return n;
}

/* Poll lifetimes and retirements now. */
unsigned int
mg_esp_poll(struct mg_esp *esp, struct mg_esp_event *ev, unsigned int max)
{
	return mg_esp_poll_at(esp, mg_now_ns(), ev, max);
}
