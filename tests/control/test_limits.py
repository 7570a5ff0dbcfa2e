# SPDX-License-Identifier: BSD-3-Clause
"""Full tables, against a running gateway with small limits: each table
filled to its limit over REST or the NSM socket, the next request refused
with 507 RESOURCE_EXHAUSTED whose message names the table and its limit and
whose field names the request field, nothing of a refused request applied,
and the gateway serving afterwards. Tables: static routes
(limits.routes), a network's FIB (limits.fib_routes), static neighbors
(limits.neighbors), NSM connections (limits.connections), WireGuard
interfaces, ESP tunnels and running captures (fixed limits).

The data path's side of full tables is tested where the traffic is:
neighbor-table-full in tests/datapath/test_drops.py, a full service flow
table in tests/unit/test_svc.c, a full capture buffer in
tests/netns/test_capture.py, an empty mbuf pool in test_overload.py."""
import http.client
import json
import subprocess

import pytest

from mgrun import MESHGATE, Control, Meshgate, null_config, unique

CONFIG = null_config(640, hugepages=False, ipv6="b") + """\
limits: {{{limits}}}
control:
  rest: {{rate_limit: 0}}     # test_service_ids_are_reused goes faster than the default limit
"""


def full(got, field, *words):
    """@got is (status, json): a 507 naming @field, with @words in its message."""
    st, j = got
    assert st == 507, (st, j)
    e = j["error"]
    assert e["code"] == "RESOURCE_EXHAUSTED" and e["status"] == 507, e
    assert e["field"] == field, e
    for w in words:
        assert w in e["message"], (w, e)
    return e


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    m = Meshgate(tmp_path_factory.mktemp("limits"),
                 CONFIG.format(limits="routes: 4, neighbors: 16, connections: 2"), name="lim")
    m.start()
    try:
        yield m, Control(m)
    except BaseException:
        m.kill()
        raise
    m.stop()


def test_static_routes(gw):
    _, c = gw
    for i in range(4):
        c.ok("POST", "/v1/routes", {"prefix": f"198.51.{i}.0/24", "via": "10.0.2.2"})
    full(c.http("POST", "/v1/routes", {"prefix": "198.51.9.0/24", "via": "10.0.2.2"}),
         "prefix", "static route table is full", "limits.routes = 4")
    # A batch that would go over changes nothing, even its first operations.
    c.ok("DELETE", "/v1/routes/default/198.51.3.0/24")
    st, j = c.http("POST", "/v1/batch", {"operations": [
        {"op": "add", "route": {"prefix": "198.51.7.0/24", "via": "10.0.2.2"}},
        {"op": "add", "route": {"prefix": "198.51.8.0/24", "via": "10.0.2.2"}}]})
    assert st == 507 and "limits.routes" in j["error"]["message"], (st, j)
    routes = {r["prefix"] for r in c.ok("GET", "/v1/routes") if r.get("via")}
    assert routes == {"198.51.0.0/24", "198.51.1.0/24", "198.51.2.0/24"}, routes
    for i in range(3):
        c.ok("DELETE", f"/v1/routes/default/198.51.{i}.0/24")


def test_static_neighbors(gw):
    _, c = gw
    for i in range(16):
        c.ok("POST", "/v1/neighbors", {"interface": "b", "ip": f"10.0.2.{10 + i}",
                                       "mac": "02:00:00:00:0b:10"})
    full(c.http("POST", "/v1/neighbors", {"interface": "b", "ip": "10.0.2.99",
                                          "mac": "02:00:00:00:0b:10"}),
         "ip", "static neighbor table is full", "limits.neighbors = 16")
    for i in range(16):
        c.ok("DELETE", f"/v1/neighbors/b/10.0.2.{10 + i}")
    c.ok("POST", "/v1/neighbors", {"interface": "b", "ip": "10.0.2.99", "mac": "02:00:00:00:0b:10"})
    c.ok("DELETE", "/v1/neighbors/b/10.0.2.99")


