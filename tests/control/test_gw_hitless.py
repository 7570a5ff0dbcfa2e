# SPDX-License-Identifier: BSD-3-Clause
"""Gateway changes are hitless: while a million packets of 64 UDP flows
cross gateway g2 (source NAT), another gateway is created, replaced with a
new translation and deleted over and over, and g2 itself is replaced with
its translation kept (its routes rewritten each time). Not one packet is
lost (every packet received left on the outside port or sits in a drop
counter, and no drop counter moved), and g2's sessions all survived: each
flow was created once."""
import time

from scapy.all import IP, UDP, Ether

from mgrun import Control, Meshgate
from pcapdp import write_pcap

CONFIG = """
dpdk:
  lcores: "0-1"
  memory_mb: 768
workers:
  idle: {{mode: poll}}
# The port counters must equal the forwarded traffic: no address announcements.
arp_nd: {{announce: false}}
networks:
  - name: pods
  - name: uplink
  - name: ext2
ports:
  - name: a
    device: "net_pcap0,rx_pcap={dir}/in.pcap,infinite_rx=1,tx_pcap={dir}/out_a.pcap"
    network: pods
    mac: "02:00:00:00:0a:01"
    ipv4: [10.0.1.1/24]
  - name: b
    device: "net_null0,no-rx=1"
    network: uplink
    mac: "02:00:00:00:0b:01"
    ipv4: [10.0.2.1/24]
  - name: c
    device: "net_null1,no-rx=1"
    network: ext2
    mac: "02:00:00:00:0c:01"
    ipv4: [10.0.3.1/24]
neighbors:
  - {{interface: b, ip: 10.0.2.2, mac: "02:00:00:00:0b:02"}}
  - {{interface: c, ip: 10.0.3.2, mac: "02:00:00:00:0c:02"}}
routes:
  - {{network: uplink, prefix: 198.51.100.0/24, via: 10.0.2.2}}
  - {{network: ext2, prefix: 203.0.113.0/24, via: 10.0.3.2}}
gateways:
  - {{name: g2, inside: pods, outside: uplink, routes: [198.51.100.0/24],
     ports: "40000-49999"}}
"""

G1 = {"inside": "pods", "outside": "ext2", "routes": ["203.0.113.0/24"], "ports": "2000-2999"}


def traffic():
    return [Ether(src="02:00:00:00:0a:02", dst="02:00:00:00:0a:01") /
            IP(src="10.0.1.2", dst=f"198.51.100.{1 + i % 16}") /
            UDP(sport=30000 + i, dport=53) / (b"x" * 18) for i in range(64)]


def test_gateway_changes_lose_nothing(tmp_path):
    write_pcap(tmp_path / "in.pcap", traffic())
    mg = Meshgate(tmp_path, CONFIG.format(dir=tmp_path), name="gwhl").start()
    ctl = Control(mg)
    changes = 0
    try:
        for i in range(60):
            ctl.ok("PUT", "/v1/gateways/g1", G1)
            ctl.ok("PUT", "/v1/gateways/g1", dict(G1, ports=f"{3000 + i}-{3999 + i}"))
            ctl.ok("DELETE", "/v1/gateways/g1")
            # g2 with its translation kept: its route removed and added back
            # (the new routes are in before the old ones go).
            routes = ["198.51.100.0/24"] + ([f"192.0.2.{i}/32"] if i % 2 else [])
            ctl.ok("PUT", "/v1/gateways/g2", {"inside": "pods", "outside": "uplink",
                                              "routes": routes, "ports": "40000-49999"})
            changes += 4
        end = time.time() + 60
        while mg.telemetry("/meshgate/ports")["a"]["rx_packets"] < 1_000_000:
            assert time.time() < end, "fewer than 1M packets in 60 s"
            time.sleep(0.2)
    finally:
        st = mg.stop()
    rx = st["ports"]["a"]["rx_packets"]
    drops = {k: v for k, v in st["drops"].items() if v}
    assert changes == 240
    assert rx >= 1_000_000
    assert drops == {}, drops
    assert st["ports"]["b"]["tx_packets"] == rx, (rx, st["ports"])
    assert st["nat"]["snat_flows"] == 64, st["nat"]
    assert st["nat"]["translated_forward"] == rx, st["nat"]
