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
import re
import secrets
import subprocess
import sys
import time

import pytest

from scapy.layers.inet import ICMP, IP, defragment
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.utils import rdpcap

from mgrun import MESHGATECTL, Control, Meshgate, ROOT
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
    if "lifetime" in s:
        keys += ", lifetime: {" + ", ".join(f"{k}: {v}" for k, v in s["lifetime"].items()) + "}"
    return (f"      - {{direction: {s['direction']}, inner: {s['inner']}, spi: {s['spi']}, "
            f"algorithm: {s['algorithm']}{keys}{extra}}}\n")


OUTER = {4: ("10.10.2.1", "10.10.2.2"), 6: ("fd00:10:2::1", "fd00:10:2::2")}


def config(tag, sas, extra="", outer=4, natt=False):
    local, remote = OUTER[outer]
    text = default_config(tag)
    text += (f"esp_tunnels:\n  - name: tun0\n    local: \"{local}\"\n    remote: \"{remote}\"\n"
             f"    udp_encap: {'true' if natt else 'false'}\n"
             "    ipv4: [10.98.0.1/30]\n    sas:\n")
    text += "".join(yaml_sa(s) for s in sas)
    text += extra
    text = text.replace("routes:\n", "routes:\n  - {prefix: 10.99.0.0/24, interface: tun0}\n"
                        "  - {prefix: \"fd00:99::/64\", interface: tun0}\n", 1)
    return text


class Peer:
    def __init__(self, topo, tmp_path, sas, name="esptun0", peer_sas=None, outer=4, natt=False):
        self.topo, self.tmp = topo, tmp_path
        self.cfgfile = tmp_path / "peer.json"
        self.statsfile = tmp_path / "peer.stats.json"
        ready = tmp_path / "peer.ready"
        ready.unlink(missing_ok=True)
        self.cfgfile.write_text(json.dumps({
            "local": OUTER[outer][1], "remote": OUTER[outer][0], "tun": name, "sas": peer_sas if peer_sas is not None else flip(sas),
            "stats": str(self.statsfile), "ready": str(ready), "udp_encap": natt}))
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


IKE4500 = r"""
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind(("", 4999))
s.sendto(b"\0\0\0\0" + b"\x11" * 28, (sys.argv[1], 4500))
"""


@pytest.mark.parametrize("algo,outer,natt", [(a, 4, False) for a in ALGOS] +
                         [("aes-gcm-128", 6, False), ("aes-gcm-128", 4, True),
                          ("chacha20-poly1305", 6, True)],
                         ids=lambda v: {True: "natt", False: "raw"}.get(v, str(v)))
