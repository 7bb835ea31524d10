"""The three patch flavours of the apiserver (staging/.../endpoints/handlers/patch.go).

* JSON Patch (RFC 6902), application/json-patch+json
* JSON Merge Patch (RFC 7386), application/merge-patch+json
* Strategic Merge Patch, application/strategic-merge-patch+json: lists with a patchMergeKey are
  merged element-wise (so patching one container keeps its sidecar), plus the `$patch`,
  `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>` and `$retainKeys` directives that
  kubectl sends.
"""

from __future__ import annotations

from typing import Any

from kubesim.errors import ApiError, bad_request
from kubesim.objects import clone

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"


def _invalid(msg: str) -> ApiError:
    return ApiError(422, msg, "Invalid")


# -- RFC 6902 ---------------------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _invalid(f"invalid JSON pointer: {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], token: str, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    try:
        i = int(token)
    except ValueError:
        raise _invalid(f"invalid array index: {token}") from None
    if i < 0 or i > len(container) or (i == len(container) and not allow_end):
        raise _invalid(f"array index out of bounds: {i}")
    return i


def _parent(doc: Any, parts: list[str]) -> Any:
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, dict):
            if p not in cur:
                raise _invalid(f"doc is missing path: /{'/'.join(parts)}")
            cur = cur[p]
        elif isinstance(cur, list):
            cur = cur[_index(cur, p, False)]
        else:
            raise _invalid(f"doc is missing path: /{'/'.join(parts)}")
    return cur


def _get(doc: Any, parts: list[str]) -> Any:
    if not parts:
        return doc
    parent = _parent(doc, parts)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _invalid(f"doc is missing key: /{'/'.join(parts)}")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, False)]
    raise _invalid(f"doc is missing path: /{'/'.join(parts)}")


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _parent(doc, parts)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, True), value)
    else:
        raise _invalid(f"doc is missing path: /{'/'.join(parts)}")
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    if not parts:
        raise _invalid("cannot remove the whole document")
    parent = _parent(doc, parts)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _invalid(f"unable to remove nonexistent key: {last}: missing value")
        del parent[last]
    elif isinstance(parent, list):
        del parent[_index(parent, last, False)]
    else:
        raise _invalid(f"doc is missing path: /{'/'.join(parts)}")
    return doc


