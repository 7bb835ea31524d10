"""Deployment and ReplicaSet controllers (pkg/controller/deployment semantics)."""

import pytest
from kubernetes import client

from tests.fixtures.kubesim import make_container, make_deployment

SMP = "application/strategic-merge-patch+json"
REV = "deployment.kubernetes.io/revision"
HIST = "deployment.kubernetes.io/revision-history"

SCENARIO = {
    "images": {
        "registry.example/web:bad": {"fail": "ImagePullBackOff"},
        "registry.example/web:*": {"ready_after_seconds": 0.5},
    }
}
pytestmark = pytest.mark.kubesim_scenario(SCENARIO)


def _rs(apps) -> dict:
    return {r.metadata.annotations[REV]: r for r in apps.list_namespaced_replica_set("default").items}


def _set_image(apps, image: str, name: str = "web") -> None:
    apps.patch_namespaced_deployment(
        name,
        "default",
        {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
                        "containers": [{"name": "web", "image": image}],
                    }
                }
            }
        },
        _content_type=SMP,
    )


def _rollback(apps, rs) -> None:
    """What `kubectl rollout undo` sends: the RS template (hash label removed) as a JSON patch."""
    template = client.ApiClient().sanitize_for_serialization(rs.spec.template)
    template["metadata"]["labels"].pop("pod-template-hash")
    apps.patch_namespaced_deployment(
        "web", "default", [{"op": "replace", "path": "/spec/template", "value": template}]
    )


@pytest.fixture
def apps(kube_client):
    return client.AppsV1Api(kube_client)


def _deploy(apps, kubesim, replicas=3, **kw):
    containers = [
        make_container("web", "registry.example/web:1.0"),
        make_container("sidecar", "proxy:1", port=None),
    ]
    apps.create_namespaced_deployment(
        "default", make_deployment("web", replicas=replicas, containers=containers, **kw)
    )
    kubesim.advance(1)
    return apps.read_namespaced_deployment("web", "default")


def test_create_rolls_out_with_hash_labels_and_owner(kubesim, apps):
    d = _deploy(apps, kubesim)
    assert d.metadata.annotations[REV] == "1"
    rs = _rs(apps)["1"]
    h = rs.metadata.labels["pod-template-hash"]
    assert rs.metadata.name == f"web-{h}" and rs.spec.selector.match_labels["pod-template-hash"] == h
    assert rs.metadata.owner_references[0].controller and rs.metadata.owner_references[0].kind == "Deployment"
    assert rs.metadata.annotations["deployment.kubernetes.io/desired-replicas"] == "3"
    assert rs.metadata.annotations["deployment.kubernetes.io/max-replicas"] == "4"
    conds = {c.type: (c.status, c.reason) for c in d.status.conditions}
    assert conds == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }
    assert (
        d.status.replicas,
        d.status.updated_replicas,
        d.status.ready_replicas,
        d.status.available_replicas,
    ) == (3, 3, 3, 3)


def test_rolling_update_respects_surge_and_unavailable(kubesim, apps):
    _deploy(apps, kubesim, replicas=4)  # 25%/25% of 4: surge 1, unavailable 1
    _set_image(apps, "registry.example/web:2.0")
    totals = []
    for _ in range(12):
        d = apps.read_namespaced_deployment("web", "default")
        rs = list(_rs(apps).values())
        totals.append(sum(r.spec.replicas for r in rs))
        assert d.status.available_replicas is None or d.status.available_replicas >= 3
        kubesim.advance(0.25)
    assert max(totals) <= 5
    d = apps.read_namespaced_deployment("web", "default")
    assert d.metadata.annotations[REV] == "2" and d.status.updated_replicas == 4
    rs = _rs(apps)
    assert rs["1"].spec.replicas == 0 and rs["2"].spec.replicas == 4
    assert [c.name for c in rs["2"].spec.template.spec.containers] == ["web", "sidecar"]
    reasons = [
        e.message
        for e in client.CoreV1Api(apps.api_client).list_namespaced_event("default").items
        if e.reason == "ScalingReplicaSet"
    ]
    assert any(m.startswith("Scaled down replica set web-") for m in reasons)


