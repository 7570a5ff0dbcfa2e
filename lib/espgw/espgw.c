/* SPDX-License-Identifier: BSD-3-Clause */
/* The gateway's ESP tunnels: model tunnels -> lib/esp SAs and worker records. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_telemetry.h>

#include "mg_espgw.h"

RTE_LOG_REGISTER_SUFFIX(mg_espgw_logtype, espgw, INFO);
#define EG_LOG(l, ...) rte_log(RTE_LOG_##l, mg_espgw_logtype, "esp: " __VA_ARGS__)

#define POLL_NS 100000000ull       /* lifetimes checked every 100 ms */
#define RETIRE_IDLE_MS 2000        /* an old inbound SA goes after 2 s without traffic ... */
#define RETIRE_GRACE_MS 30000      /* ... or 30 s after the rekey at the latest */

/*
 * DPDK telemetry (/meshgate/esp) answers from its own thread: it reads a
 * snapshot the main lcore writes once a second (never the SAs themselves,
 * which the main lcore may free meanwhile).
 */
#define SNAP_MAX 1024
struct sa_snap {
	char key[RTE_TEL_MAX_STRING_LEN];  /* TUNNEL/SPI/DIR */
	struct mg_esp_sa_stats st;
	uint8_t state;
};
static pthread_mutex_t snap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sa_snap snap[SNAP_MAX];
static unsigned int snap_n;
#define SNAP_NS 1000000000ull

static int
tel_esp(const char *cmd, const char *params, struct rte_tel_data *d)
{
	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&snap_lock);
	for (unsigned int i = 0; i < snap_n; i++) {
		struct rte_tel_data *c = rte_tel_data_alloc();

		if (c == NULL)
			break;
		rte_tel_data_start_dict(c);
		rte_tel_data_add_dict_u64(c, "packets", snap[i].st.packets);
		rte_tel_data_add_dict_u64(c, "bytes", snap[i].st.bytes);
		rte_tel_data_add_dict_u64(c, "replay_drops", snap[i].st.replay);
		rte_tel_data_add_dict_u64(c, "auth_failures", snap[i].st.auth);
		rte_tel_data_add_dict_u64(c, "other_errors", snap[i].st.other);
		rte_tel_data_add_dict_u64(c, "expired", snap[i].state == MG_ESP_STATE_EXPIRED);
		rte_tel_data_add_dict_u64(c, "retiring", snap[i].state == MG_ESP_STATE_RETIRING);
		if (rte_tel_data_add_dict_container(d, snap[i].key, c, 0) != 0)
			rte_tel_data_free(c);
	}
	pthread_mutex_unlock(&snap_lock);
	return 0;
}

static void
snap_one(const struct mg_espgw_tun *r, const struct mg_esp_sa *sa, struct sa_snap *out,
	 unsigned int *n)
{
	struct mg_esp_sa_info info;
	char *k;

	if (sa == NULL || *n == SNAP_MAX)
		return;
	k = out[*n].key;
	snprintf(k, sizeof(out[*n].key), "%s/%u/%s", r->name, mg_esp_sa_spi(sa),
		 mg_esp_sa_dir(sa) == MG_ESP_OUTBOUND ? "out" : "in");
	for (; *k; k++)
		if (!isalnum((unsigned char)*k) && *k != '_' && *k != '/') /* 22.11's telemetry names */
			*k = '_';
	mg_esp_sa_stats(sa, &out[*n].st);
	mg_esp_sa_info(sa, &info);
	out[*n].state = (uint8_t)info.state;
	(*n)++;
}

/* Main lcore: refresh the telemetry snapshot. */
static void
snap_refresh(const struct mg_espgw *eg)
{
	static struct sa_snap next[SNAP_MAX];
	unsigned int n = 0;

	for (unsigned int i = 0; i < MG_MAX_IFACES; i++) {
		const struct mg_espgw_tun *r = eg->tun[i];

		if (r == NULL)
			continue;
		for (int f = 0; f < 2; f++) {
			snap_one(r, mg_esp_out_get(&r->out[f]), next, &n);
			snap_one(r, r->in[f], next, &n);
		}
	}
	pthread_mutex_lock(&snap_lock);
	memcpy(snap, next, n * sizeof(next[0]));
	snap_n = n;
	pthread_mutex_unlock(&snap_lock);
}

