"""Log scan: error signatures that the new version logs and the stable version does not (or far less).

Lines matching any error pattern are grouped by a normalised message (timestamps, UUIDs, hex ids,
quoted strings and numbers replaced by placeholders). A signature is flagged when it is *new* (absent
from the stable pods) or *increased* (its rate per log line exceeds `max_increase_ratio` x the stable
rate). The scan fails when more than `max_new_signatures` signatures are flagged.

Without stable pods (a finished rolling update: every pod runs the new version) there is no baseline:
the signatures are listed with verdict "no baseline" and the result is a warning, not a failure - an
app's everyday error noise must not roll back every rolling deployment; the metrics gate judges those.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airlock.checks.result import FAIL, PASS, WARN, CheckResult, format_table
from airlock.image_ref import parse_image_ref
from airlock.kube.api import Kube, KubeError
from airlock.kube.pod_template import container_image
from airlock.redact import env_values, scrub

if TYPE_CHECKING:
    from kubernetes import client

NAME = "log_scan"

_NORMALISERS: list[tuple[re.Pattern[str], str]] = [
    # ISO 8601 / RFC 3339 / "2026-01-02 03:04:05,678" timestamps, and syslog-style "Jan  2 03:04:05"
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"), "<ts>"),
    (
        re.compile(r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}\b"),
        "<ts>",
    ),
    (re.compile(r"\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<ts>"),
    (
        re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
        "<uuid>",
    ),
    (re.compile(r'"(?:[^"\\]|\\.)*"'), '"<str>"'),
    (re.compile(r"'(?:[^'\\]|\\.)*'"), "'<str>'"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    # hex ids: 8+ hex chars containing at least one digit (so plain words like "deadbeef"-free text stays)
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"), "<hex>"),
    (re.compile(r"(?<![A-Za-z_])[-+]?\d+(?:\.\d+)?"), "<num>"),
]


def normalise(line: str) -> str:
    """The error's shape: variable parts replaced by <ts>, <uuid>, "<str>", <hex>, <num>; spaces collapsed."""
    text = line.strip()
    for pattern, placeholder in _NORMALISERS:
        text = pattern.sub(placeholder, text)
    return " ".join(text.split())


@dataclass
class LogSample:
    """Error signatures counted over some pods' logs."""

    pods: list[str] = field(default_factory=list)
    lines: int = 0
    minutes: float = 0.0
    signatures: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)


def scan_lines(text: str, patterns: list[re.Pattern[str]], sample: LogSample) -> None:
    for raw in text.splitlines():
        if not raw.strip():
            continue
        sample.lines += 1
        if any(p.search(raw) for p in patterns):
            sig = normalise(raw)
            sample.signatures[sig] += 1
            sample.examples.setdefault(sig, raw.strip()[:300])


def compare(new: LogSample, stable: LogSample, max_increase_ratio: float) -> list[dict[str, Any]]:
    """One row per signature seen in the new pods: counts, rates per 1000 lines, verdict."""
    rows = []
    for sig, count in new.signatures.most_common():
        base = stable.signatures.get(sig, 0)
        new_rate = count / new.lines if new.lines else 0.0
        base_rate = base / stable.lines if stable.lines else 0.0
        if base == 0:
            verdict = "new"
        elif new_rate > max_increase_ratio * base_rate:
            verdict = "increased"
        else:
            verdict = "known"
        rows.append(
            {
                "signature": sig,
                "count_new": count,
                "count_stable": base,
                "rate_new_per_1k_lines": round(1000 * new_rate, 3),
                "rate_stable_per_1k_lines": round(1000 * base_rate, 3),
                "per_minute_new": round(count / new.minutes, 3) if new.minutes else None,
                "per_minute_stable": round(base / stable.minutes, 3) if stable.minutes else None,
                "verdict": verdict,
                "example": new.examples.get(sig, ""),
            }
        )
    return rows


def signatures_table(rows: list[dict[str, Any]]) -> str:
    return format_table(
        [(r["signature"], str(r["count_new"]), str(r["count_stable"]), r["verdict"]) for r in rows],
        ("signature", "count new", "count stable", "verdict"),
        max_width=120,
    )


