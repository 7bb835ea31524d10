"""The canary judge: a pure function from metric samples to a Verdict with numbers and a reason.

Rules (each one a row of the verdict):

* ``health`` / ``smoke`` - boolean inputs from the DAG; ``False`` fails at once (seed: "health checks
  failing", "critical flows broken").
* ``error_rate`` - canary error rate above the critical absolute level (seed: > 5 %, roll back at once).
  It fails when the *lower confidence bound* of the rate (Wilson) is above the level, not the observed
  rate: a healthy canary at a 3 % baseline shows > 5 % by chance on one look in six at 50-69 requests.
* ``error_rate_increase`` - canary minus baseline error rate above N percentage points (seed: > 5 %),
  again on the lower bound of the difference (Newcombe's hybrid score interval).
  Both bounds are one-sided at ``alpha / looks``, ``looks`` being the gate's expected number of looks
  (duration / interval, Bonferroni) - see :mod:`airlock.analysis.intervals`.
* ``error_rate_test`` - the sequential test of :mod:`airlock.analysis.sequential` on where the errors
  fall; it catches smaller but significant regressions (0.4 % -> 1.5 %) and its repeated looks stay within
  the false-failure budget ``alpha``.
* ``latency_p95`` / ``latency_p99`` - with both tracks' latency histograms, the tail test of
  :mod:`airlock.analysis.tail`: the canary's share of requests above the baseline's quantile bucket
  boundary, failing when its lower confidence bound exceeds ``max_latency_ratio`` x (1 - q) (80 % of
  alpha on the decisive looks - the gate's last, and its extension's last - the rest over the others).
  A tail above that share but not significantly so at the gate's end is observed up to ``extension_s``
  (metrics.max_extension) longer rather than passed. Without histograms: canary quantile above
  ``max_latency_ratio`` x baseline (seed: > 50 % degradation), on the point estimates.
* ``latency_p50``, ``throughput``, ``cpu``, ``memory`` - reported for the person reading the log; they never
  decide. Optional metrics without data are skipped, saying so.

Low traffic: the absolute, increase and latency rules wait for ``min_requests`` per track, and a tail
quantile additionally for requests expected beyond it - ``MIN_TAIL_TEST_REQUESTS`` (p95 100, p99 1000)
for the tail test, ``MIN_TAIL_REQUESTS`` (10: p95 200, p99 1000) for the quantile ratio - so that one slow
or failed request among a handful cannot fail a canary; a quantile that never had them is reported as
"p99 not compared: 412 of 1000 requests", in its row and in the final reason. A spec can set the
requests each quantile needs explicitly (``thresholds.quantile_min_requests``), e.g. to compare p95 at
low traffic within the first step. The sequential test is valid at
any sample size (see its module), so clear evidence stops early. Until the step duration is over an
undecided gate says ``continue``; at the end, a gate that never saw ``min_requests`` per track is
``inconclusive`` and the configured ``on_inconclusive`` action applies, naming the shortfall.

Reasons call the new version's track by what it is in its phase (``SUBJECTS``): "canary" in canary
analysis, "new version" in validation and staging, the new colour ("green") after a blue-green switch.

A healthy canary passes early only when the sequential test accepts "no worse than
``relative_error_increase`` x" (Wald's lower bound) and every latency rule had its samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from airlock.analysis import intervals, sequential, tail
from airlock.analysis.verdict import Decision, MetricResult, MetricStatus, Verdict
from airlock.durations import format_duration

# Requests expected beyond a quantile before it is compared (p95 -> 200, p99 -> 1000 requests): with
# fewer, a quantile read off a histogram is dominated by interpolation noise, not by the version.
MIN_TAIL_REQUESTS = 10
# The same for the tail test on buckets (see airlock.analysis.tail), per quantile. The canary's bound is
# valid at any count; this keeps the baseline's boundary - its *sample* quantile - from landing so low that
# more than 1 - q of the baseline really lies above it (p95 -> 100, p99 -> 1000 requests per track, never
# fewer than min_requests). Measured at the demo's traffic: p99 after 500 requests failed 0.6 % of healthy
# canaries on its own, p95 after 60 requests 1.4 % (bench/judge.py's world, 500 seeds).
MIN_TAIL_TEST_REQUESTS = {"latency_p95": 5, "latency_p99": 10}
QUANTILES = {"latency_p95": 0.95, "latency_p99": 0.99}
# What the reasons call the new version's track, by phase: the canary pods, the new version after a
# rolling update or a canary's promotion, the new colour after a blue-green switch (the gate may be
# given the colour's own name: green, or blue on the next release).
SUBJECTS = {"canary": "canary", "validation": "new version", "staging": "new version", "post_switch": "green"}
INCONCLUSIVE_ACTIONS = {
    "rollback": "rolling back",
    "promote": "promoting anyway",
    "fail": "failing for a human",
    # the gate neither passes nor fails: it waits for a person's answer (airlock.people), and the
    # spec's hold.on_timeout answers if nobody does
    "hold": "holding for a person to decide",
}


@dataclass(frozen=True)
class TrackSample:
    """Cumulative figures of one track (canary or baseline) since the observation started."""

    requests: float | None = None
    errors: float | None = None
    p50: float | None = None  # seconds
    p95: float | None = None
    p99: float | None = None
    throughput: float | None = None  # req/s
    cpu: float | None = None  # cores
    memory: float | None = None  # bytes
    # the latency histogram: (le, cumulative count) pairs, +Inf last (tail.Histogram); when both tracks
    # have one, p95 / p99 are judged by the tail test on the buckets rather than by the quantiles' ratio
    buckets: tail.Histogram | None = None

    @property
    def has_requests(self) -> bool:
        return self.requests is not None and self.requests > 0

    @property
    def error_rate(self) -> float | None:
        if not self.has_requests:
            return None
        return (self.errors or 0.0) / float(self.requests or 1.0)


@dataclass(frozen=True)
class Samples:
    canary: TrackSample  # the new version (canary pods, or all new pods in validation)
    baseline: TrackSample | None = None  # concurrent baseline, or the previous version before the deploy
    health_ok: bool | None = None
    smoke_ok: bool | None = None


@dataclass(frozen=True)
class JudgeConfig:
    max_error_rate: float = 0.05
    max_error_rate_increase: float = 0.05
    max_latency_ratio: float = 1.5
    min_requests: int = 200
    alpha: float = 0.01
    beta: float = 0.05  # miss probability for the smallest alternative, used only for early pass
    relative_error_increase: float = 2.0
    on_inconclusive: str = "rollback"  # what an inconclusive gate does (a metrics outage, any shortfall)
    # what a gate short of min_requests does; None: on_inconclusive (see resolve_inconclusive)
    on_low_traffic: str | None = None
    max_consecutive_errors: int = 4
    # How often the gate looks (spec.metrics.interval): with the gate's duration it gives the number of
    # looks the bound rules share alpha over.
    interval_s: float = 60.0
    # Requests per track before p95 / p99 are compared; None: the default rule (tail_requests).
    min_requests_p95: int | None = None
    min_requests_p99: int | None = None

    @classmethod
    def from_spec(cls, spec: Any) -> JudgeConfig:
        """From a ServiceSpec (or anything with .metrics.thresholds shaped like it)."""
        m = spec.metrics
        t = m.thresholds
        on_inconclusive, on_low_traffic = resolve_inconclusive(spec)
        return cls(
            max_error_rate=t.max_error_rate,
            max_error_rate_increase=t.max_error_rate_increase,
            max_latency_ratio=t.max_latency_ratio,
            min_requests=t.min_requests,
            alpha=t.alpha,
            beta=getattr(t, "beta", cls.beta),
            relative_error_increase=t.relative_error_increase,
            on_inconclusive=on_inconclusive,
            on_low_traffic=on_low_traffic,
            max_consecutive_errors=m.max_consecutive_errors,
            interval_s=m.interval.total_seconds() if getattr(m, "interval", None) else cls.interval_s,
            min_requests_p95=getattr(getattr(t, "quantile_min_requests", None), "p95", None),
            min_requests_p99=getattr(getattr(t, "quantile_min_requests", None), "p99", None),
        )

    @property
    def low_traffic_action(self) -> str:
        """What a gate that ended short of min_requests does."""
        return self.on_low_traffic or self.on_inconclusive

    def quantile_requests(self, name: str, buckets: bool = False) -> int:
        """Requests per track before `name` (latency_p95 / latency_p99) is compared: the spec's explicit
        thresholds.quantile_min_requests, else MIN_TAIL_REQUESTS beyond the quantile and min_requests
        (`buckets`: the tail test, MIN_TAIL_TEST_REQUESTS beyond it)."""
        explicit = self.min_requests_p95 if name == "latency_p95" else self.min_requests_p99
        if explicit is not None:
            return explicit
        beyond = MIN_TAIL_TEST_REQUESTS[name] if buckets else MIN_TAIL_REQUESTS
        return tail_requests(QUANTILES[name], self.min_requests, beyond)

    def looks(self, duration_s: float) -> int:
        """Expected number of looks of a gate of `duration_s` (at least 1)."""
        return max(1, math.ceil(duration_s / self.interval_s - 1e-9))


def resolve_inconclusive(spec: Any) -> tuple[str, str]:
    """(on an inconclusive gate, on a gate short of traffic) for a spec (or anything shaped like one).

    `metrics.on_inconclusive`, when set, applies to both. Unset, the default is chosen for services whose
    traffic cannot reach min_requests in a step: rolling back a healthy release only because it was
    quiet is a guess, so such a gate *holds* for a person - when someone will hear of it (hold or
    approvals approvers named, or a Slack connection to ask in). With nobody to ask it rolls back, as
    before: a hold nobody sees would only delay the same rollback by hold.timeout. A metrics outage is
    no traffic question: unset, it rolls back (production goes back to what is known to work)."""
    explicit = getattr(spec.metrics, "on_inconclusive", None)
    if explicit:
        return explicit, explicit
    hold = getattr(spec, "hold", None)
    approvals = getattr(spec, "approvals", None)
    notify = getattr(spec, "notify", None)
    someone = bool(
        (hold is not None and hold.approvers)
        or (approvals is not None and approvals.approvers)
        or (notify is not None and notify.slack_connection)
    )
    return "rollback", ("hold" if someone else "rollback")


def pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.1f} %"


def counts(track: TrackSample) -> str:
    return f"{(track.errors or 0):.0f}/{(track.requests or 0):.0f} req"


def pct2(rate: float) -> str:
    """Bounds get two decimals: one would print a bound of 5.04 % as the 5.0 % it is compared with."""
    return f"{rate * 100:.2f} %"


def ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.0f} ms"


@dataclass
class _Context:
    samples: Samples
    config: JudgeConfig
    canary: TrackSample
    baseline: TrackSample | None  # None when there is nothing to compare with
    looks: int = 1  # expected looks of this gate; the bound rules spend alpha / looks on each
    subject: str = "canary"  # what the reasons call the new version's track (SUBJECTS)
    results: list[MetricResult] = field(default_factory=list)

    # the weighted split of the tail test (intervals.look_quantile): this look is decisive (the gate's
    # last look - the first at or after its duration - or its extension's last look), and how many looks
    # an extension of the observation may add
    last_look: bool = False
    extension_looks: int = 0

    def bound_z(self) -> float:
        return intervals.look_quantile(self.config.alpha, self.looks)

    def bound_text(self) -> str:
        return f"one-sided, alpha {self.config.alpha:g} over {self.looks} looks"

    def weighted_z(self) -> float:
        return intervals.look_quantile(self.config.alpha, self.looks, self.last_look, self.extension_looks)

    def weighted_text(self) -> str:
        a = self.config.alpha
        share = intervals.look_share(self.looks, self.last_look, self.extension_looks)
        if share >= 1.0:
            return f"one-sided, alpha {a:g}"
        others = (self.looks - 1) + max(self.extension_looks - 1, 0)
        if self.last_look:
            which = (
                "at each decisive look (the gate's last and its extension's last)"
                if self.extension_looks
                else "at the gate's last look"
            )
        elif self.extension_looks:
            which = f"at each of the {others} looks other than the gate's and its extension's last"
        else:
            which = f"at each of the {others} looks before the last"
        return f"one-sided at {a * share:.2g}: {share * 100:.0f} % of alpha {a:g} {which}"

    def error_samples(self) -> dict[str, float]:
        out = {"canary_requests": self.canary.requests or 0.0, "canary_errors": self.canary.errors or 0.0}
        if self.baseline is not None:
            out |= {
                "baseline_requests": self.baseline.requests or 0.0,
                "baseline_errors": self.baseline.errors or 0.0,
            }
        return out

    def baseline_text(self) -> str:
        if self.baseline is None:
            return "no baseline"
        return f"baseline {pct(self.baseline.error_rate)}, {counts(self.baseline)}"


def _boolean_rule(name: str, value: bool | None, what: str) -> MetricResult:
    if value is None:
        return MetricResult(name, "skipped", f"{what}: not checked by this gate")
    if value:
        return MetricResult(name, "pass", f"{what}: passing")
    return MetricResult(name, "fail", f"{what}: failing")


def _error_rate_rule(ctx: _Context) -> MetricResult:
    cfg, c = ctx.config, ctx.canary
    rate = c.error_rate
    base = ctx.baseline.error_rate if ctx.baseline else None
    res = MetricResult(
        "error_rate", "pending", "", rate, base, cfg.max_error_rate, "%", samples=ctx.error_samples()
    )
    if not c.has_requests:
        res.status, res.reason = "pending", f"no {ctx.subject} requests yet"
    elif (c.requests or 0) < cfg.min_requests:
        res.reason = f"{ctx.subject} {counts(c)} < min_requests {cfg.min_requests}; not judged yet"
    elif rate is not None and rate > cfg.max_error_rate:
        low, _ = intervals.wilson(c.errors or 0.0, c.requests or 0.0, ctx.bound_z())
        res.statistic, res.statistic_unit = low, "%"
        observed = f"{ctx.subject} error rate {pct(rate)} ({counts(c)}) is above the critical {pct(cfg.max_error_rate)}"
        if low > cfg.max_error_rate:
            res.status = "fail"
            res.reason = (
                f"{observed} (lower confidence bound {pct2(low)} > {pct(cfg.max_error_rate)}, "
                f"{ctx.bound_text()}; {ctx.baseline_text()})"
            )
        else:  # undecided: more requests either push the bound over the level or the rate under it
            res.reason = (
                f"{observed}, but not significantly: lower confidence bound {pct2(low)} <= "
                f"{pct(cfg.max_error_rate)} ({ctx.bound_text()})"
            )
    else:
        res.status = "pass"
        res.reason = (
            f"{ctx.subject} error rate {pct(rate)} ({counts(c)}) is within the critical "
            f"{pct(cfg.max_error_rate)}"
        )
    return res


def _enough(ctx: _Context, need: float) -> str | None:
    """None when both tracks have `need` requests, else what is missing."""
    short = []
    if (ctx.canary.requests or 0) < need:
        short.append(f"{ctx.subject} {ctx.canary.requests or 0:.0f}")
    if ctx.baseline is not None and (ctx.baseline.requests or 0) < need:
        short.append(f"baseline {ctx.baseline.requests or 0:.0f}")
    return None if not short else f"{' and '.join(short)} < {need:.0f} requests"


def tail_requests(quantile: float, min_requests: int, beyond: int = MIN_TAIL_REQUESTS) -> int:
    """Requests per track before a quantile is compared: `beyond` requests beyond it, and min_requests."""
    return max(min_requests, math.ceil(beyond / (1.0 - quantile) - 1e-9))


def _tail_test_possible(ctx: _Context, name: str) -> bool:
    """Both tracks have histograms and the baseline's quantile has a finite bucket boundary."""
    c, b = ctx.canary.buckets, ctx.baseline.buckets if ctx.baseline is not None else None
    return bool(c) and bool(b) and tail.boundary_at(b or (), QUANTILES[name]) is not None