/* Republish the endpoints after a tunnel came or went (main lcore). */
static void
locals_rebuild(struct mg_espgw *eg)
{
	struct mg_espgw_locals *next = NULL, *old = eg->locals;

	for (unsigned int i = 0; i < MG_MAX_IFACES; i++) {
		const struct mg_espgw_tun *r = eg->tun[i];
		bool dup = false;

		if (r == NULL)
			continue;
		if (next == NULL) {
			next = rte_zmalloc("mg_espgw_locals", sizeof(*next), RTE_CACHE_LINE_SIZE);
			if (next == NULL)
				break; /* no shortcut: the long way still works */
		}
		if (r->outer_family == AF_INET) {
			uint32_t a;

			memcpy(&a, r->local.bytes, 4);
			for (uint32_t k = 0; k < next->n; k++)
				dup = dup || (next->e[k].addr == a && next->e[k].net == r->underlay);
			if (dup || next->n == MG_ESPGW_LOCALS)
				continue;
			next->e[next->n].addr = a;
			next->e[next->n].net = r->underlay;
			next->n++;
		} else {
			for (uint32_t k = 0; k < next->n6; k++)
				dup = dup || (!memcmp(next->e6[k].addr, r->local.bytes, 16) &&
					      next->e6[k].net == r->underlay);
			if (dup || next->n6 == MG_ESPGW_LOCALS)
				continue;
			memcpy(next->e6[next->n6].addr, r->local.bytes, 16);
			next->e6[next->n6].net = r->underlay;
			next->n6++;
		}
	}
	__atomic_store_n(&eg->locals, next, __ATOMIC_RELEASE);
	if (old != NULL) {
		/* Workers may read the old list until their walk ends. */
		mg_dp_sync(eg->dp);
		rte_free(old);
	}
}

static inline int
fam_idx(uint8_t family)
{
	return family == AF_INET ? 0 : 1;
}

struct mg_espgw *
mg_espgw_get(struct mg_dp *dp, struct mg_error *err)
{
	struct mg_esp_conf c;
	struct mg_espgw *eg;

	if (dp->esp != NULL)
		return dp->esp;
	RTE_ASSERT(rte_lcore_id() == dp->main_lcore);
	eg = rte_zmalloc("mg_espgw", sizeof(*eg), RTE_CACHE_LINE_SIZE);
	if (eg == NULL) {
		mg_error_set(err, ENOMEM, "", "out of memory for ESP tunnels");
		return NULL;
	}
	memset(&c, 0, sizeof(c));
	c.nb_workers = dp->nb_workers;
	for (unsigned int w = 0; w < dp->nb_workers; w++)
		c.lcores[w] = dp->workers[w]->lcore;
	c.rcu = dp->rcu;
	c.socket_id = (int)rte_socket_id();
	eg->esp = mg_esp_create(&c, err);
	if (eg->esp == NULL) {
		rte_free(eg);
		return NULL;
	}
	for (unsigned int w = 0; w < dp->nb_workers; w++)
		eg->wk[w] = mg_esp_worker(eg->esp, w);
	eg->dp = dp;
	__atomic_store_n(&dp->esp, eg, __ATOMIC_RELEASE);
	{
		static bool registered;

		if (!registered && rte_telemetry_register_cmd("/meshgate/esp", tel_esp,
				"meshgate ESP SAs (TUNNEL/SPI/DIR): packets, bytes, replay drops, "
				"auth failures, expired, retiring. No parameters") == 0)
			registered = true;
	}
	return eg;
}

void
mg_espgw_destroy(struct mg_espgw *eg)
{
	if (eg == NULL)
		return;
	/* Workers stopped: free what they left in the crypto devices before the SAs go. */
	if (mg_esp_inflight(eg->esp) != 0)
		mg_esp_drain(eg->esp);
	for (unsigned int i = 0; i < MG_MAX_IFACES; i++)
		if (eg->tun[i] != NULL)
			mg_espgw_tunnel_del(eg, (uint16_t)i);
	if (eg->dp != NULL)
		eg->dp->esp = NULL;
	pthread_mutex_lock(&snap_lock);
	snap_n = 0;
	pthread_mutex_unlock(&snap_lock);
	rte_free(eg->locals);
	mg_esp_destroy(eg->esp);
	rte_free(eg);
}

