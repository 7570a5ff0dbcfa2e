/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef WG_PRIV_H
#define WG_PRIV_H

/*
 * Private structures of the WireGuard library. Fields are grouped by who
 * touches them: read by workers (published before the pointer that leads
 * to them, immutable afterwards or atomic), written by workers (atomics on
 * their own cache line), and main lcore only (plain fields).
 */

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/queue.h>

#include <rte_debug.h>
#include <rte_log.h>

#include "mg_common.h"
#include "mg_hmap.h"
#include "mg_wg.h"
#include "wg_messages.h"
#include "wg_replay.h"

extern int mg_wg_logtype;
#define WG_LOG(l, ...) rte_log(RTE_LOG_##l, mg_wg_logtype, "wg: " __VA_ARGS__)

#define WG_NS_PER_S 1000000000ULL
#define WG_NS_PER_MS 1000000ULL

/* Protocol times in ns: constants, or variables in a test build. */
#ifdef MG_TEST_TIMERS
extern struct mg_wg_test_times wg_test_times;
#define WG_T_REKEY_AFTER (wg_test_times.rekey_after)
#define WG_T_REJECT_AFTER (wg_test_times.reject_after)
#define WG_T_REKEY_TIMEOUT (wg_test_times.rekey_timeout)
#define WG_T_JITTER_MAX (wg_test_times.jitter_max)
#define WG_T_KEEPALIVE (wg_test_times.keepalive)
#define WG_T_COOKIE_MAX_AGE (wg_test_times.cookie_max_age)
#define WG_T_COOKIE_LATENCY (wg_test_times.cookie_latency)
#else
#define WG_T_REKEY_AFTER ((uint64_t)WG_REKEY_AFTER_TIME * WG_NS_PER_S)
#define WG_T_REJECT_AFTER ((uint64_t)WG_REJECT_AFTER_TIME * WG_NS_PER_S)
#define WG_T_REKEY_TIMEOUT ((uint64_t)WG_REKEY_TIMEOUT * WG_NS_PER_S)
#define WG_T_JITTER_MAX ((uint64_t)WG_REKEY_TIMEOUT_JITTER_MAX_MS * WG_NS_PER_MS)
#define WG_T_KEEPALIVE ((uint64_t)WG_KEEPALIVE_TIMEOUT * WG_NS_PER_S)
#define WG_T_COOKIE_MAX_AGE ((uint64_t)WG_COOKIE_SECRET_MAX_AGE * WG_NS_PER_S)
#define WG_T_COOKIE_LATENCY ((uint64_t)WG_COOKIE_SECRET_LATENCY * WG_NS_PER_S)
#endif

/* True if the time @p then (ns) is at least @p age before @p now. */
static inline bool
wg_expired(uint64_t then, uint64_t age, uint64_t now)
{
	return now >= then && now - then >= age;
}

/* ---- Receiver-index table (wg_index.c) ------------------------------------------------ */

/** What an index names. */
enum wg_index_type {
	WG_INDEX_HANDSHAKE = 1,  /* A handshake in progress (main lcore only). */
	WG_INDEX_KEYPAIR = 2,    /* A session keypair (workers look these up). */
};

/** Head of any object registered under a local index. */
struct wg_index_entry {
	_Atomic uint32_t index;        /**< Our index, the receiver field of what the peer sends us. */
	uint8_t type;                  /**< enum wg_index_type; never changes. */
	struct mg_wg_peer *peer;       /**< Owner. */
};

/**
 * Local indices to entries. An index is random; its low bits choose the
 * slot, so lookup is one atomic load and a compare, and indices are unique
 * because slots are. At most half the slots are used.
 */
struct wg_index_table {
	_Atomic(struct wg_index_entry *) *slots; /**< Published entries, NULL when free. */
	uint32_t mask;                 /**< Slots - 1. */
	uint32_t used;                 /**< Slots in use (main lcore). */
};

int wg_index_init(struct wg_index_table *t, uint32_t slots);
void wg_index_fini(struct wg_index_table *t);
/** Give @p e a fresh random index and publish it; 0 or -ENOSPC. Main lcore. */
int wg_index_insert(struct wg_index_table *t, struct wg_index_entry *e);
/** Unpublish @p e (no-op if it is not published). Main lcore. */
void wg_index_remove(struct wg_index_table *t, struct wg_index_entry *e);
/** Publish @p to under @p from's index (a fresh one if @p from is unpublished). */
int wg_index_replace(struct wg_index_table *t, struct wg_index_entry *from,
		      struct wg_index_entry *to);