def _latency_need(ctx: _Context, name: str) -> int:
    return ctx.config.quantile_requests(name, buckets=_tail_test_possible(ctx, name))


def _short_of(ctx: _Context, need: int) -> str | None:
    """None when both tracks have `need` requests, else "canary 412 of 1000 requests" (and the baseline)."""
    short = [
        f"{label} {track.requests or 0:.0f}"
        for label, track in ((ctx.subject, ctx.canary), ("baseline", ctx.baseline))
        if track is not None and (track.requests or 0) < need
    ]
    return None if not short else f"{' and '.join(short)} of {need} requests"


def _increase_rule(ctx: _Context) -> MetricResult:
    cfg = ctx.config
    if ctx.baseline is None:
        return MetricResult("error_rate_increase", "skipped", "no baseline to compare with", unit="pp")
    c_rate, b_rate = ctx.canary.error_rate, ctx.baseline.error_rate
    diff = None if c_rate is None or b_rate is None else c_rate - b_rate
    res = MetricResult(
        "error_rate_increase", "pending", "", diff, None, cfg.max_error_rate_increase, "pp",
        samples=ctx.error_samples(),
    )  # fmt: skip
    short = _enough(ctx, cfg.min_requests)
    if short or diff is None:
        res.reason = f"{short or 'no data'}; not judged yet"
    elif diff > cfg.max_error_rate_increase:
        c, b = ctx.canary, ctx.baseline
        low = intervals.newcombe_lower(
            c.errors or 0.0, c.requests or 0.0, b.errors or 0.0, b.requests or 0.0, ctx.bound_z()
        )
        res.statistic, res.statistic_unit = low, "pp"
        observed = (
            f"{ctx.subject} error rate {pct(c_rate)} ({counts(c)}) is {diff * 100:.1f} points above the "
            f"baseline {pct(b_rate)} ({counts(b)}); allowed +{cfg.max_error_rate_increase * 100:.1f}"
        )
        if low > cfg.max_error_rate_increase:
            res.status = "fail"
            res.reason = (
                f"{observed} (lower confidence bound of the increase {low * 100:+.2f} points, "
                f"{ctx.bound_text()})"
            )
        else:
            res.reason = (
                f"{observed}, but not significantly: lower confidence bound of the increase "
                f"{low * 100:+.2f} points ({ctx.bound_text()})"
            )
    else:
        res.status = "pass"
        res.reason = f"increase {diff * 100:+.1f} points is within +{cfg.max_error_rate_increase * 100:.1f}"
    return res


