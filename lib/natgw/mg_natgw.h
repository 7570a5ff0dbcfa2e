/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_NATGW_H
#define MG_NATGW_H

/**
 * @file
 * NAT in the graph: services in `nat` mode (destination NAT to the chosen
 * endpoint) and dual-homed gateways (routes from an inside network into an
 * outside one, with source NAT, NPTv6, and published services: destination
 * NAT from an outside address and port to a service's endpoint).
 *
 * Flows: a translated flow is an entry of lib/svc's per-worker flow table
 * with a reply key (struct mg_flow.rkey). Its forward key is what its first
 * packet carried, in the network it arrived in; its reply key is what the
 * replies carry, in the network they arrive in. The translation follows
 * from the two keys alone: a packet carrying one key leaves looking like
 * the reverse of the other, in the other key's network (mg_natgw_apply).
 * A source NAT changes the source and port, a destination NAT the
 * destination and port, and a flow that crosses networks changes network.
 * NAT flow keys never carry a protocol tag (GTP-U TEID, ESP SPI): replies
 * carry other tags, so NAT keys are the 5-tuple alone.
 *
 * Where packets meet the flows:
 *  - "service" node, nat mode: the first packet of a flow to a VIP picks
 *    the endpoint and creates the flow (mg_natgw_dnat_create).
 *  - "nat" node, from eth-input: every packet received in a network whose
 *    dp->nat_net flag is set (a network with nat services, or a gateway's
 *    outside network) is looked up first: known flows are translated (the
 *    replies, and later packets of the forward direction); misses go on
 *    to classification and lookup untouched, except packets to a gateway's
 *    published address and port (a new destination NAT flow) and, for an
 *    NPTv6 gateway, to its outside prefix.
 *  - "nat" node, from ipX-lookup: a route of the inside network to a
 *    gateway adjacency (MG_ADJ_GATEWAY, ifindex = gateway id). Known flows
 *    are translated (replies of published services); new ones get a source
 *    NAT: the gateway's outside address and a port from the worker's block.
 *    The packet then goes to the lookup of the outside network.
 * Networks without NAT pay nothing: eth-input tests one byte it already
 * has in cache (next to the classification pointers).
 *
 * Fragments: the first is translated as a whole packet would be, the later
 * ones by the addresses it left with (mg_natgw_frag.h). A nat service's
 * first packet may itself be a first fragment: the service node keys it on
 * its L4 header like a whole packet, creates the flow, translates it and
 * records its datagram, so the later fragments (in the nat node when the
 * record is there before them, else in the service node) follow it to the
 * endpoint. Fragments whose checksum would need the whole datagram (an
 * SCTP port change, IPv6 UDP without a checksum) are dropped as
 * MG_DROP_NAT_FRAG_CKSUM: meshgate does not reassemble.
 *
 * ICMP errors: lib/svc keys an error by its quoted packet reversed, so an
 * error finds the flow it is about; the outer destination, the outer source
 * when it is the translated peer itself, and the quoted packet are
 * translated back (mg_nat_rewrite_icmp_error).
 *
 * Workers and RSS: flow tables are per worker and never locked, so each
 * flow has one owner worker, and a packet that reaches another worker is
 * handed to the owner through the owner's handoff ring (multi-producer,
 * single consumer; the "nat-handoff" source node drains it). The owner is
 * found from the packet alone, in both directions:
 *  - A flow through a gateway route (source NAT, and the replies of
 *    published services) and a destination NAT flow belong to the worker
 *    mg_natgw_owner() picks from the untranslated remote side: the
 *    destination of an inside packet, the source of a client's packet.
 *  - A source NAT port comes from the owner's block (mg_nat_port_block:
 *    blocks never overlap), so a reply to the outside address is mapped
 *    to its owner by its destination port (mg_nat_port_owner), ICMP errors
 *    too (their key is the quoted packet reversed).
 *  - Replies of a nat service's endpoints in its own network are known by
 *    their source, an endpoint address (a 64 Ki-bit filter of endpoint
 *    addresses, never cleared: a stale bit costs a handoff, not a mistake),
 *    and go to the owner of their destination, the client.
 * With one worker nothing of this runs.
 *
 * Threads: the registry and its gateways are written on the main lcore
 * only; workers read them and write only their own port allocators and
 * counters. Gateways come and go at run time: each slot is a pointer to
 * an immutable record, published by RCU (a replacement is built aside,
 * swapped in, and the old record freed after a grace period, mg_dp_sync).
 *
 * Sessions of a changed gateway: every flow a gateway creates (source NAT,
 * and the destination NAT of its published services) carries its slot and
 * the slot's generation (mg_flow_record.nat_gw, mg_natgw_tag). A
 * replacement that keeps the translation (inside and outside networks,
 * snat4/snat6, port range, IPv6 mode and NPTv6 prefixes) keeps the
 * generation, the port allocators and so every session; one that changes
 * it, and a deletion, bump the generation: the old sessions are stale.
 * A packet that finds a stale flow ends it and is handled as a new packet
 * (so a reply to the old outside address is no longer translated), the
 * nat node's sweep ends the others, and their ports are not given back to
 * the new allocators (the old ones are freed with the old record).
 */

