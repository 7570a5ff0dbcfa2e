# SPDX-License-Identifier: BSD-3-Clause
"""Per-interface counters (REST, NSM path-segment metrics): drops are
charged to the interface that received the packet, and an interface made in
the slot of a deleted one starts from zero, as does a port that takes a
deleted port's ethdev id."""
import time

from mgrun import Control, Meshgate, null_config

CONFIG = null_config(512, ipv6="")


def ifaces(ctl):
    return {i["name"]: i["counters"] for i in ctl.ok("GET", "/v1/interfaces")}


def port_counter(ctl, name, port):
    """A per-port series of /metrics, None when the port has none."""
    _, text = ctl.http("GET", "/metrics")
    for line in text.splitlines():
        if line.startswith(name + "{") and f'port="{port}"' in line:
            return int(float(line.split()[-1]))
    return None


def test_drops_on_the_receiving_interface_and_fresh_counters_in_reused_slots(tmp_path):
    with Meshgate(tmp_path, CONFIG, name="cn") as mg:
        ctl = Control(mg)
        # net_null with RX makes zero-filled frames: not for us, dropped on c.
        ctl.ok("POST", "/v1/ports", {"name": "c", "device": "net_null7"})
        end = time.time() + 20
        while ifaces(ctl)["c"]["drops"] < 1000:
            assert time.time() < end, ifaces(ctl)
            time.sleep(0.1)
        got = ifaces(ctl)
        assert got["c"]["rx_packets"] >= got["c"]["drops"] > 0
        assert port_counter(ctl, "meshgate_port_rx_packets_total", "c") >= 1000
        ethdev = ctl.ok("GET", "/v1/ports/c")["ethdev"]
        assert got["a"]["drops"] == 0 and got["b"]["drops"] == 0, got
        assert got["a"]["rx_packets"] == 0 and got["b"]["rx_packets"] == 0, got
        ctl.ok("DELETE", "/v1/ports/c")
        # The next interface takes c's slot: it must not inherit c's counts.
        ctl.ok("POST", "/v1/interfaces", {"port": "b", "vlan": 300})
        ctl.ok("POST", "/v1/ports", {"name": "d", "device": "net_null8,no-rx=1"})
        assert ctl.ok("GET", "/v1/ports/d")["ethdev"] == ethdev
        got = ifaces(ctl)
        assert got["b.300"] == {"rx_packets": 0, "rx_bytes": 0, "tx_packets": 0,
                                "tx_bytes": 0, "drops": 0}, got
        assert got["d"]["rx_packets"] == 0 and got["d"]["drops"] == 0, got
        # So do the port's own counters, d having c's ethdev id.
        assert port_counter(ctl, "meshgate_port_rx_packets_total", "c") is None
        assert port_counter(ctl, "meshgate_port_rx_packets_total", "d") == 0
        assert port_counter(ctl, "meshgate_port_rx_bytes_total", "d") == 0
    st = mg.stats
    assert st["drops"]["eth-not-for-us"] > 0 or st["drops"].get("eth_not_for_us", 0) > 0
