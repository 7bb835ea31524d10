"""Fault injection: the next N requests matching a method and path glob fail, stall, reset or drop.

A fault strikes before the request is handled (nothing is applied: the request fails, is held for
`delay` seconds first, or its connection is reset), or with `after` once it has been handled (a write
is applied, then the answer is replaced by `status`, held back `delay` seconds, or lost to a reset):
what a client sees when an apiserver commits a write and the answer never arrives. `retry_after`
sets the Retry-After header of a `status` answer (seconds or an HTTP-date; a 429 gets "1" without it).
`watch_only` limits a fault to watch requests (a list of the same path is left alone): a `status`
of 410 then answers a watch the way an apiserver answers one from a compacted resourceVersion.
"""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass
from typing import Any


@dataclass
class Fault:
    method: str = "*"
    path: str = "*"
    status: int | None = None
    delay: float | None = None
    drop_watch: bool = False
    count: int = 1
    reset: bool = False  # close the connection with a TCP reset instead of answering
    after: bool = False  # strike after the request was handled (a write is applied)
    retry_after: str | None = None  # Retry-After header value for a `status` answer
    watch_only: bool = False  # strike only watch requests (`?watch=true`), never lists or reads

    def describe(self) -> str:
        """What the client got instead of a normal answer, for the audit log."""
        what = [f"status {self.status}"] if self.status is not None else []
        what += ["reset"] if self.reset else []
        what += [f"delay {self.delay:g}s"] if self.delay else []
        what += ["dropped watch"] if self.drop_watch else []
        what += ["(watch only)"] if self.watch_only else []
        return ("after handling: " if self.after else "") + ", ".join(what)

    def matches(self, method: str, path: str, is_watch: bool) -> bool:
        if (self.drop_watch or self.watch_only) and not is_watch:
            return False
        return fnmatch.fnmatchcase(method.upper(), self.method.upper()) and fnmatch.fnmatchcase(
            path, self.path
        )


def fault_from_dict(raw: dict[str, Any]) -> Fault:
    fields = {
        "method",
        "path",
        "status",
        "delay",
        "drop_watch",
        "count",
        "reset",
        "after",
        "retry_after",
        "watch_only",
    }
    unknown = set(raw) - fields
    if unknown:
        raise ValueError(f"unknown fault fields: {sorted(unknown)}")
    f = Fault(
        method=str(raw.get("method") or "*"),
        path=str(raw.get("path") or "*"),
        status=int(raw["status"]) if raw.get("status") is not None else None,
        delay=float(raw["delay"]) if raw.get("delay") is not None else None,
        drop_watch=bool(raw.get("drop_watch", False)),
        count=int(raw.get("count", 1)),
        reset=bool(raw.get("reset", False)),
        after=bool(raw.get("after", False)),
        retry_after=str(raw["retry_after"]) if raw.get("retry_after") is not None else None,
        watch_only=bool(raw.get("watch_only", False)),
    )
    check_fault(f)
    return f


def check_fault(f: Fault) -> None:
    """A fault must do something, and only things that go together."""
    if f.status is None and f.delay is None and not f.drop_watch and not f.reset:
        raise ValueError("a fault needs status, delay, reset or drop_watch")
    if f.reset and f.status is not None:
        raise ValueError("a reset fault sends no answer, so it cannot have a status")
    if f.retry_after is not None and f.status is None:
        raise ValueError("retry_after goes with a status")
    if f.after and (f.drop_watch or f.watch_only):
        raise ValueError("after applies to answered requests, not to watch streams")


class Faults:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str, is_watch: bool) -> Fault | None:
        """Consume one use of the first matching fault (a count < 0 never runs out)."""
        with self._lock:
            for f in self._faults:
                if f.count != 0 and f.matches(method, path, is_watch):
                    if f.count > 0:
                        f.count -= 1
                    if f.count == 0:
                        self._faults.remove(f)
                    return f
        return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [vars(f).copy() for f in self._faults]
