"""airlock.people: who is asked, what each answer does, and the Decision a response becomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airlock import people
from airlock.run_request import build_run_request
from airlock.spec import SpecError, parse_spec

BASE = {"service": "web", "image": "registry.local/web"}


def spec(**extra):
    return parse_spec({**BASE, **extra})


def request(s, **conf):
    return build_run_request({"version": "v1.2.3", **conf}, s, run_id="manual__1", triggered_by="carol")


def test_spec_approvals_hold_and_pauses_default_off() -> None:
    s = spec()
    assert not s.approvals.any and s.strategy.canary.pause_at == []
    assert (s.hold.timeout, s.hold.on_timeout) == (timedelta(hours=1), "rollback")
    # unset: judge.resolve_inconclusive picks (rollback here: nobody named to ask, no Slack)
    assert s.metrics.on_inconclusive is None


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        ({"strategy": {"canary": {"steps": [10, 50, 100], "pause_at": [25]}}}, "pause_at", "[25] not among"),
        ({"strategy": {"canary": {"steps": [10, 50, 100], "pause_at": [100]}}}, "pause_at", "100"),
        ({"approvals": {"on_timeout": "maybe"}}, "approvals.on_timeout", "'reject' or 'approve'"),
        ({"approvals": {"approvers": ["a b"]}}, "approvals.approvers.0", "pattern"),
        ({"hold": {"on_timeout": "wait"}}, "hold.on_timeout", "'rollback', 'promote' or 'continue'"),
        ({"metrics": {"on_inconclusive": "ask"}}, "metrics.on_inconclusive", "'hold'"),
        (
            {
                "approvals": {"before_last_canary_step": True},
                "strategy": {"allowed": ["rolling"], "default": "rolling"},
            },
            "approvals.before_last_canary_step",
            "no canary",
        ),
    ],
)
def test_bad_people_settings_name_the_field(extra, field, words) -> None:
    with pytest.raises(SpecError) as err:
        spec(**extra)
    assert field in str(err.value) and words in str(err.value)


def test_hotfix_asks_its_own_approvers_and_hold_defaults_to_approvers() -> None:
    s = spec(approvals={"before_production": True, "approvers": ["alice"], "hotfix_approvers": ["oncall"]})
    assert people.approvers(s, request(s)) == ["alice"]
    assert people.approvers(s, request(s, risk="hotfix")) == ["oncall"]
    assert people.hold_approvers(s, request(s)) == ["alice"]
    s2 = spec(approvals={"approvers": ["alice"]}, hold={"approvers": ["sre"]})
    assert people.hold_approvers(s2, request(s2, risk="hotfix")) == ["sre"]


def test_timeouts_choose_the_configured_answer() -> None:
    assert people.approval_timeout_option(spec()) == people.REJECT
    assert people.approval_timeout_option(spec(approvals={"on_timeout": "approve"})) == people.APPROVE
    assert people.hold_timeout_option(spec(), canary=True) == people.ROLL_BACK
    promote = spec(hold={"on_timeout": "promote"})
    assert people.hold_timeout_option(promote, canary=True) == people.PROMOTE_NOW
    assert people.hold_timeout_option(promote, canary=False) == people.CONTINUE


def test_pauses_follow_the_runs_own_steps() -> None:
    s = spec(strategy={"canary": {"steps": [10, 25, 50, 100], "pause_at": [25]}})
    full, short = request(s), request(s, canary_steps="50,100")
    assert [people.pauses_after(s, full, slot) for slot in range(3)] == [False, True, False]
    assert not any(people.pauses_after(s, short, slot) for slot in range(3))


def test_a_response_becomes_a_decision_with_who_when_and_why() -> None:
    asked = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    d = people.decision_from_response(
        gate="before_production",
        task_id="approve_production",
        chosen_options=["Reject"],
        responded_by={"id": "alice", "name": "alice"},
        responded_at=asked + timedelta(minutes=3),
        params_input={"comment": "  error budget is spent  "},
        asked_at=asked,
        options=people.APPROVAL_OPTIONS,
    )
    assert (d.action, d.by, d.comment, d.timed_out, d.waited_s) == (
        "reject",
        "alice",
        "error budget is spent",
        False,
        180,
    )
    assert d.sentence() == (
        "approval before production: 'Reject' by alice at 2026-12-02 12:03:00 UTC: error budget is spent"
    )
    assert people.Decision.from_dict(d.to_dict()) == d


def test_a_timeout_default_is_said_to_be_one() -> None:
    d = people.decision_from_response(
        gate="hold",
        task_id="production.canary.analysis_1",
        chosen_options=[people.ROLL_BACK],
        responded_by=None,
        responded_at="2026-12-02T13:00:00+00:00",
        timed_out=True,
        asked_at=datetime(2026, 12, 2, 12, 0, tzinfo=UTC),
    )
    assert d.action == "rollback" and d.by is None
    assert "nobody answered in time: the timeout chose 'Roll back now' after 1h" in d.sentence()


def test_an_answer_outside_the_options_is_refused() -> None:
    with pytest.raises(people.ResponseError, match="not exactly one of"):
        people.decision_from_response(
            gate="control",
            task_id="t",
            chosen_options=["Promote now"],
            responded_by=None,
            responded_at="2026-12-02T13:00:00+00:00",
            options=people.GATE_OPTIONS,
        )


def test_approval_body_shows_what_a_person_needs() -> None:
    s = spec(approvals={"before_production": True, "timeout": "2h"})
    r = request(s, change_summary="new checkout flow", risk="hotfix")
    body = people.approval_body(
        "before_production",
        s,
        r,
        people.Evidence(
            previous_version="registry.local/web:v1.2.2",
            preflight=("ci: passed",),
            last_verdict="soak passed",
        ),
        people.approval_timeout_option(s),
    )
    for needed in (
        "registry.local/web:v1.2.3",
        "new checkout flow",
        "v1.2.2",
        "hotfix",
        "ci: passed",
        "soak passed",
        "within 2h: **Reject**",
    ):
        assert needed in body, needed
    assert people.approval_subject("before_production", s, r) == "Approve web v1.2.3 (HOTFIX): production?"
