"""Rollback to the recorded plan: one audited step, no guessing, no re-analysis.

`rollback_actions` compares the cluster with the plan and lists what differs; `apply_rollback` makes
the writes; the caller then waits for the restored Deployment's rollout (deferred in Airflow) and
calls `verify` for the evidence and the health verdict.

* canary: the canary is scaled to 0 (traffic leaves at once) and deleted; if promotion had already
  touched the stable Deployment it is undone too.
* blue-green: the Service selector is put back exactly as recorded, the new colour is scaled to 0, the
  preview Service removed, and the recorded active colour restored to its replicas and template.
* rolling: `kubectl rollout undo --to-revision=<recorded>` semantics (see undo.py), so the old
  ReplicaSet is re-used.

When nothing differs from the plan (the run failed before touching production), nothing is written
and the result says so. A plan whose irreversible migration already ran is refused: rolling the code
back past it could corrupt data, so a human must decide (IrreversibleMigration says what to do).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from airlock.kube import blue_green, canary, rolling, undo
from airlock.kube.api import Kube
from airlock.kube.plan import DeploymentState, RollbackPlan, deployment_state
from airlock.spec import ServiceSpec

Obj = dict[str, Any]


class IrreversibleMigration(RuntimeError):
    """Rollback refused: an irreversible migration already ran against production data."""


@dataclass(frozen=True)
class RollbackResult:
    """What the rollback did and found (the rollback task's XCom; the record and Slack read it).

    healthy: True (restored and rolled out), False (restored but not healthy: a human must look), None (dry
    run: nothing was sent). noop: production already matched the plan, nothing was written.
    """

    strategy: str | None
    reason: str
    dry_run: bool
    restored: dict[str, Any] = field(default_factory=dict)  # restored_state() after the rollback
    evidence: dict[str, Any] = field(default_factory=dict)  # pod statuses and events at the time
    actions: list[str] = field(default_factory=list)  # the writes made, as sentences
    noop: bool = False
    healthy: bool | None = True
    verification: str | None = None  # why the restored state is not healthy

    def but(self, **changes: Any) -> RollbackResult:
        return replace(self, **changes)

    def to_dict(self) -> Obj:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Obj) -> RollbackResult:
        return cls(**data)


@dataclass
class Action:
    what: str  # human sentence
    kind: str  # undo | scale | delete_canary | restore_selector | delete_preview | restore_images
    target: str
    args: dict[str, Any] = field(default_factory=dict)


def migration_ran(kube: Kube, plan: RollbackPlan) -> Obj | None:
    """The recorded migration Job if it exists in the cluster (it started, so it may have changed data)."""
    if plan.migration is None:
        return None
    return kube.get("jobs", plan.namespace, plan.migration.job)


def check_migration(kube: Kube, plan: RollbackPlan, spec: ServiceSpec | None = None) -> None:
    mig = plan.migration
    reversible = mig.reversible if mig else True
    if spec is not None and spec.migration is not None:
        reversible = reversible and spec.migration.reversible
    if mig is None or reversible:
        return
    job = migration_ran(kube, plan)
    if job is None:
        return
    state = (
        "completed"
        if any(
            c.get("type") == "Complete" and c.get("status") == "True"
            for c in (job.get("status") or {}).get("conditions") or []
        )
        else "started"
    )
    raise IrreversibleMigration(
        f"REFUSING TO ROLL BACK {plan.service}: the irreversible migration job {mig.job} has {state} in "
        f"namespace {plan.namespace}, so the previous version ({', '.join(plan.images.values())}) may not "
        "work with the migrated data. A human must decide: either fix forward (deploy a version that works "
        "with the new schema), or restore the database from the pre-deployment backup and then roll back "
        f"manually with `kubectl rollout undo deployment/{plan.deployment} -n {plan.namespace} "
        f"--to-revision={plan.revision}`. Production was left as it is now."
    )


def _stable_actions(kube: Kube, namespace: str, recorded: DeploymentState) -> list[Action]:
    """Put one recorded Deployment back: template (undo to the recorded revision) and replicas."""
    name = recorded.name
    now = deployment_state(kube, namespace, name)
    actions: list[Action] = []
    if not now.exists:
        raise LookupError(
            f'deployment "{name}" recorded in the rollback plan no longer exists in {namespace}'
        )
    same_template = (
        (now.template_hash == recorded.template_hash)
        if recorded.template_hash
        else now.images == recorded.images
    )
    if not same_template:
        actions.append(
            Action(
                f'undo deployment "{name}" to recorded revision {recorded.revision} '
                f"(images {recorded.images})",
                "undo",
                name,
                {"revision": recorded.revision, "images": recorded.images},
            )
        )
    if now.replicas != recorded.replicas:
        actions.append(
            Action(
                f'scale deployment "{name}" from {now.replicas} back to {recorded.replicas} replicas',
                "scale",
                name,
                {"replicas": recorded.replicas},
            )
        )
    return actions


def rollback_actions(kube: Kube, spec: ServiceSpec, plan: RollbackPlan) -> list[Action]:
    """What must be written to get back to the plan, in the order to write it (empty: nothing changed).

    Order: the recorded stable/active Deployment back to its size, traffic back (selector), the new
    colour / canary / preview removed, and last the stable's template undone to the recorded revision.
    """
    ns = plan.namespace
    stable = _stable_actions(kube, ns, plan.stable)
    actions = [a for a in stable if a.kind == "scale"]
    if plan.strategy == "blue_green":
        selector = plan.service_selector
        service = kube.get("services", ns, plan.service_name)
        current = ((service or {}).get("spec") or {}).get("selector")
        if plan.other_colour is None:  # read_plan records both colours for every blue-green plan
            raise ValueError(
                f"the blue-green rollback plan of run {plan.run_id} does not record the inactive colour"
            )
        other_name = plan.other_colour.name
        now = kube.get("deployments", ns, other_name)
        scale_other = (
            [Action(f'scale new colour deployment "{other_name}" to 0', "scale", other_name, {"replicas": 0})]
            if now is not None and (now.get("spec") or {}).get("replicas", 1) != 0
            else []
        )
        track = spec.kubernetes.track_label
        if selector is not None and service is not None and current != selector:
            restore = Action(
                f'switch service "{plan.service_name}" back to selector {selector}',
                "restore_selector",
                plan.service_name,
                {"selector": selector},
            )
            if scale_other and track not in selector and plan.stable.template_hash:
                # The recorded selector is a plain Deployment's (before the first blue-green run): it
                # also selects the new colour's pods. Traffic goes back to the recorded pods only (by
                # their pod-template-hash, no restart), the new colour goes, then the selector is restored.
                pinned = blue_green.pinned_selector(selector, track, plan.stable.template_hash)
                if current != pinned:
                    actions.append(
                        Action(
                            f'switch service "{plan.service_name}" to the recorded pods only: selector {pinned}',
                            "restore_selector",
                            plan.service_name,
                            {"selector": pinned},
                        )
                    )
                actions += [*scale_other, restore]
            else:
                actions += [restore, *scale_other]
        else:
            actions += scale_other
        preview = blue_green.preview_service_name(spec)
        if kube.get("services", ns, preview) is not None:
            actions.append(Action(f'delete preview service "{preview}"', "delete_preview", preview))
    name = canary.canary_name(spec)
    if not plan.canary.exists and kube.get("deployments", ns, name) is not None:
        actions.append(Action(f'scale canary "{name}" to 0 and delete it', "delete_canary", name))
    actions += [a for a in stable if a.kind == "undo"]
    return actions


def apply_rollback(kube: Kube, spec: ServiceSpec, plan: RollbackPlan, actions: list[Action]) -> list[str]:
    """Make the writes in the given order; returns the sentences of what was done."""
    ns = plan.namespace
    done: list[str] = []
    for action in actions:
        kube.log.info("rollback: %s", action.what)
        if action.kind == "restore_selector":
            blue_green.restore_selector(kube, ns, action.target, action.args["selector"])
        elif action.kind == "scale":
            rolling.scale(kube, ns, action.target, action.args["replicas"])
        elif action.kind == "delete_canary":
            canary.remove_canary(kube, spec, ns)
        elif action.kind == "delete_preview":
            blue_green.remove_preview_service(kube, spec, ns)
        elif action.kind == "undo":
            try:
                undo.undo(kube, ns, action.target, int(action.args["revision"]))
            except undo.RevisionNotFound as exc:
                # history was pruned (revisionHistoryLimit): fall back to setting the recorded images
                kube.log.warning("%s; restoring the recorded images instead", exc)
                for container, image in action.args["images"].items():
                    if not container.startswith("init:"):
                        rolling.set_image(kube, ns, action.target, container, image, None)
        done.append(action.what)
    return done


def restored_state(kube: Kube, plan: RollbackPlan) -> Obj:
    """What production looks like now, in the plan's terms (for the rollback result)."""
    service = kube.get("services", plan.namespace, plan.service_name)
    now = deployment_state(kube, plan.namespace, plan.deployment)
    return {
        "deployment": plan.deployment,
        "images": now.images,
        "revision": now.revision,
        "replicas": now.replicas,
        "service_selector": ((service or {}).get("spec") or {}).get("selector"),
        "colour": plan.colour,
    }
