"""Issue 10, point 5: a table of bad service specs and bad run confs.

Every case is rejected, and its message names the field (and, where it helps, the value). Spec cases are
written to a file and go through `load_spec`, the path the DAG factory takes: YAML rules, model, cross-field
rules and past freezes (with a fixed "today").
"""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from airlock.request import validate_request
from airlock.spec import SpecError, load_spec, parse_spec, spec_from, spec_to_dict

TODAY = date(2026, 12, 2)
SHA = "sha256:" + "a" * 64

# A spec that uses every section the cases break; it must load as it is (test_base_spec_is_valid).
BASE: dict[str, Any] = {
    "service": "web",
    "image": "registry.example.com/team/web",
    "kubernetes": {"container": "app"},
    "strategy": {"allowed": ["canary", "blue_green", "rolling"], "default": "canary"},
    "gates": {"backups": {"last_success_metric": "backup_last_success_timestamp_seconds", "max_age": "24h"}},
    "endpoints": {"staging": "/apps/{namespace}/{service}", "production": "", "preview": "/apps/preview"},
    "health": {"path": "/health"},
    "smoke": [{"name": "items", "path": "/api/v1/items?limit=1", "headers": {"Authorization": "Bearer t"}}],
    "migration": {"image": "registry.example.com/team/migrate:v1", "command": ["/migrate"]},
    "windows": {
        "timezone": "Europe/Berlin",
        "off_peak": ["Mon-Fri 01:00-05:00", "Sun 00:00-24:00"],
        "freezes": ["2026-12-20..2027-01-04"],
        "release_train": "Tue,Thu 02:00",
    },
}


