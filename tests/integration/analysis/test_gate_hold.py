"""A quiet canary's gate holds for a person under dag.test(), against kubesim scraped by a real Prometheus,
answered over Airflow's public REST API (in this process, on the test's metadata DB) as the UI does:
the gate holds (min_requests far above a 10 s step's traffic, on_inconclusive: hold), alice answers
"Observe another step" - it observes once more, holds again and asks again - then "Roll back now": the
task fails with her decision's sentence, and both decisions are its DECISIONS_KEY XCom."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from airflow.sdk import DAG

from airlock.spec import parse_spec, spec_to_dict
from operators.xcom_keys import DECISIONS_KEY, FAILURE_REASON_KEY
from sensors.metrics import MetricsSensor
from tests.fixtures.airflow import airflow_api_server
from tests.fixtures.dag_runner import run_dag, task_state, xcom_value
from tests.fixtures.run_requests import request_for
from tests.integration.analysis.conftest import canary_scenario

pytestmark = pytest.mark.integration

DAG_ID = "metrics_gate_hold"
SPEC = spec_to_dict(
    parse_spec(
        {
            "service": "payment-service",
            "image": "registry.local/payment-service",
            "strategy": {"canary": {"steps": [10, 100], "step_duration": "10s"}},
            "metrics": {
                "interval": "2s",
                "on_inconclusive": "hold",
                "max_extension": "0s",
                "thresholds": {"min_requests": 100000},
            },
            "hold": {"approvers": ["alice"], "timeout": "10m"},
        }
    )
)


class Person:
    """alice, answering the gate's question over the REST API each time it waits for input."""

    def __init__(self, url: str, password: str, answers: list[tuple[str, str]]) -> None:
        token = requests.post(
            f"{url}/auth/token", json={"username": "alice", "password": password}, timeout=30
        ).json()["access_token"]
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Bearer {token}"
        self.url = f"{url}/api/v2/dags/{DAG_ID}"
        self.answers = answers
        self.seen: list[dict[str, Any]] = []  # the question as it was read before each answer
        self.errors: list[str] = []

    def task(self) -> tuple[str, dict[str, Any]] | None:
        runs = self.api.get(f"{self.url}/dagRuns", timeout=30).json().get("dag_runs") or []
        if not runs:
            return None
        run_id = runs[-1]["dag_run_id"]
        ti = self.api.get(f"{self.url}/dagRuns/{run_id}/taskInstances/analysis", timeout=30)
        return (run_id, ti.json()) if ti.status_code == 200 else None

    def run(self) -> None:
        try:
            for choice, comment in self.answers:
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline:
                    found = self.task()
                    if found and found[1].get("state") == "awaiting_input":
                        break
                    time.sleep(1)
                else:
                    self.errors.append(f"the gate never waited for {choice!r}")
                    return
                run_id = found[0]
                path = f"{self.url}/dagRuns/{run_id}/taskInstances/analysis/-1/hitlDetails"
                self.seen.append(self.api.get(path, timeout=30).json())
                answered = self.api.patch(
                    path,
                    json={"chosen_options": [choice], "params_input": {"comment": comment}},
                    timeout=30,
                )
                if answered.status_code != 200:
                    self.errors.append(f"{choice}: HTTP {answered.status_code} {answered.text[:300]}")
                    return
                while (self.task() or ("", {}))[1].get("state") == "awaiting_input":
                    time.sleep(0.5)  # resumed before the next question is looked for
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(f"{type(exc).__name__}: {exc}")


def test_a_quiet_canary_holds_is_observed_again_then_rolled_back_by_a_person(
    airflow_db: Any,
    airflow_connections: Any,
    scraped_kubesim: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    url = scraped_kubesim(canary_scenario(canary_error_rate=0.004, rps=30))
    airflow_connections("prometheus_default", {"conn_type": "http", "host": url})
    with DAG(DAG_ID, schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC), catchup=False) as dag:
        MetricsSensor(
            task_id="analysis",
            spec=SPEC,
            phase="canary",
            slot=0,
            request=request_for(SPEC, "1.1.0", "canary", canary_steps=[10, 100]),
        )
    with airflow_api_server(monkeypatch, tmp_path, {"alice": "pw-alice"}) as api:
        alice = Person(
            api,
            "pw-alice",
            [("Observe another step", "give it a little longer"), ("Roll back now", "too quiet")],
        )
        thread = threading.Thread(target=alice.run, daemon=True)
        thread.start()
        dr = run_dag(dag)
        thread.join(timeout=60)
    # the task's log, without the REST API's access log
    out = "\n".join(line for line in "".join(capfd.readouterr()).splitlines() if "http.access" not in line)

    assert not alice.errors, (alice.errors, out[-6000:])
    assert len(alice.seen) == 2, out[-5000:]
    assert task_state(dr, "analysis") == "failed", out[-3000:]
    first = alice.seen[0]
    assert first["subject"] == "Canary payment-service 1.1.0 at 10 % (step 1 of 1): analysing"
    assert first["options"] == ["Continue", "Promote now", "Roll back now", "Observe another step"]
    assert [u["id"] for u in first["assigned_users"]] == ["alice"]
    assert alice.seen[1]["chosen_options"] is None  # asked again: the first answer was cleared

    decisions = xcom_value(dr, "analysis", DECISIONS_KEY)
    assert [(d["gate"], d["choice"], d["by"], d["comment"]) for d in decisions] == [
        ("hold", "Observe another step", "alice", "give it a little longer"),
        ("hold", "Roll back now", "alice", "too quiet"),
    ]
    reason = xcom_value(dr, "analysis", FAILURE_REASON_KEY)
    assert reason.startswith("hold (inconclusive gate): 'Roll back now' by alice at ")
    assert reason.endswith(": too quiet")
    assert out.count("on_inconclusive=hold: holding for a person to decide") >= 2  # held twice
    assert "Observing another 10s" in out
