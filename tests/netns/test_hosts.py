# SPDX-License-Identifier: BSD-3-Clause
"""Real Linux hosts in two namespaces on either side of meshgate, attached
with net_af_packet on veths: ping and TCP in both families and both
directions, resolution from cold, ICMP errors the kernel understands, and
the idle policy leaving the CPU alone."""
import re
import time

from mgrun import Meshgate
from topo import default_config


def gw(tmp_path, topo, **replace):
    return Meshgate(tmp_path, default_config(topo.tag, **replace), name="ns")


def test_first_ping_crosses_from_cold_both_families(tmp_path, topo):
    """Nothing resolved yet (and no static route to make meshgate resolve the
    external host ahead of time): the first packet is held while meshgate
    resolves the destination, and gets through."""
    cfg = default_config(topo.tag)
    cfg = cfg[:cfg.index("routes:")]
    with Meshgate(tmp_path, cfg, name="ns") as mg:
        for dst in ("10.10.2.2", "fd00:10:2::2"):
            r = topo.ping("pod", dst, count=1)
            assert r.returncode == 0, r.stdout + r.stderr
            assert " 0% packet loss" in r.stdout
    st = mg.stats
    assert st["gateway"]["held_released"] >= 2
    assert st["gateway"]["arp_tx"] >= 1 and st["gateway"]["nd_tx"] >= 1


def test_ping_both_ways_both_families_and_routed(tmp_path, topo):
    with gw(tmp_path, topo) as mg:
        for side, dst in (("pod", "10.10.2.2"), ("pod", "fd00:10:2::2"),
                          ("pod", "198.51.100.1"), ("pod", "2001:db8:100::1"),
                          ("ext", "10.10.1.2"), ("ext", "fd00:10:1::2")):
            r = topo.ping(side, dst, count=3)
            assert r.returncode == 0 and " 0% packet loss" in r.stdout, (side, dst, r.stdout)
            ttls = {int(t) for t in re.findall(r"ttl=(\d+)", r.stdout)}
            assert ttls == {63}, (dst, ttls)
        # The gateway itself answers with TTL 64.
        r = topo.ping("pod", "10.10.1.1", count=2)
        assert r.returncode == 0 and set(re.findall(r"ttl=(\d+)", r.stdout)) == {"64"}
        r = topo.ping("pod", "fd00:10:2::1", count=2)
        assert r.returncode == 0
    st = mg.stats
    assert st["drops"]["no-route"] == 0
    assert st["gateway"]["neighbors"] >= 4


def test_tcp_transfer_both_families(tmp_path, topo):
    with gw(tmp_path, topo) as mg:
        r4 = topo.iperf("pod", "ext", "10.10.2.2", seconds=3)
        r6 = topo.iperf("ext", "pod", "fd00:10:1::2", seconds=3, v6=True)
    for r in (r4, r6):
        assert "error" not in r, r
        got = r["end"]["sum_received"]["bytes"]
        sent = r["end"]["sum_sent"]["bytes"]
        assert got > 20_000_000, got       # well over a few MB in 3 s
        assert got <= sent
    st = mg.stats
    pod, ext = st["ports"]["pod"], st["ports"]["ext"]
    # What came in one side went out the other (plus a little ARP/ND).
    assert abs(pod["rx_packets"] - ext["tx_packets"]) < 0.01 * pod["rx_packets"] + 50
    assert abs(ext["rx_packets"] - pod["tx_packets"]) < 0.01 * ext["rx_packets"] + 50


def test_ttl_exceeded_and_frag_needed_reach_the_host(tmp_path, topo):
    # The external side's MTU is 1400 in meshgate: a DF packet of 1428 bytes
    # gets "fragmentation needed" with MTU 1400 and the kernel adopts it.
    with gw(tmp_path, topo, **{"device: net_af_packet1,iface=": "mtu: 1400\n    device: net_af_packet1,iface="}):
        r = topo.ping("pod", "10.10.2.2", extra=("-t", "1"))
        assert "Time to live exceeded" in r.stdout and "10.10.1.1" in r.stdout, r.stdout
        r = topo.ping("pod", "10.10.2.2", extra=("-M", "do", "-s", "1400"))
        assert "mtu = 1400" in r.stdout or "mtu=1400" in r.stdout, r.stdout
        r = topo.ping("pod", "10.10.2.2", extra=("-M", "do", "-s", "1372"))
        assert r.returncode == 0, r.stdout
        r = topo.ping("pod", "fd00:10:2::2", extra=("-M", "do", "-s", "1400"))
        assert "mtu = 1400" in r.stdout or "mtu=1400" in r.stdout or "Packet too big" in r.stdout, \
            r.stdout


