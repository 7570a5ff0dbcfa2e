# SPDX-License-Identifier: BSD-3-Clause
"""A stand-in for TRex's trex.stl.api that records what profiles build:
streams, their packets, rates and field-engine programs. It mirrors the
constructor signatures of TRex v2.x's stateless API for what meshgate's
profiles use, and refuses what TRex would refuse (unknown arguments, flow
variables that do not fit their size, writes of undefined variables), so
that a profile that builds here has a fair chance in TRex. No traffic, no
server.

STLClient is a scripted device under test for the NDR driver: it
"forwards" up to CAPACITY_PPS and drops the rest."""
import ipaddress

STREAMS = []  # every STLStream built, in order


def _ip_or_int(v):
    if isinstance(v, str):
        return int(ipaddress.IPv4Address(v))
    if not isinstance(v, int):
        raise TypeError(f"flow var value {v!r} is neither an int nor an IPv4 string")
    return v


class STLVmFlowVar:
    def __init__(self, name, min_value=None, max_value=None, size=4, op="inc", step=1,
                 init_value=None, value_list=None, next_var=None, split_to_cores=True):
        if op not in ("inc", "dec", "random"):
            raise ValueError(f"flow var {name}: op {op!r}")
        if size not in (1, 2, 4, 8):
            raise ValueError(f"flow var {name}: size {size}")
        self.name, self.size, self.op, self.step = name, size, op, step
        self.min_value, self.max_value = _ip_or_int(min_value), _ip_or_int(max_value)
        if self.min_value > self.max_value:
            raise ValueError(f"flow var {name}: min > max")
        if self.max_value >= 1 << (8 * size):
            raise ValueError(f"flow var {name}: max does not fit {size} bytes")


class STLVmWrFlowVar:
    def __init__(self, fv_name, pkt_offset, offset_fixup=0, add_val=0, is_big=True):
        self.fv_name, self.pkt_offset = fv_name, pkt_offset
        self.offset_fixup, self.add_val, self.is_big = offset_fixup, add_val, is_big


class STLVmFixIpv4:
    def __init__(self, offset):
        self.offset = offset


class STLScVmRaw:
    def __init__(self, list_of_commands=None, split_by_field=None, cache_size=None):
        self.commands = list(list_of_commands or [])
        names = set()
        for c in self.commands:
            if isinstance(c, STLVmFlowVar):
                names.add(c.name)
            elif isinstance(c, STLVmWrFlowVar) and c.fv_name not in names:
                raise ValueError(f"write of undefined flow var {c.fv_name}")


class STLPktBuilder:
    def __init__(self, pkt=None, pkt_buffer=None, vm=None, path_relative_to_profile=False):
        if pkt is None and pkt_buffer is None:
            raise ValueError("STLPktBuilder needs pkt or pkt_buffer")
        self.pkt = pkt
        self.vm = vm
        self.buffer = bytes(pkt) if pkt is not None else bytes(pkt_buffer)


class STLTXCont:
    def __init__(self, bps_L1=None, bps_L2=None, pps=None, percentage=None):
        given = [x for x in (bps_L1, bps_L2, pps, percentage) if x is not None]
        if len(given) > 1:
            raise ValueError("STLTXCont: give one of bps_L1, bps_L2, pps, percentage")
        self.pps = pps if given else 1
        if self.pps is not None and self.pps <= 0:
            raise ValueError("STLTXCont: pps must be > 0")


class STLStream:
    def __init__(self, name=None, packet=None, mode=None, enabled=True, self_start=True,
                 isg=0, flow_stats=None, next=None, stream_id=None, action_count=0,
                 random_seed=0, mac_src_override_by_pkt=None, mac_dst_override_mode=None,
                 dummy_stream=False, start_paused=False, core_id=-1):
        if packet is None:
            raise ValueError("STLStream needs a packet")
        self.name, self.packet, self.mode = name, packet, mode or STLTXCont()
        STREAMS.append(self)


class STLProfile:
    def __init__(self, streams=None):
        self.streams = list(streams or [])

    @staticmethod
    def load_py(python_file, direction=0, port_id=0, **kwargs):
        """As TRex does: the profile's directory on sys.path, register(), get_streams()."""
        import importlib.util
        import os
        import sys
        d = os.path.dirname(os.path.abspath(python_file))
        if d not in sys.path:
            sys.path.insert(0, d)
        spec = importlib.util.spec_from_file_location(
            "profile_" + os.path.basename(python_file)[:-3], python_file)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return STLProfile(mod.register().get_streams(direction=direction, port_id=port_id,
                                                      **kwargs))

    def get_streams(self):
        return self.streams


# ---- a scripted device under test for the NDR driver -------------------------------------

class STLError(Exception):
    pass


class STLClient:
    """Forwards up to CAPACITY_PPS (per direction), drops the rest."""
    CAPACITY_PPS = 1_000_000.0
    LOG = []

    def __init__(self, server="localhost", **kw):
        self.server = server
        self.streams = {}
        self.stats = {}

    def connect(self):
        self.LOG.append(("connect", self.server))

    def disconnect(self):
        self.LOG.append(("disconnect",))

    def reset(self, ports=None):
        self.streams = {}

    def acquire(self, ports=None, force=False):
        self.LOG.append(("acquire", tuple(ports or [])))

    def resolve(self, ports=None, retries=0, verbose=True, vlan=None):
        self.LOG.append(("resolve", tuple(ports or [])))

    def add_streams(self, streams, ports=None):
        for p in ports if isinstance(ports, list) else [ports or 0]:
            self.streams.setdefault(p, []).extend(streams)

    def remove_all_streams(self, ports=None):
        self.streams = {}

    def clear_stats(self, ports=None):
        self.stats = {}

    def start(self, ports=None, mult="1", duration=-1, force=False, total=False):
        if not mult.endswith("pps"):
            raise STLError(f"the stand-in takes mult in pps, not {mult!r}")
        v = mult[:-3]
        scale = {"k": 1e3, "m": 1e6, "g": 1e9}.get(v[-1:].lower(), 1)
        pps = float(v[:-1] if scale != 1 else v) * scale
        ports = list(ports or [0])
        self.LOG.append(("start", tuple(ports), pps, duration, total))
        per_port = pps / len(ports) if total else pps
        self.stats = {p: {"opackets": 0, "ipackets": 0} for p in (0, 1)}
        for p in ports:
            tx = int(per_port * duration)
            rx = tx if per_port <= self.CAPACITY_PPS else int(self.CAPACITY_PPS * duration)
            self.stats[p]["opackets"] += tx
            self.stats[p ^ 1]["ipackets"] += rx

    def wait_on_traffic(self, ports=None, timeout=None, rx_delay_ms=None):
        pass

    def get_stats(self, ports=None):
        return self.stats
