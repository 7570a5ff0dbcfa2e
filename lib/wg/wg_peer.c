/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Interfaces and peers on the main lcore: creation, keys, the handshake
 * entry point, and the poll that folds the workers' activity into each
 * peer's timers.
 *
 * Workers report activity through atomics in the peer (timestamps of the
 * last packet of each kind, byte counters, flags). mg_wg_peer_poll turns
 * the timestamps that moved since the last poll into timer events, in time
 * order, so a timer deadline is exact to the poll interval (100 ms).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_byteorder.h>
#include <rte_log.h>
#include <sodium.h>

#include "wg_blake2s.h"
#include "wg_crypto.h"
#include "wg_priv.h"

RTE_LOG_REGISTER_SUFFIX(mg_wg_logtype, wg, INFO);

/* Main lcore's activity poll interval while sessions exist. */
#define WG_POLL_NS (100 * WG_NS_PER_MS)

static const char *const rx_names[] = {
#define MG_WG_X(n, name, d) name,
	MG_WG_RX_STATUS_LIST(MG_WG_X)
#undef MG_WG_X
};
static const char *const rx_descs[] = {
#define MG_WG_X(n, name, d) d,
	MG_WG_RX_STATUS_LIST(MG_WG_X)
#undef MG_WG_X
};
static const char *const tx_names[] = {
#define MG_WG_X(n, name, d) name,
	MG_WG_TX_STATUS_LIST(MG_WG_X)
#undef MG_WG_X
};
static const char *const tx_descs[] = {
#define MG_WG_X(n, name, d) d,
	MG_WG_TX_STATUS_LIST(MG_WG_X)
#undef MG_WG_X
};
static const char *const hs_names[] = {
#define MG_WG_X(n, name, d) name,
	MG_WG_HS_RESULT_LIST(MG_WG_X)
#undef MG_WG_X
};
static const char *const hs_descs[] = {
#define MG_WG_X(n, name, d) d,
	MG_WG_HS_RESULT_LIST(MG_WG_X)
#undef MG_WG_X
};

/* Entry @p i of a name table of @p n entries, or "unknown". */
static const char *
table_entry(const char *const *t, unsigned int n, unsigned int i)
{
	return i < n ? t[i] : "unknown";
}

const char *
mg_wg_rx_status_name(unsigned int status)
{
	return table_entry(rx_names, MG_WG_RX_STATUS_MAX, status);
}

const char *
mg_wg_rx_status_desc(unsigned int status)
{
	return table_entry(rx_descs, MG_WG_RX_STATUS_MAX, status);
}

const char *
mg_wg_tx_status_name(unsigned int status)
{
	return table_entry(tx_names, MG_WG_TX_STATUS_MAX, status);
}

const char *
mg_wg_tx_status_desc(unsigned int status)
{
	return table_entry(tx_descs, MG_WG_TX_STATUS_MAX, status);
}

const char *
mg_wg_hs_result_name(unsigned int result)
{
	return table_entry(hs_names, MG_WG_HS_RESULT_MAX, result);
}

const char *
mg_wg_hs_result_desc(unsigned int result)
{
	return table_entry(hs_descs, MG_WG_HS_RESULT_MAX, result);
}

/* At most WG_LOG_PER_S handshake-path log lines per second per interface. */
#define WG_LOG_PER_S 10

static bool
wg_log_allowed(struct mg_wg_iface *wg, uint64_t now)
{
	if (wg_expired(wg->log_window, WG_NS_PER_S, now)) {
		wg->log_window = now;
		wg->log_count = 0;
	}
	return wg->log_count++ < WG_LOG_PER_S;
}

