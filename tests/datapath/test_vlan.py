# SPDX-License-Identifier: BSD-3-Clause
"""802.1Q sub-interfaces: tagged in, tagged out, ARP on a VLAN, and a VLAN
in its own network kept apart from an overlapping subnet."""
from scapy.all import ARP, ICMP, IP, UDP, Dot1Q, Ether, IPv6, IPerror

from pcapdp import GW_MAC, HOST_MAC, config, nonzero_drops, run

VLANS = """    vlans:
      - id: 100
        ipv4: [10.0.100.1/24]
        ipv6: ["fd00:100::1/64"]
      - id: 200
        network: blue
        ipv4: [10.0.1.1/24]
"""
NEIGH = """  - {interface: a.100, ip: 10.0.100.2, mac: "02:00:00:00:0a:64"}
  - {interface: a.100, ip: "fd00:100::2", mac: "02:00:00:00:0a:64"}
"""
NETS = "  - name: blue\n"


def cfg(tmp):
    return config(tmp, a_extra=VLANS, neighbors=NEIGH, networks=NETS)


def test_tagged_in_untagged_out_and_back_tagged(tmp_path):
    tin = Ether(src="02:00:00:00:0a:64", dst=GW_MAC["a"]) / Dot1Q(vlan=100) / \
        IP(src="10.0.100.2", dst="10.0.2.2") / UDP(sport=1)
    back = Ether(src=HOST_MAC["b"], dst=GW_MAC["b"]) / IP(src="10.0.2.2", dst="10.0.100.2") / \
        UDP(sport=2)
    back6 = Ether(src=HOST_MAC["b"], dst=GW_MAC["b"]) / IPv6(src="fd00:2::2", dst="fd00:100::2") / \
        UDP(sport=3)
    out_a, out_b, st = run(tmp_path, cfg(tmp_path), a=[tin], b=[back, back6])
    assert len(out_b) == 1 and Dot1Q not in out_b[0] and out_b[0][UDP].sport == 1
    assert len(out_a) == 2
    for p in out_a:
        assert p[Dot1Q].vlan == 100 and p[Ether].dst == "02:00:00:00:0a:64"
        assert p[Ether].src == GW_MAC["a"]
    assert sorted(p[UDP].sport for p in out_a) == [2, 3]
    assert nonzero_drops(st) == {}


def test_arp_on_a_vlan_is_answered_tagged(tmp_path):
    req = Ether(src="02:00:00:00:0a:64", dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=100) / \
        ARP(op=1, hwsrc="02:00:00:00:0a:64", psrc="10.0.100.2", pdst="10.0.100.1")
    out_a, _, _ = run(tmp_path, cfg(tmp_path), a=[req])
    assert len(out_a) == 1
    assert out_a[0][Dot1Q].vlan == 100 and out_a[0][ARP].op == 2
    assert out_a[0][ARP].psrc == "10.0.100.1"


def test_vlan_network_is_separate(tmp_path):
    """VLAN 200 is in network 'blue', which reuses 10.0.1.0/24 and has no
    route to 10.0.2.0/24: its traffic gets net-unreachable, tagged 200,
    while the same addresses untagged are forwarded in 'default'."""
    blue = Ether(src=HOST_MAC["a"], dst=GW_MAC["a"]) / Dot1Q(vlan=200) / \
        IP(src="10.0.1.2", dst="10.0.2.2") / UDP(sport=5)
    plain = Ether(src=HOST_MAC["a"], dst=GW_MAC["a"]) / IP(src="10.0.1.2", dst="10.0.2.2") / \
        UDP(sport=6)
    echo = Ether(src=HOST_MAC["a"], dst=GW_MAC["a"]) / Dot1Q(vlan=200) / \
        IP(src="10.0.1.3", dst="10.0.1.1") / ICMP(type=8)
    out_a, out_b, st = run(tmp_path, config(tmp_path, a_extra=VLANS, networks=NETS,
                                            neighbors=NEIGH +
                                            '  - {interface: a.200, ip: 10.0.1.2, mac: "02:00:00:00:0a:c8"}\n'
                                            '  - {interface: a.200, ip: 10.0.1.3, mac: "02:00:00:00:0a:c9"}\n'),
                           a=[blue, plain, echo])
    assert [p[UDP].sport for p in out_b] == [6]
    unreach = [p for p in out_a if ICMP in p and p[ICMP].type == 3]
    assert len(unreach) == 1
    assert unreach[0][Dot1Q].vlan == 200 and unreach[0][Ether].dst == "02:00:00:00:0a:c8"
    assert unreach[0][IPerror].dst == "10.0.2.2"
    reply = [p for p in out_a if ICMP in p and p[ICMP].type == 0]
    assert len(reply) == 1 and reply[0][Dot1Q].vlan == 200
    assert reply[0][Ether].dst == "02:00:00:00:0a:c9"
    assert nonzero_drops(st) == {"no-route": 1}


def test_unknown_vlan_dropped(tmp_path):
    p = Ether(src=HOST_MAC["a"], dst=GW_MAC["a"]) / Dot1Q(vlan=300) / \
        IP(src="10.0.1.2", dst="10.0.2.2") / UDP()
    _, out_b, st = run(tmp_path, cfg(tmp_path), a=[p])
    assert out_b == [] and nonzero_drops(st) == {"unknown-vlan": 1}
