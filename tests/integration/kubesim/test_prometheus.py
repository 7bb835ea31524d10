"""A real Prometheus scrapes kubesim's /metrics; rate() gives back the scenario's error ratio."""

import pytest
from kubernetes import client

from tests.fixtures.kubesim import make_deployment, make_service
from tests.fixtures.prometheus import find_prometheus, query_scalar, wait_for_scrapes, wait_for_series

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_prometheus() is None, reason="prometheus not installed"),
    pytest.mark.kubesim_scenario(
        {
            "seed": 1,
            "images": {"registry.example/web:*": {"ready_after_seconds": 0.1, "error_rate": 0.1}},
            "services": {"default/web": {"rps": 2000}},
        }
    ),
]


def test_prometheus_rate_error_ratio(kubesim, kube_client, prometheus_factory):
    client.AppsV1Api(kube_client).create_namespaced_deployment(
        "default", make_deployment("web", image="registry.example/web:1.0", replicas=4)
    )
    client.CoreV1Api(kube_client).create_namespaced_service("default", make_service("web"))
    kubesim.advance(1)
    url = prometheus_factory([f"{kubesim.url}/metrics"])
    wait_for_series(url, 'http_requests_total{service="web"}', timeout=30, min_results=4)
    wait_for_scrapes(url, count=4, timeout=30)
    ratio = query_scalar(
        url,
        'sum(rate(http_requests_total{service="web",code="500"}[1m]))'
        ' / sum(rate(http_requests_total{service="web"}[1m]))',
    )
    assert ratio == pytest.approx(0.1, abs=0.02)
    # rate() over a window longer than the data extrapolates only ~1 interval: use irate for the rps
    rps = query_scalar(url, 'sum(irate(http_requests_total{service="web"}[10s]))')
    assert rps == pytest.approx(2000, rel=0.3)
    p50 = query_scalar(
        url, "histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))"
    )
    assert 0.01 < p50 < 0.05  # default latency profile: p50 20 ms
