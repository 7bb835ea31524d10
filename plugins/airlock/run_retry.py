"""Retrying a failed run after a fix (Airflow's Clear): which clears resume on a consistent state.

Airflow retries part of a run by clearing a task "with downstream"; it clears the deploy lock's
`acquire_lock` with it (a setup is cleared with the tasks it covers), so that task is the first of the
retry to run, before any cleared task. It decides here whether the retry may go on.

Why a retry can be unsafe: when a run fails in production or validation, its rollback puts production
back on the rollback plan - the canary is deleted, the stable Deployment runs the previous version again.
A retry that resumes *inside* that environment keeps the earlier tasks' successes (the canary step, the
promotion) although their work was undone: a resumed canary analysis would judge a canary that is gone,
a resumed validation would health-check the previous version and the run could end "deployed" with
production on the old one. Such a retry must re-run the environment from its first task,
`<environment>.record_rollback_plan` (the plan is read back from the Deployment's annotation, so it is
the same plan). A retry whose environment still carries this run's changes (a failure after it, e.g. in
the announcement), or whose kept tasks changed nothing there, resumes safely where it was cleared.

Pure: the caller reads the task states (Airflow) and whether each environment is exactly as its plan
recorded it (the cluster); `refusal` decides; `RetryNote` is what the acquire task hands the record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from airlock.record import normalise_state

# the workflow phases a retry can resume in, in order; a task belongs to the phase its id starts with
DEPLOY_PHASES = ("staging", "production", "validation", "complete")
# tasks that decide or announce but never change an environment: their success is not undone by a rollback
NON_WRITING = ("production.choose_strategy",)
# run bookkeeping, re-run by every retry whatever was cleared
BOOKKEEPING = (
    "validate",
    "acquire_lock",
    "announce_start",
    "rollback",
    "record",
    "announce_outcome",
    "release_lock",
    "outcome",
)
FINISHED = ("success", "failed", "skipped", "upstream_failed", "removed")


def plan_task(environment: str) -> str:
    """The environment's first task: it records the rollback plan before anything there is changed."""
    return f"{environment}.record_rollback_plan"


def phase_of(task_id: str) -> str:
    return task_id.split(".", 1)[0]


def to_rerun(task_states: Mapping[str, Any], order: Iterable[str] = ()) -> list[str]:
    """The deployment tasks this retry runs again (cleared: no finished state), in workflow `order`
    (tasks missing from it come last, by name); the run's bookkeeping tasks are left out."""
    cleared = {
        task
        for task, state in task_states.items()
        if task not in BOOKKEEPING and (state is None or normalise_state(state) not in FINISHED)
    }
    ordered = [t for t in order if t in cleared]
    return ordered + sorted(cleared - set(ordered))


@dataclass(frozen=True)
class EnvironmentNow:
    """An environment the run deploys to, as the retry finds it."""

    environment: str  # "production" | "staging"
    restored: bool  # exactly as this run's rollback plan recorded it: nothing this run wrote there is live
    previous_version: str | None = None  # what the plan recorded (what runs there now, when restored)


def kept_work(environment: str, task_states: Mapping[str, Any]) -> list[str]:
    """Tasks of this environment's phase or later that succeeded in an earlier attempt and are not re-run
    (their work is what a rollback of the environment undid)."""
    later = DEPLOY_PHASES[DEPLOY_PHASES.index(environment) :]
    return sorted(
        task
        for task, state in task_states.items()
        if phase_of(task) in later
        and task != plan_task(environment)
        and task not in NON_WRITING
        and not task.endswith(".restore")
        and state is not None
        and normalise_state(state) == "success"
    )


def refusal(
    environments: Iterable[EnvironmentNow], task_states: Mapping[str, Any], rerun: list[str]
) -> str | None:
    """Why this retry must not run (the sentence the acquire task fails with), or None when it is safe.

    Unsafe: an environment is back on its rollback plan, the retry re-runs tasks of that environment (or
    later) but not its first task, and keeps earlier successes there whose work the rollback undid.
    """
    for env in environments:
        start = plan_task(env.environment)
        if not env.restored or start not in task_states or start in rerun:
            continue
        later = DEPLOY_PHASES[DEPLOY_PHASES.index(env.environment) :]
        resumed = [t for t in rerun if phase_of(t) in later and not t.endswith(".restore")]
        kept = kept_work(env.environment, task_states)
        if not resumed or not kept:
            continue
        shown = ", ".join(kept[:4]) + (f" and {len(kept) - 4} more" if len(kept) > 4 else "")
        return (
            f"Refusing this retry: it would resume at {resumed[0]}, but {env.environment} is back on this "
            f"run's rollback plan ({env.previous_version or 'the recorded state'}): the rollback undid what "
            f"the kept task(s) {shown} did, so {resumed[0]} would act on a deployment that is no longer "
            f"there. Nothing was changed. Retry from the start of {env.environment} instead: clear task "
            f"{start} with Downstream (UI: Clear Task Instance, Downstream on; REST: POST "
            f'/api/v2/dags/<dag_id>/clearTaskInstances {{"dag_run_id": ..., "task_ids": ["{start}"], '
            f'"include_downstream": true, "only_failed": false, "reset_dag_runs": true}}). See docs/retry.md.'
        )
    return None


@dataclass(frozen=True)
class RetryNote:
    """What a retry is, for the record, the run note and Slack (the acquire task's XCom `retry`)."""

    attempt: int  # the acquire task's try number: 2 on the first retry
    rerun: list[str] = field(default_factory=list)  # the deployment tasks re-run, in workflow order
    previous_outcome: str | None = None  # the last record before this retry (None: there was none)
    previous_reason: str | None = None
    previous_attempt: int | None = None  # which attempt wrote that record

    @property
    def rerun_from(self) -> str | None:
        return self.rerun[0] if self.rerun else None

    def describe(self) -> str:
        """'retry (attempt 3) from production.record_rollback_plan, after attempt 1 ended rolled back'."""
        text = f"retry (attempt {self.attempt})"
        if self.rerun_from:
            text += f" from {self.rerun_from}"
        if self.previous_outcome:
            which = f"attempt {self.previous_attempt}" if self.previous_attempt else "the earlier attempt"
            text += f", after {which} ended {self.previous_outcome.replace('_', ' ')}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rerun_from": self.rerun_from}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RetryNote:
        return cls(
            attempt=int(data["attempt"]),
            rerun=list(data.get("rerun") or []),
            previous_outcome=data.get("previous_outcome"),
            previous_reason=data.get("previous_reason"),
            previous_attempt=data.get("previous_attempt"),
        )


def retry_note(attempt: int, rerun: list[str], previous_record: Mapping[str, Any] | None) -> RetryNote:
    """The note from the acquire task's try number, the re-run tasks and the last record written."""
    previous = previous_record if isinstance(previous_record, Mapping) else {}
    reason = previous.get("reason")
    return RetryNote(
        attempt=attempt,
        rerun=list(rerun),
        previous_outcome=previous.get("outcome"),
        previous_reason=str(reason)[:500] if reason else None,
        previous_attempt=previous.get("attempt") or (1 if previous.get("outcome") else None),
    )
