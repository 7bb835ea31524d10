"""The object store: one lock, one global resourceVersion counter, a bounded event history.

Stored objects are never mutated in place: writers clone, change and `put` a new dict. That lets
readers and watch events share references without copying.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable

from kubesim.errors import expired
from kubesim.objects import Obj, meta, name_of, ns_of
from kubesim.watch import Event, Watcher


class Store:
    def __init__(self, history_size: int = 20000) -> None:
        # RLock: controllers write through the store while the API layer already holds the lock.
        self.lock = threading.RLock()
        self.rv = 1000
        self._objects: dict[str, dict[tuple[str, str], Obj]] = {}
        self._history: deque[Event] = deque()
        self._history_size = history_size
        self.compacted_rv = 0  # events with rv <= this are gone: watching from there is 410
        self._watchers: set[Watcher] = set()
        self.write_listeners: list = []  # callables notified (outside nothing) after each write

    # -- reads -------------------------------------------------------------------------------
    def get(self, key: str, namespace: str, name: str) -> Obj | None:
        return self._objects.get(key, {}).get((namespace, name))

    def list(self, key: str, namespace: str | None = None) -> list[Obj]:
        objs = self._objects.get(key, {})
        if namespace:
            return [o for (ns, _), o in objs.items() if ns == namespace]
        return list(objs.values())

    def count(self, key: str) -> int:
        return len(self._objects.get(key, {}))

    # -- writes ------------------------------------------------------------------------------
    def _next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def put(self, key: str, obj: Obj) -> Obj:
        """Insert or replace; assigns a new resourceVersion and emits ADDED/MODIFIED."""
        with self.lock:
            ident = (ns_of(obj), name_of(obj))
            bucket = self._objects.setdefault(key, {})
            old = bucket.get(ident)
            rv = self._next_rv()
            meta(obj)["resourceVersion"] = str(rv)
            bucket[ident] = obj
            self._emit(Event(rv, "MODIFIED" if old is not None else "ADDED", key, obj, old))
            return obj

    def remove(self, key: str, namespace: str, name: str) -> Obj | None:
        with self.lock:
            old = self._objects.get(key, {}).pop((namespace, name), None)
            if old is None:
                return None
            rv = self._next_rv()
            gone = dict(old)
            gone["metadata"] = dict(old.get("metadata") or {}, resourceVersion=str(rv))
            self._emit(Event(rv, "DELETED", key, gone, old))
            return gone

    def _emit(self, ev: Event) -> None:
        if len(self._history) >= self._history_size:
            self.compacted_rv = self._history.popleft().rv
        self._history.append(ev)
        for w in list(self._watchers):
            w.offer(ev)
        for fn in self.write_listeners:
            fn(ev)

    def compact(self) -> None:
        """Forget all history, like etcd compaction: older resourceVersions now give 410."""
        with self.lock:
            self._history.clear()
            self.compacted_rv = self.rv

    # -- watch -------------------------------------------------------------------------------
    def watch(self, watcher: Watcher, resource_version: str | None) -> list[tuple[str, Obj]]:
        """Register a watcher and return the initial events it must send first.

        "" / "0": synthetic ADDED for every current object; N: every event after N from history.
        """
        with self.lock:
            initial: list[tuple[str, Obj]] = []
            if not resource_version or resource_version == "0":
                for obj in sorted(
                    self.list(watcher.key, watcher.namespace),
                    key=lambda o: int(o["metadata"]["resourceVersion"]),
                ):
                    if watcher.matches(obj):
                        initial.append(("ADDED", obj))
            else:
                try:
                    since = int(resource_version)
                except ValueError:
                    raise expired(f"too old resource version: {resource_version}") from None
                if since < self.compacted_rv:
                    raise expired(f"too old resource version: {since} ({self.compacted_rv + 1})")
                for ev in self._history:
                    if ev.rv > since:
                        item = watcher.translate(ev)
                        if item is not None:
                            initial.append(item)
            self._watchers.add(watcher)
            return initial

    def unwatch(self, watcher: Watcher) -> None:
        with self.lock:
            self._watchers.discard(watcher)

    def close_watchers(self) -> None:
        with self.lock:
            for w in self._watchers:
                w.close()
            self._watchers.clear()

    def all_keys(self) -> Iterable[str]:
        return list(self._objects)
