"""GateStartTrigger: a metrics gate that starts in the triggerer (`start_from_trigger`): no worker at all
for a gate that passes or skips.

MetricsSensor's worker start only gathered inputs and deferred. Here the triggerer gathers them itself
when it renders the task's templates (the one moment it has the run's context): the validate task's
RunRequest (never `params`), the rollback plan's XCom, the sensor's templated fields. Then `run()`
decides what the worker would have decided before deferring - skip (the sensor's pre_execute guard:
dry run, a hotfix's soak; an unused canary slot), else build the same GatePlan - and observes exactly as MetricsTrigger does: a
passing verdict ends the task here (TaskSuccessEvent with the verdict and the Dashboard link as XComs),
any other resumes MetricsSensor.execute_complete on a worker with the gate's state in the event (a
failing verdict fails the task with the evidence there, a hold asks a person there).

When the observation started is kept as an XCom of this try, so a triggerer restart (which renders and
runs the trigger again) continues the same observation window instead of starting a new one.

No stale-event hold before the failing verdict: the race (stale_event_guard.py) needs a worker try that
deferred and whose executor event arrives late; a task started in the triggerer had no such try.

Built by deploy_dag.trigger_start from the sensor's arguments; `dag.test()` ignores start_from_trigger
and runs MetricsSensor.execute on its in-process worker instead, which defers to MetricsTrigger.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTaskEndEvent, TaskSkippedEvent, TriggerEvent

from airlock.analysis.plan import GatePlan
from airlock.analysis.verdict import Verdict
from airlock.run_request import RunRequest
from deploy_dag.trigger_start import GUARDS, TEMPLATED
from triggers.metrics import MetricsTrigger
from triggers.stale_event_guard import MIN_DEFERRAL_SECONDS

GATE_STARTED_KEY = "gate_started_at"  # XCom of the task: {"try": n, "at": unix seconds}


def gate_skip_reason(request: RunRequest, guard: str | None, slot: int | None) -> str | None:
    """Why this gate does not observe for `request`, or None: the sensor's pre_execute guard (one of
    GUARDS, same sentences as deploy_dag.guards), then the canary slot check the sensor's execute makes
    (sensors.gate_inputs.slot_skip_reason)."""
    from sensors.gate_inputs import slot_skip_reason

    if guard is not None and guard not in GUARDS:
        raise ValueError(
            f"gate guard {guard!r} is not one this trigger applies; allowed: {', '.join(GUARDS)}"
        )
    if guard == "skip_for_hotfix_or_dry_run" and request.is_hotfix:
        return "hotfix run: staging soak skipped (recorded in the deployment record)"
    if guard is not None and request.dry_run:
        return "dry run: nothing was changed, so there is nothing to wait for or verify"
    return slot_skip_reason(request, slot)


def observation_start(mark: Any, try_number: int, now: float) -> tuple[float, bool]:
    """(when this try's observation started, whether that is new): the XCom mark of the same try, else now."""
    if isinstance(mark, dict) and mark.get("try") == try_number and isinstance(mark.get("at"), int | float):
        return float(mark["at"]), False
    return now, True


class OneXComTaskInstance:
    """The triggerer's task instance, pulling one XCom per task by default (map index -1, the deploy DAG
    maps nothing). Airflow 3.3.2's RuntimeTaskInstance.xcom_pull without `map_indexes` asks for every map
    index (GetXComSequenceSlice), a request the triggerer's supervisor cannot decode: the pull, and so the
    trigger, would wait forever. Templates rendered here (e.g. a `ti.xcom_pull(task_ids=...)` subject) and
    pull_request go through this."""

    def __init__(self, ti: Any) -> None:
        self._ti = ti

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ti, name)

    def xcom_pull(self, task_ids: Any = None, *args: Any, map_indexes: Any = -1, **kwargs: Any) -> Any:
        return self._ti.xcom_pull(task_ids, *args, map_indexes=map_indexes, **kwargs)


