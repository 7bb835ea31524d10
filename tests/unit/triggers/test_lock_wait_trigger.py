"""LockWaitTrigger without a cluster: it survives serialization (the triggerer rebuilds it from the
classpath), keeps polling through an unreadable API before its deadline and fires at the deadline
anyway (the resumed task then reads for itself), and follows a hand-over from one holder to another."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import triggers.lock_wait as module
from airlock.kube.api import KubeError
from airlock.kube.lock import new_lease
from airlock.lock_wait import LockWait
from triggers.lock_wait import LockWaitTrigger

ME = "inst-a/scheduled__planned"


def wait(seconds: float) -> dict[str, Any]:
    now = datetime.now(UTC)
    return LockWait((now + timedelta(seconds=seconds)).isoformat(), now.isoformat(), "test bound").to_dict()


class FakeKube:
    """Answers the Lease reads from a script: a lease dict, None (no Lease) or an exception to raise."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.reads = 0

    async def get(self, resource: str, namespace: str | None, name: str) -> Any:
        if resource == "configmaps":
            return None  # no stop mark
        self.reads += 1
        answer = self.answers[min(self.reads, len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


def use(monkeypatch: pytest.MonkeyPatch, kube: FakeKube) -> None:
    @contextlib.asynccontextmanager
    async def fake_async_kube(conn_id: str, log: Any) -> AsyncGenerator[FakeKube, None]:
        yield kube

    monkeypatch.setattr(module, "async_kube", fake_async_kube)


def first_event(trigger: LockWaitTrigger) -> dict[str, Any]:
    async def first() -> Any:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("no event")

    return asyncio.run(asyncio.wait_for(first(), timeout=30))


def test_it_is_rebuilt_from_its_serialized_form():
    trigger = LockWaitTrigger("k8s_prod", "production", "web", ME, wait(60), poll_seconds=2.5)
    classpath, kwargs = trigger.serialize()
    module_name, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module_name), name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs["wait"]["why"] == "test bound" and kwargs["poll_seconds"] == 2.5


def test_an_unreadable_api_is_polled_again_then_the_free_lock_fires(monkeypatch):
    kube = FakeKube(
        [
            KubeError(503, "ServiceUnavailable", "the API is down"),
            KubeError(503, "ServiceUnavailable", "the API is down"),
            None,
        ]
    )
    use(monkeypatch, kube)
    payload = first_event(LockWaitTrigger("c", "production", "web", ME, wait(60), poll_seconds=0.05))
    assert payload["action"] == "take" and payload["reason"] == "the lock is free", payload
    assert kube.reads == 3 and payload["polls"] == 3


def test_at_the_deadline_an_unreadable_api_fires_anyway(monkeypatch):
    kube = FakeKube([KubeError(503, "ServiceUnavailable", "the API is down")])
    use(monkeypatch, kube)
    payload = first_event(LockWaitTrigger("c", "production", "web", ME, wait(0.3), poll_seconds=0.05))
    assert (
        payload["action"] == "give_up"
        and "could not read the deploy lock at the deadline" in payload["reason"]
    )
    assert payload["wait"]["why"] == "test bound", "the wait goes back to the task, which reads itself"


def test_a_hand_over_between_two_other_holders_is_waited_through(monkeypatch):
    now = datetime.now(UTC)
    first = new_lease("web", "inst-a/manual__hotfix", now, 300)
    second = new_lease("web", "inst-b/manual__another", now, 300)
    expired = new_lease("web", "inst-b/manual__another", now - timedelta(hours=1), 300)
    kube = FakeKube([first, first, second, second, expired])
    use(monkeypatch, kube)
    payload = first_event(LockWaitTrigger("c", "production", "web", ME, wait(60), poll_seconds=0.05))
    assert (
        payload["action"] == "take"
        and payload["reason"] == "the lock is expired (last holder inst-b/manual__another)"
    )
    assert kube.reads == 5