def _sequential_rule(ctx: _Context) -> tuple[MetricResult, bool]:
    """The sequential test row, and whether it accepted "no worse than the smallest alternative"."""
    cfg = ctx.config
    if ctx.baseline is None or not ctx.baseline.has_requests or not ctx.canary.has_requests:
        reason = "no baseline to compare with" if ctx.baseline is None else "no requests in one track yet"
        status: MetricStatus = "skipped" if ctx.baseline is None else "pending"
        return MetricResult("error_rate_test", status, reason, unit="%"), False
    c, b = ctx.canary, ctx.baseline
    e_c, e_b, n_c, n_b = c.errors or 0.0, b.errors or 0.0, c.requests or 0.0, b.requests or 0.0
    llr = float(sequential.mixture_llr(e_c, e_b, n_c, n_b, cfg.relative_error_increase))
    llr_small = float(sequential.log_likelihood_ratio(e_c, e_b, n_c, n_b, cfg.relative_error_increase))
    upper = sequential.upper_bound(cfg.alpha)
    lower = sequential.lower_bound(cfg.alpha, cfg.beta)
    res = MetricResult(
        "error_rate_test", "pending", "", c.error_rate, b.error_rate,
        cfg.relative_error_increase, "%", statistic=llr, bounds=(lower, upper), samples=ctx.error_samples(),
        threshold_unit="x",
    )  # fmt: skip
    worse = (c.error_rate or 0.0) > (b.error_rate or 0.0)
    if llr >= upper and worse:
        # No ratio of a zero: "infx" tells a reader nothing, the count in words does.
        ratio = (
            f"{(c.error_rate or 0) / b.error_rate:.1f}x"
            if b.error_rate
            else f"{e_b:.0f} errors in the baseline"
        )
        res.status = "fail"
        res.reason = (
            f"{ctx.subject} error rate {pct(c.error_rate)} ({counts(c)}) is significantly above the baseline "
            f"{pct(b.error_rate)} ({counts(b)}): {ratio}, log-likelihood ratio {llr:.2f} >= "
            f"{upper:.2f} (alpha {cfg.alpha:g})"
        )
        return res, False
    accepted = llr_small <= lower
    if accepted:
        res.status = "pass"
        res.reason = (
            f"evidence that the {ctx.subject} is not {cfg.relative_error_increase:g}x worse: "
            f"LLR {llr_small:.2f} <= {lower:.2f}"
        )
    else:
        res.reason = f"no significant difference yet (LLR {llr:.2f}, fail at {upper:.2f})"
        res.status = "pass" if (n_c >= cfg.min_requests) else "pending"
    return res, accepted


