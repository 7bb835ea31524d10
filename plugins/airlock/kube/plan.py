"""The rollback plan: what an environment looks like *before* a run changes it.

Recorded once per run and environment, before the first write there: images of all containers,
revision, pod-template-hash and replicas of the stable (or active-colour) Deployment, the Service
selector, the active colour, and whether a canary exists. Rollback restores exactly this; nothing is
guessed later. Production gets one before its strategy starts; staging gets one before its rolling
update (staging is always a rolling update and never runs the migration), so a version that fails in
staging is put back there by the same rollback (airlock.kube.rollback).

Retry safety: a retried "record plan" task must not re-read the cluster after production already
changed (it would record the new state as "previous"). So the plan is also stored on the stable
Deployment as the annotation `airlock.io/rollback-plan` = {"run_id": ..., "plan": {...}}; a retry of the
same run finds it there and returns it unchanged. Writing an annotation bumps the Deployment's
generation but never creates a ReplicaSet (the pod template is untouched).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from airlock.kube import blue_green
from airlock.kube.api import Kube, match_labels_selector
from airlock.kube.canary import canary_name
from airlock.kube.rolling import container_images
from airlock.kube.status import POD_TEMPLATE_HASH, new_replicaset, revision_of, rollout_status
from airlock.spec import ServiceSpec

Obj = dict[str, Any]

PLAN_ANNOTATION = "airlock.io/rollback-plan"


def migration_job_name(spec: ServiceSpec, version: str) -> str:
    """Deterministic per version: `<service>-migrate-<version-slug>` (a DNS label, <= 63 chars)."""
    slug = "".join(ch if ch.isalnum() else "-" for ch in version.lower()).strip("-")
    name = f"{spec.service}-migrate-{slug}"
    return name[:63].rstrip("-")


@dataclass(frozen=True)
class DeploymentState:
    """What rollback needs to know about one Deployment (exists=False if there is none)."""

    name: str
    exists: bool
    images: dict[str, str] = field(default_factory=dict)  # container -> image ("init:<name>" for init)
    revision: int = 0
    template_hash: str = ""  # the pod-template-hash of its newest ReplicaSet
    replicas: int = 0

    def to_dict(self) -> Obj:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Obj) -> DeploymentState:
        return cls(**{**data, "images": dict(data.get("images") or {})})


@dataclass(frozen=True)
class MigrationPlan:
    job: str
    reversible: bool

    @classmethod
    def from_dict(cls, data: Obj) -> MigrationPlan:
        return cls(job=str(data["job"]), reversible=bool(data["reversible"]))


@dataclass(frozen=True)
class RollbackPlan:
    """Production as it was before this run changed it; rollback restores exactly this.

    `stable` is the Deployment serving traffic (the service's own, or the active colour); its name,
    images, revision and replicas are read from it, never stored twice.
    """

    run_id: str
    service: str
    namespace: str
    strategy: str
    version: str  # the version this run deploys
    new_image: str
    recorded_at: str
    stable: DeploymentState
    service_name: str
    service_selector: dict[str, str] | None  # None: the Service does not exist
    canary: DeploymentState
    colour: str | None = None  # blue-green: the active colour
    other_colour: DeploymentState | None = None  # blue-green: the inactive colour, as it was
    migration: MigrationPlan | None = None
    environment: str = "production"  # the spec environment the plan was read from

    @property
    def deployment(self) -> str:
        return self.stable.name

    @property
    def images(self) -> dict[str, str]:
        return self.stable.images

    @property
    def revision(self) -> int:
        return self.stable.revision

    @property
    def replicas(self) -> int:
        return self.stable.replicas

    def to_dict(self) -> Obj:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Obj) -> RollbackPlan:
        if not isinstance(data, dict):
            raise TypeError(f"a rollback plan is read from a dict, got {type(data).__name__}")
        other = data.get("other_colour")
        migration = data.get("migration")
        return cls(
            **{
                k: data[k]
                for k in (
                    "run_id",
                    "service",
                    "namespace",
                    "strategy",
                    "version",
                    "new_image",
                    "recorded_at",
                    "service_name",
                )
            },
            stable=DeploymentState.from_dict(data["stable"]),
            service_selector=dict(data["service_selector"])
            if data.get("service_selector") is not None
            else None,
            canary=DeploymentState.from_dict(data["canary"]),
            colour=data.get("colour"),
            other_colour=DeploymentState.from_dict(other) if other else None,
            migration=MigrationPlan.from_dict(migration) if migration else None,
            environment=str(data.get("environment") or "production"),
        )


def deployment_state(kube: Kube, namespace: str, name: str) -> DeploymentState:
    """Read one Deployment's rollback-relevant state (no writes)."""
    dep = kube.get("deployments", namespace, name)
    if dep is None:
        return DeploymentState(name=name, exists=False)
    selector = match_labels_selector((dep.get("spec") or {}).get("selector"))
    rs = new_replicaset(dep, kube.items("replicasets", namespace, label_selector=selector))
    rs_labels = ((rs or {}).get("metadata") or {}).get("labels") or {}
    return DeploymentState(
        name=name,
        exists=True,
        images=container_images(dep),
        revision=revision_of(dep),
        template_hash=rs_labels.get(POD_TEMPLATE_HASH, ""),
        replicas=int((dep.get("spec") or {}).get("replicas", 1)),
    )


def read_plan(
    kube: Kube,
    spec: ServiceSpec,
    namespace: str,
    strategy: str,
    run_id: str,
    version: str,
    new_image: str,
    environment: str = "production",
) -> RollbackPlan:
    """Read the environment's current state into a plan (no writes). The migration runs in production
    only, so only a production plan records it."""
    service = kube.get("services", namespace, spec.k8s_service)
    selector = dict(((service or {}).get("spec") or {}).get("selector") or {}) if service else None
    colour = (
        blue_green.active_colour(service, spec.kubernetes.track_label) if strategy == "blue_green" else None
    )
    stable_name = blue_green.deployment_for(spec, colour) if colour else spec.deployment
    stable = deployment_state(kube, namespace, stable_name)
    if not stable.exists:
        raise LookupError(
            f'deployment "{stable_name}" not found in namespace {namespace} ({environment}): Airlock '
            "updates an existing service; create it first (kubectl apply)"
        )
    other = (
        deployment_state(kube, namespace, blue_green.deployment_for(spec, blue_green.other(colour)))
        if colour
        else None
    )
    migration = (
        MigrationPlan(migration_job_name(spec, version), spec.migration.reversible)
        if spec.migration is not None and environment == "production"
        else None
    )
    return RollbackPlan(
        run_id=run_id,
        service=spec.service,
        namespace=namespace,
        strategy=strategy,
        version=version,
        new_image=new_image,
        recorded_at=datetime.now(UTC).isoformat(timespec="seconds"),
        stable=stable,
        service_name=spec.k8s_service,
        service_selector=selector,
        canary=deployment_state(kube, namespace, canary_name(spec)),
        colour=colour,
        other_colour=other,
        migration=migration,
        environment=environment,
    )


def stored_plan(deployment: Obj | None, run_id: str) -> RollbackPlan | None:
    """The plan stored on the Deployment for `run_id`, if any.

    A stored plan for this run that cannot be read is an error, not "no plan": re-reading production
    after this run changed it would record the new state as the one to return to.
    """
    raw = (((deployment or {}).get("metadata") or {}).get("annotations") or {}).get(PLAN_ANNOTATION)
    if not raw:
        return None
    try:
        stored = json.loads(raw)
    except ValueError:
        return None
    if not (
        isinstance(stored, dict) and stored.get("run_id") == run_id and isinstance(stored.get("plan"), dict)
    ):
        return None
    try:
        return RollbackPlan.from_dict(stored["plan"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"the rollback plan stored for run {run_id} in annotation {PLAN_ANNOTATION} cannot be read ({exc}); "
            "refusing to re-read production, which this run may already have changed"
        ) from None


class InconsistentProduction(RuntimeError):
    """Refused: production is not in one consistent state, so there is no state to record as 'previous'."""


def inconsistency(stable: Obj | None, canary: Obj | None) -> str | None:
    """Why production cannot be recorded as the state to return to (None: it can). Pure.

    Mixed: pods of more than one pod template (a rollout or a rollback under way or stuck half-way), a
    change the Deployment controller has not acted on yet, or a canary left with pods from an earlier
    run. A plan recorded from it would make a later rollback restore the mix. Pods of one template that
    are not ready yet are one state (readiness is the pre-flight's and the rollout's to judge)."""
    if stable is not None:
        meta, status = stable.get("metadata") or {}, stable.get("status") or {}
        name = meta.get("name", "")
        generation, observed = int(meta.get("generation") or 0), int(status.get("observedGeneration") or 0)
        if generation > max(observed, 1):
            return (
                f'a change to deployment "{name}" is not yet acted on (generation {generation} > {observed})'
            )
        pods, updated = int(status.get("replicas") or 0), int(status.get("updatedReplicas") or 0)
        if pods > updated:
            return (
                f'deployment "{name}" runs two versions: {pods - updated} of {pods} pods are from an older '
                f"template ({rollout_status(stable).message})"
            )
    replicas = int(((canary or {}).get("spec") or {}).get("replicas") or 0)
    if canary is not None and replicas > 0:
        return (
            f'a canary deployment "{canary["metadata"]["name"]}" from an earlier run still runs {replicas} '
            "pod(s) beside the stable version"
        )
    return None


def record_plan(
    kube: Kube,
    spec: ServiceSpec,
    namespace: str,
    strategy: str,
    run_id: str,
    version: str,
    new_image: str,
    environment: str = "production",
) -> RollbackPlan:
    """Return this run's plan: the stored one on retry, else read now and store it on the Deployment
    (of the namespace the plan is for: staging and production each keep their own)."""
    stable = kube.get("deployments", namespace, spec.deployment)
    existing = stored_plan(stable, run_id)
    if existing is not None:
        kube.log.info(
            "rollback plan for run %s already recorded at %s; re-using it (not re-reading the cluster)",
            run_id,
            existing.recorded_at,
        )
        return existing
    if environment == "production":
        mixed = inconsistency(stable, kube.get("deployments", namespace, canary_name(spec)))
        if mixed is not None:
            raise InconsistentProduction(
                f"refusing to record a rollback plan for {spec.service}: production is not in one "
                f"consistent state ({mixed}). A rollback to it would restore that mix. Let the rollout "
                "finish or put production right (kubectl rollout status / undo), then start this "
                "deployment again."
            )
    plan = read_plan(kube, spec, namespace, strategy, run_id, version, new_image, environment)
    value = json.dumps({"run_id": run_id, "plan": plan.to_dict()}, sort_keys=True, separators=(",", ":"))
    kube.patch(
        "deployments",
        namespace,
        spec.deployment,
        {"metadata": {"annotations": {PLAN_ANNOTATION: value}}},
        patch_type="merge",
        what="(store rollback plan)",
    )
    return plan


def describe_plan(plan: RollbackPlan) -> str:
    """One paragraph for the task log / deployment record."""
    parts = [
        f"{plan.environment} ({plan.namespace})",
        f'deployment "{plan.deployment}" revision {plan.revision} at {plan.replicas} replicas',
        "images " + ", ".join(f"{k}={v}" for k, v in sorted(plan.images.items())),
    ]
    if plan.service_selector is not None:
        parts.append(f'service "{plan.service_name}" selector {plan.service_selector}')
    if plan.colour:
        parts.append(f"active colour {plan.colour}")
    parts.append("a canary exists" if plan.canary.exists else "no canary")
    if plan.migration:
        m = plan.migration
        parts.append(f"migration job {m.job} ({'reversible' if m.reversible else 'IRREVERSIBLE'})")
    return "rollback plan: " + "; ".join(parts)
