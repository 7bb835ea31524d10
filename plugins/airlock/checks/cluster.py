"""Cluster healthy: all nodes Ready; node CPU and memory usage (metrics.k8s.io) under the limits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airlock.checks.quantity import format_bytes, format_cpu, parse_quantity
from airlock.checks.result import FAIL, PASS, WARN, CheckResult
from airlock.kube.api import Kube, KubeError

if TYPE_CHECKING:  # kubernetes is heavy to import; DAG parsing must not pay for it
    from kubernetes import client

NAME = "cluster_healthy"


def node_ready(node: dict[str, Any]) -> tuple[bool, str]:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            ok = cond.get("status") == "True"
            return ok, "" if ok else (cond.get("reason") or f"Ready={cond.get('status')}")
    return False, "no Ready condition"


def node_usage(node: dict[str, Any], metrics: dict[str, Any] | None) -> dict[str, Any]:
    """usage / allocatable for cpu and memory of one node (None ratios when metrics are missing)."""
    alloc = (node.get("status") or {}).get("allocatable") or {}
    usage = (metrics or {}).get("usage") or {}
    row: dict[str, Any] = {"node": (node.get("metadata") or {}).get("name", "?")}
    for resource, fmt in (("cpu", format_cpu), ("memory", format_bytes)):
        if resource in usage and resource in alloc:
            used, total = parse_quantity(usage[resource]), parse_quantity(alloc[resource])
            row[resource] = float(used / total) if total > 0 else None
            row[f"{resource}_used"] = fmt(used)
            row[f"{resource}_allocatable"] = fmt(total)
        else:
            row[resource] = None
    return row


def judge_cluster(
    nodes: list[dict[str, Any]],
    node_metrics: list[dict[str, Any]] | None,
    max_cpu: float,
    max_memory: float,
) -> CheckResult:
    evidence: dict[str, Any] = {"nodes": len(nodes), "max_node_cpu": max_cpu, "max_node_memory": max_memory}
    if not nodes:
        return CheckResult(NAME, FAIL, "the cluster reports no nodes", evidence)
    not_ready = []
    for node in nodes:
        ok, why = node_ready(node)
        if not ok:
            not_ready.append(f"{node.get('metadata', {}).get('name', '?')} ({why})")
    metrics_by_node = {(m.get("metadata") or {}).get("name"): m for m in node_metrics or []}
    usage = [node_usage(n, metrics_by_node.get((n.get("metadata") or {}).get("name"))) for n in nodes]
    evidence["usage"] = usage
    evidence["not_ready"] = not_ready
    over = []
    for row in usage:
        for resource, limit in (("cpu", max_cpu), ("memory", max_memory)):
            if row[resource] is not None and row[resource] > limit:
                over.append(
                    f"{row['node']} {resource} {row[resource]:.0%} ({row[f'{resource}_used']} of "
                    f"{row[f'{resource}_allocatable']}) > {limit:.0%}"
                )
    evidence["over_limit"] = over
    problems = []
    if not_ready:
        problems.append(f"{len(not_ready)} of {len(nodes)} node(s) not Ready: " + ", ".join(not_ready))
    if over:
        problems.append("node usage over limit: " + "; ".join(over))
    if problems:
        return CheckResult(NAME, FAIL, " | ".join(problems), evidence)
    peak_cpu = max((r["cpu"] for r in usage if r["cpu"] is not None), default=None)
    peak_mem = max((r["memory"] for r in usage if r["memory"] is not None), default=None)
    if node_metrics is None:
        return CheckResult(
            NAME,
            WARN,
            f"{len(nodes)} node(s) Ready; metrics.k8s.io is not available, usage not checked",
            evidence,
        )
    missing = [r["node"] for r in usage if r["cpu"] is None or r["memory"] is None]
    if missing:
        return CheckResult(
            NAME, WARN, f"{len(nodes)} node(s) Ready; no usage metrics for {', '.join(missing)}", evidence
        )
    assert peak_cpu is not None and peak_mem is not None
    return CheckResult(
        NAME,
        PASS,
        f"{len(nodes)} node(s) Ready; peak CPU {peak_cpu:.0%} (limit {max_cpu:.0%}), "
        f"peak memory {peak_mem:.0%} (limit {max_memory:.0%})",
        evidence,
    )


def node_metrics(kube: Kube) -> list[dict[str, Any]] | None:
    """metrics.k8s.io/v1beta1 NodeMetrics items, or None when the metrics API is not served (404/503)."""
    try:
        return kube.items("nodemetrics", None)
    except KubeError as exc:
        if exc.status in (404, 503):
            return None
        raise


def check_cluster(api: client.ApiClient, max_cpu: float, max_memory: float) -> CheckResult:
    kube = Kube(api)
    return judge_cluster(kube.items("nodes", None), node_metrics(kube), max_cpu, max_memory)
