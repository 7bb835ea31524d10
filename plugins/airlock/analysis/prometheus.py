"""The Prometheus HTTP API's instant query (`GET /api/v1/query`): request parameters and answer parsing.

Transport is the caller's (requests in the hook, aiohttp in the trigger); both use these functions so
a response means the same thing everywhere.
"""

from __future__ import annotations

import math
from typing import Any

from airlock.analysis.queries import HISTOGRAM_METRICS
from airlock.analysis.tail import Histogram

# What one planned query answers: a number, a histogram (HISTOGRAM_METRICS), or None for "no data".
Answer = float | Histogram | None

QUERY_PATH = "/api/v1/query"


class PrometheusError(RuntimeError):
    """Prometheus could not answer (HTTP error, bad JSON, query error); the gate retries, then fails."""


def query_url(base_url: str) -> str:
    return base_url.rstrip("/") + QUERY_PATH


def query_params(promql: str, at: float | None = None, timeout_s: float | None = None) -> dict[str, str]:
    """Parameters of an instant query; `at` (unix seconds) evaluates it at that moment (like `@`)."""
    params = {"query": promql}
    if at is not None:
        params["time"] = f"{at:.3f}"
    if timeout_s is not None:
        params["timeout"] = f"{timeout_s:g}s"
    return params


def parse_answer(metric: str, status_code: int, body: Any, promql: str) -> Answer:
    """The answer to a planned query of `metric`: a histogram for HISTOGRAM_METRICS, else one number."""
    if metric in HISTOGRAM_METRICS:
        return parse_histogram_response(status_code, body, promql)
    return parse_query_response(status_code, body, promql)


def parse_query_response(status_code: int, body: Any, promql: str) -> float | None:
    """The single number an instant query answered, or None for "no data".

    Several series are summed (our templates aggregate, an override might not); an empty vector or NaN
    (histogram_quantile over no requests) is no data. Anything else raises PrometheusError.
    """
    kind, result = _result(status_code, body, promql)
    if kind == "scalar":
        values = [_number(result)]
    elif kind == "vector":
        values = [_number(series.get("value")) for series in result or []]
    else:
        raise PrometheusError(f"{promql!r} returned a {kind}; an instant vector or scalar is expected")
    numbers = [v for v in values if v is not None]
    return math.fsum(numbers) if numbers else None


def parse_histogram_response(status_code: int, body: Any, promql: str) -> Histogram | None:
    """A classic histogram from `sum by (le) (...)`: (le, cumulative count) pairs sorted by le, +Inf last.

    None ("no data") for an empty vector, no +Inf bucket (it holds the total) or a zero total; series
    without an `le` label mean the query does not answer by bucket, which is an error worth reading."""
    kind, result = _result(status_code, body, promql)
    if kind != "vector":
        raise PrometheusError(f"{promql!r} returned a {kind}; a vector with one series per `le` is expected")
    buckets: dict[float, float] = {}
    for series in result or []:
        le = (series.get("metric") or {}).get("le")
        if le is None:
            raise PrometheusError(
                f"{promql!r} returned a series without an `le` label ({series.get('metric')}); "
                "the buckets query must keep `le`, e.g. sum by (le) (increase(..._bucket[...]))"
            )
        try:
            bound = float(le)  # "+Inf" parses as inf
        except ValueError as exc:
            raise PrometheusError(f"{promql!r}: bucket boundary le={le!r} is not a number") from exc
        value = _number(series.get("value"))
        buckets[bound] = buckets.get(bound, 0.0) + (value or 0.0)
    if math.inf not in buckets or buckets[math.inf] <= 0:
        return None
    return tuple(sorted(buckets.items()))


def _result(status_code: int, body: Any, promql: str) -> tuple[Any, Any]:
    """(resultType, result) of a successful answer; PrometheusError otherwise."""
    if not isinstance(body, dict):
        raise PrometheusError(
            f"HTTP {status_code} for {promql!r}: answer is not a JSON object: {str(body)[:200]}"
        )
    if body.get("status") != "success":
        raise PrometheusError(
            f"HTTP {status_code} for {promql!r}: {body.get('errorType', 'error')}: {body.get('error', body)}"
        )
    data = body.get("data") or {}
    return data.get("resultType"), data.get("result")


def _number(sample: Any) -> float | None:
    """[<unix time>, "<value>"] -> float, None for NaN/missing."""
    try:
        value = float(sample[1])
    except (TypeError, ValueError, IndexError) as exc:
        raise PrometheusError(f"malformed sample {sample!r}") from exc
    return None if math.isnan(value) else value
