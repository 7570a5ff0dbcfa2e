/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_DP_H
#define MG_DP_H

/**
 * @file
 * The data plane's shared state: what the worker graphs read and the main
 * lcore writes.
 *
 * Publication rules (every writer runs on the main lcore):
 *  - Interfaces, networks and per-port VLAN maps are immutable records
 *    reached through pointer slots. A change builds a new record, stores the
 *    pointer (release), waits one RCU grace period (mg_dp_sync) and frees the
 *    old one. Workers load each slot once per use (acquire) and report
 *    quiescence after every graph walk, so a record they hold stays valid
 *    until the end of the walk.
 *  - FIBs (rte_fib / rte_fib6) are changed in place. rte_fib reuses a freed
 *    tbl8 group at once and zeroes it when it recycles it, so (1) every FIB
 *    change is followed by a grace period before the next one, and (2) the
 *    adjacency id 0 is never installed: a lookup that returns 0 raced with a
 *    recycle and is simply repeated. That grace period has its own QSBR
 *    variable (rcu_fib): workers are online on it only while they run FIB
 *    lookups (mg_dp_fib_enter/leave around each bulk lookup), so a FIB
 *    change waits for at most one bulk lookup, not for a whole graph walk.
 *  - An adjacency id a lookup returned stays valid until the end of the
 *    walk: a freed adjacency goes to a limbo list and is reused only after a
 *    walk-level grace period (mg_dp_reclaim).
 *  - An adjacency's rewrite is double-buffered: the writer fills the idle
 *    copy, flips `cur`, and waits a grace period before touching the other.
 *
 * Counters are per lcore (struct mg_lcore_stats), written only by their
 * lcore and summed when read.
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_atomic.h>
#include <rte_ether.h>
#include <rte_graph.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>

#include "mg_addr.h"
#include "mg_common.h"

struct rte_fib;
struct rte_fib6;
struct rte_rcu_qsbr;
struct dir24_head;
struct trie_head;
struct mg_cap_set;
struct rte_mempool;
struct mg_cls_set;
struct mg_ct_set;
struct mg_espgw;
struct mg_vxlan;

#define MG_MAX_PORTS RTE_MAX_ETHPORTS
#define MG_MAX_IFACES 4096
#define MG_MAX_NETS 256
#define MG_MAX_WORKERS 64
#define MG_IF_NONE UINT16_MAX
/**
 * Port numbers from here up (but MG_IF_NONE) are virtual: the interface
 * MG_PORT_VIRT ^ port (a VXLAN tunnel, lib/vxlan) stands for the port. Its
 * frames leave through port-tx into vxlan-encap, and decapsulated frames
 * enter eth-input with it in mbuf->port. Never an ethdev port id.
 */
#define MG_PORT_VIRT 0x8000

/** True if @p port is a virtual port (see MG_PORT_VIRT). */
static inline int
mg_port_virtual(uint16_t port)
{
	return port >= MG_PORT_VIRT && port != MG_IF_NONE;
}
#define MG_TXB_SIZE 64 /**< Per worker, per port TX staging. */
#define MG_MAX_NODES 64 /**< Graph node ids (rte_node_t) meshgate keeps counters for. */
#define MG_CYCLE_SAMPLE 16 /**< One graph walk in this many is timed. */

/* ---- drop reasons -------------------------------------------------------- */

