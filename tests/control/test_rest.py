# SPDX-License-Identifier: BSD-3-Clause
"""The REST endpoint against one running meshgate (two net_null ports that
receive nothing): every resource created, read, listed, replaced and
deleted, with its effect on the others; authentication; every body refused
with the field at fault; atomic batches; 404/405/413/414; the token file
option; the modes of the run files, and the token kept out of the log."""
import http.client
import json
import os
import pathlib
import stat
import time
import urllib.parse

import pytest

from mgrun import null_config, Control, Meshgate

CONFIG = null_config(640, hugepages=False) + """neighbors:
  - {{interface: b, ip: 10.0.2.2, mac: "02:00:00:00:0b:02"}}
routes:
  - {{prefix: 198.51.100.0/24, via: 10.0.2.2}}
control:
  rest: {{max_body: {max_body}{extra}}}
"""
MAX_BODY = 65536


@pytest.fixture(scope="module")
def mg(tmp_path_factory):
    m = Meshgate(tmp_path_factory.mktemp("rest"), CONFIG.format(max_body=MAX_BODY, extra=""),
                 name="rest")
    m.start()
    try:
        yield m
    except BaseException:
        m.kill()
        raise
    m.stop()
    assert "left behind" not in m.log(), m.log()


@pytest.fixture(scope="module")
def ctl(mg):
    return Control(mg)


def request(ctl, method, path, data=None, auth=True, headers=None):
    """Raw HTTP: (status, headers (lower-case names), text)."""
    c = http.client.HTTPConnection(ctl.host, ctl.port, timeout=30)
    h = dict(headers or {})
    if auth is True:
        h["Authorization"] = f"Bearer {ctl.token}"
    elif auth is not None:
        h["Authorization"] = auth
    if isinstance(data, str):
        data = data.encode()
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, text


def error(got, status, field=None, code=None):
    """@got is (status, json) from Control.http: an Error with @status naming @field."""
    st, j = got
    assert st == status, f"expected {status}, got {st}: {j}"
    assert isinstance(j, dict) and set(j) == {"error"}, j
    e = j["error"]
    assert set(e) == {"status", "code", "field", "message"}, e
    assert e["status"] == status and e["message"], e
    if field is not None:
        assert e["field"] == field, f"field {e['field']!r}, expected {field!r}: {e}"
    if code is not None:
        assert e["code"] == code, e
    return e


def dump(ctl):
    """Everything the API shows, minus what moves by itself (counters, ages, probes)."""
    out = {}
    for what in ("networks", "ports", "interfaces", "routes", "neighbors", "connections"):
        items = ctl.ok("GET", f"/v1/{what}")
        for i in items:
            i.pop("counters", None)
            if isinstance(i.get("interface"), dict):
                i["interface"].pop("counters", None)
            if what == "neighbors":
                i.pop("age_ms")
                if not i["static"]:
                    i.pop("state"), i.pop("held"), i.pop("mac")
            if what == "connections":
                for s in i["path"]["path_segments"]:
                    s.pop("metrics", None)
        out[what] = sorted(items, key=lambda x: json.dumps(x, sort_keys=True))
    return out


# ---- run files, log -------------------------------------------------------------------------

def test_run_files_modes(ctl):
    st = os.stat(ctl.run_dir)
    assert stat.S_IMODE(st.st_mode) & 0o077 == 0, oct(st.st_mode)
    tok = os.lstat(ctl.run_dir / "rest.token")
    assert stat.S_ISREG(tok.st_mode) and stat.S_IMODE(tok.st_mode) == 0o600, oct(tok.st_mode)
    sock = os.lstat(ctl.nsm_path)
    assert stat.S_ISSOCK(sock.st_mode) and stat.S_IMODE(sock.st_mode) == 0o600, \
        oct(sock.st_mode)
    assert len(ctl.token) == 48 and int(ctl.token, 16) >= 0


def test_token_not_in_log(mg, ctl):
    ctl.ok("GET", "/v1/networks")
    ctl.http("GET", "/v1/networks", token="Bearer " + ctl.token[:-1])
    assert ctl.token not in mg.log()
    assert ctl.token[:16] not in mg.log()


# ---- authentication -------------------------------------------------------------------------

@pytest.mark.parametrize("auth", [
    None, "", "Bearer", "Bearer ", "Bearer wrong", "Bearer {t}x", "Bearer {p}", "Bearer {w}",
    "Basic {t}", "Token {t}", "{t}", "Bearer{t}", "Bearer {t} extra", "Bearer {t},x",
], ids=["none", "empty", "scheme-only", "scheme-space", "wrong", "longer", "prefix",
        "same-length", "basic", "token", "bare", "no-space", "trailing-word", "trailing-comma"])
def test_unauthorized(ctl, auth):
    if auth is not None:
        t = ctl.token
        auth = auth.format(t=t, p=t[:-1], w=t[:-1] + ("0" if t[-1] != "0" else "1"))
    st, hdrs, text = request(ctl, "GET", "/v1/networks", auth=auth)
    assert st == 401, text
    assert hdrs["www-authenticate"] == 'Bearer realm="meshgate"'
    assert hdrs["content-type"] == "application/json"
    error((st, json.loads(text)), 401, "", "UNAUTHENTICATED")


def test_bearer_scheme_is_case_insensitive(ctl):
    for scheme in ("bearer", "BEARER", "Bearer  "):
        st, _, text = request(ctl, "GET", "/v1/networks", auth=f"{scheme} {ctl.token}")
        assert st == 200, (scheme, text)


def test_unauthorized_comes_first(ctl):
    """401 before the path (404), the method (405), the body (400, 413) are looked at,
    and nothing is changed."""
    for method, path, body in (("GET", "/nope", None), ("PUT", "/v1/networks", None),
                               ("GET", "/metrics", None), ("POST", "/v1/networks", "{"),
                               ("POST", "/v1/networks", "x" * (MAX_BODY + 1)),
                               ("POST", "/v1/networks", '{"name": "sneaky"}'),
                               ("DELETE", "/v1/routes/default/198.51.100.0/24", None)):
        st, hdrs, text = request(ctl, method, path, body, auth="Bearer nope")
        assert st == 401 and "www-authenticate" in hdrs, (method, path, st, text)
    error(ctl.http("GET", "/v1/networks/sneaky"), 404, "name")
    ctl.ok("GET", "/v1/routes/default/198.51.100.0/24")


# ---- networks -------------------------------------------------------------------------------

def test_networks(ctl):
    nets = ctl.ok("GET", "/v1/networks")
    assert nets == [{"name": "default", "fragments": "forward", "ip_options": "forward",
                     "interfaces": 2, "routes": 1}]
    st, n = ctl.http("POST", "/v1/networks", {"name": "blue", "fragments": "drop",
                                              "ip_options": "drop"})
    assert st == 201
    assert n == {"name": "blue", "fragments": "drop", "ip_options": "drop", "interfaces": 0,
                 "routes": 0}
    assert ctl.ok("GET", "/v1/networks/blue") == n
    assert n in ctl.ok("GET", "/v1/networks")
    error(ctl.http("POST", "/v1/networks", {"name": "blue"}), 409, "name", "ALREADY_EXISTS")
    # In use: an interface in it, then a route in it.
    ctl.ok("POST", "/v1/interfaces", {"port": "a", "vlan": 50, "network": "blue"})
    assert ctl.ok("GET", "/v1/networks/blue")["interfaces"] == 1
    assert ctl.ok("GET", "/v1/interfaces/a.50")["network"] == "blue"
    error(ctl.http("DELETE", "/v1/networks/blue"), 409, "name", "FAILED_PRECONDITION")
    ctl.ok("DELETE", "/v1/interfaces/a.50")
    ctl.ok("POST", "/v1/routes", {"network": "blue", "prefix": "10.99.0.0/16", "action": "drop"})
    assert ctl.ok("GET", "/v1/networks/blue")["routes"] == 1
    error(ctl.http("DELETE", "/v1/networks/blue"), 409, "name")
    ctl.ok("DELETE", "/v1/routes/blue/10.99.0.0/16")
    assert ctl.http("DELETE", "/v1/networks/blue") == (204, None)
    error(ctl.http("GET", "/v1/networks/blue"), 404, "name", "NOT_FOUND")
    error(ctl.http("DELETE", "/v1/networks/blue"), 404, "name")
    assert ctl.ok("GET", "/v1/networks") == nets


