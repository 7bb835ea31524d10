"""The deployment record: one JSON document per run — what ran, what was measured, what was decided.

Built from plain data: the run's facts (service, version, params, run id, who triggered it), the
XCom values of its tasks keyed by *record field* (the DAG author maps fields to task ids, so this
module knows nothing about the DAG's shape) and the tasks' final states. `summarise()` renders a
few lines for Slack and the DAG run note; the DORA helpers aggregate many records.

Record fields fed by XCom (all optional):
  window      WindowGateOperator result            plan        rollback plan (airlock.kube.plan)
  preflight   list of CheckResult dicts            health      health check result(s)
  smoke       smoke test result(s)                 log_scan    log scan result
  metrics     {task_id: Verdict dict} per step     rollback    RollbackOperator result
  failure     {task_id: failure sentence}          staging_plan      staging's rollback plan
  staging_rollback  the staging restore's RollbackOperator result
  line_stopped      the stop mark a failed production rollback wrote (airlock.stop_line.StopMark)
  retry       on a retry (a person cleared the run's tasks after a fix): the attempt, what it re-ran and
              how the last attempt ended (airlock.run_retry.RetryNote); `attempt` is 1 without it
  decisions   {task_id: [airlock.people.Decision dicts]}: what people (or their timeouts) answered at the
              run's questions - approvals, holds, pauses, a running gate's controls
  (other fields are kept under "extra")

What happened, phase by phase, is stated once here and read by Slack, the run note and the run's final
state: `stopped_in` (the phase that failed first), `production_changed`, `staging_restore` (after a
failure in staging: staging put back on its previous version, left unchanged, or NOT restored) and
`line_stopped` (the production rollback failed: new runs are refused until a human clears the mark).
`decisions` lists every answer people gave, in time order, each with its sentence; `stopped_by` is the
one that stopped the run (a Reject, or Roll back now), and then the run's `reason` is that person's words:
"rejected by alice: <comment> (approval before production)".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from statistics import mean
from typing import Any

from airlock.analysis.verdict import format_value
from airlock.durations import format_duration
from airlock.image_ref import parse_image_ref
from airlock.people import GATE_TITLES, Decision
from airlock.redact import redact_body

Record = dict[str, Any]
OUTCOMES = ("succeeded", "rolled_back", "failed", "dry_run")
FAILED_STATES = ("failed", "upstream_failed")
CHECK_FIELDS = ("preflight", "health", "smoke", "metrics", "log_scan")
KNOWN_FIELDS = (
    "window",
    "plan",
    "rollback",
    "failure",
    "staging_plan",
    "staging_rollback",
    "line_stopped",
    "decisions",
    "retry",
    *CHECK_FIELDS,
)
NOTE_LIMIT = 1000  # Airflow's DAG run note column


def image_tag(image: str | None) -> str | None:
    """'registry:5000/app:v1.2.3' -> 'v1.2.3' (a digest, a missing tag or an unparsable reference gives
    the reference itself)."""
    if not image:
        return None
    try:
        ref = parse_image_ref(image)
    except ValueError:
        return image
    return ref.tag if ref.tag and not ref.digest else image


def previous_version(plan: Mapping[str, Any] | None, container: str | None = None) -> str | None:
    """The version production ran before this run, from the rollback plan's recorded images."""
    if not plan:
        return None
    images = plan.get("images") or (plan.get("stable") or {}).get("images") or {}
    if isinstance(images, list):  # [{"name": c, "image": i}, ...]
        images = {i.get("name"): i.get("image") for i in images if isinstance(i, dict)}
    if not isinstance(images, dict) or not images:
        return None
    image = images.get(container) if container in images else next(iter(images.values()))
    return image_tag(str(image)) if image else None


# The workflow's phases in order; a task belongs to the phase its id starts with ("staging.soak").
# "approval" is the approval before production (approvals.before_production): a run rejected there
# stopped before production.
PHASES = (
    "validate",
    "acquire_lock",
    "preflight",
    "staging",
    "approval",
    "production",
    "validation",
    "complete",
)
# where a run stopped, as a sentence reads it: "stopped <where> before production"
_WHERE = {
    "validate": "in request validation",
    "acquire_lock": "at the deploy lock",
    "preflight": "in pre-flight",
    "approval": "at the approval",
}


