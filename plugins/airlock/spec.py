"""ServiceSpec: what a team writes once per service (dags/services/<service>.yaml), validated.

Every section has defaults except the identity fields (service, image). Bad input raises
SpecError whose message names the file, the field, the value and what is allowed - the DAG
factory shows it as the DAG's import error, before anything touches a cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from airlock import image_ref, windows
from airlock.analysis.queries import DEFAULT_QUERIES
from airlock.durations import check_bounds, format_duration, parse_duration
from airlock.spec_syntax import (
    DNS_LABEL,
    HEADER_NAME,
    ConnectionId,
    DnsLabel,
    dns_1035_label,
    dns_label,
    dns_subdomain,
    endpoint,
    http_link,
    label_key,
    label_value,
    relative_path,
    safe_regex,
)
from airlock.yaml_safe import SpecYamlError, load_yaml_file

Strategy = Literal["canary", "blue_green", "rolling"]
STRATEGIES: tuple[str, ...] = ("canary", "blue_green", "rolling")

# Bounds of every duration: a single step (observation, timeout, delay) is at most a day, a wait
# (for a window, before a follow-up, before retiring the old colour) at most 30 days; 0 is never
# valid (a 0s interval is a busy loop on Prometheus).
MAX_STEP = timedelta(hours=24)
MAX_WAIT = timedelta(days=30)


def _bounded(maximum: timedelta, minimum: timedelta = timedelta(0)) -> Callable[[timedelta], timedelta]:
    def check(delta: timedelta) -> timedelta:
        return check_bounds(delta, minimum, maximum, exclusive_min=minimum == timedelta(0))

    return check


_Parse = BeforeValidator(parse_duration)
_AsText = PlainSerializer(format_duration, return_type=str)
Duration = Annotated[timedelta, _Parse, AfterValidator(_bounded(MAX_STEP)), _AsText]  # a step: > 0, <= 24h
WaitDuration = Annotated[
    timedelta, _Parse, AfterValidator(_bounded(MAX_WAIT)), _AsText
]  # a wait: > 0, <= 30d
# a polling interval: >= 1s, <= 24h
Interval = Annotated[timedelta, _Parse, AfterValidator(_bounded(MAX_STEP, timedelta(seconds=1))), _AsText]


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
    namespace: DnsLabel
    connection: ConnectionId | None = None  # overrides kubernetes.connection for this environment


class KubernetesTarget(_Model):
    connection: ConnectionId = "kubernetes_default"
    staging: Environment | None = Environment(namespace="staging")
    production: Environment = Environment(namespace="production")
    # default: the service name; "-canary" / "-blue" / "-green" are appended for the other tracks
    deployment: Annotated[str, AfterValidator(lambda v: dns_subdomain(v, 240))] | None = None
    container: DnsLabel | None = None  # default: the service name
    # Kubernetes Service receiving traffic (default: the service name); "-preview" is appended for blue-green
    service: Annotated[str, Field(max_length=55), AfterValidator(dns_1035_label)] | None = None
    app_labels: dict[str, str] | None = None  # labels that select the app's pods; default {app: <service>}
    track_label: Annotated[str, AfterValidator(label_key)] = "track"  # tells canary / blue / green pods apart

    @field_validator("app_labels")
    @classmethod
    def _labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        # Selectors (label selectors, PromQL matchers) are only ever built from these validated labels.
        if value is None:
            return None
        if not value:
            raise ValueError("must not be empty (it selects the app's pods); omit it for {app: <service>}")
        for key, label in value.items():
            label_key(key)
            label_value(key, label)
        return value


class CanaryConfig(_Model):
    steps: Annotated[list[Annotated[int, Field(ge=1, le=100, strict=True)]], Field(max_length=20)] = [
        10,
        25,
        50,
        100,
    ]
    step_duration: Duration = timedelta(minutes=15)
    # Weights (from `steps`, below 100) after whose passing analysis the canary waits for a person
    # (Continue / Promote now / Roll back now / Observe another step), like Argo Rollouts' `pause: {}`;
    # how long it waits and what happens then: the spec's `hold` section.
    pause_at: Annotated[list[Annotated[int, Field(ge=1, le=99, strict=True)]], Field(max_length=20)] = []

    @model_validator(mode="after")
    def _steps_increase(self) -> CanaryConfig:
        check_canary_steps(self.steps)
        unknown = [w for w in self.pause_at if w not in self.steps[:-1]]
        if unknown:
            raise ValueError(
                f"pause_at {self.pause_at}: {unknown} not among the steps before 100 {self.steps[:-1]}; "
                "a pause follows one of those steps' analysis"
            )
        if len(set(self.pause_at)) != len(self.pause_at):
            raise ValueError(f"pause_at {self.pause_at} lists a step twice")
        return self


class BlueGreenConfig(_Model):
    pre_switch_checks: list[Literal["health", "smoke"]] = ["health", "smoke"]
    keep_old_for: WaitDuration = timedelta(minutes=30)
    post_switch_duration: Duration = timedelta(minutes=5)

    @field_validator("pre_switch_checks")
    @classmethod
    def _unique_checks(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"{value} lists a check twice; allowed: health, smoke, each at most once")
        return value


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
        if len(set(self.allowed)) != len(self.allowed):
            raise ValueError(f"strategy.allowed {self.allowed} lists a strategy twice")
        if not self.allowed:
            raise ValueError(
                "at least one strategy must be allowed; allowed values: " + ", ".join(STRATEGIES)
            )
        if self.default not in self.allowed:
            raise ValueError(
                f"default strategy {self.default!r} is not in allowed {self.allowed}; "
                "add it to strategy.allowed or pick one of them"
            )
        return self


class CiGate(_Model):
    connection: ConnectionId = "github_default"
    repository: Annotated[str, Field(pattern=r"^[\w.-]+/[\w.-]+$")]
    ref: str = "v{version}"  # the commit or tag the version was built from
    workflow: str | None = None  # only runs of this workflow file name count


class IncidentsGate(_Model):
    connection: ConnectionId = "alertmanager_default"
    # A flat list is conjunctive (an alert blocks when it matches ALL of them, like Alertmanager's
    # filter); a list of lists is any of several conjunctive groups.
    matchers: list[str] | list[list[str]] = ['severity="critical"']

    @field_validator("matchers", mode="before")
    @classmethod
    def _valid_matchers(cls, v: Any) -> Any:
        from airlock.checks.incidents import matcher_groups  # the one matcher parser

        if isinstance(v, list):  # anything else: the type error says what is allowed
            matcher_groups(v)  # ValueError names the entry that is not a matcher, or the mixed shape
        return v


class BackupsGate(_Model):
    connection: ConnectionId = "prometheus_default"
    last_success_metric: str | None = None  # PromQL returning a unix timestamp
    url: Annotated[str, AfterValidator(endpoint)] | None = None  # or an HTTP endpoint: {"last_success": ...}
    max_age: WaitDuration = timedelta(hours=24)

    @model_validator(mode="after")
    def _one_source(self) -> BackupsGate:
        if (self.last_success_metric is None) == (self.url is None):
            raise ValueError("set exactly one of last_success_metric or url")
        return self


class ClusterGate(_Model):
    max_node_cpu: Annotated[float, Field(gt=0, le=1)] = 0.85
    max_node_memory: Annotated[float, Field(gt=0, le=1)] = 0.90


class RegistryGate(_Model):
    connection: ConnectionId | None = (
        None  # credentials for the registry (login/password); anonymous if unset
    )
    check_rollback_image: bool = True


class Gates(_Model):
    ci: CiGate | None = None
    incidents: IncidentsGate | None = IncidentsGate()
    backups: BackupsGate | None = None
    cluster: ClusterGate | None = ClusterGate()
    registry: RegistryGate | None = RegistryGate()
    staging_healthy: bool = True


class QuantileMinRequests(_Model):
    """Requests per track before a latency quantile is compared; unset: max(min_requests, 10 beyond it)."""

    p95: Annotated[int, Field(ge=1, le=100_000_000)] | None = None
    p99: Annotated[int, Field(ge=1, le=100_000_000)] | None = None


class Thresholds(_Model):
    max_error_rate: Annotated[float, Field(ge=0, le=1)] = 0.05  # critical absolute level (seed: > 5 %)
    max_error_rate_increase: Annotated[float, Field(ge=0, le=1)] = 0.05  # points over baseline
    max_latency_ratio: Annotated[float, Field(gt=1, le=100)] = 1.5  # p95/p99 vs baseline (seed: > 50 %)
    min_requests: Annotated[int, Field(ge=1, le=100_000_000)] = 200  # per track, before a statistical verdict
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.01  # false-failure budget of the statistical test
    relative_error_increase: Annotated[float, Field(gt=1, le=1000)] = (
        2.0  # the regression the test must catch
    )
    quantile_min_requests: QuantileMinRequests = QuantileMinRequests()


class MetricsConfig(_Model):
    connection: ConnectionId = "prometheus_default"
    dashboard: Annotated[str, AfterValidator(http_link)] | None = None
    interval: Interval = timedelta(minutes=1)  # how often a MetricsSensor samples (>= 1s)
    validation_window: Duration = timedelta(minutes=15)  # post-deploy observation
    thresholds: Thresholds = Thresholds()
    queries: dict[str, str] = {}  # overrides of the built-in query templates, by metric name
    # hold: ask a person (Continue / Promote now / Roll back now / Observe another step), see `hold`.
    # Unset: a gate short of traffic holds when someone will hear of it (hold/approvals approvers or a
    # Slack connection), else rolls back; a metrics outage rolls back (judge.resolve_inconclusive)
    on_inconclusive: Literal["rollback", "promote", "fail", "hold"] | None = None
    max_consecutive_errors: Annotated[int, Field(ge=1, le=1000)] = 4
    # How long past its duration a gate keeps observing a track short of thresholds.min_requests before
    # on_inconclusive applies. Unset: as long as the gate's own duration (step_duration, soak,
    # validation_window), so the wait scales with the observation; 0 or "off" disables it.
    max_extension: Annotated[timedelta, _AsText] | None = None

    @field_validator("max_extension", mode="before")
    @classmethod
    def _extension(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str) and value.strip().lower() == "off":
            return timedelta(0)
        # 0 is allowed here (unlike other durations): it means "off", not a busy loop
        return check_bounds(parse_duration(value), timedelta(0), MAX_STEP, exclusive_min=False)

    @field_validator("queries")
    @classmethod
    def _known_queries(cls, value: dict[str, str]) -> dict[str, str]:
        for name, template in value.items():
            if name not in DEFAULT_QUERIES:
                raise ValueError(f"unknown metric name {name!r}; allowed: {', '.join(DEFAULT_QUERIES)}")
            if not template.strip():
                raise ValueError(f"query {name!r} is empty; give a PromQL template or remove the entry")
        return value

    @model_validator(mode="after")
    def _interval_fits_window(self) -> MetricsConfig:
        if self.interval > self.validation_window:
            raise ValueError(
                f"interval {format_duration(self.interval)} is longer than validation_window "
                f"{format_duration(self.validation_window)}: the window would never be sampled"
            )
        return self


EndpointUrl = Annotated[str, AfterValidator(endpoint)]
RelativePath = Annotated[str, AfterValidator(relative_path)]


class Endpoints(_Model):
    """Where the app answers HTTP, per environment.

    Each value is '' (the connection's base URL), a path appended to it ('/apps/{namespace}/{service}'),
    or an absolute http(s) URL without user info (for environments on different hosts).
    {namespace} and {service} are substituted.
    """

    connection: ConnectionId = "airlock_app_http"
    staging: EndpointUrl = ""
    production: EndpointUrl = ""
    preview: EndpointUrl | None = None  # the green colour's preview Service, for blue-green pre-switch checks


class HealthCheck(_Model):
    path: RelativePath = "/health"
    expect_status: str = "healthy"
    check_version: bool = True
    retries: Annotated[int, Field(ge=0, le=100)] = 5
    retry_delay: Duration = timedelta(seconds=2)


def _headers(value: dict[str, str]) -> dict[str, str]:
    for name, text in value.items():
        if not HEADER_NAME.fullmatch(name):
            raise ValueError(
                f"header name {name!r} is not an HTTP token (RFC 7230: letters, digits, !#$%&'*+-.^_`|~)"
            )
        # RFC 7230 field-value: visible characters, space, tab and obs-text (up to 0xFF, what HTTP/1.1 can carry)
        if any((ord(c) < 32 and c != "\t") or ord(c) == 127 or ord(c) > 255 for c in text):
            raise ValueError(
                f"header {name!r}: the value must not contain CR, LF, other control characters or characters "
                "beyond Latin-1"
            )
    return value


class SmokeExpect(_Model):
    status: Annotated[int, Field(ge=100, le=599)] = 200
    json_fields: dict[str, Any] = Field(default={}, alias="json")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SmokeTest(_Model):
    name: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    path: RelativePath
    headers: Annotated[dict[str, str], AfterValidator(_headers)] = {}
    body: Any = Field(default=None, alias="json")
    expect: SmokeExpect = SmokeExpect()
    critical: bool = True  # a failing critical flow is a rollback trigger
    attempts: Annotated[int, Field(ge=1, le=10)] = 1  # broken = every attempt failed (rates: metrics gate)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class LogScan(_Model):
    # each must compile and must not backtrack catastrophically (airlock.regex_safety)
    error_patterns: list[Annotated[str, AfterValidator(safe_regex)]] = [
        r"(?i)\berror\b",
        r"Exception",
        r"(?i)\bpanic\b",
    ]
    max_new_signatures: Annotated[int, Field(ge=0)] = 0
    max_increase_ratio: Annotated[float, Field(gt=1, le=1000)] = 3.0  # per signature, canary vs stable rate
    tail_lines: Annotated[int, Field(ge=10, le=100_000)] = 2000


def _full_image(value: str) -> str:
    ref = image_ref.parse_image_ref(value)
    if not (ref.tag or ref.digest):
        raise ValueError(
            f"image {value!r} needs a tag or a digest (omit it to use the service image at the version)"
        )
    return value


class Migration(_Model):
    image: Annotated[str, AfterValidator(_full_image)] | None = (
        None  # default: the service image at the version
    )
    command: list[str] = []
    args: list[str] = []
    env: dict[str, str] = {}
    reversible: bool = True  # false: Airlock refuses to roll back past it without a human
    timeout: Duration = timedelta(minutes=30)
    backoff_limit: Annotated[int, Field(ge=0, le=100)] = 0


class Windows(_Model):
    timezone: str = "UTC"
    off_peak: list[str] = []  # "Mon-Fri 01:00-05:00"; empty = always open
    freezes: list[str] = []  # "2026-12-20..2027-01-04" (inclusive dates) or a single date
    release_train: str | None = None  # "Tue,Thu 02:00": scheduled runs by timetable
    max_wait: WaitDuration = timedelta(days=7)  # a manual run waits at most this long for its window

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
    slack_connection: ConnectionId | None = None
    follow_up_after: WaitDuration = timedelta(hours=24)


# An Airflow user id (the auth manager's: SimpleAuthManager's user name, FAB's numeric id as text)
UserId = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\s,]+$")]


class Approvals(_Model):
    """Manual approval gates (airlock.people): a person approves or rejects in the Airflow UI's Required
    actions (or over the REST API) before production changes and/or before the canary's last step."""

    before_production: bool = False
    before_last_canary_step: bool = False
    approvers: list[UserId] = []  # who may answer; empty: anyone allowed to edit the DAG's runs
    hotfix_approvers: list[UserId] | None = None  # a hotfix asks these instead (default: approvers)
    timeout: WaitDuration = timedelta(hours=4)
    on_timeout: Literal["reject", "approve"] = "reject"

    @property
    def any(self) -> bool:
        return self.before_production or self.before_last_canary_step


class Hold(_Model):
    """A canary waiting for a person: a gate ending inconclusive with `metrics.on_inconclusive: hold`, or
    a step listed in `strategy.canary.pause_at`."""

    approvers: list[UserId] | None = None  # default: approvals.approvers (empty: anyone)
    timeout: WaitDuration = timedelta(hours=1)
    # what happens when nobody answers: roll back (the safe default), promote, or go on to the next step
    on_timeout: Literal["rollback", "promote", "continue"] = "rollback"


class StagingConfig(_Model):
    soak: Duration = timedelta(minutes=15)  # observation in staging (skipped for hotfixes)


def _repository(value: str) -> str:
    image_ref.parse_repository(value)
    return value


class ServiceSpec(_Model):
    service: Annotated[str, Field(pattern=DNS_LABEL, max_length=53)]
    image: Annotated[str, AfterValidator(_repository)]  # repository without tag or digest; tag = version
    owners: list[str] = []
    description: str = ""
    # what a run's version must match (in full); it must compile and not backtrack catastrophically
    version_pattern: Annotated[str, AfterValidator(safe_regex)] = r"^v?\d+\.\d+\.\d+([-.+][0-9A-Za-z.-]+)?$"
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
    approvals: Approvals = Approvals()
    hold: Hold = Hold()

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
        """The image at a version: ValueError unless the version is a valid tag."""
        return image_ref.with_tag(self.image, version)

    def environment(self, name: str) -> Environment:
        env = self.kubernetes.production if name == "production" else self.kubernetes.staging
        if env is None:
            raise SpecError(f"{self.service}: environment {name!r} is not configured (kubernetes.{name})")
        return env

    def connection_for(self, environment: str) -> str:
        return self.environment(environment).connection or self.kubernetes.connection


def _problem(field: str, value: Any, message: str) -> str:
    """One line in format_validation_error's style."""
    shown = "{...}" if isinstance(value, dict) else repr(value)
    return f"  - field '{field}': value {shown}: {message}"


def cross_field_problems(spec: ServiceSpec, today: date | datetime | None = None) -> list[str]:
    """Derived names, canary timing, registry host, smoke names; with `today` (a check at load) also what an
    explicitly allowed blue-green needs and freezes already over."""
    problems: list[str] = []
    if spec.kubernetes.service is None:
        try:
            dns_1035_label(spec.service)
        except ValueError as exc:
            problems.append(
                _problem(
                    "service", spec.service, f"{exc}; it is also the Service name: set kubernetes.service"
                )
            )
    if spec.kubernetes.container is None:
        try:
            dns_label(spec.service)
        except ValueError as exc:  # pragma: no cover - the service pattern is stricter
            problems.append(_problem("service", spec.service, str(exc)))
    if spec.kubernetes.track_label in spec.app_labels:
        problems.append(
            _problem(
                "kubernetes.track_label",
                spec.kubernetes.track_label,
                f"is also one of the app labels {sorted(spec.app_labels)}; it must be a label of its own",
            )
        )
    bg = spec.strategy.blue_green
    # Checked at load (`today` given: the data is what the team wrote) when the spec asks for blue-green
    # itself (strategy.allowed or pre_switch_checks written). A spec rebuilt from its dict inside a task
    # has every field set, so it is not re-judged; a spec relying on the default `allowed` gets the same
    # check per run (airlock.request).
    written = "allowed" in spec.strategy.model_fields_set or "pre_switch_checks" in bg.model_fields_set
    if today is not None and written and "blue_green" in spec.strategy.allowed:
        if bg.pre_switch_checks and spec.endpoints.preview is None:
            problems.append(
                _problem(
                    "endpoints.preview",
                    None,
                    f"required: strategy.allowed has blue_green with pre_switch_checks {bg.pre_switch_checks}, "
                    "which run against the preview Service (or set pre_switch_checks: [])",
                )
            )
        if "smoke" in bg.pre_switch_checks and not spec.smoke:
            problems.append(
                _problem(
                    "strategy.blue_green.pre_switch_checks",
                    bg.pre_switch_checks,
                    "'smoke' needs at least one test in `smoke`; add one or remove 'smoke'",
                )
            )
    if "canary" in spec.strategy.allowed and spec.metrics.interval > spec.strategy.canary.step_duration:
        problems.append(
            _problem(
                "strategy.canary.step_duration",
                format_duration(spec.strategy.canary.step_duration),
                f"shorter than metrics.interval {format_duration(spec.metrics.interval)}: a step would end "
                "before its first sample",
            )
        )
    if spec.gates.registry is not None and image_ref.parse_image_ref(spec.image).domain is None:
        problems.append(
            _problem(
                "image",
                spec.image,
                "the registry gate needs the registry host in the image (e.g. 'registry.example.com/team/app', "
                "'docker.io/library/nginx'); or set gates.registry: null",
            )
        )
    if spec.approvals.before_last_canary_step and "canary" not in spec.strategy.allowed:
        problems.append(
            _problem(
                "approvals.before_last_canary_step",
                True,
                f"strategy.allowed {spec.strategy.allowed} has no canary, so there is no last canary step; "
                "allow canary or remove it",
            )
        )
    names = [test.name for test in spec.smoke]
    for i, name in enumerate(names):
        if not name.strip():
            problems.append(_problem(f"smoke.{i}.name", name, "must not be empty"))
        elif names.index(name) != i:
            problems.append(
                _problem(f"smoke.{i}.name", name, "another smoke test has this name; names are unique")
            )
    if today is not None:
        local = windows.local_today(today, spec.windows.timezone)
        for i, text in enumerate(spec.windows.freezes):
            try:
                windows.check_not_past(windows.parse_freeze(text), local)
            except ValueError as exc:
                problems.append(_problem(f"windows.freezes.{i}", text, str(exc)))
    return problems


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


def parse_spec(data: Any, source: str = "<spec>", today: date | datetime | None = None) -> ServiceSpec:
    """Validate a spec completely; SpecError listing every problem.

    `today` marks a check at load (the DAG factory passes the current time): it also rejects freezes that
    are entirely over and checks what an explicitly allowed blue-green needs. Without it (a spec rebuilt
    from its dict inside a task) those two are not re-judged, so a spec that loaded stays valid.
    """
    if not isinstance(data, dict):
        raise SpecError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        spec = ServiceSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(format_validation_error(exc, source)) from None
    problems = cross_field_problems(spec, today)
    if problems:
        raise SpecError(f"{source}: {len(problems)} invalid field(s)\n" + "\n".join(problems))
    return spec


def load_spec(path: str | Path, today: date | datetime | None = None) -> ServiceSpec:
    """Read and validate a spec file (YAML rules: airlock.yaml_safe); `today` as in parse_spec."""
    path = Path(path)
    try:
        # libyaml's C parser when present: the DAG factory parses every spec file at every DAG parse
        data = load_yaml_file(path)
    except SpecYamlError as exc:
        raise SpecError(str(exc)) from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot be read: {exc}") from None
    return parse_spec(data, str(path), today)


def spec_from(value: ServiceSpec | dict[str, Any]) -> ServiceSpec:
    """Operators receive the spec as a JSON-able dict (it crosses serialization); rebuild it."""
    return value if isinstance(value, ServiceSpec) else parse_spec(value, "service spec")


def spec_to_dict(spec: ServiceSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json", by_alias=True, exclude_none=False)
