/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The YAML loader: good files load, and each kind of mistake is reported
 * with its exact FILE:LINE:COLUMN, field path and message.
 */
#include <errno.h>

#include "mg_config.h"
#include "mg_model.h"
#include "mg_rules.h"
#include "mg_config_test.h"

#define NET "networks:\n  - name: default\n"
#define PORT0 "ports:\n  - name: p0\n    device: net_null0\n    ipv4: [10.0.0.1/24]\n    ipv6: [\"fd00::1/64\"]\n"

/* ---- good files -------------------------------------------------------------------- */

MG_TEST(embedded_default_loads)
{
	struct loaded l;
	const struct mg_port *p;
	const struct mg_iface *i;

	load(&l, mg_config_default_yaml);
	CHECK_EQ(l.n, 0);
	p = mg_model_port_find(l.m, "pod");
	CHECK(p != NULL);
	if (p != NULL)
		CHECK_STR(p->spec.device, "net_af_packet0,iface=mg-pod");
	i = mg_model_iface_find(l.m, "ext");
	CHECK(i != NULL && i->naddr4 == 1 && i->naddr6 == 1);
	CHECK_EQ(mg_model_route_count(l.m), 2);
	CHECK_EQ(l.st.idle_mode, MG_IDLE_SLEEP);
	CHECK(!l.st.hugepages);
	unload(&l);
}

MG_TEST(minimal_file_gets_default_network)
{
	struct loaded l;

	load(&l, "ports:\n  - name: a\n    device: net_null0\n");
	CHECK_EQ(l.n, 0);
	CHECK(mg_model_network_find(l.m, "default") != NULL);
	CHECK(l.st.nd_announce); /* addresses are announced unless arp_nd.announce says no */
	unload(&l);
}

MG_TEST(full_featured_file)
{
	struct loaded l;
	const struct mg_iface *v;
	const struct mg_network *n;
	struct mg_prefix p;

	load(&l, "dpdk:\n  lcores: \"0-3\"\n  main_lcore: 0\n  memory_mb: 2048\n  hugepages: true\n"
		 "  file_prefix: gw1\n  pci_allow: [\"0000:3b:00.0\"]\n  vdevs: [crypto_aesni_mb0]\n"
		 "  args: [\"--log-level=lib.eal:debug\"]\n  telemetry: false\n"
		 "workers:\n  lcores: [1, 2, 3]\n  burst: 64\n"
		 "  idle: {mode: interrupt, pause_after: 10, sleep_after: 100, sleep_min_us: 5, sleep_max_us: 500}\n"
		 "mbufs: {count: 65536, cache: 512, data_room: 9216}\n"
		 "limits: {adjacencies: 65536, routes: 100000, fib_routes: 200000, fib_tbl8: 16384, fib6_tbl8: 32768,\n"
		 "         neighbors: 4096, punt_ring: 4096, inject_ring: 4096, icmp_errors_per_sec: 50,\n"
		 "         icmp_errors_burst: 10}\n"
		 "arp_nd: {reachable_ms: 30000, retrans_ms: 500, probes: 5, hold_packets: 8, failed_ms: 1000,\n"
		 "         announce: false}\n"
		 "networks:\n  - {name: pod, fragments: drop, ip_options: drop}\n  - name: ext\n"
		 "ports:\n  - name: vf0\n    device: \"0000:3b:02.1\"\n    network: pod\n"
		 "    mac: \"02:00:00:00:00:01\"\n    mtu: 9000\n    rx_queues: 3\n    rx_desc: 2048\n"
		 "    tx_desc: 512\n    promiscuous: yes\n    ipv4: [10.1.0.1/24, 10.1.1.1/24]\n"
		 "    ipv6: [\"fd00:1::1/64\"]\n"
		 "    vlans:\n      - id: 100\n        network: ext\n        mtu: 1500\n"
		 "        ipv4: [192.0.2.1/24]\n        ipv6: [\"2001:db8::1/64\"]\n"
		 "  - name: vf1\n    device: env:PCIDEVICE_INTEL_COM_SRIOV#1\n    network: ext\n"
		 "neighbors:\n  - {interface: vf0.100, ip: 192.0.2.9, mac: \"02:00:00:00:00:09\"}\n"
		 "routes:\n  - {network: ext, prefix: 0.0.0.0/0, via: 192.0.2.9}\n"
		 "  - {network: pod, prefix: 10.9.0.0/16, via: 10.1.0.254}\n"
		 "  - {network: ext, prefix: \"::/0\", via: \"fe80::1\", interface: vf0.100}\n"
		 "  - {network: pod, prefix: 10.66.0.0/16, action: unreachable}\n"
		 "  - {network: pod, prefix: 10.67.0.0/16, action: drop}\n"
		 "  - {prefix: 10.68.0.0/16, interface: vf0}\n"
		 "stats: {interval: 10}\nlog: {level: debug}\n");
	for (unsigned int i = 0; i < l.n; i++)
		MG_FAIL("unexpected error: %s", l.errs.msgs[i]);
	CHECK_STR(l.st.lcores, "0-3");
	CHECK_EQ(l.st.nworker_lcores, 3);
	CHECK_EQ(l.st.idle_mode, MG_IDLE_INTERRUPT);
	CHECK_EQ(l.st.mbufs, 65536);
	CHECK_EQ(l.st.icmp_rate, 50);
	CHECK_EQ(l.st.nd_probes, 5);
	CHECK(!l.st.nd_announce);
	CHECK_EQ(l.st.log_level, 8);
	CHECK(!l.st.telemetry);
	v = mg_model_iface_find(l.m, "vf0.100");
	n = mg_model_network_find(l.m, "ext");
	CHECK(v != NULL && n != NULL && v->network == n->id && v->vlan == 100);
	n = mg_model_network_find(l.m, "pod");
	CHECK(n != NULL && n->spec.fragments == MG_POLICY_DROP);
	mg_prefix_parse("::/0", &p);
	CHECK(mg_model_route_find(l.m, mg_model_network_find(l.m, "ext")->id, &p) != NULL);
	CHECK_EQ(mg_model_route_count(l.m), 6);
	unload(&l);
}

