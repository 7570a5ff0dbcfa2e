# SPDX-License-Identifier: BSD-3-Clause
"""Packet capture at runtime (REST /v1/captures): at a port's RX or TX, at a
graph node, at the drop node with each packet's drop reason, with a pcap
filter and limits. The files are read back with tshark and scapy and must
hold exactly the packets the test sent; the live stream over REST gives the
same bytes as the file; a full capture ring costs capture copies, counted,
and never traffic."""
import os
import subprocess
import threading
import time

import pytest
from scapy.all import ICMP, IP, IPv6, ICMPv6EchoRequest, UDP, Ether, rdpcap  # noqa: F401

from mgrun import Control, Meshgate
from topo import default_config

GW_MAC = {"pod": "02:6d:67:00:01:01", "ext": "02:6d:67:00:02:01"}


def gw(tmp_path, topo):
    cfg = default_config(topo.tag) + f"control:\n  capture_dir: {tmp_path}/cap\n"
    return Meshgate(tmp_path, cfg, name="cap")


def wait_stopped(ctl, cid, timeout=20):
    end = time.time() + timeout
    while True:
        info = ctl.ok("GET", f"/v1/captures/{cid}")
        if not info["running"]:
            return info
        assert time.time() < end, info
        time.sleep(0.1)


def tshark(path, *fields, filt=None):
    if not shutil_which("tshark"):
        pytest.fail("tshark is not installed: run tools/setup --test")
    cmd = ["tshark", "-r", str(path), "-T", "fields", *sum((["-e", f] for f in fields), [])]
    if filt:
        cmd += ["-Y", filt]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return [line.split("\t") for line in r.stdout.splitlines()]


def shutil_which(x):
    import shutil
    return shutil.which(x)


def test_port_rx_with_filter_holds_exactly_the_matching_packets(tmp_path, topo):
    with gw(tmp_path, topo) as mg:
        ctl = Control(mg)
        # Resolve both hosts first so that no ARP/ND is in flight during the capture.
        assert topo.ping("pod", "10.10.2.2").returncode == 0
        assert topo.ping("pod", "fd00:10:2::2").returncode == 0
        cap = ctl.ok("POST", "/v1/captures", {
            "point": "port:pod:rx", "filter": "icmp and dst host 10.10.2.2",
            "max_packets": 5, "file": "rx.pcapng"})
        assert cap["running"] and cap["file"] == "rx.pcapng"
        assert oct(os.stat(cap["path"]).st_mode & 0o777) == "0o600"
        # Not matching: IPv6 echo, echo to the gateway itself.
        assert topo.ping("pod", "fd00:10:2::2", count=3).returncode == 0
        assert topo.ping("pod", "10.10.1.1", count=3).returncode == 0
        r = topo.ping("pod", "10.10.2.2", count=7, extra=("-p", "c0ffee"))
        assert r.returncode == 0, r.stdout
        info = wait_stopped(ctl, cap["id"])
        assert info["stop_reason"] == "packet limit" and info["packets"] == 5, info
        assert info["dropped"] == 0
    rows = tshark(info["path"], "eth.src", "eth.dst", "ip.src", "ip.dst", "icmp.type",
                  "icmp.seq")
    # Exactly the first five echo requests pod -> ext, in order.
    assert len(rows) == 5, rows
    assert all(r[1:5] == [GW_MAC["pod"], "10.10.1.2", "10.10.2.2", "8"] for r in rows), rows
    assert len({r[0] for r in rows}) == 1 and rows[0][0] != GW_MAC["pod"]
    seqs = [int(r[5]) for r in rows]
    assert seqs == list(range(seqs[0], seqs[0] + 5)), rows
    pk = rdpcap(info["path"])
    assert len(pk) == 5
    assert all(p[Ether].type == 0x0800 and bytes(p[ICMP].payload).find(b"\xc0\xff\xee") >= 0
               for p in pk)


