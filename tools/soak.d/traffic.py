#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""tools/soak's traffic: stable UDP flows sent on one interface at a steady
rate, received on others, every packet numbered so that a lost, duplicated
or corrupted one is seen. Raw AF_PACKET sockets (no scapy on the hot path).

  traffic.py --send IFACE --dst-mac MAC --recv IFACE[,IFACE] --rate PPS
             --flows JSON --stop-file PATH --out FILE

Flows: a JSON list of {"name", "src", "dst", "sport", "dport"}. Sends until
PATH exists, then waits 2 s for stragglers and writes JSON: per flow the
packets sent, received, missing (sequence numbers never seen), duplicates.
"""
import argparse
import json
import os
import select
import socket
import struct
import threading
import time

MAGIC = b"SOAK"
ETH_P_ALL = 0x0003


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(dst_mac, src_mac, f, fid):
    """Ethernet + IPv4 + UDP with a 12-byte payload MAGIC|flow|seq (seq patched per packet;
    UDP checksum 0, so the IPv4 header stays valid)."""
    payload = MAGIC + struct.pack("!HHI", fid, 0, 0)
    udp = struct.pack("!HHHH", f["sport"], f["dport"], 8 + len(payload), 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp) + len(payload), 0, 0, 64, 17, 0,
                     socket.inet_aton(f["src"]), socket.inet_aton(f["dst"]))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    eth = bytes.fromhex(dst_mac.replace(":", "")) + bytes.fromhex(src_mac.replace(":", "")) + \
        b"\x08\x00"
    return bytearray(eth + ip + udp + payload)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--send", required=True)
    ap.add_argument("--dst-mac", required=True)
    ap.add_argument("--recv", required=True)
    ap.add_argument("--rate", type=int, default=2000)
    ap.add_argument("--flows", required=True)
    ap.add_argument("--stop-file", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    flows = json.loads(a.flows)
    tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    tx.bind((a.send, 0))
    src_mac = open(f"/sys/class/net/{a.send}/address").read().strip()
    frames = [frame(a.dst_mac, src_mac, f, i) for i, f in enumerate(flows)]
    off = 14 + 20 + 8 + len(MAGIC) + 4
    rx = []
    for ifc in a.recv.split(","):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((ifc, 0))
        # FORCE: above net.core.rmem_max (root); seconds of traffic if this process is starved.
        s.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 32 << 20)
        rx.append(s)
    sent = [0] * len(flows)
    seen = [bytearray() for _ in flows]
    dups = [0] * len(flows)
    bad = [0]
    stop_rx = threading.Event()

    def receive():
        while not stop_rx.is_set():
            r, _, _ = select.select(rx, [], [], 0.2)
            for s in r:
                try:
                    while True:
                        d = s.recv(2048, socket.MSG_DONTWAIT)
                        if len(d) < off + 4 or d[12:14] != b"\x08\x00" or d[23] != 17 or \
                                d[42:46] != MAGIC:
                            continue
                        fid = struct.unpack_from("!H", d, 46)[0]
                        seq = struct.unpack_from("!I", d, off)[0]
                        if fid >= len(flows):
                            bad[0] += 1
                            continue
                        bm = seen[fid]
                        if seq // 8 >= len(bm):
                            bm.extend(b"\0" * (seq // 8 + 1 - len(bm) + 4096))
                        if bm[seq // 8] & (1 << (seq % 8)):
                            dups[fid] += 1
                        bm[seq // 8] |= 1 << (seq % 8)
                except BlockingIOError:
                    pass

    t = threading.Thread(target=receive, daemon=True)
    t.start()
    # Steady rate: a burst every 10 ms, flows in turn.
    per_tick = max(1, a.rate // 100)
    nxt = time.monotonic()
    i = 0
    while not os.path.exists(a.stop_file):
        for _ in range(per_tick):
            fid = i % len(flows)
            fr = frames[fid]
            struct.pack_into("!I", fr, off, sent[fid])
            tx.send(fr)
            sent[fid] += 1
            i += 1
        nxt += 0.01
        d = nxt - time.monotonic()
        if d > 0:
            time.sleep(d)
        elif d < -1:
            nxt = time.monotonic()   # fell behind (a busy machine): no catch-up burst
    time.sleep(2)
    stop_rx.set()
    t.join()
    out = {"flows": {}, "foreign": bad[0]}
    for fid, f in enumerate(flows):
        bm = seen[fid]
        got = sum(bin(b).count("1") for b in bm)
        missing = [s for s in range(sent[fid]) if not (s // 8 < len(bm) and bm[s // 8] & (1 << (s % 8)))]
        out["flows"][f["name"]] = {"sent": sent[fid], "received": got, "missing": len(missing),
                                   "first_missing": missing[:10], "duplicates": dups[fid]}
    with open(a.out, "w") as fo:
        json.dump(out, fo, indent=1)


if __name__ == "__main__":
    main()
