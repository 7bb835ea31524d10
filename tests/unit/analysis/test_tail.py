"""The latency tail test on histogram buckets (airlock.analysis.tail) and its row in the judge."""

from __future__ import annotations

import math

import pytest

from airlock.analysis import intervals, tail
from airlock.analysis.judge import JudgeConfig, Samples, TrackSample, judge
from airlock.analysis.plan import GatePlan
from airlock.analysis.prometheus import PrometheusError, parse_answer

EDGES = (0.05, 0.1, 0.12, 0.15, 0.2)


def hist(*counts: float) -> tail.Histogram:
    return tail.from_bucket_counts(EDGES, list(counts))


# baseline: 1000 requests, 950 at or below 120 ms -> its p95 boundary is 0.12 s, 5.0 % above it
BASELINE = hist(500, 300, 150, 30, 15, 5)


def test_boundary_is_the_first_bucket_reaching_the_quantile() -> None:
    assert tail.boundary_at(BASELINE, 0.95) == 0.12
    assert tail.boundary_at(BASELINE, 0.5) == 0.05
    # a quantile in the +Inf bucket has no finite boundary to count above; an empty histogram none at all
    assert tail.boundary_at(hist(10, 0, 0, 0, 0, 90), 0.95) is None
    assert tail.boundary_at((), 0.95) is None
    assert tail.above(BASELINE, 0.12) == 50
    # another layout without that boundary: the next larger bucket counts fewer requests as slow
    assert tail.above(BASELINE, 0.11) == 50


def test_a_slow_canary_fails_and_a_like_one_passes() -> None:
    z = intervals.look_quantile(0.01, 6)
    slow = hist(50, 100, 60, 50, 30, 10)  # 90 of 300 (30 %) above 0.12 s
    test = tail.tail_test(slow, BASELINE, 0.95, 1.5, z)
    assert test is not None and test.regression
    assert (test.boundary, test.canary_above, test.baseline_above) == (0.12, 90, 50)
    assert test.allowed_share == pytest.approx(0.075)
    assert test.lower == pytest.approx(intervals.wilson(90, 300, z)[0])
    like = hist(150, 90, 45, 9, 4, 2)  # 15 of 300 (5 %)
    healthy = tail.tail_test(like, BASELINE, 0.95, 1.5, z)
    assert healthy is not None and not healthy.regression


def test_allowed_share_is_the_baselines_upper_bound_when_a_wide_bucket_holds_few_above_it() -> None:
    # 1000 baseline requests, 990 at or below 0.15 s: the p95 falls in a wide bucket, only 1 % above it
    coarse = tail.from_bucket_counts((0.1, 0.15), [900, 90, 10])
    z = intervals.look_quantile(0.01, 6)
    test = tail.tail_test(tail.from_bucket_counts((0.1, 0.15), [240, 30, 30]), coarse, 0.95, 1.5, z)
    assert test is not None
    upper = intervals.wilson(10, 1000, z)[1]
    assert upper < 0.05 and test.allowed_share == pytest.approx(1.5 * upper)
    assert test.regression  # 30 of 300 (10 %) is little against 1.5 x 5 %, much against this baseline's 1 %
    # the canary's layout has no 0.12 s boundary: counted above the next one, 0.15 s (never stricter)
    other = tail.tail_test(tail.from_bucket_counts((0.1, 0.15), [240, 30, 30]), BASELINE, 0.95, 1.5, z)
    assert other is not None and (other.boundary, other.canary_above) == (0.12, 30)


def test_from_bucket_counts_checks_its_input() -> None:
    assert tail.from_bucket_counts((0.1,), [3, 1]) == ((0.1, 3.0), (math.inf, 4.0))
    with pytest.raises(ValueError, match="3 bucket counts for 1 finite edges; expected 2"):
        tail.from_bucket_counts((0.1,), [1, 2, 3])


def _samples(canary: tail.Histogram, baseline: tail.Histogram) -> Samples:
    return Samples(
        TrackSample(requests=tail.total(canary), errors=0, p95=0.2, p99=0.3, buckets=canary),
        TrackSample(requests=tail.total(baseline), errors=0, p95=0.12, p99=0.2, buckets=baseline),
    )


