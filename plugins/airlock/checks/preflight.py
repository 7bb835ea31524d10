"""Pre-flight: run every configured gate for one version, collect all results (never stop at the first).

The I/O comes from a `PreflightIO` (the Airflow operator builds one from connections; tests build one
directly), so this module runs and is tested without Airflow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from airlock.checks import backups, ci, cluster, incidents, registry, staging
from airlock.checks.http import HttpSession, join_url
from airlock.checks.result import CheckResult, failing, results_table, run_guarded
from airlock.kube.api import Kube
from airlock.kube.pod_template import container_image

if TYPE_CHECKING:  # kubernetes is heavy to import; DAG parsing must not pay for it
    from kubernetes import client


@dataclass(frozen=True)
class HttpEndpoint:
    """An HTTP service as an Airflow connection describes it."""

    session: HttpSession
    base_url: str | None  # None when the connection has no host (credentials only)
    login: str | None = None
    password: str | None = None


class PreflightIO(Protocol):
    def kube(self, environment: str) -> client.ApiClient: ...

    def http(self, conn_id: str) -> HttpEndpoint: ...

    def session(self) -> HttpSession: ...

    def ci_runs(self, conn_id: str) -> ci.CiRuns: ...


@dataclass
class PreflightReport:
    results: list[CheckResult]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def failed(self) -> list[CheckResult]:
        return failing(self.results)

    def table(self) -> str:
        return results_table(self.results, self.skipped)

    def failure_message(self) -> str:
        bad = self.failed
        return f"{len(bad)} pre-flight check(s) failed: " + "; ".join(f"{r.name}: {r.reason}" for r in bad)


def _require_url(endpoint: HttpEndpoint, conn_id: str) -> str:
    if not endpoint.base_url:
        raise ValueError(f"connection {conn_id!r} has no host (base URL)")
    return endpoint.base_url


def plan(spec: Any, environment: str) -> list[tuple[str, str | None]]:
    """(check name, why skipped or None) for every gate, in run order."""
    gates = spec.gates
    staging_skip = None
    if not gates.staging_healthy:
        staging_skip = "gates.staging_healthy is false"
    elif spec.kubernetes.staging is None:
        staging_skip = "no staging environment (kubernetes.staging is null)"
    elif environment == "staging":
        staging_skip = "deploying to staging itself"
    return [
        (ci.NAME, None if gates.ci else "gates.ci is null"),
        (staging.NAME, staging_skip),
        (cluster.NAME, None if gates.cluster else "gates.cluster is null"),
        (incidents.NAME, None if gates.incidents else "gates.incidents is null"),
        (registry.NAME, None if gates.registry else "gates.registry is null"),
        (backups.NAME, None if gates.backups else "gates.backups is null"),
    ]


def _ci(spec: Any, version: str, environment: str, io: PreflightIO) -> CheckResult:
    gate = spec.gates.ci
    return ci.check_ci(io.ci_runs(gate.connection), gate.repository, gate.ref, version, gate.workflow)


def _staging(spec: Any, version: str, environment: str, io: PreflightIO) -> CheckResult:
    # only this service's own workloads: other services sharing the namespace are not its gate
    return staging.check_staging(io.kube("staging"), spec.environment("staging").namespace, spec.app_labels)


def _cluster(spec: Any, version: str, environment: str, io: PreflightIO) -> CheckResult:
    gate = spec.gates.cluster
    return cluster.check_cluster(io.kube(environment), gate.max_node_cpu, gate.max_node_memory)


def _incidents(spec: Any, version: str, environment: str, io: PreflightIO) -> CheckResult:
    gate = spec.gates.incidents
    ep = io.http(gate.connection)
    return incidents.check_incidents(ep.session, _require_url(ep, gate.connection), gate.matchers)


def current_image(api: client.ApiClient, namespace: str, deployment: str, container: str) -> str | None:
    """The image the environment runs now (the rollback target), None when nothing is deployed."""
    found = Kube(api).get("deployments", namespace, deployment)
    return container_image(found, container) if found else None


def _registry(spec: Any, version: str, environment: str, io: PreflightIO) -> CheckResult:
    gate = spec.gates.registry
    images: dict[str, str | None] = {"new": spec.image_ref(version)}
    if gate.check_rollback_image:
        images["rollback"] = current_image(
            io.kube(environment), spec.environment(environment).namespace, spec.deployment, spec.container
        )
    if gate.connection:
        ep = io.http(gate.connection)
        return registry.check_images(
            ep.session,
            images,
            ep.login,
            ep.password,
            base_url_override=ep.base_url,
            credentials_host=registry.parse_image(spec.image_ref(version)).host,
        )
    return registry.check_images(io.session(), images)


def _backups(spec: Any, version: str, environment: str, io: PreflightIO) -> CheckResult:
    gate = spec.gates.backups
    if gate.url and gate.url.startswith(("http://", "https://")):
        return backups.check_backup(io.session(), gate.max_age, url=gate.url)
    ep = io.http(gate.connection)
    base = _require_url(ep, gate.connection)
    if gate.url:
        return backups.check_backup(ep.session, gate.max_age, url=join_url(base, gate.url))
    return backups.check_backup(
        ep.session, gate.max_age, prometheus_url=base, metric=gate.last_success_metric
    )


RUNNERS: dict[str, Callable[[Any, str, str, PreflightIO], CheckResult]] = {
    ci.NAME: _ci,
    staging.NAME: _staging,
    cluster.NAME: _cluster,
    incidents.NAME: _incidents,
    registry.NAME: _registry,
    backups.NAME: _backups,
}


def run_preflight(
    spec: Any, version: str, environment: str, io: PreflightIO, log: Callable[[str], None] = lambda _m: None
) -> PreflightReport:
    """Run every configured gate; a gate that raises is a fail with the error as its reason."""
    report = PreflightReport(results=[])
    for name, skip in plan(spec, environment):
        if skip:
            log(f"pre-flight {name}: skipped ({skip})")
            report.skipped.append((name, skip))
            continue
        log(f"pre-flight {name}: checking")
        runner = RUNNERS[name]
        result = run_guarded(name, lambda: runner(spec, version, environment, io))  # noqa: B023 - called at once
        log(f"pre-flight {name}: {result.status.upper()}: {result.reason}")
        report.results.append(result)
    return report
