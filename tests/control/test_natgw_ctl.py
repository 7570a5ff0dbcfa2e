# SPDX-License-Identifier: BSD-3-Clause
"""meshgatectl's gateway commands against a live meshgate with a gateway:
`gateways` (a table), `gateway show NAME`, `nat`, their --json forms equal
to REST, and an unknown gateway refused with REST's error."""
import json
import shutil
import subprocess

import pytest

from mgrun import MESHGATECTL, Control, Meshgate, null_config

CONFIG = null_config(768, ports="ab", networks=("pods", "uplink"), hugepages=False,
                     port_networks={"a": "pods", "b": "uplink"}, ipv6="b") + """\
services:
  - {name: web, network: pods, vips: [10.0.1.80], mode: nat,
     endpoints: [{name: w1, address: 10.0.1.2, port: 8080}]}
gateways:
  - name: edge
    inside: pods
    outside: uplink
    routes: [0.0.0.0/0]
    sources: [10.0.1.0/24]
    ports: "40000-40999"
    publish: [{protocol: tcp, port: 443, service: web}]
"""


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    d = tmp_path_factory.mktemp("ngctl")
    mg = Meshgate(d, CONFIG, name="ngctl")
    try:
        mg.start()
        yield mg, Control(mg)
    except BaseException:
        mg.kill()
        shutil.rmtree(f"/var/run/dpdk/{mg.prefix}", ignore_errors=True)
        raise
    mg.stop()


def ctl(mg, *args):
    return subprocess.run([str(MESHGATECTL), "-p", mg.prefix, *args], capture_output=True,
                          text=True, timeout=20)


def test_gateway_commands(gw):
    mg, rest = gw
    r = ctl(mg, "gateways")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().split("\n")
    assert lines[0].split() == ["name", "inside", "outside", "snat4", "snat6", "ipv6",
                                "ports-free", "published"]
    # snat6 defaults to the outside's IPv6 address; one publish entry per family.
    assert lines[1].split() == ["edge", "pods", "uplink", "10.0.2.1", "fd00:2::1", "nat66",
                                "1000", "2"]
    st, want = rest.http("GET", "/v1/gateways")
    assert st == 200
    assert json.loads(ctl(mg, "--json", "gateways").stdout) == want
    one = json.loads(ctl(mg, "--json", "gateway", "show", "edge").stdout)
    assert one == want[0] and one["routes"] == ["0.0.0.0/0"]
    assert one["sources"] == ["10.0.1.0/24"]
    assert {p["address"] for p in one["publish"]} == {"10.0.2.1", "fd00:2::1"}
    r = ctl(mg, "gateway", "show", "edge")
    assert r.returncode == 0 and "\nsnat4:      10.0.2.1\n" in r.stdout, r.stdout
    r = ctl(mg, "gateway", "show", "nope")
    assert r.returncode == 1 and "no gateway" in r.stderr and "HTTP 404" in r.stderr
    nat = json.loads(ctl(mg, "--json", "nat").stdout)
    st, want = rest.http("GET", "/v1/nat")
    assert nat == want and nat["snat_flows"] == 0 and "handoffs" in nat
    r = ctl(mg, "nat")
    assert r.returncode == 0
    got = {l.split()[0]: l.split()[1:] for l in r.stdout.splitlines() if l.strip()}
    assert got.get("snat-flows:") == ["0"] and "handoff-drops:" in got, r.stdout
