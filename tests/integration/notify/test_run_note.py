"""RecordDeploymentOperator writes the DAG run note through the real public REST API (an in-process
Airflow API server on the test's metadata DB, simple auth manager, login via POST /auth/token)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG, task

from airlock.spec import parse_spec, spec_to_dict
from operators.record import RecordDeploymentOperator
from tests.fixtures.airflow import airflow_api_server
from tests.fixtures.dag_runner import run_dag, task_state, xcom_value
from tests.fixtures.run_requests import request_for

pytestmark = pytest.mark.integration


@pytest.fixture
def api_server(airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with airflow_api_server(monkeypatch, tmp_path, {"airlock": "s3cret"}) as url:
        yield url


def test_record_writes_the_run_note_via_rest(api_server: str, airflow_connections: Any) -> None:
    airflow_connections(
        "airlock_api", {"conn_type": "http", "host": api_server, "login": "airlock", "password": "s3cret"}
    )
    spec = spec_to_dict(parse_spec({"service": "checkout", "image": "registry.local/checkout"}))
    with DAG(
        "record_note",
        schedule=None,
        start_date=datetime(2026, 1, 1, tzinfo=UTC),
    ) as dag:

        @task
        def deploy() -> dict[str, Any]:
            return {"status": "dry_run"}

        deploy() >> RecordDeploymentOperator(
            task_id="record",
            spec=spec,
            sources={"deploy": "deploy"},
            request=request_for(spec, "v2.0.0", "rolling", dry_run=True),
        )
    dr = run_dag(dag)

    assert task_state(dr, "record") == "success"
    record = xcom_value(dr, "record")
    assert record["outcome"] == "dry_run" and record["extra"] == {"deploy": {"status": "dry_run"}}
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        note = session.get(DagRun, dr.id).note
    assert note is not None
    assert note.splitlines()[0] == "checkout v2.0.0 [rolling, planned, dry run]: DRY RUN"