#include <stdbool.h>
#include <stdint.h>

#include "mg_addr.h"
#include "mg_common.h"
#include "mg_flow.h"
#include "mg_nat.h"
#include "mg_natgw_frag.h"
#include "mg_svc.h"
#include "mg_svc_rt.h"

#define MG_NATGW_MAX 16            /**< Gateways. */
#define MG_NATGW_MAX_SOURCES 16    /**< Source prefixes per gateway. */
#define MG_NATGW_MAX_ROUTES 16     /**< Routes per gateway. */
#define MG_NATGW_MAX_PUBLISH 32    /**< Published services per gateway. */

/** How IPv6 crosses a gateway. */
enum mg_natgw_v6 {
	MG_NATGW_V6_NAT66 = 0, /**< Like IPv4: the outside address and a port (NAT66). */
	MG_NATGW_V6_NPT6,      /**< Stateless prefix translation (RFC 6296). */
	MG_NATGW_V6_ROUTE,     /**< Routed as it is. */
};

/** A published service: outside address, protocol and port to a service. */
struct mg_natgw_pub {
	/** Outside address (network order; IPv4 in the first 4 bytes). */
	uint8_t addr[16];
	/** AF_INET or AF_INET6. */
	uint8_t family;
	/** IP protocol (TCP, UDP, SCTP). */
	uint8_t proto;
	/** Port (network order). */
	rte_be16_t port;
	/** The service id (mode nat, in the gateway's inside network). */
	uint16_t svc;
	/** Name of the service (for the control plane). */
	char service[MG_NAME_MAX];
};

/** A gateway as the workers see it (immutable once published). */
struct mg_natgw_gw {
	/** Name. */
	char name[MG_NAME_MAX];
	/** Inside and outside network ids. */
	uint16_t inside, outside;
	/** Index in the registry (the adjacency's ifindex). */
	uint16_t id;
	/** The slot's generation when published (set by mg_natgw_put). */
	uint16_t gen;
	/** enum mg_natgw_v6. */
	uint8_t v6mode;
	/** Whether addr4 / addr6 are set. */
	uint8_t has4, has6;
	/** Keep a flow's source port (echo identifier) when free in the worker's block. */
	uint8_t preserve;
	/** Source NAT addresses on the outside (network order). */
	uint8_t addr4[4], addr6[16];
	/** SNAT port range (host order), cut into one block per worker. */
	uint16_t port_first, port_last;
	/** NPTv6 mapping (v6mode MG_NATGW_V6_NPT6). */
	struct mg_npt6 npt;
	/** Inside sources allowed to cross (none: any). */
	unsigned int nsrc;
	struct mg_prefix src[MG_NATGW_MAX_SOURCES];
	/** Published services. */
	unsigned int npub;
	struct mg_natgw_pub pub[MG_NATGW_MAX_PUBLISH];
	/** SNAT port allocators per worker (set by mg_natgw_put; NULL: no SNAT). */
	struct mg_nat_ports *ports[MG_SVC_RT_MAX_WORKERS];
};

/** Bits of mg_flow_record.nat_gw that hold the slot + 1 (the rest: the generation). */
#define MG_NATGW_TAG_SLOT_BITS 5
#define MG_NATGW_GEN_MASK ((1u << (16 - MG_NATGW_TAG_SLOT_BITS)) - 1)

