"""Issue 12 points 1 and 6: approvals through a real Airflow, answered over the REST API as people would.

Each scenario's service asks for an approval (spec `approvals`); a person logs in (SimpleAuthManager
users of the stack, tests/faults/people.py) and answers the question as the UI's Required actions page
does. Besides the matrix's invariant (one version everywhere, the record, the lock released, Slack told
the outcome), each checks the record's `decisions`, the run's reason, the run note, who Airflow says
answered, and the Slack messages (asked; the outcome repeats the decision).

The people answer as soon as the question is asked - within a second or two, faster than a person in the
UI. That meets an Airflow 3.3 scheduler race in some runs (operators/approval.py: the resumed try is failed
and its retry acts on the answer); the scenario must end the same either way, and says so in its notes.

* p01: approval before production. carol (not an approver) is refused with 403; alice approves with a
  comment -> deployed; the record's decision is alice's Approve with her comment; Slack was asked
  ("approval before production needed", with the link to Required actions) and the outcome lists her
  approval.
* p02: bob rejects before production -> the run stops at the approval: nothing but the deploy lock's
  Lease was written in the namespace, the record's reason is "rejected by bob: <comment> (...)", Slack's
  outcome says so.
* p03: nobody answers within approvals.timeout (20 s) -> the scheduler's timeout sweep applies
  approvals.on_timeout (reject): stopped, nothing written, "nobody answered" in the record and Slack.
* p04: approval before the canary's last step: asked while the canary serves its 50 % step; alice
  rejects -> the canary is not promoted, the rollback restores v1; the record and Slack say "rejected by
  alice: <comment>".
* p05: a hotfix asks the hotfix approvers: alice (an approver of planned runs) gets 403, dave approves ->
  deployed, recorded with dave's name.
"""

from __future__ import annotations

import time
from typing import Any

from airlock.durations import parse_duration
from demo.slack_standin import message_text
from tests.faults.matrix import RUN_TIMEOUT_S, Driver, Result, Scenario
from tests.faults.people import (
    APPROVERS,
    HOTFIX_APPROVERS,
    NOT_AN_APPROVER,
    answer,
    person,
    required_actions,
    try_answer,
    wait_for_question,
)
from tests.faults.scenarios import zero_writes

BEFORE_PRODUCTION = "approval.before_production"
PROMOTION = "production.canary.approve_promotion"
TIMEOUT_S = 20  # p03's approvals.timeout

DEPLOYED = ("deployed",)
ROLLED_BACK = ("rolled back",)
# matrix.outcome_of names a failed run by the phase it stopped in: a rejection before production stops
# in the record's phase "approval" (airlock.record.PHASES)
STOPPED_AT_APPROVAL = ("failed (in approval)",)


def _approvals(**extra: Any) -> dict[str, Any]:
    return {"approvals": {"approvers": list(APPROVERS), "timeout": "30m", **extra}}


# -- what people do ---------------------------------------------------------------------------------


