"""JobTrigger: waits in the triggerer for a Job to complete or fail (the core's watch session over the
async transport, like RolloutTrigger; each event judged by the core's pure `job_state`)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airlock.kube.async_watch import watch_object
from airlock.kube.migration import job_state
from triggers.lease_keeper import async_kube, keeping_lease
from triggers.stale_event_guard import hold_until_settled


def judge_job(job: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    state, message = job_state(job)
    return state != "Running", {"state": state, "message": message}


class JobTrigger(BaseTrigger):
    def __init__(
        self, conn_id: str, namespace: str, job: str, timeout: float, lease: dict[str, Any] | None = None
    ) -> None:
        super().__init__()
        self.lease = lease  # the run's deploy lock (LeaseRef dict), renewed while waiting
        self.conn_id = conn_id
        self.namespace = namespace
        self.job = job
        self.timeout = timeout

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "triggers.job.JobTrigger",
            {
                "conn_id": self.conn_id,
                "namespace": self.namespace,
                "job": self.job,
                "timeout": self.timeout,
                "lease": self.lease,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        started = time.monotonic()
        async with keeping_lease(self.lease, self.log), async_kube(self.conn_id, self.log) as kube:
            outcome = await watch_object(
                kube,
                "jobs",
                self.namespace,
                self.job,
                judge_job,
                self.timeout,
                log=self.log,
            )
        last = outcome.last or {}
        # a missing or deleted Job has no "state": it did not complete, so it failed
        state = "Timeout" if outcome.timed_out else last.get("state", "Failed")
        await hold_until_settled(started)
        yield TriggerEvent(
            {
                "job": self.job,
                "state": state,
                "requests": outcome.requests,
                "message": last.get("message", "")
                if state != "Timeout"
                else f'job "{self.job}" did not finish within {self.timeout:g}s',
            }
        )
