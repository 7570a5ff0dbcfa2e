/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_ESP_H
#define MG_ESP_H

/**
 * @file
 * IPsec ESP tunnel mode (RFC 4303) security associations for the data path,
 * built on librte_ipsec and cryptodev.
 *
 * Objects
 *  - struct mg_esp: one per process. Owns the crypto devices (crypto_aesni_gcm,
 *    crypto_aesni_mb, crypto_openssl as the fallback; created as vdevs when the
 *    EAL has none), one crypto queue pair and one handoff ring per worker, the
 *    SA table and the inbound SPI index.
 *  - struct mg_esp_worker: a worker's handle (its queue pair, handoff ring and
 *    counter slot). Every burst call takes the caller's handle.
 *  - struct mg_esp_sa: one SA, one direction. Created from a struct
 *    mg_esp_sa_spec on the main lcore; the keys are copied into it and wiped
 *    (mg_wipe) when it is freed. Keys never leave it: mg_esp_sa_info and
 *    mg_esp_sa_format give a redacted view.
 *
 * Packet layout
 *  - mg_esp_encrypt_burst: each mbuf starts at the inner IPv4/IPv6 header on
 *    input and at the outer IPv4/IPv6 header on output (UDP header after it
 *    when the SA uses NAT-T). No L2 header: the caller adds it.
 *  - mg_esp_decrypt_burst / mg_esp_input_burst: each mbuf starts at the outer
 *    IP header on input, whether or not the SA uses UDP encapsulation (the UDP
 *    header, if any, follows the outer header), and at the inner IP header on
 *    output (l3_len and packet_type set for the inner header). Bytes past the
 *    outer IP length (Ethernet padding) are trimmed.
 *  - Single-segment mbufs only (meshgate's frames never span mbufs). Encrypt
 *    needs MG_ESP_HEADROOM bytes of headroom and MG_ESP_TAILROOM of tailroom.
 *
 * Burst contract (both directions): the return value is the number of packets
 * processed; they come first in the array. The failures follow, in no
 * particular order, and @c reasons[i] (enum mg_esp_err) tells why pkts[i]
 * failed, for i from the return value to n - 1. The caller owns and frees the
 * failures; every failure is also counted in the SA's counters.
 *
 * Threading
 *  - Main lcore only: mg_esp_create/destroy, SA create/destroy/retire,
 *    mg_esp_out_switch, mg_esp_poll. Counters and info may be read from any
 *    thread.
 *  - Workers: the burst calls, each with its own struct mg_esp_worker.
 *    Pointers returned by mg_esp_sa_lookup, mg_esp_out_get and the input
 *    calls are valid until the worker next reports quiescence to the RCU
 *    variable given in struct mg_esp_conf (once per graph walk).
 *
 * Several workers and one SA
 *  - Outbound: any worker may encrypt with any outbound SA at any time. The
 *    sequence numbers of a burst are reserved with one atomic fetch-and-add on
 *    the SA (RTE_IPSEC_SAFLAG_SQN_ATOM, outbound: lock free), so they are
 *    unique across workers; packets of one SA sent by two workers at once may
 *    leave slightly out of order (by at most the bursts in flight), which a
 *    receiver's window absorbs. Counters and lifetime accounting are per
 *    worker (lifetime budget taken from the SA in chunks, see
 *    mg_esp_sa_spec.lifetime).
 *  - Inbound: each inbound SA has one owner worker (chosen at creation, see
 *    mg_esp_sa_spec.owner); only the owner decrypts it, so its anti-replay
 *    window needs no lock and no atomics (as in VPP). A worker that receives
 *    a packet of an SA it does not own hands it to the owner through the
 *    owner's handoff ring (multi-producer, single-consumer rte_ring);
 *    mg_esp_input_burst does this, and the owner takes them back with
 *    mg_esp_handoff_input. Ring entries name the SA by table index and
 *    generation, so an SA deleted meanwhile is detected (MG_ESP_ERR_SA_GONE).
 *
 * Anti-replay: lib/esp keeps its own window per inbound SA (RFC 4303 3.4.3,
 * the bitmap of RFC 6479), owner-only. A packet is refused (MG_ESP_ERR_REPLAY)
 * before decryption when it is a duplicate or older than the window, and the
 * window moves only for packets that authenticated. librte_ipsec 22.11's own
 * window cannot be relied on: its update stores the bit in a uint32_t, so
 * replays of sequence numbers whose low six bits are 32..63 pass it
 * (ipsec_sqn.h, esn_inb_update_sqn; still so upstream). With ESN the high 32
 * bits are inferred as in RFC 4303 appendix A2.
 *
 * Rekeying by an external IKE daemon: install the new inbound SA (it is
 * found by SPI at once), then the new outbound SA with mg_esp_out_switch
 * (workers read the tunnel's outbound slot once per burst, so traffic moves
 * atomically and nothing is lost), destroy the old outbound SA, and retire the
 * old inbound SA with mg_esp_sa_retire: mg_esp_poll frees it once its traffic
 * stops or its grace period ends.
 *
 * Crypto: synchronous CPU crypto (RTE_SECURITY_ACTION_TYPE_CPU_CRYPTO) or
 * lookaside cryptodev (enqueue/dequeue on the worker's queue pair) per
 * algorithm, chosen from measurements (tools/bench.d/esp_bench.sh); see
 * mg_esp_default_mode. The burst calls wait for a lookaside burst to come
 * back; the *_submit calls and mg_esp_dequeue_burst (the graph's) do not.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "mg_addr.h"
#include "mg_common.h"
#include "mg_esp_algos.h"

struct rte_rcu_qsbr;
struct mg_esp;
struct mg_esp_sa;
struct mg_esp_worker;

#define MG_ESP_MAX_WORKERS 64   /**< Workers one context serves. */
#define MG_ESP_MAX_BURST 256    /**< Largest burst the burst calls take. */
#define MG_ESP_KEY_MAX 32       /**< Longest cipher key (AES-256, ChaCha20). */
#define MG_ESP_AUTH_KEY_MAX 32  /**< HMAC-SHA-256 key (RFC 4868). */
#define MG_ESP_SALT_LEN 4       /**< Salt of AES-GCM (RFC 4106) and ChaCha20-Poly1305 (RFC 7634). */
#define MG_ESP_DEFAULT_PORT 4500 /**< NAT-T UDP port (RFC 3948). */
#define MG_ESP_WINDOW_MIN 64    /**< Smallest anti-replay window. */
#define MG_ESP_WINDOW_MAX 4096  /**< Largest anti-replay window. */
/** Headroom encryption needs: IPv6 + UDP + ESP header + 16-byte IV. */
#define MG_ESP_HEADROOM (40 + 8 + 8 + 16)
/** Tailroom encryption needs: padding, trailer, ICV, ESN high bits, AAD scratch. */
#define MG_ESP_TAILROOM (16 + 2 + 16 + 4 + 16)

