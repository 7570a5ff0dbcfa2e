# SPDX-License-Identifier: BSD-3-Clause
"""Packet trace (REST /v1/trace, meshgatectl trace): the next N packets
matching a filter record every node they enter and what was decided for
them. A forwarded packet shows its lookup and the port and adjacency it
left by (TTL decremented in the frame sent); a TTL-expired one shows the
ICMP error node and the error routed back; a bad-checksum one ends in the
drop node with its reason; a neighbor solicitation is punted."""
import re
import subprocess
import time

from mgrun import MESHGATECTL, Control, Meshgate
from topo import default_config

GW_MAC = {"pod": "02:6d:67:00:01:01", "ext": "02:6d:67:00:02:01"}


def gw(tmp_path, topo):
    return Meshgate(tmp_path, default_config(topo.tag), name="tr")


def wait_traced(ctl, n, timeout=10):
    end = time.time() + timeout
    while True:
        t = ctl.ok("GET", "/v1/trace")
        if t["packets"] >= n:
            return t
        assert time.time() < end, __import__("json").dumps(t, indent=1)
        time.sleep(0.1)


def scapy_send(topo, side, pkt_expr):
    code = ("from scapy.all import *; conf.verb = 0; "
            f"sendp({pkt_expr}, iface='eth0')")
    r = topo.run(side, "/usr/bin/python3", "-c", code)
    assert r.returncode == 0, r.stderr


def test_forwarded_expired_and_dropped_packets(tmp_path, topo):
    with gw(tmp_path, topo) as mg:
        ctl = Control(mg)
        assert topo.ping("pod", "10.10.2.2").returncode == 0
        # Only ICMP echo requests, and only 3 of them.
        t = ctl.ok("POST", "/v1/trace", {"filter": "icmp[icmptype] == 8 or udp port 7777",
                                         "count": 3})
        assert t["count"] == 3 and t["remaining"] == 3 and t["packets"] == 0
        assert topo.ping("pod", "10.10.2.2", count=1).returncode == 0
        r = topo.ping("pod", "10.10.2.2", count=1, extra=("-t", "1"))
        assert "Time to live exceeded" in r.stdout
        pod_mac = topo.run("pod", "cat", "/sys/class/net/eth0/address").stdout.strip()
        scapy_send(topo, "pod", f"Ether(src='{pod_mac}', dst='{GW_MAC['pod']}')/"
                   "IP(src='10.10.1.2', dst='10.10.2.2', chksum=0x1234)/UDP(dport=7777)")
        # A fourth match is not traced: the count is spent.
        assert topo.ping("pod", "10.10.2.2", count=1).returncode == 0
        t = wait_traced(ctl, 3)
        time.sleep(0.3)
        t = ctl.ok("GET", "/v1/trace")
    assert t["packets"] == 3 and t["remaining"] == 0 and t["lost"] == 0, t
    fwd, expired, bad = t["trace"]
    nodes = [h["node"] for h in fwd["hops"]]
    assert nodes == ["eth-input", "ip4-lookup", "port-tx"], fwd
    assert fwd["hops"][0]["text"].startswith(f"rx port pod, 98 bytes: {pod_mac} -> {GW_MAC['pod']}")
    assert "IPv4 10.10.1.2 -> 10.10.2.2 ICMP ttl 64" in fwd["hops"][0]["text"]
    out = fwd["hops"][2]["text"]
    assert out.startswith(f"{GW_MAC['ext']} -> ") and "ttl 63" in out, out
    assert re.search(r"tx port ext via interface ext \(adjacency \d+\)", out), out
    assert all(h["ns"] >= 0 for h in fwd["hops"])
    assert [h["node"] for h in expired["hops"]] == ["eth-input", "ip4-lookup", "ip4-icmp-error",
                                                    "ip4-lookup", "port-tx"], expired
    assert "ip4-ttl-expired, ICMP error type 11 code 0" in expired["hops"][2]["text"]
    assert "IPv4 10.10.1.1 -> 10.10.1.2 ICMP" in expired["hops"][4]["text"]
    assert "tx port pod" in expired["hops"][4]["text"]
    assert [h["node"] for h in bad["hops"]] == ["eth-input", "drop"], bad
    assert bad["hops"][1]["text"].endswith("dropped: ip4-bad-checksum"), bad


