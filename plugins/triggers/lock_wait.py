"""LockWaitTrigger: a planned run waits in the triggerer for another run's deploy lock, holding no worker.

Every `poll_seconds` (10 s) it reads the Lease `airlock-<service>` and the stop-the-line mark over the
core's async transport (`AsyncKube` on the provider's `AsyncKubernetesHook` client) and asks the core's
`decide_lock_wait` what to do: keep waiting, or fire - the lock is free or expired, the deadline has
passed, or the line was stopped (never waited out). The event only says what the trigger saw: the
resumed task takes the lock with the normal `lock.acquire`, which reads and decides again (another run
may have taken it in between; then it waits again if time is left).

A read that fails (after AsyncKube's own retries) is logged and tried again at the next poll; at the
deadline the trigger fires anyway and the task's own read decides. An event that would resume the task
within seconds of its deferral (the lock freed just as the run deferred) is held by the stale-event
guard (apache/airflow#71580): the task resumes on a worker.

`wait` (airlock.lock_wait.LockWait dict) is echoed in the event: dag.test() replaces a deferral's kwargs
with the event, so the resumed task reads its wait from there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airlock.durations import format_duration
from airlock.kube.lock import lease_name
from airlock.lock_wait import POLL_SECONDS, LeaseState, LockWait, LockWaitDecision, decide_lock_wait
from airlock.stop_line import mark_from, stop_mark_name
from triggers.lease_keeper import async_kube
from triggers.stale_event_guard import hold_until_settled

HEARTBEAT_SECONDS = 300.0  # while nothing changes, say so in the log this often


class LockWaitTrigger(BaseTrigger):
    def __init__(
        self,
        conn_id: str,
        namespace: str,
        service: str,
        holder: str,
        wait: dict[str, Any],
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.namespace = namespace
        self.service = service
        self.holder = holder  # this run's holder identity (it waits for the lock, it does not hold it)
        self.wait = wait
        self.poll_seconds = poll_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "triggers.lock_wait.LockWaitTrigger",
            {
                "conn_id": self.conn_id,
                "namespace": self.namespace,
                "service": self.service,
                "holder": self.holder,
                "wait": self.wait,
                "poll_seconds": self.poll_seconds,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        started = time.monotonic()
        wait = LockWait.from_dict(self.wait)
        name = lease_name(self.service)
        polls = 0
        last_said: tuple[str | None, float] = ("", 0.0)  # (holder, monotonic time) of the last log line
        async with async_kube(self.conn_id, self.log) as kube:
            while True:
                polls += 1
                now = datetime.now(UTC)
                try:
                    lease = await kube.get("leases", self.namespace, name)
                    mark = mark_from(
                        await kube.get("configmaps", self.namespace, stop_mark_name(self.service)),
                        self.service,
                        self.namespace,
                    )
                except Exception as exc:
                    # an unreadable API is not a verdict: poll again; at the deadline the task reads itself
                    if now >= wait.deadline_at:
                        reason = f"could not read the deploy lock at the deadline: {exc}"
                        decision = LockWaitDecision("give_up", reason, None, None, None)
                        break
                    self.log.warning(
                        "could not read deploy lock %s/%s: %s; trying again in %.0f s",
                        self.namespace,
                        name,
                        exc,
                        self.poll_seconds,
                    )
                    await asyncio.sleep(self.poll_seconds)
                    continue
                decision = decide_lock_wait(
                    LeaseState.from_lease(lease, now),
                    self.holder,
                    now,
                    wait,
                    stop=mark,
                    poll_seconds=self.poll_seconds,
                )
                if decision.action != "wait":
                    break
                if decision.holder != last_said[0] or time.monotonic() - last_said[1] >= HEARTBEAT_SECONDS:
                    self.log.info("deploy lock %s/%s: %s.", self.namespace, name, decision.reason)
                    last_said = (decision.holder, time.monotonic())
                look = datetime.fromisoformat(decision.look_again_at or now.isoformat())
                await asyncio.sleep(max((look - datetime.now(UTC)).total_seconds(), 0.0))
        waited = time.monotonic() - started
        self.log.info(
            "deploy lock %s/%s after %s and %d read(s): %s (%s); resuming the task, which takes the lock "
            "itself.",
            self.namespace,
            name,
            format_duration(round(waited)),
            polls,
            decision.action,
            decision.reason,
        )
        await hold_until_settled(started)
        yield TriggerEvent(
            {**decision.to_dict(), "polls": polls, "waited_seconds": round(waited, 3), "wait": self.wait}
        )
