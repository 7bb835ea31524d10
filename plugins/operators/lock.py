"""DeployLockOperator: acquire / release the per-service deploy lock (a fenced Lease in production)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NoReturn

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowFailException

from airlock import lock_wait, stop_line
from airlock.durations import format_duration
from airlock.kube import lock
from airlock.kube.api import Kube
from operators import window_gate
from operators._kube import KubeOperator
from operators.lease import run_holder
from operators.xcom_keys import FAILURE_REASON_KEY, RETRY_KEY
from triggers.lock_wait import LockWaitTrigger

RECORD_TASK_ID = "record"  # its return value is the deployment record (the last one, on a retry)
WINDOW_TASK_ID = "preflight.window"  # its return value is the window gate's decision (when it said go)


class DeployLockOperator(KubeOperator):
    """action="acquire": take Lease `airlock-<service>` for this run (refused at once, naming the failed
    run, while the service's line is stopped); action="release": give it back if we hold it (kept when
    this run stopped the line).

    Another live run holding the lock: a run with window=now fails at once, naming the holder and its
    expiry (a person is watching; two installations colliding are told at once). A planned run
    (window=next_window, release trains too) waited for its window holding no lock, so a hotfix may
    hold it when the window opens: it waits for the lock in the triggerer (LockWaitTrigger, no worker
    slot), at most until the window it got closes (airlock.lock_wait.wait_bound), then takes it with
    the normal acquire - or gives up at that deadline, naming the holder, how long it waited and the
    deadline.

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
        self,
        *,
        action: str,
        holder: str | None = None,
        ttl_seconds: int | None = None,
        window_task_id: str = WINDOW_TASK_ID,
        poll_seconds: float = lock_wait.POLL_SECONDS,
        **kwargs: Any,
    ) -> None:
        if action not in ("acquire", "release"):
            raise ValueError(f"action must be 'acquire' or 'release', got {action!r}")
        if not 0 < poll_seconds <= 300:
            raise ValueError(f"poll_seconds={poll_seconds!r} is not allowed: use more than 0 and at most 300")
        super().__init__(**kwargs)
        self.action = action
        self.holder = holder
        self.ttl_seconds = ttl_seconds
        self.window_task_id = window_task_id  # the window gate whose opening bounds a planned run's wait
        self.poll_seconds = poll_seconds

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
                # pushed now, not once the lock is taken: a wait for the lock defers, and the task then
                # resumes in another method with nothing of this one but XCom
                context["ti"].xcom_push(key=RETRY_KEY, value=note.to_dict())
            self.log.info(
                "Taking deploy lock %s/%s for %s (lease %s s, renewed while the run lives).",
                self.namespace,
                lock.lease_name(spec.service),
                holder,
                ttl,
            )
            result = self.take_or_wait(context, kube, holder, ttl, None)
        except (lock.LockHeld, lock.LineStopped, UnsafeRetry) as exc:
            self.fail(context, exc)
        return self.taken(result)

    def execute_complete(self, context: Context, event: Any = None, **kwargs: Any) -> dict[str, Any]:
        """Resumed after LockWaitTrigger fired: take the lock now (reading the Lease again), or wait again."""
        found = event if isinstance(event, dict) else {}
        wait = lock_wait.LockWait.from_dict(found.get("wait") or kwargs["wait"])
        self.log.info(
            "Resumed after waiting %s for the deploy lock (%s Lease read(s)); the trigger found: %s (%s). "
            "Reading the Lease again and taking the lock (another run may have taken it since).",
            format_duration(round(float(found.get("waited_seconds") or 0.0))),
            found.get("polls", "?"),
            found.get("action", "?"),
            found.get("reason", "no event"),
        )
        kube = self.kube()
        holder = str(self.holder or run_holder(self.run_request.run_id))
        ttl = self.ttl_seconds or lock.lease_seconds()
        try:
            result = self.take_or_wait(context, kube, holder, ttl, wait)
        except (lock.LockHeld, lock.LineStopped) as exc:
            self.fail(context, exc)
        return self.taken(result)

    def fail(self, context: Context, exc: Exception) -> NoReturn:
        # the failed outcome names the holder, or the stopped line
        context["ti"].xcom_push(key=FAILURE_REASON_KEY, value=str(exc))
        self.log.error("%s", exc)
        raise AirflowFailException(str(exc)) from None

    def taken(self, result: lock.LockState) -> dict[str, Any]:
        self.log.info("deploy lock %s held by %s until %s", result.lease, result.holder, result.expires)
        return result.to_dict()

    # -- waiting for a lock another run holds (airlock.lock_wait) ---------------------------------------
    def take_or_wait(
        self, context: Context, kube: Kube, holder: str, ttl: int, wait: lock_wait.LockWait | None
    ) -> lock.LockState:
        """lock.acquire; when another run holds the lock, wait for it (defer) if this run may, else raise.

        `wait`: the wait already begun (on resume), None on the first try (then decided here)."""
        service, name = self.service_spec.service, lock.lease_name(self.service_spec.service)
        for _ in range(3):  # the lock freed between acquire's read and ours: acquire again
            try:
                return lock.acquire(kube, self.namespace, service, holder, ttl)
            except lock.LockHeld:
                if wait is None:
                    wait = self.wait_plan(context)
                if wait is None:
                    raise
            now = window_gate.real_utcnow()
            decision = lock_wait.decide_lock_wait(
                lock_wait.LeaseState.from_lease(kube.get("leases", self.namespace, name), now),
                holder,
                now,
                wait,
                stop=stop_line.read_mark(kube, service, self.namespace),
                poll_seconds=self.poll_seconds,
            )
            if decision.action == "refuse":
                raise lock.LineStopped(decision.reason)
            if decision.action == "give_up":
                raise lock.LockHeld(f"deploy lock {self.namespace}/{name} is {decision.reason}.")
            if decision.action == "wait":
                self.defer_wait(holder, wait, decision, now)
            self.log.info("deploy lock %s/%s: %s; taking it.", self.namespace, name, decision.reason)
        raise lock.LockHeld(
            f"deploy lock {self.namespace}/{name}: it changed hands under this run three times in a row; retry"
        )

    def wait_plan(self, context: Context) -> lock_wait.LockWait | None:
        """How long this run may wait for the lock (None: it does not wait - window=now)."""
        if not self.has_request or self.run_request.window != "next_window":
            self.log.info(
                "This run does not wait for the lock: it was triggered with window=now (a person is "
                "watching, and a collision is said at once)."
            )
            return None
        spec = self.service_spec
        gate = context["ti"].xcom_pull(task_ids=self.window_task_id)
        # The gate decided on its own clock (tests shift it); the Lease's expiry is on the real one. The
        # bound is worked out on the gate's clock and applied as a duration from the real now, as the
        # gate does for its own wait.
        calendar_now, real_now = window_gate.clock(), window_gate.real_utcnow()
        if isinstance(gate, dict) and gate.get("now"):
            opened = datetime.fromisoformat(str(gate["now"]))
            waited = timedelta(seconds=float(gate.get("waited_seconds") or 0.0))
        else:
            self.log.warning(
                "No window decision from task %s: the wait for the lock is bounded from now.",
                self.window_task_id,
            )
            opened, waited = calendar_now, timedelta(0)
        bound = lock_wait.wait_bound(spec.windows, opened, waited)
        deadline = real_now + (bound.until - calendar_now)
        return lock_wait.LockWait(deadline=deadline.isoformat(), since=real_now.isoformat(), why=bound.why)

    def defer_wait(
        self, holder: str, wait: lock_wait.LockWait, decision: lock_wait.LockWaitDecision, now: datetime
    ) -> None:
        left = max(wait.deadline_at - now, timedelta(0))
        self.log.info(
            "Deploy lock %s/%s is %s. This planned run waits for it in the triggerer (no worker slot held), "
            "reading the Lease every %g s; it takes the lock as soon as it is free, at most %s from now "
            "(until %s), and then plans against the production it finds.",
            self.namespace,
            lock.lease_name(self.service_spec.service),
            decision.reason,
            self.poll_seconds,
            format_duration(round(left.total_seconds())),
            wait.deadline,
        )
        self.defer(
            trigger=LockWaitTrigger(
                conn_id=self.service_spec.connection_for("production"),
                namespace=self.namespace,
                service=self.service_spec.service,
                holder=holder,
                wait=wait.to_dict(),
                poll_seconds=self.poll_seconds,
            ),
            method_name="execute_complete",
            kwargs={"wait": wait.to_dict()},
            timeout=left + lock_wait.DEFERRAL_GRACE,
        )

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