def vlan_conn(i):
    return {"id": f"lim-{i}", "networkService": "lim",
            "mechanism": {"cls": "LOCAL", "type": "VLAN",
                          "parameters": {"base": "a", "vlan-id": str(100 + i)}},
            "context": {"ipContext": {"srcIpAddrs": [f"172.20.{i}.2/30"],
                                      "dstIpAddrs": [f"172.20.{i}.1/30"]}}}


def test_nsm_connections(gw):
    _, c = gw
    with c.nsm_open() as s:
        for i in range(2):
            kind, res = s.call("Request", {"connection": vlan_conn(i)})
            assert kind == "result", res
        kind, res = s.call("Request", {"connection": vlan_conn(2)})
        assert kind == "error", res
        assert res["code"] == "RESOURCE_EXHAUSTED" and res["field"] == "connection.id", res
        assert "limits.connections = 2" in res["message"], res
        # A refresh of an existing one is not a new connection: accepted.
        kind, res = s.call("Request", {"connection": vlan_conn(1)})
        assert kind == "result", res
    # The same over REST; the refused one left no interface behind.
    full(c.http("POST", "/v1/connections", {"connection": vlan_conn(3)}), "connection.id",
         "connection table is full")
    names = {i["name"] for i in c.ok("GET", "/v1/interfaces")}
    assert names == {"a", "b", "a.100", "a.101"}, names
    for i in range(2):
        c.ok("DELETE", f"/v1/connections/lim-{i}")


def test_wireguard_interfaces(gw):
    _, c = gw
    made = []
    try:
        for i in range(64):
            st, j = c.http("POST", "/v1/wireguard", {
                "name": f"wg{i}", "listen_port": 40000 + i,
                "private_key": "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=", "peers": []})
            if st != 201:
                break
            made.append(f"wg{i}")
        assert len(made) == 32, (len(made), st, j)
        full((st, j), "name", "WireGuard interface table is full", "at most 32")
    finally:
        for n in made:
            c.ok("DELETE", f"/v1/wireguard/{n}")
    assert c.ok("GET", "/v1/wireguard") == []


def test_esp_tunnels(gw):
    _, c = gw
    key = "00112233445566778899aabbccddeeff"
    made = []
    try:
        for i in range(300):
            st, j = c.http("POST", "/v1/esp-tunnels", {
                "name": f"t{i}", "local": "10.0.2.1", "remote": f"10.0.2.{2 + i % 250}",
                "sas": [{"direction": "out", "inner": "ipv4", "spi": 1000 + 2 * i,
                         "algorithm": "aes-gcm-128", "key": key, "salt": "01020304"},
                        {"direction": "in", "inner": "ipv4", "spi": 1001 + 2 * i,
                         "algorithm": "aes-gcm-128", "key": key, "salt": "01020304"}]})
            if st != 201:
                break
            made.append(f"t{i}")
        e = full((st, j), "name" if "tunnel" in json.dumps(j) else "sas", "table is full")
        assert key not in json.dumps(j)
        print(f"\n{len(made)} ESP tunnels, then: {e['message']}")
        assert len(made) >= 200, len(made)
    finally:
        for n in made:
            c.ok("DELETE", f"/v1/esp-tunnels/{n}")


def test_captures(gw):
    _, c = gw
    ids = []
    try:
        for i in range(8):
            ids.append(c.ok("POST", "/v1/captures", {"point": "port:a:rx",
                                                     "file": f"lim{i}.pcapng"})["id"])
        full(c.http("POST", "/v1/captures", {"point": "port:a:rx", "file": "lim9.pcapng"}), "",
             "capture table is full", "8 captures")
    finally:
        for i in ids:
            c.http("POST", f"/v1/captures/{i}/stop")
            c.http("DELETE", f"/v1/captures/{i}")


def test_service_endpoints(gw):
    _, c = gw
    # Endpoints are next hops: here limits.neighbors (16) runs out first, and says so.
    eps = [{"name": f"e{i}", "address": f"fd00:2::{i + 2:x}"} for i in range(20)]
    full(c.http("POST", "/v1/services", {"name": "big", "vips": ["10.0.9.9"], "table_size": 257,
                                         "endpoints": eps}),
         "endpoints[16].address", "neighbor table full", "limits.neighbors = 16")
    assert c.ok("GET", "/v1/services") == []


