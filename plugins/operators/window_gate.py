"""WindowGateOperator: hold a run until its off-peak window opens, and stop it during change freezes.

A manual or REST run starts at once (a timetable only shapes scheduled runs), so this gate is what
enforces the calendar: `window="next_window"` defers on a DateTimeTrigger (no worker held) until
`windows.next_open(...)`, then re-checks at resume time; `window="now"` skips off-peak waiting but a
freeze still blocks unless `risk="hotfix"` (then the override is logged loudly and recorded).

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

from airlock import windows
from airlock.durations import format_duration
from airlock.spec import ServiceSpec, spec_from
from operators.links import DashboardLinkMixin

WINDOW_MODES = ("now", "next_window")
RISKS = ("planned", "hotfix")
# How long past the expected opening the deferral may last before Airflow fails it (triggerer outage).
DEFERRAL_GRACE = timedelta(hours=1)
STARTED_KEY = "window_gate_started_at"


def real_utcnow() -> datetime:
    return datetime.now(UTC)


def clock() -> datetime:
    """The gate's notion of "now" (aware). Tests monkeypatch this; see the module docstring."""
    return real_utcnow()


def _fmt(when: datetime, spec: ServiceSpec) -> str:
    local = when.astimezone(windows.zone(spec.windows.timezone))
    return f"{local:%a %Y-%m-%d %H:%M:%S %Z} ({when.astimezone(UTC):%H:%M:%S} UTC)"


class WindowGateOperator(DashboardLinkMixin, BaseOperator):
    """Pass when the service's deployment window is open; defer until it opens; fail in a freeze.

    Returns (XCom) ``{"decision": "open" | "waited" | "now" | "hotfix_override", "opened_at": iso,
    "waited_seconds": float, "freeze": str | None, "hotfix_override": bool, "deferrals": int,
    "timezone": str}``.
    """

    template_fields = ("window", "risk")
    ui_color = "#fff3c4"

    def __init__(
        self,
        *,
        spec: dict[str, Any],
        window: str = "{{ params.window }}",
        risk: str = "{{ params.risk }}",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.window = window
        self.risk = risk

    # -- entry points -------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        spec = spec_from(self.spec)
        self._check_args()
        self._log_calendar(spec)
        return self._evaluate(spec, context, started=real_utcnow(), deferrals=0)

    def execute_complete(self, context: Context, event: Any = None, deferrals: int = 1) -> dict[str, Any]:
        # `deferrals` defaults to 1: dag.test() (3.3.2) replaces the defer kwargs by the event on resume.
        spec = spec_from(self.spec)
        self.log.info("Resumed after waiting for the window (trigger fired at %s); checking again.", event)
        started = context["ti"].xcom_pull(
            task_ids=self.task_id, key=STARTED_KEY, map_indexes=context["ti"].map_index
        )
        # Time has moved: a freeze day may have begun meanwhile, so the whole decision is re-made.
        return self._evaluate(
            spec,
            context,
            started=datetime.fromisoformat(started) if started else context["ti"].start_date,
            deferrals=deferrals,
        )

    # -- decision -----------------------------------------------------------------------------------

    def _evaluate(
        self, spec: ServiceSpec, context: Context, *, started: datetime, deferrals: int
    ) -> dict[str, Any]:
        real_now, now = real_utcnow(), clock()
        waited = max(0.0, (real_now - started).total_seconds())
        cal = spec.windows
        freeze = windows.frozen_by(cal, now)
        self.log.info("Now: %s; run mode window=%s, risk=%s.", _fmt(now, spec), self.window, self.risk)

        def result(decision: str, hotfix_override: bool = False) -> dict[str, Any]:
            return {
                "decision": decision,
                "opened_at": now.isoformat(),
                "waited_seconds": round(waited, 3),
                "freeze": str(freeze) if freeze else None,
                "hotfix_override": hotfix_override,
                "deferrals": deferrals,
                "timezone": cal.timezone,
            }

        if self.window == "now":
            if freeze is None:
                self.log.info(
                    "Decision: GO now. window=now skips off-peak waiting and no change freeze is active."
                )
                return result("now")
            if self.risk != "hotfix":
                raise AirflowFailException(
                    f"Change freeze {freeze} is active on {now.astimezone(windows.zone(cal.timezone)).date()} "
                    f"({cal.timezone}); deployments of {spec.service} are blocked. To override, re-run with "
                    "risk=hotfix (the override is recorded and announced), or wait for the freeze to end "
                    "(window=next_window), or remove the freeze from windows.freezes in the service spec."
                )
            self.log.warning(
                "!!! HOTFIX OVERRIDE: change freeze %s is active, but risk=hotfix lets this run through. "
                "The override is recorded in the deployment record and announced. !!!",
                freeze,
            )
            return result("hotfix_override", hotfix_override=True)

        if windows.is_open(cal, now):
            end = windows.window_end(cal, now)
            until = f"; it closes at {_fmt(end, spec)}" if end else " (no off-peak windows: always open)"
            self.log.info("Decision: GO. The deployment window is open%s.", until)
            return result("waited" if deferrals else "open")

        reason = f"change freeze {freeze} is active" if freeze else "now is outside every off-peak window"
        target = windows.next_open(cal, now)
        if target is None:
            raise AirflowFailException(
                f"The deployment window is closed ({reason}) and no window opens within 400 days "
                f"(off_peak={cal.off_peak}, freezes={cal.freezes}). Fix windows in the service spec "
                "or run with window=now."
            )
        remaining = target - now
        max_wait = cal.max_wait
        if timedelta(seconds=waited) + remaining > max_wait:
            raise AirflowFailException(
                f"The deployment window is closed ({reason}); the next one opens at {_fmt(target, spec)}, "
                f"in {format_duration(remaining)}, which exceeds windows.max_wait = {format_duration(max_wait)} "
                f"(already waited {format_duration(waited)}). Trigger the run closer to the window, "
                "raise windows.max_wait, or run with window=now."
            )
        self.log.info(
            "Decision: WAIT. The deployment window is closed (%s). Next window opens at %s, in %s; "
            "deferring (no worker slot held) and resuming then.",
            reason,
            _fmt(target, spec),
            format_duration(remaining),
        )
        if deferrals == 0:
            # XCom survives deferral (defer kwargs and the try's start_date do not, under dag.test()).
            context["ti"].xcom_push(key=STARTED_KEY, value=started.isoformat())
        moment = real_now + remaining  # the trigger counts real seconds, whatever clock the gate uses
        self.defer(
            trigger=DateTimeTrigger(moment=moment),
            method_name="execute_complete",
            kwargs={"deferrals": deferrals + 1},
            timeout=remaining + DEFERRAL_GRACE,
        )

    # -- helpers ------------------------------------------------------------------------------------

    def _check_args(self) -> None:
        if self.window not in WINDOW_MODES:
            raise AirflowFailException(
                f"window={self.window!r} is not allowed; allowed: {', '.join(WINDOW_MODES)}"
            )
        if self.risk not in RISKS:
            raise AirflowFailException(f"risk={self.risk!r} is not allowed; allowed: {', '.join(RISKS)}")

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
