# SPDX-License-Identifier: BSD-3-Clause
"""Namespace topologies for tests: the same script the demo uses
(tools/netns-topology), with a unique tag per test so runs never collide,
and meshgate's embedded default rewritten to that tag's interfaces."""
import json
import os
import pathlib
import subprocess

from mgrun import MESHGATE, ROOT, unique

TOPOLOGY = ROOT / "tools" / "netns-topology"


def default_config(tag, **replace):
    text = subprocess.run([str(MESHGATE), "--print-default"], capture_output=True, text=True,
                          check=True).stdout
    text = text.replace("iface=mg-pod", f"iface={tag}-pod").replace("iface=mg-ext", f"iface={tag}-ext")
    for old, new in replace.items():
        text = text.replace(old, new)
    return text


class Topology:
    def __init__(self):
        self.tag = unique("t")[-10:].replace("x", "t")
        self.procs = []

    def up(self):
        subprocess.run([str(TOPOLOGY), "up", self.tag], check=True)
        return self

    def down(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        subprocess.run([str(TOPOLOGY), "down", self.tag], check=False)

    def ns(self, side):
        return f"{self.tag}-{side}"

    def run(self, side, *cmd, timeout=60, check=False):
        return subprocess.run(["ip", "netns", "exec", self.ns(side), *cmd], capture_output=True,
                              text=True, timeout=timeout, check=check)

    def spawn(self, side, *cmd):
        p = subprocess.Popen(["ip", "netns", "exec", self.ns(side), *cmd],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.procs.append(p)
        return p

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
