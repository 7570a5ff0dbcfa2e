# SPDX-License-Identifier: BSD-3-Clause
"""The outer next hop of ESP tunnels (net_pcap in and out).

esp-output resolves each tunnel's remote endpoint in its underlay once per
run of packets and, for a complete neighbor, writes the L2 header itself
and sends the ESP packets straight to port-tx; anything else goes through
ipX-lookup as before. These tests check where the ESP packets leave (port
and MAC, IPv4 and IPv6 outer, a remote reached through a gateway on the
other port) and decrypt them with scapy's ESP, that the shortcut skips the
second lookup, and that a remote without a resolved neighbor still gets
the lookup node's treatment (an ARP request, no ESP packet on the wire).
"""
from scapy.all import ARP, IP, UDP, Ether, IPv6, Raw
from scapy.layers.ipsec import ESP, SecurityAssociation

from pcapdp import GW_MAC, HOST_MAC, config, esp_tunnel, gcm_sa, run

B = dict(src=HOST_MAC["b"], dst=GW_MAC["b"])
KEY4, SALT4 = bytes(range(32, 48)), b"\x01\x02\x03\x04"
KEY6, SALT6 = bytes(range(48, 64)), b"\x05\x06\x07\x08"
N = 40


def tunnel(name, local, remote, key, salt, spi):
    return esp_tunnel(name, local, remote, spi, gcm_sa(key, salt),
                      gcm_sa(bytes(range(16)), bytes([10, 11, 12, 13])))


TUNNELS = "esp_tunnels:\n" + tunnel("esp0", "10.0.1.1", "10.0.1.7", KEY4, SALT4, 0x1001) + \
    tunnel("esp1", "fd00:1::1", "fd00:1::7", KEY6, SALT6, 0x3001)
ROUTES = ("  - {prefix: 10.30.0.0/16, interface: esp0}\n"
          "  - {prefix: 10.40.0.0/16, interface: esp1}\n")


def inner(i, net=30):
    return IP(src="10.0.2.2", dst=f"10.{net}.0.5") / UDP(sport=20000 + i, dport=9) / \
        Raw(b"x" * (16 + i))


def frames(net=30, n=N):
    return [Ether(**B) / inner(i, net) for i in range(n)]


def decrypt(pkts, key, salt, spi, outer):
    """Sports of the inner packets, in order, of the ESP packets with @spi."""
    sa = SecurityAssociation(ESP, spi=spi, crypt_algo="AES-GCM", crypt_key=key + salt,
                             tunnel_header=outer)
    got = []
    for p in pkts:
        if ESP in p and p[ESP].spi == spi:
            q = sa.decrypt(p[IP] if IP in p and p[IP].proto == 50 else p[IPv6])
            got.append(q[UDP].sport)
    return got


def test_esp_packets_leave_through_the_cached_neighbor_both_outer_families(tmp_path):
    neigh = (f'  - {{interface: a, ip: 10.0.1.7, mac: "{HOST_MAC["a"]}"}}\n'
             f'  - {{interface: a, ip: "fd00:1::7", mac: "02:00:00:00:0a:07"}}\n')
    cfg = config(tmp_path, neighbors=neigh, routes=ROUTES, extra=TUNNELS)
    out_a, out_b, st = run(tmp_path, cfg, b=frames(30) + frames(40))
    esp4 = [p for p in out_a if IP in p and p[IP].proto == 50]
    esp6 = [p for p in out_a if IPv6 in p and p[IPv6].nh == 50]
    assert len(esp4) == N and len(esp6) == N, out_a
    assert {(p[Ether].src, p[Ether].dst) for p in esp4} == {(GW_MAC["a"], HOST_MAC["a"])}
    assert {(p[Ether].src, p[Ether].dst) for p in esp6} == {(GW_MAC["a"], "02:00:00:00:0a:07")}
    # Outer headers as the SA wrote them, TTL untouched (we originate them), checksum right.
    for p in esp4:
        assert (p[IP].src, p[IP].dst, p[IP].ttl) == ("10.0.1.1", "10.0.1.7", 64), p.show(dump=True)
        q = IP(bytes(p[IP]))
        del q.chksum
        assert IP(bytes(q)).chksum == p[IP].chksum
    assert all((p[IPv6].src, p[IPv6].dst) == ("fd00:1::1", "fd00:1::7") for p in esp6)
    want = [20000 + i for i in range(N)]
    assert decrypt(esp4, KEY4, SALT4, 0x1001, IP(src="10.0.1.1", dst="10.0.1.7")) == want
    assert decrypt(esp6, KEY6, SALT6, 0x3001, IPv6(src="fd00:1::1", dst="fd00:1::7")) == want
    assert out_b == []
    # One lookup per packet (the inner one): the outer packets skipped ip4/ip6-lookup.
    assert st["nodes"]["ip4-lookup"]["packets"] == 2 * N, st["nodes"]
    assert st["nodes"].get("ip6-lookup", {}).get("packets", 0) == 0, st["nodes"]
    assert st["ports"]["a"]["tx_packets"] == 2 * N
    assert not {k: v for k, v in st["drops"].items() if v}


def test_remote_behind_a_gateway_on_the_other_port(tmp_path):
    """The remote endpoint is routed via b's host: the ESP packets leave b to its MAC."""
    routes = ROUTES + "  - {prefix: 10.0.1.7/32, via: 10.0.2.2}\n"
    cfg = config(tmp_path, routes=routes, extra=TUNNELS)
    out_a, out_b, st = run(tmp_path, cfg, b=frames(30))
    esp4 = [p for p in out_b if IP in p and p[IP].proto == 50]
    assert len(esp4) == N, out_b
    assert {(p[Ether].src, p[Ether].dst) for p in esp4} == {(GW_MAC["b"], HOST_MAC["b"])}
    assert decrypt(esp4, KEY4, SALT4, 0x1001, IP(src="10.0.1.1", dst="10.0.1.7")) == \
        [20000 + i for i in range(N)]
    assert not [p for p in out_a if IP in p and p[IP].proto == 50]


def test_unresolved_remote_goes_through_the_lookup_and_asks_arp(tmp_path):
    """No neighbor for the remote (a connected subnet): the ESP packets take
    ip4-lookup, which punts them for resolution: an ARP request for the
    remote leaves a and no ESP packet does (nobody answers in a pcap)."""
    cfg = config(tmp_path, routes=ROUTES, extra=TUNNELS)
    out_a, out_b, st = run(tmp_path, cfg, b=frames(30, n=8))
    arps = [p for p in out_a if ARP in p and p[ARP].op == 1 and p[ARP].pdst == "10.0.1.7"]
    assert arps, out_a
    assert not [p for p in out_a + out_b if IP in p and p[IP].proto == 50]
    # Inner lookups and outer lookups both.
    assert st["nodes"]["ip4-lookup"]["packets"] == 16, st["nodes"]
