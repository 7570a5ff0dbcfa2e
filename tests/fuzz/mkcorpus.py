#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write the seed corpora of the fuzz harnesses into tests/fuzz/corpus/<harness>/.

Each seed is one small input in the harness's own format (see the comment at
the top of each fuzz_<harness>.c) that reaches one path: packets built with
scapy for the fixture topology of fuzz_dp.h, control requests like those of
tests/control and tests/netns, and the configuration files of conf/.
Run it again after changing a harness's input format (it rewrites the
directories it owns); tools/fuzz adds what it finds in its own work directory,
never here.

usage: /usr/bin/python3 tests/fuzz/mkcorpus.py
"""
import hashlib
import json
import pathlib
import shutil
import struct

from scapy.all import (ARP, ICMP, IP, TCP, UDP, Dot1Q, Ether, ICMPv6EchoRequest,
                       ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6ND_RS, ICMPv6NDOptDstLLAddr,
                       ICMPv6NDOptSrcLLAddr, IPOption_RR, IPv6, IPv6ExtHdrDestOpt,
                       IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, Raw,
                       fragment, raw)
from scapy.layers.inet6 import ICMPv6DestUnreach

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent

# The fixture of fuzz_dp.h.
P0, P1 = "02:00:00:00:00:01", "02:00:00:00:00:02"
PEER = "02:00:00:00:aa:01"
BCAST = "ff:ff:ff:ff:ff:ff"


def write(harness, seeds):
    d = HERE / "corpus" / harness
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    for name, data in seeds:
        if isinstance(data, str):
            data = data.encode()
        # A readable name plus a digest, so renaming a seed never hides a duplicate.
        (d / f"{name}-{hashlib.sha1(data).hexdigest()[:8]}").write_bytes(data)
    print(f"{harness}: {len(seeds)} seeds")


# ---- eth: [control byte][frame] ---------------------------------------------------------------
# control: bit 0 port (0 p0, 1 p1); bits 1-2 NIC IPv4 checksum verdict; bits 3-5 extra copies.

def eth_seeds():
    e0 = Ether(src=PEER, dst=P0)
    e1 = Ether(src=PEER, dst=P1)
    v100 = Ether(src=PEER, dst=P0) / Dot1Q(vlan=100)
    pl = Raw(b"x" * 32)
    s = []

    def add(name, pkt, ctl=0):
        s.append((name, bytes([ctl]) + raw(pkt)))

    add("ip4-fwd", e0 / IP(src="10.0.0.5", dst="198.51.100.5") / UDP(sport=1000, dport=53) / pl)
    add("ip4-fwd-burst", e0 / IP(src="10.0.0.5", dst="198.51.100.5") / TCP(dport=80) / pl,
        ctl=(3 << 3))
    add("ip4-ck-good", e0 / IP(src="10.0.0.5", dst="198.51.100.6") / UDP() / pl, ctl=1 << 1)
    add("ip4-ck-bad", e0 / IP(src="10.0.0.5", dst="198.51.100.6") / UDP() / pl, ctl=2 << 1)
    add("ip4-ttl1", e0 / IP(src="10.0.0.5", dst="198.51.100.5", ttl=1) / UDP() / pl)
    add("ip4-unreach", e0 / IP(src="10.0.0.5", dst="192.0.2.70") / UDP() / pl)
    add("ip4-prohibit", e0 / IP(src="10.0.0.5", dst="192.0.2.130") / TCP() / pl)
    add("ip4-blackhole", e0 / IP(src="10.0.0.5", dst="192.0.2.5") / UDP() / pl)
    add("ip4-noroute", e0 / IP(src="10.0.0.5", dst="203.0.113.9") / UDP() / pl)
    add("ip4-unresolved", e0 / IP(src="10.0.0.5", dst="10.9.1.1") / UDP() / pl)
    add("ip4-onlink", e0 / IP(src="10.0.0.5", dst="100.64.0.7") / UDP() / pl)
    add("ip4-echo", e0 / IP(src="10.0.0.5", dst="10.0.0.1") / ICMP(id=7, seq=1) / pl)
    add("ip4-echo-other-if", e1 / IP(src="10.1.0.5", dst="10.0.0.1") / ICMP() / pl, ctl=1)
    add("ip4-local-udp", e0 / IP(src="10.0.0.5", dst="10.0.0.1") / UDP(dport=9) / pl)
    add("ip4-bcast", Ether(src=PEER, dst=BCAST) / IP(src="10.0.0.5", dst="10.0.0.255") / UDP())
    big = Raw(b"B" * 1400)
    add("ip4-frag-needed", e0 / IP(src="10.0.0.5", dst="198.51.100.5", flags="DF") / UDP() / big)
    add("ip4-fragmenting", e0 / IP(src="10.0.0.5", dst="198.51.100.5") / UDP() / big)
    add("ip4-options", e0 / IP(src="10.0.0.5", dst="198.51.100.5",
                               options=[IPOption_RR(routers=["0.0.0.0"] * 2)]) / UDP() / pl)
    frags = fragment(IP(src="10.0.0.5", dst="198.51.100.5") / UDP() / Raw(b"F" * 300),
                     fragsize=128)
    add("ip4-fragment-first", e0 / frags[0])
    add("ip4-fragment-last", e0 / frags[-1])
    add("ip4-icmp-error-in", e0 / IP(src="10.0.0.5", dst="198.51.100.5") /
        ICMP(type=3, code=1) / IP(src="198.51.100.5", dst="10.0.0.5") / UDP())
    add("ip4-short-total", e0 / IP(src="10.0.0.5", dst="198.51.100.5", len=20) / UDP() / pl)
    add("ip4-long-total", e0 / IP(src="10.0.0.5", dst="198.51.100.5", len=1000) / UDP())
    add("ip4-bad-ihl", e0 / IP(src="10.0.0.5", dst="198.51.100.5", ihl=15) / UDP())
    add("ip4-own-src", e0 / IP(src="10.0.0.1", dst="198.51.100.5") / UDP())
    add("ip4-to-mac-other", Ether(src=PEER, dst="02:00:00:00:00:99") /
        IP(src="10.0.0.5", dst="198.51.100.5") / UDP())
    add("vlan100-fwd", v100 / IP(src="192.168.100.5", dst="172.16.1.1") / UDP() / pl)
    add("vlan100-echo", v100 / IP(src="192.168.100.5", dst="192.168.100.1") / ICMP() / pl)
    add("vlan100-fragment", v100 / frags[0])
    add("vlan100-options", v100 / IP(src="192.168.100.5", dst="172.16.1.1",
                                     options=[IPOption_RR(routers=["0.0.0.0"])]) / UDP())
    add("vlan100-too-big", v100 / IP(src="192.168.100.5", dst="10.1.0.9", flags="DF") / UDP() /
        Raw(b"V" * 700))
    add("vlan-unknown", Ether(src=PEER, dst=P0) / Dot1Q(vlan=7) / IP(dst="10.0.0.1") / ICMP())
    add("qinq", Ether(src=PEER, dst=P0) / Dot1Q(vlan=100) / Dot1Q(vlan=5) / IP() / UDP())
    add("arp-request", Ether(src=PEER, dst=BCAST) /
        ARP(op=1, hwsrc=PEER, psrc="10.0.0.5", pdst="10.0.0.1"))
    add("arp-reply", e0 / ARP(op=2, hwsrc=PEER, psrc="10.0.0.9", hwdst=P0, pdst="10.0.0.1"))
    add("unknown-ethertype", e0 / Raw(b"\x00" * 40))
    add("lldp", Ether(src=PEER, dst="01:80:c2:00:00:0e", type=0x88cc) / Raw(b"\x02\x07" * 10))
    add("truncated-eth", raw(e0)[:10])
    add("truncated-ip4", raw(e0 / IP(dst="198.51.100.5") / UDP())[:24])

    s6 = "fd00::5"
    add("ip6-fwd", e0 / IPv6(src=s6, dst="2001:db8:1::5") / UDP(sport=5, dport=53) / pl)
    add("ip6-hlim1", e0 / IPv6(src=s6, dst="2001:db8:1::5", hlim=1) / UDP() / pl)
    add("ip6-unreach", e0 / IPv6(src=s6, dst="2001:db8:2::5") / UDP() / pl)
    add("ip6-blackhole", e0 / IPv6(src=s6, dst="2001:db8:dead::5") / UDP() / pl)
    add("ip6-noroute", e0 / IPv6(src=s6, dst="2001:db8:99::5") / UDP() / pl)
    add("ip6-unresolved", e0 / IPv6(src=s6, dst="fd00::99") / UDP() / pl)
    add("ip6-too-big", e0 / IPv6(src=s6, dst="2001:db8:1::5") / UDP() / Raw(b"T" * 1300))
    add("ip6-echo", e0 / IPv6(src=s6, dst="fd00::1") / ICMPv6EchoRequest(id=1, seq=2, data=b"hi"))
    add("ip6-echo-ll", e0 / IPv6(src="fe80::5", dst="fe80::ff:fe00:1") / ICMPv6EchoRequest())
    add("ip6-ext-chain", e0 / IPv6(src=s6, dst="2001:db8:1::5") / IPv6ExtHdrHopByHop() /
        IPv6ExtHdrDestOpt() / IPv6ExtHdrRouting() / UDP() / pl)
    add("ip6-frag-hdr", e0 / IPv6(src=s6, dst="2001:db8:1::5") / IPv6ExtHdrFragment(m=1, id=9) /
        UDP() / pl)
    add("ip6-frag-later", e0 / IPv6(src=s6, dst="2001:db8:1::5") /
        IPv6ExtHdrFragment(offset=8, id=9, nh=17) / Raw(b"z" * 40))
    add("ip6-hbh-local", e0 / IPv6(src=s6, dst="fd00::1") / IPv6ExtHdrHopByHop() /
        ICMPv6EchoRequest())
    add("ip6-error-in", e0 / IPv6(src=s6, dst="2001:db8:1::5") / ICMPv6DestUnreach() /
        IPv6(src="2001:db8:1::5", dst=s6) / UDP())
    add("ip6-ns", Ether(src=PEER, dst="33:33:ff:00:00:01") /
        IPv6(src=s6, dst="ff02::1:ff00:1", hlim=255) / ICMPv6ND_NS(tgt="fd00::1") /
        ICMPv6NDOptSrcLLAddr(lladdr=PEER))
    add("ip6-na", e0 / IPv6(src="fd00::99", dst="fd00::1", hlim=255) /
        ICMPv6ND_NA(tgt="fd00::99", R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=PEER))
    add("ip6-rs", Ether(src=PEER, dst="33:33:00:00:00:02") /
        IPv6(src="fe80::5", dst="ff02::2", hlim=255) / ICMPv6ND_RS())
    add("ip6-payload-long", e0 / IPv6(src=s6, dst="2001:db8:1::5", plen=900) / UDP())
    add("truncated-ip6", raw(e0 / IPv6(dst="2001:db8:1::5") / UDP())[:40])
    add("ip6-p1-fwd", e1 / IPv6(src="fd01::5", dst="2001:db8:1::7") / UDP() / pl, ctl=1)
    return s


# ---- neigh: records [control][length][body] ------------------------------------------------
# control: bits 0-2 kind (0 ARP body, 1 IPv6 packet, 2 IPv4 packet, 3 frame, 4 time (ms, LE),
# 5-7 as 0-2 and batched with the next); bit 3 port; bit 4 VLAN 100; bit 5 broadcast/multicast
# destination; bit 6 fix lengths and checksums.

def rec(ctl, body):
    body = bytes(body)
    assert len(body) <= 255
    return bytes([ctl, len(body)]) + body


def ms(n):
    return rec(4, struct.pack("<I", n))


def neigh_seeds():
    arp_req = raw(ARP(op=1, hwsrc=PEER, psrc="10.0.0.5", pdst="10.0.0.1"))
    arp_rep9 = raw(ARP(op=2, hwsrc=PEER, psrc="10.0.0.9", hwdst=P0, pdst="10.0.0.1"))
    to_unres = raw(IP(src="10.0.0.5", dst="10.9.1.1") / UDP() / Raw(b"u" * 16))
    to_onlink = raw(IP(src="10.1.0.5", dst="100.64.0.7") / UDP())
    arp_rep_onlink = raw(ARP(op=2, hwsrc=PEER, psrc="100.64.0.7", hwdst=P1, pdst="10.1.0.1"))
    to_v6 = raw(IPv6(src="fd00::5", dst="fd00::99") / UDP() / Raw(b"6" * 16))
    na = raw(IPv6(src="fd00::99", dst="fd00::1", hlim=255) /
             ICMPv6ND_NA(tgt="fd00::99", R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=PEER))
    ns = raw(IPv6(src="fd00::5", dst="ff02::1:ff00:1", hlim=255) / ICMPv6ND_NS(tgt="fd00::1") /
             ICMPv6NDOptSrcLLAddr(lladdr=PEER))
    ns_dad = raw(IPv6(src="::", dst="ff02::1:ff00:1", hlim=255) / ICMPv6ND_NS(tgt="fd00::1"))
    vlan_arp = raw(ARP(op=1, hwsrc=PEER, psrc="192.168.100.5", pdst="192.168.100.1"))
    vlan_unres = raw(IP(src="192.168.100.5", dst="172.16.0.9") / UDP())
    vlan_rep = raw(ARP(op=2, hwsrc=PEER, psrc="192.168.100.2", hwdst=P0, pdst="192.168.100.1"))
    return [
        ("arp-request", rec(0x20, arp_req)),
        ("arp-gratuitous", rec(0x20, raw(ARP(op=1, hwsrc=PEER, psrc="10.0.0.7",
                                             pdst="10.0.0.7")))),
        ("arp-unsolicited-reply", rec(0, arp_rep9)),
        ("arp-resolve", rec(2, to_unres) + rec(2, to_unres) + rec(0, arp_rep9) + ms(10)),
        ("arp-probe-fail", rec(2, to_unres) + ms(1000) + ms(1000) + ms(1000) + ms(1000) +
         rec(2, to_unres)),
        ("arp-hold-overflow", rec(7, to_unres) * 6 + rec(2, to_unres) + ms(5000)),
        ("arp-reachable-expiry", rec(2, to_unres) + rec(0, arp_rep9) + ms(61000) +
         rec(2, to_unres) + ms(2000)),
        ("arp-onlink-p1", rec(0x0a, to_onlink) + rec(0x08, arp_rep_onlink)),
        ("arp-vlan", rec(0x30, vlan_arp) + rec(0x12, vlan_unres) + rec(0x10, vlan_rep)),
        ("nd-ns", rec(0x61, ns)),
        ("nd-ns-dad", rec(0x61, ns_dad)),
        ("nd-resolve", rec(1, to_v6) + rec(0x41, na) + ms(10)),
        ("nd-probe-fail", rec(1, to_v6) + ms(1000) * 4 + rec(1, to_v6)),
        ("nd-unsolicited-na", rec(0x41, na)),
        ("mixed-burst", rec(5, to_v6) + rec(7, to_unres) + rec(0, arp_rep9) + rec(0x41, na)),
        ("frame", rec(3, raw(Ether(src=PEER, dst=BCAST) / ARP(op=1, hwsrc=PEER, psrc="10.0.0.5",
                                                             pdst="10.0.0.1")))),
    ] + neigh_change_seeds()


# Control changes (bit 7): route [flags, a, b, len, via], neighbor [flags, host, mac],
# address [flags, x].
def route_op(flags, a, b, length, via=9):
    return rec(0x80, bytes([flags, a, b, length, via]))


def neigh_op(flags, host, mac=0x42):
    return rec(0x81, bytes([flags, host, mac]))


def addr_op(flags, x):
    return rec(0x82, bytes([flags, x]))


def neigh_change_seeds():
    to64 = raw(IP(src="10.0.0.5", dst="100.64.5.7") / UDP() / Raw(b"r" * 8))
    rep64 = raw(ARP(op=2, hwsrc=PEER, psrc="100.64.5.7", hwdst=P0, pdst="10.0.0.1"))
    to_via = raw(IP(src="10.0.0.5", dst="100.64.3.3") / UDP())
    rep_via = raw(ARP(op=2, hwsrc=PEER, psrc="10.1.0.9", hwdst=P1, pdst="10.1.0.1"))
    to_a = raw(IP(src="10.0.0.5", dst="10.2.5.9") / UDP())
    rep_a = raw(ARP(op=2, hwsrc=PEER, psrc="10.2.5.9", hwdst=P1, pdst="10.2.5.1"))
    to6 = raw(IPv6(src="fd00::5", dst="2001:db8:77::7") / UDP())
    na6 = raw(IPv6(src="2001:db8:77::7", dst="fd00::1", hlim=255) /
              ICMPv6ND_NA(tgt="2001:db8:77::7", R=0, S=1, O=1) /
              ICMPv6NDOptDstLLAddr(lladdr=PEER))
    return [
        # 100.64.5.0/24 on-link on p0 (length 16 + 8), resolved, then deleted.
        ("chg-onlink-route", route_op(0, 5, 0, 8) + rec(2, to64) + rec(0, rep64) + ms(5) +
         rec(2, to64) + route_op(8, 5, 0, 8) + rec(2, to64)),
        # 100.64.3.0/24 via 10.1.0.9 on p1, resolved, replaced by a drop route.
        ("chg-via-route", route_op(6, 3, 0, 8, 9 - 2) + rec(2, to_via) + rec(0x08, rep_via) +
         rec(2, to_via) + route_op(0x10, 3, 0, 8) + rec(2, to_via)),
        ("chg-unreachable", route_op(0x20, 1, 0, 16) + rec(2, raw(IP(src="10.0.0.5",
                                                                  dst="100.64.1.1") / UDP()))),
        ("chg-static-neighbor", neigh_op(0, 50 - 2) + rec(2, raw(IP(src="10.1.0.5",
                                                                    dst="10.0.0.50") / UDP())) +
         neigh_op(4, 50 - 2)),
        ("chg-neighbor-over-dynamic", rec(2, raw(IP(src="10.1.0.5", dst="10.0.0.60") / UDP())) +
         neigh_op(0, 60 - 2) + ms(10) + neigh_op(4, 60 - 2) + ms(1000)),
        ("chg-address", addr_op(0, 5) + rec(2, to_a) + rec(0x08, rep_a) + rec(2, to_a) +
         addr_op(2, 5) + rec(2, to_a)),
        ("chg-onlink6", route_op(1, 0, 0, 0) + rec(1, to6) + rec(0x41, na6) + rec(1, to6) +
         route_op(9, 0, 0, 0)),
    ]


# ---- config: YAML files -------------------------------------------------------------------

def config_seeds():
    s = [(p.stem, p.read_bytes()) for p in sorted((ROOT / "conf").glob("*.yaml"))
         if p.name != "openapi.yaml"]
    s += [
        ("minimal", "networks:\n  - name: default\n"),
        ("flow", "ports: [{name: a, device: net_null0, ipv4: [10.0.0.1/24]}]\n"
                 "routes: [{prefix: 0.0.0.0/0, via: 10.0.0.2}]\n"),
        ("anchors", "networks:\n  - &n {name: x}\n  - *n\n"),
        ("types", "dpdk: {memory_mb: -1, hugepages: maybe, args: [1, {a: b}]}\n"
                  "workers: {lcores: 0-3, burst: 99999999999999999999}\n"),
        ("vlans", "ports:\n  - name: p\n    device: net_null0\n    vlans:\n"
                  "      - {id: 4095, mtu: 9000}\n      - {id: 0}\n"),
        ("control", "control:\n  nsm_socket: \"\"\n  nsm_uids: [0, 1000]\n"
                    "  rest: {listen: \"[::1]:0\", max_body: 10}\n  node_name: x\n"),
        ("tabs-and-bom", "\ufeffnetworks:\n\t- name: a\n"),
        ("multidoc", "networks: []\n---\nports: []\n...\n"),
    ]
    return s


# ---- nsm: newline-delimited JSON ------------------------------------------------------------

def nsm_seeds():
    def line(m):
        return json.dumps(m) + "\n"

    vlan = {"connection": {
        "id": "vlan-1", "network_service": "default",
        "mechanism": {"cls": "LOCAL", "type": "VLAN",
                      "parameters": {"base": "p1", "vlan-id": "300"}},
        "context": {"ip_context": {"src_ip_addrs": ["172.16.100.2/24"],
                                   "dst_ip_addrs": ["172.16.100.1/24"],
                                   "src_routes": [{"prefix": "10.0.0.0/24"}],
                                   "dst_routes": [{"prefix": "192.0.2.0/24"}]},
                    "ethernet_context": {"src_mac": "02:00:00:00:64:02"}},
        "labels": {"app": "du"}}}
    memif = {"connection": {
        "id": "memif-1", "networkService": "blue",
        "context": {"ipContext": {"srcIpAddrs": ["172.16.9.2/30"],
                                  "dstIpAddrs": ["172.16.9.1/30"]}},
        "path": {"index": 0, "pathSegments": [{"name": "client", "id": "c1", "token": "t"}]}},
        "mechanismPreferences": [
            {"cls": "LOCAL", "type": "WIREGUARD"},
            {"cls": "LOCAL", "type": "MEMIF",
             "parameters": {"socketfile": "@mgfz-memif.sock", "role": "client"}}]}
    kernel = {"connection": {
        "id": "kern-1", "network_service": "default",
        "mechanism": {"cls": "LOCAL", "type": "KERNEL",
                      "parameters": {"name": "mgfz0",
                                     "inodeURL": "file:///var/run/netns/mgfz-none"}},
        "context": {"ip_context": {"src_ip_addrs": ["172.16.8.2/30", "fd00:16:8::2/64"],
                                   "dst_ip_addrs": ["172.16.8.1/30", "fd00:16:8::1/64"]},
                    "MTU": 1400}}}
    remote = {"connection": {
        "id": "conn-t1", "network_service": "default",
        "mechanism": {"cls": "REMOTE", "type": "VLAN",
                      "parameters": {"base": "p0", "vlan-id": "301"}},
        "context": {"ip_context": {"dst_ip_addrs": ["10.8.0.1/24"],
                                   "src_ip_addrs": ["10.8.0.2/24"]}}}}
    return [
        ("request-vlan", line({"id": 1, "method": "Request", "params": vlan})),
        ("request-memif", line({"id": "a", "method": "Request", "params": memif})),
        ("request-kernel", line({"id": 2, "method": "Request", "params": kernel})),
        ("refresh-close", line({"id": 1, "method": "Request", "params": remote}) +
         line({"id": 2, "method": "Request", "params": remote}) +
         line({"id": 3, "method": "Close", "params": remote["connection"]})),
        ("monitor", line({"id": 9, "method": "MonitorConnections",
                          "params": {"pathSegments": []}}) +
         line({"id": 1, "method": "Request", "params": vlan}) +
         line({"id": 2, "method": "Close", "params": {"id": "vlan-1"}})),
        ("monitor-selector", line({"id": 9, "method": "MonitorConnections",
                                   "params": {"path_segments": [{"name": "fuzz-gw"}]}})),
        ("errors", "{}\n[1]\n{\"id\":1}\n{\"method\":\"Nope\"}\n"
                   "{\"method\":\"Request\",\"params\":{\"connection\":{\"id\":\"\"}}}\n"
                   "not json\n\n{\"method\":\"Request\",\"extra\":1}\n"),
        ("split-line", line({"id": 1, "method": "Request", "params": vlan})[:40]),
        ("nul", "{\"id\":1,\"method\":\"Close\",\"params\":{\"id\":\"a\u0000b\"}}\n"),
    ]


# ---- rest: METHOD URL / [Authorization: ...] / body, requests separated by ~~~ ----------------

def rest_seeds():
    def req(method, url, body=None, auth=None):
        s = f"{method} {url}\n"
        if auth is not None:
            s += f"Authorization: {auth}\n"
        if body is not None:
            s += body if isinstance(body, str) else json.dumps(body)
        return s

    def seq(*reqs):
        return "\n~~~\n".join(reqs)

    batch = [{"op": "add", "network": {"name": "red"}},
             {"op": "add", "port": {"name": "r", "device": "net_null9,no-rx=1",
                                    "network": "red"}},
             {"op": "add", "vlan": {"port": "r", "vlan": 7}},
             {"op": "add", "address": {"interface": "r.7", "address": "10.7.0.1/24"}},
             {"op": "add", "neighbor": {"interface": "r.7", "ip": "10.7.0.2",
                                        "mac": "02:00:00:00:07:02"}},
             {"op": "add", "route": {"network": "red", "prefix": "10.8.0.0/16",
                                     "via": "10.7.0.2"}},
             {"op": "replace", "route": {"network": "red", "prefix": "10.8.0.0/16",
                                         "action": "unreachable"}},
             {"op": "delete", "route": {"network": "red", "prefix": "10.8.0.0/16"}}]
    conn = {"connection": {"id": "conn/1", "network_service": "default",
                           "mechanism": {"cls": "REMOTE", "type": "VLAN",
                                         "parameters": {"base": "p1", "vlan-id": "300"}},
                           "context": {"ip_context": {"dst_ip_addrs": ["10.8.0.1/24"],
                                                      "src_ip_addrs": ["10.8.0.2/24"]}}}}
    return [
        ("get-all", seq(*(req("GET", u) for u in (
            "/v1/networks", "/v1/networks/default", "/v1/ports", "/v1/ports/p0",
            "/v1/interfaces", "/v1/interfaces/p0.100", "/v1/routes", "/v1/routes?network=blue",
            "/v1/routes/default/198.51.100.0/24", "/v1/neighbors", "/v1/connections",
            "/v1/stats", "/metrics")))),
        ("networks", seq(req("POST", "/v1/networks", {"name": "green", "fragments": "drop"}),
                         req("DELETE", "/v1/networks/green"),
                         req("DELETE", "/v1/networks/blue"))),
        ("ports", seq(req("POST", "/v1/ports", {"name": "c", "device": "net_null4,no-rx=1",
                                                "network": "blue", "mtu": 9000,
                                                "ipv4": ["10.4.0.1/24"]}),
                      req("DELETE", "/v1/ports/c"), req("DELETE", "/v1/ports/p0"))),
        ("interfaces", seq(req("POST", "/v1/interfaces", {"port": "p1", "vlan": 200, "mtu": 1400}),
                           req("POST", "/v1/interfaces/p1.200/addresses",
                               {"address": "10.200.0.1/24"}),
                           req("POST", "/v1/interfaces/p1.200/addresses",
                               {"address": "fd00:200::1/64"}),
                           req("DELETE", "/v1/interfaces/p1.200/addresses/10.200.0.1/24"),
                           req("DELETE", "/v1/interfaces/p1.200/addresses/fd00:200::1"),
                           req("DELETE", "/v1/interfaces/p1.200"))),
        ("routes", seq(req("POST", "/v1/routes", {"prefix": "10.201.0.0/16", "via": "10.0.0.9"}),
                       req("PUT", "/v1/routes/default/10.201.0.0/16",
                           {"network": "default", "prefix": "10.201.0.0/16",
                            "action": "prohibit"}),
                       req("PUT", "/v1/routes/blue/10.202.0.0/16",
                           {"prefix": "10.202.0.0/16", "interface": "p1"}),
                       req("DELETE", "/v1/routes/default/10.201.0.0/16"),
                       req("DELETE", "/v1/routes/default/%3A%3A/0"))),
        ("neighbors", seq(req("POST", "/v1/neighbors", {"interface": "p0", "ip": "fd00::9",
                                                        "mac": "02:00:00:00:00:09"}),
                          req("DELETE", "/v1/neighbors/p0/fd00::9"),
                          req("DELETE", "/v1/neighbors/p0/10.0.0.2"))),
        ("batch", req("POST", "/v1/batch", {"operations": batch})),
        ("connections", seq(req("POST", "/v1/connections", conn),
                            req("GET", "/v1/connections/conn%2F1"),
                            req("DELETE", "/v1/routes/default/10.8.0.0/24"),
                            req("DELETE", "/v1/connections/conn%2F1"))),
        ("auth", seq(req("GET", "/v1/networks", auth="Bearer wrong"),
                     req("GET", "/v1/networks", auth="bearer   fuzz-token-0123456789"),
                     req("POST", "/v1/networks", {"name": "x"}, auth=""))),
        ("errors", seq(req("PUT", "/v1/networks"), req("POST", "/v1/networks", "{"),
                       req("POST", "/v1/networks", '{"name": "a\\u0000b"}'),
                       req("POST", "/v1/networks", '{"name": "a", "name": "b"}'),
                       req("GET", "/v1/" + "x/" * 20), req("GET", "/" + "u" * 1100),
                       req("BREW", "/v1/stats"), req("GET", "/v2/networks"),
                       req("DELETE", "/v1/interfaces/p0/addresses/10.0.0.1/33"))),
    ]



# ---- l4: [control byte][IP packet] ------------------------------------------------------------
# control: bits 0-3 NAT rewrite fields; bit 4 fix checksums first; bit 5 eth-input checks first.

def gtpu(teid, inner, msg=0xff, flags=0x30, ext=None):
    """A GTPv1-U header (TS 29.281) and its payload."""
    body = bytes(inner)
    opt = b""
    if ext is not None:
        flags |= 0x04
        # sequence number, N-PDU number, next extension header type, then the extensions
        opt = struct.pack("!HBB", 0, 0, ext[0][0])
        for i, (_, content) in enumerate(ext):
            nxt = ext[i + 1][0] if i + 1 < len(ext) else 0
            opt += bytes([(len(content) + 2) // 4]) + content + bytes([nxt])
    return struct.pack("!BBHI", flags, msg, len(opt) + len(body), teid) + opt + body


def sctp(sport, dport, vtag, chunks=b""):
    return struct.pack("!HHII", sport, dport, vtag, 0) + chunks


def l4_seeds():
    inner4 = IP(src="10.45.0.2", dst="8.8.8.8") / UDP(sport=5000, dport=53) / Raw(b"q" * 12)
    inner6 = IPv6(src="2001:db8:45::2", dst="2001:db8::53") / TCP(sport=443, dport=5000)
    init = bytes([1, 0, 0, 20]) + struct.pack("!IIHHI", 0x1234, 65535, 10, 10, 1)
    data_chunk = bytes([0, 3, 0, 20]) + struct.pack("!IHHI", 1, 0, 0, 46) + b"abcd"
    s4, d4 = "192.0.2.10", "198.51.100.20"
    s6, d6 = "2001:db8:a::10", "2001:db8:b::20"
    pkts = [
        ("gtpu4", IP(src=s4, dst=d4) / UDP(sport=2152, dport=2152) /
         Raw(gtpu(0x11223344, inner4))),
        ("gtpu6", IPv6(src=s6, dst=d6) / UDP(sport=33000, dport=2152) /
         Raw(gtpu(0xdeadbeef, inner6))),
        ("gtpu-ext-pdu-session", IP(src=s4, dst=d4) / UDP(sport=2152, dport=2152) /
         Raw(gtpu(7, inner4, ext=[(0x85, bytes([0x10, 0x09]))]))),
        ("gtpu-echo", IP(src=s4, dst=d4) / UDP(sport=2152, dport=2152) /
         Raw(struct.pack("!BBHIHBB", 0x32, 1, 4, 0, 1, 0, 0))),
        ("gtpu-short", IP(src=s4, dst=d4) / UDP(sport=2152, dport=2152) / Raw(b"\x30\xff\x00")),
        ("gtp-prime", IP(src=s4, dst=d4) / UDP(sport=3386, dport=2152) /
         Raw(gtpu(5, b"", flags=0x10))),
        ("sctp4-init", IP(src=s4, dst=d4, proto=132) / Raw(sctp(36412, 36412, 0, init))),
        ("sctp4-data", IP(src=s4, dst=d4, proto=132) / Raw(sctp(36412, 36412, 0xcafe, data_chunk))),
        ("sctp6-data", IPv6(src=s6, dst=d6, nh=132) / Raw(sctp(38412, 38412, 0xbeef, data_chunk))),
        ("sctp-short", IP(src=s4, dst=d4, proto=132) / Raw(b"\x8e\x3c\x8e\x3c\x00")),
        ("esp4", IP(src=s4, dst=d4, proto=50) / Raw(struct.pack("!II", 0x101, 1) + b"e" * 32)),
        ("tcp4", IP(src=s4, dst=d4) / TCP(sport=1234, dport=80, flags="S")),
        ("udp4-nocksum", IP(src=s4, dst=d4) / UDP(sport=1, dport=2, chksum=0) / Raw(b"z" * 9)),
        ("udp6", IPv6(src=s6, dst=d6) / UDP(sport=7, dport=9) / Raw(b"u" * 7)),
        ("icmp4-echo", IP(src=s4, dst=d4) / ICMP(id=77, seq=1) / Raw(b"ping")),
        ("icmp6-echo", IPv6(src=s6, dst=d6) / ICMPv6EchoRequest(id=78, data=b"ping")),
        ("icmp4-error-udp", IP(src=d4, dst=s4) / ICMP(type=3, code=4, nexthopmtu=1400) /
         IP(src=s4, dst=d4) / UDP(sport=1234, dport=2152) / Raw(gtpu(9, b"")[:8])),
        ("icmp4-error-echo", IP(src=d4, dst=s4) / ICMP(type=11) / IP(src=s4, dst=d4) /
         ICMP(id=5)),
        ("icmp6-error-tcp", IPv6(src=d6, dst=s6) / ICMPv6DestUnreach() /
         IPv6(src=s6, dst=d6) / TCP(sport=1, dport=2)),
        ("icmp6-error-ext", IPv6(src=d6, dst=s6) / ICMPv6DestUnreach() /
         IPv6(src=s6, dst=d6) / IPv6ExtHdrDestOpt() / UDP(sport=3, dport=4)),
        ("ip4-options-udp", IP(src=s4, dst=d4, options=[IPOption_RR(routers=["0.0.0.0"])]) /
         UDP(sport=2152, dport=2152) / Raw(gtpu(3, b""))),
        ("ip4-first-frag", IP(src=s4, dst=d4, flags="MF") / UDP(sport=5, dport=2152) /
         Raw(gtpu(4, b"x" * 16))),
        ("ip4-later-frag", IP(src=s4, dst=d4, frag=3) / Raw(b"f" * 24)),
        ("ip6-chain", IPv6(src=s6, dst=d6) / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() /
         IPv6ExtHdrRouting() / IPv6ExtHdrDestOpt() / UDP(sport=6, dport=2152) /
         Raw(gtpu(6, b""))),
        ("ip6-frag-first", IPv6(src=s6, dst=d6) / IPv6ExtHdrFragment(m=1, id=5) /
         UDP(sport=1, dport=2)),
        ("ip6-frag-later", IPv6(src=s6, dst=d6) / IPv6ExtHdrFragment(offset=4, id=5, nh=17) /
         Raw(b"y" * 16)),
        ("ip6-ah", IPv6(src=s6, dst=d6, nh=51) / Raw(bytes([6, 4, 0, 0]) + b"\0" * 20) /
         TCP(sport=9, dport=10)),
        ("ip6-ext-truncated", IPv6(src=s6, dst=d6, nh=0, plen=8) / Raw(bytes([60, 2]) + b"\0" * 6)),
        ("ip6-no-next", IPv6(src=s6, dst=d6, nh=59)),
        ("ip4-unknown-proto", IP(src=s4, dst=d4, proto=253) / Raw(b"u" * 4)),
    ]
    out = []
    for name, p in pkts:
        b = raw(p)
        out.append((name, bytes([0x20]) + b))               # as the graph sees it
        out.append((name + "-nat-snat", bytes([0x15]) + b))  # source address and port
        out.append((name + "-nat-dnat", bytes([0x1a]) + b))  # destination address and port
    return out


# ---- esp: [control byte][outer IP packet] -----------------------------------------------------
# control: bits 0-1 0 as is, 1-3 seal for SA 1-3; bits 2-4 extra copies; bit 5 decrypt_burst
# with the SA of bits 6-7 (0 and 1: SA 1).
# The SAs of fuzz_esp.c:
ESP_NULL_AKEY = b"fuzz-esp-null-hmac-sha256-key-01"
ESP_GCM2 = b"fuzz-esp-gcm-k02" + b"salt"
ESP_GCM3 = b"fuzz-esp-gcm-k03" + b"SALT"


def esp_sas():
    from scapy.layers.ipsec import ESP, SecurityAssociation
    sa1 = SecurityAssociation(ESP, spi=0x101, crypt_algo="NULL", auth_algo="SHA2-256-128",
                              auth_key=ESP_NULL_AKEY,
                              tunnel_header=IP(src="192.0.2.2", dst="192.0.2.1"))
    sa2 = SecurityAssociation(ESP, spi=0x102, crypt_algo="AES-GCM", crypt_key=ESP_GCM2,
                              tunnel_header=IPv6(src="fd00:e5::2", dst="fd00:e5::1"),
                              esn_en=True, esn=0)
    sa3 = SecurityAssociation(ESP, spi=0x103, crypt_algo="AES-GCM", crypt_key=ESP_GCM3,
                              tunnel_header=IP(src="198.51.100.7", dst="192.0.2.1"),
                              nat_t_header=UDP(sport=31000, dport=4500))
    return sa1, sa2, sa3


def natt_fix(pkt):
    """scapy leaves the UDP length of its NAT-T header at 8: make it the datagram's."""
    b = bytearray(raw(pkt))
    ihl = (b[0] & 15) * 4
    b[ihl + 4:ihl + 6] = (len(b) - ihl).to_bytes(2, "big")
    return bytes(b)


