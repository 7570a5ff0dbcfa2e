# SPDX-License-Identifier: BSD-3-Clause
"""A small schema for the Kubernetes manifests in conf/k8s: the fields each
kind requires (as the API server would refuse them), and what meshgate's pod
needs on top (Guaranteed QoS, hugepages, IPC_LOCK, the downward-API
annotations file, one VF per attachment). validate() returns a list of
problems, each naming the document and the field."""
import json
import re

# kind -> (apiVersion, [required dotted paths])
KINDS = {
    "Namespace": ("v1", []),
    "ConfigMap": ("v1", ["data"]),
    "Secret": ("v1", []),
    "Service": ("v1", ["spec.ports"]),
    "NetworkAttachmentDefinition": ("k8s.cni.cncf.io/v1", ["spec.config"]),
    "DaemonSet": ("apps/v1", ["spec.selector.matchLabels", "spec.template.metadata.labels",
                              "spec.template.spec.containers"]),
    "Deployment": ("apps/v1", ["spec.selector.matchLabels", "spec.template.metadata.labels",
                               "spec.template.spec.containers"]),
    "Pod": ("v1", ["spec.containers"]),
    "KubeletConfiguration": ("kubelet.config.k8s.io/v1beta1", []),
    "Kustomization": ("kustomize.config.k8s.io/v1beta1", ["resources"]),
}
# Kinds that are files for tools, not API objects: no metadata.name.
NOT_OBJECTS = {"KubeletConfiguration", "Kustomization"}
NAMESPACED = {"ConfigMap", "Secret", "Service", "NetworkAttachmentDefinition", "DaemonSet",
              "Deployment", "Pod"}
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
QTY_RE = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$")
RESOURCE_NAME_KEY = "k8s.v1.cni.cncf.io/resourceName"
NETWORKS_KEY = "k8s.v1.cni.cncf.io/networks"


def get(doc, path):
    cur = doc
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def where(doc):
    return f"{doc.get('kind', '?')}/{get(doc, 'metadata.name') or '?'}"


