# SPDX-License-Identifier: BSD-3-Clause
"""The meshgate command line: --check, bad files that must not start,
options, clean stop on SIGTERM, and meshgatectl against a live process."""
import os
import pathlib
import signal
import subprocess
import time

from mgrun import MESHGATE, MESHGATECTL, ROOT, Meshgate, check, stage_files

from pcapdp import config, write_pcap


def test_check_accepts_every_example_config(tmp_path):
    confs = sorted((ROOT / "conf").glob("*.yaml"))
    assert confs, "conf/ has example configurations"
    for c in confs:
        if c.name == "openapi.yaml":
            continue
        staged = tmp_path / c.name
        staged.write_text(stage_files(c.read_text(), tmp_path))
        r = subprocess.run([str(MESHGATE), "--check", "-c", str(staged)], capture_output=True,
                           text=True)
        assert r.returncode == 0, (c, r.stdout + r.stderr)
        assert r.stdout.startswith(f"{staged}: OK")


def test_check_embedded_default():
    r = subprocess.run([str(MESHGATE), "--check"], capture_output=True, text=True)
    assert r.returncode == 0
    assert r.stdout == "<embedded default>: OK (2 port(s), 2 route(s))\n"


def test_print_default_is_conf_default():
    r = subprocess.run([str(MESHGATE), "--print-default"], capture_output=True, text=True)
    assert r.returncode == 0
    assert r.stdout == (ROOT / "conf" / "default.yaml").read_text()


