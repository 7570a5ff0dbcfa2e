# SPDX-License-Identifier: BSD-3-Clause
"""Overload and mempool exhaustion, with a real gateway.

A net_pcap port looping a capture from memory (infinite_rx) offers the worker
more than it can take (it polls at 100%), half of it ARP requests that the
worker punts to the main lcore, so the lcore that serves REST and the NSM
socket is loaded too. While that runs, REST and the NSM socket must keep
answering: every request within a generous bound (2 s here; the speed itself
is measured by `tools/bench --rest-latency`), the median printed.

With a pool of 1024 mbufs the same flood empties it: the shortage is counted
(the `no-mbuf` drop reason; `punt-queue-full` when the punt ring overflows),
nothing crashes, and once the flood port is removed the pool comes back to
its idle count and a new port's traffic is forwarded, every packet of it."""
import statistics
import time

from scapy.all import ARP, IP, UDP, Ether

from mgrun import Control, Meshgate
from pcapdp import write_pcap

CONFIG = """
dpdk:
  lcores: "0-1"
  memory_mb: 640
  hugepages: false
workers:
  idle: {{mode: poll}}
{mbufs}
networks:
  - name: default
ports:
  - name: b
    device: "net_null0,no-rx=1"
    mac: "02:00:00:00:0b:01"
    ipv4: [10.0.2.1/24]
  - name: d
    device: "net_pcap1,tx_pcap={dir}/out_d.pcap"
    mac: "02:00:00:00:0d:01"
    ipv4: [10.0.4.1/24]
neighbors:
  - {{interface: b, ip: 10.0.2.2, mac: "02:00:00:00:0b:02"}}
  - {{interface: d, ip: 10.0.4.2, mac: "02:00:00:00:0d:02"}}
routes:
  - {{prefix: 198.51.100.0/24, via: 10.0.2.2}}
  - {{prefix: 203.0.113.0/24, via: 10.0.4.2}}
"""

SRC = "02:00:00:00:0a:02"
GW_A = "02:00:00:00:0a:01"


def flood(path):
    """UDP to be forwarded, and ARP requests for the gateway (punted), interleaved."""
    pkts = []
    for i in range(256):
        pkts.append(Ether(src=SRC, dst="ff:ff:ff:ff:ff:ff") /
                    ARP(op=1, psrc="10.0.1.2", pdst="10.0.1.1", hwsrc=SRC))
        pkts.append(Ether(src=SRC, dst=GW_A) / IP(src="10.0.1.2", dst=f"198.51.100.{i % 250 + 1}")
                    / UDP(sport=1000 + i, dport=9) / (b"x" * 18))
    write_pcap(path, pkts)


def stats(ctl):
    st, s = ctl.http("GET", "/v1/stats")
    assert st == 200, s
    return s


def add_flood_port(ctl, tmp_path):
    flood(tmp_path / "flood.pcap")
    ctl.ok("POST", "/v1/ports", {"name": "a", "device":
                                 f"net_pcap7,rx_pcap={tmp_path}/flood.pcap,infinite_rx=1",
                                 "mac": GW_A})
    ctl.ok("POST", "/v1/interfaces/a/addresses", {"address": "10.0.1.1/24"})


def timed(fn):
    t = time.monotonic()
    out = fn()
    return time.monotonic() - t, out


def probe(ctl, n):
    """@n control requests of several kinds while loaded: their latencies (s)."""
    lat = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            dt, (st, _) = timed(lambda: ctl.http("GET", "/v1/stats"))
            assert st == 200
        elif kind == 1:
            dt, (st, _) = timed(lambda: ctl.http("POST", "/v1/routes",
                                                 {"prefix": f"100.64.{i}.0/24", "via": "10.0.2.2"}))
            assert st == 201
        elif kind == 2:
            dt, (st, _) = timed(lambda: ctl.http("DELETE", f"/v1/routes/default/100.64.{i - 1}.0/24"))
            assert st == 204
        else:
            def nsm():
                with ctl.nsm_open() as s:
                    s.send({"id": 1, "method": "MonitorConnections", "params": {}})
                    return s.recv()
            dt, ev = timed(nsm)
            assert ev["event"]["type"] == "INITIAL_STATE_TRANSFER"
        lat.append(dt)
    return lat


