# SPDX-License-Identifier: BSD-3-Clause
"""Classification rules on net_pcap: IPv4 and IPv6 traffic hitting rules of
every action (deny, permit, count, police, mark, table), priorities, port
ranges, protocol any, default deny, and the per-rule counters in the final
stats. Each expectation is written from the rules, packet by packet."""
from scapy.all import ICMP, IP, TCP, UDP, Ether, ICMPv6EchoRequest, IPv6, Raw, raw

from pcapdp import GW_MAC, HOST_MAC, config, nonzero_drops, run


def a2gw(l3):
    return Ether(src=HOST_MAC["a"], dst=GW_MAC["a"]) / l3


def ip4(dst="10.0.2.2", **kw):
    return IP(src="10.0.1.2", dst=dst, **kw)


def ip6(dst="fd00:2::2", **kw):
    return IPv6(src="fd00:1::2", dst=dst, **kw)


def rules(text, network="default", default="permit"):
    return f"classify:\n  - network: {network}\n    default: {default}\n    rules:\n{text}"


def key(p):
    """What identifies a sent packet in the output: its tag (see tagged)."""
    b = raw(p)
    i = b.rfind(b"pkt")
    return b[i:i + 6]


def tagged(pkts):
    """Give every packet a distinct payload so outputs map back to inputs."""
    return [p / Raw(b"pkt%03d" % i) for i, p in enumerate(pkts)]


def test_deny_permit_count_both_families(tmp_path):
    r = rules("""\
      - {id: 1, protocol: tcp, dport: 22, action: deny}
      - {id: 2, dst: "fd00:2::/64", protocol: udp, dport: 1000-2000, action: deny}
      - {id: 3, src: 10.0.1.0/24, protocol: udp, action: count}
      - {id: 4, protocol: icmpv6, icmp_type: 128, action: count}
      - {id: 5, dport: 5000-5001, action: deny}
""")
    sent = tagged([
        a2gw(ip4() / TCP(sport=1, dport=22)),           # 1: deny
        a2gw(ip6() / TCP(sport=1, dport=22)),           # 1 (both families): deny
        a2gw(ip4() / TCP(sport=1, dport=23)),           # default
        a2gw(ip6() / UDP(sport=1, dport=1500)),         # 2: deny
        a2gw(ip6() / UDP(sport=1, dport=2001)),         # default
        a2gw(ip4() / UDP(sport=1, dport=1500)),         # 3 (2 is IPv6 only)
        a2gw(ip6() / ICMPv6EchoRequest(id=1, seq=1)),   # 4
        a2gw(ip4() / ICMP(type=8, code=0)),             # default
        a2gw(ip4() / UDP(sport=9, dport=5001)),         # 3 (earlier) wins over 5
        a2gw(ip6() / UDP(sport=9, dport=5000)),         # 5: no protocol, UDP: deny
        a2gw(ip6() / TCP(sport=9, dport=5001)),         # 5: deny
    ])
    _, out_b, st = run(tmp_path, config(tmp_path, extra=r), a=sent)
    got = {key(p) for p in out_b}
    want_pass = {0: False, 1: False, 2: True, 3: False, 4: True, 5: True, 6: True, 7: True,
                 8: True, 9: False, 10: False}
    for i, ok in want_pass.items():
        assert (key(sent[i]) in got) == ok, f"packet {i}"
    assert len(out_b) == sum(want_pass.values())
    assert nonzero_drops(st) == {"rule-deny": 5}
    c = st["rules"]["default"]
    assert (c["1"]["packets"], c["2"]["packets"], c["3"]["packets"], c["4"]["packets"],
            c["5"]["packets"], c["default"]["packets"]) == (2, 1, 2, 1, 2, 3)
    assert c["1"]["action"] == "deny" and c["3"]["action"] == "count"
    # Bytes are IP lengths.
    assert c["4"]["bytes"] == len(sent[6][IPv6])
    assert st["nodes"]["ip4-classify"]["packets"] == 5
    assert st["nodes"]["ip6-classify"]["packets"] == 6


def test_priority_and_default_deny(tmp_path):
    r = rules("""\
      - {id: 1, priority: 20, dst: 10.0.2.0/24, action: permit}
      - {id: 2, priority: 10, dst: 10.0.2.2, protocol: udp, sport: 100-199, action: deny}
      - {id: 3, priority: 20, dst: "fd00:2::/64", action: permit}
""", default="deny")
    sent = tagged([
        a2gw(ip4() / UDP(sport=150, dport=1)),        # 2 (priority 10) before 1: deny
        a2gw(ip4() / UDP(sport=200, dport=1)),        # 1
        a2gw(ip4(dst="198.51.100.7") / UDP()),        # no rule: default deny
        a2gw(ip6() / UDP(sport=150, dport=1)),        # 3
        a2gw(ip6(dst="2001:db8:100::1") / UDP()),     # default deny
    ])
    _, out_b, st = run(tmp_path, config(tmp_path, extra=r), a=sent)
    assert sorted(key(p) for p in out_b) == sorted([key(sent[1]), key(sent[3])])
    assert nonzero_drops(st) == {"rule-deny": 3}
    c = st["rules"]["default"]
    assert (c["1"]["packets"], c["2"]["packets"], c["3"]["packets"],
            c["default"]["packets"]) == (1, 1, 1, 2)


