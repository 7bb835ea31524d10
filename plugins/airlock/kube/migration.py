"""Database migrations as a Kubernetes Job, one per version, run at most once.

The Job is named `<service>-migrate-<version-slug>`; if it already exists it is not created again
(a completed migration is never re-run; a failed one is reported, and re-running it is a human's
decision: delete the Job first). `job_state` is a pure function of the Job dict.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from airlock.kube.api import Kube
from airlock.kube.plan import migration_job_name
from airlock.redact import env_values, scrub
from airlock.spec import ServiceSpec

Obj = dict[str, Any]


def job_state(job: Obj) -> tuple[str, str]:
    """("Complete" | "Failed" | "Running", message) from the Job's conditions and counters."""
    status = job.get("status") or {}
    name = (job.get("metadata") or {}).get("name", "")
    for cond in status.get("conditions") or []:
        if cond.get("status") != "True":
            continue
        if cond.get("type") == "Complete":
            return "Complete", f'job "{name}" completed ({status.get("succeeded", 0)} succeeded)'
        if cond.get("type") == "Failed":
            return "Failed", (
                f'job "{name}" failed: {cond.get("reason", "")} {cond.get("message", "")}'.strip()
                + f" ({status.get('failed', 0)} failed pods)"
            )
    return "Running", (
        f'job "{name}" running: {status.get("active", 0)} active, {status.get("succeeded", 0)} '
        f"succeeded, {status.get('failed', 0)} failed"
    )


@dataclass(frozen=True)
class MigrationResult:
    """The migration step's outcome (the migrate task's XCom)."""

    job: str | None  # None: the service has no migration
    status: str  # none | dry_run | Complete
    reversible: bool

    def to_dict(self) -> Obj:
        return asdict(self)


def job_labels(spec: ServiceSpec, version: str) -> dict[str, str]:
    """Labels of the Job and its pods: Airlock's own, never the app labels.

    The live Service selects the app labels (plus the colour label in blue-green): a migration pod
    carrying them became a Service endpoint and answered production requests while it migrated. The
    log scan, the rollback evidence and the metrics select the app labels too, so the migration stays
    out of those as well; its pods are found by the Job's own `job-name` label (`job_logs`).
    """
    labels = {
        "app.kubernetes.io/managed-by": "airlock",
        "app.kubernetes.io/component": "migration",
        "airlock.io/service": spec.service,
        "airlock.io/role": "migration",
        "airlock.io/version": "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in version)[:63],
    }
    if all(labels.get(k) == v for k, v in spec.app_labels.items()):
        # only possible if someone chose these very labels as app labels: then the Service would select
        # the migration pods again, so refuse rather than serve traffic from them
        raise ValueError(
            f"{spec.service}: the app labels {spec.app_labels} would select the migration pods "
            f"(labels {labels}); choose app labels that are not Airlock's own"
        )
    return labels


def job_body(spec: ServiceSpec, version: str, image: str | None = None) -> Obj:
    mig = spec.migration
    if mig is None:
        raise ValueError(f"{spec.service}: the service spec has no migration section")
    name = migration_job_name(spec, version)
    labels = job_labels(spec, version)
    container: Obj = {"name": "migrate", "image": mig.image or image or spec.image_ref(version)}
    if mig.command:
        container["command"] = list(mig.command)
    if mig.args:
        container["args"] = list(mig.args)
    if mig.env:
        container["env"] = [{"name": k, "value": v} for k, v in sorted(mig.env.items())]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "backoffLimit": mig.backoff_limit,
            "activeDeadlineSeconds": int(mig.timeout.total_seconds()),
            "template": {
                "metadata": {"labels": labels},
                "spec": {"restartPolicy": "Never", "containers": [container]},
            },
        },
    }


def ensure_job(kube: Kube, spec: ServiceSpec, namespace: str, version: str, image: str | None = None) -> Obj:
    """Create the migration Job unless it exists. Returns {"job", "status", "message", "created"}."""
    body = job_body(spec, version, image)
    name = body["metadata"]["name"]
    job = kube.get("jobs", namespace, name)
    if job is not None:
        state, message = job_state(job)
        kube.log.info('migration job "%s" already exists (%s); not creating it again', name, message)
        return {"job": name, "status": state, "message": message, "created": False}
    kube.log.info(
        'creating migration job "%s" with image %s',
        name,
        body["spec"]["template"]["spec"]["containers"][0]["image"],
    )
    kube.create("jobs", namespace, body, what="(migration)")
    return {"job": name, "status": "Running", "message": f'job "{name}" created', "created": True}


def job_logs(kube: Kube, namespace: str, name: str, tail_lines: int = 200) -> dict[str, list[str]]:
    """Log lines of the Job's pods, by pod name (oldest pod first), without the pods' env values."""
    pods = kube.items("pods", namespace, label_selector={"job-name": name})
    pods.sort(key=lambda p: (p.get("metadata") or {}).get("creationTimestamp", ""))
    return {
        p["metadata"]["name"]: [
            scrub(line, env_values(p))
            for line in kube.logs(namespace, p["metadata"]["name"], tail_lines=tail_lines)
        ]
        for p in pods
    }
