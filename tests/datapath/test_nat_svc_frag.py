# SPDX-License-Identifier: BSD-3-Clause
"""Fragments through nat services and ICMP errors about fragments, on
net_pcap (scapy fragments, scapy reassembles).

A nat service's very first packet arrives fragmented: its first fragment
must be keyed on its ports (the flow the rest of the flow's packets find),
translated to the endpoint and its port, and its later fragments (no ports)
must follow it with the endpoint's address. The endpoint's fragmented
replies come back from the VIP. What arrives on each side is reassembled by
scapy, whose recomputed L4 checksum must equal the one meshgate left. A
later fragment that comes before its first is dropped and counted
(nat-untranslatable, `fragments_unknown`). ICMP errors quoting a translated
first fragment (an endpoint's reassembly timeout, a router's time exceeded,
a client's port unreachable; the same through a gateway's source NAT) are
translated with their quote, every checksum recomputed. Fragments whose
checksum needs the whole datagram (an SCTP port change, IPv6 UDP without a
checksum) are dropped as nat-fragment-checksum, never sent wrong."""
from functools import partial

from scapy.all import (ICMP, IP, TCP, UDP, ICMPv6EchoReply, ICMPv6EchoRequest,
                       ICMPv6TimeExceeded, IPv6, raw)
from scapy.layers.inet import IPerror, UDPerror, TCPerror
from scapy.layers.inet6 import IPerror6, IPv6ExtHdrFragment
from scapy.layers.sctp import SCTP, SCTPChunkData

import natfrag
from natfrag import ip4_ok, l4_csum_ok, owner, reassemble4, reassemble6
from pcapdp import config, run, run_two_workers
from test_nat import (SVC, a2gw, a_fillers, b2gw, csum_ok, fillers, gw_cfg, ip4_hdr_ok,
                      others)

CLIENT4, VIP4, EP4 = "10.0.1.2", "10.0.9.1", "10.0.2.2"
CLIENT6, VIP6, EP6 = "fd00:1::2", "fd00:9::1", "fd00:2::2"
DATA = bytes(range(256)) * 9 + bytes(range(96))  # 2400 bytes: 3 fragments of <= 1000 (IPv4)
frags4_data = partial(natfrag.frags4, data=DATA)
frags6_data = partial(natfrag.frags6, data=DATA, size=1000)


def quoted_l4_ck_restored(err, orig_first):
    """The quote's L4 checksum is the one the original first fragment carried."""
    q = err[IPerror] if IPerror in err else err[IPerror6]
    l4 = q.payload
    while l4.name.startswith("IPv6 Extension Header"):
        l4 = l4.payload
    o = IP(raw(orig_first[IP])).payload if IP in orig_first else \
        IPv6(raw(orig_first[IPv6]))[IPv6ExtHdrFragment].payload
    f = "chksum" if "chksum" in l4.fields else "cksum"
    return getattr(l4, f) == getattr(o, f)


