"""The Prometheus HTTP API's instant query (`GET /api/v1/query`): request parameters and answer parsing.

Transport is the caller's (requests in the hook, aiohttp in the trigger); both use these functions so
a response means the same thing everywhere.
"""

from __future__ import annotations

import math
from typing import Any

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


def parse_query_response(status_code: int, body: Any, promql: str) -> float | None:
    """The single number an instant query answered, or None for "no data".

    Several series are summed (our templates aggregate, an override might not); an empty vector or NaN
    (histogram_quantile over no requests) is no data. Anything else raises PrometheusError.
    """
    if not isinstance(body, dict):
        raise PrometheusError(
            f"HTTP {status_code} for {promql!r}: answer is not a JSON object: {str(body)[:200]}"
        )
    if body.get("status") != "success":
        raise PrometheusError(
            f"HTTP {status_code} for {promql!r}: {body.get('errorType', 'error')}: {body.get('error', body)}"
        )
    data = body.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        values = [_number(result)]
    elif kind == "vector":
        values = [_number(series.get("value")) for series in result or []]
    else:
        raise PrometheusError(f"{promql!r} returned a {kind}; an instant vector or scalar is expected")
    numbers = [v for v in values if v is not None]
    return math.fsum(numbers) if numbers else None


def _number(sample: Any) -> float | None:
    """[<unix time>, "<value>"] -> float, None for NaN/missing."""
    try:
        value = float(sample[1])
    except (TypeError, ValueError, IndexError) as exc:
        raise PrometheusError(f"malformed sample {sample!r}") from exc
    return None if math.isnan(value) else value
