/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow trackers per network and the flow history (see gw_flows.h).
 *
 * A tracker set (struct mg_ct_set) is published in dp->ct[net]; workers
 * reach it in the classify node and in their expiry pass, both within a
 * graph walk, so after unpublishing it and one grace period (mg_dp_sync)
 * the main lcore owns its tables: it drains their rings, flushes what is
 * still active (into the history) and frees them.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_log.h>
#include <rte_malloc.h>

#include "gw_flows.h"
#include "mg_config.h"
#include "mg_ct.h"
#include "mg_dp.h"
#include "mg_flowlog.h"
#include "mg_model.h"
#include "mg_natgw.h"
#include "mg_svc.h"
#include "mg_svc_rt.h"

_Static_assert((int)MG_FLOWS_T_MAX == (int)MG_CT_T_MAX &&
	       (int)MG_FLOWS_T_UDP == (int)MG_CT_T_UDP &&
	       (int)MG_FLOWS_T_OTHER == (int)MG_CT_T_OTHER,
	       "mg_flows_timeout and mg_ct_tclass must agree");

#define CT_EXPORT_RING 4096u   /* ended flows per worker table between two drains */
#define DRAIN_MAX 4096u        /* records per table per poll */

static struct {
	const struct mg_model *m;
	struct mg_flowlog *log;
	uint64_t hz;
	uint64_t tsc0;             /* rte_rdtsc() at ... */
	uint64_t wall0;            /* ... this UNIX time (ns) */
	uint32_t gen;
} G;

/* UNIX time (ns) of TSC value @tsc. */
static uint64_t
tsc_to_ns(uint64_t tsc)
{
	if (tsc >= G.tsc0) {
		uint64_t d = tsc - G.tsc0;

		return G.wall0 + d / G.hz * 1000000000ull + d % G.hz * 1000000000ull / G.hz;
	}
	uint64_t d = G.tsc0 - tsc, back = d / G.hz * 1000000000ull + d % G.hz * 1000000000ull / G.hz;

	return back < G.wall0 ? G.wall0 - back : 0;
}

static void
iface_name(uint16_t ifindex, char *out, int *tunnel)
{
	const struct mg_iface *ifc = ifindex != UINT16_MAX ? mg_model_iface_get(G.m, ifindex) : NULL;

	out[0] = '\0';
	if (ifc == NULL)
		return;
	mg_strlcpy(out, ifc->name, MG_NAME_MAX);
	*tunnel = ifc->kind == MG_IFACE_WG || ifc->kind == MG_IFACE_ESP || ifc->kind == MG_IFACE_VXLAN;
}

static void
net_name(uint16_t net, char *out)
{
	const struct mg_network *n = mg_model_network_get(G.m, net);

	mg_strlcpy(out, n != NULL ? n->spec.name : "", MG_NAME_MAX);
}

/* A tracker's record into the history. */
static void
on_ct_record(const struct mg_ct_record *r, void *arg)
{
	struct mg_flowlog_entry e;
	int tun0 = 0, tun1 = 0;

	(void)arg;
	memset(&e, 0, sizeof(e));
	e.key = r->key;
	e.first_ns = tsc_to_ns(r->first);
	e.last_ns = tsc_to_ns(r->last);
	memcpy(e.pkts, r->pkts, sizeof(e.pkts));
	memcpy(e.bytes, r->bytes, sizeof(e.bytes));
	e.end = r->end;
	e.tcp_state = r->tcp_state;
	e.tcp_flags = r->tcp_flags[0] | r->tcp_flags[1];
	e.source = MG_FLOWLOG_TRACKER;
	e.worker = r->worker;
	net_name(r->key.net, e.network);
	iface_name(r->ifindex[0], e.ingress, &tun0);
	iface_name(r->ifindex[1], e.reply_ingress, &tun1);
	if (tun0)
		mg_strlcpy(e.tunnel, e.ingress, sizeof(e.tunnel));
	else if (tun1)
		mg_strlcpy(e.tunnel, e.reply_ingress, sizeof(e.tunnel));
	mg_flowlog_add(G.log, &e);
}

