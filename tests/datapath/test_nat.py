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
import json

from scapy.all import (ICMP, IP, TCP, UDP, Ether, ICMPv6DestUnreach, ICMPv6EchoReply,
                       ICMPv6EchoRequest, ICMPv6PacketTooBig, IPv6, IPv6ExtHdrFragment, Raw,
                       raw)
from scapy.layers.inet import IPerror, TCPerror, UDPerror
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
    # The client refuses the UDP reply it got (from the VIP): an error the other way.
    got_reply = IP(src="10.0.9.1", dst="10.0.1.2", ttl=63) / UDP(sport=53, dport=5000) / Raw(b"a" * 5)
    client_err = a2gw(IP(src="10.0.1.2", dst="10.0.9.1") / ICMP(type=3, code=3) / raw(got_reply))
    out_a, out_b, st = run(tmp_path, config(tmp_path, extra=SVC), a=fwd + a_fillers(320) + [client_err],
                           b=fillers(96) + replies, settle=2.0)
    cerr = [g for g in out_b if ICMP in g and g[ICMP].type == 3]
    assert len(cerr) == 1, out_b
    cerr = cerr[0]
    # To the endpoint, from the client, about the reply as the endpoint sent it.
    assert (cerr[IP].src, cerr[IP].dst) == ("10.0.1.2", "10.0.2.2") and csum_ok(cerr)
    assert (cerr[IPerror].src, cerr[UDPerror].sport) == ("10.0.2.2", 8080)
    assert (cerr[IPerror].dst, cerr[UDPerror].dport) == ("10.0.1.2", 5000)
    assert ip4_hdr_ok(cerr[IPerror])
    out_b = [g for g in out_b if g is not cerr]
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


# ---- dual-homed gateway: port a in network "pods" (inside), port b in "default" (outside) ----

GW = """
gateways:
  - name: edge
    inside: pods
    outside: default
    routes: [0.0.0.0/0, "::/0"]
    sources: [10.0.1.2/32, "fd00:1::/64"]
    ports: "20000-20999"
    port_preserve: true
{v6}
    publish:
      - {{address: 10.0.2.1, protocol: tcp, port: 8080, service: web4}}
      - {{address: "fd00:2::1", protocol: tcp, port: 8080, service: web6}}
services:
  - name: web4
    network: pods
    vips: [10.0.1.100]
    mode: nat
    endpoints: [{{name: p1, address: 10.0.1.2, port: 80}}]
  - name: web6
    network: pods
    vips: ["fd00:1::100"]
    mode: nat
    endpoints: [{{name: p1, address: "fd00:1::2", port: 80}}]
"""


def gw_cfg(tmp_path, v6=""):
    return config(tmp_path, networks="  - {name: pods}", a_extra="    network: pods",
                  extra=GW.format(v6=v6) + history(tmp_path))


def history(tmp_path):
    return f"flow_history:\n  size: 100\n  export: {{file: {tmp_path}/flows.jsonl}}\n"


def history_lines(tmp_path):
    return [json.loads(x) for x in (tmp_path / "flows.jsonl").read_text().splitlines()]


def a_fillers(n):
    return [Ether(src=HOST_MAC["a"], dst=GW_MAC["a"], type=0x88b5) / Raw(b"f" * 46)
            for _ in range(n)]


