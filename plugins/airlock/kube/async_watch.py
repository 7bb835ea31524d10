"""Waiting over the async transport: `follow_async` drives a WatchSession with `async_api.AsyncKube`.

The async twin of `wait.follow` for the triggers (RolloutTrigger, JobTrigger): the same session makes
every list/watch/resume/relist decision (watch.py); this module only sends what it asks for with
kubernetes_asyncio, sleeps when it asks for a pause, and reports stream breaks. Each trigger brings
its judge, a pure function from the core (`wait.judge_rollout`, the Job's `job_state`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

from airlock.kube.async_api import AsyncKube
from airlock.kube.reads import ListObjects
from airlock.kube.watch import Judge, Pause, WatchOutcome, WatchSession
from airlock.log import Log


async def follow_async(
    kube: AsyncKube,
    session: WatchSession,
    log: Log | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> WatchOutcome:
    """Drive `session` to its outcome with async requests (the protocol is in watch.py)."""
    log = log or logging.getLogger("airlock.kube.async_watch")
    while True:
        step = session.next_step(clock())
        if isinstance(step, WatchOutcome):
            return step
        if isinstance(step, Pause):
            await sleep(step.seconds)
        elif isinstance(step, ListObjects):
            # A failing list is not a stream break: the transport already retried it; it propagates.
            session.on_list(
                await kube.list(step.resource, step.namespace, field_selector=step.field_selector)
            )
        else:
            events = kube.watch(step)
            error: BaseException | None = None
            try:
                while True:
                    try:
                        event = await anext(events)
                    except StopAsyncIteration:
                        break
                    except (
                        Exception
                    ) as exc:  # a dropped stream (aiohttp payload/timeout errors) or an HTTP error
                        error = exc
                        break
                    if session.on_event(event, clock()):
                        break
            finally:
                await events.aclose()  # releases the connection when the session stopped reading early
            note = session.on_stream_end(clock(), error)
            if note:
                log.info("%s", note)


async def watch_object(
    kube: AsyncKube,
    resource: str,
    namespace: str,
    name: str,
    judge: Judge,
    timeout: float,
    log: Log | None = None,
) -> WatchOutcome:
    """Watch `resource/name` until `judge` says finished, it is missing or deleted, or `timeout` passes."""
    log = log or logging.getLogger("airlock.kube.async_watch")
    session = WatchSession(
        resource,
        namespace,
        name,
        judge,
        timeout,
        now=time.monotonic(),
        on_progress=lambda message: log.info("%s", message),
        rand=random.random,  # jittered reconnect pauses (watch.py)
    )
    return await follow_async(kube, session, log)
