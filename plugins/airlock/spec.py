"""ServiceSpec: what a team writes once per service (dags/services/<service>.yaml), validated.

Every section has defaults except the identity fields (service, image). Bad input raises
SpecError whose message names the file, the field, the value and what is allowed - the DAG
factory shows it as the DAG's import error, before anything touches a cluster.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from airlock import windows
from airlock.durations import format_duration, parse_duration

Strategy = Literal["canary", "blue_green", "rolling"]
STRATEGIES: tuple[str, ...] = ("canary", "blue_green", "rolling")

Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SpecError(ValueError):
    """A service spec (or run request) is invalid; the message is meant for a human as-is."""


def check_canary_steps(steps: list[int]) -> None:
    """Steps are percentages that strictly increase and end at 100 (full promotion)."""
    if not steps:
        raise ValueError("canary steps must not be empty; e.g. [10, 25, 50, 100]")
    if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
        raise ValueError(f"canary steps {steps} must strictly increase, e.g. [10, 25, 50, 100]")
    if steps[-1] != 100:
        raise ValueError(f"canary steps {steps} must end at 100 (the promotion step)")


class _Model(BaseModel):
    # forbid: a typo such as `step_duraton` must be an error, not a silently ignored key
    model_config = ConfigDict(extra="forbid", frozen=True)


class Environment(_Model):
    namespace: Annotated[str, Field(pattern=DNS_LABEL, max_length=63)]
    connection: str | None = None  # overrides kubernetes.connection for this environment


class KubernetesTarget(_Model):
    connection: str = "kubernetes_default"
    staging: Environment | None = Environment(namespace="staging")
    production: Environment = Environment(namespace="production")
    deployment: str | None = None  # default: the service name
    container: str | None = None  # default: the service name
    service: str | None = None  # Kubernetes Service receiving traffic; default: the service name
    app_labels: dict[str, str] | None = None  # labels that select the app's pods; default {app: <service>}
    track_label: str = "track"  # label that tells canary / blue / green pods apart


class CanaryConfig(_Model):
    steps: list[Annotated[int, Field(ge=1, le=100)]] = [10, 25, 50, 100]
    step_duration: Duration = timedelta(minutes=15)

    @model_validator(mode="after")
    def _steps_increase(self) -> CanaryConfig:
        check_canary_steps(self.steps)
        return self


class BlueGreenConfig(_Model):
    pre_switch_checks: list[Literal["health", "smoke"]] = ["health", "smoke"]
    keep_old_for: Duration = timedelta(minutes=30)
    post_switch_duration: Duration = timedelta(minutes=5)


class RollingConfig(_Model):
    progress_deadline: Duration = timedelta(minutes=10)


class StrategyConfig(_Model):
    allowed: list[Strategy] = ["canary", "blue_green", "rolling"]
    default: Strategy = "canary"
    canary: CanaryConfig = CanaryConfig()
    blue_green: BlueGreenConfig = BlueGreenConfig()
    rolling: RollingConfig = RollingConfig()
    rollout_timeout: Duration = timedelta(minutes=15)  # any single "wait until ready"

    @model_validator(mode="after")
    def _default_allowed(self) -> StrategyConfig:
        if not self.allowed:
            raise ValueError("at least one strategy must be allowed; allowed values: " + ", ".join(STRATEGIES))
        if self.default not in self.allowed:
            raise ValueError(
                f"default strategy {self.default!r} is not in allowed {self.allowed}; "
                "add it to strategy.allowed or pick one of them"
            )
        return self


class CiGate(_Model):
    connection: str = "github_default"
    repository: Annotated[str, Field(pattern=r"^[\w.-]+/[\w.-]+$")]
    ref: str = "v{version}"  # the commit or tag the version was built from
    workflow: str | None = None  # only runs of this workflow file name count


class IncidentsGate(_Model):
    connection: str = "alertmanager_default"
    matchers: list[str] = ['severity="critical"']


class BackupsGate(_Model):
    connection: str = "prometheus_default"
    last_success_metric: str | None = None  # PromQL returning a unix timestamp
    url: str | None = None  # or an HTTP endpoint returning {"last_success": <iso8601 | unix>}
    max_age: Duration = timedelta(hours=24)

    @model_validator(mode="after")
    def _one_source(self) -> BackupsGate:
        if (self.last_success_metric is None) == (self.url is None):
            raise ValueError("set exactly one of last_success_metric or url")
        return self


class ClusterGate(_Model):
    max_node_cpu: Annotated[float, Field(gt=0, le=1)] = 0.85
    max_node_memory: Annotated[float, Field(gt=0, le=1)] = 0.90


class RegistryGate(_Model):
    connection: str | None = None  # credentials for the registry (login/password); anonymous if unset
    check_rollback_image: bool = True


class Gates(_Model):
    ci: CiGate | None = None
    incidents: IncidentsGate | None = IncidentsGate()
    backups: BackupsGate | None = None
    cluster: ClusterGate | None = ClusterGate()
    registry: RegistryGate | None = RegistryGate()
    staging_healthy: bool = True


class Thresholds(_Model):
    max_error_rate: Annotated[float, Field(ge=0, le=1)] = 0.05  # critical absolute level (seed: > 5 %)
    max_error_rate_increase: Annotated[float, Field(ge=0, le=1)] = 0.05  # points over baseline
    max_latency_ratio: Annotated[float, Field(gt=1)] = 1.5  # p95/p99 vs baseline (seed: > 50 %)
    min_requests: Annotated[int, Field(ge=1)] = 200  # per track, before a statistical verdict
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.01  # false-failure budget of the statistical test
    relative_error_increase: Annotated[float, Field(gt=1)] = 2.0  # the regression the test must catch


class MetricsConfig(_Model):
    connection: str = "prometheus_default"
    dashboard: str | None = None
    interval: Duration = timedelta(minutes=1)  # how often a MetricsSensor samples
    validation_window: Duration = timedelta(minutes=15)  # post-deploy observation
    thresholds: Thresholds = Thresholds()
    queries: dict[str, str] = {}  # overrides of the built-in query templates, by metric name
    on_inconclusive: Literal["rollback", "promote", "fail"] = "rollback"
    max_consecutive_errors: Annotated[int, Field(ge=1)] = 4


class Endpoints(_Model):
    """Where the app answers HTTP, per environment.

    Each value is a path appended to the connection's base URL, or a full http(s) URL.
    {namespace} and {service} are substituted.
    """

    connection: str = "airlock_app_http"
    staging: str = ""
    production: str = ""
    preview: str | None = None  # the green colour's preview Service, for blue-green pre-switch checks


class HealthCheck(_Model):
    path: str = "/health"
    expect_status: str = "healthy"
    check_version: bool = True
    retries: Annotated[int, Field(ge=0)] = 5
    retry_delay: Duration = timedelta(seconds=2)


class SmokeExpect(_Model):
    status: Annotated[int, Field(ge=100, le=599)] = 200
    json_fields: dict[str, Any] = Field(default={}, alias="json")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SmokeTest(_Model):
    name: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    path: str
    headers: dict[str, str] = {}
    body: Any = Field(default=None, alias="json")
    expect: SmokeExpect = SmokeExpect()
    critical: bool = True  # a failing critical flow is a rollback trigger
    attempts: Annotated[int, Field(ge=1, le=10)] = 1  # broken = every attempt failed (rates: metrics gate)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class LogScan(_Model):
    error_patterns: list[str] = [r"(?i)\berror\b", r"Exception", r"(?i)\bpanic\b"]
    max_new_signatures: Annotated[int, Field(ge=0)] = 0
    max_increase_ratio: Annotated[float, Field(gt=1)] = 3.0  # per signature, canary vs stable rate
    tail_lines: Annotated[int, Field(ge=10)] = 2000

    @model_validator(mode="after")
    def _patterns_compile(self) -> LogScan:
        for pattern in self.error_patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"error pattern {pattern!r} is not a valid regular expression: {exc}") from exc
        return self


class Migration(_Model):
    image: str | None = None  # default: the service image at the new version
    command: list[str] = []
    args: list[str] = []
    env: dict[str, str] = {}
    reversible: bool = True  # false: Airlock refuses to roll back past it without a human
    timeout: Duration = timedelta(minutes=30)
    backoff_limit: Annotated[int, Field(ge=0)] = 0


class Windows(_Model):
    timezone: str = "UTC"
    off_peak: list[str] = []  # "Mon-Fri 01:00-05:00"; empty = always open
    freezes: list[str] = []  # "2026-12-20..2027-01-04" (inclusive dates) or a single date
    release_train: str | None = None  # "Tue,Thu 02:00": scheduled runs by timetable
    max_wait: Duration = timedelta(days=7)  # a manual run waits at most this long for its window

    # Field validators (not one model validator) so an error names e.g. 'windows.off_peak.0'.
    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        windows.zone(value)
        return value

    @field_validator("off_peak")
    @classmethod
    def _windows(cls, value: list[str]) -> list[str]:
        for text in value:
            windows.parse_window(text)
        return value

    @field_validator("freezes")
    @classmethod
    def _freezes(cls, value: list[str]) -> list[str]:
        for text in value:
            windows.parse_freeze(text)
        return value

    @field_validator("release_train")
    @classmethod
    def _train(cls, value: str | None) -> str | None:
        if value:
            windows.parse_release_train(value)
        return value


class Notify(_Model):
    slack_connection: str | None = None
    follow_up_after: Duration = timedelta(hours=24)


class StagingConfig(_Model):
    soak: Duration = timedelta(minutes=15)  # observation in staging (skipped for hotfixes)


class ServiceSpec(_Model):
    service: Annotated[str, Field(pattern=DNS_LABEL, max_length=53)]
    image: Annotated[str, Field(pattern=r"^[a-z0-9][\w./:-]*[a-z0-9]$")]  # repository; tag = version
    owners: list[str] = []
    description: str = ""
    version_pattern: str = r"^v?\d+\.\d+\.\d+([-.+][0-9A-Za-z.-]+)?$"
    kubernetes: KubernetesTarget = KubernetesTarget()
    strategy: StrategyConfig = StrategyConfig()
    staging: StagingConfig = StagingConfig()
    gates: Gates = Gates()
    metrics: MetricsConfig = MetricsConfig()
    endpoints: Endpoints = Endpoints()
    health: HealthCheck = HealthCheck()
    smoke: list[SmokeTest] = []
    logs: LogScan = LogScan()
    migration: Migration | None = None
    windows: Windows = Windows()
    notify: Notify = Notify()

    # Derived names: one place decides them so every task agrees.
    @property
    def deployment(self) -> str:
        return self.kubernetes.deployment or self.service

    @property
    def container(self) -> str:
        return self.kubernetes.container or self.service

    @property
    def k8s_service(self) -> str:
        return self.kubernetes.service or self.service

    @property
    def app_labels(self) -> dict[str, str]:
        return dict(self.kubernetes.app_labels or {"app": self.service})

    @property
    def dag_id(self) -> str:
        return f"deploy_{self.service}"

    def image_ref(self, version: str) -> str:
        return f"{self.image}:{version}"

    def environment(self, name: str) -> Environment:
        env = self.kubernetes.production if name == "production" else self.kubernetes.staging
        if env is None:
            raise SpecError(f"{self.service}: environment {name!r} is not configured (kubernetes.{name})")
        return env

    def connection_for(self, environment: str) -> str:
        return self.environment(environment).connection or self.kubernetes.connection

    @model_validator(mode="after")
    def _version_pattern_compiles(self) -> ServiceSpec:
        try:
            re.compile(self.version_pattern)
        except re.error as exc:
            raise ValueError(f"version_pattern {self.version_pattern!r} is not a regular expression: {exc}") from exc
        return self


def format_validation_error(exc: ValidationError, source: str) -> str:
    """One line per problem: where, which field, which value, what is allowed."""
    lines = [f"{source}: {exc.error_count()} invalid field(s)"]
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling; see docs/service-spec.md)"
        elif err["type"] == "literal_error":
            expected = err.get("ctx", {}).get("expected", "")
            msg = f"not allowed; allowed values: {expected}"
        elif err["type"] == "string_pattern_mismatch":
            msg = f"does not match the required pattern {err.get('ctx', {}).get('pattern')}"
        value = err.get("input")
        shown = "(missing)" if err["type"] == "missing" else repr(value)
        if isinstance(value, dict) and err["type"] != "missing":
            shown = "{...}"
        lines.append(f"  - field '{field}': value {shown}: {msg}")
    return "\n".join(lines)


def parse_spec(data: Any, source: str = "<spec>") -> ServiceSpec:
    if not isinstance(data, dict):
        raise SpecError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return ServiceSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(format_validation_error(exc, source)) from None


def load_spec(path: str | Path) -> ServiceSpec:
    path = Path(path)
    try:
        # libyaml's C loader when present: 5-10x faster, and the DAG factory parses every spec file
        data = yaml.load(path.read_text(), Loader=_YAML_LOADER)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from None
    return parse_spec(data, str(path))


def spec_from(value: ServiceSpec | dict[str, Any]) -> ServiceSpec:
    """Operators receive the spec as a JSON-able dict (it crosses serialization); rebuild it."""
    return value if isinstance(value, ServiceSpec) else parse_spec(value, "service spec")


def spec_to_dict(spec: ServiceSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json", by_alias=True, exclude_none=False)