def test_idle_worker_sleeps(tmp_path, topo):
    """With the default idle policy an idle worker uses a small share of a
    CPU (pods share CPUs; peers beside it must not starve)."""
    with gw(tmp_path, topo) as mg:
        assert topo.ping("pod", "10.10.2.2").returncode == 0
        time.sleep(0.5)
        pid = mg.proc.pid
        def cpu():
            f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            return int(f[11]) + int(f[12])
        c0, t0 = cpu(), time.monotonic()
        time.sleep(3)
        used = (cpu() - c0) / 100.0 / (time.monotonic() - t0)
        assert used < 0.3, f"meshgate used {used:.0%} of a CPU while idle"
    assert mg.stats["gateway"]["idle_sleeps"] > 100


def tap_topology(topo, tmp_path, idle):
    """meshgate creates TAP interfaces; they are then moved into the host
    namespaces (the tap PMD keeps working through its file descriptors)."""
    import subprocess
    cfg = default_config(topo.tag)
    cfg = cfg.replace(f"net_af_packet0,iface={topo.tag}-pod", f"net_tap0,iface={topo.tag}tp")
    cfg = cfg.replace(f"net_af_packet1,iface={topo.tag}-ext", f"net_tap1,iface={topo.tag}te")
    cfg = cfg.replace("    mode: sleep", f"    mode: {idle}")
    mg = Meshgate(tmp_path, cfg, name="tap").start()
    for tap, side in ((f"{topo.tag}tp", "pod"), (f"{topo.tag}te", "ext")):
        ns = topo.ns(side)
        # Swap the veth ends the topology made for the TAP interfaces.
        subprocess.run(["ip", "-n", ns, "link", "del", "eth0"], check=True)
        subprocess.run(["ip", "link", "set", tap, "netns", ns], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", tap, "name", "eth0"], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", "eth0", "up"], check=True)
    host = {"pod": ("10.10.1.2/24", "fd00:10:1::2/64", "10.10.1.1", "fd00:10:1::1"),
            "ext": ("10.10.2.2/24", "fd00:10:2::2/64", "10.10.2.1", "fd00:10:2::1")}
    for side, (a4, a6, g4, g6) in host.items():
        ns = topo.ns(side)
        subprocess.run(["ip", "-n", ns, "addr", "add", a4, "dev", "eth0"], check=True)
        subprocess.run(["ip", "-n", ns, "-6", "addr", "add", a6, "dev", "eth0", "nodad"], check=True)
        subprocess.run(["ip", "-n", ns, "route", "add", "default", "via", g4], check=True)
        subprocess.run(["ip", "-n", ns, "-6", "route", "add", "default", "via", g6], check=True)
    return mg


def test_net_tap_ports_sleep_and_interrupt_modes(tmp_path, topo):
    for idle in ("sleep", "interrupt"):
        mg = tap_topology(topo, tmp_path / idle, idle)
        try:
            for dst in ("10.10.2.2", "fd00:10:2::2", "198.51.100.1"):
                r = topo.ping("pod", dst, count=4)
                assert r.returncode == 0 and " 0% packet loss" in r.stdout, (idle, dst, r.stdout)
            r = topo.iperf("pod", "ext", "10.10.2.2", seconds=2)
            assert r["end"]["sum_received"]["bytes"] > 5_000_000, r
        finally:
            st = mg.stop()
        assert st["gateway"]["idle_sleeps"] > 0
        if idle == "interrupt":
            assert st["gateway"]["idle_wakeups"] > 0  # woken by RX or by the main lcore
        topo.down()
        topo.up()


def test_two_workers_share_the_flows(tmp_path, topo):
    """Two workers (sharing one CPU here), two queue pairs per port: the
    af_packet fanout spreads flows over the queues, each worker polls its own,
    and every flow still gets through."""
    cfg = default_config(topo.tag)
    cfg = cfg.replace(f"iface={topo.tag}-pod", f"iface={topo.tag}-pod,qpairs=2")
    cfg = cfg.replace(f"iface={topo.tag}-ext", f"iface={topo.tag}-ext,qpairs=2")
    cfg = cfg.replace("  memory_mb: 512", '  memory_mb: 512\n  lcores: "0@0,1@1,2@1"')
    with Meshgate(tmp_path, cfg, name="mw") as mg:
        r = topo.iperf("pod", "ext", "10.10.2.2", seconds=3, parallel=8)
        assert r["end"]["sum_received"]["bytes"] > 10_000_000, r
        for dst in ("10.10.2.2", "fd00:10:2::2"):
            assert topo.ping("pod", dst, count=2).returncode == 0
    ws = mg.stats["workers"]
    assert len(ws) == 2
    assert all(w["rx_packets"] > 1000 for w in ws), ws
