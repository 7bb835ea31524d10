"""MetricsTrigger: polls Prometheus from the triggerer every interval for the gate's duration and, at low
traffic, its extension (no worker held), judges each poll with the core's GateState, logs the verdict
table, and fires one event with the final verdict. Query building, parsing and judging are the core's; the
transport is the http provider's HttpAsyncHook (hooks.prometheus).

With `end_on_pass` a passing verdict ends the task from here (TaskSuccessEvent: the verdict and `links`
become the task's XComs, as the worker would have pushed them), so the task does not take a worker slot
again only to return it. A failing verdict always resumes the task on a worker (MetricsSensor.finish fails
it with the evidence). Only that resume can meet the scheduler's stale-event race (stale_event_guard.py),
so only it is held: a task ended here is never RUNNING again, and the scheduler ignores the deferring try's
late executor event for a finished task instance.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.providers.http.hooks.http import AsyncHttpSession
from airflow.triggers.base import BaseTrigger, TaskSuccessEvent, TriggerEvent

from airlock.analysis.gate import GateState
from airlock.analysis.plan import GatePlan
from airlock.analysis.prometheus import PrometheusError
from airlock.analysis.verdict import Verdict, format_verdict_table
from hooks.prometheus import prometheus_async_hook, query_async, require_host
from triggers.lease_keeper import keeping_lease
from triggers.stale_event_guard import hold_until_settled


class MetricsTrigger(BaseTrigger):
    def __init__(
        self,
        plan: dict[str, Any],
        health_ok: bool | None = None,
        smoke_ok: bool | None = None,
        lease: dict[str, Any] | None = None,
        end_on_pass: bool = False,
        links: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.lease = lease  # the run's deploy lock (LeaseRef dict), renewed while the gate observes
        self.end_on_pass = end_on_pass
        self.links = links or {}  # extra-link XComs (key -> URL) of a task ended here
        self.plan = plan
        self.health_ok = health_ok
        self.smoke_ok = smoke_ok

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "triggers.metrics.MetricsTrigger",
            {
                "plan": self.plan,
                "health_ok": self.health_ok,
                "smoke_ok": self.smoke_ok,
                "lease": self.lease,
                "end_on_pass": self.end_on_pass,
                "links": self.links,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        started = time.monotonic()
        plan = GatePlan.from_dict(self.plan)
        state = plan.gate_state()
        # HttpAsyncHook resolves the connection once per session; each query has its own timeout
        async with (
            keeping_lease(self.lease, self.log),
            prometheus_async_hook(plan.connection).session() as http,
        ):
            require_host(plan.connection, http.base_url)
            while True:
                verdict = await self.poll(http, plan, state)
                self.log.info("%s", format_verdict_table(verdict))
                if verdict.final:
                    yield await self.final_event(verdict, plan, started)
                    return
                await asyncio.sleep(next_poll_delay(plan, time.time()))

    async def final_event(self, verdict: Verdict, plan: GatePlan, started: float) -> TriggerEvent:
        if self.end_on_pass and verdict.passed:  # a hold resumes on a worker too: it asks a person
            from sensors.gate_inputs import pass_message

            # the verdict table was just logged; this is the sentence a worker would have logged
            self.log.info(
                "%s; the task ends here, no worker needed", pass_message(verdict, plan.service, plan.version)
            )
            return TaskSuccessEvent(xcoms={"return_value": verdict.to_dict(), **self.links})
        await hold_until_settled(started)
        return TriggerEvent({"verdict": verdict.to_dict()})

    async def poll(self, http: AsyncHttpSession, plan: GatePlan, state: GateState) -> Verdict:
        now = time.time()
        planned = plan.queries_at(now)
        try:
            values = await asyncio.gather(*(query_async(http, q) for q in planned))
        except PrometheusError as exc:
            return state.observe_error(str(exc), now - plan.started_at)
        samples = plan.samples(
            {(q.track, q.metric): v for q, v in zip(planned, values, strict=True)},
            self.health_ok,
            self.smoke_ok,
        )
        return state.observe(samples, now - plan.started_at)


def next_poll_delay(plan: GatePlan, now: float) -> float:
    """Until the next interval tick, but never past the end of the observation nor of its extension (a
    poll is due at each: the first decides whether to extend, the last concludes)."""
    elapsed = now - plan.started_at
    next_tick = (int(elapsed // plan.interval_s) + 1) * plan.interval_s
    for end in (plan.duration_s, plan.duration_s + plan.max_extension_s):
        if elapsed < end:
            next_tick = min(next_tick, end)
            break
    return max(next_tick - elapsed, 0.05)
