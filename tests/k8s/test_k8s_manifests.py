# SPDX-License-Identifier: BSD-3-Clause
"""Every YAML file in conf/ parses; meshgate configurations (the files
themselves and the one inside the ConfigMap) pass `meshgate --check`, also
with the pod's devices present; Kubernetes manifests carry the fields their
kinds require (manifest_schema.py), and the schema catches the mistakes it
is there for. The device plugin's config.json, the systemd units and the
Containerfile are checked against what they refer to."""
import copy
import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

import manifest_schema
from mgrun import MESHGATE, ROOT, stage_files

CONF = ROOT / "conf"
K8S = CONF / "k8s"


def yaml_files():
    return sorted(p for p in CONF.rglob("*.y*ml"))


def k8s_docs():
    docs = []
    for p in sorted(K8S.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(p.read_text()) if d is not None]
    return docs


def plugin_resources():
    cfg = json.loads((K8S / "sriovdp-config.json").read_text())
    return {f"{r['resourcePrefix']}/{r['resourceName']}" for r in cfg["resourceList"]}


def is_meshgate_config(doc):
    return isinstance(doc, dict) and "apiVersion" not in doc and "openapi" not in doc


def test_every_yaml_parses():
    files = yaml_files()
    assert len(files) >= 8, files
    for p in files:
        docs = list(yaml.safe_load_all(p.read_text()))
        assert docs and all(d is None or isinstance(d, dict) for d in docs), p


def check(tmp_path, text, env=None):
    cfg = tmp_path / "m.yaml"
    cfg.write_text(stage_files(text, tmp_path))
    e = {k: v for k, v in os.environ.items() if not k.startswith("PCIDEVICE_")}
    e["MESHGATE_PODINFO_ANNOTATIONS"] = str(tmp_path / "absent")
    e.update(env or {})
    return subprocess.run([str(MESHGATE), "--check", "-c", str(cfg)], capture_output=True,
                          text=True, env=e, timeout=30)


def test_meshgate_configs_check(tmp_path):
    n = 0
    for p in yaml_files():
        docs = list(yaml.safe_load_all(p.read_text()))
        if len(docs) == 1 and is_meshgate_config(docs[0]):
            r = check(tmp_path, p.read_text())
            assert r.returncode == 0, (p, r.stdout + r.stderr)
            n += 1
    assert n >= 2


def embedded_config():
    cms = [d for d in k8s_docs() if d["kind"] == "ConfigMap" and
           "meshgate.yaml" in (d.get("data") or {})]
    assert len(cms) == 1
    return cms[0]["data"]["meshgate.yaml"]


def test_configmap_config_checks_in_a_pod(tmp_path):
    text = embedded_config()
    # Outside a pod: only warnings for the k8s: devices.
    r = check(tmp_path, text)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning: cannot read" in r.stderr
    # In the pod: Multus's network-status resolves both attachments the
    # DaemonSet asks for, to different VFs, with no warning left.
    status = [{"name": "meshgate/sriov-pods", "interface": "net1",
               "device-info": {"type": "pci", "pci": {"pci-address": "0000:3b:02.0"}}},
              {"name": "meshgate/sriov-uplink", "interface": "net2",
               "device-info": {"type": "pci", "pci": {"pci-address": "0000:d8:02.0"}}}]
    ann = tmp_path / "annotations"
    ann.write_text("k8s.v1.cni.cncf.io/network-status=" + json.dumps(json.dumps(status)) + "\n")
    r = check(tmp_path, text, {"MESHGATE_PODINFO_ANNOTATIONS": str(ann)})
    assert r.returncode == 0 and "warning" not in r.stderr, r.stdout + r.stderr
    # The DaemonSet's attachments are the ones the config's devices name.
    ds = [d for d in k8s_docs() if d["kind"] == "DaemonSet"][0]
    wanted = manifest_schema.attachments(
        ds["spec"]["template"]["metadata"]["annotations"][manifest_schema.NETWORKS_KEY])
    devices = {p["device"] for p in yaml.safe_load(text)["ports"]}
    assert devices == {f"k8s:{ns}/{name}" for ns, name in wanted}


