/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_FLOW_H
#define MG_FLOW_H

/**
 * @file
 * A per-worker flow table: which endpoint each flow of a service was given
 * (so it stays there while weights change and endpoints come and go), its
 * counters, and a record of every flow that ends.
 *
 * Threads: one table per worker lcore. Only its owner calls the functions
 * marked "owner"; nothing here takes a lock. The main lcore may read the
 * counters of struct mg_flow_stats at any time (64-bit fields, written by
 * the owner with plain stores: a reader sees each field whole, not the set
 * as one snapshot) and drains the export ring (single consumer).
 *
 * Time: every call that needs the time takes it as @c now, in ticks of
 * struct mg_flow_conf.hz (workers pass rte_rdtsc() with rte_get_tsc_hz();
 * tests pass a clock of their own). Timeouts are kept in ticks.
 *
 * Expiry: a flow idle past its protocol's timeout is ended either when a
 * packet finds it (the packet then starts a new flow) or by
 * mg_flow_expire(), which visits a bounded number of entries per call
 * round-robin, so a worker can call it once per graph walk.
 *
 * Table full: a flow that finds no free entry is not created; the caller
 * steers the packet without state (the Maglev table alone, which still
 * keeps it on the same endpoint unless the table changed) and
 * mg_flow_stats.full counts it.
 *
 * Ended flows: each ended flow becomes a struct mg_flow_record, pushed on
 * the table's export ring (when the table has one) for the main lcore to
 * drain with mg_flow_export_drain(); a full ring drops the record and
 * counts it (export_drops): the data path never waits for the exporter.
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_byteorder.h>

#include "mg_common.h"

/** Why a flow ended (mg_flow_record.end). */
enum mg_flow_end {
	MG_FLOW_END_NONE = 0,          /**< Still active. */
	MG_FLOW_END_IDLE,              /**< No packet within the protocol's idle timeout. */
	MG_FLOW_END_TCP_FIN,           /**< TCP closed with FIN (after the closing timeout). */
	MG_FLOW_END_TCP_RST,           /**< TCP reset (after the closing timeout). */
	MG_FLOW_END_ENDPOINT_REMOVED,  /**< Its endpoint left the service (or changed address). */
	MG_FLOW_END_ENDPOINT_DOWN,     /**< Its endpoint was set administratively down. */
	MG_FLOW_END_SERVICE_REMOVED,   /**< Its service is gone. */
	MG_FLOW_END_FLUSH,             /**< The table was flushed or destroyed. */
	MG_FLOW_END_GATEWAY_CHANGED,   /**< Its gateway was deleted or changed its translation. */
	MG_FLOW_END_MAX,
};

/** The name of an end reason ("idle", "tcp-fin", ...), for logs and JSON. */
const char *mg_flow_end_name(enum mg_flow_end e);

/** TCP flag bits. */
enum {
	MG_TCP_FIN = 0x01,
	MG_TCP_SYN = 0x02,
	MG_TCP_RST = 0x04,
	MG_TCP_ACK = 0x10,
};

/** Timeout classes (mg_flow_conf.timeout_s index). */
enum mg_flow_tclass {
	MG_FLOW_T_TCP_OPENING = 0, /**< TCP before its handshake completed. */
	MG_FLOW_T_TCP_ESTABLISHED, /**< TCP after it. */
	MG_FLOW_T_TCP_CLOSING,     /**< TCP after a FIN or RST. */
	MG_FLOW_T_UDP,             /**< UDP (GTP-U included). */
	MG_FLOW_T_ICMP,            /**< ICMP and ICMPv6 echo. */
	MG_FLOW_T_SCTP,            /**< SCTP. */
	MG_FLOW_T_OTHER,           /**< Any other protocol (ESP, GRE, ...). */
	MG_FLOW_T_MAX,
};

/**
 * The key of a flow, one direction. Zero the whole struct before filling
 * it (it is hashed and compared as bytes). IPv4 addresses occupy the first
 * 4 bytes of @c src / @c dst.
 */
struct mg_flow_key {
	/** Source address (network order). */
	uint8_t src[16];
	/** Destination address (network order). */
	uint8_t dst[16];
	/** Source port, ICMP echo identifier, or 0 (network order). */
	rte_be16_t sport;
	/** Destination port, ICMP echo identifier, or 0 (network order). */
	rte_be16_t dport;
	/** A protocol's own flow label: GTP-U TEID, ESP SPI; 0 otherwise (network order). */
	rte_be32_t tag;
	/** Network (routing domain) id. */
	uint16_t net;
	/** IP protocol. */
	uint8_t proto;
	/** AF_INET or AF_INET6. */
	uint8_t family;
	/** Zero. */
	uint32_t pad;
} __attribute__((aligned(8))); /* hashed 8 bytes at a time */