/** Every reason a packet can be dropped: enum name, counter name, description. */
#define MG_DROP_REASONS(_)                                                                  \
	_(NONE, "none", "not dropped")                                                      \
	_(ETH_TRUNCATED, "eth-truncated", "frame shorter than its Ethernet/VLAN header")   \
	_(ETH_NOT_FOR_US, "eth-not-for-us", "unicast destination MAC is not the port's")   \
	_(ETH_UNKNOWN_VLAN, "unknown-vlan", "VLAN tag with no sub-interface")              \
	_(ETH_UNKNOWN_TYPE, "unknown-ethertype", "EtherType meshgate does not handle")     \
	_(ETH_NO_IFACE, "no-interface", "port has no interface for this frame")            \
	_(ETH_MULTISEG, "rx-multi-segment", "frame does not fit one mbuf")                 \
	_(IP4_TRUNCATED, "ip4-truncated", "IPv4 header or payload cut short")              \
	_(IP4_BAD_VERSION, "ip4-bad-version", "IPv4 version field is not 4")               \
	_(IP4_BAD_IHL, "ip4-bad-header-length", "IPv4 header length below 20 bytes")       \
	_(IP4_BAD_LENGTH, "ip4-bad-total-length", "IPv4 total length below the header")    \
	_(IP4_BAD_CHECKSUM, "ip4-bad-checksum", "IPv4 header checksum is wrong")           \
	_(IP4_OPTIONS, "ip4-options", "IPv4 options refused by the network's policy")      \
	_(IP4_FRAGMENT, "ip4-fragment", "IPv4 fragment refused by the network's policy")   \
	_(IP4_BAD_SRC, "ip4-bad-source", "IPv4 source is multicast, broadcast, loopback or 0") \
	_(IP4_BAD_DST, "ip4-bad-destination", "IPv4 destination is loopback or 0")         \
	_(IP4_MULTICAST, "ip4-multicast", "IPv4 multicast/broadcast is not routed")        \
	_(IP4_TTL, "ip4-ttl-expired", "IPv4 TTL expired in transit")                       \
	_(LOCAL_FRAG, "local-fragment", "fragment addressed to the gateway itself (no reassembly)") \
	_(IP4_FRAG_FAIL, "ip4-fragment-failed", "no buffers to fragment an IPv4 packet")   \
	_(IP6_TRUNCATED, "ip6-truncated", "IPv6 header or payload cut short")              \
	_(IP6_BAD_VERSION, "ip6-bad-version", "IPv6 version field is not 6")               \
	_(IP6_BAD_EXT, "ip6-bad-extension-header", "IPv6 extension header chain malformed") \
	_(IP6_FRAGMENT, "ip6-fragment", "IPv6 fragment refused by the network's policy")   \
	_(IP6_BAD_SRC, "ip6-bad-source", "IPv6 source is multicast, loopback or ::")       \
	_(IP6_BAD_DST, "ip6-bad-destination", "IPv6 destination is loopback or ::")        \
	_(IP6_MULTICAST, "ip6-multicast", "IPv6 multicast is not routed")                  \
	_(IP6_LINK_LOCAL, "ip6-link-local", "link-local destination is not the gateway's") \
	_(IP6_HOP_LIMIT, "ip6-hop-limit-exceeded", "IPv6 hop limit expired in transit")    \
	_(NO_ROUTE, "no-route", "no route to the destination")                             \
	_(ROUTE_DROP, "route-blackhole", "route says drop")                                \
	_(ROUTE_UNREACH, "route-unreachable", "route says unreachable")                    \
	_(ROUTE_PROHIBIT, "route-prohibited", "route says administratively prohibited")    \
	_(RULE_DENY, "rule-deny", "denied by a classification rule or default")            \
	_(RULE_POLICE, "rule-police", "over the rate and burst of a police rule")          \
	_(MTU_EXCEEDED, "mtu-exceeded", "larger than the egress MTU and not fragmentable") \
	_(NEIGH_FAILED, "neighbor-unresolved", "next hop did not answer ARP/ND")           \
	_(NEIGH_QUEUE, "neighbor-queue-full", "too many packets waiting for ARP/ND")        \
	_(NEIGH_TABLE, "neighbor-table-full", "no room for a new neighbor entry")           \
	_(LOCAL_PROTO, "local-no-listener", "addressed to the gateway, nothing listens")   \
	_(ARP_INVALID, "arp-invalid", "malformed or unexpected ARP")                        \
	_(ARP_NOT_OURS, "arp-not-for-us", "ARP for an address the gateway does not own")   \
	_(ND_INVALID, "nd-invalid", "malformed ICMPv6 neighbor discovery")                  \
	_(ND_NOT_OURS, "nd-not-for-us", "ND for an address the gateway does not own")      \
	_(ND_IGNORED, "nd-ignored", "router solicitation/advertisement or redirect")       \
	_(PUNT_FULL, "punt-queue-full", "main lcore's punt ring full")                      \
	_(INJECT_FULL, "inject-queue-full", "worker's inject ring full")                    \
	_(TX_FULL, "tx-queue-full", "port TX queue full")                                   \
	_(PORT_DOWN, "port-down", "egress port is stopped or gone")                         \
	_(NO_MBUF, "no-mbuf", "mbuf pool exhausted")                                       \
	_(SVC_NO_ENDPOINT, "service-no-endpoint", "service has no usable endpoint")        \
	_(SVC_UNREACHABLE, "service-endpoint-unreachable", "service endpoint is not a resolved neighbor") \
	_(WG_NO_IFACE, "wg-no-interface", "UDP to a WireGuard port of another network")     \
	_(WG_RX_ERROR, "wg-rx-error", "WireGuard message refused (see wireguard counters)") \
	_(WG_SRC_NOT_ALLOWED, "wg-source-not-allowed", "decrypted source not in the peer's allowed IPs") \
	_(WG_HS_QUEUE, "wg-handshake-queue-full", "WireGuard handshake queue full (under load)") \
	_(WG_NO_PEER, "wg-no-peer", "no WireGuard peer allows the destination")             \
	_(WG_NO_SESSION, "wg-no-session", "no WireGuard session yet (handshake started)")   \
	_(WG_NO_ENDPOINT, "wg-no-endpoint", "WireGuard peer's endpoint is not known yet")   \
	_(WG_TX_ERROR, "wg-tx-error", "WireGuard encryption failed (see wireguard counters)") \
	_(ESP_NO_SA, "esp-no-sa", "ESP: no SA for the tunnel's inner family, or none has the SPI") \
	_(ESP_FAILED, "esp-failed", "ESP: refused by the SA (its counters say why)")        \
	_(ESP_WRONG_NET, "esp-wrong-network", "ESP: arrived in another network than the tunnel's underlay") \
	_(ESP_MALFORMED, "esp-malformed", "ESP: header cut short or outer header unusable (no SA to ask)") \
	_(ESP_DUMMY, "esp-dummy", "ESP: an authentic dummy packet (next header 59), discarded (RFC 4303 2.6)") \
	_(VXLAN_BAD, "vxlan-bad-header", "VXLAN: truncated, or the I flag is clear")         \
	_(VXLAN_NO_TUNNEL, "vxlan-no-tunnel", "VXLAN: no tunnel has this VNI, port and addresses") \
	_(FLOW_TABLE_FULL, "flow-table-full", "stateful network's flow table full: new flow refused") \
	_(NAT_NO_PORT, "nat-no-port", "NAT: the worker's SNAT port block is exhausted")     \
	_(NAT_NO_FLOW, "nat-no-flow", "NAT: flow table full or the translated tuple is taken") \
	_(NAT_HANDOFF_FULL, "nat-handoff-full", "NAT: the owner worker's handoff ring was full") \
	_(NAT_SOURCE, "nat-source-not-allowed", "gateway: inside source not in the gateway's sources") \
	_(NAT_UNTRANSLATABLE, "nat-untranslatable", "NAT: fragment, unknown ICMP error, or no address of the family") \
	_(NAT_FRAG_CKSUM, "nat-fragment-checksum", "NAT: a fragment whose checksum needs the whole datagram (SCTP port change, IPv6 UDP without one)") \
	_(NAT_LOOP, "nat-loop", "NAT: a translated packet met a gateway route again")