MG_TEST(comments_and_flow_style)
{
	expect_ok("# a comment\n" NET "ports: [{name: a, device: net_null0, ipv4: [10.0.0.1/24]}]\n"
		  "routes: [{prefix: 10.1.0.0/16, via: 10.0.0.2}]  # trailing\n");
}

/* ---- bad files: one mistake each ------------------------------------------------------- */

MG_TEST(bad_yaml_syntax)
{
	expect_error("ports:\n  - name: a\n   device: x\n",
		     "t.yaml:3:4: YAML syntax error: did not find expected '-' indicator while parsing a block collection");
}

MG_TEST(bad_unknown_top_level_field)
{
	expect_error("portz: []\n",
		     "t.yaml:1:1: unknown field 'portz' (expected one of: dpdk, workers, mbufs, limits, "
		     "arp_nd, control, networks, ports, routes, neighbors, classify, stats, log, "
		     "services, wireguard, esp_tunnels, vxlan, flow_history, gateways)");
}

MG_TEST(network_flows_and_flow_history)
{
	struct loaded l;
	const struct mg_network *n;

	load(&l, "networks:\n"
		 "  - name: pods\n"
		 "    flows: {size: 1000, stateful: true, timeouts: {udp: 30, tcp_closing: 5}}\n"
		 "  - name: ext\n"
		 "    flows: {}\n"
		 "  - name: plain\n"
		 "flow_history:\n"
		 "  size: 500\n"
		 "  export: {file: /tmp/x.jsonl, socket: /run/c.sock}\n");
	CHECK_EQ(l.n, 0);
	n = mg_model_network_find(l.m, "pods");
	CHECK(n != NULL && n->spec.flows.enabled && n->spec.flows.stateful);
	CHECK_EQ(n->spec.flows.size, 1000);
	CHECK_EQ(n->spec.flows.timeout_s[MG_FLOWS_T_UDP], 30);
	CHECK_EQ(n->spec.flows.timeout_s[MG_FLOWS_T_TCP_CLOSING], 5);
	CHECK_EQ(n->spec.flows.timeout_s[MG_FLOWS_T_ICMP], 0);
	n = mg_model_network_find(l.m, "ext");
	CHECK(n->spec.flows.enabled && !n->spec.flows.stateful);
	CHECK_EQ(n->spec.flows.size, MG_FLOWS_SIZE_DEFAULT);
	CHECK(!mg_model_network_find(l.m, "plain")->spec.flows.enabled);
	CHECK_EQ(l.st.flow_history, 500);
	CHECK_STR(l.st.flow_export_file, "/tmp/x.jsonl");
	CHECK_STR(l.st.flow_export_socket, "/run/c.sock");
	unload(&l);
}

