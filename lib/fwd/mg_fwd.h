/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_FWD_H
#define MG_FWD_H

/**
 * @file
 * Forwarding control, on the main lcore: turns the model's interfaces,
 * addresses, routes and neighbors into data plane state (interface records,
 * FIB entries, adjacencies), and runs ARP and IPv6 neighbor discovery.
 *
 * A small RIB sits in front of each FIB: several sources may want the same
 * prefix (an interface address, a static route, a connected subnet, a
 * neighbor's host route) and the best one is installed:
 * local > static > connected > host.
 *
 * Every neighbor in a connected subnet gets a host route (/32 or /128) to
 * its adjacency, so forwarding is one FIB lookup; a packet to an unresolved
 * address in a connected subnet hits the subnet's glean adjacency and is
 * punted here, which creates the neighbor, holds a few packets and probes.
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "mg_addr.h"
#include "mg_common.h"
#include "mg_model.h"

struct mg_dp;
struct mg_fwd;

/** RIB sources, best first. */
enum mg_rib_src {
	MG_RIB_LOCAL = 0,
	MG_RIB_SERVICE,      /**< A service's VIP (lib/svc). */
	MG_RIB_STATIC,
	MG_RIB_CONNECTED,
	MG_RIB_HOST,
	MG_RIB_SRC_MAX,
};

struct mg_fwd_conf {
	uint32_t max_neighbors;
	uint32_t reachable_ms;
	uint32_t retrans_ms;
	uint32_t probes;
	uint32_t hold_packets;
	uint32_t failed_ms;
	/** Announce each address as it is added (gratuitous ARP, unsolicited NA). */
	bool announce;
};

/** Neighbor states as shown to users. */
enum mg_nbr_state {
	MG_NBR_INCOMPLETE = 0,  /**< Resolving, or waiting for traffic to resolve. */
	MG_NBR_REACHABLE,       /**< Confirmed recently. */
	MG_NBR_PROBE,           /**< Confirmation overdue: unicast probes out. */
	MG_NBR_FAILED,          /**< Did not answer. */
	MG_NBR_STATIC,
};

/** A neighbor as reported by mg_fwd_neigh_walk. */
struct mg_fwd_neigh_info {
	uint16_t ifindex;
	struct mg_ip ip;
	struct rte_ether_addr mac;
	enum mg_nbr_state state;
	uint32_t adj;
	uint32_t refs;          /**< Routes using it as next hop. */
	uint32_t held;          /**< Packets waiting. */
	uint64_t age_ms;        /**< Since last confirmation. */
};

struct mg_fwd *mg_fwd_create(struct mg_dp *dp, const struct mg_fwd_conf *conf);
void mg_fwd_destroy(struct mg_fwd *f);

/* Interfaces and addresses. */
int mg_fwd_iface_add(struct mg_fwd *f, const struct mg_iface *ifc, uint16_t ethdev,
		     struct mg_error *err);
/**
 * Add a point-to-point interface with no port (a tunnel): its connected
 * subnets and the routes through it lead to an adjacency of @p adj_type
 * (MG_ADJ_ESP...) on it, never to ARP/ND; a route's next hop is ignored.
 */
int mg_fwd_iface_add_p2p(struct mg_fwd *f, const struct mg_iface *mi, uint8_t adj_type,
			 struct mg_error *err);
void mg_fwd_iface_del(struct mg_fwd *f, uint16_t ifindex);
int mg_fwd_addr_add(struct mg_fwd *f, uint16_t ifindex, const struct mg_prefix *p,
		    struct mg_error *err);
void mg_fwd_addr_del(struct mg_fwd *f, uint16_t ifindex, const struct mg_prefix *p);

/* Networks. */
int mg_fwd_net_add(struct mg_fwd *f, const struct mg_network *n, struct mg_error *err);
void mg_fwd_net_del(struct mg_fwd *f, uint16_t id);

