/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_CLS_H
#define MG_CLS_H

/**
 * @file
 * Classification: the rules of one network and address family, evaluated
 * with rte_acl, and the actions they carry.
 *
 * Objects and threads
 *  - A **table** (struct mg_cls_table) is one rule set compiled for rte_acl:
 *    immutable once built, except for its per-worker counters and policer
 *    buckets. It is built and freed on the main lcore only (rte_acl_build is
 *    neither thread-safe nor fast: about a second for 10,000 rules), never in
 *    a worker. The caller publishes a new table by pointer swap, waits one
 *    RCU grace period, then frees the old one (mg_cls_table_free, after
 *    mg_cls_table_inherit if the counters should carry over).
 *  - A **set** (struct mg_cls_set) does exactly that for one network and
 *    family: mg_cls_set_replace() builds the new table, swaps it in, waits
 *    for the workers through the caller's sync callback, carries the counters
 *    over by rule id and frees the old table. A refused rule set changes
 *    nothing.
 *  - **Workers** call mg_cls_classify_burst() (or fill keys themselves with
 *    mg_cls_key4()/mg_cls_key6() and call mg_cls_classify()), then
 *    mg_cls_apply_burst() for the packets whose result asks for it (police,
 *    mark DSCP). No allocation, lock or system call on that path. Each worker
 *    passes its own slot number (0 .. conf.nb_workers - 1): counters and
 *    policer state are per slot, so two threads must never use the same slot
 *    at the same time.
 *  - Each slot of a one-category table has a **result cache**: rte_acl's
 *    answer for the key bytes it reads, remembered for the flows seen
 *    lately (8,192 entries), so that a packet of a known flow costs a hash
 *    and a compare whatever the number of rules, and only new flows go to
 *    rte_acl (one call per chunk). It belongs to its table, so a new rule
 *    set starts with an empty one and nothing in it is ever stale;
 *    mg_cls_info.cache_hits says how often it answered.
 *
 * Matching
 *  - Rules are ordered by priority (lower first), ties by their order in the
 *    array; the first rule that matches wins, else the default action does.
 *  - Fields: source and destination prefix, IP protocol, source and
 *    destination port ranges (TCP, UDP, SCTP), ICMP/ICMPv6 type and code
 *    ranges (in place of the ports, for rules whose protocol is the family's
 *    ICMP), VLAN id (0: untagged), DSCP, ingress interface; each is "any"
 *    unless its bit is set in mg_cls_match.fields (prefixes: length 0).
 *  - A rule with a port range and no protocol matches TCP, UDP and SCTP
 *    (it becomes three rte_acl rules). Port and type/code ranges only match
 *    packets whose L4 header was seen: non-first fragments (IPv4 offset != 0,
 *    or an IPv6 fragment header with offset != 0) and packets cut short
 *    before the ports (or before ICMP type and code) match only rules
 *    without port or type/code ranges; their protocol still matches (for
 *    IPv6, the header after the fragment header). Such a packet's key holds
 *    ports 0/0 (ICMP: 0xffff/0xffff) and narrow ranges are compiled without
 *    that pair, so the lookup needs no extra field; the one consequence is
 *    that a TCP/UDP/SCTP packet whose source and destination ports are both
 *    0 (reserved, never legitimate) is treated as one without ports.
 *  - IPv4 options are skipped (IHL). IPv6 extension headers (hop-by-hop,
 *    routing, destination options, fragment, AH, mobility, HIP, shim6) are
 *    walked: the protocol matched is the upper layer's. A chain that cannot
 *    be walked (cut short, more than MG_IP6_MAX_EXT_HDRS headers) matches on
 *    the first next-header value, without L4.
 *
 * Actions: permit, deny, count (permit; the name says why the rule exists:
 * every rule counts its packets and bytes), capture (permit, flagged for the
 * capture tap), police (srTCM over rte_meter: green and yellow pass, red is
 * dropped), mark (rewrite the DSCP; IPv4 checksum patched), service and
 * tunnel and table (permit, steered by the caller to the opaque 32-bit
 * handle: a service, a tunnel, another network's route table).
 *
 * Policing across workers: rte_meter is not thread-safe, so each worker slot
 * has its own bucket for each police rule. They start with an equal split of
 * the configured rate and burst (never less than MG_CLS_MIN_SLOT_BURST bytes
 * of burst, or the whole burst if smaller). mg_cls_police_rebalance(), called
 * by the main lcore now and then (every 10-100 ms), re-divides the rate after
 * the bytes each slot was offered since the last call (max-min fair, a
 * quarter kept as an even floor), so that a single flow on one worker gets
 * the configured rate instead of rate / nb_workers.
 */

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_acl.h>
#include <rte_byteorder.h>
#include <rte_mbuf.h>

