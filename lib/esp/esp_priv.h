/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef ESP_PRIV_H
#define ESP_PRIV_H

/*
 * lib/esp internals shared by its files: the context, the worker handles,
 * the SA object and the crypto devices.
 */

#include <stdbool.h>
#include <stdint.h>

#include <intel-ipsec-mb.h>

#include <rte_cryptodev.h>
#include <rte_ip.h>
#include <rte_ipsec.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include "mg_esp.h"

extern int mg_esp_logtype;
#define ESP_LOG(l, ...) rte_log(RTE_LOG_##l, mg_esp_logtype, "esp: " __VA_ARGS__)

/*
 * Crypto op private area: the IV (or nonce block) librte_ipsec fills, then,
 * for asynchronous lookaside, what the packet needs once it comes back
 * (struct esp_opmeta).
 */
#define ESP_IV_OFFSET (sizeof(struct rte_crypto_op) + sizeof(struct rte_crypto_sym_op))
#define ESP_IV_MAX 16
#define ESP_OPMETA_OFFSET (ESP_IV_OFFSET + ESP_IV_MAX)
#define ESP_OP_PRIV (ESP_IV_MAX + 32)

/** Crypto drivers the context may use, in order of preference. */
enum esp_drv {
	ESP_DRV_AESNI_GCM = 0,  /**< crypto_aesni_gcm: AES-GCM only. */
	ESP_DRV_AESNI_MB,       /**< crypto_aesni_mb: every algorithm here. */
	ESP_DRV_OPENSSL,        /**< crypto_openssl: every algorithm, lookaside only. */
	ESP_DRV_MAX
};

/** One crypto device the context set up. */
struct esp_dev {
	int id;                       /**< Cryptodev id, -1 until set up. */
	bool tried;                   /**< Set-up attempted (successfully or not). */
	bool created;                 /**< We created the vdev (and remove it at the end). */
	bool cpu;                     /**< Has RTE_CRYPTODEV_FF_SYM_CPU_CRYPTO. */
	struct rte_mempool *sess_pool; /**< Its session pool. */
	char name[RTE_CRYPTODEV_NAME_MAX_LEN]; /**< Device name. */
};

/** Per-worker counters of one SA; written only by that worker. */
struct esp_sa_wstats {
	uint64_t packets;              /**< Processed. */
	uint64_t bytes;                /**< Inner IP bytes processed. */
	uint64_t err[MG_ESP_ERR_MAX];  /**< Failures by reason. */
	uint64_t q_pkts;               /**< Packet budget this worker holds (hard lifetime). */
	uint64_t q_bytes;              /**< Byte budget this worker holds. */
	/** Packets this worker enqueued asynchronously (atomic store; read by the main lcore). */
	uint64_t enq;
	/** Of those, the ones it finished after their crypto (atomic store, after the last use). */
	uint64_t deq;
} __rte_cache_aligned;

/** Per-packet facts kept across the crypto step (it may reorder). */
struct esp_pmeta {
	struct rte_mbuf *m;  /**< The packet. */
	uint64_t seq;        /**< Inbound: the full (ESN-inferred) sequence number. */
	uint32_t len;        /**< Outbound: inner IP length (bytes and lifetime). */
	uint8_t tos;         /**< Inner TOS/traffic class (out) or outer one (in). */
	uint8_t df;          /**< Inner DF (out). */
	uint8_t dummy;       /**< Inbound: authentic, next header 59 (RFC 4303 2.6): discard. */
};

/*
 * What an asynchronous crypto op carries in its private area until the
 * worker that enqueued it dequeues it: the SA (kept alive by the in-flight
 * count, see mg_esp_sa_destroy) and the packet's facts.
 */
struct esp_opmeta {
	struct mg_esp_sa *sa;   /**< The packet's SA. */
	struct esp_pmeta pm;    /**< Its facts. */
};

/**
 * The anti-replay window of an inbound SA, written only by its owner
 * worker: a ring of 64-bit words as in RFC 6479. librte_ipsec 22.11 keeps a
 * window too, but its update stores the bit in a uint32_t, so sequence
 * numbers whose low six bits are 32..63 are never recorded and replays of
 * them pass; this one is authoritative (librte_ipsec's still infers the ESN
 * high bits, from the same highest number).
 */
struct esp_replay {
	uint64_t top;        /**< Highest authenticated sequence number. */
	uint32_t win;        /**< Window size W: top - W + 1 .. top are checked. */
	uint32_t mask;       /**< Words in the ring - 1 (a power of two minus one). */
	uint64_t bits[];     /**< Bit (s & 63) of word (s >> 6) & mask: s was seen. */
};

