# SPDX-License-Identifier: BSD-3-Clause
"""Run meshgate from tests: start it on a config, wait until it forwards,
stop it cleanly and read its final counters (--stats-json)."""
import itertools
import json
import os
import pathlib
import re
import secrets
import signal
import socket
import subprocess
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
BUILD = pathlib.Path(os.environ.get("MESHGATE_BUILD", ROOT / "build"))
MESHGATE = BUILD / "app" / "meshgate"
MESHGATECTL = BUILD / "app" / "meshgatectl"

_seq = itertools.count()


def unique(prefix):
    return f"{prefix}{os.getpid() % 100000}x{next(_seq)}"


def null_config(memory_mb=512, ports="ab", networks=("default",), hugepages=None,
                port_networks=None, ipv4=None, ipv6="a"):
    """The head of a config for control-plane tests: no traffic, ports on
    net_null named from @ports, each in the network @port_networks gives it
    (default: the default network); those named in @ipv4 (default: all) with
    10.0.N.1/24 ("a" 10.0.1.1/24, "b" 10.0.2.1/24, ...), those in @ipv6 with
    fd00:N::1/64 (default: "a", fd00:1::1/64).
    Free of braces, so a test may append its own sections and call .format()
    on the whole."""
    lines = ["dpdk:", '  lcores: "0-1"', f"  memory_mb: {memory_mb}"]
    if hugepages is not None:
        lines.append(f"  hugepages: {'true' if hugepages else 'false'}")
    lines += ["workers:", "  idle:", "    mode: sleep", "networks:"]
    lines += [f"  - name: {n}" for n in networks]
    lines.append("ports:")
    for i, name in enumerate(ports):
        lines += [f"  - name: {name}", f'    device: "net_null{i},no-rx=1"']
        if port_networks and name in port_networks:
            lines.append(f"    network: {port_networks[name]}")
        lines.append(f'    mac: "02:00:00:00:0{name}:01"')
        if ipv4 is None or name in ipv4:
            lines.append(f"    ipv4: [10.0.{i + 1}.1/24]")
        if name in ipv6:
            lines.append(f'    ipv6: ["fd00:{i + 1}::1/64"]')
    return "\n".join(lines) + "\n"


class Meshgate:
    """One meshgate process. Use as a context manager, or start()/stop()."""

    def __init__(self, workdir, config, name="mg", eal=(), args=()):
        self.dir = pathlib.Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.prefix = unique(name)
        self.cfg = self.dir / f"{self.prefix}.yaml"
        self.cfg.write_text(config)
        self.json = self.dir / f"{self.prefix}.stats.json"
        self.eal = list(eal)
        self.args = list(args)
        self.proc = None
        self.output = []
        self.stats = None
        self._ready = threading.Event()

    def _reader(self):
        for line in self.proc.stdout:
            self.output.append(line)
            if line.startswith("meshgate: running"):
                self._ready.set()
        self._ready.set()

    def start(self, timeout=60):
        # A restart (after kill) waits for the new process, not the old line.
        self._ready.clear()
        self.output = []
        cmd = [str(MESHGATE), "-c", str(self.cfg), "--stats-json", str(self.json),
               *self.args, "--", "--file-prefix", self.prefix, *self.eal]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, bufsize=1)
        self._thread = threading.Thread(target=self._reader, daemon=True)
        self._thread.start()
        self._ready.wait(timeout)
        if not any(l.startswith("meshgate: running") for l in self.output) or \
                self.proc.poll() is not None:
            self.kill()
            raise RuntimeError("meshgate did not start:\n" + "".join(self.output))
        return self

    def stop(self, timeout=30):
        """SIGINT, wait for a clean exit, return the final counters."""
        if self.proc is None:
            return self.stats
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError("meshgate did not stop on SIGINT:\n" + "".join(self.output))
        time.sleep(0.05)
        self.proc = None
        if rc != 0:
            raise RuntimeError(f"meshgate exited with {rc}:\n" + "".join(self.output))
        self.stats = json.loads(self.json.read_text())
        assert not os.path.exists(f"/var/run/dpdk/{self.prefix}"), "runtime directory left behind"
        return self.stats

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None:
            self._thread.join(10)   # its output has all been read
        self.proc = None

    def telemetry(self, cmd):
        """One DPDK telemetry command, as parsed JSON (its value)."""
        path = f"/var/run/dpdk/{self.prefix}/dpdk_telemetry.v2"
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.connect(path)
            s.recv(4096)
            s.send(cmd.encode())
            return json.loads(s.recv(1 << 20).decode())[cmd]

    def log(self):
        return "".join(self.output)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if exc[0] is None:
            self.stop()
        else:
            self.kill()


