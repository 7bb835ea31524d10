"""Issue 11 point 8: a +50 % p95 regression at the demo's traffic is caught within two canary steps.

A judge-level test over the real parts short of a running stack (a full canary run at 20 req/s takes
minutes per seed, and a detection *rate* needs hundreds of seeds): the demo's world (demo/scenario.yaml:
20 req/s, v1 at p50/p95/p99 40/120/200 ms), latencies drawn by kubesim's own code into kubesim's bucket
layouts, quantiles read back with Prometheus' histogram_quantile algorithm, and the shipped judge looking
every 5 s over the demo's 25 % and 50 % steps of 30 s (bench/judge.py prints the whole table).

A true +50 % sits exactly at max_latency_ratio 1.5, so any reading is a coin flip per look; what finer
buckets change is the bias (through the default buckets +50 % reads as about +44 %), and what an explicit
p95 requirement changes is that p95 is compared in the first step at all (150 canary requests < 200).
Seeded: the figures are deterministic.
"""

from __future__ import annotations

from airlock.analysis.judge import JudgeConfig
from airlock.spec import load_spec
from bench.judge import REPO, demo_latency_detection
from kubesim.traffic import BUCKETS, FINE_BUCKETS

SEEDS = 200
DEMO = JudgeConfig.from_spec(load_spec(REPO / "dags" / "services" / "demo-api.yaml"))
P95_AT_100 = JudgeConfig(**{**DEMO.__dict__, "min_requests_p95": 100})


def test_the_demo_judge_uses_the_demo_thresholds() -> None:
    assert (DEMO.min_requests, DEMO.interval_s, DEMO.max_latency_ratio) == (50, 5.0, 1.5)
    assert DEMO.quantile_requests("latency_p95") == 200 and P95_AT_100.quantile_requests("latency_p95") == 100


def test_a_50_percent_p95_regression_is_caught_within_two_steps_with_fine_buckets_and_p95_at_100() -> None:
    caught, failed = demo_latency_detection(1.5, FINE_BUCKETS, P95_AT_100, SEEDS)
    assert caught >= 0.80, caught  # 86 % with this seed
    assert failed == caught  # caught by the p95 rule, not by chance on errors
    # what main did: default buckets, p95 only from 200 requests (second step only)
    before, _ = demo_latency_detection(1.5, BUCKETS, DEMO, SEEDS)
    assert before <= 0.50, before  # 43 %
    # each change alone helps
    assert demo_latency_detection(1.5, FINE_BUCKETS, DEMO, SEEDS)[0] > before
    assert demo_latency_detection(1.5, BUCKETS, P95_AT_100, SEEDS)[0] > before


def test_healthy_canaries_are_rarely_failed_on_p95_at_100_requests() -> None:
    _, failed = demo_latency_detection(1.0, FINE_BUCKETS, P95_AT_100, SEEDS)
    assert failed <= 0.03, failed  # 1.5 % with this seed
