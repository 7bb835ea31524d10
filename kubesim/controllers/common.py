"""Helpers shared by the controllers (pkg/controller/controller_utils.go)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from kubesim.clock import parse_time
from kubesim.objects import Obj, controller_ref, get_condition

PODS = "/pods"


def pods_by_owner(pods: list[Obj]) -> dict[str, list[Obj]]:
    out: dict[str, list[Obj]] = defaultdict(list)
    for p in pods:
        ref = controller_ref(p)
        if ref:
            out[ref["uid"]].append(p)
    return out


def is_active(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed") and not pod["metadata"].get(
        "deletionTimestamp"
    )


def is_ready(pod: Obj) -> bool:
    c = get_condition(pod, "Ready")
    return bool(c and c.get("status") == "True")


def ready_since(pod: Obj) -> float | None:
    c = get_condition(pod, "Ready")
    if not c or c.get("status") != "True":
        return None
    return parse_time(c.get("lastTransitionTime"))


def is_available(pod: Obj, min_ready_seconds: int, now: float) -> bool:
    since = ready_since(pod)
    if since is None:
        return False
    return min_ready_seconds == 0 or since + min_ready_seconds <= now


def set_condition(conditions: list[dict[str, Any]], cond: dict[str, Any]) -> list[dict[str, Any]]:
    """Replace the condition of the same type, keeping lastTransitionTime when status is unchanged."""
    out = []
    for c in conditions:
        if c.get("type") == cond["type"]:
            if c.get("status") == cond["status"] and "lastTransitionTime" in c:
                cond = dict(cond, lastTransitionTime=c["lastTransitionTime"])
            continue
        out.append(c)
    out.append(cond)
    return out
