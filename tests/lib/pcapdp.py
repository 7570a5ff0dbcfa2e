# SPDX-License-Identifier: BSD-3-Clause
"""Datapath tests on net_pcap: packets built with scapy go in through pcap
files, meshgate forwards them, and what it sent is read back from the
output pcap of each port."""
import os
import pathlib
import re
import time

from scapy.all import Ether, rdpcap, wrpcap  # noqa: F401  (scapy from /usr/bin/python3)
from scapy.utils import PcapWriter

from mgrun import Meshgate

GW_MAC = {"a": "02:00:00:00:0a:01", "b": "02:00:00:00:0b:01"}
HOST_MAC = {"a": "02:00:00:00:0a:02", "b": "02:00:00:00:0b:02"}

# Two ports, one network: a = 10.0.1.1/24 + fd00:1::1/64, b = 10.0.2.1/24 + fd00:2::1/64.
# Hosts .2 on each side are static neighbors; 198.51.100.0/24 and 2001:db8:100::/48
# are routed via b's host.
BASE = """
dpdk:
  lcores: "0-1"
  memory_mb: 512
workers:
  idle: {{mode: sleep}}
# No announcements unless asked: the tests count what goes out.
arp_nd: {{{arp_nd}}}
networks:
  - {{name: default{net_opts}}}
{networks}
ports:
  - name: a
    device: "net_pcap{ia},rx_pcap={dir}/in_a.pcap,tx_pcap={dir}/out_a.pcap"
    mac: "02:00:00:00:0a:01"
    ipv4: [10.0.1.1/24]
    ipv6: ["fd00:1::1/64"]
{a_extra}
  - name: b
    device: "net_pcap{ib},rx_pcap={dir}/in_b.pcap,tx_pcap={dir}/out_b.pcap"
    mac: "02:00:00:00:0b:01"
    mtu: {mtu_b}
    ipv4: [10.0.2.1/24]
    ipv6: ["fd00:2::1/64"]
{b_extra}
neighbors:
  - {{interface: a, ip: 10.0.1.2, mac: "02:00:00:00:0a:02"}}
  - {{interface: a, ip: "fd00:1::2", mac: "02:00:00:00:0a:02"}}
  - {{interface: b, ip: 10.0.2.2, mac: "02:00:00:00:0b:02"}}
  - {{interface: b, ip: "fd00:2::2", mac: "02:00:00:00:0b:02"}}
{neighbors}
routes:
  - {{prefix: 198.51.100.0/24, via: 10.0.2.2}}
  - {{prefix: "2001:db8:100::/48", via: "fd00:2::2"}}
{routes}
{extra}
"""

_n = 0


def config(workdir, networks="", a_extra="", b_extra="", neighbors="", routes="", extra="",
           mtu_b=1500, net_opts="", arp_nd=""):
    """The two-port configuration; @arp_nd: more `arp_nd:` settings ("k: v, ...")."""
    global _n
    _n += 1
    return BASE.format(dir=workdir, networks=networks, a_extra=a_extra, b_extra=b_extra,
                       neighbors=neighbors, routes=routes, extra=extra, mtu_b=mtu_b,
                       net_opts=(", " + net_opts) if net_opts else "",
                       arp_nd=arp_nd if "announce" in arp_nd else
                       "announce: false" + (", " + arp_nd if arp_nd else ""),
                       ia=2 * _n, ib=2 * _n + 1)


def gcm_sa(key, salt):
    """The algorithm fields of an AES-GCM-128 SA in a config's `sas:` entry."""
    return f'algorithm: aes-gcm-128, key: "{key.hex()}", salt: "{salt.hex()}"'


def esp_tunnel(name, local, remote, spi, sa_out, sa_in):
    """One `esp_tunnels:` entry: an outbound SA of @spi and an inbound one of
    @spi + 1, both for inner IPv4, their algorithm fields @sa_out and @sa_in
    (gcm_sa() or the like)."""
    return f"""  - name: {name}
    local: "{local}"
    remote: "{remote}"
    sas:
      - {{direction: out, inner: ipv4, spi: {spi}, {sa_out}}}
      - {{direction: in, inner: ipv4, spi: {spi + 1}, {sa_in}}}
"""


def write_pcap(path, pkts):
    w = PcapWriter(str(path), linktype=1, sync=True)
    # An empty file still needs its global header.
    w._write_header(None)
    for p in pkts:
        w.write(p)
    w.close()


def run(workdir, cfg, a=(), b=(), settle=1.0):
    """Feed packets in on ports a and b; return (out_a, out_b, stats)."""
    d = pathlib.Path(workdir)
    write_pcap(d / "in_a.pcap", list(a))
    write_pcap(d / "in_b.pcap", list(b))
    mg = Meshgate(d, cfg, name="dp")
    mg.start()
    time.sleep(settle)
    stats = mg.stop()
    out_a = list(rdpcap(str(d / "out_a.pcap")))
    out_b = list(rdpcap(str(d / "out_b.pcap")))
    return out_a, out_b, stats


def run_two_workers(workdir, cfg, a=(), b=(), settle=1.0):
    """run() with two workers and two queues per port: queue 0 reads @a and
    @b, queue 1 an empty file; each queue writes its own file, and what both
    sent is returned (queue 0's packets first)."""
    d = pathlib.Path(workdir)
    write_pcap(d / "empty.pcap", [])
    assert 'lcores: "0-1"' in cfg and "memory_mb: 512" in cfg, cfg
    cfg = cfg.replace('lcores: "0-1"', 'lcores: "0@0,1@1,2@1"')
    cfg = cfg.replace("memory_mb: 512", "memory_mb: 768")
    # (a device string holds at most 255 characters: the files through a short link)
    short = pathlib.Path(f"/tmp/mg2w{os.getpid()}")
    short.unlink(missing_ok=True)
    short.symlink_to(d)
    cfg = re.sub(r"rx_pcap=\S+/in_(\w)\.pcap,tx_pcap=\S+/out_(\w)\.pcap",
                 rf"rx_pcap={short}/in_\1.pcap,rx_pcap={short}/empty.pcap,"
                 rf"tx_pcap={short}/out_\2.pcap,tx_pcap={short}/out_\2_1.pcap", cfg)
    assert cfg.count("empty.pcap") == 2, cfg
    try:
        out_a, out_b, stats = run(d, cfg, a=a, b=b, settle=settle)
    finally:
        short.unlink()
    out_a += list(rdpcap(str(d / "out_a_1.pcap")))
    out_b += list(rdpcap(str(d / "out_b_1.pcap")))
    return out_a, out_b, stats


def drops(stats, reason):
    return stats["drops"][reason]


def nonzero_drops(stats):
    return {k: v for k, v in stats["drops"].items() if v}
