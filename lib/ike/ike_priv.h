/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef IKE_PRIV_H
#define IKE_PRIV_H

/*
 * lib/ike internals: the wire format (RFC 7296 section 3), the message
 * builder and parser (ike_msg.c) and the crypto (ike_crypto.c). Exposed to
 * the unit tests.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg_ike.h"

/* ---- wire format ----------------------------------------------------------------- */

#define IKE_HDR_LEN 28
#define IKE_VERSION 0x20

enum ike_exchange {
	IKE_SA_INIT = 34,
	IKE_AUTH = 35,
	IKE_CREATE_CHILD_SA = 36,
	IKE_INFORMATIONAL = 37,
};

enum ike_flags {
	IKE_FLAG_I = 0x08, /* sent by the original initiator */
	IKE_FLAG_V = 0x10,
	IKE_FLAG_R = 0x20, /* a response */
};

enum ike_payload {
	IKE_PL_NONE = 0,
	IKE_PL_SA = 33,
	IKE_PL_KE = 34,
	IKE_PL_IDI = 35,
	IKE_PL_IDR = 36,
	IKE_PL_CERT = 37,
	IKE_PL_CERTREQ = 38,
	IKE_PL_AUTH = 39,
	IKE_PL_NONCE = 40,
	IKE_PL_NOTIFY = 41,
	IKE_PL_DELETE = 42,
	IKE_PL_VENDOR = 43,
	IKE_PL_TSI = 44,
	IKE_PL_TSR = 45,
	IKE_PL_SK = 46,
	IKE_PL_CP = 47,
	IKE_PL_EAP = 48,          /* the last payload type RFC 7296 defines */
};

enum ike_proto {
	IKE_PROTO_IKE = 1,
	IKE_PROTO_AH = 2,
	IKE_PROTO_ESP = 3,
};

enum ike_transform_type {
	IKE_TT_ENCR = 1,
	IKE_TT_PRF = 2,
	IKE_TT_INTEG = 3,
	IKE_TT_DH = 4,
	IKE_TT_ESN = 5,
};

#define IKE_ATTR_KEY_LENGTH 14 /* TV format: 0x800e */

enum ike_notify {
	IKE_N_UNSUPPORTED_CRITICAL_PAYLOAD = 1,
	IKE_N_INVALID_IKE_SPI = 4,
	IKE_N_INVALID_MAJOR_VERSION = 5,
	IKE_N_INVALID_SYNTAX = 7,
	IKE_N_INVALID_MESSAGE_ID = 9,
	IKE_N_NO_PROPOSAL_CHOSEN = 14,
	IKE_N_INVALID_KE_PAYLOAD = 17,
	IKE_N_AUTHENTICATION_FAILED = 24,
	IKE_N_SINGLE_PAIR_REQUIRED = 34,
	IKE_N_NO_ADDITIONAL_SAS = 35,
	IKE_N_TS_UNACCEPTABLE = 38,
	IKE_N_TEMPORARY_FAILURE = 43,
	IKE_N_INITIAL_CONTACT = 16384,
	IKE_N_NAT_DETECTION_SOURCE_IP = 16388,
	IKE_N_NAT_DETECTION_DESTINATION_IP = 16389,
	IKE_N_COOKIE = 16390,
	IKE_N_USE_TRANSPORT_MODE = 16391,
	IKE_N_REKEY_SA = 16393,
	IKE_N_SIGNATURE_HASH_ALGORITHMS = 16431,
};

enum ike_auth_method {
	IKE_AUTH_RSA_SIG = 1,
	IKE_AUTH_PSK = 2,
	IKE_AUTH_ECDSA_256 = 9,
	IKE_AUTH_ECDSA_384 = 10,
	IKE_AUTH_DIGITAL_SIGNATURE = 14,
};

/** RFC 7427 hash algorithm IDs (SIGNATURE_HASH_ALGORITHMS). */
enum ike_hash {
	IKE_HASH_SHA1 = 1,
	IKE_HASH_SHA256 = 2,
	IKE_HASH_SHA384 = 3,
	IKE_HASH_SHA512 = 4,
};

/** CERT / CERTREQ encoding: X.509 Certificate - Signature. */
#define IKE_CERT_X509_SIG 4

