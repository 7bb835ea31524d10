"""How did the run end? The DAG run's final state, decided from the deployment record.

Airflow judges a run by its leaf tasks, and every other leaf of a deploy DAG runs whatever happened
(the record and the announcement are all_done, the lock release is a teardown), so without an
explicit decision a rolled-back deployment would show as a successful run. This is that decision.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from airlock.record import describe_line_stopped, left_behind, stopped_before_production, stopped_where

LIVE_OUTCOMES = ("succeeded", "dry_run")  # record outcomes after which the run counts as a success


@dataclass(frozen=True)
class RunOutcome:
    state: Literal["success", "skipped", "failed"]
    outcome: (
        str | None
    )  # the record's outcome (succeeded | rolled_back | failed | dry_run), None if no record
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunOutcome:
        return cls(**data)


def decide_run_outcome(
    record: dict[str, Any] | None, *, any_task_failed: bool, failure: str = ""
) -> RunOutcome:
    """`record`: the deployment record (None when the run stopped before recording, e.g. validation or the
    lock failed - the record sits inside the lock's setup/teardown scope); `failure`: which task failed
    and why, used when there is no record."""
    if not isinstance(record, dict) or "outcome" not in record:
        if not any_task_failed:  # e.g. a release train with no version queued: everything skipped
            return RunOutcome(
                "skipped", None, "nothing was deployed and nothing failed; see the validate task"
            )
        return RunOutcome("failed", None, f"the deployment did not start: {failure or 'a task failed'}")
    outcome = str(record["outcome"])
    if outcome in LIVE_OUTCOMES:
        return RunOutcome(
            "success", outcome, f"deployment of {record.get('service')} {record.get('version')} {outcome}"
        )
    what = f"deployment of {record.get('service')} {record.get('version')} {outcome}"
    if stopped_before_production(record):
        # the record's own words: where it stopped and what it left behind (staging restored or not)
        what += f" {stopped_where(record.get('stopped_in'))} before production ({left_behind(record)})"
    line_stopped = describe_line_stopped(record)
    if line_stopped:
        what += f"; its rollback in production FAILED, {line_stopped}"
    return RunOutcome("failed", outcome, f"{what}: {record.get('reason')}")
