# SPDX-License-Identifier: BSD-3-Clause
"""meshgatectl against a live meshgate: every command over REST and the NSM
socket, in human and --json form, checked against what REST itself returns;
every error path (the gateway refuses, a usage error, the gateway cannot be
reached) with its documented message and exit status; and the HTTP and NSM
clients against small fake servers for what meshgate never sends (chunked
bodies, bodies ended by close, IPv6, refusals)."""
import json
import os
import pathlib
import queue
import shutil
import socket
import subprocess
import threading
import time
import types

import pytest

from mgrun import null_config, MESHGATECTL, Control, Meshgate, unique

CONFIG = null_config(512, hugepages=False) + """neighbors:
  - {interface: a, ip: 10.0.1.2, mac: "02:00:00:00:0a:02"}
  - {interface: a, ip: "fd00:1::2", mac: "02:00:00:00:0a:02"}
  - {interface: b, ip: 10.0.2.2, mac: "02:00:00:00:0b:02"}
routes:
  - {prefix: 198.51.100.0/24, via: 10.0.2.2}
  - {prefix: "2001:db8:100::/48", via: "fd00:1::2"}
"""

# A VLAN connection on port b: our side 10.8.0.1, the client 10.8.0.2.
REQUEST = {"connection": {
    "id": "conn-t1", "network_service": "default",
    "mechanism": {"cls": "REMOTE", "type": "VLAN",
                  "parameters": {"base": "b", "vlan-id": "300"}},
    "context": {"ip_context": {"dst_ip_addrs": ["10.8.0.1/24"],
                               "src_ip_addrs": ["10.8.0.2/24"]}}}}

# Members whose values move on their own (counters, ages) are left out of comparisons.
VOLATILE = {"counters", "metrics", "age_ms"}


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    d = tmp_path_factory.mktemp("mgctl")
    mg = Meshgate(d, CONFIG, name="ctl")
    try:
        mg.start()
        g = types.SimpleNamespace(mg=mg, rest=Control(mg), dir=d, outputs=[])
        (d / "token").write_text(g.rest.token + "\n")
        (d / "bad-token").write_text("not-the-token-0123456789\n")
    except BaseException:
        mg.kill()
        shutil.rmtree(f"/var/run/dpdk/{mg.prefix}", ignore_errors=True)
        raise
    yield g
    mg.stop()


def ctl(g, *args, input=None, env=None, prefix=True, timeout=20):
    """Run meshgatectl (with -p PREFIX of the gateway unless told not to)."""
    cmd = [str(MESHGATECTL)] + (["-p", g.mg.prefix] if prefix else []) + [str(a) for a in args]
    e = dict(os.environ)
    e.pop("MESHGATE_TOKEN_FILE", None)
    e.update(env or {})
    r = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, env=e)
    g.outputs.append(r.stdout + r.stderr)
    return r


def ok(g, *args, **kw):
    r = ctl(g, *args, **kw)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    assert r.stderr == "", (args, r.stderr)
    return r.stdout


def stable(j):
    if isinstance(j, dict):
        return {k: stable(v) for k, v in j.items() if k not in VOLATILE}
    if isinstance(j, list):
        return [stable(v) for v in j]
    return j


def get(g, path):
    st, j = g.rest.http("GET", path)
    assert st == 200, (path, st, j)
    return j


def rows(text):
    """A table's header words and its rows, split on white space."""
    lines = text.rstrip("\n").split("\n")
    return lines[0].split(), [l.split() for l in lines[1:]]


