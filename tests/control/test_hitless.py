# SPDX-License-Identifier: BSD-3-Clause
"""Hitless updates: while millions of packets flow, 10,000 route, neighbor
and connection changes arrive over REST and the NSM socket, and not one
packet that both the initial and the final state forward is lost.

The source is net_pcap looping a capture from memory (it never overflows:
the worker pulls packets as fast as it forwards them), the sinks are
net_null, so every packet received is accounted for exactly: it left on b
or c, or it is in a drop counter."""
import ipaddress
import random
import time

from scapy.all import Ether, IP, IPv6, UDP

from mgrun import Control, Meshgate
from pcapdp import write_pcap

CONFIG = """
dpdk:
  lcores: "0-1"
  memory_mb: 512
workers:
  idle: {{mode: poll}}
# The port counters must equal the forwarded traffic: no address announcements.
arp_nd: {{announce: false}}
networks:
  - name: default
ports:
  - name: a
    device: "net_pcap0,rx_pcap={dir}/in.pcap,infinite_rx=1,tx_pcap={dir}/out_a.pcap"
    mac: "02:00:00:00:0a:01"
    ipv4: [10.0.1.1/24]
    ipv6: ["fd00:1::1/64"]
  - name: b
    device: "net_null0,no-rx=1"
    mac: "02:00:00:00:0b:01"
    ipv4: [10.0.2.1/24]
    ipv6: ["fd00:2::1/64"]
  - name: c
    device: "net_null1,no-rx=1"
    mac: "02:00:00:00:0c:01"
    ipv4: [10.0.3.1/24]
    ipv6: ["fd00:3::1/64"]
neighbors:
  - {{interface: b, ip: 10.0.2.2, mac: "02:00:00:00:0b:02"}}
  - {{interface: b, ip: "fd00:2::2", mac: "02:00:00:00:0b:02"}}
  - {{interface: c, ip: 10.0.3.2, mac: "02:00:00:00:0c:02"}}
  - {{interface: c, ip: "fd00:3::2", mac: "02:00:00:00:0c:02"}}
routes:
  - {{prefix: 198.51.100.0/24, via: 10.0.2.2}}
  - {{prefix: 203.0.113.0/24, via: 10.0.3.2}}
  - {{prefix: "2001:db8:100::/48", via: "fd00:2::2"}}
"""

SRC_MAC, GW_MAC = "02:00:00:00:0a:02", "02:00:00:00:0a:01"


def traffic():
    pkts = []
    for i in range(64):
        if i % 3 == 0:
            ip = IPv6(src="fd00:1::2", dst=f"2001:db8:100::{i + 1:x}", hlim=64)
        else:
            net = "198.51.100" if i % 3 == 1 else "203.0.113"
            ip = IP(src="10.0.1.2", dst=f"{net}.{(i * 37) % 254 + 1}", ttl=64)
        pkts.append(Ether(src=SRC_MAC, dst=GW_MAC) / ip /
                    UDP(sport=10000 + i, dport=2152) / (b"x" * 18))
    return pkts


