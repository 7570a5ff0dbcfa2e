/* SPDX-License-Identifier: BSD-3-Clause */
#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_lcore.h>
#include <rte_mempool.h>
#include <rte_telemetry.h>

#include "mg_nodes.h"
#include "mg_stats.h"

static pthread_mutex_t snap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mg_stats snap;

static void
sum_lcores(struct mg_dp *dp, struct mg_lcore_stats *out)
{
	uint64_t *o = (uint64_t *)out;
	const size_t n = sizeof(*out) / sizeof(uint64_t); /* every member is a uint64_t */

	memset(out, 0, sizeof(*out));
	for (unsigned int l = 0; l < RTE_MAX_LCORE; l++) {
		const uint64_t *s = (const uint64_t *)&dp->stats[l];

		for (size_t i = 0; i < n; i++)
			o[i] += __atomic_load_n(&s[i], __ATOMIC_RELAXED);
	}
}

void
mg_stats_collect(struct mg_dp *dp, const struct mg_stats_port_ref *ports, unsigned int nports,
		 uint32_t neighbors, struct mg_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->taken_ns = mg_now_ns();
	sum_lcores(dp, &s->sum);
	for (unsigned int i = 0; i < nports && i < MG_MAX_PORTS; i++) {
		struct mg_stats_port *p = &s->ports[s->nports++];
		struct rte_eth_stats es;
		struct rte_eth_link link;
		uint16_t e = ports[i].ethdev;

		mg_strlcpy(p->name, ports[i].name, sizeof(p->name));
		p->ethdev = e;
		if (e < MG_MAX_PORTS) { /* since this port took the ethdev id */
			p->rx_pkts = s->sum.rx_pkts[e] - dp->port_base[e].rx_pkts;
			p->rx_bytes = s->sum.rx_bytes[e] - dp->port_base[e].rx_bytes;
			p->tx_pkts = s->sum.tx_pkts[e] - dp->port_base[e].tx_pkts;
			p->tx_bytes = s->sum.tx_bytes[e] - dp->port_base[e].tx_bytes;
		}
		if (rte_eth_stats_get(e, &es) == 0) {
			p->ipackets = es.ipackets;
			p->opackets = es.opackets;
			p->ibytes = es.ibytes;
			p->obytes = es.obytes;
			p->imissed = es.imissed;
			p->ierrors = es.ierrors;
			p->oerrors = es.oerrors;
			p->rx_nombuf = es.rx_nombuf;
		}
		if (rte_eth_link_get_nowait(e, &link) == 0) {
			p->link_up = link.link_status != 0;
			p->speed_mbps = link.link_speed;
		}
	}
	for (unsigned int n = 0; n < mg_node_count && n < MG_STATS_MAX_NODES; n++) {
		struct mg_stats_node *sn = &s->nodes[s->nnodes++];
		rte_node_t id = rte_node_from_name(mg_node_names[n]);

		mg_strlcpy(sn->name, mg_node_names[n], sizeof(sn->name));
		for (unsigned int w = 0; w < dp->nb_workers; w++) {
			struct rte_node *node;

			if (dp->workers[w]->graph == NULL)
				continue;
			node = rte_graph_node_get(dp->workers[w]->graph_id, id);
			if (node == NULL)
				continue;
			sn->packets += __atomic_load_n(&node->total_objs, __ATOMIC_RELAXED);
			sn->calls += __atomic_load_n(&node->total_calls, __ATOMIC_RELAXED);
			sn->cycles += __atomic_load_n(&node->total_cycles, __ATOMIC_RELAXED);
			if (id < MG_MAX_NODES)
				sn->sampled_packets += __atomic_load_n(
					&dp->workers[w]->sampled_objs[id], __ATOMIC_RELAXED);
		}
	}
	for (unsigned int r = 0; r < MG_DROP_MAX; r++) {
		s->drops[r] = s->sum.drops[r];
		if (r != MG_DROP_NONE)
			s->drops_total += s->drops[r];
	}
	s->neighbors = neighbors;
	s->adjacencies = dp->adj_used;
	s->workers = dp->nb_workers;
	for (unsigned int w = 0; w < dp->nb_workers; w++) {
		const struct mg_worker *wk = dp->workers[w];
		const struct mg_lcore_stats *ls = &dp->stats[wk->lcore];
		struct mg_stats_worker *sw = &s->per_worker[w];

		sw->lcore = wk->lcore;
		for (unsigned int p = 0; p < MG_MAX_PORTS; p++) {
			sw->rx_pkts += ls->rx_pkts[p];
			sw->tx_pkts += ls->tx_pkts[p];
		}
		sw->busy_walks = ls->busy_walks;
		sw->idle_sleeps = ls->idle_sleeps;
	}
	for (int i = 0; i < RTE_MAX_NUMA_NODES; i++) {
		if (dp->pools[i] == NULL)
			continue;
		s->mbufs_free += rte_mempool_avail_count(dp->pools[i]);
		s->mbufs_total += dp->pools[i]->size;
	}
}

