"""People in the loop: what a person is asked during a deployment, and what each answer does.

Three kinds of question, all answered in the Airflow UI's *Required actions* (or over the REST API,
``PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails``):

- an **approval** (``spec.approvals``): Approve / Reject, before production changes and/or before the
  canary's last step (the promotion to 100 %);
- a **hold** (``metrics.on_inconclusive: hold``) or a **pause** (``strategy.canary.pause_at``): the canary
  waits at its weight for a person;
- the **controls** of a running canary analysis, offered for as long as it observes: the same four
  answers as a hold, so a person can promote, abort or extend a canary without waiting to be asked.

Airflow keeps one question per task instance and fixes its options when it is first asked (a later ask
only clears the previous answer), so every metrics gate offers one fixed set of answers whatever the
reason it asks: CANARY_OPTIONS on a canary step's analysis, GATE_OPTIONS elsewhere.

Everything here is pure: the operators turn an Airflow response (or a timeout) into a ``Decision``, which
is what the task log, the deployment record, the run note and Slack show.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any, Literal

from airlock.durations import format_duration
from airlock.run_request import RunRequest
from airlock.spec import ServiceSpec

APPROVE = "Approve"
REJECT = "Reject"
APPROVAL_OPTIONS = [APPROVE, REJECT]

CONTINUE = "Continue"
PROMOTE_NOW = "Promote now"
ROLL_BACK = "Roll back now"
OBSERVE = "Observe another step"
CANARY_OPTIONS = [CONTINUE, PROMOTE_NOW, ROLL_BACK, OBSERVE]
GATE_OPTIONS = [CONTINUE, ROLL_BACK, OBSERVE]  # a gate outside the canary steps has nothing to skip

Action = Literal["approve", "reject", "continue", "promote", "rollback", "observe"]
Gate = Literal["before_production", "before_last_canary_step", "hold", "pause", "control"]

ACTIONS: dict[str, Action] = {
    APPROVE: "approve",
    REJECT: "reject",
    CONTINUE: "continue",
    PROMOTE_NOW: "promote",
    ROLL_BACK: "rollback",
    OBSERVE: "observe",
}

# What each answer does, in the words the question's body and the docs use.
MEANING: dict[str, str] = {
    APPROVE: "go on",
    REJECT: "stop here; whatever this run changed is rolled back",
    CONTINUE: "treat this gate as passed and go on (a canary goes to its next step)",
    PROMOTE_NOW: "skip the remaining canary steps and promote to 100 %; validation still runs",
    ROLL_BACK: "abort: roll production back to the recorded plan now",
    OBSERVE: "keep the current weight for another step's duration, then judge again",
}

GATE_TITLES: dict[str, str] = {
    "before_production": "approval before production",
    "before_last_canary_step": "approval before the canary's last step",
    "hold": "hold (inconclusive gate)",
    "pause": "pause step",
    "control": "manual control of a running gate",
}

COMMENT_PARAM = "comment"  # the free-text field every question carries (why the person decided so)


@dataclass(frozen=True)
class Decision:
    """What a person (or a timeout) decided at one question of a run."""

    gate: Gate
    task_id: str
    choice: str  # the option chosen, as shown in the UI
    action: Action
    by: str | None  # the responding user's name; None when the timeout applied its default
    at: str  # ISO 8601, UTC
    comment: str = ""
    timed_out: bool = False
    waited_s: float | None = None  # how long the question was open, when known

    def sentence(self) -> str:
        """One line for the log, the record, the run note and Slack."""
        title = GATE_TITLES.get(self.gate, self.gate)
        when = _short_time(self.at)
        if self.timed_out or self.by is None:
            who = "nobody answered in time: the timeout chose"
            waited = f" after {format_duration(round(self.waited_s))}" if self.waited_s else ""
            head = f"{title}: {who} {self.choice!r}{waited} ({when})"
        else:
            head = f"{title}: {self.choice!r} by {self.by} at {when}"
        return f"{head}: {self.comment}" if self.comment else head

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _short_time(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return iso


class ResponseError(ValueError):
    """An answer that is not one of the question's options (Airflow validates this too; belt and braces)."""


