/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_SVC_H
#define MG_SVC_H

/**
 * @file
 * Services: a named set of weighted endpoints and the Maglev consistent-hash
 * table that picks an endpoint for a flow.
 *
 * Threads:
 *  - A service (struct mg_svc) is edited on the main lcore only: endpoints
 *    are added, changed and removed, then mg_svc_commit() builds a new
 *    immutable table (struct mg_svc_table) and publishes it with a release
 *    store. The table it replaces is handed back: the caller frees it with
 *    mg_svc_table_free() after an RCU grace period (workers may still hold
 *    it until the end of their graph walk).
 *  - Workers load the table once per walk with mg_svc_table_get() (acquire)
 *    and call mg_svc_select() / mg_svc_ref_get() on it: no locks, no writes.
 *
 * Selection (Maglev, Eisenbud et al., NSDI 2016, section 3.4): every usable
 * endpoint has a permutation of the M table slots derived from its name
 * (offset and skip from two hashes of the name; M prime, so every skip
 * visits every slot), and endpoints take turns claiming their next
 * still-free preferred slot until the table is full. A flow goes to
 * lut[hash * M >> 32].
 *
 * Weights: endpoint i takes its n-th turn at virtual time (n + 1/2) / w_i
 * (turns in increasing time; ties by name hash), so it claims a share of
 * slots proportional to its weight, within one slot. Each endpoint's turn
 * times depend on its own weight only: changing one weight inserts or
 * removes only that endpoint's turns, and the claim order of the others is
 * unchanged, which keeps the flows that move close to the minimum. With
 * equal weights this is exactly the paper's round robin. (The alternatives:
 * repeating an endpoint once per weight unit needs many virtual endpoints
 * for uneven weights such as 95/5 or 1/1000 and makes the build cost grow
 * with the weights; credit-per-round schemes scale every turn by the
 * largest weight, so changing the largest weight re-times every endpoint.)
 *
 * Disruption: removing an endpoint, or changing a weight, moves a share of
 * flows close to the theoretical minimum (the total variation distance
 * between the old and new shares), measured in tests/unit/test_svc.c. Maglev
 * is not exactly minimal: the excess grows with N/M, so M should stay above
 * ~100 x the number of endpoints (65537 is right for up to ~600).
 *
 * Endpoint states: weight 0 "drains" (no new flows, flows pinned to it by
 * a flow table stay); admin down takes it out (no new flows, and
 * mg_svc_ref_get() stops returning it, so pinned flows are re-selected).
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_byteorder.h>

#include "mg_addr.h"
#include "mg_common.h"
#include "mg_flow.h"

#define MG_SVC_MAX_SERVICES 4096       /**< Service ids 0..4095. */
#define MG_SVC_MAX_ENDPOINTS 4096      /**< Endpoints per service. */
#define MG_SVC_TABLE_SIZE_DEFAULT 65537 /**< Default Maglev table size (prime). */
#define MG_SVC_TABLE_SIZE_MIN 7         /**< Smallest table size. */
#define MG_SVC_TABLE_SIZE_MAX (1u << 24) /**< Table sizes are primes below this. */
#define MG_SVC_REF_NONE UINT32_MAX      /**< No endpoint. */
#define MG_SVC_LUT_NONE UINT16_MAX      /**< Table slot with no endpoint (none usable). */
#define MG_SVC_GTPU_PORT 2152           /**< GTP-U's UDP port. */

/**
 * An endpoint reference, the 32-bit id a flow table keeps for a flow:
 * service id (bits 31-20), endpoint slot (bits 19-8) and the slot's
 * generation (bits 7-0), so a reference to a removed endpoint does not
 * match an endpoint that reuses its slot later.
 */
static inline uint32_t
mg_svc_ref(uint16_t svc, uint16_t slot, uint8_t gen)
{
	return (uint32_t)(svc & 0xfff) << 20 | (uint32_t)(slot & 0xfff) << 8 | gen;
}

/** The service id of reference @p ref. */
static inline uint16_t
mg_svc_ref_service(uint32_t ref)
{
	return (uint16_t)(ref >> 20);
}

/** The endpoint slot of reference @p ref. */
static inline uint16_t
mg_svc_ref_slot(uint32_t ref)
{
	return (uint16_t)((ref >> 8) & 0xfff);
}

/** How a service reaches its endpoints (the forwarding is the nodes' business). */
enum mg_svc_mode {
	MG_SVC_ROUTE = 0, /**< Packets keep their addresses; the endpoint is the next hop. */
	MG_SVC_NAT = 1,   /**< Destination rewritten to the endpoint; replies translated back. */
};

