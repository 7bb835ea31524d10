"""The start decisions and sentences of a metrics gate (sensors.gate_inputs): an unused canary slot is
skipped saying why, the plan reads the step's weight from the request and the baseline from the rollback
plan (explicit arguments first), template-rendered inputs are read back, and the trigger that ends a passing
gate says what the worker would have said."""

from __future__ import annotations

import pytest

from airlock.analysis.verdict import Verdict
from airlock.run_request import RunRequest
from airlock.spec import parse_spec, spec_to_dict
from sensors.gate_inputs import (
    failure_message,
    gate_plan,
    optional_bool,
    optional_time,
    pass_message,
    slot_skip_reason,
)
from tests.fixtures.run_requests import request_for
from triggers.metrics import MetricsTrigger

SPEC = spec_to_dict(
    parse_spec(
        {
            "service": "payment-service",
            "image": "registry.local/payment-service",
            "strategy": {"canary": {"steps": [10, 50, 100], "step_duration": "20s"}},
            "metrics": {"interval": "5s"},
        }
    )
)


def _request(**kwargs: object) -> RunRequest:
    return RunRequest.from_dict(request_for(SPEC, "1.1.0", "canary", **kwargs))  # type: ignore[arg-type]


def test_an_unused_canary_slot_is_skipped_naming_the_runs_steps() -> None:
    assert slot_skip_reason(_request(canary_steps=[10, 100]), 1) == (
        "canary step slot 2 is not used by this run (steps [10, 100])"
    )
    assert slot_skip_reason(_request(), 1) is None
    assert slot_skip_reason(_request(), None) is None  # not a canary step's gate


def test_the_plan_takes_weight_and_baseline_from_the_request_and_the_rollback_plan() -> None:
    canary = gate_plan(SPEC, _request(), phase="canary", environment="production", slot=1, started_at=100.0)
    assert (canary.version, canary.weight, canary.duration_s, canary.started_at) == ("1.1.0", 50, 20.0, 100.0)

    record = {
        "images": {"app": "registry.local/payment-service:1.0.0"},
        "recorded_at": "2026-01-01T00:00:00Z",
    }
    validation = gate_plan(
        SPEC, _request(), phase="validation", environment="production", plan_record=record, duration="30s"
    )
    assert validation.baseline_version == "1.0.0"
    assert validation.baseline_end == 1767225600.0
    assert validation.duration_s == 30.0
    explicit = gate_plan(
        SPEC,
        _request(),
        phase="validation",
        environment="production",
        plan_record=record,
        baseline_version="0.9.0",
        baseline_end=5,
    )
    assert (explicit.baseline_version, explicit.baseline_end) == ("0.9.0", 5.0)  # explicit arguments win


def test_rendered_inputs_are_read_back() -> None:
    values = (None, "None", "True", "false", True, 0)
    assert [optional_bool(v) for v in values] == [None, None, True, False, True, False]
    assert optional_time("1970-01-01T00:01:00Z") == 60.0
    assert optional_time("12.5") == 12.5
    assert optional_time("") is None


def test_the_sentences_name_service_version_and_reason() -> None:
    verdict = Verdict(decision="fail", reason="canary error rate 6.0 % (9/150 req)", phase="canary",
                      elapsed_s=12, duration_s=30)  # fmt: skip
    assert failure_message(verdict, "payment-service", "1.1.0") == (
        "canary gate failed for payment-service 1.1.0: canary error rate 6.0 % (9/150 req)"
    )
    assert pass_message(verdict, "payment-service", "1.1.0").startswith(
        "canary gate passed for payment-service"
    )


@pytest.mark.parametrize("end_on_pass", [False, True])
def test_the_metrics_trigger_serializes_how_it_ends(end_on_pass: bool) -> None:
    trigger = MetricsTrigger({"phase": "canary"}, end_on_pass=end_on_pass, links={"_link_DashboardLink": "u"})
    path, kwargs = trigger.serialize()
    assert path == "triggers.metrics.MetricsTrigger"
    assert (kwargs["end_on_pass"], kwargs["links"]) == (end_on_pass, {"_link_DashboardLink": "u"})
    assert MetricsTrigger(**kwargs).serialize() == (path, kwargs)
