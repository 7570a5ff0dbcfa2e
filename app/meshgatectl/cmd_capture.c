/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet captures over REST: start one at a port, a node or the drop point
 * with a pcap filter and limits, list, show, stop, remove, and dump the
 * pcapng data as it is written ("capture dump 3 - | tshark -r -").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

/* A capture id from the command line, into @p path (/v1/captures/ID@p tail). */
static int
id_path(const struct ctl_cmd *self, int argc, char **argv, const char *tail, char *path,
	size_t n)
{
	char *end;
	unsigned long v;

	if (argc < 1)
		return ctl_usage_err(self, "missing the capture ID");
	errno = 0;
	v = strtoul(argv[0], &end, 10);
	if (errno || end == argv[0] || *end != '\0' || argv[0][0] == '-' || v == 0 ||
	    v > 4294967295ul)
		return ctl_usage_err(self, "'%s' is not a capture ID (a number)", argv[0]);
	snprintf(path, n, "/v1/captures/%lu%s", v, tail);
	return CTL_EXIT_OK;
}

static void
print_captures(json_t *a)
{
	static const char *const h[] = {"id", "point", "filter", "state", ">packets", ">bytes",
					">dropped", "file"};
	struct table *t = table_new(8, h);
	size_t i;
	json_t *cap;

	json_array_foreach(a, i, cap) {
		char b[8][128];
		const char *row[8];
		const char *filter = json_string_value(json_object_get(cap, "filter"));

		row[0] = out_scalar(json_object_get(cap, "id"), b[0], sizeof(b[0]));
		row[1] = out_scalar(json_object_get(cap, "point"), b[1], sizeof(b[1]));
		row[2] = filter && filter[0] ? filter : "-";
		if (json_is_true(json_object_get(cap, "running")))
			row[3] = "running";
		else
			row[3] = out_scalar(json_object_get(cap, "stop_reason"), b[3], sizeof(b[3]));
		row[4] = out_scalar(json_object_get(cap, "packets"), b[4], sizeof(b[4]));
		row[5] = out_scalar(json_object_get(cap, "bytes"), b[5], sizeof(b[5]));
		row[6] = out_scalar(json_object_get(cap, "dropped"), b[6], sizeof(b[6]));
		row[7] = out_scalar(json_object_get(cap, "path"), b[7], sizeof(b[7]));
		table_row(t, row);
	}
	table_print(t);
}

static int
print_one(struct ctl *c, json_t *j)
{
	if (c->json)
		out_json(j);
	else
		out_kv(j);
	json_decref(j);
	return CTL_EXIT_OK;
}

static int
cmd_captures(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	json_t *j;
	int rc;

	if (argc > 0)
		return ctl_usage_err(self, "unexpected argument '%s'", argv[0]);
	rc = ctl_rest_json(c, "GET", "/v1/captures", NULL, &j);
	if (rc != CTL_EXIT_OK)
		return rc;
	if (c->json)
		out_json(j);
	else
		print_captures(j);
	json_decref(j);
	return CTL_EXIT_OK;
}

/* capture start POINT [filter EXPR] [count N] [bytes N] [seconds N] [snaplen N] [buffer N] [file NAME] */
static int
cmd_capture_start(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	static const struct {
		const char *word, *field;
		bool num;
	} kws[] = {{"filter", "filter", false}, {"count", "max_packets", true},
		   {"bytes", "max_bytes", true},   {"seconds", "max_seconds", true},
		   {"snaplen", "snaplen", true},   {"buffer", "buffer", true},
		   {"file", "file", false}};
	json_t *body, *j;
	int rc;

	if (argc < 1)
		return ctl_usage_err(self, "missing the capture point (port:NAME[:rx|:tx], "
				     "node:NAME or drop)");
	body = json_pack("{s:s}", "point", argv[0]);
	for (int i = 1; i < argc; i += 2) {
		size_t k;

		for (k = 0; k < sizeof(kws) / sizeof(kws[0]); k++)
			if (!strcmp(argv[i], kws[k].word))
				break;
		if (k == sizeof(kws) / sizeof(kws[0])) {
			json_decref(body);
			return ctl_usage_err(self, "unknown word '%s'", argv[i]);
		}
		if (i + 1 >= argc) {
			json_decref(body);
			return ctl_usage_err(self, "'%s' needs a value", argv[i]);
		}
		if (kws[k].num) {
			char *end;
			unsigned long long v;

			errno = 0;
			v = strtoull(argv[i + 1], &end, 10);
			if (errno || end == argv[i + 1] || *end || argv[i + 1][0] == '-') {
				json_decref(body);
				return ctl_usage_err(self, "%s: '%s' is not a number", argv[i],
						     argv[i + 1]);
			}
			json_object_set_new(body, kws[k].field, json_integer((json_int_t)v));
		} else {
			json_object_set_new(body, kws[k].field, json_string(argv[i + 1]));
		}
	}
	rc = ctl_rest_json(c, "POST", "/v1/captures", body, &j);
	json_decref(body);
	if (rc != CTL_EXIT_OK)
		return rc;
	if (c->json)
		out_json(j);
	else
		printf("capture %lld started: %s\n",
		       (long long)json_integer_value(json_object_get(j, "id")),
		       json_string_value(json_object_get(j, "path")));
	json_decref(j);
	return CTL_EXIT_OK;
}

/* One request on /v1/captures/ID@tail; the answer printed unless @print is false. */
static int
capture_call(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv,
	     const char *method, const char *tail, bool print)
{
	char path[64];
	json_t *j;
	int rc = argc > 1 ? ctl_usage_err(self, "unexpected argument '%s'", argv[1])
			  : id_path(self, argc, argv, tail, path, sizeof(path));

	if (rc != CTL_EXIT_OK)
		return rc;
	rc = ctl_rest_json(c, method, path, NULL, &j);
	if (rc == CTL_EXIT_OK && print)
		return print_one(c, j);
	json_decref(j);
	return rc;
}

static int
cmd_capture_show(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	return capture_call(c, self, argc, argv, "GET", "", true);
}

static int
cmd_capture_stop(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	return capture_call(c, self, argc, argv, "POST", "/stop", true);
}

static int
cmd_capture_del(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	return capture_call(c, self, argc, argv, "DELETE", "", false);
}

/* capture dump ID [FILE|-]: the pcapng data as it comes, until the capture stops. */
static int
cmd_capture_dump(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[64], addr[160], token[512], err[256];
	struct http_resp r;
	bool unreachable;
	int rc, fd = STDOUT_FILENO;

	rc = argc > 2 ? ctl_usage_err(self, "unexpected argument '%s'", argv[2])
		      : id_path(self, argc, argv, "/pcapng", path, sizeof(path));
	if (rc != CTL_EXIT_OK)
		return rc;
	if (argc == 2 && strcmp(argv[1], "-") != 0) {
		fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0) {
			ctl_err("cannot create %s: %s", argv[1], strerror(errno));
			return CTL_EXIT_USAGE;
		}
	} else if (isatty(STDOUT_FILENO)) {
		return ctl_usage_err(self, "pcapng is binary: give a FILE, or pipe it (- | tshark -r -)");
	}
	if ((rc = ctl_locate_rest(c, addr, sizeof(addr))) != CTL_EXIT_OK ||
	    (rc = ctl_locate_token(c, token, sizeof(token))) != CTL_EXIT_OK)
		goto out;
	err[0] = '\0';
	rc = http_stream(addr, token, path, fd, &r, &unreachable, err, sizeof(err));
	explicit_bzero(token, sizeof(token));
	if (rc == 0) {
		rc = CTL_EXIT_OK;
	} else if (unreachable) {
		ctl_err("cannot connect to meshgate's REST endpoint at %s: %s", addr, err);
		rc = CTL_EXIT_UNREACHABLE;
	} else {
		json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;

		if (json_is_object(json_object_get(j, "error")))
			ctl_print_error(json_object_get(j, "error"), err);
		else
			ctl_err("%s", err);
		json_decref(j);
		rc = CTL_EXIT_REJECTED;
	}
	http_resp_free(&r);
out:
	if (fd != STDOUT_FILENO)
		close(fd);
	return rc;
}

static const struct ctl_cmd cmds[] = {
	{"captures", NULL, cmd_captures, "", "list packet captures"},
	{"capture", "list", cmd_captures, "", NULL},
	{"capture", "start", cmd_capture_start,
	 "POINT [filter EXPR] [count N] [bytes N] [seconds N] [snaplen N] [buffer N] [file NAME]",
	 "capture at port:NAME[:rx|:tx], node:NAME or drop (pcap filter syntax)"},
	{"capture", "show", cmd_capture_show, "ID", "one capture and its counters"},
	{"capture", "stop", cmd_capture_stop, "ID", "stop a capture (its file stays)"},
	{"capture", "del", cmd_capture_del, "ID", "stop and forget a capture (its file stays)"},
	{"capture", "delete", cmd_capture_del, "ID", NULL},
	{"capture", "dump", cmd_capture_dump, "ID [FILE|-]",
	 "pcapng data as it is written, until the capture stops"},
	{NULL, NULL, NULL, NULL, NULL, 0},
};

