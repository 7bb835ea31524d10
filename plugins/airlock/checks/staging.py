"""Staging healthy: every Deployment rolled out (kubectl rollout status rules) and every pod Running/Ready."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airlock.checks import kube_read
from airlock.checks.result import FAIL, PASS, CheckResult

if TYPE_CHECKING:  # kubernetes is heavy to import; DAG parsing must not pay for it
    from kubernetes import client

NAME = "staging_healthy"


def rollout_problem(deployment: dict[str, Any]) -> str | None:
    """None when the Deployment is rolled out, else why not (the rules of `kubectl rollout status`)."""
    meta, spec, status = (
        deployment.get("metadata") or {},
        deployment.get("spec") or {},
        deployment.get("status") or {},
    )
    name = meta.get("name", "?")
    generation = int(meta.get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    if generation > observed:
        return (
            f"{name}: spec update not yet observed (generation {generation} > observedGeneration {observed})"
        )
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return f"{name}: exceeded its progress deadline"
    desired = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    updated = int(status.get("updatedReplicas") or 0)
    replicas = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if updated < desired:
        return f"{name}: {updated} of {desired} replicas updated"
    if replicas > updated:
        return f"{name}: {replicas - updated} old replicas pending termination"
    if available < updated:
        return f"{name}: {available} of {updated} updated replicas available"
    return None


def pod_problem(pod: dict[str, Any]) -> str | None:
    """None when the pod is Running and Ready (or finished successfully, or terminating), else phase/reason."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    if meta.get("deletionTimestamp"):
        return None
    phase = status.get("phase") or "Unknown"
    if phase == "Succeeded":
        return None
    reasons = []
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        for key in ("waiting", "terminated"):
            detail = state.get(key)
            if detail and detail.get("reason") and detail.get("reason") != "Completed":
                restarts = cs.get("restartCount") or 0
                reasons.append(
                    f"{cs.get('name')}: {detail['reason']}" + (f" ({restarts} restarts)" if restarts else "")
                )
    if status.get("reason"):
        reasons.insert(0, status["reason"])
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
    )
    if phase == "Running" and ready:
        return None
    why = ", ".join(reasons) or ("not Ready" if phase == "Running" else "")
    return f"{meta.get('name', '?')} ({phase}{': ' + why if why else ''})"


def judge_staging(
    deployments: list[dict[str, Any]], pods: list[dict[str, Any]], namespace: str
) -> CheckResult:
    not_rolled = [p for d in deployments if (p := rollout_problem(d))]
    bad_pods = [p for pod in pods if (p := pod_problem(pod))]
    evidence = {
        "namespace": namespace,
        "deployments": len(deployments),
        "pods": len(pods),
        "not_rolled_out": not_rolled,
        "unhealthy_pods": bad_pods,
    }
    if not deployments:
        return CheckResult(
            NAME, FAIL, f"no Deployments in namespace {namespace}: staging is not deployed", evidence
        )
    problems = []
    if not_rolled:
        problems.append(f"{len(not_rolled)} Deployment(s) not rolled out: " + "; ".join(not_rolled))
    if bad_pods:
        problems.append(f"{len(bad_pods)} pod(s) not Running/Ready: " + "; ".join(bad_pods))
    if problems:
        return CheckResult(NAME, FAIL, f"staging ({namespace}): " + " | ".join(problems), evidence)
    return CheckResult(
        NAME,
        PASS,
        f"staging ({namespace}): {len(deployments)} Deployment(s) rolled out, {len(pods)} pod(s) Running/Ready",
        evidence,
    )


def check_staging(api: client.ApiClient, namespace: str, label_selector: str = "") -> CheckResult:
    """All Deployments (optionally those matching label_selector) and their pods in the namespace."""
    deployments = kube_read.list_deployments(api, namespace, label_selector)
    pods = kube_read.list_pods(api, namespace, label_selector)
    return judge_staging(deployments, pods, namespace)
