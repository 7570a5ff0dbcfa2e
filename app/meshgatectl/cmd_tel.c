/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Counters through DPDK telemetry: meshgate registers /meshgate/ports,
 * /meshgate/nodes, /meshgate/drops and /meshgate/stats on the telemetry
 * socket of its file prefix (/var/run/dpdk/PREFIX/dpdk_telemetry.v2).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"

#define BUF_SZ (1 << 20)

/* Connect to the telemetry socket and read its banner; the socket or -1. */
static int
tel_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char hello[4096];
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		close(fd);
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    read(fd, hello, sizeof(hello)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Send @cmd and parse the reply's value for that command. */
static json_t *
tel_query(int fd, const char *cmd)
{
	char *buf = malloc(BUF_SZ);
	json_t *root, *val;
	ssize_t n;

	if (buf == NULL)
		return NULL;
	if (write(fd, cmd, strlen(cmd)) < 0 || (n = read(fd, buf, BUF_SZ - 1)) <= 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	root = json_loads(buf, 0, NULL);
	free(buf);
	if (root == NULL)
		return NULL;
	val = json_object_get(root, cmd);
	if (val != NULL)
		json_incref(val);
	json_decref(root);
	return val;
}

/* Connect, or say why not; the socket or -1. */
static int
tel_open(struct ctl *c)
{
	char path[300];
	const char *sock = ctl_locate_telemetry(c, path, sizeof(path));
	int fd = tel_connect(sock);

	if (fd < 0)
		ctl_err("cannot reach meshgate at %s: %s (is it running, with this file prefix?)", sock,
			strerror(errno));
	return fd;
}

/* Member @k of @o as an unsigned counter (0 if missing). */
static uint64_t
u(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

/* Per-port counters as a table. */
static void
show_ports(json_t *ports)
{
	const char *name;
	json_t *p;

	printf("%-12s %5s %12s %14s %12s %14s %10s %10s\n", "port", "link", "rx-packets",
	       "rx-bytes", "tx-packets", "tx-bytes", "rx-missed", "rx-nombuf");
	json_object_foreach(ports, name, p)
		printf("%-12s %5s %12" PRIu64 " %14" PRIu64 " %12" PRIu64 " %14" PRIu64 " %10" PRIu64
		       " %10" PRIu64 "\n",
		       name, u(p, "link_up") ? "up" : "down", u(p, "rx_packets"), u(p, "rx_bytes"),
		       u(p, "tx_packets"), u(p, "tx_bytes"), u(p, "rx_missed"), u(p, "rx_nombuf"));
}

/* Per-node counters of the nodes that ran. */
static void
show_nodes(json_t *nodes)
{
	const char *name;
	json_t *n;
	char b[64];

	printf("%-16s %14s %12s %14s\n", "node", "packets", "calls", "cycles/packet");
	json_object_foreach(nodes, name, n) {
		uint64_t pk = u(n, "packets");

		if (pk == 0 && u(n, "calls") == 0)
			continue;
		printf("%-16s %14" PRIu64 " %12" PRIu64 " %14.1f\n", out_key_text(name, b, sizeof(b)),
		       pk, u(n, "calls"),
		       u(n, "sampled_packets") ? (double)u(n, "cycles") / (double)u(n, "sampled_packets")
					 : 0.0);
	}
}

/* Drop counters by reason, with a total. */
static void
show_drops(json_t *drops, bool all)
{
	const char *name;
	json_t *v;
	uint64_t total = 0;
	char b[64];
	int w = 26;

	/* The column fits the longest reason shown. */
	json_object_foreach(drops, name, v) {
		int l = (int)strlen(out_key_text(name, b, sizeof(b)));

		if ((all || (json_is_integer(v) && json_integer_value(v) != 0)) && l > w)
			w = l;
	}
	printf("%-*s %12s\n", w, "drop reason", "packets");
	json_object_foreach(drops, name, v) {
		uint64_t n = json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;

		total += n;
		if (n || all)
			printf("%-*s %12" PRIu64 "\n", w, out_key_text(name, b, sizeof(b)), n);
	}
	printf("%-*s %12" PRIu64 "\n", w, "total", total);
}

/* The gateway's own counters, one a line. */
static void
show_gateway(json_t *gw)
{
	const char *k;
	json_t *v;

	json_object_foreach(gw, k, v)
		printf("%-18s %" PRIu64 "\n", k,
		       json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0);
}

/* The sections of "stats". */
enum { S_PORTS = 1, S_NODES = 2, S_DROPS = 4, S_GATEWAY = 8, S_ALL = 15 };

/* Query and print the sections in @want. */
static int
counters(struct ctl *c, unsigned int want)
{
	static const struct {
		unsigned int bit;
		const char *cmd, *key;
	} sec[] = {{S_PORTS, "/meshgate/ports", "ports"},
		   {S_NODES, "/meshgate/nodes", "nodes"},
		   {S_DROPS, "/meshgate/drops", "drops"},
		   {S_GATEWAY, "/meshgate/stats", "gateway"}};
	json_t *v[4] = {NULL, NULL, NULL, NULL};
	int fd = tel_open(c), rc = CTL_EXIT_OK;
	bool first = true;

	if (fd < 0)
		return CTL_EXIT_UNREACHABLE;
	for (unsigned int i = 0; i < 4; i++)
		if ((want & sec[i].bit) && (v[i] = tel_query(fd, sec[i].cmd)) == NULL)
			rc = CTL_EXIT_REJECTED;
	close(fd);
	if (rc != CTL_EXIT_OK) {
		ctl_err("meshgate did not answer");
	} else if (c->json) {
		json_t *o = json_object();

		for (unsigned int i = 0; i < 4; i++)
			if (v[i] != NULL)
				json_object_set(o, sec[i].key, v[i]);
		out_json(o);
		json_decref(o);
	} else {
		for (unsigned int i = 0; i < 4; i++) {
			if (v[i] == NULL)
				continue;
			if (!first)
				putchar('\n');
			first = false;
			if (i == 0)
				show_ports(v[i]);
			else if (i == 1)
				show_nodes(v[i]);
			else if (i == 2)
				show_drops(v[i], c->all);
			else
				show_gateway(v[i]);
		}
	}
	for (unsigned int i = 0; i < 4; i++)
		json_decref(v[i]);
	return rc;
}

/* stats [ports|nodes|drops|gateway]...: all sections, or those named. */
static int
cmd_stats(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	static const char *const names[] = {"ports", "nodes", "drops", "gateway"};
	unsigned int want = 0;

	for (int i = 0; i < argc; i++) {
		unsigned int bit = 0;

		for (unsigned int j = 0; j < 4; j++)
			if (strcmp(argv[i], names[j]) == 0)
				bit = 1u << j;
		if (bit == 0)
			return ctl_usage_err(self, "'%s' is not ports, nodes, drops or gateway",
					     argv[i]);
		want |= bit;
	}
	return counters(c, want ? want : S_ALL);
}

/* nodes: the per-node section. */
static int
cmd_nodes(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	if (argc > 0)
		return ctl_usage_err(self, "unexpected argument '%s'", argv[0]);
	return counters(c, S_NODES);
}

/* drops [--all]: the drop section. */
static int
cmd_drops(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	if (argc > 0)
		return ctl_usage_err(self, "unexpected argument '%s'", argv[0]);
	return counters(c, S_DROPS);
}

/* raw CMD: one telemetry command, its value as JSON. */
static int
cmd_raw(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	json_t *v;
	int fd;

	if (argc != 1)
		return argc ? ctl_usage_err(self, "unexpected argument '%s'", argv[1])
			    : ctl_usage_err(self, "missing a telemetry command such as /meshgate/stats");
	fd = tel_open(c);
	if (fd < 0)
		return CTL_EXIT_UNREACHABLE;
	v = tel_query(fd, argv[0]);
	close(fd);
	if (v == NULL) {
		ctl_err("no answer to %s", argv[0]);
		return CTL_EXIT_REJECTED;
	}
	if (json_is_null(v)) {
		/* DPDK telemetry answers an unknown command with null. */
		ctl_err("%s: not a telemetry command (/ lists them)", argv[0]);
		json_decref(v);
		return CTL_EXIT_REJECTED;
	}
	out_json(v);
	json_decref(v);
	return CTL_EXIT_OK;
}

static const struct ctl_cmd cmds[] = {
	{"stats", NULL, cmd_stats, "[ports|nodes|drops|gateway]...",
	 "counters: per port, per graph node, per drop reason, gateway", CTL_OPT_ALL},
	{"nodes", NULL, cmd_nodes, "", "per graph node: packets, calls, cycles per packet"},
	{"drops", NULL, cmd_drops, "[--all]", "drops by reason (--all: zeros too)", CTL_OPT_ALL},
	{"raw", NULL, cmd_raw, "TELEMETRY-COMMAND", "any telemetry command (/meshgate/...), as JSON"},
	{NULL, NULL, NULL, NULL, NULL},
};

const struct ctl_cmd *
ctl_tel_cmds(void)
{
	return cmds;
}