def test_port_tx_and_node_capture_both_families(tmp_path, topo):
    with gw(tmp_path, topo) as mg:
        ctl = Control(mg)
        assert topo.ping("pod", "fd00:10:2::2").returncode == 0
        assert topo.ping("pod", "10.10.2.2").returncode == 0
        tx = ctl.ok("POST", "/v1/captures", {
            "point": "port:ext:tx", "filter": "icmp6 and ip6[40] == 128", "max_packets": 4})
        # eth-input sees whole frames; the v6 echo requests from the pod host.
        node = ctl.ok("POST", "/v1/captures", {
            "point": "node:eth-input", "filter": "ip6 and src host fd00:10:1::2 and icmp6 "
            "and ip6[40] == 128", "max_packets": 4, "snaplen": 64})
        r = topo.ping("pod", "fd00:10:2::2", count=6)
        assert r.returncode == 0, r.stdout
        ti, ni = wait_stopped(ctl, tx["id"]), wait_stopped(ctl, node["id"])
    t = rdpcap(ti["path"])
    n = rdpcap(ni["path"])
    assert len(t) == 4 and len(n) == 4
    for p in t:
        # Leaving towards ext: our MAC, hop limit decremented.
        assert p[Ether].src == GW_MAC["ext"] and p[IPv6].hlim == 63
        assert p[IPv6].dst == "fd00:10:2::2" and ICMPv6EchoRequest in p
    for p in n:
        assert p[Ether].dst == GW_MAC["pod"] and p[IPv6].hlim == 64
        assert len(bytes(p)) == 64       # the snap length; the original length is kept
    rows = tshark(ni["path"], "frame.len", "frame.cap_len")
    assert all(int(a) > 64 and int(b) == 64 for a, b in rows), rows
    assert [p[ICMPv6EchoRequest].seq for p in t] == [p[ICMPv6EchoRequest].seq for p in n]


