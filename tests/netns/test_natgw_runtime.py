# SPDX-License-Identifier: BSD-3-Clause
"""Gateways changed over REST while real hosts talk through them: what
happens to their sessions. Two gateways share the outside address with
disjoint ports (g1 towards 10.10.2.0/24, g2 towards 198.51.100.0/24). The
external UDP servers report the translated source they saw and, on a "kick"
from their own host, send one late datagram to the last client: a reply
that reaches the pod only while meshgate still translates that session.

- g1 replaced with the translation kept (a route added): its session goes
  on, same port, and the late reply still arrives;
- g1 replaced with new ports: its session ends (the late reply to the old
  port is not translated; the flow history has it, ended "gateway-changed"),
  the next packet gets a port of the new range;
- g1 deleted: the pod's packets no longer cross;
- g2's session keeps its port through all of it;
- the endpoint of g2's published service moved to another port (PUT of
  the service's endpoint): new flows from outside reach the new port, and so
  does the next packet of a flow pinned to the old one."""
import subprocess
import time

from mgrun import MESHGATECTL, Control, Meshgate

CONFIG = """
dpdk:
  memory_mb: 1024
  hugepages: false
  lcores: "0@0,1@1"
workers:
  idle: {{mode: sleep}}
networks:
  - name: pods
  - name: outside
ports:
  - name: pod
    device: net_af_packet0,iface={tag}-pod
    network: pods
    mac: "02:6d:67:00:01:01"
    ipv4: [10.10.1.1/24]
  - name: ext
    device: net_af_packet1,iface={tag}-ext
    network: outside
    mac: "02:6d:67:00:02:01"
    ipv4: [10.10.2.1/24]
routes:
  - {{network: outside, prefix: 198.51.100.0/24, via: 10.10.2.2}}
services:
  - {{name: echo, network: pods, vips: [10.10.1.101], mode: nat,
     endpoints: [{{name: pod, address: 10.10.1.2, port: 7007}}]}}
control:
  rest: {{listen: "127.0.0.1:0"}}
"""

SERVER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
port = int(sys.argv[2]) if len(sys.argv) > 2 else 9000
s.bind((sys.argv[1], port))
last = None
print("ready", flush=True)
while True:
    d, a = s.recvfrom(2048)
    if d == b"kick":
        if last is not None:
            s.sendto(b"late", last)
        continue
    last = a
    s.sendto(b"from %s %d at %d" % (a[0].encode(), a[1], port), a)
"""

CLIENT = """
import socket, sys
mode, dst, sport, tries = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
dport = int(sys.argv[5]) if len(sys.argv) > 5 else 9000
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", sport))
s.settimeout(1.0)
if mode == "listen":
    s.settimeout(4.0)
    print("ready", flush=True)
    try:
        print(s.recv(2048).decode())
    except socket.timeout:
        print("timeout")
    sys.exit(0)
for _ in range(tries):
    s.sendto(b"hi", (dst, dport))
    try:
        print(s.recv(2048).decode())
        break
    except socket.timeout:
        pass
else:
    print("timeout")
