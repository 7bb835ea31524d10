"""Metrics gates start in the triggerer: every deferrable MetricsSensor of a deploy DAG gets StartTriggerArgs
for GateStartTrigger built from its own arguments, and the DAG's params pass what Airflow 3.3.2's triggerer
does with them (process_params on the serialized DAG), while a run without a version is still refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG
from airflow.sdk.definitions.param import Param, process_params
from airflow.sdk.exceptions import ParamValidationError
from airflow.serialization.serialized_objects import DagSerialization

from airlock.spec import load_spec
from deploy_dag.graph import build_deploy_dag
from deploy_dag.trigger_start import GATE_TRIGGER, gate_start_args
from sensors.metrics import MetricsSensor

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "dags" / "services" / "demo-api.yaml"
CONF = {"version": "v2", "strategy": "canary", "window": "now"}
GATES = {
    "staging.soak": ("skip_for_hotfix_or_dry_run", None),
    "production.blue_green.post_switch_metrics": ("skip_in_dry_run", "production.record_rollback_plan"),
    "validation.metrics": ("skip_in_dry_run", "production.record_rollback_plan"),
}


@pytest.fixture(scope="module")
def demo_dag() -> DAG:
    return build_deploy_dag(load_spec(DEMO), DEMO)


def test_every_metrics_gate_starts_in_the_triggerer_with_its_own_inputs(demo_dag: DAG) -> None:
    started = {t.task_id: t for t in demo_dag.tasks if t.start_from_trigger}
    assert set(started) == set(GATES), "only the metrics gates that do not ask people start in the triggerer"
    for task_id, (guard, plan_from) in GATES.items():
        args = started[task_id].start_trigger_args
        kwargs = args.trigger_kwargs
        assert (args.trigger_cls, args.next_method) == (GATE_TRIGGER, "execute_complete")
        assert (kwargs["gate"]["guard"], kwargs["plan_from"], kwargs["fenced"]) == (guard, plan_from, True)
        assert kwargs["gate"]["phase"] == started[task_id].phase
    # a canary step's analysis asks people its question before it observes: only a worker can
    assert not demo_dag.get_task("production.canary.analysis_1").start_from_trigger
    subject = started["production.blue_green.post_switch_metrics"].start_trigger_args.trigger_kwargs["gate"]
    assert "production.blue_green.switch" in subject["subject"], "the templated subject is rendered there"


def test_a_sensor_whose_inputs_the_trigger_cannot_gather_keeps_starting_on_a_worker() -> None:
    def custom_guard(context: Any) -> None: ...

    spec: dict[str, Any] = {}
    with DAG("d", schedule=None):
        unknown_guard = MetricsSensor(task_id="a", spec=spec, pre_execute=custom_guard)
        plain = MetricsSensor(task_id="b", spec=spec, plan={"recorded_at": 1.0})
    assert gate_start_args(unknown_guard, fenced=False) is None
    assert gate_start_args(plain, fenced=False) is None  # a literal plan is not a task's XCom


def test_the_serialized_gate_passes_the_triggerers_process_params(demo_dag: DAG) -> None:
    # Airflow 3.3.2's triggerer builds the context of a task it starts from the serialized DAG and runs
    # process_params on it; before deploy_dag.params gave `version` a default, this raised
    # ParamValidationError and killed the trigger runner (every trigger of the installation)
    gate = DagSerialization.from_dict(DagSerialization.to_dict(demo_dag)).get_task("validation.metrics")
    assert gate.start_from_trigger
    assert process_params(gate.dag, gate, CONF, suppress_exception=False)["version"] == "v2"


def test_a_required_param_without_default_is_what_the_triggerer_cannot_process() -> None:
    # the reason for the default: the same path fails for a param with no default, even with a value in conf
    with DAG("no_default", schedule=None, params={"version": Param(type="string")}) as dag:
        MetricsSensor(task_id="gate", spec={})
    gate = DagSerialization.from_dict(DagSerialization.to_dict(dag)).get_task("gate")
    with pytest.raises(ParamValidationError, match="No value passed"):
        process_params(gate.dag, gate, {"version": "v2"}, suppress_exception=False)


def test_a_run_without_a_version_is_still_refused_naming_version(demo_dag: DAG) -> None:
    serialized = DagSerialization.from_dict(DagSerialization.to_dict(demo_dag))
    # what the API server checks before it creates a run (REST 400 / the form)
    with pytest.raises(ParamValidationError, match="param version"):
        serialized.params.deep_merge({"strategy": "canary"}).validate()
    # what dag.test() and a worker check
    with pytest.raises(ParamValidationError, match="param version"):
        process_params(
            demo_dag, demo_dag.get_task("validate"), {"strategy": "canary"}, suppress_exception=False
        )
    version = demo_dag.params.get_param("version")
    assert version.schema["type"] == "string" and version.description.startswith("Required.")