enum mg_drop {
#define MG_DROP_ENUM(e, n, d) MG_DROP_##e,
	MG_DROP_REASONS(MG_DROP_ENUM)
#undef MG_DROP_ENUM
	MG_DROP_MAX
};

/** Counter name of a drop reason ("no-route"). */
const char *mg_drop_name(unsigned int reason);
/** One-line description of a drop reason. */
const char *mg_drop_desc(unsigned int reason);

/* ---- per-packet metadata ---------------------------------------------------------- */

/** Why a packet goes to the main lcore. */
enum mg_punt {
	MG_PUNT_ARP = 1,     /**< ARP frame (L2 header still on). */
	MG_PUNT_ND,          /**< ICMPv6 ND (IP packet). */
	MG_PUNT_GLEAN,       /**< Resolve the packet's destination on meta.adj's interface. */
	MG_PUNT_RESOLVE,     /**< Resolve the neighbor behind adjacency meta.adj. */
	MG_PUNT_IKE,         /**< IKE for the gateway (UDP 500, or 4500 with the non-ESP marker; IP packet). */
};

/** What an injected packet is. */
enum mg_inject {
	MG_INJECT_TX = 1,    /**< Complete frame for port mbuf->port. */
	MG_INJECT_IP4,       /**< IPv4 packet to route in network meta.net. */
	MG_INJECT_IP6,       /**< IPv6 packet to route in network meta.net. */
};

