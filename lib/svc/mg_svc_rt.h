/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_SVC_RT_H
#define MG_SVC_RT_H

/**
 * @file
 * Services at run time: the published service tables the workers' service
 * node reads (one RCU pointer slot per service id), the flow table of each
 * worker, and the services themselves (main lcore).
 *
 * A packet reaches the "service" graph node when the FIB lookup of its
 * destination returns a service adjacency (MG_ADJ_SERVICE, the VIP route
 * of a service; its ifindex field holds the service id). In route mode
 * the node picks the endpoint (mg_svc_steer on the worker's flow table),
 * looks the endpoint's address up in the packet's network and hands the
 * packet back to ip4-lookup / ip6-lookup with that neighbor adjacency as
 * its next hop: the packet keeps its addresses. In nat mode the flow gets
 * a reply key and the destination becomes the endpoint (lib/natgw,
 * mg_natgw.h): the flow tables here hold NAT flows too, gateways' source
 * NAT flows among them (mg_flow_record.svc MG_FLOW_SVC_NONE).
 *
 * Threads: mg_svc_rt_create / _publish / _destroy on the main lcore;
 * workers read slots with mg_svc_rt_table() (acquire) and use only their
 * own flow table. A replaced table goes back to the caller, to be freed
 * after a grace period of the walk-level RCU.
 */

#include <stdint.h>

#include "mg_flow.h"
#include "mg_svc.h"

#define MG_SVC_RT_MAX_WORKERS 64 /**< As MG_MAX_WORKERS. */
#define MG_SVC_RT_MAX_EPS 256    /**< Endpoint slots per service at run time (with counters). */

/** Counters of one endpoint (per worker; summed and rebased when read). */
struct mg_svc_ep_count {
	uint64_t pkts;       /**< Packets steered to it. */
	uint64_t bytes;      /**< Their bytes (IP length). */
	uint64_t flows_new;  /**< Flows pinned to it. */
	uint64_t flows_end;  /**< Those that ended (while it still existed). */
};

/** Per-worker service counters (owner writes, anyone reads). */
struct mg_svc_rt_stats {
	uint64_t steered;       /**< Packets given an endpoint. */
	uint64_t no_endpoint;   /**< Packets of a service with no usable endpoint. */
	uint64_t unreachable;   /**< Endpoint not a resolved neighbor: dropped. */
	uint64_t no_service;    /**< Service adjacency without a published table. */
} __attribute__((aligned(64)));

/** The run-time registry (one per process). */
struct mg_svc_rt {
	/** Published tables by service id (RCU slots; NULL: none). */
	const struct mg_svc_table *tables[MG_SVC_MAX_SERVICES];
	/** Each worker's flow table. */
	struct mg_flow_table *flows[MG_SVC_RT_MAX_WORKERS];
	/** Each worker's counters. */
	struct mg_svc_rt_stats stats[MG_SVC_RT_MAX_WORKERS];
	/** Services by id (main lcore). */
	struct mg_svc *svcs[MG_SVC_MAX_SERVICES];
	/**
	 * The name of the service each id had last, kept after it was removed
	 * (main lcore): its flows still name it when they reach the history.
	 */
	char names[MG_SVC_MAX_SERVICES][MG_NAME_MAX];
	/** Endpoint counters by service: nb_workers x MG_SVC_RT_MAX_EPS (workers write their row). */
	struct mg_svc_ep_count *epc[MG_SVC_MAX_SERVICES];
	/** Per service, the sums when each slot's endpoint was created (main lcore). */
	struct mg_svc_ep_count *base[MG_SVC_MAX_SERVICES];
	/** Workers. */
	unsigned int nb_workers;
	/**
	 * Called by the owner worker for each ended flow with a NAT port
	 * (mg_flow_record.nat_gw != 0), before the service's accounting:
	 * lib/natgw returns the port to its block. Set before workers start.
	 */
	void (*nat_end)(const struct mg_flow_record *r, void *arg);
	/** Argument of @c nat_end. */
	void *nat_end_arg;
};

