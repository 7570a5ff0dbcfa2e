#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Report of tools/bench.d/wg_bench.sh (tools/bench --traffic wg).

usage: wg_report.py RESULTS_DIR ROUNDS SIZES

Per frame size: meshgate's rate with one worker (every packet encrypted and
decrypted; the best round's median-of-seconds Mpps), the same per second of
the worker's CPU (the window less the time it waited for its CPU), Gbit/s of
plaintext frames, the worker's cycles per packet in the encrypt path
(wg-output) and the decrypt path (wg-input) with the rate a core doing only
that path would reach (TSC Hz / cycles), and dpdk-test-crypto-perf's raw
ChaCha20-Poly1305 encrypt and decrypt rates. Then the two ratios of issue 5.
"""
import json
import pathlib
import sys


def tsc_hz():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("cpu MHz"):
                return float(line.split(":")[1]) * 1e6
    except OSError:
        pass
    return 0.0


def cryptoperf(d, op, sizes):
    """{buffer size: (ops/s of wall time, ops/s of the lcore's CPU time)} of
    dpdk-test-crypto-perf's runs (wg_path.py cpu-of-lcore JSON around its
    --csv-friendly lines)."""
    out = {}
    for size in sizes:
        p = d / f"cryptoperf-{op}-{size}.json"
        if not p.exists():
            continue
        j = json.loads(p.read_text())
        for line in j["stdout"].splitlines():
            f = [x.strip() for x in line.split(",")]
            # lcore, buffer size, burst, enqueued, dequeued, failed enq, failed deq, Mops, Gbps, cycles/buf
            if len(f) >= 10 and f[0].isdigit():
                cpu = j.get("lcore_cpu_seconds") or 0.0
                out[int(f[1])] = (float(f[7]) * 1e6, int(f[4]) / cpu if cpu else 0.0)
    return out


def best(d, size, rounds):
    """The round with the highest median rate, or None."""
    runs = []
    for r in range(1, rounds + 1):
        p = d / f"mg-{size}.r{r}.json"
        if p.exists():
            runs.append(json.loads(p.read_text()))
    return max(runs, key=lambda j: j.get("pps_median", j["pps"])) if runs else None


def node_cycles(run, name):
    """Cycles per received packet of one node over the window (timed walks only)."""
    nodes = run.get("nodes", {})
    prx = nodes.get("port-rx", {})
    rx = prx.get("sampled_packets", prx.get("packets", 0))
    return nodes.get(name, {}).get("cycles", 0) / rx if rx else 0.0


def main():
    d, rounds = pathlib.Path(sys.argv[1]), int(sys.argv[2])
    sizes = [int(s) for s in sys.argv[3].split(",")]
    hz = tsc_hz()
    enc, dec = cryptoperf(d, "encrypt", sizes), cryptoperf(d, "decrypt", sizes)
    summary = {"sizes": {}}
    print("WireGuard, one worker core, net_pcap -> wga (encrypt) -> wgb (decrypt) -> net_null,"
          " hugepages (best of %d round(s))" % rounds)
    print("%6s %10s %10s %8s | %9s %9s | %9s %9s | %9s %9s %9s" % (
        "bytes", "Mpps", "Mpps/cpu", "Gbit/s", "enc cyc", "dec cyc", "enc Mpps", "dec Mpps",
        "raw enc", "raw dec", "raw e+d"))
    mg = {}
    for s in sizes:
        run = best(d, s, rounds)
        if run is None:
            print("%6d  (missing)" % s)
            continue
        pps = run.get("pps_median", run["pps"])
        wait = min(run.get("cpu_wait_pct", 0.0), 99.0) / 100.0
        per_cpu = pps / (1.0 - wait)
        # TSC cycles inside a node include the time the worker was off its CPU
        # (preempted mid-node): scale them by the share of the window on the CPU.
        ce = node_cycles(run, "wg-output") * (1.0 - wait)
        cd = node_cycles(run, "wg-input") * (1.0 - wait)
        # Per CPU second, like meshgate's Mpps/cpu.
        re_, rd = enc.get(s, (0.0, 0.0))[1], dec.get(s, (0.0, 0.0))[1]
        both = 1.0 / (1.0 / re_ + 1.0 / rd) if re_ and rd else 0.0
        mg[s] = {"mpps": pps / 1e6, "mpps_per_cpu": per_cpu / 1e6,
                 "gbps": pps * s * 8 / 1e9, "encrypt_cycles": ce, "decrypt_cycles": cd,
                 "encrypt_path_mpps": hz / ce / 1e6 if ce and hz else 0.0,
                 "decrypt_path_mpps": hz / cd / 1e6 if cd and hz else 0.0,
                 "raw_encrypt_mpps": re_ / 1e6, "raw_decrypt_mpps": rd / 1e6,
                 "raw_both_mpps": both / 1e6,
                 "raw_encrypt_mpps_wall": enc.get(s, (0.0, 0.0))[0] / 1e6,
                 "raw_decrypt_mpps_wall": dec.get(s, (0.0, 0.0))[0] / 1e6, "drops": run.get("drops", {}),
                 "cpu_wait_pct": 100 * wait}
        m = mg[s]
        print("%6d %10.3f %10.3f %8.2f | %9.0f %9.0f | %9.3f %9.3f | %9.3f %9.3f %9.3f" % (
            s, m["mpps"], m["mpps_per_cpu"], m["gbps"], ce, cd, m["encrypt_path_mpps"],
            m["decrypt_path_mpps"], m["raw_encrypt_mpps"], m["raw_decrypt_mpps"],
            m["raw_both_mpps"]))
        if m["drops"]:
            print("       drops in the window: %s" % m["drops"])
    summary["sizes"] = mg
    wgo = None
    p = d / "wireguard-go.json"
    if p.exists():
        wgo = json.loads(p.read_text())
        summary["wireguard_go"] = wgo
        print("wireguard-go (iperf3 TCP, two namespaces): %.2f Gbit/s, ~%.3f Mpps of 1420 B, "
              "using %.2f CPUs: %.4f Mpps per wireguard-go CPU second" % (
                  wgo["gbps"], wgo["mpps"], wgo["cpu_cores"], wgo["mpps_per_cpu"]))
    print()
    print("Mpps/cpu: per second of the worker's CPU (the window less the time it waited for"
          " its CPU). enc/dec cyc: TSC cycles per packet in wg-output / wg-input, scaled by the"
          " worker's share of the window on its CPU; enc/dec Mpps: what a core doing only"
          " that path would reach (TSC Hz / those cycles). raw: dpdk-test-crypto-perf, crypto_chacha20_poly1305, one lcore, Mops per"
          " second of that lcore's CPU; e+d: one encryption plus one decryption.")
    big = max(mg) if mg else None
    if big is not None and wgo and wgo["mpps_per_cpu"]:
        r = mg[big]["mpps_per_cpu"] / wgo["mpps_per_cpu"]
        summary["ratio_wireguard_go"] = r
        print("meshgate / wireguard-go per core at %d B: %.1fx (goal >= 10x)" % (big, r))
    if big is not None and mg[big]["raw_both_mpps"]:
        m = mg[big]
        r = m["mpps_per_cpu"] / m["raw_both_mpps"]
        summary["ratio_raw"] = r
        print("meshgate / raw ChaCha20-Poly1305 (encrypt + decrypt) at %d B: %.0f%% (goal >= 80%%)"
              % (big, 100 * r))
        if m["encrypt_path_mpps"] and m["raw_encrypt_mpps"]:
            print("  estimates: encrypt path alone / raw encrypt: %.0f%%; decrypt path alone / raw decrypt:"
                  " %.0f%%" % (100 * m["encrypt_path_mpps"] / m["raw_encrypt_mpps"],
                               100 * m["decrypt_path_mpps"] / m["raw_decrypt_mpps"]))
    (d / "summary.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