def test_bad_file_reports_every_error_and_starts_nothing(tmp_path):
    bad = ("ports:\n  - {name: a, device: net_null0, mtu: 10}\n"
           "routes:\n  - {prefix: 10.0.0.0/8, via: 10.1.1.1}\n")
    rc, out = check(bad, tmp_path)
    assert rc == 1
    lines = out.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].endswith(":2:39: ports[0].mtu: 10 is out of range 68-9600")
    assert lines[1].endswith(":4:31: routes[0].via: next hop 10.1.1.1 is not in a connected "
                             "subnet of network 'default'")
    assert lines[2].startswith("meshgate: 2 errors in ") and lines[2].endswith("nothing started")
    # Without --check: the same, and no EAL was started (no runtime directory).
    p = tmp_path / "bad.yaml"
    p.write_text(bad)
    r = subprocess.run([str(MESHGATE), "-c", str(p), "--", "--file-prefix", "mgnostart"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "nothing started" in r.stderr
    assert not os.path.exists("/var/run/dpdk/mgnostart")


def test_check_reads_the_control_planes_files_and_addresses(tmp_path):
    """What would stop REST or the NSM socket at start is found by --check,
    at the line naming it: a token file that is missing or shorter than 16
    characters, TLS files that cannot be read or hold no PEM block, a
    listening address that is not ADDRESS:PORT. `nsm_socket: ""` turns the
    socket off, as documented. No token appears in any message."""
    short = tmp_path / "short.token"
    short.write_text("0123456789\n")
    good = tmp_path / "good.token"
    good.write_text("0123456789abcdef0123\n")
    notpem = tmp_path / "notpem.txt"
    notpem.write_text("just text\n")
    base = "ports:\n  - {name: a, device: net_null0}\ncontrol:\n"
    cases = [
        (f"  rest: {{token_file: {short}}}\n", ":4:22: control.rest.token_file: "
         f"{short} holds fewer than 16 characters"),
        (f"  rest: {{token_file: {tmp_path}/none}}\n", ":4:22: control.rest.token_file: "
         f"cannot read {tmp_path}/none: No such file or directory"),
        (f"  rest:\n    tls: {{cert: {notpem}, key: {tmp_path}/nokey.pem}}\n",
         [f"control.rest.tls.cert: {notpem} holds no PEM block",
          f"control.rest.tls.key: cannot read {tmp_path}/nokey.pem"]),
        ("  rest: {listen: \"localhost:8080\"}\n",
         ":4:18: control.rest.listen: 'localhost:8080' is not ADDRESS:PORT"),
        ("  rest: {listen: \"127.0.0.1:80x\"}\n",
         ":4:18: control.rest.listen: '127.0.0.1:80x' is not ADDRESS:PORT"),
        ("  rest: {listen: \"[::1]:65536\"}\n",
         ":4:18: control.rest.listen: '[::1]:65536' is not ADDRESS:PORT"),
    ]
    for text, want in cases:
        rc, out = check(base + text, tmp_path)
        assert rc == 1, (text, out)
        for w in [want] if isinstance(want, str) else want:
            assert w in out, (text, w, out)
        assert "0123456789" not in out, out
    for text in (f"  rest: {{token_file: {good}, listen: \"[::1]:0\"}}\n",
                 "  nsm_socket: \"\"\n  rest: {listen: \"127.0.0.1:8080\"}\n"):
        rc, out = check(base + text, tmp_path)
        assert rc == 0, (text, out)


def test_missing_file_and_bad_options(tmp_path):
    r = subprocess.run([str(MESHGATE), "-c", str(tmp_path / "nope.yaml")], capture_output=True,
                       text=True)
    assert r.returncode == 1 and "nope.yaml: cannot open: No such file or directory" in r.stderr
    r = subprocess.run([str(MESHGATE), "--frobnicate"], capture_output=True, text=True)
    assert r.returncode == 2 and "usage:" in r.stderr
    r = subprocess.run([str(MESHGATE), "--stats-interval", "x"], capture_output=True, text=True)
    assert r.returncode == 2 and "--stats-interval: 'x' is not 0-86400" in r.stderr
    r = subprocess.run([str(MESHGATE), "stray"], capture_output=True, text=True)
    assert r.returncode == 2 and "EAL arguments go after --" in r.stderr


def test_device_that_cannot_open_is_named(tmp_path):
    def start(device):
        p = tmp_path / "c.yaml"
        p.write_text("dpdk: {lcores: '0-1', memory_mb: 512}\n"
                     f"ports:\n  - {{name: uplink, device: '{device}'}}\n")
        return subprocess.run([str(MESHGATE), "-c", str(p), "--", "--file-prefix", "mgbaddev"],
                              capture_output=True, text=True, timeout=60)
    r = start("net_af_packet9,iface=mgnope0")
    assert r.returncode == 1
    assert "ports[uplink].device: interface 'mgnope0' does not exist in this network " \
           "namespace" in r.stderr
    r = start("net_bogus0,x=1")
    assert r.returncode == 1
    assert "ports[uplink].device: cannot create device 'net_bogus0,x=1'" in r.stderr
    assert not os.path.exists("/var/run/dpdk/mgbaddev")


def test_sigterm_stops_cleanly_with_counters(tmp_path):
    write_pcap(tmp_path / "in_a.pcap", [])
    write_pcap(tmp_path / "in_b.pcap", [])
    mg = Meshgate(tmp_path, config(tmp_path), name="term").start()
    mg.proc.send_signal(signal.SIGTERM)
    rc = mg.proc.wait(30)
    time.sleep(0.2)
    assert rc == 0
    log = mg.log()
    assert "meshgate: stopping" in log and "--- final counters ---" in log


def test_meshgatectl_reads_a_running_gateway(tmp_path):
    write_pcap(tmp_path / "in_a.pcap", [])
    write_pcap(tmp_path / "in_b.pcap", [])
    with Meshgate(tmp_path, config(tmp_path), name="ctl") as mg:
        time.sleep(1.2)
        r = subprocess.run([str(MESHGATECTL), "-p", mg.prefix, "stats"], capture_output=True,
                           text=True, timeout=10)
        assert r.returncode == 0, r.stderr
        assert "port" in r.stdout and "\na " in r.stdout and "\nb " in r.stdout
        assert "port-rx" in r.stdout
        r = subprocess.run([str(MESHGATECTL), "-p", mg.prefix, "--json", "drops"],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 0 and '"no_route": 0' in r.stdout
        assert mg.telemetry("/meshgate/stats")["workers"] == 1
    r = subprocess.run([str(MESHGATECTL), "-p", "mg-not-running", "stats"], capture_output=True,
                       text=True)
    assert r.returncode == 3 and "cannot reach meshgate" in r.stderr


def test_eal_arguments_after_dashdash_override_the_file(tmp_path):
    cfg = ("dpdk: {lcores: '0-1', memory_mb: 512}\n"
           "ports:\n  - {name: n0, device: net_null0, ipv4: [10.0.0.1/24]}\n"
           "  - {name: n1, device: net_null1, ipv4: [10.0.1.1/24]}\n")
    # The file says one worker; --lcores after -- gives two (sharing CPU 0 here).
    with Meshgate(tmp_path, cfg, name="ovr", eal=["--lcores", "0,1@0,2@0"]) as mg:
        time.sleep(1.2)
        assert mg.telemetry("/meshgate/stats")["workers"] == 2
    assert len(mg.stats["workers"]) == 2


def test_device_without_a_tx_queue_per_worker_is_refused(tmp_path):
    write_pcap(tmp_path / "in.pcap", [])
    p = tmp_path / "c.yaml"
    p.write_text("dpdk: {memory_mb: 512}\nports:\n"
                 f"  - {{name: cap, device: 'net_pcap7,rx_pcap={tmp_path}/in.pcap,tx_pcap={tmp_path}/o.pcap'}}\n")
    r = subprocess.run([str(MESHGATE), "-c", str(p), "--", "--lcores", "0,1@0,2@0",
                        "--file-prefix", "mgtxq"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "ports[cap].device: net_pcap offers 1 TX queue(s) but meshgate needs one per " \
           "worker (2): use fewer workers or a device with more queues" in r.stderr