/** What an ended flow leaves behind (also the view of an active one). */
struct mg_flow_record {
	/** The flow's key as its first packet carried it. */
	struct mg_flow_key key;
	/** First packet, in ticks of the table's hz. */
	uint64_t first;
	/** Last packet, in ticks. */
	uint64_t last;
	/** Packets and bytes (IP length) seen: [0] forward, [1] reply. */
	uint64_t pkts[2];
	/** Bytes (IP total length) seen, per direction. */
	uint64_t bytes[2];
	/** The endpoint reference (mg_svc_ref) the flow was pinned to. */
	uint32_t ep;
	/** Service id. */
	uint16_t svc;
	/** enum mg_flow_end (MG_FLOW_END_NONE for an active flow). */
	uint8_t end;
	/** TCP flags seen (OR of both directions). */
	uint8_t tcp_flags;
	/** The owning worker's index (mg_flow_conf.worker). */
	uint16_t worker;
	/**
	 * NAT flows (lib/natgw): the source port (host order) the flow holds
	 * from its worker's SNAT block, 0 when none. Taken from the former
	 * padding: no other field moved.
	 */
	uint16_t nat_port;
	/** NAT flows of a gateway: its slot + 1 and generation (mg_natgw_tag), 0 when none. */
	uint16_t nat_gw;
	/** Explicit padding. */
	uint16_t pad;
};

/** mg_flow_record.svc of a flow that belongs to no service (a gateway's source NAT). */
#define MG_FLOW_SVC_NONE UINT16_MAX

/** An active flow (owner worker only; valid until the owner's next call). */
struct mg_flow {
	/** Record: key, times, counters, endpoint. */
	struct mg_flow_record r;
	/** The reply key, when the flow has one (nat mode). */
	struct mg_flow_key rkey;
	/** Timeout class (enum mg_flow_tclass). */
	uint8_t tclass;
	/** Non-zero when @c rkey is in the table. */
	uint8_t has_rkey;
	/** Non-zero while the entry holds a flow. */
	uint8_t used;
	/** TCP: a FIN or RST ended it (enum mg_flow_end to report when it expires). */
	uint8_t closing;
	/** Opaque value for the caller (a NAT port, an adjacency...). */
	uint32_t user;
};

/** Table settings. */
struct mg_flow_conf {
	/** Most flows at once (entries), >= 1. */
	uint32_t capacity;
	/** Ticks per second of the @c now values. */
	uint64_t hz;
	/** Idle timeout per class in seconds; 0 takes the default. */
	uint32_t timeout_s[MG_FLOW_T_MAX];
	/** Export ring size (a power of two), 0 for no export. */
	uint32_t export_ring;
	/** Worker index stamped on records. */
	uint16_t worker;
	/** NUMA socket for the memory (SOCKET_ID_ANY is fine). */
	int socket;
	/** Unique name prefix for the DPDK objects (rte_hash, rte_ring). */
	char name[MG_NAME_MAX];
	/** Called by the owner for each flow that ends (before export), or NULL. */
	void (*on_end)(const struct mg_flow_record *r, void *arg);
	/** Argument of @c on_end. */
	void *on_end_arg;
};

/** Default idle timeouts (seconds), the values of VPP's NAT and Linux conntrack's order. */
#define MG_FLOW_TIMEOUT_TCP_OPENING 120
#define MG_FLOW_TIMEOUT_TCP_ESTABLISHED 7440
#define MG_FLOW_TIMEOUT_TCP_CLOSING 240
#define MG_FLOW_TIMEOUT_UDP 300
#define MG_FLOW_TIMEOUT_ICMP 60
#define MG_FLOW_TIMEOUT_SCTP 300
#define MG_FLOW_TIMEOUT_OTHER 120

/** Counters of one table (owner writes, anyone reads). */
struct mg_flow_stats {
	uint64_t lookups;       /**< Packets looked up. */
	uint64_t hits;          /**< ... that found an active flow. */
	uint64_t created;       /**< Flows created. */
	uint64_t full;          /**< Flows not created: table full. */
	uint64_t clashes;       /**< Flows not created: reply key held by another flow. */
	uint64_t active;        /**< Flows in the table now. */
	uint64_t ended[MG_FLOW_END_MAX]; /**< Flows ended, per reason. */
	uint64_t exported;      /**< Records pushed on the export ring. */
	uint64_t export_drops;  /**< Records lost: export ring full. */
};

/** A worker's flow table (opaque). */
struct mg_flow_table;

/**
 * Create a table (main lcore). Memory: about 2 x capacity hash entries
 * plus capacity x sizeof(struct mg_flow).
 * @return the table, or NULL with @p err set (EINVAL for a bad setting,
 *   EEXIST for a name in use, ENOMEM).
 */
struct mg_flow_table *mg_flow_table_create(const struct mg_flow_conf *c, struct mg_error *err);

/**
 * Destroy a table; every active flow ends with MG_FLOW_END_FLUSH (records
 * go to the export ring's consumer only if drained before: they are lost
 * with the ring). NULL is a no-op.
 */
