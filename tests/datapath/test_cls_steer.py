# SPDX-License-Identifier: BSD-3-Clause
"""Rule actions `service NAME` and `tunnel NAME` on net_pcap, IPv4 and IPv6:
matching packets go to a service's endpoint or into a tunnel (VXLAN with a
next hop on it, ESP) whatever their destination, while packets the rules
do not match follow their route; VXLAN decapsulation in the same harness;
bad rules refused with the field; a service or tunnel a rule uses is not
deleted (409)."""
import subprocess
import time

from scapy.all import IP, UDP, Ether, IPv6, Raw, raw
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.layers.vxlan import VXLAN

from mgrun import MESHGATECTL, Control, Meshgate, check
from pcapdp import GW_MAC, HOST_MAC, config, nonzero_drops, run

EP_MAC = "02:00:00:00:0b:03"
VX_PEER_MAC = "02:00:00:99:00:02"
VX_MAC = "02:00:00:99:00:01"
KEY4, KEY6 = "00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100"
SALT = "0a0b0c0d"

NEIGHBORS = """
  - {interface: b, ip: 10.0.2.3, mac: "02:00:00:00:0b:03"}
  - {interface: b, ip: "fd00:2::3", mac: "02:00:00:00:0b:03"}
  - {interface: vx0, ip: 10.99.0.2, mac: "02:00:00:99:00:02"}
  - {interface: vx0, ip: "fd00:99::2", mac: "02:00:00:99:00:02"}
"""

OBJECTS = f"""
services:
  - {{name: web4, vips: [10.0.9.1], endpoints: [{{name: e, address: 10.0.2.3}}]}}
  - {{name: web6, vips: ["fd00:9::1"], endpoints: [{{name: e, address: "fd00:2::3"}}]}}
vxlan:
  - {{name: vx0, vni: 77, local: 10.0.2.1, remote: 10.0.2.2, mac: "{VX_MAC}",
     ipv4: [10.99.0.1/24], ipv6: ["fd00:99::1/64"]}}
esp_tunnels:
  - name: esp0
    local: 10.0.2.1
    remote: 10.0.2.2
    sas:
      - {{direction: out, inner: ipv4, spi: 0x1001, algorithm: aes-gcm-128, key: "{KEY4}", salt: "{SALT}"}}
      - {{direction: out, inner: ipv6, spi: 0x1003, algorithm: aes-gcm-128, key: "{KEY6}", salt: "{SALT}"}}
"""

RULES = """
classify:
  - network: default
    rules:
      - {id: 1, family: ipv4, protocol: udp, dport: 7000, action: service, service: web4}
      - {id: 2, family: ipv6, protocol: udp, dport: 7000, action: service, service: web6}
      - {id: 3, protocol: udp, dport: 7001, action: tunnel, tunnel: vx0, via: 10.99.0.2}
      - {id: 4, protocol: udp, dport: 7001, action: tunnel, tunnel: vx0, via: "fd00:99::2"}
      - {id: 5, protocol: udp, dport: 7002, action: tunnel, tunnel: esp0}
"""


def cfg(tmp_path, rules=RULES):
    return config(tmp_path, neighbors=NEIGHBORS, extra=OBJECTS + rules)


def a2gw(l3):
    return Ether(src=HOST_MAC["a"], dst=GW_MAC["a"]) / l3


def pkt(v6, dport, tag):
    l3 = (IPv6(src="fd00:1::2", dst="2001:db8:100::7", hlim=30) if v6
          else IP(src="10.0.1.2", dst="198.51.100.7", ttl=30))
    return a2gw(l3 / UDP(sport=4000, dport=dport) / Raw(b"tag%03d" % tag))


def tag_of(p):
    b = raw(p)
    i = b.rfind(b"tag")
    return b[i:i + 6]