/* ---- algorithms: see mg_esp_algos.h ------------------------------------------------ */

/** Name of an algorithm ("aes-gcm-128"), or NULL. */
const char *mg_esp_algo_name(enum mg_esp_algo algo);
/** Algorithm named @p name; 0 and @p algo set, or -EINVAL. */
int mg_esp_algo_parse(const char *name, enum mg_esp_algo *algo);

/* ---- per-packet reasons ----------------------------------------------------------- */

/** Why a packet failed: enum suffix, counter name, description. */
#define MG_ESP_ERRORS(_)                                                                    \
	_(NONE, "esp-ok", "processed")                                                      \
	_(AUTH, "esp-auth-failed", "integrity check value (ICV) did not verify")           \
	_(REPLAY, "esp-replay", "sequence number already seen or left of the window")      \
	_(BAD_TRAILER, "esp-bad-trailer", "padding or next header wrong after decryption")   \
	_(BAD_LENGTH, "esp-bad-length", "ESP payload too short or not block aligned")      \
	_(BAD_OUTER, "esp-bad-outer", "outer header malformed or not the SA's (family, addresses, protocol, port, fragment)") \
	_(BAD_INNER, "esp-bad-inner", "inner packet not an IP packet of the SA's inner family") \
	_(EXPIRED, "esp-sa-expired", "SA reached a hard lifetime or was stopped (IKE deleted it)") \
	_(SEQ_OVERFLOW, "esp-seq-overflow", "outbound sequence numbers exhausted")         \
	_(NO_ROOM, "esp-no-room", "multi-segment mbuf or too little head/tailroom")        \
	_(CRYPTO, "esp-crypto-error", "crypto device refused or failed the operation")     \
	_(ECN, "esp-ecn-drop", "outer CE on a not-ECT inner packet (RFC 6040)")            \
	_(NOT_OWNER, "esp-not-owner", "inbound SA used on a worker that does not own it")  \
	_(SA_GONE, "esp-sa-gone", "SA deleted while the packet waited in a handoff ring")  \
	_(HANDOFF_FULL, "esp-handoff-full", "owner worker's handoff ring full")            \
	_(NO_SA, "esp-no-sa", "no inbound SA has this SPI")                                \
	_(NOT_ESP, "esp-not-esp", "UDP-encapsulated IKE or NAT keepalive, not ESP")        \
	_(WRONG_SA, "esp-wrong-sa", "SA of the wrong direction or SPI for this packet")     \
	_(DRAINED, "esp-drained", "in flight in the crypto device when the gateway stopped") \
	_(DUMMY, "esp-dummy", "dummy packet (next header 59, RFC 4303 2.6): authentic, discarded")

