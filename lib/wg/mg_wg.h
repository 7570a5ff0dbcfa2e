/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_WG_H
#define MG_WG_H

/**
 * @file
 * WireGuard as a library: the Noise_IKpsk2 handshake, cookies, the handshake
 * rate limit and the protocol timers for the main lcore; transport data
 * encryption and decryption over bursts of mbufs for the workers; allowed-IPs
 * tables; key encoding. Interoperable with wireguard-go and the Linux module.
 *
 * Objects:
 * - an interface (struct mg_wg_iface): our static key, cookie checker,
 *   handshake rate limiter, the receiver-index table and the peers;
 * - a peer (struct mg_wg_peer): remote static key, preshared key, handshake
 *   state, timers and up to three session keypairs (previous, current, next);
 * - a keypair (struct mg_wg_keypair): one session's two keys, its send
 *   counter and its replay window;
 * - a worker context (struct mg_wg_worker): one per lcore that encrypts or
 *   decrypts (crypto library state and scratch space);
 * - an allowed-IPs table (struct mg_wg_aip): built on the main lcore and
 *   published by swapping a pointer.
 *
 * How the pieces fit:
 * - main lcore, set-up: mg_wg_iface_create, mg_wg_peer_add, build and
 *   publish an allowed-IPs table, mg_wg_worker_create for every worker (and
 *   one for the main lcore's own keepalives);
 * - worker, outbound: peer = mg_wg_aip_lookup(table, inner dst);
 *   kp = mg_wg_peer_tx_keypair(peer); without kp, keep the packets and call
 *   mg_wg_peer_want_handshake; else mg_wg_encrypt_burst, then prepend the
 *   outer UDP/IP headers towards the peer's endpoint;
 * - worker, inbound UDP on the listen port: mg_wg_msg_type; types 1..3 go to
 *   the main lcore through a bounded ring; type 4 in bursts to
 *   mg_wg_decrypt_burst with the current table; DATA packets enter the
 *   tunnel's network, the others are freed and counted by status;
 * - main lcore: mg_wg_handshake_receive for each ring message (send the
 *   reply; after SESSION flush the peer's queued packets or send
 *   mg_wg_keepalive); mg_wg_iface_set_under_load from the ring's fill level;
 *   mg_wg_iface_tick at its returned deadline (at most 100 ms apart while
 *   sessions exist): its callback sends initiations (mg_wg_initiation_create)
 *   and keepalives (mg_wg_keepalive). Workers report their activity (bytes,
 *   last send and receive times, confirmed sessions, handshake requests)
 *   through atomics in the peer, which the tick folds into the timers.
 *
 * Threading rules:
 * - Everything that creates, changes or frees objects, and every handshake
 *   and timer function, runs on one control thread (the main lcore; the
 *   thread that created the interface, asserted under RTE_ENABLE_ASSERT):
 *   the functions marked "main lcore" must never run concurrently.
 * - The functions marked "worker-safe" may run on any number of lcores at
 *   once, concurrently with the main lcore: mg_wg_peer_tx_keypair,
 *   mg_wg_peer_want_handshake, mg_wg_encrypt_burst, mg_wg_decrypt_burst,
 *   mg_wg_aip_lookup*, mg_wg_msg_type, mg_wg_keypair_peer. They take no lock,
 *   allocate nothing and make no system call. Each lcore uses its own
 *   struct mg_wg_worker.
 * - Objects a worker may still hold (keypairs, peers) are never freed at
 *   once: when the main lcore unpublishes one, it passes it to the
 *   interface's defer_free hook, which must run the given destructor after an
 *   RCU grace period (rte_rcu_qsbr). Workers must therefore call the
 *   worker-safe functions inside a read-side critical section and report
 *   quiescence between bursts. Without a hook, objects are freed at once,
 *   which is only correct when no worker runs (tests, single-threaded tools).
 * - Times: every now_ns is the same monotonic clock in nanoseconds on every
 *   lcore (mg_now_ns(), or a TSC-derived clock with the same origin).
 *
 * Secrets (private keys, preshared keys, session keys, ephemeral keys,
 * chaining keys) are wiped whenever they are freed or replaced and are
 * never logged.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "mg_addr.h"
#include "mg_common.h"

/** Length of a key (private, public or preshared) in bytes. */
#define MG_WG_KEY_LEN 32
/** Length of a key in base64, without the NUL. */
#define MG_WG_KEY_B64_LEN 44
/** Length of a handshake initiation message. */
#define MG_WG_INITIATION_LEN 148
/** Length of a handshake response message. */
#define MG_WG_RESPONSE_LEN 92
/** Length of a cookie reply message. */
#define MG_WG_COOKIE_LEN 64
/** Room the reply buffer of mg_wg_handshake_receive needs. */
#define MG_WG_REPLY_MAX 148
/** Headroom mg_wg_encrypt_burst needs in front of the inner packet (the data header). */
#define MG_WG_ENCRYPT_HEADROOM 16
/** Tailroom mg_wg_encrypt_burst needs at most behind the inner packet (padding and tag). */
#define MG_WG_ENCRYPT_TAILROOM (15 + 16)
/** Largest burst the data path functions take in one call. */
#define MG_WG_BURST_MAX 256