def test_gateway_snat_and_published_service_v4(tmp_path):
    out4 = [
        a2gw(IP(src="10.0.1.2", dst="198.51.100.7", ttl=30) / TCP(sport=20001, dport=443, flags="S")),
        a2gw(IP(src="10.0.1.2", dst="198.51.100.7", ttl=30) / UDP(sport=20002, dport=53) / Raw(b"q" * 9)),
        a2gw(IP(src="10.0.1.2", dst="198.51.100.7", ttl=30) / ICMP(type=8, id=20003, seq=1) / Raw(b"p" * 8)),
        # A source port outside the range: a port of the block is chosen.
        a2gw(IP(src="10.0.1.2", dst="198.51.100.7", ttl=30) / UDP(sport=80, dport=53) / Raw(b"z")),
        # Not in the gateway's sources.
        a2gw(IP(src="10.0.1.3", dst="198.51.100.7", ttl=30) / UDP(sport=20004, dport=53)),
        # Expires at the gateway: time exceeded about the packet as the pod sent it.
        a2gw(IP(src="10.0.1.2", dst="198.51.100.7", ttl=1) / UDP(sport=20005, dport=33434)),
        # A SYN to a host that is not there: a router says so (below).
        a2gw(IP(src="10.0.1.2", dst="198.51.100.8", ttl=30) / TCP(sport=20006, dport=443, flags="S")),
    ]
    syn8 = IP(src="10.0.2.1", dst="198.51.100.8", ttl=28) / TCP(sport=20006, dport=443, flags="S")
    translated = IP(src="10.0.2.1", dst="198.51.100.7", ttl=28) / UDP(sport=20002, dport=53) / Raw(b"q" * 9)
    from_b = [
        b2gw(IP(src="198.51.100.7", dst="10.0.2.1") / TCP(sport=443, dport=20001, flags="SA")),
        b2gw(IP(src="198.51.100.7", dst="10.0.2.1") / UDP(sport=53, dport=20002) / Raw(b"a" * 3)),
        b2gw(IP(src="198.51.100.7", dst="10.0.2.1") / ICMP(type=0, id=20003, seq=1) / Raw(b"p" * 8)),
        # A router on the way: fragmentation needed, about the translated UDP flow.
        b2gw(IP(src="10.0.2.2", dst="10.0.2.1") / ICMP(type=3, code=4, nexthopmtu=1400) / raw(translated)),
        # A client of the published service.
        b2gw(IP(src="198.51.100.9", dst="10.0.2.1", ttl=50) / TCP(sport=5555, dport=8080, flags="S")),
        # Host unreachable about the SYN to .8: translated, but it neither counts as a
        # reply nor refreshes (or moves out of its opening timeout) the session (RFC 5508).
        b2gw(IP(src="10.0.2.2", dst="10.0.2.1") / ICMP(type=3, code=1) / raw(syn8)),
    ]
    # The pod answers the published service's client (after the client's SYN went in).
    pod_reply = a2gw(IP(src="10.0.1.2", dst="198.51.100.9", ttl=64) / TCP(sport=80, dport=5555, flags="SA"))
    out_a, out_b, st = run(tmp_path, gw_cfg(tmp_path), a=out4 + a_fillers(320) + [pod_reply],
                           b=fillers(96) + from_b, settle=2.5)

    snat = [g for g in out_b if g[IP].dst == "198.51.100.7"]
    assert len(snat) == 4, out_b
    assert len([g for g in out_b if g[IP].dst == "198.51.100.8"]) == 1
    for g in snat:
        assert g[IP].src == "10.0.2.1" and g[Ether].dst == HOST_MAC["b"] and g[IP].ttl == 29
        assert csum_ok(g), g.show(dump=True)
    assert snat[0][TCP].sport == 20001 and snat[1][UDP].sport == 20002
    assert snat[2][ICMP].id == 20003
    assert 20000 <= snat[3][UDP].sport <= 20999 and snat[3][UDP].sport not in (20001, 20002, 20003)
    pub = [g for g in out_b if g[IP].dst == "198.51.100.9"]
    assert len(pub) == 1
    assert (pub[0][IP].src, pub[0][TCP].sport, pub[0][TCP].dport) == ("10.0.2.1", 8080, 5555)
    assert csum_ok(pub[0])

    assert len(out_a) == 7, out_a
    for g in out_a:
        assert g[IP].dst == "10.0.1.2" and g[Ether].dst == HOST_MAC["a"]
        assert csum_ok(g), g.show(dump=True)
    tx = [g for g in out_a if ICMP in g and g[ICMP].type == 11][0]
    assert tx[IP].src == "10.0.1.1" and tx[IPerror].src == "10.0.1.2"
    assert tx[UDPerror].sport == 20005
    tcp = [g for g in out_a if TCP in g and g[TCP].sport == 443][0]
    assert (tcp[IP].src, tcp[TCP].dport) == ("198.51.100.7", 20001)
    udp = [g for g in out_a if UDP in g and ICMP not in g][0]
    assert (udp[IP].src, udp[UDP].sport, udp[UDP].dport) == ("198.51.100.7", 53, 20002)
    echo = [g for g in out_a if ICMP in g and g[ICMP].type == 0][0]
    assert echo[IP].src == "198.51.100.7" and echo[ICMP].id == 20003
    err = [g for g in out_a if ICMP in g and g[ICMP].type == 3 and g[ICMP].code == 4][0]
    assert err[IP].src == "10.0.2.2"  # the router's own address stays
    assert (err[IPerror].src, err[IPerror].dst) == ("10.0.1.2", "198.51.100.7")
    assert err[UDPerror].sport == 20002 and ip4_hdr_ok(err[IPerror])
    q = IP(raw(err[IPerror]))
    del q[UDP].chksum
    assert IP(raw(q))[UDP].chksum == err[UDPerror].chksum
    syn = [g for g in out_a if TCP in g and g[TCP].dport == 80][0]
    assert (syn[IP].src, syn[TCP].sport) == ("198.51.100.9", 5555)
    assert others(st) == {"nat-source-not-allowed": 1, "ip4-ttl-expired": 1}, st["drops"]
    # The flows still active at exit went to the history: the published one is its
    # service's, through the gateway, with no source NAT.
    unreach = [g for g in out_a if ICMP in g and g[ICMP].type == 3 and g[ICMP].code == 1][0]
    assert (unreach[IPerror].src, unreach[TCPerror].sport) == ("10.0.1.2", 20006)
    lines = history_lines(tmp_path)
    byport = {x.get("sport", x.get("icmp_id")): x for x in lines}
    assert len(lines) == 6 and set(byport) == {20001, 20002, 20003, 20006, 80, 5555}, lines
    # ICMP errors are translated but not counted on their sessions (RFC 5508).
    assert (byport[20006]["packets"], byport[20006]["reply_packets"]) == (1, 0)
    assert (byport[20002]["packets"], byport[20002]["reply_packets"]) == (1, 1)
    p = byport[5555]
    assert (p["source"], p["service"], p["endpoint"], p["gateway"]) == ("service", "web4", "p1", "edge")
    assert "nat_address" not in p and (p["packets"], p["reply_packets"]) == (1, 1)
    s = byport[80]
    assert (s["source"], s["gateway"], s["nat_address"]) == ("gateway", "edge", "10.0.2.1")
    assert s["nat_port"] == snat[3][UDP].sport and "service" not in s


