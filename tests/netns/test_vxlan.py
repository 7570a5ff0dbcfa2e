# SPDX-License-Identifier: BSD-3-Clause
"""meshgate with a VXLAN tunnel to an independent VTEP.

The topology's two namespaces: the pod host behind meshgate, and the
external host, which is also the far VTEP: either tests/netns/vxlan_peer.py
(scapy's VXLAN between a TAP device and a UDP socket, independent of the
kernel's vxlan support), or a Linux vxlan device (skipped where the kernel
has none). Either way the external kernel's own ARP/ND, ping and iperf3
cross the overlay.

Overlay: 10.99.0.0/24 and fd00:99::/64, meshgate's vx0 .1, the peer's TAP .2.
Underlay: 10.10.2.1 (meshgate's ext port) <-> 10.10.2.2 (the external host),
or fd00:10:2::1 <-> fd00:10:2::2.
"""
import json
import subprocess
import sys
import time

import pytest

from mgrun import MESHGATECTL, Control, Meshgate, ROOT, check
from promtext import parse as prom_parse
from topo import default_config

PEER = ROOT / "tests" / "netns" / "vxlan_peer.py"
OUTER = {4: ("10.10.2.1", "10.10.2.2"), 6: ("fd00:10:2::1", "fd00:10:2::2")}
VNI = 4242
PEER_MAC = "02:00:00:99:00:02"


def config(tag, outer=4, vni=VNI, extra=""):
    local, remote = OUTER[outer]
    text = default_config(tag)
    text += (f"vxlan:\n  - name: vx0\n    vni: {vni}\n    local: \"{local}\"\n"
             f"    remote: \"{remote}\"\n    ipv4: [10.99.0.1/24]\n"
             "    ipv6: [\"fd00:99::1/64\"]\n" + extra)
    return text


def overlay_host(topo, dev, mtu):
    """The external host's overlay side: addresses on @dev, routes back to the pod through it."""
    for cmd in (["ip", "link", "set", dev, "address", PEER_MAC],
                ["ip", "link", "set", dev, "mtu", str(mtu)],
                ["ip", "link", "set", dev, "up"],
                ["ip", "addr", "add", "10.99.0.2/24", "dev", dev],
                ["ip", "-6", "addr", "add", "fd00:99::2/64", "dev", dev, "nodad"],
                ["ip", "route", "add", "10.10.1.0/24", "via", "10.99.0.1", "dev", dev],
                ["ip", "-6", "route", "add", "fd00:10:1::/64", "via", "fd00:99::1", "dev", dev]):
        r = topo.run("ext", *cmd)
        assert r.returncode == 0, (cmd, r.stderr)


class Peer:
    def __init__(self, topo, tmp_path, outer=4, vni=VNI, name="vxp0"):
        self.cfgfile = tmp_path / "vxpeer.json"
        self.statsfile = tmp_path / "vxpeer.stats.json"
        ready = tmp_path / "vxpeer.ready"
        ready.unlink(missing_ok=True)
        local, remote = OUTER[outer][1], OUTER[outer][0]
        self.cfgfile.write_text(json.dumps({
            "local": local, "remote": remote, "vni": vni, "tap": name,
            "stats": str(self.statsfile), "ready": str(ready)}))
        self.proc = topo.spawn("ext", sys.executable if "scapy" in sys.modules else "/usr/bin/python3",
                               str(PEER), str(self.cfgfile))
        for _ in range(100):
            if ready.exists():
                break
            if self.proc.poll() is not None:
                raise RuntimeError(self.proc.stdout.read())
            time.sleep(0.1)
        overlay_host(topo, name, 1450 if outer == 4 else 1430)

    def stats(self):
        self.proc.terminate()
        self.proc.wait(10)
        return json.loads(self.statsfile.read_text())


def pings_both_ways(topo, mg):
    for side, dst in (("pod", "10.99.0.2"), ("pod", "fd00:99::2"),
                      ("ext", "10.10.1.2"), ("ext", "fd00:10:1::2"),
                      ("ext", "10.99.0.1"), ("ext", "fd00:99::1")):
        # One unchecked ping first: ARP/ND from cold on both links and the
        # overlay; then -w, since a Python peer on a loaded machine answers late at times.
        topo.ping(side, dst, count=1)
        r = topo.ping(side, dst, count=3, extra=("-w", "10"))
        assert r.returncode == 0 and " 0% packet loss" in r.stdout, (side, dst, r.stdout,
                                                                     mg.log())