MG_TEST(bad_network_flows)
{
	expect_error("networks:\n  - name: a\n    flows: {size: 0}\n",
		     "t.yaml:3:19: networks[0].flows.size: 0 is out of range 1-16777216");
	expect_error("networks:\n  - name: a\n    flows: {stateful: maybe}\n",
		     "t.yaml:3:23: networks[0].flows.stateful: expected true or false, found 'maybe'");
	expect_error("networks:\n  - name: a\n    flows:\n      timeouts: {udp: 0}\n",
		     "t.yaml:4:23: networks[0].flows.timeouts.udp: 0 is out of range 1-604800");
	expect_error("networks:\n  - name: a\n    flows:\n      timeouts: {tcp: 5}\n",
		     "t.yaml:4:18: networks[0].flows.timeouts: unknown field 'tcp' (expected one "
		     "of: tcp_opening, tcp_established, tcp_closing, udp, icmp, other)");
	expect_error("networks:\n  - name: a\n    flows: {sizes: 5}\n",
		     "t.yaml:3:13: networks[0].flows: unknown field 'sizes' (expected one of: size, "
		     "stateful, timeouts)");
	expect_error("flow_history: {size: 0}\n",
		     "t.yaml:1:22: flow_history.size: 0 is out of range 1-16777216");
}

/* Two keys from `wg genkey` / `wg pubkey` (test values, used nowhere else). */
#define WG_PRIV "mIqHwEbn9ZbIOEmXCpdKeMSRNMmY0Ar7ltzHfuR6EXs="
#define WG_PUB1 "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
#define WG_PUB2 "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="

MG_TEST(wireguard_loads)
{
	struct loaded l;
	const struct mg_iface *ifc;

	load(&l, "networks: [{name: default}, {name: up}]\n"
		 "wireguard:\n"
		 "  - name: wg0\n"
		 "    underlay: up\n"
		 "    listen_port: 51820\n"
		 "    private_key: \"" WG_PRIV "\"\n"
		 "    ipv4: [10.99.0.1/24]\n"
		 "    peers:\n"
		 "    - public_key: \"" WG_PUB1 "\"\n"
		 "      endpoint: \"[2001:db8::2]:51821\"\n"
		 "      persistent_keepalive: 25\n"
		 "      allowed_ips: [10.99.0.2/32, \"fd99::/64\"]\n"
		 "    - public_key: \"" WG_PUB2 "\"\n"
		 "      allowed_ips: [0.0.0.0/0]\n");
	for (unsigned int i = 0; i < l.n; i++)
		MG_FAIL("unexpected error: %s", l.errs.msgs[i]);
	ifc = mg_model_iface_find(l.m, "wg0");
	CHECK(ifc != NULL && ifc->kind == MG_IFACE_WG && ifc->wg != NULL);
	if (ifc == NULL || ifc->wg == NULL)
		goto out;
	CHECK_EQ(ifc->mtu, MG_WG_MTU_DEFAULT);
	CHECK_EQ(ifc->naddr4, 1);
	CHECK_EQ(ifc->network, mg_model_network_find(l.m, "default")->id);
	CHECK_EQ(ifc->underlay, mg_model_network_find(l.m, "up")->id);
	CHECK_EQ(ifc->wg->listen_port, 51820);
	CHECK_EQ(ifc->wg->npeers, 2);
	CHECK_EQ(ifc->wg->private_key[0], 0x98); /* 'mIq' = 0x98 0x8a ... */
	CHECK_EQ(ifc->wg->peers[0].endpoint.family, AF_INET6);
	CHECK_EQ(ifc->wg->peers[0].endpoint_port, 51821);
	CHECK_EQ(ifc->wg->peers[0].persistent_keepalive, 25);
	CHECK_EQ(ifc->wg->peers[0].nallowed, 2);
	CHECK_EQ(ifc->wg->peers[1].endpoint.family, 0);
	CHECK(!ifc->wg->peers[0].has_psk);
out:
	unload(&l);
}