def kv(text):
    """Top-level "key: value" lines of a single object."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith(" "):
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def expected_error(g, method, path, body=None):
    """The line meshgatectl prints for what REST answers to this request."""
    st, j = g.rest.http(method, path, body)
    assert st >= 400, (method, path, st, j)
    e = j["error"]
    field = f"{e['field']}: " if e["field"] else ""
    return j, f"meshgatectl: {field}{e['message']} (HTTP {st})\n"


# ---- help ------------------------------------------------------------------------------------

def test_help_lists_commands_and_exit_statuses(gw):
    out = ok(gw, "--help", prefix=False)
    for cmd in ("stats", "networks", "network add NAME", "port add NAME DEVICE",
                "vlan add PORT ID", "address add IFACE PREFIX", "route replace PREFIX",
                "route show", "neighbor add IFACE IP MAC", "connection close ID",
                "batch FILE|-", "metrics", "rest GET|POST|PUT|DELETE PATH",
                "nsm request FILE|-", "nsm close ID|FILE|-", "nsm monitor [--once] [--id ID]"):
        assert "\n  " + cmd in out, cmd
    assert "meshgatectl: FIELD: MESSAGE (HTTP 400)" in out
    for status in ("  0  done", "  1  the gateway refused", "  2  usage error",
                   "  3  the gateway cannot be reached"):
        assert status in out
    r = ctl(gw, prefix=False)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.startswith("usage: meshgatectl")


# ---- lists and single objects ------------------------------------------------------------------

def test_lists_match_rest(gw):
    for cmd in ("networks", "ports", "interfaces", "routes", "neighbors", "connections"):
        assert stable(json.loads(ok(gw, "--json", cmd))) == stable(get(gw, f"/v1/{cmd}")), cmd
        # A noun alone lists as well.
        assert stable(json.loads(ok(gw, "--json", cmd[:-1]))) == stable(get(gw, f"/v1/{cmd}"))

    head, body = rows(ok(gw, "networks"))
    assert head == ["name", "fragments", "ip-options", "interfaces", "routes"]
    assert body == [[n["name"], n["fragments"], n["ip_options"], str(n["interfaces"]),
                     str(n["routes"])] for n in get(gw, "/v1/networks")]

    head, body = rows(ok(gw, "ports"))
    assert head == ["name", "ethdev", "network", "mac", "mtu", "rx-packets", "tx-packets",
                    "vlans", "device"]
    want = get(gw, "/v1/ports")
    assert [r[0] for r in body] == ["a", "b"]
    for r, p in zip(body, want):
        i = p["interface"]
        assert r[:5] == [p["name"], str(p["ethdev"]), i["network"], i["mac"], str(i["mtu"])]
        assert r[-1] == p["device"] and r[-2] == (",".join(p["vlans"]) or "-")

    head, body = rows(ok(gw, "interfaces"))
    assert head[:5] == ["name", "kind", "network", "mtu", "mac"] and head[-1] == "addresses"
    for r, i in zip(body, get(gw, "/v1/interfaces")):
        assert r[:5] == [i["name"], i["kind"], i["network"], str(i["mtu"]), i["mac"]]
        assert r[8:] == (i["ipv4"] + i["ipv6"] or ["-"])
    assert body[0][8:] == ["10.0.1.1/24", "fd00:1::1/64"]

    head, body = rows(ok(gw, "routes"))
    assert head == ["network", "prefix", "via", "interface", "action"]
    assert body == [[r["network"], r["prefix"], r.get("via", "-"), r.get("interface", "-"),
                     r["action"]] for r in get(gw, "/v1/routes")]
    assert ["default", "198.51.100.0/24", "10.0.2.2", "b", "forward"] in body

    head, body = rows(ok(gw, "neighbors"))
    assert head == ["interface", "ip", "mac", "state", "refs", "held", "age-ms"]
    assert [r[:4] for r in body] == [[n["interface"], n["ip"], n["mac"], n["state"]]
                                     for n in get(gw, "/v1/neighbors")]
    assert ["a", "fd00:1::2", "02:00:00:00:0a:02", "static"] in [r[:4] for r in body]

    head, body = rows(ok(gw, "connections"))
    assert head == ["id", "state", "service", "mechanism", "local", "remote", "expires"]
    assert body == []


def test_show_single_objects(gw):
    for args, path in ((["network", "show", "default"], "/v1/networks/default"),
                       (["port", "show", "a"], "/v1/ports/a"),
                       (["interface", "show", "b"], "/v1/interfaces/b"),
                       (["route", "show", "198.51.100.0/24"],
                        "/v1/routes/default/198.51.100.0/24"),
                       (["route", "show", "default", "2001:db8:100::/48"],
                        "/v1/routes/default/2001:db8:100::/48"),
                       (["route", "show", "2001:db8:100::/48", "network", "default"],
                        "/v1/routes/default/2001:db8:100::/48")):
        want = get(gw, path)
        assert stable(json.loads(ok(gw, "--json", *args))) == stable(want), args
        human = kv(ok(gw, *args))
        for k, v in want.items():
            if not isinstance(v, (dict, list)):
                assert human[k.replace("_", "-")] == str(v), (args, k)
    port = ok(gw, "port", "show", "a")
    assert "\ninterface:\n  name:       a\n" in port
    assert "  ipv4:       10.0.1.1/24\n" in port and "  link-local: fe80::" in port
    assert "\n  counters:\n    rx-packets: " in port


# ---- changes --------------------------------------------------------------------------------------

def test_network_port_vlan_address_route_neighbor_lifecycle(gw):
    assert ok(gw, "network", "add", "blue", "fragments", "drop") == ""
    assert get(gw, "/v1/networks/blue")["fragments"] == "drop"
    assert get(gw, "/v1/networks/blue")["ip_options"] == "forward"

    out = ok(gw, "--json", "port", "add", "c", "net_null7,no-rx=1", "network", "blue",
             "mac", "02:00:00:00:0c:01", "mtu", "9000")
    p = get(gw, "/v1/ports/c")
    assert stable(json.loads(out)) == stable(p)
    assert (p["device"], p["network"], p["mac"], p["mtu"]) == \
        ("net_null7,no-rx=1", "blue", "02:00:00:00:0c:01", 9000)

    assert ok(gw, "vlan", "add", "c", "200", "network", "default", "mtu", "1400") == ""
    v = get(gw, "/v1/interfaces/c.200")
    assert (v["kind"], v["port"], v["vlan"], v["network"], v["mtu"]) == \
        ("vlan", "c", 200, "default", 1400)
    assert get(gw, "/v1/ports/c")["vlans"] == ["c.200"]

    assert ok(gw, "address", "add", "c.200", "10.20.0.1/24") == ""
    out = ok(gw, "--json", "address", "add", "c.200", "fd00:20::1/64")
    assert json.loads(out)["address"] == "fd00:20::1/64"
    v = get(gw, "/v1/interfaces/c.200")
    assert v["ipv4"] == ["10.20.0.1/24"] and v["ipv6"] == ["fd00:20::1/64"]
    _, body = rows(ok(gw, "interfaces"))
    assert ["c.200", "vlan", "default", "1400", "02:00:00:00:0c:01", "0", "0", "0",
            "10.20.0.1/24", "fd00:20::1/64"] in body

    assert ok(gw, "neighbor", "add", "c.200", "10.20.0.2", "02:00:00:00:0c:02") == ""
    assert ok(gw, "neighbor", "add", "c.200", "fd00:20::2", "02:00:00:00:0c:02") == ""
    nb = [(n["interface"], n["ip"], n["mac"]) for n in get(gw, "/v1/neighbors")]
    assert ("c.200", "10.20.0.2", "02:00:00:00:0c:02") in nb
    assert ("c.200", "fd00:20::2", "02:00:00:00:0c:02") in nb

    # Routes: via, an action word, replace (of one there and of one not yet there).
    assert ok(gw, "route", "add", "10.30.0.0/16", "via", "10.20.0.2") == ""
    r = get(gw, "/v1/routes/default/10.30.0.0/16")
    assert (r["via"], r["interface"], r["action"]) == ("10.20.0.2", "c.200", "forward")
    assert ok(gw, "route", "add", "10.31.0.0/16", "drop", "network", "blue") == ""
    assert get(gw, "/v1/routes/blue/10.31.0.0/16")["action"] == "drop"
    out = ok(gw, "--json", "route", "replace", "10.31.0.0/16", "network", "blue", "unreachable")
    assert json.loads(out) == get(gw, "/v1/routes/blue/10.31.0.0/16")
    assert json.loads(out)["action"] == "unreachable"
    assert ok(gw, "route", "replace", "fd00:99::/64", "via", "fd00:20::2") == ""
    assert get(gw, "/v1/routes/default/fd00:99::/64")["interface"] == "c.200"
    # With dev and no network, the route is in the network of its interface ("c" is in blue).
    assert ok(gw, "route", "replace", "10.32.0.0/16", "dev", "c") == ""
    r = get(gw, "/v1/routes/blue/10.32.0.0/16")
    assert (r["interface"], r["action"]) == ("c", "forward")
    head, body = rows(ok(gw, "routes", "network", "blue"))
    assert sorted(body) == [["blue", "10.31.0.0/16", "-", "-", "unreachable"],
                            ["blue", "10.32.0.0/16", "-", "c", "forward"]]
    assert stable(json.loads(ok(gw, "--json", "routes", "network", "blue"))) == \
        get(gw, "/v1/routes?network=blue")

    assert ok(gw, "route", "del", "10.32.0.0/16", "dev", "c") == ""
    assert ok(gw, "route", "delete", "10.31.0.0/16", "network", "blue") == ""
    assert ok(gw, "route", "del", "fd00:99::/64") == ""
    assert ok(gw, "route", "del", "10.30.0.0/16") == ""
    assert get(gw, "/v1/routes?network=blue") == []
    assert gw.rest.http("GET", "/v1/routes/default/10.30.0.0/16")[0] == 404

    assert ok(gw, "neighbor", "del", "c.200", "10.20.0.2") == ""
    assert ok(gw, "neighbor", "delete", "c.200", "fd00:20::2", "02:00:00:00:0c:02") == ""
    assert not [n for n in get(gw, "/v1/neighbors") if n["interface"] == "c.200"]
    assert ok(gw, "address", "del", "c.200", "10.20.0.1/24") == ""
    assert ok(gw, "address", "del", "c.200", "fd00:20::1") == ""
    v = get(gw, "/v1/interfaces/c.200")
    assert v["ipv4"] == [] and v["ipv6"] == []

    assert ok(gw, "vlan", "del", "c.200") == ""
    assert gw.rest.http("GET", "/v1/interfaces/c.200")[0] == 404
    assert ok(gw, "vlan", "add", "c", "201") == ""
    assert ok(gw, "vlan", "delete", "c", "201") == ""
    assert ok(gw, "port", "del", "c") == ""
    assert gw.rest.http("GET", "/v1/ports/c")[0] == 404
    assert ok(gw, "network", "del", "blue") == ""
    assert [n["name"] for n in get(gw, "/v1/networks")] == ["default"]


def test_batch_from_file_stdin_and_bare_list(gw):
    add = {"operations": [
        {"op": "add", "route": {"prefix": "10.40.0.0/16", "via": "10.0.2.2"}},
        {"op": "add", "neighbor": {"interface": "b", "ip": "10.0.2.9",
                                   "mac": "02:00:00:00:0b:09"}}]}
    f = gw.dir / "batch.json"
    f.write_text(json.dumps(add))
    assert ok(gw, "batch", f) == "applied 2 operations\n"
    assert get(gw, "/v1/routes/default/10.40.0.0/16")["via"] == "10.0.2.2"
    assert "10.0.2.9" in [n["ip"] for n in get(gw, "/v1/neighbors")]
    # A failing batch changes nothing: the second operation names a route that is not there.
    bad = [{"op": "delete", "route": {"prefix": "10.40.0.0/16"}},
           {"op": "delete", "route": {"prefix": "10.41.0.0/16"}}]
    j, line = expected_error(gw, "POST", "/v1/batch", {"operations": bad})
    r = ctl(gw, "batch", "-", input=json.dumps(bad))
    assert (r.returncode, r.stdout, r.stderr) == (1, "", line)
    assert "operations[1]" in line
    assert get(gw, "/v1/routes/default/10.40.0.0/16")["via"] == "10.0.2.2"
    out = ok(gw, "--json", "batch", "-", input=json.dumps(bad[:1] + [
        {"op": "delete", "neighbor": {"interface": "b", "ip": "10.0.2.9"}}]))
    assert json.loads(out) == {"applied": 2}
    assert gw.rest.http("GET", "/v1/routes/default/10.40.0.0/16")[0] == 404
    assert "10.0.2.9" not in [n["ip"] for n in get(gw, "/v1/neighbors")]


def test_metrics_and_raw_rest(gw):
    out = ok(gw, "metrics")
    st, text = gw.rest.http("GET", "/metrics")
    assert st == 200
    types_ = lambda t: sorted(l for l in t.splitlines() if l.startswith("# TYPE"))  # noqa: E731
    assert types_(out) == types_(text) and types_(out)
    assert 'meshgate_port_rx_packets_total{port="a"}' in out

    assert json.loads(ok(gw, "rest", "GET", "/v1/networks")) == get(gw, "/v1/networks")
    out = ok(gw, "rest", "post", "/v1/networks", '{"name": "green"}')
    assert json.loads(out)["name"] == "green" and get(gw, "/v1/networks/green")
    assert ok(gw, "rest", "DELETE", "/v1/networks/green") == ""
    assert gw.rest.http("GET", "/v1/networks/green")[0] == 404
    body = gw.dir / "route.json"
    body.write_text('{"prefix": "10.60.0.0/16", "via": "10.0.2.2"}')
    out = ok(gw, "rest", "PUT", "/v1/routes/default/10.60.0.0/16", f"@{body}")
    assert json.loads(out) == get(gw, "/v1/routes/default/10.60.0.0/16")
    assert ok(gw, "rest", "DELETE", "/v1/routes/default/10.60.0.0/16", input="") == ""
    out = ok(gw, "rest", "POST", "/v1/batch", "-",
             input='{"operations": [{"op": "add", "route": {"prefix": "10.61.0.0/16", '
                   '"via": "10.0.2.2"}}, {"op": "delete", "route": {"prefix": "10.61.0.0/16"}}]}')
    assert json.loads(out) == {"applied": 2}
    assert gw.rest.http("GET", "/v1/routes/default/10.61.0.0/16")[0] == 404


def test_telemetry_commands_still_work(gw):
    out = ok(gw, "stats")
    assert out.startswith("port ") and "\na " in out and "\nb " in out
    assert "port-rx" in out and "drop reason" in out and "\nworkers " in out
    j = json.loads(ok(gw, "--json", "stats"))
    assert sorted(j) == ["drops", "gateway", "nodes", "ports"] and sorted(j["ports"]) == ["a", "b"]
    assert sorted(json.loads(ok(gw, "--json", "stats", "ports", "drops"))) == ["drops", "ports"]
    assert ok(gw, "nodes").startswith("node ")
    assert "\nno-route " in ok(gw, "drops", "--all")
    assert "\nno-route " not in ok(gw, "drops")
    assert sorted(json.loads(ok(gw, "raw", "/meshgate/stats"))) == \
        sorted(gw.mg.telemetry("/meshgate/stats"))
    # An unknown telemetry command (DPDK answers null) is an error, not an empty line.
    r = ctl(gw, "raw", "/nosuch")
    assert r.returncode == 1 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    assert "/nosuch: not a telemetry command" in r.stderr, r.stderr


# ---- NSM ------------------------------------------------------------------------------------------

class Lines:
    """The stdout of a running meshgatectl, line by line."""

    def __init__(self, g, *args):
        cmd = [str(MESHGATECTL), "-p", g.mg.prefix] + list(args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.q = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.q.put(line)

    def until(self, pred, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            try:
                line = self.q.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if pred(line):
                return line
        raise AssertionError(f"not seen in time; got {self.seen!r}")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def nsm_expected(g, method, params):
    kind, e = g.rest.nsm(method, params)
    assert kind == "error", e
    field = f"{e['field']}: " if e["field"] else ""
    return e, f"meshgatectl: {field}{e['message']} (NSM {e['code']})\n"


def test_nsm_request_monitor_close(gw):
    req = gw.dir / "req.json"
    req.write_text(json.dumps(REQUEST))
    mon = Lines(gw, "nsm", "monitor")
    monj = Lines(gw, "--json", "nsm", "monitor", "--id", "conn-t1")
    try:
        assert mon.until(lambda l: True) == "INITIAL_STATE_TRANSFER: 0 connections\n"
        assert json.loads(monj.until(lambda l: True)) == \
            {"type": "INITIAL_STATE_TRANSFER", "connections": {}}

        out = ok(gw, "nsm", "request", req)
        human = kv(out)
        assert (human["id"], human["state"], human["network-service"]) == \
            ("conn-t1", "UP", "default")
        assert "    vlan-id: 300\n" in out and "token" not in out
        k = get(gw, "/v1/connections/conn-t1")
        assert k["mechanism"]["parameters"] == {"base": "b", "vlan-id": "300"}
        assert get(gw, "/v1/interfaces/b.300")["ipv4"] == ["10.8.0.1/24"]
        assert stable(json.loads(ok(gw, "--json", "connection", "show", "conn-t1"))) == stable(k)
        show = ok(gw, "connection", "show", "conn-t1")
        assert kv(show)["state"] == "UP" and "token" not in show
        assert stable(json.loads(ok(gw, "--json", "connections"))) == \
            stable(get(gw, "/v1/connections"))
        _, body = rows(ok(gw, "connections"))
        seg = k["path"]["path_segments"][k["path"]["index"]]
        assert body == [["conn-t1", "UP", "default", "VLAN", "b.300", "10.8.0.1/24",
                         "10.8.0.2/24", seg["expires"]]]

        out = ok(gw, "nsm", "monitor", "--once")
        assert out == ("INITIAL_STATE_TRANSFER: 1 connection\n"
                       "  conn-t1 UP service default mechanism VLAN b.300 local 10.8.0.1/24 "
                       f"remote 10.8.0.2/24 expires {seg['expires']}\n")
        assert ok(gw, "nsm", "monitor", "--once", "--id", "other") == \
            "INITIAL_STATE_TRANSFER: 0 connections\n"
        j = json.loads(ok(gw, "--json", "nsm", "monitor", "--once"))
        assert j["type"] == "INITIAL_STATE_TRANSFER" and list(j["connections"]) == ["conn-t1"]

        # The same request again (from standard input) refreshes the connection.
        res = json.loads(ok(gw, "--json", "nsm", "request", "-", input=json.dumps(REQUEST)))
        assert res["id"] == "conn-t1" and res["state"] == "UP"

        assert ok(gw, "nsm", "close", "conn-t1") == ""
        assert gw.rest.http("GET", "/v1/connections/conn-t1")[0] == 404
        assert gw.rest.http("GET", "/v1/interfaces/b.300")[0] == 404
        up = mon.until(lambda l: l.startswith("UPDATE conn-t1"))
        assert up.startswith("UPDATE conn-t1 UP service default mechanism VLAN b.300 ")
        assert mon.until(lambda l: l.startswith("DELETE")).startswith("DELETE conn-t1 DOWN ")
        ev = [json.loads(monj.until(lambda l: True)) for _ in range(3)]
        assert [e["type"] for e in ev] == ["UPDATE", "UPDATE", "DELETE"]
        assert all(list(e["connections"]) == ["conn-t1"] for e in ev)
        assert ev[2]["connections"]["conn-t1"]["state"] == "DOWN"

        # Closing what is not there: the gateway's error, exit 1.
        e, line = nsm_expected(gw, "Close", {"id": "conn-t1"})
        r = ctl(gw, "nsm", "close", "conn-t1")
        assert (r.returncode, r.stdout, r.stderr) == (1, "", line)
        r = ctl(gw, "--json", "nsm", "close", "conn-t1")
        assert r.returncode == 1 and json.loads(r.stdout) == {"error": e}

        # Close by the request file itself; close over REST.
        ok(gw, "nsm", "request", req)
        assert ok(gw, "nsm", "close", req) == ""
        assert gw.rest.http("GET", "/v1/connections/conn-t1")[0] == 404
        ok(gw, "nsm", "request", req)
        assert ok(gw, "connection", "close", "conn-t1") == ""
        assert get(gw, "/v1/connections") == []
        mon.until(lambda l: l.startswith("DELETE"))
        assert mon.proc.poll() is None, "the monitor stays until stopped"
    finally:
        mon.stop()
        monj.stop()

    bad = json.loads(json.dumps(REQUEST))
    bad["connection"]["mechanism"]["parameters"]["base"] = "nope"
    e, line = nsm_expected(gw, "Request", bad)
    req.write_text(json.dumps(bad))
    r = ctl(gw, "nsm", "request", req)
    assert (r.returncode, r.stdout, r.stderr) == (1, "", line)
    assert get(gw, "/v1/connections") == []


# ---- errors: the gateway refuses (exit 1) ------------------------------------------------------------

SERVER_ERRORS = [
    (["network", "add", "default"], "POST", "/v1/networks", {"name": "default"}),
    (["network", "del", "nope"], "DELETE", "/v1/networks/nope", None),
    (["network", "show", "nope"], "GET", "/v1/networks/nope", None),
    (["port", "show", "nope"], "GET", "/v1/ports/nope", None),
    (["port", "add", "x", "net_bogus0"], "POST", "/v1/ports",
     {"name": "x", "device": "net_bogus0"}),
    (["vlan", "add", "a", "5000"], "POST", "/v1/interfaces", {"port": "a", "vlan": 5000}),
    (["vlan", "del", "a.77"], "DELETE", "/v1/interfaces/a.77", None),
    (["address", "add", "a", "10.0.9.1"], "POST", "/v1/interfaces/a/addresses",
     {"address": "10.0.9.1"}),
    (["address", "del", "a", "10.0.9.1/24"], "DELETE", "/v1/interfaces/a/addresses/10.0.9.1/24",
     None),
    (["route", "add", "10.50.0.0/16", "via", "192.168.77.1"], "POST", "/v1/routes",
     {"prefix": "10.50.0.0/16", "via": "192.168.77.1"}),
    (["route", "add", "10.50.0.0/16", "via", "10.0.2.2", "network", "nope"], "POST",
     "/v1/routes", {"prefix": "10.50.0.0/16", "via": "10.0.2.2", "network": "nope"}),
    (["route", "show", "10.99.0.0/16"], "GET", "/v1/routes/default/10.99.0.0/16", None),
    (["route", "del", "10.99.0.0/16", "network", "nope"], "DELETE",
     "/v1/routes/nope/10.99.0.0/16", None),
    (["routes", "network", "nope"], "GET", "/v1/routes?network=nope", None),
    (["neighbor", "add", "a", "10.0.1.9", "zz:zz"], "POST", "/v1/neighbors",
     {"interface": "a", "ip": "10.0.1.9", "mac": "zz:zz"}),
    (["neighbor", "del", "a", "10.0.1.99"], "DELETE", "/v1/neighbors/a/10.0.1.99", None),
    (["connection", "show", "nope"], "GET", "/v1/connections/nope", None),
    (["connection", "close", "nope"], "DELETE", "/v1/connections/nope", None),
    (["rest", "GET", "/v1/nothing"], "GET", "/v1/nothing", None),
    (["rest", "DELETE", "/v1/networks"], "DELETE", "/v1/networks", None),
]


@pytest.mark.parametrize("args,method,path,body", SERVER_ERRORS,
                         ids=[" ".join(e[0]) for e in SERVER_ERRORS])
def test_server_error_is_reported_with_field_and_status(gw, args, method, path, body):
    r = ctl(gw, *args)
    j, line = expected_error(gw, method, path, body)
    assert (r.returncode, r.stdout, r.stderr) == (1, "", line)
    r = ctl(gw, "--json", *args)
    assert r.returncode == 1 and r.stderr == line and json.loads(r.stdout) == j


def test_wrong_token_is_refused(gw):
    r = ctl(gw, "--token-file", gw.dir / "bad-token", "networks")
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("meshgatectl: ") and r.stderr.endswith(" (HTTP 401)\n")
    env = {"MESHGATE_TOKEN_FILE": str(gw.dir / "bad-token")}
    assert ctl(gw, "networks", env=env).returncode == 1
    # The option wins over the environment; the right token works from either.
    assert ok(gw, "--token-file", gw.dir / "token", "networks", env=env).startswith("name ")
    assert ok(gw, "networks", env={"MESHGATE_TOKEN_FILE": str(gw.dir / "token")})
    # Explicit endpoint and token: no run directory needed.
    addr = (gw.rest.run_dir / "rest.addr").read_text().strip()
    assert ok(gw, "--rest", addr, "--token-file", gw.dir / "token", "networks",
              prefix=False).startswith("name ")


# ---- errors: usage (exit 2) ----------------------------------------------------------------------

USAGE_ERRORS = [
    (["frobnicate"], "meshgatectl: unknown command 'frobnicate'"),
    (["route", "frob"], "meshgatectl: route: unknown verb 'frob' (show, add, replace, del)"),
    (["vlan"], "meshgatectl: vlan: needs a verb (add, del)"),
    (["network", "add"], "meshgatectl: network add: missing NAME\n"
                         "usage: meshgatectl network add NAME [fragments forward|drop]"),
    (["network", "add", "x", "fragments", "maybe"],
     "meshgatectl: network add: fragments: 'maybe' is not forward or drop\nusage: "),
    (["network", "add", "x", "colour", "red"],
     "meshgatectl: network add: unknown argument 'colour'\nusage: "),
    (["network", "add", "x", "fragments"], "meshgatectl: network add: 'fragments' needs a value"),
    (["network", "add", "x", "fragments", "drop", "fragments", "drop"],
     "meshgatectl: network add: 'fragments' is given twice"),
    (["networks", "extra"], "meshgatectl: networks: unexpected argument 'extra'\n"
                            "usage: meshgatectl networks\n"),
    (["port", "add", "x"], "meshgatectl: port add: missing DEVICE"),
    (["port", "add", "x", "net_null9", "mtu", "big"], "meshgatectl: port add: mtu: 'big' is "
                                                     "not a number"),
    (["vlan", "add", "a", "ten"], "meshgatectl: vlan add: 'ten' is not a VLAN id"),
    (["vlan", "del", "a"], "meshgatectl: vlan del: 'a' is not PORT.ID"),
    (["address", "add", "a"], "meshgatectl: address add: missing PREFIX"),
    (["route", "del", "10.0.0.1"], "meshgatectl: route del: '10.0.0.1' is not a prefix "
                                   "(ADDRESS/LENGTH)"),
    (["route", "add", "10.0.0.0/8", "drop", "prohibit"],
     "meshgatectl: route add: a second action 'prohibit'"),
    (["route", "del", "10.0.0.0/8", "drop"], "meshgatectl: route del: unknown argument 'drop'"),
    (["route", "add", "10.0.0.0/8", "via"], "meshgatectl: route add: 'via' needs a value"),
    (["neighbor", "add", "a", "10.0.1.9"], "meshgatectl: neighbor add: missing MAC"),
    (["connection", "show"], "meshgatectl: connection show: missing ID"),
    (["rest", "FETCH", "/v1/networks"], "meshgatectl: rest: 'FETCH' is not GET, POST, PUT or "
                                        "DELETE"),
    (["rest", "GET", "v1/networks"], "meshgatectl: rest: 'v1/networks' is not a path"),
    (["rest", "POST", "/v1/batch", "@/nonexistent/body.json"],
     "meshgatectl: rest: cannot read /nonexistent/body.json: No such file or directory\n"),
    (["stats", "bogus"], "meshgatectl: stats: 'bogus' is not ports, nodes, drops or gateway"),
    (["raw"], "meshgatectl: raw: missing a telemetry command"),
    (["--once", "networks"], "meshgatectl: networks: --once does not apply here"),
    (["--all", "routes"], "meshgatectl: routes: --all does not apply here"),
    (["--frobnicate", "networks"], "meshgatectl: unknown option '--frobnicate'"),
    (["networks", "-p"], "meshgatectl: option '-p' needs a value\n"),
    (["--rest", "nohost", "networks"], "meshgatectl: --rest: 'nohost' is not HOST:PORT"),
    (["--token-file", "/nonexistent/tok", "networks"],
     "meshgatectl: --token-file: cannot read /nonexistent/tok: No such file or directory\n"),
    (["batch", "/nonexistent/b.json"],
     "meshgatectl: batch: cannot read /nonexistent/b.json: No such file or directory\n"),
    (["batch"], "meshgatectl: batch: missing FILE"),
    (["nsm", "request"], "meshgatectl: nsm request: missing FILE"),
    (["nsm", "monitor", "now"], "meshgatectl: nsm monitor: unexpected argument 'now'"),
    (["nsm", "close"], "meshgatectl: nsm close: missing ID"),
    (["rules", "set", "default"], "meshgatectl: rules set: missing FILE"),
    (["rules", "clear"], "meshgatectl: rules clear: missing NETWORK"),
    (["rules", "clear", "default", "x"], "meshgatectl: rules clear: unexpected argument 'x'"),
    (["flows", "track", "default"], "meshgatectl: flows track: missing FILE"),
    (["esp", "rekey", "esp0"], "meshgatectl: esp rekey: missing FILE"),
    (["vxlan", "del"], "meshgatectl: vxlan del: missing NAME"),
    (["wg", "show", "a", "b"], "meshgatectl: wg show: unexpected argument 'b'"),
]


@pytest.mark.parametrize("args,msg", USAGE_ERRORS, ids=[" ".join(e[0]) for e in USAGE_ERRORS])
def test_usage_error_names_the_argument(gw, args, msg):
    r = ctl(gw, *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.startswith(msg), r.stderr


def test_usage_errors_from_files_and_environment(gw):
    bad = gw.dir / "bad.json"
    bad.write_text("{bad")
    for args, name in ((["batch", bad], "batch"), (["nsm", "request", bad], "nsm request"),
                       (["nsm", "close", bad], "nsm close")):
        r = ctl(gw, *args)
        assert r.returncode == 2 and r.stdout == ""
        assert r.stderr.startswith(f"meshgatectl: {name}: {bad} is not valid JSON (line 1, "
                                   "column "), r.stderr
    r = ctl(gw, "nsm", "request", "-", input="[1,")
    assert r.returncode == 2 and "standard input is not valid JSON" in r.stderr
    r = ctl(gw, "networks", env={"MESHGATE_TOKEN_FILE": "/nonexistent/tok"})
    assert (r.returncode, r.stderr) == (2, "meshgatectl: MESHGATE_TOKEN_FILE: cannot read "
                                           "/nonexistent/tok: No such file or directory\n")
    # A usage error changes nothing.
    assert gw.rest.http("GET", "/v1/networks/x")[0] == 404


# ---- errors: the gateway cannot be reached (exit 3) ---------------------------------------------------

def test_gateway_not_running(gw):
    p = unique("mgctlnone")
    req = gw.dir / "req-none.json"
    req.write_text(json.dumps(REQUEST))
    for args in (["networks"], ["route", "add", "10.0.0.0/8", "drop"], ["metrics"],
                 ["rest", "GET", "/v1/networks"], ["batch", req]):
        r = ctl(gw, "-p", p, *args, prefix=False)
        assert (r.returncode, r.stdout, r.stderr) == \
            (3, "", f"meshgatectl: meshgate with file prefix '{p}' is not running "
                    f"(no /var/run/dpdk/{p})\n"), args
    for args in (["nsm", "request", req], ["nsm", "close", "x"], ["nsm", "monitor"]):
        r = ctl(gw, "-p", p, *args, prefix=False)
        assert (r.returncode, r.stdout) == (3, "")
        assert r.stderr == (f"meshgatectl: cannot connect to meshgate's NSM socket "
                            f"/var/run/dpdk/{p}/nsm.sock: No such file or directory (is "
                            f"meshgate running with file prefix '{p}'?)\n")
    for args in (["stats"], ["drops"], ["raw", "/meshgate/stats"]):
        r = ctl(gw, "-p", p, *args, prefix=False)
        assert r.returncode == 3 and r.stderr.startswith(
            f"meshgatectl: cannot reach meshgate at /var/run/dpdk/{p}/dpdk_telemetry.v2: ")
    r = ctl(gw, "--rest", "127.0.0.1:1", "--token-file", gw.dir / "token", "networks")
    assert (r.returncode, r.stderr) == (3, "meshgatectl: cannot connect to meshgate's REST "
                                           "endpoint at 127.0.0.1:1: Connection refused (is "
                                           f"meshgate running with file prefix "
                                           f"'{gw.mg.prefix}'?)\n")
    r = ctl(gw, "--nsm", gw.dir / "no.sock", "nsm", "monitor")
    assert r.returncode == 3 and f"NSM socket {gw.dir}/no.sock: No such file" in r.stderr


def test_gateway_gone_leaving_its_run_directory(gw):
    """A run directory left by a gateway that died: its address refuses connections."""
    p = unique("mgctlstale")
    d = pathlib.Path(f"/var/run/dpdk/{p}")
    d.mkdir(mode=0o700)
    try:
        (d / "rest.addr").write_text("127.0.0.1:1\n")
        (d / "rest.token").write_text("0123456789abcdef0123456789abcdef\n")
        r = ctl(gw, "-p", p, "networks", prefix=False)
        assert (r.returncode, r.stderr) == (3, "meshgatectl: cannot connect to meshgate's REST "
                                               "endpoint at 127.0.0.1:1: Connection refused "
                                               f"(is meshgate running with file prefix '{p}'?)\n")
        (d / "rest.token").unlink()
        r = ctl(gw, "-p", p, "networks", prefix=False)
        assert r.returncode == 3 and r.stderr.startswith(
            f"meshgatectl: cannot read the REST token /var/run/dpdk/{p}/rest.token: No such file")
    finally:
        shutil.rmtree(d)


def test_default_prefix_endpoints(gw):
    """The default instance: REST on 127.0.0.1:8080, NSM on /run/meshgate/nsm.sock."""
    if os.path.exists("/var/run/dpdk/meshgate") or os.path.exists("/run/meshgate/nsm.sock"):
        pytest.skip("a default meshgate runs on this machine")
    r = ctl(gw, "nsm", "monitor", prefix=False)
    assert r.returncode == 3 and r.stderr.startswith(
        "meshgatectl: cannot connect to meshgate's NSM socket /run/meshgate/nsm.sock: ")
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", 8080)) == 0:
            pytest.skip("something listens on 127.0.0.1:8080")
    r = ctl(gw, "--token-file", gw.dir / "token", "networks", prefix=False)
    assert r.returncode == 3 and r.stderr.startswith(
        "meshgatectl: cannot connect to meshgate's REST endpoint at 127.0.0.1:8080: "
        "Connection refused")


# ---- the HTTP and NSM clients against fake servers --------------------------------------------------

class FakeHttp:
    """Answers each connection with the next canned response; keeps the requests."""

    def __init__(self, family, host, responses):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(4)
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.responses = list(responses)
        self.requests = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        for resp in self.responses:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += c.recv(4096)
                head, _, body = data.partition(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                hdrs = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
                while len(body) < int(hdrs.get("content-length", 0)):
                    body += c.recv(4096)
                self.requests.append((lines[0], hdrs, body.decode()))
                for part in resp if isinstance(resp, list) else [resp]:
                    c.sendall(part)
                    time.sleep(0.05)

    def close(self):
        self.sock.close()
        self.thread.join(5)


NETS = [{"name": "default", "fragments": "forward", "ip_options": "drop", "interfaces": 2,
         "routes": 7}]


def test_http_client_framing_ipv6_and_headers(gw):
    body = json.dumps(NETS).encode()
    chunked = [b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n",
               b"%x;ext=1\r\n%s\r\n" % (10, body[:10]),
               b"%x\r\n%s\r\n0\r\n\r\n" % (len(body) - 10, body[10:])]
    until_close = [b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n", body[:7],
                   body[7:]]
    created = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n"
               b"Content-Type: application/json\r\n\r\n{}")
    token = gw.rest.token
    try:
        srv = FakeHttp(socket.AF_INET6, "::1", [chunked, created])
    except OSError:
        pytest.skip("no IPv6 loopback")
    try:
        addr = f"[::1]:{srv.port}"
        out = ok(gw, "--rest", addr, "--token-file", gw.dir / "token", "--json", "networks",
                 prefix=False)
        assert json.loads(out) == NETS
        assert ok(gw, "--rest", addr, "--token-file", gw.dir / "token", "network", "add",
                  "blue", "ip-options", "drop", prefix=False) == ""
    finally:
        srv.close()
    (line1, h1, b1), (line2, h2, b2) = srv.requests
    assert line1 == "GET /v1/networks HTTP/1.1" and b1 == ""
    assert h1["authorization"] == f"Bearer {token}" and h1["host"] == addr
    assert line2 == "POST /v1/networks HTTP/1.1" and h2["content-type"] == "application/json"
    assert json.loads(b2) == {"name": "blue", "ip_options": "drop"}
    assert int(h2["content-length"]) == len(b2.encode())

    truncated = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[1, 2"
    bad_gw = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"
    srv = FakeHttp(socket.AF_INET, "127.0.0.1", [until_close, truncated, bad_gw])
    try:
        addr = f"127.0.0.1:{srv.port}"
        out = ok(gw, "--rest", addr, "--token-file", gw.dir / "token", "networks", prefix=False)
        assert rows(out)[1] == [["default", "forward", "drop", "2", "7"]]
        r = ctl(gw, "--rest", addr, "--token-file", gw.dir / "token", "networks", prefix=False)
        assert (r.returncode, r.stderr) == (1, "meshgatectl: no valid answer from meshgate's "
                                               f"REST endpoint at {addr}: connection closed in "
                                               "the middle of the body\n")
        r = ctl(gw, "--rest", addr, "--token-file", gw.dir / "token", "networks", prefix=False)
        assert (r.returncode, r.stdout, r.stderr) == (1, "", "meshgatectl: HTTP 502 Bad "
                                                             "Gateway\n")
    finally:
        srv.close()
    assert [q[0] for q in srv.requests] == ["GET /v1/networks HTTP/1.1"] * 3
    # Escaped path segments.
    srv = FakeHttp(socket.AF_INET, "127.0.0.1", [b"HTTP/1.1 204 No Content\r\n\r\n"])
    try:
        assert ok(gw, "--rest", f"127.0.0.1:{srv.port}", "--token-file", gw.dir / "token",
                  "connection", "close", "a b/c?d%", prefix=False) == ""
    finally:
        srv.close()
    assert srv.requests[0][0] == "DELETE /v1/connections/a%20b%2Fc%3Fd%25 HTTP/1.1"


def fake_nsm(path, lines):
    """A one-connection NSM socket that reads one message, then writes @lines and closes."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.listen(1)
    s.settimeout(10)
    got = []

    def serve():
        try:
            c, _ = s.accept()
        except OSError:
            return
        with c:
            data = b""
            while b"\n" not in data:
                d = c.recv(4096)
                if not d:
                    break
                data += d
            got.append(json.loads(data.split(b"\n")[0]) if data else None)
            for l in lines:
                c.sendall(json.dumps(l).encode() + b"\n")
                time.sleep(0.05)
        s.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return t, got


