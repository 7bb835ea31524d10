"""Blue-green deployments: two Deployments, one Service, colours that alternate.

Design
------
* Colours are a pod label, `kubernetes.track_label` (default `track`) = `blue` | `green`.
* **Blue** is the service's own Deployment, `kubernetes.deployment` (e.g. `payment-service`), the one
  that exists before Airlock ever ran. **Green** is `<deployment>-green`, created by Airlock the first
  time from blue's spec (same app labels, selector = app labels + `track: green`).
* The **active** colour is the one the Service selects: the Service selector's track label, or blue
  when the selector has no track label (the initial plain Deployment).
* Each deployment puts the new version on the *inactive* colour, so repeated deployments alternate:
  blue -> green -> blue -> ... The inactive Deployment is kept at 0 replicas between deployments and
  scaled up to the active colour's replica count for the next release.
* **Adoption** (once): a plain Deployment has no colour label, and a Service selecting only the app
  labels would send traffic to green pods the moment they are ready. So before green is created, blue's
  pod template gets `track: blue` (a rolling restart of the same image, waited for by the caller) and
  the Service selector is pinned to `track: blue` in one patch. From then on the Service never selects
  a colour that has not been verified. The rollback plan is recorded before adoption, so a rollback
  restores the original selector and template.
* Verification before traffic: a preview Service `<service>-preview` selects the new colour only;
  health and smoke checks hit it. The switch is a single strategic merge patch of the live Service's
  selector (`{track_label: <new colour>}`); switching back restores the selector recorded in the plan.
* The old colour keeps running for `strategy.blue_green.keep_old_for` (a deferred wait; no worker is
  held) and is then scaled to 0, ready to receive the next release.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, replace
from typing import Any

from airlock.kube.api import Kube
from airlock.kube.rolling import image_of
from airlock.kube.track_deployment import template_labels, track_deployment_body, track_deployment_patch
from airlock.spec import ServiceSpec

Obj = dict[str, Any]

BLUE, GREEN = "blue", "green"
COLOURS = (BLUE, GREEN)


def other(colour: str) -> str:
    return GREEN if colour == BLUE else BLUE


def deployment_for(spec: ServiceSpec, colour: str) -> str:
    return spec.deployment if colour == BLUE else f"{spec.deployment}-green"


def preview_service_name(spec: ServiceSpec) -> str:
    return f"{spec.k8s_service}-preview"


def active_colour(service: Obj | None, track_label: str) -> str:
    selector = ((service or {}).get("spec") or {}).get("selector") or {}
    colour = selector.get(track_label, BLUE)
    return colour if colour in COLOURS else BLUE


def colour_state(kube: Kube, spec: ServiceSpec, namespace: str) -> Obj:
    """Which colour serves traffic, which one receives the next release, and their Deployments."""
    service = kube.get("services", namespace, spec.k8s_service)
    if service is None:
        raise LookupError(f'service "{spec.k8s_service}" not found in namespace {namespace}')
    active = active_colour(service, spec.kubernetes.track_label)
    return {
        "service": spec.k8s_service,
        "selector": dict((service.get("spec") or {}).get("selector") or {}),
        "active": active,
        "new": other(active),
        "active_deployment": deployment_for(spec, active),
        "new_deployment": deployment_for(spec, other(active)),
    }


def adoption_patches(spec: ServiceSpec, blue: Obj, service: Obj) -> tuple[Obj | None, Obj | None]:
    """(deployment patch, service patch) that give plain blue its colour label; (None, None) if done."""
    track = spec.kubernetes.track_label
    dep_patch = None
    if template_labels(blue).get(track) != BLUE:
        dep_patch = {"spec": {"template": {"metadata": {"labels": {track: BLUE}}}}}
    svc_patch = None
    if track not in ((service.get("spec") or {}).get("selector") or {}):
        svc_patch = {"spec": {"selector": {track: BLUE}}}
    return dep_patch, svc_patch


def adopt_blue(kube: Kube, spec: ServiceSpec, namespace: str) -> bool:
    """Give blue's pods the colour label (once). True while the Service is not yet pinned to a colour
    (the caller then waits for blue's rollout and calls `pin_service_to_blue`)."""
    blue = kube.get("deployments", namespace, spec.deployment)
    service = kube.get("services", namespace, spec.k8s_service)
    if blue is None or service is None:
        raise LookupError(
            f'deployment "{spec.deployment}" and service "{spec.k8s_service}" must exist '
            f"in namespace {namespace} for a blue-green deployment"
        )
    dep_patch, svc_patch = adoption_patches(spec, blue, service)
    if dep_patch:
        kube.log.info(
            'adopting "%s" as the blue colour: adding pod label %s=blue (rolling restart, same image)',
            spec.deployment,
            spec.kubernetes.track_label,
        )
        kube.patch("deployments", namespace, spec.deployment, dep_patch, what="(blue-green adoption)")
    return svc_patch is not None


def pin_service_to_blue(kube: Kube, spec: ServiceSpec, namespace: str) -> bool:
    """After adoption's rollout: the Service selects blue explicitly (one patch)."""
    service = kube.get("services", namespace, spec.k8s_service) or {}
    blue = kube.get("deployments", namespace, spec.deployment) or {}
    _, svc_patch = adoption_patches(spec, blue, service)
    if svc_patch:
        kube.patch("services", namespace, spec.k8s_service, svc_patch, what="(pin selector to blue)")
    return svc_patch is not None


def green_body(spec: ServiceSpec, blue: Obj, image: str, replicas: int, cause: str) -> Obj:
    """A new green Deployment built from blue's spec: same pod template, colour label, new image."""
    return track_deployment_body(
        spec,
        blue,
        name=deployment_for(spec, GREEN),
        track=GREEN,
        image=image,
        replicas=replicas,
        cause=cause,
        copy_spec_keys=("strategy", "minReadySeconds", "progressDeadlineSeconds", "revisionHistoryLimit"),
    )


@dataclass(frozen=True)
class ColourDeploy:
    """The new colour of a blue-green release (the deploy task's XCom)."""

    colour: str  # the colour that runs the new version
    deployment: str
    replicas: int
    changed: bool
    already_active: bool  # the live colour already runs this version (a retry after the switch)
    active: str  # the colour serving traffic when this was decided
    active_deployment: str
    preview_service: str | None = None
    status: str = "sized"  # sized | ready | dry_run | already_live

    def but(self, **changes: Any) -> ColourDeploy:
        return replace(self, **changes)

    def to_dict(self) -> Obj:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Obj) -> ColourDeploy:
        return cls(**data)


