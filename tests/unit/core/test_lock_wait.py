"""The wait for a deploy lock another run holds (airlock.lock_wait): its bound and each decision (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airlock.kube.lock import new_lease
from airlock.lock_wait import (
    LeaseState,
    LockWait,
    LockWaitDecision,
    decide_lock_wait,
    longest_wait,
    next_freeze_start,
    wait_bound,
)
from airlock.spec import parse_spec
from airlock.stop_line import StopMark
from airlock.timeouts import QUICK, task_timeouts

ME = "inst-a/scheduled__2026-12-01T02:00:00+00:00"
HOTFIX = "inst-a/manual__2026-12-01T01:50:00+00:00"
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # a Tuesday


def windows(**extra):
    return parse_spec({"service": "web", "image": "reg.example/web", "windows": extra}).windows


def held_lease(holder: str = HOTFIX, at: datetime = T0 - timedelta(minutes=10), ttl: int = 1800):
    return new_lease("web", holder, at, ttl)


def wait(deadline: datetime = T0 + timedelta(hours=2), since: datetime = T0) -> LockWait:
    return LockWait(deadline=deadline.isoformat(), since=since.isoformat(), why="the window closes then")


# -- how long ------------------------------------------------------------------------------------------


def test_a_run_with_off_peak_windows_waits_until_the_window_it_got_closes():
    cal = windows(timezone="Europe/Berlin", off_peak=["Mon-Fri 01:00-05:00"])
    opened = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 01:00 in Berlin: the window just opened
    bound = wait_bound(cal, opened, timedelta(hours=3))
    assert bound.until == datetime(2026, 12, 1, 4, 0, tzinfo=UTC)  # 05:00 Berlin
    assert "the off-peak window it got closes at Tue 2026-12-01 05:00:00 CET (04:00:00 UTC)" in bound.why
    # opened later in the same window: the same close, so less time to wait
    assert wait_bound(cal, opened + timedelta(hours=3), timedelta(0)).until == bound.until


def test_a_window_crossing_midnight_bounds_the_wait_on_the_next_day():
    cal = windows(off_peak=["Daily 22:00-02:00"])
    assert wait_bound(cal, datetime(2026, 12, 1, 23, 30, tzinfo=UTC), timedelta(0)).until == datetime(
        2026, 12, 2, 2, 0, tzinfo=UTC
    )


def test_a_gate_moment_outside_every_window_leaves_nothing_to_wait():
    cal = windows(off_peak=["Mon-Fri 01:00-05:00"])
    late = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    bound = wait_bound(cal, late, timedelta(0))
    assert bound.until == late and "no off-peak window is open" in bound.why


def test_a_service_without_windows_waits_what_is_left_of_max_wait():
    cal = windows(max_wait="6h")
    bound = wait_bound(cal, T0, timedelta(hours=2))
    assert bound.until == T0 + timedelta(hours=4)
    assert "windows.max_wait = 6h, of which it waited 2h for its window" in bound.why
    assert wait_bound(cal, T0, timedelta(hours=7)).until == T0, "max_wait used up: no wait left"


def test_the_wait_never_runs_into_a_change_freeze():
    cal = windows(off_peak=["Daily 22:00-04:00"], freezes=["2026-12-02..2026-12-03"])
    bound = wait_bound(cal, datetime(2026, 12, 1, 22, 30, tzinfo=UTC), timedelta(0))
    assert bound.until == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
    assert bound.why.startswith("a change freeze begins at Wed 2026-12-02 00:00:00 UTC")
    assert next_freeze_start(cal, datetime(2026, 12, 2, 1, 0, tzinfo=UTC)) is None  # inside it: none later


def test_the_longest_possible_wait_is_the_longest_window_or_max_wait():
    assert longest_wait(windows(off_peak=["Mon-Fri 01:00-05:00", "Daily 22:00-02:00"])) == timedelta(hours=4)
    assert longest_wait(windows(off_peak=["Sun 00:00-24:00"])) == timedelta(hours=24)
    assert longest_wait(windows(max_wait="2d")) == timedelta(days=2)
    spec = parse_spec({"service": "web", "image": "r/web", "windows": {"off_peak": ["Daily 01:00-03:30"]}})
    assert task_timeouts(spec).lock == timedelta(hours=2, minutes=30) + timedelta(minutes=10) + QUICK
    assert task_timeouts(spec).lock > task_timeouts(spec).quick


# -- what now ------------------------------------------------------------------------------------------


def test_a_held_lock_is_waited_for_naming_the_holder_and_the_bound():
    now = T0 + timedelta(minutes=5)
    d = decide_lock_wait(LeaseState.from_lease(held_lease(), now), ME, now, wait(), poll_seconds=10)
    assert d.action == "wait" and d.holder == HOTFIX
    assert d.reason.startswith(
        f'held by "{HOTFIX}" since 2026-12-01 01:50:00 UTC, until 2026-12-01 02:20:00 UTC unless renewed'
    )
    assert (
        "waited 5m so far" in d.reason and "at most until 2026-12-01 04:00:00 UTC, 1h55m from now" in d.reason
    )
    assert d.look_again_at == (now + timedelta(seconds=10)).isoformat()


def test_the_next_look_is_at_the_holders_expiry_or_the_deadline_when_sooner():
    now = T0 - timedelta(minutes=5, seconds=5)  # the lease (taken 01:50, 300 s) expires 5 s from now
    short = held_lease(ttl=300)
    d = decide_lock_wait(LeaseState.from_lease(short, now), ME, now, wait(since=now), poll_seconds=10)
    assert d.look_again_at == (T0 - timedelta(minutes=5)).isoformat()
    near = wait(deadline=now + timedelta(seconds=3), since=now)
    d = decide_lock_wait(LeaseState.from_lease(held_lease(), now), ME, now, near, poll_seconds=10)
    assert d.look_again_at == near.deadline


def test_a_free_expired_or_own_lock_is_taken():
    now = T0
    assert decide_lock_wait(LeaseState.from_lease(None, now), ME, now, wait()).action == "take"
    expired = held_lease(at=T0 - timedelta(hours=1))
    d = decide_lock_wait(LeaseState.from_lease(expired, now), ME, now, wait())
    assert d.action == "take" and d.reason == f"the lock is expired (last holder {HOTFIX})"
    mine = decide_lock_wait(LeaseState.from_lease(held_lease(ME), now), ME, now, wait())
    assert mine.action == "take" and "already held by this run" in mine.reason


def test_at_the_deadline_it_gives_up_naming_holder_wait_and_deadline():
    deadline = T0 + timedelta(minutes=30)
    now = deadline + timedelta(seconds=1)
    lease = held_lease(at=now - timedelta(seconds=30))
    d = decide_lock_wait(LeaseState.from_lease(lease, now), ME, now, wait(deadline=deadline))
    assert d.action == "give_up" and d.look_again_at is None
    assert f'held by "{HOTFIX}"' in d.reason
    assert "this run waited 30m1s for it, up to its deadline 2026-12-01 02:30:00 UTC" in d.reason
    assert "(the window closes then)" in d.reason


def test_a_stopped_line_is_refused_never_waited_out():
    mark = StopMark("web", "production", "manual__bad", "rollback failed", "2026-12-01T01:00:00+00:00")
    for lease in (None, held_lease()):
        d = decide_lock_wait(LeaseState.from_lease(lease, T0), ME, T0, wait(), stop=mark)
        assert d.action == "refuse" and d.reason.startswith("The line is stopped for web")
        assert "manual__bad" in d.reason


def test_the_seams_round_trip_and_reject_a_malformed_wait():
    w = wait()
    assert LockWait.from_dict(w.to_dict()) == w
    d = decide_lock_wait(LeaseState.from_lease(held_lease(), T0), ME, T0, w)
    assert LockWaitDecision.from_dict(d.to_dict()) == d
    with pytest.raises(ValueError, match="deadline, since and why"):
        LockWait.from_dict({"deadline": T0.isoformat()})
