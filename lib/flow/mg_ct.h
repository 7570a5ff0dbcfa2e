/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_CT_H
#define MG_CT_H

/**
 * @file
 * The flow tracker: every flow of a network that enables it (`flows:` on
 * the network), with its counters in both directions and, for TCP, its
 * state after the flags it carried. It serves two ends:
 *  - stateful classification: a network with `stateful: true` admits the
 *    packets of a tracked flow (its replies above all) where its rules
 *    would deny them; only a packet the rules permit creates a flow;
 *  - flow history: each flow that ends leaves a struct mg_ct_record on the
 *    table's export ring, which the main lcore drains into the history
 *    (mg_flowlog.h).
 *
 * Objects and threads
 *  - A **table** (struct mg_ct_table) belongs to one worker and one
 *    network. Only its owner calls the functions marked "owner"; nothing
 *    takes a lock, allocates or makes a system call on that path. The main
 *    lcore reads its counters (plain 64-bit stores: each field whole) and
 *    drains its export ring (single consumer). Once no worker can reach the
 *    table (unpublished, then a grace period), the main lcore becomes its
 *    owner and may flush and destroy it.
 *  - A **set** (struct mg_ct_set) is a network's tables, one per worker,
 *    with the settings they were made from; the data plane publishes it in
 *    dp->ct[net] (lib/gw/gw_flows.c).
 *
 * Keys: struct mg_flow_key of lib/svc (mg_flow.h), the 5-tuple plus the
 * network; ICMP echo carries its identifier as both ports. Every flow is
 * in the hash twice, under the key of its first packet (direction 0) and
 * the reversed key (direction 1, its replies).
 *
 * TCP: tracked by the flags of each direction (see enum mg_ct_tcp_state
 * and mg_ct_tcp_next()). A flow first seen without SYN (the tracker was
 * enabled mid-connection) is picked up as established. A SYN that opens a
 * connection on the tuple of a closed one (TIME_WAIT, CLOSE) ends the old
 * flow and starts a new one.
 *
 * Time: every call that needs it takes @c now in ticks of
 * mg_ct_conf.hz (workers: rte_rdtsc(); tests: a clock of their own).
 * Expiry: a flow idle past its timeout ends when a packet finds it (that
 * packet then starts a new flow, if allowed) or when mg_ct_expire(),
 * called by its owner once per graph walk with a small budget, visits it.
 *
 * Table full: mg_ct_create() returns NULL and counts it (mg_ct_stats.full);
 * the caller decides (stateful classification drops the packet with the
 * drop reason "flow-table-full", tracking alone lets it through untracked).
 */

#include <stdbool.h>
#include <stdint.h>

#include "mg_common.h"
#include "mg_flow.h"

/** Timeout classes (mg_ct_conf.timeout_s index). */
enum mg_ct_tclass {
	MG_CT_T_TCP_OPENING = 0, /**< TCP before its handshake completed. */
	MG_CT_T_TCP_ESTABLISHED, /**< TCP established. */
	MG_CT_T_TCP_CLOSING,     /**< TCP after a FIN or RST. */
	MG_CT_T_UDP,             /**< UDP. */
	MG_CT_T_ICMP,            /**< ICMP and ICMPv6 (echo, by identifier). */
	MG_CT_T_OTHER,           /**< Any other protocol. */
	MG_CT_T_MAX,
};

/** Default idle timeouts in seconds (Linux conntrack's order of magnitude). */
#define MG_CT_TIMEOUT_TCP_OPENING 120
#define MG_CT_TIMEOUT_TCP_ESTABLISHED 7440
#define MG_CT_TIMEOUT_TCP_CLOSING 120
#define MG_CT_TIMEOUT_UDP 120
#define MG_CT_TIMEOUT_ICMP 30
#define MG_CT_TIMEOUT_OTHER 600