def seq0(pkt):
    """The same ESP packet with sequence number 0 (its ICV no longer matters: refused before)."""
    b = bytearray(raw(pkt))
    b[24:28] = b"\0\0\0\0"
    return bytes(b)


def esp_trailer(inner, nh, pad=None, align=4):
    """Plaintext of an ESP payload: inner packet, padding 1, 2, ..., pad length, next header."""
    b = bytes(inner)
    if pad is None:
        pad = (-(len(b) + 2)) % align
    return b + bytes(range(1, pad + 1)) + bytes([pad, nh])


def esp_seeds():
    sa1, sa2, sa3 = esp_sas()
    in4 = IP(src="10.20.0.2", dst="10.10.0.2") / UDP(sport=1000, dport=2000) / Raw(b"d" * 24)
    in6 = IPv6(src="fd00:20::2", dst="fd00:10::2") / UDP(sport=1000, dport=2000) / Raw(b"6" * 20)
    out = []

    def add(name, pkt, ctl=0):
        out.append((name, bytes([ctl]) + (pkt if isinstance(pkt, bytes) else raw(pkt))))

    # Encrypted by scapy (an independent ESP), received as they are.
    add("null-v4", sa1.encrypt(in4, seq_num=1))
    add("null-v4-burst", sa1.encrypt(in4, seq_num=7), ctl=3 << 2)
    add("gcm-v6-esn", sa2.encrypt(in6, seq_num=5))
    add("gcm-v6-esn-burst", sa2.encrypt(in6, seq_num=9), ctl=2 << 2)
    add("gcm-natt-v4", natt_fix(sa3.encrypt(in4, seq_num=3)))
    add("null-v4-direct", sa1.encrypt(in4, seq_num=2), ctl=0x20 | 1 << 6)
    add("gcm-natt-direct", natt_fix(sa3.encrypt(in4, seq_num=2)), ctl=0x20 | 3 << 6)
    add("gcm-natt-direct-wrong-sa", natt_fix(sa3.encrypt(in4, seq_num=2)), ctl=0x20 | 2 << 6)
    add("null-seq0", seq0(sa1.encrypt(in4, seq_num=1)))
    add("null-wrong-inner", sa1.encrypt(in6, seq_num=4))
    tampered = bytearray(raw(sa2.encrypt(in6, seq_num=6)))
    tampered[-20] ^= 1
    add("gcm-tampered", bytes(tampered))
    add("unknown-spi", IP(src="192.0.2.2", dst="192.0.2.1", proto=50) /
        Raw(struct.pack("!II", 0x999, 1) + b"x" * 40))
    add("natt-keepalive", IP(src="198.51.100.7", dst="192.0.2.1") / UDP(sport=4500, dport=4500) /
        Raw(b"\xff"))
    add("natt-ike", IP(src="198.51.100.7", dst="192.0.2.1") / UDP(sport=4500, dport=4500) /
        Raw(b"\0\0\0\0" + b"i" * 28))
    add("esp-short", IP(src="192.0.2.2", dst="192.0.2.1", proto=50) / Raw(struct.pack("!I", 0x101)))
    add("esp-fragment", IP(src="192.0.2.2", dst="192.0.2.1", proto=50, flags="MF") /
        Raw(struct.pack("!II", 0x101, 3) + b"f" * 40))
    add("esp6-ext-hdr", IPv6(src="fd00:e5::2", dst="fd00:e5::1") / IPv6ExtHdrDestOpt(nh=50) /
        Raw(struct.pack("!II", 0x102, 3) + b"g" * 40))

    # Sealed by the harness: [outer header][ESP header][IV][plaintext], the ICV added there.
    def sealed(outer, spi, seq, iv, plain):
        return raw(outer) + struct.pack("!II", spi, seq) + iv + plain

    o4 = IP(src="192.0.2.2", dst="192.0.2.1", proto=50)
    o6 = IPv6(src="fd00:e5::2", dst="fd00:e5::1", nh=50)
    o4u = IP(src="198.51.100.7", dst="192.0.2.1") / UDP(sport=4500, dport=4500)
    iv = b"\x01\x02\x03\x04\x05\x06\x07\x08"
    add("seal-null-ok", sealed(o4, 0x101, 1, b"", esp_trailer(in4, 4)), ctl=1)
    add("seal-null-bad-pad", sealed(o4, 0x101, 1, b"",
                                   raw(in4) + bytes([1, 3, 2, 4])), ctl=1)
    add("seal-null-bad-nh", sealed(o4, 0x101, 1, b"", esp_trailer(in4, 41)), ctl=1)
    add("seal-null-padlen-huge", sealed(o4, 0x101, 1, b"", raw(in4) + bytes([250, 4])), ctl=1)
    add("seal-null-tfc", sealed(o4, 0x101, 1, b"", esp_trailer(raw(in4) + b"\0" * 30, 4)),
        ctl=1)
    add("seal-null-nh-none", sealed(o4, 0x101, 1, b"", esp_trailer(b"", 59)), ctl=1)
    add("seal-null-inner-short", sealed(o4, 0x101, 1, b"", esp_trailer(raw(in4)[:12], 4)), ctl=1)
    add("seal-gcm6-ok", sealed(o6, 0x102, 1, iv, esp_trailer(in6, 41)), ctl=2)
    add("seal-gcm6-burst", sealed(o6, 0x102, 3, iv, esp_trailer(in6, 41)), ctl=2 | (3 << 2))
    add("seal-gcm6-ecn-ce", sealed(IPv6(src="fd00:e5::2", dst="fd00:e5::1", nh=50, tc=3), 0x102,
                                   2, iv, esp_trailer(in6, 41)), ctl=2)
    add("seal-gcm6-v4-inner", sealed(o6, 0x102, 1, iv, esp_trailer(in4, 4)), ctl=2)
    add("seal-gcm-natt-ok", sealed(o4u, 0x103, 1, iv, esp_trailer(in4, 4)), ctl=3)
    add("seal-gcm-natt-pad", sealed(o4u, 0x103, 9, iv, esp_trailer(in4, 4, pad=10)), ctl=3)
    add("seal-gcm-natt-direct", sealed(o4u, 0x103, 1, iv, esp_trailer(in4, 4)),
        ctl=0x20 | 3 << 6 | 3)
    add("seal-gcm-natt-ecn", sealed(IP(src="198.51.100.7", dst="192.0.2.1", tos=3) /
                                    UDP(sport=4500, dport=4500), 0x103, 1, iv,
                                    esp_trailer(IP(src="10.20.0.2", dst="10.10.0.2", tos=1) /
                                                UDP(), 4)), ctl=3)
    return out