def test_ping_and_tcp_through_tunnel_both_families(tmp_path, topo, algo, outer, natt):
    """Pod <-> far side of the tunnel (IPv4 outer for each algorithm, IPv6
    outer, UDP encapsulation): ping both families, both directions (contents
    checked by ping), a TCP transfer with byte counts; the SA counters in
    /metrics match; no key in the log, GET or /metrics."""
    sas = tunnel_sas(algo)
    with Meshgate(tmp_path, config(topo.tag, sas, outer=outer, natt=natt), name="esp") as mg:
        peer = Peer(topo, tmp_path, sas, outer=outer, natt=natt)
        for side, dst in (("pod", "10.99.0.1"), ("pod", "fd00:99::1"),
                          ("ext", "10.10.1.2"), ("ext", "fd00:10:1::2")):
            # One unchecked ping first: ARP/ND from cold on three hops. Then
            # -w: once a reply came, ping waits only two RTTs for the others
            # unless given a deadline, and a Python peer on a loaded machine
            # answers late at times. Three replies with their contents
            # checked; a request the peer lost under load is sent again (its
            # TUN queue is outside meshgate: the SA counters below and the
            # peer's own errors check meshgate's side).
            topo.ping(side, dst, count=1)
            r = topo.ping(side, dst, count=3, extra=("-w", "10"))
            assert r.returncode == 0 and " 3 received" in r.stdout, (side, dst, r.stdout,
                                                                     mg.log())
        ctl = Control(mg)
        # Traced: a packet into the tunnel, and the ESP packet coming back.
        ctl.ok("POST", "/v1/trace", {"filter": "(icmp and dst host 10.99.0.1) or esp or "
                                     "(udp port 4500)", "count": 2})
        assert topo.ping("pod", "10.99.0.1", count=1).returncode == 0
        for _ in range(50):
            trace = ctl.ok("GET", "/v1/trace")
            if trace["packets"] >= 2:
                break
            time.sleep(0.1)
        paths = [[h["node"] for h in p["hops"]] for p in trace["trace"]]
        assert len(paths) == 2 and "esp-output" in paths[0], trace
        assert "esp-input" in paths[1], trace
        # ESP to the endpoint takes eth-input's shortcut in both outer families.
        assert not {"ip4-local", "ip6-local"} & set(paths[1]), trace
        if natt:
            # IKE on 4500 (the non-ESP marker) still goes the long way, to ipX-local.
            ctl.ok("POST", "/v1/trace", {"filter": "udp src port 4999", "count": 1})
            r = topo.run("ext", "/usr/bin/python3", "-c", IKE4500, OUTER[outer][0])
            assert r.returncode == 0, r.stderr
            for _ in range(50):
                trace = ctl.ok("GET", "/v1/trace")
                if trace["packets"] >= 1:
                    break
                time.sleep(0.1)
            hops = [h["node"] for h in trace["trace"][0]["hops"]]
            assert f"ip{outer}-local" in hops, trace
        r = topo.iperf("pod", "ext", "10.99.0.1", seconds=2)
        assert "error" not in r, r
        assert r["end"]["sum_received"]["bytes"] > 100_000
        tun = ctl.ok("GET", "/v1/esp-tunnels/tun0")
        metrics = ctl.http("GET", "/metrics")[1]
        show = subprocess.run([str(MESHGATECTL), "-p", mg.prefix, "esp", "show"],
                              capture_output=True, text=True, timeout=30)
        for _ in range(30):  # DPDK telemetry answers from a snapshot taken once a second
            tel = mg.telemetry("/meshgate/esp")
            if tel and tel.get("tun0/4098/in", {}).get("packets", 0) >= 3:
                break
            time.sleep(0.1)
        log = mg.log()
    ps = peer.stats()
    assert ps["decrypted"] >= 6 and not ps["errors"], ps
    # Lookaside SAs (AES-CBC) complete asynchronously: esp-dequeue resumes them.
    deq = mg.stats["nodes"].get("esp-dequeue", {}).get("packets", 0)
    assert (deq >= 12) if algo.startswith("aes-cbc") else (deq == 0), mg.stats["nodes"]
    counts = sa_counters(metrics if isinstance(metrics, str) else metrics.decode())
    assert counts[(0x1001, "out")] >= 3 and counts[(0x1003, "out")] >= 3, counts
    assert counts[(0x1002, "in")] >= 3 and counts[(0x1004, "in")] >= 3, counts
    text = json.dumps(tun) + str(metrics) + log + json.dumps(mg.stats)
    for s in sas:
        for k in ("key", "auth_key", "salt"):
            if k in s:
                assert s[k] not in text.lower(), f"{k} of SPI {s['spi']} leaked"
    assert {x["spi"] for x in tun["sas"]} == {0x1001, 0x1002, 0x1003, 0x1004}
    # meshgatectl esp show: one line per SA, like ip xfrm state, no key.
    assert set(tel) == {"tun0/4097/out", "tun0/4098/in", "tun0/4099/out", "tun0/4100/in"}, tel
    assert tel["tun0/4098/in"]["packets"] >= 3 and tel["tun0/4097/out"]["expired"] == 0
    assert show.returncode == 0, show.stderr
    lines = {l.split()[0]: l.split() for l in show.stdout.splitlines() if l.startswith("0x")}
    assert set(lines) == {"0x00001001", "0x00001002", "0x00001003", "0x00001004"}, show.stdout
    assert lines["0x00001001"][1:5] == ["out", "ipv4", algo, "active"], show.stdout
    assert int(lines["0x00001002"][5]) >= counts[(0x1002, "in")] > 0  # read later
    for s in sas:
        assert s["key"] not in show.stdout


def gauge(metrics, name):
    m = re.search(rf"^{name} (\d+)$", metrics, re.M)
    assert m, name
    return int(m.group(1))


