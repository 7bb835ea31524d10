"""Simulated nodes and the metrics.k8s.io/v1beta1 API (what metrics-server would report)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubesim.clock import rfc3339
from kubesim.errors import not_found
from kubesim.objects import Obj, name_of, ns_of
from kubesim.scenario import NodeSpec, parse_quantity

if TYPE_CHECKING:
    from kubesim.world import World


def node_object(spec: NodeSpec, index: int, now: float) -> Obj:
    ts = rfc3339(now)
    cap = {"cpu": spec.cpu, "memory": spec.memory, "pods": "110", "ephemeral-storage": "100Gi"}

    def cond(t: str, s: str, reason: str, msg: str) -> dict[str, Any]:
        return {
            "type": t,
            "status": s,
            "lastHeartbeatTime": ts,
            "lastTransitionTime": ts,
            "reason": reason,
            "message": msg,
        }

    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {
            "name": spec.name,
            "labels": {
                "kubernetes.io/hostname": spec.name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64",
            },
        },
        "spec": {"podCIDR": f"10.244.{index}.0/24", "podCIDRs": [f"10.244.{index}.0/24"]},
        "status": {
            "capacity": cap,
            "allocatable": dict(cap),
            "conditions": [
                cond(
                    "MemoryPressure",
                    "False",
                    "KubeletHasSufficientMemory",
                    "kubelet has sufficient memory available",
                ),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                cond(
                    "PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"
                ),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [
                {"type": "InternalIP", "address": f"172.18.0.{index + 2}"},
                {"type": "Hostname", "address": spec.name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": f"{index:032x}",
                "systemUUID": f"{index:08x}-0000-0000-0000-000000000000",
                "bootID": f"{index:08x}-0000-0000-0000-000000000001",
                "kernelVersion": "6.1.0-kubesim",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "containerRuntimeVersion": "containerd://1.7.24",
                "kubeletVersion": "v1.32.0",
                "kubeProxyVersion": "v1.32.0",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


def _cpu(cores: float) -> str:
    return f"{int(cores * 1e9)}n"


def _mem(nbytes: float) -> str:
    return f"{int(nbytes / 1024)}Ki"


class MetricsApi:
    """Read-only NodeMetrics / PodMetrics computed from the scenario and running pods."""

    def __init__(self, world: World) -> None:
        self.world = world

    def _node_metrics(self, node: Obj, now: float) -> Obj:
        spec = next((n for n in self.world.scenario.nodes if n.name == name_of(node)), None)
        cpu_ratio = spec.cpu_usage if spec else 0.2
        mem_ratio = spec.memory_usage if spec else 0.3
        cap = node["status"]["capacity"]
        return {
            "kind": "NodeMetrics",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {
                "name": name_of(node),
                "creationTimestamp": rfc3339(now),
                "labels": dict(node["metadata"].get("labels") or {}),
            },
            "timestamp": rfc3339(now),
            "window": "20.05s",
            "usage": {
                "cpu": _cpu(parse_quantity(cap["cpu"]) * cpu_ratio),
                "memory": _mem(parse_quantity(cap["memory"]) * mem_ratio),
            },
        }

    def _pod_metrics(self, pod: Obj, now: float) -> Obj | None:
        statuses = {c["name"]: c for c in (pod.get("status") or {}).get("containerStatuses") or []}
        containers = []
        for c in pod["spec"].get("containers") or []:
            st = statuses.get(c["name"]) or {}
            if not (st.get("state") or {}).get("running"):
                continue
            prof = self.world.profile(c.get("image", ""))
            containers.append(
                {
                    "name": c["name"],
                    "usage": {
                        "cpu": _cpu(prof.cpu_millicores / 1000.0),
                        "memory": _mem(prof.memory_mib * 1024 * 1024),
                    },
                }
            )
        if not containers:
            return None
        return {
            "kind": "PodMetrics",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {
                "name": name_of(pod),
                "namespace": ns_of(pod),
                "creationTimestamp": rfc3339(now),
                "labels": dict(pod["metadata"].get("labels") or {}),
            },
            "timestamp": rfc3339(now),
            "window": "20.05s",
            "containers": containers,
        }

    def get(self, plural: str, ns: str, name: str) -> Obj:
        now = self.world.clock.now()
        store = self.world.store
        with store.lock:
            if plural == "nodes":
                node = store.get("/nodes", "", name)
                if node is not None:
                    return self._node_metrics(node, now)
            else:
                pod = store.get("/pods", ns, name)
                if pod is not None:
                    m = self._pod_metrics(pod, now)
                    if m is not None:
                        return m
        raise not_found("metrics.k8s.io", plural, name)

    def list(self, plural: str, ns: str | None, label_pred: Any) -> Obj:
        now = self.world.clock.now()
        store = self.world.store
        items: list[Obj] = []
        with store.lock:
            if plural == "nodes":
                items = [
                    self._node_metrics(n, now)
                    for n in store.list("/nodes")
                    if label_pred(n["metadata"].get("labels") or {})
                ]
            else:
                for p in store.list("/pods", ns):
                    if label_pred(p["metadata"].get("labels") or {}):
                        m = self._pod_metrics(p, now)
                        if m is not None:
                            items.append(m)
        items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        kind = "NodeMetricsList" if plural == "nodes" else "PodMetricsList"
        return {"kind": kind, "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items}
