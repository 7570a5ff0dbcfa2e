# SPDX-License-Identifier: BSD-3-Clause
"""NAT of fragmented datagrams through a gateway, on net_pcap (the af_packet
PMD has the kernel reassemble, so fragments are tested here). scapy
fragments UDP and ICMP datagrams both ways through source NAT (IPv4 and
NAT66); every fragment must leave translated, and scapy's reassembly of
what left must give a datagram whose checksum it recomputes to the same
value. A later fragment that comes before its first is dropped and
counted (nat-untranslatable); the rest of its datagram still crosses."""
from scapy.all import ICMP, IP, UDP, IPv6, Raw, fragment, fragment6, raw
from scapy.layers.inet import defragment
from scapy.layers.inet6 import IPv6ExtHdrFragment, defragment6

from pcapdp import config, nonzero_drops, run
from test_nat import GW, a2gw, a_fillers, b2gw, fillers

PAYLOAD = bytes(range(256)) * 12  # 3072 bytes: 4 fragments of 1000 (IPv4)


def gw_cfg(tmp_path):
    return config(tmp_path, networks="  - {name: pods}", a_extra="    network: pods",
                  extra=GW.format(v6=""))


def frags4(src, dst, l4, fid, size=1000):
    return fragment(IP(src=src, dst=dst, ttl=30, id=fid) / l4 / Raw(PAYLOAD), fragsize=size)


def frags6(src, dst, l4, fid):
    p = IPv6(src=src, dst=dst, hlim=30) / IPv6ExtHdrFragment(id=fid) / l4 / Raw(PAYLOAD)
    return fragment6(p, 1280)


def l4_csum_ok(p):
    """The reassembled datagram's L4 checksum is what scapy computes."""
    l4 = p[IP].payload if IP in p else p[IPv6].payload
    while l4.name == "IPv6 Extension Header - Fragmentation header":
        l4 = l4.payload
    f = "chksum" if "chksum" in l4.fields else "cksum"
    got = getattr(l4, f)
    setattr(l4, f, None)
    q = (IP if IP in p else IPv6)(raw(p[IP] if IP in p else p[IPv6]))
    l4q = q.payload
    while l4q.name == "IPv6 Extension Header - Fragmentation header":
        l4q = l4q.payload
    return got == getattr(l4q, f)


def reassemble4(pkts):
    whole = defragment([p[IP] for p in pkts])
    return [p for p in whole if p.flags.MF == 0 and p.frag == 0]


def reassemble6(pkts):
    return [IPv6(raw(defragment6([p[IPv6] for p in pkts])))]


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
    for p in sent:  # every IPv4 header checksum verifies
        q = IP(raw(p[IP]))
        del q.chksum
        assert IP(raw(q)).chksum == p[IP].chksum
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
    drops = {k: v for k, v in nonzero_drops(st).items() if k != "unknown-ethertype"}
    assert drops == {"nat-untranslatable": 1}, drops


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
    drops = {k: v for k, v in nonzero_drops(st).items() if k != "unknown-ethertype"}
    assert drops == {}, drops


def owner(addr, port, n):
    """lib/natgw's mg_natgw_owner: the worker of flows whose remote side is @addr, @port."""
    import ipaddress
    b = ipaddress.ip_address(addr).packed
    h = (0x9e3779b9 * int.from_bytes(port.to_bytes(2, "big"), "little")) & 0xffffffff
    for i in range(0, len(b), 4):
        h = ((h ^ int.from_bytes(b[i:i + 4], "little")) * 0x85ebca6b) & 0xffffffff
        h ^= h >> 15
    return (h * n) >> 32


def test_fragments_through_snat_two_workers(tmp_path):
    """Two workers, two queues per port (queue 0 reads the packets, queue 1 an
    empty file): a datagram whose flow belongs to the other worker is handed
    to it, first fragment first, and its later fragments follow through the
    same ring (the pending entry); replies are handed to their port's owner."""
    import os
    import pathlib
    import re
    from pcapdp import write_pcap
    from scapy.all import rdpcap

    write_pcap(tmp_path / "empty.pcap", [])
    # The pod is 10.0.1.7, not a nat endpoint (10.0.1.2 is web4's): its packets go
    # straight to the gateway's owner worker, not first to another by the endpoint
    # filter (a second nat pass in the owner's walk, which a reply in the same
    # batch could overtake).
    cfg = config(tmp_path, networks="  - {name: pods}", a_extra="    network: pods",
                 neighbors='  - {interface: a, ip: 10.0.1.7, mac: "02:00:00:00:0a:02"}',
                 extra=GW.format(v6="").replace("10.0.1.2/32", "10.0.1.0/24"))
    cfg = cfg.replace('lcores: "0-1"', 'lcores: "0@0,1@1,2@1"')
    cfg = cfg.replace("memory_mb: 512", "memory_mb: 768")
    # (a device string holds at most 255 characters: the files through a short link)
    short = pathlib.Path(f"/tmp/mgnf{os.getpid()}")
    short.unlink(missing_ok=True)
    short.symlink_to(tmp_path)
    cfg = re.sub(r"rx_pcap=\S+/in_(\w)\.pcap,tx_pcap=\S+/out_(\w)\.pcap",
                 rf"rx_pcap={short}/in_\1.pcap,rx_pcap={short}/empty.pcap,"
                 rf"tx_pcap={short}/out_\2.pcap,tx_pcap={short}/out_\2_1.pcap", cfg)
    assert cfg.count("empty.pcap") == 2
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
    try:
        out_a, out_b, st = run(tmp_path, cfg, a=a, b=b, settle=2.5)
    finally:
        short.unlink()
    out_a += list(rdpcap(str(tmp_path / "out_a_1.pcap")))
    out_b += list(rdpcap(str(tmp_path / "out_b_1.pcap")))

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
    drops = {k: v for k, v in nonzero_drops(st).items() if k != "unknown-ethertype"}
    assert drops == {}, drops
