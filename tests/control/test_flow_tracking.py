# SPDX-License-Identifier: BSD-3-Clause
"""A network's flow tracking changed at run time: turned on with PUT (and on
a network created with it), settings changed without losing the tables,
refusals naming the field and changing nothing, meshgatectl's commands,
/metrics per network, and the settings kept across a restart in durable
state (the journal, then the snapshot's network specs)."""
import json
import subprocess

from mgrun import MESHGATECTL, Control, Meshgate
from promtext import parse

CONFIG = """
dpdk:
  lcores: "0-1"
  memory_mb: 768
workers:
  idle: {{mode: sleep}}
networks:
  - name: default
  - name: side
    flows: {{size: 512, timeouts: {{udp: 30}}}}
ports:
  - name: a
    device: "net_null0,no-rx=1"
    mac: "02:00:00:00:0a:01"
    ipv4: [10.0.1.1/24]
control:
  state_dir: {state}
"""


def test_tracking_at_run_time_and_durable(tmp_path):
    cfg = CONFIG.format(state=tmp_path / "state")
    with Meshgate(tmp_path, cfg, name="ft") as mg:
        ctl = Control(mg)
        side = ctl.ok("GET", "/v1/networks/side/flows")
        assert (side["enabled"], side["size"], side["stateful"], side["timeouts"]) == \
            (True, 512, False, {"udp": 30})
        assert side["active"] == 0 and side["workers"] == 1
        assert ctl.ok("GET", "/v1/networks/default/flows") == {"enabled": False}

        got = ctl.ok("PUT", "/v1/networks/default/flows",
                     {"size": 2048, "stateful": True, "timeouts": {"tcp_established": 600}})
        assert (got["enabled"], got["size"], got["stateful"]) == (True, 2048, True)
        assert ctl.ok("GET", "/v1/networks/default")["flows"]["timeouts"] == \
            {"tcp_established": 600}

        # Refusals name the field and leave the settings as they were.
        for body, field in [({"size": 0}, "size"), ({"size": 1 << 25}, "size"),
                            ({"stateful": "yes"}, "stateful"),
                            ({"timeouts": {"tcp": 5}}, "timeouts.tcp"),
                            ({"timeouts": {"icmp": 0}}, "timeouts.icmp"),
                            ({"timeouts": {"udp": 604801}}, "timeouts.udp"),
                            ({"colour": 1}, "colour")]:
            st, err = ctl.http("PUT", "/v1/networks/default/flows", body)
            assert st == 400 and err["error"]["field"] == field, (body, st, err)
        assert ctl.ok("GET", "/v1/networks/default/flows")["size"] == 2048
        assert ctl.http("PUT", "/v1/networks/nowhere/flows", {})[0] == 404

        # A network created with its tracking.
        ctl.ok("POST", "/v1/networks", {"name": "dyn", "flows": {"stateful": True}})
        assert ctl.ok("GET", "/v1/networks/dyn/flows")["size"] == 65536

        m = parse(ctl.http("GET", "/metrics")[1])
        active = m["meshgate_flows_active"]["samples"]
        assert {dict(k[1])["network"] for k in active} == {"default", "side", "dyn"}
        assert m["meshgate_flows_active"]["type"] == "gauge"

        def mctl(*args, input=None):
            return subprocess.run([str(MESHGATECTL), "-p", mg.prefix] + list(args), input=input,
                                  capture_output=True, text=True, timeout=20)
        r = mctl("flows", "tracking", "side")
        assert r.returncode == 0, r.stderr
        kv = {ln.split(":")[0]: ln.split(":")[1].strip() for ln in r.stdout.splitlines()}
        assert (kv["size"], kv["stateful"], kv["active"]) == ("512", "false", "0"), r.stdout
        r = mctl("flows", "track", "side", "-", input=json.dumps({"size": 512, "stateful": True}))
        assert r.returncode == 0, r.stderr
        assert ctl.ok("GET", "/v1/networks/side/flows")["stateful"] is True
        r = mctl("flows", "track", "side", "-", input='{"size": 0}')
        assert r.returncode == 1 and "size" in r.stderr
        r = mctl("flows", "untrack", "dyn")
        assert r.returncode == 0, r.stderr
        assert ctl.ok("GET", "/v1/networks/dyn/flows") == {"enabled": False}
        r = mctl("flows", "address", "junk")
        assert r.returncode == 1 and "address" in r.stderr
        r = mctl("flows", "since", "yesterday")
        assert r.returncode == 2

    # Restart on the state directory: every change above comes back.
    with Meshgate(tmp_path, cfg, name="ft2") as mg:
        ctl = Control(mg)
        d = ctl.ok("GET", "/v1/networks/default/flows")
        assert (d["size"], d["stateful"], d["timeouts"]) == (2048, True, {"tcp_established": 600})
        assert ctl.ok("GET", "/v1/networks/side/flows")["stateful"] is True
        assert ctl.ok("GET", "/v1/networks/dyn/flows") == {"enabled": False}
        assert ctl.http("DELETE", "/v1/networks/default/flows")[0] == 204
        assert ctl.ok("GET", "/v1/networks/default/flows") == {"enabled": False}
