/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_IKE_H
#define MG_IKE_H

/**
 * @file
 * IKEv2 (RFC 7296) key management for meshgate's ESP tunnels: the protocol
 * engine, free of DPDK (OpenSSL 3's libcrypto only), driven by the main lcore.
 *
 * What it does
 *  - IKE_SA_INIT and IKE_AUTH with the first CHILD_SA, as initiator or
 *    responder, authenticated by a pre-shared key (RFC 7296 2.15) or by
 *    signatures (RSA, ECDSA P-256/P-384): AUTH method 14 (RFC 7427, with
 *    SIGNATURE_HASH_ALGORITHMS in IKE_SA_INIT) when the peer offers it, else
 *    1 (RSA, SHA-1) / 9 / 10 (ECDSA, RFC 4754); CERT payloads (X.509, our
 *    certificate sent, the peer's checked against the configured CA
 *    certificates and its identity) and CERTREQ (our CAs' key hashes); or a
 *    pinned peer certificate (NSM's public-key form: the peer's self-signed
 *    certificate, no CA).
 *  - IKE proposals: AES-GCM-16 (128/256, RFC 5282), AES-CBC (128/256) with
 *    HMAC-SHA-256-128, ChaCha20-Poly1305 (RFC 7634); PRF HMAC-SHA-256/384;
 *    DH groups 14 (MODP 2048), 19/20 (ECP 256/384, RFC 5903), 31 (Curve25519,
 *    RFC 8031). ESP proposals: the same ciphers (those lib/esp has).
 *  - NAT detection (RFC 7296 2.23): when a NAT is found, or the tunnel asks
 *    for UDP encapsulation (then our NAT_DETECTION_SOURCE_IP is faked so the
 *    peer encapsulates too, as strongSwan's encap=yes does), IKE moves to
 *    port 4500 and the CHILD_SA uses UDP-encapsulated ESP.
 *  - INFORMATIONAL: liveness checks answered and sent (dead-peer detection),
 *    Delete of the IKE SA or of a CHILD_SA handled; retransmission of
 *    requests with exponential backoff, retransmitted requests answered with
 *    the stored response; cookies (RFC 7296 2.6) demanded from initiators
 *    while IKE_SA_INIT requests arrive faster than a threshold, so no DH
 *    work is spent on spoofed sources.
 *  - Rekeying with CREATE_CHILD_SA (RFC 7296 1.3.2, 1.3.3, 2.18), in
 *    either role: the CHILD_SA at 70% of its lifetime (new keys installed,
 *    then the old pair deleted), the IKE SA at 80% of its (the CHILD_SA
 *    moves to the new IKE SA, the old one is deleted). With
 *    mg_ike_peer_conf.reauth the initiator re-authenticates instead: a new
 *    IKE SA and CHILD_SA before the shorter lifetime ends, the new keys
 *    installed (make-before-break, through child_up), the old IKE SA
 *    deleted. The peer's
 *    CREATE_CHILD_SA requests are answered (RFC 7296 1.3.2, 1.3.3, 2.18):
 *    CHILD_SA rekeying without PFS (new keys installed before the response
 *    leaves) and IKE SA rekeying (the CHILD_SA moves to the new IKE SA when
 *    the peer deletes the old one); other new CHILD_SAs get
 *    NO_ADDITIONAL_SAS.
 *
 * I/O through callbacks (struct mg_ike_ops): the caller hands received UDP
 * payloads to mg_ike_input (after the non-ESP marker on port 4500), calls
 * mg_ike_tick for timers, and gets back datagrams to send and CHILD_SA keys
 * to install.
 *
 * Secrets: PSKs, DH private values and every derived key live only in the
 * engine's memory, are never logged or returned by the info calls, and are
 * wiped (mg_wipe) when freed. The keys handed to child_up are wiped by the
 * engine when the callback returns.
 *
 * Threading: one thread (meshgate's main lcore) uses an engine.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg_addr.h"
#include "mg_common.h"

#define MG_IKE_PORT 500            /**< IKE's UDP port. */
#define MG_IKE_NATT_PORT 4500      /**< IKE and ESP after NAT detection. */
#define MG_IKE_MAX_PROPOSALS 8     /**< Proposals per list. */
#define MG_IKE_MAX_TS 4            /**< Traffic selectors per side. */
#define MG_IKE_PSK_MAX 128         /**< Longest pre-shared key. */
#define MG_IKE_ID_MAX 255          /**< Longest identity (a DN's DER included). */
#define MG_IKE_CRED_MAX 4096       /**< Longest credential: a PEM file's path or its text. */
#define MG_IKE_MAX_MSG 8192        /**< Largest IKE message handled. */
#define MG_IKE_MAX_PEERS 256       /**< Peers per engine. */
#define MG_IKE_COOKIE_RATE 20      /**< IKE_SA_INIT requests per second before cookies are demanded. */

