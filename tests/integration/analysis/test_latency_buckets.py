"""Issue 11 point 8: kubesim exports a service's latency histogram in the bucket layout its scenario asks
for (`latency_buckets: fine`), and a real Prometheus reads p95 through it at its true value, where the
default layout bends it. Two services in one world, the same image profile (p50/p95/p99 40/120/200 ms),
one per layout."""

from __future__ import annotations

import math
from typing import Any

import pytest
import requests

from airlock.analysis import intervals, queries, tail
from airlock.analysis.prometheus import parse_answer
from kubesim.testing import run_kubesim
from kubesim.traffic import BUCKETS, FINE_BUCKETS
from tests.fixtures.kubesim import make_container, make_deployment, make_service
from tests.fixtures.prometheus import query, wait_for_series

pytestmark = pytest.mark.integration

IMAGE = "registry.local/web:1.0"
LATENCY = {"p50": 40, "p95": 120, "p99": 200}


def _scenario(fine: Any = "fine") -> dict[str, Any]:
    objects: list[dict[str, Any]] = []
    for name in ("coarse", "fine"):
        objects += [
            make_service(name, "production", selector={"app": name}),
            make_deployment(
                name,
                "production",
                replicas=2,
                labels={"app": name},
                containers=[make_container("app", IMAGE)],
            ),
        ]
    return {
        "seed": 5,
        "images": {IMAGE: {"latency_ms": LATENCY, "ready_after_seconds": 0.5}},
        "namespaces": ["production"],
        "services": {
            "production/coarse": {"rps": 500},
            "production/fine": {"rps": 500, "latency_buckets": fine},
        },
        "objects": objects,
    }


def _le(text: str, service: str) -> list[float]:
    pod_series = [
        line
        for line in text.splitlines()
        if line.startswith("http_request_duration_seconds_bucket{") and f'service="{service}"' in line
    ]
    first_pod = pod_series[0].split('pod="')[1].split('"')[0]
    les = [line.split('le="')[1].split('"')[0] for line in pod_series if f'pod="{first_pod}"' in line]
    return [float(x) for x in les if x != "+Inf"]


def test_each_service_exports_its_layout_and_fine_buckets_read_p95_at_its_value(
    prometheus_factory: Any,
) -> None:
    with run_kubesim(_scenario()) as sim:
        sim.advance(5)
        text = requests.get(f"{sim.url}/metrics", timeout=10).text
        assert _le(text, "fine") == list(FINE_BUCKETS)
        assert _le(text, "coarse") == list(BUCKETS)

        prometheus = prometheus_factory([f"{sim.url}/metrics"])
        sim.advance(600)  # ~300000 requests per service
        wait_for_series(prometheus, 'http_requests_total{service="fine"} > 100000')
        profile = sim.world.scenario.profile_for(IMAGE)
        mu, sigma = profile.latency_params()
        true_p95 = math.exp(mu + 1.6449 * sigma)  # the lognormal kubesim draws from

        def p95(service: str) -> float:
            promql = f'histogram_quantile(0.95, sum by (le) (http_request_duration_seconds_bucket{{service="{service}"}}))'
            return float(query(prometheus, promql)[0]["value"][1])

        fine, coarse = p95("fine"), p95("coarse")
        assert fine == pytest.approx(true_p95, rel=0.02), (fine, true_p95)
        assert abs(coarse / true_p95 - 1) > 2 * abs(fine / true_p95 - 1), (coarse, fine, true_p95)


def test_the_buckets_query_reads_a_histogram_and_the_tail_test_sees_a_50_percent_slower_service(
    prometheus_factory: Any,
) -> None:
    """The gate's own `buckets` template through a real Prometheus, parsed as the hook parses it
    (parse_answer), feeds the tail test: a service 1.5 x slower than the baseline is a regression, a
    second copy of the baseline is not."""
    slow_image = "registry.local/web:slow"
    scenario = _scenario()
    scenario["images"][slow_image] = {
        "latency_ms": {k: v * 1.5 for k, v in LATENCY.items()},
        "ready_after_seconds": 0.5,
    }
    # "coarse" runs the slow image here, in the fine layout too
    scenario["services"]["production/coarse"]["latency_buckets"] = "fine"
    scenario["objects"][1]["spec"]["template"]["spec"]["containers"][0]["image"] = slow_image
    with run_kubesim(scenario) as sim:
        sim.advance(5)
        prometheus = prometheus_factory([f"{sim.url}/metrics"])
        wait_for_series(prometheus, 'http_requests_total{service="fine"}')
        sim.advance(2)  # ~1000 requests per service after the first scrape: what increase() counts

        def histogram(service: str) -> tail.Histogram:
            promql = queries.render(
                queries.DEFAULT_QUERIES["buckets"], selector=f'service="{service}"', window="10m"
            )
            body: dict[str, Any] = {}

            def enough(_: Any) -> bool:
                body.update(
                    requests.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=10).json()
                )
                answer = parse_answer("buckets", 200, body, promql)
                return isinstance(answer, tuple) and tail.total(answer) > 500

            wait_for_series(prometheus, "vector(1)", predicate=enough)
            answer = parse_answer("buckets", 200, body, promql)
            assert isinstance(answer, tuple)
            return answer

        baseline, slow = histogram("fine"), histogram("coarse")
        assert [le for le, _ in baseline][:-1] == list(FINE_BUCKETS) and baseline[-1][0] == math.inf
        z = intervals.look_quantile(0.01, 1)
        regression = tail.tail_test(slow, baseline, 0.95, 1.5, z)
        assert regression is not None and regression.regression, regression
        same = tail.tail_test(baseline, baseline, 0.95, 1.5, z)
        assert same is not None and not same.regression


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("finest", "latency_buckets: 'finest' is not a layout; allowed: default or fine"),
        ([0.1, 0.05], "latency_buckets: [0.1, 0.05] must be positive, finite and increasing"),
        (["a"], "latency_buckets: ['a'] has a non-number"),
    ],
)
def test_a_bad_layout_is_refused_naming_the_service_and_the_value(layout: Any, message: str) -> None:
    with run_kubesim(_scenario(layout)) as sim:
        with pytest.raises(ValueError, match=r"services\['production/fine'\]\." + _escape(message)):
            sim.world.traffic.edges("production", "fine")


def _escape(text: str) -> str:
    import re

    return re.escape(text)
