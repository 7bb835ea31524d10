"""Small helpers for plain-dict Kubernetes objects."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def clone(value: Any) -> Any:
    """Fast deep copy for JSON-like data (much cheaper than copy.deepcopy)."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def meta(obj: Obj) -> dict[str, Any]:
    return obj.setdefault("metadata", {})


def name_of(obj: Obj) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def ns_of(obj: Obj) -> str:
    return (obj.get("metadata") or {}).get("namespace", "")


def labels_of(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def annotations_of(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def uid_of(obj: Obj) -> str:
    return (obj.get("metadata") or {}).get("uid", "")


def controller_ref(obj: Obj) -> dict[str, Any] | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def owner_ref(owner: Obj, controller: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": name_of(owner),
        "uid": uid_of(owner),
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def get_condition(obj: Obj, ctype: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def prune_empty(value: Any) -> Any:
    """Drop None, {} and [] recursively (Go's omitempty, for semantic comparisons)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            pv = prune_empty(v)
            if pv is None or pv == {} or pv == []:
                continue
            out[k] = pv
        return out
    if isinstance(value, list):
        return [prune_empty(v) for v in value]
    return value
