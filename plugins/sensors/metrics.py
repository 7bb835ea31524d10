"""MetricsSensor: the metrics gate of a canary step, blue-green's post-switch observation, a staging soak
or the post-deploy validation.

Deferrable by default: the task starts on a worker (reads the run's request and rollback plan, skips an
unused canary slot, builds the gate's plan) and defers to MetricsTrigger, which polls Prometheus in the
triggerer every `spec.metrics.interval` for the observation time. A passing gate is ended by the trigger
itself (TaskSuccessEvent with the verdict as XCom): no second worker start. A failing verdict resumes the
task on a worker, which fails it with AirflowFailException (no retry: the evidence will not change) and a
reason naming the metric and its numbers, pushed as XCom for RollbackOperator and the notifications.

People in the loop (airlock.people, sensors.gate_answers): a canary step's analysis asks its question
(Continue / Promote now / Roll back now / Observe another step) before it defers, so a person can end it
at any time from the UI's Required actions or the REST API - Airflow then resumes the task here at once.
A verdict inconclusive with action `hold`, or a passing step listed in `strategy.canary.pause_at`, waits
for an answer in *awaiting input* (no worker, no trigger) for up to `hold.timeout`, then the spec's
`hold.on_timeout` answers. Every answer is pushed as DECISIONS_KEY and logged as its sentence. The
question is asked on the worker (execute / execute_complete): the task SDK's supervisor carries it.

Starting in the triggerer (no worker at all): deploy_dag.trigger_start gives the gates that do not ask
people while observing (the staging soak, blue-green's post-switch gate, the validation window)
`start_from_trigger` with triggers.gate_start.GateStartTrigger, which gathers these inputs itself; only a
verdict other than a pass then resumes `execute_complete` here. A canary step's analysis starts here: it
asks its question first. (On Airflow 3.3.2 this needs the deploy DAG's params to pass the triggerer's
process_params: see deploy_dag.params.)
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import BaseSensorOperator, Context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from operators.lease import fenced_dag, lease_ref
from operators.links import DashboardLink, DashboardLinkMixin, dashboard_url
from operators.request_bound import RequestBound
from operators.xcom_keys import DECISIONS_KEY, FAILURE_REASON_KEY, RETURN_VALUE

if TYPE_CHECKING:
    from airlock.analysis.plan import GatePlan
    from airlock.analysis.verdict import Verdict
    from airlock.people import Gate
    from sensors.gate_answers import GateRound

# The gate's own modules (the analysis core with numpy, the Prometheus transports) are imported where a
# gate runs, not here: the DAG file imports this module at every task start of every task.


def defer_timeout_s(plan: GatePlan) -> float:
    """How long the deferred gate may take (sensors.gate_inputs.defer_timeout_s)."""
    from sensors.gate_inputs import defer_timeout_s as timeout_s

    return timeout_s(plan)


def optional_bool_of(value: Any) -> bool | None:
    from sensors.gate_inputs import optional_bool

    return optional_bool(value)


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

    @property
    def asks_while_observing(self) -> bool:
        """A canary step's analysis offers its controls for as long as it observes."""
        return self.phase == "canary" and self.slot is not None

    def execute(self, context: Context) -> Any:
        from hooks.prometheus import PrometheusHook
        from sensors.gate_answers import GateRound
        from sensors.gate_inputs import optional_bool, slot_skip_reason

        skip = slot_skip_reason(self.run_request, self.slot)
        if skip is not None:
            raise AirflowSkipException(skip)
        plan = self.plan()
        hook = PrometheusHook(plan.connection)  # fails here, before waiting, if the connection is missing
        self.log.info("Metrics %s via %s (%s)", plan.describe(), plan.connection, hook.base_url)
        health_ok, smoke_ok = optional_bool(self.health_ok), optional_bool(self.smoke_ok)
        state = GateRound(plan.to_dict(), health_ok=health_ok, smoke_ok=smoke_ok)
        if self.deferrable:
            if self.asks_while_observing:
                state = self.ask(context, "control", state)
            self.defer_round(state)
        return self.observe_here(plan, context, state)

    def defer_round(self, state: GateRound) -> None:
        """Hand the observation to MetricsTrigger; `state` comes back with the event (next_kwargs)."""
        from airlock.analysis.plan import GatePlan
        from triggers.metrics import MetricsTrigger

        plan = GatePlan.from_dict(state.plan)
        # a step that pauses after passing must come back here to ask, so the trigger may not end it
        end_on_pass = not under_dag_test() and not self.pauses_after_passing()
        self.log.info(
            "Deferring to the triggerer (no worker slot held while observing); %s",
            "a passing verdict ends the task there, any other resumes it here"
            if end_on_pass
            else "the verdict resumes the task here",
        )
        self.defer(
            trigger=MetricsTrigger(
                plan.to_dict(),
                state.health_ok,
                state.smoke_ok,
                lease=self.lease(),
                end_on_pass=end_on_pass,
                # what the worker would push when the task ends (the Dashboard link's URL)
                links={DashboardLink().xcom_key: dashboard_url(self.spec)},
            ),
            method_name="execute_complete",
            kwargs={"state": state.to_dict()},
            timeout=timedelta(seconds=defer_timeout_s(plan)),
        )

    def pauses_after_passing(self) -> bool:
        from airlock.people import pauses_after
        from airlock.spec import spec_from

        if self.phase != "canary" or self.slot is None:
            return False
        return pauses_after(spec_from(self.spec), self.run_request, self.slot)

    # -- the question ---------------------------------------------------------------------------------

    def ask(self, context: Context, gate: Gate, state: GateRound) -> GateRound:
        """Put the gate's question up (Airflow keeps one per task instance and fixes its options, subject,
        body and default when first asked; asking again only clears the previous answer)."""
        from dataclasses import replace
        from datetime import UTC, datetime

        from airflow.sdk import Param
        from airflow.sdk.execution_time.hitl import upsert_hitl_detail

        from airlock import people
        from airlock.spec import spec_from

        spec = spec_from(self.spec)
        request = self.run_request
        options = people.gate_options(self.phase, self.slot)
        subject = people.gate_subject(spec, request, self.phase, self.slot)
        default = people.hold_timeout_option(spec, canary=options is people.CANARY_OPTIONS)
        approvers = people.hold_approvers(spec, request)
        comment = Param(
            "",
            type="string",
            title="Comment",
            description="Why you decided so: it goes into the deployment record, the run note and Slack",
        )
        upsert_hitl_detail(
            ti_id=context["ti"].id,
            options=options,
            subject=subject,
            body=people.gate_question_body(spec, request, subject, options, default),
            defaults=[default],
            multiple=False,
            params={people.COMMENT_PARAM: comment.serialize()},
            assigned_users=people.assigned_users(approvers),  # type: ignore[arg-type]
        )
        who = ", ".join(approvers) if approvers else "anyone who may edit this DAG's runs"
        self.log.info(
            "Asking (%s) in the Airflow UI's Required actions for task %s: %s - answers: %s; who may answer: %s",
            people.GATE_TITLES[gate],
            self.task_id,
            subject,
            " / ".join(options),
            who,
        )
        return replace(state, asking=gate, asked_at=datetime.now(UTC).isoformat())

    def wait_for_person(self, context: Context, gate: Gate, verdict: Verdict, state: GateRound) -> NoReturn:
        """Hold or pause: tell Slack, ask (clearing the last answer) and wait in *awaiting input* - no
        worker, no trigger - until an answer or hold.timeout, when hold.on_timeout answers."""
        from dataclasses import replace

        from airflow.sdk.exceptions import TaskAwaitingInput

        from airlock import notify, people
        from airlock.durations import format_duration
        from airlock.spec import spec_from
        from notifiers.slack import post

        spec = spec_from(self.spec)
        options = people.gate_options(self.phase, self.slot)
        default = people.hold_timeout_option(spec, canary=options is people.CANARY_OPTIONS)
        if gate == "hold":
            why = "is inconclusive (on_inconclusive: hold)"
        else:
            why = f"passed its step at {self.run_request.canary_weight(self.slot or 0)} % (strategy.canary.pause_at)"
        self.log.info(
            "%s %s: waiting for a person (%s); no answer within %s: %r (hold.on_timeout: %s). Measured: %s",
            self.task_id,
            why,
            " / ".join(options),
            format_duration(spec.hold.timeout),
            default,
            spec.hold.on_timeout,
            verdict.reason,
        )
        ti = context["ti"]
        post(
            spec.notify.slack_connection,
            spec.service,
            notify.gate_waiting_message(
                service=spec.service,
                version=self.version,
                why=why,
                reason=verdict.reason,
                options=options,
                timeout=spec.hold.timeout,
                timeout_option=default,
                run_id=str(ti.run_id),
                task_id=str(ti.task_id),
                dashboard=spec.metrics.dashboard or "",
            ),
            self.log,
        )
        state = replace(self.ask(context, gate, state), verdict=verdict.to_dict())
        raise TaskAwaitingInput(
            method_name="execute_complete", kwargs={"state": state.to_dict()}, timeout=spec.hold.timeout
        )

    def execute_complete(
        self,
        context: Context,
        event: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        from airlock.analysis.verdict import Verdict
        from sensors.gate_answers import GateRound

        # a gate started in the triggerer (deploy_dag.trigger_start) has no defer kwargs: its state is in the event
        state = state or (event or {}).get("state")
        current = GateRound.from_dict(state) if state else None
        if event and "chosen_options" in event:  # a person's answer, or hold.on_timeout's at the timeout
            if current is None:
                raise AirflowFailException(f"an answer arrived without the gate's state: {event!r}")
            return self.answered(context, event, current)
        if event and event.get("error_type"):  # a question without a default timed out (never asked so)
            raise AirflowFailException(f"the question to a person ended without an answer: {event['error']}")
        if not event or "verdict" not in event:
            raise AirflowFailException(f"metrics gate ended without a verdict: {event!r}")
        verdict = Verdict.from_dict(event["verdict"])
        return self.finish(verdict, context, current or self.rebuilt_state(context, verdict))

    def rebuilt_state(self, context: Context, verdict: Verdict) -> GateRound:
        """The gate's state when the resume brought none: Airflow 3.3.2's dag.test() resumes a task with
        only the trigger's event (it drops the deferral's kwargs). The plan is rebuilt to have started
        when the verdict says, the answers so far are this task's own DECISIONS_KEY XCom."""
        import time
        from dataclasses import replace

        from sensors.gate_answers import GateRound

        ti = context["ti"]
        plan = replace(self.plan(), started_at=time.time() - verdict.elapsed_s, duration_s=verdict.duration_s)
        decisions = ti.xcom_pull(task_ids=ti.task_id, key=DECISIONS_KEY) or []
        return GateRound(
            plan.to_dict(),
            asking="control" if self.asks_while_observing else None,
            decisions=list(decisions),
            health_ok=optional_bool_of(self.health_ok),
            smoke_ok=optional_bool_of(self.smoke_ok),
        )

    def answered(self, context: Context, event: dict[str, Any], state: GateRound) -> dict[str, Any]:
        """Turn the answer into a Decision (pushed, logged) and act on it."""
        from dataclasses import replace
        from datetime import datetime

        from airlock import people
        from airlock.analysis.plan import GatePlan
        from airlock.analysis.verdict import Verdict, format_verdict_table
        from sensors.gate_answers import after_answer, observe_longer

        ti = context["ti"]
        asked_at = datetime.fromisoformat(state.asked_at) if state.asked_at else None
        decision = people.decision_from_response(
            gate=state.asking or "control",
            task_id=str(ti.task_id),
            chosen_options=list(event.get("chosen_options") or []),
            responded_by=event.get("responded_by_user"),
            responded_at=event.get("responded_at") or datetime.now().astimezone(),
            params_input=event.get("params_input"),
            timed_out=bool(event.get("timedout")),
            asked_at=asked_at,
            options=people.gate_options(self.phase, self.slot),
        )
        state = state.with_decision(decision)
        ti.xcom_push(key=DECISIONS_KEY, value=state.decisions)
        self.log.info("Decision: %s", decision.sentence())
        plan = GatePlan.from_dict(state.plan)
        so_far = Verdict.from_dict(state.verdict) if state.verdict else self.measure_now(plan, state)
        self.log.info("Verdict when the answer came:\n%s", format_verdict_table(so_far))
        then = after_answer(decision, so_far)
        if then.outcome == "pass":
            self.log.info(
                "%s gate passed by a person for %s %s: %s",
                plan.phase,
                plan.service,
                self.version,
                then.message,
            )
            return then.verdict.to_dict()
        if then.outcome == "fail":
            ti.xcom_push(key=RETURN_VALUE, value=so_far.to_dict())
            ti.xcom_push(key=FAILURE_REASON_KEY, value=then.message)
            raise AirflowFailException(then.message)
        # observe another step: the same observation, one more step duration, judged again at its end
        longer = observe_longer(plan, self.plan().duration_s, time.time())
        self.log.info(
            "Observing another %.0fs (until %.0fs into the gate), then judging again; the question stays open",
            longer.duration_s - (time.time() - plan.started_at),
            longer.duration_s,
        )
        state = replace(state, plan=longer.to_dict(), verdict=None)
        if self.deferrable:
            self.defer_round(self.ask(context, "control", state))
        return self.observe_here(longer, context, state)

    def pending_answer(self, context: Context) -> dict[str, Any] | None:
        """The answer recorded for this task's question that nothing resumed it with, as a resume event."""
        from airflow.sdk.execution_time.hitl import get_hitl_detail_content_detail

        try:
            detail = get_hitl_detail_content_detail(context["ti"].id)
        except Exception as exc:  # noqa: BLE001 - no question (yet), or the API could not say: ask as usual
            self.log.debug("No recorded answer to read: %s", exc)
            return None
        # None: nothing to read (dag.test()'s in-process supervisor does not serve this request)
        if detail is None or not detail.response_received or not detail.chosen_options:
            return None
        user = detail.responded_by_user
        self.log.info(
            "An answer was given while this task was running (%s by %s): acting on it",
            detail.chosen_options,
            user.name if user else "the timeout",
        )
        return {
            "chosen_options": list(detail.chosen_options),
            "params_input": detail.params_input or {},
            "responded_at": detail.responded_at,
            "responded_by_user": {"id": user.id, "name": user.name} if user else None,
            "timedout": user is None,
        }

    def measure_now(self, plan: GatePlan, state: GateRound) -> Verdict:
        """One look at the metrics when an answer interrupted the observation (the trigger was dropped)."""

        from airlock.analysis.prometheus import PrometheusError
        from airlock.analysis.verdict import Verdict
        from hooks.prometheus import PrometheusHook

        now = time.time()
        gate = plan.gate_state()
        try:
            samples = plan.collect(
                PrometheusHook(plan.connection).query_planned, now, state.health_ok, state.smoke_ok
            )
            return gate.observe(samples, now - plan.started_at)
        except Exception as exc:  # noqa: BLE001 - the answer stands; only the log's numbers are missing
            why = str(exc) if isinstance(exc, PrometheusError) else f"{type(exc).__name__}: {exc}"
            self.log.warning("Could not measure the gate when the answer came: %s", why)
            return Verdict(
                "continue",
                f"not measured when the answer came ({why})",
                plan.phase,
                now - plan.started_at,
                plan.duration_s,
                subject=plan.subject,
            )

    def observe_here(self, plan: GatePlan, context: Context, state: GateRound) -> dict[str, Any]:
        """The synchronous observation loop (deferrable=False)."""

        from airlock.analysis.prometheus import PrometheusError
        from airlock.analysis.verdict import format_verdict_table
        from hooks.prometheus import PrometheusHook
        from triggers.metrics import next_poll_delay

        hook = PrometheusHook(plan.connection)
        gate = plan.gate_state()
        while True:
            now = time.time()
            try:
                samples = plan.collect(hook.query_planned, now, state.health_ok, state.smoke_ok)
                verdict = gate.observe(samples, now - plan.started_at)
            except PrometheusError as exc:
                verdict = gate.observe_error(str(exc), now - plan.started_at)
            if verdict.final:
                return self.finish(verdict, context, state)
            self.log.info("%s", format_verdict_table(verdict))
            time.sleep(next_poll_delay(plan, time.time()))

    def finish(
        self, verdict: Verdict, context: Context | None = None, state: GateRound | None = None
    ) -> dict[str, Any]:
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
        if context is not None and state is not None and state.asking is not None:
            # an answer given while this task was running (Airflow resumes only a deferred or waiting
            # task) is still recorded: act on it rather than ask again, which would clear it
            pending = self.pending_answer(context)
            if pending is not None:
                from dataclasses import replace

                return self.answered(context, pending, replace(state, verdict=verdict.to_dict()))
        if verdict.holds:
            if context is None or state is None:  # nobody can be asked here: fail closed, saying why
                raise AirflowFailException(
                    f"{verdict.phase} gate for {spec.service} {self.version} holds for a person but cannot ask "
                    f"one from here: {verdict.reason}"
                )
            self.wait_for_person(context, "hold", verdict, state)
        if context is not None and state is not None and self.pauses_after_passing():
            self.wait_for_person(context, "pause", verdict, state)
        self.log.info("%s", pass_message(verdict, spec.service, self.version))
        return verdict.to_dict()