/** An SA. */
struct mg_esp_sa {
	/* Read by workers on every burst; fixed after creation. */
	/** librte_ipsec session: SA, crypto session, device, functions. */
	struct rte_ipsec_session ss;
	/** The context. */
	struct mg_esp *esp;
	/** SPI, network byte order (packets compare against it). */
	rte_be32_t spi_be;
	/** Table index and generation (handoff entries name SAs by them). */
	uint32_t id;
	/** Generation of the table slot when this SA took it. */
	uint32_t gen;
	/** MG_ESP_OUTBOUND or MG_ESP_INBOUND. */
	uint8_t dir;
	/** AF_INET / AF_INET6. */
	uint8_t outer_family;
	/** AF_INET / AF_INET6. */
	uint8_t inner_family;
	/** enum mg_esp_mode, resolved (CPU, LOOKASIDE or DIRECT). */
	uint8_t mode;
	/** NAT-T. */
	uint8_t natt;
	/** enum mg_esp_ecn. */
	uint8_t ecn_mode;
	/** enum mg_esp_dscp. */
	uint8_t dscp_mode;
	/** enum mg_esp_df. */
	uint8_t df_mode;
	/** DSCP for MG_ESP_DSCP_SET, already shifted into the TOS byte. */
	uint8_t tos_set;
	/** Algorithm is CBC (the crypto op's IV block must be constant). */
	uint8_t cbc;
	/** Hard packet or byte limit present: per-worker budgets apply. */
	uint8_t has_hard;
	/** Owner worker (inbound). */
	uint16_t owner;
	/** Headroom encryption needs. */
	uint16_t need_head;
	/** Tailroom the operation needs. */
	uint16_t need_tail;
	/** Outer IP header length (20 or 40) plus 8 with NAT-T. */
	uint16_t outer_hlen;
	/** Inbound: ESP header + IV + ICV; the rest must be block aligned. */
	uint16_t esp_fixed;
	/** Inbound: block size the encrypted part is a multiple of. */
	uint16_t pad_align;
	/**
	 * Inbound: bytes from the end of a packet librte_ipsec refused back to
	 * its next header byte (ICV, the ESN high bits it appends for non-AEAD
	 * algorithms, then 1): where in_trailer_dummy reads.
	 */
	uint8_t nh_from_end;
	/** Our UDP port, network order. */
	rte_be16_t local_port_be;
	/** Extended sequence numbers. */
	uint8_t esn;
	/** Anti-replay checks off (mg_esp_sa_spec.no_replay); the window still infers ESN. */
	uint8_t no_replay;
	/** IPv4 outer: ones' complement sum of the header words that never change. */
	uint32_t ip4_sum;
	/** Inbound: the anti-replay window (owner only). */
	struct esp_replay *rp;
	/** MG_ESP_MODE_DIRECT: the AES-GCM key data or the ChaCha20 key (wiped when freed). */
	void *dk;
	/** MG_ESP_MODE_DIRECT: bytes at @c dk. */
	uint32_t dk_len;
	/** MG_ESP_MODE_DIRECT: the salt, the nonce's first four bytes (as on the wire). */
	uint32_t salt;
	/** MG_ESP_MODE_DIRECT: ChaCha20-Poly1305 (else AES-GCM through gcm_seal / gcm_open). */
	uint8_t chacha;
	/** MG_ESP_MODE_DIRECT AES-GCM: intel-ipsec-mb's one-shot seal for the key size. */
	aes_gcm_enc_dec_t gcm_seal;
	/** MG_ESP_MODE_DIRECT AES-GCM: its one-shot open. */
	aes_gcm_enc_dec_t gcm_open;
	/** MG_ESP_MODE_DIRECT outbound: the outer header template (IP, then UDP with NAT-T). */
	uint8_t tmpl[48];
	/** Our outer address (IPv4 in the first 4 bytes, network order). */
	uint8_t local[16];
	/** The peer's outer address. */
	uint8_t remote[16];
	/** Cryptodev id of the session. */
	uint8_t dev_id;
	/** Workers in the context (size of ws[]). */
	uint16_t nb_workers;

	/* Written by workers rarely, by the main lcore. */
	/** enum mg_esp_state (atomic). */
	uint32_t state __rte_cache_aligned;
	/** MG_ESP_MODE_DIRECT outbound: the next sequence number (atomic; workers share it). */
	uint64_t oseq;
	/** Which limit expired it (enum mg_esp_limit_kind, atomic). */
	uint32_t expired_by;
	/** Remaining packet budget not yet handed to workers (atomic). */
	uint64_t life_pkts;
	/** Remaining byte budget not yet handed to workers (atomic). */
	uint64_t life_bytes;

