"""One metrics gate over time: judge each poll, retry failed Prometheus polls, give up after N in a row,
and extend the observation when it ends short of traffic (see :mod:`airlock.analysis.extension`).

The sync sensor and the async trigger both drive a GateState; only fetching differs between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from airlock.analysis.extension import TrackCount, extend_or_conclude
from airlock.analysis.judge import INCONCLUSIVE_ACTIONS, SUBJECTS, JudgeConfig, Samples, judge
from airlock.analysis.verdict import Decision, Verdict


@dataclass
class GateState:
    config: JudgeConfig
    duration_s: float
    phase: str = "canary"
    consecutive_errors: int = 0
    last: Verdict | None = field(default=None)
    # how long past duration_s the gate may keep observing when a track is short of min_requests
    max_extension_s: float = 0.0
    # canary phase: both tracks count since the step started; validation/staging: the baseline is a
    # fixed window before the deployment, which waiting cannot grow
    baseline_grows: bool = True
    # what the reasons call the new version's track ("canary", "new version", "green"); None: by phase
    subject: str | None = None
    # False: a healthy gate observes its whole duration (blue-green's post-switch observation)
    early_pass: bool = True

    def observe(self, samples: Samples, elapsed_s: float) -> Verdict:
        self.consecutive_errors = 0
        verdict = judge(
            samples, self.config, elapsed_s, self.duration_s, self.phase, self.subject, self.early_pass,
            extension_s=self.max_extension_s,
        )  # fmt: skip
        if verdict.decision == "inconclusive":
            verdict = self._extend_or_conclude(samples, verdict, elapsed_s)
        self.last = verdict
        return verdict

    def _extend_or_conclude(self, samples: Samples, verdict: Verdict, elapsed_s: float) -> Verdict:
        # the same tracks the judge counts: a baseline without requests is not compared, so not short
        subject = self.subject or SUBJECTS.get(self.phase, self.phase)
        tracks = [TrackCount(subject, samples.canary.requests or 0.0)]
        if samples.baseline is not None and samples.baseline.has_requests:
            tracks.append(TrackCount("baseline", samples.baseline.requests or 0.0, self.baseline_grows))
        min_requests = self.config.min_requests
        ext = extend_or_conclude(tracks, min_requests, elapsed_s, self.duration_s, self.max_extension_s)
        if ext.extend:
            return replace(verdict, decision="continue", reason=ext.reason, action=None)
        action = verdict.action or self.config.low_traffic_action
        reason = (
            f"not enough traffic to judge (min_requests {min_requests}): {ext.reason}; "
            f"on_inconclusive={action}: {INCONCLUSIVE_ACTIONS[action]}"
        )
        return replace(verdict, reason=reason, action=action)

    def observe_error(self, message: str, elapsed_s: float) -> Verdict:
        """A poll failed (Prometheus down, bad response): retry; after max_consecutive_errors the gate has
        no evidence either way, so it concludes inconclusive and on_inconclusive decides - an outage of
        the metrics system is never judged a regression of the release."""
        self.consecutive_errors += 1
        limit = self.config.max_consecutive_errors
        metrics = self.last.metrics if self.last is not None else []
        action: str | None = None
        if self.consecutive_errors >= limit:
            decision: Decision = "inconclusive"
            action = self.config.on_inconclusive
            reason = (
                f"metrics unavailable: {self.consecutive_errors} consecutive Prometheus errors "
                f"(max_consecutive_errors {limit}); last: {message}; inconclusive, not a regression: "
                f"on_inconclusive={action}: {INCONCLUSIVE_ACTIONS[action]}"
            )
        else:
            decision = "continue"
            reason = f"Prometheus error {self.consecutive_errors}/{limit} in a row, retrying: {message}"
        self.last = Verdict(
            decision, reason, self.phase, elapsed_s, self.duration_s, metrics, action=action,
            consecutive_errors=self.consecutive_errors, subject=self.subject or SUBJECTS.get(self.phase),
        )  # fmt: skip
        return self.last