/** A per-packet failure reason (values fit a uint8_t). */
enum mg_esp_err {
#define MG_ESP_ERR_ENUM(e, n, d) MG_ESP_ERR_##e,
	MG_ESP_ERRORS(MG_ESP_ERR_ENUM)
#undef MG_ESP_ERR_ENUM
	MG_ESP_ERR_MAX
};

/** Counter name of a reason ("esp-replay"). */
const char *mg_esp_err_name(unsigned int err);
/** One-line description of a reason. */
const char *mg_esp_err_desc(unsigned int err);

/* ---- the context ------------------------------------------------------------------ */

/** How an SA's packets reach the crypto code. */
enum mg_esp_mode {
	MG_ESP_MODE_AUTO = 0,   /**< The measured best for the algorithm (mg_esp_default_mode). */
	MG_ESP_MODE_CPU,        /**< Synchronous CPU crypto in the calling worker. */
	MG_ESP_MODE_LOOKASIDE,  /**< Cryptodev enqueue/dequeue on the worker's queue pair. */
	/**
	 * AES-GCM and ChaCha20-Poly1305: this library's own ESP framing and
	 * intel-ipsec-mb's AEAD called directly in the calling worker (no
	 * crypto device, no librte_ipsec SA); AUTO's choice for them unless a
	 * driver is set.
	 */
	MG_ESP_MODE_DIRECT,
};

/** "auto", "cpu", "lookaside" or "direct". */
const char *mg_esp_mode_name(enum mg_esp_mode mode);

/** Context configuration. Zero means the default for every field. */
struct mg_esp_conf {
	/** Workers (1..MG_ESP_MAX_WORKERS); worker i runs on lcores[i]. */
	unsigned int nb_workers;
	/** Lcore of each worker, for the threading assertions. */
	unsigned int lcores[MG_ESP_MAX_WORKERS];
	/** SA table size (default 1024). */
	uint32_t max_sas;
	/** Entries of each worker's handoff ring (power of two, default 1024). */
	uint32_t handoff_size;
	/** Workers' RCU variable (thread id = worker index); NULL: the caller keeps workers off freed SAs. */
	struct rte_rcu_qsbr *rcu;
	/** NUMA socket for memory and devices (default: the caller's). */
	int socket_id;
	/** Use only this crypto driver (e.g. "crypto_openssl"); NULL: the built-in preference. */
	const char *driver;
	/** Mode for every SA whose spec says MG_ESP_MODE_AUTO (default: per algorithm). */
	enum mg_esp_mode mode;
	/** Called after packets were handed to a worker (e.g. to wake it); may be NULL. */
	void (*wake)(void *arg, unsigned int worker);
	/** Argument of @c wake. */
	void *wake_arg;
};

/**
 * Create the context (main lcore, after rte_eal_init). Finds or creates the
 * crypto devices lazily, when the first SA needs them.
 *
 * @return the context, or NULL with @p err filled.
 */
struct mg_esp *mg_esp_create(const struct mg_esp_conf *conf, struct mg_error *err);

/**
 * Destroy the context and every SA still in it (main lcore; workers stopped
 * or off every SA). Stops and closes the crypto devices it set up, removing
 * the vdevs it created. NULL is a no-op.
 */
void mg_esp_destroy(struct mg_esp *esp);

/** The handle of worker @p index (0..nb_workers-1), or NULL. */
struct mg_esp_worker *mg_esp_worker(struct mg_esp *esp, unsigned int index);

/** The mode AUTO picks for @p algo on this machine (from the benchmark). */
enum mg_esp_mode mg_esp_default_mode(enum mg_esp_algo algo);

/* ---- SAs -------------------------------------------------------------------------- */

/** Direction of an SA. */
enum mg_esp_dir {
	MG_ESP_OUTBOUND = 0,  /**< Encrypt: inner packets in, ESP out. */
	MG_ESP_INBOUND,       /**< Decrypt: ESP in, inner packets out. */
};

/** Outer DF bit (IPv4 outer header only). */
enum mg_esp_df {
	MG_ESP_DF_COPY = 0,   /**< From an inner IPv4 header; set for inner IPv6. */
	MG_ESP_DF_SET,        /**< Always set. */
	MG_ESP_DF_CLEAR,      /**< Always clear. */
};

/** Outer DSCP on encapsulation. */
enum mg_esp_dscp {
	MG_ESP_DSCP_COPY = 0, /**< Copy the inner DSCP (RFC 2983 uniform model). */
	MG_ESP_DSCP_SET,      /**< Use mg_esp_sa_spec.dscp. */
};

