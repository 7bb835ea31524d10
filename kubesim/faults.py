"""Fault injection: the next N requests matching a method and path glob fail, stall or drop."""

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

    def matches(self, method: str, path: str, is_watch: bool) -> bool:
        if self.drop_watch and not is_watch:
            return False
        return fnmatch.fnmatchcase(method.upper(), self.method.upper()) and fnmatch.fnmatchcase(
            path, self.path
        )


def fault_from_dict(raw: dict[str, Any]) -> Fault:
    unknown = set(raw) - {"method", "path", "status", "delay", "drop_watch", "count"}
    if unknown:
        raise ValueError(f"unknown fault fields: {sorted(unknown)}")
    f = Fault(
        method=str(raw.get("method") or "*"),
        path=str(raw.get("path") or "*"),
        status=int(raw["status"]) if raw.get("status") is not None else None,
        delay=float(raw["delay"]) if raw.get("delay") is not None else None,
        drop_watch=bool(raw.get("drop_watch", False)),
        count=int(raw.get("count", 1)),
    )
    if f.status is None and f.delay is None and not f.drop_watch:
        raise ValueError("a fault needs status, delay or drop_watch")
    return f


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
