"""A production rollback whose process died (SIGKILL, OOM) stops the line through the record task.

In Airflow 3 a task whose process is killed under a live supervisor is marked failed and its
on_failure_callback never runs, so the rollback's own stop-the-line handling is skipped (seen in the fault
matrix, f05). The record task, which runs after the rollback whatever happened, finds the rollback failed
with no stop mark and stops the line itself: the mark is on the cluster naming the run, the owners are
told, and the record says so. Under dag.test() against kubesim; the killed rollback is a task that fails
without running any of the rollback's code, which is what a SIGKILL leaves behind.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from airflow.sdk import DAG, TriggerRule, task
from airflow.sdk.exceptions import AirflowFailException

from airlock.spec import parse_spec, spec_to_dict
from operators.record import RecordDeploymentOperator
from operators.xcom_keys import LINE_STOPPED_KEY
from tests.fixtures.dag_runner import run_dag, xcom_value
from tests.fixtures.run_requests import request_for
from tests.integration.kube.conftest import NS, SPEC

pytestmark = pytest.mark.integration

SOURCES: dict[str, str | list[str]] = {"rollback": "rollback", "line_stopped": f"rollback:{LINE_STOPPED_KEY}"}


@pytest.fixture
def spec(sim: Any, airflow_db: Any, airflow_connections: Any, slack_receiver: Any) -> dict[str, Any]:
    airflow_connections(
        "kubernetes_default", {"conn_type": "kubernetes", "extra": {"kube_config_path": str(sim.kubeconfig)}}
    )
    airflow_connections("slack_deployments", slack_receiver.connection())
    return spec_to_dict(parse_spec({**SPEC, "notify": {"slack_connection": "slack_deployments"}}))


def _run(spec: dict[str, Any], rollback_fails: bool) -> Any:
    req = request_for(spec, "2", "rolling")
    with DAG(f"killed_rollback_{uuid.uuid4().hex[:8]}", schedule=None, default_args={"retries": 0}) as dag:

        @task(task_id="rollback")
        def rollback() -> dict[str, Any]:
            if rollback_fails:  # what a killed rollback leaves: failed, no result, no stop mark
                raise AirflowFailException("Process terminated by signal")
            return {"noop": False, "healthy": True, "reason": "canary gate failed"}

        rollback() >> RecordDeploymentOperator(
            task_id="record", spec=spec, sources=SOURCES, request=req, trigger_rule=TriggerRule.ALL_DONE
        )
    return run_dag(dag)


def test_a_rollback_that_died_without_its_failure_handling_stops_the_line(
    spec: dict[str, Any], sim: Any, slack_receiver: Any
) -> None:
    dr = _run(spec, rollback_fails=True)
    run_id = dr.run_id

    mark = sim.kube().get("configmaps", NS, "airlock-stop-web")
    assert mark is not None, "no stop mark on the cluster"
    assert mark["data"]["failed_run"] == run_id, mark["data"]
    assert "its process died" in mark["data"]["reason"], mark["data"]
    record = xcom_value(dr, "record")
    assert record["line_stopped"] and record["line_stopped"]["run_id"] == run_id, record["line_stopped"]
    assert any("web" in t and run_id in t for t in slack_receiver.texts()), slack_receiver.texts()


def test_a_rollback_that_finished_leaves_the_line_open(spec: dict[str, Any], sim: Any) -> None:
    dr = _run(spec, rollback_fails=False)

    assert sim.kube().get("configmaps", NS, "airlock-stop-web") is None
    assert xcom_value(dr, "record")["line_stopped"] is None
