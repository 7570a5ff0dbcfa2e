# SPDX-License-Identifier: BSD-3-Clause
"""A dual-homed meshgate between two networks: the pod host in network
"pods", the external host in network "outside", joined only by a gateway
with source NAT (IPv4 masquerade, NAT66) and two published services (TCP
and UDP, both families) reached from outside. The external host has no
route to the pod subnet: every exchange below works only if meshgate
translates both directions, and the UDP echo server reports the source
address it saw."""
import re
import time

import promtext
import pytest
from mgrun import Control, Meshgate

CONFIG = """
dpdk:
  memory_mb: 1024
  hugepages: false
  lcores: "{lcores}"
workers:
  idle: {{mode: sleep}}
networks:
  - name: pods
  - name: outside
ports:
  - name: pod
    device: net_af_packet0,iface={tag}-pod,qpairs={q}
    network: pods
    mac: "02:6d:67:00:01:01"
    ipv4: [10.10.1.1/24]
    ipv6: ["fd00:10:1::1/64"]
  - name: ext
    device: net_af_packet1,iface={tag}-ext,qpairs={q}
    network: outside
    mac: "02:6d:67:00:02:01"
    ipv4: [10.10.2.1/24]
    ipv6: ["fd00:10:2::1/64"]
routes:
  - {{network: outside, prefix: 198.51.100.0/24, via: 10.10.2.2}}
  - {{network: outside, prefix: "2001:db8:100::/48", via: "fd00:10:2::2"}}
services:
  - {{name: iperf4, network: pods, vips: [10.10.1.100], mode: nat,
     endpoints: [{{name: pod, address: 10.10.1.2}}]}}
  - {{name: iperf6, network: pods, vips: ["fd00:10:1::100"], mode: nat,
     endpoints: [{{name: pod, address: "fd00:10:1::2"}}]}}
  - {{name: echo4, network: pods, vips: [10.10.1.101], mode: nat,
     endpoints: [{{name: pod, address: 10.10.1.2, port: 7007}}]}}
  - {{name: echo6, network: pods, vips: ["fd00:10:1::101"], mode: nat,
     endpoints: [{{name: pod, address: "fd00:10:1::2", port: 7007}}]}}
gateways:
  - name: edge
    inside: pods
    outside: outside
    routes: [0.0.0.0/0, "::/0"]
    sources: [10.10.1.0/24, "fd00:10:1::/64"]
    ports: "30000-39999"
    publish:
      - {{address: 10.10.2.1, protocol: tcp, port: 5201, service: iperf4}}
      - {{address: "fd00:10:2::1", protocol: tcp, port: 5201, service: iperf6}}
      - {{address: 10.10.2.1, protocol: udp, port: 53, service: echo4}}
      - {{address: "fd00:10:2::1", protocol: udp, port: 53, service: echo6}}
control:
  rest: {{listen: "127.0.0.1:0"}}
"""

# A UDP server that answers each datagram with the address it came from.
ECHO_SERVER = """
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
while True:
    d, a = s.recvfrom(2048)
    s.sendto(b"from " + a[0].encode() + b" " + d, a)
"""

ECHO_CLIENT = """
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(1.0)
for _ in range(10):
    s.sendto(b"hello", (sys.argv[1], int(sys.argv[2])))
    try:
        print(s.recv(2048).decode())
        break
    except socket.timeout:
        pass
"""


def echo_server(topo, side, addr, port):
    p = topo.spawn(side, "/usr/bin/python3", "-c", ECHO_SERVER, addr, str(port))
    assert p.stdout.readline().strip() == "ready"
    return p


def echo(topo, side, addr, port):
    r = topo.run(side, "/usr/bin/python3", "-c", ECHO_CLIENT, addr, str(port), timeout=30)
    return r.stdout.strip()


