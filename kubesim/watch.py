"""Watch fan-out: one queue per watcher, fed by the store while it holds its lock."""

from __future__ import annotations

import queue
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubesim.objects import Obj, labels_of, ns_of


@dataclass(frozen=True)
class Event:
    rv: int
    type: str  # ADDED / MODIFIED / DELETED
    key: str
    obj: Obj
    old: Obj | None = None


class Watcher:
    """A subscription to one resource type; `queue` yields (type, object) or None when closed."""

    def __init__(
        self,
        key: str,
        namespace: str | None,
        label_pred: Callable[[Mapping[str, str]], bool],
        field_pred: Callable[[Mapping[str, Any]], bool],
    ) -> None:
        self.key = key
        self.namespace = namespace
        self.label_pred = label_pred
        self.field_pred = field_pred
        self.queue: queue.Queue[tuple[str, Obj] | None] = queue.Queue()

    def matches(self, obj: Obj | None) -> bool:
        if obj is None:
            return False
        if self.namespace and ns_of(obj) != self.namespace:
            return False
        return self.label_pred(labels_of(obj)) and self.field_pred(obj)

    def translate(self, ev: Event) -> tuple[str, Obj] | None:
        """Map a store event to what this watcher sees, like the apiserver's filtered watch:
        an object that starts (stops) matching the selectors is reported ADDED (DELETED)."""
        if ev.key != self.key:
            return None
        now = self.matches(ev.obj)
        if ev.type == "MODIFIED":
            before = self.matches(ev.old)
            if now and before:
                return ("MODIFIED", ev.obj)
            if now:
                return ("ADDED", ev.obj)
            if before:
                return ("DELETED", ev.obj)
            return None
        return (ev.type, ev.obj) if now else None

    def offer(self, ev: Event) -> None:
        item = self.translate(ev)
        if item is not None:
            self.queue.put(item)

    def close(self) -> None:
        self.queue.put(None)
