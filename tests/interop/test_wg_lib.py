# SPDX-License-Identifier: BSD-3-Clause
"""lib/wg against the real thing: wireguard-go configured with `wg`.

Two network namespaces joined by a veth pair: wireguard-go runs in one
(interface wgt<tag>, tunnel addresses 10.77.0.1 and fd77::1), and
tests/interop/wg_probe - lib/wg over a kernel UDP socket, using the
library's real burst functions on rte_mbufs - runs in the other as its peer
(tunnel addresses 10.77.0.2 and fd77::2). The probe answers the ICMP and
ICMPv6 echo requests it decrypts and writes its counters as JSON.

Scenarios:
1. the probe initiates: `wg show` reports a handshake; ping and ping -6
   from wireguard-go's side are answered through the tunnel; the probe's
   own pings are answered by wireguard-go's kernel side;
2. wireguard-go initiates (a ping before the probe has sent anything);
3. keepalives (persistent both ways, and the probe's passive keepalive
   KEEPALIVE_TIMEOUT after data it did not answer) and byte counters that
   match `wg show transfer` exactly;
4. a wrong public key or preshared key gives no session, and the probe
   counts why.

Every namespace, veth and process is created with a unique tag and removed
by a fixture finalizer, also when a test fails.
"""
import itertools
import json
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
BUILD = pathlib.Path(os.environ.get("MESHGATE_BUILD", ROOT / "build"))
PROBE = BUILD / "tests" / "interop" / "wg_probe"

pytestmark = pytest.mark.netns

_seq = itertools.count()

WG_PORT = 51820
PROBE_PORT = 51821
UNDERLAY = ("192.168.77.1", "192.168.77.2")
TUN = ("10.77.0.1", "10.77.0.2")
TUN6 = ("fd77::1", "fd77::2")


def sh(*cmd, check=True, timeout=30, **kw):
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check,
                          timeout=timeout, **kw)


def genkey():
    priv = sh("wg", "genkey").stdout.strip()
    pub = sh("wg", "pubkey", input=priv + "\n").stdout.strip()
    return priv, pub


