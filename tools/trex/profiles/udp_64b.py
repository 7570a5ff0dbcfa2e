# SPDX-License-Identifier: BSD-3-Clause
"""64-byte UDP frames (the RFC 2544 minimum), 256 flows by default:
the packet-rate ceiling. Tunables: size (frame bytes), flows, pps."""
from mg_common import tunables, udp_stream


class MeshgateUdp64:
    def get_streams(self, direction=0, **kwargs):
        t = tunables(kwargs, size=64, flows=256, pps=1000.0)
        return [udp_stream(t["size"], t["pps"], direction, t["flows"], name="udp")]


def register():
    return MeshgateUdp64()
