"""Prometheus through an Airflow HTTP connection (default `prometheus_default`: schema/host/port, optional
login/password for basic auth), synchronously with requests. The async trigger shares the core's query
building and parsing (airlock.analysis.prometheus) and only swaps the transport."""

from __future__ import annotations

from typing import Any

import requests

from airlock.analysis.plan import PlannedQuery
from airlock.analysis.prometheus import PrometheusError, parse_query_response, query_params, query_url
from hooks.app_http import AppHttpHook

QUERY_TIMEOUT_S = 10.0


class PrometheusHook(AppHttpHook):
    default_conn_name = "prometheus_default"
    hook_name = "Airlock Prometheus"

    def __init__(self, conn_id: str = default_conn_name) -> None:
        # no transport retries: a failed poll is counted by the gate (max_consecutive_errors) and retried
        # at the next interval, so every error shows in the log
        super().__init__(conn_id, retry_idempotent=False)
        if self.conn.login:
            self.session.auth = (self.conn.login, self.conn.password or "")

    def query(self, promql: str, at: float | None = None) -> float | None:
        """The value of an instant query (None = no data); PrometheusError when Prometheus fails."""
        url = query_url(self.require_base_url())
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
        return parse_query_response(response.status_code, body, promql)

    def run(self, q: PlannedQuery) -> float | None:
        return self.query(q.promql, q.at)
