# SPDX-License-Identifier: BSD-3-Clause
"""Cleartext traffic that meshgate routes into a WireGuard tunnel
(198.19.201.0/24): encryption with ChaCha20-Poly1305. WireGuard adds outer
IPv4 20 + UDP 8 + data header 16 + tag 16 and pads the inner packet to 16
bytes; inner frames of 64, 512 and 1400 bytes by default fit a 1500-byte
MTU. Tunables: sizes, flows, pps."""
from mg_common import tunables, udp_stream

DST = "198.19.201.10"
WG_OVERHEAD = 20 + 8 + 16 + 16


class MeshgateWgInner:
    def get_streams(self, direction=0, **kwargs):
        t = tunables(kwargs, sizes="64-512-1400", flows=256, pps=1000.0)
        sizes = [int(s) for s in t["sizes"].split("-")]
        for s in sizes:
            inner = s - 18
            if -(-inner // 16) * 16 + WG_OVERHEAD > 1500:
                raise ValueError(f"inner frame {s} would not fit 1500 bytes after WireGuard")
        return [udp_stream(s, t["pps"] / len(sizes), 0, t["flows"], dst=DST, sport=3000 + i,
                           name=f"wg-{s}") for i, s in enumerate(sizes)]


def register():
    return MeshgateWgInner()
