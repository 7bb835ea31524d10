"""ReleaseTrainTimetable: scheduled deployment runs at the service's release-train departures.

A thin adapter over airlock.timetable_logic. Must be registered in a plugin's `timetables` list
(plugins/airlock_plugin.py), or DAG serialization fails with TimetableNotRegistered.
Manual and REST runs are not shaped by a timetable; they pass the WindowGateOperator instead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pendulum
from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable
from pendulum import DateTime

from airlock import timetable_logic
from airlock.timetable_logic import TrainCalendar


def _pendulum(when: datetime) -> DateTime:
    return pendulum.instance(when.astimezone(UTC))


class ReleaseTrainTimetable(Timetable):
    """Runs depart at `release_train` ("Tue,Thu 02:00") in `timezone`, except on frozen days."""

    def __init__(
        self,
        *,
        timezone: str,
        release_train: str,
        freezes: list[str] | tuple[str, ...] = (),
        off_peak: list[str] | tuple[str, ...] = (),
    ) -> None:
        self.calendar = TrainCalendar(timezone, release_train, list(freezes), list(off_peak))
        self.calendar.validate()  # bad grammar fails at DAG parse time, naming the value
        self.description = timetable_logic.describe_train(self.calendar)

    @classmethod
    def from_spec_windows(cls, windows: dict[str, Any] | Any) -> ReleaseTrainTimetable:
        """Build from the spec's `windows` section (a dict from spec_to_dict, or the model)."""
        get = windows.get if isinstance(windows, dict) else lambda k, d=None: getattr(windows, k, d)
        train = get("release_train")
        if not train:
            raise ValueError("windows.release_train is not set: this service has no release train")
        return cls(
            timezone=get("timezone", "UTC"),
            release_train=str(train),
            freezes=list(get("freezes", []) or []),
            off_peak=list(get("off_peak", []) or []),
        )

    @property
    def summary(self) -> str:
        return f"{self.calendar.release_train} ({self.calendar.timezone})"

    def serialize(self) -> dict[str, Any]:
        return {
            "timezone": self.calendar.timezone,
            "release_train": self.calendar.release_train,
            "freezes": list(self.calendar.freezes),
            "off_peak": list(self.calendar.off_peak),
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        return cls(**data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ReleaseTrainTimetable) and self.calendar == other.calendar

    def __hash__(self) -> int:
        return hash(repr(self.calendar))

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        # A manual run is its own departure: a zero-length interval at the trigger time.
        return DataInterval.exact(run_after)

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        departure = timetable_logic.next_scheduled_run(
            self.calendar,
            last_departure=last_automated_data_interval.end if last_automated_data_interval else None,
            earliest=restriction.earliest,
            latest=restriction.latest,
            catchup=restriction.catchup,
            now=datetime.now(UTC),
        )
        return DagRunInfo.exact(_pendulum(departure)) if departure else None