def test_service_and_tunnel_actions_both_families(tmp_path):
    """UDP 7000 to a routed destination goes to the service's endpoint
    (its MAC, addresses kept, TTL-1); 7001 into vx0 towards the via's MAC
    (outer 10.0.2.1 -> 10.0.2.2, UDP 4789, VNI 77); 7002 into esp0 (ESP with
    the family's SPI; scapy decrypts the inner packet); 7003 follows the
    route to b's host. Rule counters count each."""
    sent = [pkt(v6, dport, 10 * dport % 100 + v6) for dport in (7000, 7001, 7002, 7003)
            for v6 in (False, True)]
    _, out_b, st = run(tmp_path, cfg(tmp_path), a=sent)
    assert not nonzero_drops(st), nonzero_drops(st)
    by = {}
    for p in out_b:
        if ESP in p or (IP in p and p[IP].proto == 50):
            by.setdefault("esp", []).append(p)
        elif UDP in p and p[UDP].dport == 4789:
            by.setdefault("vxlan", []).append(p)
        else:
            by.setdefault("plain", []).append(p)
    # service: to the endpoint, addresses untouched.
    svc = [p for p in by["plain"] if p[Ether].dst == EP_MAC]
    assert sorted(tag_of(p) for p in svc) == [b"tag000", b"tag001"], by["plain"]
    for p in svc:
        l3 = p[IP] if IP in p else p[IPv6]
        assert l3.dst in ("198.51.100.7", "2001:db8:100::7")
        assert (l3.ttl if IP in p else l3.hlim) == 29
    # routed normally: to b's host.
    routed = [p for p in by["plain"] if p[Ether].dst == HOST_MAC["b"]]
    assert sorted(tag_of(p) for p in routed) == [b"tag030", b"tag031"], by["plain"]
    # tunnel vx0: VXLAN to the VTEP, inner frame to the via's MAC.
    assert len(by["vxlan"]) == 2, by
    for p in by["vxlan"]:
        assert (p[IP].src, p[IP].dst, p[VXLAN].vni, p[VXLAN].flags) == \
            ("10.0.2.1", "10.0.2.2", 77, 0x08)
        assert 49152 <= p[UDP].sport <= 65535
        inner = p[VXLAN].payload
        assert (inner[Ether].dst, inner[Ether].src) == (VX_PEER_MAC, VX_MAC)
        l3 = inner[IP] if inner.type == 0x0800 else inner[IPv6]
        assert l3.dst in ("198.51.100.7", "2001:db8:100::7")
    assert sorted(tag_of(p) for p in by["vxlan"]) == [b"tag010", b"tag011"]
    # tunnel esp0: ESP with the family's SPI, decrypts to the packet sent.
    spis = {}
    for p in by["esp"]:
        spis[p[ESP].spi] = p
    assert set(spis) == {0x1001, 0x1003}, spis
    for spi, key, v6 in ((0x1001, KEY4, False), (0x1003, KEY6, True)):
        sa = SecurityAssociation(ESP, spi=spi, crypt_algo="AES-GCM",
                                 crypt_key=bytes.fromhex(key + SALT),
                                 tunnel_header=IP(src="10.0.2.1", dst="10.0.2.2"))
        inner = sa.decrypt(spis[spi][IP])
        assert (IPv6 in inner) == v6 and tag_of(inner) == b"tag02%d" % v6
    c = st["rules"]["default"]
    assert [c[str(i)]["packets"] for i in range(1, 6)] == [1, 1, 1, 1, 2], c
    assert c["5"]["action"] == "tunnel" and c["1"]["action"] == "service"


