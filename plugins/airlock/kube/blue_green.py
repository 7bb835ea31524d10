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
* **Adoption** (once) changes no pod: a plain Deployment has no colour label, and a Service selecting
  only the app labels would send traffic to green pods (which carry the app labels too) the moment
  they are ready. Adding `track: blue` to blue's pod template would fix the selector but restart every
  production pod before anything new is deployed (and a rollback would restart them again). Instead,
  once blue's rollout is complete, the live Service is *pinned* to the pods blue runs now by a label
  they already have: `pod-template-hash` of blue's current ReplicaSet (Argo Rollouts pins its Services
  the same way). Green's template differs (colour label, image), so its hash differs and the live
  Service never selects it; the preview Service selects green by its colour. The switch replaces the
  selector with app labels + `track: green`, which drops the pin: the plain pods simply stop matching.
  The next release goes to blue, whose template then gets `track: blue` together with the new image
  (one rollout, of a colour that serves no traffic). The rollback plan is recorded before the pin, so
  a rollback restores the original selector - after the new colour is scaled to 0, because that
  selector also selects the new colour's pods (see `rollback.rollback_actions`).
* Verification before traffic: a preview Service `<service>-preview` selects the new colour only;
  health and smoke checks hit it. The switch is a single patch replacing the live Service's selector
  (app labels + `{track_label: <new colour>}`, no pin); switching back restores the selector recorded
  in the plan.
* The old colour keeps running for `strategy.blue_green.keep_old_for` (a deferred wait; no worker is
  held) and is then scaled to 0, ready to receive the next release.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, replace
from typing import Any

from airlock.kube.api import Kube, match_labels_selector
from airlock.kube.rolling import image_of
from airlock.kube.status import POD_TEMPLATE_HASH, new_replicaset, rollout_status
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


PIN_LABEL = POD_TEMPLATE_HASH  # pins the live Service to one ReplicaSet's pods without touching them


def colour_selector(selector: dict[str, str], track_label: str, colour: str) -> dict[str, str]:
    """The selector of `colour`'s pods: the Service's own labels, no pin, the colour label."""
    base = {k: v for k, v in selector.items() if k not in (track_label, PIN_LABEL)}
    return {**base, track_label: colour}


def pinned_selector(selector: dict[str, str], track_label: str, template_hash: str) -> dict[str, str]:
    """The selector of one ReplicaSet's pods (a plain Deployment's, which have no colour label)."""
    base = {k: v for k, v in selector.items() if k not in (track_label, PIN_LABEL)}
    return {**base, PIN_LABEL: template_hash}


def needs_pin(service: Obj, track_label: str) -> bool:
    """True while the live Service selects by app labels only, so it would also select green's pods."""
    selector = (service.get("spec") or {}).get("selector") or {}
    return track_label not in selector and PIN_LABEL not in selector


def current_template_hash(kube: Kube, namespace: str, deployment: Obj) -> str:
    """pod-template-hash of the Deployment's current ReplicaSet ("" when it has none yet)."""
    rss = kube.items(
        "replicasets",
        namespace,
        label_selector=match_labels_selector((deployment.get("spec") or {}).get("selector")),
    )
    rs = new_replicaset(deployment, rss)
    return str((((rs or {}).get("metadata") or {}).get("labels") or {}).get(PIN_LABEL, ""))


def adopt_blue(kube: Kube, spec: ServiceSpec, namespace: str) -> bool:
    """Writes nothing (blue's pods are never restarted). True while the live Service still selects by
    the app labels only: the caller then waits until blue's rollout is complete (all its pods in one
    ReplicaSet) and calls `pin_service_to_blue`."""
    blue = kube.get("deployments", namespace, spec.deployment)
    service = kube.get("services", namespace, spec.k8s_service)
    if blue is None or service is None:
        raise LookupError(
            f'deployment "{spec.deployment}" and service "{spec.k8s_service}" must exist '
            f"in namespace {namespace} for a blue-green deployment"
        )
    if needs_pin(service, spec.kubernetes.track_label):
        kube.log.info(
            'adopting "%s" as the blue colour without touching its pods: once its rollout is complete, '
            "service %s is pinned to its current ReplicaSet (%s)",
            spec.deployment,
            spec.k8s_service,
            PIN_LABEL,
        )
        return True
    return False


