"""A planned run waiting for its window must not keep a hotfix of the same service from starting
(issue 13 point 2), checked on the real `deploy_demo-api` DAG's structure: the wait comes before the
lock (so a waiting run holds no Lease), the tasks before the lock never write to the cluster, and the
DAG allows more than one active run (so a waiting run does not hold the only run slot). The rollback
plan is recorded after the lock, so a planned run whose window opens after a hotfix plans against the
production it then finds.

The runtime proof is the fault matrix's f25 (tests/faults/hotfix_during_wait.py): through a real Airflow,
a planned run defers at its window gate holding no Lease, a hotfix of the same service deploys v2 and
releases the lock meanwhile, and the planned run, once its window opens, records v2 as its rollback plan
and deploys. (Two dag.test() runs at once cannot show it in one test process: dag.test() keeps its
metadata-DB transaction open while a trigger runs inline, so a second run blocks on the DB.)

When the window opens while the hotfix still holds the lock, the planned run waits for it at
`acquire_lock` (airlock.lock_wait): shown here under dag.test() on the real graph, the hotfix being a
thread that holds the Lease, rolls production to v2.0.0 and then releases the lock, as its run would.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from airlock.kube import lock
from airlock.kube.api import Kube
from operators._kube import KubeOperator
from operators.lease import run_holder
from operators.lock import DeployLockOperator
from tests.fixtures.dag_runner import run_dag, xcom_value
from tests.integration.dag.conftest import IMAGE, NS, build_dag, demo_spec, dump

pytestmark = pytest.mark.integration


def _upstream(dag: Any, task_id: str) -> set[str]:
    seen: set[str] = set()
    todo = [task_id]
    while todo:
        for up in dag.get_task(todo.pop()).upstream_task_ids:
            if up not in seen:
                seen.add(up)
                todo.append(up)
    return seen


def test_a_planned_run_waiting_for_its_window_holds_no_lock_and_no_run_slot() -> None:
    dag = build_dag(demo_spec(windows={"timezone": "UTC", "off_peak": ["Daily 02:00-04:00"]}))
    assert dag.max_active_runs > 1, "a waiting run must not take the DAG's only active-run slot"
    before_lock = _upstream(dag, "acquire_lock")
    assert before_lock == {"validate", "preflight.window"}, before_lock
    assert "acquire_lock" not in _upstream(dag, "preflight.window"), "the lock is taken after the wait"
    for task_id in before_lock:
        task = dag.get_task(task_id)
        assert not isinstance(task, KubeOperator | DeployLockOperator), f"{task_id} must not write"
    plan = "production.record_rollback_plan"
    assert "acquire_lock" in _upstream(dag, plan), "the rollback plan is recorded after the lock"
    assert "preflight.window" in _upstream(dag, plan)


HOTFIX = "airflow-other/manual__hotfix"


def _rolled_out(kube: Kube, version: str) -> bool:
    dep = kube.get("deployments", NS, "demo-api") or {}
    status, replicas = dep.get("status") or {}, (dep.get("spec") or {}).get("replicas")
    return (
        dep["spec"]["template"]["spec"]["containers"][0]["image"] == f"{IMAGE}:{version}"
        and (status.get("observedGeneration") or 0) >= (dep["metadata"].get("generation") or 0)
        and status.get("updatedReplicas") == status.get("readyReplicas") == status.get("replicas") == replicas
    )


def test_a_planned_run_whose_window_opens_while_a_hotfix_holds_the_lock_waits_then_plans_against_it(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import triggers.lock_wait as lock_wait_trigger

    kube = Kube(world.sim.api_client())
    lock.acquire(kube, NS, "demo-api", HOTFIX, 300)  # the hotfix is deploying when the planned run starts
    seen = threading.Event()
    decide = lock_wait_trigger.decide_lock_wait

    def spy(*args: Any, **kwargs: Any) -> Any:  # the planned run's trigger saw the hotfix holding the lock
        decision = decide(*args, **kwargs)
        if decision.action == "wait":
            seen.set()
        return decision

    monkeypatch.setattr(lock_wait_trigger, "decide_lock_wait", spy)
    problems: list[str] = []

    def hotfix() -> None:
        """The hotfix's production step (v2.0.0 everywhere), its own validation, then its lock release."""
        try:
            if not seen.wait(120):
                problems.append("the planned run never waited for the lock")
                return
            dep = kube.get("deployments", NS, "demo-api") or {}
            dep["spec"]["template"]["spec"]["containers"][0]["image"] = f"{IMAGE}:v2.0.0"
            kube.replace("deployments", NS, "demo-api", dep)
            deadline = time.monotonic() + 60
            while not _rolled_out(kube, "v2.0.0"):
                if time.monotonic() > deadline:
                    problems.append("the hotfix's rollout did not complete in 60 s")
                    return
                time.sleep(0.2)
            time.sleep(8)  # v2.0.0 serves (and is scraped) before the lock is released: the next baseline
            lock.release(kube, NS, "demo-api", HOTFIX)
        except Exception as exc:  # noqa: BLE001 - reported by the test, not lost in the thread
            problems.append(f"the hotfix thread failed: {exc!r}")

    thread = threading.Thread(target=hotfix, daemon=True)
    thread.start()
    # an inconclusive gate rolls back rather than ask a person (dag.test() has nobody to answer)
    spec = demo_spec(kubernetes={"staging": None}, metrics={"on_inconclusive": "rollback"})
    dr = run_dag(
        build_dag(spec), run_conf={"version": "v2.1.0", "strategy": "rolling", "window": "next_window"}
    )
    thread.join(timeout=120)
    assert not problems, problems

    states = {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
    assert str(dr.state) == "success", dump(states)
    me = run_holder(dr.run_id)
    assert xcom_value(dr, "acquire_lock")["holder"] == me
    # the rollback plan is the production the hotfix left, not the v1 there when the run was triggered
    plan = xcom_value(dr, "production.record_rollback_plan")
    assert plan["stable"]["images"]["app"] == f"{IMAGE}:v2.0.0", dump(plan)
    record = xcom_value(dr, "record")
    assert (record["outcome"], record["previous_version"]) == ("succeeded", "v2.0.0"), dump(record)
    assert world.image() == f"{IMAGE}:v2.1.0"
    # the Lease went hotfix -> released -> this run -> released: never a write over a live holder
    holders: list[str | None] = []
    for e in world.writes():
        if e["path"].endswith("/leases/airlock-demo-api") and e["method"] == "PUT":
            holder = ((e.get("body") or {}).get("spec") or {}).get("holderIdentity")
            if not holders or holders[-1] != holder:
                holders.append(holder)
    assert holders == [None, me, None], holders
    assert world.slack.texts()[-1].startswith("✅ demo-api v2.1.0 deployed (rolling)"), world.slack.texts()
