# SPDX-License-Identifier: BSD-3-Clause
"""Gateways at run time over REST and meshgatectl: created (POST, PUT),
replaced (PUT), deleted, each checked by the file's own parser (a bad body
gets 400 naming the JSON field, and the running gateways are unchanged),
kept in the durable state across a kill -9 (the file's gateway deleted at
run time stays deleted), and a published service held against deletion."""
import json
import shutil
import subprocess

import pytest

from mgrun import MESHGATECTL, Control, Meshgate, null_config

CONFIG = null_config(768, ports="abc", networks=("pods", "uplink", "ext2"), hugepages=False,
                     port_networks={"a": "pods", "b": "uplink", "c": "ext2"}, ipv6="b") + """\
services:
  - {{name: web, network: pods, vips: [10.0.1.80], mode: nat,
     endpoints: [{{name: w1, address: 10.0.1.2, port: 8080}}]}}
  - {{name: plain, network: pods, vips: [10.0.1.81],
     endpoints: [{{name: p1, address: 10.0.1.3}}]}}
gateways:
  - name: edge
    inside: pods
    outside: uplink
    routes: [0.0.0.0/0]
    sources: [10.0.1.0/24]
    ports: "40000-40999"
    publish: [{{protocol: tcp, port: 443, service: web}}]
control:
  state_dir: {state}
"""

# The durable test: no services in the file (a file service outside the default
# network cannot be set up again on a restart from state, whose networks come later).
DURABLE = CONFIG.split("services:")[0] + """gateways:
  - {{name: edge, inside: pods, outside: uplink, routes: [0.0.0.0/0], ports: "40000-40999"}}
control:
  state_dir: {state}
"""

GW2 = {"name": "gw2", "inside": "pods", "outside": "ext2", "routes": ["198.51.100.0/24"],
       "ports": "50000-50999"}


@pytest.fixture
def gw(tmp_path, request):
    config = DURABLE if "survive" in request.node.name else CONFIG
    mg = Meshgate(tmp_path, config.format(state=tmp_path / "state"), name="gwrest")
    try:
        mg.start()
        yield mg, Control(mg)
    finally:
        mg.kill()
        shutil.rmtree(f"/var/run/dpdk/{mg.prefix}", ignore_errors=True)


def ctl(mg, *args, stdin=None):
    return subprocess.run([str(MESHGATECTL), "-p", mg.prefix, *args], capture_output=True,
                          text=True, timeout=20, input=stdin)


def configs(rest):
    """The gateways as asked for (what survives a restart), by name."""
    return {g["name"]: g["config"] for g in rest.ok("GET", "/v1/gateways")}


