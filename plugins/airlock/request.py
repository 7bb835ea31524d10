"""DeployRequest: one run's parameters (trigger form / REST conf), validated against the service spec.

The Airflow form validates declared params, but REST conf may carry undeclared or malformed keys,
so the first task of every run re-validates the *whole* conf here and fails with one message.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from airlock.image_ref import TAG_RULE, is_valid_tag
from airlock.spec import STRATEGIES, ServiceSpec, SpecError, check_canary_steps, format_validation_error

KNOWN_KEYS = ("version", "strategy", "change_summary", "risk", "window", "canary_steps", "dry_run")
MAX_CHANGE_SUMMARY = 2000  # characters; it goes into Slack and the run note


class DeployRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    strategy: Literal["canary", "blue_green", "rolling"]
    change_summary: str = ""
    risk: Literal["planned", "hotfix"] = "planned"
    window: Literal["now", "next_window"] = "next_window"
    canary_steps: list[int] | None = None
    dry_run: bool = False

    @field_validator("canary_steps", mode="before")
    @classmethod
    def _steps_from_text(cls, value: Any) -> Any:
        # The form sends "10,50,100"; REST may send a list. Empty means "use the spec's steps".
        if value is None or value == "" or value == []:
            return None
        if isinstance(value, str):
            try:
                return [int(x) for x in value.replace(" ", "").split(",") if x]
            except ValueError:
                raise ValueError(f"{value!r} must be comma-separated integers, e.g. '10,25,50,100'") from None
        return value

    @field_validator("canary_steps")
    @classmethod
    def _steps_valid(cls, value: list[int] | None) -> list[int] | None:
        if value is not None:
            if any(not 1 <= s <= 100 for s in value):
                raise ValueError(f"canary steps {value} must each be between 1 and 100")
            check_canary_steps(value)
        return value

    @property
    def is_hotfix(self) -> bool:
        return self.risk == "hotfix"


def _type_problems(conf: dict[str, Any]) -> list[str]:
    """What pydantic's lax mode would coerce silently: 'no' -> False for dry_run, True -> 1 in steps."""
    problems = []
    if "dry_run" in conf and not isinstance(conf["dry_run"], bool):
        problems.append(
            f"  - field 'dry_run': value {conf['dry_run']!r}: must be true or false (a JSON boolean)"
        )
    steps = conf.get("canary_steps")
    if isinstance(steps, list) and any(isinstance(s, bool) or not isinstance(s, int) for s in steps):
        problems.append(
            f"  - field 'canary_steps': value {steps!r}: must be integers (JSON numbers), e.g. [10, 25, 50, 100]"
        )
    for key in ("version", "strategy", "change_summary", "risk", "window"):
        if key in conf and conf[key] is not None and not isinstance(conf[key], str):
            problems.append(f"  - field '{key}': value {conf[key]!r}: must be a string")
    summary = conf.get("change_summary")
    if isinstance(summary, str) and len(summary) > MAX_CHANGE_SUMMARY:
        problems.append(
            f"  - field 'change_summary': value {summary[:40]!r}...: {len(summary)} characters; "
            f"at most {MAX_CHANGE_SUMMARY}"
        )
    return problems


def version_problem(version: str, spec: ServiceSpec) -> str | None:
    """Why `version` cannot be deployed: not an image tag, or not matching version_pattern in full."""
    if not is_valid_tag(version):
        shown = repr(version) if len(version) <= 60 else f"{version[:40]!r}... ({len(version)} characters)"
        return f"  - field 'version': value {shown}: not a valid image tag ({TAG_RULE})"
    if not re.fullmatch(spec.version_pattern, version):
        return (
            f"  - field 'version': value {version!r}: does not match the service's "
            f"version_pattern {spec.version_pattern} (the whole version must match)"
        )
    return None


def validate_request(conf: dict[str, Any] | None, spec: ServiceSpec) -> DeployRequest:
    """Validate a run's conf; raise SpecError naming every bad field, its value and what is allowed."""
    source = f"run parameters for {spec.dag_id}"
    if conf is not None and not isinstance(conf, dict):
        raise SpecError(
            f"{source}: 1 problem(s), nothing was changed\n  - the run conf is a {type(conf).__name__}, "
            'not a JSON object (e.g. {"version": "v1.2.3"})'
        )
    conf = dict(conf or {})
    if not conf.get("strategy"):
        conf["strategy"] = spec.strategy.default
    unknown = sorted(set(conf) - set(KNOWN_KEYS), key=str)
    problems: list[str] = []
    if unknown:
        problems.append(f"  - unknown parameter(s) {unknown}; allowed: {', '.join(KNOWN_KEYS)}")
    problems.extend(_type_problems(conf))
    try:
        request = DeployRequest.model_validate({k: v for k, v in conf.items() if k in KNOWN_KEYS})
    except ValidationError as exc:
        problems.extend(format_validation_error(exc, source).splitlines()[1:])
        request = None
    # Version and strategy are checked from the conf itself, so they are reported with every other problem.
    version, strategy = conf.get("version"), conf.get("strategy")
    if isinstance(version, str):
        problem = version_problem(version, spec)
        if problem:
            problems.append(problem)
    if isinstance(strategy, str) and strategy in STRATEGIES:
        if strategy not in spec.strategy.allowed:
            problems.append(
                f"  - field 'strategy': value {strategy!r}: not allowed for {spec.service}; "
                f"allowed: {', '.join(spec.strategy.allowed)} (known strategies: {', '.join(STRATEGIES)})"
            )
        bg = spec.strategy.blue_green
        if strategy == "blue_green" and bg.pre_switch_checks and spec.endpoints.preview is None:
            problems.append(
                f"  - field 'strategy': value 'blue_green': {spec.service}'s spec has no endpoints.preview for "
                f"its pre_switch_checks {bg.pre_switch_checks}; pick another strategy or fix the spec"
            )
    if request is not None:
        if request.canary_steps and request.strategy != "canary":
            problems.append(
                f"  - field 'canary_steps': value {request.canary_steps}: only valid with strategy 'canary'"
            )
        slots = len(spec.strategy.canary.steps)
        if request.canary_steps and len(request.canary_steps) > slots:
            # The DAG has one task pair per step of the spec; an override can use fewer, not more.
            problems.append(
                f"  - field 'canary_steps': value {request.canary_steps}: at most {slots} steps (the "
                f"spec's strategy.canary.steps {spec.strategy.canary.steps} sets the DAG's step slots)"
            )
    if problems:
        raise SpecError(f"{source}: {len(problems)} problem(s), nothing was changed\n" + "\n".join(problems))
    assert request is not None
    return request


def canary_steps(request: DeployRequest, spec: ServiceSpec) -> list[int]:
    return list(request.canary_steps or spec.strategy.canary.steps)