/* CLOCK_REALTIME in ns: the default wall clock. */
static uint64_t
wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * WG_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Set our static identity (or clear it with NULL). */
static int
set_identity(struct mg_wg_iface *wg, const uint8_t *key, struct mg_error *err)
{
	uint8_t pub[WG_KEY_LEN];
	uint32_t slot;

	if (key == NULL) {
		mg_wipe(wg->static_private, sizeof(wg->static_private));
		memset(wg->static_public, 0, sizeof(wg->static_public));
		wg->has_identity = false;
		wg_cookie_checker_init(&wg->checker, NULL);
		return 0;
	}
	if (wg_x25519_public(pub, key) < 0)
		return mg_error_set(err, EIO, "private_key", "cannot derive the public key");
	if (wg->by_key != NULL && mg_hmap_get(wg->by_key, pub, &slot))
		return mg_error_set(err, EEXIST, "private_key",
				    "its public key is that of a configured peer");
	memcpy(wg->static_private, key, WG_KEY_LEN);
	memcpy(wg->static_public, pub, WG_KEY_LEN);
	wg->has_identity = true;
	wg_hash2(wg->responder_hash, wg_initial_hash, WG_HASH_LEN, pub, WG_KEY_LEN);
	wg_cookie_checker_init(&wg->checker, pub);
	return 0;
}

struct mg_wg_iface *
mg_wg_iface_create(const struct mg_wg_iface_conf *conf, struct mg_error *err)
{
	struct mg_wg_iface *wg;

	if (sodium_init() < 0) {
		mg_error_set(err, EIO, "", "libsodium failed to initialise");
		return NULL;
	}
	wg_noise_init_constants();
	wg = calloc(1, sizeof(*wg));
	if (wg == NULL) {
		mg_error_set(err, ENOMEM, "", "out of memory");
		return NULL;
	}
	TAILQ_INIT(&wg->peers);
	wg->owner = pthread_self();
	mg_strlcpy(wg->name, conf->name != NULL ? conf->name : "wg", sizeof(wg->name));
	wg->defer_free = conf->defer_free;
	wg->defer_ctx = conf->defer_ctx;
	wg->wall_ns = conf->wall_ns != NULL ? conf->wall_ns : wall_now;
	wg->seed = conf->seed;
	wg->mtu = conf->mtu;
	if (wg->seed == 0 && wg_random(&wg->seed, sizeof(wg->seed)) < 0)
		wg->seed = 1;
	wg_cookie_checker_init(&wg->checker, NULL);
	if (wg_index_init(&wg->index, conf->index_slots) < 0) {
		mg_error_set(err, EINVAL, "index_slots", "must be a power of two of at least 16");
		goto fail;
	}
	if (wg_ratelimiter_init(&wg->rl, conf->ratelimit_entries) < 0) {
		mg_error_set(err, ENOMEM, "", "out of memory");
		goto fail;
	}
	wg->by_key = mg_hmap_create(WG_KEY_LEN, 16);
	if (wg->by_key == NULL) {
		mg_error_set(err, ENOMEM, "", "out of memory");
		goto fail;
	}
	if (conf->private_key != NULL && set_identity(wg, conf->private_key, err) < 0)
		goto fail;
	return wg;
fail:
	mg_wg_iface_destroy(wg);
	return NULL;
}

/* Free a removed peer once no worker can reach it: wipe its secrets first. */
static void
peer_free(void *obj)
{
	struct mg_wg_peer *p = obj;

	mg_wipe(p, sizeof(*p));
	free(p);
}

/* Unlink a peer and hand its sessions and itself to @p retire. */
static void
peer_unlink(struct mg_wg_iface *wg, struct mg_wg_peer *p)
{
	TAILQ_REMOVE(&wg->peers, p, link);
	mg_hmap_del(wg->by_key, p->remote_static);
	wg->peer_slots[p->slot] = NULL;
	wg_noise_handshake_clear(wg, p);
	wg_noise_keypairs_clear(wg, p);
}

void
mg_wg_iface_destroy(struct mg_wg_iface *wg)
{
	struct mg_wg_peer *p;

	if (wg == NULL)
		return;
	/* Nobody reads the interface any more: free everything at once. */
	wg->defer_free = NULL;
	while ((p = TAILQ_FIRST(&wg->peers)) != NULL) {
		peer_unlink(wg, p);
		peer_free(p);
	}
	mg_hmap_destroy(wg->by_key);
	free(wg->peer_slots);
	wg_ratelimiter_fini(&wg->rl);
	wg_index_fini(&wg->index);
	mg_wipe(wg, sizeof(*wg));
	free(wg);
}

