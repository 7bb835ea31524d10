"""DeploymentApprovalOperator without a running Airflow: what it asks, and what each answer does.

The answers are the events Airflow 3.3 resumes a parked human-in-the-loop task with
(models/hitl.py `as_resume_event_payload`): a person's answer carries `responded_by_user`; the scheduler's
timeout sweep gives the `defaults` with `responded_by_user: None` and `timedout: True`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException, TaskAwaitingInput

from airlock import people
from airlock.run_request import build_run_request
from airlock.spec import parse_spec, spec_to_dict
from operators import approval as approval_module
from operators.approval import DeploymentApprovalOperator, describe_result, gather_evidence
from operators.xcom_keys import DECISIONS_KEY, FAILURE_REASON_KEY

ASKED = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)


def _spec(**approvals: Any) -> Any:
    return parse_spec(
        {
            "service": "web",
            "image": "registry.local/web",
            "strategy": {"allowed": ["canary", "rolling"], "canary": {"steps": [25, 50, 100]}},
            "approvals": {
                "before_production": True,
                "before_last_canary_step": True,
                "approvers": ["alice", "bob"],
                "hotfix_approvers": ["dave"],
                "timeout": "20s",
                **approvals,
            },
        }
    )


def _op(gate: people.Gate = "before_production", spec: Any = None, **conf: Any) -> DeploymentApprovalOperator:
    s = spec or _spec()
    request = build_run_request({"version": "2.0.0", **conf}, s, run_id="manual__1", triggered_by="carol")
    return DeploymentApprovalOperator(
        task_id="before_production" if gate == "before_production" else "approve_promotion",
        spec=spec_to_dict(s),
        gate=gate,
        request=request,
        evidence={
            "preflight": ["preflight.checks"],
            "plan": ["production.record_rollback_plan"],
            "verdicts": ["production.canary.analysis_1", "production.canary.analysis_2"],
        },
    )


class FakeTI:
    def __init__(self, xcoms: dict[str, Any] | None = None) -> None:
        self.id = "0193-ti"
        self.run_id, self.dag_id, self.task_id, self.map_index = "manual__1", "deploy_web", "t", -1
        self.xcoms = xcoms or {}
        self.pushed: dict[str, Any] = {}

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        return self.xcoms.get(task_ids if key == "return_value" else f"{task_ids}:{key}")

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def _answer(
    choice: str, by: str | None, comment: str | None = None, timedout: bool = False
) -> dict[str, Any]:
    return {
        "chosen_options": [choice],
        "params_input": {people.COMMENT_PARAM: comment},
        "responded_at": ASKED + timedelta(seconds=42),
        "responded_by_user": {"id": by, "name": by} if by else None,
        "timedout": timedout,
    }


def _complete(op: DeploymentApprovalOperator, event: dict[str, Any]) -> tuple[FakeTI, Any]:
    ti = FakeTI()
    result = op.execute_complete({"ti": ti, "task_instance": ti}, event, asked_at=ASKED.isoformat())
    return ti, result


def test_approve_by_a_person_goes_on_and_records_who_when_and_why() -> None:
    ti, result = _complete(_op(), _answer(people.APPROVE, "alice", "  staging looked fine  "))
    decision = ti.pushed[DECISIONS_KEY][0]
    assert result == decision
    assert (decision["choice"], decision["action"], decision["by"]) == ("Approve", "approve", "alice")
    assert decision["comment"] == "staging looked fine" and decision["timed_out"] is False
    assert decision["waited_s"] == 42.0 and decision["gate"] == "before_production"
    assert FAILURE_REASON_KEY not in ti.pushed


def test_reject_by_a_person_fails_the_task_with_their_words() -> None:
    op = _op("before_last_canary_step")
    with pytest.raises(AirflowFailException) as err:
        _complete(op, _answer(people.REJECT, "bob", "p99 looks odd"))
    sentence = str(err.value)
    assert sentence.startswith(
        "approval before the canary's last step: 'Reject' by bob at 2026-12-02 18:00:42"
    )
    assert sentence.endswith(": p99 looks odd")
    # the same sentence reaches the record (decisions) and the rollback's reason (failure_reason)
    ti = FakeTI()
    with pytest.raises(AirflowFailException):
        op.execute_complete(
            {"ti": ti}, _answer(people.REJECT, "bob", "p99 looks odd"), asked_at=ASKED.isoformat()
        )
    assert ti.pushed[FAILURE_REASON_KEY] == sentence
    assert ti.pushed[DECISIONS_KEY][0]["action"] == "reject"


def test_nobody_answering_in_time_rejects_by_default() -> None:
    op = _op()
    assert op.defaults == [people.REJECT] and op.response_timeout == timedelta(seconds=20)
    ti = FakeTI()
    with pytest.raises(AirflowFailException) as err:
        op.execute_complete(
            {"ti": ti}, _answer(people.REJECT, None, timedout=True), asked_at=ASKED.isoformat()
        )
    decision = ti.pushed[DECISIONS_KEY][0]
    assert decision["timed_out"] is True and decision["by"] is None
    assert "nobody answered in time: the timeout chose 'Reject' after 42s" in str(err.value)


def test_on_timeout_approve_lets_the_timeout_approve() -> None:
    op = _op(spec=_spec(on_timeout="approve"))
    assert op.defaults == [people.APPROVE]
    ti, result = _complete(op, _answer(people.APPROVE, None, timedout=True))
    assert result["action"] == "approve" and result["timed_out"] is True


def test_an_answer_that_is_not_an_option_fails_loudly() -> None:
    with pytest.raises(ValueError, match="not in"):
        _complete(_op(), _answer("Maybe", "alice"))


def test_not_an_approval_gate_is_refused_naming_the_value() -> None:
    with pytest.raises(ValueError, match="gate='hold' is not an approval; allowed: before_production"):
        DeploymentApprovalOperator(task_id="x", spec=spec_to_dict(_spec()), gate="hold")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("gate", "conf", "spec_extra", "words"),
    [
        ("before_production", {"dry_run": True}, {}, "dry run"),
        ("before_last_canary_step", {"strategy": "rolling"}, {}, "this run uses rolling"),
        ("before_production", {}, {"before_production": False}, "approvals.before_production is off"),
    ],
)
def test_skips_when_nothing_is_to_be_asked(gate: Any, conf: dict, spec_extra: dict, words: str) -> None:
    op = _op(gate, spec=_spec(**spec_extra), **conf)
    with pytest.raises(AirflowSkipException, match=words):
        op.execute({"ti": FakeTI()})


def test_asking_writes_the_question_and_parks_with_when_it_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: dict[str, Any] = {}
    monkeypatch.setattr(
        "airflow.providers.standard.operators.hitl.upsert_hitl_detail", lambda **kw: asked.update(kw)
    )
    op = _op("before_last_canary_step", risk="hotfix")
    ti = FakeTI(
        {
            "preflight.checks": [{"name": "ci", "status": "pass", "reason": "build 41 green"}],
            "production.record_rollback_plan": {"images": {"app": "registry.local/web:v1"}},
            "production.canary.analysis_2": {"decision": "pass", "reason": "error rate 0.2 % vs limit 5 %"},
        }
    )
    with pytest.raises(TaskAwaitingInput) as parked:
        op.execute({"ti": ti, "task_instance": ti})
    assert parked.value.timeout == timedelta(seconds=20)
    assert datetime.fromisoformat(parked.value.kwargs["asked_at"]) <= datetime.now(UTC)
    # a hotfix asks the hotfix approvers
    assert asked["assigned_users"] == [{"id": "dave", "name": "dave"}]
    assert asked["options"] == ["Approve", "Reject"] and asked["defaults"] == ["Reject"]
    assert asked["subject"] == "Approve web 2.0.0 (HOTFIX): promote the canary to 100 % (now at 50 %)?"
    body = asked["body"]
    for words in ("production now: v1", "ci: pass - build 41 green", "canary now at 50 %",
                  "production.canary.analysis_2: pass - error rate 0.2 % vs limit 5 %", "**Reject**: stop here"):  # fmt: skip
        assert words in body, words
    assert set(asked["params"]) == {people.COMMENT_PARAM}


def test_no_approvers_means_anyone_allowed_may_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: dict[str, Any] = {}
    monkeypatch.setattr(
        "airflow.providers.standard.operators.hitl.upsert_hitl_detail", lambda **kw: asked.update(kw)
    )
    op = _op(spec=_spec(approvers=[], hotfix_approvers=None))
    with pytest.raises(TaskAwaitingInput):
        op.execute({"ti": FakeTI(), "task_instance": FakeTI()})
    assert asked["assigned_users"] is None


def test_evidence_lines_from_earlier_results() -> None:
    assert describe_result("staging.health", {"status": "pass", "reason": "200 in 12 ms"}) == [
        "staging.health: pass - 200 in 12 ms"
    ]
    assert describe_result("x", None) == []
    s = _spec()
    request = build_run_request({"version": "2.0.0"}, s, run_id="r", triggered_by="carol")
    evidence = gather_evidence(
        {
            "verdicts": {"a1": {"decision": "pass", "reason": "ok"}, "a2": None},
            "plan": {"production.record_rollback_plan": None},
        },
        request,
        "before_production",
    )
    # the last gate that ran counts (a2 did not run); no plan yet before production; no canary weight
    assert evidence == people.Evidence(last_verdict="a1: pass - ok")
    assert approval_module.EVIDENCE_FIELDS == ("preflight", "staging", "plan", "verdicts")


def test_a_retry_acts_on_the_answer_an_earlier_try_got(monkeypatch: pytest.MonkeyPatch) -> None:
    """The answer came within seconds and Airflow's scheduler failed the resumed try (a stale executor
    event): the retry must not ask again, it acts on what the person answered."""
    asked: list[Any] = []
    monkeypatch.setattr(
        "airflow.providers.standard.operators.hitl.upsert_hitl_detail", lambda **kw: asked.append(kw)
    )
    op = _op("before_last_canary_step")
    reads: list[int] = []

    def read(dag_id: str, run_id: str, task_id: str, try_number: int | None) -> dict[str, Any]:
        reads.append(try_number)
        if try_number is None:  # the retry runs under a new id: no question of its own yet
            return {}
        return {
            "response_received": True,
            "chosen_options": ["Reject"],
            "params_input": {"comment": "p99 looks odd"},
            "responded_at": "2026-12-02T18:00:42Z",
            "responded_by_user": {"id": "alice", "name": "alice"},
            "created_at": "2026-12-02T18:00:40Z",
        }

    monkeypatch.setattr(op, "read_answer", read)
    ti = FakeTI()
    ti.try_number = 2
    with pytest.raises(
        AirflowFailException, match="'Reject' by alice at 2026-12-02 18:00:42 UTC: p99 looks odd"
    ):
        op.execute({"ti": ti, "task_instance": ti})
    assert reads == [None, 1] and asked == []  # read try 1's answer, asked nobody again
    assert ti.pushed[DECISIONS_KEY][0]["waited_s"] == 2.0


def test_a_retry_asks_again_when_no_earlier_try_was_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[Any] = []
    monkeypatch.setattr(
        "airflow.providers.standard.operators.hitl.upsert_hitl_detail", lambda **kw: asked.append(kw)
    )
    op = _op()
    monkeypatch.setattr(op, "read_answer", lambda *a: {"response_received": False})
    ti = FakeTI()
    ti.try_number = 2
    with pytest.raises(TaskAwaitingInput):
        op.execute({"ti": ti, "task_instance": ti})
    assert len(asked) == 1
    # the earlier answers cannot be read (no airlock_api connection): ask again rather than fail
    monkeypatch.setattr(op, "read_answer", lambda *a: (_ for _ in ()).throw(RuntimeError("no connection")))
    with pytest.raises(TaskAwaitingInput):
        op.execute({"ti": ti, "task_instance": ti})
    assert len(asked) == 2


def test_a_retry_under_the_same_id_finds_the_answer_on_its_own_question(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Failed while queued, the task instance keeps its id: the answer is on its current question, and the
    REST API has no history of try 1 to show."""
    monkeypatch.setattr("airflow.providers.standard.operators.hitl.upsert_hitl_detail", lambda **kw: None)
    op = _op()
    own = {
        "response_received": True,
        "chosen_options": ["Approve"],
        "params_input": {"comment": "hotfix for INC-42"},
        "responded_at": "2026-12-02T18:00:42+00:00",
        "responded_by_user": {"id": "dave", "name": "dave"},
    }
    monkeypatch.setattr(op, "read_answer", lambda d, r, t, try_number: {} if try_number else own)
    ti = FakeTI()
    ti.try_number = 2
    result = op.execute({"ti": ti, "task_instance": ti})
    assert (result["by"], result["choice"], result["comment"]) == ("dave", "Approve", "hotfix for INC-42")
    assert result["waited_s"] is None  # when it was asked is not known on this path


