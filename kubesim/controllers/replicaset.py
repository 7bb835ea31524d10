"""ReplicaSet controller (pkg/controller/replicaset/replica_set.go).

Creates pods from the template until the number of active pods matches spec.replicas, deletes the
least useful pods first when scaling down (unscheduled < pending < not ready < ready), and reports
replicas / readyReplicas / availableReplicas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubesim.controllers.common import PODS, is_active, is_available, is_ready, pods_by_owner, ready_since
from kubesim.objects import Obj, clone, labels_of, name_of, ns_of, owner_ref, uid_of

if TYPE_CHECKING:
    from kubesim.world import World

RS = "apps/replicasets"


def _deletion_rank(pod: Obj) -> tuple[int, float]:
    # controller.ActivePods ordering: unassigned, pending, not ready, then newest ready first
    if not pod["spec"].get("nodeName"):
        return (0, 0.0)
    if pod.get("status", {}).get("phase") == "Pending":
        return (1, 0.0)
    if not is_ready(pod):
        return (2, 0.0)
    return (3, -(ready_since(pod) or 0.0))


class ReplicaSetController:
    def __init__(self, world: World) -> None:
        self.world = world
        self.store = world.store
        self._next: float | None = None

    def next_wakeup(self) -> float | None:
        return self._next

    def sync(self) -> None:
        now = self.world.clock.now()
        owned = pods_by_owner(self.store.list(PODS))
        nxt: list[float] = []
        for rs in list(self.store.list(RS)):
            if rs["metadata"].get("deletionTimestamp"):
                continue
            t = self._sync_one(rs, [p for p in owned.get(uid_of(rs), []) if is_active(p)], now)
            if t is not None:
                nxt.append(t)
        self._next = min(nxt) if nxt else None

    def _sync_one(self, rs: Obj, pods: list[Obj], now: float) -> float | None:
        want = int(rs["spec"].get("replicas", 1))
        diff = len(pods) - want
        if diff < 0:
            for _ in range(-diff):
                pods.append(self._create_pod(rs))
        elif diff > 0:
            victims = sorted(pods, key=_deletion_rank)[:diff]
            for p in victims:
                self.world.gc.delete(self.world.rt("/pods"), p)
                self.world.events.record(
                    rs, "Normal", "SuccessfulDelete", f"Deleted pod: {name_of(p)}", "replicaset-controller"
                )
            gone = {uid_of(p) for p in victims}
            pods = [p for p in pods if uid_of(p) not in gone]
        min_ready = int(rs["spec"].get("minReadySeconds", 0))
        template_labels = (rs["spec"].get("template") or {}).get("metadata", {}).get("labels") or {}
        status = {
            "replicas": len(pods),
            "fullyLabeledReplicas": sum(
                1 for p in pods if all(labels_of(p).get(k) == v for k, v in template_labels.items())
            ),
            "readyReplicas": sum(1 for p in pods if is_ready(p)),
            "availableReplicas": sum(1 for p in pods if is_available(p, min_ready, now)),
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        for k in ("readyReplicas", "availableReplicas", "fullyLabeledReplicas"):
            if status[k] == 0:
                del status[k]  # omitempty, as the real API serializes them
        if status.get("replicas", 0) == 0 and not pods:
            status["replicas"] = 0
        old = rs.get("status") or {}
        merged = {k: v for k, v in old.items() if k == "conditions"}
        merged.update(status)
        if merged != old:
            cur = self.store.get(RS, ns_of(rs), name_of(rs)) or rs
            new = clone(cur)
            new["status"] = merged
            self.store.put(RS, new)
        if min_ready:
            pend = [s + min_ready for p in pods if (s := ready_since(p)) is not None and s + min_ready > now]
            return min(pend) if pend else None
        return None

    def _create_pod(self, rs: Obj) -> Obj:
        template = clone(rs["spec"].get("template") or {})
        md = template.get("metadata") or {}
        pod: Obj = {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {
                "generateName": f"{name_of(rs)}-",
                "namespace": ns_of(rs),
                "labels": dict(md.get("labels") or {}),
                "ownerReferences": [owner_ref(rs)],
            },
            "spec": template.get("spec") or {},
        }
        if md.get("annotations"):
            pod["metadata"]["annotations"] = dict(md["annotations"])
        pod = self.world.create_internal("/pods", ns_of(rs), pod)
        self.world.events.record(
            rs, "Normal", "SuccessfulCreate", f"Created pod: {name_of(pod)}", "replicaset-controller"
        )
        return pod
