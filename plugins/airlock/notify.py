"""Slack messages for a deployment: start, success, rollback, task failure, overdue, approval needed.

Pure builders returning a Slack Incoming Webhook body: {"text": fallback, "blocks": [Block Kit]}.
`text` alone must make sense (notifications, clients without blocks), so it repeats the essentials.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from airlock.durations import format_duration
from airlock.record import (
    Record,
    describe_line_stopped,
    describe_metric,
    describe_retry,
    describe_staging_restore,
    failing_metrics,
    left_behind,
    stopped_where,
    summarise,
)
from airlock.spec import ServiceSpec

Message = dict[str, Any]
FIELD_LIMIT = 1900  # Slack: section text max 3000, fields 2000


def slack_escape(text: str) -> str:
    """Slack's three control characters as the entities Slack asks for (`&` `<` `>` -> `&amp;` `&lt;`
    `&gt;`): text from a person, an app or a log line then shows as typed and cannot mention anyone
    (`<!channel>`, `<!here>`, `<@U…>`) or dress up a link (`<http://x|y>`)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int = FIELD_LIMIT) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return re.sub(r"&[a-z]{0,3}$", "", cut) + "…"  # never half an entity ("&am…")


def _message(
    text: str,
    header: str,
    fields: Sequence[tuple[str, str]],
    body: str = "",
    link: str = "",
    link_label: str = "Dashboard",
) -> Message:
    """The webhook body. Every text goes through `slack_escape` here, once: the builders pass plain text
    (with Slack's *bold* markup, which escaping leaves alone); the only markup with `<>` is the link
    added below, around an escaped URL."""
    esc = slack_escape
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(esc(header), 150)}}
    ]
    shown = [(k, v) for k, v in fields if v]
    for i in range(0, len(shown), 10):  # at most 10 fields per section
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": _clip(f"*{esc(k)}*\n{esc(v)}")} for k, v in shown[i : i + 10]
                ],
            }
        )
    if body:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(esc(body), 2900)}})
    if link:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{esc(link)}|{esc(link_label)}>"}]}
        )
    return {"text": _clip(esc(text), 3000), "blocks": blocks}


def estimate_duration(
    spec: ServiceSpec, strategy: str, canary_steps: Sequence[int] | None, hotfix: bool
) -> timedelta:
    """Rough time to done from the spec's observation times (rollouts themselves add minutes)."""
    total = timedelta(0)
    if spec.kubernetes.staging is not None and not hotfix:
        total += spec.staging.soak
    if strategy == "canary":
        total += spec.strategy.canary.step_duration * len(canary_steps or spec.strategy.canary.steps)
    elif strategy == "blue_green":
        total += spec.strategy.blue_green.post_switch_duration
    total += spec.metrics.validation_window
    return total


def overdue_after(spec: ServiceSpec) -> timedelta:
    """When a run of the spec's default strategy is late: its ETA (estimate_duration, planned risk) plus one
    `strategy.rollout_timeout` for what the ETA leaves out (rollouts, pre-flight, API calls). The deadline
    alert counts this from when the run was queued."""
    return estimate_duration(spec, spec.strategy.default, None, hotfix=False) + spec.strategy.rollout_timeout


def start_message(
    spec: ServiceSpec,
    *,
    version: str,
    strategy: str,
    change_summary: str = "",
    risk: str = "planned",
    canary_steps: Sequence[int] | None = None,
    dry_run: bool = False,
    run_id: str = "",
) -> Message:
    hotfix = risk == "hotfix"
    eta = format_duration(estimate_duration(spec, strategy, canary_steps, hotfix))
    steps = canary_steps or spec.strategy.canary.steps
    how = strategy + (f" {'/'.join(f'{s}%' for s in steps)}" if strategy == "canary" else "")
    prefix = "[DRY RUN] " if dry_run else ""
    flag = " HOTFIX" if hotfix else ""
    text = f"{prefix}Deploying {spec.service} {version}{flag} ({how}), ETA ~{eta}. Changes: {change_summary or '-'}"
    owners = ", ".join(spec.owners)
    fields = [
        ("Service", spec.service),
        ("Version", version),
        ("Strategy", how),
        ("Risk", risk + (" (staging soak skipped, freezes overridable)" if hotfix else "")),
        ("ETA", f"~{eta}"),
        ("Owners", owners),
        ("Run", run_id),
    ]
    body = f"*Changes:* {change_summary}" if change_summary else ""
    return _message(
        text,
        f"{prefix}🚀 Deploying {spec.service} {version}{flag}",
        fields,
        body,
        spec.metrics.dashboard or "",
    )