def test_lookaside_sas_replaced_and_deleted_under_traffic_leak_nothing(tmp_path, topo):
    """AES-CBC SAs use the asynchronous lookaside path (esp-output and
    esp-input enqueue, esp-dequeue resumes). The SAs are replaced (rekey:
    the old ones deleted with packets in flight) during a TCP transfer, then
    the tunnel is deleted during a ping flood: afterwards nothing is left in
    flight, every crypto op is back in its pool and the mbuf pool is back
    where it stood before the traffic."""
    import threading
    sas = tunnel_sas("aes-cbc-256-hmac-sha256")
    new = tunnel_sas("aes-cbc-256-hmac-sha256", 0x2000)
    with Meshgate(tmp_path, config(topo.tag, sas), name="espdel") as mg:
        peer = Peer(topo, tmp_path, sas,
                    peer_sas=flip(sas) + [dict(s, standby=True) for s in flip(new)])
        ctl = Control(mg)
        for dst in ("10.99.0.1", "fd00:99::1"):
            topo.ping("pod", dst, count=1)
            r = topo.ping("pod", dst, count=3, extra=("-w", "10"))
            assert r.returncode == 0 and " 0% packet loss" in r.stdout, (dst, r.stdout, mg.log())
        before = gauge(ctl.http("GET", "/metrics")[1], "meshgate_mbufs_free")
        result = {}
        t = threading.Thread(target=lambda: result.update(
            topo.iperf("pod", "ext", "10.99.0.1", seconds=4)))
        t.start()
        for _ in range(100):  # until the transfer runs through the tunnel
            st = ctl.ok("GET", "/v1/esp-tunnels/tun0")
            if sum(x["stats"]["packets"] for x in st["sas"] if x["spi"] == 0x1001) > 200:
                break
            time.sleep(0.1)
        ctl.ok("PUT", "/v1/esp-tunnels/tun0/sas", {"sas": new})
        t.join(60)
        assert "error" not in result and result["end"]["sum_received"]["bytes"] > 0, result
        flood = topo.spawn("pod", "ping", "-q", "-i", "0.002", "-c", "3000", "-w", "8",
                           "10.99.0.1")
        time.sleep(1.5)
        for path in ("/v1/routes/default/10.99.0.0/24", "/v1/routes/default/fd00:99::/64",
                     "/v1/esp-tunnels/tun0"):
            ctl.ok("DELETE", path)
        flood.wait(30)
        for _ in range(100):
            text = ctl.http("GET", "/metrics")[1]
            if (gauge(text, "meshgate_esp_crypto_inflight") == 0 and
                    gauge(text, "meshgate_esp_crypto_ops_in_use") == 0 and
                    gauge(text, "meshgate_mbufs_free") >= before):
                break
            time.sleep(0.1)
        assert gauge(text, "meshgate_esp_crypto_inflight") == 0, text
        assert gauge(text, "meshgate_esp_crypto_ops_in_use") == 0, text
        assert gauge(text, "meshgate_mbufs_free") >= before, (before, text)
    peer.stats()
    # The packets really took the asynchronous path.
    assert mg.stats["nodes"]["esp-dequeue"]["packets"] > 200, mg.stats["nodes"]


def by_spi(tun):
    return {s["spi"]: s for s in tun["sas"]}