/** Metadata carried with each packet in an mbuf dynamic field. */
struct mg_meta {
	uint16_t rx_if;      /**< Ingress interface, MG_IF_NONE for local packets. */
	uint16_t net;        /**< Network the packet is routed in. */
	uint32_t adj;        /**< Adjacency chosen by the lookup. */
	uint16_t mtu;        /**< Next-hop MTU for ICMP frag-needed / too-big. */
	uint8_t drop;        /**< enum mg_drop when going to the drop or ICMP node. */
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint8_t punt;        /**< enum mg_punt, or enum mg_inject for the inject ring. */
	uint8_t flags;       /**< MG_META_* */
	uint8_t pad;
};

/** mg_meta.flags */
enum {
	MG_META_LOCAL = 1 << 0, /**< Originated by the gateway: no TTL/hop-limit decrement. */
	MG_META_L3 = 1 << 1,    /**< Data starts at the IP header (no L2 header now). */
	MG_META_ICMP_SEEN = 1 << 2, /**< Passed an icmp-error node (a drop capture had it). */
	/** A classification rule's action asked for a copy to the capture tap (hook). */
	MG_META_CAPTURE = 1 << 3,
	MG_META_NEXTHOP = 1 << 4, /**< meta.adj is the next hop (a service chose it): no FIB result. */
	MG_META_NAT_GW = 1 << 5,  /**< To the nat node from a gateway route (meta.adj: its adjacency). */
	MG_META_NAT_DONE = 1 << 6, /**< The nat node has seen (and maybe translated) the packet. */
	/**
	 * A NAT flow translated the packet: an ICMP error about it goes back
	 * through the nat node, in the network the packet was in, to be
	 * translated as an error from there would be (RFC 5508).
	 */
	MG_META_NAT_XLATED = 1 << 7,
};

extern int mg_meta_offset;

static inline struct mg_meta *
mg_meta(struct rte_mbuf *m)
{
	return RTE_MBUF_DYNFIELD(m, mg_meta_offset, struct mg_meta *);
}

/** Register the dynfield. 0 or -rte_errno. */
int mg_meta_register(void);

/* ---- adjacencies ------------------------------------------------------------------ */

/** What a FIB entry leads to. The type of an adjacency never changes. */
enum mg_adj_type {
	MG_ADJ_RETRY = 0,    /**< Id 0 only: never installed; see the FIB rules above. */
	MG_ADJ_NOROUTE,      /**< Every FIB's default. */
	MG_ADJ_DROP,
	MG_ADJ_UNREACH,
	MG_ADJ_PROHIBIT,
	MG_ADJ_LOCAL,        /**< Addressed to the gateway. */
	MG_ADJ_GLEAN,        /**< Connected subnet: resolve the destination. */
	MG_ADJ_NEIGHBOR,     /**< A resolved (or resolving) neighbor. */
	MG_ADJ_SERVICE,      /**< A service's VIP: the service node (ifindex = service id). */
	MG_ADJ_WG,           /**< Into WireGuard interface @c ifindex (wg-output). */
	MG_ADJ_ESP,          /**< Into the ESP tunnel interface @c ifindex (node esp-output). */
	MG_ADJ_GATEWAY,      /**< Crosses to another network through gateway @c ifindex (nat node). */
};

/** Well-known adjacency ids shared by every network. */
enum {
	MG_ADJ_ID_RETRY = 0,
	MG_ADJ_ID_NOROUTE = 1,
	MG_ADJ_ID_DROP = 2,
	MG_ADJ_ID_UNREACH = 3,
	MG_ADJ_ID_PROHIBIT = 4,
	MG_ADJ_ID_LOCAL = 5,
	MG_ADJ_ID_FIRST_DYNAMIC = 6,
};