/* ---- algorithms (IANA "IKEv2 Parameters" transform IDs) --------------------------- */

/** Encryption transform IDs (type 1). */
enum mg_ike_encr {
	MG_IKE_ENCR_AES_CBC = 12,
	MG_IKE_ENCR_AES_GCM_16 = 20,
	MG_IKE_ENCR_CHACHA20_POLY1305 = 28,
};

/** PRF transform IDs (type 2). SHA-1 is for the NIST test vectors only. */
enum mg_ike_prf {
	MG_IKE_PRF_HMAC_SHA1 = 2,
	MG_IKE_PRF_HMAC_SHA2_256 = 5,
	MG_IKE_PRF_HMAC_SHA2_384 = 6,
};

/** Integrity transform IDs (type 3). */
enum mg_ike_integ {
	MG_IKE_INTEG_NONE = 0,
	MG_IKE_INTEG_HMAC_SHA2_256_128 = 12,
};

/** Diffie-Hellman groups (type 4). */
enum mg_ike_dh {
	MG_IKE_DH_NONE = 0,
	MG_IKE_DH_MODP2048 = 14,
	MG_IKE_DH_ECP256 = 19,
	MG_IKE_DH_ECP384 = 20,
	MG_IKE_DH_CURVE25519 = 31,
};

/**
 * One proposal: a cipher (with its key size), an integrity algorithm for
 * the non-AEAD ciphers, and for IKE a PRF and a DH group. ESP proposals have
 * no PRF and no DH group (no PFS in the first CHILD_SA).
 */
struct mg_ike_proposal {
	uint16_t encr;      /**< enum mg_ike_encr. */
	uint16_t key_bits;  /**< 128 or 256 (256 for ChaCha20-Poly1305). */
	uint16_t integ;     /**< enum mg_ike_integ (NONE for AEAD ciphers). */
	uint16_t prf;       /**< enum mg_ike_prf (IKE only). */
	uint16_t dh;        /**< enum mg_ike_dh (IKE only). */
};

/**
 * Parse a proposal in strongSwan's notation: "aes128gcm16-prfsha256-ecp256",
 * "aes256-sha256-modp2048", "chacha20poly1305-prfsha384-curve25519" (IKE,
 * @p ike true: a PRF is needed unless an integrity algorithm implies it, and
 * a DH group), "aes128gcm16", "aes256-sha256" (ESP).
 * @return 0, or -EINVAL with @p why (at least 96 bytes) saying what is wrong.
 */
int mg_ike_proposal_parse(const char *s, bool ike, struct mg_ike_proposal *p, char *why,
			  size_t whylen);

/** Write @p p in the notation mg_ike_proposal_parse reads. */
void mg_ike_proposal_format(const struct mg_ike_proposal *p, bool ike, char *buf, size_t n);

/**
 * The lib/esp algorithm (enum mg_esp_algo, mg_esp_algos.h) of an ESP
 * proposal, or -1 when lib/esp has none.
 */
int mg_ike_proposal_esp_algo(const struct mg_ike_proposal *p);

/* ---- identities ------------------------------------------------------------------- */

