"""Reading the cluster for humans: why a rollout is stuck, and evidence for a rollback record.

What to read is written once, as read plans (reads.py): generators that yield the reads `kubectl get
pods`, `kubectl describe` and `kubectl logs` would make and receive the answers. The sync path
(`find_stuck_reason`, `collect_evidence`) runs them with `api.Kube`, RolloutTrigger runs the same
stuck-reason plan with `async_api.AsyncKube` (`find_stuck_reason_async`); the decision itself is the
pure `stuck.diagnose_rollout`. (A plan hands back its result with `return` from the generator - the
point of the design - hence the `noqa: B901` on those lines.)
"""

from __future__ import annotations

from typing import Any

from airlock.kube.api import Kube, match_labels_selector, selector_string
from airlock.kube.async_api import AsyncKube
from airlock.kube.reads import GetObject, ListObjects, Plan, ReadLogs, items, run_plan, run_plan_async
from airlock.kube.stuck import StuckReason, diagnose_rollout, new_replicaset_pods, pod_reason
from airlock.redact import env_values, scrub

Obj = dict[str, Any]

LOG_TAIL_LINES = 20
MAX_PODS_WITH_LOGS = 3  # enough to explain; do not read every pod's log


def recent_events(events: list[Obj], limit: int) -> list[Obj]:
    """The `limit` newest events, oldest first."""

    def when(e: Obj) -> str:
        meta = e.get("metadata") or {}
        return str(e.get("lastTimestamp") or e.get("eventTime") or meta.get("creationTimestamp") or "")

    return sorted(events, key=when)[-limit:]


def events_plan(namespace: str, limit: int) -> Plan[list[Obj]]:
    try:
        listed = yield ListObjects("events", namespace)
    except Exception:  # events are a nice-to-have for explanations: never let them hide the diagnosis
        return []  # noqa: B901
    return recent_events(items(listed), limit)  # noqa: B901


def failing_logs_plan(
    namespace: str, pods: list[Obj], tail: int = LOG_TAIL_LINES
) -> Plan[dict[str, list[str]]]:
    """Last log lines of containers that restarted (previous instance) or are not ready, by pod; the pod's
    own env values never appear in them (redact.scrub)."""
    logs: dict[str, list[str]] = {}
    for pod in pods:
        name = pod["metadata"]["name"]
        secrets = env_values(pod)
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            if cs.get("ready"):
                continue
            restarted = int(cs.get("restartCount") or 0) > 0
            lines = yield ReadLogs(namespace, name, cs.get("name"), tail, previous=restarted)
            if not lines and restarted:  # no previous instance kept: the current one may say why
                lines = yield ReadLogs(namespace, name, cs.get("name"), tail)
            if lines:
                logs[name] = [scrub(line, secrets) for line in lines]
                break
        if len(logs) >= MAX_PODS_WITH_LOGS:
            break
    return logs  # noqa: B901


def stuck_reason_plan(namespace: str, name: str) -> Plan[StuckReason | None]:
    """Read Deployment `name`, its ReplicaSets and pods, recent events and failing pods' logs; diagnose."""
    deployment = yield GetObject("deployments", namespace, name)
    if deployment is None:
        return StuckReason("Missing", f'deployment "{name}" does not exist in namespace {namespace}')  # noqa: B901
    # The Deployment's selector matches the pods of all its ReplicaSets, so pods need one list.
    selector = match_labels_selector((deployment.get("spec") or {}).get("selector"))
    replicasets = items((yield ListObjects("replicasets", namespace, label_selector=selector)))
    pods = items((yield ListObjects("pods", namespace, label_selector=selector)))
    new_pods = new_replicaset_pods(deployment, replicasets, pods)
    if not new_pods:
        return None  # noqa: B901
    events = yield from events_plan(namespace, limit=30)
    logs = yield from failing_logs_plan(namespace, [p for p in new_pods if pod_reason(p) is not None])
    return diagnose_rollout(deployment, replicasets, pods, events, logs)  # noqa: B901


def find_stuck_reason(kube: Kube, namespace: str, name: str) -> StuckReason | None:
    """Why Deployment `name` is not rolled out, from its new ReplicaSet's pods (None if nothing explains it)."""
    return run_plan(kube, stuck_reason_plan(namespace, name))


async def find_stuck_reason_async(kube: AsyncKube, namespace: str, name: str) -> StuckReason | None:
    """`find_stuck_reason` over the async transport (RolloutTrigger)."""
    return await run_plan_async(kube, stuck_reason_plan(namespace, name))


def pod_summary(pod: Obj) -> Obj:
    status = pod.get("status") or {}
    containers = []
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        kind = next(iter(state), "unknown")
        containers.append(
            {
                "name": cs.get("name"),
                "image": cs.get("image"),
                "ready": bool(cs.get("ready")),
                "restarts": int(cs.get("restartCount") or 0),
                "state": kind,
                "reason": (state.get(kind) or {}).get("reason", ""),
            }
        )
    reason = pod_reason(pod)
    return {
        "name": pod["metadata"]["name"],
        "phase": status.get("phase", ""),
        "labels": (pod.get("metadata") or {}).get("labels") or {},
        "containers": containers,
        "problem": reason.message if reason else "",
    }


def evidence_plan(
    namespace: str, label_selector: dict[str, str], involved: set[str] | None = None, max_events: int = 20
) -> Plan[Obj]:
    pods = items((yield ListObjects("pods", namespace, label_selector=selector_string(label_selector))))
    failing = [p for p in pods if pod_reason(p) is not None]
    names = {p["metadata"]["name"] for p in pods} | (involved or set())
    events = [
        e
        for e in (yield from events_plan(namespace, limit=200))
        if (e.get("involvedObject") or {}).get("name", "") in names
        or any((e.get("involvedObject") or {}).get("name", "").startswith(n) for n in involved or ())
    ]
    logs = yield from failing_logs_plan(namespace, failing)
    return {  # noqa: B901
        "pods": [pod_summary(p) for p in pods],
        "events": [
            {
                "type": e.get("type", ""),
                "reason": e.get("reason", ""),
                "object": f"{(e.get('involvedObject') or {}).get('kind', '')}/"
                f"{(e.get('involvedObject') or {}).get('name', '')}",
                "message": e.get("message", ""),
                "count": e.get("count", 1),
            }
            for e in events[-max_events:]
        ],
        "logs": logs,
    }


def collect_evidence(
    kube: Kube,
    namespace: str,
    label_selector: dict[str, str],
    involved: set[str] | None = None,
    max_events: int = 20,
) -> Obj:
    """Pod statuses, recent events and last log lines of failing pods for the app's pods."""
    return run_plan(kube, evidence_plan(namespace, label_selector, involved, max_events))
