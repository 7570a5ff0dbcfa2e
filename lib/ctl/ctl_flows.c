/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flows over REST: GET /v1/flows queries the flow history (lib/flow
 * mg_flowlog.h) by address, port, network and time window;
 * GET/PUT/DELETE /v1/networks/NAME/flows read and change a network's flow
 * tracking (journaled as {"flows": {"network", "flows"}}); /metrics gets the
 * trackers' and the history's counters.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_priv.h"
#include "mg_ct.h"
#include "mg_dp.h"
#include "mg_flowlog.h"
#include "mg_model.h"

#define FLOWS_LIMIT_DEFAULT 1000u
#define FLOWS_LIMIT_MAX 10000u

/* A time argument: UNIX seconds, fractions allowed, into ns. */
static int
arg_time(const char *v, const char *name, uint64_t *ns, struct mg_error *err)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || !isfinite(d) || d < 0 || d > 4e9)
		return mg_error_set(err, EINVAL, name,
				    "expected UNIX time in seconds (e.g. 1700000000.5), found '%s'", v);
	*ns = (uint64_t)(d * 1e9);
	return 0;
}

static int
arg_uint(const char *v, const char *name, unsigned long max, unsigned long *out,
	 struct mg_error *err)
{
	char *end;

	errno = 0;
	*out = strtoul(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || v[0] == '-' || *out > max)
		return mg_error_set(err, EINVAL, name, "expected an integer 0-%lu, found '%s'", max,
				    v);
	return 0;
}

int
ctl_flows_query_parse(const char *address, const char *port, const char *network,
		      const char *since, const char *until, const char *limit,
		      struct mg_flowlog_query *q, struct mg_error *err)
{
	unsigned long v;

	memset(q, 0, sizeof(*q));
	q->port = -1;
	q->limit = FLOWS_LIMIT_DEFAULT;
	if (address != NULL && mg_ip_parse(address, &q->addr) < 0)
		return mg_error_set(err, EINVAL, "address", "not an IPv4 or IPv6 address: '%s'",
				    address);
	if (port != NULL) {
		if (arg_uint(port, "port", 65535, &v, err) < 0)
			return -EINVAL;
		q->port = (int32_t)v;
	}
	if (network != NULL && !mg_strlcpy(q->network, network, sizeof(q->network)))
		return mg_error_set(err, EINVAL, "network", "name too long");
	if (since != NULL && arg_time(since, "since", &q->since_ns, err) < 0)
		return -EINVAL;
	if (until != NULL && arg_time(until, "until", &q->until_ns, err) < 0)
		return -EINVAL;
	if (q->until_ns != 0 && q->since_ns > q->until_ns)
		return mg_error_set(err, EINVAL, "until", "is before since");
	if (limit != NULL) {
		if (arg_uint(limit, "limit", FLOWS_LIMIT_MAX, &v, err) < 0)
			return -EINVAL;
		if (v == 0)
			return mg_error_set(err, EINVAL, "limit", "must be at least 1");
		q->limit = (uint32_t)v;
	}
	return 0;
}

static void
add_entry(const struct mg_flowlog_entry *e, void *arg)
{
	char line[2048];
	json_t *o;
	int n = mg_flowlog_json(e, line, sizeof(line));

	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	o = json_loads(line, 0, NULL);
	if (o != NULL)
		json_array_append_new(arg, o);
}

json_t *
ctl_flows_json(struct mg_ctl *c, const struct mg_flowlog_query *q)
{
	const struct mg_flowlog *fl = mg_flowlog_get();
	struct mg_flowlog_stats st;
	json_t *o = json_object(), *a = json_array();

	(void)c;
	if (fl != NULL) {
		mg_flowlog_query(fl, q, add_entry, a);
		mg_flowlog_stats(fl, &st);
		json_object_set_new(o, "history",
				    json_pack("{s:I,s:I,s:I,s:I}", "size",
					      (json_int_t)mg_flowlog_conf(fl)->size, "held",
					      (json_int_t)st.held, "added", (json_int_t)st.added,
					      "overwritten", (json_int_t)st.overwritten));
	}
	json_object_set_new(o, "count", json_integer((json_int_t)json_array_size(a)));
	json_object_set_new(o, "flows", a);
	return o;
}

/* The tracker of network @net, NULL when it tracks nothing (main lcore). */
static const struct mg_ct_set *
tracker(struct mg_ctl *c, uint16_t net)
{
	return c->env.dp != NULL && net < MG_MAX_NETS ? c->env.dp->ct[net] : NULL;
}

json_t *
ctl_net_flows_json(struct mg_ctl *c, const struct mg_network *n)
{
	json_t *o = cj_flows_json(&n->spec.flows);
	const struct mg_ct_set *s = tracker(c, n->id);
	struct mg_ct_stats st;

	if (s == NULL)
		return o;
	mg_ct_set_stats(s, &st);
	json_object_set_new(o, "active", json_integer((json_int_t)st.active));
	json_object_set_new(o, "created", json_integer((json_int_t)st.created));
	json_object_set_new(o, "table_full", json_integer((json_int_t)st.full));
	json_object_set_new(o, "admitted", json_integer((json_int_t)st.admitted));
	json_object_set_new(o, "workers", json_integer((json_int_t)s->nb_workers));
	return o;
}