def _metrics_summary(record: Record) -> str:
    lines = []
    for task_id, verdict in record["checks"]["metrics"].items():
        if not isinstance(verdict, Mapping):
            continue
        numbers = "; ".join(
            describe_metric(m) for m in verdict.get("metrics", []) if m.get("status") in ("pass", "fail")
        )
        lines.append(f"• {task_id}: {verdict.get('decision')}" + (f" ({numbers})" if numbers else ""))
    return "\n".join(lines)


def _decision_lines(record: Record) -> list[str]:
    """Each answer people (or their timeouts) gave at the run's questions, one line each."""
    return [f"• {d.get('sentence')}" for d in record.get("decisions") or [] if isinstance(d, Mapping)]


def _with_decisions(body: str, record: Record) -> str:
    lines = _decision_lines(record)
    return "\n".join([body, "*Decisions:*", *lines]) if lines else body


def approval_needed_message(
    *,
    service: str,
    subject: str,
    question: str,
    run_id: str,
    approvers: Sequence[str],
    timeout: timedelta | None,
    timeout_option: str,
    link: str = "",
) -> Message:
    """A run waits for a person: what is asked, who may answer, where (Airflow's Required actions) and what
    happens when nobody answers in time. `question` names the kind ("approval before production")."""
    who = ", ".join(approvers) if approvers else "anyone who may edit this DAG's runs"
    deadline = (
        f"no answer within {format_duration(timeout)}: {timeout_option}" if timeout else "no time limit"
    )
    where = f"in Airflow's Required actions: {link}" if link else "in Airflow's Required actions"
    text = f"✋ {service}: {question} needed - {subject} Answer {where} ({who}; {deadline})."
    fields = [
        ("Service", service),
        ("Asked", question),
        ("Who may answer", who),
        ("If nobody answers", deadline),
        ("Run", run_id),
    ]
    body = f"*{subject}*\nOpen the run in Airflow, *Required actions*, and answer (with a comment)."
    return _message(text, f"✋ {service}: {question} needed", fields, body, link, "Required actions")


def _retry_tail(record: Record) -> str:
    """' - retry (attempt 3) from ..., after attempt 1 ended rolled back' for a retried run, else ''."""
    retried = describe_retry(record)
    return f" - {retried}" if retried else ""


def success_message(record: Record, dashboard: str = "") -> Message:
    took = record["timings"].get("duration_s")
    took_text = format_duration(took) if took is not None else "n/a"
    prefix = "[DRY RUN] " if record.get("dry_run") else ""
    text = f"{prefix}✅ {record['service']} {record['version']} deployed ({record.get('strategy')}) in {took_text}{_retry_tail(record)}."
    fields = [
        ("Version", f"{record.get('previous_version') or '?'} → {record['version']}"),
        ("Strategy", str(record.get("strategy") or "")),
        ("Took", took_text),
        ("Outcome", str(record["outcome"])),
    ]
    body = _with_decisions(_metrics_summary(record) or summarise(record), record)
    return _message(
        text, f"{prefix}✅ {record['service']} {record['version']} is live", fields, body, dashboard
    )