int
mg_wg_iface_set_private_key(struct mg_wg_iface *wg, const uint8_t *key, struct mg_error *err)
{
	struct mg_wg_peer *p;
	int rc;

	WG_ASSERT_OWNER(wg);
	rc = set_identity(wg, key, err);
	if (rc < 0)
		return rc;
	TAILQ_FOREACH(p, &wg->peers, link) {
		struct mg_wg_keypair *kp;

		/* As the Linux module does: old sessions may still receive, not send. */
		wg_noise_handshake_clear(wg, p);
		wg_noise_precompute_ss(wg, p);
		p->timers.last_initiation = MG_WG_NEVER;
		kp = atomic_load(&p->kp_current);
		if (kp != NULL)
			atomic_store(&kp->send_revoked, true);
		kp = atomic_load(&p->kp_next);
		if (kp != NULL)
			atomic_store(&kp->send_revoked, true);
	}
	return 0;
}

bool
mg_wg_iface_public_key(const struct mg_wg_iface *wg, uint8_t pub[MG_WG_KEY_LEN])
{
	if (!wg->has_identity)
		return false;
	memcpy(pub, wg->static_public, WG_KEY_LEN);
	return true;
}

void
mg_wg_iface_set_under_load(struct mg_wg_iface *wg, bool under_load)
{
	WG_ASSERT_OWNER(wg);
	wg->under_load = under_load;
}

void
mg_wg_iface_stats(const struct mg_wg_iface *wg, struct mg_wg_iface_stats *st)
{
	*st = wg->stats;
}

struct mg_wg_peer *
mg_wg_peer_add(struct mg_wg_iface *wg, const struct mg_wg_peer_conf *conf, uint64_t now_ns,
	       struct mg_error *err)
{
	struct mg_wg_peer *p;
	uint32_t slot;

	WG_ASSERT_OWNER(wg);
	if (mg_hmap_get(wg->by_key, conf->public_key, &slot)) {
		mg_error_set(err, EEXIST, "public_key", "a peer with this public key exists");
		return NULL;
	}
	if (wg->has_identity && memcmp(conf->public_key, wg->static_public, WG_KEY_LEN) == 0) {
		mg_error_set(err, EEXIST, "public_key", "is the interface's own public key");
		return NULL;
	}
	for (slot = 0; slot < wg->nslots; slot++)
		if (wg->peer_slots[slot] == NULL)
			break;
	if (slot == wg->nslots) {
		uint32_t n = wg->nslots ? wg->nslots * 2 : 16;
		struct mg_wg_peer **s = realloc(wg->peer_slots, n * sizeof(*s));

		if (s == NULL)
			goto nomem;
		memset(s + wg->nslots, 0, (n - wg->nslots) * sizeof(*s));
		wg->peer_slots = s;
		wg->nslots = n;
	}
	if (posix_memalign((void **)&p, 64, sizeof(*p)) != 0)
		goto nomem;
	memset(p, 0, sizeof(*p));
	if (mg_hmap_put(wg->by_key, conf->public_key, slot) < 0) {
		free(p);
		goto nomem;
	}
	p->wg = wg;
	p->user = conf->user;
	p->slot = slot;
	memcpy(p->remote_static, conf->public_key, WG_KEY_LEN);
	mg_wg_peer_set_psk(p, conf->preshared_key);
	wg_cookie_maker_init(&p->cookie, p->remote_static);
	p->hs.entry.type = WG_INDEX_HANDSHAKE;
	p->hs.entry.peer = p;
	p->hs.last_initiation_consumed = MG_WG_NEVER;
	mg_wg_timers_init(&p->timers, 0, wg->seed++);
	wg_noise_precompute_ss(wg, p);
	wg->peer_slots[slot] = p;
	TAILQ_INSERT_TAIL(&wg->peers, p, link);
	if (conf->persistent_keepalive != 0)
		mg_wg_timers_set_persistent_keepalive(&p->timers, conf->persistent_keepalive,
						      now_ns);
	return p;
nomem:
	mg_error_set(err, ENOMEM, "", "out of memory");
	return NULL;
}

