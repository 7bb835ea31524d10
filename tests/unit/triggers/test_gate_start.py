"""GateStartTrigger (a metrics gate started in the triggerer): it gathers the worker's inputs when the
triggerer renders the task's templates (the RunRequest, the rollback plan, templated fields, the try's
observation start kept as XCom), skips as the sensor's guards would, observes with the same plan, and
resumes a failing verdict on a worker without the stale-event hold (no worker try deferred)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from airflow.triggers.base import TaskSkippedEvent, TaskSuccessEvent, TriggerEvent

from airlock.analysis.verdict import Verdict
from airlock.run_request import RunRequest
from airlock.spec import parse_spec, spec_to_dict
from tests.fixtures.run_requests import request_for
from triggers.gate_start import GATE_STARTED_KEY, GateStartTrigger, gate_skip_reason, observation_start

SPEC = spec_to_dict(
    parse_spec(
        {
            "service": "payment-service",
            "image": "registry.local/payment-service",
            "strategy": {"canary": {"steps": [10, 50, 100]}},
        }
    )
)
PLAN_RECORD = {"recorded_at": 1_700_000_000.0, "deployments": {}}


def _request(**kw: Any) -> RunRequest:
    return RunRequest.from_dict(request_for(SPEC, "1.1.0", kw.pop("strategy", "canary"), **kw))


class FakeTI:
    """What the triggerer's RuntimeTaskInstance offers the render: XCom pull/push of this run."""

    dag_id = "deploy_payment-service"
    run_id = "r1"
    task_id = "production.canary.analysis_1"
    map_index = -1
    last: FakeTI

    def __init__(self, xcoms: dict[tuple[str, str], Any], try_number: int = 1) -> None:
        self.xcoms = xcoms
        self.try_number = try_number
        self.pushed: list[tuple[str, Any]] = []
        FakeTI.last = self

    def xcom_pull(self, task_ids: str, key: str = "return_value", *, map_indexes: Any = None) -> Any:
        # without map_indexes Airflow 3.3.2 asks for every map index, which the triggerer cannot answer
        assert map_indexes == -1, "a pull in the triggerer must name the map index"
        return self.xcoms.get((task_ids, key))


