"""A planned run waits for a deploy lock another run holds; a window=now run does not (airlock.lock_wait).

Over real HTTP against kubesim: LockWaitTrigger fires once the holder releases, at the deadline, or at
once on a stopped line; under dag.test() a planned run (the real window gate, an injected clock) whose
lock a hotfix holds defers at `acquire_lock`, takes the lock once the hotfix releases it and goes on; it
gives up at its window's close naming the holder; a window=now run is refused at once naming the holder;
and a run resuming to find the lock taken meanwhile waits again, to the same deadline.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.sdk import DAG, TaskGroup, task
from airflow.sdk.exceptions import TaskDeferred

from airlock import stop_line
from airlock.kube import lock
from airlock.lock_wait import LockWait
from airlock.spec import parse_spec, spec_to_dict
from operators import window_gate
from operators.lease import run_holder
from operators.lock import DeployLockOperator
from operators.window_gate import WindowGateOperator
from operators.xcom_keys import FAILURE_REASON_KEY
from tests.fixtures.dag_runner import run_dag, xcom_value
from tests.fixtures.run_requests import request_for
from tests.integration.kube.conftest import NS, SPEC
from triggers.lock_wait import LockWaitTrigger

# each test waits seconds; a wait that hangs (up to the 2 h window) must fail the test, not the session
pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

HOTFIX = "inst-a/manual__hotfix"
LEASE_PATH = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/airlock-web"
WINDOW = "Daily 02:00-04:00"


@pytest.fixture
def k8s_conn(sim, airflow_db, airflow_connections):
    airflow_connections(
        "kubernetes_default", {"conn_type": "kubernetes", "extra": {"kube_config_path": str(sim.kubeconfig)}}
    )
    return sim


def holder_of(sim: Any) -> str | None:
    return (sim.kube().get("leases", NS, "airlock-web") or {}).get("spec", {}).get("holderIdentity")


def release_later(
    sim: Any, holder: str, after: float, once: threading.Event | None = None
) -> threading.Thread:
    """The hotfix finishes and releases its lock (from another client) `after` seconds from now - or, with
    `once`, that long after the event is set (see `watch_waiting`), so the test does not depend on how
    long the waiter takes to start."""

    def release() -> None:
        if once is not None:
            assert once.wait(60), "the waiting run never saw the lock held"
        time.sleep(after)
        lock.release(sim.kube(), NS, "web", holder)

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    return thread


def watch_waiting(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once LockWaitTrigger has read the Lease and decided to wait (it runs in this process)."""
    import triggers.lock_wait as module

    seen = threading.Event()
    decide = module.decide_lock_wait

    def spy(*args: Any, **kwargs: Any) -> Any:
        decision = decide(*args, **kwargs)
        if decision.action == "wait":
            seen.set()
        return decision

    monkeypatch.setattr(module, "decide_lock_wait", spy)
    return seen


def wait_until(seconds: float, since: datetime | None = None) -> LockWait:
    now = datetime.now(UTC)
    return LockWait(
        deadline=(now + timedelta(seconds=seconds)).isoformat(),
        since=(since or now).isoformat(),
        why="the test's window closes then",
    )


def fire(trigger: LockWaitTrigger) -> tuple[dict[str, Any], float]:
    async def first() -> Any:
        async for event in trigger.run():
            return event
        raise AssertionError("the trigger ended without an event")

    started = time.monotonic()
    event = asyncio.run(first())
    return event.payload, time.monotonic() - started


def trigger(wait: LockWait, poll: float = 0.3) -> LockWaitTrigger:
    return LockWaitTrigger("kubernetes_default", NS, "web", "inst-a/scheduled__planned", wait.to_dict(), poll)


# -- the trigger ---------------------------------------------------------------------------------------


def test_the_trigger_fires_once_the_holder_releases_the_lock(k8s_conn, monkeypatch):
    sim = k8s_conn
    lock.acquire(sim.kube(), NS, "web", HOTFIX, 300)
    releaser = release_later(sim, HOTFIX, 1.0, watch_waiting(monkeypatch))
    payload, took = fire(trigger(wait_until(60)))
    releaser.join()
    assert payload["action"] == "take" and payload["reason"] == "the lock is free", payload
    assert took >= 1.0 and payload["polls"] >= 3, (took, payload)
    assert payload["wait"]["why"] == "the test's window closes then", "the wait is echoed for the resume"
    assert holder_of(sim) is None, "the trigger only looks: the resumed task takes the lock"


