"""Issue 10, point 5: bad run confs go through the real `deploy_demo-api` DAG under dag.test() against
kubesim, pass the trigger form's per-param checks, and are stopped by the `validate` task - kubesim's
audit log shows that nothing was written.

No Prometheus or Alertmanager is needed: nothing after `validate` may talk to them (their connections
point at a closed port, so a call would fail loudly rather than pass).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from kubesim.testing import Sim, run_kubesim
from tests.fixtures.dag_runner import run_dag
from tests.fixtures.slack_receiver import SlackReceiver
from tests.integration.dag.conftest import build_dag, demo_spec, dump, scenario

pytestmark = pytest.mark.integration

CLOSED = "http://127.0.0.1:9"  # the discard port: connection refused
_seeds = itertools.count(901)
# demo-api with a version pattern loose enough for the form to accept a 206-character version
LOOSE = {"version_pattern": r"^v\d+[0-9A-Za-z.-]*$"}


@pytest.fixture
def sim(airflow_db: Any, airflow_connections: Any) -> Iterator[Sim]:
    slack = SlackReceiver()
    with run_kubesim(scenario(next(_seeds))) as world:
        airflow_connections(
            "kubernetes_default", {"conn_type": "kubernetes", "extra": {"kube_config_path": world.kubeconfig}}
        )
        airflow_connections("prometheus_default", {"conn_type": "http", "host": CLOSED})
        airflow_connections("alertmanager_default", {"conn_type": "http", "host": CLOSED})
        airflow_connections("airlock_app_http", {"conn_type": "http", "host": world.url})
        airflow_connections("slack_deployments", slack.connection())
        world.clear_audit()  # the scenario's own objects are not the DAG's writes
        try:
            yield world
        finally:
            slack.stop()


# (case id, spec overrides, run conf, the problem the validate task names)
CASES = [
    ("version-with-newline", {}, {"version": "v2.0.0\n"}, "field 'version': value 'v2.0.0\\n'"),
    ("version-206-chars", LOOSE, {"version": "v2" + "a" * 204}, "field 'version': value 'v2aaaa"),
    ("unknown-key", {}, {"version": "v2.0.0", "force": True}, "unknown parameter(s) ['force']"),
    (
        "steps-not-ending-at-100",
        {},
        {"version": "v2.0.0", "canary_steps": "10,50"},
        "field 'canary_steps': value '10,50': canary steps [10, 50] must end at 100",
    ),
    (
        "step-zero",
        {},
        {"version": "v2.0.0", "canary_steps": "0,100"},
        "field 'canary_steps': value '0,100': canary steps [0, 100] must each be between 1 and 100",
    ),
    (
        "steps-with-rolling",
        {},
        {"version": "v2.0.0", "strategy": "rolling", "canary_steps": "50,100"},
        "only valid with strategy 'canary'",
    ),
]


@pytest.mark.parametrize(("case", "overrides", "conf", "problem"), CASES, ids=[c[0] for c in CASES])
def test_bad_run_conf_stops_in_validate_with_zero_writes(
    sim: Sim,
    capfd: pytest.CaptureFixture[str],
    case: str,
    overrides: dict[str, Any],
    conf: dict[str, Any],
    problem: str,
) -> None:
    dr = run_dag(build_dag(demo_spec(**overrides)), run_conf={"window": "now", **conf})

    states = {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
    assert str(dr.state) == "failed" and states["validate"] == "failed", dump(states)
    writes = [e for e in sim.audit() if e["method"] in ("POST", "PUT", "PATCH", "DELETE")]
    assert writes == [], dump(writes)
    out = "".join(capfd.readouterr())
    assert "run parameters for deploy_demo-api:" in out and "nothing was changed" in out, out[-3000:]
    assert problem in out, (problem, out[-3000:])