/** The state of a TCP flow. Other protocols stay MG_CT_TCP_NONE. */
enum mg_ct_tcp_state {
	MG_CT_TCP_NONE = 0,     /**< Not TCP. */
	MG_CT_TCP_SYN_SENT,     /**< The originator's SYN seen. */
	MG_CT_TCP_SYN_RECV,     /**< The reply's SYN+ACK seen. */
	MG_CT_TCP_ESTABLISHED,  /**< The originator's ACK after it (or picked up mid-stream). */
	MG_CT_TCP_FIN_WAIT,     /**< A FIN in one direction. */
	MG_CT_TCP_TIME_WAIT,    /**< FINs in both directions. */
	MG_CT_TCP_CLOSE,        /**< A RST. */
	MG_CT_TCP_MAX,
};

/** The name of a TCP state ("established", ...; "" for MG_CT_TCP_NONE). */
const char *mg_ct_tcp_state_name(unsigned int s);

/** TCP flag bits as in the header's byte 13 (mg_flow.h names FIN, SYN, RST, ACK). */

/** What a flow leaves behind when it ends (also the view of an active one). */
struct mg_ct_record {
	/** The key of its first packet. */
	struct mg_flow_key key;
	/** First and last packet, in ticks of mg_ct_conf.hz. */
	uint64_t first, last;
	/** Packets per direction: [0] as the first packet, [1] replies. */
	uint64_t pkts[2];
	/** Bytes (IP length) per direction. */
	uint64_t bytes[2];
	/** Ingress interface of the first packet of each direction (UINT16_MAX: none yet). */
	uint16_t ifindex[2];
	/** The owning worker's index. */
	uint16_t worker;
	/** enum mg_flow_end (MG_FLOW_END_NONE while active). */
	uint8_t end;
	/** enum mg_ct_tcp_state (TCP), last seen. */
	uint8_t tcp_state;
	/** TCP flags seen per direction (OR). */
	uint8_t tcp_flags[2];
	/** Explicit padding. */
	uint8_t pad[6];
};

/**
 * An active flow (owner only; valid until the owner's next call that may end
 * flows). What every packet and the expiry pass touch is in its first cache
 * line; the keys, needed only when it ends, follow.
 */
struct mg_ct_flow {
	/** Last packet, in ticks. */
	uint64_t last;
	/** Packets per direction: [0] as the first packet, [1] replies. */
	uint64_t pkts[2];
	/** Bytes (IP length) per direction. */
	uint64_t bytes[2];
	/** Ingress interface of the first packet of each direction (UINT16_MAX: none yet). */
	uint16_t ifindex[2];
	/** enum mg_ct_tclass now. */
	uint8_t tclass;
	/** Non-zero while the entry holds a flow. */
	uint8_t used;
	/** Non-zero when rkey is in the hash (it differs from the key). */
	uint8_t has_rkey;
	/** FINs seen: bit 0 direction 0, bit 1 direction 1. */
	uint8_t fins;
	/** enum mg_ct_tcp_state (TCP). */
	uint8_t tcp_state;
	/** TCP flags seen per direction (OR). */
	uint8_t tcp_flags[2];
	/** Explicit padding. */
	uint8_t pad;
	/** First packet, in ticks. */
	uint64_t first;
	/** The key of its first packet (direction 0). */
	struct mg_flow_key key;
	/** The reversed key (direction 1). */
	struct mg_flow_key rkey;
} __attribute__((aligned(64)));

/** Table settings. */
struct mg_ct_conf {
	/** Most flows at once, 1..2^26. */
	uint32_t capacity;
	/** Ticks per second of the @c now values. */
	uint64_t hz;
	/** Idle timeout per class in seconds; 0 takes the default. */
	uint32_t timeout_s[MG_CT_T_MAX];
	/** Export ring of ended flows (a power of two), 0 for none. */
	uint32_t export_ring;
	/** Worker index stamped on records. */
	uint16_t worker;
	/** NUMA socket of the memory (SOCKET_ID_ANY is fine). */
	int socket;
	/** Unique name for the DPDK objects (rte_hash, rte_ring), 1..20 characters. */
	char name[MG_NAME_MAX];
};

