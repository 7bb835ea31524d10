"""A staging restore that cannot be made (issue 11 points 2 and 3): the staging tasks of deploy_<service>
(record_rollback_plan, deploy, restore) with the record and the outcome message, under dag.test() against
kubesim, the Kubernetes API turning unavailable for staging's Deployment before the restore.

The record and Slack say "staging NOT restored" (never "restored"), and a staging restore never stops the
production line: no stop mark is written, production is left alone.
"""

from __future__ import annotations

import copy
import uuid
from datetime import timedelta
from typing import Any

import pytest
from airflow.sdk import DAG, TaskGroup, TriggerRule, task

from airlock import timeouts
from airlock.spec import parse_spec, spec_to_dict
from kubesim.faults import Fault
from operators.notify import SlackNotifyOperator
from operators.plan import RecordRollbackPlanOperator
from operators.record import RecordDeploymentOperator
from operators.rollback import RollbackOperator
from operators.rollout import RollingUpdateOperator
from tests.fixtures.dag_runner import run_dag, xcom_value
from tests.fixtures.run_requests import request_for
from tests.integration.kube.conftest import IMG, NS, SCENARIO, SPEC, deployment

pytestmark = pytest.mark.integration

STAGING = "staging"


def _staging_deployment() -> dict[str, Any]:
    dep = deployment(replicas=2)
    dep["metadata"]["namespace"] = STAGING
    return dep


@pytest.fixture
def staged(make_sim: Any, airflow_db: Any, airflow_connections: Any) -> Any:
    scenario = copy.deepcopy(SCENARIO)
    scenario["namespaces"] = [NS, STAGING]
    scenario["objects"] = [*scenario["objects"], _staging_deployment()]
    sim = make_sim(scenario)
    airflow_connections(
        "kubernetes_default", {"conn_type": "kubernetes", "extra": {"kube_config_path": str(sim.kubeconfig)}}
    )
    return sim


def test_a_staging_restore_that_fails_says_not_restored_and_never_stops_the_line(
    staged: Any, airflow_connections: Any, slack_receiver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = staged
    airflow_connections("slack_deployments", slack_receiver.connection())
    monkeypatch.setattr(timeouts, "MARGIN", timedelta(0))  # a short restore deadline: 2 x rollout_timeout
    raw = {
        **SPEC,
        "kubernetes": {**SPEC["kubernetes"], "staging": {"namespace": STAGING}},
        "strategy": {**SPEC["strategy"], "rollout_timeout": "3s"},
        "notify": {"slack_connection": "slack_deployments"},
        "migration": None,
    }
    s = spec_to_dict(parse_spec(raw))
    req = request_for(s, "bad-pull", "rolling", run_id=f"manual__{uuid.uuid4().hex[:8]}")
    path = f"/apis/apps/v1/namespaces/{STAGING}/deployments/web"

    with DAG(f"staging_restore_{uuid.uuid4().hex[:8]}", schedule=None, default_args={"retries": 0}) as dag:
        with TaskGroup("staging"):
            plan = RecordRollbackPlanOperator(
                task_id="record_rollback_plan", spec=s, environment="staging", request=req
            )
            update = RollingUpdateOperator(task_id="deploy", spec=s, environment="staging", request=req)

            @task(task_id="api_turns_unavailable", trigger_rule=TriggerRule.ALL_DONE)
            def unavailable() -> None:  # every write to staging's Deployment answers 503 from now on
                sim.world.faults.add(Fault("PATCH", path, status=503, count=-1))
                sim.world.faults.add(Fault("PUT", path, status=503, count=-1))

            restore = RollbackOperator(
                task_id="restore",
                spec=s,
                environment="staging",
                plan=plan.output,
                trigger_rule=TriggerRule.ALL_DONE,
                request=req,
            )
            plan >> update >> unavailable() >> restore
        record = RecordDeploymentOperator(
            task_id="record",
            spec=s,
            sources={"staging_plan": "staging.record_rollback_plan", "staging_rollback": "staging.restore"},
            request=req,
        )
        outcome = SlackNotifyOperator(
            task_id="announce_outcome",
            spec=s,
            kind="outcome",
            record=record.output,
            trigger_rule=TriggerRule.ALL_DONE,
            request=req,
        )
        restore >> record >> outcome
    dr = run_dag(dag)

    states = {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
    assert states["staging.deploy"] == "failed" and states["staging.restore"] == "failed", states
    retried = [e for e in sim.world.audit.entries() if e["path"] == path and e.get("fault")]
    assert retried, "the restore tried to write staging's Deployment and was refused"
    assert sim.kube().get("deployments", STAGING, "web")["spec"]["template"]["spec"]["containers"][0][
        "image"
    ] == (f"{IMG}:bad-pull"), "staging still runs the failed version"

    # a staging restore never stops the production line
    assert sim.kube().get("configmaps", NS, "airlock-stop-web") is None
    assert not [w for w in sim.writes() if f"/namespaces/{NS}/" in w["path"]], sim.writes()

    rec = xcom_value(dr, "record")
    assert (rec["outcome"], rec["stopped_in"], rec["production_changed"]) == ("failed", "staging", False)
    assert rec["staging_restore"] == {
        "state": "not_restored",
        "restored": False,
        "version": "1",
        "why": "no result from the staging restore (see task staging.restore)",
    }, rec["staging_restore"]
    assert rec["line_stopped"] is None
    text = slack_receiver.texts()[-1]
    assert text.startswith("🔥 web bad-pull stopped in staging before production: "), text
    assert text.endswith(
        "(staging NOT restored: no result from the staging restore (see task staging.restore); "
        "production untouched)"
    ), text
