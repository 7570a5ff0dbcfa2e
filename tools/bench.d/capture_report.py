#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The capture case's table: meshgate's forwarding rate with each capture
variant, its ratio to the rate without a capture (medians over the rounds),
and what the capture wrote and dropped (copies, never packets)."""
import json
import pathlib
import statistics
import sys

res, rounds = pathlib.Path(sys.argv[1]), int(sys.argv[2])
VARIANTS = [("none", "no capture"), ("nomatch", 'filter matching nothing ("udp port 9")'),
            ("someflows", 'one flow in 256 ("udp src port 1024")'),
            ("all", "every packet, snap length 64")]


def load(p):
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None


rates = {}
caps = {}
for v, _ in VARIANTS:
    rs = []
    for r in range(1, rounds + 1):
        m = load(res / f"capture.{v}.r{r}.json")
        if m:
            rs.append(m.get("pps_median", m["pps"]))
        c = load(res / f"capture.{v}.r{r}.captures.json")
        if c:
            caps.setdefault(v, []).append(c[0] if c else {})
    rates[v] = statistics.median(rs) if rs else 0.0
base = rates["none"]
print("\ncapture case: meshgate forwarding mixed IPv4/IPv6 64-byte UDP, one worker "
      f"({rounds} round(s), medians)")
print(f"{'capture at the RX port':44s} {'Mpps':>8s} {'ratio':>7s} {'written':>12s} {'dropped':>12s}")
for v, label in VARIANTS:
    c = caps.get(v, [{}])[-1] if v != "none" else {}
    ratio = rates[v] / base if base else 0.0
    print(f"{label:44s} {rates[v] / 1e6:8.3f} {ratio:7.3f} "
          f"{c.get('packets', '-')!s:>12s} {c.get('dropped', '-')!s:>12s}")
summary = {v: {"mpps": round(rates[v] / 1e6, 3),
               "ratio": round(rates[v] / base, 3) if base else None} for v, _ in VARIANTS}
(res / "capture.summary.json").write_text(json.dumps(summary, indent=1))