/** Identification types (RFC 7296 3.5). */
enum mg_ike_id_type {
	MG_IKE_ID_IPV4_ADDR = 1,
	MG_IKE_ID_FQDN = 2,
	MG_IKE_ID_RFC822_ADDR = 3,
	MG_IKE_ID_IPV6_ADDR = 5,
	MG_IKE_ID_DER_ASN1_DN = 9,
	MG_IKE_ID_KEY_ID = 11,
};

/** An identity as carried in IDi/IDr. */
struct mg_ike_id {
	uint8_t type;                 /**< enum mg_ike_id_type; 0: none configured. */
	uint8_t len;                  /**< Bytes of @c data. */
	uint8_t data[MG_IKE_ID_MAX];  /**< Address bytes, or the name. */
};

/**
 * Parse an identity: an IPv4/IPv6 address, "user@domain" (RFC822), a
 * distinguished name ("C=CH, O=Example, CN=gw.example": anything with '=',
 * kept as its DER), a name (FQDN), or "keyid:TEXT". 0 or -EINVAL.
 */
int mg_ike_id_parse(const char *s, struct mg_ike_id *id);
/** Write @p id as mg_ike_id_parse reads it. */
void mg_ike_id_format(const struct mg_ike_id *id, char *buf, size_t n);

/* ---- a peer ----------------------------------------------------------------------- */

/** How a peer authenticates (both sides the same way). */
enum mg_ike_auth {
	MG_IKE_AUTH_PSK = 0,   /**< Pre-shared key. */
	MG_IKE_AUTH_PUBKEY,    /**< Signatures: our key (+ certificate), the peer's CA or certificate. */
};

/** Everything one IKE peer (one ESP tunnel) is made of. Zero means the default. */
struct mg_ike_peer_conf {
	char name[MG_NAME_MAX];       /**< The ESP tunnel's name. */
	bool initiator;               /**< Start the exchange (else only respond). */
	struct mg_ip local;           /**< Our address (the tunnel's local). */
	struct mg_ip remote;          /**< The peer's address (the tunnel's remote). */
	bool udp_encap;               /**< The tunnel sends UDP-encapsulated ESP: force NAT-T. */
	struct mg_ike_id local_id;    /**< Default: the local address. */
	struct mg_ike_id remote_id;   /**< Default: accept any identity the PSK proves. */
	uint8_t auth;                 /**< enum mg_ike_auth. */
	uint8_t psk[MG_IKE_PSK_MAX];  /**< Pre-shared key (secret). */
	uint16_t psk_len;
	/*
	 * MG_IKE_AUTH_PUBKEY credentials. Each is a file's path, PEM text
	 * ("-----BEGIN ..."), or for certificates base64 DER ("MII...", as NSM's
	 * IPSEC mechanism carries them). Loaded (and checked) by
	 * mg_ike_peer_conf_check and mg_ike_peer_add.
	 */
	char cert[MG_IKE_CRED_MAX];      /**< Our certificate (sent in CERT); may be empty with peer_cert on the other side. */
	char key[MG_IKE_CRED_MAX];       /**< Our private key, RSA or ECDSA P-256/P-384 (secret). */
	char ca[MG_IKE_CRED_MAX];        /**< CA certificate(s) the peer's certificate must chain to. */
	char peer_cert[MG_IKE_CRED_MAX]; /**< Or: the peer's own certificate, pinned (no CA, no CERT needed). */
	struct mg_ike_proposal ike[MG_IKE_MAX_PROPOSALS]; /**< IKE proposals, preferred first. */
	uint8_t nike;
	struct mg_ike_proposal esp[MG_IKE_MAX_PROPOSALS]; /**< ESP proposals, preferred first. */
	uint8_t nesp;
	struct mg_prefix local_ts[MG_IKE_MAX_TS];   /**< Our side of the CHILD_SA (one family). */
	uint8_t nlocal_ts;
	struct mg_prefix remote_ts[MG_IKE_MAX_TS];  /**< The peer's side. */
	uint8_t nremote_ts;
	uint32_t ike_lifetime_s;      /**< IKE SA lifetime (default 10800): rekeyed (or re-authenticated) before it ends. */
	uint32_t child_lifetime_s;    /**< CHILD_SA hard lifetime (default 3600): rekeyed before it ends. */
	uint32_t dpd_s;               /**< Liveness check after this long without IKE traffic (0: none; the YAML default is 30). */
	uint32_t retransmit_ms;       /**< First retransmission (default 1000, doubling). */
	uint8_t retransmit_tries;     /**< Transmissions before giving up (default 5). */
	/**
	 * Renew by re-authentication (a new IKE_SA_INIT/IKE_AUTH, as the
	 * initiator) instead of rekeying the IKE SA and CHILD_SA with
	 * CREATE_CHILD_SA.
	 */
	bool reauth;
};

