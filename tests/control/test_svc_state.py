# SPDX-License-Identifier: BSD-3-Clause
"""Services in the durable state: with control.state_dir, what REST changed
(services added and removed, endpoints added, re-weighted, set down or
removed, the file's services removed) comes back after SIGKILL, from the
journal and then from the snapshot, instead of the file's services as they
were at start."""
from mgrun import null_config, Control, Meshgate

CONFIG = null_config(640, hugepages=False) + """neighbors:
  - {{interface: b, ip: 10.0.2.2, mac: "02:00:00:00:0b:02"}}
  - {{interface: b, ip: 10.0.2.3, mac: "02:00:00:00:0b:03"}}
services:
  - name: gtp
    vips: [10.0.9.1]
    endpoints:
      - {{name: e1, address: 10.0.2.2, weight: 95}}
      - {{name: e2, address: 10.0.2.3, weight: 5}}
  - name: old
    vips: [10.0.9.3]
    endpoints:
      - {{name: e1, address: 10.0.2.2}}
control:
  state_dir: {state}
"""


def services(ctl):
    """name -> (mode, vips, {endpoint: (address, weight, up)})"""
    return {s["name"]: (s["mode"], s["vips"],
                        {e["name"]: (e["address"], e["weight"], e["up"]) for e in s["endpoints"]})
            for s in ctl.ok("GET", "/v1/services")}


def restarts(mg, want):
    for _ in range(2):          # from the journal, then from the snapshot
        mg.kill()
        mg.start()
        assert services(Control(mg)) == want, mg.log()


def test_services_come_back_as_changed(tmp_path):
    mg = Meshgate(tmp_path, CONFIG.format(state=tmp_path / "state"), name="svst")
    try:
        mg.start()
        c = Control(mg)
        want = services(c)
        assert set(want) == {"gtp", "old"}
        st, j = c.http("PUT", "/v1/services/gtp/endpoints/e2", {"weight": 50})
        assert st == 200, j
        st, j = c.http("PUT", "/v1/services/gtp/endpoints/e3",
                       {"address": "10.0.2.2", "weight": 7, "up": False})
        assert st == 201, j
        st, j = c.http("POST", "/v1/services", {
            "name": "web", "vips": ["10.0.9.2"], "mode": "nat",
            "endpoints": [{"name": "w1", "address": "10.0.2.3", "port": 8080}]})
        assert st == 201, j
        st, j = c.http("DELETE", "/v1/services/old")
        assert st == 204, j
        want = services(c)
        assert want["gtp"][2] == {"e1": ("10.0.2.2", 95, True), "e2": ("10.0.2.3", 50, True),
                                  "e3": ("10.0.2.2", 7, False)}, want
        assert "web" in want and "old" not in want
        restarts(mg, want)
        # The nat endpoint's port came back too.
        web = Control(mg).ok("GET", "/v1/services/web")
        assert web["mode"] == "nat" and web["vips"] == ["10.0.9.2"], web
        assert [(e["name"], e["port"]) for e in web["endpoints"]] == [("w1", 8080)], web
        # Then removals: an endpoint, a service made over REST.
        c = Control(mg)
        st, j = c.http("DELETE", "/v1/services/gtp/endpoints/e1")
        assert st == 204, j
        st, j = c.http("DELETE", "/v1/services/web")
        assert st == 204, j
        want = services(c)
        assert set(want) == {"gtp"} and set(want["gtp"][2]) == {"e2", "e3"}, want
        restarts(mg, want)
        # A refused change is not kept either.
        st, j = Control(mg).http("PUT", "/v1/services/gtp/endpoints/e2", {"weight": -1})
        assert st == 400 and j["error"]["field"] == "weight", j
        # A port on a route-mode service's endpoint: refused as the file refuses it.
        st, j = Control(mg).http("PUT", "/v1/services/gtp/endpoints/e2", {"port": 8080})
        assert st == 400 and j["error"]["field"] == "port", j
        assert "needs the service's mode: nat" in j["error"]["message"], j
        restarts(mg, want)
    finally:
        mg.kill()