struct mg_wg_iface;
struct mg_wg_peer;
struct mg_wg_keypair;
struct mg_wg_worker;
struct mg_wg_aip;
struct mg_wg_aip_builder;

/* ---- Keys ---------------------------------------------------------------------------- */

/**
 * Parse a key in standard base64 (44 characters, ending in one '=').
 *
 * @param key  Receives the 32 bytes; wiped on error.
 * @param s    The text; surrounding whitespace is not accepted.
 * @param err  Filled on error (may be NULL); its message never quotes the key.
 * @return 0, or -EINVAL (wrong length, character outside the alphabet, or
 *         non-zero trailing bits).
 */
int mg_wg_key_from_base64(uint8_t key[MG_WG_KEY_LEN], const char *s, struct mg_error *err);

/**
 * Format a key in standard base64.
 *
 * @param out  MG_WG_KEY_B64_LEN + 1 bytes; receives 44 characters and a NUL.
 * @param key  The key.
 * @return @p out.
 */
char *mg_wg_key_to_base64(char out[MG_WG_KEY_B64_LEN + 1], const uint8_t key[MG_WG_KEY_LEN]);

/**
 * Generate a private key, clamped as Curve25519 requires (`wg genkey`).
 *
 * @return 0, or -EIO if the random generator failed.
 */
int mg_wg_key_generate(uint8_t priv[MG_WG_KEY_LEN]);

/**
 * Generate a preshared key: 32 random bytes (`wg genpsk`).
 *
 * @return 0, or -EIO.
 */
int mg_wg_key_generate_psk(uint8_t psk[MG_WG_KEY_LEN]);

/**
 * Compute the public key of a private key (`wg pubkey`).
 *
 * @return 0, or -EIO.
 */
int mg_wg_key_public(uint8_t pub[MG_WG_KEY_LEN], const uint8_t priv[MG_WG_KEY_LEN]);

/* ---- Results and reasons ------------------------------------------------------------- */

/** Outcomes of mg_wg_decrypt_burst for one packet: enum suffix, name, description. */
#define MG_WG_RX_STATUS_LIST(X)                                                                    \
	X(DATA, "data", "decrypted data packet")                                                   \
	X(KEEPALIVE, "keepalive", "keepalive (empty transport message), consumed")                 \
	X(MALFORMED, "malformed", "not a transport data message (type or length)")                 \
	X(CHAINED, "chained", "multi-segment mbuf")                                                \
	X(UNKNOWN_INDEX, "unknown_index", "no session with that receiver index")                   \
	X(KEY_EXPIRED, "key_expired", "session older than REJECT_AFTER_TIME")                      \
	X(COUNTER_LIMIT, "counter_limit", "counter at REJECT_AFTER_MESSAGES or beyond")            \
	X(REPLAY, "replay", "counter already seen or behind the replay window")                    \
	X(AUTH, "auth", "authentication tag mismatch")                                             \
	X(BAD_INNER, "bad_inner", "decrypted packet is not a whole IPv4 or IPv6 packet")           \
	X(SRC_NOT_ALLOWED, "src_not_allowed", "inner source not in the peer's allowed IPs")        \
	X(CRYPTO, "crypto", "crypto library error")

/** Outcome of mg_wg_decrypt_burst for one packet. */
enum mg_wg_rx_status {
#define MG_WG_X(n, name, d) MG_WG_RX_##n,
	MG_WG_RX_STATUS_LIST(MG_WG_X)
#undef MG_WG_X
	MG_WG_RX_STATUS_MAX
};

/** Outcomes of mg_wg_encrypt_burst for one packet: enum suffix, name, description. */
#define MG_WG_TX_STATUS_LIST(X)                                                                    \
	X(OK, "ok", "encrypted")                                                                   \
	X(CHAINED, "chained", "multi-segment mbuf")                                                \
	X(NO_ROOM, "no_room", "not enough headroom or tailroom in the mbuf")                       \
	X(KEY_EXPIRED, "key_expired", "session older than REJECT_AFTER_TIME or wiped")             \
	X(COUNTER_LIMIT, "counter_limit", "send counter exhausted (REJECT_AFTER_MESSAGES)")        \
	X(CRYPTO, "crypto", "crypto library error")