/**
 * Credentials in NSM's form (sdk-vpp's IPSEC mechanism): a new RSA 2048 key
 * (@p key_pem, PEM PKCS#8: a secret) and a self-signed certificate (@p
 * cert_b64, base64 DER, what src_public_key / dst_public_key carry) named
 * CN=@p cn, whose subjectAltName DNS is the certificate's own first 64
 * base64 characters, the FQDN identity NSM's peers use, so that a peer that
 * checks identities against certificates (strongSwan) accepts it too.
 * 0 or -1.
 */
int mg_ike_nsm_credentials(const char *cn, char *key_pem, size_t key_max, char *cert_b64,
			   size_t cert_max);

/**
 * Check a peer configuration (fields named as in the YAML), credentials
 * loaded and checked (the key matches the certificate). 0 or -errno.
 */
int mg_ike_peer_conf_check(const struct mg_ike_peer_conf *c, struct mg_error *err);

/* ---- the engine ------------------------------------------------------------------- */

/** The addresses of a datagram. */
struct mg_ike_dgram {
	struct mg_ip src;       /**< Sender. */
	struct mg_ip dst;       /**< Receiver. */
	uint16_t sport, dport;  /**< UDP ports (host order). */
	bool marker;            /**< Sent/received with the 4-byte non-ESP marker (port 4500). */
};

/** Keys of one CHILD_SA, both directions (secret: wiped after child_up). */
struct mg_ike_child_keys {
	uint32_t spi_in;        /**< Our inbound SPI. */
	uint32_t spi_out;       /**< The peer's inbound SPI: our outbound. */
	int esp_algo;           /**< enum mg_esp_algo. */
	uint8_t inner_family;   /**< AF_INET or AF_INET6 (from the traffic selectors). */
	bool udp_encap;         /**< NAT-T. */
	uint16_t remote_port;   /**< The peer's UDP port for NAT-T. */
	uint8_t enc_in[32], enc_out[32];    /**< Cipher keys. */
	uint8_t enc_len;
	uint8_t auth_in[32], auth_out[32];  /**< HMAC keys (CBC). */
	uint8_t auth_len;
	uint8_t salt_in[4], salt_out[4];    /**< AEAD salts. */
	uint8_t salt_len;
	uint32_t lifetime_s;    /**< Hard lifetime (0: none). */
	/**
	 * Which SAs to install: both (MG_IKE_INSTALL_BOTH), or in two steps
	 * when we answered the peer's rekey: the inbound SA at once
	 * (MG_IKE_INSTALL_IN), the outbound one (MG_IKE_INSTALL_OUT) once the
	 * peer deleted the old pair (it has the new inbound SA by then), or 5 s
	 * later at the latest; the other direction's fields are still filled.
	 */
	uint8_t install;
};

/** mg_ike_child_keys.install */
enum {
	MG_IKE_INSTALL_BOTH = 0,
	MG_IKE_INSTALL_IN,
	MG_IKE_INSTALL_OUT,
};

