"""Is this rollout done, still progressing, or failed? And which ReplicaSet is it bringing up?

`rollout_status` is the one implementation of kubectl's rules and messages (the rollout wait, the
triggers, the sensor, the rollback verification and the staging pre-flight check all call it); a pure
function of a Deployment dict (staging/src/k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go,
DeploymentStatusViewer):

1. nothing is judged until metadata.generation <= status.observedGeneration;
2. condition Progressing with reason ProgressDeadlineExceeded is an error;
3. updatedReplicas < spec.replicas            -> "N out of M new replicas have been updated";
4. status.replicas > updatedReplicas          -> "N old replicas are pending termination";
5. availableReplicas < updatedReplicas        -> "N of M updated replicas are available";
6. otherwise                                  -> "successfully rolled out".

Why a rollout is stuck is stuck.py's question.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

Obj = dict[str, Any]

PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
POD_TEMPLATE_HASH = "pod-template-hash"


@dataclass(frozen=True)
class RolloutStatus:
    done: bool
    failed: bool
    message: str  # kubectl's sentence
    detail: str = ""  # the same finding in a few words, without the name (for a line in a check's summary)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _condition(obj: Obj, ctype: str) -> Obj | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return cond  # type: ignore[no-any-return]
    return None


def rollout_status(deployment: Obj) -> RolloutStatus:
    """kubectl rollout status, as a pure function of one Deployment."""
    meta, spec, status = (
        deployment.get("metadata") or {},
        deployment.get("spec") or {},
        deployment.get("status") or {},
    )
    name = meta.get("name", "")
    generation, observed = int(meta.get("generation") or 0), int(status.get("observedGeneration") or 0)
    if generation > observed:
        return RolloutStatus(
            False,
            False,
            "Waiting for deployment spec update to be observed...",
            f"spec update not yet observed (generation {generation} > observedGeneration {observed})",
        )
    cond = _condition(deployment, "Progressing")
    if cond is not None and cond.get("reason") == PROGRESS_DEADLINE_EXCEEDED:
        return RolloutStatus(
            False,
            True,
            f'deployment "{name}" exceeded its progress deadline',
            "exceeded its progress deadline",
        )
    desired = spec.get("replicas", 1)  # kubectl skips this test when spec.replicas is unset (nil)
    updated = int(status.get("updatedReplicas") or 0)
    replicas = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    waiting = f'Waiting for deployment "{name}" rollout to finish: '
    if desired is not None and updated < int(desired):
        return RolloutStatus(
            False,
            False,
            f"{waiting}{updated} out of {desired} new replicas have been updated...",
            f"{updated} of {desired} replicas updated",
        )
    if replicas > updated:
        return RolloutStatus(
            False,
            False,
            f"{waiting}{replicas - updated} old replicas are pending termination...",
            f"{replicas - updated} old replicas pending termination",
        )
    if available < updated:
        return RolloutStatus(
            False,
            False,
            f"{waiting}{available} of {updated} updated replicas are available...",
            f"{available} of {updated} updated replicas available",
        )
    return RolloutStatus(True, False, f'deployment "{name}" successfully rolled out', "rolled out")


# -- ReplicaSets ---------------------------------------------------------------------------------


def revision_of(obj: Obj) -> int:
    try:
        return int(((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION_ANNOTATION, "0"))
    except ValueError:
        return 0


def controlled_by(obj: Obj, owner: Obj) -> bool:
    uid = (owner.get("metadata") or {}).get("uid")
    return any(
        ref.get("controller") and ref.get("uid") == uid
        for ref in (obj.get("metadata") or {}).get("ownerReferences") or []
    )


def owned_replicasets(deployment: Obj, replicasets: list[Obj]) -> list[Obj]:
    """The ReplicaSets controlled by `deployment`, newest revision first."""
    owned = [rs for rs in replicasets if controlled_by(rs, deployment)]
    return sorted(owned, key=revision_of, reverse=True)


def new_replicaset(deployment: Obj, replicasets: list[Obj]) -> Obj | None:
    """The ReplicaSet of the Deployment's current revision (the one a rollout is bringing up)."""
    owned = owned_replicasets(deployment, replicasets)
    current = revision_of(deployment)
    for rs in owned:
        if current and revision_of(rs) == current:
            return rs
    return owned[0] if owned else None
