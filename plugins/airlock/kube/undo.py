"""`kubectl rollout undo --to-revision=N`, with kubectl's exact semantics.

From staging/src/k8s.io/kubectl/pkg/polymorphichelpers/rollback.go (DeploymentRollbacker):
list the ReplicaSets by the Deployment's selector, keep those it controls, take the one whose
`deployment.kubernetes.io/revision` is N; skip if its template already equals the Deployment's
(ignoring pod-template-hash); otherwise send one JSON Patch replacing `/spec/template` (the RS template
without the pod-template-hash label) and `/metadata/annotations` (the RS's annotations, except the
controller-owned ones, which keep the Deployment's values). The controller then re-uses the old
ReplicaSet (renumbered to max+1) instead of creating a new one.
"""

from __future__ import annotations

import copy
from typing import Any

from airlock.kube.api import Kube, match_labels_selector
from airlock.kube.status import POD_TEMPLATE_HASH, owned_replicasets, revision_of

Obj = dict[str, Any]

ANNOTATIONS_TO_SKIP = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        "deployment.kubernetes.io/revision",
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)


class RevisionNotFound(LookupError):
    pass


def _without_hash(template: Obj) -> Obj:
    out = copy.deepcopy(template)
    labels = (out.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(POD_TEMPLATE_HASH, None)
    return out


def equal_ignore_hash(a: Obj, b: Obj) -> bool:
    return _without_hash(a) == _without_hash(b)


def undo_patch(deployment: Obj, replicaset: Obj) -> list[Obj] | None:
    """kubectl's rollback JSON Patch to `replicaset`'s template, or None if it already matches."""
    rs_template = (replicaset.get("spec") or {}).get("template") or {}
    if equal_ignore_hash(rs_template, (deployment.get("spec") or {}).get("template") or {}):
        return None
    current = (deployment.get("metadata") or {}).get("annotations") or {}
    annotations = {k: v for k, v in current.items() if k in ANNOTATIONS_TO_SKIP}
    for k, v in ((replicaset.get("metadata") or {}).get("annotations") or {}).items():
        if k not in ANNOTATIONS_TO_SKIP:
            annotations[k] = v
    return [
        {"op": "replace", "path": "/spec/template", "value": _without_hash(rs_template)},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]


def replicaset_for_revision(kube: Kube, namespace: str, deployment: Obj, revision: int) -> Obj:
    selector = match_labels_selector((deployment.get("spec") or {}).get("selector"))
    owned = owned_replicasets(deployment, kube.items("replicasets", namespace, label_selector=selector))
    for rs in owned:
        if revision_of(rs) == revision:
            return rs
    name = deployment["metadata"]["name"]
    known = ", ".join(str(revision_of(rs)) for rs in owned) or "none"
    raise RevisionNotFound(
        f'unable to find revision {revision} of deployment "{name}" (revisions kept: {known})'
    )


def undo(kube: Kube, namespace: str, name: str, to_revision: int) -> Obj:
    """Roll Deployment `name` back to `to_revision`. Returns {"changed", "message", "patch"}."""
    deployment = kube.get("deployments", namespace, name)
    if deployment is None:
        raise LookupError(f'deployment "{name}" not found in namespace {namespace}')
    if (deployment.get("spec") or {}).get("paused"):
        raise RuntimeError(
            f'deployment "{name}" is paused; resume it first (kubectl rollout resume) and retry'
        )
    rs = replicaset_for_revision(kube, namespace, deployment, to_revision)
    patch = undo_patch(deployment, rs)
    if patch is None:
        message = f"skipped rollback (current template already matches revision {to_revision})"
        kube.log.info('deployment "%s": %s', name, message)
        return {"changed": False, "message": message, "patch": None}
    kube.patch(
        "deployments",
        namespace,
        name,
        patch,
        patch_type="json",
        what=f"(rollout undo to revision {to_revision}, ReplicaSet {rs['metadata']['name']})",
    )
    return {
        "changed": True,
        "message": f'deployment "{name}" rolled back to revision {to_revision}',
        "patch": patch,
    }