void
mg_wg_peer_remove(struct mg_wg_iface *wg, struct mg_wg_peer *peer)
{
	WG_ASSERT_OWNER(wg);
	if (peer == NULL)
		return;
	peer_unlink(wg, peer);
	/* Workers may still hold it through a keypair or an allowed-IPs table. */
	wg_defer(wg, peer_free, peer);
}

struct mg_wg_peer *
mg_wg_peer_lookup(struct mg_wg_iface *wg, const uint8_t pub[MG_WG_KEY_LEN])
{
	uint32_t slot;

	return mg_hmap_get(wg->by_key, pub, &slot) ? wg->peer_slots[slot] : NULL;
}

void
mg_wg_peer_set_psk(struct mg_wg_peer *peer, const uint8_t *psk)
{
	if (psk != NULL) {
		memcpy(peer->psk, psk, WG_KEY_LEN);
		peer->has_psk = true;
	} else {
		mg_wipe(peer->psk, sizeof(peer->psk));
		peer->has_psk = false;
	}
}

void
mg_wg_peer_set_persistent_keepalive(struct mg_wg_peer *peer, uint16_t seconds, uint64_t now_ns)
{
	bool was_off = peer->timers.persistent_keepalive == 0;

	if (seconds != 0 && was_off)
		mg_wg_timers_set_persistent_keepalive(&peer->timers, seconds, now_ns);
	else {
		peer->timers.persistent_keepalive = seconds;
		if (seconds == 0)
			peer->timers.persistent_at = MG_WG_NEVER;
	}
}

void *
mg_wg_peer_user(const struct mg_wg_peer *peer)
{
	return peer->user;
}

void
mg_wg_peer_info(const struct mg_wg_peer *peer, struct mg_wg_peer_info *info, uint64_t now_ns)
{
	memset(info, 0, sizeof(*info));
	memcpy(info->public_key, peer->remote_static, WG_KEY_LEN);
	info->has_psk = peer->has_psk;
	info->persistent_keepalive = peer->timers.persistent_keepalive;
	info->last_handshake_wall_ns = peer->last_handshake_wall;
	info->rx_bytes = atomic_load_explicit(&peer->rx_bytes, memory_order_relaxed);
	info->tx_bytes = atomic_load_explicit(&peer->tx_bytes, memory_order_relaxed);
	info->rx_packets = atomic_load_explicit(&peer->rx_packets, memory_order_relaxed);
	info->tx_packets = atomic_load_explicit(&peer->tx_packets, memory_order_relaxed);
	info->handshake_attempts = peer->timers.attempts;
	info->has_session = mg_wg_peer_tx_keypair((struct mg_wg_peer *)peer, now_ns) != NULL;
}

/* Feed the timers one kind of worker activity if it moved since the last fold. */
struct wg_activity {
	uint64_t t;     /* When. */
	int kind;       /* 0 auth received, 1 data received, 2 auth sent, 3 data sent. */
};

