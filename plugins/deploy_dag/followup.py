"""`airlock_follow_up`: the seed's "monitor for the next 24 hours", one DAG for every service.

Every successful production deployment emits, besides its own `airlock://<service>/production` event,
an event of the shared Asset `FOLLOW_UP_ASSET`, whose extra names the service and carries its spec and
the deployment's validated request. That Asset schedules this DAG: one run per batch of events (usually
one deployment; events that arrive together share a run). `what_to_follow_up` turns the events into one
item per deployment, and the tasks after it are mapped over the items, so each deployment gets its own
task instances, labelled "<service> <version>" in the UI:

    what_to_follow_up -> wait_until_due[i] (deferred, no worker, until `notify.follow_up_after` passed)
                      -> health[i], smoke[i], log_scan[i] (production, the deployed version)

The three checks run side by side after the wait: a follow-up reports a slow-burning regression against
the release that caused it, it stops nothing, so no check waits for another's verdict.

One DAG with mapped tasks instead of one DAG per service: the parse builds six tasks whatever the number
of services (it used to build five per service, 16 % of a 500-service parse), and the DAG reads no spec
file, so a task start of the follow-up parses nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import Asset, task

from airlock.run_request import RunRequest
from deploy_dag.dag_class import AirlockDAG
from operators.app_checks import HealthCheckOperator, SmokeTestOperator
from operators.log_scan import LogScanOperator

FOLLOW_UP_DAG_ID = "airlock_follow_up"
FOLLOW_UP_ASSET = Asset(name="airlock_production_deployments", uri="airlock://deployments/production-events")
FOLLOW_UP_TASK_ID = "what_to_follow_up"  # returns one item per deployment to follow up
DEFAULT_FOLLOW_UP_SECONDS = 86400.0
# each mapped task instance is named after the deployment it checks (rendered when the instance ends)
LABEL = "{{ ti.xcom_pull(task_ids='" + FOLLOW_UP_TASK_ID + "', map_indexes=None)[ti.map_index]['label'] }}"


def follow_up_items(events: Iterable[Any]) -> list[dict[str, Any]]:
    """One item per deployment event: {"label", "due" (ISO time), "spec", "request"}, in event order.

    `events` are Asset events (`extra`, `timestamp`). An event without the spec and request a deployment
    puts in it (e.g. emitted by hand) fails with the event and what is missing."""
    items = []
    for event in events:
        extra = dict(event.extra or {})
        missing = [key for key in ("spec", "request") if not isinstance(extra.get(key), dict)]
        if missing:
            raise ValueError(
                f"the {FOLLOW_UP_ASSET.uri} event of {event.timestamp} (service {extra.get('service')!r}) "
                f"has no {' and no '.join(missing)} in its extra (keys: {sorted(extra)}); "
                "events come from a deploy DAG's mark_deployed task, which puts both there"
            )
        request = RunRequest.from_dict(extra["request"])  # the deployment's own validated request
        after = float(extra.get("follow_up_after_seconds", DEFAULT_FOLLOW_UP_SECONDS))
        due: datetime = event.timestamp + timedelta(seconds=after)
        service = extra["spec"].get("service", "?")
        items.append(
            {
                "label": f"{service} {request.version}",
                "due": due.isoformat(),
                "spec": extra["spec"],
                "request": request.to_dict(),
            }
        )
    return items


def _check_kwargs(item: dict[str, Any]) -> dict[str, Any]:
    return {"spec": item["spec"], "request": item["request"]}


def _due(item: dict[str, Any]) -> str:
    return str(item["due"])


def build_followup_dag() -> AirlockDAG:
    dag = AirlockDAG(
        dag_id=FOLLOW_UP_DAG_ID,
        description="Follow-up checks of every production deployment, notify.follow_up_after after it",
        doc_md=__doc__,
        schedule=[FOLLOW_UP_ASSET],
        start_date=datetime(2026, 1, 1),
        catchup=False,
        # each run waits (deferred) for a day or more: many runs are active at once, one per deployment
        max_active_runs=1000,
        max_active_tasks=1000,
        tags=["airlock", "follow-up"],
        default_args={"owner": "airlock", "retries": 0},
    )
    with dag:
        # explicit multiple_outputs: skips type-hint evaluation at parse
        @task(task_id=FOLLOW_UP_TASK_ID, multiple_outputs=False)
        def what_to_follow_up(**context: Any) -> list[dict[str, Any]]:
            events = [e for evs in context["triggering_asset_events"].values() for e in evs]
            if not events:
                raise ValueError(f"no {FOLLOW_UP_ASSET.uri} event triggered this run: nothing to follow up")
            items = follow_up_items(events)
            for item in items:
                print(f"Following up {item['label']} (run {item['request']['run_id']}) at {item['due']}")
            return items

        items = what_to_follow_up()
        wait = DateTimeSensorAsync.partial(task_id="wait_until_due", map_index_template=LABEL).expand(
            target_time=items.map(_due)
        )
        checks = items.map(_check_kwargs)
        for check in (
            HealthCheckOperator.partial(task_id="health", target="production", map_index_template=LABEL),
            SmokeTestOperator.partial(task_id="smoke", target="production", map_index_template=LABEL),
            LogScanOperator.partial(task_id="log_scan", environment="production", map_index_template=LABEL),
        ):
            wait >> check.expand_kwargs(checks)
    return dag
