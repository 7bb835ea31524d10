"""Alertmanager API v2 through an Airflow connection (host = Alertmanager URL). Used by the incidents gate."""

from __future__ import annotations

from airlock.checks import incidents
from airlock.checks.result import CheckResult
from hooks.app_http import AppHttpHook


class AlertmanagerHook(AppHttpHook):
    default_conn_name = "alertmanager_default"
    hook_name = "Airlock Alertmanager"

    def __init__(self, conn_id: str = default_conn_name) -> None:
        super().__init__(conn_id)

    def check_incidents(self, matchers: list[str]) -> CheckResult:
        return incidents.check_incidents(self.session, self.require_base_url(), matchers)
