"""decide_run_outcome: the DAG run's final state from the deployment record."""

from __future__ import annotations

import pytest

from airlock.run_outcome import RunOutcome, decide_run_outcome


@pytest.mark.parametrize("outcome", ["succeeded", "dry_run"])
def test_live_outcomes_succeed(outcome) -> None:
    d = decide_run_outcome({"outcome": outcome, "service": "web", "version": "v2"}, any_task_failed=True)
    assert (d.state, d.outcome) == ("success", outcome)


@pytest.mark.parametrize("outcome", ["rolled_back", "failed"])
def test_rollbacks_and_failures_fail_the_run_with_the_reason(outcome) -> None:
    d = decide_run_outcome(
        {"outcome": outcome, "service": "web", "version": "v2", "reason": "error rate 8 %"},
        any_task_failed=False,
    )
    assert d.state == "failed" and d.message == f"deployment of web v2 {outcome}: error rate 8 %"


def test_no_record_and_nothing_failed_is_a_skip() -> None:
    assert decide_run_outcome(None, any_task_failed=False).state == "skipped"


def test_no_record_after_a_failure_names_it() -> None:
    d = decide_run_outcome(None, any_task_failed=True, failure="task validate failed: field 'version'")
    assert d.state == "failed" and d.message.endswith("task validate failed: field 'version'")
    assert RunOutcome.from_dict(d.to_dict()) == d
