"""Canary by replica ratio: `<deployment>-canary` next to the stable Deployment, behind the same Service.

The canary Deployment carries the stable pods' app labels plus `track: canary`, so the Service (which
selects the app labels) spreads requests over stable and canary pods alike: the canary's share of
traffic is ready canary / (stable + canary). For a weight w (percent) the canary gets
ceil(stable * w / (100 - w)) replicas (at least 1), and the stable keeps its full size, so an abort is
instant (scale the canary to 0) and never leaves the service under-provisioned. 100 % is reached by
promotion: the stable Deployment is rolled to the new version, then the canary is removed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from airlock.kube.api import Kube
from airlock.kube.track_deployment import track_deployment_body, track_deployment_patch
from airlock.spec import ServiceSpec

Obj = dict[str, Any]

CANARY = "canary"


def canary_name(spec: ServiceSpec) -> str:
    return f"{spec.deployment}-canary"


def canary_replicas(stable: int, weight: float) -> int:
    """Replicas that give the canary `weight` % of the pods next to `stable` full-size stable pods."""
    if not 0 < weight < 100:
        raise ValueError(f"canary weight must be between 0 and 100 (exclusive), got {weight}")
    return max(1, math.ceil(stable * weight / (100 - weight)))


def effective_percent(stable: int, canary: int) -> float:
    return 100.0 * canary / (stable + canary) if stable + canary else 0.0


def canary_body(spec: ServiceSpec, stable: Obj, image: str, replicas: int, cause: str) -> Obj:
    return track_deployment_body(
        spec,
        stable,
        name=canary_name(spec),
        track=CANARY,
        image=image,
        replicas=replicas,
        cause=cause,
        copy_spec_keys=("minReadySeconds", "progressDeadlineSeconds"),
    )


@dataclass(frozen=True)
class CanaryStep:
    """One canary step (the step task's XCom): the canary's size for `weight` % and what it receives."""

    deployment: str
    replicas: int
    stable_replicas: int
    weight: float  # the step's traffic percentage as requested
    effective_percent: float  # what the replica ratio gives the canary
    changed: bool
    image: str
    status: str = "sized"  # sized | ready | dry_run

    def with_status(self, status: str) -> CanaryStep:
        return replace(self, status=status)

    def to_dict(self) -> Obj:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Obj) -> CanaryStep:
        return cls(**data)


def ensure_canary(
    kube: Kube, spec: ServiceSpec, namespace: str, image: str, weight: float, cause: str
) -> CanaryStep:
    """Create or resize the canary for `weight` %. Writes nothing if it is already so."""
    stable = kube.get("deployments", namespace, spec.deployment)
    if stable is None:
        raise LookupError(f'stable deployment "{spec.deployment}" not found in namespace {namespace}')
    stable_replicas = int((stable.get("spec") or {}).get("replicas", 1))
    replicas = canary_replicas(stable_replicas, weight)
    name = canary_name(spec)
    current = kube.get("deployments", namespace, name)
    changed = False
    if current is None:
        kube.create(
            "deployments",
            namespace,
            canary_body(spec, stable, image, replicas, cause),
            what=f"(canary {weight:g} %)",
        )
        changed = True
    else:
        patch = track_deployment_patch(
            spec, current, track=CANARY, image=image, replicas=replicas, cause=cause
        )
        if patch:
            kube.patch("deployments", namespace, name, patch, what=f"(canary {weight:g} %)")
            changed = True
    pct = effective_percent(stable_replicas, replicas)
    kube.log.info(
        "canary step %g %%: %d canary + %d stable replicas -> canary receives %.1f %% of traffic "
        "(replica ratio)%s",
        weight,
        replicas,
        stable_replicas,
        pct,
        "" if changed else "; already so",
    )
    return CanaryStep(name, replicas, stable_replicas, weight, round(pct, 2), changed, image)


def remove_canary(kube: Kube, spec: ServiceSpec, namespace: str) -> bool:
    """Scale the canary to 0 (traffic leaves at once), then delete it. False if there was none."""
    name = canary_name(spec)
    current = kube.get("deployments", namespace, name)
    if current is None:
        return False
    if (current.get("spec") or {}).get("replicas", 1) != 0:
        kube.patch(
            "deployments",
            namespace,
            name,
            {"spec": {"replicas": 0}},
            patch_type="merge",
            what="(canary to 0)",
        )
    kube.delete("deployments", namespace, name, what="(remove canary)")
    return True