def test_service_endpoint_table(tmp_path):
    with Meshgate(tmp_path, CONFIG.format(limits="neighbors: 1024"), name="eps") as mg:
        c = Control(mg)
        eps = [{"name": f"e{i}", "address": f"fd00:2::{i + 2:x}"} for i in range(256)]
        c.ok("POST", "/v1/services", {"name": "big", "vips": ["10.0.9.9"], "table_size": 65537,
                                      "endpoints": eps})
        full(c.http("PUT", "/v1/services/big/endpoints/one-more", {"address": "fd00:2::ffff"}),
             "name", "endpoint table of service big is full", "at most 256")
        assert len(c.ok("GET", "/v1/services/big")["endpoints"]) == 256
        # Removing one makes room.
        c.ok("DELETE", "/v1/services/big/endpoints/e0")
        c.ok("PUT", "/v1/services/big/endpoints/one-more", {"address": "fd00:2::ffff"})
        c.ok("DELETE", "/v1/services/big")


def test_service_flow_tables_that_do_not_fit(tmp_path):
    """The first service (or NAT gateway) makes each worker's service flow
    table, limits.service_flows entries: where that does not fit, the refusal
    names the setting, not a field of the request (it said
    "services.flows.capacity" before), and nothing is applied."""
    huge = 1 << 26   # the largest limits.service_flows takes; ~10 GB of tables
    with Meshgate(tmp_path, CONFIG.format(limits=f"service_flows: {huge}"), name="sfl") as mg:
        c = Control(mg)
        st, j = c.http("POST", "/v1/services", {"name": "s", "vips": ["10.0.9.9"],
                                                 "endpoints": [{"name": "e",
                                                                "address": "10.0.2.2"}]})
        # Out of memory is 500 INTERNAL (conf/openapi.yaml), not a full table.
        assert st == 500 and j["error"]["code"] == "INTERNAL", (st, j)
        assert j["error"]["field"] == "limits.service_flows", j
        assert j["error"]["message"] == f"no memory for {huge} flows", j
        assert c.ok("GET", "/v1/services") == []
        c.ok("POST", "/v1/routes", {"prefix": "203.0.113.0/24", "via": "10.0.2.2"})
    # A NAT gateway's flows live in the same tables: the same refusal.
    two = null_config(640, networks=("pods", "uplink"), hugepages=False,
                      port_networks={"a": "pods", "b": "uplink"})
    with Meshgate(tmp_path, two + f"limits: {{service_flows: {huge}}}\n", name="sfg") as mg:
        c = Control(mg)
        st, j = c.http("POST", "/v1/gateways", {"name": "g", "inside": "pods",
                                                 "outside": "uplink", "routes": ["0.0.0.0/0"],
                                                 "ports": "40000-40999"})
        assert st == 500 and j["error"]["field"] == "limits.service_flows", (st, j)
        assert c.ok("GET", "/v1/gateways") == []
    # At start, from the file: the same words (not under services[0] or
    # gateways[0]), and nothing started.
    cfg = tmp_path / "start.yaml"
    for text in (CONFIG.format(limits=f"service_flows: {huge}") + """\
services:
  - {name: s, vips: [10.0.9.9], endpoints: [{name: e, address: 10.0.2.2}]}
""", two + f"""limits: {{service_flows: {huge}}}
gateways:
  - {{name: g, inside: pods, outside: uplink, routes: [0.0.0.0/0], ports: "40000-40999"}}
"""):
        cfg.write_text(text)
        r = subprocess.run([str(MESHGATE), "-c", str(cfg), "--", "--file-prefix",
                            unique("sfl")], capture_output=True, text=True, timeout=60)
        assert r.returncode != 0, r.stderr
        assert f"meshgate: limits.service_flows: no memory for {huge} flows" in r.stderr, \
            r.stderr


