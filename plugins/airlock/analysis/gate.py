"""One metrics gate over time: judge each poll, retry failed Prometheus polls, give up after N in a row.

The sync sensor and the async trigger both drive a GateState; only fetching differs between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from airlock.analysis.judge import JudgeConfig, Samples, judge
from airlock.analysis.verdict import Decision, Verdict


@dataclass
class GateState:
    config: JudgeConfig
    duration_s: float
    phase: str = "canary"
    consecutive_errors: int = 0
    last: Verdict | None = field(default=None)

    def observe(self, samples: Samples, elapsed_s: float) -> Verdict:
        self.consecutive_errors = 0
        self.last = judge(samples, self.config, elapsed_s, self.duration_s, self.phase)
        return self.last

    def observe_error(self, message: str, elapsed_s: float) -> Verdict:
        """A poll failed (Prometheus down, bad response): retry, or fail after max_consecutive_errors."""
        self.consecutive_errors += 1
        limit = self.config.max_consecutive_errors
        metrics = self.last.metrics if self.last is not None else []
        if self.consecutive_errors >= limit:
            decision: Decision = "fail"
            reason = (
                f"metrics unavailable: {self.consecutive_errors} consecutive Prometheus errors "
                f"(max_consecutive_errors {limit}); last: {message}"
            )
        else:
            decision = "continue"
            reason = f"Prometheus error {self.consecutive_errors}/{limit} in a row, retrying: {message}"
        self.last = Verdict(
            decision, reason, self.phase, elapsed_s, self.duration_s, metrics,
            consecutive_errors=self.consecutive_errors,
        )  # fmt: skip
        return self.last
