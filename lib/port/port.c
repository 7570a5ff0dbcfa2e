/* SPDX-License-Identifier: BSD-3-Clause */
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "mg_dp.h"
#include "mg_port.h"

RTE_LOG_REGISTER_SUFFIX(mg_port_logtype, port, INFO);
#define PORT_LOG(l, ...) rte_log(RTE_LOG_##l, mg_port_logtype, "port: " __VA_ARGS__)

bool
mg_port_is_pci(const char *d)
{
	unsigned int dom, bus, dev, fn;
	int n = 0;

	return sscanf(d, "%4x:%2x:%2x.%1x%n", &dom, &bus, &dev, &fn, &n) == 4 && d[n] == '\0';
}

int
mg_port_resolve_device(const char *device, char *out, size_t size, struct mg_error *err)
{
	if (strncmp(device, "env:", 4) == 0)
		return mg_port_discover_env(device + 4, out, size, err);
	if (strncmp(device, "k8s:", 4) == 0)
		return mg_port_discover_k8s(device + 4, out, size, err);
	if (mg_port_pci_normalise(device, out, size) == 0)
		return 0;
	mg_strlcpy(out, device, size);
	return 0;
}

/* ---- pools ----------------------------------------------------------------------- */

int
mg_port_lcore_node(unsigned int lcore)
{
	int cpu = (int)rte_lcore_to_cpu_id((int)lcore), node;

	if (numa_available() < 0 || cpu < 0)
		return 0;
	node = numa_node_of_cpu(cpu);
	return node < 0 ? 0 : node;
}

int
mg_port_pools_create(struct mg_dp *dp, uint32_t nb_mbufs, uint32_t cache, uint32_t data_room,
		     const int *sockets, unsigned int nsockets, struct mg_error *err)
{
	char name[RTE_MEMPOOL_NAMESIZE];

	for (unsigned int i = 0; i < nsockets; i++) {
		int s = sockets[i];

		if (s < 0 || s >= RTE_MAX_NUMA_NODES || dp->pools[s] != NULL)
			continue;
		snprintf(name, sizeof(name), "mg_mbuf_%d", s);
		dp->pools[s] = rte_pktmbuf_pool_create(name, nb_mbufs, cache, 0,
						       (uint16_t)(data_room + RTE_PKTMBUF_HEADROOM), s);
		if (dp->pools[s] == NULL && s != 0)
			/* Memory may not be reserved on that node (no-huge): use any. */
			dp->pools[s] = rte_pktmbuf_pool_create(name, nb_mbufs, cache, 0,
							       (uint16_t)(data_room +
									  RTE_PKTMBUF_HEADROOM),
							       SOCKET_ID_ANY);
		if (dp->pools[s] == NULL)
			return mg_error_set(err, ENOMEM, "mbufs",
					    "cannot create a pool of %u mbufs of %u bytes on NUMA "
					    "node %d: %s (raise dpdk.memory_mb or lower mbufs.count)",
					    nb_mbufs, data_room, s, rte_strerror(rte_errno));
		PORT_LOG(INFO, "mbuf pool on NUMA node %d: %u mbufs, data room %u\n", s, nb_mbufs,
			 data_room);
	}
	return 0;
}

void
mg_port_pools_free(struct mg_dp *dp)
{
	for (int i = 0; i < RTE_MAX_NUMA_NODES; i++) {
		rte_mempool_free(dp->pools[i]);
		dp->pools[i] = NULL;
	}
}

/* ---- ports ----------------------------------------------------------------------- */

/*
 * net_af_packet attaches to an existing interface and fails with a bare
 * EPERM when it is missing: say which one.
 */
static int
check_vdev_iface(const char *devargs, struct mg_error *err)
{
	const char *p = strstr(devargs, ",iface=");
	char ifname[IF_NAMESIZE + 1];
	size_t n;

	if (strncmp(devargs, "net_af_packet", 13) != 0 || p == NULL)
		return 0;
	p += 7;
	n = strcspn(p, ",");
	if (n == 0 || n >= IF_NAMESIZE) {
		mg_error_set(err, EINVAL, "device",
			     "'%s': iface= needs an interface name of 1-%d characters", devargs,
			     IF_NAMESIZE - 1);
		return -EINVAL;
	}
	memcpy(ifname, p, n);
	ifname[n] = '\0';
	if (if_nametoindex(ifname) == 0) {
		mg_error_set(err, ENODEV, "device",
			     "interface '%s' does not exist in this network namespace "
			     "(net_af_packet attaches to an existing interface)", ifname);
		return -ENODEV;
	}
	return 0;
}