/* Fold the workers' flags and timestamps into the peer's timers. */
static void
peer_fold(struct mg_wg_iface *wg, struct mg_wg_peer *p, uint64_t now)
{
	uint32_t flags = atomic_exchange_explicit(&p->flags, 0, memory_order_relaxed);
	struct wg_activity a[4];
	uint64_t *seen[4] = {&p->seen_auth_recv, &p->seen_data_recv, &p->seen_auth_sent,
			     &p->seen_data_sent};
	_Atomic uint64_t *cur[4] = {&p->t_auth_recv, &p->t_data_recv, &p->t_auth_sent,
				    &p->t_data_sent};
	int n = 0;

	if ((flags & WG_PF_CONFIRMED) && wg_noise_confirm(wg, p)) {
		mg_wg_timers_event(&p->timers, MG_WG_TEV_SESSION_CONFIRMED, now);
		mg_wg_timers_event(&p->timers, MG_WG_TEV_HANDSHAKE_COMPLETE, now);
		p->last_handshake_wall = wg->wall_ns();
	}
	for (int k = 0; k < 4; k++) {
		uint64_t t = atomic_load_explicit(cur[k], memory_order_relaxed);

		if (t == *seen[k])
			continue;
		*seen[k] = t;
		/* Insertion by time; at equal times receptions come first. */
		int i = n++;

		while (i > 0 && a[i - 1].t > t) {
			a[i] = a[i - 1];
			i--;
		}
		a[i] = (struct wg_activity){t, k};
	}
	for (int i = 0; i < n; i++) {
		switch (a[i].kind) {
		case 0:
			mg_wg_timers_event(&p->timers, MG_WG_TEV_AUTH_RECEIVED, a[i].t);
			mg_wg_timers_event(&p->timers, MG_WG_TEV_AUTH_TRAVERSAL, a[i].t);
			mg_wg_timers_event(&p->timers, MG_WG_TEV_TRANSPORT_RECEIVED, a[i].t);
			break;
		case 1:
			mg_wg_timers_event(&p->timers, MG_WG_TEV_DATA_RECEIVED, a[i].t);
			break;
		case 2:
			mg_wg_timers_event(&p->timers, MG_WG_TEV_AUTH_SENT, a[i].t);
			mg_wg_timers_event(&p->timers, MG_WG_TEV_AUTH_TRAVERSAL, a[i].t);
			mg_wg_timers_event(&p->timers, MG_WG_TEV_KEEPALIVE_SENT, a[i].t);
			break;
		default:
			mg_wg_timers_event(&p->timers, MG_WG_TEV_DATA_SENT, a[i].t);
			break;
		}
	}
	if (flags & WG_PF_WANT_HANDSHAKE)
		mg_wg_timers_event(&p->timers, MG_WG_TEV_WANT_HANDSHAKE, now);
}

uint32_t
mg_wg_peer_poll(struct mg_wg_iface *wg, struct mg_wg_peer *peer, uint64_t now_ns)
{
	uint32_t act;

	WG_ASSERT_OWNER(wg);
	peer_fold(wg, peer, now_ns);
	act = mg_wg_timers_expire(&peer->timers, now_ns);
	if (act & MG_WG_ACT_ZERO_KEYS) {
		wg_noise_handshake_clear(wg, peer);
		wg_noise_keypairs_clear(wg, peer);
		mg_wg_timers_event(&peer->timers, MG_WG_TEV_KEYS_ZEROED, now_ns);
		wg->stats.keys_zeroed++;
		act &= ~(uint32_t)MG_WG_ACT_ZERO_KEYS;
	}
	if (act & MG_WG_ACT_GIVE_UP) {
		wg->stats.gave_up++;
		if (wg_log_allowed(wg, now_ns))
			WG_LOG(DEBUG, "%s: handshake given up after %u attempts\n", wg->name,
		       peer->timers.attempts);
	}
	if ((act & MG_WG_ACT_SEND_KEEPALIVE) && mg_wg_peer_tx_keypair(peer, now_ns) == NULL) {
		/* A keepalive without a session is a reason to make one. */
		act &= ~(uint32_t)MG_WG_ACT_SEND_KEEPALIVE;
		mg_wg_timers_event(&peer->timers, MG_WG_TEV_WANT_HANDSHAKE, now_ns);
		act |= mg_wg_timers_expire(&peer->timers, now_ns) & MG_WG_ACT_SEND_INITIATION;
	}
	return act;
}

uint64_t
mg_wg_peer_next_deadline(const struct mg_wg_peer *peer)
{
	return mg_wg_timers_next(&peer->timers);
}

uint64_t
mg_wg_iface_tick(struct mg_wg_iface *wg, uint64_t now_ns,
		 void (*cb)(void *arg, struct mg_wg_peer *peer, uint32_t actions), void *arg)
{
	uint64_t next = MG_WG_NEVER;
	bool active = false;
	struct mg_wg_peer *p, *tmp;

	for (p = TAILQ_FIRST(&wg->peers); p != NULL; p = tmp) {
		uint32_t act = mg_wg_peer_poll(wg, p, now_ns);
		uint64_t d;

		tmp = TAILQ_NEXT(p, link);
		if (act != 0 && cb != NULL)
			cb(arg, p, act);
		d = mg_wg_timers_next(&p->timers);
		if (d < next)
			next = d;
		if (atomic_load_explicit(&p->kp_current, memory_order_relaxed) != NULL ||
		    atomic_load_explicit(&p->kp_next, memory_order_relaxed) != NULL)
			active = true;
	}
	if (active && now_ns + WG_POLL_NS < next)
		next = now_ns + WG_POLL_NS;
	return next;
}

