"""The run's outcome task after a retry refused at the lock: the record task did not run in this attempt,
so its XCom (the earlier attempt's record) is not this attempt's outcome."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from deploy_dag.run_tasks import RunOutcomeOperator

EARLIER_RECORD = {"outcome": "succeeded", "service": "web", "version": "v2", "reason": None}
REFUSAL = "Refusing this retry: it would resume at validation.health"


class FakeTI:
    def __init__(self, try_number: int, states: dict[str, Any]) -> None:
        self.try_number = try_number
        self.states = states
        self.dag_id, self.run_id = "deploy_web", "manual__1"
        self.pushed: dict[str, Any] = {}

    def get_task_states(self, dag_id: str, run_ids: list[str]) -> dict[str, dict[str, Any]]:
        return {self.run_id: self.states}

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        return REFUSAL if (task_ids, key) == ("acquire_lock", "failure_reason") else None

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def _outcome() -> RunOutcomeOperator:
    op = RunOutcomeOperator(task_id="outcome", record=EARLIER_RECORD)
    op.upstream_task_ids.add("record")
    return op


def test_a_refused_retry_ends_failed_with_the_refusal_not_the_earlier_record():
    ti = FakeTI(2, {"acquire_lock": "failed", "record": "upstream_failed", "outcome": None})
    with pytest.raises(
        AirflowFailException, match="did not start: task acquire_lock failed: Refusing this retry"
    ):
        _outcome().execute({"ti": ti})


def test_a_retry_whose_record_ran_ends_as_the_record_says():
    ti = FakeTI(2, {"acquire_lock": "success", "record": "success", "outcome": None})
    assert _outcome().execute({"ti": ti}) == "succeeded"


def test_a_first_attempt_reads_the_record_without_asking_for_task_states():
    ti = FakeTI(1, {})
    assert _outcome().execute({"ti": ti}) == "succeeded"
