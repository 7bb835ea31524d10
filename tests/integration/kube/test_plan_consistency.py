"""A rollback plan is only recorded from a consistent production (one version, no leftover canary)."""

from __future__ import annotations

import pytest

from airlock.kube import canary
from airlock.kube.plan import PLAN_ANNOTATION, InconsistentProduction, record_plan
from airlock.kube.wait import wait_for_rollout
from tests.integration.kube.conftest import IMG, NS

pytestmark = pytest.mark.integration


def test_mid_rollout_production_is_not_recorded_as_the_state_to_return_to(sim, spec):
    kube = sim.kube()
    assert wait_for_rollout(kube, NS, "web", 30).done
    # someone (or a half-done rollback) is rolling web to a slow version: old and new pods serve
    kube.patch(
        "deployments",
        NS,
        "web",
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": f"{IMG}:slow-3"}]}}}},
    )
    with pytest.raises(
        InconsistentProduction,
        match=r"not in one consistent state \((deployment \"web\" runs two versions|a change to deployment \"web\")",
    ):
        record_plan(kube, spec, NS, "rolling", "run-1", "2", f"{IMG}:2")
    annotations = kube.get("deployments", NS, "web")["metadata"].get("annotations") or {}
    assert PLAN_ANNOTATION not in annotations, "nothing recorded"
    assert wait_for_rollout(kube, NS, "web", 30).done
    plan = record_plan(kube, spec, NS, "rolling", "run-1", "2", f"{IMG}:2")  # settled: recorded
    assert plan.images["app"] == f"{IMG}:slow-3"


def test_a_leftover_canary_is_a_mixed_production(sim, spec):
    kube = sim.kube()
    assert wait_for_rollout(kube, NS, "web", 30).done
    canary.ensure_canary(kube, spec, NS, f"{IMG}:2", 25, "earlier run")
    with pytest.raises(InconsistentProduction, match='canary deployment "web-canary" from an earlier run'):
        record_plan(kube, spec, NS, "canary", "run-2", "3", f"{IMG}:3")
