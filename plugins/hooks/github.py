"""GitHub REST API through an Airflow connection: host = API base URL (default https://api.github.com),
password = token. Used by the CI gate."""

from __future__ import annotations

from airlock.checks import ci
from airlock.checks.result import CheckResult
from hooks.app_http import AppHttpHook

GITHUB_API = "https://api.github.com"


class GitHubApiHook(AppHttpHook):
    default_conn_name = "github_default"
    hook_name = "Airlock GitHub API"

    def __init__(self, conn_id: str = default_conn_name) -> None:
        super().__init__(conn_id)
        self.api_url = self.base_url or GITHUB_API
        self.token = self.conn.password or None

    def check_ci(
        self, repository: str, ref_template: str, version: str, workflow: str | None = None
    ) -> CheckResult:
        return ci.check_ci(
            self.session, self.api_url, repository, ref_template, version, workflow, token=self.token
        )
