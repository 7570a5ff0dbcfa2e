/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * meshgatectl top: per-port and per-node rates, refreshed every second (or
 * every "interval S"), from two GET /v1/stats a known time apart (the REST
 * counters are collected when asked, so the rates are exact for the
 * interval). "count N" stops after N screens (for scripts and tests); on a
 * terminal each screen replaces the previous one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_number(v) ? json_number_value(v) : 0.0;
}

/* The rate of member @k of @a and @b (same path), per second. */
static double
rate(json_t *a, json_t *b, const char *k, double dt)
{
	double d = num(b, k) - num(a, k);

	return d > 0 && dt > 0 ? d / dt : 0.0;
}

/* 1234567 -> "1.23M" */
static const char *
human(double v, char *buf, size_t n)
{
	if (v >= 1e9)
		snprintf(buf, n, "%.2fG", v / 1e9);
	else if (v >= 1e6)
		snprintf(buf, n, "%.2fM", v / 1e6);
	else if (v >= 1e3)
		snprintf(buf, n, "%.2fk", v / 1e3);
	else
		snprintf(buf, n, "%.0f", v);
	return buf;
}

static void
screen(json_t *a, json_t *b, double dt, bool tty, bool json_out)
{
	const char *name;
	json_t *p, *pa, *d;
	double drops = 0;
	char x[6][24];

	if (json_out) {
		json_t *o = json_pack("{s:f, s:{}, s:{}, s:{}}", "interval", dt, "ports", "nodes",
				      "drops");

		json_object_foreach(json_object_get(b, "ports"), name, p) {
			pa = json_object_get(json_object_get(a, "ports"), name);
			json_object_set_new(json_object_get(o, "ports"), name,
					    json_pack("{s:f, s:f, s:f, s:f, s:f}", "rx_pps",
						      rate(pa, p, "rx_packets", dt), "tx_pps",
						      rate(pa, p, "tx_packets", dt), "rx_bps",
						      8 * rate(pa, p, "rx_bytes", dt), "tx_bps",
						      8 * rate(pa, p, "tx_bytes", dt), "missed_pps",
						      rate(pa, p, "rx_missed", dt)));
		}
		json_object_foreach(json_object_get(b, "nodes"), name, p) {
			pa = json_object_get(json_object_get(a, "nodes"), name);
			double sp = num(p, "sampled_packets") - num(pa, "sampled_packets");
			double cy = num(p, "cycles") - num(pa, "cycles");

			json_object_set_new(json_object_get(o, "nodes"), name,
					    json_pack("{s:f, s:f, s:f}", "pps",
						      rate(pa, p, "packets", dt), "calls_per_s",
						      rate(pa, p, "calls", dt), "cycles_per_packet",
						      sp > 0 ? cy / sp : 0.0));
		}
		json_object_foreach(json_object_get(b, "drops"), name, d) {
			double r = json_number_value(d) -
				   json_number_value(json_object_get(json_object_get(a, "drops"), name));

			if (r > 0)
				json_object_set_new(json_object_get(o, "drops"), name,
						    json_real(r / dt));
		}
		out_json(o);
		json_decref(o);
		fflush(stdout);
		return;
	}
	if (tty)
		fputs("\033[H\033[2J", stdout);
	printf("meshgate top: rates over %.2f s\n\n", dt);
	printf("%-14s %10s %10s %10s %10s %10s\n", "port", "rx pkt/s", "rx bit/s", "tx pkt/s",
	       "tx bit/s", "missed/s");
	json_object_foreach(json_object_get(b, "ports"), name, p) {
		pa = json_object_get(json_object_get(a, "ports"), name);
		printf("%-14s %10s %10s %10s %10s %10s\n", name,
		       human(rate(pa, p, "rx_packets", dt), x[0], sizeof(x[0])),
		       human(8 * rate(pa, p, "rx_bytes", dt), x[1], sizeof(x[1])),
		       human(rate(pa, p, "tx_packets", dt), x[2], sizeof(x[2])),
		       human(8 * rate(pa, p, "tx_bytes", dt), x[3], sizeof(x[3])),
		       human(rate(pa, p, "rx_missed", dt), x[4], sizeof(x[4])));
	}
	printf("\n%-18s %10s %10s %14s\n", "node", "pkt/s", "calls/s", "cycles/packet");
	json_object_foreach(json_object_get(b, "nodes"), name, p) {
		double r;
		double sp, cy;

		pa = json_object_get(json_object_get(a, "nodes"), name);
		r = rate(pa, p, "packets", dt);
		if (r <= 0)
			continue; /* idle nodes would drown the busy ones */
		sp = num(p, "sampled_packets") - num(pa, "sampled_packets");
		cy = num(p, "cycles") - num(pa, "cycles");
		printf("%-18s %10s %10s %14.1f\n", name, human(r, x[0], sizeof(x[0])),
		       human(rate(pa, p, "calls", dt), x[1], sizeof(x[1])), sp > 0 ? cy / sp : 0.0);
	}
	printf("\n%-30s %10s\n", "drop reason", "pkt/s");
	json_object_foreach(json_object_get(b, "drops"), name, d) {
		double r = json_number_value(d) -
			   json_number_value(json_object_get(json_object_get(a, "drops"), name));

		if (r > 0) {
			printf("%-30s %10s\n", name, human(r / dt, x[0], sizeof(x[0])));
			drops += r;
		}
	}
	if (drops == 0)
		printf("(none)\n");
	fflush(stdout);
}

/* top [interval S] [count N] */
static int
cmd_top(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	double interval = 1.0, t0, t1;
	long count = -1;
	json_t *a = NULL, *b = NULL;
	int rc;

	for (int i = 0; i < argc; i += 2) {
		char *end;

		if (i + 1 >= argc)
			return ctl_usage_err(self, "'%s' needs a value", argv[i]);
		errno = 0;
		if (!strcmp(argv[i], "interval")) {
			interval = strtod(argv[i + 1], &end);
			if (errno || *end || end == argv[i + 1] || interval < 0.1 || interval > 3600)
				return ctl_usage_err(self, "interval: '%s' is not 0.1 to 3600 seconds",
						     argv[i + 1]);
		} else if (!strcmp(argv[i], "count")) {
			count = strtol(argv[i + 1], &end, 10);
			if (errno || *end || end == argv[i + 1] || count < 1)
				return ctl_usage_err(self, "count: '%s' is not a positive number",
						     argv[i + 1]);
		} else {
			return ctl_usage_err(self, "unknown word '%s'", argv[i]);
		}
	}
	rc = ctl_rest_json(c, "GET", "/v1/stats", NULL, &a);
	if (rc != CTL_EXIT_OK)
		return rc;
	t0 = now_s();
	for (long n = 0; count < 0 || n < count; n++) {
		usleep((useconds_t)(interval * 1e6));
		rc = ctl_rest_json(c, "GET", "/v1/stats", NULL, &b);
		if (rc != CTL_EXIT_OK)
			break;
		t1 = now_s();
		screen(a, b, t1 - t0, isatty(STDOUT_FILENO), c->json);
		json_decref(a);
		a = b;
		b = NULL;
		t0 = t1;
	}
	json_decref(a);
	return rc;
}

static const struct ctl_cmd cmds[] = {
	{"top", NULL, cmd_top, "[interval S] [count N]",
	 "live per-port, per-node and per-drop rates (every second)"},
	{NULL, NULL, NULL, NULL, NULL, 0},
};

const struct ctl_cmd *
ctl_top_cmds(void)
{
	return cmds;
}
