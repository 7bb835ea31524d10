"""Where the approvals sit in the deploy DAG (deploy_dag.graph), and that they exist only when turned on."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from airlock.spec import parse_spec
from deploy_dag.graph import build_deploy_dag
from operators.approval import DeploymentApprovalOperator
from sensors.metrics import MetricsSensor

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "dags" / "services" / "demo-api.yaml"
BEFORE, PROMOTION = "approval.before_production", "production.canary.approve_promotion"


def _last_analysis(dag: Any) -> str:
    ids = [t.task_id for t in dag.tasks if t.task_id.startswith("production.canary.analysis_")]
    return max(ids, key=lambda i: int(i.rsplit("_", 1)[1]))


def _dag(**approvals: Any) -> Any:
    data = yaml.safe_load(DEMO.read_text())
    if approvals:
        data["approvals"] = {"approvers": ["alice"], "timeout": "2h", **approvals}
    return build_deploy_dag(parse_spec(data), DEMO)


def test_no_approval_tasks_unless_the_spec_asks() -> None:
    dag = _dag()
    assert not [t for t in dag.tasks if isinstance(t, DeploymentApprovalOperator)]
    assert dag.get_task("production.canary.promote").upstream_task_ids == {_last_analysis(dag)}


def test_before_production_sits_between_staging_and_the_rollback_plan() -> None:
    dag = _dag(before_production=True)
    approve = dag.get_task(BEFORE)
    staging = {
        t.task_id for t in dag.tasks if t.task_id.startswith("staging.") and t.task_id != "staging.restore"
    }
    assert approve.upstream_task_ids == staging - {"staging.record_rollback_plan"}
    plan = dag.get_task("production.record_rollback_plan")
    # the plan waits for the approval, and keeps staging's edges: a dry run skips the approval, not production
    assert plan.upstream_task_ids == approve.upstream_task_ids | {BEFORE}
    assert approve.retries == 1 and approve.execution_timeout == timedelta(hours=2, minutes=10)
    assert set(approve.params) == {"comment"}  # its form, not the DAG's params
    assert "version" in dag.get_task("preflight.checks").params


def test_before_the_last_canary_step_sits_between_the_last_analysis_and_promote() -> None:
    dag = _dag(before_last_canary_step=True)
    approve = dag.get_task(PROMOTION)
    assert approve.upstream_task_ids == {_last_analysis(dag)}
    assert dag.get_task("production.canary.promote").upstream_task_ids == {PROMOTION}
    assert approve.trigger_rule == "none_failed"  # a run of steps [100] skips every analysis and is asked
    # a rejection fails it inside the production group: the rollback watches it
    assert PROMOTION in dag.get_task("rollback").get_flat_relative_ids(upstream=True)
    assert approve.evidence_sources["plan"] == ["production.record_rollback_plan"]


def test_the_record_gathers_decisions_from_every_question() -> None:
    dag = _dag(before_production=True, before_last_canary_step=True)
    sources = dag.get_task("record").sources["decisions"]
    asking = [t.task_id for t in dag.tasks if isinstance(t, (DeploymentApprovalOperator, MetricsSensor))]
    assert sorted(sources) == sorted(f"{t}:decisions" for t in asking)
    assert {BEFORE, PROMOTION} <= {s.split(":")[0] for s in sources}
