"""Human durations ("90s", "15m", "1h30m", "24h", "2d") as used in service specs and params."""

from __future__ import annotations

import math
import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# Far beyond any sensible setting (fields have their own, tighter bounds) and far below timedelta's
# limit: "99999999999d" is a clear error, never an OverflowError.
MAX_DURATION = timedelta(days=3660)
FORMS = "use e.g. '30s', '15m', '1h30m', '2d' or a number of seconds"


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """Parse "15m", "1h30m", "45s", "2d" or a number of seconds into a timedelta.

    Raises ValueError (never OverflowError) naming the value and the accepted forms; a duration is
    at least 0 and at most MAX_DURATION (callers add tighter bounds, e.g. > 0).
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; {FORMS}")
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_text(value)
    else:
        raise ValueError(f"{value!r} is not a duration; {FORMS}")
    if math.isnan(seconds):
        raise ValueError(f"{value!r} is not a duration; {FORMS}")
    if seconds < 0:
        raise ValueError(f"{value!r} is negative; durations must be >= 0")
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"{value!r} is too long; at most {format_duration(MAX_DURATION)}")
    return value if isinstance(value, timedelta) else timedelta(seconds=seconds)


def _parse_text(value: str) -> float:
    text = value.strip().replace(" ", "")
    if not text:
        raise ValueError(f"empty duration; {FORMS}")
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]  # float: inf at worst, no overflow
        pos = match.end()
    if pos != len(text) or len(text) > 64:
        raise ValueError(f"{value!r} is not a duration; {FORMS}")
    return total


def check_bounds(
    delta: timedelta, minimum: timedelta, maximum: timedelta, exclusive_min: bool = True
) -> timedelta:
    """ValueError unless minimum < delta <= maximum (minimum <= delta when not exclusive_min)."""
    too_small = delta <= minimum if exclusive_min else delta < minimum
    if too_small or delta > maximum:
        low = (
            f"more than {format_duration(minimum)}"
            if exclusive_min
            else f"at least {format_duration(minimum)}"
        )
        raise ValueError(
            f"{format_duration(delta)} is out of range; must be {low} and at most {format_duration(maximum)}"
        )
    return delta


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
