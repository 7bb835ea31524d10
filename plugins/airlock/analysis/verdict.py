"""What a metrics gate decided and why: JSON-able records and the fixed-width table for logs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Decision = Literal["pass", "fail", "continue", "inconclusive"]
# pass/fail: the rule decided; pending: too few samples yet; skipped: not applicable or no data;
# info: reported, never decides
MetricStatus = Literal["pass", "fail", "pending", "skipped", "info"]


@dataclass
class MetricResult:
    name: str
    status: MetricStatus
    reason: str
    canary: float | None = None
    baseline: float | None = None
    threshold: float | None = None
    unit: str = ""
    statistic: float | None = None  # e.g. the sequential test's log-likelihood ratio
    bounds: tuple[float, float] | None = None  # (accept, reject) bounds of that statistic
    samples: dict[str, float] = field(default_factory=dict)
    threshold_unit: str | None = None  # when the threshold is not in the value's unit (e.g. a ratio)
    # set when the statistic is a confidence bound in a value unit ("%", "pp") rather than a ratio
    statistic_unit: str | None = None


@dataclass
class Verdict:
    decision: Decision
    reason: str  # one line, for a human
    phase: str
    elapsed_s: float
    duration_s: float
    metrics: list[MetricResult] = field(default_factory=list)
    action: str | None = None  # on inconclusive: rollback | promote | fail | hold
    early_stop: bool = False
    consecutive_errors: int = 0
    subject: str | None = None  # what the new version's track is called ("canary", "new version", "green")

    @property
    def failed(self) -> bool:
        """True when the gate must stop the rollout (a failure, or inconclusive with rollback / fail)."""
        return self.decision == "fail" or (
            self.decision == "inconclusive" and self.action not in ("promote", "hold")
        )

    @property
    def holds(self) -> bool:
        """True when the gate waits for a person (inconclusive with `hold`): neither passed nor failed."""
        return self.decision == "inconclusive" and self.action == "hold"

    @property
    def passed(self) -> bool:
        """True when the rollout may go on without asking anyone (a pass, or inconclusive with promote)."""
        return self.final and not self.failed and not self.holds

    @property
    def final(self) -> bool:
        return self.decision != "continue"

    def metric(self, name: str) -> MetricResult:
        return next(m for m in self.metrics if m.name == name)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for m in out["metrics"]:
            if m["bounds"] is not None:
                m["bounds"] = list(m["bounds"])
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        metrics = [
            MetricResult(**{**m, "bounds": tuple(m["bounds"]) if m.get("bounds") else None})
            for m in data.get("metrics", [])
        ]
        return cls(**{**data, "metrics": metrics})


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "%":
        return f"{value * 100:.2f} %"
    if unit == "pp":
        return f"{value * 100:+.2f} pp"
    if unit == "s":
        return f"{value * 1000:.0f} ms"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "bytes":
        return f"{value / 2**20:.1f} MiB"
    if unit in ("req/s", "cores"):
        return f"{value:.3g} {unit}"
    return f"{value:.4g}{(' ' + unit) if unit else ''}"


def _samples(m: MetricResult) -> str:
    s = m.samples
    if "canary_requests" not in s:
        return ""
    parts = [("canary_errors", "canary_requests"), ("baseline_errors", "baseline_requests")]
    return " vs ".join(f"{s[e]:.0f}/{s[n]:.0f}" if e in s else f"{s[n]:.0f} req" for e, n in parts if n in s)


def format_verdict_table(verdict: Verdict | dict[str, Any]) -> str:
    """Fixed-width table: one row per metric with canary, baseline, threshold, statistic and status."""
    v = verdict if isinstance(verdict, Verdict) else Verdict.from_dict(verdict)
    header = (
        "metric",
        v.subject or "canary",
        "baseline",
        "threshold",
        "statistic",
        "samples (err/req)",
        "status",
    )
    rows = [header]
    for m in v.metrics:
        if m.bounds is not None and m.statistic is not None:
            stat = f"{m.statistic:+.2f} [{m.bounds[0]:+.1f},{m.bounds[1]:+.1f}]"
        elif m.statistic is not None and m.statistic_unit:
            stat = f"bound {format_value(m.statistic, m.statistic_unit)}"
        else:
            stat = "-" if m.statistic is None else f"{m.statistic:.2f}x"
        threshold_unit = m.threshold_unit or m.unit
        rows.append(
            (
                m.name,
                format_value(m.canary, m.unit),
                format_value(m.baseline, m.unit),
                format_value(m.threshold, threshold_unit) if m.threshold is not None else "-",
                stat,
                _samples(m),
                m.status,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        f"{v.phase} gate after {v.elapsed_s:.0f}s of {v.duration_s:.0f}s: {v.decision.upper()}"
        + (f" (action: {v.action})" if v.action else "")
        + (" (early stop)" if v.early_stop else ""),
    ]
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append(f"reason: {v.reason}")
    notes = [
        f"  - {m.name}: {m.reason}"
        for m in v.metrics
        if m.status in ("skipped", "pending") and not m.reason.endswith("not checked by this gate")
    ]
    if notes:
        lines.append("notes:")
        lines.extend(notes)
    return "\n".join(lines)