def test_the_trigger_gives_up_at_the_deadline_naming_the_holder(k8s_conn):
    sim = k8s_conn
    lock.acquire(sim.kube(), NS, "web", HOTFIX, 300)
    payload, took = fire(trigger(wait_until(1.5, since=datetime.now(UTC) - timedelta(minutes=2))))
    assert payload["action"] == "give_up" and payload["holder"] == HOTFIX, payload
    assert 1.4 <= took < 5, took
    assert f'held by "{HOTFIX}"' in payload["reason"]
    assert re.search(r"this run waited 2m\d+s for it", payload["reason"]), payload["reason"]
    assert "up to its deadline" in payload["reason"] and "the test's window closes then" in payload["reason"]


def test_the_trigger_fires_at_once_on_a_stopped_line(k8s_conn):
    sim = k8s_conn
    lock.acquire(sim.kube(), NS, "web", HOTFIX, 300)
    stop_line.stop_the_line(sim.kube(), "web", NS, "manual__bad", "the rollback failed")
    payload, took = fire(trigger(wait_until(60)))
    assert payload["action"] == "refuse" and "manual__bad" in payload["reason"], payload
    assert took < 5, "a stopped line is never waited out"


# -- the operator under dag.test() ---------------------------------------------------------------------


class ClockFrom:
    """The window gate's clock: `start` at the first read, then real time (as the gate's own tests)."""

    def __init__(self, start: datetime) -> None:
        self.start, self.first = start, None

    def __call__(self) -> datetime:
        # from the first read, not from construction: on a loaded machine the DAG run may take seconds to
        # reach the gate, and a window that closed meanwhile would send the run to wait for the next one
        now = datetime.now(UTC)
        if self.first is None:
            self.first = now
        return self.start + (now - self.first)


def planned_dag(sim: Any, window: str, run_id: str, **lock_args: Any) -> DAG:
    """window gate -> acquire_lock -> a step that reads who holds the lock (what production would see)."""
    s = spec_to_dict(parse_spec({**SPEC, "windows": {"timezone": "UTC", "off_peak": [WINDOW]}}))
    req = request_for(s, "2", "rolling", window=window, run_id=run_id)
    with DAG(f"lock_wait_{uuid.uuid4().hex[:8]}", schedule=None, default_args={"retries": 0}) as dag:
        with TaskGroup("preflight"):
            gate = WindowGateOperator(task_id="window", spec=s, request=req)
        take = DeployLockOperator(task_id="acquire_lock", spec=s, action="acquire", request=req, **lock_args)

        @task(task_id="deploy")
        def deploy() -> str | None:
            return holder_of(sim)

        gate >> take >> deploy()
    return dag


def states(dr: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}


def test_a_planned_run_waits_for_a_hotfix_lock_and_takes_it_once_released(k8s_conn, monkeypatch):
    sim = k8s_conn
    monkeypatch.setattr(window_gate, "clock", ClockFrom(datetime(2026, 12, 1, 2, 0, tzinfo=UTC)))
    run_id = f"scheduled__{uuid.uuid4().hex[:8]}"
    dag = planned_dag(sim, "next_window", run_id, poll_seconds=0.5)
    lock.acquire(sim.kube(), NS, "web", HOTFIX, 300)  # the hotfix is still deploying when the window opens
    # released while the run waits deferred, once its trigger has seen the hotfix holding the lock
    releaser = release_later(sim, HOTFIX, 1.0, watch_waiting(monkeypatch))
    dr = run_dag(dag)
    releaser.join()

    assert str(dr.state) == "success", states(dr)
    me = run_holder(run_id)
    taken = xcom_value(dr, "acquire_lock")
    assert taken["holder"] == me and taken["changed"] is True, taken
    assert xcom_value(dr, "deploy") == me, "the run went on holding the lock"
    # on the cluster: the hotfix's release, then this run's take - never a write over a live holder
    puts = [e for e in sim.writes() if e["path"] == LEASE_PATH and e["method"] == "PUT"]
    assert [(e.get("body") or {}).get("spec", {}).get("holderIdentity") for e in puts] == [None, me], puts