# ---- wg: records [op][len][body] (see fuzz_wg.c) ----------------------------------------------
# op bits 0-3: 0 message to B, 1 A's initiation XOR body, 2 B's reply XOR body, 3 message to A,
# 4 data to B, 5 A seals body, 6 B under load, 7 time (x100 ms), 8 timers, 9 sealed XOR body;
# bit 4: the op's flag (fix mac1, B's receiver index, twice, load on). Length 255: to the end.

def wrec(op, body=b""):
    body = bytes(body)
    assert len(body) < 255
    return bytes([op, len(body)]) + body


def wrec_rest(op, body):
    return bytes([op, 255]) + bytes(body)


def xor_at(offset, mask):
    return b"\0" * offset + bytes(mask)


def wg_initiation_layout(sender=0x11223344):
    """A handshake initiation's layout (148 bytes): type, sender, ephemeral, AEAD(static),
    AEAD(timestamp), mac1, mac2. Its contents are not a real handshake."""
    return (struct.pack("<II", 1, sender) + bytes(range(32)) + b"\x5a" * 48 + b"\xa5" * 28 +
            b"\0" * 32)


def wg_response_layout(sender=0x55667788, receiver=0x11223344):
    return struct.pack("<III", 2, sender, receiver) + bytes(range(32)) + b"\x3c" * 16 + b"\0" * 32