/* lib/esp's spec for SA @p c of tunnel @p t (keys copied: the caller wipes it). */
static void
sa_spec(const struct mg_esp_tunnel *t, const struct mg_esp_sa_conf *c, uint64_t user,
	struct mg_esp_sa_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->spi = c->spi;
	s->dir = c->inbound ? MG_ESP_INBOUND : MG_ESP_OUTBOUND;
	s->local = t->spec.local;
	s->remote = t->spec.remote;
	s->inner_family = c->inner_family;
	s->algo = (enum mg_esp_algo)c->algo;
	memcpy(s->enc_key, c->key, c->key_len);
	s->enc_key_len = c->key_len;
	memcpy(s->auth_key, c->auth_key, c->auth_key_len);
	s->auth_key_len = c->auth_key_len;
	memcpy(s->salt, c->salt, sizeof(s->salt));
	s->replay_window = t->spec.replay_window;
	s->esn = t->spec.esn;
	s->no_replay = t->spec.no_replay;
	s->udp_encap = t->spec.udp_encap;
	s->local_port = t->spec.local_port;
	s->remote_port = t->spec.remote_port;
	s->packets.soft = c->packets_soft;
	s->packets.hard = c->packets_hard;
	s->bytes.soft = c->bytes_soft;
	s->bytes.hard = c->bytes_hard;
	s->seconds.soft = c->seconds_soft;
	s->seconds.hard = c->seconds_hard;
	s->initial_seq = c->initial_seq;
	s->owner = -1;
	s->user = user;
}

/* Create SA @p c of @p t; NULL with @p err naming the SA. */
static struct mg_esp_sa *
sa_make(struct mg_espgw *eg, const struct mg_esp_tunnel *t, const struct mg_esp_sa_conf *c,
	const struct mg_espgw_tun *r, unsigned int idx, struct mg_error *err)
{
	struct mg_esp_sa_spec s;
	struct mg_esp_sa *sa;

	sa_spec(t, c, mg_espgw_sa_user(r->ifindex, r->gen), &s);
	sa = mg_esp_sa_create(eg->esp, &s, err);
	mg_wipe(&s, sizeof(s));
	if (sa == NULL)
		mg_error_prefix_field(err, "sas[%u]", idx);
	return sa;
}

static void
tun_free_sas(struct mg_espgw *eg, struct mg_espgw_tun *r)
{
	for (int f = 0; f < 2; f++) {
		struct mg_esp_sa *o = mg_esp_out_switch(eg->esp, &r->out[f], NULL);

		mg_esp_sa_destroy(eg->esp, o);
		mg_esp_sa_destroy(eg->esp, r->in[f]);
		r->in[f] = NULL;
	}
}

int
mg_espgw_tunnel_add(struct mg_espgw *eg, const struct mg_esp_tunnel *t, uint16_t ifindex,
		    uint16_t *mtu, struct mg_error *err)
{
	const uint16_t path_mtu = t->spec.path_mtu ? t->spec.path_mtu : 1500;
	struct mg_espgw_tun *r;
	unsigned int inner = 0;

	if (ifindex >= MG_MAX_IFACES || eg->tun[ifindex] != NULL)
		return mg_error_set(err, EEXIST, "", "interface slot %u is taken", ifindex);
	r = rte_zmalloc("mg_espgw_tun", sizeof(*r), RTE_CACHE_LINE_SIZE);
	if (r == NULL)
		return mg_error_set(err, ENOMEM, "", "out of memory");
	r->ifindex = ifindex;
	/* A new generation per slot: SAs of a tunnel deleted earlier (retiring
	 * inbound ones outlive it briefly) never lead into this one. */
	r->gen = ++eg->gens[ifindex];
	r->network = t->network;
	r->underlay = t->underlay;
	r->outer_family = t->spec.local.family;
	snprintf(r->name, sizeof(r->name), "%s", t->spec.name);
	r->local = t->spec.local;
	for (unsigned int i = 0; i < t->spec.nsas; i++) {
		const struct mg_esp_sa_conf *c = &t->spec.sas[i];
		struct mg_esp_sa *sa = sa_make(eg, t, c, r, i, err);
		int f = fam_idx(c->inner_family);

		if (sa == NULL) {
			tun_free_sas(eg, r);
			rte_free(r);
			return -err->code;
		}
		if (c->inbound) {
			r->in[f] = sa;
		} else {
			unsigned int m = mg_esp_sa_inner_mtu(sa, path_mtu);

			inner = inner == 0 || m < inner ? m : inner;
			mg_esp_out_switch(eg->esp, &r->out[f], sa);
		}
	}
	if (inner == 0) /* no outbound SA yet: the largest overhead of any algorithm */
		inner = mg_esp_inner_mtu(MG_ESP_AES_CBC_256_SHA256, r->outer_family,
					 t->spec.udp_encap, path_mtu);
	*mtu = t->spec.mtu ? t->spec.mtu : (uint16_t)inner;
	if (t->spec.mss_clamp == MG_ESP_MSS_AUTO) {
		r->mss[0] = *mtu > 40 + MG_ESP_MSS_MIN ? (uint16_t)(*mtu - 40) : MG_ESP_MSS_MIN;
		r->mss[1] = *mtu > 60 + MG_ESP_MSS_MIN ? (uint16_t)(*mtu - 60) : MG_ESP_MSS_MIN;
	} else {
		r->mss[0] = r->mss[1] = t->spec.mss_clamp;
	}
	__atomic_store_n(&eg->tun[ifindex], r, __ATOMIC_RELEASE);
	locals_rebuild(eg);
	EG_LOG(INFO, "tunnel %s up (ifindex %u, %u SA(s), MTU %u)\n", r->name, ifindex,
	       t->spec.nsas, *mtu);
	return 0;
}

void
mg_espgw_tunnel_del(struct mg_espgw *eg, uint16_t ifindex)
{
	struct mg_espgw_tun *r = eg->tun[ifindex];

	if (r == NULL)
		return;
	__atomic_store_n(&eg->tun[ifindex], NULL, __ATOMIC_RELEASE);
	locals_rebuild(eg);
	/* Workers may hold the record until their walk ends; the SA calls wait for them. */
	mg_dp_sync(eg->dp);
	tun_free_sas(eg, r);
	EG_LOG(INFO, "tunnel %s down\n", r->name);
	rte_free(r);
}

unsigned int
mg_espgw_stop(struct mg_espgw *eg, uint16_t ifindex)
{
	struct mg_espgw_tun *r = eg != NULL && ifindex < RTE_DIM(eg->tun) ? eg->tun[ifindex] : NULL;
	unsigned int n = 0;

	for (unsigned int f = 0; r != NULL && f < 2; f++) {
		struct mg_esp_sa *out = mg_esp_out_get(&r->out[f]);

		n += (out != NULL) + (r->in[f] != NULL);
		mg_esp_sa_stop(eg->esp, out);
		mg_esp_sa_stop(eg->esp, r->in[f]);
	}
	if (n != 0)
		EG_LOG(NOTICE, "tunnel %s: %u SA(s) stopped\n", r->name, n);
	return n;
}