def test_vxlan_decapsulation_on_pcap(tmp_path):
    """A VXLAN packet from the VTEP (10.0.2.2 -> 10.0.2.1, VNI 77) carrying a
    frame for vx0's MAC comes out on a as its inner packet (TTL-1), both
    families; a wrong VNI and a clear I flag are dropped and counted."""
    def vx(inner, vni=77, flags=0x08):
        return (Ether(src=HOST_MAC["b"], dst=GW_MAC["b"]) / IP(src="10.0.2.2", dst="10.0.2.1") /
                UDP(sport=50000, dport=4789) / VXLAN(flags=flags, vni=vni) /
                Ether(src=VX_PEER_MAC, dst=VX_MAC) / inner)
    sent = [vx(IP(src="10.99.0.2", dst="10.0.1.2", ttl=9) / UDP(dport=9) / Raw(b"tag100")),
            vx(IPv6(src="fd00:99::2", dst="fd00:1::2", hlim=9) / UDP(dport=9) / Raw(b"tag101")),
            vx(IP(src="10.99.0.2", dst="10.0.1.2") / UDP(dport=9) / Raw(b"tag102"), vni=78),
            vx(IP(src="10.99.0.2", dst="10.0.1.2") / UDP(dport=9) / Raw(b"tag103"), flags=0)]
    out_a, _, st = run(tmp_path, cfg(tmp_path, rules=""), b=sent)
    got = {tag_of(p): p for p in out_a if b"tag1" in raw(p)}
    assert set(got) == {b"tag100", b"tag101"}, out_a
    assert got[b"tag100"][IP].ttl == 8 and got[b"tag101"][IPv6].hlim == 8
    assert got[b"tag100"][Ether].src == GW_MAC["a"]
    assert st["drops"]["vxlan-no-tunnel"] == 1 and st["drops"]["vxlan-bad-header"] == 1, \
        nonzero_drops(st)


def test_bad_service_and_tunnel_rules_name_the_field(tmp_path):
    """meshgate --check names the rule's field for each mistake."""
    base = config(tmp_path, neighbors=NEIGHBORS, extra=OBJECTS)
    for rule, field, text in (
            ("{action: service, service: nope}", "rules[0].service", "no service named 'nope'"),
            ("{action: service}", "rules[0].service", "needs a service name"),
            ("{action: tunnel, tunnel: nope}", "rules[0].tunnel", "no tunnel named 'nope'"),
            ("{action: tunnel, tunnel: a}", "rules[0].tunnel", "not a tunnel"),
            ("{action: tunnel, tunnel: vx0}", "rules[0].via", "next hop"),
            ("{action: tunnel, tunnel: esp0, via: 10.0.2.9}", "rules[0].via", "point to point"),
            ("{action: permit, service: web4}", "rules[0].service", "only action service"),
            ("{family: ipv6, action: tunnel, tunnel: vx0, via: 10.99.0.2}", "rules[0].via",
             "IPv4 next hop in an IPv6 rule")):
        rc, out = check(base + f"classify:\n  - rules:\n      - {rule}\n", tmp_path)
        assert rc == 1 and field in out and text in out, (rule, out)


