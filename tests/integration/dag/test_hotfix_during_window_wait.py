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
"""

from __future__ import annotations

from typing import Any

import pytest

from operators._kube import KubeOperator
from operators.lock import DeployLockOperator
from tests.integration.dag.conftest import build_dag, demo_spec

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
