"""Release-train departures: when scheduled deployment runs leave, in the service's time zone.

`release_train: "Tue,Thu 02:00"` means a run departs at 02:00 local time on those days, except on
frozen days (windows.freezes). Wall-clock times are kept across DST changes (02:00 stays 02:00 local,
so the UTC instant moves); a departure that falls in the spring-forward gap is resolved by zoneinfo's
fold rule (02:30 on the switch day in Europe/Berlin means 03:30 CEST).

Pure functions over the `windows` section (anything shaped like `airlock.windows.WindowsLike`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from airlock import windows
from airlock.windows import WindowsLike

_TICK = timedelta(microseconds=1)


@dataclass
class TrainCalendar:
    """The fields a release train needs; plain data so a timetable can serialize it.

    Not frozen: `WindowsLike` declares plain (settable) attributes.
    """

    timezone: str
    release_train: str | None
    freezes: list[str]
    off_peak: list[str]

    @classmethod
    def from_windows(cls, cal: WindowsLike) -> TrainCalendar:
        return cls(cal.timezone, cal.release_train, list(cal.freezes), list(cal.off_peak))

    def validate(self) -> None:
        if not self.release_train:
            raise ValueError(
                "windows.release_train is not set; a release-train schedule needs e.g. 'Tue,Thu 02:00'"
            )
        windows.validate_windows(self)


def _utc(when: datetime) -> datetime:
    """A plain stdlib UTC datetime (pendulum's DateTime loses a stdlib tzinfo in arithmetic)."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{when!r} is naive; release-train times must be time-zone aware")
    u = when.astimezone(UTC)
    return datetime(u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond, tzinfo=UTC)


def next_departure(cal: WindowsLike, after: datetime, *, inclusive: bool = False) -> datetime | None:
    """The first departure after `after` (or at it, if `inclusive`), skipping frozen days, in UTC."""
    start = _utc(after) - (_TICK if inclusive else timedelta(0))
    found = windows.next_release_train(cal, start)
    return _utc(found) if found else None


def departures(cal: WindowsLike, start: datetime, end: datetime) -> Iterator[datetime]:
    """Every departure in [start, end], in order (UTC)."""
    current = next_departure(cal, start, inclusive=True)
    while current is not None and current <= _utc(end):
        yield current
        current = next_departure(cal, current)


def skipped_for_freeze(cal: WindowsLike, start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    """Departures in [start, end] that a freeze cancels, with the freeze: for logs and the UI."""
    if not cal.release_train:
        return []
    days, at = windows.parse_release_train(cal.release_train)
    tz = windows.zone(cal.timezone)
    out = []
    day = _utc(start).astimezone(tz).date()
    while day <= _utc(end).astimezone(tz).date():
        departure = datetime.combine(day, at, tz)
        freeze = windows.frozen_by(cal, departure)
        if day.weekday() in days and freeze is not None and _utc(start) <= departure <= _utc(end):
            out.append((_utc(departure), str(freeze)))
        day += timedelta(days=1)
    return out


def next_scheduled_run(
    cal: WindowsLike,
    *,
    last_departure: datetime | None,
    earliest: datetime | None,
    latest: datetime | None,
    catchup: bool,
    now: datetime,
) -> datetime | None:
    """The departure the scheduler should create next, or None.

    - after a previous scheduled run: the next departure after it;
    - catchup=True with no previous run: the first departure at/after `earliest` (the DAG's start);
    - catchup=False: never a departure in the past — a missed train is not run late, because a late
      deployment would leave outside its planned slot; the first departure at/after `now` instead;
    - nothing after `latest` (the DAG's end date).
    """
    candidates: list[datetime | None] = []
    if last_departure is not None:
        candidates.append(next_departure(cal, last_departure))
    elif earliest is not None:
        candidates.append(next_departure(cal, earliest, inclusive=True))
    if not catchup or (last_departure is None and earliest is None):
        candidates.append(next_departure(cal, now, inclusive=True))
    if any(c is None for c in candidates) or not candidates:
        return None
    chosen = max(c for c in candidates if c is not None)
    if earliest is not None and chosen < _utc(earliest):
        chosen_next = next_departure(cal, earliest, inclusive=True)
        if chosen_next is None:
            return None
        chosen = chosen_next
    if latest is not None and chosen > _utc(latest):
        return None
    return chosen


def describe_train(cal: WindowsLike) -> str:
    """One line for the UI: 'Release train Tue,Thu 02:00 Europe/Berlin, skipping 1 freeze(s)'."""
    if not cal.release_train:
        return "No release train (manual runs only)"
    freezes = f", skipping freezes {', '.join(cal.freezes)}" if cal.freezes else ""
    return f"Release train {cal.release_train} {cal.timezone}{freezes}"
