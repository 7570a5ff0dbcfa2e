#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Report of tools/bench.d/esp_gw_bench.sh: meshgate against ipsec-secgw per
direction and frame size (Mpps as the median of each window's seconds, the
best round of each), Gbit/s of plaintext frames, the ratio, and the share
of dpdk-test-crypto-perf's raw AES-GCM-128 rate meshgate reaches at 1420 B.

usage: esp_gw_report.py RESULTS_DIR ROUNDS SIZES
"""
import json
import pathlib
import sys


def best(d, name, rounds):
    vals = []
    for r in range(1, rounds + 1):
        p = d / f"{name}.r{r}.json"
        if p.exists():
            j = json.loads(p.read_text())
            vals.append(j.get("pps_median", j.get("pps", 0)))
    return max(vals) if vals else None


def cryptoperf(d):
    p = d / "cryptoperf.csv"
    if not p.exists():
        return None
    for line in p.read_text().splitlines():
        f = [x.strip() for x in line.split(",")]
        # lcore, buffer size, burst, enqueued, dequeued, failed enq, failed deq, Mops, Gbps, cycles/buf
        if len(f) >= 10 and f[0].isdigit():
            return float(f[-3]) * 1e6
    return None


def main():
    d, rounds, sizes = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")
    print("ESP AES-GCM-128, one worker core, net_pcap -> net_null (best of %d round(s))" % rounds)
    print("%-9s %6s %12s %12s %10s %10s %7s" % ("direction", "bytes", "meshgate", "secgw",
                                                 "mg Gbit/s", "sg Gbit/s", "ratio"))
    mg1420 = None
    for direction in ("out", "in"):
        for s in sizes:
            mg, sg = best(d, f"mg-{direction}-{s}", rounds), best(d, f"sg-{direction}-{s}", rounds)
            if mg is None or sg is None:
                print("%-9s %6s  (missing)" % (direction, s))
                continue
            if direction == "out" and s == "1420":
                mg1420 = mg
            print("%-9s %6s %9.3f Mpps %9.3f Mpps %10.2f %10.2f %6.2fx" % (
                direction, s, mg / 1e6, sg / 1e6, mg * int(s) * 8 / 1e9,
                sg * int(s) * 8 / 1e9, mg / sg if sg else 0))
    cp = cryptoperf(d)
    if cp and mg1420:
        print("raw AES-GCM-128 (dpdk-test-crypto-perf, 1420 B): %.3f Mops; meshgate outbound "
              "reaches %.0f%% of it" % (cp / 1e6, 100 * mg1420 / cp))


if __name__ == "__main__":
    main()
