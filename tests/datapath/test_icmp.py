# SPDX-License-Identifier: BSD-3-Clause
"""ICMP and ICMPv6 errors the gateway generates, echo replies, and the
rules about when not to send an error (RFC 1812 4.3.2.7, RFC 4443 2.4)."""
from scapy.all import (ICMP, IP, UDP, Ether, ICMPv6DestUnreach, ICMPv6EchoReply,
                       ICMPv6EchoRequest, ICMPv6PacketTooBig, ICMPv6TimeExceeded, IPerror,
                       IPv6, IPerror6, Raw, defragment, raw)

from pcapdp import GW_MAC, HOST_MAC, config, drops, nonzero_drops, run


def a2gw(l3):
    return Ether(src=HOST_MAC["a"], dst=GW_MAC["a"]) / l3


def cksum4_ok(pkt):
    ip = IP(raw(pkt[IP]))
    c = ip.copy()
    del c.chksum
    ic = ip[ICMP].copy()
    del ic.chksum
    return IP(raw(c)).chksum == ip.chksum and ICMP(raw(ic)).chksum == ip[ICMP].chksum


def cksum6_ok(pkt):
    ip6 = IPv6(raw(pkt[IPv6]))
    c = ip6.copy()
    c.payload.cksum = None  # scapy recomputes on build
    return IPv6(raw(c)).payload.cksum == ip6.payload.cksum


def test_ttl_expired(tmp_path):
    sent = a2gw(IP(src="10.0.1.2", dst="10.0.2.2", ttl=1) / UDP(sport=33434, dport=33435))
    out_a, out_b, st = run(tmp_path, config(tmp_path), a=[sent])
    assert out_b == []
    assert len(out_a) == 1
    e = out_a[0]
    assert e[Ether].dst == HOST_MAC["a"] and e[Ether].src == GW_MAC["a"]
    assert (e[IP].src, e[IP].dst, e[IP].ttl) == ("10.0.1.1", "10.0.1.2", 64)
    assert (e[ICMP].type, e[ICMP].code) == (11, 0)
    assert e[IPerror].dst == "10.0.2.2" and e[IPerror].ttl == 1
    assert cksum4_ok(e)
    assert drops(st, "ip4-ttl-expired") == 1
    assert st["gateway"]["icmp_errors"] == 1


def test_hop_limit_expired(tmp_path):
    sent = a2gw(IPv6(src="fd00:1::2", dst="fd00:2::2", hlim=1) / UDP())
    out_a, out_b, st = run(tmp_path, config(tmp_path), a=[sent])
    assert out_b == [] and len(out_a) == 1
    e = out_a[0]
    assert ICMPv6TimeExceeded in e
    assert (e[IPv6].src, e[IPv6].dst, e[IPv6].hlim) == ("fd00:1::1", "fd00:1::2", 64)
    assert e[IPerror6].dst == "fd00:2::2"
    assert cksum6_ok(e)
    assert drops(st, "ip6-hop-limit-exceeded") == 1


def test_no_route_both_families(tmp_path):
    p4 = a2gw(IP(src="10.0.1.2", dst="10.99.0.1") / UDP())
    p6 = a2gw(IPv6(src="fd00:1::2", dst="fd00:99::1") / UDP())
    out_a, out_b, st = run(tmp_path, config(tmp_path), a=[p4, p6])
    assert out_b == []
    by = {("4" if IP in p else "6"): p for p in out_a}
    assert (by["4"][ICMP].type, by["4"][ICMP].code) == (3, 0)
    assert by["6"][ICMPv6DestUnreach].code == 0
    assert drops(st, "no-route") == 2


def test_route_actions(tmp_path):
    routes = ("  - {prefix: 10.66.0.0/16, action: unreachable}\n"
              "  - {prefix: 10.67.0.0/16, action: prohibit}\n"
              "  - {prefix: 10.68.0.0/16, action: drop}\n"
              "  - {prefix: \"fd66::/16\", action: unreachable}\n")
    pk = [a2gw(IP(src="10.0.1.2", dst=d) / UDP()) for d in ("10.66.1.1", "10.67.1.1", "10.68.1.1")]
    pk.append(a2gw(IPv6(src="fd00:1::2", dst="fd66::1") / UDP()))
    out_a, out_b, st = run(tmp_path, config(tmp_path, routes=routes), a=pk)
    codes4 = sorted(p[ICMP].code for p in out_a if ICMP in p)
    assert codes4 == [1, 13]          # host unreachable, administratively prohibited
    assert [p[ICMPv6DestUnreach].code for p in out_a if ICMPv6DestUnreach in p] == [3]
    assert drops(st, "route-unreachable") == 2
    assert drops(st, "route-prohibited") == 1
    assert drops(st, "route-blackhole") == 1


def test_fragmentation_needed_when_df(tmp_path):
    sent = a2gw(IP(src="10.0.1.2", dst="10.0.2.2", flags="DF") / UDP() / Raw(b"z" * 1450))
    out_a, out_b, st = run(tmp_path, config(tmp_path, mtu_b=1400), a=[sent])
    assert out_b == []
    e = out_a[0]
    assert (e[ICMP].type, e[ICMP].code, e[ICMP].nexthopmtu) == (3, 4, 1400)
    assert cksum4_ok(e)
    assert len(raw(e[IP])) <= 576
    assert drops(st, "mtu-exceeded") == 1


def test_packet_too_big_ipv6(tmp_path):
    sent = a2gw(IPv6(src="fd00:1::2", dst="fd00:2::2") / UDP() / Raw(b"z" * 1400))
    out_a, out_b, st = run(tmp_path, config(tmp_path, mtu_b=1400), a=[sent])
    assert out_b == []
    e = out_a[0]
    assert e[ICMPv6PacketTooBig].mtu == 1400
    assert len(raw(e[IPv6])) <= 1280
    assert cksum6_ok(e)


def test_fragments_when_df_clear(tmp_path):
    payload = (bytes(range(256)) * 6)[:1464]  # a 1492-byte datagram: fits port a
    sent = a2gw(IP(src="10.0.1.2", dst="10.0.2.2", id=4242) / UDP(sport=9, dport=9) /
                Raw(payload))
    _, out_b, st = run(tmp_path, config(tmp_path, mtu_b=1280), a=[sent])
    assert len(out_b) == 2
    for f in out_b:
        assert len(raw(f[IP])) <= 1280
        assert f[Ether].dst == HOST_MAC["b"]
        c = f[IP].copy()
        del c.chksum
        assert IP(raw(c)).chksum == f[IP].chksum
    whole = defragment([f[IP] for f in out_b])
    assert len(whole) == 1
    assert raw(whole[0][UDP].payload) == payload
    assert st["gateway"]["ip4_fragmented"] == 1


def test_no_error_about_an_error_or_a_later_fragment(tmp_path):
    err = a2gw(IP(src="10.0.1.2", dst="10.99.0.1") / ICMP(type=3, code=1) /
               IPerror(src="10.99.0.1", dst="10.0.1.2") / UDP())
    frag = a2gw(IP(src="10.0.1.2", dst="10.99.0.1", frag=10) / Raw(b"x" * 16))
    echo = a2gw(IP(src="10.0.1.2", dst="10.99.0.1") / ICMP(type=8))
    out_a, _, st = run(tmp_path, config(tmp_path), a=[err, frag, echo])
    # Only the echo request (not an error, not a later fragment) earns an error.
    assert len(out_a) == 1 and out_a[0][IPerror].proto == 1
    assert drops(st, "no-route") == 3


def test_icmp_errors_are_rate_limited(tmp_path):
    extra = "limits: {icmp_errors_per_sec: 1, icmp_errors_burst: 5}\n"
    pk = [a2gw(IP(src="10.0.1.2", dst="10.0.2.2", ttl=1) / UDP(sport=i)) for i in range(40)]
    out_a, _, st = run(tmp_path, config(tmp_path, extra=extra), a=pk)
    assert len(out_a) == 5
    assert st["gateway"]["icmp_rate_limited"] == 35
    assert drops(st, "ip4-ttl-expired") == 40


def test_echo_replies_from_the_gateway(tmp_path):
    p4 = a2gw(IP(src="10.0.1.2", dst="10.0.1.1", ttl=3) / ICMP(type=8, id=9, seq=3) /
              Raw(b"ping"))
    p4b = a2gw(IP(src="10.0.1.2", dst="10.0.2.1") / ICMP(type=8, id=9, seq=4))
    p6 = a2gw(IPv6(src="fd00:1::2", dst="fd00:1::1") / ICMPv6EchoRequest(id=5, seq=6,
                                                                           data=b"pong"))
    out_a, out_b, st = run(tmp_path, config(tmp_path), a=[p4, p4b, p6])
    assert out_b == []
    r4 = [p for p in out_a if ICMP in p]
    assert sorted((p[IP].src, p[ICMP].seq) for p in r4) == [("10.0.1.1", 3), ("10.0.2.1", 4)]
    for p in r4:
        assert p[ICMP].type == 0 and p[IP].ttl == 64 and cksum4_ok(p)
    assert raw(r4[0][ICMP].payload) == b"ping" or raw(r4[1][ICMP].payload) == b"ping"
    r6 = [p for p in out_a if ICMPv6EchoReply in p]
    assert len(r6) == 1 and r6[0][IPv6].src == "fd00:1::1" and r6[0][IPv6].hlim == 64
    assert r6[0][ICMPv6EchoReply].data == b"pong" and cksum6_ok(r6[0])
    assert st["gateway"]["echo_replies"] == 3
    assert nonzero_drops(st) == {}


def test_udp_to_the_gateway_gets_port_unreachable(tmp_path):
    p4 = a2gw(IP(src="10.0.1.2", dst="10.0.1.1") / UDP(sport=5000, dport=9999))
    p6 = a2gw(IPv6(src="fd00:1::2", dst="fd00:1::1") / UDP(sport=5000, dport=9999))
    out_a, _, st = run(tmp_path, config(tmp_path), a=[p4, p6])
    assert [(p[ICMP].type, p[ICMP].code) for p in out_a if ICMP in p] == [(3, 3)]
    assert [p[ICMPv6DestUnreach].code for p in out_a if ICMPv6DestUnreach in p] == [4]
    assert drops(st, "local-no-listener") == 2
