"""Every task of deploy_<service> gets an execution_timeout derived from its spec (airlock.timeouts)."""

from __future__ import annotations

from datetime import timedelta

from airlock.timeouts import MARGIN, QUICK, rollback_deadline, task_timeouts
from tests.integration.dag.conftest import build_dag, demo_spec


def test_each_task_has_the_limit_its_spec_durations_give_it() -> None:
    spec = demo_spec(
        strategy={"rollout_timeout": "7m", "canary": {"steps": [25, 50, 100], "step_duration": "20m"}},
        windows={"max_wait": "2d"},
    )
    dag = build_dag(spec)
    limits = {t.task_id: t.execution_timeout for t in dag.tasks}
    assert all(limits.values()), [k for k, v in limits.items() if not v]
    t = task_timeouts(spec)
    assert limits["preflight.window"] == timedelta(days=2, hours=1)
    assert limits["production.canary.step_1"] == timedelta(minutes=7) + MARGIN
    assert limits["production.canary.analysis_1"] == t.analysis >= timedelta(minutes=40)
    assert limits["rollback"] == rollback_deadline(spec) + MARGIN == timedelta(minutes=24)
    assert limits["validation.metrics"] == t.validation
    assert limits["validate"] == limits["release_lock"] == limits["record"] == QUICK
    # a planned run may wait for another run's lock: without off-peak windows, up to windows.max_wait
    assert limits["acquire_lock"] == t.lock == timedelta(days=2, minutes=10) + QUICK
    windowed = build_dag(demo_spec(windows={"off_peak": ["Mon-Fri 01:00-05:00"], "max_wait": "2d"}))
    assert windowed.get_task("acquire_lock").execution_timeout == timedelta(hours=4, minutes=10) + QUICK
    # a longer step gives its analysis a longer limit: the number comes from the spec, not a constant
    longer = build_dag(
        demo_spec(strategy={"canary": {"steps": [25, 50, 100], "step_duration": "2h"}})
    ).get_task("production.canary.analysis_1")
    assert longer.execution_timeout > limits["production.canary.analysis_1"]