/** Resolution state of a neighbor adjacency's rewrite. */
enum mg_neigh_state {
	MG_NS_INCOMPLETE = 0, /**< Unknown MAC: punt for resolution. */
	MG_NS_COMPLETE,       /**< Rewrite and send. */
	MG_NS_FAILED,         /**< Did not answer: ICMP unreachable and drop. */
};

/** The L2 rewrite of a neighbor adjacency. */
struct mg_rewrite {
	uint8_t hdr[18];     /**< dst MAC, src MAC, [802.1Q tag], EtherType. */
	uint8_t hdr_len;     /**< 14 or 18. */
	uint8_t state;       /**< enum mg_neigh_state */
	uint16_t port;       /**< Egress ethdev port. */
	uint16_t mtu;        /**< Egress interface MTU. */
	uint16_t ifindex;
	uint16_t pad;
};

/** A freed adjacency waiting for the walk-level grace period of @c token. */
struct mg_adj_limbo {
	uint64_t token;
	uint32_t id;
};

/** An adjacency: one cache line. */
struct mg_adj {
	struct mg_rewrite rw[2];
	uint8_t cur;         /**< Which rw is live (acquire/release). */
	uint8_t type;        /**< enum mg_adj_type, fixed for the adjacency's life. */
	uint8_t family;      /**< AF_INET / AF_INET6 for neighbor and glean. */
	uint8_t pad;
	uint16_t ifindex;    /**< Interface of a glean or neighbor adjacency. */
	uint16_t pad2;
} __rte_cache_aligned;

static inline const struct mg_rewrite *
mg_adj_rewrite(const struct mg_adj *a)
{
	return &a->rw[__atomic_load_n(&a->cur, __ATOMIC_ACQUIRE)];
}

/* ---- interfaces and networks ---------------------------------------------------------- */

/** An interface as workers see it. Immutable once published. */
struct mg_dp_iface {
	uint16_t ifindex;
	uint16_t port;       /**< Ethdev port. */
	uint16_t vlan;       /**< 0: untagged. */
	uint16_t net;
	uint16_t mtu;
	struct rte_ether_addr mac;
	rte_be32_t ip4;      /**< Primary IPv4 address (ICMP error source), 0 if none. */
	uint8_t ip6[16];     /**< Primary global IPv6 address, else the link-local one. */
	uint8_t ip6_ll[16];  /**< Link-local address. */
	char name[MG_NAME_MAX];
};

/** Network policy bits. */
enum {
	MG_NET_DROP_FRAGMENTS = 1 << 0,
	MG_NET_DROP_IP_OPTIONS = 1 << 1,
};

/** A network (routing domain) as workers see it. Immutable once published. */
struct mg_dp_net {
	struct rte_fib *fib4;
	struct rte_fib6 *fib6;
	uint32_t gen;        /**< Rebuilds so far (names the tables). */
	struct dir24_head *dir24; /**< fib4's private head, when we know its layout (dp.c). */
	struct trie_head *trie; /**< fib6's private head, when we know its layout (dp.c). */
	uint32_t flags;
	uint16_t id;
	char name[MG_NAME_MAX];
};

/* ---- counters ---------------------------------------------------------------------- */

/** One lcore's counters. Written only by that lcore. */
struct mg_lcore_stats {
	uint64_t drops[MG_DROP_MAX];
	uint64_t rx_pkts[MG_MAX_PORTS];
	uint64_t rx_bytes[MG_MAX_PORTS];
	uint64_t tx_pkts[MG_MAX_PORTS];
	uint64_t tx_bytes[MG_MAX_PORTS];
	uint64_t punted;
	uint64_t injected;
	uint64_t icmp_sent;
	uint64_t icmp_ratelimited;
	uint64_t ip4_options;      /**< Forwarded with options. */
	uint64_t ip4_fragments;    /**< Fragments forwarded. */
	uint64_t ip4_fragmented;   /**< Packets we fragmented. */
	uint64_t ip6_fragments;
	uint64_t echo_replies;
	uint64_t fib_retries;
	uint64_t idle_sleeps;
	uint64_t idle_wakeups;     /**< Sleeps cut short by RX or an inject. */
	uint64_t arp_rx;           /**< ARP frames handled (main lcore). */
	uint64_t arp_tx;
	uint64_t nd_rx;            /**< NS/NA handled (main lcore). */
	uint64_t nd_tx;
	uint64_t held_released;    /**< Packets sent on after resolution. */
	uint64_t busy_walks;
	uint64_t idle_walks;
} __rte_cache_aligned;

