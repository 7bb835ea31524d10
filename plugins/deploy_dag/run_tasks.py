"""The deploy DAG's own small tasks: choose the strategy branch, mark the release deployed, the run's outcome.

They were `@task` functions defined inside the DAG builder. A decorated task costs several times a plain
operator to create (a new function object per DAG, its signature inspected and bound at every call),
and a parse builds three of them per service; as operator classes defined once per process they cost
what any operator costs. Task ids, trigger rules and XComs are unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.providers.standard.operators.branch import BaseBranchOperator
from airflow.sdk import Asset, BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airlock.run_outcome import decide_run_outcome
from operators.fast_setattr import FastSetattr
from operators.request_bound import pull_request
from operators.rollback import failure_reason
from operators.xcom_keys import FAILURE_REASON_KEY


class ChooseStrategyOperator(FastSetattr, BaseBranchOperator):
    """Follow the branch of the strategy the run's request chose; the other strategies' tasks skip.

    Tasks later in the run that only one strategy needs (blue-green's old-colour cleanup) are registered
    with `only_for`: another strategy's run marks them skipped here, instead of starting them on a worker
    only to skip themselves. (A branch skips only its direct downstream tasks that no followed task leads
    to, and every strategy leads to the cleanup through validation: so they are skipped by name.)"""

    def __init__(self, *, first_task: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.first_task = dict(first_task)  # strategy -> the task id its branch starts with
        self.later_tasks: dict[str, list[str]] = {}  # strategy -> later task ids only it runs

    def only_for(self, strategy: str, task: BaseOperator) -> None:
        """`task` runs only in runs of `strategy` (it still waits for its own upstream tasks)."""
        if strategy not in self.first_task:
            raise ValueError(
                f"strategy {strategy!r} has no branch here; allowed: {', '.join(sorted(self.first_task))}"
            )
        self.later_tasks.setdefault(strategy, []).append(task.task_id)

    def not_for(self, strategy: str) -> list[str]:
        """The later tasks a run of `strategy` skips (registered with `only_for` by another strategy)."""
        return sorted(t for other, ids in self.later_tasks.items() if other != strategy for t in ids)

    def choose_branch(self, context: Context) -> str:
        strategy = pull_request(context).strategy
        skipped = self.not_for(strategy)
        self.log.info(
            "This run deploys with strategy %s: continuing with %s%s",
            strategy,
            self.first_task[strategy],
            f"; skipping {', '.join(skipped)} (only for another strategy)" if skipped else "",
        )
        return self.first_task[strategy]

    def skip_all_except(self, ti: Any, branch_task_ids: Any) -> None:
        """The branch's own skips, plus the chosen strategy's `not_for` tasks (in one request)."""
        from airflow.sdk.exceptions import DownstreamTasksSkipped

        # a list: do_branch may hand over a generator, which must reach the base class unconsumed
        chosen = [branch_task_ids] if isinstance(branch_task_ids, str) else list(branch_task_ids or [])
        strategy = next((name for name, first in self.first_task.items() if first in chosen), None)
        later = [(task_id, ti.map_index) for task_id in self.not_for(strategy)] if strategy else []
        try:
            super().skip_all_except(ti, chosen)
        except DownstreamTasksSkipped as skipped:
            # (the SDK's exception class has an untyped __init__)
            raise DownstreamTasksSkipped(tasks=[*skipped.tasks, *later]) from None  # type: ignore[no-untyped-call]
        if later and ti.map_index == -1:
            raise DownstreamTasksSkipped(tasks=later)  # type: ignore[no-untyped-call]


class MarkDeployedOperator(FastSetattr, BaseOperator):
    """Emit an event of each of `assets` (the service's production Asset and the follow-up's), with the
    same extra: what the follow-up checks and when.

    `event_extra` is the part of the extra that comes from the spec (the service, when to follow up,
    the spec itself); the run adds what it deployed. Returns the extra without the spec (XCom)."""

    def __init__(self, *, assets: list[Asset], event_extra: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(outlets=list(assets), **kwargs)
        self.event_extra = dict(event_extra)

    def execute(self, context: Context) -> dict[str, Any]:
        request = pull_request(context)
        extra = {
            **self.event_extra,
            "version": request.version,
            "strategy": request.strategy,
            "run_id": context["run_id"],
            "request": request.to_dict(),  # the follow-up checks exactly what was deployed
        }
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = extra
        self.log.info(
            "%s %s is deployed: production Asset event emitted (follow-up in %ss)",
            extra.get("service"),
            request.version,
            extra.get("follow_up_after_seconds"),
        )
        return {key: value for key, value in extra.items() if key != "spec"}


class RunOutcomeOperator(FastSetattr, BaseOperator):
    """The run's final state (airlock.run_outcome): fails unless the record says it went live."""

    template_fields = ("record",)

    def __init__(self, *, record: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.record = record  # the record task's XCom (an XComArg until the task renders it)

    def execute(self, context: Context) -> str:
        record = self._record_of_this_attempt(context)
        has_record = isinstance(record, dict) and "outcome" in record
        failed = False if has_record else _any_task_failed(context)
        decision = decide_run_outcome(
            record,
            any_task_failed=failed,
            failure=failure_reason(context) if failed else "",
        )
        if decision.state == "skipped":
            raise AirflowSkipException(decision.message)
        if decision.state == "failed":
            if decision.outcome is not None:
                context["ti"].xcom_push(key=FAILURE_REASON_KEY, value=decision.message)
            raise AirflowFailException(decision.message)
        return str(decision.outcome)

    def _record_of_this_attempt(self, context: Context) -> Any:
        """The record, unless the record task did not run in this attempt: a retry refused at the lock
        (airlock.run_retry) leaves the record task upstream_failed, and its XCom is then still the earlier
        attempt's (XComs are deleted only when a task runs again) - this attempt has no record."""
        if int(getattr(context["ti"], "try_number", 1) or 1) <= 1:
            return self.record  # a first attempt: nothing stale can exist
        ti = context["ti"]
        states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
        for task_id in self.upstream_task_ids:
            if str(states.get(task_id)).rsplit(".", 1)[-1].lower() in ("upstream_failed", "skipped"):
                self.log.info(
                    "The record task %s did not run in this attempt: its XCom is an earlier attempt's.",
                    task_id,
                )
                return None
        return self.record


def _any_task_failed(context: Any) -> bool:
    ti = context["ti"]
    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
    return any(
        str(state).rsplit(".", 1)[-1].lower() in ("failed", "upstream_failed") for state in states.values()
    )
