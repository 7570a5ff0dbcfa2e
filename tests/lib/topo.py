# SPDX-License-Identifier: BSD-3-Clause
"""Namespace topologies for tests: the same script the demo uses
(tools/netns-topology), with a unique tag per test so runs never collide,
and meshgate's embedded default rewritten to that tag's interfaces."""
import json
import os
import pathlib
import shutil
import subprocess

import pytest

from mgrun import MESHGATE, ROOT, unique

TOPOLOGY = ROOT / "tools" / "netns-topology"


def default_config(tag, **replace):
    text = subprocess.run([str(MESHGATE), "--print-default"], capture_output=True, text=True,
                          check=True).stdout
    text = text.replace("iface=mg-pod", f"iface={tag}-pod").replace("iface=mg-ext", f"iface={tag}-ext")
    for old, new in replace.items():
        text = text.replace(old, new)
    return text


def netns_fixture(make, tools, setup="tools/setup"):
    """The body of a namespace fixture (`yield from` it): skip without root,
    fail when one of @tools is not installed (naming @setup), then yield
    make().up() and take it down after, also when up() failed half-way."""
    if os.geteuid() != 0:
        pytest.skip("namespace tests need root")
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: run {setup}")
    t = make()
    try:
        yield t.up()
    finally:
        t.down()


class Namespaces:
    """Commands run in network namespaces; kill() ends the processes spawned."""

    def __init__(self):
        self.procs = []

    def ns(self, name):
        """The namespace called @name (a subclass may map names to namespaces)."""
        return name

    def run(self, name, *cmd, timeout=60, check=False):
        return subprocess.run(["ip", "netns", "exec", self.ns(name), *cmd], capture_output=True,
                              text=True, timeout=timeout, check=check)

    def spawn(self, name, *cmd):
        p = subprocess.Popen(["ip", "netns", "exec", self.ns(name), *cmd],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.procs.append(p)
        return p

    def kill(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


class Topology(Namespaces):
    """tools/netns-topology's namespaces, named by side ("pod", "ext", ...)."""

    def __init__(self):
        super().__init__()
        self.tag = unique("t")[-10:].replace("x", "t")

    def up(self):
        subprocess.run([str(TOPOLOGY), "up", self.tag], check=True)
        return self

    def down(self):
        self.kill()
        subprocess.run([str(TOPOLOGY), "down", self.tag], check=False)

    def ns(self, side):
        return f"{self.tag}-{side}"

    def ping(self, side, dst, count=1, extra=()):
        v6 = ":" in dst
        return self.run(side, "ping", *(["-6"] if v6 else []), "-c", str(count), "-W", "2",
                        "-i", "0.2", *extra, dst)

    def iperf(self, client_side, server_side, dst, seconds=3, v6=False, parallel=1):
        srv = self.spawn(server_side, "iperf3", "-s", "-1", "--bind",
                         dst if server_side != client_side else "::")
        # Wait for the server to listen.
        for _ in range(50):
            r = self.run(server_side, "ss", "-ltn")
            if ":5201" in r.stdout:
                break
            subprocess.run(["sleep", "0.1"])
        r = self.run(client_side, "iperf3", "-J", "-c", dst, "-t", str(seconds),
                     "-P", str(parallel), *(["-6"] if v6 else []), timeout=seconds + 30)
        srv.wait(timeout=30)
        return json.loads(r.stdout) if r.stdout.strip().startswith("{") else {"error": r.stdout}