@pytest.mark.parametrize("outer", [4, 6], ids=["ipv4-underlay", "ipv6-underlay"])
def test_scapy_vtep_arp_nd_ping_tcp(tmp_path, topo, outer):
    """Pod <-> the far side of a VXLAN tunnel, IPv4 and IPv6 underlay: the
    peer kernel's ARP and ND cross the overlay (meshgate answers for its
    vx0 addresses and resolves the peer's), ping both families both ways and
    to meshgate's own overlay addresses, a TCP transfer through the scapy
    bridge; the peer saw VNI 4242 with the I flag, outer source ports in the
    dynamic range, ARP and IPv6 inner frames; the tunnel's counters agree in
    GET /v1/vxlan, /metrics (strict parser), telemetry and meshgatectl."""
    with Meshgate(tmp_path, config(topo.tag, outer), name="vx") as mg:
        peer = Peer(topo, tmp_path, outer)
        pings_both_ways(topo, mg)
        # meshgate learnt the peer's MAC on vx0 by ARP and ND.
        ctl = Control(mg)
        nbrs = ctl.ok("GET", "/v1/neighbors")
        on_vx = {n["ip"]: n["mac"] for n in nbrs if n.get("interface") == "vx0"}
        assert on_vx.get("10.99.0.2") == PEER_MAC and on_vx.get("fd00:99::2") == PEER_MAC, nbrs
        r = topo.iperf("pod", "ext", "10.99.0.2", seconds=2)
        assert "error" not in r, r
        assert r["end"]["sum_received"]["bytes"] > 100_000
        ifs = {i["name"]: i for i in ctl.ok("GET", "/v1/interfaces")}
        assert ifs["vx0"]["kind"] == "vxlan", ifs["vx0"]
        tun = ctl.ok("GET", "/v1/vxlan/vx0")
        metrics = ctl.http("GET", "/metrics")[1]
        metrics = metrics if isinstance(metrics, str) else metrics.decode()
        for _ in range(30):  # telemetry answers from a snapshot taken once a second
            tel = mg.telemetry("/meshgate/vxlan")
            if tel and tel.get("vx0", {}).get("rx_packets", 0) >= 12:
                break
            time.sleep(0.1)
        show = subprocess.run([str(MESHGATECTL), "-p", mg.prefix, "vxlan", "show"],
                              capture_output=True, text=True, timeout=30)
    ps = peer.stats()
    assert not ps["errors"], ps
    assert ps["decapsulated"] >= 12 and ps["encapsulated"] >= 12, ps
    assert all(49152 <= p <= 65535 for p in ps["sports"]), ps["sports"]
    assert 0x0806 in ps["ethertypes"] and 0x86dd in ps["ethertypes"], ps
    assert tun["vni"] == VNI and tun["local"] == OUTER[outer][0] and tun["port"] == 4789, tun
    assert tun["mtu"] == (1450 if outer == 4 else 1430), tun
    c = tun["counters"]
    assert c["rx_packets"] >= 12 and c["tx_packets"] >= 12 and c["tx_errors"] == 0, c
    fams = prom_parse(metrics)
    key = (("tunnel", "vx0"), ("vni", str(VNI)))
    rx = fams["meshgate_vxlan_rx_packets_total"]["samples"][
        ("meshgate_vxlan_rx_packets_total", key)]
    assert rx >= 12, fams["meshgate_vxlan_rx_packets_total"]
    assert fams["meshgate_vxlan_tx_bytes_total"]["type"] == "counter"
    assert tel["vx0"]["vni"] == VNI and tel["vx0"]["tx_packets"] >= 12, tel
    assert show.returncode == 0 and "vx0" in show.stdout and str(VNI) in show.stdout, \
        show.stdout + show.stderr


