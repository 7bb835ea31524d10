"""Release-train departures: time zones, DST in Europe/Berlin, freezes, scheduler restrictions."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from airlock.timetable_logic import (
    TrainCalendar,
    departures,
    describe_train,
    next_departure,
    next_scheduled_run,
    skipped_for_freeze,
)

BERLIN = ZoneInfo("Europe/Berlin")


def cal(
    train: str = "Tue,Thu 02:00", freezes: list[str] | None = None, tz: str = "Europe/Berlin"
) -> TrainCalendar:
    return TrainCalendar(timezone=tz, release_train=train, freezes=freezes or [], off_peak=[])


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_next_departure_is_local_wall_clock_in_utc() -> None:
    # Monday 2026-03-09 12:00 Berlin -> Tuesday 02:00 CET = 01:00 UTC
    got = next_departure(cal(), datetime(2026, 3, 9, 12, 0, tzinfo=BERLIN))
    assert got == utc(2026, 3, 10, 1, 0)
    assert got.tzinfo is UTC


def test_departure_itself_is_excluded_unless_inclusive() -> None:
    at = utc(2026, 3, 10, 1, 0)
    assert next_departure(cal(), at) == utc(2026, 3, 12, 1, 0)
    assert next_departure(cal(), at, inclusive=True) == at


def test_dst_spring_forward_keeps_local_time() -> None:
    # Europe/Berlin moves to CEST on Sunday 2026-03-29: Thursday before is UTC+1, Tuesday after UTC+2.
    got = list(departures(cal(), utc(2026, 3, 25), utc(2026, 4, 1)))
    assert got == [utc(2026, 3, 26, 1, 0), utc(2026, 3, 31, 0, 0)]
    assert [d.astimezone(BERLIN).hour for d in got] == [2, 2]


def test_dst_gap_and_overlap_are_resolved_deterministically() -> None:
    # 02:30 does not exist on 2026-03-29 in Berlin: zoneinfo's fold=0 gives 03:30 CEST (01:30 UTC).
    assert next_departure(cal("Sun 02:30"), utc(2026, 3, 28)) == utc(2026, 3, 29, 1, 30)
    # 02:30 happens twice on 2026-10-25: the first (CEST, 00:30 UTC) is the departure.
    assert next_departure(cal("Sun 02:30"), utc(2026, 10, 24)) == utc(2026, 10, 25, 0, 30)


def test_frozen_days_are_skipped() -> None:
    frozen = cal(freezes=["2026-03-10"])
    assert next_departure(frozen, utc(2026, 3, 9)) == utc(2026, 3, 12, 1, 0)
    holidays = cal(freezes=["2026-12-20..2027-01-04"])
    assert next_departure(holidays, utc(2026, 12, 18)) == utc(2027, 1, 5, 1, 0)  # Tue 5 Jan, CET
    assert skipped_for_freeze(holidays, utc(2026, 12, 18), utc(2027, 1, 6)) == [
        (utc(2026, 12, 22, 1, 0), "2026-12-20..2027-01-04"),
        (utc(2026, 12, 24, 1, 0), "2026-12-20..2027-01-04"),
        (utc(2026, 12, 29, 1, 0), "2026-12-20..2027-01-04"),
        (utc(2026, 12, 31, 1, 0), "2026-12-20..2027-01-04"),
    ]


def test_freeze_in_the_train_time_zone_not_utc() -> None:
    # Tokyo 02:00 Tuesday is Monday 17:00 UTC: the freeze on the local Tuesday must cancel it.
    tokyo = cal("Tue 02:00", freezes=["2026-03-10"], tz="Asia/Tokyo")
    assert next_departure(tokyo, utc(2026, 3, 8)) == utc(2026, 3, 16, 17, 0)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        next_departure(cal(), datetime(2026, 3, 9))


def test_no_train_means_no_departure() -> None:
    assert next_departure(cal(train=""), utc(2026, 3, 9)) is None
    assert describe_train(cal(train="")) == "No release train (manual runs only)"
    assert describe_train(cal(freezes=["2026-11-26"])) == (
        "Release train Tue,Thu 02:00 Europe/Berlin, skipping freezes 2026-11-26"
    )


class TestNextScheduledRun:
    now = utc(2026, 3, 18, 12, 0)  # Wednesday

    def test_after_a_previous_run(self) -> None:
        got = next_scheduled_run(
            cal(),
            last_departure=utc(2026, 3, 10, 1),
            earliest=utc(2026, 3, 1),
            latest=None,
            catchup=True,
            now=self.now,
        )
        assert got == utc(2026, 3, 12, 1)

    def test_catchup_starts_at_the_dag_start(self) -> None:
        got = next_scheduled_run(
            cal(), last_departure=None, earliest=utc(2026, 3, 1), latest=None, catchup=True, now=self.now
        )
        assert got == utc(2026, 3, 3, 1)  # first Tuesday after March 1

    def test_no_catchup_never_runs_a_missed_train(self) -> None:
        got = next_scheduled_run(
            cal(),
            last_departure=utc(2026, 3, 10, 1),
            earliest=utc(2026, 3, 1),
            latest=None,
            catchup=False,
            now=self.now,
        )
        assert got == utc(2026, 3, 19, 1)  # Thursday after "now", not the missed Thu 12 / Tue 17

    def test_earliest_in_the_future_wins(self) -> None:
        got = next_scheduled_run(
            cal(), last_departure=None, earliest=utc(2026, 4, 1), latest=None, catchup=False, now=self.now
        )
        assert got == utc(2026, 4, 2, 0)  # Thu 2 April 02:00 CEST

    def test_nothing_after_latest(self) -> None:
        got = next_scheduled_run(
            cal(), last_departure=None, earliest=None, latest=utc(2026, 3, 19), catchup=False, now=self.now
        )
        assert got is None