int
mg_espgw_rekey(struct mg_espgw *eg, const struct mg_esp_tunnel *t,
	       const struct mg_esp_sa_conf *sas, unsigned int n, struct mg_error *err)
{
	struct mg_espgw_tun *r = eg->tun[t->iface];
	struct mg_esp_sa *made[MG_ESP_TUN_MAX_SAS] = {NULL};

	if (r == NULL)
		return mg_error_set(err, ENOENT, "", "tunnel '%s' is not up", t->spec.name);
	if (n > MG_ESP_TUN_MAX_SAS)
		return mg_error_set(err, EINVAL, "sas", "too many SAs");
	for (unsigned int i = 0; i < n; i++) {
		made[i] = sa_make(eg, t, &sas[i], r, i, err);
		if (made[i] == NULL) {
			for (unsigned int j = 0; j < i; j++)
				mg_esp_sa_destroy(eg->esp, made[j]);
			return -err->code;
		}
	}
	/* Inbound first: the peer may switch as soon as it sees our new outbound SA. */
	for (unsigned int i = 0; i < n; i++) {
		int f = fam_idx(sas[i].inner_family);

		if (!sas[i].inbound)
			continue;
		if (r->in[f] != NULL &&
		    mg_esp_sa_retire(eg->esp, r->in[f], RETIRE_IDLE_MS, RETIRE_GRACE_MS) != 0)
			mg_esp_sa_destroy(eg->esp, r->in[f]);
		r->in[f] = made[i];
	}
	for (unsigned int i = 0; i < n; i++) {
		if (sas[i].inbound)
			continue;
		/* One atomic switch; the old SA is out of use when this returns. */
		mg_esp_sa_destroy(eg->esp,
				  mg_esp_out_switch(eg->esp, &r->out[fam_idx(sas[i].inner_family)],
						    made[i]));
	}
	EG_LOG(INFO, "tunnel %s: %u SA(s) replaced\n", r->name, n);
	return 0;
}

static const char *
limit_name(enum mg_esp_limit_kind k)
{
	static const char *const n[] = {"none", "packets", "bytes", "seconds", "sequence"};

	return (unsigned int)k < RTE_DIM(n) ? n[k] : "?";
}

void
mg_espgw_poll(struct mg_espgw *eg, uint64_t now_ns)
{
	struct mg_esp_event ev[32];
	unsigned int n;

	if (eg == NULL || now_ns < eg->next_poll_ns)
		return;
	eg->next_poll_ns = now_ns + POLL_NS;
	if (now_ns >= eg->next_snap_ns) {
		snap_refresh(eg);
		eg->next_snap_ns = now_ns + SNAP_NS;
	}
	n = mg_esp_poll(eg->esp, ev, RTE_DIM(ev));
	for (unsigned int i = 0; i < n; i++) {
		struct mg_espgw_tun *r = mg_espgw_tun_of(eg, ev[i].user);
		const char *name = r ? r->name : "?";

		if (r != NULL && (unsigned int)ev[i].type < RTE_DIM(r->events))
			r->events[ev[i].type]++;
		switch (ev[i].type) {
		case MG_ESP_EV_SOFT:
			EG_LOG(NOTICE, "tunnel %s: %s SA 0x%08x reached its soft %s lifetime: "
			       "rekey due\n", name, ev[i].dir == MG_ESP_OUTBOUND ? "outbound" :
			       "inbound", ev[i].spi, limit_name(ev[i].limit));
			break;
		case MG_ESP_EV_HARD:
			EG_LOG(WARNING, "tunnel %s: %s SA 0x%08x reached its hard %s lifetime: "
			       "stopped\n", name, ev[i].dir == MG_ESP_OUTBOUND ? "outbound" :
			       "inbound", ev[i].spi, limit_name(ev[i].limit));
			break;
		case MG_ESP_EV_RETIRED:
			EG_LOG(INFO, "tunnel %s: replaced inbound SA 0x%08x deleted\n", name,
			       ev[i].spi);
			break;
		}
	}
}

static void
sa_json(const struct mg_esp_sa *sa, FILE *f, bool *first)
{
	char buf[2048];
	int len;

	if (sa == NULL)
		return;
	len = mg_esp_sa_format(sa, buf, sizeof(buf));
	if (len <= 0 || (size_t)len >= sizeof(buf))
		return;
	fprintf(f, "%s%s", *first ? "" : ",", buf);
	*first = false;
}

void
mg_espgw_sas_json(const struct mg_espgw *eg, uint16_t ifindex, FILE *f)
{
	const struct mg_espgw_tun *r = eg != NULL && ifindex < MG_MAX_IFACES ? eg->tun[ifindex]
									      : NULL;
	bool first = true;

	fputs("{\"sas\":[", f);
	if (r != NULL)
		for (int fam = 0; fam < 2; fam++) {
			sa_json(mg_esp_out_get(&r->out[fam]), f, &first);
			sa_json(r->in[fam], f, &first);
		}
	fprintf(f, "],\"events\":{\"soft\":%" PRIu64 ",\"hard\":%" PRIu64
		",\"retired\":%" PRIu64 "}}", r ? r->events[MG_ESP_EV_SOFT] : 0,
		r ? r->events[MG_ESP_EV_HARD] : 0, r ? r->events[MG_ESP_EV_RETIRED] : 0);
}