def test_mark_rewrites_dscp_and_checksum(tmp_path):
    r = rules("""\
      - {id: 1, protocol: udp, dport: 5060, action: mark, set_dscp: 46}
""")
    sent = tagged([a2gw(ip4(tos=0x01) / UDP(sport=1, dport=5060)),
                   a2gw(ip6(tc=0x02) / UDP(sport=1, dport=5060)),
                   a2gw(ip4(tos=0x20) / UDP(sport=1, dport=5061))])
    _, out_b, st = run(tmp_path, config(tmp_path, extra=r), a=sent)
    assert len(out_b) == 3
    by = {key(p): p for p in out_b}
    m4, m6, other = by[key(sent[0])], by[key(sent[1])], by[key(sent[2])]
    assert m4[IP].tos == (46 << 2) | 0x01                 # ECN kept
    c = m4[IP].copy()
    del c.chksum
    assert m4[IP].chksum == IP(raw(c)).chksum
    assert m6[IPv6].tc == (46 << 2) | 0x02
    assert other[IP].tos == 0x20
    assert st["rules"]["default"]["1"]["packets"] == 2


def test_police_drops_over_the_burst(tmp_path):
    # 1 byte/s and a 1000-byte burst: of ten 228-byte IPv4 packets four fit.
    r = rules("""\
      - {id: 1, protocol: udp, dport: 9, action: police, rate: 1, burst: 1000}
""")
    sent = tagged([a2gw(ip4() / UDP(sport=1, dport=9) / Raw(b"x" * 194)) for _ in range(10)])
    assert len(sent[0][IP]) == 228
    _, out_b, st = run(tmp_path, config(tmp_path, extra=r), a=sent)
    assert len(out_b) == 4
    assert nonzero_drops(st) == {"rule-police": 6}
    c = st["rules"]["default"]["1"]
    assert (c["packets"], c["green"], c["yellow"], c["red"]) == (10, 4, 0, 6)
    assert c["red_bytes"] == 6 * 228


def test_table_routes_in_another_network(tmp_path):
    # Port c is in network "side", where 198.51.100.0/24 leads out of c; in the
    # default network it leads out of b. A table rule sends UDP to port 7 through
    # "side"'s route table.
    nets = "  - {name: side}"
    c_port = ("  - name: c\n"
              "    device: \"net_pcap{n},rx_pcap={d}/in_a.pcap,tx_pcap={d}/out_c.pcap\"\n"
              "    network: side\n"
              "    mac: \"02:00:00:00:0c:01\"\n"
              "    ipv4: [10.0.3.1/24]\n")
    neigh = "  - {interface: c, ip: 10.0.3.2, mac: \"02:00:00:00:0c:02\"}"
    routes = "  - {network: side, prefix: 198.51.100.0/24, via: 10.0.3.2}"
    r = rules("""\
      - {id: 1, protocol: udp, dport: 7, action: table, table: side}
""")
    cfg = config(tmp_path, networks=nets, b_extra=c_port.format(n=900, d=tmp_path),
                 neighbors=neigh, routes=routes, extra=r)
    # Port c reads the same (empty for it) input: give it an input file of its own.
    cfg = cfg.replace(f"rx_pcap={tmp_path}/in_a.pcap,tx_pcap={tmp_path}/out_c.pcap",
                      f"rx_pcap={tmp_path}/in_c.pcap,tx_pcap={tmp_path}/out_c.pcap")
    from pcapdp import write_pcap
    from scapy.all import rdpcap
    write_pcap(tmp_path / "in_c.pcap", [])
    sent = tagged([a2gw(ip4(dst="198.51.100.7") / UDP(sport=1, dport=7)),
                   a2gw(ip4(dst="198.51.100.7") / UDP(sport=1, dport=8))])
    _, out_b, st = run(tmp_path, cfg, a=sent)
    out_c = list(rdpcap(str(tmp_path / "out_c.pcap")))
    assert [key(p) for p in out_c] == [key(sent[0])]
    assert out_c[0][Ether].dst == "02:00:00:00:0c:02"
    assert [key(p) for p in out_b] == [key(sent[1])]
    assert st["rules"]["default"]["1"]["packets"] == 1


