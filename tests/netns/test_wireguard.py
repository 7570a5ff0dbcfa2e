# SPDX-License-Identifier: BSD-3-Clause
"""meshgate's WireGuard interface against wireguard-go.

The two-host topology of tools/netns-topology: the "ext" namespace also runs
wireguard-go (configured with `wg`), whose endpoint is meshgate's "ext" port;
meshgate's wg0 (10.99.0.1/24, fd99::1/64) and wireguard-go's interface
(10.99.0.2/24, fd99::2/64) are the two ends of the tunnel. The ext host routes
the pod's subnets into its tunnel, so pod <-> ext-tunnel traffic crosses
meshgate's wg-output / wg-input nodes, outer IPv4 or IPv6 as the test says:

- ping both ways, both inner families, and ping of meshgate's own tunnel
  address, with handshakes started from either side; the first packet,
  held while meshgate's handshake runs, gets through;
- a TCP transfer through the tunnel whose byte count iperf3 checks;
- `wg show` on the wireguard-go side reports a handshake and transfer;
- cryptokey routing: a packet from a tunnel source that is not in the
  peer's allowed IPs is dropped and counted (wg-source-not-allowed);
- `meshgatectl wg show` prints what `wg show` prints, with transfer counts
  equal to wireguard-go's; REST and /metrics carry the same, and no private
  or preshared key appears anywhere;
- a WireGuard interface added at runtime (meshgatectl wg add, REST) works
  and is deleted again.
"""
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import time

import pytest

from mgrun import MESHGATECTL, Control, Meshgate
from topo import default_config

WG_GO_PORT = 51820
MG_PORT = 51821


def sh(*cmd, check=True, timeout=30):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stdout}{r.stderr}")
    return r


def genkey():
    priv = sh("wg", "genkey").stdout.strip()
    pub = subprocess.run(["wg", "pubkey"], input=priv + "\n", capture_output=True, text=True,
                         check=True).stdout.strip()
    return priv, pub


