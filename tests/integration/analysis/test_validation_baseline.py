"""Issue 11 point 7 against kubesim traffic scraped by a real Prometheus: the validation gate compares the
new version with the previous version's *own* recent window - its `version` label, over a window that
ends when the rollback plan was recorded (before production changed) - not with every pod of the service
over a window ending when the gate starts, into which the new version's errors leak. Its reasons call the
new version "new version", not "canary".

Timeline: 1.0.0 (0.4 % errors) serves alone; the rollback plan is recorded; a rolling update puts 1.1.0
(8 % errors) on every pod; 12 s later the validation gate (10 s window, every 2 s) starts."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from airflow.sdk import DAG
from kubernetes import client as k8s

from airlock.kube.api import Kube
from airlock.kube.plan import read_plan
from airlock.spec import parse_spec, spec_to_dict
from sensors.metrics import MetricsSensor
from tests.fixtures.dag_runner import run_dag, task_state, xcom_value
from tests.fixtures.kubesim import make_container, make_deployment, make_service
from tests.fixtures.prometheus import query
from tests.fixtures.run_requests import request_for

pytestmark = pytest.mark.integration

IMAGE = "registry.local/payment-service"
APP = "payment-service"
WINDOW_S = 10
SPEC = parse_spec(
    {
        "service": APP,
        "image": IMAGE,
        "kubernetes": {"container": "app"},
        # alpha 0.001: 1.0.0 against itself would fail by chance at most once in 1000 runs
        "metrics": {
            "interval": "2s",
            "validation_window": f"{WINDOW_S}s",
            "thresholds": {"min_requests": 100, "alpha": 0.001},
        },
    }
)


def _scenario() -> dict[str, Any]:
    return {
        "seed": 11,
        "images": {
            f"{IMAGE}:1.1.0": {"error_rate": 0.08, "ready_after_seconds": 0.5},
            f"{IMAGE}:*": {"error_rate": 0.004, "ready_after_seconds": 0.5},
        },
        "services": {f"production/{APP}": {"rps": 300}},
        "namespaces": ["production"],
        "objects": [
            make_service(APP, "production", selector={"app": APP}),
            make_deployment(
                APP,
                "production",
                replicas=4,
                labels={"app": APP},
                containers=[make_container("app", f"{IMAGE}:1.0.0")],
            ),
        ],
    }


def _count(prometheus: str, selector: str, at: float, window_s: int) -> float:
    """Requests of the series matching `selector` in the `window_s` before `at` (counter difference,
    per series, written independently of Airlock's query templates)."""
    now = query(prometheus, f"http_requests_total{{{selector}}}", at=at)
    then = {
        tuple(sorted(r["metric"].items())): float(r["value"][1])
        for r in query(prometheus, f"http_requests_total{{{selector}}}", at=at - window_s)
    }
    return sum(
        max(float(r["value"][1]) - then.get(tuple(sorted(r["metric"].items())), 0.0), 0.0) for r in now
    )


def _rolled_out(apps: k8s.AppsV1Api) -> bool:
    dep = apps.read_namespaced_deployment(APP, "production")
    st = dep.status
    return bool(
        st.observed_generation == dep.metadata.generation
        and st.updated_replicas == st.replicas == st.ready_replicas == dep.spec.replicas
    )


def test_validation_compares_the_new_version_with_the_previous_versions_window_before_the_rollout(
    airflow_db: Any, airflow_connections: Any, scraped_sim: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    sim, prometheus = scraped_sim(_scenario())
    airflow_connections("prometheus_default", {"conn_type": "http", "host": prometheus})
    time.sleep(WINDOW_S + 1)  # 1.0.0 serves alone for a whole window

    plan = read_plan(Kube(sim.api_client()), SPEC, "production", "rolling", "run", "1.1.0", f"{IMAGE}:1.1.0")
    recorded = datetime.fromisoformat(plan.recorded_at).timestamp()
    time.sleep(1.5)  # the plan is recorded before production changes
    apps = k8s.AppsV1Api(sim.api_client())
    apps.patch_namespaced_deployment(
        APP,
        "production",
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": f"{IMAGE}:1.1.0"}]}}}},
    )
    deadline = time.monotonic() + 30
    while not _rolled_out(apps):
        assert time.monotonic() < deadline, "the rolling update to 1.1.0 did not complete"
        time.sleep(0.5)
    time.sleep(WINDOW_S + 2)  # the window before the gate starts is 1.1.0's by now

    with DAG("validation_baseline", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC)) as dag:
        MetricsSensor(
            task_id="metrics",
            spec=spec_to_dict(SPEC),
            phase="validation",
            plan=plan.to_dict(),
            request=request_for(SPEC, "1.1.0", "rolling"),
        )
    gate_start = time.time()
    dr = run_dag(dag)
    out = "".join(capfd.readouterr())

    assert task_state(dr, "metrics") == "failed", out[-3000:]
    verdict = xcom_value(dr, "metrics")
    samples = next(m for m in verdict["metrics"] if m["name"] == "error_rate")["samples"]
    # the baseline is 1.0.0's own traffic in the 10 s before the plan was recorded
    expected = _count(prometheus, f'service="{APP}",version="1.0.0"', recorded, WINDOW_S)
    expected_errors = _count(prometheus, f'service="{APP}",version="1.0.0",code="500"', recorded, WINDOW_S)
    assert expected > 1500, expected
    assert samples["baseline_requests"] == pytest.approx(expected, rel=0.02)
    assert samples["baseline_errors"] == pytest.approx(expected_errors, abs=2)
    assert samples["baseline_errors"] / samples["baseline_requests"] < 0.015  # 1.0.0 answers 0.4 % errors
    # what the old baseline (every pod, the window ending when the gate started) would have held: 1.1.0
    old_requests = _count(prometheus, f'service="{APP}"', gate_start, WINDOW_S)
    old_errors = _count(prometheus, f'service="{APP}",code="500"', gate_start, WINDOW_S)
    assert old_errors / old_requests > 0.04, (old_errors, old_requests)

    # the log says what is compared with what; the reasons call 1.1.0 the new version
    assert re.search(
        r'validation gate for payment-service 1\.1\.0: new version \{[^}]*version="1\.1\.0"\} vs baseline '
        r'\{[^}]*version="1\.0\.0"\} \(previous version 1\.0\.0, the 10s before '
        + re.escape(datetime.fromtimestamp(recorded, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        + r" \(the deployment's start\)\)",
        out,
    ), out[-4000:]
    assert verdict["reason"].startswith("new version error rate "), verdict["reason"]
    assert "canary" not in verdict["reason"]
    assert re.search(
        r"AirflowFailException: validation gate failed for payment-service 1\.1\.0: new version error rate",
        out,
    )