def test_manifests_validate():
    docs = k8s_docs()
    kinds = {d["kind"] for d in docs}
    assert {"NetworkAttachmentDefinition", "DaemonSet", "ConfigMap",
            "KubeletConfiguration", "Kustomization"} <= kinds
    assert manifest_schema.validate(docs, plugin_resources()) == []


def mutate(docs, kind, fn):
    docs = copy.deepcopy(docs)
    for d in docs:
        if d["kind"] == kind:
            fn(d)
            return docs
    raise AssertionError(kind)


def container(d):
    return d["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("kind,fn,expected", [
    ("DaemonSet", lambda d: container(d)["securityContext"]["capabilities"]["add"]
     .remove("IPC_LOCK"), "lacks IPC_LOCK"),
    ("DaemonSet", lambda d: container(d)["resources"]["requests"].update(cpu="2"),
     "requests must equal resources.limits"),
    ("DaemonSet", lambda d: [r.update(cpu="1500m") for r in container(d)["resources"].values()],
     "is not a whole number of CPUs"),
    ("DaemonSet", lambda d: [r.pop("hugepages-1Gi") for r in container(d)["resources"].values()],
     "no hugepages-1Gi/hugepages-2Mi resource"),
    ("DaemonSet", lambda d: [v.update(emptyDir={}) for v in d["spec"]["template"]["spec"]
                             ["volumes"] if v["name"] == "hugepages"],
     "no emptyDir volume of medium HugePages"),
    ("DaemonSet", lambda d: [v.pop("downwardAPI") or v.update(emptyDir={}) for v in
                             d["spec"]["template"]["spec"]["volumes"] if v["name"] == "podinfo"],
     "no downwardAPI volume with metadata.annotations"),
    ("DaemonSet", lambda d: [r.pop("intel.com/meshgate_uplink") for r in
                             container(d)["resources"].values()],
     "attachment 'meshgate/sriov-uplink' needs resource 'intel.com/meshgate_uplink'"),
    ("DaemonSet", lambda d: d["spec"]["selector"]["matchLabels"].update(x="y"),
     "do not select the template's labels"),
    ("DaemonSet", lambda d: container(d)["volumeMounts"].append({"name": "nope",
                                                                 "mountPath": "/x"}),
     "volumeMount 'nope' has no volume"),
    ("NetworkAttachmentDefinition", lambda d: d["metadata"]["annotations"].clear(),
     "an sriov network needs the annotation k8s.v1.cni.cncf.io/resourceName"),
    ("NetworkAttachmentDefinition", lambda d: d["spec"].update(config="{"),
     "spec.config is not JSON"),
    ("NetworkAttachmentDefinition", lambda d: d["metadata"].update(name="other"),
     "has no NetworkAttachmentDefinition"),
    ("ConfigMap", lambda d: d.pop("data"), "ConfigMap/meshgate-config: data is required"),
    ("ConfigMap", lambda d: d.update(apiVersion="v2"), "apiVersion is 'v2', expected 'v1'"),
    ("ConfigMap", lambda d: d.update(kind="ConfigMapp"), "is not one this schema knows"),
])
def test_schema_catches(kind, fn, expected):
    errs = manifest_schema.validate(mutate(k8s_docs(), kind, fn), plugin_resources())
    assert any(expected in e for e in errs), errs


def test_resource_not_in_device_plugin():
    errs = manifest_schema.validate(k8s_docs(), {"intel.com/meshgate_pods"})
    assert errs == ["DaemonSet/meshgate: resource 'intel.com/meshgate_uplink' of attachment "
                    "'meshgate/sriov-uplink' is not in the device plugin's resourceList"]