def _common(doc, errs):
    kind = doc.get("kind")
    if kind not in KINDS:
        errs.append(f"{where(doc)}: kind {kind!r} is not one this schema knows")
        return False
    api, required = KINDS[kind]
    if doc.get("apiVersion") != api:
        errs.append(f"{where(doc)}: apiVersion is {doc.get('apiVersion')!r}, expected {api!r}")
    if kind not in NOT_OBJECTS:
        name = get(doc, "metadata.name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            errs.append(f"{where(doc)}: metadata.name {name!r} is not a DNS-1123 name")
        if kind in NAMESPACED and not get(doc, "metadata.namespace"):
            errs.append(f"{where(doc)}: metadata.namespace is missing")
    for path in required:
        if get(doc, path) in (None, "", [], {}):
            errs.append(f"{where(doc)}: {path} is required")
    return True


def _nad(doc, errs):
    cfg = get(doc, "spec.config")
    if not isinstance(cfg, str):
        return
    try:
        c = json.loads(cfg)
    except ValueError as e:
        errs.append(f"{where(doc)}: spec.config is not JSON: {e}")
        return
    for k in ("cniVersion", "type", "name"):
        if k not in c:
            errs.append(f"{where(doc)}: spec.config.{k} is required")
    if c.get("name") not in (None, get(doc, "metadata.name")):
        errs.append(f"{where(doc)}: spec.config.name {c.get('name')!r} differs from "
                    "metadata.name")
    if c.get("type") == "sriov":
        rn = (get(doc, "metadata.annotations") or {}).get(RESOURCE_NAME_KEY)
        if not rn or "/" not in rn:
            errs.append(f"{where(doc)}: an sriov network needs the annotation "
                        f"{RESOURCE_NAME_KEY}: <prefix>/<resource>")


def _pod_spec(doc, spec, errs, nads, resources):
    w = where(doc)
    vols = {v.get("name"): v for v in spec.get("volumes") or []}
    for c in spec.get("containers") or []:
        cw = f"{w}: container {c.get('name')!r}"
        for k in ("name", "image"):
            if not c.get(k):
                errs.append(f"{cw}: {k} is required")
        for m in c.get("volumeMounts") or []:
            if m.get("name") not in vols:
                errs.append(f"{cw}: volumeMount {m.get('name')!r} has no volume of that name")
            if not str(m.get("mountPath", "")).startswith("/"):
                errs.append(f"{cw}: volumeMount {m.get('name')!r} needs an absolute mountPath")
        req = get(c, "resources.requests") or {}
        lim = get(c, "resources.limits") or {}
        for k, v in list(req.items()) + list(lim.items()):
            if not QTY_RE.match(str(v)):
                errs.append(f"{cw}: resources {k}: {v!r} is not a quantity")
        # Guaranteed QoS: every resource with limits = requests, cpu and memory included.
        for k in ("cpu", "memory"):
            if k not in lim:
                errs.append(f"{cw}: resources.limits.{k} is required (Guaranteed QoS)")
        if req != lim:
            errs.append(f"{cw}: resources.requests must equal resources.limits (Guaranteed "
                        f"QoS, pinned CPUs): {req} != {lim}")
        cpu = str(lim.get("cpu", ""))
        if cpu and not cpu.isdigit():
            errs.append(f"{cw}: limits.cpu {cpu!r} is not a whole number of CPUs "
                        "(the static CPU manager pins only whole CPUs)")
        huge = [k for k in lim if k.startswith("hugepages-")]
        if not huge:
            errs.append(f"{cw}: no hugepages-1Gi/hugepages-2Mi resource")
        mounts = {m.get("name"): m for m in c.get("volumeMounts") or []}
        if not any(str(get(vols.get(n, {}), "emptyDir.medium") or "").startswith("HugePages")
                   for n in mounts):
            errs.append(f"{cw}: no emptyDir volume of medium HugePages is mounted")
        caps = get(c, "securityContext.capabilities.add") or []
        if "IPC_LOCK" not in caps and not get(c, "securityContext.privileged"):
            errs.append(f"{cw}: securityContext.capabilities.add lacks IPC_LOCK")
        if not any(any(get(i, "fieldRef.fieldPath") == "metadata.annotations"
                       for i in get(vols.get(n, {}), "downwardAPI.items") or [])
                   for n in mounts):
            errs.append(f"{cw}: no downwardAPI volume with metadata.annotations is mounted "
                        "(meshgate reads the network-status annotation there)")
        # Each SR-IOV attachment brings one VF of its pool: the container asks for it.
        for net in nads:
            rn = nads[net]
            if rn and rn not in lim:
                errs.append(f"{cw}: attachment {net!r} needs resource {rn!r} in "
                            "resources.limits")
            if rn and resources is not None and rn not in resources:
                errs.append(f"{w}: resource {rn!r} of attachment {net!r} is not in the "
                            "device plugin's resourceList")
    for name, v in vols.items():
        kinds = [k for k in ("emptyDir", "configMap", "secret", "downwardAPI", "hostPath",
                             "persistentVolumeClaim", "projected") if k in v]
        if len(kinds) != 1:
            errs.append(f"{w}: volume {name!r} needs exactly one source, has {kinds}")
        if "hostPath" in v and not str(get(v, "hostPath.path") or "").startswith("/"):
            errs.append(f"{w}: volume {name!r}: hostPath.path must be absolute")


def attachments(annotation):
    """The names in a k8s.v1.cni.cncf.io/networks annotation (list or JSON)."""
    a = annotation.strip()
    if a.startswith("["):
        return [(e.get("namespace"), e["name"]) for e in json.loads(a)]
    out = []
    for item in a.split(","):
        item = item.strip().split("@")[0]
        ns, _, name = item.rpartition("/")
        out.append((ns or None, name))
    return out


def validate(docs, resources=None):
    """Problems in the manifests @docs (a list of dicts): each a string
    naming the document and field. @resources: the device plugin's
    "prefix/name" resources, to check the pods' requests against."""
    errs = []
    nad_resource = {}
    for d in docs:
        if not isinstance(d, dict):
            errs.append(f"a document is a {type(d).__name__}, not a mapping")
            continue
        if not _common(d, errs):
            continue
        if d["kind"] == "NetworkAttachmentDefinition":
            _nad(d, errs)
            nad_resource[(get(d, "metadata.namespace"), get(d, "metadata.name"))] = \
                (get(d, "metadata.annotations") or {}).get(RESOURCE_NAME_KEY)
    for d in docs:
        if not isinstance(d, dict) or d.get("kind") not in ("DaemonSet", "Deployment", "Pod"):
            continue
        if d["kind"] == "Pod":
            meta, spec = d.get("metadata") or {}, d.get("spec") or {}
        else:
            meta, spec = get(d, "spec.template.metadata") or {}, get(d, "spec.template.spec") or {}
            sel = get(d, "spec.selector.matchLabels") or {}
            labels = meta.get("labels") or {}
            if any(labels.get(k) != v for k, v in sel.items()):
                errs.append(f"{where(d)}: spec.selector.matchLabels {sel} do not select the "
                            f"template's labels {labels}")
        nads = {}
        ann = (meta.get("annotations") or {}).get(NETWORKS_KEY)
        if not ann:
            errs.append(f"{where(d)}: the pod template has no {NETWORKS_KEY} annotation")
        else:
            try:
                names = attachments(ann)
            except (ValueError, KeyError) as e:
                errs.append(f"{where(d)}: {NETWORKS_KEY} is not a list of attachments: {e}")
                names = []
            ns = get(d, "metadata.namespace")
            for a_ns, a_name in names:
                key = (a_ns or ns, a_name)
                if key not in nad_resource:
                    errs.append(f"{where(d)}: attachment {key[0]}/{a_name} has no "
                                "NetworkAttachmentDefinition")
                    continue
                nads[f"{key[0]}/{a_name}"] = nad_resource[key]
        _pod_spec(d, spec, errs, nads, resources)
    return errs