def wg_cookie_layout(receiver=0x11223344):
    return struct.pack("<II", 3, receiver) + b"\x24" * 24 + b"\xc3" * 32


def wg_seeds():
    ip4 = raw(IP(src="10.99.0.5", dst="10.1.1.1") / UDP(sport=1000, dport=2000) / Raw(b"w" * 20))
    ip6 = raw(IPv6(src="fd99::5", dst="fd01::1") / UDP(sport=1000, dport=2000) / Raw(b"6" * 9))
    foreign = raw(IP(src="10.98.0.5", dst="10.1.1.1") / UDP() / Raw(b"f" * 8))
    short_ip = bytearray(ip4)
    short_ip[2:4] = (len(ip4) + 40).to_bytes(2, "big")
    big = raw(IP(src="10.99.0.5", dst="10.1.1.1") / UDP() / Raw(b"B" * 1372))
    data_hdr = struct.pack("<IIQ", 4, 0, 5)
    return [
        ("hs-initiation", wrec(1)),
        ("hs-initiation-bad-static", wrec(0x11, xor_at(40, [1]))),
        ("hs-initiation-bad-timestamp", wrec(0x11, xor_at(90, [0x80]))),
        ("hs-initiation-bad-mac1", wrec(1, xor_at(116, [1]))),
        ("hs-initiation-new-sender", wrec(0x11, xor_at(4, [9, 9]))),
        ("hs-under-load-cookie", wrec(0x16) + wrec(1) + wrec(1) + wrec(6) + wrec(1)),
        ("hs-response-bad-receiver", wrec(0x12, xor_at(8, [7]))),
        ("hs-response-bad-ephemeral", wrec(0x12, xor_at(20, [1]))),
        ("hs-response-bad-empty", wrec(0x12, xor_at(50, [1]))),
        ("hs-cookie-reply-mutated", wrec(0x16) + wrec(2, xor_at(40, [1]))),
        ("hs-raw-initiation", wrec(0x10, wg_initiation_layout())),
        ("hs-raw-initiation-no-mac1", wrec(0, wg_initiation_layout())),
        ("hs-raw-initiation-short", wrec(0x10, wg_initiation_layout()[:147])),
        ("hs-raw-initiation-long", wrec(0x10, wg_initiation_layout() + b"\0")),
        ("hs-raw-initiation-type-bytes", wrec(0x10, b"\x01\x01" + wg_initiation_layout()[2:])),
        ("hs-raw-response", wrec(0x10, wg_response_layout())),
        ("hs-raw-response-to-a", wrec(0x13, wg_response_layout())),
        ("hs-raw-cookie-to-a", wrec(3, wg_cookie_layout())),
        ("hs-raw-cookie-to-b", wrec(0, wg_cookie_layout())),
        ("hs-flood", wrec(1) * 6),
        ("data-ip4", wrec(5, ip4)),
        ("data-ip6", wrec(5, ip6)),
        ("data-keepalive", wrec(5)),
        ("data-replay", wrec(0x15, ip4)),
        ("data-src-not-allowed", wrec(5, foreign)),
        ("data-bad-inner", wrec(5, b"\x45garbage" * 3)),
        ("data-inner-truncated", wrec(5, bytes(short_ip))),
        ("data-tampered", wrec(9, xor_at(20, [1]))),
        ("data-tampered-counter", wrec(9, xor_at(8, [1]))),
        ("data-raw-session-index", wrec(0x14, data_hdr + b"\x77" * 32)),
        ("data-raw-unknown-index", wrec(4, data_hdr + b"\x77" * 32)),
        ("data-raw-short", wrec(0x14, data_hdr + b"\x77" * 15)),
        ("data-raw-handshake-type", wrec(4, wg_initiation_layout())),
        ("data-big", wrec(5, ip4) + wrec_rest(5, big)),
        ("session-expiry-rekey", wrec(5, ip4) + wrec(7, [250]) * 8 + wrec(8) + wrec(5, ip4) +
         wrec(8) + wrec(5, ip4)),
        ("keepalive-timer", wrec(5, ip4) + wrec(7, [110]) + wrec(8) + wrec(7, [50]) + wrec(8)),
        ("rekey-after-time", wrec(7, [255]) * 5 + wrec(5, ip4) + wrec(8) + wrec(5, ip6)),
        ("new-session-old-data", wrec(1) + wrec(5, ip4) + wrec(0x15, ip6)),
    ]