def test_device_plugin_config():
    raw = json.loads((K8S / "sriovdp-config.json").read_text())
    cm = [d for d in k8s_docs() if get_name(d) == "sriovdp-config"][0]
    assert json.loads(cm["data"]["config.json"]) == raw
    names = set()
    for r in raw["resourceList"]:
        assert re.match(r"^[A-Za-z0-9_]+$", r["resourceName"]), r
        assert r["selectors"]["drivers"] == ["vfio-pci"], r
        names.add(f"{r['resourcePrefix']}/{r['resourceName']}")
    nads = {d["metadata"]["annotations"][manifest_schema.RESOURCE_NAME_KEY]
            for d in k8s_docs() if d["kind"] == "NetworkAttachmentDefinition"}
    assert nads == names


def test_kustomization_lists_every_api_object():
    k = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(k["resources"])
    for r in listed:
        assert (K8S / r).is_file(), r
    objects = set()
    for p in K8S.glob("*.yaml"):
        kinds = {d["kind"] for d in yaml.safe_load_all(p.read_text()) if d}
        if not kinds & manifest_schema.NOT_OBJECTS:
            objects.add(p.name)
    assert listed == objects
    # The namespace comes before what lives in it.
    order = k["resources"]
    assert order.index("namespace.yaml") < order.index("networks.yaml")


def get_name(d):
    return (d.get("metadata") or {}).get("name")


def test_systemd_units(tmp_path):
    unit = (CONF / "systemd" / "meshgate.service").read_text()
    starts = re.findall(r"^ExecStart(?:Pre)?=(\S+) (.*)$", unit, re.M)
    assert [s[0] for s in starts] == ["/usr/bin/meshgate", "/usr/bin/meshgate"]
    assert starts[0][1].startswith("--check -c /etc/meshgate/meshgate.yaml")
    # The options it passes are meshgate's: run them against a real file.
    cfg = tmp_path / "m.yaml"
    cfg.write_text(stage_files((CONF / "example.yaml").read_text(), tmp_path))
    args = starts[0][1].replace("/etc/meshgate/meshgate.yaml", str(cfg)).split()
    r = subprocess.run([str(MESHGATE)] + args, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "--stats-interval 0" in starts[1][1]
    host = (CONF / "systemd" / "meshgate-host.service").read_text()
    m = re.search(r"^ExecStart=\S+ (.*)$", host, re.M)
    setup = ROOT / "tools" / "setup-host"
    if setup.exists():
        r = subprocess.run([str(setup), "--dry-run", "--sysfs", str(tmp_path / "nosys")]
                           + m.group(1).split(), capture_output=True, text=True, timeout=30)
        assert "usage" not in r.stderr, r.stderr
    if shutil.which("systemd-analyze"):
        for u in ("meshgate.service", "meshgate-host.service"):
            r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                                str(CONF / "systemd" / u)], capture_output=True, text=True)
            # Binaries not installed here are expected; syntax errors are not.
            bad = [line for line in r.stderr.splitlines()
                   if any(w in line for w in ("nknown", "Invalid", "Failed to parse",
                                                  "bad unit", "Refusing"))]
            assert not bad, r.stderr


def test_containerfile():
    text = (K8S / "Containerfile").read_text()
    froms = re.findall(r"^FROM (\S+)", text, re.M)
    assert froms[0] == "debian:12" and froms[-1].startswith("debian:12")
    for src in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.M):
        for s in src.split():
            assert (ROOT / s).exists(), f"COPY {s}: no such file in the tree"
    pkgs = []
    for block in re.findall(r"apt-get install -y --no-install-recommends \\\n(.*?)\\\n &&",
                            text, re.S):
        pkgs += block.replace("\\", " ").split()
    assert "libdpdk-dev" in pkgs and "dpdk" in pkgs
    if shutil.which("apt-cache"):
        r = subprocess.run(["apt-cache", "show", "--no-all-versions"] + pkgs,
                           capture_output=True, text=True)
        found = set(re.findall(r"^Package: (\S+)", r.stdout, re.M))
        assert set(pkgs) <= found, set(pkgs) - found