/** The mg_flow_record.nat_gw tag of flows of gateway @p g. */
static inline uint16_t
mg_natgw_tag(const struct mg_natgw_gw *g)
{
	return (uint16_t)((g->gen << MG_NATGW_TAG_SLOT_BITS) | (g->id + 1u));
}

/** The gateway slot flow tag @p tag names (for tag 0, none: UINT_MAX). */
static inline unsigned int
mg_natgw_tag_slot(uint16_t tag)
{
	return (tag & ((1u << MG_NATGW_TAG_SLOT_BITS) - 1)) - 1u;
}

/** The slot generation flow tag @p tag was made in. */
static inline uint16_t
mg_natgw_tag_gen(uint16_t tag)
{
	return (uint16_t)(tag >> MG_NATGW_TAG_SLOT_BITS);
}

/** Per-worker NAT counters (owner writes, anyone reads whole fields). */
struct mg_natgw_stats {
	uint64_t snat_flows;     /**< Source NAT flows created (gateways). */
	uint64_t dnat_flows;     /**< Destination NAT flows created (nat services, published). */
	uint64_t xlate_fwd;      /**< Packets translated in the forward direction. */
	uint64_t xlate_reply;    /**< Packets translated in the reply direction. */
	uint64_t icmp_errors;    /**< ICMP errors translated (counted in the above too). */
	uint64_t npt6;           /**< Packets prefix-translated (NPTv6). */
	uint64_t routed;         /**< Packets routed across a gateway untranslated. */
	uint64_t no_port;        /**< Dropped: SNAT port block exhausted. */
	uint64_t no_flow;        /**< Dropped: flow table full or tuple taken. */
	uint64_t not_allowed;    /**< Dropped: source not allowed through the gateway. */
	uint64_t untranslatable; /**< Dropped: unreadable, orphan ICMP error, no address. */
	uint64_t handoffs;       /**< Packets handed to the owner worker of their flow. */
	uint64_t handoff_drops;  /**< Dropped: the owner's handoff ring was full. */
	uint64_t frags;          /**< Later fragments translated (mg_natgw_frag.h). */
	uint64_t frag_unknown;   /**< Dropped: a later fragment of no known first fragment. */
} __attribute__((aligned(64)));

/** Who a gateway was, as its flows name it (the flow history). */
struct mg_natgw_ident {
	/** Name. */
	char name[MG_NAME_MAX];
	/** The slot's generation it had (0 with @c valid 0: none). */
	uint16_t gen;
	/** Non-zero when set. */
	uint8_t valid;
	/** Whether addr4 / addr6 are set. */
	uint8_t has4, has6;
	/** Source NAT addresses on the outside (network order). */
	uint8_t addr4[4], addr6[16];
};

/** The registry (one per process). */
struct mg_natgw {
	/** Workers. */
	unsigned int nb_workers;
	/** Gateways by slot, RCU-published (NULL: a free slot). */
	struct mg_natgw_gw *gw[MG_NATGW_MAX];
	/** Each slot's generation (main lcore; bumped when its sessions end). */
	uint16_t slot_gen[MG_NATGW_MAX];
	/**
	 * Each slot's gateway before its last change of generation (main lcore):
	 * the flows it leaves still name it when they reach the history.
	 */
	struct mg_natgw_ident past[MG_NATGW_MAX];
	/** Counters per worker. */
	struct mg_natgw_stats stats[MG_SVC_RT_MAX_WORKERS];
	/** Per network: gateways whose outside it is (bit per gateway id). */
	uint16_t outside_of[256];
	/** Each worker's handoff ring (NULL with one worker). */
	struct rte_ring *handoff[MG_SVC_RT_MAX_WORKERS];
	/** Fragments after the first: the datagrams whose first was translated. */
	struct mg_natgw_frags *frags;
	/** Filter of nat services' endpoint addresses (by network), 64 Ki bits. */
	uint64_t ep_bits[1024];
};

/** The owner worker (of @p n) of flows whose untranslated remote side is @p addr, @p port. */
static inline unsigned int
mg_natgw_owner(const uint8_t *addr, rte_be16_t port, uint8_t family, unsigned int n)
{
	uint32_t h = 0x9e3779b9u * (uint32_t)port;

	for (unsigned int i = 0; i < (family == AF_INET ? 4u : 16u); i += 4) {
		uint32_t x;

		memcpy(&x, addr + i, 4);
		h = (h ^ x) * 0x85ebca6bu;
		h ^= h >> 15;
	}
	return (unsigned int)(((uint64_t)h * n) >> 32);
}

