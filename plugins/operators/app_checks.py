"""HealthCheckOperator and SmokeTestOperator: the app answers correctly at a target (staging, production,
or the blue-green preview), via the endpoints connection (`spec.endpoints`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException

from airlock.checks.endpoints import TARGETS, target_url
from airlock.checks.health import check_health
from airlock.checks.smoke import run_smoke_tests, smoke_table, smoke_verdict
from airlock.spec import ServiceSpec, spec_from
from operators.links import DashboardLinkMixin
from operators.request_bound import RequestBound
from operators.xcom_keys import FAILURE_REASON_KEY, SMOKE_RESULTS_KEY

if TYPE_CHECKING:
    from hooks.http_services import HttpService


class _AppCheck(DashboardLinkMixin, RequestBound, BaseOperator):
    ui_color = "#e8f5e9"

    def __init__(self, *, spec: dict[str, Any], target: str = "production", **kwargs: Any):
        super().__init__(**kwargs)
        if target not in TARGETS:
            raise ValueError(f"target {target!r} is not one of {', '.join(TARGETS)}")
        self.spec = spec
        self.target = target

    def app(self, spec: ServiceSpec) -> tuple[HttpService, str]:
        """The app session (no transport retries: each attempt is ours to log) and the target's base URL."""
        # imported here, not at the top: the DAG file imports this module at every parse, and the HTTP
        # clients (requests, the http provider, aiohttp) cost more than building a service's DAG
        from hooks.http_services import http_service

        app = http_service(spec.endpoints.connection, retry_idempotent=False)
        return app, target_url(spec, self.target, app.require_base_url())


class HealthCheckOperator(_AppCheck):
    """GET spec.health.path at the target until it reports spec.health.expect_status (and the deployed
    version when spec.health.check_version), at most retries+1 attempts. Returns the result (XCom)."""

    def execute(self, context: Context) -> dict[str, Any]:
        spec = spec_from(self.spec)
        app, base = self.app(spec)
        health = spec.health
        self.log.info(
            "Health check of %s at %s (%s): expect status %r%s; %d retries, %s apart",
            spec.service,
            self.target,
            base,
            health.expect_status,
            f" and version {self.version!r}" if health.check_version else "",
            health.retries,
            health.retry_delay,
        )
        result = check_health(
            app.session,
            base,
            health.path,
            health.expect_status,
            self.version if health.check_version else None,
            retries=health.retries,
            retry_delay=health.retry_delay.total_seconds(),
            log=self.log.info,
        )
        self.log.info("Health %s: %s", result.status.upper(), result.reason)
        if result.failed:
            message = f"health check failed at {self.target}: {result.reason}"
            context["ti"].xcom_push(
                key=FAILURE_REASON_KEY, value=message
            )  # for the rollback, record and Slack
            raise AirflowException(message)
        return result.to_dict()


class SmokeTestOperator(_AppCheck):
    """Run every spec.smoke test against the target; fail if a critical one fails (non-critical failures
    are warnings). Returns the list of results (XCom)."""

    def execute(self, context: Context) -> list[dict[str, Any]]:
        spec = spec_from(self.spec)
        if not spec.smoke:
            self.log.info(
                "No smoke tests configured for %s (spec.smoke is empty): nothing to run", spec.service
            )
            return []
        app, base = self.app(spec)
        self.log.info(
            "Running %d smoke test(s) of %s %s at %s (%s)",
            len(spec.smoke),
            spec.service,
            self.version,
            self.target,
            base,
        )
        results = run_smoke_tests(app.session, base, spec.smoke)
        verdict = smoke_verdict(results)
        self.log.info("Smoke tests at %s:\n%s", self.target, smoke_table(results))
        self.log.info("Smoke %s: %s", verdict.status.upper(), verdict.reason)
        out = [r.to_dict() for r in results]
        context["ti"].xcom_push(key=SMOKE_RESULTS_KEY, value=out)
        if verdict.failed:
            message = f"smoke tests failed at {self.target}: {verdict.reason}"
            context["ti"].xcom_push(
                key=FAILURE_REASON_KEY, value=message
            )  # for the rollback, record and Slack
            raise AirflowException(message)
        return out
