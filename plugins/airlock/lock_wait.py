"""Waiting for a deploy lock that another run holds: how long a run may wait, and what to do now (pure).

A planned run (window=next_window, which a release-train run is too) waited for its off-peak window
holding no lock, so a hotfix of the same service may hold the Lease when that window opens. Failing
then would lose the planned deployment without a record or a message; instead it waits for the lock,
bounded, and then plans against the production it finds. A run with window=now does not wait: a person
triggered it and is watching, and two installations colliding must be told at once (it fails naming
the holder, as the lock always did).

How long (`wait_bound`, in the calendar's time):
* the service has off-peak windows: until the window the run got closes - it never deploys outside it;
* it has none (always open): `windows.max_wait` less what the run already waited at its gate (a
  change freeze makes a window-less service wait there too), so a run never waits longer than the
  spec allows in all;
* either way, never into a change freeze that begins meanwhile.

What now (`decide_lock_wait`, over the lease's state at `now`): take it (free, expired, or already
ours - the caller takes it with the normal `lock.acquire`, which decides again on its own read); wait
(and when to look again: the next poll, the holder's expiry, or the deadline, whichever comes first);
give up at the deadline, naming the holder, how long this run waited and the deadline; or refuse at
once while the service's line is stopped (stop_line.py: never waited out, a human must act).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal

from airlock import windows
from airlock.durations import format_duration
from airlock.kube.lock import lease_expiry, lease_holder
from airlock.spec import Windows
from airlock.stop_line import StopMark
from airlock.window_decision import local_time

Obj = dict[str, Any]

POLL_SECONDS = 10.0  # how often a waiting run reads the Lease: a free lock is noticed within this
# How long past its deadline the deferred wait may last before Airflow fails it (a triggerer outage):
# the trigger itself fires at the deadline, so this is only ever used when no triggerer runs.
DEFERRAL_GRACE = timedelta(minutes=10)


def _at(when: datetime | None) -> str:
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if when else "an unknown time"


def _seconds(delta: timedelta) -> str:
    return format_duration(timedelta(seconds=round(max(delta.total_seconds(), 0.0))))


@dataclass(frozen=True)
class LeaseState:
    """The Lease as a waiting run sees it at one moment."""

    holder: str | None  # the live holder (None: free or expired)
    since: datetime | None  # when that holder took it (acquireTime)
    expires: datetime | None  # when its lease runs out unless renewed
    last_holder: str | None  # the holder recorded on the Lease, live or not

    @classmethod
    def from_lease(cls, lease: Obj | None, now: datetime) -> LeaseState:
        spec = (lease or {}).get("spec") or {}
        since_text = spec.get("acquireTime")
        try:
            since = datetime.fromisoformat(str(since_text).replace("Z", "+00:00")) if since_text else None
        except ValueError:
            since = None
        recorded = spec.get("holderIdentity")
        return cls(
            holder=lease_holder(lease, now),
            since=since,
            expires=lease_expiry(lease or {}),
            last_holder=str(recorded) if recorded else None,
        )

    def describe(self) -> str:
        return f'held by "{self.holder}" since {_at(self.since)}, until {_at(self.expires)} unless renewed'


@dataclass(frozen=True)
class WaitBound:
    """Until when (the calendar's time) a run may wait for the lock, and why that moment."""

    until: datetime
    why: str


def next_freeze_start(cal: windows.WindowsLike, after: datetime) -> datetime | None:
    """The first moment after `after` at which a change freeze begins (local midnight of its first day)."""
    tz = windows.zone(cal.timezone)
    starts = [datetime.combine(windows.parse_freeze(text).first, time(0, 0), tz) for text in cal.freezes]
    later = [s for s in starts if s > after]
    return min(later) if later else None


def wait_bound(cal: Windows, opened_at: datetime, waited_at_gate: timedelta) -> WaitBound:
    """How long a planned run whose gate said "go" at `opened_at`, after waiting `waited_at_gate` for
    its window, may wait for the lock (see the module docstring). `cal` is the spec's `windows`."""
    if cal.off_peak:
        close = windows.window_end(cal, opened_at)
        if close is None:  # the gate's moment is outside every window: nothing is left to wait in
            until = opened_at
            why = f"no off-peak window is open at {local_time(opened_at, cal.timezone)}"
        else:
            until = close
            why = f"the off-peak window it got closes at {local_time(close, cal.timezone)}"
    else:
        left = max(cal.max_wait - waited_at_gate, timedelta(0))
        until = opened_at + left
        why = (
            f"windows.max_wait = {format_duration(cal.max_wait)}, of which it waited "
            f"{_seconds(waited_at_gate)} for its window (the service has no off-peak windows)"
        )
    freeze = next_freeze_start(cal, opened_at)
    if freeze is not None and freeze < until:
        until = freeze
        why = f"a change freeze begins at {local_time(freeze, cal.timezone)}"
    return WaitBound(until, why)


def longest_wait(cal: Windows) -> timedelta:
    """The most `wait_bound` can ever give (for the task's execution_timeout): the longest off-peak
    window (a run may get it at its opening), or `windows.max_wait` when there are none."""
    if not cal.off_peak:
        return cal.max_wait
    longest = timedelta(0)
    for text in cal.off_peak:
        window = windows.parse_window(text)
        start = timedelta(hours=window.start.hour, minutes=window.start.minute)
        end = timedelta(hours=window.end.hour, minutes=window.end.minute)
        length = end - start if end > start else end - start + timedelta(days=1)
        longest = max(longest, length)
    return longest


@dataclass(frozen=True)
class LockWait:
    """A run's wait for the lock (a typed seam: the operator's defer state, echoed by the trigger).

    Times are the real clock's (the Lease's expiry is): `deadline` is the bound converted to it."""

    deadline: str  # ISO: give up if the lock is still held then
    since: str  # ISO: when this run began waiting for the lock
    why: str  # why the deadline is that moment (WaitBound.why)

    @property
    def deadline_at(self) -> datetime:
        return datetime.fromisoformat(self.deadline)

    @property
    def since_at(self) -> datetime:
        return datetime.fromisoformat(self.since)

    def to_dict(self) -> Obj:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Obj) -> LockWait:
        if not isinstance(data, dict) or set(data) != {"deadline", "since", "why"}:
            raise ValueError(f"a LockWait is a dict with deadline, since and why; got {data!r}")
        return cls(**data)


