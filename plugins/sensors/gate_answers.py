"""What a metrics gate carries while a person may answer it, and what an answer makes of the gate - pure
functions over the gate's plan, its verdict and airlock.people's Decision (no Airflow import).

A gate asks one fixed question (airlock.people.gate_options) at three moments:

- **control**: a canary analysis asks as it starts observing; an answer while the trigger observes
  resumes the task at once (Airflow drops the trigger);
- **hold**: the verdict is inconclusive with action ``hold``: the task waits in *awaiting input*;
- **pause**: a canary step listed in ``strategy.canary.pause_at`` passed: the task waits the same way.

Whatever the moment, the answer acts the same: Continue / Promote now pass the gate (Promote now also
skips the remaining canary steps: deploy_dag.guards reads the decision), Roll back now fails it with the
decision's sentence, Observe another step observes one more step duration and judges again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from airlock.analysis.plan import GatePlan
from airlock.analysis.verdict import Verdict
from airlock.people import Decision, Gate

AnswerOutcome = Literal["pass", "fail", "observe"]


@dataclass(frozen=True)
class GateRound:
    """What survives the gate's deferral or its wait for input (the task's next_kwargs): the plan it
    observes, the question open now and since when, the verdict a hold or pause waits on, and every
    answer so far (pushed as DECISIONS_KEY)."""

    plan: dict[str, Any]
    asking: Gate | None = None  # control | hold | pause; None: nobody was asked
    asked_at: str | None = None  # ISO 8601 UTC
    verdict: dict[str, Any] | None = None  # the final verdict a hold or pause waits on
    decisions: list[dict[str, Any]] = field(default_factory=list)
    health_ok: bool | None = None
    smoke_ok: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateRound:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})

    def with_decision(self, decision: Decision) -> GateRound:
        return replace(self, decisions=[*self.decisions, decision.to_dict()])


@dataclass(frozen=True)
class AfterAnswer:
    outcome: AnswerOutcome
    verdict: Verdict  # pass: the gate's result; fail / observe: the verdict so far
    message: str  # pass: the pass sentence's reason; fail: the failure reason (the decision's sentence)


def after_answer(decision: Decision, so_far: Verdict) -> AfterAnswer:
    """What the gate does with `decision`, given the verdict measured so far (final for a hold or pause,
    the last look for an answer while observing)."""
    sentence = decision.sentence()
    if decision.action in ("continue", "promote"):
        # a person's pass: keep the numbers measured so far, say who passed it and on what evidence
        reason = f"passed by a person - {sentence}; measured so far: {so_far.reason}"
        return AfterAnswer("pass", replace(so_far, decision="pass", reason=reason, action=None), reason)
    if decision.action == "rollback":
        return AfterAnswer("fail", so_far, sentence)
    return AfterAnswer("observe", so_far, sentence)


def observe_longer(plan: GatePlan, step_s: float, now: float) -> GatePlan:
    """The plan for 'Observe another step': the same observation (same start, so the requests already
    counted still count - what a quiet canary lacks) running `step_s` past now, judged again at its end.
    No extension on top: if it is still short, the gate asks again."""
    elapsed = max(now - plan.started_at, 0.0)
    return replace(plan, duration_s=elapsed + step_s, max_extension_s=0.0)


def promoted_now(decisions_by_task: dict[str, Any]) -> str | None:
    """The sentence of an earlier analysis's 'Promote now', if one was given ({task_id: [Decision dicts]})."""
    for task_id, decisions in decisions_by_task.items():
        for data in decisions or []:
            if isinstance(data, dict) and data.get("action") == "promote":
                return f"{task_id}: {Decision.from_dict(data).sentence()}"
    return None
