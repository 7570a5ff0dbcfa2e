/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * meshgatectl: the command line over a running meshgate, through its three
 * control transports: DPDK telemetry (counters), the REST endpoint (every
 * runtime object) and the NSM socket (connections). See meshgatectl --help.
 *
 * Commands read like ip(8): a noun, a verb, then the object's words
 * ("route add 10.0.0.0/8 via 10.0.1.2"); a plural noun lists ("routes").
 * Output is for people (tables, "key: value") unless --json is given.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

/* The command tables, in the order --help lists them. */
static const struct {
	const char *title;
	const struct ctl_cmd *(*cmds)(void);
} groups[] = {
	{"Counters (DPDK telemetry)", ctl_tel_cmds},
	{"Live rates (REST)", ctl_top_cmds},
	{"Runtime objects (REST)", ctl_rest_cmds},
	{"Connections (NSM socket)", ctl_nsm_cmds},
	{"Classification rules (REST)", ctl_rules_cmds},
	{"Flows (REST)", ctl_flows_cmds},
	{"Packet capture (REST)", ctl_capture_cmds},
	{"Packet trace (REST)", ctl_trace_cmds},
	{"WireGuard (REST; keys made locally)", ctl_wg_cmds},
	{"IPsec ESP tunnels (REST)", ctl_esp_cmds},
	{"VXLAN tunnels (REST)", ctl_vxlan_cmds},
	{"IKEv2 (REST)", ctl_ike_cmds},
};

#define NGROUPS (sizeof(groups) / sizeof(groups[0]))

/* The help text: every command of every table, the options, the exit statuses. */
static void
usage(FILE *f)
{
	fprintf(f, "usage: meshgatectl [OPTIONS] COMMAND [ARGUMENTS]\n");
	for (unsigned int g = 0; g < NGROUPS; g++) {
		fprintf(f, "\n%s:\n", groups[g].title);
		for (const struct ctl_cmd *c = groups[g].cmds(); c->noun != NULL; c++) {
			char syn[160];

			if (c->help == NULL)
				continue;
			snprintf(syn, sizeof(syn), "%s%s%s%s%s", c->noun, c->verb ? " " : "",
				 c->verb ? c->verb : "", c->args[0] ? " " : "", c->args);
			if (strlen(syn) < 44)
				fprintf(f, "  %-44s %s\n", syn, c->help);
			else
				fprintf(f, "  %s\n  %-44s %s\n", syn, "", c->help);
		}
	}
	fprintf(f,
		"\n"
		"A noun alone lists (\"route\" is \"routes\"); \"del\" may be spelled \"delete\".\n"
		"Options may come anywhere; after --, nothing is an option (an ID like -x).\n"
		"\n"
		"Options:\n"
		"  -p, --prefix PREFIX    the gateway's DPDK file prefix (default meshgate)\n"
		"  -j, --json             print the gateway's JSON instead of tables\n"
		"      --rest HOST:PORT   REST endpoint ([IPV6]:PORT too; https://HOST:PORT for TLS)\n"
		"      --token-file FILE  REST bearer token (also $MESHGATE_TOKEN_FILE)\n"
		"      --cacert FILE      CA certificates for an HTTPS gateway (also $MESHGATE_CACERT;\n"
		"                         default: the system's trust store)\n"
		"      --nsm PATH         NSM socket\n"
		"  -S, --socket PATH      DPDK telemetry socket\n"
		"  -a, --all              drops: list reasons with no drops too\n"
		"      --once             nsm monitor: stop after the initial state\n"
		"      --id ID            nsm monitor: only connection ID\n"
		"  -h, --help             this text\n"
		"\n"
		"Where the gateway is: its run directory /var/run/dpdk/PREFIX holds rest.addr\n"
		"(HOST:PORT, https://HOST:PORT with TLS), rest.token (unless meshgate reads a token file) and nsm.sock. The\n"
		"default prefix \"meshgate\" serves 127.0.0.1:8080 and /run/meshgate/nsm.sock.\n"
		"The token is never printed.\n"
		"\n"
		"Errors the gateway returns are printed to stderr as\n"
		"  meshgatectl: FIELD: MESSAGE (HTTP 400)        REST\n"
		"  meshgatectl: FIELD: MESSAGE (NSM NOT_FOUND)   NSM socket\n"
		"and, with --json, their JSON goes to stdout as well.\n"
		"\n"
		"Exit status:\n"
		"  0  done\n"
		"  1  the gateway refused the request, or its answer was not understood\n"
		"  2  usage error: a bad command, option or argument (it is named), or an\n"
		"     input file that cannot be read or is not JSON (a --token-file too)\n"
		"  3  the gateway cannot be reached: not running, no such prefix, no address\n"
		"     or socket, connection refused or lost, its rest.token unreadable\n");
}

