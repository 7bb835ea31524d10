"""What a metrics gate decides before it observes - skip this slot? which plan? - and the sentences it
ends with, as pure functions over the run's RunRequest and the sensor's inputs (rendered templates).

Kept apart from sensors/metrics.py so that module stays cheap to import (the DAG file imports it at every
task start) and the trigger, which ends a passing gate itself, words it like the sensor. No Airflow import.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from airlock.analysis.plan import GatePlan
from airlock.analysis.verdict import Verdict
from airlock.durations import parse_duration
from airlock.record import previous_version
from airlock.run_request import RunRequest
from airlock.spec import spec_from


def slot_skip_reason(request: RunRequest, slot: int | None) -> str | None:
    """Why a canary step's gate does not run for `request` (the run uses fewer steps), or None."""
    if slot is not None and request.canary_weight(slot) is None:
        return f"canary step slot {slot + 1} is not used by this run (steps {list(request.canary_steps)})"
    return None


def optional_bool(value: Any) -> bool | None:
    """A check result from a template (rendered as a string) or a value; None when unknown."""
    if value in (None, "", "None"):
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "passed", "success")
    return bool(value)


def optional_time(value: Any) -> float | None:
    """Unix seconds from a number, an ISO timestamp or a datetime (templates render strings)."""
    if value in (None, "", "None"):
        return None
    if hasattr(value, "timestamp"):
        return float(value.timestamp())
    try:
        return float(value)
    except (TypeError, ValueError):
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def gate_baseline(
    spec: dict[str, Any],
    phase: str,
    baseline_version: Any,
    baseline_end: Any,
    plan_record: Any,
) -> tuple[str | None, float | None]:
    """(previous version, end of its window): explicit arguments first, else the rollback plan's."""
    version, end = (baseline_version or None), optional_time(baseline_end)
    record = plan_record if isinstance(plan_record, dict) else None
    if record is not None and phase != "canary":
        version = version or previous_version(record, spec_from(spec).container)
        end = end if end is not None else optional_time(record.get("recorded_at"))
    return (str(version) if version else None), end


def gate_plan(
    spec: dict[str, Any],
    request: RunRequest,
    *,
    phase: str,
    environment: str,
    duration: str | int | None = None,
    slot: int | None = None,
    baseline_version: Any = None,
    baseline_end: Any = None,
    plan_record: Any = None,
    subject: str | None = None,
    started_at: float | None = None,
) -> GatePlan:
    """The gate's plan for this run; the observation starts now unless `started_at` says otherwise."""
    seconds = None if duration in (None, "") else parse_duration(duration).total_seconds()
    version, end = gate_baseline(spec, phase, baseline_version, baseline_end, plan_record)
    return GatePlan.from_spec(
        spec_from(spec),
        version=request.version,
        phase=phase,
        started_at=time.time() if started_at is None else started_at,
        environment=environment,
        duration_s=seconds,
        weight=request.canary_weight(slot) if slot is not None else None,
        baseline_version=version,
        baseline_end=end,
        subject=subject or None,
    )


def defer_timeout_s(plan: GatePlan) -> float:
    """How long the deferred gate may take: its duration, the whole extension, and room for retries."""
    # the trigger keeps observing up to max_extension past the duration when traffic is short, and may
    # keep retrying failed polls past that end, max_consecutive_errors times
    slack = plan.interval_s * (plan.config.max_consecutive_errors + 2) + 60
    return plan.duration_s + plan.max_extension_s + slack


def failure_message(verdict: Verdict, service: str, version: str) -> str:
    """The sentence a failed gate fails its task with (RollbackOperator and Slack show it)."""
    return f"{verdict.phase} gate failed for {service} {version}: {verdict.reason}"


def pass_message(verdict: Verdict, service: str, version: str) -> str:
    return f"{verdict.phase} gate passed for {service} {version}: {verdict.reason}"
