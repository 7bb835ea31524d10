"""ReleaseTrainTimetable is registered by the plugin, survives DAG serialization and schedules the
expected departures (skipping a freeze)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from airflow.sdk import DAG
from airflow.timetables.base import DataInterval, TimeRestriction

from airlock.spec import parse_spec
from timetables.release_train import ReleaseTrainTimetable

pytestmark = pytest.mark.integration


def _windows() -> Any:
    spec = parse_spec(
        {
            "service": "checkout",
            "image": "registry.local/checkout",
            "windows": {
                "timezone": "Europe/Berlin",
                "release_train": "Tue,Thu 02:00",
                "freezes": ["2026-03-12"],
            },
        }
    )
    return spec.windows


def test_plugin_registers_the_timetable() -> None:
    from airflow import plugins_manager

    registered = plugins_manager.get_timetables_plugins()
    assert registered.get("timetables.release_train.ReleaseTrainTimetable") is ReleaseTrainTimetable


def test_dag_with_release_train_round_trips_through_serialization() -> None:
    from airflow.serialization.serialized_objects import DagSerialization

    timetable = ReleaseTrainTimetable.from_spec_windows(_windows())
    with DAG(
        "deploy_checkout_train",
        schedule=timetable,
        start_date=datetime(2026, 3, 1, tzinfo=UTC),
        catchup=True,
    ) as dag:
        pass
    data = DagSerialization.to_dict(dag)
    assert data["dag"]["timetable"]["__type"] == "timetables.release_train.ReleaseTrainTimetable"
    restored = DagSerialization.from_dict(data)
    assert isinstance(restored.timetable, ReleaseTrainTimetable)
    assert restored.timetable == timetable
    assert restored.timetable.summary == "Tue,Thu 02:00 (Europe/Berlin)"
    assert "skipping freezes 2026-03-12" in restored.timetable.description

    first = restored.timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=datetime(2026, 3, 9, tzinfo=UTC), latest=None, catchup=True),
    )
    assert first is not None and first.run_after == datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
    # Thursday 12 March is frozen: the run after Tuesday's is the next Tuesday (CET, UTC+1).
    second = restored.timetable.next_dagrun_info(
        last_automated_data_interval=first.data_interval,
        restriction=TimeRestriction(earliest=datetime(2026, 3, 9, tzinfo=UTC), latest=None, catchup=True),
    )
    assert second is not None and second.run_after == datetime(2026, 3, 17, 1, 0, tzinfo=UTC)
    assert second.data_interval == DataInterval(second.run_after, second.run_after)

    manual = restored.timetable.infer_manual_data_interval(run_after=datetime(2026, 3, 11, 9, tzinfo=UTC))
    assert manual.start == manual.end == datetime(2026, 3, 11, 9, tzinfo=UTC)


def test_bad_release_train_fails_at_parse_time() -> None:
    with pytest.raises(ValueError, match="release_train 'Tuesday at 2' must look like"):
        ReleaseTrainTimetable(timezone="Europe/Berlin", release_train="Tuesday at 2")
