"""pre_execute guards: skip a task for a dry run, a hotfix or another strategy, decided from the RunRequest.

They read the `validate` task's XCom (the request as checked against the spec), never raw conf.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow.sdk.exceptions import AirflowSkipException

from operators.request_bound import pull_request


def skip_in_dry_run(context: Any) -> None:
    """For waits and checks that only make sense after a real change (sensors, smoke, scans)."""
    if pull_request(context).dry_run:
        raise AirflowSkipException("dry run: nothing was changed, so there is nothing to wait for or verify")


def skip_for_hotfix_or_dry_run(context: Any) -> None:
    """The staging soak: a hotfix skips it (recorded by the validate task); pre-flight is never skipped."""
    if pull_request(context).is_hotfix:
        raise AirflowSkipException("hotfix run: staging soak skipped (recorded in the deployment record)")
    skip_in_dry_run(context)


def only_for_strategy(strategy: str) -> Callable[[Any], None]:
    def guard(context: Any) -> None:
        chosen = pull_request(context).strategy
        if chosen != strategy:
            raise AirflowSkipException(f"only runs for strategy {strategy}; this run uses {chosen}")

    return guard


def skip_after_promote_now(analysis_task_ids: list[str]) -> Callable[[Any], None]:
    """A canary step after an analysis a person answered 'Promote now': skip it (and, by the trigger
    rules, its analysis and the steps after it); `promote` then runs, and validation as usual."""
    from operators.xcom_keys import DECISIONS_KEY
    from sensors.gate_answers import promoted_now

    def guard(context: Any) -> None:
        ti = context["ti"]
        found = {task_id: ti.xcom_pull(task_ids=task_id, key=DECISIONS_KEY) for task_id in analysis_task_ids}
        sentence = promoted_now(found)
        if sentence is not None:
            raise AirflowSkipException(
                f"promoted now by a person, the remaining canary steps are skipped: {sentence}"
            )

    return guard