enum ike_ts_type {
	IKE_TS_IPV4_RANGE = 7,
	IKE_TS_IPV6_RANGE = 8,
};

/* ---- parsed messages ---------------------------------------------------------------- */

#define IKE_MAX_PL 32 /* payloads per message (or per SK payload) */

/** One payload of a parsed message: its type and body (after the generic header). */
struct ike_pl {
	uint8_t type;
	bool critical;
	const uint8_t *body;
	uint16_t len;
};

/** A parsed message: header fields and payload list (bodies point into the buffer). */
struct ike_msg {
	uint64_t spi_i, spi_r;
	uint8_t first;     /* next payload of the header */
	uint8_t exchange;
	uint8_t flags;
	uint32_t msgid;
	uint32_t len;
	struct ike_pl pl[IKE_MAX_PL];
	unsigned int npl;
	/* The SK payload, when the message has one (it is the last). */
	int sk;            /* index in pl[], or -1 */
	uint32_t sk_off;   /* offset of the SK generic header in the message */
};

/**
 * Parse the header and the payload chain of @p buf (bounds checked: every
 * length inside the message, the header length equal to @p len, at most
 * IKE_MAX_PL payloads, SK last). 0 or -EBADMSG; -EPROTONOSUPPORT for a
 * later major version than 2, with the header's fields (SPIs, exchange,
 * flags, message ID) read and no payload.
 */
int ike_msg_parse(const uint8_t *buf, size_t len, struct ike_msg *m);

/** Parse a payload chain starting with type @p first (the inside of an SK payload). */
int ike_pl_parse_chain(const uint8_t *buf, size_t len, uint8_t first, struct ike_pl *pl,
		       unsigned int max, unsigned int *n);

/** The first payload of @p type in @p pl[0..n), or NULL. */
const struct ike_pl *ike_pl_find(const struct ike_pl *pl, unsigned int n, uint8_t type);

/** A notify payload decoded. */
struct ike_notify_pl {
	uint8_t proto;
	uint8_t spi_len;
	uint16_t type;
	const uint8_t *spi;
	const uint8_t *data;
	uint16_t data_len;
};
int ike_notify_decode(const struct ike_pl *p, struct ike_notify_pl *n);
/** The first notify of @p type in @p pl[0..n) (decoded into @p out), or false. */
bool ike_notify_find(const struct ike_pl *pl, unsigned int n, uint16_t type,
		     struct ike_notify_pl *out);
/** The first notify whose type is an error (below 16384), or 0. */
uint16_t ike_notify_error(const struct ike_pl *pl, unsigned int n);

/** A proposal from an SA payload, with the SPI and every transform ID offered. */
struct ike_prop_in {
	uint8_t num;
	uint8_t proto;
	uint8_t spi_len;
	uint8_t spi[8];
	/* Transforms offered, by type: IDs and key lengths (0: no attribute). */
	struct {
		uint16_t id;
		uint16_t key_bits;
	} t[6][16];
	uint8_t nt[6];
};

/** Decode every proposal of an SA payload body. 0 or -EBADMSG. */
int ike_sa_decode(const uint8_t *body, size_t len, struct ike_prop_in *props, unsigned int max,
		  unsigned int *n);

/**
 * Choose: the first of @p ours (preference order) that proposal @p in offers
 * entirely (each transform type we need, nothing we cannot do left as the
 * only choice). For ESP, no ESN must be offered. True and @p out set when
 * one fits.
 */
bool ike_prop_match(const struct ike_prop_in *in, const struct mg_ike_proposal *ours,
		    unsigned int nours, bool ike, struct mg_ike_proposal *out);

/* ---- message builder -------------------------------------------------------------- */

/** A message under construction in a fixed buffer. */
struct ike_buf {
	uint8_t b[MG_IKE_MAX_MSG];
	size_t len;
	bool overflow;
	size_t last_np;  /* offset of the "next payload" byte to patch for the next payload */
};

/** Start a message: the header (length patched by ike_buf_finish). */
void ike_buf_init(struct ike_buf *b, uint64_t spi_i, uint64_t spi_r, uint8_t exchange,
		  uint8_t flags, uint32_t msgid);
