"""The fault matrix's session: one world, one real Airflow, every scenario at once; the table at the end.

The people-in-the-loop scenarios (tests/faults/people.py PEOPLE_SCENARIOS: approvals, holds, retries)
run in the same session: the stack has the people they log in as (SimpleAuthManager users).

`make faults` runs only this directory; `make test` collects it too. The table (fault, phase,
outcome, invariant, seconds) is printed in pytest's terminal summary (via `matrix_results`), so it is in CI's
output, and written to `<tmp>/fault-matrix.json`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from demo.scaleout_stack import locate_postgres
from tests.faults.installations import PeerStack, run_two_installations
from tests.faults.matrix import Result, Scenario, run_all, table, to_json
from tests.faults.people import people_scenarios, simple_auth_users
from tests.faults.processes import FaultStack, Outage, closed_port_url
from tests.faults.scenarios import SCENARIOS
from tests.faults.world import http_conn, kubesim_scenario, service_spec, write_world
from tests.fixtures.slack_receiver import SlackReceiver
from tests.fixtures.summary import add_summary

_RESULTS: list[Result] = []
_SUMMARISED: list[bool] = []  # whether a test has put the table in the summary


def selected_scenarios() -> list[Any]:
    """AIRLOCK_FAULTS=f03,f09 runs only those scenarios (by key prefix), for debugging one fault;
    AIRLOCK_FAULTS=p only the people-in-the-loop scenarios."""
    wanted = [w.strip() for w in os.environ.get("AIRLOCK_FAULTS", "").split(",") if w.strip()]
    every = list({s.key: s for s in [*SCENARIOS, *people_scenarios()]}.values())  # one per key
    return [s for s in every if not wanted or any(s.key.startswith(w) for w in wanted)]


def _conn_id(kind: str, key: str) -> str:
    return f"{kind}_{key.replace('-', '_')}"


@pytest.fixture(scope="session")
def fault_matrix(tmp_path_factory: pytest.TempPathFactory) -> Generator[dict[str, Result], None, None]:
    for tool in ("prometheus", "prometheus-alertmanager"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed")
    if not locate_postgres("postgres"):
        pytest.skip(
            "PostgreSQL not installed (the matrix's Airflow metadata DB): apt-get install -y postgresql"
        )
    root: Path = tmp_path_factory.mktemp("faults")
    scenarios = selected_scenarios()
    outages = {s.key: Outage() for s in scenarios}
    slack_down = {"f19-slack-down": SlackReceiver()}
    for receiver in slack_down.values():
        receiver.status = 500
    env: dict[str, Any] = {"prometheus": outages, "slack_down": slack_down}
    specs = {}
    extra_env = {
        # every Airflow process of this stack on its own metadata DB (the test session's is another)
        "AIRFLOW__CORE__PARALLELISM": "12",
        # the specs never change during the run: parse them once (reserialize) and not again every 5 s
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "900",
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "900",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "900",
        # a task parses its DAG at start; on a loaded 2-core CI machine that can pass the 30 s default
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "180",
        "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "300",
        # a task's supervisor talks to the API server; on a loaded machine 5 s is not enough, and a
        # supervisor that cannot report kills its task
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
        "AIRFLOW__API__WORKERS": "2",
        # Between tasks nothing renews the deploy lock (only production writes and waiting triggers do);
        # on a saturated 2-core machine the queue between acquire_lock and the first production write
        # took longer than the default 5-minute lease and fenced every run out (f24 expires it on purpose)
        "AIRLOCK_LOCK_LEASE_SECONDS": "1800",
        # the people of the people-in-the-loop scenarios (tests/faults/people.py), besides admin
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": simple_auth_users(),
    }
    for s in scenarios:
        prom, am, slack = _conn_id("prom", s.key), _conn_id("am", s.key), "slack_deployments"
        extra_env[f"AIRFLOW_CONN_{prom.upper()}"] = http_conn(outages[s.key].url)
        if s.key == "f18-alertmanager-down":
            extra_env[f"AIRFLOW_CONN_{am.upper()}"] = http_conn(closed_port_url())
        else:
            am = "alertmanager_default"
        if s.key in slack_down:
            slack = _conn_id("slack", s.key)
            extra_env[f"AIRFLOW_CONN_{slack.upper()}"] = json.dumps(slack_down[s.key].connection())
        specs[s.service] = service_spec(
            s.service,
            s.namespace,
            description=f"fault matrix: {s.fault} during {s.phase}",
            prometheus_conn=prom,
            alertmanager_conn=am,
            slack_conn=slack,
            override=s.spec,
        )
    dags, scenario_file = write_world(
        root, specs, kubesim_scenario((s.service, s.namespace) for s in scenarios)
    )
    # a scenario that rewrites its spec (f25's window) starts from the one written here
    env.update(dags=dags, specs=specs)
    lines: list[str] = []
    stack = FaultStack(root / "stack", dags, extra_env, scenario=scenario_file, say=lines.append)
    results: dict[str, Result] = {}
    try:
        with stack:
            for o in outages.values():
                o.upstream = stack.prometheus_url
            api = stack.api
            assert api is not None
            for s in scenarios:
                api.wait_for_dag(s.dag_id, timeout=180)
            errors = api.import_errors()
            assert errors == [], errors
            for s in scenarios:
                api.unpause(s.dag_id)
            results = run_all(stack, [s for s in scenarios if s.peer_version is None], env)
            for s in scenarios:
                if s.peer_version is not None:
                    results[s.key] = two_installations(root, stack, s, specs, extra_env)
    finally:
        for o in outages.values():
            o.stop()
        for receiver in slack_down.values():
            receiver.stop()
    ordered = [results[s.key] for s in scenarios if s.key in results]
    _RESULTS[:] = ordered
    (root / "fault-matrix.json").write_text(to_json(ordered))
    yield results


def two_installations(
    root: Path, stack: FaultStack, s: Scenario, specs: dict[str, Any], extra_env: dict[str, str]
) -> Result:
    """A second airflow standalone on the same cluster, with only this scenario's service."""
    dags, _ = write_world(root / "peer", {s.service: specs[s.service]}, {})
    peer = PeerStack(root / "peer" / "stack", stack, dags, extra_env)
    with peer:
        assert peer.api is not None
        peer.api.wait_for_dag(s.dag_id, timeout=180)
        peer.api.unpause(s.dag_id)
        assert s.peer_version is not None
        return run_two_installations(stack, peer, s, s.peer_version)


def matrix_summary() -> str:
    """The table, then the problems of each scenario that broke the invariant."""
    lines = [table(_RESULTS)]
    for r in (r for r in _RESULTS if not r.ok):
        lines.append(f"\n{r.scenario.key}: struck: {r.struck or '-'}")
        lines.extend(f"  - {p}" for p in r.problems)
    return "\n".join(lines)


@pytest.fixture
def matrix_results(fault_matrix: dict[str, Result], request: pytest.FixtureRequest) -> dict[str, Result]:
    """The matrix's results; the test that asks for them also puts the table in pytest's terminal summary
    (tests/fixtures/summary.py: it reaches the summary from an xdist worker too)."""
    if _RESULTS and not _SUMMARISED:
        add_summary(request.node, "fault matrix", matrix_summary())
        _SUMMARISED.append(True)  # once per session: the table does not change, and every test asks
    return fault_matrix
