"""The retry policy as the transports and the watch session apply it, over fakes (no network, no sleeping):
the sync and async transports retry the same failures with the same waits and the same words, and the
watch session backs off between broken streams."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import urllib3.exceptions as u3
from kubernetes.client.exceptions import ApiException

from airlock.kube.api import Kube, KubeError
from airlock.kube.async_api import AsyncKube
from airlock.kube.reads import ListObjects, WatchObjects
from airlock.kube.retry import RetryPolicy
from airlock.kube.wait import judge_rollout
from airlock.kube.watch import Pause, WatchSession
from tests.fixtures.notes import Notes

PATH = "/apis/apps/v1/namespaces/prod/deployments/web"
POLICY = RetryPolicy(attempts=4, base=0.5, cap=8.0, deadline=60.0)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


# What the server does, attempt by attempt: ("status", code, retry_after) | ("timeout",) | ("reset",)
# | ("ok", body). Each transport's fake turns it into that client library's own answer or exception.
Script = list[tuple[Any, ...]]


def status_body(code: int, reason: str) -> bytes:
    return json.dumps(
        {"kind": "Status", "code": code, "reason": reason, "message": f"{reason} (test)"}
    ).encode()


REASONS = {429: "TooManyRequests", 503: "ServiceUnavailable", 403: "Forbidden"}


class SyncResp:
    def __init__(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        self.status, self.reason, self.data, self.headers = status, "reason phrase", data, headers

    def getheaders(self) -> dict[str, str]:
        return self.headers


class FakeApiClient:
    """kubernetes.client.ApiClient.call_api as the sync client behaves: raises for errors."""

    def __init__(self, script: Script) -> None:
        self.script = list(script)
        self.timeouts: list[Any] = []

    def call_api(self, url: str, method: str, **kw: Any) -> Any:
        self.timeouts.append(kw["_request_timeout"])
        what = self.script.pop(0)
        if what[0] == "status":
            headers = {"Retry-After": str(what[2])} if what[2] is not None else {}
            raise ApiException(http_resp=SyncResp(what[1], status_body(what[1], REASONS[what[1]]), headers))
        if what[0] == "timeout":
            raise u3.ReadTimeoutError(None, url, "Read timed out. (read timeout=60)")  # type: ignore[arg-type]
        if what[0] == "reset":
            raise u3.ProtocolError(
                "Connection aborted.", ConnectionResetError(104, "Connection reset by peer")
            )
        return SyncResp(200, json.dumps(what[1]).encode(), {})


class AsyncResp:
    def __init__(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        self.status, self.reason, self.data, self.headers = status, "reason phrase", data, headers

    async def read(self) -> bytes:
        return self.data

    def release(self) -> None:
        pass


class FakeAsyncApiClient:
    """kubernetes_asyncio's call_api with _preload_content=False: every answer is returned."""

    def __init__(self, script: Script) -> None:
        self.script = list(script)
        self.timeouts: list[Any] = []

    async def call_api(self, url: str, method: str, **kw: Any) -> Any:
        import aiohttp

        self.timeouts.append(kw["_request_timeout"])
        what = self.script.pop(0)
        if what[0] == "status":
            headers = {"Retry-After": str(what[2])} if what[2] is not None else {}
            return AsyncResp(what[1], status_body(what[1], REASONS[what[1]]), headers)
        if what[0] == "timeout":
            raise aiohttp.ServerTimeoutError("Timeout on reading data from socket")
        if what[0] == "reset":
            raise aiohttp.ClientOSError(104, "Connection reset by peer")
        return AsyncResp(200, json.dumps(what[1]).encode(), {})


def run_sync(script: Script) -> tuple[Any, Clock, Notes, FakeApiClient]:
    clock, notes, api = Clock(), Notes(), FakeApiClient(script)
    kube = Kube(api, log=notes, retry=POLICY, clock=clock, sleep=clock.sleep, rand=lambda: 0.5)  # type: ignore[arg-type]
    try:
        result: Any = kube.get("deployments", "prod", "web")
    except KubeError as exc:
        result = exc
    return result, clock, notes, api


def run_async(script: Script) -> tuple[Any, Clock, Notes, FakeAsyncApiClient]:
    clock, notes, api = Clock(), Notes(), FakeAsyncApiClient(script)

    async def sleep(seconds: float) -> None:
        clock.sleep(seconds)

    kube = AsyncKube(api, log=notes, retry=POLICY, clock=clock, sleep=sleep, rand=lambda: 0.5)

    async def main() -> Any:
        try:
            return await kube.get("deployments", "prod", "web")
        except KubeError as exc:
            return exc

    return asyncio.run(main()), clock, notes, api