def patched(patch: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(BASE)
    _merge(spec, patch)
    return spec


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and value and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _bg_only(**extra: Any) -> dict[str, Any]:
    return {"strategy": {"allowed": ["blue_green"], "default": "blue_green", **extra}}


# (case id, patch applied to BASE, field named in the message, value shown in the message or None)
SPEC_CASES: list[tuple[str, dict[str, Any], str, str | None]] = [
    # durations: > 0, bounded, never an uncaught exception
    (
        "duration-overflow",
        {"strategy": {"canary": {"step_duration": "99999999999d"}}},
        "strategy.canary.step_duration",
        "'99999999999d'",
    ),
    (
        "duration-zero-step",
        {"strategy": {"canary": {"step_duration": "0s"}}},
        "strategy.canary.step_duration",
        "'0s'",
    ),
    ("duration-zero-interval", {"metrics": {"interval": "0s"}}, "metrics.interval", "'0s'"),
    ("duration-subsecond-interval", {"metrics": {"interval": "500ms"}}, "metrics.interval", "'500ms'"),
    (
        "duration-step-over-a-day",
        {"strategy": {"canary": {"step_duration": "25h"}}},
        "strategy.canary.step_duration",
        "'25h'",
    ),
    ("duration-max-wait-31d", {"windows": {"max_wait": "31d"}}, "windows.max_wait", "'31d'"),
    ("duration-follow-up-zero", {"notify": {"follow_up_after": "0s"}}, "notify.follow_up_after", "'0s'"),
    (
        "duration-keep-old-40d",
        {"strategy": {"blue_green": {"keep_old_for": "40d"}}},
        "strategy.blue_green.keep_old_for",
        "'40d'",
    ),
    ("duration-negative-number", {"staging": {"soak": -5}}, "staging.soak", "-5"),
    ("duration-words", {"health": {"retry_delay": "fast"}}, "health.retry_delay", "'fast'"),
    ("duration-boolean", {"strategy": {"rollout_timeout": True}}, "strategy.rollout_timeout", "True"),
    ("duration-inf", {"migration": {"timeout": "inf"}}, "migration.timeout", "'inf'"),
    ("duration-backup-age-zero", {"gates": {"backups": {"max_age": 0}}}, "gates.backups.max_age", "0"),
    (
        "duration-bad-unit",
        {"strategy": {"rolling": {"progress_deadline": "1x"}}},
        "strategy.rolling.progress_deadline",
        "'1x'",
    ),
    (
        "duration-validation-window-2d",
        {"metrics": {"validation_window": "2d"}},
        "metrics.validation_window",
        "'2d'",
    ),
    (
        "duration-huge-number",
        {"strategy": {"post_switch_duration": 1e300}},
        "strategy.post_switch_duration",
        None,
    ),
    # Kubernetes names and labels
    ("service-uppercase", {"service": "Web"}, "service", "'Web'"),
    ("service-starts-with-digit", {"service": "9lives"}, "service", "'9lives'"),
    (
        "deployment-path-traversal",
        {"kubernetes": {"deployment": "../../secrets/x"}},
        "kubernetes.deployment",
        "'../../secrets/x'",
    ),
    (
        "deployment-underscore",
        {"kubernetes": {"deployment": "Web_App"}},
        "kubernetes.deployment",
        "'Web_App'",
    ),
    ("container-dot", {"kubernetes": {"container": "app.v1"}}, "kubernetes.container", "'app.v1'"),
    ("k8s-service-digit-first", {"kubernetes": {"service": "1web"}}, "kubernetes.service", "'1web'"),
    (
        "namespace-slash",
        {"kubernetes": {"production": {"namespace": "prod/x"}}},
        "kubernetes.production.namespace",
        "'prod/x'",
    ),
    (
        "namespace-too-long",
        {"kubernetes": {"staging": {"namespace": "a" * 64}}},
        "kubernetes.staging.namespace",
        None,
    ),
    ("track-label-bang", {"kubernetes": {"track_label": "track!"}}, "kubernetes.track_label", "'track!'"),
    ("track-label-is-app-label", {"kubernetes": {"track_label": "app"}}, "kubernetes.track_label", "'app'"),
    (
        "label-selector-injection",
        {"kubernetes": {"app_labels": {"app": "web,tier!=db"}}},
        "kubernetes.app_labels",
        "web,tier!=db",
    ),
    (
        "label-key-space",
        {"kubernetes": {"app_labels": {"app name": "web"}}},
        "kubernetes.app_labels",
        "'app name'",
    ),
    (
        "label-key-bad-prefix",
        {"kubernetes": {"app_labels": {"Example.com/app": "web"}}},
        "kubernetes.app_labels",
        "'Example.com/app'",
    ),
    (
        "label-value-too-long",
        {"kubernetes": {"app_labels": {"app": "a" * 64}}},
        "kubernetes.app_labels",
        None,
    ),
    ("label-value-quote", {"kubernetes": {"app_labels": {"app": 'web"}'}}}, "kubernetes.app_labels", 'web"}'),
    ("labels-empty", {"kubernetes": {"app_labels": {}}}, "kubernetes.app_labels", None),
    (
        "connection-id-spaces",
        {"kubernetes": {"connection": "my cluster!"}},
        "kubernetes.connection",
        "'my cluster!'",
    ),
    # metrics
    ("query-unknown-name", {"metrics": {"queries": {"error_rat": "sum(x)"}}}, "metrics.queries", "error_rat"),
    ("query-empty", {"metrics": {"queries": {"errors": " "}}}, "metrics.queries", "'errors'"),
    (
        "threshold-error-rate-150pct",
        {"metrics": {"thresholds": {"max_error_rate": 1.5}}},
        "metrics.thresholds.max_error_rate",
        "1.5",
    ),
    ("threshold-alpha", {"metrics": {"thresholds": {"alpha": 0.7}}}, "metrics.thresholds.alpha", "0.7"),
    (
        "threshold-latency-ratio",
        {"metrics": {"thresholds": {"max_latency_ratio": 0.9}}},
        "metrics.thresholds.max_latency_ratio",
        "0.9",
    ),
    (
        "threshold-min-requests-zero",
        {"metrics": {"thresholds": {"min_requests": 0}}},
        "metrics.thresholds.min_requests",
        "0",
    ),
    ("interval-longer-than-window", {"metrics": {"interval": "20m"}}, "metrics", "validation_window"),
    (
        "interval-longer-than-step",
        {"metrics": {"interval": "2m"}, "strategy": {"canary": {"step_duration": "1m"}}},
        "strategy.canary.step_duration",
        "'1m'",
    ),
    (
        "on-inconclusive-unknown",
        {"metrics": {"on_inconclusive": "ignore"}},
        "metrics.on_inconclusive",
        "'ignore'",
    ),
    (
        "dashboard-javascript",
        {"metrics": {"dashboard": "javascript:alert(1)"}},
        "metrics.dashboard",
        "javascript:",
    ),
    # strategies and what each needs
    ("blue-green-without-preview", {**_bg_only(), "endpoints": {"preview": None}}, "endpoints.preview", None),
    (
        "blue-green-smoke-without-tests",
        {**_bg_only(), "smoke": []},
        "strategy.blue_green.pre_switch_checks",
        "['health', 'smoke']",
    ),
    (
        "pre-switch-check-twice",
        {"strategy": {"blue_green": {"pre_switch_checks": ["health", "health"]}}},
        "strategy.blue_green.pre_switch_checks",
        None,
    ),
    ("strategy-allowed-twice", {"strategy": {"allowed": ["canary", "canary"]}}, "strategy", "twice"),
    ("strategy-allowed-empty", {"strategy": {"allowed": []}}, "strategy", None),
    ("canary-steps-not-100", {"strategy": {"canary": {"steps": [10, 50]}}}, "strategy.canary", "[10, 50]"),
    (
        "canary-steps-bool",
        {"strategy": {"canary": {"steps": [True, 100]}}},
        "strategy.canary.steps.0",
        "True",
    ),
    (
        "canary-steps-decreasing",
        {"strategy": {"canary": {"steps": [50, 25, 100]}}},
        "strategy.canary",
        "[50, 25, 100]",
    ),
    (
        "default-not-allowed",
        {"strategy": {"allowed": ["rolling"], "default": "canary"}},
        "strategy",
        "'canary'",
    ),
    # image: a repository, no tag or digest; one grammar
    ("image-with-tag", {"image": "web:1.0"}, "image", "'web:1.0'"),
    ("image-with-digest", {"image": f"registry.example.com/web@{SHA}"}, "image", "digest"),
    (
        "image-uppercase-path",
        {"image": "registry.example.com/Team/Web"},
        "image",
        "'registry.example.com/Team/Web'",
    ),
    ("image-without-registry-host", {"image": "web"}, "image", "'web'"),
    ("image-empty-tag", {"image": "registry.example.com/web:"}, "image", "'registry.example.com/web:'"),
    (
        "migration-image-untagged",
        {"migration": {"image": "registry.example.com/team/migrate"}},
        "migration.image",
        "'registry.example.com/team/migrate'",
    ),
    # regular expressions: compile, and no catastrophic backtracking
    (
        "error-pattern-nested-plus",
        {"logs": {"error_patterns": ["(a+)+$"]}},
        "logs.error_patterns.0",
        "'(a+)+$'",
    ),
    (
        "error-pattern-alternation",
        {"logs": {"error_patterns": ["ok", "(a|a)*"]}},
        "logs.error_patterns.1",
        "'(a|a)*'",
    ),
    ("error-pattern-word-space", {"logs": {"error_patterns": [r"(\w+\s?)*"]}}, "logs.error_patterns.0", None),
    ("error-pattern-star-star", {"logs": {"error_patterns": ["(a*)*"]}}, "logs.error_patterns.0", "'(a*)*'"),
    (
        "error-pattern-unclosed",
        {"logs": {"error_patterns": ["(unclosed"]}},
        "logs.error_patterns.0",
        "'(unclosed'",
    ),
    ("version-pattern-nested", {"version_pattern": "^(v?[0-9]+)+$"}, "version_pattern", "'^(v?[0-9]+)+$'"),
    ("version-pattern-invalid", {"version_pattern": "[z-a]"}, "version_pattern", "'[z-a]'"),
    # windows
    ("weekday-two-letters", {"windows": {"off_peak": ["Mo-Fri 01:00-05:00"]}}, "windows.off_peak", "Mo-Fri"),
    ("weekday-prefix-only", {"windows": {"off_peak": ["Monkey 01:00-02:00"]}}, "windows.off_peak", "Monkey"),
    ("window-empty-range", {"windows": {"off_peak": ["Mon 01:00-01:00"]}}, "windows.off_peak", "01:00-01:00"),
    ("window-start-24", {"windows": {"off_peak": ["Mon 24:00-05:00"]}}, "windows.off_peak", "24:00"),
    ("window-hour-25", {"windows": {"off_peak": ["Mon 01:00-25:00"]}}, "windows.off_peak", "25:00"),
    (
        "freeze-in-the-past",
        {"windows": {"freezes": ["2026-01-01..2026-01-31"]}},
        "windows.freezes.0",
        "'2026-01-01..2026-01-31'",
    ),
    ("freeze-month-13", {"windows": {"freezes": ["2026-13-01"]}}, "windows.freezes", "2026-13-01"),
    (
        "release-train-bad-day",
        {"windows": {"release_train": "Tuesday-ish 02:00"}},
        "windows.release_train",
        None,
    ),
    ("timezone-unknown", {"windows": {"timezone": "Mars/Olympus"}}, "windows.timezone", "'Mars/Olympus'"),
    # paths and URLs: relative paths on the configured connection; headers
    (
        "smoke-absolute-url",
        {"smoke": [{"name": "a", "path": "https://evil.example.com/x"}]},
        "smoke.0.path",
        "'https://evil.example.com/x'",
    ),
    ("smoke-scheme-relative", {"smoke": [{"name": "a", "path": "//host/x"}]}, "smoke.0.path", "'//host/x'"),
    ("smoke-userinfo", {"smoke": [{"name": "a", "path": "user@host/x"}]}, "smoke.0.path", "'user@host/x'"),
    ("smoke-at-in-path", {"smoke": [{"name": "a", "path": "/login@evil.example.com"}]}, "smoke.0.path", None),
    (
        "smoke-dot-dot",
        {"smoke": [{"name": "a", "path": "/a/../../admin"}]},
        "smoke.0.path",
        "'/a/../../admin'",
    ),
    (
        "smoke-duplicate-names",
        {"smoke": [{"name": "a", "path": "/x"}, {"name": "a", "path": "/y"}]},
        "smoke.1.name",
        "'a'",
    ),
    ("health-no-leading-slash", {"health": {"path": "health"}}, "health.path", "'health'"),
    ("health-absolute-url", {"health": {"path": "http://x/health"}}, "health.path", "'http://x/health'"),
    (
        "header-name-space",
        {"smoke": [{"name": "a", "path": "/x", "headers": {"Bad Header": "1"}}]},
        "smoke.0.headers",
        "'Bad Header'",
    ),
    (
        "header-value-crlf",
        {"smoke": [{"name": "a", "path": "/x", "headers": {"X-A": "1\r\nX-Injected: 1"}}]},
        "smoke.0.headers",
        "'X-A'",
    ),
    (
        "header-value-line-separator",
        {"smoke": [{"name": "a", "path": "/x", "headers": {"X-A": "1\u2028X-Injected: 1"}}]},
        "smoke.0.headers",
        "'X-A'",
    ),
    (
        "endpoint-userinfo",
        {"endpoints": {"production": "https://user:pw@api.example.com"}},
        "endpoints.production",
        "'https://user:pw@api.example.com'",
    ),
    (
        "endpoint-scheme-relative",
        {"endpoints": {"preview": "//preview.example.com"}},
        "endpoints.preview",
        None,
    ),
    (
        "endpoint-other-scheme",
        {"endpoints": {"staging": "ftp://files.example.com"}},
        "endpoints.staging",
        None,
    ),
    (
        "endpoint-unknown-placeholder",
        {"endpoints": {"staging": "/apps/{namespace}/{svc}"}},
        "endpoints.staging",
        "{svc}",
    ),
    (
        "backup-url-userinfo",
        {"gates": {"backups": {"last_success_metric": None, "url": "https://a:b@c.example/x"}}},
        "gates.backups.url",
        None,
    ),
    # shape
    ("unknown-field", {"strategy": {"canary": {"step_duraton": "5m"}}}, "strategy.canary.step_duraton", None),
    ("tail-lines-huge", {"logs": {"tail_lines": 10_000_000}}, "logs.tail_lines", "10000000"),
    # issue 11 point 8: explicit requests per latency quantile
    (
        "quantile-min-requests-zero",
        {"metrics": {"thresholds": {"quantile_min_requests": {"p95": 0}}}},
        "metrics.thresholds.quantile_min_requests.p95",
        "0",
    ),
    (
        "quantile-min-requests-unknown-quantile",
        {"metrics": {"thresholds": {"quantile_min_requests": {"p90": 100}}}},
        "metrics.thresholds.quantile_min_requests.p90",
        "100",
    ),
    (
        "quantile-min-requests-not-a-number",
        {"metrics": {"thresholds": {"quantile_min_requests": {"p99": "many"}}}},
        "metrics.thresholds.quantile_min_requests.p99",
        "'many'",
    ),
    (
        "post-switch-duration-zero",
        {"strategy": {"blue_green": {"post_switch_duration": "0s"}}},
        "strategy.blue_green.post_switch_duration",
        None,
    ),
]

# (case id, file text, substrings the message must contain: the key / construct and where)
YAML_CASES: list[tuple[str, str, list[str]]] = [
    (
        "yaml-duplicate-key",
        "service: web\nimage: registry.example.com/web\nservice: other\n",
        ["duplicate key 'service'", "lines 1 and 3"],
    ),
    (
        "yaml-duplicate-nested-key",
        "service: web\nimage: registry.example.com/web\nstrategy:\n  default: canary\n  default: rolling\n",
        ["duplicate key 'default'", "lines 4 and 5"],
    ),
    (
        "yaml-alias",
        "service: web\nimage: &img registry.example.com/web\ndescription: *img\n",
        ["aliases", "line 2"],
    ),
    (
        "yaml-alias-bomb",
        "service: web\nimage: registry.example.com/web\n"
        "x: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        "y: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "z: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
        ["aliases"],
    ),
    (
        "yaml-too-large",
        "service: web\nimage: registry.example.com/web\n" + "# padding\n" * 27_000,
        ["larger than 256 KiB"],
    ),
    ("yaml-not-a-mapping", "- service: web\n", ["expected a mapping at the top level"]),
    ("yaml-syntax", "service: [web\n", ["not valid YAML"]),
    (
        "yaml-python-tag",
        "service: !!python/object:os.system ls\nimage: registry.example.com/web\n",
        ["not valid YAML"],
    ),
]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "web.yaml"
    path.write_text(text)
    return path


def test_base_spec_is_valid(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, yaml.safe_dump(BASE)), today=TODAY)
    assert spec.image_ref("v1.2.3") == "registry.example.com/team/web:v1.2.3"


@pytest.mark.parametrize(("case", "patch", "field", "value"), SPEC_CASES, ids=[c[0] for c in SPEC_CASES])
def test_bad_spec_is_rejected_naming_the_field(
    tmp_path: Path, case: str, patch: dict[str, Any], field: str, value: str | None
) -> None:
    path = _write(tmp_path, yaml.safe_dump(patched(patch), allow_unicode=True))
    with pytest.raises(SpecError) as err:
        load_spec(path, today=TODAY)
    message = str(err.value)
    assert message.startswith(f"{path}:"), message
    assert f"field '{field}'" in message, message
    if value is not None:
        assert value in message, message


@pytest.mark.parametrize(("case", "text", "expected"), YAML_CASES, ids=[c[0] for c in YAML_CASES])
def test_bad_yaml_is_rejected_naming_the_problem(
    tmp_path: Path, case: str, text: str, expected: list[str]
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(SpecError) as err:
        load_spec(path, today=TODAY)
    message = str(err.value)
    assert message.startswith(f"{path}:"), message
    for part in expected:
        assert part in message, message


def test_past_freeze_depends_on_the_injected_today_only() -> None:
    spec = patched({"windows": {"freezes": ["2026-01-01..2026-01-31"]}})
    parse_spec(spec, today=date(2026, 1, 31))  # its last day: still valid
    parse_spec(spec)  # rebuilt from a dict inside a task: not re-checked
    with pytest.raises(SpecError, match="entirely in the past"):
        parse_spec(spec, today=date(2026, 2, 1))


def test_full_day_window_is_written_00_to_24() -> None:
    assert parse_spec(patched({"windows": {"off_peak": ["Daily 00:00-24:00"]}})).windows.off_peak


# -- run confs (validate_request) ------------------------------------------------------------------------

RUN_SPEC = parse_spec(patched({"strategy": {"allowed": ["canary", "rolling"], "default": "canary"}}))
LOOSE_SPEC = parse_spec(patched({"version_pattern": ".*"}))  # only the image-tag rule applies
NO_PREVIEW_SPEC = parse_spec({"service": "web", "image": "registry.example.com/web"})  # default `allowed`
LONG_TAG = "v1.2.3-" + "a" * 199  # 206 characters

# (case id, spec, conf, field or text named, value shown or None)
RUN_CASES: list[tuple[str, Any, Any, str, str | None]] = [
    ("unknown-key", RUN_SPEC, {"version": "v1.2.3", "force": True}, "unknown parameter(s) ['force']", None),
    ("version-missing", RUN_SPEC, {}, "field 'version'", "(missing)"),
    ("version-none", RUN_SPEC, {"version": None}, "field 'version'", "None"),
    ("version-latest", RUN_SPEC, {"version": "latest"}, "field 'version'", "'latest'"),
    ("version-trailing-newline", RUN_SPEC, {"version": "v1.2.3\n"}, "field 'version'", "'v1.2.3\\n'"),
    ("version-206-chars", RUN_SPEC, {"version": LONG_TAG}, "field 'version'", "206 characters"),
    ("version-int", RUN_SPEC, {"version": 123}, "field 'version'", "123"),
    ("version-trailing-space", RUN_SPEC, {"version": "v1.2.3 "}, "field 'version'", "'v1.2.3 '"),
    ("tag-leading-dot", LOOSE_SPEC, {"version": ".hidden"}, "field 'version'", "'.hidden'"),
    ("tag-leading-dash", LOOSE_SPEC, {"version": "-rc1"}, "field 'version'", "'-rc1'"),
    ("tag-slash", LOOSE_SPEC, {"version": "v1/../x"}, "field 'version'", "'v1/../x'"),
    ("tag-colon", LOOSE_SPEC, {"version": "v1:2"}, "field 'version'", "'v1:2'"),
    ("tag-empty", LOOSE_SPEC, {"version": ""}, "field 'version'", "''"),
    ("tag-unicode", LOOSE_SPEC, {"version": "v1.ü"}, "field 'version'", "'v1.ü'"),
    ("tag-129-chars", LOOSE_SPEC, {"version": "a" * 129}, "field 'version'", "129 characters"),
    ("strategy-unknown", RUN_SPEC, {"version": "v1.2.3", "strategy": "yolo"}, "field 'strategy'", "'yolo'"),
    (
        "strategy-not-allowed",
        RUN_SPEC,
        {"version": "v1.2.3", "strategy": "blue_green"},
        "field 'strategy'",
        "'blue_green'",
    ),
    ("strategy-number", RUN_SPEC, {"version": "v1.2.3", "strategy": 5}, "field 'strategy'", "5"),
    (
        "blue-green-without-preview",
        NO_PREVIEW_SPEC,
        {"version": "v1.2.3", "strategy": "blue_green"},
        "field 'strategy'",
        "endpoints.preview",
    ),
    (
        "steps-semicolons",
        RUN_SPEC,
        {"version": "v1.2.3", "canary_steps": "10;50;100"},
        "field 'canary_steps'",
        "'10;50;100'",
    ),
    (
        "steps-decreasing",
        RUN_SPEC,
        {"version": "v1.2.3", "canary_steps": "50,25,100"},
        "field 'canary_steps'",
        "[50, 25, 100]",
    ),
    (
        "steps-not-ending-at-100",
        RUN_SPEC,
        {"version": "v1.2.3", "canary_steps": "10,50"},
        "field 'canary_steps'",
        "[10, 50]",
    ),
    (
        "steps-zero",
        RUN_SPEC,
        {"version": "v1.2.3", "canary_steps": "0,100"},
        "field 'canary_steps'",
        "[0, 100]",
    ),
    (
        "steps-bool",
        RUN_SPEC,
        {"version": "v1.2.3", "canary_steps": [True, 100]},
        "field 'canary_steps'",
        "[True, 100]",
    ),
    (
        "steps-strings",
        RUN_SPEC,
        {"version": "v1.2.3", "canary_steps": ["10", "100"]},
        "field 'canary_steps'",
        "['10', '100']",
    ),
    (
        "steps-too-many",
        RUN_SPEC,
        {"version": "v1.2.3", "canary_steps": "5,10,20,40,100"},
        "field 'canary_steps'",
        "at most 4 steps",
    ),
    (
        "steps-with-rolling",
        RUN_SPEC,
        {"version": "v1.2.3", "strategy": "rolling", "canary_steps": "50,100"},
        "field 'canary_steps'",
        "only valid with strategy 'canary'",
    ),
    ("dry-run-yes", RUN_SPEC, {"version": "v1.2.3", "dry_run": "yes"}, "field 'dry_run'", "'yes'"),
    (
        "dry-run-false-string",
        RUN_SPEC,
        {"version": "v1.2.3", "dry_run": "false"},
        "field 'dry_run'",
        "'false'",
    ),
    ("dry-run-one", RUN_SPEC, {"version": "v1.2.3", "dry_run": 1}, "field 'dry_run'", "1"),
    ("risk-unknown", RUN_SPEC, {"version": "v1.2.3", "risk": "urgent"}, "field 'risk'", "'urgent'"),
    ("window-unknown", RUN_SPEC, {"version": "v1.2.3", "window": "later"}, "field 'window'", "'later'"),
    (
        "summary-too-long",
        RUN_SPEC,
        {"version": "v1.2.3", "change_summary": "x" * 3000},
        "field 'change_summary'",
        "3000 characters",
    ),
    (
        "summary-object",
        RUN_SPEC,
        {"version": "v1.2.3", "change_summary": {"a": 1}},
        "field 'change_summary'",
        None,
    ),
    ("conf-is-a-list", RUN_SPEC, ["version", "v1.2.3"], "not a JSON object", "list"),
]


@pytest.mark.parametrize(("case", "spec", "conf", "named", "value"), RUN_CASES, ids=[c[0] for c in RUN_CASES])
def test_bad_run_conf_is_rejected_naming_the_field(
    case: str, spec: Any, conf: Any, named: str, value: str | None
) -> None:
    with pytest.raises(SpecError) as err:
        validate_request(conf, spec)
    message = str(err.value)
    assert message.startswith("run parameters for deploy_web:") and "nothing was changed" in message, message
    assert named in message, message
    if value is not None:
        assert value in message, message


def test_good_versions_still_pass() -> None:
    assert validate_request({"version": "v1.2.3"}, RUN_SPEC).version == "v1.2.3"
    assert validate_request({"version": "1.2.3-rc.1"}, RUN_SPEC).version == "1.2.3-rc.1"
    assert validate_request({"version": "a" * 128}, LOOSE_SPEC).version == "a" * 128
    assert validate_request({"version": "v1.2.3", "dry_run": False}, RUN_SPEC).dry_run is False


def test_every_problem_of_a_conf_is_listed_together() -> None:
    with pytest.raises(SpecError) as err:
        validate_request({"version": "v1.2.3\n", "dry_run": "no", "risk": "x", "extra": 1}, RUN_SPEC)
    message = str(err.value)
    assert "4 problem(s)" in message, message
    for part in ("unknown parameter(s) ['extra']", "field 'dry_run'", "field 'risk'", "field 'version'"):
        assert part in message, message


def test_table_sizes() -> None:
    """Issue 10 asks for at least 80 bad inputs across spec and run conf."""
    assert len(SPEC_CASES) + len(YAML_CASES) >= 70 and len(RUN_CASES) >= 30
    assert len({c[0] for c in SPEC_CASES + YAML_CASES}) == len(SPEC_CASES) + len(YAML_CASES)  # type: ignore[operator]


@pytest.mark.parametrize("name", ["demo-api", "payment-service", "recommendation-engine", "user-api"])
def test_example_specs_load_today_and_survive_the_round_trip_into_tasks(name: str) -> None:
    spec = load_spec(Path(__file__).resolve().parents[3] / "dags" / "services" / f"{name}.yaml", today=TODAY)
    assert spec_from(spec_to_dict(spec)) == spec


def test_a_minimal_spec_survives_the_round_trip_into_tasks() -> None:
    # every field is set in the dict a task receives: "explicit" blue-green checks must not fire there
    spec = parse_spec({"service": "web", "image": "registry.example.com/web"}, today=TODAY)
    assert "blue_green" in spec.strategy.allowed and spec.endpoints.preview is None
    assert spec_from(spec_to_dict(spec)) == spec
