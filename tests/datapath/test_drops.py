# SPDX-License-Identifier: BSD-3-Clause
"""Every drop reason that traffic can cause: one packet (or a few) that
must be dropped for exactly that reason, and nothing else dropped."""
import pytest
from scapy.all import (ARP, ICMP, IP, UDP, Dot1Q, Ether, ICMPv6EchoRequest, ICMPv6ND_NS,
                       ICMPv6ND_RS, ICMPv6NDOptSrcLLAddr, IPOption_NOP, IPv6,
                       IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, Raw, raw)

from pcapdp import GW_MAC, HOST_MAC, config, nonzero_drops, run

A = dict(src=HOST_MAC["a"], dst=GW_MAC["a"])


def e(l3=None, **kw):
    h = Ether(**{**A, **kw})
    return h / l3 if l3 is not None else h


def v4(**kw):
    return IP(**{"src": "10.0.1.2", "dst": "10.0.2.2", **kw})


def v6(**kw):
    return IPv6(**{"src": "fd00:1::2", "dst": "fd00:2::2", **kw})


def broken4(mutate, l4=UDP()):
    """An IPv4 packet built by scapy then damaged by @mutate(bytearray)."""
    b = bytearray(raw(e(v4() / l4)))
    mutate(b)
    return Ether(bytes(b))


def fix_ck(b):
    b[24:26] = b"\0\0"
    s = sum(int.from_bytes(b[14 + i:16 + i], "big") for i in range(0, (b[14] & 0xf) * 4, 2))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    b[24:26] = (~s & 0xffff).to_bytes(2, "big")


def set_and_fix(off, val):
    def m(b):
        b[off] = val
        fix_ck(b)
    return m


CASES = {
    "eth-truncated": [Raw(raw(e())[:10])],
    "eth-not-for-us": [e(v4() / UDP(), dst="02:99:99:99:99:99")],
    "unknown-vlan": [e(Dot1Q(vlan=999) / v4() / UDP())],
    "unknown-ethertype": [e(type=0x88b5) / Raw(b"x" * 46)],
    "ip4-truncated": [Raw(raw(e(v4() / UDP() / Raw(b"y" * 40)))[:14 + 30])],
    "ip4-bad-version": [broken4(set_and_fix(14, 0x55))],
    "ip4-bad-header-length": [broken4(set_and_fix(14, 0x43))],
    "ip4-bad-total-length": [broken4(lambda b: (b.__setitem__(slice(16, 18), b"\0\x0a"), fix_ck(b)))],
    "ip4-bad-checksum": [broken4(lambda b: b.__setitem__(24, b[24] ^ 0x55))],
    "ip4-bad-source": [e(v4(src="224.1.1.1") / UDP()), e(v4(src="127.0.0.1") / UDP()),
                       e(v4(src="0.1.2.3") / UDP())],
    "ip4-bad-destination": [e(v4(dst="127.0.0.9") / UDP())],
    "ip4-multicast": [e(v4(dst="239.1.1.1") / UDP()), e(v4(dst="255.255.255.255") / UDP())],
    "ip6-truncated": [Raw(raw(e(v6() / UDP() / Raw(b"q" * 40)))[:14 + 60])],
    "ip6-bad-version": [Raw(bytes([*raw(e())[:12], 0x86, 0xdd, 0x40]) + raw(v6() / UDP())[1:])],
    "ip6-bad-extension-header": [e(v6(nh=60, plen=8) / Raw(bytes([17, 3, 0, 0, 0, 0, 0, 0])))],
    "ip6-bad-source": [e(v6(src="ff02::1") / UDP()), e(v6(src="::1") / UDP())],
    "ip6-bad-destination": [e(v6(dst="::1") / UDP())],
    "ip6-multicast": [e(v6(dst="ff0e::1") / UDP())],
    "ip6-link-local": [e(v6(dst="fe80::99") / UDP())],
    "no-route": [e(v4(dst="10.77.0.1") / UDP())],
    "local-no-listener": [e(v4(dst="10.0.1.1") / UDP(dport=7)), e(v4(dst="10.0.1.1") /
                                                                   ICMP(type=13))],
    "local-fragment": [e(v4(dst="10.0.1.1", flags="MF") / Raw(b"f" * 24))],
    "rx-multi-segment": [e(v4() / UDP() / Raw(b"J" * 3000))],
    "arp-invalid": [e(ARP(hwtype=6, pdst="10.0.1.1"), dst="ff:ff:ff:ff:ff:ff")],
    "arp-not-for-us": [e(ARP(op=1, hwsrc=HOST_MAC["a"], psrc="10.0.1.2", pdst="10.0.1.99"),
                         dst="ff:ff:ff:ff:ff:ff")],
    "nd-invalid": [e(v6(dst="fd00:1::1", hlim=64) / ICMPv6ND_NS(tgt="fd00:1::1"))],
    "nd-not-for-us": [e(v6(dst="fd00:1::99", hlim=255) / ICMPv6ND_NS(tgt="fd00:1::99") /
                        ICMPv6NDOptSrcLLAddr(lladdr=HOST_MAC["a"]))],
    "nd-ignored": [e(v6(dst="ff02::2", hlim=255) / ICMPv6ND_RS(), dst="33:33:00:00:00:02")],
}


