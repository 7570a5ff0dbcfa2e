# SPDX-License-Identifier: BSD-3-Clause
"""TRex profiles and the NDR driver without TRex: a stand-in trex.stl.api
(tests/k8s/trex_standin) records the streams each profile builds; the
tests check frame sizes, rates and the field engine's ranges against the
bytes of the packets. The driver runs its search against the stand-in's
scripted device of known capacity."""
import ipaddress
import os
import struct
import subprocess
import sys

import pytest

from mgrun import ROOT

TREX = ROOT / "tools" / "trex"
STANDIN = ROOT / "tests" / "k8s" / "trex_standin"
sys.path.insert(0, str(STANDIN))

from trex.stl import api  # noqa: E402  (the stand-in)

from scapy.layers.inet import IP, UDP  # noqa: E402
from scapy.layers.l2 import Ether  # noqa: E402
from scapy.layers.sctp import SCTP  # noqa: E402
from scapy.packet import Raw  # noqa: E402

PROFILES = sorted(p.name for p in (TREX / "profiles").glob("*.py") if p.name != "mg_common.py")


def load(name, **kw):
    return api.STLProfile.load_py(str(TREX / "profiles" / name), **kw).get_streams()


def flow_vars(stream):
    vm = stream.packet.vm
    return {c.name: c for c in vm.commands if isinstance(c, api.STLVmFlowVar)}


def writes(stream):
    return {c.fv_name: c for c in stream.packet.vm.commands if isinstance(c, api.STLVmWrFlowVar)}


def offset_of(pkt, where):
    """A write's offset: a number, or "LAYER.field" as TRex resolves it."""
    if isinstance(where, int):
        return where
    layer, field = where.split(".")
    cls = {"IP": IP, "UDP": UDP, "SCTP": SCTP}[layer]
    p = Ether(bytes(pkt))
    off = len(p) - len(p[cls])
    fld = p[cls].get_field(field)
    for f in p[cls].fields_desc:
        if f.name == field:
            break
        off += f.sz if hasattr(f, "sz") else len(f.addfield(p[cls], b"", p[cls].getfieldval(f.name)))
    assert fld is not None
    return off


def test_every_profile_builds():
    assert set(PROFILES) == {"canary.py", "esp_inner.py", "gtpu.py", "imix.py", "sctp.py",
                             "udp_64b.py", "wg_inner.py"}
    for name in PROFILES:
        streams = load(name)
        assert streams, name
        for s in streams:
            buf = s.packet.buffer
            assert 60 <= len(buf) <= 9014, (name, len(buf))
            p = Ether(buf)
            assert IP in p and 0 <= len(buf) - 14 - p[IP].len < 4, name  # < 4: Ethernet padding
            assert IP(bytes(p[IP])).chksum == p[IP].chksum, (name, "IPv4 checksum")
            assert s.mode.pps > 0
            fvs = flow_vars(s)
            # Every write lands inside the packet on a field as wide as its variable.
            for fv_name, w in writes(s).items():
                off = offset_of(buf, w.pkt_offset)
                assert 0 <= off and off + fvs[fv_name].size <= len(buf), (name, fv_name)


def test_udp_64b_sizes_and_flows():
    for size in (64, 128, 1518):
        (s,) = load("udp_64b.py", size=size, flows=1000, pps=5000)
        assert len(s.packet.buffer) == size - 4
        assert s.mode.pps == 5000
        src = flow_vars(s)["src"]
        assert src.max_value - src.min_value + 1 == 1000
        assert ipaddress.IPv4Address(src.min_value) == ipaddress.IPv4Address("198.18.1.1")
        assert writes(s)["src"].pkt_offset == "IP.src"
        p = Ether(s.packet.buffer)
        assert p[IP].dst == "198.19.1.1" and p[UDP].chksum == 0
    (s,) = load("udp_64b.py", direction=1)
    assert Ether(s.packet.buffer)[IP].dst == "198.18.1.1"
    with pytest.raises(ValueError):
        load("udp_64b.py", size=63)


def test_imix_ratio():
    streams = load("imix.py", pps=12000)
    sizes = [len(s.packet.buffer) + 4 for s in streams]
    assert sizes == [64, 594, 1518]
    rates = [s.mode.pps for s in streams]
    assert rates == [7000, 4000, 1000]
    avg = sum(r * z for r, z in zip(rates, sizes)) / sum(rates)
    assert abs(avg - 361.83) < 0.01


