# SPDX-License-Identifier: BSD-3-Clause
"""SCTP (an NGAP-like association on port 38412) from many hosts: one DATA
chunk per packet. The field engine changes only the IPv4 source: SCTP's
CRC32c covers the SCTP packet, not the IP addresses, so every frame keeps a
valid checksum. Tunables: size, flows, pps."""
from mg_common import DIRECTIONS, STLPktBuilder, STLStream, STLTXCont, pad, src_flows_vm, tunables
from scapy.layers.inet import IP
from scapy.layers.l2 import Ether
from scapy.layers.sctp import SCTP, SCTPChunkData

AMF = "198.19.252.10"
NGAP_PORT = 38412
NGAP_PPID = 60


class MeshgateSctp:
    def get_streams(self, direction=0, **kwargs):
        t = tunables(kwargs, size=128, flows=1000, pps=1000.0)
        hdr = 14 + 20 + 12 + 16
        if t["size"] - 4 < hdr:
            raise ValueError(f"an SCTP DATA frame needs at least {hdr + 4} bytes")
        # Chunks are padded to 4 bytes: whole words of data, the rest of the
        # frame is Ethernet padding after the IP packet.
        data = b"\x00" * ((t["size"] - 4 - hdr) & ~3)
        base = (Ether() / IP(src=DIRECTIONS[0][0], dst=AMF) /
                SCTP(sport=38412, dport=NGAP_PORT, tag=0x1234abcd) /
                SCTPChunkData(tsn=1, stream_id=0, stream_seq=0, proto_id=NGAP_PPID, data=data))
        pkt = Ether(bytes(base))  # SCTP checksum computed over the final bytes
        return [STLStream(name="sctp",
                          packet=STLPktBuilder(pkt=pad(pkt, t["size"]),
                                               vm=src_flows_vm(DIRECTIONS[0][0], t["flows"])),
                          mode=STLTXCont(pps=t["pps"]))]


def register():
    return MeshgateSctp()