def test_gateway_nat66_and_published_service_v6(tmp_path):
    out6 = [
        a2gw(IPv6(src="fd00:1::2", dst="2001:db8:100::7", hlim=30) / TCP(sport=20001, dport=443, flags="S")),
        a2gw(IPv6(src="fd00:1::2", dst="2001:db8:100::7", hlim=30) / ICMPv6EchoRequest(id=20003, seq=1)),
        a2gw(IPv6(src="fd00:1::2", dst="2001:db8:100::7", hlim=30) / UDP(sport=20002, dport=53) / Raw(b"q" * 9)),
    ]
    translated = IPv6(src="fd00:2::1", dst="2001:db8:100::7", hlim=28) / UDP(sport=20002, dport=53) / Raw(b"q" * 9)
    from_b = [
        b2gw(IPv6(src="2001:db8:100::7", dst="fd00:2::1") / TCP(sport=443, dport=20001, flags="SA")),
        b2gw(IPv6(src="2001:db8:100::7", dst="fd00:2::1") / ICMPv6EchoReply(id=20003, seq=1)),
        b2gw(IPv6(src="2001:db8:100::7", dst="fd00:2::1") / ICMPv6DestUnreach(code=4) / raw(translated)),
        b2gw(IPv6(src="2001:db8:100::9", dst="fd00:2::1", hlim=50) / TCP(sport=5555, dport=8080, flags="S")),
    ]
    pod_reply = a2gw(IPv6(src="fd00:1::2", dst="2001:db8:100::9") / TCP(sport=80, dport=5555, flags="SA"))
    out_a, out_b, st = run(tmp_path, gw_cfg(tmp_path), a=out6 + a_fillers(320) + [pod_reply],
                           b=fillers(96) + from_b, settle=2.5)
    # (the hosts' ND and the gateway's own chatter are not in these pcaps: static neighbors)
    snat = [g for g in out_b if IPv6 in g and g[IPv6].dst == "2001:db8:100::7"]
    assert len(snat) == 3, out_b
    for g in snat:
        assert g[IPv6].src == "fd00:2::1" and g[IPv6].hlim == 29
        assert csum_ok(g), g.show(dump=True)
    assert snat[0][TCP].sport == 20001 and snat[1][ICMPv6EchoRequest].id == 20003
    pub = [g for g in out_b if IPv6 in g and g[IPv6].dst == "2001:db8:100::9"]
    assert len(pub) == 1 and pub[0][IPv6].src == "fd00:2::1" and pub[0][TCP].sport == 8080
    assert csum_ok(pub[0])
    assert len(out_a) == 4, out_a
    for g in out_a:
        assert g[IPv6].dst == "fd00:1::2"
        assert csum_ok(g), g.show(dump=True)
    err = [g for g in out_a if ICMPv6DestUnreach in g][0]
    # The peer itself reported it: its address stays, the quote is the pod's packet again.
    assert err[IPv6].src == "2001:db8:100::7"
    assert err[IPerror6].src == "fd00:1::2" and err[UDPerror].sport == 20002
    syn = [g for g in out_a if TCP in g and g[TCP].dport == 80][0]
    assert syn[IPv6].src == "2001:db8:100::9" and syn[TCP].sport == 5555
    assert others(st) == {}, st["drops"]


