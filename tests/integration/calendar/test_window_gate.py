"""WindowGateOperator under dag.test(): defers while the window is closed, resumes and passes when it
opens (injected clock); a freeze blocks window=now unless risk=hotfix."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.sdk import DAG

from airlock.spec import parse_spec, spec_to_dict
from operators import window_gate
from operators.window_gate import WindowGateOperator
from tests.fixtures.dag_runner import run_dag, task_state, xcom_value
from tests.fixtures.run_requests import request_for

pytestmark = pytest.mark.integration


DASHBOARD = "https://grafana.example/d/checkout"


def _spec(**windows: Any) -> dict[str, Any]:
    data = {"service": "checkout", "image": "registry.local/checkout", "windows": windows}
    return spec_to_dict(parse_spec({**data, "metrics": {"dashboard": DASHBOARD}}))


class ClockStartingAt:
    """A test clock that reads `start` when the gate first asks, then advances in real time."""

    def __init__(self, start: str) -> None:
        self.start = datetime.fromisoformat(start)
        self.first_real: datetime | None = None

    def __call__(self) -> datetime:
        real = datetime.now(UTC)
        if self.first_real is None:
            self.first_real = real
        return self.start + (real - self.first_real)


@pytest.fixture
def set_clock(monkeypatch: pytest.MonkeyPatch) -> Any:
    def set_(start: str) -> ClockStartingAt:
        fake = ClockStartingAt(start)
        monkeypatch.setattr(window_gate, "clock", fake)
        return fake

    return set_


def _gate_dag(dag_id: str, **gate_args: Any) -> DAG:
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC), catchup=False) as dag:
        WindowGateOperator(task_id="window_gate", **gate_args)
    return dag


def _state(dr: Any) -> str:
    return task_state(dr, "window_gate")


def test_defers_while_closed_and_passes_when_window_opens(
    airflow_db: Any, set_clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Injected clock: 3 seconds before the 02:00 Berlin window opens (a winter date, UTC+1).
    spec = _spec(timezone="Europe/Berlin", off_peak=["Daily 02:00-04:00"], max_wait="1h")
    set_clock("2026-03-10T01:59:57+01:00")
    dag = _gate_dag(
        "gate_defers", spec=spec, request=request_for(spec, "v1.0.0", window="next_window", risk="planned")
    )
    real_start = datetime.now(UTC)
    with caplog.at_level(logging.INFO):
        dr = run_dag(dag)
    elapsed = (datetime.now(UTC) - real_start).total_seconds()

    assert _state(dr) == "success"
    result = xcom_value(dr, "window_gate")
    assert result["decision"] == "waited"
    assert result["deferrals"] == 1  # execute() deferred once, execute_complete() passed
    assert 2.0 <= result["waited_seconds"] <= 30
    assert elapsed >= 2.0
    opened = datetime.fromisoformat(result["opened_at"])
    assert opened >= datetime(2026, 3, 10, 2, 0, tzinfo=opened.tzinfo) - timedelta(seconds=1)
    assert result["freeze"] is None and result["hotfix_override"] is False
    assert "running trigger in line" in caplog.text  # dag.test() ran the DateTimeTrigger


def test_open_window_passes_without_deferring(airflow_db: Any, set_clock: Any) -> None:
    spec = _spec(timezone="Europe/Berlin", off_peak=["Daily 02:00-04:00"])
    set_clock("2026-03-10T02:30:00+01:00")
    dag = _gate_dag(
        "gate_open", spec=spec, request=request_for(spec, "v1.0.0", window="next_window", risk="planned")
    )
    dr = run_dag(dag)
    assert _state(dr) == "success"
    result = xcom_value(dr, "window_gate")
    assert (result["decision"], result["deferrals"]) == ("open", 0)
    # The Dashboard extra link: the worker stores the URL in XCom, the UI reads it from there.
    assert xcom_value(dr, "window_gate", key="_link_DashboardLink") == DASHBOARD


def test_freeze_blocks_window_now_and_names_the_freeze(
    airflow_db: Any, set_clock: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(timezone="Europe/Berlin", off_peak=["Daily 02:00-04:00"], freezes=["2026-12-20..2027-01-04"])
    set_clock("2026-12-24T10:00:00+01:00")
    dag = _gate_dag(
        "gate_frozen", spec=spec, request=request_for(spec, "v1.0.0", window="now", risk="planned")
    )
    dr = run_dag(dag)
    assert _state(dr) == "failed"
    task_log = capsys.readouterr().out  # task logs go through structlog to stdout
    assert "Change freeze 2026-12-20..2027-01-04 is active" in task_log
    assert "re-run with risk=hotfix" in task_log


def test_hotfix_overrides_freeze_and_is_recorded(airflow_db: Any, set_clock: Any) -> None:
    spec = _spec(timezone="Europe/Berlin", off_peak=["Daily 02:00-04:00"], freezes=["2026-12-20..2027-01-04"])
    set_clock("2026-12-24T10:00:00+01:00")
    dag = _gate_dag(
        "gate_hotfix", spec=spec, request=request_for(spec, "v1.0.0", window="now", risk="hotfix")
    )
    dr = run_dag(dag)
    assert _state(dr) == "success"
    result = xcom_value(dr, "window_gate")
    assert result["decision"] == "hotfix_override"
    assert result["hotfix_override"] is True
    assert result["freeze"] == "2026-12-20..2027-01-04"


def test_next_window_beyond_max_wait_fails(
    airflow_db: Any, set_clock: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # In a freeze until Jan 4: the next window is 10 days away, max_wait is 7 days (default).
    spec = _spec(timezone="Europe/Berlin", off_peak=["Daily 02:00-04:00"], freezes=["2026-12-20..2027-01-04"])
    set_clock("2026-12-24T10:00:00+01:00")
    dag = _gate_dag(
        "gate_too_far", spec=spec, request=request_for(spec, "v1.0.0", window="next_window", risk="planned")
    )
    dr = run_dag(dag)
    assert _state(dr) == "failed"
    task_log = capsys.readouterr().out
    assert "exceeds windows.max_wait = 7d" in task_log
    assert "change freeze 2026-12-20..2027-01-04 is active" in task_log