MG_TEST(bad_wireguard)
{
	static const char head[] = "networks: [{name: default}]\nwireguard:\n  - name: wg0\n"
				   "    listen_port: 51820\n";

	expect_error("networks: [{name: default}]\nwireguard:\n  - name: wg0\n"
		     "    private_key: \"" WG_PRIV "\"\n",
		     "t.yaml:3:5: wireguard[0]: a WireGuard interface needs a listen_port");
	/* A key with a wrong character, or non-zero trailing bits: never quoted back. */
	expect_error("networks: [{name: default}]\nwireguard:\n  - name: wg0\n"
		     "    listen_port: 51820\n    private_key: \"mIqHwEbn9ZbIOEmXCpdKeMSRNMmY0Ar7ltzHfuR6EXt=\"\n",
		     "t.yaml:5:18: wireguard[0].private_key: not a key: expected 44 characters of "
		     "base64 ending in '=' (as `wg genkey` prints)");
	char y[1024];

	snprintf(y, sizeof(y), "%s    private_key: \"%s\"\n    peers:\n"
		 "    - {public_key: \"%s\", allowed_ips: [10.0.0.0/8]}\n"
		 "    - {public_key: \"%s\", allowed_ips: [10.1.0.0/8]}\n", head, WG_PRIV, WG_PUB1,
		 WG_PUB2);
	expect_error(y, "t.yaml:7:5: wireguard[0].peers[1].allowed_ips: 10.0.0.0/8 is already "
		     "allowed for peers[0]");
	snprintf(y, sizeof(y), "%s    private_key: \"%s\"\n    peers:\n"
		 "    - {public_key: \"%s\", endpoint: \"10.0.0.1\"}\n", head, WG_PRIV, WG_PUB1);
	expect_error(y, "t.yaml:7:78: wireguard[0].peers[0].endpoint: not an endpoint (like "
		     "192.0.2.1:51820 or [2001:db8::1]:51820)");
}

MG_TEST(bad_field_given_twice)
{
	expect_error(NET "ports:\n  - name: a\n    device: net_null0\n    name: b\n",
		     "t.yaml:6:5: ports[0]: field 'name' is given twice");
}

MG_TEST(bad_mtu_out_of_range)
{
	expect_error(NET "ports:\n  - name: a\n    device: net_null0\n    mtu: 70000\n",
		     "t.yaml:6:10: ports[0].mtu: 70000 is out of range 68-9600");
}

MG_TEST(bad_mtu_not_a_number)
{
	expect_error(NET "ports:\n  - name: a\n    device: net_null0\n    mtu: big\n",
		     "t.yaml:6:10: ports[0].mtu: expected an integer, found 'big'");
}

MG_TEST(bad_device)
{
	expect_error(NET "ports:\n  - name: a\n    device: eth0\n",
		     "t.yaml:5:13: ports[0].device: 'eth0' is not a PCI address (0000:3b:02.1), an "
		     "SR-IOV resource (env:PCIDEVICE_<RESOURCE>), a Multus attachment (k8s:NAME) or a "
		     "vdev (net_...)");
}