DRIVERS = pytest.mark.parametrize("run", [run_sync, run_async], ids=["sync", "async"])
WEB = {"metadata": {"name": "web"}}


@DRIVERS
def test_a_burst_of_transient_failures_is_absorbed(run):
    result, clock, notes, _ = run([("status", 429, 2), ("status", 503, None), ("timeout",), ("ok", WEB)])
    assert result == WEB
    assert clock.slept == [2.0, 0.5, 1.0], "Retry-After 2 s, then jittered backoff (half of 1 s, 2 s)"
    warnings = notes.warnings()
    assert len(warnings) == 3
    assert warnings[0] == (
        f"GET {PATH} failed (429 TooManyRequests: TooManyRequests (test)); attempt 1 of 4, retrying in 2.0 s"
    )
    assert "attempt 3 of 4, retrying in 1.0 s" in warnings[2] and "read timed out" in warnings[2]


@DRIVERS
def test_exhausted_attempts_name_the_call_and_the_last_failure(run):
    result, clock, notes, _ = run(
        [("status", 503, None), ("reset",), ("status", 503, None), ("status", 503, None)]
    )
    assert isinstance(result, KubeError)
    assert str(result) == (
        f"GET {PATH}: 503 ServiceUnavailable: ServiceUnavailable (test) (gave up after 4 attempts in 1.8 s)"
    )
    assert result.attempts == 4 and len(notes.warnings()) == 3


@DRIVERS
def test_a_403_is_not_retried(run):
    result, clock, notes, api = run([("status", 403, None), ("ok", WEB)])
    assert isinstance(result, KubeError) and result.status == 403 and result.attempts == 1
    assert str(result).startswith(f"GET {PATH}: 403 Forbidden: Forbidden (test) (not retried")
    assert clock.slept == [] and notes.warnings() == [] and len(api.script) == 1


def test_sync_and_async_retry_alike():
    script: Script = [("reset",), ("status", 429, 1), ("status", 503, None), ("ok", WEB)]
    sync, async_ = run_sync(script), run_async(script)
    assert sync[0] == async_[0] == WEB
    assert sync[1].slept == async_[1].slept == [0.25, 1.0, 1.0]
    assert [w.split(" (")[0] for w in sync[2].warnings()] == [w.split(" (")[0] for w in async_[2].warnings()]


@DRIVERS
def test_an_attempt_never_outlasts_the_deadline(run):
    _, _, _, api = run([("status", 503, 50), ("ok", WEB)])
    assert api.timeouts == [(10.0, 60.0), (10.0, 10.0)], "50 s waited of 60: 10 s left for the read"


# -- the watch session's reconnects ----------------------------------------------------------------


def dep(rv: str, updated: int) -> dict:
    return {
        "metadata": {"name": "web", "generation": 1, "resourceVersion": rv},
        "spec": {"replicas": 3},
        "status": {"observedGeneration": 1, "replicas": 3, "updatedReplicas": updated},
    }


def watching(timeout: float = 60, rand: Any = None) -> WatchSession:
    s = WatchSession("deployments", "prod", "web", judge_rollout, timeout, now=0.0, rand=rand)
    assert isinstance(s.next_step(0.0), ListObjects)
    s.on_list({"metadata": {"resourceVersion": "10"}, "items": [dep("9", 1)]})
    return s


def break_stream(s: WatchSession, now: float, error: BaseException, events: int = 0) -> str | None:
    assert isinstance(s.next_step(now), WatchObjects)
    for i in range(events):
        s.on_event({"type": "MODIFIED", "object": dep(str(11 + i), 1)}, now + 5)
    return s.on_stream_end(now + 5, error)


def test_consecutive_broken_streams_back_off_exponentially():
    s = watching()
    pauses = []
    for i in range(6):
        break_stream(s, 10.0 * i, u3.ProtocolError("Connection broken"))
        step = s.next_step(10.0 * i + 5)
        assert isinstance(step, Pause)
        pauses.append(step.seconds)
    assert pauses == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0], "doubling from 0.2 s, capped at 5 s"


