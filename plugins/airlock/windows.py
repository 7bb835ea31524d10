"""Off-peak windows and change freezes, in the service's time zone.

Grammar (service spec `windows:`):
  off_peak: ["Mon-Fri 01:00-05:00", "Sat,Sun 00:00-08:00", "Daily 22:00-02:00", "Sun 00:00-24:00"]
            (days: Mon Tue Wed Thu Fri Sat Sun or the full names, any case, ranges such as Fri-Mon,
            lists with ',', or Daily; an end before the start crosses midnight; a start equal to the
            end is an error - a whole day is written 00:00-24:00, and 24:00 is only valid as an end;
            empty list = always open)
  freezes:  ["2026-12-20..2027-01-04", "2026-11-26"]   (inclusive local dates)
  release_train: "Tue,Thu 02:00"                       (scheduled runs, see the timetable)

All functions are pure: they take aware datetimes and return aware datetimes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WINDOW = re.compile(
    r"^\s*(?P<days>[A-Za-z,\-]+)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$", re.ASCII
)
_TRAIN = re.compile(r"^\s*(?P<days>[A-Za-z,\-]+)\s+(?P<at>\d{1,2}:\d{2})\s*$", re.ASCII)


class WindowsLike(Protocol):
    timezone: str
    off_peak: list[str]
    freezes: list[str]
    release_train: str | None


@dataclass(frozen=True)
class Window:
    days: frozenset[int]  # weekday numbers of the *start*, Monday = 0
    start: time
    end: time

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start


@dataclass(frozen=True)
class Freeze:
    first: date
    last: date

    def __str__(self) -> str:
        return f"{self.first}..{self.last}" if self.first != self.last else str(self.first)


def parse_days(text: str) -> frozenset[int]:
    text = text.strip()
    if text.lower() in ("daily", "every", "*"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.split(","):
        if "-" in part:
            a, b = (_day(x) for x in part.split("-", 1))
            span = range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)]
            days.update(span)
        else:
            days.add(_day(part))
    return frozenset(days)


def _day(text: str) -> int:
    key = text.strip().lower()
    if key in DAYS:
        return DAYS.index(key)
    if key in DAY_NAMES:
        return DAY_NAMES.index(key)
    raise ValueError(
        f"{text!r} is not a day; use Mon, Tue, Wed, Thu, Fri, Sat, Sun (or the full names), "
        "ranges (Mon-Fri) or Daily"
    )


def _clock(text: str, end: bool = False) -> time:
    hours, minutes = (int(x) for x in text.split(":"))
    if end and hours == 24 and minutes == 0:
        return time(0, 0)  # the end of the day: a window ending at midnight
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        allowed = "00:00-23:59, or 24:00 as an end" if end else "00:00-23:59"
        raise ValueError(f"{text!r} is not a time of day (HH:MM, {allowed})")
    return time(hours, minutes)


def parse_window(text: str) -> Window:
    match = _WINDOW.match(text)
    if not match:
        raise ValueError(f"off-peak window {text!r} must look like 'Mon-Fri 01:00-05:00'")
    start, end = _clock(match["start"]), _clock(match["end"], end=True)
    if start == end and not (start == time(0, 0) and match["end"].startswith("24")):
        raise ValueError(
            f"off-peak window {text!r} is empty (it starts when it ends); a whole day is written 00:00-24:00"
        )
    return Window(parse_days(match["days"]), start, end)


def parse_freeze(text: str) -> Freeze:
    try:
        if ".." in text:
            first, last = (date.fromisoformat(x.strip()) for x in text.split("..", 1))
        else:
            first = last = date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"freeze {text!r} must be 'YYYY-MM-DD' or 'YYYY-MM-DD..YYYY-MM-DD'") from None
    if last < first:
        raise ValueError(f"freeze {text!r} ends before it starts")
    return Freeze(first, last)


def check_not_past(freeze: Freeze, today: date) -> None:
    """A freeze that ended before `today` (the service's local date) is a stale entry: an error."""
    if freeze.last < today:
        raise ValueError(f"freeze {str(freeze)!r} is entirely in the past (today is {today}); remove it")


def local_today(now: datetime | date, timezone: str) -> date:
    """The service's local date at `now` (a date is taken as it is)."""
    if isinstance(now, datetime):
        return now.astimezone(zone(timezone)).date() if now.tzinfo else now.date()
    return now


def parse_release_train(text: str) -> tuple[frozenset[int], time]:
    match = _TRAIN.match(text)
    if not match:
        raise ValueError(f"release_train {text!r} must look like 'Tue,Thu 02:00'")
    return parse_days(match["days"]), _clock(match["at"])


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"timezone {name!r} is not an IANA time zone name (e.g. 'Europe/Berlin', 'UTC')"
        ) from None


