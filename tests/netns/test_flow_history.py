# SPDX-License-Identifier: BSD-3-Clause
"""Stateful classification and flow history with real hosts: the pod and
external hosts of the demo topology on either side of meshgate, whose
network denies everything arriving from the external port and tracks its
flows statefully. The pod host reaches the external one (ping, UDP, TCP,
both families) because replies are admitted; the external host cannot open
anything towards the pod; a reply that comes after the UDP timeout is
denied. The flows that ended are then queried through REST by address,
port, network and time window, received as JSON lines by a collector on a
Unix datagram socket and in the export file, listed by meshgatectl, and
counted in /metrics (parsed strictly)."""
import json
import socket
import subprocess
import threading
import time

from mgrun import MESHGATECTL, Control, Meshgate
from promtext import parse
from topo import default_config

PY = "/usr/bin/python3"

# Replies once at once and once again after @delay seconds.
ECHO_UDP = """
import socket, sys, time
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print('ready', flush=True)
data, peer = s.recvfrom(100)
s.sendto(b'first', peer)
time.sleep(float(sys.argv[3]))
s.sendto(b'late', peer)
"""

# Sends one datagram, prints each answer that comes within @wait seconds.
CLIENT_UDP = """
import socket, sys, time
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind(('::' if fam == socket.AF_INET6 else '0.0.0.0', int(sys.argv[3])))
s.sendto(b'hello', (sys.argv[1], int(sys.argv[2])))
end = time.time() + float(sys.argv[4])
while time.time() < end:
    s.settimeout(max(0.05, end - time.time()))
    try:
        print(s.recv(100).decode(), flush=True)
    except socket.timeout:
        pass
"""

TCP_SERVER = """
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(4)
print('ready', flush=True)
for _ in range(int(sys.argv[3])):
    c, _ = s.accept()
    c.sendall(c.recv(100).upper())
    c.close()
"""

TCP_CLIENT = """
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(float(sys.argv[4]))
s.bind(('::' if fam == socket.AF_INET6 else '0.0.0.0', int(sys.argv[3])))
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    s.sendall(b'hello')
    print(s.recv(100).decode())
except OSError as e:
    print('failed', e)
s.close()
"""


def gateway(tmp_path, topo):
    """The demo topology's config, its network tracking statefully and denying the ext port."""
    cfg = default_config(topo.tag, **{
        "  - name: default\n":
        "  - name: default\n"
        "    flows:\n"
        "      size: 4096\n"
        "      stateful: true\n"
        "      timeouts: {udp: 1, icmp: 1, tcp_closing: 1}\n"})
    cfg += f"""
classify:
  - network: default
    default: permit
    rules:
      - {{id: 1, interface: ext, action: deny}}
flow_history:
  size: 1000
  export: {{file: {tmp_path}/flows.jsonl, socket: {tmp_path}/collector.sock}}
"""
    return cfg


def wait_ready(p, timeout=10):
    line = p.stdout.readline()
    assert line.strip() == "ready", line


def udp_exchange(topo, server_ip, port, client_port, delay, wait):
    srv = topo.spawn("ext", PY, "-c", ECHO_UDP, server_ip, str(port), str(delay))
    wait_ready(srv)
    r = topo.run("pod", PY, "-c", CLIENT_UDP, server_ip, str(port), str(client_port), str(wait),
                 timeout=wait + 30)
    srv.wait(timeout=delay + 30)
    return r.stdout.split()


def tcp_exchange(topo, client, server, server_ip, port, client_port, timeout=5):
    srv = topo.spawn(server, PY, "-c", TCP_SERVER, server_ip, str(port), "1")
    wait_ready(srv)
    r = topo.run(client, PY, "-c", TCP_CLIENT, server_ip, str(port), str(client_port),
                 str(timeout), timeout=timeout + 30)
    if srv.poll() is None:
        srv.kill()
    srv.wait()
    return r.stdout.strip()


def flows(ctl, query):
    st, j = ctl.http("GET", "/v1/flows" + query)
    assert st == 200, j
    assert j["count"] == len(j["flows"])
    return j["flows"]