def _latency_rule(ctx: _Context, name: str) -> MetricResult:
    cfg = ctx.config
    q = QUANTILES[name]
    attr = name.removeprefix("latency_")
    c_val = getattr(ctx.canary, attr)
    b_val = getattr(ctx.baseline, attr) if ctx.baseline is not None else None
    ratio = c_val / b_val if c_val is not None and b_val else None
    res = MetricResult(
        name, "pending", "", c_val, b_val, None, "s", statistic=ratio,
        samples={"canary_requests": ctx.canary.requests or 0.0}
        | ({"baseline_requests": ctx.baseline.requests or 0.0} if ctx.baseline else {}),
    )  # fmt: skip
    if b_val is not None:
        res.threshold = b_val * cfg.max_latency_ratio
    if c_val is None or (ctx.baseline is not None and b_val is None):
        res.status, res.reason = "skipped", "no latency data (histogram empty or missing)"
        return res
    if ctx.baseline is None:
        res.status, res.reason = "info", f"{ctx.subject} {attr} {ms(c_val)}; no baseline to compare with"
        return res
    if _tail_test_possible(ctx, name):
        return _tail_rule(ctx, name)
    need = cfg.quantile_requests(name)
    short = _short_of(ctx, need)
    if short:
        why = (
            "thresholds.quantile_min_requests"
            if need != tail_requests(q, cfg.min_requests)
            else f"a {attr} needs {MIN_TAIL_REQUESTS} requests beyond it"
        )
        res.reason = f"{attr} not compared: {short} ({why})"
    elif ratio is not None and ratio > cfg.max_latency_ratio:
        res.status = "fail"
        res.reason = (
            f"{ctx.subject} {attr} latency {ms(c_val)} is {ratio * 100:.0f} % of the baseline {ms(b_val)} "
            f"(limit {cfg.max_latency_ratio * 100:.0f} %, {ctx.canary.requests or 0:.0f} vs "
            f"{ctx.baseline.requests or 0:.0f} req)"
        )
    else:
        res.status = "pass"
        res.reason = (
            f"{ctx.subject} {attr} {ms(c_val)} vs baseline {ms(b_val)} is within {cfg.max_latency_ratio:g}x"
        )
    return res