MG_TEST(bad_missing_device)
{
	expect_error(NET "ports:\n  - name: a\n",
		     "t.yaml:4:5: ports[0]: port 'a' needs a device (a PCI address, "
		     "env:PCIDEVICE_<RESOURCE>, k8s:ATTACHMENT or a vdev)");
}

MG_TEST(bad_duplicate_port)
{
	expect_error(NET "ports:\n  - {name: a, device: net_null0}\n  - {name: a, device: net_null1}\n",
		     "t.yaml:5:12: ports[1].name: port 'a' already exists");
}

MG_TEST(bad_duplicate_device)
{
	expect_error(NET "ports:\n  - {name: a, device: \"net_null0,size=64\"}\n"
		     "  - {name: b, device: net_null0}\n",
		     "t.yaml:5:23: ports[1].device: device 'net_null0' is already used by port 'a'");
}

MG_TEST(bad_unknown_network)
{
	expect_error(NET "ports:\n  - {name: a, device: net_null0, network: pods}\n",
		     "t.yaml:4:43: ports[0].network: no network named 'pods'");
}

MG_TEST(bad_ipv4_address)
{
	expect_error(NET "ports:\n  - name: a\n    device: net_null0\n    ipv4: [10.0.0.300/24]\n",
		     "t.yaml:6:12: ports[0].ipv4[0]: '10.0.0.300/24' is not an IPv4 address with a "
		     "subnet length (like 10.0.1.1/24)");
}

MG_TEST(bad_ipv6_in_ipv4_list)
{
	expect_error(NET "ports:\n  - name: a\n    device: net_null0\n    ipv4: [\"fd00::1/64\"]\n",
		     "t.yaml:6:12: ports[0].ipv4[0]: 'fd00::1/64' is not an IPv4 address with a "
		     "subnet length (like 10.0.1.1/24)");
}

MG_TEST(bad_network_address)
{
	expect_error(NET "ports:\n  - name: a\n    device: net_null0\n    ipv4: [10.0.0.0/24]\n",
		     "t.yaml:6:12: ports[0].ipv4[0]: 10.0.0.0/24 is the subnet's network address");
}

MG_TEST(bad_overlapping_subnets)
{
	expect_error(NET PORT0 "  - name: p1\n    device: net_null1\n    ipv4: [10.0.0.129/25]\n",
		     "t.yaml:10:12: ports[1].ipv4[0]: subnet 10.0.0.128/25 overlaps 10.0.0.1/24 of "
		     "interface 'p0'");
}

MG_TEST(bad_duplicate_address)
{
	expect_error(NET PORT0 "    vlans:\n      - id: 5\n        ipv4: [10.0.0.1/32]\n",
		     "t.yaml:10:16: ports[0].vlans[0].ipv4[0]: address 10.0.0.1 is already assigned "
		     "in network 'default'");
}

MG_TEST(bad_vlan_id)
{
	expect_error(NET PORT0 "    vlans:\n      - id: 4095\n",
		     "t.yaml:9:13: ports[0].vlans[0].id: 4095 is out of range 1-4094");
}

MG_TEST(bad_vlan_mtu_above_port)
{
	expect_error(NET PORT0 "    vlans:\n      - {id: 7, mtu: 1600}\n",
		     "t.yaml:9:22: ports[0].vlans[0].mtu: 1600 is out of range 68-1500 (the port's "
		     "MTU)");
}

MG_TEST(bad_mac)
{
	expect_error(NET "ports:\n  - {name: a, device: net_null0, mac: \"02:00:00:00:00\"}\n",
		     "t.yaml:4:39: ports[0].mac: '02:00:00:00:00' is not a MAC address (like "
		     "02:00:00:00:00:01)");
}

MG_TEST(bad_multicast_mac)
{
	expect_error(NET "ports:\n  - {name: a, device: net_null0, mac: \"01:00:5e:00:00:01\"}\n",
		     "t.yaml:4:39: ports[0].mac: must be a unicast, non-zero MAC");
}