const struct ctl_cmd *
ctl_capture_cmds(void)
{
	return cmds;
}

/* ---- packet trace ------------------------------------------------------------------------- */

/* trace add [filter EXPR] [count N] */
static int
cmd_trace_add(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	json_t *body = json_pack("{s:i}", "count", 10), *j;
	int rc;

	for (int i = 0; i < argc; i += 2) {
		if (i + 1 >= argc) {
			json_decref(body);
			return ctl_usage_err(self, "'%s' needs a value", argv[i]);
		}
		if (!strcmp(argv[i], "filter")) {
			json_object_set_new(body, "filter", json_string(argv[i + 1]));
		} else if (!strcmp(argv[i], "count")) {
			char *end;
			long v = strtol(argv[i + 1], &end, 10);

			if (*end || end == argv[i + 1] || v < 0) {
				json_decref(body);
				return ctl_usage_err(self, "count: '%s' is not a number", argv[i + 1]);
			}
			json_object_set_new(body, "count", json_integer(v));
		} else {
			json_decref(body);
			return ctl_usage_err(self, "unknown word '%s'", argv[i]);
		}
	}
	rc = ctl_rest_json(c, "POST", "/v1/trace", body, &j);
	json_decref(body);
	if (rc == CTL_EXIT_OK && c->json)
		out_json(j);
	else if (rc == CTL_EXIT_OK)
		printf("tracing the next %lld packet(s)%s%s\n",
		       (long long)json_integer_value(json_object_get(j, "count")),
		       json_string_value(json_object_get(j, "filter"))[0] ? " matching " : "",
		       json_string_value(json_object_get(j, "filter")));
	json_decref(j);
	return rc;
}

/* trace show: each packet's path, one node per line, like VPP's "show trace". */
static int
cmd_trace_show(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	json_t *j, *pkt, *hop;
	size_t i, k;
	int rc;

	if (argc > 0)
		return ctl_usage_err(self, "unexpected argument '%s'", argv[0]);
	rc = ctl_rest_json(c, "GET", "/v1/trace", NULL, &j);
	if (rc != CTL_EXIT_OK)
		return rc;
	if (c->json) {
		out_json(j);
		json_decref(j);
		return CTL_EXIT_OK;
	}
	if (!json_is_true(json_object_get(j, "active"))) {
		printf("no trace (meshgatectl trace add [filter EXPR] [count N])\n");
		json_decref(j);
		return CTL_EXIT_OK;
	}
	json_array_foreach(json_object_get(j, "trace"), i, pkt) {
		printf("Packet %lld (worker %lld)\n",
		       (long long)json_integer_value(json_object_get(pkt, "packet")),
		       (long long)json_integer_value(json_object_get(pkt, "worker")));
		json_array_foreach(json_object_get(pkt, "hops"), k, hop) {
			double us = (double)json_integer_value(json_object_get(hop, "ns")) / 1000.0;
			char when[32];

			snprintf(when, sizeof(when), "+%.3fus", us);
			printf("  %12s %-16s %s\n", when,
			       json_string_value(json_object_get(hop, "node")),
			       json_string_value(json_object_get(hop, "text")));
		}
		printf("\n");
	}
	printf("%lld of %lld packet(s) traced, %lld still to come, %lld record(s) lost\n",
	       (long long)json_integer_value(json_object_get(j, "packets")),
	       (long long)json_integer_value(json_object_get(j, "count")),
	       (long long)json_integer_value(json_object_get(j, "remaining")),
	       (long long)json_integer_value(json_object_get(j, "lost")));
	json_decref(j);
	return CTL_EXIT_OK;
}

static int
cmd_trace_clear(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	json_t *j;
	int rc;

	if (argc > 0)
		return ctl_usage_err(self, "unexpected argument '%s'", argv[0]);
	rc = ctl_rest_json(c, "DELETE", "/v1/trace", NULL, &j);
	json_decref(j);
	return rc;
}

static const struct ctl_cmd trace_cmds[] = {
	{"trace", "add", cmd_trace_add, "[filter EXPR] [count N]",
	 "trace the next N (default 10) received packets matching EXPR"},
	{"trace", "show", cmd_trace_show, "", "each traced packet's path through the nodes"},
	{"trace", NULL, cmd_trace_show, "", NULL},
	{"trace", "clear", cmd_trace_clear, "", "stop and forget the trace"},
	{NULL, NULL, NULL, NULL, NULL, 0},
};

const struct ctl_cmd *
ctl_trace_cmds(void)
{
	return trace_cmds;
}
