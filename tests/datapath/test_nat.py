# SPDX-License-Identifier: BSD-3-Clause
"""NAT on net_pcap (lib/natgw): services in nat mode (destination rewritten
to the endpoint and its port, replies and ICMP errors translated back) and
dual-homed gateways (source NAT with port blocks, NAT66, NPTv6, published
services), IPv4 and IPv6. Every checksum of what leaves is recomputed by
scapy and must equal what meshgate wrote.

Replies must reach meshgate after the packets that created their flows: the
reply side's pcap starts with filler frames (an EtherType meshgate drops,
counted as unknown-ethertype), so the worker has taken in every forward
packet before it reads the first reply (each walk reads at most one burst
per queue)."""
from scapy.all import (ICMP, IP, TCP, UDP, Ether, ICMPv6DestUnreach, ICMPv6EchoReply,
                       ICMPv6EchoRequest, IPv6, Raw, raw)
from scapy.layers.inet import IPerror, UDPerror
from scapy.layers.inet6 import IPerror6
from scapy.layers.sctp import SCTP, SCTPChunkData

from pcapdp import GW_MAC, HOST_MAC, config, nonzero_drops, run


def a2gw(l3):
    return Ether(src=HOST_MAC["a"], dst=GW_MAC["a"]) / l3


def b2gw(l3):
    return Ether(src=HOST_MAC["b"], dst=GW_MAC["b"]) / l3


def fillers(n):
    return [Ether(src=HOST_MAC["b"], dst=GW_MAC["b"], type=0x88b5) / Raw(b"f" * 46)
            for _ in range(n)]


def l4_of(p):
    l3 = p[IP] if IP in p else p[IPv6]
    return l3.payload


def csum_ok(p):
    """scapy recomputes the IPv4 header and the L4 checksum: same bytes."""
    q = Ether(raw(p))
    if IP in q:
        del q[IP].chksum
    l4 = l4_of(q)
    for f in ("chksum", "cksum"):
        if f in l4.fields:
            delattr(l4, f)
    return raw(Ether(raw(q))) == raw(p)


def ip4_hdr_ok(ip):
    """An IPv4 header (e.g. a quoted one) whose checksum verifies."""
    h = raw(ip)[:ip.ihl * 4]
    s = sum(int.from_bytes(h[i:i + 2], "big") for i in range(0, len(h), 2))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s == 0xffff


def others(st, allowed=("unknown-ethertype",)):
    return {k: v for k, v in nonzero_drops(st).items() if k not in allowed}


SVC = """
services:
  - name: web4
    vips: [10.0.9.1]
    mode: nat
    endpoints:
      - {name: e1, address: 10.0.2.2, port: 8080}
  - name: web6
    vips: ["fd00:9::1"]
    mode: nat
    endpoints:
      - {name: e1, address: "fd00:2::2", port: 8080}
"""