def stopped_in(task_states: Mapping[str, str], ignore: Iterable[str] = ()) -> str | None:
    """The phase of the earliest failed task in workflow order (None when no phase task failed).

    The rollback, record and notification tasks are not phases: they run after whatever stopped the run.
    """
    skip = set(ignore)
    failed = {
        task.split(".", 1)[0]
        for task, state in task_states.items()
        if task not in skip and normalise_state(state) in FAILED_STATES
    }
    return next((phase for phase in PHASES if phase in failed), None)


def production_changed(rollback: Mapping[str, Any] | None, outcome: str) -> bool:
    """Did this run leave a mark on production? A deployment that went live did; a failed one did only if
    its rollback had something to restore (no plan, or production as recorded, means it never changed)."""
    if outcome == "succeeded":
        return True
    return bool(rollback) and not (rollback or {}).get("noop", False) and not (rollback or {}).get("dry_run")


def staging_restore(
    rollback: Mapping[str, Any] | None, plan: Mapping[str, Any] | None, stopped: str | None
) -> dict[str, Any] | None:
    """What became of staging after the run failed there (None: the run did not stop in staging).

    `rollback`: the staging restore's RollbackResult dict (None: the restore never finished); `plan`:
    staging's rollback plan. `state` is one of
      restored      staging was changed and is back on the recorded version, rolled out and healthy;
      unchanged     the run never changed staging (it failed before the first write), nothing to restore;
      not_restored  the restore failed or left staging unhealthy: a human must look;
      dry_run       nothing was written.
    `restored` is True when staging runs what it ran before the run (restored or unchanged).
    """
    if stopped != "staging":
        return None
    version = previous_version(plan)
    if not isinstance(rollback, Mapping):
        return {
            "state": "not_restored",
            "restored": False,
            "version": version,
            "why": "no result from the staging restore (see task staging.restore)",
        }
    if rollback.get("dry_run"):
        return {"state": "dry_run", "restored": None, "version": version, "why": None}
    healthy = rollback.get("healthy")
    if healthy is not True:
        why = rollback.get("verification") or "the restored staging Deployment is not healthy"
        return {"state": "not_restored", "restored": False, "version": version, "why": str(why)}
    state = "unchanged" if rollback.get("noop") else "restored"
    return {"state": state, "restored": True, "version": version, "why": None}


def describe_staging_restore(restore: Mapping[str, Any] | None) -> str | None:
    """'staging restored to v1' | 'staging unchanged' | 'staging NOT restored: <why>' (None: not applicable)."""
    if not restore:
        return None
    state = restore.get("state")
    if state == "restored":
        return f"staging restored to {restore.get('version') or 'its recorded state'}"
    if state == "unchanged":
        return "staging unchanged"
    if state == "dry_run":
        return "staging not changed (dry run)"
    return f"staging NOT restored: {restore.get('why') or 'unknown'}"


def decide_outcome(
    *,
    dry_run: bool,
    task_states: Mapping[str, str],
    rollback: Mapping[str, Any] | None,
    ignore: Iterable[str] = (),
) -> str:
    """succeeded | rolled_back | failed | dry_run, from what the tasks did.

    A rollback that actually ran (not a no-op) and left production healthy is `rolled_back`; a
    rollback that failed or left it unhealthy is `failed` (a human must act). Tasks in `ignore`
    (the record and notification tasks themselves) do not count.
    """
    skip = set(ignore)
    failed = [t for t, s in task_states.items() if t not in skip and normalise_state(s) in FAILED_STATES]
    rollback_ran = bool(rollback) and not (rollback or {}).get("noop", False)
    if rollback_ran:
        assert rollback is not None
        healthy = rollback.get("healthy")
        rollback_tasks_failed = any("rollback" in t for t in failed)
        return "failed" if rollback_tasks_failed or healthy is False else "rolled_back"
    if failed:
        return "failed"
    return "dry_run" if dry_run else "succeeded"


