"""Where the app answers HTTP for a target (staging / production / preview), from spec.endpoints."""

from __future__ import annotations

from typing import Any

from airlock.checks.http import join_url

TARGETS = ("staging", "production", "preview")


def target_url(spec: Any, target: str, base_url: str) -> str:
    """The app's base URL for a target: the connection's base URL + the target's path, or a full URL.

    {namespace} is the target's namespace (preview lives in production), {service} the Kubernetes Service.
    """
    if target not in TARGETS:
        raise ValueError(f"target {target!r} is not one of {', '.join(TARGETS)}")
    template = getattr(spec.endpoints, target)
    if template is None:
        raise ValueError(f"{spec.service}: endpoints.{target} is not configured")
    namespace = spec.environment("production" if target == "preview" else target).namespace
    path = template.replace("{namespace}", namespace).replace("{service}", spec.k8s_service)
    return join_url(base_url, path)
