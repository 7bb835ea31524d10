"""The canary judge on constructed samples: one test per rule, low traffic, early stop, Prometheus errors."""

from __future__ import annotations

import json

import pytest

from airlock.analysis.gate import GateState
from airlock.analysis.judge import JudgeConfig, Samples, TrackSample, judge
from airlock.analysis.verdict import Verdict, format_verdict_table
from airlock.spec import parse_spec

CFG = JudgeConfig()
STEP = 900.0  # a 15-minute step


def t(requests: float, errors: float, **kw: float) -> TrackSample:
    return TrackSample(requests=requests, errors=errors, **kw)


def run(
    canary: TrackSample,
    baseline: TrackSample | None = None,
    elapsed: float = 300,
    cfg: JudgeConfig = CFG,
    **kw,
):
    return judge(Samples(canary, baseline, **kw), cfg, elapsed, STEP)


def test_critical_error_rate_fails_with_numbers_in_the_reason():
    v = run(t(2000, 122), t(7800, 31))
    assert v.decision == "fail" and v.failed and v.early_stop
    assert v.metric("error_rate").status == "fail"
    assert v.reason == (
        "canary error rate 6.1 % (122/2000 req) is above the critical 5.0 % (baseline 0.4 %, 31/7800 req)"
    )


def test_critical_error_rate_waits_for_min_requests():
    v = run(t(20, 3), t(180, 1), elapsed=30)  # 15 % of 20 requests: not evidence of anything yet
    assert v.metric("error_rate").status == "pending"
    assert v.decision == "continue"
    assert "canary 20 and baseline 180 < 200 requests" in v.reason


def test_error_rate_increase_over_baseline():
    cfg = JudgeConfig(max_error_rate=0.5)  # isolate the increase rule from the absolute one
    v = run(t(1000, 90), t(9000, 270), cfg=cfg)  # 9 % vs 3 %: +6 points
    row = v.metric("error_rate_increase")
    assert row.status == "fail"
    assert v.decision == "fail"
    assert "6.0 points above the baseline 3.0 %" in v.reason


def test_sequential_test_catches_small_significant_regression():
    # 0.4 % -> 1.5 %: below both seed thresholds, but 30 errors where ~8 are expected
    v = run(t(2000, 30), t(18000, 72), elapsed=600)
    assert v.metric("error_rate").status == "pass"
    assert v.metric("error_rate_increase").status == "pass"
    row = v.metric("error_rate_test")
    assert row.status == "fail" and row.statistic >= row.bounds[1]
    assert v.decision == "fail"
    assert "significantly above the baseline 0.4 %" in v.reason and "3.8x" in v.reason


def test_sequential_test_keeps_observing_on_noise():
    v = run(t(2000, 12), t(18000, 72), elapsed=600)  # 0.6 % vs 0.4 %: plausible noise
    assert v.metric("error_rate_test").status == "pass"
    assert v.decision == "continue"


def test_better_canary_never_fails_the_test():
    v = run(t(2000, 0), t(18000, 400), elapsed=600)
    assert v.decision != "fail"


@pytest.mark.parametrize("quantile", ["p95", "p99"])
def test_latency_above_ratio_of_baseline_fails(quantile):
    canary = t(1000, 2, **{quantile: 0.8})
    baseline = t(9000, 36, **{quantile: 0.4})
    v = run(canary, baseline)
    row = v.metric(f"latency_{quantile}")
    assert row.status == "fail" and row.statistic == pytest.approx(2.0)
    assert v.decision == "fail"
    assert f"canary {quantile} latency 800 ms is 200 % of the baseline 400 ms (limit 150 %" in v.reason


def test_p99_needs_tail_samples_before_judging():
    v = run(t(300, 1, p99=0.8), t(2700, 10, p99=0.4))
    assert v.metric("latency_p99").status == "pending"
    assert "canary 300 < 1000 requests" in v.metric("latency_p99").reason
    assert v.decision == "continue"


def test_latency_within_ratio_passes():
    v = run(t(1000, 2, p95=0.25, p99=0.5), t(9000, 36, p95=0.2, p99=0.4), elapsed=STEP)
    assert v.metric("latency_p95").status == "pass" and v.metric("latency_p99").status == "pass"
    assert v.decision == "pass"


@pytest.mark.parametrize(("field", "name"), [("health_ok", "health"), ("smoke_ok", "smoke")])
def test_health_and_smoke_failures_fail_at_once(field, name):
    v = run(t(10, 0), t(90, 0), elapsed=5, **{field: False})
    assert v.decision == "fail" and v.metric(name).status == "fail"
    assert "failing" in v.reason