def normalise_state(state: Any) -> str:
    text = str(state)
    return text.rsplit(".", 1)[-1].lower() if text.startswith("TaskInstanceState.") else text.lower()


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _phases(values: Mapping[str, Any]) -> dict[str, float]:
    """Durations the tasks reported themselves (tasks cannot read other tasks' start/end dates)."""
    phases: dict[str, float] = {}
    window = values.get("window")
    if isinstance(window, dict) and window.get("waited_seconds") is not None:
        phases["window_wait"] = float(window["waited_seconds"])
    for task_id, verdict in (values.get("metrics") or {}).items():
        if isinstance(verdict, dict) and verdict.get("elapsed_s") is not None:
            phases[f"metrics:{task_id}"] = float(verdict["elapsed_s"])
    rollback = values.get("rollback")
    if isinstance(rollback, dict):
        for key in ("duration_s", "elapsed_s"):
            if rollback.get(key) is not None:
                phases["rollback"] = float(rollback[key])
                break
    return phases


# -- people's decisions -------------------------------------------------------------------------------

STOP_ACTIONS = ("reject", "rollback")  # answers that stop a run (a Reject, a Roll back now)


def gather_decisions(value: Any) -> list[dict[str, Any]]:
    """The run's decisions in time order, each with its `sentence`, from the record field's value: a list
    of Decision dicts (one source) or {task_id: list} (several)."""
    if isinstance(value, Mapping):
        items = [d for lst in value.values() for d in _as_list(lst)]
    else:
        items = _as_list(value)
    out = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        try:
            sentence = Decision.from_dict(dict(item)).sentence()
        except (TypeError, ValueError):  # a decision from another version of Airlock: keep what it says
            sentence = str(item.get("sentence") or item)
        out.append({**item, "sentence": sentence})
    return sorted(out, key=lambda d: _sort_time(d.get("at")))


def _sort_time(value: Any) -> float:
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return float("inf")


