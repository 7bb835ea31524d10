"""How MetricsTrigger ends a gate: with end_on_pass a passing verdict ends the task from the triggerer at
once (TaskSuccessEvent, verdict and links as XComs, no stale-event hold: the task is never RUNNING again);
a failing verdict - and every verdict without end_on_pass - resumes the task on a worker, held by the
stale-event guard first."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from airflow.triggers.base import TaskSuccessEvent, TriggerEvent

from airlock.analysis.verdict import Verdict
from airlock.run_request import RunRequest
from airlock.spec import parse_spec, spec_to_dict
from sensors.gate_inputs import gate_plan
from tests.fixtures.run_requests import request_for
from triggers import metrics

SPEC = spec_to_dict(parse_spec({"service": "payment-service", "image": "registry.local/payment-service"}))
PLAN = gate_plan(
    SPEC, RunRequest.from_dict(request_for(SPEC, "1.1.0", "canary")), phase="canary", environment="production"
)


def _verdict(decision: str) -> Verdict:
    return Verdict(decision=decision, reason="r", phase="canary", elapsed_s=30, duration_s=30)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("end_on_pass", "decision", "ends_here"),
    [(True, "pass", True), (True, "fail", False), (False, "pass", False), (True, "inconclusive", False)],
)
def test_only_a_passing_gate_with_end_on_pass_ends_in_the_triggerer(
    monkeypatch: pytest.MonkeyPatch, end_on_pass: bool, decision: str, ends_here: bool
) -> None:
    held: list[float] = []

    async def hold(started: float, minimum: Any = None) -> None:
        held.append(started)

    monkeypatch.setattr(metrics, "hold_until_settled", hold)
    trigger = metrics.MetricsTrigger(
        PLAN.to_dict(), end_on_pass=end_on_pass, links={"_link_DashboardLink": "u"}
    )
    event = asyncio.run(trigger.final_event(_verdict(decision), PLAN, 1.0))

    if ends_here:
        assert isinstance(event, TaskSuccessEvent)
        assert event.xcoms == {"return_value": _verdict(decision).to_dict(), "_link_DashboardLink": "u"}
        assert held == []
    else:
        assert type(event) is TriggerEvent and event.payload == {"verdict": _verdict(decision).to_dict()}
        assert held == [1.0]  # resumes on a worker: held against the stale-event race