def test_low_traffic_is_inconclusive_at_the_end_and_rolls_back_by_default():
    v = run(t(57, 0), t(520, 2), elapsed=STEP)
    assert v.decision == "inconclusive" and v.action == "rollback" and v.failed
    assert v.reason.startswith("not enough traffic to judge: canary 57 < 200 requests")
    assert "on_inconclusive=rollback" in v.reason


def test_low_traffic_before_the_end_keeps_observing():
    v = run(t(57, 0), t(520, 2), elapsed=300)
    assert v.decision == "continue" and not v.failed
    assert "10m left" in v.reason


def test_on_inconclusive_promote_does_not_fail():
    v = run(t(57, 0), t(520, 2), elapsed=STEP, cfg=JudgeConfig(on_inconclusive="promote"))
    assert v.decision == "inconclusive" and v.action == "promote" and not v.failed


def test_healthy_canary_passes_at_the_end():
    v = run(t(1500, 6, p99=0.41), t(13500, 54, p99=0.40), elapsed=STEP)
    assert v.decision == "pass" and not v.early_stop
    assert v.reason.startswith("no rule failed and no significant regression after 15m")


def test_clear_evidence_of_health_stops_early():
    v = run(t(10000, 10, p95=0.2, p99=0.4), t(90000, 200, p95=0.2, p99=0.4), elapsed=300)
    assert v.decision == "pass" and v.early_stop
    assert "stopped early" in v.reason


def test_clear_evidence_of_harm_stops_early_below_min_requests():
    # 0.4 % -> 20 %: 30 errors in 150 canary requests is overwhelming; the test is valid at any size
    v = run(t(150, 30), t(1350, 5), elapsed=90)
    assert v.decision == "fail" and v.early_stop
    assert v.metric("error_rate").status == "pending"
    assert v.metric("error_rate_test").status == "fail"


def test_without_baseline_only_absolute_rules_apply():
    v = judge(Samples(t(1000, 3, p99=0.3)), CFG, STEP, STEP, phase="staging")
    assert v.decision == "pass"
    assert v.metric("error_rate_test").status == "skipped"
    assert v.metric("error_rate_increase").reason == "no baseline to compare with"
    bad = judge(Samples(t(1000, 80)), CFG, 60, STEP, phase="staging")
    assert bad.decision == "fail" and "above the critical 5.0 %" in bad.reason


def test_optional_metrics_without_data_are_skipped_saying_so():
    v = run(t(1000, 2), t(9000, 36))
    assert v.metric("cpu").status == "skipped"
    assert v.metric("cpu").reason == "no data for cpu (optional metric)"
    assert v.metric("latency_p99").status == "skipped"


def test_prometheus_errors_are_retried_then_fail_the_gate():
    gate = GateState(CFG, STEP)
    assert gate.observe(Samples(t(100, 0), t(900, 4)), 60).decision == "continue"
    for i in range(1, 4):
        v = gate.observe_error("connection refused", 60 + i * 10)
        assert v.decision == "continue" and v.consecutive_errors == i
    gate.observe(Samples(t(200, 0), t(1800, 7)), 120)  # a success resets the count
    assert gate.consecutive_errors == 0
    for _ in range(3):
        gate.observe_error("HTTP 503", 130)
    v = gate.observe_error("HTTP 503", 140)
    assert v.decision == "fail" and v.failed
    assert v.reason == (
        "metrics unavailable: 4 consecutive Prometheus errors (max_consecutive_errors 4); last: HTTP 503"
    )


def test_config_from_spec():
    spec = parse_spec(
        {
            "service": "payment-service",
            "image": "registry.example.com/payments/payment-service",
            "metrics": {"thresholds": {"min_requests": 50, "alpha": 0.05}, "on_inconclusive": "promote"},
        }
    )
    cfg = JudgeConfig.from_spec(spec)
    assert (cfg.min_requests, cfg.alpha, cfg.on_inconclusive, cfg.max_error_rate) == (
        50,
        0.05,
        "promote",
        0.05,
    )


def test_verdict_is_json_and_renders_as_a_table():
    v = run(t(2000, 122, p99=0.5), t(7800, 31, p99=0.4))
    data = json.loads(json.dumps(v.to_dict()))
    assert Verdict.from_dict(data) == v
    table = format_verdict_table(data)
    lines = table.splitlines()
    assert lines[0] == "canary gate after 300s of 900s: FAIL (early stop)"
    assert lines[1].split() == [
        "metric",
        "canary",
        "baseline",
        "threshold",
        "statistic",
        "samples",
        "(err/req)",
        "status",
    ]
    row = next(line for line in lines if line.startswith("error_rate "))
    assert "6.10 %" in row and "0.40 %" in row and "5.00 %" in row and "122/2000 vs 31/7800" in row
    assert row.endswith("fail")
    assert any(line.startswith("reason: canary error rate 6.1 % (122/2000 req)") for line in lines)
    assert "  - cpu: no data for cpu (optional metric)" in lines
