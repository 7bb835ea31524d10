"""core/v1 Events as controllers and the kubelet record them (client-go tools/record).

Repeated identical events are aggregated: count grows and lastTimestamp moves, like the
EventCorrelator does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubesim.clock import rfc3339
from kubesim.objects import Obj, clone, name_of, ns_of, uid_of

if TYPE_CHECKING:
    from kubesim.world import World

EVENTS = "/events"


class EventRecorder:
    def __init__(self, world: World) -> None:
        self.world = world
        self._seq = 0
        self._index: dict[tuple[str, str, str, str], str] = {}  # (ns, uid, reason, msg) -> name

    def record(
        self, obj: Obj, etype: str, reason: str, message: str, component: str, host: str | None = None
    ) -> None:
        store = self.world.store
        ns = ns_of(obj) or "default"
        now = rfc3339(self.world.clock.now())
        key = (ns, uid_of(obj), reason, message)
        existing_name = self._index.get(key)
        if existing_name:
            existing = store.get(EVENTS, ns, existing_name)
            if existing is not None:
                ev = clone(existing)
                ev["count"] = int(ev.get("count", 1)) + 1
                ev["lastTimestamp"] = now
                store.put(EVENTS, ev)
                return
        self._seq += 1
        name = f"{name_of(obj)}.{self.world.rng_hex(16)}"
        source = {"component": component}
        if host:
            source["host"] = host
        ev: Obj = {
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "namespace": ns,
                "uid": self.world.new_uid(),
                "creationTimestamp": now,
            },
            "involvedObject": {
                "kind": obj.get("kind"),
                "namespace": ns_of(obj) or None,
                "name": name_of(obj),
                "uid": uid_of(obj),
                "apiVersion": obj.get("apiVersion"),
                "resourceVersion": (obj.get("metadata") or {}).get("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": etype,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host or "",
        }
        if not ev["involvedObject"]["namespace"]:
            del ev["involvedObject"]["namespace"]
        self._index[key] = name
        store.put(EVENTS, ev)
