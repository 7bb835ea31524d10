"""PreflightOperator, HealthCheckOperator, SmokeTestOperator and LogScanOperator under dag.test(),
with Airflow connections pointing at a real Alertmanager, the fake GitHub / registry / backup APIs,
a fake Kubernetes API (through the cncf provider's KubernetesHook) and a fake app."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from airflow.sdk import DAG

from airlock.spec import parse_spec, spec_to_dict
from tests.fixtures.dag_runner import run_dag, task_state, xcom_value
from tests.fixtures.fake_apis import Reply
from tests.fixtures.run_requests import request_for
from tests.integration.checks.fake_kube import FakeApp, FakeKubeApi

pytestmark = pytest.mark.integration

IMAGE = "registry.example.com/payments/payment-service"
REPO = "payments/payment-service"


def make_spec(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "service": "payment-service",
        "image": IMAGE,
        "kubernetes": {"container": "app"},
        "gates": {
            "ci": {"connection": "github_default", "repository": REPO, "ref": "v{version}"},
            "incidents": {"connection": "alertmanager_default", "matchers": ['severity="critical"']},
            "registry": {"connection": "registry_test"},
            "backups": {
                "connection": "prometheus_default",
                "last_success_metric": 'backup_last_success_timestamp_seconds{db="payments"}',
                "max_age": "24h",
            },
            "cluster": {"max_node_cpu": 0.85, "max_node_memory": 0.9},
        },
        "endpoints": {
            "connection": "airlock_app_http",
            "staging": "/_sim/apps/{namespace}/{service}",
            "production": "/_sim/apps/{namespace}/{service}",
        },
        "health": {"retries": 3, "retry_delay": "50ms"},
        "smoke": [
            {
                "name": "create payment",
                "method": "POST",
                "path": "/api/v1/payments",
                "json": {"amount": 100},
                "expect": {"status": 201, "json": {"state": "processed", "payment.currency": "EUR"}},
            },
            {"name": "list methods", "path": "/api/v1/methods", "critical": False, "expect": {"status": 200}},
        ],
        "logs": {"max_new_signatures": 0},
    }
    data.update(overrides)
    return spec_to_dict(parse_spec(data))


@pytest.fixture
def world(airflow_db, airflow_connections, alertmanager, fake_github, fake_registry, fake_backup):
    with FakeKubeApi() as kube, FakeApp(version="1.2.3") as app:
        sha = fake_github.add_ref(REPO, "v1.2.3")
        fake_github.add_run(REPO, sha, run_number=41)
        fake_registry.push("payments/payment-service", "1.2.3")
        fake_registry.push("payments/payment-service", "1.2.2")
        fake_backup.set_age(timedelta(hours=3))
        kube.add_app(
            "staging", "payment-service", f"{IMAGE}:1.2.3", replicas=2, labels={"app": "payment-service"}
        )
        kube.add_app(
            "production",
            "payment-service",
            f"{IMAGE}:1.2.2",
            replicas=3,
            labels={"app": "payment-service"},
            logs=["GET /pay 200"] * 30 + ["ERROR upstream timeout after 3000ms"],
        )
        kube.add_node("node-1", used_cpu="1200m", used_memory="6Gi")
        kube.add_node("node-2", used_cpu="800m", used_memory="5Gi")
        app.routes[("POST", "/api/v1/payments")] = Reply(
            201, {"state": "processed", "payment": {"currency": "EUR"}}
        )
        app.routes[("GET", "/api/v1/methods")] = Reply(200, ["card"])

        airflow_connections(
            "github_default", {"conn_type": "github", "host": fake_github.url, "password": "test-token"}
        )
        airflow_connections("alertmanager_default", {"conn_type": "http", "host": alertmanager.url})
        airflow_connections(
            "registry_test",
            {
                "conn_type": "http",
                "host": "127.0.0.1",
                "port": fake_registry.port,
                "schema": "http",
                "login": "deployer",
                "password": "s3cret",
            },
        )
        airflow_connections("prometheus_default", {"conn_type": "http", "host": fake_backup.url})
        airflow_connections(
            "kubernetes_default", {"conn_type": "kubernetes", "extra": {"kube_config": kube.kubeconfig()}}
        )
        airflow_connections("airlock_app_http", f"http://127.0.0.1:{app.port}")
        yield {
            "kube": kube,
            "app": app,
            "github": fake_github,
            "am": alertmanager,
            "sha": sha,
            "registry": fake_registry,
            "backup": fake_backup,
        }


_counter = iter(range(10_000))


def preflight_dag(spec: dict[str, Any]) -> DAG:
    from operators.preflight import PreflightOperator

    with DAG(f"preflight_test_{next(_counter)}", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        PreflightOperator(task_id="checks", spec=spec, request=request_for(spec, "1.2.3"))
    return dag


def test_preflight_all_green_passes(world, capsys):
    dr = run_dag(preflight_dag(make_spec()))
    out = capsys.readouterr().out
    assert task_state(dr, "checks") == "success", out[-3000:]
    results = {r["name"]: r for r in xcom_value(dr, "checks")}
    assert {n: r["status"] for n, r in results.items()} == {
        "ci": "pass",
        "staging_healthy": "pass",
        "cluster_healthy": "pass",
        "incidents": "pass",
        "registry": "pass",
        "backups": "pass",
    }
    assert results["registry"]["evidence"]["images"]["rollback"]["image"] == f"{IMAGE}:1.2.2"
    assert "check           | status | reason" in out  # the one table
    assert "Pre-flight passed: 6 passed" in out


def test_one_failing_gate_fails_the_task_naming_it(world, capsys):
    world["github"].add_run(REPO, world["sha"], run_number=42, conclusion="failure")
    dr = run_dag(preflight_dag(make_spec()))
    out = capsys.readouterr().out
    assert task_state(dr, "checks") == "failed"
    assert "1 pre-flight check(s) failed: ci: CI not passed for v1.2.3" in out
    checks = {r["name"]: r["status"] for r in xcom_value(dr, "checks", key="checks")}
    assert checks["ci"] == "fail" and checks["incidents"] == "pass"


def test_two_failing_gates_are_both_listed_and_null_gates_skipped(world, capsys):
    world["github"].add_run(REPO, world["sha"], run_number=42, conclusion="failure")
    world["am"].fire("PaymentsDown", severity="critical", summary="all pods crash")
    world["backup"].set_age(timedelta(days=3))
    spec = make_spec()
    spec["gates"]["backups"] = None
    spec["gates"]["cluster"] = None
    dr = run_dag(preflight_dag(spec))
    out = capsys.readouterr().out
    assert task_state(dr, "checks") == "failed"
    assert "2 pre-flight check(s) failed: ci: CI not passed" in out
    assert "; incidents: 1 active incident(s): PaymentsDown [critical]" in out
    assert "backups         | SKIP   | gates.backups is null" in out
    assert "cluster_healthy | SKIP   | gates.cluster is null" in out


def test_unreachable_service_is_a_failing_gate_and_others_still_run(world, airflow_connections, capsys):
    airflow_connections("alertmanager_default", {"conn_type": "http", "host": "http://127.0.0.1:9"})
    world["kube"].add_node("node-3", ready=False)
    dr = run_dag(preflight_dag(make_spec()))
    out = capsys.readouterr().out
    assert task_state(dr, "checks") == "failed"
    checks = {r["name"]: r for r in xcom_value(dr, "checks", key="checks")}
    assert checks["incidents"]["reason"].startswith("check could not run: ConnectionError")
    assert "node-3 (KubeletNotReady)" in checks["cluster_healthy"]["reason"]
    assert checks["ci"]["status"] == checks["registry"]["status"] == "pass"
    assert "2 pre-flight check(s) failed" in out


def app_dag(spec: dict[str, Any], version: str = "1.2.3", target: str = "staging") -> DAG:
    from operators.app_checks import HealthCheckOperator, SmokeTestOperator

    with DAG(f"app_test_{next(_counter)}", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        req = request_for(spec, version)
        HealthCheckOperator(task_id="health", spec=spec, request=req, target=target) >> SmokeTestOperator(
            task_id="smoke", spec=spec, request=req, target=target
        )
    return dag


def test_health_retries_then_smoke_passes_with_noncritical_warning(world, capsys):
    world["app"].healthy_after = 2
    del world["app"].routes[("GET", "/api/v1/methods")]  # non-critical test now fails: a warning
    dr = run_dag(app_dag(make_spec()))
    out = capsys.readouterr().out
    assert task_state(dr, "health") == "success", out[-3000:]
    assert task_state(dr, "smoke") == "success", out[-3000:]
    assert "health attempt 1/4" in out and "HTTP 503" in out and "healthy on attempt 3/4" in out
    health = xcom_value(dr, "health")
    assert health["status"] == "pass" and len(health["evidence"]["attempts"]) == 3
    assert health["evidence"]["url"].endswith("/_sim/apps/staging/payment-service/health")
    smoke = {r["name"]: r["status"] for r in xcom_value(dr, "smoke")}
    assert smoke == {"create payment": "pass", "list methods": "warn"}
    assert "test           | critical | http | status | reason" in out


def test_wrong_version_fails_health_and_critical_smoke_failure_fails(world, capsys):
    dr = run_dag(app_dag(make_spec(), version="1.2.4"))
    assert task_state(dr, "health") == "failed"
    assert "version '1.2.3', expected '1.2.4'" in capsys.readouterr().out
    world["app"].routes[("POST", "/api/v1/payments")] = Reply(500, {"state": "failed"})
    spec = make_spec(health={"check_version": False, "retries": 0})
    dr = run_dag(app_dag(spec))
    out = capsys.readouterr().out
    assert task_state(dr, "smoke") == "failed"
    assert (
        "1 critical smoke test(s) failed: create payment (POST /api/v1/payments: HTTP 500, expected 201"
        in out
    )


def log_dag(spec: dict[str, Any]) -> DAG:
    from operators.log_scan import LogScanOperator

    with DAG(f"logs_test_{next(_counter)}", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        LogScanOperator(task_id="log_scan", spec=spec, request=request_for(spec, "1.2.3"))
    return dag


def test_log_scan_operator(world, capsys):
    kube = world["kube"]
    kube.add_app(
        "production",
        "payment-service-canary",
        f"{IMAGE}:1.2.3",
        replicas=1,
        deployment=False,
        labels={"app": "payment-service", "track": "canary"},
        logs=["GET /pay 200"] * 10 + ["ERROR upstream timeout after 2000ms"],
    )
    dr = run_dag(log_dag(make_spec()))
    out = capsys.readouterr().out
    assert task_state(dr, "log_scan") == "success", out[-3000:]
    result = xcom_value(dr, "log_scan")
    assert result["status"] == "pass" and result["evidence"]["signatures"][0]["verdict"] == "known"

    kube.logs[("production", "payment-service-canary-0")] += "panic: nil map write at 0xc000123456\n"
    dr = run_dag(log_dag(make_spec()))
    out = capsys.readouterr().out
    assert task_state(dr, "log_scan") == "failed"
    assert re.search(r"panic: nil map write at <hex> +\| 1 +\| 0 +\| new", out)
    assert "1 new/increased error signature(s) > allowed 0" in out