/** Per-interface counters, one array per worker (summed when read). */
struct mg_if_counters {
	uint64_t rx_pkts;
	uint64_t rx_bytes;
	uint64_t tx_pkts;
	uint64_t tx_bytes;
	uint64_t drops;     /**< Received on the interface and dropped. */
};

/* ---- workers ------------------------------------------------------------------------- */

/** An RX queue a worker polls. */
struct mg_rxq {
	uint16_t port;
	uint16_t queue;
};

/** The RX queues of one worker. Immutable once published. */
struct mg_rxq_list {
	uint16_t n;
	struct mg_rxq q[];
};

/** One worker lcore and the state its graph's nodes share. */
struct mg_worker {
	unsigned int lcore;
	unsigned int index;          /**< 0..nb_workers-1; also its TX queue and RCU id. */
	rte_graph_t graph_id;
	struct rte_graph *graph;
	struct mg_rxq_list *rxqs;    /**< RCU slot. */
	struct rte_ring *inject;     /**< main -> worker */
	struct rte_ring *punt;       /**< worker -> main */
	struct mg_lcore_stats *stats;
	uint32_t walk_pkts;          /**< Packets taken in by this walk's sources. */
	uint16_t txq;
	uint16_t rx_burst;           /**< Packets per RX queue per walk. */
	uint16_t ip4_id;
	uint64_t icmp_tokens;        /**< Scaled by icmp_tsc_per_token. */
	uint64_t icmp_last_tsc;
	volatile int quit;
	int wake_fd;                 /**< eventfd: the main lcore wakes a sleeping worker. */
	int sleeping;                /**< Set while the worker waits (see mg_dp_inject). */
	struct mg_if_counters *ifc;  /**< MG_MAX_IFACES entries. */
	uint32_t walks;              /**< Graph walks, for cycle sampling. */
	/** Packets seen by each node in timed walks: cycles/packet = total_cycles / this. */
	uint64_t sampled_objs[MG_MAX_NODES];
	/* TX staging: frames wait here until the end of the port-tx node. */
	uint16_t txn[MG_MAX_PORTS];
	struct rte_mbuf *txb[MG_MAX_PORTS][MG_TXB_SIZE];
} __rte_cache_aligned;

/* ---- the data plane ------------------------------------------------------------------ */

struct mg_dp_conf {
	uint32_t max_adjacencies;
	uint32_t fib_routes;
	uint32_t fib_tbl8;
	uint32_t fib6_tbl8;
	uint32_t punt_ring;
	uint32_t inject_ring;
	uint32_t icmp_rate;
	uint32_t icmp_burst;
	unsigned int nb_workers;
};

