"""CheckResult: the outcome of one gate, with a human reason and the numbers behind it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["pass", "fail", "warn"]
PASS: Status = "pass"
FAIL: Status = "fail"
WARN: Status = "warn"
STATUSES: tuple[str, ...] = (PASS, FAIL, WARN)


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {', '.join(STATUSES)}")

    @property
    def passed(self) -> bool:
        return self.status == PASS

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (XCom, deployment record); evidence values that JSON can't hold become strings."""
        data = asdict(self)
        data["evidence"] = json.loads(json.dumps(self.evidence, default=str))
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        return cls(data["name"], data["status"], data["reason"], dict(data.get("evidence") or {}))


def run_guarded(name: str, check: Callable[[], CheckResult]) -> CheckResult:
    """Run one check; an exception (network error, bad answer) becomes a fail naming the error."""
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 - a gate that cannot decide must fail, not crash the run
        return CheckResult(
            name, FAIL, f"check could not run: {type(exc).__name__}: {exc}", {"error": repr(exc)}
        )


def failing(results: Iterable[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.status == FAIL]


def format_table(rows: Iterable[tuple[str, ...]], headers: tuple[str, ...], max_width: int = 100) -> str:
    """A plain-text table for task logs; cells longer than max_width are cut with an ellipsis."""

    def cell(value: object) -> str:
        text = " ".join(str(value).split())
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    body = [tuple(cell(v) for v in row) for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))

    def line(values: tuple[str, ...]) -> str:
        return " | ".join(v.ljust(widths[i]) for i, v in enumerate(values)).rstrip()

    sep = "-+-".join("-" * w for w in widths)
    return "\n".join([line(headers), sep, *(line(r) for r in body)])


def results_table(results: Iterable[CheckResult], skipped: Iterable[tuple[str, str]] = ()) -> str:
    """check | status | reason, one row per result, then one row per skipped check."""
    rows = [(r.name, r.status.upper(), r.reason) for r in results]
    rows += [(name, "SKIP", why) for name, why in skipped]
    return format_table(rows, ("check", "status", "reason"), max_width=160)
