# SPDX-License-Identifier: BSD-3-Clause
"""meshgate's IKEv2 against strongSwan.

The external host runs Debian's charon with the kernel-libipsec plugin (ESP
in user space on a TUN device: this kernel has no ESP), configured through
swanctl/vici, in its own mount namespace (charon's pid file path is fixed:
/run is a private tmpfs there) with its own strongswan.conf and vici socket.
Both roles, PSK, AES-GCM, AES-CBC+HMAC-SHA-256 and ChaCha20-Poly1305;
traffic through the negotiated CHILD_SA with contents checked (ping's
pattern and size, both directions); a wrong PSK gets AUTHENTICATION_FAILED;
a peer offering only proposals meshgate lacks gets NO_PROPOSAL_CHOSEN;
certificates (RSA and ECDSA, made by the test with python's cryptography)
in both roles, and a certificate of another CA refused with
AUTHENTICATION_FAILED.

Addresses: pod 10.10.1.2 behind meshgate; the tunnel's far end is
10.99.0.1 on the external host's loopback; outer 10.10.2.1 (meshgate) <->
10.10.2.2 (charon).
"""
import json
import os
import pathlib
import re
import shutil
import subprocess
import time

import pytest

from mgrun import MESHGATECTL, Control, Meshgate
from topo import default_config
from promtext import parse as prom_parse

CHARON = pathlib.Path("/usr/lib/ipsec/charon")
MALFORMED = pathlib.Path(__file__).resolve().parent / "ike_malformed.py"
PSK = "ik-interop-pre-shared-key-0123456789"


V6 = {"mg": "fd00:10:2::1", "peer": "fd00:10:2::2", "far": "fd00:99::1", "pod": "fd00:10:1::2",
      "pod_net": "fd00:10:1::/64", "far_net": "fd00:99::/64"}
V4 = {"mg": "10.10.2.1", "peer": "10.10.2.2", "far": "10.99.0.1", "pod": "10.10.1.2",
      "pod_net": "10.10.1.0/24", "far_net": "10.99.0.0/24"}


def mg_config(tag, role, ike, esp, psk=PSK, extra="", a=V4, creds=None):
    """creds: {"key", "cert", "ca"} files for certificate authentication (else the PSK)."""
    text = default_config(tag)
    host = "/32" if a is V4 else "/128"
    auth = (f"      psk: \"{psk}\"\n" if creds is None else
            "".join(f"      {k}: {v}\n" for k, v in creds.items()))
    text += ("esp_tunnels:\n  - name: tun0\n"
             f"    local: \"{a['mg']}\"\n    remote: \"{a['peer']}\"\n"
             "    udp_encap: true\n    ipv4: [10.98.0.1/30]\n"
             "    ike:\n"
             f"      role: {role}\n"
             "      local_id: mg.example\n      remote_id: peer.example\n"
             + auth +
             f"      proposals: [{ike}]\n      esp_proposals: [{esp}]\n"
             f"      local_ts: [\"{a['pod_net']}\"]\n      remote_ts: [\"{a['far']}{host}\"]\n"
             + (extra or "      dpd: 0\n"))
    return text.replace("routes:\n", f"routes:\n  - {{prefix: \"{a['far_net']}\", interface: tun0}}\n",
                        1)


class Charon:
    """charon + swanctl in the topology's external namespace."""

    def __init__(self, topo, tmp, ike, esp, initiator, psk=PSK, ike_rekey=0, child_rekey=0,
                 a=V4, ns=None, local_addr=None, certs=None, ids=("peer.example", "mg.example"),
                 remote_ts=None):
        """certs: {"key", "cert", "ca"} files: authenticate with them (else the PSK);
        {"key", "cert", "peer"}: the peer's own certificate pinned (NSM's form)."""
        ns = ns or topo.ns("ext")
        host = "/32" if a is V4 else "/128"
        self.topo = topo
        self.dir = tmp / "charon"
        self.dir.mkdir(exist_ok=True)
        self.vici = self.dir / "charon.vici"
        self.logf = self.dir / "charon.log"
        conf = self.dir / "strongswan.conf"
        conf.write_text(f"""
charon {{
  load_modular = no
  load = random nonce openssl kdf hmac pem pkcs1 pkcs8 x509 pubkey constraints kernel-libipsec kernel-netlink socket-default vici
  install_virtual_ip = no
  retransmit_tries = 3
  retransmit_timeout = 1.0
  filelog {{
    ik {{
      path = {self.logf}
      default = 1
      ike = 2
      flush_line = yes
      time_format = %T
    }}
  }}
  syslog {{
    daemon {{
      default = -1
    }}
  }}
  plugins {{
    vici {{
      socket = unix://{self.vici}
    }}
  }}
}}
""")
        # swanctl reads its credentials from SWANCTL_DIR's x509, x509ca and private.
        for d in ("x509", "x509ca", "private"):
            (self.dir / d).mkdir(exist_ok=True)
        if certs is not None:
            shutil.copy(certs["cert"], self.dir / "x509" / "peer.pem")
            shutil.copy(certs["key"], self.dir / "private" / "peer.key")
            local_auth = "auth = pubkey\n      certs = peer.pem"
            remote_auth = "auth = pubkey"
            if "ca" in certs:
                shutil.copy(certs["ca"], self.dir / "x509ca" / "ca.pem")
            else:
                shutil.copy(certs["peer"], self.dir / "x509" / "remote.pem")
                remote_auth += "\n      certs = remote.pem"
        else:
            local_auth = remote_auth = "auth = psk"
        self.swanctl = self.dir / "swanctl.conf"
        self.swanctl.write_text(f"""
connections {{
  mg {{
    version = 2
    local_addrs = {local_addr or a["peer"]}
    remote_addrs = {a["mg"]}
    proposals = {ike}
    encap = yes
    dpd_delay = 0
    rekey_time = {ike_rekey}
    over_time = 10s
    rand_time = 1s
    local {{
      {local_auth}
      id = "{ids[0]}"
    }}
    remote {{
      {remote_auth}
      id = "{ids[1]}"
    }}
    children {{
      net {{
        local_ts = {a["far"]}{host}
        remote_ts = {remote_ts or a["pod_net"]}
        esp_proposals = {esp}
        rekey_time = {child_rekey}
        life_time = 30s
        rand_time = 1s
        start_action = none
      }}
    }}
  }}
}}
secrets {{
  ike-mg {{
    id-a = mg.example
    id-b = peer.example
    secret = "{psk}"
  }}
}}
""")
        def run(*cmd):
            return subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True,
                                  text=True, timeout=60)
        run("ip", "addr", "add", a["far"] + host, "dev", "lo", *(["nodad"] if a is V6 else []))
        run("sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0")
        run("sysctl", "-qw", "net.ipv4.conf.default.rp_filter=0")
        # A private /run: charon's pid file (/var/run/charon.pid) is fixed.
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, "unshare", "-m", "sh", "-c",
                                      "mount -t tmpfs ikrun /run && "
                                      f"exec env STRONGSWAN_CONF={conf} {CHARON}"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            for _ in range(100):
                if self.vici.exists():
                    break
                if self.proc.poll() is not None:
                    raise RuntimeError("charon exited: " + self.proc.stdout.read() + self.log())
                time.sleep(0.1)
            else:
                raise RuntimeError("charon's vici socket did not appear: " + self.log())
            r = self.ctl("--load-all", "--file", str(self.swanctl))
            assert r.returncode == 0, r.stdout + r.stderr
        except BaseException:
            self.stop()  # not the topology's process: ours to end
            raise

    def ctl(self, *args, timeout=60):
        return subprocess.run(["swanctl", *args, "--uri", f"unix://{self.vici}"],
                              capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "SWANCTL_DIR": str(self.dir)})

    def initiate(self):
        return self.ctl("--initiate", "--child", "net", "--timeout", "30", timeout=40)

    def sas(self):
        return self.ctl("--list-sas").stdout

    def log(self):
        try:
            return self.logf.read_text()
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def charon_ok():
    if not CHARON.exists() or shutil.which("swanctl") is None:
        pytest.fail("strongSwan (charon, swanctl) is not installed: run tools/setup")