"""

G1 = {"inside": "pods", "outside": "outside", "routes": ["10.10.2.0/24"], "ports": "30000-30999"}
G2 = {"inside": "pods", "outside": "outside", "routes": ["198.51.100.0/24"],
      "ports": "31000-31999", "publish": [{"protocol": "udp", "port": 53, "service": "echo"}]}


def send(topo, dst, sport, tries=6):
    """The translated source port the server saw, or None."""
    out = topo.run("pod", "/usr/bin/python3", "-c", CLIENT, "send", dst, str(sport),
                   str(tries), timeout=30).stdout.strip()
    if out == "timeout":
        return None
    addr, port = out.split()[1:3]
    assert addr == "10.10.2.1", out
    return int(port)


def published(topo, sport):
    """What the pod's server answers to the outside host through g2's published port."""
    return topo.run("ext", "/usr/bin/python3", "-c", CLIENT, "send", "10.10.2.1", str(sport),
                    "6", "53", timeout=30).stdout.strip()


def late_reply(topo, sport, server="10.10.2.2"):
    """True if the server's late datagram to its last client reaches the pod's @sport."""
    p = topo.spawn("pod", "/usr/bin/python3", "-c", CLIENT, "listen", "-", str(sport), "1")
    assert p.stdout.readline().strip() == "ready"
    # (kicked twice: af_packet on this shared machine loses a datagram now and then)
    for _ in range(2):
        topo.run("ext", "/usr/bin/python3", "-c",
                 "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
                 ".sendto(b'kick', ('%s', 9000))" % server)
        time.sleep(0.3)
    got = p.stdout.readline().strip()
    p.wait(timeout=10)
    return got == "late"


def ended_session(ctl, nat_port):
    """The history's entry of the pod's session that had outside port nat_port."""
    for _ in range(50):
        ended = [f for f in ctl.ok("GET", "/v1/flows?port=5555")["flows"]
                 if f.get("nat_port") == nat_port and f["end"] != "active"]
        if ended:
            assert len(ended) == 1, ended
            return ended[0]
        time.sleep(0.1)
    raise AssertionError(ctl.ok("GET", "/v1/flows"))


def test_sessions_across_gateway_changes(tmp_path, topo):
    with Meshgate(tmp_path, CONFIG.format(tag=topo.tag), name="ngrt") as mg:
        ctl = Control(mg)
        ctl.ok("PUT", "/v1/gateways/g1", G1)
        ctl.ok("PUT", "/v1/gateways/g2", G2)
        for addr in ("10.10.2.2", "198.51.100.1"):
            srv = topo.spawn("ext", "/usr/bin/python3", "-c", SERVER, addr)
            assert srv.stdout.readline().strip() == "ready"

        p1 = send(topo, "10.10.2.2", 5555)
        q1 = send(topo, "198.51.100.1", 5556)
        assert p1 is not None and 30000 <= p1 <= 30999, p1
        assert q1 is not None and 31000 <= q1 <= 31999, q1

        # Translation kept: the session and its port go on, replies still come back.
        ctl.ok("PUT", "/v1/gateways/g1", dict(G1, routes=["10.10.2.0/24", "10.10.3.0/24"]))
        assert send(topo, "10.10.2.2", 5555) == p1
        assert late_reply(topo, 5555)
        assert send(topo, "198.51.100.1", 5556) == q1

        # Translation changed: the old session ends, its late reply is not translated.
        assert send(topo, "10.10.2.2", 5555) == p1  # the server's last client again
        ctl.ok("PUT", "/v1/gateways/g1", dict(G1, ports="32000-32999"))
        assert not late_reply(topo, 5555)
        p2 = send(topo, "10.10.2.2", 5555)
        assert p2 is not None and 32000 <= p2 <= 32999, p2
        assert send(topo, "198.51.100.1", 5556) == q1
        # The old session is in the flow history, ended by the change, with the
        # outside port it had (the workers sweep stale sessions in bounded steps).
        ended = ended_session(ctl, p1)
        assert (ended["source"], ended["end"], ended["gateway"]) == \
            ("gateway", "gateway-changed", "g1"), ended
        assert (ended["nat_address"], ended["src"]) == ("10.10.2.1", "10.10.1.2"), ended
        r = subprocess.run([str(MESHGATECTL), "-p", mg.prefix, "flows", "port", "5555"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and f"g1 as 10.10.2.1:{p1}" in r.stdout, (r.stdout, r.stderr)

        # A published service's endpoint moved to another port (replies to the
        # outside host go back through g1's route).
        for port in (7007, 7008):
            srv = topo.spawn("pod", "/usr/bin/python3", "-c", SERVER, "0.0.0.0", str(port))
            assert srv.stdout.readline().strip() == "ready"
        assert published(topo, 6000).endswith("at 7007")
        st, svc = ctl.http("PUT", "/v1/services/echo/endpoints/pod", {"port": 7008})
        assert st == 200 and svc["endpoints"][0]["port"] == 7008, svc
        # The client whose flow was pinned to 7007 included: its next packet
        # ends that flow (not the sweep, some time later) and goes to 7008.
        assert published(topo, 6000).endswith("at 7008")
        assert published(topo, 6001).endswith("at 7008")
        st, j = ctl.http("PUT", "/v1/services/echo/endpoints/pod", {"port": 70000})
        assert st == 400 and j["error"]["field"] == "port", j
        # Deleted: nothing of g1 crosses any more; g2 is untouched.
        ctl.ok("DELETE", "/v1/gateways/g1")
        assert send(topo, "10.10.2.2", 5555, tries=2) is None
        assert send(topo, "198.51.100.1", 5556) == q1
        ended = ended_session(ctl, p2)  # swept: the history still names the gateway
        assert (ended["end"], ended["gateway"], ended["nat_port"]) == ("gateway-changed", "g1", p2)
        nat = ctl.ok("GET", "/v1/nat")
        g2 = ctl.ok("GET", "/v1/gateways/g2")
    assert nat["handoff_drops"] == 0, nat
    assert g2["snat_ports"]["free"] == 999  # one session holds one port
