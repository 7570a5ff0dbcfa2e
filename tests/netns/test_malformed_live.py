# SPDX-License-Identifier: BSD-3-Clause
"""Malformed packets sent by real hosts at live ports and into a WireGuard
interface, with meshgate still forwarding good traffic afterwards.

- Port types: the pod host's link to meshgate is an af_packet veth, or a
  TAP that meshgate creates (net_tap) and that is moved into the pod's
  namespace. From the pod host, scapy sends a corpus of malformed frames
  (bad checksums, lying lengths, bad IHL and version, truncated headers,
  IPv6 extension header chains running off the end) and odd but legal ones
  (IPv4 options, fragments, an unknown protocol); every malformed frame is
  dropped under its header-validation reason (exact counts: the hosts' own
  chatter never has those reasons), the odd ones are forwarded, and ping
  crosses meshgate in both families before and after.
- WireGuard: wireguard-go in the ext namespace is meshgate's peer (the
  set-up of test_wireguard.py); from the ext host, scapy sends bogus
  WireGuard messages at meshgate's listen port (wrong types, wrong lengths,
  bad mac1, unknown receiver indexes, reserved bytes set, empty, a
  fragment that never completes). Each is counted by its WireGuard outcome, exactly, and ping
  through the tunnel works before and after.
(net_pcap has its stream in tests/datapath/test_malformed.py and the ESP
tunnel's in tests/datapath/test_malformed_tunnels.py.)
"""
import struct
import subprocess
import time

import pytest
from scapy.all import (IP, UDP, Ether, IPOption_NOP, IPOption_RR, IPv6, Raw, raw,
                       wrpcap)

from mgrun import Control, Meshgate
from test_wireguard import MG_PORT, WG_GO_PORT, genkey, mg_config, ping_ok
from topo import default_config

HEADER_REASONS = {"eth-truncated", "ip4-truncated", "ip4-bad-version", "ip4-bad-header-length",
                  "ip4-bad-total-length", "ip4-bad-checksum", "ip6-truncated",
                  "ip6-bad-version", "ip6-bad-extension-header"}


def inject(topo, tmp_path, side, frames, iface="eth0"):
    """Send @frames as they are from @side's host (scapy in its namespace)."""
    pcap = tmp_path / f"inject-{side}-{time.monotonic_ns()}.pcap"
    wrpcap(str(pcap), frames)
    r = topo.run(side, "/usr/bin/python3", "-c",
                 "import sys; from scapy.all import rdpcap, sendp; "
                 f"sendp(rdpcap(sys.argv[1]), iface='{iface}', verbose=False)", str(pcap))
    assert r.returncode == 0, r.stderr


def mac_of(topo, side, ip):
    """meshgate's MAC as @side's host resolved it."""
    r = topo.run(side, "ip", "neigh", "show", ip)
    for w, nxt in zip(r.stdout.split(), r.stdout.split()[1:]):
        if w == "lladdr":
            return nxt
    raise AssertionError(f"{side} has not resolved {ip}: {r.stdout}")


def malformed(src_mac, gw_mac):
    """(bad frames, odd-but-legal frames) from the pod host (10.10.1.2) to the ext host."""
    e = Ether(src=src_mac, dst=gw_mac)
    v4 = raw(e / IP(src="10.10.1.2", dst="10.10.2.2") / UDP(sport=4000, dport=9) / Raw(b"m" * 40))
    v6 = raw(e / IPv6(src="fd00:10:1::2", dst="fd00:10:2::2") / UDP(sport=4000, dport=9) /
             Raw(b"m" * 40))
    bad = []
    for k in range(3):  # header checksum
        b = bytearray(v4)
        b[14 + 10] ^= 1 << k
        bad.append(Ether(bytes(b)))
    for tl in (len(v4) - 14 + 1, 1400, 19):  # total length beyond the frame, below the header
        b = bytearray(v4)
        b[16:18] = tl.to_bytes(2, "big")
        bad.append(Ether(bytes(b)))
    for vi in (0x44, 0x75, 0x4f):  # IHL 4, version 7, IHL 15 beyond the total length
        b = bytearray(v4[:14 + 20] + b"\0" * 8)
        b[14] = vi
        b[16:18] = (28).to_bytes(2, "big")
        bad.append(Ether(bytes(b)))
    bad.append(Ether(v4[:14 + 16]))  # truncated inside the IPv4 header
    bad.append(Ether(v6[:14 + 30]))  # truncated inside the IPv6 header
    b = bytearray(v6)
    b[18:20] = (3000).to_bytes(2, "big")  # payload length beyond the frame
    bad.append(Ether(bytes(b)))
    # An extension header chain that runs off the end of the packet.
    bad.append(e / IPv6(src="fd00:10:1::2", dst="fd00:10:2::2", nh=0, plen=16) /
               Raw(bytes([60, 0]) + b"\1\4" + b"\0" * 4 + bytes([17, 9]) + b"\0" * 6))
    b = bytearray(v6)
    b[14] = 0x50  # version 5 behind the IPv6 EtherType
    bad.append(Ether(bytes(b)))
    odd = [e / IP(src="10.10.1.2", dst="10.10.2.2", options=[IPOption_NOP()] * 4) / UDP(dport=9),
           e / IP(src="10.10.1.2", dst="10.10.2.2", options=[IPOption_RR(routers=["0.0.0.0"])])
           / UDP(dport=9),
           e / IP(src="10.10.1.2", dst="10.10.2.2", flags="MF") / UDP(dport=9) / Raw(b"f" * 24),
           e / IP(src="10.10.1.2", dst="10.10.2.2", frag=20) / Raw(b"f" * 24),
           e / IP(src="10.10.1.2", dst="10.10.2.2", proto=253) / Raw(b"u" * 10)]
    return bad, odd