def wait_for(fn, timeout=40, step=0.2):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()


def ike_json(ctl):
    return ctl.ok("GET", "/v1/ike")


def metrics_text(ctl):
    """/metrics, its IKE families checked by the strict parser."""
    text = ctl.http("GET", "/metrics")[1]
    text = text.decode() if isinstance(text, bytes) else text
    ike = "".join(l + "\n" for l in text.split("\n")
                  if l.startswith(("meshgate_ike_", "# HELP meshgate_ike_", "# TYPE meshgate_ike_")))
    fams = prom_parse(ike)
    assert "meshgate_ike_rx_messages_total" in fams, ike
    return text


def metric(ctl, name):
    m = re.search(rf"^{name} (\d+)$", metrics_text(ctl), re.M)
    return int(m.group(1)) if m else None


def check_traffic(topo, mg, a=V4):
    """Both directions through the CHILD_SA, contents checked by ping (pattern, size)."""
    for side, dst, extra in (("pod", a["far"], ()), ("ext", a["pod"], ("-I", a["far"]))):
        topo.ping(side, dst, count=1, extra=extra)
        r = topo.ping(side, dst, count=3, extra=("-w", "10", "-p", "a55aff00", "-s", "1200",
                                                 *extra))
        # -c 3 -w 10: success is three replies within the deadline (charon's
        # user-space ESP on a loaded machine may lose one, ping sends another).
        got = re.search(r" (\d+) received", r.stdout)
        assert r.returncode == 0 and got and int(got.group(1)) >= 3, (side, dst, r.stdout,
                                                                      r.stderr, mg.log())
        assert "wrong data" not in r.stdout and "1208 bytes from" in r.stdout, r.stdout


CASES = [
    # meshgate role, IKE proposal, ESP proposal (the same on both sides)
    ("initiator", "aes128gcm16-prfsha256-ecp256", "aes128gcm16"),
    ("responder", "aes256-sha256-modp2048", "aes256-sha256"),
    ("responder", "aes256gcm16-prfsha384-ecp384", "aes256gcm16"),
    ("initiator", "chacha20poly1305-prfsha256-curve25519", "chacha20poly1305"),
]