def test_gateway_flows_in_history_without_services(tmp_path):
    """A gateway and no service: its source NAT flows reach the flow history all
    the same (the flow tables' export ring does not depend on which came first)."""
    gw = """gateways:
  - name: edge
    inside: pods
    outside: default
    routes: [0.0.0.0/0, "::/0"]
    ports: "30000-30999"
"""
    cfg = config(tmp_path, networks="  - {name: pods}", a_extra="    network: pods",
                 extra=gw + history(tmp_path))
    out = [
        a2gw(IP(src="10.0.1.2", dst="198.51.100.7") / UDP(sport=5353, dport=53) / Raw(b"q")),
        a2gw(IPv6(src="fd00:1::2", dst="2001:db8:100::7") / TCP(sport=4000, dport=443, flags="S")),
    ]
    out_a, out_b, st = run(tmp_path, cfg, a=out)
    assert len(out_b) == 2, out_b
    sport4 = out_b[0][UDP].sport if UDP in out_b[0] else out_b[1][UDP].sport
    assert 30000 <= sport4 <= 30999
    lines = history_lines(tmp_path)
    by = {x["family"]: x for x in lines}
    assert len(lines) == 2 and set(by) == {4, 6}, lines
    u = by[4]
    assert (u["source"], u["gateway"], u["network"], u["end"]) == ("gateway", "edge", "pods", "flush")
    assert (u["src"], u["sport"], u["dst"], u["dport"]) == ("10.0.1.2", 5353, "198.51.100.7", 53)
    assert (u["nat_address"], u["nat_port"], u["packets"]) == ("10.0.2.1", sport4, 1)
    t = by[6]
    assert (t["source"], t["gateway"], t["nat_address"]) == ("gateway", "edge", "fd00:2::1")
    assert 30000 <= t["nat_port"] <= 30999 and t["protocol"] == "tcp"
    assert "service" not in u and "service" not in t
    assert others(st) == {}, st["drops"]


def test_gateway_npt6(tmp_path):
    v6 = """    ipv6: npt6
    npt6: {inside: "fd00:1::/64", outside: "2001:db8:aaaa::/64"}"""
    out6 = [a2gw(IPv6(src="fd00:1::2", dst="2001:db8:100::7", hlim=30) /
                 TCP(sport=1234, dport=443, flags="S"))]
    out_a, out_b, st = run(tmp_path, gw_cfg(tmp_path, v6), a=out6, settle=1.5)
    assert len(out_b) == 1
    g = out_b[0]
    src = g[IPv6].src
    assert src.startswith("2001:db8:aaaa:0:"), src
    # Checksum-neutral: the TCP checksum did not change and still verifies.
    assert g[TCP].chksum == IPv6(raw(out6[0][IPv6]))[TCP].chksum
    assert csum_ok(g) and g[TCP].sport == 1234
    back = [b2gw(IPv6(src="2001:db8:100::7", dst=src) / TCP(sport=443, dport=1234, flags="SA"))]
    out_a, _, st2 = run(tmp_path, gw_cfg(tmp_path, v6), b=back, settle=1.5)
    assert len(out_a) == 1 and out_a[0][IPv6].dst == "fd00:1::2" and csum_ok(out_a[0])
    assert others(st) == {} and others(st2) == {}


