/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_FUZZ_H
#define MG_FUZZ_H

/*
 * Shared by the libFuzzer harnesses of tests/fuzz. Each harness drives the
 * production functions that meet outside bytes; what it checks beyond "no
 * crash, no sanitizer report" is stated with FZ_ASSERT, whose failure is a
 * finding like any crash (libFuzzer saves the input).
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/** An invariant of the code under test. */
#define FZ_ASSERT(cond, ...)                                                               \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: invariant broken: %s: ", __FILE__, __LINE__, \
				#cond);                                                    \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
			abort();                                                           \
		}                                                                          \
	} while (0)

/** The harness set-up failed: not a finding, the harness cannot run. */
#define FZ_SETUP(cond, ...)                                                                \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz set-up: " __VA_ARGS__);                       \
			fputc('\n', stderr);                                               \
			exit(2);                                                           \
		}                                                                          \
	} while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/**
 * Start the EAL the way the unit tests do (no hugepages, no PCI, no shared
 * config, no telemetry) under a file prefix of its own, with @p extra
 * arguments (vdevs) appended, and silence meshgate's logs unless
 * MG_FUZZ_VERBOSE is set in the environment.
 */
void fz_eal_init(const char *name, const char *const *extra, unsigned int nextra);

/** Silence rte_log unless MG_FUZZ_VERBOSE is set (harnesses without an EAL too). */
void fz_quiet_logs(void);

#endif /* MG_FUZZ_H */