/** ECN handling (RFC 6040). */
enum mg_esp_ecn {
	MG_ESP_ECN_NORMAL = 0, /**< Normal mode: copy ECN out; on decapsulation CE and ECT(1) go in, CE on not-ECT drops. */
	MG_ESP_ECN_COMPAT,     /**< Compatibility mode: outer Not-ECT; decapsulation as in normal mode. */
	MG_ESP_ECN_OFF,        /**< Outer Not-ECT and the inner header left alone. */
};

/** A soft and a hard limit; 0 means none. The soft limit must be below the hard one. */
struct mg_esp_limit {
	uint64_t soft;  /**< Crossing it raises MG_ESP_EV_SOFT (once). */
	uint64_t hard;  /**< Reaching it stops the SA: its packets fail with MG_ESP_ERR_EXPIRED. */
};

/**
 * Everything an SA is made of. Zero-initialise, then fill: zero means the
 * default where one is given.
 */
struct mg_esp_sa_spec {
	/** SPI (256 and above; an inbound SPI is unique in the context). */
	uint32_t spi;
	/** Direction. */
	enum mg_esp_dir dir;
	/** This gateway's tunnel endpoint; its family is the outer family. */
	struct mg_ip local;
	/** The peer's tunnel endpoint (same family as @c local). */
	struct mg_ip remote;
	/** Inner family: AF_INET or AF_INET6 (one per SA, as librte_ipsec requires). */
	uint8_t inner_family;
	/** Algorithm. */
	enum mg_esp_algo algo;
	/** Cipher key (length per algorithm; none for NULL_SHA256). */
	uint8_t enc_key[MG_ESP_KEY_MAX];
	/** Bytes used in @c enc_key. */
	uint8_t enc_key_len;
	/** HMAC-SHA-256 key for the CBC and NULL algorithms (32 bytes). */
	uint8_t auth_key[MG_ESP_AUTH_KEY_MAX];
	/** Bytes used in @c auth_key. */
	uint8_t auth_key_len;
	/** Salt of AES-GCM and ChaCha20-Poly1305: the 4 bytes after the key in IKE's keying material. */
	uint8_t salt[MG_ESP_SALT_LEN];
	/**
	 * Anti-replay window W in packets, MG_ESP_WINDOW_MIN..MAX (default 64;
	 * inbound only): the W sequence numbers up to the highest one seen are
	 * accepted once each, anything older is refused.
	 */
	uint32_t replay_window;
	/** Extended (64-bit) sequence numbers (RFC 4304). */
	bool esn;
	/**
	 * Inbound: no anti-replay check (RFC 4303 3.4.3 lets a receiver turn it
	 * off, e.g. for manually keyed SAs; benchmarks replaying a looped
	 * capture need it). Off by default.
	 */
	bool no_replay;
	/**
	 * Outbound: the first sequence number to send (default 1). Inbound: the
	 * highest sequence number already seen (default 0). For tests and for
	 * resuming an SA. Without ESN the last number sent is 2^32-2 (librte_ipsec
	 * stops one short of the 32-bit space); then MG_ESP_ERR_SEQ_OVERFLOW.
	 */
	uint64_t initial_seq;
	/** UDP encapsulation (NAT-T, RFC 3948). */
	bool udp_encap;
	/** Our UDP port (default 4500): the source port out, the destination port checked in. */
	uint16_t local_port;
	/** The peer's UDP port (default 4500): the destination port out; not checked in (NATs change it). */
	uint16_t remote_port;
	/** Outer DSCP on encapsulation. */
	enum mg_esp_dscp dscp_mode;
	/** DSCP (0..63) for MG_ESP_DSCP_SET. */
	uint8_t dscp;
	/** ECN handling. */
	enum mg_esp_ecn ecn_mode;
	/** Outer DF bit. */
	enum mg_esp_df df_mode;
	/** Outer TTL / hop limit (default 64). */
	uint8_t ttl;
	/**
	 * Lifetime in packets. Hard limits on packets and bytes are exact: each
	 * worker takes a share of the remaining budget at a time, so the SA never
	 * goes past it, whatever the number of workers.
	 */
	struct mg_esp_limit packets;
	/** Lifetime in bytes of inner IP packets (plaintext), as counted in the stats. */
	struct mg_esp_limit bytes;
	/** Lifetime in seconds from creation (enforced by mg_esp_poll). */
	struct mg_esp_limit seconds;
	/** Inbound: the owner worker; -1 picks the worker owning the fewest SAs. */
	int owner;
	/** Crypto mode (default AUTO). */
	enum mg_esp_mode mode;
	/** Opaque value for the caller (tunnel id...), returned in events and info. */
	uint64_t user;
};

