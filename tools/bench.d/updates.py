#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""tools/bench's update-rate case: route updates per second that meshgate
sustains over REST while it forwards, and the Linux kernel's rate for the
same route changes through `ip -batch` (netlink) in a scratch namespace,
measured in the same run as the peer.

  updates.py churn --prefix P --duration S [--batch N] [--out FILE]
      Against the running meshgate with file prefix P: POST /v1/batch with N
      operations each (route adds and deletes of /24 and /56 prefixes beside
      the traffic, and replaces of the traffic's own routes between two next
      hops that both forward) for S seconds. Leaves the routes as it found
      them. Prints JSON: updates, seconds, rate, requests.

  updates.py connections --prefix P --duration S [--out FILE]
      NSM Request + Close pairs of VLAN connections (an interface, its
      addresses, a route behind the client, a static neighbor each) over the
      control socket for S seconds. Prints JSON: connections, seconds, rate.

  updates.py kernel --ops N [--out FILE]
      The same kind of route adds and deletes (N in all) applied by the
      kernel: `ip -batch` in a namespace created and removed here. Prints
      JSON: updates, seconds, rate.
"""
import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import time


def rest(prefix):
    run = f"/var/run/dpdk/{prefix}"
    for _ in range(300):
        if os.path.exists(f"{run}/rest.addr"):
            break
        time.sleep(0.1)
    host, _, port = open(f"{run}/rest.addr").read().strip().rpartition(":")
    token = open(f"{run}/rest.token").read().strip()
    return host.strip("[]"), int(port), token


def prefixes():
    v4 = [f"100.{64 + i // 256}.{i % 256}.0/24" for i in range(16384)]
    v6 = [f"2001:db8:f{i // 256:03x}:{i % 256:x}00::/56" for i in range(16384)]
    return v4, v6


def churn(a):
    host, port, token = rest(a.prefix)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    hdr = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    rng = random.Random(1)
    v4, v6 = prefixes()
    live, free = [], [(p, 4) for p in v4] + [(p, 6) for p in v6]
    rng.shuffle(free)
    vias = {4: ("198.19.1.2", "198.19.1.3"), 6: ("fd00:1::2", "fd00:1::3")}
    traffic = {4: "198.18.0.0/16", 6: "2001:db8::/32"}
    flip = {4: 0, 6: 0}
    n = reqs = 0
    t0 = time.monotonic()
    end = t0 + a.duration
    while time.monotonic() < end:
        ops = []
        for _ in range(a.batch):
            r = rng.random()
            if r < 0.02:
                fam = 4 if rng.random() < 0.5 else 6
                flip[fam] ^= 1
                ops.append({"op": "replace", "route": {"prefix": traffic[fam],
                                                       "via": vias[fam][flip[fam]]}})
            elif (r < 0.51 and len(live) < a.live) or not live:
                p, fam = free.pop()
                live.append((p, fam))
                ops.append({"op": "add", "route": {"prefix": p, "via": vias[fam][0]}})
            else:
                p, fam = live.pop(rng.randrange(len(live)))
                free.insert(0, (p, fam))
                ops.append({"op": "delete", "route": {"prefix": p}})
        conn.request("POST", "/v1/batch", body=json.dumps({"operations": ops}), headers=hdr)
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            sys.exit(f"updates: POST /v1/batch -> {r.status} after {n} updates: {body[:300]!r}")
        n += len(ops)
        reqs += 1
    secs = time.monotonic() - t0
    # Put things back (not timed).
    back = [{"op": "delete", "route": {"prefix": p}} for p, _ in live]
    back += [{"op": "replace", "route": {"prefix": traffic[f], "via": vias[f][0]}}
             for f in (4, 6) if flip[f]]
    for i in range(0, len(back), 1000):
        conn.request("POST", "/v1/batch", body=json.dumps({"operations": back[i:i + 1000]}),
                     headers=hdr)
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            sys.exit(f"updates: restoring routes -> {r.status}")
    out = {"updates": n, "seconds": secs, "rate": n / secs, "requests": reqs, "batch": a.batch}
    emit(out, a.out)


def connections(a):
    """NSM Request + Close pairs of VLAN connections on the sink port, each
    with addresses, a route behind the client and a static neighbor."""
    import socket
    path = f"/var/run/dpdk/{a.prefix}/nsm.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    f = s.makefile("rwb")
    n = 0
    t0 = time.monotonic()
    end = t0 + a.duration
    while time.monotonic() < end:
        i = n % 1000
        for method, params in (
                ("Request", {"connection": {
                    "id": f"bench-{i}", "network_service": "default",
                    "mechanism": {"cls": "LOCAL", "type": "VLAN",
                                  "parameters": {"base": "sink", "vlan-id": str(100 + i)}},
                    "context": {"ip_context": {
                        "src_ip_addrs": [f"172.{16 + i // 250}.{i % 250}.2/30"],
                        "dst_ip_addrs": [f"172.{16 + i // 250}.{i % 250}.1/30"],
                        "dst_routes": [{"prefix": f"10.{100 + i // 250}.{i % 250}.0/24"}]},
                        "ethernet_context": {"src_mac": "02:00:00:00:42:02"}}}}),
                ("Close", {"id": f"bench-{i}"})):
            f.write(json.dumps({"id": n, "method": method, "params": params}).encode() + b"\n")
            f.flush()
            reply = json.loads(f.readline())
            if "error" in reply:
                sys.exit(f"updates: NSM {method} -> {reply['error']}")
        n += 1
    secs = time.monotonic() - t0
    s.close()
    emit({"connections": n, "seconds": secs, "rate": n / secs}, a.out)


def kernel(a):
    ns = f"mgbench-upd{os.getpid()}"
    rng = random.Random(1)
    v4, v6 = prefixes()
    lines, live = [], []
    free = [(p, 4) for p in v4] + [(p, 6) for p in v6]
    rng.shuffle(free)
    for _ in range(a.ops):
        if (rng.random() < 0.5 and free) or not live:
            p, fam = free.pop()
            live.append(p)
            lines.append(f"route add {p} via {'10.99.0.2' if fam == 4 else 'fd99::2'} dev veth0")
        else:
            p = live.pop(rng.randrange(len(live)))
            free.insert(0, (p, 4 if ":" not in p else 6))
            lines.append(f"route del {p}")
    batch = f"/tmp/{ns}.batch"
    with open(batch, "w") as f:
        f.write("\n".join(lines) + "\n")
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True)
        for cmd in (["link", "add", "veth0", "type", "veth", "peer", "name", "veth1"],
                    ["link", "set", "veth0", "up"], ["link", "set", "veth1", "up"],
                    ["addr", "add", "10.99.0.1/24", "dev", "veth0"],
                    ["-6", "addr", "add", "fd99::1/64", "dev", "veth0", "nodad"]):
            subprocess.run(["ip", "-n", ns, *cmd], check=True)
        t0 = time.monotonic()
        r = subprocess.run(["ip", "-n", ns, "-batch", batch], capture_output=True, text=True)
        secs = time.monotonic() - t0
        if r.returncode != 0:
            sys.exit(f"updates: ip -batch failed: {r.stderr[:300]}")
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
        os.unlink(batch)
    emit({"updates": a.ops, "seconds": secs, "rate": a.ops / secs}, a.out)


def emit(obj, path):
    text = json.dumps(obj, indent=2)
    if path:
        with open(path, "w") as f:
            f.write(text + "\n")
    print(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("churn")
    c.add_argument("--prefix", required=True)
    c.add_argument("--duration", type=float, default=10.0)
    c.add_argument("--batch", type=int, default=100)
    c.add_argument("--live", type=int, default=2000,
                   help="at most this many churned routes installed at once")
    c.add_argument("--out")
    n = sub.add_parser("connections")
    n.add_argument("--prefix", required=True)
    n.add_argument("--duration", type=float, default=5.0)
    n.add_argument("--out")
    k = sub.add_parser("kernel")
    k.add_argument("--ops", type=int, default=100000)
    k.add_argument("--out")
    a = ap.parse_args()
    {"churn": churn, "connections": connections, "kernel": kernel}[a.cmd](a)


if __name__ == "__main__":
    main()