def stage_files(config_text, workdir):
    """@config_text with each `token_file: PATH` pointed at a stand-in made
    in @workdir (a 32-character token, 0600): --check reads the files a
    start would, and the examples name files of a production host."""
    def repl(m):
        f = pathlib.Path(workdir) / f"{unique('tok')}.token"
        f.write_text(secrets.token_hex(16) + "\n")
        f.chmod(0o600)
        return f"{m.group(1)}{f}"
    return re.sub(r"(token_file:\s*)(/[^\s,}]+)", repl, config_text)


def check(config_text, workdir):
    """meshgate --check on a config text: (returncode, output)."""
    p = pathlib.Path(workdir) / f"{unique('chk')}.yaml"
    p.write_text(config_text)
    r = subprocess.run([str(MESHGATE), "--check", "-c", str(p)], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


class Control:
    """The control plane of a running Meshgate: REST (with its bearer token)
    and the NSM socket, both found in the DPDK runtime directory."""

    def __init__(self, mg, timeout=30, cafile=None):
        self.mg = mg
        self.run_dir = pathlib.Path(f"/var/run/dpdk/{mg.prefix}")
        self.timeout = timeout
        self._wait_file(self.run_dir / "rest.addr")
        addr = (self.run_dir / "rest.addr").read_text().strip()
        # control.rest.tls: rest.addr is https://HOST:PORT; @cafile verifies the server.
        self.tls = addr.startswith("https://")
        self.cafile = cafile
        host, _, port = addr.removeprefix("https://").rpartition(":")
        self.host, self.port = host.strip("[]"), int(port)
        self.token = (self.run_dir / "rest.token").read_text().strip()
        self.nsm_path = self.run_dir / "nsm.sock"
        self._ids = itertools.count(1)

    def _wait_file(self, p):
        end = time.time() + self.timeout
        while not p.exists():
            if time.time() > end:
                raise RuntimeError(f"{p} did not appear:\n" + self.mg.log())
            time.sleep(0.05)

    def http(self, method, path, body=None, token=True, raw=None, headers=None):
        """One REST request: (status, parsed JSON or text or None)."""
        import http.client
        if getattr(self, "tls", False):
            import ssl
            c = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                            context=ssl.create_default_context(
                                                cafile=getattr(self, "cafile", None)))
        else:
            c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        h = dict(headers or {})
        if token is True:
            h["Authorization"] = f"Bearer {self.token}"
        elif token:
            h["Authorization"] = token
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        text = r.read().decode()
        c.close()
        if r.getheader("Content-Type", "").startswith("application/json") and text:
            return r.status, json.loads(text)
        return r.status, text or None

    def ok(self, method, path, body=None, want=(200, 201, 204)):
        st, j = self.http(method, path, body)
        assert st in want, f"{method} {path} -> {st}: {j}"
        return j

    def nsm_open(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(str(self.nsm_path))
        return NsmStream(s)

    def nsm(self, method, params):
        """One NSM call on a fresh connection: ("result", obj) or ("error", obj)."""
        with self.nsm_open() as st:
            return st.call(method, params)


class NsmStream:
    """A newline-delimited JSON stream on the NSM socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self._ids = itertools.count(1)

    def send(self, obj):
        self.sock.sendall(json.dumps(obj).encode() + b"\n")

    def recv(self, timeout=None):
        if timeout is not None:
            self.sock.settimeout(timeout)
        while b"\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("NSM socket closed")
            self.buf += d
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)

    def call(self, method, params):
        i = next(self._ids)
        self.send({"id": i, "method": method, "params": params})
        m = self.recv()
        assert m.get("id") == i, m
        return ("error", m["error"]) if "error" in m else ("result", m["result"])

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
