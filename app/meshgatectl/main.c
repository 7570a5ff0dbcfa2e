/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * meshgatectl: the command line over a running meshgate.
 *
 *   meshgatectl [-p PREFIX | -S SOCKET] [--json] stats|ports|nodes|drops
 *   meshgatectl [-p PREFIX] raw /meshgate/...
 *
 * It reads meshgate's DPDK telemetry commands (the socket is
 * /var/run/dpdk/PREFIX/dpdk_telemetry.v2; PREFIX is dpdk.file_prefix, by
 * default "meshgate").
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define BUF_SZ (1 << 20)

static int
tel_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char hello[4096];
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	if (fd < 0)
		return -1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		close(fd);
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	if (read(fd, hello, sizeof(hello)) < 0) { /* version banner */
		close(fd);
		return -1;
	}
	return fd;
}

/* Send @cmd and parse the reply's value for that command. */
static json_t *
tel_query(int fd, const char *cmd)
{
	char *buf = malloc(BUF_SZ);
	json_error_t jerr;
	json_t *root, *val;
	ssize_t n;

	if (buf == NULL)
		return NULL;
	if (write(fd, cmd, strlen(cmd)) < 0 || (n = read(fd, buf, BUF_SZ - 1)) <= 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	root = json_loads(buf, 0, &jerr);
	free(buf);
	if (root == NULL)
		return NULL;
	val = json_object_get(root, cmd);
	if (val != NULL)
		json_incref(val);
	json_decref(root);
	return val;
}

static uint64_t
u(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

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

/* Telemetry keys use '_' where node and drop names have '-': undo that. */
static const char *
dash(const char *k, char *buf, size_t n)
{
	size_t i;

	for (i = 0; k[i] != '\0' && i + 1 < n; i++)
		buf[i] = k[i] == '_' ? '-' : k[i];
	buf[i] = '\0';
	return buf;
}

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
		printf("%-16s %14" PRIu64 " %12" PRIu64 " %14.1f\n", dash(name, b, sizeof(b)), pk,
		       u(n, "calls"),
		       u(n, "sampled_packets") ? (double)u(n, "cycles") / (double)u(n, "sampled_packets")
					 : 0.0);
	}
}

static void
show_drops(json_t *drops, int all)
{
	const char *name;
	json_t *v;
	uint64_t total = 0;
	char b[64];

	printf("%-26s %12s\n", "drop reason", "packets");
	json_object_foreach(drops, name, v) {
		uint64_t c = json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;

		total += c;
		if (c || all)
			printf("%-26s %12" PRIu64 "\n", dash(name, b, sizeof(b)), c);
	}
	printf("%-26s %12" PRIu64 "\n", "total", total);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: meshgatectl [-p PREFIX | -S SOCKET] [--json] COMMAND\n"
		   "\n"
		   "commands:\n"
		   "  stats        ports, nodes, drops and gateway counters\n"
		   "  ports        per-port counters\n"
		   "  nodes        per-graph-node packets and cycles per packet\n"
		   "  drops        drop counters by reason (--all: zeros too)\n"
		   "  raw CMD      any telemetry command, printed as JSON\n"
		   "\n"
		   "  -p, --prefix PREFIX   meshgate's dpdk.file_prefix (default meshgate)\n"
		   "  -S, --socket PATH     the telemetry socket itself\n"
		   "  -j, --json            print JSON\n");
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"prefix", required_argument, NULL, 'p'}, {"socket", required_argument, NULL, 'S'},
		{"json", no_argument, NULL, 'j'},         {"all", no_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	const char *prefix = "meshgate", *sock = NULL, *cmd;
	char path[256];
	int c, json = 0, all = 0, fd, rc = 0;

	while ((c = getopt_long(argc, argv, "p:S:jah", lo, NULL)) != -1) {
		switch (c) {
		case 'p': prefix = optarg; break;
		case 'S': sock = optarg; break;
		case 'j': json = 1; break;
		case 'a': all = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	if (sock == NULL) {
		snprintf(path, sizeof(path), "/var/run/dpdk/%s/dpdk_telemetry.v2", prefix);
		sock = path;
	}
	fd = tel_connect(sock);
	if (fd < 0) {
		fprintf(stderr, "meshgatectl: cannot reach meshgate at %s: %s (is it running, "
				"with this file prefix?)\n", sock, strerror(errno));
		return 1;
	}
	if (strcmp(cmd, "raw") == 0) {
		json_t *v;

		if (optind + 1 >= argc) {
			fprintf(stderr, "meshgatectl: raw needs a command such as /meshgate/stats\n");
			close(fd);
			return 2;
		}
		v = tel_query(fd, argv[optind + 1]);
		if (v == NULL) {
			fprintf(stderr, "meshgatectl: no answer to %s\n", argv[optind + 1]);
			rc = 1;
		} else {
			json_dumpf(v, stdout, JSON_INDENT(2));
			putchar('\n');
			json_decref(v);
		}
	} else if (!strcmp(cmd, "stats") || !strcmp(cmd, "ports") || !strcmp(cmd, "nodes") ||
		   !strcmp(cmd, "drops")) {
		int want_all = !strcmp(cmd, "stats");
		json_t *ports = NULL, *nodes = NULL, *drops = NULL, *gw = NULL;

		if (want_all || !strcmp(cmd, "ports"))
			ports = tel_query(fd, "/meshgate/ports");
		if (want_all || !strcmp(cmd, "nodes"))
			nodes = tel_query(fd, "/meshgate/nodes");
		if (want_all || !strcmp(cmd, "drops"))
			drops = tel_query(fd, "/meshgate/drops");
		if (want_all)
			gw = tel_query(fd, "/meshgate/stats");
		if ((want_all && (!ports || !nodes || !drops || !gw)) ||
		    (!want_all && !ports && !nodes && !drops)) {
			fprintf(stderr, "meshgatectl: meshgate did not answer\n");
			rc = 1;
		} else if (json) {
			json_t *o = json_object();

			if (ports) json_object_set(o, "ports", ports);
			if (nodes) json_object_set(o, "nodes", nodes);
			if (drops) json_object_set(o, "drops", drops);
			if (gw) json_object_set(o, "gateway", gw);
			json_dumpf(o, stdout, JSON_INDENT(2));
			putchar('\n');
			json_decref(o);
		} else {
			if (ports) show_ports(ports);
			if (nodes) { if (ports) putchar('\n'); show_nodes(nodes); }
			if (drops) { if (ports || nodes) putchar('\n'); show_drops(drops, all); }
			if (gw) {
				const char *k;
				json_t *v;

				putchar('\n');
				json_object_foreach(gw, k, v)
					printf("%-18s %" PRIu64 "\n", k,
					       json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0);
			}
		}
		json_decref(ports);
		json_decref(nodes);
		json_decref(drops);
		json_decref(gw);
	} else {
		fprintf(stderr, "meshgatectl: unknown command '%s'\n", cmd);
		usage(stderr);
		rc = 2;
	}
	close(fd);
	return rc;
}