def test_gateway_ipv6_route_mode(tmp_path):
    out6 = [a2gw(IPv6(src="fd00:1::2", dst="2001:db8:100::7", hlim=30) /
                 UDP(sport=1234, dport=53) / Raw(b"q"))]
    back = [b2gw(IPv6(src="2001:db8:100::7", dst="fd00:1::2", hlim=30) /
                 UDP(sport=53, dport=1234) / Raw(b"a")),
            # Not to a source of the gateway: not routed into pods.
            b2gw(IPv6(src="2001:db8:100::7", dst="fd00:1::99", hlim=30) / UDP() / Raw(b"x"))]
    cfg = gw_cfg(tmp_path, "    ipv6: route").replace(
        'sources: [10.0.1.2/32, "fd00:1::/64"]', 'sources: [10.0.1.2/32, "fd00:1::2/128"]')
    out_a, out_b, st = run(tmp_path, cfg, a=out6, b=fillers(96) + back, settle=2.0)
    unreach = [g for g in out_b if ICMPv6DestUnreach in g]
    assert len(unreach) == 1 and unreach[0][IPerror6].dst == "fd00:1::99"  # no route in outside
    out_b = [g for g in out_b if ICMPv6DestUnreach not in g]
    assert len(out_b) == 1 and out_b[0][IPv6].src == "fd00:1::2" and out_b[0][UDP].sport == 1234
    assert out_b[0][IPv6].hlim == 29 and csum_ok(out_b[0])
    assert len(out_a) == 1 and out_a[0][IPv6].dst == "fd00:1::2" and out_a[0][IPv6].hlim == 29
    assert others(st) == {"no-route": 1}, st["drops"]


def test_check_names_gateway_errors(tmp_path):
    from mgrun import check

    bad = config(tmp_path, networks="  - {name: pods}", a_extra="    network: pods", extra="""
services:
  - name: rt
    network: pods
    vips: [10.0.1.100]
    endpoints: [{name: p1, address: 10.0.1.2, port: 80}]
  - {name: rt2, network: pods, vips: [10.0.1.101, 10.0.1.100], endpoints: [{name: p, address: 10.0.1.3}]}
  - {name: rt3, network: pods, vips: [10.0.1.1], endpoints: [{name: p, address: 10.0.1.3}]}
gateways:
  - name: g1
    inside: pods
    outside: nowhere
    routes: [0.0.0.0/0, "10.1.2.3/8"]
    ports: "0-10"
    ipv6: npt6
    publish:
      - {protocol: tcp, port: 8080, service: rt}
      - {protocol: tcp, port: 8081, service: none}
  - name: g2
    inside: pods
    outside: pods
  - {name: g3, inside: pods, outside: default, ipv6: route, sources: [10.0.1.0/24]}
  - {name: g4, inside: pods, outside: default, routes: [192.0.2.0/24]}
  - {name: g5, inside: pods, outside: default, routes: [10.0.1.100/32, 192.0.2.0/24]}
""")
    rc, out = check(bad, tmp_path)
    assert rc == 1
    for want in ("services[0].endpoints[0].port: an endpoint port needs the service's mode: nat",
                 "gateways[0].outside: no network named nowhere",
                 "gateways[0].routes[1]: '10.1.2.3/8' is not a prefix",
                 "gateways[0].ports: a range of at least 64 ports",
                 "gateways[0]: ipv6: npt6 needs npt6:",
                 "gateways[0].publish[0].service: service rt must have mode: nat",
                 "gateways[0].publish[1].service: no service named none",
                 "gateways[1]: inside and outside must be two networks",
                 "gateways[2]: ipv6: route needs IPv6 sources",
                 # One owner per prefix of a network.
                 "services[1].vips[1]: VIP 10.0.1.100 is already service rt's",
                 "services[2].vips[0]: VIP 10.0.1.1 is an address of interface a",
                 "gateways[4].routes[0]: route 10.0.1.100/32 is already service rt's VIP",
                 "gateways[4].routes[1]: route 192.0.2.0/24 is already gateway g4's"):
        assert want in out, (want, out)
    assert ".yaml:" in out  # FILE:LINE
    rc, out = check(gw_cfg(tmp_path), tmp_path)
    assert rc == 0, out


