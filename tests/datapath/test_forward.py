# SPDX-License-Identifier: BSD-3-Clause
"""IPv4 and IPv6 forwarding on net_pcap: TTL/hop limit, checksums, MACs,
static routes, both directions, padding, order."""
from scapy.all import ICMP, IP, TCP, UDP, Ether, ICMPv6EchoRequest, IPv6, Raw, raw

from pcapdp import GW_MAC, HOST_MAC, config, nonzero_drops, run


def a2gw(l3):
    return Ether(src=HOST_MAC["a"], dst=GW_MAC["a"]) / l3


def b2gw(l3):
    return Ether(src=HOST_MAC["b"], dst=GW_MAC["b"]) / l3


def recomputed_ip4_cksum(ip):
    c = ip.copy()
    del c.chksum
    return IP(raw(c)).chksum


def test_ipv4_forward_rewrites_ttl_checksum_and_macs(tmp_path):
    sent = a2gw(IP(src="10.0.1.2", dst="10.0.2.2", ttl=17) / UDP(sport=1234, dport=80) /
                Raw(b"x" * 32))
    out_a, out_b, st = run(tmp_path, config(tmp_path), a=[sent])
    assert out_a == []
    assert len(out_b) == 1
    got = out_b[0]
    assert got[Ether].src == GW_MAC["b"] and got[Ether].dst == HOST_MAC["b"]
    assert got[IP].ttl == 16
    assert got[IP].chksum == recomputed_ip4_cksum(got[IP])
    assert raw(got[UDP]) == raw(sent[UDP])
    assert (got[IP].src, got[IP].dst, got[IP].id) == ("10.0.1.2", "10.0.2.2", sent[IP].id)
    assert st["ports"]["a"]["rx_packets"] == 1 and st["ports"]["b"]["tx_packets"] == 1
    assert nonzero_drops(st) == {}


def test_ipv4_static_route_via_next_hop(tmp_path):
    sent = a2gw(IP(src="10.0.1.2", dst="198.51.100.77") / TCP(sport=4000, dport=22, flags="S"))
    _, out_b, st = run(tmp_path, config(tmp_path), a=[sent])
    assert len(out_b) == 1
    assert out_b[0][Ether].dst == HOST_MAC["b"]
    assert out_b[0][IP].ttl == sent[IP].ttl - 1
    assert raw(out_b[0][TCP]) == raw(IP(raw(sent[IP]))[TCP])


def test_ipv6_forward_hop_limit_and_macs(tmp_path):
    sent = a2gw(IPv6(src="fd00:1::2", dst="fd00:2::2", hlim=9) / UDP(sport=5, dport=6) /
                Raw(b"hello"))
    route = a2gw(IPv6(src="fd00:1::2", dst="2001:db8:100::42", hlim=64) /
                 ICMPv6EchoRequest(id=7, seq=1))
    _, out_b, st = run(tmp_path, config(tmp_path), a=[sent, route])
    assert len(out_b) == 2
    assert out_b[0][IPv6].hlim == 8
    assert out_b[0][Ether].src == GW_MAC["b"] and out_b[0][Ether].dst == HOST_MAC["b"]
    assert raw(out_b[0][UDP]) == raw(sent[UDP])
    assert out_b[1][IPv6].dst == "2001:db8:100::42" and out_b[1][IPv6].hlim == 63
    assert nonzero_drops(st) == {}


def test_both_directions(tmp_path):
    fwd = a2gw(IP(src="10.0.1.2", dst="10.0.2.2") / ICMP())
    back = b2gw(IP(src="10.0.2.2", dst="10.0.1.2") / ICMP(type=0))
    back6 = b2gw(IPv6(src="fd00:2::2", dst="fd00:1::2") / UDP())
    out_a, out_b, _ = run(tmp_path, config(tmp_path), a=[fwd], b=[back, back6])
    assert len(out_b) == 1 and out_b[0][IP].dst == "10.0.2.2"
    assert len(out_a) == 2
    assert {p[Ether].dst for p in out_a} == {HOST_MAC["a"]}
    assert out_a[0][IP].dst == "10.0.1.2" and out_a[1][IPv6].dst == "fd00:1::2"


def test_ethernet_padding_is_trimmed(tmp_path):
    sent = a2gw(IP(src="10.0.1.2", dst="10.0.2.2") / UDP(sport=1, dport=2))
    padded = Ether(raw(sent) + b"\0" * (60 - len(raw(sent))))
    _, out_b, _ = run(tmp_path, config(tmp_path), a=[padded])
    assert len(out_b) == 1
    assert len(raw(out_b[0])) == 14 + 28


def test_many_flows_keep_their_order(tmp_path):
    """Each family keeps its order; the two families take separate graph paths,
    so their interleaving within a burst may change (as in any vector router)."""
    pkts = []
    for i in range(300):
        if i % 2:
            pkts.append(a2gw(IP(src="10.0.1.2", dst=f"198.51.100.{i % 250 + 1}") /
                             UDP(sport=1000 + i, dport=53) / Raw(bytes([i % 256]) * 20)))
        else:
            pkts.append(a2gw(IPv6(src="fd00:1::2", dst=f"2001:db8:100::{i:x}") /
                             UDP(sport=1000 + i, dport=53) / Raw(bytes([i % 256]) * 20)))
    _, out_b, st = run(tmp_path, config(tmp_path), a=pkts)
    assert len(out_b) == 300
    v4 = [p[UDP].sport for p in out_b if IP in p]
    v6 = [p[UDP].sport for p in out_b if IPv6 in p]
    assert v4 == [1000 + i for i in range(300) if i % 2]
    assert v6 == [1000 + i for i in range(300) if not i % 2]
    assert st["nodes"]["ip4-lookup"]["packets"] == 150
    assert st["nodes"]["ip6-lookup"]["packets"] == 150
    assert nonzero_drops(st) == {}