static int
find_or_probe(const struct mg_port_conf *c, uint16_t *port, bool *probed, struct mg_error *err)
{
	char name[RTE_ETH_NAME_MAX_LEN];
	const char *comma = strchr(c->devargs, ',');
	size_t len = comma ? (size_t)(comma - c->devargs) : strlen(c->devargs);
	int rc;

	*probed = false;
	if (len >= sizeof(name))
		return mg_error_set(err, EINVAL, "device", "device name too long");
	memcpy(name, c->devargs, len);
	name[len] = '\0';
	if (rte_eth_dev_get_port_by_name(name, port) == 0)
		return 0;
	if (mg_port_is_pci(name))
		return mg_error_set(err, ENODEV, "device",
				    "PCI device %s has no DPDK port: is it bound to vfio-pci and "
				    "in the allow-list?", name);
	rc = check_vdev_iface(c->devargs, err);
	if (rc < 0)
		return rc;
	rc = rte_dev_probe(c->devargs);
	if (rc < 0)
		return mg_error_set(err, ENODEV, "device",
				    "cannot create device '%s': %s (see the driver's message above)",
				    c->devargs, rte_strerror(-rc));
	if (rte_eth_dev_get_port_by_name(name, port) != 0)
		return mg_error_set(err, ENODEV, "device", "device '%s' created no ethdev port",
				    name);
	*probed = true;
	return 0;
}

int
mg_port_open(struct mg_dp *dp, const struct mg_port_conf *c, struct mg_port_info *info,
	     struct mg_error *err)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info di;
	struct rte_eth_rxconf rxq;
	struct rte_eth_txconf txq;
	struct rte_mempool *pool;
	uint16_t port, nrx, ntx = (uint16_t)c->nb_workers;
	uint16_t rxd = c->rx_desc ? c->rx_desc : 1024, txd = c->tx_desc ? c->tx_desc : 1024;
	bool probed;
	int rc, socket;

	memset(info, 0, sizeof(*info));
	rc = find_or_probe(c, &port, &probed, err);
	if (rc < 0)
		return rc;
	info->ethdev = port;
	info->vdev = probed;
	if (port >= MG_MAX_PORTS) {
		mg_error_set(err, ENOSPC, "device", "ethdev port id %u is beyond %u", port,
			     MG_MAX_PORTS);
		goto fail;
	}
	rc = rte_eth_dev_info_get(port, &di);
	if (rc != 0) {
		mg_error_set(err, -rc, "device", "cannot read device info: %s", rte_strerror(-rc));
		goto fail;
	}
	mg_strlcpy(info->driver, di.driver_name ? di.driver_name : "?", sizeof(info->driver));
	if (ntx > di.max_tx_queues) {
		mg_error_set(err, EINVAL, "device",
			     "%s offers %u TX queue(s) but meshgate needs one per worker (%u): "
			     "use fewer workers or a device with more queues", info->driver,
			     di.max_tx_queues, ntx);
		goto fail;
	}
	nrx = c->rx_queues ? c->rx_queues : (uint16_t)c->nb_workers;
	if (nrx > di.max_rx_queues)
		nrx = di.max_rx_queues;
	if (nrx == 0)
		nrx = 1;
	if (c->mtu > di.max_mtu || c->mtu < di.min_mtu) {
		mg_error_set(err, EINVAL, "mtu", "%s supports MTU %u-%u, not %u", info->driver,
			     di.min_mtu, di.max_mtu, c->mtu);
		goto fail;
	}

	memset(&conf, 0, sizeof(conf));
	conf.rxmode.mtu = c->mtu;
	if (nrx > 1 && di.flow_type_rss_offloads != 0) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_SCTP) &
			di.flow_type_rss_offloads;
	}
	if (di.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
	if (di.rx_offload_capa & RTE_ETH_RX_OFFLOAD_VLAN_FILTER)
		info->vlan_filter = true;
	if (info->vlan_filter)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_VLAN_FILTER;
	conf.intr_conf.lsc = 0;
	conf.intr_conf.rxq = c->rx_interrupts ? 1 : 0;
	rc = rte_eth_dev_configure(port, nrx, ntx, &conf);
	if (rc != 0 && conf.intr_conf.rxq) {
		/* This PMD has no RX interrupts: the worker will sleep instead. */
		conf.intr_conf.rxq = 0;
		rc = rte_eth_dev_configure(port, nrx, ntx, &conf);
	}
	if (rc != 0) {
		mg_error_set(err, -rc, "device", "cannot configure %u RX / %u TX queues: %s", nrx,
			     ntx, rte_strerror(-rc));
		goto fail;
	}
	info->rx_interrupts = conf.intr_conf.rxq != 0;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
	if (rc != 0) {
		mg_error_set(err, -rc, "rx_desc", "descriptor counts refused: %s",
			     rte_strerror(-rc));
		goto fail;
	}
	socket = rte_eth_dev_socket_id(port);
	if (socket < 0)
		socket = mg_port_lcore_node(rte_get_main_lcore());
	info->socket = socket;
	pool = mg_dp_pool(dp, socket);
	rxq = di.default_rxconf;
	rxq.offloads = conf.rxmode.offloads;
	for (uint16_t q = 0; q < nrx; q++) {
		rc = rte_eth_rx_queue_setup(port, q, rxd, (unsigned int)socket, &rxq, pool);
		if (rc != 0) {
			mg_error_set(err, -rc, "device", "RX queue %u setup failed: %s", q,
				     rte_strerror(-rc));
			goto fail;
		}
	}
	txq = di.default_txconf;
	txq.offloads = conf.txmode.offloads;
	for (uint16_t q = 0; q < ntx; q++) {
		rc = rte_eth_tx_queue_setup(port, q, txd, (unsigned int)socket, &txq);
		if (rc != 0) {
			mg_error_set(err, -rc, "device", "TX queue %u setup failed: %s", q,
				     rte_strerror(-rc));
			goto fail;
		}
	}
	if (c->mac != NULL) {
		info->mac = *c->mac;
		/*
		 * On a NIC or VF the MAC belongs in the device filter. A vdev's MAC is
		 * ours alone: setting it would rename the kernel interface behind a
		 * TAP or veth, which is the peer's.
		 */
		if (!probed && rte_eth_dev_default_mac_addr_set(port, (struct rte_ether_addr *)
								c->mac) != 0) {
			PORT_LOG(WARNING, "%s: device refused MAC change; enabling promiscuous "
				 "mode (a VF needs 'trust on' for that)\n", c->name);
			rte_eth_promiscuous_enable(port);
		}
	} else {
		rte_eth_macaddr_get(port, &info->mac);
	}
	if (c->promiscuous)
		rte_eth_promiscuous_enable(port);
	if (!probed)
		rte_eth_allmulticast_enable(port); /* IPv6 solicited-node multicast */
	rc = rte_eth_dev_start(port);
	if (rc != 0) {
		mg_error_set(err, -rc, "device", "cannot start: %s", rte_strerror(-rc));
		goto fail;
	}
	info->nb_rxq = nrx;
	info->nb_txq = ntx;
	mg_dp_port_counters_base(dp, port);
	__atomic_store_n(&dp->port_up[port], 1, __ATOMIC_RELEASE);
	PORT_LOG(INFO, "%s: ethdev %u (%s) on NUMA node %d, %u RX / %u TX queues, MTU %u%s\n",
		 c->name, port, info->driver, socket, nrx, ntx, c->mtu,
		 info->rx_interrupts ? ", RX interrupts" : "");
	return 0;
fail:
	rte_eth_dev_close(port);
	if (probed) {
		struct rte_eth_dev_info d2;

		if (rte_eth_dev_info_get(port, &d2) == 0 && d2.device != NULL)
			rte_dev_remove(d2.device);
	}
	return -err->code;
}