def test_canary_flows():
    (s,) = load("canary.py", sources=100, ports=50)
    fv = flow_vars(s)
    assert fv["src"].max_value - fv["src"].min_value + 1 == 100
    assert (fv["sport"].min_value, fv["sport"].max_value) == (10000, 10049)
    assert fv["sport"].size == 2
    p = Ether(s.packet.buffer)
    assert (p[IP].dst, p[UDP].dport) == ("198.19.250.10", 8080)


@pytest.mark.parametrize("name,dst", [("esp_inner.py", "198.19.200.10"),
                                      ("wg_inner.py", "198.19.201.10")])
def test_tunnel_bound(name, dst):
    streams = load(name, sizes="64-1400", pps=2000)
    assert [len(s.packet.buffer) + 4 for s in streams] == [64, 1400]
    assert [s.mode.pps for s in streams] == [1000, 1000]
    assert all(Ether(s.packet.buffer)[IP].dst == dst for s in streams)
    # Too big to fit the MTU once encapsulated: refused.
    with pytest.raises(ValueError):
        load(name, sizes="1500")


def test_gtpu_teids():
    (s,) = load("gtpu.py", size=256, teids=50000, first_teid=7)
    buf = s.packet.buffer
    assert len(buf) == 252
    teid = flow_vars(s)["teid"]
    assert (teid.min_value, teid.max_value, teid.size) == (7, 50006, 4)
    off = writes(s)["teid"].pkt_offset
    # The write's offset holds the TEID in the template: flags 0x30, G-PDU 0xff.
    flags, mtype, length, t0 = struct.unpack_from("!BBHI", buf, off - 4)
    assert (flags, mtype, t0) == (0x30, 0xFF, 7)
    p = Ether(buf)
    assert p[UDP].dport == 2152 and length == len(buf) - 14 - 20 - 8 - 8
    inner = IP(bytes(p[UDP].payload)[8:])
    assert inner.src == "100.64.0.1" and inner.len == length
    with pytest.raises(ValueError):
        load("gtpu.py", first_teid=0xFFFFFFFF, teids=2)


def test_sctp_checksum_valid():
    (s,) = load("sctp.py", size=200, flows=300)
    buf = s.packet.buffer
    assert len(buf) == 196
    p = Ether(buf)
    assert p[SCTP].dport == 38412
    # The CRC32c in the template is right (scapy recomputes it from a copy
    # with the checksum cleared), and the field engine touches only IP.src.
    sctp_bytes = bytes(p[SCTP])
    q = SCTP(sctp_bytes)
    q.chksum = None
    assert SCTP(bytes(q)).chksum == p[SCTP].chksum
    assert set(writes(s)) == {"src"} and writes(s)["src"].pkt_offset == "IP.src"
    assert flow_vars(s)["src"].max_value - flow_vars(s)["src"].min_value == 299


def run_ndr(*args):
    env = dict(os.environ, PYTHONPATH=str(STANDIN))
    return subprocess.run([sys.executable, str(TREX / "ndr.py")] + list(args),
                          capture_output=True, text=True, env=env, timeout=60)


def test_ndr_driver_finds_capacity():
    # The stand-in device forwards 1 Mpps; 10G line rate is 14.88 Mpps at 64 B
    # and 0.81 Mpps at 1518 B (which therefore passes at once).
    r = run_ndr("--sizes", "64,1518", "--duration", "1", "--resolution", "0.0005",
                "--pdr-loss", "0.01", "--link-gbps", "10")
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines() if line.startswith("udp_64b ")]
    assert len(rows) == 2, r.stdout
    ndr64 = float(rows[0][2])
    # Within the resolution (0.0005 x 14.88 Mpps = 7.4 kpps) below the capacity.
    assert 0.992 <= ndr64 <= 1.0, r.stdout
    # PDR at 1% loss: at least the NDR, at most 1/0.99 Mpps.
    assert ndr64 <= float(rows[0][5]) <= 1.0102, r.stdout
    assert float(rows[1][2]) == pytest.approx(0.813, abs=0.001)
    assert rows[1][4] == "100.0"  # % of line rate
    assert "NDR Mpps" in r.stdout


def test_ndr_driver_usage_errors():
    r = run_ndr("--sizes", "mix")
    assert r.returncode == 2 and "--sizes mix needs --max-rate" in r.stderr
    r = run_ndr("--ports", "1,1")
    assert r.returncode == 2 and "two different ports" in r.stderr
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([sys.executable, str(TREX / "ndr.py"), "--trex-dir", "/nonexistent"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 1 and "cannot import trex.stl.api" in r.stderr
