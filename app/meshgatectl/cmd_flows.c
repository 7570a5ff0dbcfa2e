/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flows over REST: the flow history (GET /v1/flows) as a table, filtered by
 * words ("flows address 10.0.1.2 port 443 since 10m"), and a network's flow
 * tracking shown, set from a JSON file or turned off
 * (/v1/networks/NAME/flows).
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

#define PATH_LEN 2048

/*
 * A time word: UNIX seconds ("1700000000.5"), or how long ago with a unit
 * ("90s", "10m", "2h", "1d"). Writes UNIX seconds into @out; false if bad.
 */
static bool
time_word(const char *w, char *out, size_t n)
{
	char *end;
	double v = strtod(w, &end);
	double mult = 0;

	if (end == w || v < 0)
		return false;
	if (*end == '\0') {
		snprintf(out, n, "%.3f", v);
		return true;
	}
	if (end[1] != '\0')
		return false;
	switch (*end) {
	case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	default: return false;
	}
	snprintf(out, n, "%.3f", (double)time(NULL) - v * mult);
	return true;
}

/* "ADDR:PORT" or "[ADDR]:PORT" or "ADDR" (no port) of one end of a flow. */
static void
endpoint_text(json_t *f, const char *addr_key, const char *port_key, char *out, size_t n)
{
	const char *a = json_string_value(json_object_get(f, addr_key));
	json_t *p = json_object_get(f, port_key);

	if (a == NULL)
		a = "?";
	if (p == NULL)
		snprintf(out, n, "%s", a);
	else if (strchr(a, ':') != NULL)
		snprintf(out, n, "[%s]:%" JSON_INTEGER_FORMAT, a, json_integer_value(p));
	else
		snprintf(out, n, "%s:%" JSON_INTEGER_FORMAT, a, json_integer_value(p));
}

static void
print_flows(json_t *j)
{
	static const char *const h[] = {"ended", "network", "proto", "from", "to", ">packets",
					">bytes", "end", "via"};
	struct table *t = table_new(9, h);
	json_t *flows = json_object_get(j, "flows"), *f, *hist = json_object_get(j, "history");
	size_t i;

	json_array_foreach(flows, i, f) {
		char b[9][256];
		const char *row[9];
		double last = json_number_value(json_object_get(f, "last_seen"));
		time_t tt = (time_t)last;
		struct tm tm;
		const char *svc = json_string_value(json_object_get(f, "service"));
		const char *tun = json_string_value(json_object_get(f, "tunnel"));
		const char *gw = json_string_value(json_object_get(f, "gateway"));

		localtime_r(&tt, &tm);
		strftime(b[0], sizeof(b[0]), "%H:%M:%S", &tm);
		out_scalar(json_object_get(f, "network"), b[1], sizeof(b[1]));
		out_scalar(json_object_get(f, "protocol"), b[2], sizeof(b[2]));
		endpoint_text(f, "src", json_object_get(f, "icmp_id") ? "icmp_id" : "sport", b[3],
			      sizeof(b[3]));
		endpoint_text(f, "dst", "dport", b[4], sizeof(b[4]));
		snprintf(b[5], sizeof(b[5]), "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(f, "packets")),
			 json_integer_value(json_object_get(f, "reply_packets")));
		snprintf(b[6], sizeof(b[6]), "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(f, "bytes")),
			 json_integer_value(json_object_get(f, "reply_bytes")));
		out_scalar(json_object_get(f, "end"), b[7], sizeof(b[7]));
		if (svc != NULL)
			snprintf(b[8], sizeof(b[8]), "%s/%s", svc,
				 json_string_value(json_object_get(f, "endpoint")) ?: "?");
		else if (gw != NULL && json_object_get(f, "nat_address") != NULL) {
			char nat[128];

			endpoint_text(f, "nat_address", "nat_port", nat, sizeof(nat));
			snprintf(b[8], sizeof(b[8]), "%s as %s", gw, nat);
		} else if (gw != NULL)
			snprintf(b[8], sizeof(b[8]), "%s", gw);
		else if (tun != NULL)
			snprintf(b[8], sizeof(b[8]), "%s", tun);
		else
			snprintf(b[8], sizeof(b[8]), "-");
		for (int c = 0; c < 9; c++)
			row[c] = b[c];
		table_row(t, row);
	}
	table_print(t);
	if (hist != NULL)
		printf("(%" JSON_INTEGER_FORMAT " shown; history holds %" JSON_INTEGER_FORMAT
		       " of %" JSON_INTEGER_FORMAT ", %" JSON_INTEGER_FORMAT " dropped as oldest)\n",
		       json_integer_value(json_object_get(j, "count")),
		       json_integer_value(json_object_get(hist, "held")),
		       json_integer_value(json_object_get(hist, "size")),
		       json_integer_value(json_object_get(hist, "overwritten")));
}

