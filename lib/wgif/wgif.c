/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * WireGuard interfaces, main lcore side: set-up from the model, the
 * handshake ring, timers, and the messages the main lcore sends (through
 * the workers' inject rings, routed in the underlay network like any
 * packet the gateway originates).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_ring.h>
#include <rte_telemetry.h>
#include <pthread.h>

#include "mg_wgif.h"

RTE_LOG_REGISTER_SUFFIX(mg_wgif_logtype, wgif, INFO);
#define WGIF_LOG(l, ...) rte_log(RTE_LOG_##l, mg_wgif_logtype, "wgif: " __VA_ARGS__)

/* ---- telemetry: a snapshot the main lcore refreshes once a second -------------------- */

#define TEL_PEERS 16 /* peers per interface in the snapshot */

struct tel_iface {
	char name[MG_NAME_MAX];
	uint16_t port, npeers;
	uint64_t sessions, initiations, hs_errors;
	struct {
		char key[MG_WG_KEY_B64_LEN + 1];
		uint64_t rx_bytes, tx_bytes, latest_handshake;
	} peers[TEL_PEERS];
};

static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tel_iface tel_snap[MG_WGIF_MAX];
static unsigned int tel_n;
static uint64_t tel_next;

/* /meshgate/wireguard: every interface, with its first peers (public keys only). */
static int
tel_wireguard(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&tel_lock);
	for (unsigned int i = 0; i < tel_n; i++) {
		const struct tel_iface *t = &tel_snap[i];
		struct rte_tel_data *c = rte_tel_data_alloc();

		if (c == NULL)
			break;
		rte_tel_data_start_dict(c);
		rte_tel_data_add_dict_u64(c, "listen_port", t->port);
		rte_tel_data_add_dict_u64(c, "peers", t->npeers);
		rte_tel_data_add_dict_u64(c, "sessions", t->sessions);
		rte_tel_data_add_dict_u64(c, "initiations_sent", t->initiations);
		rte_tel_data_add_dict_u64(c, "handshake_errors", t->hs_errors);
		for (unsigned int k = 0; k < RTE_MIN(t->npeers, (uint16_t)TEL_PEERS); k++) {
			struct rte_tel_data *p = rte_tel_data_alloc();
			char key[16];

			if (p == NULL)
				break;
			rte_tel_data_start_dict(p);
			rte_tel_data_add_dict_string(p, "public_key", t->peers[k].key);
			rte_tel_data_add_dict_u64(p, "rx_bytes", t->peers[k].rx_bytes);
			rte_tel_data_add_dict_u64(p, "tx_bytes", t->peers[k].tx_bytes);
			rte_tel_data_add_dict_u64(p, "latest_handshake", t->peers[k].latest_handshake);
			snprintf(key, sizeof(key), "peer%u", k);
			rte_tel_data_add_dict_container(c, key, p, 0);
		}
		rte_tel_data_add_dict_container(d, t->name, c, 0);
	}
	pthread_mutex_unlock(&tel_lock);
	return 0;
}

static struct mg_wgif_dp *
wdp(const struct mg_dp *dp)
{
	return dp->wg;
}

/* lib/wg's defer_free hook: run @p fn once no worker can hold @p obj. */
static void
defer_free(void *ctx, void (*fn)(void *obj), void *obj)
{
	mg_dp_sync(ctx);
	fn(obj);
}