#include "mg_addr.h"
#include "mg_common.h"
#include "mg_proto.h"

struct rte_rcu_qsbr;
struct mg_cls_table;
struct mg_cls_set;

/* ---- limits -------------------------------------------------------------------------- */

#define MG_CLS_MAX_RULES (1u << 20)   /**< Rules in one set. */
#define MG_CLS_MAX_WORKERS 128        /**< Worker slots of one table. */
#define MG_CLS_IFACE_NONE 4095        /**< Key value of packets without an interface. */
#define MG_CLS_ID_DEFAULT UINT32_MAX  /**< Rule id reported for the default action. */
#define MG_CLS_ID_NONE (UINT32_MAX - 1) /**< Rule id reported for no match in a category > 0. */
#define MG_CLS_MIN_SLOT_BURST 2048u   /**< Smallest burst a worker's share of a policer gets. */

/* ---- rules ----------------------------------------------------------------------------- */

/** What a rule does with the packets it wins. */
enum mg_cls_action_type {
	MG_CLS_PERMIT = 0, /**< Let the packet through. */
	MG_CLS_DENY,       /**< Drop it (verdict MG_CLS_DROP_DENY). */
	MG_CLS_COUNT,      /**< Let it through; the rule exists to count. */
	MG_CLS_CAPTURE,    /**< Let it through, flagged MG_CLS_RF_CAPTURE. */
	MG_CLS_POLICE,     /**< srTCM meter: green and yellow pass, red is dropped. */
	MG_CLS_MARK,       /**< Rewrite the DSCP, let it through. */
	MG_CLS_SERVICE,    /**< Let it through to service handle mg_cls_action.id. */
	MG_CLS_TUNNEL,     /**< Let it through into tunnel handle mg_cls_action.id. */
	MG_CLS_TABLE,      /**< Let it through, routed by route table (network) mg_cls_action.id. */
	MG_CLS_ACTION_MAX
};

/** An action and its parameters. All zero is "permit". */
struct mg_cls_action {
	/** enum mg_cls_action_type. */
	uint8_t type;
	/** MG_CLS_MARK: the new DSCP, 0..63. */
	uint8_t dscp;
	/** MG_CLS_SERVICE / MG_CLS_TUNNEL / MG_CLS_TABLE: the caller's opaque handle. */
	uint32_t id;
	/** MG_CLS_POLICE: committed rate in bytes of IP packet per second (> 0). */
	uint64_t rate;
	/** MG_CLS_POLICE: committed burst in bytes (> 0). */
	uint64_t burst;
	/** MG_CLS_POLICE: excess burst in bytes; packets it covers are yellow (0: none). */
	uint64_t excess;
};

/** Bits of mg_cls_match.fields: which members constrain the match. */
enum {
	MG_CLS_M_PROTO = 1 << 0,     /**< mg_cls_match.proto */
	MG_CLS_M_SPORT = 1 << 1,     /**< mg_cls_match.sport */
	MG_CLS_M_DPORT = 1 << 2,     /**< mg_cls_match.dport */
	MG_CLS_M_VLAN = 1 << 3,      /**< mg_cls_match.vlan */
	MG_CLS_M_DSCP = 1 << 4,      /**< mg_cls_match.dscp */
	MG_CLS_M_IFACE = 1 << 5,     /**< mg_cls_match.iface */
	MG_CLS_M_ICMP_TYPE = MG_CLS_M_SPORT, /**< mg_cls_match.icmp_type */
	MG_CLS_M_ICMP_CODE = MG_CLS_M_DPORT, /**< mg_cls_match.icmp_code */
};

/** An inclusive range of 16-bit values. */
struct mg_cls_range {
	/** Lowest value matched. */
	uint16_t lo;
	/** Highest value matched (>= lo). */
	uint16_t hi;
};

