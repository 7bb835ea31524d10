"""Staging / cluster gates, health, smoke and log scan against kubesim (real HTTP, real kubernetes
client, the cncf provider's KubernetesHook), the operators under dag.test()."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from airflow.sdk import DAG
from kubernetes import client

from airlock.checks.cluster import check_cluster
from airlock.checks.log_scan import scan_pods
from airlock.checks.staging import check_staging
from airlock.spec import parse_spec, spec_to_dict
from tests.fixtures.dag_runner import run_dag, task_state, xcom_value
from tests.fixtures.kubesim import make_deployment, make_service
from tests.fixtures.run_requests import request_for

pytestmark = pytest.mark.integration

IMAGE = "registry.example.com/payments/payment-service"
SCENARIO = {
    "namespaces": ["staging", "production"],
    "nodes": [
        {"name": "node-a", "cpu_usage": 0.30, "memory_usage": 0.40},
        {"name": "node-b", "cpu_usage": 0.50, "memory_usage": 0.60},
    ],
    "images": {
        f"{IMAGE}:1.2.2": {
            "log_lines": ["GET /pay 200", "GET /pay 200", "ERROR upstream timeout after 3000ms"]
        },
        f"{IMAGE}:1.2.3": {
            "log_lines": ["GET /pay 200", "GET /pay 200", "ERROR upstream timeout after 2900ms"]
        },
        f"{IMAGE}:1.2.4": {"log_lines": ["GET /pay 200", "KeyError: 'currency' in handler 42"]},
        f"{IMAGE}:broken": {"fail": "CrashLoopBackOff"},
    },
}
OVERLOADED = {
    **SCENARIO,
    "nodes": [
        {"name": "node-a", "cpu_usage": 0.97, "memory_usage": 0.40},
        {"name": "node-b", "cpu_usage": 0.50, "memory_usage": 0.95},
    ],
}


def deploy(
    api: client.ApiClient,
    namespace: str,
    name: str,
    version: str,
    replicas: int = 2,
    track: str | None = None,
) -> None:
    labels = {"app": "payment-service"}
    pod_labels = {"track": track} if track else None
    dep = make_deployment(
        name,
        namespace,
        f"{IMAGE}:{version}",
        replicas,
        labels={**labels, **({"track": track} if track else {})},
        pod_labels=pod_labels,
        containers=[{"name": "app", "image": f"{IMAGE}:{version}", "ports": [{"containerPort": 8080}]}],
    )
    client.AppsV1Api(api).create_namespaced_deployment(namespace, dep)


def service(api: client.ApiClient, namespace: str) -> None:
    client.CoreV1Api(api).create_namespaced_service(
        namespace, make_service("payment-service", namespace, selector={"app": "payment-service"})
    )


@pytest.mark.kubesim_scenario(SCENARIO)
def test_staging_and_cluster_on_kubesim(kubesim, kube_client):
    deploy(kube_client, "staging", "payment-service", "1.2.3")
    kubesim.advance(5)
    r = check_staging(kube_client, "staging", {"app": "payment-service"})
    assert r.status == "pass", r.reason
    r = check_cluster(kube_client, 0.85, 0.9)
    assert r.status == "pass" and "2 node(s) Ready; peak CPU 50% (limit 85%), peak memory 60%" in r.reason

    deploy(kube_client, "staging", "worker", "broken", replicas=1)
    kubesim.advance(10)
    r = check_staging(kube_client, "staging", {"app": "payment-service"})
    assert r.status == "fail"
    assert re.search(r"worker-[a-z0-9]+-[a-z0-9]+ \(Running: app: CrashLoopBackOff", r.reason), r.reason
    assert "worker: 0 of 1 updated replicas available" in r.reason


@pytest.mark.kubesim_scenario(OVERLOADED)
def test_cluster_overloaded_on_kubesim(kubesim, kube_client):
    r = check_cluster(kube_client, 0.85, 0.9)
    assert r.status == "fail"
    assert "node-a cpu 97% (" in r.reason and "node-b memory 95% (" in r.reason


@pytest.mark.kubesim_scenario(SCENARIO)
def test_log_scan_on_kubesim(kubesim, kube_client):
    deploy(kube_client, "production", "payment-service", "1.2.2", replicas=3)
    deploy(kube_client, "production", "payment-service-canary", "1.2.3", replicas=1, track="canary")
    kubesim.advance(60)
    patterns = [r"(?i)\berror\b", "Exception", "KeyError"]
    r = scan_pods(kube_client, "production", "app=payment-service", "app", "1.2.3", patterns, 3.0, 0)
    assert r.status == "pass", r.reason
    assert len(r.evidence["new_pods"]) == 1 and len(r.evidence["stable_pods"]) == 3
    [row] = r.evidence["signatures"]
    assert row["signature"] == "ERROR upstream timeout after <num>ms" and row["verdict"] == "known"

    deploy(kube_client, "production", "payment-service-bad", "1.2.4", replicas=1, track="canary")
    kubesim.advance(30)
    r = scan_pods(kube_client, "production", "app=payment-service", "app", "1.2.4", patterns, 3.0, 0)
    assert r.status == "fail"
    assert [s["signature"] for s in r.evidence["signatures"]] == ["KeyError: '<str>' in handler <num>"]


# -- operators under dag.test() against kubesim ---------------------------------------------------
_ids = iter(range(10_000))


def make_spec(**gates: Any) -> dict[str, Any]:
    return spec_to_dict(
        parse_spec(
            {
                "service": "payment-service",
                "image": IMAGE,
                "kubernetes": {"container": "app"},
                "gates": {
                    "ci": None,
                    "incidents": None,
                    "registry": None,
                    "backups": None,
                    "staging_healthy": True,
                    "cluster": {"max_node_cpu": 0.85, "max_node_memory": 0.9},
                    **gates,
                },
                "endpoints": {
                    "staging": "/_sim/apps/{namespace}/{service}",
                    "production": "/_sim/apps/{namespace}/{service}",
                },
                "health": {"retries": 2, "retry_delay": "50ms"},
                "smoke": [
                    {
                        "name": "create payment",
                        "method": "POST",
                        "path": "/api/v1/payments",
                        "json": {"amount": 100},
                        "expect": {"status": 200, "json": {"ok": True, "echo.amount": 100}},
                    }
                ],
            }
        )
    )


@pytest.fixture
def sim_connections(kubesim, airflow_db, airflow_connections):
    airflow_connections(
        "kubernetes_default", {"conn_type": "kubernetes", "extra": {"kube_config_path": kubesim.kubeconfig}}
    )
    airflow_connections("airlock_app_http", {"conn_type": "http", "host": kubesim.url})
    return kubesim


def dag_with(*factories: Any) -> DAG:
    with DAG(f"kubesim_checks_{next(_ids)}", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        previous = None
        for factory in factories:
            task = factory()
            if previous is not None:
                previous >> task
            previous = task
    return dag


@pytest.mark.kubesim_scenario(SCENARIO)
def test_preflight_operator_on_kubesim(sim_connections, kube_client, capsys):
    from operators.preflight import PreflightOperator

    deploy(kube_client, "staging", "payment-service", "1.2.3")
    sim_connections.advance(5)
    spec = make_spec()
    dr = run_dag(
        dag_with(lambda: PreflightOperator(task_id="checks", spec=spec, request=request_for(spec, "1.2.3")))
    )
    out = capsys.readouterr().out
    assert task_state(dr, "checks") == "success", out[-3000:]
    assert [r["status"] for r in xcom_value(dr, "checks")] == ["pass", "pass"]

    deploy(kube_client, "staging", "worker", "broken", replicas=1)
    sim_connections.advance(10)
    spec = make_spec(cluster={"max_node_cpu": 0.4, "max_node_memory": 0.9})
    dr = run_dag(
        dag_with(lambda: PreflightOperator(task_id="checks", spec=spec, request=request_for(spec, "1.2.3")))
    )
    out = capsys.readouterr().out
    assert task_state(dr, "checks") == "failed"
    assert "2 pre-flight check(s) failed: staging_healthy: staging (staging)" in out
    assert "; cluster_healthy: node usage over limit: node-b cpu 50% (" in out


@pytest.mark.kubesim_scenario(SCENARIO)
def test_health_smoke_and_log_scan_operators_on_kubesim(sim_connections, kube_client, capsys):
    from operators.app_checks import HealthCheckOperator, SmokeTestOperator
    from operators.log_scan import LogScanOperator

    deploy(kube_client, "production", "payment-service", "1.2.3", replicas=2)
    service(kube_client, "production")
    sim_connections.advance(30)
    spec = make_spec()
    dag = dag_with(
        lambda: HealthCheckOperator(
            task_id="health", spec=spec, request=request_for(spec, "1.2.3"), target="production"
        ),
        lambda: SmokeTestOperator(
            task_id="smoke", spec=spec, request=request_for(spec, "1.2.3"), target="production"
        ),
        lambda: LogScanOperator(task_id="log_scan", spec=spec, request=request_for(spec, "1.2.3")),
    )
    dr = run_dag(dag)
    out = capsys.readouterr().out
    for task_id in ("health", "smoke", "log_scan"):
        assert task_state(dr, task_id) == "success", out[-4000:]
    assert xcom_value(dr, "health")["evidence"]["attempts"][-1]["body"]["version"] == "1.2.3"
    assert xcom_value(dr, "smoke")[0]["status"] == "pass"
    # no stable pods (all run 1.2.3): the signature is listed with "no baseline", a warning
    scan = xcom_value(dr, "log_scan")
    assert scan["status"] == "warn" and scan["evidence"]["stable_pods"] == []
    assert scan["evidence"]["signatures"][0]["verdict"] == "no baseline"

    dr = run_dag(
        dag_with(
            lambda: HealthCheckOperator(
                task_id="health", spec=spec, request=request_for(spec, "1.3.0"), target="production"
            )
        )
    )
    out = capsys.readouterr().out
    assert task_state(dr, "health") == "failed"
    assert "not healthy after 3 attempt(s): version '1.2.3', expected '1.3.0'" in out