/** Entry published under @p index, or NULL. Worker-safe. */
static inline struct wg_index_entry *
wg_index_lookup(const struct wg_index_table *t, uint32_t index)
{
	struct wg_index_entry *e =
		atomic_load_explicit(&t->slots[index & t->mask], memory_order_acquire);

	if (e == NULL || atomic_load_explicit(&e->index, memory_order_relaxed) != index)
		return NULL;
	return e;
}

/* ---- Keypairs ------------------------------------------------------------------------- */

/** One session: keys, send counter, replay window. */
struct mg_wg_keypair {
	struct wg_index_entry entry;            /**< Our receiver index; type KEYPAIR. */
	alignas(16) uint8_t send_key[WG_KEY_LEN]; /**< Sending key (immutable once published). */
	alignas(16) uint8_t recv_key[WG_KEY_LEN]; /**< Receiving key. */
	uint32_t remote_index;                  /**< The peer's index: receiver field of what we send. */
	uint64_t birth_ns;                      /**< When the session was derived. */
	bool initiator;                         /**< We initiated this session. */
	_Atomic bool confirmed;                 /**< Usable for sending (initiator, or data received). */
	_Atomic bool dead;                      /**< Unpublished: refuse it even if still reachable. */
	_Atomic bool send_revoked;              /**< Our private key changed: receive only. */
	alignas(64) _Atomic uint64_t send_counter; /**< Next counter to send (senders contend here). */
	alignas(64) struct wg_replay replay;    /**< Receive window (receivers contend here). */
};

/* ---- Handshake, cookies, rate limit --------------------------------------------------- */

/** Handshake states (Noise IK). */
enum wg_hs_state {
	WG_HS_ZEROED = 0,
	WG_HS_CREATED_INITIATION,   /* We sent an initiation; waiting for the response. */
	WG_HS_CONSUMED_INITIATION,  /* We accepted an initiation; about to respond. */
	WG_HS_CREATED_RESPONSE,     /* We responded (transient: the session follows at once). */
	WG_HS_CONSUMED_RESPONSE,    /* We accepted the response (transient). */
};

/** Handshake state of a peer. */
struct wg_handshake {
	struct wg_index_entry entry;            /**< Our index while a message of ours is out. */
	enum wg_hs_state state;                 /**< Where the handshake is. */
	uint8_t ephemeral_private[WG_KEY_LEN];  /**< Our ephemeral key. */
	uint8_t remote_ephemeral[WG_KEY_LEN];   /**< The peer's ephemeral public key. */
	uint8_t hash[WG_HASH_LEN];              /**< Noise handshake hash h. */
	uint8_t chaining_key[WG_HASH_LEN];      /**< Noise chaining key ck. */
	uint32_t remote_index;                  /**< The peer's sender index. */
	uint8_t latest_timestamp[WG_TIMESTAMP_LEN]; /**< Greatest TAI64N accepted from the peer. */
	uint64_t last_initiation_consumed;      /**< When we accepted its last initiation (flood check). */
};

/** Our side of cookies: the secret, and keys derived from our public key. */
struct wg_cookie_checker {
	uint8_t secret[32];              /**< Rm, regenerated every COOKIE_SECRET_MAX_AGE. */
	uint64_t secret_birth;           /**< When secret was made; MG_WG_NEVER before the first. */
	uint8_t mac1_key[32];            /**< HASH(LABEL_MAC1 || our public key). */
	uint8_t cookie_key[32];          /**< HASH(LABEL_COOKIE || our public key). */
};

/** The peer's side of cookies: keys from its public key, the last cookie it sent us. */
struct wg_cookie_maker {
	uint8_t mac1_key[32];            /**< HASH(LABEL_MAC1 || peer public key). */
	uint8_t cookie_key[32];          /**< HASH(LABEL_COOKIE || peer public key). */
	uint8_t cookie[WG_COOKIE_LEN];   /**< Last cookie received. */
	uint64_t cookie_birth;           /**< When it arrived. */
	bool have_cookie;                /**< cookie is set. */
	uint8_t last_mac1[WG_MAC_LEN];   /**< mac1 of our last handshake message (the cookie's AD). */
	bool have_sent_mac1;             /**< last_mac1 is set and no cookie answered it yet. */
};

void wg_cookie_checker_init(struct wg_cookie_checker *c, const uint8_t *our_public);
void wg_cookie_maker_init(struct wg_cookie_maker *m, const uint8_t peer_public[32]);
/** Fill mac1 (and mac2 with a fresh cookie) of a message whose macs end it. */
void wg_cookie_add_macs(struct wg_cookie_maker *m, void *msg, size_t len, uint64_t now);
/** Results of wg_cookie_validate. */
enum wg_mac_state {
	WG_MAC_INVALID,          /* mac1 is wrong. */
	WG_MAC_VALID_NO_COOKIE,  /* mac1 is right, mac2 missing or wrong. */
	WG_MAC_VALID_COOKIE,     /* Both right. */
};
/** Check the macs of a received handshake message of @p len bytes. */
enum wg_mac_state wg_cookie_validate(struct wg_cookie_checker *c, const void *msg, size_t len,
				     const struct mg_wg_src *src, bool check_mac2, uint64_t now);