/** What a rule matches. All zero matches every packet. */
struct mg_cls_match {
	/** MG_CLS_M_* bits of the members below that apply. */
	uint32_t fields;
	/** Source prefix; length 0 is any (its family may then be 0). */
	struct mg_prefix src;
	/** Destination prefix; length 0 is any. */
	struct mg_prefix dst;
	/** IP protocol (IPv6: the upper-layer header after the extension headers). */
	uint8_t proto;
	/** DSCP, 0..63. */
	uint8_t dscp;
	/** VLAN id the packet arrived with, 0..4095 (0: untagged or priority-tagged). */
	uint16_t vlan;
	/** Ingress interface index, 0..MG_CLS_IFACE_NONE - 1. */
	uint16_t iface;
	union {
		/** Source port range (TCP, UDP, SCTP). */
		struct mg_cls_range sport;
		/** ICMP/ICMPv6 type range (rules whose proto is the family's ICMP), 0..255. */
		struct mg_cls_range icmp_type;
	};
	union {
		/** Destination port range (TCP, UDP, SCTP). */
		struct mg_cls_range dport;
		/** ICMP/ICMPv6 code range, 0..255. */
		struct mg_cls_range icmp_code;
	};
};

/** A rule. */
struct mg_cls_rule {
	/** The caller's id, unique in the set, reported on match (not MG_CLS_ID_*). */
	uint32_t id;
	/** Lower is evaluated first; equal priorities keep the array order. */
	int32_t priority;
	/** Category the rule belongs to, below mg_cls_conf.categories (usually 0). */
	uint8_t category;
	/** What it matches. */
	struct mg_cls_match match;
	/** What it does. */
	struct mg_cls_action action;
};

/** How a table is built. */
struct mg_cls_conf {
	/** AF_INET or AF_INET6. */
	uint8_t family;
	/** Network id, for names and logs only. */
	uint16_t net;
	/** Worker slots (1..MG_CLS_MAX_WORKERS): one set of counters and meters each. */
	uint16_t nb_workers;
	/** NUMA socket of the tables (SOCKET_ID_ANY is fine). */
	int socket_id;
	/**
	 * Independent first-match lists evaluated in the same pass: 0 or 1 (the
	 * usual), else 4, 8, 12 or 16 (rte_acl's rule). Each rule belongs to one
	 * (mg_cls_rule.category); only category 0 has a default action.
	 */
	uint8_t categories;
	/** rte_acl algorithm; RTE_ACL_CLASSIFY_DEFAULT picks AVX2, else SSE, else scalar. */
	enum rte_acl_classify_alg alg;
	/**
	 * rte_acl memory limit in bytes (0: none, rte_acl's own heuristics,
	 * which split large sets into several tries and build fastest). With a
	 * limit rte_acl starts from one unbounded trie and halves until it fits:
	 * cheaper lookups, but builds that take seconds per thousand rules with
	 * port ranges.
	 */
	size_t max_size;
	/**
	 * Optional: the QSBR variable workers report quiescence on. When set,
	 * mg_cls_police_rebalance() makes sure a grace period separates two
	 * profile changes of a bucket; when NULL the caller must.
	 */
	struct rte_rcu_qsbr *rcu;
};

/* ---- building (main lcore) ------------------------------------------------------------- */

/**
 * Build a table from @p n rules and the default action @p def (NULL:
 * permit). Rules and action are validated first: a refusal names the field
 * ("rules[3].match.dport") in @p err and builds nothing. Main lcore only.
 * @return the table, or NULL with @p err set (EINVAL, EEXIST for a repeated
 *   id, ENOMEM, ENOSPC when rte_acl cannot fit the set, EPERM off the main lcore).
 */
struct mg_cls_table *mg_cls_table_build(const struct mg_cls_conf *conf,
					const struct mg_cls_rule *rules, uint32_t n,
					const struct mg_cls_action *def, struct mg_error *err);

/**
 * Free a table (NULL: nothing). No worker may still hold it: unpublish it and
 * wait a grace period first. Main lcore only.
 */
void mg_cls_table_free(struct mg_cls_table *t);

/**
 * Add the final counters of @p old, which no worker uses any more, to the
 * rules of @p t with the same id (and the default action's to the default),
 * so that counters survive a replacement of the set. Main lcore only.
 */
void mg_cls_table_inherit(struct mg_cls_table *t, const struct mg_cls_table *old);

