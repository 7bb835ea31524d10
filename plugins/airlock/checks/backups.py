"""The database backup is younger than max_age.

Source: a Prometheus instant query (`/api/v1/query`) returning the unix time of the last successful
backup (the oldest series counts when several match), or an HTTP endpoint returning
`{"last_success": <iso8601 | unix seconds>}`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from airlock.checks.http import DEFAULT_TIMEOUT, HttpSession, expect_json, join_url
from airlock.checks.result import FAIL, PASS, CheckResult
from airlock.durations import format_duration

NAME = "backups"
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def parse_timestamp(value: Any) -> datetime:
    """Unix seconds (number or numeric string) or ISO 8601 (a trailing Z is allowed; naive means UTC)."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{value!r} is not a timestamp")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC)
    text = str(value).strip()
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{value!r} is neither unix seconds nor an ISO 8601 time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def judge_backup(
    last_success: datetime | None, max_age: timedelta, now: datetime, source: str
) -> CheckResult:
    evidence: dict[str, Any] = {
        "source": source,
        "max_age_seconds": max_age.total_seconds(),
        "now": now.isoformat(),
    }
    if last_success is None:
        return CheckResult(NAME, FAIL, f"no successful backup recorded ({source})", evidence)
    age = now - last_success
    evidence.update(last_success=last_success.isoformat(), age_seconds=round(age.total_seconds(), 1))
    shown_age = format_duration(max(age, timedelta(0)))
    if age > max_age:
        return CheckResult(
            NAME,
            FAIL,
            f"last successful backup {last_success:%Y-%m-%d %H:%M:%S}Z is {shown_age} old > max age "
            f"{format_duration(max_age)} ({source})",
            evidence,
        )
    return CheckResult(
        NAME,
        PASS,
        f"last successful backup {shown_age} ago (max age {format_duration(max_age)}; {source})",
        evidence,
    )


def last_success_from_prometheus(session: HttpSession, prometheus_url: str, query: str) -> datetime | None:
    url = join_url(prometheus_url, "api/v1/query")
    body = expect_json(
        session.request("GET", url, params={"query": query}, timeout=DEFAULT_TIMEOUT), f"GET {url}"
    )
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus query {query!r} failed: {body.get('errorType')}: {body.get('error')}")
    data = body.get("data") or {}
    if data.get("resultType") == "scalar":
        return parse_timestamp(data["result"][1])
    series = data.get("result") or []
    if not series:
        return None
    return min(parse_timestamp(s["value"][1]) for s in series)


def last_success_from_endpoint(session: HttpSession, url: str) -> datetime | None:
    body = expect_json(session.request("GET", url, timeout=DEFAULT_TIMEOUT), f"GET {url}")
    if not isinstance(body, dict) or "last_success" not in body:
        raise RuntimeError(f'GET {url}: expected JSON {{"last_success": ...}}, got {str(body)[:200]}')
    value = body["last_success"]
    return None if value in (None, "") else parse_timestamp(value)


def check_backup(
    session: HttpSession,
    max_age: timedelta,
    *,
    prometheus_url: str | None = None,
    metric: str | None = None,
    url: str | None = None,
    clock: Clock = _now,
) -> CheckResult:
    if metric is not None:
        if not prometheus_url:
            raise ValueError("a Prometheus URL is needed for last_success_metric")
        last = last_success_from_prometheus(session, prometheus_url, metric)
        source = f"Prometheus {metric}"
    elif url is not None:
        last = last_success_from_endpoint(session, url)
        source = f"GET {url}"
    else:
        raise ValueError("set exactly one of last_success_metric or url")
    return judge_backup(last, max_age, clock(), source)
