# SPDX-License-Identifier: BSD-3-Clause
"""ESP tunnels in the durable state (control.state_dir): stored with their
keys sealed under STATE_DIR/wg-state.key. Tunnels from the file, from REST
and a REST rekey come back after SIGKILL with their SAs, addresses and
routes; outbound SAs resume above every sequence number they may have
sent (STATE_DIR/esp-seq.json); a sealed blob moved to another SA restores
nothing (with a message naming the tunnel); a deleted tunnel stays
deleted; no key is ever in the state files or the log. Traffic through a
restored tunnel with a real peer is in tests/netns/test_esp_tunnel.py."""
import json
import secrets
import stat

from mgrun import null_config, Control, Meshgate

CONFIG = null_config(512, ports="a") + """esp_tunnels:
  - name: ef
    local: 10.0.1.1
    remote: 10.0.1.2
    replay_window: 256
    ipv4: [10.96.0.1/30]
    sas:
      - {{direction: out, inner: ipv4, spi: 0x3001, algorithm: aes-gcm-128, key: "{k1}", salt: "{s1}"}}
      - {{direction: in, inner: ipv4, spi: 0x3002, algorithm: aes-cbc-256-hmac-sha256, key: "{k2}", auth_key: "{a2}"}}
routes:
  - {{prefix: 10.95.0.0/16, interface: ef}}
control:
  state_dir: {state}
"""


def test_tunnels_restore_with_sealed_keys_and_resumed_sequence(tmp_path):
    k1, s1, k2, a2 = (secrets.token_hex(n) for n in (16, 4, 32, 32))
    rk, rs, nk, ns = (secrets.token_hex(n) for n in (32, 4, 32, 4))
    keys = [k1, s1, k2, a2, rk, rs, nk, ns]
    state = tmp_path / "state"
    mg = Meshgate(tmp_path, CONFIG.format(k1=k1, s1=s1, k2=k2, a2=a2, state=state), name="ess")
    logs = []
    try:
        mg.start()
        api = Control(mg)
        api.ok("POST", "/v1/esp-tunnels", {
            "name": "er", "local": "fd00:1::1", "remote": "fd00:1::2", "esn": True,
            "ipv6": ["fd00:96::1/64"],
            "sas": [{"direction": "out", "inner": "ipv6", "spi": 0x4001,
                     "algorithm": "chacha20-poly1305", "key": rk, "salt": rs,
                     "lifetime": {"soft_seconds": 3000, "hard_seconds": 3600}}]})
        api.ok("POST", "/v1/routes", {"network": "default", "prefix": "fd00:95::/64",
                                      "interface": "er"})
        api.ok("POST", "/v1/esp-tunnels", {
            "name": "gone", "local": "10.0.1.1", "remote": "10.0.1.3",
            "sas": [{"direction": "in", "inner": "ipv4", "spi": 0x5002,
                     "algorithm": "aes-gcm-128", "key": k1, "salt": s1}]})
        api.ok("DELETE", "/v1/esp-tunnels/gone")
        # A rekey of the file's tunnel: the new outbound SA replaces 0x3001.
        api.ok("PUT", "/v1/esp-tunnels/ef/sas", {"sas": [
            {"direction": "out", "inner": "ipv4", "spi": 0x3003, "algorithm": "chacha20-poly1305",
             "key": nk, "salt": ns}]})
        before = {t["name"]: t for t in api.ok("GET", "/v1/esp-tunnels")}
        logs.append(mg.log())
        mg.kill()

        mg.start()                      # from the snapshot (ef) and the journal (er, rekey, delete)
        api = Control(mg)
        got = {t["name"]: t for t in api.ok("GET", "/v1/esp-tunnels")}
        assert sorted(got) == ["ef", "er"], got
        for name in ("ef", "er"):
            for f in ("local", "remote", "esn", "replay_window", "mtu", "network", "underlay"):
                assert got[name][f] == before[name][f], (name, f, got[name], before[name])
            assert sorted((s["spi"], s["dir"], s["algo"]) for s in got[name]["sas"]) \
                == sorted((s["spi"], s["dir"], s["algo"]) for s in before[name]["sas"])
        assert {s["spi"] for s in got["ef"]["sas"]} == {0x3003, 0x3002}, got["ef"]
        # The restored SAs run in AUTO's mode for their algorithm, shown in GET.
        modes = {(s["spi"], s["mode"], s["device"]) for t in got.values() for s in t["sas"]}
        assert {(m[0], m[1]) for m in modes} == {(0x3003, "direct"), (0x3002, "lookaside"),
                                                 (0x4001, "direct")}, modes
        assert all(m[2] == "intel-ipsec-mb" for m in modes if m[1] == "direct"), modes
        er_sa = got["er"]["sas"][0]
        assert er_sa["lifetime"]["seconds"] == [3000, 3600], er_sa
        ifaces = {i["name"]: i for i in api.ok("GET", "/v1/interfaces")}
        assert "10.96.0.1/30" in json.dumps(ifaces["ef"]), ifaces["ef"]
        assert "fd00:96::1/64" in json.dumps(ifaces["er"]), ifaces["er"]
        routes = json.dumps(api.ok("GET", "/v1/routes"))
        assert "10.95.0.0/16" in routes and "fd00:95::/64" in routes, routes
        logs.append(mg.log())
        mg.kill()

        # Outbound SAs resume above a reservation (no key in that file).
        seqs = json.loads((state / "esp-seq.json").read_text())["sas"]
        res = {(s["tunnel"], s["spi"], s["direction"]): s["seq"] for s in seqs}
        assert res[("ef", 0x3003, "out")] > 1 << 24 and res[("er", 0x4001, "out")] > 1 << 24, res
        snap = json.loads((state / "snapshot.json").read_text())
        stored = {t["name"]: t for t in snap["esp"]}
        assert set(stored) == {"ef", "er"}, snap["esp"]
        out = [s for s in stored["ef"]["sas"] if s["direction"] == "out"][0]
        assert out["seq"] >= res[("ef", 0x3003, "out")] - (1 << 25), out
        assert "key" not in out and "salt" not in out and out["keys_sealed"], out

        # A sealed blob moved to another SA does not open there.
        good = (state / "snapshot.json").read_text()
        sas = stored["ef"]["sas"]
        sas[0]["keys_sealed"], sas[1]["keys_sealed"] = sas[1]["keys_sealed"], sas[0]["keys_sealed"]
        (state / "snapshot.json").write_text(json.dumps(snap))
        mg.start()
        api = Control(mg)
        names = [t["name"] for t in api.ok("GET", "/v1/esp-tunnels")]
        log = mg.log()
        logs.append(log)
        assert names == ["er"], names
        assert "ef: sas[0]: the keys do not open with the state key" in log, log
        mg.kill()

        (state / "snapshot.json").write_text(good)
        key = state / "wg-state.key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.stat().st_size == 32
        mg.start()
        names = sorted(t["name"] for t in Control(mg).ok("GET", "/v1/esp-tunnels"))
        assert names == ["ef", "er"], names
        logs.append(mg.log())
        mg.stop()
    finally:
        mg.kill()
    secrets_b = []
    for k in keys:
        raw = bytes.fromhex(k)
        secrets_b += [k.encode(), k.upper().encode(), raw]
    for f in state.iterdir():
        data = f.read_bytes()
        assert not any(s in data for s in secrets_b if len(s) >= 8), f"{f.name} holds a key"
    text = "".join(logs).encode()
    assert not any(s in text for s in secrets_b if len(s) >= 8), "the log holds a key"
