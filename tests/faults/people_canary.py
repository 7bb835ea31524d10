"""Issue 12 points 2, 3 and 6: holds, pauses and the controls of a running canary, through a real Airflow,
answered over the REST API as a person in the UI's Required actions would (tests/faults/people.py).

A "low-traffic" canary here is one whose traffic cannot reach `thresholds.min_requests` (2000) in a step:
the world's services all serve the same 14 req/s, so the threshold is raised rather than the traffic
lowered - for the gate it is the same shortfall.

* p11: hold -> promote. `on_inconclusive` unset and a Slack connection: the quiet canary's analysis
  holds (the default for services that cannot reach min_requests), Slack is told; alice answers
  "Promote now" -> the remaining step and its analysis skip, promote runs; the validation gate, just as
  quiet, holds too (GATE_OPTIONS: nothing to skip there) and bob answers "Continue" -> deployed.
* p12: hold -> roll back. `on_inconclusive: hold`; alice answers "Roll back now" -> the rollback
  restores v1; the record's reason is her decision.
* p13: promote now mid-canary: while the first of two steps is still observing (a 120 s step), alice
  answers its question "Promote now" -> the analysis ends at once, step 2 skips, deployed.
* p14: abort mid-canary: while the analysis observes, alice answers "Roll back now" -> rolled back.
* p15: a pause step (`pause_at: [50]`): the passing analysis waits; bob answers "Observe another step"
  -> it observes one more step and pauses again; alice answers "Continue" -> deployed.
* p17: a hold nobody answers: after `hold.timeout` (20 s) Airflow's scheduler applies the question's
  default, `hold.on_timeout` (rollback) -> rolled back, recorded as the timeout's decision.
* p16: abort during a canary *step* (its rollout wait, v4 takes 32 s to start): the admin marks the
  running step failed (REST PATCH of the task instance, the UI's "Mark as failed") -> the rollback runs.
"""

from __future__ import annotations

import time
from typing import Any

from demo.slack_standin import message_text
from tests.faults.matrix import RUN_TIMEOUT_S, Driver, Result, Scenario
from tests.faults.people import answer, person, question, wait_for_question
from tests.faults.world import NEW, SLOW

ANALYSIS_1 = "production.canary.analysis_1"
ANALYSIS_2 = "production.canary.analysis_2"
STEP_1 = "production.canary.step_1"
STEP_2 = "production.canary.step_2"
PROMOTE = "production.canary.promote"
VALIDATION = "validation.metrics"

CANARY_OPTIONS = ["Continue", "Promote now", "Roll back now", "Observe another step"]
GATE_OPTIONS = ["Continue", "Roll back now", "Observe another step"]
HOLDERS = ["alice", "bob"]
QUIET = {"min_requests": 2000}  # more than a 20 s step of this world's traffic can bring
# An answer resumes the task the moment it is given. Given within a second or two of the task parking
# (deferred or awaiting input), Airflow 3.3.2's scheduler may still process the parking process's exit
# ("success") after the answer re-queued the task, and mark it failed ("finished with state success, but
# the task instance's state attribute is queued") - the race of apache/airflow#71580 that the triggers'
# stale-event guard holds their events 12 s for. Seen here twice in the first run (answers 1-3 s after
# the park). A person reads the question before answering; these people wait SETTLE_S as well.
SETTLE_S = 15.0

DEPLOYED = ("deployed",)
ROLLED_BACK = ("rolled back",)


def _spec(
    steps: list[int],
    step: str = "20s",
    pause_at: list[int] | None = None,
    hold_for: str = "30m",
    **metrics: Any,
) -> dict[str, Any]:
    return {
        "strategy": {"canary": {"steps": steps, "step_duration": step, "pause_at": pause_at or []}},
        "metrics": metrics,
        "hold": {"approvers": list(HOLDERS), "timeout": hold_for, "on_timeout": "rollback"},
    }


def _problem(d: Driver, text: str) -> None:
    d.env.setdefault("people_problems", {}).setdefault(d.scenario.key, []).append(text)