/** Build a cookie reply to the message @p msg (sender index @p sender_le). */
int wg_cookie_reply_create(struct wg_cookie_checker *c, struct wg_msg_cookie *out,
			   const void *msg, size_t len, uint32_t sender_le,
			   const struct mg_wg_src *src, uint64_t now);
/** Take a cookie reply into the maker; 0 or -EBADMSG / -EINVAL (no mac1 out). */
int wg_cookie_reply_consume(struct wg_cookie_maker *m, const struct wg_msg_cookie *msg,
			    uint64_t now);

/** One source tracked by the rate limiter. */
struct wg_rl_entry {
	uint64_t last;       /**< Last time it was seen (ns); 0 = free. */
	uint64_t tokens;     /**< Token bucket level in ns of credit. */
	uint8_t key[17];     /**< Family, then the IPv4 address or the IPv6 /64. */
};

/** Token buckets per source address (IPv6 per /64), WG_HANDSHAKES_PER_SECOND each. */
struct wg_ratelimiter {
	struct wg_rl_entry *e;     /**< Entries, in buckets of WG_RL_WAYS. */
	uint32_t mask;             /**< Number of entries - 1. */
	uint8_t hash_key[16];      /**< Random key of the bucket hash. */
};

int wg_ratelimiter_init(struct wg_ratelimiter *rl, uint32_t entries);
void wg_ratelimiter_fini(struct wg_ratelimiter *rl);
/** True if one more handshake from @p src is allowed at @p now. */
bool wg_ratelimiter_allow(struct wg_ratelimiter *rl, const struct mg_wg_src *src,
			  uint64_t now);

/* ---- Peers and interfaces ------------------------------------------------------------- */

/** Flags workers raise for the main lcore (peer->flags). */
enum wg_peer_flag {
	WG_PF_WANT_HANDSHAKE = 1u << 0,  /* No usable session for data, or rekey due. */
	WG_PF_CONFIRMED = 1u << 1,       /* The next keypair received data. */
};

/** A remote peer. */
struct mg_wg_peer {
	/* Read by workers. */
	_Atomic(struct mg_wg_keypair *) kp_current;  /**< Session used for sending. */
	_Atomic(struct mg_wg_keypair *) kp_previous; /**< Previous session, still received on. */
	_Atomic(struct mg_wg_keypair *) kp_next;     /**< Responder session until confirmed. */
	struct mg_wg_iface *wg;                      /**< Owning interface. */
	void *user;                                  /**< Caller's pointer. */

	/* Written by workers. */
	alignas(64) _Atomic uint64_t rx_bytes;       /**< Message bytes received. */
	_Atomic uint64_t tx_bytes;                   /**< Message bytes sent. */
	_Atomic uint64_t rx_packets;                 /**< Transport messages received. */
	_Atomic uint64_t tx_packets;                 /**< Transport messages sent. */
	_Atomic uint64_t t_data_sent;                /**< Last data sent (ns), 0 = none. */
	_Atomic uint64_t t_data_recv;                /**< Last data received. */
	_Atomic uint64_t t_auth_sent;                /**< Last authenticated packet sent. */
	_Atomic uint64_t t_auth_recv;                /**< Last authenticated packet received. */
	_Atomic uint32_t flags;                      /**< enum wg_peer_flag raised by workers. */

	/* Main lcore only. */
	alignas(64) uint8_t remote_static[WG_KEY_LEN]; /**< The peer's public key. */
	uint8_t psk[WG_KEY_LEN];                     /**< Preshared key, zeros if none. */
	uint8_t static_static[WG_KEY_LEN];           /**< DH(our static, its static), precomputed. */
	bool ss_valid;                               /**< static_static is usable. */
	bool has_psk;                                /**< psk was set. */
	struct wg_handshake hs;                      /**< Handshake state. */
	struct wg_cookie_maker cookie;               /**< Cookies it sent us; mac keys. */
	struct mg_wg_timers timers;                  /**< Protocol timers. */
	uint64_t seen_data_sent;                     /**< t_data_sent already fed to the timers. */
	uint64_t seen_data_recv;                     /**< t_data_recv already fed. */
	uint64_t seen_auth_sent;                     /**< t_auth_sent already fed. */
	uint64_t seen_auth_recv;                     /**< t_auth_recv already fed. */
	uint64_t last_handshake_wall;                /**< Wall time of the last handshake (ns). */
	uint32_t slot;                               /**< Index in wg->peer_slots. */
	TAILQ_ENTRY(mg_wg_peer) link;                /**< In wg->peers. */
};

