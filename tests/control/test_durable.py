# SPDX-License-Identifier: BSD-3-Clause
"""Durable state: meshgate is killed with SIGKILL at random moments while a
stream of changes arrives over REST and the NSM socket; after each restart
it has every route, neighbor and connection it acknowledged (and the one
change in flight at the kill, at most, is either wholly there or wholly
absent), and the monitor's initial state lists the connections."""
import os
import random
import stat
import threading
import time

from mgrun import null_config, Control, Meshgate

CONFIG = null_config(512) + """control:
  state_dir: {state}
"""


def snapshot(ctl):
    """What survives: static routes, static neighbors, connections."""
    routes = {(r.get("network", "default"), r["prefix"], r.get("via", ""), r["action"])
              for r in ctl.ok("GET", "/v1/routes")}
    neigh = {(n["interface"], n["ip"], n["mac"]) for n in ctl.ok("GET", "/v1/neighbors")
             if n["static"]}
    conns = {c["id"] for c in ctl.ok("GET", "/v1/connections")}
    return routes, neigh, conns


class Expected:
    """The acknowledged state, and the change in flight when the kill came."""

    def __init__(self):
        self.routes, self.neigh, self.conns = set(), set(), set()
        self.inflight = None

    def states(self):
        yield (self.routes, self.neigh, self.conns)
        if self.inflight is not None:
            kind, verb, item = self.inflight
            r, n, c = set(self.routes), set(self.neigh), set(self.conns)
            target = {"route": r, "neigh": n, "conn": c}[kind]
            (target.add if verb == "add" else target.discard)(item)
            yield (r, n, c)


def churn(ctl, exp, rng, stop):
    """Issue changes until the gateway dies; record what was acknowledged."""
    nsm = ctl.nsm_open()
    try:
        while not stop.is_set():
            r = rng.random()
            if r < 0.4:
                pfx = f"100.{64 + rng.randrange(8)}.{rng.randrange(256)}.0/24"
                item = ("default", pfx, "10.0.2.2" if rng.random() < 0.5 else "10.0.1.2",
                        "forward")
                present = [x for x in exp.routes if x[1] == pfx]
                if present:
                    exp.inflight = ("route", "del", present[0])
                    st, _ = ctl.http("DELETE", f"/v1/routes/default/{pfx}")
                    assert st == 204
                    exp.routes.discard(present[0])
                else:
                    exp.inflight = ("route", "add", item)
                    st, body = ctl.http("POST", "/v1/routes",
                                        {"prefix": pfx, "via": item[2]})
                    assert st == 201, body
                    exp.routes.add(item)
            elif r < 0.7:
                ip = f"10.0.{rng.choice((1, 2))}.{rng.randrange(10, 250)}"
                iface = "a" if ip.startswith("10.0.1.") else "b"
                mac = f"02:00:00:00:{rng.randrange(256):02x}:{rng.randrange(256):02x}"
                present = [x for x in exp.neigh if x[1] == ip]
                if present:
                    exp.inflight = ("neigh", "del", present[0])
                    st, body = ctl.http("DELETE", f"/v1/neighbors/{iface}/{ip}")
                    assert st == 204, body
                    exp.neigh.discard(present[0])
                else:
                    exp.inflight = ("neigh", "add", (iface, ip, mac))
                    st, body = ctl.http("POST", "/v1/neighbors",
                                        {"interface": iface, "ip": ip, "mac": mac})
                    assert st == 201, body
                    exp.neigh.add((iface, ip, mac))
            else:
                n = rng.randrange(40)
                cid = f"conn-{n}"
                if cid in exp.conns:
                    exp.inflight = ("conn", "del", cid)
                    kind, res = nsm.call("Close", {"id": cid})
                    assert kind == "result", res
                    exp.conns.discard(cid)
                else:
                    exp.inflight = ("conn", "add", cid)
                    kind, res = nsm.call("Request", {"connection": {
                        "id": cid, "networkService": "ran",
                        "mechanism": {"cls": "LOCAL", "type": "VLAN",
                                      "parameters": {"base": "b", "vlan-id": str(1000 + n)}},
                        "context": {"ipContext": {
                            "dstIpAddrs": [f"172.21.{n}.1/24"],
                            "srcIpAddrs": [f"172.21.{n}.2/24"],
                            "dstRoutes": [{"prefix": f"192.168.{n}.0/24"}]}}}})
                    assert kind == "result", res
                    exp.conns.add(cid)
            exp.inflight = None
    except (OSError, EOFError, ConnectionError):
        pass            # the gateway was killed mid-request
    finally:
        nsm.close()


def check_restored(ctl, exp):
    got = snapshot(ctl)
    # A connection's own routes (dst_routes) are not static routes of ours to
    # compare: drop them from what we read.
    routes = {r for r in got[0] if not r[1].startswith("192.168.")}
    got = (routes, got[1], got[2])
    wanted = list(exp.states())
    assert got in wanted, (
        f"lost or invented state after restart:\n"
        f"missing routes {wanted[0][0] - got[0]}\nextra routes {got[0] - wanted[0][0]}\n"
        f"missing neighbors {wanted[0][1] - got[1]}\nextra neighbors {got[1] - wanted[0][1]}\n"
        f"missing connections {wanted[0][2] - got[2]}\nextra {got[2] - wanted[0][2]}\n"
        f"in flight: {exp.inflight}")
    # The snapshot is authoritative now: what was in flight is settled.
    exp.routes, exp.neigh, exp.conns = (set(x) for x in got)
    exp.inflight = None
    with ctl.nsm_open() as s:
        s.send({"id": 1, "method": "MonitorConnections", "params": {}})
        ev = s.recv(timeout=10)["event"]
        assert ev["type"] == "INITIAL_STATE_TRANSFER"
        assert set(ev.get("connections", {})) == exp.conns
    for cid in exp.conns:
        n = int(cid.split("-")[1])
        st, ifc = ctl.http("GET", f"/v1/interfaces/b.{1000 + n}")
        assert st == 200 and ifc["ipv4"] == [f"172.21.{n}.1/24"], (cid, st, ifc)


def test_kill_at_random_moments_loses_nothing_acknowledged(tmp_path):
    state = tmp_path / "state"
    mg = Meshgate(tmp_path, CONFIG.format(state=state), name="du")
    rng = random.Random(int(os.environ.get("MESHGATE_SEED", "4242")))
    exp = Expected()
    acked = 0
    try:
        for round_ in range(6):
            mg.start()
            ctl = Control(mg)
            if round_:
                check_restored(ctl, exp)
            stop = threading.Event()
            before = len(exp.routes) + len(exp.neigh) + len(exp.conns)
            t = threading.Thread(target=churn, args=(ctl, exp, rng, stop))
            t.start()
            time.sleep(rng.uniform(0.3, 1.5))
            mg.kill()                   # SIGKILL, at whatever point the churn is
            stop.set()
            t.join(30)
            assert not t.is_alive()
            acked += abs(len(exp.routes) + len(exp.neigh) + len(exp.conns) - before)
        mg.start()
        ctl = Control(mg)
        check_restored(ctl, exp)
        # State files are private.
        for f in state.iterdir():
            assert stat.S_IMODE(f.stat().st_mode) & 0o077 == 0, f
        assert stat.S_IMODE(state.stat().st_mode) & 0o077 == 0
        mg.stop()
    finally:
        mg.kill()
    assert acked > 50, "too few changes were acknowledged to prove anything"