/* Find the command for @argv; @consumed: how many words named it. */
static const struct ctl_cmd *
find_cmd(int argc, char **argv, int *consumed, bool *noun_known)
{
	const struct ctl_cmd *alone = NULL, *list = NULL;

	*noun_known = false;
	for (unsigned int g = 0; g < NGROUPS; g++)
		for (const struct ctl_cmd *c = groups[g].cmds(); c->noun != NULL; c++) {
			if (strcmp(c->noun, argv[0]) != 0)
				continue;
			*noun_known = true;
			if (c->verb == NULL) {
				alone = c;
			} else if (argc > 1 && strcmp(c->verb, argv[1]) == 0) {
				*consumed = 2;
				return c;
			} else if (strcmp(c->verb, "list") == 0) {
				list = c;
			}
		}
	*consumed = 1;
	if (alone != NULL)
		return alone;
	return argc == 1 ? list : NULL;
}

/* The verbs of @noun, for a message. */
static void
verbs_of(const char *noun, char *buf, size_t n)
{
	size_t o = 0;

	buf[0] = '\0';
	for (unsigned int g = 0; g < NGROUPS; g++)
		for (const struct ctl_cmd *c = groups[g].cmds(); c->noun != NULL; c++)
			if (c->verb != NULL && c->help != NULL && strcmp(c->noun, noun) == 0 && o < n)
				o += (size_t)snprintf(buf + o, n - o, "%s%s", o ? ", " : "", c->verb);
}

/* Refuse a command-specific option given to a command that does not take it. */
static int
check_opts(const struct ctl *c, const struct ctl_cmd *cmd)
{
	static const struct {
		unsigned int bit;
		const char *name;
	} opts[] = {{CTL_OPT_ALL, "--all"}, {CTL_OPT_ONCE, "--once"}, {CTL_OPT_ID, "--id"}};
	const bool given[] = {c->all, c->once, c->monitor_id != NULL};

	for (unsigned int i = 0; i < 3; i++)
		if (given[i] && !(cmd->opts & opts[i].bit))
			return ctl_usage_err(cmd, "%s does not apply here", opts[i].name);
	return CTL_EXIT_OK;
}