/** What a table holds and how it was built. */
struct mg_cls_info {
	/** AF_INET or AF_INET6. */
	uint8_t family;
	/** Categories built. */
	uint8_t categories;
	/** Worker slots. */
	uint16_t nb_workers;
	/** Rules of the set. */
	uint32_t rules;
	/** rte_acl rules after expansion (a portless "any protocol" rule with ports is three). */
	uint32_t acl_rules;
	/** Police rules. */
	uint32_t police_rules;
	/** rte_acl algorithm used. */
	enum rte_acl_classify_alg alg;
	/** Time mg_cls_table_build took, in nanoseconds. */
	uint64_t build_ns;
	/** Of which rte_acl_build, in nanoseconds. */
	uint64_t acl_build_ns;
	/** Memory of the table outside rte_acl, in bytes. */
	size_t mem;
	/** Entries of each worker's result cache (0: the table has none). */
	uint32_t cache_entries;
	/** Packets looked up in the workers' result caches (summed over slots). */
	uint64_t cache_lookups;
	/** Of which answered from the cache, not by rte_acl. */
	uint64_t cache_hits;
};

/** Describe @p t. */
void mg_cls_table_info(const struct mg_cls_table *t, struct mg_cls_info *info);

/** Name of an action ("permit", "deny", ...), or "?" */
const char *mg_cls_action_name(unsigned int type);

/** Name of an rte_acl algorithm ("avx2", "sse", ...). */
const char *mg_cls_alg_name(enum rte_acl_classify_alg alg);

/* ---- counters (main lcore, any time) --------------------------------------------------- */

/** Counters of one rule, summed over the worker slots and inherited tables. */
struct mg_cls_counters {
	/** Packets the rule won. */
	uint64_t pkts;
	/** Their bytes (IP packet length). */
	uint64_t bytes;
	/** Police rules: packets within the committed rate and burst. */
	uint64_t green;
	/** Police rules: packets within the excess burst (passed). */
	uint64_t yellow;
	/** Police rules: packets over both (dropped). */
	uint64_t red;
	/** Police rules: bytes of the red packets. */
	uint64_t red_bytes;
};

/**
 * Counters of the rule with id @p id (MG_CLS_ID_DEFAULT: the default action).
 * @return 0, or -ENOENT.
 */
int mg_cls_rule_counters(const struct mg_cls_table *t, uint32_t id, struct mg_cls_counters *c);

/** Rules of the table plus one (the default action), for mg_cls_counters_at. */
uint32_t mg_cls_table_size(const struct mg_cls_table *t);

/**
 * Counters of entry @p index (0: the default action, then the rules in
 * evaluation order) and its rule id. @return 0, or -ENOENT past the end.
 */
int mg_cls_counters_at(const struct mg_cls_table *t, uint32_t index, uint32_t *id,
		       struct mg_cls_counters *c);

/* ---- policing (main lcore) ------------------------------------------------------------- */

/**
 * Re-divide the rate and burst of every police rule between the worker slots
 * after what each was offered since the previous call (see the file
 * comment). Call every 10-100 ms with the current TSC.
 * @return 0; -EAGAIN when conf.rcu is set and a worker has not been
 *   quiescent since the previous call (nothing changed: call again later).
 */
int mg_cls_police_rebalance(struct mg_cls_table *t, uint64_t tsc);

/* ---- the fast path (workers) --------------------------------------------------------------- */

/** rte_acl's input for one packet, in network byte order, filled by mg_cls_key4/6. */
struct mg_cls_key {
	/** IP protocol (IPv6: upper layer). rte_acl reads it with a 4-byte load. */
	uint8_t proto;
	/** Zero. */
	uint8_t pad[3];
	union {
		/** IPv4 layout. */
		struct {
			/** Source address. */
			rte_be32_t src;
			/** Destination address. */
			rte_be32_t dst;
			/** Source port, or 0 and the ICMP type. */
			rte_be16_t sport;
			/** Destination port, or 0 and the ICMP code. */
			rte_be16_t dport;
			/** MG_CLS_META(): interface, VLAN, DSCP. */
			rte_be32_t meta;
		} v4;
		/** IPv6 layout. */
		struct {
			/** Source address. */
			uint8_t src[16];
			/** Destination address. */
			uint8_t dst[16];
			/** Source port, or 0 and the ICMPv6 type. */
			rte_be16_t sport;
			/** Destination port, or 0 and the ICMPv6 code. */
			rte_be16_t dport;
			/** MG_CLS_META(): interface, VLAN, DSCP. */
			rte_be32_t meta;
		} v6;
	};
	/** IP packet length in bytes, for the counters and policers (not matched). */
	uint32_t len;
} __rte_aligned(16);

