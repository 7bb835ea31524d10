"""Parsing of Kubernetes API paths into a request description."""

from __future__ import annotations

from dataclasses import dataclass

from kubesim.resources import ResourceType, lookup


@dataclass
class ResourceRequest:
    rt: ResourceType
    namespace: str | None  # None: cluster-scoped or all namespaces
    name: str | None
    sub: str | None


def split_path(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def parse_resource_path(path: str) -> ResourceRequest | None:
    """/api/v1/..., /apis/{group}/{version}/... -> ResourceRequest (None if not a resource path)."""
    parts = split_path(path)
    if len(parts) >= 3 and parts[0] == "api" and parts[1] == "v1":
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if rest[0] == "namespaces" and len(rest) >= 3:
        rt = lookup(group, version, rest[2])
        if rt is not None and rt.namespaced and len(rest) <= 5:
            return ResourceRequest(
                rt, rest[1], rest[3] if len(rest) > 3 else None, rest[4] if len(rest) > 4 else None
            )
    rt = lookup(group, version, rest[0])
    if rt is None or len(rest) > 3:
        return None
    return ResourceRequest(rt, None, rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None)
