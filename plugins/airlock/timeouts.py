"""How long each task of a run may take (its Airflow `execution_timeout`), derived from the spec.

One pure function, `task_timeouts(spec)`, decides every task's limit from the durations the spec
already states (rollout timeout, step durations, metric extension, soak, validation window, migration
timeout, max wait for a window, blue-green keep time) plus a fixed margin for API calls and
retries. A task that hangs (a Kubernetes call that never answers, a triggerer that never fires) then
fails instead of holding the deployment forever; the rollback is limited by its own deadline
(`rollback_deadline`), after which the line is stopped (stop_line.py). A planned run's `acquire_lock`
may wait for another run's lock up to the end of the window it got (airlock.lock_wait): its limit
covers the longest such wait.

Deferral: Airflow 3.3 applies execution_timeout to each stretch a task runs on a worker (its start and
each resume); the deferred wait itself is bounded by the timeout each operator passes to `defer()`.
The limits below still cover a task's whole wait, so they stay right if Airflow counts deferral too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from airlock.kube.retry import RetryPolicy
from airlock.lock_wait import DEFERRAL_GRACE as LOCK_WAIT_GRACE
from airlock.lock_wait import longest_wait
from airlock.spec import ServiceSpec

# Room for the API calls, their retries (retry.py: up to 90 s per call) and a worker starting the task.
MARGIN = timedelta(minutes=5)
# Tasks that only read, decide or post a message (validate, lock, notify, record, outcome).
QUICK = timedelta(minutes=10)
# Pre-flight: CI, registry, cluster, incidents and backup checks, each with its own HTTP timeouts.
PREFLIGHT = timedelta(minutes=15)
# How late past its opening a window gate may still resume (a triggerer outage), as the gate's grace.
WINDOW_GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class TaskTimeouts:
    """execution_timeout per kind of task (see task_timeouts)."""

    quick: timedelta
    preflight: timedelta
    window: timedelta
    lock: timedelta  # acquire_lock: a planned run may wait for another run's lock (airlock.lock_wait)
    rollout: timedelta  # a write plus one rollout wait: staging/rolling update, canary step, promote, switch
    soak: timedelta
    analysis: timedelta  # one canary step's metrics gate
    post_switch: timedelta  # blue-green's gate after the switch (a rollout-sized task in the graph)
    validation: timedelta  # health, smoke, validation metrics window, log scan: each
    migration: timedelta
    retire_old_colour: timedelta
    rollback: timedelta  # the rollback task: its deadline plus the margin

    def to_dict(self) -> dict[str, Any]:
        return {k: v.total_seconds() for k, v in asdict(self).items()}


def gate_time(observe: timedelta, spec: ServiceSpec) -> timedelta:
    """A metrics gate observing for `observe`: plus its low-traffic extension and failed-poll retries."""
    metrics = spec.metrics
    extension = metrics.max_extension if metrics.max_extension is not None else observe
    retries = metrics.interval * (metrics.max_consecutive_errors + 2)
    return observe + extension + retries + MARGIN


def rollback_deadline(spec: ServiceSpec) -> timedelta:
    """How long a rollback keeps trying (transient Kubernetes errors retried until then): the writes
    plus the restored Deployment's rollout, twice the rollout timeout (a deferred wait, and the sync
    first look before it), plus the margin. Past it the line is stopped."""
    return spec.strategy.rollout_timeout * 2 + MARGIN


def task_timeouts(spec: ServiceSpec) -> TaskTimeouts:
    rollout = spec.strategy.rollout_timeout + MARGIN
    health = spec.health.retry_delay * (spec.health.retries + 1)
    validation = max(gate_time(spec.metrics.validation_window, spec), health + MARGIN, QUICK)
    migration = (spec.migration.timeout if spec.migration is not None else timedelta(0)) + MARGIN
    return TaskTimeouts(
        quick=QUICK,
        preflight=PREFLIGHT,
        window=spec.windows.max_wait + WINDOW_GRACE,
        # the longest wait for the lock, its trigger's deferral grace, and the acquire itself
        lock=longest_wait(spec.windows) + LOCK_WAIT_GRACE + QUICK,
        rollout=rollout,
        soak=gate_time(spec.staging.soak, spec),
        analysis=gate_time(spec.strategy.canary.step_duration, spec),
        post_switch=gate_time(spec.strategy.blue_green.post_switch_duration, spec) + rollout,
        validation=validation,
        migration=migration,
        retire_old_colour=spec.strategy.blue_green.keep_old_for + rollout,
        rollback=rollback_deadline(spec) + MARGIN,
    )


def rollback_retry(spec: ServiceSpec, elapsed: timedelta = timedelta(0)) -> RetryPolicy:
    """The rollback's retry policy: transient Kubernetes errors are retried (backoff up to 15 s) for as
    long as the rollback's deadline leaves, `elapsed` into it; no attempt limit of its own."""
    left = max((rollback_deadline(spec) - elapsed).total_seconds(), 1.0)
    return RetryPolicy(attempts=1_000_000, base=0.5, cap=15.0, deadline=left)