/* The gateway of a NAT flow, and the outside address and port a source NAT flow had. */
static void
gateway_of(const struct mg_flow_record *r, struct mg_flowlog_entry *e)
{
	struct mg_natgw_ident g;

	if (!mg_natgw_tag_ident(mg_natgw_get(), r->nat_gw, &g))
		return;
	mg_strlcpy(e->gateway, g.name, sizeof(e->gateway));
	if (r->nat_port == 0 || !(r->key.family == AF_INET ? g.has4 : g.has6))
		return;
	e->nat_addr.family = r->key.family;
	memcpy(e->nat_addr.bytes, r->key.family == AF_INET ? g.addr4 : g.addr6,
	       r->key.family == AF_INET ? 4 : 16);
	e->nat_port = r->nat_port;
}

/* A flow of lib/svc's tables into the history: a service's, with its endpoint, or a
 * gateway's source NAT. */
static void
on_svc_record(const struct mg_flow_record *r, void *arg)
{
	const struct mg_svc_rt *rt = arg;
	const struct mg_svc_table *t = r->svc < MG_SVC_MAX_SERVICES ? rt->tables[r->svc] : NULL;
	struct mg_flowlog_entry e;

	memset(&e, 0, sizeof(e));
	e.key = r->key;
	e.first_ns = tsc_to_ns(r->first);
	e.last_ns = tsc_to_ns(r->last);
	memcpy(e.pkts, r->pkts, sizeof(e.pkts));
	memcpy(e.bytes, r->bytes, sizeof(e.bytes));
	e.end = r->end;
	e.tcp_flags = r->tcp_flags;
	e.source = r->svc == MG_FLOW_SVC_NONE ? MG_FLOWLOG_GATEWAY : MG_FLOWLOG_SERVICE;
	e.worker = r->worker;
	net_name(r->key.net, e.network);
	gateway_of(r, &e);
	if (r->svc != MG_FLOW_SVC_NONE)
		mg_strlcpy(e.service, mg_svc_rt_name(rt, r->svc), sizeof(e.service));
	if (t != NULL) {
		uint16_t slot = mg_svc_ref_slot(r->ep);

		if (slot < t->n_slots && t->ep[slot].ref == r->ep) {
			mg_strlcpy(e.endpoint, t->ep[slot].name, sizeof(e.endpoint));
			e.endpoint_addr = t->ep[slot].addr;
		}
	}
	mg_flowlog_add(G.log, &e);
}

int
mg_gw_flows_init(struct mg_dp *dp, const struct mg_model *m, const struct mg_settings *st,
		 struct mg_error *err)
{
	struct mg_flowlog_conf c = {.size = st->flow_history};
	struct timespec ts;

	(void)dp;
	G.m = m;
	G.hz = rte_get_tsc_hz();
	clock_gettime(CLOCK_REALTIME, &ts);
	G.tsc0 = rte_rdtsc();
	G.wall0 = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	mg_strlcpy(c.file, st->flow_export_file, sizeof(c.file));
	mg_strlcpy(c.socket, st->flow_export_socket, sizeof(c.socket));
	G.log = mg_flowlog_create(&c, err);
	if (G.log == NULL) {
		mg_error_prefix_field(err, "flow_history");
		return -(err->code ? err->code : ENOMEM);
	}
	mg_flowlog_set(G.log);
	return 0;
}

/* Recompute dp->ct_nets after a change of dp->ct[]. */
static void
ct_nets_update(struct mg_dp *dp)
{
	uint16_t top = 0;

	for (uint16_t i = 0; i < MG_MAX_NETS; i++)
		if (dp->ct[i] != NULL)
			top = (uint16_t)(i + 1);
	__atomic_store_n(&dp->ct_nets, top, __ATOMIC_RELEASE);
}

/* End every flow of @s into the history and free it (no worker holds it). */
static void
set_retire(struct mg_ct_set *s, bool keep_tables)
{
	if (s == NULL)
		return;
	for (unsigned int w = 0; w < s->nb_workers && !keep_tables; w++) {
		mg_ct_drain(s->t[w], on_ct_record, NULL, UINT32_MAX);
		/* Through the ring in pieces it can hold (CT_EXPORT_RING - 1). */
		while (mg_ct_flush_some(s->t[w], MG_FLOW_END_FLUSH, CT_EXPORT_RING / 2) != 0)
			mg_ct_drain(s->t[w], on_ct_record, NULL, UINT32_MAX);
	}
	if (keep_tables) {
		rte_free(s);
		return;
	}
	mg_flowlog_flush(G.log);
	mg_ct_set_destroy(s);
}

int
mg_gw_flows_set(struct mg_dp *dp, uint16_t net, const struct mg_flows_spec *fs,
		struct mg_error *err)
{
	struct mg_ct_set *old = dp->ct[net], *s = NULL;
	bool reuse = false;

