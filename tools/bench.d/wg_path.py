#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""meshgate's WireGuard data path on one worker, and wireguard-go as the peer figure.

  wg_path.py [--build BUILD] [--seconds N] [--sizes 64,512,1420] [--no-wireguard-go]
  wg_path.py prepare --size N --dir DIR --prefix PREFIX [--hugepages]
  wg_path.py wireguard-go --seconds N
  wg_path.py cpu-of-lcore -- COMMAND...

The two subcommands serve tools/bench --traffic wg (tools/bench.d/wg_bench.sh):
prepare writes DIR/wgN.pcap and DIR/wgN.yaml (the configuration below, with
fresh keys), wireguard-go prints the wireguard-go run as one JSON object,
cpu-of-lcore runs a DPDK COMMAND (dpdk-test-crypto-perf) and prints, as
JSON, its output lines and the CPU seconds its worker lcore thread ran
(from /proc schedstat), so that its rate can be taken per CPU second like
the others on a shared machine.

meshgate: one worker forwards a looping pcap (net_pcap, infinite_rx) of
UDP frames of each size into WireGuard interface wga, whose peer is
meshgate's own wgb (network "b", reached at 10.2.0.1, an address of the
source port): every packet is encrypted (wg-output), routed to the local
address, decrypted (wg-input, replay window, cryptokey routing) and
forwarded out of net_null. The figure is the sink's packet rate: one
encryption and one decryption per packet on the one worker core, so it is
compared with half the raw ChaCha20-Poly1305 rate (wg_crypto) at the same
size.

wireguard-go: two namespaces joined by a veth, wireguard-go in each, iperf3
TCP through the tunnel for N seconds; its rate in packets of the tunnel MTU
per second, and the CPU seconds both wireguard-go processes used per
second of wall time (on this 2-CPU machine they share the cores with
iperf3).

Runs meshgate without hugepages (like wg_crypto), so compare the ratios of
one run, not absolute figures across machines.
"""
import argparse
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from scapy.all import Ether, IP, UDP, Raw, wrpcap  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent


def sh(*cmd, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stdout}{r.stderr}")
    return r


def genkey():
    priv = sh("wg", "genkey").stdout.strip()
    pub = subprocess.run(["wg", "pubkey"], input=priv + "\n", capture_output=True, text=True,
                         check=True).stdout.strip()
    return priv, pub


def make_pcap(path, size, flows=64):
    frames = []
    for i in range(flows):
        p = (Ether(src="02:00:00:00:00:01", dst="02:6d:67:00:0a:01") /
             IP(src=f"10.1.0.{2 + i % 200}", dst=f"198.18.0.{1 + (i * 7) % 250}", ttl=64) /
             UDP(sport=1024 + i, dport=5000))
        frames.append(p / Raw(b"\x00" * max(0, size - len(p))))
    wrpcap(str(path), frames)


CONFIG = """
dpdk:
  lcores: "0-1"
  hugepages: {hugepages}
  memory_mb: 1024
  file_prefix: {prefix}
workers:
  idle: {{mode: poll}}
networks:
  - name: a
  - name: b
ports:
  - name: src
    network: a
    device: net_pcap0,rx_pcap={pcap},infinite_rx=1
    mac: "02:6d:67:00:0a:01"
    ipv4: [10.1.0.1/24, 10.2.0.1/32]
  - name: sink
    network: b
    device: net_null0,no-rx=1
    mac: "02:6d:67:00:0b:01"
    ipv4: [198.19.1.1/24]
neighbors:
  - {{interface: sink, ip: 198.19.1.2, mac: "02:00:00:00:00:99"}}
wireguard:
  - name: wga
    network: a
    listen_port: 51001
    private_key: "{ka}"
    ipv4: [10.50.0.1/30]
    peers:
      - public_key: "{pb}"
        endpoint: "10.2.0.1:51002"
        allowed_ips: [198.18.0.0/15, 10.50.0.2/32]
  - name: wgb
    network: b
    underlay: a
    listen_port: 51002
    private_key: "{kb}"
    ipv4: [10.50.0.2/30]
    peers:
      - public_key: "{pa}"
        endpoint: "10.2.0.1:51001"
        allowed_ips: [10.1.0.0/24, 10.50.0.1/32]
routes:
  - {{network: a, prefix: 198.18.0.0/15, interface: wga}}
  - {{network: b, prefix: 198.18.0.0/15, via: 198.19.1.2}}