def test_the_judge_fails_the_canary_on_the_tail_and_says_so_with_numbers() -> None:
    slow = hist(50, 100, 60, 50, 30, 10)
    verdict = judge(_samples(slow, BASELINE), JudgeConfig(min_requests=50, interval_s=5), 15.0, 30.0)
    row = verdict.metric("latency_p95")
    assert verdict.decision == "fail" and row.status == "fail"
    assert row.reason.startswith(
        "p95 tail: 90 of 300 canary requests (30.0 %) above the baseline's p95 bucket boundary 120 ms, "
        "baseline 50 of 1000 (5.0 %); lower confidence bound"
    )
    assert (
        "> allowed 1.5 x 5.0 % = 7.50 % (one-sided at 0.0004: 4 % of alpha 0.01 at each of the 5 looks before "
        "the last): canary latency regression" in row.reason
    )
    assert (row.canary, row.baseline, row.threshold) == (pytest.approx(0.3), 0.05, pytest.approx(0.075))


def test_the_last_look_gets_most_of_alpha_and_the_shares_add_up_to_alpha() -> None:
    last = intervals.look_quantile(0.01, 6, last=True)
    early = intervals.look_quantile(0.01, 6, last=False)
    assert last == pytest.approx(-intervals.normal_quantile(0.008))
    assert early == pytest.approx(-intervals.normal_quantile(0.0004))
    # Bonferroni: one last look and five early ones spend exactly alpha
    spent = 1 - intervals.normal_cdf(last) + 5 * (1 - intervals.normal_cdf(early))
    assert spent == pytest.approx(0.01)
    assert intervals.look_quantile(0.01, 6) == pytest.approx(
        -intervals.normal_quantile(0.01 / 6)
    )  # unchanged
    assert intervals.look_quantile(0.01, 1, last=False) == pytest.approx(-intervals.normal_quantile(0.01))


def test_at_the_last_look_a_smaller_excess_is_significant() -> None:
    canary = hist(120, 90, 55, 18, 10, 7)  # 35 of 300 (11.7 %) above 120 ms
    config = JudgeConfig(min_requests=50, interval_s=5)
    early = judge(_samples(canary, BASELINE), config, 25.0, 30.0).metric("latency_p95")
    last = judge(_samples(canary, BASELINE), config, 30.0, 30.0).metric("latency_p95")
    assert early.status == "pending" and last.status == "fail"
    assert "(one-sided at 0.008: 80 % of alpha 0.01 at the gate's last look)" in last.reason


def test_with_an_extension_two_decisive_looks_share_most_of_alpha() -> None:
    # 6 looks in the step, 6 more in an extension as long: the step's last and the extension's last
    # share 80 %, the other 10 looks 20 %
    assert intervals.look_share(6, True, 6) == pytest.approx(0.4)
    assert intervals.look_share(6, False, 6) == pytest.approx(0.02)
    assert 2 * 0.4 + 10 * intervals.look_share(6, False, 6) == pytest.approx(1.0)
    assert intervals.look_share(1, True, 0) == 1.0 and intervals.look_share(1, True, 1) == 0.5


def test_a_tail_above_its_allowed_share_but_not_significantly_is_observed_longer_not_passed() -> None:
    canary = hist(40, 30, 18, 6, 4, 2)  # 12 of 100 (12 %): above 7.5 %, not significantly
    config = JudgeConfig(min_requests=50, interval_s=5)
    end = judge(_samples(canary, BASELINE), config, 30.0, 30.0, extension_s=30.0)
    assert end.decision == "continue"
    assert end.reason.startswith("observing up to 30s longer: p95 tail: 12 of 100 canary requests (12.0 %)")
    assert "one-sided at 0.004: 40 % of alpha 0.01 at each decisive look" in end.reason
    # at the extension's end it is decided either way: here still not significant, so it passes
    last = judge(_samples(canary, BASELINE), config, 60.0, 30.0, extension_s=30.0)
    assert last.decision == "pass"
    # a tail within its allowed share is not held back
    like = hist(50, 30, 15, 3, 1, 1)  # 5 of 100
    assert judge(_samples(like, BASELINE), config, 30.0, 30.0, extension_s=30.0).decision == "pass"