def test_wrong_vni_is_dropped_and_counted(tmp_path, topo):
    """A peer on VNI 4243 against a tunnel on 4242: nothing reaches vx0, the
    drops are counted as vxlan-no-tunnel, and meshgate's own frames (ARP
    requests) are refused by the peer as wrong-vni."""
    with Meshgate(tmp_path, config(topo.tag, 4), name="vx") as mg:
        peer = Peer(topo, tmp_path, 4, vni=VNI + 1)
        for dst in ("10.99.0.1", "10.10.1.2"):
            r = topo.ping("ext", dst, count=2, extra=("-w", "3"))
            assert r.returncode != 0, r.stdout
        topo.ping("pod", "10.99.0.2", count=1)
    ps = peer.stats()
    assert mg.stats["drops"]["vxlan-no-tunnel"] >= 2, mg.stats["drops"]
    assert ps["errors"].get("wrong-vni", 0) >= 1, ps


@pytest.mark.parametrize("outer", [4, 6], ids=["ipv4-underlay", "ipv6-underlay"])
def test_linux_vxlan_device(tmp_path, topo, outer):
    """Interop with the kernel's own VTEP: a vxlan device in the external
    namespace (VNI 4242, remote meshgate, dstport 4789; with an IPv6
    underlay it wants UDP checksums both ways), ARP/ND over the overlay, ping
    both families both ways, a TCP transfer each way. Skipped where the
    kernel has no vxlan support."""
    r = topo.run("ext", "ip", "link", "add", "vxk0", "type", "vxlan", "id", str(VNI),
                 "local", OUTER[outer][1], "remote", OUTER[outer][0], "dstport", "4789",
                 "nolearning")
    if r.returncode != 0:
        pytest.skip("the kernel has no vxlan support (ip link add type vxlan: "
                    f"{r.stderr.strip()}); test_scapy_vtep_arp_nd_ping_tcp covers interop")
    with Meshgate(tmp_path, config(topo.tag, outer), name="vx") as mg:
        overlay_host(topo, "vxk0", 1450 if outer == 4 else 1430)
        pings_both_ways(topo, mg)
        for client, server, dst in (("pod", "ext", "10.99.0.2"), ("ext", "pod", "10.10.1.2")):
            r = topo.iperf(client, server, dst, seconds=2)
            assert "error" not in r and r["end"]["sum_received"]["bytes"] > 100_000, r
        tun = Control(mg).ok("GET", "/v1/vxlan/vx0")
    assert tun["counters"]["rx_packets"] > 100 and tun["counters"]["tx_packets"] > 100, tun