void
mg_stats_refresh(struct mg_dp *dp, const struct mg_stats_port_ref *ports, unsigned int nports,
		 uint32_t neighbors)
{
	struct mg_stats *tmp = malloc(sizeof(*tmp));

	if (tmp == NULL)
		return;
	mg_stats_collect(dp, ports, nports, neighbors, tmp);
	pthread_mutex_lock(&snap_lock);
	snap = *tmp;
	pthread_mutex_unlock(&snap_lock);
	free(tmp);
}

void
mg_stats_last(struct mg_stats *out)
{
	pthread_mutex_lock(&snap_lock);
	*out = snap;
	pthread_mutex_unlock(&snap_lock);
}

void
mg_stats_print(FILE *f, const struct mg_stats *s)
{
	fprintf(f, "%-12s %5s %12s %14s %12s %14s %10s %10s\n", "port", "link", "rx-packets",
		"rx-bytes", "tx-packets", "tx-bytes", "rx-missed", "rx-nombuf");
	for (unsigned int i = 0; i < s->nports; i++) {
		const struct mg_stats_port *p = &s->ports[i];

		fprintf(f, "%-12s %5s %12" PRIu64 " %14" PRIu64 " %12" PRIu64 " %14" PRIu64
			   " %10" PRIu64 " %10" PRIu64 "\n",
			p->name, p->link_up ? "up" : "down", p->rx_pkts, p->rx_bytes, p->tx_pkts,
			p->tx_bytes, p->imissed, p->rx_nombuf);
	}
	fprintf(f, "\n%-16s %14s %12s %14s\n", "node", "packets", "calls", "cycles/packet");
	for (unsigned int i = 0; i < s->nnodes; i++) {
		const struct mg_stats_node *n = &s->nodes[i];

		if (n->packets == 0 && n->calls == 0)
			continue;
		fprintf(f, "%-16s %14" PRIu64 " %12" PRIu64 " %14.1f\n", n->name, n->packets,
			n->calls,
			n->sampled_packets ? (double)n->cycles / (double)n->sampled_packets : 0.0);
	}
	fprintf(f, "\n%-26s %12s\n", "drop reason", "packets");
	for (unsigned int r = 1; r < MG_DROP_MAX; r++)
		if (s->drops[r])
			fprintf(f, "%-26s %12" PRIu64 "\n", mg_drop_name(r), s->drops[r]);
	fprintf(f, "%-26s %12" PRIu64 "\n", "total", s->drops_total);
	fprintf(f, "\npunted %" PRIu64 ", injected %" PRIu64 ", icmp-errors %" PRIu64
		   " (rate-limited %" PRIu64 "), echo-replies %" PRIu64 ", neighbors %u, mbufs "
		   "free %u/%u\n",
		s->sum.punted, s->sum.injected, s->sum.icmp_sent, s->sum.icmp_ratelimited,
		s->sum.echo_replies, s->neighbors, s->mbufs_free, s->mbufs_total);
}

/* ---- JSON ------------------------------------------------------------------------- */

static mg_stats_json_extra_t json_extra;
static void *json_extra_arg;