/** Outcome of mg_wg_encrypt_burst for one packet. */
enum mg_wg_tx_status {
#define MG_WG_X(n, name, d) MG_WG_TX_##n,
	MG_WG_TX_STATUS_LIST(MG_WG_X)
#undef MG_WG_X
	MG_WG_TX_STATUS_MAX
};

/** Outcomes of mg_wg_handshake_receive: enum suffix, name, description. */
#define MG_WG_HS_RESULT_LIST(X)                                                                    \
	X(RESPONSE, "response", "initiation accepted; reply holds our response")                   \
	X(COOKIE_REPLY, "cookie_reply", "under load, no valid mac2: reply holds a cookie reply")   \
	X(SESSION, "session", "response accepted; new session as initiator")                       \
	X(COOKIE_STORED, "cookie_stored", "cookie reply accepted")                                 \
	X(ERR_SIZE, "err_size", "wrong type or length for a handshake message")                    \
	X(ERR_NO_KEY, "err_no_key", "interface has no private key")                                \
	X(ERR_MAC1, "err_mac1", "bad mac1")                                                        \
	X(ERR_RATELIMIT, "err_ratelimit", "handshake rate limit of the source reached")            \
	X(ERR_DECRYPT, "err_decrypt", "handshake does not decrypt (wrong keys)")                   \
	X(ERR_UNKNOWN_PEER, "err_unknown_peer", "initiation from an unknown static key")           \
	X(ERR_REPLAY, "err_replay", "initiation timestamp not newer than the last one")            \
	X(ERR_FLOOD, "err_flood", "initiations from this peer arrive too fast")                    \
	X(ERR_UNKNOWN_INDEX, "err_unknown_index", "receiver index matches no handshake")           \
	X(ERR_STATE, "err_state", "response or cookie without a matching handshake in progress")   \
	X(ERR_COOKIE, "err_cookie", "cookie reply does not decrypt")                               \
	X(ERR_INTERNAL, "err_internal", "out of indices or crypto library failure")

/** Outcome of mg_wg_handshake_receive; the ERR_ values are drops. */
enum mg_wg_hs_result {
#define MG_WG_X(n, name, d) MG_WG_HS_##n,
	MG_WG_HS_RESULT_LIST(MG_WG_X)
#undef MG_WG_X
	MG_WG_HS_RESULT_MAX
};

/** Name of a decrypt status ("data", "replay", ...). */
const char *mg_wg_rx_status_name(unsigned int status);
/** One-sentence description of a decrypt status. */
const char *mg_wg_rx_status_desc(unsigned int status);
/** Name of an encrypt status. */
const char *mg_wg_tx_status_name(unsigned int status);
/** One-sentence description of an encrypt status. */
const char *mg_wg_tx_status_desc(unsigned int status);
/** Name of a handshake result ("response", "err_mac1", ...). */
const char *mg_wg_hs_result_name(unsigned int result);
/** One-sentence description of a handshake result. */
const char *mg_wg_hs_result_desc(unsigned int result);

/* ---- Timers: a pure state machine ----------------------------------------------------- */

/** Things that happened to a peer, fed to mg_wg_timers_event. */
enum mg_wg_timer_event {
	MG_WG_TEV_DATA_SENT,           /**< A data packet (not a keepalive) was sent. */
	MG_WG_TEV_DATA_RECEIVED,       /**< A data packet (not a keepalive) was received. */
	/** Any authenticated packet was sent (data, keepalive, handshake). */
	MG_WG_TEV_AUTH_SENT,
	MG_WG_TEV_AUTH_RECEIVED,       /**< Any authenticated packet was received. */
	MG_WG_TEV_AUTH_TRAVERSAL,      /**< Any authenticated packet was sent or received. */
	MG_WG_TEV_HANDSHAKE_INITIATED, /**< We sent a handshake initiation. */
	/** A handshake completed (response consumed, or session confirmed by data). */
	MG_WG_TEV_HANDSHAKE_COMPLETE,
	/** A session was derived, we being the initiator: it is the one we send on. */
	MG_WG_TEV_SESSION_INITIATOR,
	/**
	 * A session was derived, we being the responder: we send on it only once
	 * the initiator confirmed it (MG_WG_TEV_SESSION_CONFIRMED); until then the
	 * session we send on, and its age, stay what they were.
	 */
	MG_WG_TEV_SESSION_RESPONDER,
	MG_WG_TEV_WANT_HANDSHAKE,      /**< Data is waiting and no usable session: initiate. */
	MG_WG_TEV_KEYS_ZEROED,         /**< All session keys were wiped. */
	/** A worker sent a transport message, a keepalive too: an old session is refreshed as for data. */
	MG_WG_TEV_KEEPALIVE_SENT,
	/**
	 * A worker received an authenticated transport message, a keepalive
	 * too: the initiator's last chance to rekey before REJECT_AFTER_TIME is
	 * checked on it (as the Linux module's keep_key_fresh on receive).
	 */
	MG_WG_TEV_TRANSPORT_RECEIVED,
	/** The responder's newest session was confirmed: we now send on it. */
	MG_WG_TEV_SESSION_CONFIRMED,
};

