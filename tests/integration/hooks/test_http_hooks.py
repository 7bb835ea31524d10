"""HTTP connections through the http provider (HttpHook / HttpAsyncHook) against local stand-ins: base
URLs, basic auth, extra headers, gate retries and the Prometheus queries, sync and async."""

from __future__ import annotations

import asyncio
import base64
import socket

import pytest

from airlock.analysis.plan import PlannedQuery
from airlock.analysis.prometheus import PrometheusError
from hooks.http_services import http_service
from hooks.prometheus import PrometheusHook, prometheus_async_hook, query_async
from tests.fixtures.fake_apis import FakeServer, RecordedRequest, Reply

METRIC = "backup_last_success_timestamp_seconds"


def basic(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


class Flaky(FakeServer):
    """Answers 503 `failures` times, then 200."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def handle(self, request: RecordedRequest) -> Reply:
        if len(self.requests) <= self.failures:
            return Reply(503, "busy")
        return Reply(200, {"ok": True})


def test_base_url_from_a_full_url_host_or_host_port_schema(airflow_connections, fake_backup):
    airflow_connections("svc_url", {"conn_type": "http", "host": fake_backup.url + "/"})
    assert http_service("svc_url", retry_idempotent=False).base_url == fake_backup.url
    airflow_connections(
        "svc_parts", {"conn_type": "http", "host": "127.0.0.1", "port": fake_backup.port, "schema": "http"}
    )
    assert http_service("svc_parts", retry_idempotent=False).base_url == fake_backup.url
    airflow_connections("svc_uri", f"http://127.0.0.1:{fake_backup.port}")  # URI form, as in the README
    assert http_service("svc_uri", retry_idempotent=False).base_url == fake_backup.url


def test_credentials_only_connection_has_no_base_url_and_says_so(airflow_connections):
    airflow_connections("creds_only", {"conn_type": "http", "login": "deployer", "password": "s3cret"})
    service = http_service("creds_only", retry_idempotent=False)
    assert service.base_url is None and (service.login, service.password) == ("deployer", "s3cret")
    with pytest.raises(ValueError, match="connection 'creds_only' has no host: set its host"):
        service.require_base_url()


def test_login_is_basic_auth_and_extra_keys_are_headers(airflow_connections, fake_backup):
    airflow_connections(
        "svc_auth",
        {
            "conn_type": "http",
            "host": fake_backup.url,
            "login": "airlock",
            "password": "pw",
            "extra": {"X-Scope-OrgID": "payments"},
        },
    )
    service = http_service("svc_auth", retry_idempotent=False)
    service.session.request("GET", service.require_base_url() + "/backup/status", timeout=5)
    (seen,) = fake_backup.requests
    assert seen.headers["Authorization"] == basic("airlock", "pw")
    assert seen.headers["X-Scope-OrgID"] == "payments" and seen.headers["User-Agent"] == "airlock"


def test_gate_sessions_retry_idempotent_calls_and_check_sessions_do_not(airflow_connections):
    with Flaky(failures=2) as flaky:
        airflow_connections("flaky", {"conn_type": "http", "host": flaky.url})
        retried = http_service("flaky", retry_idempotent=True).session.request("GET", flaky.url, timeout=5)
        assert retried.status_code == 200 and len(flaky.requests) == 3
    with Flaky(failures=2) as flaky:
        airflow_connections("flaky", {"conn_type": "http", "host": flaky.url})
        once = http_service("flaky", retry_idempotent=False).session.request("GET", flaky.url, timeout=5)
        assert once.status_code == 503 and len(flaky.requests) == 1


def test_prometheus_sync_query_with_basic_auth(airflow_connections, fake_backup):
    fake_backup.last_success = 1_700_000_000.0
    airflow_connections(
        "prom", {"conn_type": "http", "host": fake_backup.url, "login": "airlock", "password": "pw"}
    )
    hook = PrometheusHook("prom")
    assert hook.base_url == fake_backup.url
    assert hook.query_planned(PlannedQuery("canary", "m", METRIC, 1_700_000_100.0)) == 1_700_000_000.0
    assert hook.query("absent_metric") is None  # an empty vector is "no data"
    first = fake_backup.requests[0]
    assert first.path == "/api/v1/query" and first.param("query") == METRIC
    assert first.param("time") == "1700000100.000" and first.param("timeout") == "10s"
    assert first.headers["Authorization"] == basic("airlock", "pw")


def test_prometheus_connection_without_host_fails_before_any_query(airflow_connections):
    airflow_connections("prom_nohost", {"conn_type": "http", "login": "x"})
    with pytest.raises(
        ValueError, match="connection 'prom_nohost' has no host: set its host to the Prometheus"
    ):
        PrometheusHook("prom_nohost")


def test_prometheus_async_query_through_http_async_hook(airflow_connections, fake_backup):
    fake_backup.last_success = 1_700_000_000.0
    airflow_connections(
        "prom_async", {"conn_type": "http", "host": fake_backup.url + "/", "login": "airlock", "password": ""}
    )

    async def run() -> tuple[float | None, float | None]:
        async with prometheus_async_hook("prom_async").session() as http:
            value = await query_async(http, PlannedQuery("canary", "m", METRIC, None))
            missing = await query_async(http, PlannedQuery("canary", "m", "absent_metric", None))
            return value, missing

    assert asyncio.run(run()) == (1_700_000_000.0, None)
    assert [r.path for r in fake_backup.requests] == ["/api/v1/query", "/api/v1/query"]
    assert fake_backup.requests[0].headers["Authorization"] == basic("airlock", "")


def test_prometheus_async_connection_error_is_a_prometheus_error(airflow_connections):
    url = closed_port_url()
    airflow_connections("prom_down", {"conn_type": "http", "host": url})

    async def run() -> None:
        async with prometheus_async_hook("prom_down").session() as http:
            await query_async(http, PlannedQuery("canary", "m", METRIC, None))

    with pytest.raises(PrometheusError, match=f"GET {url}/api/v1/query: ClientConnectorError"):
        asyncio.run(run())
