# SPDX-License-Identifier: BSD-3-Clause
"""Rule action `tunnel` into a WireGuard interface, against wireguard-go
(the two-host topology and helpers of test_wireguard.py): traffic the route
sends to the external host in clear goes into wg0 when a rule says so."""
from test_wireguard import WG_GO_PORT, MG_PORT, genkey, mg_config, ping_ok, wgtopo  # noqa: F401

import time

from mgrun import Control, Meshgate


def rx_packets(go):
    out = go.ip("-s", "-j", "link", "show", go.ifname).stdout
    import json
    return json.loads(out)[0]["stats64"]["rx"]["packets"]


def test_rule_tunnel_into_wireguard_both_families(tmp_path, wgtopo):
    """Pod -> 198.51.100.1 and 2001:db8:100::1 (the external host's lo,
    routed in clear via 10.10.2.2 / fd00:10:2::2) with rules sending ICMP
    echo to them into wg0: the pings succeed, wireguard-go's interface
    received them (it routes the replies back through the tunnel too), and
    the rules counted them; other traffic to the same host stays in clear."""
    topo, go = wgtopo
    mg_priv, mg_pub = genkey()
    go.up(mg_pub, "10.10.2.1:%d" % MG_PORT,
          ["10.99.0.1/32", "fd99::1/128", "10.10.1.0/24", "fd00:10:1::/64"])
    cfg = mg_config(topo, mg_priv, go.pub, "10.10.2.2:%d" % WG_GO_PORT)
    old = 'allowed_ips: [10.99.0.2/32, "fd99::2/128"]'
    assert old in cfg
    cfg = cfg.replace(old, 'allowed_ips: [10.99.0.2/32, "fd99::2/128", 198.51.100.0/24, '
                           '"2001:db8:100::/48"]')
    cfg += """
classify:
  - rules:
      - {id: 7, dst: 198.51.100.1/32, protocol: icmp, icmp_type: 8, action: tunnel, tunnel: wg0}
      - {id: 8, dst: "2001:db8:100::1/128", protocol: icmpv6, icmp_type: 128, action: tunnel, tunnel: wg0}
"""
    with Meshgate(tmp_path, cfg, name="wg") as mg:
        before = rx_packets(go)
        ping_ok(topo, "pod", "198.51.100.1")
        ping_ok(topo, "pod", "2001:db8:100::1")
        got = rx_packets(go) - before
        rules = Control(mg).ok("GET", "/v1/networks/default/rules")["rules"]
        # UDP to the same host is not matched: it leaves in clear.
        r = topo.run("pod", "bash", "-c", "echo x > /dev/udp/198.51.100.1/9")
        assert r.returncode == 0, r.stderr
    assert got >= 3, got  # (a packet held during the handshake may be lost)
    c = {r["id"]: r["counters"]["packets"] for r in rules}
    assert c[7] >= 3 and c[8] >= 3, rules


def test_rules_and_state_apply_to_what_the_tunnel_decrypts(tmp_path, wgtopo):
    """A network's rules are no way around for the tunnel's traffic: with a
    stateful default-deny network (the pod side may open flows, wg0 may
    not), the pod reaches wireguard-go's inner address and its replies come
    back through the tunnel (admitted by state), while the peer's own
    attempts through the tunnel are denied at wg0's ingress and counted."""
    topo, go = wgtopo
    mg_priv, mg_pub = genkey()
    go.up(mg_pub, "10.10.2.1:%d" % MG_PORT, ["10.99.0.1/32", "10.10.1.0/24"])
    cfg = mg_config(topo, mg_priv, go.pub, "10.10.2.2:%d" % WG_GO_PORT)
    old = "networks:\n  - name: default\n"
    assert old in cfg
    cfg = cfg.replace(old, "networks:\n  - name: default\n"
                           "    flows: {stateful: true, timeouts: {icmp: 1}}\n", 1)
    cfg += """
classify:
  - default: deny
    rules:
      - {id: 1, interface: wg0, action: deny}
      - {id: 2, src: 10.10.1.0/24, action: permit}
      - {id: 3, src: 10.10.2.0/24, action: permit}
      - {id: 4, src: "fd00::/8", action: permit}
"""
    with Meshgate(tmp_path, cfg, name="wg") as mg:
        ping_ok(topo, "pod", "10.99.0.2")          # replies from wg0 admitted by state
        r = topo.ping("ext", "10.10.1.2", count=3)  # the peer opens nothing
        api = Control(mg)
        rules = api.ok("GET", "/v1/networks/default/rules")["rules"]
        ping_ok(topo, "pod", "10.99.0.2")
        # The pod's ping flows end after 1 s idle: the history names the tunnel
        # their replies came through.
        flows = []
        for _ in range(100):
            flows = [f for f in api.ok("GET", "/v1/flows?address=10.99.0.2")["flows"]
                     if f.get("tunnel") == "wg0"]
            if flows:
                break
            time.sleep(0.2)
    assert flows and flows[0]["reply_ingress"] == "wg0", flows
    assert r.returncode != 0, r.stdout
    c = {x["id"]: x["counters"]["packets"] for x in rules}
    assert c[1] >= 3, rules                       # the peer's requests, at wg0's ingress
    assert mg.stats["drops"]["rule-deny"] >= 3