/** Actions mg_wg_timers_expire asks for (a bit mask). */
enum mg_wg_action {
	MG_WG_ACT_SEND_INITIATION = 1u << 0, /**< Create and send a handshake initiation. */
	MG_WG_ACT_SEND_KEEPALIVE = 1u << 1,  /**< Send a keepalive on the current session. */
	MG_WG_ACT_ZERO_KEYS = 1u << 2,       /**< Wipe every keypair and handshake of the peer. */
	MG_WG_ACT_GIVE_UP = 1u << 3,         /**< Handshake attempts exhausted: drop queued packets. */
};

/** No deadline. */
#define MG_WG_NEVER UINT64_MAX

/**
 * Timer state of one peer (the paper's section 6, as the reference
 * implementations run it), driven by events and by the caller's clock.
 * Deadlines are absolute monotonic ns, MG_WG_NEVER when not armed.
 */
struct mg_wg_timers {
	/** Retry the handshake (REKEY_TIMEOUT + jitter after an initiation). */
	uint64_t retransmit_at;
	/** Data sent without any reply: initiate (KEEPALIVE + REKEY_TIMEOUT + jitter). */
	uint64_t new_handshake_at;
	/** Data received without anything sent: keepalive (KEEPALIVE_TIMEOUT). */
	uint64_t keepalive_at;
	uint64_t persistent_at;      /**< Persistent keepalive. */
	uint64_t zero_keys_at;       /**< Wipe all keys (REJECT_AFTER_TIME * 3 after the last session). */
	uint64_t initiate_at;        /**< A new initiation was asked for (rekey or waiting data). */
	uint64_t last_initiation;    /**< When we last sent an initiation; MG_WG_NEVER if never. */
	uint64_t session_birth;      /**< When the session we send on was derived. */
	uint64_t next_birth;         /**< When the unconfirmed responder session was derived. */
	uint64_t rng;                /**< Jitter generator state (xorshift64*). */
	uint32_t attempts;           /**< Retries of the current handshake. */
	uint16_t persistent_keepalive; /**< Interval in seconds; 0 = off. */
	bool another_keepalive;      /**< Data received while a keepalive was already due. */
	bool sent_lastminute;        /**< The late rekey before REJECT_AFTER_TIME was asked for. */
	bool has_session;            /**< A session exists (not zeroed). */
	bool session_initiator;      /**< We initiated the session we send on. */
};

/**
 * Reset timers. @p seed seeds the jitter generator (any value; 0 is replaced).
 */
void mg_wg_timers_init(struct mg_wg_timers *t, uint16_t persistent_keepalive, uint64_t seed);

/**
 * Record that @p ev happened at @p now_ns (events must be fed in time order).
 * Never asks for anything by itself: call mg_wg_timers_expire afterwards.
 */
void mg_wg_timers_event(struct mg_wg_timers *t, enum mg_wg_timer_event ev, uint64_t now_ns);

/**
 * Change the persistent keepalive interval (seconds, 0 = off). Turning it on
 * asks for a keepalive at once, as `wg set ... persistent-keepalive` does.
 */
void mg_wg_timers_set_persistent_keepalive(struct mg_wg_timers *t, uint16_t seconds,
					   uint64_t now_ns);

/**
 * Run the timers due at @p now_ns.
 *
 * @return A mask of enum mg_wg_action: what to do now. The caller feeds the
 *         resulting events back (MG_WG_TEV_HANDSHAKE_INITIATED when it sent
 *         the initiation, MG_WG_TEV_AUTH_SENT for the keepalive, ...).
 */
uint32_t mg_wg_timers_expire(struct mg_wg_timers *t, uint64_t now_ns);

/** The earliest deadline, or MG_WG_NEVER. */
uint64_t mg_wg_timers_next(const struct mg_wg_timers *t);

/* ---- Interface ----------------------------------------------------------------------- */