def test_nsm_client_refusal_and_lost_socket(gw):
    path = gw.dir / "fake-nsm.sock"
    refusal = {"error": {"status": 403, "code": "PERMISSION_DENIED", "field": "",
                         "message": "this uid may not use the NSM socket"}}
    t, got = fake_nsm(path, [refusal])
    r = ctl(gw, "--nsm", path, "nsm", "close", "x")
    t.join(5)
    path.unlink()
    assert (r.returncode, r.stdout, r.stderr) == \
        (1, "", "meshgatectl: this uid may not use the NSM socket (NSM PERMISSION_DENIED)\n")
    assert got == [{"id": 1, "method": "Close", "params": {"id": "x"}}]

    k = {"id": "k1", "state": "UP", "networkService": "svc",
         "mechanism": {"type": "KERNEL", "parameters": {"name": "nsm0"}},
         "context": {"ipContext": {"dstIpAddrs": ["10.1.0.1/30"], "srcIpAddrs": ["10.1.0.2/30"]}},
         "path": {"index": 0, "pathSegments": [{"name": "mg", "token": "SECRET",
                                                "expires": "2030-01-01T00:00:00Z"}]}}
    t, got = fake_nsm(path, [{"id": 1, "event": {"type": "INITIAL_STATE_TRANSFER",
                                                 "connections": {}}},
                             {"id": 7, "event": {"type": "UPDATE", "connections": {"k0": k}}},
                             {"id": 1, "event": {"type": "UPDATE", "connections": {"k1": k}}}])
    r = ctl(gw, "--nsm", path, "nsm", "monitor")
    t.join(5)
    path.unlink()
    assert got[0]["method"] == "MonitorConnections"
    assert (r.returncode, r.stdout, r.stderr) == (
        3, "INITIAL_STATE_TRANSFER: 0 connections\n"
           "UPDATE k1 UP service svc mechanism KERNEL nsm0 local 10.1.0.1/30 remote 10.1.0.2/30 "
           "expires 2030-01-01T00:00:00Z\n",
        "meshgatectl: meshgate closed the NSM socket\n")


def test_token_is_never_printed(gw):
    for args in (["--json", "rest", "GET", "/v1/nothing"], ["--json", "port", "show", "a"],
                 ["--token-file", gw.dir / "bad-token", "--json", "networks"], ["--help"],
                 ["--json", "nsm", "monitor", "--once"], ["--json", "metrics"]):
        ctl(gw, *args)
    # Every output of this module, errors included.
    assert not [o for o in gw.outputs if gw.rest.token in o]
