"""A smoke flow is broken only when every attempt fails; a passing retry says what happened before."""

from __future__ import annotations

from typing import Any

from airlock.checks.smoke import run_smoke_test
from airlock.spec import SmokeTest


class Response:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.text = ""

    def json(self) -> Any:
        return {"ok": self.status_code == 200}


class Session:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.calls = 0

    def request(self, method: str, url: str, **kwargs: Any) -> Response:
        self.calls += 1
        return Response(self.statuses.pop(0))


def _test(attempts: int) -> SmokeTest:
    return SmokeTest.model_validate(
        {"name": "list items", "path": "/api/v1/items", "expect": {"status": 200}, "attempts": attempts}
    )


def test_one_attempt_by_default_fails_on_a_single_5xx() -> None:
    session = Session([500, 200])
    result = run_smoke_test(session, "http://app", _test(1))
    assert result.status == "fail" and session.calls == 1


def test_a_passing_retry_passes_and_reports_the_earlier_failure() -> None:
    session = Session([500, 200, 200])
    result = run_smoke_test(session, "http://app", _test(3))
    assert result.status == "pass" and session.calls == 2
    assert "attempt 2 of 3" in result.reason and "HTTP 500" in result.reason
    assert len(result.evidence["earlier_attempts"]) == 1


def test_a_broken_flow_fails_every_attempt() -> None:
    session = Session([500, 500, 500])
    result = run_smoke_test(session, "http://app", _test(3))
    assert result.status == "fail" and session.calls == 3
    assert "3 of 3 attempts failed" in result.reason
