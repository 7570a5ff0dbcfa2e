# SPDX-License-Identifier: BSD-3-Clause
"""NAT of fragmented datagrams through a gateway, on net_pcap (the af_packet
PMD has the kernel reassemble, so fragments are tested here). scapy
fragments UDP and ICMP datagrams both ways through source NAT (IPv4 and
NAT66); every fragment must leave translated, and scapy's reassembly of
what left must give a datagram whose checksum it recomputes to the same
value. A later fragment that comes before its first is dropped and
counted (nat-untranslatable); the rest of its datagram still crosses."""
from functools import partial

from scapy.all import ICMP, IP, UDP, IPv6

import natfrag
from natfrag import ip4_ok, l4_csum_ok, owner, reassemble4, reassemble6
from pcapdp import config, run, run_two_workers
from test_nat import GW, a2gw, a_fillers, b2gw, fillers, gw_cfg, others

PAYLOAD = bytes(range(256)) * 12  # 3072 bytes: 4 fragments of 1000 (IPv4)
frags4 = partial(natfrag.frags4, data=PAYLOAD)
frags6 = partial(natfrag.frags6, data=PAYLOAD, size=1280)


def test_fragments_through_snat_v4(tmp_path):
    udp = frags4("10.0.1.2", "198.51.100.7", UDP(sport=20010, dport=53), 0x1111)
    icmp = frags4("10.0.1.2", "198.51.100.7", ICMP(type=8, id=20011, seq=1), 0x2222)
    # Reordered: its second fragment first (no first seen yet: dropped), then the rest.
    late = frags4("10.0.1.2", "198.51.100.7", UDP(sport=20012, dport=53), 0x3333)
    late = [late[1], late[0]] + late[2:]
    assert len(udp) == 4 and len(icmp) == 4
    reply = frags4("198.51.100.7", "10.0.2.1", UDP(sport=53, dport=20010), 0x4444)
    ereply = frags4("198.51.100.7", "10.0.2.1", ICMP(type=0, id=20011, seq=1), 0x5555)
    a = [a2gw(p) for p in udp + icmp + late] + a_fillers(64)
    b = fillers(160) + [b2gw(p) for p in reply + ereply]
    out_a, out_b, st = run(tmp_path, gw_cfg(tmp_path), a=a, b=b, settle=2.5)

    sent = [p for p in out_b if IP in p and p[IP].dst == "198.51.100.7"]
    assert len(sent) == 4 + 4 + 3, [p.summary() for p in out_b]
    assert all(p[IP].src == "10.0.2.1" and p[IP].ttl == 29 for p in sent)
    assert all(ip4_ok(p) for p in sent)  # every IPv4 header checksum verifies
    whole = {p[IP].id: p for p in reassemble4(sent)}
    assert set(whole) == {0x1111, 0x2222}, whole  # 0x3333 lost its second fragment
    assert whole[0x1111][UDP].sport == 20010 and whole[0x1111][UDP].load == PAYLOAD
    assert whole[0x2222][ICMP].id == 20011 and whole[0x2222][ICMP].load == PAYLOAD
    assert all(l4_csum_ok(p) for p in whole.values())

    back = [p for p in out_a if IP in p and p[IP].src == "198.51.100.7"]
    assert len(back) == 8, [p.summary() for p in out_a]
    assert all(p[IP].dst == "10.0.1.2" for p in back)
    whole = {p[IP].id: p for p in reassemble4(back)}
    assert set(whole) == {0x4444, 0x5555}
    assert whole[0x4444][UDP].dport == 20010 and whole[0x4444][UDP].load == PAYLOAD
    assert whole[0x5555][ICMP].id == 20011
    assert all(l4_csum_ok(p) for p in whole.values())
    assert others(st) == {"nat-untranslatable": 1}, others(st)


def test_fragments_through_nat66(tmp_path):
    out = frags6("fd00:1::2", "2001:db8:100::7", UDP(sport=20020, dport=53), 0x10203)
    reply = frags6("2001:db8:100::7", "fd00:2::1", UDP(sport=53, dport=20020), 0x40506)
    assert len(out) == 3
    a = [a2gw(p) for p in out] + a_fillers(64)
    b = fillers(160) + [b2gw(p) for p in reply]
    out_a, out_b, st = run(tmp_path, gw_cfg(tmp_path), a=a, b=b, settle=2.5)

    sent = [p for p in out_b if IPv6 in p and p[IPv6].dst == "2001:db8:100::7"]
    assert len(sent) == 3, [p.summary() for p in out_b]
    assert all(p[IPv6].src == "fd00:2::1" for p in sent)
    whole = reassemble6(sent)
    assert len(whole) == 1 and whole[0][UDP].sport == 20020 and whole[0][UDP].load == PAYLOAD
    assert l4_csum_ok(whole[0])
    back = [p for p in out_a if IPv6 in p and p[IPv6].src == "2001:db8:100::7"]
    assert len(back) == 3, [p.summary() for p in out_a]
    assert all(p[IPv6].dst == "fd00:1::2" for p in back)
    whole = reassemble6(back)
    assert len(whole) == 1 and whole[0][UDP].dport == 20020 and l4_csum_ok(whole[0])
    assert others(st) == {}, others(st)


def test_fragments_through_snat_two_workers(tmp_path):
    """Two workers, two queues per port (queue 0 reads the packets, queue 1 an
    empty file): a datagram whose flow belongs to the other worker is handed
    to it, first fragment first, and its later fragments follow through the
    same ring (the pending entry); replies are handed to their port's owner."""
    # The pod is 10.0.1.7, not a nat endpoint (10.0.1.2 is web4's): its packets go
    # straight to the gateway's owner worker, not first to another by the endpoint
    # filter (a second nat pass in the owner's walk, which a reply in the same
    # batch could overtake).
    cfg = config(tmp_path, networks="  - {name: pods}", a_extra="    network: pods",
                 neighbors='  - {interface: a, ip: 10.0.1.7, mac: "02:00:00:00:0a:02"}',
                 extra=GW.format(v6="").replace("10.0.1.2/32", "10.0.1.0/24"))
    # Ports kept (port_preserve) when in the owner's block: 20000-20499, 20500-20999.
    o = owner("198.51.100.7", 53, 2)
    sport = 20010 + 500 * o
    ident = next(i for i in range(20000, 21000)
                 if (i >= 20500) == bool(owner("198.51.100.7", i, 2)))
    udp = frags4("10.0.1.7", "198.51.100.7", UDP(sport=sport, dport=53), 0x1111)
    icmp = frags4("10.0.1.7", "198.51.100.7", ICMP(type=8, id=ident, seq=1), 0x2222)
    reply = frags4("198.51.100.7", "10.0.2.1", UDP(sport=53, dport=sport), 0x4444)
    a = [a2gw(p) for p in udp + icmp] + a_fillers(64)
    b = fillers(160) + [b2gw(p) for p in reply]
    out_a, out_b, st = run_two_workers(tmp_path, cfg, a=a, b=b, settle=2.5)

    sent = [p for p in out_b if IP in p and p[IP].dst == "198.51.100.7"]
    assert len(sent) == 8, [p.summary() for p in out_b]
    assert all(p[IP].src == "10.0.2.1" for p in sent)
    whole = {p[IP].id: p for p in reassemble4(sent)}
    assert set(whole) == {0x1111, 0x2222}, whole
    assert whole[0x1111][UDP].sport == sport and whole[0x2222][ICMP].id == ident
    assert all(l4_csum_ok(p) for p in whole.values())
    back = [p for p in out_a if IP in p and p[IP].src == "198.51.100.7"]
    assert len(back) == 4, [p.summary() for p in out_a]
    assert all(p[IP].dst == "10.0.1.7" for p in back)
    whole = reassemble4(back)
    assert len(whole) == 1 and whole[0][UDP].dport == sport and l4_csum_ok(whole[0])
    assert st["nat"]["handoffs"] > 0 and st["nat"]["handoff_drops"] == 0, st["nat"]
    assert others(st) == {}, others(st)
