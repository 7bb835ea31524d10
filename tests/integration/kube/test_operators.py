"""Operators under dag.test(): deferral through the triggers, retries that write nothing, rollback result.

A "retry" is simulated by a second task with the same arguments in the same dag run (same run_id),
preceded by a task that snapshots kubesim's audit log: the retry must add no write.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from airflow.sdk import DAG, TriggerRule, task

from airlock.spec import parse_spec, spec_to_dict
from operators.blue_green import BlueGreenDeployOperator, BlueGreenFinalizeOperator, BlueGreenSwitchOperator
from operators.canary import CanaryPromoteOperator, CanaryStepOperator
from operators.lock import DeployLockOperator
from operators.migration import MigrationOperator
from operators.plan import RecordRollbackPlanOperator
from operators.rollback import RollbackOperator
from operators.rollout import RollingUpdateOperator
from sensors.rollout import RolloutSensor
from tests.fixtures.dag_runner import run_dag
from tests.fixtures.run_requests import request_for
from tests.integration.kube.conftest import IMG, NS, SPEC

pytestmark = pytest.mark.integration


@pytest.fixture
def k8s_conn(sim, airflow_db, airflow_connections):
    airflow_connections(
        "kubernetes_default", {"conn_type": "kubernetes", "extra": {"kube_config_path": str(sim.kubeconfig)}}
    )
    return sim


def _dag() -> DAG:
    # no params: operators act on the RunRequest they are given (`request=`), as they never read params
    return DAG(f"kube_ops_{uuid.uuid4().hex[:8]}", schedule=None, default_args={"retries": 0})


def _run(dag: DAG) -> Any:
    return run_dag(dag)


class Snap:
    """Audit-log snapshots taken from inside the dag run (tasks run in this process under dag.test)."""

    def __init__(self, sim) -> None:
        self.sim = sim
        self.counts: dict[str, int] = {}
        self.xcoms: dict[str, Any] = {}

    def task(self, name: str):
        @task(task_id=f"snap_{name}", trigger_rule=TriggerRule.ALL_DONE)
        def snap() -> None:
            self.counts[name] = len(self.sim.writes())

        return snap()

    def grab(self, *task_ids: str):
        @task(task_id="grab", trigger_rule=TriggerRule.ALL_DONE)
        def grab(**context) -> None:
            for tid in task_ids:
                self.xcoms[tid] = context["ti"].xcom_pull(task_ids=tid)

        return grab()


def _states(dr) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}


def test_rolling_plan_lock_sensor_and_retries(k8s_conn):
    sim, s, snap = k8s_conn, spec_to_dict(parse_spec(SPEC)), Snap(k8s_conn)
    req = request_for(s, "2", "rolling")
    with _dag() as dag:
        lock = DeployLockOperator(task_id="lock", spec=s, action="acquire", request=req)
        plan = RecordRollbackPlanOperator(task_id="plan", spec=s, request=req)
        update = RollingUpdateOperator(task_id="update", spec=s, request=req)
        sensor = RolloutSensor(task_id="sensor", namespace=NS, deployment="web", timeout=30)
        s1 = snap.task("after_first")
        lock2 = DeployLockOperator(task_id="lock_retry", spec=s, action="acquire", request=req)
        plan2 = RecordRollbackPlanOperator(task_id="plan_retry", spec=s, request=req)
        update2 = RollingUpdateOperator(task_id="update_retry", spec=s, request=req)
        s2 = snap.task("after_retry")
        release = DeployLockOperator(task_id="release", spec=s, action="release", request=req)
        grab = snap.grab("plan", "plan_retry", "update", "sensor")
        lock >> plan >> update >> sensor >> s1 >> lock2 >> plan2 >> update2 >> s2 >> release >> grab
    dr = _run(dag)
    assert str(dr.state) == "success", _states(dr)
    assert snap.counts["after_retry"] == snap.counts["after_first"], "the retries wrote nothing"
    assert snap.xcoms["plan"] == snap.xcoms["plan_retry"]
    assert snap.xcoms["plan"]["stable"]["images"]["app"] == f"{IMG}:1"
    assert snap.xcoms["update"]["status"] == "rolled_out", snap.xcoms["update"]
    assert snap.xcoms["update"]["image"] == f"{IMG}:2", snap.xcoms["update"]
    assert snap.xcoms["sensor"]["status"] == "success"
    dep = sim.kube().get("deployments", NS, "web")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == f"{IMG}:2"
    lease = sim.kube().get("leases", NS, "airlock-web")
    assert not lease["spec"].get("holderIdentity"), "released"


@pytest.mark.parametrize("image", ["bad-pull", "crash"])
def test_failed_rolling_update_is_rolled_back_with_evidence(k8s_conn, image):
    s, snap = spec_to_dict(parse_spec(SPEC)), Snap(k8s_conn)
    req = request_for(s, image, "rolling")
    with _dag() as dag:
        plan = RecordRollbackPlanOperator(task_id="plan", spec=s, request=req)
        update = RollingUpdateOperator(task_id="update", spec=s, request=req)
        rb = RollbackOperator(
            task_id="rollback", spec=s, plan=plan.output, trigger_rule=TriggerRule.ONE_FAILED, request=req
        )
        s1 = snap.task("after_rollback")
        rb2 = RollbackOperator(
            task_id="rollback_retry",
            spec=s,
            plan=plan.output,
            trigger_rule=TriggerRule.ALL_DONE,
            reason="retry",
            request=req,
        )
        s2 = snap.task("after_retry")
        grab = snap.grab("rollback", "rollback_retry", "plan")
        plan >> update >> rb >> s1 >> rb2 >> s2 >> grab
    dr = _run(dag)
    states = _states(dr)
    assert states["update"] == "failed" and states["rollback"] == "success", states
    result = snap.xcoms["rollback"]
    assert result["healthy"] is True and result["strategy"] == "rolling"
    assert "task update failed" in result["reason"]
    kind = "cannot pull image" if image == "bad-pull" else "crash-looping"
    assert kind in result["reason"], result["reason"]
    assert result["restored"]["images"] == snap.xcoms["plan"]["stable"]["images"]
    assert result["evidence"]["pods"], "pod statuses collected"
    assert snap.counts["after_retry"] == snap.counts["after_rollback"], "second rollback wrote nothing"
    assert snap.xcoms["rollback_retry"]["noop"] is True


def test_rollback_without_plan_and_dry_run(k8s_conn):
    sim, s, snap = k8s_conn, spec_to_dict(parse_spec(SPEC)), Snap(k8s_conn)
    before = len(sim.writes())
    dry = request_for(s, "2", "canary", canary_steps=[25, 100], dry_run=True)
    with _dag() as dag:
        nothing = RollbackOperator(
            task_id="no_plan", spec=s, plan=None, reason="validation failed", request=dry
        )
        plan = RecordRollbackPlanOperator(task_id="plan", spec=s, request={**dry, "dry_run": False})
        step = CanaryStepOperator(task_id="step", spec=s, slot=0, request=dry)
        update = RollingUpdateOperator(task_id="update", spec=s, request=dry)
        rb = RollbackOperator(task_id="rollback", spec=s, plan=plan.output, request=dry)
        grab = snap.grab("no_plan", "step", "update", "rollback")
        nothing >> plan >> step >> update >> rb >> grab
    dr = _run(dag)
    assert str(dr.state) == "success", _states(dr)
    assert snap.xcoms["no_plan"]["noop"] and snap.xcoms["no_plan"]["reason"] == "validation failed"
    assert snap.xcoms["step"]["status"] == "dry_run" and snap.xcoms["update"]["status"] == "dry_run"
    writes = sim.writes()[before:]
    assert [w["method"] for w in writes] == ["PATCH"], "only the (non-dry-run) plan annotation was written"
    assert sim.kube().get("deployments", NS, "web-canary") is None


def test_canary_operators_step_promote(k8s_conn):
    sim, s, snap = k8s_conn, spec_to_dict(parse_spec(SPEC)), Snap(k8s_conn)
    req = request_for(s, "2", "canary", canary_steps=[10, 50, 100])
    with _dag() as dag:
        step1 = CanaryStepOperator(task_id="step_1", spec=s, slot=0, request=req)
        step2 = CanaryStepOperator(task_id="step_2", spec=s, slot=1, request=req)
        s1 = snap.task("before_retry")
        step2b = CanaryStepOperator(task_id="step_2_retry", spec=s, slot=1, request=req)
        s2 = snap.task("after_retry")
        promote = CanaryPromoteOperator(task_id="promote", spec=s, request=req)
        grab = snap.grab("step_1", "step_2", "promote")
        step1 >> step2 >> s1 >> step2b >> s2 >> promote >> grab
    dr = _run(dag)
    assert str(dr.state) == "success", _states(dr)
    assert snap.counts["before_retry"] == snap.counts["after_retry"]
    assert snap.xcoms["step_1"]["replicas"] == 1 and snap.xcoms["step_2"]["replicas"] == 3
    assert snap.xcoms["promote"]["canary_removed"] is True
    kube = sim.kube()
    assert kube.get("deployments", NS, "web-canary") is None
    assert (
        kube.get("deployments", NS, "web")["spec"]["template"]["spec"]["containers"][0]["image"] == f"{IMG}:2"
    )


def test_blue_green_operators(k8s_conn):
    sim, s, snap = k8s_conn, spec_to_dict(parse_spec(SPEC)), Snap(k8s_conn)
    req = request_for(s, "2", "blue_green")
    with _dag() as dag:
        plan = RecordRollbackPlanOperator(task_id="plan", spec=s, request=req)
        deploy = BlueGreenDeployOperator(task_id="deploy_green", spec=s, request=req)
        switch = BlueGreenSwitchOperator(task_id="switch", spec=s, request=req)
        s1 = snap.task("before_retry")
        switch2 = BlueGreenSwitchOperator(task_id="switch_retry", spec=s, request=req)
        deploy2 = BlueGreenDeployOperator(task_id="deploy_retry", spec=s, request=req)
        s2 = snap.task("after_retry")
        finalize = BlueGreenFinalizeOperator(
            task_id="finalize", spec=s, plan=plan.output, keep_old_for=timedelta(seconds=1), request=req
        )
        grab = snap.grab("deploy_green", "switch", "finalize")
        plan >> deploy >> switch >> s1 >> switch2 >> deploy2 >> s2 >> finalize >> grab
    dr = _run(dag)
    assert str(dr.state) == "success", _states(dr)
    assert snap.counts["before_retry"] == snap.counts["after_retry"]
    assert snap.xcoms["deploy_green"]["preview_service"] == "web-preview"
    assert snap.xcoms["switch"]["colour"] == "green"
    assert snap.xcoms["finalize"]["retired"] == "web"
    kube = sim.kube()
    assert kube.get("services", NS, "web")["spec"]["selector"] == {"app": "web", "track": "green"}
    assert kube.get("deployments", NS, "web")["spec"]["replicas"] == 0
    assert kube.get("deployments", NS, "web-green")["spec"]["replicas"] == 3
    assert kube.get("services", NS, "web-preview") is None


def test_migration_operator_and_irreversible_rollback(k8s_conn):
    snap = Snap(k8s_conn)
    s = spec_to_dict(parse_spec({**SPEC, "migration": {"command": ["migrate"], "reversible": False}}))
    req = request_for(s, "2", "rolling")
    with _dag() as dag:
        plan = RecordRollbackPlanOperator(task_id="plan", spec=s, request=req)
        mig = MigrationOperator(task_id="migrate", spec=s, request=req)
        s1 = snap.task("before_retry")
        mig2 = MigrationOperator(task_id="migrate_retry", spec=s, request=req)
        s2 = snap.task("after_retry")
        rb = RollbackOperator(
            task_id="rollback", spec=s, plan=plan.output, reason="smoke failed", request=req
        )
        grab = snap.grab("migrate", "migrate_retry")
        plan >> mig >> s1 >> mig2 >> s2 >> rb >> grab
    dr = _run(dag)
    states = _states(dr)
    assert states["migrate"] == "success" and states["rollback"] == "failed", states
    assert snap.xcoms["migrate"] == {"job": "web-migrate-2", "status": "Complete", "reversible": False}
    assert snap.xcoms["migrate_retry"]["status"] == "Complete"
    assert snap.counts["before_retry"] == snap.counts["after_retry"]
    assert json.dumps(snap.xcoms["migrate"])