LockWaitAction = Literal["take", "wait", "give_up", "refuse"]


@dataclass(frozen=True)
class LockWaitDecision:
    action: LockWaitAction
    reason: str  # a sentence for the task log (and the failure, on give_up / refuse)
    holder: str | None  # the live holder seen (None: free)
    since: str | None  # ISO: when that holder took it
    expires: str | None  # ISO: when its lease runs out unless renewed
    look_again_at: str | None = None  # wait: when to read the Lease again (ISO)

    def to_dict(self) -> Obj:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Obj) -> LockWaitDecision:
        return cls(**data)


def decide_lock_wait(
    state: LeaseState,
    holder: str,
    now: datetime,
    wait: LockWait,
    *,
    stop: StopMark | None = None,
    poll_seconds: float = POLL_SECONDS,
) -> LockWaitDecision:
    """What a run (`holder`) waiting for the lock under `wait` does at `now` (aware, the real clock)."""
    seen: Obj = {
        "holder": state.holder,
        "since": state.since.isoformat() if state.since else None,
        "expires": state.expires.isoformat() if state.expires else None,
    }
    if stop is not None:
        refusal = stop.refusal()
        return LockWaitDecision("refuse", refusal[:1].upper() + refusal[1:] + ".", **seen)
    if state.holder is None:
        found = f"expired (last holder {state.last_holder})" if state.last_holder else "free"
        return LockWaitDecision("take", f"the lock is {found}", **seen)
    if state.holder == holder:
        return LockWaitDecision("take", f"the lock is already held by this run ({holder})", **seen)
    deadline = wait.deadline_at
    waited = now - wait.since_at
    if now >= deadline:
        return LockWaitDecision(
            "give_up",
            f"{state.describe()}; this run waited {_seconds(waited)} for it, up to its deadline "
            f"{_at(deadline)} ({wait.why}), and gives up. Trigger it again for a later window once that "
            "deployment has finished (or, if it is dead, its lease has expired)",
            **seen,
        )
    look = min(now + timedelta(seconds=max(poll_seconds, 0.1)), deadline)
    if state.expires is not None and now < state.expires < look:
        look = state.expires  # a holder that stops renewing frees it then
    return LockWaitDecision(
        "wait",
        f"{state.describe()}; waiting for it (waited {_seconds(waited)} so far), at most until "
        f"{_at(deadline)}, {_seconds(deadline - now)} from now ({wait.why})",
        look_again_at=look.isoformat(),
        **seen,
    )
