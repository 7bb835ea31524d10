"""Spec-derived task timeouts and the stop-the-line mark (pure parts)."""

from __future__ import annotations

from datetime import timedelta

from airlock.spec import parse_spec
from airlock.stop_line import StopMark, mark_body, mark_from, stop_mark_name
from airlock.timeouts import MARGIN, rollback_deadline, rollback_retry, task_timeouts

BASE = {"service": "web", "image": "reg.example/web"}


def spec(**extra):
    return parse_spec({**BASE, **extra})


def test_every_limit_follows_the_spec_durations():
    short = task_timeouts(
        spec(strategy={"rollout_timeout": "2m", "canary": {"steps": [50, 100], "step_duration": "3m"}})
    )
    long = task_timeouts(
        spec(strategy={"rollout_timeout": "20m", "canary": {"steps": [50, 100], "step_duration": "1h"}})
    )
    assert short.rollout == timedelta(minutes=2) + MARGIN
    assert long.rollout == timedelta(minutes=20) + MARGIN
    assert short.analysis < long.analysis
    # an analysis covers its step, the low-traffic extension (default: the step again) and poll retries
    assert long.analysis >= timedelta(hours=2)


def test_the_window_gate_may_wait_max_wait_and_the_rollback_its_deadline():
    t = task_timeouts(spec(windows={"max_wait": "2d"}))
    assert t.window == timedelta(days=2, hours=1)
    s = spec(strategy={"rollout_timeout": "10m"})
    assert rollback_deadline(s) == timedelta(minutes=25)
    assert task_timeouts(s).rollback == rollback_deadline(s) + MARGIN


def test_the_migration_limit_covers_the_migration_timeout():
    t = task_timeouts(spec(migration={"command": ["migrate"], "timeout": "45m"}))
    assert t.migration == timedelta(minutes=45) + MARGIN


def test_the_rollback_retry_policy_runs_to_the_deadline_left():
    s = spec(strategy={"rollout_timeout": "10m"})
    assert rollback_retry(s).deadline == 25 * 60
    assert rollback_retry(s, timedelta(minutes=20)).deadline == 5 * 60
    assert rollback_retry(s, timedelta(hours=1)).deadline == 1.0, "past the deadline: one last attempt"
    assert rollback_retry(s).attempts > 1000, "bounded by the deadline, not by a count"


def test_the_stop_mark_round_trips_through_its_configmap_and_names_the_run():
    mark = StopMark(
        "web", "prod", "manual__2026-03-03", "rollback failed: 503 x 40", "2026-03-03T02:00:00+00:00"
    )
    body = mark_body(mark)
    assert body["metadata"]["name"] == stop_mark_name("web") == "airlock-stop-web"
    assert mark_from(body, "web", "prod") == mark
    refusal = mark.refusal()
    assert "manual__2026-03-03" in refusal and "kubectl -n prod delete configmap airlock-stop-web" in refusal
    assert "kubectl -n prod delete configmap airlock-stop-web" in body["data"]["to_clear"]
    assert mark_from(None, "web", "prod") is None