void
mg_stats_write_json(FILE *f, const struct mg_stats *s)
{
	const struct mg_lcore_stats *g = &s->sum;

	fprintf(f, "{\n  \"ports\": {");
	for (unsigned int i = 0; i < s->nports; i++) {
		const struct mg_stats_port *p = &s->ports[i];

		fprintf(f,
			"%s\n    \"%s\": {\"ethdev\": %u, \"link_up\": %s, \"rx_packets\": %" PRIu64
			", \"rx_bytes\": %" PRIu64 ", \"tx_packets\": %" PRIu64 ", \"tx_bytes\": %" PRIu64
			", \"rx_missed\": %" PRIu64 ", \"rx_errors\": %" PRIu64 ", \"tx_errors\": %" PRIu64
			", \"rx_nombuf\": %" PRIu64 "}",
			i ? "," : "", p->name, p->ethdev, p->link_up ? "true" : "false", p->rx_pkts,
			p->rx_bytes, p->tx_pkts, p->tx_bytes, p->imissed, p->ierrors, p->oerrors,
			p->rx_nombuf);
	}
	fprintf(f, "\n  },\n  \"nodes\": {");
	for (unsigned int i = 0; i < s->nnodes; i++)
		fprintf(f, "%s\n    \"%s\": {\"packets\": %" PRIu64 ", \"calls\": %" PRIu64
			   ", \"cycles\": %" PRIu64 ", \"sampled_packets\": %" PRIu64 "}",
			i ? "," : "", s->nodes[i].name, s->nodes[i].packets, s->nodes[i].calls,
			s->nodes[i].cycles, s->nodes[i].sampled_packets);
	fprintf(f, "\n  },\n  \"workers\": [");
	for (unsigned int w = 0; w < s->workers; w++)
		fprintf(f, "%s\n    {\"lcore\": %u, \"rx_packets\": %" PRIu64 ", \"tx_packets\": %" PRIu64
			   ", \"busy_walks\": %" PRIu64 ", \"idle_sleeps\": %" PRIu64 "}",
			w ? "," : "", s->per_worker[w].lcore, s->per_worker[w].rx_pkts,
			s->per_worker[w].tx_pkts, s->per_worker[w].busy_walks,
			s->per_worker[w].idle_sleeps);
	fprintf(f, "\n  ],\n  \"drops\": {");
	for (unsigned int r = 1; r < MG_DROP_MAX; r++)
		fprintf(f, "%s\n    \"%s\": %" PRIu64, r > 1 ? "," : "", mg_drop_name(r), s->drops[r]);
	fprintf(f,
		"\n  },\n  \"gateway\": {\"workers\": %u, \"drops\": %" PRIu64 ", \"punted\": %" PRIu64
		", \"injected\": %" PRIu64 ", \"icmp_errors\": %" PRIu64 ", \"icmp_rate_limited\": %" PRIu64
		", \"echo_replies\": %" PRIu64 ", \"ip4_options\": %" PRIu64 ", \"ip4_fragments\": %" PRIu64
		", \"ip4_fragmented\": %" PRIu64 ", \"ip6_fragments\": %" PRIu64 ", \"arp_rx\": %" PRIu64
		", \"arp_tx\": %" PRIu64 ", \"nd_rx\": %" PRIu64 ", \"nd_tx\": %" PRIu64
		", \"held_released\": %" PRIu64 ", \"fib_retries\": %" PRIu64 ", \"idle_sleeps\": %" PRIu64 ", \"idle_wakeups\": %" PRIu64
		", \"neighbors\": %u, \"adjacencies\": %u, \"mbufs_free\": %u, \"mbufs_total\": %u}",
		s->workers, s->drops_total, g->punted, g->injected, g->icmp_sent, g->icmp_ratelimited,
		g->echo_replies, g->ip4_options, g->ip4_fragments, g->ip4_fragmented, g->ip6_fragments,
		g->arp_rx, g->arp_tx, g->nd_rx, g->nd_tx, g->held_released, g->fib_retries,
		g->idle_sleeps, g->idle_wakeups, s->neighbors, s->adjacencies, s->mbufs_free, s->mbufs_total);
	if (json_extra != NULL)
		json_extra(f, json_extra_arg);
	fprintf(f, "\n}\n");
}

void
mg_stats_set_json_extra(mg_stats_json_extra_t fn, void *arg)
{
	json_extra = fn;
	json_extra_arg = arg;
}

/* ---- telemetry -------------------------------------------------------------------- */

/* Telemetry keys allow [A-Za-z0-9_./] only: "port-rx" becomes "port_rx". */
static const char *
tel_key(const char *name, char *buf, size_t n)
{
	size_t i;

	for (i = 0; name[i] != '\0' && i + 1 < n; i++) {
		char c = name[i];

		buf[i] = (isalnum((unsigned char)c) || c == '_' || c == '.' || c == '/') ? c : '_';
	}
	buf[i] = '\0';
	return buf;
}

static int
tel_ports(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct mg_stats *s = malloc(sizeof(*s));
	char key[RTE_TEL_MAX_STRING_LEN];

	if (s == NULL)
		return -ENOMEM;
	mg_stats_last(s);
	rte_tel_data_start_dict(d);
	for (unsigned int i = 0; i < s->nports; i++) {
		const struct mg_stats_port *p = &s->ports[i];
		struct rte_tel_data *c = rte_tel_data_alloc();

		if (c == NULL)
			break;
		rte_tel_data_start_dict(c);
		rte_tel_data_add_dict_u64(c, "ethdev", p->ethdev);
		rte_tel_data_add_dict_u64(c, "link_up", p->link_up);
		rte_tel_data_add_dict_u64(c, "rx_packets", p->rx_pkts);
		rte_tel_data_add_dict_u64(c, "rx_bytes", p->rx_bytes);
		rte_tel_data_add_dict_u64(c, "tx_packets", p->tx_pkts);
		rte_tel_data_add_dict_u64(c, "tx_bytes", p->tx_bytes);
		rte_tel_data_add_dict_u64(c, "rx_missed", p->imissed);
		rte_tel_data_add_dict_u64(c, "rx_errors", p->ierrors);
		rte_tel_data_add_dict_u64(c, "tx_errors", p->oerrors);
		rte_tel_data_add_dict_u64(c, "rx_nombuf", p->rx_nombuf);
		rte_tel_data_add_dict_container(d, tel_key(p->name, key, sizeof(key)), c, 0);
	}
	free(s);
	return 0;
}

