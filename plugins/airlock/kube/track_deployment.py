"""The Deployment for one *track* of a service (canary, blue/green colour), built from another.

Same pod template as the source (so the new pods are the same app with another image), the app
labels plus the track label on the pods and in the selector - which is what lets the Service's
selector and the metrics tell the tracks apart.
"""

from __future__ import annotations

import copy
from typing import Any

from airlock.kube.rolling import CHANGE_CAUSE, image_of
from airlock.spec import ServiceSpec

Obj = dict[str, Any]


def template_labels(deployment: Obj) -> dict[str, str]:
    return dict(
        (((deployment.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
    )


def track_deployment_body(
    spec: ServiceSpec,
    source: Obj,
    *,
    name: str,
    track: str,
    image: str,
    replicas: int,
    cause: str,
    copy_spec_keys: tuple[str, ...],
) -> Obj:
    label = spec.kubernetes.track_label
    template = copy.deepcopy((source.get("spec") or {}).get("template") or {})
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    labels.pop("pod-template-hash", None)  # the controller sets it per ReplicaSet
    labels.update(spec.app_labels)
    labels[label] = track
    template.setdefault("metadata", {})["labels"] = labels
    template["metadata"].pop("creationTimestamp", None)
    for container in template.get("spec", {}).get("containers") or []:
        if container.get("name") == spec.container:
            container["image"] = image
    body: Obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "labels": {**spec.app_labels, label: track, "app.kubernetes.io/managed-by": "airlock"},
            "annotations": {CHANGE_CAUSE: cause},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {**spec.app_labels, label: track}},
            "template": template,
        },
    }
    source_spec = source.get("spec") or {}
    for key in copy_spec_keys:
        if key in source_spec:
            body["spec"][key] = copy.deepcopy(source_spec[key])
    return body


def track_deployment_patch(
    spec: ServiceSpec, current: Obj, *, track: str, image: str, replicas: int, cause: str
) -> Obj:
    """The strategic-merge patch that brings an existing track Deployment to image/label/replicas.

    Empty when it already matches: that is what makes a retried step write nothing.
    """
    label = spec.kubernetes.track_label
    patch: Obj = {}
    if image_of(current, spec.container) != image:
        patch["spec"] = {"template": {"spec": {"containers": [{"name": spec.container, "image": image}]}}}
        patch["metadata"] = {"annotations": {CHANGE_CAUSE: cause}}
    if template_labels(current).get(label) != track:
        patch.setdefault("spec", {}).setdefault("template", {})["metadata"] = {"labels": {label: track}}
    if (current.get("spec") or {}).get("replicas", 1) != replicas:
        patch.setdefault("spec", {})["replicas"] = replicas
    return patch
