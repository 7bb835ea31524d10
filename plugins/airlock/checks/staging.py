"""Staging healthy: the service's own Deployments rolled out (kubectl rollout status rules) and its own
pods Running/Ready.

Only the service's own workloads are judged: many services share one staging namespace, and one broken
neighbour must not block every deployment there. "Own" means the pods carry the service's app labels
(`kubernetes.app_labels`, default {app: <service>}), the labels that select its pods; a Deployment is
the service's when its pod template carries them. Everything else is counted and named in the
evidence, never judged.
"""

from __future__ import annotations

from collections.abc import Mapping
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


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def carries(labels: Mapping[str, str], app_labels: Mapping[str, str]) -> bool:
    """Do these labels carry every one of the service's app labels?"""
    return all(labels.get(k) == v for k, v in app_labels.items())


def own_workloads(
    deployments: list[dict[str, Any]], pods: list[dict[str, Any]], app_labels: Mapping[str, str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The Deployments whose pod template carries the app labels, and the pods that carry them."""
    own_deployments = [
        d for d in deployments if carries(_labels((d.get("spec") or {}).get("template") or {}), app_labels)
    ]
    return own_deployments, [p for p in pods if carries(_labels(p), app_labels)]


def _selector_text(app_labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(app_labels.items()))


def judge_staging(
    deployments: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    namespace: str,
    app_labels: Mapping[str, str] | None = None,
) -> CheckResult:
    """Judge the service's own workloads among everything in the namespace (`app_labels`: the labels of
    the service's pods; None judges every workload in the namespace)."""
    scope = f"staging ({namespace})"
    others: list[str] = []
    if app_labels is not None:
        own_deployments, own_pods = own_workloads(deployments, pods, app_labels)
        scope = f"staging ({namespace}) for {_selector_text(app_labels)}"
        others = sorted(
            str((d.get("metadata") or {}).get("name", "?")) for d in deployments if d not in own_deployments
        )
        deployments, pods = own_deployments, own_pods
    not_rolled = [p for d in deployments if (p := rollout_problem(d))]
    bad_pods = [p for pod in pods if (p := pod_problem(pod))]
    evidence: dict[str, Any] = {
        "namespace": namespace,
        "app_labels": dict(app_labels) if app_labels is not None else None,
        "deployments": len(deployments),
        "pods": len(pods),
        "not_rolled_out": not_rolled,
        "unhealthy_pods": bad_pods,
        "other_deployments_not_judged": others,
    }
    not_judged = (
        f"; {len(others)} Deployment(s) of other services not judged ({', '.join(others[:5])}"
        f"{', ...' if len(others) > 5 else ''})"
        if others
        else ""
    )
    if not deployments:
        what = "no Deployments" if app_labels is None else "no Deployment of this service"
        return CheckResult(NAME, FAIL, f"{what} in {scope}: staging is not deployed{not_judged}", evidence)
    problems = []
    if not_rolled:
        problems.append(f"{len(not_rolled)} Deployment(s) not rolled out: " + "; ".join(not_rolled))
    if bad_pods:
        problems.append(f"{len(bad_pods)} pod(s) not Running/Ready: " + "; ".join(bad_pods))
    if problems:
        return CheckResult(NAME, FAIL, f"{scope}: " + " | ".join(problems) + not_judged, evidence)
    return CheckResult(
        NAME,
        PASS,
        f"{scope}: {len(deployments)} Deployment(s) rolled out, {len(pods)} pod(s) Running/Ready{not_judged}",
        evidence,
    )


def check_staging(api: client.ApiClient, namespace: str, app_labels: Mapping[str, str]) -> CheckResult:
    """The service's own Deployments and pods in the staging namespace (those carrying `app_labels`)."""
    if not app_labels:
        raise ValueError("check_staging needs the service's app labels: it judges only its own workloads")
    kube = Kube(api)
    deployments = kube.items("deployments", namespace)
    pods = kube.items("pods", namespace, label_selector=dict(app_labels))
    return judge_staging(deployments, pods, namespace, app_labels)
