"""RollbackOperator: the DAG's one_failed task. Restores the recorded plan, verifies, collects evidence.

Its XCom is the RollbackResult (airlock.kube.rollback): what was restored, why, the evidence, the writes
made, and whether production is healthy afterwards.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from airflow.sdk import Context
from airflow.sdk.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowSkipException,
    TaskDeferred,
)

from airlock import notify, stop_line
from airlock.kube import rollback
from airlock.kube.api import Kube
from airlock.kube.diagnose import collect_evidence
from airlock.kube.plan import RollbackPlan
from airlock.kube.retry import RetryPolicy
from airlock.kube.status import rollout_status
from airlock.spec import ServiceSpec, spec_from
from airlock.timeouts import rollback_deadline, rollback_retry
from operators._kube import KubeOperator, api_client
from operators.notify import send_slack
from operators.xcom_keys import FAILURE_REASON_KEY, LINE_STOPPED_KEY, RETURN_VALUE


def failure_reason(context: Context) -> str:
    """Which tasks of this run failed, and why if they said so.

    Airflow 3 tasks have no DB access; the task SDK asks the API server for this run's task states
    (`ti.get_task_states`). Airlock's operators push their failure sentence as XCom `failure_reason`
    before raising (e.g. the stuck reason of a rollout), which is added when present.
    """
    ti = context["ti"]
    try:
        states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
    except Exception as exc:  # outside a supervised task (unit tests) there is no API to ask
        return f"upstream failure (task states unavailable: {exc})"
    failed = sorted(
        task_id for task_id, state in states.items() if str(state) in ("failed", "TaskInstanceState.FAILED")
    )
    if not failed:
        return "upstream failure"
    parts = []
    for task_id in failed:
        detail = None
        try:
            detail = ti.xcom_pull(task_ids=task_id, key=FAILURE_REASON_KEY)
        except Exception:
            detail = None
        parts.append(f"task {task_id} failed" + (f": {detail}" if detail else ""))
    return "; ".join(parts)


F = TypeVar("F", bound=Callable[..., Any])

# Exceptions that are how Airflow steers a task (defer, skip), not a failed rollback.
_CONTROL_FLOW = (TaskDeferred, AirflowSkipException, KeyboardInterrupt, SystemExit, GeneratorExit)


def stops_the_line_on_failure(method: F) -> F:
    """Any failure of a production rollback (refused, a write that kept failing until the rollback's
    deadline, the execution timeout, fenced, unhealthy or not matching the plan) stops the line
    before the failure propagates: see airlock.stop_line."""

    @functools.wraps(method)
    def wrapper(self: RollbackOperator, context: Context, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, context, *args, **kwargs)
        except _CONTROL_FLOW:
            raise
        except BaseException as exc:
            self.stop_the_line(context, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            raise

    return wrapper  # type: ignore[return-value]


def stop_the_line(
    spec: ServiceSpec, run_id: str, reason: str, log: Any, dry_run: bool = False
) -> stop_line.StopMark | None:
    """Write the stop mark on production and tell the owners in Slack; returns the mark on the cluster
    (None: none could be written). Never raises (it runs while a rollback is already failing); a mark
    that cannot be written is logged as loudly as possible."""
    namespace = spec.environment("production").namespace
    if dry_run:
        log.info("DRY RUN: the line would be stopped for %s (%s)", spec.service, reason)
        return None
    try:
        kube = Kube(api_client(spec, "production"), log=log)
        kube.retry = RetryPolicy(attempts=8, deadline=120.0)  # the mark matters more than speed
        mark, written = stop_line.stop_the_line(kube, spec.service, namespace, run_id, reason[:2000])
    except Exception as exc:
        log.error(
            "COULD NOT STOP THE LINE for %s (%s): %s. A human must look at production now.",
            spec.service,
            reason,
            exc,
        )
        return None
    if not written:
        return mark  # already stopped (by this run's rollback itself, or an earlier run): owners were told
    send_slack(
        spec,
        notify.line_stopped_message(
            service=spec.service,
            run_id=run_id,
            reason=mark.reason,
            clear_command=mark.clear_command(),
            owners=spec.owners,
            dashboard=spec.metrics.dashboard or "",
        ),
        log,
    )
    return mark


def push_line_stopped(context: Context, mark: stop_line.StopMark | None, log: Any) -> None:
    """Hand the stop mark to the record (XCom `line_stopped`): the record, the outcome message and the
    run note then say the line is stopped and how to clear it. Never raises."""
    if mark is None:
        return
    try:
        context["ti"].xcom_push(key=LINE_STOPPED_KEY, value=mark.to_dict())
    except Exception as exc:
        log.warning("could not hand the stop mark to the record: %s", exc)


def stop_line_callback(spec: dict[str, Any], then: Callable[[Context], None]) -> Callable[[Context], None]:
    """The rollback's on_failure_callback: stop the line (also when the task failed without running
    its code: a deferral that timed out, a worker that died), then `then` (the Slack failure notice)."""

    def callback(context: Context) -> None:
        import logging

        log = logging.getLogger("airlock.stop_line")
        try:
            service = spec_from(spec)
            task = context["ti"].task
            if getattr(task, "environment", "production") == "production":
                error = context.get("exception")
                mark = stop_the_line(service, str(context["run_id"]), f"rollback task failed: {error}", log)
                push_line_stopped(context, mark, log)
        except Exception as exc:
            log.error("stop-the-line callback failed: %s", exc)
        then(context)

    return callback


class RollbackOperator(KubeOperator):
    """Put production back to the rollback plan recorded before this run changed it.

    * no plan (the run failed before recording one) or nothing differs from the plan: no-op, logged;
    * an irreversible migration from the plan already ran: refuse loudly and say what a human must do;
    * dry run: log every write that would be made;
    * otherwise write (see airlock.kube.rollback), wait (deferred) for the restored Deployment, and
      fail if it is not healthy afterwards (the result is still pushed as XCom).
    `reason` (templated) is recorded; when empty, the failed tasks of this run are named.
    """

    template_fields = ("plan", "reason")
    ui_color = "#fde2e2"

    def __init__(self, *, plan: Any = None, reason: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.reason = reason

    def rollback_retry(self, context: Context) -> RetryPolicy:
        """Transient Kubernetes errors are retried until the rollback's own deadline (timeouts.py)."""
        started = context["ti"].start_date
        elapsed = datetime.now(UTC) - started if started else None
        policy = rollback_retry(self.service_spec, elapsed) if elapsed else rollback_retry(self.service_spec)
        self.log.info(
            "Kubernetes calls of this rollback are retried on transient errors until its deadline "
            "(%.0f s of %.0f s left); after that the line is stopped.",
            policy.deadline,
            rollback_deadline(self.service_spec).total_seconds(),
        )
        return policy

    def stop_the_line(self, context: Context, reason: str) -> None:
        if self.environment != "production":
            return
        run_id = self.run_request.run_id if self.has_request else str(context["run_id"])
        mark = stop_the_line(self.service_spec, run_id, reason, self.log, dry_run=self.is_dry_run)
        push_line_stopped(context, mark, self.log)

    def _plan(self) -> RollbackPlan | None:
        """The plan the record_rollback_plan task returned (None: the run failed before recording one)."""
        return RollbackPlan.from_dict(self.plan) if self.plan else None

    @stops_the_line_on_failure
    def execute(self, context: Context) -> Any:
        spec = self.service_spec
        reason = str(self.reason or "") or failure_reason(context)
        plan = self._plan()
        base = rollback.RollbackResult(plan.strategy if plan else None, reason, self.is_dry_run)
        if plan is None:
            # the run failed before this environment's plan was recorded (e.g. in staging, for the
            # production rollback): say so instead of announcing a rollback that cannot happen
            self.log.info(
                "No rollback of %s in %s: no rollback plan was recorded for this run, so %s was never "
                "touched; nothing to do. (The run failed earlier: %s)",
                spec.service,
                self.environment,
                self.environment,
                reason,
            )
            return base.but(noop=True).to_dict()
        self.log.info("ROLLBACK of %s in %s requested: %s", spec.service, self.environment, reason)
        kube = self.kube()
        reader = Kube(api_client(spec, self.environment), log=self.log)
        kube.retry = reader.retry = self.rollback_retry(context)
        try:
            rollback.check_migration(reader, plan, spec)
        except rollback.IrreversibleMigration as exc:
            self.log.error("%s", exc)
            raise AirflowFailException(str(exc)) from None
        actions = rollback.rollback_actions(reader, spec, plan)
        involved = {plan.deployment, f"{spec.deployment}-canary", f"{spec.deployment}-green"}
        evidence = collect_evidence(reader, plan.namespace, spec.app_labels, involved)
        if not actions:
            status = rollout_status(reader.get("deployments", plan.namespace, plan.deployment) or {})
            self.log.info(
                "%s is exactly as recorded in the rollback plan (nothing was changed yet): "
                "no write needed; %s",
                self.environment,
                status.message,
            )
            return base.but(
                noop=True,
                evidence=evidence,
                healthy=status.done,
                restored=rollback.restored_state(reader, plan),
            ).to_dict()
        self.log.info("rollback plan: %s", "; ".join(a.what for a in actions))
        done = rollback.apply_rollback(kube, spec, plan, actions)
        result = base.but(actions=done, evidence=evidence)
        if kube.dry_run:
            self.log.info("DRY RUN: the %d write(s) above were not sent", len(kube.writes))
            return result.but(healthy=None).to_dict()
        return self.wait_rollout(context, plan.deployment, "execute_complete", {"result": result.to_dict()})

    @stops_the_line_on_failure
    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, result: dict[str, Any] | None = None
    ) -> Any:
        started = rollback.RollbackResult.from_dict(self.resumed(event, "result", result))
        plan = self._plan()
        if plan is None:
            raise AirflowException("rollback resumed without the rollback plan it started from")
        reader = Kube(api_client(self.service_spec, self.environment), log=self.log)
        reader.retry = self.rollback_retry(context)
        restored = started.but(restored=rollback.restored_state(reader, plan))
        try:
            self.check_rollout_event(event, context)
        except AirflowException as exc:
            failed = restored.but(healthy=False, verification=str(exc))
            context["ti"].xcom_push(key=RETURN_VALUE, value=failed.to_dict())
            raise AirflowException(
                f"rollback of {self.service_spec.service} was applied but the restored state is "
                f"NOT healthy: {exc}"
            ) from None
        differs = rollback.rollback_actions(reader, self.service_spec, plan)
        if differs:
            mismatch = "; ".join(a.what for a in differs)
            context["ti"].xcom_push(
                key=RETURN_VALUE,
                value=restored.but(healthy=False, verification=f"still differs: {mismatch}").to_dict(),
            )
            raise AirflowException(
                f"rollback of {self.service_spec.service} ended with {self.environment} NOT matching the "
                f"recorded plan; still to do: {mismatch}"
            )
        self.log.info(
            "Verified: %s matches the rollback plan recorded at %s (nothing left to restore).",
            self.environment,
            plan.recorded_at,
        )
        self.log.info(
            "rollback complete: %s in %s runs %s at revision %s (%s replicas); service selector %s",
            plan.deployment,
            self.environment,
            restored.restored.get("images"),
            restored.restored.get("revision"),
            restored.restored.get("replicas"),
            restored.restored.get("service_selector"),
        )
        return restored.but(healthy=True).to_dict()
