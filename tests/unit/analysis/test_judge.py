"""The canary judge on constructed samples: one test per rule, low traffic, early stop, Prometheus errors."""

from __future__ import annotations

import json
from dataclasses import replace

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
    v = run(t(2000, 160), t(7800, 31))
    assert v.decision == "fail" and v.failed and v.early_stop
    row = v.metric("error_rate")
    assert row.status == "fail" and row.statistic == pytest.approx(0.0626, abs=5e-5)
    # observed rate, its lower bound, the threshold and how alpha was spent: 900 s / 60 s = 15 looks
    assert v.reason == (
        "canary error rate 8.0 % (160/2000 req) is above the critical 5.0 % (lower confidence bound "
        "6.26 % > 5.0 %, one-sided, alpha 0.01 over 15 looks; baseline 0.4 %, 31/7800 req)"
    )


def test_critical_error_rate_above_the_level_by_chance_is_not_failed_on_the_point_estimate():
    # 6.25 % of 2000 is above 5 %, but over 15 looks a canary truly at 5 % shows that often enough:
    # lower bound 4.73 %. No baseline, so no other rule can decide; the row says why it waits.
    v = judge(Samples(t(2000, 125)), CFG, 300, STEP, phase="staging")
    row = v.metric("error_rate")
    assert row.status == "pending" and v.decision == "continue"
    assert row.statistic == pytest.approx(0.0473, abs=5e-5)
    assert row.reason == (
        "new version error rate 6.2 % (125/2000 req) is above the critical 5.0 %, but not significantly: "
        "lower confidence bound 4.73 % <= 5.0 % (one-sided, alpha 0.01 over 15 looks)"
    )
    # fewer looks spend more alpha on each: a gate that looks once fails the same counts (bound 5.11 %)
    once = judge(Samples(t(2000, 125)), JudgeConfig(interval_s=STEP), 300, STEP, phase="staging")
    assert once.metric("error_rate").status == "fail" and "over 1 looks" in once.reason


def test_eight_percent_errors_at_a_few_hundred_requests_is_failed():
    # Against a 0.4 % baseline the sequential test decides at 250 requests (the bound rules still wait).
    v = run(t(250, 20), t(2250, 9))
    assert v.decision == "fail" and v.metric("error_rate_test").status == "fail"
    assert v.metric("error_rate").status == "pending"
    # Without a baseline only the absolute rule can: its bound clears 5 % by 1000 requests.
    alone = judge(Samples(t(1000, 80)), CFG, 300, STEP, phase="staging")
    assert alone.decision == "fail" and alone.metric("error_rate").status == "fail"
    assert "lower confidence bound 5.66 % > 5.0 %" in alone.reason


def test_critical_error_rate_waits_for_min_requests():
    v = run(t(20, 3), t(180, 1), elapsed=30)  # 15 % of 20 requests: not evidence of anything yet
    assert v.metric("error_rate").status == "pending"
    assert v.decision == "continue"
    assert "canary 20 and baseline 180 < 200 requests" in v.reason


def test_error_rate_increase_over_baseline():
    cfg = JudgeConfig(max_error_rate=0.5)  # isolate the increase rule from the absolute one
    v = run(t(2000, 240), t(18000, 540), cfg=cfg)  # 12 % vs 3 %: +9 points
    row = v.metric("error_rate_increase")
    assert row.status == "fail" and row.statistic == pytest.approx(0.0682, abs=5e-5)
    assert v.decision == "fail"
    assert v.reason == (
        "canary error rate 12.0 % (240/2000 req) is 9.0 points above the baseline 3.0 % (540/18000 req); "
        "allowed +5.0 (lower confidence bound of the increase +6.82 points, one-sided, alpha 0.01 over 15 looks)"
    )


def test_error_rate_increase_not_significant_keeps_observing():
    cfg = JudgeConfig(max_error_rate=0.5)
    v = run(t(1000, 90), t(9000, 270), cfg=cfg)  # 9 % vs 3 %: +6 points observed, bound +3.0
    row = v.metric("error_rate_increase")
    assert row.status == "pending" and row.statistic is not None and row.statistic < 0.05
    assert "6.0 points above the baseline 3.0 %" in row.reason and "but not significantly" in row.reason


def test_zero_baseline_errors_are_written_in_words():
    v = run(t(69, 4), t(600, 0), cfg=JudgeConfig(min_requests=50))
    assert v.decision == "fail" and v.metric("error_rate_test").status == "fail"
    assert "inf" not in v.reason
    assert "significantly above the baseline 0.0 % (0/600 req): 0 errors in the baseline," in v.reason


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
    assert v.metric("latency_p99").reason == (
        "p99 not compared: canary 300 of 1000 requests (a p99 needs 10 requests beyond it)"
    )
    assert v.decision == "continue"


def test_short_step_says_which_quantiles_were_not_compared():
    # 412 canary requests: enough for min_requests and a p95 (200), not for a p99 (1000)
    v = run(t(412, 1, p95=0.2, p99=0.4), t(3708, 12, p95=0.2, p99=0.4), elapsed=STEP)
    assert v.decision == "pass"
    assert v.metric("latency_p95").status == "pass"
    assert v.metric("latency_p99").status == "skipped"  # the step is over: it will not decide any more
    assert v.reason.endswith("; p99 not compared: canary 412 of 1000 requests")
    table = format_verdict_table(v)
    assert any(
        line.startswith("  - latency_p99: p99 not compared: canary 412 of 1000 requests")
        for line in table.splitlines()
    )


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


def test_prometheus_errors_are_retried_then_the_gate_is_inconclusive():
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
    # no evidence either way: never a regression verdict; on_inconclusive (rollback here) decides
    assert v.decision == "inconclusive" and v.action == CFG.on_inconclusive == "rollback" and v.failed
    assert v.reason == (
        "metrics unavailable: 4 consecutive Prometheus errors (max_consecutive_errors 4); last: HTTP 503; "
        "inconclusive, not a regression: on_inconclusive=rollback: rolling back"
    )
    promote = GateState(replace(CFG, on_inconclusive="promote"), STEP)
    for _ in range(4):
        v = promote.observe_error("connection refused", 10)
    assert v.decision == "inconclusive" and v.action == "promote" and not v.failed and v.final


def test_config_from_spec():
    spec = parse_spec(
        {
            "service": "payment-service",
            "image": "registry.example.com/payments/payment-service",
            "metrics": {
                "thresholds": {"min_requests": 50, "alpha": 0.05},
                "on_inconclusive": "promote",
                "interval": "5s",
            },
        }
    )
    cfg = JudgeConfig.from_spec(spec)
    # the bound rules split alpha over the looks of a gate: a 30 s step looked at every 5 s has 6
    assert cfg.interval_s == 5.0 and cfg.looks(30.0) == 6 and cfg.looks(32.0) == 7 and cfg.looks(1.0) == 1
    assert (cfg.min_requests, cfg.alpha, cfg.on_inconclusive, cfg.max_error_rate) == (
        50,
        0.05,
        "promote",
        0.05,
    )


def test_verdict_is_json_and_renders_as_a_table():
    v = run(t(2000, 160, p99=0.5), t(7800, 31, p99=0.4))
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
    assert "8.00 %" in row and "0.40 %" in row and "5.00 %" in row and "160/2000 vs 31/7800" in row
    assert "bound 6.26 %" in row  # the statistic column shows the lower confidence bound
    assert row.endswith("fail")
    assert any(line.startswith("reason: canary error rate 8.0 % (160/2000 req)") for line in lines)
    assert "  - cpu: no data for cpu (optional metric)" in lines