def test_service_first_packet_fragmented_v4(tmp_path):
    udp = frags4_data(CLIENT4, VIP4, UDP(sport=5000, dport=53), 0x1001)
    echo = frags4_data(CLIENT4, VIP4, ICMP(type=8, id=77, seq=1), 0x1002)
    tcp = frags4_data(CLIENT4, VIP4, TCP(sport=40000, dport=80, flags="S"), 0x1003)
    # Reordered: a later fragment before its first: dropped and counted; the
    # first and the last still cross (the endpoint's reassembly then times out).
    late = frags4_data(CLIENT4, VIP4, UDP(sport=5002, dport=53), 0x1004)
    # SCTP to an endpoint port: the CRC32c covers the whole datagram.
    sctp = frags4_data(CLIENT4, VIP4, SCTP(sport=3000, dport=2905, tag=9) /
                       SCTPChunkData(tsn=1, data=b"m3ua"), 0x1005)
    assert len(udp) == len(echo) == len(tcp) == len(late) == len(sctp) == 3
    fwd = udp + echo + tcp + [late[1], late[0], late[2]] + sctp

    # The endpoint's replies, fragmented (as it sees the flows: its address and port).
    r_udp = frags4_data(EP4, CLIENT4, UDP(sport=8080, dport=5000), 0x2001)
    r_echo = frags4_data(EP4, CLIENT4, ICMP(type=0, id=77, seq=1), 0x2002)
    # Errors about translated first fragments, quoting them as they arrived
    # (scapy computes the datagram's L4 checksum over the whole translated
    # datagram): the endpoint's reassembly timeout (it missed the late
    # datagram's second fragment), a router's time exceeded about the TCP one.
    got_late = frags4_data(CLIENT4, EP4, UDP(sport=5002, dport=8080), 0x1004, ttl=29)[0]
    got_tcp = frags4_data(CLIENT4, EP4, TCP(sport=40000, dport=8080, flags="S"), 0x1003,
                          ttl=29)[0]
    errs = [b2gw(IP(src=EP4, dst=CLIENT4) / ICMP(type=11, code=1) / raw(got_late)[:548]),
            b2gw(IP(src="10.0.2.3", dst=CLIENT4) / ICMP(type=11, code=0) / raw(got_tcp)[:548])]
    # The client refuses the reply it got (its first fragment, from the VIP).
    got_reply = frags4_data(VIP4, CLIENT4, UDP(sport=53, dport=5000), 0x2001, ttl=63)[0]
    cerr = a2gw(IP(src=CLIENT4, dst=VIP4) / ICMP(type=3, code=3) / raw(got_reply)[:548])

    out_a, out_b, st = run(tmp_path, config(tmp_path, extra=SVC),
                           a=[a2gw(p) for p in fwd] + a_fillers(320) + [cerr],
                           b=fillers(160) + [b2gw(p) for p in r_udp + r_echo] + errs, settle=2.5)

    to_ep = [p for p in out_b if IP in p and not (ICMP in p and p[ICMP].type in (3, 11))]
    assert all(p[IP].src == CLIENT4 and p[IP].dst == EP4 and p[IP].ttl == 29 and ip4_ok(p)
               for p in to_ep), [p.summary() for p in to_ep]
    byid = {}
    for p in to_ep:
        byid.setdefault(p[IP].id, []).append(p)
    # udp, echo, tcp whole; the late one's first and last; nothing of the SCTP datagram.
    assert {i: len(v) for i, v in byid.items()} == {0x1001: 3, 0x1002: 3, 0x1003: 3, 0x1004: 2}, \
        {hex(i): len(v) for i, v in byid.items()}
    whole = {p[IP].id: p for p in reassemble4(byid[0x1001] + byid[0x1002] + byid[0x1003])}
    assert set(whole) == {0x1001, 0x1002, 0x1003}
    assert (whole[0x1001][UDP].sport, whole[0x1001][UDP].dport) == (5000, 8080)
    assert whole[0x1001][UDP].load == DATA
    assert whole[0x1002][ICMP].id == 77 and whole[0x1002][ICMP].load == DATA
    assert whole[0x1003][TCP].dport == 8080 and whole[0x1003][TCP].load == DATA
    assert all(l4_csum_ok(p) for p in whole.values())
    assert [p[IP].frag for p in byid[0x1004]] == [0, late[2].frag]

    # The replies, reassembled, from the VIP and its port.
    back = [p for p in out_a if IP in p and p[IP].id in (0x2001, 0x2002)]
    assert len(back) == 6, [p.summary() for p in out_a]
    assert all(p[IP].src == VIP4 and p[IP].dst == CLIENT4 and ip4_ok(p) for p in back)
    whole = {p[IP].id: p for p in reassemble4(back)}
    assert whole[0x2001][UDP].sport == 53 and whole[0x2001][UDP].load == DATA
    assert whole[0x2002][ICMP].id == 77
    assert all(l4_csum_ok(p) for p in whole.values())

    # The errors, translated back: outer (from the VIP when the endpoint sent it),
    # quote (the first fragment as the client sent it, its header checksum and
    # the datagram's L4 checksum as they were), the ICMP checksum.
    e = [p for p in out_a if ICMP in p and p[ICMP].type == 11]
    assert len(e) == 2, [p.summary() for p in out_a]
    reasm = [p for p in e if p[ICMP].code == 1][0]
    assert (reasm[IP].src, reasm[IP].dst) == (VIP4, CLIENT4) and csum_ok(reasm)
    assert (reasm[IPerror].src, reasm[IPerror].dst) == (CLIENT4, VIP4)
    assert reasm[IPerror].flags.MF and reasm[IPerror].frag == 0
    assert (reasm[UDPerror].sport, reasm[UDPerror].dport) == (5002, 53)
    assert ip4_hdr_ok(reasm[IPerror]) and quoted_l4_ck_restored(reasm, late[0])
    texc = [p for p in e if p[ICMP].code == 0][0]
    assert (texc[IP].src, texc[IP].dst) == ("10.0.2.3", CLIENT4) and csum_ok(texc)
    assert (texc[IPerror].dst, texc[TCPerror].dport) == (VIP4, 80)
    assert ip4_hdr_ok(texc[IPerror]) and quoted_l4_ck_restored(texc, tcp[0])
    ce = [p for p in out_b if ICMP in p and p[ICMP].type == 3]
    assert len(ce) == 1, [p.summary() for p in out_b]
    ce = ce[0]
    assert (ce[IP].src, ce[IP].dst) == (CLIENT4, EP4) and csum_ok(ce)
    assert (ce[IPerror].src, ce[UDPerror].sport) == (EP4, 8080)
    assert ip4_hdr_ok(ce[IPerror]) and quoted_l4_ck_restored(ce, r_udp[0])

    assert others(st) == {"nat-untranslatable": 1 + 2, "nat-fragment-checksum": 1}, others(st)
    assert st["nat"]["fragments_unknown"] == 1 + 2, st["nat"]
    # Every later fragment that crossed went by its first's record: 2 + 2 + 2 + 1
    # forward, 2 + 2 back.
    assert st["nat"]["fragments"] == 11, st["nat"]