/** The filter bit of endpoint address @p addr in network @p net. */
static inline uint32_t
mg_natgw_ep_bit(uint16_t net, const uint8_t *addr, uint8_t family)
{
	return mg_natgw_owner(addr, (rte_be16_t)net, family, 1u << 16);
}

/** True if @p addr may be a nat service endpoint in network @p net. */
static inline bool
mg_natgw_ep_maybe(const struct mg_natgw *ng, uint16_t net, const uint8_t *addr, uint8_t family)
{
	uint32_t b = mg_natgw_ep_bit(net, addr, family);

	return (__atomic_load_n(&ng->ep_bits[b >> 6], __ATOMIC_RELAXED) >> (b & 63)) & 1;
}

/** Note a nat service endpoint's address (main lcore). */
void mg_natgw_endpoint_mark(struct mg_natgw *ng, uint16_t net, const struct mg_ip *a);

/**
 * Hand @p m to worker @p owner (any worker): it continues in the owner's
 * "nat" node, or at its ipX-lookup when @p to_lookup (a packet already
 * classified and looked up). Wakes the owner if it sleeps.
 * @return 0, or -ENOBUFS (ring full: the caller drops the packet).
 */
int mg_natgw_handoff(struct mg_natgw *ng, unsigned int owner, struct rte_mbuf *m,
		     bool to_lookup);

/** The registry, NULL when neither nat services nor gateways exist. */
struct mg_natgw *mg_natgw_get(void);

/**
 * The registry, created on first use for @p nb_workers workers (main
 * lcore). Also hooks lib/svc's flow end (ports back to their blocks).
 * @return it, or NULL (ENOMEM).
 */
struct mg_natgw *mg_natgw_ensure(unsigned int nb_workers);

/** Free the registry and its allocators (workers stopped). */
void mg_natgw_destroy(void);

/** Gateway of slot @p id (workers: within a walk; NULL if none). */
static inline const struct mg_natgw_gw *
mg_natgw_slot(const struct mg_natgw *ng, unsigned int id)
{
	return id < MG_NATGW_MAX ? __atomic_load_n(&ng->gw[id], __ATOMIC_ACQUIRE) : NULL;
}

/** The slot of gateway @p name, or -ENOENT (main lcore). */
int mg_natgw_find(const struct mg_natgw *ng, const char *name);

/**
 * Publish gateway @p g (main lcore, workers running or not): into a free
 * slot when @p id is negative, else replacing the gateway of slot @p id.
 * A replacement that keeps the translation keeps the generation and the
 * port allocators (its sessions go on); otherwise new allocators are made
 * and the old sessions become stale (see the file comment). The old record
 * is freed after a grace period. The caller moves the routes.
 * @return the slot, or a negative errno with @p err set (nothing changed).
 */
int mg_natgw_put(struct mg_natgw *ng, const struct mg_natgw_gw *g, int id,
		 struct mg_error *err);

/**
 * Remove the gateway of slot @p id (main lcore): unpublished, its sessions
 * stale, record and allocators freed after a grace period.
 */
void mg_natgw_remove(struct mg_natgw *ng, unsigned int id);

/** True if flow tag @p tag (mg_flow_record.nat_gw) names a gateway that is gone or changed. */
static inline bool
mg_natgw_tag_stale(const struct mg_natgw *ng, uint16_t tag)
{
	const struct mg_natgw_gw *g;

	if (tag == 0)
		return false;
	g = mg_natgw_slot(ng, mg_natgw_tag_slot(tag));
	return g == NULL || g->gen != mg_natgw_tag_gen(tag);
}

/**
 * Who flow tag @p tag (mg_flow_record.nat_gw) names (main lcore): the
 * gateway in its slot, or the one before it when the tag is of the previous
 * generation (a deleted or changed gateway's flows, swept soon after).
 * @return false when neither: the tag is 0 or older.
 */
bool mg_natgw_tag_ident(const struct mg_natgw *ng, uint16_t tag, struct mg_natgw_ident *out);