/** Start a payload of @p type; returns its offset (for ike_pl_end). */
size_t ike_pl_begin(struct ike_buf *b, uint8_t type);
/** Close the payload started at @p off (its length). */
void ike_pl_end(struct ike_buf *b, size_t off);
/** Append raw bytes. */
void ike_put(struct ike_buf *b, const void *p, size_t n);
void ike_put8(struct ike_buf *b, uint8_t v);
void ike_put16(struct ike_buf *b, uint16_t v);
void ike_put32(struct ike_buf *b, uint32_t v);
/** Set the total length in the header. */
void ike_buf_finish(struct ike_buf *b);

/**
 * Append an SA payload offering @p props (one proposal each, numbered from
 * 1), or, @p num not 0, accepting the peer's proposal number @p num (one
 * proposal: RFC 7296 3.3.1, the accepted proposal keeps its number).
 */
void ike_put_sa(struct ike_buf *b, const struct mg_ike_proposal *props, unsigned int n,
		bool ike, const uint8_t *spi, uint8_t spi_len, uint8_t num);
/** Append a Notify payload. */
void ike_put_notify(struct ike_buf *b, uint8_t proto, uint16_t type, const void *data,
		    size_t len);
/** Append a TS payload (@p type TSi or TSr) for prefixes @p ts. */
void ike_put_ts(struct ike_buf *b, uint8_t type, const struct mg_prefix *ts, unsigned int n);

/** A traffic selector decoded (any protocol and port range is kept as it came). */
struct ike_ts {
	uint8_t family;
	uint8_t proto;
	uint16_t sport, eport;
	uint8_t start[16], end[16];
};
/** Decode a TS payload body. 0 or -EBADMSG. */
int ike_ts_decode(const uint8_t *body, size_t len, struct ike_ts *ts, unsigned int max,
		  unsigned int *n);
/** True when prefix @p p lies inside selector @p t (any protocol/ports in @p t). */
bool ike_ts_covers(const struct ike_ts *t, const struct mg_prefix *p);

/* ---- crypto ----------------------------------------------------------------------- */

#define IKE_PRF_MAX 48   /* SHA-384 */
#define IKE_KEY_MAX 36   /* AES-256 + salt */

/** Output length of a PRF (0 when unknown). */
unsigned int ike_prf_len(uint16_t prf);
/** out = prf(key, data1 | data2); 0 or -1. @p out holds ike_prf_len bytes. */
int ike_prf(uint16_t prf, const uint8_t *key, size_t klen, const uint8_t *d1, size_t l1,
	    const uint8_t *d2, size_t l2, uint8_t *out);
/** prf+(key, seed) (RFC 7296 2.13): @p outlen bytes (at most 255 blocks). 0 or -1. */
int ike_prf_plus(uint16_t prf, const uint8_t *key, size_t klen, const uint8_t *seed,
		 size_t slen, uint8_t *out, size_t outlen);

/** A Diffie-Hellman key pair of one group. */
struct ike_dh;
/** Public value length of a group (0 when unsupported). */
unsigned int ike_dh_pub_len(uint16_t group);
/** Generate a key pair; NULL on failure or unknown group. */
struct ike_dh *ike_dh_new(uint16_t group);
/** Our public value as the KE payload carries it (ike_dh_pub_len bytes). */
int ike_dh_public(const struct ike_dh *dh, uint8_t *out);
/**
 * The shared secret g^ir with the peer's public value @p peer (its length
 * checked, the point validated): @p out gets *outlen bytes (at most 256).
 * 0 or -1.
 */
int ike_dh_shared(struct ike_dh *dh, const uint8_t *peer, size_t plen, uint8_t *out,
		  size_t *outlen);
void ike_dh_free(struct ike_dh *dh);
/** Group of a key pair. */
uint16_t ike_dh_group(const struct ike_dh *dh);

/** Key material sizes of an IKE or ESP proposal. */
struct ike_keylens {
	unsigned int enc;    /* cipher key + salt */
	unsigned int integ;  /* HMAC key */
	unsigned int prf;    /* PRF key / output */
	unsigned int iv;     /* IV carried in SK */
	unsigned int icv;    /* ICV length */
	unsigned int block;  /* padding alignment */
	bool aead;
};
int ike_keylens(const struct mg_ike_proposal *p, struct ike_keylens *kl);

