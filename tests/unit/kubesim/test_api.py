"""CRUD, errors, subresources and discovery through the official kubernetes client (36.x)."""

import json

import pytest
import requests
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.fixtures.kubesim import make_configmap, make_deployment, make_job, make_lease, make_service

SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"


def _status(exc: ApiException) -> dict:
    return json.loads(exc.body)


def test_discovery_lists_resources_subresources_and_short_names(kubesim):
    core = requests.get(f"{kubesim.url}/api/v1", timeout=5).json()
    names = {r["name"]: r for r in core["resources"]}
    assert names["pods"]["shortNames"] == ["po"] and names["pods"]["namespaced"]
    assert "pods/log" in names and "pods/status" in names
    assert names["namespaces"]["namespaced"] is False
    apps = requests.get(f"{kubesim.url}/apis/apps/v1", timeout=5).json()
    anames = {r["name"]: r for r in apps["resources"]}
    assert anames["deployments"]["shortNames"] == ["deploy"]
    assert anames["deployments/scale"]["group"] == "autoscaling"
    assert "watch" in anames["replicasets"]["verbs"]
    groups = {g["name"] for g in requests.get(f"{kubesim.url}/apis", timeout=5).json()["groups"]}
    assert {"apps", "batch", "coordination.k8s.io", "metrics.k8s.io"} <= groups
    assert requests.get(f"{kubesim.url}/version", timeout=5).json()["minor"] == "32"


def test_crud_configmap_with_errors(kube_client):
    core = client.CoreV1Api(kube_client)
    cm = core.create_namespaced_config_map("default", make_configmap("cfg", {"a": "1"}))
    assert cm.metadata.uid and cm.metadata.resource_version and cm.metadata.creation_timestamp
    with pytest.raises(ApiException) as e:
        core.create_namespaced_config_map("default", make_configmap("cfg", {"a": "1"}))
    assert e.value.status == 409 and _status(e.value)["reason"] == "AlreadyExists"
    cm.data["b"] = "2"
    updated = core.replace_namespaced_config_map("cfg", "default", cm)
    assert updated.data == {"a": "1", "b": "2"}
    assert int(updated.metadata.resource_version) > int(cm.metadata.resource_version)
    cm.data["c"] = "stale"
    with pytest.raises(ApiException) as e:  # cm still carries the old resourceVersion
        core.replace_namespaced_config_map("cfg", "default", cm)
    assert e.value.status == 409 and _status(e.value)["reason"] == "Conflict"
    patched = core.patch_namespaced_config_map("cfg", "default", {"data": {"a": None}}, _content_type=MERGE)
    assert patched.data == {"b": "2"}
    patched = core.patch_namespaced_config_map(
        "cfg", "default", [{"op": "add", "path": "/data/z", "value": "26"}]
    )  # list body -> json-patch
    assert patched.data == {"b": "2", "z": "26"}
    lst = core.list_namespaced_config_map("default")
    assert [c.metadata.name for c in lst.items] == ["cfg"] and lst.metadata.resource_version
    core.delete_namespaced_config_map("cfg", "default")
    with pytest.raises(ApiException) as e:
        core.read_namespaced_config_map("cfg", "default")
    assert e.value.status == 404 and _status(e.value)["reason"] == "NotFound"
    assert _status(e.value)["message"] == 'configmaps "cfg" not found'


