# SPDX-License-Identifier: BSD-3-Clause
"""Classification rules over REST: a network's list replaced whole with PUT,
read back with counters, refused with the field at fault (and then left as
it was), cleared with DELETE, exported in /metrics, kept across a restart
in durable state, and guarding the interfaces and networks they name."""
import json
import subprocess

from mgrun import MESHGATECTL, Control, Meshgate, null_config

CONFIG = null_config(768, networks=("default", "side", "spare"), port_networks={"b": "side"},
                     ipv4="a", ipv6="") + """\
control:
  state_dir: {state}
"""

RULES = {
    "default": "deny",
    "rules": [
        {"id": 5, "src": "10.0.0.0/8", "protocol": "tcp", "dport": "80-89", "action": "count"},
        {"dst": "fd00::/8", "protocol": "icmpv6", "icmp_type": 128, "action": "police",
         "rate": 1000, "burst": 4000},
        {"interface": "a", "dscp": 46, "action": "mark", "set_dscp": 0, "priority": -1},
        {"protocol": "udp", "sport": 53, "action": "table", "table": "spare"},
    ],
}


def test_rules_over_rest_and_durable(tmp_path):
    state = tmp_path / "state"
    cfg = CONFIG.format(state=state)
    with Meshgate(tmp_path, cfg, name="rules") as mg:
        ctl = Control(mg)
        empty = ctl.ok("GET", "/v1/networks/default/rules")
        assert empty["rules"] == [] and empty["default"] == "permit"

        got = ctl.ok("PUT", "/v1/networks/default/rules", RULES)
        assert got["default"] == "deny"
        assert [r["id"] for r in got["rules"]] == [5, 2, 3, 4]
        assert got["rules"][0] == {"id": 5, "family": "ipv4", "src": "10.0.0.0/8",
                                   "protocol": "tcp", "dport": "80-89", "action": "count",
                                   "counters": {"packets": 0, "bytes": 0}}
        assert got["rules"][1]["family"] == "ipv6"
        assert got["rules"][1]["counters"] == {"packets": 0, "bytes": 0, "green": 0,
                                               "yellow": 0, "red": 0, "red_bytes": 0}
        assert "family" not in got["rules"][2]          # both families
        assert got["rules"][3]["table"] == "spare"

        # Refusals name the field and change nothing.
        for body, field in [
            ({"rules": [{"protocol": "gre", "dport": 5}]}, "rules[0].dport"),
            ({"rules": [{}, {"dport": "9-1"}]}, "rules[1].dport"),
            ({"rules": [{"src": "10.0.0.0/8", "dst": "fd00::/8"}]}, "rules[0].dst"),
            ({"rules": [{"id": 2}, {}]}, "rules[1].id"),
            ({"rules": [{"action": "police", "rate": 5}]}, "rules[0].burst"),
            ({"rules": [{"action": "table", "table": "nowhere"}]}, "rules[0].table"),
            ({"rules": [{"interface": "b"}]}, "rules[0].interface"),
            ({"rules": [{"colour": "red"}]}, "rules[0].colour"),
            ({"default": "drop"}, "default"),
        ]:
            st, err = ctl.http("PUT", "/v1/networks/default/rules", body)
            assert st in (400, 404, 409), (body, st, err)
            assert err["error"]["field"] == field, (body, err)
        assert ctl.ok("GET", "/v1/networks/default/rules")["rules"] == got["rules"]
        st, _ = ctl.http("PUT", "/v1/networks/nowhere/rules", RULES)
        assert st == 404

        # What rules name cannot go while they name it.
        st, err = ctl.http("DELETE", "/v1/networks/spare")
        assert st == 409 and "rule 4" in err["error"]["message"]
        st, err = ctl.http("DELETE", "/v1/ports/a")
        assert st == 409 and "rule 3" in err["error"]["message"]

        metrics = ctl.http("GET", "/metrics")[1]
        assert ('meshgate_rule_packets_total{network="default",rule="5",action="count"} 0'
                in metrics)
        assert ('meshgate_rule_packets_total{network="default",rule="default",action="deny"} 0'
                in metrics)
        assert ('meshgate_rule_police_packets_total{network="default",rule="2",action="police",'
                'color="red"} 0' in metrics)

        # meshgatectl: the table, a replacement from standard input, a refusal, clear.
        def mctl(*args, input=None):
            return subprocess.run([str(MESHGATECTL), "-p", mg.prefix] + list(args), input=input,
                                  capture_output=True, text=True, timeout=20)
        r = mctl("rules", "default")
        assert r.returncode == 0, r.stderr
        lines = [ln.split() for ln in r.stdout.splitlines()]
        assert lines[0] == ["id", "priority", "match", "action", "packets", "bytes", "dropped"]
        assert lines[1][:2] == ["5", "0"] and "dport 80-89" in r.stdout.splitlines()[1]
        assert lines[3][:2] == ["3", "-1"]
        assert "police 1000/4000" in r.stdout and "table spare" in r.stdout
        assert lines[-2][:4] == ["-", "-", "(default)", "deny"]
        # No traffic here: both families' caches, nothing looked up yet.
        assert r.stdout.splitlines()[-1] == (
            "result cache: ipv4 0 of 0 lookups hit (0.0%), ipv6 0 of 0 lookups hit (0.0%)"
            " since the rules were installed"), r.stdout
        body = {"default": "permit", "rules": [{"id": 1, "protocol": "udp", "action": "deny"}]}
        r = mctl("rules", "set", "default", "-", input=json.dumps(body))
        assert r.returncode == 0, r.stderr
        assert [x["id"] for x in ctl.ok("GET", "/v1/networks/default/rules")["rules"]] == [1]
        r = mctl("rules", "set", "default", "-", input='{"rules": [{"dport": "5-1"}]}')
        assert r.returncode != 0 and "rules[0].dport" in r.stderr
        assert mctl("rules", "clear", "default").returncode == 0
        assert ctl.ok("GET", "/v1/networks/default/rules")["rules"] == []
        ctl.ok("PUT", "/v1/networks/default/rules", RULES)

    # Restart on the state directory: the rules come back.
    with Meshgate(tmp_path, cfg, name="rules2") as mg:
        ctl = Control(mg)
        back = ctl.ok("GET", "/v1/networks/default/rules")
        assert back["default"] == "deny"
        assert [r["id"] for r in back["rules"]] == [5, 2, 3, 4]
        assert ctl.http("DELETE", "/v1/networks/default/rules")[0] == 204
        cleared = ctl.ok("GET", "/v1/networks/default/rules")
        assert cleared["rules"] == [] and cleared["default"] == "permit"
        # No rule names "spare" any more.
        assert ctl.http("DELETE", "/v1/networks/spare")[0] == 204


