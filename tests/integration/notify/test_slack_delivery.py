"""Slack delivery under dag.test(): start / rollback / success messages and the failure callback reach
a local webhook receiver; a receiver that answers 500 or is down never fails a task. The run's
deployment record is built from real XComs of the run (RecordDeploymentOperator)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from airflow.sdk import DAG, TriggerRule, task
from airflow.sdk.exceptions import AirflowFailException

from airlock.analysis.verdict import MetricResult, Verdict
from airlock.spec import parse_spec, spec_from, spec_to_dict
from notifiers.slack import TaskFailureNotifier
from operators.notify import SlackNotifyOperator
from operators.record import RecordDeploymentOperator
from tests.fixtures.dag_runner import run_dag, task_state, xcom_value
from tests.fixtures.run_requests import request_for

pytestmark = pytest.mark.integration

PLAN = {"strategy": "canary", "images": {"checkout": "registry.local/checkout:v1.3.2"}, "replicas": 4}


def _spec(slack: str | None = "slack_test") -> dict[str, Any]:
    return spec_to_dict(
        parse_spec(
            {
                "service": "checkout",
                "image": "registry.local/checkout",
                "owners": ["@payments-team"],
                "metrics": {"dashboard": "https://grafana.example/d/checkout"},
                "notify": {"slack_connection": slack},
            }
        )
    )


def _request(spec: dict[str, Any]) -> dict[str, Any]:
    return request_for(
        spec, "v1.4.0", "canary", canary_steps=[10, 50, 100], change_summary="Retry payments once on 503"
    )


def _verdict(fail: bool) -> dict[str, Any]:
    rate = 0.079 if fail else 0.003
    status = "fail" if fail else "pass"
    return Verdict(
        decision=status,
        reason=f"error rate {rate:.1%} (limit 5.0%)",
        phase="canary",
        elapsed_s=60.0,
        duration_s=60.0,
        metrics=[
            MetricResult("error_rate", status, "x", canary=rate, baseline=0.004, threshold=0.05, unit="%")
        ],
    ).to_dict()


def _deploy_dag(dag_id: str, spec: dict[str, Any], canary_fails: bool) -> DAG:
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC), catchup=False) as dag:
        start = SlackNotifyOperator(task_id="notify_start", spec=spec, kind="start", request=_request(spec))

        @task
        def record_plan() -> dict[str, Any]:
            return PLAN

        @task(on_failure_callback=TaskFailureNotifier.for_spec(spec_from(spec)))
        def canary_10_metrics(**context: Any) -> dict[str, Any]:
            verdict = _verdict(canary_fails)
            if canary_fails:
                context["ti"].xcom_push(key="verdict", value=verdict)
                context["ti"].xcom_push(
                    key="failure_reason", value="error_rate: canary 7.90 % > limit 5.00 %"
                )
                raise AirflowFailException("canary error rate 7.90 % is above the 5.00 % limit")
            return verdict

        @task(trigger_rule=TriggerRule.ONE_FAILED)
        def rollback() -> dict[str, Any]:
            return {
                "strategy": "canary",
                "reason": "canary_10_metrics failed: error rate 7.90 % > 5.00 %",
                "restored": {"images": PLAN["images"]},
                "evidence": {"events": ["Warning BackOff pod/checkout-canary-abc Back-off restarting"]},
                "actions": ["scaled canary checkout-canary to 0"],
                "healthy": True,
                "noop": False,
                "duration_s": 12.0,
            }

        plan = record_plan()
        metrics = canary_10_metrics()
        back = rollback()
        record = RecordDeploymentOperator(
            task_id="record",
            spec=spec,
            sources={"plan": "record_plan", "metrics": ["canary_10_metrics"], "rollback": "rollback"},
            request=_request(spec),
        )
        outcome = SlackNotifyOperator(
            task_id="notify_outcome", spec=spec, kind="outcome", record=record.output, trigger_rule="all_done"
        )
        start >> plan >> metrics >> back >> record >> outcome
    return dag


def test_canary_rollback_run_announces_start_failure_and_rollback(
    airflow_db: Any, airflow_connections: Any, slack_receiver: Any
) -> None:
    airflow_connections("slack_test", slack_receiver.connection())
    dr = run_dag(_deploy_dag("notify_rollback", _spec(), canary_fails=True))

    assert task_state(dr, "canary_10_metrics") == "failed"
    assert task_state(dr, "rollback") == "success"
    record = xcom_value(dr, "record")
    assert record["outcome"] == "rolled_back"
    assert record["previous_version"] == "v1.3.2"
    assert record["checks"]["metrics"]["canary_10_metrics"] is None  # failed task: no return value
    assert record["reason"].startswith("canary_10_metrics failed")
    assert record["tasks"]["canary_10_metrics"] == "failed"
    assert record["timings"]["tasks"]["canary_10_metrics"] >= 0

    texts = slack_receiver.texts()
    assert len(texts) == 3, texts
    start, failure, rolled_back = texts
    assert start.startswith("Deploying checkout v1.4.0 (canary 10%/50%/100%), ETA ~")
    assert "Retry payments once on 503" in start
    assert "task canary_10_metrics failed" in failure and "7.90 %" in failure
    assert rolled_back.startswith("⏪ checkout v1.4.0 rolled back to v1.3.2")
    blocks = str(slack_receiver.messages[2]["blocks"])
    assert "Back-off restarting" in blocks and "https://grafana.example/d/checkout" in blocks
    assert "@payments-team" in str(slack_receiver.messages[0]["blocks"])


def test_successful_run_announces_success_with_metrics(
    airflow_db: Any, airflow_connections: Any, slack_receiver: Any
) -> None:
    airflow_connections("slack_test", slack_receiver.connection())
    dr = run_dag(_deploy_dag("notify_success", _spec(), canary_fails=False))

    assert task_state(dr, "rollback") == "skipped"
    assert xcom_value(dr, "record")["outcome"] == "succeeded"
    texts = slack_receiver.texts()
    assert len(texts) == 2, texts
    assert texts[1].startswith("✅ checkout v1.4.0 deployed (canary) in ")
    assert "error_rate pass: canary 0.30 % vs baseline 0.40 % (limit 5.00 %)" in str(
        slack_receiver.messages[1]
    )


def _start_only_dag(dag_id: str, spec: dict[str, Any]) -> DAG:
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC), catchup=False) as dag:
        SlackNotifyOperator(task_id="notify_start", spec=spec, kind="start", request=_request(spec))
    return dag


def test_slack_answering_500_does_not_fail_the_task(
    airflow_db: Any, airflow_connections: Any, slack_receiver: Any
) -> None:
    airflow_connections("slack_test", slack_receiver.connection())
    slack_receiver.status = 500
    dr = run_dag(_start_only_dag("notify_500", _spec()))
    assert task_state(dr, "notify_start") == "success"
    assert len(slack_receiver.messages) >= 1  # it was tried
    assert xcom_value(dr, "notify_start")["sent"] is False


def test_slack_down_does_not_fail_the_task(
    airflow_db: Any, airflow_connections: Any, slack_receiver: Any
) -> None:
    airflow_connections("slack_test", slack_receiver.connection())
    slack_receiver.stop()
    dr = run_dag(_start_only_dag("notify_down", _spec()))
    assert task_state(dr, "notify_start") == "success"
    assert xcom_value(dr, "notify_start")["sent"] is False


def test_notifications_off_without_a_connection(airflow_db: Any, slack_receiver: Any) -> None:
    dr = run_dag(_start_only_dag("notify_off", _spec(slack=None)))
    assert task_state(dr, "notify_start") == "success"
    assert xcom_value(dr, "notify_start")["sent"] is False
    assert slack_receiver.messages == []
