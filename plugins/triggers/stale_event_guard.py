"""Work around an Airflow 3.3 scheduler race (apache/airflow#71580, #72716; fix PRs #71579/#72767 open).

When a task defers, its worker process exits and the executor reports SUCCESS for that try a few
seconds later. If the trigger fires so fast that the resumed attempt is already RUNNING when the
scheduler drains that stale event, the scheduler sees "executor says success, TI says running" and
marks the task FAILED. Holding every trigger event that resumes a task on a worker until the deferral is
at least this old gives the scheduler time to drain the stale event while the task is still DEFERRED
(where it is ignored). An event that ends the task from the triggerer (MetricsTrigger's TaskSuccessEvent
for a passing gate, RolloutTrigger's for a completed rollout with `end_with`) needs no hold: the task
instance goes DEFERRED -> SUCCESS, is never RUNNING again, and the scheduler ignores a late executor event
for a finished task instance. Nor does any event of a task started in the triggerer (GateStartTrigger):
no worker ran that try, so no executor event can arrive late.

Held today: a failing or holding metrics verdict of a gate that deferred from a worker, a failed or
timed-out rollout wait, blue-green's and promote's rollout waits (they resume on a worker), job waits, and
blue-green's keep-old-colour timer (LeaseKeepingTimer).
"""

from __future__ import annotations

import asyncio
import os
import time

# `dag.test()` runs triggers inline, with no scheduler and so no race: tests may set it to 0.
MIN_DEFERRAL_SECONDS = float(os.environ.get("AIRLOCK_TRIGGER_MIN_DEFERRAL_SECONDS", "12"))


async def hold_until_settled(started_at: float, minimum: float | None = None) -> None:
    minimum = MIN_DEFERRAL_SECONDS if minimum is None else minimum
    remaining = minimum - (time.monotonic() - started_at)
    if remaining > 0:
        await asyncio.sleep(remaining)