# ---- ports and interfaces -------------------------------------------------------------------

def test_ports(ctl):
    body = {"name": "c", "device": "net_null4,no-rx=1", "network": "default",
            "mac": "02:00:00:00:0c:01", "mtu": 9000, "rx_queues": 1, "rx_desc": 512,
            "tx_desc": 512, "promiscuous": True}
    st, p = ctl.http("POST", "/v1/ports", body)
    assert st == 201, p
    assert {k: p[k] for k in body} == body
    assert p["ethdev"] >= 0 and p["vlans"] == []
    i = p["interface"]
    assert (i["name"], i["kind"], i["port"], i["vlan"], i["mtu"], i["mac"]) == \
        ("c", "port", "c", 0, 9000, "02:00:00:00:0c:01")
    assert i["link_local"] == "fe80::ff:fe00:c01" and i["ipv4"] == [] and i["ipv6"] == []
    assert set(i["counters"]) == {"rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "drops"}
    assert ctl.ok("GET", "/v1/ports/c") == p
    assert p in ctl.ok("GET", "/v1/ports")
    # Seen everywhere else too.
    assert ctl.ok("GET", "/v1/interfaces/c") == i
    assert ctl.ok("GET", "/v1/networks/default")["interfaces"] == 3
    assert "c" in ctl.ok("GET", "/v1/stats")["ports"]
    assert 'meshgate_port_rx_packets_total{port="c"} 0' in ctl.http("GET", "/metrics")[1]
    error(ctl.http("POST", "/v1/ports", dict(body, device="net_null5")), 409, "name")
    error(ctl.http("POST", "/v1/ports", dict(body, name="d")), 409, "device")
    # Only what was given is shown (with network and MTU resolved).
    st, d = ctl.http("POST", "/v1/ports", {"name": "d", "device": "net_null5,no-rx=1"})
    assert st == 201 and set(d) == {"name", "device", "network", "mtu", "ethdev", "interface",
                                    "vlans"}
    assert (d["network"], d["mtu"]) == ("default", 1500)
    assert ctl.http("DELETE", "/v1/ports/d") == (204, None)
    assert ctl.http("DELETE", "/v1/ports/c") == (204, None)
    error(ctl.http("GET", "/v1/ports/c"), 404, "name")
    error(ctl.http("GET", "/v1/interfaces/c"), 404, "name")
    error(ctl.http("DELETE", "/v1/ports/c"), 404, "name")
    assert "c" not in ctl.ok("GET", "/v1/stats")["ports"]
    assert ctl.ok("GET", "/v1/networks/default")["interfaces"] == 2
    # The device name is free again.
    ctl.ok("POST", "/v1/ports", {"name": "c", "device": "net_null4,no-rx=1"})
    ctl.ok("DELETE", "/v1/ports/c")


def test_port_refusals(ctl):
    error(ctl.http("POST", "/v1/ports", {"name": "e", "device": "net_bogus0"}), 422, "device",
          "FAILED_PRECONDITION")
    error(ctl.http("POST", "/v1/ports", {"name": "e", "device": "net_null6",
                                         "network": "nope"}), 404, "network")
    error(ctl.http("DELETE", "/v1/ports/b"), 409, "name")   # its neighbor and route
    ctl.ok("POST", "/v1/interfaces", {"port": "a", "vlan": 60})
    error(ctl.http("DELETE", "/v1/ports/a"), 409, "name")   # its VLAN
    ctl.ok("DELETE", "/v1/interfaces/a.60")
    assert [p["name"] for p in ctl.ok("GET", "/v1/ports")] == ["a", "b"]


def test_vlans(ctl):
    st, v = ctl.http("POST", "/v1/interfaces", {"port": "b", "vlan": 100, "mtu": 1400})
    assert st == 201
    assert (v["name"], v["kind"], v["port"], v["vlan"], v["network"], v["mtu"], v["mac"]) == \
        ("b.100", "vlan", "b", 100, "default", 1400, "02:00:00:00:0b:01")
    assert ctl.ok("GET", "/v1/interfaces/b.100") == v
    assert v in ctl.ok("GET", "/v1/interfaces")
    assert ctl.ok("GET", "/v1/ports/b")["vlans"] == ["b.100"]
    assert ctl.ok("GET", "/v1/networks/default")["interfaces"] == 3
    error(ctl.http("POST", "/v1/interfaces", {"port": "b", "vlan": 100}), 409, "vlan")
    error(ctl.http("POST", "/v1/interfaces", {"port": "b", "vlan": 101, "mtu": 1501}), 400,
          "mtu")
    error(ctl.http("POST", "/v1/interfaces", {"port": "nope", "vlan": 101}), 404, "port")
    error(ctl.http("POST", "/v1/interfaces", {"port": "b", "vlan": 101, "network": "nope"}),
          404, "network")
    error(ctl.http("DELETE", "/v1/interfaces/b"), 409, "name")
    assert ctl.http("DELETE", "/v1/interfaces/b.100") == (204, None)
    error(ctl.http("DELETE", "/v1/interfaces/b.100"), 404, "name")
    error(ctl.http("GET", "/v1/interfaces/b.100"), 404, "name")
    assert ctl.ok("GET", "/v1/ports/b")["vlans"] == []


def test_addresses_make_connected_subnets(ctl):
    ctl.ok("POST", "/v1/interfaces", {"port": "a", "vlan": 200})
    st, a = ctl.http("POST", "/v1/interfaces/a.200/addresses", {"address": "10.200.0.1/24"})
    assert (st, a) == (201, {"interface": "a.200", "address": "10.200.0.1/24"})
    st, a = ctl.http("POST", "/v1/interfaces/a.200/addresses",
                     {"address": "fd00:200::1/64", "interface": "a.200"})
    assert st == 201
    i = ctl.ok("GET", "/v1/interfaces/a.200")
    assert (i["ipv4"], i["ipv6"]) == (["10.200.0.1/24"], ["fd00:200::1/64"])
    # The subnet is connected: a next hop in it resolves through a.200, a static route to it
    # is refused, a neighbor in it is accepted.
    st, r = ctl.http("POST", "/v1/routes", {"prefix": "10.201.0.0/16", "via": "10.200.0.9"})
    assert st == 201 and r["interface"] == "a.200", r
    error(ctl.http("POST", "/v1/routes", {"prefix": "10.200.0.0/24", "via": "10.0.1.2"}), 409,
          "prefix")
    error(ctl.http("POST", "/v1/routes", {"prefix": "10.200.0.1/32", "action": "drop"}), 409,
          "prefix")
    ctl.ok("POST", "/v1/neighbors", {"interface": "a.200", "ip": "fd00:200::9",
                                     "mac": "02:00:00:00:c8:09"})
    error(ctl.http("POST", "/v1/interfaces/a.200/addresses", {"address": "10.200.0.2/24"}), 409,
          "address")
    error(ctl.http("POST", "/v1/interfaces/a/addresses", {"address": "10.200.0.77/16"}), 409,
          "address")
    # In use: the route's next hop, the neighbor.
    error(ctl.http("DELETE", "/v1/interfaces/a.200/addresses/10.200.0.1/24"), 409, "address")
    error(ctl.http("DELETE", "/v1/interfaces/a.200/addresses/fd00:200::1"), 409, "address")
    ctl.ok("DELETE", "/v1/routes/default/10.201.0.0/16")
    ctl.ok("DELETE", "/v1/neighbors/a.200/fd00:200::9")
    assert ctl.http("DELETE", "/v1/interfaces/a.200/addresses/10.200.0.1/24") == (204, None)
    assert ctl.http("DELETE", "/v1/interfaces/a.200/addresses/fd00:200::1") == (204, None)
    error(ctl.http("DELETE", "/v1/interfaces/a.200/addresses/10.200.0.1"), 404, "address")
    error(ctl.http("DELETE", "/v1/interfaces/nope/addresses/10.200.0.1"), 404, "interface")
    error(ctl.http("DELETE", "/v1/interfaces/a.200/addresses/10.200.0.1/33"), 400, "address")
    error(ctl.http("POST", "/v1/routes", {"prefix": "10.201.0.0/16", "via": "10.200.0.9"}), 400,
          "via")
    i = ctl.ok("GET", "/v1/interfaces/a.200")
    assert (i["ipv4"], i["ipv6"]) == ([], [])
    # A VLAN's addresses go with it.
    ctl.ok("POST", "/v1/interfaces/a.200/addresses", {"address": "10.200.0.1/24"})
    ctl.ok("DELETE", "/v1/interfaces/a.200")
    ctl.ok("POST", "/v1/interfaces/a/addresses", {"address": "10.200.0.1/24"})
    ctl.ok("DELETE", "/v1/interfaces/a/addresses/10.200.0.1")


# ---- routes and neighbors -------------------------------------------------------------------

def neighbor(ctl, iface, ip):
    found = [n for n in ctl.ok("GET", "/v1/neighbors") if (n["interface"], n["ip"]) == (iface, ip)]
    return found[0] if found else None


def test_routes(ctl):
    before = ctl.ok("GET", "/v1/routes")
    assert before == [{"network": "default", "prefix": "198.51.100.0/24", "via": "10.0.2.2",
                       "action": "forward", "interface": "b"}]
    assert neighbor(ctl, "b", "10.0.2.2")["refs"] == 1
    # Via a next hop nobody knows yet: it is being resolved.
    st, r = ctl.http("POST", "/v1/routes", {"prefix": "203.0.113.0/24", "via": "10.0.1.50"})
    assert (st, r) == (201, {"network": "default", "prefix": "203.0.113.0/24",
                             "via": "10.0.1.50", "action": "forward", "interface": "a"})
    n = neighbor(ctl, "a", "10.0.1.50")
    assert n is not None and not n["static"] and n["refs"] == 1, n
    assert ctl.ok("GET", "/v1/routes/default/203.0.113.0/24") == r
    assert ctl.ok("GET", "/v1/networks/default")["routes"] == 2
    error(ctl.http("POST", "/v1/routes", {"prefix": "203.0.113.0/24", "action": "drop"}), 409,
          "prefix", "ALREADY_EXISTS")
    # IPv6, on-link, special.
    for body, want in (
            ({"prefix": "2001:db8:1::/48", "via": "fd00:1::50"},
             {"network": "default", "prefix": "2001:db8:1::/48", "via": "fd00:1::50",
              "action": "forward", "interface": "a"}),
            ({"prefix": "192.0.2.0/24", "interface": "b"},
             {"network": "default", "prefix": "192.0.2.0/24", "interface": "b",
              "action": "forward"}),
            ({"network": "default", "prefix": "0.0.0.0/0", "action": "unreachable"},
             {"network": "default", "prefix": "0.0.0.0/0", "action": "unreachable"}),
            ({"prefix": "::/0", "action": "prohibit"},
             {"network": "default", "prefix": "::/0", "action": "prohibit"})):
        assert ctl.http("POST", "/v1/routes", body) == (201, want), body
    got = ctl.ok("GET", "/v1/routes?network=default")
    assert len(got) == 6 and ctl.ok("GET", "/v1/routes") == got
    # Replace: via another next hop, then a special route; the old next hop is let go.
    st, r = ctl.http("PUT", "/v1/routes/default/203.0.113.0/24", {"via": "10.0.2.2"})
    assert (st, r["via"], r["interface"]) == (200, "10.0.2.2", "b")
    assert neighbor(ctl, "a", "10.0.1.50") is None
    assert neighbor(ctl, "b", "10.0.2.2")["refs"] == 2
    st, r = ctl.http("PUT", "/v1/routes/default/203.0.113.0/24",
                     {"network": "default", "prefix": "203.0.113.0/24", "action": "drop"})
    assert (st, r) == (200, {"network": "default", "prefix": "203.0.113.0/24", "action": "drop"})
    assert ctl.ok("GET", "/v1/routes/default/203.0.113.0/24") == r
    # PUT creates.
    st, r = ctl.http("PUT", "/v1/routes/default/203.0.114.0/24", {"action": "drop"})
    assert st == 201 and ctl.ok("GET", "/v1/routes/default/203.0.114.0/24") == r
    error(ctl.http("PUT", "/v1/routes/default/203.0.114.0/24",
                   {"prefix": "203.0.115.0/24", "action": "drop"}), 400, "prefix")
    ctl.ok("POST", "/v1/networks", {"name": "green"})
    error(ctl.http("PUT", "/v1/routes/default/203.0.114.0/24",
                   {"network": "green", "action": "drop"}), 400, "network")
    ctl.ok("DELETE", "/v1/networks/green")
    error(ctl.http("PUT", "/v1/routes/nope/203.0.114.0/24", {"action": "drop"}), 404, "network")
    error(ctl.http("PUT", "/v1/routes/default/203.0.114.1/24", {"action": "drop"}), 400, "prefix")
    error(ctl.http("GET", "/v1/routes/default/203.0.114.0/40"), 400, "prefix")
    error(ctl.http("GET", "/v1/routes/default/203.0.115.0/24"), 404, "prefix")
    error(ctl.http("GET", "/v1/routes/nope/203.0.114.0/24"), 404, "network")
    error(ctl.http("GET", "/v1/routes?network=nope"), 404, "network")
    for p in ("203.0.113.0/24", "203.0.114.0/24", "2001:db8:1::/48", "192.0.2.0/24",
              "0.0.0.0/0", "::/0"):
        assert ctl.http("DELETE", f"/v1/routes/default/{p}") == (204, None), p
    error(ctl.http("DELETE", "/v1/routes/default/203.0.113.0/24"), 404, "prefix")
    error(ctl.http("DELETE", "/v1/routes/nope/203.0.113.0/24"), 404, "network")
    error(ctl.http("DELETE", "/v1/routes/default/bogus/24"), 400, "prefix")
    assert ctl.ok("GET", "/v1/routes") == before
    assert neighbor(ctl, "b", "10.0.2.2")["refs"] == 1


def test_neighbors(ctl):
    st, n = ctl.http("POST", "/v1/neighbors", {"interface": "a", "ip": "10.0.1.7",
                                               "mac": "02:00:00:00:0A:07"})
    assert (st, n) == (201, {"interface": "a", "ip": "10.0.1.7", "mac": "02:00:00:00:0a:07"})
    e = neighbor(ctl, "a", "10.0.1.7")
    assert e == {"interface": "a", "ip": "10.0.1.7", "mac": "02:00:00:00:0a:07",
                 "state": "static", "static": True, "refs": 0, "held": 0, "age_ms": e["age_ms"]}
    # A route through it uses the static entry.
    ctl.ok("POST", "/v1/routes", {"prefix": "203.0.120.0/24", "via": "10.0.1.7"})
    assert neighbor(ctl, "a", "10.0.1.7")["refs"] == 1
    ctl.ok("DELETE", "/v1/routes/default/203.0.120.0/24")
    error(ctl.http("POST", "/v1/neighbors", {"interface": "a", "ip": "10.0.1.7",
                                             "mac": "02:00:00:00:0a:08"}), 409, "ip")
    st, _ = ctl.http("POST", "/v1/neighbors", {"interface": "a", "ip": "fe80::7",
                                               "mac": "02:00:00:00:0a:07"})
    assert st == 201 and neighbor(ctl, "a", "fe80::7")["static"]
    assert ctl.http("DELETE", "/v1/neighbors/a/fe80::7") == (204, None)
    assert ctl.http("DELETE", "/v1/neighbors/a/10.0.1.7") == (204, None)
    assert neighbor(ctl, "a", "10.0.1.7") is None
    error(ctl.http("DELETE", "/v1/neighbors/a/10.0.1.7"), 404, "ip")
    error(ctl.http("DELETE", "/v1/neighbors/nope/10.0.1.7"), 404, "interface")
    error(ctl.http("DELETE", "/v1/neighbors/a/10.0.1.x"), 400, "ip")


# ---- connections ----------------------------------------------------------------------------

CONN = {"connection": {"id": "conn-1", "network_service": "default",
                       "labels": {"app": "web"},
                       "context": {"ip_context": {
                           "dst_ip_addrs": ["10.50.0.1/24"], "src_ip_addrs": ["10.60.0.2/32"],
                           "ip_neighbors": [{"ip": "10.50.0.7",
                                             "hardware_address": "02:00:00:00:32:07"}]}}},
        "mechanism_preferences": [{"cls": "LOCAL", "type": "VLAN",
                                   "parameters": {"base": "b", "vlan-id": "300"}}]}


def test_connections(ctl):
    st, c = ctl.http("POST", "/v1/connections", CONN)
    assert st == 201, c
    assert c["id"] == "conn-1" and c["state"] == "UP" and c["network_service"] == "default"
    assert c["mechanism"] == CONN["mechanism_preferences"][0]
    assert c["labels"] == {"app": "web"}
    assert c["context"] == CONN["connection"]["context"]
    seg = c["path"]["path_segments"][c["path"]["index"]]
    assert seg["name"] == "meshgate" and seg["id"] and seg["token"] and seg["expires"]
    assert set(seg["metrics"]) == {"rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "drops"}
    got = ctl.ok("GET", "/v1/connections/conn-1")
    assert got == c
    assert [x["id"] for x in ctl.ok("GET", "/v1/connections")] == ["conn-1"]
    # What it set up.
    i = ctl.ok("GET", "/v1/interfaces/b.300")
    assert i["ipv4"] == ["10.50.0.1/24"] and i["vlan"] == 300
    assert {"network": "default", "prefix": "10.60.0.2/32", "interface": "b.300",
            "action": "forward"} in ctl.ok("GET", "/v1/routes")
    assert neighbor(ctl, "b.300", "10.50.0.7")["static"]
    assert 'meshgate_connection_rx_packets_total{connection="conn-1",network_service="default"}' \
        in ctl.http("GET", "/metrics")[1]
    # The same request again is a refresh: 200, the same segment.
    st, again = ctl.http("POST", "/v1/connections", CONN)
    assert st == 200 and again["path"]["path_segments"][0]["id"] == seg["id"]
    assert ctl.http("DELETE", "/v1/connections/conn-1") == (204, None)
    error(ctl.http("GET", "/v1/connections/conn-1"), 404, "id")
    error(ctl.http("DELETE", "/v1/connections/conn-1"), 404, "id")
    error(ctl.http("GET", "/v1/interfaces/b.300"), 404)
    assert neighbor(ctl, "b.300", "10.50.0.7") is None
    assert ctl.ok("GET", "/v1/connections") == []
    assert all(r["prefix"] != "10.60.0.2/32" for r in ctl.ok("GET", "/v1/routes"))


def test_connection_objects_go_with_the_connection(ctl):
    """What a connection set up cannot be deleted alone (Close could not take the rest back);
    Close takes it all."""
    assert ctl.http("POST", "/v1/connections", CONN)[0] == 201
    before = dump(ctl)
    for path, field in (("/v1/interfaces/b.300", "name"),
                        ("/v1/interfaces/b.300/addresses/10.50.0.1/24", "address"),
                        ("/v1/routes/default/10.60.0.2/32", "prefix"),
                        ("/v1/neighbors/b.300/10.50.0.7", "ip")):
        error(ctl.http("DELETE", path), 409, field, "FAILED_PRECONDITION")
    for op, field in (({"vlan": {"port": "b", "vlan": 300}}, "operations[1].vlan.vlan"),
                      ({"route": {"prefix": "10.60.0.2/32"}}, "operations[1].route.prefix"),
                      ({"neighbor": {"interface": "b.300", "ip": "10.50.0.7"}},
                       "operations[1].neighbor.ip"),
                      ({"address": {"interface": "b.300", "address": "10.50.0.1"}},
                       "operations[1].address.address")):
        ops = [{"op": "add", "route": {"prefix": "10.61.0.0/16", "action": "drop"}},
               dict(op, op="delete")]
        error(ctl.http("POST", "/v1/batch", {"operations": ops}), 409, field)
    assert dump(ctl) == before
    assert ctl.http("DELETE", "/v1/connections/conn-1") == (204, None)
    error(ctl.http("GET", "/v1/interfaces/b.300"), 404)
    assert all(r["prefix"] != "10.60.0.2/32" for r in ctl.ok("GET", "/v1/routes"))
    assert neighbor(ctl, "b.300", "10.50.0.7") is None


def test_connection_in_protojson_names(ctl):
    req = {"connection": {"id": "conn-camel", "networkService": "default",
                          "context": {"ipContext": {"dstIpAddrs": ["10.51.0.1/24"]},
                                      "MTU": "1400"}},
           "mechanismPreferences": [{"type": "VLAN", "parameters": {"base": "b",
                                                                     "vlanID": "301"}}]}
    st, c = ctl.http("POST", "/v1/connections", req)
    assert st == 201, c
    assert c["networkService"] == "default" and c["context"]["MTU"] == 1400
    assert c["context"]["ipContext"]["dstIpAddrs"] == ["10.51.0.1/24"]
    assert "pathSegments" in c["path"] and "network_service" not in c
    assert ctl.ok("GET", "/v1/connections/conn-camel") == c
    assert ctl.ok("GET", "/v1/interfaces/b.301")["mtu"] == 1400
    ctl.ok("DELETE", "/v1/connections/conn-camel")


def test_connection_refusals(ctl):
    base = json.loads(json.dumps(CONN))
    base["connection"]["id"] = "conn-bad"

    def with_(path, value):
        b = json.loads(json.dumps(base))
        node = b
        for k in path[:-1]:
            node = node[k]
        if value is KeyError:
            del node[path[-1]]
        else:
            node[path[-1]] = value
        return b

    ipc = ("connection", "context", "ip_context")
    cases = [
        (with_(("connection",), KeyError), 400, "connection"),
        (with_(("connection", "id"), ""), 400, "connection.id"),
        (with_(("connection", "id"), "x" * 256), 400, "connection.id"),
        (with_(("connection", "id"), 7), 400, "connection.id"),
        (with_(("connection", "bogus"), 1), 400, "connection.bogus"),
        (with_(ipc + ("bogus",), 1), 400, "connection.context.ip_context.bogus"),
        (with_(ipc + ("src_ip_addrs",), ["x"]), 400,
         "connection.context.ip_context.src_ip_addrs[0]"),
        (with_(ipc + ("dst_ip_addrs",), "10.50.0.1/24"), 400,
         "connection.context.ip_context.dst_ip_addrs"),
        (with_(ipc + ("src_ip_addrs",), ["10.60.0.2/32"] * 1025), 400,
         "connection.context.ip_context.src_ip_addrs"),
        (with_(ipc + ("src_ip_addrs",), [f"10.60.{i // 256}.{i % 256}/32" for i in range(33)]),
         400, "connection.context.ip_context.src_ip_addrs[32]"),
        (with_(ipc + ("ip_neighbors",), [{"ip": "10.50.0.7", "mac": "x"}]), 400,
         "connection.context.ip_context.ip_neighbors[0].mac"),
        (with_(("connection", "context", "MTU"), "big"), 400, "connection.context.MTU"),
        (with_(("connection", "state"), "SIDEWAYS"), 400, "connection.state"),
        (with_(("connection", "labels", "app"), 1), 400, "connection.labels.app"),
        (with_(("connection", "network_service"), "x" * 1025), 400,
         "connection.network_service"),
        (with_(("connection", "id"), "a\u0000b"), 400, "connection.id"),
        (with_(("mechanism_preferences",), {"type": "VLAN"}), 400, "mechanism_preferences"),
        (with_(("mechanism_preferences", 0, "parameters", "base"), 5), 400,
         "mechanism_preferences[0].parameters.base"),
        (with_(("mechanism_preferences", 0, "type"), "WIREGUARD"), 501, "mechanism_preferences"),
        (with_(("mechanism_preferences",), []), 400, "mechanism_preferences"),
        (with_(("connection", "labels"), {"network": "nope"}), 404, "connection.labels.network"),
    ]
    for body, status, field in cases:
        error(ctl.http("POST", "/v1/connections", body), status, field)
    assert ctl.ok("GET", "/v1/connections") == []
    error(ctl.http("GET", "/v1/interfaces/b.300"), 404)


# ---- refused bodies, each naming its field --------------------------------------------------

# Each body endpoint with a valid body and the string field that a NUL is put into.
ENDPOINTS = [
    ("POST", "/v1/networks", {"name": "t"}, "name", "name"),
    ("POST", "/v1/ports", {"name": "t", "device": "net_null20"}, "device", "device"),
    ("POST", "/v1/interfaces", {"port": "a", "vlan": 30}, "port", "port"),
    ("POST", "/v1/interfaces/a/addresses", {"address": "10.0.9.1/24"}, "address", "address"),
    ("POST", "/v1/routes", {"prefix": "203.0.113.0/24", "via": "10.0.1.9"}, "via", "via"),
    ("PUT", "/v1/routes/default/203.0.113.0/24", {"via": "10.0.1.9"}, "via", "via"),
    ("POST", "/v1/neighbors", {"interface": "a", "ip": "10.0.1.9", "mac": "02:00:00:00:0a:09"},
     "mac", "mac"),
    ("POST", "/v1/connections", CONN, "payload", "connection.payload"),
    ("POST", "/v1/batch", {"operations": [{"op": "add", "network": {"name": "t"}}]}, None,
     "operations[0].network.name"),
]
IDS = [f"{m} {p}" for m, p, *_ in ENDPOINTS]


def nul_body(body, key):
    b = json.loads(json.dumps(body))
    if key is None:
        b["operations"][0]["network"]["name"] = "t\u0000"
    elif "connection" in b:
        b["connection"][key] = "x\u0000y"
    else:
        b[key] = "x\u0000y"
    return b


@pytest.mark.parametrize("method,path,body,nulkey,nulfield", ENDPOINTS, ids=IDS)
def test_malformed_bodies(ctl, method, path, body, nulkey, nulfield):
    before = dump(ctl)
    for raw in ("", "{", '{"a": }', "[1,", "nul", '{"a": 1} x', "\x00", '{"a": "\x01"}',
                '{"name": "t", "name": "u"}', b"\xff\xfe".decode("latin-1")):
        e = error(ctl.http(method, path, raw=raw), 400, "", "INVALID_ARGUMENT")
        assert "JSON" in e["message"], (raw, e)
    for raw in ("[]", "[{}]", '"x"', "1", "true", "null"):
        st, j = ctl.http(method, path, raw=raw)
        e = error((st, j), 400, "")
        assert "object" in e["message"] or "operations" in e["message"], (raw, e)
    unknown = dict(body, surprise=1)
    error(ctl.http(method, path, unknown), 400, "surprise")
    error(ctl.http(method, path, nul_body(body, nulkey)), 400, nulfield)
    assert "NUL" in ctl.http(method, path, nul_body(body, nulkey))[1]["error"]["message"]
    assert dump(ctl) == before


BAD = {
    "/v1/networks": [
        ({}, "name"), ({"name": None}, "name"), ({"name": 5}, "name"),
        ({"name": "x" * 32}, "name"), ({"name": "a/b"}, "name"), ({"name": ""}, "name"),
        ({"name": "t", "fragments": "maybe"}, "fragments"), ({"name": "t", "fragments": 1},
                                                            "fragments"),
        ({"name": "t", "ip_options": ["drop"]}, "ip_options"),
    ],
    "/v1/ports": [
        ({"name": "t"}, "device"), ({"device": "net_null20"}, "name"),
        ({"name": "t.1", "device": "net_null20"}, "name"),
        ({"name": "t", "device": "bogus"}, "device"),
        ({"name": "t", "device": "x" * 256}, "device"),
        ({"name": "t", "device": "net_null20", "mtu": 67}, "mtu"),
        ({"name": "t", "device": "net_null20", "mtu": 9601}, "mtu"),
        ({"name": "t", "device": "net_null20", "mtu": -1}, "mtu"),
        ({"name": "t", "device": "net_null20", "mtu": 1500.5}, "mtu"),
        ({"name": "t", "device": "net_null20", "mtu": "1500"}, "mtu"),
        ({"name": "t", "device": "net_null20", "mtu": 2 ** 64}, ""),   # beyond JSON integers
        ({"name": "t", "device": "net_null20", "rx_queues": 0}, "rx_queues"),
        ({"name": "t", "device": "net_null20", "rx_queues": 65}, "rx_queues"),
        ({"name": "t", "device": "net_null20", "rx_desc": 63}, "rx_desc"),
        ({"name": "t", "device": "net_null20", "rx_desc": 100}, "rx_desc"),
        ({"name": "t", "device": "net_null20", "tx_desc": 32768}, "tx_desc"),
        ({"name": "t", "device": "net_null20", "mac": "02:00:00:00:00"}, "mac"),
        ({"name": "t", "device": "net_null20", "mac": "02:00:00:00:00:0g"}, "mac"),
        ({"name": "t", "device": "net_null20", "mac": " 2:00:00:00:00:01"}, "mac"),
        ({"name": "t", "device": "net_null20", "mac": "01:00:00:00:00:01"}, "mac"),
        ({"name": "t", "device": "net_null20", "mac": "00:00:00:00:00:00"}, "mac"),
        ({"name": "t", "device": "net_null20", "promiscuous": "yes"}, "promiscuous"),
        ({"name": "t", "device": "net_null20", "network": 7}, "network"),
    ],
    "/v1/interfaces": [
        ({"port": "a"}, "vlan"), ({"vlan": 30}, "port"), ({"port": "a", "vlan": 0}, "vlan"),
        ({"port": "a", "vlan": 4095}, "vlan"), ({"port": "a", "vlan": "30"}, "vlan"),
        ({"port": "a", "vlan": 30, "mtu": 67}, "mtu"), ({"port": "a", "vlan": 30, "mtu": 1501},
                                                        "mtu"),
        ({"port": "a", "vlan": 30, "name": "x"}, "name"),
    ],
    "/v1/interfaces/a/addresses": [
        ({}, "address"), ({"address": 5}, "address"), ({"address": "10.0.9.1"}, "address"),
        ({"address": "10.0.9.1/33"}, "address"), ({"address": "bogus/24"}, "address"),
        ({"address": "10.0.9.1/"}, "address"), ({"address": "10.0.9.1/-1"}, "address"),
        ({"address": "10.0.9.0/24"}, "address"), ({"address": "10.0.9.255/24"}, "address"),
        ({"address": "224.0.0.1/24"}, "address"), ({"address": "fe80::1/64"}, "address"),
        ({"address": "10.0.9.1/0"}, "address"), ({"address": "127.0.0.1/8"}, "address"),
        ({"address": "10.0.9.1/24", "interface": "b"}, "interface"),
        ({"address": "10.0.9.1/24", "interface": 5}, "interface"),
    ],
    "/v1/routes": [
        ({}, "prefix"), ({"via": "10.0.1.9"}, "prefix"),
        ({"prefix": "203.0.113.0", "via": "10.0.1.9"}, "prefix"),
        ({"prefix": "203.0.113.1/24", "via": "10.0.1.9"}, "prefix"),
        ({"prefix": "x/24", "via": "10.0.1.9"}, "prefix"),
        ({"prefix": "203.0.113.0/24"}, "via"),
        ({"prefix": "203.0.113.0/24", "via": "10.0.9.9"}, "via"),
        ({"prefix": "203.0.113.0/24", "via": "fd00:1::9"}, "via"),
        ({"prefix": "203.0.113.0/24", "via": "bogus"}, "via"),
        ({"prefix": "203.0.113.0/24", "via": "10.0.1.1"}, "via"),
        ({"prefix": "203.0.113.0/24", "via": "10.0.1.9", "interface": "b"}, "via"),
        ({"prefix": "203.0.113.0/24", "via": "fe80::9"}, "via"),
        ({"prefix": "2001:db8::/32", "via": "fe80::9"}, "interface"),
        ({"prefix": "203.0.113.0/24", "action": "reject"}, "action"),
        ({"prefix": "203.0.113.0/24", "action": "drop", "via": "10.0.1.9"}, "via"),
        ({"prefix": "203.0.113.0/24", "action": "drop", "interface": "a"}, "interface"),
        ({"prefix": "203.0.113.0/24", "via": 10}, "via"),
    ],
    "/v1/routes/default/203.0.113.0/24": [
        ({"prefix": "203.0.112.0/24", "via": "10.0.1.9"}, "prefix"),
        ({"network": "x", "via": "10.0.1.9"}, "network"),
        ({"via": "10.0.9.9"}, "via"), ({"action": 5}, "action"), ({}, "via"),
        ({"prefix": "203.0.113.0"}, "prefix"),
    ],
    "/v1/neighbors": [
        ({"ip": "10.0.1.9", "mac": "02:00:00:00:0a:09"}, "interface"),
        ({"interface": "a", "mac": "02:00:00:00:0a:09"}, "ip"),
        ({"interface": "a", "ip": "10.0.1.9"}, "mac"),
        ({"interface": "a", "ip": "10.0.9.9", "mac": "02:00:00:00:0a:09"}, "ip"),
        ({"interface": "a", "ip": "10.0.1.1", "mac": "02:00:00:00:0a:09"}, "ip"),
        ({"interface": "a", "ip": "224.0.0.9", "mac": "02:00:00:00:0a:09"}, "ip"),
        ({"interface": "a", "ip": "10.0.1.9/32", "mac": "02:00:00:00:0a:09"}, "ip"),
        ({"interface": "a", "ip": "10.0.1.9", "mac": "ff:ff:ff:ff:ff:ff"}, "mac"),
        ({"interface": "a", "ip": "10.0.1.9", "mac": "02-00-00-00-0a-09"}, "mac"),
        ({"interface": "a", "ip": "10.0.1.9", "mac": "02:00:00:00:0a:09", "state": "x"},
         "state"),
    ],
}


@pytest.mark.parametrize("path", sorted(BAD))
def test_refused_bodies_name_the_field(ctl, path):
    before = dump(ctl)
    method = "PUT" if path.count("/") > 3 and "interfaces" not in path else "POST"
    for body, field in BAD[path]:
        st, j = ctl.http(method, path, body)
        error((st, j), 400, field, "INVALID_ARGUMENT")
    assert dump(ctl) == before


def test_refused_references_are_404(ctl):
    for path, body, field in (
            ("/v1/ports", {"name": "t", "device": "net_null20", "network": "nope"}, "network"),
            ("/v1/interfaces", {"port": "nope", "vlan": 30}, "port"),
            ("/v1/interfaces", {"port": "a", "vlan": 30, "network": "nope"}, "network"),
            ("/v1/interfaces/nope/addresses", {"address": "10.0.9.1/24"}, "interface"),
            ("/v1/routes", {"prefix": "203.0.113.0/24", "interface": "nope"}, "interface"),
            ("/v1/routes", {"network": "nope", "prefix": "203.0.113.0/24", "action": "drop"},
             "network"),
            ("/v1/neighbors", {"interface": "nope", "ip": "10.0.1.9",
                               "mac": "02:00:00:00:0a:09"}, "interface")):
        error(ctl.http("POST", path, body), 404, field, "NOT_FOUND")


# ---- batch ----------------------------------------------------------------------------------

# Six operations that build network red: a port, a VLAN with an address, a neighbor, a route.
RED = [{"op": "add", "network": {"name": "red"}},
       {"op": "add", "port": {"name": "r", "device": "net_null9,no-rx=1", "network": "red"}},
       {"op": "add", "vlan": {"port": "r", "vlan": 7}},
       {"op": "add", "address": {"interface": "r.7", "address": "10.7.0.1/24"}},
       {"op": "add", "neighbor": {"interface": "r.7", "ip": "10.7.0.2",
                                  "mac": "02:00:00:00:07:02"}},
       {"op": "add", "route": {"network": "red", "prefix": "10.8.0.0/16", "via": "10.7.0.2"}}]


def test_batch_applies_everything(ctl):
    before = dump(ctl)
    ops = RED + [{"op": "replace", "route": {"network": "red", "prefix": "10.8.0.0/16",
                                             "action": "unreachable"}}]
    assert ctl.http("POST", "/v1/batch", {"operations": ops}) == (200, {"applied": 7})
    assert ctl.ok("GET", "/v1/networks/red") == {"name": "red", "fragments": "forward",
                                                 "ip_options": "forward", "interfaces": 2,
                                                 "routes": 1}
    assert ctl.ok("GET", "/v1/interfaces/r.7")["ipv4"] == ["10.7.0.1/24"]
    assert ctl.ok("GET", "/v1/routes/red/10.8.0.0/16")["action"] == "unreachable"
    assert neighbor(ctl, "r.7", "10.7.0.2")["static"]
    undo = [{"op": "delete", "route": {"network": "red", "prefix": "10.8.0.0/16"}},
            {"op": "delete", "neighbor": {"interface": "r.7", "ip": "10.7.0.2"}},
            {"op": "delete", "address": {"interface": "r.7", "address": "10.7.0.1/24"}},
            {"op": "delete", "vlan": {"port": "r", "vlan": 7}},
            {"op": "delete", "port": {"name": "r"}},
            {"op": "delete", "network": {"name": "red"}}]
    assert ctl.http("POST", "/v1/batch", {"operations": undo}) == (200, {"applied": 6})
    assert dump(ctl) == before


@pytest.mark.parametrize("last,status,field", [
    ({"op": "add", "route": {"network": "red", "prefix": "10.9.0.0/16", "via": "10.99.0.1"}},
     400, "operations[6].route.via"),
    ({"op": "add", "vlan": {"port": "r", "vlan": 7}}, 409, "operations[6].vlan.vlan"),
    ({"op": "add", "network": {"name": "red"}}, 409, "operations[6].network.name"),
    ({"op": "delete", "route": {"prefix": "10.10.0.0/16"}}, 404, "operations[6].route.prefix"),
    ({"op": "delete", "port": {"name": "b"}}, 409, "operations[6].port.name"),
    ({"op": "add", "port": {"name": "r2", "device": "net_null9,no-rx=1"}}, 409,
     "operations[6].port.device"),
    ({"op": "add", "neighbor": {"interface": "r.7", "ip": "10.7.0.2",
                                "mac": "02:00:00:00:07:02"}}, 409, "operations[6].neighbor.ip"),
    ({"op": "add", "route": {"network": "red", "prefix": "10.8.0.0/16", "bogus": 1}}, 400,
     "operations[6].route.bogus"),
], ids=["model-400", "vlan-409", "network-409", "delete-404", "busy-409", "device-409",
        "neighbor-409", "parse-400"])
def test_batch_is_atomic(ctl, last, status, field):
    """A batch whose last operation fails leaves everything exactly as it was; the same
    batch without it applies (so the devices and names were really given back)."""
    ops = RED + [last]
    before = dump(ctl)
    error(ctl.http("POST", "/v1/batch", {"operations": ops}), status, field)
    assert dump(ctl) == before
    assert ctl.http("POST", "/v1/batch", {"operations": ops[:-1]}) == (200, {"applied": 6})
    ctl.ok("POST", "/v1/batch", {"operations": [
        {"op": "delete", "route": {"network": "red", "prefix": "10.8.0.0/16"}},
        {"op": "delete", "neighbor": {"interface": "r.7", "ip": "10.7.0.2"}},
        {"op": "delete", "vlan": {"port": "r", "vlan": 7}},
        {"op": "delete", "port": {"name": "r"}}, {"op": "delete", "network": {"name": "red"}}]})
    assert dump(ctl) == before


def test_batch_refusals(ctl):
    before = dump(ctl)
    one = {"op": "add", "network": {"name": "t"}}
    cases = [
        ({}, "operations"), ({"operations": None}, "operations"),
        ({"operations": {}}, "operations"), ({"operations": []}, "operations"),
        ({"operations": [one], "x": 1}, "x"),
        ({"operations": [{}] * 10241}, "operations"),
        ({"operations": [1]}, "operations[0]"),
        ({"operations": [one, "x"]}, "operations[1]"),
        ({"operations": [{"network": {"name": "t"}}]}, "operations[0].op"),
        ({"operations": [{"op": 1, "network": {"name": "t"}}]}, "operations[0].op"),
        ({"operations": [{"op": "upsert", "network": {"name": "t"}}]}, "operations[0].op"),
        ({"operations": [{"op": "replace", "network": {"name": "t"}}]}, "operations[0].op"),
        ({"operations": [{"op": "add"}]}, "operations[0]"),
        ({"operations": [{"op": "add", "network": {"name": "t"}, "port": {"name": "t"}}]},
         "operations[0].port"),
        ({"operations": [{"op": "add", "tunnel": {}}]}, "operations[0].tunnel"),
        ({"operations": [{"op": "add", "network": "t"}]}, "operations[0].network"),
        ({"operations": [{"op": "add", "network": {"name": "t", "bogus": 1}}]},
         "operations[0].network.bogus"),
        ({"operations": [one, {"op": "add", "vlan": {"port": "a", "vlan": 5000}}]},
         "operations[1].vlan.vlan"),
        ({"operations": [one, {"op": "add", "neighbor": {"interface": "a", "ip": "10.0.1.9",
                                                         "mac": "x"}}]},
         "operations[1].neighbor.mac"),
        ({"operations": [{"op": "delete", "neighbor": {"interface": "a", "ip": "10.0.1.9",
                                                       "mac": "x"}}]},
         "operations[0].neighbor.mac"),
        ({"operations": [{"op": "delete", "route": {"prefix": "10.0.0.0/8", "via": "x"}}]},
         "operations[0].route.via"),
        ({"operations": [{"op": "add", "port": {"name": "t"}}]}, "operations[0].port.device"),
        ({"operations": [{"op": "add", "route": {"prefix": "10.5.0.0/16", "via": "10.0.9.9"}}]},
         "operations[0].route.via"),
    ]
    for body, field in cases:
        error(ctl.http("POST", "/v1/batch", body), 400, field)
    assert dump(ctl) == before


# ---- sizes, paths and methods ---------------------------------------------------------------

def test_body_over_max_body_is_413(ctl):
    before = dump(ctl)
    body = '{"operations": []}'
    # At the limit: parsed (and refused for what it says).
    st, _, text = request(ctl, "POST", "/v1/batch", body + " " * (MAX_BODY - len(body)))
    assert st == 400 and "operations" in text, text
    for path in ("/v1/batch", "/v1/networks", "/v1/connections", "/v1/routes/default/1.0.0.0/8"):
        method = "PUT" if path.count("/") > 3 else "POST"
        st, hdrs, text = request(ctl, method, path, body + " " * (MAX_BODY + 1 - len(body)))
        assert st == 413, (path, st, text)
        error((st, json.loads(text)), 413, "", "RESOURCE_EXHAUSTED")
        st, _, text = request(ctl, method, path, "x" * (4 * MAX_BODY))
        assert st == 413, (path, st, text)
    assert dump(ctl) == before


def test_url_too_long_is_414(ctl):
    error(ctl.http("GET", "/v1/networks/" + "x" * 1100), 414, "")
    error(ctl.http("GET", "/v1/networks/" + "x" * 1000), 404, "name")


@pytest.mark.parametrize("path", ["/", "/v1", "/v1/", "/v2/networks", "/v1/nope", "/v1/network",
                                  "/v1/networks/default/x", "/v1/ports/a/x",
                                  "/v1/interfaces/a/x", "/v1/interfaces/a/addresses/1.1.1.1/8/x",
                                  "/v1/routes/default", "/v1/routes/default/10.0.0.0",
                                  "/v1/neighbors/a", "/v1/neighbors/a/10.0.1.9/x",
                                  "/v1/connections/x/y", "/v1/batch/x", "/v1/stats/x",
                                  "/metrics/x", "/v1/metrics", "/" + "a/" * 20])
def test_unknown_paths_are_404(ctl, path):
    for m in ("GET", "POST", "PUT", "DELETE"):
        e = error(ctl.http(m, path, {} if m in ("POST", "PUT") else None), 404, "", "NOT_FOUND")
        assert "openapi" in e["message"]


@pytest.mark.parametrize("method,path,allow", [
    ("PUT", "/v1/networks", "GET, POST"), ("DELETE", "/v1/networks", "GET, POST"),
    ("POST", "/v1/networks/default", "GET, DELETE"), ("PATCH", "/v1/ports", "GET, POST"),
    ("PUT", "/v1/ports/a", "GET, DELETE"), ("DELETE", "/v1/interfaces", "GET, POST"),
    ("PUT", "/v1/interfaces/a", "GET, DELETE"), ("GET", "/v1/interfaces/a/addresses", "POST"),
    ("GET", "/v1/interfaces/a/addresses/10.0.1.1", "DELETE"),
    ("POST", "/v1/interfaces/a/addresses/10.0.1.1/24", "DELETE"),
    ("DELETE", "/v1/routes", "GET, POST"), ("POST", "/v1/routes/default/10.0.0.0/8",
                                            "GET, PUT, DELETE"),
    ("PUT", "/v1/neighbors", "GET, POST"), ("GET", "/v1/neighbors/a/10.0.1.9", "DELETE"),
    ("DELETE", "/v1/connections", "GET, POST"), ("PUT", "/v1/connections/x", "GET, DELETE"),
    ("GET", "/v1/batch", "POST"), ("POST", "/v1/stats", "GET"), ("POST", "/metrics", "GET"),
    ("HEAD", "/v1/networks", "GET, POST"), ("OPTIONS", "/v1/networks", "GET, POST"),
    # Paths whose handlers live outside ctl_rest.c (ctl_gw.c, ctl_esp.c,
    # ctl_ike.c, ctl_vxlan.c): the same body, whether or not the object exists.
    ("PATCH", "/v1/gateways", "GET, POST"), ("POST", "/v1/gateways/x", "GET, PUT, DELETE"),
    ("PUT", "/v1/esp-tunnels", "GET, POST"), ("POST", "/v1/esp-tunnels/x", "GET, DELETE"),
    ("GET", "/v1/esp-tunnels/x/sas", "PUT"), ("POST", "/v1/esp-tunnels/x/ike", "GET, PUT, DELETE"),
    ("DELETE", "/v1/vxlan", "GET, POST"), ("PUT", "/v1/vxlan/x", "GET, DELETE"),
])
def test_wrong_methods_are_405(ctl, method, path, allow):
    before = dump(ctl)
    st, hdrs, text = request(ctl, method, path, "{}" if method not in ("GET", "HEAD") else None)
    assert st == 405, text
    assert hdrs["allow"] == allow
    if method != "HEAD":
        error((st, json.loads(text)), 405, "", "UNIMPLEMENTED")
    assert dump(ctl) == before


def test_paths_decode_and_collapse(ctl):
    """Percent-escapes are decoded, empty segments ignored."""
    assert ctl.ok("GET", "/v1/routes/default/198.51.100%2E0/24")["via"] == "10.0.2.2"
    assert ctl.ok("GET", "//v1//networks/") == ctl.ok("GET", "/v1/networks")


# ---- counters -------------------------------------------------------------------------------

def test_stats(ctl):
    st, s = ctl.http("GET", "/v1/stats")
    assert st == 200 and set(s) == {"ports", "nodes", "workers", "drops", "gateway",
                                      "rules"}
    assert set(s["ports"]) == {"a", "b"}
    assert {"port-rx", "eth-input", "ip4-lookup", "drop"} <= set(s["nodes"])
    assert len(s["workers"]) == s["gateway"]["workers"] == 1
    # The ports receive nothing: port-rx polls, and its empty polls cost no
    # packet's cycles (they made cycles per packet meaningless at low rates).
    end = time.time() + 10
    while ctl.ok("GET", "/v1/stats")["nodes"]["port-rx"]["calls"] < 1000:
        assert time.time() < end
        time.sleep(0.05)
    rx = ctl.ok("GET", "/v1/stats")["nodes"]["port-rx"]
    assert rx["packets"] == rx["sampled_packets"] == rx["cycles"] == 0, rx
    assert all(isinstance(v, int) and v >= 0 for v in s["drops"].values())
    assert "eth-not-for-us" in s["drops"] and "no-route" in s["drops"]


def test_metrics(ctl):
    st, hdrs, text = request(ctl, "GET", "/metrics")
    assert st == 200 and hdrs["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    families, samples = {}, []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name not in families, f"{name} declared twice"
            families[name] = kind
        elif line.startswith("# HELP "):
            assert len(line.split(" ", 3)) == 4
        else:
            name = line.split("{")[0].split(" ")[0]
            assert name in families, f"{line}: no TYPE before it"
            value = line.rsplit(" ", 1)[1]
            float(value)
            samples.append(line)
    assert families["meshgate_port_rx_packets_total"] == "counter"
    assert families["meshgate_connections"] == "gauge"
    assert 'meshgate_port_link_up{port="a"} 1' in samples
    assert 'meshgate_interface_drops_total{interface="b",network="default"} 0' in samples
    assert "meshgate_routes 1" in samples


def test_metrics_label_values_are_escaped_whole(ctl):
    """A connection id with quotes, backslashes and newlines, longer than any buffer, is
    one label value, escaped."""
    cid = 'q"b\\n\n' + "x" * 240
    body = json.loads(json.dumps(CONN))
    body["connection"]["id"] = cid
    body["connection"]["network_service"] = "ns" + "y" * 600
    body["connection"]["labels"] = {"network": "default"}
    assert ctl.http("POST", "/v1/connections", body)[0] == 201
    try:
        text = ctl.http("GET", "/metrics")[1]
        esc = cid.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        line = (f'meshgate_connection_rx_packets_total{{connection="{esc}",'
                f'network_service="ns{"y" * 600}"}} 0')
        assert line in text.splitlines()
        got = ctl.ok("GET", "/v1/connections/" + urllib.parse.quote(cid, safe=""))
        assert got["id"] == cid
    finally:
        ctl.http("DELETE", "/v1/connections/" + urllib.parse.quote(cid, safe=""))
    assert ctl.ok("GET", "/v1/connections") == []


# ---- the token file -------------------------------------------------------------------------

class TokenControl(Control):
    """Control of a gateway whose token comes from control.rest.token_file."""

    def __init__(self, mg, token):
        self.mg, self.timeout = mg, 30
        self.run_dir = pathlib.Path(f"/var/run/dpdk/{mg.prefix}")
        self._wait_file(self.run_dir / "rest.addr")
        host, _, port = (self.run_dir / "rest.addr").read_text().strip().rpartition(":")
        self.host, self.port = host.strip("[]"), int(port)
        self.token = token
        self.nsm_path = self.run_dir / "nsm.sock"


def test_token_file(tmp_path):
    token = "s3cret-" + os.urandom(12).hex()
    tf = tmp_path / "token"
    fd = os.open(tf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, (token + "\n").encode())
    os.close(fd)
    cfg = CONFIG.format(max_body=MAX_BODY, extra=f", token_file: {tf}").replace(
        "net_null0", "net_null30").replace("net_null1,", "net_null31,")
    m = Meshgate(tmp_path, cfg, name="resttf")
    m.start()
    try:
        ctl = TokenControl(m, token)
        assert ctl.ok("GET", "/v1/networks")[0]["name"] == "default"
        assert not (ctl.run_dir / "rest.token").exists()
        error(ctl.http("GET", "/v1/networks", token="Bearer " + token[:-1]), 401)
        error(ctl.http("GET", "/v1/networks", token="Bearer " + token + "x"), 401)
        assert stat.S_IMODE(os.stat(tf).st_mode) == 0o600
    finally:
        m.stop()
    assert token not in m.log()
    assert str(tf) in m.log()
    assert "make it 0600" not in m.log()
    assert tf.read_text() == token + "\n"        # left alone at exit


def test_token_file_refusals(tmp_path):
    """A short token does not start; a file others can read starts with a warning."""
    tf = tmp_path / "short"
    tf.write_text("abc\n")
    os.chmod(tf, 0o600)
    cfg = CONFIG.format(max_body=MAX_BODY, extra=f", token_file: {tf}").replace(
        "net_null0", "net_null32").replace("net_null1,", "net_null33,")
    m = Meshgate(tmp_path, cfg, name="resttf")
    with pytest.raises(RuntimeError) as e:
        m.start()
    assert "control.rest.token_file" in str(e.value) and "fewer than 16" in str(e.value)
    m.kill()
    tf.write_text("0123456789abcdef0123\n")
    os.chmod(tf, 0o644)
    m = Meshgate(tmp_path, cfg, name="resttf")
    m.start()
    try:
        ctl = TokenControl(m, "0123456789abcdef0123")
        assert ctl.ok("GET", "/v1/ports")
    finally:
        m.stop()
    assert "make it 0600" in m.log() and "0123456789abcdef0123" not in m.log()


# ---- connections and the model: checks beyond the REST layer -------------------------------

def test_connection_mtu_out_of_range(ctl):
    body = json.loads(json.dumps(CONN))
    body["connection"]["id"] = "conn-mtu"
    body["connection"]["context"]["MTU"] = 65536 + 1400
    try:
        error(ctl.http("POST", "/v1/connections", body), 400, "connection.context.MTU")
    finally:
        ctl.http("DELETE", "/v1/connections/conn-mtu")


def test_connection_mechanism_error_names_the_field(ctl):
    body = json.loads(json.dumps(CONN))
    del body["mechanism_preferences"][0]["parameters"]["vlan-id"]
    error(ctl.http("POST", "/v1/connections", body), 400,
          "mechanism_preferences[0].parameters.vlan-id")


def test_next_hop_cannot_be_a_subnet_broadcast(ctl):
    for via in ("10.0.1.255", "10.0.1.0"):
        st, _ = ctl.http("POST", "/v1/routes", {"prefix": "203.0.113.0/24", "via": via})
        if st == 201:
            ctl.http("DELETE", "/v1/routes/default/203.0.113.0/24")
        assert st == 400, via


def test_neighbor_cannot_be_a_subnet_broadcast(ctl):
    for ip in ("10.0.1.255", "10.0.1.0"):
        st, body = ctl.http("POST", "/v1/neighbors",
                            {"interface": "a", "ip": ip, "mac": "02:00:00:00:77:01"})
        if st == 201:
            ctl.http("DELETE", f"/v1/neighbors/a/{ip}")
        assert st == 400 and body["error"]["field"] == "ip", (ip, body)
        assert "address of 10.0.1." in body["error"]["message"], body


def test_connection_id_with_a_slash(ctl):
    """NSM ids are free text: an escaped slash stays inside its path segment."""
    body = json.loads(json.dumps(CONN))
    body["connection"]["id"] = "ns/pod-1"
    body["mechanism_preferences"][0]["parameters"]["vlan-id"] = "301"
    st, c = ctl.http("POST", "/v1/connections", body)
    assert st == 201, c
    try:
        st, got = ctl.http("GET", "/v1/connections/ns%2Fpod-1")
        assert st == 200 and got["id"] == "ns/pod-1", got
        assert ctl.http("GET", "/v1/connections/ns/pod-1")[0] == 404
    finally:
        assert ctl.http("DELETE", "/v1/connections/ns%2Fpod-1")[0] == 204
    assert ctl.http("GET", "/v1/connections/ns%2Fpod-1")[0] == 404