def test_tunnel_mtu_sends_frag_needed_and_too_big(tmp_path, topo):
    """An inner packet over the tunnel MTU: ICMP fragmentation needed (DF
    set) and ICMPv6 packet too big, naming the tunnel MTU; packets at the MTU
    go through."""
    sas = tunnel_sas("aes-gcm-128")
    cfg = config(topo.tag, sas).replace("    udp_encap: false\n",
                                        "    udp_encap: false\n    mtu: 1400\n", 1)
    assert "mtu: 1400" in cfg
    with Meshgate(tmp_path, cfg, name="esp") as mg:
        Peer(topo, tmp_path, sas)
        r = topo.ping("pod", "10.99.0.1", count=1, extra=("-M", "do", "-s", "1400"))
        assert r.returncode != 0 and "mtu = 1400" in r.stdout + r.stderr, r.stdout + r.stderr
        r = topo.ping("pod", "fd00:99::1", count=1, extra=("-s", "1400"))
        assert r.returncode != 0 and "mtu=1400" in (r.stdout + r.stderr).replace(" ", ""), \
            r.stdout + r.stderr
        # 1372 + 28 = 1400 bytes: fits exactly; 1352 + 48 = 1400 for IPv6.
        r = topo.ping("pod", "10.99.0.1", count=2, extra=("-M", "do", "-s", "1372"))
        assert r.returncode == 0, r.stdout
        r = topo.ping("pod", "fd00:99::1", count=2, extra=("-s", "1352"))
        assert r.returncode == 0, r.stdout
        tun = Control(mg).ok("GET", "/v1/esp-tunnels/tun0")
        assert tun["mtu"] == 1400
        # DF clear: the packet goes in whole and its ESP packet (over the
        # port's 1500) is fragmented on the way out: captured on the peer's
        # side, reassembled and decrypted by scapy, it is the echo request.
        cap = tmp_path / "frags.pcap"
        dump = topo.spawn("ext", "tcpdump", "-ni", "eth0", "-c", "2", "-w", str(cap),
                          "ip[6:2] & 0x3fff != 0")
        time.sleep(1.0)
        topo.ping("pod", "10.99.0.1", count=1, extra=("-M", "dont", "-s", "1450"))
        dump.wait(10)
    frags = rdpcap(str(cap))
    assert [(f[IP].flags.MF, f[IP].frag) for f in frags] == [(1, 0), (0, 185)], frags
    whole = defragment(frags)[0][IP]
    sa = sas[0]
    inner = SecurityAssociation(ESP, spi=sa["spi"], crypt_algo="AES-GCM",
                                crypt_key=bytes.fromhex(sa["key"] + sa["salt"]),
                                tunnel_header=IP(src="10.10.2.1", dst="10.10.2.2")).decrypt(whole)
    assert inner[IP].len == 1478 and inner[ICMP].type == 8 and inner[IP].dst == "10.99.0.1"
    assert mg.stats["drops"]["mtu-exceeded"] >= 2
    assert mg.stats["gateway"]["ip4_fragmented"] == 1


def warm_path(topo, side, dst, tries=20):
    """Ping @dst from @side until one reply comes (at most @tries pings of
    2 s each): ARP/ND on every hop from cold, so that what follows measures
    the steady path, not its first packet."""
    for _ in range(tries):
        r = topo.ping(side, dst, count=1)
        if r.returncode == 0:
            return
    raise AssertionError(f"{side} never reached {dst}: {r.stdout}{r.stderr}")


def test_rekey_during_traffic_loses_nothing(tmp_path, topo):
    """A ping stream both families while the SAs are replaced over REST (the
    peer knows the next SAs and moves to them when it sees the new ones):
    no request or reply lost; the old outbound SAs are gone at once, the old
    inbound ones once their traffic stopped."""
    old, new = tunnel_sas("aes-gcm-128", 0x1000), tunnel_sas("chacha20-poly1305", 0x2000)
    peer_sas = flip(old) + [dict(s, standby=True) for s in flip(new)]
    with Meshgate(tmp_path, config(topo.tag, old), name="esp") as mg:
        peer = Peer(topo, tmp_path, old, peer_sas=peer_sas)
        ctl = Control(mg)
        # The path resolved first, on the old SAs: a first packet held or
        # dropped while a neighbor is resolved is no loss of the rekey's (an
        # IPv6 stream once lost its very first request that way).
        for dst in ("10.99.0.1", "fd00:99::1"):
            warm_path(topo, "pod", dst)
        # Exactly 150 requests (no -w: with a deadline ping sends until it has
        # 150 replies, and a late reply then looks like a loss); -W 10 waits
        # for slow answers of the Python peer.
        pings = [topo.spawn("pod", "ping", "-c", "150", "-i", "0.02", "-W", "10", dst)
                 for dst in ("10.99.0.1", "fd00:99::1")]
        time.sleep(1.0)
        ctl.ok("PUT", "/v1/esp-tunnels/tun0/sas", {"sas": new})
        outs = [p.communicate(timeout=60)[0] for p in pings]
        tun = ctl.ok("GET", "/v1/esp-tunnels/tun0")
        for _ in range(100):  # the old inbound SAs go 2 s after their last packet
            if tun["events"]["retired"] >= 2:
                break
            time.sleep(0.2)
            tun = ctl.ok("GET", "/v1/esp-tunnels/tun0")
    for o in outs:
        assert " 0% packet loss" in o, o
    assert tun["rekeys"] == 1 and tun["events"]["retired"] == 2, tun
    spis = by_spi(tun)
    assert set(spis) == {0x2001, 0x2002, 0x2003, 0x2004}, spis
    assert all(spis[s]["stats"]["packets"] > 0 for s in spis), spis
    ps = peer.stats()
    assert ps.get("switched") == 2 and not ps["errors"], ps


