/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NUMA placement of a port's RX queues (mg_workers_place_rxqs()): the
 * workers on the device's node poll it; only when none runs there do queues
 * cross sockets, and then the warning says which lcores and what to change.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mg_test.h"
#include "mg_workers.h"

static const unsigned int lcores[] = {2, 3, 26, 27};

MG_TEST(unknown_node_round_robin)
{
	const int nodes[] = {0, 0, 1, 1};
	uint16_t owner[6];
	char warn[256] = "x";

	CHECK_EQ(mg_workers_place_rxqs(nodes, lcores, 4, -1, 6, owner, warn, sizeof(warn)), 0u);
	for (uint16_t q = 0; q < 6; q++)
		CHECK_EQ(owner[q], q % 4);
	CHECK_EQ(warn[0], '\0');
}

MG_TEST(local_workers_only)
{
	const int nodes[] = {0, 0, 1, 1};
	uint16_t owner[4];
	char warn[256];

	/* A device on node 1: its 4 queues go to workers 2 and 3 only. */
	CHECK_EQ(mg_workers_place_rxqs(nodes, lcores, 4, 1, 4, owner, warn, sizeof(warn)), 0u);
	CHECK_EQ(owner[0], 2);
	CHECK_EQ(owner[1], 3);
	CHECK_EQ(owner[2], 2);
	CHECK_EQ(owner[3], 3);
	CHECK_EQ(warn[0], '\0');
	/* On node 0: workers 0 and 1. */
	CHECK_EQ(mg_workers_place_rxqs(nodes, lcores, 4, 0, 3, owner, warn, sizeof(warn)), 0u);
	CHECK_EQ(owner[0], 0);
	CHECK_EQ(owner[1], 1);
	CHECK_EQ(owner[2], 0);
}

MG_TEST(interleaved_nodes)
{
	const int nodes[] = {1, 0, 1, 0};
	uint16_t owner[2];

	CHECK_EQ(mg_workers_place_rxqs(nodes, lcores, 4, 0, 2, owner, NULL, 0), 0u);
	CHECK_EQ(owner[0], 1);
	CHECK_EQ(owner[1], 3);
}

MG_TEST(all_local_is_plain_round_robin)
{
	const int nodes[] = {0, 0, 0, 0};
	uint16_t owner[5];

	CHECK_EQ(mg_workers_place_rxqs(nodes, lcores, 4, 0, 5, owner, NULL, 0), 0u);
	for (uint16_t q = 0; q < 5; q++)
		CHECK_EQ(owner[q], q % 4);
}

MG_TEST(no_local_worker_crosses_and_warns)
{
	const int nodes[] = {0, 0};
	uint16_t owner[3];
	char warn[256];

	CHECK_EQ(mg_workers_place_rxqs(nodes, lcores, 2, 1, 3, owner, warn, sizeof(warn)), 3u);
	CHECK_EQ(owner[0], 0);
	CHECK_EQ(owner[1], 1);
	CHECK_EQ(owner[2], 0);
	CHECK_STR(warn, "its device is on NUMA node 1, where no worker runs: worker lcore(s) "
			  "2 (node 0), 3 (node 0) poll its 3 RX queue(s) across sockets (give "
			  "workers.lcores CPUs of node 1)");
	/* A short buffer is cut, not overrun. */
	char small[16];

	CHECK_EQ(mg_workers_place_rxqs(nodes, lcores, 2, 1, 3, owner, small, sizeof(small)), 3u);
	CHECK_EQ(strlen(small), sizeof(small) - 1);
}

MG_TEST(nothing_to_place)
{
	const int nodes[] = {0};
	uint16_t owner[1] = {77};

	CHECK_EQ(mg_workers_place_rxqs(nodes, lcores, 1, 1, 0, owner, NULL, 0), 0u);
	CHECK_EQ(owner[0], 77);
	CHECK_EQ(mg_workers_place_rxqs(nodes, lcores, 0, 1, 1, owner, NULL, 0), 0u);
}

/* A fake sysfs with @n PCI devices and their NUMA nodes; returns its root. */
static char *
fake_sysfs(const char *const *pci, const char *const *node, unsigned int n)
{
	static char root[] = "/tmp/mg_numa_XXXXXX";
	char path[512];

	if (mkdtemp(root) == NULL)
		return NULL;
	for (unsigned int i = 0; i < n; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/bus", root);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/bus/pci", root);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/bus/pci/devices", root);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", root, pci[i]);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/numa_node", root, pci[i]);
		f = fopen(path, "w");
		if (f == NULL)
			return NULL;
		fprintf(f, "%s\n", node[i]);
		fclose(f);
	}
	return root;
}

MG_TEST(check_reads_sysfs_and_warns_like_the_start)
{
	const char *const pci[] = {"0000:3b:00.0", "0000:af:00.0", "0000:00:04.0"};
	const char *const node[] = {"1", "0", "-1"};
	const int nodes[] = {0, 0};
	const unsigned int lc[] = {1, 2};
	const struct mg_numa_port ports[] = {
		{"far", "t.yaml:7", "0000:3b:00.0", 0},
		{"near", "t.yaml:9", "0000:af:00.0", 0},
		{"unknown", "t.yaml:11", "0000:00:04.0", 0},
		{"absent", "t.yaml:13", "0000:01:00.0", 0},
		{"vdev", "t.yaml:15", NULL, 0},
	};
	char *root = fake_sysfs(pci, node, 3), *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	CHECK(root != NULL && out != NULL);
	if (root == NULL || out == NULL)
		return;
	CHECK_EQ(mg_workers_pci_node(root, "0000:3b:00.0"), 1);
	CHECK_EQ(mg_workers_pci_node(root, "0000:00:04.0"), -1);
	CHECK_EQ(mg_workers_pci_node(root, "0000:01:00.0"), -1);
	CHECK_EQ(mg_workers_numa_check(ports, 5, nodes, lc, 2, root, out), 1u);
	fclose(out);
	CHECK_STR(buf, "t.yaml:7: ports[far].device: warning: its device is on NUMA node 1, "
		       "where no worker runs: worker lcore(s) 1 (node 0), 2 (node 0) poll its 2 "
		       "RX queue(s) across sockets (give workers.lcores CPUs of node 1)\n");
	free(buf);
	/* With a worker on node 1, nothing to say. */
	{
		const int nodes2[] = {0, 1};

		out = open_memstream(&buf, &len);
		CHECK_EQ(mg_workers_numa_check(ports, 5, nodes2, lc, 2, root, out), 0u);
		fclose(out);
		CHECK_STR(buf, "");
		free(buf);
	}
	for (unsigned int i = 0; i < 3; i++) {
		char path[512];

		snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/numa_node", root, pci[i]);
		unlink(path);
		snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", root, pci[i]);
		rmdir(path);
	}
	{
		char path[512];

		snprintf(path, sizeof(path), "%s/bus/pci/devices", root);
		rmdir(path);
		snprintf(path, sizeof(path), "%s/bus/pci", root);
		rmdir(path);
		snprintf(path, sizeof(path), "%s/bus", root);
		rmdir(path);
		rmdir(root);
	}
}

MG_TEST_MAIN()
