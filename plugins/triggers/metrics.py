"""MetricsTrigger: polls Prometheus from the triggerer every interval for the gate's duration and, at low
traffic, its extension (no worker held), judges each poll with the core's GateState, logs the verdict
table, and fires one event with the final verdict. Query building, parsing and judging are the core's; only the transport (aiohttp) is here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from airflow.sdk import BaseHook
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airlock.analysis.gate import GateState
from airlock.analysis.plan import GatePlan, PlannedQuery
from airlock.analysis.prometheus import PrometheusError, parse_query_response, query_params, query_url
from airlock.analysis.verdict import Verdict, format_verdict_table
from hooks.app_http import connection_base_url
from hooks.prometheus import QUERY_TIMEOUT_S
from triggers.lease_keeper import keeping_lease
from triggers.stale_event_guard import hold_until_settled


async def fetch(session: aiohttp.ClientSession, base_url: str, q: PlannedQuery) -> float | None:
    url = query_url(base_url)
    try:
        async with session.get(url, params=query_params(q.promql, q.at, QUERY_TIMEOUT_S)) as response:
            try:
                body: Any = await response.json(content_type=None)
            except ValueError:
                text = await response.text()
                raise PrometheusError(
                    f"GET {url}: HTTP {response.status}, not JSON: {text[:200]!r}"
                ) from None
            return parse_query_response(response.status, body, q.promql)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise PrometheusError(f"GET {url}: {type(exc).__name__}: {exc}") from exc


class MetricsTrigger(BaseTrigger):
    def __init__(
        self,
        plan: dict[str, Any],
        health_ok: bool | None = None,
        smoke_ok: bool | None = None,
        lease: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.lease = lease  # the run's deploy lock (LeaseRef dict), renewed while the gate observes
        self.plan = plan
        self.health_ok = health_ok
        self.smoke_ok = smoke_ok

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "triggers.metrics.MetricsTrigger",
            {"plan": self.plan, "health_ok": self.health_ok, "smoke_ok": self.smoke_ok, "lease": self.lease},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        started = time.monotonic()
        plan = GatePlan.from_dict(self.plan)
        conn = await BaseHook.aget_connection(plan.connection)
        base_url = connection_base_url(conn)
        if not base_url:
            raise ValueError(
                f"connection {plan.connection!r} has no host: set its host (Prometheus base URL)"
            )
        auth = aiohttp.BasicAuth(conn.login, conn.password or "") if conn.login else None
        state = plan.gate_state()
        timeout = aiohttp.ClientTimeout(total=QUERY_TIMEOUT_S + 5)
        async with (
            keeping_lease(self.lease, self.log),
            aiohttp.ClientSession(auth=auth, timeout=timeout) as session,
        ):
            while True:
                verdict = await self.poll(session, base_url, plan, state)
                self.log.info("%s", format_verdict_table(verdict))
                if verdict.final:
                    await hold_until_settled(started)
                    yield TriggerEvent({"verdict": verdict.to_dict()})
                    return
                await asyncio.sleep(next_poll_delay(plan, time.time()))

    async def poll(
        self, session: aiohttp.ClientSession, base_url: str, plan: GatePlan, state: GateState
    ) -> Verdict:
        now = time.time()
        planned = plan.queries_at(now)
        try:
            values = await asyncio.gather(*(fetch(session, base_url, q) for q in planned))
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
