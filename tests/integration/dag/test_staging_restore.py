"""Issue 11 points 2 and 3: a version that fails in staging is taken out of staging again, the staging gate
judges only the service's own workloads, and Slack, the record and the run note say what happened there
(and, for a production rollback that failed, that the line is stopped).

`deploy_demo-api` under dag.test() against a kubesim world (see conftest): staging and production both
run demo-api v1; v5 answers /health but fails every other request (staging's smoke test catches it).
The run note is written through a real in-process Airflow API server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from airlock.record import summarise
from tests.fixtures.airflow import airflow_api_server
from tests.fixtures.dag_runner import xcom_value
from tests.integration.dag.conftest import IMAGE, NS, demo_spec, dump
from tests.integration.dag.test_deploy_dag import _pod_images, deploy, states

pytestmark = pytest.mark.integration

STAGING = "staging"


@pytest.fixture
def api_server(airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with airflow_api_server(monkeypatch, tmp_path, {"airlock": "s3cret"}) as url:
        yield url


def _run_note(dr: Any) -> str:
    """The note the record task wrote through the REST API, as the metadata DB holds it."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        return str(session.get(DagRun, dr.id).note or "")


def _production_writes(world: Any) -> list[dict[str, Any]]:
    return [w for w in world.writes() if f"/namespaces/{NS}/" in w["path"] and "/leases" not in w["path"]]


def test_a_version_that_fails_in_staging_is_undone_there_and_the_next_good_version_deploys(
    world: Any,
    api_server: str,
    airflow_connections: Any,
) -> None:
    airflow_connections(
        "airlock_api", {"conn_type": "http", "host": api_server, "login": "airlock", "password": "s3cret"}
    )
    dr = deploy(version="v5.0.0", strategy="rolling")

    st = states(dr)
    assert str(dr.state) == "failed", dump(st)
    assert (st["staging.record_rollback_plan"], st["staging.deploy"], st["staging.smoke"]) == (
        "success",
        "success",
        "failed",
    ), dump(st)
    assert st["staging.restore"] == "success", dump(st)
    assert st["production.record_rollback_plan"] == "upstream_failed", dump(st)

    # staging's state was recorded before staging changed, and is what the restore put back
    plan = xcom_value(dr, "staging.record_rollback_plan")
    assert (plan["environment"], plan["namespace"], plan["strategy"]) == ("staging", STAGING, "rolling")
    assert plan["stable"]["images"] == {"app": f"{IMAGE}:v1"} and plan["migration"] is None, dump(plan)
    restore = xcom_value(dr, "staging.restore")
    assert restore["healthy"] is True and restore["noop"] is False and restore["actions"], dump(restore)
    assert restore["reason"].startswith("task staging.smoke failed"), restore["reason"]
    assert world.image(namespace=STAGING) == f"{IMAGE}:v1"
    pods = _pod_images(world, STAGING)
    assert len(pods) == 2 and set(pods.values()) == {f"{IMAGE}:v1"}, pods
    # production was never touched: not a single write there but the deploy lock
    assert world.image() == f"{IMAGE}:v1" and _production_writes(world) == [], dump(_production_writes(world))

    # the record, Slack and the run note say it: stopped in staging, staging restored, production untouched
    record = xcom_value(dr, "record")
    assert (record["outcome"], record["stopped_in"], record["production_changed"]) == (
        "failed",
        "staging",
        False,
    ), dump(record)
    assert record["staging_restore"] == {"state": "restored", "restored": True, "version": "v1", "why": None}
    outcome = world.slack.texts()[-1]
    assert outcome.startswith(
        "✋ demo-api v5.0.0 stopped in staging before production: task staging.smoke"
    ), outcome
    assert outcome.endswith("(staging restored to v1; production untouched)"), outcome
    assert "rolled back to" not in outcome and "→ ?" not in outcome, outcome
    note = _run_note(dr)
    assert note == summarise(record) and (
        "Stopped in staging before production: staging restored to v1; production untouched." in note
    ), note

    # a good version follows: the staging gate passes on the restored staging and v2 reaches production
    world.sim.clear_audit()
    dr2 = deploy(version="v2.0.0", strategy="rolling")

    st2 = states(dr2)
    assert str(dr2.state) == "success", dump(st2)
    gate = {c["name"]: c for c in xcom_value(dr2, "preflight.checks")}["staging_healthy"]
    assert gate["status"] == "pass", gate["reason"]
    assert st2["staging.restore"] == "skipped", dump(st2)
    for namespace in (STAGING, NS):
        images = _pod_images(world, namespace)
        assert images and set(images.values()) == {f"{IMAGE}:v2.0.0"}, (namespace, images)
    record2 = xcom_value(dr2, "record")
    assert record2["outcome"] == "succeeded" and record2["staging_restore"] is None, dump(record2)
    assert world.slack.texts()[-1].startswith("✅ demo-api v2.0.0 deployed (rolling)"), world.slack.texts()


