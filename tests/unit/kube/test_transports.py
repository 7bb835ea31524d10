"""The sync and async drivers send what the one WatchSession asks for, and run the same read plans.

Each test runs the same script through both transports' drivers (fake transports, fake clock, no
sleeping) and expects the same requests and the same outcome: the decisions are not the drivers'.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from airlock.kube.api import KubeError
from airlock.kube.async_api import AsyncKube
from airlock.kube.async_watch import follow_async
from airlock.kube.diagnose import stuck_reason_plan
from airlock.kube.reads import GetObject, ListObjects, ReadLogs, WatchObjects, run_plan, run_plan_async
from airlock.kube.wait import follow, judge_rollout
from airlock.kube.watch import WatchSession


def dep(rv: str, updated: int) -> dict:
    return {
        "metadata": {"name": "web", "generation": 1, "resourceVersion": rv},
        "spec": {"replicas": 2},
        "status": {
            "observedGeneration": 1,
            "replicas": 2,
            "updatedReplicas": updated,
            "availableReplicas": updated,
        },
    }


class Script:
    """Answers for a wait: list results in order, and watch streams (events, then maybe an error)."""

    def __init__(self, lists: list[dict], streams: list[tuple[list[dict], Exception | None]]) -> None:
        self.lists, self.streams = list(lists), list(streams)
        self.requests: list[Any] = []
        self.closed = 0  # streams whose connection was released

    def next_list(self, resource: str, namespace: str, field_selector: str) -> dict:
        self.requests.append(ListObjects(resource, namespace, field_selector=field_selector))
        return self.lists.pop(0)

    def next_stream(self, request: WatchObjects) -> tuple[list[dict], Exception | None]:
        self.requests.append(request)
        return self.streams.pop(0)


class FakeKube:
    def __init__(self, script: Script) -> None:
        self.script = script

    def list(self, resource: str, namespace: str, *, field_selector: str = "") -> dict:
        return self.script.next_list(resource, namespace, field_selector)

    def watch(self, resource, namespace, *, resource_version, field_selector, timeout_seconds):
        events, error = self.script.next_stream(
            WatchObjects(resource, namespace, resource_version, timeout_seconds, field_selector)
        )
        try:
            yield from events
            if error is not None:
                raise error
        finally:
            self.script.closed += 1


class FakeAsyncKube:
    def __init__(self, script: Script) -> None:
        self.script = script

    async def list(self, resource: str, namespace: str, *, field_selector: str = "") -> dict:
        return self.script.next_list(resource, namespace, field_selector)

    async def watch(self, request: WatchObjects):
        events, error = self.script.next_stream(request)
        try:
            for e in events:
                yield e
            if error is not None:
                raise error
        finally:
            self.script.closed += 1


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        self.now += 0.25  # every look at the clock is a quarter second later
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def run_sync(script: Script, timeout: float = 30):
    clock = Clock()
    session = WatchSession("deployments", "prod", "web", judge_rollout, timeout, now=0.0)
    return follow(FakeKube(script), session, clock=clock, sleep=clock.sleep), clock.slept


def run_async(script: Script, timeout: float = 30):
    clock = Clock()

    async def fake_sleep(seconds: float) -> None:
        clock.sleep(seconds)

    async def main():
        session = WatchSession("deployments", "prod", "web", judge_rollout, timeout, now=0.0)
        return await follow_async(FakeAsyncKube(script), session, clock=clock, sleep=fake_sleep)

    return asyncio.run(main()), clock.slept


DRIVERS = pytest.mark.parametrize("run", [run_sync, run_async], ids=["sync", "async"])


def listed(rv: str, *objs: dict) -> dict:
    return {"metadata": {"resourceVersion": rv}, "items": list(objs)}


@DRIVERS
def test_dropped_stream_is_resumed_and_the_finished_stream_released(run):
    script = Script(
        [listed("10", dep("9", 0))],
        [
            ([{"type": "MODIFIED", "object": dep("11", 1)}], ConnectionResetError("dropped")),
            (
                [{"type": "MODIFIED", "object": dep("12", 2)}, {"type": "MODIFIED", "object": dep("13", 2)}],
                None,
            ),
        ],
    )
    outcome, slept = run(script)
    assert outcome.finished and outcome.requests == 3 and outcome.last["done"]
    assert [type(r).__name__ for r in script.requests] == ["ListObjects", "WatchObjects", "WatchObjects"]
    assert [r.resource_version for r in script.requests[1:]] == ["10", "11"]
    assert slept == [0.2]
    assert script.closed == 2, "the stream left early (done at the first event) was closed too"
    assert script.streams == [], "nothing read after done"


@DRIVERS
def test_410_relists_and_a_failing_watch_request_is_a_stream_end(run):
    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}}
    script = Script(
        [listed("10", dep("9", 0)), listed("40", dep("39", 1))],
        [
            ([gone], None),
            ([], KubeError(500, "InternalError", "etcd")),
            ([{"type": "MODIFIED", "object": dep("41", 2)}], None),
        ],
    )
    outcome, slept = run(script)
    assert outcome.finished and outcome.requests == 5
    assert [type(r).__name__ for r in script.requests] == [
        "ListObjects",
        "WatchObjects",
        "ListObjects",
        "WatchObjects",
        "WatchObjects",
    ]
    assert [r.resource_version for r in script.requests if isinstance(r, WatchObjects)] == ["10", "40", "40"]
    assert slept == [0.2 + 1.0], "an error with no event at once: breath plus anti-hammer pause"


@DRIVERS
def test_timeout_with_a_quiet_server(run):
    script = Script([listed("10", dep("9", 0))], [([], None)] * 3)
    outcome, slept = run(script, timeout=3)
    assert outcome.timed_out and not outcome.finished
    assert outcome.requests == len(script.requests) == 3, "list + two watches, each ended at once"
    assert slept == [1.0, 0.25], "the second anti-hammer pause is cut at the deadline (2.75 s of 3)"


def test_a_failing_list_propagates():
    class Broken(FakeKube):
        def list(self, *a: Any, **kw: Any) -> dict:
            raise KubeError(403, "Forbidden", "no")

    with pytest.raises(KubeError, match="403 Forbidden"):
        follow(Broken(Script([], [])), WatchSession("deployments", "p", "web", judge_rollout, 5, now=0.0))


# -- the read plans -------------------------------------------------------------------------------

OWNER = {
    "kind": "Deployment",
    "metadata": {"name": "web", "uid": "d1", "annotations": {"deployment.kubernetes.io/revision": "2"}},
    "spec": {"selector": {"matchLabels": {"app": "web"}}},
}


def rs(name: str, revision: str) -> dict:
    return {
        "metadata": {
            "name": name,
            "uid": name,
            "annotations": {"deployment.kubernetes.io/revision": revision},
            "ownerReferences": [{"controller": True, "uid": "d1"}],
        }
    }


def pod(name: str, owner: str, *, crash: bool) -> dict:
    cs = {
        "name": "app",
        "image": "web:2",
        "ready": not crash,
        "restartCount": 4 if crash else 0,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}} if crash else {"running": {}},
        "lastState": {"terminated": {"exitCode": 3}} if crash else {},
    }
    return {
        "metadata": {"name": name, "ownerReferences": [{"controller": True, "uid": owner}]},
        "status": {"phase": "Running", "containerStatuses": [cs]},
    }


class Cluster:
    """Answers reads from a dict; `broken` reads raise KubeError."""

    def __init__(self, broken: set[str] = frozenset()) -> None:
        self.broken = broken
        self.reads: list[Any] = []

    def answer(self, request: Any) -> Any:
        self.reads.append(request)
        if isinstance(request, GetObject):
            return OWNER
        if isinstance(request, ListObjects):
            if request.resource in self.broken:
                raise KubeError(403, "Forbidden", f"cannot list {request.resource}")
            return {
                "replicasets": {"items": [rs("web-1", "1"), rs("web-2", "2")]},
                "pods": {
                    "items": [pod("web-1-a", "web-1", crash=False), pod("web-2-a", "web-2", crash=True)]
                },
                "events": {"items": []},
            }[request.resource]
        assert isinstance(request, ReadLogs)
        return ["booting", "FATAL: no database"] if request.previous else []

    def read(self, request: Any) -> Any:
        return self.answer(request)


class AsyncCluster(Cluster):
    async def read(self, request: Any) -> Any:  # type: ignore[override]
        return self.answer(request)


@pytest.mark.parametrize("broken", [set(), {"events"}], ids=["all-readable", "events-forbidden"])
def test_stuck_reason_plan_is_the_same_over_both_transports(broken):
    sync_cluster, async_cluster = Cluster(broken), AsyncCluster(broken)
    found = run_plan(sync_cluster, stuck_reason_plan("prod", "web"))
    found_async = asyncio.run(run_plan_async(async_cluster, stuck_reason_plan("prod", "web")))
    assert found == found_async
    assert found.kind == "CrashLoop" and found.pod == "web-2-a", "the new ReplicaSet's pod, not the old one's"
    assert "4 restarts, last exit code 3" in found.message and "FATAL: no database" in found.message
    assert sync_cluster.reads == async_cluster.reads
    assert sync_cluster.reads == [
        GetObject("deployments", "prod", "web"),
        ListObjects("replicasets", "prod", label_selector="app=web"),
        ListObjects("pods", "prod", label_selector="app=web"),
        ListObjects("events", "prod"),
        ReadLogs("prod", "web-2-a", "app", 20, previous=True),
    ]


def test_a_failing_required_read_fails_the_plan():
    with pytest.raises(KubeError, match="cannot list pods"):
        run_plan(Cluster({"pods"}), stuck_reason_plan("prod", "web"))


# -- the async transport's own request path -------------------------------------------------------


class FakeResponse:
    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.reason = "reason phrase"
        self.body = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.released = False
        self.content = self
        self._lines = self.body.splitlines(keepends=True)

    async def read(self) -> bytes:
        return self.body

    async def readline(self) -> bytes:
        return self._lines.pop(0) if self._lines else b""

    def release(self) -> None:
        self.released = True


class FakeAsyncApiClient:
    def __init__(self, responses: list[FakeResponse]) -> None:
        self.responses = responses
        self.calls: list[tuple[str, list, Any]] = []

    async def call_api(self, url, method, *, query_params, _request_timeout, **kw):
        self.calls.append((url, query_params, _request_timeout))
        return self.responses.pop(0)


def test_async_transport_turns_error_answers_into_kube_errors_and_releases_them():
    not_found = FakeResponse(404, {"kind": "Status", "reason": "NotFound", "code": 404, "message": "gone"})
    expired = FakeResponse(410, {"kind": "Status", "reason": "Expired", "code": 410, "message": "too old"})
    stream = FakeResponse(
        200,
        '{"type": "ADDED", "object": {"metadata": {"name": "web"}}}\n\n'
        '{"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "7"}}}\n',
    )
    api = FakeAsyncApiClient([not_found, expired, stream])
    kube = AsyncKube(api, timeout=(3.0, 9.0))

    async def main():
        assert await kube.get("deployments", "prod", "web") is None
        with pytest.raises(KubeError) as err:
            await kube.list("deployments", "prod", field_selector="metadata.name=web")
        assert (err.value.status, err.value.reason, err.value.message) == (410, "Expired", "too old")
        return [
            e async for e in kube.watch(WatchObjects("deployments", "prod", "5", 42, "metadata.name=web"))
        ]

    events = asyncio.run(main())
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    assert not_found.released and expired.released and stream.released
    (get_url, _, get_timeout), _, (watch_url, watch_query, watch_timeout) = api.calls
    assert get_url == "/apis/apps/v1/namespaces/prod/deployments/web" and get_timeout == (3.0, 9.0)
    assert ("timeoutSeconds", 42) in watch_query and ("resourceVersion", "5") in watch_query
    assert watch_timeout == (3.0, 42 + 30.0), "a watch may be quiet up to its server-side timeout"