def test_service_first_packet_fragmented_v6(tmp_path):
    udp = frags6_data(CLIENT6, VIP6, UDP(sport=5000, dport=53), 0x10001)
    echo = frags6_data(CLIENT6, VIP6, ICMPv6EchoRequest(id=78, seq=1), 0x10002)
    late = frags6_data(CLIENT6, VIP6, UDP(sport=5002, dport=53), 0x10004)
    # UDP without a checksum: one must be computed over the whole datagram.
    nock = frags6_data(CLIENT6, VIP6, UDP(sport=5003, dport=53, chksum=0), 0x10005)
    assert len(udp) == len(echo) == len(late) == len(nock) == 3
    assert IPv6(raw(nock[0]))[UDP].chksum == 0
    fwd = udp + echo + [late[1], late[0], late[2]] + nock
    r_udp = frags6_data(EP6, CLIENT6, UDP(sport=8080, dport=5000), 0x20001)
    r_echo = frags6_data(EP6, CLIENT6, ICMPv6EchoReply(id=78, seq=1), 0x20002)
    # The endpoint's reassembly timeout about the late datagram, quoting its first
    # fragment as it arrived (scapy's checksum over the whole translated datagram).
    got_late = frags6_data(CLIENT6, EP6, UDP(sport=5002, dport=8080), 0x10004, hlim=29)[0]
    err = b2gw(IPv6(src=EP6, dst=CLIENT6) / ICMPv6TimeExceeded(code=1) / raw(got_late)[:1232])

    out_a, out_b, st = run(tmp_path, config(tmp_path, extra=SVC),
                           a=[a2gw(p) for p in fwd] + a_fillers(64),
                           b=fillers(160) + [b2gw(p) for p in r_udp + r_echo] + [err],
                           settle=2.5)
    to_ep = [p for p in out_b if IPv6 in p]
    assert all(p[IPv6].src == CLIENT6 and p[IPv6].dst == EP6 and p[IPv6].hlim == 29
               for p in to_ep), [p.summary() for p in to_ep]
    byid = {}
    for p in to_ep:
        byid.setdefault(p[IPv6ExtHdrFragment].id, []).append(p)
    assert {i: len(v) for i, v in byid.items()} == {0x10001: 3, 0x10002: 3, 0x10004: 2}, \
        {hex(i): len(v) for i, v in byid.items()}
    w_udp = reassemble6(byid[0x10001])[0]
    assert (w_udp[UDP].sport, w_udp[UDP].dport) == (5000, 8080) and w_udp[UDP].load == DATA
    w_echo = reassemble6(byid[0x10002])[0]
    assert w_echo[ICMPv6EchoRequest].id == 78 and w_echo[ICMPv6EchoRequest].data == DATA
    assert l4_csum_ok(w_udp) and l4_csum_ok(w_echo)

    back = [p for p in out_a if IPv6ExtHdrFragment in p and ICMPv6TimeExceeded not in p]
    assert len(back) == 6, [p.summary() for p in out_a]
    assert all(p[IPv6].src == VIP6 and p[IPv6].dst == CLIENT6 for p in back)
    byid = {}
    for p in back:
        byid.setdefault(p[IPv6ExtHdrFragment].id, []).append(p)
    w_udp = reassemble6(byid[0x20001])[0]
    assert w_udp[UDP].sport == 53 and w_udp[UDP].load == DATA and l4_csum_ok(w_udp)
    w_echo = reassemble6(byid[0x20002])[0]
    assert w_echo[ICMPv6EchoReply].id == 78 and l4_csum_ok(w_echo)

    e = [p for p in out_a if ICMPv6TimeExceeded in p]
    assert len(e) == 1, [p.summary() for p in out_a]
    e = e[0]
    assert (e[IPv6].src, e[IPv6].dst) == (VIP6, CLIENT6) and csum_ok(e)
    assert (e[IPerror6].src, e[IPerror6].dst) == (CLIENT6, VIP6)
    assert e[IPerror6][IPv6ExtHdrFragment].m == 1 and e[IPerror6][IPv6ExtHdrFragment].offset == 0
    assert (IPv6(raw(e[IPerror6]))[UDP].sport, IPv6(raw(e[IPerror6]))[UDP].dport) == (5002, 53)
    assert quoted_l4_ck_restored(e, late[0])

    assert others(st) == {"nat-untranslatable": 1 + 2, "nat-fragment-checksum": 1}, others(st)
    assert st["nat"]["fragments_unknown"] == 1 + 2, st["nat"]
    assert st["nat"]["fragments"] == 2 + 2 + 1 + 2 + 2, st["nat"]


