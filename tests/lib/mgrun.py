# SPDX-License-Identifier: BSD-3-Clause
"""Run meshgate from tests: start it on a config, wait until it forwards,
stop it cleanly and read its final counters (--stats-json)."""
import itertools
import json
import os
import pathlib
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
        cmd = [str(MESHGATE), "-c", str(self.cfg), "--stats-json", str(self.json),
               *self.args, "--", "--file-prefix", self.prefix, *self.eal]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, bufsize=1)
        threading.Thread(target=self._reader, daemon=True).start()
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


def check(config_text, workdir):
    """meshgate --check on a config text: (returncode, output)."""
    p = pathlib.Path(workdir) / f"{unique('chk')}.yaml"
    p.write_text(config_text)
    r = subprocess.run([str(MESHGATE), "--check", "-c", str(p)], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr
