# SPDX-License-Identifier: BSD-3-Clause
"""ARP and IPv6 neighbor discovery: the gateway answers for its addresses
and resolves next hops, learning from what it hears."""
from scapy.all import (ARP, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr,
                       ICMPv6NDOptSrcLLAddr, IP, UDP, Ether, IPv6, in6_getnsma, in6_getnsmac,
                       inet_pton, inet_ntop, raw, socket)

from pcapdp import GW_MAC, HOST_MAC, config, nonzero_drops, run

BCAST = "ff:ff:ff:ff:ff:ff"


def nsma(addr):
    return inet_ntop(socket.AF_INET6, in6_getnsma(inet_pton(socket.AF_INET6, addr)))


def ns(target, src="fd00:1::2", lladdr=HOST_MAC["a"]):
    dst = nsma(target)
    return (Ether(src=HOST_MAC["a"], dst=in6_getnsmac(inet_pton(socket.AF_INET6, dst))) /
            IPv6(src=src, dst=dst, hlim=255) / ICMPv6ND_NS(tgt=target) /
            ICMPv6NDOptSrcLLAddr(lladdr=lladdr))


def test_arp_request_for_gateway_is_answered(tmp_path):
    req = Ether(src=HOST_MAC["a"], dst=BCAST) / ARP(op=1, hwsrc=HOST_MAC["a"],
                                                    psrc="10.0.1.2", pdst="10.0.1.1")
    out_a, _, st = run(tmp_path, config(tmp_path), a=[req])
    assert len(out_a) == 1
    r = out_a[0]
    assert r[Ether].dst == HOST_MAC["a"] and r[Ether].src == GW_MAC["a"]
    assert (r[ARP].op, r[ARP].hwsrc, r[ARP].psrc) == (2, GW_MAC["a"], "10.0.1.1")
    assert (r[ARP].hwdst, r[ARP].pdst) == (HOST_MAC["a"], "10.0.1.2")
    assert st["gateway"]["arp_rx"] == 1 and st["gateway"]["arp_tx"] == 1
    assert nonzero_drops(st) == {}


def test_ns_for_gateway_is_answered(tmp_path):
    out_a, _, st = run(tmp_path, config(tmp_path), a=[ns("fd00:1::1")])
    assert len(out_a) == 1
    na = out_a[0]
    assert na[Ether].dst == HOST_MAC["a"] and na[Ether].src == GW_MAC["a"]
    assert (na[IPv6].src, na[IPv6].dst, na[IPv6].hlim) == ("fd00:1::1", "fd00:1::2", 255)
    assert na[ICMPv6ND_NA].tgt == "fd00:1::1"
    assert (na[ICMPv6ND_NA].R, na[ICMPv6ND_NA].S, na[ICMPv6ND_NA].O) == (1, 1, 1)
    assert na[ICMPv6NDOptDstLLAddr].lladdr == GW_MAC["a"]
    c = IPv6(raw(na[IPv6]))
    c[ICMPv6ND_NA].cksum = None
    assert IPv6(raw(c))[ICMPv6ND_NA].cksum == na[ICMPv6ND_NA].cksum


def test_ns_for_link_local_and_dad_are_answered(tmp_path):
    # fe80::/64 from 02:00:00:00:0a:01 (EUI-64)
    ll = "fe80::ff:fe00:a01"
    dad = ns("fd00:1::1", src="::")
    dad[IPv6].remove_payload()
    dad = dad / ICMPv6ND_NS(tgt="fd00:1::1")
    out_a, _, st = run(tmp_path, config(tmp_path), a=[ns(ll, src="fe80::2"), dad])
    assert len(out_a) == 2
    to_ll, to_dad = out_a
    assert to_ll[ICMPv6ND_NA].tgt == ll and to_ll[IPv6].src == ll
    # Defending against DAD: to all nodes, not solicited.
    assert to_dad[IPv6].dst == "ff02::1" and to_dad[ICMPv6ND_NA].S == 0
    assert to_dad[Ether].dst == "33:33:00:00:00:01"


def test_glean_resolves_by_arp_and_forwards(tmp_path):
    """A packet to an unknown host on b is held, an ARP request goes out,
    and once the host speaks the packet follows with its MAC."""
    pkt = Ether(src=HOST_MAC["a"], dst=GW_MAC["a"]) / IP(src="10.0.1.2", dst="10.0.2.9") / \
        UDP(sport=777)
    hello = Ether(src="02:00:00:00:0b:09", dst=BCAST) / ARP(op=1, hwsrc="02:00:00:00:0b:09",
                                                             psrc="10.0.2.9", pdst="10.0.2.1")
    _, out_b, st = run(tmp_path, config(tmp_path), a=[pkt], b=[hello])
    fwd = [p for p in out_b if UDP in p]
    assert len(fwd) == 1
    assert fwd[0][Ether].dst == "02:00:00:00:0b:09" and fwd[0][UDP].sport == 777
    replies = [p for p in out_b if ARP in p and p[ARP].op == 2]
    assert len(replies) == 1 and replies[0][ARP].pdst == "10.0.2.9"
    assert nonzero_drops(st) == {}


def test_glean_resolves_by_nd_and_forwards(tmp_path):
    """IPv6: the held packet follows once the host is heard (its NS for the
    gateway carries its MAC)."""
    pkt = Ether(src=HOST_MAC["a"], dst=GW_MAC["a"]) / IPv6(src="fd00:1::2", dst="fd00:2::9") / \
        UDP(sport=778)
    hello = (Ether(src="02:00:00:00:0b:09", dst=in6_getnsmac(inet_pton(socket.AF_INET6,
                                                                    nsma("fd00:2::1")))) /
             IPv6(src="fd00:2::9", dst=nsma("fd00:2::1"), hlim=255) /
             ICMPv6ND_NS(tgt="fd00:2::1") / ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:0b:09"))
    _, out_b, st = run(tmp_path, config(tmp_path), a=[pkt], b=[hello])
    fwd = [p for p in out_b if UDP in p]
    assert len(fwd) == 1 and fwd[0][Ether].dst == "02:00:00:00:0b:09"
    assert [p[ICMPv6ND_NA].tgt for p in out_b if ICMPv6ND_NA in p] == ["fd00:2::1"]
    assert nonzero_drops(st) == {}


def test_unresolved_sends_ns_and_unsolicited_na_is_ignored(tmp_path):
    pkt = Ether(src=HOST_MAC["a"], dst=GW_MAC["a"]) / IPv6(src="fd00:1::2", dst="fd00:2::9") / \
        UDP(sport=778)
    _, out_b, _ = run(tmp_path, config(tmp_path, arp_nd="retrans_ms: 10000"), a=[pkt])
    sol = [p for p in out_b if ICMPv6ND_NS in p]
    assert len(sol) == 1
    assert sol[0][ICMPv6ND_NS].tgt == "fd00:2::9"
    assert sol[0][IPv6].dst == "ff02::1:ff00:9" and sol[0][Ether].dst == "33:33:ff:00:00:09"
    assert sol[0][ICMPv6NDOptSrcLLAddr].lladdr == GW_MAC["b"]
    assert sol[0][IPv6].hlim == 255
    # An NA nobody asked for creates nothing: traffic after it still has to
    # resolve (an NS goes out).
    na = (Ether(src="02:00:00:00:0b:09", dst=GW_MAC["b"]) /
          IPv6(src="fd00:2::9", dst="fd00:2::1", hlim=255) /
          ICMPv6ND_NA(tgt="fd00:2::9", R=0, S=0, O=1) /
          ICMPv6NDOptDstLLAddr(lladdr="02:00:00:00:0b:09"))
    back = Ether(src=HOST_MAC["b"], dst=GW_MAC["b"]) / IPv6(src="fd00:2::2", dst="fd00:2::9") / \
        UDP(sport=779)
    _, out_b2, st2 = run(tmp_path, config(tmp_path, arp_nd="retrans_ms: 10000"), b=[na, back])
    assert [p for p in out_b2 if UDP in p] == []
    assert len([p for p in out_b2 if ICMPv6ND_NS in p]) == 1


def test_gratuitous_arp_moves_a_neighbor(tmp_path):
    """Learned from a request, moved by a gratuitous reply: traffic that
    follows on the same port goes to the new MAC."""
    first = Ether(src="02:00:00:00:0b:09", dst=BCAST) / ARP(
        op=1, hwsrc="02:00:00:00:0b:09", psrc="10.0.2.9", pdst="10.0.2.1")
    moved = Ether(src="02:00:00:00:0b:10", dst=BCAST) / ARP(
        op=2, hwsrc="02:00:00:00:0b:10", psrc="10.0.2.9", pdst="10.0.2.9", hwdst=BCAST)
    # From b's own host, routed back out b: same RX queue, so after the ARPs.
    pkt = Ether(src=HOST_MAC["b"], dst=GW_MAC["b"]) / IP(src="10.0.2.2", dst="10.0.2.9") / \
        UDP(sport=999)
    _, out_b, st = run(tmp_path, config(tmp_path), b=[first, moved, pkt])
    fwd = [p for p in out_b if UDP in p]
    assert len(fwd) == 1 and fwd[0][Ether].dst == "02:00:00:00:0b:10"
    assert nonzero_drops(st) == {}


def test_addresses_are_announced_when_added(tmp_path):
    """Each address an Ethernet interface gets is announced with the
    interface's MAC (so neighbors that cached another MAC for it, say a pod
    restarted on another VF, move at once): a gratuitous ARP request for
    IPv4 (RFC 5227 3), an unsolicited NA to all nodes for IPv6 and the
    link-local address (RFC 4861 7.2.6: override, not solicited). Off with
    arp_nd.announce: false (the other tests here)."""
    out_a, out_b, st = run(tmp_path, config(tmp_path, arp_nd="announce: true"))
    lls = {"a": "fe80::ff:fe00:a01", "b": "fe80::ff:fe00:b01"}
    for side, out, v4, v6 in (("a", out_a, "10.0.1.1", "fd00:1::1"),
                              ("b", out_b, "10.0.2.1", "fd00:2::1")):
        mac = GW_MAC[side]
        arps = [p for p in out if ARP in p]
        assert len(arps) == 1, out
        g = arps[0]
        assert (g[Ether].src, g[Ether].dst) == (mac, BCAST)
        assert (g[ARP].op, g[ARP].hwsrc, g[ARP].psrc, g[ARP].pdst) == (1, mac, v4, v4)
        assert g[ARP].hwdst == "00:00:00:00:00:00"
        nas = [p for p in out if ICMPv6ND_NA in p]
        assert sorted(p[ICMPv6ND_NA].tgt for p in nas) == sorted([v6, lls[side]])
        for na in nas:
            assert (na[Ether].src, na[Ether].dst) == (mac, "33:33:00:00:00:01")
            assert (na[IPv6].src, na[IPv6].dst, na[IPv6].hlim) == \
                (na[ICMPv6ND_NA].tgt, "ff02::1", 255)
            assert (na[ICMPv6ND_NA].R, na[ICMPv6ND_NA].S, na[ICMPv6ND_NA].O) == (1, 0, 1)
            assert na[ICMPv6NDOptDstLLAddr].lladdr == mac
            c = IPv6(raw(na[IPv6]))
            c[ICMPv6ND_NA].cksum = None
            assert IPv6(raw(c))[ICMPv6ND_NA].cksum == na[ICMPv6ND_NA].cksum
        assert len(out) == 3, out
    assert st["gateway"]["arp_tx"] == 2 and st["gateway"]["nd_tx"] == 4
    assert nonzero_drops(st) == {}
    # Off: nothing goes out unasked.
    out_a, out_b, st = run(tmp_path, config(tmp_path, arp_nd="announce: false"))
    assert out_a == [] and out_b == []