def test_generate_name_namespace_and_validation_errors(kube_client):
    core = client.CoreV1Api(kube_client)
    cm = core.create_namespaced_config_map("default", {"metadata": {"generateName": "cfg-"}, "data": {}})
    assert cm.metadata.name.startswith("cfg-") and len(cm.metadata.name) == 9
    with pytest.raises(ApiException) as e:
        core.create_namespaced_config_map("nope", make_configmap("x", {}, namespace="nope"))
    assert e.value.status == 404 and _status(e.value)["message"] == 'namespaces "nope" not found'
    with pytest.raises(ApiException) as e:
        core.create_namespaced_config_map("default", make_configmap("Bad_Name", {}))
    assert e.value.status == 422 and _status(e.value)["reason"] == "Invalid"
    apps = client.AppsV1Api(kube_client)
    bad = make_deployment("web")
    bad["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    with pytest.raises(ApiException) as e:
        apps.create_namespaced_deployment("default", bad)
    assert e.value.status == 422 and "selector` does not match template `labels`" in e.value.body


def test_namespaces_nodes_leases_secrets_crud(kube_client):
    core = client.CoreV1Api(kube_client)
    ns = core.create_namespace({"metadata": {"name": "staging"}})
    assert ns.status.phase == "Active"
    assert {n.metadata.name for n in core.list_namespace().items} >= {"default", "kube-system", "staging"}
    nodes = core.list_node().items
    assert len(nodes) == 3 and nodes[0].status.allocatable["cpu"] == "4"
    coord = client.CoordinationV1Api(kube_client)
    lease = coord.create_namespaced_lease("staging", make_lease("lock", "me", "staging"))
    lease.spec.holder_identity = "you"
    lease = coord.replace_namespaced_lease("lock", "staging", lease)
    assert coord.read_namespaced_lease("lock", "staging").spec.holder_identity == "you"
    coord.patch_namespaced_lease("lock", "staging", {"spec": {"holderIdentity": None}}, _content_type=MERGE)
    assert coord.read_namespaced_lease("lock", "staging").spec.holder_identity is None
    core.create_namespaced_secret("staging", {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
    core.create_namespaced_service_account("staging", {"metadata": {"name": "sa"}})
    core.delete_namespace("staging")
    assert "staging" not in {n.metadata.name for n in core.list_namespace().items}
    assert coord.list_lease_for_all_namespaces().items == []


def test_deployment_crud_generation_and_status_subresource(kubesim, kube_client):
    apps = client.AppsV1Api(kube_client)
    d = apps.create_namespaced_deployment("default", make_deployment("web", replicas=2))
    assert d.metadata.generation == 1 and d.spec.strategy.rolling_update.max_surge == "25%"
    assert d.spec.template.spec.containers[0].termination_message_path == "/dev/termination-log"
    kubesim.advance(1)
    d = apps.read_namespaced_deployment("web", "default")
    assert d.status.observed_generation == 1 and d.status.available_replicas == 2
    d2 = apps.patch_namespaced_deployment(
        "web", "default", {"metadata": {"labels": {"x": "y"}}}, _content_type=SMP
    )
    assert d2.metadata.generation == 1  # labels do not bump generation
    d3 = apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 3}}, _content_type=SMP)
    assert d3.metadata.generation == 2
    d4 = apps.patch_namespaced_deployment_status(
        "web", "default", {"status": {"replicas": 42}}, _content_type=MERGE
    )
    assert d4.metadata.generation == 2
    with pytest.raises(ApiException) as e:
        apps.patch_namespaced_deployment(
            "web", "default", {"spec": {"selector": {"matchLabels": {"a": "b"}}}}, _content_type=MERGE
        )
    assert e.value.status == 422
    scale = apps.read_namespaced_deployment_scale("web", "default")
    assert scale.spec.replicas == 3 and scale.status.selector == "app=web"
    apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 1}}, _content_type=MERGE)
    kubesim.advance(1)
    d = apps.read_namespaced_deployment("web", "default")
    assert d.spec.replicas == 1 and d.status.replicas == 1


def test_dry_run_does_not_store(kube_client):
    core = client.CoreV1Api(kube_client)
    core.create_namespaced_config_map("default", make_configmap("dry", {"a": "1"}), dry_run="All")
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("dry", "default")


def test_no_op_update_keeps_resource_version(kube_client):
    core = client.CoreV1Api(kube_client)
    cm = core.create_namespaced_config_map("default", make_configmap("same", {"a": "1"}))
    again = core.patch_namespaced_config_map("same", "default", {"data": {"a": "1"}}, _content_type=MERGE)
    assert again.metadata.resource_version == cm.metadata.resource_version


def test_cascade_delete_background_foreground_orphan(kubesim, kube_client):
    apps, core = client.AppsV1Api(kube_client), client.CoreV1Api(kube_client)
    for name in ("bg", "fg", "orph"):
        apps.create_namespaced_deployment("default", make_deployment(name, replicas=2))
    kubesim.advance(1)
    assert len(core.list_namespaced_pod("default").items) == 6
    apps.delete_namespaced_deployment("bg", "default")  # Background is the default
    apps.delete_namespaced_deployment("fg", "default", body={"propagationPolicy": "Foreground"})
    apps.delete_namespaced_deployment("orph", "default", propagation_policy="Orphan")
    pods = core.list_namespaced_pod("default").items
    assert {p.metadata.labels["app"] for p in pods} == {"orph"}
    rs = apps.list_namespaced_replica_set("default").items
    assert len(rs) == 1 and rs[0].metadata.owner_references is None
    assert all(p.metadata.owner_references for p in pods)  # still owned by the orphaned RS


def test_service_endpoints_follow_selector(kubesim, kube_client):
    apps, core = client.AppsV1Api(kube_client), client.CoreV1Api(kube_client)
    apps.create_namespaced_deployment("default", make_deployment("web", replicas=2))
    apps.create_namespaced_deployment(
        "default", make_deployment("web-canary", replicas=1, labels={"app": "web", "track": "canary"})
    )
    svc = core.create_namespaced_service("default", make_service("web"))
    assert svc.spec.cluster_ip.startswith("10.96.") and svc.spec.type == "ClusterIP"
    kubesim.advance(1)
    ep = core.read_namespaced_endpoints("web", "default")
    assert len(ep.subsets[0].addresses) == 3 and ep.subsets[0].ports[0].port == 8080
    core.patch_namespaced_service(
        "web", "default", {"spec": {"selector": {"track": "canary"}}}, _content_type=SMP
    )
    ep = core.read_namespaced_endpoints("web", "default")
    assert [a.target_ref.name.startswith("web-canary") for a in ep.subsets[0].addresses] == [True]
    core.delete_namespaced_service("web", "default")
    with pytest.raises(ApiException):
        core.read_namespaced_endpoints("web", "default")


