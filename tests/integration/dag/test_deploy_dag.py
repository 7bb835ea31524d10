"""Issue 6's acceptance: `deploy_demo-api`, built by the factory's graph from a spec, run under dag.test()
against a kubesim world scraped by a real Prometheus, with a real Alertmanager behind the incident gate
and a local Slack webhook receiver.

The spec is dags/services/demo-api.yaml with second-long durations (see conftest). Production rollbacks
(bad canary, stuck rolling update, failed blue-green validation) use the spec without staging: with
staging, these versions are stopped there (the soak or the staging rollout) and production is never
touched - which is the point of staging, but not what these tests are about.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from airflow.sdk.exceptions import ParamValidationError
from kubernetes import client as k8s

from tests.fixtures.dag_runner import run_dag, xcom_value
from tests.integration.dag.conftest import IMAGE, NS, build_dag, demo_spec, dump

pytestmark = pytest.mark.integration

NO_STAGING = {"kubernetes": {"staging": None}}


def deploy(spec: Any = None, **conf: Any) -> Any:
    return run_dag(build_dag(spec), run_conf={"window": "now", **conf})


def states(dr: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}


def lease_holder(world: Any) -> str | None:
    lease = world.get("leases", "airlock-demo-api")
    assert lease is not None, "the deploy lock (Lease airlock-demo-api) was created by the run"
    return (lease.get("spec") or {}).get("holderIdentity")


def test_healthy_canary_is_promoted(world: Any) -> None:
    dr = deploy(version="v2.0.0", strategy="canary", change_summary="healthy canary")

    st = states(dr)
    assert str(dr.state) == "success", dump(st)
    for task in (
        "production.canary.step_1",
        "production.canary.analysis_1",
        "production.canary.step_2",
        "production.canary.analysis_2",
        "production.canary.promote",
        "validation.metrics",
        "validation.log_scan",
        "complete.mark_deployed",
    ):
        assert st[task] == "success", (task, dump(st))
    assert st["rollback"] == "skipped" and st["complete.retire_old_colour"] == "skipped", dump(st)
    assert [xcom_value(dr, f"production.canary.step_{n}")["replicas"] for n in (1, 2)] == [2, 6]
    for n in (1, 2):
        verdict = xcom_value(dr, f"production.canary.analysis_{n}")
        assert verdict["decision"] == "pass", verdict["reason"]

    stable = world.get("deployments", "demo-api")
    assert world.image() == f"{IMAGE}:v2.0.0" and stable["spec"]["replicas"] == 6
    assert world.get("deployments", "demo-api-canary") is None, "the canary is removed after promotion"
    assert lease_holder(world) is None, "the deploy lock is released"

    record = xcom_value(dr, "record")
    assert record["outcome"] == "succeeded" and record["previous_version"] == "v1", dump(record)
    start, outcome = world.slack.texts()
    assert start.startswith("Deploying demo-api v2.0.0 (canary 25%/50%/100%)") and "healthy canary" in start
    assert outcome.startswith("✅ demo-api v2.0.0 deployed (canary)"), outcome


def test_canary_with_8_percent_errors_is_rolled_back(world: Any) -> None:
    dr = deploy(demo_spec(**NO_STAGING), version="v3.0.0", strategy="canary")

    st = states(dr)
    assert str(dr.state) == "failed", dump(st)
    assert st["production.canary.step_1"] == "success"
    assert st["production.canary.analysis_1"] == "failed", dump(st)
    assert st["production.canary.promote"] in ("upstream_failed", "skipped"), dump(st)
    assert st["rollback"] == "success" and st["release_lock"] == "success", dump(st)

    # the failing verdict is in the record, with the error rate and its numbers
    verdict = xcom_value(dr, "record")["checks"]["metrics"]["production.canary.analysis_1"]
    assert verdict["decision"] == "fail", dump(verdict)
    failing = [m for m in verdict["metrics"] if m["status"] == "fail"]
    assert {m["name"] for m in failing} & {"error_rate", "error_rate_increase", "error_rate_test"}, dump(
        failing
    )
    rollback = xcom_value(dr, "rollback")
    assert rollback["healthy"] is True and rollback["noop"] is False, dump(rollback)
    assert rollback["reason"].startswith(
        "task production.canary.analysis_1 failed: canary gate failed for demo-api v3.0.0: canary error rate"
    ), rollback["reason"]

    # stable untouched (only the rollback plan's annotation was written to it), canary gone
    stable = world.get("deployments", "demo-api")
    assert world.image() == f"{IMAGE}:v1" and stable["spec"]["replicas"] == 6
    assert world.get("deployments", "demo-api-canary") is None
    stable_writes = [w for w in world.writes() if w["path"].endswith("/deployments/demo-api")]
    assert stable_writes and all(
        w["method"] == "PATCH" and set(w["body"]) == {"metadata"} for w in stable_writes
    ), dump(stable_writes)
    assert lease_holder(world) is None, "the lock is released after a failed run"

    start, outcome = world.slack.texts()
    assert "v3.0.0" in start
    assert outcome.startswith("⏪ demo-api v3.0.0 rolled back to v1"), outcome
    assert re.search(r"canary error rate \d+\.\d % \(\d+/\d+ req\)", outcome), outcome


def test_rolling_update_stuck_on_image_pull_is_undone(world: Any) -> None:
    dr = deploy(demo_spec(**NO_STAGING), version="v4.0.0", strategy="rolling")

    st = states(dr)
    assert str(dr.state) == "failed", dump(st)
    assert st["production.rolling.update"] == "failed" and st["rollback"] == "success", dump(st)
    stuck = xcom_value(dr, "production.rolling.update", key="failure_reason")
    assert stuck.startswith('rollout of deployment "demo-api" did not complete'), stuck
    assert re.search(r"Why: .*pull.*registry\.example/demo-api:v4\.0\.0", stuck, re.IGNORECASE), stuck
    rollback = xcom_value(dr, "rollback")
    assert rollback["healthy"] is True and rollback["actions"], dump(rollback)
    assert rollback["reason"] == f"task production.rolling.update failed: {stuck}", rollback["reason"]
    assert world.image() == f"{IMAGE}:v1", "production is back on the previous image"
    dep = world.get("deployments", "demo-api")
    assert dep["status"].get("readyReplicas") == 6 and dep["status"].get("updatedReplicas") == 6, dump(
        dep["status"]
    )
    assert lease_holder(world) is None

    outcome = world.slack.texts()[-1]
    assert outcome.startswith("⏪ demo-api v4.0.0 rolled back to v1") and "pull" in outcome.lower(), outcome


def test_blue_green_switches_and_retires_the_old_colour(world: Any) -> None:
    dr = deploy(version="v2.0.0", strategy="blue_green")

    st = states(dr)
    assert str(dr.state) == "success", dump(st)
    for task in (
        "production.blue_green.deploy_green",
        "production.blue_green.verify_green_health",
        "production.blue_green.verify_green_smoke",
        "production.blue_green.switch",
        "complete.retire_old_colour",
    ):
        assert st[task] == "success", (task, dump(st))
    service = world.get("services", "demo-api")
    assert service["spec"]["selector"] == {"app": "demo-api", "track": "green"}
    assert world.image("demo-api-green") == f"{IMAGE}:v2.0.0"
    assert world.get("deployments", "demo-api-green")["spec"]["replicas"] == 6
    assert world.get("deployments", "demo-api")["spec"]["replicas"] == 0, "old colour scaled to 0"
    assert world.get("services", "demo-api-preview") is None
    assert xcom_value(dr, "complete.retire_old_colour")["retired"] == "demo-api"
    assert lease_holder(world) is None
    assert world.slack.texts()[-1].startswith("✅ demo-api v2.0.0 deployed (blue_green)")


def test_blue_green_failing_after_the_switch_is_switched_back(world: Any) -> None:
    # v5 is healthy on /health (the pre-switch check) but fails every real request: the post-switch
    # metrics gate catches it under full traffic, before validation starts (issue 11 point 4)
    spec = demo_spec(**NO_STAGING, strategy={"blue_green": {"pre_switch_checks": ["health"]}})
    dr = deploy(spec, version="v5.0.0", strategy="blue_green")

    st = states(dr)
    assert str(dr.state) == "failed", dump(st)
    assert st["production.blue_green.switch"] == "success", dump(st)
    assert st["production.blue_green.post_switch_metrics"] == "failed", dump(st)
    assert st["rollback"] == "success", dump(st)
    plan = xcom_value(dr, "production.record_rollback_plan")
    switch = xcom_value(dr, "production.blue_green.switch")
    assert switch["selector"] == {"app": "demo-api", "track": "green"}, "traffic did go to green"

    service = world.get("services", "demo-api")
    assert service["spec"]["selector"] == plan["service_selector"], "the recorded selector is restored"
    assert world.get("deployments", "demo-api-green")["spec"]["replicas"] == 0
    blue = world.get("deployments", "demo-api")
    assert world.image() == f"{IMAGE}:v1" and blue["spec"]["replicas"] == 6
    service_writes = [w["method"] for w in world.writes() if w["path"].endswith("/services/demo-api")]
    assert len(service_writes) >= 3, service_writes  # pinned to blue, switched to green, switched back
    rollback = xcom_value(dr, "rollback")
    assert rollback["healthy"] is True, dump(rollback)
    assert rollback["reason"].startswith(
        "task production.blue_green.post_switch_metrics failed: post_switch gate failed for demo-api v5.0.0: "
        "green error rate"
    ), rollback["reason"]
    assert lease_holder(world) is None
    outcome = world.slack.texts()[-1]
    assert outcome.startswith(
        "⏪ demo-api v5.0.0 rolled back to v1: task production.blue_green.post_switch_metrics failed"
    ), outcome


def test_hotfix_skips_the_soak_but_not_preflight(world: Any) -> None:
    dr = deploy(version="v2.0.0", strategy="rolling", risk="hotfix", change_summary="fix login")

    st = states(dr)
    assert str(dr.state) == "success", dump(st)
    assert st["preflight.checks"] == "success" and st["preflight.window"] == "success", dump(st)
    assert st["staging.deploy"] == "success" and st["staging.smoke"] == "success", dump(st)
    assert st["staging.soak"] == "skipped", dump(st)
    checks = {c["name"]: c["status"] for c in xcom_value(dr, "preflight.checks")}
    assert checks["incidents"] == "pass" and checks["cluster_healthy"] == "pass", checks
    record = xcom_value(dr, "record")
    assert record["risk"] == "hotfix" and record["hotfix"] is True, dump(record)
    assert record["tasks"]["staging.soak"] == "skipped"
    assert world.image() == f"{IMAGE}:v2.0.0" and world.image(namespace="staging") == f"{IMAGE}:v2.0.0"
    assert "HOTFIX" in world.slack.texts()[0]


def test_dry_run_writes_nothing(world: Any) -> None:
    dr = deploy(version="v2.0.0", strategy="canary", dry_run=True)

    st = states(dr)
    assert str(dr.state) == "success", dump(st)
    assert world.sim.audit() == [], dump(world.sim.audit())
    steps = [xcom_value(dr, f"production.canary.step_{n}") for n in (1, 2)]
    assert [(s["status"], s["replicas"]) for s in steps] == [("dry_run", 2), ("dry_run", 6)], dump(steps)
    assert xcom_value(dr, "production.canary.promote")["status"] == "dry_run"
    assert xcom_value(dr, "staging.deploy")["status"] == "dry_run"
    assert st["validation.metrics"] == "skipped" and st["staging.soak"] == "skipped", dump(st)
    assert world.image() == f"{IMAGE}:v1" and world.get("deployments", "demo-api-canary") is None
    assert world.get("leases", "airlock-demo-api") is None
    assert xcom_value(dr, "record")["outcome"] == "dry_run"
    start, outcome = world.slack.texts()
    assert start.startswith("[DRY RUN] Deploying demo-api v2.0.0") and outcome.startswith("[DRY RUN] ✅"), (
        outcome
    )


@pytest.mark.parametrize(
    "conf, field",
    [
        ({"version": "latest"}, "version"),
        ({"version": "v2.0.0", "strategy": "yolo"}, "strategy"),
        ({"version": "v2.0.0", "canary_steps": "10;50;100"}, "canary_steps"),
        ({"strategy": "canary"}, "version"),
    ],
)
def test_invalid_declared_params_are_refused_before_the_run(
    world: Any, conf: dict[str, Any], field: str
) -> None:
    with pytest.raises(ParamValidationError, match=f"param {field}"):
        deploy(**conf)
    assert world.sim.audit() == []


def test_strategy_not_allowed_by_the_spec_is_refused(world: Any) -> None:
    spec = demo_spec(strategy={"allowed": ["canary", "rolling"]})
    with pytest.raises(ParamValidationError, match="param strategy"):
        deploy(spec, version="v2.0.0", strategy="blue_green")
    assert world.sim.audit() == []


@pytest.mark.parametrize(
    "conf, problems",
    [
        # an undeclared key (REST accepts it) and canary steps that do not increase
        (
            {"strategy": "canary", "canary_steps": "50,25,100", "force": True},
            ["unknown parameter(s) ['force']", "[50, 25, 100]"],
        ),
        # canary steps with another strategy, and more steps than the spec's (the DAG's step slots)
        (
            {"strategy": "rolling", "canary_steps": "10,20,50,100"},
            [
                "field 'canary_steps': value [10, 20, 50, 100]: only valid with strategy 'canary'",
                "field 'canary_steps': value [10, 20, 50, 100]: at most 3 steps",
            ],
        ),
    ],
)
def test_invalid_conf_fails_in_validate_before_any_write(
    world: Any, capfd: pytest.CaptureFixture[str], conf: dict[str, Any], problems: list[str]
) -> None:
    # these pass the form's per-param checks; only the validate task sees what is wrong with them
    dr = deploy(version="v2.0.0", **conf)

    st = states(dr)
    assert str(dr.state) == "failed" and st["validate"] == "failed", dump(st)
    assert st["acquire_lock"] == "upstream_failed", dump(st)
    assert world.sim.audit() == [], dump(world.sim.audit())
    out = "".join(capfd.readouterr())
    header = f"AirflowFailException: run parameters for deploy_demo-api: {len(problems)} problem(s), nothing was changed"
    assert header in out, out[-3000:]
    for problem in problems:
        assert problem in out, (problem, out[-3000:])
    assert "AirflowFailException: the deployment did not start: task validate failed: run parameters" in out
    assert st["outcome"] == "failed" and world.slack.texts() == [], dump(st)


def test_a_run_while_another_holds_the_lock_fails_naming_the_holder(
    world: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "airlock-demo-api", "namespace": NS},
        "spec": {
            "holderIdentity": "manual__other-deployment",
            "leaseDurationSeconds": 600,
            "acquireTime": now,
            "renewTime": now,
        },
    }
    api = world.sim.api_client()
    try:
        k8s.CoordinationV1Api(api).create_namespaced_lease(NS, lease)
    finally:
        api.close()
    # kubesim records a write in its audit log just after answering it: wait for it before clearing
    deadline = time.monotonic() + 5
    while not world.sim.audit() and time.monotonic() < deadline:
        time.sleep(0.05)
    world.sim.clear_audit()

    dr = deploy(version="v2.0.0", strategy="canary")

    st = states(dr)
    assert str(dr.state) == "failed" and st["acquire_lock"] == "failed", dump(st)
    assert st["preflight.checks"] == "upstream_failed", dump(st)
    assert world.sim.audit() == [], "nothing written: not the lock, not production"
    assert lease_holder(world) == "manual__other-deployment", "the other run's lock is left alone"
    assert st["outcome"] == "failed", dump(st)
    out = "".join(capfd.readouterr())
    # the lock task's failure, and the run's last task, name the holder
    assert re.search(
        r"AirflowFailException: deploy lock production/airlock-demo-api is held by "
        r'"manual__other-deployment" until \S+ \S+ UTC',
        out,
    ), out[-3000:]
    assert re.search(
        r"AirflowFailException: the deployment did not start: task acquire_lock failed: deploy lock "
        r'production/airlock-demo-api is held by "manual__other-deployment"',
        out,
    ), out[-3000:]
    assert world.slack.texts() == [], "nothing started, nothing announced"


def test_release_train_with_nothing_queued_deploys_nothing_and_does_not_fail(world: Any) -> None:
    spec = demo_spec(windows={"release_train": "Tue,Thu 02:00"})
    dr = run_dag(build_dag(spec), run_conf={})

    st = states(dr)
    assert st["validate"] == "skipped", dump(st)
    assert str(dr.state) == "success", dump(st)
    assert world.sim.audit() == [] and world.slack.texts() == [], dump(st)


def _pod_images(world: Any, namespace: str) -> dict[str, str]:
    pods = requests.get(f"{world.sim.url}/api/v1/namespaces/{namespace}/pods", timeout=10).json()["items"]
    return {
        p["metadata"]["name"]: p["spec"]["containers"][0]["image"]
        for p in pods
        if (p["metadata"].get("labels") or {}).get("app") == "demo-api"
        and not p["metadata"].get("deletionTimestamp")
    }


def test_release_train_deploys_the_queued_version_to_every_pod(world: Any, monkeypatch: Any) -> None:
    # A scheduled train carries no conf at all: the version comes from the Variable CI set, and every later
    # task must act on it (main once rendered {{ params.version }} = None and deployed demo-api:None).
    monkeypatch.setenv("AIRFLOW_VAR_AIRLOCK_RELEASE_TRAIN_DEMO-API", "v2.0.0")
    spec = demo_spec(windows={"release_train": "Tue,Thu 02:00"}, strategy={"default": "rolling"})
    dr = run_dag(build_dag(spec), run_conf={})

    st = states(dr)
    assert str(dr.state) == "success", dump(st)
    request = xcom_value(dr, "validate")
    assert (request["version"], request["source"], request["strategy"]) == (
        "v2.0.0",
        "release_train",
        "rolling",
    )
    assert world.image() == f"{IMAGE}:v2.0.0"
    for namespace in (NS, "staging"):
        images = _pod_images(world, namespace)
        assert images and set(images.values()) == {f"{IMAGE}:v2.0.0"}, (namespace, images)
    assert not any(f"{IMAGE}:None" in json.dumps(w.get("body")) for w in world.writes()), "no image :None"
    record = xcom_value(dr, "record")
    assert (record["version"], record["outcome"]) == ("v2.0.0", "succeeded"), dump(record)


def test_a_version_stuck_in_staging_never_reaches_production_and_says_so(world: Any) -> None:
    # v4 cannot be pulled: the staging rollout fails at its progress deadline, production is never touched.
    # Slack used to say "rolled back to the recorded state ... (production restored and healthy)".
    dr = deploy(version="v4.0.0", strategy="rolling")

    st = states(dr)
    assert str(dr.state) == "failed", dump(st)
    assert st["staging.deploy"] == "failed" and st["production.record_rollback_plan"] == "upstream_failed", (
        dump(st)
    )
    assert world.image() == f"{IMAGE}:v1", "production still runs the previous version"
    assert not [w for w in world.writes() if "/namespaces/production/deployments" in w["path"]], dump(
        world.writes()
    )

    record = xcom_value(dr, "record")
    assert (record["outcome"], record["stopped_in"], record["production_changed"]) == (
        "failed",
        "staging",
        False,
    )
    outcome = world.slack.texts()[-1]
    assert outcome.startswith("✋ demo-api v4.0.0 stopped in staging before production: "), outcome
    assert outcome.endswith("(staging restored to v1; production untouched)"), outcome
    assert "rolled back" not in outcome, outcome
    assert world.image(namespace="staging") == f"{IMAGE}:v1", "staging is back on the previous version"
