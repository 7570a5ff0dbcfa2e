/* SPDX-License-Identifier: BSD-3-Clause */
/* GET /metrics: every counter in the Prometheus text exposition format. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_priv.h"
#include "mg_capture.h"
#include "mg_dp.h"
#include "mg_stats.h"
#include "mg_natgw_setup.h"
#include "mg_svc_setup.h"

/* One service metric per endpoint: which field svc_metric_cb prints. */
struct svc_metric {
	FILE *f;
	const char *name;
	int field; /* 0 packets, 1 bytes, 2 active flows, 3 weight */
};

static void series(FILE *f, const char *name, const char *l1, const char *v1, const char *l2,
		   const char *v2);
static void family(FILE *f, const char *name, const char *type, const char *help);

static void
svc_metric_cb(const struct mg_svc_info *si, void *arg)
{
	const struct svc_metric *m = arg;

	for (unsigned int i = 0; i < si->neps; i++) {
		const struct mg_svc_ep_info *e = &si->eps[i];
		uint64_t v = m->field == 0 ? e->c.pkts : m->field == 1 ? e->c.bytes :
			     m->field == 2 ? e->c.flows_new - e->c.flows_end : e->weight;

		series(m->f, m->name, "service", si->name, "endpoint", e->name);
		fprintf(m->f, "%" PRIu64 "\n", v);
	}
}

/* SNAT ports of each gateway (arg: the stream; field in the callback's name). */
static void
gw_ports_free_cb(const struct mg_natgw_info *gi, void *arg)
{
	series(arg, "meshgate_gateway_snat_ports_free", "gateway", gi->gw->name, NULL, NULL);
	fprintf(arg, "%u\n", gi->ports_free);
}

static void
gw_ports_total_cb(const struct mg_natgw_info *gi, void *arg)
{
	series(arg, "meshgate_gateway_snat_ports", "gateway", gi->gw->name, NULL, NULL);
	fprintf(arg, "%u\n", gi->ports_total);
}

/* The NAT counters (lib/natgw), summed over the workers. */
static void
nat_metrics(FILE *f)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} nm[] = {
		{"meshgate_nat_snat_flows_total", "counter", "Source NAT flows created (gateways).",
		 offsetof(struct mg_natgw_stats, snat_flows)},
		{"meshgate_nat_dnat_flows_total", "counter",
		 "Destination NAT flows created (nat services, published services).",
		 offsetof(struct mg_natgw_stats, dnat_flows)},
		{"meshgate_nat_translated_forward_total", "counter",
		 "Packets translated in the direction of a flow's first packet.",
		 offsetof(struct mg_natgw_stats, xlate_fwd)},
		{"meshgate_nat_translated_reply_total", "counter",
		 "Packets translated in the reply direction.",
		 offsetof(struct mg_natgw_stats, xlate_reply)},
		{"meshgate_nat_icmp_errors_total", "counter", "ICMP errors about NAT flows translated.",
		 offsetof(struct mg_natgw_stats, icmp_errors)},
		{"meshgate_nat_npt6_total", "counter", "Packets prefix-translated (NPTv6).",
		 offsetof(struct mg_natgw_stats, npt6)},
		{"meshgate_nat_routed_total", "counter",
		 "Packets that crossed a gateway untranslated (ipv6: route).",
		 offsetof(struct mg_natgw_stats, routed)},
		{"meshgate_nat_no_port_total", "counter", "Dropped: a worker's SNAT port block was empty.",
		 offsetof(struct mg_natgw_stats, no_port)},
		{"meshgate_nat_no_flow_total", "counter",
		 "Dropped: flow table full or the translated tuple taken.",
		 offsetof(struct mg_natgw_stats, no_flow)},
		{"meshgate_nat_source_not_allowed_total", "counter",
		 "Dropped: inside source not allowed through the gateway.",
		 offsetof(struct mg_natgw_stats, not_allowed)},
		{"meshgate_nat_untranslatable_total", "counter",
		 "Dropped: fragment, ICMP error of no flow, or no address of the family.",
		 offsetof(struct mg_natgw_stats, untranslatable)},
		{"meshgate_nat_handoffs_total", "counter",
		 "Packets handed to the worker that owns their NAT flow (RSS put them elsewhere).",
		 offsetof(struct mg_natgw_stats, handoffs)},
		{"meshgate_nat_handoff_drops_total", "counter",
		 "Dropped: the owner worker's handoff ring was full.",
		 offsetof(struct mg_natgw_stats, handoff_drops)},
		{"meshgate_nat_fragments_total", "counter",
		 "Fragments after the first translated as their first fragment was.",
		 offsetof(struct mg_natgw_stats, frags)},
		{"meshgate_nat_fragments_unknown_total", "counter",
		 "Dropped: a later fragment whose first was not seen (reordered, or expired).",
		 offsetof(struct mg_natgw_stats, frag_unknown)},
	};
	struct mg_natgw_stats sum;

	mg_natgw_stats_sum(mg_natgw_get(), &sum);
	for (unsigned int k = 0; k < RTE_DIM(nm); k++) {
		family(f, nm[k].name, nm[k].type, nm[k].help);
		fprintf(f, "%s %" PRIu64 "\n", nm[k].name,
			*(const uint64_t *)((const char *)&sum + nm[k].off));
	}
	family(f, "meshgate_gateway_snat_ports", "gauge", "SNAT ports in a gateway's range.");
	mg_natgw_ctl_walk(NULL, gw_ports_total_cb, f);
	family(f, "meshgate_gateway_snat_ports_free", "gauge",
	       "SNAT ports of a gateway not held by a flow (all workers).");
	mg_natgw_ctl_walk(NULL, gw_ports_free_cb, f);
}

