# SPDX-License-Identifier: BSD-3-Clause
"""Addresses added at run time are announced like those of the file: a
gratuitous ARP request or an unsolicited NA with the interface's MAC
(arp_nd.announce, on by default), and a port added over REST announces its
link-local address and then each address it gets. tests/datapath/test_arpnd.py
checks the frames' fields at start."""
import time

from scapy.all import ARP, ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, Ether, rdpcap

from mgrun import Control, Meshgate

CONFIG = """
dpdk:
  lcores: "0-1"
  memory_mb: 512
  hugepages: false
workers:
  idle: {{mode: sleep}}
{arp_nd}
networks:
  - name: default
ports:
  - name: d
    device: "net_pcap1,tx_pcap={dir}/out_d.pcap"
    mac: "02:00:00:00:0d:01"
    ipv4: [10.0.4.1/24]
"""


def announced(path):
    """(kind, address, MAC) of each announcement in a capture, in order."""
    out = []
    for p in rdpcap(str(path)):
        if ARP in p and p[ARP].op == 1 and p[ARP].psrc == p[ARP].pdst:
            assert p[Ether].dst == "ff:ff:ff:ff:ff:ff"
            out.append(("arp", p[ARP].psrc, p[ARP].hwsrc))
        elif ICMPv6ND_NA in p and p[ICMPv6ND_NA].S == 0 and p[ICMPv6ND_NA].O == 1:
            assert p[Ether].dst == "33:33:00:00:00:01"
            out.append(("na", p[ICMPv6ND_NA].tgt, p[ICMPv6NDOptDstLLAddr].lladdr))
    return out


def sent_by(ctl, want, timeout=20):
    """Wait until each port of @want ({name: frames}) has sent that many frames
    (announcements are queued to a worker: a stop right after the REST call
    could come before the worker sent them)."""
    end = time.time() + timeout
    while True:
        ports = ctl.ok("GET", "/v1/stats")["ports"]
        got = {p: ports.get(p, {}).get("tx_packets", 0) for p in want}
        if got == want or time.time() > end:
            return got
        time.sleep(0.05)


def test_runtime_addresses_and_ports_are_announced(tmp_path):
    with Meshgate(tmp_path, CONFIG.format(dir=tmp_path, arp_nd=""), name="ann") as mg:
        ctl = Control(mg)
        ctl.ok("POST", "/v1/interfaces/d/addresses", {"address": "10.0.6.1/24"})
        ctl.ok("POST", "/v1/interfaces/d/addresses", {"address": "fd00:4::9/64"})
        ctl.ok("POST", "/v1/ports", {"name": "e", "device": f"net_pcap2,tx_pcap={tmp_path}/out_e.pcap",
                                     "mac": "02:00:00:00:0e:01"})
        ctl.ok("POST", "/v1/interfaces/e/addresses", {"address": "10.0.5.1/24"})
        # A refused address (overlaps one of d) is not announced on e.
        st, _ = ctl.http("POST", "/v1/interfaces/e/addresses", {"address": "10.0.6.1/24"})
        assert st == 409, st
        assert sent_by(ctl, {"d": 4, "e": 2}) == {"d": 4, "e": 2}
    d = "02:00:00:00:0d:01"
    e = "02:00:00:00:0e:01"
    assert announced(tmp_path / "out_d.pcap") == [
        ("na", "fe80::ff:fe00:d01", d), ("arp", "10.0.4.1", d),
        ("arp", "10.0.6.1", d), ("na", "fd00:4::9", d)]
    assert announced(tmp_path / "out_e.pcap") == [
        ("na", "fe80::ff:fe00:e01", e), ("arp", "10.0.5.1", e)]


def test_announce_off_sends_nothing_unasked(tmp_path):
    cfg = CONFIG.format(dir=tmp_path, arp_nd="arp_nd: {announce: false}")
    with Meshgate(tmp_path, cfg, name="ann") as mg:
        Control(mg).ok("POST", "/v1/interfaces/d/addresses", {"address": "10.0.6.1/24"})
    assert list(rdpcap(str(tmp_path / "out_d.pcap"))) == []