/* Static routes and neighbors. */
int mg_fwd_route_add(struct mg_fwd *f, const struct mg_route *r, struct mg_error *err);
void mg_fwd_route_del(struct mg_fwd *f, const struct mg_route *r);
/** Move route @p old to @p r's target with a single FIB write. */
int mg_fwd_route_replace(struct mg_fwd *f, const struct mg_route *old, const struct mg_route *r,
			 struct mg_error *err);
int mg_fwd_neigh_add(struct mg_fwd *f, const struct mg_neigh *n, struct mg_error *err);
void mg_fwd_neigh_del(struct mg_fwd *f, const struct mg_neigh *n);

/**
 * Route @p p of network @p net to adjacency @p adj as a service VIP or a
 * gateway's route (RIB source MG_RIB_SERVICE: below the gateway's own
 * addresses, above static routes). Counted: the same prefix added again
 * with the same @p adj (a replacement's new routes before its old ones go)
 * needs as many removals.
 * @return 0, -EEXIST when another adjacency holds the prefix (one owner
 *   per prefix), or the FIB's -ENOMEM / -ENOSPC (mg_fwd_prefix_error).
 */
int mg_fwd_service_route_add(struct mg_fwd *f, uint16_t net, const struct mg_prefix *p,
			     uint32_t adj);
/** Remove a VIP route. */
void mg_fwd_service_route_del(struct mg_fwd *f, uint16_t net, const struct mg_prefix *p);
/** The adjacency that holds @p p as a VIP or gateway route in @p net, 0 none. */
uint32_t mg_fwd_service_route_owner(struct mg_fwd *f, uint16_t net, const struct mg_prefix *p);
/**
 * Whether another adjacency than @p adj holds @p p in @p net, so that
 * mg_fwd_service_route_add would refuse it (-EEXIST): callers adding
 * several prefixes ask first, so that a refusal routes none of them.
 */
bool mg_fwd_service_route_taken(struct mg_fwd *f, uint16_t net, const struct mg_prefix *p,
				uint32_t adj);
/**
 * The error of a prefix the FIB did not take (@p rc from
 * mg_fwd_service_route_add or the FIB): a full table is ENOSPC naming the
 * limit to raise, -EEXIST another owner. @p ctx starts the message.
 * @return the negative errno set.
 */
int mg_fwd_prefix_error(const struct mg_prefix *p, int rc, const char *field, const char *ctx,
			struct mg_error *err);
/**
 * Hold @p ip, in a connected subnet of network @p net, as a next hop (as a
 * static route's via does): a neighbor entry with a host route exists
 * while held, resolved by ARP/ND when packets need it. 0 or -errno
 * (EINVAL: not in a connected subnet).
 */
int mg_fwd_nexthop_hold(struct mg_fwd *f, uint16_t net, const struct mg_ip *ip,
			struct mg_error *err);
/** Release what mg_fwd_nexthop_hold took. */
void mg_fwd_nexthop_release(struct mg_fwd *f, uint16_t net, const struct mg_ip *ip);

/** Handle a packet punted by a worker (ARP, ND, glean, resolve). Consumes @p m. */
void mg_fwd_punt(struct mg_fwd *f, struct rte_mbuf *m);
/** Run neighbor timers that are due. */
void mg_fwd_timer(struct mg_fwd *f, uint64_t now_ns);
/** When mg_fwd_timer next has work (monotonic ns), 0 if never. */
uint64_t mg_fwd_next_timer(const struct mg_fwd *f);

/** Call @p cb for every neighbor entry. */
void mg_fwd_neigh_walk(struct mg_fwd *f,
		       void (*cb)(const struct mg_fwd_neigh_info *n, void *arg), void *arg);
/** Number of neighbor entries. */
uint32_t mg_fwd_neigh_count(const struct mg_fwd *f);
/** Name of a neighbor state. */
const char *mg_fwd_neigh_state_name(enum mg_nbr_state s);

/** The adjacency a lookup in @p net for @p ip would use (tests, show). */
uint32_t mg_fwd_lookup(struct mg_fwd *f, uint16_t net, const struct mg_ip *ip);

#endif /* MG_FWD_H */
