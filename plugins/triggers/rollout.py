"""RolloutTrigger: waits in the triggerer for a Deployment to roll out, with kubectl's rules.

Everything Kubernetes is the core's, over the async transport (`AsyncKube` on the provider's
`AsyncKubernetesHook` client): the same watch session as the sync wait (one list + one watch with
fieldSelector metadata.name, resumed on disconnect, relisted on 410), each event judged by
`wait.judge_rollout`, the outcome worded by `wait.rollout_result`, and on failure or timeout the same
stuck-rollout read plan and diagnosis as the sync path (image pull, crash loop with restarts and last
log lines, unschedulable, readiness).

`extra` is echoed back in the event: the deferring operator's state for its resume method (dag.test()
replaces a deferral's kwargs with the event, the triggerer merges them; the echo works under both).

`end_with`: the task's return value when the rollout completes. Given, a completed rollout ends the task
here (TaskSuccessEvent with it as the XCom): the task does not take a worker slot again only to return
it, and needs no stale-event hold (it is never RUNNING again). A failed or timed-out rollout always
resumes the task on a worker, which fails it with the stuck reason - held by the stale-event guard.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TaskSuccessEvent, TriggerEvent

from airlock.kube.async_watch import watch_object
from airlock.kube.diagnose import find_stuck_reason_async
from airlock.kube.wait import judge_rollout, rollout_result
from triggers.lease_keeper import async_kube, keeping_lease
from triggers.stale_event_guard import hold_until_settled

if TYPE_CHECKING:
    from airlock.kube.async_api import AsyncKube


async def async_stuck_reason(kube: AsyncKube, namespace: str, name: str) -> dict[str, Any] | None:
    """The stuck reason for the event, or None when it cannot be read."""
    try:
        found = await find_stuck_reason_async(kube, namespace, name)
    except Exception as exc:  # the diagnosis must never hide the timeout itself
        kube.log.info("could not read why deployment %s is stuck: %s", name, exc)
        return None
    return found.as_dict() if found else None


class RolloutTrigger(BaseTrigger):
    def __init__(
        self,
        conn_id: str,
        namespace: str,
        deployment: str,
        timeout: float,
        extra: dict[str, Any] | None = None,
        lease: dict[str, Any] | None = None,
        end_with: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.extra = extra or {}
        self.end_with = end_with  # the task's return value on success (it then ends here), or None
        self.lease = lease  # the run's deploy lock (LeaseRef dict), renewed while waiting
        self.conn_id = conn_id
        self.namespace = namespace
        self.deployment = deployment
        self.timeout = timeout

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "triggers.rollout.RolloutTrigger",
            {
                "conn_id": self.conn_id,
                "namespace": self.namespace,
                "deployment": self.deployment,
                "timeout": self.timeout,
                "extra": self.extra,
                "lease": self.lease,
                "end_with": self.end_with,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        started = time.monotonic()
        async with keeping_lease(self.lease, self.log), async_kube(self.conn_id, self.log) as kube:
            outcome = await watch_object(
                kube,
                "deployments",
                self.namespace,
                self.deployment,
                judge_rollout,
                self.timeout,
                log=self.log,
            )
            result = rollout_result(outcome, self.deployment, self.timeout)
            event: dict[str, Any] = {
                "deployment": self.deployment,
                "namespace": self.namespace,
                "requests": result.requests,
                "message": result.message,
                "extra": self.extra,
                "status": "success" if result.done else ("timeout" if result.timed_out else "failed"),
            }
            if result.done and self.end_with is not None:
                self.log.info(
                    "%s (%s API requests while waiting); the task ends here, no worker needed",
                    result.message,
                    result.requests,
                )
                yield TaskSuccessEvent(xcoms={"return_value": self.end_with})
                return
            if not result.done:
                event["stuck_reason"] = await async_stuck_reason(kube, self.namespace, self.deployment)
            await hold_until_settled(started)
            yield TriggerEvent(event)
