# SPDX-License-Identifier: BSD-3-Clause
"""An independent VXLAN endpoint (VTEP) for the namespace tests, for
kernels without the vxlan module: scapy's VXLAN layer between a TAP device
and a UDP socket, run inside a namespace, so the namespace's own kernel
resolves ARP/ND and sends ping and TCP through the overlay.

usage: vxlan_peer.py CONFIG.json
  {"local", "remote": outer VTEP addresses (IPv4 or IPv6), "vni", "port",
   "tap": TAP name, "mac": its MAC, "stats": file, "ready": file}

Counts what it did in the file named by "stats" (JSON, rewritten each
second, on SIGUSR1 and at exit): frames encapsulated/decapsulated, refusals
by reason, outer source ports and inner EtherTypes seen from meshgate.
"""
import fcntl
import json
import os
import select
import signal
import socket
import struct
import sys
import time

from scapy.layers.l2 import Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import raw

TUNSETIFF = 0x400454ca
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000


def main():
    cfg = json.load(open(sys.argv[1]))
    local, remote, vni = cfg["local"], cfg["remote"], cfg["vni"]
    port = cfg.get("port", 4789)
    stats = {"encapsulated": 0, "decapsulated": 0, "errors": {}, "sports": [],
             "ethertypes": [], "from": []}

    tap = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(tap, TUNSETIFF, struct.pack("16sH", cfg["tap"].encode(), IFF_TAP | IFF_NO_PI))
    fam = socket.AF_INET6 if ":" in local else socket.AF_INET
    sock = socket.socket(fam, socket.SOCK_DGRAM)
    sock.bind((local, port))
    open(cfg["ready"], "w").write("ok")

    def err(k):
        stats["errors"][k] = stats["errors"].get(k, 0) + 1

    def dump(*_):
        with open(cfg["stats"] + ".tmp", "w") as f:
            json.dump(stats, f)
        os.replace(cfg["stats"] + ".tmp", cfg["stats"])

    def stop(*_):
        dump()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGUSR1, dump)
    last = time.monotonic()
    while True:
        r, _, _ = select.select([tap, sock], [], [], 0.5)
        if tap in r:  # a frame from our kernel: into the tunnel
            frame = os.read(tap, 65535)
            pkt = VXLAN(flags=0x08, vni=vni) / Ether(frame)
            sock.sendto(raw(pkt), (remote, port))
            stats["encapsulated"] += 1
        if sock in r:  # VXLAN from meshgate: the inner frame into our kernel
            data, src = sock.recvfrom(65535)
            if src[0] != remote:
                err("wrong-source")
                continue
            v = VXLAN(data)
            if not int(v.flags) & 0x08:
                err("i-flag-clear")
                continue
            if v.vni != vni:
                err("wrong-vni")
                continue
            inner = v.payload
            if not isinstance(inner, Ether):
                err("not-ethernet")
                continue
            if src[1] not in stats["sports"] and len(stats["sports"]) < 64:
                stats["sports"].append(src[1])
            if inner.type not in stats["ethertypes"]:
                stats["ethertypes"].append(inner.type)
            os.write(tap, raw(inner))
            stats["decapsulated"] += 1
        if time.monotonic() - last > 1:
            dump()
            last = time.monotonic()


if __name__ == "__main__":
    main()
