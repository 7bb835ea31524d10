"""WindowGateOperator: hold a run until its off-peak window opens, and stop it during change freezes.

A manual or REST run starts at once (a timetable only shapes scheduled runs), so this gate is what
enforces the calendar. The decision is airlock.window_decision.decide_window (pure); this adapter reads
the clock, logs, defers on a DateTimeTrigger (no worker held) until the window opens, re-decides at
resume time (a freeze may have begun meanwhile), and fails with the decision's reason when blocked.

Clock: decisions read the module-level `clock()`, which tests replace (dag.test() runs tasks in
process). The trigger is given the *remaining duration* added to the real clock, so a shifted test
clock still waits the right number of real seconds; in production both clocks are the same.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException

from airlock.durations import format_duration
from airlock.spec import ServiceSpec, spec_from
from airlock.window_decision import WindowDecision, decide_window, local_time
from operators.links import DashboardLinkMixin
from operators.request_bound import RequestBound
from operators.xcom_keys import WINDOW_STARTED_KEY

# How long past the expected opening the deferral may last before Airflow fails it (triggerer outage).
DEFERRAL_GRACE = timedelta(hours=1)


def real_utcnow() -> datetime:
    return datetime.now(UTC)


def clock() -> datetime:
    """The gate's notion of "now" (aware). Tests monkeypatch this; see the module docstring."""
    return real_utcnow()


class WindowGateOperator(DashboardLinkMixin, RequestBound, BaseOperator):
    """Pass when the service's deployment window is open; defer until it opens; fail in a freeze.

    Returns (XCom) the WindowDecision's dict (decision "open" | "waited" | "now" | "hotfix_override",
    opened_at, waited_seconds, freeze, hotfix_override, deferrals, timezone, reason).
    """

    ui_color = "#fff3c4"

    def __init__(self, *, spec: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec

    def execute(self, context: Context) -> dict[str, Any]:
        spec = spec_from(self.spec)
        self._log_calendar(spec)
        return self._evaluate(spec, context, started=real_utcnow(), deferrals=0)

    def execute_complete(self, context: Context, event: Any = None, deferrals: int = 1) -> dict[str, Any]:
        # `deferrals` defaults to 1: dag.test() (3.3.2) replaces the defer kwargs by the event on resume.
        spec = spec_from(self.spec)
        self.log.info("Resumed after waiting for the window (trigger fired at %s); deciding again.", event)
        started = context["ti"].xcom_pull(
            task_ids=self.task_id, key=WINDOW_STARTED_KEY, map_indexes=context["ti"].map_index
        )
        return self._evaluate(
            spec,
            context,
            started=datetime.fromisoformat(started) if started else context["ti"].start_date,
            deferrals=deferrals,
        )

    def _evaluate(
        self, spec: ServiceSpec, context: Context, *, started: datetime, deferrals: int
    ) -> dict[str, Any]:
        request = self.run_request
        real_now, now = real_utcnow(), clock()
        self.log.info(
            "Now: %s; run mode window=%s, risk=%s.",
            local_time(now, spec.windows.timezone),
            request.window,
            request.risk,
        )
        decision = decide_window(
            spec.windows,
            now,
            mode=request.window,
            risk=request.risk,
            waited=real_now - started,
            deferrals=deferrals,
        )
        if decision.action == "block":
            raise AirflowFailException(decision.reason[:1].upper() + decision.reason[1:] + ".")
        if decision.action == "go":
            if decision.hotfix_override:
                self.log.warning("!!! HOTFIX OVERRIDE: %s. !!!", decision.reason)
            else:
                self.log.info("Decision: GO. %s.", decision.reason[:1].upper() + decision.reason[1:])
            return decision.to_dict()
        self._defer_until_open(context, decision, real_now, started, deferrals)
        raise AssertionError("defer() raises")  # pragma: no cover

    def _defer_until_open(
        self,
        context: Context,
        decision: WindowDecision,
        real_now: datetime,
        started: datetime,
        deferrals: int,
    ) -> None:
        remaining = timedelta(seconds=decision.wait_seconds or 0.0)
        self.log.info(
            "Decision: WAIT. %s; deferring (no worker slot held) and deciding again then.",
            decision.reason[:1].upper() + decision.reason[1:],
        )
        if deferrals == 0:
            # XCom survives deferral (defer kwargs and the try's start_date do not, under dag.test()).
            context["ti"].xcom_push(key=WINDOW_STARTED_KEY, value=started.isoformat())
        self.defer(
            trigger=DateTimeTrigger(moment=real_now + remaining),  # real seconds, whatever clock decided
            method_name="execute_complete",
            kwargs={"deferrals": deferrals + 1},
            timeout=remaining + DEFERRAL_GRACE,
        )

    def _log_calendar(self, spec: ServiceSpec) -> None:
        cal = spec.windows
        self.log.info(
            "Calendar of %s: time zone %s; off-peak windows %s; change freezes %s; max wait %s.",
            spec.service,
            cal.timezone,
            ", ".join(cal.off_peak) or "none (always open)",
            ", ".join(cal.freezes) or "none",
            format_duration(cal.max_wait),
        )
