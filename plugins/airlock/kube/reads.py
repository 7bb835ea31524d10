"""What a Kubernetes read *is*, apart from how it is sent: the requests both transports understand.

A read sequence that needs the answer of one read to choose the next (the stuck-rollout diagnosis:
the Deployment, then its ReplicaSets and pods, then the logs of the failing ones) is written once, as
a generator that yields these requests and receives the answers (a "sans-I/O" plan). `run_plan`
drives it with the sync transport (`api.Kube`), `run_plan_async` with the async one
(`async_api.AsyncKube`); a transport error is thrown into the plan at the `yield`, so the plan decides
which reads are optional. The watch loop uses the same request types (`watch.WatchSession`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Generator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

Obj = dict[str, Any]
T = TypeVar("T")


@dataclass(frozen=True)
class GetObject:
    """GET one object; the answer is the object, or None when it does not exist (404)."""

    resource: str
    namespace: str | None
    name: str


@dataclass(frozen=True)
class ListObjects:
    """GET a collection; the answer is the List object (with `metadata.resourceVersion` and `items`)."""

    resource: str
    namespace: str | None
    label_selector: str = ""
    field_selector: str = ""


@dataclass(frozen=True)
class ReadLogs:
    """Last log lines of a pod's container; the answer is a list of non-blank lines."""

    namespace: str
    pod: str
    container: str | None = None
    tail_lines: int = 20
    previous: bool = False


@dataclass(frozen=True)
class WatchObjects:
    """One watch request from `resource_version`; the server ends it after `timeout_seconds`."""

    resource: str
    namespace: str | None
    resource_version: str
    timeout_seconds: int
    field_selector: str = ""


Read = GetObject | ListObjects | ReadLogs
# A read plan yields Read requests, receives each answer at its `yield`, and returns its result.
Plan = Generator[Read, Any, T]


class SyncReader(Protocol):
    def read(self, request: Read) -> Any: ...


class AsyncReader(Protocol):
    def read(self, request: Read) -> Awaitable[Any]: ...


def items(listed: Any) -> list[Obj]:
    """The `items` of a List answer (an empty list for anything else)."""
    return list((listed or {}).get("items") or []) if isinstance(listed, dict) else []


def run_plan(reader: SyncReader, plan: Plan[T]) -> T:
    """Answer every read of `plan` through a sync transport; return what the plan returns."""
    try:
        request = next(plan)
        while True:
            try:
                answer = reader.read(request)
            except Exception as exc:  # the plan decides whether this read was optional
                request = plan.throw(exc)
            else:
                request = plan.send(answer)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def run_plan_async(reader: AsyncReader, plan: Plan[T]) -> T:
    """Answer every read of `plan` through an async transport; return what the plan returns."""
    try:
        request = next(plan)
        while True:
            try:
                answer = await reader.read(request)
            except Exception as exc:  # the plan decides whether this read was optional
                request = plan.throw(exc)
            else:
                request = plan.send(answer)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
