# SPDX-License-Identifier: BSD-3-Clause
"""Device discovery in a pod, through `meshgate --check` and a refused start:
PCIDEVICE_<RESOURCE> (the SR-IOV device plugin's list), its _INFO JSON, and
the Multus network-status annotation in the downward-API file. Every bad
value must give an error that names the variable, file or annotation and the
config line of the port."""
import json
import os
import subprocess

import pytest

from mgrun import MESHGATE

VAR = "PCIDEVICE_INTEL_COM_SRIOV_A"
STATUS = "k8s.v1.cni.cncf.io/network-status"

CONFIG = """dpdk: {hugepages: false}
networks: [{name: pods}, {name: uplink}]
ports:
  - name: vf0
    device: "%s"
    network: pods
  - name: vf1
    device: "%s"
    network: uplink
"""


def go_quote(s):
    """The downward API writes annotation values with Go's %q."""
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def info_json(*addrs):
    return json.dumps({a: {"generic": {"deviceID": a},
                           "vfio": {"dev-mount": "/dev/vfio/20", "mount": "/dev/vfio/vfio"}}
                       for a in addrs})


def status_entry(name, iface, pci=None):
    e = {"name": name, "interface": iface, "dns": {}}
    if pci is not None:
        e["device-info"] = {"type": "pci", "version": "1.1.0", "pci": {"pci-address": pci}}
    return e


def annotations(tmp_path, status, key=STATUS, raw=None):
    """A downward-API annotations file as the kubelet writes it."""
    value = raw if raw is not None else go_quote(json.dumps(status, indent=4))
    p = tmp_path / "annotations"
    p.write_text('k8s.v1.cni.cncf.io/networks="sriov-pods,sriov-uplink"\n'
                 f"{key}={value}\n"
                 'kubernetes.io/config.seen="2026-11-26T10:00:00.000000000Z"\n')
    return p


def run(tmp_path, dev0, dev1, env=None, check=True):
    cfg = tmp_path / "pod.yaml"
    cfg.write_text(CONFIG % (dev0, dev1))
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("PCIDEVICE_") and k != "MESHGATE_PODINFO_ANNOTATIONS"}
    e["MESHGATE_PODINFO_ANNOTATIONS"] = str(tmp_path / "none")
    e.update(env or {})
    args = [str(MESHGATE), "-c", str(cfg)]
    if check:
        args.insert(1, "--check")
    else:
        args += ["--", "--file-prefix", "mgk8snostart"]
    r = subprocess.run(args, capture_output=True, text=True, env=e, timeout=30)
    return r.returncode, r.stdout + r.stderr


def test_env_list_and_index(tmp_path):
    env = {VAR: "0000:3b:02.0,3b:02.3"}
    rc, out = run(tmp_path, f"env:{VAR}", f"env:{VAR}#1", env)
    assert rc == 0, out
    assert "OK (2 port(s)" in out
    # Both entries name one device: refused, naming both ports.
    rc, out = run(tmp_path, f"env:{VAR}", f"env:{VAR}#0", env)
    assert rc == 1
    assert (":7: ports[vf1].device: 'env:%s#0' is PCI device 0000:3b:02.0, which port 'vf0' "
            "('env:%s') uses too" % (VAR, VAR)) in out


def test_env_with_info_json(tmp_path):
    env = {VAR: "0000:3b:02.0,0000:3b:02.3", VAR + "_INFO": info_json("0000:3b:02.3",
                                                                       "0000:3b:02.0")}
    rc, out = run(tmp_path, f"env:{VAR}", f"env:{VAR}#1", env)
    assert rc == 0, out
    # Only the JSON (an older plugin setting only _INFO): its addresses, sorted.
    env = {VAR + "_INFO": info_json("0000:3b:02.3", "0000:3b:02.0")}
    rc, out = run(tmp_path, f"env:{VAR}#1", "0000:3b:02.3", env)
    assert rc == 1
    assert "'0000:3b:02.3' is PCI device 0000:3b:02.3, which port 'vf0'" in out


