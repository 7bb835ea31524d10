"""Issue 11 points 4, 7, 8: what each gate compares (the previous version's own window before the
deployment), what its reasons call the new version ("canary", "new version", the new colour), blue-green's
post-switch observation (no early pass: the old colour stays until it is over), and explicit
per-quantile min_requests."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from airlock.analysis.gate import GateState
from airlock.analysis.judge import JudgeConfig, Samples, TrackSample, judge
from airlock.analysis.plan import GatePlan
from airlock.analysis.verdict import Verdict, format_verdict_table
from airlock.spec import SpecError, parse_spec

SPEC = parse_spec(
    {
        "service": "payment-service",
        "image": "registry.local/payment-service",
        "strategy": {"blue_green": {"post_switch_duration": "45s"}, "canary": {"step_duration": "10m"}},
        "metrics": {"interval": "5s", "validation_window": "2m"},
    }
)
DEPLOY_START = datetime(2026, 12, 2, 9, 0, tzinfo=UTC).timestamp()


def t(requests: float, errors: float, **kw: float) -> TrackSample:
    return TrackSample(requests=requests, errors=errors, **kw)


BAD = Samples(t(2000, 160), t(7800, 31))  # 8 % against 0.4 %


@pytest.mark.parametrize(
    ("phase", "subject", "word"),
    [
        ("canary", None, "canary"),
        ("validation", None, "new version"),
        ("staging", None, "new version"),
        ("post_switch", None, "green"),
        ("post_switch", "blue", "blue"),  # the next release goes to blue: the gate names the colour
    ],
)
def test_reasons_name_what_the_phase_judges(phase: str, subject: str | None, word: str) -> None:
    v = judge(BAD, JudgeConfig(), 60, 900, phase, subject)
    assert v.decision == "fail"
    assert v.reason.startswith(f"{word} error rate 8.0 % (160/2000 req) is above the critical 5.0 %"), (
        v.reason
    )
    if word != "canary":
        assert "canary" not in v.reason and all("canary" not in m.reason for m in v.metrics)
    # so does the verdict table's column, also after the verdict's JSON round trip (XCom, trigger event)
    table = format_verdict_table(Verdict.from_dict(v.to_dict()))
    assert re.match(rf"metric +{word} +baseline +threshold", table.splitlines()[1]), table
    # the shortfall of a quiet gate names it too
    quiet = judge(Samples(t(30, 0), t(5000, 20)), JudgeConfig(), 60, 900, phase, subject)
    assert f"{word} 30 < 200 requests" in quiet.reason


def test_post_switch_gate_observes_the_green_colour_for_post_switch_duration_against_the_previous_version():
    plan = GatePlan.from_spec(
        SPEC,
        version="2.0.0",
        phase="post_switch",
        started_at=DEPLOY_START + 300,
        baseline_version="1.0.0",
        baseline_end=DEPLOY_START,
    )
    assert plan.duration_s == 45.0  # strategy.blue_green.post_switch_duration, not validation_window
    queries = {(q.track, q.metric): q for q in plan.queries_at(DEPLOY_START + 320)}
    green, before = queries[("canary", "requests")], queries[("baseline", "requests")]
    assert 'version="2.0.0"' in green.promql and "offset 20s" in green.promql and green.at is None
    # the previous version's own pods, over 45 s ending when the deployment started (not when the gate did)
    assert 'version="1.0.0"' in before.promql and "offset 45s" in before.promql
    assert before.at == DEPLOY_START
    assert "track" not in before.promql
    described = plan.describe()
    assert "post_switch gate for payment-service 2.0.0: green {" in described
    assert "previous version 1.0.0, the 45s before 2026-12-02T09:00:00Z (the deployment's start)" in described


def test_validation_gate_compares_with_the_previous_versions_window_before_the_deployment():
    plan = GatePlan.from_spec(
        SPEC,
        version="2.0.0",
        phase="validation",
        started_at=DEPLOY_START + 600,
        baseline_version="1.0.0",
        baseline_end=DEPLOY_START,
    )
    before = next(q for q in plan.queries_at(DEPLOY_START + 660) if q.track == "baseline")
    assert 'version="1.0.0"' in before.promql and "offset 120s" in before.promql
    assert before.at == DEPLOY_START
    assert "new version {" in plan.describe()


def test_a_healthy_green_is_observed_for_the_whole_post_switch_duration_but_a_bad_one_stops_at_once():
    healthy = Samples(t(20000, 40), t(60000, 120))
    early = {}
    for phase in ("canary", "post_switch"):
        plan = GatePlan.from_spec(SPEC, version="2.0.0", phase=phase, started_at=0.0, duration_s=45.0)
        early[phase] = plan.gate_state().observe(healthy, 20.0)
    # a canary may pass early on clear evidence; the post-switch gate keeps the old colour until 45 s
    assert early["canary"].decision == "pass" and early["canary"].early_stop
    assert early["post_switch"].decision == "continue", early["post_switch"].reason
    post = GatePlan.from_spec(SPEC, version="2.0.0", phase="post_switch", started_at=0.0).gate_state()
    assert post.observe(healthy, 45.0).decision == "pass"
    bad = GatePlan.from_spec(SPEC, version="2.0.0", phase="post_switch", started_at=0.0).gate_state()
    failed = bad.observe(BAD, 10.0)
    assert failed.decision == "fail" and failed.early_stop and failed.reason.startswith("green error rate")


def test_an_extension_names_the_new_version_in_validation():
    gate = GateState(JudgeConfig(), 120.0, "validation", max_extension_s=120.0, baseline_grows=False)
    v = gate.observe(Samples(t(50, 0), t(5000, 20)), 120.0)
    assert "new version 50 of 200 requests (150 more needed)" in v.reason, v.reason


def test_explicit_min_requests_per_quantile_compares_p95_earlier():
    # 150 requests per track: by default p95 waits for 200 (10 beyond it) and is not compared
    slow = Samples(t(150, 0, p95=0.200), t(450, 1, p95=0.120))
    default = judge(slow, JudgeConfig(min_requests=50), 30, 30)
    row = default.metric("latency_p95")
    assert row.status == "skipped" and row.reason.startswith("p95 not compared: canary 150 of 200 requests")
    assert "p95 not compared: canary 150 of 200 requests" in default.reason
    explicit = judge(slow, JudgeConfig(min_requests=50, min_requests_p95=100), 20, 30)
    assert explicit.decision == "fail" and explicit.metric("latency_p95").status == "fail"
    assert explicit.reason.startswith("canary p95 latency 200 ms is 167 % of the baseline 120 ms")
    # short of the explicit count, the row names the setting it waits for
    short = judge(
        Samples(t(80, 0, p95=0.2), t(240, 1, p95=0.12)),
        JudgeConfig(min_requests=50, min_requests_p95=100),
        10,
        30,
    )
    assert short.metric("latency_p95").reason == (
        "p95 not compared: canary 80 of 100 requests (thresholds.quantile_min_requests)"
    )
    # p99 keeps its own default (max(min_requests, 1000))
    assert JudgeConfig(min_requests=50, min_requests_p95=100).quantile_requests("latency_p99") == 1000


def test_spec_quantile_min_requests_reaches_the_judge_and_bad_values_are_refused():
    spec = parse_spec(
        {
            "service": "a",
            "image": "r/a",
            "metrics": {"thresholds": {"quantile_min_requests": {"p95": 100, "p99": 400}}},
        }
    )
    config = JudgeConfig.from_spec(spec)
    assert (config.quantile_requests("latency_p95"), config.quantile_requests("latency_p99")) == (100, 400)
    assert (
        JudgeConfig.from_spec(parse_spec({"service": "a", "image": "r/a"})).quantile_requests("latency_p99")
        == 1000
    )
    # JSON round trip (the plan crosses into the triggerer as trigger kwargs)
    plan = GatePlan.from_spec(spec, version="1", phase="canary", started_at=0.0)
    assert GatePlan.from_dict(plan.to_dict()).config.min_requests_p95 == 100
    with pytest.raises(SpecError, match=r"quantile_min_requests\.p90'.*unknown field"):
        parse_spec(
            {"service": "a", "image": "r/a", "metrics": {"thresholds": {"quantile_min_requests": {"p90": 5}}}}
        )
