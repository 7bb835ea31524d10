"""HTTP connections (type `http`) through the http provider's HttpHook: the app's endpoints, Alertmanager,
backup status endpoints, the image registry and any other plain HTTP service Airlock talks to.

HttpHook reads the connection the provider's way: host may be a full URL (`https://api.example.com/base`);
otherwise the base URL is `<schema or http>://<host>[:<port>]`; login/password become basic auth; extra keys
become request headers, except the provider's own options (`verify`, `proxies`, `cert`, `timeout`, ...).
Timeouts stay per call: every check passes its own `timeout=` to the session.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from airflow.providers.http.hooks.http import HttpHook
from requests.adapters import HTTPAdapter
from requests.auth import HTTPBasicAuth
from urllib3.util.retry import Retry

USER_AGENT = "airlock"


def gate_retry() -> Retry:
    """Transport retries for gates: GET/HEAD retried on connection errors and 502/503/504, with backoff
    (0.5 s, 1 s, 2 s). Not for health/smoke checks nor Prometheus polls, which count and log every attempt
    themselves."""
    return Retry(
        total=3,
        connect=3,
        read=2,
        backoff_factor=0.5,
        status_forcelist=(502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        raise_on_status=False,
    )


def basic_auth(login: str | None = None, password: str | None = None) -> HTTPBasicAuth | None:
    """HttpHook's auth_type: basic auth when the connection has a login. An absent password is sent as ''
    (requests would send the text 'None'); HttpHook calls this without arguments when there is no login."""
    return HTTPBasicAuth(login, password or "") if login else None


@dataclass(frozen=True)
class HttpService:
    """One HTTP connection, ready to call: the provider-configured session and the base URL (None when the
    connection has no host, i.e. it only carries credentials)."""

    conn_id: str
    session: requests.Session
    base_url: str | None
    login: str | None
    password: str | None

    def require_base_url(self) -> str:
        if not self.base_url:
            raise ValueError(
                f"connection {self.conn_id!r} has no host: set its host to the service's base URL "
                "(e.g. https://app.example.com)"
            )
        return self.base_url


def http_service(conn_id: str, *, retry_idempotent: bool) -> HttpService:
    """The connection `conn_id` through HttpHook; with retry_idempotent, GET/HEAD get `gate_retry()`."""
    hook = HttpHook(method="GET", http_conn_id=conn_id, auth_type=basic_auth)
    session = hook.get_conn()  # resolves the connection and sets hook.base_url
    if retry_idempotent:
        # on both schemes: a gate may follow a redirect or a token realm to the other one
        adapter = HTTPAdapter(max_retries=gate_retry())
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    conn = hook.get_connection(conn_id)
    base_url = hook.base_url.rstrip("/") if urlsplit(hook.base_url).netloc else None
    return HttpService(conn_id, session, base_url, conn.login or None, conn.password or None)


def plain_session() -> requests.Session:
    """A session for an absolute URL that no connection describes (a public registry, a backup status URL
    written in the spec): gate retries, no credentials."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=gate_retry())
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session
