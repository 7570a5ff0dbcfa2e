#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Report of tools/bench.d/esp_gw_bench.sh: meshgate against ipsec-secgw per
direction and frame size, and the share of dpdk-test-crypto-perf's raw
AES-GCM-128 rate meshgate reaches at 1420 B.

Two views of the same runs:
- raw: Mpps as the median of the window's seconds, best round of each app;
- per CPU-second: each round's mean rate divided by the share of the window
  the forwarding thread was on a CPU (tel.py's cpu_wait_pct: runnable but
  waiting), and the median over the rounds of the two apps' ratio. On a
  shared machine where other work takes the forwarding CPU, this is the
  figure to compare.

And the floor: the rate of a gateway that did nothing but receive, send
(dpdk-testpmd's io mode, io-DIR-SIZE) and seal each payload
(esp_bench --cipher): 1 / (1/io + seal). "floor" is that rate, "max" the
best ratio over ipsec-secgw any gateway could reach on these devices, and
the last line the share of crypto-perf's rate the floor itself allows.

usage: esp_gw_report.py RESULTS_DIR ROUNDS SIZES
"""
import json
import pathlib
import statistics
import sys


def load(d, name, r):
    p = d / f"{name}.r{r}.json"
    return json.loads(p.read_text()) if p.exists() else None


def per_cpu(j):
    on = 1 - min(j.get("cpu_wait_pct", 0), 99) / 100
    return j.get("pps", 0) / on


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


def cipher_cycles(d):
    """Frame size -> (the smallest median cycles per seal over the rounds, TSC Hz)."""
    p, out = d / "cipher.jsonl", {}
    if not p.exists():
        return out
    for line in p.read_text().splitlines():
        try:
            j = json.loads(line)
        except ValueError:
            continue
        s, c = str(j.get("size")), j.get("cycles_per_op_median")
        if c and (s not in out or c < out[s][0]):
            out[s] = (c, j.get("tsc_hz", 0))
    return out


def floor_pps(d, rounds, direction, s, ciph):
    """The floor's rate for a case (see the module's text), or None."""
    io = [load(d, f"io-{direction}-{s}", r) for r in range(1, rounds + 1)]
    io = [j.get("pps_median", j["pps"]) for j in io if j and j.get("pps")]
    if not io or s not in ciph or not ciph[s][1]:
        return None
    c, hz = ciph[s]
    return 1 / (1 / max(io) + c / hz)


def main():
    d, rounds, sizes = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")
    print("ESP AES-GCM-128, one worker core, net_pcap -> net_null, %d round(s)" % rounds)
    print("%-4s %5s | %9s %9s %6s | %9s %9s %6s %6s | %5s | %7s %6s" % (
        "dir", "bytes", "mg Mpps", "sg Mpps", "ratio", "mg/cpu-s", "sg/cpu-s", "ratio",
        "Gb/s", "wait%", "floor", "max"))
    mg1420 = floor1420 = None
    ciph = cipher_cycles(d)
    for direction in ("out", "in"):
        for s in sizes:
            mg = [load(d, f"mg-{direction}-{s}", r) for r in range(1, rounds + 1)]
            sg = [load(d, f"sg-{direction}-{s}", r) for r in range(1, rounds + 1)]
            pairs = [(a, b) for a, b in zip(mg, sg) if a and b]
            if not pairs:
                print("%-4s %5s   (missing)" % (direction, s))
                continue
            mraw = max(a.get("pps_median", a["pps"]) for a, _ in pairs)
            sraw = max(b.get("pps_median", b["pps"]) for _, b in pairs)
            mcpu = statistics.median(per_cpu(a) for a, _ in pairs)
            scpu = statistics.median(per_cpu(b) for _, b in pairs)
            ratio = statistics.median(per_cpu(a) / per_cpu(b) for a, b in pairs)
            wait = statistics.median(max(a.get("cpu_wait_pct", 0), b.get("cpu_wait_pct", 0))
                                     for a, b in pairs)
            fl = floor_pps(d, rounds, direction, s, ciph)
            if direction == "out" and s == "1420":
                mg1420, floor1420 = mcpu, fl
            print("%-4s %5s | %9.3f %9.3f %5.2fx | %9.3f %9.3f %5.2fx %6.2f | %5.0f | %s" % (
                direction, s, mraw / 1e6, sraw / 1e6, mraw / sraw, mcpu / 1e6, scpu / 1e6,
                ratio, mcpu * int(s) * 8 / 1e9, wait,
                "%7.3f %5.2fx" % (fl / 1e6, fl / scpu) if fl else "   (no floor)"))
    cp = cryptoperf(d)
    if cp and mg1420:
        print("raw AES-GCM-128 (dpdk-test-crypto-perf, 1420 B): %.3f Mops (not normalised); "
              "meshgate outbound per CPU-second: %.0f%% of it" % (cp / 1e6, 100 * mg1420 / cp))
    if cp and floor1420:
        print("the floor at 1420 B (testpmd io + the seal alone): %.3f Mpps, %.0f%% of "
              "crypto-perf's rate: no gateway on these devices can do better" % (
                  floor1420 / 1e6, 100 * floor1420 / cp))


if __name__ == "__main__":
    main()
