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
