# SPDX-License-Identifier: BSD-3-Clause
"""Cleartext traffic that meshgate routes into an IPsec ESP tunnel
(198.19.200.0/24 in conf/trex-dut.yaml's tunnel routes): what is measured
is encryption. Inner frames of 64, 512 and 1400 bytes by default, so that
ESP in tunnel mode (outer IPv4 20, ESP 8, IV 8, trailer 2-17, ICV 16) still
fits a 1500-byte MTU. The peer side of the tunnel (TRex port 1) receives
ESP; count frames, not bytes. Tunables: sizes (e.g. "64-512-1400"), flows, pps."""
from mg_common import tunables, udp_stream

DST = "198.19.200.10"
ESP_OVERHEAD_MAX = 20 + 8 + 8 + 17 + 16


class MeshgateEspInner:
    def get_streams(self, direction=0, **kwargs):
        t = tunables(kwargs, sizes="64-512-1400", flows=256, pps=1000.0)
        sizes = [int(s) for s in t["sizes"].split("-")]
        for s in sizes:
            if s - 18 + ESP_OVERHEAD_MAX > 1500:
                raise ValueError(f"inner frame {s} would not fit 1500 bytes after ESP")
        return [udp_stream(s, t["pps"] / len(sizes), 0, t["flows"], dst=DST, sport=2000 + i,
                           name=f"esp-{s}") for i, s in enumerate(sizes)]


def register():
    return MeshgateEspInner()
