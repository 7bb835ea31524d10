"""PreflightOperator: run every configured pre-flight gate, log one table, fail listing every failing gate.

The gates themselves are `airlock.checks` (plain Python); this adapter only turns Airflow connections
into the I/O they need (KubernetesHook ApiClients, HttpHook sessions with base URLs, GithubHook for CI).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException

from airlock.checks.ci import CiRuns
from airlock.checks.http import HttpSession
from airlock.checks.preflight import HttpEndpoint, run_preflight
from airlock.spec import ServiceSpec, spec_from
from operators.links import DashboardLinkMixin
from operators.request_bound import RequestBound
from operators.xcom_keys import FAILURE_REASON_KEY, PREFLIGHT_CHECKS_KEY

if TYPE_CHECKING:
    from kubernetes import client


class AirflowPreflightIO:
    """PreflightIO from Airflow connections; one ApiClient per environment, one hook per connection."""

    def __init__(self, spec: ServiceSpec) -> None:
        self.spec = spec
        self._kube: dict[str, client.ApiClient] = {}
        self._http: dict[str, HttpEndpoint] = {}

    def kube(self, environment: str) -> client.ApiClient:
        if environment not in self._kube:
            from airflow.providers.cncf.kubernetes.hooks.kubernetes import (
                KubernetesHook,  # lazy: keeps DAG parsing free of the kubernetes clients
            )

            self._kube[environment] = KubernetesHook(conn_id=self.spec.connection_for(environment)).get_conn()
        return self._kube[environment]

    def http(self, conn_id: str) -> HttpEndpoint:
        if conn_id not in self._http:
            from hooks.http_services import http_service  # lazy: the HTTP clients only when a gate runs

            service = http_service(conn_id, retry_idempotent=True)
            registry = self.spec.gates.registry
            if registry is not None and conn_id == registry.connection:
                # the registry check trades login/password for a bearer token itself; HttpHook's
                # session-wide basic auth would overwrite that token on every request
                service.session.auth = None
            self._http[conn_id] = HttpEndpoint(
                service.session, service.base_url, service.login, service.password
            )
        return self._http[conn_id]

    def session(self) -> HttpSession:
        from hooks.http_services import plain_session  # lazy, as above: the DAG file imports this module

        return plain_session()

    def ci_runs(self, conn_id: str) -> CiRuns:
        from hooks.github_ci import GithubCiRuns  # lazy: PyGithub only when the CI gate runs

        return GithubCiRuns(conn_id)


class PreflightOperator(DashboardLinkMixin, RequestBound, BaseOperator):
    """Pre-flight gates for `version` before `environment` is touched.

    Runs CI, staging health, cluster health, incidents, registry images (new + rollback) and backup
    freshness - each unless its gate is null in the spec (logged as skipped). Every result is kept: the
    task fails naming *all* failing gates; warnings are logged and do not fail. Returns (XCom) the list
    of results `[{"name", "status", "reason", "evidence"}]`; the same list is pushed under key
    "checks" before a failure, so notifications and the record can show the evidence.
    """

    ui_color = "#e3f2fd"

    def __init__(self, *, spec: dict[str, Any], environment: str = "production", **kwargs: Any):
        super().__init__(**kwargs)
        self.spec = spec
        self.environment = environment

    def make_io(self, spec: ServiceSpec) -> Any:
        return AirflowPreflightIO(spec)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        spec = spec_from(self.spec)
        self.log.info(
            "Pre-flight checks for %s %s before deploying to %s", spec.service, self.version, self.environment
        )
        report = run_preflight(spec, self.version, self.environment, self.make_io(spec), log=self.log.info)
        self.log.info("Pre-flight results for %s %s:\n%s", spec.service, self.version, report.table())
        results = [r.to_dict() for r in report.results]
        context["ti"].xcom_push(key=PREFLIGHT_CHECKS_KEY, value=results)
        warnings = [r for r in report.results if r.status == "warn"]
        if warnings:
            self.log.warning(
                "%d pre-flight warning(s): %s",
                len(warnings),
                "; ".join(f"{r.name}: {r.reason}" for r in warnings),
            )
        if report.failed:
            context["ti"].xcom_push(key=FAILURE_REASON_KEY, value=report.failure_message())
            raise AirflowException(report.failure_message())
        passed = sum(1 for r in report.results if r.passed)
        self.log.info(
            "Pre-flight passed: %d passed, %d warning(s), %d skipped",
            passed,
            len(warnings),
            len(report.skipped),
        )
        return results
