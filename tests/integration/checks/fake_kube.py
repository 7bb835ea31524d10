"""A read-only Kubernetes API stand-in (the few list/read/log paths the checks use) and a fake app.

Used until kubesim serves HTTP: it lets the kube-reading checks and the operators go through the real
`kubernetes` client (ApiClient, `_preload_content=False`) and the cncf provider's KubernetesHook.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from tests.fixtures.fake_apis import FakeServer, RecordedRequest, Reply


def _matches(obj: dict[str, Any], selector: str | None) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in filter(None, (selector or "").split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


class FakeKubeApi(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.deployments: dict[str, list[dict[str, Any]]] = {}
        self.pods: dict[str, list[dict[str, Any]]] = {}
        self.logs: dict[tuple[str, str], str] = {}
        self.nodes: list[dict[str, Any]] = []
        self.node_metrics: list[dict[str, Any]] | None = []

    # -- builders ---------------------------------------------------------------------------------
    def add_app(
        self,
        namespace: str,
        name: str,
        image: str,
        replicas: int = 2,
        ready: int | None = None,
        labels: dict[str, str] | None = None,
        logs: list[str] | None = None,
        pod_prefix: str | None = None,
        deployment: bool = True,
    ) -> None:
        labels = labels or {"app": name}
        ready = replicas if ready is None else ready
        if deployment:
            self.deployments.setdefault(namespace, []).append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": name, "namespace": namespace, "generation": 2, "labels": labels},
                    "spec": {
                        "replicas": replicas,
                        "selector": {"matchLabels": labels},
                        "template": {
                            "metadata": {"labels": labels},
                            "spec": {"containers": [{"name": "app", "image": image}]},
                        },
                    },
                    "status": {
                        "observedGeneration": 2,
                        "replicas": replicas,
                        "updatedReplicas": replicas,
                        "readyReplicas": ready,
                        "availableReplicas": ready,
                    },
                }
            )
        for i in range(replicas):
            ok = i < ready
            pod_name = f"{pod_prefix or name}-{i}"
            state = (
                {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
                if ok
                else {"waiting": {"reason": "CrashLoopBackOff"}}
            )
            self.pods.setdefault(namespace, []).append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": pod_name, "namespace": namespace, "labels": labels},
                    "spec": {"containers": [{"name": "app", "image": image}]},
                    "status": {
                        "phase": "Running",
                        "startTime": "2026-01-01T00:00:00Z",
                        "conditions": [{"type": "Ready", "status": "True" if ok else "False"}],
                        "containerStatuses": [
                            {
                                "name": "app",
                                "image": image,
                                "imageID": "",
                                "ready": ok,
                                "restartCount": 0 if ok else 3,
                                "state": state,
                            }
                        ],
                    },
                }
            )
            self.logs[(namespace, pod_name)] = "\n".join(logs or []) + "\n"

    def add_node(
        self,
        name: str,
        cpu: str = "4",
        memory: str = "16Gi",
        used_cpu: str = "1",
        used_memory: str = "4Gi",
        ready: bool = True,
    ) -> None:
        self.nodes.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": name},
                "status": {
                    "allocatable": {"cpu": cpu, "memory": memory},
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": "True" if ready else "False",
                            "reason": "KubeletReady" if ready else "KubeletNotReady",
                        }
                    ],
                },
            }
        )
        if self.node_metrics is not None:
            self.node_metrics.append(
                {
                    "metadata": {"name": name},
                    "timestamp": "2026-01-01T00:00:00Z",
                    "window": "20s",
                    "usage": {"cpu": used_cpu, "memory": used_memory},
                }
            )

    def kubeconfig(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
        }

    # -- API --------------------------------------------------------------------------------------
    @staticmethod
    def _list(kind: str, items: list[dict[str, Any]], selector: str | None) -> Reply:
        return Reply(
            200,
            {
                "kind": kind,
                "apiVersion": "v1",
                "metadata": {"resourceVersion": "1"},
                "items": [copy.deepcopy(i) for i in items if _matches(i, selector)],
            },
        )

    def handle(self, request: RecordedRequest) -> Reply:
        sel = request.param("labelSelector")
        path = request.path
        if m := re.fullmatch(r"/apis/apps/v1/namespaces/([^/]+)/deployments", path):
            return self._list("DeploymentList", self.deployments.get(m.group(1), []), sel)
        if m := re.fullmatch(r"/apis/apps/v1/namespaces/([^/]+)/deployments/([^/]+)", path):
            for d in self.deployments.get(m.group(1), []):
                if d["metadata"]["name"] == m.group(2):
                    return Reply(200, d)
            return Reply(
                404,
                {
                    "kind": "Status",
                    "status": "Failure",
                    "reason": "NotFound",
                    "code": 404,
                    "message": f'deployments.apps "{m.group(2)}" not found',
                },
            )
        if m := re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods", path):
            return self._list("PodList", self.pods.get(m.group(1), []), sel)
        if m := re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods/([^/]+)/log", path):
            text = self.logs.get((m.group(1), m.group(2)))
            if text is None:
                return Reply(404, {"kind": "Status", "reason": "NotFound", "code": 404})
            tail = request.param("tailLines")
            if tail:
                text = "\n".join(text.splitlines()[-int(tail) :]) + "\n"
            return Reply(200, text)
        if path == "/api/v1/nodes":
            return self._list("NodeList", self.nodes, sel)
        if path == "/apis/metrics.k8s.io/v1beta1/nodes":
            if self.node_metrics is None:
                return Reply(404, {"kind": "Status", "reason": "NotFound", "code": 404})
            return self._list("NodeMetricsList", self.node_metrics, sel)
        return Reply(
            404, {"kind": "Status", "reason": "NotFound", "code": 404, "message": f"no route {path}"}
        )


class FakeApp(FakeServer):
    """An app under `/_sim/apps/{namespace}/{service}` like kubesim's: /health and scripted answers."""

    def __init__(self, version: str = "1.2.3", healthy_after: int = 0) -> None:
        super().__init__()
        self.version = version
        self.healthy_after = healthy_after  # the first N health calls answer 503
        self.routes: dict[tuple[str, str], Reply] = {}
        self._health_calls = 0

    def handle(self, request: RecordedRequest) -> Reply:
        m = re.fullmatch(r"/_sim/apps/([^/]+)/([^/]+)(/.*)?", request.path)
        if not m:
            return Reply(404, {"error": "no such app"})
        sub = m.group(3) or "/"
        if sub == "/health":
            self._health_calls += 1
            if self._health_calls <= self.healthy_after:
                return Reply(503, {"status": "starting"})
            return Reply(200, {"status": "healthy", "version": self.version})
        return self.routes.get((request.method, sub), Reply(404, {"error": "not found"}))