/** The counters summed over the workers. */
void mg_natgw_stats_sum(const struct mg_natgw *ng, struct mg_natgw_stats *sum);

/** SNAT ports still free in gateway @p id's blocks (all workers). */
uint32_t mg_natgw_ports_free(const struct mg_natgw *ng, unsigned int id);

/* ---- workers ------------------------------------------------------------------------------ */

/**
 * Translate packet @p p of NAT flow @p f travelling in direction @p dir
 * (0: forward key, 1: reply key); @p kind is what lib/svc keyed the
 * packet by (MG_SVC_KEY_ICMP_ERROR: an error about the flow).
 * @return 0, or a negative errno from lib/nat (nothing written).
 */
int mg_natgw_apply(const struct mg_flow *f, int dir, const struct mg_nat_pkt *p,
		   enum mg_svc_key kind);

/**
 * Translate a later fragment @p p (no L4 header) by its datagram's entry
 * @p e (state MG_NATGW_FRAG_DONE): the addresses its first fragment left
 * with (IPv4: the header checksum patched). The L4 checksum is in the
 * first fragment, patched there.
 * @return 0, or -EINVAL (not a later fragment of @p e's family; nothing written).
 */
int mg_natgw_frag_apply(const struct mg_natgw_frag *e, const struct mg_nat_pkt *p);

/**
 * The drop reason (enum mg_drop) of a translation that failed with @p rc (a negative
 * errno of mg_natgw_apply or mg_natgw_frag_apply): MG_DROP_NAT_FRAG_CKSUM
 * for a fragment whose checksum needs the whole datagram (-ENOTSUP), else
 * MG_DROP_NAT_UNTRANSLATABLE.
 */
int mg_natgw_drop_reason(int rc);

/**
 * Account a packet of @p len bytes (TCP flags @p tcp_flags) that
 * mg_natgw_apply just translated for flow @p f in direction @p dir: its
 * session is refreshed and moved on (lib/svc's mg_flow_touch), but not by
 * an ICMP error about it (@p kind), which neither refreshes nor moves a
 * session (RFC 5508).
 */
static inline void
mg_natgw_touch(struct mg_flow *f, int dir, enum mg_svc_key kind, uint32_t len,
	       uint8_t tcp_flags, uint64_t now)
{
	if (likely(kind != MG_SVC_KEY_ICMP_ERROR))
		mg_flow_touch(f, dir, len, tcp_flags, now);
}

/** The network a packet of flow @p f in direction @p dir is routed in once translated. */
static inline uint16_t
mg_natgw_target_net(const struct mg_flow *f, int dir)
{
	return dir ? f->r.key.net : f->rkey.net;
}

/**
 * A destination NAT flow for key @p k (tag 0) of a new flow to service
 * table @p t (selection hash @p hash): the endpoint is selected, the
 * reply key is the endpoint's address (and port, when it has one) towards
 * the packet's source, in network @p ep_net.
 * @param e Receives the endpoint (NULL: none usable, or of another family).
 * @return the flow, or NULL (no endpoint, table full, tuple taken).
 */
struct mg_flow *mg_natgw_dnat_create(struct mg_flow_table *ft, const struct mg_flow_key *k,
				     const struct mg_svc_table *t, uint32_t hash, uint16_t ep_net,
				     uint64_t now, const struct mg_svc_ep **e);

/**
 * A source NAT flow through gateway @p g for key @p k (tag 0) with a port
 * from @p ports (worker's block; NULL for protocols without ports).
 * @return the flow, or NULL with *@p why set (MG_DROP_NAT_NO_PORT,
 *   MG_DROP_NAT_NO_FLOW, MG_DROP_NAT_UNTRANSLATABLE).
 */
struct mg_flow *mg_natgw_snat_create(struct mg_flow_table *ft, const struct mg_natgw_gw *g,
				     struct mg_nat_ports *ports, const struct mg_flow_key *k,
				     uint64_t now, int *why);

/** True if inside source @p k->src may cross gateway @p g. */
bool mg_natgw_source_allowed(const struct mg_natgw_gw *g, const struct mg_flow_key *k);

/** The published service of @p g matching destination of @p k, or NULL. */
const struct mg_natgw_pub *mg_natgw_pub_find(const struct mg_natgw_gw *g,
					     const struct mg_flow_key *k);

#endif /* MG_NATGW_H */
