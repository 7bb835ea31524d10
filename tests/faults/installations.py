"""Two Airflow installations deploying the same service at once, against one cluster.

A second `airflow standalone` (its own metadata DB, scheduler, triggerer, API server, Slack stand-in)
shares the first one's kubesim, Prometheus and Alertmanager. Both trigger the same service at the same
moment, with different versions so that every write can be traced to its installation: the deploy
lock (a Lease on the cluster they share) must let exactly one of them through; the other stops at
the lock, naming the holder, before any production write. No write in kubesim's audit log carries
the refused run's image. The run that went through gets the whole invariant (cluster, record, lock,
Slack); the refused one never started, so it has no record and no announcement (the product's
design), only its failed verdict naming the holder.
"""

from __future__ import annotations

import atexit
import json
import re
import threading
import time
from pathlib import Path

from tests.faults.matrix import Driver, Result, Scenario, check_invariant, outcome_of
from tests.faults.processes import FaultStack
from tests.faults.world import REGISTRY


class PeerStack(FaultStack):
    """Only airflow standalone; the cluster, Prometheus and Alertmanager are `primary`'s."""

    def __init__(
        self, workdir: Path, primary: FaultStack, dags_folder: Path, extra_env: dict[str, str]
    ) -> None:
        super().__init__(workdir, dags_folder, extra_env, scenario=primary.scenario, say=primary.say)
        self.primary = primary

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop)
        self.slack.__enter__()
        self._slack_started = True
        self.kubesim_url = self.primary.kubesim_url
        self.kubeconfig = self.primary.kubeconfig
        self.prometheus_url = self.primary.prometheus_url
        self.alertmanager_url = self.primary.alertmanager_url
        self._start_airflow()


def run_two_installations(
    primary: FaultStack, peer: PeerStack, scenario: Scenario, peer_version: str
) -> Result:
    """Trigger `scenario` on both at once (primary: scenario.version, peer: peer_version)."""
    drivers = [Driver(primary, scenario, {}), Driver(peer, _with_version(scenario, peer_version), {})]
    result = Result(scenario)
    barrier = threading.Barrier(len(drivers))
    errors: list[str] = []

    def go(d: Driver) -> None:
        try:
            barrier.wait(timeout=60)
            d.trigger()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(f"trigger failed: {exc}")

    threads = [threading.Thread(target=go, args=(d,)) for d in drivers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if errors:
        result.problems += errors
        result.invariant = "not checked"
        return result
    started = time.monotonic()
    states = [d.wait_run() for d in drivers]
    result.seconds = time.monotonic() - started
    outcomes = [outcome_of(d, s) for d, s in zip(drivers, states, strict=True)]
    result.run_id = " / ".join(d.run_id for d in drivers)
    result.state = "success" if "success" in states else states[0]
    winners = [i for i, s in enumerate(states) if s == "success"]
    if len(winners) != 1:
        result.problems.append(f"expected exactly one installation to deploy, got states {states}")
        result.outcome = " / ".join(outcomes)
        result.invariant = "VIOLATED: " + "; ".join(result.problems)
        return result
    win, lose = drivers[winners[0]], drivers[1 - winners[0]]
    result.outcome = "one deployed"
    result.notes.append(f"the other: {outcomes[1 - winners[0]]}")
    refused = lose.tis()
    lock_state = (refused.get("acquire_lock") or {}).get("state")
    if lock_state != "failed":
        result.problems.append(f"the refused run's acquire_lock ended {lock_state}, expected failed")
    production = [
        t for t, ti in refused.items() if t.startswith("production.") and ti.get("state") == "success"
    ]
    if production:
        result.problems.append(f"the refused run ran production tasks: {production}")
    reason = str(lose.xcom("acquire_lock", "failure_reason") or "")
    if win.run_id not in reason:
        result.problems.append(f"the refusal does not name the holder's run {win.run_id}: {reason[:300]!r}")
    lost_image = f"{REGISTRY}/{scenario.service}:{lose.scenario.version}"
    interleaved = [
        (e["method"], e["path"])
        for e in win.writes()
        if lost_image in str(e.get("body")) and "/leases/" not in e["path"]
    ]
    if interleaved:
        result.problems.append(f"writes with the refused run's image {lost_image}: {interleaved}")
    # The refused run never started: by the product's design (tests/integration/dag/test_deploy_dag.py,
    # "nothing started, nothing announced") it leaves no record and no Slack message - the record and
    # the announcement sit inside the lock's setup/teardown scope, which Airflow skips when the setup
    # fails. What it does leave is the run's verdict (the outcome task's failure, in its log), naming
    # the holder.
    log = lose.api.request(
        "GET",
        f"/dags/{lose.scenario.dag_id}/dagRuns/{lose.run_id}/taskInstances/outcome/logs/1",
        params={"full_content": "true"},
        headers={"Accept": "application/json"},
    ).json()
    # the verdict is the exception's message (error_detail of the structured log), not an event line
    said = [m for m in re.findall(r"the deployment did not start: [^'\"]*", json.dumps(log))]
    if (
        not said
        or not any(win.run_id in m or "held by" in m for m in said)
        or win.run_id not in json.dumps(log)
    ):
        result.problems.append(
            f"the refused run's outcome does not say it did not start, naming {win.run_id}: {said[-1:]!r}"
        )
    # the cluster, record, lock and Slack invariant, for the run that went through
    check_invariant(win, result)
    result.struck = f"both triggered together; {win.stack.airflow_port} won, refusal: {reason[:160]}"
    return result


def _with_version(s: Scenario, version: str) -> Scenario:
    return Scenario(s.key, s.fault, s.phase, version, s.expect, spec=s.spec, strategy=s.strategy)