def test_hard_lifetime_stops_the_sa_after_a_soft_event(tmp_path, topo):
    """Outbound IPv4 SA with soft 3 / hard 6 packets: a soft event, then the
    hard one; exactly 6 echo requests get through, the rest are dropped and
    counted; IPv6 (its own SA) is unaffected."""
    sas = tunnel_sas("aes-gcm-128")
    sas[0]["lifetime"] = {"soft_packets": 3, "hard_packets": 6}
    with Meshgate(tmp_path, config(topo.tag, sas), name="esp") as mg:
        Peer(topo, tmp_path, sas)
        # -W 10: the Python peer may answer late on a loaded machine.
        r = topo.ping("pod", "10.99.0.1", count=10, extra=("-W", "10"))
        assert "10 packets transmitted, 6 received" in r.stdout, r.stdout
        r6 = topo.ping("pod", "fd00:99::1", count=2)
        assert r6.returncode == 0, r6.stdout
        ctl = Control(mg)
        for _ in range(100):  # lifetimes are polled every 100 ms
            tun = ctl.ok("GET", "/v1/esp-tunnels/tun0")
            if tun["events"]["hard"]:
                break
            time.sleep(0.1)
    assert tun["events"] == {"soft": 1, "hard": 1, "retired": 0}, tun["events"]
    sa = by_spi(tun)[0x1001]
    assert sa["state"] == "expired" and sa["stats"]["packets"] == 6, sa
    assert mg.stats["drops"]["esp-failed"] == 4
    assert "reached its soft packets lifetime" in mg.log()
    assert "reached its hard packets lifetime" in mg.log()


SEND_FORGED = r"""
import socket, sys
from scapy.layers.inet import IP, ICMP
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.packet import raw
key, spi = bytes.fromhex(sys.argv[1]), int(sys.argv[2])
sa = SecurityAssociation(ESP, spi=spi, crypt_algo="AES-GCM", crypt_key=key,
                         tunnel_header=IP(src="10.10.2.2", dst="10.10.2.1"))
inner = IP(src="10.99.0.1", dst="10.10.1.2") / ICMP(id=77, seq=1) / (b"forged" * 8)
good = raw(sa.encrypt(inner, seq_num=5000))
bad = bytearray(raw(sa.encrypt(inner, seq_num=5001)))
bad[-1] ^= 1
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for p in (good, good, good, bytes(bad)):
    s.sendto(p, ("10.10.2.1", 0))
"""


def test_replayed_and_corrupted_esp_dropped_and_counted(tmp_path, topo):
    """ESP forged with the inbound SA's key by a second scapy instance: the
    first copy is accepted, two replays are refused as replays, a packet with
    a flipped ICV bit fails authentication; all counted on the SA, in GET
    and /metrics."""
    sas = tunnel_sas("aes-gcm-128")
    with Meshgate(tmp_path, config(topo.tag, sas), name="esp") as mg:
        Peer(topo, tmp_path, sas)
        assert topo.ping("pod", "10.99.0.1", count=1).returncode == 0
        r = topo.run("ext", "/usr/bin/python3", "-c", SEND_FORGED, sas[1]["key"] + sas[1]["salt"],
                     str(sas[1]["spi"]))
        assert r.returncode == 0, r.stderr
        ctl = Control(mg)
        time.sleep(0.5)
        st = by_spi(ctl.ok("GET", "/v1/esp-tunnels/tun0"))[0x1002]["stats"]
        metrics = ctl.http("GET", "/metrics")[1]
    assert st["replay"] == 2 and st["auth"] == 1 and st["packets"] == 2, st
    assert re.search(r'meshgate_esp_sa_replay_drops_total\{tunnel="tun0",spi="4098",'
                     r'direction="in"\} 2', metrics), metrics
    assert re.search(r'meshgate_esp_sa_auth_failures_total\{tunnel="tun0",spi="4098",'
                     r'direction="in"\} 1', metrics)
    assert mg.stats["drops"]["esp-failed"] == 3


