#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write the benchmark's source pcap: 64-byte UDP frames over many flows.

  gen_pcap.py --kind v4|v6|mix --flows N --out FILE [--dst-mac MAC]
              [--v4-src NET --v4-dst NET --v6-src NET --v6-dst NET]

Every frame is 64 bytes as stored (no FCS in a pcap): Ethernet+IPv6+UDP
headers alone take 62 bytes, so 60-byte frames cannot carry IPv6, and both
families are padded with UDP payload to the same 64 bytes. The N flows of a
family differ in source and destination address and UDP ports, so a hash
or cache keyed on the 5-tuple sees N distinct keys. mix interleaves the
families packet by packet (v4, v6, v4, ...): the worst case for a graph
that splits each burst by family.

More than 4096 flows per family (the flowsN kinds: a flow table filled with
N distinct flows) are written without scapy, from a template frame with the
fields patched and the checksums computed here: scapy takes minutes for a
million frames. Sources and source ports then both vary (the ports alone
would run out), so every frame of a family is a distinct 5-tuple.
"""
import argparse
import ipaddress
import struct
import sys

from scapy.all import Ether, IP, IPv6, UDP, Raw, wrpcap  # noqa: E402

FRAME = 64  # bytes, without the 4-byte FCS that pcap files do not carry


def pad(pkt):
    n = FRAME - len(pkt)
    if n > 0:
        pkt = pkt / Raw(b"\x00" * n)
    return pkt


def v4_frames(a, n):
    src = ipaddress.ip_network(a.v4_src)
    dst = ipaddress.ip_network(a.v4_dst)
    out = []
    for i in range(n):
        s = src.network_address + 1 + (i % (src.num_addresses - 2))
        d = dst.network_address + 1 + ((i * 7) % (dst.num_addresses - 2))
        p = (Ether(src=a.src_mac, dst=a.dst_mac) /
             IP(src=str(s), dst=str(d), ttl=64) /
             UDP(sport=1024 + i, dport=5000 + (i % 64)))
        # Build once so scapy fills in the IPv4 checksum and lengths.
        out.append(Ether(bytes(pad(p))))
    return out


def v6_frames(a, n):
    src = ipaddress.ip_network(a.v6_src)
    dst = ipaddress.ip_network(a.v6_dst)
    out = []
    for i in range(n):
        s = src.network_address + 1 + i
        d = dst.network_address + 1 + ((i * 7919) % 65521)
        p = (Ether(src=a.src_mac, dst=a.dst_mac) /
             IPv6(src=str(s), dst=str(d), hlim=64) /
             UDP(sport=1024 + i, dport=5000 + (i % 64)))
        out.append(Ether(bytes(pad(p))))
    return out


def csum(data):
    """The Internet checksum of bytes of even length."""
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def mac_bytes(m):
    return bytes(int(x, 16) for x in m.split(":"))


def fast_frames(a, n, fam):
    """n frames of family fam (4 or 6), each a distinct 5-tuple, as bytes."""
    eth = mac_bytes(a.dst_mac) + mac_bytes(a.src_mac)
    out = []
    if fam == 4:
        src = ipaddress.ip_network(a.v4_src)
        dst = ipaddress.ip_network(a.v4_dst)
        s0, d0 = int(src.network_address), int(dst.network_address)
        ns, nd = src.num_addresses - 2, dst.num_addresses - 2
        ulen = FRAME - 14 - 20
        for i in range(n):
            s = s0 + 1 + (i % ns)
            d = d0 + 1 + ((i * 7) % nd)
            sp, dp = 1024 + (i % 64000), 5000 + (i % 64)
            ip = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + ulen, 0, 0, 64, 17, 0, s, d)
            ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
            pseudo = struct.pack("!IIBBH", s, d, 0, 17, ulen)
            udp = struct.pack("!HHHH", sp, dp, ulen, 0) + bytes(ulen - 8)
            ck = csum(pseudo + udp) or 0xffff
            out.append(eth + b"\x08\x00" + ip + udp[:6] + struct.pack("!H", ck) + udp[8:])
    else:
        src = ipaddress.ip_network(a.v6_src)
        dst = ipaddress.ip_network(a.v6_dst)
        s0, d0 = int(src.network_address), int(dst.network_address)
        ulen = FRAME - 14 - 40
        for i in range(n):
            s = (s0 + 1 + i).to_bytes(16, "big")
            d = (d0 + 1 + ((i * 7919) % 65521)).to_bytes(16, "big")
            sp, dp = 1024 + (i % 64000), 5000 + (i % 64)
            ip = struct.pack("!IHBB", 6 << 28, ulen, 17, 64) + s + d
            pseudo = s + d + struct.pack("!IxxxB", ulen, 17)
            udp = struct.pack("!HHHH", sp, dp, ulen, 0) + bytes(ulen - 8)
            ck = csum(pseudo + udp) or 0xffff
            out.append(eth + b"\x86\xdd" + ip + udp[:6] + struct.pack("!H", ck) + udp[8:])
    return out


def write_raw_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for fr in frames:
            f.write(struct.pack("<IIII", 0, 0, len(fr), len(fr)))
            f.write(fr)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", choices=["v4", "v6", "mix"], required=True)
    ap.add_argument("--flows", type=int, default=256,
                    help="distinct 5-tuples per address family")
    ap.add_argument("--dst-mac", default="02:00:00:00:00:01")
    ap.add_argument("--src-mac", default="02:00:00:00:01:01")
    ap.add_argument("--v4-src", default="192.168.0.0/24")
    ap.add_argument("--v4-dst", default="198.18.1.0/24")
    ap.add_argument("--v6-src", default="fd00::/64")
    ap.add_argument("--v6-dst", default="2001:db8:1::/64")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    if a.flows > 4096:
        v4 = fast_frames(a, a.flows, 4) if a.kind != "v6" else []
        v6 = fast_frames(a, a.flows, 6) if a.kind != "v4" else []
        pkts = [p for pair in zip(v4, v6) for p in pair] if a.kind == "mix" else v4 + v6
        if any(len(p) != FRAME for p in pkts):
            sys.exit("gen_pcap: built a frame that is not %d bytes" % FRAME)
        write_raw_pcap(a.out, pkts)
        print("gen_pcap: %d %s frames of %d bytes -> %s" % (len(pkts), a.kind, FRAME, a.out))
        return
    if a.kind == "v4":
        pkts = v4_frames(a, a.flows)
    elif a.kind == "v6":
        pkts = v6_frames(a, a.flows)
    else:
        # Interleave the families so that every burst is mixed.
        v4, v6 = v4_frames(a, a.flows), v6_frames(a, a.flows)
        pkts = [p for pair in zip(v4, v6) for p in pair]
    for p in pkts:
        if len(p) != FRAME:
            sys.exit("gen_pcap: built a %d-byte frame, expected %d" % (len(p), FRAME))
    wrpcap(a.out, pkts)
    print("gen_pcap: %d %s frames of %d bytes -> %s" % (len(pkts), a.kind, FRAME, a.out))


if __name__ == "__main__":
    main()
