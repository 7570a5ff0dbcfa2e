# SPDX-License-Identifier: BSD-3-Clause
"""A stream of malformed frames mixed with good ones: every bad frame is
counted and dropped, every good one still forwarded, in order."""
import random

from scapy.all import IP, UDP, Ether, IPOption_NOP, IPv6, IPv6ExtHdrFragment, Raw, raw

from pcapdp import GW_MAC, HOST_MAC, config, nonzero_drops, run

A = dict(src=HOST_MAC["a"], dst=GW_MAC["a"])


def good(i):
    if i % 2:
        return Ether(**A) / IP(src="10.0.1.2", dst="10.0.2.2") / UDP(sport=10000 + i, dport=9) / Raw(b"g" * 8)
    return Ether(**A) / IPv6(src="fd00:1::2", dst="fd00:2::2") / UDP(sport=10000 + i, dport=9) / Raw(b"g" * 8)


def malformed():
    """(frames, how many are dropped, how many are forwarded)."""
    rnd = random.Random(1234)
    bad = []
    v4 = raw(Ether(**A) / IP(src="10.0.1.2", dst="10.0.2.2") / UDP() / Raw(b"p" * 20))
    v6 = raw(Ether(**A) / IPv6(src="fd00:1::2", dst="fd00:2::2") / UDP() / Raw(b"p" * 20))
    # Truncated at every length short of the whole frame (0 is a zero-length frame).
    bad += [Raw(v4[:n]) for n in range(0, len(v4))]
    bad += [Raw(v6[:n]) for n in range(14, len(v6))]
    # Lengths that lie: total length beyond the frame, below the header.
    for tl in (0, 1, 19, 200, 65535):
        b = bytearray(v4)
        b[16:18] = tl.to_bytes(2, "big")
        bad.append(Ether(bytes(Ether(bytes(b))[Ether]) if False else bytes(b)))
    # Bad checksums.
    for k in range(10):
        b = bytearray(v4)
        b[24] ^= 1 + k
        bad.append(Raw(bytes(b)))
    # IPv6 payload length beyond the frame.
    b = bytearray(v6)
    b[18:20] = (5000).to_bytes(2, "big")
    bad.append(Raw(bytes(b)))
    # Random garbage behind IPv4 and IPv6 EtherTypes.
    for k in range(40):
        et = b"\x08\x00" if k % 2 else b"\x86\xdd"
        body = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 80)))
        if et == b"\x08\x00":
            body = bytes([0x40 | rnd.randint(0, 4)]) + body[1:]  # IHL < 5: always bad
        else:
            body = bytes([0x70]) + body[1:]                      # version 7
        bad.append(Raw(v4[:12] + et + body))
    # Extension header chain running off the end.
    bad.append(Ether(**A) / IPv6(src="fd00:1::2", dst="fd00:2::2", nh=0, plen=8) /
               Raw(bytes([60, 0, 0, 0, 0, 0, 0, 0])))
    # Odd but legal: forwarded and counted, not dropped.
    odd = [Ether(**A) / IP(src="10.0.1.2", dst="10.0.2.2", options=[IPOption_NOP()] * 8) / UDP(),
           Ether(**A) / IP(src="10.0.1.2", dst="10.0.2.2", flags="MF", frag=0) / UDP() / Raw(b"f" * 24),
           Ether(**A) / IP(src="10.0.1.2", dst="10.0.2.2", frag=100) / Raw(b"f" * 24),
           Ether(**A) / IP(src="10.0.1.2", dst="10.0.2.2", proto=253) / Raw(b"u" * 10),
           Ether(**A) / IPv6(src="fd00:1::2", dst="fd00:2::2") / IPv6ExtHdrFragment(m=1) /
           UDP() / Raw(b"f" * 16),
           Ether(**A) / IPv6(src="fd00:1::2", dst="fd00:2::2", nh=253) / Raw(b"u" * 10)]
    return bad, odd


def interleave(bad, odd):
    frames, goods = [], 0
    for i, f in enumerate(bad + odd):
        frames.append(f)
        if i % 3 == 0:
            frames.append(good(goods))
            goods += 1
    return frames, goods


def test_malformed_frames_counted_and_good_traffic_flows(tmp_path):
    bad, odd = malformed()
    frames, goods = interleave(bad, odd)
    _, out_b, st = run(tmp_path, config(tmp_path), a=frames, settle=1.5)
    dropped = nonzero_drops(st)
    assert sum(dropped.values()) == len(bad), dropped
    # Only header-validation reasons: nothing got further than it should.
    assert set(dropped) <= {"eth-truncated", "ip4-truncated", "ip4-bad-version",
                            "ip4-bad-header-length", "ip4-bad-total-length",
                            "ip4-bad-checksum", "ip6-truncated", "ip6-bad-version",
                            "ip6-bad-extension-header"}, dropped
    assert len(dropped) >= 7  # the mix really reaches each validation step
    fwd_good = [p[UDP].sport for p in out_b if UDP in p and Raw in p and p[Raw].load == b"g" * 8]
    v4 = [s for s in fwd_good if s % 2]
    v6 = [s for s in fwd_good if not s % 2]
    assert v4 == [10000 + i for i in range(goods) if i % 2]
    assert v6 == [10000 + i for i in range(goods) if not i % 2]
    assert len(out_b) == goods + len(odd)
    assert st["gateway"]["ip4_options"] == 1
    assert st["gateway"]["ip4_fragments"] == 2
    assert st["gateway"]["ip6_fragments"] == 1
    assert st["ports"]["a"]["rx_packets"] == len(frames)


