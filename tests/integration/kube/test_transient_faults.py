"""Transient faults over real HTTP (kubesim's fault injection): absorbed by the transports' retry policy,
the writes applied once in effect, production ending as recorded; non-transient answers fail at once,
naming the call; the sync and async transports behave the same."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest
from kubernetes_asyncio import config as async_config

from airlock.kube import canary, lock, rollback, rolling
from airlock.kube.api import Kube, KubeError
from airlock.kube.async_api import AsyncKube
from airlock.kube.plan import deployment_state, record_plan
from airlock.kube.wait import wait_for_rollout
from kubesim.faults import Fault
from tests.fixtures.notes import Notes
from tests.integration.kube.conftest import IMG, NS

pytestmark = pytest.mark.integration

DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NS}/deployments"


def retrying_kube(sim: Any, **kw: Any) -> tuple[Kube, Notes, list[float]]:
    """A Kube with the default policy, a seeded jitter draw, and its waits recorded (still slept)."""
    notes, slept = Notes(), []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    kube = Kube(sim.api_client(), log=notes, sleep=sleep, rand=random.Random(7).random, **kw)
    return kube, notes, slept


def ready(kube: Kube, name: str) -> None:
    res = wait_for_rollout(kube, NS, name, 30)
    assert res.done, res.message


def writes(sim: Any, method: str, path: str) -> list[tuple[int, str | None]]:
    return [
        (e["status"], e.get("fault")) for e in sim.writes() if e["method"] == method and e["path"] == path
    ]


def test_a_429_burst_during_a_canary_step_is_absorbed(sim, spec):
    kube, notes, slept = retrying_kube(sim)
    sim.world.faults.add(Fault("POST", DEPLOYMENTS, status=429, count=2, retry_after="1"))
    step = canary.ensure_canary(kube, spec, NS, f"{IMG}:2", 25, "c")
    assert step.changed and step.replicas == 1
    assert writes(sim, "POST", DEPLOYMENTS) == [(429, "status 429"), (429, "status 429"), (201, None)]
    assert slept == [1.0, 1.0], "the server's Retry-After, not our backoff"
    assert notes.warnings() == [
        f"POST {DEPLOYMENTS} failed (429 TooManyRequests: kubesim: injected fault (429)); "
        f"attempt {n} of 5, retrying in 1.0 s"
        for n in (1, 2)
    ]
    ready(kube, "web-canary")
    assert [d["metadata"]["name"] for d in kube.items("deployments", NS)] == ["web", "web-canary"]
    # the step re-run (a retried task) writes nothing: the retried write was applied once in effect
    before = len(sim.writes())
    assert not canary.ensure_canary(kube, spec, NS, f"{IMG}:2", 25, "c").changed
    assert len(sim.writes()) == before


def test_a_create_whose_answer_was_lost_adopts_the_object_it_made(sim, spec):
    kube, notes, _ = retrying_kube(sim)
    sim.world.faults.add(Fault("POST", DEPLOYMENTS, reset=True, after=True))
    step = canary.ensure_canary(kube, spec, NS, f"{IMG}:2", 25, "c")
    assert step.changed
    assert writes(sim, "POST", DEPLOYMENTS) == [(201, "after handling: reset"), (409, None)]
    assert "connection broken" in notes.warnings()[0] and "attempt 1 of 5" in notes.warnings()[0]
    assert any("already exists with what this create sent" in text for _, text in notes.lines)
    assert [d["metadata"]["name"] for d in kube.items("deployments", NS)] == ["web", "web-canary"]


def test_a_lease_whose_create_answer_was_lost_is_ours_and_the_lock_is_held(sim):
    kube, _, _ = retrying_kube(sim)
    leases = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases"
    sim.world.faults.add(Fault("POST", leases, status=503, after=True))
    state = lock.acquire(kube, NS, "web", "run-1", 600)
    assert state.changed and state.holder == "run-1"
    assert writes(sim, "POST", leases) == [(201, "after handling: status 503"), (409, None)]
    with pytest.raises(lock.LockHeld, match='held by "run-1"'):
        lock.acquire(kube, NS, "web", "run-2", 600)


def test_a_503_burst_during_rollback_is_absorbed_and_production_ends_as_recorded(sim, spec):
    kube, notes, _ = retrying_kube(sim)
    ready(kube, "web")
    plan = record_plan(kube, spec, NS, "canary", "run-1", "2", f"{IMG}:2")
    canary.ensure_canary(kube, spec, NS, f"{IMG}:2", 25, "c")
    rolling.set_image(kube, NS, "web", "app", f"{IMG}:2", "c")  # promotion had begun
    ready(kube, "web")
    actions = rollback.rollback_actions(kube, spec, plan)
    assert [a.kind for a in actions] == ["delete_canary", "undo"]
    for target in ("web-canary", "web"):
        sim.world.faults.add(Fault("PATCH", f"{DEPLOYMENTS}/{target}", status=503, count=2))
    sim.world.faults.add(Fault("DELETE", f"{DEPLOYMENTS}/web-canary", status=503, after=True))
    sim.world.audit.clear()
    rollback.apply_rollback(kube, spec, plan, actions)
    ready(kube, "web")
    assert writes(sim, "PATCH", f"{DEPLOYMENTS}/web-canary") == [(503, "status 503")] * 2 + [(200, None)]
    assert writes(sim, "DELETE", f"{DEPLOYMENTS}/web-canary") == [
        (200, "after handling: status 503"),
        (404, None),  # the retry finds it gone: the delete's desired state holds
    ]
    assert writes(sim, "PATCH", f"{DEPLOYMENTS}/web") == [(503, "status 503")] * 2 + [(200, None)]
    assert len(notes.warnings()) == 5
    now = deployment_state(kube, NS, "web")
    assert (now.images, now.template_hash, now.replicas) == (
        plan.stable.images,
        plan.stable.template_hash,
        plan.stable.replicas,
    )
    assert kube.get("deployments", NS, "web-canary") is None
    assert rollback.rollback_actions(kube, spec, plan) == [], "nothing left that differs from the plan"


def test_a_hung_call_times_out_and_is_retried(sim):
    kube, notes, _ = retrying_kube(sim, timeout=(5.0, 1.0))
    sim.world.faults.add(Fault("GET", f"{DEPLOYMENTS}/web", delay=2.5))
    assert kube.get("deployments", NS, "web")["metadata"]["name"] == "web"
    assert len(notes.warnings()) == 1
    assert f"GET {DEPLOYMENTS}/web failed (read timed out" in notes.warnings()[0]
    assert "attempt 1 of 5" in notes.warnings()[0]


def test_a_hung_write_is_retried_and_applied_once_in_effect(sim):
    kube, notes, _ = retrying_kube(sim, timeout=(5.0, 1.0))
    generation = kube.get("deployments", NS, "web")["metadata"]["generation"]
    sim.world.faults.add(Fault("PATCH", f"{DEPLOYMENTS}/web", delay=2.5, after=True))
    rolling.set_image(kube, NS, "web", "app", f"{IMG}:2", "deploy 2")
    assert "read timed out" in notes.warnings()[0]
    after = kube.get("deployments", NS, "web")
    assert after["metadata"]["generation"] == generation + 1, "the second PATCH changed nothing"
    # the held answer is audited when kubesim finally sends it (after its 2.5 s), so wait for it
    for _ in range(50):
        if len(writes(sim, "PATCH", f"{DEPLOYMENTS}/web")) == 2:
            break
        time.sleep(0.1)
    assert sorted(writes(sim, "PATCH", f"{DEPLOYMENTS}/web"), key=str) == [
        (200, "after handling: delay 2.5s"),
        (200, None),
    ]


def test_a_403_is_not_retried_and_names_the_call(sim):
    kube, notes, slept = retrying_kube(sim)
    sim.world.faults.add(Fault("PATCH", f"{DEPLOYMENTS}/web", status=403))
    with pytest.raises(KubeError) as err:
        rolling.set_image(kube, NS, "web", "app", f"{IMG}:2", "deploy 2")
    assert str(err.value).startswith(
        f"PATCH {DEPLOYMENTS}/web: 403 Forbidden: kubesim: injected fault (403) (not retried"
    )
    assert err.value.attempts == 1 and slept == [] and notes.warnings() == []
    assert len(sim.writes()) == 1, "one attempt; a retry would have succeeded (the fault was used up)"


def test_sync_and_async_transports_behave_the_same(sim):
    """The same faults, the same retries, the same words, the same final error.

    (A connection reset is left out: aiohttp re-sends an idempotent request once, at once, when a
    persistent connection drops (RFC 9112), below AsyncKube's policy; the sync transport's urllib3
    retries are off, so there the policy sees it. Both end with the answer.)
    """
    path = f"{DEPLOYMENTS}/web"

    def inject() -> None:
        sim.world.faults.add(Fault("GET", path, status=503, count=2))
        sim.world.faults.add(Fault("GET", path, delay=2.5))
        sim.world.faults.add(Fault("GET", path, status=429, retry_after="0"))

    def outcome(found: Any, notes: Notes) -> tuple[Any, list[str]]:
        # what failed, as logged: "503 ServiceUnavailable", "read timed out", ...
        return found["metadata"]["name"], [w.split("failed (")[1].split(":")[0] for w in notes.warnings()]

    kube, notes, _ = retrying_kube(sim, timeout=(5.0, 1.0))
    inject()
    sync = outcome(kube.get("deployments", NS, "web"), notes)
    sim.world.faults.add(Fault("GET", path, status=403))
    with pytest.raises(KubeError) as sync_403:
        kube.get("deployments", NS, "web")

    async def main() -> tuple[Any, str]:
        api = await async_config.new_client_from_config(config_file=str(sim.kubeconfig))
        notes = Notes()
        try:
            kube = AsyncKube(api, log=notes, timeout=(5.0, 1.0), rand=random.Random(7).random)
            inject()
            found = outcome(await kube.get("deployments", NS, "web"), notes)
            sim.world.faults.add(Fault("GET", path, status=403))
            with pytest.raises(KubeError) as async_403:
                await kube.get("deployments", NS, "web")
        finally:
            await api.close()
        return found, str(async_403.value)

    found_async, async_403 = asyncio.run(main())
    assert sync == found_async
    assert sync[1] == [
        "503 ServiceUnavailable",
        "503 ServiceUnavailable",
        "read timed out",
        "429 TooManyRequests",
    ]
    assert all(w.startswith(f"GET {path} failed (") for w in notes.warnings())
    assert str(sync_403.value) == async_403
    assert async_403.startswith(f"GET {path}: 403 Forbidden: kubesim: injected fault (403) (not retried")
