"""Label and field selectors (k8s.io/apimachinery/pkg/labels and pkg/fields)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from kubesim.errors import bad_request

Requirement = Callable[[Mapping[str, str]], bool]

_SET_RE = re.compile(r"^\s*(!?)([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _requirement(term: str) -> Requirement:
    for op in ("!=", "==", "="):
        if op in term and "(" not in term:
            key, _, value = term.partition(op)
            key, value = key.strip(), value.strip()
            if not key:
                raise bad_request(f"unable to parse requirement: {term}")
            if op == "!=":
                return lambda labels, k=key, v=value: labels.get(k) != v
            return lambda labels, k=key, v=value: labels.get(k) == v
    m = _SET_RE.match(term)
    if not m:
        raise bad_request(f"unable to parse requirement: found '{term}', expected: identifier")
    neg, key, op, values = m.groups()
    if op:
        vals = {v.strip() for v in values.split(",") if v.strip()}
        if op == "in":
            return lambda labels, k=key, vs=vals: labels.get(k) in vs
        return lambda labels, k=key, vs=vals: labels.get(k) not in vs
    if neg:
        return lambda labels, k=key: k not in labels
    return lambda labels, k=key: k in labels


def parse_label_selector(text: str | None) -> Requirement:
    """Parse `a=b,c!=d,e in (f,g),!h` into a predicate over a label map."""
    if not text or not text.strip():
        return lambda labels: True
    reqs = [_requirement(t) for t in _split_top(text)]
    return lambda labels: all(r(labels) for r in reqs)


def match_label_selector(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics; an empty selector matches everything."""
    if not selector:
        return True
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), set(expr.get("values") or [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def selector_to_string(selector: Mapping[str, Any] | None) -> str:
    """metav1.LabelSelectorAsSelector(...).String(), used by Scale.status.selector."""
    if not selector:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), sorted(expr.get("values") or [])
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def _field_value(obj: Mapping[str, Any], path: str) -> str | None:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    if cur is None:
        return ""
    return str(cur)


def parse_field_selector(text: str | None) -> Callable[[Mapping[str, Any]], bool]:
    """Field selectors on any dotted path (metadata.name, metadata.namespace, status.phase, ...)."""
    if not text or not text.strip():
        return lambda obj: True
    reqs: list[tuple[str, bool, str]] = []
    for term in _split_top(text):
        for op in ("!=", "==", "="):
            if op in term:
                key, _, value = term.partition(op)
                reqs.append((key.strip(), op == "!=", value.strip()))
                break
        else:
            raise bad_request(f'invalid selector: "{text}"; can\'t understand "{term}"')

    def pred(obj: Mapping[str, Any]) -> bool:
        for key, negate, value in reqs:
            got = _field_value(obj, key)
            if (got == value) == negate:
                return False
        return True

    return pred