TAILQ_HEAD(wg_peer_list, mg_wg_peer);

/** An interface. */
struct mg_wg_iface {
	/* Read by workers. */
	struct wg_index_table index;                 /**< Receiver indices. */

	uint16_t mtu;                                /**< Padding cap, 0 = none. */

	/* Main lcore only. */
	char name[MG_NAME_MAX];                      /**< For logs. */
	uint8_t static_private[WG_KEY_LEN];          /**< Our private key. */
	uint8_t static_public[WG_KEY_LEN];           /**< Our public key. */
	bool has_identity;                           /**< The keys are set. */
	uint8_t responder_hash[WG_HASH_LEN];         /**< HASH(H0 || our public key). */
	bool under_load;                             /**< Set by the caller. */
	struct wg_cookie_checker checker;            /**< Our cookie secret and mac keys. */
	struct wg_ratelimiter rl;                    /**< Handshake rate limit. */
	struct wg_peer_list peers;                   /**< All peers. */
	struct mg_hmap *by_key;                      /**< Public key -> slot. */
	struct mg_wg_peer **peer_slots;              /**< Slot -> peer (NULL when free). */
	uint32_t nslots;                             /**< Size of peer_slots. */
	mg_wg_defer_fn defer_free;                   /**< RCU hook. */
	void *defer_ctx;                             /**< Its context. */
	uint64_t (*wall_ns)(void);                   /**< Wall clock. */
	uint64_t seed;                               /**< Next timer seed. */
	struct mg_wg_iface_stats stats;              /**< Handshake counters. */
	pthread_t owner;                             /**< The control thread (creator). */
	uint64_t log_window;                         /**< Start of the current log-rate second. */
	uint32_t log_count;                          /**< Log lines in that second. */
};

/** The calling thread must be the interface's control thread (checked with RTE_ENABLE_ASSERT). */
#define WG_ASSERT_OWNER(wg) RTE_ASSERT(pthread_equal(pthread_self(), (wg)->owner))

/** Noise's initial chaining key and hash (computed once). */
extern uint8_t wg_initial_ck[WG_HASH_LEN];
extern uint8_t wg_initial_hash[WG_HASH_LEN];
void wg_noise_init_constants(void);

/* Noise (wg_noise.c). */
int wg_noise_initiation_create(struct mg_wg_iface *wg, struct mg_wg_peer *peer,
			       struct wg_msg_initiation *msg, uint64_t now);
struct mg_wg_peer *wg_noise_initiation_consume(struct mg_wg_iface *wg,
					       const struct wg_msg_initiation *msg,
					       uint64_t now, enum mg_wg_hs_result *why);
int wg_noise_response_create(struct mg_wg_iface *wg, struct mg_wg_peer *peer,
			     struct wg_msg_response *msg);
struct mg_wg_peer *wg_noise_response_consume(struct mg_wg_iface *wg,
					     const struct wg_msg_response *msg,
					     enum mg_wg_hs_result *why);
int wg_noise_begin_session(struct mg_wg_iface *wg, struct mg_wg_peer *peer, uint64_t now);
void wg_noise_handshake_clear(struct mg_wg_iface *wg, struct mg_wg_peer *peer);
void wg_noise_keypairs_clear(struct mg_wg_iface *wg, struct mg_wg_peer *peer);
void wg_noise_precompute_ss(struct mg_wg_iface *wg, struct mg_wg_peer *peer);
/** Rotate a confirmed next keypair to current; true if it happened. */
bool wg_noise_confirm(struct mg_wg_iface *wg, struct mg_wg_peer *peer);
/** Free @p obj with @p fn now, or after a grace period through the interface's hook. */
void wg_defer(struct mg_wg_iface *wg, void (*fn)(void *), void *obj);
/** Unpublish @p kp and free it through the defer hook. */
void wg_keypair_retire(struct mg_wg_iface *wg, struct mg_wg_keypair *kp);

/** Record (worker-side) that an authenticated packet of @p len bytes was sent. */
static inline void
wg_peer_mark_sent(struct mg_wg_peer *p, uint64_t bytes, uint64_t packets, bool data,
		  uint64_t now)
{
	atomic_fetch_add_explicit(&p->tx_bytes, bytes, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->tx_packets, packets, memory_order_relaxed);
	atomic_store_explicit(&p->t_auth_sent, now, memory_order_relaxed);
	if (data)
		atomic_store_explicit(&p->t_data_sent, now, memory_order_relaxed);
}

#endif /* WG_PRIV_H */