/**
 * Create an SA (main lcore). Validates @p spec, copies its keys, creates the
 * crypto session and the librte_ipsec SA; an inbound SA is findable by SPI as
 * soon as this returns. @p spec may be wiped by the caller afterwards.
 *
 * @return the SA, or NULL with @p err filled (field names as in the spec).
 */
struct mg_esp_sa *mg_esp_sa_create(struct mg_esp *esp, const struct mg_esp_sa_spec *spec,
				   struct mg_error *err);

/**
 * Delete an SA now (main lcore): unpublish it, wait for the workers (RCU,
 * when configured) and for its packets in flight to come back (a bounded
 * wait; if the workers do not take them back, the SA is freed later by
 * mg_esp_poll or mg_esp_drain), wipe its keys and free it. The caller must
 * have removed it from every mg_esp_out slot first. NULL is a no-op.
 */
void mg_esp_sa_destroy(struct mg_esp *esp, struct mg_esp_sa *sa);

/**
 * Retire an inbound SA after a rekey (main lcore): it keeps decrypting, and
 * mg_esp_poll deletes it (MG_ESP_EV_RETIRED) once no packet arrived for
 * @p idle_ms, or at the latest after @p grace_ms.
 */
int mg_esp_sa_retire(struct mg_esp *esp, struct mg_esp_sa *sa, uint32_t idle_ms,
		     uint32_t grace_ms);

/**
 * Stop @p sa now (main lcore), as a hard lifetime would: its packets fail
 * with MG_ESP_ERR_EXPIRED from here on, but no MG_ESP_EV_HARD is raised
 * (its keys were withdrawn: the IKE daemon deleted the CHILD_SA or lost the
 * peer). A later rekey replaces it as usual. NULL is a no-op.
 */
void mg_esp_sa_stop(struct mg_esp *esp, struct mg_esp_sa *sa);

/**
 * The inbound SA with @p spi (host byte order), or NULL. Workers, within an
 * RCU read side; or the main lcore.
 */
struct mg_esp_sa *mg_esp_sa_lookup(const struct mg_esp *esp, uint32_t spi);

/** Direction of @p sa. */
enum mg_esp_dir mg_esp_sa_dir(const struct mg_esp_sa *sa);
/** SPI of @p sa (host byte order). */
uint32_t mg_esp_sa_spi(const struct mg_esp_sa *sa);
/** Owner worker of an inbound SA. */
unsigned int mg_esp_sa_owner(const struct mg_esp_sa *sa);
/** The caller's value from the spec. */
uint64_t mg_esp_sa_user(const struct mg_esp_sa *sa);

/* ---- outbound slots (rekeying) ------------------------------------------------------- */

/** Where workers find a tunnel's current outbound SA. Embed one per tunnel, zeroed. */
struct mg_esp_out {
	struct mg_esp_sa *sa; /**< Current outbound SA; read with mg_esp_out_get. */
};

/** The current outbound SA of a slot, or NULL (workers, once per burst). */
static inline struct mg_esp_sa *
mg_esp_out_get(const struct mg_esp_out *o)
{
	return __atomic_load_n(&o->sa, __ATOMIC_ACQUIRE);
}

/**
 * Point @p o at outbound SA @p sa (or NULL) atomically, then wait until no
 * worker still uses the previous one (RCU, when configured). Main lcore.
 *
 * @return the previous SA: no longer in use, the caller may destroy it.
 */
struct mg_esp_sa *mg_esp_out_switch(struct mg_esp *esp, struct mg_esp_out *o,
				    struct mg_esp_sa *sa);

/* ---- the data path ------------------------------------------------------------------- */

/**
 * Encrypt a burst of inner IP packets with outbound SA @p sa into ESP tunnel
 * packets (worker @p wk, any worker).
 *
 * @param wk       the calling worker's handle.
 * @param sa       an outbound SA.
 * @param pkts     @p n mbufs starting at the inner IP header; on return the
 *                 processed ones first, starting at the outer IP header
 *                 (l2_len 0, l3_len the outer IP header's length), the
 *                 failures after them, unchanged or partly built.
 * @param n        number of packets, at most MG_ESP_MAX_BURST.
 * @param reasons  @p n entries or NULL: reasons[i] for each failure.
 * @return the number of packets processed.
 */
uint16_t mg_esp_encrypt_burst(struct mg_esp_worker *wk, struct mg_esp_sa *sa,
			      struct rte_mbuf **pkts, uint16_t n, uint8_t *reasons);

/**
 * Decrypt a burst of ESP packets of inbound SA @p sa (its owner worker only).
 *
 * @param pkts  @p n mbufs starting at the outer IP header; on return the
 *              processed ones first, starting at the inner IP header, then
 *              the failures.
 * @return the number of packets processed; reasons as for encryption.
 */
