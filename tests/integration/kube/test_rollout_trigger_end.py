"""RolloutTrigger with `end_with` (how a canary step or a rolling update waits outside dag.test()) against
kubesim: a completed rollout ends the task from the triggerer (TaskSuccessEvent carrying the task's return
value, no stale-event hold); a rollout that cannot complete resumes the task on a worker with the stuck
reason, held by the stale-event guard first."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from airflow.triggers.base import TaskSuccessEvent, TriggerEvent

from airlock.kube import rolling
from tests.integration.kube.conftest import IMG, NS
from triggers import rollout

pytestmark = pytest.mark.integration

STEP = {"deployment": "web", "replicas": 1, "status": "ready"}


@pytest.fixture
def k8s_conn(sim: Any, airflow_db: Any, airflow_connections: Any) -> Any:
    airflow_connections(
        "kubernetes_default", {"conn_type": "kubernetes", "extra": {"kube_config_path": str(sim.kubeconfig)}}
    )
    return sim


def _events(
    image: str, sim: Any, monkeypatch: pytest.MonkeyPatch, timeout: float
) -> tuple[list[Any], list[float]]:
    held: list[float] = []

    async def hold(started: float, minimum: Any = None) -> None:
        held.append(started)

    monkeypatch.setattr(rollout, "hold_until_settled", hold)
    rolling.set_image(sim.kube(), NS, "web", "app", f"{IMG}:{image}", "c")
    trigger = rollout.RolloutTrigger("kubernetes_default", NS, "web", timeout=timeout, end_with=STEP)

    async def collect() -> list[TriggerEvent]:
        return [event async for event in trigger.run()]

    return asyncio.run(collect()), held


def test_a_completed_rollout_ends_the_task_with_its_return_value(
    k8s_conn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    events, held = _events("2", k8s_conn, monkeypatch, timeout=30)

    assert len(events) == 1 and isinstance(events[0], TaskSuccessEvent), events
    assert events[0].xcoms == {"return_value": STEP}
    assert held == [], "an ending event needs no stale-event hold"


def test_a_stuck_rollout_resumes_the_task_with_the_reason_after_the_hold(
    k8s_conn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    events, held = _events("bad-pull", k8s_conn, monkeypatch, timeout=3)

    assert len(events) == 1 and not isinstance(events[0], TaskSuccessEvent), events
    assert events[0].payload["status"] == "timeout"
    assert "bad-pull" in events[0].payload["stuck_reason"]["message"]
    assert len(held) == 1, "a resume is held by the stale-event guard"


def test_the_trigger_serializes_what_it_ends_with() -> None:
    trigger = rollout.RolloutTrigger("c", NS, "web", timeout=5, end_with=STEP)
    path, kwargs = trigger.serialize()
    assert kwargs["end_with"] == STEP and rollout.RolloutTrigger(**kwargs).serialize() == (path, kwargs)


class NoXComs:
    """The context's task instance for a step with no earlier analysis answered."""

    def xcom_pull(self, *args: Any, **kwargs: Any) -> None:
        return None


@pytest.mark.parametrize("kind", ["canary_step", "rolling_update"])
def test_outside_dag_test_the_operator_writes_then_hands_the_wait_over_at_once(
    k8s_conn: Any, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """No worker watches the rollout: the write, then a deferral whose success ends the task with what
    execute_complete would have returned."""
    from airflow.sdk.exceptions import TaskDeferred

    import sensors.metrics
    from airlock.spec import parse_spec, spec_to_dict
    from operators.canary import CanaryStepOperator
    from operators.rollout import RollingUpdateOperator
    from tests.fixtures.run_requests import request_for
    from tests.integration.kube.conftest import SPEC

    monkeypatch.setattr(sensors.metrics, "under_dag_test", lambda: False)
    spec = spec_to_dict(parse_spec(SPEC))
    if kind == "canary_step":
        op: Any = CanaryStepOperator(
            task_id="step",
            spec=spec,
            slot=0,
            request=request_for(spec, "2", "canary", canary_steps=[25, 100]),
        )
    else:
        op = RollingUpdateOperator(task_id="update", spec=spec, request=request_for(spec, "2"))

    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"run_id": "r1", "ti": NoXComs()})

    trigger = deferred.value.trigger
    assert isinstance(trigger, rollout.RolloutTrigger) and deferred.value.method_name == "execute_complete"
    expected_status = "ready" if kind == "canary_step" else "rolled_out"
    assert trigger.end_with is not None and trigger.end_with["status"] == expected_status
    # the write happened before the hand-over
    name = "web-canary" if kind == "canary_step" else "web"
    written = k8s_conn.kube().get("deployments", NS, name)
    assert written is not None
    assert written["spec"]["template"]["spec"]["containers"][0]["image"] == f"{IMG}:2"
