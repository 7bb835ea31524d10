"""Waiting over the sync transport: `follow` drives a WatchSession with `api.Kube`; `wait_for_rollout`.

The list/watch/resume/relist decisions are the session's (watch.py), shared with the triggers'
async driver (async_watch.py); this module only sends what the session asks for, sleeps when it asks
for a pause, and reports stream breaks. `wait_for_rollout` is `kubectl rollout status`: each event
judged by the pure `rollout_status`, and `rollout_result` turns the outcome into the sentence both
the operators and RolloutTrigger report.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from airlock.kube.api import Kube
from airlock.kube.reads import ListObjects
from airlock.kube.status import rollout_status
from airlock.kube.watch import Pause, WatchOutcome, WatchSession
from airlock.log import Log

Obj = dict[str, Any]


@dataclass
class WaitResult:
    done: bool
    failed: bool
    timed_out: bool
    message: str
    requests: int = 0  # API requests this wait made (list + watch + resumes)
    stuck_reason: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def judge_rollout(deployment: Obj) -> tuple[bool, Obj]:
    """The WatchSession judge for a Deployment: finished when rolled out or failed."""
    status = rollout_status(deployment)
    return status.done or status.failed, status.as_dict()


def rollout_result(outcome: WatchOutcome, name: str, timeout: float) -> WaitResult:
    """What a rollout wait ended with, in kubectl's words (also RolloutTrigger's event)."""
    last = outcome.last or {}
    message = str(last.get("message") or "no status observed")
    if outcome.timed_out:
        return WaitResult(
            False,
            True,
            True,
            f'timed out after {timeout:g}s waiting for deployment "{name}": {message}',
            outcome.requests,
        )
    done = bool(last.get("done"))
    return WaitResult(done, not done, False, message, outcome.requests)


def follow(
    kube: Kube,
    session: WatchSession,
    log: Log | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WatchOutcome:
    """Drive `session` to its outcome with sync requests (the protocol is in watch.py)."""
    log = log or logging.getLogger("airlock.kube.wait")
    while True:
        step = session.next_step(clock())
        if isinstance(step, WatchOutcome):
            return step
        if isinstance(step, Pause):
            sleep(step.seconds)
        elif isinstance(step, ListObjects):
            # A failing list is not a stream break: the transport already retried it; it propagates.
            session.on_list(kube.list(step.resource, step.namespace, field_selector=step.field_selector))
        else:
            events = kube.watch(
                step.resource,
                step.namespace,
                resource_version=step.resource_version,
                field_selector=step.field_selector,
                timeout_seconds=step.timeout_seconds,
            )
            error: BaseException | None = None
            try:
                while True:
                    try:
                        event = next(events)
                    except StopIteration:
                        break
                    except Exception as exc:  # a dropped stream (urllib3/socket/JSON errors) or an HTTP error
                        error = exc
                        break
                    if session.on_event(event, clock()):
                        break
            finally:
                events.close()  # releases the connection when the session stopped reading early
            note = session.on_stream_end(clock(), error)
            if note:
                log.info("%s", note)


def wait_for_rollout(
    kube: Kube, namespace: str, name: str, timeout: float, log: Log | None = None
) -> WaitResult:
    """Block until Deployment `name` is rolled out, failed, or `timeout` seconds pass."""
    log = log or logging.getLogger("airlock.kube.wait")
    session = WatchSession(
        "deployments",
        namespace,
        name,
        judge_rollout,
        timeout,
        now=time.monotonic(),
        on_progress=lambda message: log.info("%s", message),
        rand=random.random,  # jittered reconnect pauses (watch.py)
    )
    return rollout_result(follow(kube, session, log), name, timeout)