/**
 * The meta word of a key (host order): interface (12 bits), VLAN id (12),
 * DSCP (6), two spare bits. rte_acl reads it only when a rule of the table
 * matches one of them.
 */
#define MG_CLS_META(iface, vlan, dscp)                                                      \
	((uint32_t)(iface) << 20 | (uint32_t)(vlan) << 8 | (uint32_t)(dscp) << 2)

/** How a packet fared. */
enum mg_cls_verdict {
	MG_CLS_PASS = 0,       /**< Forward it (to result.id for service and tunnel). */
	MG_CLS_DROP_DENY,      /**< A deny rule or default. */
	MG_CLS_DROP_POLICE,    /**< Red in a police rule's meter (after mg_cls_apply). */
};

/** Bits of mg_cls_result.flags. */
enum {
	MG_CLS_RF_CAPTURE = 1 << 0, /**< Capture action: hand a copy to the capture tap. */
	MG_CLS_RF_APPLY = 1 << 1,   /**< Police or mark: call mg_cls_apply(). */
};

/** The classification of one packet: the winning rule and its action. */
struct mg_cls_result {
	/** The winning rule's id; MG_CLS_ID_DEFAULT for the default action. */
	uint32_t rule_id;
	/** SERVICE / TUNNEL / TABLE: the handle; MG_CLS_POLICE: internal meter slot. */
	uint32_t id;
	/** Internal index of the winner (0: default action), for mg_cls_counters_at. */
	uint32_t index;
	/** enum mg_cls_action_type. */
	uint8_t action;
	/** enum mg_cls_verdict. */
	uint8_t verdict;
	/** MG_CLS_RF_* */
	uint8_t flags;
	/** MG_CLS_MARK: the DSCP to write. */
	uint8_t dscp;
};

/** Largest number of packets one rte_acl call gets; bursts are cut into these. */
#define MG_CLS_CHUNK 64

/** Read a 32-bit big-endian value at any alignment (host order result). */
static inline uint32_t
mg_cls_rd_be32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return rte_be_to_cpu_32(v);
}

/** True for the protocols whose first four L4 bytes are two ports. */
static inline int
mg_cls_proto_has_ports(uint8_t proto)
{
	return proto == MG_IPPROTO_TCP || proto == MG_IPPROTO_UDP || proto == MG_IPPROTO_SCTP;
}

/**
 * The L4 part of a key: ports (or ICMP type and code with @p icmp the
 * family's ICMP protocol) from the header at @p off of @p avail bytes.
 * When they are not there the key says so by ports no narrow rule range
 * can hold: 0/0 for TCP, UDP and SCTP, 0xffff/0xffff for ICMP (see the
 * file comment). Returns 1 when they were seen.
 */
static inline uint32_t
mg_cls_key_l4(const uint8_t *ip, uint32_t off, uint32_t avail, uint8_t proto, uint8_t icmp,
	      rte_be32_t *ports)
{
	if (likely(mg_cls_proto_has_ports(proto))) {
		if (likely(off + 4 <= avail)) {
			memcpy(ports, ip + off, 4);
			return 1;
		}
	} else if (proto == icmp) {
		if (off + 2 <= avail) {
			*ports = rte_cpu_to_be_32((uint32_t)ip[off] << 16 | ip[off + 1]);
			return 1;
		}
		*ports = UINT32_MAX;
		return 0;
	}
	*ports = 0;
	return 0;
}

/** Clamp an interface index to the 12 bits of the key. */
static inline uint32_t
mg_cls_key_iface(uint16_t iface)
{
	return iface < MG_CLS_IFACE_NONE ? iface : MG_CLS_IFACE_NONE;
}

/**
 * Fill the key of an IPv4 packet. @p m holds the packet from its IP header
 * on, in its first segment (as eth-input leaves it: header validated, L2
 * stripped); @p iface is the ingress interface (MG_IF_NONE and anything
 * from MG_CLS_IFACE_NONE up mean none), @p vlan the VLAN id it came with (0
 * untagged). Options are skipped; non-first fragments and L4 headers cut
 * short get no ports. Never reads past the first segment.
 */
