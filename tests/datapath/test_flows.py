# SPDX-License-Identifier: BSD-3-Clause
"""Flow tracking and stateful classification on net_pcap: a network that
denies what arrives on port b ("default deny inbound") and permits what
leaves through it admits the replies of flows that went out, in both
families, and still drops what nobody asked for; without `stateful` the
same replies are denied; a full flow table drops new flows with its own
reason. Flows still active at shutdown end ("flush") into the flow history,
whose JSON-lines export file is checked field by field.

Ordering: port b's pcap starts with frames for another MAC (dropped at
eth-input) that keep its replies back for a few bursts, so the flows of
port a's packets (one burst) exist when the replies are classified, in
whichever order the worker polls the two ports."""
import json

from scapy.all import (ICMP, IP, TCP, UDP, Ether, ICMPv6DestUnreach, ICMPv6EchoReply,
                       ICMPv6EchoRequest, IPv6, Raw, raw)

from pcapdp import GW_MAC, HOST_MAC, config, nonzero_drops, run

FILLERS = 80  # more than two bursts of 32


def a2gw(l3):
    return Ether(src=HOST_MAC["a"], dst=GW_MAC["a"]) / l3


def b2gw(l3):
    return Ether(src=HOST_MAC["b"], dst=GW_MAC["b"]) / l3


def fillers():
    return [Ether(src=HOST_MAC["b"], dst="02:00:00:00:ff:ff") / IP(src="10.0.2.2", dst="10.0.1.2")
            / UDP(sport=9, dport=9)] * FILLERS


def tagged(pkts, base=0):
    return [p / Raw(b"pkt%03d" % (base + i)) for i, p in enumerate(pkts)]


def key(p):
    b = raw(p)
    i = b.rfind(b"pkt")
    return b[i:i + 6]


def cfg(tmp_path, flows, export=True):
    """Network default with `flows`, rules denying what comes in on b."""
    extra = """classify:
  - network: default
    default: permit
    rules:
      - {id: 1, interface: b, action: deny}
"""
    if export:
        extra += f"flow_history:\n  size: 100\n  export: {{file: {tmp_path}/flows.jsonl}}\n"
    return config(tmp_path, net_opts=f"flows: {flows}", extra=extra)


def outbound():
    """Flows from host a (10.0.1.2 / fd00:1::2) to host b."""
    return [
        a2gw(IP(src="10.0.1.2", dst="10.0.2.2") / UDP(sport=1000, dport=53)),
        a2gw(IP(src="10.0.1.2", dst="10.0.2.2") / TCP(sport=40000, dport=80, flags="S")),
        a2gw(IP(src="10.0.1.2", dst="10.0.2.2") / ICMP(type=8, id=7, seq=1)),
        a2gw(IPv6(src="fd00:1::2", dst="fd00:2::2") / UDP(sport=1000, dport=53)),
        a2gw(IPv6(src="fd00:1::2", dst="fd00:2::2") / TCP(sport=40000, dport=80, flags="S")),
        a2gw(IPv6(src="fd00:1::2", dst="fd00:2::2") / ICMPv6EchoRequest(id=7, seq=1)),
    ]


def replies():
    """The answers of host b to outbound()."""
    return [
        b2gw(IP(src="10.0.2.2", dst="10.0.1.2") / UDP(sport=53, dport=1000)),
        b2gw(IP(src="10.0.2.2", dst="10.0.1.2") / TCP(sport=80, dport=40000, flags="SA")),
        b2gw(IP(src="10.0.2.2", dst="10.0.1.2") / ICMP(type=0, id=7, seq=1)),
        b2gw(IPv6(src="fd00:2::2", dst="fd00:1::2") / UDP(sport=53, dport=1000)),
        b2gw(IPv6(src="fd00:2::2", dst="fd00:1::2") / TCP(sport=80, dport=40000, flags="SA")),
        b2gw(IPv6(src="fd00:2::2", dst="fd00:1::2") / ICMPv6EchoReply(id=7, seq=1)),
    ]


