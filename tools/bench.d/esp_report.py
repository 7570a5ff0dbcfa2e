# SPDX-License-Identifier: BSD-3-Clause
"""The report of tools/bench.d/esp_bench.sh.

usage: esp_report.py ESP_JSONL PERF_CSV ROUNDS

ESP_JSONL: esp_bench's lines (one per configuration and round).
PERF_CSV: dpdk-test-crypto-perf's --csv-friendly throughput lines, each
prefixed with "round,driver,algorithm,".
"""
import csv
import json
import statistics
import sys


def main(esp_path, perf_path, rounds):
    ceil = {}
    for row in csv.reader(open(perf_path)):
        # round, driver, algo, lcore, buffer size, burst, enqueued, dequeued,
        # failed enq, failed deq, Mops, Gbps, cycles/buf
        _, drv, algo, _, size, *rest = [x.strip() for x in row]
        k = (drv, "aes-gcm-128" if algo == "aes-gcm" else algo, int(size))
        ceil[k] = max(ceil.get(k, 0.0), float(rest[-3]))
    res = {}
    for line in open(esp_path):
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        if "error" in r:
            print(f"error: {r}")
            continue
        drv = r["device"].rsplit("_mg", 1)[0]
        res.setdefault((r["algo"], r["size"], r["dir"], r["mode"], drv), []).append(r)

    print()
    print("lib/esp per core against dpdk-test-crypto-perf (raw AEAD encryption on the same")
    print(f"core and driver, the ceiling); best of {rounds} round(s). Size: the inner IP packet.")
    print("Mpps: total time in the library calls (like crypto-perf's figure); median: from")
    print("the median burst time, which ignores bursts other processes interrupted.")
    print()
    hdr = (f"{'algorithm':<18} {'size':>5} {'dir':<4} {'mode':<10} {'driver':<17} "
           f"{'Mpps':>7} {'median':>7} {'cyc/pkt':>8} {'ceiling':>8} {'ratio':>6}")
    print(hdr)
    print("-" * len(hdr))
    for k, rs in res.items():
        best = max(rs, key=lambda r: r["mpps"])
        med = statistics.median(r["mpps_median"] for r in rs)
        c = ceil.get((k[4], k[0], k[1]))
        cs = f"{c:.3f}" if c else "-"
        ratio = f"{best['mpps'] / c:.2f}" if c else "-"
        print(f"{k[0]:<18} {k[1]:>5} {k[2]:<4} {k[3]:<10} {k[4]:<17} {best['mpps']:>7.3f} "
              f"{med:>7.3f} {best['cycles_per_pkt']:>8.0f} {cs:>8} {ratio:>6}")
    print()
    print("Fastest mode and driver per algorithm, size and direction (median figure):")
    top = {}
    for k, rs in res.items():
        med = statistics.median(r["mpps_median"] for r in rs)
        if k[:3] not in top or med > top[k[:3]][0]:
            top[k[:3]] = (med, k[3], k[4])
    for k, (med, mode, drv) in sorted(top.items()):
        print(f"  {k[0]:<18} {k[1]:>5} {k[2]:<4} -> {mode:<9} on {drv} ({med:.3f} Mpps)")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3])