/** An endpoint as the control plane describes it. */
struct mg_svc_endpoint_conf {
	/** Identity within the service (1-31 of A-Z a-z 0-9 _ - . :); its permutation comes from it. */
	char name[MG_NAME_MAX];
	/** Address: the next hop (route mode) or the new destination (nat mode). */
	struct mg_ip addr;
	/** New destination port in nat mode (host order); 0 keeps the packet's. */
	uint16_t port;
	/** Relative weight; 0 drains the endpoint. */
	uint32_t weight;
	/** Administrative state: false takes it out of service. */
	bool up;
	/** Opaque tunnel id the endpoint is reached through (UINT32_MAX: none). */
	uint32_t tunnel;
	/** Opaque value for the caller (an adjacency, an interface...). */
	uint32_t user;
};

/** An endpoint as workers see it in a published table. */
struct mg_svc_ep {
	/** The reference flows keep (mg_svc_ref); MG_SVC_REF_NONE for an empty slot. */
	uint32_t ref;
	/** Relative weight. */
	uint32_t weight;
	/** Slots of the Maglev table it holds. */
	uint32_t lut_slots;
	/** Administrative state. */
	uint8_t up;
	/** Up with weight > 0: it receives new flows. */
	uint8_t usable;
	/** New destination port in nat mode (network order); 0 keeps the packet's. */
	rte_be16_t port;
	/** Address (next hop or new destination). */
	struct mg_ip addr;
	/** Opaque tunnel id. */
	uint32_t tunnel;
	/** Opaque caller value. */
	uint32_t user;
	/** Name. */
	char name[MG_NAME_MAX];
};

/** An immutable selection table of one service. */
struct mg_svc_table {
	/** Maglev table size M (prime). */
	uint32_t size;
	/** Service id. */
	uint16_t id;
	/** enum mg_svc_mode. */
	uint8_t mode;
	/** Explicit padding. */
	uint8_t pad;
	/** Endpoints receiving new flows. */
	uint16_t n_usable;
	/** Entries of @c ep (highest slot in use + 1). */
	uint16_t n_slots;
	/** Commit counter of the service when the table was built. */
	uint64_t version;
	/** Endpoints indexed by slot. */
	struct mg_svc_ep *ep;
	/** The Maglev lookup table: M endpoint slots, MG_SVC_LUT_NONE when nothing is usable. */
	uint16_t *lut;
	/** Service name. */
	char name[MG_NAME_MAX];
};

/** A service (main lcore object; opaque). */
struct mg_svc;

/* ---- main lcore ------------------------------------------------------------------------ */

/**
 * Create a service. @p table_size 0 means MG_SVC_TABLE_SIZE_DEFAULT; other
 * values must be primes in [MG_SVC_TABLE_SIZE_MIN, MG_SVC_TABLE_SIZE_MAX).
 * Nothing is published until the first mg_svc_commit().
 * @return the service, or NULL with @p err set.
 */
struct mg_svc *mg_svc_create(uint16_t id, const char *name, enum mg_svc_mode mode,
			     uint32_t table_size, struct mg_error *err);

/**
 * Destroy a service and its published table. Only once no worker can reach
 * either (unpublished from wherever workers found it, a grace period
 * passed). NULL is a no-op.
 */
void mg_svc_destroy(struct mg_svc *s);

/**
 * The latest endpoint generation @p s issued, counted on from its start
 * (mg_svc_gen_start) modulo 256: what a service that later takes over
 * @p s's id must start from, so that flows still pinned to @p s's
 * endpoints match none of its own until 256 more generations went by.
 */
uint8_t mg_svc_gen_max(const struct mg_svc *s);
/** Start every slot of a new service @p s at generation @p gen (before any endpoint). */
void mg_svc_gen_start(struct mg_svc *s, uint8_t gen);

/**
 * Add an endpoint, or change the one with the same name (staged until the
 * next commit). Changing its address, port or tunnel makes it a new
 * endpoint for pinned flows (its reference changes); weight and admin state
 * changes keep the reference.
 * @return the endpoint's slot (>= 0), or a negative errno with @p err set
 *   (EINVAL for a bad name, ENOSPC past MG_SVC_MAX_ENDPOINTS).
 */
int mg_svc_endpoint_set(struct mg_svc *s, const struct mg_svc_endpoint_conf *c,
			struct mg_error *err);

/**
 * Remove the endpoint named @p name (staged until the next commit).
 * @return 0, or -ENOENT with @p err set.
 */
