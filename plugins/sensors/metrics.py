"""MetricsSensor: the metrics gate of a canary step, blue-green's post-switch observation, a staging soak
or the post-deploy validation.

Deferrable by default: the task starts on a worker (reads the run's request and rollback plan, skips an
unused canary slot, builds the gate's plan) and defers to MetricsTrigger, which polls Prometheus in the
triggerer every `spec.metrics.interval` for the observation time. A passing gate is ended by the trigger
itself (TaskSuccessEvent with the verdict as XCom): no second worker start. A failing verdict resumes the
task on a worker, which fails it with AirflowFailException (no retry: the evidence will not change) and a
reason naming the metric and its numbers, pushed as XCom for RollbackOperator and the notifications.

Why not `start_from_trigger` (no worker at all): on Airflow 3.3.2 the triggerer builds a template context
for such a task from the serialized DAG, and `process_params` fails on the serialized params
(ParamValidationError "No value passed and Param has no default value" for the deploy DAG's `version`),
which kills the trigger runner - every trigger of the installation. Seen in the demo stack; reproduced
with DagSerialization + process_params alone. Until that is fixed upstream the gate starts on a worker.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, Context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from operators.lease import fenced_dag, lease_ref
from operators.links import DashboardLink, DashboardLinkMixin, dashboard_url
from operators.request_bound import RequestBound
from operators.xcom_keys import FAILURE_REASON_KEY, RETURN_VALUE

if TYPE_CHECKING:
    from airlock.analysis.plan import GatePlan
    from airlock.analysis.verdict import Verdict

# The gate's own modules (the analysis core with numpy, the Prometheus transports) are imported where a
# gate runs, not here: the DAG file imports this module at every task start of every task.


def defer_timeout_s(plan: GatePlan) -> float:
    """How long the deferred gate may take (sensors.gate_inputs.defer_timeout_s)."""
    from sensors.gate_inputs import defer_timeout_s as timeout_s

    return timeout_s(plan)


def under_dag_test() -> bool:
    """Whether this task runs inside `dag.test()` (in-process supervisor comms). Airflow 3.3.2's dag.test
    resumes the task on every trigger event - an end event's XComs are dropped and its payload is just
    "success" - so there the trigger must hand the verdict back instead of ending the task."""
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.supervisor import InProcessSupervisorComms

    return isinstance(getattr(task_runner, "SUPERVISOR_COMMS", None), InProcessSupervisorComms)


class MetricsSensor(DashboardLinkMixin, RequestBound, BaseSensorOperator):
    """Judge the new version's metrics for `duration` (default: the phase's time in the spec).

    :param phase: canary (canary vs the rest of the service, concurrently), post_switch (blue-green: the new
        colour under full traffic after the switch), validation or staging (the new version against the
        previous version's metrics before the deployment).
    :param slot: canary phase: the step's index in the run's canary steps (its weight is logged); a run
        with fewer steps skips the slot.
    :param baseline_version / baseline_end: post_switch/validation/staging: the previous version's `version`
        label and when the deployment started (unix seconds or ISO). Default: from `plan`.
    :param plan: the run's rollback plan (its XCom): the previous version is the image it recorded, and
        the baseline window ends when it was recorded, before production changed. Without it (and without
        baseline_version / baseline_end) the baseline is every pod of the service before this task started.
    :param subject: what the reasons call the new version's track (e.g. the new colour); default by phase.
    :param health_ok / smoke_ok: results of the health check and critical smoke flows, if the DAG has them.
    """

    template_fields = ("baseline_version", "baseline_end", "plan_record", "subject", "health_ok", "smoke_ok")
    ui_color = "#fff3e0"

    def __init__(
        self,
        *,
        spec: dict[str, Any],
        phase: str = "canary",
        duration: str | int | None = None,
        slot: int | None = None,
        baseline_version: str | None = None,
        baseline_end: Any = None,
        plan: Any = None,
        subject: str | None = None,
        environment: str = "production",
        health_ok: Any = None,
        smoke_ok: Any = None,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.phase = phase
        self.duration = duration
        self.slot = slot
        self.baseline_version = baseline_version
        self.baseline_end = baseline_end
        self.plan_record = plan
        self.subject = subject
        self.environment = environment
        self.health_ok = health_ok
        self.smoke_ok = smoke_ok
        self.deferrable = deferrable

    def lease(self) -> dict[str, Any] | None:
        """The run's deploy lock, renewed by the trigger while the gate observes (None: none)."""
        from airlock.spec import spec_from

        if not fenced_dag(self):
            return None
        return lease_ref(spec_from(self.spec), self.run_request.run_id).to_dict()

    def plan(self) -> GatePlan:
        from sensors.gate_inputs import gate_plan

        return gate_plan(
            self.spec,
            self.run_request,
            phase=self.phase,
            environment=self.environment,
            duration=self.duration,
            slot=self.slot,
            baseline_version=self.baseline_version,
            baseline_end=self.baseline_end,
            plan_record=self.plan_record,
            subject=self.subject,
        )

    def execute(self, context: Context) -> Any:
        from airlock.analysis.prometheus import PrometheusError
        from airlock.analysis.verdict import format_verdict_table
        from hooks.prometheus import PrometheusHook
        from sensors.gate_inputs import optional_bool, slot_skip_reason
        from triggers.metrics import MetricsTrigger, next_poll_delay

        skip = slot_skip_reason(self.run_request, self.slot)
        if skip is not None:
            raise AirflowSkipException(skip)
        plan = self.plan()
        hook = PrometheusHook(plan.connection)  # fails here, before waiting, if the connection is missing
        self.log.info("Metrics %s via %s (%s)", plan.describe(), plan.connection, hook.base_url)
        health_ok, smoke_ok = optional_bool(self.health_ok), optional_bool(self.smoke_ok)
        if self.deferrable:
            end_on_pass = not under_dag_test()
            self.log.info(
                "Deferring to the triggerer (no worker slot held while observing); %s",
                "a passing verdict ends the task there, a failing one resumes it here"
                if end_on_pass
                else "dag.test(): the verdict resumes the task here",
            )
            self.defer(
                trigger=MetricsTrigger(
                    plan.to_dict(),
                    health_ok,
                    smoke_ok,
                    lease=self.lease(),
                    end_on_pass=end_on_pass,
                    # what the worker would push when the task ends (the Dashboard link's URL)
                    links={DashboardLink().xcom_key: dashboard_url(self.spec)},
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=defer_timeout_s(plan)),
            )
        state = plan.gate_state()
        while True:
            now = time.time()
            try:
                samples = plan.collect(hook.query_planned, now, health_ok, smoke_ok)
                verdict = state.observe(samples, now - plan.started_at)
            except PrometheusError as exc:
                verdict = state.observe_error(str(exc), now - plan.started_at)
            if verdict.final:
                return self.finish(verdict, context)
            self.log.info("%s", format_verdict_table(verdict))
            time.sleep(next_poll_delay(plan, time.time()))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        from airlock.analysis.verdict import Verdict

        if not event or "verdict" not in event:
            raise AirflowFailException(f"metrics gate ended without a verdict: {event!r}")
        return self.finish(Verdict.from_dict(event["verdict"]), context)

    def finish(self, verdict: Verdict, context: Context | None = None) -> dict[str, Any]:
        from airlock.analysis.verdict import format_verdict_table
        from airlock.spec import spec_from
        from sensors.gate_inputs import failure_message, pass_message

        spec = spec_from(self.spec)
        self.log.info("Final verdict:\n%s", format_verdict_table(verdict))
        if verdict.failed:
            message = failure_message(verdict, spec.service, self.version)
            if context is not None:
                # a failed task returns nothing: push the verdict and the sentence ourselves, so the rollback,
                # the deployment record and Slack show the failing metric with its numbers
                context["ti"].xcom_push(key=RETURN_VALUE, value=verdict.to_dict())
                context["ti"].xcom_push(key=FAILURE_REASON_KEY, value=message)
            raise AirflowFailException(message)
        self.log.info("%s", pass_message(verdict, spec.service, self.version))
        return verdict.to_dict()
