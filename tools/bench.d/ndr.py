# SPDX-License-Identifier: BSD-3-Clause
"""tools/bench --ndr: RFC 2544 NDR/PDR on virtual devices.

The trials run in ndrgen (ndrgen.c beside this file), a DPDK generator on
memif whose peer is the device under test (meshgate, DPDK's testpmd as the
peer, or ndrgen's own "police" mode of known capacity in the tests). The
search is tools/trex/rfc2544.py, the code the TRex driver runs.

  ndr.py search --gen BIN --label NAME --out FILE.json [--max-rate PPS] [--size 64]
                [--duration S] [--resolution R] [--pdr-loss L | --no-pdr] [--confirm N]
                [--retry-short N]
                -- EAL-AND-NDRGEN-ARGS...
  ndr.py report FILE.json...      the table, and the ratio of the first to the others
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "trex"))

import rfc2544  # noqa: E402


class GenError(RuntimeError):
    pass


class LocalTrials:
    """Trials through a running ndrgen in gen mode (one process for all)."""

    def __init__(self, argv, ready_timeout=30.0, log=None):
        self.log = log
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, bufsize=1)
        deadline = time.monotonic() + ready_timeout
        while True:
            line = self.p.stdout.readline()
            if line.strip() == "ready":
                return
            if not line or time.monotonic() > deadline:
                self.close()
                raise GenError("ndrgen did not get ready: " + self.p.stderr.read()[-2000:])

    def __call__(self, rate_pps, seconds=None):
        seconds = seconds or self.duration
        self.p.stdin.write(f"trial {rate_pps:.1f} {seconds}\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise GenError("ndrgen stopped: " + self.p.stderr.read()[-2000:])
        r = json.loads(line)
        if "error" in r:
            raise GenError(r["error"])
        return rfc2544.Trial(rate_pps, int(r["tx"]), int(r["rx"]), float(r["seconds"]))

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write("quit\n")
                self.p.stdin.flush()
            except (BrokenPipeError, OSError):
                pass
            try:
                self.p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def result_json(label, size, ndr, pdr, gen_max):
    def one(r):
        return {"rate_pps": r.rate_pps, "loss_allowed": r.loss_allowed,
                "generator_limited": r.generator_limited,
                "trials": [vars(t) for t in r.trials],
                "passed": vars(r.passed) if r.passed else None}
    return {"label": label, "size": size, "gen_max_pps": gen_max, "ndr": one(ndr),
            "pdr": one(pdr)}


def from_json(d, key):
    r = d[key]
    trials = [rfc2544.Trial(**t) for t in r["trials"]]
    passed = rfc2544.Trial(**r["passed"]) if r["passed"] else None
    return rfc2544.Result(r["loss_allowed"], r["rate_pps"], passed, trials, d["gen_max_pps"],
                          r["generator_limited"])


def cmd_search(a, gen_argv):
    log = (lambda m: print(m, file=sys.stderr, flush=True)) if not a.quiet else None
    t = LocalTrials([a.gen] + gen_argv + ["--size", str(a.size)], log=log)
    t.duration = a.duration
    try:
        max_pps = a.max_rate
        if max_pps is None:
            # The generator's own ceiling: a short unpaced trial.
            probe = t(100e6, seconds=min(a.duration, 1.0))
            max_pps = probe.tx_pps
            if log:
                log(f"{a.label}: the generator offers at most {max_pps / 1e6:.3f} Mpps")
        if log:
            log(f"{a.label}: {a.size} B, up to {max_pps / 1e6:.3f} Mpps, {a.duration:g} s "
                "per trial")
        if a.no_pdr:
            ndr = rfc2544.search(t, max_pps, 0.0, a.resolution, None, a.confirm,
                                 retry_short=a.retry_short, log=log)
            pdr = ndr
        else:
            ndr, pdr = rfc2544.ndr_pdr(t, max_pps, a.pdr_loss, a.resolution, a.confirm,
                                       log=log, retry_short=a.retry_short)
    finally:
        t.close()
    out = result_json(a.label, a.size, ndr, pdr, max_pps)
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    print(f"{a.label}: NDR {ndr.rate_pps / 1e6:.4f} Mpps, PDR {pdr.rate_pps / 1e6:.4f} Mpps")
    return 0


def cmd_report(a):
    rows, data = [], []
    for path in a.files:
        with open(path) as f:
            d = json.load(f)
        data.append(d)
        rows.append((d["label"], d["size"], from_json(d, "ndr"), from_json(d, "pdr")))
    print(rfc2544.table(rows))
    if len(rows) > 1 and rows[1][2].rate_pps > 0:
        base = rows[0]
        for other in rows[1:]:
            if other[2].rate_pps > 0:
                print(f"NDR ratio {base[0]}/{other[0]}: "
                      f"{base[2].rate_pps / other[2].rate_pps:.2f}")
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    gen_argv = []
    if "--" in argv:
        i = argv.index("--")
        argv, gen_argv = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(prog="ndr.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("search")
    s.add_argument("--gen", required=True)
    s.add_argument("--label", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--size", type=int, default=64)
    s.add_argument("--max-rate", type=float)
    s.add_argument("--duration", type=float, default=2.0)
    s.add_argument("--resolution", type=float, default=0.01)
    s.add_argument("--pdr-loss", type=float, default=0.001)
    s.add_argument("--confirm", type=int, default=1)
    s.add_argument("--retry-short", type=int, default=2)
    s.add_argument("--no-pdr", action="store_true", help="only the NDR")
    s.add_argument("--quiet", action="store_true")
    r = sub.add_parser("report")
    r.add_argument("files", nargs="+")
    a = ap.parse_args(argv)
    if a.cmd == "search":
        return cmd_search(a, gen_argv)
    return cmd_report(a)


if __name__ == "__main__":
    sys.exit(main())