def test_overlapping_pod_subnets_stay_apart(tmp_path):
    """Two inside networks with the same subnet and the same host address (port
    a untagged, and its VLAN 100) leave through two gateways on one outside
    address with disjoint port ranges: each reply goes back to its own network."""
    cfg = config(tmp_path, networks="  - {name: pods}\n  - {name: pods2}",
                 a_extra="""    network: pods
    vlans:
      - {id: 100, network: pods2, ipv4: [10.0.1.1/24]}""",
                 neighbors='  - {interface: a.100, ip: 10.0.1.2, mac: "02:00:00:00:0a:05"}',
                 extra="""
gateways:
  - {name: g1, inside: pods, outside: default, routes: [0.0.0.0/0], ports: "20000-20999",
     port_preserve: true}
  - {name: g2, inside: pods2, outside: default, routes: [0.0.0.0/0], ports: "21000-21999",
     port_preserve: true}
""").replace("memory_mb: 512", "memory_mb: 768")
    from scapy.all import Dot1Q
    pod1 = a2gw(IP(src="10.0.1.2", dst="198.51.100.7") / UDP(sport=20001, dport=53) / Raw(b"1"))
    pod2 = (Ether(src="02:00:00:00:0a:05", dst=GW_MAC["a"]) / Dot1Q(vlan=100) /
            IP(src="10.0.1.2", dst="198.51.100.7") / UDP(sport=21001, dport=53) / Raw(b"2"))
    replies = [b2gw(IP(src="198.51.100.7", dst="10.0.2.1") / UDP(sport=53, dport=p) / Raw(b"r"))
               for p in (20001, 21001)]
    out_a, out_b, st = run(tmp_path, cfg, a=[pod1, pod2], b=fillers(96) + replies, settle=2.0)
    assert sorted((g[IP].src, g[UDP].sport) for g in out_b) == \
        [("10.0.2.1", 20001), ("10.0.2.1", 21001)]
    assert len(out_a) == 2
    back = {g[UDP].dport: g for g in out_a}
    assert Dot1Q not in back[20001] and back[20001][Ether].dst == HOST_MAC["a"]
    assert back[21001][Dot1Q].vlan == 100 and back[21001][Ether].dst == "02:00:00:00:0a:05"
    for g in out_a:
        assert g[IP].dst == "10.0.1.2" and csum_ok(g)
    assert others(st) == {}, st["drops"]


