#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""tools/bench's REST latency case: how long control requests take on an
idle meshgate, and on the same gateway at full load, in one run.

Full load: one worker busy-polling a net_pcap port that loops a capture from
memory (infinite_rx): UDP forwarded to net_null, interleaved with ARP
requests for the gateway that the worker punts to the main lcore, the lcore
that also serves REST. Idle: the same gateway without that port. Each
round measures --requests requests of four kinds (GET /v1/stats, GET
/v1/routes, POST and DELETE of a route), each on a fresh connection, as
meshgatectl does. Prints p50/p99/max per state and the ratio loaded/idle
(the figure to compare between runs), and writes JSON with --out.

  rest_latency.py [--build DIR] [--requests N] [--rounds N] [--out FILE]
"""
import argparse
import json
import os
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "tests" / "lib"))

CONFIG = """
dpdk:
  lcores: "0-1"
  memory_mb: 640
  hugepages: false
workers:
  idle: {mode: poll}
networks:
  - name: default
ports:
  - name: b
    device: "net_null0,no-rx=1"
    mac: "02:00:00:00:0b:01"
    ipv4: [10.0.2.1/24]
neighbors:
  - {interface: b, ip: 10.0.2.2, mac: "02:00:00:00:0b:02"}
routes:
  - {prefix: 198.51.100.0/24, via: 10.0.2.2}
"""


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def measure(ctl, n):
    lat = []
    for i in range(n):
        k = i % 4
        t = time.monotonic()
        if k == 0:
            st, _ = ctl.http("GET", "/v1/stats")
        elif k == 1:
            st, _ = ctl.http("GET", "/v1/routes")
        elif k == 2:
            st, _ = ctl.http("POST", "/v1/routes", {"prefix": f"100.64.{i % 250}.0/24",
                                                    "via": "10.0.2.2"})
        else:
            st, _ = ctl.http("DELETE", f"/v1/routes/default/100.64.{(i - 1) % 250}.0/24")
        lat.append(time.monotonic() - t)
        if st >= 300:
            raise RuntimeError(f"request {i} answered {st}")
    return lat


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.environ.get("MESHGATE_BUILD", str(ROOT / "build")))
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--out")
    a = ap.parse_args()
    os.environ["MESHGATE_BUILD"] = a.build
    from scapy.all import ARP, IP, UDP, Ether  # noqa: E402
    from mgrun import Control, Meshgate  # noqa: E402
    from pcapdp import write_pcap  # noqa: E402

    work = pathlib.Path(tempfile.mkdtemp(prefix="mg-restlat-"))
    pkts = []
    for i in range(256):
        pkts.append(Ether(src="02:00:00:00:0a:02", dst="ff:ff:ff:ff:ff:ff") /
                    ARP(op=1, psrc="10.0.1.2", pdst="10.0.1.1", hwsrc="02:00:00:00:0a:02"))
        pkts.append(Ether(src="02:00:00:00:0a:02", dst="02:00:00:00:0a:01") /
                    IP(src="10.0.1.2", dst=f"198.51.100.{i % 250 + 1}") /
                    UDP(sport=1000 + i, dport=9) / (b"x" * 18))
    write_pcap(work / "flood.pcap", pkts)

    res = {"idle": [], "loaded": []}
    fwd, arp = [], []
    for r in range(a.rounds):
        with Meshgate(work, CONFIG, name="restlat") as mg:
            ctl = Control(mg)
            measure(ctl, 20)                       # warm-up
            res["idle"] += measure(ctl, a.requests)
            ctl.ok("POST", "/v1/ports", {"name": "a", "device":
                                         f"net_pcap7,rx_pcap={work}/flood.pcap,infinite_rx=1",
                                         "mac": "02:00:00:00:0a:01"})
            ctl.ok("POST", "/v1/interfaces/a/addresses", {"address": "10.0.1.1/24"})
            # Until the flood reaches the worker (the new port's first packets).
            end = time.monotonic() + 30
            while ctl.ok("GET", "/v1/stats")["ports"]["b"]["tx_packets"] < 100000:
                if time.monotonic() > end:
                    raise RuntimeError("the flood does not reach the worker")
                time.sleep(0.1)
            t0 = time.monotonic()
            s0 = ctl.ok("GET", "/v1/stats")
            res["loaded"] += measure(ctl, a.requests)
            s1 = ctl.ok("GET", "/v1/stats")
            dt = time.monotonic() - t0
            fwd.append((s1["ports"]["b"]["tx_packets"] - s0["ports"]["b"]["tx_packets"]) / dt)
            arp.append((s1["gateway"]["arp_rx"] - s0["gateway"]["arp_rx"]) / dt)
    out = {}
    print(f"REST latency, {a.requests} requests x {a.rounds} round(s) per state "
          "(GET stats, GET routes, POST route, DELETE route; fresh connection each)")
    print(f"{'state':8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for k, v in res.items():
        out[k] = {"p50_ms": statistics.median(v) * 1e3, "p99_ms": pct(v, 99) * 1e3,
                  "max_ms": max(v) * 1e3, "n": len(v)}
        print(f"{k:8} {out[k]['p50_ms']:8.2f} {out[k]['p99_ms']:8.2f} {out[k]['max_ms']:8.2f}")
    out["ratio_p50"] = out["loaded"]["p50_ms"] / out["idle"]["p50_ms"]
    out["ratio_p99"] = out["loaded"]["p99_ms"] / out["idle"]["p99_ms"]
    out["forwarded_pps_while_loaded"] = statistics.median(fwd)
    out["arp_answered_pps_while_loaded"] = statistics.median(arp)
    print(f"loaded/idle: p50 x{out['ratio_p50']:.2f}, p99 x{out['ratio_p99']:.2f}; "
          f"meanwhile the worker forwarded {out['forwarded_pps_while_loaded'] / 1e6:.2f} Mpps "
          f"and the main lcore answered {out['arp_answered_pps_while_loaded'] / 1e3:.0f} k ARP "
          "requests/s")
    if a.out:
        pathlib.Path(a.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