def test_tunnel_survives_kill_and_restart_with_state(tmp_path, topo):
    """control.state_dir: the tunnel carries traffic both families, meshgate
    is killed (SIGKILL) and started again: the tunnel comes back from the
    state and traffic flows again both ways; meshgate's outbound sequence numbers never go back
    (the peer sees each SPI's numbers only rise across the restart, which
    a reused GCM nonce would break); no key in any state file or the log."""
    sas = tunnel_sas("aes-gcm-128")
    state = tmp_path / "state"
    cfg = config(topo.tag, sas) + f"control:\n  state_dir: {state}\n"
    mg = Meshgate(tmp_path, cfg, name="esp")
    logs = []
    try:
        mg.start()
        peer = Peer(topo, tmp_path, sas)
        for dst in ("10.99.0.1", "fd00:99::1"):
            topo.ping("pod", dst, count=1)
            r = topo.ping("pod", dst, count=3, extra=("-w", "10"))
            assert r.returncode == 0 and " 0% packet loss" in r.stdout, (dst, r.stdout, mg.log())
        logs.append(mg.log())
        mg.kill()
        mg.start()
        api = Control(mg)
        assert [t["name"] for t in api.ok("GET", "/v1/esp-tunnels")] == ["tun0"]
        for dst in ("10.99.0.1", "fd00:99::1"):
            topo.ping("pod", dst, count=1)
            r = topo.ping("pod", dst, count=3, extra=("-w", "10"))
            assert r.returncode == 0 and " 0% packet loss" in r.stdout, (dst, r.stdout, mg.log())
        r = topo.ping("ext", "10.10.1.2", count=3, extra=("-w", "10"))
        assert r.returncode == 0 and " 0% packet loss" in r.stdout, r.stdout
        logs.append(mg.log())
        mg.stop()
    finally:
        mg.kill()
    ps = peer.stats()
    assert not ps["errors"], ps
    for spi in (0x1001, 0x1003):
        assert ps["seq_back"].get(str(spi), 0) == 0, ps
        assert ps["seq_max"][str(spi)] > 1 << 24, ps   # resumed above the reservation
    text = "".join(logs).lower()
    blobs = [f.read_bytes() for f in state.iterdir()]
    for s in sas:
        for k in ("key", "salt"):
            assert s[k] not in text, f"{k} of SPI {s['spi']} in the log"
            for b in blobs:
                assert s[k].encode() not in b.lower()
        assert bytes.fromhex(s["key"]) not in b


def nsm_ipsec_params(sas):
    """The NSM IPSEC mechanism's parameters for meshgate's SAs: src_* is the
    client's sending SA (meshgate's inbound), dst_* meshgate's outbound; the
    suffix 6 for inner IPv6."""
    p = {"src_ip": "10.10.2.2", "algorithm": sas[0]["algorithm"]}
    for s in sas:
        side = "src" if s["direction"] == "in" else "dst"
        sfx = "" if s["inner"] == "ipv4" else "6"
        p[f"{side}_spi{sfx}"] = str(s["spi"])
        for k in ("key", "salt", "auth_key"):
            if k in s:
                p[f"{side}_{k}{sfx}"] = s[k]
    return p