def test_meshgatectl_trace_and_bad_requests(tmp_path, topo):
    def mgctl(mg, *args):
        return subprocess.run([str(MESHGATECTL), "-p", mg.prefix, *map(str, args)],
                              capture_output=True, text=True, timeout=30)

    with gw(tmp_path, topo) as mg:
        ctl = Control(mg)
        assert "no trace" in mgctl(mg, "trace", "show").stdout
        for body, field in (({"count": 0}, "count"), ({"count": 5000}, "count"),
                            ({}, "count"), ({"count": 1, "filter": "icmp and"}, "filter"),
                            ({"count": 1, "colour": 1}, "colour")):
            st, j = ctl.http("POST", "/v1/trace", body)
            assert st == 400 and j["error"]["field"] == field, (body, j)
        assert not ctl.ok("GET", "/v1/trace")["active"]     # nothing half-made
        r = mgctl(mg, "trace", "add", "filter", "icmp6 and ip6[40] == 128", "count", "2")
        assert r.returncode == 0 and "tracing the next 2 packet(s) matching icmp6" in r.stdout
        assert topo.ping("pod", "fd00:10:2::2", count=2).returncode == 0
        wait_traced(ctl, 2)
        show = mgctl(mg, "trace", "show").stdout
        pk = show.split("Packet ")
        assert len(pk) == 3 and pk[1].startswith("1 (worker 0)"), show
        lines = pk[1].strip().splitlines()[1:]
        assert [l.split()[1] for l in lines] == ["eth-input", "ip6-lookup", "port-tx"], show
        assert "hlim 63" in lines[2] and "tx port ext" in lines[2], show
        assert "2 of 2 packet(s) traced, 0 still to come" in show
        assert mgctl(mg, "trace", "clear").returncode == 0
        assert not ctl.ok("GET", "/v1/trace")["active"]
        assert mgctl(mg, "trace", "add", "count", "x").returncode == 2
        bad = mgctl(mg, "trace", "add", "filter", "nonsense here")
        assert bad.returncode == 1 and "filter:" in bad.stderr
        # Traffic flows on, untraced.
        assert topo.ping("pod", "10.10.2.2", count=2).returncode == 0


def test_meshgatectl_top_rates(tmp_path, topo):
    """top's rates add up to the traffic: 200 echo requests sent while top
    runs are 200 packets in on pod and out on ext (rate x interval summed
    over the screens), the replies the other way; idle, zero."""
    import json
    with gw(tmp_path, topo) as mg:
        assert topo.ping("pod", "10.10.2.2").returncode == 0
        assert topo.ping("pod", "fd00:10:2::2").returncode == 0
        idle = subprocess.run([str(MESHGATECTL), "-p", mg.prefix, "--json", "top", "interval",
                               "0.5", "count", "1"], capture_output=True, text=True, timeout=30)
        assert idle.returncode == 0, idle.stderr
        # Idle but for the hosts' own ND/MLD chatter (a few packets a second).
        assert json.loads(idle.stdout)["ports"]["pod"]["rx_pps"] < 30
        top = subprocess.Popen([str(MESHGATECTL), "-p", mg.prefix, "--json", "top", "interval",
                                "1", "count", "12"], stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        pinger = topo.run("pod", "ping", "-q", "-i", "0.02", "-c", "200", "10.10.2.2",
                          timeout=60)
        out, _ = top.communicate(timeout=60)
        human = subprocess.run([str(MESHGATECTL), "-p", mg.prefix, "top", "count", "1"],
                               capture_output=True, text=True, timeout=30)
        bad = subprocess.run([str(MESHGATECTL), "-p", mg.prefix, "top", "interval", "0"],
                             capture_output=True, text=True, timeout=30)
    assert pinger.returncode == 0 and " 0% packet loss" in pinger.stdout, pinger.stdout
    assert top.returncode == 0
    screens = [json.loads(s) for s in out.replace("}\n{", "}\n\x00{").split("\x00")]
    assert len(screens) == 12
    assert all(0.9 < s["interval"] < 2.0 for s in screens)

    def total(port, key):
        return sum(s["ports"][port][key] * s["interval"] for s in screens)
    # The ping ended within top's 12 s: its 200 requests and 200 replies are all
    # counted. Only forwarded packets leave on ext, so that count is exact; what
    # the ports receive also holds the hosts' own ND/MLD chatter.
    assert 198 <= total("ext", "tx_pps") <= 205, total("ext", "tx_pps")
    assert 198 <= total("pod", "rx_pps") <= 260, total("pod", "rx_pps")
    assert 198 <= total("ext", "rx_pps") <= 260, total("ext", "rx_pps")
    assert 396 <= sum(s["nodes"]["eth-input"]["pps"] * s["interval"] for s in screens) <= 520
    assert "rx pkt/s" in human.stdout and "cycles/packet" in human.stdout, human.stdout
    assert bad.returncode == 2 and "interval" in bad.stderr