def test_gateway_still_serves(gw):
    _, c = gw
    c.ok("POST", "/v1/routes", {"prefix": "203.0.113.0/24", "via": "10.0.2.2"})
    c.ok("DELETE", "/v1/routes/default/203.0.113.0/24")
    assert c.http("GET", "/v1/stats")[0] == 200


def test_fib_full(tmp_path):
    with Meshgate(tmp_path, CONFIG.format(limits="fib_routes: 64"), name="fib") as mg:
        c = Control(mg)
        n = 0
        for i in range(200):
            st, j = c.http("POST", "/v1/routes", {"prefix": f"100.64.{i}.0/24",
                                                  "via": "10.0.2.2"})
            if st != 201:
                break
            n += 1
        full((st, j), "prefix", "the FIB is full", "limits.fib_routes")
        assert 32 <= n < 64, n
        # The refused route is not in the model either; removing one makes room.
        assert {r["prefix"] for r in c.ok("GET", "/v1/routes")} >= {f"100.64.{i}.0/24"
                                                                    for i in range(n)}
        assert f"100.64.{n}.0/24" not in {r["prefix"] for r in c.ok("GET", "/v1/routes")}
        c.ok("DELETE", "/v1/routes/default/100.64.0.0/24")
        c.ok("POST", "/v1/routes", {"prefix": f"100.64.{n}.0/24", "via": "10.0.2.2"})


def test_fib_full_for_a_gateway(tmp_path):
    """A gateway whose routes do not all fit: 507 naming the route that did not,
    and the ones that did taken back (room for them after two more go)."""
    cfg = null_config(640, ports="ab", networks=("pods", "uplink"), hugepages=False,
                      port_networks={"a": "pods", "b": "uplink"}) + "limits: {fib_routes: 64}\n"
    with Meshgate(tmp_path, cfg, name="fibgw") as mg:
        c = Control(mg)
        added = []
        for i in range(200):
            st, j = c.http("POST", "/v1/routes", {"network": "pods", "prefix": f"100.64.{i}.0/24",
                                                  "via": "10.0.1.2"})
            if st != 201:
                break
            added.append(f"100.64.{i}.0/24")
        full((st, j), "prefix", "the FIB is full")
        for p in added[:2]:
            c.ok("DELETE", f"/v1/routes/pods/{p}")
        gw = {"name": "g", "inside": "pods", "outside": "uplink", "ports": "40000-40999",
              "routes": ["198.18.0.0/24", "198.18.1.0/24", "198.18.2.0/24", "198.18.3.0/24"]}
        e = full(c.http("POST", "/v1/gateways", gw), "routes[2]", "gateway g:",
                 "cannot install 198.18.2.0/24: the FIB is full", "limits.fib_routes")
        assert c.ok("GET", "/v1/gateways") == [], e
        for p in added[2:4]:
            c.ok("DELETE", f"/v1/routes/pods/{p}")
        assert c.http("POST", "/v1/gateways", gw)[0] == 201


@pytest.mark.slow
def test_service_ids_are_reused(gw):
    """4096 service ids, but a gateway whose services come and go never runs out:
    more than 4096 services created and deleted one after the other (ids were
    never reused: the 4097th creation failed until restart)."""
    _, c = gw
    body = json.dumps({"name": "churn", "vips": ["10.0.9.1"], "table_size": 7,
                       "endpoints": [{"name": "e", "address": "10.0.2.2"}]})
    h = {"Authorization": f"Bearer {c.token}"}
    conn = http.client.HTTPConnection(c.host, c.port, timeout=30)   # one keep-alive connection
    for i in range(4200):
        for method, path, b, want in (("POST", "/v1/services", body, 201),
                                      ("DELETE", "/v1/services/churn", None, 204)):
            conn.request(method, path, body=b, headers=h)
            r = conn.getresponse()
            text = r.read()
            assert r.status == want, (i, method, r.status, text)
    conn.close()
    assert c.ok("GET", "/v1/services") == []
