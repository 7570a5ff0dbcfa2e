# SPDX-License-Identifier: BSD-3-Clause
"""Simple IMIX: 64, 594 and 1518-byte frames in the ratio 7:4:1 (the
classic Internet mix of 40, 576 and 1500-byte IP packets; average frame
361.8 bytes), each size its own stream with its own flows. pps is the
total of the three."""
from mg_common import tunables, udp_stream

MIX = ((64, 7), (594, 4), (1518, 1))


class MeshgateImix:
    def get_streams(self, direction=0, **kwargs):
        t = tunables(kwargs, flows=1024, pps=1200.0)
        total = sum(w for _, w in MIX)
        return [udp_stream(size, t["pps"] * w / total, direction, t["flows"], sport=1025 + i,
                           name=f"imix-{size}")
                for i, (size, w) in enumerate(MIX)]


def register():
    return MeshgateImix()