def test_nsm_vxlan_mechanism_request_traffic_close(tmp_path, topo):
    """NSM Request with the VXLAN mechanism (src_ip = the client's VTEP, vni):
    meshgate answers with dst_ip (its underlay address towards src_ip) and
    the VNI, the tunnel carries ping both ways; REST cannot delete the
    connection's tunnel (409); Close removes it. Refused requests name the
    parameter and change nothing; without a vni one is chosen and answered."""
    with Meshgate(tmp_path, default_config(topo.tag), name="vx") as mg:
        ctl = Control(mg)
        peer = Peer(topo, tmp_path, 4)
        base = {"id": "vx-conn-1", "network_service": "overlay",
                "mechanism": {"cls": "REMOTE", "type": "VXLAN",
                              "parameters": {"src_ip": OUTER[4][1], "vni": str(VNI)}},
                "context": {"ip_context": {"src_ip_addrs": ["10.99.0.2/24"],
                                           "dst_ip_addrs": ["10.99.0.1/24"]}}}
        for params, field, text in (
                ({"vni": "1"}, "parameters.src_ip", "required"),
                ({"src_ip": "10.10.2.2", "vni": "16777216"}, "parameters.vni", "VNI"),
                ({"src_ip": "192.0.2.9"}, "parameters.src_ip", "dst_ip"),
                ({"src_ip": "10.10.2.2", "dst_ip": "10.10.2.7"}, "parameters.dst_ip",
                 "not an address of")):
            req = dict(base, mechanism=dict(base["mechanism"], parameters=params))
            kind, err = ctl.nsm("Request", {"connection": req})
            assert kind == "error" and field in err["field"], (params, err)
            assert text in err["message"], (params, err)
        assert ctl.ok("GET", "/v1/vxlan") == []
        kind, conn = ctl.nsm("Request", {"connection": base})
        assert kind == "result", conn
        p = conn["mechanism"]["parameters"]
        assert p["dst_ip"] == OUTER[4][0] and p["vni"] == str(VNI) and p["src_ip"] == OUTER[4][1]
        tuns = ctl.ok("GET", "/v1/vxlan")
        assert len(tuns) == 1 and tuns[0]["vni"] == VNI and tuns[0]["ipv4"] == ["10.99.0.1/24"]
        name = tuns[0]["name"]
        for side, dst in (("pod", "10.99.0.2"), ("ext", "10.10.1.2")):
            topo.ping(side, dst, count=1)
            r = topo.ping(side, dst, count=3, extra=("-w", "10"))
            assert r.returncode == 0 and " 0% packet loss" in r.stdout, (side, dst, r.stdout)
        st, err = ctl.http("DELETE", f"/v1/vxlan/{name}")
        assert st == 409 and "NSM connection" in err["error"]["message"], (st, err)
        assert ctl.nsm("Close", {"id": "vx-conn-1"})[0] == "result"
        assert ctl.ok("GET", "/v1/vxlan") == []
        assert topo.ping("pod", "10.99.0.2", count=1).returncode != 0
        # No vni: one is chosen (and kept by the connection).
        req = dict(base, id="vx-conn-2", mechanism=dict(
            base["mechanism"], parameters={"src_ip": OUTER[4][1]}))
        kind, conn = ctl.nsm("Request", {"connection": req})
        assert kind == "result", conn
        vni = int(conn["mechanism"]["parameters"]["vni"])
        assert 0 <= vni <= 0xffffff and ctl.ok("GET", "/v1/vxlan")[0]["vni"] == vni
        assert ctl.nsm("Close", {"id": "vx-conn-2"})[0] == "result"
    peer.stats()


@pytest.mark.parametrize("item,where,text", [
    ("{name: vx1, local: 10.10.2.1, remote: 10.10.2.2}", "vxlan[0]", "VNI"),
    ("{name: vx1, vni: 16777216, local: 10.10.2.1, remote: 10.10.2.2}", "vxlan[0].vni", ""),
    ("{name: vx1, vni: 5, local: 10.10.2.9, remote: 10.10.2.2}", "vxlan[0].local",
     "not an address of an interface in network 'default'"),
    ("{name: vx1, vni: 5, local: 10.10.2.1, remote: 239.1.1.1}", "vxlan[0].remote", "unicast"),
    ("{name: vx1, vni: 5, local: 10.10.2.1, remote: \"fd00::2\"}", "vxlan[0].remote", "family"),
    ("{name: vx1, vni: 5, local: 10.10.2.1, remote: 10.10.2.2, colour: red}", "vxlan[0]",
     "unknown field 'colour'"),
    ("{name: pod, vni: 5, local: 10.10.2.1, remote: 10.10.2.2}", "vxlan[0].name", "exists"),
    ("{name: vx1, vni: 5, local: 10.10.2.1, remote: 10.10.2.2, mac: \"01:00:5e:00:00:01\"}",
     "vxlan[0].mac", "unicast"),
])
def test_config_errors_name_the_field(tmp_path, item, where, text):
    """meshgate --check refuses bad vxlan: entries at FILE:LINE with the field."""
    rc, out = check(default_config("mg") + f"vxlan:\n  - {item}\n", tmp_path)
    assert rc == 1 and where in out and text in out, out


def test_config_duplicate_tunnel_refused(tmp_path):
    """Two tunnels with the same VTEPs, port and VNI cannot be told apart: refused."""
    t = "  - {name: NAME, vni: 7, local: 10.10.2.1, remote: 10.10.2.2}\n"
    rc, out = check(default_config("mg") + "vxlan:\n" + t.replace("NAME", "a") +
                    t.replace("NAME", "b"), tmp_path)
    assert rc == 1 and "vxlan[1].vni" in out and "tunnel 'a'" in out, out