def _evidence_lines(evidence: Mapping[str, Any], limit: int = 6) -> list[str]:
    """Pods, events and log lines the rollback collected, a few of each."""
    lines: list[str] = []
    for key, value in evidence.items():
        items = value if isinstance(value, list) else [value]
        for item in items[:3]:
            if isinstance(item, Mapping):
                item = ", ".join(f"{k}={v}" for k, v in list(item.items())[:4])
            lines.append(f"• {key}: {item}")
            if len(lines) >= limit:
                return lines
    return lines


def rollback_message(record: Record, dashboard: str = "") -> Message:
    rollback = record.get("rollback") or {}
    reason = str(record.get("reason") or rollback.get("reason") or "unknown")
    failing = failing_metrics(record)
    failed_tasks = [t for t, state in (record.get("tasks") or {}).items() if state == "failed"]
    gate = failing[0][0] if failing else ", ".join(failed_tasks)
    outcome = record["outcome"]
    healthy = rollback.get("healthy")
    state = {True: "production restored and healthy", False: "production NOT healthy after rollback - act now",
             None: "health after rollback unknown"}[healthy]  # fmt: skip
    emoji = "⏪" if outcome == "rolled_back" else "🔥"
    text = (
        f"{emoji} {record['service']} {record['version']} rolled back to {record.get('previous_version') or 'the recorded state'}: "
        f"{reason} ({state}){_retry_tail(record)}"
    )
    header = f"{emoji} Rolled back {record['service']} {record['version']}"
    line_stopped = describe_line_stopped(record)
    if line_stopped:  # the rollback itself failed: nothing may read as "rolled back"
        emoji, state = "🛑", "NOT restored - line stopped"
        text = f"🛑 {record['service']} {record['version']}: rollback in production FAILED, {line_stopped}: {reason}{_retry_tail(record)}"
        header = f"🛑 Rollback of {record['service']} {record['version']} failed: line stopped"
    lines = [f"*Why:* {reason}"]
    for task_id, metric in failing[:3]:
        lines.append(f"• {task_id}: {describe_metric(metric)}")
    evidence = rollback.get("evidence") or {}
    if isinstance(evidence, Mapping) and evidence:
        lines.append("*Evidence:*")
        lines.extend(_evidence_lines(evidence))
    actions = rollback.get("actions") or []
    if actions:
        lines.append("*Actions:* " + "; ".join(str(a) for a in actions[:5]))
    fields = [
        ("Version", f"{record['version']} → {record.get('previous_version') or '?'}"),
        ("Gate", gate or "-"),
        ("Outcome", outcome),
        ("Production", state),
        ("Run", str(record.get("run_id") or "")),
    ]
    if line_stopped:
        lines.append(f"*What now:* {line_stopped}")
    return _message(text, header, fields, _with_decisions("\n".join(lines), record), dashboard)


def stopped_message(record: Record, dashboard: str = "") -> Message:
    """A run that failed before production: where it stopped, what became of staging when it stopped there
    (restored to the previous version, unchanged, or NOT restored - then 🔥: a human must look), and that
    production was never touched."""
    where = stopped_where(record.get("stopped_in"))
    reason = str(record.get("reason") or "unknown")
    restore = record.get("staging_restore") or {}
    emoji = "🔥" if restore.get("restored") is False else "✋"
    text = f"{emoji} {record['service']} {record['version']} stopped {where} before production: {reason} ({left_behind(record)}){_retry_tail(record)}"
    stopped_by = record.get("stopped_by")
    # a person (or their timeout) said no: the header says so, the text gives their words (the reason)
    header = (
        f"{emoji} {record['service']} {record['version']} rejected before production"
        if isinstance(stopped_by, Mapping) and stopped_by.get("action") == "reject"
        else f"{emoji} {record['service']} {record['version']} stopped before production"
    )
    fields = [
        ("Version", str(record["version"])),
        ("Stopped", where),
        ("Staging", (describe_staging_restore(restore) or "").removeprefix("staging ")),
        ("Production", "untouched"),
        ("Outcome", str(record["outcome"])),
        ("Run", str(record.get("run_id") or "")),
    ]
    return _message(text, header, fields, _with_decisions(f"*Why:* {reason}", record), dashboard)