/**
 * Export ring per worker of the registry's flow tables: ended flows between two
 * drains by lib/gw/gw_flows.c into the flow history. Whoever creates the
 * registry first (a service or a gateway) passes it, so the history holds
 * both kinds of flows in any order of creation.
 */
#define MG_SVC_RT_EXPORT_RING 4096u

/**
 * Create the registry with a flow table of @p flows entries per worker
 * (@p hz: the tick rate of the workers' clock, rte_get_tsc_hz()).
 * @return the registry (also what mg_svc_rt_get returns from then on), or
 *   NULL with @p err set.
 */
struct mg_svc_rt *mg_svc_rt_create(unsigned int nb_workers, uint32_t flows, uint64_t hz,
				   uint32_t export_ring, int socket, struct mg_error *err);

/** Destroy the registry, its services, tables and flow tables (workers stopped). */
void mg_svc_rt_destroy(struct mg_svc_rt *rt);

/** The process's registry, NULL when no service is configured. */
struct mg_svc_rt *mg_svc_rt_get(void);

/**
 * Commit service @p s (staged endpoints) and publish its table in slot
 * mg_svc_id(s); the registry takes @p s over. *@p old receives the table
 * replaced (free it after a grace period).
 * @return 0, or a negative errno with @p err set.
 */
int mg_svc_rt_publish(struct mg_svc_rt *rt, struct mg_svc *s, struct mg_svc_table **old,
		      struct mg_error *err);

/**
 * Unpublish service @p id: workers find no table for it from now on (its
 * VIP routes should be gone first). Returns the service, which the caller
 * destroys after a grace period (with its last table), or NULL.
 */
struct mg_svc *mg_svc_rt_unpublish(struct mg_svc_rt *rt, uint16_t id);

/**
 * The name of the service @p id has, or had last when it was removed (main
 * lcore; "" for an id never used). Ids come back only after every other one
 * was used since (lib/svc/setup), so a removed service's flows keep their name.
 */
const char *mg_svc_rt_name(const struct mg_svc_rt *rt, uint16_t id);

/** Free service @p id's endpoint counters (after the grace period that followed unpublish). */
void mg_svc_rt_counters_free(struct mg_svc_rt *rt, uint16_t id);

/**
 * Counters of the endpoint in slot @p slot of service @p id since it was
 * created, summed over the workers (main lcore). active flows =
 * flows_new - flows_end.
 */
void mg_svc_rt_ep_counters(const struct mg_svc_rt *rt, uint16_t id, uint16_t slot,
			   struct mg_svc_ep_count *out);

/** The service named @p name in the registry, or NULL (main lcore). */
struct mg_svc *mg_svc_rt_find(const struct mg_svc_rt *rt, const char *name);

/** Worker @p w's counters of endpoint @p slot of service @p id, or NULL. */
static inline struct mg_svc_ep_count *
mg_svc_rt_epc(struct mg_svc_rt *rt, unsigned int w, uint16_t id, uint16_t slot)
{
	struct mg_svc_ep_count *c = rt->epc[id & (MG_SVC_MAX_SERVICES - 1)];

	if (c == NULL || slot >= MG_SVC_RT_MAX_EPS)
		return NULL;
	return &c[w * MG_SVC_RT_MAX_EPS + slot];
}

/**
 * Worker @p w's housekeeping when it has nothing else to do: end up to
 * @p budget idle flows, and flows whose endpoint or service went away, that
 * no packet visits (the service node sweeps only while packets come).
 * Worker only, inside its RCU read side. No-op without services.
 */
void mg_svc_rt_housekeep(unsigned int w, unsigned int budget);

/** The published table of service @p id (workers: acquire), or NULL. */
static inline const struct mg_svc_table *
mg_svc_rt_table(const struct mg_svc_rt *rt, uint16_t id)
{
	return __atomic_load_n(&rt->tables[id & (MG_SVC_MAX_SERVICES - 1)], __ATOMIC_ACQUIRE);
}

#endif /* MG_SVC_RT_H */