/* Parse the global options, find the command, run it; its exit status is ours. */
int
main(int argc, char **argv)
{
	enum { O_REST = 256, O_TOKEN, O_NSM, O_ONCE, O_ID, O_CACERT };
	static const struct option lo[] = {
		{"prefix", required_argument, NULL, 'p'},
		{"socket", required_argument, NULL, 'S'},
		{"json", no_argument, NULL, 'j'},
		{"all", no_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{"rest", required_argument, NULL, O_REST},
		{"token-file", required_argument, NULL, O_TOKEN},
		{"cacert", required_argument, NULL, O_CACERT},
		{"nsm", required_argument, NULL, O_NSM},
		{"once", no_argument, NULL, O_ONCE},
		{"id", required_argument, NULL, O_ID},
		{NULL, 0, NULL, 0},
	};
	struct ctl c = {.prefix = "meshgate"};
	const char *cacert = NULL;
	const struct ctl_cmd *cmd;
	bool noun_known;
	int opt, used, rc;

	/* Its values (wg, esp and ike bodies read from files) may hold keys. */
	json_set_alloc_funcs(malloc, mg_free_wiped);
	opterr = 0; /* our own messages, in our own words */
	while ((opt = getopt_long(argc, argv, ":p:S:jah", lo, NULL)) != -1) {
		switch (opt) {
		case 'p': c.prefix = optarg; break;
		case 'S': c.tel_socket = optarg; break;
		case 'j': c.json = true; break;
		case 'a': c.all = true; break;
		case 'h': usage(stdout); return CTL_EXIT_OK;
		case O_REST: c.rest_addr = optarg; break;
		case O_TOKEN:
			c.token_file = optarg;
			c.token_origin = "--token-file";
			break;
		case O_NSM: c.nsm_path = optarg; break;
		case O_CACERT: cacert = optarg; break;
		case O_ONCE: c.once = true; break;
		case O_ID: c.monitor_id = optarg; break;
		case ':':
			ctl_err("option '%s' needs a value", argv[optind - 1]);
			return CTL_EXIT_USAGE;
		default:
			if (optopt != 0)
				ctl_err("unknown option '-%c' (meshgatectl --help lists them)", optopt);
			else
				ctl_err("unknown option '%s' (meshgatectl --help lists them)",
					argv[optind - 1]);
			return CTL_EXIT_USAGE;
		}
	}
	if (c.rest_addr != NULL && !http_addr_valid(c.rest_addr)) {
		ctl_err("--rest: '%s' is not HOST:PORT (or [IPV6]:PORT, or https://HOST:PORT)",
			c.rest_addr);
		return CTL_EXIT_USAGE;
	}
	if (cacert == NULL && getenv("MESHGATE_CACERT") != NULL && getenv("MESHGATE_CACERT")[0])
		cacert = getenv("MESHGATE_CACERT");
	if (cacert != NULL && access(cacert, R_OK) != 0) {
		ctl_err("--cacert: cannot read %s: %s", cacert, strerror(errno));
		return CTL_EXIT_USAGE;
	}
	http_set_cacert(cacert);
	if (c.prefix[0] == '\0' || strchr(c.prefix, '/') != NULL || strlen(c.prefix) > 200) {
		ctl_err("--prefix: '%s' is not a file prefix", c.prefix);
		return CTL_EXIT_USAGE;
	}
	snprintf(c.run_dir, sizeof(c.run_dir), "/var/run/dpdk/%s", c.prefix);
	if (c.token_file == NULL && getenv("MESHGATE_TOKEN_FILE") != NULL &&
	    getenv("MESHGATE_TOKEN_FILE")[0] != '\0') {
		c.token_file = getenv("MESHGATE_TOKEN_FILE");
		c.token_origin = "MESHGATE_TOKEN_FILE";
	}
	if (optind >= argc) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	cmd = find_cmd(argc - optind, argv + optind, &used, &noun_known);
	if (cmd == NULL) {
		char verbs[256];

		if (!noun_known) {
			ctl_err("unknown command '%s' (meshgatectl --help lists them)", argv[optind]);
			return CTL_EXIT_USAGE;
		}
		verbs_of(argv[optind], verbs, sizeof(verbs));
		if (optind + 1 < argc)
			ctl_err("%s: unknown verb '%s' (%s)", argv[optind], argv[optind + 1], verbs);
		else
			ctl_err("%s: needs a verb (%s)", argv[optind], verbs);
		return CTL_EXIT_USAGE;
	}
	rc = check_opts(&c, cmd);
	if (rc != CTL_EXIT_OK)
		return rc;
	/* "meshgatectl ... | head" ends quietly. */
	signal(SIGPIPE, SIG_DFL);
	return cmd->fn(&c, cmd, argc - optind - used, argv + optind + used);
}
