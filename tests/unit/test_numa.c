/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NUMA placement of a port's RX queues (mg_workers_place_rxqs()): the
 * workers on the device's node poll it; only when none runs there do queues
 * cross sockets, and then the warning says which lcores and what to change.
 */
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

MG_TEST_MAIN()