/**
 * Hook that frees an object once no worker can hold it any more.
 *
 * @param ctx  The hook's context (defer_ctx).
 * @param fn   Destructor to call exactly once, on the main lcore, after an RCU
 *             grace period.
 * @param obj  Argument of @p fn.
 */
typedef void (*mg_wg_defer_fn)(void *ctx, void (*fn)(void *obj), void *obj);

/** Settings of a new interface. */
struct mg_wg_iface_conf {
	/** Name, for logs; may be NULL. */
	const char *name;
	/** Private key (32 bytes), or NULL for an interface without identity yet. */
	const uint8_t *private_key;
	/** Receiver-index table slots (power of two, 0 = 16384); at most half are used. */
	uint32_t index_slots;
	/** Sources the handshake rate limiter tracks (0 = 4096). */
	uint32_t ratelimit_entries;
	/** Frees objects after an RCU grace period; NULL frees at once (no workers). */
	mg_wg_defer_fn defer_free;
	/** Context of defer_free. */
	void *defer_ctx;
	/** Wall clock (ns since the epoch) for TAI64N and `latest handshake`; NULL = CLOCK_REALTIME. */
	uint64_t (*wall_ns)(void);
	/** Seed of the timer jitter (0 = random): tests make timers reproducible with it. */
	uint64_t seed;
	/**
	 * The tunnel's MTU: padding never takes a packet beyond it, as the
	 * reference implementations do (0 = pad every packet to a multiple of 16).
	 */
	uint16_t mtu;
};

/**
 * Create an interface. Main lcore.
 *
 * @return The interface, or NULL with @p err filled (ENOMEM, EINVAL).
 */
struct mg_wg_iface *mg_wg_iface_create(const struct mg_wg_iface_conf *conf,
				       struct mg_error *err);

/**
 * Destroy an interface, its peers and sessions at once (not through
 * defer_free): call it only when no worker can reach it any more. NULL is a
 * no-op. Main lcore.
 */
void mg_wg_iface_destroy(struct mg_wg_iface *wg);

/**
 * Set or clear (NULL) the private key. Handshakes in progress are dropped;
 * sessions stay. Main lcore.
 *
 * @return 0, or -EEXIST if a peer has the resulting public key, -EIO.
 */
int mg_wg_iface_set_private_key(struct mg_wg_iface *wg, const uint8_t *key,
				struct mg_error *err);

/** Copy the public key into @p pub; false if the interface has no key. Main lcore. */
bool mg_wg_iface_public_key(const struct mg_wg_iface *wg, uint8_t pub[MG_WG_KEY_LEN]);

/**
 * Tell the interface whether the handshake path is under load: then every
 * initiation and response needs a valid mac2 (else a cookie reply is sent)
 * and sources are rate limited. The caller decides, e.g. when its handshake
 * ring is more than 1/8 full. Main lcore.
 */
void mg_wg_iface_set_under_load(struct mg_wg_iface *wg, bool under_load);

/** Handshake-path counters of an interface. */
struct mg_wg_iface_stats {
	uint64_t hs[MG_WG_HS_RESULT_MAX]; /**< mg_wg_handshake_receive outcomes. */
	uint64_t initiations_sent;        /**< Initiations created. */
	uint64_t sessions;                /**< Sessions derived (both roles). */
	uint64_t keys_zeroed;             /**< Peers whose keys were wiped by the timer. */
	uint64_t gave_up;                 /**< Handshakes abandoned after REKEY_ATTEMPT_TIME. */
};

/** Read the counters. Main lcore. */
void mg_wg_iface_stats(const struct mg_wg_iface *wg, struct mg_wg_iface_stats *st);

/**
 * Run every peer's timers (mg_wg_peer_poll) and report what to send.
 *
 * @param cb   Called for each peer with a non-zero action mask.
 * @return When to call again at the latest: the earliest timer deadline,
 *         capped at now + 100 ms while any session exists (workers' activity
 *         is only folded into the timers here). Main lcore.
 */
uint64_t mg_wg_iface_tick(struct mg_wg_iface *wg, uint64_t now_ns,
			  void (*cb)(void *arg, struct mg_wg_peer *peer, uint32_t actions),
			  void *arg);

/** Call @p cb for every peer, in the order they were added. Main lcore. */
void mg_wg_iface_peer_walk(struct mg_wg_iface *wg,
			   void (*cb)(void *arg, struct mg_wg_peer *peer), void *arg);

/* ---- Peers --------------------------------------------------------------------------- */