int mg_svc_endpoint_del(struct mg_svc *s, const char *name, struct mg_error *err);

/** Change the mode (staged until the next commit). */
void mg_svc_set_mode(struct mg_svc *s, enum mg_svc_mode mode);
/** The mode, as last set (staged or committed). */
enum mg_svc_mode mg_svc_get_mode(const struct mg_svc *s);

/**
 * Change the table size (staged): 0 for the default, else a prime in range.
 * @return 0, or -EINVAL with @p err set.
 */
int mg_svc_set_table_size(struct mg_svc *s, uint32_t size, struct mg_error *err);

/**
 * Build the table of the service as staged and return it, unpublished
 * (for tests and for callers that publish it themselves).
 * @return the table, or NULL with @p err set (ENOMEM).
 */
struct mg_svc_table *mg_svc_build(const struct mg_svc *s, struct mg_error *err);

/**
 * Build the staged state and publish it (release store). On success
 * *@p old receives the table it replaced (or NULL), to be freed with
 * mg_svc_table_free() after a grace period. On failure nothing changes.
 * @return 0, or a negative errno with @p err set.
 */
int mg_svc_commit(struct mg_svc *s, struct mg_svc_table **old, struct mg_error *err);

/** Free a table (NULL is a no-op). */
void mg_svc_table_free(struct mg_svc_table *t);

/** Highest staged endpoint slot + 1 (the n_slots of the next table). */
unsigned int mg_svc_slot_span(const struct mg_svc *s);

/**
 * The staged configuration of endpoint @p name into @p c (may be NULL).
 * @return its slot, or -ENOENT.
 */
int mg_svc_endpoint_get(const struct mg_svc *s, const char *name, struct mg_svc_endpoint_conf *c);

/** Number of endpoints staged in the service. */
unsigned int mg_svc_endpoint_count(const struct mg_svc *s);

/** The service id. */
uint16_t mg_svc_id(const struct mg_svc *s);

/** True if @p n is prime (for configuration checks). */
bool mg_svc_is_prime(uint32_t n);

/* ---- workers (and the main lcore) ----------------------------------------------------------- */

/** The published table (acquire), NULL before the first commit. */
const struct mg_svc_table *mg_svc_table_get(const struct mg_svc *s);

/**
 * The endpoint for a flow whose selection hash is @p hash
 * (mg_svc_hash_pkt), or NULL if no endpoint is usable.
 */
static inline const struct mg_svc_ep *
mg_svc_select(const struct mg_svc_table *t, uint32_t hash)
{
	uint16_t slot = t->lut[((uint64_t)hash * t->size) >> 32];

	return likely(slot != MG_SVC_LUT_NONE) ? &t->ep[slot] : NULL;
}

/**
 * The endpoint a flow was pinned to, if it is still the same endpoint and
 * administratively up (a draining endpoint, weight 0, keeps its flows);
 * NULL when the flow must be selected again.
 */
static inline const struct mg_svc_ep *
mg_svc_ref_get(const struct mg_svc_table *t, uint32_t ref)
{
	uint16_t slot = mg_svc_ref_slot(ref);

	if (unlikely(slot >= t->n_slots))
		return NULL;
	const struct mg_svc_ep *e = &t->ep[slot];

	return likely(e->ref == ref && e->up) ? e : NULL;
}

/** What a selection hash was computed from. */
enum mg_svc_key {
	MG_SVC_KEY_NONE = 0,   /**< Not even an IP header: hash 0. */
	MG_SVC_KEY_5TUPLE,     /**< Addresses, protocol, ports (ICMP echo: identifier). */
	MG_SVC_KEY_GTPU,       /**< GTP-U (UDP port 2152) TEID. */
	MG_SVC_KEY_SCTP,       /**< SCTP ports and verification tag. */
	MG_SVC_KEY_ESP,        /**< ESP SPI. */
	MG_SVC_KEY_ADDRS,      /**< Address pair and protocol (other protocols, fragments). */
	MG_SVC_KEY_TRUNCATED,  /**< L4 header cut short: address pair and protocol. */
	MG_SVC_KEY_ICMP_ERROR, /**< ICMP error: the quoted packet's flow, reversed. */
};

