"""JobTrigger: waits in the triggerer for a Job to complete or fail (watch-based, like RolloutTrigger)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.providers.cncf.kubernetes.hooks.kubernetes import AsyncKubernetesHook
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airlock.kube.async_watch import watch_object
from airlock.kube.migration import job_state
from triggers.stale_event_guard import hold_until_settled


def judge_job(job: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    state, message = job_state(job)
    return state != "Running", {"state": state, "message": message}


class JobTrigger(BaseTrigger):
    def __init__(self, conn_id: str, namespace: str, job: str, timeout: float) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.namespace = namespace
        self.job = job
        self.timeout = timeout

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("triggers.job.JobTrigger",
                {"conn_id": self.conn_id, "namespace": self.namespace, "job": self.job, "timeout": self.timeout})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        started = time.monotonic()
        hook = AsyncKubernetesHook(conn_id=self.conn_id)
        async with hook.get_conn() as api_client:
            result = await watch_object(api_client, "jobs", self.namespace, self.job, judge_job, self.timeout,
                                        log=self.log)
        last = result["last"] or {}
        state = "Timeout" if result["timed_out"] else last.get("state", "Failed")
        await hold_until_settled(started)
        yield TriggerEvent({"job": self.job, "state": state, "requests": result["requests"],
                            "message": last.get("message", "") if state != "Timeout" else
                            f'job "{self.job}" did not finish within {self.timeout:g}s'})