def _slack(d: Driver) -> list[str]:
    return [message_text(m) for m in d.stack.slack.messages if d.scenario.service in message_text(m)]


def _check_question(
    d: Driver, task_id: str, q: dict[str, Any], options: list[str], canary_at: int | None
) -> None:
    """What the people see: the fixed options, the default (hold.on_timeout: rollback), who may answer,
    a subject naming the version (and the canary's step)."""
    if q.get("options") != options:
        _problem(d, f"{task_id} options {q.get('options')}, expected {options}")
    if q.get("defaults") != ["Roll back now"]:
        _problem(d, f"{task_id} defaults {q.get('defaults')}, expected ['Roll back now'] (hold.on_timeout)")
    assigned = sorted(u["id"] for u in q.get("assigned_users") or [])
    if assigned != HOLDERS:
        _problem(d, f"{task_id} assigned users {assigned}, expected {HOLDERS}")
    subject = str(q.get("subject") or "")
    want = (
        f"Canary {d.scenario.service} {d.scenario.version} at {canary_at} %"
        if canary_at
        else d.scenario.version
    )
    if want not in subject:
        _problem(d, f"{task_id} subject {subject!r} does not say {want!r}")


def _waits_in_slack(d: Driver, task_id: str, why: str) -> None:
    if not any(task_id in t and why in t and "waits for a person" in t for t in _slack(d)):
        _problem(d, f"Slack was not told that {task_id} {why}: {[t[:100] for t in _slack(d)]}")


# -- what people do ---------------------------------------------------------------------------------------


def hold_then(choice: str, comment: str, validation: tuple[str, str] | None = None) -> Any:
    """The quiet canary's analysis holds; alice answers `choice`; with `validation`, the validation gate
    holds too and bob answers it."""

    def strike(d: Driver) -> str:
        q = wait_for_question(d, ANALYSIS_1)
        time.sleep(SETTLE_S)
        weight = d.scenario.spec["strategy"]["canary"]["steps"][0]
        _check_question(d, ANALYSIS_1, q, CANARY_OPTIONS, weight)
        _waits_in_slack(d, ANALYSIS_1, "is inconclusive (on_inconclusive: hold)")
        answer(person(d.stack, "alice"), d.scenario.dag_id, d.run_id, ANALYSIS_1, choice, comment)
        did = [f"{ANALYSIS_1} held; alice: {choice} ({comment})"]
        if validation is not None:
            v_choice, v_comment = validation
            vq = wait_for_question(d, VALIDATION)
            time.sleep(SETTLE_S)
            _check_question(d, VALIDATION, vq, GATE_OPTIONS, None)
            answer(person(d.stack, "bob"), d.scenario.dag_id, d.run_id, VALIDATION, v_choice, v_comment)
            did.append(f"{VALIDATION} held; bob: {v_choice} ({v_comment})")
        return "; ".join(did)

    return strike


def while_observing(choice: str, comment: str) -> Any:
    """alice answers the analysis's question while it still observes (deferred to the triggerer)."""

    def strike(d: Driver) -> str:
        d.wait_task(ANALYSIS_1, ("deferred",))
        time.sleep(SETTLE_S)
        state = (d.tis().get(ANALYSIS_1) or {}).get("state")
        if state != "deferred":
            raise RuntimeError(f"{ANALYSIS_1} stopped observing before anyone answered ({state})")
        q = question(d.api, d.scenario.dag_id, d.run_id, ANALYSIS_1)
        _check_question(d, ANALYSIS_1, q, CANARY_OPTIONS, d.scenario.spec["strategy"]["canary"]["steps"][0])
        answer(person(d.stack, "alice"), d.scenario.dag_id, d.run_id, ANALYSIS_1, choice, comment)
        return f"{ANALYSIS_1} observing ({SETTLE_S:.0f}s in); alice: {choice} ({comment})"

    return strike