MG_TEST(bad_route_host_bits)
{
	expect_error(NET PORT0 "routes:\n  - {prefix: 10.9.0.1/16, via: 10.0.0.2}\n",
		     "t.yaml:9:14: routes[0].prefix: 10.9.0.1/16 has host bits set (did you mean "
		     "10.9.0.0/16?)");
}

MG_TEST(bad_route_via_not_connected)
{
	expect_error(NET PORT0 "routes:\n  - {prefix: 10.9.0.0/16, via: 10.5.0.2}\n",
		     "t.yaml:9:32: routes[0].via: next hop 10.5.0.2 is not in a connected subnet of "
		     "network 'default'");
}

MG_TEST(bad_route_via_family)
{
	expect_error(NET PORT0 "routes:\n  - {prefix: 10.9.0.0/16, via: \"fd00::2\"}\n",
		     "t.yaml:9:32: routes[0].via: next hop fd00::2 is IPv6 but the prefix is IPv4");
}

MG_TEST(bad_route_needs_next_hop)
{
	expect_error(NET PORT0 "routes:\n  - {prefix: 10.9.0.0/16}\n",
		     "t.yaml:9:5: routes[0].via: a route needs a next hop (via), an interface, or an "
		     "action (drop, unreachable, prohibit)");
}

MG_TEST(bad_route_duplicate)
{
	expect_error(NET PORT0 "routes:\n  - {prefix: 10.9.0.0/16, via: 10.0.0.2}\n"
		     "  - {prefix: 10.9.0.0/16, via: 10.0.0.3}\n",
		     "t.yaml:10:14: routes[1].prefix: a route to 10.9.0.0/16 already exists in "
		     "network 'default'");
}

MG_TEST(bad_route_link_local_without_interface)
{
	expect_error(NET PORT0 "routes:\n  - {prefix: \"::/0\", via: \"fe80::1\"}\n",
		     "t.yaml:9:5: routes[0].interface: a link-local next hop needs an interface");
}

MG_TEST(bad_route_action)
{
	expect_error(NET PORT0 "routes:\n  - {prefix: 10.9.0.0/16, action: reject}\n",
		     "t.yaml:9:35: routes[0].action: 'reject' is not one of: forward, drop, "
		     "unreachable, prohibit");
}

MG_TEST(bad_route_via_own_address)
{
	expect_error(NET PORT0 "routes:\n  - {prefix: 10.9.0.0/16, via: 10.0.0.1}\n",
		     "t.yaml:9:32: routes[0].via: next hop 10.0.0.1 is one of this gateway's own "
		     "addresses");
}

MG_TEST(bad_neighbor_off_subnet)
{
	expect_error(NET PORT0 "neighbors:\n  - {interface: p0, ip: 10.7.0.9, mac: \"02:00:00:00:00:09\"}\n",
		     "t.yaml:9:25: neighbors[0].ip: 10.7.0.9 is not in a connected subnet of "
		     "interface 'p0'");
}

MG_TEST(bad_neighbor_unknown_interface)
{
	expect_error(NET PORT0 "neighbors:\n  - {interface: p9, ip: 10.0.0.9, mac: \"02:00:00:00:00:09\"}\n",
		     "t.yaml:9:17: neighbors[0].interface: no interface named 'p9'");
}

MG_TEST(bad_idle_mode)
{
	expect_error("workers:\n  idle:\n    mode: spin\n",
		     "t.yaml:3:11: workers.idle.mode: 'spin' is not one of: poll, pause, sleep, "
		     "interrupt");
}

MG_TEST(bad_lcores)
{
	expect_error("dpdk:\n  lcores: \"0-1;2\"\n",
		     "t.yaml:2:11: dpdk.lcores: '0-1;2' is not an EAL lcore list (like 0-3 or 0,2,4 "
		     "or 0@0,1@0)");
}

MG_TEST(bad_ring_size)
{
	expect_error("limits:\n  punt_ring: 1000\n",
		     "t.yaml:2:14: limits.punt_ring: 1000 is not a power of two");
}