static int
tel_nodes(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct mg_stats *s = malloc(sizeof(*s));
	char key[RTE_TEL_MAX_STRING_LEN];

	if (s == NULL)
		return -ENOMEM;
	mg_stats_last(s);
	rte_tel_data_start_dict(d);
	for (unsigned int i = 0; i < s->nnodes; i++) {
		const struct mg_stats_node *n = &s->nodes[i];
		struct rte_tel_data *c = rte_tel_data_alloc();

		if (c == NULL)
			break;
		rte_tel_data_start_dict(c);
		rte_tel_data_add_dict_u64(c, "packets", n->packets);
		rte_tel_data_add_dict_u64(c, "calls", n->calls);
		rte_tel_data_add_dict_u64(c, "cycles", n->cycles);
		rte_tel_data_add_dict_u64(c, "sampled_packets", n->sampled_packets);
		rte_tel_data_add_dict_container(d, tel_key(n->name, key, sizeof(key)), c, 0);
	}
	free(s);
	return 0;
}

static int
tel_drops(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct mg_stats *s = malloc(sizeof(*s));
	char key[RTE_TEL_MAX_STRING_LEN];

	if (s == NULL)
		return -ENOMEM;
	mg_stats_last(s);
	rte_tel_data_start_dict(d);
	for (unsigned int r = 1; r < MG_DROP_MAX; r++)
		rte_tel_data_add_dict_u64(d, tel_key(mg_drop_name(r), key, sizeof(key)), s->drops[r]);
	free(s);
	return 0;
}

static int
tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct mg_stats *s = malloc(sizeof(*s));

	if (s == NULL)
		return -ENOMEM;
	mg_stats_last(s);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "workers", s->workers);
	rte_tel_data_add_dict_u64(d, "drops", s->drops_total);
	rte_tel_data_add_dict_u64(d, "punted", s->sum.punted);
	rte_tel_data_add_dict_u64(d, "injected", s->sum.injected);
	rte_tel_data_add_dict_u64(d, "icmp_errors", s->sum.icmp_sent);
	rte_tel_data_add_dict_u64(d, "icmp_rate_limited", s->sum.icmp_ratelimited);
	rte_tel_data_add_dict_u64(d, "echo_replies", s->sum.echo_replies);
	rte_tel_data_add_dict_u64(d, "ip4_options", s->sum.ip4_options);
	rte_tel_data_add_dict_u64(d, "ip4_fragments", s->sum.ip4_fragments);
	rte_tel_data_add_dict_u64(d, "ip4_fragmented", s->sum.ip4_fragmented);
	rte_tel_data_add_dict_u64(d, "ip6_fragments", s->sum.ip6_fragments);
	rte_tel_data_add_dict_u64(d, "arp_rx", s->sum.arp_rx);
	rte_tel_data_add_dict_u64(d, "arp_tx", s->sum.arp_tx);
	rte_tel_data_add_dict_u64(d, "nd_rx", s->sum.nd_rx);
	rte_tel_data_add_dict_u64(d, "nd_tx", s->sum.nd_tx);
	rte_tel_data_add_dict_u64(d, "held_released", s->sum.held_released);
	rte_tel_data_add_dict_u64(d, "fib_retries", s->sum.fib_retries);
	rte_tel_data_add_dict_u64(d, "idle_sleeps", s->sum.idle_sleeps);
	rte_tel_data_add_dict_u64(d, "idle_wakeups", s->sum.idle_wakeups);
	rte_tel_data_add_dict_u64(d, "neighbors", s->neighbors);
	rte_tel_data_add_dict_u64(d, "adjacencies", s->adjacencies);
	rte_tel_data_add_dict_u64(d, "mbufs_free", s->mbufs_free);
	rte_tel_data_add_dict_u64(d, "mbufs_total", s->mbufs_total);
	free(s);
	return 0;
}

int
mg_stats_telemetry_register(void)
{
	int rc = 0;

	rc |= rte_telemetry_register_cmd("/meshgate/ports", tel_ports,
					 "meshgate per-port counters. No parameters");
	rc |= rte_telemetry_register_cmd("/meshgate/nodes", tel_nodes,
					 "meshgate per-graph-node packets, calls, cycles. No parameters");
	rc |= rte_telemetry_register_cmd("/meshgate/drops", tel_drops,
					 "meshgate drops by reason. No parameters");
	rc |= rte_telemetry_register_cmd("/meshgate/stats", tel_stats,
					 "meshgate gateway-wide counters. No parameters");
	return rc;
}
