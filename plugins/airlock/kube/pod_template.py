"""Which image a container runs, read from a Deployment's pod template or a Pod's own spec."""

from __future__ import annotations

from typing import Any


def container_image(obj: dict[str, Any], container: str) -> str | None:
    """Image of the container named `container` in a Deployment's template or a Pod (None if absent)."""
    spec = obj.get("spec") or {}
    pod_spec = (spec.get("template") or {}).get("spec") or spec
    for c in pod_spec.get("containers") or []:
        if c.get("name") == container:
            image = c.get("image")
            return str(image) if image else None
    return None