"""


def stats(ctl, prefix):
    r = sh(str(ctl), "-p", prefix, "--json", "stats")
    return json.loads(r.stdout)


def sink_tx(st):
    ports = st["ports"]
    p = ports["sink"] if isinstance(ports, dict) else next(x for x in ports if x["name"] == "sink")
    return p.get("tx_packets", p.get("tx_pkts", 0))


def prepare(size, tmp, prefix, hugepages=False):
    """The looping pcap of @size-byte frames and the configuration; returns its path."""
    ka, pa = genkey()
    kb, pb = genkey()
    pcap = tmp / f"wg{size}.pcap"
    make_pcap(pcap, size)
    cfg = tmp / f"wg{size}.yaml"
    cfg.write_text(CONFIG.format(prefix=prefix, pcap=pcap, ka=ka, kb=kb, pa=pa, pb=pb,
                                 hugepages="true" if hugepages else "false"))
    cfg.chmod(0o600)  # it holds private keys
    return cfg


def meshgate_rate(build, size, seconds, tmp):
    mg, ctl = build / "app" / "meshgate", build / "app" / "meshgatectl"
    prefix = f"wgbench{os.getpid()}"
    cfg = prepare(size, tmp, prefix)
    p = subprocess.Popen([str(mg), "-c", str(cfg), "--", "--file-prefix", prefix],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(200):
            line = p.stdout.readline()
            if not line or line.startswith("meshgate: running"):
                break
        time.sleep(3)  # handshake (held packets) and warm-up
        tid = worker_tid(p.pid)
        s0, t0, c0 = sink_tx(stats(ctl, prefix)), time.monotonic(), cpu_of(p.pid, tid)
        time.sleep(seconds)
        s1, t1, c1 = sink_tx(stats(ctl, prefix)), time.monotonic(), cpu_of(p.pid, tid)
        wg = json.loads(sh(str(ctl), "-p", prefix, "--json", "wg", "show", "wga").stdout)
        # Per second of the worker's own CPU time: the machine is shared.
        return (s1 - s0) / (t1 - t0) / 1e6, (s1 - s0) / max(c1 - c0, 1e-9) / 1e6, wg["counters"]
    finally:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()


def wireguard_go_rate(seconds, tmp):
    tag = f"wb{os.getpid() % 10000}"
    ns = [f"{tag}a", f"{tag}b"]
    keys = [genkey(), genkey()]
    procs = []
    try:
        for n in ns:
            sh("ip", "netns", "add", n)
        sh("ip", "link", "add", f"{tag}x", "netns", ns[0], "type", "veth", "peer", "name",
           f"{tag}y", "netns", ns[1])
        for i, (n, dev) in enumerate(zip(ns, (f"{tag}x", f"{tag}y"))):
            sh("ip", "-n", n, "addr", "add", f"192.168.77.{i + 1}/24", "dev", dev)
            sh("ip", "-n", n, "link", "set", dev, "up")
            sh("ip", "-n", n, "link", "set", "lo", "up")
        for i, n in enumerate(ns):
            ifn = f"{tag}w{i}"
            procs.append(subprocess.Popen(["ip", "netns", "exec", n, "wireguard-go", "-f", ifn],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          env=dict(os.environ, LOG_LEVEL="error")))
            sock = pathlib.Path(f"/var/run/wireguard/{ifn}.sock")
            for _ in range(100):
                if sock.exists():
                    break
                time.sleep(0.05)
            kf = tmp / f"k{i}"
            kf.write_text(keys[i][0] + "\n")
            sh("ip", "netns", "exec", n, "wg", "set", ifn, "private-key", str(kf), "listen-port",
               "51820", "peer", keys[1 - i][1], "allowed-ips", f"10.77.0.{2 - i}/32",
               "endpoint", f"192.168.77.{2 - i}:51820")
            sh("ip", "-n", n, "addr", "add", f"10.77.0.{i + 1}/24", "dev", ifn)
            sh("ip", "-n", n, "link", "set", ifn, "up")
        srv = subprocess.Popen(["ip", "netns", "exec", ns[1], "iperf3", "-s", "-1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        cpu0 = sum(cpu_of(p.pid) for p in procs)
        r = sh("ip", "netns", "exec", ns[0], "iperf3", "-J", "-c", "10.77.0.2", "-t", str(seconds))
        cpu1 = sum(cpu_of(p.pid) for p in procs)
        srv.wait(10)
        res = json.loads(r.stdout)
        bits = res["end"]["sum_received"]["bits_per_second"]
        return bits / 8 / 1420 / 1e6, bits / 1e9, (cpu1 - cpu0) / seconds
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(3)
            except subprocess.TimeoutExpired:
                p.kill()
        for n in ns:
            subprocess.run(["ip", "netns", "del", n], capture_output=True)


def cpu_of(pid, tid=None):
    """CPU seconds of a process (all threads) or of one of its threads (utime + stime)."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    f = open(path).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def worker_tid(pid):
    """The thread of meshgate's worker lcore."""
    for t in os.listdir(f"/proc/{pid}/task"):
        comm = open(f"/proc/{pid}/task/{t}/comm").read().strip()
        if "worker" in comm:
            return t
    raise RuntimeError("no worker thread")


