# SPDX-License-Identifier: BSD-3-Clause
"""An independent ESP tunnel endpoint for the namespace tests: scapy's
SecurityAssociation (python3-cryptography underneath) between a TUN device
and raw sockets, run inside a namespace, so the namespace's own kernel
sends and receives the inner traffic (ping, iperf3) through the tunnel.

usage: esp_peer.py CONFIG.json   (see test_esp_tunnel.py for its fields)

Counts what it did in the file named by "stats" (JSON, rewritten each
second and at exit): packets decrypted/encrypted and failures by reason.
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

from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.packet import raw

TUNSETIFF = 0x400454ca
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
SIOCSIFTXQLEN = 0x8943
SO_RCVBUFFORCE = 33

CIPHERS = {  # meshgate name -> (scapy crypt, scapy auth)
    "aes-gcm-128": ("AES-GCM", None), "aes-gcm-256": ("AES-GCM", None),
    "aes-cbc-128-hmac-sha256": ("AES-CBC", "SHA2-256-128"),
    "aes-cbc-256-hmac-sha256": ("AES-CBC", "SHA2-256-128"),
    "chacha20-poly1305": ("CHACHA20-POLY1305", None),
    "null-hmac-sha256": ("NULL", "SHA2-256-128"),
}


def make_sa(sa, local, remote, esn, natt=False):
    crypt, auth = CIPHERS[sa["algorithm"]]
    key = bytes.fromhex(sa.get("key", "")) + bytes.fromhex(sa.get("salt", ""))
    hdr = IP(src=local, dst=remote) if ":" not in local else IPv6(src=local, dst=remote)
    kw = {}
    if auth:
        kw = {"auth_algo": auth, "auth_key": bytes.fromhex(sa["auth_key"])}
    if natt:
        kw["nat_t_header"] = UDP(sport=4500, dport=4500)
    return SecurityAssociation(ESP, spi=sa["spi"], crypt_algo=crypt, crypt_key=key,
                               tunnel_header=hdr, esn_en=esn, **kw)


def main():
    cfg = json.load(open(sys.argv[1]))
    local, remote = cfg["local"], cfg["remote"]
    v6 = ":" in local
    natt = cfg.get("udp_encap", False)  # UDP-encapsulated ESP (RFC 3948) on port 4500
    # SAs marked "standby" are the next generation (a rekey): the peer accepts
    # the standby inbound SA at once and moves its outbound traffic to the
    # standby outbound SA when the first packet arrives on the new inbound one
    # (make before break, as IKE responders do).
    out_sa, in_sa, out_next, standby_in = {}, {}, {}, {}
    for sa in cfg["sas"]:  # from the peer's point of view
        s = make_sa(sa, local if sa["direction"] == "out" else remote,
                    remote if sa["direction"] == "out" else local, cfg.get("esn", False), natt)
        if sa["direction"] == "out":
            (out_next if sa.get("standby") else out_sa)[sa["inner"]] = s
        else:
            in_sa[sa["spi"]] = s
            if sa.get("standby"):
                standby_in[sa["spi"]] = sa["inner"]
    # Per SPI received: the highest sequence number, and how many packets came
    # with a number at or below it (a sender reusing numbers, e.g. after a restart).
    stats = {"decrypted": 0, "encrypted": 0, "errors": {}, "spis_seen": [], "seq_max": {},
             "seq_back": {}}

    tun = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH", cfg["tun"].encode(), IFF_TUN | IFF_NO_PI))
    # Room for seconds of backlog when the machine is loaded: a slow peer
    # must delay packets, not drop them (tests count every loss).
    ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    fcntl.ioctl(ctl, SIOCSIFTXQLEN, struct.pack("16si", cfg["tun"].encode(), 10000))
    ctl.close()
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    if natt:
        rx = tx = socket.socket(fam, socket.SOCK_DGRAM)
        rx.bind((local, 4500))
    else:
        rx = socket.socket(fam, socket.SOCK_RAW, 50)
        tx = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_RAW)
    rx.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
    open(cfg["ready"], "w").write("ok")

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
        r, _, _ = select.select([tun, rx], [], [], 0.5)
        if tun in r:  # inner packet from our kernel: encrypt towards meshgate
            data = os.read(tun, 65535)
            inner = IP(data) if data[0] >> 4 == 4 else IPv6(data)
            sa = out_sa.get("ipv4" if data[0] >> 4 == 4 else "ipv6")
            if sa is not None:
                pkt = sa.encrypt(inner)
                if natt:
                    tx.sendto(raw(pkt[UDP].payload), (remote, 4500))
                else:
                    tx.sendto(raw(pkt), (remote, 0))
                stats["encrypted"] += 1
        if rx in r:  # ESP from meshgate: decrypt into our kernel
            data, _ = rx.recvfrom(65535)
            # IPv4 raw sockets give the IP header; IPv6 ones and UDP the payload only.
            hdr = IPv6(src=remote, dst=local) if v6 else IP(src=remote, dst=local)
            if natt:
                pkt = hdr / UDP(sport=4500, dport=4500) / ESP(data)
            else:
                pkt = IP(data) if not v6 else IPv6(src=remote, dst=local, nh=50) / ESP(data)
            esp = pkt[ESP]
            sa = in_sa.get(esp.spi)
            if sa is None:
                stats["errors"]["no-sa"] = stats["errors"].get("no-sa", 0) + 1
                continue
            if esp.spi not in stats["spis_seen"]:
                stats["spis_seen"].append(esp.spi)
            k = str(esp.spi)
            if esp.seq <= stats["seq_max"].get(k, 0):
                stats["seq_back"][k] = stats["seq_back"].get(k, 0) + 1
            stats["seq_max"][k] = max(esp.seq, stats["seq_max"].get(k, 0))
            try:
                inner = sa.decrypt(pkt)
            except Exception as e:  # noqa: BLE001 - count every refusal
                k = type(e).__name__
                stats["errors"][k] = stats["errors"].get(k, 0) + 1
                continue
            os.write(tun, raw(inner))
            stats["decrypted"] += 1
            fam = standby_in.pop(esp.spi, None)
            if fam is not None and fam in out_next:
                out_sa[fam] = out_next.pop(fam)
                stats["switched"] = stats.get("switched", 0) + 1
        if time.monotonic() - last > 1:
            dump()
            last = time.monotonic()


if __name__ == "__main__":
    main()
