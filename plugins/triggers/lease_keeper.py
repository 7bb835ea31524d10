"""Keep a waiting run's deploy lock alive while it waits in the triggerer.

The lease is short (airlock.kube.lock.LEASE_SECONDS); a run deferred for a rollout, a migration or a
canary analysis would lose it unless someone renews it. `keeping_lease(ref, log)` runs the core's
`keep_lease_async` (the same pure "renew if due" decision as the sync fence) every third of the TTL
beside the trigger's own wait, over its own AsyncKubernetesHook connection. A lease found lost is
logged as an error and no longer renewed; the next production write of the run is then fenced.
A renewal that fails (API down) is logged and retried at the next tick: the wait itself goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airlock.kube.lock import LeaseRef, keep_lease_async
from triggers.stale_event_guard import hold_until_settled

if TYPE_CHECKING:
    from airlock.kube.async_api import AsyncKube


async def renew_loop(ref: LeaseRef, log: Any, kube: AsyncKube | None = None) -> None:
    """Renew when due, every ttl/3 seconds, until cancelled or the lease is lost."""
    period = max(1.0, ref.ttl_seconds / 3)
    async with contextlib.AsyncExitStack() as stack:
        if kube is None:
            kube = await stack.enter_async_context(async_kube(ref.conn_id, log))
        while True:
            try:
                decision = await keep_lease_async(kube, ref)
            except Exception as exc:  # the renewal must never end the wait; the fence decides later
                log.warning(
                    "could not renew deploy lock %s/%s: %s; trying again in %.0f s",
                    ref.namespace,
                    ref.name,
                    exc,
                    period,
                )
            else:
                if decision.action == "lost":
                    log.error(
                        "deploy lock %s/%s lost while waiting: %s. The next production write of this run "
                        "will be refused.",
                        ref.namespace,
                        ref.name,
                        decision.reason,
                    )
                    return
                if decision.action == "renew":
                    log.info(
                        "deploy lock %s/%s renewed for %s s while waiting (%s)",
                        ref.namespace,
                        ref.name,
                        ref.ttl_seconds,
                        decision.reason,
                    )
            await asyncio.sleep(period)


@contextlib.asynccontextmanager
async def async_kube(conn_id: str, log: Any) -> AsyncGenerator[AsyncKube, None]:
    """The core's async Kubernetes transport over the provider's AsyncKubernetesHook connection.

    Imported here, not at module level: operator modules import the triggers they defer to, and the
    kubernetes clients cost a task start ~1.5 s of imports (every task, since the DAG file imports every
    operator) when only the triggerer needs them."""
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import AsyncKubernetesHook

    from airlock.kube.async_api import AsyncKube

    async with AsyncKubernetesHook(conn_id=conn_id).get_conn() as api_client:
        yield AsyncKube(api_client, log=log)


@contextlib.asynccontextmanager
async def keeping_lease(lease: dict[str, Any] | None, log: Any) -> AsyncGenerator[None, None]:
    """Renew `lease` (a LeaseRef dict; None: nothing to keep) for as long as the block runs."""
    if not lease:
        yield
        return
    task = asyncio.create_task(renew_loop(LeaseRef.from_dict(lease), log))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


class LeaseKeepingTimer(BaseTrigger):
    """Fires after `seconds` (like TimeDeltaTrigger), renewing the run's deploy lock meanwhile: for a
    deliberate wait inside a locked run (blue-green keeps the old colour for `keep_old_for`)."""

    def __init__(self, seconds: float, lease: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.seconds = seconds
        self.lease = lease

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("triggers.lease_keeper.LeaseKeepingTimer", {"seconds": self.seconds, "lease": self.lease})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        started = time.monotonic()
        async with keeping_lease(self.lease, self.log):
            await asyncio.sleep(self.seconds)
            await hold_until_settled(started)
        yield TriggerEvent({"status": "done", "waited_seconds": time.monotonic() - started})