def test_the_gate_extends_by_its_max_extension() -> None:
    from airlock.analysis.gate import GateState

    canary = hist(40, 30, 18, 6, 4, 2)
    state = GateState(JudgeConfig(min_requests=50, interval_s=5), 30.0, max_extension_s=30.0)
    assert state.observe(_samples(canary, BASELINE), 30.0).decision == "continue"
    assert (
        GateState(JudgeConfig(min_requests=50, interval_s=5), 30.0)
        .observe(_samples(canary, BASELINE), 30.0)
        .decision
        == "pass"
    )  # no extension allowed: passes at the end, as before


def test_an_observed_excess_that_is_not_significant_stays_pending_and_blocks_an_early_pass() -> None:
    canary = hist(40, 30, 18, 6, 4, 2)  # 12 of 100 (12 %): above 7.5 %, not significantly
    verdict = judge(_samples(canary, BASELINE), JudgeConfig(min_requests=50, interval_s=5), 15.0, 30.0)
    row = verdict.metric("latency_p95")
    assert row.status == "pending" and "but not significantly" in row.reason
    assert verdict.decision == "continue"
    end = judge(_samples(canary, BASELINE), JudgeConfig(min_requests=50, interval_s=5), 30.0, 30.0)
    assert end.decision == "pass" and "p95 not compared" not in end.reason


def test_the_tail_test_waits_for_its_requests_and_names_the_shortfall() -> None:
    canary = hist(20, 10, 5, 3, 1, 1)  # 40 requests < the 100 a p95 tail test needs
    verdict = judge(_samples(canary, BASELINE), JudgeConfig(min_requests=20, interval_s=5), 30.0, 30.0)
    row = verdict.metric("latency_p95")
    assert row.status == "skipped"
    assert "p95 not compared: canary 40 of 100 requests" in verdict.reason


def test_without_buckets_the_judge_keeps_the_quantile_ratio_rule() -> None:
    samples = Samples(
        TrackSample(requests=1000, errors=0, p95=0.2, p99=0.3),
        TrackSample(requests=1000, errors=0, p95=0.1, p99=0.2),
    )
    row = judge(samples, JudgeConfig(), 60.0, 900.0).metric("latency_p95")
    assert row.status == "fail" and "is 200 % of the baseline" in row.reason


def _vector(*series: tuple[str | None, str]) -> dict[str, object]:
    result = [{"metric": {} if le is None else {"le": le}, "value": [0, v]} for le, v in series]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def test_a_buckets_answer_becomes_a_histogram_and_reaches_the_samples() -> None:
    body = _vector(("+Inf", "10"), ("0.1", "4"), ("0.05", "2.5"))
    hist_ = parse_answer("buckets", 200, body, "q")
    assert hist_ == ((0.05, 2.5), (0.1, 4.0), (math.inf, 10.0))
    assert parse_answer("buckets", 200, _vector(), "q") is None
    assert parse_answer("requests", 200, body, "q") == 16.5  # any other metric: one number, as before
    with pytest.raises(PrometheusError, match="without an `le` label"):
        parse_answer("buckets", 200, _vector((None, "3")), "q")
    samples = GatePlan.samples({("canary", "requests"): 10.0, ("canary", "buckets"): hist_})
    assert samples.canary.buckets == hist_ and samples.baseline.buckets is None


def test_every_gate_asks_prometheus_for_both_tracks_latency_histograms() -> None:
    from airlock.spec import parse_spec

    spec = parse_spec(
        {"service": "payment-service", "image": "registry.example.com/payments/payment-service"}
    )
    plan = GatePlan.from_spec(spec, version="1.4.0", phase="canary", started_at=1000.0)
    by_key = {(q.track, q.metric): q for q in plan.queries_at(1300.0)}
    assert by_key["canary", "buckets"].promql == (
        "sum by (le) (increase(http_request_duration_seconds_bucket"
        '{namespace="production",service="payment-service",track="canary"}[300s]))'
    )
    assert 'track!="canary"' in by_key["baseline", "buckets"].promql