/* Create the shared state and one crypto context per worker (and the main lcore's). */
static int
dp_init(struct mg_dp *dp, struct mg_error *err)
{
	struct mg_wgif_dp *w;

	if (dp->wg != NULL)
		return 0;
	w = rte_zmalloc("mg_wgif_dp", sizeof(*w), RTE_CACHE_LINE_SIZE);
	if (w == NULL)
		return mg_error_set(err, ENOMEM, "", "out of memory for WireGuard state");
	w->nworkers = dp->nb_workers;
#ifdef MG_TEST_TIMERS
	{
		/* Test builds only: MG_WG_TEST_TIMES="REKEY_AFTER,REJECT_AFTER,REKEY_TIMEOUT,KEEPALIVE" in ms. */
		const char *tt = getenv("MG_WG_TEST_TIMES");
		unsigned long ra, rj, rt, ka;

		if (tt != NULL && sscanf(tt, "%lu,%lu,%lu,%lu", &ra, &rj, &rt, &ka) == 4) {
			struct mg_wg_test_times t = {
				.rekey_after = ra * 1000000ull, .reject_after = rj * 1000000ull,
				.rekey_timeout = rt * 1000000ull, .jitter_max = rt * 1000000ull / 3,
				.keepalive = ka * 1000000ull, .cookie_max_age = 120ull * 1000000000ull,
				.cookie_latency = 5ull * 1000000000ull,
			};

			mg_wg_test_set_times(&t);
			WGIF_LOG(WARNING, "test build: WireGuard timers %s (ms)\n", tt);
		}
	}
#endif
	for (unsigned int i = 0; i <= dp->nb_workers; i++) {
		int socket = i < dp->nb_workers ? (int)rte_lcore_to_socket_id(dp->workers[i]->lcore)
						: (int)rte_socket_id();

		w->wk[i] = mg_wg_worker_create(socket < 0 ? SOCKET_ID_ANY : socket);
		if (w->wk[i] == NULL) {
			for (unsigned int k = 0; k < i; k++)
				mg_wg_worker_destroy(w->wk[k]);
			rte_free(w);
			return mg_error_set(err, ENOMEM, "", "cannot create WireGuard crypto contexts");
		}
	}
	__atomic_store_n(&dp->wg, w, __ATOMIC_RELEASE);
	if (rte_telemetry_register_cmd("/meshgate/wireguard", tel_wireguard,
				       "meshgate WireGuard interfaces and peers (public keys only). "
				       "No parameters") < 0)
		WGIF_LOG(DEBUG, "/meshgate/wireguard is registered already\n");
	return 0;
}

/* Build the allowed-IPs table of @p itf from @p spec. */
static struct mg_wg_aip *
aip_build(struct mg_wgif *itf, const struct mg_wg_spec *spec, struct mg_error *err)
{
	struct mg_wg_aip_builder *b = mg_wg_aip_builder_create();
	struct mg_wg_aip *t = NULL;

	if (b == NULL) {
		mg_error_set(err, ENOMEM, "", "out of memory");
		return NULL;
	}
	for (unsigned int i = 0; i < spec->npeers; i++)
		for (unsigned int k = 0; k < spec->peers[i].nallowed; k++)
			if (mg_wg_aip_builder_add(b, &spec->peers[i].allowed[k], itf->peers[i].p,
						  err) < 0) {
				mg_error_prefix_field(err, "peers[%u].allowed_ips[%u]", i, k);
				goto out;
			}
	t = mg_wg_aip_build(b, err);
out:
	mg_wg_aip_builder_destroy(b);
	return t;
}

/* Drop every packet held for @p wp. */
static void
unstage_drop(struct mg_wgif *itf, struct mg_wgif_peer *wp)
{
	for (uint16_t i = 0; i < wp->nstaged; i++)
		rte_pktmbuf_free(wp->staged[i]);
	itf->staged_dropped += wp->nstaged;
	wp->nstaged = 0;
}

