"""DeployLockOperator: acquire / release the per-service deploy lock (a fenced Lease in production)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowFailException

from airlock import stop_line
from airlock.kube import lock
from operators._kube import KubeOperator
from operators.lease import run_holder
from operators.xcom_keys import FAILURE_REASON_KEY, RETRY_KEY

RECORD_TASK_ID = "record"  # its return value is the deployment record (the last one, on a retry)


class DeployLockOperator(KubeOperator):
    """action="acquire": take Lease `airlock-<service>` for this run (fails at once, naming the holder
    and expiry, if another live run holds it, and naming the failed run while the service's line is
    stopped); action="release": give it back if we hold it (kept when this run stopped the line).

    The holder is `<installation id>/<run id>` (operators.lease) unless `holder` is given. The lease
    lasts `ttl_seconds` (default AIRLOCK_LOCK_LEASE_SECONDS or 5 minutes) and is renewed by the run's
    production writes (the fence) and by its triggers while it waits; a crashed run's lock expires.
    Use release as a teardown task so the lock is released whatever happened.

    A retry (a person cleared a task of a finished run: Airflow clears the lock's acquire with it, so
    acquire runs first, as try 2, 3, ...) is checked before the lock is taken: a stopped line refuses
    it; a retry that would resume inside an environment its rollback put back refuses, naming the task
    to clear instead (airlock.run_retry). An accepted retry is described in XCom `retry` for the record.
    """

    template_fields = ("holder",)
    request_optional = True  # the release is a teardown: it runs even when validate failed

    def __init__(
        self, *, action: str, holder: str | None = None, ttl_seconds: int | None = None, **kwargs: Any
    ) -> None:
        if action not in ("acquire", "release"):
            raise ValueError(f"action must be 'acquire' or 'release', got {action!r}")
        super().__init__(**kwargs)
        self.action = action
        self.holder = holder
        self.ttl_seconds = ttl_seconds

    def execute(self, context: Context) -> dict[str, Any]:
        spec = self.service_spec
        kube = self.kube()
        run_id = self.run_request.run_id if self.has_request else str(context["run_id"])
        holder = str(self.holder or run_holder(run_id))  # the same identity the run's fence checks
        ttl = self.ttl_seconds or lock.lease_seconds()
        if self.action == "release":
            return lock.release(kube, self.namespace, spec.service, holder).to_dict()
        attempt = int(getattr(context["ti"], "try_number", 1) or 1)
        try:
            note = None
            if attempt > 1:
                # a stopped line is said first: it is the reason a human must act before any retry
                stop_line.refuse_if_stopped(kube, spec.service, self.namespace)
                note = self.check_retry(context, attempt)
            self.log.info(
                "Taking deploy lock %s/%s for %s (lease %s s, renewed while the run lives).",
                self.namespace,
                lock.lease_name(spec.service),
                holder,
                ttl,
            )
            result = lock.acquire(kube, self.namespace, spec.service, holder, ttl)
        except (lock.LockHeld, lock.LineStopped, UnsafeRetry) as exc:
            context["ti"].xcom_push(
                key=FAILURE_REASON_KEY, value=str(exc)
            )  # the record and Slack name the holder
            self.log.error("%s", exc)
            raise AirflowFailException(str(exc)) from None
        self.log.info("deploy lock %s held by %s until %s", result.lease, result.holder, result.expires)
        if note is not None:
            context["ti"].xcom_push(key=RETRY_KEY, value=note.to_dict())
        return result.to_dict()

    def check_retry(self, context: Context, attempt: int) -> Any:
        """Log what this retry re-runs and on what it acts; raise UnsafeRetry when it must not run.
        Returns the RetryNote (airlock.run_retry)."""
        from airlock import run_retry  # lazy: only a retry needs it (the DAG file imports this module)

        ti = context["ti"]
        states: dict[str, Any] = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
        dag = self.get_dag()  # the task's DAG as parsed for this run: its task ids in workflow order
        order = list(dag.task_ids) if dag is not None else []
        rerun = run_retry.to_rerun(states, order)
        previous = ti.xcom_pull(task_ids=RECORD_TASK_ID)
        note = run_retry.retry_note(attempt, rerun, previous if isinstance(previous, dict) else None)
        kept = sorted(
            t
            for t, s in states.items()
            if t not in rerun and t not in run_retry.BOOKKEEPING and s is not None
        )
        self.log.info(
            "RETRY of run %s: attempt %d. Re-running %d deployment task(s), from %s: %s. Kept from earlier "
            "attempts (not re-run): %d task(s).",
            ti.run_id,
            attempt,
            len(rerun),
            note.rerun_from or "-",
            ", ".join(rerun) or "-",
            len(kept),
        )
        if note.previous_outcome:
            self.log.info(
                "The last deployment record of this run (attempt %s) says: %s (%s).",
                note.previous_attempt,
                note.previous_outcome,
                note.previous_reason or "no reason recorded",
            )
        if self.is_dry_run:
            self.log.info("Dry run: nothing was written in earlier attempts, so any task may be re-run.")
            return note
        environments = [self.environment_now(ti, env, states) for env in ("staging", "production")]
        refusal = run_retry.refusal([e for e in environments if e is not None], states, rerun)
        if refusal:
            raise UnsafeRetry(refusal)
        self.log.info("This retry acts on a consistent state: going on (%s).", note.describe())
        return note

    def environment_now(self, ti: Any, environment: str, states: dict[str, Any]) -> Any:
        """Whether `environment` is exactly as this run's rollback plan recorded it (None: no plan was
        recorded there, so the run never changed it)."""
        from airlock import run_retry
        from airlock.kube import rollback
        from airlock.kube.api import Kube
        from airlock.kube.plan import RollbackPlan
        from airlock.record import previous_version
        from operators._kube import api_client

        task_id = run_retry.plan_task(environment)
        if task_id not in states:
            return None
        data = ti.xcom_pull(task_ids=task_id)
        if not isinstance(data, dict):
            self.log.info(
                "%s: no rollback plan was recorded by this run, so it never changed it.", environment
            )
            return None
        plan = RollbackPlan.from_dict(data)
        reader = Kube(api_client(self.service_spec, environment), log=self.log)
        differs = rollback.rollback_actions(reader, self.service_spec, plan)
        version = previous_version(data, self.service_spec.container)
        if differs:
            self.log.info(
                "%s carries this run's changes (it differs from the rollback plan recorded at %s: %s).",
                environment,
                plan.recorded_at,
                "; ".join(a.what for a in differs),
            )
        else:
            self.log.info(
                "%s is exactly as this run's rollback plan recorded it at %s (%s): nothing this run wrote "
                "there is live (a rollback restored it, or the run never changed it).",
                environment,
                plan.recorded_at,
                version or "the recorded state",
            )
        return run_retry.EnvironmentNow(environment, restored=not differs, previous_version=version)


class UnsafeRetry(RuntimeError):
    """A retry that would resume on a state its earlier tasks no longer describe (airlock.run_retry)."""
