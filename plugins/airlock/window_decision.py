"""Is this run's deployment window open? The window gate's whole decision, as a pure function.

The gate task (operators/window_gate.py) only reads the clock, logs, defers and raises; what to do is
decided here from the service's calendar, the run's window mode and risk, and how long it has waited:
- window=now: go at once, unless a change freeze is active; a hotfix overrides a freeze (recorded);
- window=next_window: go while an off-peak window is open and no freeze is active; otherwise wait for
  the next opening, unless that is further than `windows.max_wait` from when the run started waiting.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from airlock import windows
from airlock.durations import format_duration
from airlock.spec import Windows

Action = Literal["go", "wait", "block"]
# go: "open" (window open), "waited" (open after waiting), "now" (window=now, no freeze),
# "hotfix_override" (a hotfix through an active freeze); wait: "closed"; block: "frozen", "too_far", "never"
Decision = Literal["open", "waited", "now", "hotfix_override", "closed", "frozen", "too_far", "never"]


def local_time(when: datetime, timezone: str) -> str:
    """`Tue 2026-12-01 02:00:00 CET (01:00:00 UTC)`: the calendar's zone first, UTC beside it."""
    local = when.astimezone(windows.zone(timezone))
    return f"{local:%a %Y-%m-%d %H:%M:%S %Z} ({when.astimezone(UTC):%H:%M:%S} UTC)"


@dataclass(frozen=True)
class WindowDecision:
    """The gate's verdict; on "go" its dict is the gate's XCom and goes into the deployment record."""

    action: Action
    decision: Decision
    reason: str  # a sentence for the task log (and the failure, when blocked)
    now: str  # ISO time the decision was made at
    timezone: str
    freeze: str | None = None  # the active freeze, as written in the spec
    hotfix_override: bool = False
    waited_seconds: float = 0.0
    deferrals: int = 0
    opens_at: str | None = None  # wait: when the next window opens (ISO)
    wait_seconds: float | None = None  # wait: how long from `now`

    @property
    def opened_at(self) -> str:
        return self.now

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "opened_at": self.now}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WindowDecision:
        return cls(**{k: v for k, v in data.items() if k != "opened_at"})


def decide_window(
    cal: Windows,
    now: datetime,
    *,
    mode: Literal["now", "next_window"],
    risk: Literal["planned", "hotfix"],
    waited: timedelta = timedelta(0),
    deferrals: int = 0,
) -> WindowDecision:
    """Decide for a run at `now` (aware) that has already waited `waited` over `deferrals` deferrals."""
    freeze = windows.frozen_by(cal, now)
    common: dict[str, Any] = {
        "now": now.isoformat(),
        "timezone": cal.timezone,
        "freeze": str(freeze) if freeze else None,
        "waited_seconds": round(max(waited.total_seconds(), 0.0), 3),
        "deferrals": deferrals,
    }
    today = now.astimezone(windows.zone(cal.timezone)).date()

    if mode == "now":
        if freeze is None:
            return WindowDecision(
                "go", "now", "window=now skips off-peak waiting and no change freeze is active", **common
            )
        if risk == "hotfix":
            return WindowDecision(
                "go",
                "hotfix_override",
                f"change freeze {freeze} is active, but risk=hotfix lets this run through; the override is "
                "recorded in the deployment record and announced",
                hotfix_override=True,
                **common,
            )
        return WindowDecision(
            "block",
            "frozen",
            f"change freeze {freeze} is active on {today} ({cal.timezone}); deployments are blocked. To override, "
            "re-run with risk=hotfix (the override is recorded and announced), or wait for the freeze to end "
            "(window=next_window), or remove the freeze from windows.freezes in the service spec",
            **common,
        )

    if windows.is_open(cal, now):
        end = windows.window_end(cal, now)
        until = (
            f"; it closes at {local_time(end, cal.timezone)}"
            if end
            else " (no off-peak windows: always open)"
        )
        return WindowDecision(
            "go", "waited" if deferrals else "open", f"the deployment window is open{until}", **common
        )

    why = f"change freeze {freeze} is active" if freeze else "now is outside every off-peak window"
    target = windows.next_open(cal, now)
    if target is None:
        return WindowDecision(
            "block",
            "never",
            f"the deployment window is closed ({why}) and no window opens within 400 days "
            f"(off_peak={cal.off_peak}, freezes={cal.freezes}); fix windows in the service spec or run with "
            "window=now",
            **common,
        )
    remaining = target - now
    if waited + remaining > cal.max_wait:
        return WindowDecision(
            "block",
            "too_far",
            f"the deployment window is closed ({why}); the next one opens at {local_time(target, cal.timezone)}, "
            f"in {format_duration(remaining)}, which exceeds windows.max_wait = {format_duration(cal.max_wait)} "
            f"(already waited {format_duration(waited)}); trigger the run closer to the window, raise "
            "windows.max_wait, or run with window=now",
            **common,
        )
    return WindowDecision(
        "wait",
        "closed",
        f"the deployment window is closed ({why}); the next window opens at {local_time(target, cal.timezone)}, "
        f"in {format_duration(remaining)}",
        opens_at=target.isoformat(),
        wait_seconds=remaining.total_seconds(),
        **common,
    )