void
mg_port_close(struct mg_dp *dp, uint16_t port, bool remove)
{
	struct rte_eth_dev_info di;
	struct rte_device *dev = NULL;

	if (!rte_eth_dev_is_valid_port(port))
		return;
	__atomic_store_n(&dp->port_up[port], 0, __ATOMIC_RELEASE);
	/* Workers check port_up per packet: after this no TX reaches the device. */
	if (rte_lcore_id() == dp->main_lcore)
		mg_dp_sync(dp);
	if (rte_eth_dev_info_get(port, &di) == 0)
		dev = di.device;
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	if (remove && dev != NULL)
		rte_dev_remove(dev);
}

int
mg_port_vlan(uint16_t port, uint16_t vlan, bool on)
{
	struct rte_eth_dev_info di;

	if (rte_eth_dev_info_get(port, &di) != 0 ||
	    !(di.rx_offload_capa & RTE_ETH_RX_OFFLOAD_VLAN_FILTER))
		return 0;
	return rte_eth_dev_vlan_filter(port, vlan, on ? 1 : 0);
}

void
mg_port_poll_link(struct mg_dp *dp)
{
	static uint8_t last[MG_MAX_PORTS];
	struct rte_eth_link link;
	uint16_t p;

	RTE_ETH_FOREACH_DEV(p) {
		uint8_t now;

		if (p >= MG_MAX_PORTS || !dp->port_up[p])
			continue;
		if (rte_eth_link_get_nowait(p, &link) != 0)
			continue;
		now = link.link_status ? 2 : 1;
		if (now != last[p]) {
			last[p] = now;
			if (link.link_status)
				PORT_LOG(INFO, "ethdev %u link up, %s, %s duplex\n", p,
					 rte_eth_link_speed_to_str(link.link_speed),
					 link.link_duplex ? "full" : "half");
			else
				PORT_LOG(INFO, "ethdev %u link down\n", p);
		}
	}
}
