"""Secret values taken out of Kubernetes bodies before a person or a store sees them.

`redact_body(value)` returns a copy of any JSON-like value (an object, a list, a patch, a record that
holds objects) with these replaced by `REDACTED`:

* the literal `value` of every env entry of every container (`containers`, `initContainers`,
  `ephemeralContainers`) of every pod spec found anywhere in it: a Deployment's, ReplicaSet's or Job's
  template, a Pod's own spec, a list's items - wherever the container list sits;
* the `value` of a JSON Patch operation whose path points into such a list (a whole template, the
  containers, one container, its env list, one env entry or one env value);
* the same inside the `kubectl.kubernetes.io/last-applied-configuration` annotation, a JSON copy of the
  whole object that `kubectl apply` keeps;
* every value of a Secret's `data` and `stringData`.

An app may print its own environment: `scrub(text, env_values(pod))` takes a pod's literal env values
(at least `MIN_SCRUBBED_LENGTH` characters) out of its log lines wherever Airlock quotes them - the
rollback's evidence and a stuck rollout's reason (kube/diagnose.py, both transports), the log scan's
examples and a migration Job's output.

Names, images and `valueFrom` references stay: they say *what* a pod gets without saying the secret.
The input is never changed - the body sent to the API server is the real one; only the copies that are
logged (kube/api.py's write log, dry runs included), recorded (record.py) or posted pass through here.

Where the real template lives: the rollback plan (kube/plan.py) records images, revision,
pod-template-hash and replicas, never a pod template, so neither its XCom nor its annotation on the
Deployment holds an env value. The template a rollback restores is the recorded revision's ReplicaSet,
kept by the cluster; undo.py reads it there and sends it back, and only the redacted copy of that patch
reaches the task log.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "<redacted>"
CONTAINER_LISTS = frozenset({"containers", "initContainers", "ephemeralContainers"})
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_SECRET_DATA = ("data", "stringData")
# like Airflow's masker: shorter values ("true", "8080", "info") would garble every line they occur in
MIN_SCRUBBED_LENGTH = 5


def redact_body(value: Any) -> Any:
    """A copy of `value` with pod env values, last-applied copies and Secret data redacted (see module)."""
    if isinstance(value, Mapping):
        if _is_patch_operation(value):
            return _patch_operation(value)
        secret = value.get("kind") == "Secret"
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in CONTAINER_LISTS:
                out[key] = _containers(item)
            elif key == "annotations" and isinstance(item, Mapping):
                out[key] = _annotations(item)
            elif secret and key in _SECRET_DATA and isinstance(item, Mapping):
                out[key] = {k: REDACTED for k in item}
            else:
                out[key] = redact_body(item)
        return out
    if isinstance(value, list | tuple):
        return [redact_body(item) for item in value]
    return value


def _containers(value: Any) -> Any:
    if not isinstance(value, list | tuple):
        return redact_body(value)
    return [_container(c) for c in value]


def _container(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return redact_body(value)
    return {k: (_env_list(v) if k == "env" else redact_body(v)) for k, v in value.items()}


def _env_list(value: Any) -> Any:
    if not isinstance(value, list | tuple):
        return redact_body(value)
    return [_env_entry(e) for e in value]


def _env_entry(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return redact_body(value)
    return {k: (_env_value(v) if k == "value" else redact_body(v)) for k, v in value.items()}


def _env_value(value: Any) -> Any:
    return REDACTED if value not in (None, "") else value


def _annotations(value: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == LAST_APPLIED and isinstance(item, str):
            try:
                out[key] = json.dumps(redact_body(json.loads(item)), sort_keys=True, separators=(",", ":"))
            except ValueError:  # not JSON: nothing can tell what in it is secret
                out[key] = REDACTED
        else:
            out[key] = redact_body(item)
    return out


def _is_patch_operation(value: Mapping[str, Any]) -> bool:
    return isinstance(value.get("op"), str) and isinstance(value.get("path"), str) and "value" in value


def _pointer(path: str) -> list[str]:
    """RFC 6901 JSON Pointer -> its reference tokens."""
    return [t.replace("~1", "/").replace("~0", "~") for t in path.split("/")[1:]]


# what the value of an operation is, by the pointer's tokens after the last container list
_BY_TAIL = {
    0: _containers,  # .../containers
    1: _container,  # .../containers/0
    2: _env_list,  # .../containers/0/env
    3: _env_entry,  # .../containers/0/env/1
    4: _env_value,  # .../containers/0/env/1/value
}


def _patch_operation(op: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON Patch operation with its `value` redacted for what its path points at."""
    tokens = _pointer(str(op["path"]))
    at = max((i for i, t in enumerate(tokens) if t in CONTAINER_LISTS), default=None)
    value = op["value"]
    if at is None:
        redacted = _annotation_value(tokens, value)
    else:
        tail = tokens[at + 1 :]
        shape_ok = (len(tail) < 2 or tail[1] == "env") and (len(tail) < 4 or tail[3] == "value")
        redacted = _BY_TAIL[len(tail)](value) if shape_ok and len(tail) in _BY_TAIL else redact_body(value)
    return {**{k: redact_body(v) for k, v in op.items() if k != "value"}, "value": redacted}


def _annotation_value(tokens: list[str], value: Any) -> Any:
    """A patch that writes annotations: the whole map, or the last-applied copy by itself."""
    if tokens[-2:] == ["metadata", "annotations"] and isinstance(value, Mapping):
        return _annotations(value)
    if tokens[-3:-1] == ["metadata", "annotations"] and tokens[-1] == LAST_APPLIED:
        return _annotations({LAST_APPLIED: value})[LAST_APPLIED]
    return redact_body(value)


def env_values(value: Any) -> set[str]:
    """The literal env values (of at least `MIN_SCRUBBED_LENGTH` characters) of every container of every
    pod spec in `value` (a Pod, a Deployment, a list of them...)."""
    found: set[str] = set()
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in CONTAINER_LISTS and isinstance(item, list | tuple):
                for container in item:
                    env = container.get("env") if isinstance(container, Mapping) else None
                    for entry in env if isinstance(env, list | tuple) else ():
                        literal = entry.get("value") if isinstance(entry, Mapping) else None
                        if isinstance(literal, str) and len(literal) >= MIN_SCRUBBED_LENGTH:
                            found.add(literal)
            else:
                found |= env_values(item)
    elif isinstance(value, list | tuple):
        for item in value:
            found |= env_values(item)
    return found


def scrub(text: str, values: Iterable[str]) -> str:
    """`text` with each of `values` replaced by `REDACTED` (longest first: no part of one is left)."""
    for secret in sorted(values, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