def test_networks_without_rules_skip_classification(tmp_path):
    sent = [a2gw(ip4() / UDP(sport=1, dport=2)), a2gw(ip6() / UDP(sport=1, dport=2))]
    _, out_b, st = run(tmp_path, config(tmp_path), a=sent)
    assert len(out_b) == 2
    assert st["nodes"]["ip4-classify"]["packets"] == 0
    assert st["nodes"]["ip6-classify"]["packets"] == 0
    assert st["rules"] == {}


def test_vlan_interface_and_dscp_matches(tmp_path):
    from scapy.all import Dot1Q
    vlans = """    vlans:
      - id: 100
        ipv4: [10.0.100.1/24]
        ipv6: ["fd00:100::1/64"]
"""
    r = rules("""\
      - {id: 1, vlan: 100, protocol: udp, dport: 7, action: deny}
      - {id: 2, interface: a, dscp: 10, action: deny}
      - {id: 3, interface: b, action: count}
      - {id: 4, dscp: 10, action: count}
""")
    tagged_in = Ether(src="02:00:00:00:0a:64", dst=GW_MAC["a"]) / Dot1Q(vlan=100)
    b2gw = Ether(src=HOST_MAC["b"], dst=GW_MAC["b"])
    sent_a = tagged([
        tagged_in / IP(src="10.0.100.2", dst="10.0.2.2") / UDP(sport=1, dport=7),     # 1
        tagged_in / IPv6(src="fd00:100::2", dst="fd00:2::2") / UDP(sport=1, dport=7),  # 1
        tagged_in / IP(src="10.0.100.2", dst="10.0.2.2") / UDP(sport=1, dport=8),     # default
        a2gw(ip4() / UDP(sport=1, dport=7)),                     # untagged: default
        a2gw(ip4(tos=10 << 2) / UDP(sport=1, dport=9)),          # 2
        a2gw(ip6(tc=10 << 2) / UDP(sport=1, dport=9)),           # 2
        tagged_in / IP(src="10.0.100.2", dst="10.0.2.2", tos=10 << 2) / UDP(dport=9),  # 4 (a.100 is not a)
    ])
    sent_b = tagged([b2gw / IP(src="10.0.2.2", dst="10.0.1.2") / UDP(sport=1, dport=7)])  # 3
    neigh = "  - {interface: a.100, ip: 10.0.100.2, mac: \"02:00:00:00:0a:64\"}"
    out_a, out_b, st = run(tmp_path, config(tmp_path, a_extra=vlans, neighbors=neigh, extra=r),
                           a=sent_a, b=sent_b)
    assert sorted(key(p) for p in out_b) == sorted(key(sent_a[i]) for i in (2, 3, 6))
    assert [key(p) for p in out_a] == [key(sent_b[0])]
    c = st["rules"]["default"]
    assert (c["1"]["packets"], c["2"]["packets"], c["3"]["packets"], c["4"]["packets"],
            c["default"]["packets"]) == (2, 2, 1, 1, 2)
    assert nonzero_drops(st) == {"rule-deny": 4}


def test_rules_of_one_network_leave_the_other_alone(tmp_path):
    """VLAN 200 is in network 'blue', which reuses 10.0.1.0/24: blue denies
    UDP, default has no rules. The same packet passes untagged (default) and
    is denied tagged 200 (blue); blue's counters see only blue's packet."""
    from scapy.all import Dot1Q
    vlans = """    vlans:
      - id: 200
        network: blue
        ipv4: [10.0.1.1/24]
        ipv6: ["fd00:1::1/64"]
"""
    r = rules("      - {id: 1, protocol: udp, action: deny}\n", network="blue")
    pkt = IP(src="10.0.1.2", dst="10.0.2.2") / UDP(sport=5, dport=5)
    pkt6 = IPv6(src="fd00:1::2", dst="fd00:2::2") / UDP(sport=5, dport=5)
    sent = tagged([
        Ether(src=HOST_MAC["a"], dst=GW_MAC["a"]) / Dot1Q(vlan=200) / pkt,
        Ether(src=HOST_MAC["a"], dst=GW_MAC["a"]) / Dot1Q(vlan=200) / pkt6,
        a2gw(pkt),
        a2gw(pkt6),
    ])
    _, out_b, st = run(tmp_path, config(tmp_path, a_extra=vlans, networks="  - name: blue",
                                        extra=r), a=sent)
    assert sorted(key(p) for p in out_b) == sorted([key(sent[2]), key(sent[3])])
    assert nonzero_drops(st) == {"rule-deny": 2}
    assert set(st["rules"]) == {"blue"}
    assert st["rules"]["blue"]["1"]["packets"] == 2
    assert st["nodes"]["ip4-classify"]["packets"] == 1
    assert st["nodes"]["ip6-classify"]["packets"] == 1
