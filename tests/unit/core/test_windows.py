"""Off-peak windows and freezes in the service's time zone (pure functions, aware datetimes)."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from airlock import windows

BERLIN = ZoneInfo("Europe/Berlin")


@dataclass
class W:
    timezone: str = "Europe/Berlin"
    off_peak: list[str] = field(default_factory=lambda: ["Mon-Fri 01:00-05:00", "Sat-Sun 00:00-08:00"])
    freezes: list[str] = field(default_factory=lambda: ["2026-12-20..2027-01-04"])
    release_train: str | None = "Tue,Thu 02:00"


def test_open_inside_weekday_window_local_time() -> None:
    # Tuesday 2026-11-24 02:30 Berlin = 01:30 UTC
    assert windows.is_open(W(), datetime(2026, 11, 24, 1, 30, tzinfo=UTC))
    assert not windows.is_open(W(), datetime(2026, 11, 24, 10, 0, tzinfo=UTC))


def test_next_open_is_next_window_start() -> None:
    when = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # Tue 11:00 Berlin
    assert windows.next_open(W(), when) == datetime(2026, 11, 25, 1, 0, tzinfo=BERLIN)


def test_freeze_blocks_and_next_open_is_after_it() -> None:
    during = datetime(2026, 12, 22, 1, 30, tzinfo=UTC)  # a Tuesday inside the window, but frozen
    assert windows.frozen_by(W(), during) is not None
    assert not windows.is_open(W(), during)
    assert windows.next_open(W(), during) == datetime(2027, 1, 5, 1, 0, tzinfo=BERLIN)


def test_window_crossing_midnight() -> None:
    w = W(off_peak=["Fri 22:00-02:00"], freezes=[])
    assert windows.is_open(w, datetime(2026, 11, 27, 23, 0, tzinfo=BERLIN))  # Fri 23:00
    assert windows.is_open(w, datetime(2026, 11, 28, 1, 0, tzinfo=BERLIN))  # Sat 01:00 belongs to Fri
    assert not windows.is_open(w, datetime(2026, 11, 28, 3, 0, tzinfo=BERLIN))
    assert windows.window_end(w, datetime(2026, 11, 28, 1, 0, tzinfo=BERLIN)) == datetime(
        2026, 11, 28, 2, 0, tzinfo=BERLIN
    )


def test_no_windows_means_always_open_unless_frozen() -> None:
    w = W(off_peak=[], freezes=["2026-11-26"])
    assert windows.is_open(w, datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    assert not windows.is_open(w, datetime(2026, 11, 26, 12, 0, tzinfo=UTC))


def test_release_train_skips_frozen_departures() -> None:
    after = datetime(2026, 12, 17, 3, 0, tzinfo=BERLIN)  # Thu after the 02:00 train
    assert windows.next_release_train(W(), after) == datetime(2027, 1, 5, 2, 0, tzinfo=BERLIN)


def test_day_names_are_exact_and_full_names_are_accepted() -> None:
    assert windows.parse_days("Monday-Friday") == windows.parse_days("mon-FRI") == frozenset(range(5))
    for bad in ("Mo", "Monkey", "Mon,,Tue", "Fr-Su"):
        try:
            windows.parse_days(bad)
        except ValueError as exc:
            assert "is not a day" in str(exc)
        else:
            raise AssertionError(f"{bad!r} was accepted as days")


def test_full_day_window_is_00_to_24_and_empty_windows_are_errors() -> None:
    spec = W(off_peak=["Sun 00:00-24:00"], freezes=[])
    sunday = datetime(2026, 3, 1, tzinfo=BERLIN)  # a Sunday
    assert all(windows.is_open(spec, sunday.replace(hour=h, minute=59)) for h in range(24))
    assert not windows.is_open(spec, sunday.replace(day=2, hour=0, minute=30))  # Monday 00:30
    assert windows.window_end(spec, sunday.replace(hour=12)) == sunday.replace(day=2)
    for empty in ("Mon 01:00-01:00", "Mon 00:00-00:00", "Mon 24:00-24:00"):
        try:
            windows.parse_window(empty)
        except ValueError as exc:
            assert "00:00-24:00" in str(exc) or "24:00" in str(exc), exc
        else:
            raise AssertionError(f"{empty!r} was accepted")


def test_past_freeze_check_uses_the_local_date() -> None:
    freeze = windows.parse_freeze("2026-03-01")
    # 2026-03-01 23:30 in New York is already 2026-03-02 in UTC: the freeze is not over yet there
    now = datetime(2026, 3, 2, 4, 30, tzinfo=UTC)
    windows.check_not_past(freeze, windows.local_today(now, "America/New_York"))
    try:
        windows.check_not_past(freeze, windows.local_today(now, "Europe/Berlin"))
    except ValueError as exc:
        assert "entirely in the past" in str(exc)
    else:
        raise AssertionError("a freeze over in Berlin was accepted")