/* The per-SA counters in /metrics, one family each. */
static const struct {
	const char *name;
	const char *help;
	size_t off;
} sa_families[] = {
	{"packets", "Packets an ESP SA processed.", offsetof(struct mg_esp_sa_stats, packets)},
	{"bytes", "Inner IP bytes an ESP SA processed.", offsetof(struct mg_esp_sa_stats, bytes)},
	{"replay_drops", "Packets an inbound SA refused as replays.",
	 offsetof(struct mg_esp_sa_stats, replay)},
	{"auth_failures", "Packets whose ICV did not verify.", offsetof(struct mg_esp_sa_stats, auth)},
	{"other_errors", "Packets an SA refused for another reason.",
	 offsetof(struct mg_esp_sa_stats, other)},
};

static void
sa_metric(const struct mg_espgw_tun *r, const struct mg_esp_sa *sa, unsigned int fam, FILE *f)
{
	struct mg_esp_sa_stats st;

	if (sa == NULL)
		return;
	mg_esp_sa_stats(sa, &st);
	fprintf(f, "meshgate_esp_sa_%s_total{tunnel=\"%s\",spi=\"%u\",direction=\"%s\"} %" PRIu64 "\n",
		sa_families[fam].name, r->name, mg_esp_sa_spi(sa),
		mg_esp_sa_dir(sa) == MG_ESP_OUTBOUND ? "out" : "in",
		*(const uint64_t *)((const char *)&st + sa_families[fam].off));
}

void
mg_espgw_metrics(const struct mg_espgw *eg, FILE *f)
{
	if (eg == NULL)
		return;
	fprintf(f, "# HELP meshgate_esp_crypto_inflight Packets in the crypto devices "
		"(asynchronous lookaside), all workers.\n# TYPE meshgate_esp_crypto_inflight gauge\n"
		"meshgate_esp_crypto_inflight %u\n", mg_esp_inflight(eg->esp));
	fprintf(f, "# HELP meshgate_esp_crypto_ops_in_use Crypto ops taken from the ESP op pool "
		"(0 when idle).\n# TYPE meshgate_esp_crypto_ops_in_use gauge\n"
		"meshgate_esp_crypto_ops_in_use %u\n", mg_esp_ops_in_use(eg->esp));
	/* The text format wants each family's samples right after its HELP and TYPE. */
	for (unsigned int k = 0; k < RTE_DIM(sa_families); k++) {
		fprintf(f, "# HELP meshgate_esp_sa_%s_total %s\n# TYPE meshgate_esp_sa_%s_total counter\n",
			sa_families[k].name, sa_families[k].help, sa_families[k].name);
		for (unsigned int i = 0; i < MG_MAX_IFACES; i++) {
			const struct mg_espgw_tun *r = eg->tun[i];

			if (r == NULL)
				continue;
			for (int fam = 0; fam < 2; fam++) {
				sa_metric(r, mg_esp_out_get(&r->out[fam]), k, f);
				sa_metric(r, r->in[fam], k, f);
			}
		}
	}
}

unsigned int
mg_espgw_seqs(const struct mg_espgw *eg, uint16_t ifindex, struct mg_espgw_seq *out,
	      unsigned int max)
{
	const struct mg_espgw_tun *r = eg != NULL && ifindex < MG_MAX_IFACES ? eg->tun[ifindex]
									      : NULL;
	unsigned int n = 0;

	if (r == NULL)
		return 0;
	for (int fam = 0; fam < 2; fam++) {
		const struct mg_esp_sa *sas[2] = {mg_esp_out_get(&r->out[fam]), r->in[fam]};

		for (int d = 0; d < 2 && n < max; d++) {
			if (sas[d] == NULL)
				continue;
			out[n].spi = mg_esp_sa_spi(sas[d]);
			out[n].inbound = d == 1;
			out[n].inner_family = fam == 0 ? AF_INET : AF_INET6;
			out[n].seq = mg_esp_sa_seq(sas[d]);
			n++;
		}
	}
	return n;
}