static void
ring_drain_free(struct rte_ring *r)
{
	struct rte_mbuf *m;

	if (r == NULL)
		return;
	while (rte_ring_dequeue(r, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	rte_ring_free(r);
}

static void
itf_free(struct mg_wgif *itf)
{
	if (itf == NULL)
		return;
	for (unsigned int i = 0; i < itf->npeers; i++)
		unstage_drop(itf, &itf->peers[i]);
	ring_drain_free(itf->stage);
	mg_wg_aip_free(itf->aip);
	mg_wg_iface_destroy(itf->wg);
	if (itf->hs != NULL) {
		struct rte_mbuf *m;

		while (rte_ring_dequeue(itf->hs, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(itf->hs);
	}
	rte_free(itf->peers);
	rte_free(itf);
}

int
mg_wgif_create(struct mg_dp *dp, const struct mg_iface *ifc, struct mg_error *err)
{
	const struct mg_wg_spec *spec = ifc->wg;
	struct mg_wg_iface_conf conf;
	struct mg_wgif_dp *w;
	struct mg_wgif *itf;
	char rname[RTE_RING_NAMESIZE];
	uint64_t now = mg_now_ns();
	unsigned int slot;
	int rc;

	if (spec == NULL || ifc->id >= MG_MAX_IFACES)
		return mg_error_set(err, EINVAL, "", "not a WireGuard interface");
	rc = dp_init(dp, err);
	if (rc < 0)
		return rc;
	w = wdp(dp);
	for (slot = 0; slot < MG_WGIF_MAX && w->list[slot] != NULL; slot++)
		;
	if (slot == MG_WGIF_MAX)
		return mg_error_set(err, ENOSPC, "name",
				    "the WireGuard interface table is full (at most %u)",
				    MG_WGIF_MAX);
	itf = rte_zmalloc("mg_wgif", sizeof(*itf), RTE_CACHE_LINE_SIZE);
	if (itf == NULL)
		return mg_error_set(err, ENOMEM, "", "out of memory");
	itf->ifindex = ifc->id;
	itf->net = ifc->network;
	itf->underlay = ifc->underlay;
	itf->port = spec->listen_port;
	mg_strlcpy(itf->name, ifc->name, sizeof(itf->name));
	snprintf(rname, sizeof(rname), "wghs-%u", ifc->id);
	itf->hs = rte_ring_create(rname, MG_WGIF_HS_RING, (int)rte_socket_id(), RING_F_SC_DEQ);
	snprintf(rname, sizeof(rname), "wgst-%u", ifc->id);
	itf->stage = rte_ring_create(rname, MG_WGIF_STAGE_RING, (int)rte_socket_id(), RING_F_SC_DEQ);
	if (itf->hs == NULL || itf->stage == NULL) {
		rc = mg_error_set(err, ENOMEM, "", "cannot create the handshake ring");
		goto fail;
	}
	memset(&conf, 0, sizeof(conf));
	conf.name = ifc->name;
	conf.private_key = spec->private_key;
	conf.defer_free = defer_free;
	conf.defer_ctx = dp;
	conf.mtu = ifc->mtu;
	itf->wg = mg_wg_iface_create(&conf, err);
	if (itf->wg == NULL) {
		rc = -err->code;
		goto fail;
	}
	if (spec->npeers > 0) {
		itf->peers = rte_zmalloc("mg_wgif_peers", spec->npeers * sizeof(*itf->peers),
					 RTE_CACHE_LINE_SIZE);
		if (itf->peers == NULL) {
			rc = mg_error_set(err, ENOMEM, "", "out of memory");
			goto fail;
		}
	}
	for (unsigned int i = 0; i < spec->npeers; i++) {
		const struct mg_wg_peer_spec *ps = &spec->peers[i];
		struct mg_wgif_peer *wp = &itf->peers[i];
		struct mg_wg_peer_conf pc;

		wp->itf = itf;
		if (ps->endpoint.family != 0) {
			wp->ep.family = ps->endpoint.family;
			wp->ep.dport = ps->endpoint_port;
			memcpy(wp->ep.dst, ps->endpoint.family == AF_INET ? (const void *)&ps->endpoint.v4
									  : (const void *)ps->endpoint.v6,
			       ps->endpoint.family == AF_INET ? 4 : 16);
		}
		memset(&pc, 0, sizeof(pc));
		memcpy(pc.public_key, ps->public_key, MG_WG_KEY_LEN);
		pc.preshared_key = ps->has_psk ? ps->preshared_key : NULL;
		pc.persistent_keepalive = ps->persistent_keepalive;
		pc.user = wp;
		wp->p = mg_wg_peer_add(itf->wg, &pc, now, err);
		if (wp->p == NULL) {
			mg_error_prefix_field(err, "peers[%u]", i);
			rc = -err->code;
			goto fail;
		}
		itf->npeers++;
	}
	itf->aip = aip_build(itf, spec, err);
	if (itf->aip == NULL) {
		rc = -err->code;
		goto fail;
	}
	/* Publish: the interface record first, then the port that leads to it. */
	__atomic_store_n(&w->by_if[itf->ifindex], itf, __ATOMIC_RELEASE);
	__atomic_store_n(&w->list[slot], itf, __ATOMIC_RELEASE);
	__atomic_fetch_or(&dp->wg_ports[itf->port >> 6], 1ull << (itf->port & 63),
			  __ATOMIC_RELEASE);
	itf->next_tick = now;
	WGIF_LOG(INFO, "%s up: UDP port %u, %u peer(s)\n", itf->name, itf->port, itf->npeers);
	return 0;
fail:
	itf_free(itf);
	return rc;
}

static struct mg_wgif *
find(const struct mg_dp *dp, uint16_t ifindex, unsigned int *slot)
{
	struct mg_wgif_dp *w = wdp(dp);

	if (w == NULL || ifindex >= MG_MAX_IFACES)
		return NULL;
	for (unsigned int i = 0; i < MG_WGIF_MAX; i++)
		if (w->list[i] != NULL && w->list[i]->ifindex == ifindex) {
			if (slot != NULL)
				*slot = i;
			return w->list[i];
		}
	return NULL;
}

void
mg_wgif_destroy(struct mg_dp *dp, uint16_t ifindex)
{
	struct mg_wgif_dp *w = wdp(dp);
	unsigned int slot;
	struct mg_wgif *itf = find(dp, ifindex, &slot);

	if (itf == NULL)
		return;
	__atomic_fetch_and(&dp->wg_ports[itf->port >> 6], ~(1ull << (itf->port & 63)),
			   __ATOMIC_RELEASE);
	__atomic_store_n(&w->list[slot], NULL, __ATOMIC_RELEASE);
	__atomic_store_n(&w->by_if[ifindex], NULL, __ATOMIC_RELEASE);
	/* Workers may hold the interface, its peers and tables until their walk ends. */
	mg_dp_sync(dp);
	WGIF_LOG(INFO, "%s down\n", itf->name);
	itf_free(itf);
}

void
mg_wgif_fini(struct mg_dp *dp)
{
	struct mg_wgif_dp *w = wdp(dp);

	if (w == NULL)
		return;
	for (unsigned int i = 0; i < MG_WGIF_MAX; i++)
		if (w->list[i] != NULL)
			mg_wgif_destroy(dp, w->list[i]->ifindex);
	for (unsigned int i = 0; i <= w->nworkers; i++)
		mg_wg_worker_destroy(w->wk[i]);
	dp->wg = NULL;
	rte_free(w);
}

/* ---- sending from the main lcore ---------------------------------------------------------- */

/* Fill in our source address for @p ep from the underlay's route to the peer. */
static bool
ep_resolve_src(struct mg_dp *dp, const struct mg_wgif *itf, struct mg_wgif_ep *ep)
{
	struct mg_ip dst = {.family = ep->family};
	const struct mg_dp_iface *ifc;
	const struct mg_adj *a;
	uint32_t adj;

	if (ep->family == AF_INET)
		memcpy(&dst.v4, ep->dst, 4);
	else
		memcpy(dst.v6, ep->dst, 16);
	adj = mg_dp_route_lookup(dp, itf->underlay, &dst);
	a = &dp->adj[adj];
	if (a->type == MG_ADJ_LOCAL) {
		/* A peer on the gateway itself (another of its interfaces): from that address. */
		memcpy(ep->src, ep->dst, ep->family == AF_INET ? 4 : 16);
		ep->src_set = true;
		return true;
	}
	if (a->type != MG_ADJ_NEIGHBOR && a->type != MG_ADJ_GLEAN)
		return false;
	ifc = mg_dp_iface(dp, a->ifindex);
	if (ifc == NULL)
		return false;
	if (ep->family == AF_INET) {
		if (ifc->ip4 == 0)
			return false;
		memcpy(ep->src, &ifc->ip4, 4);
	} else {
		memcpy(ep->src, ifc->ip6, 16);
	}
	ep->src_set = true;
	return true;
}

/* The peer's endpoint with our source resolved; false if it is not known. */
static bool
peer_ep(struct mg_dp *dp, struct mg_wgif_peer *wp, struct mg_wgif_ep *ep)
{
	mg_wgif_ep_read(wp, ep);
	if (ep->family == 0)
		return false;
	if (!ep->src_set) {
		if (!ep_resolve_src(dp, wp->itf, ep))
			return false;
		mg_wgif_ep_write(wp, ep);
	}
	return true;
}

/* Send @p m (a WireGuard message) to @p ep through a worker. Consumes @p m. */
static int
send_mbuf(struct mg_dp *dp, struct mg_wgif *itf, struct rte_mbuf *m, const struct mg_wgif_ep *ep)
{
	static uint16_t ip_id;
	struct mg_meta *md;

	if (mg_wgif_push_outer(m, ep, itf->port, ip_id++) < 0) {
		rte_pktmbuf_free(m);
		itf->send_failed++;
		return -ENOSPC;
	}
	md = mg_meta(m);
	memset(md, 0, sizeof(*md));
	md->rx_if = MG_IF_NONE;
	md->net = itf->underlay;
	md->flags = MG_META_LOCAL;
	md->punt = ep->family == AF_INET ? MG_INJECT_IP4 : MG_INJECT_IP6;
	return mg_dp_inject(dp, m);
}

static int
send_bytes(struct mg_dp *dp, struct mg_wgif *itf, const void *msg, size_t len,
	   const struct mg_wgif_ep *ep)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mg_dp_pool(dp, (int)rte_socket_id()));
	void *p;

	if (m == NULL || (p = rte_pktmbuf_append(m, (uint16_t)len)) == NULL) {
		rte_pktmbuf_free(m);
		itf->send_failed++;
		return -ENOBUFS;
	}
	memcpy(p, msg, len);
	itf->sent_handshakes++;
	return send_mbuf(dp, itf, m, ep);
}

static void
send_keepalive(struct mg_dp *dp, struct mg_wgif *itf, struct mg_wgif_peer *wp, uint64_t now)
{
	struct mg_wgif_dp *w = wdp(dp);
	struct rte_mbuf *m;
	struct mg_wgif_ep ep;

	if (!peer_ep(dp, wp, &ep))
		return;
	m = rte_pktmbuf_alloc(mg_dp_pool(dp, (int)rte_socket_id()));
	if (m == NULL) {
		itf->send_failed++;
		return;
	}
	if (mg_wg_keepalive(w->wk[w->nworkers], wp->p, m, now) < 0) {
		rte_pktmbuf_free(m);
		return;
	}
	send_mbuf(dp, itf, m, &ep);
}

static void
send_initiation(struct mg_dp *dp, struct mg_wgif *itf, struct mg_wgif_peer *wp, uint64_t now)
{
	uint8_t msg[MG_WG_INITIATION_LEN];
	struct mg_wgif_ep ep;

	if (!peer_ep(dp, wp, &ep))
		return; /* No endpoint yet: only the peer can start. */
	if (mg_wg_initiation_create(itf->wg, wp->p, now, msg) == 0)
		send_bytes(dp, itf, msg, sizeof(msg), &ep);
	mg_wipe(msg, sizeof(msg));
}

/* ---- handshake ring and timers -------------------------------------------------------------- */

struct tick_ctx {
	struct mg_dp *dp;
	struct mg_wgif *itf;
	uint64_t now;
};

static void
tick_cb(void *arg, struct mg_wg_peer *peer, uint32_t actions)
{
	struct tick_ctx *t = arg;
	struct mg_wgif_peer *wp = mg_wg_peer_user(peer);

	if (actions & MG_WG_ACT_SEND_INITIATION)
		send_initiation(t->dp, t->itf, wp, t->now);
	if (actions & MG_WG_ACT_SEND_KEEPALIVE)
		send_keepalive(t->dp, t->itf, wp, t->now);
	if (actions & MG_WG_ACT_GIVE_UP)
		unstage_drop(t->itf, wp);
}

/* Take packets the workers held back for want of a session: queue them per peer. */
static void
stage_take(struct mg_wgif *itf)
{
	const struct mg_wg_aip *aip = itf->aip;
	struct rte_mbuf *pkts[64];
	unsigned int n;

	while ((n = rte_ring_sc_dequeue_burst(itf->stage, (void **)pkts, RTE_DIM(pkts), NULL)) > 0) {
		for (unsigned int i = 0; i < n; i++) {
			const uint8_t *p = rte_pktmbuf_mtod(pkts[i], const uint8_t *);
			struct mg_wg_peer *peer;
			struct mg_wgif_peer *wp;
			uint32_t a;

			if ((p[0] >> 4) == 4) {
				memcpy(&a, p + 16, 4);
				peer = mg_wg_aip_lookup4(aip, a);
			} else {
				peer = mg_wg_aip_lookup6(aip, p + 24);
			}
			wp = peer != NULL ? mg_wg_peer_user(peer) : NULL;
			if (wp == NULL || wp->nstaged == MG_WGIF_STAGE_PEER) {
				rte_pktmbuf_free(pkts[i]);
				itf->staged_dropped++;
				continue;
			}
			wp->staged[wp->nstaged++] = pkts[i];
		}
	}
}

/* Send held packets of peers that have a session now: they are routed again into the tunnel. */
static void
stage_flush(struct mg_dp *dp, struct mg_wgif *itf, uint64_t now)
{
	for (unsigned int i = 0; i < itf->npeers; i++) {
		struct mg_wgif_peer *wp = &itf->peers[i];

		if (wp->nstaged == 0 || mg_wg_peer_tx_keypair(wp->p, now) == NULL)
			continue;
		for (uint16_t k = 0; k < wp->nstaged; k++) {
			struct rte_mbuf *m = wp->staged[k];
			struct mg_meta *md = mg_meta(m);
			const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);

			/* The TTL was decremented on the way in: no second time. */
			md->net = itf->net;
			md->flags |= MG_META_LOCAL;
			md->punt = (p[0] >> 4) == 4 ? MG_INJECT_IP4 : MG_INJECT_IP6;
			if (mg_dp_inject(dp, m) == 0)
				itf->staged_sent++;
			else
				itf->staged_dropped++;
		}
		wp->nstaged = 0;
	}
}

/* One handshake message from the ring. Consumes @p m. */
static void
handshake_one(struct mg_dp *dp, struct mg_wgif *itf, struct rte_mbuf *m, uint64_t now)
{
	uint8_t reply[MG_WG_REPLY_MAX];
	const uint8_t *l3 = rte_pktmbuf_mtod(m, const uint8_t *);
	struct mg_wg_peer *peer = NULL;
	struct mg_wgif_ep ep;
	struct mg_wg_src src;
	enum mg_wg_hs_result res;
	size_t rlen = 0;
	uint32_t hl;

	if (!mg_wgif_ep_from_outer(l3, &ep, &hl) || hl > m->data_len) {
		rte_pktmbuf_free(m);
		return;
	}
	memset(&src, 0, sizeof(src));
	src.ip.family = ep.family;
	if (ep.family == AF_INET)
		memcpy(&src.ip.v4, ep.dst, 4);
	else
		memcpy(src.ip.v6, ep.dst, 16);
	src.port = ep.dport;
	res = mg_wg_handshake_receive(itf->wg, l3 + hl, m->data_len - hl, &src, now, reply, &rlen,
				      &peer);
	rte_pktmbuf_free(m);
	if (rlen > 0)
		send_bytes(dp, itf, reply, rlen, &ep);
	mg_wipe(reply, sizeof(reply));
	if (peer != NULL && (res == MG_WG_HS_RESPONSE || res == MG_WG_HS_SESSION)) {
		struct mg_wgif_peer *wp = mg_wg_peer_user(peer);
		struct mg_wgif_ep cur;

		/* Roaming: the endpoint follows the last authenticated message. */
		mg_wgif_ep_read(wp, &cur);
		if (!mg_wgif_ep_equal(&cur, &ep))
			mg_wgif_ep_write(wp, &ep);
		if (res == MG_WG_HS_SESSION)
			send_keepalive(dp, itf, wp, now);
	}
}

static void tel_refresh(struct mg_dp *dp);

unsigned int
mg_wgif_poll(struct mg_dp *dp, uint64_t now)
{
	struct mg_wgif_dp *w = wdp(dp);
	struct rte_mbuf *pkts[32];
	unsigned int done = 0;

	if (w == NULL)
		return 0;
	for (unsigned int i = 0; i < MG_WGIF_MAX; i++) {
		struct mg_wgif *itf = w->list[i];
		unsigned int n;

		if (itf == NULL)
			continue;
		/* Under load (ring 1/8 full): cookies and per-source rate limits. */
		mg_wg_iface_set_under_load(itf->wg, rte_ring_count(itf->hs) > MG_WGIF_HS_RING / 8);
		n = rte_ring_sc_dequeue_burst(itf->hs, (void **)pkts, RTE_DIM(pkts), NULL);
		for (unsigned int k = 0; k < n; k++)
			handshake_one(dp, itf, pkts[k], now);
		done += n;
		if (rte_ring_count(itf->stage) != 0) {
			stage_take(itf);
			/* A handshake is wanted now, not at the next tick. */
			itf->next_tick = now;
			done++;
		}
		/* Workers' requests (want handshake, confirmations) are folded in by the tick. */
		if (n > 0 || now >= itf->next_tick || now + 100000000ull < itf->next_tick) {
			struct tick_ctx t = {.dp = dp, .itf = itf, .now = now};
			uint64_t next = mg_wg_iface_tick(itf->wg, now, tick_cb, &t);

			/* At least every 100 ms: workers raise flags the tick must see. */
			itf->next_tick = RTE_MIN(next, now + 100000000ull);
		}
		stage_flush(dp, itf, now);
	}
	if (now >= tel_next) {
		tel_refresh(dp);
		tel_next = now + 1000000000ull;
	}
	return done;
}

uint64_t
mg_wgif_next_timer(const struct mg_dp *dp)
{
	struct mg_wgif_dp *w = wdp(dp);
	uint64_t t = UINT64_MAX;

	if (w == NULL)
		return t;
	for (unsigned int i = 0; i < MG_WGIF_MAX; i++)
		if (w->list[i] != NULL && w->list[i]->next_tick < t)
			t = w->list[i]->next_tick;
	return t;
}

bool
mg_wgif_pending(const struct mg_dp *dp)
{
	struct mg_wgif_dp *w = wdp(dp);

	if (w == NULL)
		return false;
	for (unsigned int i = 0; i < MG_WGIF_MAX; i++)
		if (w->list[i] != NULL &&
		    (rte_ring_count(w->list[i]->hs) != 0 || rte_ring_count(w->list[i]->stage) != 0))
			return true;
	return false;
}

/* ---- show ---------------------------------------------------------------------------------- */

int
mg_wgif_info(struct mg_dp *dp, uint16_t ifindex, const struct mg_wg_spec *spec,
	     struct mg_wgif_info *info, void (*cb)(void *arg, const struct mg_wgif_peer_info *p),
	     void *arg)
{
	struct mg_wgif *itf = find(dp, ifindex, NULL);
	struct mg_wgif_dp *w = wdp(dp);
	uint64_t now = mg_now_ns();

	if (itf == NULL)
		return -ENOENT;
	memset(info, 0, sizeof(*info));
	mg_strlcpy(info->name, itf->name, sizeof(info->name));
	mg_wg_iface_public_key(itf->wg, info->public_key);
	info->listen_port = itf->port;
	info->npeers = itf->npeers;
	info->sent_handshakes = itf->sent_handshakes;
	mg_wg_iface_stats(itf->wg, &info->hs);
	/* Data path counters are per gateway, not per interface: sum of every lcore. */
	for (unsigned int l = 0; l <= w->nworkers; l++) {
		const struct mg_wgif_lstats *s = &w->st[l];

		for (unsigned int k = 0; k < MG_WG_RX_STATUS_MAX; k++)
			info->st.rx[k] += s->rx[k];
		for (unsigned int k = 0; k < MG_WG_TX_STATUS_MAX; k++)
			info->st.tx[k] += s->tx[k];
		info->st.hs_queued += s->hs_queued;
		info->st.hs_queue_full += s->hs_queue_full;
		info->st.roamed += s->roamed;
		info->st.staged += s->staged;
	}
	info->staged_sent = itf->staged_sent;
	info->staged_dropped = itf->staged_dropped;
	for (unsigned int i = 0; cb != NULL && i < itf->npeers; i++) {
		struct mg_wgif_peer_info pi;

		memset(&pi, 0, sizeof(pi));
		mg_wg_peer_info(itf->peers[i].p, &pi.wg, now);
		mg_wgif_ep_read(&itf->peers[i], &pi.ep);
		if (spec != NULL && i < spec->npeers) {
			pi.nallowed = spec->peers[i].nallowed;
			memcpy(pi.allowed, spec->peers[i].allowed,
			       pi.nallowed * sizeof(pi.allowed[0]));
		}
		cb(arg, &pi);
	}
	return 0;
}

static void
tel_refresh(struct mg_dp *dp)
{
	struct mg_wgif_dp *w = wdp(dp);
	static struct tel_iface snap[MG_WGIF_MAX];
	unsigned int n = 0;
	uint64_t now = mg_now_ns();

	for (unsigned int i = 0; i < MG_WGIF_MAX; i++) {
		struct mg_wgif *itf = w->list[i];
		struct mg_wg_iface_stats hs;
		struct tel_iface *t = &snap[n];

		if (itf == NULL)
			continue;
		memset(t, 0, sizeof(*t));
		mg_strlcpy(t->name, itf->name, sizeof(t->name));
		t->port = itf->port;
		t->npeers = itf->npeers;
		mg_wg_iface_stats(itf->wg, &hs);
		t->sessions = hs.sessions;
		t->initiations = hs.initiations_sent;
		for (unsigned int r = MG_WG_HS_ERR_SIZE; r < MG_WG_HS_RESULT_MAX; r++)
			t->hs_errors += hs.hs[r];
		for (unsigned int k = 0; k < RTE_MIN(itf->npeers, (uint16_t)TEL_PEERS); k++) {
			struct mg_wg_peer_info pi;

			mg_wg_peer_info(itf->peers[k].p, &pi, now);
			mg_wg_key_to_base64(t->peers[k].key, pi.public_key);
			t->peers[k].rx_bytes = pi.rx_bytes;
			t->peers[k].tx_bytes = pi.tx_bytes;
			t->peers[k].latest_handshake = pi.last_handshake_wall_ns / 1000000000ull;
		}
		n++;
	}
	pthread_mutex_lock(&tel_lock);
	memcpy(tel_snap, snap, n * sizeof(snap[0]));
	tel_n = n;
	pthread_mutex_unlock(&tel_lock);
}
