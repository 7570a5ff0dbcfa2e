# SPDX-License-Identifier: BSD-3-Clause
"""meshgate's ESP tunnel against DPDK's ipsec-secgw sample on its legacy
path (its own ESP code, independent of librte_ipsec), built from dpdk-doc's
sources in the test (tools/bench.d/secgw_build.sh, never committed).

    [h1 ns] eth0 ─ veth ─ meshgate "pod" | meshgate "wan" ─ veth ─ ipsec-secgw port 1
    10.61.1.2                10.61.1.1   | 192.0.2.1 / 2001:db8:62::1    (unprotected)
                                         |                  ipsec-secgw port 0 ─ veth ─ eth0 [h2 ns]
                                                            (protected)                  10.62.1.2

Both gateways run as DPDK processes on net_af_packet. h1 and h2 are Linux
hosts: UDP datagrams of random contents and sizes are echoed across, both
directions and both inner families, and each reply is compared with what
was sent; ping too. Each algorithm both implement on that path, IPv4
outer, and IPv6 outer for AES-GCM. ipsec-secgw answers no ARP/ND: the hosts and meshgate
have static neighbors for it, and it has static ones for them.
"""
import json
import os
import re
import secrets
import signal
import subprocess
import threading
import time

import pytest

from mgrun import ROOT, Control, Meshgate, unique
from topo import Namespaces, netns_fixture

BUILD_SECGW = ROOT / "tools" / "bench.d" / "secgw_build.sh"

# meshgate name -> (ipsec-secgw algorithm words, key bytes, auth key bytes, salt bytes).
# ChaCha20-Poly1305 is not among them: ipsec-secgw parses it, but its legacy
# path (esp.c) handles AES-GCM as its only AEAD and refuses the rest
# ("unsupported cipher algorithm"); scapy's ESP is its oracle
# (tests/interop/test_esp_lib.py, tests/netns/test_esp_tunnel.py).
ALGOS = {
    "aes-gcm-128": ("aead_algo aes-128-gcm aead_key {ks}", 16, 0, 4),
    "aes-gcm-256": ("aead_algo aes-256-gcm aead_key {ks}", 32, 0, 4),
    "aes-cbc-128-hmac-sha256": ("cipher_algo aes-128-cbc cipher_key {k} "
                                "auth_algo sha256-hmac auth_key {a}", 16, 32, 0),
    "aes-cbc-256-hmac-sha256": ("cipher_algo aes-256-cbc cipher_key {k} "
                                "auth_algo sha256-hmac auth_key {a}", 32, 32, 0),
    "null-hmac-sha256": ("cipher_algo null auth_algo sha256-hmac auth_key {a}", 0, 32, 0),
}

MAC = {"mgpod": "02:65:73:00:00:01", "mgwan": "02:65:73:00:00:02",
       "sgwan": "02:65:73:00:00:03", "sgprot": "02:65:73:00:00:04",
       "h1": "02:65:73:00:00:05", "h2": "02:65:73:00:00:06"}
OUTER = {4: ("192.0.2.1", "192.0.2.2", "24"), 6: ("2001:db8:62::1", "2001:db8:62::2", "64")}

ECHO = r"""
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 7007))
open(sys.argv[2], "w").write("ok")
while True:
    d, a = s.recvfrom(65535)
    s.sendto(d, a)
"""

SEND = r"""
import os, socket, sys, json
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(1.0)
ok = bad = lost = 0
for i in range(int(sys.argv[2])):
    n = [1, 64, 512, 1000, 1200][i % 5] + i
    d = os.urandom(n)
    if lost > 3:
        break
    for attempt in range(3):   # the first datagrams may wait for neighbors
        s.sendto(d, (sys.argv[1], 7007))
        try:
            r = s.recv(65535)
        except socket.timeout:
            continue
        break
    else:
        lost += 1
        continue
    if r == d:
        ok += 1
    else:
        bad += 1
print(json.dumps({"ok": ok, "bad": bad, "lost": lost}))
"""


