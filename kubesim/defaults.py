"""Apiserver defaulting (pkg/apis/*/v1/defaults.go) and semantic pod-template comparison.

Defaults matter twice: clients see the same shapes as on a real cluster, and the deployment
controller compares templates semantically. kubectl's rollback sends a template serialized from Go
structs (`creationTimestamp: null`, `resources: {}`), so both sides are defaulted and pruned before
comparing, or a rollback would create a new ReplicaSet instead of re-using the old one.
"""

from __future__ import annotations

import json
from typing import Any

from kubesim.objects import Obj, clone, prune_empty

POD_TEMPLATE_HASH = "pod-template-hash"


def _image_pull_policy(image: str) -> str:
    # pkg/apis/core/v1/defaults.go: Always for :latest or untagged images, else IfNotPresent
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if "@" in image:
        return "IfNotPresent"
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def default_container(c: dict[str, Any]) -> None:
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("imagePullPolicy", _image_pull_policy(str(c.get("image", ""))))
    c.setdefault("resources", {})
    for p in c.get("ports") or []:
        p.setdefault("protocol", "TCP")
    for e in c.get("env") or []:
        vf = e.get("valueFrom") or {}
        if "fieldRef" in vf:
            vf["fieldRef"].setdefault("apiVersion", "v1")


def default_pod_spec(spec: dict[str, Any], restart_policy: str = "Always") -> None:
    spec.setdefault("restartPolicy", restart_policy)
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            default_container(c)
    for v in spec.get("volumes") or []:
        if "configMap" in v:
            v["configMap"].setdefault("defaultMode", 420)
        if "secret" in v:
            v["secret"].setdefault("defaultMode", 420)


def default_template(template: dict[str, Any], restart_policy: str = "Always") -> None:
    template.setdefault("metadata", {})
    default_pod_spec(template.setdefault("spec", {}), restart_policy)


def normalize_template(template: dict[str, Any] | None) -> Any:
    """Template reduced to what matters for equality: defaulted, hash label removed, pruned."""
    t = clone(template or {})
    default_template(t)
    md = t.setdefault("metadata", {})
    md.pop("creationTimestamp", None)
    labels = dict(md.get("labels") or {})
    labels.pop(POD_TEMPLATE_HASH, None)
    md["labels"] = labels
    return prune_empty(t)


def templates_equal(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """deploymentutil.EqualIgnoreHash with apiequality.Semantic."""
    return normalize_template(a) == normalize_template(b)


_SAFE_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"


def safe_encode(s: str) -> str:
    """k8s.io/apimachinery/pkg/util/rand.SafeEncodeString."""
    return "".join(_SAFE_ALPHANUMS[b % len(_SAFE_ALPHANUMS)] for b in s.encode())


def template_hash(template: dict[str, Any] | None, collision_count: int = 0) -> str:
    """controller.ComputeHash: FNV-32a over the template, rendered with SafeEncodeString.

    The Go version hashes a spew dump of the struct; we hash canonical JSON of the normalized
    template, which gives the same properties (stable, changes with the template)."""
    data = json.dumps(normalize_template(template), sort_keys=True, separators=(",", ":")).encode()
    h = 0x811C9DC5
    for byte in data:
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    if collision_count:
        for byte in collision_count.to_bytes(4, "little"):
            h ^= byte
            h = (h * 0x01000193) & 0xFFFFFFFF
    return safe_encode(str(h))


def default_object(kind: str, obj: Obj) -> None:
    """Per-kind defaults applied on create and update (before validation)."""
    spec = obj.get("spec")
    if kind == "Deployment" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            ru = strategy.setdefault("rollingUpdate", {})
            ru.setdefault("maxUnavailable", "25%")
            ru.setdefault("maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        default_template(spec.setdefault("template", {}))
    elif kind == "ReplicaSet" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        default_template(spec.setdefault("template", {}))
    elif kind == "Job" and isinstance(spec, dict):
        spec.setdefault("parallelism", 1)
        spec.setdefault("completions", 1)
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("manualSelector", None)
        if spec.get("manualSelector") is None:
            spec.pop("manualSelector")
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
        default_template(spec.setdefault("template", {}), restart_policy="Never")
    elif kind == "Pod" and isinstance(spec, dict):
        default_pod_spec(spec)
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("priority", 0)
        tolerations = spec.setdefault("tolerations", [])
        if not tolerations:
            for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
                tolerations.append(
                    {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
                )
    elif kind == "Service" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        for p in spec.get("ports") or []:
            p.setdefault("protocol", "TCP")
            p.setdefault("targetPort", p.get("port"))
    elif kind == "Namespace":
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj.setdefault("status", {"phase": "Active"})
        labels = obj.setdefault("metadata", {}).setdefault("labels", {})
        labels.setdefault("kubernetes.io/metadata.name", obj["metadata"].get("name", ""))