def failure_message(
    *, service: str, dag_id: str, task_id: str, run_id: str, error: str, dashboard: str = ""
) -> Message:
    """A task failed (task failure callback): which task, which run, the error's first lines."""
    first = "\n".join(error.strip().splitlines()[:6]) if error else "no error message"
    text = f"❌ {service}: task {task_id} failed in {dag_id} run {run_id}: {first.splitlines()[0] if first else ''}"
    fields = [("Service", service), ("Task", task_id), ("Run", run_id)]
    return _message(text, f"❌ {service}: {task_id} failed", fields, f"```{_clip(first, 1500)}```", dashboard)


def line_stopped_message(
    *, service: str, run_id: str, reason: str, clear_command: str, owners: Sequence[str], dashboard: str = ""
) -> Message:
    """The rollback failed or left production off the recorded plan: a human must look (stop_line.py)."""
    who = ", ".join(owners) or "the service owners"
    text = (
        f"🛑 {service}: LINE STOPPED - the rollback of run {run_id} failed ({reason}). Production needs a "
        f"human; new deployments are refused until the mark is cleared with `{clear_command}`"
    )
    fields = [
        ("Service", service),
        ("Failed run", run_id),
        ("Owners", who),
        ("To clear", f"`{clear_command}`"),
    ]
    body = (
        f"*Why:* {reason}\n*What to do:* check production by hand (images, Service selector, canary, "
        f"colours), put it right, then clear the mark with `{clear_command}`."
    )
    return _message(text, f"🛑 {service}: line stopped, a human is needed", fields, body, dashboard)


def overdue_message(
    *,
    service: str,
    dag_id: str,
    run_id: str,
    version: str,
    expected: timedelta,
    queued_at: str,
    waits_for_windows: bool,
    dashboard: str = "",
) -> Message:
    """The run is still going past its expected duration (the DAG's deadline alert): a person may want to
    look; nothing was stopped."""
    limit = format_duration(expected)
    what = f"{service} {version}".strip()
    text = (
        f"⏰ {what}: deployment run {run_id} is still running past its expected duration "
        f"({limit} from being queued); nothing was stopped"
    )
    fields = [
        ("Service", service),
        ("Version", version),
        ("Run", run_id),
        ("Queued at", queued_at),
        ("Expected within", limit),
    ]
    body = (
        f"*Why:* the run of {dag_id} passed its expected duration ({limit}: the observation times of the "
        "default strategy plus one rollout timeout). It goes on; open the run to see which task it is on."
    )
    if waits_for_windows:
        body += " This service has off-peak windows: the time counts from queueing, so a wait for a window counts too."
    return _message(text, f"⏰ {what}: running longer than expected", fields, body, dashboard)


def gate_waiting_message(
    *,
    service: str,
    version: str,
    why: str,
    reason: str,
    options: Sequence[str],
    timeout: timedelta,
    timeout_option: str,
    run_id: str,
    task_id: str,
    dashboard: str = "",
) -> Message:
    """A metrics gate holds (inconclusive, on_inconclusive: hold) or pauses (strategy.canary.pause_at) and
    waits for a person: what it measured, the answers, and what happens when nobody answers."""
    limit = format_duration(timeout)
    text = (
        f"✋ {service} {version}: {task_id} {why} and waits for a person "
        f"({' / '.join(options)}); no answer within {limit}: {timeout_option}"
    )
    fields = [
        ("Service", service),
        ("Version", version),
        ("Task", task_id),
        ("Run", run_id),
        ("No answer within", f"{limit}: {timeout_option}"),
    ]
    body = (
        f"*Why:* {reason}\n*Answer* in the Airflow UI's Required actions (or over the REST API): "
        + ", ".join(f"*{o}*" for o in options)
    )
    return _message(text, f"✋ {service} {version}: waiting for you", fields, body, dashboard)
