"""Watch semantics: ParseBool flag, synthetic ADDED, events after N, 410 Expired, timeouts, selectors."""

import json
import time

import pytest
import requests
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from tests.fixtures.kubesim import make_configmap


def _events(kubesim, path: str, **params) -> list[dict]:
    resp = requests.get(f"{kubesim.url}{path}", params=params, timeout=10, stream=True)
    assert resp.status_code == 200
    return [json.loads(line) for line in resp.iter_lines() if line]


def test_watch_from_zero_replays_then_streams(kubesim, kube_client):
    core = client.CoreV1Api(kube_client)
    core.create_namespaced_config_map("default", make_configmap("a", {"v": "1"}))
    core.create_namespaced_config_map("default", make_configmap("b", {"v": "1"}))
    w = watch.Watch()
    seen = []
    for ev in w.stream(core.list_namespaced_config_map, "default", resource_version="0", timeout_seconds=2):
        seen.append((ev["type"], ev["object"].metadata.name))
        if len(seen) == 2:
            core.patch_namespaced_config_map("a", "default", {"data": {"v": "2"}})
        if len(seen) == 3:
            w.stop()
    assert seen == [("ADDED", "a"), ("ADDED", "b"), ("MODIFIED", "a")]


def test_watch_events_after_resource_version(kubesim, kube_client):
    core = client.CoreV1Api(kube_client)
    core.create_namespaced_config_map("default", make_configmap("a", {"v": "1"}))
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", make_configmap("b", {"v": "1"}))
    core.delete_namespaced_config_map("a", "default")
    events = _events(
        kubesim, "/api/v1/namespaces/default/configmaps", watch="true", resourceVersion=rv, timeoutSeconds="1"
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "b"),
        ("DELETED", "a"),
    ]


def test_watch_flag_parse_bool(kubesim):
    for flag in ("True", "true", "1", "t"):
        assert _events(kubesim, "/api/v1/namespaces", watch=flag, timeoutSeconds="1")
    resp = requests.get(f"{kubesim.url}/api/v1/namespaces", params={"watch": "false"}, timeout=5)
    assert resp.json()["kind"] == "NamespaceList"
    resp = requests.get(f"{kubesim.url}/api/v1/namespaces", params={"watch": "yes"}, timeout=5)
    assert resp.status_code == 400


def test_watch_compacted_version_is_410(kubesim, kube_client):
    core = client.CoreV1Api(kube_client)
    core.create_namespaced_config_map("default", make_configmap("a", {"v": "1"}))
    old_rv = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", make_configmap("b", {"v": "1"}))
    kubesim.compact()
    events = _events(kubesim, "/api/v1/namespaces/default/configmaps", watch="1", resourceVersion=old_rv)
    assert events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410 and events[0]["object"]["reason"] == "Expired"
    with pytest.raises(ApiException) as e:  # the official client turns the ERROR event into an exception
        for _ in watch.Watch().stream(core.list_namespaced_config_map, "default", resource_version=old_rv):
            pass
    assert e.value.status == 410


def test_watch_timeout_seconds_ends_stream(kubesim, kube_client):
    core = client.CoreV1Api(kube_client)
    start = time.monotonic()
    events = list(watch.Watch().stream(core.list_namespaced_config_map, "default", timeout_seconds=1))
    assert events == [] and 0.9 < time.monotonic() - start < 5


def test_watch_selectors(kubesim, kube_client):
    core = client.CoreV1Api(kube_client)
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    cm = make_configmap("x", {})
    cm["metadata"]["labels"] = {"team": "a"}
    core.create_namespaced_config_map("default", cm)
    core.create_namespaced_config_map("default", make_configmap("y", {}))
    core.patch_namespaced_config_map("x", "default", {"metadata": {"labels": {"team": "b"}}})
    by_label = _events(
        kubesim,
        "/api/v1/namespaces/default/configmaps",
        watch="1",
        resourceVersion=rv,
        labelSelector="team=a",
        timeoutSeconds="1",
    )
    # an object that stops matching the selector is reported DELETED, like the apiserver does
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in by_label] == [
        ("ADDED", "x"),
        ("DELETED", "x"),
    ]
    by_field = _events(
        kubesim,
        "/api/v1/namespaces/default/configmaps",
        watch="1",
        resourceVersion=rv,
        fieldSelector="metadata.name=y",
        timeoutSeconds="1",
    )
    assert [e["object"]["metadata"]["name"] for e in by_field] == ["y"]


def test_watch_deployment_rollout_progress(kubesim, kube_client):
    from tests.fixtures.kubesim import make_deployment

    apps = client.AppsV1Api(kube_client)
    apps.create_namespaced_deployment("default", make_deployment("web", replicas=2))
    kubesim.advance(1)
    w = watch.Watch()
    for ev in w.stream(
        apps.list_namespaced_deployment, "default", field_selector="metadata.name=web", timeout_seconds=5
    ):
        d = ev["object"]
        if d.status.available_replicas == 2 and d.status.observed_generation == d.metadata.generation:
            w.stop()
    assert d.status.updated_replicas == 2