def subcommand(argv):
    ap = argparse.ArgumentParser(prog="wg_path.py " + argv[0])
    if argv[0] == "prepare":
        ap.add_argument("--size", type=int, required=True)
        ap.add_argument("--dir", required=True)
        ap.add_argument("--prefix", required=True)
        ap.add_argument("--hugepages", action="store_true")
        a = ap.parse_args(argv[1:])
        print(prepare(a.size, pathlib.Path(a.dir), a.prefix, a.hugepages))
        return
    ap.add_argument("--seconds", type=int, default=5)
    a = ap.parse_args(argv[1:])
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="wgbench"))
    try:
        mpps, gbps, cpu = wireguard_go_rate(a.seconds, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    json.dump({"mpps": mpps, "gbps": gbps, "cpu_cores": cpu, "seconds": a.seconds,
               "mpps_per_cpu": mpps / max(cpu, 1e-9)}, sys.stdout)
    print()


def cpu_of_lcore(cmd):
    """Run @cmd; the on-CPU seconds of its worker lcore threads (rte-worker-N), and its stdout."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err, cpu = [], [], {}

    import threading
    threads = [threading.Thread(target=lambda f, acc: acc.extend(f), args=(p.stdout, out)),
               threading.Thread(target=lambda f, acc: acc.extend(f), args=(p.stderr, err))]
    for t in threads:
        t.start()
    while p.poll() is None:
        try:
            for t in os.listdir(f"/proc/{p.pid}/task"):
                try:
                    comm = open(f"/proc/{p.pid}/task/{t}/comm").read().strip()
                    if comm.startswith(("rte-worker", "lcore-worker")):
                        run_ns, wait_ns = open(f"/proc/{p.pid}/task/{t}/schedstat").read().split()[:2]
                        cpu[t] = (int(run_ns) / 1e9, int(wait_ns) / 1e9)
                except OSError:
                    pass
        except OSError:
            pass
        time.sleep(0.05)
    for t in threads:
        t.join()
    sys.stderr.write("".join(err))
    return p.returncode, "".join(out), sum(v[0] for v in cpu.values()), \
        sum(v[1] for v in cpu.values())


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "cpu-of-lcore":
        cmd = sys.argv[2:]
        if cmd and cmd[0] == "--":
            cmd = cmd[1:]
        rc, out, cpu, wait = cpu_of_lcore(cmd)
        json.dump({"rc": rc, "stdout": out, "lcore_cpu_seconds": cpu,
                   "lcore_wait_seconds": wait}, sys.stdout)
        print()
        sys.exit(rc)
    if len(sys.argv) > 1 and sys.argv[1] in ("prepare", "wireguard-go"):
        subcommand(sys.argv[1:])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--sizes", default="64,512,1420")
    ap.add_argument("--no-wireguard-go", action="store_true")
    a = ap.parse_args()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="wgbench"))
    try:
        print("meshgate, one worker: encrypt + decrypt of every packet (Mpps at the sink)")
        for size in [int(x) for x in a.sizes.split(",")]:
            mpps, per_cpu, cnt = meshgate_rate(pathlib.Path(a.build), size, a.seconds, tmp)
            print(f"  {size:5d} B  {mpps:7.3f} Mpps wall, {per_cpu:7.3f} Mpps per worker CPU second "
                  f"(decrypted ok: {cnt['decrypt']['data']}, "
                  f"refused: {sum(v for k, v in cnt['decrypt'].items() if k != 'data')})")
            sys.stdout.flush()
        if not a.no_wireguard_go:
            mpps, gbps, cpu = wireguard_go_rate(a.seconds, tmp)
            print(f"wireguard-go, iperf3 TCP between two namespaces: {gbps:.2f} Gbit/s, "
                  f"~{mpps:.3f} Mpps of 1420 B, wireguard-go CPU {cpu:.2f} cores: "
                  f"{mpps / max(cpu, 1e-9):.3f} Mpps per wireguard-go CPU second "
                  f"(both ends: each packet is encrypted once and decrypted once)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
