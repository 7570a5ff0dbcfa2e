# SPDX-License-Identifier: BSD-3-Clause
"""WireGuard interfaces in the durable state (control.state_dir): stored
with their keys sealed under STATE_DIR/wg-state.key. Interfaces from the
file and from REST come back after SIGKILL with the same public key; a
sealed key moved to another interface, or a missing state key, restores
nothing (with a message naming the interface) rather than a wrong key;
no key is ever in the state files or the log. The interop with a real peer
after a restart is in tests/netns/test_wireguard.py."""
import base64
import json
import stat
import subprocess

from mgrun import null_config, Control, Meshgate


def genkey():
    priv = subprocess.run(["wg", "genkey"], capture_output=True, text=True,
                          check=True).stdout.strip()
    pub = subprocess.run(["wg", "pubkey"], input=priv + "\n", capture_output=True, text=True,
                         check=True).stdout.strip()
    return priv, pub


CONFIG = null_config(512, ports="a") + """wireguard:
  - name: wgf
    listen_port: 51900
    private_key: "{fpriv}"
    ipv4: [10.98.0.1/24]
    peers:
      - public_key: "{ppub}"
        endpoint: "10.0.1.2:51820"
        allowed_ips: [10.98.0.2/32]
control:
  state_dir: {state}
"""


def test_sealed_keys_restore_and_refuse_tampering(tmp_path):
    fpriv, fpub = genkey()
    rpriv, rpub = genkey()
    _, ppub = genkey()
    psk = subprocess.run(["wg", "genpsk"], capture_output=True, text=True,
                         check=True).stdout.strip()
    state = tmp_path / "state"
    mg = Meshgate(tmp_path, CONFIG.format(fpriv=fpriv, ppub=ppub, state=state), name="wgs")
    logs = []
    try:
        mg.start()
        api = Control(mg)
        st, j = api.http("POST", "/v1/wireguard", {
            "name": "wgr", "listen_port": 51901, "private_key": rpriv, "ipv4": ["10.97.0.1/24"],
            "peers": [{"public_key": ppub, "preshared_key": psk,
                       "allowed_ips": ["10.97.0.2/32"]}]})
        assert st == 201, j
        logs.append(mg.log())
        mg.kill()
        mg.start()                      # from the snapshot (wgf) and the journal (wgr)
        api = Control(mg)
        got = {w["name"]: w for w in api.ok("GET", "/v1/wireguard")}
        assert sorted(got) == ["wgf", "wgr"], got
        assert got["wgf"]["public_key"] == fpub and got["wgr"]["public_key"] == rpub, got
        assert got["wgr"]["peers"][0]["preshared_key_set"] is True
        assert got["wgr"]["ipv4"] == ["10.97.0.1/24"], got
        logs.append(mg.log())
        mg.kill()

        # A sealed key moved to another interface does not open there.
        snap_path = state / "snapshot.json"
        good = snap_path.read_text()
        snap = json.loads(good)
        wg = {w["name"]: w for w in snap["wireguard"]}
        assert set(wg) == {"wgf", "wgr"}, snap["wireguard"]
        wg["wgf"]["private_key_sealed"], wg["wgr"]["private_key_sealed"] = \
            wg["wgr"]["private_key_sealed"], wg["wgf"]["private_key_sealed"]
        snap_path.write_text(json.dumps(snap))
        mg.start()
        api = Control(mg)
        assert api.ok("GET", "/v1/wireguard") == []
        log = mg.log()
        logs.append(log)
        assert "wgf: the private key does not open with the state key" in log, log
        assert "wgr: the private key does not open with the state key" in log, log
        mg.kill()

        # Without the state key nothing opens either (the message names the file).
        snap_path.write_text(good)
        key = state / "wg-state.key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.stat().st_size == 32
        saved = key.read_bytes()
        key.unlink()
        mg.start()
        api = Control(mg)
        assert api.ok("GET", "/v1/wireguard") == []
        log = mg.log()
        logs.append(log)
        assert "wg-state.key" in log, log
        mg.kill()

        # Key and snapshot back together: both interfaces again.
        key.write_bytes(saved)
        key.chmod(0o600)
        snap_path.write_text(good)
        mg.start()
        api = Control(mg)
        got = {w["name"]: w["public_key"] for w in api.ok("GET", "/v1/wireguard")}
        assert got == {"wgf": fpub, "wgr": rpub}, got
        logs.append(mg.log())
        mg.stop()
    finally:
        mg.kill()
    secrets = []
    for k in (fpriv, rpriv, psk):
        raw = base64.b64decode(k)
        secrets += [k.encode(), raw.hex().encode(), raw.hex().upper().encode(), raw]
    for f in state.iterdir():
        assert not any(s in f.read_bytes() for s in secrets), f"{f.name} holds a key"
    text = "".join(logs).encode()
    assert not any(s in text for s in secrets), "the log holds a key"


def test_bad_bodies_name_their_field(tmp_path):
    """POST /v1/wireguard checks the body as the other endpoints do: an unknown
    or mistyped field is refused naming it (a misspelled `network` used to be
    ignored, the interface landing in `default`), a key is never quoted back,
    and nothing is created."""
    fpriv, _ = genkey()
    rpriv, _ = genkey()
    _, ppub = genkey()
    mg = Meshgate(tmp_path, CONFIG.format(fpriv=fpriv, ppub=ppub, state=tmp_path / "state"),
                  name="wgbad")
    try:
        mg.start()
        api = Control(mg)
        good = {"name": "wgr", "listen_port": 51901, "private_key": rpriv}
        peer = {"public_key": ppub, "allowed_ips": ["10.97.0.2/32"]}
        bad = [
            (dict(good, netwrok="default"), "netwrok", "unknown field"),
            (dict(good, network=7), "network", "expected a string"),
            ({k: v for k, v in good.items() if k != "private_key"}, "private_key", "required"),
            (dict(good, private_key=rpriv[:-2] + "x="), "private_key", "not a key"),
            (dict(good, ipv4="10.97.0.1/24"), "ipv4", "a list"),
            (dict(good, ipv4=["300.1.1.1/24"]), "ipv4[0]", "subnet length"),
            (dict(good, peers=[dict(peer, colour="red")]), "peers[0].colour", "unknown field"),
            (dict(good, peers=["x"]), "peers[0]", "expected an object"),
            (dict(good, peers=[dict(peer, public_key="AAAA")]), "peers[0].public_key", "not a key"),
            (dict(good, peers=[dict(peer, endpoint="10.0.1.2")]), "peers[0].endpoint", "51820"),
            (dict(good, peers=[dict(peer, allowed_ips=["10.97.0.0"])]),
             "peers[0].allowed_ips[0]", "not a prefix"),
            (dict(good, peers=[dict(peer, persistent_keepalive=-1)]),
             "peers[0].persistent_keepalive", "0-65535"),
        ]
        for body, field, words in bad:
            st, j = api.http("POST", "/v1/wireguard", body)
            assert st == 400 and j["error"]["field"] == field, (field, st, j)
            assert words in j["error"]["message"], (field, j)
            assert rpriv[:20] not in json.dumps(j), j
            assert [w["name"] for w in api.ok("GET", "/v1/wireguard")] == ["wgf"]
        assert rpriv[:20] not in mg.log()
        assert api.http("POST", "/v1/wireguard", dict(good, peers=[peer]))[0] == 201
    finally:
        mg.stop()
