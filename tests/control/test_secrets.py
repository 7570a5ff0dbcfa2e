# SPDX-License-Identifier: BSD-3-Clause
"""Keys, salts and PSKs never come back out, against a running meshgate:
not in configuration errors (a key that is too long), not in JSON parse
errors (jansson quotes the token it stopped at, and a salt typed without
quotes is one), not in the durable state when an IPSEC preference was
offered but another mechanism chosen, and not in the process's memory once
the requests that carried them are done (accepted and closed, or refused).
The state files' modes and sealing are in test_durable.py and
test_wg_state.py; the token checks in test_security.py."""
import json
import secrets
import socket
import subprocess

from mgrun import MESHGATECTL, Control, Meshgate, check, null_config

CONFIG = null_config(512, ports="a", hugepages=False)


def hexkey(n):
    return secrets.token_hex(n)


def ipsec(key_in, key_out, spi, salt_in="01020304", salt_out="05060708"):
    return {"cls": "REMOTE", "type": "IPSEC", "parameters": {
        "src_ip": "10.0.1.2", "algorithm": "aes-gcm-128",
        "src_spi": str(spi), "src_key": key_in, "src_salt": salt_in,
        "dst_spi": str(spi + 1), "dst_key": key_out, "dst_salt": salt_out}}


def memory_holds(pid, needles):
    """The needles found in any readable mapping of process @pid."""
    found = set()
    with open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in open(f"/proc/{pid}/maps"):
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if "r" not in parts[1] or hi - lo > (1 << 31) or parts[-1] == "[vvar]":
                continue
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except (OSError, ValueError, OverflowError):
                continue
            found |= {n for n in needles if n.encode() in data}
    return found


def test_config_errors_never_quote_keys(tmp_path):
    long_key = "S3CRET" * 24 + "="
    cfg = CONFIG + f"""wireguard:
  - name: wg0
    listen_port: 51900
    private_key: "{long_key}"
    peers:
      - public_key: "{long_key}"
        preshared_key: "{long_key}"
"""
    rc, out = check(cfg, tmp_path)
    assert rc == 1 and "wireguard[0].private_key: is too long" in out, out
    assert "peers[0].preshared_key: is too long" in out, out
    assert "S3CRET" not in out, out


