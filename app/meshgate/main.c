/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * meshgate: the gateway daemon.
 *
 *   meshgate [-c FILE] [--check] [--stats-interval N] [--print-default] [-- EAL args]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_config.h"
#include "mg_gw.h"

static void
usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [-c FILE] [--check] [--stats-interval N] [--stats-json FILE]\n"
		"       [--print-default] [-- EAL...]\n"
		"\n"
		"  -c, --config FILE      configuration (default: the embedded default, which\n"
		"                         expects the veths that tools/demo creates)\n"
		"  -t, --check            validate the configuration and exit (like nginx -t)\n"
		"  -s, --stats-interval N print counters every N seconds (0: only at exit)\n"
		"      --stats-json FILE  write the final counters to FILE as JSON at exit\n"
		"      --print-default    print the embedded default configuration\n"
		"  -h, --help             this help\n"
		"\n"
		"Arguments after -- go to the DPDK EAL and override the file's dpdk: section.\n",
		prog);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", no_argument, NULL, 't'},
		{"stats-interval", required_argument, NULL, 's'},
		{"print-default", no_argument, NULL, 'P'},
		{"stats-json", required_argument, NULL, 'J'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct mg_gw_opts o = {.stats_interval = -1, .prog = argv[0]};
	int c;

	while ((c = getopt_long(argc, argv, "c:ts:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.config = optarg;
			break;
		case 't':
			o.check_only = true;
			break;
		case 's': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end != '\0' || v < 0 || v > 86400) {
				fprintf(stderr, "%s: --stats-interval: '%s' is not 0-86400\n",
					argv[0], optarg);
				return 2;
			}
			o.stats_interval = (int)v;
			break;
		}
		case 'P':
			fputs(mg_config_default_yaml, stdout);
			return 0;
		case 'J':
			o.stats_json = optarg;
			break;
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (optind < argc) {
		/* getopt stops at "--"; anything after it is for the EAL. */
		if (strcmp(argv[optind - 1], "--") != 0) {
			fprintf(stderr, "%s: unexpected argument '%s' (EAL arguments go after --)\n",
				argv[0], argv[optind]);
			return 2;
		}
		o.eal_argc = argc - optind;
		o.eal_argv = argv + optind;
	}
	return mg_gw_run(&o);
}