HITLESS = """
dpdk:
  lcores: "0-1"
  memory_mb: 512
workers:
  idle: {{mode: sleep}}
# The port counters must equal the forwarded traffic: no address announcements.
arp_nd: {{announce: false}}
networks:
  - name: default
ports:
  - name: a
    device: "net_pcap0,rx_pcap={dir}/in.pcap,infinite_rx=1,tx_pcap={dir}/out_a.pcap"
    mac: "02:00:00:00:0a:01"
    ipv4: [10.0.1.1/24]
    ipv6: ["fd00:1::1/64"]
  - name: b
    device: "net_null0,no-rx=1"
    mac: "02:00:00:00:0b:01"
    ipv4: [10.0.2.1/24]
    ipv6: ["fd00:2::1/64"]
neighbors:
  - {{interface: b, ip: 10.0.2.2, mac: "02:00:00:00:0b:02"}}
  - {{interface: b, ip: "fd00:2::2", mac: "02:00:00:00:0b:02"}}
routes:
  - {{prefix: 198.51.100.0/24, via: 10.0.2.2}}
  - {{prefix: "2001:db8:100::/48", via: "fd00:2::2"}}
classify:
  - rules:
      - {{id: 1, protocol: udp, dport: 53, action: count}}
"""


def test_replacing_rules_loses_nothing_and_keeps_counting(tmp_path):
    """200 rule sets replace each other while traffic of both families loops
    through: every packet received leaves, none is dropped, and the one rule
    kept in every set (id 1) counted each of them exactly once, across 200
    tables, two families and their RCU hand-overs."""
    import random
    import time

    from scapy.all import IP, UDP, Ether, IPv6
    from pcapdp import write_pcap

    pkts = []
    for i in range(32):
        ip = (IPv6(src="fd00:1::2", dst=f"2001:db8:100::{i + 1:x}") if i % 2 else
              IP(src="10.0.1.2", dst=f"198.51.100.{i + 1}"))
        pkts.append(Ether(src="02:00:00:00:0a:02", dst="02:00:00:00:0a:01") / ip /
                    UDP(sport=1000 + i, dport=53) / (b"x" * 18))
    write_pcap(tmp_path / "in.pcap", pkts)
    rng = random.Random(6)
    mg = Meshgate(tmp_path, HITLESS.format(dir=tmp_path), name="rhl").start()
    try:
        ctl = Control(mg)
        for g in range(200):
            rules = [{"id": 1, "priority": 0, "protocol": "udp", "dport": 53, "action": "count"}]
            rules += [{"id": 100 + k, "priority": 1,
                       "dst": f"100.{rng.randrange(64)}.{rng.randrange(256)}.0/24",
                       "protocol": "udp", "dport": f"{k}-{k + rng.randrange(100)}",
                       "action": "deny"} for k in range(rng.randrange(1, 60))]
            rules.append({"id": 99, "dst": f"2001:db8:dead:{g:x}::/64", "action": "deny"})
            st, body = ctl.http("PUT", "/v1/networks/default/rules",
                                {"default": "permit" if g % 2 else "deny", "rules": rules})
            assert st == 200, body
        # The last set must pass everything: default permit.
        ctl.ok("PUT", "/v1/networks/default/rules",
               {"default": "permit", "rules": rules})
        end = time.time() + 30
        while mg.telemetry("/meshgate/ports")["a"]["rx_packets"] < 200_000:
            assert time.time() < end, "fewer than 200k packets in 30 s"
            time.sleep(0.1)
        time.sleep(1.2)
        tel = mg.telemetry("/meshgate/rules")
        # The last set's result caches: 16 flows per family, all cached after
        # their first sights (twice in a burst: twice), counted since the PUT.
        cache = ctl.ok("GET", "/v1/networks/default/rules")["result_cache"]
        show = subprocess.run([str(MESHGATECTL), "-p", mg.prefix, "rules", "default"],
                              capture_output=True, text=True, timeout=20).stdout.splitlines()
    finally:
        st = mg.stop()
    rx = st["ports"]["a"]["rx_packets"]
    assert rx >= 200_000
    assert {k: v for k, v in st["drops"].items() if v} == {}
    assert st["ports"]["b"]["tx_packets"] == rx
    c = st["rules"]["default"]
    assert c["1"]["packets"] == rx, (c["1"], rx)
    # DPDK telemetry had them too, a second behind (checked before the stop).
    assert tel["default/1"]["packets"] > 0 and "default/99" in tel and "default/default" in tel
    assert c["default"]["packets"] == 0 and c["99"]["packets"] == 0
    assert set(cache) == {"ipv4", "ipv6"}, cache
    for fam in cache.values():
        assert fam["entries"] == 8192
        assert 0 < fam["lookups"] < rx, cache
        assert fam["lookups"] - 16 * 64 <= fam["hits"] <= fam["lookups"], cache
    words = show[-1].split()
    assert words[:3] == ["result", "cache:", "ipv4"] and int(words[3]) > 0, show[-1]
    assert words[8].startswith("(9") or words[8] == "(100.0%),", show[-1]