/** Counters of one table (owner writes, anyone reads). */
struct mg_ct_stats {
	uint64_t lookups;        /**< Packets looked up. */
	uint64_t hits;           /**< ... that found an active flow. */
	uint64_t created;        /**< Flows created. */
	uint64_t full;           /**< Flows not created: table full. */
	uint64_t clashes;        /**< Flows not created: the reversed key belongs to another. */
	uint64_t active;         /**< Flows in the table now. */
	uint64_t ended[MG_FLOW_END_MAX]; /**< Flows ended, per reason. */
	uint64_t exported;       /**< Records pushed on the export ring. */
	uint64_t export_drops;   /**< Records lost: export ring full. */
	uint64_t admitted;       /**< Packets a rule denied, admitted by their flow (the node counts). */
};

/** A worker's table (opaque). */
struct mg_ct_table;

/**
 * Create a table (main lcore). Memory: 2 x capacity hash entries and
 * capacity x sizeof(struct mg_ct_flow).
 * @return the table, or NULL with @p err set (EINVAL naming the setting,
 *   EEXIST for a name in use, ENOMEM).
 */
struct mg_ct_table *mg_ct_table_create(const struct mg_ct_conf *c, struct mg_error *err);

/** Free a table (its active flows are lost: flush first to keep them). NULL: no-op. */
void mg_ct_table_destroy(struct mg_ct_table *t);

/** The table's counters (owner writes; the node adds @c admitted). */
struct mg_ct_stats *mg_ct_table_stats(struct mg_ct_table *t);

/** The settings, defaults filled in. */
const struct mg_ct_conf *mg_ct_table_conf(const struct mg_ct_table *t);

/** The timeout class of a new flow of @p proto. */
enum mg_ct_tclass mg_ct_tclass_of(uint8_t proto);

/** Name of a timeout class as the configuration spells it ("tcp_established", ...). */
const char *mg_ct_tclass_name(unsigned int c);

/** Default timeout of class @p c in seconds. */
uint32_t mg_ct_timeout_default(unsigned int c);

/** @p k with source and destination (addresses and ports) swapped, into @p out. */
void mg_ct_key_reverse(const struct mg_flow_key *k, struct mg_flow_key *out);

/**
 * The next state of a TCP flow in @p s after a packet with @p flags in
 * direction @p dir, given the FIN bits @p fins seen so far (updated).
 * @return the state, or MG_CT_TCP_MAX when the packet is a SYN that opens
 *   a new connection on the tuple of a closed one (end it, start anew).
 */
enum mg_ct_tcp_state mg_ct_tcp_next(enum mg_ct_tcp_state s, int dir, uint8_t flags,
				    uint8_t *fins);

/**
 * Find the flow of @p k (owner). An active flow past its timeout is ended
 * and not returned.
 * @param dir Receives 0 when @p k is the flow's first key, 1 when reversed.
 * @return the flow or NULL.
 */
struct mg_ct_flow *mg_ct_lookup(struct mg_ct_table *t, const struct mg_flow_key *k, uint64_t now,
				int *dir);

/**
 * Look up @p n keys at once (owner): flows[i] the flow of keys[i] or NULL,
 * dirs[i] its direction when found. @return how many were found.
 */
unsigned int mg_ct_lookup_bulk(struct mg_ct_table *t, const struct mg_flow_key **keys,
			       unsigned int n, uint64_t now, struct mg_ct_flow **flows,
			       uint8_t *dirs);

/**
 * Create the flow of @p k (owner), which the caller looked up and did not
 * find; @p tcp_flags are its first packet's (0 for other protocols). The
 * packet is not counted: call mg_ct_update() next.
 * @return the flow, or NULL (counted: full or clashes).
 */
struct mg_ct_flow *mg_ct_create(struct mg_ct_table *t, const struct mg_flow_key *k,
				uint8_t tcp_flags, uint64_t now);

