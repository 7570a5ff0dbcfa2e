/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef GW_IKE_H
#define GW_IKE_H

/**
 * @file
 * The gateway's IKEv2 peers (lib/ike) on the main lcore:
 *   ipX-local (UDP 500, or 4500 with the non-ESP marker, to a local address)
 *     ─► punt ring ─► gw_ike_input ─► lib/ike
 *   lib/ike's messages ─► IP/UDP built here ─► a worker's inject ring ─►
 *     ipX-lookup in the tunnel's underlay network ─► the port's TX
 *   negotiated CHILD_SA ─► mg_model_esp_rekey on the tunnel (make-before-break
 *     in lib/espgw: the new inbound SA accepts at once, outbound switches
 *     atomically, the old inbound SA is retired when idle)
 * Main lcore only.
 */

#include <stdint.h>
#include <stdio.h>

#include <rte_mbuf.h>

#include "mg_dp.h"
#include "mg_ike.h"
#include "mg_model.h"

struct gw_ike;

/** What gw_ike_on_event calls: an SA event of tunnel @p tunnel ("established"...). */
typedef void gw_ike_event_fn(void *arg, const char *tunnel, const char *event,
			     const char *reason);

/** Create the IKE state (NULL on allocation failure). */
struct gw_ike *gw_ike_create(struct mg_dp *dp, struct mg_model *model);
/** Free it (keys and PSKs wiped). NULL is a no-op. */
void gw_ike_destroy(struct gw_ike *gi);
/**
 * Add the IKE peer of ESP tunnel c->name (which must exist in the model).
 * From then on IKE packets are punted to the main lcore.
 */
int gw_ike_add(struct gw_ike *gi, const struct mg_ike_peer_conf *c, struct mg_error *err);
/**
 * Add the IKE peer of ESP tunnel c->name, or replace its configuration
 * (mg_ike_peer_replace: checked first, nothing changes on error).
 */
int gw_ike_set(struct gw_ike *gi, const struct mg_ike_peer_conf *c, struct mg_error *err);
/** True if tunnel @p name has an IKE peer. */
bool gw_ike_has(const struct gw_ike *gi, const char *name);
/** Remove the IKE peer of tunnel @p name (its IKE SA deleted). 0 or -ENOENT. */
int gw_ike_del(struct gw_ike *gi, const char *name);
/** A punted IKE packet (data at the IP header). Consumes @p m. */
void gw_ike_input(struct gw_ike *gi, struct rte_mbuf *m);
/** Have @p fn told of every SA event (established, rekeyed, deleted, failed). */
void gw_ike_on_event(struct gw_ike *gi, gw_ike_event_fn *fn, void *arg);
/** Timers. */
void gw_ike_poll(struct gw_ike *gi, uint64_t now_ns);
/** When gw_ike_poll next has work (UINT64_MAX: never). */
uint64_t gw_ike_next_timer(const struct gw_ike *gi);
/** The peers and their SAs as a JSON array (no key, no PSK). */
void gw_ike_json(const struct gw_ike *gi, FILE *f);
/** Counters in the Prometheus text format. */
void gw_ike_metrics(const struct gw_ike *gi, FILE *f);

#endif /* GW_IKE_H */