def test_gateway_crud_and_bad_inputs(gw):
    mg, rest = gw
    st, j = rest.http("POST", "/v1/gateways", GW2)
    assert st == 201, j
    # The masquerade address defaults to the outside's first address; defaults filled in.
    assert j["snat4"] == "10.0.3.1" and j["inside"] == "pods" and j["outside"] == "ext2"
    assert j["snat_ports"]["first"] == 50000 and j["snat_ports"]["free"] == 1000
    assert j["config"]["ports"] == "50000-50999" and j["config"]["routes"] == ["198.51.100.0/24"]
    assert sorted(configs(rest)) == ["edge", "gw2"]
    st, j = rest.http("POST", "/v1/gateways", GW2)
    assert st == 409 and j["error"]["field"] == "name", j

    # PUT replaces: new routes, a published service; the name may be left out.
    body = dict(GW2, routes=["198.51.100.0/24", "203.0.113.0/24"],
                publish=[{"protocol": "tcp", "port": 8443, "service": "web"}])
    del body["name"]
    st, j = rest.http("PUT", "/v1/gateways/gw2", body)
    assert st == 200, j
    assert j["routes"] == ["198.51.100.0/24", "203.0.113.0/24"]
    assert j["publish"] == [{"address": "10.0.3.1", "protocol": "tcp", "port": 8443,
                             "service": "web"}]
    # PUT of a new name creates.
    st, j = rest.http("PUT", "/v1/gateways/gw3", dict(GW2, name="gw3", ports="51000-51999", routes=["192.0.2.128/25"]))
    assert st == 201, j

    before = rest.ok("GET", "/v1/gateways")
    bad = [
        ({"snat4": "fd00::1"}, "snat4"),
        ({"snat4": 4}, "snat4"),
        ({"ports": "10-20"}, "ports"),
        ({"inside": "nonet"}, "inside"),
        ({"outside": "pods"}, ""),  # inside and outside must differ
        ({"routes": "0.0.0.0/0"}, "routes"),
        ({"routes": ["10.0.0.1/8"]}, "routes[0]"),
        ({"ipv6": "bogus"}, "ipv6"),
        ({"port_preserve": "yes"}, "port_preserve"),
        ({"publish": [{"protocol": "tcp", "port": 0, "service": "web"}]}, "publish[0].port"),
        ({"publish": [{"protocol": "tcp", "port": 80, "service": "nope"}]},
         "publish[0].service"),
        # A route-mode service cannot be published.
        ({"publish": [{"protocol": "tcp", "port": 80, "service": "plain"}]},
         "publish[0].service"),
        ({"colour": "blue"}, "colour"),
        # Same outside address as edge with overlapping ports.
        ({"outside": "uplink", "ports": "40500-41500"}, "ports"),
        ({"name": "other"}, "name"),
    ]
    for change, field in bad:
        st, j = rest.http("PUT", "/v1/gateways/gw2", dict(GW2, **change))
        assert st == 400, (change, st, j)
        assert j["error"]["field"] == field, (change, j)
        assert j["error"]["message"], j
        # The field is named; no "body:1:1" from the parser of our own JSON.
        assert not j["error"]["message"].startswith("body:"), j
    st, j = rest.http("PUT", "/v1/gateways/gw2", raw="{not json")
    assert st == 400
    st, j = rest.http("PUT", "/v1/gateways/gw2", ["a", "list"])
    assert st == 400 and "object" in j["error"]["message"], j
    st, j = rest.http("POST", "/v1/gateways", {"inside": "pods", "outside": "ext2"})
    assert st == 400 and j["error"]["field"] == "name"
    # Nothing of the rejected requests shows: the gateways are as they were.
    assert rest.ok("GET", "/v1/gateways") == before

    # A published service is held: its deletion is refused until the gateway changes.
    st, j = rest.http("DELETE", "/v1/services/web")
    assert st == 409 and "edge" in j["error"]["message"], j

    assert rest.http("DELETE", "/v1/gateways/gw3")[0] == 204
    st, j = rest.http("GET", "/v1/gateways/gw3")
    assert st == 404 and j["error"]["field"] == "name"
    assert rest.http("DELETE", "/v1/gateways/gw3")[0] == 404
    assert rest.http("PATCH", "/v1/gateways/gw2")[0] == 405


def test_one_owner_per_prefix(gw):
    """A VIP or gateway route is one object's: a second service or gateway on the
    same prefix of the same network is refused (409 naming the field and the
    owner), so deleting one can never leave the other's traffic on a freed
    adjacency; a gateway replaced with its own routes keeps them."""
    mg, rest = gw
    services, gateways = rest.ok("GET", "/v1/services"), rest.ok("GET", "/v1/gateways")
    gw4 = {"name": "gw4", "inside": "pods", "outside": "ext2", "ports": "53000-53999"}
    refused = [
        ("/v1/gateways", dict(gw4, routes=["192.0.2.0/24", "0.0.0.0/0"]), "routes[1]",
         "route 0.0.0.0/0 is already gateway edge's"),
        ("/v1/gateways", dict(gw4, routes=["10.0.1.80/32"]), "routes[0]",
         "10.0.1.80/32 is already routed to another service or gateway"),
        ("/v1/services", {"name": "web2", "network": "pods", "vips": ["10.0.1.99", "10.0.1.80"],
                          "endpoints": [{"name": "e", "address": "10.0.1.4"}]}, "vips[1]",
         "VIP 10.0.1.80 is already service web's"),
        # meshgate's own address: its local route would outrank the VIP's.
        ("/v1/services", {"name": "web2", "network": "pods", "vips": ["10.0.1.99", "10.0.1.1"],
                          "endpoints": [{"name": "e", "address": "10.0.1.4"}]}, "vips[1]",
         "VIP 10.0.1.1 is an address of interface a"),
    ]
    for path, body, field, msg in refused:
        st, j = rest.http("POST", path, body)
        assert st == 409 and j["error"]["field"] == field, (body, st, j)
        assert msg in j["error"]["message"], j
    assert rest.ok("GET", "/v1/services") == services
    assert rest.ok("GET", "/v1/gateways") == gateways
    # And the other way round: an address that is a VIP of its network.
    rest.ok("POST", "/v1/services", {"name": "v9", "network": "pods", "vips": ["10.9.9.9"],
                                     "endpoints": [{"name": "e", "address": "10.0.1.4"}]})
    before = rest.ok("GET", "/v1/interfaces")
    st, j = rest.http("POST", "/v1/interfaces/a/addresses", {"address": "10.9.9.9/24"})
    assert st == 409 and j["error"]["field"] == "address", j
    assert j["error"]["message"] == \
        "10.9.9.9 is a service's VIP (or a gateway's route) in this network", j
    assert rest.ok("GET", "/v1/interfaces") == before
    assert rest.http("DELETE", "/v1/services/v9")[0] == 204
    assert rest.ok("POST", "/v1/interfaces/a/addresses", {"address": "10.9.9.9/24"})
    assert rest.http("DELETE", "/v1/interfaces/a/addresses/10.9.9.9")[0] == 204
    # A gateway's /32 route taken by a service VIP, and the other way round.
    rest.ok("POST", "/v1/gateways", dict(gw4, routes=["10.0.1.77/32"]))
    st, j = rest.http("POST", "/v1/services", {"name": "web3", "network": "pods",
                                               "vips": ["10.0.1.77"],
                                               "endpoints": [{"name": "e", "address": "10.0.1.4"}]})
    assert st == 409 and j["error"]["field"] == "vips[0]", j
    assert "10.0.1.77/32 is already routed to another service or gateway" in j["error"]["message"]
    # Replaced with the same routes (and new ports): accepted, and the routes stay
    # its own: another gateway still cannot take them.
    st, j = rest.http("PUT", "/v1/gateways/gw4", dict(gw4, routes=["10.0.1.77/32"],
                                                      ports="54000-54999"))
    assert st == 200, j
    st, j = rest.http("PUT", "/v1/gateways/gw5", dict(gw4, name="gw5", routes=["10.0.1.77/32"],
                                                      ports="55000-55999"))
    assert st == 409 and "already gateway gw4's" in j["error"]["message"], j
    # Deleted: the prefix is free for a service.
    assert rest.http("DELETE", "/v1/gateways/gw4")[0] == 204
    rest.ok("POST", "/v1/services", {"name": "web3", "network": "pods", "vips": ["10.0.1.77"],
                                     "endpoints": [{"name": "e", "address": "10.0.1.4"}]})


