"""Staging healthy: every Deployment rolled out (kubectl rollout status rules) and every pod Running/Ready."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airlock.checks.result import FAIL, PASS, CheckResult
from airlock.kube.api import Kube
from airlock.kube.status import rollout_status

if TYPE_CHECKING:  # kubernetes is heavy to import; DAG parsing must not pay for it
    from kubernetes import client

NAME = "staging_healthy"


def rollout_problem(deployment: dict[str, Any]) -> str | None:
    """None when the Deployment is rolled out, else why not (`kube.status.rollout_status`, kubectl's rules)."""
    status = rollout_status(deployment)
    if status.done:
        return None
    return f"{(deployment.get('metadata') or {}).get('name', '?')}: {status.detail}"


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
    kube = Kube(api)
    deployments = kube.items("deployments", namespace, label_selector=label_selector)
    pods = kube.items("pods", namespace, label_selector=label_selector)
    return judge_staging(deployments, pods, namespace)
