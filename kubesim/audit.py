"""Audit log of write requests (POST/PUT/PATCH/DELETE) to the Kubernetes API paths."""

from __future__ import annotations

import json
import threading
from typing import Any

from kubesim.clock import rfc3339_micro

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class EntryLog:
    """A thread-safe, append-only list of request entries (the audit log, kubesim/rbac.py's access log)."""

    def __init__(self) -> None:
        self._entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def append(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class AuditLog(EntryLog):
    def record(
        self,
        method: str,
        path: str,
        query: str,
        content_type: str | None,
        body: bytes,
        status: int,
        sim_time: float,
        fault: str | None = None,
    ) -> None:
        try:
            parsed: Any = json.loads(body) if body else None
        except (ValueError, UnicodeDecodeError):
            parsed = body[:4096].decode("utf-8", "replace")
        entry = {
            "method": method,
            "path": path,
            "query": query,
            "content_type": content_type or "",
            "time": rfc3339_micro(sim_time),
            "timestamp": sim_time,
            "status": status,
            "body": parsed,
        }
        if fault:  # an injected fault struck this request; `status` is what was applied (0: nothing)
            entry["fault"] = fault
        self.append(entry)