uint16_t mg_esp_decrypt_burst(struct mg_esp_worker *wk, struct mg_esp_sa *sa,
			      struct rte_mbuf **pkts, uint16_t n, uint8_t *reasons);

/**
 * Receive path of a worker: find each packet's inbound SA by SPI (raw ESP or
 * UDP-encapsulated), decrypt the packets of SAs this worker owns and hand the
 * others to their owners.
 *
 * @param pkts        @p n mbufs starting at the outer IP header. On return:
 *                    pkts[0 .. ret-1] decrypted (inner IP header first), then
 *                    failures up to n - *nb_handoff; the handed-off packets
 *                    are no longer the caller's and no longer in the array.
 * @param sas         @p n entries or NULL: the SA of each packet left in the
 *                    array (NULL for MG_ESP_ERR_NO_SA and MG_ESP_ERR_NOT_ESP).
 * @param reasons     @p n entries or NULL.
 * @param nb_handoff  set to the number of packets handed off.
 * @return the number of packets decrypted.
 */
uint16_t mg_esp_input_burst(struct mg_esp_worker *wk, struct rte_mbuf **pkts, uint16_t n,
			    struct mg_esp_sa **sas, uint8_t *reasons, uint16_t *nb_handoff);

/**
 * Take up to @p n packets other workers handed to this one and decrypt them;
 * same contract as mg_esp_input_burst (nothing is handed off again).
 *
 * @return the number of packets decrypted; *nb_taken says how many entries of
 *         @p pkts were filled.
 */
uint16_t mg_esp_handoff_input(struct mg_esp_worker *wk, struct rte_mbuf **pkts, uint16_t n,
			      struct mg_esp_sa **sas, uint8_t *reasons, uint16_t *nb_taken);

/**
 * Hand @p n packets of inbound SA @p sa to its owner's ring.
 *
 * @return how many were enqueued (the first ones); the rest stay the caller's
 *         (MG_ESP_ERR_HANDOFF_FULL, counted).
 */
uint16_t mg_esp_handoff(struct mg_esp_worker *wk, struct mg_esp_sa *sa,
			struct rte_mbuf **pkts, uint16_t n);

/* ---- the data path, asynchronous ------------------------------------------------------ */

/*
 * The graph's variants of the calls above. SAs in CPU mode are processed
 * at once, exactly as there. SAs in LOOKASIDE mode are checked, prepared and
 * enqueued on the worker's queue pair of the SA's crypto device, and the
 * call returns: those packets leave the caller's array (lib/esp holds them,
 * with their SA and facts in the crypto op) until the same worker takes
 * them back, finished, from mg_esp_dequeue_burst (call it every graph walk).
 * A queue pair is FIFO, so packets of one SA come back in the order they
 * went in; the anti-replay window is checked at enqueue and marked at
 * dequeue, so a duplicate in flight fails as MG_ESP_ERR_REPLAY.
 *
 * An SA stays allocated while any of its packets is in flight:
 * mg_esp_sa_destroy waits for the workers to take them back. At shutdown,
 * with the workers stopped, mg_esp_drain frees what is left
 * (MG_ESP_ERR_DRAINED); mg_esp_destroy calls it.
 */

/**
 * mg_esp_encrypt_burst, lookaside SAs asynchronously.
 *
 * @param nb_async  set to the number of packets enqueued; they left @p pkts,
 *                  which holds n - *nb_async packets: the processed ones
 *                  first (CPU mode), then the failures with their reasons.
 * @return the number of packets processed now.
 */
uint16_t mg_esp_encrypt_submit(struct mg_esp_worker *wk, struct mg_esp_sa *sa,
			       struct rte_mbuf **pkts, uint16_t n, uint8_t *reasons,
			       uint16_t *nb_async);

/**
 * mg_esp_input_burst, lookaside SAs asynchronously: *nb_left counts the
 * packets handed off and those enqueued; the array holds n - *nb_left.
 */
uint16_t mg_esp_input_submit(struct mg_esp_worker *wk, struct rte_mbuf **pkts, uint16_t n,
			     struct mg_esp_sa **sas, uint8_t *reasons, uint16_t *nb_left);

/**
 * mg_esp_handoff_input, lookaside SAs asynchronously: *nb_out says how many
 * entries of @p pkts were filled (packets taken from the ring minus those
 * enqueued).
 */
uint16_t mg_esp_handoff_submit(struct mg_esp_worker *wk, struct rte_mbuf **pkts, uint16_t n,
			       struct mg_esp_sa **sas, uint8_t *reasons, uint16_t *nb_out);

