# SPDX-License-Identifier: BSD-3-Clause
"""The control surfaces' protections, each against a running meshgate:
REST bound to loopback by default and needing the token; HTTPS on request
(a test CA made here with openssl: the handshake, the CA checked by Python's
ssl and by meshgatectl --cacert, the token still required, the key kept out
of the log); the per-client request rate limit (429 naming the limit,
counted, lifted after a pause); the NSM socket's 0600 mode (another uid
cannot connect) and its uid list (a process of a disallowed uid that can
reach the socket is refused, logged and counted; an allowed one is served).
The body size limit (413) is in test_rest.py."""
import json
import os
import pathlib
import socket
import ssl
import stat
import subprocess
import time
import warnings
import http.client

import pytest

from mgrun import MESHGATECTL, Control, Meshgate, check, unique

BASE = """
dpdk:
  lcores: "0-1"
  memory_mb: 640
  hugepages: false
workers:
  idle: {{mode: sleep}}
networks:
  - name: default
ports:
  - name: a
    device: "net_null0,no-rx=1"
    ipv4: [10.0.1.1/24]
control:
{control}
"""

NOBODY = 65534


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A test CA, a server certificate for 127.0.0.1 it signed, and a second,
    unrelated CA."""
    d = tmp_path_factory.mktemp("pki")
    for ca in ("ca", "rogue"):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "2",
                "-subj", f"/CN=meshgate test {ca}", cwd=d)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=meshgate", cwd=d)
    (d / "ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                           "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext", cwd=d)
    os.chmod(d / "server.key", 0o600)
    return d


def run_gw(tmp_path, control, name="sec"):
    return Meshgate(tmp_path, BASE.format(control=control), name=name)


def ctl(mg, *args, env=None):
    e = dict(os.environ)
    e.pop("MESHGATE_CACERT", None)
    e.update(env or {})
    return subprocess.run([str(MESHGATECTL), "-p", mg.prefix, *map(str, args)],
                          capture_output=True, text=True, timeout=60, env=e)


def metric(ctl_, name):
    st, text = ctl_.http("GET", "/metrics")
    assert st == 200, text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return int(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def listening_addrs(port):
    """Local addresses of the TCP sockets listening on @port (/proc/net/tcp{,6})."""
    out = set()
    for f, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        for line in pathlib.Path(f).read_text().splitlines()[1:]:
            local, st = line.split()[1], line.split()[3]
            a, p = local.split(":")
            if st == "0A" and int(p, 16) == port:
                out.add(a)
    return out


# ---- REST: loopback, token ------------------------------------------------------------

def test_rest_loopback_and_token_by_default(tmp_path):
    with run_gw(tmp_path, "  node_name: sec") as mg:
        c = Control(mg)
        assert c.host == "127.0.0.1" and not c.tls
        # The only listening socket on that port is 127.0.0.1 (0100007F), not 0.0.0.0.
        assert listening_addrs(c.port) == {"0100007F"}
        st, j = c.http("GET", "/v1/networks", token=None)
        assert st == 401 and j["error"]["code"] == "UNAUTHENTICATED", j
        st, j = c.http("GET", "/v1/networks", token="Bearer " + "0" * len(c.token))
        assert st == 401, j
        assert c.http("GET", "/v1/networks")[0] == 200
        tok = c.run_dir / "rest.token"
        assert stat.S_IMODE(tok.stat().st_mode) == 0o600
        assert stat.S_IMODE(c.run_dir.stat().st_mode) & 0o077 == 0
    assert c.token not in mg.log()


# ---- REST over TLS --------------------------------------------------------------------

def test_rest_tls(tmp_path, pki):
    control = (f"  rest: {{tls: {{cert: {pki}/server.pem, key: {pki}/server.key}}}}\n")
    with run_gw(tmp_path, control, name="tls") as mg:
        c = Control(mg, cafile=str(pki / "ca.pem"))
        assert c.tls and c.host == "127.0.0.1", "rest.addr must say https://"
        assert c.http("GET", "/v1/networks")[0] == 200
        # The token is still required over TLS.
        assert c.http("GET", "/v1/networks", token=None)[0] == 401

        # The handshake, as seen by Python's ssl: our CA verifies, the other does not.
        ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        with socket.create_connection((c.host, c.port), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
                assert t.version() in ("TLSv1.2", "TLSv1.3")
                assert t.getpeercert()["subject"] == ((("commonName", "meshgate"),),)
        # TLS 1.1 is refused (TLS 1.2 and 1.3 only).
        old = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        with warnings.catch_warnings():       # TLS 1.1 is deprecated: that is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("ALL:@SECLEVEL=0")
        with socket.create_connection((c.host, c.port), timeout=10) as s:
            with pytest.raises(ssl.SSLError):
                old.wrap_socket(s, server_hostname="127.0.0.1")
        rogue = ssl.create_default_context(cafile=str(pki / "rogue.pem"))
        with socket.create_connection((c.host, c.port), timeout=10) as s:
            with pytest.raises(ssl.SSLCertVerificationError):
                rogue.wrap_socket(s, server_hostname="127.0.0.1")

        # Plain HTTP on the TLS port gets no HTTP answer.
        plain = http.client.HTTPConnection(c.host, c.port, timeout=10)
        with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
            plain.request("GET", "/v1/networks", headers={"Authorization": "Bearer " + c.token})
            plain.getresponse()
        plain.close()

        # meshgatectl finds https:// in rest.addr and checks the CA it is given.
        r = ctl(mg, "--cacert", pki / "ca.pem", "networks")
        assert r.returncode == 0 and "default" in r.stdout, r.stderr
        r = ctl(mg, "networks", env={"MESHGATE_CACERT": str(pki / "ca.pem")})
        assert r.returncode == 0, r.stderr
        r = ctl(mg, "--cacert", pki / "rogue.pem", "networks")
        assert r.returncode == 3 and "not trusted" in r.stderr, (r.returncode, r.stderr)
        r = ctl(mg, "networks")
        assert r.returncode == 3 and "--cacert" in r.stderr, (r.returncode, r.stderr)
        # By address: the certificate names 127.0.0.1, not 127.0.0.2.
        r = ctl(mg, "--cacert", pki / "ca.pem", "--rest", f"https://127.0.0.1:{c.port}",
                "--token-file", c.run_dir / "rest.token", "networks")
        assert r.returncode == 0, r.stderr
    key = (pki / "server.key").read_text()
    body = "".join(l for l in key.splitlines() if not l.startswith("-----"))
    assert body[:40] not in mg.log() and "PRIVATE KEY" not in mg.log()
    assert "https://127.0.0.1:" in mg.log()


def test_rest_tls_config_errors(tmp_path, pki):
    rc, out = check(BASE.format(control=f"  rest: {{tls: {{cert: {pki}/server.pem}}}}\n"),
                    tmp_path)
    assert rc != 0 and "control.rest.tls: needs both 'cert' and 'key'" in out, out
    rc, out = check(BASE.format(control="  rest: {tls: {cert: a, key: b, ca: c}}\n"), tmp_path)
    assert rc != 0 and "control.rest.tls" in out and "'ca'" in out, out
    # A key that is not the certificate's: meshgate refuses to start, naming the field.
    mg = run_gw(tmp_path, f"  rest: {{tls: {{cert: {pki}/server.pem, key: {pki}/rogue.key}}}}\n",
                name="tlsbad")
    with pytest.raises(RuntimeError) as e:
        mg.start()
    assert "control.rest.tls" in str(e.value), str(e.value)
    assert "PRIVATE KEY" not in str(e.value)
    # The token it had made for the REST that never started is not left behind.
    assert not (pathlib.Path("/var/run/dpdk") / mg.prefix / "rest.token").exists()


# ---- REST rate limit ------------------------------------------------------------------

def test_rest_rate_limit(tmp_path):
    with run_gw(tmp_path, "  rest: {rate_limit: 1, rate_burst: 3}", name="rate") as mg:
        c = Control(mg)
        conn = http.client.HTTPConnection(c.host, c.port, timeout=30)
        statuses, limited = [], None
        for _ in range(60):      # at 1/s, 60 requests never all fit unless they take a minute
            conn.request("GET", "/v1/networks", headers={"Authorization": "Bearer " + c.token})
            r = conn.getresponse()
            text = r.read().decode()
            statuses.append(r.status)
            if r.status == 429:
                limited = (r, json.loads(text))
                break
        conn.close()
        assert limited is not None, statuses
        assert statuses[:3] == [200, 200, 200], statuses
        r, j = limited
        assert r.getheader("Retry-After") == "1"
        assert j["error"]["status"] == 429 and j["error"]["code"] == "RESOURCE_EXHAUSTED"
        assert j["error"]["field"] == "control.rest.rate_limit", j
        assert "127.0.0.1" in j["error"]["message"], j
        # A wrong token is limited too (a guessing flood is slowed down, not only answered 401).
        seen = set()
        for _ in range(60):
            st, _ = c.http("GET", "/v1/networks", token="Bearer wrong")
            seen.add(st)
            if 429 in seen:
                break
        assert 429 in seen, seen
        # After a pause the client is served again, and the refusals were counted.
        end = time.time() + 20
        while True:
            st, j = c.http("GET", "/metrics")
            if st == 200:
                break
            assert st == 429 and time.time() < end, (st, j)
            time.sleep(0.5)
        n = [l for l in j.splitlines() if l.startswith("meshgate_rest_rate_limited_total ")]
        assert n and int(n[0].split()[1]) >= 2, n
    assert "is over control.rest.rate_limit" in mg.log()


# ---- NSM socket: mode and uids --------------------------------------------------------

CLIENT = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print(json.dumps({"connect": e.strerror})); sys.exit(0)
try:
    s.sendall(b'{"id": 1, "method": "MonitorConnections", "params": {}}\n')
except (BrokenPipeError, ConnectionResetError):
    pass  # a refused peer may be answered and closed before it sends: read the answer
buf = b""
while b"\n" not in buf:
    d = s.recv(4096)
    if not d:
        break
    buf += d
print(buf.split(b"\n")[0].decode() or json.dumps({"closed": True}))
"""


