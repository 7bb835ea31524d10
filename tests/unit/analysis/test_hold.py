"""Hold on inconclusive: which action an inconclusive gate takes when the spec leaves on_inconclusive unset,
and that a holding verdict is neither passed nor failed."""

from __future__ import annotations

import pytest

from airlock.analysis.gate import GateState
from airlock.analysis.judge import (
    INCONCLUSIVE_ACTIONS,
    JudgeConfig,
    Samples,
    TrackSample,
    resolve_inconclusive,
)
from airlock.analysis.verdict import Verdict
from airlock.spec import parse_spec

BASE = {"service": "web", "image": "registry.local/web"}
STEP = 600.0


def spec(**extra):
    return parse_spec({**BASE, **extra})


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, ("rollback", "rollback")),  # nobody to ask: the quiet gate rolls back, as before
        ({"notify": {"slack_connection": "slack_deployments"}}, ("rollback", "hold")),
        ({"hold": {"approvers": ["alice"]}}, ("rollback", "hold")),
        ({"approvals": {"approvers": ["bob"]}}, ("rollback", "hold")),
        # set explicitly: it applies to a metrics outage and a traffic shortfall alike
        (
            {"metrics": {"on_inconclusive": "rollback"}, "notify": {"slack_connection": "s"}},
            ("rollback",) * 2,
        ),
        ({"metrics": {"on_inconclusive": "hold"}}, ("hold", "hold")),
        ({"metrics": {"on_inconclusive": "promote"}}, ("promote", "promote")),
    ],
)
def test_unset_on_inconclusive_holds_a_quiet_gate_only_when_someone_hears_of_it(extra, expected) -> None:
    s = spec(**extra)
    assert resolve_inconclusive(s) == expected
    cfg = JudgeConfig.from_spec(s)
    assert (cfg.on_inconclusive, cfg.low_traffic_action) == expected


def quiet() -> Samples:
    return Samples(TrackSample(requests=40, errors=0), TrackSample(requests=900, errors=3))


def test_a_quiet_gate_holds_and_a_metrics_outage_still_rolls_back() -> None:
    cfg = JudgeConfig(min_requests=200, on_inconclusive="rollback", on_low_traffic="hold")
    v = GateState(cfg, STEP).observe(quiet(), STEP)
    assert (v.decision, v.action) == ("inconclusive", "hold")
    assert v.holds and not v.failed and not v.passed
    assert "on_inconclusive=hold: holding for a person to decide" in v.reason

    outage = GateState(cfg, STEP)
    for _ in range(cfg.max_consecutive_errors):
        down = outage.observe_error("503 Service Unavailable", STEP / 2)
    assert (down.decision, down.action) == ("inconclusive", "rollback")
    assert down.failed and not down.holds


@pytest.mark.parametrize(
    ("decision", "action", "failed", "holds", "passed"),
    [
        ("pass", None, False, False, True),
        ("fail", None, True, False, False),
        ("continue", None, False, False, False),
        ("inconclusive", "rollback", True, False, False),
        ("inconclusive", "fail", True, False, False),
        ("inconclusive", "promote", False, False, True),
        ("inconclusive", "hold", False, True, False),
    ],
)
def test_failed_holds_and_passed_are_exclusive(decision, action, failed, holds, passed) -> None:
    v = Verdict(decision, "r", "canary", 1.0, 2.0, action=action)
    assert (v.failed, v.holds, v.passed) == (failed, holds, passed)


def test_every_action_the_spec_allows_has_a_sentence() -> None:
    from typing import get_args

    from airlock.spec import MetricsConfig

    allowed = get_args(get_args(MetricsConfig.model_fields["on_inconclusive"].annotation)[0])
    assert set(allowed) == set(INCONCLUSIVE_ACTIONS)
