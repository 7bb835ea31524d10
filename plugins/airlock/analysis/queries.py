"""PromQL templates for the metrics a gate reads, and the label selectors that pick a track.

Templates use literal placeholders, replaced as text (so PromQL's own braces need no escaping):

    {selector}   label matchers of the track, e.g. namespace="production",service="payments",track="canary"
    {window}     the range, e.g. 300s (time since the step started; the validation window for a baseline)
    {namespace} {service} {version}   the parts, for templates that build their own matchers

A service overrides any of them by metric name in ``spec.metrics.queries``; e.g. for cAdvisor metrics,
which carry pod but not app labels:

    cpu: sum(rate(container_cpu_usage_seconds_total{namespace="{namespace}",pod=~"{service}-canary-.*"}[{window}]))
"""

from __future__ import annotations

from collections.abc import Mapping

# Counts over the window as "now minus then", per series: `increase()` silently drops the first value
# of a series born inside the window - and a canary pod's 5xx counter is born with its first error, so
# increase() under-counts exactly the errors a canary judge is looking for. Series that did not exist
# at the window's start count from zero (`unless`); a counter reset counts as no increase (clamp_min).
_COUNT = (
    "(sum(M unless M offset {window}) or vector(0)) + (sum(clamp_min(M - M offset {window}, 0)) or vector(0))"
)
_QUANTILE = "histogram_quantile(Q, sum by (le) (increase(http_request_duration_seconds_bucket{{selector}}[{window}])))"

DEFAULT_QUERIES: dict[str, str] = {
    "requests": _COUNT.replace("M", "http_requests_total{{selector}}"),
    "errors": _COUNT.replace("M", 'http_requests_total{{selector},code=~"5.."}'),
    "p50": _QUANTILE.replace("Q", "0.5"),
    "p95": _QUANTILE.replace("Q", "0.95"),
    "p99": _QUANTILE.replace("Q", "0.99"),
    # the latency histogram itself, one series per bucket boundary (le): the p95 / p99 rules count the
    # requests above the baseline's quantile boundary in it (airlock.analysis.tail)
    "buckets": "sum by (le) (increase(http_request_duration_seconds_bucket{{selector}}[{window}]))",
    "throughput": "sum(rate(http_requests_total{{selector}}[{window}]))",
    "cpu": "sum(rate(container_cpu_usage_seconds_total{{selector}}[{window}]))",
    "memory": "sum(avg_over_time(container_memory_working_set_bytes{{selector}}[{window}]))",
}
# Without these the judge cannot say anything; the others are skipped, saying so, when they have no data.
REQUIRED = ("requests", "errors")
# Queries whose answer is a histogram (one series per `le`), not one number.
HISTOGRAM_METRICS = ("buckets",)
PLACEHOLDERS = ("selector", "window", "namespace", "service", "version")


def query_templates(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The built-in templates with the spec's overrides; unknown metric names are an error."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(DEFAULT_QUERIES))
    if unknown:
        raise ValueError(
            f"metrics.queries: unknown metric name(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(DEFAULT_QUERIES)}"
        )
    return {**DEFAULT_QUERIES, **overrides}


def render(template: str, **values: str) -> str:
    out = template
    for name in PLACEHOLDERS:
        out = out.replace("{" + name + "}", values.get(name, ""))
    return out


def matchers(labels: Mapping[str, str], extra: str = "") -> str:
    """`{a: "x", b: "y"}` -> `a="x",b="y"`; `extra` (already PromQL, e.g. `track!="canary"`) appended."""
    parts = [f'{key}="{_escape(value)}"' for key, value in labels.items()]
    if extra:
        parts.append(extra)
    return ",".join(parts)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def window(seconds: float) -> str:
    """A PromQL range in whole seconds (at least 1s)."""
    return f"{max(int(seconds), 1)}s"
