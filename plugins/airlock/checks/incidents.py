"""No active, unsilenced, uninhibited incident in Alertmanager for the configured matchers.

`spec.gates.incidents.matchers` is conjunctive, as Alertmanager's own `filter` is: a flat list such as
`['severity="critical"', 'service="payment-service"']` blocks only on alerts that match ALL of its
matchers (a critical alert of another service does not block payment-service). An entry may itself be a
matcher list (`{severity="critical",service="payments"}`); its matchers join the same conjunction.
To block on any of several conditions, give a list of lists: each inner list is one conjunctive group,
and an alert matching any group blocks (`[['severity="critical"'], ['service="payments"']]`).

One query per group, with one `filter` parameter per matcher (Alertmanager ANDs them); the returned
alerts are matched again here, so an Alertmanager (or proxy) that ignored a filter cannot turn one
alert anywhere into a blocked deployment.
"""

from __future__ import annotations

import re
from typing import Any

from airlock.checks.http import DEFAULT_TIMEOUT, HttpSession, expect_json, join_url
from airlock.checks.result import FAIL, PASS, CheckResult

NAME = "incidents"
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|[^,{}\s]*)\s*')


def split_matchers(entry: str) -> list[str]:
    """'{a="x,y",b!="z"}' -> ['a="x,y"', 'b!="z"']; raises ValueError for text that is not a matcher."""
    text = entry.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    out, pos = [], 0
    while pos < len(text):
        m = _MATCHER.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f'{entry!r} is not an Alertmanager matcher (e.g. severity="critical")')
        out.append(f"{m.group(1)}{m.group(2)}{m.group(3)}")
        pos = m.end()
        if pos < len(text):
            if text[pos] != ",":
                raise ValueError(
                    f"{entry!r} is not an Alertmanager matcher list (separate matchers with ',')"
                )
            pos += 1
    if not out:
        raise ValueError(f"{entry!r} is an empty matcher")
    return out


def is_incident(alert: dict[str, Any]) -> bool:
    """Active and neither silenced nor inhibited (double-checked even though the query asks for that)."""
    status = alert.get("status") or {}
    return (
        status.get("state", "active") == "active"
        and not status.get("silencedBy")
        and not status.get("inhibitedBy")
    )


def describe(alert: dict[str, Any]) -> dict[str, Any]:
    labels, annotations = alert.get("labels") or {}, alert.get("annotations") or {}
    return {
        "alertname": labels.get("alertname", "?"),
        "severity": labels.get("severity", ""),
        "summary": annotations.get("summary") or annotations.get("description") or "",
        "startsAt": alert.get("startsAt", ""),
        "fingerprint": alert.get("fingerprint"),
        "labels": labels,
    }


Matchers = list[str] | list[list[str]]


def matcher_groups(matchers: Matchers) -> list[list[str]]:
    """The conjunctive groups of a `matchers` setting, each a list of single matchers.

    A flat list is ONE group (all of its matchers must match one alert); a list of lists is several
    groups (any one of them matching blocks). Raises ValueError for text that is not a matcher.
    """
    if not matchers:
        raise ValueError('no matchers: give at least one, e.g. severity="critical"')
    if all(isinstance(entry, str) for entry in matchers):
        entries: list[list[str]] = [[str(entry) for entry in matchers]]
    elif all(isinstance(entry, list) for entry in matchers):
        entries = [[str(m) for m in group] for group in matchers]
    else:
        raise ValueError(
            "matchers is either a list of matchers (all must match) or a list of such lists (any list "
            "matching blocks), not a mix of both"
        )
    groups: list[list[str]] = []
    for group in entries:
        if not group:
            raise ValueError("an empty matcher group would match every alert; remove it or add a matcher")
        singles = [single for entry in group for single in split_matchers(entry)]
        if singles not in groups:  # the same group twice is one query
            groups.append(singles)
    return groups


def describe_group(group: list[str]) -> str:
    return "ALL of: " + ", ".join(group)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def matches(labels: dict[str, Any], matcher: str) -> bool:
    """Alertmanager's rule for one matcher: a missing label is the empty string; regexes are anchored."""
    m = _MATCHER.fullmatch(matcher)
    if m is None:
        raise ValueError(f"{matcher!r} is not an Alertmanager matcher")
    name, op, value = m.group(1), m.group(2), _unquote(m.group(3))
    actual = str(labels.get(name, ""))
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    try:
        hit = re.fullmatch(value, actual) is not None
    except re.error:
        # Go's regex syntax is not Python's: when we cannot judge, trust the server's filter (an incident
        # is never dropped because of our parser)
        return True
    return hit if op == "=~" else not hit


def matches_all(alert: dict[str, Any], group: list[str]) -> bool:
    labels = alert.get("labels") or {}
    return all(matches(labels, matcher) for matcher in group)


def judge_alerts(
    alerts_by_group: dict[str, list[dict[str, Any]]], groups: list[list[str]] | None = None
) -> CheckResult:
    """Fail on the incidents found. Keys of `alerts_by_group` describe the groups ("ALL of: ...");
    with `groups` (same order) each alert must also match all matchers of its group."""
    seen: dict[str, dict[str, Any]] = {}
    for index, (label, alerts) in enumerate(alerts_by_group.items()):
        group = groups[index] if groups is not None else None
        for alert in alerts:
            if not is_incident(alert) or (group is not None and not matches_all(alert, group)):
                continue
            info = describe(alert)
            key = info["fingerprint"] or repr(sorted(info["labels"].items()))
            entry = seen.setdefault(key, {**info, "matched": []})
            entry["matched"].append(label)
    incidents = sorted(seen.values(), key=lambda a: (a["startsAt"], a["alertname"]))
    evidence: dict[str, Any] = {"matchers": list(alerts_by_group), "incidents": incidents}
    if groups is not None:
        evidence["matcher_groups"] = groups
    wanted = (
        " OR ".join(f"({k})" for k in alerts_by_group)
        if len(alerts_by_group) > 1
        else "".join(alerts_by_group)
    )
    if incidents:
        listed = "; ".join(
            f"{a['alertname']} [{a['severity'] or 'no severity'}] since {a['startsAt']}"
            + (f": {a['summary']}" if a["summary"] else "")
            for a in incidents
        )
        return CheckResult(
            NAME,
            FAIL,
            f"{len(incidents)} active incident(s): {listed} (blocking alerts match {wanted})",
            evidence,
        )
    return CheckResult(NAME, PASS, f"no active, unsilenced alert matches {wanted}", evidence)


def check_incidents(session: HttpSession, alertmanager_url: str, matchers: Matchers) -> CheckResult:
    """Blocking alerts match ALL matchers of a flat list, or all of any one group of a list of lists."""
    url = join_url(alertmanager_url, "api/v2/alerts")
    groups = matcher_groups(matchers)
    found: dict[str, list[dict[str, Any]]] = {}
    for group in groups:
        params: list[tuple[str, str]] = [("active", "true"), ("silenced", "false"), ("inhibited", "false")]
        params += [("filter", m) for m in group]
        resp = session.request("GET", url, params=params, timeout=DEFAULT_TIMEOUT)
        label = describe_group(group)
        found[label] = list(expect_json(resp, f"GET {url} filter {', '.join(group)}"))
    return judge_alerts(found, groups)
