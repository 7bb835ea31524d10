"""The backport of apache/airflow#70368: clearing a run whose DAG has a queued-at deadline alert.

The installed Airflow's own function fails on the interval as 3.3 stores it (a serialized timedelta);
the backport decodes it as DagRun creation does and moves the deadline to the new queued time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.models import taskinstance
from airflow.sdk import DeadlineReference
from airflow.sdk.definitions.deadline import AsyncCallback
from airflow.sdk.serde import serialize

from deploy_dag import airflow_backports
from notifiers.slack import DeploymentOverdueNotifier

QUEUED = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)


class OneDeadline:
    """A session whose query finds one pending queued-at deadline of an alert stored as Airflow 3.3 does."""

    def __init__(self, interval: timedelta) -> None:
        self.deadline = SimpleNamespace(deadline_time=None)
        self.alert = SimpleNamespace(
            id=7,
            reference=DeadlineReference.DAGRUN_QUEUED_AT.serialize_reference(),
            interval=serialize(interval),  # {"__classname__": "datetime.timedelta", ..., "__data__": 5400.0}
            callback_def=serialize(AsyncCallback(DeploymentOverdueNotifier, kwargs={"service": "web"})),
        )

    def execute(self, _query: Any) -> Any:
        return SimpleNamespace(all=lambda: [(self.deadline, self.alert)])


RUN = SimpleNamespace(id=1, dag_id="deploy_web", run_id="manual__1")


def test_the_installed_airflow_has_the_bug_the_backport_is_for():
    """Remove the backport (and this test) once this fails: Airflow fixed it."""
    original = taskinstance._recalculate_dagrun_queued_at_deadlines
    assert airflow_backports.has_clear_deadline_bug(original)
    with pytest.raises(TypeError, match="unsupported type for timedelta seconds component: dict"):
        original(RUN, QUEUED, OneDeadline(timedelta(minutes=90)))


def test_the_backport_moves_the_deadline_to_the_new_queued_time():
    session = OneDeadline(timedelta(minutes=90))
    airflow_backports.recalculate_dagrun_queued_at_deadlines(RUN, QUEUED, session)
    assert session.deadline.deadline_time == QUEUED + timedelta(minutes=90)


def test_apply_patches_once_and_clear_task_instances_then_calls_the_backport(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(
        taskinstance,
        "_recalculate_dagrun_queued_at_deadlines",
        taskinstance._recalculate_dagrun_queued_at_deadlines,
    )
    assert airflow_backports.apply() is True
    assert (
        taskinstance._recalculate_dagrun_queued_at_deadlines
        is airflow_backports.recalculate_dagrun_queued_at_deadlines
    )
    assert airflow_backports.apply() is False  # an Airflow without the bug is left alone
