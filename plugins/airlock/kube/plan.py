"""The rollback plan: what production looks like *before* a run changes it.

Recorded once per run, before the first production write: images of all containers, revision,
pod-template-hash and replicas of the stable (or active-colour) Deployment, the Service selector, the
active colour, and whether a canary exists. Rollback restores exactly this; nothing is guessed later.

Retry safety: a retried "record plan" task must not re-read the cluster after production already
changed (it would record the new state as "previous"). So the plan is also stored on the stable
Deployment as the annotation `airlock.io/rollback-plan` = {"run_id": ..., "plan": {...}}; a retry of the
same run finds it there and returns it unchanged. Writing an annotation bumps the Deployment's
generation but never creates a ReplicaSet (the pod template is untouched).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from airlock.kube import blue_green
from airlock.kube.api import Kube, match_labels_selector
from airlock.kube.canary import canary_name
from airlock.kube.rolling import container_images
from airlock.kube.status import POD_TEMPLATE_HASH, new_replicaset, revision_of
from airlock.spec import ServiceSpec

Obj = dict[str, Any]

PLAN_ANNOTATION = "airlock.io/rollback-plan"


def migration_job_name(spec: ServiceSpec, version: str) -> str:
    """Deterministic per version: `<service>-migrate-<version-slug>` (a DNS label, <= 63 chars)."""
    slug = "".join(ch if ch.isalnum() else "-" for ch in version.lower()).strip("-")
    name = f"{spec.service}-migrate-{slug}"
    return name[:63].rstrip("-")


def deployment_state(kube: Kube, namespace: str, name: str) -> Obj:
    """What rollback needs to know about one Deployment (exists=False if there is none)."""
    dep = kube.get("deployments", namespace, name)
    if dep is None:
        return {"name": name, "exists": False}
    selector = match_labels_selector((dep.get("spec") or {}).get("selector"))
    rs = new_replicaset(dep, kube.items("replicasets", namespace, label_selector=selector))
    rs_labels = ((rs or {}).get("metadata") or {}).get("labels") or {}
    return {
        "name": name,
        "exists": True,
        "images": container_images(dep),
        "revision": revision_of(dep),
        "template_hash": rs_labels.get(POD_TEMPLATE_HASH, ""),
        "replicas": int((dep.get("spec") or {}).get("replicas", 1)),
    }


def read_plan(kube: Kube, spec: ServiceSpec, namespace: str, strategy: str, run_id: str, version: str,
              new_image: str) -> Obj:
    """Read the current production state into a JSON-able plan (no writes)."""
    service = kube.get("services", namespace, spec.k8s_service)
    selector = dict(((service or {}).get("spec") or {}).get("selector") or {}) if service else None
    colour = blue_green.active_colour(service, spec.kubernetes.track_label) if strategy == "blue_green" else None
    stable_name = blue_green.deployment_for(spec, colour) if colour else spec.deployment
    stable = deployment_state(kube, namespace, stable_name)
    if not stable["exists"]:
        raise LookupError(f'deployment "{stable_name}" not found in namespace {namespace}: Airlock updates an '
                          "existing service; create it first (kubectl apply)")
    plan: Obj = {
        "run_id": run_id,
        "service": spec.service,
        "namespace": namespace,
        "strategy": strategy,
        "version": version,
        "new_image": new_image,
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "deployment": stable_name,
        "stable": stable,
        "images": stable["images"],
        "revision": stable["revision"],
        "replicas": stable["replicas"],
        "service_name": spec.k8s_service,
        "service_selector": selector,
        "colour": colour,
        "canary": deployment_state(kube, namespace, canary_name(spec)),
        "migration": None,
    }
    if colour:
        plan["other_colour"] = deployment_state(kube, namespace, blue_green.deployment_for(spec, blue_green.other(colour)))
    plan["canary_exists"] = plan["canary"]["exists"]
    if spec.migration is not None:
        plan["migration"] = {"job": migration_job_name(spec, version), "reversible": spec.migration.reversible}
    return plan


def stored_plan(deployment: Obj | None, run_id: str) -> Obj | None:
    """The plan stored on the Deployment for `run_id`, if any."""
    raw = (((deployment or {}).get("metadata") or {}).get("annotations") or {}).get(PLAN_ANNOTATION)
    if not raw:
        return None
    try:
        stored = json.loads(raw)
    except ValueError:
        return None
    if isinstance(stored, dict) and stored.get("run_id") == run_id and isinstance(stored.get("plan"), dict):
        return stored["plan"]  # type: ignore[no-any-return]
    return None


def record_plan(kube: Kube, spec: ServiceSpec, namespace: str, strategy: str, run_id: str, version: str,
                new_image: str) -> Obj:
    """Return this run's plan: the stored one on retry, else read now and store it on the Deployment."""
    stable = kube.get("deployments", namespace, spec.deployment)
    existing = stored_plan(stable, run_id)
    if existing is not None:
        kube.log.info("rollback plan for run %s already recorded at %s; re-using it (not re-reading the cluster)",
                      run_id, existing.get("recorded_at"))
        return existing
    plan = read_plan(kube, spec, namespace, strategy, run_id, version, new_image)
    value = json.dumps({"run_id": run_id, "plan": plan}, sort_keys=True, separators=(",", ":"))
    kube.patch("deployments", namespace, spec.deployment, {"metadata": {"annotations": {PLAN_ANNOTATION: value}}},
               patch_type="merge", what="(store rollback plan)")
    return plan


def describe_plan(plan: Obj) -> str:
    """One paragraph for the task log / deployment record."""
    parts = [f'deployment "{plan["deployment"]}" revision {plan["revision"]} at {plan["replicas"]} replicas',
             "images " + ", ".join(f"{k}={v}" for k, v in sorted(plan["images"].items()))]
    if plan.get("service_selector") is not None:
        parts.append(f'service "{plan["service_name"]}" selector {plan["service_selector"]}')
    if plan.get("colour"):
        parts.append(f"active colour {plan['colour']}")
    parts.append("a canary exists" if plan.get("canary_exists") else "no canary")
    if plan.get("migration"):
        m = plan["migration"]
        parts.append(f"migration job {m['job']} ({'reversible' if m['reversible'] else 'IRREVERSIBLE'})")
    return "rollback plan: " + "; ".join(parts)