	/* Main lcore only. */
	/** The spec, keys included; wiped when the SA is freed. */
	struct mg_esp_sa_spec spec __rte_cache_aligned;
	/** librte_ipsec SA object. */
	struct rte_ipsec_sa *isa;
	/** Cryptodev session. */
	void *cs;
	/** Creation time (mg_now_ns). */
	uint64_t created_ns;
	/** Soft events already raised (bit per enum mg_esp_limit_kind). */
	uint32_t soft_done;
	/** Hard event already raised. */
	bool hard_done;
	/** Retirement: when it started, limits, packet count last seen and when it moved. */
	uint64_t retire_ns;
	/** Delete after this much idle time. */
	uint64_t retire_idle_ns;
	/** Delete at the latest after this long. */
	uint64_t retire_grace_ns;
	/** Packets counted at the last poll. */
	uint64_t retire_pkts;
	/** When the count last moved. */
	uint64_t retire_moved_ns;
	/** Device name, for info. */
	char device[32];
	/** Next on the context's list of deleted SAs waiting for their packets in flight. */
	struct mg_esp_sa *zombie_next;

	/** Per-worker counters. */
	struct esp_sa_wstats ws[] __rte_cache_aligned;
};

/** A worker's handle. */
struct mg_esp_worker {
	/** The context. */
	struct mg_esp *esp;
	/** Worker index: queue pair, ring, counter slot. */
	unsigned int index;
	/** Its lcore. */
	unsigned int lcore;
	/** Packets other workers hand to this one. */
	struct rte_ring *ring;
	/** Handed-off packets whose SA was gone. */
	uint64_t gone;
	/** Ops in flight on this worker's queue pair of each crypto device (by device id). */
	uint32_t pending[RTE_CRYPTO_MAX_DEVS];
	/** Sum of pending[] (atomic store: the main lcore reads it). */
	uint32_t inflight;
} __rte_cache_aligned;

/** A handoff ring entry: the packet and its SA by index and generation. */
struct esp_handoff_ent {
	struct rte_mbuf *m;  /**< The packet. */
	uint32_t id;         /**< SA table index. */
	uint32_t gen;        /**< SA generation. */
};

/** The inbound SPI index: immutable once published (open addressing). */
struct esp_spi_table {
	uint32_t mask;                 /**< Slots - 1 (a power of two). */
	struct mg_esp_sa *slot[];      /**< SA or NULL. */
};

/** The context. */
struct mg_esp {
	/** Configuration (defaults filled in). */
	struct mg_esp_conf conf;
	/** Worker handles. */
	struct mg_esp_worker *workers[MG_ESP_MAX_WORKERS];
	/** SA table (RCU slots). */
	struct mg_esp_sa **sas;
	/** Generation of each SA table slot. */
	uint32_t *gens;
	/** Inbound SPI index (RCU). */
	struct esp_spi_table *spis;
	/** Crypto ops for lookaside. */
	struct rte_mempool *op_pool;
	/** Crypto devices. */
	struct esp_dev devs[ESP_DRV_MAX];
	/** Inbound SAs each worker owns (main lcore). */
	uint32_t owned[MG_ESP_MAX_WORKERS];
	/** SAs in the table. */
	uint32_t nb_sas;
	/** Deleted SAs whose packets were still in flight: freed once drained (main lcore). */
	struct mg_esp_sa *zombies;
	/** intel-ipsec-mb manager of MG_ESP_MODE_DIRECT (IMB_MGR; NULL until the first such SA). */
	struct IMB_MGR *imb;
	/** Unique suffix for object names. */
	unsigned int uid;
};

/* esp.c */
/** Wait until no worker holds a pointer read before (no-op without RCU). */
void esp_sync(struct mg_esp *esp);
/** Set up (once) the device of driver @p d; NULL if unavailable. */
struct esp_dev *esp_dev_get(struct mg_esp *esp, enum esp_drv d);
/** Rebuild and publish the SPI index after a change to the SA table. */
int esp_spi_rebuild(struct mg_esp *esp);

/* esp_data.c */
/** Packets of @p sa in flight in the crypto devices (main lcore; racy, exact once unpublished). */
uint64_t esp_sa_inflight(const struct mg_esp_sa *sa);