/**
 * Take back up to @p max packets (at most MG_ESP_MAX_BURST) whose crypto
 * completed on this worker's queue pairs, and finish them (both directions,
 * any SAs).
 *
 * @param pkts     on return: pkts[0 .. ret-1] processed (outbound: outer IP
 *                 header first; inbound: inner), then failures up to *nb.
 * @param sas      the SA of each packet (for its direction and user value;
 *                 valid until the worker's next quiescent state).
 * @param reasons  reasons of the failures.
 * @param nb       set to the number of entries filled.
 * @return the number processed.
 */
uint16_t mg_esp_dequeue_burst(struct mg_esp_worker *wk, struct rte_mbuf **pkts, uint16_t max,
			      struct mg_esp_sa **sas, uint8_t *reasons, uint16_t *nb);

/** Packets @p wk has in flight in the crypto devices (that worker; others: racy). */
unsigned int mg_esp_worker_inflight(const struct mg_esp_worker *wk);

/** Packets in flight in the crypto devices, all workers (any thread; racy). */
unsigned int mg_esp_inflight(const struct mg_esp *esp);

/** Crypto ops out of the context's op pool (0 when nothing is in flight; any thread, racy). */
unsigned int mg_esp_ops_in_use(const struct mg_esp *esp);

/**
 * Free every packet still in flight (main lcore, workers stopped: it
 * dequeues from their queue pairs), each counted as MG_ESP_ERR_DRAINED on
 * its SA. Returns how many.
 */
unsigned int mg_esp_drain(struct mg_esp *esp);

/** What a received UDP/IP or ESP/IP packet is, for mg_esp_parse_spi. */
enum mg_esp_kind {
	MG_ESP_KIND_ESP = 0,    /**< ESP, raw or UDP-encapsulated: the SPI was read. */
	MG_ESP_KIND_IKE,        /**< UDP with the non-ESP marker (IKE on port 4500). */
	MG_ESP_KIND_KEEPALIVE,  /**< NAT keepalive (one 0xff byte). */
	MG_ESP_KIND_INVALID,    /**< Too short, malformed, or neither ESP nor UDP. */
};

/**
 * Classify a packet starting at its outer IP header and read its SPI (host
 * byte order) when it is ESP.
 */
enum mg_esp_kind mg_esp_parse_spi(const struct rte_mbuf *m, uint32_t *spi);

/* ---- counters, events, info ---------------------------------------------------------- */

/** Counters of one SA, summed over the workers. */
struct mg_esp_sa_stats {
	uint64_t packets;                 /**< Processed packets. */
	uint64_t bytes;                   /**< Their inner IP bytes. */
	uint64_t replay;                  /**< errors[MG_ESP_ERR_REPLAY]. */
	uint64_t auth;                    /**< errors[MG_ESP_ERR_AUTH]. */
	uint64_t other;                   /**< Every other failure. */
	uint64_t errors[MG_ESP_ERR_MAX];  /**< Failures by reason. */
};

/** Sum the per-worker counters of @p sa (any thread; a racy but monotonic snapshot). */
void mg_esp_sa_stats(const struct mg_esp_sa *sa, struct mg_esp_sa_stats *st);

/** What happened to an SA. */
enum mg_esp_event_type {
	MG_ESP_EV_SOFT = 1, /**< A soft lifetime was crossed: time to rekey. */
	MG_ESP_EV_HARD,     /**< A hard lifetime was reached: the SA stopped. */
	MG_ESP_EV_RETIRED,  /**< A retired SA was deleted (event.sa is NULL). */
};

/** Which lifetime an event is about. */
enum mg_esp_limit_kind {
	MG_ESP_LIMIT_NONE = 0,  /**< Not a lifetime event. */
	MG_ESP_LIMIT_PACKETS,   /**< mg_esp_sa_spec.packets. */
	MG_ESP_LIMIT_BYTES,     /**< mg_esp_sa_spec.bytes. */
	MG_ESP_LIMIT_SECONDS,   /**< mg_esp_sa_spec.seconds. */
	MG_ESP_LIMIT_SEQUENCE,  /**< Outbound 32-bit sequence space (soft at 7/8, hard when exhausted). */
};

/** An event for the main lcore. */
struct mg_esp_event {
	enum mg_esp_event_type type;   /**< What happened. */
	enum mg_esp_limit_kind limit;  /**< Which lifetime, for SOFT and HARD. */
	struct mg_esp_sa *sa;          /**< The SA (NULL for RETIRED). */
	uint32_t spi;                  /**< Its SPI. */
	enum mg_esp_dir dir;           /**< Its direction. */
	uint64_t user;                 /**< mg_esp_sa_spec.user. */
};