def test_control_answers_under_full_load(tmp_path):
    with Meshgate(tmp_path, CONFIG.format(dir=tmp_path, mbufs=""), name="ovl") as mg:
        ctl = Control(mg)
        add_flood_port(ctl, tmp_path)
        # Loaded: the worker forwards and punts without pause.
        s0 = stats(ctl)
        end = time.time() + 60
        while stats(ctl)["ports"]["b"]["tx_packets"] - s0["ports"]["b"]["tx_packets"] < 200000:
            assert time.time() < end, "the flood does not reach the worker"
            time.sleep(0.2)
        t0 = stats(ctl)
        lat = probe(ctl, 80)
        t1 = stats(ctl)
        fwd = t1["ports"]["b"]["tx_packets"] - t0["ports"]["b"]["tx_packets"]
        arp = t1["gateway"]["arp_rx"] - t0["gateway"]["arp_rx"]
        print(f"\noverload: {len(lat)} control requests under load: median "
              f"{statistics.median(lat) * 1000:.1f} ms, max {max(lat) * 1000:.1f} ms; "
              f"{fwd} packets forwarded and {arp} ARP requests answered meanwhile")
        assert fwd > 10000 and arp > 1000, (fwd, arp)
        assert max(lat) < 2.0, sorted(lat)[-5:]


def test_mempool_exhaustion_survived_and_counted(tmp_path):
    cfg = CONFIG.format(dir=tmp_path, mbufs="mbufs: {count: 1024, cache: 0}\n"
                        "limits: {punt_ring: 4096, inject_ring: 4096}")
    with Meshgate(tmp_path, cfg, name="pool") as mg:
        ctl = Control(mg)
        g = stats(ctl)["gateway"]
        idle, total = g["mbufs_free"], g["mbufs_total"]
        assert total == 1024 and idle > 900, g
        add_flood_port(ctl, tmp_path)
        # The flood drains the pool; the shortage is counted, REST still answers.
        end = time.time() + 90
        while True:
            s = stats(ctl)
            short = s["drops"]["no-mbuf"] + s["drops"]["punt-queue-full"] + \
                s["drops"]["inject-queue-full"] + s["ports"]["a"]["rx_nombuf"]
            if short > 0 and s["drops"]["no-mbuf"] + s["ports"]["a"]["rx_nombuf"] > 0:
                break
            assert time.time() < end, f"the pool never ran short: {s['gateway']}"
            time.sleep(0.2)
        lat = probe(ctl, 8)
        assert max(lat) < 2.0, lat
        # The load stops: the flood port goes, the pool comes back to its idle count.
        ctl.ok("DELETE", "/v1/ports/a")
        end = time.time() + 60
        while stats(ctl)["gateway"]["mbufs_free"] != idle:
            assert time.time() < end, f"mbufs not back: {stats(ctl)['gateway']} (idle {idle})"
            time.sleep(0.2)
        # And a new port's packets are all forwarded.
        good = [Ether(src=SRC, dst="02:00:00:00:0c:01") /
                IP(src="10.0.3.2", dst=f"203.0.113.{i % 250 + 1}") /
                UDP(sport=2000 + i, dport=9) / (b"y" * 18) for i in range(1000)]
        write_pcap(tmp_path / "good.pcap", good)
        before = stats(ctl)["ports"]["d"]["tx_packets"]
        ctl.ok("POST", "/v1/ports", {"name": "c", "device":
                                     f"net_pcap8,rx_pcap={tmp_path}/good.pcap",
                                     "mac": "02:00:00:00:0c:01"})
        ctl.ok("POST", "/v1/interfaces/c/addresses", {"address": "10.0.3.1/24"})
        end = time.time() + 60
        while stats(ctl)["ports"]["d"]["tx_packets"] - before < 1000:
            assert time.time() < end, stats(ctl)["ports"]
            time.sleep(0.2)
        s = stats(ctl)
        assert s["ports"]["d"]["tx_packets"] - before == 1000
    # The clean stop's counters keep the shortage.
    assert mg.stats["drops"]["no-mbuf"] > 0 or mg.stats["drops"]["punt-queue-full"] > 0
