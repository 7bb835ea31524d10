"""Canary, blue-green, lock and migration core functions against kubesim."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from airlock.kube import blue_green, canary, lock, migration, rollback, rolling
from airlock.kube.plan import deployment_state, record_plan
from airlock.kube.wait import wait_for_rollout
from airlock.spec import parse_spec
from tests.integration.kube.conftest import IMG, NS, SPEC

pytestmark = pytest.mark.integration


def _ready(kube, name, timeout=30.0):
    res = wait_for_rollout(kube, NS, name, timeout)
    assert res.done, res.message


def test_canary_steps_promote_and_rollback(sim, spec):
    kube = sim.kube()
    _ready(kube, "web")
    plan = record_plan(kube, spec, NS, "canary", "run-1", "2", f"{IMG}:2")
    step = canary.ensure_canary(kube, spec, NS, f"{IMG}:2", 10, "c")
    assert step.replicas == 1 and step.effective_percent == 25.0
    _ready(kube, "web-canary")
    pods = kube.items("pods", NS, label_selector={"app": "web", "track": "canary"})
    assert len(pods) == 1
    step = canary.ensure_canary(kube, spec, NS, f"{IMG}:2", 50, "c")
    assert step.replicas == 3 and step.stable_replicas == 3
    _ready(kube, "web-canary")
    before = len(sim.writes())
    assert not canary.ensure_canary(kube, spec, NS, f"{IMG}:2", 50, "c").changed
    assert len(sim.writes()) == before
    # abort: rollback removes the canary, the stable was never touched
    actions = rollback.rollback_actions(kube, spec, plan)
    assert [a.kind for a in actions] == ["delete_canary"]
    rollback.apply_rollback(kube, spec, plan, actions)
    assert kube.get("deployments", NS, "web-canary") is None
    assert deployment_state(kube, NS, "web").images["app"] == f"{IMG}:1"


def test_canary_promotion(sim, spec):
    kube = sim.kube()
    canary.ensure_canary(kube, spec, NS, f"{IMG}:2", 25, "c")
    _ready(kube, "web-canary")
    rolling.set_image(kube, NS, "web", "app", f"{IMG}:2", "c")
    _ready(kube, "web")
    assert canary.remove_canary(kube, spec, NS)
    assert kube.get("deployments", NS, "web-canary") is None
    assert deployment_state(kube, NS, "web").images == {"app": f"{IMG}:2", "proxy": "envoy:1.30"}


def _bg_deploy(kube, spec, version):
    """What BlueGreenDeployOperator + Switch do, step by step."""
    if blue_green.adopt_blue(kube, spec, NS):
        _ready(kube, "web")
        blue_green.pin_service_to_blue(kube, spec, NS)
    new = blue_green.deploy_new_colour(kube, spec, NS, f"{IMG}:{version}", "c")
    _ready(kube, new.deployment)
    preview = blue_green.ensure_preview_service(kube, spec, NS, new.colour)
    return new, preview


def test_blue_green_alternates_colours(sim, spec):
    kube = sim.kube()
    _ready(kube, "web")
    new, preview = _bg_deploy(kube, spec, "2")
    assert new.colour == "green" and new.deployment == "web-green" and new.replicas == 3
    assert preview == {"name": "web-preview", "selector": {"app": "web", "track": "green"}}
    # no traffic yet: the live Service is pinned to blue's current pods (their pod-template-hash)
    web_hash = deployment_state(kube, NS, "web").template_hash
    assert kube.get("services", NS, "web")["spec"]["selector"] == {
        "app": "web",
        "pod-template-hash": web_hash,
    }
    switched = blue_green.switch_traffic(kube, spec, NS, "green")
    assert switched["to"] == {"app": "web", "track": "green"}
    blue_green.remove_preview_service(kube, spec, NS)
    assert rolling.scale(kube, NS, "web", 0)
    # second release goes to blue
    new2, _ = _bg_deploy(kube, spec, "3")
    assert new2.colour == "blue" and new2.deployment == "web" and new2.replicas == 3
    assert deployment_state(kube, NS, "web").images["app"] == f"{IMG}:3"
    before = len(sim.writes())
    assert not blue_green.deploy_new_colour(kube, spec, NS, f"{IMG}:3", "c").changed
    assert len(sim.writes()) == before


def test_blue_green_rollback_restores_selector_and_scales_new_colour(sim, spec):
    kube = sim.kube()
    _ready(kube, "web")
    plan = record_plan(kube, spec, NS, "blue_green", "run-1", "2", f"{IMG}:2")
    assert plan.colour == "blue" and plan.service_selector == {"app": "web"}
    _bg_deploy(kube, spec, "2")
    blue_green.switch_traffic(kube, spec, NS, "green")
    actions = rollback.rollback_actions(kube, spec, plan)
    rollback.apply_rollback(kube, spec, plan, actions)
    _ready(kube, "web")
    assert kube.get("services", NS, "web")["spec"]["selector"] == {"app": "web"}
    assert kube.get("deployments", NS, "web-green")["spec"]["replicas"] == 0
    assert kube.get("services", NS, "web-preview") is None
    now = deployment_state(kube, NS, "web")
    assert now.template_hash == plan.stable.template_hash, "adoption never changed the template"
    assert rollback.rollback_actions(kube, spec, plan) == []


def test_lock_acquire_idempotent_and_exclusive(sim):
    kube = sim.kube()
    got = lock.acquire(kube, NS, "web", "run-1", 600)
    assert got.changed and got.held_by("run-1")
    before = len(sim.writes())
    assert not lock.acquire(kube, NS, "web", "run-1", 600).changed
    assert len(sim.writes()) == before
    with pytest.raises(lock.LockHeld, match='held by "run-1" until'):
        lock.acquire(kube, NS, "web", "run-2", 600)
    assert not lock.release(kube, NS, "web", "run-2").changed
    assert lock.release(kube, NS, "web", "run-1").changed
    assert not lock.release(kube, NS, "web", "run-1").changed
    assert lock.acquire(kube, NS, "web", "run-2", 600).changed


def test_migration_job_runs_once(sim, spec):
    kube = sim.kube()
    first = migration.ensure_job(kube, spec, NS, "2")
    assert first["created"] and first["job"] == "web-migrate-2"
    res = _wait_job(kube, "web-migrate-2")
    assert res == "Complete"
    before = len(sim.writes())
    again = migration.ensure_job(kube, spec, NS, "2")
    assert not again["created"] and again["status"] == "Complete"
    assert len(sim.writes()) == before
    logs = migration.job_logs(kube, NS, "web-migrate-2")
    assert logs and any(lines for lines in logs.values())


def _wait_job(kube, name, timeout=20.0):
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        state, _ = migration.job_state(kube.get("jobs", NS, name) or {})
        if state != "Running":
            return state
        time.sleep(0.2)
    return "Running"


def test_irreversible_migration_refuses_rollback(sim):
    spec = parse_spec({**SPEC, "migration": {"command": ["migrate"], "reversible": False}})
    kube = sim.kube()
    plan = record_plan(kube, spec, NS, "rolling", "run-1", "2", f"{IMG}:2")
    rollback.check_migration(kube, plan, spec)  # not run yet: fine
    migration.ensure_job(kube, spec, NS, "2")
    with pytest.raises(rollback.IrreversibleMigration, match="A human must decide"):
        rollback.check_migration(kube, plan, spec)


@pytest.mark.kubectl
@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_sees_airlock_change_cause_and_can_undo(sim):
    kube = sim.kube()
    _ready(kube, "web")
    cause = rolling.change_cause("web", "manual__2026", f"{IMG}:2")
    rolling.set_image(kube, NS, "web", "app", f"{IMG}:2", cause)
    _ready(kube, "web")

    def kubectl(*args):
        out = subprocess.run(
            ["kubectl", "--kubeconfig", str(sim.kubeconfig), "-n", NS, *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    history = kubectl("rollout", "history", "deployment/web")
    assert cause in history, history
    kubectl("rollout", "undo", "deployment/web")
    _ready(kube, "web")
    assert deployment_state(kube, NS, "web").images["app"] == f"{IMG}:1"
    assert "successfully rolled out" in kubectl("rollout", "status", "deployment/web", "--timeout=30s")