/** Settings of a new peer. */
struct mg_wg_peer_conf {
	/** The peer's static public key. */
	uint8_t public_key[MG_WG_KEY_LEN];
	/** Preshared key (32 bytes), or NULL for none (all zeros). */
	const uint8_t *preshared_key;
	/** Persistent keepalive interval in seconds, 0 = off. */
	uint16_t persistent_keepalive;
	/** Caller's pointer, returned by mg_wg_peer_user (endpoint, adjacency...). */
	void *user;
};

/**
 * Add a peer. Main lcore.
 *
 * @return The peer, or NULL with @p err filled (EEXIST for a duplicate key or
 *         our own public key, ENOMEM).
 */
struct mg_wg_peer *mg_wg_peer_add(struct mg_wg_iface *wg, const struct mg_wg_peer_conf *conf,
				  uint64_t now_ns, struct mg_error *err);

/**
 * Remove a peer: its sessions are unpublished and it is freed through
 * defer_free. The caller must first publish allowed-IPs tables that no longer
 * name it. Main lcore.
 */
void mg_wg_peer_remove(struct mg_wg_iface *wg, struct mg_wg_peer *peer);

/** The peer with that public key, or NULL. Main lcore. */
struct mg_wg_peer *mg_wg_peer_lookup(struct mg_wg_iface *wg, const uint8_t pub[MG_WG_KEY_LEN]);

/** Set (or clear, NULL) the preshared key; used from the next handshake. Main lcore. */
void mg_wg_peer_set_psk(struct mg_wg_peer *peer, const uint8_t *psk);

/** Change the persistent keepalive interval (seconds, 0 = off). Main lcore. */
void mg_wg_peer_set_persistent_keepalive(struct mg_wg_peer *peer, uint16_t seconds,
					 uint64_t now_ns);

/** The caller's pointer given in mg_wg_peer_conf. Any lcore. */
void *mg_wg_peer_user(const struct mg_wg_peer *peer);

/** What `wg show` prints about a peer (never the keys but the public one). */
struct mg_wg_peer_info {
	uint8_t public_key[MG_WG_KEY_LEN]; /**< The peer's public key. */
	bool has_psk;                      /**< A preshared key is set. */
	uint16_t persistent_keepalive;     /**< Seconds, 0 = off. */
	uint64_t last_handshake_wall_ns;   /**< Wall time of the latest handshake, 0 = never. */
	uint64_t rx_bytes;                 /**< WireGuard message bytes received (handshake and data). */
	uint64_t tx_bytes;                 /**< WireGuard message bytes sent. */
	uint64_t rx_packets;               /**< Transport messages received, keepalives included. */
	uint64_t tx_packets;               /**< Transport messages sent. */
	uint32_t handshake_attempts;       /**< Retries of the current handshake. */
	bool has_session;                  /**< A session keypair is usable for sending. */
};

/** Fill @p info. Main lcore (the counters are read atomically). */
void mg_wg_peer_info(const struct mg_wg_peer *peer, struct mg_wg_peer_info *info,
		     uint64_t now_ns);

/**
 * Fold the workers' activity into the peer's timers, rotate a keypair the
 * responder side confirmed, wipe keys when their time has come, and report
 * what to send now.
 *
 * @return A mask of MG_WG_ACT_SEND_INITIATION, MG_WG_ACT_SEND_KEEPALIVE and
 *         MG_WG_ACT_GIVE_UP (ZERO_KEYS is done here). For SEND_INITIATION,
 *         call mg_wg_initiation_create; for SEND_KEEPALIVE, mg_wg_keepalive.
 *         Main lcore.
 */
uint32_t mg_wg_peer_poll(struct mg_wg_iface *wg, struct mg_wg_peer *peer, uint64_t now_ns);

/** The peer's earliest timer deadline (MG_WG_NEVER if none). Main lcore. */
uint64_t mg_wg_peer_next_deadline(const struct mg_wg_peer *peer);

/* ---- Handshake (main lcore) ---------------------------------------------------------- */

/** The outer source of a received handshake message (for cookies and the rate limit). */
struct mg_wg_src {
	struct mg_ip ip;  /**< Source address. */
	uint16_t port;    /**< Source UDP port, host byte order. */
};

/**
 * Create a handshake initiation to @p peer (a new one replaces one in
 * progress) with mac1, and mac2 when a fresh cookie from the peer is known.
 * Feeds the peer's timers (initiated, sent). Main lcore.
 *
 * @param out  MG_WG_INITIATION_LEN bytes: the UDP payload to send.
 * @return 0, or -ENOKEY (no private key), -ENOSPC (index table full), -EIO.
 */
int mg_wg_initiation_create(struct mg_wg_iface *wg, struct mg_wg_peer *peer, uint64_t now_ns,
			    uint8_t out[MG_WG_INITIATION_LEN]);