def test_another_services_broken_staging_workload_does_not_block_this_one(world: Any) -> None:
    # other-api shares the staging namespace and cannot start (an image kubesim cannot pull: the scenario's
    # v4* profile); demo-api's own staging workloads are healthy, so its gate passes
    other = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "other-api", "namespace": STAGING, "labels": {"app": "other-api"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "other-api"}},
            "template": {
                "metadata": {"labels": {"app": "other-api"}},
                "spec": {"containers": [{"name": "app", "image": f"{IMAGE}:v4-other"}]},
            },
        },
    }
    api = world.sim.api_client()
    try:
        k8s.AppsV1Api(api).create_namespaced_deployment(STAGING, other)
    finally:
        api.close()

    dr = deploy(version="v2.0.0", strategy="rolling")

    st = states(dr)
    assert str(dr.state) == "success", dump(st)
    gate = {c["name"]: c for c in xcom_value(dr, "preflight.checks")}["staging_healthy"]
    assert gate["status"] == "pass", gate["reason"]
    assert gate["evidence"]["other_deployments_not_judged"] == ["other-api"], dump(gate)
    assert gate["reason"] == (
        "staging (staging) for app=demo-api: 1 Deployment(s) rolled out, 2 pod(s) Running/Ready; "
        "1 Deployment(s) of other services not judged (other-api)"
    ), gate["reason"]
    # other-api is still broken: the gate passed by judging demo-api only, not because other-api healed
    broken = world.get("deployments", "other-api", STAGING)
    assert not (broken.get("status") or {}).get("availableReplicas"), dump(broken.get("status"))
    assert world.image() == f"{IMAGE}:v2.0.0"


def test_a_refused_production_rollback_says_the_line_is_stopped_not_rolled_back(world: Any) -> None:
    # An irreversible migration runs, v5 goes live and fails the validation smoke test: the rollback is
    # refused (rolling back past the migration could corrupt data), the line is stopped (issue 13), and the
    # outcome message, the record and the run's final state say that - never "rolled back".
    migration = {"command": ["migrate", "up"], "reversible": False, "timeout": "30s"}
    spec = demo_spec(kubernetes={"staging": None}, migration=migration)
    dr = deploy(spec, version="v5.0.0", strategy="rolling")

    st = states(dr)
    assert str(dr.state) == "failed", dump(st)
    assert st["production.migrate"] == "success" and st["validation.smoke"] == "failed", dump(st)
    assert st["rollback"] == "failed", dump(st)
    assert world.image() == f"{IMAGE}:v5.0.0", "nothing was rolled back past the migration"
    mark = world.get("configmaps", "airlock-stop-demo-api")
    assert mark is not None and mark["data"]["failed_run"] == dr.run_id, dump(mark)

    record = xcom_value(dr, "record")
    assert record["line_stopped"]["run_id"] == dr.run_id, dump(record)
    assert "REFUSING TO ROLL BACK" in record["line_stopped"]["reason"], dump(record["line_stopped"])
    assert (record["outcome"], record["stopped_in"], record["production_changed"]) == (
        "failed",
        "validation",
        True,
    ), dump(record)
    clear = f"kubectl -n {NS} delete configmap airlock-stop-demo-api"
    outcome = world.slack.texts()[-1]
    assert outcome.startswith(
        "🛑 demo-api v5.0.0: rollback in production FAILED, line stopped: new runs are refused until a "
        f"human checks production and runs `{clear}`: "
    ), outcome
    assert "rolled back to" not in outcome, outcome
    note = summarise(record)
    assert "Rollback in production FAILED, line stopped" in note and clear in note, note
    final = xcom_value(dr, "outcome", key="failure_reason")
    assert "its rollback in production FAILED, line stopped" in final, final