def json_patch(doc: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise bad_request("json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp")
    doc = clone(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise bad_request("invalid JSON patch operation")
        kind, parts = op["op"], _pointer(op.get("path", ""))
        if kind == "add":
            doc = _add(doc, parts, clone(op.get("value")))
        elif kind == "remove":
            doc = _remove(doc, parts)
        elif kind == "replace":
            _get(doc, parts)  # must exist
            if not parts:
                doc = clone(op.get("value"))
            else:
                parent = _parent(doc, parts)
                if isinstance(parent, list):
                    parent[_index(parent, parts[-1], False)] = clone(op.get("value"))
                else:
                    parent[parts[-1]] = clone(op.get("value"))
        elif kind in ("move", "copy"):
            src = _pointer(op.get("from", ""))
            value = clone(_get(doc, src))
            if kind == "move":
                doc = _remove(doc, src)
            doc = _add(doc, parts, value)
        elif kind == "test":
            if _get(doc, parts) != op.get("value"):
                raise _invalid(f"testing value /{'/'.join(parts)} failed: test failed")
        else:
            raise bad_request(f"Unexpected kind: {kind}")
    return doc


# -- RFC 7386 ---------------------------------------------------------------------------------


def merge_patch(doc: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return clone(patch)
    out = clone(doc) if isinstance(doc, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# -- strategic merge ---------------------------------------------------------------------------

# patchMergeKey of list fields in the core/apps/batch types (from the Go struct tags).
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "conditions": "type",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "schedulingGates": "name",
    "addresses": "type",  # node addresses
    "subsets": None,
}
# primitive lists with patchStrategy=merge (union instead of replace)
_PRIMITIVE_MERGE = {"finalizers"}


def _merge_key(field: str, path: tuple[str, ...], items: list[Any]) -> str | None:
    if field == "ports":
        # container ports merge on containerPort, Service ports on port
        in_container = any(p in ("containers", "initContainers", "ephemeralContainers") for p in path)
        return "containerPort" if in_container else "port"
    return _MERGE_KEYS.get(field)


def strategic_merge(doc: Any, patch: Any, path: tuple[str, ...] = ()) -> Any:
    if not isinstance(patch, dict):
        return clone(patch)
    if not isinstance(doc, dict):
        doc = {}
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: clone(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    out = clone(doc)
    orders: dict[str, list[Any]] = {}
    retain: list[str] | None = None
    for k, v in patch.items():
        if k == "$patch":
            continue
        if k == "$retainKeys":
            retain = list(v or [])
            continue
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v or []
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            drop = set(map(_hashable, v or []))
            if isinstance(out.get(field), list):
                out[field] = [x for x in out[field] if _hashable(x) not in drop]
            continue
        if v is None:
            out.pop(k, None)
            continue
        cur = out.get(k)
        if isinstance(v, dict):
            merged = strategic_merge(cur, v, path + (k,))
            if merged is None:
                out.pop(k, None)
            else:
                out[k] = merged
        elif isinstance(v, list):
            out[k] = _merge_list(k, cur if isinstance(cur, list) else [], v, path + (k,))
        else:
            out[k] = v
    for field, order in orders.items():
        if isinstance(out.get(field), list):
            out[field] = _apply_order(field, out[field], order, path + (field,))
    if retain is not None:
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _hashable(x: Any) -> Any:
    return repr(x) if isinstance(x, (dict, list)) else x


def _merge_list(field: str, cur: list[Any], patch: list[Any], path: tuple[str, ...]) -> list[Any]:
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return [clone(x) for x in patch if not (isinstance(x, dict) and "$patch" in x)]
    dict_items = patch and all(isinstance(x, dict) for x in patch)
    key = _merge_key(field, path, patch) if dict_items else None
    if dict_items and key:
        out = [clone(x) for x in cur]
        for item in patch:
            kv = item.get(key)
            idx = next((i for i, x in enumerate(out) if isinstance(x, dict) and x.get(key) == kv), None)
            if item.get("$patch") == "delete":
                if idx is not None:
                    out.pop(idx)
                continue
            if idx is None:
                out.append({k: clone(v) for k, v in item.items() if k != "$patch"})
            else:
                out[idx] = strategic_merge(out[idx], item, path)
        return out
    if field in _PRIMITIVE_MERGE and not dict_items:
        out = list(cur)
        for x in patch:
            if x not in out:
                out.append(x)
        return out
    return [clone(x) for x in patch]


def _apply_order(field: str, items: list[Any], order: list[Any], path: tuple[str, ...]) -> list[Any]:
    if order and all(isinstance(x, dict) for x in order):
        key = _merge_key(field, path, order) or next(iter(order[0]), None)
        pos = {o.get(key): i for i, o in enumerate(order)}
        ranked = sorted(
            (x for x in items if isinstance(x, dict) and x.get(key) in pos), key=lambda x: pos[x.get(key)]
        )
        rest = [x for x in items if not (isinstance(x, dict) and x.get(key) in pos)]
        return ranked + rest
    pos = {_hashable(o): i for i, o in enumerate(order)}
    ranked = sorted((x for x in items if _hashable(x) in pos), key=lambda x: pos[_hashable(x)])
    return ranked + [x for x in items if _hashable(x) not in pos]


def apply_patch(doc: Any, content_type: str, patch: Any) -> Any:
    ct = content_type.split(";")[0].strip().lower()
    if ct == JSON_PATCH:
        return json_patch(doc, patch)
    if ct == MERGE_PATCH:
        if not isinstance(patch, dict):
            raise bad_request("merge patch body must be a JSON object")
        return merge_patch(doc, patch)
    if ct == STRATEGIC_PATCH:
        if not isinstance(patch, dict):
            raise bad_request("strategic merge patch body must be a JSON object")
        return strategic_merge(doc, patch)
    raise ApiError(
        415,
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{JSON_PATCH}, {MERGE_PATCH}, {STRATEGIC_PATCH}",
        "UnsupportedMediaType",
    )
