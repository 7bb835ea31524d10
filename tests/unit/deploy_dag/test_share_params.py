"""share_params sets a scheduled DAG's params without Airflow's per-parse schema checks, so it must refuse
what Airflow's DAG._validate_params refuses: a param without a default, or a default its schema rejects."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.sdk import DAG, Param
from airflow.sdk.definitions.param import ParamsDict

from airlock.spec import load_spec
from deploy_dag.graph import build_deploy_dag, validate_scheduled_defaults

SERVICES = Path(__file__).resolve().parents[3] / "dags" / "services"


@pytest.mark.parametrize(
    "params",
    [
        {"version": Param(type="string")},  # no default
        {"risk": Param("later", type="string", enum=["planned", "hotfix"])},
        {"steps": Param("25,x", type="string", pattern=r"^\d+(,\d+)*$")},
        {"ok": Param(False, type="boolean"), "when": Param(3, type="string")},
    ],
)
def test_what_airflow_refuses_for_a_scheduled_dag_is_refused(params: dict[str, Param]) -> None:
    with pytest.raises(ValueError, match="not allowed to define a Schedule"):
        DAG("airflow_check", schedule="@daily", params=dict(params))  # Airflow's own check
    with pytest.raises(ValueError, match="not allowed to define a Schedule"):
        validate_scheduled_defaults("ours", params)


def test_valid_defaults_pass_and_the_release_train_dag_gets_the_same_params() -> None:
    spec = load_spec(SERVICES / "payment-service.yaml")
    assert spec.windows.release_train, "the shipped release-train example"
    dag = build_deploy_dag(spec, SERVICES / "payment-service.yaml")
    assert dag.timetable.can_be_scheduled
    assert isinstance(dag.params, ParamsDict)
    assert dag.params.validate() == {name: p.value for name, p in dag.params.items()}
    assert all(
        task.params is dag.params for task in dag.tasks if task.task_id != "approval.before_production"
    )
