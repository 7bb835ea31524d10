"""No active, unsilenced, uninhibited incident in Alertmanager for the configured matchers.

Each entry of `spec.gates.incidents.matchers` is one query (entries are OR-ed); an entry may itself be
a matcher list such as `{severity="critical",service="payments"}` (AND-ed, one `filter` param each).
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


def judge_alerts(alerts_by_matcher: dict[str, list[dict[str, Any]]]) -> CheckResult:
    seen: dict[str, dict[str, Any]] = {}
    for matcher, alerts in alerts_by_matcher.items():
        for alert in alerts:
            if not is_incident(alert):
                continue
            info = describe(alert)
            key = info["fingerprint"] or repr(sorted(info["labels"].items()))
            entry = seen.setdefault(key, {**info, "matched": []})
            entry["matched"].append(matcher)
    incidents = sorted(seen.values(), key=lambda a: (a["startsAt"], a["alertname"]))
    evidence = {"matchers": list(alerts_by_matcher), "incidents": incidents}
    if incidents:
        listed = "; ".join(
            f"{a['alertname']} [{a['severity'] or 'no severity'}] since {a['startsAt']}"
            + (f": {a['summary']}" if a["summary"] else "")
            for a in incidents
        )
        return CheckResult(NAME, FAIL, f"{len(incidents)} active incident(s): {listed}", evidence)
    return CheckResult(
        NAME, PASS, "no active, unsilenced alert matches " + " or ".join(alerts_by_matcher), evidence
    )


def check_incidents(session: HttpSession, alertmanager_url: str, matchers: list[str]) -> CheckResult:
    url = join_url(alertmanager_url, "api/v2/alerts")
    found: dict[str, list[dict[str, Any]]] = {}
    for entry in matchers:
        params: list[tuple[str, str]] = [("active", "true"), ("silenced", "false"), ("inhibited", "false")]
        params += [("filter", m) for m in split_matchers(entry)]
        resp = session.request("GET", url, params=params, timeout=DEFAULT_TIMEOUT)
        found[entry] = list(expect_json(resp, f"GET {url} filter={entry}"))
    return judge_alerts(found)
