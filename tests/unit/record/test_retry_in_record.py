"""A retried run (a person cleared its tasks after a fix) says so in the record, the run note and Slack."""

from __future__ import annotations

from datetime import UTC, datetime

from airlock.notify import rollback_message, success_message
from airlock.record import build_record, summarise
from airlock.run_retry import retry_note

RUN = {
    "service": "checkout",
    "version": "v2",
    "strategy": "canary",
    "risk": "planned",
    "dry_run": False,
    "run_id": "manual__1",
    "dag_id": "deploy_checkout",
    "container": "app",
    "start": "2026-03-10T01:00:00+00:00",
}
PLAN = {"strategy": "canary", "images": {"app": "registry/checkout:v1"}}
SUCCESS = {"production.canary.promote": "success", "validation.health": "success", "rollback": "skipped"}
END = datetime(2026, 3, 10, 1, 10, tzinfo=UTC)


def _record(retry: dict | None, states: dict, rollback: dict | None = None) -> dict:
    values = {"plan": PLAN, "rollback": rollback, **({"retry": retry} if retry else {})}
    return build_record(run=RUN, values=values, task_states=states, end=END)


def test_a_first_attempt_is_attempt_1_and_says_nothing_of_retries():
    record = _record(None, SUCCESS)
    assert record["attempt"] == 1 and record["retry"] is None
    assert "retry" not in summarise(record).lower()
    assert "retry" not in success_message(record)["text"]


def test_a_retry_that_deployed_says_which_attempt_from_where_and_how_the_last_one_ended():
    note = retry_note(
        3,
        ["production.record_rollback_plan", "production.canary.step_1", "validation.health"],
        {"outcome": "rolled_back", "reason": "validation.health: health check failed"},
    )
    record = _record(note.to_dict(), SUCCESS)
    assert record["outcome"] == "succeeded" and record["attempt"] == 3
    assert record["retry"]["rerun_from"] == "production.record_rollback_plan"
    assert "extra" not in record or "retry" not in record["extra"]
    expected = "retry (attempt 3) from production.record_rollback_plan, after attempt 1 ended rolled back"
    assert f"This is a {expected}." in summarise(record).splitlines()
    assert expected in success_message(record)["text"]


def test_a_retry_that_was_rolled_back_again_says_so_too():
    note = retry_note(2, ["production.record_rollback_plan"], {"outcome": "rolled_back", "attempt": 1})
    states = {"production.canary.analysis_1": "failed", "rollback": "success"}
    rollback = {"noop": False, "healthy": True, "reason": "canary error rate 8%"}
    record = _record(note.to_dict(), states, rollback)
    assert record["outcome"] == "rolled_back" and record["attempt"] == 2
    assert "retry (attempt 2)" in rollback_message(record)["text"]
