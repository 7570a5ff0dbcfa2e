#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Print tools/bench's results: Mpps per worker core for l3fwd and meshgate,
their ratio, and meshgate's per-node cycles per packet; write summary.json.

  report.py --results DIR --kinds v4,v6,mix [--duration S --warmup S ...]

DIR holds KIND.l3fwd.json and KIND.meshgate.json from tel.py measure.
"""
import argparse
import json
import os
import sys

KIND_NAMES = {"v4": "IPv4", "v6": "IPv6", "mix": "mixed"}


def cpu_info():
    model, mhz, ncpu, flags = "unknown CPU", 0.0, 0, ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                k, v = k.strip(), v.strip()
                if k == "model name" and model == "unknown CPU":
                    model = v
                elif k == "cpu MHz" and not mhz:
                    mhz = float(v)
                elif k == "processor":
                    ncpu += 1
                elif k == "flags" and not flags:
                    flags = v
    except OSError:
        pass
    virt = " (virtual machine)" if " hypervisor" in " " + flags else ""
    return model, mhz, ncpu, virt


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--kinds", required=True)
    ap.add_argument("--duration", default="?")
    ap.add_argument("--warmup", default="?")
    ap.add_argument("--flows", default="?")
    ap.add_argument("--march", default="?")
    ap.add_argument("--dpdk", default="?")
    a = ap.parse_args()
    kinds = a.kinds.split(",")
    model, mhz, ncpu, virt = cpu_info()

    res = {k: {app: load(os.path.join(a.results, "%s.%s.json" % (k, app)))
               for app in ("l3fwd", "meshgate")} for k in kinds}

    print()
    print("meshgate vs DPDK l3fwd (LPM): one forwarding core each (lcore 1), same run")
    print("  CPU:     %s%s, %d CPUs, %.0f MHz" % (model, virt, ncpu, mhz))
    print("  DPDK:    %s; both built with %s" % (a.dpdk, a.march))
    print("  traffic: net_pcap infinite_rx -> net_null, 64-byte UDP frames, %s flows per family"
          % a.flows)
    print("  window:  %s s after a %s s warm-up; Mpps = median of the 1-s rates of"
          % (a.duration, a.warmup))
    print("           packets the sink sent (window means in summary.json)")
    print()
    hdr = "%-8s %12s %14s %16s %13s %15s" % ("traffic", "l3fwd Mpps", "meshgate Mpps",
                                             "meshgate/l3fwd", "l3fwd cyc/pk", "meshgate cyc/pk")
    print(hdr)
    print("-" * len(hdr))
    summary = {"cpu": model, "cpu_mhz": mhz, "dpdk": a.dpdk, "march": a.march,
               "duration_s": a.duration, "warmup_s": a.warmup, "flows": a.flows,
               "results": {}}
    warnings = []
    for k in kinds:
        l3, mg = res[k]["l3fwd"], res[k]["meshgate"]
        l3p = l3.get("pps_median", l3["pps"]) if l3 else 0.0
        mgp = mg.get("pps_median", mg["pps"]) if mg else 0.0
        ratio = mgp / l3p if l3p else 0.0
        cyc = lambda p: ("%13.0f" % (mhz * 1e6 / p)) if p and mhz else "%13s" % "-"
        print("%-8s %12.2f %14.2f %16.2f %s %s" % (KIND_NAMES.get(k, k), l3p / 1e6, mgp / 1e6,
                                                  ratio, cyc(l3p), cyc(mgp).rjust(15)))
        summary["results"][k] = {"l3fwd_mpps": round(l3p / 1e6, 3),
                                 "meshgate_mpps": round(mgp / 1e6, 3),
                                 "ratio": round(ratio, 3),
                                 "l3fwd_mpps_mean": round(l3["pps"] / 1e6, 3) if l3 else 0,
                                 "meshgate_mpps_mean": round(mg["pps"] / 1e6, 3) if mg else 0}
        for app, r in (("l3fwd", l3), ("meshgate", mg)):
            if not r:
                warnings.append("%s %s: no result" % (app, k))
                continue
            if r["rx_packets"] and r["tx_packets"] < 0.99 * r["rx_packets"]:
                warnings.append("%s %s: forwarded only %.1f%% of the %d packets it received"
                                % (app, k, 100.0 * r["tx_packets"] / r["rx_packets"],
                                   r["rx_packets"]))
            if r.get("rx_missed") or r.get("tx_errors"):
                warnings.append("%s %s: rx_missed %d, tx_errors %d"
                                % (app, k, r.get("rx_missed", 0), r.get("tx_errors", 0)))
            noise = r.get("cpu_wait_pct", 0.0) + r.get("steal_pct", 0.0)
            if noise > 2.0:
                warnings.append("%s %s: its forwarding thread lost %.1f%% of the window to "
                                "other threads on its CPU (%.1f%%) and hypervisor steal "
                                "(%.1f%%): its figure is low"
                                % (app, k, noise, r.get("cpu_wait_pct", 0.0),
                                   r.get("steal_pct", 0.0)))
            if r.get("hugepages_in_use", 1) == 0:
                warnings.append("%s %s: ran without hugepages: its figure is not comparable"
                                % (app, k))
            if r.get("drops"):
                warnings.append("%s %s: drops %s" % (app, k, r["drops"]))
    print()
    print("cyc/pk: TSC cycles per packet at the measured rate (%.0f MHz / Mpps)." % mhz)

    # meshgate's graph nodes over the window, per packet received.
    names = []
    for k in kinds:
        mg = res[k]["meshgate"]
        for n in (mg or {}).get("nodes", {}):
            if n not in names:
                names.append(n)
    if names:
        print()
        print("meshgate per-node cycles per received packet, over the window:")
        hdr = "%-16s" % "node" + "".join("%10s" % KIND_NAMES.get(k, k) for k in kinds)
        print(hdr)
        print("-" * len(hdr))
        sums = {k: 0.0 for k in kinds}
        rows = []
        for n in names:
            row = "%-16s" % n
            for k in kinds:
                mg = res[k]["meshgate"] or {}
                nodes = mg.get("nodes", {})
                rx = nodes.get("port-rx", {}).get("packets", 0)
                c = nodes.get(n, {}).get("cycles", 0)
                v = c / rx if rx else 0.0
                sums[k] += v
                row += "%10.1f" % v if n in nodes else "%10s" % "-"
            rows.append(row)
        print("\n".join(rows))
        print("-" * len(hdr))
        print("%-16s" % "sum of nodes" + "".join("%10.1f" % sums[k] for k in kinds))
        row = "%-16s" % "outside nodes"
        row2 = "%-16s" % "total"
        for k in kinds:
            # The node counters cover the whole window: compare with its mean.
            mg = res[k]["meshgate"] or {}
            tot = mhz * 1e6 / mg["pps"] if mg.get("pps") and mhz else 0.0
            row += "%10.1f" % (tot - sums[k]) if tot else "%10s" % "-"
            row2 += "%10.1f" % tot if tot else "%10s" % "-"
        print(row)
        print(row2)
        print()
        print("A node's cycles divided by the packets port-rx received, so the column adds up;")
        print("'outside nodes' is the rest of the total: graph walk, worker loop, RCU, stats.")
        print("Per-node figures include DPDK's graph stats (two rdtsc per node call).")
        for k in kinds:
            mg = res[k]["meshgate"] or {}
            summary["results"][k]["meshgate_nodes"] = mg.get("nodes", {})

    if warnings:
        print()
        for w in warnings:
            print("warning: " + w)
    with open(os.path.join(a.results, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    if any(not (res[k]["l3fwd"] and res[k]["meshgate"]) for k in kinds):
        sys.exit(1)


if __name__ == "__main__":
    main()
