"""Read Kubernetes objects as plain API dicts (camelCase, as kubectl sees them) through an ApiClient.

`_preload_content=False` returns the raw HTTP body, so the decision functions work on exactly what the
API server sent and never on the client's model classes (client 36 also garbles pod logs otherwise,
kubernetes-client/python#2596).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubernetes import client


def _body(response: Any) -> Any:
    data = response.data
    return json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)


def list_deployments(api: client.ApiClient, namespace: str, label_selector: str = "") -> list[dict[str, Any]]:
    from kubernetes import client  # lazy: heavy to import, and loaded anyway once an ApiClient exists
    resp = client.AppsV1Api(api).list_namespaced_deployment(
        namespace, label_selector=label_selector, _preload_content=False
    )
    return list(_body(resp).get("items") or [])


def read_deployment(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any] | None:
    """The Deployment, or None when it does not exist (404)."""
    from kubernetes import client  # lazy: heavy to import, and loaded anyway once an ApiClient exists
    try:
        resp = client.AppsV1Api(api).read_namespaced_deployment(name, namespace, _preload_content=False)
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    result: dict[str, Any] = _body(resp)
    return result


def list_pods(api: client.ApiClient, namespace: str, label_selector: str = "") -> list[dict[str, Any]]:
    from kubernetes import client  # lazy: heavy to import, and loaded anyway once an ApiClient exists
    resp = client.CoreV1Api(api).list_namespaced_pod(
        namespace, label_selector=label_selector, _preload_content=False
    )
    return list(_body(resp).get("items") or [])


def list_nodes(api: client.ApiClient) -> list[dict[str, Any]]:
    from kubernetes import client  # lazy: heavy to import, and loaded anyway once an ApiClient exists
    return list(_body(client.CoreV1Api(api).list_node(_preload_content=False)).get("items") or [])


def list_node_metrics(api: client.ApiClient) -> list[dict[str, Any]] | None:
    """metrics.k8s.io/v1beta1 NodeMetrics items, or None when the metrics API is not served (404/503)."""
    from kubernetes import client  # lazy: heavy to import, and loaded anyway once an ApiClient exists
    try:
        resp = client.CustomObjectsApi(api).list_cluster_custom_object(
            "metrics.k8s.io", "v1beta1", "nodes", _preload_content=False
        )
    except client.ApiException as exc:
        if exc.status in (404, 503):
            return None
        raise
    return list(_body(resp).get("items") or [])


def read_pod_log(
    api: client.ApiClient,
    namespace: str,
    pod: str,
    container: str | None = None,
    tail_lines: int | None = None,
) -> str:
    from kubernetes import client  # lazy: heavy to import, and loaded anyway once an ApiClient exists
    kwargs: dict[str, Any] = {"_preload_content": False}
    if container:
        kwargs["container"] = container
    if tail_lines:
        kwargs["tail_lines"] = tail_lines
    resp = client.CoreV1Api(api).read_namespaced_pod_log(pod, namespace, **kwargs)
    data = resp.data
    return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data)


def label_selector(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def container_image(obj: dict[str, Any], container: str) -> str | None:
    """Image of the named container in a Deployment's template or a Pod's spec (first one if not found)."""
    spec = obj.get("spec") or {}
    pod_spec = (spec.get("template") or {}).get("spec") or spec
    containers = pod_spec.get("containers") or []
    for c in containers:
        if c.get("name") == container:
            image = c.get("image")
            return str(image) if image else None
    return None