def decision_from_response(
    *,
    gate: Gate,
    task_id: str,
    chosen_options: list[str],
    responded_by: dict[str, Any] | None,
    responded_at: datetime | str,
    params_input: dict[str, Any] | None = None,
    timed_out: bool = False,
    asked_at: datetime | None = None,
    options: list[str] | None = None,
) -> Decision:
    """Turn Airflow's human-in-the-loop event (HITLTriggerEventSuccessPayload) into a Decision."""
    allowed = options or list(ACTIONS)
    if len(chosen_options) != 1 or chosen_options[0] not in allowed:
        raise ResponseError(f"answer {chosen_options!r} is not exactly one of {allowed}")
    choice = chosen_options[0]
    at = responded_at if isinstance(responded_at, datetime) else datetime.fromisoformat(str(responded_at))
    comment = str((params_input or {}).get(COMMENT_PARAM) or "").strip()
    by = (responded_by.get("name") or responded_by.get("id")) if responded_by else None
    waited = (at - asked_at).total_seconds() if asked_at is not None else None
    return Decision(
        gate=gate,
        task_id=task_id,
        choice=choice,
        action=ACTIONS[choice],
        by=by,
        at=at.isoformat(),
        comment=comment[:1000],
        timed_out=timed_out or by is None,
        waited_s=waited,
    )


# -- who is asked, and what a timeout does ----------------------------------------------------------------


def approvers(spec: ServiceSpec, request: RunRequest) -> list[str]:
    """Who may answer an approval of this run: a hotfix asks `hotfix_approvers` when the spec names them."""
    a = spec.approvals
    if request.is_hotfix and a.hotfix_approvers is not None:
        return list(a.hotfix_approvers)
    return list(a.approvers)


def hold_approvers(spec: ServiceSpec, request: RunRequest) -> list[str]:
    """Who may answer a hold, a pause or a running gate's controls (default: the approval's approvers)."""
    if spec.hold.approvers is not None:
        return list(spec.hold.approvers)
    return approvers(spec, request)


def approval_timeout_option(spec: ServiceSpec) -> str:
    return APPROVE if spec.approvals.on_timeout == "approve" else REJECT


def hold_timeout_option(spec: ServiceSpec, canary: bool) -> str:
    """The answer a hold's timeout gives. Outside the canary steps 'promote' means going on (CONTINUE)."""
    chosen = spec.hold.on_timeout
    if chosen == "rollback":
        return ROLL_BACK
    if chosen == "promote" and canary:
        return PROMOTE_NOW
    return CONTINUE


def pauses_after(spec: ServiceSpec, request: RunRequest, slot: int) -> bool:
    """Whether the canary waits for a person after step `slot`'s analysis passed (strategy.canary.pause_at)."""
    weight = request.canary_weight(slot)
    return weight is not None and weight in spec.strategy.canary.pause_at


def asks_before_production(spec: ServiceSpec, request: RunRequest) -> bool:
    """A dry run changes nothing, so there is nothing to approve."""
    return spec.approvals.before_production and not request.dry_run


def asks_before_last_canary_step(spec: ServiceSpec, request: RunRequest) -> bool:
    return spec.approvals.before_last_canary_step and request.strategy == "canary" and not request.dry_run


# -- what the person reads ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """What a person needs to decide, gathered by the operator from the run's earlier tasks."""

    previous_version: str | None = None  # production before this run (the rollback plan), if recorded
    preflight: tuple[str, ...] = ()  # one line per pre-flight check
    staging: tuple[str, ...] = ()  # one line per staging task (deploy, health, smoke, soak)
    last_verdict: str | None = None  # the last metrics gate's reason, if one ran
    canary_at: int | None = None  # the canary's current weight, for the approval before its last step


