"""Endpoints controller (pkg/controller/endpoint): one Endpoints object per Service with a selector,
listing Ready pods under `addresses` and the others under `notReadyAddresses`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubesim.controllers.common import is_ready
from kubesim.objects import Obj, clone, labels_of, name_of, ns_of, uid_of

if TYPE_CHECKING:
    from kubesim.world import World

SERVICES, ENDPOINTS, PODS = "/services", "/endpoints", "/pods"


def service_pods(store: Any, svc: Obj) -> list[Obj]:
    """Pods selected by a Service (same namespace, selector match, not terminal)."""
    selector = (svc.get("spec") or {}).get("selector")
    if not selector:
        return []
    out = []
    for p in store.list(PODS, ns_of(svc)):
        if p["metadata"].get("deletionTimestamp"):
            continue
        if p.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            continue
        if all(labels_of(p).get(k) == v for k, v in selector.items()):
            out.append(p)
    return out


def ready_endpoints(store: Any, svc: Obj) -> list[Obj]:
    return [p for p in service_pods(store, svc) if is_ready(p) and (p.get("status") or {}).get("podIP")]


def _address(p: Obj) -> dict[str, Any]:
    return {
        "ip": p["status"]["podIP"],
        "nodeName": p["spec"].get("nodeName"),
        "targetRef": {"kind": "Pod", "namespace": ns_of(p), "name": name_of(p), "uid": uid_of(p)},
    }


def _target_port(port: dict[str, Any], pods: list[Obj]) -> int:
    tp = port.get("targetPort", port.get("port"))
    if isinstance(tp, int):
        return tp
    for p in pods:  # named port: resolve from the pod's container ports
        for c in p["spec"].get("containers") or []:
            for cp in c.get("ports") or []:
                if cp.get("name") == tp:
                    return int(cp["containerPort"])
    return int(port.get("port", 0))


class EndpointsController:
    def __init__(self, world: World) -> None:
        self.world = world
        self.store = world.store

    def next_wakeup(self) -> float | None:
        return None

    def sync(self) -> None:
        prune_orphans(self.world)
        for svc in self.store.list(SERVICES):
            if not (svc.get("spec") or {}).get("selector"):
                continue
            pods = [p for p in service_pods(self.store, svc) if (p.get("status") or {}).get("podIP")]
            pods.sort(key=name_of)
            ready = [_address(p) for p in pods if is_ready(p)]
            not_ready = [_address(p) for p in pods if not is_ready(p)]
            subsets: list[dict[str, Any]] = []
            if ready or not_ready:
                ports = []
                for port in svc["spec"].get("ports") or []:
                    ep: dict[str, Any] = {
                        "port": _target_port(port, pods),
                        "protocol": port.get("protocol", "TCP"),
                    }
                    if port.get("name"):
                        ep["name"] = port["name"]
                    ports.append(ep)
                subset: dict[str, Any] = {}
                if ready:
                    subset["addresses"] = ready
                if not_ready:
                    subset["notReadyAddresses"] = not_ready
                if ports:
                    subset["ports"] = ports
                subsets.append(subset)
            self._write(svc, subsets)

    def _write(self, svc: Obj, subsets: list[dict[str, Any]]) -> None:
        cur = self.store.get(ENDPOINTS, ns_of(svc), name_of(svc))
        if cur is not None:
            if (cur.get("subsets") or []) == subsets:
                return
            new = clone(cur)
            if subsets:
                new["subsets"] = subsets
            else:
                new.pop("subsets", None)
            self.store.put(ENDPOINTS, new)
            return
        ep: Obj = {
            "kind": "Endpoints",
            "apiVersion": "v1",
            "metadata": {"name": name_of(svc), "namespace": ns_of(svc), "labels": dict(labels_of(svc))},
        }
        if subsets:
            ep["subsets"] = subsets
        self.world.create_internal(ENDPOINTS, ns_of(svc), ep)


def prune_orphans(world: World) -> None:
    """Endpoints whose Service is gone are deleted (the controller does this on Service delete)."""
    store = world.store
    for ep in store.list(ENDPOINTS):
        if store.get(SERVICES, ns_of(ep), name_of(ep)) is None:
            store.remove(ENDPOINTS, ns_of(ep), name_of(ep))
