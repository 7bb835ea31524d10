"""DeployRequest: one run's parameters (trigger form / REST conf), validated against the service spec.

The Airflow form validates declared params, but REST conf may carry undeclared or malformed keys,
so the first task of every run re-validates the *whole* conf here and fails with one message.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from airlock.spec import STRATEGIES, ServiceSpec, SpecError, check_canary_steps, format_validation_error

KNOWN_KEYS = ("version", "strategy", "change_summary", "risk", "window", "canary_steps", "dry_run")


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


def validate_request(conf: dict[str, Any] | None, spec: ServiceSpec) -> DeployRequest:
    """Validate a run's conf; raise SpecError naming every bad field, its value and what is allowed."""
    conf = dict(conf or {})
    if not conf.get("strategy"):
        conf["strategy"] = spec.strategy.default
    source = f"run parameters for {spec.dag_id}"
    unknown = sorted(set(conf) - set(KNOWN_KEYS))
    problems: list[str] = []
    if unknown:
        problems.append(f"  - unknown parameter(s) {unknown}; allowed: {', '.join(KNOWN_KEYS)}")
    try:
        request = DeployRequest.model_validate({k: v for k, v in conf.items() if k in KNOWN_KEYS})
    except ValidationError as exc:
        problems.extend(format_validation_error(exc, source).splitlines()[1:])
        request = None
    if request is not None:
        if not re.match(spec.version_pattern, request.version):
            problems.append(
                f"  - field 'version': value {request.version!r}: does not match the service's "
                f"version_pattern {spec.version_pattern}"
            )
        if request.strategy not in spec.strategy.allowed:
            problems.append(
                f"  - field 'strategy': value {request.strategy!r}: not allowed for {spec.service}; "
                f"allowed: {', '.join(spec.strategy.allowed)} (known strategies: {', '.join(STRATEGIES)})"
            )
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