int
ctl_net_flows_put(struct mg_ctl *c, const char *network, json_t *body, struct mg_error *err)
{
	const struct mg_network *n = mg_model_network_find(c->env.model, network);
	struct mg_flows_spec fs, prev;
	int rc;

	mg_error_clear(err);
	if (n == NULL)
		return mg_error_set(err, ENOENT, "name", "no network named '%s'", network);
	rc = cj_flows(body, "", &fs, err);
	if (rc < 0)
		return rc;
	prev = n->spec.flows;
	rc = mg_model_network_flows_set(c->env.model, network, &fs, err);
	if (rc < 0)
		return rc;
	if (!c->replaying && c->journal_fd >= 0) {
		json_t *entry = json_pack("{s:{s:s,s:o}}", "flows", "network", network, "flows",
					  cj_flows_json(&n->spec.flows));

		rc = ctl_state_append(c, entry, err);
		json_decref(entry);
		if (rc < 0) {
			struct mg_error e2;

			mg_model_network_flows_set(c->env.model, network, &prev, &e2);
			return rc;
		}
	}
	return 0;
}

int
ctl_flows_replay(struct mg_ctl *c, json_t *entry, struct mg_error *err)
{
	json_t *net = json_object_get(entry, "network");

	if (!json_is_string(net))
		return mg_error_set(err, EINVAL, "flows.network", "expected a string");
	return ctl_net_flows_put(c, json_string_value(net), json_object_get(entry, "flows"), err);
}

static void
family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A network name as a label value (names are 1-31 of A-Z a-z 0-9 _ - . :, nothing to escape). */
struct ct_fam {
	const char *name, *type, *help;
	size_t off;
};

void
ctl_flows_metrics(struct mg_ctl *c, FILE *f)
{
	static const struct ct_fam fams[] = {
		{"meshgate_flows_active", "gauge", "Flows tracked now, by network.",
		 offsetof(struct mg_ct_stats, active)},
		{"meshgate_flows_created_total", "counter", "Flows the tracker created, by network.",
		 offsetof(struct mg_ct_stats, created)},
		{"meshgate_flows_table_full_total", "counter",
		 "New flows not tracked: the worker's flow table was full, by network.",
		 offsetof(struct mg_ct_stats, full)},
		{"meshgate_flows_admitted_total", "counter",
		 "Packets a rule denied that a stateful network admitted as part of a tracked flow.",
		 offsetof(struct mg_ct_stats, admitted)},
		{"meshgate_flows_ring_drops_total", "counter",
		 "Ended flows lost before the flow history: a worker's export ring was full.",
		 offsetof(struct mg_ct_stats, export_drops)},
	};
	struct mg_ct_stats st[MG_MAX_NETS];
	bool any[MG_MAX_NETS] = {false};
	const struct mg_flowlog *fl = mg_flowlog_get();
	unsigned int nany = 0;

	for (uint16_t i = 0; i < MG_MAX_NETS; i++) {
		const struct mg_ct_set *s = tracker(c, i);

		if (s != NULL && mg_model_network_get(c->env.model, i) != NULL) {
			mg_ct_set_stats(s, &st[i]);
			any[i] = true;
			nany++;
		}
	}
	if (nany != 0) {
		for (size_t k = 0; k < RTE_DIM(fams); k++) {
			family(f, fams[k].name, fams[k].type, fams[k].help);
			for (uint16_t i = 0; i < MG_MAX_NETS; i++)
				if (any[i])
					fprintf(f, "%s{network=\"%s\"} %" PRIu64 "\n", fams[k].name,
						mg_model_network_get(c->env.model, i)->spec.name,
						*(const uint64_t *)((const char *)&st[i] + fams[k].off));
		}
		family(f, "meshgate_flows_ended_total", "counter",
		       "Flows the tracker ended, by network and reason.");
		for (uint16_t i = 0; i < MG_MAX_NETS; i++)
			for (unsigned int r = 1; any[i] && r < MG_FLOW_END_MAX; r++)
				fprintf(f, "meshgate_flows_ended_total{network=\"%s\",reason=\"%s\"} %" PRIu64
					"\n", mg_model_network_get(c->env.model, i)->spec.name,
					mg_flow_end_name((enum mg_flow_end)r), st[i].ended[r]);
	}
	if (fl != NULL) {
		struct mg_flowlog_stats h;

		mg_flowlog_stats(fl, &h);
		family(f, "meshgate_flow_history_entries", "gauge", "Ended flows held in the history.");
		fprintf(f, "meshgate_flow_history_entries %" PRIu64 "\n", h.held);
		family(f, "meshgate_flow_history_added_total", "counter",
		       "Ended flows added to the history.");
		fprintf(f, "meshgate_flow_history_added_total %" PRIu64 "\n", h.added);
		family(f, "meshgate_flow_history_overwritten_total", "counter",
		       "Oldest history entries dropped to make room.");
		fprintf(f, "meshgate_flow_history_overwritten_total %" PRIu64 "\n", h.overwritten);
		family(f, "meshgate_flow_export_lines_total", "counter",
		       "Flow records exported as JSON lines, by destination.");
		fprintf(f, "meshgate_flow_export_lines_total{to=\"file\"} %" PRIu64 "\n",
			h.file_lines);
		fprintf(f, "meshgate_flow_export_lines_total{to=\"socket\"} %" PRIu64 "\n",
			h.socket_lines);
		family(f, "meshgate_flow_export_drops_total", "counter",
		       "Flow records not exported: write error or no collector, by destination.");
		fprintf(f, "meshgate_flow_export_drops_total{to=\"file\"} %" PRIu64 "\n",
			h.file_errors);
		fprintf(f, "meshgate_flow_export_drops_total{to=\"socket\"} %" PRIu64 "\n",
			h.socket_drops);
	}
}