def pause_observe_then_continue(d: Driver) -> str:
    q = wait_for_question(d, ANALYSIS_1)
    time.sleep(SETTLE_S)
    _check_question(d, ANALYSIS_1, q, CANARY_OPTIONS, 50)
    _waits_in_slack(d, ANALYSIS_1, "passed its step at 50 % (strategy.canary.pause_at)")
    answer(
        person(d.stack, "bob"),
        d.scenario.dag_id,
        d.run_id,
        ANALYSIS_1,
        "Observe another step",
        "one more look",
    )
    # it observes one more step (deferred again), then pauses again and asks again
    d.wait_task(ANALYSIS_1, ("deferred", "running", "scheduled", "queued"))
    again = wait_for_question(d, ANALYSIS_1)
    time.sleep(SETTLE_S)
    if again.get("chosen_options"):
        _problem(d, f"the second pause still shows the first answer: {again.get('chosen_options')}")
    answer(person(d.stack, "alice"), d.scenario.dag_id, d.run_id, ANALYSIS_1, "Continue", "looks good twice")
    return f"{ANALYSIS_1} paused; bob: Observe another step; paused again; alice: Continue"


def nobody_answers_the_hold(d: Driver) -> str:
    q = wait_for_question(d, ANALYSIS_1)
    _check_question(d, ANALYSIS_1, q, CANARY_OPTIONS, d.scenario.spec["strategy"]["canary"]["steps"][0])
    asked = time.monotonic()
    ti = d.wait_task(ANALYSIS_1, ("success", "failed", "upstream_failed"), timeout=RUN_TIMEOUT_S)
    return f"nobody answered; {ANALYSIS_1} {ti.get('state')} {time.monotonic() - asked:.0f}s after it held"


def mark_step_failed(d: Driver) -> str:
    """The UI's "Mark as failed" on the running canary step, as the REST call the UI sends."""
    ti = d.wait_task(STEP_1, ("running", "deferred"))
    time.sleep(2)  # the canary Deployment is being created / rolled out
    d.api.request(
        "PATCH",
        f"/dags/{d.scenario.dag_id}/dagRuns/{d.run_id}/taskInstances/{STEP_1}",
        json={"new_state": "failed"},
    )
    return f"{STEP_1} ({ti.get('state')}) marked failed by admin over REST"


# -- what must be true afterwards ---------------------------------------------------------------------------


def decisions(*expected: tuple[str, str, str, str | None, str]) -> Any:
    """The record lists exactly these answers, in order: (task_id, gate, choice, by, comment)."""

    def check(d: Driver, r: Result) -> list[str]:
        problems = list(d.env.get("people_problems", {}).get(d.scenario.key, []))
        got = [
            (x.get("task_id"), x.get("gate"), x.get("choice"), x.get("by"), x.get("comment"))
            for x in (r.record or {}).get("decisions") or []
        ]
        if got != list(expected):
            problems.append(f"record decisions {got}, expected {list(expected)}")
        return problems

    return check


def states(**wanted: str) -> Any:
    def check(d: Driver, r: Result) -> list[str]:
        tis = d.tis()
        by_name = {"analysis_1": ANALYSIS_1, "analysis_2": ANALYSIS_2, "step_1": STEP_1, "step_2": STEP_2,
                   "promote": PROMOTE, "rollback": "rollback"}  # fmt: skip
        return [
            f"{by_name[k]} ended {(tis.get(by_name[k]) or {}).get('state')}, expected {v}"
            for k, v in wanted.items()
            if (tis.get(by_name[k]) or {}).get("state") != v
        ]

    return check


def reason_starts(text: str) -> Any:
    def check(d: Driver, r: Result) -> list[str]:
        reason = str((r.record or {}).get("reason") or "")
        announced = str((d.xcom("announce_outcome") or {}).get("text") or "")
        problems = [] if reason.startswith(text) else [f"record reason {reason!r}, expected {text!r}..."]
        if text not in announced:
            problems.append(f"the outcome message does not say {text!r}: {announced[:300]!r}")
        return problems

    return check


def all_of(*checks: Any) -> Any:
    def check(d: Driver, r: Result) -> list[str]:
        return [p for c in checks for p in c(d, r)]

    return check