def test_rest_rules_validation_and_busy_targets(tmp_path):
    """Over REST: a rule naming an unknown service or tunnel is refused with
    its field (400/404) and changes nothing; a VXLAN tunnel or a service a
    rule uses cannot be deleted (409) until the rules change; a VXLAN via
    outside the tunnel's subnets is refused."""
    from pcapdp import write_pcap
    write_pcap(tmp_path / "in_a.pcap", [])
    write_pcap(tmp_path / "in_b.pcap", [])
    with Meshgate(tmp_path, cfg(tmp_path), name="dp") as mg:
        ctl = Control(mg)
        before = ctl.ok("GET", "/v1/networks/default/rules")
        for rule, status, field in (
                ({"action": "service", "service": "nope"}, 404, "rules[0].service"),
                ({"action": "tunnel", "tunnel": "nope"}, 404, "rules[0].tunnel"),
                ({"action": "tunnel", "tunnel": "vx0", "via": "10.0.1.9"}, 400, "rules[0].via"),
                ({"action": "service", "service": "web6", "family": "ipv4"}, 200, None)):
            st, j = ctl.http("PUT", "/v1/networks/default/rules", {"rules": [rule]})
            if field is None:
                assert st == 200, j
                continue
            assert st == status and j["error"]["field"] == field, (rule, st, j)
        ctl.ok("PUT", "/v1/networks/default/rules", {"rules": before["rules"]})
        got = ctl.ok("GET", "/v1/networks/default/rules")["rules"]
        assert [r.get("service") or r.get("tunnel") for r in got] == \
            ["web4", "web6", "vx0", "vx0", "esp0"], got
        assert got[2]["via"] == "10.99.0.2"
        show = subprocess.run([str(MESHGATECTL), "-p", mg.prefix, "rules", "default"],
                              capture_output=True, text=True, timeout=30)
        for words in ("service web4", "tunnel vx0 via 10.99.0.2", "tunnel esp0"):
            assert words in show.stdout, show.stdout + show.stderr
        # (vx0 is refused first for its static neighbors.)
        for path, what in (("/v1/vxlan/vx0", "vx0"), ("/v1/esp-tunnels/esp0", "rule 5"),
                           ("/v1/services/web4", "rule 1")):
            st, j = ctl.http("DELETE", path)
            assert st == 409 and what in j["error"]["message"], (path, st, j)
        ctl.ok("PUT", "/v1/networks/default/rules", {"rules": []})
        ctl.ok("DELETE", "/v1/services/web4")
        ctl.ok("DELETE", "/v1/esp-tunnels/esp0")
        time.sleep(0.1)


ESP_IN = f"""
      - {{direction: in, inner: ipv4, spi: 0x2001, algorithm: aes-gcm-128, key: "{KEY4}", salt: "{SALT}"}}
      - {{direction: in, inner: ipv6, spi: 0x2003, algorithm: aes-gcm-128, key: "{KEY6}", salt: "{SALT}"}}
"""


def test_rules_see_what_the_esp_tunnel_decrypts(tmp_path):
    """ESP from the peer (10.0.2.2 -> 10.0.2.1) carrying UDP to the pod side,
    both families: the network's rules apply to the inner packets with esp0
    as their ingress interface, so dport 10 is denied and counted on the
    rule while dport 9 is forwarded (TTL-1); a rule naming another
    interface does not match them."""
    def esp(spi, key, inner, seq):
        sa = SecurityAssociation(ESP, spi=spi, crypt_algo="AES-GCM",
                                 crypt_key=bytes.fromhex(key + SALT),
                                 tunnel_header=IP(src="10.0.2.2", dst="10.0.2.1"))
        return Ether(src=HOST_MAC["b"], dst=GW_MAC["b"]) / sa.encrypt(inner, seq_num=seq)
    rules = """
classify:
  - network: default
    rules:
      - {id: 7, interface: a, protocol: udp, dport: 9, action: deny}
      - {id: 8, interface: esp0, protocol: udp, dport: 10, action: deny}
"""
    sent = []
    for i, dport in enumerate((9, 10)):
        sent.append(esp(0x2001, KEY4, IP(src="10.99.0.2", dst="10.0.1.2", ttl=9) /
                        UDP(dport=dport) / Raw(b"tag2%d0" % i), i + 1))
        sent.append(esp(0x2003, KEY6, IPv6(src="fd00:99::2", dst="fd00:1::2", hlim=9) /
                        UDP(dport=dport) / Raw(b"tag2%d1" % i), i + 1))
    out_a, _, st = run(tmp_path, config(tmp_path, neighbors=NEIGHBORS,
                                        extra=OBJECTS + ESP_IN + rules), b=sent)
    got = {tag_of(p): p for p in out_a if b"tag2" in raw(p)}
    assert set(got) == {b"tag200", b"tag201"}, (out_a, nonzero_drops(st))
    assert got[b"tag200"][IP].ttl == 8 and got[b"tag201"][IPv6].hlim == 8
    c = st["rules"]["default"]
    assert c["8"]["packets"] == 2 and c["7"]["packets"] == 0, c
    assert st["drops"]["rule-deny"] == 2, nonzero_drops(st)
