"""Low traffic: a gate that ends short of min_requests first extends its observation (the pure decision,
then GateState over a fake sample stream, then the plan built from a spec)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from airlock.analysis.extension import TrackCount, extend_or_conclude
from airlock.analysis.gate import GateState
from airlock.analysis.judge import JudgeConfig, Samples, TrackSample
from airlock.analysis.plan import GatePlan
from airlock.analysis.verdict import Verdict
from airlock.spec import parse_spec

STEP = 900.0  # a 15-minute step
CFG = JudgeConfig()  # min_requests 200, interval 60 s, on_inconclusive rollback


def canary(requests: float) -> list[TrackCount]:
    return [TrackCount("canary", requests), TrackCount("baseline", 5000)]


# -- the pure decision ---------------------------------------------------------------------------------


def test_short_at_the_end_extends_saying_how_many_more_requests_are_needed():
    ext = extend_or_conclude(canary(120), 200, STEP, STEP, 600)
    assert ext.extend
    assert ext.reason == (
        "inconclusive after 15m: canary 120 of 200 requests (80 more needed); "
        "extending the observation by up to 10m"
    )


def test_each_poll_of_the_extension_says_what_is_left():
    ext = extend_or_conclude(canary(170), 200, 1200, STEP, 600)
    assert ext.extend
    assert ext.reason == (
        "inconclusive after 20m: canary 170 of 200 requests (30 more needed); "
        "extending the observation by up to 5m"
    )


def test_both_short_tracks_are_named():
    tracks = [TrackCount("canary", 150), TrackCount("baseline", 190)]
    ext = extend_or_conclude(tracks, 200, STEP, STEP, STEP)
    assert ext.extend
    assert ext.reason.startswith(
        "inconclusive after 15m: canary 150 of 200 requests (50 more needed) and "
        "baseline 190 of 200 requests (10 more needed); "
    )


def test_extension_used_up_concludes_saying_how_far_it_got():
    ext = extend_or_conclude(canary(190), 200, 1500, STEP, 600)
    assert not ext.extend
    assert ext.reason == (
        "inconclusive after 25m: canary 190 of 200 requests (10 more needed), "
        "including the whole 10m extension (max_extension)"
    )


def test_unreachable_at_the_observed_rate_concludes_early():
    # 60 requests in 15 m is 0.0667 req/s: about 100 by 25 m, far short of 200 - waiting changes nothing
    ext = extend_or_conclude(canary(60), 200, STEP, STEP, 600)
    assert not ext.extend
    assert ext.reason == (
        "inconclusive after 15m: canary 60 of 200 requests (140 more needed); concluding early: "
        "canary at 0.0667 req/s would reach about 100 by 25m, short of 200 within max_extension 10m"
    )


def test_traffic_that_slows_during_the_extension_concludes_there_saying_so():
    ext = extend_or_conclude(canary(120), 200, 1200, STEP, STEP)
    assert not ext.extend
    assert ext.reason == (
        "inconclusive after 20m: canary 120 of 200 requests (80 more needed), 5m into the extension; "
        "concluding early: canary at 0.1 req/s would reach about 180 by 30m, short of 200 within "
        "max_extension 15m"
    )


def test_a_track_with_no_requests_cannot_reach_anything():
    ext = extend_or_conclude(canary(0), 200, STEP, STEP, STEP)
    assert not ext.extend and "concluding early: canary at 0 req/s would reach about 0 by 30m" in ext.reason


def test_just_reachable_extends_just_unreachable_concludes():
    # 100 in 15 m projects exactly 200 at 30 m: extend; 99 projects 198: conclude
    assert extend_or_conclude(canary(100), 200, STEP, STEP, STEP).extend
    assert not extend_or_conclude(canary(99), 200, STEP, STEP, STEP).extend


def test_a_fixed_baseline_window_short_of_requests_concludes_at_once():
    tracks = [TrackCount("canary", 500), TrackCount("baseline", 120, grows=False)]
    ext = extend_or_conclude(tracks, 200, STEP, STEP, STEP)
    assert not ext.extend
    assert ext.reason == (
        "inconclusive after 15m: baseline 120 of 200 requests (80 more needed); concluding without "
        "extending: the baseline is a fixed window before the deployment, waiting adds no requests to it"
    )


def test_max_extension_off_concludes_at_the_end_of_the_duration():
    ext = extend_or_conclude(canary(199), 200, STEP, STEP, 0)
    assert not ext.extend
    assert (
        ext.reason
        == "inconclusive after 15m: canary 199 of 200 requests (1 more needed); max_extension is off"
    )


# -- GateState over time, with a fake sample stream ----------------------------------------------------


def stream(
    canary_requests: Callable[[float], float], baseline_rps: float = 3.0
) -> Callable[[float], Samples]:
    """Cumulative samples at `t` seconds: the canary as given, a healthy baseline at `baseline_rps`."""

    def at(t: float) -> Samples:
        return Samples(
            TrackSample(requests=canary_requests(t), errors=0.0),
            TrackSample(requests=baseline_rps * t, errors=baseline_rps * t * 0.004),
        )

    return at


def drive(gate: GateState, samples_at: Callable[[float], Samples], interval: float = 60.0) -> list[Verdict]:
    """Poll every interval until the gate decides (at most 3 durations' worth, so a bug cannot loop)."""
    verdicts = []
    t = 0.0
    while t < 3 * gate.duration_s:
        t += interval
        verdicts.append(gate.observe(samples_at(t), t))
        if verdicts[-1].final:
            return verdicts
    raise AssertionError(f"the gate never decided: {verdicts[-1].reason}")


def test_low_traffic_reaching_min_requests_during_the_extension_passes():
    gate = GateState(CFG, STEP, max_extension_s=STEP)
    verdicts = drive(gate, stream(lambda t: 0.15 * t))  # 135 requests at 15 m, 200 at 22m13s
    final = verdicts[-1]
    assert final.decision == "pass" and not final.failed
    assert final.elapsed_s == 1380  # the first poll with 200 canary requests (207), in the extension
    at_end = next(v for v in verdicts if v.elapsed_s == STEP)
    assert at_end.decision == "continue" and not at_end.final
    assert at_end.reason == (
        "inconclusive after 15m: canary 135 of 200 requests (65 more needed); "
        "extending the observation by up to 15m"
    )
    assert verdicts[-2].reason == (
        "inconclusive after 22m: canary 198 of 200 requests (2 more needed); "
        "extending the observation by up to 8m"
    )


def test_low_traffic_never_reaching_min_requests_is_inconclusive_with_the_numbers():
    # 0.112 req/s keeps the projection above 200 until traffic stops in the last minute: the gate
    # observes the whole extension and then applies on_inconclusive
    gate = GateState(CFG, STEP, max_extension_s=STEP)
    verdicts = drive(gate, stream(lambda t: 0.112 * min(t, 1740)))
    final = verdicts[-1]
    assert all(v.decision == "continue" for v in verdicts[:-1])
    assert final.decision == "inconclusive" and final.failed and final.action == "rollback"
    assert final.elapsed_s == 2 * STEP
    assert final.reason == (
        "not enough traffic to judge (min_requests 200): inconclusive after 30m: canary 195 of 200 "
        "requests (5 more needed), including the whole 15m extension (max_extension); "
        "on_inconclusive=rollback: rolling back"
    )


def test_traffic_that_cannot_reach_min_requests_concludes_at_the_end_of_the_duration():
    gate = GateState(JudgeConfig(on_inconclusive="fail"), STEP, max_extension_s=STEP)
    verdicts = drive(gate, stream(lambda t: 0.05 * t))  # 45 at 15 m, about 90 by 30 m
    final = verdicts[-1]
    assert final.decision == "inconclusive" and final.elapsed_s == STEP and final.action == "fail"
    assert "concluding early: canary at 0.05 req/s would reach about 90 by 30m" in final.reason
    assert final.reason.endswith("on_inconclusive=fail: failing for a human")


def test_without_an_extension_the_inconclusive_action_applies_at_the_end():
    gate = GateState(JudgeConfig(on_inconclusive="promote"), STEP)  # max_extension_s 0
    final = drive(gate, stream(lambda t: 0.15 * t))[-1]
    assert final.decision == "inconclusive" and final.elapsed_s == STEP and not final.failed
    assert "max_extension is off" in final.reason and final.reason.endswith("promoting anyway")


def test_enough_samples_at_the_end_decides_as_before_without_extending():
    gate = GateState(CFG, STEP, max_extension_s=STEP)
    final = drive(gate, stream(lambda t: 0.5 * t))[-1]  # 450 canary requests at 15 m
    assert final.decision == "pass" and final.elapsed_s == STEP


# -- the plan built from a spec ------------------------------------------------------------------------


def _spec(**metrics: object):
    return parse_spec(
        {
            "service": "payment-service",
            "image": "registry.example.com/payments/payment-service",
            "strategy": {"canary": {"steps": [10, 100], "step_duration": "10m"}},
            "metrics": metrics,
        }
    )


def _plan(phase: str = "canary", **metrics: object) -> GatePlan:
    return GatePlan.from_spec(_spec(**metrics), version="1.1.0", phase=phase, started_at=0.0)


def test_the_extension_defaults_to_the_gates_own_duration():
    assert _plan().max_extension_s == 600.0
    assert _plan("validation", validation_window="20m").max_extension_s == 1200.0


@pytest.mark.parametrize(
    ("value", "seconds"), [("5m", 300.0), ("off", 0.0), ("0s", 0.0), (0, 0.0), ("24h", 86400.0)]
)
def test_max_extension_in_the_spec(value: object, seconds: float):
    plan = _plan(max_extension=value)
    assert plan.max_extension_s == seconds
    assert GatePlan.from_dict(plan.to_dict()) == plan  # it crosses into the triggerer as JSON


@pytest.mark.parametrize("value", ["25h", "-5m", "soon", True])
def test_max_extension_out_of_range_is_a_spec_error(value: object):
    with pytest.raises(ValueError, match="metrics.max_extension"):
        _spec(max_extension=value)


def test_gate_state_from_the_plan_knows_which_baselines_grow():
    canary_state = _plan().gate_state()
    assert (canary_state.max_extension_s, canary_state.baseline_grows) == (600.0, True)
    validation = _plan("validation").gate_state()
    assert validation.baseline_grows is False
    # the previous version's window is fixed: a short baseline concludes at once, saying why
    v = validation.observe(
        Samples(TrackSample(requests=900, errors=0), TrackSample(requests=150, errors=0)), 900
    )
    assert v.decision == "inconclusive" and "baseline is a fixed window" in v.reason


def test_a_plan_from_before_the_field_existed_does_not_extend():
    data = _plan().to_dict()
    del data["max_extension_s"]
    assert GatePlan.from_dict(data).max_extension_s == 0.0