def move_tap_to_pod(topo, tap):
    """The pod host's link becomes the TAP meshgate made (its veth goes away)."""
    subprocess.run(["ip", "link", "set", tap, "netns", topo.ns("pod")], check=True)
    for cmd in (["ip", "link", "del", "eth0"],
                ["ip", "link", "set", tap, "up"],
                ["ip", "addr", "add", "10.10.1.2/24", "dev", tap],
                ["ip", "-6", "addr", "add", "fd00:10:1::2/64", "dev", tap, "nodad"],
                ["ip", "route", "add", "default", "via", "10.10.1.1"],
                ["ip", "-6", "route", "add", "default", "via", "fd00:10:1::1"],
                ["ethtool", "-K", tap, "tx", "off", "rx", "off"]):
        r = topo.run("pod", *cmd)
        assert r.returncode == 0 or cmd[0] == "ethtool", (cmd, r.stderr)


@pytest.mark.parametrize("port", ["af_packet", "tap"])
def test_malformed_frames_at_a_live_port(tmp_path, topo, port):
    cfg = default_config(topo.tag)
    iface = "eth0"
    if port == "tap":
        iface = f"{topo.tag}tp"[:15]
        cfg = cfg.replace(f"net_af_packet0,iface={topo.tag}-pod", f"net_tap0,iface={iface}")
    with Meshgate(tmp_path, cfg, name="mal") as mg:
        if port == "tap":
            move_tap_to_pod(topo, iface)
        ping_ok(topo, "pod", "10.10.2.2")
        ping_ok(topo, "pod", "fd00:10:2::2")
        src = topo.run("pod", "cat", f"/sys/class/net/{iface}/address").stdout.strip()
        bad, odd = malformed(src, mac_of(topo, "pod", "10.10.1.1"))
        inject(topo, tmp_path, "pod", bad + odd, iface=iface)
        # Good traffic still crosses, both ways, both families.
        ping_ok(topo, "pod", "10.10.2.2")
        ping_ok(topo, "pod", "fd00:10:2::2")
        ping_ok(topo, "ext", "10.10.1.2")
        ping_ok(topo, "ext", "fd00:10:1::2")
    st = mg.stats
    dropped = {r: n for r, n in st["drops"].items() if n and r in HEADER_REASONS}
    assert sum(dropped.values()) == len(bad), dropped
    assert len(dropped) >= 6, dropped  # the corpus reaches each validation step
    # The two with options were forwarded (the ext host's port unreachable for the
    # record-route one echoes the option back: one more).
    assert st["gateway"]["ip4_options"] >= 2, st["gateway"]
    # The fragments: through a TAP as they were sent. DPDK's af_packet PMD joins
    # its sockets to a fanout group with PACKET_FANOUT_FLAG_DEFRAG, so the kernel
    # holds IPv4 fragments to reassemble them, and these two never complete.
    assert st["gateway"]["ip4_fragments"] == (2 if port == "tap" else 0), st["gateway"]


