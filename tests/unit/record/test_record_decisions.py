"""People's decisions in the deployment record, the run note, the run's outcome and the Slack messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airlock import people
from airlock.notify import approval_needed_message, rollback_message, stopped_message, success_message
from airlock.record import build_record, describe_stop, gather_decisions, stopped_before_production, summarise
from airlock.run_outcome import decide_run_outcome

ASKED = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
RUN = {
    "service": "web",
    "version": "v2",
    "strategy": "canary",
    "risk": "planned",
    "dry_run": False,
    "run_id": "manual__1",
    "dag_id": "deploy_web",
    "triggered_by": "carol",
    "container": "app",
    "start": ASKED.isoformat(),
}
PLAN = {"strategy": "canary", "images": {"app": "registry.local/web:v1"}}


def _decision(gate: people.Gate, task_id: str, choice: str, by: str | None, comment: str = "", s: int = 30):
    return people.decision_from_response(
        gate=gate,
        task_id=task_id,
        chosen_options=[choice],
        responded_by={"id": by, "name": by} if by else None,
        responded_at=ASKED + timedelta(seconds=s),
        params_input={"comment": comment},
        asked_at=ASKED,
    ).to_dict()


def _rejected_before_production(by: str | None, comment: str = "") -> dict[str, Any]:
    states = {
        "preflight.checks": "success",
        "approval.before_production": "failed",
        "production.record_rollback_plan": "upstream_failed",
        "production.canary.step_1": "upstream_failed",
        "rollback": "success",
        "record": "running",
    }
    decision = _decision("before_production", "approval.before_production", people.REJECT, by, comment, s=20)
    values = {
        "decisions": {"approval.before_production": [decision], "validation.metrics": None},
        # the rollback found no plan: production was never touched
        "rollback": {"strategy": None, "reason": "task approval.before_production failed: ...", "noop": True},
        "failure": {"approval.before_production": people.Decision.from_dict(decision).sentence()},
    }
    return build_record(run=RUN, values=values, task_states=states, ignore_tasks=["record"])


def test_a_rejection_before_production_says_who_rejected_and_why() -> None:
    record = _rejected_before_production("bob", "not during the sale")
    assert record["outcome"] == "failed" and record["stopped_in"] == "approval"
    assert record["production_changed"] is False and stopped_before_production(record)
    assert record["reason"] == "rejected by bob: not during the sale (approval before production)"
    assert record["stopped_by"]["by"] == "bob"
    [decision] = record["decisions"]
    assert decision["sentence"] == (
        "approval before production: 'Reject' by bob at 2026-12-02 18:00:20 UTC: not during the sale"
    )
    note = summarise(record)
    assert "Why: rejected by bob: not during the sale" in note
    assert f"Decision: {decision['sentence']}" in note
    assert "Stopped at the approval before production: production untouched." in note
    outcome = decide_run_outcome(record, any_task_failed=True)
    assert outcome.state == "failed"
    assert outcome.message == (
        "deployment of web v2 failed at the approval before production (production untouched): "
        "rejected by bob: not during the sale (approval before production)"
    )
    slack = stopped_message(record)
    assert slack["blocks"][0]["text"]["text"] == "✋ web v2 rejected before production"
    assert slack["text"].startswith(
        "✋ web v2 stopped at the approval before production: rejected by bob: not during the sale"
    )
    assert decision["sentence"] in slack["blocks"][-1]["text"]["text"]


def test_a_timeout_rejection_says_nobody_answered() -> None:
    record = _rejected_before_production(None)
    assert record["reason"] == (
        "rejected: nobody answered within 20s, the timeout chose 'Reject' (approval before production)"
    )
    assert (
        "nobody answered in time: the timeout chose 'Reject' after 20s" in record["decisions"][0]["sentence"]
    )


def test_a_rejected_promotion_is_rolled_back_in_the_persons_words() -> None:
    reject = _decision(
        "before_last_canary_step",
        "production.canary.approve_promotion",
        people.REJECT,
        "alice",
        "p99 odd",
        90,
    )
    approve = _decision("before_production", "approval.before_production", people.APPROVE, "bob", "", 10)
    states = {
        "approval.before_production": "success",
        "production.canary.approve_promotion": "failed",
        "production.canary.promote": "upstream_failed",
        "rollback": "success",
    }
    values = {
        "plan": PLAN,
        # as the record task pulls them: {task_id: [decisions]}, in graph order, not time order
        "decisions": {
            "production.canary.approve_promotion": [reject],
            "approval.before_production": [approve],
        },
        "rollback": {
            "strategy": "canary",
            "reason": "task production.canary.approve_promotion failed",
            "healthy": True,
        },
    }
    record = build_record(run=RUN, values=values, task_states=states)
    assert record["outcome"] == "rolled_back"
    assert [d["by"] for d in record["decisions"]] == ["bob", "alice"]  # time order
    assert record["reason"] == "rejected by alice: p99 odd (approval before the canary's last step)"
    slack = rollback_message(record)
    assert slack["text"] == (
        "⏪ web v2 rolled back to v1: rejected by alice: p99 odd (approval before the canary's last step) "
        "(production restored and healthy)"
    )
    body = slack["blocks"][-1]["text"]["text"]
    assert "*Decisions:*" in body and "'Approve' by bob" in body and "'Reject' by alice" in body


def test_an_approved_run_shows_the_approval_in_the_note_and_slack() -> None:
    approve = _decision("before_production", "approval.before_production", people.APPROVE, "alice", "go", 5)
    record = build_record(
        run=RUN,
        values={"plan": PLAN, "decisions": {"a": [approve]}},
        task_states={"approval.before_production": "success"},
    )
    assert record["outcome"] == "succeeded" and record["stopped_by"] is None
    assert (
        "Decision: approval before production: 'Approve' by alice at 2026-12-02 18:00:05 UTC: go"
        in summarise(record)
    )
    assert "'Approve' by alice" in success_message(record)["blocks"][-1]["text"]["text"]


def test_a_hold_rolled_back_by_a_person_is_their_decision() -> None:
    """A person choosing 'Roll back now' at a hold stops the run like a Reject does (canary helper's gates)."""
    rolled = {**_decision("hold", "production.canary.analysis_1", people.ROLL_BACK, "bob", "too quiet", 60)}
    assert describe_stop(rolled) == "rolled back by bob: too quiet (hold (inconclusive gate))"


def test_decisions_from_one_source_or_many_and_malformed_ones() -> None:
    d = _decision("before_production", "t", people.APPROVE, "alice")
    assert [x["by"] for x in gather_decisions([d])] == ["alice"]
    assert gather_decisions(None) == [] and gather_decisions({"t": None}) == []
    odd = gather_decisions([{"choice": "Approve", "at": "yesterday"}])
    assert odd[0]["sentence"]  # kept, with what it says, not dropped


def test_approval_needed_message_says_what_who_where_and_the_timeout() -> None:
    message = approval_needed_message(
        service="web",
        subject="Approve web v2: production?",
        question="approval before production",
        run_id="manual__1",
        approvers=["alice", "bob"],
        timeout=timedelta(hours=4),
        timeout_option="Reject",
        link="http://airflow:8080/dags/deploy_web/runs/manual__1/tasks/approval.before_production/required_actions?map_index=-1",
    )
    assert message["text"].startswith(
        "✋ web: approval before production needed - Approve web v2: production? Answer in Airflow's Required "
        "actions: http://airflow:8080/dags/deploy_web/runs/"
    )
    assert message["text"].endswith("(alice, bob; no answer within 4h: Reject).")
    assert message["blocks"][-1]["elements"][0]["text"].endswith("|Required actions>")
    nobody = approval_needed_message(
        service="web",
        subject="s",
        question="q",
        run_id="r",
        approvers=[],
        timeout=None,
        timeout_option="Reject",
    )
    assert "anyone who may edit this DAG's runs; no time limit" in nobody["text"]


def test_a_verdict_read_back_as_json_text_counts_like_any_other() -> None:
    """A gate ended in the triggerer (TaskSuccessEvent xcoms) is read back as JSON text on Airflow 3.3.2:
    the run note said 'metrics not run' for a canary whose analysis passed."""
    verdict = '{"decision": "pass", "reason": "all metrics within limits", "metrics": []}'
    record = build_record(
        run=RUN,
        values={"metrics": {"production.canary.analysis_1": verdict, "validation.metrics": None}},
        task_states={"production.canary.analysis_1": "success"},
    )
    assert record["checks"]["metrics"]["production.canary.analysis_1"]["decision"] == "pass"
    assert "metrics 1 pass" in summarise(record)