MG_TEST(bad_tbl8_for_entry_size)
{
	expect_error("limits:\n  fib6_tbl8: 40000\n",
		     "t.yaml:2:14: limits.fib6_tbl8: 40000 is above 32767, the most 2-byte FIB "
		     "entries can index (raise limits.adjacencies above 32767 for 4-byte entries)");
}

MG_TEST(bad_bool)
{
	expect_error("dpdk:\n  hugepages: maybe\n",
		     "t.yaml:2:14: dpdk.hugepages: expected true or false, found 'maybe'");
	expect_error("arp_nd: {announce: 1}\n",
		     "t.yaml:1:20: arp_nd.announce: expected true or false, found '1'");
}

MG_TEST(bad_ports_not_a_list)
{
	expect_error("ports: p0\n", "t.yaml:1:8: ports: expected a list, found a scalar");
}

MG_TEST(bad_port_not_a_mapping)
{
	expect_error("ports:\n  - p0\n", "t.yaml:2:5: ports[0]: expected a mapping, found a scalar");
}

MG_TEST(bad_empty_file)
{
	expect_error("", "t.yaml:1:1: the file is empty");
}

MG_TEST(bad_port_name_with_dot)
{
	expect_error(NET "ports:\n  - {name: a.b, device: net_null0}\n",
		     "t.yaml:4:12: ports[0].name: invalid port name 'a.b': use 1-31 of A-Z a-z 0-9 _ "
		     "- : (no dot: dots name VLAN sub-interfaces)");
}

MG_TEST(bad_ipv6_on_small_mtu)
{
	expect_error(NET "ports:\n  - name: a\n    device: net_null0\n    mtu: 1000\n"
		     "    ipv6: [\"fd00::1/64\"]\n",
		     "t.yaml:7:12: ports[0].ipv6[0]: interface 'a' has MTU 1000, below IPv6's "
		     "minimum of 1280");
}

MG_TEST(several_errors_all_reported)
{
	struct loaded l;

	load(&l, NET "ports:\n  - {name: a, device: net_null0, mtu: 1}\n"
		     "routes:\n  - {prefix: bogus, via: 10.0.0.1}\n");
	CHECK_EQ(l.n, 2);
	if (l.n == 2) {
		CHECK_STR(l.errs.msgs[0], "t.yaml:4:39: ports[0].mtu: 1 is out of range 68-9600");
		CHECK_STR(l.errs.msgs[1], "t.yaml:6:14: routes[0].prefix: 'bogus' is not a prefix "
					  "(like 10.2.0.0/16 or fd00:2::/48)");
	}
	unload(&l);
}

MG_TEST(file_not_found)
{
	struct mg_settings st;
	struct mg_model_limits lim = {.routes = 10, .neighbors = 10};
	struct mg_model *m = mg_model_create(&lim);
	struct mg_config_errors e = {0};

	mg_settings_init(&st);
	CHECK_EQ(mg_config_load_file("/nonexistent/gw.yaml", &st, m, &e), 1);
	if (e.n)
		CHECK_STR(e.msgs[0], "/nonexistent/gw.yaml: cannot open: No such file or directory");
	mg_config_errors_free(&e);
	mg_model_destroy(m);
}

MG_TEST_MAIN()

/* ---- classify: ---------------------------------------------------------------------- */

#define CLS_BASE NET "  - name: other\nports:\n  - name: a\n    device: net_null0\n" \
	"classify:\n  - network: default\n    default: deny\n    rules:\n"