@pytest.mark.parametrize("reason", sorted(CASES))
def test_drop_reason(tmp_path, reason):
    pkts = CASES[reason]
    good = e(v4(dst="10.0.2.2") / UDP(sport=4242))
    _, out_b, st = run(tmp_path, config(tmp_path), a=pkts + [good])
    got = nonzero_drops(st)
    assert got == {reason: len(pkts)}, got
    # The good packet after them still goes through.
    assert [p[UDP].sport for p in out_b if UDP in p] == [4242]


def test_policy_drops_ip_options_and_fragments(tmp_path):
    opt = e(v4(options=[IPOption_NOP()] * 4) / UDP())
    frag4 = e(v4(flags="MF") / UDP() / Raw(b"a" * 16))
    frag6 = e(v6() / IPv6ExtHdrFragment(m=1, id=5) / UDP() / Raw(b"b" * 16))
    cfg = config(tmp_path, net_opts="fragments: drop, ip_options: drop")
    _, out_b, st = run(tmp_path, cfg, a=[opt, frag4, frag6])
    assert out_b == []
    assert nonzero_drops(st) == {"ip4-options": 1, "ip4-fragment": 1, "ip6-fragment": 1}


def test_default_policy_forwards_ip_options_and_fragments(tmp_path):
    opt = e(v4(options=[IPOption_NOP()] * 4) / UDP())
    frag4 = e(v4(flags="MF") / UDP() / Raw(b"a" * 16))
    frag6 = e(v6() / IPv6ExtHdrFragment(m=1, id=5) / UDP() / Raw(b"b" * 16))
    dopt = e(v6() / IPv6ExtHdrDestOpt() / UDP())
    _, out_b, st = run(tmp_path, config(tmp_path), a=[opt, frag4, frag6, dopt])
    assert len(out_b) == 4
    assert nonzero_drops(st) == {}
    assert st["gateway"]["ip4_options"] == 1
    assert st["gateway"]["ip4_fragments"] == 1
    assert st["gateway"]["ip6_fragments"] == 1
    assert raw(out_b[0][IP])[20:24] == b"\x01\x01\x01\x01"  # options kept


def test_unresolved_neighbor_queue_and_failure(tmp_path):
    """Packets to a silent host: 4 held then dropped when ARP fails, 6 refused
    as the hold queue is full; one ARP request goes out."""
    nd = "retrans_ms: 50, probes: 1, hold_packets: 4"
    pkts = [e(v4(dst="10.0.2.77") / UDP(sport=i)) for i in range(10)]
    _, out_b, st = run(tmp_path, config(tmp_path, arp_nd=nd), a=pkts, settle=1.5)
    assert nonzero_drops(st) == {"neighbor-queue-full": 6, "neighbor-unresolved": 4}
    arps = [p for p in out_b if ARP in p]
    assert len(arps) == 1
    assert (arps[0][ARP].op, arps[0][ARP].psrc, arps[0][ARP].pdst) == (1, "10.0.2.1", "10.0.2.77")
    assert arps[0][Ether].dst == "ff:ff:ff:ff:ff:ff" and arps[0][ARP].hwsrc == GW_MAC["b"]


def test_neighbor_table_full(tmp_path):
    extra = "limits: {neighbors: 16}\n"
    nd = "retrans_ms: 60000, probes: 3, hold_packets: 4"
    pkts = [e(v4(dst=f"10.0.2.{100 + i}") / UDP()) for i in range(20)]
    _, _, st = run(tmp_path, config(tmp_path, extra=extra, arp_nd=nd), a=pkts)
    # Four neighbors are configured, so twelve more fit.
    assert nonzero_drops(st) == {"neighbor-table-full": 8}