def test_gateway_path_mtu_errors_reach_the_pod(tmp_path):
    """A DF packet too big for the outside link, translated on its way out:
    the fragmentation-needed / packet-too-big goes back through the NAT to
    the pod, quoting the packet as the pod sent it (RFC 1191, RFC 8201; an
    error about the translated packet went to the gateway's own address and
    was lost)."""
    cfg = gw_cfg(tmp_path).replace("mtu: 1500", "mtu: 1280")
    big = [a2gw(IP(src="10.0.1.2", dst="198.51.100.7", ttl=30, flags="DF") /
                TCP(sport=20001, dport=443, flags="A") / Raw(b"x" * 1400)),
           a2gw(IPv6(src="fd00:1::2", dst="2001:db8:100::7", hlim=30) /
                TCP(sport=20002, dport=443, flags="A") / Raw(b"x" * 1400))]
    out_a, out_b, st = run(tmp_path, cfg, a=big)
    assert out_b == [] and len(out_a) == 2, (out_a, nonzero_drops(st))
    e4 = [g for g in out_a if ICMP in g][0]
    assert (e4[ICMP].type, e4[ICMP].code, e4[ICMP].nexthopmtu) == (3, 4, 1280)
    assert (e4[IP].src, e4[IP].dst) == ("10.0.1.1", "10.0.1.2")
    assert (e4[IPerror].src, e4[IPerror].dst, e4[TCPerror].sport) == ("10.0.1.2", "198.51.100.7", 20001)
    assert csum_ok(e4) and ip4_hdr_ok(e4[IPerror])
    e6 = [g for g in out_a if ICMPv6PacketTooBig in g][0]
    assert (e6[ICMPv6PacketTooBig].mtu, e6[IPv6].dst) == (1280, "fd00:1::2")
    assert (e6[IPerror6].src, e6[IPerror6].dst) == ("fd00:1::2", "2001:db8:100::7")
    assert e6[TCPerror].sport == 20002 and csum_ok(e6)
    assert nonzero_drops(st) == {"mtu-exceeded": 2}, nonzero_drops(st)


def test_service_nat_path_mtu_error_names_the_vip(tmp_path):
    """Client to a nat service's VIP, the endpoint behind a smaller MTU: the
    client's fragmentation-needed quotes its own packet (to the VIP and
    port it used), or its socket cannot match it (RFC 5508)."""
    big = a2gw(IP(src="10.0.1.2", dst="10.0.9.1", ttl=30, flags="DF") /
               TCP(sport=40000, dport=80, flags="A") / Raw(b"x" * 1400))
    out_a, out_b, st = run(tmp_path, config(tmp_path, extra=SVC, mtu_b=1280), a=[big])
    assert out_b == [] and len(out_a) == 1, (out_a, nonzero_drops(st))
    e = out_a[0]
    assert (e[ICMP].type, e[ICMP].code, e[IP].dst) == (3, 4, "10.0.1.2")
    assert (e[IPerror].src, e[IPerror].dst) == ("10.0.1.2", "10.0.9.1")
    assert (e[TCPerror].sport, e[TCPerror].dport) == (40000, 80)
    assert csum_ok(e) and ip4_hdr_ok(e[IPerror])


def test_orphan_icmp_error_to_a_vip_makes_no_flow(tmp_path):
    """An ICMP error to a nat service's VIP about a packet no flow sent: it
    is dropped, and no flow or endpoint choice comes of it (RFC 5508)."""
    quoted = IP(src="10.0.9.1", dst="10.0.1.2", ttl=63) / UDP(sport=53, dport=5000) / Raw(b"a" * 5)
    err = a2gw(IP(src="10.0.1.2", dst="10.0.9.1") / ICMP(type=3, code=3) / raw(quoted))
    out_a, out_b, st = run(tmp_path, config(tmp_path, extra=SVC), a=[err])
    assert out_a == [] and out_b == []
    assert nonzero_drops(st) == {"nat-untranslatable": 1}
    assert st["nat"]["dnat_flows"] == 0 and st["nat"]["untranslatable"] == 1


def test_service_nat_atomic_fragment_is_a_whole_datagram(tmp_path):
    """IPv6 with a fragment header of offset 0 and M clear (an atomic
    fragment) is one whole datagram (RFC 6946): SCTP in it reaches the
    endpoint translated, its CRC32c recomputed, as without the header."""
    def sctp(sport, atomic):
        ip = IPv6(src="fd00:1::2", dst="fd00:9::1", hlim=30)
        if atomic:
            ip = ip / IPv6ExtHdrFragment(id=7, m=0, offset=0)
        return a2gw(ip / SCTP(sport=sport, dport=2905, tag=9) / SCTPChunkData(tsn=1, data=b"m3ua"))
    out_a, out_b, st = run(tmp_path, config(tmp_path, extra=SVC), a=[sctp(3001, False),
                                                                    sctp(3000, True)])
    assert len(out_b) == 2, nonzero_drops(st)
    for g in out_b:
        assert (g[IPv6].dst, g[SCTP].dport) == ("fd00:2::2", 8080)
        assert csum_ok(g), g.show(dump=True)
    assert nonzero_drops(st) == {}