@pytest.mark.parametrize("env,dev,message", [
    ({VAR: "zz"}, f"env:{VAR}", f"{VAR} holds 'zz', which is not a PCI address"),
    ({VAR: "0000:3b:02.0"}, f"env:{VAR}#3",
     f"{VAR} lists 1 device(s); entry #3 does not exist"),
    ({VAR: "0000:3b:02.0", VAR + "_INFO": "{not json"}, f"env:{VAR}",
     f"{VAR}_INFO is not valid JSON"),
    ({VAR: "0000:3b:02.0", VAR + "_INFO": '["0000:3b:02.0"]'}, f"env:{VAR}",
     f"{VAR}_INFO is not a JSON object keyed by PCI address"),
    ({VAR: "0000:3b:02.0", VAR + "_INFO": info_json("0000:3b:02.5")}, f"env:{VAR}",
     f"{VAR} lists 0000:3b:02.0 but {VAR}_INFO does not describe it"),
    ({VAR: "0000:3b:02.0", VAR + "_INFO": info_json("0000:3b:02.0", "0000:3b:02.5")},
     f"env:{VAR}", f"{VAR}_INFO describes 0000:3b:02.5 but {VAR} does not list it"),
    ({VAR: "0000:3b:02.0", VAR + "_INFO": '{"0000:3b:02.0": {"generic": {"deviceID": "x"}}}'},
     f"env:{VAR}", f"{VAR}_INFO: the entry of 0000:3b:02.0 is not an object whose "
     "generic.deviceID is that address"),
])
def test_env_bad_values(tmp_path, env, dev, message):
    rc, out = run(tmp_path, dev, "net_null0", env)
    assert rc == 1
    assert f"pod.yaml:4: ports[vf0].device: {message}" in out, out


def test_env_missing_warns_in_check_and_refuses_start(tmp_path):
    rc, out = run(tmp_path, f"env:{VAR}", "net_null0")
    assert rc == 0, out
    assert (f"ports[vf0].device: warning: environment variable {VAR} is not set "
            "(does the pod request the SR-IOV resource?)") in out
    rc, out = run(tmp_path, f"env:{VAR}", "net_null0", check=False)
    assert rc == 1
    assert f"ports[vf0].device: environment variable {VAR} is not set" in out
    assert "nothing started" in out
    assert not os.path.exists("/var/run/dpdk/mgk8snostart")


def test_network_status(tmp_path):
    ann = annotations(tmp_path, [
        {"name": "k8s-pod-network", "interface": "eth0", "ips": ["10.244.1.5"],
         "default": True, "dns": {}},
        status_entry("telco/sriov-pods", "net1", "0000:3b:02.1"),
        status_entry("telco/sriov-uplink", "net2", "3b:0a.4"),
    ])
    env = {"MESHGATE_PODINFO_ANNOTATIONS": str(ann)}
    rc, out = run(tmp_path, "k8s:sriov-pods", "k8s:telco/sriov-uplink@net2", env)
    assert rc == 0, out
    # The attachment's device, not another's: vf1 by name equals vf0's address.
    rc, out = run(tmp_path, "k8s:sriov-pods", "0000:3b:02.1", env)
    assert rc == 1
    assert "'0000:3b:02.1' is PCI device 0000:3b:02.1, which port 'vf0' ('k8s:sriov-pods')" in out
    rc, out = run(tmp_path, "k8s:sriov-uplink", "0000:3b:0a.4", env)
    assert "which port 'vf0' ('k8s:sriov-uplink')" in out


def test_network_status_older_key(tmp_path):
    ann = annotations(tmp_path, [status_entry("default/sriov-pods", "net1", "0000:3b:02.1")],
                      key="k8s.v1.cni.cncf.io/networks-status")
    rc, out = run(tmp_path, "k8s:sriov-pods", "net_null0",
                  {"MESHGATE_PODINFO_ANNOTATIONS": str(ann)})
    assert rc == 0, out


