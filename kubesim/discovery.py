"""Legacy (non-aggregated) discovery documents, enough for kubectl's RESTMapper.

kubectl 1.32 asks for aggregated discovery first but falls back to these documents when the
response Content-Type is plain application/json.
"""

from __future__ import annotations

from typing import Any

from kubesim.resources import GROUPS, RESOURCES, ResourceType

VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-kubesim",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-12-11T00:00:00Z",
    "goVersion": "go1.23.3",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def api_versions() -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    }


def _group_doc(group: str) -> dict[str, Any]:
    version = GROUPS[group]
    gv = {"groupVersion": f"{group}/{version}", "version": version}
    return {"name": group, "versions": [gv], "preferredVersion": gv}


def api_group_list() -> dict[str, Any]:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_doc(g) for g in GROUPS if g],
    }


def api_group(group: str) -> dict[str, Any] | None:
    if group not in GROUPS or not group:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(group)}


def _entries(rt: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": rt.plural,
        "singularName": rt.singular or rt.kind.lower(),
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        main["shortNames"] = list(rt.short_names)
    if rt.categories:
        main["categories"] = list(rt.categories)
    out = [main]
    for sub in rt.subresources:
        entry: dict[str, Any] = {
            "name": f"{rt.plural}/{sub.name}",
            "singularName": "",
            "namespaced": rt.namespaced,
            "kind": sub.kind,
            "verbs": list(sub.verbs),
        }
        if sub.group is not None:
            entry["group"] = sub.group
            entry["version"] = sub.version
        out.append(entry)
    return out


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    if GROUPS.get(group) != version:
        return None
    resources: list[dict[str, Any]] = []
    for rt in RESOURCES:
        if rt.group == group and rt.version == version:
            resources.extend(_entries(rt))
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }
