"""The handful of apiserver validations that clients actually trip over (422 Invalid)."""

from __future__ import annotations

import re
from typing import Any

from kubesim.errors import ApiError, invalid
from kubesim.objects import Obj, name_of
from kubesim.resources import ResourceType
from kubesim.selectors import match_label_selector

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_NAME_KINDS = {"Namespace", "Service"}


def validate_name(rt: ResourceType, name: str) -> None:
    if rt.kind in _LABEL_NAME_KINDS:
        ok = len(name) <= 63 and _DNS1123_LABEL.match(name)
        what = "a lowercase RFC 1123 label"
    else:
        ok = len(name) <= 253 and _DNS1123_SUBDOMAIN.match(name)
        what = "a lowercase RFC 1123 subdomain"
    if not ok:
        raise invalid(
            rt.group,
            rt.kind,
            name,
            [
                (
                    "metadata.name",
                    f'Invalid value: "{name}": {what} must consist of lower case alphanumeric characters, '
                    "'-' or '.', and must start and end with an alphanumeric character",
                )
            ],
        )


def _containers(spec: dict[str, Any], prefix: str) -> list[tuple[str, str]]:
    errs: list[tuple[str, str]] = []
    containers = spec.get("containers") or []
    if not containers:
        errs.append((f"{prefix}.containers", "Required value"))
    seen: set[str] = set()
    for i, c in enumerate(containers):
        if not c.get("name"):
            errs.append((f"{prefix}.containers[{i}].name", "Required value"))
        elif c["name"] in seen:
            errs.append((f"{prefix}.containers[{i}].name", f'Duplicate value: "{c["name"]}"'))
        seen.add(c.get("name", ""))
        if not c.get("image"):
            errs.append((f"{prefix}.containers[{i}].image", "Required value"))
    return errs


def validate(rt: ResourceType, obj: Obj, old: Obj | None) -> None:
    name = name_of(obj)
    spec = obj.get("spec") or {}
    errs: list[tuple[str, str]] = []
    if rt.kind in ("Deployment", "ReplicaSet"):
        selector = spec.get("selector")
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
            errs.append(("spec.selector", "Required value"))
        elif not match_label_selector(selector, labels):
            errs.append(
                (
                    "spec.template.metadata.labels",
                    f"Invalid value: {labels!r}: `selector` does not match template `labels`",
                )
            )
        if old is not None and selector and selector != (old.get("spec") or {}).get("selector"):
            errs.append(("spec.selector", f"Invalid value: {selector!r}: field is immutable"))
        if int(spec.get("replicas", 1)) < 0:
            errs.append(("spec.replicas", "Invalid value: must be greater than or equal to 0"))
        errs += _containers((spec.get("template") or {}).get("spec") or {}, "spec.template.spec")
        if rt.kind == "Deployment":
            strategy = spec.get("strategy") or {}
            if strategy.get("type") not in ("RollingUpdate", "Recreate"):
                errs.append(("spec.strategy.type", f'Unsupported value: "{strategy.get("type")}"'))
            if strategy.get("type") == "Recreate" and strategy.get("rollingUpdate"):
                errs.append(
                    (
                        "spec.strategy.rollingUpdate",
                        "Forbidden: may not be specified when strategy `type` is 'Recreate'",
                    )
                )
    elif rt.kind == "Job":
        tspec = (spec.get("template") or {}).get("spec") or {}
        if tspec.get("restartPolicy") not in ("Never", "OnFailure"):
            errs.append(
                ("spec.template.spec.restartPolicy", 'Required value: valid values: "OnFailure", "Never"')
            )
        errs += _containers(tspec, "spec.template.spec")
        if old is not None:
            old_spec = old.get("spec") or {}
            if spec.get("template") != old_spec.get("template"):
                errs.append(("spec.template", "Invalid value: field is immutable"))
    elif rt.kind == "Pod":
        errs += _containers(spec, "spec")
    elif rt.kind == "Service":
        if (
            spec.get("type", "ClusterIP") != "ExternalName"
            and not spec.get("ports")
            and spec.get("clusterIP") != "None"
        ):
            errs.append(("spec.ports", "Required value"))
    elif rt.kind == "Lease":
        dur = spec.get("leaseDurationSeconds")
        if dur is not None and int(dur) <= 0:
            errs.append(("spec.leaseDurationSeconds", "Invalid value: must be greater than 0"))
    if errs:
        raise invalid(rt.group, rt.kind, name, errs)


def check_kind(rt: ResourceType, obj: Obj) -> None:
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if kind and kind != rt.kind:
        raise ApiError(
            400,
            f"the API version in the data ({api_version}) does not match the expected "
            f"API version ({rt.api_version})"
            if api_version != rt.api_version
            else f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})",
            "BadRequest",
        )
    if api_version and api_version != rt.api_version:
        raise ApiError(
            400,
            f"the API version in the data ({api_version}) does not match the expected "
            f"API version ({rt.api_version})",
            "BadRequest",
        )