def _question_for(d: Driver, task_id: str, approvers: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Wait until `task_id` asks; check what it asks as the people see it. Returns (question, problems)."""
    q = wait_for_question(d, task_id)
    problems = []
    assigned = sorted(u["id"] for u in q.get("assigned_users") or [])
    if assigned != sorted(approvers):
        problems.append(f"assigned users {assigned}, expected {sorted(approvers)}")
    if d.scenario.version not in str(q.get("subject")):
        problems.append(f"the subject does not name the version: {q.get('subject')!r}")
    if q.get("options") != ["Approve", "Reject"]:
        problems.append(f"options {q.get('options')}")
    # nothing renews the deploy lock while the task awaits input: it must last the whole wait
    wait = parse_duration(d.scenario.spec["approvals"]["timeout"]).total_seconds()
    lease = d.get(
        f"/apis/coordination.k8s.io/v1/namespaces/{d.scenario.namespace}/leases/airlock-{d.scenario.service}"
    )
    held = int(((lease or {}).get("spec") or {}).get("leaseDurationSeconds") or 0)
    if held < wait:
        problems.append(f"the deploy lock lasts {held}s while the question may wait {wait:.0f}s")
    listed = required_actions(person(d.stack, approvers[0]), d.scenario.dag_id, d.run_id)
    if task_id not in [item["task_instance"]["task_id"] for item in listed]:
        problems.append(f"{approvers[0]}'s Required actions do not list {task_id}: {listed}")
    return q, problems


def _refused(d: Driver, task_id: str, who: str) -> str:
    """`who` tries to answer and must be refused with 403; returns what happened."""
    response = try_answer(person(d.stack, who), d.scenario.dag_id, d.run_id, task_id, "Approve", "let me")
    if response.status_code != 403:
        raise AssertionError(
            f"{who} answered {task_id}: HTTP {response.status_code} {response.text[:200]} (expected 403)"
        )
    return f"{who}: 403"


def approve_as(task_id: str, refused: str, by: str, approvers: list[str], comment: str) -> Any:
    def strike(d: Driver) -> str:
        _, problems = _question_for(d, task_id, approvers)
        if problems:
            d.env.setdefault("people_problems", {}).setdefault(d.scenario.key, []).extend(problems)
        did = [_refused(d, task_id, refused)]
        answer(person(d.stack, by), d.scenario.dag_id, d.run_id, task_id, "Approve", comment)
        did.append(f"{by}: Approve ({comment})")
        return "; ".join(did)

    return strike


def reject_as(task_id: str, by: str, comment: str, canary_live: bool = False) -> Any:
    def strike(d: Driver) -> str:
        q, problems = _question_for(d, task_id, APPROVERS)
        if canary_live:
            # the evidence: the canary's weight, production before the run, the passing analysis
            for words in (
                "canary now at 50 %",
                "production now: v1",
                "**Last verdict**: production.canary.analysis_1: pass",
            ):
                if words not in str(q.get("body")):
                    problems.append(f"the question's body lacks {words!r}: {str(q.get('body'))[:600]!r}")
            canary = d.get(
                f"/apis/apps/v1/namespaces/{d.scenario.namespace}/deployments/{d.scenario.service}-canary"
            )
            replicas = int(((canary or {}).get("spec") or {}).get("replicas") or 0)
            if replicas < 1:
                problems.append(f"asked before the last step, but the canary has {replicas} replicas")
        if problems:
            d.env.setdefault("people_problems", {}).setdefault(d.scenario.key, []).extend(problems)
        answer(person(d.stack, by), d.scenario.dag_id, d.run_id, task_id, "Reject", comment)
        return f"{by}: Reject ({comment})"

    return strike


def nobody_answers(task_id: str) -> Any:
    def strike(d: Driver) -> str:
        _, problems = _question_for(d, task_id, APPROVERS)
        if problems:
            d.env.setdefault("people_problems", {}).setdefault(d.scenario.key, []).extend(problems)
        asked = time.monotonic()
        ti = d.wait_task(task_id, ("success", "failed", "upstream_failed"), timeout=RUN_TIMEOUT_S)
        return f"nobody answered; {task_id} {ti.get('state')} {time.monotonic() - asked:.0f}s after it asked"

    return strike


# -- what must be true afterwards -------------------------------------------------------------------


def _slack_texts(d: Driver) -> list[str]:
    return [message_text(m) for m in d.stack.slack.messages if d.scenario.service in message_text(m)]


def decided(task_id: str, choice: str, by: str | None, comment: str = "", reason: str = "") -> Any:
    """The record holds the decision (who, what, comment); `reason`: the run's reason starts with it;
    Slack was asked and its outcome message repeats the decision."""

    def check(d: Driver, r: Result) -> list[str]:
        problems = list(d.env.get("people_problems", {}).get(d.scenario.key, []))
        record = r.record or {}
        mine = [x for x in record.get("decisions") or [] if x.get("task_id") == task_id]
        if len(mine) != 1:
            return [*problems, f"record decisions for {task_id}: {record.get('decisions')}"]
        got = mine[0]
        want = {"choice": choice, "by": by, "comment": comment, "timed_out": by is None}
        wrong = {k: got.get(k) for k, v in want.items() if got.get(k) != v}
        if wrong:
            problems.append(f"recorded decision {wrong}, expected {want}")
        if reason and not str(record.get("reason") or "").startswith(reason):
            problems.append(f"record reason {record.get('reason')!r}, expected it to start with {reason!r}")
        texts = _slack_texts(d)
        if not any("needed" in t and "Required actions" in t for t in texts):
            problems.append(
                f"Slack was not asked (no 'approval ... needed' message): {[t[:80] for t in texts]}"
            )
        announced = str((d.xcom("announce_outcome") or {}).get("text") or "")
        sentence = str(got.get("sentence") or "")
        if not any(sentence in t for t in texts):  # only the outcome message lists decisions
            problems.append(f"no Slack message shows the decision {sentence!r}")
        if reason and reason not in announced:
            problems.append(f"the outcome message does not say {reason!r}: {announced[:300]!r}")
        note = str(d.api.dag_run(d.scenario.dag_id, d.run_id).get("note") or "")
        if f"Decision: {sentence}" not in note:
            problems.append(f"the run note does not show the decision: {note[:400]!r}")
        tries = int((d.tis().get(task_id) or {}).get("try_number") or 1)
        if tries > 1:  # see operators/approval.py: the answer came within seconds of the question
            r.notes.append(
                f"{task_id}: Airflow failed try 1 after the answer (scheduler race); try {tries} acted on it"
            )
        # the answer as Airflow keeps it: the person's name (the REST API's view of the question)
        q = d.api.request(
            "GET", f"/dags/{d.scenario.dag_id}/dagRuns/{d.run_id}/taskInstances/{task_id}/-1/hitlDetails"
        ).json()
        responder = (q.get("responded_by_user") or {}).get("name")
        if responder != by:
            problems.append(f"Airflow says {responder!r} answered, expected {by!r}")
        return problems

    return check


def also(*checks: Any) -> Any:
    def check(d: Driver, r: Result) -> list[str]:
        return [p for c in checks for p in c(d, r)]

    return check


APPROVAL_SCENARIOS: list[Scenario] = [
    Scenario(
        key="p01-approve",
        fault="approval before production: approved by alice (carol refused: 403)",
        phase="approval before production",
        version="v2",
        expect=DEPLOYED,
        spec=_approvals(before_production=True),
        strike=approve_as(BEFORE_PRODUCTION, NOT_AN_APPROVER, "alice", APPROVERS, "pre-flight all green"),
        check=decided(BEFORE_PRODUCTION, "Approve", "alice", "pre-flight all green"),
    ),
    Scenario(
        key="p02-reject",
        fault="approval before production: rejected by bob",
        phase="approval before production",
        version="v2",
        expect=STOPPED_AT_APPROVAL,
        spec=_approvals(before_production=True),
        strike=reject_as(BEFORE_PRODUCTION, "bob", "not during the sale"),
        check=also(
            decided(
                BEFORE_PRODUCTION,
                "Reject",
                "bob",
                "not during the sale",
                reason="rejected by bob: not during the sale",
            ),
            zero_writes,
        ),
    ),
    Scenario(
        key="p03-timeout",
        fault=f"approval before production: nobody answers in {TIMEOUT_S}s (on_timeout: reject)",
        phase="approval before production",
        version="v2",
        expect=STOPPED_AT_APPROVAL,
        spec=_approvals(before_production=True, timeout=f"{TIMEOUT_S}s"),
        strike=nobody_answers(BEFORE_PRODUCTION),
        check=also(
            decided(BEFORE_PRODUCTION, "Reject", None, reason="rejected: nobody answered"),
            zero_writes,
        ),
    ),
    Scenario(
        key="p04-reject-promo",
        fault="approval before the canary's last step: rejected by alice",
        phase="canary at 50 %, before promotion",
        version="v2",
        expect=ROLLED_BACK,
        spec=_approvals(before_last_canary_step=True),
        strike=reject_as(PROMOTION, "alice", "p99 looks odd", canary_live=True),
        check=decided(
            PROMOTION, "Reject", "alice", "p99 looks odd", reason="rejected by alice: p99 looks odd"
        ),
    ),
    Scenario(
        key="p05-hotfix",
        fault="hotfix approval: alice refused (403), dave (hotfix approver) approves",
        phase="approval before production",
        version="v2",
        expect=DEPLOYED,
        spec=_approvals(before_production=True, hotfix_approvers=list(HOTFIX_APPROVERS)),
        conf={"risk": "hotfix"},
        strike=approve_as(BEFORE_PRODUCTION, "alice", "dave", HOTFIX_APPROVERS, "hotfix for INC-42"),
        check=decided(BEFORE_PRODUCTION, "Approve", "dave", "hotfix for INC-42"),
    ),
]