MG_TEST(good_classify_rules)
{
	struct loaded l;
	const struct mg_ruleset *rs;

	load(&l, CLS_BASE
	     "      - {id: 7, src: 10.0.0.0/8, protocol: tcp, dport: 80-89, action: count}\n"
	     "      - {dst: \"fd00::1\", protocol: icmpv6, icmp_type: 128, action: police,"
	     " rate: 1000, burst: 3000}\n"
	     "      - {interface: a, vlan: 0, dscp: 46, action: mark, set_dscp: 0, priority: -5}\n"
	     "      - {protocol: udp, sport: 53, action: table, table: other}\n");
	for (unsigned int i = 0; i < l.n; i++)
		MG_FAIL("unexpected error: %s", l.errs.msgs[i]);
	rs = mg_model_rules_get(l.m, mg_model_network_find(l.m, "default")->id);
	CHECK(rs != NULL);
	if (rs != NULL) {
		CHECK_EQ(rs->def, MG_RULE_DENY);
		CHECK_EQ(rs->n, 4);
		CHECK_EQ(rs->rules[0].spec.id, 7);
		CHECK_EQ(rs->rules[0].family, AF_INET);
		CHECK_EQ(rs->rules[0].spec.dport.lo, 80);
		CHECK_EQ(rs->rules[0].spec.dport.hi, 89);
		CHECK_EQ(rs->rules[1].spec.id, 2); /* no id: its position + 1 */
		CHECK_EQ(rs->rules[1].family, AF_INET6);
		CHECK_EQ(rs->rules[1].spec.dst.len, 128);
		CHECK_EQ(rs->rules[2].family, 0); /* both */
		CHECK_EQ(rs->rules[2].spec.priority, -5);
		CHECK_EQ(rs->rules[2].iface, mg_model_iface_find(l.m, "a")->id);
		CHECK_EQ(rs->rules[3].table, mg_model_network_find(l.m, "other")->id);
	}
	/* A network that rules route into, or an interface they match, stays. */
	{
		struct mg_error e;

		CHECK_EQ(mg_model_network_del(l.m, "other", &e), -EBUSY);
		CHECK_EQ(mg_model_port_del(l.m, "a", &e), -EBUSY);
	}
	unload(&l);
}

MG_TEST(bad_classify_rules_name_file_line_and_field)
{
	expect_error(CLS_BASE "      - {protocol: tcp, dport: 90-80}\n",
		     "t.yaml:11:32: classify[0].rules[0].dport: '90-80' is not a range within 0-65535");
	expect_error(CLS_BASE "      - {protocol: gre, dport: 80}\n",
		     "t.yaml:11:32: classify[0].rules[0].dport: ports need protocol tcp, udp or sctp "
		     "(or no protocol)");
	expect_error(CLS_BASE "      - {dst: 10.0.0.0/8}\n      - {src: 10.0.0.0/8, dst: \"fd00::/8\"}\n",
		     "t.yaml:12:32: classify[0].rules[1].dst: an IPv6 prefix in an IPv4 rule");
	expect_error(CLS_BASE "      - {family: ipv6, protocol: ah}\n",
		     "t.yaml:11:34: classify[0].rules[0].protocol: protocol 51 is an IPv6 extension "
		     "header, which IPv6 rules look past to the protocol after it: only IPv4 can "
		     "match it");
	expect_error(CLS_BASE "      - {action: table, table: nowhere}\n",
		     "t.yaml:11:32: classify[0].rules[0].table: no network named 'nowhere'");
	expect_error(CLS_BASE "      - {id: 3}\n      - {}\n      - {}\n",
		     "t.yaml:13:9: classify[0].rules[2].id: id 3 is used twice (rules without an id "
		     "take their position + 1)");
	expect_error(CLS_BASE "      - {action: police, rate: 100}\n",
		     "t.yaml:11:9: classify[0].rules[0].burst: police needs a burst above 0 (bytes)");
	expect_error(CLS_BASE "      - {action: drop}\n",
		     "t.yaml:11:18: classify[0].rules[0].action: 'drop' is not one of: permit, deny, "
		     "count, police, mark, table, capture, service, tunnel");
	expect_error(CLS_BASE "      - {interface: b}\n",
		     "t.yaml:11:21: classify[0].rules[0].interface: no interface named 'b'");
	expect_error(NET "classify:\n  - {network: nope, rules: []}\n",
		     "t.yaml:4:15: classify[0].network: no network named 'nope'");
}
