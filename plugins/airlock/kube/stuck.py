"""Why is this rollout stuck? One pure diagnosis over what `kubectl describe` would show.

`diagnose_rollout(deployment, replicasets, pods, events, logs)` picks the new ReplicaSet's pods and
says in one sentence why the rollout does not progress: image pull failures, crash loops with restart
counts and last log lines, unschedulable pods with the scheduler's message, or failing readiness. The
sync path (diagnose.find_stuck_reason) and RolloutTrigger gather those objects with the same read plan
(diagnose.stuck_reason_plan) over their own transport, and both end here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from airlock.kube.status import controlled_by, new_replicaset

Obj = dict[str, Any]


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
_PRIORITY = {
    "ImagePull": 0,
    "CrashLoop": 1,
    "ContainerError": 2,
    "Unschedulable": 3,
    "Readiness": 4,
    "Pending": 5,
}


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
            return StuckReason(
                "ImagePull",
                f"pod {name}: container {cname} cannot pull image "
                f"{cs.get('image', '')} ({reason}){': ' + msg if msg else ''}",
                name,
                {"reason": reason, "container": cname, "image": cs.get("image", "")},
            )
        restarts = int(cs.get("restartCount") or 0)
        if reason == "CrashLoopBackOff" or (restarts > 0 and not cs.get("ready")):
            last = (cs.get("lastState") or {}).get("terminated") or {}
            exit_info = f", last exit code {last['exitCode']}" if "exitCode" in last else ""
            lines = (logs or {}).get(name) or []
            tail = (": last log lines: " + " | ".join(lines[-5:])) if lines else ""
            return StuckReason(
                "CrashLoop",
                f"pod {name}: container {cname} is crash-looping "
                f"(CrashLoopBackOff, {restarts} restarts{exit_info}){tail}",
                name,
                {
                    "reason": reason or "CrashLoopBackOff",
                    "container": cname,
                    "restart_count": restarts,
                    "last_log_lines": lines[-20:],
                },
            )
        if reason and reason not in _HARMLESS_WAITING:
            msg = waiting.get("message") or ""
            return StuckReason(
                "ContainerError",
                f"pod {name}: container {cname} is waiting: {reason}{': ' + msg if msg else ''}",
                name,
                {"reason": reason, "container": cname},
            )
    conds = {c.get("type"): c for c in status.get("conditions") or []}
    sched = conds.get("PodScheduled")
    if sched is not None and sched.get("status") == "False":
        msg = sched.get("message") or "no node fits the pod"
        return StuckReason(
            "Unschedulable",
            f"pod {name} cannot be scheduled ({sched.get('reason', 'Unschedulable')}): {msg}",
            name,
            {"reason": sched.get("reason", "Unschedulable"), "message": msg},
        )
    ready = conds.get("Ready")
    if status.get("phase") == "Running" and ready is not None and ready.get("status") != "True":
        msg = ready.get("message") or ""
        not_ready = [
            cs.get("name", "") for cs in status.get("containerStatuses") or [] if not cs.get("ready")
        ]
        return StuckReason(
            "Readiness",
            f"pod {name} is running but not ready: readiness probe failing for "
            f"container(s) {', '.join(not_ready) or '?'}{' (' + msg + ')' if msg else ''}",
            name,
            {"containers": not_ready, "message": msg},
        )
    if status.get("phase") in (None, "Pending"):
        return StuckReason("Pending", f"pod {name} is still pending (containers being created)", name)
    return None


def stuck_reason(
    pods: list[Obj], logs: dict[str, list[str]] | None = None, events: list[Obj] | None = None
) -> StuckReason | None:
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
        probe = [
            e
            for e in events
            if (e.get("involvedObject") or {}).get("name") == best.pod and e.get("reason") == "Unhealthy"
        ]
        if probe:
            message += f"; last event: {probe[-1].get('message', '')}"
    if affected > 1:
        message += f" ({affected} of {len(pods)} new pods affected)"
    return StuckReason(best.kind, message, best.pod, details)


def new_replicaset_pods(deployment: Obj, replicasets: list[Obj], pods: list[Obj]) -> list[Obj]:
    """The pods of the ReplicaSet the rollout is bringing up (pods of older revisions left out)."""
    rs = new_replicaset(deployment, replicasets)
    return [p for p in pods if controlled_by(p, rs)] if rs is not None else []


def diagnose_rollout(
    deployment: Obj,
    replicasets: list[Obj],
    pods: list[Obj],
    events: list[Obj] | None = None,
    logs: dict[str, list[str]] | None = None,
) -> StuckReason | None:
    """Why `deployment` does not roll out, from its ReplicaSets, the pods under its selector, recent
    events and the last log lines of failing pods; None when no new pod explains a delay."""
    new_pods = new_replicaset_pods(deployment, replicasets, pods)
    return stuck_reason(new_pods, logs, events) if new_pods else None