def test_icmp_errors_about_snat_first_fragments(tmp_path):
    """Through a gateway's source NAT (IPv4 and NAT66): a router's time exceeded
    about a translated first fragment reaches the pod with the quote as the pod
    sent it (the datagram's L4 checksum restored), every checksum right."""
    out4 = frags4_data("10.0.1.2", "198.51.100.7", UDP(sport=20030, dport=53), 0x3001)
    out6 = frags6_data("fd00:1::2", "2001:db8:100::7", UDP(sport=20031, dport=53), 0x30002)
    # (port_preserve: the ports stay; the source address is the gateway's)
    got4 = frags4_data("10.0.2.1", "198.51.100.7", UDP(sport=20030, dport=53), 0x3001, ttl=1)[0]
    got6 = frags6_data("fd00:2::1", "2001:db8:100::7", UDP(sport=20031, dport=53), 0x30002,
                       hlim=1)[0]
    errs = [b2gw(IP(src="10.0.2.2", dst="10.0.2.1") / ICMP(type=11, code=0) / raw(got4)[:548]),
            b2gw(IPv6(src="fd00:2::2", dst="fd00:2::1") / ICMPv6TimeExceeded(code=0) /
                 raw(got6)[:1232])]
    out_a, out_b, st = run(tmp_path, gw_cfg(tmp_path), a=[a2gw(p) for p in out4 + out6],
                           b=fillers(160) + errs, settle=2.5)
    sent4 = [p for p in out_b if IP in p and p[IP].dst == "198.51.100.7"]
    sent6 = [p for p in out_b if IPv6 in p and p[IPv6].dst == "2001:db8:100::7"]
    assert len(sent4) == 3 and len(sent6) == 3, [p.summary() for p in out_b]
    # What left is what the errors quote (so the test's quotes are realistic).
    assert raw(sent4[0][IP])[20:28] == raw(got4)[20:28]
    assert raw(sent6[0][IPv6])[48:56] == raw(got6)[48:56]

    e4 = [p for p in out_a if ICMP in p and p[ICMP].type == 11]
    e6 = [p for p in out_a if ICMPv6TimeExceeded in p]
    assert len(e4) == 1 and len(e6) == 1, [p.summary() for p in out_a]
    e4, e6 = e4[0], e6[0]
    assert (e4[IP].src, e4[IP].dst) == ("10.0.2.2", "10.0.1.2") and csum_ok(e4)
    assert (e4[IPerror].src, e4[UDPerror].sport) == ("10.0.1.2", 20030)
    assert e4[IPerror].flags.MF and ip4_hdr_ok(e4[IPerror])
    assert quoted_l4_ck_restored(e4, out4[0])
    assert (e6[IPv6].src, e6[IPv6].dst) == ("fd00:2::2", "fd00:1::2") and csum_ok(e6)
    assert (e6[IPerror6].src, IPv6(raw(e6[IPerror6]))[UDP].sport) == ("fd00:1::2", 20031)
    assert e6[IPerror6][IPv6ExtHdrFragment].m == 1
    assert quoted_l4_ck_restored(e6, out6[0])
    assert others(st) == {}, others(st)