static inline void
mg_cls_key4(struct mg_cls_key *k, const struct rte_mbuf *m, uint16_t iface, uint16_t vlan)
{
	const uint8_t *ip = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t avail = m->data_len, tot, ihl, w;
	rte_be32_t ports;

	k->len = m->pkt_len;
	if (unlikely(avail < MG_IP4_MIN_HLEN)) {
		memset(k, 0, offsetof(struct mg_cls_key, len));
		k->v4.meta = rte_cpu_to_be_32(MG_CLS_META(mg_cls_key_iface(iface), vlan & 0xfff, 0));
		return;
	}
	w = mg_cls_rd_be32(ip);          /* version/IHL, TOS, total length */
	ihl = (w >> 22) & 0x3c;
	tot = w & 0xffff;
	if (tot < avail)
		avail = tot;
	*(uint32_t *)k = ip[9];          /* proto and the zero pad: what rte_acl loads */
	memcpy(&k->v4.src, ip + 12, 8);  /* source and destination */
	/* Offset 0 (first fragment or whole packet): the L4 header is here. */
	if (likely((ip[6] & 0x1f) == 0 && ip[7] == 0))
		mg_cls_key_l4(ip, ihl, avail, ip[9], MG_IPPROTO_ICMP, &ports);
	else
		mg_cls_key_l4(ip, 0, 0, ip[9], MG_IPPROTO_ICMP, &ports); /* none: the marker */
	memcpy(&k->v4.sport, &ports, 4);
	k->v4.meta = rte_cpu_to_be_32(MG_CLS_META(mg_cls_key_iface(iface), vlan & 0xfff,
						  (w >> 18) & 0x3f));
}

/**
 * Fill the key of an IPv6 packet (same contract as mg_cls_key4). The
 * extension header chain is walked when there is one; behind a fragment
 * header with a non-zero offset there are no ports.
 */
static inline void
mg_cls_key6(struct mg_cls_key *k, const struct rte_mbuf *m, uint16_t iface, uint16_t vlan)
{
	const uint8_t *ip = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t avail = m->data_len, tot, off = MG_IP6_HLEN, w;
	rte_be32_t ports;
	uint8_t nh;

	k->len = m->pkt_len;
	if (unlikely(avail < MG_IP6_HLEN)) {
		memset(k, 0, offsetof(struct mg_cls_key, len));
		k->v6.meta = rte_cpu_to_be_32(MG_CLS_META(mg_cls_key_iface(iface), vlan & 0xfff, 0));
		return;
	}
	w = mg_cls_rd_be32(ip);          /* version, traffic class, flow label */
	tot = MG_IP6_HLEN + ((uint32_t)ip[4] << 8 | ip[5]);
	if (tot < avail)
		avail = tot;
	nh = ip[6];
	memcpy(k->v6.src, ip + 8, 32);   /* source and destination */
	if (likely(!mg_ip6_is_ext(nh))) {
		mg_cls_key_l4(ip, off, avail, nh, MG_IPPROTO_ICMPV6, &ports);
	} else {
		uint8_t proto;
		int frag, first;

		if (mg_ip6_walk(ip, avail, &proto, &off, &frag, &first) == 0) {
			nh = proto;
			if (!frag || first)
				mg_cls_key_l4(ip, off, avail, nh, MG_IPPROTO_ICMPV6, &ports);
			else
				mg_cls_key_l4(ip, 0, 0, nh, MG_IPPROTO_ICMPV6, &ports);
		} else {
			ports = 0; /* nh is an extension header: no port rule applies */
		}
	}
	*(uint32_t *)k = nh;
	memcpy(&k->v6.sport, &ports, 4);
	k->v6.meta = rte_cpu_to_be_32(MG_CLS_META(mg_cls_key_iface(iface), vlan & 0xfff,
						  (w >> 22) & 0x3f));
}

/**
 * Classify @p n packets whose keys the caller filled (mg_cls_key4 for an
 * IPv4 table, mg_cls_key6 for IPv6): res[i] is the winner of keys[i] in
 * category 0; with conf.categories = C > 1, @p res holds n * C results,
 * res[i * C + c] for category c (MG_CLS_ID_NONE where nothing matched in a
 * category above 0). Counts each winner's packets and bytes in slot
 * @p worker. Any @p n. Workers; no allocation, lock or system call.
 */