def pin_service_to_blue(kube: Kube, spec: ServiceSpec, namespace: str) -> bool:
    """The live Service selects only the pods plain blue runs now (one patch; none if already so).

    Refuses while blue is mid-rollout: a pin to the newest ReplicaSet would drop the older one's pods
    from the Service.
    """
    service = kube.get("services", namespace, spec.k8s_service) or {}
    track = spec.kubernetes.track_label
    selector = dict((service.get("spec") or {}).get("selector") or {})
    if track in selector:
        return False  # already colour-aware: the Service selects a colour that carries its label
    blue = kube.get("deployments", namespace, spec.deployment)
    if blue is None:
        raise LookupError(f'deployment "{spec.deployment}" not found in namespace {namespace}')
    template_hash = current_template_hash(kube, namespace, blue)
    pinned = pinned_selector(selector, track, template_hash)
    if template_hash and selector == pinned:  # a retry: the pin is written, whatever blue's pods do now
        kube.log.info('service "%s" is already pinned to blue\'s pods (%s)', spec.k8s_service, pinned)
        return False
    status = rollout_status(blue)
    if not status.done or not template_hash:
        raise RuntimeError(
            f'cannot pin service "{spec.k8s_service}" to the pods of "{spec.deployment}": its rollout is '
            f"not complete ({status.detail or status.message}); blue-green starts from a rolled-out Deployment"
        )
    kube.log.info(
        'pinning service "%s" to the pods blue runs now: selector %s -> %s (no pod is restarted)',
        spec.k8s_service,
        selector,
        pinned,
    )
    _replace_selector(kube, namespace, spec.k8s_service, pinned, "(pin selector to blue's current pods)")
    return True


def _replace_selector(kube: Kube, namespace: str, name: str, selector: dict[str, str], what: str) -> None:
    # JSON Patch replace: a merge patch could only add keys, and the pin must go when traffic moves
    kube.patch(
        "services",
        namespace,
        name,
        [{"op": "replace", "path": "/spec/selector", "value": selector}],
        patch_type="json",
        what=what,
    )


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
    selector = colour_selector(
        dict((service.get("spec") or {}).get("selector") or spec.app_labels),
        spec.kubernetes.track_label,
        colour,
    )
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


def live_selector(
    kube: Kube, spec: ServiceSpec, namespace: str, selector: dict[str, str], colour: str
) -> Obj:
    """The live Service's selector that sends traffic to `colour` and to nothing else."""
    track = spec.kubernetes.track_label
    dep = kube.get("deployments", namespace, deployment_for(spec, colour)) or {}
    if template_labels(dep).get(track) == colour:
        return colour_selector(selector, track, colour)
    # a plain blue (never released through Airlock: its pods have no colour label). Its own labels also
    # select the other colour's pods, so pin to blue's ReplicaSet while the other colour has replicas.
    other_dep = kube.get("deployments", namespace, deployment_for(spec, other(colour))) or {}
    if int((other_dep.get("spec") or {}).get("replicas", 0) or 0) == 0:
        return {k: v for k, v in selector.items() if k not in (track, PIN_LABEL)}
    return pinned_selector(selector, track, current_template_hash(kube, namespace, dep))


def switch_traffic(kube: Kube, spec: ServiceSpec, namespace: str, colour: str) -> Obj:
    """Point the Service at `colour` in one patch. Returns {"from", "to", "changed"}."""
    service = kube.get("services", namespace, spec.k8s_service)
    if service is None:
        raise LookupError(f'service "{spec.k8s_service}" not found in namespace {namespace}')
    before = dict((service.get("spec") or {}).get("selector") or {})
    selector = live_selector(kube, spec, namespace, before, colour)
    if selector == before:
        kube.log.info('service "%s" already sends traffic to %s', spec.k8s_service, colour)
        return {"from": before, "to": selector, "changed": False}
    _replace_selector(kube, namespace, spec.k8s_service, selector, f"(switch traffic to {colour})")
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
