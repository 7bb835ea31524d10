"""MetricsSensor: the metrics gate of a canary step, blue-green's post-switch observation, a staging soak
or the post-deploy validation.

Deferrable by default: MetricsTrigger polls Prometheus in the triggerer every `spec.metrics.interval`
for the observation time and hands back the final verdict; no worker slot is held. The verdict (a
JSON dict with every metric's numbers) is the task's XCom; a failing verdict fails the task with
AirflowFailException (no retry: the evidence will not change) and a reason naming the metric and its
numbers, which is what RollbackOperator and the notifications show.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, Context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airlock.analysis.plan import GatePlan
from airlock.analysis.prometheus import PrometheusError
from airlock.analysis.verdict import Verdict, format_verdict_table
from airlock.durations import parse_duration
from airlock.record import previous_version
from airlock.spec import spec_from
from hooks.prometheus import PrometheusHook
from operators.lease import fenced_dag, lease_ref
from operators.links import DashboardLinkMixin
from operators.request_bound import RequestBound
from operators.xcom_keys import FAILURE_REASON_KEY, RETURN_VALUE
from triggers.metrics import MetricsTrigger, next_poll_delay


def _optional_bool(value: Any) -> bool | None:
    if value in (None, "", "None"):
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "passed", "success")
    return bool(value)


def _optional_time(value: Any) -> float | None:
    """Unix seconds from a number, an ISO timestamp or a datetime (templates render strings)."""
    if value in (None, "", "None"):
        return None
    if hasattr(value, "timestamp"):
        return float(value.timestamp())
    try:
        return float(value)
    except (TypeError, ValueError):
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def defer_timeout_s(plan: GatePlan) -> float:
    """How long the deferred gate may take: its duration, the whole extension, and room for retries."""
    # the trigger keeps observing up to max_extension past the duration when traffic is short, and may
    # keep retrying failed polls past that end, max_consecutive_errors times
    slack = plan.interval_s * (plan.config.max_consecutive_errors + 2) + 60
    return plan.duration_s + plan.max_extension_s + slack


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
        if not fenced_dag(self):
            return None
        return lease_ref(spec_from(self.spec), self.run_request.run_id).to_dict()

    def baseline(self) -> tuple[str | None, float | None]:
        """(previous version, end of its window): explicit arguments first, else the rollback plan's."""
        version, end = self.baseline_version or None, _optional_time(self.baseline_end)
        record = self.plan_record if isinstance(self.plan_record, dict) else None
        if record is not None and self.phase != "canary":
            version = version or previous_version(record, spec_from(self.spec).container)
            end = end if end is not None else _optional_time(record.get("recorded_at"))
        return version, end

    def plan(self) -> GatePlan:
        duration = None if self.duration in (None, "") else parse_duration(self.duration).total_seconds()
        baseline_version, baseline_end = self.baseline()
        return GatePlan.from_spec(
            spec_from(self.spec),
            version=self.version,
            phase=self.phase,
            started_at=time.time(),
            environment=self.environment,
            duration_s=duration,
            weight=self.run_request.canary_weight(self.slot) if self.slot is not None else None,
            baseline_version=baseline_version,
            baseline_end=baseline_end,
            subject=self.subject or None,
        )

    def execute(self, context: Context) -> Any:
        if self.slot is not None and self.run_request.canary_weight(self.slot) is None:
            raise AirflowSkipException(
                f"canary step slot {self.slot + 1} is not used by this run "
                f"(steps {list(self.run_request.canary_steps)})"
            )
        plan = self.plan()
        hook = PrometheusHook(plan.connection)  # fails here, before waiting, if the connection is missing
        self.log.info("Metrics %s via %s (%s)", plan.describe(), plan.connection, hook.base_url)
        health_ok, smoke_ok = _optional_bool(self.health_ok), _optional_bool(self.smoke_ok)
        if self.deferrable:
            self.defer(
                trigger=MetricsTrigger(plan.to_dict(), health_ok, smoke_ok, lease=self.lease()),
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
        if not event or "verdict" not in event:
            raise AirflowFailException(f"metrics gate ended without a verdict: {event!r}")
        return self.finish(Verdict.from_dict(event["verdict"]), context)

    def finish(self, verdict: Verdict, context: Context | None = None) -> dict[str, Any]:
        spec = spec_from(self.spec)
        self.log.info("Final verdict:\n%s", format_verdict_table(verdict))
        if verdict.failed:
            message = f"{verdict.phase} gate failed for {spec.service} {self.version}: {verdict.reason}"
            if context is not None:
                # a failed task returns nothing: push the verdict and the sentence ourselves, so the rollback,
                # the deployment record and Slack show the failing metric with its numbers
                context["ti"].xcom_push(key=RETURN_VALUE, value=verdict.to_dict())
                context["ti"].xcom_push(key=FAILURE_REASON_KEY, value=message)
            raise AirflowFailException(message)
        self.log.info(
            "%s gate passed for %s %s: %s", verdict.phase, spec.service, self.version, verdict.reason
        )
        return verdict.to_dict()
