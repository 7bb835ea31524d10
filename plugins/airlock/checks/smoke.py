"""Smoke tests: the critical flows answer as expected (status code and JSON fields, dotted paths)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from airlock.checks.http import DEFAULT_TIMEOUT, HttpSession, join_url
from airlock.checks.result import FAIL, PASS, WARN, CheckResult, format_table

_MISSING = object()


def get_path(data: Any, dotted: str) -> Any:
    """'a.b.0.c' into nested dicts/lists; _MISSING when any step is absent. A literal dotted key wins."""
    if isinstance(data, dict) and dotted in data:
        return data[dotted]
    current = data
    for part in dotted.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif (
            isinstance(current, list)
            and part.lstrip("-").isdigit()
            and -len(current) <= int(part) < len(current)
        ):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def judge_smoke(test: Any, status_code: int, body: Any) -> list[str]:
    """Mismatches of one answer against test.expect (empty list = pass)."""
    problems = []
    if status_code != test.expect.status:
        problems.append(f"HTTP {status_code}, expected {test.expect.status}")
    for field, expected in test.expect.json_fields.items():
        got = get_path(body, field)
        if got is _MISSING:
            problems.append(f"{field} missing")
        elif got != expected:
            problems.append(f"{field}={got!r}, expected {expected!r}")
    return problems


def run_smoke_test(session: HttpSession, base_url: str, test: Any) -> CheckResult:
    """Run one flow up to `test.attempts` times; it is broken only when every attempt fails.

    A smoke test answers "does this flow work?", not "how often does it fail?" (that is the metrics
    gate's question, with the statistics to answer it): one 5xx from a service with a 0.2 % error
    rate must not roll a release back, while a flow that is really broken fails every attempt.
    """
    attempts = max(int(getattr(test, "attempts", 1)), 1)
    failures: list[str] = []
    result = _attempt(session, base_url, test)
    while result.status != PASS and len(failures) + 1 < attempts:
        failures.append(result.reason)
        result = _attempt(session, base_url, test)
    if not failures:
        return result
    if result.status == PASS:
        note = f" (attempt {len(failures) + 1} of {attempts}; before: {failures[-1]})"
    else:
        note = f" ({attempts} of {attempts} attempts failed)"
    evidence = {**result.evidence, "earlier_attempts": failures}
    return replace(result, reason=result.reason + note, evidence=evidence)


def _attempt(session: HttpSession, base_url: str, test: Any) -> CheckResult:
    url = join_url(base_url, test.path)
    evidence: dict[str, Any] = {
        "method": test.method,
        "url": url,
        "critical": test.critical,
        "expect": {"status": test.expect.status, "json": test.expect.json_fields},
    }
    kwargs: dict[str, Any] = {"headers": dict(test.headers), "timeout": DEFAULT_TIMEOUT}
    if test.body is not None:
        kwargs["json"] = test.body
    bad = FAIL if test.critical else WARN
    try:
        resp = session.request(test.method, url, **kwargs)
    except Exception as exc:  # noqa: BLE001 - a flow that cannot be reached is a broken flow
        return CheckResult(test.name, bad, f"{test.method} {url}: {type(exc).__name__}: {exc}", evidence)
    try:
        body: Any = resp.json()
    except ValueError:
        body = resp.text[:500]
    evidence.update(http_status=resp.status_code, body=body)
    problems = judge_smoke(test, resp.status_code, body)
    if problems:
        return CheckResult(test.name, bad, f"{test.method} {test.path}: " + "; ".join(problems), evidence)
    return CheckResult(
        test.name, PASS, f"{test.method} {test.path}: HTTP {resp.status_code} as expected", evidence
    )


def run_smoke_tests(session: HttpSession, base_url: str, tests: list[Any]) -> list[CheckResult]:
    return [run_smoke_test(session, base_url, t) for t in tests]


def smoke_table(results: list[CheckResult]) -> str:
    rows = [
        (
            r.name,
            "yes" if r.evidence.get("critical") else "no",
            str(r.evidence.get("http_status", "-")),
            r.status.upper(),
            r.reason,
        )
        for r in results
    ]
    return format_table(rows, ("test", "critical", "http", "status", "reason"), max_width=140)


def smoke_verdict(results: list[CheckResult]) -> CheckResult:
    failed = [r for r in results if r.status == FAIL]
    warned = [r for r in results if r.status == WARN]
    evidence = {"tests": len(results), "failed": [r.name for r in failed], "warned": [r.name for r in warned]}
    if failed:
        return CheckResult(
            "smoke",
            FAIL,
            f"{len(failed)} critical smoke test(s) failed: "
            + "; ".join(f"{r.name} ({r.reason})" for r in failed),
            evidence,
        )
    if warned:
        return CheckResult(
            "smoke",
            WARN,
            f"{len(results) - len(warned)}/{len(results)} passed; non-critical "
            "failures: " + "; ".join(f"{r.name} ({r.reason})" for r in warned),
            evidence,
        )
    return CheckResult("smoke", PASS, f"all {len(results)} smoke test(s) passed", evidence)
