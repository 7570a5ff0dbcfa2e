/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_BENCH_H
#define MG_BENCH_H

/*
 * What the flow-table micro-benchmarks (ct_bench.c, svc_bench.c) share:
 * their EAL start, their clock (the thread's CPU time, so other processes'
 * turns on a shared CPU do not count), medians, and the peer rte_hash's
 * hash function (CRC32c, as the tables' own).
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_hash_crc.h>

/*
 * Start the EAL for a one-core benchmark without hugepages or devices:
 * @p mem MiB of memory, a file prefix of @p prefix and the pid (parallel
 * runs do not meet). @return 0, or -1 after a message on stderr that
 * starts with @p name.
 */
static inline int
mg_bench_eal_init(const char *argv0, const char *name, const char *prefix_name,
		  const char *mem)
{
	char prefix[64];
	char *eal[] = {(char *)(uintptr_t)argv0, "-l", "0", "--no-huge", "-m",
		       (char *)(uintptr_t)mem, "--no-pci", "--no-shconf", "--no-telemetry",
		       "--log-level", "error", "--file-prefix", prefix, NULL};

	snprintf(prefix, sizeof(prefix), "%s%d", prefix_name, getpid());
	if (rte_eal_init(RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "%s: EAL init failed\n", name);
		return -1;
	}
	return 0;
}

/*
 * CPU time of this thread in ns: the machine is shared, and wall-clock
 * cycles would count the time other processes held the CPU.
 */
static inline uint64_t
mg_bench_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline int
mg_bench_cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static inline int
mg_bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The median of @p n values (sorts them). */
static inline double
mg_bench_median_d(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), mg_bench_cmp_d);
	return v[n / 2];
}

/* The median of @p n values (sorts them). */
static inline uint64_t
mg_bench_median_u64(uint64_t *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), mg_bench_cmp_u64);
	return v[n / 2];
}

/* The peer rte_hash's hash function: CRC32c, as the flow tables use. */
static inline uint32_t
mg_bench_peer_hash(const void *key, uint32_t len, uint32_t seed)
{
	return rte_hash_crc(key, len, seed);
}

#endif /* MG_BENCH_H */
