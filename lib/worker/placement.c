/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NUMA placement of RX queues: a pure decision, apart from the workers'
 * machinery so that it can be tested without lcores, devices or libnuma.
 */
#include <stdio.h>

#include "mg_workers.h"

unsigned int
mg_workers_place_rxqs(const int *worker_node, const unsigned int *worker_lcore, unsigned int nw,
		      int port_node, uint16_t nb_rxq, uint16_t *owner, char *warn, size_t wsize)
{
	unsigned int local[MG_PLACE_MAX_WORKERS], nlocal = 0;
	size_t off = 0;

	if (warn != NULL && wsize > 0)
		warn[0] = '\0';
	if (nw == 0 || nb_rxq == 0)
		return 0;
	if (nw > MG_PLACE_MAX_WORKERS)
		nw = MG_PLACE_MAX_WORKERS;
	if (port_node >= 0)
		for (unsigned int w = 0; w < nw; w++)
			if (worker_node[w] == port_node)
				local[nlocal++] = w;
	if (port_node < 0 || nlocal == nw) {
		/* Unknown node (a vdev), or every worker is local: plain round robin. */
		for (uint16_t q = 0; q < nb_rxq; q++)
			owner[q] = (uint16_t)(q % nw);
		return 0;
	}
	if (nlocal > 0) {
		/* Only the workers on the device's node poll it. */
		for (uint16_t q = 0; q < nb_rxq; q++)
			owner[q] = (uint16_t)local[q % nlocal];
		return 0;
	}
	/* No worker on its node: spread over all of them, and say what it costs. */
	for (uint16_t q = 0; q < nb_rxq; q++)
		owner[q] = (uint16_t)(q % nw);
	if (warn != NULL && wsize > 0) {
		off = (size_t)snprintf(warn, wsize, "its device is on NUMA node %d, where no worker "
				       "runs: worker lcore(s) ", port_node);
		for (unsigned int w = 0; w < nw && w < nb_rxq && off < wsize; w++)
			off += (size_t)snprintf(warn + off, wsize - off, "%s%u (node %d)",
						w ? ", " : "", worker_lcore[w], worker_node[w]);
		if (off < wsize)
			snprintf(warn + off, wsize - off, " poll its %u RX queue(s) across sockets "
				 "(give workers.lcores CPUs of node %d)", nb_rxq, port_node);
	}
	return nb_rxq;
}

int
mg_workers_pci_node(const char *sysfs, const char *pci)
{
	char path[512];
	FILE *f;
	int node;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/numa_node", sysfs, pci);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	if (fscanf(f, "%d", &node) != 1)
		node = -1;
	fclose(f);
	return node;
}

unsigned int
mg_workers_numa_check(const struct mg_numa_port *ports, unsigned int n, const int *worker_node,
		      const unsigned int *worker_lcore, unsigned int nw, const char *sysfs,
		      FILE *out)
{
	unsigned int warnings = 0;
	uint16_t owner[64];
	char warn[512];

	for (unsigned int i = 0; i < n; i++) {
		uint16_t nrxq = ports[i].rx_queues ? ports[i].rx_queues : (uint16_t)nw;
		int node;

		if (ports[i].pci == NULL)
			continue;
		node = mg_workers_pci_node(sysfs, ports[i].pci);
		if (node < 0)
			continue; /* not on this host, or one NUMA node only */
		if (nrxq > MG_ARRAY_SIZE(owner))
			nrxq = MG_ARRAY_SIZE(owner);
		if (mg_workers_place_rxqs(worker_node, worker_lcore, nw, node, nrxq, owner, warn,
					  sizeof(warn)) > 0) {
			fprintf(out, "%s: ports[%s].device: warning: %s\n", ports[i].origin,
				ports[i].name, warn);
			warnings++;
		}
	}
	return warnings;
}