def churn_batches(rng, total):
    """Batches of REST operations, `total` changes in all, that leave the
    state as it was: every add is deleted later, every replace put back."""
    ops_pending = []
    batches = []
    count = 0
    extra4 = [ipaddress.ip_network(f"100.{64 + i // 256}.{i % 256}.0/24") for i in range(4000)]
    extra6 = [ipaddress.ip_network(f"2001:db8:f{i // 256:03x}:{i % 256:x}00::/56")
              for i in range(4000)]
    live = []
    neigh = set()
    while count < total:
        batch = []
        for _ in range(50):
            r = rng.random()
            if r < 0.45 or not live:
                pfx = rng.choice(extra4 if rng.random() < 0.5 else extra6)
                if pfx in live:
                    continue
                via = ("10.0.2.2" if pfx.version == 4 else "fd00:2::2") if rng.random() < 0.5 \
                    else ("10.0.3.2" if pfx.version == 4 else "fd00:3::2")
                batch.append({"op": "add", "route": {"prefix": str(pfx), "via": via}})
                live.append(pfx)
            elif r < 0.75:
                pfx = live.pop(rng.randrange(len(live)))
                batch.append({"op": "delete", "route": {"prefix": str(pfx)}})
            elif r < 0.85:
                # Move the traffic's own routes between two next hops that both forward.
                which = rng.choice([("198.51.100.0/24", "10.0.2.2", "10.0.3.2"),
                                    ("2001:db8:100::/48", "fd00:2::2", "fd00:3::2"),
                                    ("203.0.113.0/24", "10.0.3.2", "10.0.2.2")])
                batch.append({"op": "replace", "route": {"prefix": which[0], "via": which[2]}})
                ops_pending.append({"op": "replace",
                                    "route": {"prefix": which[0], "via": which[1]}})
            else:
                # Unrelated neighbors come and go.
                side = rng.choice((2, 3))
                ip = f"10.0.{side}.{rng.randrange(10, 250)}"
                if ip in neigh:
                    continue
                neigh.add(ip)
                iface = "b" if side == 2 else "c"
                batch.append({"op": "add", "neighbor": {"interface": iface, "ip": ip,
                                                         "mac": "02:00:00:00:99:01"}})
                ops_pending.append({"op": "delete", "neighbor": {"interface": iface, "ip": ip}})
            count += 1
        # Put things back within a few batches, so the state keeps changing.
        if ops_pending and rng.random() < 0.5:
            batch.extend(ops_pending)
            count += len(ops_pending)
            ops_pending = []
            neigh.clear()
        if batch:
            batches.append(batch)
    final = [{"op": "delete", "route": {"prefix": str(p)}} for p in live] + ops_pending
    neigh.clear()
    if final:
        batches.append(final)
    return batches, count + len(final)


def live_conn(vlan=100, extra=()):
    """A VLAN connection "live" on port b whose dst route takes half the traffic's
    198.51.100.0/24 (forwarded either way), with @extra routes."""
    return {"id": "live", "networkService": "ran",
            "mechanism": {"cls": "LOCAL", "type": "VLAN",
                          "parameters": {"base": "b", "vlan-id": str(vlan)}},
            "context": {"ipContext": {
                "srcIpAddrs": ["172.20.0.2/30"], "dstIpAddrs": ["172.20.0.1/30"],
                "dstRoutes": [{"prefix": "198.51.100.0/25"}] + list(extra)},
                "ethernetContext": {"srcMac": "02:00:00:00:14:02"}}}


def vlan_tx(ctl):
    """Packets sent so far out of VLAN 100 of port b."""
    return {i["name"]: i for i in ctl.ok("GET", "/v1/interfaces")}["b.100"]["counters"][
        "tx_packets"]


def start_live(s, ctl):
    """Request the live connection on NSM socket @s; wait until it carries traffic."""
    kind, res = s.call("Request", {"connection": live_conn()})
    assert kind == "result", res
    end = time.time() + 30
    while vlan_tx(ctl) < 100_000:
        assert time.time() < end, "no traffic through the connection"
        time.sleep(0.1)


