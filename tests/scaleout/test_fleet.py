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