def decided_stop(decisions: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The decision that stopped the run: the first Reject or Roll back now (None: nobody stopped it)."""
    return next((dict(d) for d in decisions if d.get("action") in STOP_ACTIONS), None)


def describe_stop(decision: Mapping[str, Any]) -> str:
    """'rejected by alice: not during the sale (approval before production)', or for a timeout 'rejected:
    nobody answered within 20s, the timeout chose 'Reject' (approval before production)'."""
    verb = "rejected" if decision.get("action") == "reject" else "rolled back"
    where = GATE_TITLES.get(str(decision.get("gate")), str(decision.get("gate")))
    comment = str(decision.get("comment") or "").strip()
    if decision.get("by") and not decision.get("timed_out"):
        return f"{verb} by {decision['by']}: {comment or '(no comment)'} ({where})"
    waited = decision.get("waited_s")
    within = (
        f" within {format_duration(round(float(waited)))}" if isinstance(waited, int | float) else " in time"
    )
    return f"{verb}: nobody answered{within}, the timeout chose {decision.get('choice')!r} ({where})"


def decode_json_text(value: Any) -> Any:
    """A task result that reached XCom as JSON text instead of the object: a gate ended in the triggerer
    (TaskSuccessEvent xcoms, Airflow 3.3.2) is read back as the string '{"decision": "pass", ...}'.
    Decoded here, so the record and the approvals read it like any other result."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _decoded(values: Mapping[str, Any]) -> dict[str, Any]:
    """decode_json_text on every value, and on the per-task values of the {task_id: value} fields."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        value = decode_json_text(value)
        if isinstance(value, dict) and name in ("metrics", "health", "smoke", "decisions"):
            value = {k: decode_json_text(v) for k, v in value.items()}
        out[name] = value
    return out


def build_record(
    *,
    run: Mapping[str, Any],
    values: Mapping[str, Any],
    task_states: Mapping[str, str],
    ignore_tasks: Iterable[str] = (),
    end: datetime | None = None,
    task_durations: Mapping[str, float | None] | None = None,
) -> Record:
    """One deployment record.

    `run`: service, version, strategy, risk, change_summary, dry_run, run_id, dag_id, triggered_by,
    container, start (aware datetime or ISO string). `values`: record field -> XCom value (see module
    docstring; `metrics` and `failure` are {task_id: value}). `task_states`: task id -> final state.
    `task_durations`: task id -> seconds, for finished tasks (Airflow's task breadcrumbs).
    Kubernetes bodies among the values keep no pod env value or Secret data (redact.py).
    """
    values = redact_body(_decoded(values))
    plan = values.get("plan")
    rollback = values.get("rollback")
    dry_run = bool(run.get("dry_run", False))
    risk = str(run.get("risk") or "planned")
    window = values.get("window") if isinstance(values.get("window"), dict) else None
    start = _parse_time(run.get("start"))
    duration = (end - start).total_seconds() if end and start else None
    outcome = decide_outcome(dry_run=dry_run, task_states=task_states, rollback=rollback, ignore=ignore_tasks)
    stopped = stopped_in(task_states, ignore_tasks) if outcome != "succeeded" else None
    staging_plan = values.get("staging_plan") if isinstance(values.get("staging_plan"), dict) else None
    staging_rollback = values.get("staging_rollback")
    line_stopped = values.get("line_stopped") if isinstance(values.get("line_stopped"), dict) else None
    retry = values.get("retry") if isinstance(values.get("retry"), dict) else None
    failures = {k: str(v) for k, v in (values.get("failure") or {}).items() if v}
    decisions = gather_decisions(values.get("decisions"))
    stopped_by = decided_stop(decisions) if outcome != "succeeded" else None
    reason = (rollback or {}).get("reason") if isinstance(rollback, dict) else None
    if stopped_by is not None:  # a person's (or their timeout's) decision, in their words
        reason = describe_stop(stopped_by)
    if not reason and failures:
        reason = "; ".join(f"{k}: {v}" for k, v in failures.items())
    if not reason and outcome == "failed":
        failed = [
            t
            for t, s in task_states.items()
            if normalise_state(s) in FAILED_STATES and t not in set(ignore_tasks)
        ]
        reason = "failed task(s): " + ", ".join(sorted(failed))
    return {
        "schema": 1,
        "service": run.get("service"),
        "version": run.get("version"),
        "previous_version": previous_version(plan, run.get("container")),
        "strategy": run.get("strategy") or (plan or {}).get("strategy"),
        "risk": risk,
        "hotfix": risk == "hotfix",
        "hotfix_freeze_override": bool(window and window.get("hotfix_override")),
        "change_summary": run.get("change_summary") or "",
        "dry_run": dry_run,
        "run_id": run.get("run_id"),
        "dag_id": run.get("dag_id"),
        "triggered_by": run.get("triggered_by"),
        "attempt": int(retry.get("attempt") or 1) if retry else 1,
        "retry": retry,
        "outcome": outcome,
        "reason": reason,
        "stopped_in": stopped,
        # a rollback that failed and stopped the line left production changed, whatever its result says
        "production_changed": production_changed(rollback if isinstance(rollback, dict) else None, outcome)
        or line_stopped is not None,
        "staging_restore": staging_restore(
            staging_rollback if isinstance(staging_rollback, dict) else None, staging_plan, stopped
        ),
        "window": window,
        "checks": {
            "preflight": _as_list(values.get("preflight")),
            "health": values.get("health"),
            "smoke": values.get("smoke"),
            "metrics": dict(values.get("metrics") or {}),
            "log_scan": values.get("log_scan"),
        },
        "rollback_plan": plan,
        "rollback": rollback,
        "staging_rollback_plan": staging_plan,
        "staging_rollback": staging_rollback,
        "line_stopped": line_stopped,
        "decisions": decisions,
        "stopped_by": stopped_by,
        "tasks": {t: normalise_state(s) for t, s in task_states.items()},
        "timings": {
            "start": start.isoformat() if start else None,
            "end": end.isoformat() if end else None,
            "duration_s": round(duration, 3) if duration is not None else None,
            "phases": _phases(values),
            "tasks": {t: round(float(d), 3) for t, d in (task_durations or {}).items() if d is not None},
        },
        "extra": {k: v for k, v in values.items() if k not in KNOWN_FIELDS},
    }


def _parse_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


# -- reading a record ------------------------------------------------------------------------------


def _num(value: Any, unit: str) -> str:
    return format_value(float(value), unit) if isinstance(value, int | float) else str(value)


def describe_metric(metric: Mapping[str, Any]) -> str:
    """'error_rate fail: canary 7.90% vs baseline 0.40% (limit 5.00%)'."""
    unit = str(metric.get("unit") or "")
    limit_unit = str(metric.get("threshold_unit") or unit)
    parts = [f"{metric.get('name')} {metric.get('status')}"]
    numbers = []
    if metric.get("canary") is not None:
        numbers.append(f"canary {_num(metric['canary'], unit)}")
    if metric.get("baseline") is not None:
        numbers.append(f"baseline {_num(metric['baseline'], unit)}")
    text = parts[0] + (": " + " vs ".join(numbers) if numbers else "")
    if metric.get("threshold") is not None:
        text += f" (limit {_num(metric['threshold'], limit_unit)})"
    return text


def failing_metrics(record: Record) -> list[tuple[str, Mapping[str, Any]]]:
    """(task id, metric) for every metric that failed a verdict, in step order."""
    out = []
    for task_id, verdict in record["checks"]["metrics"].items():
        for metric in (verdict or {}).get("metrics", []) if isinstance(verdict, dict) else []:
            if metric.get("status") == "fail":
                out.append((task_id, metric))
    return out


def _count_checks(items: Iterable[Any]) -> str:
    statuses = [str(i.get("status")) for i in items if isinstance(i, dict)]
    if not statuses:
        return "not run"
    passed = sum(s == "pass" for s in statuses)
    warn = sum(s == "warn" for s in statuses)
    text = f"{passed}/{len(statuses)} pass"
    return text + (f", {warn} warn" if warn else "")


def _metrics_line(record: Record) -> str:
    verdicts = [v for v in record["checks"]["metrics"].values() if isinstance(v, dict)]
    if not verdicts:
        return "not run"
    decisions = [str(v.get("decision")) for v in verdicts]
    return ", ".join(f"{decisions.count(d)} {d}" for d in dict.fromkeys(decisions))


def _status_of(value: Any) -> str:
    if value is None:
        return "not run"
    if isinstance(value, list):
        return _count_checks(value)
    if isinstance(value, dict):
        return str(
            value.get("status") or value.get("decision") or ("pass" if value.get("passed") else "done")
        )
    return str(value)


def stopped_where(phase: str | None) -> str:
    """'in staging', 'at the deploy lock', ... for a phase from `stopped_in`."""
    return _WHERE.get(phase or "", f"in {phase}" if phase else "in an earlier step")


def stopped_before_production(record: Mapping[str, Any]) -> bool:
    """A failed run that never changed production (stopped in validation of the request, at the lock, in
    pre-flight or in staging): nothing was rolled back in production, so no message may say so."""
    return (
        record.get("outcome") == "failed"
        and record.get("production_changed") is False
        and record.get("stopped_in") in PHASES[: PHASES.index("production")]
    )


def left_behind(record: Mapping[str, Any]) -> str:
    """What a run that stopped before production left behind: 'staging restored to v1; production
    untouched' (Slack, the run note and the run's final state all say it with these words)."""
    facts = [describe_staging_restore(record.get("staging_restore")), "production untouched"]
    return "; ".join(f for f in facts if f)


def describe_line_stopped(record: Mapping[str, Any]) -> str | None:
    """'line stopped: new runs are refused until a human checks production and runs `kubectl ...`' for a
    run whose production rollback failed and stopped the line (None: it did not)."""
    mark = record.get("line_stopped")
    if not isinstance(mark, Mapping):
        return None
    from airlock.stop_line import StopMark  # lazy: the record is read at DAG parse, the mark rarely

    clear = StopMark.from_dict(dict(mark)).clear_command()
    return f"line stopped: new runs are refused until a human checks production and runs `{clear}`"


def describe_retry(record: Mapping[str, Any]) -> str | None:
    """'retry (attempt 3) from production.record_rollback_plan, after attempt 1 ended rolled back' for a
    retried run (None: the run's first attempt)."""
    retry = record.get("retry")
    if not isinstance(retry, Mapping) or not retry.get("attempt"):
        return None
    from airlock.run_retry import RetryNote  # lazy: run_retry reads task states with this module's helper

    return RetryNote.from_dict(retry).describe()


def summarise(record: Record) -> str:
    """A few plain lines for Slack and the DAG run note (always under 1000 characters)."""
    head = f"{record['service']} {record['version']}"
    if record.get("previous_version"):
        head += f" (from {record['previous_version']})"
    mode = ", ".join(
        x for x in (record.get("strategy"), record.get("risk"), "dry run" if record["dry_run"] else "") if x
    )
    lines = [f"{head} [{mode}]: {record['outcome'].upper().replace('_', ' ')}"]
    retried = describe_retry(record)
    if retried:
        lines.append(f"This is a {retried}.")
    if record.get("hotfix_freeze_override"):
        lines.append(f"HOTFIX overrode change freeze {(record.get('window') or {}).get('freeze')}")
    if record.get("reason") and record["outcome"] != "succeeded":
        lines.append(f"Why: {record['reason']}")
    if stopped_before_production(record):
        lines.append(
            f"Stopped {stopped_where(record.get('stopped_in'))} before production: {left_behind(record)}."
        )
    for task_id, metric in failing_metrics(record)[:2]:
        lines.append(f"Evidence: {task_id}: {describe_metric(metric)}")
    for decision in record.get("decisions") or []:
        lines.append(f"Decision: {decision.get('sentence')}")
    checks = record["checks"]
    lines.append(
        f"Checks: preflight {_count_checks(checks['preflight'])}; metrics {_metrics_line(record)}; "
        f"health {_status_of(checks['health'])}; smoke {_status_of(checks['smoke'])}; "
        f"log scan {_status_of(checks['log_scan'])}"
    )
    rollback = record.get("rollback")
    if isinstance(rollback, dict) and not rollback.get("noop"):
        healthy = {True: "healthy", False: "NOT healthy", None: "health unknown"}[rollback.get("healthy")]
        lines.append(f"Rollback to {record.get('previous_version') or 'the recorded state'}: {healthy}")
    stopped_line = describe_line_stopped(record)
    if stopped_line:
        lines.append(f"Rollback in production FAILED, {stopped_line}.")
    timings = record["timings"]
    if timings.get("duration_s") is not None:
        wait = timings["phases"].get("window_wait")
        waited = f" (waited {format_duration(wait)} for the window)" if wait else ""
        lines.append(f"Took {format_duration(timings['duration_s'])}{waited}.")
    by = f" by {record['triggered_by']}" if record.get("triggered_by") else ""
    lines.append(f"Run {record.get('run_id')}{by}")
    text = "\n".join(lines)
    return text if len(text) < NOTE_LIMIT else text[: NOTE_LIMIT - 2] + "…"


# -- DORA-style aggregates over many records -------------------------------------------------------


def _production_changes(records: Iterable[Record]) -> list[Record]:
    return [
        r
        for r in records
        if r.get("outcome") in ("succeeded", "rolled_back", "failed") and not r.get("dry_run")
    ]


def change_failure_rate(records: Iterable[Record]) -> float | None:
    """Share of real (non dry-run) deployments that were rolled back or failed; None without data."""
    changes = _production_changes(records)
    if not changes:
        return None
    failures = sum(1 for r in changes if r["outcome"] != "succeeded")
    return failures / len(changes)


def mean_time_to_restore(records: Iterable[Record]) -> float | None:
    """Mean seconds a rollback took to restore service, over rolled-back runs that report it."""
    times = [
        float(r["timings"]["phases"]["rollback"])
        for r in records
        if r.get("outcome") == "rolled_back" and "rollback" in (r.get("timings") or {}).get("phases", {})
    ]
    return float(mean(times)) if times else None


def deployment_frequency(records: Iterable[Record], days: float) -> float | None:
    """Real deployments per day over a period of `days`."""
    if days <= 0:
        raise ValueError(f"days must be > 0, got {days}")
    changes = _production_changes(records)
    return len(changes) / days if changes else None


def dora_summary(records: Iterable[Record], days: float) -> dict[str, Any]:
    items = list(records)
    return {
        "deployments": len(_production_changes(items)),
        "change_failure_rate": change_failure_rate(items),
        "mean_time_to_restore_s": mean_time_to_restore(items),
        "deployments_per_day": deployment_frequency(items, days),
    }