	if (net >= MG_MAX_NETS)
		return mg_error_set(err, EINVAL, "name", "network id %u out of range", net);
	if (fs->enabled) {
		struct mg_ct_set_conf c = {.size = fs->size, .stateful = fs->stateful,
					   .export_ring = CT_EXPORT_RING, .net = net,
					   .gen = ++G.gen};

		memcpy(c.timeout_s, fs->timeout_s, sizeof(c.timeout_s));
		reuse = old != NULL && old->conf.size == fs->size;
		if (reuse) {
			/* Same tables, new settings: the flows stay. */
			s = rte_zmalloc("mg_ct_set", sizeof(*s) + old->nb_workers * sizeof(s->t[0]),
					RTE_CACHE_LINE_SIZE);
			if (s == NULL)
				return mg_error_set(err, ENOMEM, "flows", "out of memory");
			c.gen = old->conf.gen;
			s->conf = c;
			s->nb_workers = old->nb_workers;
			memcpy(s->t, old->t, old->nb_workers * sizeof(s->t[0]));
			for (unsigned int w = 0; w < s->nb_workers; w++)
				mg_ct_table_set_timeouts(s->t[w], c.timeout_s);
		} else {
			s = mg_ct_set_create(&c, dp->nb_workers, G.hz, SOCKET_ID_ANY, err);
			if (s == NULL) {
				mg_error_prefix_field(err, "flows");
				return -(err->code ? err->code : ENOMEM);
			}
		}
	}
	if (s == NULL && old == NULL)
		return 0;
	__atomic_store_n(&dp->ct[net], s, __ATOMIC_RELEASE);
	ct_nets_update(dp);
	/* Workers may hold @old until the end of their walk. */
	mg_dp_sync(dp);
	set_retire(old, reuse);
	return 0;
}

unsigned int
mg_gw_flows_poll(struct mg_dp *dp)
{
	struct mg_svc_rt *rt = mg_svc_rt_get();
	unsigned int got = 0;

	if (G.log == NULL)
		return 0;
	for (uint16_t i = 0; i < dp->ct_nets; i++) {
		struct mg_ct_set *s = dp->ct[i];

		if (s == NULL)
			continue;
		for (unsigned int w = 0; w < s->nb_workers; w++)
			got += mg_ct_drain(s->t[w], on_ct_record, NULL, DRAIN_MAX);
	}
	if (rt != NULL)
		for (unsigned int w = 0; w < rt->nb_workers; w++)
			got += mg_flow_export_drain(rt->flows[w], on_svc_record, rt, DRAIN_MAX);
	if (got != 0)
		mg_flowlog_flush(G.log);
	return got;
}

/* mg_flow_expire's check: end every flow it visits (shutdown). */
static enum mg_flow_end
end_all(const struct mg_flow_record *r, void *arg)
{
	(void)r;
	(void)arg;
	return MG_FLOW_END_FLUSH;
}

/* The service flows still active end into the history (workers stopped). */
static void
svc_flush(void)
{
	struct mg_svc_rt *rt = mg_svc_rt_get();

	if (rt == NULL)
		return;
	for (unsigned int w = 0; w < rt->nb_workers; w++) {
		struct mg_flow_table *ft = rt->flows[w];

		mg_flow_export_drain(ft, on_svc_record, rt, UINT32_MAX);
		/* A slice at a time, each drained before the ring (MG_SVC_RT_EXPORT_RING) fills. */
		while (mg_flow_table_stats(ft)->active != 0) {
			mg_flow_expire(ft, rte_rdtsc(), 2048, end_all, NULL);
			mg_flow_export_drain(ft, on_svc_record, rt, UINT32_MAX);
		}
	}
}

void
mg_gw_flows_destroy(struct mg_dp *dp)
{
	if (G.log != NULL)
		svc_flush();
	if (dp != NULL) {
		for (uint16_t i = 0; i < MG_MAX_NETS; i++) {
			struct mg_ct_set *s = dp->ct[i];

			if (s == NULL)
				continue;
			dp->ct[i] = NULL;
			if (G.log != NULL)
				set_retire(s, false);
			else
				mg_ct_set_destroy(s);
		}
		dp->ct_nets = 0;
		if (G.log != NULL)
			mg_gw_flows_poll(dp);
	}
	mg_flowlog_destroy(G.log);
	G.log = NULL;
}