class WgGo:
    """wireguard-go in the topology's ext namespace."""

    def __init__(self, topo, tmp_path):
        self.topo = topo
        self.ns = topo.ns("ext")
        self.ifname = f"w{topo.tag}"[:15]
        self.dir = tmp_path
        self.priv, self.pub = genkey()
        self.proc = None

    def up(self, mg_pub, mg_endpoint, allowed, keepalive=0, psk=None):
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, "wireguard-go", "-f",
                                      self.ifname], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     env=dict(os.environ, LOG_LEVEL="error"))
        sock = pathlib.Path("/var/run/wireguard") / f"{self.ifname}.sock"
        for _ in range(100):
            if sock.exists():
                break
            if self.proc.poll() is not None:
                raise RuntimeError("wireguard-go exited: " + self.proc.stdout.read())
            time.sleep(0.05)
        key = self.dir / "wggo.key"
        key.write_text(self.priv + "\n")
        args = ["set", self.ifname, "private-key", str(key), "listen-port", str(WG_GO_PORT),
                "peer", mg_pub, "allowed-ips", ",".join(allowed)]
        if mg_endpoint:
            args += ["endpoint", mg_endpoint]
        if keepalive:
            args += ["persistent-keepalive", str(keepalive)]
        if psk:
            (self.dir / "wggo.psk").write_text(psk + "\n")
            args += ["preshared-key", str(self.dir / "wggo.psk")]
        self.wg(*args)
        self.ip("addr", "add", "10.99.0.2/24", "dev", self.ifname)
        self.ip("-6", "addr", "add", "fd99::2/64", "dev", self.ifname, "nodad")
        self.ip("link", "set", self.ifname, "up")
        # The pod's subnets are behind meshgate, through the tunnel.
        self.ip("route", "add", "10.10.1.0/24", "dev", self.ifname)
        self.ip("-6", "route", "add", "fd00:10:1::/64", "dev", self.ifname)
        return self

    def down(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        sock = pathlib.Path("/var/run/wireguard") / f"{self.ifname}.sock"
        if sock.exists():
            sock.unlink()

    def wg(self, *args):
        return sh("ip", "netns", "exec", self.ns, "wg", *args)

    def ip(self, *args):
        return sh("ip", "-n", self.ns, *args)

    def transfer(self):
        out = self.wg("show", self.ifname, "transfer").stdout.split()
        return int(out[1]), int(out[2])

    def latest_handshake(self):
        return int(self.wg("show", self.ifname, "latest-handshakes").stdout.split()[1])


def ctl(mg, *args, input=None):
    return subprocess.run([str(MESHGATECTL), "-p", mg.prefix, *args], capture_output=True,
                          text=True, input=input, timeout=20)


def mg_config(topo, mg_priv, peer_pub, peer_endpoint, keepalive=0, psk=None):
    cfg = default_config(topo.tag)
    ep = f"\n      endpoint: \"{peer_endpoint}\"" if peer_endpoint else ""
    ka = f"\n      persistent_keepalive: {keepalive}" if keepalive else ""
    ka += f"\n      preshared_key: \"{psk}\"" if psk else ""
    return cfg + f"""
wireguard:
  - name: wg0
    listen_port: {MG_PORT}
    private_key: "{mg_priv}"
    ipv4: [10.99.0.1/24]
    ipv6: ["fd99::1/64"]
    peers:
    - public_key: "{peer_pub}"{ep}{ka}
      allowed_ips: [10.99.0.2/32, "fd99::2/128"]
"""


@pytest.fixture
def wgtopo(topo, tmp_path):
    for tool in ("wg", "wireguard-go"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: run tools/setup --test")
    go = WgGo(topo, tmp_path)
    try:
        yield topo, go
    finally:
        go.down()


def ping_ok(topo, side, dst, count=3, tries=3):
    """Ping until @count answers in a row come back (the first may start a handshake)."""
    r = None
    for _ in range(tries):
        r = topo.ping(side, dst, count=count)
        if r.returncode == 0 and " 0% packet loss" in r.stdout:
            return r
    raise AssertionError(f"{side} -> {dst}: {r.stdout}{r.stderr}")


@pytest.mark.parametrize("outer", ["ipv4", "ipv6"])
def test_tunnel_both_directions_both_families(tmp_path, wgtopo, outer):
    topo, go = wgtopo
    mg_priv, mg_pub = genkey()
    if outer == "ipv4":
        go_ep, mg_ep = "10.10.2.2:%d" % WG_GO_PORT, "10.10.2.1:%d" % MG_PORT
    else:
        go_ep, mg_ep = "[fd00:10:2::2]:%d" % WG_GO_PORT, "[fd00:10:2::1]:%d" % MG_PORT
    go.up(mg_pub, mg_ep, ["10.99.0.1/32", "fd99::1/128", "10.10.1.0/24", "fd00:10:1::/64"])
    with Meshgate(tmp_path, mg_config(topo, mg_priv, go.pub, go_ep), name="wg") as mg:
        # meshgate initiates (the pod's traffic is the first through the tunnel):
        # the very first packet is held during the handshake, then sent.
        r = topo.ping("pod", "10.99.0.2", count=1)
        assert r.returncode == 0, r.stdout
        ping_ok(topo, "pod", "10.99.0.2")
        ping_ok(topo, "pod", "fd99::2")
        # Traced: a packet into the tunnel, and one out of it.
        api = Control(mg)
        api.ok("POST", "/v1/trace", {"filter": "(icmp and dst host 10.99.0.2) or (udp and "
                                     f"dst port {MG_PORT})", "count": 2})
        ping_ok(topo, "pod", "10.99.0.2", count=1)
        trace = api.ok("GET", "/v1/trace")["trace"]
        paths = [[h["node"] for h in p["hops"]] for p in trace]
        assert ["eth-input", "ip4-lookup", "wg-output"] == paths[0][:3], trace
        assert "wg-input" in paths[1], trace
        assert "adjacency" in trace[0]["hops"][2]["text"] and "wireguard" in \
            trace[0]["hops"][2]["text"], trace
        # The other way, routed through meshgate to the pod host.
        ping_ok(topo, "ext", "10.10.1.2")
        ping_ok(topo, "ext", "fd00:10:1::2")
        # meshgate's own tunnel addresses answer.
        ping_ok(topo, "ext", "10.99.0.1")
        ping_ok(topo, "ext", "fd99::1")
        assert go.latest_handshake() > 0
        # Counters compared while nothing is lost (the transfer below may lose
        # packets at af_packet's TX queue after meshgate counted them sent).
        check_show(mg, go, mg_priv, go_ep)
        # A TCP transfer through the tunnel, bytes counted by iperf3 on both ends.
        res = topo.iperf("pod", "ext", "10.99.0.2", seconds=2)
        assert "error" not in res, res
        sent = res["end"]["sum_sent"]["bytes"]
        recv = res["end"]["sum_received"]["bytes"]
        assert recv > 5_000_000 and recv <= sent, (sent, recv)
        # Every byte the server got crossed wireguard-go encrypted (plus headers).
        rx, tx = go.transfer()
        assert rx > recv and tx > 0, (rx, tx, recv)
    st = mg.stats
    assert st["drops"]["wg-rx-error"] == 0
    assert st["drops"]["wg-source-not-allowed"] == 0


def check_show(mg, go, mg_priv, go_ep):
    """wg show, REST and /metrics against wireguard-go's own counters."""
    # Quiet first: the last messages of both sides must have arrived.
    time.sleep(0.5)
    go_rx, go_tx = go.transfer()
    r = ctl(mg, "wg", "show")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.startswith("interface: wg0\n"), out
    assert "  private key: (hidden)\n" in out and f"  listening port: {MG_PORT}\n" in out
    assert f"\npeer: {go.pub}\n" in out, out
    assert f"  endpoint: {go_ep}\n" in out, out
    assert "  allowed ips: 10.99.0.2/32, fd99::2/128\n" in out, out
    assert re.search(r"  latest handshake: (Now|\d+ seconds? ago)\n", out), out
    assert "  transfer: " in out
    j = Control(mg).ok("GET", "/v1/wireguard/wg0")
    peer = j["peers"][0]
    assert peer["public_key"] == go.pub and j["listen_port"] == MG_PORT
    # What meshgate received is what wireguard-go sent, and the other way round.
    assert peer["rx_bytes"] == go_tx and peer["tx_bytes"] == go_rx, (peer, go_rx, go_tx)
    text = Control(mg).http("GET", "/metrics")[1]
    assert (f'meshgate_wireguard_peer_rx_bytes_total{{interface="wg0",public_key="{go.pub}"}} '
            f'{go_tx}') in text, text[-2000:]
    assert 'meshgate_wireguard_decrypt_total{outcome="data"}' in text
    # DPDK telemetry has the same (refreshed once a second).
    time.sleep(1.2)
    tel = mg.telemetry("/meshgate/wireguard")["wg0"]
    assert tel["listen_port"] == MG_PORT and tel["peer0"]["public_key"] == go.pub, tel
    assert tel["peer0"]["rx_bytes"] == go_tx, (tel, go_tx)
    for blob in (out, json.dumps(j), text, json.dumps(Control(mg).ok("GET", "/v1/interfaces")),
                 json.dumps(tel)):
        assert mg_priv not in blob and go.priv not in blob


def test_peer_initiates_and_cryptokey_routing(tmp_path, wgtopo):
    """meshgate knows no endpoint: wireguard-go must start, and its address
    becomes meshgate's endpoint for it (learnt from the handshake). A packet
    whose inner source the peer is not allowed to use is dropped and counted."""
    topo, go = wgtopo
    mg_priv, mg_pub = genkey()
    go.up(mg_pub, "10.10.2.1:%d" % MG_PORT,
          ["10.99.0.0/24", "fd99::1/128", "10.10.1.0/24", "fd00:10:1::/64"])
    # The interface is added at runtime, from the JSON meshgatectl wg add sends.
    body = {"name": "wg0", "listen_port": MG_PORT, "private_key": mg_priv,
            "ipv4": ["10.99.0.1/24"], "ipv6": ["fd99::1/64"],
            "peers": [{"public_key": go.pub, "allowed_ips": ["10.99.0.2/32", "fd99::2/128"]}]}
    with Meshgate(tmp_path, default_config(topo.tag), name="wg") as mg:
        r = ctl(mg, "wg", "add", "-", input=json.dumps(body))
        assert r.returncode == 0, r.stderr
        # A second one on the same port is refused, naming the field.
        r = ctl(mg, "wg", "add", "-", input=json.dumps(dict(body, name="wg1")))
        assert r.returncode == 1 and "listen_port" in r.stderr, r.stderr
        ping_ok(topo, "ext", "10.10.1.2")
        ping_ok(topo, "pod", "10.99.0.2")
        # 10.99.0.3 is on wireguard-go's side but not allowed for it at meshgate.
        go.ip("addr", "add", "10.99.0.3/24", "dev", go.ifname)
        r = topo.ping("ext", "10.10.1.2", count=3, extra=("-I", "10.99.0.3"))
        assert " 100% packet loss" in r.stdout, r.stdout
        # The endpoint meshgate learnt is wireguard-go's address.
        j = Control(mg).ok("GET", "/v1/wireguard/wg0")
        assert j["peers"][0]["endpoint"] == "10.10.2.2:%d" % WG_GO_PORT, j
        assert ctl(mg, "wg", "del", "wg0").returncode == 0
        assert Control(mg).http("GET", "/v1/wireguard/wg0")[0] == 404
        assert topo.ping("pod", "10.99.0.2", count=1).returncode != 0
    st = mg.stats
    assert st["drops"]["wg-source-not-allowed"] >= 3
    assert st["drops"]["wg-rx-error"] == 0


def test_config_errors_name_file_and_line(tmp_path, topo):
    """A bad key, a missing listen port and a bad endpoint are refused at
    their line, and the key is never echoed back."""
    mg_priv, mg_pub = genkey()
    cfg = default_config(topo.tag) + f"""
wireguard:
  - name: wg0
    private_key: "{mg_priv[:-2]}x="
    peers:
    - public_key: "{mg_pub}"
      endpoint: "10.10.2.2"
"""
    path = tmp_path / "bad.yaml"
    path.write_text(cfg)
    from mgrun import MESHGATE
    r = subprocess.run([str(MESHGATE), "--check", "-c", str(path)], capture_output=True,
                       text=True)
    assert r.returncode == 1
    out = r.stdout + r.stderr
    lines = cfg.splitlines()
    ln_key = next(i for i, l in enumerate(lines, 1) if "private_key" in l)
    ln_ep = next(i for i, l in enumerate(lines, 1) if "endpoint" in l)
    assert re.search(rf"bad.yaml:{ln_key}:\d+: wireguard\[0\]\.private_key: not a key", out), out
    assert re.search(rf"bad.yaml:{ln_ep}:\d+: wireguard\[0\]\.peers\[0\]\.endpoint", out), out
    assert "needs a listen_port" in out, out
    assert mg_priv[:20] not in out


def test_preshared_key_and_roaming(tmp_path, wgtopo):
    """Both sides share a preshared key; wireguard-go then moves to another
    UDP port: meshgate's endpoint follows its next authenticated packet and
    traffic goes on both ways."""
    topo, go = wgtopo
    mg_priv, mg_pub = genkey()
    psk = sh("wg", "genpsk").stdout.strip()
    go.up(mg_pub, "10.10.2.1:%d" % MG_PORT, ["10.99.0.1/32", "10.10.1.0/24"], psk=psk)
    cfg = mg_config(topo, mg_priv, go.pub, "10.10.2.2:%d" % WG_GO_PORT, psk=psk)
    with Meshgate(tmp_path, cfg, name="wg") as mg:
        ping_ok(topo, "pod", "10.99.0.2")
        api = Control(mg)
        assert api.ok("GET", "/v1/wireguard/wg0")["peers"][0]["preshared_key_set"] is True
        go.wg("set", go.ifname, "listen-port", str(WG_GO_PORT + 10))
        ping_ok(topo, "ext", "10.10.1.2")     # from the new port: meshgate roams
        ping_ok(topo, "pod", "10.99.0.2")     # and answers there
        j = api.ok("GET", "/v1/wireguard/wg0")
        assert j["peers"][0]["endpoint"] == "10.10.2.2:%d" % (WG_GO_PORT + 10), j["peers"]
        assert j["counters"]["roamed"] + j["counters"]["handshakes"]["response"] >= 1
        out = ctl(mg, "wg", "show", "wg0").stdout
        assert "  preshared key: (hidden)\n" in out and psk not in out


def test_wrong_keys_refused_and_counted(tmp_path, wgtopo):
    """meshgate expects another public key: wireguard-go's initiations are
    refused as from an unknown peer; with the right public key but another
    preshared key, meshgate's own initiations get responses that do not
    decrypt. No usable session, nothing through, each counted by its reason."""
    topo, go = wgtopo
    mg_priv, mg_pub = genkey()
    _, other_pub = genkey()
    go.up(mg_pub, "10.10.2.1:%d" % MG_PORT, ["10.99.0.1/32", "10.10.1.0/24"],
          psk=sh("wg", "genpsk").stdout.strip())
    with Meshgate(tmp_path, mg_config(topo, mg_priv, other_pub, None), name="wg") as mg:
        assert topo.ping("ext", "10.10.1.2", count=2).returncode != 0
        hs = Control(mg).ok("GET", "/v1/wireguard/wg0")["counters"]["handshakes"]
        assert hs["err_unknown_peer"] >= 1 and hs["response"] == 0, hs
    cfg = mg_config(topo, mg_priv, go.pub, "10.10.2.2:%d" % WG_GO_PORT,
                    psk=sh("wg", "genpsk").stdout.strip())
    with Meshgate(tmp_path, cfg, name="wg") as mg:
        assert topo.ping("pod", "10.99.0.2", count=3).returncode != 0
        j = Control(mg).ok("GET", "/v1/wireguard/wg0")
        assert j["counters"]["handshakes"]["err_decrypt"] >= 1, j["counters"]
        # wireguard-go's own initiations still get responses (the preshared key only
        # enters there), but no session is ever confirmed: nothing can be sent.
        assert j["peers"][0]["session"] is False
        # The pings wait for a session that never comes.
        assert j["counters"]["held_for_handshake"] >= 3 and j["counters"]["held_sent"] == 0


def test_nsm_wireguard_mechanism(tmp_path, wgtopo):
    """An NSM Request with the WIREGUARD mechanism: meshgate makes a
    WireGuard interface with the client (wireguard-go) as its peer, answers
    with its public key, address and port, and traffic crosses once the
    client is configured with them. Close takes the interface away."""
    topo, go = wgtopo
    with Meshgate(tmp_path, default_config(topo.tag), name="wg") as mg:
        api = Control(mg)
        req = {"connection": {"id": "wg-conn-1", "network_service": "default",
                              "context": {"ip_context": {"src_ip_addrs": ["10.99.0.2/32"],
                                                         "dst_ip_addrs": ["10.99.0.1/24"]}}},
               "mechanism_preferences": [{"cls": "REMOTE", "type": "WIREGUARD",
                                          "parameters": {"src_ip": "10.10.2.2",
                                                         "src_port": str(WG_GO_PORT),
                                                         "src_public_key": go.pub}}]}
        st, conn = api.http("POST", "/v1/connections", req)
        assert st == 201, conn
        p = conn["mechanism"]["parameters"]
        assert conn["mechanism"]["type"] == "WIREGUARD" and p["dst_ip"] == "10.10.2.1", p
        assert re.fullmatch(r"[A-Za-z0-9+/]{43}=", p["dst_public_key"]), p
        go.up(p["dst_public_key"], f"{p['dst_ip']}:{p['dst_port']}",
              ["10.99.0.1/32", "10.10.1.0/24"])
        ping_ok(topo, "ext", "10.10.1.2")
        ping_ok(topo, "pod", "10.99.0.2")
        wgs = api.ok("GET", "/v1/wireguard")
        assert len(wgs) == 1 and wgs[0]["peers"][0]["public_key"] == go.pub
        assert wgs[0]["public_key"] == p["dst_public_key"]
        # A refresh with the answered Connection keeps the same interface and key.
        st, again = api.http("POST", "/v1/connections",
                             {"connection": conn, "mechanism_preferences": []})
        assert st == 200 and again["mechanism"]["parameters"] == p, again
        assert api.http("DELETE", "/v1/connections/wg-conn-1")[0] == 204
        assert api.ok("GET", "/v1/wireguard") == []
        assert topo.ping("pod", "10.99.0.2", count=1).returncode != 0


def capture_start(topo, pcap):
    """tcpdump in ext on what goes to meshgate's WireGuard port, once it is listening."""
    dump = topo.spawn("ext", "tcpdump", "-i", "eth0", "-U", "-n", "-w", str(pcap),
                      "udp", "and", "dst", "port", str(MG_PORT))
    for _ in range(100):
        if pcap.exists() and pcap.stat().st_size >= 24:
            break
        time.sleep(0.05)
    time.sleep(0.5)
    return dump


def capture_stop(dump):
    time.sleep(0.5)
    dump.send_signal(signal.SIGINT)
    dump.wait(timeout=10)


def test_replayed_and_forged_messages_counted(tmp_path, wgtopo):
    """wireguard-go's initiation and a data message, captured on the wire and
    sent again, are refused (the initiation's timestamp is not newer; the
    data counter is in the replay window); a message with a broken mac1 is
    refused before any cryptography. Each is counted by its reason."""
    from scapy.all import UDP, rdpcap
    topo, go = wgtopo
    mg_priv, mg_pub = genkey()
    go.up(mg_pub, "10.10.2.1:%d" % MG_PORT, ["10.99.0.1/32", "10.10.1.0/24"])
    pcap = tmp_path / "wg.pcap"
    with Meshgate(tmp_path, mg_config(topo, mg_priv, go.pub, None), name="wg") as mg:
        dump = capture_start(topo, pcap)
        ping_ok(topo, "ext", "10.10.1.2")
        capture_stop(dump)
        msgs = [bytes(p[UDP].payload) for p in rdpcap(str(pcap)) if UDP in p]
        init = next(m for m in msgs if m[0] == 1 and len(m) == 148)
        data = next(m for m in msgs if m[0] == 4 and len(m) > 32)
        forged = bytearray(init)
        forged[120] ^= 1        # inside mac1 (bytes 116..131)
        api = Control(mg)
        before = api.ok("GET", "/v1/wireguard/wg0")["counters"]
        script = ("import socket,sys\n"
                  "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                  "for h in sys.argv[1:]: s.sendto(bytes.fromhex(h),('10.10.2.1',%d))\n" % MG_PORT)
        r = topo.run("ext", "/usr/bin/python3", "-c", script, init.hex(), data.hex(),
                     bytes(forged).hex())
        assert r.returncode == 0, r.stderr
        time.sleep(0.5)
        after = api.ok("GET", "/v1/wireguard/wg0")["counters"]
        # The tunnel still works.
        ping_ok(topo, "ext", "10.10.1.2")
    assert after["handshakes"]["err_replay"] == before["handshakes"]["err_replay"] + 1, after
    assert after["handshakes"]["err_mac1"] == before["handshakes"]["err_mac1"] + 1, after
    assert after["decrypt"]["replay"] == before["decrypt"]["replay"] + 1, after
    assert after["sessions"] == before["sessions"]


def test_handshake_flood_gets_cookie_replies(tmp_path, wgtopo):
    """A flood of (replayed) initiations fills the handshake queue past its
    under-load mark: meshgate then answers messages without a valid mac2
    with cookie replies instead of doing the Diffie-Hellman work, drops what
    does not fit the bounded queue, and the tunnel still works afterwards.
    Every message the port received is accounted for, queued or counted as
    a full queue; how many of the 20,000 reach the port at all depends on
    the kernel's side of the veth and the TAP (25-63% in runs on one
    machine), so the count is checked against the port's own receive
    counter."""
    from scapy.all import UDP, rdpcap
    topo, go = wgtopo
    mg_priv, mg_pub = genkey()
    go.up(mg_pub, "10.10.2.1:%d" % MG_PORT, ["10.99.0.1/32", "10.10.1.0/24"])
    pcap = tmp_path / "wg.pcap"
    with Meshgate(tmp_path, mg_config(topo, mg_priv, go.pub, None), name="wg") as mg:
        dump = capture_start(topo, pcap)
        ping_ok(topo, "ext", "10.10.1.2")
        capture_stop(dump)
        init = next(bytes(p[UDP].payload) for p in rdpcap(str(pcap))
                    if UDP in p and bytes(p[UDP].payload)[:1] == b"\x01")
        script = ("import socket,sys\n"
                  "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                  "m=bytes.fromhex(sys.argv[1])\n"
                  "for i in range(20000): s.sendto(m,('10.10.2.1',%d))\n" % MG_PORT)
        ctl = Control(mg)
        rx0 = ctl.ok("GET", "/v1/interfaces/ext")["counters"]["rx_packets"]
        c0 = ctl.ok("GET", "/v1/wireguard/wg0")["counters"]
        r = topo.run("ext", "/usr/bin/python3", "-c", script, init.hex(), timeout=120)
        assert r.returncode == 0, r.stderr
        time.sleep(1)
        rx1 = ctl.ok("GET", "/v1/interfaces/ext")["counters"]["rx_packets"]
        c = ctl.ok("GET", "/v1/wireguard/wg0")["counters"]
        got = rx1 - rx0
        seen = (c["handshake_messages_queued"] + c["handshake_queue_full"]
                - c0["handshake_messages_queued"] - c0["handshake_queue_full"])
        assert c["handshakes"]["cookie_reply"] >= 1, c
        assert got >= 1000, f"only {got} of 20000 initiations reached the port"
        # The rest of what the port received: the hosts' ARP, ND and such.
        assert got - 50 <= seen <= got, (got, c)
        ping_ok(topo, "ext", "10.10.1.2")
        ping_ok(topo, "pod", "10.99.0.2")


def test_meshgatectl_genkey_pubkey_match_wg():
    from mgrun import MESHGATECTL
    priv = subprocess.run([str(MESHGATECTL), "wg", "genkey"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert re.fullmatch(r"[A-Za-z0-9+/]{43}=", priv)
    ours = subprocess.run([str(MESHGATECTL), "wg", "pubkey"], input=priv + "\n",
                          capture_output=True, text=True, check=True).stdout.strip()
    theirs = subprocess.run(["wg", "pubkey"], input=priv + "\n", capture_output=True,
                            text=True, check=True).stdout.strip()
    assert ours == theirs
    r = subprocess.run([str(MESHGATECTL), "wg", "pubkey"], input="nope\n", capture_output=True,
                       text=True)
    assert r.returncode == 2 and "not a key" in r.stderr


def test_rekey_during_transfer(tmp_path, wgtopo, monkeypatch):
    """A test build with WireGuard's timers shortened (rekey after 2 s,
    reject after 8 s): during a TCP transfer meshgate starts a new handshake
    every 2 s (retried after 1 s when lost) and moves to each new session while
    wireguard-go keeps up; no packet meets an expired or unknown session, none waits for
    one, and the transfer completes. The protocol gives a failing rekey until
    REJECT_AFTER_TIME to succeed (60 s of retries every 5 s in real time).
    With 5 s here, three tries, one clean-clone run saw 9 packets meet an
    expired session, what three lost handshakes in a row on the saturated path
    give (not seen again in 7 runs, 4 with a CPU kept busy); 8 s leaves six."""
    import mgrun
    tt = pathlib.Path(os.environ.get("MESHGATE_BUILD_TEST_TIMERS", "")) / "app" / "meshgate"
    if not os.environ.get("MESHGATE_BUILD_TEST_TIMERS") or not tt.exists():
        pytest.skip("needs a build with -Dtest_timers=true in $MESHGATE_BUILD_TEST_TIMERS "
                    "(tools/test makes one)")
    monkeypatch.setattr(mgrun, "MESHGATE", tt)
    monkeypatch.setenv("MG_WG_TEST_TIMES", "2000,8000,1000,1000")
    topo, go = wgtopo
    mg_priv, mg_pub = genkey()
    go.up(mg_pub, "10.10.2.1:%d" % MG_PORT, ["10.99.0.1/32", "10.10.1.0/24"])
    cfg = mg_config(topo, mg_priv, go.pub, "10.10.2.2:%d" % WG_GO_PORT)
    with Meshgate(tmp_path, cfg, name="wg") as mg:
        ping_ok(topo, "pod", "10.99.0.2")      # meshgate is the initiator
        api = Control(mg)
        before = api.ok("GET", "/v1/wireguard/wg0")["counters"]
        # An initiation is one UDP datagram sharing a saturated path with the
        # transfer: when one is lost the retry comes REKEY_TIMEOUT (1 s + jitter)
        # later, so the number of sessions in a fixed time depends on the
        # machine's load. The transfer goes on (in further 4-second rounds,
        # each checked) until three rekeys were seen, at most 5 rounds.
        for rnd in range(5):
            res = topo.iperf("pod", "ext", "10.99.0.2", seconds=8 if rnd == 0 else 4)
            after = api.ok("GET", "/v1/wireguard/wg0")["counters"]
            assert "error" not in res, (rnd, res)
            assert res["end"]["sum_received"]["bytes"] > 2_000_000, (rnd, res["end"])
            if after["sessions"] - before["sessions"] >= 3:
                break
        ping_ok(topo, "ext", "10.10.1.2")
    assert after["sessions"] - before["sessions"] >= 3, (before, after)
    for k in ("key_expired", "unknown_index", "auth", "replay"):
        assert after["decrypt"][k] == before["decrypt"][k], \
            f"{k}: before {json.dumps(before)} after {json.dumps(after)}"
    assert after["encrypt"]["key_expired"] == before["encrypt"]["key_expired"]
    assert mg.stats["drops"]["wg-no-session"] == 0


def test_underlay_in_another_network(tmp_path, wgtopo):
    """The tunnel's inner network ("inner": the pod port and wg0) is not the
    network its UDP messages cross ("default": the ext port): the pod host
    reaches wireguard-go's side only through the tunnel, and back."""
    topo, go = wgtopo
    mg_priv, mg_pub = genkey()
    go.up(mg_pub, "10.10.2.1:%d" % MG_PORT, ["10.99.0.1/32", "10.10.1.0/24"])
    cfg = mg_config(topo, mg_priv, go.pub, "10.10.2.2:%d" % WG_GO_PORT)
    cfg = cfg.replace("networks:\n  - name: default\n",
                      "networks:\n  - name: default\n  - name: inner\n", 1)
    cfg = cfg.replace("    device: net_af_packet0", "    network: inner\n    device: net_af_packet0", 1)
    cfg = cfg.replace("  - name: wg0\n", "  - name: wg0\n    network: inner\n    underlay: default\n", 1)
    assert "network: inner" in cfg and "underlay: default" in cfg
    with Meshgate(tmp_path, cfg, name="wg") as mg:
        ping_ok(topo, "pod", "10.99.0.2")
        ping_ok(topo, "ext", "10.10.1.2")
        # The networks stay apart: the ext host's own address is not routed from the pod.
        assert topo.ping("pod", "10.10.2.2", count=1).returncode != 0
        j = Control(mg).ok("GET", "/v1/wireguard/wg0")
        assert (j["network"], j["underlay"]) == ("inner", "default")


def test_runtime_interface_survives_kill_9(tmp_path, wgtopo):
    """A WireGuard interface added over REST with control.state_dir set is
    back after meshgate is killed with SIGKILL and restarted, first from the
    journal, then from the snapshot written at the restart: GET /v1/wireguard
    shows it with its peer, a route through it is back, and wireguard-go
    completes a new handshake with it (preshared key included) and traffic
    crosses. A removal is durable too. Neither the state files nor the log
    hold its private or preshared key, in base64 or in hex; the state
    directory and its files (the sealing key too) are private."""
    import base64
    import stat

    topo, go = wgtopo
    mg_priv, mg_pub = genkey()
    psk = sh("wg", "genpsk").stdout.strip()
    go.up(mg_pub, "10.10.2.1:%d" % MG_PORT, ["10.99.0.1/32", "10.10.1.0/24"], psk=psk)
    state = tmp_path / "state"
    cfg = default_config(topo.tag) + f"\ncontrol:\n  state_dir: {state}\n"
    body = {"name": "wg0", "listen_port": MG_PORT, "private_key": mg_priv,
            "ipv4": ["10.99.0.1/24"],
            "peers": [{"public_key": go.pub, "preshared_key": psk,
                       "endpoint": "10.10.2.2:%d" % WG_GO_PORT, "persistent_keepalive": 0,
                       "allowed_ips": ["10.99.0.2/32", "10.200.0.0/16"]}]}
    logs = []
    mg = Meshgate(tmp_path, cfg, name="wgst")

    def restart():
        logs.append(mg.log())
        mg.kill()                       # SIGKILL: nothing is written on the way out
        mg.start()
        return Control(mg)

    def check_back(api):
        wgs = api.ok("GET", "/v1/wireguard")
        assert [w["name"] for w in wgs] == ["wg0"], wgs
        w = wgs[0]
        assert w["public_key"] == mg_pub and w["listen_port"] == MG_PORT, w
        assert w["ipv4"] == ["10.99.0.1/24"], w
        p = w["peers"][0]
        assert p["public_key"] == go.pub and p["preshared_key_set"] is True, p
        assert p["allowed_ips"] == ["10.99.0.2/32", "10.200.0.0/16"], p
        routes = api.ok("GET", "/v1/routes")
        assert any(r["prefix"] == "10.200.0.0/16" and r.get("interface") == "wg0"
                   for r in routes), routes
        # The session died with the process: a new handshake (meshgate
        # initiates towards the stored endpoint) with the same keys and PSK.
        before = go.latest_handshake()
        time.sleep(1.1)                 # latest-handshake counts whole seconds
        ping_ok(topo, "pod", "10.99.0.2")
        ping_ok(topo, "ext", "10.10.1.2")
        assert go.latest_handshake() > before
        assert api.ok("GET", "/v1/wireguard/wg0")["peers"][0]["session"] is True

    try:
        mg.start()
        api = Control(mg)
        st, j = api.http("POST", "/v1/wireguard", body)
        assert st == 201, j
        st, j = api.http("POST", "/v1/routes", {"prefix": "10.200.0.0/16", "interface": "wg0"})
        assert st == 201, j
        ping_ok(topo, "pod", "10.99.0.2")
        check_back(restart())           # from the journal
        check_back(restart())           # from the snapshot the last start wrote
        # The snapshot holds the interface with its keys sealed (they opened above).
        stored = json.loads((state / "snapshot.json").read_text())["wireguard"]
        assert [w["name"] for w in stored] == ["wg0"], stored
        assert "private_key" not in stored[0] and stored[0]["private_key_sealed"]
        assert stored[0]["peers"][0]["preshared_key_sealed"]
        api = Control(mg)
        assert api.http("DELETE", "/v1/routes/default/10.200.0.0/16")[0] == 204
        assert api.http("DELETE", "/v1/wireguard/wg0")[0] == 204
        api = restart()
        assert api.ok("GET", "/v1/wireguard") == []
        logs.append(mg.log())
        mg.stop()
    finally:
        mg.kill()
    secrets = []
    for key in (mg_priv, psk):
        raw = base64.b64decode(key)
        secrets += [key.encode(), raw.hex().encode(), raw.hex().upper().encode(), raw]
    files = list(state.iterdir())
    assert {f.name for f in files} >= {"snapshot.json", "journal.jsonl", "wg-state.key"}, files
    for f in files:
        data = f.read_bytes()
        assert not any(s in data for s in secrets), f"{f.name} holds a key"
        assert stat.S_IMODE(f.stat().st_mode) & 0o077 == 0, f
    assert stat.S_IMODE(state.stat().st_mode) & 0o077 == 0
    text = "".join(logs)
    assert not any(s.decode("latin-1") in text for s in secrets), "the log holds a key"


def test_nsm_wireguard_connection_keeps_its_key_across_kill_9(tmp_path, wgtopo):
    """With control.state_dir set, an NSM WIREGUARD connection comes back
    after SIGKILL (from the journal, then from the snapshot) with the key
    and port it answered with, sealed in the state: the client needs no new
    configuration, and wireguard-go handshakes with it again."""
    topo, go = wgtopo
    state = tmp_path / "state"
    cfg = default_config(topo.tag) + f"\ncontrol:\n  state_dir: {state}\n"
    mg = Meshgate(tmp_path, cfg, name="wgn")
    req = {"connection": {"id": "wg-conn-kept", "network_service": "default",
                          "context": {"ip_context": {"src_ip_addrs": ["10.99.0.2/32"],
                                                     "dst_ip_addrs": ["10.99.0.1/24"]}}},
           "mechanism_preferences": [{"cls": "REMOTE", "type": "WIREGUARD",
                                      "parameters": {"src_ip": "10.10.2.2",
                                                     "src_port": str(WG_GO_PORT),
                                                     "src_public_key": go.pub}}]}
    try:
        mg.start()
        st, conn = Control(mg).http("POST", "/v1/connections", req)
        assert st == 201, conn
        p = conn["mechanism"]["parameters"]
        go.up(p["dst_public_key"], f"{p['dst_ip']}:{p['dst_port']}",
              ["10.99.0.1/32", "10.10.1.0/24"])
        ping_ok(topo, "pod", "10.99.0.2")
        for _ in range(2):              # from the journal, then from the snapshot
            mg.kill()
            mg.start()
            api = Control(mg)
            wgs = api.ok("GET", "/v1/wireguard")
            assert len(wgs) == 1 and wgs[0]["public_key"] == p["dst_public_key"], (wgs, p)
            assert wgs[0]["listen_port"] == int(p["dst_port"]), wgs
            before = go.latest_handshake()
            time.sleep(1.1)
            ping_ok(topo, "pod", "10.99.0.2")
            ping_ok(topo, "ext", "10.10.1.2")
            assert go.latest_handshake() > before
        snap = json.loads((state / "snapshot.json").read_text())
        assert snap["connections"][0]["wg_key_sealed"], snap["connections"]
        assert "private_key" not in json.dumps(snap["connections"])
        mg.stop()
    finally:
        mg.kill()