class GateStartTrigger(MetricsTrigger):
    """:param gate: the sensor's static arguments: spec, phase, environment, duration, slot, its
        pre_execute guard's name (GUARDS, or None) and the fields of TEMPLATED (values or Jinja templates).
    :param plan_from: the task whose return value is the run's rollback plan (the sensor's `plan`), or None.
    :param fenced: whether the DAG takes the deploy lock (the gate then renews the run's lease).
    :param links: extra-link XComs (key -> URL) pushed when the gate passes here.
    :param request_from: the task whose return value is the run's RunRequest.
    """

    def __init__(
        self,
        gate: dict[str, Any],
        plan_from: str | None = None,
        fenced: bool = False,
        links: dict[str, str] | None = None,
        request_from: str = "validate",
    ) -> None:
        super().__init__(plan={}, end_on_pass=True, links=links)
        self.gate = gate
        self.plan_from = plan_from
        self.fenced = fenced
        self.request_from = request_from
        # bound by render_template_fields (the triggerer calls it before run() for a task it starts)
        self.inputs: dict[str, Any] | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "triggers.gate_start.GateStartTrigger",
            {
                "gate": self.gate,
                "plan_from": self.plan_from,
                "fenced": self.fenced,
                "links": self.links,
                "request_from": self.request_from,
            },
        )

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Gather what the worker would have: the RunRequest, the rollback plan, the rendered fields, and
        when this try's observation started (XCom, so that a triggerer restart keeps the window)."""
        from operators.request_bound import pull_request

        jinja_env = jinja_env or self.get_template_env()
        ti = OneXComTaskInstance(context["ti"])
        context = {**context, "ti": ti, "task_instance": ti}
        rendered = {
            name: self.render_template(value, context, jinja_env) if isinstance(value, str) else value
            for name, value in self.gate.items()
            if name in TEMPLATED
        }
        plan_record = ti.xcom_pull(task_ids=self.plan_from) if self.plan_from else None
        started, new = observation_start(
            ti.xcom_pull(task_ids=ti.task_id, key=GATE_STARTED_KEY),
            ti.try_number,
            time.time(),
        )
        if new:
            # XCom.set, not ti.xcom_push: the triggerer's task instance holds the serialized task, which
            # lacks what xcom_push reads (returns_dag_result)
            from airflow.sdk.execution_time.xcom import XCom

            XCom.set(
                key=GATE_STARTED_KEY,
                value={"try": ti.try_number, "at": started},
                dag_id=ti.dag_id,
                task_id=ti.task_id,
                run_id=ti.run_id,
                map_index=ti.map_index,
            )
        else:
            self.log.info("Continuing the observation this try started at %s (unix seconds)", started)
        self.inputs = {
            "request": pull_request(context, self.request_from).to_dict(),
            "plan_record": plan_record,
            "started_at": started,
            **rendered,
        }

    def gate_plan(self, request: RunRequest) -> GatePlan:
        from sensors.gate_inputs import gate_plan, optional_bool

        inputs = self.inputs or {}
        self.health_ok = optional_bool(inputs.get("health_ok"))
        self.smoke_ok = optional_bool(inputs.get("smoke_ok"))
        return gate_plan(
            self.gate["spec"],
            request,
            phase=self.gate["phase"],
            environment=self.gate["environment"],
            duration=self.gate.get("duration"),
            slot=self.gate.get("slot"),
            baseline_version=inputs.get("baseline_version"),
            baseline_end=inputs.get("baseline_end"),
            plan_record=inputs.get("plan_record"),
            subject=inputs.get("subject"),
            started_at=inputs["started_at"],
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        if self.inputs is None:
            raise RuntimeError(
                "GateStartTrigger runs only for a task started in the triggerer, whose templates the "
                "triggerer renders first; it got no rendered inputs"
            )
        request = RunRequest.from_dict(self.inputs["request"])
        skip = gate_skip_reason(request, self.gate.get("guard"), self.gate.get("slot"))
        if skip is not None:
            self.log.info("Skipped: %s", skip)
            yield TaskSkippedEvent()
            return
        plan = self.gate_plan(request)
        self.plan = plan.to_dict()
        if self.fenced:
            from airlock.spec import spec_from
            from operators.lease import lease_ref

            self.lease = lease_ref(spec_from(self.gate["spec"]), request.run_id).to_dict()
        self.log.info(
            "Metrics %s via %s; observing from the triggerer (this gate holds no worker slot: a passing "
            "verdict ends the task here, a failing one resumes it on a worker to fail with the evidence)",
            plan.describe(),
            plan.connection,
        )
        async for event in super().run():
            yield event

    async def final_event(self, verdict: Verdict, plan: GatePlan, started: float) -> TriggerEvent:
        # A verdict that resumes the task needs no stale-event hold here (module docstring): hand the
        # parent a deferral start already MIN_DEFERRAL_SECONDS old, so its hold returns at once.
        event = await super().final_event(verdict, plan, started - MIN_DEFERRAL_SECONDS)
        if isinstance(event, BaseTaskEndEvent):
            return event
        # The resumed worker gets what a worker-started gate keeps in its defer kwargs (GateRound): its
        # plan, for a hold to ask a person. A task started here has only static next_kwargs.
        from sensors.gate_answers import GateRound

        state = GateRound(plan.to_dict(), health_ok=self.health_ok, smoke_ok=self.smoke_ok)
        return TriggerEvent({**event.payload, "state": state.to_dict()})