def test_service_fragments_two_workers(tmp_path):
    """Two workers, two queues per port (queue 0 reads the packets, queue 1 an
    empty file): of two first datagrams, one belongs to the worker that reads
    it and one to the other (the client's worker owns a nat service flow).
    The handed first fragment leaves a pending entry: its later fragments go
    on to the service node, which hands them over behind it. The endpoint's
    fragmented replies are handed to the client's worker by the nat node."""
    sports = [next(p for p in range(5000, 6000) if owner(CLIENT4, p, 2) == o) for o in (0, 1)]
    ident = next(i for i in range(100, 1000) if owner(CLIENT4, i, 2) == 1)
    fwd, back = [], []
    for n, sp in enumerate(sports):
        fwd += frags4_data(CLIENT4, VIP4, UDP(sport=sp, dport=53), 0x4000 + n)
        back += frags4_data(EP4, CLIENT4, UDP(sport=8080, dport=sp), 0x5000 + n)
    fwd += frags6_data(CLIENT6, VIP6, ICMPv6EchoRequest(id=ident, seq=1), 0x4002)
    out_a, out_b, st = run_two_workers(tmp_path, config(tmp_path, extra=SVC),
                                       a=[a2gw(p) for p in fwd] + a_fillers(64),
                                       b=fillers(160) + [b2gw(p) for p in back], settle=2.5)

    sent4 = [p for p in out_b if IP in p]
    assert len(sent4) == 6 and all(p[IP].dst == EP4 for p in sent4), \
        [p.summary() for p in out_b]
    whole = {p[IP].id: p for p in reassemble4(sent4)}
    assert set(whole) == {0x4000, 0x4001}
    assert [whole[0x4000 + n][UDP].sport for n in (0, 1)] == sports
    assert all(p[UDP].dport == 8080 and p[UDP].load == DATA and l4_csum_ok(p)
               for p in whole.values())
    sent6 = [p for p in out_b if IPv6 in p]
    assert len(sent6) == 3 and all(p[IPv6].dst == EP6 for p in sent6)
    w6 = reassemble6(sent6)[0]
    assert w6[ICMPv6EchoRequest].id == ident and l4_csum_ok(w6)

    got = [p for p in out_a if IP in p and p[IP].src == VIP4]
    assert len(got) == 6, [(hex(p[IP].id), p[IP].src, p[IP].frag) for p in out_a if IP in p]
    whole = {p[IP].id: p for p in reassemble4(got)}
    assert set(whole) == {0x5000, 0x5001}
    assert all(p[UDP].sport == 53 and l4_csum_ok(p) for p in whole.values())
    assert st["nat"]["handoffs"] > 0 and st["nat"]["handoff_drops"] == 0, st["nat"]
    assert others(st) == {}, others(st)


def test_published_service_first_packet_fragmented(tmp_path):
    """A gateway's published service (destination NAT from the outside): a
    client's first TCP segment in fragments reaches the pod endpoint, and the
    pod's fragmented answer leaves from the gateway's address and port."""
    syn = frags4_data("198.51.100.9", "10.0.2.1", TCP(sport=5555, dport=8080, flags="S"),
                      0x6001)
    ans = frags4_data("10.0.1.2", "198.51.100.9", TCP(sport=80, dport=5555, flags="SA"), 0x6002)
    out_a, out_b, st = run(tmp_path, gw_cfg(tmp_path), a=a_fillers(320) + [a2gw(p) for p in ans],
                           b=[b2gw(p) for p in syn], settle=2.5)
    inn = [p for p in out_a if IP in p]
    assert len(inn) == 3 and all(p[IP].dst == "10.0.1.2" for p in inn), \
        [p.summary() for p in out_a]
    w = reassemble4(inn)[0]
    assert (w[TCP].sport, w[TCP].dport) == (5555, 80) and w[TCP].load == DATA and l4_csum_ok(w)
    out = [p for p in out_b if IP in p]
    assert len(out) == 3 and all(p[IP].src == "10.0.2.1" for p in out), \
        [p.summary() for p in out_b]
    w = reassemble4(out)[0]
    assert (w[TCP].sport, w[TCP].dport) == (8080, 5555) and l4_csum_ok(w)
    assert st["nat"]["fragments"] == 4 and others(st) == {}, (st["nat"], others(st))
