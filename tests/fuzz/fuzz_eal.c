/* SPDX-License-Identifier: BSD-3-Clause */
/* EAL start-up and log control shared by the harnesses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_log.h>

#include "fuzz.h"

/* --no-shconf still leaves an empty runtime directory behind: remove it. */
static void
remove_rundir(void)
{
	rmdir(rte_eal_get_runtime_dir());
}

void
fz_quiet_logs(void)
{
	if (getenv("MG_FUZZ_VERBOSE") == NULL)
		rte_log_set_global_level(RTE_LOG_EMERG);
}

void
fz_eal_init(const char *name, const char *const *extra, unsigned int nextra)
{
	static char prefix[64];
	char *argv[32];
	int argc = 0;

	/* One prefix per process: libFuzzer's -jobs/-fork run several at once. */
	snprintf(prefix, sizeof(prefix), "mgfz-%s-%d", name, getpid());
	argv[argc++] = (char *)(uintptr_t)name;
	argv[argc++] = (char *)(uintptr_t)"-l";
	argv[argc++] = (char *)(uintptr_t)"0";
	argv[argc++] = (char *)(uintptr_t)"--no-huge";
	argv[argc++] = (char *)(uintptr_t)"--no-pci";
	argv[argc++] = (char *)(uintptr_t)"--no-shconf";
	argv[argc++] = (char *)(uintptr_t)"-m";
	argv[argc++] = (char *)(uintptr_t)"256";
	argv[argc++] = (char *)(uintptr_t)"--no-telemetry";
	argv[argc++] = (char *)(uintptr_t)"--file-prefix";
	argv[argc++] = prefix;
	argv[argc++] = (char *)(uintptr_t)"--log-level";
	argv[argc++] = (char *)(uintptr_t)(getenv("MG_FUZZ_VERBOSE") ? "info" : "error");
	for (unsigned int i = 0; i < nextra && argc < (int)RTE_DIM(argv) - 1; i++)
		argv[argc++] = (char *)(uintptr_t)extra[i];
	argv[argc] = NULL;
	FZ_SETUP(rte_eal_init(argc, argv) >= 0, "EAL init failed");
	atexit(remove_rundir);
	fz_quiet_logs();
}
