"""Deployment record: built from realistic XCom values of a canary rolled back by a metrics verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airlock.analysis.verdict import MetricResult, Verdict
from airlock.checks.result import CheckResult
from airlock.record import (
    NOTE_LIMIT,
    build_record,
    change_failure_rate,
    decide_outcome,
    dora_summary,
    image_tag,
    mean_time_to_restore,
    previous_version,
    production_changed,
    stopped_before_production,
    stopped_in,
    summarise,
)

START = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
RUN = {
    "service": "checkout",
    "version": "v1.4.0",
    "strategy": "canary",
    "risk": "planned",
    "change_summary": "New payment retry logic",
    "dry_run": False,
    "run_id": "manual__2026-03-10T01:00:00+00:00",
    "dag_id": "deploy_checkout",
    "triggered_by": "alice",
    "container": "checkout",
    "start": START.isoformat(),
}
PLAN = {
    "strategy": "canary",
    "deployment": "checkout",
    "images": {"checkout": "registry.local/checkout:v1.3.2", "envoy": "envoy:1.29"},
    "revision": "7",
    "replicas": 10,
}


def _verdict(decision: str, error_rate: float, elapsed: float) -> dict:
    status = "fail" if decision == "fail" else "pass"
    reason = (
        f"canary error rate {error_rate:.1%} vs limit 5.0%"
        if status == "fail"
        else "all metrics within limits"
    )
    return Verdict(
        decision=decision,  # type: ignore[arg-type]
        reason=reason,
        phase="canary",
        elapsed_s=elapsed,
        duration_s=900.0,
        metrics=[
            MetricResult(
                "error_rate", status, reason, canary=error_rate, baseline=0.004, threshold=0.05, unit="%"
            ),
            MetricResult("latency_p95", "pass", "ok", canary=0.21, baseline=0.2, threshold=1.5, unit="s"),
        ],
    ).to_dict()


def _values() -> dict:
    return {
        "window": {
            "decision": "open",
            "opened_at": START.isoformat(),
            "waited_seconds": 0.0,
            "freeze": None,
            "hotfix_override": False,
        },
        "preflight": [
            CheckResult("ci", "pass", "CI green for v1.4.0").to_dict(),
            CheckResult("incidents", "pass", "no critical alerts").to_dict(),
            CheckResult("cluster", "warn", "node cpu 81% (limit 85%)", {"max_cpu": 0.81}).to_dict(),
        ],
        "plan": PLAN,
        "metrics": {
            "canary_10_metrics": _verdict("pass", 0.003, 900.0),
            "canary_25_metrics": _verdict("fail", 0.079, 240.0),
        },
        "failure": {"canary_25_metrics": "error_rate: canary 7.90 % > 5.00 %"},
        "rollback": {
            "strategy": "canary",
            "reason": "canary_25_metrics failed: canary error rate 7.9% vs limit 5.0%",
            "restored": {"images": PLAN["images"]},
            "evidence": {"events": ["Back-off restarting failed container"]},
            "actions": ["deleted canary checkout-canary"],
            "healthy": True,
            "noop": False,
            "dry_run": False,
            "duration_s": 42.5,
        },
    }


STATES = {
    "validate": "success",
    "preflight": "success",
    "window_gate": "success",
    "canary_10": "success",
    "canary_10_metrics": "success",
    "canary_25": "success",
    "canary_25_metrics": "failed",
    "promote": "upstream_failed",
    "rollback": "success",
    "record": "running",
}


def test_canary_rolled_back_by_metrics_verdict() -> None:
    end = START + timedelta(minutes=23, seconds=10)
    durations = {"canary_25_metrics": 241.2, "rollback": 44.0, "promote": None}
    record = build_record(
        run=RUN,
        values=_values(),
        task_states=STATES,
        ignore_tasks=["record"],
        end=end,
        task_durations=durations,
    )

    assert record["outcome"] == "rolled_back"
    assert record["previous_version"] == "v1.3.2"
    assert record["hotfix"] is False and record["hotfix_freeze_override"] is False
    assert record["reason"].startswith("canary_25_metrics failed")
    assert record["timings"]["duration_s"] == 1390.0
    assert record["timings"]["phases"] == {
        "window_wait": 0.0,
        "metrics:canary_10_metrics": 900.0,
        "metrics:canary_25_metrics": 240.0,
        "rollback": 42.5,
    }
    assert record["timings"]["tasks"] == {"canary_25_metrics": 241.2, "rollback": 44.0}
    failing = record["checks"]["metrics"]["canary_25_metrics"]["metrics"][0]
    assert (failing["name"], failing["status"], failing["canary"]) == ("error_rate", "fail", 0.079)
    assert [c["status"] for c in record["checks"]["preflight"]] == ["pass", "pass", "warn"]
    assert record["tasks"]["promote"] == "upstream_failed"

    text = summarise(record)
    lines = text.splitlines()
    assert lines[0] == "checkout v1.4.0 (from v1.3.2) [canary, planned]: ROLLED BACK"
    assert (
        "Evidence: canary_25_metrics: error_rate fail: canary 7.90 % vs baseline 0.40 % (limit 5.00 %)"
        in text
    )
    assert "preflight 2/3 pass, 1 warn" in text
    assert "metrics 1 pass, 1 fail" in text
    assert "Rollback to v1.3.2: healthy" in text
    assert "Took 23m10s." in text
    assert lines[-1] == "Run manual__2026-03-10T01:00:00+00:00 by alice"
    assert len(text) < NOTE_LIMIT


def test_summary_is_capped_for_the_run_note() -> None:
    values = _values()
    values["rollback"]["reason"] = "x" * 5000
    text = summarise(build_record(run=RUN, values=values, task_states=STATES, end=START))
    assert len(text) < NOTE_LIMIT and text.endswith("…")


@pytest.mark.parametrize(
    ("states", "rollback", "dry_run", "expected"),
    [
        ({"a": "success", "b": "success"}, None, False, "succeeded"),
        ({"a": "success", "b": "skipped"}, None, True, "dry_run"),
        ({"a": "failed", "rollback": "success"}, {"noop": False, "healthy": True}, False, "rolled_back"),
        ({"a": "failed", "rollback": "success"}, {"noop": False, "healthy": False}, False, "failed"),
        ({"a": "failed", "rollback": "failed"}, {"noop": False, "healthy": None}, False, "failed"),
        ({"preflight": "failed", "rollback": "success"}, {"noop": True}, False, "failed"),
        ({"a": "success", "record": "failed"}, None, False, "succeeded"),  # ignored task
    ],
)
def test_outcome(states: dict, rollback: dict | None, dry_run: bool, expected: str) -> None:
    assert (
        decide_outcome(dry_run=dry_run, task_states=states, rollback=rollback, ignore=["record"]) == expected
    )


def test_failed_without_rollback_names_the_failed_tasks() -> None:
    record = build_record(
        run=RUN, values={}, task_states={"preflight": "failed", "deploy": "upstream_failed"}
    )
    assert record["outcome"] == "failed"
    assert record["reason"] == "failed task(s): deploy, preflight"


def test_hotfix_override_is_recorded_and_announced() -> None:
    values = {
        "window": {"decision": "hotfix_override", "freeze": "2026-12-20..2027-01-04", "hotfix_override": True}
    }
    record = build_record(run={**RUN, "risk": "hotfix"}, values=values, task_states={"a": "success"})
    assert record["hotfix"] and record["hotfix_freeze_override"]
    assert "HOTFIX overrode change freeze 2026-12-20..2027-01-04" in summarise(record)


def test_versions_from_images() -> None:
    assert image_tag("registry:5000/team/app:v1.2.3") == "v1.2.3"
    assert image_tag("registry:5000/team/app") == "registry:5000/team/app"
    assert previous_version({"stable": {"images": [{"name": "app", "image": "r/app:v2"}]}}, "app") == "v2"
    assert previous_version(None) is None


def test_dora_aggregates() -> None:
    def rec(outcome: str, restore: float | None = None, dry_run: bool = False) -> dict:
        phases = {"rollback": restore} if restore is not None else {}
        return {"outcome": outcome, "dry_run": dry_run, "timings": {"phases": phases}}

    records = [rec("succeeded"), rec("succeeded"), rec("rolled_back", 60.0), rec("rolled_back", 120.0),
               rec("failed"), rec("dry_run", dry_run=True)]  # fmt: skip
    assert change_failure_rate(records) == pytest.approx(3 / 5)
    assert mean_time_to_restore(records) == pytest.approx(90.0)
    assert dora_summary(records, days=10) == {
        "deployments": 5,
        "change_failure_rate": pytest.approx(0.6),
        "mean_time_to_restore_s": pytest.approx(90.0),
        "deployments_per_day": pytest.approx(0.5),
    }
    assert change_failure_rate([]) is None and mean_time_to_restore([rec("succeeded")]) is None


STAGING_FAILED = {
    "validate": "success",
    "acquire_lock": "success",
    "preflight.checks": "success",
    "preflight.window": "success",
    "staging.deploy": "failed",
    "staging.health": "upstream_failed",
    "production.record_rollback_plan": "upstream_failed",
    "production.canary.step_1": "upstream_failed",
    "rollback": "success",
    "record": "running",
}


def test_a_run_stopped_in_staging_says_production_was_untouched() -> None:
    # the rollback task runs (one_failed) but finds no plan: production was never changed
    noop = {
        "strategy": None,
        "reason": "task staging.deploy failed: image pull",
        "dry_run": False,
        "noop": True,
    }
    values = {"rollback": noop, "failure": {"staging.deploy": "rollout did not complete: image pull"}}
    record = build_record(run=RUN, values=values, task_states=STAGING_FAILED, ignore_tasks=["record"])
    assert record["outcome"] == "failed"
    assert (record["stopped_in"], record["production_changed"]) == ("staging", False)
    assert stopped_before_production(record)
    note = summarise(record)
    # no staging restore result in these values: the note never claims staging was restored
    assert (
        "Stopped in staging before production: staging NOT restored: no result from the staging restore "
        "(see task staging.restore); production untouched." in note
    ), note
    assert "Rollback to" not in note


def test_stopped_in_is_the_earliest_failed_phase_and_ignores_the_bookkeeping_tasks() -> None:
    states = {"preflight.checks": "failed", "staging.deploy": "upstream_failed", "rollback": "failed"}
    assert stopped_in(states) == "preflight"
    assert stopped_in({"acquire_lock": "failed", "record": "failed"}, ignore=["record"]) == "acquire_lock"
    assert stopped_in({"validate": "success"}) is None


def test_a_production_rollback_is_not_called_stopped_before_production() -> None:
    record = build_record(run=RUN, values=_values(), task_states=STATES, ignore_tasks=["record"])
    assert record["production_changed"] is True and not stopped_before_production(record)
    assert production_changed({"noop": False, "dry_run": True}, "failed") is False
    assert production_changed(None, "succeeded") is True
