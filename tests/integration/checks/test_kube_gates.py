"""Staging, cluster and log-scan checks through the real kubernetes client against a fake API server."""

import pytest
from kubernetes import client

from airlock.checks.cluster import check_cluster
from airlock.checks.log_scan import scan_pods
from airlock.checks.preflight import current_image
from airlock.checks.staging import check_staging
from tests.integration.checks.fake_kube import FakeKubeApi


@pytest.fixture
def kube():
    with FakeKubeApi() as api:
        yield api


def api_client(fake: FakeKubeApi) -> client.ApiClient:
    conf = client.Configuration()
    conf.host = fake.url
    return client.ApiClient(conf)


def test_staging_and_cluster(kube):
    kube.add_app("staging", "payments", "reg.io/payments:1.2.3", replicas=2)
    kube.add_app("staging", "worker", "reg.io/worker:3", replicas=2, ready=1)
    kube.add_node("n1", used_cpu="500m", used_memory="2Gi")
    kube.add_node("n2", used_cpu="3800m", used_memory="8Gi")
    api = api_client(kube)
    r = check_staging(api, "staging", {"app": "worker"})
    assert r.status == "fail"
    assert (
        "worker: 1 of 2 updated replicas available" in r.reason
        and "worker-1 (Running: app: CrashLoopBackOff (3 restarts))" in r.reason
    )
    # payments is judged on its own workloads: the broken worker next to it does not block it
    r = check_staging(api, "staging", {"app": "payments"})
    assert r.status == "pass" and "1 Deployment(s) of other services not judged (worker)" in r.reason, (
        r.reason
    )
    r = check_cluster(api, 0.85, 0.9)
    assert r.status == "fail" and "n2 cpu 95% (3800m of 4) > 85%" in r.reason
    assert check_cluster(api, 0.99, 0.9).status == "pass"
    kube.node_metrics = None
    assert check_cluster(api, 0.99, 0.9).status == "warn"


def test_current_image_reads_the_production_container(kube):
    kube.add_app("production", "payments", "reg.io/payments:1.2.2")
    api = api_client(kube)
    assert current_image(api, "production", "payments", "app") == "reg.io/payments:1.2.2"
    assert current_image(api, "production", "missing", "app") is None


def test_log_scan_compares_new_with_stable_pods(kube):
    stable_lines = ["GET /pay 200"] * 50 + ["ERROR upstream timeout after 3000ms"] * 2
    new_lines = (
        ["GET /pay 200"] * 20
        + ["ERROR upstream timeout after 2500ms"]
        + ["Exception in handler \"pay\": KeyError 'currency'"] * 4
    )
    kube.add_app("production", "payments", "reg.io/payments:1.2.2", replicas=2, logs=stable_lines)
    kube.add_app(
        "production",
        "payments-canary",
        "reg.io/payments:1.2.3",
        replicas=1,
        logs=new_lines,
        labels={"app": "payments", "track": "canary"},
    )
    api = api_client(kube)
    r = scan_pods(api, "production", "app=payments", "app", "1.2.3", [r"(?i)\berror\b", "Exception"], 3.0, 0)
    assert r.status == "fail"
    assert r.evidence["new_pods"] == ["payments-canary-0"]
    assert sorted(r.evidence["stable_pods"]) == ["payments-0", "payments-1"]
    rows = {row["signature"]: row for row in r.evidence["signatures"]}
    assert rows["Exception in handler \"<str>\": KeyError '<str>'"]["verdict"] == "new"
    assert rows["ERROR upstream timeout after <num>ms"]["verdict"] == "known"
    assert rows["ERROR upstream timeout after <num>ms"]["count_stable"] == 4
    # the same scan with one new signature allowed only warns
    assert (
        scan_pods(
            api, "production", "app=payments", "app", "1.2.3", [r"(?i)\berror\b", "Exception"], 3.0, 1
        ).status
        == "warn"
    )
    # logs are requested raw (no client-side repr of bytes) and with tail_lines when configured
    scan_pods(api, "production", "app=payments", "app", "1.2.3", ["Exception"], 3.0, 0, tail_lines=10)
    assert (
        kube.requests_to("/api/v1/namespaces/production/pods/payments-0/log")[-1].param("tailLines") == "10"
    )


def test_log_scan_notes_pods_whose_logs_cannot_be_read(kube):
    kube.add_app("production", "payments", "reg.io/payments:1.2.2", replicas=2, logs=["GET /pay 200"])
    del kube.logs[("production", "payments-1")]  # e.g. the container has not started yet
    r = scan_pods(api_client(kube), "production", "app=payments", "app", "1.2.3", ["ERROR"], 3.0, 0)
    assert r.evidence["unreadable_pods"] == ["payments-1: HTTP 404 NotFound"]
    assert r.evidence["stable_pods"] == ["payments-0"], "the readable pod is still scanned"
