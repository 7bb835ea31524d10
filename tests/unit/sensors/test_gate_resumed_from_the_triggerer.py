"""A gate started in the triggerer (triggers.gate_start) resumes MetricsSensor.execute_complete with its state
in the event, not in defer kwargs (it never deferred from a worker): a hold then asks a person as for a gate
started on a worker, and a failing verdict fails with the evidence."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskAwaitingInput

from operators.xcom_keys import FAILURE_REASON_KEY
from sensors.gate_answers import GateRound
from tests.unit.sensors.test_gate_people import FakeTI, asked, slack, verdict  # noqa: F401 - fixtures
from tests.unit.sensors.test_gate_people import sensor as canary_sensor


def _event(op: Any, decision: str, action: str | None = None) -> dict[str, Any]:
    # what GateStartTrigger.final_event sends for a verdict that resumes the task
    state = GateRound(op.plan().to_dict())
    return {"verdict": verdict(decision, action).to_dict(), "state": state.to_dict()}


def test_a_hold_from_a_gate_started_in_the_triggerer_asks_a_person(
    asked: list[dict[str, Any]],  # noqa: F811
    slack: list[dict[str, Any]],  # noqa: F811
) -> None:
    op = canary_sensor()
    with pytest.raises(TaskAwaitingInput) as waiting:
        op.execute_complete({"ti": FakeTI()}, _event(op, "inconclusive", "hold"))  # no state kwarg
    assert GateRound.from_dict(waiting.value.kwargs["state"]).asking == "hold"
    assert len(asked) == 1 and len(slack) == 1


def test_a_failing_verdict_from_a_gate_started_in_the_triggerer_fails_with_the_evidence() -> None:
    op, ti = canary_sensor(), FakeTI()
    event = _event(op, "fail")
    with pytest.raises(AirflowFailException, match="canary gate failed for"):
        op.execute_complete({"ti": ti}, event)
    assert ti.pushed["return_value"] == event["verdict"] and FAILURE_REASON_KEY in ti.pushed