def test_json_errors_never_quote_tokens(tmp_path):
    with Meshgate(tmp_path, CONFIG, name="secj") as mg:
        ctl = Control(mg)
        for method, path, body, secret in [
                ("POST", "/v1/esp-tunnels", b'{"name":"e2","sas":[{"salt": deadbeef}]}', "deadbeef"),
                ("POST", "/v1/connections",
                 b'{"connection":{"mechanism":{"parameters":{"src_salt": facefeed}}}}', "facefeed"),
                ("PUT", "/v1/wireguard/wg0", b'{"private_key": Sup3rSecret}', "Sup3rSecret")]:
            st, j = ctl.http(method, path, raw=body)
            assert st in (400, 404, 405), (path, st, j)
            assert secret not in json.dumps(j), j
        st, j = ctl.http("POST", "/v1/esp-tunnels", raw=b'{"name": deadbeef}')
        assert st == 400 and "invalid token" in j["error"]["message"], j
        assert "deadbeef" not in j["error"]["message"], j
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(ctl.nsm_path))
        s.settimeout(10)
        s.sendall(b'{"id":1,"method":"Request","params":{"connection":{"mechanism":'
                  b'{"parameters":{"dst_salt": beefcafe}}}}}\n')
        reply = s.recv(4096).decode()
        s.close()
        assert "not JSON" in reply and "beefcafe" not in reply, reply
        # meshgatectl reading a file of the user's says where, not what.
        bad = tmp_path / "tunnel.json"
        bad.write_text('{"name": "e3", "sas": [{"key": c0ffee00c0ffee00}]}')
        r = subprocess.run([str(MESHGATECTL), "-p", mg.prefix, "esp", "add", str(bad)],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0 and "not valid JSON" in r.stderr, r.stderr
        assert "c0ffee" not in r.stderr + r.stdout, r.stderr


def test_unchosen_ipsec_keys_are_not_stored(tmp_path):
    """VLAN chosen from [VLAN, IPSEC with static keys]: the IPSEC keys were
    written in clear to journal.jsonl (sealing only ran for IPSEC)."""
    state = tmp_path / "state"
    key_in, key_out = hexkey(16), hexkey(16)
    req = {"connection": {"id": "c1", "network_service": "default",
                          "context": {"ip_context": {"src_ip_addrs": ["172.21.1.2/24"],
                                                     "dst_ip_addrs": ["172.21.1.1/24"]}}},
           "mechanism_preferences": [
               {"cls": "LOCAL", "type": "VLAN", "parameters": {"base": "a", "vlan-id": "100"}},
               ipsec(key_in, key_out, 4097, "deadbeef", "feedface")]}
    with Meshgate(tmp_path, CONFIG + f"control:\n  state_dir: {state}\n", name="secs") as mg:
        ctl = Control(mg)
        kind, res = ctl.nsm("Request", req)
        assert kind == "result" and res["mechanism"]["type"] == "VLAN", res
        ctl.nsm("Request", {"connection": res})  # a refresh rewrites the entry
        stored = b"".join(f.read_bytes() for f in state.iterdir() if f.is_file())
        assert b'"c1"' in stored  # the connection is there ...
        for secret in (key_in, key_out, "deadbeef", "feedface"):
            assert secret.encode() not in stored, secret  # ... its IPSEC keys are not
        mg.kill()
        mg.start()
        assert [k["id"] for k in Control(mg).ok("GET", "/v1/connections")] == ["c1"]


def test_keys_leave_memory_with_their_requests(tmp_path):
    keys = {n: hexkey(16) for n in ("nsm_in", "nsm_out", "rest_in", "rest_out",
                                     "bad_in", "bad_out", "big")}
    with Meshgate(tmp_path, CONFIG, name="secm") as mg:
        ctl = Control(mg)
        conn = {"id": "n1", "network_service": "default",
                "mechanism": ipsec(keys["nsm_in"], keys["nsm_out"], 0x6001),
                "context": {"ip_context": {"src_ip_addrs": ["172.22.1.2/32"],
                                           "dst_ip_addrs": ["172.22.1.1/32"]}}}
        kind, res = ctl.nsm("Request", {"connection": conn})
        assert kind == "result", res
        assert ctl.nsm("Close", {"id": "n1"})[0] == "result"
        body = {"connection": dict(conn, id="r1", mechanism=ipsec(keys["rest_in"],
                                                                  keys["rest_out"], 0x7001))}
        assert ctl.http("POST", "/v1/connections", body)[0] in (200, 201)
        assert ctl.http("DELETE", "/v1/connections/r1")[0] == 204
        # Refused after parsing: no such base for the address.
        bad = dict(conn, id="b1", mechanism=ipsec(keys["bad_in"], keys["bad_out"], 0x8001))
        bad["mechanism"]["parameters"]["src_ip"] = "192.0.2.77"
        assert ctl.nsm("Request", {"connection": bad})[0] == "error"
        # A body over the size limit (413), its key in the part that was read.
        st, _ = ctl.http("POST", "/v1/esp-tunnels",
                         raw=('{"key":"%s","pad":"%s"}' % (keys["big"], "x" * (2 << 20))).encode())
        assert st == 413
        for _ in range(3):
            ctl.http("GET", "/v1/stats")
        assert ctl.ok("GET", "/v1/connections") == []
        left = memory_holds(mg.proc.pid, keys.values())
        assert not left, sorted(n for n, k in keys.items() if k in left)


def test_keys_read_from_files_leave_memory_with_their_objects(tmp_path):
    """Keys the configuration gave (inline ESP keys in the file, a WireGuard
    private_key_file, an IKE psk_file) are gone from the process once their
    tunnels are deleted: the files are read without stdio, whose buffers
    were freed with the keys still in them."""
    wg_priv = subprocess.run(["wg", "genkey"], capture_output=True, text=True,
                             check=True).stdout.strip()
    (tmp_path / "wg.key").write_text(wg_priv + "\n")
    psk = "psk-" + hexkey(20)
    (tmp_path / "ike.psk").write_text(psk + "\n")
    esp_key = hexkey(16)
    cfg = CONFIG + f"""wireguard:
  - name: wgf
    listen_port: 51931
    private_key_file: {tmp_path}/wg.key
    ipv4: [10.98.0.1/24]
esp_tunnels:
  - name: ef
    local: 10.0.1.1
    remote: 10.0.1.2
    sas:
      - {{direction: in, inner: ipv4, spi: 0x3101, algorithm: aes-gcm-128, key: "{esp_key}", salt: "0a0b0c0d"}}
  - name: ei
    local: 10.0.1.1
    remote: 10.0.1.3
    ike:
      role: responder
      psk_file: {tmp_path}/ike.psk
      local_ts: [10.20.0.0/16]
      remote_ts: [10.31.0.0/16]
"""
    needles = {"wg": wg_priv, "psk": psk, "esp": esp_key}
    with Meshgate(tmp_path, cfg, name="secf") as mg:
        ctl = Control(mg)
        for path in ("/v1/wireguard/wgf", "/v1/esp-tunnels/ef", "/v1/esp-tunnels/ei"):
            st, j = ctl.http("DELETE", path)
            assert st == 204, (path, st, j)
        for _ in range(3):
            ctl.http("GET", "/v1/stats")
        left = memory_holds(mg.proc.pid, needles.values())
        assert not left, sorted(n for n, k in needles.items() if k in left)