def iperf_to_published(topo, dst, v6):
    """iperf3 from the external host to a published address; the server on the pod."""
    import json
    srv = topo.spawn("pod", "iperf3", "-s", "-1")
    for _ in range(50):
        if ":5201" in topo.run("pod", "ss", "-ltn").stdout:
            break
        time.sleep(0.1)
    r = topo.run("ext", "iperf3", "-J", "-c", dst, "-t", "2", *(["-6"] if v6 else []),
                 timeout=40)
    srv.wait(timeout=30)
    return json.loads(r.stdout) if r.stdout.strip().startswith("{") else {"error": r.stdout}


@pytest.mark.parametrize("workers", [1, 2])
def test_gateway_snat_and_published_services(tmp_path, topo, workers):
    """With two workers and two queues per port (af_packet's fanout hashes
    each leg on its own tuple), a flow's two directions often reach two
    workers: the packets that miss their owner are handed to it."""
    lcores = "0@0,1@1" if workers == 1 else "0@0,1@1,2@0"
    cfg = CONFIG.format(tag=topo.tag, lcores=lcores, q=workers)
    with Meshgate(tmp_path, cfg, name="ng") as mg:
        # Pod to outside, source NAT: ping, UDP (the server sees the gateway), TCP.
        for dst in ("10.10.2.2", "198.51.100.1", "fd00:10:2::2", "2001:db8:100::1"):
            # (veth + af_packet on this shared machine lose a ping now and then,
            # with or without NAT: most of five must come back)
            r = topo.ping("pod", dst, count=5)
            got = re.search(r"(\d+) received", r.stdout)
            assert got and int(got.group(1)) >= 3, (dst, r.stdout)
        echo_server(topo, "ext", "0.0.0.0", 9000)
        echo_server(topo, "ext", "::", 9001)
        assert echo(topo, "pod", "10.10.2.2", 9000) == "from 10.10.2.1 hello"
        assert echo(topo, "pod", "fd00:10:2::2", 9001) == "from fd00:10:2::1 hello"
        for dst, v6 in (("10.10.2.2", False), ("fd00:10:2::2", True)):
            r = topo.iperf("pod", "ext", dst, seconds=2, v6=v6)
            assert "error" not in r, r
            assert r["end"]["sum_received"]["bytes"] > 1_000_000, r["end"]
            # (the UDP echo above showed what the server side sees: the gateway)
            assert r["start"]["connected"][0]["local_host"] in ("10.10.1.2", "fd00:10:1::2")
        # Outside to the pod, through the published services: UDP and TCP.
        echo_server(topo, "pod", "::", 7007)
        assert echo(topo, "ext", "10.10.2.1", 53) == "from ::ffff:10.10.2.2 hello"
        assert echo(topo, "ext", "fd00:10:2::1", 53) == "from fd00:10:2::2 hello"
        for dst, v6 in (("10.10.2.1", False), ("fd00:10:2::1", True)):
            r = iperf_to_published(topo, dst, v6)
            assert "error" not in r, r
            assert r["end"]["sum_received"]["bytes"] > 1_000_000, r["end"]
        # The outside cannot reach the pod subnet directly (no gateway route that way).
        r = topo.ping("ext", "10.10.1.2", count=1)
        assert r.returncode != 0
        ctl = Control(mg)
        nat = ctl.ok("GET", "/v1/nat")
        gw = ctl.ok("GET", "/v1/gateways/edge")
        st, text = ctl.http("GET", "/metrics")
        assert st == 200
        fams = promtext.parse(text)  # the exposition format is valid
        assert "meshgate_nat_snat_flows_total" in fams
        assert "meshgate_gateway_snat_ports_free" in fams
    assert nat["snat_flows"] >= 8 and nat["dnat_flows"] >= 4, nat
    assert nat["translated_reply"] > 100 and nat["no_port"] == 0, nat
    assert nat["handoff_drops"] == 0
    if workers == 1:
        assert nat["handoffs"] == 0
    else:
        assert nat["handoffs"] > 0, nat
    assert gw["snat4"] == "10.10.2.1" and gw["snat6"] == "fd00:10:2::1"
    assert gw["snat_ports"]["total"] == 10000
    assert len(gw["publish"]) == 4