# ---- ike: [flags byte][IKE message] ----------------------------------------------------------
# flags: bit 0 port 4500 with the non-ESP marker; bit 1 from the initiator-side peer.

def _pl(np, body):
    return bytes([np, 0]) + (4 + len(body)).to_bytes(2, "big") + body


def _chain(pls):
    """[(type, body)...] -> (first type, bytes) with next-payload fields filled."""
    out = b""
    for i, (t, body) in enumerate(pls):
        out += _pl(pls[i + 1][0] if i + 1 < len(pls) else 0, body)
    return (pls[0][0] if pls else 0), out


def _ike(spi_i, spi_r, exch, flags, msgid, pls):
    first, body = _chain(pls)
    hdr = spi_i + spi_r + bytes([first, 0x20, exch, flags]) + msgid.to_bytes(4, "big")
    return hdr + (28 + len(body)).to_bytes(4, "big") + body


def _transform(last, ttype, tid, kb=0):
    attr = (0x800e).to_bytes(2, "big") + kb.to_bytes(2, "big") if kb else b""
    return bytes([0 if last else 3, 0]) + (8 + len(attr)).to_bytes(2, "big") + \
        bytes([ttype, 0]) + tid.to_bytes(2, "big") + attr


def _proposal(last, num, proto, spi, transforms):
    body = bytes([num, proto, len(spi), len(transforms)]) + spi + b"".join(transforms)
    return bytes([0 if last else 2, 0]) + (4 + len(body)).to_bytes(2, "big") + body


