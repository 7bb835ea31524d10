"""Pure pieces: canary sizing, image patch, undo patch, job state, lease expiry, plan annotation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from airlock.kube.canary import canary_replicas, effective_percent
from airlock.kube.lock import lease_holder
from airlock.kube.migration import job_state
from airlock.kube.plan import PLAN_ANNOTATION, DeploymentState, RollbackPlan, migration_job_name, stored_plan
from airlock.kube.rolling import image_patch
from airlock.kube.undo import undo_patch
from airlock.spec import parse_spec


@pytest.mark.parametrize(
    ("stable", "weight", "expected"),
    [
        (10, 10, 2),  # ceil(10*10/90) = ceil(1.11) = 2
        (9, 10, 1),  # 9 stable + 1 canary = 10 %
        (4, 25, 2),  # ceil(4/3)
        (3, 50, 3),
        (1, 1, 1),  # at least one
    ],
)
def test_canary_replicas(stable, weight, expected):
    assert canary_replicas(stable, weight) == expected
    assert effective_percent(stable, expected) >= weight


@pytest.mark.parametrize("weight", [0, 100, 150])
def test_canary_weight_bounds(weight):
    with pytest.raises(ValueError):
        canary_replicas(4, weight)


def _deployment(image="r/app:1", sidecar=True, deadline=None):
    containers = [{"name": "app", "image": image}] + (
        [{"name": "proxy", "image": "envoy:1"}] if sidecar else []
    )
    spec = {"template": {"spec": {"containers": containers}}}
    if deadline:
        spec["progressDeadlineSeconds"] = deadline
    return {"metadata": {"name": "web"}, "spec": spec}


def test_image_patch_is_strategic_and_idempotent():
    patch = image_patch(_deployment(), "app", "r/app:2", "cause")
    assert patch == {
        "metadata": {"annotations": {"kubernetes.io/change-cause": "cause"}},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "r/app:2"}]}}},
    }
    assert image_patch(_deployment("r/app:2"), "app", "r/app:2", "cause") is None
    assert image_patch(_deployment("r/app:2", deadline=600), "app", "r/app:2", "c", 600) is None


def test_image_patch_names_missing_container():
    with pytest.raises(ValueError, match='no container "api".*app, proxy'):
        image_patch(_deployment(), "api", "x", None)


def test_undo_patch_is_kubectl_json_patch():
    dep = {
        "metadata": {
            "annotations": {"deployment.kubernetes.io/revision": "3", "kubernetes.io/change-cause": "new"}
        },
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "2"}]},
            }
        },
    }
    rs = {
        "metadata": {
            "annotations": {"deployment.kubernetes.io/revision": "2", "kubernetes.io/change-cause": "old"}
        },
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}},
                "spec": {"containers": [{"name": "app", "image": "1"}]},
            }
        },
    }
    patch = undo_patch(dep, rs)
    assert patch == [
        {
            "op": "replace",
            "path": "/spec/template",
            "value": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "1"}]},
            },
        },
        {
            "op": "replace",
            "path": "/metadata/annotations",
            "value": {"deployment.kubernetes.io/revision": "3", "kubernetes.io/change-cause": "old"},
        },
    ]
    same = {"metadata": {}, "spec": {"template": rs["spec"]["template"]}}
    assert (
        undo_patch(
            {
                "metadata": {},
                "spec": {"template": {**rs["spec"]["template"], "metadata": {"labels": {"app": "web"}}}},
            },
            same,
        )
        is None
    )


def test_job_state():
    assert (
        job_state({"status": {"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1}})[0]
        == "Complete"
    )
    failed = job_state(
        {
            "metadata": {"name": "m"},
            "status": {
                "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}],
                "failed": 2,
            },
        }
    )
    assert failed[0] == "Failed" and "BackoffLimitExceeded" in failed[1]
    assert job_state({"status": {"active": 1}})[0] == "Running"


def test_lease_holder_expiry():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    lease = {
        "spec": {
            "holderIdentity": "run-1",
            "leaseDurationSeconds": 60,
            "renewTime": (now - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
    }
    assert lease_holder(lease, now) == "run-1"
    assert lease_holder(lease, now + timedelta(seconds=31)) is None
    assert lease_holder({"spec": {}}, now) is None


def test_migration_job_name_and_stored_plan():
    spec = parse_spec({"service": "payment-service", "image": "reg/pay"})
    assert migration_job_name(spec, "v2.3.0-rc.1") == "payment-service-migrate-v2-3-0-rc-1"
    stable = DeploymentState("payment-service", True, {"app": "reg/pay:v1"}, 4, "abc", 3)
    plan = RollbackPlan(
        "r1",
        "payment-service",
        "prod",
        "rolling",
        "v2",
        "reg/pay:v2",
        "2026-12-01T00:00:00+00:00",
        stable,
        "payment-service",
        {"app": "payment-service"},
        DeploymentState("c", False),
    )
    dep = {
        "metadata": {"annotations": {PLAN_ANNOTATION: json.dumps({"run_id": "r1", "plan": plan.to_dict()})}}
    }
    assert stored_plan(dep, "r1") == plan and plan.revision == 4 and plan.deployment == "payment-service"
    assert stored_plan(dep, "r2") is None
    assert stored_plan({}, "r1") is None
    # this run's stored plan, unreadable: an error, never "no plan" (re-reading would record the new state)
    broken = {
        "metadata": {"annotations": {PLAN_ANNOTATION: json.dumps({"run_id": "r1", "plan": {"revision": 4}})}}
    }
    with pytest.raises(ValueError, match="refusing to re-read production"):
        stored_plan(broken, "r1")
