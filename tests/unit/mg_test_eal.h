/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_TEST_EAL_H
#define MG_TEST_EAL_H

/* EAL start-up for the unit tests that need DPDK memory, rings or lcores. */

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <errno.h>

#include <inttypes.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_random.h>
#include <rte_eal.h>
#include <rte_errno.h>

/* --no-shconf leaves an empty runtime directory behind: remove it. */
static void
mg_test_remove_rundir(void)
{
	rmdir(rte_eal_get_runtime_dir());
}

/*
 * Seed rte_rand from MG_TEST_SEED, or from the clock, and say which: a
 * randomised test that fails can be run again on the same draws.
 */
static inline void
mg_test_seed(void)
{
	const char *env = getenv("MG_TEST_SEED");
	uint64_t seed = env != NULL ? strtoull(env, NULL, 0) : rte_rdtsc();

	rte_srand(seed);
	printf("# seed %" PRIu64 " (MG_TEST_SEED)\n", seed);
}

/**
 * Start the EAL without hugepages, PCI or telemetry, with a file prefix of
 * its own (tests run in parallel): lcores @p lcores ("0", or a --lcores map
 * such as "0@0,1@1"), @p mem_mb of memory. Exits with status 2 on failure.
 */
static inline void
mg_test_eal_init(const char *name, const char *lcores, unsigned int mem_mb)
{
	static char prefix[64], mem[16];
	char *argv[] = {(char *)(uintptr_t)name, "--lcores", (char *)(uintptr_t)lcores,
			"--no-huge", "-m", mem, "--no-pci", "--no-shconf", "--no-telemetry",
			"--log-level", "error", "--file-prefix", prefix, NULL};

	snprintf(prefix, sizeof(prefix), "%s%d", name, getpid());
	snprintf(mem, sizeof(mem), "%u", mem_mb);
	if (rte_eal_init(RTE_DIM(argv) - 1, argv) < 0) {
		fprintf(stderr, "%s: EAL init failed\n", name);
		exit(2);
	}
	atexit(mg_test_remove_rundir);
	mg_test_seed();
}

/*
 * Check (mg_test.h) that struct mg_error @p e reports a DPDK object name in
 * use: code EEXIST, field @p fld and the message @p head, ": " and DPDK's
 * words for EEXIST.
 */
#define CHECK_EEXIST(e, fld, head)                                                         \
	do {                                                                               \
		char _want[256];                                                           \
		snprintf(_want, sizeof(_want), "%s: %s", (head), rte_strerror(EEXIST));   \
		CHECK_EQ((e).code, EEXIST);                                                \
		CHECK_STR((e).field, (fld));                                               \
		CHECK_STR((e).msg, _want);                                                 \
	} while (0)

#endif /* MG_TEST_EAL_H */