/**
 * The selection hash of a packet. @p l3 points at the IP header, @p len is
 * the number of bytes that may be read (the IP total length or less),
 * @p proto the upper-layer protocol at offset @p l4off (after IPv6
 * extension headers), @p frag non-zero for any fragment (all fragments of
 * a datagram then hash alike, on the address pair). Never reads past
 * @p len: a truncated L4 header falls back to the address pair.
 *
 * Keys: GTP-U (UDP destination port 2152, GTPv1 with a TEID) the TEID;
 * SCTP ports and verification tag (note: an INIT carries tag 0 and later
 * packets the peer's tag, so only a flow table keeps an association on
 * one endpoint from its first packet on); ESP the SPI; TCP, UDP and ICMP
 * echo the 5-tuple; ICMP errors the 5-tuple of the quoted packet with its
 * source and destination swapped (the flow it answers, so PMTU errors reach
 * the endpoint that sent the packet); anything else the address pair and
 * protocol. Deterministic across processes and machines (a fixed seed), so
 * several gateways with the same endpoints agree.
 * @param kind If not NULL, receives the enum mg_svc_key used.
 */
uint32_t mg_svc_hash_pkt(const uint8_t *l3, uint32_t len, uint8_t family, uint8_t proto,
			 uint32_t l4off, uint8_t frag, enum mg_svc_key *kind);

/**
 * The flow key and the selection hash of a packet in one parse (arguments
 * as for mg_svc_hash_pkt; @p net goes into the key). The key is what a
 * flow table finds the packet's flow by: the 5-tuple (ICMP echo: the
 * identifier as both ports), plus the TEID for GTP-U and the SPI for ESP
 * in @c tag; fragments and other protocols have ports 0. For an ICMP
 * error it is the quoted packet's 5-tuple reversed, so the error finds
 * the flow it belongs to (GTP-U, SCTP and ESP flows: by the 5-tuple
 * only, best effort).
 * @return the kind of key used.
 */
enum mg_svc_key mg_svc_pkt_key(const uint8_t *l3, uint32_t len, uint8_t family, uint8_t proto,
			       uint32_t l4off, uint8_t frag, uint16_t net, struct mg_flow_key *key,
			       uint32_t *hash);

/**
 * True if the first fragment of a datagram of protocol @p proto (family
 * @p family) is keyed by more than its addresses (TCP, UDP, SCTP, ICMP of
 * the family: ports, identifier, quoted packet), so its later fragments,
 * which carry none of that, cannot find its flow by their own key. A nat
 * service keys such a first fragment like a whole packet and its later
 * fragments by the record the first left (lib/natgw, mg_natgw_frag.h);
 * route mode keys every fragment by its addresses.
 */
bool mg_svc_proto_ported(uint8_t family, uint8_t proto);

/** The outcome of mg_svc_steer(). */
enum mg_svc_verdict {
	MG_SVC_HIT = 0,      /**< The flow was known: its endpoint. */
	MG_SVC_NEW,          /**< A new flow, pinned to the selected endpoint. */
	MG_SVC_STATELESS,    /**< Flow table full: selected endpoint, no state kept. */
	MG_SVC_NO_ENDPOINT,  /**< No endpoint usable: drop (or answer unreachable). */
};

/**
 * Steer one packet of flow @p k through service table @p t with the flow
 * table @p ft of the calling worker (owner). A known flow stays on its
 * endpoint as long as mg_svc_ref_get() returns it (weight changes, other
 * endpoints added or removed, even its own weight 0); if its endpoint was
 * removed or set down, the flow ends with that reason and the packet
 * starts a new one. A new flow takes mg_svc_select(t, @p hash).
 * @p bytes and @p tcp_flags are accounted to the flow (direction 0).
 * @param fp If not NULL, receives the flow (NULL when stateless).
 * @return the endpoint, NULL with MG_SVC_NO_ENDPOINT.
 */
const struct mg_svc_ep *mg_svc_steer(const struct mg_svc_table *t, struct mg_flow_table *ft,
				     const struct mg_flow_key *k, uint32_t hash, uint32_t bytes,
				     uint8_t tcp_flags, uint64_t now, enum mg_svc_verdict *v,
				     struct mg_flow **fp);

/**
 * A check for mg_flow_expire(): @p tables is an array of
 * MG_SVC_MAX_SERVICES table pointers indexed by service id (NULL for a
 * service that does not exist). Returns MG_FLOW_END_SERVICE_REMOVED,
 * MG_FLOW_END_ENDPOINT_REMOVED, MG_FLOW_END_ENDPOINT_DOWN or
 * MG_FLOW_END_NONE.
 */
enum mg_flow_end mg_svc_flow_check(const struct mg_flow_record *r, void *tables);

/** Why a table no longer holds reference @p ref (MG_FLOW_END_NONE if it does, up). */
enum mg_flow_end mg_svc_ref_state(const struct mg_svc_table *t, uint32_t ref);

#endif /* MG_SVC_H */