def test_nsm_vxlan_connection_comes_back_after_kill_9(tmp_path, topo):
    """With control.state_dir, an NSM VXLAN connection that let meshgate
    choose its VNI comes back after SIGKILL (from the journal, then from the
    snapshot) with the same VNI, VTEPs and addresses: the peer, configured
    once from the first answer, still reaches the pod."""
    state = tmp_path / "state"
    cfg = default_config(topo.tag) + f"\ncontrol:\n  state_dir: {state}\n"
    mg = Meshgate(tmp_path, cfg, name="vxn")
    req = {"connection": {"id": "vx-conn-kept", "network_service": "default",
                          "mechanism": {"cls": "REMOTE", "type": "VXLAN",
                                        "parameters": {"src_ip": OUTER[4][1]}},
                          "context": {"ip_context": {"src_ip_addrs": ["10.99.0.2/24"],
                                                     "dst_ip_addrs": ["10.99.0.1/24"]}}}}
    try:
        mg.start()
        kind, conn = Control(mg).nsm("Request", req)
        assert kind == "result", conn
        vni = int(conn["mechanism"]["parameters"]["vni"])
        peer = Peer(topo, tmp_path, 4, vni=vni)
        topo.ping("pod", "10.99.0.2", count=1)
        r = topo.ping("pod", "10.99.0.2", count=3, extra=("-w", "10"))
        assert r.returncode == 0, r.stdout
        for _ in range(2):              # from the journal, then from the snapshot
            mg.kill()
            mg.start()
            tuns = Control(mg).ok("GET", "/v1/vxlan")
            assert [(t["vni"], t["local"], t["remote"], t["ipv4"]) for t in tuns] == \
                [(vni, OUTER[4][0], OUTER[4][1], ["10.99.0.1/24"])], tuns
            topo.ping("pod", "10.99.0.2", count=1)
            r = topo.ping("pod", "10.99.0.2", count=3, extra=("-w", "10"))
            assert r.returncode == 0 and " 0% packet loss" in r.stdout, r.stdout
        mg.stop()
        assert not peer.stats()["errors"]
    finally:
        mg.kill()


def test_file_and_rest_tunnels_are_durable(tmp_path, topo):
    """With control.state_dir, the file's tunnel and one added over REST come
    back after SIGKILL (from the journal, then from the snapshot) with their
    VNIs, VTEPs and addresses, and the file's still carries traffic; a tunnel
    deleted over REST stays deleted."""
    state = tmp_path / "state"
    cfg = config(topo.tag) + f"control:\n  state_dir: {state}\n"
    mg = Meshgate(tmp_path, cfg, name="vxd")
    local, remote = OUTER[4]
    want = {"vx0": (VNI, local, remote, ["10.99.0.1/24"]),
            "vx1": (77, local, remote, ["10.98.0.1/24"])}

    def tunnels():
        return {t["name"]: (t["vni"], t["local"], t["remote"], t["ipv4"])
                for t in Control(mg).ok("GET", "/v1/vxlan")}

    def ping():
        topo.ping("pod", "10.99.0.2", count=1)
        r = topo.ping("pod", "10.99.0.2", count=3, extra=("-w", "10"))
        assert r.returncode == 0 and " 0% packet loss" in r.stdout, (r.stdout, mg.log())

    try:
        mg.start()
        peer = Peer(topo, tmp_path)
        ping()
        st, j = Control(mg).http("POST", "/v1/vxlan", {
            "name": "vx1", "vni": 77, "local": local, "remote": remote,
            "ipv4": ["10.98.0.1/24"]})
        assert st == 201, j
        assert tunnels() == want
        for _ in range(2):              # from the journal, then from the snapshot
            mg.kill()
            mg.start()
            assert tunnels() == want, mg.log()
            ping()
        st, j = Control(mg).http("DELETE", "/v1/vxlan/vx1")
        assert st == 204, j
        del want["vx1"]
        for _ in range(2):
            mg.kill()
            mg.start()
            assert tunnels() == want, mg.log()
        ping()
        mg.stop()
        # vx1 (VNI 77) announces its address to the same VTEP, which serves VNI 4242 only.
        errors = peer.stats()["errors"]
        assert set(errors) <= {"wrong-vni"}, errors
    finally:
        mg.kill()
