"""Issue 11 point 4: `post_switch_duration` is honoured. `deploy_demo-api` (blue-green) under dag.test()
against kubesim scraped by a real Prometheus (the DAG tests' world: tests/integration/dag/conftest.py):

* healthy v2: after the switch, the post-switch gate observes green under full traffic for the whole
  post_switch_duration (20 s here, longer than validation and keep_old_for together), and only then may
  the old colour be retired - measured on kubesim's audit log: the Service's switch and blue's scale to 0;
* v3 (8 % errors, healthy on /health): the post-switch gate fails naming green's error rate, and the
  rollback sends traffic back to blue, which was never scaled down.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.dag_runner import run_dag, xcom_value
from tests.integration.dag.conftest import IMAGE, NS, build_dag, demo_spec, dump

pytestmark = pytest.mark.integration

POST_SWITCH_S = 20.0


def _spec(**blue_green: Any) -> Any:
    timing = {"post_switch_duration": f"{POST_SWITCH_S:g}s", "keep_old_for": "1s"}
    return demo_spec(kubernetes={"staging": None}, strategy={"blue_green": {**timing, **blue_green}})


def _states(dr: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}


def _writes(world: Any, suffix: str) -> list[dict[str, Any]]:
    return [w for w in world.writes() if w["path"].endswith(suffix) and w["status"] < 300]


def test_the_old_colour_is_retired_only_after_post_switch_duration_under_full_traffic(world: Any) -> None:
    dr = run_dag(
        build_dag(_spec()), run_conf={"window": "now", "version": "v2.0.0", "strategy": "blue_green"}
    )

    st = _states(dr)
    assert str(dr.state) == "success", dump(st)
    assert st["production.blue_green.post_switch_metrics"] == "success", dump(st)
    # the switch (the live Service's selector to green) and the retirement (blue scaled to 0), as kubesim saw them
    switch = [w for w in _writes(world, f"/namespaces/{NS}/services/demo-api") if "green" in str(w["body"])]
    retire = [
        w
        for w in _writes(world, f"/namespaces/{NS}/deployments/demo-api")
        if w["body"] == {"spec": {"replicas": 0}}
    ]
    assert len(switch) == 1 and len(retire) == 1, dump(world.writes())
    assert retire[0]["timestamp"] - switch[0]["timestamp"] >= POST_SWITCH_S, (
        switch[0]["time"],
        retire[0]["time"],
    )
    # the gate observed green for the whole duration (no early pass) and judged it against v1's own window
    verdict = xcom_value(dr, "production.blue_green.post_switch_metrics")
    assert verdict["phase"] == "post_switch" and verdict["decision"] == "pass", verdict["reason"]
    assert verdict["elapsed_s"] >= POST_SWITCH_S and not verdict["early_stop"]
    assert verdict["reason"].startswith("no rule failed") and "green error rate" in verdict["reason"]
    samples = next(m for m in verdict["metrics"] if m["name"] == "error_rate")["samples"]
    assert samples["canary_requests"] > 1000 and samples["baseline_requests"] > 1000, samples
    # validation is a separate window after it
    validation = xcom_value(dr, "validation.metrics")
    assert validation["phase"] == "validation" and validation["duration_s"] == 6.0
    assert "new version error rate" in validation["reason"]
    record = xcom_value(dr, "record")
    assert "production.blue_green.post_switch_metrics" in record["checks"]["metrics"], dump(record["checks"])
    assert world.get("deployments", "demo-api")["spec"]["replicas"] == 0


def test_a_regression_after_the_switch_sends_traffic_back_to_the_old_colour(world: Any) -> None:
    # v3 answers /health (the only pre-switch check here) but 8 % of real requests fail
    spec = _spec(pre_switch_checks=["health"])
    dr = run_dag(build_dag(spec), run_conf={"window": "now", "version": "v3.0.0", "strategy": "blue_green"})

    st = _states(dr)
    assert str(dr.state) == "failed", dump(st)
    assert st["production.blue_green.switch"] == "success", dump(st)
    assert st["production.blue_green.post_switch_metrics"] == "failed", dump(st)
    assert st["rollback"] == "success" and st["complete.retire_old_colour"] != "success", dump(st)
    verdict = xcom_value(dr, "production.blue_green.post_switch_metrics")
    assert verdict["decision"] == "fail" and verdict["elapsed_s"] < POST_SWITCH_S, verdict["reason"]
    assert verdict["reason"].startswith("green error rate"), verdict["reason"]
    rollback = xcom_value(dr, "rollback")
    assert rollback["healthy"] is True, dump(rollback)
    assert rollback["reason"].startswith(
        "task production.blue_green.post_switch_metrics failed: post_switch gate failed for demo-api v3.0.0: "
        "green error rate"
    ), rollback["reason"]

    plan = xcom_value(dr, "production.record_rollback_plan")
    assert world.get("services", "demo-api")["spec"]["selector"] == plan["service_selector"]
    assert world.get("deployments", "demo-api-green")["spec"]["replicas"] == 0
    blue = world.get("deployments", "demo-api")
    assert world.image() == f"{IMAGE}:v1" and blue["spec"]["replicas"] == 6
    # blue kept all its replicas throughout: no write ever set fewer
    scaled = [
        w["body"]["spec"]["replicas"]
        for w in _writes(world, f"/namespaces/{NS}/deployments/demo-api")
        if isinstance(w["body"], dict) and "replicas" in (w["body"].get("spec") or {})
    ]
    assert all(r >= 6 for r in scaled), dump(world.writes())
    assert world.slack.texts()[-1].startswith(
        "⏪ demo-api v3.0.0 rolled back to v1: task production.blue_green.post_switch_metrics failed"
    ), world.slack.texts()[-1]
