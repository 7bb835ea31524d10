"""Reading the cluster for humans: why a rollout is stuck, and evidence for a rollback record.

These functions only read. They turn what `kubectl get pods`, `kubectl describe` and `kubectl logs`
would show into plain data (`status.stuck_reason` decides; this module fetches).
"""

from __future__ import annotations

from typing import Any

from airlock.kube.api import Kube, match_labels_selector
from airlock.kube.status import StuckReason, controlled_by, new_replicaset, pod_reason, stuck_reason

Obj = dict[str, Any]


def _failing_logs(kube: Kube, namespace: str, pods: list[Obj], tail: int = 20) -> dict[str, list[str]]:
    """Last log lines of containers that restarted (previous instance) or are not ready."""
    logs: dict[str, list[str]] = {}
    for pod in pods:
        name = pod["metadata"]["name"]
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            if cs.get("ready"):
                continue
            restarted = int(cs.get("restartCount") or 0) > 0
            lines = kube.logs(namespace, name, container=cs.get("name"), tail_lines=tail, previous=restarted)
            if not lines and restarted:
                lines = kube.logs(namespace, name, container=cs.get("name"), tail_lines=tail)
            if lines:
                logs[name] = lines
                break
        if len(logs) >= 3:  # enough to explain; do not read every pod's log
            break
    return logs


def new_replicaset_pods(kube: Kube, namespace: str, deployment: Obj) -> tuple[Obj | None, list[Obj]]:
    selector = match_labels_selector((deployment.get("spec") or {}).get("selector"))
    rs = new_replicaset(deployment, kube.items("replicasets", namespace, label_selector=selector))
    if rs is None:
        return None, []
    pods = kube.items("pods", namespace, label_selector=match_labels_selector(rs["spec"].get("selector")))
    return rs, [p for p in pods if controlled_by(p, rs)]


def find_stuck_reason(kube: Kube, namespace: str, name: str) -> StuckReason | None:
    """Why Deployment `name` is not rolled out, from its new ReplicaSet's pods (None if nothing explains it)."""
    deployment = kube.get("deployments", namespace, name)
    if deployment is None:
        return StuckReason("Missing", f'deployment "{name}" does not exist in namespace {namespace}')
    _, pods = new_replicaset_pods(kube, namespace, deployment)
    if not pods:
        return None
    unhealthy = [p for p in pods if pod_reason(p) is not None]
    logs = _failing_logs(kube, namespace, unhealthy)
    events = _events(kube, namespace)
    return stuck_reason(pods, logs, events)


def _events(kube: Kube, namespace: str, limit: int = 30) -> list[Obj]:
    try:
        events = kube.items("events", namespace)
    except Exception:  # events are a nice-to-have for explanations
        return []

    def when(e: Obj) -> str:
        return str(e.get("lastTimestamp") or e.get("eventTime") or (e.get("metadata") or {}).get("creationTimestamp") or "")

    return sorted(events, key=when)[-limit:]


def pod_summary(pod: Obj) -> Obj:
    status = pod.get("status") or {}
    containers = []
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        kind = next(iter(state), "unknown")
        containers.append({"name": cs.get("name"), "image": cs.get("image"), "ready": bool(cs.get("ready")),
                           "restarts": int(cs.get("restartCount") or 0), "state": kind,
                           "reason": (state.get(kind) or {}).get("reason", "")})
    reason = pod_reason(pod)
    return {"name": pod["metadata"]["name"], "phase": status.get("phase", ""),
            "labels": (pod.get("metadata") or {}).get("labels") or {},
            "containers": containers, "problem": reason.message if reason else ""}


def collect_evidence(kube: Kube, namespace: str, label_selector: dict[str, str],
                     involved: set[str] | None = None, max_events: int = 20) -> Obj:
    """Pod statuses, recent events and last log lines of failing pods for the app's pods."""
    pods = kube.items("pods", namespace, label_selector=label_selector)
    failing = [p for p in pods if pod_reason(p) is not None]
    names = {p["metadata"]["name"] for p in pods} | (involved or set())
    events = [e for e in _events(kube, namespace, limit=200)
              if (e.get("involvedObject") or {}).get("name", "") in names
              or any((e.get("involvedObject") or {}).get("name", "").startswith(n) for n in involved or ())]
    return {
        "pods": [pod_summary(p) for p in pods],
        "events": [{"type": e.get("type", ""), "reason": e.get("reason", ""),
                    "object": f"{(e.get('involvedObject') or {}).get('kind', '')}/"
                              f"{(e.get('involvedObject') or {}).get('name', '')}",
                    "message": e.get("message", ""), "count": e.get("count", 1)}
                   for e in events[-max_events:]],
        "logs": _failing_logs(kube, namespace, failing),
    }
