"""MetricsSensor under dag.test() against kubesim scraped by a real Prometheus: a canary answering 6 %
errors fails the gate (early, with a reason naming the error rate and its numbers); a healthy canary
passes after the step; at low traffic the gate extends its observation until min_requests is reached.
Short interval (2 s) and step (20 s) so each test takes well under a minute."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from airflow.sdk import DAG

from airlock.analysis.plan import GatePlan
from airlock.spec import parse_spec, spec_to_dict
from sensors.metrics import MetricsSensor, defer_timeout_s
from tests.fixtures.dag_runner import run_dag, task_state, xcom_value
from tests.fixtures.run_requests import request_for
from tests.integration.analysis.conftest import canary_scenario
from triggers.metrics import next_poll_delay

pytestmark = pytest.mark.integration

SPEC = spec_to_dict(
    parse_spec(
        {
            "service": "payment-service",
            "image": "registry.local/payment-service",
            "strategy": {"canary": {"steps": [10, 100], "step_duration": "20s"}},
            # alpha 0.001 (default 0.01): a healthy canary fails by chance at most once in 1000 runs, so the
            # passing test does not flake; the 6 % canary still fails within seconds
            "metrics": {"interval": "2s", "thresholds": {"min_requests": 100, "alpha": 0.001}},
        }
    )
)


def _run(
    dag_id: str, prometheus_url: str, airflow_connections: Any, spec: Any = SPEC, **sensor_args: Any
) -> Any:
    airflow_connections("prometheus_default", {"conn_type": "http", "host": prometheus_url})
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC), catchup=False) as dag:
        MetricsSensor(
            task_id="analysis",
            spec=spec,
            phase="canary",
            slot=0,
            **sensor_args,
            request=request_for(spec, "1.1.0", "canary", canary_steps=[10, 100]),
        )
    return run_dag(dag)


def test_canary_with_6_percent_errors_fails_naming_the_error_rate(
    airflow_db: Any, airflow_connections: Any, scraped_kubesim: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    url = scraped_kubesim(canary_scenario(canary_error_rate=0.06))
    dr = _run("metrics_gate_bad_canary", url, airflow_connections)
    out = "".join(capfd.readouterr())

    assert task_state(dr, "analysis") == "failed"
    # the task log (printed by the task runner) carries the exception with the verdict's reason
    failure = re.search(r"AirflowFailException: (canary gate failed for .*)", out)
    assert failure, out[-3000:]
    reason = failure.group(1)
    assert reason.startswith("canary gate failed for payment-service 1.1.0: canary error rate ")
    assert re.search(r"error rate \d+\.\d % \(\d+/\d+ req\)", reason)  # the rate with its counts
    assert "baseline" in reason
    # the verdict table was logged each poll; the gate stopped early, before the 20 s step ended
    assert re.search(r"canary gate after \d+s of 20s: CONTINUE", out)
    assert re.search(r"canary gate after (1?\d)s of 20s: FAIL \(early stop\)", out)
    assert re.search(r"^error_rate +\d+\.\d+ % +\d+\.\d+ % +5\.00 %", out, re.MULTILINE)


def test_healthy_canary_passes_with_its_numbers_as_xcom(
    airflow_db: Any, airflow_connections: Any, scraped_kubesim: Any
) -> None:
    url = scraped_kubesim(canary_scenario(canary_error_rate=0.004))
    dr = _run("metrics_gate_healthy_canary", url, airflow_connections)

    assert task_state(dr, "analysis") == "success"
    verdict = xcom_value(dr, "analysis")
    assert verdict["decision"] == "pass", verdict["reason"]
    rows = {m["name"]: m for m in verdict["metrics"]}
    samples = rows["error_rate"]["samples"]
    assert samples["canary_requests"] >= 100 and samples["baseline_requests"] > 5 * samples["canary_requests"]
    assert rows["error_rate"]["status"] == "pass" and rows["error_rate_test"]["status"] == "pass"
    assert rows["latency_p95"]["canary"] is not None  # histogram_quantile over kubesim's buckets
    assert rows["cpu"]["status"] == "skipped"  # no cAdvisor metrics in kubesim: skipped, saying so
    assert verdict["reason"].startswith("no rule failed and no significant regression after 2")


def test_low_traffic_canary_extends_its_observation_until_min_requests_then_passes(
    airflow_db: Any, airflow_connections: Any, scraped_kubesim: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    # 30 req/s over 10 pods: the canary pod gets about 3 req/s, so about 60 of its 100 requests when the
    # 20 s step ends; at that rate it reaches 100 after about 33 s, well within the 60 s extension (and
    # only fewer than 25 at 20 s would make the gate conclude early)
    spec = {**SPEC, "metrics": {**SPEC["metrics"], "max_extension": "60s"}}
    url = scraped_kubesim(canary_scenario(canary_error_rate=0.004, rps=30))
    dr = _run("metrics_gate_low_traffic_canary", url, airflow_connections, spec=spec)
    out = "".join(capfd.readouterr())

    assert task_state(dr, "analysis") == "success", out[-3000:]
    verdict = xcom_value(dr, "analysis")
    assert verdict["decision"] == "pass", verdict["reason"]
    assert verdict["elapsed_s"] > 20  # decided in the extension, not at the end of the step
    rows = {m["name"]: m for m in verdict["metrics"]}
    assert rows["error_rate"]["samples"]["canary_requests"] >= 100
    assert re.search(
        r"inconclusive after 2\ds: canary \d+ of 100 requests \(\d+ more needed\); "
        r"extending the observation by up to (1m|\d+s)",
        out,
    ), out[-3000:]


def test_the_defer_timeout_and_the_polls_cover_the_extension() -> None:
    spec = parse_spec({**SPEC, "metrics": {**SPEC["metrics"], "max_extension": "60s"}})
    plan = GatePlan.from_spec(spec, version="1.1.0", phase="canary", started_at=1000.0)
    assert (plan.duration_s, plan.max_extension_s, plan.interval_s) == (20.0, 60.0, 2.0)
    # Airflow must not time the deferred task out while the trigger is still observing the extension,
    # nor while it retries failed polls (max_consecutive_errors 4, every 2 s) at its end
    assert defer_timeout_s(plan) >= 20 + 60 + 4 * 2
    # a poll falls on the end of the step (extend or not) and on the end of the extension (conclude)
    assert next_poll_delay(plan, 1000.0 + 19.5) == pytest.approx(0.5)
    assert next_poll_delay(plan, 1000.0 + 20.0) == pytest.approx(2.0)
    sparse = GatePlan.from_dict({**plan.to_dict(), "interval_s": 7.0})
    assert next_poll_delay(sparse, 1000.0 + 77.0) == pytest.approx(3.0)  # 80 s, not the 84 s tick