/** Why an IKE SA failed or went away. */
enum mg_ike_reason {
	MG_IKE_OK = 0,
	MG_IKE_R_TIMEOUT,           /**< No answer after every retransmission. */
	MG_IKE_R_NO_PROPOSAL,       /**< NO_PROPOSAL_CHOSEN (sent or received). */
	MG_IKE_R_AUTH_FAILED,       /**< AUTHENTICATION_FAILED (sent or received). */
	MG_IKE_R_TS_UNACCEPTABLE,   /**< TS_UNACCEPTABLE. */
	MG_IKE_R_INVALID_KE,        /**< DH group refused and no other to try. */
	MG_IKE_R_DELETED,           /**< The peer deleted it. */
	MG_IKE_R_DEAD_PEER,         /**< Liveness check unanswered. */
	MG_IKE_R_REKEYED,           /**< Replaced by a new IKE SA. */
	MG_IKE_R_PROTOCOL,          /**< Malformed or unexpected message. */
	MG_IKE_R_INSTALL,           /**< The CHILD_SA's keys could not be installed. */
	MG_IKE_R_MAX
};

/** Name of a reason ("authentication-failed"). */
const char *mg_ike_reason_name(enum mg_ike_reason r);

/** What happened to a peer's SAs (mg_ike_ops.sa_event). */
enum mg_ike_event {
	MG_IKE_EV_ESTABLISHED = 1,  /**< IKE SA and first CHILD_SA up. */
	MG_IKE_EV_REKEYED,          /**< IKE SA replaced (rekey or re-authentication). */
	MG_IKE_EV_CHILD_REKEYED,    /**< CHILD_SA replaced. */
	MG_IKE_EV_DELETED,          /**< Deleted by the peer. */
	MG_IKE_EV_FAILED,           /**< An attempt failed, or the SA died (with a reason). */
};

/** Name of an event ("established"). */
const char *mg_ike_event_name(enum mg_ike_event ev);

/** What the engine asks of its user. */
struct mg_ike_ops {
	void *arg;
	/** Send @p len bytes (an IKE message, without marker) as @p d says. */
	int (*send)(void *arg, unsigned int peer, const struct mg_ike_dgram *d, const uint8_t *msg,
		    size_t len);
	/** Install CHILD_SA keys for @p peer (replacing the previous ones). 0 or -errno. */
	int (*child_up)(void *arg, unsigned int peer, const struct mg_ike_child_keys *k);
	/** The peer's CHILD_SA is gone (deleted, dead peer); its keys should stop. May be NULL. */
	void (*child_down)(void *arg, unsigned int peer);
	/** An event for the log: established, failed (with reason), deleted... May be NULL. */
	void (*event)(void *arg, unsigned int peer, int level, const char *msg);
	/** The same, structured: established, rekeyed, deleted, failed (@p r). May be NULL. */
	void (*sa_event)(void *arg, unsigned int peer, enum mg_ike_event ev, enum mg_ike_reason r);
};

struct mg_ike;

/** Create an engine. NULL on allocation failure. */
struct mg_ike *mg_ike_create(const struct mg_ike_ops *ops);
/** Free an engine: every SA and key wiped. NULL is a no-op. */
void mg_ike_destroy(struct mg_ike *ike);

/**
 * Add a peer (copied, PSK included). An initiator starts at the next tick.
 * @return the peer's index (>= 0), or -errno with @p err filled.
 */
int mg_ike_peer_add(struct mg_ike *ike, const struct mg_ike_peer_conf *c, struct mg_error *err);

/** Index of the peer of tunnel @p name, or -ENOENT. */
int mg_ike_peer_find(const struct mg_ike *ike, const char *name);

/**
 * Replace peer @p idx's configuration (same index). Everything is checked
 * and loaded first: on error nothing changes. Then its IKE SA is deleted
 * (the peer told with an INFORMATIONAL Delete) and a new one starts from the
 * new settings; the CHILD_SA keys installed so far stay until replaced.
 * 0 or -errno with @p err filled.
 */
int mg_ike_peer_replace(struct mg_ike *ike, unsigned int idx, const struct mg_ike_peer_conf *c,
			struct mg_error *err);

/**
 * Remove peer @p idx (its IKE SA deleted, the peer told); the peers after it
 * move down one index. 0 or -ENOENT.
 */
int mg_ike_peer_remove(struct mg_ike *ike, unsigned int idx);