void mg_flow_table_destroy(struct mg_flow_table *t);

/** The table's counters. */
const struct mg_flow_stats *mg_flow_table_stats(const struct mg_flow_table *t);

/** The timeout class of a packet of @p proto (TCP: by its flags). */
enum mg_flow_tclass mg_flow_tclass_of(uint8_t proto);

/**
 * Find the flow of @p k (owner). An active flow past its timeout is ended
 * (MG_FLOW_END_IDLE, or the TCP close reason) and not returned.
 * @param dir Receives 0 if @p k is the flow's forward key, 1 if its reply key.
 * @return the flow or NULL.
 */
struct mg_flow *mg_flow_lookup(struct mg_flow_table *t, const struct mg_flow_key *k,
			       uint64_t now, int *dir);

/**
 * Look up @p n keys at once (owner): flows[i] receives the flow of
 * keys[i] or NULL, dirs[i] its direction when found. Expired flows are
 * ended as in mg_flow_lookup(), once each however many of @p keys are theirs.
 * @return the number of flows found.
 */
unsigned int mg_flow_lookup_bulk(struct mg_flow_table *t, const struct mg_flow_key **keys,
				 unsigned int n, uint64_t now, struct mg_flow **flows,
				 uint8_t *dirs);

/**
 * Create a flow for @p k (owner), pinned to endpoint reference @p ep of
 * service @p svc; @p rk, if not NULL, is its reply key (looked up as
 * direction 1). The caller has looked @p k up and found nothing (@p k
 * is not checked again: adding a key present would repoint it).
 * @return the flow, or NULL when the table is full (counted in @c full)
 *   or @p rk belongs to another flow already (counted in @c clashes).
 */
struct mg_flow *mg_flow_create(struct mg_flow_table *t, const struct mg_flow_key *k,
			       const struct mg_flow_key *rk, uint16_t svc, uint32_t ep,
			       uint64_t now);

/**
 * Account one packet of @p bytes to flow @p f in direction @p dir at
 * @p now (owner). @p tcp_flags: the TCP header's flags, 0 for other
 * protocols; a FIN or RST moves the flow to the closing timeout, the first
 * packet without SYN after the opening one to the established timeout.
 */
static inline void
mg_flow_touch(struct mg_flow *f, int dir, uint32_t bytes, uint8_t tcp_flags, uint64_t now)
{
	f->r.last = now;
	f->r.pkts[dir]++;
	f->r.bytes[dir] += bytes;
	if (f->r.key.proto == 6 /* TCP */) {
		f->r.tcp_flags |= tcp_flags;
		if (unlikely(tcp_flags & (MG_TCP_FIN | MG_TCP_RST))) {
			f->tclass = MG_FLOW_T_TCP_CLOSING;
			if (tcp_flags & MG_TCP_RST)
				f->closing = MG_FLOW_END_TCP_RST;
			else if (f->closing != MG_FLOW_END_TCP_RST)
				f->closing = MG_FLOW_END_TCP_FIN;
		} else if (f->tclass == MG_FLOW_T_TCP_OPENING && !(tcp_flags & MG_TCP_SYN)) {
			f->tclass = MG_FLOW_T_TCP_ESTABLISHED;
		}
	}
}

/** End flow @p f with reason @p why (owner): record exported, entry freed. */
void mg_flow_end(struct mg_flow_table *t, struct mg_flow *f, enum mg_flow_end why);

/**
 * Visit up to @p budget entries round-robin (owner) and end the flows idle
 * past their timeout; if @p check is not NULL, also end each active flow
 * for which check(record, arg) returns an end reason other than
 * MG_FLOW_END_NONE (an endpoint or service gone).
 * @return the number of flows ended.
 */
unsigned int mg_flow_expire(struct mg_flow_table *t, uint64_t now, unsigned int budget,
			    enum mg_flow_end (*check)(const struct mg_flow_record *r, void *arg),
			    void *arg);

/** End every active flow with @p why (owner). @return how many. */
unsigned int mg_flow_flush(struct mg_flow_table *t, enum mg_flow_end why);

/**
 * Hand up to @p max ended-flow records to @p cb (the export ring's single
 * consumer, usually the main lcore).
 * @return the number of records handed over.
 */
unsigned int mg_flow_export_drain(struct mg_flow_table *t,
				  void (*cb)(const struct mg_flow_record *r, void *arg), void *arg,
				  unsigned int max);

/** The idle timeout of class @p c in ticks. */
uint64_t mg_flow_timeout_ticks(const struct mg_flow_table *t, enum mg_flow_tclass c);

/** Convert ticks of the table's clock to nanoseconds. */
uint64_t mg_flow_ticks_to_ns(const struct mg_flow_table *t, uint64_t ticks);

#endif /* MG_FLOW_H */
