"""Container registry (OCI distribution API) access. The registry is the first path component of the
image; an optional Airflow connection gives credentials (login/password) and may override scheme/host
(its host and schema win). Used by the registry gate."""

from __future__ import annotations

from airlock.checks import registry
from airlock.checks.result import CheckResult
from hooks.app_http import connection_base_url, new_session


class RegistryHook:
    def __init__(self, conn_id: str | None = None) -> None:
        self.conn_id = conn_id
        self.session = new_session()
        self.login: str | None = None
        self.password: str | None = None
        self.base_url: str | None = None
        if conn_id:
            from airflow.sdk import BaseHook

            conn = BaseHook.get_connection(conn_id)
            self.login, self.password = conn.login or None, conn.password or None
            self.base_url = connection_base_url(conn)

    def check_images(self, images: dict[str, str | None], registry_host: str) -> CheckResult:
        """images: role -> full reference; credentials (and the override) apply to registry_host only."""
        return registry.check_images(
            self.session,
            images,
            self.login,
            self.password,
            base_url_override=self.base_url,
            credentials_host=registry_host,
        )
