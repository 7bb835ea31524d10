"""Rolling update: what `kubectl set image` + `kubectl annotate ... kubernetes.io/change-cause` do, in one patch.

The patch is a strategic merge patch on `spec.template.spec.containers` (merge key `name`), so
sidecars are untouched, and it sets `kubernetes.io/change-cause` on the Deployment in the same write,
so the controller copies it onto the new ReplicaSet and `kubectl rollout history` shows it.
A retry finds the image already set and writes nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from airlock.kube.api import Kube

Obj = dict[str, Any]

CHANGE_CAUSE = "kubernetes.io/change-cause"


def change_cause(service: str, run_id: str, image: str) -> str:
    return f"airlock deploy_{service} run {run_id}: {image}"


def containers_of(deployment: Obj) -> list[Obj]:
    return list(
        ((deployment.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    )


def container_images(deployment: Obj) -> dict[str, str]:
    """{container name: image} of the pod template (all containers, init containers prefixed 'init:')."""
    pod_spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    images = {c["name"]: c.get("image", "") for c in pod_spec.get("containers") or []}
    images.update({f"init:{c['name']}": c.get("image", "") for c in pod_spec.get("initContainers") or []})
    return images


def image_of(deployment: Obj, container: str) -> str:
    for c in containers_of(deployment):
        if c.get("name") == container:
            return str(c.get("image", ""))
    names = ", ".join(c.get("name", "?") for c in containers_of(deployment))
    name = (deployment.get("metadata") or {}).get("name")
    raise ValueError(
        f'deployment "{name}" has no container "{container}" (containers: {names}); '
        "set kubernetes.container in the service spec"
    )


def image_patch(
    deployment: Obj,
    container: str,
    image: str,
    cause: str | None,
    progress_deadline_seconds: int | None = None,
) -> Obj | None:
    """The strategic merge patch that sets `container`'s image, or None if it is already set."""
    current = image_of(deployment, container)
    spec = deployment.get("spec") or {}
    deadline_ok = (
        progress_deadline_seconds is None or spec.get("progressDeadlineSeconds") == progress_deadline_seconds
    )
    if current == image and deadline_ok:
        return None
    patch: Obj = {}
    if current != image:
        patch["spec"] = {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}
        if cause:
            patch["metadata"] = {"annotations": {CHANGE_CAUSE: cause}}
    if not deadline_ok:
        patch.setdefault("spec", {})["progressDeadlineSeconds"] = progress_deadline_seconds
    return patch


@dataclass(frozen=True)
class ImageUpdate:
    """One rolling update of a Deployment's container (a production step's result, the tasks' XCom)."""

    deployment: str
    namespace: str
    container: str
    previous: str  # the image before this update
    image: str
    changed: bool  # False: it already ran `image`, nothing was written
    status: str = "started"  # started | rolled_out | promoted | dry_run

    def with_status(self, status: str) -> ImageUpdate:
        return replace(self, status=status)

    def to_dict(self) -> Obj:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Obj) -> ImageUpdate:
        return cls(**data)


def set_image(
    kube: Kube,
    namespace: str,
    name: str,
    container: str,
    image: str,
    cause: str | None,
    progress_deadline_seconds: int | None = None,
) -> ImageUpdate:
    """Start a rolling update of Deployment `name` to `image` (no-op if already there)."""
    deployment = kube.get("deployments", namespace, name)
    if deployment is None:
        raise LookupError(f'deployment "{name}" not found in namespace {namespace}')
    current = image_of(deployment, container)
    patch = image_patch(deployment, container, image, cause, progress_deadline_seconds)
    if patch is None:
        kube.log.info(
            'deployment "%s" container %s already runs %s; nothing to patch', name, container, image
        )
    else:
        kube.log.info(
            'rolling update of deployment "%s": container %s %s -> %s', name, container, current, image
        )
        kube.patch("deployments", namespace, name, patch, what="(set image, change-cause)")
    return ImageUpdate(name, namespace, container, current, image, changed=patch is not None)


def scale(kube: Kube, namespace: str, name: str, replicas: int) -> bool:
    """Set spec.replicas (merge patch, like `kubectl scale`); False when it already had that value."""
    deployment = kube.get("deployments", namespace, name)
    if deployment is None:
        raise LookupError(f'deployment "{name}" not found in namespace {namespace}')
    if (deployment.get("spec") or {}).get("replicas", 1) == replicas:
        return False
    kube.patch(
        "deployments",
        namespace,
        name,
        {"spec": {"replicas": replicas}},
        patch_type="merge",
        what=f"(scale to {replicas})",
    )
    return True