def test_ten_thousand_changes_lose_nothing(tmp_path):
    write_pcap(tmp_path / "in.pcap", traffic())
    mg = Meshgate(tmp_path, CONFIG.format(dir=tmp_path), name="hl").start()
    ctl = Control(mg)
    rng = random.Random(20261126)
    changes = 0
    try:
        base = sorted(map(str, ctl.ok("GET", "/v1/routes")))
        batches, _ = churn_batches(rng, 9000)
        t0 = time.time()
        for b in batches:
            st, body = ctl.http("POST", "/v1/batch", {"operations": b})
            assert st == 200, (st, body)
            changes += len(b)
        # Connections: a VLAN client whose dst_routes take part of the
        # traffic's prefix (via the client, out b with a tag): forwarded either way.
        with ctl.nsm_open() as s:
            for i in range(500):
                conn = {"id": f"churn-{i}", "networkService": "ran",
                        "mechanism": {"cls": "LOCAL", "type": "VLAN",
                                      "parameters": {"base": "b", "vlan-id": str(100 + i % 50)}},
                        "context": {
                            "ipContext": {"srcIpAddrs": ["172.20.0.2/30"],
                                          "dstIpAddrs": ["172.20.0.1/30"],
                                          "dstRoutes": [{"prefix": "198.51.100.128/25"}]},
                            "ethernetContext": {"srcMac": "02:00:00:00:14:02"}}}
                kind, res = s.call("Request", {"connection": conn})
                assert kind == "result", res
                kind, res = s.call("Close", {"id": conn["id"]})
                assert kind == "result", res
                changes += 2
        elapsed = time.time() - t0
        # At least a million packets, and the churn happened while they flowed.
        end = time.time() + 60
        while mg.telemetry("/meshgate/ports")["a"]["rx_packets"] < 1_000_000:
            assert time.time() < end, "fewer than 1M packets in 60 s"
            time.sleep(0.2)
        after = sorted(map(str, ctl.ok("GET", "/v1/routes")))
        assert after == base, "the churn did not put the state back"
    finally:
        st = mg.stop()
    rx = st["ports"]["a"]["rx_packets"]
    out = st["ports"]["b"]["tx_packets"] + st["ports"]["c"]["tx_packets"]
    drops = {k: v for k, v in st["drops"].items() if v}
    print(f"{changes} changes in {elapsed:.1f} s ({changes / elapsed:.0f}/s) "
          f"while {rx} packets flowed")
    assert changes >= 10_000
    assert rx >= 1_000_000
    assert drops == {}, drops
    assert out == rx, (rx, out, st["ports"])
    assert st["gateway"]["punted"] == 0


def test_changed_or_refused_connection_keeps_its_traffic_and_counters(tmp_path):
    """A Request that changes a live VLAN connection (one more dst route)
    applies only the difference: the VLAN and the routes it keeps carry
    their traffic on and its counters go on counting. A Request with the
    same id that is refused (a route through a next hop on no connected
    subnet) touches nothing. Before, both rebuilt the connection: tens of millions
    of packets met no route and its counters went back to zero."""
    write_pcap(tmp_path / "in.pcap", traffic())
    mg = Meshgate(tmp_path, CONFIG.format(dir=tmp_path), name="hc").start()
    ctl = Control(mg)

    try:
        with ctl.nsm_open() as s:
            start_live(s, ctl)
            for i in range(20):
                before = vlan_tx(ctl)
                kind, res = s.call("Request", {"connection": live_conn(
                    extra=[{"prefix": f"198.18.{i}.0/24"}])})
                assert kind == "result", res
                # Refused: a route through a next hop on no connected subnet.
                kind, res = s.call("Request", {"connection": live_conn(
                    extra=[{"prefix": f"198.19.{i}.0/24", "nextHop": "10.9.9.9"}])})
                assert kind == "error", res
                assert vlan_tx(ctl) >= before, (i, before, vlan_tx(ctl))
            kind, res = s.call("Close", {"id": "live"})
            assert kind == "result", res
    finally:
        st = mg.stop()
    drops = {k: v for k, v in st["drops"].items() if v}
    assert drops == {}, drops
    rx = st["ports"]["a"]["rx_packets"]
    assert st["ports"]["b"]["tx_packets"] + st["ports"]["c"]["tx_packets"] == rx, st["ports"]