def test_network_status_bad(tmp_path):
    two = [status_entry("a/sriov-pods", "net1", "0000:3b:02.1"),
           status_entry("b/sriov-pods", "net2", "0000:3b:02.2"),
           status_entry("a/kernel-net", "net3"),
           status_entry("a/bad-addr", "net4", "3b:02")]
    ann = annotations(tmp_path, two)
    env = {"MESHGATE_PODINFO_ANNOTATIONS": str(ann)}
    cases = [
        ("k8s:sriov-pods", f"attachment 'sriov-pods' matches both a/sriov-pods (interface net1) "
                           f"and b/sriov-pods (interface net2) in the {STATUS} annotation in {ann}"),
        ("k8s:missing", f"attachment 'missing' is not in the {STATUS} annotation in {ann} "
                        "(it lists: a/sriov-pods, b/sriov-pods, a/kernel-net, a/bad-addr)"),
        ("k8s:kernel-net", f"attachment a/kernel-net (interface net3) in the {STATUS} annotation "
                           f"in {ann} has no device-info.pci.pci-address"),
        ("k8s:bad-addr", f"attachment a/bad-addr in the {STATUS} annotation in {ann} has "
                         "pci-address '3b:02', which is not a PCI address"),
        ("k8s:a/sriov-pods@net9", "attachment 'a/sriov-pods@net9' is not in the"),
        ("k8s:/x", "'k8s:/x' is not k8s:[NAMESPACE/]ATTACHMENT[@INTERFACE]"),
    ]
    for dev, message in cases:
        rc, out = run(tmp_path, dev, "net_null0", env)
        assert rc == 1, (dev, out)
        assert f"pod.yaml:4: ports[vf0].device: {message}" in out, (dev, out)
    # Disambiguated, both resolve.
    rc, out = run(tmp_path, "k8s:a/sriov-pods", "k8s:sriov-pods@net2", env)
    assert rc == 0, out


def test_network_status_bad_file(tmp_path):
    ann = annotations(tmp_path, None, raw='"[{\\"name\\": "')
    env = {"MESHGATE_PODINFO_ANNOTATIONS": str(ann)}
    rc, out = run(tmp_path, "k8s:sriov-pods", "net_null0", env)
    assert rc == 1
    assert f"the {STATUS} annotation in {ann} is not valid JSON" in out, out
    ann = annotations(tmp_path, None, raw="[unquoted]")
    rc, out = run(tmp_path, "k8s:sriov-pods", "net_null0", env)
    assert f"{ann}:2: the {STATUS} annotation is not a quoted string" in out, out
    ann.write_text('kubernetes.io/config.seen="x"\n')
    rc, out = run(tmp_path, "k8s:sriov-pods", "net_null0", env)
    assert rc == 1
    assert f"{ann} has no {STATUS} annotation (is Multus running" in out, out
    ann = annotations(tmp_path, {"name": "x"})
    rc, out = run(tmp_path, "k8s:sriov-pods", "net_null0", env)
    assert f"the {STATUS} annotation in {ann} is not a JSON list" in out, out
    # No file at all: only a warning for --check (not in a pod), an error at start.
    rc, out = run(tmp_path, "k8s:sriov-pods", "net_null0")
    assert rc == 0, out
    assert "warning: cannot read " in out and "(MESHGATE_PODINFO_ANNOTATIONS)" in out
    rc, out = run(tmp_path, "k8s:sriov-pods", "net_null0", check=False)
    assert rc == 1 and "nothing started" in out


def test_network_status_go_escapes(tmp_path):
    """The kubelet quotes with Go's %q: \\t, \\u, \\x and octal escapes decode."""
    status = ('[{"name":"a/sriov-pods",\t"interface":"net1","note":"caf\u00e9 AA",'
              '"device-info":{"type":"pci","pci":{"pci-address":"0000:3b:02.1"}}}]')
    raw = go_quote(status).replace("\u00e9", "\\u00e9").replace("AA", "\\x41\\101")
    assert "\\u00e9" in raw and "\\x41\\101" in raw and "\\t" in raw
    ann = annotations(tmp_path, None, raw=raw)
    env = {"MESHGATE_PODINFO_ANNOTATIONS": str(ann)}
    rc, out = run(tmp_path, "k8s:sriov-pods", "0000:3b:02.1", env)
    # Decoded and parsed: the device resolves (and clashes with vf1's, by design).
    assert rc == 1 and "is PCI device 0000:3b:02.1, which port 'vf0'" in out, out
    ann = annotations(tmp_path, None, raw=raw.replace("\\x41", "\\q"))
    rc, out = run(tmp_path, "k8s:sriov-pods", "net_null0", env)
    assert rc == 1 and "the k8s.v1.cni.cncf.io/network-status annotation is not a quoted " \
        "string" in out, out
