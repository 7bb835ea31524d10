"""The fenced deploy lock and stop-the-line over real HTTP (kubesim), the official clients and kubectl.

Two holders contending, a lease that expires mid-run (the next write is fenced: nothing sent), writes
that renew the lease, a deferred rollout wait that renews it from the trigger, and a production
rollback failing under injected faults: the line is stopped on the cluster, Slack is told, the lock is
kept, new runs are refused naming the failed run, and `kubectl delete configmap` clears it.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from airflow.sdk import DAG, TriggerRule, task

from airlock import stop_line, timeouts
from airlock.kube import canary, lock
from airlock.kube.api import Kube
from airlock.kube.lock import Fence, LeaseRef, LockHeld, LockLost
from airlock.spec import parse_spec, spec_to_dict
from kubesim.faults import Fault
from operators.lease import run_holder
from operators.lock import DeployLockOperator
from operators.plan import RecordRollbackPlanOperator
from operators.rollback import RollbackOperator
from operators.rollout import RollingUpdateOperator
from operators.validate import ValidateRequestOperator
from operators.xcom_keys import FAILURE_REASON_KEY
from tests.fixtures.dag_runner import run_dag, xcom_value
from tests.fixtures.kubesim import KUBECTL
from tests.fixtures.run_requests import request_for
from tests.integration.kube.conftest import IMG, NS, SPEC

pytestmark = pytest.mark.integration

A = "inst-a/scheduled__2026-03-03T02:00:00+00:00"
B = "inst-b/scheduled__2026-03-03T02:00:00+00:00"  # the same run id in another installation
LEASES = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases"


def fenced(sim: Any, holder: str, ttl: int) -> Kube:
    return Kube(sim.api_client(), fence=Fence(LeaseRef("kubernetes_default", NS, "web", holder, ttl)))


def holder_of(sim: Any) -> str | None:
    return (sim.kube().get("leases", NS, "airlock-web") or {}).get("spec", {}).get("holderIdentity")


def test_two_installations_racing_for_the_lock_one_wins_the_other_is_told_who(sim):
    results: dict[str, Any] = {}
    start = threading.Barrier(2)

    def take(holder: str) -> None:
        kube = sim.kube()
        start.wait()
        try:
            results[holder] = lock.acquire(kube, NS, "web", holder, 300)
        except LockHeld as exc:
            results[holder] = exc

    threads = [threading.Thread(target=take, args=(h,)) for h in (A, B)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [h for h, r in results.items() if isinstance(r, lock.LockState)]
    assert len(winners) == 1, results
    loser = B if winners == [A] else A
    assert f'is held by "{winners[0]}"' in str(results[loser])
    assert holder_of(sim) == winners[0]
    # the loser's fenced writes are refused before anything is sent
    before = len(sim.writes())
    with pytest.raises(LockLost, match=re.escape(f'"{winners[0]}" holds it')):
        canary.ensure_canary(fenced(sim, loser, 300), parse_spec(SPEC), NS, f"{IMG}:2", 25, "c")
    assert len(sim.writes()) == before


def test_a_lease_that_expires_mid_run_fences_the_next_write_once_someone_took_it(sim, spec):
    lock.acquire(sim.kube(), NS, "web", A, 2)
    kube = fenced(sim, A, 2)
    assert canary.ensure_canary(kube, spec, NS, f"{IMG}:2", 25, "c").changed  # held: written
    time.sleep(2.5)  # the run stalls past its lease (no renewal: a hung worker, a long queue)
    # nobody took it meanwhile: the run takes its own lease again and writes (no one else can have
    # written: a writer must take the lease first)
    assert canary.ensure_canary(kube, spec, NS, f"{IMG}:2", 50, "c").changed
    assert holder_of(sim) == A
    time.sleep(2.5)  # stalls again; this time another installation takes the expired lock
    lock.acquire(sim.kube(), NS, "web", B, 300)
    before = len(sim.writes())
    with pytest.raises(LockLost, match=re.escape(f'"{B}" holds it')):
        canary.ensure_canary(kube, spec, NS, f"{IMG}:2", 75, "c")
    assert len(sim.writes()) == before, "the fenced write was never sent"
    assert sim.kube().get("deployments", NS, "web-canary")["spec"]["replicas"] == 3  # the 50 % step


def test_production_writes_renew_the_lease_when_it_is_due(sim, spec):
    lock.acquire(sim.kube(), NS, "web", A, 4)
    first = sim.kube().get("leases", NS, "airlock-web")["spec"]["renewTime"]
    kube = fenced(sim, A, 4)
    canary.ensure_canary(kube, spec, NS, f"{IMG}:2", 25, "c")  # 4 s left: not due
    assert sim.kube().get("leases", NS, "airlock-web")["spec"]["renewTime"] == first
    time.sleep(2.5)  # under half the lease left: due
    canary.ensure_canary(kube, spec, NS, f"{IMG}:2", 50, "c")
    lease = sim.kube().get("leases", NS, "airlock-web")
    assert lease["spec"]["renewTime"] > first and lease["spec"]["holderIdentity"] == A
    assert [e["method"] for e in sim.writes() if e["path"] == f"{LEASES}/airlock-web"] == ["PUT"]
    time.sleep(2.5)  # 5 s after the acquire: alive only because the write renewed it
    canary.ensure_canary(kube, spec, NS, f"{IMG}:2", 25, "c")


@pytest.fixture
def k8s_conn(sim, airflow_db, airflow_connections):
    airflow_connections(
        "kubernetes_default", {"conn_type": "kubernetes", "extra": {"kube_config_path": str(sim.kubeconfig)}}
    )
    return sim


@pytest.mark.parametrize("renewing", [True, False])
def test_a_deferred_rollout_wait_renews_the_lease_from_the_trigger(k8s_conn, monkeypatch, renewing):
    import triggers.stale_event_guard as guard
    from triggers.rollout import RolloutTrigger

    monkeypatch.setattr(guard, "MIN_DEFERRAL_SECONDS", 0.0)
    sim = k8s_conn
    ttl = 3
    lock.acquire(sim.kube(), NS, "web", A, ttl)
    # a rollout that takes several leases' time: 3 pods, each ready 2 s after it starts, one at a time
    sim.kube().patch(
        "deployments",
        NS,
        "web",
        {
            "spec": {
                "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {"spec": {"containers": [{"name": "app", "image": f"{IMG}:slow-2"}]}},
            }
        },
    )
    ref = LeaseRef("kubernetes_default", NS, "web", A, ttl)
    trigger = RolloutTrigger(
        "kubernetes_default", NS, "web", timeout=60, lease=ref.to_dict() if renewing else None
    )

    async def wait() -> list[Any]:
        return [event async for event in trigger.run()]

    started = time.monotonic()
    events = asyncio.run(wait())
    waited = time.monotonic() - started
    assert events[0].payload["status"] == "success", events[0].payload
    assert waited > ttl + 1, (
        f"the wait ({waited:.1f} s) must outlast the lease for this test to mean anything"
    )
    kube = fenced(sim, A, ttl)
    if renewing:
        assert holder_of(sim) == A
        renewals = [e for e in sim.writes() if e["method"] == "PUT" and e["path"] == f"{LEASES}/airlock-web"]
        assert len(renewals) >= 2, renewals
        canary.ensure_canary(kube, parse_spec(SPEC), NS, f"{IMG}:2", 25, "c")  # still ours: allowed
    else:
        # without renewal the lease ran out during the wait: another installation can take it, and
        # then this run's next write is fenced
        lock.acquire(sim.kube(), NS, "web", B, 300)
        with pytest.raises(LockLost, match=re.escape(f'"{B}" holds it')):
            canary.ensure_canary(kube, parse_spec(SPEC), NS, f"{IMG}:2", 25, "c")


# -- stop the line ------------------------------------------------------------------------------------


def _dag() -> DAG:
    return DAG(f"stop_line_{uuid.uuid4().hex[:8]}", schedule=None, default_args={"retries": 0})


def _states(dr: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}


def test_a_rollback_failing_under_faults_stops_the_line_until_kubectl_clears_it(
    k8s_conn, airflow_connections, slack_receiver, monkeypatch
):
    sim = k8s_conn
    airflow_connections("slack_deployments", slack_receiver.connection())
    # a short rollback deadline for the test: rollout_timeout 3 s -> 2 x 3 s, no margin
    monkeypatch.setattr(timeouts, "MARGIN", timedelta(0))
    raw = {
        **SPEC,
        "owners": ["team-web"],
        "notify": {"slack_connection": "slack_deployments"},
        "strategy": {**SPEC["strategy"], "rollout_timeout": "3s"},
    }
    s = spec_to_dict(parse_spec(raw))
    run_id = f"manual__{uuid.uuid4().hex[:8]}"
    req = request_for(s, "bad-pull", "rolling", run_id=run_id)
    deployment = f"/apis/apps/v1/namespaces/{NS}/deployments/web"

    with _dag() as dag:
        take = DeployLockOperator(task_id="acquire_lock", spec=s, action="acquire", request=req)
        plan = RecordRollbackPlanOperator(task_id="plan", spec=s, request=req)
        update = RollingUpdateOperator(task_id="update", spec=s, request=req)

        @task(task_id="api_turns_flaky", trigger_rule=TriggerRule.ALL_DONE)
        def flaky() -> None:  # every write to the Deployment answers 503 from now on
            sim.world.faults.add(Fault("PATCH", deployment, status=503, count=-1))
            sim.world.faults.add(Fault("PUT", deployment, status=503, count=-1))

        rollback = RollbackOperator(
            task_id="rollback", spec=s, plan=plan.output, trigger_rule=TriggerRule.ALL_DONE, request=req
        )
        release = DeployLockOperator(task_id="release_lock", spec=s, action="release", request=req)
        release.as_teardown(setups=take)
        take >> plan >> update >> flaky() >> rollback >> release
    dr = run_dag(dag)
    states = _states(dr)
    assert states["update"] == "failed" and states["rollback"] == "failed", states

    # retried until the deadline, then stopped: the mark is on the cluster, readable with kubectl
    retries = [e for e in sim.world.audit.entries() if e["path"] == deployment and e.get("fault")]
    assert len(retries) >= 3, "the rollback kept retrying the 503s until its deadline"
    out = subprocess.run(
        [
            KUBECTL,
            "--kubeconfig",
            str(sim.kubeconfig),
            "-n",
            NS,
            "get",
            "configmap",
            "airlock-stop-web",
            "-o",
            "jsonpath={.data.failed_run} {.data.reason}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.startswith(f"{run_id} ") and "503" in out, out
    # the owners are told in Slack, with the command that clears it
    stopped = [t for t in slack_receiver.texts() if "LINE STOPPED" in t]
    assert len(stopped) == 1 and run_id in stopped[0], slack_receiver.texts()
    assert f"kubectl -n {NS} delete configmap airlock-stop-web" in stopped[0]
    # the lock is not released as if all were fine: still the failed run's, marked
    lease = sim.kube().get("leases", NS, "airlock-web")
    assert lease["spec"]["holderIdentity"] == run_holder(run_id)
    assert lease["metadata"]["annotations"][lock.STOPPED_ANNOTATION] == run_id

    # a new run is refused, naming the failed run, at validate and at the lock (another installation)
    sim.world.faults.clear()
    with pytest.raises(stop_line.LineStopped, match=f"the rollback of run {run_id} failed"):
        lock.acquire(sim.kube(), NS, "web", B, 300)
    with _dag() as again:
        ValidateRequestOperator(task_id="validate", spec=s)
    second = run_dag(again, run_conf={"version": "1.2.3", "strategy": "rolling"})
    assert _states(second)["validate"] == "failed"
    refusal = xcom_value(second, "validate", FAILURE_REASON_KEY)
    assert f"the rollback of run {run_id} failed" in refusal, refusal
    assert f"kubectl -n {NS} delete configmap airlock-stop-web" in refusal

    # a human checked production and clears the mark: runs start again
    subprocess.run(
        [KUBECTL, "--kubeconfig", str(sim.kubeconfig), "-n", NS, "delete", "configmap", "airlock-stop-web"],
        check=True,
        capture_output=True,
    )
    with _dag() as cleared:
        ValidateRequestOperator(task_id="validate", spec=s)
    third = run_dag(cleared, run_conf={"version": "1.2.3", "strategy": "rolling"})
    assert _states(third)["validate"] == "success"


def test_a_rollback_that_died_without_running_its_code_still_stops_the_line(k8s_conn):
    """The rollback's on_failure_callback: a deferral timeout or a killed worker fails the task without
    its except clause ever running; the callback writes the mark (once) and then runs the next callback."""
    from types import SimpleNamespace

    from operators.rollback import stop_line_callback

    sim = k8s_conn
    told: list[Any] = []
    callback = stop_line_callback(spec_to_dict(parse_spec(SPEC)), told.append)
    context: Any = {
        "ti": SimpleNamespace(task=SimpleNamespace(environment="production")),
        "run_id": "manual__died",
        "exception": "Trigger timeout",
    }
    callback(context)
    callback(context)  # a second failure notice changes nothing: the first reason stays
    mark = stop_line.read_mark(sim.kube(), "web", NS)
    assert mark is not None and mark.run_id == "manual__died", mark
    assert mark.reason == "rollback task failed: Trigger timeout"
    assert told == [context, context], "the Slack failure callback still runs after it"
    creates = [e for e in sim.writes() if e["method"] == "POST" and e["path"].endswith("/configmaps")]
    assert len(creates) == 1


def test_a_deliberate_wait_in_a_locked_run_keeps_the_lease(k8s_conn, monkeypatch):
    """Blue-green keeps the old colour for keep_old_for (default 30 min, longer than the lease): its
    timer renews the lock, so retiring the old colour afterwards is not fenced."""
    import triggers.stale_event_guard as guard
    from triggers.lease_keeper import LeaseKeepingTimer

    monkeypatch.setattr(guard, "MIN_DEFERRAL_SECONDS", 0.0)
    sim, ttl = k8s_conn, 3
    lock.acquire(sim.kube(), NS, "web", A, ttl)
    ref = LeaseRef("kubernetes_default", NS, "web", A, ttl)
    timer = LeaseKeepingTimer(6.0, ref.to_dict())

    async def wait() -> list[Any]:
        return [event async for event in timer.run()]

    events = asyncio.run(wait())
    assert events[0].payload["status"] == "done" and events[0].payload["waited_seconds"] >= 6
    assert holder_of(sim) == A
    canary.ensure_canary(fenced(sim, A, ttl), parse_spec(SPEC), NS, f"{IMG}:2", 25, "c")  # not fenced
