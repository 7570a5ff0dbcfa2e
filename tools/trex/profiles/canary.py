# SPDX-License-Identifier: BSD-3-Clause
"""Traffic to a service with a canary split: many 5-tuples (sources x source
ports) to one service address, so that meshgate's consistent hashing spreads
them over the endpoints by weight (a service of weights 95/5 on the VIP;
conf/trex-dut.yaml only routes it). The split is read from meshgate's
per-endpoint counters; with enough flows it comes within a percent of the
weights.
Tunables: size, sources, ports (flows = sources x ports), pps, vip."""
from mg_common import (DIRECTIONS, STLPktBuilder, STLScVmRaw, STLStream, STLTXCont,
                       STLVmFixIpv4, STLVmFlowVar, STLVmWrFlowVar, addr_range, pad, tunables)
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

VIP = "198.19.250.10"
SERVICE_PORT = 8080


class MeshgateCanary:
    def get_streams(self, direction=0, **kwargs):
        t = tunables(kwargs, size=128, sources=256, ports=256, pps=1000.0, vip=VIP)
        first_src = DIRECTIONS[0][0]
        lo, hi = addr_range(first_src, t["sources"])
        base = (Ether() / IP(src=first_src, dst=t["vip"]) /
                UDP(sport=10000, dport=SERVICE_PORT, chksum=0))
        vm = STLScVmRaw([
            STLVmFlowVar(name="src", min_value=lo, max_value=hi, size=4, op="inc"),
            STLVmWrFlowVar(fv_name="src", pkt_offset="IP.src"),
            # A random source port per frame: over time every (address,
            # port) pair occurs, sources x ports flows in all.
            STLVmFlowVar(name="sport", min_value=10000, max_value=10000 + t["ports"] - 1,
                         size=2, op="random"),
            STLVmWrFlowVar(fv_name="sport", pkt_offset="UDP.sport"),
            STLVmFixIpv4(offset="IP"),
        ])
        return [STLStream(name="canary", packet=STLPktBuilder(pkt=pad(base, t["size"]), vm=vm),
                          mode=STLTXCont(pps=t["pps"]))]


def register():
    return MeshgateCanary()
