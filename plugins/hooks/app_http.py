"""HTTP connections -> (requests session, base URL): for the app's endpoints, Alertmanager, Prometheus,
backup status endpoints and any other plain HTTP service Airlock talks to.

The http provider is not installed, so this follows its conventions by hand: the connection's host may
be a full URL (`https://api.example.com/base`); otherwise the scheme is the connection's `schema` when it
is http/https (else http, or https for conn_type https), then host, port, and a non-scheme `schema`
becomes a path prefix (that is where a URI connection `http://host:8080/prefix` puts `/prefix`).
Extra `base_url` overrides everything.
"""

from __future__ import annotations

from typing import Any

import requests
from airflow.sdk import BaseHook
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from airlock.checks.preflight import HttpEndpoint


def connection_base_url(conn: Any) -> str | None:
    """The base URL a connection describes, or None when it has no host (credentials only)."""
    extra = conn.extra_dejson if hasattr(conn, "extra_dejson") else {}
    if extra.get("base_url"):
        return str(extra["base_url"]).rstrip("/")
    host = (conn.host or "").strip()
    if not host:
        return None
    if host.startswith(("http://", "https://")):
        base = host.rstrip("/")
        if conn.port and ":" not in base.split("://", 1)[1].split("/", 1)[0]:
            scheme, rest = base.split("://", 1)
            hostpart, _, path = rest.partition("/")
            base = f"{scheme}://{hostpart}:{conn.port}" + (f"/{path}" if path else "")
        return base
    schema = (conn.schema or "").strip("/")
    if schema in ("http", "https"):
        scheme, prefix = schema, ""
    else:
        scheme = "https" if (conn.conn_type or "") == "https" else "http"
        prefix = f"/{schema}" if schema else ""
    port = f":{conn.port}" if conn.port else ""
    return f"{scheme}://{host}{port}{prefix}"


def new_session(retry_idempotent: bool = True) -> requests.Session:
    """A requests session; with retry_idempotent, GET/HEAD are retried on connection errors and 502/503/504
    (urllib3's Retry, with backoff) - for gates, not for health/smoke, which log every attempt themselves."""
    session = requests.Session()
    if retry_idempotent:
        retry = Retry(
            total=3,
            connect=3,
            read=2,
            backoff_factor=0.5,
            status_forcelist=(502, 503, 504),
            allowed_methods=frozenset({"GET", "HEAD"}),
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    session.headers["User-Agent"] = "airlock"
    return session


class AppHttpHook(BaseHook):
    """An HTTP service behind an Airflow connection: `.base_url`, `.session`, `.endpoint()`."""

    conn_name_attr = "http_conn_id"
    default_conn_name = "airlock_app_http"
    conn_type = "http"
    hook_name = "Airlock HTTP service"

    def __init__(self, conn_id: str = default_conn_name, retry_idempotent: bool = True) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.conn = self.get_connection(conn_id)
        self.base_url = connection_base_url(self.conn)
        self.session = new_session(retry_idempotent)

    def get_conn(self) -> requests.Session:
        return self.session

    def require_base_url(self) -> str:
        if not self.base_url:
            raise ValueError(f"connection {self.conn_id!r} has no host: set its host (base URL)")
        return self.base_url

    def endpoint(self) -> HttpEndpoint:
        return HttpEndpoint(self.session, self.base_url, self.conn.login or None, self.conn.password or None)