/* flows [address A] [port P] [network N] [since T] [until T] [limit N]: the history. */
static int
cmd_flows(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	static const char *const keys[] = {"address", "port", "network", "since", "until",
					   "limit", NULL};
	char path[PATH_LEN] = "/v1/flows";
	size_t off = strlen(path);
	json_t *j;
	int rc;

	for (int i = 0; i < argc; i += 2) {
		char val[256], esc[768];
		int k;

		for (k = 0; keys[k] != NULL && strcmp(keys[k], argv[i]) != 0; k++)
			;
		if (keys[k] == NULL)
			return ctl_usage_err(self, "unknown filter '%s'", argv[i]);
		if (i + 1 >= argc)
			return ctl_usage_err(self, "%s needs a value", argv[i]);
		if (!strcmp(argv[i], "since") || !strcmp(argv[i], "until")) {
			if (!time_word(argv[i + 1], val, sizeof(val)))
				return ctl_usage_err(self, "%s: '%s' is neither UNIX seconds nor "
						     "a duration ago (90s, 10m, 2h, 1d)",
						     argv[i], argv[i + 1]);
		} else {
			snprintf(val, sizeof(val), "%s", argv[i + 1]);
		}
		http_escape(val, esc, sizeof(esc));
		off += (size_t)snprintf(path + off, off < sizeof(path) ? sizeof(path) - off : 0,
					"%c%s=%s", off == strlen("/v1/flows") ? '?' : '&', argv[i],
					esc);
	}
	if (off >= sizeof(path))
		return ctl_usage_err(self, "filters too long");
	rc = ctl_rest_json(c, "GET", path, NULL, &j);
	if (rc != CTL_EXIT_OK)
		return rc;
	if (c->json)
		out_json(j);
	else
		print_flows(j);
	json_decref(j);
	return CTL_EXIT_OK;
}

/* flows tracking NETWORK: its settings and tracker counters. */
static int
cmd_tracking(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[PATH_LEN];
	int rc = ctl_network_path(self, argc, argv, 1, "/flows", path, sizeof(path));

	return rc ? rc : ctl_call(c, "GET", path, out_kv);
}

/* flows track NETWORK FILE|-: set {"size", "stateful", "timeouts": {...}}. */
static int
cmd_track(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[PATH_LEN];
	int rc = ctl_network_path(self, argc, argv, 2, "/flows", path, sizeof(path));

	if (rc == CTL_EXIT_OK && argc < 2)
		rc = ctl_usage_err(self, "missing FILE (or - for standard input)");
	return rc ? rc : ctl_send_file(c, self, "PUT", path, argv[1], out_kv);
}

/* flows untrack NETWORK: stop tracking (its flows end into the history). */
static int
cmd_untrack(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[PATH_LEN];
	int rc = ctl_network_path(self, argc, argv, 1, "/flows", path, sizeof(path));

	return rc ? rc : ctl_call(c, "DELETE", path, NULL);
}

static const struct ctl_cmd cmds[] = {
	{"flows", NULL, cmd_flows,
	 "[address A] [port P] [network N] [since T] [until T] [limit N]",
	 "ended flows, newest first (T: UNIX seconds or 10m, 2h ago)"},
	{"flows", "tracking", cmd_tracking, "NETWORK", "a network's flow tracking and counters"},
	{"flows", "track", cmd_track, "NETWORK FILE|-",
	 "track its flows: {\"size\", \"stateful\", \"timeouts\"} (JSON)"},
	{"flows", "untrack", cmd_untrack, "NETWORK", "stop tracking its flows"},
	{NULL, NULL, NULL, NULL, NULL},
};

const struct ctl_cmd *
ctl_flows_cmds(void)
{
	return cmds;
}