def _tail_rule(ctx: _Context, name: str) -> MetricResult:
    """p95 / p99 by the tail test on the histograms (airlock.analysis.tail): the share of the new
    version's requests above the baseline's quantile boundary against max_latency_ratio x the baseline's."""
    cfg, q = ctx.config, QUANTILES[name]
    attr = name.removeprefix("latency_")
    assert ctx.baseline is not None and ctx.canary.buckets and ctx.baseline.buckets  # _tail_test_possible
    res = MetricResult(
        name, "pending", "", unit="%", threshold_unit="%",
        samples={"canary_requests": ctx.canary.requests or 0.0, "baseline_requests": ctx.baseline.requests or 0.0},
    )  # fmt: skip
    need = cfg.quantile_requests(name, buckets=True)
    short = _short_of(ctx, need)
    if short:
        why = (
            "thresholds.quantile_min_requests"
            if need != tail_requests(q, cfg.min_requests, MIN_TAIL_TEST_REQUESTS[name])
            else f"the {attr} tail test needs {MIN_TAIL_TEST_REQUESTS[name]} requests beyond the baseline's {attr}"
        )
        res.reason = f"{attr} not compared: {short} ({why})"
        return res
    test = tail.tail_test(
        ctx.canary.buckets, ctx.baseline.buckets, q, cfg.max_latency_ratio, ctx.weighted_z()
    )
    if test is None:  # cannot happen after _tail_test_possible, unless a track's histogram is empty
        res.status, res.reason = "skipped", f"{attr} tail: a histogram is empty"
        return res
    res.canary, res.baseline, res.threshold = test.canary_share, test.baseline_share, test.allowed_share
    res.statistic, res.statistic_unit = test.lower, "%"
    res.samples |= {"canary_above": test.canary_above, "baseline_above": test.baseline_above}
    allowed = f"allowed {cfg.max_latency_ratio:g} x {pct(test.allowed_share / cfg.max_latency_ratio)}"
    observed = (
        f"{attr} tail: {test.canary_above:.0f} of {test.canary_requests:.0f} {ctx.subject} requests "
        f"({pct(test.canary_share)}) above the baseline's {attr} bucket boundary {ms(test.boundary)}, baseline "
        f"{test.baseline_above:.0f} of {test.baseline_requests:.0f} ({pct(test.baseline_share)})"
    )
    bound = f"lower confidence bound {pct2(test.lower)}"
    if test.regression:
        res.status = "fail"
        res.reason = (
            f"{observed}; {bound} > {allowed} = {pct2(test.allowed_share)} ({ctx.weighted_text()}): "
            f"{ctx.subject} latency regression"
        )
    elif test.canary_share > test.allowed_share:
        res.reason = (
            f"{observed}; above the {allowed} = {pct2(test.allowed_share)}, but not significantly: {bound} "
            f"({ctx.weighted_text()})"
        )
    else:
        res.status = "pass"
        res.reason = f"{observed}; within the {allowed} = {pct2(test.allowed_share)}"
    return res