def sh(*cmd, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise RuntimeError(f"{cmd}: {r.stderr}")
    return r


def colon(hexstr):
    return ":".join(hexstr[i:i + 2] for i in range(0, len(hexstr), 2))


class Net(Namespaces):
    """Two host namespaces and three veth pairs (names with a unique tag)."""

    def __init__(self):
        super().__init__()
        self.tag = unique("es")[-8:].replace("x", "s")
        self.h1, self.h2 = f"{self.tag}-h1", f"{self.tag}-h2"
        # ipsec-secgw in a namespace of its own: net_af_packet's fanout group
        # ids (pid ^ ifindex) are per namespace, and two DPDK processes on
        # veth pairs collide in one.
        self.sg = f"{self.tag}-sg"
        self.links = {k: f"{self.tag}{k}" for k in ("mp", "mw", "sw", "sp")}

    def up(self):
        t = self.links
        for ns in (self.h1, self.h2, self.sg):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        # meshgate pod <-> h1, meshgate wan <-> secgw wan, secgw protected <-> h2
        sh("ip", "link", "add", t["mp"], "type", "veth", "peer", "name", "eth0", "netns", self.h1)
        sh("ip", "link", "add", t["mw"], "type", "veth", "peer", "name", t["sw"], "netns",
           self.sg)
        sh("ip", "link", "add", t["sp"], "netns", self.sg, "type", "veth", "peer", "name",
           "eth0", "netns", self.h2)
        for ns, dev, mac in ((None, t["mp"], MAC["mgpod"]), (None, t["mw"], MAC["mgwan"]),
                             (self.sg, t["sw"], MAC["sgwan"]), (self.sg, t["sp"], MAC["sgprot"])):
            pre = ["ip", "netns", "exec", ns] if ns else []
            sh(*pre, "sysctl", "-qw", f"net.ipv6.conf.{dev}.disable_ipv6=1", check=False)
            sh(*pre, "ip", "link", "set", dev, "address", mac, "up")
            sh(*pre, "ethtool", "-K", dev, "tx", "off", "rx", "off", "tso", "off", "gso", "off",
               "gro", "off", check=False)
        for ns, mac, a4, a6, gw4, gw6, gmac, far4, far6 in (
                (self.h1, MAC["h1"], "10.61.1.2/24", "fd61:1::2/64", "10.61.1.1", "fd61:1::1",
                 None, "10.62.0.0/16", "fd62::/16"),
                (self.h2, MAC["h2"], "10.62.1.2/24", "fd62:1::2/64", "10.62.1.1", "fd62:1::1",
                 MAC["sgprot"], "10.61.0.0/16", "fd61::/16")):
            sh("ip", "-n", ns, "link", "set", "eth0", "address", mac, "up")
            sh("ip", "netns", "exec", ns, "ethtool", "-K", "eth0", "tx", "off", "rx", "off",
               "tso", "off", "gso", "off", "gro", "off", check=False)
            sh("ip", "-n", ns, "addr", "add", a4, "dev", "eth0")
            sh("ip", "-n", ns, "-6", "addr", "add", a6, "dev", "eth0", "nodad")
            if gmac:  # ipsec-secgw answers no ARP or ND
                sh("ip", "-n", ns, "neigh", "add", gw4, "lladdr", gmac, "dev", "eth0",
                   "nud", "permanent")
                sh("ip", "-n", ns, "-6", "neigh", "add", gw6, "lladdr", gmac, "dev", "eth0",
                   "nud", "permanent")
            sh("ip", "-n", ns, "route", "add", far4, "via", gw4)
            sh("ip", "-n", ns, "-6", "route", "add", far6, "via", gw6)
        return self

    def down(self):
        self.kill()
        for ns in (self.h1, self.h2, self.sg):
            sh("ip", "netns", "del", ns, check=False)
        for dev in (self.links["mw"],):
            sh("ip", "link", "del", dev, check=False)


@pytest.fixture
def net():
    yield from netns_fixture(Net, ("ip", "ping", "ethtool", "make"), "tools/setup --bench")


@pytest.fixture(scope="module")
def secgw_bin():
    if not (pathlib_exists("/usr/share/dpdk/examples/ipsec-secgw/ipsec-secgw.c")):
        pytest.fail("no ipsec-secgw sources: install dpdk-doc (tools/setup --bench)")
    r = subprocess.run([str(BUILD_SECGW)], capture_output=True, text=True, timeout=900,
                       env=dict(os.environ, MARCH="-march=native"))
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().splitlines()[-1]


def pathlib_exists(p):
    return os.path.exists(p)


def keys(algo):
    _, k, a, s = ALGOS[algo]
    return {"key": secrets.token_hex(k) if k else "", "auth_key": secrets.token_hex(a) if a else "",
            "salt": secrets.token_hex(s) if s else ""}


def mg_sa(direction, inner, spi, algo, kk):
    d = f"{{direction: {direction}, inner: {inner}, spi: {spi}, algorithm: {algo}"
    for f in ("key", "auth_key", "salt"):
        if kk[f]:
            d += f', {f}: "{kk[f]}"'
    return "      - " + d + "}\n"


def sg_sa(direction, spi, algo, kk, outer, local, remote):
    words = ALGOS[algo][0].format(ks=colon(kk["key"] + kk["salt"]), k=colon(kk["key"]),
                                  a=colon(kk["auth_key"]))
    mode = "ipv4-tunnel" if outer == 4 else "ipv6-tunnel"
    src, dst = (local, remote) if direction == "out" else (remote, local)
    return f"sa {direction} {spi} {words} mode {mode} src {src} dst {dst}\n"


@pytest.mark.parametrize("algo,outer", [(a, 4) for a in ALGOS] + [("aes-gcm-128", 6)])
def test_traffic_both_ways_with_ipsec_secgw(tmp_path, net, secgw_bin, algo, outer):
    mg_ip, sg_ip, plen = OUTER[outer]
    # Four SAs, each with its own key: meshgate out/in for inner IPv4 and IPv6.
    spis = {("out", 4): 0x2001, ("in", 4): 0x2002, ("out", 6): 0x2003, ("in", 6): 0x2004}
    kk = {k: keys(algo) for k in spis}
    cfg = f"""
dpdk: {{lcores: "0-1", memory_mb: 512}}
workers: {{idle: {{mode: sleep}}}}
networks: [{{name: default}}]
ports:
  - {{name: pod, device: "net_af_packet0,iface={net.links['mp']}", mac: "{MAC['mgpod']}",
     ipv4: [10.61.1.1/24], ipv6: ["fd61:1::1/64"]}}
  - {{name: wan, device: "net_af_packet1,iface={net.links['mw']}", mac: "{MAC['mgwan']}",
     {'ipv4' if outer == 4 else 'ipv6'}: ["{mg_ip}/{plen}"]}}
neighbors:
  - {{interface: wan, ip: "{sg_ip}", mac: "{MAC['sgwan']}"}}
esp_tunnels:
  - name: sg0
    local: "{mg_ip}"
    remote: "{sg_ip}"
    anti_replay: false
    sas:
"""
    for (d, f), spi in spis.items():
        cfg += mg_sa(d, f"ipv{f}", spi, algo, kk[(d, f)])
    cfg += """routes:
  - {prefix: 10.62.0.0/16, interface: sg0}
  - {prefix: "fd62::/16", interface: sg0}
"""
    # ipsec-secgw's view: its outbound SAs are meshgate's inbound ones.
    sg = ""
    for f, dst4 in ((4, "10.61.0.0/16"), (6, "fd61::/16")):
        fam = "ipv4" if f == 4 else "ipv6"
        far = "10.62.0.0/16" if f == 4 else "fd62::/16"
        sg += (f"sp {fam} out esp protect {spis[('in', f)]} pri 1 dst {dst4} "
               f"sport 0:65535 dport 0:65535\n")
        sg += (f"sp {fam} in esp protect {spis[('out', f)]} pri 1 dst {far} "
               f"sport 0:65535 dport 0:65535\n")
        sg += sg_sa("out", spis[("in", f)], algo, kk[("in", f)], outer, sg_ip, mg_ip)
        sg += sg_sa("in", spis[("out", f)], algo, kk[("out", f)], outer, sg_ip, mg_ip)
    sg += f"rt ipv{outer} dst {mg_ip}/{32 if outer == 4 else 128} port 1\n"
    sg += "rt ipv4 dst 10.62.1.0/24 port 0\nrt ipv6 dst fd62:1::/64 port 0\n"
    sg += f"neigh port 0 {MAC['h2']}\nneigh port 1 {MAC['mgwan']}\n"
    (tmp_path / "secgw.cfg").write_text(sg)
    prefix = unique("essg")
    secgw = subprocess.Popen(
        ["ip", "netns", "exec", net.sg, secgw_bin, "-l", "1", "-n", "1", "--no-huge", "--no-shconf", "-m", "512", "--no-pci",
         "--file-prefix", prefix, "--log-level", "lib.eal:error",
         "--vdev", f"net_af_packet0,iface={net.links['sp']}",
         "--vdev", f"net_af_packet1,iface={net.links['sw']}", "--vdev", "crypto_aesni_mb0",
         "--", "-p", "0x3", "-u", "0x2", "-P", "--config", "(0,0,1),(1,0,1)",
         "-f", str(tmp_path / "secgw.cfg")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    net.procs.append(secgw)
    out = []
    reader = threading.Thread(target=lambda: out.extend(secgw.stdout), daemon=True)
    reader.start()
    results = {}
    try:
        with Meshgate(tmp_path, cfg, name="essg") as mg:
            servers = {}
            for ns, addrs in ((net.h1, ("10.61.1.2", "fd61:1::2")),
                              (net.h2, ("10.62.1.2", "fd62:1::2"))):
                for a in addrs:
                    ready = tmp_path / f"ready-{a.replace(':', '_')}"
                    servers[a] = net.spawn(ns, "/usr/bin/python3", "-c", ECHO, a, str(ready))
                    for _ in range(50):
                        if ready.exists():
                            break
                        time.sleep(0.1)
            for _ in range(300):  # its ports and SAs set up, polling
                if any("entering main loop" in l for l in out) or secgw.poll() is not None:
                    break
                time.sleep(0.1)
            assert secgw.poll() is None and any("entering main loop" in l for l in out), \
                "".join(out)
            # Neighbors from cold (meshgate's ARP/ND towards h1): ping until a reply.
            for ns, dst in ((net.h1, "10.62.1.2"), (net.h1, "fd62:1::2")):
                for _ in range(20):
                    if net.run(ns, "ping", "-c", "1", "-W", "1", dst).returncode == 0:
                        break
            for ns, dst in ((net.h1, "10.62.1.2"), (net.h1, "fd62:1::2"),
                            (net.h2, "10.61.1.2"), (net.h2, "fd61:1::2")):
                r = net.run(ns, "/usr/bin/python3", "-c", SEND, dst, "25", timeout=120)
                assert r.returncode == 0, r.stdout + r.stderr
                results[(ns, dst)] = json.loads(r.stdout)
                if results[(ns, dst)]["lost"] > 3:
                    break   # the report below says which; no need to wait for the rest
            for ns, dst in ((net.h1, "10.62.1.2"), (net.h2, "fd61:1::2")):
                r = net.run(ns, "ping", "-c", "3", "-i", "0.2", "-W", "2", "-s", "1000", dst)
                results[("ping", dst)] = r.stdout
            tun = Control(mg).ok("GET", "/v1/esp-tunnels/sg0")
    finally:
        if secgw.poll() is None:
            secgw.send_signal(signal.SIGINT)
            try:
                secgw.wait(10)
            except subprocess.TimeoutExpired:
                secgw.kill()
                secgw.wait()
    reader.join(10)
    sglog = "".join(out)
    for k, v in results.items():
        if k[0] == "ping":
            assert " 0% packet loss" in v, (k, v, sglog[-2000:])
        else:
            # Every datagram came back whole; none changed on the way.
            assert v["bad"] == 0 and v["ok"] == 25, (k, v, tun, sglog[-3000:])
    st = {(s["spi"], s["dir"]): s["stats"] for s in tun["sas"]}
    for (d, f), spi in spis.items():
        assert st[(spi, d)]["packets"] >= 50, (spi, d, st)
        assert st[(spi, d)]["auth"] == 0 and st[(spi, d)]["other"] == 0, st
