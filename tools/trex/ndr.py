#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""RFC 2544 throughput of meshgate with TRex: NDR and PDR per frame size.

Runs on the TRex host against a running TRex server (./t-rex-64 -i -c N in
TRex's directory, with tools/trex/trex_cfg.yaml as /etc/trex_cfg.yaml),
through TRex's Python API (trex.stl.api). For each frame size it loads the
profile with that size, runs trials of --duration seconds at fixed rates and
binary-searches the highest rate without loss (NDR) and with at most
--pdr-loss (PDR), then prints the table. The search is tools/trex/rfc2544.py,
the same code that tools/bench --ndr runs on virtual devices.

examples:
  tools/trex/ndr.py --link-gbps 25 --sizes 64,128,512,1518
  tools/trex/ndr.py --profile tools/trex/profiles/imix.py --sizes mix --bidir
  tools/trex/ndr.py --profile tools/trex/profiles/gtpu.py -t teids=100000 --sizes 128,512
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import rfc2544  # noqa: E402


def import_trex(trex_dir):
    """trex.stl.api from the TRex installation (or whatever is on sys.path)."""
    for d in (trex_dir, os.environ.get("TREX_DIR"), "/opt/trex/current"):
        if d:
            p = os.path.join(d, "automation", "trex_control_plane", "interactive")
            if os.path.isdir(p) and p not in sys.path:
                sys.path.insert(0, p)
    try:
        from trex.stl import api
    except ImportError as e:
        sys.exit(f"ndr.py: cannot import trex.stl.api ({e}): give --trex-dir, the directory "
                 "TRex was unpacked in (v2.80 or later)")
    return api


def parse_rate(s):
    """"14.88mpps", "500kpps", "1000000" -> pps."""
    v = s.lower().replace("pps", "")
    scale = {"k": 1e3, "m": 1e6, "g": 1e9}.get(v[-1:], 1)
    return float(v[:-1] if scale != 1 else v) * scale


def parse_tunables(items):
    out = {}
    for item in items or []:
        for kv in item.split(","):
            k, sep, v = kv.partition("=")
            if not sep:
                raise argparse.ArgumentTypeError(f"tunable '{kv}' is not NAME=VALUE")
            out[k.strip()] = v.strip()
    return out


class TrexTrials:
    """Trials on a TRex server: constant rate for @duration, counters after."""

    def __init__(self, api, client, tx_ports, rx_ports, duration, rx_delay_ms=100):
        self.api, self.c = api, client
        self.tx_ports, self.rx_ports = tx_ports, rx_ports
        self.duration = duration
        self.rx_delay_ms = rx_delay_ms

    def load(self, profile, size):
        self.c.reset(ports=self.tx_ports + [p for p in self.rx_ports if p not in self.tx_ports])
        for d, port in enumerate(self.tx_ports):
            kw = dict(self.tunables)
            if size is not None:
                kw["size"] = size
            prof = self.api.STLProfile.load_py(profile, direction=d, port_id=port, **kw)
            self.c.add_streams(prof.get_streams(), ports=[port])

    def __call__(self, rate_pps):
        self.c.clear_stats()
        # mult with total=True: the rate is shared by every transmitting port.
        self.c.start(ports=self.tx_ports, mult=f"{rate_pps:.0f}pps", duration=self.duration,
                     total=True)
        self.c.wait_on_traffic(ports=self.tx_ports, rx_delay_ms=self.rx_delay_ms)
        st = self.c.get_stats()
        tx = sum(int(st[p]["opackets"]) for p in self.tx_ports)
        rx = sum(int(st[p]["ipackets"]) for p in self.rx_ports)
        return rfc2544.Trial(rate_pps, tx, rx, float(self.duration))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="tools/trex/ndr.py", description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", default="127.0.0.1", help="TRex server (default 127.0.0.1)")
    ap.add_argument("--trex-dir", help="where TRex is unpacked (default $TREX_DIR, "
                                       "/opt/trex/current)")
    ap.add_argument("--profile", default=os.path.join(HERE, "profiles", "udp_64b.py"),
                    help="STL profile (default profiles/udp_64b.py)")
    ap.add_argument("-t", "--tunables", action="append", metavar="K=V[,K=V]",
                    help="profile tunables (flows=1000, teids=100000, ...)")
    ap.add_argument("--sizes", default="64,128,256,512,1024,1280,1518",
                    help="frame sizes with FCS, comma-separated; 'mix' for profiles that "
                         "set their own sizes (imix, esp_inner, wg_inner)")
    ap.add_argument("--bidir", action="store_true",
                    help="send from both ports (direction 0 on port 0, 1 on port 1)")
    ap.add_argument("--ports", default="0,1", help="TX port, RX port (default 0,1)")
    ap.add_argument("--link-gbps", type=float, default=10.0,
                    help="link speed: the maximum rate is line rate (default 10)")
    ap.add_argument("--max-rate", type=parse_rate,
                    help="the maximum rate instead of line rate, in pps (e.g. 20mpps); "
                         "required with --sizes mix")
    ap.add_argument("--duration", type=float, default=30.0,
                    help="seconds per trial (RFC 2544: at least 60 for the final one)")
    ap.add_argument("--pdr-loss", type=float, default=0.001,
                    help="loss ratio PDR allows (default 0.001 = 0.1%%)")
    ap.add_argument("--resolution", type=float, default=0.005,
                    help="stop when the interval is below this share of the maximum")
    ap.add_argument("--confirm", type=int, default=0,
                    help="repeat a failing trial this many times before believing it")
    ap.add_argument("--quiet", action="store_true", help="only the table")
    a = ap.parse_args(argv)
    try:
        tunables = parse_tunables(a.tunables)
        ports = [int(p) for p in a.ports.split(",")]
    except (ValueError, argparse.ArgumentTypeError) as e:
        ap.error(str(e))
    if len(ports) != 2 or ports[0] == ports[1]:
        ap.error("--ports needs two different ports, like 0,1")
    sizes = [None] if a.sizes == "mix" else [int(s) for s in a.sizes.split(",")]
    if sizes == [None] and a.max_rate is None:
        ap.error("--sizes mix needs --max-rate")
    if not os.path.isfile(a.profile):
        ap.error(f"--profile: {a.profile} does not exist")

    api = import_trex(a.trex_dir)
    client = api.STLClient(server=a.server)
    tx_ports = ports if a.bidir else ports[:1]
    rx_ports = [ports[1], ports[0]] if a.bidir else ports[1:]
    trials = TrexTrials(api, client, tx_ports, rx_ports, a.duration)
    trials.tunables = tunables
    log = None if a.quiet else (lambda m: print(m, flush=True))
    rows = []
    client.connect()
    try:
        client.acquire(ports=sorted(set(ports)), force=True)
        # L3 mode (trex_cfg.yaml's ip/default_gw): learn meshgate's MACs by ARP,
        # so the frames carry them.
        client.resolve(ports=sorted(set(ports)))
        for size in sizes:
            max_pps = a.max_rate or rfc2544.line_rate_pps(a.link_gbps, size) * len(tx_ports)
            if log:
                log(f"{os.path.basename(a.profile)} {size or 'mix'} B: up to "
                    f"{max_pps / 1e6:.3f} Mpps, {a.duration:g} s per trial")
            trials.load(a.profile, size)
            ndr, pdr = rfc2544.ndr_pdr(trials, max_pps, a.pdr_loss, a.resolution, a.confirm,
                                       log=log)
            rows.append((os.path.basename(a.profile)[:-3], size, ndr, pdr))
    finally:
        client.disconnect()
    print(rfc2544.table(rows, None if a.max_rate else a.link_gbps * len(tx_ports)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