@dataclass(frozen=True)
class TrafficSwitch:
    """The live Service's switch to a colour (the switch task's XCom)."""

    colour: str
    previous_colour: str
    selector_before: dict[str, str]
    selector: dict[str, str]
    changed: bool
    new_deployment: str

    def to_dict(self) -> Obj:
        return asdict(self)


@dataclass(frozen=True)
class ColourRetired:
    """The old colour scaled to 0 after the keep-old period (the finalize task's XCom)."""

    retired: str | None  # its Deployment, None when there was none
    colour: str | None
    changed: bool

    def to_dict(self) -> Obj:
        return asdict(self)


def deploy_new_colour(kube: Kube, spec: ServiceSpec, namespace: str, image: str, cause: str) -> ColourDeploy:
    """Put `image` on the inactive colour at the active colour's size. Idempotent."""
    state = colour_state(kube, spec, namespace)
    new, new_name = state["new"], state["new_deployment"]
    active = kube.get("deployments", namespace, state["active_deployment"])
    if active is None:
        raise LookupError(f'active deployment "{state["active_deployment"]}" not found in {namespace}')
    if image_of(active, spec.container) == image:
        # a retry after the switch (or a re-deploy of the live version): nothing to put on the other colour
        kube.log.info(
            'the active colour %s ("%s") already runs %s; nothing to deploy',
            state["active"],
            state["active_deployment"],
            image,
        )
        return ColourDeploy(
            colour=state["active"],
            deployment=state["active_deployment"],
            replicas=int((active.get("spec") or {}).get("replicas", 1)),
            changed=False,
            already_active=True,
            active=state["active"],
            active_deployment=state["active_deployment"],
        )
    replicas = int((active.get("spec") or {}).get("replicas", 1)) or 1
    current = kube.get("deployments", namespace, new_name)
    changed = False
    if current is None:
        kube.log.info('creating %s deployment "%s" with %s at %d replicas', new, new_name, image, replicas)
        kube.create(
            "deployments",
            namespace,
            green_body(spec, active, image, replicas, cause),
            what=f"(new colour {new})",
        )
        changed = True
    else:
        patch = track_deployment_patch(spec, current, track=new, image=image, replicas=replicas, cause=cause)
        if patch:
            kube.log.info(
                'updating %s deployment "%s": image %s, %d replicas', new, new_name, image, replicas
            )
            kube.patch("deployments", namespace, new_name, patch, what=f"(new colour {new})")
            changed = True
        else:
            kube.log.info('%s deployment "%s" already runs %s at %d replicas', new, new_name, image, replicas)
    return ColourDeploy(
        colour=new,
        deployment=new_name,
        replicas=replicas,
        changed=changed,
        already_active=False,
        active=state["active"],
        active_deployment=state["active_deployment"],
    )


