#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Print tools/bench's results: Mpps per worker core for l3fwd and meshgate,
their ratio, and meshgate's per-node cycles per packet; write summary.json.

  report.py --results DIR --kinds v4,v6,mix --rounds N [--duration S ...]

DIR holds KIND.APP.rROUND.json from `tel.py measure` (APP: l3fwd, meshgate,
and for the rulesN kinds l3fwd-acl: l3fwd's ACL lookup mode through the same
rules).
An app's figure for a kind is the median over rounds of its per-second
median rate; the ratio is the median of the rounds' ratios, since both apps
of one round saw about the same machine.
"""
import argparse
import json
import os
import sys

KIND_NAMES = {"v4": "IPv4", "v6": "IPv6", "mix": "mixed"}
KIND_NAMES.update({f"rules{n}": f"{n} rules" for n in (1, 10, 100, 1000, 10000, 100000)})
APPS = ("l3fwd", "meshgate", "l3fwd-acl")


def apps_of(kind):
    return APPS if kind.startswith("rules") else APPS[:2]


def median(xs):
    xs = sorted(xs)
    if not xs:
        return 0.0
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


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


def peer_figures(rk, peer):
    """For one kind's results @rk: medians of the peer's and meshgate's rates,
    the median ratio meshgate/peer over complete rounds, and the per-round
    ratios (None where a round is missing)."""
    per_round = [rate(m) / rate(p) if p and m and rate(p) else None
                 for p, m in zip(rk[peer], rk["meshgate"])]
    done = [x for x in per_round if x is not None]
    return (median([rate(r) for r in rk[peer] if r]),
            median([rate(r) for r in rk["meshgate"] if r]), median(done), per_round)


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def rate(r):
    return r.get("pps_median", r["pps"]) if r else 0.0


def updates_report(a, summary, warnings, mhz):
    """The update-rate case: REST route updates/s while forwarding, the loss,
    the forwarding rate with and without updates, the kernel's rate."""
    base = load(os.path.join(a.results, "updates.base.json"))
    during = load(os.path.join(a.results, "updates.during.json"))
    churn = load(os.path.join(a.results, "updates.churn.json"))
    kernel = load(os.path.join(a.results, "updates.kernel.json"))
    stats = load(os.path.join(a.results, "updates.stats.json"))
    busy = load(os.path.join(a.results, "updates.busy.json"))
    conns = load(os.path.join(a.results, "updates.connections.json"))
    if not (base and during and churn and kernel and stats and busy):
        warnings.append("updates: results missing")
        return False
    rx = stats["ports"]["src"]["rx_packets"]
    tx = stats["ports"]["sink"]["tx_packets"]
    drops = sum(stats["drops"].values())
    lost = rx - tx
    print()
    print("route updates while forwarding (mixed IPv4/IPv6, one worker), same run:")
    hdr = "%-44s %14s" % ("", "value")
    print(hdr)
    print("-" * len(hdr))
    print("%-44s %14.0f" % ("meshgate updates/s (REST, batches of %d)" % churn["batch"],
                            churn["rate"]))
    if conns:
        print("%-44s %14.0f" % ("NSM connections set up and closed /s", conns["rate"]))
    print("%-44s %14.0f" % ("Linux kernel updates/s (ip -batch, netlink)", kernel["rate"]))
    print("%-44s %14.2f" % ("ratio meshgate/kernel", churn["rate"] / kernel["rate"]))
    print("%-44s %14.2f" % ("forwarding Mpps without updates", rate(base) / 1e6))
    print("%-44s %14.2f" % ("forwarding Mpps, CPU 0 busy with a plain loop", rate(busy) / 1e6))
    print("%-44s %14.2f" % ("forwarding Mpps during updates", rate(during) / 1e6))
    print("%-44s %14.2f" % ("ratio during updates / without",
                            rate(during) / rate(base) if rate(base) else 0.0))
    print("%-44s %14.2f" % ("ratio CPU 0 busy / without",
                            rate(busy) / rate(base) if rate(base) else 0.0))
    print("%-44s %14d" % ("packets received over the run", rx))
    print("%-44s %14d" % ("packets not forwarded (dropped: %d)" % drops, lost))
    print()
    print("The updates add and delete /24 and /56 routes beside the traffic (at most 2,000")
    print("installed at once) and move the traffic's own routes between two next hops that")
    print("both forward: every packet received should leave (goal: >= 10,000 updates/s, 0 lost).")
    print("The updates run on CPU 0 beside the client that sends them; 'CPU 0 busy' is the")
    print("same window with a plain loop there instead: what the worker on CPU 1 loses to a")
    print("busy neighbour alone (on this VM the two vCPUs may share a physical core).")
    summary["updates"] = {
        "rest_updates_per_s": round(churn["rate"]), "batch": churn["batch"],
        "kernel_updates_per_s": round(kernel["rate"]),
        "ratio_vs_kernel": round(churn["rate"] / kernel["rate"], 3),
        "fwd_mpps_without": round(rate(base) / 1e6, 3),
        "fwd_mpps_during": round(rate(during) / 1e6, 3),
        "fwd_mpps_cpu0_busy": round(rate(busy) / 1e6, 3),
        "nsm_connections_per_s": round(conns["rate"]) if conns else None,
        "packets": rx, "lost": lost, "drops": drops,
    }
    if lost:
        warnings.append("updates: %d packets received were not forwarded" % lost)
    if churn["rate"] < 10000:
        warnings.append("updates: %.0f updates/s is below the 10,000/s goal" % churn["rate"])
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--kinds", required=True)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--duration", default="?")
    ap.add_argument("--warmup", default="?")
    ap.add_argument("--flows", default="?")
    ap.add_argument("--march", default="?")
    ap.add_argument("--dpdk", default="?")
    ap.add_argument("--updates", type=int, default=0)
    a = ap.parse_args()
    kinds = [k for k in a.kinds.split(",") if k]
    rounds = list(range(1, a.rounds + 1))
    model, mhz, ncpu, virt = cpu_info()

    # res[kind][app] = [result of round 1, ...] (None where a round is missing)
    res = {k: {app: [load(os.path.join(a.results, "%s.%s.r%d.json" % (k, app, r)))
                     for r in rounds] for app in APPS} for k in kinds}

    summary = {"cpu": model, "cpu_mhz": mhz, "dpdk": a.dpdk, "march": a.march,
               "duration_s": a.duration, "warmup_s": a.warmup, "flows": a.flows,
               "rounds": a.rounds, "results": {}}
    warnings = []
    complete = True
    if kinds:
        complete = forwarding_report(a, kinds, rounds, res, summary, warnings, mhz, model,
                                     ncpu, virt)
    if a.updates:
        complete = updates_report(a, summary, warnings, mhz) and complete

    if warnings:
        print()
        for w in warnings:
            print("warning: " + w)
    with open(os.path.join(a.results, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    if not complete:
        sys.exit(1)


def acl_report(a, kinds, res, summary, cyc, mhz):
    """The rulesN kinds against l3fwd's ACL mode through the same rules."""
    kinds = [k for k in kinds if k.startswith("rules")]
    if not kinds:
        return True
    complete = True
    print()
    print("the same rules in l3fwd's ACL lookup mode (--lookup=acl: rte_acl over every packet,")
    print("routes by rule, no counters), same run:")
    hdr = "%-11s %14s %14s %20s %13s" % ("traffic", "l3fwd-acl Mpps", "meshgate Mpps",
                                        "meshgate/l3fwd-acl", "acl cyc/pk")
    print(hdr)
    print("-" * len(hdr))
    for k in kinds:
        aclp, mgp, ratio, per_round = peer_figures(res[k], "l3fwd-acl")
        complete = complete and None not in per_round
        print("%-11s %14.2f %14.2f %20.2f %s" % (KIND_NAMES.get(k, k), aclp / 1e6, mgp / 1e6,
                                                ratio, cyc(aclp, 13)))
        summary["results"][k].update({
            "l3fwd_acl_mpps": round(aclp / 1e6, 3), "ratio_vs_l3fwd_acl": round(ratio, 3),
            "ratios_vs_l3fwd_acl": [round(x, 3) if x is not None else None
                                    for x in per_round]})
    # What 0.9x of l3fwd's LPM rate leaves for classifying, against what
    # classifying the same rules costs l3fwd itself (its ACL mode less its LPM mode).
    for k in kinds:
        l3p = peer_figures(res[k], "l3fwd")[0]
        aclp = peer_figures(res[k], "l3fwd-acl")[0]
        if not (l3p and aclp and mhz):
            continue
        lpm, acl = mhz * 1e6 / l3p, mhz * 1e6 / aclp
        print("%s: 0.9x l3fwd (LPM) allows %.0f cycles a packet, %.0f beyond l3fwd's own; "
              "classifying them costs l3fwd %.0f" % (KIND_NAMES.get(k, k), lpm / 0.9,
                                                     lpm / 0.9 - lpm, acl - lpm))
        summary["results"][k].update({
            "budget_at_0_9_l3fwd_cycles": round(lpm / 0.9 - lpm, 1),
            "l3fwd_acl_minus_lpm_cycles": round(acl - lpm, 1)})
    # Cost growth with the rule count: each kind's cycles a packet over the fewest rules'.
    base = min(kinds, key=lambda k: int(k[5:]) if k[5:].isdigit() else 0)
    mg0, acl0 = peer_figures(res[base], "l3fwd-acl")[1], peer_figures(res[base], "l3fwd-acl")[0]
    for k in kinds:
        aclp, mgp = peer_figures(res[k], "l3fwd-acl")[:2]
        if k == base or not (mg0 and mgp and acl0 and aclp):
            continue
        print("cost growth from %s to %s: meshgate %+.0f%%, l3fwd-acl %+.0f%% (cycles a packet)"
              % (KIND_NAMES.get(base, base), KIND_NAMES.get(k, k), 100 * (mg0 / mgp - 1),
                 100 * (acl0 / aclp - 1)))
        summary["results"][k]["cost_growth_vs_%s" % base] = round(mg0 / mgp - 1, 3)
    return complete


def forwarding_report(a, kinds, rounds, res, summary, warnings, mhz, model, ncpu, virt):
    """meshgate vs l3fwd per traffic kind, and the per-node cycles."""
    complete = True
    print()
    print("meshgate vs DPDK l3fwd (LPM): one forwarding core each (lcore 1), same run")
    print("  CPU:     %s%s, %d CPUs, %.0f MHz" % (model, virt, ncpu, mhz))
    print("  DPDK:    %s; both built with %s" % (a.dpdk, a.march))
    print("  traffic: net_pcap infinite_rx -> net_null, 64-byte UDP frames, %s flows per family"
          % a.flows)
    print("  window:  %s s after a %s s warm-up%s; Mpps = median of the 1-s rates of"
          % (a.duration, a.warmup,
             ", %d rounds (medians)" % a.rounds if a.rounds > 1 else ""))
    print("           packets the sink sent (window means in summary.json)")
    print()
    hdr = "%-8s %12s %14s %16s %13s %15s" % ("traffic", "l3fwd Mpps", "meshgate Mpps",
                                             "meshgate/l3fwd", "l3fwd cyc/pk", "meshgate cyc/pk")
    print(hdr)
    print("-" * len(hdr))

    def cyc(p, width):
        return ("%*.0f" % (width, mhz * 1e6 / p)) if p and mhz else "%*s" % (width, "-")

    for k in kinds:
        l3p, mgp, ratio, per_round = peer_figures(res[k], "l3fwd")
        complete = complete and None not in per_round
        print("%-8s %12.2f %14.2f %16.2f %s %s" % (KIND_NAMES.get(k, k), l3p / 1e6, mgp / 1e6,
                                                  ratio, cyc(l3p, 13), cyc(mgp, 15)))
        summary["results"][k] = {
            "l3fwd_mpps": round(l3p / 1e6, 3), "meshgate_mpps": round(mgp / 1e6, 3),
            "ratio": round(ratio, 3),
            "rounds": [{"l3fwd_mpps": round(rate(l) / 1e6, 3) if l else None,
                        "meshgate_mpps": round(rate(m) / 1e6, 3) if m else None,
                        "l3fwd_mpps_mean": round(l["pps"] / 1e6, 3) if l else None,
                        "meshgate_mpps_mean": round(m["pps"] / 1e6, 3) if m else None}
                       for l, m in zip(res[k]["l3fwd"], res[k]["meshgate"])],
        }
        for app in apps_of(k):
            for rnd, r in zip(rounds, res[k][app]):
                tag = "%s %s%s" % (app, k, " round %d" % rnd if a.rounds > 1 else "")
                if not r:
                    warnings.append("%s: no result" % tag)
                    continue
                if r["rx_packets"] and r["tx_packets"] < 0.99 * r["rx_packets"]:
                    warnings.append("%s: forwarded only %.1f%% of the %d packets it received"
                                    % (tag, 100.0 * r["tx_packets"] / r["rx_packets"],
                                       r["rx_packets"]))
                if r.get("rx_missed") or r.get("tx_errors"):
                    warnings.append("%s: rx_missed %d, tx_errors %d"
                                    % (tag, r.get("rx_missed", 0), r.get("tx_errors", 0)))
                noise = r.get("cpu_wait_pct", 0.0) + r.get("steal_pct", 0.0)
                if noise > 2.0:
                    warnings.append("%s: its forwarding thread lost %.1f%% of the window to "
                                    "other threads on its CPU (%.1f%%) and hypervisor steal "
                                    "(%.1f%%)" % (tag, noise, r.get("cpu_wait_pct", 0.0),
                                                  r.get("steal_pct", 0.0)))
                if r.get("hugepages_in_use", 1) == 0:
                    warnings.append("%s: ran without hugepages: its figure is not comparable"
                                    % tag)
                if r.get("drops"):
                    warnings.append("%s: drops %s" % (tag, r["drops"]))
    if a.rounds > 1:
        print()
        print("ratio per round: " + "; ".join(
            "%s %s" % (KIND_NAMES.get(k, k), " ".join(
                "%.2f" % (rate(m) / rate(l)) if l and m and rate(l) else "-"
                for l, m in zip(res[k]["l3fwd"], res[k]["meshgate"]))) for k in kinds))
    complete = acl_report(a, kinds, res, summary, cyc, mhz) and complete
    print()
    print("cyc/pk: TSC cycles per packet at the measured rate (%.0f MHz / Mpps)." % mhz)

    # The flow kinds: the tracker's table at the end of each window.
    for k in kinds:
        if not k.startswith("flows"):
            continue
        for rnd in rounds:
            try:
                with open(os.path.join(a.results, "%s.meshgate.r%d.flows.json" % (k, rnd))) as f:
                    ft = json.load(f)
            except (OSError, ValueError):
                continue
            print("%s round %d: flow table size %s per worker, %s flows active, %s created, "
                  "%s found it full" % (k, rnd, ft.get("size", "?"), ft.get("active", "?"),
                                        ft.get("created", "?"), ft.get("table_full", "?")))
            summary["results"].setdefault(k, {}).setdefault("flow_table", []).append(
                {"size": ft.get("size"), "active": ft.get("active"),
                 "created": ft.get("created"), "table_full": ft.get("table_full")})

    # meshgate's graph nodes over the windows of all rounds, per packet received.
    agg = {}
    for k in kinds:
        nodes, secs, fwd = {}, 0.0, 0
        for r in res[k]["meshgate"]:
            if not r:
                continue
            secs += r["seconds"]
            fwd += r["tx_packets"]
            for n, d in r.get("nodes", {}).items():
                acc = nodes.setdefault(n, {})
                for f, v in d.items():
                    acc[f] = acc.get(f, 0) + v
        agg[k] = (nodes, secs, fwd)
        summary["results"][k]["meshgate_nodes"] = nodes
    names = []
    for k in kinds:
        for n in agg[k][0]:
            if n not in names:
                names.append(n)
    if names:
        print()
        print("meshgate per-node cycles per received packet, over the window%s:"
              % ("s" if a.rounds > 1 else ""))
        hdr = "%-16s" % "node" + "".join("%10s" % KIND_NAMES.get(k, k) for k in kinds)
        print(hdr)
        print("-" * len(hdr))
        sums = {k: 0.0 for k in kinds}
        for n in names:
            row = "%-16s" % n
            for k in kinds:
                nodes = agg[k][0]
                # meshgate may time only some graph walks: then cycles cover
                # the packets of those walks (sampled_packets), not all.
                prx = nodes.get("port-rx", {})
                rx = prx.get("sampled_packets", prx.get("packets", 0))
                v = nodes.get(n, {}).get("cycles", 0) / rx if rx else 0.0
                sums[k] += v
                row += "%10.1f" % v if n in nodes else "%10s" % "-"
            print(row)
        print("-" * len(hdr))
        print("%-16s" % "sum of nodes" + "".join("%10.1f" % sums[k] for k in kinds))
        row, row2 = "%-16s" % "outside nodes", "%-16s" % "total"
        for k in kinds:
            # The node counters cover whole windows: compare with their mean rate.
            _, secs, fwd = agg[k]
            tot = mhz * 1e6 * secs / fwd if fwd and mhz else 0.0
            row += "%10.1f" % (tot - sums[k]) if tot else "%10s" % "-"
            row2 += "%10.1f" % tot if tot else "%10s" % "-"
        print(row)
        print(row2)
        print()
        print("A node's cycles divided by the packets port-rx received (in the timed walks")
        print("where meshgate samples), so the column adds up; 'outside nodes' is the rest of")
        print("the total: graph walk, worker loop, RCU, timing itself. port-rx and port-tx")
        print("include the PMDs' work: net_pcap's copy into a new mbuf, net_null's free.")

    return complete


if __name__ == "__main__":
    main()