/**
 * Process a received handshake message (initiation, response or cookie
 * reply): check mac1 (and mac2 under load), rate limit, consume it, and build
 * the reply to send back to the source when there is one. Main lcore.
 *
 * @param msg        The UDP payload.
 * @param src        Its outer source, for cookies and the rate limit.
 * @param reply      MG_WG_REPLY_MAX bytes; receives the message to send to @p src.
 * @param reply_len  Set to the reply length, 0 when there is nothing to send.
 * @param peer       Set to the peer concerned when known, else NULL. The
 *                   caller may update the peer's endpoint to @p src when the
 *                   result is RESPONSE or SESSION (roaming).
 * @return An enum mg_wg_hs_result. After SESSION, send queued packets or a
 *         keepalive (mg_wg_keepalive) at once to confirm the session.
 */
enum mg_wg_hs_result mg_wg_handshake_receive(struct mg_wg_iface *wg, const void *msg,
					     size_t len, const struct mg_wg_src *src,
					     uint64_t now_ns, uint8_t reply[MG_WG_REPLY_MAX],
					     size_t *reply_len, struct mg_wg_peer **peer);

/* ---- Data path ----------------------------------------------------------------------- */

/**
 * Type of a received UDP payload: 1..3 for a handshake message of the right
 * length, 4 for a transport data message (at least 32 bytes), 0 for
 * anything else. Worker-safe.
 */
int mg_wg_msg_type(const void *payload, uint32_t len);

/**
 * Create a worker context (crypto state, scratch space) for one lcore.
 *
 * @return The context, or NULL (rte_errno = ENOMEM). Main lcore.
 */
struct mg_wg_worker *mg_wg_worker_create(int socket_id);

/** Free a worker context; NULL is a no-op. */
void mg_wg_worker_destroy(struct mg_wg_worker *w);

/**
 * The keypair to encrypt with for @p peer: the current session if it is
 * younger than REJECT_AFTER_TIME and its counter is not exhausted, or a
 * responder session the peer has already confirmed. Worker-safe.
 *
 * @return The keypair, or NULL: the caller keeps its packets (or drops them)
 *         and calls mg_wg_peer_want_handshake.
 */
struct mg_wg_keypair *mg_wg_peer_tx_keypair(struct mg_wg_peer *peer, uint64_t now_ns);

/** Ask the main lcore for a handshake with @p peer (next mg_wg_peer_poll). Worker-safe. */
void mg_wg_peer_want_handshake(struct mg_wg_peer *peer);

/** The peer a keypair belongs to. Worker-safe. */
struct mg_wg_peer *mg_wg_keypair_peer(const struct mg_wg_keypair *kp);

/**
 * Encrypt a burst of inner IP packets for one keypair into transport data
 * messages, in place: each mbuf's data (one segment, starting at the inner
 * IP header, possibly empty for a keepalive) is zero-padded to a multiple of
 * 16 bytes, encrypted, followed by the tag and preceded by the 16-byte
 * header. The caller then prepends the outer UDP/IP headers. Send counters
 * are taken atomically, so several workers may send on one keypair.
 * Worker-safe.
 *
 * @param w       This lcore's worker context.
 * @param kp      From mg_wg_peer_tx_keypair.
 * @param pkts    The packets; reordered so those encrypted come first (in
 *                their original order), the failed ones after them.
 * @param n       Number of packets (at most MG_WG_BURST_MAX).
 * @param status  If not NULL, n entries; status[i] is the enum mg_wg_tx_status
 *                of pkts[i] after reordering. Failed packets are unchanged
 *                (but for MG_WG_TX_CRYPTO) and still owned by the caller.
 * @return Number of packets encrypted.
 */
uint16_t mg_wg_encrypt_burst(struct mg_wg_worker *w, struct mg_wg_keypair *kp,
			     struct rte_mbuf **pkts, uint16_t n, uint64_t now_ns,
			     uint8_t *status);

/**
 * Authenticate and decrypt a burst of transport data messages received on
 * @p wg, in place: each mbuf's data (one segment) starts at the WireGuard
 * header (the caller has stripped the outer headers). The keypair is found
 * by receiver index; the counter is checked against REJECT_AFTER_MESSAGES
 * and the 2048-message replay window, the session against
 * REJECT_AFTER_TIME. A packet that passes is cut down to the inner IP packet
 * (header and padding removed); if @p aip is not NULL its inner source must
 * map to the same peer. Several workers may decrypt for one keypair at once.
 * Worker-safe.
 *
 * @param w       This lcore's worker context.
 * @param wg      The interface (its receiver-index table).
 * @param aip     The interface's current allowed-IPs table, or NULL to skip
 *                the inbound source check.
 * @param pkts    Reordered: decrypted data packets first, in their original
 *                order, then keepalives and failures, also in their original
 *                order (a caller can merge the two back into arrival order).
 * @param status  n entries (required): the enum mg_wg_rx_status of pkts[i]
 *                after reordering. Packets that are not DATA are the
 *                caller's to free (KEEPALIVE is not a drop).
 * @param peers   If not NULL, n entries: the peer of pkts[i] for DATA and
 *                KEEPALIVE packets (for endpoint roaming), NULL otherwise.
 * @return Number of DATA packets.
 */
