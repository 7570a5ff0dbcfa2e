# SPDX-License-Identifier: BSD-3-Clause
"""What meshgate's TRex profiles share: the two-port addressing of
conf/trex-dut.yaml, frame building and the field-engine program that makes
many flows. TRex loads a profile with its directory on sys.path, so the
profiles import this module by name.

Addresses (RFC 2544's benchmark range 198.18.0.0/15):
  TRex port 0  198.18.0.2  --  198.18.0.1  meshgate "a"   clients 198.18.1.0/24.. behind port 0
  TRex port 1  198.19.0.2  --  198.19.0.1  meshgate "b"   servers 198.19.1.0/24.. behind port 1
Direction 0 sends from port 0 to the servers, direction 1 back to the clients.

Sizes are Ethernet frame sizes with the 4-byte FCS, as RFC 2544 counts
them (64 is the minimum); the packet TRex builds is 4 bytes shorter.
"""
import ipaddress

try:  # TRex v2.80 and later
    from trex.stl.api import (STLPktBuilder, STLScVmRaw, STLStream, STLTXCont, STLVmFixIpv4,
                              STLVmFlowVar, STLVmWrFlowVar)
except ImportError:  # older TRex releases
    from trex_stl_lib.api import (STLPktBuilder, STLScVmRaw, STLStream, STLTXCont,  # noqa
                                  STLVmFixIpv4, STLVmFlowVar, STLVmWrFlowVar)
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

FCS = 4
MIN_FRAME = 64
MAX_FRAME = 9018

# direction -> (first source address, destination network)
DIRECTIONS = {
    0: ("198.18.1.1", "198.19.1.0/24"),
    1: ("198.19.1.1", "198.18.1.0/24"),
}


def frame_len(size):
    """The packet length TRex builds for an Ethernet frame of @size bytes."""
    if not MIN_FRAME <= size <= MAX_FRAME:
        raise ValueError(f"frame size {size} is not {MIN_FRAME}-{MAX_FRAME}")
    return size - FCS


def pad(pkt, size):
    """@pkt padded with zeros to the frame size @size (never truncated)."""
    n = frame_len(size) - len(pkt)
    if n < 0:
        raise ValueError(f"{len(pkt) + FCS}-byte headers do not fit a {size}-byte frame")
    return pkt / Raw(b"\x00" * n) if n else pkt


def addr_range(first, count):
    """(first, last) of @count addresses from @first, as strings."""
    if count < 1:
        raise ValueError("flows must be at least 1")
    a = ipaddress.IPv4Address(first)
    return str(a), str(a + (count - 1))


def src_flows_vm(first_src, flows, extra=()):
    """Vary the IPv4 source over @flows addresses from @first_src (one flow
    each), fix the IPv4 checksum; @extra: more field-engine instructions."""
    lo, hi = addr_range(first_src, flows)
    cmds = [STLVmFlowVar(name="src", min_value=lo, max_value=hi, size=4, op="inc"),
            STLVmWrFlowVar(fv_name="src", pkt_offset="IP.src")]
    cmds += list(extra)
    cmds.append(STLVmFixIpv4(offset="IP"))
    return STLScVmRaw(cmds)


def udp_stream(size, pps, direction=0, flows=256, dst=None, dport=1024, sport=1025, name=None):
    """A continuous UDP stream of @size-byte frames at @pps, @flows sources."""
    first_src, dst_net = DIRECTIONS[direction]
    dst = dst or str(ipaddress.IPv4Network(dst_net)[1])
    # UDP checksum 0 ("none", valid for IPv4): the field engine changes the
    # source address, which the UDP checksum would cover.
    base = Ether() / IP(src=first_src, dst=dst, ttl=64) / UDP(sport=sport, dport=dport, chksum=0)
    return STLStream(name=name, packet=STLPktBuilder(pkt=pad(base, size),
                                                     vm=src_flows_vm(first_src, flows)),
                     mode=STLTXCont(pps=pps))


def tunables(kwargs, **defaults):
    """The profile's tunables (trex-console: start -f PROFILE -t size=128,flows=1000)."""
    out = dict(defaults)
    for k, v in kwargs.items():
        if k in defaults:
            out[k] = type(defaults[k])(v)
    return out