@pytest.fixture(autouse=True)
def xcom_set(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The triggerer stores the observation start with XCom.set (its task instance cannot xcom_push)."""
    from airflow.sdk.execution_time.xcom import XCom

    stored: list[dict[str, Any]] = []

    def fake_set(cls: Any, key: str, value: Any, **where: Any) -> None:
        stored.append({"key": key, "value": value, **where})
        FakeTI.last.xcoms[(where["task_id"], key)] = value
        FakeTI.last.pushed.append((key, value))

    monkeypatch.setattr(XCom, "set", classmethod(fake_set))
    return stored


def _trigger(**gate: Any) -> GateStartTrigger:
    base = {
        "spec": SPEC,
        "phase": "canary",
        "environment": "production",
        "duration": None,
        "slot": 0,
        "guard": "skip_in_dry_run",
        "baseline_version": None,
        "baseline_end": None,
        "subject": None,
        "health_ok": None,
        "smoke_ok": None,
    }
    return GateStartTrigger(
        {**base, **gate}, plan_from="production.record_rollback_plan", links={"_link_DashboardLink": "u"}
    )


def _render(trigger: GateStartTrigger, ti: FakeTI) -> None:
    trigger.render_template_fields({"ti": ti, "run_id": "r1"})


def _events(trigger: GateStartTrigger) -> list[TriggerEvent]:
    async def collect() -> list[TriggerEvent]:
        return [event async for event in trigger.run()]

    return asyncio.run(collect())


@pytest.mark.parametrize(
    ("request_kw", "guard", "slot", "expected"),
    [
        ({}, "skip_in_dry_run", 0, None),
        ({"dry_run": True}, "skip_in_dry_run", 0, "dry run: nothing was changed"),
        ({"risk": "hotfix"}, "skip_for_hotfix_or_dry_run", None, "hotfix run: staging soak skipped"),
        ({"risk": "hotfix"}, "skip_in_dry_run", None, None),  # only the soak skips for a hotfix
        ({"canary_steps": [50, 100]}, "skip_in_dry_run", 1, "canary step slot 2 is not used by this run"),
        ({"dry_run": True}, None, None, None),  # a sensor without a guard observes even a dry run
    ],
)
def test_a_gate_skips_where_its_guard_or_its_canary_slot_says_so(
    request_kw: dict[str, Any], guard: str | None, slot: int | None, expected: str | None
) -> None:
    reason = gate_skip_reason(_request(**request_kw), guard, slot)
    assert (reason is None) if expected is None else (reason or "").startswith(expected), reason


def test_an_unknown_guard_is_refused_naming_it_and_the_allowed_ones() -> None:
    with pytest.raises(
        ValueError, match="'skip_always'.*allowed: skip_in_dry_run, skip_for_hotfix_or_dry_run"
    ):
        gate_skip_reason(_request(), "skip_always", None)


def test_the_observation_start_of_the_same_try_is_kept_and_a_new_try_starts_now() -> None:
    assert observation_start({"try": 2, "at": 100.0}, 2, 500.0) == (100.0, False)
    assert observation_start({"try": 1, "at": 100.0}, 2, 500.0) == (500.0, True)
    assert observation_start(None, 1, 500.0) == (500.0, True)


def test_render_binds_the_request_the_plan_and_the_observation_start_and_run_plans_the_gate(
    xcom_set: list[dict[str, Any]],
) -> None:
    ti = FakeTI(
        {
            ("validate", "return_value"): request_for(SPEC, "1.1.0", "canary", run_id="r1"),
            ("production.record_rollback_plan", "return_value"): PLAN_RECORD,
            ("switch", "return_value"): "blue",
        }
    )
    trigger = _trigger(phase="validation", slot=None, subject="{{ ti.xcom_pull(task_ids='switch') }}-colour")
    _render(trigger, ti)

    assert trigger.inputs is not None
    assert trigger.inputs["plan_record"] == PLAN_RECORD and trigger.inputs["subject"] == "blue-colour"
    [(key, mark)] = ti.pushed
    assert key == GATE_STARTED_KEY and mark == {"try": 1, "at": trigger.inputs["started_at"]}
    assert {k: xcom_set[0][k] for k in ("dag_id", "task_id", "run_id", "map_index")} == {
        "dag_id": "deploy_payment-service",
        "task_id": "production.canary.analysis_1",
        "run_id": "r1",
        "map_index": -1,
    }

    plan = trigger.gate_plan(_request(run_id="r1"))
    assert (plan.phase, plan.version, plan.started_at) == ("validation", "1.1.0", mark["at"])
    assert plan.baseline_end == PLAN_RECORD["recorded_at"] and plan.subject == "blue-colour"

    # a triggerer restart renders again: the same try keeps its observation window
    again = _trigger(phase="validation", slot=None)
    _render(again, ti)
    assert again.inputs is not None and again.inputs["started_at"] == mark["at"] and len(ti.pushed) == 1


def test_a_dry_run_gate_ends_skipped_in_the_triggerer() -> None:
    ti = FakeTI({("validate", "return_value"): request_for(SPEC, "1.1.0", "canary", dry_run=True)})
    trigger = _trigger()
    _render(trigger, ti)

    events = _events(trigger)
    assert len(events) == 1 and isinstance(events[0], TaskSkippedEvent), events


def test_without_a_render_the_trigger_says_it_only_runs_for_a_task_started_in_the_triggerer() -> None:
    with pytest.raises(RuntimeError, match="started in the triggerer"):
        _events(_trigger())


def test_a_missing_request_fails_the_render_naming_the_validate_task() -> None:
    with pytest.raises(RuntimeError, match="task 'validate' returned no request"):
        _render(_trigger(), FakeTI({}))


def _verdict(decision: str) -> Verdict:
    return Verdict(decision=decision, reason="r", phase="canary", elapsed_s=30, duration_s=30)  # type: ignore[arg-type]


@pytest.mark.parametrize(("decision", "ends_here"), [("pass", True), ("fail", False)])
def test_a_passing_verdict_ends_the_task_and_a_failing_one_resumes_it_without_a_hold(
    monkeypatch: pytest.MonkeyPatch, decision: str, ends_here: bool
) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr("triggers.stale_event_guard.MIN_DEFERRAL_SECONDS", 12.0)
    monkeypatch.setattr("triggers.gate_start.MIN_DEFERRAL_SECONDS", 12.0)
    monkeypatch.setattr("triggers.stale_event_guard.asyncio.sleep", fake_sleep)
    ti = FakeTI({("validate", "return_value"): request_for(SPEC, "1.1.0", "canary")})
    trigger = _trigger()
    _render(trigger, ti)
    plan = trigger.gate_plan(_request())

    event = asyncio.run(trigger.final_event(_verdict(decision), plan, time.monotonic()))

    assert isinstance(event, TaskSuccessEvent) is ends_here, event
    if not ends_here:  # the worker resumes with the gate's state (a hold asks a person from it)
        assert event.payload["verdict"]["decision"] == "fail"
        assert event.payload["state"]["plan"] == plan.to_dict()
    assert slept == [], "no stale-event hold: the task never deferred from a worker"


def test_serialize_round_trips() -> None:
    trigger = _trigger()
    path, kwargs = trigger.serialize()
    assert path == "triggers.gate_start.GateStartTrigger"
    assert GateStartTrigger(**kwargs).serialize() == (path, kwargs)