def test_nsm_ipsec_mechanism_with_static_keys(tmp_path, topo):
    """An NSM Request with the IPSEC mechanism and static keys in its
    parameters makes an ESP tunnel to the client (scapy's ESP in the
    external namespace): ping both families through it; the answer names
    our outer address (dst_ip) and holds no key; a refresh with that answer
    keeps the tunnel; REST refuses to delete it (409 naming the connection);
    a REST rekey of the tunnel and the connection survive
    kill -9 (keys sealed in the state; sequence numbers never go back) and
    Close takes the tunnel away. Requests with a src_public_key that is no
    certificate, or with a key of the wrong size, are refused naming the
    parameter."""
    sas = tunnel_sas("aes-gcm-128")
    state = tmp_path / "state"
    cfg = default_config(topo.tag) + f"control:\n  state_dir: {state}\n"
    mg = Meshgate(tmp_path, cfg, name="nsmesp")
    logs, answers = [], []
    req = {"connection": {
        "id": "ipsec-1", "network_service": "secure",
        "mechanism": {"cls": "REMOTE", "type": "IPSEC", "parameters": nsm_ipsec_params(sas)},
        "context": {"ip_context": {"src_ip_addrs": ["10.99.0.1/32", "fd00:99::1/128"],
                                   "dst_ip_addrs": ["10.98.0.1/32", "fd00:98::1/128"]}}}}
    try:
        mg.start()
        ctl = Control(mg)
        bad = json.loads(json.dumps(req))
        bad["connection"]["mechanism"]["parameters"] = {"src_ip": "10.10.2.2",
                                                        "src_public_key": "AAAA"}
        kind, err = ctl.nsm("Request", bad)
        # A public key means IKEv2 (tests/netns/test_ike_strongswan.py): this is no certificate.
        assert kind == "error" and "src_public_key" in err["field"], err
        bad["connection"]["mechanism"]["parameters"] = dict(nsm_ipsec_params(sas),
                                                            dst_key="0011")
        kind, err = ctl.nsm("Request", bad)
        assert kind == "error" and "dst_spi" in err["field"] and "key" in err["field"], err
        assert ctl.ok("GET", "/v1/esp-tunnels") == []

        kind, conn = ctl.nsm("Request", req)
        assert kind == "result", conn
        answers.append(json.dumps(conn))
        params = conn["mechanism"]["parameters"]
        assert params["dst_ip"] == "10.10.2.1" and params["src_spi"] == str(0x1002), params
        assert not any(k in params for k in ("src_key", "dst_key", "src_salt", "dst_key6")), params
        tuns = ctl.ok("GET", "/v1/esp-tunnels")
        assert len(tuns) == 1 and tuns[0]["remote"] == "10.10.2.2", tuns
        # A refresh with the Connection we answered (no keys in it) keeps the tunnel.
        kind, again = ctl.nsm("Request", {"connection": conn})
        assert kind == "result", again
        assert again["path"]["path_segments"][-1]["id"] == conn["path"]["path_segments"][-1]["id"]
        assert [t["name"] for t in ctl.ok("GET", "/v1/esp-tunnels")] == [tuns[0]["name"]]
        assert {s["spi"] for s in tuns[0]["sas"]} == {0x1001, 0x1002, 0x1003, 0x1004}
        # The connection's tunnel goes with the connection: REST may not delete it.
        st, err = ctl.http("DELETE", f"/v1/esp-tunnels/{tuns[0]['name']}")
        assert st == 409 and err["error"]["field"] == "name", (st, err)
        assert "connection 'ipsec-1'" in err["error"]["message"], err
        assert [t["name"] for t in ctl.ok("GET", "/v1/esp-tunnels")] == [tuns[0]["name"]]
        new = tunnel_sas("chacha20-poly1305", 0x2000)
        peer = Peer(topo, tmp_path, sas,
                    peer_sas=flip(sas) + [dict(s, standby=True) for s in flip(new)])
        for dst in ("10.99.0.1", "fd00:99::1"):
            topo.ping("pod", dst, count=1)
            r = topo.ping("pod", dst, count=3, extra=("-w", "10"))
            assert r.returncode == 0 and " 0% packet loss" in r.stdout, (dst, r.stdout, mg.log())
        # A rekey over REST of the connection's tunnel: it must outlive the restart
        # (the peer moves to the new SAs and knows no other after that).
        ctl.ok("PUT", f"/v1/esp-tunnels/{tuns[0]['name']}/sas", {"sas": new})
        for dst in ("10.99.0.1", "fd00:99::1"):
            r = topo.ping("pod", dst, count=3, extra=("-w", "10"))
            assert r.returncode == 0 and " 0% packet loss" in r.stdout, (dst, r.stdout, mg.log())
        answers.append(json.dumps(ctl.ok("GET", "/v1/connections")))
        logs.append(mg.log())
        mg.kill()

        mg.start()
        ctl = Control(mg)
        assert [c["id"] for c in ctl.ok("GET", "/v1/connections")] == ["ipsec-1"], mg.log()
        spis = {s["spi"] for s in ctl.ok("GET", "/v1/esp-tunnels")[0]["sas"]}
        assert spis == {0x2001, 0x2002, 0x2003, 0x2004}, (spis, mg.log())
        for dst in ("10.99.0.1", "fd00:99::1"):
            topo.ping("pod", dst, count=1)
            r = topo.ping("pod", dst, count=3, extra=("-w", "10"))
            assert r.returncode == 0 and " 0% packet loss" in r.stdout, (dst, r.stdout, mg.log())
        # Once more: now from the snapshot written at the last start ("esp_conn").
        logs.append(mg.log())
        mg.kill()
        mg.start()
        ctl = Control(mg)
        spis = {s["spi"] for s in ctl.ok("GET", "/v1/esp-tunnels")[0]["sas"]}
        assert spis == {0x2001, 0x2002, 0x2003, 0x2004}, (spis, mg.log())
        r = topo.ping("pod", "10.99.0.1", count=3, extra=("-w", "10"))
        assert r.returncode == 0 and " 0% packet loss" in r.stdout, (r.stdout, mg.log())
        kind, res = ctl.nsm("Close", {"id": "ipsec-1"})
        assert kind == "result", res
        assert ctl.ok("GET", "/v1/esp-tunnels") == []
        logs.append(mg.log())
        mg.stop()
    finally:
        mg.kill()
    ps = peer.stats()
    assert not ps["errors"] and ps["decrypted"] >= 12 and ps.get("switched") == 2, ps
    for spi in (0x1001, 0x1003, 0x2001, 0x2003):
        assert ps["seq_back"].get(str(spi), 0) == 0, ps
    text = ("".join(logs) + "".join(answers)).lower()
    blobs = [f.read_bytes().lower() for f in state.iterdir()]
    for s in sas + new:
        assert s["key"] not in text, f"key of SPI {s['spi']} in the log or an answer"
        for b in blobs:
            assert s["key"].encode() not in b, f"key of SPI {s['spi']} in the state"