def test_drop_capture_records_the_reason(tmp_path, topo):
    with gw(tmp_path, topo) as mg:
        ctl = Control(mg)
        assert topo.ping("pod", "10.10.2.2").returncode == 0
        cap = ctl.ok("POST", "/v1/captures", {"point": "drop", "filter": "icmp",
                                              "max_packets": 3})
        # TTL 1 through the gateway: dropped (time exceeded), the host hears about it.
        r = topo.ping("pod", "10.10.2.2", count=3, extra=("-t", "1"))
        assert "Time to live exceeded" in r.stdout, r.stdout
        info = wait_stopped(ctl, cap["id"])
    rows = tshark(info["path"], "ip.ttl", "frame.comment")
    assert len(rows) == 3, rows
    # Seen after eth-input: a stand-in Ethernet header, and the comment says so.
    assert all(r[0] == "1" and r[1] == "drop reason: ip4-ttl-expired; no L2 header at this "
               "point" for r in rows), rows
    # libpcap (tcpdump) reads it too, filters on it.
    r = subprocess.run(["tcpdump", "-nr", info["path"], "icmp and ip[8] == 1"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 3, r.stderr


def test_live_stream_is_the_file_and_ends_when_the_capture_stops(tmp_path, topo):
    with gw(tmp_path, topo) as mg:
        ctl = Control(mg)
        assert topo.ping("pod", "10.10.2.2").returncode == 0
        cap = ctl.ok("POST", "/v1/captures", {"point": "port:pod", "filter": "icmp"})
        got = {}

        def read():
            import http.client
            c = http.client.HTTPConnection(ctl.host, ctl.port, timeout=30)
            c.request("GET", f"/v1/captures/{cap['id']}/pcapng",
                      headers={"Authorization": f"Bearer {ctl.token}"})
            r = c.getresponse()
            got["status"], got["type"] = r.status, r.getheader("Content-Type")
            first = r.read1(65536)    # the header blocks come at once
            got["first_at"] = time.time()
            got["body"] = first + r.read()
            got["end_at"] = time.time()
        th = threading.Thread(target=read)
        th.start()
        time.sleep(0.5)
        # The REST endpoint keeps answering while a stream waits.
        assert ctl.ok("GET", f"/v1/captures/{cap['id']}")["running"]
        assert topo.ping("pod", "10.10.2.2", count=4).returncode == 0
        time.sleep(0.3)
        stop_at = time.time()
        info = ctl.ok("POST", f"/v1/captures/{cap['id']}/stop")
        th.join(20)
        assert not th.is_alive()
        assert info["stop_reason"] == "stopped" and info["packets"] == 8, info
        with open(info["path"], "rb") as f:
            whole = f.read()
    assert got["status"] == 200 and got["type"] == "application/x-pcapng"
    assert got["body"] == whole and got["end_at"] >= stop_at
    p = tmp_path / "stream.pcapng"
    p.write_bytes(got["body"])
    rows = tshark(p, "icmp.type")
    assert [r[0] for r in rows] == ["8", "0"] * 4


def test_full_ring_drops_copies_never_traffic(tmp_path, topo):
    with gw(tmp_path, topo) as mg:
        ctl = Control(mg)
        assert topo.ping("pod", "10.10.2.2").returncode == 0
        before = {i["name"]: i["counters"] for i in ctl.ok("GET", "/v1/interfaces")}
        drops0 = ctl.ok("GET", "/v1/stats")["drops"]
        cap = ctl.ok("POST", "/v1/captures", {"point": "port:pod:rx", "filter": "tcp",
                                              "buffer": 16})
        r = topo.iperf("pod", "ext", "10.10.2.2", seconds=2)
        time.sleep(0.2)
        info = ctl.ok("POST", f"/v1/captures/{cap['id']}/stop")
        ifc = {i["name"]: i["counters"] for i in ctl.ok("GET", "/v1/interfaces")}
        drops1 = ctl.ok("GET", "/v1/stats")["drops"]
    assert "error" not in r, r
    assert r["end"]["sum_received"]["bytes"] > 5_000_000
    assert info["dropped"] > 0 and info["packets"] > 0, info
    # Written and dropped copies are every TCP packet the port received.
    assert info["packets"] + info["dropped"] <= ifc["pod"]["rx_packets"] - before["pod"]["rx_packets"]
    assert info["packets"] + info["dropped"] >= r["end"]["sum_sent"]["bytes"] // 65536
    # No packet of the (IPv4) transfer was lost: the only drops are the hosts'
    # own IPv6 chatter (MLD, router solicitations), which is never routed.
    new = {k: drops1[k] - drops0.get(k, 0) for k in drops1 if drops1[k] != drops0.get(k, 0)}
    assert all(k.startswith(("ip6-", "nd-")) for k in new), new
    assert len(rdpcap(info["path"])) == info["packets"]


def test_bad_requests_name_the_field(tmp_path, topo):
    with gw(tmp_path, topo) as mg:
        ctl = Control(mg)
        cases = [
            ({"point": "port:nope"}, 404, "point"),
            ({"point": "port:pod:sideways"}, 400, "point"),
            ({"point": "node:no-such-node"}, 404, "point"),
            ({"point": "somewhere"}, 400, "point"),
            ({"point": "drop", "filter": "tcp port"}, 400, "filter"),
            ({"point": "drop", "filter": "ether host 1:2:3:4:5:6 and frobnicate"}, 400,
             "filter"),
            ({"point": "drop", "file": "../etc/passwd"}, 400, "file"),
            ({"point": "drop", "snaplen": 10 ** 7}, 400, "snaplen"),
            ({"point": "drop", "buffer": 3}, 400, "buffer"),
            ({"point": "drop", "colour": "red"}, 400, "colour"),
            ({"filter": "tcp"}, 400, "point"),
        ]
        for body, status, field in cases:
            st, j = ctl.http("POST", "/v1/captures", body)
            assert st == status and j["error"]["field"] == field, (body, st, j)
        # Port captures need a filter that applies to Ethernet frames.
        st, j = ctl.http("POST", "/v1/captures", {"point": "port:pod", "filter": "ip"})
        assert st == 201
        assert ctl.http("GET", "/v1/captures/999")[0] == 404
        assert ctl.http("GET", "/v1/captures/abc")[0] == 404
        assert ctl.http("GET", "/v1/captures/999/pcapng")[0] == 404
        assert ctl.http("PUT", "/v1/captures")[0] == 405
        # Nothing half-made: only the good one exists, and it still runs.
        caps = ctl.ok("GET", "/v1/captures")
        assert [c["id"] for c in caps] == [j["id"]] and caps[0]["running"]
        assert ctl.http("DELETE", f"/v1/captures/{j['id']}")[0] == 204
        assert ctl.ok("GET", "/v1/captures") == []
        assert topo.ping("pod", "10.10.2.2").returncode == 0


def test_meshgatectl_capture_commands_and_live_dump(tmp_path, topo):
    from mgrun import MESHGATECTL

    def mgctl(mg, *args, **kw):
        return subprocess.run([str(MESHGATECTL), "-p", mg.prefix, *map(str, args)],
                              capture_output=True, timeout=30, **kw)

    with gw(tmp_path, topo) as mg:
        assert topo.ping("pod", "fd00:10:2::2").returncode == 0
        r = mgctl(mg, "capture", "start", "port:ext:tx", "filter", "icmp6 and ip6[40] == 128",
                  "count", "3", "file", "ctl.pcapng")
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode().startswith("capture 1 started: ")
        # A live dump into a pipe, started before the packets exist.
        dump = subprocess.Popen([str(MESHGATECTL), "-p", mg.prefix, "capture", "dump", "1", "-"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.5)
        assert dump.poll() is None          # waiting for packets
        assert topo.ping("pod", "fd00:10:2::2", count=4).returncode == 0
        out, err = dump.communicate(timeout=20)   # ends when the count is reached
        assert dump.returncode == 0, err
        lst = mgctl(mg, "captures").stdout.decode()
        assert "packet limit" in lst and "port:ext:tx" in lst and "ctl.pcapng" in lst, lst
        show = mgctl(mg, "--json", "capture", "show", "1")
        info = __import__("json").loads(show.stdout)
        assert info["packets"] == 3
        # Errors: exit 1 with the field, exit 2 for bad usage.
        bad = mgctl(mg, "capture", "start", "port:ext", "filter", "icmp6 and")
        assert bad.returncode == 1 and b"filter:" in bad.stderr, bad.stderr
        assert mgctl(mg, "capture", "show", "x").returncode == 2
        assert mgctl(mg, "capture", "start", "drop", "colour", "red").returncode == 2
        nf = mgctl(mg, "capture", "dump", "9", "-")
        assert nf.returncode == 1 and b"no capture 9" in nf.stderr, nf.stderr
        assert mgctl(mg, "capture", "del", "1").returncode == 0
        assert mgctl(mg, "--json", "captures").stdout.strip() == b"[]"
    with open(info["path"], "rb") as f:
        assert f.read() == out
    p = [x for x in rdpcap(info["path"])]
    assert len(p) == 3 and all(x[IPv6].hlim == 63 for x in p)


# At most 8 captures run at once: these 7 and an unfiltered one.
FILTERS = ["icmp[icmptype] == icmp-echo", "udp dst port 7777", "udp dst port 7778",
           "udp[8:2] == 0x6d67", "tcp[tcpflags] & tcp-syn != 0 and dst port 5201",
           "ip[0] & 0xf > 5", "icmp6 and ip6[40] == 128"]


def test_filters_agree_with_libpcap(tmp_path, topo):
    """Each filter keeps exactly the packets libpcap's own engine (tcpdump
    reading the unfiltered capture) keeps: variable-length IPv4 headers
    (IP options) included, which DPDK's cBPF converter gets wrong unpatched."""
    if not shutil_which("tcpdump"):
        pytest.fail("tcpdump is not installed: run tools/setup --test")
    with gw(tmp_path, topo) as mg:
        ctl = Control(mg)
        assert topo.ping("pod", "10.10.2.2").returncode == 0
        assert topo.ping("pod", "fd00:10:2::2").returncode == 0
        everything = ctl.ok("POST", "/v1/captures", {"point": "port:pod:rx"})
        caps = {f: ctl.ok("POST", "/v1/captures", {"point": "port:pod:rx", "filter": f})
                for f in FILTERS}
        assert topo.ping("pod", "10.10.2.2", count=3).returncode == 0
        assert topo.ping("pod", "fd00:10:2::2", count=2, extra=("-s", "300")).returncode == 0
        pod_mac = topo.run("pod", "cat", "/sys/class/net/eth0/address").stdout.strip()
        code = ("from scapy.all import *; conf.verb = 0; "
                f"e = Ether(src='{pod_mac}', dst='02:6d:67:00:01:01'); "
                "sendp([e/IP(src='10.10.1.2', dst='10.10.2.2', options=[IPOption(b'\\x94\\x04\\x00\\x00')])"
                "/UDP(sport=1, dport=7777)/b'mg--', "
                "e/IP(src='10.10.1.2', dst='10.10.2.2')/UDP(sport=2, dport=7778)/b'mgmg', "
                "e/IP(src='10.10.1.2', dst='10.10.2.2', ihl=6, options=[IPOption(b'\\x01\\x01\\x01\\x00')])"
                "/TCP(sport=3, dport=5201, flags='S'), "
                "e/IPv6(src='fd00:10:1::2', dst='fd00:10:2::2')/UDP(sport=4, dport=7777)], "
                "iface='eth0')")
        r = topo.run("pod", "/usr/bin/python3", "-c", code)
        assert r.returncode == 0, r.stderr
        time.sleep(0.5)
        infos = {f: ctl.ok("POST", f"/v1/captures/{c['id']}/stop") for f, c in caps.items()}
        allinfo = ctl.ok("POST", f"/v1/captures/{everything['id']}/stop")
    for f, info in infos.items():
        r = subprocess.run(["tcpdump", "-nr", allinfo["path"], f], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        want = len(r.stdout.splitlines())
        assert info["packets"] == want, (f, info["packets"], want, r.stdout)
    assert infos["udp dst port 7777"]["packets"] == 2        # v4 with options, and v6
    assert infos["tcp[tcpflags] & tcp-syn != 0 and dst port 5201"]["packets"] == 1
    assert infos["ip[0] & 0xf > 5"]["packets"] == 2
    assert infos["udp[8:2] == 0x6d67"]["packets"] == 2
    assert infos["icmp[icmptype] == icmp-echo"]["packets"] == 3


def test_metrics_parse_strictly_and_count_captures(tmp_path, topo):
    import promtext
    with gw(tmp_path, topo) as mg:
        ctl = Control(mg)
        assert topo.ping("pod", "10.10.2.2").returncode == 0
        cap = ctl.ok("POST", "/v1/captures", {"point": "port:pod:rx", "filter": "icmp"})
        ctl.ok("POST", "/v1/trace", {"count": 2, "filter": "icmp"})
        assert topo.ping("pod", "10.10.2.2", count=2).returncode == 0
        time.sleep(0.3)
        st, text = ctl.http("GET", "/metrics")
        info = ctl.ok("GET", f"/v1/captures/{cap['id']}")
    fams = promtext.parse(text)
    k = ("meshgate_capture_packets_total", (("capture", str(cap["id"])), ("point", "port:pod:rx")))
    assert fams["meshgate_capture_packets_total"]["samples"][k] == info["packets"] == 2
    assert fams["meshgate_captures_running"]["samples"][("meshgate_captures_running", ())] == 1
    assert fams["meshgate_trace_packets"]["samples"][("meshgate_trace_packets", ())] == 2
    assert fams["meshgate_port_rx_packets_total"]["type"] == "counter"
    drops = fams["meshgate_drops_total"]["samples"]
    assert all(dict(lbl)["reason"] for _, lbl in drops)
    # The parser is strict: it refuses what it should.
    for bad in ('m 1\n', '# TYPE m counter\n# HELP m h\nm{a="b\\q"} 1\n',
                '# HELP m h\n# TYPE m counter\nm -1\n', '# HELP m_total h\n# TYPE m_total counter\n'
                'm_total 1\n# HELP n h\n# TYPE n gauge\nn 1\nm_total{a="1"} 1\n',
                '# HELP g h\n# TYPE g gauge\ng{1a="x"} 1\n', '# HELP g h\n# TYPE g gauge\ng 1'):
        with pytest.raises(promtext.PromError):
            promtext.parse(bad)


def test_rule_capture_action(tmp_path, topo):
    """A classification rule with action capture forwards its packets and hands a
    copy to the 'rules' capture point; other packets are neither copied nor held."""
    cfg = default_config(topo.tag) + (
        f"control:\n  capture_dir: {tmp_path}/cap\n"
        "classify:\n  - network: default\n    rules:\n"
        "      - {protocol: udp, dport: 7777, action: capture}\n"
        "      - {protocol: udp, dport: 5000-6000, action: count}\n")
    with Meshgate(tmp_path, cfg, name="cap") as mg:
        ctl = Control(mg)
        assert topo.ping("pod", "10.10.2.2").returncode == 0
        assert topo.ping("pod", "fd00:10:2::2").returncode == 0
        cap = ctl.ok("POST", "/v1/captures", {"point": "rules", "max_seconds": 30})
        pod_mac = topo.run("pod", "cat", "/sys/class/net/eth0/address").stdout.strip()
        code = ("from scapy.all import *; conf.verb = 0; "
                f"e = Ether(src='{pod_mac}', dst='02:6d:67:00:01:01'); "
                "sendp([e/IP(src='10.10.1.2', dst='10.10.2.2')/UDP(sport=1, dport=7777)/b'a', "
                "e/IP(src='10.10.1.2', dst='10.10.2.2')/UDP(sport=2, dport=5555)/b'b', "
                "e/IPv6(src='fd00:10:1::2', dst='fd00:10:2::2')/UDP(sport=3, dport=7777)/b'c', "
                "e/IP(src='10.10.1.2', dst='10.10.2.2')/UDP(sport=4, dport=7777)/b'd'], "
                "iface='eth0')")
        dump = topo.spawn("ext", "tcpdump", "-nli", "eth0", "-c", "3", "udp dst port 7777")
        time.sleep(1)
        r = topo.run("pod", "/usr/bin/python3", "-c", code)
        assert r.returncode == 0, r.stderr
        out, _ = dump.communicate(timeout=20)
        assert topo.ping("pod", "10.10.2.2", count=2).returncode == 0
        time.sleep(0.3)
        info = ctl.ok("POST", f"/v1/captures/{cap['id']}/stop")
        # Bad rule actions are refused with the field named.
        st, j = ctl.http("PUT", "/v1/networks/default/rules",
                         {"rules": [{"protocol": "udp", "action": "snapshot"}]})
        assert st == 400 and "capture" in j["error"]["message"], j
    # Forwarded: the external host saw all three.
    assert out.count("7777") >= 3, out
    assert info["packets"] == 3, info
    pk = rdpcap(info["path"])
    assert sorted(bytes(p[UDP].payload) for p in pk) == [b"a", b"c", b"d"]
    assert {p[UDP].sport for p in pk} == {1, 3, 4}