def validate_windows(spec: WindowsLike) -> None:
    zone(spec.timezone)
    for text in spec.off_peak:
        parse_window(text)
    for text in spec.freezes:
        parse_freeze(text)
    if spec.release_train:
        parse_release_train(spec.release_train)


def frozen_by(spec: WindowsLike, when: datetime) -> Freeze | None:
    local_day = when.astimezone(zone(spec.timezone)).date()
    for text in spec.freezes:
        freeze = parse_freeze(text)
        if freeze.first <= local_day <= freeze.last:
            return freeze
    return None


def _in_window(window: Window, local: datetime) -> bool:
    t, weekday = local.time(), local.weekday()
    if not window.crosses_midnight:
        return weekday in window.days and window.start <= t < window.end
    # Crossing midnight: the part after midnight belongs to the previous day's window.
    return (weekday in window.days and t >= window.start) or (
        (weekday - 1) % 7 in window.days and t < window.end
    )


def is_open(spec: WindowsLike, when: datetime) -> bool:
    """True when a deployment may run at `when`: inside an off-peak window and not frozen."""
    if frozen_by(spec, when) is not None:
        return False
    if not spec.off_peak:
        return True
    local = when.astimezone(zone(spec.timezone))
    return any(_in_window(parse_window(text), local) for text in spec.off_peak)


def next_open(
    spec: WindowsLike, after: datetime, horizon: timedelta = timedelta(days=400)
) -> datetime | None:
    """The first instant >= `after` at which is_open() holds, or None within the horizon.

    Candidates are `after` itself, every window start and every day after a freeze, so the
    search is exact (minute resolution is not needed) and cheap.
    """
    if is_open(spec, after):
        return after
    tz = zone(spec.timezone)
    local = after.astimezone(tz)
    candidates: list[datetime] = []
    for offset in range(int(horizon.days) + 1):
        day = local.date() + timedelta(days=offset)
        candidates.append(datetime.combine(day, time(0, 0), tz))
        for text in spec.off_peak:
            window = parse_window(text)
            if day.weekday() in window.days:
                candidates.append(datetime.combine(day, window.start, tz))
    for candidate in sorted(c for c in candidates if c > after):
        if is_open(spec, candidate):
            return candidate
    return None


def window_end(spec: WindowsLike, when: datetime) -> datetime | None:
    """When the currently open window closes (None if there are no windows: always open)."""
    if not spec.off_peak:
        return None
    tz = zone(spec.timezone)
    local = when.astimezone(tz)
    ends = []
    for text in spec.off_peak:
        window = parse_window(text)
        for start_day in (local.date() - timedelta(days=1), local.date()):
            start = datetime.combine(start_day, window.start, tz)
            end = datetime.combine(
                start_day + timedelta(days=1 if window.crosses_midnight else 0), window.end, tz
            )
            if start_day.weekday() in window.days and start <= local < end:
                ends.append(end)
    return max(ends) if ends else None


def next_release_train(spec: WindowsLike, after: datetime) -> datetime | None:
    """Next release-train departure strictly after `after`, skipping frozen days."""
    if not spec.release_train:
        return None
    days, at = parse_release_train(spec.release_train)
    tz = zone(spec.timezone)
    local = after.astimezone(tz)
    for offset in range(0, 400):
        day = local.date() + timedelta(days=offset)
        if day.weekday() not in days:
            continue
        departure = datetime.combine(day, at, tz)
        if departure > after and frozen_by(spec, departure) is None:
            return departure
    return None


def describe(spec: WindowsLike) -> dict[str, Any]:
    return {
        "timezone": spec.timezone,
        "off_peak": list(spec.off_peak) or ["always"],
        "freezes": list(spec.freezes),
        "release_train": spec.release_train,
    }
