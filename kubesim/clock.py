"""Injectable clock: real time plus an offset that tests can advance.

Everything time-dependent in kubesim (readiness delays, progress deadlines, crash-loop restarts,
traffic accrual) reads this clock, so `advance()` moves the whole simulated world forward.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds

    def real_delay_until(self, sim_time: float) -> float:
        """Real seconds to wait until the simulated clock reaches `sim_time`."""
        return max(0.0, sim_time - self.now())


def rfc3339(ts: float) -> str:
    """Kubernetes metav1.Time format (second precision, UTC, 'Z')."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_micro(ts: float) -> str:
    """metav1.MicroTime format, used by Lease renewTime and Event eventTime."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rfc3339_nano(ts: float) -> str:
    """Timestamp prefix of `kubectl logs --timestamps` lines."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


def parse_time(value: str | None) -> float | None:
    if not value:
        return None
    v = value.replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(v).timestamp()
    except ValueError:
        return None
