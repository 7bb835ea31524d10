"""The resource types kubesim serves, with what discovery needs to describe them."""

from __future__ import annotations

from dataclasses import dataclass, field

RW = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
RO = ["get", "list"]


@dataclass(frozen=True)
class Subresource:
    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str | None = None  # set when the subresource's kind lives in another group (Scale)
    version: str | None = None


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = tuple(RW)
    subresources: tuple[Subresource, ...] = ()
    categories: tuple[str, ...] = ()
    singular: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.group}/{self.plural}"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def sub(self, name: str) -> Subresource | None:
        return next((s for s in self.subresources if s.name == name), None)


_STATUS_VERBS = ("get", "patch", "update")
_SCALE = Subresource("scale", "Scale", _STATUS_VERBS, "autoscaling", "v1")


def _status(kind: str) -> Subresource:
    return Subresource("status", kind, _STATUS_VERBS)


RESOURCES: list[ResourceType] = [
    ResourceType("", "v1", "namespaces", "Namespace", False, ("ns",), subresources=(_status("Namespace"),)),
    ResourceType(
        "",
        "v1",
        "pods",
        "Pod",
        True,
        ("po",),
        categories=("all",),
        subresources=(_status("Pod"), Subresource("log", "Pod", ("get",))),
    ),
    ResourceType(
        "",
        "v1",
        "services",
        "Service",
        True,
        ("svc",),
        categories=("all",),
        subresources=(_status("Service"),),
    ),
    ResourceType("", "v1", "endpoints", "Endpoints", True, ("ep",)),
    ResourceType("", "v1", "events", "Event", True, ("ev",)),
    ResourceType("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    ResourceType("", "v1", "secrets", "Secret", True),
    ResourceType(
        "",
        "v1",
        "serviceaccounts",
        "ServiceAccount",
        True,
        ("sa",),
        subresources=(Subresource("token", "TokenRequest", ("create",), "authentication.k8s.io", "v1"),),
    ),
    ResourceType("", "v1", "nodes", "Node", False, ("no",), subresources=(_status("Node"),)),
    ResourceType(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        True,
        ("deploy",),
        categories=("all",),
        subresources=(_status("Deployment"), _SCALE),
    ),
    ResourceType(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        True,
        ("rs",),
        categories=("all",),
        subresources=(_status("ReplicaSet"), _SCALE),
    ),
    ResourceType("batch", "v1", "jobs", "Job", True, categories=("all",), subresources=(_status("Job"),)),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True),
    # RBAC objects (enforced when kubesim runs with authorization; see kubesim/rbac.py)
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    # answered, never stored: `kubectl auth can-i` (kubesim/rbac.py)
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        False,
        verbs=("create",),
    ),
    ResourceType("metrics.k8s.io", "v1beta1", "nodes", "NodeMetrics", False, verbs=tuple(RO)),
    ResourceType("metrics.k8s.io", "v1beta1", "pods", "PodMetrics", True, verbs=tuple(RO)),
]

BY_KEY: dict[str, ResourceType] = {r.key: r for r in RESOURCES}
BY_KIND: dict[tuple[str, str], ResourceType] = {(r.api_version, r.kind): r for r in RESOURCES}

# group -> preferred version; "" is the legacy core group served under /api
GROUPS: dict[str, str] = {}
for _r in RESOURCES:
    GROUPS.setdefault(_r.group, _r.version)

# Read-only aggregated API computed from the simulated world, not stored.
VIRTUAL_GROUPS = {"metrics.k8s.io"}


def lookup(group: str, version: str, plural: str) -> ResourceType | None:
    rt = BY_KEY.get(f"{group}/{plural}")
    if rt is None or rt.version != version:
        return None
    return rt


def by_kind(api_version: str, kind: str) -> ResourceType | None:
    return BY_KIND.get((api_version, kind))
