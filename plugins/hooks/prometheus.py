"""Prometheus through an `http` connection (default `prometheus_default`; login/password = basic auth),
synchronously with the http provider's HttpHook and asynchronously (in the metrics trigger) with its
HttpAsyncHook. Query building and parsing are the core's (airlock.analysis.prometheus); only the transport
is here.

Neither transport retries: a failed poll is counted by the gate (max_consecutive_errors) and retried at the
next interval, so every error shows in the log.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import aiohttp
import requests
from airflow.providers.http.hooks.http import AsyncHttpSession, HttpAsyncHook, HttpHook

from airlock.analysis.plan import PlannedQuery
from airlock.analysis.prometheus import (
    QUERY_PATH,
    Answer,
    PrometheusError,
    parse_answer,
    query_params,
    query_url,
)
from hooks.http_services import USER_AGENT, basic_auth

QUERY_TIMEOUT_S = 10.0
# the HTTP call may take a little longer than Prometheus's own evaluation timeout (sent as `timeout=`)
ASYNC_CALL_TIMEOUT_S = QUERY_TIMEOUT_S + 5


class PrometheusHook(HttpHook):
    """Instant queries, synchronously (the sensor's non-deferrable path): `.base_url`, `.query`, `.run`."""

    default_conn_name = "prometheus_default"

    def __init__(self, conn_id: str = default_conn_name) -> None:
        super().__init__(method="GET", http_conn_id=conn_id, auth_type=basic_auth)
        self.session = self.get_conn()  # fails here if the connection is missing; sets self.base_url
        self.session.headers["User-Agent"] = USER_AGENT
        require_host(conn_id, self.base_url)

    def query(self, promql: str, at: float | None = None, metric: str = "") -> Answer:
        """The value of an instant query (None = no data; a histogram when `metric` is a buckets query);
        PrometheusError when Prometheus fails."""
        url = query_url(self.base_url)
        try:
            response = self.session.get(
                url, params=query_params(promql, at, QUERY_TIMEOUT_S), timeout=QUERY_TIMEOUT_S
            )
            body: Any = response.json()
        except requests.RequestException as exc:
            raise PrometheusError(f"GET {url}: {exc}") from exc
        except ValueError:
            raise PrometheusError(
                f"GET {url}: HTTP {response.status_code}, not JSON: {response.text[:200]!r}"
            ) from None
        return parse_answer(metric, response.status_code, body, promql)

    def query_planned(self, q: PlannedQuery) -> Answer:
        return self.query(q.promql, q.at, q.metric)


def require_host(conn_id: str, base_url: str) -> None:
    """A clear error before any wait when the connection names no Prometheus (HttpHook would build
    'http://' and fail at the first poll instead)."""
    if not urlsplit(base_url).netloc:
        raise ValueError(
            f"connection {conn_id!r} has no host: set its host to the Prometheus base URL "
            "(e.g. http://prometheus.monitoring:9090)"
        )


def _async_basic_auth(login: str | None = None, password: str | None = None) -> aiohttp.BasicAuth | None:
    # aiohttp refuses a None password; an absent one is sent as ''
    return aiohttp.BasicAuth(login, password or "") if login else None


def prometheus_async_hook(conn_id: str) -> HttpAsyncHook:
    """HttpAsyncHook for GET queries, one attempt per call (the gate counts failures, see above)."""
    return HttpAsyncHook(method="GET", http_conn_id=conn_id, auth_type=_async_basic_auth, retry_limit=1)


async def query_async(http: AsyncHttpSession, q: PlannedQuery) -> Answer:
    """The value of one planned instant query through the trigger's session; PrometheusError on failure."""
    url = query_url(http.base_url)
    # HttpAsyncHook joins base URL and endpoint as they are: one slash between them
    endpoint = QUERY_PATH.lstrip("/") if http.base_url.endswith("/") else QUERY_PATH
    try:
        response = await http.run(
            endpoint=endpoint,
            data=query_params(q.promql, q.at, QUERY_TIMEOUT_S),
            headers={"User-Agent": USER_AGENT},
            extra_options={
                "timeout": aiohttp.ClientTimeout(total=ASYNC_CALL_TIMEOUT_S),
                "check_response": False,  # Prometheus's error body says why; parse_answer reads it
            },
        )
        async with response:
            try:
                body: Any = await response.json(content_type=None)
            except ValueError:
                text = await response.text()
                raise PrometheusError(
                    f"GET {url}: HTTP {response.status}, not JSON: {text[:200]!r}"
                ) from None
            return parse_answer(q.metric, response.status, body, q.promql)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise PrometheusError(f"GET {url}: {type(exc).__name__}: {exc}") from exc
