"""Issue 11 point 8: a +50 % p95 regression at the demo's traffic is caught within two canary steps.

A judge-level test over the real parts short of a running stack (a full canary run at 20 req/s takes
minutes per seed, and a detection *rate* needs hundreds of seeds): the demo's world (demo/scenario.yaml:
20 req/s, v1 at p50/p95/p99 40/120/200 ms), latencies drawn by kubesim's own code into kubesim's bucket
layouts, quantiles read back with Prometheus' histogram_quantile algorithm, and the shipped judge looking
every 5 s over the demo's 25 % and 50 % steps of 30 s, each extended by up to 30 s (the demo's
max_extension: unset, as long as the step) when the latency tail is above its allowed share but not yet
significantly so (bench/judge.py prints the whole table). "Within two steps" counts those extensions.

With the histogram in the samples (the gate's `buckets` query) p95 is judged by the tail test
(airlock.analysis.tail): the canary's share above the baseline's p95 bucket boundary against
max_latency_ratio x 5 %. Without it the judge compares the quantiles' ratio, which for a true +50 % at
max_latency_ratio 1.5 is a coin flip per look. Seeded: the figures are deterministic.
"""

from __future__ import annotations

from airlock.analysis.judge import JudgeConfig
from airlock.spec import load_spec
from bench.judge import REPO, demo_latency_detection
from kubesim.scenario import load_scenario_file
from kubesim.traffic import BUCKETS, FINE_BUCKETS, bucket_layout

SEEDS = 500  # as bench/judge.py: the figures below are its table's
DEMO = JudgeConfig.from_spec(load_spec(REPO / "dags" / "services" / "demo-api.yaml"))
DEMO_WORLD = load_scenario_file(str(REPO / "demo" / "scenario.yaml"))


def test_the_demo_judge_uses_the_demo_thresholds_and_the_demo_exports_fine_buckets() -> None:
    assert (DEMO.min_requests, DEMO.interval_s, DEMO.max_latency_ratio) == (50, 5.0, 1.5)
    entry = DEMO_WORLD.services["production/demo-api"]
    assert bucket_layout("production/demo-api", entry) == FINE_BUCKETS
    # the tail test compares p95 from 100 requests per track (5 expected beyond it): within the first
    # step's ~150 canary requests; the quantile ratio waits for 200 (10 beyond it)
    assert DEMO.quantile_requests("latency_p95", buckets=True) == 100
    assert DEMO.quantile_requests("latency_p95") == 200


def test_the_tail_test_catches_a_50_percent_p95_regression_within_two_steps() -> None:
    caught, failed = demo_latency_detection(1.5, FINE_BUCKETS, DEMO, SEEDS)
    assert caught >= 0.99, caught  # 99.2 % with these seeds (98.7 % of the first 300)
    assert failed == caught  # caught by the p95 rule, not by chance on errors
    # without the extension of a step whose tail is above 7.5 % but not significantly so
    no_extension, _ = demo_latency_detection(1.5, FINE_BUCKETS, DEMO, SEEDS, extension_s=0.0)
    assert 0.9 <= no_extension < caught, no_extension  # 94.2 %
    # the same canaries through the same judge without the buckets: the quantiles' ratio (before)
    ratio, _ = demo_latency_detection(1.5, FINE_BUCKETS, DEMO, SEEDS, with_buckets=False)
    assert ratio <= 0.7, ratio  # 62.0 %: the quantile ratio at 1.5 for a true +50 %


def test_healthy_canaries_are_failed_at_most_one_time_in_a_hundred() -> None:
    _, failed = demo_latency_detection(1.0, FINE_BUCKETS, DEMO, SEEDS)
    assert failed <= 0.01, failed  # 0.2 % with these seeds


def test_the_tail_test_needs_a_bucket_boundary_near_the_quantile() -> None:
    # Through the default layout the boundary above the demo's 120 ms p95 is 150 ms, with ~2.6 % of the
    # baseline above it: a +50 % canary's ~9 % there is hardly beyond the allowed 7.5 %. The docs say so
    # and the demo exports finer buckets; this pins that the difference is the layout, not the traffic.
    coarse, _ = demo_latency_detection(1.5, BUCKETS, DEMO, SEEDS)
    assert coarse <= 0.6, coarse  # 43.4 %
