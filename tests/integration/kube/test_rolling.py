"""Rolling update, wait, plan and rollback against kubesim (core functions, no Airflow)."""

from __future__ import annotations

import pytest

from airlock.kube import rollback, rolling
from airlock.kube.diagnose import find_stuck_reason
from airlock.kube.plan import deployment_state, record_plan
from airlock.kube.wait import wait_for_rollout
from tests.integration.kube.conftest import IMG, NS

pytestmark = pytest.mark.integration


def _ready(sim, name="web", timeout=30.0):
    res = wait_for_rollout(sim.kube(), NS, name, timeout)
    assert res.done, res.message
    return res


def test_rolling_update_happy_path_keeps_sidecar(sim, spec):
    kube = sim.kube()
    _ready(sim)
    plan = record_plan(kube, spec, NS, "rolling", "run-1", "2", f"{IMG}:2")
    assert plan.images == {"app": f"{IMG}:1", "proxy": "envoy:1.30"}
    assert plan.replicas == 3 and plan.revision == 1
    result = rolling.set_image(
        kube, NS, "web", "app", f"{IMG}:2", rolling.change_cause("web", "run-1", f"{IMG}:2")
    )
    assert result.changed and (result.previous, result.image) == (f"{IMG}:1", f"{IMG}:2")
    res = wait_for_rollout(kube, NS, "web", 30)
    assert res.done and res.message == 'deployment "web" successfully rolled out'
    state = deployment_state(kube, NS, "web")
    assert state.images == {"app": f"{IMG}:2", "proxy": "envoy:1.30"}
    assert state.revision == 2
    dep = kube.get("deployments", NS, "web")
    assert (
        dep["metadata"]["annotations"]["kubernetes.io/change-cause"]
        == f"airlock deploy_web run run-1: {IMG}:2"
    )


def test_retry_writes_nothing(sim, spec):
    kube = sim.kube()
    record_plan(kube, spec, NS, "rolling", "run-1", "2", f"{IMG}:2")
    rolling.set_image(kube, NS, "web", "app", f"{IMG}:2", "c")
    _ready(sim)
    before = len(sim.writes())
    plan_again = record_plan(sim.kube(), spec, NS, "rolling", "run-1", "2", f"{IMG}:2")
    assert plan_again.images["app"] == f"{IMG}:1", "a retry re-uses the stored plan, not the new state"
    again = rolling.set_image(sim.kube(), NS, "web", "app", f"{IMG}:2", "c")
    assert not again.changed
    assert len(sim.writes()) == before


@pytest.mark.parametrize(("image", "kind"), [("bad-pull", "ImagePull"), ("crash", "CrashLoop")])
def test_failure_modes_roll_back_to_exact_plan(sim, spec, image, kind):
    kube = sim.kube()
    _ready(sim)
    plan = record_plan(kube, spec, NS, "rolling", "run-1", image, f"{IMG}:{image}")
    rolling.set_image(kube, NS, "web", "app", f"{IMG}:{image}", "c", progress_deadline_seconds=4)
    res = wait_for_rollout(kube, NS, "web", 30)
    assert res.failed and not res.timed_out
    assert res.message == 'deployment "web" exceeded its progress deadline'
    reason = find_stuck_reason(kube, NS, "web")
    assert reason is not None and reason.kind == kind, reason
    if kind == "CrashLoop":
        assert "restarts" in reason.message and "FATAL: cannot connect to database" in reason.message
    else:
        assert f"{IMG}:bad-pull" in reason.message
    actions = rollback.rollback_actions(kube, spec, plan)
    assert [a.kind for a in actions] == ["undo"]
    rollback.apply_rollback(kube, spec, plan, actions)
    _ready(sim)
    now = deployment_state(kube, NS, "web")
    recorded = plan.stable
    assert now.images == recorded.images
    assert now.template_hash == recorded.template_hash, "the old ReplicaSet is re-used"
    assert now.replicas == recorded.replicas
    assert rollback.rollback_actions(kube, spec, plan) == []


def test_rollback_when_nothing_changed_is_a_noop(sim, spec):
    kube = sim.kube()
    plan = record_plan(kube, spec, NS, "rolling", "run-1", "2", f"{IMG}:2")
    before = len(sim.writes())
    assert rollback.rollback_actions(kube, spec, plan) == []
    assert len(sim.writes()) == before


def test_wait_times_out_with_constant_requests(sim):
    kube = sim.kube()
    rolling.set_image(kube, NS, "web", "app", f"{IMG}:bad-pull", "c")  # deadline 600 s: never judged failed
    res = wait_for_rollout(kube, NS, "web", 3)
    assert res.timed_out and res.failed
    assert res.requests == 2