def _info_rule(ctx: _Context, name: str, attr: str, unit: str) -> MetricResult:
    c_val = getattr(ctx.canary, attr)
    b_val = getattr(ctx.baseline, attr) if ctx.baseline is not None else None
    if c_val is None and b_val is None:
        return MetricResult(name, "skipped", f"no data for {name} (optional metric)", unit=unit)
    return MetricResult(name, "info", "reported only", c_val, b_val, None, unit)


def judge(
    samples: Samples,
    config: JudgeConfig,
    elapsed_s: float,
    duration_s: float,
    phase: str = "canary",
    subject: str | None = None,
    early_pass: bool = True,
    extension_s: float = 0.0,
) -> Verdict:
    """Decide pass | fail | continue | inconclusive from cumulative samples at `elapsed_s` of `duration_s`.

    `subject` is what the reasons call the new version's track; default by phase (SUBJECTS). Without
    `early_pass` a healthy gate observes its whole duration (blue-green's post-switch observation: the
    old colour must stay until then); a failing one still stops at once. `extension_s`: how long past
    its duration the gate may keep observing (metrics.max_extension); a latency tail above its allowed
    share but not significantly so at the gate's end is observed that much longer, not passed."""
    baseline = samples.baseline if samples.baseline is not None and samples.baseline.has_requests else None
    subject = subject or SUBJECTS.get(phase, phase)
    ctx = _Context(samples, config, samples.canary, baseline, config.looks(duration_s), subject=subject)
    ctx.extension_looks = config.looks(extension_s) if extension_s > 0 else 0
    step_end = duration_s <= elapsed_s < duration_s + config.interval_s
    ctx.last_look = step_end or (extension_s > 0 and elapsed_s >= duration_s + extension_s)
    seq, accepted = _sequential_rule(ctx)
    latency = [_latency_rule(ctx, name) for name in QUANTILES]
    results = [
        _boolean_rule("health", samples.health_ok, "health check"),
        _boolean_rule("smoke", samples.smoke_ok, "critical smoke flow"),
        _error_rate_rule(ctx),
        _increase_rule(ctx),
        seq,
        *latency,
        _info_rule(ctx, "latency_p50", "p50", "s"),
        _info_rule(ctx, "throughput", "throughput", "req/s"),
        _info_rule(ctx, "cpu", "cpu", "cores"),
        _info_rule(ctx, "memory", "memory", "bytes"),
    ]
    if samples.baseline is not None and baseline is None:
        for r in results:
            if r.name in ("error_rate_increase", "error_rate_test"):
                r.reason = "baseline had no requests in the window; " + r.reason

    def done(decision: Decision, reason: str, action: str | None = None, early_stop: bool = False) -> Verdict:
        return Verdict(
            decision, reason, phase, elapsed_s, duration_s, results, action, early_stop, subject=subject
        )

    failed = [r for r in results if r.status == "fail"]
    if failed:
        return done("fail", failed[0].reason, early_stop=elapsed_s < duration_s)

    short = _enough(ctx, config.min_requests)
    if elapsed_s < duration_s:
        latency_done = all(r.status in ("pass", "skipped", "info") for r in latency)
        # an observed rate above a threshold that is not yet significant is no ground for an early pass
        rates_done = all(r.status != "pending" for r in results[2:4])
        if early_pass and accepted and latency_done and rates_done and short is None:
            return done(
                "pass", f"{subject} healthy, stopped early: {seq.reason}; {_summary(ctx)}", early_stop=True
            )
        left = format_duration(max(round(duration_s - elapsed_s), 0))
        why = short or "no rule has failed"
        return done("continue", f"keep observing ({why}; {left} left): {_summary(ctx)}")

    # The step is over. A latency tail above its allowed share that is not (yet) significant is no ground
    # to promote: with an extension left, observe longer - more requests decide it either way.
    # (a tail row short of requests is pending too, with no share: that is "not compared", below)
    suspicious = [r for r in latency if r.status == "pending" and r.unit == "%" and r.canary is not None]
    if suspicious and extension_s > 0 and elapsed_s < duration_s + extension_s:
        left = format_duration(max(round(duration_s + extension_s - elapsed_s), 0))
        return done("continue", f"observing up to {left} longer: {suspicious[0].reason}")
    # A quantile that never had its samples was not compared - say so, with numbers,
    # rather than leave a "pending" row that reads as if it might still decide.
    # (A tail test that is pending because its excess was not significant was compared: it stays.)
    not_compared = [
        (r, short_of)
        for r in latency
        if r.status == "pending" and (short_of := _short_of(ctx, _latency_need(ctx, r.name))) is not None
    ]
    for r, _ in not_compared:
        r.status = "skipped"
    unjudged = "".join(
        f"; {r.name.removeprefix('latency_')} not compared: {short_of}" for r, short_of in not_compared
    )
    if short is not None:
        action = config.low_traffic_action
        then = INCONCLUSIVE_ACTIONS[action]
        reason = (
            f"not enough traffic to judge: {short} (min_requests {config.min_requests}) after "
            f"{format_duration(round(elapsed_s))}; on_inconclusive={action}: {then}"
        )
        return done("inconclusive", reason, action=action)
    # Passing at the bound means "no rule failed and no significant regression", not "proven
    # healthy": say so, with the test's evidence, so a reader can tell a clean canary from a close call.
    test = next((r for r in results if r.name == "error_rate_test"), None)
    evidence = f" (error-rate test: {test.reason})" if test is not None and test.reason else ""
    return done(
        "pass",
        f"no rule failed and no significant regression after {format_duration(round(elapsed_s))}"
        f"{evidence}: {_summary(ctx)}{unjudged}",
    )


def _summary(ctx: _Context) -> str:
    text = f"{ctx.subject} error rate {pct(ctx.canary.error_rate)} ({counts(ctx.canary)})"
    if ctx.baseline is not None:
        text += f", {ctx.baseline_text()}"
    if ctx.canary.p99 is not None:
        text += f", p99 {ms(ctx.canary.p99)}"
        if ctx.baseline is not None and ctx.baseline.p99 is not None:
            text += f" vs {ms(ctx.baseline.p99)}"
    return text