class FakeLeases:
    """The Lease API as the lock sees it: get / replace of one Lease."""

    def __init__(self, holder: str, renewed: datetime, ttl: int = 300) -> None:
        self.lease: dict[str, Any] = {
            "metadata": {"name": "airlock-web", "resourceVersion": "7"},
            "spec": {
                "holderIdentity": holder,
                "leaseDurationSeconds": ttl,
                "renewTime": renewed.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            },
        }
        self.writes: list[dict[str, Any]] = []

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        return self.lease

    def replace(self, resource: str, namespace: str, name: str, body: dict[str, Any], what: str = "") -> None:
        self.writes.append(body)
        self.lease = body


def _locked_op(monkeypatch: pytest.MonkeyPatch, leases: FakeLeases) -> DeploymentApprovalOperator:
    monkeypatch.setattr("airflow.providers.standard.operators.hitl.upsert_hitl_detail", lambda **kw: None)
    monkeypatch.setattr("operators.lease.fenced_dag", lambda task: True)  # a deploy DAG with acquire_lock
    op = _op("before_last_canary_step")
    monkeypatch.setattr(op, "lock_kube", lambda spec: leases)
    return op


def test_the_lock_lasts_the_whole_wait_and_shrinks_back_once_answered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from operators.lease import run_holder

    leases = FakeLeases(run_holder("manual__1"), datetime.now(UTC))
    op = _locked_op(monkeypatch, leases)
    ti = FakeTI()
    with pytest.raises(TaskAwaitingInput):
        op.execute({"ti": ti, "task_instance": ti})
    # the 20 s question + the lease TTL (300 s): nothing renews the lease while the task awaits input
    assert leases.writes[-1]["spec"]["leaseDurationSeconds"] == 20 + 300
    assert leases.writes[-1]["spec"]["holderIdentity"] == run_holder("manual__1")
    with pytest.raises(AirflowFailException):
        op.execute_complete({"ti": ti}, _answer(people.REJECT, "alice"), asked_at=ASKED.isoformat())
    assert leases.writes[-1]["spec"]["leaseDurationSeconds"] == 300


def test_a_lock_taken_by_another_run_fails_before_asking(monkeypatch: pytest.MonkeyPatch) -> None:
    leases = FakeLeases("other-installation/manual__9", datetime.now(UTC))
    op = _locked_op(monkeypatch, leases)
    ti = FakeTI()
    with pytest.raises(AirflowFailException, match="FENCED: deploy lock .*other-installation/manual__9"):
        op.execute({"ti": ti, "task_instance": ti})
    assert leases.writes == [] and "FENCED" in ti.pushed[FAILURE_REASON_KEY]


def test_evidence_reads_a_verdict_stored_as_json_text() -> None:
    s = _spec()
    request = build_run_request({"version": "2.0.0"}, s, run_id="r", triggered_by="carol")
    text = '{"decision": "pass", "reason": "error rate 0.1 % vs limit 5 %"}'
    evidence = gather_evidence({"verdicts": {"a1": text}}, request, "before_production")
    assert evidence.last_verdict == "a1: pass - error rate 0.1 % vs limit 5 %"