CANARY_SCENARIOS: list[Scenario] = [
    Scenario(
        key="p11-hold-promote",
        fault="quiet canary holds (on_inconclusive unset); alice: Promote now; validation holds, bob: Continue",
        phase="canary analysis (hold)",
        version=NEW,
        expect=DEPLOYED,
        spec=_spec([25, 50, 100], on_inconclusive=None, thresholds=QUIET),
        strike=hold_then("Promote now", "quiet service, dashboards fine", ("Continue", "quiet as expected")),
        check=all_of(
            decisions(
                (ANALYSIS_1, "hold", "Promote now", "alice", "quiet service, dashboards fine"),
                (VALIDATION, "hold", "Continue", "bob", "quiet as expected"),
            ),
            states(analysis_1="success", step_2="skipped", analysis_2="skipped", promote="success"),
        ),
    ),
    Scenario(
        key="p12-hold-rollback",
        fault="quiet canary holds (on_inconclusive: hold); alice: Roll back now",
        phase="canary analysis (hold)",
        version=NEW,
        expect=ROLLED_BACK,
        spec=_spec([50, 100], on_inconclusive="hold", thresholds=QUIET),
        strike=hold_then("Roll back now", "too quiet to trust"),
        check=all_of(
            decisions((ANALYSIS_1, "hold", "Roll back now", "alice", "too quiet to trust")),
            reason_starts("rolled back by alice: too quiet to trust"),
            states(analysis_1="failed", promote="upstream_failed", rollback="success"),
        ),
    ),
    Scenario(
        key="p13-promote-now",
        fault="alice: Promote now while step 1 of 2 observes",
        phase="canary analysis (observing)",
        version=NEW,
        expect=DEPLOYED,
        spec=_spec([25, 50, 100], step="120s"),
        strike=while_observing("Promote now", "ship it"),
        check=all_of(
            decisions((ANALYSIS_1, "control", "Promote now", "alice", "ship it")),
            states(analysis_1="success", step_2="skipped", analysis_2="skipped", promote="success"),
        ),
    ),
    Scenario(
        key="p14-abort-analysis",
        fault="alice: Roll back now while the analysis observes",
        phase="canary analysis (observing)",
        version=NEW,
        expect=ROLLED_BACK,
        spec=_spec([50, 100], step="120s"),
        strike=while_observing("Roll back now", "customer complaints"),
        check=all_of(
            decisions((ANALYSIS_1, "control", "Roll back now", "alice", "customer complaints")),
            reason_starts("rolled back by alice: customer complaints"),
            states(analysis_1="failed", rollback="success"),
        ),
    ),
    Scenario(
        key="p15-pause",
        fault="pause_at 50: bob: Observe another step, then alice: Continue",
        phase="canary pause step",
        version=NEW,
        expect=DEPLOYED,
        spec=_spec([50, 100], pause_at=[50]),
        strike=pause_observe_then_continue,
        check=all_of(
            decisions(
                (ANALYSIS_1, "pause", "Observe another step", "bob", "one more look"),
                (ANALYSIS_1, "pause", "Continue", "alice", "looks good twice"),
            ),
            states(analysis_1="success", promote="success"),
        ),
    ),
    Scenario(
        key="p17-hold-timeout",
        fault="quiet canary holds; nobody answers within hold.timeout 20s (on_timeout: rollback)",
        phase="canary analysis (hold)",
        version=NEW,
        expect=ROLLED_BACK,
        spec=_spec([50, 100], hold_for="20s", on_inconclusive="hold", thresholds=QUIET),
        strike=nobody_answers_the_hold,
        check=all_of(
            decisions((ANALYSIS_1, "hold", "Roll back now", None, "")),
            reason_starts("rolled back: nobody answered within "),
            states(analysis_1="failed", rollback="success"),
        ),
    ),
    Scenario(
        key="p16-abort-step",
        fault="admin marks the running canary step failed (REST / UI 'Mark as failed')",
        phase="canary step (rollout wait)",
        version=SLOW,
        expect=ROLLED_BACK,
        strike=mark_step_failed,
        check=states(step_1="failed", rollback="success"),
    ),
]

__all__ = ["CANARY_SCENARIOS", "RUN_TIMEOUT_S"]
