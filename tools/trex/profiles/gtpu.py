# SPDX-License-Identifier: BSD-3-Clause
"""GTP-U (UDP 2152) with many TEIDs, as from a RAN towards UPFs: meshgate
picks the endpoint of each tunnel by hashing its TEID, so the TEIDs are the
flows. Each frame carries an inner IPv4/UDP packet of a UE.
Tunables: size, teids, first_teid, pps."""
import struct

from mg_common import (DIRECTIONS, STLPktBuilder, STLScVmRaw, STLStream, STLTXCont,
                       STLVmFixIpv4, STLVmFlowVar, STLVmWrFlowVar, pad, tunables)
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

UPF = "198.19.251.10"
GTPU_PORT = 2152
# Offset of the TEID in the frame: Ethernet 14 + IPv4 20 + UDP 8 + GTP flags,
# type and length 4.
TEID_OFFSET = 14 + 20 + 8 + 4


def gtpu_header(teid, payload_len):
    """GTPv1-U, version 1, PT=1, no optional fields, message type 255 (G-PDU)."""
    return struct.pack("!BBHI", 0x30, 0xFF, payload_len, teid)


class MeshgateGtpu:
    def get_streams(self, direction=0, **kwargs):
        t = tunables(kwargs, size=128, teids=10000, first_teid=1, pps=1000.0)
        inner = IP(src="100.64.0.1", dst="192.0.2.10") / UDP(sport=5000, dport=5001, chksum=0)
        inner_len = 14 + 20 + 8 + 8 + len(inner)  # headers before the padding
        if t["size"] - 4 < inner_len:
            raise ValueError(f"a GTP-U frame needs at least {inner_len + 4} bytes")
        inner = inner / Raw(b"\x00" * (t["size"] - 4 - inner_len))
        inner = IP(bytes(inner))  # lengths and checksum computed
        base = (Ether() / IP(src=DIRECTIONS[0][0], dst=UPF) /
                UDP(sport=GTPU_PORT, dport=GTPU_PORT, chksum=0) /
                Raw(gtpu_header(t["first_teid"], len(inner))) / inner)
        last = t["first_teid"] + t["teids"] - 1
        if not 1 <= t["teids"] or last > 0xFFFFFFFF:
            raise ValueError("TEIDs must stay within 1..2^32-1")
        vm = STLScVmRaw([
            STLVmFlowVar(name="teid", min_value=t["first_teid"], max_value=last, size=4,
                         op="inc"),
            STLVmWrFlowVar(fv_name="teid", pkt_offset=TEID_OFFSET),
            STLVmFixIpv4(offset="IP"),
        ])
        return [STLStream(name="gtpu", packet=STLPktBuilder(pkt=pad(base, t["size"]), vm=vm),
                          mode=STLTXCont(pps=t["pps"]))]


def register():
    return MeshgateGtpu()