void
mg_wg_iface_peer_walk(struct mg_wg_iface *wg, void (*cb)(void *arg, struct mg_wg_peer *peer),
		      void *arg)
{
	struct mg_wg_peer *p, *tmp;

	for (p = TAILQ_FIRST(&wg->peers); p != NULL; p = tmp) {
		tmp = TAILQ_NEXT(p, link);
		cb(arg, p);
	}
}

int
mg_wg_initiation_create(struct mg_wg_iface *wg, struct mg_wg_peer *peer, uint64_t now_ns,
			uint8_t out[MG_WG_INITIATION_LEN])
{
	struct wg_msg_initiation msg;
	int rc;

	WG_ASSERT_OWNER(wg);
	peer_fold(wg, peer, now_ns);
	rc = wg_noise_initiation_create(wg, peer, &msg, now_ns);
	if (rc < 0) {
		mg_wipe(&msg, sizeof(msg));
		return rc;
	}
	wg_cookie_add_macs(&peer->cookie, &msg, sizeof(msg), now_ns);
	memcpy(out, &msg, sizeof(msg));
	mg_wg_timers_event(&peer->timers, MG_WG_TEV_AUTH_TRAVERSAL, now_ns);
	mg_wg_timers_event(&peer->timers, MG_WG_TEV_AUTH_SENT, now_ns);
	mg_wg_timers_event(&peer->timers, MG_WG_TEV_HANDSHAKE_INITIATED, now_ns);
	atomic_fetch_add_explicit(&peer->tx_bytes, sizeof(msg), memory_order_relaxed);
	wg->stats.initiations_sent++;
	return 0;
}

/* Sender index of a handshake message, for the cookie reply's receiver field. */
static uint32_t
msg_sender_le(const void *msg, int type)
{
	return type == WG_MSG_INITIATION ? ((const struct wg_msg_initiation *)msg)->sender
					 : ((const struct wg_msg_response *)msg)->sender;
}

/* The cookie reply path: a cookie reply names one of our indices. */
static enum mg_wg_hs_result
cookie_receive(struct mg_wg_iface *wg, const struct wg_msg_cookie *msg, uint64_t now,
	       struct mg_wg_peer **peer)
{
	struct wg_index_entry *e = wg_index_lookup(&wg->index, rte_le_to_cpu_32(msg->receiver));
	int rc;

	if (e == NULL)
		return MG_WG_HS_ERR_UNKNOWN_INDEX;
	*peer = e->peer;
	rc = wg_cookie_reply_consume(&e->peer->cookie, msg, now);
	if (rc == -EINVAL)
		return MG_WG_HS_ERR_STATE;
	return rc < 0 ? MG_WG_HS_ERR_COOKIE : MG_WG_HS_COOKIE_STORED;
}

/* Handshake receive, without the counting. */
static enum mg_wg_hs_result
handshake_receive(struct mg_wg_iface *wg, const void *msg, size_t len,
		  const struct mg_wg_src *src, uint64_t now, uint8_t *reply, size_t *reply_len,
		  struct mg_wg_peer **peerp)
{
	int type = mg_wg_msg_type(msg, (uint32_t)len);
	enum mg_wg_hs_result why;
	struct mg_wg_peer *p;

	if (type == WG_MSG_COOKIE)
		return cookie_receive(wg, msg, now, peerp);
	if (type != WG_MSG_INITIATION && type != WG_MSG_RESPONSE)
		return MG_WG_HS_ERR_SIZE;
	if (!wg->has_identity)
		return MG_WG_HS_ERR_NO_KEY;