/* A label value, whole: backslash, double quote and newline escaped. */
static void
lv(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"') {
			fputc('\\', f);
			fputc(*s, f);
		} else if (*s == '\n') {
			fputs("\\n", f);
		} else {
			fputc(*s, f);
		}
	}
}

/* NAME{LABEL="VALUE"} or NAME{LABEL="VALUE",LABEL2="VALUE2"} (@l2 NULL: one label). */
static void
series(FILE *f, const char *name, const char *l1, const char *v1, const char *l2, const char *v2)
{
	fprintf(f, "%s{%s=\"", name, l1);
	lv(f, v1);
	if (l2 != NULL) {
		fprintf(f, "\",%s=\"", l2);
		lv(f, v2);
	}
	fputs("\"} ", f);
}

static void
family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

struct pm {
	const char *suffix, *type, *help;
	size_t off; /* into struct mg_stats_port */
};

char *
ctl_metrics_text(struct mg_ctl *c, size_t *len)
{
	struct mg_stats *s = calloc(1, sizeof(*s));
	char *text = NULL, a[256];
	FILE *f = open_memstream(&text, len);
	static const struct pm ports[] = {
		{"rx_packets_total", "counter", "Packets received on the port.",
		 offsetof(struct mg_stats_port, rx_pkts)},
		{"rx_bytes_total", "counter", "Bytes received on the port.",
		 offsetof(struct mg_stats_port, rx_bytes)},
		{"tx_packets_total", "counter", "Packets sent on the port.",
		 offsetof(struct mg_stats_port, tx_pkts)},
		{"tx_bytes_total", "counter", "Bytes sent on the port.",
		 offsetof(struct mg_stats_port, tx_bytes)},
		{"rx_missed_total", "counter", "Packets the device dropped for lack of RX descriptors.",
		 offsetof(struct mg_stats_port, imissed)},
		{"rx_errors_total", "counter", "Erroneous packets the device received.",
		 offsetof(struct mg_stats_port, ierrors)},
		{"tx_errors_total", "counter", "Packets the device failed to send.",
		 offsetof(struct mg_stats_port, oerrors)},
		{"rx_nombuf_total", "counter", "RX allocation failures (mbuf pool empty).",
		 offsetof(struct mg_stats_port, rx_nombuf)},
	};

	if (s == NULL || f == NULL) {
		free(s);
		if (f)
			fclose(f);
		return text;
	}
	if (c->env.stats != NULL)
		c->env.stats(c->env.ctx, s);
	for (unsigned int k = 0; k < RTE_DIM(ports); k++) {
		snprintf(a, sizeof(a), "meshgate_port_%s", ports[k].suffix);
		family(f, a, ports[k].type, ports[k].help);
		for (unsigned int i = 0; i < s->nports; i++) {
			series(f, a, "port", s->ports[i].name, NULL, NULL);
			fprintf(f, "%" PRIu64 "\n",
				*(const uint64_t *)((const char *)&s->ports[i] + ports[k].off));
		}
	}
	family(f, "meshgate_port_link_up", "gauge", "1 if the port's link is up.");
	for (unsigned int i = 0; i < s->nports; i++) {
		series(f, "meshgate_port_link_up", "port", s->ports[i].name, NULL, NULL);
		fprintf(f, "%d\n", s->ports[i].link_up);
	}
	family(f, "meshgate_node_packets_total", "counter", "Packets a graph node processed.");
	for (unsigned int i = 0; i < s->nnodes; i++)
		fprintf(f, "meshgate_node_packets_total{node=\"%s\"} %" PRIu64 "\n", s->nodes[i].name,
			s->nodes[i].packets);
	family(f, "meshgate_node_calls_total", "counter", "Calls of a graph node.");
	for (unsigned int i = 0; i < s->nnodes; i++)
		fprintf(f, "meshgate_node_calls_total{node=\"%s\"} %" PRIu64 "\n", s->nodes[i].name,
			s->nodes[i].calls);
	family(f, "meshgate_node_cycles_per_packet", "gauge",
	       "TSC cycles per packet in a graph node (sampled walks).");
	for (unsigned int i = 0; i < s->nnodes; i++)
		fprintf(f, "meshgate_node_cycles_per_packet{node=\"%s\"} %.1f\n", s->nodes[i].name,
			s->nodes[i].sampled_packets
				? (double)s->nodes[i].cycles / (double)s->nodes[i].sampled_packets
				: 0.0);
	family(f, "meshgate_drops_total", "counter", "Packets dropped, by reason.");
	for (unsigned int r = 1; r < MG_DROP_MAX; r++)
		fprintf(f, "meshgate_drops_total{reason=\"%s\"} %" PRIu64 "\n", mg_drop_name(r),
			s->drops[r]);
	{
		static const struct {
			const char *name, *help, *conn_help;
			size_t off;
		} ic[] = {
			{"rx_packets_total", "Packets received on the interface.",
			 "Packets received on the connection's interface.",
			 offsetof(struct mg_if_counters, rx_pkts)},
			{"rx_bytes_total", "Bytes received on the interface.",
			 "Bytes received on the connection's interface.",
			 offsetof(struct mg_if_counters, rx_bytes)},
			{"tx_packets_total", "Packets sent on the interface.",
			 "Packets sent on the connection's interface.",
			 offsetof(struct mg_if_counters, tx_pkts)},
			{"tx_bytes_total", "Bytes sent on the interface.",
			 "Bytes sent on the connection's interface.",
			 offsetof(struct mg_if_counters, tx_bytes)},
			{"drops_total", "Packets received on the interface and dropped.",
			 "Packets received on the connection's interface and dropped.",
			 offsetof(struct mg_if_counters, drops)},
		};

		for (unsigned int k = 0; k < RTE_DIM(ic); k++) {
			snprintf(a, sizeof(a), "meshgate_interface_%s", ic[k].name);
			family(f, a, "counter", ic[k].help);
			for (uint16_t i = 0; i < mg_model_iface_max(); i++) {
				const struct mg_iface *ifc = mg_model_iface_get(c->env.model, i);
				struct mg_if_counters cnt;

				if (ifc == NULL || c->env.dp == NULL)
					continue;
				mg_dp_iface_counters(c->env.dp, ifc->id, &cnt);
				series(f, a, "interface", ifc->name, "network",
				       mg_model_network_get(c->env.model, ifc->network)->spec.name);
				fprintf(f, "%" PRIu64 "\n",
					*(const uint64_t *)((const char *)&cnt + ic[k].off));
			}
		}
		for (unsigned int k = 0; k < RTE_DIM(ic); k++) {
			snprintf(a, sizeof(a), "meshgate_connection_%s", ic[k].name);
			family(f, a, "counter", ic[k].conn_help);
			for (unsigned int i = 0; i < CTL_MAX_CONNS; i++) {
				const struct conn *kc = &c->conns[i];
				const struct mg_iface *ifc;
				struct mg_if_counters cnt;
				const char *ns;

				if (!kc->used || c->env.dp == NULL ||
				    (ifc = mg_model_iface_find(c->env.model, kc->iface)) == NULL)
					continue;
				mg_dp_iface_counters(c->env.dp, ifc->id, &cnt);
				ns = json_string_value(json_object_get(kc->conn, "network_service"));
				series(f, a, "connection", kc->id, "network_service", ns ? ns : "");
				fprintf(f, "%" PRIu64 "\n",
					*(const uint64_t *)((const char *)&cnt + ic[k].off));
			}
		}
	}
	{
		static const struct {
			const char *name, *type, *help;
		} sm[] = {
			{"meshgate_service_endpoint_packets_total", "counter",
			 "Packets steered to a service endpoint since it was created."},
			{"meshgate_service_endpoint_bytes_total", "counter",
			 "Bytes (IP length) steered to a service endpoint."},
			{"meshgate_service_endpoint_active_flows", "gauge",
			 "Flows pinned to a service endpoint that have not ended."},
			{"meshgate_service_endpoint_weight", "gauge", "A service endpoint's weight."},
		};
		struct mg_flow_stats fs;

		for (unsigned int k = 0; k < RTE_DIM(sm); k++) {
			struct svc_metric m = {.f = f, .name = sm[k].name, .field = (int)k};

			family(f, sm[k].name, sm[k].type, sm[k].help);
			mg_svc_ctl_walk(NULL, svc_metric_cb, &m);
		}
		nat_metrics(f);
		mg_svc_ctl_flow_stats(&fs);
		family(f, "meshgate_service_flows_ended_total", "counter",
		       "Service flows ended, by reason.");
		for (unsigned int r = MG_FLOW_END_IDLE; r < MG_FLOW_END_MAX; r++) {
			series(f, "meshgate_service_flows_ended_total", "reason",
			       mg_flow_end_name((enum mg_flow_end)r), NULL, NULL);
			fprintf(f, "%" PRIu64 "\n", fs.ended[r]);
		}
		fprintf(f, "# HELP meshgate_service_flows_created_total Service flows created.\n"
			   "# TYPE meshgate_service_flows_created_total counter\n"
			   "meshgate_service_flows_created_total %" PRIu64 "\n"
			   "# HELP meshgate_service_flows_table_full_total New flows steered without "
			   "state: a worker's flow table was full.\n"
			   "# TYPE meshgate_service_flows_table_full_total counter\n"
			   "meshgate_service_flows_table_full_total %" PRIu64 "\n"
			   "# HELP meshgate_service_flows_active Service flows in the flow tables.\n"
			   "# TYPE meshgate_service_flows_active gauge\n"
			   "meshgate_service_flows_active %" PRIu64 "\n",
			fs.created, fs.full, fs.active);
	}
#define G(name, help, val)                                                                 \
	do {                                                                               \
		family(f, "meshgate_" name, "gauge", help);                                \
		fprintf(f, "meshgate_" name " %" PRIu64 "\n", (uint64_t)(val));            \
	} while (0)
#define C(name, help, val)                                                                 \
	do {                                                                               \
		family(f, "meshgate_" name, "counter", help);                              \
		fprintf(f, "meshgate_" name " %" PRIu64 "\n", (uint64_t)(val));            \
	} while (0)
	G("workers", "Worker lcores.", s->workers);
	G("neighbors", "ARP/ND entries.", s->neighbors);
	G("adjacencies", "Adjacencies in use.", s->adjacencies);
	G("routes", "Static routes.", mg_model_route_count(c->env.model));
	G("connections", "NSM connections.", c->nconns);
	G("mbufs_free", "Free mbufs in the pools.", s->mbufs_free);
	G("mbufs_total", "mbufs in the pools.", s->mbufs_total);
	C("punted_total", "Packets handed to the main lcore.", s->sum.punted);
	C("injected_total", "Packets the main lcore handed to workers.", s->sum.injected);
	C("icmp_errors_total", "ICMP errors sent.", s->sum.icmp_sent);
	C("icmp_rate_limited_total", "ICMP errors not sent (rate limit).", s->sum.icmp_ratelimited);
	C("echo_replies_total", "Echo replies sent.", s->sum.echo_replies);
	C("arp_rx_total", "ARP frames handled.", s->sum.arp_rx);
	C("arp_tx_total", "ARP frames sent.", s->sum.arp_tx);
	C("nd_rx_total", "Neighbor discovery messages handled.", s->sum.nd_rx);
	C("nd_tx_total", "Neighbor discovery messages sent.", s->sum.nd_tx);
	C("fib_retries_total", "FIB lookups repeated after racing an update.", s->sum.fib_retries);
	C("idle_sleeps_total", "Times an idle worker slept.", s->sum.idle_sleeps);
	C("control_requests_ok_total", "Control requests applied.", c->requests_ok);
	C("control_requests_failed_total", "Control requests refused.", c->requests_failed);
	C("rest_rate_limited_total", "REST requests refused with 429 (control.rest.rate_limit).",
	  c->rest_rate_limited);
	C("rest_header_timeouts_total", "REST connections closed: no whole request within 10 s "
	  "while most connections were in use.", c->rest_header_timeouts);
	C("nsm_refused_total", "NSM socket peers refused (uid not in control.nsm_uids).",
	  c->nsm_refused);
	C("nsm_full_total", "NSM socket peers refused: every client slot was in use.",
	  c->nsm_full);
	C("nsm_stalled_total", "NSM clients dropped: a message unfinished for 10 s.",
	  c->nsm_stalled);
	C("connections_expired_total", "Connections closed because their path segment expired.",
	  c->conns_expired);
	if (c->env.capture != NULL) {
		static const struct {
			const char *name, *help;
			size_t off;
		} cm[] = {
			{"meshgate_capture_packets_total", "Packets a capture wrote.",
			 offsetof(struct mg_capture_info, packets)},
			{"meshgate_capture_bytes_total", "Bytes of packet data a capture wrote.",
			 offsetof(struct mg_capture_info, bytes)},
			{"meshgate_capture_dropped_total",
			 "Capture copies lost to a full buffer or pool (never traffic).",
			 offsetof(struct mg_capture_info, dropped)},
		};
		struct mg_capture_info *all = calloc(64, sizeof(*all));
		unsigned int n = all ? mg_capture_list(c->env.capture, all, 64) : 0;
		struct mg_trace_info ti;

		for (size_t k = 0; k < RTE_DIM(cm); k++) {
			family(f, cm[k].name, "counter", cm[k].help);
			for (unsigned int i = 0; i < n; i++) {
				char id[16];

				snprintf(id, sizeof(id), "%u", all[i].id);
				series(f, cm[k].name, "capture", id, "point", all[i].spec.point);
				fprintf(f, "%" PRIu64 "\n",
					*(const uint64_t *)((const char *)&all[i] + cm[k].off));
			}
		}
		free(all);
		mg_trace_get(c->env.capture, &ti, NULL, NULL);
		G("captures_running", "Packet captures running.",
		  mg_capture_running(c->env.capture));
		G("trace_packets", "Packets the current trace recorded.", ti.packets);
	}
#undef G
#undef C
	ctl_rules_metrics(c, f);
	ctl_flows_metrics(c, f);
	ctl_wg_metrics(c, f);
	if (c->env.metrics_extra != NULL)
		c->env.metrics_extra(c->env.ctx, f);
	fclose(f);
	free(s);
	return text;
}
