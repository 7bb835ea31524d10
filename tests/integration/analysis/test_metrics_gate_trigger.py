"""MetricsTrigger with `end_on_pass` (how MetricsSensor defers outside dag.test()) against kubesim scraped by a
real Prometheus: a healthy canary's gate ends the task from the triggerer (TaskSuccessEvent, the verdict and
the Dashboard link as its XComs: no second worker start), a canary answering 6 % errors resumes the task on
a worker (a plain TriggerEvent with the failing verdict, which MetricsSensor.finish turns into the failure
with the evidence)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from airflow.triggers.base import TaskSuccessEvent, TriggerEvent

from airlock.run_request import RunRequest
from airlock.spec import parse_spec, spec_to_dict
from sensors.gate_inputs import gate_plan
from tests.fixtures.run_requests import request_for
from tests.integration.analysis.conftest import canary_scenario
from triggers.metrics import MetricsTrigger

pytestmark = pytest.mark.integration

SPEC = spec_to_dict(
    parse_spec(
        {
            "service": "payment-service",
            "image": "registry.local/payment-service",
            "strategy": {"canary": {"steps": [10, 100], "step_duration": "20s"}},
            "metrics": {
                "interval": "2s",
                "thresholds": {"min_requests": 100, "alpha": 0.001},
                "dashboard": "http://grafana.local/d/payments",
            },
        }
    )
)
LINKS = {"_link_DashboardLink": "http://grafana.local/d/payments"}


def _gate_events(prometheus_url: str, airflow_connections: Any) -> list[TriggerEvent]:
    airflow_connections("prometheus_default", {"conn_type": "http", "host": prometheus_url})
    request = RunRequest.from_dict(request_for(SPEC, "1.1.0", "canary", canary_steps=[10, 100]))
    plan = gate_plan(SPEC, request, phase="canary", environment="production", slot=0, started_at=time.time())
    trigger = MetricsTrigger(plan.to_dict(), end_on_pass=True, links=LINKS)

    async def collect() -> list[TriggerEvent]:
        return [event async for event in trigger.run()]

    return asyncio.run(collect())


def test_a_passing_gate_ends_the_task_from_the_triggerer_with_its_verdict(
    airflow_db: Any, airflow_connections: Any, scraped_kubesim: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    events = _gate_events(scraped_kubesim(canary_scenario(canary_error_rate=0.004)), airflow_connections)
    out = "".join(capfd.readouterr())

    assert len(events) == 1 and isinstance(events[0], TaskSuccessEvent), events
    xcoms: dict[str, Any] = events[0].xcoms or {}
    verdict = xcoms["return_value"]
    assert verdict["decision"] == "pass", verdict["reason"]
    assert verdict["phase"] == "canary" and verdict["elapsed_s"] >= 20
    assert xcoms["_link_DashboardLink"] == LINKS["_link_DashboardLink"]
    assert "canary gate passed for payment-service 1.1.0: no rule failed" in out
    assert "the task ends here, no worker needed" in out


def test_a_failing_gate_resumes_the_task_on_a_worker_with_the_failing_verdict(
    airflow_db: Any, airflow_connections: Any, scraped_kubesim: Any
) -> None:
    events = _gate_events(scraped_kubesim(canary_scenario(canary_error_rate=0.06)), airflow_connections)

    assert len(events) == 1 and type(events[0]) is TriggerEvent, events  # not an end event: a worker fails it
    verdict = events[0].payload["verdict"]
    assert verdict["decision"] == "fail" and "canary error rate" in verdict["reason"]