	switch (wg_cookie_validate(&wg->checker, msg, len, src, wg->under_load, now)) {
	case WG_MAC_INVALID:
		return MG_WG_HS_ERR_MAC1;
	case WG_MAC_VALID_NO_COOKIE:
		if (!wg->under_load)
			break;
		/* Under load, prove the source address first: answer with a cookie. */
		if (wg_cookie_reply_create(&wg->checker, (struct wg_msg_cookie *)reply, msg, len,
					   msg_sender_le(msg, type), src, now) < 0)
			return MG_WG_HS_ERR_INTERNAL;
		*reply_len = sizeof(struct wg_msg_cookie);
		return MG_WG_HS_COOKIE_REPLY;
	case WG_MAC_VALID_COOKIE:
		if (!wg_ratelimiter_allow(&wg->rl, src, now))
			return MG_WG_HS_ERR_RATELIMIT;
		break;
	}

	if (type == WG_MSG_INITIATION) {
		struct wg_msg_response resp;

		p = wg_noise_initiation_consume(wg, msg, now, &why);
		if (p == NULL)
			return why;
		*peerp = p;
		peer_fold(wg, p, now);
		if (wg_noise_response_create(wg, p, &resp) < 0) {
			wg_noise_handshake_clear(wg, p);
			return MG_WG_HS_ERR_INTERNAL;
		}
		wg_cookie_add_macs(&p->cookie, &resp, sizeof(resp), now);
		if (wg_noise_begin_session(wg, p, now) < 0) {
			wg_noise_handshake_clear(wg, p);
			mg_wipe(&resp, sizeof(resp));
			return MG_WG_HS_ERR_INTERNAL;
		}
		memcpy(reply, &resp, sizeof(resp));
		*reply_len = sizeof(resp);
		mg_wg_timers_event(&p->timers, MG_WG_TEV_SESSION_RESPONDER, now);
		mg_wg_timers_event(&p->timers, MG_WG_TEV_AUTH_SENT, now);
		atomic_fetch_add_explicit(&p->tx_bytes, sizeof(resp), memory_order_relaxed);
		why = MG_WG_HS_RESPONSE;
	} else {
		p = wg_noise_response_consume(wg, msg, &why);
		if (p == NULL)
			return why;
		*peerp = p;
		peer_fold(wg, p, now);
		if (wg_noise_begin_session(wg, p, now) < 0) {
			wg_noise_handshake_clear(wg, p);
			return MG_WG_HS_ERR_INTERNAL;
		}
		mg_wg_timers_event(&p->timers, MG_WG_TEV_SESSION_INITIATOR, now);
		mg_wg_timers_event(&p->timers, MG_WG_TEV_HANDSHAKE_COMPLETE, now);
		p->last_handshake_wall = wg->wall_ns();
		why = MG_WG_HS_SESSION;
	}
	wg->stats.sessions++;
	atomic_fetch_add_explicit(&p->rx_bytes, len, memory_order_relaxed);
	mg_wg_timers_event(&p->timers, MG_WG_TEV_AUTH_RECEIVED, now);
	mg_wg_timers_event(&p->timers, MG_WG_TEV_AUTH_TRAVERSAL, now);
	return why;
}

enum mg_wg_hs_result
mg_wg_handshake_receive(struct mg_wg_iface *wg, const void *msg, size_t len,
			const struct mg_wg_src *src, uint64_t now_ns,
			uint8_t reply[MG_WG_REPLY_MAX], size_t *reply_len,
			struct mg_wg_peer **peer)
{
	struct mg_wg_peer *p = NULL;
	enum mg_wg_hs_result r;

	WG_ASSERT_OWNER(wg);
	*reply_len = 0;
	r = handshake_receive(wg, msg, len, src, now_ns, reply, reply_len, &p);
	wg->stats.hs[r]++;
	if (r >= MG_WG_HS_ERR_SIZE && wg_log_allowed(wg, now_ns)) {
		char ip[MG_IP_STRLEN];

		WG_LOG(DEBUG, "%s: handshake message from %s port %u dropped: %s\n", wg->name,
		       mg_ip_fmt(&src->ip, ip, sizeof(ip)), src->port, mg_wg_hs_result_desc(r));
	}
	if (peer != NULL)
		*peer = p;
	return r;
}