def ike_seeds():
    spi_i, zero = bytes(range(1, 9)), bytes(8)
    ike_sa = _proposal(True, 1, 1, b"", [_transform(False, 1, 20, 128), _transform(False, 2, 5),
                                          _transform(True, 4, 19)])
    nat = lambda t: (41, bytes([0, 0]) + t.to_bytes(2, "big") + bytes(20))
    init = _ike(spi_i, zero, 34, 0x08, 0, [(33, ike_sa), (34, (19).to_bytes(2, "big") + bytes(2) +
                                                           bytes(range(64))),
                                           (40, bytes(range(32))), nat(16388), nat(16389)])
    cookie = _ike(spi_i, zero, 34, 0x08, 0, [(41, bytes([0, 0, 0x40, 0x06]) + bytes(17)),
                                            (33, ike_sa), (34, (19).to_bytes(2, "big") + bytes(66)),
                                            (40, bytes(32))])
    esp_sa = _proposal(True, 1, 3, b"\x00\x00\x12\x34", [_transform(False, 1, 20, 128),
                                                            _transform(True, 5, 0)])
    ts = bytes([1, 0, 0, 0, 7, 0, 0, 16, 0, 0, 0xff, 0xff, 10, 1, 0, 0, 10, 1, 0xff, 0xff])
    sk_inner_first, sk_inner = _chain([(35, bytes([2, 0, 0, 0]) + b"a.example"),
                                       (39, bytes([2, 0, 0, 0]) + bytes(32)), (33, esp_sa),
                                       (44, ts), (45, ts)])
    auth = _ike(spi_i, bytes(range(9, 17)), 35, 0x08, 1,
                [(46, bytes(8) + sk_inner + bytes(16))])
    auth = auth[:28] + bytes([sk_inner_first]) + auth[29:]  # SK's next payload: the first inner
    info = _ike(spi_i, bytes(range(9, 17)), 37, 0x08, 2, [(46, bytes(8 + 1 + 16))])
    resp = _ike(spi_i, bytes(range(9, 17)), 34, 0x20, 0, [(33, ike_sa), (34, (19).to_bytes(2, "big")
                                                                       + bytes(2) + bytes(64)),
                                                          (40, bytes(32))])
    return [("init", b"\x00" + init), ("init-cookie", b"\x00" + cookie),
            ("auth-4500", b"\x01" + auth), ("informational", b"\x01" + info),
            ("init-response", b"\x02" + resp), ("garbage", b"\x01" + bytes(40))]


if __name__ == "__main__":
    write("eth", eth_seeds())
    write("neigh", neigh_seeds())
    write("config", config_seeds())
    write("nsm", nsm_seeds())
    write("rest", rest_seeds())
    write("l4", l4_seeds())
    write("esp", esp_seeds())
    write("wg", wg_seeds())
    write("ike", ike_seeds())