struct mg_dp {
	struct mg_dp_conf conf;
	/* Read by workers (see the publication rules above). */
	struct mg_dp_iface *ifaces[MG_MAX_IFACES];
	uint16_t port_if[MG_MAX_PORTS];      /**< Untagged interface of each port. */
	uint16_t *vlan_if[MG_MAX_PORTS];     /**< 4096 entries, or NULL when no VLANs. */
	uint8_t port_up[MG_MAX_PORTS];       /**< TX allowed. */
	struct mg_dp_net *nets[MG_MAX_NETS];
	struct mg_cap_set *capture;          /**< Running captures (lib/capture), or NULL. */
	/** Classification rule sets (lib/cls) by network, [0] IPv4 and [1] IPv6; NULL: none. */
	struct mg_cls_set *cls[MG_MAX_NETS][2];
	/**
	 * Flow trackers (lib/flow mg_ct.h) by network, NULL: the network tracks
	 * nothing (RCU slots); ct_nets is the highest network id with one + 1
	 * (0: none anywhere, so workers skip their expiry pass).
	 */
	struct mg_ct_set *ct[MG_MAX_NETS];
	uint16_t ct_nets;
	/**
	 * Non-zero for a network whose received packets pass the nat node
	 * before classification and lookup (lib/natgw: replies of translated
	 * flows arrive there). Zero everywhere without NAT: no cost.
	 */
	uint8_t nat_net[MG_MAX_NETS];
	struct mg_adj *adj;                  /**< conf.max_adjacencies entries. */
	uint64_t icmp_tsc_per_token;
	struct rte_rcu_qsbr *rcu;            /**< Walk-level: quiescent after each graph walk. */
	struct rte_rcu_qsbr *rcu_fib;        /**< Online only inside FIB lookups. */
	unsigned int nb_workers;
	struct mg_worker *workers[MG_MAX_WORKERS];
	struct mg_lcore_stats *stats;        /**< RTE_MAX_LCORE entries. */
	struct rte_mempool *pools[RTE_MAX_NUMA_NODES];
	struct mg_espgw *esp;                /**< ESP tunnels (lib/espgw), NULL until the first. */
	struct mg_vxlan *vxlan;              /**< VXLAN tunnels (lib/vxlan), NULL until the first. */
	/** IKE peers exist (lib/gw/gw_ike.c): ipX-local punts IKE to the main lcore. */
	uint8_t ike;
	/* Main lcore only. */
	struct mg_if_counters ifc_base[MG_MAX_IFACES]; /**< Counters when each interface was made. */
	/** The workers' per-ethdev sums when each ethdev id was last opened (mg_port_open). */
	struct mg_port_base {
		uint64_t rx_pkts, rx_bytes, tx_pkts, tx_bytes;
	} port_base[MG_MAX_PORTS];
	uint32_t *adj_free;                  /**< Stack of free adjacency ids. */
	uint32_t adj_nfree;
	struct mg_adj_limbo *limbo;          /**< Freed, not yet past a grace period (FIFO). */
	uint32_t limbo_head, limbo_n;
	uint32_t adj_used;
	unsigned int main_lcore;
	int main_wake_fd;                    /**< eventfd: workers wake a sleeping main lcore. */
	int main_sleeping;                   /**< Set while the main lcore waits. */
	/** WireGuard data plane state (lib/wgif, struct mg_wgif_dp), NULL until the first one. */
	void *wg;
	/** UDP ports WireGuard interfaces listen on (bit per port; lib/wgif sets them). */
	uint64_t wg_ports[65536 / 64];
};

/**
 * Wake the main lcore if it is waiting (workers call this after punting; a
 * system call, but only on the punt path and only while the main lcore
 * sleeps).
 */
void mg_dp_wake_main(struct mg_dp *dp);

/** The process's data plane (there is one). Set by mg_dp_create. */
struct mg_dp *mg_dp_get(void);

/** Create the data plane: mbuf dynfield (mg_meta), adjacency table, RCU, per-lcore counters. */
struct mg_dp *mg_dp_create(const struct mg_dp_conf *conf);
void mg_dp_destroy(struct mg_dp *dp);

/** Wait until every worker has finished the walk it was in (main lcore). */
void mg_dp_sync(struct mg_dp *dp);

/**
 * Return freed adjacencies whose grace period has passed to the free list
 * (main lcore; cheap, never waits). The main loop calls it now and then.
 */
void mg_dp_reclaim(struct mg_dp *dp);

/** A worker starts FIB lookups: until mg_dp_fib_leave, FIB changes wait for it. */
static inline void
mg_dp_fib_enter(const struct mg_dp *dp, unsigned int worker)
{
	rte_rcu_qsbr_thread_online(dp->rcu_fib, worker);
}

/** A worker is done with FIB lookups for now. */
static inline void
mg_dp_fib_leave(const struct mg_dp *dp, unsigned int worker)
{
	rte_rcu_qsbr_thread_offline(dp->rcu_fib, worker);
}

/** Counters of the calling lcore. */
static inline struct mg_lcore_stats *
mg_dp_lcore_stats(struct mg_dp *dp)
{
	return &dp->stats[rte_lcore_id()];
}

