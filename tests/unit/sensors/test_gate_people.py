"""People in the loop at a metrics gate (issue 12 points 2 and 3), with fakes for Airflow's question API,
Slack and the task instance: a canary analysis asks before it observes; a hold and a pause wait in
awaiting input for hold.timeout; each answer becomes a Decision pushed as DECISIONS_KEY and acts -
Continue / Promote now pass, Roll back now fails with the decision's sentence, Observe another step
observes longer and asks again; Promote now skips the later canary steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException, TaskAwaitingInput, TaskDeferred

from airlock import people
from airlock.analysis.verdict import Verdict
from airlock.spec import parse_spec, spec_to_dict
from deploy_dag.guards import skip_after_promote_now
from operators.xcom_keys import DECISIONS_KEY, FAILURE_REASON_KEY
from sensors.gate_answers import GateRound, after_answer, observe_longer, promoted_now
from sensors.metrics import MetricsSensor
from tests.fixtures.run_requests import request_for

SPEC = spec_to_dict(
    parse_spec(
        {
            "service": "web",
            "image": "registry.local/web",
            "strategy": {"canary": {"steps": [10, 25, 50, 100], "step_duration": "20s", "pause_at": [25]}},
            "metrics": {"interval": "5s", "on_inconclusive": "hold"},
            "hold": {"approvers": ["alice", "bob"], "timeout": "30m", "on_timeout": "rollback"},
            "notify": {"slack_connection": "slack_deployments"},
        }
    )
)


class FakeTI:
    id = "0197a000-0000-7000-8000-000000000001"
    task_id = "production.canary.analysis_2"
    run_id = "manual__1"

    def __init__(self, xcoms: dict[tuple[str, str], Any] | None = None) -> None:
        self.pushed: dict[str, Any] = {}
        self.xcoms = xcoms or {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        return self.xcoms.get((task_ids, key))


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every question put up (upsert_hitl_detail's arguments)."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("airflow.sdk.execution_time.hitl.upsert_hitl_detail", lambda **kw: calls.append(kw))
    return calls


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(
        "notifiers.slack.post", lambda conn, service, message, log: sent.append(message) or True
    )
    return sent


@pytest.fixture(autouse=True)
def prometheus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_PROMETHEUS_DEFAULT", '{"conn_type": "http", "host": "127.0.0.1", "port": 9}'
    )


RECORDED: list[Any] = []  # the answer Airflow holds for the question (HITLDetailResponse), if any


@pytest.fixture(autouse=True)
def recorded_answer(monkeypatch: pytest.MonkeyPatch) -> Any:
    from airflow.sdk.api.datamodels._generated import HITLDetailResponse

    RECORDED.clear()

    def read(ti_id: Any) -> Any:
        if RECORDED:
            return RECORDED[0]
        return HITLDetailResponse(response_received=False, responded_at=None, chosen_options=None)

    monkeypatch.setattr("airflow.sdk.execution_time.hitl.get_hitl_detail_content_detail", read)
    return RECORDED


def sensor(slot: int = 1, **kwargs: Any) -> MetricsSensor:
    return MetricsSensor(
        task_id="analysis_2",
        spec=SPEC,
        phase="canary",
        slot=slot,
        request=request_for(SPEC, "v1.2.3", "canary"),
        **kwargs,
    )


def verdict(decision: str = "pass", action: str | None = None) -> Verdict:
    reason = {"pass": "no rule failed", "inconclusive": "not enough traffic to judge: canary 40 of 200"}
    return Verdict(decision, reason.get(decision, decision), "canary", 20.0, 20.0, action=action)  # type: ignore[arg-type]


def answer(choice: str, by: str | None = "alice", comment: str = "") -> dict[str, Any]:
    return {
        "chosen_options": [choice],
        "params_input": {"comment": comment},
        "responded_at": datetime(2026, 12, 2, 18, 30, tzinfo=UTC),
        "responded_by_user": {"id": by, "name": by} if by else None,
        "timedout": by is None,
    }


def state_of(op: MetricsSensor, asking: str, with_verdict: Verdict | None = None) -> dict[str, Any]:
    plan = op.plan()
    return GateRound(
        plan.to_dict(),
        asking=asking,  # type: ignore[arg-type]
        asked_at=datetime(2026, 12, 2, 18, 0, tzinfo=UTC).isoformat(),
        verdict=with_verdict.to_dict() if with_verdict else None,
    ).to_dict()


def test_a_canary_analysis_asks_its_fixed_question_before_it_defers(asked: list[dict[str, Any]]) -> None:
    op = sensor()
    ti = FakeTI()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": ti})
    (q,) = asked
    assert q["subject"] == "Canary web v1.2.3 at 25 % (step 2 of 3): analysing"
    assert q["options"] == people.CANARY_OPTIONS and q["defaults"] == [people.ROLL_BACK]
    assert q["assigned_users"] == [{"id": "alice", "name": "alice"}, {"id": "bob", "name": "bob"}]
    assert q["ti_id"] == ti.id and set(q["params"]) == {people.COMMENT_PARAM}
    assert "no answer" in q["body"].lower() or "nobody answers" in q["body"]
    state = GateRound.from_dict(deferred.value.kwargs["state"])
    assert state.asking == "control" and state.asked_at
    # step 2 (25 %) pauses after passing: the trigger must hand a pass back here, not end the task
    assert deferred.value.trigger.end_on_pass is False


def test_a_step_without_a_pause_lets_the_trigger_end_a_pass_and_other_gates_do_not_ask(
    asked: list[dict[str, Any]],
) -> None:
    with pytest.raises(TaskDeferred) as deferred:
        sensor(slot=0).execute({"ti": FakeTI()})
    assert deferred.value.trigger.end_on_pass is True and len(asked) == 1
    validation = MetricsSensor(
        task_id="metrics", spec=SPEC, phase="validation", request=request_for(SPEC, "v1.2.3", "canary")
    )
    with pytest.raises(TaskDeferred):
        validation.execute({"ti": FakeTI()})
    assert len(asked) == 1  # validation asks only if it holds


def test_an_inconclusive_verdict_with_hold_tells_slack_asks_and_waits_for_input(
    asked: list[dict[str, Any]], slack: list[dict[str, Any]]
) -> None:
    op = sensor()
    held = verdict("inconclusive", "hold")
    assert held.holds and not held.failed
    with pytest.raises(TaskAwaitingInput) as waiting:
        op.execute_complete({"ti": FakeTI()}, {"verdict": held.to_dict()}, state=state_of(op, "control"))
    assert waiting.value.method_name == "execute_complete"
    assert waiting.value.timeout == timedelta(minutes=30)
    state = GateRound.from_dict(waiting.value.kwargs["state"])
    assert state.asking == "hold" and state.verdict == held.to_dict()
    assert len(asked) == 1  # asked again: that clears the previous answer
    (message,) = slack
    assert "is inconclusive (on_inconclusive: hold) and waits for a person" in message["text"]
    assert "no answer within 30m: Roll back now" in message["text"]


def test_a_passing_pause_step_waits_and_a_step_without_pause_passes(
    asked: list[dict[str, Any]], slack: list[dict[str, Any]]
) -> None:
    op = sensor(slot=1)  # 25 %: in pause_at
    with pytest.raises(TaskAwaitingInput) as waiting:
        op.execute_complete({"ti": FakeTI()}, {"verdict": verdict().to_dict()}, state=state_of(op, "control"))
    assert GateRound.from_dict(waiting.value.kwargs["state"]).asking == "pause"
    assert "passed its step at 25 % (strategy.canary.pause_at)" in slack[0]["text"]
    plain = sensor(slot=0)  # 10 %: no pause
    out = plain.execute_complete(
        {"ti": FakeTI()}, {"verdict": verdict().to_dict()}, state=state_of(plain, "control")
    )
    assert out["decision"] == "pass"


def test_continue_at_a_pause_passes_the_gate_saying_who_and_pushes_the_decision() -> None:
    op = sensor()
    ti = FakeTI()
    out = op.execute_complete(
        {"ti": ti},
        answer(people.CONTINUE, comment="dashboards look fine"),
        state=state_of(op, "pause", verdict()),
    )
    assert out["decision"] == "pass"
    assert out["reason"].startswith(
        "passed by a person - pause step: 'Continue' by alice at 2026-12-02 18:30:00 UTC"
    )
    (decision,) = ti.pushed[DECISIONS_KEY]
    assert (decision["gate"], decision["action"], decision["by"], decision["comment"]) == (
        "pause",
        "continue",
        "alice",
        "dashboards look fine",
    )
    assert decision["waited_s"] == 1800.0


def test_promote_now_passes_and_the_later_steps_skip() -> None:
    op = sensor()
    ti = FakeTI()
    held = verdict("inconclusive", "hold")
    out = op.execute_complete({"ti": ti}, answer(people.PROMOTE_NOW), state=state_of(op, "hold", held))
    assert out["decision"] == "pass"
    decisions = ti.pushed[DECISIONS_KEY]
    guard = skip_after_promote_now(["production.canary.analysis_1", "production.canary.analysis_2"])
    later = FakeTI({("production.canary.analysis_2", DECISIONS_KEY): decisions})
    with pytest.raises(AirflowSkipException, match=r"promoted now by a person.*'Promote now' by alice"):
        guard({"ti": later})
    guard({"ti": FakeTI()})  # nobody promoted: the step runs


def test_roll_back_now_fails_with_the_decisions_sentence_for_the_rollback() -> None:
    op = sensor()
    ti = FakeTI()
    with pytest.raises(AirflowFailException) as failed:
        op.execute_complete(
            {"ti": ti},
            answer(people.ROLL_BACK, comment="p99 looks off"),
            state=state_of(op, "pause", verdict()),
        )
    sentence = "pause step: 'Roll back now' by alice at 2026-12-02 18:30:00 UTC: p99 looks off"
    assert str(failed.value) == sentence
    assert ti.pushed[FAILURE_REASON_KEY] == sentence
    assert ti.pushed[DECISIONS_KEY][0]["action"] == "rollback"


def test_nobody_answering_a_hold_applies_its_timeout_default() -> None:
    op = sensor()
    ti = FakeTI()
    with pytest.raises(
        AirflowFailException, match="nobody answered in time: the timeout chose 'Roll back now'"
    ):
        op.execute_complete(
            {"ti": ti},
            answer(people.ROLL_BACK, by=None),
            state=state_of(op, "hold", verdict("inconclusive", "hold")),
        )
    assert ti.pushed[DECISIONS_KEY][0]["timed_out"] is True


def test_observe_another_step_asks_again_and_observes_one_more_step_from_the_same_start(
    asked: list[dict[str, Any]],
) -> None:
    op = sensor()
    ti = FakeTI()
    before = state_of(op, "hold", verdict("inconclusive", "hold"))
    with pytest.raises(TaskDeferred) as deferred:
        op.execute_complete({"ti": ti}, answer(people.OBSERVE), state=before)
    after = GateRound.from_dict(deferred.value.kwargs["state"])
    assert after.plan["started_at"] == before["plan"]["started_at"]  # the requests counted so far still count
    assert after.plan["duration_s"] >= 20.0 and after.plan["max_extension_s"] == 0.0
    assert after.asking == "control" and after.verdict is None and len(after.decisions) == 1
    assert len(asked) == 1  # the question is up again (its last answer cleared)


def test_an_answer_while_observing_is_judged_on_one_look_at_the_metrics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    op = sensor()
    looked: list[str] = []

    def measure(plan: Any, state: Any) -> Verdict:
        looked.append(plan.phase)
        return Verdict("continue", "keep observing (canary 80 of 200)", "canary", 9.0, 20.0)

    monkeypatch.setattr(MetricsSensor, "measure_now", lambda self, plan, state: measure(plan, state))
    out = op.execute_complete({"ti": FakeTI()}, answer(people.CONTINUE), state=state_of(op, "control"))
    assert looked == ["canary"]
    assert out["reason"].endswith("measured so far: keep observing (canary 80 of 200)")
    assert out["reason"].startswith(
        "passed by a person - manual control of a running gate: 'Continue' by alice"
    )


def test_a_hold_that_cannot_ask_fails_closed() -> None:
    with pytest.raises(AirflowFailException, match="holds for a person but cannot ask"):
        sensor().finish(verdict("inconclusive", "hold"))


def test_pure_answer_rules() -> None:
    d = people.decision_from_response(
        gate="control", task_id="a", chosen_options=[people.OBSERVE], responded_by={"name": "x"},
        responded_at="2026-12-02T18:00:00+00:00",
    )  # fmt: skip
    assert after_answer(d, verdict()).outcome == "observe"
    from airlock.analysis.plan import GatePlan

    plan = GatePlan.from_dict(sensor().plan().to_dict())
    longer = observe_longer(plan, 20.0, plan.started_at + 35.0)
    assert longer.duration_s == 55.0 and longer.started_at == plan.started_at
    assert promoted_now({"a": None, "b": [d.to_dict()]}) is None


def test_each_canary_step_reads_the_decisions_of_the_analyses_before_it() -> None:
    from pathlib import Path

    from deploy_dag.graph import build_deploy_dag

    dag = build_deploy_dag(parse_spec({**SPEC, "service": "web"}), source=Path("web.yaml"))
    steps = {t.task_id: t for t in dag.tasks if t.task_id.startswith("production.canary.step_")}
    assert steps["production.canary.step_1"].earlier_analyses() == []
    assert steps["production.canary.step_3"].earlier_analyses() == [
        "production.canary.analysis_1",
        "production.canary.analysis_2",
    ]


def test_an_answer_given_while_the_task_ran_is_acted_on_not_cleared(asked: list[dict[str, Any]]) -> None:
    """The trigger's pass resumed the task; meanwhile bob answered "Roll back now" (recorded, but Airflow
    resumes only a deferred or waiting task): the gate acts on it instead of passing or asking again."""
    from airflow.sdk.api.datamodels._generated import HITLDetailResponse, HITLUser

    RECORDED.append(
        HITLDetailResponse(
            response_received=True,
            responded_by_user=HITLUser(id="bob", name="bob"),
            responded_at=datetime(2026, 12, 2, 18, 1, tzinfo=UTC),
            chosen_options=[people.ROLL_BACK],
            params_input={"comment": "saw errors in the logs"},
        )
    )
    op = sensor(slot=0)  # no pause: without the answer this pass would end the gate
    ti = FakeTI()
    with pytest.raises(AirflowFailException, match="'Roll back now' by bob .*: saw errors in the logs"):
        op.execute_complete({"ti": ti}, {"verdict": verdict().to_dict()}, state=state_of(op, "control"))
    assert ti.pushed[DECISIONS_KEY][0]["gate"] == "control" and asked == []