/** One direction of SK protection. */
struct ike_sk_keys {
	uint8_t e[IKE_KEY_MAX];
	uint8_t a[32];
};

/**
 * Encrypt the message in @p b whose SK payload begins at @p sk_off and
 * whose plaintext (inner payloads) is b->b[sk_off + 4 ...b->len): pads,
 * encrypts in place, appends the ICV and sets every length. 0 or -1.
 */
int ike_sk_encrypt(const struct mg_ike_proposal *p, const struct ike_sk_keys *k,
		   struct ike_buf *b, size_t sk_off);
/**
 * Verify and decrypt the SK payload of a received message @p buf (parsed in
 * @p m) into @p out; *outlen gets the plaintext length (padding removed).
 * 0, or -1 when the ICV does not verify or the lengths are wrong.
 */
int ike_sk_decrypt(const struct mg_ike_proposal *p, const struct ike_sk_keys *k,
		   const uint8_t *buf, const struct ike_msg *m, uint8_t *out, size_t *outlen);

/** Random bytes (OpenSSL's DRBG). 0 or -1. */
int ike_random(void *p, size_t n);

/** SHA-1 of the concatenation (NAT detection). */
void ike_sha1(const uint8_t *d1, size_t l1, const uint8_t *d2, size_t l2, uint8_t out[20]);

/* ---- public-key authentication (ike_cert.c) --------------------------------------- */

#define IKE_MAX_CA 8

typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_st X509;
typedef struct x509_store_st X509_STORE;

/** A peer's loaded credentials (MG_IKE_AUTH_PUBKEY). */
struct ike_creds {
	EVP_PKEY *key;                      /* our private key */
	X509 *cert;                         /* our certificate, or NULL */
	X509 *peer;                         /* the peer's pinned certificate, or NULL */
	X509_STORE *store;                  /* the CAs, or NULL */
	uint8_t ca_hash[IKE_MAX_CA][20];    /* SHA-1 of each CA's SubjectPublicKeyInfo */
	unsigned int nca;
};

/** Load @p c's credentials (nothing for PSK). 0, or -errno with @p err naming the field. */
int ike_creds_load(const struct mg_ike_peer_conf *c, struct ike_creds *cr, struct mg_error *err);
/** Free them (private key cleared by OpenSSL). */
void ike_creds_free(struct ike_creds *cr);
/** Our certificate's DER. 0 or -1. */
int ike_cert_der(const struct ike_creds *cr, uint8_t *out, size_t max, size_t *len);
/** Our certificate's subject as an ID_DER_ASN1_DN identity (type 0 without certificate). */
void ike_cert_subject_id(const struct ike_creds *cr, struct mg_ike_id *id);
/**
 * The peer's public key: the pinned certificate's, or the first CERT
 * payload's of @p pl once its chain verifies against the CAs and it vouches
 * for identity @p id (the IDi/IDr payload). NULL with @p why set.
 */
EVP_PKEY *ike_peer_key(const struct ike_creds *cr, const struct ike_pl *pl, unsigned int npl,
		       const struct ike_pl *id, const char **why);
/**
 * Sign @p octets for an AUTH payload: method 14 (RFC 7427) when @p rfc7427,
 * else 1 (RSA/SHA-1) or 9/10 (ECDSA). @p out gets the AUTH data after the
 * method byte and reserved bytes. 0 or -1.
 */
int ike_auth_sign(EVP_PKEY *k, bool rfc7427, const uint8_t *octets, size_t olen,
		  uint8_t *method, uint8_t *out, size_t max, size_t *len);
/** Verify AUTH data of @p method over @p octets with public key @p k. */
bool ike_auth_verify(EVP_PKEY *k, uint8_t method, const uint8_t *data, size_t dl,
		     const uint8_t *octets, size_t olen);
/** A DN string ("C=CH, O=Example, CN=gw") as DER. 0 or -1. */
int ike_dn_parse(const char *s, uint8_t *out, size_t max, size_t *len);
/** A DER DN as text. */
void ike_dn_format(const uint8_t *der, size_t len, char *buf, size_t n);
/** Free a key ike_peer_key returned. */
void ike_pkey_free(EVP_PKEY *k);

#endif /* IKE_PRIV_H */
