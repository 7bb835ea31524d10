"""decide_window: the window gate's decision as a pure function of the calendar, the clock and the run."""

from __future__ import annotations

from datetime import datetime, timedelta

from airlock.spec import Windows
from airlock.window_decision import WindowDecision, decide_window

BERLIN = Windows(timezone="Europe/Berlin", off_peak=["Daily 02:00-04:00"], freezes=["2026-12-20..2027-01-04"])


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_open_window_goes() -> None:
    d = decide_window(BERLIN, at("2026-03-10T02:30:00+01:00"), mode="next_window", risk="planned")
    assert (d.action, d.decision) == ("go", "open")
    assert "closes at Tue 2026-03-10 04:00:00 CET" in d.reason


def test_closed_window_waits_until_it_opens() -> None:
    d = decide_window(BERLIN, at("2026-03-10T01:59:57+01:00"), mode="next_window", risk="planned")
    assert (d.action, d.decision, d.wait_seconds) == ("wait", "closed", 3.0)
    assert d.opens_at == "2026-03-10T02:00:00+01:00"


def test_after_waiting_the_decision_says_waited() -> None:
    d = decide_window(
        BERLIN,
        at("2026-03-10T02:00:01+01:00"),
        mode="next_window",
        risk="planned",
        waited=timedelta(seconds=4),
        deferrals=1,
    )
    assert (d.action, d.decision, d.waited_seconds, d.deferrals) == ("go", "waited", 4.0, 1)


def test_freeze_blocks_now_unless_hotfix() -> None:
    now = at("2026-12-24T10:00:00+01:00")
    blocked = decide_window(BERLIN, now, mode="now", risk="planned")
    assert (blocked.action, blocked.decision, blocked.freeze) == ("block", "frozen", "2026-12-20..2027-01-04")
    assert "re-run with risk=hotfix" in blocked.reason
    hotfix = decide_window(BERLIN, now, mode="now", risk="hotfix")
    assert (hotfix.action, hotfix.decision, hotfix.hotfix_override) == ("go", "hotfix_override", True)


def test_window_now_outside_off_peak_goes() -> None:
    d = decide_window(BERLIN, at("2026-03-10T12:00:00+01:00"), mode="now", risk="planned")
    assert (d.action, d.decision) == ("go", "now")


def test_next_window_beyond_max_wait_is_blocked_with_numbers() -> None:
    d = decide_window(BERLIN, at("2026-12-24T10:00:00+01:00"), mode="next_window", risk="planned")
    assert (d.action, d.decision) == ("block", "too_far")
    assert "exceeds windows.max_wait = 7d" in d.reason and "change freeze 2026-12-20..2027-01-04" in d.reason


def test_time_already_waited_counts_against_max_wait() -> None:
    cal = Windows(off_peak=["Daily 02:00-04:00"], max_wait="2h")
    now = at("2026-03-10T01:00:00+00:00")  # one hour before the window
    assert decide_window(cal, now, mode="next_window", risk="planned").action == "wait"
    late = decide_window(cal, now, mode="next_window", risk="planned", waited=timedelta(hours=1, minutes=1))
    assert (late.action, late.decision) == ("block", "too_far")


def test_round_trip() -> None:
    d = decide_window(BERLIN, at("2026-03-10T02:30:00+01:00"), mode="next_window", risk="planned")
    assert WindowDecision.from_dict(d.to_dict()) == d
    assert d.to_dict()["opened_at"] == d.now