def test_a_stream_that_delivered_events_starts_the_backoff_again():
    s = watching()
    break_stream(s, 0.0, ConnectionResetError("reset"))
    s.next_step(5.0)
    break_stream(s, 6.0, ConnectionResetError("reset"))
    assert s.next_step(11.0) == Pause(0.4)
    note = break_stream(s, 12.0, ConnectionResetError("reset"), events=2)
    assert s.next_step(17.0) == Pause(0.2)
    assert note is not None and "resuming from resourceVersion 12 in 0.2 s (reconnect 1;" in note


def test_reconnect_pauses_are_jittered_by_the_draw_passed_in():
    s = watching(rand=lambda: 0.25)
    break_stream(s, 0.0, ConnectionResetError("reset"))
    assert s.next_step(5.0) == Pause(0.05)


def test_a_watch_answered_429_waits_what_retry_after_says():
    s = watching()
    note = break_stream(s, 0.0, KubeError(429, "TooManyRequests", "slow down", retry_after=3.0))
    assert s.next_step(5.0) == Pause(3.0)
    assert note is not None and "in 3.0 s" in note


def test_a_reconnect_pause_is_cut_at_the_deadline():
    s = watching(timeout=20)
    break_stream(s, 0.0, KubeError(429, "TooManyRequests", "slow down", retry_after=30.0))
    assert s.next_step(5.0) == Pause(15.0)
    assert s.next_step(20.0).timed_out  # type: ignore[union-attr]


@pytest.mark.parametrize("status", [401, 403, 404])
def test_a_watch_the_server_refuses_ends_the_wait_at_once(status):
    s = watching()
    refused = KubeError(status, "Forbidden", "cannot watch deployments", call=f"GET {PATH}")
    with pytest.raises(KubeError) as err:
        break_stream(s, 0.0, refused)
    assert err.value is refused


# -- a retried create answered 409 AlreadyExists --------------------------------------------------------

SENT = {
    "metadata": {"name": "web-canary", "labels": {"app.kubernetes.io/managed-by": "airlock"}},
    "spec": {"replicas": 1},
}


class CreateClient(FakeApiClient):
    """POST: the scripted failure, then 409 AlreadyExists; GET: `existing`."""

    def __init__(self, first: tuple[Any, ...], existing: dict) -> None:
        super().__init__([first])
        self.existing = existing
        self.calls: list[str] = []

    def call_api(self, url: str, method: str, **kw: Any) -> Any:
        self.calls.append(method)
        if method == "GET":
            return SyncResp(200, json.dumps(self.existing).encode(), {})
        if self.script:
            return super().call_api(url, method, **kw)
        body = json.dumps({"kind": "Status", "code": 409, "reason": "AlreadyExists", "message": "exists"})
        raise ApiException(http_resp=SyncResp(409, body.encode(), {}))


def create_with(client: CreateClient) -> tuple[Any, Notes]:
    clock, notes = Clock(), Notes()
    kube = Kube(client, log=notes, retry=POLICY, clock=clock, sleep=clock.sleep, rand=lambda: 0.5)  # type: ignore[arg-type]
    try:
        return kube.create("deployments", "prod", SENT), notes
    except KubeError as exc:
        return exc, notes


def test_a_retried_create_adopts_the_object_its_lost_attempt_made():
    mine = {**SENT, "metadata": {**SENT["metadata"], "uid": "u1"}, "status": {}}
    client = CreateClient(("reset",), mine)
    result, notes = create_with(client)
    assert result == mine and client.calls == ["POST", "POST", "GET"]
    assert any("an earlier attempt, whose answer was lost, created it" in t for _, t in notes.lines)


def test_a_retried_create_does_not_adopt_someone_elses_object():
    theirs = {**SENT, "spec": {"replicas": 5}}
    result, notes = create_with(CreateClient(("timeout",), theirs))
    assert isinstance(result, KubeError) and result.status == 409 and result.reason == "AlreadyExists"
    assert str(result).startswith("POST /apis/apps/v1/namespaces/prod/deployments: 409 AlreadyExists")
    assert "differs from what this create sent" in notes.warnings()[-1]


def test_a_409_after_only_refusals_is_never_adopted():
    client = CreateClient(("status", 429, 0), {**SENT})
    result, _ = create_with(client)
    assert isinstance(result, KubeError) and result.status == 409
    assert client.calls == ["POST", "POST"], "a 429 applied nothing: the 409 is someone else's, no re-read"