SYN = r"""
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(2)
s.connect_ex((sys.argv[1], 5599))
"""


def syn_mss(topo, tmp_path, src_side, cap_side, cap_if, dst, name):
    """The MSS option of the SYN that src_side's kernel sends to dst, as
    captured on cap_side's interface cap_if."""
    cap = tmp_path / f"{name}.pcap"
    dump = topo.spawn(cap_side, "tcpdump", "-ni", cap_if, "-c", "1", "-w", str(cap),
                      "tcp dst port 5599")
    time.sleep(1.0)
    for _ in range(5):
        topo.run(src_side, "/usr/bin/python3", "-c", SYN, dst)
        try:
            dump.wait(3)
            break
        except subprocess.TimeoutExpired:
            continue
    dump.kill()
    pkts = rdpcap(str(cap))
    assert pkts, f"no SYN to {dst} captured on {cap_side}/{cap_if}"
    from scapy.layers.inet import TCP
    from scapy.layers.inet6 import IPv6
    ip = pkts[0][IP] if IP in pkts[0] else pkts[0][IPv6]
    tcp = ip[TCP]
    assert tcp.flags & 0x02, tcp
    mss = dict((k, v) for k, v in tcp.options if isinstance(k, str)).get("MSS")
    # The TCP checksum still verifies after the rewrite: scapy's own sum matches.
    again = ip.__class__(bytes(ip))
    del again[TCP].chksum
    assert ip.__class__(bytes(again))[TCP].chksum == tcp.chksum, (name, pkts[0])
    return mss


@pytest.mark.parametrize("clamp", ["auto", "1200"])
def test_mss_clamping_both_directions_both_families(tmp_path, topo, clamp):
    """mss_clamp on the tunnel: the SYNs the pod's kernel sends into the
    tunnel reach the peer with their MSS lowered (to MTU - 40 / - 60 with
    auto, else to the number), and so do the SYNs coming out of the
    tunnel towards the pod; their TCP checksums still verify."""
    sas = tunnel_sas("aes-gcm-128")
    cfg = config(topo.tag, sas).replace("    udp_encap: false\n",
                                        f"    udp_encap: false\n    mss_clamp: {clamp}\n", 1)
    with Meshgate(tmp_path, cfg, name="esp") as mg:
        Peer(topo, tmp_path, sas)
        mtu = Control(mg).ok("GET", "/v1/esp-tunnels/tun0")["mtu"]
        assert Control(mg).ok("GET", "/v1/esp-tunnels/tun0")["mss_clamp"] == \
            (clamp if clamp == "auto" else int(clamp))
        want = {4: mtu - 40, 6: mtu - 60} if clamp == "auto" else {4: 1200, 6: 1200}
        topo.ping("pod", "10.99.0.1", count=1)
        topo.ping("pod", "fd00:99::1", count=1)
        got = {}
        for fam, dst, back in ((4, "10.99.0.1", "10.10.1.2"), (6, "fd00:99::1", "fd00:10:1::2")):
            got[("out", fam)] = syn_mss(topo, tmp_path, "pod", "ext", "esptun0", dst, f"o{fam}")
            got[("in", fam)] = syn_mss(topo, tmp_path, "ext", "pod", "eth0", back, f"i{fam}")
    for (d, fam), mss in got.items():
        assert mss == want[fam], (d, fam, mss, want, got)
