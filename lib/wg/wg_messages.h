/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef WG_MESSAGES_H
#define WG_MESSAGES_H

/**
 * @file
 * WireGuard on the wire: the four message layouts and every protocol
 * constant, as the WireGuard paper (section 5 and 6) defines them. Multi-byte
 * integer fields are little-endian on the wire; the structs hold them as
 * plain integers that must be converted with rte_cpu_to_le_32() and friends.
 */

#include <assert.h>
#include <stdint.h>

/** Message types (the first byte; the next three are zero). */
enum wg_message_type {
	WG_MSG_INVALID = 0,
	WG_MSG_INITIATION = 1,
	WG_MSG_RESPONSE = 2,
	WG_MSG_COOKIE = 3,
	WG_MSG_DATA = 4,
};

/** Sizes of the cryptographic fields. */
enum wg_sizes {
	WG_KEY_LEN = 32,            /* X25519 keys, symmetric keys, preshared key. */
	WG_HASH_LEN = 32,           /* BLAKE2s-256 output. */
	WG_MAC_LEN = 16,            /* Keyed BLAKE2s-128 output (mac1, mac2, cookie). */
	WG_AEAD_TAG_LEN = 16,       /* Poly1305 tag. */
	WG_TIMESTAMP_LEN = 12,      /* TAI64N. */
	WG_COOKIE_LEN = 16,         /* The cookie tau. */
	WG_COOKIE_NONCE_LEN = 24,   /* XChaCha20-Poly1305 nonce. */
	WG_DATA_HEADER_LEN = 16,    /* type, receiver, counter. */
	WG_DATA_MIN_LEN = WG_DATA_HEADER_LEN + WG_AEAD_TAG_LEN, /* A keepalive. */
	WG_PADDING_MULTIPLE = 16,   /* Plaintext is zero-padded to a multiple of this. */
};

/**
 * Message counts of one session (paper, section 6.1). 64-bit values: this
 * relies on GCC's enums wider than int, as the Linux module does.
 */
enum wg_message_limits {
	WG_REKEY_AFTER_MESSAGES = 1ULL << 60,
	WG_REJECT_AFTER_MESSAGES = ~0ULL - (1ULL << 13),  /* 2^64 - 2^13 - 1 */
};

/** Other protocol limits. */
enum wg_limits {
	WG_REPLAY_WINDOW = 2048,           /* Counters accepted behind the highest seen. */
	WG_MAX_TIMER_HANDSHAKES = 90 / 5,  /* REKEY_ATTEMPT_TIME / REKEY_TIMEOUT. */
	WG_INITIATIONS_PER_SECOND = 50,    /* Per peer, the most initiations consumed. */
	WG_HANDSHAKES_PER_SECOND = 20,     /* Per source, under load. */
	WG_HANDSHAKES_BURSTABLE = 5,
};

/** Protocol times, in seconds unless the name says otherwise (paper, 6.1). */
enum wg_times {
	WG_REKEY_AFTER_TIME = 120,
	WG_REJECT_AFTER_TIME = 180,
	WG_REKEY_ATTEMPT_TIME = 90,
	WG_REKEY_TIMEOUT = 5,
	WG_REKEY_TIMEOUT_JITTER_MAX_MS = 334,
	WG_KEEPALIVE_TIMEOUT = 10,
	WG_COOKIE_SECRET_MAX_AGE = 120,    /* COOKIE_REFRESH: the checker's secret. */
	WG_COOKIE_SECRET_LATENCY = 5,      /* A cookie is used this much less long. */
	WG_RATELIMIT_IDLE = 1,             /* A source forgotten after this idle time. */
};

/** mac1 and mac2, at the end of initiation and response messages. */
struct wg_msg_macs {
	uint8_t mac1[WG_MAC_LEN];   /**< Keyed BLAKE2s over the message before mac1. */
	uint8_t mac2[WG_MAC_LEN];   /**< Keyed BLAKE2s with the cookie over all before mac2. */
} __attribute__((packed));

/** Handshake initiation, initiator to responder (148 bytes). */
struct wg_msg_initiation {
	uint32_t type;              /**< WG_MSG_INITIATION, little-endian, three zero bytes. */
	uint32_t sender;            /**< The initiator's index for this handshake. */
	uint8_t ephemeral[WG_KEY_LEN];                      /**< Initiator's ephemeral public key. */
	uint8_t encrypted_static[WG_KEY_LEN + WG_AEAD_TAG_LEN];      /**< AEAD(initiator static). */
	uint8_t encrypted_timestamp[WG_TIMESTAMP_LEN + WG_AEAD_TAG_LEN]; /**< AEAD(TAI64N). */
	struct wg_msg_macs macs;    /**< mac1 and mac2. */
} __attribute__((packed));

/** Handshake response, responder to initiator (92 bytes). */
struct wg_msg_response {
	uint32_t type;              /**< WG_MSG_RESPONSE. */
	uint32_t sender;            /**< The responder's index for the session. */
	uint32_t receiver;          /**< The initiation's sender index. */
	uint8_t ephemeral[WG_KEY_LEN];                  /**< Responder's ephemeral public key. */
	uint8_t encrypted_nothing[WG_AEAD_TAG_LEN];     /**< AEAD of the empty string. */
	struct wg_msg_macs macs;    /**< mac1 and mac2. */
} __attribute__((packed));

/** Cookie reply, sent instead of a response when under load (64 bytes). */
struct wg_msg_cookie {
	uint32_t type;              /**< WG_MSG_COOKIE. */
	uint32_t receiver;          /**< Sender index of the message it answers. */
	uint8_t nonce[WG_COOKIE_NONCE_LEN];                      /**< XChaCha20 nonce. */
	uint8_t encrypted_cookie[WG_COOKIE_LEN + WG_AEAD_TAG_LEN]; /**< XAEAD(cookie), AD = mac1. */
} __attribute__((packed));

/** Transport data header; the encrypted packet and its tag follow (16 + n + 16 bytes). */
struct wg_msg_data {
	uint32_t type;              /**< WG_MSG_DATA. */
	uint32_t receiver;          /**< The receiver's index of the session keypair. */
	uint64_t counter;           /**< Nonce counter, little-endian. */
} __attribute__((packed));

static_assert(sizeof(struct wg_msg_initiation) == 148, "initiation is 148 bytes");
static_assert(sizeof(struct wg_msg_response) == 92, "response is 92 bytes");
static_assert(sizeof(struct wg_msg_cookie) == 64, "cookie reply is 64 bytes");
static_assert(sizeof(struct wg_msg_data) == WG_DATA_HEADER_LEN, "data header is 16 bytes");

/** Noise protocol name, hashed into the initial chaining key. */
#define WG_CONSTRUCTION "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
/** WireGuard's identifier, hashed into the initial hash. */
#define WG_IDENTIFIER "WireGuard v1 zx2c4 Jason@zx2c4.com"
/** Label of the mac1 key: HASH(LABEL_MAC1 || receiver's static public key). */
#define WG_LABEL_MAC1 "mac1----"
/** Label of the cookie encryption key: HASH(LABEL_COOKIE || static public key). */
#define WG_LABEL_COOKIE "cookie--"

#endif /* WG_MESSAGES_H */