def preview_body(spec: ServiceSpec, service: Obj, colour: str) -> Obj:
    ports = copy.deepcopy((service.get("spec") or {}).get("ports") or [])
    for p in ports:
        p.pop("nodePort", None)
    selector = dict((service.get("spec") or {}).get("selector") or spec.app_labels)
    selector[spec.kubernetes.track_label] = colour
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": preview_service_name(spec),
            "labels": {**spec.app_labels, "app.kubernetes.io/managed-by": "airlock"},
        },
        "spec": {"selector": selector, "ports": ports, "type": "ClusterIP"},
    }


def ensure_preview_service(kube: Kube, spec: ServiceSpec, namespace: str, colour: str) -> Obj:
    """`<service>-preview` selecting only `colour`, so checks can reach it before any traffic."""
    service = kube.get("services", namespace, spec.k8s_service)
    if service is None:
        raise LookupError(f'service "{spec.k8s_service}" not found in namespace {namespace}')
    body = preview_body(spec, service, colour)
    name = body["metadata"]["name"]
    current = kube.get("services", namespace, name)
    if current is None:
        kube.create("services", namespace, body, what=f"(preview of {colour})")
    elif (current.get("spec") or {}).get("selector") != body["spec"]["selector"]:
        kube.patch(
            "services",
            namespace,
            name,
            [{"op": "replace", "path": "/spec/selector", "value": body["spec"]["selector"]}],
            patch_type="json",
            what=f"(preview of {colour})",
        )
    else:
        kube.log.info('preview service "%s" already selects %s', name, colour)
    return {"name": name, "selector": body["spec"]["selector"]}


def remove_preview_service(kube: Kube, spec: ServiceSpec, namespace: str) -> bool:
    name = preview_service_name(spec)
    if kube.get("services", namespace, name) is None:
        return False
    kube.delete("services", namespace, name, what="(preview no longer needed)")
    return True


def switch_traffic(kube: Kube, spec: ServiceSpec, namespace: str, colour: str) -> Obj:
    """Point the Service at `colour` in one patch. Returns {"from", "to", "changed"}."""
    service = kube.get("services", namespace, spec.k8s_service)
    if service is None:
        raise LookupError(f'service "{spec.k8s_service}" not found in namespace {namespace}')
    track = spec.kubernetes.track_label
    selector = dict((service.get("spec") or {}).get("selector") or {})
    before = dict(selector)
    if selector.get(track) == colour:
        kube.log.info('service "%s" already sends traffic to %s', spec.k8s_service, colour)
        return {"from": before, "to": selector, "changed": False}
    selector[track] = colour
    kube.patch(
        "services",
        namespace,
        spec.k8s_service,
        {"spec": {"selector": {track: colour}}},
        what=f"(switch traffic to {colour})",
    )
    return {"from": before, "to": selector, "changed": True}


def restore_selector(kube: Kube, namespace: str, service_name: str, selector: dict[str, str]) -> bool:
    """Put back a recorded selector exactly (JSON Patch replace, so extra keys are removed too)."""
    service = kube.get("services", namespace, service_name)
    if service is None:
        raise LookupError(f'service "{service_name}" not found in namespace {namespace}')
    if ((service.get("spec") or {}).get("selector") or {}) == selector:
        return False
    kube.patch(
        "services",
        namespace,
        service_name,
        [{"op": "replace", "path": "/spec/selector", "value": selector}],
        patch_type="json",
        what="(restore recorded selector)",
    )
    return True