def wait_flows(ctl, query, n, timeout=30):
    """The history's answer once it holds @n flows for @query (they end by timeouts)."""
    end = time.time() + timeout
    while True:
        got = flows(ctl, query)
        if len(got) >= n or time.time() > end:
            return got
        time.sleep(0.2)


class Collector:
    """A collector on a Unix datagram socket, reading every line as it comes."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(str(path))
        self.s.settimeout(0.1)
        self.lines = []
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop:
            try:
                self.lines.append(json.loads(self.s.recv(65536)))
            except socket.timeout:
                pass

    def close(self):
        self.stop = True
        self.t.join()
        self.s.close()


def test_stateful_hosts_and_flow_history(tmp_path, topo):
    collector = Collector(tmp_path / "collector.sock")
    t0 = time.time()
    with Meshgate(tmp_path, gateway(tmp_path, topo), name="fl") as mg:
        ctl = Control(mg)
        # Out and back in: the replies of the pod host's flows are admitted.
        for dst in ("10.10.2.2", "fd00:10:2::2"):
            r = topo.ping("pod", dst, count=2)
            assert r.returncode == 0 and " 0% packet loss" in r.stdout, (dst, r.stdout)
        # Nothing the external host starts gets through.
        for dst in ("10.10.1.2", "fd00:10:1::2"):
            r = topo.ping("ext", dst, count=2)
            assert r.returncode != 0, (dst, r.stdout)
        assert tcp_exchange(topo, "pod", "ext", "10.10.2.2", 7100, 41000) == "HELLO"
        assert tcp_exchange(topo, "pod", "ext", "fd00:10:2::2", 7101, 41001) == "HELLO"
        assert tcp_exchange(topo, "ext", "pod", "10.10.1.2", 7102, 41002,
                            timeout=2).startswith("failed")
        assert tcp_exchange(topo, "ext", "pod", "fd00:10:1::2", 7103, 41003,
                            timeout=2).startswith("failed")
        # UDP: the answer at once passes; the one after the 1 s timeout (3 s later) does not.
        for ip, port, cport in (("10.10.2.2", 7000, 42000), ("fd00:10:2::2", 7001, 42001)):
            got = udp_exchange(topo, ip, port, cport, delay=3, wait=5)
            assert got == ["first"], (ip, got)
        t1 = time.time()

        # ---- the history -------------------------------------------------------------
        u4 = wait_flows(ctl, "?address=10.10.2.2&port=7000", 1)
        assert len(u4) == 1, u4
        u = u4[0]
        assert (u["protocol"], u["src"], u["sport"], u["dst"], u["dport"]) == \
            ("udp", "10.10.1.2", 42000, "10.10.2.2", 7000)
        assert (u["packets"], u["reply_packets"]) == (1, 1)   # the late one was denied
        assert (u["end"], u["network"], u["source"]) == ("idle", "default", "tracker")
        assert (u["ingress"], u["reply_ingress"]) == ("pod", "ext")
        assert t0 - 1 <= u["first_seen"] <= u["last_seen"] <= t1 + 1
        u6 = wait_flows(ctl, "?address=fd00:10:2::2&port=7001", 1)
        assert len(u6) == 1 and u6[0]["family"] == 6 and u6[0]["reply_packets"] == 1
        t4 = wait_flows(ctl, "?port=7100", 1)
        assert len(t4) == 1, t4
        t = t4[0]
        assert (t["protocol"], t["dst"], t["end"], t["tcp_state"]) == \
            ("tcp", "10.10.2.2", "tcp-fin", "time-wait")
        assert t["packets"] >= 3 and t["reply_packets"] >= 3
        assert t["tcp_flags"] & 0x13 == 0x13   # SYN, ACK and FIN seen
        # The denied SYNs from the external host made no flow.
        assert flows(ctl, "?port=7102") == [] and flows(ctl, "?port=7103") == []
        pings = wait_flows(ctl, "?address=fd00:10:2::2&network=default", 3)
        assert {f["protocol"] for f in pings} >= {"icmpv6", "udp", "tcp"}
        # Time window: everything above is inside [t0, t1], nothing after t1 + 60 s.
        inside = flows(ctl, f"?since={t0 - 1:.3f}&until={t1 + 1:.3f}")
        assert {f["seq"] for f in u4 + u6 + t4} <= {f["seq"] for f in inside}
        assert flows(ctl, f"?since={t1 + 60:.3f}") == []
        assert flows(ctl, f"?until={t0 - 60:.3f}") == []
        assert len(flows(ctl, "?limit=2")) == 2
        st, j = ctl.http("GET", "/v1/flows?network=nope")
        assert st == 404

        # meshgatectl lists the same flow.
        r = subprocess.run([str(MESHGATECTL), "-p", mg.prefix, "--json", "flows", "address",
                            "10.10.2.2", "port", "7000"], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["flows"] == u4
        r = subprocess.run([str(MESHGATECTL), "-p", mg.prefix, "flows", "port", "7100",
                            "since", "10m"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and "10.10.2.2:7100" in r.stdout and "tcp-fin" in r.stdout, \
            r.stdout

        # ---- counters ----------------------------------------------------------------
        st, text = ctl.http("GET", "/metrics")
        m = parse(text)
        adm = m["meshgate_flows_admitted_total"]["samples"][
            ("meshgate_flows_admitted_total", (("network", "default"),))]
        assert adm >= 4   # ping replies (2 x 2), TCP and UDP replies
        assert m["meshgate_flow_history_added_total"]["samples"][
            ("meshgate_flow_history_added_total", ())] >= 6   # ICMP, UDP, TCP x 2 families
        ended = m["meshgate_flows_ended_total"]["samples"]
        assert ended[("meshgate_flows_ended_total",
                      (("network", "default"), ("reason", "tcp-fin")))] >= 2
        st, net = ctl.http("GET", "/v1/networks/default/flows")
        assert net["stateful"] and net["admitted"] == adm

        # ---- export ------------------------------------------------------------------
        end = time.time() + 10
        while not any(x["seq"] == u["seq"] for x in collector.lines) and time.time() < end:
            time.sleep(0.1)
        assert [x for x in collector.lines if x["seq"] == u["seq"]] == [u]
    collector.close()
    # At shutdown the flows still active end (flush) and the file holds every line sent.
    in_file = [json.loads(x) for x in (tmp_path / "flows.jsonl").read_text().splitlines()]
    assert [x for x in in_file if x["seq"] == u["seq"]] == [u]
    seqs = [x["seq"] for x in in_file]
    assert seqs == list(range(1, len(seqs) + 1))


def test_removed_service_flows_keep_its_name(tmp_path, topo):
    """A nat service's flow swept after the service was deleted reaches the
    history as that service's, ended "service-removed", although another
    service was created in between (ids come back only after every other was
    used: the new one once took the old id, and the entry its name)."""
    cfg = default_config(topo.tag) + "control:\n  rest: {listen: \"127.0.0.1:0\"}\n"
    with Meshgate(tmp_path, cfg, name="flsvc") as mg:
        ctl = Control(mg)

        def svc(name, vip, port):
            return {"name": name, "network": "default", "vips": [vip], "mode": "nat",
                    "endpoints": [{"name": "ep-" + name, "address": "10.10.2.2", "port": port}]}
        ctl.ok("POST", "/v1/services", svc("alpha", "10.99.0.1", 7200))
        srv = topo.spawn("ext", PY, "-c", ECHO_UDP, "10.10.2.2", "7200", "0")
        wait_ready(srv)
        r = topo.run("pod", PY, "-c", CLIENT_UDP, "10.99.0.1", "80", "45000", "2", timeout=30)
        srv.wait(timeout=30)
        assert "first" in r.stdout.split(), r.stdout
        ctl.ok("DELETE", "/v1/services/alpha")
        ctl.ok("POST", "/v1/services", svc("beta", "10.99.0.2", 7201))
        got = wait_flows(ctl, "?port=45000", 1)
        assert len(got) == 1, got
        f = got[0]
        assert (f["service"], f["end"], f["source"]) == ("alpha", "service-removed", "service"), f
        assert (f["dst"], f["dport"], f["packets"]) == ("10.99.0.1", 80, 1), f