/* Interfaces and networks (main lcore). */
int mg_dp_iface_set(struct mg_dp *dp, const struct mg_dp_iface *ifc);
void mg_dp_iface_clear(struct mg_dp *dp, uint16_t ifindex);
/** The interface record, or NULL (main lcore, or a worker within a walk). */
static inline const struct mg_dp_iface *
mg_dp_iface(const struct mg_dp *dp, uint16_t ifindex)
{
	if (unlikely(ifindex >= MG_MAX_IFACES))
		return NULL;
	return __atomic_load_n(&dp->ifaces[ifindex], __ATOMIC_ACQUIRE);
}
int mg_dp_net_create(struct mg_dp *dp, uint16_t id, const char *name, uint32_t flags,
		     struct mg_error *err);
void mg_dp_net_destroy(struct mg_dp *dp, uint16_t id);
static inline const struct mg_dp_net *
mg_dp_net(const struct mg_dp *dp, uint16_t id)
{
	return __atomic_load_n(&dp->nets[id], __ATOMIC_ACQUIRE);
}

/* FIB changes (main lcore). Addresses: IPv4 in network order, IPv6 bytes. */
int mg_dp_route_add(struct mg_dp *dp, uint16_t net, const struct mg_prefix *p, uint32_t adj);
int mg_dp_route_del(struct mg_dp *dp, uint16_t net, const struct mg_prefix *p);

/** Yields the routes of a rebuild, one per call; false when there are no more. */
typedef bool (*mg_dp_route_iter_t)(void *ctx, struct mg_prefix *p, uint32_t *adj);

/**
 * Rebuild the @p family FIB of network @p net from @p next (every route of
 * that family, with its adjacency), publish it in place of the old one and
 * free the old one after a grace period. DPDK 22.11's FIBs can refuse adds
 * with -ENOSPC after some add/delete orders (their tbl8 reservation count
 * drifts from the real use); a fresh table has the right count.
 * @return 0, or a negative errno (the old table stays in use).
 */
int mg_dp_fib_rebuild(struct mg_dp *dp, uint16_t net, uint8_t family, mg_dp_route_iter_t next,
		      void *ctx, unsigned int *nroutes);
/** Look up (any thread inside an RCU read side, or the main lcore). */
uint32_t mg_dp_route_lookup(struct mg_dp *dp, uint16_t net, const struct mg_ip *ip);

/* Adjacencies (main lcore). */
/** Allocate an adjacency of @p type; returns its id, or 0 when the table is full. */
uint32_t mg_dp_adj_alloc(struct mg_dp *dp, enum mg_adj_type type, uint8_t family,
			 uint16_t ifindex);
/** Free an adjacency no FIB entry refers to any more (after mg_dp_sync). */
void mg_dp_adj_free(struct mg_dp *dp, uint32_t id);
/**
 * Publish a new rewrite for neighbor adjacency @p id: @p mac may be NULL
 * (state INCOMPLETE or FAILED). Uses the interface record for the source
 * MAC, VLAN, port and MTU.
 */
void mg_dp_adj_set_rewrite(struct mg_dp *dp, uint32_t id, const struct rte_ether_addr *mac,
			   enum mg_neigh_state state);

/* Workers: the main lcore sends packets through their inject rings. */
/** Enqueue @p m (its meta.punt set to an enum mg_inject) to a worker; frees on failure. */
int mg_dp_inject(struct mg_dp *dp, struct rte_mbuf *m);

/** Set the RX queue list of a worker (main lcore; RCU). */
int mg_dp_worker_set_rxqs(struct mg_dp *dp, unsigned int w, const struct mg_rxq *q,
			  unsigned int n);

/** Counters of interface @p ifindex summed over the workers. */
void mg_dp_iface_counters(const struct mg_dp *dp, uint16_t ifindex, struct mg_if_counters *out);

/**
 * Ethdev id @p port is opened (main lcore, before workers poll it): its
 * per-port counters count from zero from now on (ids of closed ports come
 * back, the workers' sums never reset). mg_stats subtracts dp->port_base.
 */
void mg_dp_port_counters_base(struct mg_dp *dp, uint16_t port);

/** The mbuf pool for @p socket (falls back to any pool). */
struct rte_mempool *mg_dp_pool(struct mg_dp *dp, int socket);

#endif /* MG_DP_H */
