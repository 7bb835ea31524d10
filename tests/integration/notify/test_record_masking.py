"""The deployment record (XCom and the DAG run note) carries no secret Airflow masks in logs: a connection
password quoted in a task's failure sentence arrives as ***; the REST API token the record task logs in
with is registered with Airflow's masker like the password it came from."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG, BaseHook, task
from airflow.sdk.exceptions import AirflowFailException

from airlock.spec import parse_spec, spec_to_dict
from operators.record import RecordDeploymentOperator, _token
from operators.secrets import mask_secret, masked
from tests.fixtures.airflow import airflow_api_server
from tests.fixtures.dag_runner import run_dag, xcom_value
from tests.fixtures.run_requests import request_for

pytestmark = pytest.mark.integration

API_PASSWORD = "api-pw-5e1d7c"
DB_PASSWORD = "db-pw-93b04f2a"


@pytest.fixture
def api_server(airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with airflow_api_server(monkeypatch, tmp_path, {"airlock": API_PASSWORD}) as url:
        yield url


def test_a_password_in_a_failure_sentence_is_masked_in_record_and_note(
    api_server: str, airflow_connections: Any
) -> None:
    airflow_connections(
        "airlock_api", {"conn_type": "http", "host": api_server, "login": "airlock", "password": API_PASSWORD}
    )
    airflow_connections("app_db", {"conn_type": "postgres", "host": "db", "password": DB_PASSWORD})
    spec = spec_to_dict(parse_spec({"service": "checkout", "image": "registry.local/checkout"}))
    with DAG("record_masking", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC)) as dag:

        @task
        def migrate(**context: Any) -> None:
            conn = BaseHook.get_connection("app_db")  # Airflow registers its password with the masker
            reason = f"cannot connect: postgresql://app:{conn.password}@db/app refused"
            context["ti"].xcom_push(key="failure_reason", value=reason)
            raise AirflowFailException("migration failed")

        migrate() >> RecordDeploymentOperator(
            task_id="record",
            spec=spec,
            sources={},
            request=request_for(spec, "v2.0.0", "rolling", change_summary="schema v7"),
        )
    dr = run_dag(dag)

    record = xcom_value(dr, "record")
    assert record["reason"] == "migrate: cannot connect: postgresql://app:***@db/app refused", record[
        "reason"
    ]
    assert DB_PASSWORD not in str(record) and record["change_summary"] == "schema v7"
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        note = session.get(DagRun, dr.id).note
    assert note and "postgresql://app:***@db/app" in note and DB_PASSWORD not in note, note


def test_the_rest_api_token_is_masked_in_logs(api_server: str) -> None:
    from airflow.sdk import Connection

    token = _token(
        Connection(conn_id="airlock_api", conn_type="http", login="airlock", password=API_PASSWORD),
        api_server,
    )

    assert len(token) > 20
    assert masked(f"Authorization: Bearer {token}") == "Authorization: Bearer ***"


def test_masking_reaches_every_depth_of_a_record() -> None:
    secret = "deep-secret-4d2c9e"
    mask_secret(secret)
    record = {"checks": {"metrics": {"step": {"metrics": [{"name": "error_rate", "reason": f"x {secret}"}]}}}}

    shown = masked(record)

    assert shown["checks"]["metrics"]["step"]["metrics"][0]["reason"] == "x ***"
