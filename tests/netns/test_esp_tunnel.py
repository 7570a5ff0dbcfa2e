# SPDX-License-Identifier: BSD-3-Clause
"""meshgate with an IPsec ESP tunnel to an independent ESP endpoint.

The topology's two namespaces: the pod host behind meshgate, and the
external host, which is also the far tunnel endpoint: tests/netns/esp_peer.py
runs scapy's ESP between a TUN device and raw sockets there, so the external
kernel's own ping and iperf3 reach the pod through the tunnel. Inner
addresses behind the tunnel: 10.99.0.1 and fd00:99::1 (on the peer's TUN).
Outer: 10.10.2.1 (meshgate's ext port) <-> 10.10.2.2 (the external host).
"""
import json
import os
import re
import secrets
import subprocess
import sys
import time

import pytest

from mgrun import Control, Meshgate, ROOT
from topo import default_config

PEER = ROOT / "tests" / "netns" / "esp_peer.py"
ALGOS = {  # key, auth key, salt bytes
    "aes-gcm-128": (16, 0, 4), "aes-cbc-256-hmac-sha256": (32, 32, 0),
    "chacha20-poly1305": (32, 0, 4),
}


def sa(direction, inner, spi, algo):
    k, a, s = ALGOS[algo]
    d = {"direction": direction, "inner": inner, "spi": spi, "algorithm": algo,
         "key": secrets.token_hex(k)}
    if a:
        d["auth_key"] = secrets.token_hex(a)
    if s:
        d["salt"] = secrets.token_hex(s)
    return d


def tunnel_sas(algo, base=0x1000):
    """meshgate's four SAs (out/in x inner family)."""
    return [sa("out", "ipv4", base + 1, algo), sa("in", "ipv4", base + 2, algo),
            sa("out", "ipv6", base + 3, algo), sa("in", "ipv6", base + 4, algo)]


def flip(sas):
    """The peer's view: what meshgate sends out the peer takes in, and back."""
    return [dict(s, direction="in" if s["direction"] == "out" else "out") for s in sas]


def yaml_sa(s, extra=""):
    keys = "".join(f", {k}: \"{s[k]}\"" for k in ("key", "auth_key", "salt") if k in s)
    return (f"      - {{direction: {s['direction']}, inner: {s['inner']}, spi: {s['spi']}, "
            f"algorithm: {s['algorithm']}{keys}{extra}}}\n")


def config(tag, sas, extra=""):
    text = default_config(tag)
    text += ("esp_tunnels:\n  - name: tun0\n    local: 10.10.2.1\n    remote: 10.10.2.2\n"
             "    ipv4: [10.98.0.1/30]\n    sas:\n")
    text += "".join(yaml_sa(s) for s in sas)
    text += extra
    text = text.replace("routes:\n", "routes:\n  - {prefix: 10.99.0.0/24, interface: tun0}\n"
                        "  - {prefix: \"fd00:99::/64\", interface: tun0}\n", 1)
    return text


class Peer:
    def __init__(self, topo, tmp_path, sas, name="esptun0"):
        self.topo, self.tmp = topo, tmp_path
        self.cfgfile = tmp_path / "peer.json"
        self.statsfile = tmp_path / "peer.stats.json"
        ready = tmp_path / "peer.ready"
        ready.unlink(missing_ok=True)
        self.cfgfile.write_text(json.dumps({
            "local": "10.10.2.2", "remote": "10.10.2.1", "tun": name, "sas": flip(sas),
            "stats": str(self.statsfile), "ready": str(ready)}))
        self.proc = topo.spawn("ext", sys.executable if "scapy" in sys.modules else "/usr/bin/python3",
                               str(PEER), str(self.cfgfile))
        for _ in range(100):
            if ready.exists():
                break
            if self.proc.poll() is not None:
                raise RuntimeError(self.proc.stdout.read())
            time.sleep(0.1)
        for cmd in (["ip", "link", "set", name, "up"],
                    ["ip", "addr", "add", "10.99.0.1/32", "dev", name],
                    ["ip", "-6", "addr", "add", "fd00:99::1/128", "dev", name, "nodad"],
                    ["ip", "route", "add", "10.10.1.0/24", "dev", name, "src", "10.99.0.1"],
                    ["ip", "-6", "route", "add", "fd00:10:1::/64", "dev", name,
                     "src", "fd00:99::1"]):
            r = topo.run("ext", *cmd)
            assert r.returncode == 0, (cmd, r.stderr)

    def stats(self):
        self.proc.terminate()
        self.proc.wait(10)
        return json.loads(self.statsfile.read_text())


def sa_counters(metrics):
    """{(spi, direction): packets} from /metrics."""
    out = {}
    for m in re.finditer(r'meshgate_esp_sa_packets_total\{tunnel="tun0",spi="(\d+)",'
                         r'direction="(\w+)"\} (\d+)', metrics):
        out[(int(m.group(1)), m.group(2))] = int(m.group(3))
    return out


@pytest.mark.parametrize("algo", list(ALGOS))
def test_ping_and_tcp_through_tunnel_both_families(tmp_path, topo, algo):
    """Pod <-> far side of the tunnel: ping both families, both directions
    (contents checked by ping), a TCP transfer with byte counts; the SA
    counters in /metrics match; no key in the log, GET or /metrics."""
    sas = tunnel_sas(algo)
    with Meshgate(tmp_path, config(topo.tag, sas), name="esp") as mg:
        peer = Peer(topo, tmp_path, sas)
        for side, dst in (("pod", "10.99.0.1"), ("pod", "fd00:99::1"),
                          ("ext", "10.10.1.2"), ("ext", "fd00:10:1::2")):
            r = topo.ping(side, dst, count=3)
            assert r.returncode == 0 and " 0% packet loss" in r.stdout, (side, dst, r.stdout,
                                                                         mg.log())
        r = topo.iperf("pod", "ext", "10.99.0.1", seconds=2)
        assert "error" not in r, r
        assert r["end"]["sum_received"]["bytes"] > 100_000
        ctl = Control(mg)
        tun = ctl.ok("GET", "/v1/esp-tunnels/tun0")
        metrics = ctl.http("GET", "/metrics")[1]
        log = mg.log()
    ps = peer.stats()
    assert ps["decrypted"] >= 6 and not ps["errors"], ps
    counts = sa_counters(metrics if isinstance(metrics, str) else metrics.decode())
    assert counts[(0x1001, "out")] >= 3 and counts[(0x1003, "out")] >= 3, counts
    assert counts[(0x1002, "in")] >= 3 and counts[(0x1004, "in")] >= 3, counts
    text = json.dumps(tun) + str(metrics) + log + json.dumps(mg.stats)
    for s in sas:
        for k in ("key", "auth_key", "salt"):
            if k in s:
                assert s[k] not in text.lower(), f"{k} of SPI {s['spi']} leaked"
    assert {x["spi"] for x in tun["sas"]} == {0x1001, 0x1002, 0x1003, 0x1004}