def approval_subject(gate: Gate, spec: ServiceSpec, request: RunRequest) -> str:
    where = (
        "production"
        if gate == "before_production"
        else f"promote the canary to 100 % (now at {request.canary_weights[-1] if request.canary_weights else 0} %)"
    )
    hotfix = " (HOTFIX)" if request.is_hotfix else ""
    return f"Approve {spec.service} {request.version}{hotfix}: {where}?"


def approval_body(
    gate: Gate, spec: ServiceSpec, request: RunRequest, evidence: Evidence, timeout_option: str
) -> str:
    """Markdown shown with the question: what changes, the evidence so far, what each answer does."""
    lines = [
        f"**{spec.service}** `{request.image}` ({request.strategy}"
        + (f", steps {list(request.canary_steps)}" if request.canary_steps else "")
        + f"), requested by {request.triggered_by}",
        "",
        f"- change: {request.change_summary or '(no change summary given)'}",
        f"- production now: {evidence.previous_version or 'not recorded yet'}",
        f"- risk: {request.risk}" + (" - hotfix approvers asked" if request.is_hotfix else ""),
    ]
    if evidence.canary_at is not None:
        lines.append(f"- canary now at {evidence.canary_at} % of the pods")
    if evidence.preflight:
        lines += ["", "**Pre-flight**", *(f"- {line}" for line in evidence.preflight)]
    if evidence.staging:
        lines += ["", "**Staging**", *(f"- {line}" for line in evidence.staging)]
    if evidence.last_verdict:
        lines += ["", f"**Last verdict**: {evidence.last_verdict}"]
    lines += [
        "",
        f"- **{APPROVE}**: {MEANING[APPROVE]}",
        f"- **{REJECT}**: {MEANING[REJECT]}",
        f"- no answer within {format_duration(spec.approvals.timeout)}: **{timeout_option}** "
        f"(approvals.on_timeout: {spec.approvals.on_timeout})",
    ]
    return "\n".join(lines)


def gate_question_body(
    spec: ServiceSpec, request: RunRequest, subject: str, options: list[str], timeout_option: str
) -> str:
    """The body of a metrics gate's question (controls, hold, pause). Airflow fixes it when first asked,
    so it explains the answers; the live verdicts are in the task's log and in Slack."""
    lines = [
        f"**{spec.service}** `{request.image}`: {subject}",
        "",
        "The gate's verdicts, with their numbers, are in this task's log; Slack gets the one that asks you.",
        "",
        *(f"- **{option}**: {MEANING[option]}" for option in options),
        "",
        f"When the gate holds or pauses for you and nobody answers within "
        f"{format_duration(spec.hold.timeout)}: **{timeout_option}** (hold.on_timeout: {spec.hold.on_timeout}).",
    ]
    return "\n".join(lines)


# -- the metrics gates' question (controls, hold, pause) ---------------------------------------------------


def gate_options(phase: str, slot: int | None) -> list[str]:
    """A canary step's analysis can skip the remaining steps (Promote now); any other gate cannot."""
    return CANARY_OPTIONS if phase == "canary" and slot is not None else GATE_OPTIONS


def gate_subject(spec: ServiceSpec, request: RunRequest, phase: str, slot: int | None) -> str:
    """The question's title. Airflow fixes it when first asked - a canary analysis asks as it starts
    observing - so it names the step, not the reason of a later hold or pause (those are in the body's
    log, the task log and Slack)."""
    if phase == "canary" and slot is not None:
        weights = request.canary_weights
        weight = request.canary_weight(slot)
        return (
            f"Canary {spec.service} {request.version} at {weight} % "
            f"(step {slot + 1} of {len(weights)}): analysing"
        )
    return f"{spec.service} {request.version}: {phase} gate waiting for a person"


def assigned_users(user_ids: list[str]) -> list[dict[str, str]]:
    """Airflow's HITLUser entries for the ids the spec names (the auth manager shows the id as the name)."""
    return [{"id": user, "name": user} for user in user_ids]