class WgEnv:
    """Namespaces, veth, wireguard-go and probes of one test."""

    def __init__(self):
        tag = f"{os.getpid() % 10000}x{next(_seq)}"
        self.ns_wg = f"wgtA{tag}"
        self.ns_probe = f"wgtB{tag}"
        self.veth = (f"vwa{tag}", f"vwb{tag}")
        self.ifname = f"wgt{tag}"
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix=f"wgt{tag}-"))
        self.procs = []
        self.go = None
        self.wg_priv, self.wg_pub = genkey()
        self.probe_priv, self.probe_pub = genkey()

    # -- set-up and tear-down ------------------------------------------------------------
    def up(self):
        sh("ip", "netns", "add", self.ns_wg)
        sh("ip", "netns", "add", self.ns_probe)
        sh("ip", "link", "add", self.veth[0], "netns", self.ns_wg, "type", "veth",
           "peer", "name", self.veth[1], "netns", self.ns_probe)
        for ns, dev, addr in ((self.ns_wg, self.veth[0], UNDERLAY[0]),
                              (self.ns_probe, self.veth[1], UNDERLAY[1])):
            sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        # wireguard-go's control socket path is shared across namespaces: the
        # interface name carries the unique tag.
        self.go = self.spawn(self.ns_wg, "wireguard-go", "-f", self.ifname,
                             env=dict(os.environ, LOG_LEVEL="error"))
        sock = pathlib.Path("/var/run/wireguard") / f"{self.ifname}.sock"
        for _ in range(100):
            if sock.exists():
                break
            if self.go.poll() is not None:
                raise RuntimeError("wireguard-go exited: " + self.go.stdout.read())
            time.sleep(0.05)
        (self.dir / "wg.key").write_text(self.wg_priv + "\n")
        self.wg("set", self.ifname, "private-key", str(self.dir / "wg.key"),
                "listen-port", str(WG_PORT))
        self.ns(self.ns_wg, "ip", "addr", "add", f"{TUN[0]}/24", "dev", self.ifname)
        self.ns(self.ns_wg, "ip", "addr", "add", f"{TUN6[0]}/64", "dev", self.ifname,
                "nodad")
        self.ns(self.ns_wg, "ip", "link", "set", self.ifname, "up")
        return self

    def down(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for ns in (self.ns_wg, self.ns_probe):
            sh("ip", "netns", "del", ns, check=False)
        sock = pathlib.Path("/var/run/wireguard") / f"{self.ifname}.sock"
        if sock.exists():
            sock.unlink()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- helpers -------------------------------------------------------------------------
    def spawn(self, ns, *cmd, env=None):
        # `ip netns exec` execs the command: the pid is the command's own.
        p = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env=env)
        self.procs.append(p)
        return p

    def ns(self, ns, *cmd, check=True, timeout=30):
        return sh("ip", "netns", "exec", ns, *cmd, check=check, timeout=timeout)

    def wg(self, *args):
        return self.ns(self.ns_wg, "wg", *args)

    def set_peer(self, *extra, psk=None):
        """Configure the probe as wireguard-go's peer."""
        args = ["set", self.ifname, "peer", self.probe_pub, "allowed-ips",
                f"{TUN[1]}/32,{TUN6[1]}/128"]
        if psk is not None:
            (self.dir / "wg.psk").write_text(psk + "\n")
            args += ["preshared-key", str(self.dir / "wg.psk")]
        self.wg(*args, *extra)

    def latest_handshake(self):
        out = self.wg("show", self.ifname, "latest-handshakes").stdout.split()
        return int(out[1]) if len(out) >= 2 else 0

    def transfer(self):
        """(rx, tx) bytes of wireguard-go for the probe."""
        out = self.wg("show", self.ifname, "transfer").stdout.split()
        return (int(out[1]), int(out[2])) if len(out) >= 3 else (0, 0)

    def ping(self, dst, count=3, v6=False):
        return self.ns(self.ns_wg, "ping", *(["-6"] if v6 else []), "-c", str(count),
                       "-i", "0.2", "-W", "1", dst, check=False)

    def probe(self, *, peer_pub=None, psk=None, initiate=False, endpoint=True,
              keepalive=0, ping=None):
        return Probe(self, peer_pub or self.wg_pub, psk, initiate, endpoint, keepalive, ping)


