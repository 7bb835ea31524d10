"""`followup_<service>`: the seed's "monitor for the next 24 hours", as a scheduled check.

Triggered by the production Asset event of a successful deployment; waits (deferred, no worker)
until `notify.follow_up_after` has passed, then checks health with the deployed version, the
critical smoke flows and the logs again, so a slow-burning regression is reported against the
release that caused it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import DAG, task

from airlock.run_request import RunRequest
from airlock.spec import ServiceSpec, spec_to_dict
from deploy_dag.graph import production_asset
from operators.app_checks import HealthCheckOperator, SmokeTestOperator
from operators.log_scan import LogScanOperator

FOLLOW_UP_TASK_ID = "what_to_follow_up"  # returns the followed deployment's RunRequest
DUE_KEY = "due"


def build_followup_dag(spec: ServiceSpec) -> DAG:
    s = spec_to_dict(spec)
    asset = production_asset(spec)
    dag = DAG(
        dag_id=f"followup_{spec.service}",
        description=f"Follow-up check {spec.notify.follow_up_after} after each production deployment of {spec.service}",
        schedule=[asset],
        start_date=datetime(2026, 1, 1),
        catchup=False,
        tags=["airlock", "follow-up", spec.service],
        default_args={"owner": ", ".join(spec.owners) or "airlock", "retries": 0},
    )
    with dag:
        # explicit multiple_outputs: skips type-hint evaluation at parse
        @task(task_id=FOLLOW_UP_TASK_ID, multiple_outputs=False)
        def what_to_follow_up(**context: Any) -> dict[str, Any]:
            events = [e for evs in context["triggering_asset_events"].values() for e in evs]
            if not events:
                raise ValueError(f"no {asset.uri} event triggered this run: nothing to follow up")
            event = events[-1]
            extra = dict(event.extra or {})
            if not isinstance(extra.get("request"), dict):
                raise ValueError(
                    f"the {asset.uri} event carries no deployment request (extra: {sorted(extra)})"
                )
            request = RunRequest.from_dict(extra["request"])  # the deployment's own validated request
            due = event.timestamp + timedelta(seconds=float(extra.get("follow_up_after_seconds", 86400)))
            print(f"Following up {spec.service} {request.version} (run {request.run_id}) at {due}")
            context["ti"].xcom_push(key=DUE_KEY, value=due.isoformat())
            return request.to_dict()

        target = what_to_follow_up()
        wait = DateTimeSensorAsync(
            task_id="wait_until_due",
            target_time=f"{{{{ ti.xcom_pull(task_ids='{FOLLOW_UP_TASK_ID}', key='{DUE_KEY}') }}}}",
        )
        followed: dict[str, Any] = {"spec": s, "request_from": FOLLOW_UP_TASK_ID}
        checks: list[Any] = [HealthCheckOperator(task_id="health", target="production", **followed)]
        if spec.smoke:
            checks.append(SmokeTestOperator(task_id="smoke", target="production", **followed))
        checks.append(LogScanOperator(task_id="log_scan", environment="production", **followed))
        target >> wait >> checks[0]
        for a, b in zip(checks, checks[1:], strict=False):
            a >> b
    return dag
