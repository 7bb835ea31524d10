"""Deletion with cascading through ownerReferences (pkg/controller/garbagecollector).

Background (the default): the owner goes now, dependents go on the next reconcile pass once all
their owners are gone. Foreground: dependents first, then the owner. Orphan: dependents lose the
ownerReference and stay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubesim.clock import rfc3339
from kubesim.objects import Obj, clone, name_of, ns_of, uid_of
from kubesim.resources import RESOURCES, VIRTUAL_GROUPS, ResourceType

if TYPE_CHECKING:
    from kubesim.world import World

_STORED = [rt for rt in RESOURCES if rt.group not in VIRTUAL_GROUPS]


class GarbageCollector:
    def __init__(self, world: World) -> None:
        self.world = world
        self.store = world.store
        self.dirty = False  # set when something was deleted: only then is a GC pass worth it

    def _all(self) -> list[tuple[ResourceType, Obj]]:
        return [(rt, o) for rt in _STORED for o in self.store.list(rt.key)]

    def dependents(self, uid: str) -> list[tuple[ResourceType, Obj]]:
        return [
            (rt, o)
            for rt, o in self._all()
            if any(r.get("uid") == uid for r in (o["metadata"].get("ownerReferences") or []))
        ]

    def delete(self, rt: ResourceType, obj: Obj, policy: str = "Background") -> None:
        with self.store.lock:
            if self.store.get(rt.key, ns_of(obj), name_of(obj)) is None:
                return
            self.world.traffic_checkpoint()
            uid = uid_of(obj)
            if policy == "Foreground":
                for drt, dep in self.dependents(uid):
                    self.delete(drt, dep, "Foreground")
            elif policy == "Orphan":
                for drt, dep in self.dependents(uid):
                    d = clone(dep)
                    d["metadata"]["ownerReferences"] = [
                        r for r in d["metadata"]["ownerReferences"] if r.get("uid") != uid
                    ]
                    if not d["metadata"]["ownerReferences"]:
                        del d["metadata"]["ownerReferences"]
                    self.store.put(drt.key, d)
            if rt.kind == "Namespace":
                ns = name_of(obj)
                for nrt in _STORED:
                    if nrt.namespaced:
                        for o in self.store.list(nrt.key, ns):
                            self.delete(nrt, o, "Background")
            if obj["metadata"].get("finalizers"):
                if not obj["metadata"].get("deletionTimestamp"):
                    d = clone(obj)
                    d["metadata"]["deletionTimestamp"] = rfc3339(self.world.clock.now())
                    d["metadata"]["deletionGracePeriodSeconds"] = 0
                    self.store.put(rt.key, d)
                return
            self.store.remove(rt.key, ns_of(obj), name_of(obj))
            self.dirty = True

    def sync(self) -> bool:
        """Delete objects all of whose owners are gone. Returns True if anything changed."""
        if not self.dirty:
            return False
        self.dirty = False
        objs = self._all()
        alive = {uid_of(o) for _, o in objs}
        changed = False
        for rt, o in objs:
            refs = o["metadata"].get("ownerReferences") or []
            if refs and not any(r.get("uid") in alive for r in refs):
                if self.store.get(rt.key, ns_of(o), name_of(o)) is not None:
                    self.delete(rt, o, "Background")
                    changed = True
        return changed