uint16_t mg_wg_decrypt_burst(struct mg_wg_worker *w, const struct mg_wg_iface *wg,
			     const struct mg_wg_aip *aip, struct rte_mbuf **pkts, uint16_t n,
			     uint64_t now_ns, uint8_t *status, struct mg_wg_peer **peers);

/**
 * Turn the empty mbuf @p m into a keepalive for @p peer (a transport data
 * message with no payload) on its current session. Main lcore (or any lcore
 * with its own worker context).
 *
 * @return 0, -ENOKEY if the peer has no usable session (a handshake is then
 *         asked for), or -ENOSPC if @p m lacks room.
 */
int mg_wg_keepalive(struct mg_wg_worker *w, struct mg_wg_peer *peer, struct rte_mbuf *m,
		    uint64_t now_ns);

/* ---- Allowed IPs --------------------------------------------------------------------- */

/** Start building an allowed-IPs table. NULL on ENOMEM. Main lcore. */
struct mg_wg_aip_builder *mg_wg_aip_builder_create(void);

/**
 * Map @p prefix (host bits are ignored) to @p peer; a prefix given twice
 * keeps the last peer, as `wg set` moves it.
 *
 * @return 0, or -EINVAL (bad family or length), -ENOMEM.
 */
int mg_wg_aip_builder_add(struct mg_wg_aip_builder *b, const struct mg_prefix *prefix,
			  struct mg_wg_peer *peer, struct mg_error *err);

/**
 * Build an immutable table from the prefixes added so far (the builder can
 * go on being used). Publish it by swapping the pointer the workers read;
 * free the old one with mg_wg_aip_free after an RCU grace period.
 *
 * @return The table, or NULL with @p err filled (ENOMEM).
 */
struct mg_wg_aip *mg_wg_aip_build(const struct mg_wg_aip_builder *b, struct mg_error *err);

/** Free a builder; NULL is a no-op. */
void mg_wg_aip_builder_destroy(struct mg_wg_aip_builder *b);

/** Free a table nobody reads any more; NULL is a no-op. */
void mg_wg_aip_free(struct mg_wg_aip *t);

/** Longest-prefix match of an IPv4 address (network byte order). Worker-safe. */
struct mg_wg_peer *mg_wg_aip_lookup4(const struct mg_wg_aip *t, uint32_t addr_be);

/** Longest-prefix match of an IPv6 address. Worker-safe. */
struct mg_wg_peer *mg_wg_aip_lookup6(const struct mg_wg_aip *t, const uint8_t addr[16]);

/** Longest-prefix match of @p ip (either family). Worker-safe. */
struct mg_wg_peer *mg_wg_aip_lookup(const struct mg_wg_aip *t, const struct mg_ip *ip);

/** Call @p cb for every (prefix, peer) of the table, for `wg show allowed-ips`. */
void mg_wg_aip_walk(const struct mg_wg_aip *t,
		    void (*cb)(void *arg, const struct mg_prefix *p, struct mg_wg_peer *peer),
		    void *arg);

/* ---- Test builds only ---------------------------------------------------------------- */

#ifdef MG_TEST_TIMERS
/** Protocol times in a test build (meson -Dtest_timers=true), in ns. */
struct mg_wg_test_times {
	uint64_t rekey_after;       /**< REKEY_AFTER_TIME. */
	uint64_t reject_after;      /**< REJECT_AFTER_TIME. */
	uint64_t rekey_timeout;     /**< REKEY_TIMEOUT. */
	uint64_t jitter_max;        /**< REKEY_TIMEOUT jitter bound. */
	uint64_t keepalive;         /**< KEEPALIVE_TIMEOUT. */
	uint64_t cookie_max_age;    /**< COOKIE_SECRET_MAX_AGE. */
	uint64_t cookie_latency;    /**< COOKIE_SECRET_LATENCY. */
};

/** Replace the protocol times (NULL restores the real ones). Before any worker runs. */
void mg_wg_test_set_times(const struct mg_wg_test_times *t);
#endif

#endif /* MG_WG_H */