/**
 * Hand a received IKE message (UDP payload, after the non-ESP marker when
 * d->marker) to the engine. Malformed messages are dropped and counted.
 */
void mg_ike_input(struct mg_ike *ike, const struct mg_ike_dgram *d, const uint8_t *msg,
		  size_t len, uint64_t now_ns);

/**
 * Demand cookies (RFC 7296 2.6) once more than @p per_s IKE_SA_INIT
 * requests arrive in a second (0: always). Default MG_IKE_COOKIE_RATE.
 */
void mg_ike_set_cookie_rate(struct mg_ike *e, unsigned int per_s);

/** Run the timers (retransmission, initiation, rekeying, liveness). Returns the next deadline. */
uint64_t mg_ike_tick(struct mg_ike *ike, uint64_t now_ns);

/** State of a peer's IKE SA. */
enum mg_ike_state {
	MG_IKE_ST_IDLE = 0,      /**< No SA (a responder waiting, or an initiator about to start). */
	MG_IKE_ST_INIT_SENT,     /**< IKE_SA_INIT request sent. */
	MG_IKE_ST_AUTH_SENT,     /**< IKE_AUTH request sent. */
	MG_IKE_ST_INIT_DONE,     /**< Responder: IKE_SA_INIT answered, waiting for IKE_AUTH. */
	MG_IKE_ST_ESTABLISHED,   /**< IKE SA and CHILD_SA up. */
	MG_IKE_ST_FAILED,        /**< Gave up; an initiator retries later. */
};

/** Name of a state ("established"). */
const char *mg_ike_state_name(enum mg_ike_state s);

/** Counters of an engine. */
struct mg_ike_stats {
	uint64_t rx;              /**< Messages received. */
	uint64_t tx;              /**< Messages sent (retransmissions included). */
	uint64_t retransmits;     /**< Requests sent again. */
	uint64_t dropped;         /**< Received and dropped (malformed, unknown SA, bad ICV...). */
	uint64_t established;     /**< IKE SAs established. */
	uint64_t failed;          /**< Attempts that failed. */
	uint64_t auth_failed;     /**< ... of which authentication failures. */
	uint64_t no_proposal;     /**< ... of which NO_PROPOSAL_CHOSEN. */
	uint64_t rekeys;          /**< IKE SAs replaced by a new one. */
	uint64_t dpd_sent;        /**< Liveness checks sent. */
	uint64_t cookies_sent;    /**< IKE_SA_INIT requests answered with a COOKIE (under load). */
};

/** A redacted view of a peer and its SA (no key, no PSK). */
struct mg_ike_peer_info {
	char name[MG_NAME_MAX];
	bool initiator;
	enum mg_ike_state state;
	struct mg_ip remote;
	uint16_t remote_port;
	uint64_t spi_i, spi_r;               /**< IKE SPIs (0 when none). */
	struct mg_ike_proposal ike;          /**< Negotiated IKE proposal. */
	struct mg_ike_proposal esp;          /**< Negotiated ESP proposal. */
	uint32_t child_spi_in, child_spi_out;
	bool natt;                           /**< Using port 4500 / UDP encapsulation. */
	uint64_t established_ns;             /**< When it came up (0: not up). */
	uint64_t ike_expires_ns;             /**< When it is re-authenticated. */
	uint32_t rekeys;                     /**< IKE SAs replaced for this peer. */
	uint32_t child_rekeys;               /**< CHILD_SAs of the current IKE SA rekeyed. */
	enum mg_ike_reason last_error;       /**< Why the last attempt failed. */
};

/** Fill @p st. */
void mg_ike_stats(const struct mg_ike *ike, struct mg_ike_stats *st);
/** Number of peers. */
unsigned int mg_ike_peer_count(const struct mg_ike *ike);
/** Fill @p info for peer @p idx. 0 or -ENOENT. */
int mg_ike_peer_info(const struct mg_ike *ike, unsigned int idx, struct mg_ike_peer_info *info);

#endif /* MG_IKE_H */