def test_service_nat_both_ways_v4(tmp_path):
    fwd = [
        a2gw(IP(src="10.0.1.2", dst="10.0.9.1", ttl=30) / TCP(sport=40000, dport=80, flags="S")),
        a2gw(IP(src="10.0.1.2", dst="10.0.9.1", ttl=30) / UDP(sport=5000, dport=53) / Raw(b"q" * 11)),
        a2gw(IP(src="10.0.1.2", dst="10.0.9.1", ttl=30) / UDP(sport=5001, dport=53) / Raw(b"r" * 7)),
        a2gw(IP(src="10.0.1.2", dst="10.0.9.1", ttl=30) / ICMP(type=8, id=77, seq=1) / Raw(b"p" * 8)),
        a2gw(IP(src="10.0.1.2", dst="10.0.9.1", ttl=30) / SCTP(sport=3000, dport=2905, tag=9) /
             SCTPChunkData(tsn=1, data=b"m3ua")),
    ]
    # What the endpoint answers, as it saw the flows (its own address and port).
    quoted = IP(src="10.0.1.2", dst="10.0.2.2", ttl=29) / UDP(sport=5001, dport=8080) / Raw(b"r" * 7)
    replies = [
        b2gw(IP(src="10.0.2.2", dst="10.0.1.2") / TCP(sport=8080, dport=40000, flags="SA")),
        b2gw(IP(src="10.0.2.2", dst="10.0.1.2") / UDP(sport=8080, dport=5000) / Raw(b"a" * 5)),
        b2gw(IP(src="10.0.2.2", dst="10.0.1.2") / ICMP(type=0, id=77, seq=1) / Raw(b"p" * 8)),
        b2gw(IP(src="10.0.2.2", dst="10.0.1.2") / ICMP(type=3, code=3) / raw(quoted)),
        b2gw(IP(src="10.0.2.2", dst="10.0.1.2") / SCTP(sport=8080, dport=3000, tag=9) /
             SCTPChunkData(tsn=1, data=b"ok")),
        # Not a reply of any flow: routed as it is.
        b2gw(IP(src="10.0.2.2", dst="10.0.1.2") / UDP(sport=9999, dport=1) / Raw(b"x")),
    ]
    out_a, out_b, st = run(tmp_path, config(tmp_path, extra=SVC), a=fwd,
                           b=fillers(96) + replies, settle=2.0)
    assert len(out_b) == len(fwd), out_b
    for s, g in zip(fwd, out_b):
        assert g[Ether].dst == HOST_MAC["b"]
        assert (g[IP].src, g[IP].dst, g[IP].ttl) == ("10.0.1.2", "10.0.2.2", 29)
        assert csum_ok(g), g.show(dump=True)
    assert [g[TCP].dport for g in out_b if TCP in g] == [8080]
    assert [g[UDP].dport for g in out_b if UDP in g] == [8080, 8080]
    assert [g[ICMP].id for g in out_b if ICMP in g] == [77]
    sc = [g for g in out_b if SCTP in g][0]
    assert sc[SCTP].dport == 8080 and sc[SCTP].sport == 3000
    sc2 = sc.copy()
    del sc2[SCTP].chksum
    assert SCTP(raw(sc2[SCTP])).chksum == sc[SCTP].chksum  # CRC32c recomputed

    assert len(out_a) == len(replies), out_a
    by = {}
    for g in out_a:
        assert csum_ok(g), g.show(dump=True)
        assert g[IP].dst == "10.0.1.2"
        key = (g[IP].proto, g[ICMP].type if ICMP in g else l4_of(g).sport)
        by[key] = g
    assert by[(6, 80)][IP].src == "10.0.9.1"
    assert by[(17, 53)][IP].src == "10.0.9.1" and by[(17, 53)][UDP].dport == 5000
    assert by[(1, 0)][IP].src == "10.0.9.1" and by[(1, 0)][ICMP].id == 77
    assert by[(132, 2905)][IP].src == "10.0.9.1"
    scr = by[(132, 2905)].copy()
    del scr[SCTP].chksum
    assert SCTP(raw(scr[SCTP])).chksum == by[(132, 2905)][SCTP].chksum
    assert by[(17, 9999)][IP].src == "10.0.2.2"  # untranslated
    err = by[(1, 3)]
    # The endpoint sent it: it comes from the VIP, about the flow as the client sent it.
    assert err[IP].src == "10.0.9.1"
    assert err[IPerror].src == "10.0.1.2" and err[IPerror].dst == "10.0.9.1"
    assert err[UDPerror].sport == 5001 and err[UDPerror].dport == 53
    assert ip4_hdr_ok(err[IPerror])
    q = IP(raw(err[IPerror]))
    del q[UDP].chksum
    assert IP(raw(q))[UDP].chksum == err[UDPerror].chksum  # the quoted UDP checksum, patched
    assert others(st) == {}, st["drops"]


def test_service_nat_both_ways_v6(tmp_path):
    fwd = [
        a2gw(IPv6(src="fd00:1::2", dst="fd00:9::1", hlim=30) / TCP(sport=40000, dport=80, flags="S")),
        a2gw(IPv6(src="fd00:1::2", dst="fd00:9::1", hlim=30) / UDP(sport=5001, dport=53) / Raw(b"r" * 7)),
        a2gw(IPv6(src="fd00:1::2", dst="fd00:9::1", hlim=30) / ICMPv6EchoRequest(id=78, seq=1)),
    ]
    quoted = IPv6(src="fd00:1::2", dst="fd00:2::2", hlim=29) / UDP(sport=5001, dport=8080) / Raw(b"r" * 7)
    replies = [
        b2gw(IPv6(src="fd00:2::2", dst="fd00:1::2") / TCP(sport=8080, dport=40000, flags="SA")),
        b2gw(IPv6(src="fd00:2::2", dst="fd00:1::2") / ICMPv6EchoReply(id=78, seq=1)),
        b2gw(IPv6(src="fd00:2::2", dst="fd00:1::2") / ICMPv6DestUnreach(code=4) / raw(quoted)),
    ]
    out_a, out_b, st = run(tmp_path, config(tmp_path, extra=SVC), a=fwd,
                           b=fillers(96) + replies, settle=2.0)
    assert len(out_b) == 3
    for g in out_b:
        assert (g[IPv6].src, g[IPv6].dst, g[IPv6].hlim) == ("fd00:1::2", "fd00:2::2", 29)
        assert csum_ok(g), g.show(dump=True)
    assert out_b[0][TCP].dport == 8080 and out_b[1][UDP].dport == 8080
    assert out_b[2][ICMPv6EchoRequest].id == 78
    assert len(out_a) == 3
    for g in out_a:
        assert g[IPv6].src == "fd00:9::1" and g[IPv6].dst == "fd00:1::2"
        assert csum_ok(g), g.show(dump=True)
    tcp = [g for g in out_a if TCP in g][0]
    assert tcp[TCP].sport == 80 and tcp[TCP].dport == 40000
    err = [g for g in out_a if ICMPv6DestUnreach in g][0]
    assert err[IPerror6].src == "fd00:1::2" and err[IPerror6].dst == "fd00:9::1"
    assert err[UDPerror].dport == 53
    assert others(st) == {}, st["drops"]
