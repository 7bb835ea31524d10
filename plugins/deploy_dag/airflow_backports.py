"""Backport of an open Airflow fix that Airlock's retries need: clearing a run with a queued-at deadline.

apache/airflow#70368 (open; fix in PR #70370, not released in 3.3.2): clearing a task instance or a run
of a DAG whose deadline alert is anchored at the run's queued time (`DeadlineReference.DAGRUN_QUEUED_AT`)
fails with HTTP 500, `TypeError: unsupported type for timedelta seconds component: dict`. Since 3.3.0 the
alert's interval is stored as JSON (a serialized timedelta), and `clear_task_instances` ->
`_recalculate_dagrun_queued_at_deadlines` passes that dict to `timedelta(seconds=...)`. Every deploy
DAG of a service with a Slack connection has such an alert (notifiers.slack.overdue_deadline), so
without this a failed deployment cannot be retried with Airflow's Clear (docs/retry.md): the UI's
Clear and POST /api/v2/dags/{dag_id}/clearTaskInstances both answer 500 while the run's deadline is
pending (until it passes and is marked missed). Seen in the fault matrix (tests/faults/people_retry.py).

`apply()` replaces that one function with the same code, decoding the interval as DagRun creation does
(`airflow.serialization.decoders.decode_deadline_alert`). It runs in every Airflow process that imports
the installation's `airflow_local_settings` (config/airflow_local_settings.py; the API server is the one
that clears). It only patches an Airflow whose function still has the bug (checked in its source), so an
Airflow with the fix keeps its own code.
"""

from __future__ import annotations

import inspect
import logging
from datetime import datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

BUGGY_LINE = "timedelta(seconds=deadline_alert.interval)"


def has_clear_deadline_bug(function: Any) -> bool:
    try:
        return BUGGY_LINE in inspect.getsource(function)
    except (OSError, TypeError):  # no source (compiled, frozen): do not patch blind
        return False


def alert_interval(deadline_alert: Any) -> timedelta:
    """The alert row's interval as a timedelta, decoded the way Airflow decodes it when it creates a run."""
    from airflow.serialization.decoders import decode_deadline_alert
    from airflow.serialization.definitions.deadline import DeadlineAlertFields, SerializedVariableInterval
    from airflow.serialization.enums import DagAttributeTypes as DAT
    from airflow.serialization.enums import Encoding

    decoded = decode_deadline_alert(
        {
            Encoding.TYPE: DAT.DEADLINE_ALERT,
            Encoding.VAR: {
                DeadlineAlertFields.REFERENCE: deadline_alert.reference,
                DeadlineAlertFields.INTERVAL: deadline_alert.interval,
                DeadlineAlertFields.CALLBACK: deadline_alert.callback_def,
            },
        }
    )
    interval = decoded.interval
    if isinstance(interval, SerializedVariableInterval):
        interval = interval.resolve()
    if not isinstance(interval, timedelta):
        raise TypeError(f"deadline alert {deadline_alert.id}: interval {interval!r} is not a timedelta")
    return interval


def recalculate_dagrun_queued_at_deadlines(dagrun: Any, new_queued_at: datetime, session: Any) -> None:
    """airflow.models.taskinstance._recalculate_dagrun_queued_at_deadlines with the interval decoded."""
    from airflow.models.deadline import Deadline, ReferenceModels
    from airflow.models.deadline_alert import DeadlineAlert as DeadlineAlertModel
    from sqlalchemy import false, select

    results = session.execute(
        select(Deadline, DeadlineAlertModel)
        .join(DeadlineAlertModel, Deadline.deadline_alert_id == DeadlineAlertModel.id)
        .where(
            Deadline.dagrun_id == dagrun.id,
            Deadline.missed == false(),
            DeadlineAlertModel.reference[ReferenceModels.REFERENCE_TYPE_FIELD].as_string()
            == ReferenceModels.DagRunQueuedAtDeadline.__name__,
        )
    ).all()
    for deadline, deadline_alert in results:
        deadline.deadline_time = new_queued_at + alert_interval(deadline_alert)


def apply() -> bool:
    """Patch this process's Airflow if it has the bug; True when patched."""
    try:
        from airflow.models import taskinstance
    except Exception:  # not an Airflow process with the models (nothing to patch)
        return False
    current = getattr(taskinstance, "_recalculate_dagrun_queued_at_deadlines", None)
    if current is None or not has_clear_deadline_bug(current):
        return False
    taskinstance._recalculate_dagrun_queued_at_deadlines = recalculate_dagrun_queued_at_deadlines
    log.info("Airlock: backported the fix of apache/airflow#70368 (clearing a run with a queued-at deadline)")
    return True