/**
 * Account one packet of @p bytes in direction @p dir that arrived on
 * interface @p ifindex (owner), and move a TCP flow on by its flags.
 * @return 0, or -1 when the packet is a SYN reopening a closed flow's
 *   tuple: nothing was counted; the caller ends the flow
 *   (mg_ct_end_closed()) and treats the packet as a new one.
 */
int mg_ct_update(struct mg_ct_table *t, struct mg_ct_flow *f, int dir, uint32_t bytes,
		 uint8_t tcp_flags, uint16_t ifindex, uint64_t now);

/** The record of active flow @p f (end MG_FLOW_END_NONE, worker 0). */
void mg_ct_flow_record(const struct mg_ct_flow *f, struct mg_ct_record *r);

/** End flow @p f with reason @p why (owner): its record goes to the export ring. */
void mg_ct_end(struct mg_ct_table *t, struct mg_ct_flow *f, enum mg_flow_end why);

/** End a closed TCP flow with the reason its state gives (tcp-fin, tcp-rst). */
void mg_ct_end_closed(struct mg_ct_table *t, struct mg_ct_flow *f);

/**
 * Visit up to @p budget entries round-robin (owner) and end the flows idle
 * past their timeout. @return how many ended.
 */
unsigned int mg_ct_expire(struct mg_ct_table *t, uint64_t now, unsigned int budget);

/** End every active flow with @p why (owner). @return how many. */
unsigned int mg_ct_flush(struct mg_ct_table *t, enum mg_flow_end why);

/** End at most @p max active flows with @p why (owner), e.g. what the export ring holds. */
unsigned int mg_ct_flush_some(struct mg_ct_table *t, enum mg_flow_end why, unsigned int max);

/**
 * Hand up to @p max ended-flow records to @p cb (the export ring's single
 * consumer). @return how many.
 */
unsigned int mg_ct_drain(struct mg_ct_table *t,
			 void (*cb)(const struct mg_ct_record *r, void *arg), void *arg,
			 unsigned int max);

/**
 * Change the idle timeouts (seconds, 0: default) while the owner runs (main
 * lcore): each class's value is replaced whole (a 64-bit atomic store), so
 * the owner sees the old or the new timeout of a class, never a mix.
 */
void mg_ct_table_set_timeouts(struct mg_ct_table *t, const uint32_t timeout_s[MG_CT_T_MAX]);

/** The idle timeout of class @p c in ticks. */
uint64_t mg_ct_timeout_ticks(const struct mg_ct_table *t, enum mg_ct_tclass c);

/* ---- sets: one network's tables ---------------------------------------------------------- */

/** A network's tracker settings (the `flows:` of a network). */
struct mg_ct_set_conf {
	/** Flows per worker table. */
	uint32_t size;
	/** Admit the packets of tracked flows that the rules deny. */
	bool stateful;
	/** Idle timeouts per class in seconds (0: default). */
	uint32_t timeout_s[MG_CT_T_MAX];
	/** Export ring entries per table (a power of two). */
	uint32_t export_ring;
	/** Network id. */
	uint16_t net;
	/** Generation, for unique DPDK object names across replacements. */
	uint32_t gen;
};

/** A network's tables, one per worker. Immutable once published (but for the tables). */
struct mg_ct_set {
	/** As created. */
	struct mg_ct_set_conf conf;
	/** Workers (tables). */
	unsigned int nb_workers;
	/** Each worker's table. */
	struct mg_ct_table *t[];
};

/**
 * Create a network's tables for @p nb_workers workers (main lcore).
 * @return the set, or NULL with @p err set.
 */
struct mg_ct_set *mg_ct_set_create(const struct mg_ct_set_conf *c, unsigned int nb_workers,
				   uint64_t hz, int socket, struct mg_error *err);

/** Free a set and its tables (nobody else may use it). NULL: no-op. */
void mg_ct_set_destroy(struct mg_ct_set *s);

/** The counters of @p s summed over its tables, into @p out (main lcore, any time). */
void mg_ct_set_stats(const struct mg_ct_set *s, struct mg_ct_stats *out);

#endif /* MG_CT_H */