def judge_logs(
    new: LogSample, stable: LogSample, max_increase_ratio: float, max_new_signatures: int, version: str
) -> CheckResult:
    rows = compare(new, stable, max_increase_ratio)
    flagged = [r for r in rows if r["verdict"] != "known"]
    evidence: dict[str, Any] = {
        "version": version,
        "new_pods": new.pods,
        "stable_pods": stable.pods,
        "lines_new": new.lines,
        "lines_stable": stable.lines,
        "max_increase_ratio": max_increase_ratio,
        "max_new_signatures": max_new_signatures,
        "signatures": rows,
    }
    if not new.pods:
        return CheckResult(NAME, FAIL, f"no pods run version {version}: nothing to scan", evidence)
    if not stable.pods:
        for row in rows:
            row["verdict"] = "no baseline"
        scanned = f"{len(new.pods)} pod(s) of {version}, {new.lines} lines"
        if rows:
            listed = "; ".join(f"{r['signature'][:100]} x{r['count_new']}" for r in rows[:5])
            return CheckResult(
                NAME,
                WARN,
                f"no stable pods to compare with ({scanned}); {len(rows)} error signature(s) not judged: {listed}",
                evidence,
            )
        return CheckResult(
            NAME, PASS, f"no error lines ({scanned}; no stable pods to compare with)", evidence
        )
    baseline = f"{len(stable.pods)} stable pod(s), {stable.lines} lines" if stable.pods else "no stable pods"
    scanned = f"{len(new.pods)} pod(s) of {version}, {new.lines} lines vs {baseline}"
    if len(flagged) > max_new_signatures:
        listed = "; ".join(f"[{r['verdict']}] {r['signature'][:100]} x{r['count_new']}" for r in flagged[:5])
        more = f" (+{len(flagged) - 5} more)" if len(flagged) > 5 else ""
        return CheckResult(
            NAME,
            FAIL,
            f"{len(flagged)} new/increased error signature(s) > allowed {max_new_signatures} ({scanned}): {listed}{more}",
            evidence,
        )
    if flagged:
        return CheckResult(
            NAME,
            WARN,
            f"{len(flagged)} new/increased error signature(s), allowed {max_new_signatures} ({scanned})",
            evidence,
        )
    return CheckResult(
        NAME,
        PASS,
        f"no new error signatures ({scanned}; {sum(new.signatures.values())} known error line(s))",
        evidence,
    )


def image_tag(image: str | None) -> str | None:
    """'reg/app:1.2.3' -> '1.2.3'; untagged -> 'latest'; digest-only or unparsable -> None."""
    if not image:
        return None
    try:
        ref = parse_image_ref(image)
    except ValueError:
        return None
    if ref.tag:
        return ref.tag
    return None if ref.digest else "latest"


def _minutes_since(start: str | None, now: datetime) -> float:
    if not start:
        return 0.0
    started = datetime.fromisoformat(start.replace("Z", "+00:00"))
    return max((now - started).total_seconds() / 60.0, 0.0)


def scan_pods(
    api: client.ApiClient,
    namespace: str,
    label_selector: str,
    container: str,
    version: str,
    error_patterns: list[str],
    max_increase_ratio: float,
    max_new_signatures: int,
    tail_lines: int | None = None,
    now: datetime | None = None,
) -> CheckResult:
    """Read the logs of every running pod matching the selector; pods whose container image tag equals
    `version` are the new sample, the others the stable one."""
    now = now or datetime.now(UTC)
    patterns = [re.compile(p) for p in error_patterns]
    new, stable = LogSample(), LogSample()
    unreadable: list[str] = []
    kube = Kube(api)
    for pod in kube.items("pods", namespace, label_selector=label_selector):
        meta, status = pod.get("metadata") or {}, pod.get("status") or {}
        if meta.get("deletionTimestamp") or status.get("phase") not in ("Running", "Succeeded", "Failed"):
            continue
        sample = new if image_tag(container_image(pod, container)) == version else stable
        name = meta["name"]
        try:
            # the pod's env values never reach the examples (redact.scrub)
            text = scrub(
                kube.read_log(namespace, name, container=container, tail_lines=tail_lines), env_values(pod)
            )
        except KubeError as exc:  # e.g. container not started yet: note it, scan the others
            unreadable.append(f"{name}: HTTP {exc.status} {exc.reason}")
            continue
        sample.pods.append(name)
        sample.minutes += _minutes_since(status.get("startTime"), now)
        scan_lines(text, patterns, sample)
    result = judge_logs(new, stable, max_increase_ratio, max_new_signatures, version)
    result.evidence["unreadable_pods"] = unreadable
    return result