def as_uid(uid, path, dac_override):
    """Run the NSM client as @uid (with CAP_DAC_OVERRIDE if asked): its first answer."""
    caps = ["--inh-caps=+dac_override", "--ambient-caps=+dac_override"] if dac_override else \
        ["--inh-caps=-all"]
    r = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *caps,
                        "/usr/bin/python3", "-c", CLIENT, str(path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_nsm_socket_mode_and_uids(tmp_path):
    # A directory anyone may enter: the socket's own mode is what stops others.
    d = pathlib.Path("/tmp") / unique("sc-nsm")
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    sock = d / "nsm.sock"
    try:
        control = f"  nsm_socket: {sock}\n  nsm_uids: [0, {NOBODY}]\n"
        with run_gw(tmp_path, control, name="uid") as mg:
            c = Control(mg)
            c.nsm_path = sock
            st = sock.stat()
            assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
            assert st.st_uid == 0
            # Another uid cannot even connect: the 0600 mode.
            assert as_uid(NOBODY - 1, sock, False) == {"connect": "Permission denied"}
            # A disallowed uid that can reach the socket (CAP_DAC_OVERRIDE): SO_PEERCRED refuses it.
            got = as_uid(NOBODY - 1, sock, True)
            assert got["error"]["code"] == "PERMISSION_DENIED", got
            assert got["error"]["message"] == "this uid may not use the NSM socket", got
            # An allowed uid is served (the initial state of its monitor).
            got = as_uid(NOBODY, sock, True)
            assert got["event"]["type"] == "INITIAL_STATE_TRANSFER", got
            assert metric(c, "meshgate_nsm_refused_total") == 1
            # Root is in the list: served too.
            with c.nsm_open() as s:
                s.send({"id": 1, "method": "MonitorConnections", "params": {}})
                assert s.recv()["event"]["type"] == "INITIAL_STATE_TRANSFER"
        log = mg.log()
        assert f"refused a peer with uid {NOBODY - 1}" in log, log
        assert f"uid {NOBODY} " not in log
    finally:
        if sock.exists():
            sock.unlink()
        d.rmdir()


def test_nsm_socket_path_holding_a_file(tmp_path):
    """A leftover socket at control.nsm_socket is replaced; anything else there
    is left alone and named (a mistyped path once deleted whatever it named)."""
    f = tmp_path / "not-a-socket"
    f.write_text("precious")
    mg = run_gw(tmp_path, f"  nsm_socket: {f}\n", name="nsf")
    with pytest.raises(RuntimeError, match="exists and is not a socket: not removed"):
        mg.start()
    assert f.read_text() == "precious"


def test_nsm_uids_config_errors(tmp_path):
    uids = ", ".join(str(i) for i in range(17))
    rc, out = check(BASE.format(control=f"  nsm_uids: [{uids}]\n"), tmp_path)
    assert rc != 0 and "control.nsm_uids[16]: more than 16 uids" in out, out
    rc, out = check(BASE.format(control="  nsm_uids: [root]\n"), tmp_path)
    assert rc != 0 and "control.nsm_uids[0]: expected a uid, found 'root'" in out, out


# ---- clients that never finish a request --------------------------------------------

def test_rest_trickling_clients_do_not_lock_out_the_others(tmp_path):
    """70 connections each trickling a request's headers a byte a second (never
    idle, never whole) took every REST connection for as long as they liked;
    with most connections taken, those whose headers do not come whole within
    10 s are closed, and an authorized request gets through."""
    socks = []
    with run_gw(tmp_path, "  node_name: sec", name="slow") as mg:
        c = Control(mg)
        c.timeout = 3
        try:
            for _ in range(70):
                s = socket.create_connection((c.host, c.port))
                s.sendall(b"GET /v1/stats HTTP/1.1\r\nHost: x\r\n")
                socks.append(s)
            t0 = time.time()
            ok = None
            while time.time() - t0 < 40 and ok is None:
                for s in socks:
                    try:
                        s.sendall(b"X")
                    except OSError:
                        pass
                try:
                    if c.http("GET", "/v1/stats")[0] == 200:
                        ok = time.time() - t0
                except OSError:
                    pass
                time.sleep(1)
            assert ok is not None and ok >= 5, ok  # the trickle held it a while ...
            assert metric(c, "meshgate_rest_header_timeouts_total") >= 40  # ... then not
        finally:
            for s in socks:
                s.close()
    assert "closed a connection whose request did not arrive within 10 s" in mg.log()


def test_nsm_clients_that_stall_or_find_no_slot(tmp_path):
    """64 clients each holding half a line took every NSM slot for ever, and a
    65th was closed without a word: now it is told (UNAVAILABLE, counted),
    and a line unfinished for 10 s drops its client with an error."""
    with run_gw(tmp_path, "  node_name: sec", name="stall") as mg:
        c = Control(mg)
        held = []
        try:
            for _ in range(64):
                s = socket.socket(socket.AF_UNIX)
                s.connect(str(c.nsm_path))
                s.sendall(b'{"id": 1, "method": "Clo')
                held.append(s)
            time.sleep(0.5)
            extra = socket.socket(socket.AF_UNIX)
            extra.connect(str(c.nsm_path))
            extra.settimeout(10)
            got = json.loads(extra.recv(4096).decode())
            extra.close()
            assert got["error"]["code"] == "UNAVAILABLE", got
            assert metric(c, "meshgate_nsm_full_total") == 1
            held[0].settimeout(20)
            got = json.loads(held[0].recv(4096).decode().splitlines()[0])
            assert "unfinished" in got["error"]["message"], got
            time.sleep(1)
            assert metric(c, "meshgate_nsm_stalled_total") == 64
            assert c.nsm("Close", {"id": "nope"})[0] == "error"  # served again
        finally:
            for s in held:
                s.close()