void mg_cls_classify(const struct mg_cls_table *t, unsigned int worker,
		     const struct mg_cls_key *keys, uint32_t n, struct mg_cls_result *res);

/**
 * Fill the keys of @p n packets and classify them, MG_CLS_CHUNK at a time
 * (see mg_cls_classify). @p iface and @p vlan give each packet's ingress
 * interface and VLAN id; either may be NULL (none, untagged).
 */
void mg_cls_classify_burst(const struct mg_cls_table *t, unsigned int worker,
			   struct rte_mbuf *const *pkts, const uint16_t *iface,
			   const uint16_t *vlan, uint32_t n, struct mg_cls_result *res);

/**
 * Apply a police or mark result to its packet (@p r from the same table):
 * police: meter the packet in slot @p worker at time @p tsc (rte_rdtsc(),
 * read once per burst is fine) and set r->verdict to MG_CLS_DROP_POLICE
 * when red; mark: rewrite the DSCP of the packet at @p m (IPv4 checksum
 * patched). Other results are left alone. @return r->verdict.
 */
enum mg_cls_verdict mg_cls_apply(const struct mg_cls_table *t, unsigned int worker,
				 struct rte_mbuf *m, struct mg_cls_result *r, uint64_t tsc);

/**
 * mg_cls_apply() on the results of @p n packets (as mg_cls_classify left
 * them: with several categories, each packet's category-0 result) that are
 * flagged MG_CLS_RF_APPLY. @return how many were dropped by a policer.
 */
uint32_t mg_cls_apply_burst(const struct mg_cls_table *t, unsigned int worker,
			    struct rte_mbuf *const *pkts, struct mg_cls_result *res, uint32_t n,
			    uint64_t tsc);

/* ---- sets: one network and family, replaced whole (main lcore) ------------------------ */

/**
 * Wait until no worker can still hold a table that was unpublished before
 * the call (e.g. mg_dp_sync).
 */
typedef void (*mg_cls_sync_t)(void *arg);

/**
 * Create the rule set of one network and family, holding an empty table
 * with default action @p def (NULL: permit). @p sync waits for the workers
 * (with @p arg). Main lcore only. @return the set, or NULL with @p err set.
 */
struct mg_cls_set *mg_cls_set_create(const struct mg_cls_conf *conf,
				     const struct mg_cls_action *def, mg_cls_sync_t sync,
				     void *arg, struct mg_error *err);

/**
 * Replace every rule of the set and its default action: build a new table
 * (a refusal changes nothing), publish it, wait for the workers, carry the
 * counters of rule ids that stay over, free the old table. Main lcore only.
 * @return 0, or a negative errno with @p err set.
 */
int mg_cls_set_replace(struct mg_cls_set *s, const struct mg_cls_rule *rules, uint32_t n,
		       const struct mg_cls_action *def, struct mg_error *err);

/**
 * Publish table @p t, built with this set's configuration (mg_cls_set_conf)
 * by mg_cls_table_build, in place of the current one, as mg_cls_set_replace
 * does after its build: lets a caller build several tables first and
 * publish them only when all were accepted. The set owns @p t. @return 0.
 */
int mg_cls_set_install(struct mg_cls_set *s, struct mg_cls_table *t);

/** How the set builds its tables. */
const struct mg_cls_conf *mg_cls_set_conf(const struct mg_cls_set *s);

/** The table workers use now (acquire load: valid until their next quiescent state). */
const struct mg_cls_table *mg_cls_set_table(const struct mg_cls_set *s);

/** The same table, for the main lcore (counters, rebalancing). */
struct mg_cls_table *mg_cls_set_table_main(struct mg_cls_set *s);

/**
 * Add the counters of rule @p id (MG_CLS_ID_DEFAULT: the default action) in
 * the current tables of @p n sets (NULL entries skipped: e.g. a network's
 * IPv4 and IPv6 sets) to @p c. Main lcore. @return how many sets had the rule.
 */
int mg_cls_sets_counters(struct mg_cls_set *const *sets, unsigned int n, uint32_t id,
			 struct mg_cls_counters *c);

/** Free a set and its table (NULL: nothing). No worker may still use it. */
void mg_cls_set_destroy(struct mg_cls_set *s);

#endif /* MG_CLS_H */