/* Finish the outer header of an encrypted packet: TOS, DF, checksums. */
static inline void
out_finish(const struct mg_esp_sa *sa, struct rte_mbuf *m, const struct esp_pmeta *pm)
{
	uint8_t dscp = sa->dscp_mode == MG_ESP_DSCP_COPY ? (pm->tos & 0xfc) : sa->tos_set;
	uint8_t tos = dscp | (sa->ecn_mode == MG_ESP_ECN_NORMAL ? (pm->tos & 3) : 0);

	if (sa->outer_family == AF_INET) {
		struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);

		uint8_t w0[2] = {RTE_IPV4_VHL_DEF, tos};
		uint16_t v0;
		uint32_t sum;

		ip->type_of_service = tos;
		if (sa->df_mode == MG_ESP_DF_COPY)
			ip->fragment_offset =
				pm->df ? rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG) : 0;
		/*
		 * The checksum from the fixed words' sum and the four that vary,
		 * rather than re-reading the header just written (the
		 * wide reads stall on the narrow stores and cost a third of this
		 * function).
		 */
		memcpy(&v0, w0, sizeof(v0));
		sum = sa->ip4_sum + v0 + rte_cpu_to_be_16((uint16_t)m->pkt_len) + ip->packet_id +
		      ip->fragment_offset;
		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		ip->hdr_checksum = sum == 0xffff ? (uint16_t)sum : (uint16_t)~sum;
		m->l3_len = sizeof(*ip);
		m->packet_type = RTE_PTYPE_L3_IPV4 | RTE_PTYPE_TUNNEL_ESP;
	} else {
		struct rte_ipv6_hdr *ip6 = rte_pktmbuf_mtod(m, struct rte_ipv6_hdr *);

		ip6->vtc_flow = rte_cpu_to_be_32(6u << 28 | (uint32_t)tos << RTE_IPV6_HDR_TC_SHIFT);
		if (sa->natt) {
			/* A zero UDP checksum is IPv4-only (RFC 3948; RFC 8200 8.1). */
			struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip6 + 1);

			udp->dgram_cksum = 0;
			udp->dgram_cksum = rte_ipv6_udptcp_cksum(ip6, udp);
		}
		m->l3_len = sizeof(*ip6);
		m->packet_type = RTE_PTYPE_L3_IPV6 | RTE_PTYPE_TUNNEL_ESP;
	}
	m->l2_len = 0;
}

/* esp_direct.c (MG_ESP_MODE_DIRECT) */
/** Set up intel-ipsec-mb's direct calls once (main lcore); 0 or -errno. */
int esp_direct_init(struct mg_esp *esp);
/** Free what esp_direct_init set up. */
void esp_direct_fini(struct mg_esp *esp);
/** Set up the key of an AES-GCM or ChaCha20-Poly1305 SA and note the salt; 0 or -errno. */
int esp_direct_sa_init(struct mg_esp_sa *sa, enum mg_esp_algo algo, const uint8_t *key,
		       unsigned int key_len, const uint8_t *salt, int socket);
/** Wipe and free what esp_direct_sa_init allocated. */
void esp_direct_sa_fini(struct mg_esp_sa *sa);
/**
 * Encrypt mb[0..n): checked inner packets with the SA's head- and tailroom,
 * meta[i] describing mb[i]. Returns k: mb[0..k) are finished ESP packets
 * (out_finish done), mb[k..n) ran out of sequence numbers and are untouched.
 */
uint16_t esp_direct_encrypt(struct mg_esp_sa *sa, struct rte_mbuf **mb, uint16_t n,
			    const struct esp_pmeta *meta);
/**
 * Decrypt mb[0..n), in_check's packets, meta[i] being mb[i]'s facts.
 * Returns k: mb[0..k) decapsulated, in order (an authentic dummy packet
 * among them untouched, its meta's dummy set); then the failures, with
 * RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED for a tag mismatch, l3_len non-zero
 * for bad padding or next header.
 */
uint16_t esp_direct_decrypt(struct mg_esp_sa *sa, struct rte_mbuf **mb, uint16_t n,
			    struct esp_pmeta *meta);

/* esp_sa.c */
/** Free an SA already unpublished and out of use. */
void esp_sa_free(struct mg_esp_sa *sa);
/** Unpublish an SA: SA table and SPI index (no wait). */
void esp_sa_unpublish(struct mg_esp *esp, struct mg_esp_sa *sa);
/** Free the deleted SAs whose packets in flight all came back. */
void esp_zombies_reap(struct mg_esp *esp);

#endif /* ESP_PRIV_H */