@pytest.mark.parametrize("role,ike,esp", CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_ike_with_strongswan(tmp_path, topo, charon_ok, role, ike, esp):
    """IKE_SA_INIT + IKE_AUTH with strongSwan in each role, the CHILD_SA's
    keys installed in meshgate's ESP tunnel, traffic both ways with contents
    checked; meshgatectl/REST/metrics show the SA; the PSK never appears in
    the log, REST or /metrics."""
    charon = Charon(topo, tmp_path, ike, esp, initiator=role == "responder")
    try:
        with Meshgate(tmp_path, mg_config(topo.tag, role, ike, esp), name="ike") as mg:
            ctl = Control(mg)
            if role == "responder":
                r = charon.initiate()
                assert r.returncode == 0, r.stdout + r.stderr + mg.log()
            state = wait_for(lambda: [p for p in ike_json(ctl)
                                      if p["state"] == "established"], timeout=40)
            assert state, (ike_json(ctl), mg.log(), charon.log())
            p = state[0]
            assert p["tunnel"] == "tun0" and p["role"] == role
            assert p["ike_proposal"].startswith(ike.split("-")[0]), p
            assert p["esp_proposal"] == esp and p["natt"] is True, p
            sas = charon.sas()
            assert "ESTABLISHED" in sas and "INSTALLED" in sas, sas
            assert f"{p['child_spi_in']:08x}" in sas and f"{p['child_spi_out']:08x}" in sas, \
                (p, sas)
            check_traffic(topo, mg)
            text = metrics_text(ctl)
            assert re.search(r'^meshgate_ike_sa_up\{tunnel="tun0"\} 1$', text, re.M), text
            assert re.search(r"^meshgate_ike_established_total [1-9]", text, re.M), text
            tel = wait_for(lambda: (mg.telemetry("/meshgate/ike") or {}).get("tun0", {})
                           .get("state") == "established" and mg.telemetry("/meshgate/ike"))
            assert tel and tel["tun0"]["child_spi_in"] == p["child_spi_in"], tel
            show = subprocess.run([str(MESHGATECTL), "-p", mg.prefix, "ike", "show"],
                                  capture_output=True, text=True, timeout=30)
            assert show.returncode == 0, show.stderr
            assert "tun0" in show.stdout and "established" in show.stdout, show.stdout
            leak = text + show.stdout + str(ike_json(ctl)) + mg.log()
            log = mg.log()
        assert PSK not in leak and PSK not in log
    finally:
        charon.stop()


def test_ike_wrong_psk(tmp_path, topo, charon_ok):
    """strongSwan initiates with another PSK: meshgate answers
    AUTHENTICATION_FAILED (strongSwan's log says so) and counts it; no
    CHILD_SA is installed."""
    ike, esp = "aes128gcm16-prfsha256-ecp256", "aes128gcm16"
    charon = Charon(topo, tmp_path, ike, esp, initiator=True, psk="not-the-right-key-0123456789")
    try:
        with Meshgate(tmp_path, mg_config(topo.tag, "responder", ike, esp), name="ike") as mg:
            ctl = Control(mg)
            r = charon.initiate()
            assert r.returncode != 0
            assert wait_for(lambda: "AUTHENTICATION_FAILED" in charon.log(), 20), charon.log()
            assert wait_for(lambda: (metric(ctl, "meshgate_ike_auth_failed_total") or 0) >= 1)
            peers = ike_json(ctl)
            assert peers[0]["state"] != "established", peers
            assert peers[0]["last_error"] == "authentication-failed", peers
    finally:
        charon.stop()


def test_ike_no_proposal_chosen(tmp_path, topo, charon_ok):
    """strongSwan offers only proposals meshgate does not have (3DES/SHA-1/
    MODP-1024... here AES-CBC with SHA-1 and ECP-521): NO_PROPOSAL_CHOSEN."""
    charon = Charon(topo, tmp_path, "aes128-sha1-ecp521", "aes128gcm16", initiator=True)
    try:
        with Meshgate(tmp_path, mg_config(topo.tag, "responder", "aes128gcm16-prfsha256-ecp256",
                                          "aes128gcm16"), name="ike") as mg:
            ctl = Control(mg)
            r = charon.initiate()
            assert r.returncode != 0
            assert wait_for(lambda: "NO_PROPOSAL_CHOSEN" in charon.log(), 20), charon.log()
            assert wait_for(lambda: (metric(ctl, "meshgate_ike_no_proposal_total") or 0) >= 1)
            assert ike_json(ctl)[0]["last_error"] == "no-proposal-chosen"
    finally:
        charon.stop()


def drops(ctl, reason):
    m = re.search(rf'^meshgate_drops_total{{reason="{reason}"}} (\\d+)$', metrics_text(ctl), re.M)
    return int(m.group(1)) if m else 0


@pytest.mark.parametrize("role", ["responder", "initiator"])
def test_ike_rekey_during_transfer(tmp_path, topo, charon_ok, role):
    """strongSwan rekeys the CHILD_SA (every ~5 s) and the IKE SA (every
    ~9 s) with CREATE_CHILD_SA while a TCP transfer runs through the tunnel:
    meshgate answers both, installs each new CHILD_SA before its response
    leaves and moves the CHILD_SA to the new IKE SA; the transfer completes,
    no ESP packet is dropped for want of an SA or refused by one, and the
    newest SAs carry traffic both ways."""
    ike, esp = "aes128gcm16-prfsha256-ecp256", "aes128gcm16"
    charon = Charon(topo, tmp_path, ike, esp, initiator=role == "responder",
                    ike_rekey="9s", child_rekey="5s")
    try:
        with Meshgate(tmp_path, mg_config(topo.tag, role, ike, esp), name="ike") as mg:
            ctl = Control(mg)
            if role == "responder":
                r = charon.initiate()
                assert r.returncode == 0, r.stdout + r.stderr + mg.log()
            assert wait_for(lambda: [p for p in ike_json(ctl) if p["state"] == "established"]), \
                (ike_json(ctl), mg.log(), charon.log())
            check_traffic(topo, mg)
            first = ike_json(ctl)[0]
            res = topo.iperf("pod", "ext", "10.99.0.1", seconds=14)
            assert "error" not in res, (res, mg.log())
            assert res["end"]["sum_received"]["bytes"] > 100_000, res
            p = wait_for(lambda: [x for x in ike_json(ctl) if x["rekeys"] >= 1 and
                                  x["child_rekeys"] + x["rekeys"] >= 2], timeout=30)
            assert p, (ike_json(ctl), charon.log()[-3000:])
            p = p[0]
            assert p["state"] == "established"
            assert p["spi_i"] != first["spi_i"] and p["child_spi_in"] != first["child_spi_in"]
            assert "CHILD_SA net{" in charon.log() and "rekeyed" in charon.log()
            check_traffic(topo, mg)
            sas = charon.sas()
            assert f"{p['child_spi_in']:08x}" in sas and f"{p['child_spi_out']:08x}" in sas, \
                (p, sas)
            assert drops(ctl, "esp-no-sa") == 0 and drops(ctl, "esp-failed") == 0, \
                metrics_text(ctl)
            # Nor on strongSwan's side: our new outbound SA waited for its inbound one.
            assert "does not belong to an installed SA" not in charon.log(), charon.log()
    finally:
        charon.stop()


def test_ike_reauthentication_and_dead_peer(tmp_path, topo, charon_ok):
    """meshgate's own renewal: with a 12 s lifetime it re-authenticates (a
    new IKE_SA_INIT/IKE_AUTH, the new CHILD_SA installed before the old IKE
    SA is deleted) and traffic still passes on the new SAs. Then strongSwan
    disappears (SIGKILL, no Delete): liveness checks go unanswered and
    meshgate declares the peer dead."""
    ike, esp = "aes128gcm16-prfsha256-curve25519", "aes128gcm16"
    charon = Charon(topo, tmp_path, ike, esp, initiator=False)
    try:
        cfg = mg_config(topo.tag, "initiator", ike, esp,
                        extra="      lifetime: 12\n      reauth: true\n      dpd: 2\n"
                              "      retransmit_ms: 300\n      retransmit_tries: 3\n")
        with Meshgate(tmp_path, cfg, name="ike") as mg:
            ctl = Control(mg)
            assert wait_for(lambda: [p for p in ike_json(ctl) if p["state"] == "established"]), \
                (ike_json(ctl), mg.log(), charon.log())
            first = ike_json(ctl)[0]
            p = wait_for(lambda: [x for x in ike_json(ctl) if x["rekeys"] >= 1 and
                                  x["state"] == "established"], timeout=40)
            assert p, (ike_json(ctl), mg.log())
            assert p[0]["spi_i"] != first["spi_i"]
            assert p[0]["child_spi_in"] != first["child_spi_in"]
            check_traffic(topo, mg)
            assert wait_for(lambda: charon.sas().count("ESTABLISHED") == 1, 20), charon.sas()
            assert drops(ctl, "esp-no-sa") == 0, metrics_text(ctl)
            charon.proc.kill()
            charon.proc.wait()
            gone = wait_for(lambda: [x for x in ike_json(ctl) if x["last_error"] == "dead-peer"],
                            timeout=40, step=0.1)
            assert gone, (ike_json(ctl), mg.log())
            assert (metric(ctl, "meshgate_ike_dpd_sent_total") or 0) >= 1
            assert "peer does not answer liveness checks" in mg.log()
            # The CHILD_SA is gone with the peer: its SAs stop (RFC 7296 1.4.1), and
            # packets into the tunnel are dropped and counted, not sent to nobody.
            topo.ping("pod", V4["far"], count=2, extra=("-w", "3"))
            sas = ctl.ok("GET", "/v1/esp-tunnels")[0]["sas"]
            out = [s for s in sas if s["dir"] == "out"]
            assert out and all(s["state"] == "expired" for s in out), sas
            assert sum(s["stats"]["errors"].get("esp-sa-expired", 0) for s in out) >= 1, sas
    finally:
        charon.stop()


def test_ike_malformed_messages_dropped(tmp_path, topo, charon_ok):
    """Malformed IKE messages (scapy: bad payload length, bad header length,
    truncated proposal, garbage SK under the live SA's SPIs, random bytes
    after the non-ESP marker) are dropped and counted; the established SA
    stays as it was and keeps carrying traffic."""
    ike, esp = "aes128gcm16-prfsha256-ecp256", "aes128gcm16"
    charon = Charon(topo, tmp_path, ike, esp, initiator=True)
    try:
        with Meshgate(tmp_path, mg_config(topo.tag, "responder", ike, esp), name="ike") as mg:
            ctl = Control(mg)
            r = charon.initiate()
            assert r.returncode == 0, r.stdout + r.stderr + mg.log()
            before = wait_for(lambda: [p for p in ike_json(ctl) if p["state"] == "established"])
            assert before, ike_json(ctl)
            dropped = metric(ctl, "meshgate_ike_dropped_total")
            r = topo.run("ext", "/usr/bin/python3", str(MALFORMED), "10.10.2.2", "10.10.2.1",
                         before[0]["spi_i"], before[0]["spi_r"])
            assert r.returncode == 0, r.stderr
            sent = int(r.stdout.strip())
            assert wait_for(lambda: metric(ctl, "meshgate_ike_dropped_total") >= dropped + sent), \
                (metric(ctl, "meshgate_ike_dropped_total"), dropped, sent)
            after = ike_json(ctl)
            assert after == before or all(after[0][k] == before[0][k] for k in
                                          ("state", "spi_i", "spi_r", "child_spi_in",
                                           "child_spi_out")), (before, after)
            check_traffic(topo, mg)
            assert "ESTABLISHED" in charon.sas()
    finally:
        charon.stop()


def test_ike_ipv6(tmp_path, topo, charon_ok):
    """IPv6 outer and inner: meshgate initiates to strongSwan over IPv6
    (NAT detection hashes, TS ranges and UDP checksums in IPv6), and ping
    crosses the CHILD_SA both ways with contents checked."""
    ike, esp = "aes256gcm16-prfsha384-ecp384", "aes256gcm16"
    charon = Charon(topo, tmp_path, ike, esp, initiator=False, a=V6)
    try:
        with Meshgate(tmp_path, mg_config(topo.tag, "initiator", ike, esp, a=V6),
                      name="ike") as mg:
            ctl = Control(mg)
            state = wait_for(lambda: [p for p in ike_json(ctl) if p["state"] == "established"])
            assert state, (ike_json(ctl), mg.log(), charon.log())
            assert state[0]["remote"] == V6["peer"]
            check_traffic(topo, mg, V6)
            assert "ESTABLISHED" in charon.sas()
    finally:
        charon.stop()


def test_ike_meshgate_rekeys_child(tmp_path, topo, charon_ok):
    """meshgate as the responder renews the CHILD_SA itself with
    CREATE_CHILD_SA (10 s lifetime: at ~7 s) when strongSwan does not
    (rekey_time 0): strongSwan installs the new pair, the old one is deleted,
    a TCP transfer across the rekey completes and no ESP packet lacks an SA."""
    ike, esp = "aes256-sha256-modp2048", "aes256-sha256"
    charon = Charon(topo, tmp_path, ike, esp, initiator=True)
    try:
        cfg = mg_config(topo.tag, "responder", ike, esp, extra="      child_lifetime: 10\n")
        with Meshgate(tmp_path, cfg, name="ike") as mg:
            ctl = Control(mg)
            r = charon.initiate()
            assert r.returncode == 0, r.stdout + r.stderr + mg.log()
            first = wait_for(lambda: [p for p in ike_json(ctl) if p["state"] == "established"])
            assert first, ike_json(ctl)
            res = topo.iperf("pod", "ext", "10.99.0.1", seconds=10)
            assert "error" not in res, (res, mg.log())
            p = wait_for(lambda: [x for x in ike_json(ctl) if x["child_rekeys"] >= 1], 30)
            assert p, (ike_json(ctl), mg.log())
            assert p[0]["spi_i"] == first[0]["spi_i"]
            assert p[0]["child_spi_in"] != first[0]["child_spi_in"]
            check_traffic(topo, mg)
            sas = charon.sas()
            assert f"{p[0]['child_spi_in']:08x}" in sas, (p, sas)
            old = [blk for blk in sas.split("net: #")
                   if f"{first[0]['child_spi_in']:08x}" in blk]
            assert all("DELETED" in blk for blk in old), sas  # the old pair deleted
            assert drops(ctl, "esp-no-sa") == 0 and drops(ctl, "esp-failed") == 0, \
                metrics_text(ctl)
    finally:
        charon.stop()


@pytest.fixture
def behind_nat(topo):
    """A namespace behind the external host, which masquerades it (nft):
    ikTAG (192.168.77.2) -- veth -- ext (192.168.77.1, NAT to 10.10.2.2)."""
    if shutil.which("nft") is None:
        pytest.fail("nft is not installed: run tools/setup --test")
    ns, va, vb = f"ik{topo.tag}", f"ik{topo.tag[-7:]}a", f"ik{topo.tag[-7:]}b"
    ext = topo.ns("ext")
    cmds = [["ip", "netns", "add", ns],
            ["ip", "link", "add", va, "netns", ext, "type", "veth", "peer", vb, "netns", ns],
            ["ip", "-n", ext, "addr", "add", "192.168.77.1/24", "dev", va],
            ["ip", "-n", ext, "link", "set", va, "up"],
            ["ip", "-n", ns, "addr", "add", "192.168.77.2/24", "dev", vb],
            ["ip", "-n", ns, "link", "set", vb, "up"],
            ["ip", "-n", ns, "link", "set", "lo", "up"],
            ["ip", "-n", ns, "route", "add", "default", "via", "192.168.77.1"],
            ["ip", "netns", "exec", ext, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
            ["ip", "netns", "exec", ext, "nft", "add table ip iknat; "
             "add chain ip iknat post { type nat hook postrouting priority 100; }; "
             "add rule ip iknat post ip saddr 192.168.77.0/24 oifname eth0 masquerade"]]
    try:
        for c in cmds:
            r = subprocess.run(c, capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, (c, r.stderr)
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_ike_nat_traversal(tmp_path, topo, charon_ok, behind_nat):
    """strongSwan behind a masquerading NAT initiates to meshgate: both
    detect the NAT (NAT_DETECTION hashes), IKE moves to port 4500, the
    CHILD_SA uses UDP-encapsulated ESP through the NAT, and ping crosses it
    both ways (the far host's reply travels back out through the NAT)."""
    ike, esp = "aes128gcm16-prfsha256-ecp256", "aes128gcm16"
    charon = Charon(topo, tmp_path, ike, esp, initiator=True, ns=behind_nat,
                    local_addr="192.168.77.2")
    try:
        with Meshgate(tmp_path, mg_config(topo.tag, "responder", ike, esp), name="ike") as mg:
            ctl = Control(mg)
            r = charon.initiate()
            assert r.returncode == 0, r.stdout + r.stderr + mg.log() + charon.log()
            p = wait_for(lambda: [x for x in ike_json(ctl) if x["state"] == "established"])
            assert p and p[0]["natt"] is True, ike_json(ctl)
            assert "local host is behind NAT" in charon.log(), charon.log()
            for cmd in (["ping", "-c", "3", "-w", "10", "-i", "0.2", "10.99.0.1"],):
                topo.run("pod", *cmd)
                r = topo.run("pod", *cmd)
                assert r.returncode == 0, (r.stdout, mg.log())
            r = subprocess.run(["ip", "netns", "exec", behind_nat, "ping", "-c", "3", "-w", "10",
                                "-i", "0.2", "-I", "10.99.0.1", "10.10.1.2"],
                               capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, (r.stdout, r.stderr, mg.log())
    finally:
        charon.stop()


def test_ike_meshgate_rekeys_ike_sa_and_child(tmp_path, topo, charon_ok):
    """meshgate as the initiator rekeys both SAs itself with CREATE_CHILD_SA
    (12 s lifetimes: the CHILD_SA at ~7 s, the IKE SA at ~9 s) while
    strongSwan does not: strongSwan reports the IKE SA rekeyed, the CHILD_SA
    carries on over the new IKE SA and traffic passes on the new keys."""
    ike, esp = "aes128gcm16-prfsha256-ecp256", "aes128gcm16"
    charon = Charon(topo, tmp_path, ike, esp, initiator=False)
    try:
        cfg = mg_config(topo.tag, "initiator", ike, esp,
                        extra="      lifetime: 12\n      child_lifetime: 12\n      dpd: 0\n")
        with Meshgate(tmp_path, cfg, name="ike") as mg:
            ctl = Control(mg)
            first = wait_for(lambda: [p for p in ike_json(ctl) if p["state"] == "established"])
            assert first, (ike_json(ctl), mg.log(), charon.log())
            p = wait_for(lambda: [x for x in ike_json(ctl) if x["rekeys"] >= 1 and
                                  x["child_rekeys"] >= 1 and x["state"] == "established"], 40)
            assert p, (ike_json(ctl), mg.log())
            assert p[0]["spi_i"] != first[0]["spi_i"]
            assert p[0]["child_spi_in"] != first[0]["child_spi_in"]
            assert "rekeyed between" in charon.log() or "IKE_SA mg[2] established" in \
                charon.log(), charon.log()[-3000:]
            check_traffic(topo, mg)
            sas = charon.sas()
            assert p[0]["spi_i"] in sas and f"{p[0]['child_spi_in']:08x}" in sas, (p, sas)
            assert drops(ctl, "esp-no-sa") == 0, metrics_text(ctl)
    finally:
        charon.stop()


def make_pki(d, kind, peer_ca=None):
    """A CA and certificates for mg.example and peer.example (subjectAltName
    DNS), keys of @kind ("rsa" 2048, "p256", "p384"), as PEM files in @d. With
    @peer_ca ("other"), peer.example's certificate comes from a second CA.
    Made for the test and deleted with its directory: no key is committed."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    def key():
        if kind == "rsa":
            return rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return ec.generate_private_key(ec.SECP256R1() if kind == "p256" else ec.SECP384R1())

    now = datetime.datetime.utcnow()

    def cert(k, cn, issuer=None, issuer_key=None, san=None):
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ik test"),
                          x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        b = (x509.CertificateBuilder().subject_name(name)
             .issuer_name(issuer.subject if issuer else name).public_key(k.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(hours=1))
             .not_valid_after(now + datetime.timedelta(days=1)))
        if issuer is None:
            b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        if san:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
        return b.sign(issuer_key or k, hashes.SHA384() if kind == "p384" else hashes.SHA256())

    def write(name, obj):
        path = d / name
        if isinstance(obj, x509.Certificate):
            path.write_bytes(obj.public_bytes(serialization.Encoding.PEM))
        else:
            path.write_bytes(obj.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
            path.chmod(0o600)
        return str(path)

    d.mkdir(exist_ok=True)
    ca_key = key()
    ca = cert(ca_key, "ik test CA")
    other_key = key()
    other = cert(other_key, "ik other CA")
    mg_key, peer_key = key(), key()
    mg_cert = cert(mg_key, "mg.example", ca, ca_key, "mg.example")
    peer_cert = (cert(peer_key, "peer.example", other, other_key, "peer.example")
                 if peer_ca == "other" else
                 cert(peer_key, "peer.example", ca, ca_key, "peer.example"))
    ca_path = write("ca.pem", ca)
    mg = {"key": write("mg.key", mg_key), "cert": write("mg.pem", mg_cert), "ca": ca_path}
    peer = {"key": write("peer.key", peer_key), "cert": write("peer.pem", peer_cert),
            "ca": ca_path}
    return mg, peer


CERT_CASES = [
    # meshgate role, key kind, IKE proposal, ESP proposal
    ("responder", "rsa", "aes256-sha256-modp2048", "aes256-sha256"),
    ("initiator", "p384", "aes256gcm16-prfsha384-ecp384", "aes256gcm16"),
    ("initiator", "p256", "aes128gcm16-prfsha256-ecp256", "aes128gcm16"),
]


@pytest.mark.parametrize("role,kind,ike,esp", CERT_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CERT_CASES])
def test_ike_certificates(tmp_path, topo, charon_ok, role, kind, ike, esp):
    """Certificate authentication with strongSwan: each side sends its
    certificate (CERT) on the other's CERTREQ, checks the other's against
    the CA and the identity against its subjectAltName, and signs AUTH with
    RFC 7427's method 14 (both sides announce SIGNATURE_HASH_ALGORITHMS):
    strongSwan's log names the scheme it verified meshgate's signature with.
    Traffic crosses the CHILD_SA both ways; the private key's PEM never
    appears in meshgate's log, REST or metrics."""
    mg_creds, peer_creds = make_pki(tmp_path / "pki", kind)
    charon = Charon(topo, tmp_path, ike, esp, initiator=role == "responder", certs=peer_creds)
    try:
        cfg = mg_config(topo.tag, role, ike, esp, creds=mg_creds)
        with Meshgate(tmp_path, cfg, name="ike") as mg:
            ctl = Control(mg)
            if role == "responder":
                r = charon.initiate()
                assert r.returncode == 0, r.stdout + r.stderr + mg.log() + charon.log()
            state = wait_for(lambda: [p for p in ike_json(ctl) if p["state"] == "established"])
            assert state, (ike_json(ctl), mg.log(), charon.log())
            log = charon.log()
            scheme = {"rsa": "RSA_EMSA_PKCS1_SHA2_256", "p256": "ECDSA_WITH_SHA256_DER",
                      "p384": "ECDSA_WITH_SHA384_DER"}[kind]
            assert f"authentication of 'mg.example' with {scheme} successful" in log, log
            assert "received end entity cert" in log, log
            check_traffic(topo, mg)
            key_text = pathlib.Path(mg_creds["key"]).read_text()
            body = key_text.splitlines()[1]  # a line of the key's base64
            leak = metrics_text(ctl) + str(ike_json(ctl)) + mg.log()
            assert body not in leak
    finally:
        charon.stop()


def test_ike_certificate_of_another_ca(tmp_path, topo, charon_ok):
    """strongSwan initiates with a certificate of a CA meshgate does not
    trust: meshgate answers AUTHENTICATION_FAILED (strongSwan's log says so),
    counts it, logs why, and installs no CHILD_SA."""
    ike, esp = "aes128gcm16-prfsha256-ecp256", "aes128gcm16"
    mg_creds, peer_creds = make_pki(tmp_path / "pki", "p256", peer_ca="other")
    charon = Charon(topo, tmp_path, ike, esp, initiator=True, certs=peer_creds)
    try:
        cfg = mg_config(topo.tag, "responder", ike, esp, creds=mg_creds)
        with Meshgate(tmp_path, cfg, name="ike") as mg:
            ctl = Control(mg)
            r = charon.initiate()
            assert r.returncode != 0
            assert wait_for(lambda: "AUTHENTICATION_FAILED" in charon.log(), 20), charon.log()
            assert wait_for(lambda: (metric(ctl, "meshgate_ike_auth_failed_total") or 0) >= 1)
            peers = ike_json(ctl)
            assert peers[0]["state"] != "established", peers
            assert peers[0]["last_error"] == "authentication-failed", peers
            assert "peer certificate refused" in mg.log(), mg.log()
    finally:
        charon.stop()


def rest_body(role, ike, esp, psk=PSK, a=V4, **extra):
    """The ike settings as PUT /v1/esp-tunnels/tun0/ike takes them."""
    host = "/32" if a is V4 else "/128"
    return {"role": role, "local_id": "mg.example", "remote_id": "peer.example", "psk": psk,
            "proposals": [ike], "esp_proposals": [esp], "local_ts": [a["pod_net"]],
            "remote_ts": [a["far"] + host], "dpd": 0, **extra}


def no_ike_config(tag, ike, esp, state):
    """The tunnel without an ike block (IKE comes over REST), durable state in @state."""
    text = mg_config(tag, "initiator", ike, esp)
    text = re.sub(r"    ike:\n(      .*\n)+", "", text)
    assert "ike:" not in text and "psk" not in text, text
    return text + f"control:\n  state_dir: {state}\n"


def test_ike_runtime_rest(tmp_path, topo, charon_ok):
    """An IKE peer set over REST and meshgatectl: refused bodies name the
    field (and never quote the PSK); a good PUT makes meshgate initiate and
    traffic pass; a refused update leaves the running SA exactly as it was;
    the peer comes back from the durable state after a kill (the PSK sealed:
    not in any state file); meshgatectl ike del/set remove and set it again."""
    ike, esp = "aes128gcm16-prfsha256-ecp256", "aes128gcm16"
    state = tmp_path / "state"
    charon = Charon(topo, tmp_path, ike, esp, initiator=False)
    mg = Meshgate(tmp_path, no_ike_config(topo.tag, ike, esp, state), name="ike")
    try:
        mg.start()
        ctl = Control(mg)
        path = "/v1/esp-tunnels/tun0/ike"
        st, j = ctl.http("GET", path)
        assert st == 404, (st, j)
        for body, field in ((rest_body("initiator", "aes128gcm16-prfmd5-ecp256", esp),
                             "proposals[0]"),
                            (rest_body("initiator", ike, esp, psk="short-secret"), "psk"),
                            (rest_body("both", ike, esp), "role"),
                            ({**rest_body("initiator", ike, esp), "key": "/nonexistent.key"},
                             "psk"),
                            (rest_body("initiator", ike, esp, remote_ts=["nowhere"]),
                             "remote_ts[0]")):
            st, j = ctl.http("PUT", path, body)
            assert st == 400 and j["error"]["field"] == field, (body, st, j)
            assert "short-secret" not in json.dumps(j)
        st, j = ctl.http("PUT", "/v1/esp-tunnels/nope/ike", rest_body("initiator", ike, esp))
        assert st == 404, (st, j)
        assert ctl.ok("GET", "/v1/ike") == []
        ctl.ok("PUT", path, rest_body("initiator", ike, esp))
        up = wait_for(lambda: [p for p in ike_json(ctl) if p["state"] == "established"])
        assert up, (ike_json(ctl), mg.log(), charon.log())
        check_traffic(topo, mg)
        got = ctl.ok("GET", path)
        assert got["config"]["auth"] == "psk" and "psk" not in got["config"], got
        assert got["state"]["state"] == "established", got
        assert PSK not in json.dumps(got)
        # A refused update: nothing changes (same IKE SA, same CHILD_SA).
        st, j = ctl.http("PUT", path, rest_body("initiator", ike, "aes128gcm16-prfsha256"))
        assert st == 400 and j["error"]["field"] == "esp_proposals[0]", (st, j)
        after = ike_json(ctl)[0]
        assert all(after[k] == up[0][k] for k in ("state", "spi_i", "spi_r", "child_spi_in",
                                                   "child_spi_out")), (up, after)
        # Durable: killed and started again, the peer comes back from the state.
        mg.kill()
        mg.start()
        ctl = Control(mg)
        up2 = wait_for(lambda: [p for p in ike_json(ctl) if p["state"] == "established"])
        assert up2 and up2[0]["spi_i"] != up[0]["spi_i"], (ike_json(ctl), mg.log())
        check_traffic(topo, mg)
        for f in state.iterdir():
            assert PSK.encode() not in f.read_bytes(), f
        # meshgatectl: del, then set from a file.
        base = [str(MESHGATECTL), "-p", mg.prefix]
        r = subprocess.run(base + ["ike", "del", "tun0"], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        assert ctl.ok("GET", "/v1/ike") == []
        body = tmp_path / "ike.json"
        body.write_text(json.dumps(rest_body("initiator", ike, esp)))
        r = subprocess.run(base + ["ike", "set", "tun0", str(body)], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0 and PSK not in r.stdout, r.stdout + r.stderr
        assert wait_for(lambda: [p for p in ike_json(ctl) if p["state"] == "established"]), \
            (ike_json(ctl), mg.log())
        r = subprocess.run(base + ["ike", "get", "tun0"], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 0 and '"established"' in r.stdout and PSK not in r.stdout, \
            r.stdout + r.stderr
        assert PSK not in mg.log()
    finally:
        mg.kill()
        charon.stop()


def nsm_client_creds(d):
    """The client's side of NSM's IPSEC mechanism as sdk-vpp makes it: an RSA
    2048 key and a self-signed certificate (CN=client), sent base64 DER in
    src_public_key; its FQDN identity is the first 64 characters of that. The
    certificate names that prefix as its subjectAltName (strongSwan checks
    identities against certificates), which the fixed-size DER prefix allows:
    made once with a placeholder, then again with the prefix it produced."""
    import base64
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    serial = x509.random_serial_number() | (1 << 150)  # a fixed DER length
    now = datetime.datetime.utcnow()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client")])
    san = "A" * 64
    for _ in range(2):
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(serial)
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
                .sign(key, hashes.SHA256()))
        b64 = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        san = b64[:64]
    assert b64[:64] == san
    d.mkdir(exist_ok=True)
    (d / "client.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "client.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                     serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    return {"key": str(d / "client.key"), "cert": str(d / "client.pem"), "b64": b64}


def b64_to_pem(b64, path):
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    path.write_text("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) +
                    "\n-----END CERTIFICATE-----\n")
    return str(path)


def test_nsm_ipsec_with_public_keys(tmp_path, topo, charon_ok):
    """NSM's IPSEC mechanism with public keys: the client's Request carries
    src_public_key (its self-signed certificate, as sdk-vpp makes it);
    meshgate answers dst_public_key (its own, made for the connection, no
    private key anywhere in the answer) and answers the client's IKEv2
    (strongSwan with both certificates pinned and NSM's FQDN identities,
    sdk-vpp's proposal aes256-sha256-modp2048): the CHILD_SA carries pings
    both ways between the connection's addresses; the monitor stream gets
    the IKE events (established, then deleted with its reason when the
    client goes away), the connection going DOWN and UP with them; Close
    removes the tunnel and its IKE peer. A src_public_key that is no
    certificate is refused naming the parameter."""
    client = nsm_client_creds(tmp_path / "nsm")
    mg = Meshgate(tmp_path, default_config(topo.tag), name="ike")
    charon = None
    try:
        mg.start()
        ctl = Control(mg)
        req = {"connection": {
            "id": "ike-nsm-1", "network_service": "secure",
            "mechanism": {"cls": "REMOTE", "type": "IPSEC",
                          "parameters": {"src_ip": "10.10.2.2", "src_port": "500",
                                         "src_public_key": client["b64"]}},
            "context": {"ip_context": {"src_ip_addrs": ["10.99.0.1/32"],
                                       "dst_ip_addrs": ["10.98.0.1/32"]}}}}
        bad = json.loads(json.dumps(req))
        bad["connection"]["mechanism"]["parameters"]["src_public_key"] = "MII" + "A" * 80
        kind, err = ctl.nsm("Request", bad)
        assert kind == "error" and "src_public_key" in err["field"], err
        assert ctl.ok("GET", "/v1/esp-tunnels") == [] and ctl.ok("GET", "/v1/ike") == []

        mon = ctl.nsm_open()
        mon.send({"id": 1, "method": "MonitorConnections", "params": {}})
        assert mon.recv(timeout=10)["event"]["type"] == "INITIAL_STATE_TRANSFER"
        kind, conn = ctl.nsm("Request", req)
        assert kind == "result", conn
        params = conn["mechanism"]["parameters"]
        ours = params["dst_public_key"]
        assert ours.startswith("MII") and params["dst_ip"] == "10.10.2.1", params
        assert "PRIVATE" not in json.dumps(conn)
        peers = ctl.ok("GET", "/v1/ike")
        assert len(peers) == 1 and peers[0]["role"] == "responder", peers
        charon = Charon(topo, tmp_path, "aes256-sha256-modp2048", "aes256-sha256",
                        initiator=True,
                        certs={"key": client["key"], "cert": client["cert"],
                               "peer": b64_to_pem(ours, tmp_path / "nsm" / "server.pem")},
                        ids=(client["b64"][:64], ours[:64]), remote_ts="10.98.0.1/32")
        r = charon.initiate()
        assert r.returncode == 0, r.stdout + r.stderr + mg.log() + charon.log()

        def ike_event(want):
            end = time.time() + 30
            while time.time() < end:
                ev = mon.recv(timeout=max(0.1, end - time.time()))
                c = ev["event"]["connections"].get("ike-nsm-1", {})
                p = c.get("mechanism", {}).get("parameters", {})
                if p.get("ike_state") == want:
                    return c
            return None

        c = ike_event("established")
        assert c is not None and c.get("state", "UP") == "UP", (c, mg.log())
        for side, dst, extra in (("ext", "10.98.0.1", ("-I", "10.99.0.1")),):
            topo.ping(side, dst, count=1, extra=extra)
            r = topo.ping(side, dst, count=3, extra=("-w", "10", *extra))
            assert r.returncode == 0 and " 0% packet loss" in r.stdout, (r.stdout, mg.log())
        assert "IKE established" in mg.log()
        # The client goes away: its Delete ends the IKE SA; the monitors see it.
        charon.ctl("--terminate", "--ike", "mg", "--timeout", "10", timeout=20)
        c = ike_event("deleted")
        assert c is not None and c["state"] == "DOWN", c
        assert c["mechanism"]["parameters"]["ike_error"] == "deleted-by-peer", c
        assert ctl.ok("GET", "/v1/connections")[0]["mechanism"]["parameters"]["ike_state"] \
            == "deleted"
        kind, _ = ctl.nsm("Close", {"id": "ike-nsm-1"})
        assert kind == "result"
        assert ctl.ok("GET", "/v1/esp-tunnels") == [] and ctl.ok("GET", "/v1/ike") == []
        mon.close()
        assert "PRIVATE KEY" not in mg.log()
    finally:
        if charon is not None:
            charon.stop()
        mg.kill()


@pytest.mark.parametrize("who", ["strongswan", "meshgate"])
def test_ike_pfs_child_rekey(tmp_path, topo, charon_ok, who):
    """PFS: an ESP proposal with a DH group (aes128gcm16-ecp256 on both
    sides). IKE_AUTH's CHILD_SA carries no KE; each CHILD_SA rekey, by
    strongSwan (rekey_time 5 s, meshgate answering with KEr) or by meshgate
    (child_lifetime 10, KEi from meshgate), carries one: strongSwan installs
    the new pair (its log names the DH group of the CHILD_SA) and traffic
    passes on the new SAs."""
    ike, esp = "aes128gcm16-prfsha256-ecp256", "aes128gcm16-ecp256"
    charon = Charon(topo, tmp_path, ike, esp, initiator=True,
                    child_rekey="5s" if who == "strongswan" else 0)
    try:
        extra = "      dpd: 0\n" + ("      child_lifetime: 10\n" if who == "meshgate" else "")
        cfg = mg_config(topo.tag, "responder", ike, esp, extra=extra)
        with Meshgate(tmp_path, cfg, name="ike") as mg:
            ctl = Control(mg)
            r = charon.initiate()
            assert r.returncode == 0, r.stdout + r.stderr + mg.log() + charon.log()
            first = wait_for(lambda: [p for p in ike_json(ctl) if p["state"] == "established"])
            assert first, ike_json(ctl)
            assert first[0]["esp_proposal"] == "aes128gcm16", first  # no KE in IKE_AUTH
            p = wait_for(lambda: [x for x in ike_json(ctl) if x["child_rekeys"] >= 1], 40)
            assert p, (ike_json(ctl), mg.log(), charon.log()[-3000:])
            assert p[0]["esp_proposal"] == esp, p
            assert p[0]["spi_i"] == first[0]["spi_i"]
            assert p[0]["child_spi_in"] != first[0]["child_spi_in"]
            check_traffic(topo, mg)
            sas = charon.sas()
            assert f"{p[0]['child_spi_in']:08x}" in sas and "ECP_256" in sas, (p, sas)
            assert drops(ctl, "esp-no-sa") == 0, metrics_text(ctl)
    finally:
        charon.stop()


def test_file_ike_peer_comes_back_with_the_state(tmp_path, topo, charon_ok):
    """An `ike:` block of the file with control.state_dir: after a kill the
    tunnel comes back from the state and the file's IKE peer with it (it
    starts once the tunnel is restored), negotiating anew; traffic passes."""
    ike, esp = "aes128gcm16-prfsha256-ecp256", "aes128gcm16"
    state = tmp_path / "state"
    charon = Charon(topo, tmp_path, ike, esp, initiator=False)
    mg = Meshgate(tmp_path, mg_config(topo.tag, "initiator", ike, esp) +
                  f"control:\n  state_dir: {state}\n", name="ikf")
    try:
        mg.start()
        ctl = Control(mg)
        up = wait_for(lambda: [p for p in ike_json(ctl) if p["state"] == "established"])
        assert up, (ike_json(ctl), mg.log(), charon.log())
        check_traffic(topo, mg)
        for _ in range(2):              # from the journal's start, then from the snapshot
            mg.kill()
            mg.start()
            ctl = Control(mg)
            again = wait_for(lambda: [p for p in ike_json(ctl) if p["state"] == "established"])
            assert again and again[0]["spi_i"] != up[0]["spi_i"], (ike_json(ctl), mg.log())
            check_traffic(topo, mg)
    finally:
        mg.kill()
        charon.stop()