def errors(sport):
    """ICMP errors from host b about a UDP packet from a's port @sport to b's port 53."""
    return [
        b2gw(IP(src="10.0.2.2", dst="10.0.1.2") / ICMP(type=3, code=3)
             / IP(src="10.0.1.2", dst="10.0.2.2") / UDP(sport=sport, dport=53)),
        b2gw(IPv6(src="fd00:2::2", dst="fd00:1::2") / ICMPv6DestUnreach(code=4)
             / IPv6(src="fd00:1::2", dst="fd00:2::2") / UDP(sport=sport, dport=53)),
    ]


def unsolicited():
    """What host b sends that no flow asked for: other ports, ids, a SYN, a
    later fragment of a reply (no ports: judged by the rules alone)."""
    return [
        b2gw(IP(src="10.0.2.2", dst="10.0.1.2", frag=100, proto=17) / Raw(b"x" * 16)),
        b2gw(IP(src="10.0.2.2", dst="10.0.1.2") / UDP(sport=53, dport=1001)),
        b2gw(IP(src="10.0.2.2", dst="10.0.1.2") / TCP(sport=5555, dport=22, flags="S")),
        b2gw(IP(src="10.0.2.2", dst="10.0.1.2") / ICMP(type=8, id=9, seq=1)),
        b2gw(IPv6(src="fd00:2::2", dst="fd00:1::2") / UDP(sport=53, dport=1001)),
        b2gw(IPv6(src="fd00:2::2", dst="fd00:1::2") / TCP(sport=5555, dport=22, flags="S")),
        b2gw(IPv6(src="fd00:2::2", dst="fd00:1::2") / ICMPv6EchoRequest(id=9, seq=1)),
    ]


def test_stateful_admits_replies_and_denies_unsolicited(tmp_path):
    out = tagged(outbound())
    # Replies and ICMP errors about the outbound UDP flows; then the same
    # errors about a flow that does not exist, and the unsolicited.
    back = tagged(replies() + errors(1000) + errors(1999) + unsolicited(), base=100)
    out_a, out_b, st = run(tmp_path, cfg(tmp_path, "{size: 1024, stateful: true}"),
                           a=out, b=fillers() + back)
    assert sorted(key(p) for p in out_b) == sorted(key(p) for p in out)
    # Every reply and related error, and nothing unsolicited, came out on a.
    assert sorted(key(p) for p in out_a if b"pkt" in raw(p)) == sorted(key(p) for p in back[:8])
    d = nonzero_drops(st)
    assert d.get("rule-deny") == 2 + 7, d
    assert "flow-table-full" not in d
    # The flows still active at shutdown went to the history's export file.
    lines = [json.loads(x) for x in (tmp_path / "flows.jsonl").read_text().splitlines()]
    assert len(lines) == 6, lines
    by = {(x["family"], x["protocol"]): x for x in lines}
    assert set(by) == {(4, "udp"), (4, "tcp"), (4, "icmp"), (6, "udp"), (6, "tcp"),
                       (6, "icmpv6")}
    u = by[(4, "udp")]
    assert (u["src"], u["dst"], u["sport"], u["dport"]) == ("10.0.1.2", "10.0.2.2", 1000, 53)
    assert (u["packets"], u["reply_packets"]) == (1, 1)
    assert u["bytes"] == len(out[0][IP]) and u["reply_bytes"] == len(back[0][IP])
    assert (u["network"], u["ingress"], u["reply_ingress"]) == ("default", "a", "b")
    assert u["end"] == "flush" and u["source"] == "tracker"
    assert u["first_seen"] <= u["last_seen"]
    t6 = by[(6, "tcp")]
    assert (t6["src"], t6["dport"], t6["tcp_state"]) == ("fd00:1::2", 80, "syn-recv")
    assert t6["tcp_flags"] == 0x12
    assert by[(6, "icmpv6")]["icmp_id"] == 7
    assert by[(4, "icmp")]["reply_packets"] == 1