def test_refused_service_never_takes_traffic(tmp_path):
    """A service whose second VIP is another's is refused before its first
    is routed: the traffic to that first address keeps its route. Before,
    each refused POST routed it to the refused service's endpoint (here an
    unresolved next hop: punts and drops) until the conflict was found.
    Gateways' routes are checked the same way (natgw_setup.c routes_add)."""
    write_pcap(tmp_path / "in.pcap", traffic())
    cfg = CONFIG.format(dir=tmp_path) + """services:
  - {name: s1, vips: [198.51.100.250], endpoints: [{name: e, address: 10.0.3.2}]}
"""
    mg = Meshgate(tmp_path, cfg, name="hr").start()
    ctl = Control(mg)
    try:
        # 198.51.100.38 is a destination of the traffic, routed out b.
        svc = {"name": "s2", "vips": ["198.51.100.38", "198.51.100.250"],
               "endpoints": [{"name": "x", "address": "10.0.3.77"}]}
        for _ in range(50):
            st, j = ctl.http("POST", "/v1/services", svc)
            assert st == 409 and j["error"]["field"] == "vips[1]", (st, j)
            assert "already service s1's" in j["error"]["message"], j
        end = time.time() + 30
        while mg.telemetry("/meshgate/ports")["a"]["rx_packets"] < 500_000:
            assert time.time() < end
            time.sleep(0.1)
    finally:
        st = mg.stop()
    drops = {k: v for k, v in st["drops"].items() if v}
    assert drops == {}, drops
    assert st["gateway"]["punted"] == 0


def test_refused_batch_or_connection_change_never_reaches_traffic(tmp_path):
    """A REST batch, or an NSM Request changing a live connection's VLAN,
    that the model refuses at a later operation is tried whole on a shadow
    of the model first: its earlier operations (deleting the route and the
    neighbor the traffic uses, moving the connection to another VLAN) never
    reach the data plane. Before, they were applied and undone one by one,
    and traffic met the gap (in review, one refused batch that deleted a
    used neighbor cost ~1 M punts)."""
    write_pcap(tmp_path / "in.pcap", traffic())
    mg = Meshgate(tmp_path, CONFIG.format(dir=tmp_path), name="hb").start()
    ctl = Control(mg)

    bad = {"op": "add", "route": {"prefix": "198.18.0.0/24", "via": "10.9.9.9"}}
    try:
        before = sorted(map(str, ctl.ok("GET", "/v1/routes")))
        for _ in range(20):
            st, j = ctl.http("POST", "/v1/batch", {"operations": [
                {"op": "delete", "route": {"prefix": "203.0.113.0/24"}},
                {"op": "delete", "route": {"prefix": "2001:db8:100::/48"}},
                {"op": "delete", "neighbor": {"interface": "b", "ip": "10.0.2.2"}},
                {"op": "delete", "neighbor": {"interface": "c", "ip": "10.0.3.2"}}, bad]})
            assert st == 400 and j["error"]["field"] == "operations[4].route.via", (st, j)
        assert sorted(map(str, ctl.ok("GET", "/v1/routes"))) == before
        with ctl.nsm_open() as s:
            start_live(s, ctl)
            for i in range(20):
                n = vlan_tx(ctl)
                # Refused: another VLAN (the connection is rebuilt, not
                # changed by difference) and a route through no connected subnet.
                kind, res = s.call("Request", {"connection": live_conn(
                    101, [{"prefix": f"198.19.{i}.0/24", "nextHop": "10.9.9.9"}])})
                assert kind == "error", res
                assert vlan_tx(ctl) >= n, (i, n, vlan_tx(ctl))
            kind, res = s.call("Close", {"id": "live"})
            assert kind == "result", res
        end = time.time() + 30
        while mg.telemetry("/meshgate/ports")["a"]["rx_packets"] < 1_000_000:
            assert time.time() < end, "fewer than 1M packets in 30 s"
            time.sleep(0.1)
    finally:
        st = mg.stop()
    drops = {k: v for k, v in st["drops"].items() if v}
    assert drops == {}, drops
    assert st["gateway"]["punted"] == 0
    rx = st["ports"]["a"]["rx_packets"]
    assert st["ports"]["b"]["tx_packets"] + st["ports"]["c"]["tx_packets"] == rx, st["ports"]
