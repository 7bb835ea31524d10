"""Health gate: the app's health endpoint reports the expected status and the deployed version.

Retries `retries` times with `retry_delay` between attempts; every attempt is reported to `log`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from airlock.checks.http import DEFAULT_TIMEOUT, HttpSession, join_url
from airlock.checks.result import FAIL, PASS, CheckResult

NAME = "health"


def judge_health(status_code: int, body: Any, expect_status: str, version: str | None) -> tuple[bool, str]:
    """(ok, why) for one answer; version None means the version is not checked."""
    if status_code != 200:
        return False, f"HTTP {status_code}"
    if not isinstance(body, dict):
        return False, f"body is not a JSON object: {str(body)[:120]!r}"
    got_status = body.get("status")
    if str(got_status) != expect_status:
        return False, f"status {got_status!r}, expected {expect_status!r}"
    if version is not None:
        got = str(body.get("version"))
        if got.removeprefix("v") != version.removeprefix("v"):  # "v1.2.3" and "1.2.3" name one version
            return False, f"version {body.get('version')!r}, expected {version!r}"
    return True, f"status {got_status!r}" + (
        f", version {body.get('version')!r}" if version is not None else ""
    )


def check_health(
    session: HttpSession,
    base_url: str,
    path: str,
    expect_status: str,
    version: str | None,
    retries: int = 0,
    retry_delay: float = 2.0,
    log: Callable[[str], None] = lambda _msg: None,
    sleep: Callable[[float], None] = time.sleep,
) -> CheckResult:
    url = join_url(base_url, path)
    attempts: list[dict[str, Any]] = []
    total = retries + 1
    why = ""
    for attempt in range(1, total + 1):
        try:
            resp = session.request("GET", url, timeout=DEFAULT_TIMEOUT)
            try:
                body: Any = resp.json()
            except ValueError:
                body = resp.text[:200]
            ok, why = judge_health(resp.status_code, body, expect_status, version)
            attempts.append(
                {"attempt": attempt, "http_status": resp.status_code, "body": body, "ok": ok, "why": why}
            )
        except Exception as exc:  # noqa: BLE001 - a refused connection is a failed attempt, then retry
            ok, why = False, f"{type(exc).__name__}: {exc}"
            attempts.append({"attempt": attempt, "http_status": None, "ok": False, "why": why})
        log(f"health attempt {attempt}/{total}: GET {url} -> {'OK' if ok else 'not healthy'} ({why})")
        evidence = {
            "url": url,
            "expect_status": expect_status,
            "expect_version": version,
            "attempts": attempts,
        }
        if ok:
            return CheckResult(NAME, PASS, f"{url} healthy on attempt {attempt}/{total}: {why}", evidence)
        if attempt < total:
            sleep(retry_delay)
    return CheckResult(NAME, FAIL, f"{url} not healthy after {total} attempt(s): {why}", evidence)
