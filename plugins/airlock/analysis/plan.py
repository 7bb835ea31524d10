"""GatePlan: everything one metrics gate needs - what to ask Prometheus at each poll and how to judge it.

It is plain JSON (it crosses into the triggerer as trigger kwargs) and built from the ServiceSpec once.

Phases and their two tracks:

* ``canary`` - concurrent comparison: canary pods (``track="canary"``) against the rest of the
  service (``track!="canary"``), both counted over the time since the step started.
* ``post_switch`` / ``validation`` / ``staging`` - after a blue-green switch, a rolling update or a
  canary's promotion there is no concurrent baseline: the new version's pods (``version="<version>"``,
  since the observation started) against the previous version's own pods (``version="<baseline_version>"``,
  or every pod of the service when it is not known) over an equally long window ending when the
  deployment started, before production changed (``baseline_end``, the rollback plan's time; the instant
  query is evaluated at that time, which is what PromQL's ``@`` modifier does). ``post_switch`` is
  blue-green's observation of the new colour under full traffic (``post_switch_duration``) before the
  old colour may be retired; ``validation`` is the post-deployment window of every strategy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from airlock.analysis import queries
from airlock.analysis.gate import GateState
from airlock.analysis.judge import SUBJECTS, JudgeConfig, Samples, TrackSample
from airlock.analysis.prometheus import Answer

PHASES = ("canary", "post_switch", "validation", "staging")
TRACKS = ("canary", "baseline")
_SAMPLE_FIELDS = ("p50", "p95", "p99", "throughput", "cpu", "memory")


@dataclass(frozen=True)
class PlannedQuery:
    track: str  # canary | baseline
    metric: str  # a key of queries.DEFAULT_QUERIES
    promql: str
    at: float | None  # unix seconds to evaluate at; None = now


@dataclass(frozen=True)
class GatePlan:
    service: str
    phase: str
    namespace: str
    service_label: str  # value of the `service` label on the app's metrics
    version: str
    started_at: float  # unix seconds: when the observation (canary step, validation) started
    duration_s: float
    interval_s: float
    connection: str = "prometheus_default"
    baseline_version: str | None = None
    baseline_end: float | None = None  # validation/staging: end of the baseline window (deploy start)
    track_label: str = "track"
    weight: int | None = None
    templates: dict[str, str] = field(default_factory=lambda: dict(queries.DEFAULT_QUERIES))
    config: JudgeConfig = JudgeConfig()
    # how long past duration_s the gate may keep observing a track short of min_requests (0 = off); the
    # default 0 keeps plans serialized before the field existed behaving as they did
    max_extension_s: float = 0.0
    # what reasons call the new version's track; None: by phase (judge.SUBJECTS)
    subject: str | None = None

    @classmethod
    def from_spec(
        cls,
        spec: Any,
        *,
        version: str,
        phase: str,
        started_at: float,
        environment: str = "production",
        duration_s: float | None = None,
        weight: int | None = None,
        baseline_version: str | None = None,
        baseline_end: float | None = None,
        subject: str | None = None,
    ) -> GatePlan:
        """From a ServiceSpec; the duration defaults to the phase's observation time in the spec, and
        the extension (metrics.max_extension) to that duration when the spec leaves it unset."""
        if phase not in PHASES:
            raise ValueError(f"phase {phase!r} is not one of {', '.join(PHASES)}")
        default_duration = {
            "canary": spec.strategy.canary.step_duration,
            "post_switch": spec.strategy.blue_green.post_switch_duration,
            "validation": spec.metrics.validation_window,
            "staging": spec.staging.soak,
        }[phase]
        duration = duration_s if duration_s is not None else default_duration.total_seconds()
        extension = spec.metrics.max_extension
        return cls(
            service=spec.service,
            phase=phase,
            namespace=spec.environment(environment).namespace,
            service_label=spec.k8s_service,
            version=version,
            started_at=started_at,
            duration_s=duration,
            interval_s=spec.metrics.interval.total_seconds(),
            connection=spec.metrics.connection,
            baseline_version=baseline_version,
            baseline_end=baseline_end,
            track_label=spec.kubernetes.track_label,
            weight=weight,
            templates=queries.query_templates(spec.metrics.queries),
            config=JudgeConfig.from_spec(spec),
            max_extension_s=duration if extension is None else extension.total_seconds(),
            subject=subject or None,
        )

    def gate_state(self) -> GateState:
        """The state the sensor or the trigger drives over this gate's polls."""
        return GateState(
            self.config,
            self.duration_s,
            self.phase,
            max_extension_s=self.max_extension_s,
            # only the canary phase counts the baseline since the observation started (see queries_at)
            baseline_grows=self.phase == "canary",
            subject=self.subject,
            # post_switch_duration is how long the old colour stays ready to take traffic back: a
            # healthy new colour is observed for all of it, a failing one stops the gate at once
            early_pass=self.phase != "post_switch",
        )

    def selector(self, track: str) -> str:
        base = {"namespace": self.namespace, "service": self.service_label}
        if self.phase == "canary":
            op = "=" if track == "canary" else "!="
            return queries.matchers(base, f'{self.track_label}{op}"canary"')
        version = self.version if track == "canary" else self.baseline_version
        return queries.matchers(base | ({"version": version} if version else {}))

    def queries_at(self, now: float) -> list[PlannedQuery]:
        """Every query of one poll at unix time `now`."""
        out = []
        for track in TRACKS:
            if track == "canary" or self.phase == "canary":
                window, at = queries.window(now - self.started_at), None
            else:  # the previous version, over a full window that ends where the deployment began
                window, at = queries.window(self.duration_s), self.baseline_end or self.started_at
            values = {
                "selector": self.selector(track),
                "window": window,
                "namespace": self.namespace,
                "service": self.service_label,
                "version": (self.version if track == "canary" else self.baseline_version) or "",
            }
            for metric, template in self.templates.items():
                out.append(PlannedQuery(track, metric, queries.render(template, **values), at))
        return out

    @staticmethod
    def samples(
        results: Mapping[tuple[str, str], Answer],
        health_ok: bool | None = None,
        smoke_ok: bool | None = None,
    ) -> Samples:
        """Samples from {(track, metric): value-or-None}. No error series with requests = 0 errors."""

        def number(name: str, metric: str) -> float | None:
            value = results.get((name, metric))
            return None if isinstance(value, tuple) else value

        def track(name: str) -> TrackSample:
            requests = number(name, "requests")
            errors = number(name, "errors")
            if requests is not None and errors is None:
                errors = 0.0
            extra = {f: number(name, f) for f in _SAMPLE_FIELDS}
            hist = results.get((name, "buckets"))
            buckets = hist if isinstance(hist, tuple) else None
            return TrackSample(requests=requests, errors=errors, buckets=buckets, **extra)

        return Samples(track("canary"), track("baseline"), health_ok, smoke_ok)

    def collect(
        self,
        query: Callable[[PlannedQuery], Answer],
        now: float,
        health_ok: bool | None = None,
        smoke_ok: bool | None = None,
    ) -> Samples:
        """One poll with a synchronous `query` (raises PrometheusError on failure)."""
        return self.samples(
            {(q.track, q.metric): query(q) for q in self.queries_at(now)}, health_ok, smoke_ok
        )

    def describe(self) -> str:
        """One line for logs: what is compared with what, for how long."""
        c, b = self.selector("canary"), self.selector("baseline")
        if self.phase == "canary":
            when = "since the step started"
        else:
            previous = f"previous version {self.baseline_version}" if self.baseline_version else "every pod"
            when = (
                f"{previous}, the {self.duration_s:g}s before {_iso(self.baseline_end or self.started_at)}"
                + (" (the deployment's start)" if self.baseline_end is not None else " (this gate's start)")
            )
        weight = f" at {self.weight} % traffic" if self.weight is not None else ""
        subject = self.subject or SUBJECTS.get(self.phase, self.phase)
        return (
            f"{self.phase} gate for {self.service} {self.version}{weight}: {subject} {{{c}}} vs baseline "
            f"{{{b}}} ({when}), every {self.interval_s:g}s for {self.duration_s:g}s"
            + (
                f" (extended by up to {self.max_extension_s:g}s if traffic is short of min_requests)"
                if self.max_extension_s > 0
                else ""
            )
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GatePlan:
        return cls(**{**data, "config": JudgeConfig(**data["config"])})


def _iso(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
