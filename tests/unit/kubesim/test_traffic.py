"""Simulated traffic: replica ratio = traffic share, per-image error rates, /metrics exposition."""

import re
import threading
import time

import pytest
import requests
from kubernetes import client

from tests.fixtures.kubesim import make_deployment, make_service

SCENARIO = {
    "seed": 42,
    "images": {
        "registry.example/web:1.0": {
            "ready_after_seconds": 0.2,
            "error_rate": 0.004,
            "latency_ms": {"p50": 40, "p95": 120, "p99": 200},
        },
        "registry.example/web:2.0": {
            "ready_after_seconds": 0.2,
            "error_rate": 0.05,
            "latency_ms": {"p50": 80, "p95": 300, "p99": 600},
        },
    },
    "services": {"default/web": {"rps": 100}},
}
pytestmark = pytest.mark.kubesim_scenario(SCENARIO)
LINE = re.compile(r"^(\w+)\{(.*)\} (\S+)$")


def parse_metrics(text: str) -> list[tuple[str, dict, float]]:
    out = []
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
            out.append((m.group(1), labels, float(m.group(3))))
    return out


def _setup(kubesim, kube_client, stable=9, canary=1):
    apps, core = client.AppsV1Api(kube_client), client.CoreV1Api(kube_client)
    apps.create_namespaced_deployment(
        "default",
        make_deployment(
            "web", image="registry.example/web:1.0", replicas=stable, pod_labels={"track": "stable"}
        ),
    )
    apps.create_namespaced_deployment(
        "default",
        make_deployment(
            "web-canary",
            image="registry.example/web:2.0",
            replicas=canary,
            labels={"app": "web", "track": "canary"},
        ),
    )
    core.create_namespaced_service("default", make_service("web", selector={"app": "web"}))
    kubesim.advance(1)


def _totals(text: str, by: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, labels, value in parse_metrics(text):
        if name == "http_requests_total":
            out[labels[by]] = out.get(labels[by], 0) + value
    return out


def test_canary_share_matches_replica_ratio(kubesim, kube_client):
    _setup(kubesim, kube_client)
    before = _totals(requests.get(f"{kubesim.url}/metrics", timeout=5).text, "track")
    kubesim.advance(60)
    after = _totals(requests.get(f"{kubesim.url}/metrics", timeout=5).text, "track")
    canary = after["canary"] - before.get("canary", 0)
    total = sum(after.values()) - sum(before.values())
    assert 5500 < total < 6600  # ~100 rps for 60 s (plus real time)
    assert abs(canary / total - 0.10) < 0.03


def test_scrape_answers_while_the_store_is_busy(kubesim, kube_client):
    """A scrape does not wait behind the API's writers: with the store held (as a chain of reconciles
    holds it under load), /metrics answers at once with the counts of the last checkpoint; once the store
    is free again, it accrues up to now."""
    _setup(kubesim, kube_client)
    kubesim.advance(30)
    counted = sum(_totals(requests.get(f"{kubesim.url}/metrics", timeout=5).text, "track").values())
    store = kubesim.world.store
    release, held = threading.Event(), threading.Event()

    def hold() -> None:
        with store.lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        held.wait(5)
        kubesim.world.clock.advance(30)  # traffic a blocked checkpoint would have counted
        started = time.monotonic()
        busy = requests.get(f"{kubesim.url}/metrics", timeout=5)
        waited = time.monotonic() - started
    finally:
        release.set()
        holder.join()
    assert busy.status_code == 200 and waited < 2.0
    assert sum(_totals(busy.text, "track").values()) == counted  # the last checkpoint's counts
    after = sum(_totals(requests.get(f"{kubesim.url}/metrics", timeout=5).text, "track").values())
    assert after > counted + 2000  # ~100 rps for the 30 s the busy scrape did not accrue


def test_error_rates_and_histogram(kubesim, kube_client):
    _setup(kubesim, kube_client, stable=5, canary=5)
    kubesim.advance(600)
    resp = requests.get(f"{kubesim.url}/metrics", timeout=5)
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = parse_metrics(resp.text)
    for version, rate, p50 in (("1.0", 0.004, 0.040), ("2.0", 0.05, 0.080)):
        reqs = [(lab, v) for n, lab, v in samples if n == "http_requests_total" and lab["version"] == version]
        total = sum(v for _, v in reqs)
        errors = sum(v for lab, v in reqs if lab["code"] == "500")
        assert total > 25000
        assert errors / total == pytest.approx(rate, rel=0.25)
        # median from the histogram: the bucket where the cumulative count crosses 50 %
        buckets: dict[float, float] = {}
        for n, lab, v in samples:
            if (
                n == "http_request_duration_seconds_bucket"
                and lab["version"] == version
                and lab["le"] != "+Inf"
            ):
                buckets[float(lab["le"])] = buckets.get(float(lab["le"]), 0) + v
        median_bucket = min(le for le, c in buckets.items() if c >= total / 2)
        assert median_bucket in (0.05, 0.1) and p50 <= median_bucket
    pods = {lab["pod"] for n, lab, _ in samples if n == "http_requests_total"}
    assert len(pods) == 10
    assert all(lab["track"] in ("stable", "canary") for n, lab, _ in samples if n == "http_requests_total")


def test_traffic_follows_endpoint_changes_and_deleted_pods_expire(kubesim, kube_client):
    _setup(kubesim, kube_client)
    kubesim.advance(10)
    client.AppsV1Api(kube_client).delete_namespaced_deployment("web-canary", "default")
    canary_before = _totals(kubesim.metrics_text(), "track")["canary"]
    kubesim.advance(60)
    totals = _totals(kubesim.metrics_text(), "track")
    assert totals["canary"] == canary_before  # still exported, no longer growing
    kubesim.advance(601)
    assert "canary" not in _totals(kubesim.metrics_text(), "track")


def test_one_simulated_day_is_cheap(kubesim, kube_client):
    _setup(kubesim, kube_client)
    start = time.monotonic()
    kubesim.advance(86400)
    total = sum(_totals(kubesim.metrics_text(), "track").values())
    assert total == pytest.approx(8.64e6, rel=0.01)
    assert time.monotonic() - start < 5


def test_app_endpoints(kubesim, kube_client):
    _setup(kubesim, kube_client)
    health = requests.get(f"{kubesim.url}/_sim/apps/default/web/health", timeout=5)
    assert health.status_code == 200 and health.json()["status"] == "healthy"
    assert health.json()["version"] in ("1.0", "2.0")
    codes = []
    for _ in range(50):
        r = requests.post(f"{kubesim.url}/_sim/apps/default/web/api/orders", json={"id": 7}, timeout=5)
        codes.append(r.status_code)
        if r.status_code == 200:
            assert r.json()["echo"] == {"id": 7} and r.json()["path"] == "/api/orders" and r.json()["ok"]
    assert codes.count(200) >= 40
    pod = client.CoreV1Api(kube_client).list_namespaced_pod("default", label_selector="track=canary").items[0]
    direct = requests.get(f"{kubesim.url}/_sim/apps/default/pods/{pod.metadata.name}/health", timeout=5)
    assert direct.json() == {"status": "healthy", "version": "2.0", "pod": pod.metadata.name}
    assert requests.get(f"{kubesim.url}/_sim/apps/default/nope/health", timeout=5).status_code == 404
    client.CoreV1Api(kube_client).create_namespaced_service(
        "default", make_service("empty", selector={"x": "y"})
    )
    r = requests.get(f"{kubesim.url}/_sim/apps/default/empty/health", timeout=5)
    assert r.status_code == 503 and "error" in r.json()