def wg_bogus(src_mac, gw_mac, dport):
    """(frames, expected WireGuard outcomes) for bogus messages to meshgate's listen port."""
    e = Ether(src=src_mac, dst=gw_mac)

    def udp(payload, **ip):
        return e / IP(src="10.10.2.2", dst="10.10.2.1", **ip) / UDP(sport=40000, dport=dport) / \
            Raw(payload)

    init = struct.pack("<II", 1, 0x01020304) + bytes(range(140))
    resp = struct.pack("<III", 2, 0x0a0b0c0d, 0x11111111) + bytes(80)
    cookie = struct.pack("<II", 3, 0x22222222) + bytes(56)
    data = struct.pack("<IIQ", 4, 0x33333333, 7) + bytes(48)
    frames = [
        udp(init),                                       # bad mac1
        udp(init[:147]),                                 # an initiation one byte short
        udp(resp),                                       # bad mac1
        udp(cookie),                                     # answers no handshake of ours
        udp(data[:20]),                                  # transport data below 32 bytes
        udp(data),                                       # no session with that index
        udp(struct.pack("<I", 9) + bytes(36)),           # type 9
        udp(b"\x01\x01\0\0" + init[4:]),                 # reserved bytes set
        udp(b"\x04\0\0\x01" + data[4:]),                 # reserved bytes set
        udp(init, options=[IPOption_NOP()] * 4),         # IPv4 options: still a bad mac1
        udp(data + bytes(1300)),                         # big, unknown index
    ]
    # A first fragment, never completed: the kernel holds it for reassembly
    # (DPDK's af_packet PMD asks it to defragment), meshgate never sees it.
    frag = e / IP(src="10.10.2.2", dst="10.10.2.1", flags="MF") / \
        UDP(sport=40000, dport=dport) / Raw(init)
    want_hs = {"err_mac1": 3, "err_unknown_index": 1}
    want_rx = {"malformed": 5, "unknown_index": 2}
    # An empty UDP payload is not WireGuard at all.
    frames.append(e / IP(src="10.10.2.2", dst="10.10.2.1") / UDP(sport=40000, dport=dport))
    want_rx["malformed"] += 1
    return frames + [frag], want_hs, want_rx


def test_bogus_wireguard_messages_counted_tunnel_still_works(tmp_path, wgtopo):
    topo, go = wgtopo
    mg_priv, mg_pub = genkey()
    go_ep = "10.10.2.2:%d" % WG_GO_PORT
    go.up(mg_pub, "10.10.2.1:%d" % MG_PORT,
          ["10.99.0.1/32", "fd99::1/128", "10.10.1.0/24", "fd00:10:1::/64"])
    with Meshgate(tmp_path, mg_config(topo, mg_priv, go.pub, go_ep), name="wgmal") as mg:
        ping_ok(topo, "pod", "10.99.0.2")
        api = Control(mg)
        c0 = api.ok("GET", "/v1/wireguard/wg0")["counters"]
        src = topo.run("ext", "cat", "/sys/class/net/eth0/address").stdout.strip()
        frames, want_hs, want_rx = wg_bogus(src, mac_of(topo, "ext", "10.10.2.1"), MG_PORT)
        inject(topo, tmp_path, "ext", frames)
        # The tunnel still carries traffic both ways and both families.
        ping_ok(topo, "pod", "10.99.0.2")
        ping_ok(topo, "pod", "fd99::2")
        ping_ok(topo, "ext", "10.10.1.2")
        # Handshake messages are counted on the main lcore: wait for them.
        deadline = time.time() + 10
        while True:
            c1 = api.ok("GET", "/v1/wireguard/wg0")["counters"]
            hs = {k: c1["handshakes"][k] - c0["handshakes"][k] for k in c1["handshakes"]}
            if all(hs[k] >= n for k, n in want_hs.items()) or time.time() > deadline:
                break
            time.sleep(0.2)
        rx = {k: c1["decrypt"][k] - c0["decrypt"][k] for k in c1["decrypt"]}
        assert {k: n for k, n in hs.items() if n and k.startswith("err_")} == want_hs, hs
        assert {k: rx[k] for k in want_rx} == want_rx, rx
        assert rx["auth"] == 0 and rx["replay"] == 0, rx
    st = mg.stats
    assert st["drops"]["wg-rx-error"] >= sum(want_rx.values()), st["drops"]


@pytest.fixture
def wgtopo(topo, tmp_path):
    from test_wireguard import WgGo
    go = WgGo(topo, tmp_path)
    try:
        yield topo, go
    finally:
        go.down()
