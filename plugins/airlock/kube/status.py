"""Is this rollout done, still progressing, or failed? And if it is stuck, why?

`rollout_status` is a pure function of a Deployment dict with kubectl's rules and messages
(staging/src/k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go, DeploymentStatusViewer):

1. nothing is judged until metadata.generation <= status.observedGeneration;
2. condition Progressing with reason ProgressDeadlineExceeded is an error;
3. updatedReplicas < spec.replicas            -> "N out of M new replicas have been updated";
4. status.replicas > updatedReplicas          -> "N old replicas are pending termination";
5. availableReplicas < updatedReplicas        -> "N of M updated replicas are available";
6. otherwise                                  -> "successfully rolled out".

`stuck_reason` reads the new ReplicaSet's pods (and, for crash loops, their last log lines) and says in
one sentence why the rollout does not progress: image pull failures, crash loops with restart counts,
unschedulable pods with the scheduler's message, or failing readiness.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

Obj = dict[str, Any]

PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
POD_TEMPLATE_HASH = "pod-template-hash"


@dataclass(frozen=True)
class RolloutStatus:
    done: bool
    failed: bool
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _condition(obj: Obj, ctype: str) -> Obj | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return cond  # type: ignore[no-any-return]
    return None


def rollout_status(deployment: Obj) -> RolloutStatus:
    """kubectl rollout status, as a pure function of one Deployment."""
    meta, spec, status = deployment.get("metadata") or {}, deployment.get("spec") or {}, deployment.get("status") or {}
    name = meta.get("name", "")
    if int(meta.get("generation") or 0) <= int(status.get("observedGeneration") or 0):
        cond = _condition(deployment, "Progressing")
        if cond is not None and cond.get("reason") == PROGRESS_DEADLINE_EXCEEDED:
            return RolloutStatus(False, True, f'deployment "{name}" exceeded its progress deadline')
        desired = spec.get("replicas", 1)
        updated = int(status.get("updatedReplicas") or 0)
        replicas = int(status.get("replicas") or 0)
        available = int(status.get("availableReplicas") or 0)
        if desired is not None and updated < int(desired):
            return RolloutStatus(False, False, f'Waiting for deployment "{name}" rollout to finish: '
                                               f"{updated} out of {desired} new replicas have been updated...")
        if replicas > updated:
            return RolloutStatus(False, False, f'Waiting for deployment "{name}" rollout to finish: '
                                               f"{replicas - updated} old replicas are pending termination...")
        if available < updated:
            return RolloutStatus(False, False, f'Waiting for deployment "{name}" rollout to finish: '
                                               f"{available} of {updated} updated replicas are available...")
        return RolloutStatus(True, False, f'deployment "{name}" successfully rolled out')
    return RolloutStatus(False, False, "Waiting for deployment spec update to be observed...")


# -- ReplicaSets ---------------------------------------------------------------------------------

def revision_of(obj: Obj) -> int:
    try:
        return int(((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION_ANNOTATION, "0"))
    except ValueError:
        return 0


def controlled_by(obj: Obj, owner: Obj) -> bool:
    uid = (owner.get("metadata") or {}).get("uid")
    return any(ref.get("controller") and ref.get("uid") == uid
               for ref in (obj.get("metadata") or {}).get("ownerReferences") or [])


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


# -- why is it stuck? ----------------------------------------------------------------------------

@dataclass(frozen=True)
class StuckReason:
    kind: str  # ImagePull | CrashLoop | Unschedulable | Readiness | ContainerError | Pending | Unknown
    message: str
    pod: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_IMAGE_PULL = {"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull"}
_HARMLESS_WAITING = {"ContainerCreating", "PodInitializing"}
_PRIORITY = {"ImagePull": 0, "CrashLoop": 1, "ContainerError": 2, "Unschedulable": 3, "Readiness": 4, "Pending": 5}


def _pod_name(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("name", ""))


def pod_reason(pod: Obj, logs: dict[str, list[str]] | None = None) -> StuckReason | None:
    """Why this one pod is not ready, or None if it is ready."""
    name = _pod_name(pod)
    status = pod.get("status") or {}
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason") or ""
        cname = cs.get("name", "")
        if reason in _IMAGE_PULL:
            msg = waiting.get("message") or ""
            return StuckReason("ImagePull", f"pod {name}: container {cname} cannot pull image "
                               f"{cs.get('image', '')} ({reason}){': ' + msg if msg else ''}", name,
                               {"reason": reason, "container": cname, "image": cs.get("image", "")})
        restarts = int(cs.get("restartCount") or 0)
        if reason == "CrashLoopBackOff" or (restarts > 0 and not cs.get("ready")):
            last = (cs.get("lastState") or {}).get("terminated") or {}
            exit_info = f", last exit code {last['exitCode']}" if "exitCode" in last else ""
            lines = (logs or {}).get(name) or []
            tail = (": last log lines: " + " | ".join(lines[-5:])) if lines else ""
            return StuckReason("CrashLoop", f"pod {name}: container {cname} is crash-looping "
                               f"(CrashLoopBackOff, {restarts} restarts{exit_info}){tail}", name,
                               {"reason": reason or "CrashLoopBackOff", "container": cname,
                                "restart_count": restarts, "last_log_lines": lines[-20:]})
        if reason and reason not in _HARMLESS_WAITING:
            msg = waiting.get("message") or ""
            return StuckReason("ContainerError", f"pod {name}: container {cname} is waiting: {reason}"
                               f"{': ' + msg if msg else ''}", name, {"reason": reason, "container": cname})
    conds = {c.get("type"): c for c in status.get("conditions") or []}
    sched = conds.get("PodScheduled")
    if sched is not None and sched.get("status") == "False":
        msg = sched.get("message") or "no node fits the pod"
        return StuckReason("Unschedulable", f"pod {name} cannot be scheduled ({sched.get('reason', 'Unschedulable')}): "
                           f"{msg}", name, {"reason": sched.get("reason", "Unschedulable"), "message": msg})
    ready = conds.get("Ready")
    if status.get("phase") == "Running" and ready is not None and ready.get("status") != "True":
        msg = ready.get("message") or ""
        not_ready = [cs.get("name", "") for cs in status.get("containerStatuses") or [] if not cs.get("ready")]
        return StuckReason("Readiness", f"pod {name} is running but not ready: readiness probe failing for "
                           f"container(s) {', '.join(not_ready) or '?'}{' (' + msg + ')' if msg else ''}", name,
                           {"containers": not_ready, "message": msg})
    if status.get("phase") in (None, "Pending"):
        return StuckReason("Pending", f"pod {name} is still pending (containers being created)", name)
    return None


def stuck_reason(pods: list[Obj], logs: dict[str, list[str]] | None = None,
                 events: list[Obj] | None = None) -> StuckReason | None:
    """The most telling reason among the new ReplicaSet's pods; None when no pod explains a delay.

    Image pull failures and crash loops outrank scheduling and readiness problems because they never
    heal by waiting. Warning events (e.g. "Readiness probe failed: ...") sharpen a readiness reason.
    """
    reasons = [r for r in (pod_reason(p, logs) for p in pods) if r is not None]
    if not reasons:
        return None
    reasons.sort(key=lambda r: _PRIORITY.get(r.kind, 9))
    best = reasons[0]
    affected = sum(1 for r in reasons if r.kind == best.kind)
    details = dict(best.details, affected_pods=affected, total_pods=len(pods))
    message = best.message
    if best.kind == "Readiness" and events:
        probe = [e for e in events if (e.get("involvedObject") or {}).get("name") == best.pod
                 and e.get("reason") == "Unhealthy"]
        if probe:
            message += f"; last event: {probe[-1].get('message', '')}"
    if affected > 1:
        message += f" ({affected} of {len(pods)} new pods affected)"
    return StuckReason(best.kind, message, best.pod, details)
