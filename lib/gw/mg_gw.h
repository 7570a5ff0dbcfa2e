/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_GW_H
#define MG_GW_H

/**
 * @file
 * The gateway process: loads the configuration, starts the EAL, builds the
 * data plane from the model (the same backend hooks serve runtime
 * requests), runs the main lcore's control loop and shuts down in order on
 * SIGINT/SIGTERM (stop polling, drain, stop ports, free).
 */

#include <stdbool.h>

struct mg_gw_opts {
	const char *config;      /**< NULL: the embedded default. */
	bool check_only;         /**< Validate and exit. */
	int stats_interval;      /**< -1: from the file. Seconds between printed counters. */
	const char *stats_json;  /**< Write the final counters there as JSON at exit. */
	int eal_argc;            /**< EAL arguments after "--" (override the file). */
	char **eal_argv;
	const char *prog;
};

/** Run the gateway; returns the process exit status. */
int mg_gw_run(const struct mg_gw_opts *opts);

/** Request a clean stop (what SIGINT/SIGTERM do). */
void mg_gw_request_stop(void);

#endif /* MG_GW_H */
