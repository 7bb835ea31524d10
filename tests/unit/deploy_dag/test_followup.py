"""The follow-up: one DAG for every service, mapped over the deployments whose Asset events triggered it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airlock.spec import load_spec, spec_to_dict
from deploy_dag.followup import FOLLOW_UP_ASSET, FOLLOW_UP_DAG_ID, build_followup_dag, follow_up_items
from deploy_dag.graph import build_deploy_dag, production_asset
from tests.fixtures.run_requests import request_for

REPO = Path(__file__).resolve().parents[3]
SERVICES = REPO / "dags" / "services"
AT = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def _event(service: str, version: str, after_seconds: float, **extra: Any) -> SimpleNamespace:
    spec = spec_to_dict(load_spec(SERVICES / f"{service}.yaml"))
    body = {
        "service": service,
        "follow_up_after_seconds": after_seconds,
        "spec": spec,
        "request": request_for(spec, version, run_id=f"run-{service}"),
        **extra,
    }
    return SimpleNamespace(extra={k: v for k, v in body.items() if v is not None}, timestamp=AT)


def test_one_item_per_deployment_event_due_after_its_own_follow_up_time() -> None:
    items = follow_up_items([_event("demo-api", "v2", 3600), _event("user-api", "v7", 86400)])

    assert [i["label"] for i in items] == ["demo-api v2", "user-api v7"]
    assert [i["due"] for i in items] == [
        (AT + timedelta(hours=1)).isoformat(),
        (AT + timedelta(days=1)).isoformat(),
    ]
    assert items[0]["spec"]["service"] == "demo-api" and items[1]["request"]["version"] == "v7"
    assert items[1]["request"]["run_id"] == "run-user-api"


def test_an_event_without_the_deployments_spec_is_refused_naming_what_is_missing() -> None:
    with pytest.raises(ValueError) as err:
        follow_up_items([_event("demo-api", "v2", 60, spec=None)])
    message = str(err.value)
    assert "service 'demo-api'" in message and "has no spec in its extra" in message
    assert FOLLOW_UP_ASSET.uri in message


def test_the_follow_up_dag_is_scheduled_by_the_shared_asset_and_maps_its_checks() -> None:
    dag = build_followup_dag()

    assert dag.dag_id == FOLLOW_UP_DAG_ID
    assert [a.uri for a in dag.timetable.asset_condition.objects] == [FOLLOW_UP_ASSET.uri]
    tasks = dag.task_dict
    assert set(tasks) == {"what_to_follow_up", "wait_until_due", "health", "smoke", "log_scan"}
    mapped = {t for t, op in tasks.items() if op.is_mapped}
    assert mapped == {"wait_until_due", "health", "smoke", "log_scan"}
    # the three checks wait for the due time, and not for one another (a follow-up stops nothing)
    for check in ("health", "smoke", "log_scan"):
        assert tasks[check].upstream_task_ids == {"wait_until_due", "what_to_follow_up"}, check
        assert tasks[check].downstream_task_ids == set(), check
    assert "label" in tasks["health"].map_index_template


@pytest.mark.parametrize("service", ["demo-api", "payment-service"])
def test_mark_deployed_emits_the_service_asset_and_the_follow_up_asset_with_the_spec(service: str) -> None:
    spec = load_spec(SERVICES / f"{service}.yaml")
    task = build_deploy_dag(spec, source=SERVICES / f"{service}.yaml").task_dict["complete.mark_deployed"]

    assert [a.uri for a in task.outlets] == [production_asset(spec).uri, FOLLOW_UP_ASSET.uri]
    assert task.event_extra["spec"] == spec_to_dict(spec)
    assert task.event_extra["follow_up_after_seconds"] == spec.notify.follow_up_after.total_seconds()
