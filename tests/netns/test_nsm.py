# SPDX-License-Identifier: BSD-3-Clause
"""The NSM control socket with real peers: each supported mechanism set up by
a Request, real traffic through the port it created, then Close; monitor
events, expiry and refresh, both JSON naming styles, and refused requests
that leave everything as it was.

Peers: a second DPDK process (dpdk-testpmd in icmpecho mode) on the memif,
a Linux host in its own namespace on the TAP, and scapy on a VLAN of the pod
port (this kernel has no 802.1Q module)."""
import datetime
import os
import shutil
import stat
import subprocess
import time

import pytest

from mgrun import Control, Meshgate, unique
from topo import default_config

MG_MAC_POD = "02:6d:67:00:01:01"


def start(tmp_path, topo, control=""):
    cfg = default_config(topo.tag)
    if control:
        cfg += "control:\n" + control
    mg = Meshgate(tmp_path, cfg, name="nsm").start()
    return mg, Control(mg)


def ports(ctl):
    return sorted(p["name"] for p in ctl.ok("GET", "/v1/ports"))


def parse_time(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def until(cond, timeout=10, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def netns(topo):
    """An extra namespace for a KERNEL client, removed afterwards."""
    name = f"{topo.tag}-nsc"
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_socket_is_private(tmp_path, topo):
    mg, ctl = start(tmp_path, topo)
    try:
        st = os.stat(ctl.nsm_path)
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o600
        assert stat.S_IMODE(os.stat(ctl.run_dir / "rest.token").st_mode) == 0o600
    finally:
        mg.stop()


def test_memif_with_testpmd_request_traffic_monitor_close(tmp_path, topo):
    """camelCase (protojson) names; a memif port hot-plugged for the request,
    testpmd as the client answering ARP and ping; the path segment's metrics
    count the traffic; Close takes the port away and the monitor says so."""
    testpmd = shutil.which("dpdk-testpmd")
    assert testpmd, "dpdk-testpmd is not installed (package dpdk): run tools/setup"
    mg, ctl = start(tmp_path, topo)
    sock = tmp_path / "memif.sock"
    tp = None
    mon = ctl.nsm_open()
    try:
        mon.send({"id": 1, "method": "MonitorConnections", "params": {"pathSegments": []}})
        ev = mon.recv(timeout=10)
        assert ev["event"]["type"] == "INITIAL_STATE_TRANSFER"
        assert ev["event"].get("connections", {}) == {}

        before = ports(ctl)
        kind, conn = ctl.nsm("Request", {
            "connection": {
                "id": "memif-1", "networkService": "ran",
                "context": {"ipContext": {"srcIpAddrs": ["172.16.9.2/30"],
                                          "dstIpAddrs": ["172.16.9.1/30"]}},
                "labels": {"app": "du"}},
            "mechanismPreferences": [
                {"cls": "LOCAL", "type": "WIREGUARD"},
                {"cls": "LOCAL", "type": "MEMIF", "parameters": {"socketfile": str(sock)}}]})
        assert kind == "result", conn
        assert conn["id"] == "memif-1" and conn["networkService"] == "ran"
        assert conn["mechanism"]["type"] == "MEMIF"
        assert conn["mechanism"]["parameters"]["socketfile"] == str(sock)
        assert conn["labels"] == {"app": "du"}
        assert conn.get("state", "UP") == "UP"
        seg = conn["path"]["pathSegments"][-1]
        assert seg["name"] == "meshgate" and len(seg["id"]) >= 16 and seg["token"]
        exp = parse_time(seg["expires"])
        assert time.time() < exp <= time.time() + 601
        new = [p for p in ports(ctl) if p not in before]
        assert len(new) == 1, ports(ctl)
        assert sock.exists()

        ev = mon.recv(timeout=10)["event"]
        assert ev["type"] == "UPDATE" and "memif-1" in ev["connections"], ev

        tp = subprocess.Popen(
            [testpmd, "-l", "0,1", "-n", "1", "--no-huge", "--no-shconf", "-m", "256",
             "--no-pci", "--file-prefix", unique("tpmd"), "--log-level", "error",
             "--vdev", f"net_memif0,role=client,socket={sock},socket-abstract=no", "--",
             "--forward-mode=icmpecho", "--total-num-mbufs=2048", "--nb-cores=1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # The memif link comes up once testpmd connects.
        r = None
        for _ in range(10):
            r = topo.ping("ext", "172.16.9.2", count=3)
            if " 0% packet loss" in r.stdout:
                break
        assert " 0% packet loss" in r.stdout, r.stdout + r.stderr

        # A refresh (the same connection again) keeps it and reports counters.
        kind, again = ctl.nsm("Request", {"connection": conn})
        assert kind == "result", again
        seg2 = again["path"]["pathSegments"][-1]
        assert seg2["id"] == seg["id"]
        m = seg2["metrics"]
        assert int(m["rx_packets"]) >= 3 and int(m["tx_packets"]) >= 3, m
        assert int(m["rx_bytes"]) >= 3 * 98 and int(m["tx_bytes"]) >= 3 * 98, m
        assert ports(ctl) == sorted(before + new)

        kind, res = ctl.nsm("Close", again)
        assert kind == "result", res
        ev = mon.recv(timeout=10)["event"]
        while ev["type"] == "UPDATE":
            ev = mon.recv(timeout=10)["event"]
        assert ev["type"] == "DELETE" and "memif-1" in ev["connections"], ev
        assert ports(ctl) == before
        assert ctl.http("GET", "/v1/connections/memif-1")[0] == 404
        assert topo.ping("ext", "172.16.9.2", count=1).returncode != 0
    finally:
        mon.close()
        if tp is not None:
            tp.kill()
            tp.wait()
        mg.stop()


def test_kernel_interface_into_a_namespace_snake_case(tmp_path, topo, netns):
    """proto (snake_case) names; the TAP moved into the client's namespace
    and configured there (addresses, src_routes via us); dst_routes are ours
    (a prefix behind the client); ping both families and TCP across."""
    mg, ctl = start(tmp_path, topo)
    try:
        subprocess.run(["ip", "-n", netns, "addr", "add", "192.0.2.1/32", "dev", "lo"], check=True)
        subprocess.run(["ip", "-n", netns, "-6", "addr", "add", "2001:db8:77::1/128", "dev", "lo"],
                       check=True)
        req = {"connection": {
            "id": "kern-1", "network_service": "ran",
            "mechanism": {"cls": "LOCAL", "type": "KERNEL",
                          "parameters": {"name": "nsm0",
                                         "inodeURL": f"file:///var/run/netns/{netns}"}},
            "context": {"ip_context": {
                "src_ip_addrs": ["172.16.8.2/30", "fd00:16:8::2/64"],
                "dst_ip_addrs": ["172.16.8.1/30", "fd00:16:8::1/64"],
                "src_routes": [{"prefix": "10.10.2.0/24"}, {"prefix": "fd00:10:2::/64"}],
                "dst_routes": [{"prefix": "192.0.2.1/32"},
                               {"prefix": "2001:db8:77::1/128", "nextHop": "fd00:16:8::2"}]},
                "MTU": 1400}}}
        kind, conn = ctl.nsm("Request", req)
        assert kind == "result", conn
        assert "path_segments" in conn["path"] and "pathSegments" not in conn["path"]
        assert conn["mechanism"]["parameters"]["name"] == "nsm0"
        link = subprocess.run(["ip", "-n", netns, "-o", "addr", "show", "dev", "nsm0"],
                              capture_output=True, text=True)
        assert "172.16.8.2/30" in link.stdout and "fd00:16:8::2/64" in link.stdout, link
        routes = {r["prefix"]: r for r in ctl.ok("GET", "/v1/routes")}
        assert routes["192.0.2.1/32"]["via"] == "172.16.8.2", routes
        assert routes["2001:db8:77::1/128"]["via"] == "fd00:16:8::2", routes

        def run(*cmd, timeout=30):
            return subprocess.run(["ip", "netns", "exec", netns, *cmd], capture_output=True,
                                  text=True, timeout=timeout)
        for dst in ("10.10.2.2", "fd00:10:2::2"):
            r = run("ping", "-c", "3", "-i", "0.2", "-W", "2", dst)
            assert r.returncode == 0, (dst, r.stdout, r.stderr)
        for dst in ("192.0.2.1", "2001:db8:77::1"):
            r = topo.ping("ext", dst, count=3)
            assert r.returncode == 0, (dst, r.stdout)
        # TCP across, sized by the connection's MTU.
        srv = subprocess.Popen(["ip", "netns", "exec", netns, "iperf3", "-s", "-1", "--bind",
                                "192.0.2.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            until(lambda: ":5201" in run("ss", "-ltn").stdout, 10, "iperf3 server")
            r = topo.run("ext", "iperf3", "-J", "-c", "192.0.2.1", "-t", "2", timeout=40)
            assert '"sum_received"' in r.stdout, r.stdout + r.stderr
        finally:
            srv.kill()
            srv.wait()

        kind, res = ctl.nsm("Close", {"id": "kern-1"})
        assert kind == "result", res
        until(lambda: "nsm0" not in run("ip", "-o", "link").stdout, 10, "the TAP to go")
        routes = {r["prefix"] for r in ctl.ok("GET", "/v1/routes")}
        assert "192.0.2.1/32" not in routes and "2001:db8:77::1/128" not in routes
        assert topo.ping("ext", "192.0.2.1", count=1).returncode != 0
    finally:
        mg.stop()


def test_vlan_on_a_port_with_scapy(tmp_path, topo):
    """A VLAN sub-interface of the pod port; the client (scapy in the pod
    namespace, with the MAC from ethernet_context) pings the external host
    over 802.1Q and gets tagged replies."""
    mg, ctl = start(tmp_path, topo)
    try:
        kind, conn = ctl.nsm("Request", {"connection": {
            "id": "vlan-1", "network_service": "ran",
            "mechanism": {"cls": "LOCAL", "type": "VLAN",
                          "parameters": {"base": "pod", "vlan-id": "100"}},
            "context": {"ip_context": {"src_ip_addrs": ["172.16.100.2/24"],
                                       "dst_ip_addrs": ["172.16.100.1/24"]},
                        "ethernet_context": {"src_mac": "02:00:00:00:64:02"}}}})
        assert kind == "result", conn
        ifc = ctl.ok("GET", "/v1/interfaces/pod.100")
        assert ifc["vlan"] == 100 and ifc["ipv4"] == ["172.16.100.1/24"]
        script = f"""
from scapy.all import Ether, Dot1Q, IP, ICMP, srp1, conf
conf.verb = 0
ok = 0
for seq in range(3):
    p = (Ether(src="02:00:00:00:64:02", dst="{MG_MAC_POD}") / Dot1Q(vlan=100) /
         IP(src="172.16.100.2", dst="10.10.2.2") / ICMP(id=77, seq=seq) / b"nsm-vlan")
    a = srp1(p, iface="eth0", timeout=2)
    if a is not None and a.haslayer(Dot1Q) and a[Dot1Q].vlan == 100 and a.haslayer(ICMP) \\
            and a[ICMP].type == 0 and a[ICMP].seq == seq and a[IP].src == "10.10.2.2":
        ok += 1
print("replies", ok)
"""
        r = topo.run("pod", "/usr/bin/python3", "-c", script, timeout=60)
        assert "replies 3" in r.stdout, r.stdout + r.stderr
        kind, again = ctl.nsm("Request", {"connection": conn})
        # A refresh, not a new setup: same segment, counters kept.
        assert again["path"]["path_segments"][-1]["id"] == conn["path"]["path_segments"][-1]["id"]
        m = again["path"]["path_segments"][-1]["metrics"]
        assert int(m["rx_packets"]) >= 3 and int(m["tx_packets"]) >= 3, m
        assert ctl.nsm("Close", again)[0] == "result"
        assert ctl.http("GET", "/v1/interfaces/pod.100")[0] == 404
    finally:
        mg.stop()


def test_expiry_and_refresh(tmp_path, topo):
    """With a 2 s lifetime: refreshed connections live on, an abandoned one
    is closed when its segment expires, with a DELETE event."""
    mg, ctl = start(tmp_path, topo, "  connection_lifetime_s: 2\n")
    mon = ctl.nsm_open()
    try:
        mon.send({"id": 1, "method": "MonitorConnections", "params": {}})
        assert mon.recv(timeout=10)["event"]["type"] == "INITIAL_STATE_TRANSFER"
        conns = {}
        for cid, vid in (("keep", 201), ("drop", 202)):
            kind, c = ctl.nsm("Request", {"connection": {
                "id": cid, "networkService": "ran",
                "mechanism": {"cls": "LOCAL", "type": "VLAN",
                              "parameters": {"base": "ext", "vlan-id": str(vid)}},
                "context": {"ipContext": {"dstIpAddrs": [f"172.16.{vid}.1/24"]}}}})
            assert kind == "result", c
            exp = parse_time(c["path"]["pathSegments"][-1]["expires"])
            assert exp <= time.time() + 3
            conns[cid] = c
        t0 = time.time()
        while time.time() - t0 < 4.5:
            kind, c = ctl.nsm("Request", {"connection": conns["keep"]})
            assert kind == "result", c
            conns["keep"] = c
            time.sleep(0.5)
        ids = {c["id"] for c in ctl.ok("GET", "/v1/connections")}
        assert ids == {"keep"}, ids
        deleted = set()
        end = time.time() + 5
        while time.time() < end and "drop" not in deleted:
            ev = mon.recv(timeout=5)["event"]
            if ev["type"] == "DELETE":
                deleted |= set(ev["connections"])
        assert deleted == {"drop"}
        assert ctl.http("GET", "/v1/interfaces/ext.202")[0] == 404
        assert ctl.http("GET", "/v1/interfaces/ext.201")[0] == 200
    finally:
        mon.close()
        mg.stop()


def test_refused_requests_change_nothing(tmp_path, topo):
    mg, ctl = start(tmp_path, topo)
    try:
        def dump():
            # The objects, not their live counters: the namespace hosts' own
            # ND/MLD chatter moves those at any time.
            def strip(o):
                if isinstance(o, dict):
                    return {k: strip(v) for k, v in o.items() if k not in ("counters", "stats")}
                if isinstance(o, list):
                    return [strip(v) for v in o]
                return o
            return [strip(ctl.ok("GET", p)) for p in ("/v1/ports", "/v1/interfaces",
                                                     "/v1/routes", "/v1/connections")]
        base = {"id": "bad", "networkService": "ran",
                "mechanism": {"cls": "LOCAL", "type": "VLAN",
                              "parameters": {"base": "pod", "vlan-id": "300"}},
                "context": {"ipContext": {"srcIpAddrs": ["172.16.30.2/24"],
                                          "dstIpAddrs": ["172.16.30.1/24"]}}}
        before = dump()
        cases = [
            ({"connection": dict(base, mechanism={"cls": "LOCAL", "type": "WIREGUARD"})},
             "mechanism", "not supported"),
            ({"connection": dict(base, mechanism={"cls": "LOCAL", "type": "CARRIER_PIGEON"})},
             "mechanism", "not supported"),
            ({"connection": dict(base, colour="red")}, "connection.colour", "unknown field"),
            ({"connection": dict(base, context={"ipContext": {"srcIpAddrs": ["300.1.1.1/24"]}})},
             "src_ip_addrs[0]", "300.1.1.1"),
            ({"connection": dict(base, context={"ipContext": {"srcIpAddrs": "10.0.0.1/24"}})},
             "src_ip_addrs", "array"),
            ({"connection": dict(base, context={"ipContext": {
                "dstIpAddrs": ["172.16.30.1/24"],
                "dstRoutes": [{"prefix": "10.99.0.0/16", "nextHop": "not-an-ip"}]}})},
             "dst_routes[0]", "nextHop"),
            ({"connection": dict(base, mechanism={"cls": "LOCAL", "type": "VLAN",
                                                  "parameters": {"base": "nope", "vlan-id": "5"}})},
             "", "nope"),
            ({"connection": dict(base, context={"ipContext": {
                "srcIpAddrs": [f"10.{i // 250}.{i % 250}.1/32" for i in range(2000)]}})},
             "src_ip_addrs", "1024"),
        ]
        for req, field, text in cases:
            kind, err = ctl.nsm("Request", req)
            assert kind == "error", (req, err)
            assert field in err["field"] or field in err["message"], (field, err)
            assert text.lower() in (err["message"] + err["field"]).lower(), (text, err)
            assert err["code"] in ("INVALID_ARGUMENT", "UNIMPLEMENTED", "NOT_FOUND",
                                   "FAILED_PRECONDITION", "ALREADY_EXISTS"), err
        assert dump() == before
        # Not JSON at all, and an unknown method: an error, the stream stays usable.
        with ctl.nsm_open() as s:
            s.sock.sendall(b"{not json\n")
            m = s.recv(timeout=10)
            assert "error" in m and "JSON" in m["error"]["message"], m
            kind, err = s.call("Teleport", {})
            assert kind == "error" and "Teleport" in err["message"], err
            kind, ok = s.call("Request", {"connection": base})
            assert kind == "result", ok
        assert ctl.nsm("Close", {"id": "bad"})[0] == "result"
        assert ctl.nsm("Close", {"id": "bad"})[0] == "error"
        assert dump() == before
    finally:
        mg.stop()


def test_what_a_connection_owns_goes_only_with_it(tmp_path, topo):
    """The route, VLAN interface and address a Request set up are the
    connection's: REST may neither delete nor replace them (409, alone or in a
    batch), so a replacement cannot outlive Close or vanish on a restart."""
    mg, ctl = start(tmp_path, topo)
    try:
        kind, conn = ctl.nsm("Request", {"connection": {
            "id": "owned", "network_service": "ran",
            "mechanism": {"cls": "LOCAL", "type": "VLAN",
                          "parameters": {"base": "pod", "vlan-id": "301"}},
            "context": {"ip_context": {"src_ip_addrs": ["172.16.32.2/32"],
                                       "dst_ip_addrs": ["172.16.31.1/24"]}}}})
        assert kind == "result", conn
        mine = [r for r in ctl.ok("GET", "/v1/routes") if r["prefix"] == "172.16.32.2/32"]
        assert len(mine) == 1 and mine[0]["interface"] == "pod.301", ctl.ok("GET", "/v1/routes")
        before = ctl.ok("GET", "/v1/routes")
        path = f"/v1/routes/{mine[0]['network']}/172.16.32.2/32"
        for method, p, body in [
                ("PUT", path, {"via": "10.10.2.2"}),
                ("DELETE", path, None),
                ("POST", "/v1/batch", {"operations": [
                    {"op": "replace", "route": {"network": mine[0]["network"],
                                                "prefix": "172.16.32.2/32", "via": "10.10.2.2"}}]}),
                ("DELETE", "/v1/interfaces/pod.301", None)]:
            st, j = ctl.http(method, p, body)
            assert st == 409 and "NSM connection" in j["error"]["message"], (method, p, st, j)
            assert j["error"]["field"], j
        assert ctl.ok("GET", "/v1/routes") == before
        assert ctl.nsm("Close", conn)[0] == "result"
        assert not [r for r in ctl.ok("GET", "/v1/routes") if r["prefix"] == "172.16.32.2/32"]
    finally:
        mg.stop()


def test_kernel_interface_by_namespace_inode(tmp_path, topo, netns):
    """inodeURL as NSM forwarders give it: inode://DEV/INO of the client's
    network namespace, found through a process living in it."""
    sleeper = subprocess.Popen(["ip", "netns", "exec", netns, "sleep", "60"])
    mg, ctl = start(tmp_path, topo)
    try:
        until(lambda: os.path.exists(f"/proc/{sleeper.pid}/ns/net"), 5, "the sleeper")
        time.sleep(0.2)    # ip netns exec has switched namespaces by now
        st = os.stat(f"/var/run/netns/{netns}")
        kind, conn = ctl.nsm("Request", {"connection": {
            "id": "kern-inode", "networkService": "ran",
            "mechanism": {"cls": "LOCAL", "type": "KERNEL",
                          "parameters": {"name": "nsmi0",
                                         "inodeURL": f"inode://{st.st_dev}/{st.st_ino}"}},
            "context": {"ipContext": {"srcIpAddrs": ["172.16.7.2/30"],
                                      "dstIpAddrs": ["172.16.7.1/30"]}}}})
        assert kind == "result", conn
        r = subprocess.run(["ip", "netns", "exec", netns, "ping", "-c", "2", "-i", "0.2", "-W", "2",
                            "172.16.7.1"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        kind, err = ctl.nsm("Request", {"connection": {
            "id": "kern-gone", "networkService": "ran",
            "mechanism": {"cls": "LOCAL", "type": "KERNEL",
                          "parameters": {"inodeURL": "inode://1/1"}}}})
        assert kind == "error" and err["field"] == "connection.mechanism.parameters.inodeURL", err
        assert ctl.nsm("Close", {"id": "kern-inode"})[0] == "result"
    finally:
        sleeper.kill()
        sleeper.wait()
        mg.stop()
