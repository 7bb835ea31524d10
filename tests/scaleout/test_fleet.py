"""The scale-out's generated inputs stay valid as Airlock's spec evolves (no stack needed)."""

from __future__ import annotations

from pathlib import Path

import yaml

from airlock.spec import load_spec
from demo.scaleout import (
    BAD,
    DAG_FILE,
    FAULT_SERVICES,
    GOOD,
    OLD,
    percentile,
    throughput_services,
    why_not_deployed,
    write_fleet,
)
from kubesim.scenario import parse_scenario


def test_fleet_specs_load_and_scenario_runs_every_service(tmp_path: Path) -> None:
    fleet = [*FAULT_SERVICES, *throughput_services(3)]
    dags, scenario_path = write_fleet(tmp_path, fleet)
    assert (dags / "deploy_services.py").read_text() == DAG_FILE.read_text()
    for service in fleet:
        spec = load_spec(dags / "services" / f"{service.name}.yaml")
        assert spec.service == service.name and spec.strategy.default == service.strategy
    scenario = parse_scenario(yaml.safe_load(scenario_path.read_text()))
    deployments = {
        (o["metadata"]["namespace"], o["metadata"]["name"])
        for o in scenario.objects
        if o["kind"] == "Deployment"
    }
    assert deployments == {(ns, s.name) for s in fleet for ns in ("staging", "production")}
    # the bad release fails a quarter of its requests, the others are healthy
    assert scenario.profile_for(f"registry.example/so-canary-bad:{BAD}").error_rate == 0.25
    for version in (OLD, GOOD):
        assert scenario.profile_for(f"registry.example/so-canary:{version}").error_rate < 0.01


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile([3.0], 95) == 3.0
    assert percentile([], 50) != percentile([], 50)  # NaN


class _Api:
    def __init__(self, record: dict | None) -> None:
        self.record = record

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> dict | None:
        assert task_id == "record"
        return self.record


class _Stack:
    """What why_not_deployed reads: failed task instances from the metadata DB, the record over REST."""

    def __init__(self, failed: list[tuple[str, int]], record: dict | None) -> None:
        self.failed, self.api = failed, _Api(record)
        self.asked: list[tuple] = []

    def query(self, sql: str, *params: object) -> list[tuple[str, int]]:
        self.asked.append(params)
        return self.failed


def test_a_run_that_did_not_deploy_says_which_tasks_failed_and_what_its_record_says() -> None:
    stack = _Stack(
        [("validation.health", 3)],
        {"outcome": "rolled_back", "stopped_in": "validation", "reason": "health: 2 of 2 pods not ready"},
    )
    line = why_not_deployed(stack, "deploy_so-fleet-39", "manual__1", "failed")  # type: ignore[arg-type]
    assert line == (
        "deploy_so-fleet-39: failed; failed tasks: validation.health (try 3); record rolled_back, stopped in "
        "validation: health: 2 of 2 pods not ready"
    )
    assert stack.asked == [("deploy_so-fleet-39", "manual__1")]
    # a run with no record and no failed task (it timed out, say) says so too
    assert (
        why_not_deployed(_Stack([], None), "d", "r", "running") == "d: running; failed tasks: none; no record"
    )  # type: ignore[arg-type]
