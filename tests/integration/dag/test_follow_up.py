"""`airlock_follow_up` under dag.test(), against a kubesim world: each deployment of the run gets its own
mapped health / smoke / log-scan instances, labelled with the deployment, and one deployment's failed check
neither stops nor hides another's.

dag.test() starts a manual run, which no Asset event triggered; the run's first task is therefore given
the deployments directly (its reading of real events is tested in tests/unit/deploy_dag/test_followup.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from airlock.spec import spec_to_dict
from deploy_dag.followup import build_followup_dag, follow_up_items
from tests.fixtures.dag_runner import run_dag, xcom_value
from tests.fixtures.run_requests import request_for
from tests.integration.dag.conftest import demo_spec, dump

pytestmark = pytest.mark.integration


def _deployment(version: str) -> SimpleNamespace:
    """The Asset event a deploy run's mark_deployed emits, already due (deployed a minute past its wait)."""
    spec = demo_spec(health={"path": "/health", "retries": 0, "retry_delay": "1s", "check_version": True})
    after = spec.notify.follow_up_after.total_seconds()
    s = spec_to_dict(spec)
    return SimpleNamespace(
        timestamp=datetime.now(UTC) - timedelta(seconds=after + 60),
        extra={
            "service": spec.service,
            "follow_up_after_seconds": after,
            "spec": s,
            "request": request_for(s, version, run_id=f"deploy-{version}"),
        },
    )


def test_each_deployment_is_checked_on_its_own_and_a_failure_hides_no_other(world: Any) -> None:
    # v1 runs in production (the world's scenario); "v9" never went live: its version check fails
    items = follow_up_items([_deployment("v1"), _deployment("v9")])
    dag = build_followup_dag()
    dag.task_dict["what_to_follow_up"].python_callable = lambda **context: items

    dr = run_dag(dag)

    tis = {(ti.task_id, ti.map_index): ti for ti in dr.get_task_instances()}
    states = {f"{task}[{index}]": str(ti.state) for (task, index), ti in tis.items()}
    assert {k: v for k, v in states.items() if k.endswith("[0]")} == {
        "wait_until_due[0]": "success",
        "health[0]": "success",
        "smoke[0]": "success",
        "log_scan[0]": "success",
    }, dump(states)
    assert states["wait_until_due[1]"] == "success" and states["health[1]"] == "failed", dump(states)
    # the other checks of the failed deployment still ran: a follow-up reports, it stops nothing
    assert states["smoke[1]"] in ("success", "failed") and states["log_scan[1]"] in ("success", "failed")
    assert [tis[("health", i)].rendered_map_index for i in (0, 1)] == ["demo-api v1", "demo-api v9"]
    assert xcom_value(dr, "what_to_follow_up")[1]["request"]["version"] == "v9"