class Probe:
    """One wg_probe process in the probe namespace."""

    def __init__(self, env, peer_pub, psk, initiate, endpoint, keepalive, ping):
        self.env = env
        self.stats_path = env.dir / f"probe{next(_seq)}.json"
        cmd = [str(PROBE), "--private-key", env.probe_priv, "--peer-public", peer_pub,
               "--listen", f"{UNDERLAY[1]}:{PROBE_PORT}",
               "--tunnel-ip", TUN[1], "--tunnel-ip", TUN6[1],
               "--allowed", f"{TUN[0]}/32", "--allowed", f"{TUN6[0]}/128",
               "--stats", str(self.stats_path)]
        if psk is not None:
            cmd += ["--psk", psk]
        if endpoint:
            cmd += ["--endpoint", f"{UNDERLAY[0]}:{WG_PORT}"]
        if initiate:
            cmd.append("--initiate")
        if keepalive:
            cmd += ["--keepalive", str(keepalive)]
        if ping:
            cmd += ["--ping", ping]
        self.proc = env.spawn(env.ns_probe, *cmd)
        line = self.proc.stdout.readline()
        if "running" not in line:
            raise RuntimeError("wg_probe did not start: " + line + self.proc.stdout.read())

    def stats(self):
        for _ in range(50):
            try:
                return json.loads(self.stats_path.read_text())
            except (OSError, ValueError):
                time.sleep(0.05)
        raise RuntimeError("no stats from wg_probe")

    def stop(self):
        """Stop the probe and return its final counters."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=10)
        # A clean exit also means no sanitizer report in an ASan build.
        assert rc == 0, f"wg_probe exited with {rc}: {self.proc.stdout.read()}"
        return json.loads(self.stats_path.read_text())

    def wait_for(self, pred, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            s = self.stats()
            if pred(s):
                return s
            time.sleep(0.1)
        return self.stats()


@pytest.fixture
def wgenv():
    if os.geteuid() != 0:
        pytest.skip("WireGuard interop tests need root (network namespaces)")
    for tool in ("ip", "ping", "wg", "wireguard-go"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    if not PROBE.exists():
        pytest.fail(f"{PROBE} is not built: ninja -C {BUILD}")
    env = WgEnv()
    try:
        env.up()
        yield env
    finally:
        env.down()


def wait_until(pred, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def test_probe_initiates(wgenv):
    wgenv.set_peer("endpoint", f"{UNDERLAY[1]}:{PROBE_PORT}")
    probe = wgenv.probe(initiate=True, ping=TUN[0])
    assert wait_until(lambda: wgenv.latest_handshake() > 0), "no handshake in wg show"
    s = probe.wait_for(lambda s: s["hs"]["session"] == 1)
    assert s["hs"]["session"] == 1 and s["initiations_sent"] >= 1
    r = wgenv.ping(TUN[1])
    assert r.returncode == 0, r.stdout
    r = wgenv.ping(TUN6[1], v6=True)
    assert r.returncode == 0, r.stdout
    # The probe's own pings to wireguard-go's address came back through the tunnel.
    s = probe.wait_for(lambda s: s["echo_reply_received"] >= 1)
    s = probe.stop()
    assert s["echo_replied"] >= 6
    assert s["echo_reply_received"] >= 1
    assert s["rx"]["data"] >= 6 + s["echo_reply_received"]
    bad = {k: v for k, v in s["rx"].items() if k not in ("data", "keepalive") and v}
    assert not bad, bad
    assert s["peer"]["has_session"]


def test_wireguard_go_initiates(wgenv):
    # The probe knows no endpoint and sends nothing until it is spoken to.
    probe = wgenv.probe(endpoint=False)
    wgenv.set_peer("endpoint", f"{UNDERLAY[1]}:{PROBE_PORT}")
    r = wgenv.ping(TUN[1], count=4)
    assert r.returncode == 0, r.stdout
    assert wgenv.latest_handshake() > 0
    s = probe.stop()
    assert s["hs"]["response"] == 1, s["hs"]
    assert s["initiations_sent"] == 0
    assert s["echo_replied"] >= 3
    assert s["peer"]["has_session"]
    assert s["peer"]["last_handshake_wall_ns"] > 0


def test_keepalives_and_counters(wgenv):
    # The probe sends a persistent keepalive every second; wireguard-go, which
    # receives no data, sends nothing (keepalives call for no answer).
    wgenv.set_peer("endpoint", f"{UNDERLAY[1]}:{PROBE_PORT}")
    probe = wgenv.probe(initiate=True, keepalive=1)
    assert wait_until(lambda: wgenv.latest_handshake() > 0), "no handshake"
    probe.wait_for(lambda s: s["keepalives_sent"] >= 2)
    rx0, tx0 = wgenv.transfer()
    time.sleep(2.5)
    rx1, tx1 = wgenv.transfer()
    assert rx1 - rx0 >= 2 * 32, "wireguard-go saw no persistent keepalives from the probe"
    assert (rx1 - rx0) % 32 == 0
    assert tx1 == tx0
    # Stop the probe: what it sent is exactly what wireguard-go received, and
    # the other way round; the library's per-peer counters say the same.
    s = probe.stop()
    time.sleep(0.2)
    rx, tx = wgenv.transfer()
    assert rx == s["udp_tx_bytes"] == s["peer"]["tx_bytes"], (rx, s)
    assert tx == s["udp_rx_bytes"] == s["peer"]["rx_bytes"], (tx, s)
    assert s["keepalives_sent"] >= 4
    assert s["peer"]["tx_packets"] == s["keepalives_sent"]


def test_passive_keepalive(wgenv):
    # wireguard-go initiates; one datagram reaches the probe, which answers
    # nothing: KEEPALIVE_TIMEOUT (10 s) later it must send one keepalive.
    # Meanwhile wireguard-go's persistent keepalives (1 s) reach the probe and
    # do not change that (receiving is not sending).
    probe = wgenv.probe(endpoint=False)
    wgenv.set_peer("endpoint", f"{UNDERLAY[1]}:{PROBE_PORT}")
    r = wgenv.ping(TUN[1], count=1)
    assert r.returncode == 0, r.stdout
    s = probe.wait_for(lambda s: s["echo_replied"] >= 1)
    sent_before = s["keepalives_sent"]
    t0 = time.monotonic()
    wgenv.ns(wgenv.ns_wg, "bash", "-c", f"echo x > /dev/udp/{TUN[1]}/9")
    wgenv.set_peer("persistent-keepalive", "1")
    s = probe.wait_for(lambda s: s["rx"]["data"] >= 2)
    assert s["rx"]["data"] >= 2
    s = probe.wait_for(lambda s: s["keepalives_sent"] > sent_before, timeout=13)
    waited = time.monotonic() - t0
    assert s["keepalives_sent"] == sent_before + 1, s
    assert 9.5 <= waited <= 12.0, waited
    assert s["rx"]["keepalive"] >= 5, s["rx"]
    s = probe.stop()
    time.sleep(0.2)
    rx, tx = wgenv.transfer()
    assert rx == s["udp_tx_bytes"]
    assert tx >= s["udp_rx_bytes"] and (tx - s["udp_rx_bytes"]) % 32 == 0, (tx, s)


def test_wrong_public_key(wgenv):
    other_priv, other_pub = genkey()
    wgenv.set_peer("endpoint", f"{UNDERLAY[1]}:{PROBE_PORT}")
    # The probe believes wireguard-go has another key: its initiations fail
    # mac1 there (dropped silently), and wireguard-go's initiations carry a
    # static key the probe does not know.
    probe = wgenv.probe(peer_pub=other_pub, initiate=True)
    r = wgenv.ping(TUN[1], count=2)
    assert r.returncode != 0
    s = probe.wait_for(lambda s: s["hs"]["err_unknown_peer"] >= 1)
    s = probe.stop()
    assert s["hs"]["err_unknown_peer"] >= 1, s["hs"]
    assert s["initiations_sent"] >= 1
    assert s["hs"]["session"] == 0 and s["hs"]["response"] == 0
    assert not s["peer"]["has_session"]
    assert wgenv.latest_handshake() == 0


def test_wrong_preshared_key(wgenv):
    psk_wg = sh("wg", "genpsk").stdout.strip()
    psk_probe = sh("wg", "genpsk").stdout.strip()
    wgenv.set_peer("endpoint", f"{UNDERLAY[1]}:{PROBE_PORT}", psk=psk_wg)
    # The probe initiates: wireguard-go answers, the probe cannot decrypt the
    # answer. wireguard-go initiates: the probe answers, wireguard-go cannot
    # decrypt that; no data crosses either way.
    probe = wgenv.probe(psk=psk_probe, initiate=True)
    s = probe.wait_for(lambda s: s["hs"]["err_decrypt"] >= 1)
    assert s["hs"]["err_decrypt"] >= 1, s["hs"]
    r = wgenv.ping(TUN[1], count=2)
    assert r.returncode != 0
    s = probe.stop()
    assert s["hs"]["session"] == 0
    assert s["echo_replied"] == 0 and s["rx"]["data"] == 0
    assert not s["peer"]["has_session"]
    assert wgenv.latest_handshake() == 0