def test_a_planned_run_gives_up_at_its_window_close_naming_the_holder(k8s_conn, monkeypatch):
    sim = k8s_conn
    # the window (02:00-04:00) closes 15 s after the gate says go: time for acquire_lock to start and wait
    # even on a loaded machine
    monkeypatch.setattr(window_gate, "clock", ClockFrom(datetime(2026, 12, 1, 3, 59, 45, tzinfo=UTC)))
    run_id = f"scheduled__{uuid.uuid4().hex[:8]}"
    dag = planned_dag(sim, "next_window", run_id, poll_seconds=0.5)
    lock.acquire(sim.kube(), NS, "web", HOTFIX, 300)
    started = time.monotonic()
    dr = run_dag(dag)
    took = time.monotonic() - started

    st = states(dr)
    assert st["preflight.window"] == "success" and st["acquire_lock"] == "failed", st
    assert st["deploy"] == "upstream_failed", st
    reason = xcom_value(dr, "acquire_lock", FAILURE_REASON_KEY)
    assert reason.startswith(f'deploy lock {NS}/airlock-web is held by "{HOTFIX}" since '), reason
    waited = re.search(r"this run waited (\d+)s for it", reason)
    assert waited and 1 <= int(waited[1]) <= 15, reason  # from acquire_lock's start to the window's close
    assert "the off-peak window it got closes at Tue 2026-12-01 04:00:00 UTC" in reason, reason
    assert int(waited[1]) <= took < 60, took
    assert holder_of(sim) == HOTFIX, "the hotfix keeps its lock"


def test_a_window_now_run_is_refused_at_once_naming_the_holder(k8s_conn, monkeypatch):
    sim = k8s_conn
    monkeypatch.setattr(window_gate, "clock", ClockFrom(datetime(2026, 12, 1, 2, 0, tzinfo=UTC)))
    dag = planned_dag(sim, "now", f"manual__{uuid.uuid4().hex[:8]}", poll_seconds=0.5)
    lock.acquire(sim.kube(), NS, "web", HOTFIX, 300)
    releaser = release_later(sim, HOTFIX, 4.0)  # it would be free soon: this run does not wait for it
    started = time.monotonic()
    dr = run_dag(dag)
    took = time.monotonic() - started
    releaser.join()

    assert states(dr)["acquire_lock"] == "failed", states(dr)
    reason = xcom_value(dr, "acquire_lock", FAILURE_REASON_KEY)
    assert f'is held by "{HOTFIX}" until' in reason and "retry this run" in reason, reason
    assert took < 4.0, f"refused at once, not after the holder released ({took:.1f} s)"


# -- resuming to a lock taken meanwhile ----------------------------------------------------------------


class FakeTI:
    try_number = 1

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value

    def xcom_pull(self, **_: Any) -> Any:
        return None


def test_a_run_resuming_to_a_lock_taken_meanwhile_waits_again_to_the_same_deadline(k8s_conn):
    sim = k8s_conn
    s = spec_to_dict(parse_spec({**SPEC, "windows": {"timezone": "UTC", "off_peak": [WINDOW]}}))
    req = request_for(s, "2", "rolling", window="next_window", run_id="scheduled__resumed")
    op = DeployLockOperator(task_id="acquire_lock", spec=s, action="acquire", request=req, poll_seconds=1)
    op.kube = lambda: sim.kube()  # type: ignore[method-assign]  # the sim, without a task's connection lookup
    other = "inst-b/manual__another-hotfix"
    lock.acquire(sim.kube(), NS, "web", other, 300)  # took it between the trigger's look and the resume
    wait = wait_until(3600, since=datetime.now(UTC) - timedelta(minutes=5))
    event = {"action": "take", "reason": "the lock is free", "polls": 4, "waited_seconds": 300.0}
    with pytest.raises(TaskDeferred) as deferred:
        op.execute_complete({"ti": FakeTI()}, event={**event, "wait": wait.to_dict()})
    again = deferred.value.trigger
    assert isinstance(again, LockWaitTrigger) and again.wait == wait.to_dict(), "same deadline, same start"
    assert deferred.value.method_name == "execute_complete"
    assert timedelta(minutes=59) < deferred.value.timeout <= timedelta(hours=1, minutes=10)
    assert holder_of(sim) == other, "nothing was written over the live holder"

    # once it is free the same resume takes it
    lock.release(sim.kube(), NS, "web", other)
    taken = op.execute_complete({"ti": FakeTI()}, event={**event, "wait": wait.to_dict()})
    assert taken["holder"] == run_holder("scheduled__resumed") == holder_of(sim)
