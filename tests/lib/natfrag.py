# SPDX-License-Identifier: BSD-3-Clause
"""Fragmented datagrams for the NAT datapath tests (tests/datapath/
test_nat_frag.py, test_nat_svc_frag.py): scapy fragments what goes in, and
reassembles what meshgate sent, whose L4 checksum it then recomputes."""
import ipaddress

from scapy.all import IP, IPv6, Raw, fragment, fragment6, raw
from scapy.layers.inet import defragment
from scapy.layers.inet6 import IPv6ExtHdrFragment, defragment6

FRAG6 = "IPv6 Extension Header - Fragmentation header"


def frags4(src, dst, l4, fid, data, ttl=30, size=1000):
    """The IPv4 datagram @l4 / @data (identification @fid) in fragments of
    at most @size bytes of payload."""
    return fragment(IP(src=src, dst=dst, ttl=ttl, id=fid) / l4 / Raw(data), fragsize=size)


def frags6(src, dst, l4, fid, data, hlim=30, size=1280):
    """The IPv6 datagram @l4 / @data (fragment identification @fid) in
    fragments of at most @size bytes."""
    p = IPv6(src=src, dst=dst, hlim=hlim) / IPv6ExtHdrFragment(id=fid) / l4 / Raw(data)
    return fragment6(p, size)


def ip4_ok(p):
    """The IPv4 header checksum of @p is the one scapy computes."""
    q = IP(raw(p[IP]))
    del q.chksum
    return IP(raw(q)).chksum == p[IP].chksum


def l4_csum_ok(p):
    """The reassembled datagram's L4 checksum is what scapy computes."""
    l4 = p[IP].payload if IP in p else p[IPv6].payload
    while l4.name == FRAG6:
        l4 = l4.payload
    f = "chksum" if "chksum" in l4.fields else "cksum"
    got = getattr(l4, f)
    setattr(l4, f, None)
    q = (IP if IP in p else IPv6)(raw(p[IP] if IP in p else p[IPv6]))
    l4q = q.payload
    while l4q.name == FRAG6:
        l4q = l4q.payload
    return got == getattr(l4q, f)


def reassemble4(pkts):
    """The whole datagrams of IPv4 fragments @pkts (incomplete ones left out)."""
    whole = defragment([p[IP] for p in pkts])
    return [p for p in whole if p.flags.MF == 0 and p.frag == 0]


def reassemble6(pkts):
    """The one datagram of IPv6 fragments @pkts, as a list."""
    return [IPv6(raw(defragment6([p[IPv6] for p in pkts])))]


def owner(addr, port, n):
    """lib/natgw's mg_natgw_owner: the worker of flows whose remote side is @addr, @port."""
    b = ipaddress.ip_address(addr).packed
    h = (0x9e3779b9 * int.from_bytes(port.to_bytes(2, "big"), "little")) & 0xffffffff
    for i in range(0, len(b), 4):
        h = ((h ^ int.from_bytes(b[i:i + 4], "little")) * 0x85ebca6b) & 0xffffffff
        h ^= h >> 15
    return (h * n) >> 32
