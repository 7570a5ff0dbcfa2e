# SPDX-License-Identifier: BSD-3-Clause
"""A tunnel delete that is refused (routes still use the tunnel) leaves no
trace in the durable state: nothing is journaled, and the next start
replays nothing that fails. Once its route is gone the same delete is
accepted, journaled, and stays done across a restart."""
import json
import secrets
import subprocess

from mgrun import null_config, Control, Meshgate

CONFIG = null_config(512, ports="a") + """control:
  state_dir: {state}
"""


def wg_key():
    return subprocess.run(["wg", "genkey"], capture_output=True, text=True,
                          check=True).stdout.strip()


def journal(state):
    path = state / "journal.jsonl"
    text = path.read_text() if path.exists() else ""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def deletes(entries):
    return [e for e in entries if any(k.endswith("_del") for k in e)]


def test_refused_tunnel_deletes_are_not_journaled(tmp_path):
    state = tmp_path / "state"
    mg = Meshgate(tmp_path, CONFIG.format(state=state), name="rdel")
    tunnels = {
        "esp": ("/v1/esp-tunnels", {
            "name": "et", "local": "10.0.1.1", "remote": "10.0.1.2",
            "sas": [{"direction": "out", "inner": "ipv4", "spi": 0x6001,
                     "algorithm": "aes-gcm-128", "key": secrets.token_hex(16),
                     "salt": secrets.token_hex(4)}]}, "10.91.0.0/16"),
        "vxlan": ("/v1/vxlan", {"name": "vt", "vni": 91, "local": "10.0.1.1",
                                "remote": "10.0.1.3", "ipv4": ["10.92.0.1/24"]},
                  "10.93.0.0/16"),
        "wireguard": ("/v1/wireguard", {"name": "wt", "listen_port": 51911,
                                        "private_key": wg_key(), "ipv4": ["10.94.0.1/24"]},
                      "10.95.0.0/16"),
    }
    try:
        mg.start()
        api = Control(mg)
        for path, body, prefix in tunnels.values():
            api.ok("POST", path, body)
            api.ok("POST", "/v1/routes", {"network": "default", "prefix": prefix,
                                          "interface": body["name"]})
        before = journal(state)
        for kind, (path, body, _) in tunnels.items():
            st, j = api.http("DELETE", f"{path}/{body['name']}")
            assert st == 409 and j["error"]["field"] == "name", (kind, st, j)
            assert "is used by 1 route" in j["error"]["message"], (kind, j)
        assert journal(state) == before, deletes(journal(state))
        mg.kill()

        mg.start()
        api = Control(mg)
        log = mg.log()
        for kind, (path, body, _) in tunnels.items():
            assert api.ok("GET", f"{path}/{body['name']}")["name"] == body["name"], kind
        # Nothing in the replay was refused (each refusal used to be logged at every start).
        assert "is used by" not in log, log

        # With its route gone, each delete goes through and stays done.
        for kind, (path, body, prefix) in tunnels.items():
            api.ok("DELETE", f"/v1/routes/default/{prefix}")
            st, j = api.http("DELETE", f"{path}/{body['name']}")
            assert st == 204, (kind, st, j)
        assert len(deletes(journal(state))) == 3, journal(state)
        mg.kill()
        mg.start()
        api = Control(mg)
        for kind, (path, body, _) in tunnels.items():
            assert api.http("GET", f"{path}/{body['name']}")[0] == 404, kind
    finally:
        mg.stop()
