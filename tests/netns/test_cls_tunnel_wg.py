# SPDX-License-Identifier: BSD-3-Clause
"""Rule action `tunnel` into a WireGuard interface, against wireguard-go
(the two-host topology and helpers of test_wireguard.py): traffic the route
sends to the external host in clear goes into wg0 when a rule says so."""
from test_wireguard import WG_GO_PORT, MG_PORT, genkey, mg_config, ping_ok, wgtopo  # noqa: F401

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