def test_job_complete_and_backoff_limit(kubesim, kube_client):
    kubesim.set_scenario(
        {
            "images": {
                "registry.example/migrate:bad": {"exit_code": 1},
                "registry.example/migrate:*": {"complete_after_seconds": 1},
            }
        }
    )
    batch, core = client.BatchV1Api(kube_client), client.CoreV1Api(kube_client)
    job = batch.create_namespaced_job("default", make_job("migrate"))
    uid = job.metadata.uid
    assert job.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    assert job.spec.template.metadata.labels["job-name"] == "migrate"
    kubesim.advance(0.5)
    job = batch.read_namespaced_job("migrate", "default")
    assert job.status.active == 1 and job.status.start_time
    kubesim.advance(1)
    job = batch.read_namespaced_job("migrate", "default")
    assert [(c.type, c.status) for c in job.status.conditions] == [
        ("SuccessCriteriaMet", "True"),
        ("Complete", "True"),
    ]
    assert job.status.succeeded == 1 and job.status.completion_time
    pod = core.list_namespaced_pod("default", label_selector="job-name=migrate").items[0]
    assert pod.status.phase == "Succeeded"
    assert pod.status.container_statuses[0].state.terminated.reason == "Completed"

    batch.create_namespaced_job(
        "default", make_job("bad", image="registry.example/migrate:bad", backoff_limit=2)
    )
    kubesim.advance(10)
    job = batch.read_namespaced_job("bad", "default")
    assert job.status.failed == 3
    failed = [c for c in job.status.conditions if c.type == "Failed"][0]
    assert failed.reason == "BackoffLimitExceeded"
    reasons = {
        e.reason for e in core.list_namespaced_event("default").items if e.involved_object.name == "bad"
    }
    assert {"SuccessfulCreate", "BackoffLimitExceeded"} <= reasons


def test_pod_logs_with_preload_false(kubesim, kube_client):
    kubesim.set_scenario(
        {"images": {"app:*": {"log_lines": ["hello", "ERROR boom"], "ready_after_seconds": 0}}}
    )
    core = client.CoreV1Api(kube_client)
    core.create_namespaced_pod(
        "default",
        {
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "app", "image": "app:1"}, {"name": "side", "image": "side:1"}]},
        },
    )
    kubesim.advance(5)
    resp = core.read_namespaced_pod_log("p", "default", container="app", _preload_content=False)
    lines = resp.data.decode().splitlines()
    assert lines[0].startswith("kubesim: starting container image app:1")
    assert lines[1:5] == ["hello", "ERROR boom", "hello", "ERROR boom"]
    tail = core.read_namespaced_pod_log(
        "p", "default", container="app", tail_lines=2, _preload_content=False
    ).data.decode()
    assert tail.splitlines() == lines[-2:]
    since = core.read_namespaced_pod_log(
        "p", "default", container="app", since_seconds=2, _preload_content=False
    ).data.decode()
    assert 1 <= len(since.splitlines()) <= 3
    with pytest.raises(ApiException) as e:  # two containers: a container name is required
        core.read_namespaced_pod_log("p", "default", _preload_content=False)
    assert e.value.status == 400 and "choose one of: [app side]" in e.value.body
    with pytest.raises(ApiException) as e:
        core.read_namespaced_pod_log("p", "default", container="app", previous=True, _preload_content=False)
    assert e.value.status == 400


def test_protobuf_body_is_415(kubesim):
    resp = requests.post(
        f"{kubesim.url}/apis/apps/v1/namespaces/default/deployments",
        data=b"k8s\x00",
        headers={"Content-Type": "application/vnd.kubernetes.protobuf"},
        timeout=5,
    )
    assert resp.status_code == 415 and resp.json()["reason"] == "UnsupportedMediaType"


def test_metrics_api(kubesim, kube_client):
    client.AppsV1Api(kube_client).create_namespaced_deployment("default", make_deployment("web", replicas=2))
    kubesim.advance(1)
    custom = client.CustomObjectsApi(kube_client)
    nodes = custom.list_cluster_custom_object("metrics.k8s.io", "v1beta1", "nodes")
    assert len(nodes["items"]) == 3 and nodes["items"][0]["usage"]["cpu"].endswith("n")
    pods = custom.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", "default", "pods")
    assert len(pods["items"]) == 2 and pods["items"][0]["containers"][0]["usage"]["memory"].endswith("Ki")