def test_rollback_reuses_old_replicaset_and_renumbers(kubesim, apps):
    _deploy(apps, kubesim)
    _set_image(apps, "registry.example/web:2.0")
    kubesim.advance(3)
    old = _rs(apps)["1"]
    _rollback(apps, old)
    kubesim.advance(3)
    rs = _rs(apps)
    assert set(rs) == {"2", "3"} and len(apps.list_namespaced_replica_set("default").items) == 2
    assert rs["3"].metadata.name == old.metadata.name and rs["3"].metadata.annotations[HIST] == "1"
    assert rs["3"].spec.replicas == 3 and rs["2"].spec.replicas == 0
    assert apps.read_namespaced_deployment("web", "default").metadata.annotations[REV] == "3"


def test_revision_history_limit_cleans_old_replicasets(kubesim, apps):
    _deploy(apps, kubesim, replicas=1)
    apps.patch_namespaced_deployment(
        "web", "default", {"spec": {"revisionHistoryLimit": 1}}, _content_type=SMP
    )
    for v in ("2.0", "3.0", "4.0"):
        _set_image(apps, f"registry.example/web:{v}")
        kubesim.advance(2)
    assert sorted(_rs(apps)) == ["3", "4"]


def test_recreate_strategy_scales_old_to_zero_first(kubesim, apps):
    _deploy(apps, kubesim, strategy={"type": "Recreate"})
    _set_image(apps, "registry.example/web:2.0")
    rs = _rs(apps)
    assert rs["1"].spec.replicas == 0
    assert rs["2"].spec.replicas == 3
    kubesim.advance(2)
    d = apps.read_namespaced_deployment("web", "default")
    assert d.status.updated_replicas == 3 and d.status.available_replicas == 3


def test_paused_deployment_does_not_roll_out(kubesim, apps):
    _deploy(apps, kubesim)
    apps.patch_namespaced_deployment("web", "default", {"spec": {"paused": True}}, _content_type=SMP)
    _set_image(apps, "registry.example/web:2.0")
    kubesim.advance(2)
    assert set(_rs(apps)) == {"1"}
    d = apps.read_namespaced_deployment("web", "default")
    prog = [c for c in d.status.conditions if c.type == "Progressing"][0]
    assert (prog.status, prog.reason) == ("Unknown", "DeploymentPaused")
    apps.patch_namespaced_deployment("web", "default", {"spec": {"paused": False}}, _content_type=SMP)
    kubesim.advance(3)
    assert _rs(apps)["2"].spec.replicas == 3


def test_progress_deadline_exceeded_on_image_pull_backoff(kubesim, apps):
    _deploy(apps, kubesim)
    _set_image(apps, "registry.example/web:bad")
    kubesim.advance(30)
    d = apps.read_namespaced_deployment("web", "default")
    prog = [c for c in d.status.conditions if c.type == "Progressing"][0]
    assert prog.reason == "ReplicaSetUpdated"
    assert d.status.available_replicas == 3 and d.status.updated_replicas == 1  # maxUnavailable 0 of 3
    kubesim.advance(600)
    d = apps.read_namespaced_deployment("web", "default")
    prog = [c for c in d.status.conditions if c.type == "Progressing"][0]
    assert (prog.status, prog.reason) == ("False", "ProgressDeadlineExceeded")
    assert prog.message == f'ReplicaSet "{_rs(apps)["2"].metadata.name}" has timed out progressing.'


def test_scale_up_and_down(kubesim, apps):
    _deploy(apps, kubesim)
    apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 6}})
    kubesim.advance(1)
    assert apps.read_namespaced_deployment("web", "default").status.available_replicas == 6
    apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 2}})
    kubesim.advance(1)
    d = apps.read_namespaced_deployment("web", "default")
    assert (d.status.replicas, d.status.available_replicas) == (2, 2)
    assert len(client.CoreV1Api(apps.api_client).list_namespaced_pod("default").items) == 2


def test_min_ready_seconds_delays_availability(kubesim, apps):
    apps.create_namespaced_deployment(
        "default", make_deployment("web", image="registry.example/web:1.0", replicas=1, min_ready_seconds=10)
    )
    kubesim.advance(2)
    d = apps.read_namespaced_deployment("web", "default")
    assert d.status.ready_replicas == 1 and not d.status.available_replicas
    kubesim.advance(10)
    assert apps.read_namespaced_deployment("web", "default").status.available_replicas == 1