def test_malformed_with_strict_policy(tmp_path):
    bad, odd = malformed()
    frames, goods = interleave(bad, odd)
    cfg = config(tmp_path, net_opts="fragments: drop, ip_options: drop")
    _, out_b, st = run(tmp_path, cfg, a=frames, settle=1.5)
    dropped = nonzero_drops(st)
    assert dropped.pop("ip4-options") == 1
    assert dropped.pop("ip4-fragment") == 2
    assert dropped.pop("ip6-fragment") == 1
    assert sum(dropped.values()) == len(bad)
    assert len(out_b) == goods + 2  # the two unknown-protocol packets still go


def test_malformed_frames_over_memif(tmp_path):
    """The same stream into a memif port: dpdk-testpmd (io forwarding) reads it
    from a pcap and sends it over the memif meshgate serves (frames shorter than
    an Ethernet header are left out of this one)."""
    import re
    import shutil
    import subprocess
    import time

    from scapy.all import rdpcap

    from mgrun import Control, Meshgate, unique
    from pcapdp import write_pcap

    testpmd = shutil.which("dpdk-testpmd")
    assert testpmd, "dpdk-testpmd is not installed (package dpdk): run tools/setup"
    bad, odd = malformed()
    bad = [f for f in bad if len(raw(f)) >= 14]
    frames, goods = interleave(bad, odd)
    sock = tmp_path / "memif.sock"
    cfg = config(tmp_path)
    cfg = re.sub(r'"net_pcap\d+,rx_pcap=[^"]*in_a.pcap,tx_pcap=[^"]*out_a.pcap"',
                 f'"net_memif0,role=server,socket={sock},socket-abstract=no"', cfg)
    assert "net_memif0" in cfg
    write_pcap(tmp_path / "in_b.pcap", [])
    write_pcap(tmp_path / "frames.pcap", frames)
    mg = Meshgate(tmp_path, cfg, name="memif")
    mg.start()
    tp = None
    try:
        api = Control(mg)

        def port_a():
            ports = api.ok("GET", "/v1/stats")["ports"]
            return ports["a"] if isinstance(ports, dict) else \
                next(p for p in ports if p["name"] == "a")

        # testpmd: port 0 the pcap of frames, port 1 the memif client; started by
        # hand once the memif link is up, so that nothing is sent into a down link.
        tp = subprocess.Popen(
            [testpmd, "-l", "0,1", "-n", "1", "--no-huge", "--no-shconf", "-m", "256",
             "--no-pci", "--file-prefix", unique("tpmal"), "--log-level", "error",
             "--vdev", f"net_pcap0,rx_pcap={tmp_path}/frames.pcap,tx_pcap={tmp_path}/back.pcap",
             "--vdev", f"net_memif0,role=client,socket={sock},socket-abstract=no", "--",
             "-i", "--no-flush-rx", "--forward-mode=io", "--total-num-mbufs=4096",
             "--nb-cores=1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 30
        while not port_a()["link_up"]:
            assert time.time() < deadline, "the memif link never came up"
            assert tp.poll() is None, tp.stdout.read()
            time.sleep(0.2)
        tp.stdin.write("start\n")
        tp.stdin.flush()
        deadline = time.time() + 30
        while port_a()["rx_packets"] < len(frames):
            if time.time() > deadline:
                break
            time.sleep(0.2)
        time.sleep(0.5)
        tp.stdin.write("stop\nquit\n")
        tp.stdin.flush()
        out = tp.communicate(timeout=30)[0]
    finally:
        if tp is not None and tp.poll() is None:
            tp.kill()
            tp.wait()
        st = mg.stop()
    out_b = list(rdpcap(str(tmp_path / "out_b.pcap")))
    dropped = nonzero_drops(st)
    assert st["ports"]["a"]["rx_packets"] == len(frames), (st["ports"]["a"], out)
    assert sum(dropped.values()) == len(bad), dropped
    fwd_good = [p[UDP].sport for p in out_b if UDP in p and Raw in p and p[Raw].load == b"g" * 8]
    assert [s for s in fwd_good if s % 2] == [10000 + i for i in range(goods) if i % 2]
    assert [s for s in fwd_good if not s % 2] == [10000 + i for i in range(goods) if not i % 2]
    assert len(out_b) == goods + len(odd)
