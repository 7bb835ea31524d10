"""Human durations ("90s", "15m", "1h30m", "24h", "2d") as used in service specs and params."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """Parse "15m", "1h30m", "45s", "2d" or a number of seconds into a timedelta.

    Raises ValueError naming the value and the accepted forms.
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"{value!r} is negative; durations must be >= 0")
        return timedelta(seconds=float(value))
    text = str(value).strip().replace(" ", "")
    if not text:
        raise ValueError("empty duration; use e.g. '30s', '15m', '1h30m', '2d'")
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise ValueError(f"{value!r} is not a duration; use e.g. '30s', '15m', '1h30m', '2d' or seconds")
    return timedelta(seconds=total)


def format_duration(delta: timedelta | float) -> str:
    """Render seconds or a timedelta compactly for logs: 900 -> '15m', 5400 -> '1h30m'."""
    seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
    if seconds < 60:
        return f"{seconds:g}s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            out.append(f"{int(count)}{unit}")
    return "".join(out)