def test_meshgatectl_gateway_verbs(gw, tmp_path):
    mg, rest = gw
    f = tmp_path / "gw2.json"
    f.write_text(json.dumps(GW2))
    r = ctl(mg, "gateway", "add", str(f))
    assert r.returncode == 0, r.stderr
    assert "gw2" in ctl(mg, "gateways").stdout
    # set NAME FILE|- replaces (from standard input here).
    r = ctl(mg, "--json", "gateway", "set", "gw2", "-",
            stdin=json.dumps(dict(GW2, sources=["10.0.1.0/25"])))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["sources"] == ["10.0.1.0/25"]
    assert rest.ok("GET", "/v1/gateways/gw2")["sources"] == ["10.0.1.0/25"]
    # A refused change: exit 1 and REST's field on stderr; nothing changed.
    r = ctl(mg, "gateway", "set", "gw2", "-", stdin=json.dumps(dict(GW2, snat4="x")))
    assert r.returncode == 1 and "snat4" in r.stderr, (r.returncode, r.stderr)
    assert rest.ok("GET", "/v1/gateways/gw2")["sources"] == ["10.0.1.0/25"]
    r = ctl(mg, "gateway", "del", "gw2")
    assert r.returncode == 0, r.stderr
    assert rest.http("GET", "/v1/gateways/gw2")[0] == 404
    r = ctl(mg, "gateway", "del", "gw2")
    assert r.returncode == 1 and "name" in r.stderr


def test_gateways_survive_kill(gw):
    mg, rest = gw
    rest.ok("POST", "/v1/gateways", GW2)
    rest.ok("PUT", "/v1/gateways/gw3", dict(GW2, name="gw3", ports="51000-51999", routes=["192.0.2.128/25"]))
    rest.ok("PUT", "/v1/gateways/gw2", dict(GW2, routes=["192.0.2.0/25"], port_preserve=True))
    rest.ok("DELETE", "/v1/gateways/gw3")
    # The file's gateway, replaced and then deleted: the file must not bring it back.
    rest.ok("PUT", "/v1/gateways/edge", dict(GW2, name="edge", ports="52000-52999"))
    rest.ok("DELETE", "/v1/gateways/edge")
    want = configs(rest)
    assert sorted(want) == ["gw2"]
    for _ in range(2):  # from the journal, then from the snapshot written at start
        mg.kill()
        mg.start()
        rest = Control(mg)
        assert configs(rest) == want
    # Replaced once more, and the change survives too.
    rest.ok("PUT", "/v1/gateways/edge", dict(GW2, name="edge", outside="uplink"))
    want = configs(rest)
    mg.kill()
    mg.start()
    assert configs(Control(mg)) == want