/**
 * Main lcore, periodically (say every 100 ms): check lifetimes and retired
 * SAs, delete retired SAs that are done, and report what happened.
 *
 * @return the number of events written to @p ev (at most @p max; the others
 *         come at the next call).
 */
unsigned int mg_esp_poll(struct mg_esp *esp, struct mg_esp_event *ev, unsigned int max);

/** mg_esp_poll with the clock given (nanoseconds, as mg_now_ns), for tests. */
unsigned int mg_esp_poll_at(struct mg_esp *esp, uint64_t now_ns, struct mg_esp_event *ev,
			    unsigned int max);

/**
 * Where an SA's sequence numbers stand, to resume it (mg_esp_sa_spec.initial_seq)
 * after a restart. Outbound: a number above every sequence number sent so far
 * (the first one to send when resuming; an upper bound, never below). Inbound:
 * the highest authenticated sequence number (0: none yet). Main lcore; racy but
 * monotonic while workers run.
 */
uint64_t mg_esp_sa_seq(const struct mg_esp_sa *sa);

/** State of an SA. */
enum mg_esp_state {
	MG_ESP_STATE_ACTIVE = 0, /**< Processing packets. */
	MG_ESP_STATE_RETIRING,   /**< Inbound, replaced: still processing, deleted when idle. */
	MG_ESP_STATE_EXPIRED,    /**< A hard lifetime was reached, or stopped: every packet fails. */
};

/** A redacted view of an SA: everything but the keys. */
struct mg_esp_sa_info {
	uint32_t id;                   /**< Index in the context's SA table. */
	uint32_t spi;                  /**< SPI. */
	enum mg_esp_dir dir;           /**< Direction. */
	enum mg_esp_algo algo;         /**< Algorithm. */
	uint16_t key_bits;             /**< Cipher key size in bits (the key itself is never shown). */
	struct mg_ip local;            /**< Our endpoint. */
	struct mg_ip remote;           /**< The peer's endpoint. */
	uint8_t inner_family;          /**< AF_INET or AF_INET6. */
	bool udp_encap;                /**< NAT-T. */
	uint16_t local_port;           /**< Our UDP port. */
	uint16_t remote_port;          /**< The peer's UDP port. */
	uint32_t replay_window;        /**< Window size. */
	bool esn;                      /**< Extended sequence numbers. */
	enum mg_esp_dscp dscp_mode;    /**< DSCP handling. */
	uint8_t dscp;                  /**< DSCP for MG_ESP_DSCP_SET. */
	enum mg_esp_ecn ecn_mode;      /**< ECN handling. */
	enum mg_esp_df df_mode;        /**< DF handling. */
	uint8_t ttl;                   /**< Outer TTL / hop limit. */
	struct mg_esp_limit packets;   /**< Lifetime in packets. */
	struct mg_esp_limit bytes;     /**< Lifetime in bytes. */
	struct mg_esp_limit seconds;   /**< Lifetime in seconds. */
	enum mg_esp_state state;       /**< State. */
	unsigned int owner;            /**< Owner worker (inbound). */
	enum mg_esp_mode mode;         /**< CPU, LOOKASIDE or DIRECT (never AUTO here). */
	char device[32];               /**< Crypto device name ("intel-ipsec-mb" for DIRECT). */
	uint64_t age_ms;               /**< Since creation. */
	uint64_t user;                 /**< mg_esp_sa_spec.user. */
};

/** Fill @p info (main lcore, or any thread holding the SA). */
void mg_esp_sa_info(const struct mg_esp_sa *sa, struct mg_esp_sa_info *info);

/**
 * Write the SA and its counters as one JSON object to @p buf (keys shown as
 * "<redacted>"). Returns the length snprintf would have written.
 */
int mg_esp_sa_format(const struct mg_esp_sa *sa, char *buf, size_t size);

/* ---- sizes ------------------------------------------------------------------------- */

/**
 * Length of the outer packet that carries an inner packet of @p inner_len
 * bytes (outer IP header, UDP header if any, ESP header, IV, padding,
 * trailer, ICV).
 */
unsigned int mg_esp_outer_len(enum mg_esp_algo algo, int outer_family, bool udp_encap,
			      unsigned int inner_len);

/**
 * The largest inner packet whose ESP packet fits @p path_mtu: the tunnel's
 * payload MTU. 0 if none does.
 */
unsigned int mg_esp_inner_mtu(enum mg_esp_algo algo, int outer_family, bool udp_encap,
			      unsigned int path_mtu);

/** mg_esp_inner_mtu for the algorithm, family and encapsulation of @p sa. */
unsigned int mg_esp_sa_inner_mtu(const struct mg_esp_sa *sa, unsigned int path_mtu);

#endif /* MG_ESP_H */