def test_default_counter_survives_a_family_losing_its_rules(tmp_path):
    """IPv6 traffic counted by the default action of a rule set whose rules
    are all IPv4: replaced by the same rules with default permit (nothing
    left to do for IPv6), the default's count carries on; it must never go
    back (it is a Prometheus counter)."""
    import time

    from scapy.all import UDP, Ether, IPv6
    from pcapdp import write_pcap

    write_pcap(tmp_path / "in.pcap", [Ether(src="02:00:00:00:0a:02", dst="02:00:00:00:0a:01") /
                                      IPv6(src="fd00:1::2", dst="2001:db8:100::1") /
                                      UDP(sport=1000, dport=99) / (b"x" * 18)])
    rules = [{"id": 1, "family": "ipv4", "protocol": "udp", "dport": 53, "action": "count"}]
    with Meshgate(tmp_path, HITLESS.format(dir=tmp_path), name="rdef") as mg:
        ctl = Control(mg)
        ctl.ok("PUT", "/v1/networks/default/rules", {"default": "deny", "rules": rules})
        time.sleep(0.5)
        before = ctl.ok("GET", "/v1/networks/default/rules")["counters"]["packets"]
        ctl.ok("PUT", "/v1/networks/default/rules", {"default": "permit", "rules": rules})
        after = ctl.ok("GET", "/v1/networks/default/rules")["counters"]["packets"]
        time.sleep(0.3)
        later = ctl.ok("GET", "/v1/networks/default/rules")["counters"]["packets"]
    assert 0 < before <= after <= later, (before, after, later)