def test_tracking_without_stateful_admits_nothing(tmp_path):
    back = tagged(replies(), base=100)
    out_a, out_b, st = run(tmp_path, cfg(tmp_path, "{size: 1024}"),
                           a=tagged(outbound()), b=fillers() + back)
    assert len(out_b) == 6
    assert not [p for p in out_a if b"pkt" in raw(p)]
    assert nonzero_drops(st).get("rule-deny") == 6
    # Tracked all the same: the flows are in the history, with no replies.
    lines = [json.loads(x) for x in (tmp_path / "flows.jsonl").read_text().splitlines()]
    assert len(lines) == 6
    assert all(x["packets"] == 1 and x["reply_packets"] == 0 for x in lines)


def test_full_table_drops_new_flows(tmp_path):
    # Two flows per worker (one worker here): the third and fourth new flows are refused.
    out = tagged([a2gw(IP(src="10.0.1.2", dst="10.0.2.2") / UDP(sport=1000 + i, dport=53))
                  for i in range(4)]
                 + [a2gw(IP(src="10.0.1.2", dst="10.0.2.2") / UDP(sport=1000, dport=53))])
    _, out_b, st = run(tmp_path, cfg(tmp_path, "{size: 2, stateful: true}"), a=out)
    assert sorted(key(p) for p in out_b) == sorted(key(p) for p in (out[0], out[1], out[4]))
    assert nonzero_drops(st) == {"flow-table-full": 2}


def test_no_flows_no_classify_node(tmp_path):
    # Without flows and rules, packets skip the classify node altogether.
    _, out_b, st = run(tmp_path, config(tmp_path), a=tagged(outbound()))
    assert len(out_b) == 6
    assert st["nodes"].get("ip4-classify", {}).get("packets", 0) == 0
    assert st["nodes"].get("ip6-classify", {}).get("packets", 0) == 0


def test_service_flows_in_history_with_their_endpoint(tmp_path):
    """Service flows (lib/svc's flow tables) reach the same history, with the
    service and the endpoint each was pinned to; no network tracks flows here."""
    extra = f"""services:
  - name: web
    network: default
    vips: [10.0.9.1]
    endpoints:
      - {{name: e1, address: 10.0.2.2}}
      - {{name: e3, address: 10.0.2.3}}
  - name: web6
    network: default
    vips: ["fd00:9::1"]
    endpoints:
      - {{name: e6, address: "fd00:2::2"}}
flow_history:
  size: 100
  export: {{file: {tmp_path}/flows.jsonl}}
"""
    nb = '  - {interface: b, ip: 10.0.2.3, mac: "02:00:00:00:0b:03"}\n'
    sent = tagged([a2gw(IP(src="10.0.1.2", dst="10.0.9.1") / UDP(sport=3000 + i, dport=80))
                   for i in range(8)] * 2
                  + [a2gw(IPv6(src="fd00:1::2", dst="fd00:9::1") / UDP(sport=3100, dport=80))])
    _, out_b, st = run(tmp_path, config(tmp_path, neighbors=nb, extra=extra), a=sent)
    assert len(out_b) == 17
    mac_ep = {HOST_MAC["b"]: "10.0.2.2", "02:00:00:00:0b:03": "10.0.2.3"}
    chosen = {p[UDP].sport: mac_ep[p[Ether].dst] for p in out_b if IP in p}
    lines = [json.loads(x) for x in (tmp_path / "flows.jsonl").read_text().splitlines()]
    assert len(lines) == 9, lines
    assert nonzero_drops(st) == {}
    for x in lines:
        assert (x["source"], x["end"], x["network"]) == ("service", "flush", "default")
        assert x["service"] == ("web" if x["family"] == 4 else "web6")
        if x["family"] == 4:
            assert x["packets"] == 2 and x["dport"] == 80
            assert x["endpoint_address"] == chosen[x["sport"]]
            assert x["endpoint"] == {"10.0.2.2": "e1", "10.0.2.3": "e3"}[chosen[x["sport"]]]
        else:
            assert (x["packets"], x["endpoint"], x["endpoint_address"]) == (1, "e6", "fd00:2::2")
